/* libFuzzer harness for the request head parser.  Each input is parsed in
 * one call, then fed again in pieces (every split for small inputs, a few
 * otherwise) through one parser state, each piece an exact-size copy so ASan
 * catches any read past the bytes given.  Invariants: a head never extends
 * past the input and ends in LF, every string points inside it, errors are
 * the documented statuses with a reason, and the pieces give exactly the
 * one-call result, field by field and reason by reason.  Two sets of limits
 * run: the defaults, and tiny ones so that short inputs reach the 414/431
 * paths. */
#include "http/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 100

static void check_str(struct http_str s, const char *buf, size_t n)
{
    if (!s.p) return;
    if (s.n == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + n)) return; /* the static "/" */
    if (s.p < buf || s.p + s.n > buf + n) abort();
}

static void check(int r, const struct http_request *rq, const char *buf, size_t n, size_t maxh)
{
    if (r == 0) return;
    if (r < 0) {
        if (r != -400 && r != -414 && r != -417 && r != -431 && r != -501 && r != -505) abort();
        if (!rq->error || rq->keep_alive) abort();
        return;
    }
    if ((size_t)r > n || buf[r - 1] != '\n') abort();
    if (rq->version != 10 && rq->version != 11) abort();
    if (rq->version == 11 && !rq->host.p) abort();
    if (rq->chunked && (rq->content_length != -1 || rq->version != 11)) abort();
    if (rq->content_length < -1 || rq->nheaders > maxh || rq->error) abort();
    if ((unsigned)rq->keep_alive > 1 || (unsigned)rq->expect_continue > 1) abort();
    if (!rq->target.n || !rq->path.n || !rq->method_str.n) abort();
    if (rq->path.p[0] != '/' && !(rq->path.n == 1 && rq->path.p[0] == '*')) abort();
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
        check_str(all[i], buf, (size_t)r);
    for (size_t i = 0; i < rq->nheaders; i++) {
        check_str(rq->headers[i].name, buf, (size_t)r);
        check_str(rq->headers[i].value, buf, (size_t)r);
        if (!rq->headers[i].name.n) abort();
    }
}

/* a string at the same offset with the same length (or both absent) */
static void same_str(struct http_str a, const char *ba, struct http_str b, const char *bb)
{
    if (!a.p != !b.p || a.n != b.n) abort();
    if (a.p && a.p - ba != b.p - bb) abort();
}

/* the same outcome on every field, with strings at the same offsets (the
 * one-call parse of bytes ending in LF takes the fast path, the pieces the
 * resumable one, so this holds the two paths to each other) */
static void same(int r1, const struct http_request *a, const char *ba, int r2,
                 const struct http_request *b, const char *bb)
{
    if (r1 != r2) abort();
    if (r1 < 0 && (strcmp(a->error, b->error) != 0 || a->version != b->version)) abort();
    if (r1 <= 0) return;
    if (a->method != b->method || a->version != b->version || a->nheaders != b->nheaders ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue)
        abort();
    same_str(a->method_str, ba, b->method_str, bb);
    same_str(a->target, ba, b->target, bb);
    same_str(a->host, ba, b->host, bb);
    same_str(a->if_match, ba, b->if_match, bb);
    same_str(a->if_none_match, ba, b->if_none_match, bb);
    same_str(a->if_modified_since, ba, b->if_modified_since, bb);
    same_str(a->if_unmodified_since, ba, b->if_unmodified_since, bb);
    same_str(a->if_range, ba, b->if_range, bb);
    same_str(a->range, ba, b->range, bb);
    /* the path may be the static "/" of an absolute-form target without one */
    if (a->path.n != b->path.n || memcmp(a->path.p, b->path.p, a->path.n) != 0) abort();
    for (size_t i = 0; i < a->nheaders; i++) {
        same_str(a->headers[i].name, ba, b->headers[i].name, bb);
        same_str(a->headers[i].value, ba, b->headers[i].value, bb);
    }
}

static int eq(struct http_str a, struct http_str b)
{
    return a.n == b.n && !a.p == !b.p && (!a.n || memcmp(a.p, b.p, a.n) == 0);
}

