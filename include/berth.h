/* berth.h — embed berth's HTTP/1.1 server in a C program.
 *
 *   struct berth_opts o;
 *   berth_opts_init(&o);
 *   o.port = 8000;
 *   berth_server *s;
 *   if (berth_server_new(&s, &o) < 0 || berth_route(s, "GET", "/", 0, hello, NULL) < 0 ||
 *       berth_server_listen(s) < 0) ...
 *   berth_server_run(s);           // until SIGINT/SIGTERM or berth_server_stop()
 *   berth_server_free(s);
 *
 * Conventions (libuv style): every fallible call returns 0 or a negative
 * error code that berth_strerror() describes.  Strings passed in are copied.
 * A berth_req and everything it points at belong to the server and are valid
 * only during the handler call.  berth_server_run() blocks SIGPIPE in its
 * threads (and SIGINT/SIGTERM/SIGHUP unless no_signals).  Handlers run on
 * the worker thread that owns the connection; with workers > 1 they must be
 * thread-safe. */
#ifndef BERTH_H
#define BERTH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct berth_server berth_server;
typedef struct berth_req berth_req;

struct berth_opts {
    const char *host;         /* NULL or "": all interfaces, dual-stack */
    int port;                 /* 0: any free port (see berth_server_port) */
    const char *root;         /* static files from here; NULL: handlers only */
    int workers;              /* event-loop threads on SO_REUSEPORT; 0: one per CPU */
    const char *index;        /* directory index file; default "index.html" */
    int listing;              /* HTML listing of directories without an index; default 1 */
    int hidden;               /* serve dotfiles (/.well-known/ always); default 0 */
    const char *mime_default; /* default "application/octet-stream" */
    const char *log_path;     /* access log file; NULL: stderr */
    int quiet;                /* no access log */
    int max_conn;             /* open connections, all workers; default 10000 */
    size_t max_header;        /* request head bytes; default 8192 */
    size_t max_body;          /* request body a handler may receive; default 1 MiB */
    int header_timeout_ms;    /* a request head must arrive within; default 10000 */
    int idle_timeout_ms;      /* idle keep-alive connection; default 5000 */
    int send_timeout_ms;      /* no send progress; default 30000 */
    int http10;               /* answer as HTTP/1.0 would: close after each response */
    int no_signals;           /* do not turn SIGINT/SIGTERM into berth_server_stop() (a second
                                 one: close every connection now), nor SIGHUP into reopening
                                 log_path */
    int log_format;           /* access log: 0 Common Log Format (default), 1 nginx's combined
                                 (CLF then "Referer" "User-Agent") */
};

/* A handler answers with berth_respond() (once); if it does not, the
 * client gets 500. */
typedef void berth_handler(berth_req *req, void *arg);

void berth_opts_init(struct berth_opts *o);
int berth_server_new(berth_server **out, const struct berth_opts *o);

/* Routes requests ahead of static files.  method: "GET", ... or NULL for
 * any; path: exact decoded path, or with prefix != 0 every path under it. */
int berth_route(berth_server *s, const char *method, const char *path, int prefix, berth_handler *h,
                void *arg);

/* Binds the listening sockets now (so the port is known, and errors such as
 * "address already in use" surface before run). */
int berth_server_listen(berth_server *s);
int berth_server_port(const berth_server *s);
/* The bound address, "0.0.0.0" for dual-stack wildcard, "::1", ... */
const char *berth_server_host(const berth_server *s);

/* Serves until stopped; in-flight responses finish, idle connections close.
 * Returns 0 or a negative error code. */
int berth_server_run(berth_server *s);
/* Safe from any thread and from a signal handler. */
void berth_server_stop(berth_server *s);
void berth_server_free(berth_server *s);

/* The request.  Strings are NUL-terminated copies valid during the call. */
const char *berth_req_method(const berth_req *r);
const char *berth_req_path(const berth_req *r);  /* decoded and normalised */
const char *berth_req_query(const berth_req *r); /* after '?', "" if none */
/* A field's value (not NUL-terminated), or NULL when absent. */
const char *berth_req_header(const berth_req *r, const char *name, size_t *len);
const void *berth_req_body(const berth_req *r, size_t *len);

/* Adds a response field (before berth_respond). */
int berth_resp_header(berth_req *r, const char *name, const char *value);
/* Sends the response: status, Content-Type (NULL: none), body. */
int berth_respond(berth_req *r, int status, const char *content_type, const void *body, size_t len);

const char *berth_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
