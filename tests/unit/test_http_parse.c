#include "http/parse.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* --- inputs that end exactly at a PROT_NONE page: any over-read faults --- */

struct guarded {
    char *map, *p; /* p: the copy, ending at the guard page */
    size_t maplen;
};

static struct guarded guard(const char *s, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (n + pg - 1) / pg * pg;
    if (data == 0) data = pg;
    struct guarded g = {0};
    g.maplen = data + pg;
    g.map = mmap(NULL, g.maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(g.map != MAP_FAILED);
    cr_assert(mprotect(g.map + data, pg, PROT_NONE) == 0);
    g.p = g.map + data - n;
    memcpy(g.p, s, n);
    return g;
}

static void unguard(struct guarded *g)
{
    munmap(g->map, g->maplen);
}

#define MAXH 128

/* one call on a fresh parser with the input placed before a guard page */
static int parse1(const char *s, size_t n, const struct http_limits *lim, struct http_request *req,
                  struct http_header *h, struct guarded *keep)
{
    struct http_parser st;
    http_parser_init(&st);
    struct guarded g = guard(s, n);
    int r = http_parse_request(&st, g.p, n, lim, req, h);
    if (keep)
        *keep = g;
    else
        unguard(&g);
    return r;
}

static size_t off(struct http_str s, const char *base)
{
    return s.p ? (size_t)(s.p - base) : (size_t)-1;
}

/* a string is absent, the static "/" or inside buf[0..n) */
static void expect_inside(struct http_str s, const char *buf, size_t n, const char *what)
{
    if (!s.p || (s.n == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + n))) return;
    cr_expect(s.p >= buf && s.p + s.n <= buf + n, "%s points outside the head", what);
}

/* two parses of the same bytes (at different addresses) agree on everything */
static void expect_same(const struct http_request *a, const char *ba, const struct http_request *b,
                        const char *bb, const char *in)
{
    cr_expect_eq(a->method, b->method, "%s", in);
    cr_expect_eq(a->version, b->version, "%s", in);
    cr_expect_eq(a->content_length, b->content_length, "%s", in);
    cr_expect_eq(a->chunked, b->chunked, "%s", in);
    cr_expect_eq(a->keep_alive, b->keep_alive, "%s", in);
    cr_expect_eq(a->expect_continue, b->expect_continue, "%s", in);
    cr_expect_eq(a->nheaders, b->nheaders, "%s", in);
    const struct http_str *sa[] = {&a->method_str, &a->target,        &a->host,
                                   &a->if_match,   &a->if_none_match, &a->range};
    const struct http_str *sb[] = {&b->method_str, &b->target,        &b->host,
                                   &b->if_match,   &b->if_none_match, &b->range};
    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++) {
        cr_expect_eq(off(*sa[i], ba), off(*sb[i], bb), "%s: field %zu", in, i);
        cr_expect_eq(sa[i]->n, sb[i]->n, "%s: field %zu", in, i);
    }
    cr_expect_eq(a->path.n, b->path.n, "%s", in);
    cr_expect(a->path.n == 0 || memcmp(a->path.p, b->path.p, a->path.n) == 0, "%s", in);
}

