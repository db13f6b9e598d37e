/* encvar — sidecars and compressed results of a cached file, and the choice
 * among them for one request (the rules are in encvar.h). */
#include "http/encvar.h"

#include "http/beneath.h"
#include "http/compress.h"
#include "http/cond.h"
#include "http/digest.h"
#include "http/resp.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIDE_SMALL (32 * 1024) /* sidecar bytes kept in memory, as fcache keeps files' */
#define ETAG_CAP   (sizeof(((struct fentry *)0)->etag))

static const char vary_line[] = "Vary: Accept-Encoding\r\n";

/* a precompressed sidecar as last seen */
struct side {
    int present;
    int fd;   /* a large one's descriptor, else -1 */
    int each; /* a large one not held open (FCACHE_SIDE_FDS are): opened per answer */
    char *body;
    uint64_t size;
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    time_t lm;           /* its representation's Last-Modified (never in the future) */
    char lastmod[32];    /* lm as an HTTP-date */
    struct fdigests dig; /* its Repr-Digest: at once when small, else by the hasher */
};

/* a representation's prebuilt 200 fields, for one gen of the entry and one
 * length (a sidecar replaced by one of another size rebuilds it) */
struct vhead {
    uint32_t gen;
    uint64_t len;
    char lastmod[32]; /* the Last-Modified in hdr (a sidecar's own) */
    int dig;          /* a Repr-Digest (--digest) is in hdr: of sha256 */
    uint8_t sha256[32];
    char *hdr;
    size_t hdr_len;
    size_t etag_len;
    char etag[ETAG_CAP + 8];
};

struct encvar {
    struct fcache *c; /* whose descriptor count the sidecars' fds are in */
    struct fentry *e; /* whose variants these are (a view has no path) */
    size_t charged;   /* encvar_cost() when last charged to the cache's budget */
    time_t checked;   /* the entry's revalidation the sidecars were looked at for */
    uint64_t epoch;
    int probed;
    int plain;       /* no sidecar and nothing to make: not negotiated until revalidated */
    unsigned nocomp; /* codings not worth compressing for this version */
    struct side side[HTTP_ENC_N];
    struct vhead *head[HTTP_ENC_N]; /* made when first answered: a file no client
                                       asks coded costs none of them */
};

static void side_clear(struct encvar *v, struct side *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        fcache_side_fd_give(v->c);
    }
    free(s->body);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

void encvar_free(struct encvar *v)
{
    if (!v) return;
    for (int i = 0; i < HTTP_ENC_N; i++) {
        side_clear(v, &v->side[i]);
        if (v->head[i]) free(v->head[i]->hdr);
        free(v->head[i]);
    }
    free(v);
}

