/* h2_pool — the allocator an h2 session gives nghttp2: small blocks (up to
 * 1 KiB, by size class) kept per session for reuse, 32 KiB at most, so a
 * request costs no malloc of nghttp2's in the steady state.  One session's,
 * one thread's: not thread-safe. */
#ifndef BERTH_HTTP_H2_POOL_H
#define BERTH_HTTP_H2_POOL_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>

#define POOL_STEP    64         /* size classes of 64 bytes */
#define POOL_CLASSES 16         /* ... up to 1 KiB */
#define POOL_BYTES   (32 << 10) /* kept for reuse per session, at most */

struct h2_pool {
    void *cls[POOL_CLASSES]; /* freed blocks, by class */
    size_t bytes;
};

/* The nghttp2_mem that allocates through p (zeroed before first use). */
void h2_pool_mem(struct h2_pool *p, nghttp2_mem *mem);
/* Frees the blocks kept. */
void h2_pool_free(struct h2_pool *p);

#endif
