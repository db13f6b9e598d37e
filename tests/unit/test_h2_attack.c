/* h2: the attacks HTTP/2 brings (rapid reset, CONTINUATION and HPACK
 * floods, SETTINGS / PING / WINDOW_UPDATE floods, stream counts), as raw
 * frames against the session (http/h2) in memory (tests/unit/h2_peer.h). */
#include "h2_peer.h"

Test(h2, rapid_reset_ends_the_connection)
{
    struct srv v;
    srv_init(&v, NULL);
    struct raw r;
    raw_start(&r);
    uint8_t cancel[4] = {0, 0, 0, NGHTTP2_CANCEL};
    for (uint32_t sid = 1; sid < 2 * 5000; sid += 2) {
        raw_get(&r, sid, NGHTTP2_FLAG_END_HEADERS); /* no END_STREAM: the handler never runs */
        raw_frame(&r, NGHTTP2_RST_STREAM, 0, sid, cancel, 4);
    }
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect(rc < 0 || !h2_want_read(v.s), "the session does not go on");
    cr_expect_eq(f.goaway, 1);
    cr_expect(f.goaway_code != NGHTTP2_NO_ERROR, "GOAWAY code %u", f.goaway_code);
    raw_free(&r);
    srv_free(&v);
}

/* CVE-2024-27316 and kin: a header block that never ends, of fields (bounded
 * by the header list size) or of empty frames (bounded by their count) */
Test(h2, continuation_flood_is_a_connection_error)
{
    for (int empty = 0; empty < 2; empty++) {
        struct srv v;
        srv_init(&v, NULL);
        struct raw r;
        raw_start(&r);
        raw_get(&r, 1, 0); /* no END_HEADERS */
        uint8_t lit[64];
        const nghttp2_nv nv[] = {NV("x-flood", "0123456789012345678901234567890123456789")};
        for (int i = 0; i < 20000; i++) {
            ssize_t n = empty ? 0 : nghttp2_hd_deflate_hd(r.dfl, lit, sizeof lit, nv, 1);
            cr_assert_geq(n, 0);
            raw_frame(&r, NGHTTP2_CONTINUATION, 0, 1, lit, (size_t)n);
        }
        int rc = h2_session_recv(v.s, r.p, r.len);
        struct frames f = drain(&v);
        cr_expect_lt(rc, 0, "empty %d", empty);
        cr_expect(*h2_error(v.s), "a reason");
        cr_expect_eq(f.goaway, 1);
        cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
        cr_expect_eq(v.seen.n, 0);
        raw_free(&r);
        srv_free(&v);
    }
}

/* An HPACK bomb: one large dynamic-table entry referenced over and over
 * (a byte each) decodes to megabytes: the connection ends long before. */
Test(h2, hpack_bomb_is_bounded)
{
    struct srv v;
    srv_init(&v, NULL);
    struct raw r;
    raw_start(&r);
    static uint8_t block[16000];
    static char big[4000];
    memset(big, 'b', sizeof big);
    nghttp2_nv nv[4] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                        NV(":authority", "a.test")};
    ssize_t n = nghttp2_hd_deflate_hd(r.dfl, block, sizeof block, nv, 4);
    cr_assert_gt(n, 0);
    size_t len = (size_t)n;
    /* literal with incremental indexing, new name "x-b" (RFC 7541 6.2.1) */
    block[len++] = 0x40;
    block[len++] = 3;
    memcpy(block + len, "x-b", 3);
    len += 3;
    block[len++] = 0x7f; /* value length 4000: 127 + varint 3873 */
    block[len++] = (uint8_t)(0x80 | ((4000 - 127) & 0x7f));
    block[len++] = (uint8_t)((4000 - 127) >> 7);
    memcpy(block + len, big, sizeof big);
    len += sizeof big;
    while (len < sizeof block - 1)
        block[len++] = 0x80 | 62; /* indexed: the entry just added */
    raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block,
              len);
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect_lt(rc, 0, "about 48 MB decoded is not a request");
    cr_expect_eq(f.goaway, 1);
    cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    cr_expect_eq(v.seen.n, 0);
    raw_free(&r);
    srv_free(&v);
}

/* SETTINGS and PING each want an ack: a peer that sends them and never
 * reads cannot make the server queue acks without end. */
Test(h2, settings_and_ping_floods_end_the_connection)
{
    for (int kind = 0; kind < 2; kind++) {
        struct srv v;
        srv_init(&v, NULL);
        struct raw r;
        raw_start(&r);
        uint8_t ping[8] = "12345678";
        for (int i = 0; i < 5000; i++)
            raw_frame(&r, kind ? NGHTTP2_PING : NGHTTP2_SETTINGS, 0, 0, kind ? ping : NULL,
                      kind ? 8 : 0);
        int rc = h2_session_recv(v.s, r.p, r.len);
        cr_expect_lt(rc, 0, "%s flood", kind ? "PING" : "SETTINGS");
        struct frames f = drain(&v);
        cr_expect_eq(f.goaway, 1);
        cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
        cr_expect_lt(f.bytes, 1000 * 17 + 1024, "at most the acks allowed, then GOAWAY");
        raw_free(&r);
        srv_free(&v);
    }
}

/* WINDOW_UPDATE needs no answer: thousands cost no output and no memory,
 * and the connection still serves. */
Test(h2, window_update_flood_is_bounded)
{
    struct srv v;
    srv_init(&v, NULL);
    v.answer = answer_text;
    v.resp = TEXT_200;
    struct raw r;
    raw_start(&r);
    uint8_t one[4] = {0, 0, 0, 1};
    for (int i = 0; i < 20000; i++)
        raw_frame(&r, NGHTTP2_WINDOW_UPDATE, 0, 0, one, 4);
    raw_get(&r, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
    cr_expect_eq(h2_session_recv(v.s, r.p, r.len), 0);
    struct frames f = drain(&v);
    cr_expect_lt(f.bytes, 1024, "SETTINGS, its ack and one answer: %zu bytes", f.bytes);
    cr_expect_eq(f.headers, 1);
    cr_expect_eq(v.seen.n, 1);
    raw_free(&r);
    srv_free(&v);
}

/* streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused */
Test(h2, stream_count_limit)
{
    struct srv v;
    struct h2_conf conf = {.max_streams = 10};
    srv_init(&v, &conf);
    struct raw r;
    raw_start(&r);
    for (uint32_t sid = 1; sid < 2 * 30; sid += 2)
        raw_get(&r, sid, NGHTTP2_FLAG_END_HEADERS); /* open: no END_STREAM */
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect(rc == 0 || f.goaway, "a refusal, stream by stream or for the connection");
    if (rc == 0) cr_expect_eq(f.rst, 20, "the 20 over the limit are refused: %d", f.rst);
    raw_free(&r);
    srv_free(&v);
}
