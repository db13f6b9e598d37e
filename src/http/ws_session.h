/* ws_session — a connection after its 101: the WebSocket session of an
 * upgraded HTTP/1.1 exchange.  Reads through the connection's transport,
 * parses frames (ws.h), puts messages together (ws_msg.h), calls the
 * handler's callbacks, queues and writes frames, answers pings, sends idle
 * pings, runs the closing handshake (the server closes TCP first) and the
 * server's drain (1001).  The public calls on top are ws_api.c. */
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

struct berth_ws {
    struct conn *c;
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
    int dispatch;       /* callbacks of this session under way: writes wait for their end */
    size_t rx_hint;     /* the read being dispatched: what a growing output is sized for */
    uint64_t last_rx, ping_at, close_at, tx_at;
};

/* A session for c after a valid handshake hs (o complete, not NULL).  NULL
 * when out of memory. */
struct berth_ws *ws_session_new(struct conn *c, const struct berth_ws_cb *cb, void *arg,
                                const struct berth_ws_opts *o, const struct ws_hs *hs);
/* The seam with conn.c: conn_update hands c over once the 101 is queued
 * (start: open, then the bytes that came after the request head);
 * conn_on_event hands it each socket event; conn_close frees the session
 * (the close callback, 1006, if it is still due). */
void ws_session_run(struct conn *c);
void ws_session_event(struct conn *c, unsigned events);
void ws_session_free(struct berth_ws *ws);
/* The worker stops: a close 1001 (going away), then the usual handshake. */
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
