/* resp — the parts every response head shares: the status line, Server and
 * Date (formatted once a second per thread), Connection, and small complete
 * responses (errors, redirects, handler answers) written in one piece. */
#ifndef BERTH_HTTP_RESP_H
#define BERTH_HTTP_RESP_H

#include "buf.h"

#include <stddef.h>
#include <time.h>

#define BERTH_SERVER_NAME "berth"

/* The IANA registry's phrase ("Not Found"), or "" for an unregistered code
 * (the status line then ends "599 ", as RFC 9112 allows). */
const char *http_reason(int status);

/* Reads the wall clock for this thread's Date cache.  Call it once per batch
 * of work (the server does, per read): the clock is not read per response. */
void http_date_tick(void);
/* The "Date: ...\r\n" line as of the last tick and its wall-clock second. */
const char *http_date_line(size_t *len, time_t *now);

/* Appends "HTTP/1.1 <status> <reason>\r\nServer: berth\r\nDate: ...\r\n"
 * and, when the connection will close (or keep_alive on HTTP/1.0), the
 * Connection field.  The caller adds its own fields and the blank line. */
int resp_head(struct buf *b, int status, int keep_alive, int version);

/* What resp_head(b, 200, 1, 11) appends, without appending it: the status
 * line, Server and Date of this second (returned, *len bytes) and this
 * thread's extra fields (*extra, *extra_len bytes, maybe none).  Valid on
 * this thread until the clock's next second is read. */
const char *resp_ok_head(size_t *len, const char **extra, size_t *extra_len);

/* Fields every response head built by resp_head on this thread carries
 * after Date and Connection ("Name: value\r\n"..., --header and CORS): set
 * by each worker thread when it starts; fields must outlive the thread's
 * answers.  NULL: none. */
void resp_extra_set(const char *fields, size_t len);

/* Appends a whole response with a body held in memory; `extra` is more
 * header lines ("Allow: GET, HEAD\r\n") or NULL; `head` drops the body but
 * keeps its Content-Length. */
int resp_simple(struct buf *b, int status, int keep_alive, int version, int head, const char *extra,
                const char *ctype, const void *body, size_t len);

/* A small HTML error page for status, with `detail` HTML-escaped.  Returns
 * the page's length (its Content-Length, for the access log; sent unless
 * `head`), or a negative code. */
int resp_error(struct buf *b, int status, int keep_alive, int version, int head, const char *extra,
               const char *detail);

#endif
