/* Unit tests of src/frame.c: every kind of framing over every split point of
 * a stream (one cut and every pair of cuts), several messages in one
 * segment, limits, and a stream that ends inside a message (BERTH_EOF).
 * Each call sees a heap copy of exactly the bytes it may read, so ASan
 * catches a decoder that looks one byte too far. */
#include "err.h"
#include "frame.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct result {
    char out[4096]; /* the messages, each followed by '|' */
    size_t len;
    int nmsgs;
};

static ssize_t decode_copy(struct frame_dec *d, const char *p, size_t n, int eof,
                           struct result *res)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    const char *m = NULL;
    size_t ml = 0;
    ssize_t r = frame_decode(d, copy, n, eof, &m, &ml);
    if (r > 0) {
        cr_assert(m >= copy && m + ml <= copy + n, "message outside the input");
        cr_assert_leq(ml, (size_t)r);
        cr_assert_lt(res->len + ml + 1, sizeof res->out);
        memcpy(res->out + res->len, m, ml);
        res->len += ml;
        res->out[res->len++] = '|';
        res->nmsgs++;
    }
    free(copy);
    return r;
}

/* Feeds in[0..n) as a reader would see it, arriving in pieces that end at
 * each of cuts[] (ascending) and then at n, decoding after each piece until
 * it needs more.  eof_at_end: the peer closes after the last byte.  Returns
 * 0 (clean, or waiting for more) or the decoder's error. */
static ssize_t drive(struct frame_dec d, const char *in, size_t n, const size_t *cuts, size_t ncuts,
                     int eof_at_end, struct result *res)
{
    size_t start = 0;
    memset(res, 0, sizeof *res);
    for (size_t ci = 0;; ci++) {
        size_t avail = ci < ncuts ? cuts[ci] : n;
        int eof = eof_at_end && avail == n;
        for (;;) {
            ssize_t r = decode_copy(&d, in + start, avail - start, eof, res);
            if (r < 0) return r;
            if (r == 0) break;
            start += (size_t)r;
        }
        if (avail == n) return 0;
    }
}

/* Every single cut and every pair of cuts (and byte by byte) must yield the
 * same messages as the whole stream in one segment. */
static void every_split(struct frame_dec d, const char *in, size_t n, const char *want,
                        int want_msgs)
{
    struct result res;
    size_t wl = strlen(want);
    cr_assert_eq(drive(d, in, n, NULL, 0, 1, &res), 0);
    cr_assert_eq(res.nmsgs, want_msgs);
    cr_assert_eq(res.len, wl);
    cr_assert(!memcmp(res.out, want, wl), "one segment: got %.*s", (int)res.len, res.out);
    for (size_t i = 0; i <= n; i++) {
        cr_assert_eq(drive(d, in, n, &i, 1, 1, &res), 0, "cut at %zu", i);
        cr_assert(res.len == wl && !memcmp(res.out, want, wl), "cut at %zu: got %.*s", i,
                  (int)res.len, res.out);
        for (size_t j = i; j <= n; j++) {
            size_t cuts[2] = {i, j};
            cr_assert_eq(drive(d, in, n, cuts, 2, 1, &res), 0);
            cr_assert(res.len == wl && !memcmp(res.out, want, wl), "cuts at %zu,%zu", i, j);
        }
    }
    size_t *all = malloc((n + 1) * sizeof *all);
    for (size_t i = 0; i <= n; i++)
        all[i] = i;
    cr_assert_eq(drive(d, in, n, all, n + 1, 1, &res), 0);
    cr_assert(res.len == wl && !memcmp(res.out, want, wl), "byte by byte");
    free(all);
}

/* Cutting the stream at every point strictly inside a message and closing
 * there must give BERTH_EOF; at a boundary, a clean end. */
static void eof_inside(struct frame_dec d, const char *in, size_t n, const size_t *bounds,
                       size_t nb)
{
    struct result res;
    for (size_t cut = 0; cut <= n; cut++) {
        int boundary = 0;
        for (size_t k = 0; k < nb; k++)
            boundary |= bounds[k] == cut;
        ssize_t r = drive(d, in, cut, NULL, 0, 1, &res);
        if (boundary)
            cr_assert_eq(r, 0, "eof at boundary %zu", cut);
        else
            cr_assert_eq(r, BERTH_EOF, "eof at %zu inside a message: %zd", cut, r);
    }
}

