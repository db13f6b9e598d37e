/* Unit tests of the WebSocket modules: the frame parser (ws.c) over every
 * split point (one cut, and byte by byte) of a stream that has every
 * length encoding, fragments and interleaved control frames; each framing
 * rule and its close code, failing at the byte that decides; UTF-8
 * (overlongs, surrogates, > U+10FFFF, fail-fast prefixes, sequences cut
 * across pieces); close payloads; the encoder; the handshake (ws_hs.c);
 * permessage-deflate's negotiation and codec (ws_pmd.c) and the message
 * layer's limits (ws_msg.c).  Each parse sees a heap copy of exactly the
 * bytes it may read, so ASan catches a parser that looks too far. */
#include "buf.h"
#include "http/ws.h"
#include "http/ws_hs.h"
#include "http/ws_msg.h"
#include "http/ws_pmd.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* a client's frame: masked (unless unmasked), len7 forced when >= 0
 * (non-minimal encodings) */
static size_t mk(uint8_t *out, int b0, const void *p, size_t n, int masked, int len7)
{
    size_t k = ws_frame_head(out, 1, 0, 0, n, masked ? KEY : NULL);
    out[0] = (uint8_t)b0;
    if (len7 == 127 && n < 126) { /* a 64-bit length for a short payload */
        out[1] = (uint8_t)((masked ? 0x80 : 0) | 127);
        memset(out + 2, 0, 8);
        out[9] = (uint8_t)n;
        k = 10;
        if (masked) memcpy(out + k, KEY, 4), k += 4;
    } else if (len7 == 126 && n < 126) {
        out[1] = (uint8_t)((masked ? 0x80 : 0) | 126);
        out[2] = 0;
        out[3] = (uint8_t)n;
        k = 4;
        if (masked) memcpy(out + k, KEY, 4), k += 4;
    }
    memcpy(out + k, p, n);
    if (masked) ws_mask(out + k, n, KEY, 0);
    return k + n;
}

struct trace {
    char text[8192]; /* "T:msg|B:msg|ping:x|close:..." */
    size_t len;
    int rc;
};

static void note(struct trace *t, const char *tag, const void *p, size_t n)
{
    cr_assert_lt(t->len + strlen(tag) + n + 2, sizeof t->text);
    memcpy(t->text + t->len, tag, strlen(tag));
    t->len += strlen(tag);
    memcpy(t->text + t->len, p, n);
    t->len += n;
    t->text[t->len++] = '|';
}

/* Feeds in[0..n) in pieces cut at cuts[] (ascending), through the parser
 * and the message layer. */
static void run(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts, struct trace *t,
                size_t max)
{
    struct ws_parser ps;
    struct ws_msg m;
    ws_parser_init(&ps, 1, 0);
    ws_msg_init(&m, max, NULL);
    memset(t, 0, sizeof *t);
    size_t at = 0;
    for (size_t c = 0; c <= ncuts && !t->rc; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        size_t len = end - at;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, in + at, len);
        size_t off = 0;
        while (off < len || len == 0) {
            struct ws_ev ev;
            size_t used;
            int rc = ws_parse(&ps, copy + off, len - off, &used, &ev);
            cr_assert_leq(used, len - off);
            off += used;
            if (rc < 0) {
                t->rc = rc;
                break;
            }
            if (rc == 0) {
                cr_assert_eq(off, len);
                break;
            }
            if (ev.type == WS_EV_CONTROL) {
                note(t,
                     ev.op == WS_PING   ? "ping:"
                     : ev.op == WS_PONG ? "pong:"
                                        : "close:",
                     ev.p, ev.n);
                continue;
            }
            int op;
            const uint8_t *mp;
            size_t mn;
            rc = ws_msg_feed(&m, &ev, &op, &mp, &mn);
            if (rc < 0) {
                t->rc = rc;
                break;
            }
            if (rc == 1) note(t, op == WS_TEXT ? "T:" : "B:", mp, mn);
        }
        free(copy);
        at = end;
    }
    ws_msg_free(&m);
}

/* a stream with every length encoding, fragments, control frames between
 * fragments, empty frames and a close */
