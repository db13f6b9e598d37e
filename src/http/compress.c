/* compress — compressing with libbrotli, libzstd and zlib, and a worker's
 * least-recently-used cache of the results (the rules are in compress.h). */
#include "http/compress.h"

#include "http/digest.h"

#include <brotli/encode.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define BROTLI_LEVEL 6 /* 5 and 6 cost the same; 7 costs 2.5 times for < 1 % */
#define ZSTD_LEVEL   9 /* past 9 the time grows faster than the gain */
#define GZIP_LEVEL   6 /* 9 costs 1.5 to 2 times for 0.5 % */

/* FNV-1a of what decides the bytes besides the input: the library's
 * version and berth's parameters (the brotli window and mode follow from
 * the input and its type).  Made once: it is asked for on every coded
 * answer (the tag the cached head is checked against). */
static char coder_marks[HTTP_ENC_N][COMPRESS_MARK_LEN + 1];
static pthread_once_t coder_marks_once = PTHREAD_ONCE_INIT;

static void coder_marks_make(void)
{
    for (int enc = HTTP_ENC_IDENTITY + 1; enc < HTTP_ENC_N; enc++) {
        char desc[96];
        if (enc == HTTP_ENC_BR)
            snprintf(desc, sizeof desc, "br %u %d", (unsigned)BrotliEncoderVersion(), BROTLI_LEVEL);
        else if (enc == HTTP_ENC_ZSTD)
            snprintf(desc, sizeof desc, "zstd %u %d", ZSTD_versionNumber(), ZSTD_LEVEL);
        else
            snprintf(desc, sizeof desc, "gzip %s %d", zlibVersion(), GZIP_LEVEL);
        uint32_t h = 2166136261u;
        for (const char *p = desc; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        for (int k = 0; k < COMPRESS_MARK_LEN; k++, h >>= 5)
            coder_marks[enc][k] = "0123456789abcdefghijklmnopqrstuv"[h & 31];
    }
}

/* compress.h */
size_t compress_coder_mark(enum http_enc enc, char *out, size_t n)
{
    if (enc <= HTTP_ENC_IDENTITY || enc >= HTTP_ENC_N || n < COMPRESS_MARK_LEN + 1) return 0;
    pthread_once(&coder_marks_once, coder_marks_make);
    memcpy(out, coder_marks[enc], COMPRESS_MARK_LEN + 1);
    return COMPRESS_MARK_LEN;
}

#define SLOTS    1024
#define CJOB_MAX 8 /* files queued for the helper thread, at most */

struct cnode {
    struct cnode *hnext;       /* hash chain */
    struct cnode *prev, *next; /* recency: head is the most recent */
    struct ckey k;
    uint32_t h;
    size_t cost;
    struct citem it;
    char bytes[];
};

/* a compression's outcome before it is filed: bytes in memory (len up to
 * COMPRESS_SMALL, more when no memfd could be made) or a sealed memfd; err
 * -ENOSPC: not smaller */
struct cres {
    int err;
    char *bytes;
    int fd;
    uint64_t len;
    int64_t mtime_sec;
    long mtime_nsec;
    unsigned hashed;
    uint8_t sha256[32], sha512[64];
};

struct cjob;

struct ccache {
    struct cnode *slot[SLOTS];
    struct cnode *head, *tail;
    size_t budget;
    uint64_t bytes;
    /* read by other threads: relaxed atomics (made, in, out: the helper
     * thread adds too) */
    uint64_t items, made, in, out, hits, misses, evictions, fds, submitted, njobs;
    /* the helper thread (started at the first large file): jobs queued,
     * the one it works on, the ones done; mu guards them */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop, finished; /* finished: done is not empty (atomic) */
    int jobs;                    /* queued, running or done: CJOB_MAX at most */
    struct cjob *queue, *running, *done;
};

static void store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

struct ccache *ccache_new(size_t budget)
{
    struct ccache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->budget = budget;
    if (pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->cv, NULL)) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

static void unlink_lru(struct ccache *c, struct cnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        c->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        c->tail = n->prev;
    n->prev = n->next = NULL;
}

static void push_front(struct ccache *c, struct cnode *n)
{
    n->prev = NULL;
    n->next = c->head;
    if (c->head) c->head->prev = n;
    c->head = n;
    if (!c->tail) c->tail = n;
}

static void drop(struct ccache *c, struct cnode *n)
{
    struct cnode **pp = &c->slot[n->h & (SLOTS - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    unlink_lru(c, n);
    store(&c->bytes, c->bytes - n->cost);
    store(&c->items, c->items - 1);
    if (n->it.fd >= 0) { /* transfers hold their own dup */
        close(n->it.fd);
        store(&c->fds, c->fds - 1);
    }
    free(n);
}

static void jobs_free(struct cjob *j);

void ccache_free(struct ccache *c)
{
    if (!c) return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->th, NULL); /* after the job it works on, at most */
    }
    jobs_free(c->queue);
    jobs_free(c->done);
    while (c->head)
        drop(c, c->head);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static uint32_t key_hash(const struct ckey *k)
{
    uint64_t x = k->ino * 0x9e3779b97f4a7c15ull ^ k->dev ^ k->size * 31 ^ (uint64_t)k->sec ^
                 (uint64_t)k->nsec * 7 ^ (uint64_t)k->enc;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x ^ (x >> 32));
}

static int key_eq(const struct ckey *a, const struct ckey *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->sec == b->sec &&
           a->nsec == b->nsec && a->enc == b->enc;
}

static void collect(struct ccache *c);

const struct citem *ccache_get(struct ccache *c, const struct ckey *k)
{
    collect(c);
    uint32_t h = key_hash(k);
    for (struct cnode *n = c->slot[h & (SLOTS - 1)]; n; n = n->hnext)
        if (n->h == h && key_eq(&n->k, k)) {
            if (c->head != n) {
                unlink_lru(c, n);
                push_front(c, n);
            }
            store(&c->hits, c->hits + 1);
            return &n->it;
        }
    store(&c->misses, c->misses + 1);
    return NULL;
}

/* lgwin: the smallest window holding the whole input (less memory than
 * the default 4 MiB for the sizes compressed here) */
static int brotli_window(size_t n)
{
    int w = BROTLI_MIN_WINDOW_BITS;
    while (w < BROTLI_MAX_WINDOW_BITS && ((size_t)1 << w) - 16 < n)
        w++;
    return w;
}

long compress_bytes(enum http_enc enc, const void *in, size_t n, void *out, size_t cap, int text)
{
    if (enc == HTTP_ENC_BR) {
        size_t got = cap;
        if (!BrotliEncoderCompress(BROTLI_LEVEL, brotli_window(n),
                                   text ? BROTLI_MODE_TEXT : BROTLI_MODE_GENERIC, n, in, &got, out))
            return -ENOSPC; /* the one failure it reports: the output did not fit */
        return (long)got;
    }
    if (enc == HTTP_ENC_ZSTD) {
        size_t got = ZSTD_compress(out, cap, in, n, ZSTD_LEVEL);
        if (ZSTD_isError(got))
            return ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall ? -ENOSPC : -ENOMEM;
        return (long)got;
    }
    if (enc == HTTP_ENC_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof z);
        /* 15 + 16: a 32 KiB window in the gzip wrapper (RFC 1952), not zlib's */
        if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        z.next_in = (Bytef *)(uintptr_t)in;
        z.next_out = out;
        long rc = 0;
        /* avail_in/out are 32-bit: feed in steps so any size is safe */
        size_t left_in = n, left_out = cap;
        for (;;) {
            uInt ai = left_in > 1u << 30 ? 1u << 30 : (uInt)left_in;
            uInt ao = left_out > 1u << 30 ? 1u << 30 : (uInt)left_out;
            z.avail_in = ai;
            z.avail_out = ao;
            int zr = deflate(&z, ai == left_in ? Z_FINISH : Z_NO_FLUSH);
            left_in -= ai - z.avail_in;
            left_out -= ao - z.avail_out;
            if (zr == Z_STREAM_END) break;
            if (zr == Z_BUF_ERROR || (zr == Z_OK && !left_out)) {
                rc = -ENOSPC;
                break;
            }
            if (zr != Z_OK) {
                rc = -ENOMEM;
                break;
            }
        }
        if (rc == 0) rc = (long)(cap - left_out);
        deflateEnd(&z);
        return rc;
    }
    return -EINVAL;
}

