/* fcache_hash — a cache entry's validators from its content: the prebuilt
 * fields, the entity tag made of the SHA-256 of the bytes, the digests of
 * RFC 9530, and the jobs of the worker's hasher thread for large files
 * (their results come back through the worker's loop). */
#include "http/cond.h"
#include "http/digest.h"
#include "http/encvar.h"
#include "http/fcache_int.h"
#include "http/hasher.h"
#include "http/mime.h"
#include "http/resp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- validators: the prebuilt fields, the content-derived entity tag ---- */

/* Prebuilds the header fields of a plain 200, so the common answer is two
 * memcpy calls: again whenever the ETag changes (the content hash came). */
static int entry_hdr(const struct static_conf *sc, struct fentry *e)
{
    char dig[HTTP_DIGEST_FIELD_MAX] = "";
    if (sc->digest && (e->hashed & (1u << HTTP_DIGEST_SHA256))) {
        const uint8_t *d[HTTP_DIGEST_ALGS] = {e->sha256, e->sha512};
        http_digest_field(dig, sizeof dig, "Repr-Digest", 1u << HTTP_DIGEST_SHA256, d);
    }
    char h[1024 + HTTP_DIGEST_FIELD_MAX];
    int n = snprintf(h, sizeof h,
                     "Last-Modified: %s\r\nETag: %.*s\r\n%s%s%s%sContent-Type: %s\r\n%s%s%sAccept-"
                     "Ranges: bytes\r\nContent-Length: %llu\r\n\r\n",
                     e->lastmod, (int)e->etag_len, e->etag, e->cc ? "Cache-Control: " : "",
                     e->cc ? e->cc : "", e->cc ? "\r\n" : "", dig, e->ctype,
                     e->cenc ? "Content-Encoding: " : "", e->cenc ? e->cenc : "",
                     e->cenc ? "\r\n" : "", (unsigned long long)e->size);
    char *hdr;
    if (n < 0 || (size_t)n >= sizeof h || !(hdr = malloc((size_t)n))) return -ENOMEM;
    memcpy(hdr, h, (size_t)n);
    free(e->hdr);
    e->hdr = hdr;
    e->hdr_len = (size_t)n;
    return 0;
}

/* 128 bits of SHA-256: versions of one URL collide with odds of 2^-64 per
 * pair even after billions of deploys (the birthday bound), while the tag
 * stays 24 bytes on every answer and in every If-None-Match.  An ETag
 * needs to tell versions apart, not to resist a forger who could write the
 * docroot anyway.  base64url: no quote, backslash or comma to escape. */
size_t fcache_content_etag(const uint8_t sha256[32], char *out, size_t n)
{
    if (n < 25) return 0;
    out[0] = '"';
    size_t k = http_base64(out + 1, sha256, 16, 1);
    out[1 + k] = '"';
    out[2 + k] = '\0';
    return k + 2;
}

/* A SHA-256 now known: the ETag becomes the content's, the fields are
 * rebuilt, gen tells whatever was derived from the old ones. */
static int entry_set_content(const struct static_conf *sc, struct fentry *e)
{
    char old[sizeof e->etag];
    size_t old_len = e->etag_len;
    memcpy(old, e->etag, sizeof old);
    e->etag_len = fcache_content_etag(e->sha256, e->etag, sizeof e->etag);
    if (entry_hdr(sc, e) < 0) { /* out of memory: the old tag stays with the old fields */
        memcpy(e->etag, old, sizeof old);
        e->etag_len = old_len;
        return -ENOMEM;
    }
    e->gen++;
    return 0;
}

/* Fills the validators and the prebuilt fields.  A small file's bytes
 * (body) are hashed at once, so its ETag is the content's from the first
 * answer; a large file starts with http_etag_make()'s (size, mtime, inode)
 * until the hasher is done.  The type is sniffed from the file's first
 * bytes where it may declare its own charset (one pread, at fill time
 * only; see mime_charset_sniff). */
