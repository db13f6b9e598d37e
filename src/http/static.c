/* static — answering GET and HEAD from the file cache (http/fcache): whole
 * files, validators and preconditions, ranges and multipart/byteranges,
 * directories (redirect, index, listing). */
#include "http/static.h"

#include "http/accept.h"
#include "http/beneath.h"
#include "http/cond.h"
#include "http/digest.h"
#include "http/encvar.h"
#include "http/listing.h"
#include "http/mime.h"
#include "http/path.h"
#include "http/policy.h"
#include "http/range.h"
#include "http/resp.h"
#include "http/tar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int field_line(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int field_line(struct buf *out, const char *fmt, ...)
{
    int rc = buf_reserve(out, 256);
    if (rc < 0) return rc;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf_tail(out), buf_room(out), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= buf_room(out)) {
        /* longer than the room (a long Cache-Control): once more with room */
        if ((rc = buf_reserve(out, (size_t)n + 1)) < 0) return rc;
        va_start(ap, fmt);
        n = vsnprintf(buf_tail(out), buf_room(out), fmt, ap);
        va_end(ap);
    }
    if (n < 0 || (size_t)n >= buf_room(out)) return -ENOMEM;
    buf_commit(out, (size_t)n);
    return 0;
}

static int validators(struct buf *out, const struct fentry *e)
{
    /* Cache-Control too: a 304 carries it (RFC 9111 §4.3.4), and 206 as 200;
     * Vary on every answer for a file with variants */
    return field_line(out, "Last-Modified: %s\r\nETag: %.*s\r\n%s%s%s%s", e->lastmod,
                      (int)e->etag_len, e->etag, e->cc ? "Cache-Control: " : "", e->cc ? e->cc : "",
                      e->cc ? "\r\n" : "", e->vary ? e->vary : "");
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

/* ---- RFC 9530 digests: Repr-Digest and Content-Digest ---- */

#define WANT_FIELD_MAX   1024        /* Want-*-Digest bytes looked at, lines joined */
#define RANGE_DIGEST_MAX (64 * 1024) /* a large file's range hashed on the loop */

/* What the request asks for (Want-Repr-Digest, Want-Content-Digest). */
struct digest_ask {
    struct http_digest_want repr, content;
};

/* Parses the field named name (its lines joined by ", ", as RFC 9110
 * §5.3 combines them); absent, too long or malformed: nothing wanted. */
static int want_field(const struct http_request *req, const char *name, size_t nl,
                      struct http_digest_want *w)
{
    char j[WANT_FIELD_MAX];
    size_t jl = 0;
    int lines = 0;
    struct http_str one = {NULL, 0};
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name.n != nl || !http_str_eq_ci(h->name, name)) continue;
        if (!lines++) one = h->value;
        if (jl + h->value.n + 2 > WANT_FIELD_MAX) return 1;
        if (jl) {
            memcpy(j + jl, ", ", 2);
            jl += 2;
        }
        memcpy(j + jl, h->value.p, h->value.n);
        jl += h->value.n;
    }
    if (lines == 1) (void)http_digest_want_parse(one.p, one.n, w);
    if (lines > 1) (void)http_digest_want_parse(j, jl, w);
    return lines > 0;
}

/* 1 when the request has a Want-*-Digest field (the answer cannot be the
 * prebuilt one), its preferences in *a.  A request without one costs a
 * length comparison per field. */
static int digest_wanted(const struct http_request *req)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if ((req->headers[i].name.n == 16 || req->headers[i].name.n == 19) &&
            (http_str_eq_ci(req->headers[i].name, "want-repr-digest") ||
             http_str_eq_ci(req->headers[i].name, "want-content-digest")))
            return 1;
    return 0;
}

static int digest_asked(const struct http_request *req, struct digest_ask *a)
{
    memset(a, 0, sizeof *a);
    if (!digest_wanted(req)) return 0;
    want_field(req, "want-repr-digest", 16, &a->repr);
    want_field(req, "want-content-digest", 19, &a->content);
    return 1;
}

