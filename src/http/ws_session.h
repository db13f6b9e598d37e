/* ws_session — a WebSocket session, whatever carries it: bytes in, frames
 * parsed (ws.h), messages put together (ws_msg.h), the handler's callbacks
 * called, frames queued, pings answered, idle pings sent, the closing
 * handshake (the server ends its side first) and the server's drain (1001).
 * The public calls on top are ws_api.c.
 *
 * The carrier is a byte stream behind struct ws_io: an upgraded HTTP/1.1
 * connection (ws_h1.c: the connection's transport, after its 101) or an
 * HTTP/2 stream (h2_ws.c: DATA frames both ways after its extended
 * CONNECT's 200, RFC 8441).  The session never learns which. */
#ifndef BERTH_HTTP_WS_SESSION_H
#define BERTH_HTTP_WS_SESSION_H

#include "berth.h"
#include "http/ws.h"
#include "http/ws_msg.h"
#include "loop.h"

#include <stddef.h>
#include <stdint.h>

struct conn;
struct ws_hs;
struct ws_pmd;

struct berth_ws;

/* What carries a session's bytes.  The session appends frames to *ws->out
 * and pushes input with ws_session_input; the carrier moves the bytes. */
struct ws_io {
    /* Moves what *ws->out holds toward the peer, as far as it takes now
     * (consumed from out, ws->tx_at set when bytes leave; an h2 stream takes
     * them later, as its window allows, and wakes the session with
     * ws_session_wake).  0, or -1: the carrier broke. */
    int (*flush)(struct berth_ws *ws);
    /* Waits for input when want_in (else input pauses: backpressure on the
     * peer) and for room while out holds bytes.  0, or -1: it broke. */
    int (*wait)(struct berth_ws *ws, int want_in);
    /* Ends the carrier, once (ws->io_ended is set before): WS_IO_END the
     * server's orderly end after the closing handshake (TCP: close first
     * and linger; h2: END_STREAM), WS_IO_EOF the peer ended first, WS_IO_RESET
     * abort (TCP reset; h2: RST_STREAM).  h1 frees ws here (conn_close). */
    void (*end)(struct berth_ws *ws, int how);
};
enum { WS_IO_END, WS_IO_EOF, WS_IO_RESET };

struct berth_ws {
    struct conn *c; /* the connection (its worker, loop, peer) */
    const struct ws_io *io;
    void *io_arg;    /* the carrier's (h2: its stream) */
    struct buf *out; /* frames to send: the connection's output (h1) or own */
    struct buf own;
    struct berth_ws_cb cb;
    void *arg, *data;
    struct berth_ws_opts o;
    char protocol[64];
    struct ws_parser ps;
    struct ws_msg msg;
    struct ws_pmd *z; /* permessage-deflate; NULL: not agreed */
    struct buf zbuf;  /* a message being compressed */
    struct loop_timer timer;
    uint8_t started;    /* open was called */
    uint8_t sent_close; /* our close frame is queued: nothing else may follow it */
    uint8_t got_close;  /* the peer's close frame arrived */
    uint8_t ended;      /* the close callback ran */
    uint8_t finish;     /* close TCP once the queue is written */
    uint8_t dead;       /* the transport failed: close as soon as no callback runs */
    uint8_t want_drain; /* a send left the queue above low_water */
    uint8_t ping_out;   /* an idle ping awaits input */
    uint8_t eof;        /* the peer ended its side (FIN, END_STREAM) */
    uint8_t io_ended;   /* the carrier was ended: nothing more goes through it */
    int dispatch;       /* callbacks of this session under way: writes wait for their end */
    size_t rx_hint;     /* the read being dispatched: what a growing output is sized for */
    uint64_t last_rx, ping_at, close_at, tx_at;
};

/* A session for c after a valid handshake hs (o complete, not NULL).  NULL
 * when out of memory. */
struct berth_ws *ws_session_new(struct conn *c, const struct berth_ws_cb *cb, void *arg,
                                const struct berth_ws_opts *o, const struct ws_hs *hs);
/* Puts ws on its carrier: io with its arg; out the buffer frames go to
 * (NULL: the session's own). */
void ws_session_carry(struct berth_ws *ws, const struct ws_io *io, void *arg, struct buf *out);
/* The carrier's side: start calls open, then takes the bytes that came
 * with the handshake (p[0..n)) and writes; input feeds bytes (callbacks
 * run, their output is written at the next pump); eof: the peer ended
 * (reset: abruptly); pump writes and waits or ends; wake pumps from the
 * loop soon (for a carrier inside a callback of its own, where the session
 * must not run).  free: the close callback (1006) if still due. */
void ws_session_start(struct berth_ws *ws, const void *p, size_t n);
void ws_session_input(struct berth_ws *ws, const void *p, size_t n);
void ws_session_eof(struct berth_ws *ws, int reset);
void ws_session_pump(struct berth_ws *ws);
void ws_session_wake(struct berth_ws *ws);
void ws_session_free(struct berth_ws *ws);
/* Input pauses while this much output waits (backpressure on the peer). */
#define WS_READ_PAUSE (4u << 20)
/* The server stops: a close 1001 (going away), then the usual handshake. */
void ws_session_going_away(struct berth_ws *ws);

/* The HTTP/1.1 carrier (ws_h1.c), the seam with conn.c: conn_update hands
 * c over once the 101 is queued (ws_session_run: open, then the bytes that
 * came after the request head); conn_on_event hands it each socket event;
 * conn_close frees the session; the worker's drain calls ws_session_stop. */
extern const struct ws_io ws_h1_io;
void ws_session_run(struct conn *c);
void ws_session_event(struct conn *c, unsigned events);
void ws_session_stop(struct conn *c);

/* Queues one frame (op, payload p[0..n), compressed when agreed and op is
 * data) and writes what the socket takes unless a callback of ws is under
 * way.  The bytes queued after it (at most INT_MAX), or a negative code
 * (berth_ws_send's). */
int ws_session_queue(struct berth_ws *ws, int op, const void *p, size_t n);
/* Queues the close frame (code 0: none) and starts waiting for the peer's. */
int ws_session_close(struct berth_ws *ws, int code, const char *reason, size_t len);
size_t ws_session_buffered(const struct berth_ws *ws);

#endif