int fcache_fill(const struct static_conf *sc, struct fentry *e, const struct stat *st, int fd,
                const char *path, const char *body)
{
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtim;
    e->fdslot = -1;
    e->etag_len = http_etag_make(st, e->etag, sizeof e->etag);
    time_t now = time(NULL);
    e->lm = st->st_mtim.tv_sec > now ? now : st->st_mtim.tv_sec; /* never in the future */
    http_date_fmt(e->lm, e->lastmod);
    e->ctype = mime_type(path, sc->mime_default);
    e->cenc = mime_encoding(path);
    if (e->ctype && mime_sniffs(e->ctype)) {
        char head[1024];
        ssize_t k = pread(fd, head, sizeof head, 0);
        if (k > 0)
            e->ctype =
                mime_charset_sniff(e->ctype, head, (size_t)k, e->ctype_own, sizeof e->ctype_own);
    }
    if (!body) {
        e->want = 1u << HTTP_DIGEST_SHA256;
        return entry_hdr(sc, e);
    }
    if (http_digest_mem(HTTP_DIGEST_SHA256, body, e->size, e->sha256) < 0) return -ENOMEM;
    e->hashed = 1u << HTTP_DIGEST_SHA256;
    e->gen = 0;
    e->etag_len = fcache_content_etag(e->sha256, e->etag, sizeof e->etag);
    return entry_hdr(sc, e);
}

/* ---- digests of large files: asked of the hasher, applied when done ---- */

/* Digests now known for e's version: the ETag becomes the content's. */
static void entry_apply(struct fcache *c, struct fentry *e, unsigned algs, const uint8_t *sha256,
                        const uint8_t *sha512)
{
    algs &= ~(unsigned)e->hashed;
    if (!algs) return;
    if (algs & (1u << HTTP_DIGEST_SHA256)) memcpy(e->sha256, sha256, 32);
    if (algs & (1u << HTTP_DIGEST_SHA512)) memcpy(e->sha512, sha512, 64);
    e->hashed |= (uint8_t)algs;
    e->want &= (uint8_t)~algs;
    /* out of memory: the old fields stay, and so does the old tag */
    if ((algs & (1u << HTTP_DIGEST_SHA256)) && entry_set_content(c->sc, e) == 0)
        fcache_recost(c, e);
}

/* The book: what every worker's hasher found, for the whole process, so a
 * large file is read and hashed once per version, not once per worker.  A
 * small direct-mapped table keyed by the version (device, inode, size,
 * mtime: what the cache itself goes by); a collision forgets the older
 * one, which then costs one more hashing.  busy names the cache whose
 * hasher works on a version now: the other workers wait for its result
 * (looking again at their next hit) instead of reading the file too. */
#define BOOK_SLOTS 256

struct book_ent {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    unsigned algs;
    const struct fcache *busy;
    uint8_t sha256[32], sha512[64];
};

static struct book_ent book[BOOK_SLOTS];
static pthread_mutex_t book_mu = PTHREAD_MUTEX_INITIALIZER;

static struct book_ent *book_slot(dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15u) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4fu);
    return &book[(h >> 32) % BOOK_SLOTS];
}

static int book_is(const struct book_ent *b, dev_t dev, ino_t ino, uint64_t size,
                   struct timespec mtime)
{
    return b->dev == dev && b->ino == ino && b->size == size && b->mtime.tv_sec == mtime.tv_sec &&
           b->mtime.tv_nsec == mtime.tv_nsec;
}

/* A file version, as the book and the hasher know it. */
struct ver {
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
};

static struct ver ver_of(const struct fentry *e)
{
    struct ver v = {e->dev, e->ino, e->size, e->mtime};
    return v;
}

/* Copies what the book knows of v out (*have, the digests); 1 when this
 * cache should hash what is still missing of want (the book now says it
 * does), 0 when nothing is left to do or another worker is at it. */
