/* h2_head — an answer's HTTP/1.1 head (status line, field lines, blank
 * line: what static, resp and the API build for every protocol) as the
 * nghttp2 name/value pairs of its HEADERS: ":status" first, then the fields
 * in order, connection-specific ones (Connection, Keep-Alive,
 * Transfer-Encoding, Upgrade, Proxy-Connection; RFC 9113 §8.2.2) dropped.
 *
 * A session answers the same head many times (a static file's differs only
 * when its Date second or the file changes), so the last few heads converted
 * are kept (struct h2_heads): a head equal byte for byte to one kept gets
 * that one's pairs, names already lower-cased and flagged
 * NGHTTP2_NV_FLAG_NO_COPY_NAME | NO_COPY_VALUE, so neither this module nor
 * nghttp2 scans or copies its bytes again.  nghttp2 reads such pairs until it
 * has sent the HEADERS frame, so a kept head is replaced only after
 * h2_heads_idle() (no frame queued any more); until then a new head is
 * converted into the caller's array, flagged for nghttp2 to copy.  One
 * session's, one thread's. */
#ifndef BERTH_HTTP_H2_HEAD_H
#define BERTH_HTTP_H2_HEAD_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>

#define H2_HEAD_SLOTS 4

struct h2_head_slot;

struct h2_heads {
    struct h2_head_slot *slot[H2_HEAD_SLOTS]; /* most recently used first; NULL: unused */
};

/* Splits the head at the start of r[0..len) into nv[0..cap) (pairs pointing
 * into r, for nghttp2 to copy and lower-case).  The count, *hl the head's
 * length (blank line included); -1 for a head that is not HTTP/1.1 form or
 * incomplete, -2 for more than cap fields. */
int h2_head_nv(const char *r, size_t len, nghttp2_nv *nv, size_t cap, size_t *hl);

/* The pairs of the head at the start of r[0..len): a kept head's (*out
 * points into h, valid until h2_heads_idle and the next call), else those
 * h2_head_nv puts into nv (*out = nv), the head then kept when a slot is
 * free.  Returns as h2_head_nv. */
int h2_heads_get(struct h2_heads *h, const char *r, size_t len, nghttp2_nv *nv, size_t cap,
                 const nghttp2_nv **out, size_t *hl);

/* No frame queued in the session refers to kept pairs any more: every slot
 * may be replaced. */
void h2_heads_idle(struct h2_heads *h);

/* Frees what h keeps (zeroed struct afterwards). */
void h2_heads_free(struct h2_heads *h);

#endif
