/* server — the HTTP/1.1 connection state machine and the workers that run
 * it; the public API on top is api.c.
 *
 * Each worker is a thread with its own event loop, listening socket
 * (SO_REUSEPORT when there are several), file cache and scratch buffers.
 * A connection owns no buffer while it keeps up: requests are read into the
 * worker's scratch buffer and parsed there, responses are assembled in the
 * worker's output buffer and written with one send; only bytes that must
 * wait (a partial request, output the socket would not take) are copied into
 * the connection's own buffers, which are released as soon as they empty.
 * That is what lets 10,000 idle keep-alive connections cost a few MiB. */
#include "http/server.h"

#include "buf.h"
#include "err.h"
#include "http/parse.h"
#include "http/path.h"
#include "http/resp.h"
#include "http/static.h"
#include "loop.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SCRATCH           (64 * 1024)
#define OUT_HIGH          (256 * 1024) /* stop answering pipelined requests past this */
#define SEND_SLICE        (4u << 20) /* file bytes per wake-up, so one client cannot starve others */
#define LOG_FLUSH_MS      200
#define SHUTDOWN_MS       10000 /* in-flight responses get this long after SIGTERM */
#define ACCEPT_BACKOFF_MS 100   /* out of descriptors: retry accepting after this */

static void conn_update(struct conn *c);
static int conn_resume(struct conn *c);
static void on_conn(struct loop *l, int fd, unsigned events, void *arg);

/* ---- access log ---- */

static void log_flush(struct worker *w)
{
    const char *p = buf_head(&w->log);
    size_t n = buf_len(&w->log);
    while (n) {
        ssize_t k = write(w->s->logfd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* a full disk loses log lines, never requests */
        p += k;
        n -= (size_t)k;
    }
    buf_clear(&w->log);
}

static void on_log_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    log_flush((struct worker *)((char *)t - offsetof(struct worker, log_timer)));
}

static void access_log(struct conn *c, const struct http_request *r, int status, uint64_t bytes)
{
    struct worker *w = c->w;
    if (w->s->o.quiet) return;
    static _Thread_local struct {
        time_t sec;
        char s[40];
    } tc;
    time_t now = time(NULL);
    if (now != tc.sec) {
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(tc.s, sizeof tc.s, "%d/%b/%Y:%H:%M:%S %z", &tm);
        tc.sec = now;
    }
    char host[INET6_ADDRSTRLEN] = "-";
    if (c->family) inet_ntop(c->family, c->peer, host, sizeof host);
    char sz[24] = "-";
    if (bytes) snprintf(sz, sizeof sz, "%llu", (unsigned long long)bytes);
    if (buf_reserve(&w->log, 512 + (r ? r->target.n : 0)) < 0) return;
    int n;
    if (r)
        n = snprintf(buf_tail(&w->log), buf_room(&w->log),
                     "%s - - [%s] \"%.*s %.*s HTTP/1.%d\" %d %s\n", host, tc.s,
                     (int)r->method_str.n, r->method_str.p, (int)r->target.n, r->target.p,
                     r->version % 10, status, sz);
    else
        n = snprintf(buf_tail(&w->log), buf_room(&w->log), "%s - - [%s] \"-\" %d %s\n", host, tc.s,
                     status, sz);
    if (n > 0 && (size_t)n < buf_room(&w->log)) buf_commit(&w->log, (size_t)n);
    if (buf_len(&w->log) > 16384)
        log_flush(w);
    else if (!loop_timer_armed(&w->log_timer))
        loop_timer_set(w->loop, &w->log_timer, LOG_FLUSH_MS, on_log_timer);
}

/* ---- connections ---- */

static void accept_resume(struct worker *w);

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    loop_io_del(w->loop, c->fd);
    close(c->fd);
    loop_timer_stop(w->loop, &c->timer);
    if (c->x.fd >= 0) close(c->x.fd);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    w->nconns--;
    if (w->paused == 1) accept_resume(w);
    if (w->stopping && w->nconns == 0) loop_timer_stop(w->loop, &w->stop_timer);
}

