/* Unit tests of the WebSocket fast paths against the general ones.
 *
 * ws_parse is an inline fast path (a whole text or binary frame at a frame
 * boundary) in front of ws_parse_general.  On streams of frames of every
 * short length, the 7/16-bit boundaries, minimal and non-minimal length
 * encodings, text, binary, RSV1, fragments with control frames between them,
 * in both roles, clean and with a corrupted byte: parsed whole, ws_parse must
 * give the very events (pieces, offsets, flags, unmasked bytes, error and
 * its place) that ws_parse_general alone gives; and cut at every split
 * point (one cut, two, byte by byte) the messages, control frames and the
 * end must be the same again.  ws_unmask and ws_mask against a byte-by-byte
 * XOR at every length and offset; ws_msg_feed's inline whole-message case
 * against ws_msg_pieces.  Each parse sees a heap copy of exactly its bytes,
 * so ASan catches a fast path that looks too far. */
#include "http/ws.h"
#include "http/ws_msg.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 2463534242u;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* ---- streams ---- */

struct stream {
    uint8_t *b;
    size_t n, cap;
};

static void put(struct stream *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
        cr_assert_not_null(s->b);
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/* One frame: b0 as given, payload p[0..n), masked when masked; enc 0:
 * minimal length, 126 / 127: that encoding whatever n is. */
static void frame(struct stream *s, int b0, const uint8_t *p, size_t n, int masked, int enc)
{
    uint8_t h[WS_HEAD_MAX], key[4];
    size_t k = 2;
    h[0] = (uint8_t)b0;
    uint8_t m = masked ? 0x80 : 0;
    if (enc == 127 || n > 0xFFFF) {
        h[1] = m | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        k = 10;
    } else if (enc == 126 || n > 125) {
        h[1] = m | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        k = 4;
    } else {
        h[1] = (uint8_t)(m | n);
    }
    for (int i = 0; i < 4; i++)
        key[i] = (uint8_t)rnd();
    if (masked) memcpy(h + k, key, 4), k += 4;
    put(s, h, k);
    size_t at = s->n;
    put(s, p, n);
    if (masked)
        for (size_t i = 0; i < n; i++)
            s->b[at + i] ^= key[i % 4];
}

static void payload(uint8_t *p, size_t n, int text)
{
    static const char *const bits[] = {
        "a", "Hello ", "\xce\xba", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "z", "0123456789abcdef"};
    size_t i = 0;
    while (i < n) {
        if (!text) {
            p[i++] = (uint8_t)rnd();
            continue;
        }
        const char *b = bits[rnd() % 7];
        size_t k = strlen(b);
        if (i + k > n) b = "x", k = 1;
        memcpy(p + i, b, k);
        i += k;
    }
}

static size_t length(void)
{
    static const size_t edge[] = {0,  1,  3,  4,  7,  8,   15,  16,  17,  31,
                                  32, 33, 63, 64, 65, 124, 125, 126, 127, 200};
    return rnd() % 3 ? edge[rnd() % (sizeof edge / sizeof edge[0])] : rnd() % 141;
}

/* A stream of nframes frames from a client (masked) or a server: whole
 * messages most of all, fragments with pings and pongs between, RSV1 on
 * first frames when rsv1, big ones (16-bit lengths, one 64-bit) when big. */
static void gen(struct stream *s, int nframes, int masked, int rsv1, int big)
{
    static uint8_t p[70000];
    for (int f = 0; f < nframes; f++) {
        int text = rnd() & 1, enc = rnd() % 8 == 0 ? (rnd() & 1 ? 126 : 127) : 0;
        size_t n = length();
        if (big && rnd() % 4 == 0) n = rnd() % 2 ? 126 + rnd() % 400 : 65535 - rnd() % 3;
        if (big && f == nframes / 2) n = 65536 + rnd() % 3000; /* a 64-bit length */
        int r1 = rsv1 && rnd() % 3 == 0 ? 0x40 : 0;
        int kind = rnd() % 10;
        if (kind < 7) { /* a whole message */
            payload(p, n, text);
            frame(s, 0x80 | r1 | (text ? 1 : 2), p, n, masked, enc);
        } else if (kind < 9) { /* fragments, controls between them */
            int k = 2 + (int)(rnd() % 3);
            for (int j = 0; j < k; j++) {
                size_t m = length();
                payload(p, m, text);
                int b0 = (j == k - 1 ? 0x80 : 0) | (j == 0 ? r1 | (text ? 1 : 2) : 0);
                frame(s, b0, p, m, masked, rnd() % 8 == 0 ? 126 : 0);
                if (rnd() % 2) {
                    size_t c = rnd() % 126;
                    payload(p, c, 0);
                    frame(s, rnd() % 2 ? 0x89 : 0x8A, p, c, masked, 0);
                }
            }
        } else { /* a control frame on its own */
            size_t c = rnd() % 126;
            payload(p, c, 0);
            frame(s, rnd() % 2 ? 0x89 : 0x8A, p, c, masked, 0);
        }
    }
}

/* ---- running a parser ---- */

struct trace {
    struct stream t; /* events, normalised: data pieces joined per message */
    int rc;
    size_t at;         /* where it ended: the stream's length, or the error's place */
    const char *error; /* p->error when rc < 0 */
};

static void tag(struct trace *t, const char *s)
{
    put(&t->t, s, strlen(s));
}

/* Parses s[0..n) (a heap copy per piece, cut at cuts[]) with the fast path
 * (fast) or the general parser alone.  Raw: every event as it came, with
 * its offset, length and rest (for whole runs, which must match exactly);
 * else normalised. */
static void run(const uint8_t *s, size_t n, const size_t *cuts, size_t ncuts, int server, int rsv1,
                int fast, int raw, struct trace *t)
{
    struct ws_parser ps;
    ws_parser_init(&ps, server, rsv1);
    memset(t, 0, sizeof *t);
    size_t at = 0;
    for (size_t c = 0; c <= ncuts && !t->rc; c++) {
        size_t end = c < ncuts ? cuts[c] : n, len = end - at, off = 0;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, s + at, len);
        while (off < len) {
            struct ws_ev ev;
            size_t used = (size_t)-1;
            int rc = fast ? ws_parse(&ps, copy + off, len - off, &used, &ev)
                          : ws_parse_general(&ps, copy + off, len - off, &used, &ev);
            cr_assert_leq(used, len - off);
            off += used;
            if (rc < 0) {
                t->rc = rc;
                t->at = at + off;
                t->error = ps.error;
                break;
            }
            if (rc == 0) break;
            cr_assert(ev.n == 0 || (ev.p >= copy && ev.p + ev.n <= copy + len) ||
                      ev.type == WS_EV_CONTROL);
            char h[96];
            if (raw) {
                snprintf(h, sizeof h, "<%d %d %d%d%d @%zu +%zu r%llu>", ev.type, ev.op, ev.first,
                         ev.last, ev.compressed,
                         ev.type == WS_EV_DATA ? at + (size_t)(ev.p - copy) : 0, ev.n,
                         ev.type == WS_EV_DATA ? (unsigned long long)ev.rest : 0); /* data only */
                tag(t, h);
            } else if (ev.type == WS_EV_CONTROL || ev.first) {
                snprintf(h, sizeof h, "<%d %d %d>", ev.type, ev.op, ev.compressed);
                tag(t, h);
            }
            put(&t->t, ev.p, ev.n);
            if (ev.type == WS_EV_DATA && ev.last) tag(t, "</>");
        }
        free(copy);
        at = end;
    }
    if (!t->rc) t->at = n;
}

