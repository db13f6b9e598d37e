/* h2conn — a connection that speaks HTTP/2: the bytes of its transport fed
 * to its h2 session (http/h2), each complete request answered by the same
 * code that answers HTTP/1.1 (exchange_answer), and the session's output written
 * back.  A connection becomes one after ALPN chose "h2" (TLS) or when it
 * opens with the client preface on a plaintext port (h2c with prior
 * knowledge, RFC 9113 §3.3). */
#include "http/h2conn.h"

#include "http/conn.h"
#include "http/exchange.h"
#include "http/h2.h"
#include "http/h2_pool.h"
#include "http/h2_ws.h"
#include "http/live.h"
#include "http/metrics.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/server.h"
#include "http/static.h"
#include "http/transport.h"
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H2_OUT_HIGH   (256 * 1024) /* session output buffered before reading stops */
#define H2_STAGE_KEEP (512 * 1024) /* staging storage a worker keeps between rounds */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int h2conn_preface(const char *p, size_t n)
{
    size_t k = n < sizeof preface - 1 ? n : sizeof preface - 1;
    if (memcmp(p, preface, k)) return -1;
    return k == sizeof preface - 1 ? 1 : 0;
}

static void live_submit(struct conn *c, struct live *lv);

/* The answer to an extended CONNECT: a handler's berth_ws_upgrade left its
 * session in c->ws and its 200 in the worker's output, and the stream
 * becomes the WebSocket's (http/h2_ws).  Any other success would tell the
 * client its WebSocket is open: a route that did not upgrade is answered
 * 501 instead (RFC 9220 section 3: the protocol is not supported here). */
static void on_connect(struct conn *c, int32_t id, size_t mark, struct http_xfer *x)
{
    struct buf *o = &c->w->out;
    struct berth_ws *ws = c->ws;
    c->ws = NULL;
    static_xfer_end(x);
    c->served = 1;
    const char *a = buf_head(o) + mark;
    size_t n = buf_len(o) - mark;
    if (ws) {
        (void)h2_ws_respond(c->h2, id, a, n, ws); /* frees ws on failure */
    } else if (n < 12 || a[9] == '2') {           /* (the exchange logged its own answer) */
        buf_truncate(o, mark);
        if (resp_error(o, 501, 1, 11, 0, NULL,
                       "This resource does not speak WebSocket; connect to a WebSocket "
                       "endpoint.") >= 0)
            (void)h2_respond(c->h2, id, buf_head(o) + mark, buf_len(o) - mark, NULL);
    } else {
        (void)h2_respond(c->h2, id, a, n, NULL);
    }
    buf_truncate(o, mark);
}

static void on_request(void *owner, int32_t id, const struct http_request *r, const char *body,
                       size_t len)
{
    struct conn *c = owner;
    struct buf *o = &c->w->out;
    size_t mark = buf_len(o);
    struct http_xfer x = {.fd = -1};
    struct live *lv;
    exchange_answer(c, r, body, len, &x, &lv);
    if (c->ws || (r->protocol.p && !lv)) { /* an extended CONNECT (RFC 8441) */
        on_connect(c, id, mark, &x);
        return;
    }
    if (lv) { /* answered later: kept on the connection until it ends */
        static_xfer_end(&x);
        buf_truncate(o, mark);
        lv->stream = id;
        lv->h2next = c->lv;
        c->lv = lv;
        c->served = 1;
        live_submit(c, lv); /* answered (or begun) in the handler */
        return;
    }
    /* the stream owns the transfer from here, whatever h2_respond says; an
     * answer to a stream the client reset meanwhile is dropped */
    if (mark == 0) /* the answer is all o holds: the stream takes its storage */
        (void)h2_respond_buf(c->h2, id, o, &x);
    else
        (void)h2_respond(c->h2, id, buf_head(o) + mark, buf_len(o) - mark, &x);
    buf_truncate(o, mark);
    c->served = 1;
}

/* lv out of c's list of live exchanges; 0 when it was not there */
static int unlist(struct conn *c, struct live *lv)
{
    struct live **pp = &c->lv;
    while (*pp && *pp != lv)
        pp = &(*pp)->h2next;
    if (!*pp) return 0;
    *pp = lv->h2next;
    return 1;
}

/* The head of a live answer, HTTP/1.1 form, for h2_respond_live */
static int live_head(struct live *lv, struct buf *b)
{
    int rc = resp_head(b, lv->status, 1, 11);
    char line[64];
    if (rc >= 0 && lv->length >= 0 && lv->status != 204 && lv->status != 304) {
        int n = snprintf(line, sizeof line, "Content-Length: %lld\r\n", lv->length);
        rc = buf_append(b, line, (size_t)n);
    }
    if (rc >= 0 && buf_len(&lv->q.extra))
        rc = buf_append(b, buf_head(&lv->q.extra), buf_len(&lv->q.extra));
    if (rc >= 0) rc = buf_append(b, "\r\n", 2);
    return rc < 0 ? rc : 0;
}

