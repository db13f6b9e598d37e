/* status — each worker's published part of the connection table, and the
 * scrape that gathers them (the design is in status.h). */
#include "http/status.h"

#include "http/fcache.h"
#include "http/server.h"
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int status_pub_init(struct status_pub *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (pthread_mutex_init(&p->mu, NULL) != 0) return -ENOMEM;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return -ENOMEM;
    }
    p->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->fd < 0) {
        int err = -errno;
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        return err;
    }
    return 0;
}

void status_pub_free(struct status_pub *p)
{
    if (p->fd < 0) return; /* never set up */
    close(p->fd);
    p->fd = -1;
    free(p->json);
    p->json = NULL;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

int status_conn_state(const struct conn *c)
{
    if (c->t.handshaking) return CONN_HANDSHAKE;
    if (c->lingering || (c->w->stopping && c->closing)) return CONN_DRAINING;
    if (buf_len(&c->out) || c->x.fd >= 0) return CONN_WRITING;
    if (c->body_wait || c->discard || c->dechunk) return CONN_READING_BODY;
    if (c->head_start || buf_len(&c->in)) return CONN_READING_HEAD;
    return CONN_IDLE;
}

static const char *protocol(const struct conn *c)
{
    if (c->t.handshaking) return "tls";
    if (c->h2) return c->t.tls ? "h2" : "h2c";
    if (c->ws) return c->t.tls ? "wss" : "ws";
    return "http/1.1";
}

/* "203.0.113.9" or "2001:db8::1" (v4-mapped peers as IPv4, as in the log) */
static void peer_str(const struct conn *c, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->family == AF_INET6 && !memcmp(c->peer, mapped, 12))
        inet_ntop(AF_INET, c->peer + 12, out, (socklen_t)n);
    else if (c->family == AF_INET6 || c->family == AF_INET)
        inet_ntop(c->family, c->peer, out, (socklen_t)n);
    else
        snprintf(out, n, "-");
}

/* When c last made progress, ms, from what its state keeps anyway (no
 * store on the hot path for it): the deadline of an idle or writing
 * connection is that moment plus its timeout; a head or body being read
 * began at head_start / body_start. */
static uint64_t last_progress(const struct conn *c, int state, uint64_t now)
{
    const struct berth_opts *o = &c->w->s->o;
    uint64_t t = c->born, span = 0;
    switch (state) {
    case CONN_IDLE:
        span = c->served ? (uint64_t)o->idle_timeout_ms : 0;
        break;
    case CONN_WRITING:
        span = (uint64_t)o->send_timeout_ms;
        break;
    case CONN_READING_HEAD:
        if (c->head_start) t = c->head_start;
        break;
    case CONN_READING_BODY:
        if (c->body_start) t = c->body_start;
        break;
    default:
        break;
    }
    if (span && c->deadline >= span) t = c->deadline - span;
    if (t < c->born) t = c->born;
    return t < now ? t : now;
}

/* The length of the UTF-8 character at s[0..n), or 0 when it is not one
 * (a stray or cut sequence, an overlong form, a surrogate, past U+10FFFF). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t k = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
               : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                              : 0;
    if (!k || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return k;
}

/* The kept target as JSON may hold it: any byte of it that is not part of
 * a whole UTF-8 character (a target is bytes; the copy may cut a character)
 * becomes '?'.  jansson refuses a string that is not UTF-8, and one such row
 * would drop the worker's whole table: any client could blank the page. */
static void target_utf8(const char *t, char *out)
{
    const unsigned char *s = (const unsigned char *)t;
    size_t n = strlen(t), i = 0;
    while (i < n) {
        size_t k = utf8_char(s + i, n - i);
        if (!k) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s + i, k);
        i += k;
    }
    out[n] = '\0';
}

