/* proxyproto: every valid v1 and v2 header parses to the same addresses and
 * ends at the same byte whether it arrives whole, split at any point, or
 * byte by byte, with the request that follows it left untouched; every
 * malformed header is refused, garbage at its first wrong byte. */
#include "http/proxyproto.h"

#include "err.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char tail[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header: command, family byte, the address block, then tlv bytes of
 * TLVs (type 0x04 NOOP, filled).  Returns its length. */
static size_t v2(uint8_t *out, int cmd, uint8_t fam, const void *addrs, size_t alen, size_t tlv)
{
    size_t len = alen + tlv;
    memcpy(out, sig, 12);
    out[12] = (uint8_t)(0x20 | cmd);
    out[13] = fam;
    out[14] = (uint8_t)(len >> 8);
    out[15] = (uint8_t)len;
    if (alen) memcpy(out + 16, addrs, alen); /* NULL when there are none */
    size_t at = 16 + alen;
    while (tlv) {
        size_t k = tlv - 3 < 1000 ? tlv - 3 : 1000; /* TLVs of at most 1003 bytes */
        if (tlv - (k + 3) > 0 && tlv - (k + 3) < 3) k -= 3;
        out[at] = 0x04;
        out[at + 1] = (uint8_t)(k >> 8);
        out[at + 2] = (uint8_t)k;
        memset(out + at + 3, 0xAB, k);
        at += k + 3;
        tlv -= k + 3;
    }
    return 16 + len;
}

/* Parses hdr+tail split at `split` (0: whole; 1: byte by byte when every is
 * set).  Checks the header ends exactly where the tail begins. */
static void parse_split(const uint8_t *in, size_t hlen, size_t split, int bytewise,
                        struct proxyproto_addr *a)
{
    size_t n = hlen + sizeof tail - 1;
    uint8_t *buf = malloc(n);
    memcpy(buf, in, hlen);
    memcpy(buf + hlen, tail, sizeof tail - 1);
    struct proxyproto pp;
    proxyproto_init(&pp);
    size_t pos = 0;
    int rc = 0;
    while (pos < n) {
        size_t k = bytewise ? 1 : (pos < split ? split - pos : n - pos);
        size_t used = 99999;
        rc = proxyproto_feed(&pp, buf + pos, k, &used, a);
        cr_assert_geq(rc, 0, "split %zu: %s", split, pp.error ? pp.error : "");
        cr_assert_leq(used, k);
        if (rc == 0) cr_assert_eq(used, k, "need more takes all it was given");
        pos += used;
        if (rc == 1) break;
    }
    cr_assert_eq(rc, 1, "split %zu: incomplete", split);
    cr_assert_eq(pos, hlen, "split %zu: the header ends at %zu, not %zu", split, pos, hlen);
    free(buf);
}

/* Every split point and byte by byte agree with the whole parse. */
static void parse_all(const void *hdr, size_t hlen, struct proxyproto_addr *a)
{
    parse_split(hdr, hlen, 0, 0, a);
    for (size_t s = 1; s <= hlen + 3; s++) {
        struct proxyproto_addr b;
        parse_split(hdr, hlen, s, 0, &b);
        cr_assert_eq(memcmp(a, &b, sizeof b), 0, "split %zu differs", s);
    }
    struct proxyproto_addr b;
    parse_split(hdr, hlen, 0, 1, &b);
    cr_assert_eq(memcmp(a, &b, sizeof b), 0, "byte by byte differs");
}

static int refuse(const void *hdr, size_t n)
{
    struct proxyproto pp;
    struct proxyproto_addr a;
    proxyproto_init(&pp);
    size_t used;
    int rc = proxyproto_feed(&pp, hdr, n, &used, &a);
    if (rc < 0) cr_assert(pp.error != NULL, "a refusal says why");
    /* byte by byte refuses too (or still waits, for a truncated header) */
    struct proxyproto q;
    proxyproto_init(&q);
    int r2 = 0;
    for (size_t i = 0; i < n && r2 == 0; i++)
        r2 = proxyproto_feed(&q, (const uint8_t *)hdr + i, 1, &used, &a);
    cr_assert_eq(rc, r2, "whole and byte by byte agree");
    return rc;
}

