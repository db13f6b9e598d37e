/* ws_h1 — the HTTP/1.1 carrier of a WebSocket session (ws_session.h's
 * struct ws_io): an upgraded connection's transport after its 101.  Frames
 * are queued in the connection's own output (behind what is left of the
 * 101), written to the socket, input read from it up to READS_PER_WAKE
 * times per wake-up; the end is the connection's (close, reset, or close
 * first and linger: the server closes TCP first, RFC 6455 §7.1.1). */
#include "http/conn.h"
#include "http/server.h"
#include "http/transport.h"
#include "http/ws_session.h"

#include <errno.h>

#define READS_PER_WAKE 8 /* bounded per wake-up: a flood waits its turn */

static int h1_flush(struct berth_ws *ws)
{
    struct conn *c = ws->c;
    while (buf_len(&c->out)) {
        ssize_t k = transport_send(&c->t, buf_head(&c->out), buf_len(&c->out), 0);
        if (k == -EAGAIN) break;
        if (k < 0) {
            if (k == -ECONNRESET || k == -EPIPE) metrics_add(&c->w->m.resets, 1);
            return -1;
        }
        buf_consume(&c->out, (size_t)k);
        ws->tx_at = loop_now(c->w->loop);
    }
    return 0;
}

static int h1_wait(struct berth_ws *ws, int want_in)
{
    struct conn *c = ws->c;
    unsigned ev = 0;
    if (buf_len(&c->out)) ev |= c->t.wwant;
    if (want_in) {
        ev |= c->t.rwant;
        /* TLS: bytes OpenSSL already decrypted announce no read event; a
         * writable socket wakes the session at once */
        if (transport_pending(&c->t)) ev |= LOOP_WRITE;
    }
    return loop_io_set(c->w->loop, c->t.fd, ev, conn_on_event, c) < 0 ? -1 : 0;
}

static void h1_end(struct berth_ws *ws, int how)
{
    struct conn *c = ws->c;
    if (how == WS_IO_END) {
        conn_linger(c); /* its close in stages frees ws */
        return;
    }
    c->reset = how == WS_IO_RESET && !c->eof;
    conn_close(c); /* frees ws */
}

const struct ws_io ws_h1_io = {h1_flush, h1_wait, h1_end};

void ws_session_run(struct conn *c)
{
    struct berth_ws *ws = c->ws;
    if (ws->started) {
        ws_session_pump(ws);
        return;
    }
    /* the HTTP/1.1 connection's timer and state are done with */
    loop_timer_stop(c->w->loop, &c->timer);
    c->head_start = 0;
    c->body_wait = 0;
    ws->eof = c->eof; /* a client that half-closed after its request */
    /* bytes that came behind the request head are the first frames */
    struct buf in = c->in;
    buf_init(&c->in, 0);
    ws_session_start(ws, buf_len(&in) ? buf_head(&in) : NULL, buf_len(&in));
    buf_free(&in);
}

void ws_session_event(struct conn *c, unsigned events)
{
    struct berth_ws *ws = c->ws;
    /* a plain socket that only became writable has nothing to read; over
     * TLS a write event may stand for bytes OpenSSL holds (see h1_wait) */
    int reads = events & (LOOP_READ | LOOP_HUP) || c->t.tls ? READS_PER_WAKE : 0;
    ws->dispatch++; /* what the callbacks queue is written once, after the batch */
    for (int i = 0; i < reads && !ws->finish && !ws->dead; i++) {
        if (buf_len(&c->out) >= WS_READ_PAUSE) break;
        ssize_t r = transport_recv(&c->t, c->w->scratch, WORKER_SCRATCH);
        if (r == -EAGAIN || r == -EINTR) break;
        if (r <= 0) {
            /* the peer closed TCP, or it broke, without a close frame */
            if (r == 0) c->eof = 1;
            if (r == -ECONNRESET) metrics_add(&c->w->m.resets, 1);
            ws_session_eof(ws, r != 0);
            break;
        }
        ws->rx_hint = (size_t)r;
        ws_session_input(ws, c->w->scratch, (size_t)r);
        ws->rx_hint = 0;
        if ((size_t)r < WORKER_SCRATCH && !transport_pending(&c->t)) break;
    }
    ws->dispatch--;
    ws_session_pump(ws);
}

void ws_session_stop(struct conn *c)
{
    if (c->lingering) return; /* closed already; the close in stages ends it */
    ws_session_going_away(c->ws);
}