static int str_is(struct http_str s, const char *want)
{
    if (!want) return s.p == NULL;
    return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* --- valid requests --- */

struct vcase {
    const char *in;
    enum http_method method;
    const char *target, *path, *host;
    int version;
    int64_t cl;
    int chunked, keep_alive, expect;
    size_t nheaders;
};

static const struct vcase valid[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"GET /x?y=1 HTTP/1.0\r\n\r\n", HTTP_GET, "/x?y=1", "/x?y=1", NULL, 10, -1, 0, 0, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", HTTP_GET, "/", "/", NULL, 10, -1, 0, 1, 0,
     1},
    {"GET / HTTP/1.0\r\nConnection: foo,  keep-alive \r\n\r\n", HTTP_GET, "/", "/", NULL, 10, -1, 0,
     1, 0, 1},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", HTTP_GET, "/", "/",
     NULL, 10, -1, 0, 0, 0, 2},
    {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", HTTP_GET, "/", "/", NULL, 10, -1, 0, 0, 0,
     1},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0,
     0, 0, 2},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade,CLOSE\r\n\r\n", HTTP_GET, "/", "/", "a", 11,
     -1, 0, 0, 0, 2},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0,
     1, 0, 2},
    {"GET / HTTP/1.1\nHost: a\n\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\nHost: a\r\n\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", HTTP_POST, "/f", "/f", "a", 11,
     42, 0, 1, 0, 2},
    {"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HTTP_POST, "/f", "/f", "a", 11, 0,
     0, 1, 0, 2},
    {"POST /f HTTP/1.1\r\nHost: a\r\ncontent-length:007\r\n\r\n", HTTP_POST, "/f", "/f", "a", 11, 7,
     0, 1, 0, 2},
    {"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", HTTP_PUT, "/f",
     "/f", "a", 11, INT64_MAX, 0, 1, 0, 2},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_POST, "/", "/", "a",
     11, -1, 1, 1, 0, 2},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", HTTP_POST, "/", "/",
     "a", 11, -1, 1, 1, 0, 2},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     HTTP_POST, "/", "/", "a", 11, -1, 1, 1, 0, 3},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n", HTTP_POST, "/", "/",
     "a", 11, -1, 1, 1, 0, 2},
    {"PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", HTTP_PUT,
     "/u", "/u", "a", 11, 3, 0, 1, 1, 3},
    {"PUT /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", HTTP_PUT, "/u", "/u",
     NULL, 10, 3, 0, 0, 0, 2},
    {"GET http://example.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n", HTTP_GET,
     "http://example.com/p?q", "/p?q", "example.com", 11, -1, 0, 1, 0, 1},
    {"GET HTTPS://h:8080 HTTP/1.1\r\nHost: h:8080\r\n\r\n", HTTP_GET, "HTTPS://h:8080", "/",
     "h:8080", 11, -1, 0, 1, 0, 1},
    {"HEAD http://[::1]:80/x HTTP/1.0\r\n\r\n", HTTP_HEAD, "http://[::1]:80/x", "/x", "[::1]:80",
     10, -1, 0, 0, 0, 0},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OPTIONS, "*", "*", "a", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost:   a  \t\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost:a\r\n\r\n", HTTP_GET, "/", "/", "a", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", HTTP_GET, "/", "/", "", 11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", HTTP_GET, "/", "/", "[2001:db8::1]:8080",
     11, -1, 0, 1, 0, 1},
    {"GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:\r\n\r\n", HTTP_GET, "/", "/",
     "xn--bcher-kva.example:", 11, -1, 0, 1, 0, 1},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\t x\r\nX-Empty:\r\n\r\n",
     HTTP_GET, "/caf\xc3\xa9", "/caf\xc3\xa9", "a", 11, -1, 0, 1, 0, 3},
    {"DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_DELETE, "/d", "/d", "a", 11, -1, 0, 1, 0, 1},
    {"PATCH /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PATCH, "/d", "/d", "a", 11, -1, 0, 1, 0, 1},
    {"TRACE /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_TRACE, "/d", "/d", "a", 11, -1, 0, 1, 0, 1},
    {"PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OTHER, "/d", "/d", "a", 11, -1, 0, 1, 0, 1},
    {"get /d HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OTHER, "/d", "/d", "a", 11, -1, 0, 1, 0, 1},
    {"GET /%20?a=b&c=%00 HTTP/1.1\r\nhOsT: a\r\nIf-None-Match: \"x\", W/\"y\"\r\n"
     "If-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\nRange: bytes=0-1\r\n"
     "If-Range: \"x\"\r\nIf-Match: *\r\nIf-Unmodified-Since: x\r\n\r\n",
     HTTP_GET, "/%20?a=b&c=%00", "/%20?a=b&c=%00", "a", 11, -1, 0, 1, 0, 7},
};

static void check_valid_fields(const struct vcase *c, const struct http_request *rq,
                               const char *buf, size_t n)
{
    const char *in = c->in;
    cr_expect_eq(rq->method, c->method, "%s: method", in);
    cr_expect(str_is(rq->target, c->target), "%s: target %.*s", in, (int)rq->target.n,
              rq->target.p);
    cr_expect(str_is(rq->path, c->path), "%s: path %.*s", in, (int)rq->path.n, rq->path.p);
    cr_expect(str_is(rq->host, c->host), "%s: host", in);
    cr_expect_eq(rq->version, c->version, "%s: version", in);
    cr_expect_eq(rq->content_length, c->cl, "%s: content-length", in);
    cr_expect_eq(rq->chunked, c->chunked, "%s: chunked", in);
    cr_expect_eq(rq->keep_alive, c->keep_alive, "%s: keep-alive", in);
    cr_expect_eq(rq->expect_continue, c->expect, "%s: expect", in);
    cr_expect_eq(rq->nheaders, c->nheaders, "%s: nheaders", in);
    cr_expect_null(rq->error, "%s", in);
    const struct http_str all[] = {rq->method_str,
                                   rq->target,
                                   rq->path,
                                   rq->host,
                                   rq->if_match,
                                   rq->if_none_match,
                                   rq->if_modified_since,
                                   rq->if_unmodified_since,
                                   rq->if_range,
                                   rq->range};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        expect_inside(all[i], buf, n, in);
    for (size_t i = 0; i < rq->nheaders; i++) {
        expect_inside(rq->headers[i].name, buf, n, in);
        expect_inside(rq->headers[i].value, buf, n, in);
    }
}

Test(parse, valid_one_shot)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        const struct vcase *c = &valid[i];
        size_t n = strlen(c->in);
        struct http_request rq;
        struct http_header h[MAXH];
        struct guarded g;
        int r = parse1(c->in, n, NULL, &rq, h, &g);
        cr_expect_eq(r, (int)n, "%s: returned %d (%s)", c->in, r, rq.error ? rq.error : "");
        if (r == (int)n) check_valid_fields(c, &rq, g.p, n);
        unguard(&g);
    }
}

/* each prefix alone (fresh parser) needs more; then the whole input parses
 * the same, whether the parser saw the prefix first or not */
Test(parse, valid_every_split)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        const struct vcase *c = &valid[i];
        size_t n = strlen(c->in);
        struct http_request ref, rq;
        struct http_header h[MAXH];
        struct guarded gref;
        cr_assert_eq(parse1(c->in, n, NULL, &ref, h, &gref), (int)n, "%s", c->in);
        for (size_t k = 0; k < n; k++) {
            struct http_parser st;
            http_parser_init(&st);
            struct guarded gp = guard(c->in, k), gf = guard(c->in, n);
            int r = http_parse_request(&st, gp.p, k, NULL, &rq, h);
            cr_expect_eq(r, 0, "%s: prefix %zu returned %d", c->in, k, r);
            cr_expect_leq(st.scanned, k, "%s: prefix %zu", c->in, k);
            cr_expect_geq(st.scanned + 2, k, "%s: prefix %zu scanned only %zu", c->in, k,
                          st.scanned);
            r = http_parse_request(&st, gf.p, n, NULL, &rq, h);
            cr_expect_eq(r, (int)n, "%s: after prefix %zu returned %d", c->in, k, r);
            if (r == (int)n) {
                expect_same(&ref, gref.p, &rq, gf.p, c->in);
                check_valid_fields(c, &rq, gf.p, n);
            }
            unguard(&gp);
            unguard(&gf);
        }
        unguard(&gref);
    }
}