static void on_conn_timer(struct loop *l, struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    uint64_t now = loop_now(l);
    if (now < c->deadline) {
        loop_timer_set(l, t, c->deadline - now, on_conn_timer);
        return;
    }
    if (c->head_start && !buf_len(&c->out) && c->x.fd < 0) {
        /* slowloris: say why, once, without waiting for the socket */
        struct buf *o = &c->w->out;
        buf_clear(o);
        http_date_tick();
        if (resp_error(o, 408, 0, 11, 0, NULL, "The request head did not arrive in time.") == 0)
            (void)!send(c->fd, buf_head(o), buf_len(o), MSG_NOSIGNAL | MSG_DONTWAIT);
        buf_clear(o);
        access_log(c, NULL, 408, 0);
    }
    conn_close(c);
}

/* Moves the deadline; the heap is touched only when it comes sooner. */
static void conn_deadline(struct conn *c, uint64_t ms)
{
    struct loop *l = c->w->loop;
    c->deadline = loop_now(l) + ms;
    if (!loop_timer_armed(&c->timer) || c->timer.when > c->deadline)
        loop_timer_set(l, &c->timer, ms, on_conn_timer);
}

/* Writes what the connection owes.  1: all sent; 0: the socket is full;
 * -1: the connection is dead (or a file shrank under us). */
