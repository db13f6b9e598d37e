#include "frame.h"

#include "err.h"

#include <string.h>

void frame_init(struct frame_dec *d, enum frame_kind kind, size_t arg, size_t max)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->size = arg;
    d->max = max;
}

void frame_init_delim(struct frame_dec *d, const char *delim, size_t delim_len, size_t max)
{
    frame_init(d, FRAME_DELIM, 0, max);
    d->delim = delim;
    d->delim_len = delim_len;
}

static ssize_t need(const struct frame_dec *d, size_t n, int eof)
{
    (void)d;
    return eof && n > 0 ? BERTH_EOF : 0;
}

static ssize_t prefixed(struct frame_dec *d, const char *p, size_t n, int eof, const char **msg,
                        size_t *msg_len)
{
    size_t hl = d->kind == FRAME_LEN16 ? 2 : 4;
    if (n < hl) return need(d, n, eof);
    const unsigned char *u = (const unsigned char *)p;
    size_t len = hl == 2 ? (size_t)u[0] << 8 | u[1]
                         : (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    /* refuse before waiting for bytes a prefix merely claims */
    if (d->max && len > d->max) return BERTH_ETOOBIG;
    if (n - hl < len) return need(d, n, eof);
    *msg = p + hl;
    *msg_len = len;
    return (ssize_t)(hl + len);
}

/* With no delimiter in p[0..n) and n > max: a message of at most max bytes
 * is still possible only if a delimiter starts at some k <= max, i.e. p[k..n)
 * is a prefix of it.  Refusing as soon as that is impossible keeps a peer
 * that never sends the delimiter from making us buffer max + delim_len. */
static int may_fit(const struct frame_dec *d, const char *p, size_t n)
{
    size_t dl = d->delim_len;
    for (size_t k = n - dl < n ? n - dl + 1 : 0; k <= d->max; k++)
        if (!memcmp(p + k, d->delim, n - k)) return 1;
    return 0;
}

static ssize_t delimited(struct frame_dec *d, const char *p, size_t n, int eof, const char **msg,
                         size_t *msg_len)
{
    size_t dl = d->delim_len;
    if (dl == 0) return BERTH_EUSAGE; /* every position would be a boundary */
    /* resume where the last call stopped, backing up so a delimiter split
     * across two reads is still found; a caller that hands over fewer bytes
     * than last time (against the contract) gets a fresh scan, not a wild
     * read */
    size_t from = d->scanned > dl - 1 ? d->scanned - (dl - 1) : 0;
    if (from > n) from = 0;
    if (n >= dl) {
        const char *hit = memmem(p + from, n - from, d->delim, dl);
        if (hit) {
            size_t len = (size_t)(hit - p);
            d->scanned = 0;
            if (d->max && len > d->max) return BERTH_ETOOBIG;
            *msg = p;
            *msg_len = len;
            return (ssize_t)(len + dl);
        }
    }
    d->scanned = n;
    if (d->max && n > d->max && !may_fit(d, p, n)) return BERTH_ETOOBIG;
    return need(d, n, eof);
}

ssize_t frame_decode(struct frame_dec *d, const char *p, size_t n, int eof, const char **msg,
                     size_t *msg_len)
{
    switch (d->kind) {
    case FRAME_FIXED:
        if (d->max && d->size > d->max) return BERTH_ETOOBIG;
        if (n < d->size || d->size == 0) return need(d, n, eof);
        *msg = p;
        *msg_len = d->size;
        return (ssize_t)d->size;
    case FRAME_DELIM:
        return delimited(d, p, n, eof, msg, msg_len);
    case FRAME_LEN16:
    case FRAME_LEN32:
        return prefixed(d, p, n, eof, msg, msg_len);
    case FRAME_CLOSE:
        if (d->max && n > d->max) return BERTH_ETOOBIG;
        if (!eof || n == 0) return 0;
        *msg = p;
        *msg_len = n;
        return (ssize_t)n;
    }
    return BERTH_EUSAGE;
}

int frame_put_len(enum frame_kind kind, size_t len, uint8_t out[4])
{
    if (kind == FRAME_LEN16) {
        if (len > 0xffff) return BERTH_ETOOBIG;
        out[0] = (uint8_t)(len >> 8);
        out[1] = (uint8_t)len;
        return 2;
    }
    if (kind != FRAME_LEN32) return BERTH_EUSAGE;
    if (len > 0xffffffffu) return BERTH_ETOOBIG;
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
}