static size_t stream(uint8_t *s)
{
    size_t n = 0;
    n += mk(s + n, 0x01, "Hel", 3, 1, -1);          /* text, not final */
    n += mk(s + n, 0x89, "p1", 2, 1, -1);           /* ping between fragments */
    n += mk(s + n, 0x00, "lo \xce", 4, 1, 126);     /* continuation, 16-bit length, UTF-8 cut */
    n += mk(s + n, 0x8A, "", 0, 1, -1);             /* pong, empty */
    n += mk(s + n, 0x80, "\xba!", 2, 1, 127);       /* final continuation, 64-bit length */
    n += mk(s + n, 0x82, "\x00\xff\x01", 3, 1, -1); /* binary */
    n += mk(s + n, 0x81, "", 0, 1, -1);             /* empty text */
    n += mk(s + n, 0x88, "\x03\xe8ok", 4, 1, -1);   /* close 1000 "ok" */
    return n;
}

static const char WANT[] = "ping:p1|pong:|T:Hello \xce\xba!|B:\x00\xff\x01|T:|close:\x03\xe8ok|";

Test(ws, every_split_point)
{
    uint8_t s[512];
    size_t n = stream(s);
    struct trace t;
    run(s, n, NULL, 0, &t, 1 << 20);
    cr_assert_eq(t.rc, 0);
    cr_assert_eq(t.len, sizeof WANT - 1);
    cr_assert(!memcmp(t.text, WANT, t.len), "whole: %.*s", (int)t.len, t.text);
    for (size_t i = 0; i <= n; i++) {
        run(s, n, &i, 1, &t, 1 << 20);
        cr_assert_eq(t.rc, 0, "cut at %zu", i);
        cr_assert(t.len == sizeof WANT - 1 && !memcmp(t.text, WANT, t.len), "cut at %zu: %.*s", i,
                  (int)t.len, t.text);
        for (size_t j = i; j <= n; j += 7) { /* pairs of cuts, thinned */
            size_t cuts[2] = {i, j};
            run(s, n, cuts, 2, &t, 1 << 20);
            cr_assert(t.len == sizeof WANT - 1 && !memcmp(t.text, WANT, t.len), "cuts %zu %zu", i,
                      j);
        }
    }
    size_t cuts[512];
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    run(s, n, cuts, n - 1, &t, 1 << 20);
    cr_assert(t.len == sizeof WANT - 1 && !memcmp(t.text, WANT, t.len), "byte by byte");
}

/* the close code a 2-byte head (plus len7 / more) fails with, at once */
static int fails_with(const uint8_t *h, size_t n, int server)
{
    struct ws_parser ps;
    ws_parser_init(&ps, server, 0);
    uint8_t copy[32];
    memcpy(copy, h, n);
    struct ws_ev ev;
    size_t used;
    int rc = ws_parse(&ps, copy, n, &used, &ev);
    return rc;
}

