/* h2 — the server side of one HTTP/2 connection, in memory: bytes in,
 * requests out through a callback, answers in, bytes out.  No socket, no
 * event loop, no clock: the connection layer (http/conn) moves the bytes over
 * a plain or TLS transport, and tests and the fuzzer drive it directly.
 * Framing, HPACK, flow control, stream states and RFC 9113 §8's checks are
 * libnghttp2's (1.52 API); this module is the glue: it turns a stream's
 * fields into the struct http_request the HTTP/1.1 parser fills, and the
 * HTTP/1.1-form answer that static, resp and the API build into HEADERS and
 * DATA.
 *
 * Requests: version is 20 (HTTP/2; treat it like 11 where only "1.1 or
 * newer" matters), keep_alive 1, chunked 0, expect_continue 0; method,
 * target/path (origin form, or "*" for OPTIONS), host (:authority, else Host)
 * and the If-* / Range views as the h1 parser sets them; headers[] holds the
 * regular fields with lower-case names as received (Cookie fields joined).
 * content_length is the field's value, or the body's length when DATA came
 * without one, -1 without a body.  Every view stays valid until the stream
 * ends (h2_respond may be called from inside on_request, or later).
 *
 * Refused requests are answered here, never reach on_request, and are told to
 * on_reject (for the log): 501 (an extended CONNECT whose :protocol is not
 * websocket, RFC 9220 section 3), 400 (CONNECT without :protocol, a
 * repeated Host / If-* / Range, a Host other than :authority, a target that
 * is not origin form), 431 (header
 * list over max_header or more than max_headers fields), 413 (body over
 * max_body, answered as soon as it is known).  What RFC 9113 §8 calls
 * malformed (missing or repeated pseudo fields, upper-case names,
 * connection-specific fields, TE other than "trailers", a Content-Length the
 * DATA does not match) is a stream error (RST_STREAM PROTOCOL_ERROR) from
 * nghttp2.
 *
 * With conf.ws, an extended CONNECT with :protocol websocket (RFC 8441)
 * reaches on_request at its HEADERS, as a GET of its :path with
 * req->protocol set; the answer that makes the stream a WebSocket is
 * h2_ws_respond's (http/h2_ws).
 *
 * Bounds: at most max_streams open streams (more are refused); request
 * bodies buffered on one connection at most 4 x max_body together (a stream
 * that would pass it is reset with REFUSED_STREAM); response bodies are read
 * (memory, then pread of the file) only as far as the peer's window allows;
 * floods of SETTINGS / PING (unanswered acks over 1000), rapid resets (a
 * token bucket: 1000, +33/s) and CONTINUATION chains (over 8) end the
 * connection with GOAWAY. */
#ifndef BERTH_HTTP_H2_H
#define BERTH_HTTP_H2_H

#include "buf.h"
#include "http/parse.h"
#include "http/static.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct h2_conf {
    uint32_t max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS; 0: 100 */
    size_t max_header;    /* header list size (name + value + 32 per field); 0: 16384 */
    size_t max_headers;   /* regular fields per request; 0: 100 */
    uint64_t max_body;    /* request body; 0: 1 MiB */
    uint32_t window;      /* SETTINGS_INITIAL_WINDOW_SIZE for request bodies; 0: 65535 */
    int preface_consumed; /* the 24-byte client preface was already read (h2c detection) */
    /* SETTINGS_ENABLE_CONNECT_PROTOCOL = 1: extended CONNECT (RFC 8441) is
     * accepted, :protocol websocket handed on as a GET (http/h2_ws) */
    int ws;
    /* memory shared with the other sessions of the thread (http/h2_pool:
     * h2_pool_shared); it must outlive them.  NULL: the session's own */
    struct h2_pool *pool;
};

struct live;
struct h2_pool;