static void check_v4(const struct proxyproto_addr *a, const char *src, const char *dst,
                     unsigned sport, unsigned dport)
{
    uint8_t s[4], d[4];
    inet_pton(AF_INET, src, s);
    inet_pton(AF_INET, dst, d);
    cr_assert_eq(a->family, AF_INET);
    cr_assert_eq(memcmp(a->src, s, 4), 0);
    cr_assert_eq(memcmp(a->dst, d, 4), 0);
    cr_assert_eq(a->sport, sport);
    cr_assert_eq(a->dport, dport);
}

static void check_v6(const struct proxyproto_addr *a, const char *src, const char *dst,
                     unsigned sport, unsigned dport)
{
    uint8_t s[16], d[16];
    inet_pton(AF_INET6, src, s);
    inet_pton(AF_INET6, dst, d);
    cr_assert_eq(a->family, AF_INET6);
    cr_assert_eq(memcmp(a->src, s, 16), 0);
    cr_assert_eq(memcmp(a->dst, d, 16), 0);
    cr_assert_eq(a->sport, sport);
    cr_assert_eq(a->dport, dport);
}

Test(proxyproto, v1_tcp4)
{
    const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
    struct proxyproto_addr a;
    parse_all(h, strlen(h), &a);
    cr_assert_eq(a.version, 1);
    check_v4(&a, "192.0.2.7", "198.51.100.1", 56324, 443);
}

Test(proxyproto, v1_tcp6)
{
    const char *h = "PROXY TCP6 2001:db8::7 2001:db8:1::1 65535 0\r\n";
    struct proxyproto_addr a;
    parse_all(h, strlen(h), &a);
    check_v6(&a, "2001:db8::7", "2001:db8:1::1", 65535, 0);
}

Test(proxyproto, v1_longest_line)
{
    /* the spec's worst case: 107 bytes with the CRLF */
    const char *h = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    cr_assert_eq(strlen(h), 104);
    struct proxyproto_addr a;
    parse_all(h, strlen(h), &a);
    cr_assert_eq(a.family, AF_INET6);
    char u[PROXYPROTO_V1_MAX + 8] = "PROXY UNKNOWN ";
    while (strlen(u) < PROXYPROTO_V1_MAX - 2)
        strcat(u, "x");
    strcat(u, "\r\n");
    cr_assert_eq(strlen(u), PROXYPROTO_V1_MAX);
    parse_all(u, strlen(u), &a);
    cr_assert_eq(a.family, AF_UNSPEC);
    u[PROXYPROTO_V1_MAX - 2] = 'x'; /* 108 bytes: one too many */
    strcpy(u + PROXYPROTO_V1_MAX - 1, "\r\n");
    cr_assert_eq(refuse(u, strlen(u)), BERTH_EPROTO);
}

Test(proxyproto, v1_unknown)
{
    struct proxyproto_addr a;
    const char *h1 = "PROXY UNKNOWN\r\n";
    parse_all(h1, strlen(h1), &a);
    cr_assert_eq(a.family, AF_UNSPEC);
    cr_assert_eq(a.version, 1);
    const char *h2 = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"; /* the rest is ignored */
    parse_all(h2, strlen(h2), &a);
    cr_assert_eq(a.family, AF_UNSPEC);
}

