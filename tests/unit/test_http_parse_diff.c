/* The request parser's two paths held to each other, and its pipelining held
 * to every way a batch can be cut into reads.
 *
 * http_parse_request parses a head whose bytes end in LF in one pass (the
 * fast path) and anything else by searching for the end first and parsing
 * exactly the head (the general path).  A parse that starts with a one-byte
 * piece is forced onto the general path, so generated and mutated heads fed
 * both ways must give the same outcome, field by field and reason by reason.
 * Every input is an exact-size heap copy, so ASan sees any over-read. */
#include "http/parse.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXH 128

static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    cr_assert(p);
    memcpy(p, s, n);
    return p;
}

struct outcome {
    int r;
    struct http_request q;
    struct http_header h[MAXH];
    const char *base;
};

/* one call: bytes ending in LF take the fast path */
static void parse_fast(struct outcome *o, const char *buf, size_t n, const struct http_limits *l)
{
    struct http_parser st;
    http_parser_init(&st);
    o->base = buf;
    o->r = http_parse_request(&st, buf, n, l, &o->q, o->h);
}

/* a first piece of one byte, then all: the general path */
static void parse_general(struct outcome *o, const char *buf, size_t n, const struct http_limits *l)
{
    struct http_parser st;
    http_parser_init(&st);
    o->base = buf;
    char *one = dup_exact(buf, 1);
    o->r = http_parse_request(&st, one, 1, l, &o->q, o->h);
    free(one);
    if (o->r == 0) o->r = http_parse_request(&st, buf, n, l, &o->q, o->h);
}

static int same_str(struct http_str a, const char *ba, struct http_str b, const char *bb)
{
    if (!a.p != !b.p || a.n != b.n) return 0;
    if (!a.p) return 1;
    /* the static "/" of an absolute-form target without a path */
    if (a.p < ba || b.p < bb || a.p - ba != b.p - bb) return memcmp(a.p, b.p, a.n) == 0;
    return 1;
}

/* NULL when a and b agree, else what differs */
static const char *differ(const struct outcome *a, const struct outcome *b)
{
    if (a->r != b->r) return "result";
    if (a->r < 0) {
        if (strcmp(a->q.error, b->q.error) != 0) return "reason";
        return a->q.version != b->q.version ? "version of an error" : NULL;
    }
    if (a->r == 0) return NULL;
    const struct http_request *x = &a->q, *y = &b->q;
    if (x->method != y->method || x->version != y->version || x->nheaders != y->nheaders ||
        x->content_length != y->content_length || x->chunked != y->chunked ||
        x->keep_alive != y->keep_alive || x->expect_continue != y->expect_continue || x->error ||
        y->error)
        return "a scalar field";
    const struct http_str *sa[] = {&x->method_str,
                                   &x->target,
                                   &x->path,
                                   &x->host,
                                   &x->if_match,
                                   &x->if_none_match,
                                   &x->if_modified_since,
                                   &x->if_unmodified_since,
                                   &x->if_range,
                                   &x->range};
    const struct http_str *sb[] = {&y->method_str,
                                   &y->target,
                                   &y->path,
                                   &y->host,
                                   &y->if_match,
                                   &y->if_none_match,
                                   &y->if_modified_since,
                                   &y->if_unmodified_since,
                                   &y->if_range,
                                   &y->range};
    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++)
        if (!same_str(*sa[i], a->base, *sb[i], b->base)) return "a string field";
    for (size_t i = 0; i < x->nheaders; i++)
        if (!same_str(x->headers[i].name, a->base, y->headers[i].name, b->base) ||
            !same_str(x->headers[i].value, a->base, y->headers[i].value, b->base))
            return "a header";
    return NULL;
}

/* mostly one of the first `good` members of set, now and then any */
static const char *pick(const char *const *set, size_t n, size_t good)
{
    return set[rnd(8) ? rnd((unsigned)good) : rnd((unsigned)n)];
}
#define PICK(set, good) pick(set, sizeof set / sizeof set[0], good)

/* a host value from bytes near the fast check's edges: host bytes, the
 * colon, brackets, and bytes that are field-value bytes but no host bytes */
static size_t gen_host(char *p)
{
    static const char alpha[] = "abcXYZ019.-:::[]_~%!@/ \t\x80";
    size_t n = rnd(4) == 0 ? rnd(24) : 5 + rnd(14);
    int odd = rnd(2); /* else only bytes the block check takes */
    for (size_t i = 0; i < n; i++)
        p[i] = !odd || rnd(4) ? "ab0.-9zQ"[rnd(8)] : alpha[rnd(sizeof alpha - 1)];
    if (n && rnd(3) == 0) { /* a port: digits after the colon, or not quite */
        size_t c = n - 1 - rnd((unsigned)n < 6 ? (unsigned)n : 6);
        p[c] = ':';
        for (size_t i = c + 1; i < n; i++)
            if (!odd || rnd(4)) p[i] = (char)('0' + rnd(10));
    }
    return n;
}

