/* h2live — a live exchange's answer (http/live) as an h2 stream's DATA:
 * what nghttp2's data provider asks for (sized, deferred while the program
 * has queued nothing, the end with trailers) and the bytes copied into the
 * frames.  http/h2 calls these for a stream answered by h2_respond_live. */
#ifndef BERTH_HTTP_H2LIVE_H
#define BERTH_HTTP_H2LIVE_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct live;

/* The data provider: the size of the next frame's payload (at most length,
 * NGHTTP2_DATA_FLAG_NO_COPY set), NGHTTP2_ERR_DEFERRED while nothing is
 * queued (the connection resumes the stream when the program queues more),
 * or 0 with EOF once the answer ended — the trailers, if any, submitted
 * (and NO_END_STREAM set: they end the stream). */
ssize_t h2live_read(nghttp2_session *ng, int32_t id, struct live *lv, size_t length,
                    uint32_t *flags);
/* Copies the next length queued bytes to p (what h2live_read sized).  0, or
 * -1 when a file region cannot be read. */
int h2live_copy(struct live *lv, char *p, size_t length);

/* Whether lv's streamed body is paused; delivers a piece (or the end) to
 * its on_body. */
int h2live_paused(struct live *lv);
void h2live_body(struct live *lv, const char *p, size_t n, int end);

#endif