struct h2_ops {
    /* A complete request on stream_id; answer it with h2_respond (now or
     * later).  body is the whole request body (NULL, 0 without one). */
    void (*on_request)(void *owner, int32_t stream_id, const struct http_request *req,
                       const char *body, size_t body_len);
    /* Optional: a request this module answered itself with status. */
    void (*on_reject)(void *owner, int32_t stream_id, int status, const char *why);
    /* Optional: the stream of a live answer (h2_respond_live) closed; whole:
     * it ended normally (else the peer reset it or the session ended). */
    void (*on_live_end)(void *owner, struct live *lv, int whole);
    /* Optional: a request head whose body is still to come.  It may lower
     * or raise *limit (the body's, max_body to begin with), or start a live
     * exchange (*lv) whose body then goes to its on_body as DATA arrives
     * (http/h2live), held while it is paused (the stream's window is not
     * granted meanwhile); on_request is then not called. */
    void (*on_head)(void *owner, int32_t stream_id, const struct http_request *req, uint64_t *limit,
                    struct live **lv);
};

struct h2_session;

/* 0 and *out, or -ENOMEM.  The server's SETTINGS are queued at once. */
int h2_session_new(struct h2_session **out, const struct h2_conf *conf, const struct h2_ops *ops,
                   void *owner);
/* Releases the session and every stream's transfer. */
void h2_session_free(struct h2_session *s);

/* Feeds n bytes read from the peer.  0, or a connection error: BERTH_EPROTO
 * (the peer broke the protocol or flooded; a GOAWAY is queued: send what
 * h2_session_send gives, then close) or -ENOMEM.  h2_error() says why. */
int h2_session_recv(struct h2_session *s, const char *p, size_t n);

/* Answers stream_id.  resp is an HTTP/1.1 response as the protocol-agnostic
 * code builds it: status line, field lines, blank line, then any in-memory
 * body; x (NULL or fd < 0: none) a file transfer the stream now owns (ended
 * with static_xfer_end when the stream ends, is reset, or the call fails).
 * Connection-specific fields (Connection, Keep-Alive, Transfer-Encoding,
 * Upgrade, Proxy-Connection) are dropped, names lower-cased; the body goes
 * out as given (no answer builder chunks one).  HEAD answers, 204 and 304
 * carry no DATA.  0; -ENOENT when the stream is gone (the peer
 * reset it) or already answered; BERTH_EPROTO for a head that is not
 * HTTP/1.1 form; -ENOMEM. */
int h2_respond(struct h2_session *s, int32_t stream_id, const char *resp, size_t len,
               struct http_xfer *x);

/* h2_respond for an answer that is the whole of resp, whose storage the
 * stream may take for the body instead of copying it (resp is then empty,
 * with other storage or none: clear it after the call either way). */
int h2_respond_buf(struct h2_session *s, int32_t stream_id, struct buf *resp, struct http_xfer *x);

/* Answers stream_id with the head (HTTP/1.1 form, as h2_respond) of a live
 * exchange whose body (body != 0) comes from its queue as the program
 * fills it (http/h2live): DATA while there is some, deferred while there
 * is none (h2_resume), the end with trailers.  1 with a body, 0 without
 * (HEAD: the stream ends with the head), -ENOENT when the stream is gone,
 * or a negative code. */
int h2_respond_live(struct h2_session *s, int32_t stream_id, const char *head, size_t len,
                    struct live *lv, int body);
/* The streamed body of stream_id was resumed: what was held goes to
 * on_body, and the window opens again. */
void h2_body_resume(struct h2_session *s, int32_t stream_id);
/* The live answer of stream_id has more queued, or ended. */
int h2_resume(struct h2_session *s, int32_t stream_id);

/* Appends what the session has to send to out, about 256 KiB at most per
 * call so one connection cannot starve others.  The count appended, or a
 * negative code (-ENOMEM, BERTH_EPROTO). */
ssize_t h2_session_send(struct h2_session *s, struct buf *out);

/* Whether the session wants more input / has output.  The connection is done
 * when neither holds.  While the transport cannot take output, stop reading
 * (the flood limits count acks not yet sent). */
int h2_want_read(const struct h2_session *s);
int h2_want_write(const struct h2_session *s);

/* Graceful drain: GOAWAY(NO_ERROR) naming the last stream taken; open
 * streams complete, new ones are refused. */
int h2_shutdown(struct h2_session *s);

/* Why the last connection error happened ("" when none). */
const char *h2_error(const struct h2_session *s);

#endif