Test(ws, framing_rules_fail_fast_with_1002)
{
    static const struct {
        uint8_t h[2];
        const char *why;
    } bad[] = {
        {{0xC1, 0x80}, "RSV1 without an extension"},
        {{0xA1, 0x80}, "RSV2"},
        {{0x91, 0x80}, "RSV3"},
        {{0x83, 0x80}, "opcode 3"},
        {{0x87, 0x80}, "opcode 7"},
        {{0x8B, 0x80}, "opcode 11"},
        {{0x8F, 0x80}, "opcode 15"},
        {{0x09, 0x80}, "fragmented ping"},
        {{0x08, 0x80}, "fragmented close"},
        {{0x89, 0xFE}, "ping with a 16-bit length"},
        {{0x89, 0xFF}, "ping with a 64-bit length"},
        {{0x80, 0x80}, "continuation with nothing to continue"},
        {{0x81, 0x00}, "unmasked client frame"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(fails_with(bad[i].h, 2, 1), -1002, "%s", bad[i].why);
    /* a server's frames must not be masked */
    uint8_t m[2] = {0x81, 0x80};
    cr_assert_eq(fails_with(m, 2, 0), -1002);
    /* 64-bit length with the top bit set, failing at that byte */
    uint8_t big[3] = {0x82, 0xFF, 0x80};
    cr_assert_eq(fails_with(big, 3, 1), -1002);
    /* a new data message before the last one's final fragment */
    uint8_t s[64];
    size_t n = mk(s, 0x01, "a", 1, 1, -1);
    n += mk(s + n, 0x81, "b", 1, 1, -1);
    struct trace t;
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, -1002);
    /* control frame of exactly 125 bytes is fine */
    uint8_t pl[125];
    memset(pl, 'x', sizeof pl);
    uint8_t *s2 = malloc(200);
    n = mk(s2, 0x89, pl, 125, 1, -1);
    run(s2, n, NULL, 0, &t, 100);
    free(s2);
    cr_assert_eq(t.rc, 0);
    cr_assert_eq(t.len, 5 + 125 + 1);
}

Test(ws, rsv1_only_on_a_first_data_frame_when_negotiated)
{
    struct ws_parser ps;
    struct ws_ev ev;
    size_t used;
    uint8_t a[2] = {0xC1, 0x80};
    ws_parser_init(&ps, 1, 1);
    cr_assert_eq(ws_parse(&ps, a, 2, &used, &ev), 0); /* fine: waits for the key */
    uint8_t b[] = {0x41, 0x80, 0, 0, 0, 0, 0xC0, 0x80};
    ws_parser_init(&ps, 1, 1);
    cr_assert_eq(ws_parse(&ps, b, 6, &used, &ev), 1);
    cr_assert(ev.compressed && ev.first && !ev.last);
    cr_assert_eq(ws_parse(&ps, b + 6, 2, &used, &ev), -1002, "RSV1 on a continuation");
    uint8_t c[] = {0xC9, 0x80};
    ws_parser_init(&ps, 1, 1);
    cr_assert_eq(ws_parse(&ps, c, 2, &used, &ev), -1002, "RSV1 on a ping");
}

Test(ws, message_limits_1009)
{
    uint8_t s[64];
    struct trace t;
    size_t n = mk(s, 0x82, "12345", 5, 1, -1);
    run(s, n, NULL, 0, &t, 5);
    cr_assert_eq(t.rc, 0);
    run(s, n, NULL, 0, &t, 4);
    cr_assert_eq(t.rc, -1009);
    /* fragments adding up past the limit */
    n = mk(s, 0x02, "123", 3, 1, -1);
    n += mk(s + n, 0x80, "45", 2, 1, -1);
    run(s, n, NULL, 0, &t, 4);
    cr_assert_eq(t.rc, -1009);
    /* a frame announcing more than the limit fails at its first byte */
    uint8_t h[] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 'x'};
    run(h, sizeof h, NULL, 0, &t, 1 << 20);
    cr_assert_eq(t.rc, -1009);
}

static int utf8(const char *s, size_t n)
{
    struct ws_utf8 u = {0};
    if (ws_utf8_feed(&u, (const uint8_t *)s, n) < 0) return -1;
    return ws_utf8_done(&u) ? 1 : 0;
}

Test(ws, utf8)
{
    cr_assert_eq(utf8("hello", 5), 1);
    cr_assert_eq(utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11), 1);
    cr_assert_eq(utf8("\xf4\x8f\xbf\xbf", 4), 1);  /* U+10FFFF */
    cr_assert_eq(utf8("\xef\xbf\xbf", 3), 1);      /* U+FFFF */
    cr_assert_eq(utf8("\xed\x9f\xbf", 3), 1);      /* U+D7FF */
    cr_assert_eq(utf8("\xee\x80\x80", 3), 1);      /* U+E000 */
    cr_assert_eq(utf8("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
    cr_assert_eq(utf8("\xed\xa0\x80", 3), -1);     /* surrogate */
    cr_assert_eq(utf8("\xc0\x80", 2), -1);         /* overlong */
    cr_assert_eq(utf8("\xc1\xbf", 2), -1);         /* overlong */
    cr_assert_eq(utf8("\xe0\x9f\xbf", 3), -1);     /* overlong */
    cr_assert_eq(utf8("\xf0\x8f\xbf\xbf", 4), -1); /* overlong */
    cr_assert_eq(utf8("\xf5\x80\x80\x80", 4), -1); /* no such lead */
    cr_assert_eq(utf8("\xff", 1), -1);
    cr_assert_eq(utf8("\x80", 1), -1); /* stray continuation */
    cr_assert_eq(utf8("\xce", 1), 0);  /* open at the end */
    cr_assert_eq(utf8("\xe1\xbd", 2), 0);
    cr_assert_eq(utf8("abcdefgh\xce\xbaxyz01234567", 20), 1); /* the ASCII fast path */
    cr_assert_eq(utf8("abcdefghijklmno\x80", 16), -1);
    /* fail fast: the invalid byte is known before the rest arrives */
    struct ws_utf8 u = {0};
    cr_assert_eq(ws_utf8_feed(&u, (const uint8_t *)"\xce\xba\xed", 3), 0);
    cr_assert_eq(ws_utf8_feed(&u, (const uint8_t *)"\xa0", 1), -1);
    /* cut at every point of a mixed string */
    static const char s[] = "a\xce\xba\xe1\xbd\xb9\xf0\x9f\x98\x80z";
    for (size_t i = 0; i <= sizeof s - 1; i++) {
        struct ws_utf8 v = {0};
        cr_assert_eq(ws_utf8_feed(&v, (const uint8_t *)s, i), 0);
        cr_assert_eq(ws_utf8_feed(&v, (const uint8_t *)s + i, sizeof s - 1 - i), 0);
        cr_assert(ws_utf8_done(&v));
    }
}

Test(ws, text_message_utf8_1007)
{
    uint8_t s[64];
    struct trace t;
    size_t n = mk(s, 0x81, "\xc0\x80", 2, 1, -1);
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, -1007);
    /* a fragment that ends inside a sequence is fine, the message end is not */
    n = mk(s, 0x01, "\xce", 1, 1, -1);
    n += mk(s + n, 0x80, "\xba", 1, 1, -1);
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, 0);
    n = mk(s, 0x81, "ab\xce", 3, 1, -1);
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, -1007);
    /* binary is not checked */
    n = mk(s, 0x82, "\xc0\x80", 2, 1, -1);
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, 0);
    /* fail fast inside an unfinished fragmented message */
    n = mk(s, 0x01, "ok\xed\xa0\x80", 5, 1, -1);
    run(s, n, NULL, 0, &t, 100);
    cr_assert_eq(t.rc, -1007);
}