/* a head ending in LF: mostly well-formed (the first members of each set),
 * some parts odd, some heads then mutated */
static size_t gen_head(char *out, size_t cap)
{
    static const char *const methods[] = {"GET",   "HEAD",    "POST", "OPTIONS", /* good */
                                          "PATCH", "CONNECT", "BREW", "get",     "G\x01T"};
    static const char *const targets[] = {
        "/", "/hello.txt",  "/a/b?c=d&e", "http://h:8/p?q", "https://[::1]/", "/%41%zz", /* good */
        "*", "http://u@h/", "h:80",       "/sp ace",        "/\x7f",          "http://h?q"};
    static const char *const versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/1.1", /* good */
                                           "HTTP/2.0", "HTTP/1.2", "HTTP/11",
                                           "http/1.1", "HTTP/1.1 "};
    static const char *const eols[] = {"\r\n", "\r\n",   "\n",  "\r\n", /* good */
                                       "\r",   "\r\r\n", "\n\r"};
    static const char *const names[] = {"Content-Length",
                                        "Transfer-Encoding",
                                        "Connection",
                                        "Expect",
                                        "If-Match",
                                        "If-None-Match",
                                        "If-Modified-Since",
                                        "If-Unmodified-Since",
                                        "If-Range",
                                        "Range",
                                        "User-Agent",
                                        "Accept",
                                        "X-Forwarded-For",
                                        "Accept-Encoding",
                                        "Cookie",
                                        "Referer",
                                        "Sec-Fetch-Mode", /* good */
                                        "Host",
                                        "host",
                                        "HOST",
                                        "X_y",
                                        "Ho st",
                                        "",
                                        "Hos\x01t",
                                        " Host",
                                        "Host\t"};
    static const char *const values[] = {"127.0.0.1:8080",
                                         "example.com",
                                         "",
                                         "5",
                                         "0",
                                         "chunked",
                                         "gzip, chunked",
                                         "close",
                                         "keep-alive",
                                         "Keep-Alive, Upgrade",
                                         "100-continue",
                                         "\"abc\"",
                                         "bytes=0-1",
                                         "*/*",
                                         "a\tb",
                                         "  padded  ",
                                         "\x80\xff",
                                         "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/2010",
                                         "Thu, 01 Jan 1970 00:00:00 GMT",
                                         "gzip, deflate, br", /* good */
                                         "-1",
                                         "99999999999999999999",
                                         "chunked, gzip",
                                         "br",
                                         "x\x01y",
                                         "a\rb",
                                         "x\x7fy"};
    char *p = out, *end = out + cap - 64;
    p += sprintf(p, "%s%s%s %s %s%s", rnd(16) ? "" : "\r\n", PICK(methods, 4), rnd(16) ? "" : " ",
                 PICK(targets, 6), PICK(versions, 3), PICK(eols, 4));
    unsigned nf = rnd(8);
    for (unsigned i = 0; i < nf && p < end - 128; i++) {
        const char *name = i == 0 && rnd(8) ? "Host" : PICK(names, 17);
        p += sprintf(p, "%s:%s", name, rnd(4) ? " " : rnd(2) ? "" : " \t ");
        if (!strcmp(name, "Host") && rnd(4))
            p += gen_host(p);
        else
            p += sprintf(p, "%s", PICK(values, 20));
        p += sprintf(p, "%s%s", rnd(6) ? "" : " ", PICK(eols, 4));
    }
    p += sprintf(p, "%s", PICK(eols, 4));
    size_t n = (size_t)(p - out);
    /* mutations: flip, insert or delete a few bytes */
    for (unsigned m = rnd(6) == 0 ? 1 + rnd(3) : 0; m && n > 2; m--) {
        size_t at = rnd((unsigned)n);
        switch (rnd(3)) {
        case 0:
            out[at] = (char)rnd(256);
            break;
        case 1:
            if (n + 1 < cap) {
                memmove(out + at + 1, out + at, n - at);
                out[at] = "\r\n :\t\0a/"[rnd(8)];
                n++;
            }
            break;
        default:
            memmove(out + at, out + at + 1, n - at - 1);
            n--;
        }
    }
    /* the fast path only takes bytes that end in LF */
    if (!n || out[n - 1] != '\n') out[n++] = '\n';
    return n;
}

