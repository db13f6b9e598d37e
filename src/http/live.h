/* live — an exchange that outlives its handler call (API v2): a streamed
 * request body, a streamed answer, an answer deferred to any thread.
 *
 * The program's handle (struct berth_req inside) and the connection share a
 * struct live by reference count: the connection's reference goes when the
 * exchange ends or the client goes (conn_close, an h2 stream reset), the
 * program's when it ends the answer (berth_resp_end, berth_respond).  A
 * mutex guards what both sides touch (the answer's queue and flags); a
 * thread that queued something puts the live on its worker's wake list and
 * writes the worker's eventfd, and the worker moves the bytes to the client.
 * Callbacks (on_body, writable, gone) run on the worker, outside the mutex.
 *
 * The answer is a queue of segments, already framed for the protocol that
 * carries it (chunk lines for HTTP/1.1, bare bytes for h2): memory (copied,
 * or the program's with a release callback) and file regions. */
#ifndef BERTH_HTTP_LIVE_H
#define BERTH_HTTP_LIVE_H

#include "http/server.h"

#include "buf.h"
#include "http/chunked.h"
#include "http/parse.h"
#include "http/str.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;
struct route;

struct seg {
    struct seg *next;
    const char *p; /* memory: p[0..len) */
    size_t len;
    int fd; /* >= 0: the file region [off, end) instead (a duplicate, closed here) */
    uint64_t off, end;
    void (*release)(void *data, void *rarg); /* the program's memory: handed back when sent */
    void *rarg;
    const void *rdata; /* ... its start, as the program gave it */
    char data[];       /* copied bytes */
};

struct live {
    struct berth_req q; /* the program's handle: q.lv is this live */
    pthread_mutex_t mu;
    int refs;         /* under mu */
    struct worker *w; /* the owner; fixed */
    struct conn *c;   /* worker only: NULL once the client is gone */
    int32_t stream;   /* h2: the stream id; 0: HTTP/1.1 */
    /* under mu */
    uint8_t app_ref;  /* the program holds its reference */
    uint8_t gone;     /* the client went away: calls fail with BERTH_EGONE */
    uint8_t started;  /* the head is queued (berth_resp_start or berth_respond) */
    uint8_t ended;    /* the program ended the answer */
    uint8_t paused;   /* the body is held back */
    uint8_t listed;   /* on the worker's wake list */
    uint8_t want_low; /* the queue passed half: writable is due below a quarter */
    uint8_t framing;  /* LIVE_CHUNKED, LIVE_LENGTH, LIVE_CLOSE (h2: LIVE_LENGTH or bare) */
    uint8_t nobody;   /* HEAD, 204, 304: the body is not sent */
    uint8_t h2;       /* carried by an h2 stream */
    uint8_t secure;   /* over TLS (berth_req_secure) */
    uint8_t detached; /* the exchange is over for the connection: nothing to wake */
    int status;
    long long length; /* declared, or -1 */
    uint64_t written; /* body bytes the program queued */
    uint64_t sent;    /* body bytes handed to the connection (the log) */
    struct seg *first, *last;
    size_t queued, max_queue;
    struct buf trailers; /* "Name: value\r\n" lines */
    /* worker only */
    uint8_t head_out;  /* the head went to the connection */
    uint8_t tail_out;  /* the end (last chunk, trailers / END_STREAM) too */
    uint8_t body_done; /* the request body was all delivered (or there was none) */
    uint8_t body_chunked;
    uint8_t in_cb;      /* inside on_body: a pause takes effect on return */
    uint8_t cont_due;   /* "100 Continue" is owed before the body is read */
    uint64_t body_left; /* Content-Length bytes still to come */
    struct http_chunked chunk;
    berth_body_cb *on_body;
    berth_event_cb *writable, *gone_cb;
    void *cb_arg, *route_arg;
    struct live *next_ready; /* the worker's wake list */
    struct live *h2next;     /* an h2 connection's lives (c->lv heads the list) */
    /* the request as the log and berth_req_* need it after the handler */
    struct http_request lreq;
    char *copy; /* method, target, path, query */
};

/* A live for the request q (during its handler call) on connection c:
 * copies what must outlast the call, takes the connection's reference (the
 * program's is taken by live_app_ref).  NULL when out of memory. */
struct live *live_new(struct conn *c, struct berth_req *q);
/* Drops a reference (under no lock); the last one frees. */
void live_unref(struct live *lv);
/* The program takes its reference (berth_req_defer, berth_resp_start from
 * a handler); once only. */
void live_app_ref(struct live *lv);

/* A segment of len bytes: copied from p when p is not NULL, else left for
 * the caller to fill (data); NULL when out of memory.  Or a file region
 * (fd duplicated; *err set on failure).  live_push queues it (under mu). */
struct seg *live_seg_new(const void *p, size_t len);
struct seg *live_seg_file(int fd, uint64_t off, uint64_t len, int *err);
void live_push(struct live *lv, struct seg *s);
/* Takes the first segment off the queue (under mu). */
struct seg *live_pop(struct live *lv);
/* Releases a segment (its file, or the program's memory). */
void live_seg_free(struct seg *s);

/* After a call that queued something or changed what the worker must do:
 * has the worker look at lv (at once from its own thread outside a
 * callback of lv's, else through its wake list and eventfd).  Under mu. */
void live_poke(struct live *lv);

/* The worker's eventfd: the lives posted to it are served (their
 * connection is kicked), and lose the reference the list held. */
void live_wake(struct worker *w);
/* The worker is freed: drops what is still listed. */
void live_wake_drop(struct worker *w);

/* The client of lv went away (worker): calls fail from now on, gone is
 * called if the answer had not ended, the connection's reference goes. */
void live_gone(struct live *lv);

/* berth_resp_header and berth_respond on a live request (api_live.c) */
int live_resp_header(struct live *lv, const char *name, const char *value);
int live_respond(struct live *lv, int status, const char *ctype, const void *body, size_t len);

/* The exchange ended for the connection (worker): it lets go of lv (its
 * reference is dropped by the caller). */
void live_detach(struct live *lv);

/* 1 while the program holds lv (it has not answered yet): on_body is
 * called only then, never with a request the program let go of. */
int live_held(struct live *lv);

/* Calls writable when it is due (worker, no lock held). */
void live_notify(struct live *lv);

#define LIVE_LENGTH  1
#define LIVE_CHUNKED 2
#define LIVE_CLOSE   3

#endif