Test(ws, close_payloads)
{
    int code;
    cr_assert_eq(ws_close_check(NULL, 0, &code), 0);
    cr_assert_eq(code, 1005);
    cr_assert_eq(ws_close_check((const uint8_t *)"\x03", 1, &code), -1002);
    static const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                             1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t p[2] = {(uint8_t)(ok[i] >> 8), (uint8_t)ok[i]};
        cr_assert_eq(ws_close_check(p, 2, &code), 0, "%d", ok[i]);
        cr_assert_eq(code, ok[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        cr_assert_eq(ws_close_check(p, 2, &code), -1002, "%d", bad[i]);
    }
    cr_assert_eq(ws_close_check((const uint8_t *)"\x03\xe8\xce\xba", 4, &code), 0);
    cr_assert_eq(ws_close_check((const uint8_t *)"\x03\xe8\xce", 3, &code), -1007);
    cr_assert_eq(ws_close_check((const uint8_t *)"\x03\xe8\xff", 3, &code), -1007);
}

Test(ws, encoder_lengths_and_mask)
{
    uint8_t h[WS_HEAD_MAX];
    cr_assert_eq(ws_frame_head(h, 1, 0, WS_TEXT, 0, NULL), 2);
    cr_assert_eq(h[0], 0x81);
    cr_assert_eq(h[1], 0);
    cr_assert_eq(ws_frame_head(h, 1, 0, WS_BINARY, 125, NULL), 2);
    cr_assert_eq(ws_frame_head(h, 1, 0, WS_BINARY, 126, NULL), 4);
    cr_assert(h[1] == 126 && h[2] == 0 && h[3] == 126);
    cr_assert_eq(ws_frame_head(h, 1, 0, WS_BINARY, 65535, NULL), 4);
    cr_assert_eq(ws_frame_head(h, 1, 1, WS_BINARY, 65536, NULL), 10);
    cr_assert(h[0] == 0xC2 && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
    cr_assert_eq(ws_frame_head(h, 0, 0, WS_CONT, 5, KEY), 6);
    cr_assert(h[0] == 0x00 && h[1] == 0x85 && !memcmp(h + 2, KEY, 4));
    /* masking from any offset is the same as masking whole */
    uint8_t a[37], b[37];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    ws_mask(a, sizeof a, KEY, 0);
    for (size_t i = 0; i < sizeof b; i++)
        cr_assert_eq(a[i], (uint8_t)(b[i] ^ KEY[i % 4]));
    ws_mask(b, 11, KEY, 0);
    ws_mask(b + 11, sizeof b - 11, KEY, 11);
    cr_assert(!memcmp(a, b, sizeof a));
}

static struct http_header H(const char *n, const char *v) {
    struct http_header h = {http_str_cstr(n), http_str_cstr(v)};
    return h;
}

Test(ws, handshake)
{
    char acc[WS_ACCEPT_LEN + 1];
    cr_assert_eq(ws_hs_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), 0); /* RFC 6455 §1.3 */
    cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    struct http_header h[8] = {
        H("Host", "x"),
        H("Upgrade", "WebSocket"),
        H("Connection", "keep-alive, Upgrade"),
        H("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        H("Sec-WebSocket-Version", "13"),
        H("Sec-WebSocket-Protocol", "chat, superchat"),
        H("Sec-WebSocket-Extensions", "foo, permessage-deflate; client_max_window_bits"),
    };
    struct ws_hs hs;
    cr_assert_eq(ws_hs_check(1, 11, h, 7, "superchat,chat", 1, &hs), 0);
    cr_assert_str_eq(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_assert_str_eq(hs.protocol, "superchat");
    cr_assert(hs.deflate);
    cr_assert_str_eq(hs.ext, "permessage-deflate; server_max_window_bits=12; "
                             "client_max_window_bits=12");
    cr_assert_eq(ws_hs_check(1, 11, h, 7, "other", 0, &hs), 0);
    cr_assert_str_eq(hs.protocol, "");
    cr_assert(!hs.deflate);
    cr_assert_eq(ws_hs_check(0, 11, h, 7, NULL, 1, &hs), -1);
    cr_assert_eq(hs.status, 400);
    cr_assert_eq(ws_hs_check(1, 10, h, 7, NULL, 1, &hs), -1);
    cr_assert_eq(hs.status, 400);
    h[4] = H("Sec-WebSocket-Version", "8");
    cr_assert_eq(ws_hs_check(1, 11, h, 7, NULL, 1, &hs), -1);
    cr_assert_eq(hs.status, 426);
    h[4] = H("Sec-WebSocket-Version", "13");
    h[3] = H("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ");
    cr_assert_eq(ws_hs_check(1, 11, h, 7, NULL, 1, &hs), -1);
    cr_assert_eq(hs.status, 400);
    h[3] = H("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    h[2] = H("Connection", "keep-alive");
    cr_assert_eq(ws_hs_check(1, 11, h, 7, NULL, 1, &hs), -1);
    cr_assert_eq(hs.status, 426);
    h[2] = H("Connection", "Upgrade");
    h[7] = H("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    cr_assert_eq(ws_hs_check(1, 11, h, 8, NULL, 1, &hs), -1, "two keys");
    cr_assert_eq(hs.status, 400);
    char key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1];
    cr_assert_eq(ws_hs_key(key), 0);
    cr_assert_eq(ws_hs_key(key2), 0);
    cr_assert_eq(strlen(key), 24);
    cr_assert_str_neq(key, key2);
}

static int nego(const char *offer, char *resp, struct ws_pmd_conf *c)
{
    return ws_pmd_negotiate(offer, strlen(offer), c, resp, 128);
}

Test(ws, deflate_negotiation)
{
    char r[128];
    struct ws_pmd_conf c;
    /* the server's window is always said, 4 KiB unless the offer asks less */
    cr_assert_eq(nego("permessage-deflate", r, &c), 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=12");
    cr_assert_eq(c.server_bits, 12);
    cr_assert_eq(c.client_bits, 0);
    cr_assert_eq(
        nego("permessage-deflate; server_no_context_takeover; client_no_context_takeover", r, &c),
        1);
    cr_assert_str_eq(r, "permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover; server_max_window_bits=12");
    cr_assert(c.server_no_ctx && c.client_no_ctx);
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=\"10\"", r, &c), 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=10");
    cr_assert_eq(c.server_bits, 10);
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=15", r, &c), 1);
    cr_assert_eq(c.server_bits, 12, "a larger allowance: ours is used");
    /* 8 is honoured (zlib's 9 reaches back 250 bytes at most): the first offer is taken */
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=8, permessage-deflate", r, &c),
                 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=8");
    cr_assert_eq(c.server_bits, 8);
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=7", r, &c), 0);
    /* the client's window: told only when offered, its own if smaller */
    cr_assert_eq(nego("permessage-deflate; client_max_window_bits=8", r, &c), 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=8");
    cr_assert_eq(nego("permessage-deflate; client_max_window_bits", r, &c), 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
    cr_assert_eq(c.client_bits, 12);
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits", r, &c), 0, "needs a value");
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=16", r, &c), 0);
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=010", r, &c), 0);
    cr_assert_eq(nego("permessage-deflate; client_max_window_bits=7", r, &c), 0);
    cr_assert_eq(nego("permessage-deflate; x_unknown", r, &c), 0);
    cr_assert_eq(
        nego("permessage-deflate; server_no_context_takeover; server_no_context_takeover", r, &c),
        0);
    cr_assert_eq(nego("permessage-deflate; server_no_context_takeover=1", r, &c), 0);
    cr_assert_eq(nego("x-webkit-deflate-frame", r, &c), 0);
    cr_assert_eq(nego("permessage-deflate; \"", r, &c), 0, "malformed");
    cr_assert_eq(nego("", r, &c), 0);
}

Test(ws, deflate_with_the_negotiated_windows)
{
    /* a client told 9 bits and a server kept to 10 still understand each other */
    char r[128];
    struct ws_pmd_conf c;
    cr_assert_eq(
        nego("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", r, &c), 1);
    struct ws_pmd *srv = ws_pmd_new(&c, 1), *cli = ws_pmd_new(&c, 0);
    cr_assert(srv && cli);
    struct buf z, o;
    buf_init(&z, 0);
    buf_init(&o, 0);
    char msg[20000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)("abcdefghij"[i % 10] + (i / 3000));
    for (int dir = 0; dir < 2; dir++) {
        struct ws_pmd *from = dir ? cli : srv, *to = dir ? srv : cli;
        for (int k = 0; k < 3; k++) {
            buf_clear(&z);
            buf_clear(&o);
            cr_assert_eq(ws_pmd_deflate(from, msg, sizeof msg, &z), 0);
            cr_assert_eq(ws_pmd_inflate(to, buf_head(&z), buf_len(&z), 1, &o, 1 << 20), 0);
            cr_assert_eq(buf_len(&o), sizeof msg);
            cr_assert(!memcmp(buf_head(&o), msg, sizeof msg));
        }
    }
    buf_free(&z);
    buf_free(&o);
    ws_pmd_free(srv);
    ws_pmd_free(cli);
}

/* Inflates z[0..n) onto out through a window of 2^bits bytes, 16 output
 * bytes per call: zlib then takes every longer distance from its window, so
 * one the window does not hold fails.  0, or zlib's error. */
static int strict_inflate(z_stream *s, const uint8_t *z, size_t n, struct buf *out)
{
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    for (int part = 0; part < 2; part++) {
        s->next_in = (uint8_t *)(uintptr_t)(part ? tail : z);
        s->avail_in = (uInt)(part ? 4 : n);
        do {
            uint8_t o[16];
            s->next_out = o;
            s->avail_out = sizeof o;
            int rc = inflate(s, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR) return rc;
            if (buf_append(out, o, sizeof o - s->avail_out) < 0) return Z_MEM_ERROR;
            if (rc == Z_BUF_ERROR) break;
        } while (s->avail_in || s->avail_out == 0);
    }
    return 0;
}

Test(ws, deflate_keeps_to_a_window_of_256_bytes)
{
    /* RFC 7692 §7.1.2.1: server_max_window_bits=8 is accepted and kept to
     * (zlib's raw deflate takes no 8; its 9 reaches back 250 bytes at most),
     * within a message and across messages with context takeover */
    char r[128];
    struct ws_pmd_conf c;
    cr_assert_eq(nego("permessage-deflate; server_max_window_bits=8", r, &c), 1);
    cr_assert_str_eq(r, "permessage-deflate; server_max_window_bits=8");
    struct ws_pmd *srv = ws_pmd_new(&c, 1);
    cr_assert(srv);
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, -8), Z_OK);
    /* the control: a 32 KiB window's output fails through this one */
    z_stream d;
    memset(&d, 0, sizeof d);
    cr_assert_eq(deflateInit2(&d, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    static uint8_t msg[30000], zz[40000];
    /* a 300-byte block over and over (far matches), its first 100 bytes
     * twice within it (near ones) */
    uint8_t block[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof block; i++) {
        x = x * 1103515245u + 12345u;
        block[i] = i >= 100 && i < 200 ? block[i - 100] : (uint8_t)(x >> 16);
    }
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = block[i % sizeof block];
    d.next_in = msg;
    d.avail_in = sizeof msg;
    d.next_out = zz;
    d.avail_out = sizeof zz;
    cr_assert_eq(deflate(&d, Z_SYNC_FLUSH), Z_OK);
    struct buf z, o;
    buf_init(&z, 0);
    buf_init(&o, 0);
    z_stream ctl;
    memset(&ctl, 0, sizeof ctl);
    cr_assert_eq(inflateInit2(&ctl, -8), Z_OK);
    cr_assert_eq(strict_inflate(&ctl, zz, sizeof zz - d.avail_out - 4, &o), Z_DATA_ERROR);
    inflateEnd(&ctl);
    deflateEnd(&d);
    for (int k = 0; k < 3; k++) {
        buf_clear(&z);
        buf_clear(&o);
        cr_assert_eq(ws_pmd_deflate(srv, msg, sizeof msg, &z), 0);
        cr_assert_lt(buf_len(&z), sizeof msg * 3 / 4, "the near matches are used");
        cr_assert_eq(strict_inflate(&s, (const uint8_t *)buf_head(&z), buf_len(&z), &o), 0);
        cr_assert_eq(buf_len(&o), sizeof msg);
        cr_assert(!memcmp(buf_head(&o), msg, sizeof msg));
    }
    inflateEnd(&s);
    buf_free(&z);
    buf_free(&o);
    ws_pmd_free(srv);
}

static void roundtrip(int snc, int cnc)
{
    struct ws_pmd_conf c = {
        .server_no_ctx = (uint8_t)snc, .client_no_ctx = (uint8_t)cnc, .server_bits = 15};
    struct ws_pmd *srv = ws_pmd_new(&c, 1), *cli = ws_pmd_new(&c, 0);
    cr_assert(srv && cli);
    struct buf z, o;
    buf_init(&z, 0);
    buf_init(&o, 0);
    static const char msg[] = "a message a message a message a message";
    size_t first = 0;
    for (int i = 0; i < 3; i++) {
        buf_clear(&z);
        buf_clear(&o);
        cr_assert_eq(ws_pmd_deflate(srv, msg, sizeof msg - 1, &z), 0);
        if (i == 0) first = buf_len(&z);
        /* with context takeover, the second copy refers back to the first */
        if (i > 0 && !snc) cr_assert_lt(buf_len(&z), first);
        if (i > 0 && snc) cr_assert_eq(buf_len(&z), first);
        cr_assert_eq(ws_pmd_inflate(cli, buf_head(&z), buf_len(&z), 1, &o, 1000), 0);
        cr_assert_eq(buf_len(&o), sizeof msg - 1);
        cr_assert(!memcmp(buf_head(&o), msg, sizeof msg - 1));
    }
    /* an empty message compresses to a single 0x00 */
    buf_clear(&z);
    cr_assert_eq(ws_pmd_deflate(srv, "", 0, &z), 0);
    cr_assert_eq(buf_len(&z), 1);
    cr_assert_eq(buf_head(&z)[0], 0);
    buf_free(&z);
    buf_free(&o);
    ws_pmd_free(srv);
    ws_pmd_free(cli);
}

Test(ws, deflate_roundtrip_both_takeover_modes)
{
    roundtrip(0, 0);
    roundtrip(1, 1);
}

Test(ws, inflate_bomb_is_1009_and_garbage_1007)
{
    size_t big = 8u << 20;
    char *zeros = calloc(1, big);
    uLongf zl = compressBound(big);
    unsigned char *zb = malloc(zl);
    z_stream d = {0};
    cr_assert_eq(deflateInit2(&d, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    d.next_in = (unsigned char *)zeros;
    d.avail_in = (uInt)big;
    d.next_out = zb;
    d.avail_out = (uInt)zl;
    deflate(&d, Z_SYNC_FLUSH);
    size_t zn = zl - d.avail_out - 4;
    deflateEnd(&d);
    cr_assert_lt(zn, 20000); /* a few KiB that inflate to 8 MiB */
    struct ws_pmd_conf c = {.server_bits = 15};
    struct ws_pmd *srv = ws_pmd_new(&c, 1);
    struct buf o;
    buf_init(&o, 0);
    cr_assert_eq(ws_pmd_inflate(srv, zb, zn, 1, &o, 1 << 20), -1009);
    cr_assert_leq(o.cap, 2 * ((1u << 20) + 65536), "bounded: %zu", o.cap);
    buf_clear(&o);
    cr_assert_eq(ws_pmd_inflate(srv, zb, zn, 1, &o, big), 0);
    cr_assert_eq(buf_len(&o), big);
    buf_clear(&o);
    cr_assert_eq(ws_pmd_inflate(srv, "\xff\xff\xff\xff", 4, 1, &o, 100), -1007);
    buf_free(&o);
    ws_pmd_free(srv);
    free(zeros);
    free(zb);
}

Test(ws, compressed_message_through_the_message_layer)
{
    struct ws_pmd_conf c = {.server_bits = 15};
    struct ws_pmd *cli = ws_pmd_new(&c, 0), *srv = ws_pmd_new(&c, 1);
    struct buf z;
    buf_init(&z, 0);
    cr_assert_eq(ws_pmd_deflate(cli, "h\xc3\xa9llo", 6, &z), 0);
    struct ws_msg m;
    ws_msg_init(&m, 100, srv);
    /* in two pieces, the first flagged compressed */
    size_t half = buf_len(&z) / 2;
    struct ws_ev a = {WS_EV_DATA, WS_TEXT, 1, 0, 1, (uint8_t *)z.data + z.off, half, 0};
    struct ws_ev b = {WS_EV_DATA,         WS_TEXT, 0, 1, 1, (uint8_t *)z.data + z.off + half,
                      buf_len(&z) - half, 0};
    int op;
    const uint8_t *p;
    size_t n;
    cr_assert_eq(ws_msg_feed(&m, &a, &op, &p, &n), 0);
    cr_assert_eq(ws_msg_feed(&m, &b, &op, &p, &n), 1);
    cr_assert_eq(n, 6);
    cr_assert(!memcmp(p, "h\xc3\xa9llo", 6));
    /* compressed invalid text is caught after inflating */
    buf_clear(&z);
    cr_assert_eq(ws_pmd_deflate(cli, "\xc0\x80", 2, &z), 0);
    struct ws_ev e = {WS_EV_DATA, WS_TEXT, 1, 1, 1, (uint8_t *)z.data + z.off, buf_len(&z), 0};
    cr_assert_eq(ws_msg_feed(&m, &e, &op, &p, &n), -1007);
    ws_msg_free(&m);
    buf_free(&z);
    ws_pmd_free(cli);
    ws_pmd_free(srv);
}

/* found by fuzz_ws_pmd: a client told client_max_window_bits=8 compressed
 * with a 32 KiB window (zlib's raw deflate refuses 8, and 8 fell back to
 * 15), so a peer inflating with the 256-byte window it asked for met
 * distances past it.  A 512-byte window (zlib reaches back at most 250
 * bytes with it) keeps to 8. */
Test(ws, client_told_8_bits_reaches_back_no_further)
{
    struct ws_pmd_conf c = {.server_bits = 15, .client_bits = 8};
    struct ws_pmd *cli = ws_pmd_new(&c, 0);
    cr_assert(cli);
    unsigned char msg[1200];
    uint32_t x = 12345;
    for (size_t i = 0; i < 400; i++)
        msg[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 24);
    for (size_t i = 400; i < sizeof msg; i++)
        msg[i] = msg[i - 400]; /* repeats 400 bytes back: beyond 256 */
    struct buf z;
    buf_init(&z, 0);
    for (int k = 0; k < 2; k++) { /* the second message may refer to the first */
        buf_clear(&z);
        cr_assert_eq(ws_pmd_deflate(cli, msg, sizeof msg, &z), 0);
        cr_assert_eq(buf_append(&z, "\0\0\xff\xff", 4), 0);
        static z_stream s; /* a peer with exactly the 256-byte window, context kept */
        if (k == 0) cr_assert_eq(inflateInit2(&s, -8), Z_OK);
        unsigned char out[sizeof msg + 1];
        s.next_in = (unsigned char *)buf_head(&z);
        s.avail_in = (uInt)buf_len(&z);
        s.next_out = out;
        s.avail_out = sizeof out;
        int zr = inflate(&s, Z_SYNC_FLUSH);
        cr_assert(zr == Z_OK || zr == Z_BUF_ERROR, "message %d: %s", k, s.msg ? s.msg : "");
        cr_assert_eq(sizeof out - s.avail_out, sizeof msg);
        cr_assert(!memcmp(out, msg, sizeof msg));
        if (k == 1) inflateEnd(&s);
    }
    buf_free(&z);
    ws_pmd_free(cli);
}
