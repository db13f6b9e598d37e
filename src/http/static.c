#include "http/static.h"

#include "http/beneath.h"
#include "http/cond.h"
#include "http/beneath.h"
#include "http/fswatch.h"
#include "http/listing.h"
#include "http/mime.h"
#include "http/path.h"
#include "http/range.h"
#include "http/resp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMALL_FILE    (32 * 1024) /* bytes kept in memory per cached file */
#define CACHE_SLOTS   1024        /* hash buckets (power of two) */
#define CACHE_MAX     512         /* entries before the cache is emptied */
#define CACHE_MAX_FDS 64          /* large files kept open */

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
    char path[]; /* the request path this entry answers */
};

struct static_cache {
    struct fentry *slot[CACHE_SLOTS];
    int count, fds;
    unsigned gen; /* bumped whenever an entry goes away */
    const struct static_conf *sc;
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
};

static uint64_t epoch_load(const struct static_conf *sc)
{
    return sc->epoch ? __atomic_load_n(sc->epoch, __ATOMIC_ACQUIRE) : 0;
}

/* Makes every worker revalidate its entries before using them again.  Done
 * before the worker that saw the change answers with the new bytes. */
static uint64_t epoch_bump(const struct static_conf *sc)
{
    return sc->epoch ? __atomic_add_fetch(sc->epoch, 1, __ATOMIC_SEQ_CST) : 0;
}

struct static_cache *static_cache_new(const struct static_conf *sc)
{
    struct static_cache *c = calloc(1, sizeof(struct static_cache));
    if (!c) return NULL;
    c->sc = sc;
    c->rootfd = -1;
    struct stat st;
    if (sc->rootfd >= 0) {
        c->rootfd = fcntl(sc->rootfd, F_DUPFD_CLOEXEC, 0);
        if (c->rootfd < 0 || fstat(c->rootfd, &st) < 0 || !(c->fw = fswatch_new())) {
            static_cache_free(c);
            return NULL;
        }
        c->root_dev = st.st_dev;
        c->root_ino = st.st_ino;
        if (sc->root_path) c->root_base = strrchr(sc->root_path, '/') + 1; /* it is absolute */
    }
    return c;
}

static void entry_free(struct static_cache *c, struct fentry *e)
{
    c->gen++;
    if (e->fd >= 0) {
        close(e->fd);
        c->fds--;
    }
    free(e->body);
    free(e->hdr);
    free(e);
    c->count--;
}

static void cache_clear(struct static_cache *c)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        while (c->slot[i]) {
            struct fentry *e = c->slot[i];
            c->slot[i] = e->next;
            entry_free(c, e);
        }
    }
}