static int ts_before(struct timespec a, struct timespec b)
{
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static int side_same(const struct side *s, const struct stat *st)
{
    return s->present && s->dev == st->st_dev && s->ino == st->st_ino &&
           s->size == (uint64_t)st->st_size && s->mtime.tv_sec == st->st_mtim.tv_sec &&
           s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* reads n bytes at 0; NULL when the file ends early or fails */
static char *read_all(int fd, uint64_t n)
{
    char *b = malloc(n ? n : 1);
    uint64_t got = 0;
    while (b && got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(b);
            return NULL;
        }
        got += (uint64_t)r;
    }
    return b;
}

static int stat_is(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Looks at F's sidecar for coding enc: present, regular, non-empty, not
 * older than F.  An unchanged one keeps what was read of it. */
static int side_open(struct fcache *c, const struct fentry *e, enum http_enc enc)
{
    char p[PATH_MAX];
    const char *base = e->fpath ? e->fpath : e->path;
    int n = snprintf(p, sizeof p, "%s%s", base, http_enc_suffix(enc));
    return n > 0 && (size_t)n < sizeof p ? beneath_open(fcache_rootfd(c), p) : -ENAMETOOLONG;
}

static void side_probe(struct encvar *v, const struct fentry *e, struct side *s, enum http_enc enc)
{
    struct stat st, after;
    int fd = side_open(v->c, e, enc);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        ts_before(st.st_mtim, e->mtime)) {
        if (fd >= 0) close(fd);
        side_clear(v, s);
        return;
    }
    if (side_same(s, &st)) {
        close(fd);
        return;
    }
    side_clear(v, s);
    if (st.st_size <= SIDE_SMALL) {
        s->body = read_all(fd, (uint64_t)st.st_size);
        /* changed while read: not kept torn; looked at again next time */
        if (!s->body || fstat(fd, &after) < 0 || !stat_is(&st, &after)) {
            free(s->body);
            s->body = NULL;
            close(fd);
            return;
        }
        close(fd);
    } else if (fcache_side_fd_take(v->c)) {
        s->fd = fd;
    } else { /* descriptors are bounded: this one is opened for each answer */
        close(fd);
        s->each = 1;
    }
    s->present = 1;
    s->size = s->dig.size = (uint64_t)st.st_size;
    s->dev = s->dig.dev = st.st_dev;
    s->ino = s->dig.ino = st.st_ino;
    s->mtime = s->dig.mtime = st.st_mtim;
    time_t now = time(NULL);
    s->lm = st.st_mtim.tv_sec > now ? now : st.st_mtim.tv_sec;
    http_date_fmt(s->lm, s->lastmod);
}

/* A large sidecar rewritten in place keeps its inode: fstat before use. */
static int side_current(const struct side *s)
{
    struct stat st;
    return s->fd < 0 || (fstat(s->fd, &st) == 0 && st.st_nlink > 0 && side_same(s, &st));
}

/* The entry's variants, looked at again when the entry was revalidated. */
static struct encvar *vars(const struct static_conf *sc, struct fcache *c, struct fentry *e)
{
    struct encvar *v = e->var;
    if (!v) {
        if (!(v = e->var = calloc(1, sizeof *v))) return NULL;
        v->c = c;
        v->e = e;
        for (int i = 0; i < HTTP_ENC_N; i++)
            v->side[i].fd = -1;
    }
    if (v->probed && v->checked == e->checked && v->epoch == e->epoch) return v;
    for (int i = HTTP_ENC_BR; i < HTTP_ENC_N && sc->precompressed; i++)
        side_probe(v, e, &v->side[i], (enum http_enc)i);
    v->probed = 1;
    v->plain = 0;
    v->checked = e->checked;
    v->epoch = e->epoch;
    return v;
}

static int compressible(const struct static_conf *sc, struct fcache *c, const struct fentry *e)
{
    return sc->compress && fcache_ccache(c) && !e->cenc && e->size >= COMPRESS_MIN &&
           e->size <= COMPRESS_BG_MAX && compress_type_ok(e->ctype);
}

/* A sidecar's tag names its own bytes: a sidecar rebuilt with other bytes
 * while F stays (another compressor, level or gzip header) is another
 * representation.  Its content's when hashed, else its version's (inode,
 * size, mtime), like a large file's; the length of the tag in t. */
static size_t side_tag(const struct side *s, char *t, size_t n)
{
    if (s->dig.hashed & (1u << HTTP_DIGEST_SHA256)) return fcache_content_etag(s->dig.sha256, t, n);
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = s->ino;
    st.st_size = (off_t)s->size;
    st.st_mtim = s->mtime;
    return http_etag_make(&st, t, n);
}

/* base (a quoted tag) with the coding before its closing quote, into out;
 * mark: and the coder's mark (compress_coder_mark) after it, for a result
 * made here rather than a sidecar's bytes */
static size_t suffixed(char *out, size_t n, const char *base, size_t bl, enum http_enc enc,
                       int mark)
{
    char m[COMPRESS_MARK_LEN + 2] = "";
    if (mark) {
        m[0] = '.';
        if (!compress_coder_mark(enc, m + 1, sizeof m - 1)) return 0;
    }
    int k = snprintf(out, n, "%.*s-%s%s\"", (int)bl - 1, base,
                     enc == HTTP_ENC_ZSTD   ? "zst"
                     : enc == HTTP_ENC_GZIP ? "gz"
                                            : "br",
                     m);
    return k < 0 || (size_t)k >= n || (size_t)k >= ETAG_CAP ? 0 : (size_t)k;
}

size_t encvar_alias(const struct fentry *view, char *out, size_t n)
{
    const struct encvar *v = view->var;
    if (!v || view->venc <= HTTP_ENC_IDENTITY || view->venc >= HTTP_ENC_N) return 0;
    const struct side *s = &v->side[view->venc];
    /* a small one was hashed before its first answer: it never had another */
    if (!s->present || s->body || !(s->dig.hashed & (1u << HTTP_DIGEST_SHA256))) return 0;
    char cheap[ETAG_CAP];
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = s->ino;
    st.st_size = (off_t)s->size;
    st.st_mtim = s->mtime;
    size_t cl = http_etag_make(&st, cheap, sizeof cheap);
    return cl && cheap[cl - 1] == '"' ? suffixed(out, n, cheap, cl, (enum http_enc)view->venc, 0)
                                      : 0;
}

/* The 200 fields of representation enc of length len (a sidecar's: side),
 * rebuilt when the entry's gen, the length or the tag moved. */
static struct vhead *head(struct fentry *e, struct encvar *v, enum http_enc enc, uint64_t len,
                          const uint8_t *sha256, const struct side *side, const char *lastmod)
{
    struct vhead *h = v->head[enc];
    if (!h && !(h = v->head[enc] = calloc(1, sizeof *h))) return NULL;
    char tag[sizeof h->etag], own[sizeof h->etag];
    size_t tl = e->etag_len;
    const char *base = e->etag;
    if (side) {
        if (!(tl = side_tag(side, own, sizeof own))) return NULL;
        base = own;
    }
    if (tl && (tl + 6 + COMPRESS_MARK_LEN > ETAG_CAP || base[tl - 1] != '"'))
        return NULL; /* no room for the suffix: this entry is sent as identity */
    if (enc == HTTP_ENC_IDENTITY || !tl) {
        memcpy(tag, base, tl);
    } else {
        if (!(tl = suffixed(tag, sizeof tag, base, tl, enc, !side))) return NULL;
    }
    if (h->hdr && h->gen == e->gen && h->len == len && h->dig == !!sha256 &&
        (!sha256 || !memcmp(h->sha256, sha256, 32)) && h->etag_len == tl &&
        !memcmp(h->etag, tag, tl) && !strcmp(h->lastmod, lastmod))
        return h;
    snprintf(h->lastmod, sizeof h->lastmod, "%s", lastmod);
    memcpy(h->etag, tag, tl);
    h->etag_len = tl;
    if (enc == HTTP_ENC_IDENTITY) {
        /* the file's own prebuilt fields (validators, Cache-Control, an
         * always-on Repr-Digest) with Vary before the closing blank line */
        size_t vl = strlen(vary_line), n = e->hdr_len + vl;
        char *hdr = malloc(n);
        if (!hdr) return NULL;
        memcpy(hdr, e->hdr, e->hdr_len - 2);
        memcpy(hdr + e->hdr_len - 2, vary_line, vl);
        memcpy(hdr + n - 2, "\r\n", 2);
        free(h->hdr);
        h->hdr = hdr;
        h->hdr_len = n;
        h->gen = e->gen;
        h->len = len;
        return h;
    }
    /* --digest: the coded bytes' Repr-Digest (RFC 9530 §3: of the selected
     * representation), once known; until then the head goes without */
    char dig[HTTP_DIGEST_FIELD_MAX] = "";
    if (sha256) {
        const uint8_t *d[HTTP_DIGEST_ALGS] = {sha256, NULL};
        http_digest_field(dig, sizeof dig, "Repr-Digest", 1u << HTTP_DIGEST_SHA256, d);
    }
    const char *ce = http_enc_name(enc);
    char b[1024 + HTTP_DIGEST_FIELD_MAX];
    int n = snprintf(b, sizeof b,
                     "Last-Modified: %s\r\n%s%.*s%s%sContent-Type: %s\r\n%s%s%s%s%s%s%sAccept-"
                     "Ranges: bytes\r\nContent-Length: %llu\r\n\r\n",
                     lastmod, h->etag_len ? "ETag: " : "", (int)h->etag_len, h->etag,
                     h->etag_len ? "\r\n" : "", dig, e->ctype, ce ? "Content-Encoding: " : "",
                     ce ? ce : "", ce ? "\r\n" : "", e->cc ? "Cache-Control: " : "",
                     e->cc ? e->cc : "", e->cc ? "\r\n" : "", vary_line, (unsigned long long)len);
    if (n < 0 || (size_t)n >= sizeof b) return NULL;
    char *hdr = malloc((size_t)n);
    if (!hdr) return NULL;
    memcpy(hdr, b, (size_t)n);
    free(h->hdr);
    h->hdr = hdr;
    h->hdr_len = (size_t)n;
    h->gen = e->gen;
    h->len = len;
    h->dig = !!sha256;
    if (sha256) memcpy(h->sha256, sha256, 32);
    return h;
}

/* The compressed result of e for enc, made now when not cached; NULL when
 * there is none (yet: a large file is compressed by the helper thread,
 * and this answer goes without). */
static const struct citem *compressed(struct fcache *c, struct fentry *e, struct encvar *v,
                                      enum http_enc enc)
{
    struct ccache *cc = fcache_ccache(c);
    struct ckey k = {(uint64_t)e->dev,         (uint64_t)e->ino, e->size,
                     (int64_t)e->mtime.tv_sec, e->mtime.tv_nsec, (int)enc};
    int text = strncmp(e->ctype, "text/", 5) == 0;
    const struct citem *it = ccache_get(cc, &k);
    if (it && it->none) v->nocomp |= HTTP_ENC_BIT(enc);
    if (it) return it->none ? NULL : it;
    if (e->size > COMPRESS_MAX) {
        if (e->fd >= 0) (void)ccache_submit(cc, &k, e->fd, text);
        return NULL;
    }
    const char *in = e->body;
    char *tmp = NULL;
    if (!in) {
        /* a larger file: read it whole, and keep the result only if the
         * file is still the version it is filed under */
        struct stat st;
        if (e->fd < 0 || !(tmp = read_all(e->fd, e->size))) return NULL;
        if (fstat(e->fd, &st) < 0 || (uint64_t)st.st_size != e->size ||
            st.st_mtim.tv_sec != e->mtime.tv_sec || st.st_mtim.tv_nsec != e->mtime.tv_nsec) {
            free(tmp);
            return NULL;
        }
        in = tmp;
    }
    int err;
    it = ccache_make(cc, &k, in, e->size, text, &err);
    free(tmp);
    /* not smaller, or larger than the cache: never tried again for this
     * version (resources: tried again on a later request) */
    if (!it && (err == -ENOSPC || err == -E2BIG)) v->nocomp |= HTTP_ENC_BIT(enc);
    return it;
}

static void accept_of(const struct http_request *req, struct http_accept_enc *ae)
{
    http_ae_init(ae);
    for (size_t i = 0; i < req->nheaders; i++)
        if (http_str_eq_ci(req->headers[i].name, "accept-encoding"))
            http_ae_parse(ae, req->headers[i].value.p, req->headers[i].value.n);
}

/* Opens a sidecar not held open for this answer, if it is still the one
 * probed: its descriptor (the caller closes it), or -1 when it is gone. */
static int side_each(struct encvar *v, const struct fentry *e, struct side *s, enum http_enc enc)
{
    struct stat st;
    int fd = side_open(v->c, e, enc);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && side_same(s, &st)) return fd;
    if (fd >= 0) close(fd);
    side_clear(v, s);
    return -1;
}

