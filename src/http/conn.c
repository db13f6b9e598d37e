/* conn — the HTTP/1.1 connection state machine: reading, parsing, request
 * bodies, writing, timeouts; what answers a request is http/exchange, the
 * workers that run connections are worker.c, the public API is api.c.
 *
 * A connection owns no buffer while it keeps up: requests are read into the
 * worker's scratch buffer and parsed there, responses are assembled in the
 * worker's output buffer and written with one send; only bytes that must
 * wait (a partial request, output the socket would not take) are copied into
 * the connection's own buffers, which are released as soon as they empty.
 * That is what lets 10,000 idle keep-alive connections cost a few MiB. */
#include "http/conn.h"
#include "http/exchange.h"
#include "http/h1live.h"
#include "http/live.h"

#include "http/server.h"

#include "buf.h"
#include "err.h"
#include "http/alog.h"
#include "http/h2.h"
#include "http/h2conn.h"
#include "http/metrics.h"
#include "http/parse.h"
#include "http/proxyproto.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/static.h"
#include "http/status.h"
#include "http/transport.h"
#include "http/ws_session.h"
#include "loop.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OUT_HIGH   (256 * 1024) /* stop answering pipelined requests past this */
#define LINGER_MS  2000         /* after the last answer, input is dropped this long at most */
#define SEND_SLICE (4u << 20)   /* file bytes per wake-up, so one client cannot starve others */

static void conn_update(struct conn *c);
static int conn_resume(struct conn *c);

void conn_close(struct conn *c)
{
    struct worker *w = c->w;
    while (c->lv) { /* live exchanges (h2: a list): their programs hear the client is gone */
        struct live *lv = c->lv;
        c->lv = lv->h2next;
        live_gone(lv);
    }
    loop_io_del(w->loop, c->t.fd);
    transport_close(&c->t, c->reset);
    loop_timer_stop(w->loop, &c->timer);
    reqlog_settle(c);
    static_xfer_end(&c->x);
    if (c->h2) h2_session_free(c->h2);
    if (c->ws) ws_session_free(c->ws);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    worker_conn_closed(w);
}

static void on_conn_timer(struct loop *l, struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    uint64_t now = loop_now(l);
    if (now < c->deadline) {
        loop_timer_set(l, t, c->deadline - now, on_conn_timer);
        return;
    }
    /* an idle keep-alive connection or a lingering close ending is no error */
    if (c->head_start || c->t.handshaking || buf_len(&c->out) || c->x.fd >= 0 || c->discard ||
        c->dechunk)
        metrics_add(&c->w->m.timeouts, 1);
    if (c->head_start && !buf_len(&c->out) && c->x.fd < 0 && !c->lv) { /* never mid-handshake */
        /* slowloris: say why, once, without waiting for the socket */
        struct buf *o = &c->w->out;
        buf_clear(o);
        http_date_tick();
        int len = resp_error(o, 408, 0, 11, 0, NULL,
                             c->body_wait ? "The request body did not arrive in time."
                                          : "The request head did not arrive in time.");
        ssize_t k = len >= 0 ? transport_send(&c->t, buf_head(o), buf_len(o), 0) : -1;
        /* the log shows the request line when one arrived whole */
        struct http_str raw = http_str_make(NULL, 0);
        if (buf_len(&c->in) && memchr(buf_head(&c->in), '\n', buf_len(&c->in)))
            raw = alog_first_line(buf_head(&c->in), buf_len(&c->in), c->w->s->lim.max_line);
        metrics_request(&c->w->m, HTTP_OTHER, 408);
        reqlog_line(c, NULL, raw, 408, k == (ssize_t)buf_len(o) ? (uint64_t)len : 0);
        buf_clear(o);
    }
    conn_close(c);
}

/* Moves the deadline; the heap is touched only when it comes sooner. */
void conn_deadline(struct conn *c, uint64_t ms)
{
    struct loop *l = c->w->loop;
    c->deadline = loop_now(l) + ms;
    if (!loop_timer_armed(&c->timer) || c->timer.when > c->deadline)
        loop_timer_set(l, &c->timer, ms, on_conn_timer);
}

/* A send that failed with err: a peer that reset or went away is counted. */
static int send_failed(struct conn *c, ssize_t err)
{
    if (err == -ECONNRESET || err == -EPIPE) metrics_add(&c->w->m.resets, 1);
    return -1;
}