static void same(const struct trace *a, const struct trace *b, const char *what, size_t i, size_t j)
{
    cr_assert_eq(a->rc, b->rc, "%s %zu %zu: rc %d, %d", what, i, j, a->rc, b->rc);
    cr_assert_eq(a->at, b->at, "%s %zu %zu: ended at %zu, %zu", what, i, j, a->at, b->at);
    cr_assert(a->error == b->error || (a->error && b->error && !strcmp(a->error, b->error)),
              "%s %zu %zu: %s / %s", what, i, j, a->error, b->error);
    cr_assert(a->t.n == b->t.n && (!a->t.n || !memcmp(a->t.b, b->t.b, a->t.n)),
              "%s %zu %zu: events differ", what, i, j);
}

static void done(struct trace *t)
{
    free(t->t.b);
    t->t.b = NULL;
}

/* The fast path against the general parser on s: whole (event by event),
 * at every cut (or every step-th), at pairs of cuts, and byte by byte. */
static void check(const struct stream *s, int server, int rsv1, size_t step)
{
    struct trace g, f;
    run(s->b, s->n, NULL, 0, server, rsv1, 0, 1, &g);
    run(s->b, s->n, NULL, 0, server, rsv1, 1, 1, &f);
    same(&g, &f, "whole, raw", 0, 0);
    done(&f);
    done(&g);
    run(s->b, s->n, NULL, 0, server, rsv1, 0, 0, &g);
    for (size_t i = 0;; i = i + step < s->n ? i + step : s->n) {
        run(s->b, s->n, &i, 1, server, rsv1, 1, 0, &f);
        same(&g, &f, "cut", i, 0);
        done(&f);
        size_t cuts[2] = {i, i + (rnd() % 97)};
        if (cuts[1] > s->n) cuts[1] = s->n;
        run(s->b, s->n, cuts, 2, server, rsv1, 1, 0, &f);
        same(&g, &f, "cuts", cuts[0], cuts[1]);
        done(&f);
        if (i == s->n) break;
    }
    size_t *all = malloc((s->n + 1) * sizeof *all);
    for (size_t i = 0; i + 1 < s->n; i++)
        all[i] = i + 1;
    run(s->b, s->n, all, s->n ? s->n - 1 : 0, server, rsv1, 1, 0, &f);
    same(&g, &f, "byte by byte", 0, 0);
    done(&f);
    free(all);
    done(&g);
}

