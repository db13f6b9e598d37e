/* server internals — what the connections (conn.c), the workers that run
 * them (worker.c), their access log (reqlog.c) and the public API (api.c)
 * share.  Not installed; embedders see include/berth.h. */
#ifndef BERTH_HTTP_SERVER_H
#define BERTH_HTTP_SERVER_H

#include "berth.h"

#include "buf.h"
#include "http/alog.h"
#include "http/chunked.h"
#include "http/metrics.h"
#include "http/parse.h"
#include "http/policy.h"
#include "http/static.h"
#include "http/status.h"
#include "http/transport.h"
#include "loop.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#define MAX_HEADERS    100
#define WORKER_SCRATCH (64 * 1024) /* a worker's receive buffer */
#define ROUTE_PARAMS   8 /* ":name" segments of a route pattern, at most (route.h agrees) */

struct route {
    char *method; /* NULL: any */
    char *path;
    size_t len;
    int prefix;
    berth_handler *h;
    void *arg;
    /* API v2 (berth_route_opts) */
    struct berth_route_opts ro;
    int pattern; /* path has ":name" / "*name" segments (http/route) */
};

struct worker;
struct conn_log;
struct live;
struct h2_session;
struct h2_pool;

struct conn {
    struct transport t;    /* the socket, plain or TLS: every byte in and out */
    struct h2_session *h2; /* an HTTP/2 connection's session (http/h2conn); NULL: HTTP/1.1 */
    struct berth_ws *ws;   /* an upgraded connection's WebSocket (http/ws_session); NULL: none */
    uint8_t reset;         /* close without a TLS close_notify (cut short, or no session) */
    uint8_t closing;       /* close once the output is flushed */
    uint8_t eof;           /* the peer will send nothing more */
    uint8_t family;        /* of the peer address below, for the access log */
    uint8_t peer[16];
    uint8_t dechunk;     /* dropping a chunked body: chunk holds the decoder */
    uint8_t chunking;    /* a handler's chunked body: chunk has scanned chunk_seen bytes */
    uint8_t continued;   /* "100 Continue" sent for the pending request */
    uint8_t served;      /* answered a request: idle now means keep-alive */
    uint8_t lingering;   /* our side is shut: input is dropped until the peer closes */
    uint64_t discard;    /* request body bytes still to drop */
    uint64_t body_start; /* loop_now() when dropping a body began */
    uint64_t body_seen;  /* body bytes dropped so far (each 64 KiB buys a second) */
    size_t chunk_seen;   /* raw bytes of a handler's chunked body already scanned */
    struct http_chunked chunk;
    uint64_t head_start; /* loop_now() when the pending request began; 0: none */
    uint64_t deadline;   /* when the current phase times out */
    struct http_parser ps;
    struct buf in, out;
    struct http_xfer x;
    struct conn_log *plog;   /* the log line of x's answer, logged when x ends */
    struct loop_timer timer; /* armed at or before deadline */
    struct conn *prev, *next;
    struct worker *w;
    /* for the status table (status.c): cheap stores on the paths they mark */
    uint8_t body_wait;  /* a handler's request waits for its body */
    uint16_t peer_port; /* host order */
    uint32_t nreq;      /* requests answered */
    uint64_t born;      /* loop_now() at accept */
    char target[48];    /* with --status: the last request's target, truncated */
    /* API v2: an HTTP/1.1 exchange that outlives its handler call (http/live) */
    struct live *lv;
};

struct worker {
    struct berth_server *s;
    pthread_t th;
    struct loop *loop;
    int lfd, stopfd;
    int stopping, paused;
    int nconns;
    uint64_t said_emfile; /* when EMFILE was last reported */
    struct conn *conns;
    char *scratch;
    struct buf out; /* responses being assembled */
    struct buf log;
    struct loop_timer log_timer, accept_timer, stop_timer;
    struct fcache *cache;
    struct http_header hdrs[MAX_HEADERS];
    unsigned log_gen;          /* the log reopening this worker has synced for (alog_sink_sync) */
    int id;                    /* index in the server's workers */
    struct metrics m;          /* this worker's counters (only it writes them) */
    struct transport_tally io; /* bytes in and out of its connections */
    struct status_pub pub;     /* its part of --status and --metrics */
    /* API v2: deferred answers from other threads wake the worker (http/live) */
    int wakefd, wake_init;
    pthread_mutex_t wake_mu;
    struct live *wake_list;
    /* HTTP/2 (http/h2conn): what the worker's sessions share, so that the
     * memory they write is the memory written last, still in the cache */
    struct buf h2stage;     /* a session's frames on their way to its transport */
    struct h2_pool *h2pool; /* nghttp2's blocks, answers' body storage; made by the
                               first h2 connection, freed by h2conn_worker_free */
};

struct tls_ctx;

struct berth_server {
    struct berth_opts o;
    struct tls_ctx *tls; /* HTTPS: the certificate every worker's handshakes use; NULL: plain */
    char *host, *root, *index, *mime_default;
    char *root_abs; /* the root by absolute name, followed when replaced */
    uint64_t epoch; /* file changes seen by any worker (static_conf.epoch) */
    struct static_conf sc;
    struct http_limits lim;
    struct route *routes;
    int nroutes;
    struct worker *w;
    int nworkers;
    int listening, mime_loaded;
    int nconns; /* open connections of all workers (atomic): --max-conn bounds it */
    volatile sig_atomic_t stopped;
    int port;
    char hoststr[64];
    char boundary[40];
    struct alog_sink log; /* the access log's file, reopened on SIGHUP */
    /* the drain (atomics): workers yet to count the connections they drain,
     * that count, workers not yet done; by_signal: the SIGINT/SIGTERM that
     * stopped it (the first; 0: none),
     * force: a second one came */
    int by_signal, force, drain_left, draining, running;
    /* --metrics / --status: their paths (NULL: off); admin: either is set */
    char *metrics_path, *status_path;
    size_t metrics_len, status_len;
    int admin;
    uint64_t started_ms;                              /* CLOCK_MONOTONIC at berth_server_new */
    char *tls_cert_path, *tls_key_path, *tls_pw_path; /* copies, for berth_server_sandbox */
    int sandboxed;     /* berth_server_sandbox put Landlock in force */
    struct policy pol; /* site features (http/policy): sc.pol points here */
};

struct berth_req {
    struct conn *c;
    const struct http_request *r;
    const char *path, *query;
    const char *body;
    size_t body_len;
    char method[24];
    struct buf extra;
    int status; /* 0 until berth_respond */
    uint64_t bytes;
    /* API v2 */
    struct live *lv;        /* the exchange kept past the handler call; NULL: none */
    const struct route *rt; /* the route answering */
    const char *remainder;  /* after a prefix route's path or a pattern's fixed part */
    struct http_str params[ROUTE_PARAMS];
    void *user; /* berth_req_set_user */
};

/* Sets up worker w of s (its loop, buffers, cache, stop eventfd). */
int worker_init(struct berth_server *s, struct worker *w);
/* Starts accepting on the listening socket fd, which the worker now owns. */
int worker_listen(struct worker *w, int fd);
/* Runs the worker's loop until it has shut down (thread entry point). */
void *worker_main(void *arg);
/* Closes everything the worker holds. */
void worker_free(struct worker *w);
/* Bookkeeping once one of w's connections closed (conn_close calls it). */
void worker_conn_closed(struct worker *w);

/* The client's address of c as text into buf (berth_req_peer's rules). */
int api_peer(const struct conn *c, char *buf, size_t len);

#endif