/* A result too large to copy into each answer goes into a sealed memfd. */
static int to_memfd(const char *p, size_t n, struct cres *r)
{
    int fd = memfd_create("berth-compressed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? -errno : -EIO;
            close(fd);
            return err;
        }
        done += (size_t)w;
    }
    struct stat st;
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    if (fstat(fd, &st) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    r->fd = fd;
    r->mtime_sec = (int64_t)st.st_mtim.tv_sec;
    r->mtime_nsec = st.st_mtim.tv_nsec;
    return 0;
}

/* Compresses in[0..n) into r: bytes in memory, or a memfd when large.
 * Safe on any thread (touches nothing shared but the made counter). */
static void produce(struct ccache *c, enum http_enc enc, const void *in, size_t n, int text,
                    struct cres *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->err = -ENOSPC;
    if (n < 2) return;
    char *tmp = malloc(n - 1); /* a result must be smaller than the input */
    if (!tmp) {
        r->err = -ENOMEM;
        return;
    }
    long len = compress_bytes(enc, in, n, tmp, n - 1, text);
    __atomic_add_fetch(&c->made, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->in, n, __ATOMIC_RELAXED);
    if (len < 0) {
        free(tmp);
        r->err = (int)len;
        return;
    }
    __atomic_add_fetch(&c->out, (uint64_t)len, __ATOMIC_RELAXED);
    r->len = (uint64_t)len;
    r->err = 0;
    /* the coded representation's digests (Repr-Digest), both at once: the
     * bytes are at hand here, off the loop for a large file, and the hash
     * costs a fraction of the compression (out of memory: none known) */
    if (http_digest_mem(HTTP_DIGEST_SHA256, tmp, (size_t)len, r->sha256) == 0 &&
        http_digest_mem(HTTP_DIGEST_SHA512, tmp, (size_t)len, r->sha512) == 0)
        r->hashed = 1u << HTTP_DIGEST_SHA256 | 1u << HTTP_DIGEST_SHA512;
    /* no memfd (a seccomp filter, no descriptor left): kept in memory and
     * copied like a small one, rather than compressed again each time */
    if ((size_t)len > COMPRESS_SMALL && to_memfd(tmp, (size_t)len, r) == 0) {
        free(tmp);
        return;
    }
    char *b = realloc(tmp, len ? (size_t)len : 1);
    r->bytes = b ? b : tmp;
}

