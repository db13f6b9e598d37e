/* admin — the server's own paths (--health, --metrics, --status), answered
 * on a connection ahead of routes and files. */
#ifndef BERTH_HTTP_ADMIN_H
#define BERTH_HTTP_ADMIN_H

struct conn;
struct http_request;

/* Answers r when it is for one of those paths (into the worker's output
 * buffer, counted and, but for health, logged): 1; else 0. */
int admin_answer(struct conn *c, const struct http_request *r);

#endif