Test(proxyproto, v1_malformed)
{
    static const char *bad[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY TCP4 ::1 ::2 1 2\r\n",
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n",
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY\r\n",
        "\r\n\r\nGET",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(refuse(bad[i], strlen(bad[i])), BERTH_EPROTO, "%s", bad[i]);
}

Test(proxyproto, garbage_refused_at_first_byte)
{
    struct proxyproto pp;
    struct proxyproto_addr a;
    size_t used;
    proxyproto_init(&pp);
    cr_assert_eq(proxyproto_feed(&pp, "G", 1, &used, &a), BERTH_EPROTO);
    proxyproto_init(&pp);
    cr_assert_eq(proxyproto_feed(&pp, "PROXZ", 5, &used, &a), BERTH_EPROTO);
    proxyproto_init(&pp);
    cr_assert_eq(proxyproto_feed(&pp, "\x16\x03\x01", 3, &used, &a), BERTH_EPROTO,
                 "a ClientHello without a header");
    /* once refused, always refused */
    cr_assert_eq(proxyproto_feed(&pp, "PROXY ", 6, &used, &a), BERTH_EPROTO);
}

Test(proxyproto, v2_tcp4_and_tlvs)
{
    uint8_t h[2200], ad[12];
    inet_pton(AF_INET, "203.0.113.9", ad);
    inet_pton(AF_INET, "10.1.2.3", ad + 4);
    ad[8] = 0xC3, ad[9] = 0x50, ad[10] = 0x01, ad[11] = 0xBB; /* 50000, 443 */
    struct proxyproto_addr a;
    size_t tlvs[] = {0, 7, 3 + 16, 2000};
    for (size_t i = 0; i < sizeof tlvs / sizeof *tlvs; i++) {
        size_t n = v2(h, 1, 0x11, ad, 12, tlvs[i]);
        parse_all(h, n, &a);
        cr_assert_eq(a.version, 2);
        cr_assert_eq(a.local, 0);
        check_v4(&a, "203.0.113.9", "10.1.2.3", 50000, 443);
    }
}

Test(proxyproto, v2_tcp6)
{
    uint8_t h[200], ad[36];
    inet_pton(AF_INET6, "2001:db8::9", ad);
    inet_pton(AF_INET6, "::1", ad + 16);
    ad[32] = 0x12, ad[33] = 0x34, ad[34] = 0x00, ad[35] = 0x50;
    struct proxyproto_addr a;
    size_t n = v2(h, 1, 0x21, ad, 36, 12);
    parse_all(h, n, &a);
    check_v6(&a, "2001:db8::9", "::1", 0x1234, 80);
}

Test(proxyproto, v2_local_unspec_and_fallbacks)
{
    uint8_t h[400], ad[216] = {1, 2, 3, 4};
    struct proxyproto_addr a;
    size_t n = v2(h, 0, 0x00, NULL, 0, 0); /* LOCAL, as a health check sends it */
    cr_assert_eq(n, 16);
    parse_all(h, n, &a);
    cr_assert_eq(a.local, 1);
    cr_assert_eq(a.family, AF_UNSPEC);
    n = v2(h, 0, 0x11, ad, 12, 5); /* LOCAL with addresses: ignored */
    parse_all(h, n, &a);
    cr_assert_eq(a.local, 1);
    cr_assert_eq(a.family, AF_UNSPEC);
    n = v2(h, 1, 0x00, NULL, 0, 0); /* PROXY UNSPEC */
    parse_all(h, n, &a);
    cr_assert_eq(a.family, AF_UNSPEC);
    uint8_t fams[] = {0x12, 0x22, 0x31, 0x32}; /* UDP, unix: the socket's addresses */
    for (size_t i = 0; i < sizeof fams; i++) {
        n = v2(h, 1, fams[i], ad, fams[i] >= 0x31 ? 216 : fams[i] == 0x22 ? 36 : 12, 0);
        parse_all(h, n, &a);
        cr_assert_eq(a.family, AF_UNSPEC);
        cr_assert_eq(a.local, 0);
    }
}

Test(proxyproto, v2_malformed)
{
    uint8_t h[200], ad[36] = {0};
    size_t n = v2(h, 1, 0x11, ad, 12, 0);
    h[11] ^= 1; /* signature */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 1, 0x11, ad, 12, 0);
    h[12] = 0x11; /* version 1 in a binary header */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 2, 0x11, ad, 12, 0); /* command 2 */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 1, 0x11, ad, 11, 0); /* TCP4 with 11 address bytes */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 1, 0x21, ad, 35, 0); /* TCP6 with 35 */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 1, 0x13, ad, 12, 0); /* an unknown family/protocol byte */
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
    n = v2(h, 1, 0x41, ad, 12, 0);
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
}

Test(proxyproto, v2_truncated_waits)
{
    uint8_t h[200], ad[12] = {0};
    size_t n = v2(h, 1, 0x11, ad, 12, 9);
    for (size_t k = 1; k < n; k++) {
        struct proxyproto pp;
        struct proxyproto_addr a;
        size_t used;
        proxyproto_init(&pp);
        cr_assert_eq(proxyproto_feed(&pp, h, k, &used, &a), 0, "%zu bytes of %zu", k, n);
        cr_assert_eq(used, k);
    }
}

