/* fcache — a worker's cache of the files it served: validators, prebuilt
 * header fields, small files' bytes, large files' descriptors; kept fresh by
 * inotify, a change epoch shared by the workers, and a once-a-second check
 * (details in fcache.c).  Not thread-safe: one cache per worker. */
#ifndef BERTH_HTTP_FCACHE_H
#define BERTH_HTTP_FCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct static_conf {
    int rootfd;        /* O_PATH/O_DIRECTORY descriptor of the root */
    const char *index; /* "index.html,index.htm": tried in order */
    int listing, hidden;
    const char *mime_default;
    const char *boundary;  /* multipart/byteranges boundary */
    const char *root_path; /* absolute; reopened when replaced; NULL: not followed */
    uint64_t *epoch;       /* shared by the workers: bumped on every change seen */
    /* site features (http/policy): Cache-Control, SPA, tar; NULL: none */
    const struct policy *pol;
    /* content encoding (http/encvar) */
    int compress;          /* on-the-fly compression of compressible types */
    int precompressed;     /* F.br, F.zst, F.gz sidecars */
    size_t compress_cache; /* bytes of compressed results a worker keeps; 0: none made */
    /* content validators, digests, the cache's budget (fcache.c) */
    size_t cache_size; /* bytes a worker's cache may hold; 0: FCACHE_DEFAULT_SIZE */
    int digest;        /* Repr-Digest (sha-256) on every answer whose digest is known */
};

#define FCACHE_DEFAULT_SIZE (64u << 20)

struct fentry {
    struct fentry *next;
    uint32_t hash;
    int fd; /* large files only; -1 when the bytes are in body */
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    time_t checked;    /* wall second of the last revalidation */
    uint64_t epoch;    /* the change epoch it was revalidated at */
    const char *ctype; /* mime_type()'s, or ctype_own when the file declares a charset */
    const char *cenc;  /* Content-Encoding (.svgz), or NULL */
    char ctype_own[96];
    size_t etag_len;
    char etag[64];
    char lastmod[32];
    char *hdr; /* the fields of a whole 200 answer, blank line included */
    size_t hdr_len;
    char *body;
    const char *cc; /* Cache-Control value (http/policy), or NULL */
    /* content encoding (http/encvar) */
    struct encvar *var; /* the encoded variants found or made; NULL until asked */
    const char *vary;   /* in a variant's view: the Vary field line; NULL otherwise */
    char *fpath;        /* the file's own path when path is its directory's (an index) */
    /* ---- content validators and the cache's bookkeeping (fcache.c) ---- */
    uint32_t gen;                 /* bumped whenever etag and hdr are rebuilt (the content hash
                                     arrived): what is derived from them (variant heads) is
                                     stale then */
    uint8_t ref;                  /* CLOCK: used since the hand last passed */
    uint8_t cached;               /* in the table (not a one-off answered uncached) */
    uint8_t hashed;               /* digests known: bits 1 << HTTP_DIGEST_* (http/digest.h) */
    uint8_t want;                 /* digests wanted and not known yet */
    uint8_t hashing;              /* a hasher job for this version is under way */
    uint8_t tries;                /* hasher jobs that failed (unreadable, changed meanwhile) */
    uint8_t venc;                 /* in a coded variant's view: its coding (http/encvar),
                                     whose digests these are; 0 otherwise */
    int16_t fdslot;               /* index in the cache's descriptor table; -1: none */
    size_t cost;                  /* bytes charged to the cache's budget */
    struct fentry *cnext, *cprev; /* the CLOCK ring */
    uint8_t sha256[32], sha512[64];
    time_t lm;   /* Last-Modified as sent: mtime, or the time it was read when mtime was in
                    the future (RFC 9110 §8.8.2.1); what date preconditions compare to */
    char path[]; /* the request path this entry answers */
};

struct fcache;

/* A worker's cache (NULL when out of memory or descriptors); sc must
 * outlive it. */
struct fcache *fcache_new(const struct static_conf *sc);
void fcache_free(struct fcache *c);

/* This worker's cache of compressed results (http/compress); NULL when
 * on-the-fly compression is off. */
struct ccache *fcache_ccache(const struct fcache *c);

/* This worker's descriptor of the root, followed by name (it changes when
 * the docroot is replaced): what paths are resolved beneath. */
int fcache_rootfd(const struct fcache *c);

/* A directory download walks its tree on the loop before it can answer
 * (tens of ms for the 20000 entries allowed), and nothing else on this
 * worker is served meanwhile.  So walks draw on a budget: it fills at half
 * the clock's pace up to FCACHE_WALK_BURST_NS, each walk spends its
 * duration, and while it is spent only small trees are walked (a larger
 * one is a 503 with Retry-After).  A few downloads in a row run at once; a
 * flood of them gets about half the worker's time.  fcache_walk_allowed says
 * whether one may start now; fcache_walk_done records one that ran from
 * start to end (CLOCK_MONOTONIC ns). */