/* Submits lv's head, or resumes its DATA; no I/O (callable from inside
 * the session's callbacks). */
static void live_submit(struct conn *c, struct live *lv)
{
    struct live *it = c->lv;
    while (it && it != lv)
        it = it->h2next;
    if (!it) return; /* its stream is over */
    pthread_mutex_lock(&lv->mu);
    int started = lv->started;
    pthread_mutex_unlock(&lv->mu);
    if (!lv->head_out && started) {
        struct buf b;
        buf_init(&b, 0);
        http_date_tick();
        int rc = live_head(lv, &b);
        if (rc == 0)
            rc = h2_respond_live(c->h2, lv->stream, buf_head(&b), buf_len(&b), lv, !lv->nobody);
        buf_free(&b);
        lv->head_out = 1;
        if (rc == 0) lv->tail_out = 1; /* no body: the head ends the stream */
        if (rc < 0) {                  /* the stream is gone (reset meanwhile) */
            unlist(c, lv);
            live_gone(lv);
        }
    } else if (lv->head_out) {
        h2_resume(c->h2, lv->stream);
    }
    h2_body_resume(c->h2, lv->stream);
    live_notify(lv);
}

void h2conn_kick(struct conn *c, struct live *lv)
{
    live_submit(c, lv);
    h2conn_run(c);
}

/* A live answer's stream closed: whole, it is logged; else its program
 * hears the client is gone. */
static void on_live_end(void *owner, struct live *lv, int whole)
{
    struct conn *c = owner;
    if (!unlist(c, lv)) return;
    if (whole && lv->tail_out) {
        conn_count(c, &lv->lreq, lv->status);
        reqlog_access(c, &lv->lreq, lv->status, lv->nobody ? 0 : lv->sent);
        live_detach(lv);
        live_unref(lv);
    } else {
        live_gone(lv);
    }
}

static void on_reject(void *owner, int32_t id, int status, const char *why)
{
    (void)id;
    (void)why;
    reqlog_line(owner, NULL, http_str_make(NULL, 0), status, 0);
}

/* A head with a body to come: the route's limit, or its streamed body */
static void on_head(void *owner, int32_t id, const struct http_request *r, uint64_t *limit,
                    struct live **lv)
{
    struct conn *c = owner;
    exchange_head(c, r, limit, lv);
    if (!*lv) return;
    (*lv)->stream = id;
    (*lv)->h2next = c->lv;
    c->lv = *lv;
    c->served = 1;
    live_submit(c, *lv); /* answered (or begun) in the handler */
}

static const struct h2_ops ops = {on_request, on_reject, on_live_end, on_head};

static void h2conn_update(struct conn *c);

int h2conn_start(struct conn *c)
{
    const struct berth_server *s = c->w->s;
    /* the worker's sessions share their pool (the memory freed last is
     * taken next, still in the cache); without one each has its own */
    if (!c->w->h2pool) c->w->h2pool = h2_pool_shared();
    struct h2_conf conf = {
        .max_header = s->o.max_header * 2,
        .max_headers = MAX_HEADERS,
        .max_body = s->o.max_body,
        .pool = c->w->h2pool,
        /* RFC 8441's setting: when routes may upgrade to WebSocket (a
         * static-only server has none to offer) */
        .ws = s->nroutes > 0,
    };
    int rc = h2_session_new(&c->h2, &conf, &ops, c);
    if (rc < 0) return rc;
    c->head_start = 0;
    return 0;
}

/* Feeds bytes read from the transport; a connection error (a GOAWAY is
 * queued) ends reading: what is queued goes out, then the connection closes. */
int h2conn_feed(struct conn *c, const char *p, size_t n)
{
    http_date_tick();
    if (h2_session_recv(c->h2, p, n) < 0) {
        c->closing = 1;
        return -1;
    }
    return 0;
}

/* Writes out: conn_flush's work for a connection that never has a file
 * region of its own (the session reads files into DATA frames).  out is
 * the worker's staging buffer (c->out empty) or c->out.  The session's
 * frames go into the staging buffer, shared by the worker's connections:
 * the memory written is the memory written last, still in the cache,
 * where a buffer per connection (h2c 4 KiB: ~40 KiB a round) was cold by
 * the time the worker came back to it, and every DATA frame's copy missed
 * (measured: the largest share of h2 4 KiB's cache misses).  What the
 * socket does not take moves to c->out and waits there; the staging
 * buffer is empty again before this returns.  1: all written; 0: the
 * socket is full; -1: the connection is dead. */