void static_cache_free(struct static_cache *c)
{
    if (!c) return;
    cache_clear(c);
    fswatch_free(c->fw);
    if (c->rootfd >= 0) close(c->rootfd);
    free(c);
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct fentry *cache_find(struct static_cache *c, const char *path, uint32_t h)
{
    for (struct fentry *e = c->slot[h & (CACHE_SLOTS - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->path, path)) return e;
    return NULL;
}

static void cache_drop(struct static_cache *c, struct fentry *e)
{
    struct fentry **pp = &c->slot[e->hash & (CACHE_SLOTS - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    entry_free(c, e);
}

/* Out of descriptors or memory says nothing about the file: 503, and a
 * cached entry stays (the caller must neither cache nor drop on it). */
static int errno_status(int err)
{
    if (err == -EMFILE || err == -ENFILE || err == -ENOMEM) return 503;
    return err == -EACCES || err == -EPERM ? 403 : 404;
}

/* Resolves the request path to a regular file: a directory yields its first
 * index file that exists (sc->index is a comma-separated list, tried in
 * order, as python's http.server tries index.html then index.htm); *is_dir
 * tells the caller otherwise.  ipath (PATH_MAX bytes) receives the index
 * file's path, "" when none is used, so its type comes from its own name.
 * Returns an fd with *st filled, or -status. */
static int resolve(const struct static_conf *sc, const char *path, struct stat *st, int *is_dir,
                   char *ipath)
{
    *is_dir = 0;
    ipath[0] = '\0';
    int fd = beneath_open(sc->rootfd, path);
    if (fd < 0) return -errno_status(fd);
    if (fstat(fd, st) < 0) goto fail404;
    if (S_ISREG(st->st_mode)) return fd;
    if (!S_ISDIR(st->st_mode)) {
        close(fd);
        return -403;
    }
    /* without the trailing slash the caller redirects; relative links in the
     * index page would resolve against the parent otherwise */
    size_t pl = strlen(path);
    for (const char *nm = sc->index; nm && *nm && path[pl - 1] == '/';) {
        nm += strspn(nm, " \t"); /* "index.html, index.htm" means what it says */
        size_t nl = strcspn(nm, ",");
        while (nl && (nm[nl - 1] == ' ' || nm[nl - 1] == '\t'))
            nl--;
        /* resolved from the root, not the directory: an index that is a
         * symlink elsewhere inside the root is fine, one leaving it is not */
        struct stat ist;
        int ifd = -1;
        if (nl && !memchr(nm, '/', nl) && pl + nl < PATH_MAX) {
            memcpy(ipath, path, pl);
            memcpy(ipath + pl, nm, nl);
            ipath[pl + nl] = '\0';
            ifd = beneath_open(sc->rootfd, ipath);
        }
        if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
            close(fd);
            *st = ist;
            return ifd;
        }
        if (ifd >= 0) close(ifd);
        nm += strcspn(nm, ",");
        nm += *nm == ',';
    }
    ipath[0] = '\0';
    *is_dir = 1;
    return fd;
fail404:
    close(fd);
    return -404;
}

/* Fills the validators and prebuilds the header fields of a plain 200, so
 * the common answer is two memcpy calls.  The type is sniffed from the
 * file's first bytes where it may declare its own charset (one pread, at
 * fill time only; see mime_charset_sniff). */
static int fill_validators(struct fentry *e, const struct stat *st, int fd, const char *path,
                           const char *dflt)
{
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtim;
    e->etag_len = http_etag_make(st, e->etag, sizeof e->etag);
    http_date_fmt(st->st_mtim.tv_sec, e->lastmod);
    e->ctype = mime_type(path, dflt);
    e->cenc = mime_encoding(path);
    if (e->ctype && mime_sniffs(e->ctype)) {
        char head[1024];
        ssize_t k = pread(fd, head, sizeof head, 0);
        if (k > 0)
            e->ctype =
                mime_charset_sniff(e->ctype, head, (size_t)k, e->ctype_own, sizeof e->ctype_own);
    }
    char h[512];
    int n = snprintf(h, sizeof h,
                     "Last-Modified: %s\r\nETag: %.*s\r\nContent-Type: %s\r\n%s%s%sAccept-Ranges: "
                     "bytes\r\nContent-Length: %llu\r\n\r\n",
                     e->lastmod, (int)e->etag_len, e->etag, e->ctype,
                     e->cenc ? "Content-Encoding: " : "", e->cenc ? e->cenc : "",
                     e->cenc ? "\r\n" : "", (unsigned long long)e->size);
    if (n < 0 || (size_t)n >= sizeof h || !(e->hdr = malloc((size_t)n))) return -ENOMEM;
    memcpy(e->hdr, h, (size_t)n);
    e->hdr_len = (size_t)n;
    return 0;
}

static int same_file(const struct fentry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == (uint64_t)st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads a small file whole; a file that shrinks meanwhile is refused (NULL,
 * errno EAGAIN) so a torn read is never cached. */
static char *slurp(int fd, uint64_t size)
{
    char *b = malloc(size ? size : 1);
    if (!b) return NULL;
    uint64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, b + got, size - got, (off_t)got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) errno = EAGAIN;
            int err = errno;
            free(b);
            errno = err;
            return NULL;
        }
        got += (uint64_t)r;
    }
    return b;
}

/* Whether a cached descriptor's file is still what the entry says: a large
 * file truncated or rewritten in place keeps its inode, so only fstat sees
 * it (one call, beside a sendfile of more than 32 KiB).  A deleted one is
 * looked up again by name. */
static int fd_current(const struct fentry *e)
{
    struct stat st;
    return fstat(e->fd, &st) == 0 && st.st_nlink > 0 && same_file(e, &st);
}

/* Closes the descriptors of large files deleted since they were cached, so
 * their disk space is freed without waiting for a request. */
static void sweep(struct static_cache *c)
{
    for (int i = 0; i < CACHE_SLOTS && c->fds; i++)
        for (struct fentry *e = c->slot[i], *next; e; e = next) {
            next = e->next;
            struct stat st;
            if (e->fd >= 0 && fstat(e->fd, &st) == 0 && st.st_nlink == 0) cache_drop(c, e);
        }
}

/* The root by name: once a second, or at once after an event said it
 * moved, stat it; a different directory there (rm -rf dist && mkdir dist)
 * is opened and served from now on.  While nothing is there, the old one
 * stays and is looked for again at the next request. */
static void root_follow(struct static_cache *c)
{
    const struct static_conf *sc = c->sc;
    struct stat st;
    http_date_line(NULL, &c->root_checked);
    if (!sc->root_path || stat(sc->root_path, &st) < 0 || !S_ISDIR(st.st_mode)) return;
    if (st.st_dev == c->root_dev && st.st_ino == c->root_ino) {
        c->root_dirty = 0;
        return;
    }
    int fd = open(sc->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) close(fd);
        return;
    }
    close(c->rootfd);
    c->rootfd = fd;
    c->root_dev = st.st_dev;
    c->root_ino = st.st_ino;
    c->root_dirty = 0;
    cache_clear(c);
    fswatch_clear(c->fw);
    epoch_bump(sc);
}

