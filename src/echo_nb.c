/* The echo server's two non-blocking models, select(2) and the event loop
 * (epoll), on one connection type: read into the echo buffer, send it back,
 * stop reading past HIGH_WATER, and drop a peer that takes none of what it is
 * owed for --send-timeout. */
#include "echo_srv.h"

#include "buf.h"
#include "err.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REFUSE_SAY_S 10 /* select: at most one "refusing" line this often */

/* ---- the non-blocking connection both select and epoll use ---- */

struct conn {
    struct loop_timer timer; /* epoll: the send timeout; found by offsetof */
    struct conn *prev, *next;
    int fd;
    int rd_eof; /* the peer half-closed (or we stopped reading for good) */
    int err;
    void *owner;         /* epoll: the server, for the callbacks */
    struct buf out;      /* read but not yet echoed: the echo reads straight into it */
    uint64_t owed_since; /* output owed and none taken since then (ms); 0: none owed */
    unsigned long long in, sent;
    char peer[128];
};

struct conns {
    struct conn *head;
    int n;
};

static struct conn *conn_new(struct conns *cs, int fd, const struct net_addr *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    /* reading stops at HIGH_WATER, so the buffer never needs more: what a
     * connection holds is bounded however its peer behaves */
    buf_init(&c->out, HIGH_WATER);
    echo_peer_str(peer, c->peer, sizeof c->peer);
    c->next = cs->head;
    if (cs->head) cs->head->prev = c;
    cs->head = c;
    cs->n++;
    return c;
}

static void conn_free(struct echo_srv *s, struct conns *cs, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next) c->next->prev = c->prev;
    cs->n--;
    close(c->fd);
    echo_log_close(s, c->peer, c->in, c->sent, c->err);
    buf_free(&c->out);
    free(c);
}

/* One read (when allowed) and as many writes as the socket takes; keeps
 * owed_since: when the peer last took something while output was owed. */
static void conn_io(struct conn *c, int can_read, uint64_t now)
{
    unsigned long long sent0 = c->sent;
    if (can_read && !c->rd_eof && !c->err && buf_len(&c->out) < HIGH_WATER) {
        ssize_t r = buf_read_fd(&c->out, c->fd, CHUNK);
        if (r > 0)
            c->in += (size_t)r;
        else if (r == 0)
            c->rd_eof = 1;
        else if (r != -EAGAIN)
            c->err = (int)r;
    }
    while (!c->err && buf_len(&c->out)) {
        ssize_t w = send(c->fd, buf_head(&c->out), buf_len(&c->out), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            if (errno != EAGAIN) c->err = -errno;
            break;
        }
        buf_consume(&c->out, (size_t)w);
        c->sent += (size_t)w;
    }
    if (!buf_len(&c->out))
        c->owed_since = 0;
    else if (!c->owed_since || c->sent != sent0)
        c->owed_since = now;
}

/* Whether c is finished: errored, or nothing left to send and nothing more
 * to read (the peer half-closed, or the server is stopping). */
static int conn_done(const struct conn *c, int stop)
{
    return c->err || (!buf_len(&c->out) && (c->rd_eof || stop));
}

static int conn_wants_read(const struct conn *c, int stop)
{
    return !stop && !c->rd_eof && !c->err && buf_len(&c->out) < HIGH_WATER;
}

/* When c is to be dropped for taking none of its echo (ms); 0: never. */
static uint64_t conn_deadline(const struct echo_srv *s, const struct conn *c)
{
    return s->send_ms && c->owed_since ? c->owed_since + (uint64_t)s->send_ms : 0;
}

/* ---- select: non-blocking, one thread, select(2) ---- */

/* A descriptor select(2) cannot watch: close it; say so at most once every
 * REFUSE_SAY_S seconds (never with -q), or a flood would flood the log. */
static void refuse_past_setsize(struct echo_srv *s, int fd, const struct net_addr *peer)
{
    close(fd);
    s->refused++;
    time_t now = time(NULL);
    if (s->o->quiet || now - s->refused_at < REFUSE_SAY_S) return;
    char ps[128];
    echo_peer_str(peer, ps, sizeof ps);
    fprintf(s->out,
            "refusing %s: descriptor %d is past FD_SETSIZE (%d), which select(2) cannot "
            "watch; use --model epoll (%lu refused in all; this line at most every %d s)\n",
            ps, fd, FD_SETSIZE, s->refused, REFUSE_SAY_S);
    s->refused_at = now;
}