Test(proxyproto, v2_largest)
{
    /* a 65535-byte block: read to its end without being kept */
    size_t n = 16 + 65535;
    uint8_t *h = malloc(n), ad[12] = {192, 0, 2, 1, 192, 0, 2, 2, 0, 1, 0, 2};
    cr_assert_eq(v2(h, 1, 0x11, ad, 12, 65535 - 12), n);
    struct proxyproto_addr a;
    parse_split(h, n, 0, 0, &a);
    check_v4(&a, "192.0.2.1", "192.0.2.2", 1, 2);
    parse_split(h, n, 7000, 0, &a);
    check_v4(&a, "192.0.2.1", "192.0.2.2", 1, 2);
    free(h);
}

/* What HAProxy 2.6 sends with send-proxy-v2 and proxy-v2-options
 * crc32c,unique-id,ssl: TCP4 127.0.0.1:38544, a CRC32C, a 41-byte
 * UNIQUE_ID, an SSL TLV with no sub-TLVs (spec 2.2.3, 2.2.5, 2.2.6). */
static const uint8_t haproxy_v2[] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00,
    0x47, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x96, 0x90, 0xe1, 0xdd, 0x03, 0x00,
    0x04, 0xf5, 0x52, 0x90, 0x4b, 0x05, 0x00, 0x29, '7',  'F',  '0',  '0',  '0',  '0',  '0',
    '1',  ':',  '9',  '6',  '9',  '0',  '_',  '7',  'F',  '0',  '0',  '0',  '0',  '0',  '1',
    ':',  'E',  '1',  'D',  'D',  '_',  '6',  'B',  '0',  'D',  'E',  '4',  '5',  '9',  '_',
    '0',  '0',  '0',  '0',  0x20, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00};

Test(proxyproto, v2_real_sender_crc32c_verified)
{
    struct proxyproto_addr a;
    cr_assert_eq(sizeof haproxy_v2, 16 + 0x47);
    parse_all(haproxy_v2, sizeof haproxy_v2, &a);
    check_v4(&a, "127.0.0.1", "127.0.0.1", 38544, 57821);
    uint8_t h[sizeof haproxy_v2];
    /* any byte after the head changed: refused, the sum no longer matching
     * (or a length no longer fitting) -- but the CRC32C's type byte, which
     * makes it some other TLV and the header unsummed */
    for (size_t i = 16; i < sizeof h; i++) {
        if (i == 28) continue;
        memcpy(h, haproxy_v2, sizeof h);
        h[i] ^= 0x01;
        cr_assert_eq(refuse(h, sizeof h), BERTH_EPROTO, "byte %zu", i);
    }
}

Test(proxyproto, v2_tlvs_must_tile_the_block)
{
    uint8_t h[600], ad[216] = {192, 0, 2, 1, 192, 0, 2, 2, 0, 1, 0, 2};
    size_t n = v2(h, 1, 0x11, ad, 12, 0);
    /* a TLV head cut short, a value past the end, an SSL TLV under 5 bytes, a
     * sub-TLV past its SSL TLV, a UNIQUE_ID over 128, a CRC32C not 4 bytes */
    static const uint8_t bad[][12] = {{1, 0x04},
                                      {2, 0x04, 0x00},
                                      {5, 0x02, 0x00, 0x03, 'a', 'b'},
                                      {7, 0x20, 0x00, 0x04, 1, 0, 0, 0},
                                      {11, 0x20, 0x00, 0x08, 1, 0, 0, 0, 0, 0x21, 0x00, 0x01},
                                      {3, 0x05, 0x00, 0x81},
                                      {6, 0x03, 0x00, 0x03, 0, 0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(h + n, bad[i] + 1, bad[i][0]);
        h[15] = (uint8_t)(12 + bad[i][0]);
        size_t len = n + bad[i][0] + (i == 5 ? 0x81 : 0); /* UNIQUE_ID's 129 bytes */
        if (i == 5) {
            h[14] = (uint8_t)((12 + 3 + 0x81) >> 8);
            h[15] = (uint8_t)(12 + 3 + 0x81);
            memset(h + n + 3, 'u', 0x81);
        }
        cr_assert_eq(refuse(h, len), BERTH_EPROTO, "case %zu", i);
        h[14] = 0;
    }
    /* the unix and UDP families' blocks are checked too, at the 16-byte head */
    n = v2(h, 1, 0x31, ad, 215, 0);
    cr_assert_eq(refuse(h, 16), BERTH_EPROTO);
    n = v2(h, 1, 0x12, ad, 11, 0);
    cr_assert_eq(refuse(h, n), BERTH_EPROTO);
}