/* Watches the directories of path before the file is read, so any later
 * change raises an event, and the root's parent for the root's own name.
 * Where a watch cannot be added, the once-a-second check stays in charge. */
static void watch_dirs(struct static_cache *c, const char *path)
{
    const struct static_conf *sc = c->sc;
    for (int again = 0; again < 2; again++) {
        if (c->root_base && *c->root_base && !fswatch_has(c->fw, "")) {
            char parent[PATH_MAX];
            int pl = (int)(c->root_base - sc->root_path) - 1; /* without the slash */
            snprintf(parent, sizeof parent, "%.*s", pl ? pl : 1, sc->root_path);
            (void)fswatch_add(c->fw, parent, "", FSWATCH_NAMES);
        }
        if (fswatch_add_dirs(c->fw, c->rootfd, path) != -ENOSPC) return;
        /* the table is full of directories requested once: start again, and
         * check every entry (and the root) before its next use, as its
         * watch is gone */
        fswatch_clear(c->fw);
        c->root_dirty = 1;
        for (int i = 0; i < CACHE_SLOTS; i++)
            for (struct fentry *e = c->slot[i]; e; e = e->next)
                e->checked = 0;
    }
}

static void on_change(void *arg, const char *key, const char *name, uint32_t mask)
{
    struct static_cache *c = arg;
    (void)mask; /* whatever changed, the entry is read again */
    if (!key) { /* the kernel's queue overflowed: events were lost */
        c->restructure = 1;
        return;
    }
    if (!*key) { /* the root's parent: only the root's own name matters */
        if (c->root_base && !strcmp(name, c->root_base)) c->root_dirty = c->restructure = 1;
        return;
    }
    if (!*name) { /* the directory itself moved, went away or changed mode */
        c->restructure = 1;
        if (!strcmp(key, "/")) c->root_dirty = 1;
        return;
    }
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s%s/", key, name);
    if (n < 0 || (size_t)n >= sizeof p) return;
    if (fswatch_has(c->fw, p)) c->restructure = 1; /* a directory with watches beneath */
    p[n - 1] = '\0';
    struct fentry *e = cache_find(c, p, hash_str(p));
    if (e) {
        cache_drop(c, e);
        c->changed = 1;
    }
    /* the directory's own entry, when it answered with its index file */
    if ((e = cache_find(c, key, hash_str(key)))) {
        cache_drop(c, e);
        c->changed = 1;
    }
}

