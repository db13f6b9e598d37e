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
};

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
    const char *cc; /* Cache-Control value (policy_bake), or NULL */
    /* content encoding (http/encvar) */
    struct encvar *var; /* the encoded variants found or made; NULL until asked */
    const char *vary;   /* in a variant's view: the Vary field line; NULL otherwise */
    char *fpath;        /* the file's own path when path is its directory's (an index) */
    uint32_t gen;       /* bumped whenever etag and hdr are rebuilt: variant heads follow */
    char path[];        /* the request path this entry answers */
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

/* The last request target answered from an entry: the same bytes again (a
 * keep-alive or pipelining client) skip decoding and lookup while the entry
 * is still fresh; NULL otherwise. */
void fcache_memo_set(struct fcache *c, const char *target, size_t n, struct fentry *e);
struct fentry *fcache_memo_get(struct fcache *c, const char *target, size_t n);

#endif