size_t encvar_cost(const struct encvar *v)
{
    if (!v) return 0;
    size_t n = sizeof *v;
    for (int i = 0; i < HTTP_ENC_N; i++) {
        if (v->side[i].body) n += (size_t)v->side[i].size;
        if (v->head[i]) n += sizeof *v->head[i] + v->head[i]->hdr_len;
    }
    return n;
}

/* The entry's share of the budget follows what its variants hold. */
static void charge(struct fcache *c, struct fentry *e, struct encvar *v)
{
    size_t n = encvar_cost(v);
    if (n == v->charged) return;
    v->charged = n;
    fcache_recost(c, e);
}

struct fdigests *encvar_digests(struct fentry *e, int enc)
{
    struct encvar *v = e->var;
    if (!v || enc <= HTTP_ENC_IDENTITY || enc >= HTTP_ENC_N || !v->side[enc].present) return NULL;
    return &v->side[enc].dig;
}

unsigned encvar_view_digests(struct fcache *c, struct fentry *view, unsigned want)
{
    if (!view->venc) {
        /* identity: the file's digests, asked of its entry (a copy has no
         * path to key a hasher job by, and must not be charged or hashed) */
        struct fentry *e = view->var ? view->var->e : view;
        if (e == view) return fcache_digests(c, view, want);
        fcache_digests(c, e, want);
        view->hashed = e->hashed;
        memcpy(view->sha256, e->sha256, 32);
        memcpy(view->sha512, e->sha512, 64);
        return view->hashed;
    }
    struct fdigests *d = encvar_digests(view, view->venc);
    if (!d || !(want & ~(unsigned)view->hashed)) return view->hashed;
    fcache_digests_of(c, view->var->e, view->venc, d, view->body, view->fd, want);
    memcpy(view->sha256, d->sha256, 32);
    memcpy(view->sha512, d->sha512, 64);
    return view->hashed = d->hashed;
}