int static_cache_watch_fd(const struct static_cache *c)
{
    return c->fw ? fswatch_fd(c->fw) : -1;
}

void static_cache_changes(struct static_cache *c)
{
    if (!c->fw) return;
    (void)fswatch_read(c->fw, on_change, c);
    if (c->restructure) {
        /* paths may now lead elsewhere: watches are rebuilt as entries are
         * revalidated, which the bump below makes every worker do */
        fswatch_clear(c->fw);
        c->restructure = 0;
        c->changed = c->root_dirty = 1; /* the root too may have gone meanwhile */
    }
    if (c->changed) {
        c->changed = 0;
        epoch_bump(c->sc);
        sweep(c);
    }
    if (c->root_dirty) { /* watched before it is looked at, so no replacement is missed */
        watch_dirs(c, "/");
        root_follow(c); /* now: the old root is not held meanwhile */
        watch_dirs(c, "/");
    }
}

/* Finds or builds the cache entry for path.  Returns it, or NULL with
 * *status set (404/403/503), or with *status = 0 and *dirfd set when the
 * path is a directory without an index (directories are never cached). */
static struct fentry *lookup(const struct static_conf *sc, struct static_cache *c, const char *path,
                             int *status, int *dirfd)
{
    uint32_t h = hash_str(path);
    struct fentry *e = cache_find(c, path, h);
    time_t now;
    http_date_line(NULL, &now);
    /* read before the file is: a change after this raises an event or a
     * bump, and the entry is checked again */
    uint64_t ep = epoch_load(sc);
    if (e && e->checked == now && e->epoch == ep && (e->fd < 0 || fd_current(e))) return e;

    if (c->root_dirty || c->root_checked != now) root_follow(c); /* may empty the cache */
    if (c->swept != now) {
        c->swept = now;
        sweep(c);
    }
    e = cache_find(c, path, h);
    watch_dirs(c, path);
    struct static_conf wsc = *sc; /* resolved beneath this worker's root */
    wsc.rootfd = c->rootfd;
    struct stat st;
    int is_dir, fd;
    char ipath[PATH_MAX];
    char *body = NULL;
    for (int tries = 1;; tries++) {
        fd = resolve(&wsc, path, &st, &is_dir, ipath);
        if (fd < 0 || is_dir) {
            /* out of descriptors or memory: the entry is kept, untouched */
            if (e && -fd != 503) {
                cache_drop(c, e);
                epoch_bump(sc);
            }
            *status = fd < 0 ? -fd : 0;
            *dirfd = fd;
            return NULL;
        }
        if (e && same_file(e, &st)) {
            close(fd);
            e->checked = now;
            e->epoch = ep;
            return e;
        }
        if ((uint64_t)st.st_size > SMALL_FILE) break;
        /* a small file is read whole; one that changed meanwhile (size or
         * mtime differ afterwards) is read again, never cached torn */
        struct stat after;
        body = slurp(fd, (uint64_t)st.st_size);
        int err = body ? 0 : errno;
        if (body && fstat(fd, &after) == 0 && after.st_size == st.st_size &&
            after.st_mtim.tv_sec == st.st_mtim.tv_sec &&
            after.st_mtim.tv_nsec == st.st_mtim.tv_nsec)
            break;
        free(body);
        body = NULL;
        close(fd);
        if (tries == 3 || (err && err != EAGAIN)) {
            *status = err && err != EAGAIN ? errno_status(-err) : 503;
            return NULL;
        }
    }
    /* another worker may still hold the old file as fresh: the bump makes it
     * look again before this worker answers with the new one; a file changed
     * in the last seconds is news to them even where this worker had none */
    uint64_t bumped = 0;
    if (e) {
        cache_drop(c, e);
        bumped = epoch_bump(sc);
    } else if (st.st_ctim.tv_sec >= now - 2) {
        bumped = epoch_bump(sc);
    }
    if (bumped == ep + 1) ep = bumped; /* nobody else bumped meanwhile */
    if (c->count >= CACHE_MAX) cache_clear(c);

    size_t pl = strlen(path);
    e = calloc(1, sizeof *e + pl + 1);
    if (!e) goto oom;
    memcpy(e->path, path, pl + 1);
    e->hash = h;
    e->fd = -1;
    if (fill_validators(e, &st, fd, ipath[0] ? ipath : path, sc->mime_default) < 0) {
        free(e);
        goto oom;
    }
    e->checked = now;
    e->epoch = ep;
    if (body) {
        e->body = body;
        close(fd);
    } else if (c->fds < CACHE_MAX_FDS) {
        e->fd = fd;
        c->fds++;
    } else {
        /* too many large files open already: serve this one uncached */
        e->fd = fd;
        *status = -1;
        *dirfd = -1;
        return e;
    }
    e->next = c->slot[h & (CACHE_SLOTS - 1)];
    c->slot[h & (CACHE_SLOTS - 1)] = e;
    c->count++;
    return e;
oom:
    free(body);
    close(fd);
    *status = 503;
    return NULL;
}

