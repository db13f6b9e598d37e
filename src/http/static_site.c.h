/* static_site.c.h — the site features of static answers (issue 11),
 * included by static.c (they share its static helpers): the SPA fallback,
 * directory listings' order and JSON form, and directory downloads as tar.
 * Kept apart so static.c's file path stays what it was. */

/* ---- the query ---- */

/* The raw value of key in the request's query, or NULL (no decoding: the
 * values asked for are plain words). */
static const char *query_get(const struct http_request *req, const char *key, size_t *vlen)
{
    const char *q = memchr(req->path.p, '?', req->path.n);
    if (!q) return NULL;
    const char *end = req->path.p + req->path.n, *p = q + 1;
    size_t kl = strlen(key);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > kl && !memcmp(p, key, kl) && p[kl] == '=') {
            *vlen = (size_t)(stop - p) - kl - 1;
            return p + kl + 1;
        }
        p = stop + 1;
    }
    return NULL;
}

static int query_is(const struct http_request *req, const char *key, const char *val)
{
    size_t n;
    const char *v = query_get(req, key, &n);
    return v && n == strlen(val) && !memcmp(v, val, n);
}

/* ---- listings ---- */

/* ?sort=name|size|mtime, &order=asc|desc (anything else: the default), and
 * the form: JSON when Accept prefers application/json to text/html, or
 * names it where text/html only matches a wildcard */
static void listing_opts_of(const struct http_request *req, struct listing_opts *lo)
{
    lo->sort = query_is(req, "sort", "size")    ? LISTING_SIZE
               : query_is(req, "sort", "mtime") ? LISTING_MTIME
                                                : LISTING_NAME;
    lo->desc = query_is(req, "order", "desc");
    int qj = http_accept_req(req, "application/json", 0), qh = http_accept_req(req, "text/html", 0);
    lo->json =
        qj > 0 && (qj > qh || (qj == qh && http_accept_req(req, "application/json", 1) >= 0 &&
                               http_accept_req(req, "text/html", 1) < 0));
}

/* ---- SPA fallback ---- */

/* Inserts line before the blank line ending the head appended at mark. */
static int head_insert(struct buf *out, size_t mark, const char *line)
{
    size_t ll = strlen(line);
    int rc = buf_reserve(out, ll);
    if (rc < 0) return rc;
    char *h = (char *)buf_head(out);
    char *end = memmem(h + mark, buf_len(out) - mark, "\r\n\r\n", 4);
    if (!end) return -EINVAL;
    char *at = end + 2;
    memmove(at + ll, at, (size_t)(h + buf_len(out) - at));
    memcpy(at, line, ll);
    buf_commit(out, ll);
    return 0;
}

/* A missing path whose last segment has no extension, under --spa: a GET
 * or HEAD that names text/html in Accept (a browser navigating; not a
 * script's fetch, whose default Accept is any type) gets the root's index file, 200, with its
 * validators; anything else the 404.  Either carries Vary: Accept.  0 when
 * the path is not such a route. */