static void cres_free(struct cres *r)
{
    free(r->bytes);
    if (r->fd >= 0) close(r->fd);
    r->bytes = NULL;
    r->fd = -1;
}

/* Files r under k (taking what it holds), evicting the least recently used
 * until the budget holds it.  Not smaller, or larger than the whole budget:
 * a small entry saying so, so the file is not compressed again.  NULL with
 * *err otherwise, or when the result cannot be sent. */
static const struct citem *file(struct ccache *c, const struct ckey *k, struct cres *r, int *err)
{
    *err = r->err;
    int none = r->err == -ENOSPC;
    if (!r->err && sizeof(struct cnode) + r->len > c->budget) {
        *err = -E2BIG;
        none = 1;
    }
    if (r->err && !none) {
        cres_free(r);
        return NULL;
    }
    int mem = !none && r->fd < 0; /* bytes in the node itself */
    size_t cost = sizeof(struct cnode) + (none ? 0 : (size_t)r->len);
    struct cnode *node = malloc(sizeof *node + (mem ? (size_t)r->len : 0));
    if (!node) {
        cres_free(r);
        *err = -ENOMEM;
        return NULL;
    }
    memset(node, 0, sizeof *node);
    node->k = *k;
    node->h = key_hash(k);
    node->cost = cost;
    node->it.fd = -1;
    node->it.none = none;
    if (mem) {
        memcpy(node->bytes, r->bytes, (size_t)r->len);
        node->it.bytes = node->bytes;
        node->it.len = r->len;
    } else if (!none) {
        node->it.fd = r->fd;
        node->it.len = r->len;
        node->it.mtime_sec = r->mtime_sec;
        node->it.mtime_nsec = r->mtime_nsec;
        r->fd = -1;
    }
    if (!none) {
        node->it.hashed = r->hashed;
        memcpy(node->it.sha256, r->sha256, sizeof r->sha256);
        memcpy(node->it.sha512, r->sha512, sizeof r->sha512);
    }
    cres_free(r);
    /* a result made again (after eviction of a copy elsewhere) replaces the old */
    for (struct cnode *o = c->slot[node->h & (SLOTS - 1)]; o; o = o->hnext)
        if (o->h == node->h && key_eq(&o->k, k)) {
            drop(c, o);
            break;
        }
    while (c->tail && c->bytes + cost > c->budget) {
        drop(c, c->tail);
        store(&c->evictions, c->evictions + 1);
    }
    /* descriptors are bounded too (a site of many large files would
     * otherwise hold one per result): the least recent memfd goes */
    if (node->it.fd >= 0) {
        for (struct cnode *o = c->tail, *up; o && c->fds >= CCACHE_MAX_FDS; o = up) {
            up = o->prev; /* more recent: still there when o goes */
            if (o->it.fd >= 0) {
                drop(c, o);
                store(&c->evictions, c->evictions + 1);
            }
        }
        store(&c->fds, c->fds + 1);
    }
    node->hnext = c->slot[node->h & (SLOTS - 1)];
    c->slot[node->h & (SLOTS - 1)] = node;
    push_front(c, node);
    store(&c->bytes, c->bytes + cost);
    store(&c->items, c->items + 1);
    return none ? NULL : &node->it;
}