#define FCACHE_WALK_BURST_NS 250000000 /* 250 ms */
int fcache_walk_allowed(struct fcache *c, uint64_t now);
void fcache_walk_done(struct fcache *c, uint64_t start, uint64_t end);

/* The descriptor that becomes readable when watched files change (-1: no
 * watching), and what to call then. */
int fcache_watch_fd(const struct fcache *c);
void fcache_changes(struct fcache *c);

/* The entry for the normalised request path, found or built (revalidated
 * when due).  NULL with *status 404/403/503, or with *status 0 and *dirfd
 * set for a directory without an index (never cached; the caller closes
 * it).  *status -1 with an entry: too many large files are open, this one
 * is not cached: fcache_entry_release() it after use. */
struct fentry *fcache_lookup(const struct static_conf *sc, struct fcache *c, const char *path,
                             int *status, int *dirfd);
void fcache_entry_release(struct fentry *e);

/* Answers from an entry already held, and entries built (a file read or
 * opened anew); safe from any thread (relaxed loads). */
void fcache_stats(const struct fcache *c, uint64_t *hits, uint64_t *misses);

/* What the cache holds and has done; safe from any thread. */
struct fcache_usage {
    uint64_t bytes, entries, evictions;
    uint64_t hash_queued, hash_done, hash_dropped, hash_failed, hash_bytes, hash_depth;
    /* on-the-fly compression (http/compress: struct ccache_stats) */
    uint64_t comp_made, comp_in, comp_out, comp_hits, comp_misses, comp_evictions;
    uint64_t comp_bytes, comp_items, comp_fds, comp_jobs;
    uint64_t side_fds; /* large sidecars held open (at most FCACHE_SIDE_FDS) */
};
void fcache_usage(const struct fcache *c, struct fcache_usage *u);

/* Content validators.  A small file's SHA-256 is computed when it is read,
 * so its ETag is content-derived from the first answer; a large file's by
 * the worker's hasher thread (http/hasher), its ETag being the cheap
 * http_etag_make() one until then.  The descriptor that becomes readable
 * when hashes are done (-1: none), and what to call then: it rebuilds the
 * entries' etag and hdr and bumps their gen. */
int fcache_hash_fd(const struct fcache *c);
void fcache_hash_results(struct fcache *c);

/* The digests of e's bytes known now (bits 1 << HTTP_DIGEST_*), after
 * asking for those in want that are not: a small file's are computed at
 * once, a large file's queued for the hasher (known on a later request). */
unsigned fcache_digests(struct fcache *c, struct fentry *e, unsigned want);

/* The digests of a file version that is not an entry's own: a sidecar of
 * it (http/encvar), asked for and kept as an entry's are. */
struct fdigests {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    uint8_t hashed, hashing, tries;
    uint8_t sha256[32], sha512[64];
};

/* The digests of d's version known now, after asking for those in want
 * that are not: computed at once from body when it is given (a small
 * sidecar's bytes), else queued for the hasher on a dup of fd, its result
 * filed by fcache_hash_results() into encvar_digests(e, enc) when that is
 * still d's version.  Never blocks. */
unsigned fcache_digests_of(struct fcache *c, const struct fentry *e, int enc, struct fdigests *d,
                           const char *body, int fd, unsigned want);

/* e's share of the budget again, after what it holds changed (its fields,
 * its variants: http/encvar), evicting other entries while the cache is
 * over its budget (never e: it is in use; it alone may exceed the budget
 * until the next entry is put in); nothing for an entry not in the cache. */
void fcache_recost(struct fcache *c, struct fentry *e);

/* Large sidecars' descriptors a worker holds open (http/encvar): one more
 * taken (1) or not (0: FCACHE_SIDE_FDS are held; open it for one answer),
 * and one given back. */
#define FCACHE_SIDE_FDS 64
int fcache_side_fd_take(struct fcache *c);
void fcache_side_fd_give(struct fcache *c);

/* Writes e's strong entity tag: '"' + base64url of the first 16 bytes of
 * the SHA-256 of its bytes + '"' (24 bytes).  Exposed for the tests. */
size_t fcache_content_etag(const uint8_t sha256[32], char *out, size_t n);

/* The last request target answered from an entry: the same bytes again (a
 * keep-alive or pipelining client) skip decoding and lookup while the entry
 * is still fresh; NULL otherwise. */
void fcache_memo_set(struct fcache *c, const char *target, size_t n, struct fentry *e);
struct fentry *fcache_memo_get(struct fcache *c, const char *target, size_t n);

#endif