static int h2conn_flush(struct conn *c, struct buf *out)
{
    struct buf *stage = &c->w->h2stage;
    int rc = 1;
    while (buf_len(out)) {
        ssize_t k = transport_send(&c->t, buf_head(out), buf_len(out), 0);
        if (k == -EAGAIN) {
            /* the same bytes are offered again later (as TLS requires),
             * from c->out */
            if (out == stage && buf_append(&c->out, buf_head(out), buf_len(out)) < 0) rc = -1;
            rc = rc < 0 ? rc : 0;
            break;
        }
        if (k < 0) {
            if (k == -ECONNRESET || k == -EPIPE) metrics_add(&c->w->m.resets, 1);
            rc = -1;
            break;
        }
        buf_consume(out, (size_t)k);
        conn_deadline(c, (uint64_t)c->w->s->o.send_timeout_ms);
    }
    if (out == stage && stage->cap > H2_STAGE_KEEP)
        buf_free(stage);
    else if (out == stage)
        buf_clear(stage);
    else if (!buf_len(out))
        buf_free(out); /* c->out, drained: held no longer */
    if (rc == 1) reqlog_settle(c);
    return rc;
}

/* Moves the session's output into the staging buffer or, behind bytes
 * still waiting, c->out (bounded), and writes it.  1: all written; 0: the
 * socket is full; -1: the connection is dead. */
static int h2conn_write(struct conn *c)
{
    struct buf *stage = &c->w->h2stage;
    for (;;) {
        /* (the staging buffer is in use only inside this call: never for
         * two connections at once, but checked all the same) */
        struct buf *out = buf_len(&c->out) || buf_len(stage) ? &c->out : stage;
        if (buf_len(out) < H2_OUT_HIGH && h2_want_write(c->h2) && h2_session_send(c->h2, out) < 0) {
            if (out == stage) buf_clear(stage);
            return -1;
        }
        if (!buf_len(out)) return 1;
        int rc = h2conn_flush(c, out);
        if (rc <= 0) return rc;
    }
}

void h2conn_event(struct conn *c, unsigned events)
{
    struct worker *w = c->w;
    (void)events;
    /* reading stops while output backs up (the flood limits count acks the
     * client has not taken yet), not during a drain: WINDOW_UPDATEs must
     * still come in for the streams under way to finish */
    for (int i = 0; i < 4 && !buf_len(&c->out) && h2_want_read(c->h2); i++) {
        ssize_t r = transport_recv(&c->t, w->scratch, WORKER_SCRATCH);
        if (r == -EAGAIN) break;
        if (r <= 0) {
            c->eof = 1;
            break;
        }
        if (h2conn_feed(c, w->scratch, (size_t)r) < 0) break;
        if (!transport_pending(&c->t)) break;
    }
    h2conn_run(c);
}

void h2conn_run(struct conn *c)
{
    if (c->w->stopping && !c->closing) {
        h2_shutdown(c->h2); /* GOAWAY: streams under way finish, new ones are refused */
        h2_ws_stop(c->h2);  /* WebSockets say 1001 and close */
        c->closing = 1;
    }
    if (h2conn_write(c) < 0) {
        conn_close(c);
        return;
    }
    /* live answers whose queue the frames just drained may take more */
    for (struct live *lv = c->lv; lv; lv = lv->h2next)
        live_notify(lv);
    h2conn_update(c);
}

static void h2conn_update(struct conn *c)
{
    const struct berth_server *s = c->w->s;
    int pending = buf_len(&c->out) || h2_want_write(c->h2);
    /* after a GOAWAY (a drain, a connection error) nghttp2 wants to read
     * only while streams are still open */
    if (!pending && (c->eof || !h2_want_read(c->h2))) {
        if (c->eof)
            conn_close(c);
        else
            conn_linger(c); /* a WINDOW_UPDATE in flight must not reset what was sent */
        return;
    }
    unsigned ev = pending ? c->t.wwant : c->t.rwant;
    if (!pending && transport_pending(&c->t)) ev = LOOP_WRITE;
    if (loop_io_set(c->w->loop, c->t.fd, ev, conn_on_event, c) < 0) {
        conn_close(c);
        return;
    }
    if (!pending && h2_ws_any(c->h2)) /* WebSockets time out by their own pings */
        loop_timer_stop(c->w->loop, &c->timer);
    else
        conn_deadline(c, (uint64_t)(pending ? s->o.send_timeout_ms : s->o.idle_timeout_ms));
}

void h2conn_worker_free(struct worker *w)
{
    buf_free(&w->h2stage);
    if (w->h2pool) h2_pool_free(w->h2pool);
    free(w->h2pool);
    w->h2pool = NULL;
}
