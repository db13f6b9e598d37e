/* preflight — a CORS preflight answered on a connection (--cors): the
 * answer http/policy builds, counted and logged like any other. */
#ifndef BERTH_HTTP_PREFLIGHT_H
#define BERTH_HTTP_PREFLIGHT_H

struct conn;
struct http_request;

/* For r, which no route takes: when --cors is on and r is a preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) on a path that
 * routes (allow: their "Allow: ...\r\n" line, "" when none match) or static
 * files answer, appends the 204 to the worker's output, counts and logs
 * it: 1.  Else 0, nothing done. */
int preflight_answer(struct conn *c, const struct http_request *r, const char *allow);

#endif
