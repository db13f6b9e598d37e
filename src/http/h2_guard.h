/* h2_guard — the RFC 9113 rules a server session must keep that nghttp2
 * 1.52, as berth configures it, leaves unchecked:
 *
 * - HEADERS on a closed stream (§5.1, §5.1.1).  nghttp2 ignores HEADERS on
 *   any stream it no longer holds: it keeps the last closed streams only
 *   (SETTINGS_MAX_CONCURRENT_STREAMS of them, none at all in a session that
 *   sent SETTINGS_NO_RFC7540_PRIORITIES), and no identifier the client
 *   skipped.  The guard remembers, for the last H2_GUARD_IDS
 *   client streams, which ones opened and which ones the server reset: a
 *   HEADERS on a stream that opened, closed, and was not reset by the server
 *   is a connection error STREAM_CLOSED; on an identifier the client skipped
 *   (§5.1.1: identifiers only grow) PROTOCOL_ERROR.  What comes on a stream
 *   the server reset is ignored, as §5.1 asks (it may have been in flight);
 *   so is everything on older streams and after the server's GOAWAY.
 *   (DATA on a closed stream never reaches the application: nghttp2 drops
 *   it before on_begin_frame, or ends the connection itself while it keeps
 *   the stream.)
 * - PRIORITY on stream 0 is a connection error PROTOCOL_ERROR (§6.3):
 *   nghttp2 skips PRIORITY payloads once SETTINGS_NO_RFC7540_PRIORITIES is 1,
 *   and its stream-0 check with them (berth sends it no more; the check
 *   stays, costing nothing).
 * - A SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's send window
 *   past 2^31-1 is a connection error FLOW_CONTROL_ERROR (§6.9.2); nghttp2
 *   resets only that stream.
 *
 * Plain state beside a session: no allocation, one session's, one thread's. */
#ifndef BERTH_HTTP_H2_GUARD_H
#define BERTH_HTTP_H2_GUARD_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>

#define H2_GUARD_IDS   1024 /* client streams remembered (a bit each) */
#define H2_GUARD_HOLES 4    /* ranges of skipped identifiers remembered */

struct h2_guard {
    int32_t max_id;                     /* the highest client stream whose HEADERS came */
    uint64_t opened[H2_GUARD_IDS / 64]; /* by (id / 2) % H2_GUARD_IDS: the stream opened */
    uint64_t reset[H2_GUARD_IDS / 64];  /* ... the server reset it */
    int32_t hole[H2_GUARD_HOLES][2];    /* skipped identifiers, first and last */
    unsigned nholes;                    /* ... how many were recorded (the last kept) */
    int off;                            /* the server sent GOAWAY: nghttp2 alone decides */
    int64_t win_max;                    /* at a SETTINGS' start: the largest stream window */
    int32_t win_init;                   /* ... and the peer's initial window size */
};

/* Zeroes g for a new session. */
void h2_guard_init(struct h2_guard *g);

/* A frame header arrived (nghttp2's on_begin_frame).  0: nghttp2 goes on
 * with it (a stream error may have been queued); else the error code of a
 * connection error, *why saying why (the caller terminates the session).
 * For a SETTINGS frame the caller sets win_max / win_init first. */
uint32_t h2_guard_begin(struct h2_guard *g, nghttp2_session *ng, const nghttp2_frame_hd *hd,
                        const char **why);

/* nghttp2 opened client stream id (on_begin_headers). */
void h2_guard_opened(struct h2_guard *g, int32_t id);

/* A SETTINGS frame was applied (on_frame_recv): 0, or FLOW_CONTROL_ERROR
 * when it took a stream window past 2^31-1 (§6.9.2). */
uint32_t h2_guard_settings(const struct h2_guard *g, const nghttp2_settings *f);

/* A frame went out (on_frame_send): a RST_STREAM is remembered, a GOAWAY
 * turns the guard off. */
void h2_guard_sent(struct h2_guard *g, const nghttp2_frame *f);

#endif