int encvar_plain(const struct static_conf *sc, struct fcache *c, const struct fentry *e)
{
    const struct encvar *v = e->var;
    return e->cenc || (!sc->precompressed && !compressible(sc, c, e)) ||
           (v && v->plain && v->checked == e->checked && v->epoch == e->epoch);
}

int encvar_select(const struct static_conf *sc, struct fcache *c, struct fentry *e,
                  const struct http_request *req, struct fentry *view, struct encvar_pick *pk)
{
    pk->enc = HTTP_ENC_IDENTITY;
    pk->fd_own_mtime = 0;
    pk->mtime_sec = 0;
    pk->mtime_nsec = 0;
    pk->close_fd = -1;
    if (e->cenc || (!sc->precompressed && !compressible(sc, c, e))) return 0;
    struct encvar *v = e->var;
    /* most files of a site: known to have no variant since last looked at */
    if (v && v->plain && v->checked == e->checked && v->epoch == e->epoch) return 0;
    v = vars(sc, c, e);
    if (!v) return -ENOMEM;
    int comp = compressible(sc, c, e);
    unsigned avail = 0;
    for (int i = HTTP_ENC_BR; i < HTTP_ENC_N; i++) {
        struct side *s = &v->side[i];
        if (s->present && !side_current(s)) side_probe(v, e, s, (enum http_enc)i);
        if (s->present || (comp && !(v->nocomp & HTTP_ENC_BIT(i)))) avail |= HTTP_ENC_BIT(i);
    }
    /* no variant now and none to make: the file is not negotiated at all */
    if (!avail && !comp) {
        v->plain = 1;
        charge(c, e, v);
        return 0;
    }

    struct http_accept_enc ae;
    accept_of(req, &ae);
    enum http_enc enc;
    const struct citem *it = NULL;
    int each = -1; /* a sidecar opened for this answer */
    for (;;) {
        enc = http_ae_choose(&ae, avail);
        if (enc == HTTP_ENC_IDENTITY) break;
        if (v->side[enc].present && !v->side[enc].each) break;
        if (v->side[enc].present && (each = side_each(v, e, &v->side[enc], enc)) >= 0) break;
        if (!v->side[enc].present && (it = compressed(c, e, v, enc))) break;
        avail &= ~HTTP_ENC_BIT(enc); /* not worth it, gone, or no room: the next best */
    }
    *view = *e;
    view->vary = vary_line;
    uint64_t len = e->size;
    const uint8_t *dig = NULL; /* the representation's SHA-256 for --digest's head */
    if (enc != HTTP_ENC_IDENTITY) {
        struct side *s = &v->side[enc];
        view->body = s->present ? s->body : it->fd < 0 ? (char *)it->bytes : NULL;
        view->fd = s->present ? (each >= 0 ? each : s->fd) : it->fd;
        len = view->size = s->present ? s->size : it->len;
        view->cenc = http_enc_name(enc);
        /* the digests are this representation's (RFC 9530 §3): a result's
         * were made with it, a sidecar's are asked for (--digest: now; a
         * large one's come from the hasher, omitted until then) */
        view->venc = (uint8_t)enc;
        view->want = 0;
        view->cached = 0; /* never the entry's own hasher job */
        if (s->present) {
            /* its own date: never older than F's, and newer when rebuilt
             * since (If-Modified-Since, If-Range dates compare to it) */
            view->mtime = s->mtime;
            view->lm = s->lm;
            memcpy(view->lastmod, s->lastmod, sizeof view->lastmod);
            /* its SHA-256 always: its tag is made of it (side_tag) */
            fcache_digests_of(c, e, enc, &s->dig, s->body, view->fd, 1u << HTTP_DIGEST_SHA256);
            view->hashed = s->dig.hashed;
            memcpy(view->sha256, s->dig.sha256, 32);
            memcpy(view->sha512, s->dig.sha512, 64);
        } else {
            view->hashed = (uint8_t)it->hashed;
            memcpy(view->sha256, it->sha256, 32);
            memcpy(view->sha512, it->sha512, 64);
        }
        if (sc->digest && (view->hashed & (1u << HTTP_DIGEST_SHA256))) dig = view->sha256;
        if (view->fd >= 0) {
            pk->fd_own_mtime = 1;
            pk->mtime_sec = s->present ? (int64_t)s->mtime.tv_sec : it->mtime_sec;
            pk->mtime_nsec = s->present ? s->mtime.tv_nsec : it->mtime_nsec;
        }
    }
    struct vhead *h = head(e, v, enc, len, dig,
                           enc != HTTP_ENC_IDENTITY && !it ? &v->side[enc] : NULL, view->lastmod);
    charge(c, e, v);
    if (!h) {
        if (each >= 0) close(each);
        if (enc == HTTP_ENC_IDENTITY) return 0;
        return -ENOMEM;
    }
    memcpy(view->etag, h->etag, h->etag_len);
    view->etag_len = h->etag_len;
    view->hdr = h->hdr;
    view->hdr_len = h->hdr_len;
    pk->enc = enc;
    pk->close_fd = each;
    return 1;
}