const struct citem *ccache_make(struct ccache *c, const struct ckey *k, const void *in, size_t n,
                                int text, int *err)
{
    struct cres r;
    produce(c, (enum http_enc)k->enc, in, n, text, &r);
    return file(c, k, &r, err);
}

/* ---- the helper thread: files too large to compress on the loop ---- */

struct cjob {
    struct cjob *next;
    struct ckey k;
    int fd; /* a dup of the file's descriptor, closed by the thread */
    int text;
    struct cres r;
};

/* reads the file whole and checks it is still the version k names */
static char *read_version(int fd, const struct ckey *k)
{
    char *b = malloc(k->size ? k->size : 1);
    uint64_t got = 0;
    while (b && got < k->size) {
        ssize_t n = pread(fd, b + got, k->size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            free(b);
            return NULL;
        }
        got += (uint64_t)n;
    }
    struct stat st;
    if (b && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != k->size ||
              (int64_t)st.st_mtim.tv_sec != k->sec || st.st_mtim.tv_nsec != k->nsec)) {
        free(b);
        return NULL;
    }
    return b;
}

static void *helper(void *arg)
{
    struct ccache *c = arg;
    /* serving comes first: the thread yields the CPU to the loops */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !c->queue)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        struct cjob *j = c->queue;
        c->queue = j->next;
        c->running = j;
        pthread_mutex_unlock(&c->mu);
        char *in = read_version(j->fd, &j->k);
        if (in) {
            produce(c, (enum http_enc)j->k.enc, in, j->k.size, j->text, &j->r);
            free(in);
        } else {
            memset(&j->r, 0, sizeof j->r);
            j->r.fd = -1;
            j->r.err = -ESTALE; /* changed meanwhile: the next request asks again */
        }
        close(j->fd);
        j->fd = -1;
        pthread_mutex_lock(&c->mu);
        c->running = NULL;
        j->next = c->done;
        c->done = j;
        __atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Files what the helper finished (on the worker's thread). */
static void collect(struct ccache *c)
{
    if (!__atomic_load_n(&c->finished, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&c->mu);
    struct cjob *j = c->done;
    c->done = NULL;
    __atomic_store_n(&c->finished, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&c->mu);
    while (j) {
        struct cjob *next = j->next;
        int err;
        (void)file(c, &j->k, &j->r, &err);
        c->jobs--;
        store(&c->njobs, (uint64_t)c->jobs);
        free(j);
        j = next;
    }
}

static void jobs_free(struct cjob *j)
{
    while (j) {
        struct cjob *next = j->next;
        if (j->fd >= 0) close(j->fd);
        cres_free(&j->r);
        free(j);
        j = next;
    }
}

static int pending(const struct cjob *j, const struct ckey *k)
{
    for (; j; j = j->next)
        if (key_eq(&j->k, k)) return 1;
    return 0;
}

int ccache_submit(struct ccache *c, const struct ckey *k, int fd, int text)
{
    collect(c);
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (pending(c->queue, k) || pending(c->done, k) || (c->running && key_eq(&c->running->k, k)))
        goto out;
    if (c->jobs >= CJOB_MAX) {
        rc = -EAGAIN;
        goto out;
    }
    if (!c->started) {
        if ((rc = -pthread_create(&c->th, NULL, helper, c)) < 0) goto out;
        c->started = 1;
    }
    struct cjob *j = calloc(1, sizeof *j);
    if (j) j->r.fd = -1;
    if (!j || (j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        rc = j ? -errno : -ENOMEM;
        free(j);
        goto out;
    }
    j->k = *k;
    j->text = text;
    store(&c->submitted, c->submitted + 1);
    struct cjob **pp = &c->queue; /* first come, first served */
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    c->jobs++;
    store(&c->njobs, (uint64_t)c->jobs);
    pthread_cond_signal(&c->cv);
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void ccache_stats(const struct ccache *c, struct ccache_stats *st)
{
    st->bytes = load(&c->bytes);
    st->items = load(&c->items);
    st->made = load(&c->made);
    st->in = load(&c->in);
    st->out = load(&c->out);
    st->hits = load(&c->hits);
    st->misses = load(&c->misses);
    st->evictions = load(&c->evictions);
    st->fds = load(&c->fds);
    st->jobs = load(&c->njobs);
    st->submitted = load(&c->submitted);
}

int compress_type_ok(const char *t)
{
    if (!t) return 0;
    size_t n = strcspn(t, ";");
    while (n && t[n - 1] == ' ')
        n--;
#define IS(s)   (n == sizeof(s) - 1 && !strncmp(t, s, n))
#define ENDS(s) (n > sizeof(s) - 1 && !strncmp(t + n - (sizeof(s) - 1), s, sizeof(s) - 1))
    if (n > 5 && !strncmp(t, "text/", 5)) return 1;
    return IS("application/javascript") || IS("application/x-javascript") ||
           IS("application/json") || IS("application/xml") || IS("application/wasm") ||
           IS("image/svg+xml") || IS("image/x-icon") || IS("image/vnd.microsoft.icon") ||
           IS("image/bmp") || IS("font/ttf") || IS("font/otf") || IS("font/collection") ||
           IS("application/x-font-ttf") || IS("application/x-font-otf") ||
           IS("application/vnd.ms-fontobject") || IS("application/x-sh") ||
           IS("application/ecmascript") || ENDS("+json") || ENDS("+xml");
#undef IS
#undef ENDS
}