static int book_take(struct fcache *c, struct ver v, unsigned want, unsigned *have, uint8_t *sha256,
                     uint8_t *sha512)
{
    pthread_mutex_lock(&book_mu);
    struct book_ent *b = book_slot(v.dev, v.ino);
    if (!book_is(b, v.dev, v.ino, v.size, v.mtime)) {
        memset(b, 0, sizeof *b);
        b->dev = v.dev;
        b->ino = v.ino;
        b->size = v.size;
        b->mtime = v.mtime;
    }
    *have = b->algs;
    memcpy(sha256, b->sha256, 32);
    memcpy(sha512, b->sha512, 64);
    /* done, or a hasher (maybe this one's) is at it */
    int mine = (want & ~b->algs) && !b->busy;
    if (mine) b->busy = c;
    pthread_mutex_unlock(&book_mu);
    return mine;
}

/* A job's end: an ok result goes in the book; this cache is no more busy. */
static void book_put(const struct fcache *c, const struct hasher_result *r)
{
    pthread_mutex_lock(&book_mu);
    struct book_ent *b = book_slot(r->dev, r->ino);
    if (book_is(b, r->dev, r->ino, r->size, r->mtime)) {
        if (r->ok) {
            if (r->algs & (1u << HTTP_DIGEST_SHA256)) memcpy(b->sha256, r->sha256, 32);
            if (r->algs & (1u << HTTP_DIGEST_SHA512)) memcpy(b->sha512, r->sha512, 64);
            b->algs |= r->algs;
        }
        if (b->busy == c) b->busy = NULL;
    }
    pthread_mutex_unlock(&book_mu);
}

/* A job that was not queued (v), and a cache going away (NULL): no more busy. */
static void book_release(const struct fcache *c, const struct ver *v)
{
    pthread_mutex_lock(&book_mu);
    for (int i = 0; i < BOOK_SLOTS; i++)
        if (book[i].busy == c && (!v || book_is(&book[i], v->dev, v->ino, v->size, v->mtime)))
            book[i].busy = NULL;
    pthread_mutex_unlock(&book_mu);
}

void fcache_hash_forget(const struct fcache *c)
{
    book_release(c, NULL);
}

/* Queues a job for algs of version v open at fd (a dup is taken), its
 * result to be found again by key: 0, or negative (out of descriptors,
 * the queue is full: a later hit asks again, at most once a second). */
static int ask(struct fcache *c, struct ver v, int fd, unsigned algs, const char *key, time_t now)
{
    struct hasher_job j = {.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0),
                           .algs = algs,
                           .dev = v.dev,
                           .ino = v.ino,
                           .size = v.size,
                           .mtime = v.mtime,
                           .key = key};
    int rc = j.fd < 0 ? -errno : hasher_submit(c->hasher, &j);
    if (rc < 0) {
        if (j.fd >= 0) close(j.fd);
        if (rc == -EAGAIN) c->hasher_full = now;
        book_release(c, &v);
    }
    return rc;
}

/* Queues a job for the digests e still wants, unless the book has them,
 * a job is under way (here or in another worker), or the queue was full
 * this second (a hit retries later). */
void fcache_hash_ask(struct fcache *c, struct fentry *e)
{
    if (e->hashing || !e->want || !e->cached || e->fd < 0 || e->tries >= HASH_TRIES) return;
    time_t now;
    http_date_line(NULL, &now);
    if (c->hasher_full == now) return;
    unsigned have;
    uint8_t s256[32], s512[64];
    int mine = book_take(c, ver_of(e), e->want, &have, s256, s512);
    entry_apply(c, e, have, s256, s512);
    if (mine && ask(c, ver_of(e), e->fd, e->want, e->path, now) == 0) e->hashing = 1;
}

/* Digests now known for d's version. */
static void digests_apply(struct fdigests *d, unsigned algs, const uint8_t *sha256,
                          const uint8_t *sha512)
{
    if (algs & (1u << HTTP_DIGEST_SHA256)) memcpy(d->sha256, sha256, 32);
    if (algs & (1u << HTTP_DIGEST_SHA512)) memcpy(d->sha512, sha512, 64);
    d->hashed |= (uint8_t)algs;
}

/* A sidecar's job is filed under its coding (a digit) before the entry's
 * path: a request path always begins with '/', so no entry has that key. */