/* One connection's row (NULL when out of memory). */
static json_t *conn_row(const struct conn *c, int state, uint64_t now)
{
    char peer[INET6_ADDRSTRLEN], target[sizeof c->target];
    peer_str(c, peer, sizeof peer);
    target_utf8(c->target, target);
    uint64_t last = last_progress(c, state, now);
    return json_pack("{s:i, s:s, s:i, s:i, s:s, s:b, s:s, s:f, s:f, s:I, s:I, s:I, s:s}", "worker",
                     c->w->id, "peer", peer, "peer_port", (int)c->peer_port, "local_port",
                     c->w->s->port, "protocol", protocol(c), "tls",
                     c->t.tls != NULL || c->t.handshaking, "state", metrics_state_name(state),
                     "age", (double)(now - c->born) / 1000.0, "idle", (double)(now - last) / 1000.0,
                     "bytes_in", (json_int_t)c->t.bytes_in, "bytes_out", (json_int_t)c->t.bytes_out,
                     "requests", (json_int_t)c->nreq, "target", target);
}

/* Whether r's path (before any query) is the admin path p of length n. */
static int is_path(const struct http_request *r, const char *p, size_t n)
{
    return r->path.n >= n && !memcmp(r->path.p, p, n) && (r->path.n == n || r->path.p[n] == '?');
}

int status_route(struct conn *c, const struct http_request *r)
{
    const struct berth_server *s = c->w->s;
    if (s->status_path) {
        size_t n = r->target.n < sizeof c->target ? r->target.n : sizeof c->target - 1, i = 0;
        /* whole words, then bytes: short targets cost a few moves, not a call */
        for (; i + 8 <= n; i += 8)
            memcpy(c->target + i, r->target.p + i, 8);
        for (; i < n; i++)
            c->target[i] = r->target.p[i];
        c->target[n] = '\0';
    }
    /* the byte after the '/' rules out almost every request at once */
    char k = r->path.n > 1 ? r->path.p[1] : 0;
    if (s->metrics_len > 1 && k == s->metrics_path[1] &&
        is_path(r, s->metrics_path, s->metrics_len))
        return STATUS_METRICS;
    if (s->status_len > 1 && k == s->status_path[1] && is_path(r, s->status_path, s->status_len))
        return STATUS_TABLE;
    return 0;
}

void status_publish(struct worker *w)
{
    struct status_pub *p = &w->pub;
    uint64_t states[CONN_STATES] = {0};
    uint64_t now = loop_now(w->loop);
    json_t *rows = w->s->status_path ? json_array() : NULL;
    for (struct conn *c = w->conns; c; c = c->next) {
        int st = status_conn_state(c);
        states[st]++;
        if (rows && json_array_append_new(rows, conn_row(c, st, now)) < 0) {
            json_decref(rows);
            rows = NULL; /* out of memory: the table is left out, the counts go */
        }
    }
    char *text = rows ? json_dumps(rows, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(rows);
    pthread_mutex_lock(&p->mu);
    free(p->json);
    p->json = text;
    memcpy(p->states, states, sizeof states);
    p->at_ms = mono_ms();
    p->gen++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void status_leave(struct worker *w)
{
    status_publish(w);
    pthread_mutex_lock(&w->pub.mu);
    w->pub.gone = 1;
    pthread_cond_broadcast(&w->pub.cv);
    pthread_mutex_unlock(&w->pub.mu);
}

void status_on_poke(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)events;
    uint64_t v;
    (void)!read(fd, &v, sizeof v);
    status_publish(arg);
}

/* Every worker's part fresh (see status.h): the generation each must pass. */
static void refresh(struct worker *self)
{
    struct berth_server *s = self->s;
    uint64_t want[256];
    int n = s->nworkers < 256 ? s->nworkers : 256;
    for (int i = 0; i < n; i++) {
        struct status_pub *p = &s->w[i].pub;
        pthread_mutex_lock(&p->mu);
        want[i] = p->gen + 1;
        pthread_mutex_unlock(&p->mu);
    }
    status_publish(self);
    uint64_t one = 1;
    for (int i = 0; i < n; i++)
        if (&s->w[i] != self) (void)!write(s->w[i].pub.fd, &one, sizeof one);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_cond_timedwait's default clock */
    until.tv_nsec += (long)STATUS_WAIT_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    for (int i = 0; i < n; i++) {
        struct status_pub *p = &s->w[i].pub;
        if (&s->w[i] == self) continue;
        pthread_mutex_lock(&p->mu);
        /* a worker that left never answers: its last part stays */
        while (p->gen < want[i] && !p->gone)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) break;
        pthread_mutex_unlock(&p->mu);
    }
}

