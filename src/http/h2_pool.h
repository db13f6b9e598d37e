/* h2_pool — the memory h2 sessions reuse: the allocator a session gives
 * nghttp2 (small blocks up to 1 KiB, by size class, so a request costs no
 * malloc of nghttp2's in the steady state) and a shelf of answers' body
 * storage.  A pool is a session's own (32 KiB of blocks at most), or shared
 * by the sessions of one worker (h2_conf.pool): then what one connection
 * frees the next one takes while it is still in the cache, where a
 * session's own blocks and buffers went cold while the worker served the
 * other connections.  One thread's: not thread-safe. */
#ifndef BERTH_HTTP_H2_POOL_H
#define BERTH_HTTP_H2_POOL_H

#include "buf.h"

#include <nghttp2/nghttp2.h>
#include <stddef.h>

#define POOL_STEP        64          /* size classes of 64 bytes */
#define POOL_CLASSES     16          /* ... up to 1 KiB */
#define POOL_BYTES       (32 << 10)  /* blocks kept for reuse by a session's own pool */
#define POOL_SHARED      (256 << 10) /* ... by a worker's pool (h2_pool_shared) */
#define POOL_SHELF       16          /* body storage kept (a batch of answers) */
#define POOL_SHELF_BYTES (16 << 10)  /* ... each no larger than this */
#define POOL_STREAMS     64          /* a session's stream objects kept (http/h2) */

struct h2_pool {
    void *cls[POOL_CLASSES]; /* freed blocks, by class */
    size_t bytes;
    size_t max; /* bytes of blocks kept at most; 0: POOL_BYTES */
    size_t nshelf;
    struct {
        char *p;
        size_t cap;
    } shelf[POOL_SHELF]; /* body storage, the last put on top */
    /* http/h2's spare streams (opaque here): a list it links, POOL_STREAMS
     * at most, and what frees the list */
    void *streams;
    size_t nstreams;
    void (*release)(void *streams);
};

/* The nghttp2_mem that allocates through p (zeroed before first use). */
void h2_pool_mem(struct h2_pool *p, nghttp2_mem *mem);
/* A pool zeroed, sized for a worker's sessions; NULL when out of memory.
 * Free it (h2_pool_free, then free) after the last of them. */
struct h2_pool *h2_pool_shared(void);
/* b (empty, without storage) gets the storage put on the shelf last, if any. */
void h2_pool_shelf_get(struct h2_pool *p, struct buf *b);
/* b's storage (b empty) onto the shelf, leaving b without; kept by b when
 * the shelf is full or the storage larger than POOL_SHELF_BYTES. */
void h2_pool_shelf_put(struct h2_pool *p, struct buf *b);
/* Frees the blocks, storage and streams kept. */
void h2_pool_free(struct h2_pool *p);

#endif