Test(ws_fast, whole_frames_and_fragments_at_every_split_point)
{
    for (int server = 0; server <= 1; server++)
        for (int rsv1 = 0; rsv1 <= 1; rsv1++)
            for (int round = 0; round < 4; round++) {
                struct stream s = {0};
                gen(&s, 40, server, rsv1, 0);
                check(&s, server, rsv1, 1);
                free(s.b);
            }
}

Test(ws_fast, long_frames_16_and_64_bit_lengths)
{
    for (int server = 0; server <= 1; server++) {
        struct stream s = {0};
        gen(&s, 12, server, 1, 1);
        check(&s, server, 1, 613); /* a prime: the cuts fall everywhere in the frames */
        free(s.b);
    }
}

/* Every byte of a clean stream corrupted in turn (one bit flipped, or set
 * to a value a head byte might take): the same events, error, message and
 * place, whole and cut. */
Test(ws_fast, corrupted_streams_fail_as_the_general_parser)
{
    static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x08, 0x09, 0x0A, 0x41, 0x42, 0x7E, 0x7F, 0x80,
                                   0x81, 0x82, 0x83, 0x88, 0x89, 0xA1, 0xC1, 0xC2, 0xFE, 0xFF};
    for (int server = 0; server <= 1; server++)
        for (int rsv1 = 0; rsv1 <= 1; rsv1++) {
            struct stream s = {0};
            gen(&s, 10, server, rsv1, 0);
            for (size_t i = 0; i < s.n; i++) {
                uint8_t keep = s.b[i];
                s.b[i] =
                    rnd() % 2 ? (uint8_t)(keep ^ (1u << (rnd() % 8))) : vals[rnd() % sizeof vals];
                struct trace g, f;
                run(s.b, s.n, NULL, 0, server, rsv1, 0, 1, &g);
                run(s.b, s.n, NULL, 0, server, rsv1, 1, 1, &f);
                same(&g, &f, "corrupt byte, whole", i, 0);
                done(&f);
                done(&g);
                run(s.b, s.n, NULL, 0, server, rsv1, 0, 0, &g);
                size_t cut = rnd() % (s.n + 1);
                run(s.b, s.n, &cut, 1, server, rsv1, 1, 0, &f);
                same(&g, &f, "corrupt byte, cut", i, cut);
                done(&f);
                done(&g);
                s.b[i] = keep;
            }
            free(s.b);
        }
}

/* The fast path is taken (it writes no parser state, where the general
 * path records the head), and refuses what it must leave to the general
 * path: a frame cut short, a fragment, a control frame, a bad head. */