static int field_line(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static int field_line(struct buf *out, const char *fmt, ...)
{
    int rc = buf_reserve(out, 256);
    if (rc < 0) return rc;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf_tail(out), buf_room(out), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= buf_room(out)) return -ENOMEM;
    buf_commit(out, (size_t)n);
    return 0;
}

static int validators(struct buf *out, const struct fentry *e)
{
    return field_line(out, "Last-Modified: %s\r\nETag: %.*s\r\n", e->lastmod, (int)e->etag_len,
                      e->etag);
}

/* The file bytes [first, last] go out either from memory or as a region. */
static int body_slice(struct buf *out, const struct fentry *e, uint64_t first, uint64_t last,
                      struct http_xfer *x)
{
    if (e->body) return buf_append(out, e->body + first, last - first + 1);
    x->fd = dup(e->fd);
    if (x->fd < 0) return -errno;
    x->off = first;
    x->end = last + 1;
    x->size = e->size;
    x->mtime_sec = (int64_t)e->mtime.tv_sec;
    x->mtime_nsec = e->mtime.tv_nsec;
    return 0;
}

/* multipart/byteranges (RFC 9110 §14.6).  The ranges arrive coalesced
 * (sorted, disjoint), so the body is at most the file plus the part headers.
 * Small files' parts are copied from memory; a large file's parts go out one
 * by one by sendfile, each header appended by static_xfer_next() when the
 * previous part has been sent, so a connection holds one part header at a
 * time, never the body. */
struct static_parts {
    int n, next;
    uint64_t size; /* of the representation, for Content-Range */
    const char *boundary;
    char ctype[160];
    struct http_range r[HTTP_RANGE_MAX];
};

#define PART_HEAD "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n"

static int part_head(struct buf *out, const char *boundary, const char *ctype,
                     const struct http_range *r, uint64_t size)
{
    return field_line(out, PART_HEAD, boundary, ctype, (unsigned long long)r->first,
                      (unsigned long long)r->last, (unsigned long long)size);
}

static int part_tail(struct buf *out, const char *boundary)
{
    return field_line(out, "\r\n--%s--\r\n", boundary);
}

/* the exact Content-Length of the multipart body */
static uint64_t multipart_len(const char *boundary, const char *ctype, const struct http_range *r,
                              int n, uint64_t size)
{
    uint64_t total = strlen(boundary) + 8; /* "\r\n--B--\r\n" */
    for (int i = 0; i < n; i++)
        total +=
            (uint64_t)snprintf(NULL, 0, PART_HEAD, boundary, ctype, (unsigned long long)r[i].first,
                               (unsigned long long)r[i].last, (unsigned long long)size) +
            r[i].last - r[i].first + 1;
    return total;
}

int static_xfer_next(struct http_xfer *x, struct buf *out)
{
    struct static_parts *p = x->parts;
    if (p && p->next < p->n) {
        int rc = part_head(out, p->boundary, p->ctype, &p->r[p->next], p->size);
        if (rc < 0) return rc;
        x->off = p->r[p->next].first;
        x->end = p->r[p->next].last + 1;
        p->next++;
        return 1;
    }
    int rc = p ? part_tail(out, p->boundary) : 0;
    if (rc < 0) return rc;
    static_xfer_end(x);
    return 0;
}

