/* h2_int — http/h2's internals, shared with http/h2_ws (a WebSocket on a
 * stream, RFC 8441) and nothing else: the session and its streams. */
#ifndef BERTH_HTTP_H2_INT_H
#define BERTH_HTTP_H2_INT_H

#include "buf.h"
#include "http/h2.h"
#include "http/h2_guard.h"
#include "http/h2_head.h"
#include "http/h2_pool.h"
#include "http/h2_req.h"

#include <nghttp2/nghttp2.h>

#define NV_STACK 48

struct berth_ws;

struct h2_stream {
    struct h2_stream *prev, *next; /* the session's streams: nghttp2_session_del tells of none */
    int32_t id;
    struct h2_req req;
    struct http_header *hdrs;
    char *body;
    size_t blen, bcap;
    int head;      /* HEAD request: no DATA in the answer */
    int done;      /* on_request called, or answered here: nothing more to read into it */
    int responded; /* h2_respond took an answer */
    int checked;   /* the transfer's file was checked since its region began */
    struct buf mem;
    struct http_xfer x;
    struct live *lv;     /* a live exchange (streamed body, answer), the connection's */
    uint64_t limit;      /* the body's, the route's (on_head) */
    int streaming;       /* the body goes to lv's on_body as it comes (held in body while paused) */
    int end_held;        /* ... and its end came while paused */
    size_t owed;         /* bytes delivered while paused: window granted on resume */
    uint64_t got;        /* a streamed body's bytes so far, held to limit */
    int connect;         /* an extended CONNECT (:protocol, RFC 8441): the request is its head */
    struct berth_ws *ws; /* the WebSocket the stream carries (http/h2_ws); NULL: none */
    size_t ws_owed;      /* its DATA taken while its input paused: window granted later */
};

struct h2_session {
    nghttp2_session *ng;
    struct h2_conf conf;
    struct h2_ops ops;
    void *owner;
    struct h2_stream *streams;
    struct h2_stream *cur; /* the stream whose HEADERS came last (stream_of) */
    size_t body_total;     /* request body bytes buffered, all streams */
    struct buf *out;       /* during h2_session_send: where send_data writes */
    size_t out_start;      /* ... and its length when that call began */
    int send_rc;           /* send_data's failure (-ENOMEM, BERTH_ETOOBIG) */
    struct h2_pool own;    /* nghttp2's small blocks, kept for reuse ... */
    struct h2_pool *pool;  /* ... here, or in the worker's (h2_conf.pool) */
    struct h2_heads heads; /* answer heads converted lately (h2_head) */
    struct h2_guard guard; /* RFC 9113 rules nghttp2 leaves to us (h2_guard) */
    const char *error;
    int nws; /* streams that carry a WebSocket not yet ended (http/h2_ws) */
};

/* The stream whose frames are being received is the one asked for most
 * (each of its fields, its end, its answer): no map lookup for it. */
static inline struct h2_stream *stream_of(struct h2_session *s, int32_t id)
{
    if (s->cur && s->cur->id == id) return s->cur;
    return nghttp2_session_get_stream_user_data(s->ng, id);
}

#endif