static int conn_flush(struct conn *c)
{
    while (buf_len(&c->out)) {
        ssize_t k = send(c->fd, buf_head(&c->out), buf_len(&c->out),
                         MSG_NOSIGNAL | (c->x.fd >= 0 ? MSG_MORE : 0));
        if (k < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        buf_consume(&c->out, (size_t)k);
        conn_deadline(c, (uint64_t)c->w->s->o.send_timeout_ms);
    }
    buf_free(&c->out);
    uint64_t budget = SEND_SLICE;
    while (c->x.fd >= 0) {
        uint64_t left = c->x.end - c->x.off;
        size_t chunk = left < budget ? (size_t)left : (size_t)budget;
        if (chunk == 0) return 0; /* slice used up: come back when writable */
        off_t off = (off_t)c->x.off;
        ssize_t k = sendfile(c->fd, c->x.fd, &off, chunk);
        if (k < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        if (k == 0 || !static_xfer_intact(&c->x)) {
            /* the file shrank or changed under the announced head: reset, so
             * no client takes what was sent for a whole response */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            return -1;
        }
        c->x.off += (uint64_t)k;
        budget -= (uint64_t)k;
        conn_deadline(c, (uint64_t)c->w->s->o.send_timeout_ms);
        if (c->x.off == c->x.end) {
            close(c->x.fd);
            c->x.fd = -1;
        }
    }
    return 1;
}

/* Sends the worker's assembled output for c; what the socket does not take
 * is kept in the connection's own buffer. */
static int conn_send(struct conn *c)
{
    struct buf *o = &c->w->out;
    if (buf_len(o)) {
        ssize_t k =
            send(c->fd, buf_head(o), buf_len(o), MSG_NOSIGNAL | (c->x.fd >= 0 ? MSG_MORE : 0));
        if (k < 0 && errno != EAGAIN && errno != EINTR) {
            buf_clear(o);
            return -1;
        }
        if (k < 0) k = 0;
        if ((size_t)k < buf_len(o) &&
            buf_append(&c->out, buf_head(o) + k, buf_len(o) - (size_t)k) < 0) {
            buf_clear(o);
            return -1;
        }
        buf_clear(o);
    }
    return conn_flush(c);
}

/* ---- requests ---- */

static int route_match(const struct route *rt, const struct http_request *r, const char *path)
{
    if (rt->method && (strlen(rt->method) != r->method_str.n ||
                       memcmp(rt->method, r->method_str.p, r->method_str.n)))
        return 0;
    return rt->prefix ? !strncmp(path, rt->path, rt->len) : !strcmp(path, rt->path);
}

static void error_response(struct conn *c, const struct http_request *r, int status,
                           const char *extra, const char *why)
{
    int head = r && r->method == HTTP_HEAD;
    if (resp_error(&c->w->out, status, !c->closing, r ? r->version : 11, head, extra, why) < 0)
        c->closing = 1;
    access_log(c, r, status, 0);
}

static void run_handler(struct conn *c, const struct route *rt, const struct http_request *r,
                        const char *path, const char *body, size_t body_len)
{
    struct berth_req q = {.c = c, .r = r, .path = path, .body = body, .body_len = body_len};
    char query[8192];
    const char *qm = memchr(r->path.p, '?', r->path.n);
    size_t ql = qm ? r->path.n - (size_t)(qm + 1 - r->path.p) : 0;
    if (ql >= sizeof query) ql = sizeof query - 1;
    memcpy(query, qm ? qm + 1 : "", ql);
    query[ql] = '\0';
    q.query = query;
    size_t ml = r->method_str.n < sizeof q.method ? r->method_str.n : sizeof q.method - 1;
    memcpy(q.method, r->method_str.p, ml);
    q.method[ml] = '\0';
    buf_init(&q.extra, 64 * 1024);
    rt->h(&q, rt->arg);
    if (!q.status)
        error_response(c, r, 500, NULL, "The handler gave no answer.");
    else
        access_log(c, r, q.status, q.bytes);
    buf_free(&q.extra);
}

/* Answers one parsed request whose head is hlen bytes at p, with avail bytes
 * of input from p on.  Returns the bytes consumed, or 0 when a handler's
 * body has not fully arrived yet. */
static size_t handle(struct conn *c, const struct http_request *r, const char *p, size_t hlen,
                     size_t avail)
{
    struct worker *w = c->w;
    struct berth_server *s = w->s;
    uint64_t cl = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    int head = r->method == HTTP_HEAD;
    if (!r->keep_alive || s->o.http10 || w->stopping) c->closing = 1;
    if (r->chunked) {
        /* bodies in chunks are not decoded here: answer, then close, so no
         * chunk is ever read as a request */
        c->closing = 1;
        error_response(c, r, 411, NULL, "Send the body with a Content-Length.");
        return avail;
    }

    if (!s->nroutes && s->sc.rootfd >= 0 && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
        uint64_t bytes = 0;
        int st = static_serve_again(&s->sc, w->cache, r, !c->closing, &w->out, &c->x, &bytes);
        if (st > 0) {
            access_log(c, r, st, head ? 0 : bytes);
            goto skip_body;
        }
        if (st < 0) {
            c->closing = 1;
            error_response(c, r, 500, NULL, NULL);
            goto skip_body;
        }
    }

    char path[8200];
    int pl = 0;
    if (r->path.n == 1 && r->path.p[0] == '*') {
        if (r->method == HTTP_OPTIONS) {
            if (resp_simple(&w->out, 204, !c->closing, r->version, 0,
                            "Allow: GET, HEAD, OPTIONS\r\n", NULL, NULL, 0) < 0)
                c->closing = 1;
            access_log(c, r, 204, 0);
        } else {
            error_response(c, r, 400, NULL, "'*' is only for OPTIONS.");
        }
        goto skip_body;
    }
    pl = http_path_normalize(r->path.p, r->path.n, path, sizeof path);
    if (pl < 0) {
        c->closing = 1;
        error_response(c, r, -pl, NULL, "The request path is malformed.");
        return avail;
    }

    for (int i = 0; i < s->nroutes; i++) {
        if (!route_match(&s->routes[i], r, path)) continue;
        if (cl > s->o.max_body) {
            c->closing = 1;
            error_response(c, r, 413, NULL, "The request body is too large.");
            return avail;
        }
        if (avail - hlen < cl) {
            if (r->expect_continue && !c->head_start) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                buf_append(&w->out, cont, sizeof cont - 1);
            }
            return 0;
        }
        run_handler(c, &s->routes[i], r, path, p + hlen, (size_t)cl);
        return hlen + (size_t)cl;
    }

    if (!s->sc.rootfd || s->sc.rootfd < 0) {
        error_response(c, r, 404, NULL, "Nothing is served here.");
    } else if (r->method == HTTP_GET || r->method == HTTP_HEAD) {
        uint64_t bytes = 0;
        int st = static_serve(&s->sc, w->cache, r, path, !c->closing, &w->out, &c->x, &bytes);
        if (st < 0) {
            c->closing = 1;
            error_response(c, r, 500, NULL, NULL);
        } else {
            access_log(c, r, st, head ? 0 : bytes);
        }
    } else if (r->method == HTTP_OPTIONS) {
        if (resp_simple(&w->out, 204, !c->closing, r->version, 0, "Allow: GET, HEAD, OPTIONS\r\n",
                        NULL, NULL, 0) < 0)
            c->closing = 1;
        access_log(c, r, 204, 0);
    } else {
        error_response(c, r, 405, "Allow: GET, HEAD, OPTIONS\r\n",
                       "Static files answer GET, HEAD and OPTIONS.");
    }
skip_body:
    if (cl && r->expect_continue) {
        /* we never said 100 Continue: the client may not send the body */
        c->closing = 1;
        return avail;
    }
    c->discard = cl;
    return hlen;
}

/* Answers the requests in p[0..n) until input runs out, output backs up or
 * the connection is to close.  Returns the bytes consumed. */
static size_t process(struct conn *c, const char *p, size_t n)
{
    struct worker *w = c->w;
    size_t used = 0;
    http_date_tick();
    while (used < n && !c->closing) {
        if (c->discard) {
            size_t k = n - used < c->discard ? n - used : (size_t)c->discard;
            used += k;
            c->discard -= k;
            continue;
        }
        if (buf_len(&w->out) >= OUT_HIGH || c->x.fd >= 0) break;
        struct http_request r;
        int rc = http_parse_request(&c->ps, p + used, n - used, &w->s->lim, &r, w->hdrs);
        if (rc == 0) break;
        if (rc < 0) {
            c->closing = 1;
            error_response(c, NULL, -rc, NULL, r.error);
            used = n;
            break;
        }
        size_t k = handle(c, &r, p + used, (size_t)rc, n - used);
        if (k == 0) break;
        used += k;
        http_parser_init(&c->ps);
        c->head_start = 0;
    }
    return used;
}

static void conn_read(struct conn *c)
{
    struct worker *w = c->w;
    const char *p;
    size_t n;
    int own = buf_len(&c->in) > 0;
    ssize_t r;
    if (!own) {
        do
            r = recv(c->fd, w->scratch, SCRATCH, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0) r = -errno;
        p = w->scratch;
        n = r > 0 ? (size_t)r : 0;
    } else {
        r = buf_read_fd(&c->in, c->fd, 16384);
        p = buf_head(&c->in);
        n = buf_len(&c->in);
    }
    if (r == -EAGAIN) return;
    if (r < 0 && r != BERTH_ETOOBIG) {
        conn_close(c);
        return;
    }
    if (r == 0) c->eof = 1;
    if (r == BERTH_ETOOBIG) c->closing = 1; /* a body larger than the buffer allows */

    size_t used = process(c, p, n);
    if (!own) {
        if (used < n && buf_append(&c->in, p + used, n - used) < 0) c->closing = 1;
    } else {
        buf_consume(&c->in, used);
    }
    if (!buf_len(&c->in)) buf_free(&c->in);
    if (buf_len(&c->in) && !c->head_start && !c->discard) c->head_start = loop_now(w->loop);
    /* everything went out: requests still buffered (pipelined behind a
     * large answer, or past OUT_HIGH) are answered now, not when the client
     * happens to send more */
    int rc = conn_send(c);
    if (rc < 0 || (rc == 1 && conn_resume(c) < 0)) {
        conn_close(c);
        return;
    }
    conn_update(c);
}

/* After output drained: answer requests already buffered (pipelining). */
static int conn_resume(struct conn *c)
{
    while (buf_len(&c->in) && !c->closing && !buf_len(&c->out) && c->x.fd < 0) {
        size_t used = process(c, buf_head(&c->in), buf_len(&c->in));
        buf_consume(&c->in, used);
        int rc = conn_send(c);
        if (rc < 0) return -1;
        if (used == 0) break;
    }
    if (!buf_len(&c->in)) buf_free(&c->in);
    return 0;
}

static void conn_update(struct conn *c)
{
    struct berth_server *s = c->w->s;
    int pending = buf_len(&c->out) || c->x.fd >= 0;
    if (!pending && (c->closing || c->eof)) {
        conn_close(c);
        return;
    }
    if (loop_io_set(c->w->loop, c->fd, pending ? LOOP_WRITE : LOOP_READ, on_conn, c) < 0) {
        conn_close(c);
        return;
    }
    if (pending)
        conn_deadline(c, (uint64_t)s->o.send_timeout_ms);
    else if (c->head_start) {
        uint64_t end = c->head_start + (uint64_t)s->o.header_timeout_ms, now = loop_now(c->w->loop);
        conn_deadline(c, end > now ? end - now : 0);
    } else {
        conn_deadline(c, (uint64_t)s->o.idle_timeout_ms);
    }
}

static void on_conn(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    struct conn *c = arg;
    if (buf_len(&c->out) || c->x.fd >= 0) {
        int rc = conn_flush(c);
        if (rc < 0) {
            conn_close(c);
            return;
        }
        if (rc == 1 && conn_resume(c) < 0) {
            conn_close(c);
            return;
        }
        conn_update(c);
        return;
    }
    if (events & (LOOP_READ | LOOP_HUP)) conn_read(c);
}

static void conn_new(struct worker *w, int fd, const struct net_addr *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->w = w;
    c->x.fd = -1;
    if (peer->ss.ss_family == AF_INET) {
        c->family = AF_INET;
        memcpy(c->peer, &((const struct sockaddr_in *)&peer->ss)->sin_addr, 4);
    } else if (peer->ss.ss_family == AF_INET6) {
        c->family = AF_INET6;
        memcpy(c->peer, &((const struct sockaddr_in6 *)&peer->ss)->sin6_addr, 16);
    }
    buf_init(&c->in, w->s->o.max_header + w->s->o.max_body + SCRATCH);
    buf_init(&c->out, 0);
    if (loop_io_set(w->loop, fd, LOOP_READ, on_conn, c) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    conn_deadline(c, (uint64_t)w->s->o.idle_timeout_ms);
}

/* ---- accepting ---- */

static void on_accept(struct loop *l, int fd, unsigned events, void *arg);

static void accept_resume(struct worker *w)
{
    if (w->lfd < 0 || w->stopping) return;
    w->paused = 0;
    loop_io_set(w->loop, w->lfd, LOOP_READ, on_accept, w);
}

static void on_accept_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    accept_resume((struct worker *)((char *)t - offsetof(struct worker, accept_timer)));
}

/* Stops accepting: until a connection closes (1, at --max-conn) or for a
 * moment (2, out of descriptors).  The kernel's queue holds the waiting
 * clients meanwhile, and the loop never spins on a listener it cannot serve. */
static void accept_pause(struct worker *w, int why)
{
    w->paused = why;
    loop_io_set(w->loop, w->lfd, 0, on_accept, w);
    if (why == 2) loop_timer_set(w->loop, &w->accept_timer, ACCEPT_BACKOFF_MS, on_accept_timer);
}

static void on_accept(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    struct worker *w = arg;
    for (int i = 0; i < 64; i++) {
        if (w->nconns >= w->max_conns) {
            accept_pause(w, 1);
            return;
        }
        struct net_addr peer;
        int cfd = net_accept(w->lfd, &peer);
        if (cfd >= 0) {
            conn_new(w, cfd, &peer);
            continue;
        }
        if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
            /* said once a minute at most: the condition can last */
            uint64_t now = loop_now(w->loop);
            if (!w->said_emfile || now - w->said_emfile > 60000) {
                char msg[160];
                fprintf(stderr, "berth: %s\n", err_fmt(msg, sizeof msg, cfd, "cannot accept"));
                w->said_emfile = now;
            }
            accept_pause(w, 2);
        }
        return;
    }
}

