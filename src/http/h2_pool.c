/* h2_pool — nghttp2's small blocks kept for reuse (contract in h2_pool.h). */
#include "http/h2_pool.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* nghttp2's allocator.  A request costs it five or so small blocks (the
 * stream, queued frames, the copied fields) that glibc's per-thread cache
 * overflows with many streams in flight: freed blocks up to 1 KiB are kept
 * (p->max bytes at most) and handed out again, the last freed first. */
union pool_hdr {
    struct {
        size_t cls; /* size class, POOL_CLASSES: an unpooled block */
        size_t cap; /* bytes usable after the header */
    } h;
    max_align_t align;
};

static void *pool_malloc(size_t size, void *user)
{
    struct h2_pool *s = user;
    size_t cls = size ? (size - 1) / POOL_STEP : 0;
    union pool_hdr *h;
    if (cls < POOL_CLASSES && s->cls[cls]) {
        h = s->cls[cls];
        memcpy(&s->cls[cls], h + 1, sizeof(void *)); /* the next free block */
        s->bytes -= h->h.cap;
        return h + 1;
    }
    size_t cap = cls < POOL_CLASSES ? (cls + 1) * POOL_STEP : size;
    if (cap > SIZE_MAX - sizeof *h || !(h = malloc(sizeof *h + cap))) return NULL;
    h->h.cls = cls < POOL_CLASSES ? cls : POOL_CLASSES;
    h->h.cap = cap;
    return h + 1;
}

static void pool_free(void *p, void *user)
{
    struct h2_pool *s = user;
    if (!p) return;
    union pool_hdr *h = (union pool_hdr *)p - 1;
    if (h->h.cls >= POOL_CLASSES || s->bytes + h->h.cap > (s->max ? s->max : POOL_BYTES)) {
        free(h);
        return;
    }
    memcpy(p, &s->cls[h->h.cls], sizeof(void *));
    s->cls[h->h.cls] = h;
    s->bytes += h->h.cap;
}

static void *pool_calloc(size_t n, size_t size, void *user)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = pool_malloc(n * size, user);
    if (p) memset(p, 0, n * size);
    return p;
}

static void *pool_realloc(void *p, size_t size, void *user)
{
    if (!p) return pool_malloc(size, user);
    union pool_hdr *h = (union pool_hdr *)p - 1;
    if (size <= h->h.cap) return p;
    void *q = pool_malloc(size, user);
    if (!q) return NULL;
    memcpy(q, p, h->h.cap);
    pool_free(p, user);
    return q;
}

void h2_pool_mem(struct h2_pool *p, nghttp2_mem *mem)
{
    *mem = (nghttp2_mem){p, pool_malloc, pool_free, pool_calloc, pool_realloc};
}

struct h2_pool *h2_pool_shared(void)
{
    struct h2_pool *p = calloc(1, sizeof *p);
    if (p) p->max = POOL_SHARED;
    return p;
}

void h2_pool_shelf_get(struct h2_pool *p, struct buf *b)
{
    if (!p->nshelf || b->data) return;
    p->nshelf--;
    b->data = p->shelf[p->nshelf].p;
    b->cap = p->shelf[p->nshelf].cap;
    b->off = b->len = 0;
}

void h2_pool_shelf_put(struct h2_pool *p, struct buf *b)
{
    if (b->len || !b->data || p->nshelf == POOL_SHELF || b->cap > POOL_SHELF_BYTES) return;
    p->shelf[p->nshelf].p = b->data;
    p->shelf[p->nshelf].cap = b->cap;
    p->nshelf++;
    b->data = NULL;
    b->off = b->cap = 0;
}

void h2_pool_free(struct h2_pool *p)
{
    while (p->nshelf)
        free(p->shelf[--p->nshelf].p);
    if (p->streams) p->release(p->streams);
    p->streams = NULL;
    p->nstreams = 0;
    for (size_t i = 0; i < POOL_CLASSES; i++)
        while (p->cls[i]) {
            union pool_hdr *h = p->cls[i];
            memcpy(&p->cls[i], h + 1, sizeof(void *));
            free(h);
        }
    p->bytes = 0;
}