unsigned fcache_digests_of(struct fcache *c, const struct fentry *e, int enc, struct fdigests *d,
                           const char *body, int fd, unsigned want)
{
    unsigned missing = want & ~(unsigned)d->hashed;
    if (!missing) return d->hashed;
    if (body) { /* a small sidecar's bytes are here: at once */
        for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
            if ((missing & (1u << a)) &&
                http_digest_mem(a, body, d->size,
                                a == HTTP_DIGEST_SHA256 ? d->sha256 : d->sha512) == 0)
                d->hashed |= (uint8_t)(1u << a);
        return d->hashed;
    }
    time_t now;
    http_date_line(NULL, &now);
    if (d->hashing || fd < 0 || d->tries >= HASH_TRIES || c->hasher_full == now) return d->hashed;
    struct ver v = {d->dev, d->ino, d->size, d->mtime};
    unsigned have;
    uint8_t s256[32], s512[64];
    int mine = book_take(c, v, missing, &have, s256, s512);
    digests_apply(d, have & missing, s256, s512);
    char key[PATH_MAX + 2];
    int n = snprintf(key, sizeof key, "%c%s", '0' + enc, e->path);
    if (mine && n > 0 && (size_t)n < sizeof key &&
        ask(c, v, fd, missing & ~(unsigned)d->hashed, key, now) == 0)
        d->hashing = 1;
    else if (mine && (n <= 0 || (size_t)n >= sizeof key))
        book_release(c, &v);
    return d->hashed;
}

/* A sidecar's result: filed when the sidecar held is still that version. */
static void side_result(struct fcache *c, const struct hasher_result *r)
{
    struct fentry *e = fcache_find(c, r->key + 1, fcache_hash_str(r->key + 1));
    struct fdigests *d = e ? encvar_digests(e, r->key[0] - '0') : NULL;
    if (!d || !d->hashing || d->dev != r->dev || d->ino != r->ino || d->size != r->size ||
        d->mtime.tv_sec != r->mtime.tv_sec || d->mtime.tv_nsec != r->mtime.tv_nsec)
        return;
    d->hashing = 0;
    if (!r->ok)
        d->tries++;
    else
        digests_apply(d, r->algs, r->sha256, r->sha512);
}

int fcache_hash_fd(const struct fcache *c)
{
    return c->hasher ? hasher_fd(c->hasher) : -1;
}

void fcache_hash_results(struct fcache *c)
{
    struct hasher_result r;
    while (hasher_take(c->hasher, &r)) {
        book_put(c, &r); /* for every worker, whether or not the entry is still here */
        if (r.key[0] != '/') {
            side_result(c, &r);
            hasher_result_free(&r);
            continue;
        }
        struct fentry *e = fcache_find(c, r.key, fcache_hash_str(r.key));
        /* only for the very version hashed: a changed file has a new entry
         * (or will have), whose own job is the one that counts */
        if (e && e->hashing && e->dev == r.dev && e->ino == r.ino && e->size == r.size &&
            e->mtime.tv_sec == r.mtime.tv_sec && e->mtime.tv_nsec == r.mtime.tv_nsec) {
            e->hashing = 0;
            if (!r.ok)
                e->tries++;
            else
                entry_apply(c, e, r.algs, r.sha256, r.sha512);
        }
        hasher_result_free(&r);
    }
}

unsigned fcache_digests(struct fcache *c, struct fentry *e, unsigned want)
{
    unsigned missing = want & ~(unsigned)e->hashed;
    if (!missing) return e->hashed;
    if (e->body) { /* a small file's bytes are here: at once */
        for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
            if ((missing & (1u << a)) &&
                http_digest_mem(a, e->body, e->size,
                                a == HTTP_DIGEST_SHA256 ? e->sha256 : e->sha512) == 0)
                e->hashed |= (uint8_t)(1u << a);
        return e->hashed;
    }
    e->want |= (uint8_t)missing;
    fcache_hash_ask(c, e);
    return e->hashed;
}
