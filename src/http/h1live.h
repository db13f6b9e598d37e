/* h1live — a live exchange (http/live) on an HTTP/1.1 connection: the
 * request body read to the route's on_body as it arrives (paused and
 * resumed), the answer's queue moved into the connection's output (head,
 * chunks or a declared length, file regions by sendfile, trailers), and
 * what the connection waits for meanwhile.  conn.c calls these while c->lv
 * is set; the connection reads no further request until the exchange ended. */
#ifndef BERTH_HTTP_H1LIVE_H
#define BERTH_HTTP_H1LIVE_H

#include <stddef.h>

struct conn;

/* Feeds body bytes p[0..n) to on_body (decoded), until the body ends or the
 * program pauses it.  Returns the bytes consumed (0 while paused or once
 * the body is done); a malformed chunked body ends the connection. */
size_t h1live_body(struct conn *c, const char *p, size_t n);
/* Moves what the answer has queued into c->out / c->x.  1: something was
 * moved; 0: nothing (waiting for the program, or done: see h1live_done);
 * -1: out of memory. */
int h1live_pump(struct conn *c);
/* Once all is pumped and sent: 1 when the exchange has ended (it was
 * counted, logged, released, and c->lv is NULL), else 0. */
int h1live_done(struct conn *c);
/* Nothing to send: waits for the body (unless paused) or the client's
 * close, without a deadline while the program holds the answer. */
void h1live_wait(struct conn *c);

#endif
