/* h2live — a live exchange's answer as DATA frames (contract in h2live.h). */
#include "http/h2live.h"

#include "http/live.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define NV_TRAILERS 32

/* The trailer lines "Name: value\r\n" as nghttp2 pairs (names lower-cased
 * by nghttp2's copy); the count. */
static size_t trailer_nv(const struct buf *t, nghttp2_nv *nv, size_t cap)
{
    size_t n = 0;
    const char *p = buf_head(t), *end = p ? p + buf_len(t) : p;
    while (p && p < end && n < cap) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *eol = colon ? memchr(colon, '\r', (size_t)(end - colon)) : NULL;
        if (!eol) break;
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        nv[n++] = (nghttp2_nv){(uint8_t *)(uintptr_t)p, (uint8_t *)(uintptr_t)v,
                               (size_t)(colon - p), (size_t)(eol - v), NGHTTP2_NV_FLAG_NONE};
        p = eol + 2;
    }
    return n;
}

ssize_t h2live_read(nghttp2_session *ng, int32_t id, struct live *lv, size_t length,
                    uint32_t *flags)
{
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    pthread_mutex_lock(&lv->mu);
    size_t avail = 0;
    for (struct seg *s = lv->first; s && avail < length; s = s->next)
        avail += s->fd >= 0 ? (size_t)(s->end - s->off) : s->len;
    ssize_t rc;
    if (avail) {
        rc = (ssize_t)(avail < length ? avail : length);
    } else if (lv->ended || lv->gone) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        nghttp2_nv nv[NV_TRAILERS];
        size_t n = trailer_nv(&lv->trailers, nv, NV_TRAILERS);
        /* nghttp2 copies the pairs: the lock guards lv->trailers meanwhile */
        if (n && nghttp2_submit_trailer(ng, id, nv, n) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        lv->tail_out = 1;
        rc = 0;
    } else {
        rc = NGHTTP2_ERR_DEFERRED;
    }
    pthread_mutex_unlock(&lv->mu);
    return rc;
}

int h2live_copy(struct live *lv, char *p, size_t length)
{
    struct seg *done = NULL;
    int rc = 0;
    pthread_mutex_lock(&lv->mu);
    while (length && lv->first) {
        struct seg *s = lv->first;
        size_t k;
        if (s->fd >= 0) {
            uint64_t left = s->end - s->off;
            k = left < length ? (size_t)left : length;
            ssize_t r = pread(s->fd, p, k, (off_t)s->off);
            if (r <= 0) {
                rc = -1;
                break;
            }
            k = (size_t)r;
            s->off += k;
        } else {
            k = s->len < length ? s->len : length;
            memcpy(p, s->p, k);
            s->p += k;
            s->len -= k;
        }
        lv->queued -= k;
        lv->sent += k;
        p += k;
        length -= k;
        if ((s->fd >= 0 && s->off == s->end) || (s->fd < 0 && !s->len)) {
            lv->first = s->next;
            if (!lv->first) lv->last = NULL;
            s->next = done;
            done = s;
        }
    }
    pthread_mutex_unlock(&lv->mu);
    while (done) { /* release callbacks run without the lock */
        struct seg *next = done->next;
        live_seg_free(done);
        done = next;
    }
    return length ? -1 : rc;
}

int h2live_paused(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    int p = lv->paused;
    pthread_mutex_unlock(&lv->mu);
    return p;
}

void h2live_body(struct live *lv, const char *p, size_t n, int end)
{
    if (lv->body_done) return;
    lv->body_done = (uint8_t)(end != 0);
    if (!live_held(lv)) return; /* the program let go (it answered): read and dropped */
    lv->in_cb = 1;
    lv->on_body(&lv->q, p, n, end, lv->route_arg);
    lv->in_cb = 0;
}