uint64_t static_xfer_left(const struct http_xfer *x)
{
    if (x->fd < 0) return 0;
    uint64_t n = x->end - x->off;
    const struct static_parts *p = x->parts;
    if (!p) return n;
    for (int i = p->next; i < p->n; i++) {
        const struct http_range *r = &p->r[i];
        n += (uint64_t)snprintf(NULL, 0, PART_HEAD, p->boundary, p->ctype,
                                (unsigned long long)r->first, (unsigned long long)r->last,
                                (unsigned long long)p->size) +
             r->last - r->first + 1;
    }
    return n + strlen(p->boundary) + 8; /* "\r\n--B--\r\n" */
}

void static_xfer_end(struct http_xfer *x)
{
    if (x->fd >= 0) close(x->fd);
    x->fd = -1;
    free(x->parts);
    x->parts = NULL;
}

static int multipart(const struct static_conf *sc, const struct fentry *e,
                     const struct http_request *req, int keep_alive, const struct http_range *r,
                     int n, struct buf *out, struct http_xfer *x, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD;
    struct static_parts *p = NULL;
    const char *ctype = e->ctype;
    if (!head && !e->body) {
        /* everything that can fail does so before the head is queued */
        if (!(p = malloc(sizeof *p))) return -ENOMEM;
        int len = snprintf(p->ctype, sizeof p->ctype, "%s", e->ctype);
        if (len < 0 || (size_t)len >= sizeof p->ctype || (x->fd = dup(e->fd)) < 0) {
            int err = len < 0 || (size_t)len >= sizeof p->ctype ? -ENOMEM : -errno;
            free(p);
            return err;
        }
        x->size = e->size; /* what the head announces: a change voids the body */
        x->mtime_sec = (int64_t)e->mtime.tv_sec;
        x->mtime_nsec = e->mtime.tv_nsec;
        p->n = n;
        p->next = 0;
        p->size = e->size;
        p->boundary = sc->boundary;
        memcpy(p->r, r, (size_t)n * sizeof *r);
        x->parts = p;
        x->off = x->end = 0;
        ctype = p->ctype;
    }
    uint64_t total = multipart_len(sc->boundary, ctype, r, n, e->size);
    int rc = resp_head(out, 206, keep_alive, req->version);
    if (rc == 0) rc = validators(out, e);
    if (rc == 0)
        rc = field_line(out,
                        "Accept-Ranges: bytes\r\n%s%s%sContent-Type: multipart/byteranges; "
                        "boundary=%s\r\nContent-Length: %llu\r\n\r\n",
                        e->cenc ? "Content-Encoding: " : "", e->cenc ? e->cenc : "",
                        e->cenc ? "\r\n" : "", sc->boundary, (unsigned long long)total);
    *body_len = total;
    if (rc == 0 && p) rc = static_xfer_next(x, out); /* the first part's header */
    if (rc < 0 && p) static_xfer_end(x);             /* no file bytes behind a failed head */
    if (rc < 0 || head || p) return rc < 0 ? rc : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = part_head(out, sc->boundary, ctype, &r[i], e->size);
        if (rc == 0) rc = buf_append(out, e->body + r[i].first, r[i].last - r[i].first + 1);
    }
    if (rc == 0) rc = part_tail(out, sc->boundary);
    return rc;
}