/* byte by byte into one growing buffer: scanned never goes back and keeps
 * within two bytes of the end, so nothing is searched twice */
Test(parse, valid_byte_by_byte)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        const struct vcase *c = &valid[i];
        size_t n = strlen(c->in);
        char *buf = malloc(n);
        struct http_request rq;
        struct http_header h[MAXH];
        struct http_parser st;
        http_parser_init(&st);
        size_t last = 0;
        int r = 0;
        for (size_t k = 1; k <= n; k++) {
            buf[k - 1] = c->in[k - 1];
            r = http_parse_request(&st, buf, k, NULL, &rq, h);
            if (k < n) {
                cr_expect_eq(r, 0, "%s: at %zu returned %d", c->in, k, r);
                cr_expect_geq(st.scanned, last, "%s: scanned went back at %zu", c->in, k);
                cr_expect_geq(st.scanned + 2, k, "%s: at %zu", c->in, k);
                last = st.scanned;
            }
        }
        cr_expect_eq(r, (int)n, "%s", c->in);
        if (r == (int)n) check_valid_fields(c, &rq, buf, n);
        cr_expect_eq(st.scanned, 0, "the parser resets itself after a request");
        free(buf);
    }
}

Test(parse, fields_in_order)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A:  1 2 \r\nx-b:\t\r\nAccept: */*\r\n"
                             "If-None-Match: \"e\"\r\nRange: bytes=1-\r\n\r\n";
    struct http_request rq;
    struct http_header h[MAXH];
    struct guarded g;
    cr_assert_eq(parse1(in, sizeof in - 1, NULL, &rq, h, &g), (int)sizeof in - 1);
    cr_assert_eq(rq.nheaders, 6);
    cr_expect_eq(rq.headers, h);
    static const char *want[][2] = {{"Host", "h"},
                                    {"X-A", "1 2"},
                                    {"x-b", ""},
                                    {"Accept", "*/*"},
                                    {"If-None-Match", "\"e\""},
                                    {"Range", "bytes=1-"}};
    for (size_t i = 0; i < 6; i++) {
        cr_expect(str_is(h[i].name, want[i][0]), "name %zu", i);
        cr_expect(str_is(h[i].value, want[i][1]), "value %zu", i);
    }
    cr_expect(h[2].value.p != NULL, "an empty value is present, not absent");
    cr_expect(str_is(rq.if_none_match, "\"e\""));
    cr_expect(str_is(rq.range, "bytes=1-"));
    cr_expect_null(rq.if_match.p);
    cr_expect_null(rq.if_modified_since.p);
    cr_expect_null(rq.if_unmodified_since.p);
    cr_expect_null(rq.if_range.p);
    unguard(&g);
}

/* a single-valued field sent twice is a list, invalid: it is kept present
 * but empty, so its reader ignores it (RFC 9110 §13.1.3-4, §13.1.5, §14.2) */
Test(parse, repeated_single_valued_fields_are_voided)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nIf-Range: \"a\"\r\n"
                             "If-Modified-Since: x\r\nIf-Unmodified-Since: y\r\n"
                             "range: bytes=2-3\r\nIf-Range: \"b\"\r\nIf-Modified-Since: z\r\n"
                             "If-Unmodified-Since: w\r\nRange: bytes=4-5\r\n\r\n";
    struct http_request rq;
    struct http_header h[MAXH];
    cr_assert_eq(parse1(in, sizeof in - 1, NULL, &rq, h, NULL), (int)sizeof in - 1);
    const struct http_str *f[] = {&rq.range, &rq.if_range, &rq.if_modified_since,
                                  &rq.if_unmodified_since};
    for (size_t i = 0; i < 4; i++) {
        cr_expect(f[i]->p != NULL, "field %zu present", i);
        cr_expect_eq(f[i]->n, 0, "field %zu voided", i);
    }
}