static int status_json(struct berth_server *s, uint64_t now, struct buf *out)
{
    json_t *root = json_object(), *conns = json_array(), *workers = json_array();
    int rc = -ENOMEM;
    if (!root || !conns || !workers) goto done;
    for (int i = 0; i < s->nworkers; i++) {
        struct status_pub *p = &s->w[i].pub;
        pthread_mutex_lock(&p->mu);
        json_t *part = p->json ? json_loads(p->json, 0, NULL) : NULL;
        uint64_t at = p->at_ms, nc = 0;
        for (int k = 0; k < CONN_STATES; k++)
            nc += p->states[k];
        pthread_mutex_unlock(&p->mu);
        if (part) json_array_extend(conns, part);
        json_decref(part);
        json_array_append_new(
            workers, json_pack("{s:i, s:I, s:f}", "id", i, "connections", (json_int_t)nc,
                               "snapshot_age", at && now > at ? (double)(now - at) / 1000.0 : 0.0));
    }
    json_object_set_new(root, "server", json_string("berth"));
    json_object_set_new(root, "version", json_string(BERTH_VERSION));
    json_object_set_new(root, "uptime", json_real((double)(now - s->started_ms) / 1000.0));
    json_object_set_new(root, "workers", json_integer(s->nworkers));
    json_object_set_new(root, "port", json_integer(s->port));
    json_object_set_new(root, "worker_parts", workers);
    workers = NULL;
    json_object_set_new(root, "connections", conns);
    conns = NULL;
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    if (text) {
        rc = buf_append(out, text, strlen(text));
        if (rc == 0) rc = buf_append(out, "\n", 1);
        free(text);
    }
done:
    json_decref(root);
    json_decref(conns);
    json_decref(workers);
    return rc;
}

static struct metrics sum_scratch; /* too large for a stack frame; guarded below */
static pthread_mutex_t sum_mu = PTHREAD_MUTEX_INITIALIZER;

static int metrics_text(struct berth_server *s, uint64_t now, struct buf *out)
{
    struct metrics_view v = {.m = &sum_scratch, .workers = s->nworkers, .tls = s->tls != NULL};
    v.uptime = (double)(now - s->started_ms) / 1000.0;
    pthread_mutex_lock(&sum_mu);
    memset(&sum_scratch, 0, sizeof sum_scratch);
    for (int i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->w[i];
        metrics_sum(&sum_scratch, &w->m);
        v.bytes_in += __atomic_load_n(&w->io.in, __ATOMIC_RELAXED);
        v.bytes_out += __atomic_load_n(&w->io.out, __ATOMIC_RELAXED);
        uint64_t h = 0, m = 0;
        if (w->cache) fcache_stats(w->cache, &h, &m);
        v.cache_hits += h;
        v.cache_misses += m;
        if (w->cache) { /* its size, evictions and hashing thread */
            struct fcache_usage u;
            fcache_usage(w->cache, &u);
            v.cache_bytes += u.bytes;
            v.cache_entries += u.entries;
            v.cache_evictions += u.evictions;
            v.hash_queued += u.hash_queued;
            v.hash_done += u.hash_done;
            v.hash_dropped += u.hash_dropped;
            v.hash_failed += u.hash_failed;
            v.hash_bytes += u.hash_bytes;
            v.hash_depth += u.hash_depth;
            v.comp_made += u.comp_made;
            v.comp_in += u.comp_in;
            v.comp_out += u.comp_out;
            v.comp_hits += u.comp_hits;
            v.comp_misses += u.comp_misses;
            v.comp_evictions += u.comp_evictions;
            v.comp_items += u.comp_items;
            v.comp_bytes += u.comp_bytes;
            v.comp_fds += u.comp_fds;
            v.comp_jobs += u.comp_jobs;
            v.side_fds += u.side_fds;
        }
        pthread_mutex_lock(&w->pub.mu);
        for (int k = 0; k < CONN_STATES; k++)
            v.conns[k] += w->pub.states[k];
        pthread_mutex_unlock(&w->pub.mu);
    }
    int rc = metrics_format(out, &v);
    pthread_mutex_unlock(&sum_mu);
    return rc;
}

int status_collect(struct worker *self, int metrics, struct buf *out)
{
    refresh(self);
    uint64_t now = mono_ms();
    return metrics ? metrics_text(self->s, now, out) : status_json(self->s, now, out);
}