int echo_run_select(struct echo_srv *s, int stop_fd)
{
    struct conns cs = {0};
    int stop = 0;
    uint64_t stop_until = 0;   /* the grace after a stop signal */
    uint64_t paused_until = 0; /* accept trouble: leave the listener alone until then */

    for (;;) {
        uint64_t now = echo_mono_ms();
        if (stop && (!cs.n || now >= stop_until)) break;
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        /* once stopping, the never-drained pipe would make select spin */
        int maxfd = stop ? -1 : stop_fd;
        if (!stop) FD_SET(stop_fd, &r);
        if (paused_until && now >= paused_until) paused_until = 0;
        if (!stop && !paused_until) {
            FD_SET(s->lfd, &r);
            if (s->lfd > maxfd) maxfd = s->lfd;
        }
        uint64_t wake = stop ? stop_until : paused_until; /* 0: none */
        for (struct conn *c = cs.head; c; c = c->next) {
            if (conn_wants_read(c, stop)) FD_SET(c->fd, &r);
            if (buf_len(&c->out)) FD_SET(c->fd, &w);
            if (c->fd > maxfd) maxfd = c->fd;
            uint64_t d = conn_deadline(s, c);
            if (d && (!wake || d < wake)) wake = d;
        }
        struct timeval tv, *tvp = NULL;
        if (wake) {
            uint64_t left = wake > now ? wake - now : 0;
            tv.tv_sec = (time_t)(left / 1000);
            tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
            tvp = &tv;
        }
        int n = select(maxfd + 1, &r, &w, NULL, tvp);
        if (n < 0 && errno != EINTR) return -errno;
        if (n < 0) continue;
        now = echo_mono_ms();

        if (!stop && FD_ISSET(stop_fd, &r)) {
            stop = 1;
            stop_until = now + STOP_GRACE_MS;
            for (struct conn *c = cs.head, *next; c; c = next) {
                next = c->next;
                if (conn_done(c, stop)) conn_free(s, &cs, c);
            }
            continue;
        }
        if (!stop && !paused_until && FD_ISSET(s->lfd, &r)) {
            for (int i = 0; i < 64; i++) {
                struct net_addr peer;
                int fd = net_accept(s->lfd, &peer);
                if (fd < 0) {
                    if (echo_accept_trouble(s, fd)) paused_until = now + ACCEPT_PAUSE_MS;
                    break;
                }
                if (fd >= FD_SETSIZE) {
                    refuse_past_setsize(s, fd, &peer);
                    continue;
                }
                struct conn *c = conn_new(&cs, fd, &peer);
                if (!c) {
                    close(fd);
                    continue;
                }
                echo_log_open(s, c->peer);
            }
        }
        for (struct conn *c = cs.head, *next; c; c = next) {
            next = c->next;
            if (FD_ISSET(c->fd, &r) || FD_ISSET(c->fd, &w)) conn_io(c, FD_ISSET(c->fd, &r), now);
            uint64_t d = conn_deadline(s, c);
            if (!c->err && d && now >= d) c->err = -ETIMEDOUT; /* takes none of its echo */
            if (conn_done(c, stop)) conn_free(s, &cs, c);
        }
    }
    while (cs.head)
        conn_free(s, &cs, cs.head);
    return 0;
}

/* ---- epoll: the library's event loop ---- */

struct esrv {
    struct echo_srv *s;
    struct loop *l;
    struct conns cs;
    int stop;
    struct loop_timer grace;
    struct loop_timer resume; /* accepting again after accept trouble */
};

static void econn_cb(struct loop *l, int fd, unsigned events, void *arg);

static void efree(struct esrv *es, struct conn *c)
{
    loop_io_del(es->l, c->fd);
    loop_timer_stop(es->l, &c->timer);
    conn_free(es->s, &es->cs, c);
}

static void esend_timeout_cb(struct loop *l, struct loop_timer *t);