Test(frame, fixed_every_split)
{
    struct frame_dec d;
    frame_init(&d, FRAME_FIXED, 4, 0);
    every_split(d, "abcdefghijkl", 12, "abcd|efgh|ijkl|", 3);
    size_t b[] = {0, 4, 8, 12};
    eof_inside(d, "abcdefghijkl", 12, b, 4);
}

Test(frame, fixed_waits_for_a_whole_message)
{
    struct frame_dec d;
    frame_init(&d, FRAME_FIXED, 4, 0);
    const char *m;
    size_t ml;
    cr_assert_eq(frame_decode(&d, "abc", 3, 0, &m, &ml), 0);
    cr_assert_eq(frame_decode(&d, "abcdX", 5, 0, &m, &ml), 4);
    cr_assert_eq(ml, 4);
}

Test(frame, fixed_over_limit)
{
    struct frame_dec d;
    frame_init(&d, FRAME_FIXED, 100, 10);
    const char *m;
    size_t ml;
    cr_assert_eq(frame_decode(&d, "abc", 3, 0, &m, &ml), BERTH_ETOOBIG);
}

Test(frame, delim_crlf_every_split)
{
    struct frame_dec d;
    frame_init_delim(&d, "\r\n", 2, 0);
    const char s[] = "one\r\ntwo\r\n\r\nthree\r\n";
    every_split(d, s, sizeof s - 1, "one|two||three|", 4);
    size_t b[] = {0, 5, 10, 12, 19};
    eof_inside(d, s, sizeof s - 1, b, 5);
}

Test(frame, delim_partial_delimiters_inside_messages)
{
    struct frame_dec d;
    frame_init_delim(&d, "END", 3, 0);
    const char s[] = "xENyENENDEEENDENDzEN";
    /* the trailing "zEN" never ends: without eof it just waits */
    every_split(d, s, sizeof s - 1 - 3, "xENyEN|EE||", 3);
    struct result res;
    cr_assert_eq(drive(d, s, sizeof s - 1, NULL, 0, 0, &res), 0);
    cr_assert_eq(res.nmsgs, 3);
    cr_assert_eq(drive(d, s, sizeof s - 1, NULL, 0, 1, &res), BERTH_EOF);
}

Test(frame, delim_single_byte)
{
    struct frame_dec d;
    frame_init_delim(&d, "\n", 1, 0);
    const char s[] = "a\nbb\n\nccc\n";
    every_split(d, s, sizeof s - 1, "a|bb||ccc|", 4);
}

Test(frame, delim_limit)
{
    struct frame_dec d;
    frame_init_delim(&d, "\r\n", 2, 4);
    struct result res;
    /* exactly max bytes is fine; one more is not, found or not */
    cr_assert_eq(drive(d, "abcd\r\n", 6, NULL, 0, 1, &res), 0);
    cr_assert_eq(res.nmsgs, 1);
    cr_assert_eq(drive(d, "abcde\r\n", 7, NULL, 0, 1, &res), BERTH_ETOOBIG);
    /* without a delimiter, refused as soon as it cannot fit any more: four
     * payload bytes and a "\r" may still become a message */
    const char *m;
    size_t ml;
    frame_init_delim(&d, "\r\n", 2, 4);
    cr_assert_eq(frame_decode(&d, "abcd\r", 5, 0, &m, &ml), 0);
    cr_assert_eq(frame_decode(&d, "abcde", 5, 0, &m, &ml), BERTH_ETOOBIG);
    frame_init_delim(&d, "\r\n", 2, 4);
    size_t cuts[] = {1, 2, 3, 4, 5, 6};
    cr_assert_eq(drive(d, "abcdefgh", 8, cuts, 6, 0, &res), BERTH_ETOOBIG);
}

static size_t put_len_msgs(enum frame_kind k, char *out, const char *const *msgs, size_t n,
                           size_t *bounds)
{
    size_t len = 0;
    bounds[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t pre[4];
        size_t ml = strlen(msgs[i]);
        int hl = frame_put_len(k, ml, pre);
        cr_assert_gt(hl, 0);
        memcpy(out + len, pre, (size_t)hl);
        memcpy(out + len + hl, msgs[i], ml);
        len += (size_t)hl + ml;
        bounds[i + 1] = len;
    }
    return len;
}