/* ---- workers and shutdown ---- */

static void on_stop_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, stop_timer));
    while (w->conns)
        conn_close(w->conns);
}

static void worker_shutdown(struct worker *w)
{
    if (w->stopping) return;
    w->stopping = 1;
    if (w->lfd >= 0) {
        loop_io_del(w->loop, w->lfd);
        close(w->lfd);
        w->lfd = -1;
    }
    loop_io_del(w->loop, w->stopfd);
    if (static_cache_watch_fd(w->cache) >= 0) loop_io_del(w->loop, static_cache_watch_fd(w->cache));
    loop_timer_stop(w->loop, &w->accept_timer);
    struct conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (!buf_len(&c->out) && c->x.fd < 0)
            conn_close(c); /* idle, or a head still coming */
        else
            c->closing = 1;
    }
    if (w->nconns) loop_timer_set(w->loop, &w->stop_timer, SHUTDOWN_MS, on_stop_timer);
    loop_timer_stop(w->loop, &w->log_timer);
    log_flush(w);
}

static void on_stopfd(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)events;
    uint64_t v;
    (void)!read(fd, &v, sizeof v);
    worker_shutdown(arg);
}

static void on_fs_change(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    static_cache_changes(arg);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    loop_run(w->loop);
    log_flush(w);
    return NULL;
}

