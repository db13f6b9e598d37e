/* worker — the threads that run connections: each has its own event loop,
 * listening socket (SO_REUSEPORT when there are several), file cache and
 * scratch buffers; accepting within --max-conn, pausing without spinning,
 * and the drain on SIGTERM. */
#include "http/server.h"

#include "err.h"
#include "http/alog.h"
#include "http/conn.h"
#include "http/h2conn.h"
#include "http/live.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/static.h"
#include "http/ws_session.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SHUTDOWN_MS       10000 /* in-flight responses get this long after SIGTERM */
#define ACCEPT_BACKOFF_MS 100   /* out of descriptors: retry accepting after this */
#define LIMIT_RETRY_MS    50    /* at --max-conn: look again after this */

static void drain_done(struct worker *w);

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
 * clients meanwhile, and the loop never spins on a listener it cannot serve.
 * At --max-conn a connection closing in another worker is noticed by the
 * timer: the limit is shared, the listeners are not. */
static void accept_pause(struct worker *w, int why)
{
    w->paused = why;
    loop_io_set(w->loop, w->lfd, 0, on_accept, w);
    loop_timer_set(w->loop, &w->accept_timer, why == 2 ? ACCEPT_BACKOFF_MS : LIMIT_RETRY_MS,
                   on_accept_timer);
}

/* At --max-conn: this worker's longest-idle keep-alive connection (one that
 * was answered and waits for its next request), to be closed to make room
 * for a new client, as nginx does; NULL if there is none. */
static struct conn *find_idle(struct worker *w)
{
    struct conn *idle = NULL;
    for (struct conn *c = w->conns; c; c = c->next) {
        if (!c->served || c->h2 || c->head_start || c->discard || c->dechunk || buf_len(&c->in) ||
            buf_len(&c->out) || c->x.fd >= 0)
            continue;
        if (!idle || c->deadline <= idle->deadline) idle = c; /* ties: the older */
    }
    return idle;
}

static void on_accept(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    struct worker *w = arg;
    for (int i = 0; i < 64; i++) {
        struct conn *idle = NULL;
        if (__atomic_load_n(&w->s->nconns, __ATOMIC_RELAXED) >= w->s->o.max_conn &&
            !(idle = find_idle(w))) {
            accept_pause(w, 1);
            return;
        }
        struct net_addr peer;
        int cfd = net_accept(w->lfd, &peer);
        if (cfd >= 0) {
            if (idle) conn_close(idle); /* only once a client is really waiting */
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

/* Closes every connection now: the drain's time is up, or a second signal. */
static void drain_cut(struct worker *w)
{
    while (w->conns)
        conn_close(w->conns);
}

static void on_stop_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    drain_cut((struct worker *)((char *)t - offsetof(struct worker, stop_timer)));
}

/* A stopping worker with no connection left stops watching its eventfd, so
 * its loop can end.  Worker 0 reads the signals: it stays until every other
 * worker is done, so a second Ctrl-C is heard whichever worker still drains;
 * the others wake it as they finish. */
static void drain_done(struct worker *w)
{
    struct berth_server *s = w->s;
    loop_timer_stop(w->loop, &w->stop_timer);
    if (w->stopping != 1) return;
    if (w == s->w && __atomic_load_n(&s->running, __ATOMIC_ACQUIRE) > 1) return;
    w->stopping = 2;
    loop_io_del(w->loop, w->stopfd);
    loop_io_del(w->loop, w->wakefd);
    if (w->s->admin) {
        loop_io_del(w->loop, w->pub.fd);
        status_leave(w);
    }
    __atomic_sub_fetch(&s->running, 1, __ATOMIC_ACQ_REL);
    uint64_t one = 1;
    if (w != s->w) (void)!write(s->w[0].stopfd, &one, sizeof one);
}

static void worker_shutdown(struct worker *w)
{
    struct berth_server *s = w->s;
    if (w->stopping) return;
    w->stopping = 1;
    if (w->lfd >= 0) {
        loop_io_del(w->loop, w->lfd);
        close(w->lfd);
        w->lfd = -1;
    }
    if (fcache_watch_fd(w->cache) >= 0) loop_io_del(w->loop, fcache_watch_fd(w->cache));
    loop_io_del(w->loop, fcache_hash_fd(w->cache)); /* hashes done later are dropped */
    loop_timer_stop(w->loop, &w->accept_timer);
    struct conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->ws)
            ws_session_stop(c); /* close 1001 (going away), then the closing handshake */
        else if (c->h2)
            h2conn_run(c); /* GOAWAY; streams under way finish */
        else if (!buf_len(&c->out) && c->x.fd < 0 && !c->lv)
            conn_close(c); /* idle, or a head still coming */
        else
            c->closing = 1;
    }
    if (w->nconns)
        loop_timer_set(w->loop, &w->stop_timer, SHUTDOWN_MS, on_stop_timer);
    else
        drain_done(w);
    loop_timer_stop(w->loop, &w->log_timer);
    reqlog_flush(w);
    /* the last worker to get here says, once, what the drain waits for */
    __atomic_add_fetch(&s->draining, w->nconns, __ATOMIC_ACQ_REL);
    if (__atomic_sub_fetch(&s->drain_left, 1, __ATOMIC_ACQ_REL) == 0) {
        int n = __atomic_load_n(&s->draining, __ATOMIC_ACQUIRE);
        if (n && __atomic_load_n(&s->by_signal, __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&s->force, __ATOMIC_ACQUIRE))
            fprintf(stderr,
                    "berth: draining %d connection%s (up to %d s); press Ctrl-C again to quit "
                    "now\n",
                    n, n == 1 ? "" : "s", SHUTDOWN_MS / 1000);
    }
}

