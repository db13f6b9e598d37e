/* compress — a file's bytes compressed with br, zstd or gzip, once per file
 * version and coding, and a worker's bounded cache of the results.
 *
 * Levels are chosen for results that are kept and served many times, at
 * the knee of size against time (measured on 64 KiB and 1 MiB of HTML/JS,
 * docs/ARCHITECTURE.md "Content encoding"): brotli 6, zstd 9, gzip 6 (the
 * gzip file format, RFC 1952).  Only files from COMPRESS_MIN to
 * COMPRESS_MAX bytes are compressed, on the worker's loop: the largest costs
 * a few milliseconds once; larger files are served as they are unless a
 * precompressed sidecar exists.  A result not smaller than the file is not
 * kept (the caller remembers that and asks no more).
 *
 * The cache is a worker's own (no locks): entries keyed by the file version
 * (device, inode, size, mtime) and coding, evicted least recently used first
 * so their bytes stay within the budget.  A result of up to 32 KiB is kept
 * in memory and copied into the answer; a larger one in a sealed memfd, sent
 * by sendfile like a large file from a dup of the descriptor, so a slow
 * client holds no copy and eviction never pulls bytes from under a
 * transfer. */
#ifndef BERTH_HTTP_COMPRESS_H
#define BERTH_HTTP_COMPRESS_H

#include "http/encoding.h"

#include <stddef.h>
#include <stdint.h>

#define COMPRESS_MIN   256          /* below: the added fields eat the gain */
#define COMPRESS_MAX   (256 * 1024) /* above: too long to block the loop for */
#define COMPRESS_SMALL (32 * 1024)  /* results up to this stay in memory */

/* The file version and coding a result belongs to. */
struct ckey {
    uint64_t dev, ino, size;
    int64_t sec;
    long nsec;
    int enc;
};

/* A cached result: bytes in memory (fd -1) or a memfd of len bytes whose
 * mtime is given (what a transfer checks it against). */
struct citem {
    const char *bytes;
    int fd;
    uint64_t len;
    int64_t mtime_sec;
    long mtime_nsec;
};

struct ccache;

/* A cache of at most budget bytes of results (NULL: out of memory). */
struct ccache *ccache_new(size_t budget);
void ccache_free(struct ccache *c);

/* The result for k, made more recent; NULL when not cached.  Valid until
 * the next ccache_make. */
const struct citem *ccache_get(struct ccache *c, const struct ckey *k);

/* Compresses in[0..n) with k->enc (text: brotli's text mode) and keeps the
 * result, evicting older ones.  NULL with *err: -ENOSPC the result is not
 * smaller than the input, -E2BIG it is larger than the whole budget,
 * -ENOMEM / -EMFILE resources. */
const struct citem *ccache_make(struct ccache *c, const struct ckey *k, const void *in, size_t n,
                                int text, int *err);

/* What the cache holds now, and how many results it made in all (each a
 * compression): safe from any thread (relaxed loads). */
void ccache_stats(const struct ccache *c, uint64_t *bytes, uint64_t *items, uint64_t *made);

/* Compresses in[0..n) with enc into out (cap bytes), with the levels
 * above.  Returns the length, -ENOSPC when it would not fit in cap,
 * -ENOMEM, or -EINVAL for identity. */
long compress_bytes(enum http_enc enc, const void *in, size_t n, void *out, size_t cap, int text);

/* 1 for a type worth compressing: text/ types, JavaScript, JSON, XML (and
 * +json, +xml), SVG, wasm, uncompressed fonts (ttf, otf, eot); 0 for the
 * rest (images, video, archives, woff/woff2: compressed already). */
int compress_type_ok(const char *ctype);

#endif
