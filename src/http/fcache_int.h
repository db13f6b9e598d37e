/* fcache internals — what fcache.c (the table, lookup, freshness) and
 * fcache_hash.c (content validators, digests, the hasher's jobs) share.
 * Not a contract for anyone else: use http/fcache.h. */
#ifndef BERTH_HTTP_FCACHE_INT_H
#define BERTH_HTTP_FCACHE_INT_H

#include "http/fcache.h"

#include <sys/stat.h>

#define CACHE_MAX_FDS 64 /* large files kept open */
#define HASH_TRIES    3  /* hasher jobs per file version before giving up */

struct fcache {
    struct fentry **slot; /* nslots buckets: grown to keep chains short */
    size_t nslots;
    uint64_t count, bytes, budget; /* count, bytes: read by metrics (relaxed atomics) */
    uint64_t evictions;
    struct fentry *hand; /* CLOCK: the next entry the hand looks at */
    int fds;
    struct fentry *fdent[CACHE_MAX_FDS]; /* the entries holding a large file open */
    unsigned gen;                        /* bumped whenever an entry goes away */
    const struct static_conf *sc;
    struct hasher *hasher; /* large files' digests, off the loop */
    time_t hasher_full;    /* the second a job found its queue full: retried after */
    /* this worker's root: reopened by name when the directory is replaced */
    int rootfd;
    dev_t root_dev;
    ino_t root_ino;
    time_t root_checked, swept;
    int root_dirty; /* an event says the root may have been replaced */
    /* set by events: bump the epoch; directories moved, watches are stale */
    int changed, restructure;
    const char *root_base; /* the root's name in its parent directory */
    struct fswatch *fw;
    /* the last request target answered from an entry: the same bytes again
     * (a keep-alive or pipelining client) skip decoding and lookup */
    struct fentry *memo;
    unsigned memo_gen;
    size_t memo_len;
    char memo_target[256];
    /* answers from an entry already held / entries built (read by the
     * metrics from other threads: relaxed atomics, no lock) */
    uint64_t hits, misses;
    /* directory downloads' walk budget (fcache_walk_allowed): ns of walking
     * this worker may still do (negative: owed), as of walk_at */
    int64_t walk_credit;
    uint64_t walk_at;
    struct ccache *cc; /* compressed results (http/compress); NULL: none made */
    uint64_t side_fds; /* large sidecars held open (http/encvar); read by the metrics */
};

/* the entry for path (h = fcache_hash_str(path)), or NULL */
uint32_t fcache_hash_str(const char *s);
struct fentry *fcache_find(struct fcache *c, const char *path, uint32_t h);
/* a counter other threads read: a relaxed atomic store */
void fcache_put(uint64_t *n, uint64_t v);

/* Fills e's validators and prebuilt fields from st (fd open on the file,
 * path naming its type; body its bytes when small, else NULL). */
int fcache_fill(const struct static_conf *sc, struct fentry *e, const struct stat *st, int fd,
                const char *path, const char *body);
/* Asks the hasher for the digests e wants (once per version; a full
 * queue is tried again on a later hit). */
void fcache_hash_ask(struct fcache *c, struct fentry *e);
/* The cache goes away: the jobs its hasher had are nobody's now. */
void fcache_hash_forget(const struct fcache *c);

#endif
