/* compress — a file's bytes compressed with br, zstd or gzip, once per file
 * version and coding, and a worker's bounded cache of the results.
 *
 * Levels are chosen for results that are kept and served many times, at
 * the knee of size against time (measured on 64 KiB and 1 MiB of HTML/JS,
 * docs/ARCHITECTURE.md "Content encoding"): brotli 6, zstd 9, gzip 6 (the
 * gzip file format, RFC 1952).  Files from COMPRESS_MIN to COMPRESS_MAX
 * bytes are compressed on the worker's loop when first asked for (about
 * 2 ms at most); larger ones, up to COMPRESS_BG_MAX, by the worker's helper
 * thread (started at the first such file, niced, one file at a time, at
 * most CJOB_MAX queued): the request that asks gets the file as it is, and
 * the ones after the result is filed get it.  A result not smaller than the
 * file is filed as "none", so the file is not compressed again.
 *
 * The cache is a worker's own (the helper hands results back under a
 * mutex; the worker files them): entries keyed by the file version (device,
 * inode, size, mtime) and coding, evicted least recently used first so
 * their bytes stay within the budget.  A result of up to 32 KiB is kept in
 * memory and copied into the answer; a larger one in a sealed memfd (in
 * memory where none can be made), sent by sendfile like a large file from
 * a dup of the descriptor, so a slow client holds no copy and eviction
 * never pulls bytes from under a transfer. */
#ifndef BERTH_HTTP_COMPRESS_H
#define BERTH_HTTP_COMPRESS_H

#include "http/encoding.h"

#include <stddef.h>
#include <stdint.h>

#define COMPRESS_MIN    256         /* below: the added fields eat the gain */
#define COMPRESS_MAX    (64 * 1024) /* on the loop up to this: about 2 ms */
#define COMPRESS_BG_MAX (4u << 20)  /* by the helper thread up to this */
#define COMPRESS_SMALL  (32 * 1024) /* results up to this stay in memory */
#define CCACHE_MAX_FDS  64          /* memfds a cache holds: the least recent go first */

/* A short mark of the coder that makes enc's results here: COMPRESS_MARK_LEN
 * characters [0-9a-v] from the compression library's version and berth's
 * level for it, NUL-terminated into out (n bytes).  A result's ETag carries
 * it, so a strong tag names one byte sequence even after an upgrade changes
 * what the same input compresses to (RFC 9110 §8.8.1; a Range resumed with
 * If-Range must not mix two).  0 for identity or a too small out. */
#define COMPRESS_MARK_LEN 4
size_t compress_coder_mark(enum http_enc enc, char *out, size_t n);

/* The file version and coding a result belongs to. */
struct ckey {
    uint64_t dev, ino, size;
    int64_t sec;
    long nsec;
    int enc;
};

/* A cached result: bytes in memory (fd -1) or a memfd of len bytes whose
 * mtime is given (what a transfer checks it against); or none: compressing
 * this version did not make it smaller (or it is larger than the cache).
 * A result's SHA-256 and SHA-512 (RFC 9530 Repr-Digest of the coded
 * representation) are computed with it, where it is made (the helper
 * thread for large files): hashed has bit 1 << HTTP_DIGEST_* for each. */
struct citem {
    int none;
    const char *bytes;
    int fd;
    uint64_t len;
    int64_t mtime_sec;
    long mtime_nsec;
    unsigned hashed;
    uint8_t sha256[32], sha512[64];
};

struct ccache;

/* A cache of at most budget bytes of results (NULL: out of memory). */
struct ccache *ccache_new(size_t budget);
void ccache_free(struct ccache *c);

/* The result for k (perhaps none), made more recent; NULL when not cached.
 * Files what the helper thread finished first.  Valid until the next
 * ccache_get, ccache_make or ccache_submit. */
const struct citem *ccache_get(struct ccache *c, const struct ckey *k);

/* Compresses in[0..n) with k->enc (text: brotli's text mode) on this
 * thread and keeps the result, evicting older ones.  NULL with *err:
 * -ENOSPC the result is not smaller than the input, -E2BIG it is larger
 * than the whole budget (both filed as none), -ENOMEM / -EMFILE resources. */
const struct citem *ccache_make(struct ccache *c, const struct ckey *k, const void *in, size_t n,
                                int text, int *err);

/* Has the helper thread compress the file open at fd (a duplicate is
 * taken: the caller keeps fd), k naming its version (k->size bytes): the
 * result is filed by a later ccache_get.  A file that is no longer that
 * version when read is dropped.  0 when queued or already pending;
 * -EAGAIN: CJOB_MAX files are pending; -ENOMEM, -EMFILE, or the thread
 * could not start. */
int ccache_submit(struct ccache *c, const struct ckey *k, int fd, int text);

/* What the cache holds and has done: safe from any thread (relaxed loads). */
struct ccache_stats {
    uint64_t bytes, items;    /* held now (results, their nodes) */
    uint64_t made;            /* compressions done (each a result or a none) */
    uint64_t in, out;         /* bytes compressed, and what they became */
    uint64_t hits, misses;    /* lookups that found a result (or a none), and not */
    uint64_t evictions;       /* results dropped to stay within the budget */
    uint64_t fds;             /* memfds held now (at most CCACHE_MAX_FDS) */
    uint64_t jobs, submitted; /* the helper's jobs in flight now, and queued in all */
};
void ccache_stats(const struct ccache *c, struct ccache_stats *st);

/* Compresses in[0..n) with enc into out (cap bytes), with the levels
 * above.  Returns the length, -ENOSPC when it would not fit in cap,
 * -ENOMEM, or -EINVAL for identity. */
long compress_bytes(enum http_enc enc, const void *in, size_t n, void *out, size_t cap, int text);

/* 1 for a type worth compressing: text/ types, JavaScript, JSON, XML (and
 * +json, +xml), SVG, wasm, uncompressed fonts (ttf, otf, eot); 0 for the
 * rest (images, video, archives, woff/woff2: compressed already). */
int compress_type_ok(const char *ctype);

#endif