static unsigned wanted(const struct http_digest_want *w)
{
    unsigned m = 0;
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if (w->pref[a]) m |= 1u << a;
    return m;
}

static int digest_line(struct buf *out, const char *name, unsigned algs,
                       const uint8_t *const d[HTTP_DIGEST_ALGS])
{
    char f[HTTP_DIGEST_FIELD_MAX];
    size_t n = http_digest_field(f, sizeof f, name, algs, d);
    return n ? buf_append(out, f, n) : 0;
}

/* The digest of bytes [first, last] of e: from memory, or read here when
 * the range is small (a larger one would hold the loop: omitted, -1). */
static int range_digest(const struct fentry *e, int alg, uint64_t first, uint64_t last,
                        uint8_t *out)
{
    uint64_t len = e->size ? last - first + 1 : 0;
    if (e->body) return http_digest_mem(alg, e->body + first, len, out);
    if (len > RANGE_DIGEST_MAX) return -1;
    char *b = malloc(len ? len : 1);
    if (!b) return -ENOMEM;
    uint64_t got = 0;
    while (got < len) {
        ssize_t k = pread(e->fd, b + got, len - got, (off_t)(first + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (uint64_t)k;
    }
    int rc = got == len ? http_digest_mem(alg, b, len, out) : -1;
    free(b);
    return rc;
}

/* Repr-Digest (the whole representation: --digest sends sha-256,
 * Want-Repr-Digest the client's choice among those known) and, with a
 * body, Content-Digest of what this answer sends: the representation for a
 * 200, the range for a 206 with one range (multipart is multipart()'s).  A
 * coded variant (e a view, e->venc set) is a representation of its own:
 * its bytes' digests (http/encvar), by the same rules.  A large file's or
 * sidecar's digests come from the hasher: until they are known, the field
 * is left out, never waited for.  HEAD gets the Repr-Digest a GET would
 * (it has no content). */
static int digest_fields(const struct static_conf *sc, struct fcache *c, struct fentry *e,
                         const struct digest_ask *a, int head, int status, uint64_t first,
                         uint64_t last, struct buf *out)
{
    unsigned want = wanted(&a->repr) | (sc->digest ? 1u << HTTP_DIGEST_SHA256 : 0);
    if (status == 200 && !head) want |= wanted(&a->content);
    unsigned have = want ? encvar_view_digests(c, e, want) : 0;
    const uint8_t *d[HTTP_DIGEST_ALGS] = {e->sha256, e->sha512};
    unsigned repr = sc->digest ? have & (1u << HTTP_DIGEST_SHA256) : 0;
    int alg = http_digest_choose(&a->repr, have);
    if (alg >= 0) repr |= 1u << alg;
    int rc = repr ? digest_line(out, "Repr-Digest", repr, d) : 0;
    if (rc < 0 || head || status == 0) return rc;
    if (status == 200) {
        alg = http_digest_choose(&a->content, have);
        return alg < 0 ? 0 : digest_line(out, "Content-Digest", 1u << alg, d);
    }
    alg = http_digest_choose(&a->content, (1u << HTTP_DIGEST_ALGS) - 1);
    uint8_t part[HTTP_DIGEST_MAX];
    if (alg < 0 || range_digest(e, alg, first, last, part) < 0) return 0;
    const uint8_t *pd[HTTP_DIGEST_ALGS] = {part, part};
    return digest_line(out, "Content-Digest", 1u << alg, pd);
}

/* multipart/byteranges (RFC 9110 §14.6).  The ranges arrive coalesced
 * (sorted, disjoint), so the body is at most the file plus the part headers.
 * Small files' parts are copied from memory; a large file's parts go out one
 * by one by sendfile, each header appended by static_xfer_next() when the
 * previous part has been sent, so a connection holds one part header at a
 * time, never the body. */
struct static_parts {
    struct tar *tar; /* a directory's tar stream (static_tar.c.h) instead of ranges */
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

static int tar_xfer_next(struct http_xfer *x, struct buf *out);

int static_xfer_next(struct http_xfer *x, struct buf *out)
{
    struct static_parts *p = x->parts;
    if (p && p->tar) return tar_xfer_next(x, out);
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
    if (p->tar) return n + tar_left(p->tar);
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
    if (x->parts) tar_free(x->parts->tar);
    free(x->parts);
    x->parts = NULL;
}

/* A small file's multipart body, whole, into b (its Content-Digest is
 * computed over it before the head is written). */
static int multipart_body(struct buf *b, const char *boundary, const char *ctype,
                          const struct fentry *e, const struct http_range *r, int n)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = part_head(b, boundary, ctype, &r[i], e->size);
        if (rc == 0) rc = buf_append(b, e->body + r[i].first, r[i].last - r[i].first + 1);
    }
    return rc == 0 ? part_tail(b, boundary) : rc;
}

static int multipart(const struct static_conf *sc, struct fcache *c, struct fentry *e,
                     const struct http_request *req, const struct digest_ask *ask, int keep_alive,
                     const struct http_range *r, int n, struct buf *out, struct http_xfer *x,
                     uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD;
    struct static_parts *p = NULL;
    const char *ctype = e->ctype;
    if (!head && !e->body) {
        /* everything that can fail does so before the head is queued */
        if (!(p = malloc(sizeof *p))) return -ENOMEM;
        p->tar = NULL;
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
    if (rc == 0) rc = digest_fields(sc, c, e, ask, head, 0, 0, 0, out);
    /* Content-Digest of the multipart body: a small file's is built here
     * first; a large file's parts go out by sendfile, and reading them all
     * on the loop to hash them first is what it must not do: omitted */
    int calg =
        head || !e->body ? -1 : http_digest_choose(&ask->content, (1u << HTTP_DIGEST_ALGS) - 1);
    struct buf mb;
    buf_init(&mb, 0);
    if (rc == 0 && calg >= 0 && (rc = multipart_body(&mb, sc->boundary, ctype, e, r, n)) == 0) {
        uint8_t md[HTTP_DIGEST_MAX];
        const uint8_t *d[HTTP_DIGEST_ALGS] = {md, md};
        rc = http_digest_mem(calg, buf_head(&mb), buf_len(&mb), md);
        if (rc == 0) rc = digest_line(out, "Content-Digest", 1u << calg, d);
    }
    if (rc == 0)
        rc = field_line(out,
                        "Accept-Ranges: bytes\r\n%s%s%sContent-Type: multipart/byteranges; "
                        "boundary=%s\r\nContent-Length: %llu\r\n\r\n",
                        e->cenc ? "Content-Encoding: " : "", e->cenc ? e->cenc : "",
                        e->cenc ? "\r\n" : "", sc->boundary, (unsigned long long)total);
    *body_len = total;
    if (rc == 0 && p) rc = static_xfer_next(x, out); /* the first part's header */
    if (rc < 0 && p) static_xfer_end(x);             /* no file bytes behind a failed head */
    if (rc < 0 || head || p) {
        buf_free(&mb);
        return rc < 0 ? rc : 0;
    }
    rc = calg >= 0 ? buf_append(out, buf_head(&mb), buf_len(&mb))
                   : multipart_body(out, sc->boundary, ctype, e, r, n);
    buf_free(&mb);
    return rc;
}

/* A large file is answered with the tag of its inode, size and mtime until
 * its hash is known (and again after its entry was evicted, or by another
 * worker): that tag names this very version too, so a conditional that
 * carries it matches as the content tag does.  A download resumed with
 * If-Range, or a revalidation, a moment after the switch, is not sent the
 * whole file again.  0 when there is no such alias (small files never
 * sent one). */
static size_t old_tag(const struct fentry *e, char *out, size_t n)
{
    /* a sidecar's alias is its own version's (http/encvar); a compressed
     * result's tag never was a cheap one */
    if (e->venc) return encvar_alias(e, out, n);
    if (e->body || !(e->hashed & (1u << HTTP_DIGEST_SHA256))) return 0;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = e->ino;
    st.st_size = (off_t)e->size;
    st.st_mtim = e->mtime;
    return http_etag_make(&st, out, n);
}

/* RFC 9110 §13.2.2 against the entry's tag, or its old one: a failed
 * If-Match or a missed If-None-Match under one name is retried under the
 * other, the same version's. */
static int preconditions(const struct http_cond *cond, const struct fentry *e)
{
    int st = http_preconditions(cond, 1, e->etag, e->etag_len, e->lm);
    char old[HTTP_ETAG_MAX];
    size_t n;
    if (st == 304 || !(n = old_tag(e, old, sizeof old))) return st;
    int st2 = http_preconditions(cond, 1, old, n, e->lm);
    return st == 412 ? (st2 != 412 ? st2 : st) : (st2 == 304 ? st2 : st);
}

static int if_range_ok(struct http_str if_range, const struct fentry *e)
{
    char old[HTTP_ETAG_MAX];
    size_t n;
    return http_if_range_ok(if_range, e->etag, e->etag_len, e->lm) ||
           ((n = old_tag(e, old, sizeof old)) && http_if_range_ok(if_range, old, n, e->lm));
}

/* The common case: a plain GET or HEAD of the whole file.  A small file's
 * answer is one reservation (the status line, which is never near 256
 * bytes, then the fields and the bytes), not an append each. */
static int serve_whole(const struct fentry *e, const struct http_request *req, int keep_alive,
                       struct buf *out, struct http_xfer *x, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, rc;
    size_t mem = !head && e->body ? e->size : 0, hl = 0, xl = 0;
    const char *h = NULL, *xf = NULL;
    *body_len = 0;
    if (keep_alive && req->version == 11) {
        /* the usual head start, prebuilt for this second: one copy */
        h = resp_ok_head(&hl, &xf, &xl);
        if (buf_room(out) < hl + xl + e->hdr_len + mem &&
            (rc = buf_reserve(out, hl + xl + e->hdr_len + mem)) < 0)
            return rc;
        memcpy(buf_tail(out), h, hl);
        if (xl) memcpy(buf_tail(out) + hl, xf, xl);
        buf_commit(out, hl + xl);
    } else if ((buf_room(out) < 256 + e->hdr_len + mem &&
                (rc = buf_reserve(out, 256 + e->hdr_len + mem)) < 0) ||
               (rc = resp_head(out, 200, keep_alive, req->version)) < 0 ||
               (buf_room(out) < e->hdr_len + mem && (rc = buf_reserve(out, e->hdr_len + mem)) < 0))
        return rc;
    char *t = buf_tail(out);
    memcpy(t, e->hdr, e->hdr_len);
    if (mem) memcpy(t + e->hdr_len, e->body, mem);
    buf_commit(out, e->hdr_len + mem);
    *body_len = e->size;
    if (!head && e->size && !e->body && (rc = body_slice(out, e, 0, e->size - 1, x)) < 0) return rc;
    return 200;
}

/* a request with no precondition and no Range */
static int plain(const struct http_request *req)
{
    return !req->if_match.p && !req->if_none_match.p && !req->if_modified_since.p &&
           !req->if_unmodified_since.p && !req->range.p;
}

static int serve_entry(const struct static_conf *sc, struct fcache *c, struct fentry *e,
                       const struct http_request *req, int keep_alive, struct buf *out,
                       struct http_xfer *x, uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, rc;
    struct digest_ask ask;
    *body_len = 0;
    if (plain(req) && !digest_asked(req, &ask))
        return serve_whole(e, req, keep_alive, out, x, body_len);
    digest_asked(req, &ask);
    struct http_cond cond = {
        req->if_match, req->if_none_match, req->if_modified_since, req->if_unmodified_since,
        req->if_range, req->headers,       req->nheaders};
    int st = preconditions(&cond, e);
    if (st == 304) {
        if ((rc = resp_head(out, 304, keep_alive, req->version)) < 0) return rc;
        if ((rc = validators(out, e)) < 0) return rc;
        return buf_append(out, "\r\n", 2) < 0 ? -ENOMEM : 304;
    }
    if (st == 412) {
        if ((rc = resp_error(out, 412, keep_alive, req->version, head, e->vary, NULL)) < 0)
            return rc;
        *body_len = (uint64_t)rc; /* an error page's length: what the log shows */
        return 412;
    }

    /* overlapping and adjacent ranges are coalesced; too many scattered ones
     * leave the header ignored (see http_range_coalesce) */
    struct http_range r[HTTP_RANGE_SPECS];
    int n = 0;
    if (req->range.p && if_range_ok(req->if_range, e))
        n = http_range_parse(req->range.p, req->range.n, e->size, r, HTTP_RANGE_SPECS);
    if (n > 0) n = http_range_coalesce(r, n);
    if (n == -416) {
        char cr[96];
        snprintf(cr, sizeof cr, "Content-Range: bytes */%llu\r\n%s", (unsigned long long)e->size,
                 e->vary ? e->vary : "");
        if ((rc = resp_error(out, 416, keep_alive, req->version, head, cr, NULL)) < 0) return rc;
        *body_len = (uint64_t)rc;
        return 416;
    }
    if (n > 1) {
        rc = multipart(sc, c, e, req, &ask, keep_alive, r, n, out, x, body_len);
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
    if ((rc = digest_fields(sc, c, e, &ask, head, status, first, last, out)) < 0) return rc;
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

/* Answers e in the representation the request's Accept-Encoding selects
 * (http/encvar): a sidecar, a compressed result or the file itself, with
 * Vary whenever the file has variants.  Out of memory there, the file is
 * answered as it is. */
static int serve_file(const struct static_conf *sc, struct fcache *cache, struct fentry *e,
                      const struct http_request *req, int keep_alive, struct buf *out,
                      struct http_xfer *x, uint64_t *body_len)
{
    struct fentry view;
    struct encvar_pick pk;
    if (encvar_select(sc, cache, e, req, &view, &pk) <= 0)
        return serve_entry(sc, cache, e, req, keep_alive, out, x, body_len);
    int rc = serve_entry(sc, cache, &view, req, keep_alive, out, x, body_len);
    if (pk.close_fd >= 0) close(pk.close_fd); /* the transfer has its own dup */
    if (rc >= 0 && x->fd >= 0 && pk.fd_own_mtime) {
        /* the transfer checks the sidecar or memfd it sends, not F */
        x->mtime_sec = pk.mtime_sec;
        x->mtime_nsec = pk.mtime_nsec;
    }
    return rc;
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

#include "http/static_site.c.h"

static int serve_dir(const struct static_conf *sc, struct fcache *cache, int dirfd,
                     const struct http_request *req, const char *path, int keep_alive,
                     struct buf *out, uint64_t *body_len)
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
    /* a listing is a current representation without an entity tag or a
     * date: "*" matches it and no listed tag does (RFC 9110 §13.1.1-2), so
     * If-Match / If-None-Match still decide; the date fields cannot */
    struct http_cond tags = {.if_match = req->if_match,
                             .if_none_match = req->if_none_match,
                             .lines = req->headers,
                             .nlines = req->nheaders};
    int st = http_preconditions(&tags, 1, NULL, 0, 0);
    if (st != 200) {
        close(dirfd);
        rc = st == 304
                 ? resp_simple(out, 304, keep_alive, req->version, head, "Vary: Accept\r\n", NULL,
                               NULL, 0)
                 : resp_error(out, 412, keep_alive, req->version, head, "Vary: Accept\r\n", NULL);
        if (rc > 0 && st == 412) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : st;
    }
    struct buf page;
    buf_init(&page, 0);
    struct listing_opts lo;
    listing_opts_of(req, &lo);
    /* the directory is read on the loop: the worker's walk budget, as a
     * tar download's (static_site.c.h) */
    uint64_t start = now_ns();
    int spent = !fcache_walk_allowed(cache, start);
    lo.max_entries = spent ? WALK_SMALL_ENTRIES : 0;
    rc = http_listing_ex(&page, sc->rootfd, dirfd, path, sc->hidden, &lo);
    fcache_walk_done(cache, start, now_ns());
    close(dirfd);
    if (rc == -E2BIG) {
        buf_free(&page);
        return walk_busy(out, req, keep_alive, body_len);
    }
    if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM) {
        buf_free(&page);
        return busy(out, buf_len(out), req, keep_alive);
    }
    if (rc < 0) {
        buf_free(&page);
        rc = resp_error(out, 403, keep_alive, req->version, head, NULL,
                        "The directory cannot be read.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 403;
    }
    *body_len = buf_len(&page);
    /* the form follows Accept: caches must keep both */
    rc = resp_simple(out, 200, keep_alive, req->version, head, "Vary: Accept\r\n",
                     lo.json ? "application/json" : "text/html; charset=utf-8", buf_head(&page),
                     buf_len(&page));
    buf_free(&page);
    return rc < 0 ? rc : 200;
}

int static_serve(const struct static_conf *sc, struct fcache *cache, const struct http_request *req,
                 const char *path, int keep_alive, struct buf *out, struct http_xfer *x,
                 uint64_t *body_len)
{
    int head = req->method == HTTP_HEAD, status = 0, dirfd = -1, rc;
    *body_len = 0;
    if (!sc->hidden && http_path_hidden(path)) {
        rc = resp_error(out, 404, keep_alive, req->version, head, NULL, "File not found.");
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : 404;
    }
    if ((rc = site_tar(sc, cache, req, path, keep_alive, out, x, body_len)) != 0) return rc;
    struct fentry *e = fcache_lookup(sc, cache, path, &status, &dirfd);
    if (!e && status == 0) {
        /* a listing checks its symlinks beneath this worker's root, which
         * follows a replaced docroot */
        struct static_conf wsc = *sc;
        wsc.rootfd = fcache_rootfd(cache);
        return serve_dir(&wsc, cache, dirfd, req, path, keep_alive, out, body_len);
    }
    if (status == 503) return busy(out, buf_len(out), req, keep_alive);
    if (!e && status == 404 &&
        (rc = site_spa(sc, cache, req, path, keep_alive, out, x, body_len)) != 0)
        return rc;
    if (!e) {
        rc = resp_error(out, status, keep_alive, req->version, head, NULL,
                        status == 404   ? "File not found."
                        : status == 403 ? "Permission denied."
                                        : NULL);
        if (rc > 0) *body_len = (uint64_t)rc;
        return rc < 0 ? rc : status;
    }
    if (status != -1) fcache_memo_set(cache, req->path.p, req->path.n, e);
    size_t mark = buf_len(out);
    rc = serve_file(sc, cache, e, req, keep_alive, out, x, body_len);
    if (rc == -EMFILE || rc == -ENFILE) rc = busy(out, mark, req, keep_alive); /* no dup */
    if (status == -1) fcache_entry_release(e); /* the transfer has its own dup */
    return rc;
}

int static_serve_again(const struct static_conf *sc, struct fcache *cache,
                       const struct http_request *req, int keep_alive, struct buf *out,
                       struct http_xfer *x, uint64_t *body_len)
{
    struct fentry *e = fcache_memo_get(cache, req->path.p, req->path.n);
    if (!e) return 0;
    size_t mark = buf_len(out);
    /* the answer a keep-alive or pipelining client asks for again and again:
     * the whole file, when nothing in the request can change it (no
     * precondition, Range or Want-*-Digest; a file without variants, so
     * Accept-Encoding cannot either) straight away; else through serve_file,
     * which chooses the coding anew for each request */
    int rc = plain(req) && encvar_plain(sc, cache, e) && !digest_wanted(req)
                 ? serve_whole(e, req, keep_alive, out, x, body_len)
                 : serve_file(sc, cache, e, req, keep_alive, out, x, body_len);
    return rc == -EMFILE || rc == -ENFILE ? busy(out, mark, req, keep_alive) : rc;
}

int static_xfer_intact(const struct http_xfer *x)
{
    struct stat st;
    return fstat(x->fd, &st) == 0 && (uint64_t)st.st_size == x->size &&
           (int64_t)st.st_mtim.tv_sec == x->mtime_sec && st.st_mtim.tv_nsec == x->mtime_nsec;
}