static int serve_entry(const struct static_conf *sc, const struct fentry *e,
                       const struct http_request *req, int keep_alive, struct buf *out,
                       struct http_xfer *x, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, rc;
    *body_len = 0;
    if (!req->if_match.p && !req->if_none_match.p && !req->if_modified_since.p &&
        !req->if_unmodified_since.p && !req->range.p) {
        /* the common case: a plain GET of the whole file */
        if ((rc = resp_head(out, 200, keep_alive, req->version)) < 0 ||
            (rc = buf_append(out, e->hdr, e->hdr_len)) < 0)
            return rc;
        *body_len = e->size;
        if (!head && e->size) rc = body_slice(out, e, 0, e->size - 1, x);
        return rc < 0 ? rc : 200;
    }
    struct http_cond cond = {req->if_match, req->if_none_match, req->if_modified_since,
                             req->if_unmodified_since, req->if_range};
    int st = http_preconditions(&cond, 1, e->etag, e->etag_len, e->mtime.tv_sec);
    if (st == 304) {
        if ((rc = resp_head(out, 304, keep_alive, req->version)) < 0) return rc;
        if ((rc = validators(out, e)) < 0) return rc;
        return buf_append(out, "\r\n", 2) < 0 ? -ENOMEM : 304;
    }
    if (st == 412) {
        if ((rc = resp_error(out, 412, keep_alive, req->version, head, NULL, NULL)) < 0) return rc;
        *body_len = (uint64_t)rc; /* an error page's length: what the log shows */
        return 412;
    }

    /* overlapping and adjacent ranges are coalesced; too many scattered ones
     * leave the header ignored (see http_range_coalesce) */
    struct http_range r[HTTP_RANGE_SPECS];
    int n = 0;
    if (req->range.p && http_if_range_ok(req->if_range, e->etag, e->etag_len, e->mtime.tv_sec))
        n = http_range_parse(req->range.p, req->range.n, e->size, r, HTTP_RANGE_SPECS);
    if (n > 0) n = http_range_coalesce(r, n);
    if (n == -416) {
        char cr[64];
        snprintf(cr, sizeof cr, "Content-Range: bytes */%llu\r\n", (unsigned long long)e->size);
        if ((rc = resp_error(out, 416, keep_alive, req->version, head, cr, NULL)) < 0) return rc;
        *body_len = (uint64_t)rc;
        return 416;
    }
    if (n > 1) {
        rc = multipart(sc, e, req, keep_alive, r, n, out, x, body_len);
        return rc < 0 ? rc : 206;
    }
    uint64_t first = 0, last = e->size ? e->size - 1 : 0;
    int status = 200;
    if (n == 1) {
        status = 206;
        first = r[0].first;
        last = r[0].last;
    }
    uint64_t len = e->size ? last - first + 1 : 0;
    if ((rc = resp_head(out, status, keep_alive, req->version)) < 0) return rc;
    if ((rc = validators(out, e)) < 0) return rc;
    if (status == 206)
        rc = field_line(out, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)first,
                        (unsigned long long)last, (unsigned long long)e->size);
    if (rc == 0)
        rc = field_line(out,
                        "Content-Type: %s\r\n%s%s%sAccept-Ranges: bytes\r\nContent-Length: "
                        "%llu\r\n\r\n",
                        e->ctype, e->cenc ? "Content-Encoding: " : "", e->cenc ? e->cenc : "",
                        e->cenc ? "\r\n" : "", (unsigned long long)len);
    if (rc < 0) return rc;
    *body_len = len;
    if (!head && len) rc = body_slice(out, e, first, last, x);
    return rc < 0 ? rc : status;
}

