/* fcache — a worker's cache of the files it served, and how it stays fresh
 * (the answering is static.c).
 *
 * An entry holds the validators, the prebuilt header fields, small files'
 * bytes and large files' descriptors.  Freshness: each worker watches
 * (inotify, http/fswatch) the directories of what it caches and drops an
 * entry as soon as it reads its file's change event; an entry is used
 * without looking at the file only if it was checked this second and at the
 * server's change epoch, which any worker that sees a change bumps before
 * it answers with the new bytes, so no worker answers old after new.  The
 * root is followed by name (a replaced docroot is reopened). */
#include "http/fcache.h"
#include "http/fcache_int.h"

#include "http/beneath.h"
#include "http/compress.h"
#include "http/cond.h"
#include "http/digest.h"
#include "http/encvar.h"
#include "http/fswatch.h"
#include "http/hasher.h"
#include "http/mime.h"
#include "http/policy.h"
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

#define SMALL_FILE  (32 * 1024) /* bytes kept in memory per cached file */
#define CACHE_SLOTS 1024        /* hash buckets at first (a power of two; doubles) */

/* A counter only this worker writes: a plain add, but as a relaxed atomic
 * store so a reader on another thread is no data race. */
static void tally(uint64_t *n)
{
    __atomic_store_n(n, __atomic_load_n(n, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void fcache_put(uint64_t *n, uint64_t v)
{
    __atomic_store_n(n, v, __ATOMIC_RELAXED);
}

void fcache_stats(const struct fcache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
    *misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
}

int fcache_side_fd_take(struct fcache *c)
{
    if (c->side_fds >= FCACHE_SIDE_FDS) return 0;
    fcache_put(&c->side_fds, c->side_fds + 1);
    return 1;
}

void fcache_side_fd_give(struct fcache *c)
{
    fcache_put(&c->side_fds, c->side_fds - 1);
}

void fcache_usage(const struct fcache *c, struct fcache_usage *u)
{
    memset(u, 0, sizeof *u);
    u->bytes = __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
    u->entries = __atomic_load_n(&c->count, __ATOMIC_RELAXED);
    u->evictions = __atomic_load_n(&c->evictions, __ATOMIC_RELAXED);
    u->side_fds = __atomic_load_n(&c->side_fds, __ATOMIC_RELAXED);
    if (c->cc) {
        struct ccache_stats cs;
        ccache_stats(c->cc, &cs);
        u->comp_made = cs.made;
        u->comp_in = cs.in;
        u->comp_out = cs.out;
        u->comp_hits = cs.hits;
        u->comp_misses = cs.misses;
        u->comp_evictions = cs.evictions;
        u->comp_bytes = cs.bytes;
        u->comp_items = cs.items;
        u->comp_fds = cs.fds;
        u->comp_jobs = cs.jobs;
    }
    if (!c->hasher) return;
    struct hasher_stats st;
    hasher_stats(c->hasher, &st);
    u->hash_queued = st.queued;
    u->hash_done = st.done;
    u->hash_dropped = st.dropped;
    u->hash_failed = st.failed;
    u->hash_bytes = st.bytes;
    u->hash_depth = (uint64_t)st.depth;
}

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

struct fcache *fcache_new(const struct static_conf *sc)
{
    struct fcache *c = calloc(1, sizeof(struct fcache));
    if (!c) return NULL;
    c->sc = sc;
    c->rootfd = -1;
    c->budget = sc->cache_size ? sc->cache_size : FCACHE_DEFAULT_SIZE;
    c->nslots = CACHE_SLOTS;
    c->slot = calloc(c->nslots, sizeof *c->slot);
    c->hasher = hasher_new();
    if (!c->slot || !c->hasher) {
        fcache_free(c);
        return NULL;
    }
    struct stat st;
    if (sc->rootfd >= 0) {
        c->rootfd = fcntl(sc->rootfd, F_DUPFD_CLOEXEC, 0);
        if (c->rootfd < 0 || fstat(c->rootfd, &st) < 0 || !(c->fw = fswatch_new())) {
            fcache_free(c);
            return NULL;
        }
        c->root_dev = st.st_dev;
        c->root_ino = st.st_ino;
        if (sc->root_path) c->root_base = strrchr(sc->root_path, '/') + 1; /* it is absolute */
    }
    if (sc->compress && sc->compress_cache && !(c->cc = ccache_new(sc->compress_cache))) {
        fcache_free(c);
        return NULL;
    }
    return c;
}

/* What the content encoding added to an entry (http/encvar). */
static void entry_free_encoding(struct fentry *e)
{
    encvar_free(e->var);
    free(e->fpath);
}

/* What an entry owns, released (cached or not). */
static void entry_destroy(struct fentry *e)
{
    if (e->fd >= 0) close(e->fd);
    free(e->body);
    free(e->hdr);
    entry_free_encoding(e);
    free(e);
}

/* ---- the table: buckets that grow, a CLOCK ring, a byte budget ---- */

uint32_t fcache_hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct fentry *fcache_find(struct fcache *c, const char *path, uint32_t h)
{
    for (struct fentry *e = c->slot[h & (c->nslots - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->path, path)) return e;
    return NULL;
}

/* Doubles the buckets once there are as many entries: chains stay about one
 * entry long, so a lookup is O(1) for 100,000 files as for 100.  Out of
 * memory, the old table stays (longer chains, still correct). */
static void table_grow(struct fcache *c)
{
    size_t n = c->nslots * 2;
    struct fentry **t = calloc(n, sizeof *t);
    if (!t) return;
    for (size_t i = 0; i < c->nslots; i++)
        for (struct fentry *e = c->slot[i], *next; e; e = next) {
            next = e->next;
            e->next = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(c->slot);
    c->slot = t;
    c->nslots = n;
}

/* An entry's share of the budget: the struct, its path, its prebuilt
 * fields, a small file's bytes, and its variants' state (small sidecars,
 * heads: http/encvar; compressed results have their own budget). */
static size_t entry_cost(const struct fentry *e)
{
    return sizeof *e + strlen(e->path) + 1 + e->hdr_len + (e->body ? (size_t)e->size : 0) +
           encvar_cost(e->var) + (e->fpath ? strlen(e->fpath) + 1 : 0);
}

static void evict_one(struct fcache *c, const struct fentry *keep);

void fcache_recost(struct fcache *c, struct fentry *e)
{
    if (!e->cached) return;
    size_t cost = entry_cost(e);
    fcache_put(&c->bytes, c->bytes - e->cost + cost);
    e->cost = cost;
    while (c->bytes > c->budget && c->count > 1)
        evict_one(c, e);
}

static void entry_free(struct fcache *c, struct fentry *e)
{
    c->gen++;
    if (e->fdslot >= 0) { /* the last descriptor entry takes its place */
        struct fentry *last = c->fdent[--c->fds];
        c->fdent[e->fdslot] = last;
        last->fdslot = e->fdslot;
    }
    /* the CLOCK ring */
    if (e->cnext == e) {
        c->hand = NULL;
    } else {
        e->cprev->cnext = e->cnext;
        e->cnext->cprev = e->cprev;
        if (c->hand == e) c->hand = e->cnext;
    }
    fcache_put(&c->bytes, c->bytes - e->cost);
    fcache_put(&c->count, c->count - 1);
    entry_destroy(e);
}

static void cache_drop(struct fcache *c, struct fentry *e)
{
    struct fentry **pp = &c->slot[e->hash & (c->nslots - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    entry_free(c, e);
}

static void cache_clear(struct fcache *c)
{
    while (c->hand)
        cache_drop(c, c->hand);
}

/* CLOCK: the hand passes entries used since its last pass (clearing their
 * mark) and takes the first one not used.  A hit costs one store, where
 * LRU would move the entry; entries read once (a crawler, a scan of 100,000
 * files) go before those read again.  No transfer holds an entry: a body
 * in flight has its own descriptor (dup) or was copied out, and the memo
 * is voided by gen, so any entry may go. */
static void evict_one(struct fcache *c, const struct fentry *keep)
{
    struct fentry *e = c->hand;
    while (e->ref || e == keep) { /* keep: in use (recharged), not the only entry */
        e->ref = 0;
        e = e->cnext;
    }
    c->hand = e->cnext;
    cache_drop(c, e);
    fcache_put(&c->evictions, c->evictions + 1);
}

/* Puts e in the table, evicting others while it would not fit the budget.
 * 0, or -1 when e alone is larger than the budget (serve it uncached). */
static int cache_insert(struct fcache *c, struct fentry *e)
{
    e->cost = entry_cost(e);
    if (e->cost > c->budget) return -1;
    while (c->hand && c->bytes + e->cost > c->budget)
        evict_one(c, NULL);
    if (c->count >= c->nslots) table_grow(c);
    e->next = c->slot[e->hash & (c->nslots - 1)];
    c->slot[e->hash & (c->nslots - 1)] = e;
    if (!c->hand) { /* behind the hand: the last the hand will look at */
        e->cnext = e->cprev = e;
        c->hand = e;
    } else {
        e->cnext = c->hand;
        e->cprev = c->hand->cprev;
        e->cprev->cnext = e;
        c->hand->cprev = e;
    }
    e->cached = 1;
    fcache_put(&c->bytes, c->bytes + e->cost);
    fcache_put(&c->count, c->count + 1);
    return 0;
}

void fcache_free(struct fcache *c)
{
    if (!c) return;
    hasher_free(c->hasher); /* first: its thread may be reading our files */
    fcache_hash_forget(c);  /* other workers hash what it had left */
    if (c->slot) cache_clear(c);
    free(c->slot);
    fswatch_free(c->fw);
    ccache_free(c->cc);
    if (c->rootfd >= 0) close(c->rootfd);
    free(c);
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
        if (errno_status(ifd) == 503) { /* no descriptor: says nothing of the index */
            close(fd);
            return -503;
        }
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
static void sweep(struct fcache *c)
{
    for (int i = c->fds - 1; i >= 0; i--) { /* a drop moves the last into slot i */
        struct stat st;
        if (i < c->fds && fstat(c->fdent[i]->fd, &st) == 0 && st.st_nlink == 0)
            cache_drop(c, c->fdent[i]);
    }
}

/* The root by name: once a second, or at once after an event said it
 * moved, stat it; a different directory there (rm -rf dist && mkdir dist)
 * is opened and served from now on.  While nothing is there, the old one
 * stays and is looked for again at the next request. */
static void root_follow(struct fcache *c)
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
static void watch_dirs(struct fcache *c, const char *path)
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
        struct fentry *e = c->hand;
        if (e) do {
                e->checked = 0;
            } while ((e = e->cnext) != c->hand);
    }
}

/* A precompressed sidecar (F.br, F.zst, F.gz) that changed, appeared or
 * went away: F's entry is dropped, so its variants are looked at anew. */
static void sidecar_changed(struct fcache *c, char *p, size_t n)
{
    static const char *const sfx[] = {".br", ".zst", ".gz"};
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        size_t k = strlen(sfx[i]);
        if (n <= k || strcmp(p + n - k, sfx[i])) continue;
        p[n - k] = '\0';
        struct fentry *e = fcache_find(c, p, fcache_hash_str(p));
        if (e) {
            cache_drop(c, e);
            c->changed = 1;
        }
        p[n - k] = sfx[i][0];
        return;
    }
}

static void on_change(void *arg, const char *key, const char *name, uint32_t mask)
{
    struct fcache *c = arg;
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
    struct fentry *e = fcache_find(c, p, fcache_hash_str(p));
    if (e) {
        cache_drop(c, e);
        c->changed = 1;
    }
    /* the directory's own entry, when it answered with its index file */
    if ((e = fcache_find(c, key, fcache_hash_str(key)))) {
        cache_drop(c, e);
        c->changed = 1;
    }
    sidecar_changed(c, p, (size_t)n - 1);
}

struct ccache *fcache_ccache(const struct fcache *c)
{
    return c->cc;
}

int fcache_rootfd(const struct fcache *c)
{
    return c->rootfd;
}

/* the walk budget: credit accrues at half the clock's pace, up to the burst */
static void walk_refill(struct fcache *c, uint64_t now)
{
    if (now > c->walk_at) {
        uint64_t add = (now - c->walk_at) / 2;
        c->walk_credit = add >= (uint64_t)FCACHE_WALK_BURST_NS - (uint64_t)c->walk_credit
                             ? FCACHE_WALK_BURST_NS
                             : c->walk_credit + (int64_t)add;
        c->walk_at = now;
    }
}

int fcache_walk_allowed(struct fcache *c, uint64_t now)
{
    walk_refill(c, now);
    return c->walk_credit > 0;
}

void fcache_walk_done(struct fcache *c, uint64_t start, uint64_t end)
{
    walk_refill(c, end);
    c->walk_credit -= (int64_t)(end - start);
}

int fcache_watch_fd(const struct fcache *c)
{
    return c->fw ? fswatch_fd(c->fw) : -1;
}

void fcache_changes(struct fcache *c)
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
struct fentry *fcache_lookup(const struct static_conf *sc, struct fcache *c, const char *path,
                             int *status, int *dirfd)
{
    uint32_t h = fcache_hash_str(path);
    struct fentry *e = fcache_find(c, path, h);
    time_t now;
    http_date_line(NULL, &now);
    /* read before the file is: a change after this raises an event or a
     * bump, and the entry is checked again */
    uint64_t ep = epoch_load(sc);
    if (e && e->checked == now && e->epoch == ep && (e->fd < 0 || fd_current(e))) {
        tally(&c->hits);
        e->ref = 1;
        if (e->want) fcache_hash_ask(c, e); /* its queue was full: again */
        return e;
    }

    if (c->root_dirty || c->root_checked != now) root_follow(c); /* may empty the cache */
    if (c->swept != now) {
        c->swept = now;
        sweep(c);
    }
    e = fcache_find(c, path, h);
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
            tally(&c->hits);
            e->ref = 1;
            if (e->want) fcache_hash_ask(c, e);
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
    tally(&c->misses);

    size_t pl = strlen(path);
    e = calloc(1, sizeof *e + pl + 1);
    if (!e) goto oom;
    memcpy(e->path, path, pl + 1);
    e->hash = h;
    e->fd = -1;
    e->cc = policy_cache_control(sc->pol, path); /* baked into the prebuilt head */
    if ((ipath[0] && !(e->fpath = strdup(ipath))) ||
        fcache_fill(sc, e, &st, fd, ipath[0] ? ipath : path, body) < 0) {
        free(e->fpath);
        free(e->hdr);
        free(e);
        goto oom;
    }
    e->checked = now;
    e->epoch = ep;
    if (body) {
        e->body = body;
        close(fd);
    } else {
        e->fd = fd;
    }
    /* too many large files open already, or larger than the whole budget:
     * served uncached */
    if ((e->fd >= 0 && c->fds >= CACHE_MAX_FDS) || cache_insert(c, e) < 0) {
        *status = -1;
        *dirfd = -1;
        return e;
    }
    if (e->fd >= 0) {
        e->fdslot = (int16_t)c->fds;
        c->fdent[c->fds++] = e;
        fcache_hash_ask(c, e);
    }
    return e;
oom:
    free(body);
    close(fd);
    *status = 503;
    return NULL;
}

void fcache_memo_set(struct fcache *c, const char *target, size_t n, struct fentry *e)
{
    if (n > sizeof c->memo_target) return;
    memcpy(c->memo_target, target, n);
    c->memo_len = n;
    c->memo = e;
    c->memo_gen = c->gen;
}

struct fentry *fcache_memo_get(struct fcache *c, const char *target, size_t n)
{
    struct fentry *e = c->memo;
    time_t now;
    if (!e || c->memo_gen != c->gen || n != c->memo_len || memcmp(target, c->memo_target, n))
        return NULL;
    http_date_line(NULL, &now);
    /* due for revalidation, changed anywhere, or a large file changed in
     * place: the full lookup does it */
    if (e->checked != now || e->epoch != epoch_load(c->sc) || (e->fd >= 0 && !fd_current(e)))
        return NULL;
    tally(&c->hits);
    e->ref = 1;
    if (e->want) fcache_hash_ask(c, e);
    return e;
}

void fcache_entry_release(struct fentry *e)
{
    entry_destroy(e);
}