/* The grace before the drain (--drain-grace) is over: accepting stops. */
static void on_grace_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    worker_shutdown((struct worker *)((char *)t - offsetof(struct worker, stop_timer)));
}

/* A stop begins with the grace when there is one: the listener stays open
 * and requests are answered (the health path says 503), so a balancer's
 * checks see the server go before its port closes.  stop_timer, free until
 * the drain, counts it; a second signal (force) skips what is left. */
static void worker_stop(struct worker *w)
{
    struct berth_server *s = w->s;
    if (w->stopping) return;
    if (s->o.drain_grace_ms > 0 && !__atomic_load_n(&s->force, __ATOMIC_ACQUIRE)) {
        if (!loop_timer_armed(&w->stop_timer))
            loop_timer_set(w->loop, &w->stop_timer, (uint64_t)s->o.drain_grace_ms, on_grace_timer);
        return;
    }
    loop_timer_stop(w->loop, &w->stop_timer);
    worker_shutdown(w);
}

/* The worker's eventfd: a stop (berth_server_stop), a second signal (force)
 * or a log reopening (SIGHUP); the flags in the server say which. */
static void on_stopfd(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)events;
    struct worker *w = arg;
    struct berth_server *s = w->s;
    uint64_t v;
    (void)!read(fd, &v, sizeof v);
    reqlog_sync(w, 0);
    if (__atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE)) worker_stop(w);
    if (w->stopping && __atomic_load_n(&s->force, __ATOMIC_ACQUIRE)) drain_cut(w);
    if (w->stopping && !w->nconns) drain_done(w);
}

static void on_wake(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    live_wake(arg);
}

static void on_fs_change(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    fcache_changes(arg);
}

/* the cache's hasher thread finished large files' digests */
static void on_hashed(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    fcache_hash_results(arg);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    alog_sink_join(&w->s->log, &w->log_gen);
    resp_extra_set(w->s->pol.fields, w->s->pol.fields_len); /* --header, CORS */
    loop_run(w->loop);
    reqlog_sync(w, 1);       /* writes what is left */
    resp_extra_set(NULL, 0); /* worker 0 is the caller's thread: the fields go with s */
    return NULL;
}

int worker_init(struct berth_server *s, struct worker *w)
{
    w->s = s;
    w->lfd = w->stopfd = w->wakefd = -1;
    buf_init(&w->out, 0);
    buf_init(&w->log, 0);
    w->loop = loop_new();
    w->scratch = malloc(WORKER_SCRATCH);
    w->cache = fcache_new(&s->sc);
    w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->loop || !w->scratch || !w->cache) return -ENOMEM;
    if (w->stopfd < 0) return -errno;
    int rc = 0;
    /* API v2: answers queued on other threads wake the worker (http/live) */
    pthread_mutex_init(&w->wake_mu, NULL);
    w->wake_init = 1;
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wakefd < 0) return -errno;
    if ((rc = loop_io_set(w->loop, w->wakefd, LOOP_READ, on_wake, w)) < 0) return rc;
    /* --status/--metrics: a scrape on another worker asks for this one's part */
    if (s->admin && ((rc = status_pub_init(&w->pub)) < 0 ||
                     (rc = loop_io_set(w->loop, w->pub.fd, LOOP_READ, status_on_poke, w)) < 0))
        return rc;
    /* file changes under the root, seen as they happen (static.h) */
    int wfd = fcache_watch_fd(w->cache);
    if (wfd >= 0) {
        rc = loop_io_set(w->loop, wfd, LOOP_READ, on_fs_change, w->cache);
        if (rc < 0) return rc;
    }
    rc = loop_io_set(w->loop, fcache_hash_fd(w->cache), LOOP_READ, on_hashed, w->cache);
    if (rc < 0) return rc;
    return loop_io_set(w->loop, w->stopfd, LOOP_READ, on_stopfd, w);
}

void worker_free(struct worker *w)
{
    while (w->conns)
        conn_close(w->conns);
    status_pub_free(&w->pub);
    if (w->lfd >= 0) close(w->lfd);
    if (w->stopfd >= 0) close(w->stopfd);
    if (w->wake_init) {
        live_wake_drop(w);
        pthread_mutex_destroy(&w->wake_mu);
    }
    if (w->wakefd >= 0) close(w->wakefd);
    loop_free(w->loop);
    free(w->scratch);
    fcache_free(w->cache);
    buf_free(&w->out);
    buf_free(&w->log);
    h2conn_worker_free(w);
}

int worker_listen(struct worker *w, int fd)
{
    w->lfd = fd;
    return loop_io_set(w->loop, fd, LOOP_READ, on_accept, w);
}

void worker_conn_closed(struct worker *w)
{
    w->nconns--;
    __atomic_sub_fetch(&w->s->nconns, 1, __ATOMIC_RELAXED);
    if (w->paused == 1) accept_resume(w);
    if (w->stopping && w->nconns == 0) drain_done(w);
}