/* A request written back in canonical form ("name: value", CRLF) parses to
 * the same meaning: nothing accepted depends on a spelling we then lose. */
static void reserialize(const struct http_request *a)
{
    static char out[20000];
    static struct http_header h[MAXH];
    size_t n = 0;
#define PUT(p, len)                                                                                \
    do {                                                                                           \
        if (n + (len) > sizeof out) return;                                                        \
        memcpy(out + n, (p), (len));                                                               \
        n += (len);                                                                                \
    } while (0)
    PUT(a->method_str.p, a->method_str.n);
    PUT(" ", 1);
    PUT(a->target.p, a->target.n);
    PUT(a->version == 11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
    for (size_t i = 0; i < a->nheaders; i++) {
        PUT(a->headers[i].name.p, a->headers[i].name.n);
        PUT(": ", 2);
        PUT(a->headers[i].value.p, a->headers[i].value.n);
        PUT("\r\n", 2);
    }
    PUT("\r\n", 2);
#undef PUT
    struct http_parser st;
    struct http_request b;
    http_parser_init(&st);
    const struct http_limits big = {sizeof out, sizeof out, MAXH};
    if (http_parse_request(&st, out, n, &big, &b, h) != (int)n) abort();
    if (a->method != b.method || a->version != b.version || a->nheaders != b.nheaders ||
        a->content_length != b.content_length || a->chunked != b.chunked ||
        a->keep_alive != b.keep_alive || a->expect_continue != b.expect_continue ||
        !eq(a->host, b.host) || !eq(a->path, b.path) || !eq(a->range, b.range) ||
        !eq(a->if_none_match, b.if_none_match))
        abort();
}

static void run(const char *in, size_t size, const struct http_limits *lim, size_t maxh)
{
    static struct http_header h1[MAXH], h2[MAXH];
    struct http_request r1, r2;
    struct http_parser st;

    http_parser_init(&st);
    int ref = http_parse_request(&st, in, size, lim, &r1, h1);
    check(ref, &r1, in, size, maxh);
    if (ref > 0) reserialize(&r1);
    if (ref > 0 || ref < 0) {
        /* the parser zeroes its state, and a second call gives the same */
        if (st.scanned || st.start || st.line_end) abort();
        int again = http_parse_request(&st, in, size, lim, &r2, h2);
        same(ref, &r1, in, again, &r2, in);
    }

    /* in pieces: every split point when small, else a spread of them */
    size_t step = size <= 256 ? 1 : size / 64;
    for (size_t first = 0; first < size; first += step) {
        http_parser_init(&st);
        size_t cuts[3] = {first, first + (size - first) / 2, size};
        int r = 0;
        for (int c = 0; c < 3 && r == 0; c++) {
            size_t k = cuts[c];
            char *piece = malloc(k ? k : 1);
            if (!piece) return;
            memcpy(piece, in, k);
            size_t before = st.scanned;
            r = http_parse_request(&st, piece, k, lim, &r2, h2);
            if (r == 0) {
                if (k == size && ref != 0) abort();
                if (st.scanned < before || st.scanned > k || st.scanned + 2 < k) abort();
            } else {
                check(r, &r2, piece, k, maxh);
                /* a head (or an error) found in a prefix is that of the whole */
                same(ref, &r1, in, r, &r2, piece);
            }
            free(piece);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (!in) return 0;
    if (size) memcpy(in, data, size);
    const struct http_limits tiny = {24, 48, 4};
    run(in, size, NULL, MAXH);
    run(in, size, &tiny, 4);
    /* and up to the last LF, so that the one-call parse takes the fast path
     * (bytes that end in LF) even when the input goes on after the head */
    size_t k = size;
    while (k && in[k - 1] != '\n')
        k--;
    if (k && k < size) {
        char *cut = malloc(k);
        if (cut) {
            memcpy(cut, in, k);
            run(cut, k, NULL, MAXH);
            run(cut, k, &tiny, 4);
            free(cut);
        }
    }
    free(in);
    return 0;
}