Test(parse_diff, fast_and_general_agree)
{
    static struct outcome fast, gen, more;
    static const struct http_limits tiny = {40, 60, 3};
    char head[4096];
    int ok = 0, bad = 0, need = 0;
    for (int i = 0; i < 60000; i++) {
        size_t n = gen_head(head, sizeof head);
        const struct http_limits *l = i % 5 == 4 ? &tiny : NULL;
        char *buf = dup_exact(head, n);
        parse_fast(&fast, buf, n, l);
        parse_general(&gen, buf, n, l);
        const char *d = differ(&fast, &gen);
        cr_assert(!d, "fast and general paths differ in %s (%d vs %d) on %.*s", d, fast.r, gen.r,
                  (int)n, buf);
        if (fast.r > 0) {
            /* with a byte after the bytes, the general path takes the same head */
            char *plus = malloc(n + 1);
            cr_assert(plus);
            memcpy(plus, buf, n);
            plus[n] = 'X';
            parse_fast(&more, plus, n + 1, l);
            more.base = plus;
            d = differ(&fast, &more);
            cr_assert(!d, "a trailing byte changes %s on %.*s", d, (int)n, buf);
            free(plus);
        }
        ok += fast.r > 0;
        bad += fast.r < 0;
        need += fast.r == 0;
        free(buf);
    }
    /* the generator reaches every outcome often enough to mean something */
    cr_expect_gt(ok, 6000, "%d heads parsed", ok);
    cr_expect_gt(bad, 6000, "%d heads refused", bad);
    cr_expect_gt(need, 100, "%d heads incomplete", need);
}

/* An independent reading of the Host rule berth applies (RFC 3986 host as
 * IP-literal or reg-name, then ':' and digits): unreserved, sub-delims and
 * '%' in a reg-name; an IP-literal is '[', at least one of those or ':', ']'. */
static int host_byte(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~!$&'()*+,;=%", c));
}

/* a '%' is only the start of "%" HEXDIG HEXDIG (RFC 3986 §2.1) */
static int pct_ok(const char *p, size_t n, size_t i)
{
    return p[i] != '%' ||
           (i + 2 < n && isxdigit((unsigned char)p[i + 1]) && isxdigit((unsigned char)p[i + 2]));
}

static int ref_host(const char *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '[') {
        for (i = 1; i < n && (host_byte(p[i]) || p[i] == ':'); i += p[i] == '%' ? 3 : 1)
            if (!pct_ok(p, n, i)) return 0;
        if (i == 1 || i >= n || p[i] != ']') return 0;
        i++;
    } else {
        for (; i < n && host_byte(p[i]); i += p[i] == '%' ? 3 : 1)
            if (!pct_ok(p, n, i)) return 0;
    }
    if (i < n && p[i] == ':')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            ;
    return i == n;
}

/* Host values of every length around the 16-byte block, a colon or an odd
 * byte at every place, the value close to the end of the bytes (no whole
 * block to load) or far from it */
Test(parse_diff, host_values_at_block_edges)
{
    static const char odd[] = "/@[]_~%!:\x80 ";
    /* "%" is followed by two hex digits in some values ("a1.-Zb9" holds
     * them: "%1." is refused, "%Zb" too, "%b9" taken) */
    char val[40], buf[256];
    int valid = 0, invalid = 0;
    for (size_t len = 0; len <= 20; len++) {
        for (size_t at = 0; at <= len; at++) {
            for (size_t o = 0; o < sizeof odd; o++) {
                for (int tail = 0; tail < 2; tail++) {
                    for (size_t i = 0; i < len; i++)
                        val[i] = "a1.-Zb9"[(i + len) % 7];
                    if (at < len && o < sizeof odd - 1) val[at] = odd[o];
                    int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: %.*s\r\n%s\r\n",
                                     (int)len, val, tail ? "X-Pad: 0123456789abcdef0123\r\n" : "");
                    /* the parser trims OWS around a value, so the reference does too */
                    size_t s = 0, e = len;
                    while (s < e && (val[s] == ' ' || val[s] == '\t'))
                        s++;
                    while (e > s && (val[e - 1] == ' ' || val[e - 1] == '\t'))
                        e--;
                    int want = ref_host(val + s, e - s);
                    char *p = dup_exact(buf, (size_t)n);
                    struct outcome f, g;
                    parse_fast(&f, p, (size_t)n, NULL);
                    parse_general(&g, p, (size_t)n, NULL);
                    cr_assert(!differ(&f, &g), "paths differ on Host '%.*s'", (int)len, val);
                    if (want) {
                        cr_assert_eq(f.r, n, "Host '%.*s' refused: %s", (int)len, val,
                                     f.r < 0 ? f.q.error : "");
                        cr_assert_eq(f.q.host.n, e - s);
                        valid++;
                    } else {
                        cr_assert_eq(f.r, -400, "Host '%.*s' taken", (int)len, val);
                        cr_assert_str_eq(f.q.error, "invalid host");
                        invalid++;
                    }
                    free(p);
                }
            }
        }
    }
    cr_expect_gt(valid, 500);
    cr_expect_gt(invalid, 500);
}

