/* h2_guard — the RFC 9113 rules a server session must keep that nghttp2
 * 1.52, as berth configures it, leaves unchecked:
 *
 * - HEADERS on a stream identifier the client skipped (§5.1.1: identifiers
 *   only grow; opening a stream closes every idle one below it) is a
 *   connection error PROTOCOL_ERROR.  nghttp2 ignores HEADERS on any stream
 *   it does not hold, and it never held a skipped one.  The guard keeps the
 *   highest client stream and the last H2_GUARD_HOLES ranges skipped.
 *   (Closed streams are nghttp2's: it keeps the last
 *   SETTINGS_MAX_CONCURRENT_STREAMS of them, so HEADERS or DATA after the
 *   client ended or reset one is a connection error STREAM_CLOSED, and what
 *   comes on a stream the server reset is ignored, as §5.1 asks.)
 * - PRIORITY on stream 0 is a connection error PROTOCOL_ERROR (§6.3):
 *   nghttp2 skips PRIORITY payloads, and its stream-0 check with them, in
 *   a session that sent SETTINGS_NO_RFC7540_PRIORITIES (berth does not;
 *   the check costs nothing and keeps the rule whatever the settings).
 * - A SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's send window
 *   past 2^31-1 is a connection error FLOW_CONTROL_ERROR (§6.9.2); nghttp2
 *   resets only that stream.
 *
 * Plain state beside a session: no allocation, one session's, one thread's. */
#ifndef BERTH_HTTP_H2_GUARD_H
#define BERTH_HTTP_H2_GUARD_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>

#define H2_GUARD_HOLES 4 /* ranges of skipped identifiers remembered */

struct h2_guard {
    int32_t max_id;                  /* the highest client stream whose HEADERS came */
    int32_t hole[H2_GUARD_HOLES][2]; /* skipped identifiers, first and last */
    unsigned nholes;                 /* ... how many were recorded (the last kept) */
    int64_t win_max;                 /* at a SETTINGS' start: the largest stream window */
    int32_t win_init;                /* ... and the peer's initial window size */
};

/* Zeroes g for a new session. */
void h2_guard_init(struct h2_guard *g);

/* A frame header arrived (nghttp2's on_begin_frame).  0: nghttp2 goes on
 * with it; else the error code of a connection error, *why saying why (the
 * caller terminates the session).  For a SETTINGS frame the caller sets
 * win_max / win_init instead. */
uint32_t h2_guard_begin(struct h2_guard *g, nghttp2_session *ng, const nghttp2_frame_hd *hd,
                        const char **why);

/* A SETTINGS frame was applied (on_frame_recv): 0, or FLOW_CONTROL_ERROR
 * when it took a stream window past 2^31-1 (§6.9.2). */
uint32_t h2_guard_settings(const struct h2_guard *g, const nghttp2_settings *f);

#endif