Test(ws_fast, taken_for_a_whole_frame_only)
{
    struct ws_parser ps;
    struct ws_ev ev;
    size_t used;
    uint8_t f[] = {0x82, 0x83, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2, 'c' ^ 3, 0x89};
    ws_parser_init(&ps, 1, 0);
    cr_assert_eq(ws_parse(&ps, f, 9, &used, &ev), 1);
    cr_assert_eq(used, 9);
    cr_assert(ev.type == WS_EV_DATA && ev.op == WS_BINARY && ev.first && ev.last && ev.n == 3);
    cr_assert(!memcmp(ev.p, "abc", 3));
    cr_assert(ps.op == 0 && ps.len == 0 && ps.hneed == 0, "the fast path writes no state");
    /* the general parser, on the same frame, records its head */
    uint8_t g[] = {0x82, 0x83, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2, 'c' ^ 3};
    ws_parser_init(&ps, 1, 0);
    cr_assert_eq(ws_parse_general(&ps, g, 9, &used, &ev), 1);
    cr_assert(ps.op == WS_BINARY && ps.len == 3);
    /* short by one byte: the general path keeps the head and waits */
    uint8_t h[] = {0x81, 0x83, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2};
    ws_parser_init(&ps, 1, 0);
    cr_assert_eq(ws_parse(&ps, h, 8, &used, &ev), 1);
    cr_assert(ev.n == 2 && ev.first && !ev.last && ev.rest == 1 && ps.len == 3);
    /* a first fragment and a ping go the general way */
    uint8_t k[] = {0x01, 0x80, 0, 0, 0, 0, 0x89, 0x80, 0, 0, 0, 0};
    ws_parser_init(&ps, 1, 0);
    cr_assert_eq(ws_parse(&ps, k, 12, &used, &ev), 1);
    cr_assert(ev.first && !ev.last && ps.msg_op == WS_TEXT);
    cr_assert_eq(ws_parse(&ps, k + 6, 6, &used, &ev), 1);
    cr_assert(ev.type == WS_EV_CONTROL && ev.op == WS_PING && ps.op == WS_PING);
    /* RSV1 without an extension, and a server's masked frame, are errors */
    uint8_t r[] = {0xC1, 0x80, 0, 0, 0, 0};
    ws_parser_init(&ps, 1, 0);
    cr_assert_eq(ws_parse(&ps, r, 6, &used, &ev), -1002);
    cr_assert_not_null(ps.error);
    uint8_t m[] = {0x81, 0x80, 0, 0, 0, 0};
    ws_parser_init(&ps, 0, 0);
    cr_assert_eq(ws_parse(&ps, m, 6, &used, &ev), -1002);
}

Test(ws_fast, unmask_at_every_length_and_offset)
{
    static const uint8_t key[4] = {0x9d, 0x01, 0x7e, 0xc3};
    uint8_t a[160], b[160];
    for (size_t n = 0; n <= 140; n++)
        for (uint64_t off = 0; off < 8; off++) {
            for (size_t i = 0; i < sizeof a; i++)
                a[i] = b[i] = (uint8_t)(i * 31 + n);
            ws_mask(a + 8, n, key, off);
            for (size_t i = 0; i < n; i++)
                b[8 + i] ^= key[(off + i) % 4];
            cr_assert(!memcmp(a, b, sizeof a), "ws_mask n %zu off %llu", n,
                      (unsigned long long)off);
            if (off) continue;
            ws_unmask(a + 8, n, key); /* undoes it, touching nothing around */
            for (size_t i = 0; i < sizeof a; i++)
                cr_assert_eq(a[i], (uint8_t)(i * 31 + n), "ws_unmask n %zu at %zu", n, i);
        }
}

/* ws_msg_feed's inline case, for a message in one piece, against
 * ws_msg_pieces: the same answer, payload and code. */
Test(ws_fast, whole_message_inline_against_pieces)
{
    static const struct {
        int op;
        const char *p;
        size_t n, max;
    } cases[] = {
        {WS_TEXT, "", 0, 10},
        {WS_TEXT, "plain ascii text, sixteen+", 26, 100},
        {WS_TEXT, "\xce\xba\xe1\xbd\xb9\xf0\x9f\x98\x80", 9, 100},
        {WS_TEXT, "abcdefgh\xc0\x80", 10, 100},        /* overlong */
        {WS_TEXT, "abcdefgh\xed\xa0\x80", 11, 100},    /* surrogate */
        {WS_TEXT, "abcdefghijklmno\xe2\x82", 17, 100}, /* cut short */
        {WS_BINARY, "\xc0\x80\xff\xfe", 4, 100},       /* binary: never checked */
        {WS_BINARY, "12345", 5, 5},
        {WS_BINARY, "123456", 6, 5},
        {WS_TEXT, "123456", 6, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[32];
        memcpy(buf, cases[i].p, cases[i].n);
        struct ws_ev ev = {WS_EV_DATA, (uint8_t)cases[i].op, 1, 1, 0, buf, cases[i].n, 0};
        struct ws_msg a, b;
        ws_msg_init(&a, cases[i].max, NULL);
        ws_msg_init(&b, cases[i].max, NULL);
        int opa = 0, opb = 0;
        const uint8_t *pa = NULL, *pb = NULL;
        size_t na = 0, nb = 0;
        int ra = ws_msg_feed(&a, &ev, &opa, &pa, &na);
        int rb = ws_msg_pieces(&b, &ev, &opb, &pb, &nb);
        cr_assert_eq(ra, rb, "case %zu: %d, %d", i, ra, rb);
        if (ra == 1) {
            cr_assert(opa == opb && na == nb && !memcmp(pa, pb, na), "case %zu", i);
            cr_assert_eq(pa, buf, "case %zu: handed over where it lies", i);
        }
        ws_msg_done(&a);
        ws_msg_free(&a);
        ws_msg_free(&b);
    }
}