static void prefixed_case(enum frame_kind k)
{
    const char *const msgs[] = {"hello", "", "x", "a longer message, with, commas"};
    char s[256];
    size_t bounds[5];
    size_t n = put_len_msgs(k, s, msgs, 4, bounds);
    struct frame_dec d;
    frame_init(&d, k, 0, 0);
    every_split(d, s, n, "hello||x|a longer message, with, commas|", 4);
    eof_inside(d, s, n, bounds, 5);
}

Test(frame, len16_every_split)
{
    prefixed_case(FRAME_LEN16);
}

Test(frame, len32_every_split)
{
    prefixed_case(FRAME_LEN32);
}

Test(frame, len16_big_message)
{
    static char s[2 + 65535];
    uint8_t pre[4];
    cr_assert_eq(frame_put_len(FRAME_LEN16, 65535, pre), 2);
    memcpy(s, pre, 2);
    memset(s + 2, 'z', 65535);
    struct frame_dec d;
    frame_init(&d, FRAME_LEN16, 0, 0);
    const char *m;
    size_t ml;
    cr_assert_eq(frame_decode(&d, s, sizeof s - 1, 0, &m, &ml), 0);
    cr_assert_eq(frame_decode(&d, s, sizeof s, 0, &m, &ml), (ssize_t)sizeof s);
    cr_assert_eq(ml, 65535);
}

Test(frame, prefix_over_limit_refused_before_the_payload)
{
    struct frame_dec d;
    const char *m;
    size_t ml;
    frame_init(&d, FRAME_LEN32, 0, 1000);
    /* the prefix alone claims 16 MiB: no need to wait for it */
    cr_assert_eq(frame_decode(&d, "\x01\x00\x00\x00", 4, 0, &m, &ml), BERTH_ETOOBIG);
    cr_assert_eq(frame_decode(&d, "\x00\x00\x03\xe8", 4, 0, &m, &ml), 0); /* 1000: waits */
    frame_init(&d, FRAME_LEN16, 0, 3);
    cr_assert_eq(frame_decode(&d,
                              "\x00\x03"
                              "abc",
                              5, 0, &m, &ml),
                 5);
    cr_assert_eq(frame_decode(&d, "\x00\x04", 2, 0, &m, &ml), BERTH_ETOOBIG);
}

Test(frame, close_terminated)
{
    struct frame_dec d;
    frame_init(&d, FRAME_CLOSE, 0, 0);
    const char s[] = "everything until the peer closes";
    every_split(d, s, sizeof s - 1, "everything until the peer closes|", 1);
    struct result res;
    cr_assert_eq(drive(d, s, sizeof s - 1, NULL, 0, 0, &res), 0);
    cr_assert_eq(res.nmsgs, 0); /* no eof yet: nothing */
    cr_assert_eq(drive(d, "", 0, NULL, 0, 1, &res), 0);
    cr_assert_eq(res.nmsgs, 0); /* closed with nothing: a clean end, no message */
    frame_init(&d, FRAME_CLOSE, 0, 8);
    cr_assert_eq(drive(d, s, sizeof s - 1, NULL, 0, 0, &res), BERTH_ETOOBIG);
}

Test(frame, put_len)
{
    uint8_t out[4];
    cr_assert_eq(frame_put_len(FRAME_LEN16, 0, out), 2);
    cr_assert(out[0] == 0 && out[1] == 0);
    cr_assert_eq(frame_put_len(FRAME_LEN16, 0x1234, out), 2);
    cr_assert(out[0] == 0x12 && out[1] == 0x34);
    cr_assert_eq(frame_put_len(FRAME_LEN16, 65536, out), BERTH_ETOOBIG);
    cr_assert_eq(frame_put_len(FRAME_LEN32, 0x01020304, out), 4);
    cr_assert(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
    cr_assert_eq(frame_put_len(FRAME_LEN32, 0xffffffffu, out), 4);
    if (sizeof(size_t) > 4)
        cr_assert_eq(frame_put_len(FRAME_LEN32, (size_t)0xffffffffu + 1, out), BERTH_ETOOBIG);
    cr_assert_eq(frame_put_len(FRAME_FIXED, 1, out), BERTH_EUSAGE);
}

Test(frame, empty_delimiter_is_a_usage_error)
{
    struct frame_dec d;
    const char *m;
    size_t ml;
    frame_init_delim(&d, "", 0, 0);
    cr_assert_eq(frame_decode(&d, "abc", 3, 0, &m, &ml), BERTH_EUSAGE);
}
