/* app/server — the application-protocol server (Real Python's app-server.py)
 * on the library's event loop: many clients at once, each connection's
 * requests answered in order, the connection kept until the client closes.
 * Bad input is answered with a text/json {"error": "..."} message and that
 * connection alone is closed.
 *
 * Everything returns 0 or a negative err.h code; on failure `why` receives
 * one line naming the cause (no "berth: " prefix, no newline). */
#ifndef BERTH_APP_SERVER_H
#define BERTH_APP_SERVER_H

#include "app/proto.h"

#include <stdio.h>

#define APP_MAX_CONN           1000
#define APP_BUFFERED_MAX       (128u << 20)
#define APP_MESSAGE_TIMEOUT_MS 60000

struct app_server_opt {
    const char *host;   /* "127.0.0.1", "::", "unix:/path"; NULL = all */
    int port;           /* 0 = pick a free one */
    int timeout_ms;     /* drop a peer stalled inside a message (or not
                           reading its answers) this long; <= 0 = never */
    size_t max_content; /* content-length limit; 0 = APP_CONTENT_MAX */
    size_t max_conn;    /* connections at once; more wait to be accepted;
                           0 = APP_MAX_CONN */
    /* what unfinished messages may hold in all: a message whose header is
     * read waits (unread) for its share; 0 = APP_BUFFERED_MAX, raised to one
     * message of max_content when smaller */
    size_t max_buffered;
    int message_timeout_ms; /* a message must arrive whole within this of its
                               first byte; 0 = APP_MESSAGE_TIMEOUT_MS, < 0 never */
    const json_t *table;    /* search answers (object of strings); NULL = built-in */
    int quiet;              /* no line per refused connection */
    FILE *out;              /* "listening on ..." and error lines; NULL = stdout */
};

/* Listens, prints "listening on ADDR (app protocol)" and serves until SIGINT
 * or SIGTERM, then returns 0. */
int app_server_run(const struct app_server_opt *o, char *why, size_t n);

/* The reference's three answers, as a new object. */
json_t *app_table_default(void);
/* Reads a search table from a JSON file: an object whose values are strings. */
json_t *app_table_load(const char *path, char *why, size_t n);

/* Appends the answer to one request to out, as the reference answers it.
 * BERTH_EPROTO (reason in why) when the request cannot be answered: text/json
 * content that is not an object. */
int app_respond(const json_t *table, const struct app_msg *req, struct buf *out, char *why,
                size_t n);

#endif