int worker_init(struct berth_server *s, struct worker *w)
{
    w->s = s;
    w->lfd = w->stopfd = -1;
    /* the limit is split exactly; every worker may hold at least one */
    int i = (int)(w - s->w);
    w->max_conns = s->o.max_conn / s->nworkers + (i < s->o.max_conn % s->nworkers);
    if (w->max_conns < 1) w->max_conns = 1;
    buf_init(&w->out, 0);
    buf_init(&w->log, 0);
    w->loop = loop_new();
    w->scratch = malloc(SCRATCH);
    w->cache = static_cache_new(&s->sc);
    w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->loop || !w->scratch || !w->cache) return -ENOMEM;
    if (w->stopfd < 0) return -errno;
    /* file changes under the root, seen as they happen (static.h) */
    int wfd = static_cache_watch_fd(w->cache);
    if (wfd >= 0) {
        int rc = loop_io_set(w->loop, wfd, LOOP_READ, on_fs_change, w->cache);
        if (rc < 0) return rc;
    }
    return loop_io_set(w->loop, w->stopfd, LOOP_READ, on_stopfd, w);
}

void worker_free(struct worker *w)
{
    while (w->conns)
        conn_close(w->conns);
    if (w->lfd >= 0) close(w->lfd);
    if (w->stopfd >= 0) close(w->stopfd);
    loop_free(w->loop);
    free(w->scratch);
    static_cache_free(w->cache);
    buf_free(&w->out);
    buf_free(&w->log);
}

int worker_listen(struct worker *w, int fd)
{
    w->lfd = fd;
    return loop_io_set(w->loop, fd, LOOP_READ, on_accept, w);
}