/* Re-arms c's interest and send timeout from its state, or frees it when
 * it is finished. */
static void econn_update(struct esrv *es, struct conn *c)
{
    if (conn_done(c, es->stop)) {
        efree(es, c);
        if (es->stop && !es->cs.n) loop_stop(es->l);
        return;
    }
    unsigned ev =
        (conn_wants_read(c, es->stop) ? LOOP_READ : 0) | (buf_len(&c->out) ? LOOP_WRITE : 0);
    int rc = 0;
    if (ev != loop_io_get(es->l, c->fd)) rc = loop_io_set(es->l, c->fd, ev, econn_cb, c);
    uint64_t d = conn_deadline(es->s, c);
    if (!d)
        loop_timer_stop(es->l, &c->timer);
    else if (rc == 0 && (!loop_timer_armed(&c->timer) || c->timer.when != d))
        rc = loop_timer_set(es->l, &c->timer, d > loop_now(es->l) ? d - loop_now(es->l) : 0,
                            esend_timeout_cb);
    if (rc < 0) {
        c->err = -ENOMEM;
        efree(es, c);
    }
}

/* the peer took none of its echo for --send-timeout */
static void esend_timeout_cb(struct loop *l, struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    (void)l;
    c->err = -ETIMEDOUT;
    econn_update(c->owner, c);
}

static void econn_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    conn_io(c, (events & (LOOP_READ | LOOP_HUP)) != 0, loop_now(l));
    econn_update(c->owner, c);
}

static void eaccept_cb(struct loop *l, int fd, unsigned events, void *arg);

static void eresume_cb(struct loop *l, struct loop_timer *t)
{
    struct esrv *es = (struct esrv *)((char *)t - offsetof(struct esrv, resume));
    if (!es->stop) loop_io_set(l, es->s->lfd, LOOP_READ, eaccept_cb, es);
}

static void eaccept_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    struct esrv *es = arg;
    (void)l;
    (void)events;
    for (int i = 0; i < 64; i++) {
        struct net_addr peer;
        int cfd = net_accept(fd, &peer);
        if (cfd < 0) {
            if (echo_accept_trouble(es->s, cfd)) {
                loop_io_set(l, fd, 0, eaccept_cb, es);
                loop_timer_set(l, &es->resume, ACCEPT_PAUSE_MS, eresume_cb);
            }
            break;
        }
        struct conn *c = conn_new(&es->cs, cfd, &peer);
        if (!c) {
            close(cfd);
            continue;
        }
        c->owner = es;
        echo_log_open(es->s, c->peer);
        if (loop_io_set(es->l, cfd, LOOP_READ, econn_cb, c) < 0) {
            c->err = -ENOMEM;
            efree(es, c);
        }
    }
}

static void egrace_cb(struct loop *l, struct loop_timer *t)
{
    (void)t;
    loop_stop(l);
}

static void estop_cb(struct loop *l, int signo, void *arg)
{
    struct esrv *es = arg;
    (void)signo;
    if (es->stop) return;
    es->stop = 1;
    loop_io_del(l, es->s->lfd);
    loop_timer_stop(l, &es->resume);
    for (struct conn *c = es->cs.head, *next; c; c = next) {
        next = c->next;
        econn_update(es, c);
    }
    if (!es->cs.n)
        loop_stop(l);
    else
        loop_timer_set(l, &es->grace, STOP_GRACE_MS, egrace_cb);
}

int echo_run_epoll(struct echo_srv *s)
{
    struct esrv es = {.s = s};
    int rc;
    es.l = loop_new();
    if (!es.l) return -ENOMEM;
    if ((rc = loop_signal(es.l, SIGINT, estop_cb, &es)) < 0 ||
        (rc = loop_signal(es.l, SIGTERM, estop_cb, &es)) < 0 ||
        (rc = loop_io_set(es.l, s->lfd, LOOP_READ, eaccept_cb, &es)) < 0)
        goto fail;
    rc = loop_run(es.l);
fail:
    while (es.cs.head)
        efree(&es, es.cs.head);
    loop_timer_stop(es.l, &es.grace);
    loop_timer_stop(es.l, &es.resume);
    loop_free(es.l);
    return rc;
}