/* --- a pipelined batch cut into two reads at every byte --- */

struct seen_req {
    size_t at, len; /* where the head starts in the batch, its length */
    enum http_method method;
    char path[32], host[32];
    size_t nheaders;
    int64_t cl;
};

/* Parses the batch as a connection does: what a read brought is parsed
 * until a head is incomplete; the rest waits (copied, exact size) for the
 * next read.  Bodies (Content-Length) are skipped. */
static int run_batch(const char *batch, size_t n, size_t cut, struct seen_req *out, int max)
{
    struct http_parser st;
    http_parser_init(&st);
    size_t have = cut < n ? cut : n, at = 0;
    int k = 0;
    for (;;) {
        char *piece = dup_exact(batch + at, have - at);
        struct http_request q;
        struct http_header h[MAXH];
        int r = have > at ? http_parse_request(&st, piece, have - at, NULL, &q, h) : 0;
        cr_assert_geq(r, 0, "cut %zu at %zu: %d %s", cut, at, r, q.error);
        if (r > 0) {
            cr_assert_lt(k, max);
            struct seen_req *s = &out[k++];
            s->at = at;
            s->len = (size_t)r;
            s->method = q.method;
            snprintf(s->path, sizeof s->path, "%.*s", (int)q.path.n, q.path.p);
            snprintf(s->host, sizeof s->host, "%.*s", (int)q.host.n, q.host.p ? q.host.p : "");
            s->nheaders = q.nheaders;
            s->cl = q.content_length;
            size_t body = q.content_length > 0 ? (size_t)q.content_length : 0;
            free(piece);
            at += (size_t)r + body;
            if (at > have) have = n; /* the body spans the cut: the next read brings it */
            continue;
        }
        free(piece);
        if (have == n) break;
        have = n; /* the second read */
    }
    cr_assert_eq(at, n, "cut %zu: the batch is consumed to its end", cut);
    return k;
}

Test(parse_diff, pipelined_batch_every_split)
{
    static const char batch[] =
        "GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        "GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\nGET / H"
        "\r\n" /* an empty line before the next request is ignored */
        "HEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        "GET /d?x=1 HTTP/1.1\nHost: example.com\nAccept: */*\n\n"
        "GET http://a.example:81/abs HTTP/1.1\r\nHost: ignored\r\nUser-Agent: "
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n\r\n"
        "OPTIONS * HTTP/1.1\r\nHost: [::1]:9\r\n\r\n"
        "GET /e HTTP/1.1\r\nHost: e\r\nIf-None-Match: \"v1\"\r\nRange: bytes=0-3\r\n\r\n";
    const size_t n = sizeof batch - 1;
    struct seen_req ref[16], got[16];
    int nref = run_batch(batch, n, n, ref, 16);
    cr_assert_eq(nref, 8);
    cr_expect_str_eq(ref[2].path, "/up");
    cr_expect_eq(ref[2].cl, 7);
    cr_expect_str_eq(ref[5].host, "a.example:81");
    cr_expect_str_eq(ref[6].path, "*");
    for (size_t cut = 0; cut <= n; cut++) {
        int k = run_batch(batch, n, cut, got, 16);
        cr_assert_eq(k, nref, "cut %zu: %d requests", cut, k);
        for (int i = 0; i < k; i++) {
            cr_assert_eq(got[i].at, ref[i].at, "cut %zu, request %d", cut, i);
            cr_assert_eq(got[i].len, ref[i].len, "cut %zu, request %d", cut, i);
            cr_assert_eq(got[i].method, ref[i].method);
            cr_assert_str_eq(got[i].path, ref[i].path, "cut %zu, request %d", cut, i);
            cr_assert_str_eq(got[i].host, ref[i].host, "cut %zu, request %d", cut, i);
            cr_assert_eq(got[i].nheaders, ref[i].nheaders);
            cr_assert_eq(got[i].cl, ref[i].cl);
        }
    }
}