static int serve_dir(const struct static_conf *sc, int dirfd, const struct http_request *req,
                     const char *path, int keep_alive, struct buf *out, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, rc;
    size_t pl = strlen(path);
    if (path[pl - 1] != '/') {
        /* the Location comes from the normalised path, re-encoded: the raw
         * one could be "//host", which a browser takes for another site */
        const char *q = memchr(req->path.p, '?', req->path.n);
        struct buf loc;
        buf_init(&loc, 0);
        rc = buf_append(&loc, "Location: ", 10);
        if (rc == 0) rc = http_url_encode(&loc, path, pl);
        if (rc == 0) rc = buf_append(&loc, "/", 1);
        if (rc == 0 && q) rc = buf_append(&loc, q, req->path.n - (size_t)(q - req->path.p));
        if (rc == 0) rc = buf_append(&loc, "\r\n", 3);
        close(dirfd);
        if (rc == 0)
            rc = resp_error(out, 301, keep_alive, req->version, head, buf_head(&loc), NULL);
        buf_free(&loc);
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 301;
    }
    if (!sc->listing) {
        close(dirfd);
        rc = resp_error(out, 403, keep_alive, req->version, head, NULL,
                        "Directory listing is turned off.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 403;
    }
    struct buf page;
    buf_init(&page, 0);
    rc = http_listing(&page, sc->rootfd, dirfd, path, sc->hidden);
    close(dirfd);
    if (rc < 0) {
        buf_free(&page);
        rc = resp_error(out, 403, keep_alive, req->version, head, NULL,
                        "The directory cannot be read.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 403;
    }
    *body_len = buf_len(&page);
    rc = resp_simple(out, 200, keep_alive, req->version, head, NULL, "text/html; charset=utf-8",
                     buf_head(&page), buf_len(&page));
    buf_free(&page);
    return rc < 0 ? rc : 200;
}

/* Out of descriptors or memory: 503, to be tried again shortly; a head
 * already assembled from mark on is taken back, and the cache is as it was. */
static int busy(struct buf *out, size_t mark, const struct http_request *req, int keep_alive)
{
    out->len = mark;
    int rc = resp_error(out, 503, keep_alive, req->version, req->method == HTTP_HEAD,
                        "Retry-After: 1\r\n", "Out of file descriptors or memory; try again.");
    return rc < 0 ? rc : 503;
}

int static_serve(const struct static_conf *sc, struct static_cache *cache,
                 const struct http_request *req, const char *path, int keep_alive, struct buf *out,
                 struct http_xfer *x, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, status = 0, dirfd = -1, rc;
    *body_len = 0;
    if (!sc->hidden && http_path_hidden(path)) {
        rc = resp_error(out, 404, keep_alive, req->version, head, NULL, "File not found.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 404;
    }
    struct fentry *e = lookup(sc, cache, path, &status, &dirfd);
    if (!e && status == 0) return serve_dir(sc, dirfd, req, path, keep_alive, out, body_len);
    if (status == 503) return busy(out, buf_len(out), req, keep_alive);
    if (!e) {
        rc = resp_error(out, status, keep_alive, req->version, head, NULL,
                        status == 404   ? "File not found."
                        : status == 403 ? "Permission denied."
                                        : NULL);
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : status;
    }
    if (status != -1 && req->path.n <= sizeof cache->memo_target) {
        memcpy(cache->memo_target, req->path.p, req->path.n);
        cache->memo_len = req->path.n;
        cache->memo = e;
        cache->memo_gen = cache->gen;
    }
    size_t mark = buf_len(out);
    rc = serve_entry(sc, e, req, keep_alive, out, x, body_len);
    if (rc == -EMFILE || rc == -ENFILE) rc = busy(out, mark, req, keep_alive); /* no dup */
    if (status == -1) { /* an uncached large file: the transfer has its own dup */
        close(e->fd);
        free(e->hdr);
        free(e);
    }
    return rc;
}

int static_serve_again(const struct static_conf *sc, struct static_cache *cache,
                       const struct http_request *req, int keep_alive, struct buf *out,
                       struct http_xfer *x, uint64_t *body_len)
{
    struct fentry *e = cache->memo;
    time_t now;
    if (!e || cache->memo_gen != cache->gen || req->path.n != cache->memo_len ||
        memcmp(req->path.p, cache->memo_target, req->path.n))
        return 0;
    http_date_line(NULL, &now);
    /* due for revalidation, changed anywhere, or a large file changed in
     * place: the full path does it */
    if (e->checked != now || e->epoch != epoch_load(sc) || (e->fd >= 0 && !fd_current(e))) return 0;
    size_t mark = buf_len(out);
    int rc = serve_entry(sc, e, req, keep_alive, out, x, body_len);
    return rc == -EMFILE || rc == -ENFILE ? busy(out, mark, req, keep_alive) : rc;
}

int static_xfer_intact(const struct http_xfer *x)
{
    struct stat st;
    return fstat(x->fd, &st) == 0 && (uint64_t)st.st_size == x->size &&
           (int64_t)st.st_mtim.tv_sec == x->mtime_sec && st.st_mtim.tv_nsec == x->mtime_nsec;
}