/* If-Match / If-None-Match are lists: a repeat is no error, the first line's
 * value is kept and every line is in the headers (http_cond reads them) */
Test(parse, repeated_tag_lists_are_kept)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\n"
                             "if-none-match: \"b\"\r\nIf-Match: *\r\nIf-Match: \"c\"\r\n\r\n";
    struct http_request rq;
    struct http_header h[MAXH];
    struct guarded g;
    cr_assert_eq(parse1(in, sizeof in - 1, NULL, &rq, h, &g), (int)sizeof in - 1);
    cr_expect(str_is(rq.if_none_match, "\"a\""));
    cr_expect(str_is(rq.if_match, "*"));
    cr_expect_eq(rq.nheaders, 5);
    unguard(&g);
}

Test(parse, headers_array_optional)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
    struct http_request rq;
    struct guarded g;
    cr_assert_eq(parse1(in, sizeof in - 1, NULL, &rq, NULL, &g), (int)sizeof in - 1);
    cr_expect_eq(rq.nheaders, 2);
    cr_expect(str_is(rq.host, "h"));
    unguard(&g);
}

/* --- invalid requests --- */

struct icase {
    const char *in;
    int status;
    const char *why; /* a substring of req.error, or NULL */
};

static const struct icase invalid[] = {
    /* framing: the request smuggling cases */
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "content-length with transfer-encoding"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
     "content-length with transfer-encoding"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", 400,
     "content-length with transfer-encoding"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
     "repeated content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400,
     "repeated content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400, "invalid content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400, "invalid content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "invalid content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, "invalid content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, "invalid content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, "empty content-length"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, "overflow"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
     "overflow"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
     "chunked applied twice"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     400, "chunked applied twice"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "not chunked"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, "not chunked"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", 400, "not chunked"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501, "unknown"},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: fly\r\n\r\n", 417, "unsupported expectation"},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", 417, "expectation"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400, "not chunked"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, "not chunked"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400, "empty transfer-encoding"},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "http/1.0"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400, "before colon"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400, "before colon"},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "before colon"},
    {"POST / HTTP/1.1\r\nHost: a\r\nX: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400, "obs-fold"},
    {"POST / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tcontinued\r\n\r\n", 400, "obs-fold"},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obs-fold"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, "nul"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX\0: ab\r\n\r\n", 400, "invalid field name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\rHost: a\r\n\r\n", 400, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\n\rX: b\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400, "control"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, "control"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b\r\n\r\n", 400, "control"},
    {"GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 400, "without colon"},
    {"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, "empty field name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nFo o: v\r\n\r\n", 400, "before colon"},
    {"GET / HTTP/1.1\r\nHost: a\r\nFo(o: v\r\n\r\n", 400, "invalid field name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nFo\x80o: v\r\n\r\n", 400, "invalid field name"},
    /* Host */
    {"GET / HTTP/1.1\r\n\r\n", 400, "missing host"},
    {"GET / HTTP/1.1\r\nX: a\r\n\r\n", 400, "missing host"},
    {"GET http://h/ HTTP/1.1\r\n\r\n", 400, "missing host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "repeated host"},
    {"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "repeated host"},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 200 /* sub-delims are reg-name bytes */, NULL},
    /* pct-encoded bytes in a reg-name and an IPv6 zone (RFC 3986 §2.1,
     * RFC 6874); a '%' without two hex digits after it is no host */
    {"GET / HTTP/1.1\r\nHost: a%2Db\r\n\r\n", 200, NULL},
    {"GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:80\r\n\r\n", 200, NULL},
    {"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a%\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: [::1%g1]\r\n\r\n", 400, "invalid host"},
    {"GET http://a%zz/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid authority in target"},
    /* a Host value is walked as a host first: where that walk stops early,
     * the value is still judged as any other value, then as a host */
    {"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400, "invalid host"},
    {"GET / HTTP/1.1\r\nHost: a:8\x01\r\n\r\n", 400, "control"},
    {"GET / HTTP/1.1\r\nHost: a:8\rb\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\r\nHost: a:8\r\r\n\r\n", 400, "bare cr"},
    {"GET / HTTP/1.1\r\nHost: [::1]:8 x\r\n\r\n", 400, "invalid host"},
    /* request line */
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "version"},
    {"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method"},
    {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method"},
    {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method"},
    {"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET / HTTP/11\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, "version"},
    {"GET /\r\n\r\n", 400, "target"},
    {"GET / \r\n\r\n", 400, "version"},
    {"GET\r\n\r\n", 400, "method"},
    /* a higher minor version of 1 is read as 1.1 (RFC 9110 §2.5) */
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 200, ""},
    {"GET / HTTP/1.9\r\n\r\n", 400, "missing host"},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version"},
    {"GET / HTTP/0.9\r\n\r\n", 505, "version"},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "version"},
    {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare cr"},
    {"\r\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare cr"},
    /* target forms */
    {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk"},
    {"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target"},
    {"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 400, "connect"},
    {"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "connect"},
    {"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"},
    {"GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"},
    {"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "authority"},
    {"GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400, "authority"},
    {"GET http://h:x/p HTTP/1.1\r\nHost: h\r\n\r\n", 400, "authority"},
    {"GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n", 400, "without path"},
    /* single-valued fields we hand out */
};

static void check_invalid(const struct icase *c, size_t n, const struct http_limits *lim)
{
    struct http_request rq;
    struct http_header h[MAXH];
    int r = parse1(c->in, n, lim, &rq, h, NULL);
    if (c->status == 200) {
        cr_expect_eq(r, (int)n, "%s: returned %d", c->in, r);
        return;
    }
    cr_expect_eq(r, -c->status, "%s: returned %d (%s), want -%d", c->in, r, r < 0 ? rq.error : "",
                 c->status);
    if (r < 0) {
        cr_expect_not_null(rq.error, "%s", c->in);
        if (c->why && rq.error)
            cr_expect(strstr(rq.error, c->why), "%s: error \"%s\", want \"%s\"", c->in, rq.error,
                      c->why);
        cr_expect_eq(rq.keep_alive, 0);
    }
    /* fed byte by byte: need-more until the error, which is the same */
    struct http_parser st;
    http_parser_init(&st);
    for (size_t k = 1; k <= n; k++) {
        struct guarded g = guard(c->in, k);
        r = http_parse_request(&st, g.p, k, lim, &rq, h);
        unguard(&g);
        if (r != 0) break;
    }
    cr_expect_eq(r, -c->status, "%s: byte by byte returned %d (%s)", c->in, r,
                 r < 0 ? rq.error : "");
}

Test(parse, invalid)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        const struct icase *c = &invalid[i];
        /* the table's strings may hold a NUL: their length is up to the blank line */
        const char *e = c->in;
        size_t n = 0;
        for (;;) {
            const char *s = e + n;
            size_t l = strlen(s);
            n += l;
            if (l >= 4 && memcmp(s + l - 4, "\r\n\r\n", 4) == 0) break;
            n++; /* an embedded NUL */
        }
        check_invalid(c, n, NULL);
    }
}

/* --- limits --- */

Test(parse, request_line_limit)
{
    struct http_limits lim = {32, 64, 4};
    /* "GET /xxx HTTP/1.1\r\n" of exactly 32 bytes is fine, 33 is not */
    char line[64];
    snprintf(line, sizeof line, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", "xxxxxxxxxxxxxxxx");
    cr_assert_eq(strlen("GET /xxxxxxxxxxxxxxxx HTTP/1.1\r\n"), 32);
    struct http_request rq;
    struct http_header h[MAXH];
    cr_expect_eq(parse1(line, strlen(line), &lim, &rq, h, NULL), (int)strlen(line));
    snprintf(line, sizeof line, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", "xxxxxxxxxxxxxxxxx");
    cr_expect_eq(parse1(line, strlen(line), &lim, &rq, h, NULL), -414);
    cr_expect_str_eq(rq.error, "request line too long");

    /* as soon as max_line bytes without a line end are there: 31 wait, 32 fail */
    char big[40];
    memset(big, 'A', sizeof big);
    cr_expect_eq(parse1(big, 31, &lim, &rq, h, NULL), 0);
    cr_expect_eq(parse1(big, 32, &lim, &rq, h, NULL), -414);
    memcpy(big, "GET /", 5);
    cr_expect_eq(parse1(big, 32, &lim, &rq, h, NULL), -414);

    /* the defaults: 8192 */
    size_t n = 8192;
    char *huge = malloc(n + 64);
    memset(huge, 'a', n + 64);
    memcpy(huge, "GET /", 5);
    cr_expect_eq(parse1(huge, n - 1, NULL, &rq, h, NULL), 0);
    cr_expect_eq(parse1(huge, n, NULL, &rq, h, NULL), -414);
    memcpy(huge + n - 11, " HTTP/1.1\r\n", 11);
    memcpy(huge + n, "Host: a\r\n\r\n", 11);
    cr_expect_eq(parse1(huge, n + 11, NULL, &rq, h, NULL), (int)n + 11);
    free(huge);

    /* empty lines before the request line are bounded too */
    char crlf[80];
    for (size_t i = 0; i < sizeof crlf; i += 2)
        memcpy(crlf + i, "\r\n", 2);
    cr_expect_eq(parse1(crlf, 32, &lim, &rq, h, NULL), 0);
    cr_expect_eq(parse1(crlf, 34, &lim, &rq, h, NULL), -400);
    cr_expect_str_eq(rq.error, "too many empty lines");

    /* too many of them, then a bare CR: the first fault is the one reported,
     * whether the bytes come at once or one by one */
    char lfs[40];
    memset(lfs, '\n', 36);
    memcpy(lfs + 36, "\r\r", 2);
    cr_expect_eq(parse1(lfs, 38, &lim, &rq, h, NULL), -400);
    cr_expect_str_eq(rq.error, "too many empty lines");
    struct http_parser st;
    http_parser_init(&st);
    int r = 0;
    for (size_t k = 1; k <= 38 && r == 0; k++)
        r = http_parse_request(&st, lfs, k, &lim, &rq, h);
    cr_expect_eq(r, -400);
    cr_expect_str_eq(rq.error, "too many empty lines");
}

/* Too many empty lines is found at the first byte past the limit, whatever
 * follows, so the reason does not depend on how the bytes arrive (found by
 * fuzz_http_parse: whole, a bare CR after the limit was the reason; in
 * pieces, the limit was). */
Test(parse, empty_line_limit_same_reason_in_pieces)
{
    const struct http_limits lim = {24, 48, 4};
    char in[40];
    for (size_t i = 0; i < 32; i += 2)
        memcpy(in + i, "\r\n", 2);
    memcpy(in + 32, "\r\r\n", 3); /* a bare CR past the limit */
    struct http_request whole, part;
    struct http_header h[4];
    cr_assert_eq(parse1(in, 35, &lim, &whole, h, NULL), -400);
    struct http_parser st;
    http_parser_init(&st);
    cr_assert_eq(http_parse_request(&st, in, 20, &lim, &part, h), 0);
    cr_assert_eq(http_parse_request(&st, in, 35, &lim, &part, h), -400);
    cr_expect_str_eq(whole.error, part.error);
    cr_expect_str_eq(whole.error, "too many empty lines");
}

Test(parse, header_section_limit)
{
    struct http_limits lim = {64, 32, 8};
    struct http_request rq;
    struct http_header h[MAXH];
    /* field section "Host: a\r\nX: 0123456789012345\r\n\r\n" is 9 + 21 + 2 = 32 */
    static const char ok[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789012345\r\n\r\n";
    cr_expect_eq(parse1(ok, sizeof ok - 1, &lim, &rq, h, NULL), (int)sizeof ok - 1);
    static const char over[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 01234567890123456\r\n\r\n";
    cr_expect_eq(parse1(over, sizeof over - 1, &lim, &rq, h, NULL), -431);
    cr_expect_str_eq(rq.error, "header section too large");
    /* as soon as it is over, without the end: 16 + 31 wait, 16 + 32 fail */
    static const char open[] = "GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    cr_expect_eq(parse1(open, 16 + 31, &lim, &rq, h, NULL), 0);
    cr_expect_eq(parse1(open, 16 + 32, &lim, &rq, h, NULL), -431);

    /* default 8192 */
    size_t n = 16 + 8192;
    char *huge = malloc(n + 8);
    memcpy(huge, "GET / HTTP/1.1\r\nX: ", 19);
    memset(huge + 19, 'v', n + 8 - 19);
    cr_expect_eq(parse1(huge, n - 1, NULL, &rq, h, NULL), 0);
    cr_expect_eq(parse1(huge, n, NULL, &rq, h, NULL), -431);
    free(huge);
}

Test(parse, field_count_limit)
{
    struct http_limits lim = {0, 0, 3}; /* zeros: defaults */
    struct http_request rq;
    struct http_header h[3];
    static const char three[] = "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n";
    cr_expect_eq(parse1(three, sizeof three - 1, &lim, &rq, h, NULL), (int)sizeof three - 1);
    cr_expect_eq(rq.nheaders, 3);
    static const char four[] = "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n";
    cr_expect_eq(parse1(four, sizeof four - 1, &lim, &rq, h, NULL), -431);
    cr_expect_str_eq(rq.error, "too many fields");

    /* default 100 */
    char buf[2048];
    size_t n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(buf + n, "%s: %d\r\n", i ? "X" : "Host", i);
    memcpy(buf + n, "\r\n", 2);
    struct http_header hh[101];
    cr_expect_eq(parse1(buf, n + 2, NULL, &rq, hh, NULL), (int)n + 2);
    n += (size_t)sprintf(buf + n, "Y: z\r\n\r\n");
    cr_expect_eq(parse1(buf, n, NULL, &rq, hh, NULL), -431);
}

/* --- pipelining --- */

Test(parse, pipelined)
{
    static const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                             "\r\nHEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             "GET /d HTTP/1.1\r\nHo";
    const char *want[] = {"/a", "/b", "/c"};
    struct guarded g = guard(in, sizeof in - 1);
    const char *p = g.p;
    size_t left = sizeof in - 1;
    struct http_parser st;
    http_parser_init(&st);
    for (int i = 0; i < 3; i++) {
        struct http_request rq;
        struct http_header h[MAXH];
        int r = http_parse_request(&st, p, left, NULL, &rq, h);
        cr_assert_gt(r, 0, "request %d: %d %s", i, r, rq.error ? rq.error : "");
        cr_expect(str_is(rq.path, want[i]), "request %d", i);
        cr_expect_eq(rq.keep_alive, 1);
        cr_expect_eq(p[r - 1], '\n');
        size_t body = rq.content_length > 0 ? (size_t)rq.content_length : 0;
        p += (size_t)r + body;
        left -= (size_t)r + body;
    }
    struct http_request rq;
    cr_expect_eq(http_parse_request(&st, p, left, NULL, &rq, NULL), 0);
    cr_expect_eq(st.scanned, left);
    unguard(&g);
}

/* a client's batch of whole heads (as wrk or a browser pipelines): each is
 * found in turn, and a last head that stops after a field line's LF is
 * waited for, then taken once it is complete */
Test(parse, pipelined_whole_heads)
{
    char in[1024];
    size_t n = 0, each = 0;
    for (int i = 0; i < 8; i++)
        n += each = (size_t)sprintf(in + n, "GET /%d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", i);
    size_t open = n;
    n += (size_t)sprintf(in + n, "GET /last HTTP/1.1\r\nHost: h\r\n");
    struct guarded g = guard(in, n);
    const char *p = g.p;
    struct http_parser st;
    http_parser_init(&st);
    for (int i = 0; i < 8; i++) {
        struct http_request rq;
        struct http_header h[MAXH];
        int r = http_parse_request(&st, p, (size_t)(g.p + n - p), NULL, &rq, h);
        cr_assert_eq(r, (int)each, "request %d: %d %s", i, r, rq.error ? rq.error : "");
        char want[16];
        snprintf(want, sizeof want, "/%d", i);
        cr_expect(str_is(rq.path, want), "request %d", i);
        cr_expect(str_is(rq.host, "127.0.0.1:8080"), "request %d", i);
        cr_expect_eq(rq.nheaders, 1);
        cr_expect_eq(st.scanned, 0);
        p += r;
    }
    cr_assert_eq(p, g.p + open);
    struct http_request rq;
    cr_expect_eq(http_parse_request(&st, p, n - open, NULL, &rq, NULL), 0);
    cr_expect_geq(st.scanned + 2, n - open);
    unguard(&g);

    static const char rest[] = "X: y\r\n\r\n";
    memcpy(in + n, rest, sizeof rest - 1);
    g = guard(in + open, n - open + sizeof rest - 1);
    cr_expect_eq(http_parse_request(&st, g.p, n - open + sizeof rest - 1, NULL, &rq, NULL),
                 (int)(n - open + sizeof rest - 1));
    cr_expect(str_is(rq.path, "/last"));
    cr_expect_eq(rq.nheaders, 2);
    unguard(&g);
}

/* more bytes than the head: the rest is left alone, and the head is found
 * at the same place whatever follows */
Test(parse, trailing_bytes_untouched)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\n\0\0garbage";
    struct http_request rq;
    cr_expect_eq(parse1(in, sizeof in - 1, NULL, &rq, NULL, NULL), 27);
}

Test(parse, resume_without_rescan)
{
    /* a long field arrives in two parts.  Poison the first part with LFs
     * before the second call: had the end search started over, it would stop
     * at the first "\n\n"; resuming, it finds the real end */
    char buf[256];
    size_t n = (size_t)sprintf(buf, "GET / HTTP/1.0\r\nX: %0100d", 0);
    struct http_parser st;
    http_parser_init(&st);
    struct http_request rq;
    cr_assert_eq(http_parse_request(&st, buf, n, NULL, &rq, NULL), 0);
    cr_expect_eq(st.scanned, n);
    cr_expect_eq(st.line_end, 16);
    memset(buf + 19, '\n', n - 19);
    size_t m = n + (size_t)sprintf(buf + n, "\r\n\r\n");
    cr_expect_eq(http_parse_request(&st, buf, m, NULL, &rq, NULL), (int)m);
    /* and a fresh parser does see the early end */
    http_parser_init(&st);
    cr_expect_eq(http_parse_request(&st, buf, m, NULL, &rq, NULL), 21);
}

/* a TLS ClientHello (or any non-HTTP client) is refused on its first byte */
Test(parse, not_http_fails_early)
{
    struct http_request rq;
    cr_expect_eq(parse1("\x16\x03\x01\x02\x00\x01", 6, NULL, &rq, NULL, NULL), -400);
    cr_expect_str_eq(rq.error, "invalid method");
    cr_expect_eq(parse1("\r\n\x16", 3, NULL, &rq, NULL, NULL), -400);
    cr_expect_eq(parse1("\r\n", 2, NULL, &rq, NULL, NULL), 0);
    cr_expect_eq(parse1("G", 1, NULL, &rq, NULL, NULL), 0);
}

Test(parse, method_names)
{
    cr_expect_str_eq(http_method_name(HTTP_GET), "GET");
    cr_expect_str_eq(http_method_name(HTTP_HEAD), "HEAD");
    cr_expect_str_eq(http_method_name(HTTP_OPTIONS), "OPTIONS");
    cr_expect_str_eq(http_method_name(HTTP_PATCH), "PATCH");
    cr_expect_str_eq(http_method_name(HTTP_OTHER), "OTHER");
    cr_expect_str_eq(http_method_name((enum http_method)99), "OTHER");
}

/* RFC 9110 §2.5: a message of a higher minor version within a major version
 * the recipient implements is processed as the highest minor version it
 * conforms to; the answer is HTTP/1.1, kept alive */
Test(parse, higher_minor_version_is_http11)
{
    struct http_request rq;
    struct http_header h[MAXH];
    const char *in = "GET /x HTTP/1.7\r\nHost: a\r\n\r\n";
    cr_assert_eq(parse1(in, strlen(in), NULL, &rq, h, NULL), (int)strlen(in));
    cr_expect_eq(rq.version, 11);
    cr_expect_eq(rq.keep_alive, 1);
}

Test(parse, error_resets_request)
{
    struct http_request rq;
    memset(&rq, 0xAA, sizeof rq);
    cr_expect_eq(parse1("GET / HTTP/3.0\r\n\r\n", 18, NULL, &rq, NULL, NULL), -505);
    cr_expect_eq(rq.version, 0);
    cr_expect_eq(rq.content_length, -1);
    cr_expect_null(rq.host.p);
    cr_expect_eq(rq.keep_alive, 0);
}

/* every byte value in every position against the RFC grammar, written out
 * independently of the parser's table */
static int in_set(int c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

Test(parse, byte_classes)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int c = 0; c < 256; c++) {
        int tchar = in_set(c, alnum) || in_set(c, "!#$%&'*+-.^_`|~");
        int vchar = c == '\t' || (c >= 0x20 && c != 0x7f);
        int target = c > 0x20 && c != 0x7f;
        /* '%' only as "%" HEXDIG HEXDIG: "a%b" is not a host */
        int host = in_set(c, alnum) || in_set(c, "-._~!$&'()*+,;=");
        struct {
            const char *fmt;
            int ok;
        } t[] = {
            {"GET / HTTP/1.1\r\nHost: a\r\nX: a%cb\r\n\r\n", vchar},
            {"GET / HTTP/1.1\r\nHost: a\r\nX%cY: v\r\n\r\n", tchar || c == ':' /* "X" "Y: v" */},
            {"G%cT / HTTP/1.1\r\nHost: a\r\n\r\n", tchar},
            {"GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", target},
            {"GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", host},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char in[64];
            size_t n = (size_t)snprintf(in, sizeof in, t[i].fmt, 'Z');
            in[strchr(t[i].fmt, '%') - t[i].fmt] = (char)c; /* the byte, even NUL */
            struct http_request rq;
            int r = parse1(in, n, NULL, &rq, NULL, NULL);
            cr_expect_eq(r > 0, t[i].ok, "byte 0x%02x in \"%s\": %d (%s)", c, t[i].fmt, r,
                         r < 0 ? rq.error : "");
        }
    }
}

/* values, targets and field names are skipped a block at a time (16 bytes,
 * or 8 without SSE2): a byte must be judged the same at every offset,
 * whatever block boundary it falls on, over two blocks, a word and the bytes
 * after */
#define RUN      "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
#define NAME_RUN "abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRST"
Test(parse, byte_classes_every_offset)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const size_t len = sizeof RUN - 1;
    for (int c = 0; c < 256; c++) {
        int vchar = c == '\t' || (c >= 0x20 && c != 0x7f);
        int target = c > 0x20 && c != 0x7f;
        int tchar = in_set(c, alnum) || in_set(c, "!#$%&'*+-.^_`|~");
        for (size_t at = 0; at < sizeof NAME_RUN - 1; at++) {
            char in[128];
            struct http_request rq;
            int n = sprintf(in, "GET / HTTP/1.1\r\nHost: a\r\nX%s: v\r\n\r\n", NAME_RUN);
            in[26 + at] = (char)c;
            int r = parse1(in, (size_t)n, NULL, &rq, NULL, NULL);
            /* a ':' splits name and value, both still valid */
            cr_expect_eq(r > 0, tchar || c == ':', "name byte 0x%02x at %zu: %d", c, at, r);
        }
        for (size_t at = 0; at < len; at++) {
            char in[128];
            struct http_request rq;
            int n = sprintf(in, "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", RUN);
            in[28 + at] = (char)c;
            int r = parse1(in, (size_t)n, NULL, &rq, NULL, NULL);
            /* an LF as the last byte ends the line, and the head with the CRLF after it */
            cr_expect_eq(r > 0, vchar || (c == '\n' && at == len - 1),
                         "value byte 0x%02x at %zu: %d", c, at, r);
            n = sprintf(in, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", RUN);
            in[5 + at] = (char)c;
            r = parse1(in, (size_t)n, NULL, &rq, NULL, NULL);
            cr_expect_eq(r > 0, target, "target byte 0x%02x at %zu: %d", c, at, r);
        }
    }
}
