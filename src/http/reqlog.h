/* reqlog — the access log of the HTTP server's connections (formatting is
 * alog's; this is what a connection and a worker log, and when). */
#ifndef BERTH_HTTP_REQLOG_H
#define BERTH_HTTP_REQLOG_H

#include "http/parse.h"
#include "http/str.h"

#include <stdint.h>

struct conn;
struct worker;

/* Logs the answer to r (NULL: to the raw first line read, absent "-") with
 * its status and body bytes. */
void reqlog_line(struct conn *c, const struct http_request *r, struct http_str raw, int status,
                 uint64_t bytes);
void reqlog_access(struct conn *c, const struct http_request *r, int status, uint64_t bytes);
/* Keeps the line of an answer whose body of `body` bytes goes out by
 * sendfile (c->x), copying what it points at; reqlog_settle() logs it with
 * the bytes that went out, when the transfer ends or the connection closes. */
void reqlog_defer(struct conn *c, const struct http_request *r, int status, uint64_t body);
void reqlog_settle(struct conn *c);

/* Writes the worker's buffered lines now. */
void reqlog_flush(struct worker *w);
/* A log reopening (SIGHUP) waits for this worker's lines, or it leaves. */
void reqlog_sync(struct worker *w, int leaving);

#endif
