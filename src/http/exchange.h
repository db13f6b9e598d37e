/* exchange — one request and its answer, whatever protocol carries it:
 * the server's own paths, routes and API handlers, then static files.  The
 * answer is built in HTTP/1.1 form (head and in-memory body in the worker's
 * output buffer, a file region in c->x); the HTTP/1.1 session (http/conn)
 * sends it as it is, the HTTP/2 one (http/h2conn) converts it. */
#ifndef BERTH_HTTP_EXCHANGE_H
#define BERTH_HTTP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct http_request;
struct http_xfer;

/* Answers one parsed HTTP/1.1 request whose head is hlen bytes at p, with
 * avail bytes of input from p on; sets what the session does next (close,
 * drop a body: c->closing, c->discard, c->dechunk).  Returns the bytes
 * consumed, or 0 when a handler's body has not fully arrived yet. */
size_t exchange_h1(struct conn *c, const struct http_request *r, const char *p, size_t hlen,
                   size_t avail);

/* Answers one complete request, its whole body at hand, exactly as an
 * HTTP/1.1 request is answered (routes, then static files): the answer in
 * HTTP/1.1 form appended to the worker's output buffer, a file transfer in
 * *x (fd < 0: none), which the caller now owns. */
struct live;
void exchange_answer(struct conn *c, const struct http_request *r, const char *body, size_t len,
                     struct http_xfer *x, struct live **lv);
/* ... or, *lv set (nothing appended), the handler kept the request (API v2):
 * the caller owns the connection's reference and sends the answer when the
 * program ends it (its stream is lv->stream's to set). */

/* An h2 request head whose body is still to come: *limit becomes the
 * route's body limit; a route that streams its body has its handler run
 * now and *lv is its live exchange (the caller owns the connection's
 * reference), to which the body then goes piece by piece. */
void exchange_head(struct conn *c, const struct http_request *r, uint64_t *limit, struct live **lv);

#endif