/* Writes what the connection owes.  1: all sent; 0: the socket is full;
 * -1: the connection is dead (or a file shrank under us). */
int conn_flush(struct conn *c)
{
    uint64_t budget = SEND_SLICE;
again:
    while (buf_len(&c->out)) {
        ssize_t k = transport_send(&c->t, buf_head(&c->out), buf_len(&c->out), c->x.fd >= 0);
        if (k < 0) return k == -EAGAIN ? 0 : send_failed(c, k);
        buf_consume(&c->out, (size_t)k);
        conn_deadline(c, (uint64_t)c->w->s->o.send_timeout_ms);
    }
    buf_free(&c->out);
    while (c->x.fd >= 0) {
        uint64_t left = c->x.end - c->x.off;
        size_t chunk = left < budget ? (size_t)left : (size_t)budget;
        if (left && chunk == 0) return 0; /* slice used up: come back when writable */
        if (chunk) {
            off_t off = (off_t)c->x.off;
            ssize_t k =
                transport_sendfile(&c->t, c->x.fd, &off, chunk, c->w->scratch, WORKER_SCRATCH);
            if (k < 0) return k == -EAGAIN ? 0 : send_failed(c, k);
            if (k == 0 || !static_xfer_intact(&c->x)) {
                /* the file shrank or changed under the announced head:
                 * reset, so no client takes what was sent for a whole
                 * response */
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(c->t.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                c->reset = 1; /* nor a TLS close_notify that would end it cleanly */
                return -1;
            }
            c->x.off += (uint64_t)k;
            budget -= (uint64_t)k;
            conn_deadline(c, (uint64_t)c->w->s->o.send_timeout_ms);
        }
        if (c->x.off == c->x.end) {
            /* the next multipart part's header (or the closing boundary)
             * goes out before its bytes; a plain region just ends */
            if (static_xfer_next(&c->x, &c->out) < 0) return -1;
            if (buf_len(&c->out)) goto again;
        }
    }
    if (c->lv && !c->h2) { /* a live exchange's answer: what its program queued */
        int rc = h1live_pump(c);
        if (rc < 0) return -1;
        if (rc > 0) goto again;
        h1live_done(c);
    }
    reqlog_settle(c);
    return 1;
}

/* Sends the worker's assembled output for c; what the socket does not take
 * is kept in the connection's own buffer. */
static int conn_send(struct conn *c)
{
    struct buf *o = &c->w->out;
    if (buf_len(o)) {
        ssize_t k = transport_send(&c->t, buf_head(o), buf_len(o), c->x.fd >= 0);
        if (k < 0 && k != -EAGAIN) {
            buf_clear(o);
            return send_failed(c, k);
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

/* An error page for r, or for the raw first line when r is NULL (a
 * request that did not parse); the log shows the page's size. */
/* Counts an answer with status to r (NULL: a request that did not parse)
 * for the metrics and the status table. */
void conn_count(struct conn *c, const struct http_request *r, int status)
{
    metrics_request(&c->w->m, r ? (int)r->method : HTTP_OTHER, status);
    c->nreq++;
}

static void error_page(struct conn *c, const struct http_request *r, struct http_str raw,
                       int status, const char *extra, const char *why)
{
    conn_count(c, r, status);
    int head = r && r->method == HTTP_HEAD;
    int len = resp_error(&c->w->out, status, !c->closing, r ? r->version : 11, head, extra, why);
    if (len < 0) c->closing = 1;
    reqlog_line(c, r, raw, status, len > 0 && !head ? (uint64_t)len : 0);
}

void conn_error(struct conn *c, const struct http_request *r, int status, const char *extra,
                const char *why)
{
    error_page(c, r, http_str_make(NULL, 0), status, extra, why);
}

/* With -p HTTP/1.0 the server speaks 1.0, as python's http.server does:
 * answers are built as 1.1 responses that close, so only the version in the
 * status line of the answer appended at mark differs. */
static void speak_http10(struct worker *w, size_t mark)
{
    if (!w->s->o.http10 || buf_len(&w->out) < mark + 8) return;
    char *v = w->out.data + w->out.off + mark;
    if (!memcmp(v, "HTTP/1.1", 8)) v[7] = '0';
}

/* Answers the requests in p[0..n) until input runs out, output backs up or
 * the connection is to close.  Returns the bytes consumed. */
static size_t process(struct conn *c, const char *p, size_t n)
{
    struct worker *w = c->w;
    size_t used = 0;
    http_date_tick();
    /* after a 101, the bytes are WebSocket's; a request that closes the
     * connection still has its streamed body read (c->lv) */
    while (used < n && (!c->closing || c->lv) && !c->ws) {
        if (c->lv) { /* a live exchange: its body, then nothing until it ends */
            size_t k = h1live_body(c, p + used, n - used);
            used += k;
            if (!k) break;
            continue;
        }
        if (c->discard) {
            size_t k = n - used < c->discard ? n - used : (size_t)c->discard;
            used += k;
            c->discard -= k;
            c->body_seen += k;
            continue;
        }
        if (c->dechunk) {
            size_t k;
            int rc = http_chunked_feed(&c->chunk, p + used, n - used, &k, NULL, NULL);
            used += k;
            c->body_seen += k;
            if (rc < 0) c->closing = 1; /* the answer is out; the framing is lost */
            if (rc != 0) c->dechunk = 0;
            continue;
        }
        if (buf_len(&w->out) >= OUT_HIGH || c->x.fd >= 0) break;
        if (!c->served && !used && !c->t.tls && !w->s->o.no_h2 && !w->s->o.http10) {
            /* h2c with prior knowledge: the connection opens with the
             * HTTP/2 preface (RFC 9113 §3.3) */
            int pf = h2conn_preface(p, n);
            if (pf == 0) break; /* the rest of it may follow */
            if (pf == 1) {
                if (h2conn_start(c) < 0 || h2conn_feed(c, p, n) < 0) c->closing = 1;
                return n;
            }
        }
        struct http_request r;
        int rc = http_parse_request(&c->ps, p + used, n - used, &w->s->lim, &r, w->hdrs);
        if (rc == 0) break;
        if (rc < 0) {
            size_t mark = buf_len(&w->out);
            c->closing = 1;
            metrics_add(&w->m.parse_errors, 1);
            /* the log shows what was sent, as far as the first line end */
            error_page(c, NULL, alog_first_line(p + used, n - used, w->s->lim.max_line), -rc, NULL,
                       r.error);
            speak_http10(w, mark);
            used = n;
            break;
        }
        size_t mark = buf_len(&w->out);
        size_t k = exchange_h1(c, &r, p + used, (size_t)rc, n - used);
        speak_http10(w, mark);
        if (k == 0) break;
        used += k;
        /* c->ps is zero again: the parser resets it with every head it returns */
        c->head_start = 0;
        c->chunking = c->continued = c->body_wait = 0;
        c->served = 1;
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
        r = transport_recv(&c->t, w->scratch, WORKER_SCRATCH);
        p = w->scratch;
        n = r > 0 ? (size_t)r : 0;
    } else {
        r = transport_recv_buf(&c->t, &c->in, 16384);
        p = buf_head(&c->in);
        n = buf_len(&c->in);
    }
    if (r == -EAGAIN) {
        /* TLS may wait for another event than the one that woke it; the
         * deadline stays: partial records buy no time */
        if (c->t.tls && loop_io_set(w->loop, c->t.fd, c->t.rwant, conn_on_event, c) < 0)
            conn_close(c);
        return;
    }
    if (r < 0 && r != BERTH_ETOOBIG) {
        if (r == -ECONNRESET) metrics_add(&w->m.resets, 1);
        conn_close(c);
        return;
    }
    if (r == 0) c->eof = 1;
    if (r == BERTH_ETOOBIG) c->closing = 1; /* a body larger than the buffer allows */

    size_t used = process(c, p, n);
    if (r == BERTH_ETOOBIG && c->body_wait) {
        /* a handler's chunked body under its limit whose framing outgrew
         * the buffer: the client hears why rather than a bare close */
        c->body_wait = 0;
        conn_error(c, NULL, 413, NULL,
                   "The chunked request body's framing outgrew the buffer; send larger chunks.");
    }
    if (!own) {
        if (used < n && buf_append(&c->in, p + used, n - used) < 0) c->closing = 1;
    } else {
        buf_consume(&c->in, used);
    }
    if (!buf_len(&c->in)) buf_free(&c->in);
    if (buf_len(&c->in) && !c->head_start && !c->discard && !c->dechunk && !c->lv)
        c->head_start = loop_now(w->loop);
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
    while (buf_len(&c->in) && (!c->closing || c->lv) && !buf_len(&c->out) && c->x.fd < 0) {
        size_t used = process(c, buf_head(&c->in), buf_len(&c->in));
        buf_consume(&c->in, used);
        int rc = conn_send(c);
        if (rc < 0) return -1;
        if (used == 0) break;
    }
    if (!buf_len(&c->in)) buf_free(&c->in);
    return 0;
}

void conn_kick(struct conn *c, struct live *lv)
{
    if (c->h2) {
        h2conn_kick(c, lv);
        return;
    }
    if (c->lingering || c->lv != lv) return;
    int rc = conn_flush(c);
    if (rc < 0 || (rc == 1 && conn_resume(c) < 0)) {
        conn_close(c);
        return;
    }
    conn_update(c);
}

/* Closes in stages (RFC 9112 §9.6): closing a socket whose input is not all
 * read makes the kernel answer with a reset, which destroys answers still
 * on their way to the client; so our side is shut down, and input is read
 * and dropped until the client closes, or for LINGER_MS at most. */
void conn_linger(struct conn *c)
{
    if (transport_shutdown_write(&c->t) < 0 ||
        loop_io_set(c->w->loop, c->t.fd, LOOP_READ, conn_on_event, c) < 0) {
        conn_close(c);
        return;
    }
    c->lingering = 1;
    c->head_start = 0; /* no 408 now */
    c->discard = c->dechunk = 0;
    buf_free(&c->in);
    conn_deadline(c, LINGER_MS);
}

static void linger_read(struct conn *c)
{
    for (int i = 0; i < 4; i++) { /* bounded per wake-up: a flood waits its turn */
        ssize_t r = transport_recv(&c->t, c->w->scratch, WORKER_SCRATCH);
        if (r > 0) continue;
        if (r == -EAGAIN || r == -EINTR) return;
        conn_close(c); /* the client closed too, or is gone */
        return;
    }
}

static void conn_update(struct conn *c)
{
    if (c->h2) {
        h2conn_run(c);
        return;
    }
    if (c->ws) {
        ws_session_run(c);
        return;
    }
    struct berth_server *s = c->w->s;
    int pending = buf_len(&c->out) || c->x.fd >= 0;
    if (c->lv && !pending && !c->eof) {
        h1live_wait(c);
        return;
    }
    if (!pending && (c->closing || c->eof)) {
        if (c->eof)
            conn_close(c);
        else
            conn_linger(c);
        return;
    }
    /* TLS: the event OpenSSL waits for; bytes it already decrypted wake the
     * connection at once (a socket is writable), as no read event will */
    unsigned ev = pending ? c->t.wwant : c->t.rwant;
    if (!pending && transport_pending(&c->t)) ev = LOOP_WRITE;
    if (loop_io_set(c->w->loop, c->t.fd, ev, conn_on_event, c) < 0) {
        conn_close(c);
        return;
    }
    if (pending) {
        conn_deadline(c, (uint64_t)s->o.send_timeout_ms);
    } else if (c->discard || c->dechunk) {
        /* a body being dropped gets the head's time, plus a second per
         * 64 KiB that arrived: a client trickling a huge body is cut off */
        uint64_t end =
                     c->body_start + (uint64_t)s->o.header_timeout_ms + (c->body_seen >> 16) * 1000,
                 now = loop_now(c->w->loop);
        conn_deadline(c, end > now ? end - now : 0);
    } else if (c->head_start) {
        /* a handler's whole body being buffered gets, like a dropped one, a
         * second more per 64 KiB that arrived */
        uint64_t end = c->head_start + (uint64_t)s->o.header_timeout_ms +
                       (c->body_wait ? (uint64_t)(buf_len(&c->in) >> 16) * 1000 : 0),
                 now = loop_now(c->w->loop);
        conn_deadline(c, end > now ? end - now : 0);
    } else {
        conn_deadline(c, (uint64_t)s->o.idle_timeout_ms);
    }
}

/* TLS: the handshake, within the header timeout set at accept.  1 when it
 * is done, 0 while it waits, -1 when c closed. */
static int conn_handshake(struct conn *c)
{
    int rc = transport_handshake(&c->t);
    if (rc == 1) {
        metrics_add(&c->w->m.tls_ok, 1);
        return 1;
    }
    if (rc == -EAGAIN)
        return loop_io_set(c->w->loop, c->t.fd, c->t.rwant, conn_on_event, c) < 0 ? -1 : 0;
    metrics_add(&c->w->m.tls_failed, 1);
    /* not TLS (plaintext HTTP), or a bad handshake: what the client sent is
     * read away first, so it sees an orderly close rather than a reset */
    for (int i = 0; i < 4 && recv(c->t.fd, c->w->scratch, WORKER_SCRATCH, MSG_DONTWAIT) > 0; i++)
        ;
    c->reset = 1; /* no close_notify for a session that never began */
    return -1;
}

/* --proxy-protocol: the PROXY header before anything else (before TLS's
 * ClientHello too), within the header timeout set at accept.  Its client
 * becomes c's peer.  1 when it is done, 0 while it waits, -1 when c is to
 * close: no valid header gets no HTTP answer. */
static int conn_preamble(struct conn *c)
{
    struct proxyproto_addr a;
    int rc = transport_preamble(&c->t, &a);
    if (rc == -EAGAIN) return 0;
    if (rc < 0) {
        /* read away what came, for an orderly close rather than a reset */
        for (int i = 0; i < 4 && recv(c->t.fd, c->w->scratch, WORKER_SCRATCH, MSG_DONTWAIT) > 0;
             i++)
            ;
        c->reset = 1; /* no TLS session began: no close_notify */
        return -1;
    }
    if (a.family == AF_INET || a.family == AF_INET6) {
        c->family = (uint8_t)a.family;
        memset(c->peer, 0, sizeof c->peer);
        memcpy(c->peer, a.src, a.family == AF_INET ? 4 : 16);
    }
    return 1;
}

void conn_on_event(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    struct conn *c = arg;
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if (c->t.pp) {
        int rc = conn_preamble(c);
        if (rc < 0) conn_close(c);
        if (rc <= 0) return;
        events |= LOOP_READ; /* the request (or ClientHello) may have come with it */
    }
    if (c->t.handshaking) {
        int rc = conn_handshake(c);
        if (rc < 0) conn_close(c);
        if (rc <= 0) return;
        events |= LOOP_READ; /* a request may have come with the handshake's end */
        if (!strcmp(transport_alpn(&c->t), "h2") && h2conn_start(c) < 0) {
            conn_close(c);
            return;
        }
    }
    if (c->h2) {
        h2conn_event(c, events);
        return;
    }
    if (c->ws) {
        ws_session_event(c, events);
        return;
    }
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
    /* over TLS a read may be due on a write event (see conn_update) */
    if (events & (LOOP_READ | LOOP_HUP) || c->t.tls) conn_read(c);
}

void conn_new(struct worker *w, int fd, const struct net_addr *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    if (transport_init(&c->t, fd, w->s->tls, w->s->o.proxy_protocol) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->x.fd = -1;
    c->t.tally = &w->io;
    c->born = loop_now(w->loop);
    metrics_add(&w->m.accepts, 1);
    if (peer->ss.ss_family == AF_INET) {
        c->family = AF_INET;
        memcpy(c->peer, &((const struct sockaddr_in *)&peer->ss)->sin_addr, 4);
        c->peer_port = ntohs(((const struct sockaddr_in *)&peer->ss)->sin_port);
    } else if (peer->ss.ss_family == AF_INET6) {
        c->family = AF_INET6;
        memcpy(c->peer, &((const struct sockaddr_in6 *)&peer->ss)->sin6_addr, 16);
        c->peer_port = ntohs(((const struct sockaddr_in6 *)&peer->ss)->sin6_port);
    }
    buf_init(&c->in, w->s->o.max_header + w->s->o.max_body + WORKER_SCRATCH);
    buf_init(&c->out, 0);
    if (loop_io_set(w->loop, fd, LOOP_READ, conn_on_event, c) < 0) {
        transport_close(&c->t, 1);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    __atomic_add_fetch(&w->s->nconns, 1, __ATOMIC_RELAXED);
    /* a TLS handshake, whole, gets the time of a request head: a client
     * that never sends a ClientHello, or stalls halfway, is cut off then;
     * so does a PROXY header (and the handshake after it) */
    conn_deadline(
        c, (uint64_t)(c->t.tls || c->t.pp ? w->s->o.header_timeout_ms : w->s->o.idle_timeout_ms));
}
