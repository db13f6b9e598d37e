/* h2_ws — a WebSocket on an HTTP/2 stream (RFC 8441): the h2 carrier of a
 * ws_session (struct ws_io).  After the extended CONNECT's 200 the stream's
 * DATA carries WebSocket frames both ways (§5): input from the DATA as it
 * comes, the stream window granted as the session takes it (held while it
 * pauses: the peer's backpressure); output through a deferred data
 * provider resumed when frames are queued, nghttp2's flow control deciding
 * how fast they leave (the sender's backpressure: berth_ws_buffered).  The
 * ends map to TCP's (§6): END_STREAM is the orderly end either way, an
 * RST_STREAM (CANCEL) the abrupt one.  The stream owns the session: it is
 * freed when the stream closes or the connection ends. */
#ifndef BERTH_HTTP_H2_WS_H
#define BERTH_HTTP_H2_WS_H

#include <stddef.h>
#include <stdint.h>

struct berth_ws;
struct h2_session;
struct h2_stream;

/* Answers stream_id with head (HTTP/1.1 form, a 200) and puts ws on the
 * stream, then starts it (open).  0; -ENOENT when the stream is gone (ws is
 * freed then, as on any failure), or a negative code. */
int h2_ws_respond(struct h2_session *s, int32_t stream_id, const char *head, size_t len,
                  struct berth_ws *ws);
/* Whether s carries a WebSocket not yet ended (the connection's idle
 * timeout waits meanwhile). */
int h2_ws_any(const struct h2_session *s);
/* Every WebSocket of s says 1001 (going away) and closes (the drain). */
void h2_ws_stop(struct h2_session *s);

/* http/h2's side (inside nghttp2's callbacks): DATA of st, its END_STREAM,
 * the bytes of a DATA frame sized by the provider, the stream's end. */
int h2_ws_data(struct h2_session *s, struct h2_stream *st, const uint8_t *p, size_t n);
void h2_ws_eof(struct h2_session *s, struct h2_stream *st);
void h2_ws_copy(struct h2_stream *st, char *p, size_t n);
void h2_ws_free(struct h2_session *s, struct h2_stream *st);
/* The session ends: every WebSocket's close callback, none written to. */
void h2_ws_free_all(struct h2_session *s);

#endif