static int site_spa(const struct static_conf *sc, struct fcache *cache,
                    const struct http_request *req, const char *path, int keep_alive,
                    struct buf *out, struct http_xfer *x, uint64_t *body_len)
{
    const char *last = strrchr(path, '/');
    if (!sc->pol || !sc->pol->spa || strchr(last ? last : path, '.')) return 0;
    int head = req->method == HTTP_HEAD, status = 0, dirfd = -1, rc;
    struct fentry *e = NULL;
    if (http_accept_req(req, "text/html", 1) > 0)
        e = fcache_lookup(sc, cache, "/", &status, &dirfd);
    if (!e && status == 0 && dirfd >= 0) close(dirfd);
    if (!e && status == 503) return busy(out, buf_len(out), req, keep_alive);
    if (!e) {
        rc = resp_error(out, 404, keep_alive, req->version, head, "Vary: Accept\r\n",
                        "File not found.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 404;
    }
    /* never memoised: the same target with another Accept is a 404 */
    size_t mark = buf_len(out);
    rc = serve_file(sc, cache, e, req, keep_alive, out, x, body_len);
    if (rc > 0) {
        int ins = head_insert(out, mark, "Vary: Accept\r\n");
        if (ins < 0) {
            static_xfer_end(x);
            rc = ins;
        }
    }
    if (rc == -EMFILE || rc == -ENFILE) rc = busy(out, mark, req, keep_alive);
    if (status == -1) fcache_entry_release(e);
    return rc;
}

/* ---- directory downloads ---- */

static int tar_xfer_next(struct http_xfer *x, struct buf *out)
{
    struct tar *t = x->parts->tar;
    if (x->fd >= 0) close(x->fd);
    x->fd = -1;
    int fd;
    uint64_t size;
    struct timespec mt;
    int rc = tar_next(t, out, &fd, &size, &mt);
    if (rc <= 0) {
        if (rc == 0) static_xfer_end(x);
        return rc;
    }
    x->fd = fd;
    x->off = 0;
    x->end = x->size = size;
    x->mtime_sec = (int64_t)mt.tv_sec;
    x->mtime_nsec = mt.tv_nsec;
    return 1;
}

/* Content-Disposition (RFC 6266): filename="<top>.tar" in ASCII with
 * anything else as '_', and filename* (RFC 8187) with the exact UTF-8 name
 * when that lost something. */
static int disposition(struct buf *out, const char *top)
{
    int rc = buf_append(out, "Content-Disposition: attachment; filename=\"", 43), exact = 1;
    for (const char *p = top; *p && rc == 0; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        exact &= ok;
        rc = buf_append(out, ok ? p : "_", 1);
    }
    if (rc == 0) rc = buf_append(out, ".tar\"", 5);
    if (rc == 0 && !exact) {
        rc = buf_append(out, "; filename*=UTF-8''", 19);
        if (rc == 0) rc = http_url_encode(out, top, strlen(top));
        if (rc == 0) rc = buf_append(out, ".tar", 4);
    }
    return rc == 0 ? buf_append(out, "\r\n", 2) : rc;
}

/* The walk budget (fcache_walk_allowed): what a listing or download may
 * read while it is spent, and the answer for a larger one. */
#define WALK_SMALL_ENTRIES 256

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int walk_busy(struct buf *out, const struct http_request *req, int keep_alive,
                     uint64_t *body_len)
{
    int rc = resp_error(out, 503, keep_alive, req->version, req->method == HTTP_HEAD,
                        "Retry-After: 1\r\n",
                        "Other large directories were just read here; try again in a second.");
    if (rc > 0) *body_len = (uint64_t)rc;
    return rc < 0 ? rc : 503;
}

/* ?download=tar on a directory (its URL ending in '/'): the tree as a tar
 * stream (http/tar), allowed where a listing would be.  0 when path is no
 * directory (the query is then ignored, as any other). */
static int site_tar(const struct static_conf *sc, struct fcache *cache,
                    const struct http_request *req, const char *path, int keep_alive,
                    struct buf *out, struct http_xfer *x, uint64_t *body_len)
{
    size_t pl = strlen(path);
    if (path[pl - 1] != '/' || !query_is(req, "download", "tar")) return 0;
    int rootfd = fcache_rootfd(cache), head = req->method == HTTP_HEAD, rc;
    int fd = beneath_open(rootfd, path);
    struct stat st;
    int dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (fd >= 0) close(fd);
    if (!dir) return 0;
    const char *why = NULL;
    struct tar *t = NULL;
    uint64_t total = 0;
    /* the name: the directory's, the docroot's for "/" */
    char top[256] = "files";
    const char *seg = path + pl - 1;
    while (seg > path && seg[-1] != '/')
        seg--;
    if (seg < path + pl - 1)
        snprintf(top, sizeof top, "%.*s", (int)(path + pl - 1 - seg), seg);
    else if (sc->root_path && strrchr(sc->root_path, '/')[1])
        snprintf(top, sizeof top, "%s", strrchr(sc->root_path, '/') + 1);
    if (!sc->listing || (sc->pol && sc->pol->no_tar)) {
        why = "Directory downloads are turned off.";
    } else {
        /* the walk runs on the loop: with the worker's walk budget spent
         * (fcache_walk_allowed), only a small tree is walked now */
        uint64_t start = now_ns();
        int spent = !fcache_walk_allowed(cache, start);
        rc = tar_open(&t, rootfd, path, top, sc->hidden,
                      spent ? WALK_SMALL_ENTRIES : TAR_MAX_ENTRIES, &total);
        fcache_walk_done(cache, start, now_ns());
        if (rc == -E2BIG && spent) return walk_busy(out, req, keep_alive, body_len);
        if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM)
            return busy(out, buf_len(out), req, keep_alive);
        if (rc == -E2BIG)
            why = "The directory holds more than 20000 entries or 32 levels: too many for one "
                  "download; download its subdirectories.";
        else if (rc < 0)
            why = "The directory cannot be read.";
    }
    if (why) {
        rc = resp_error(out, 403, keep_alive, req->version, head, NULL, why);
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 403;
    }
    size_t mark = buf_len(out);
    rc = resp_head(out, 200, keep_alive, req->version);
    if (rc == 0) rc = disposition(out, top);
    if (rc == 0)
        rc = field_line(out, "Content-Type: application/x-tar\r\nContent-Length: %llu\r\n\r\n",
                        (unsigned long long)total);
    struct static_parts *p = NULL;
    if (rc == 0 && !head) {
        if (!(p = calloc(1, sizeof *p))) {
            rc = -ENOMEM;
        } else {
            p->tar = t;
            t = NULL;
            x->parts = p;
            x->fd = -1;
            rc = static_xfer_next(x, out);    /* the first headers, and the first file */
            if (rc == 0 && x->fd < 0) rc = 1; /* nothing but headers: all in memory */
        }
    }
    tar_free(t);
    if (rc < 0) {
        static_xfer_end(x);
        return busy(out, mark, req, keep_alive);
    }
    *body_len = total;
    return 200;
}
