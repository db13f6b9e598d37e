/* libFuzzer harness for the PROXY protocol header parser: the first byte
 * picks a split point, the rest is what a connection begins with.  Parsing
 * whole, in two pieces and byte by byte must agree on the result, where the
 * header ends and the addresses; a header never ends past the input, a
 * v1 one never past 107 bytes, and a refusal always says why.  A v1 TCP4
 * line accepted is exactly the canonical line its addresses print as (one
 * space, no leading zero).  A v2 header held whole is judged by a
 * reference written straight from proxy-protocol.txt 2.2 (its TLVs tiling
 * the block, CRC32C summed over a copy with its value zeroed, UNIQUE_ID and
 * SSL limits): the parser must agree on accepting it and on where it ends. */
#include "http/proxyproto.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* TLVs in p[0..n) tile it exactly (sub: the SSL value's sub-TLVs). */
static int tiles(const uint8_t *p, size_t n, const uint8_t *hdr, size_t hlen, int sub, int *crcs)
{
    size_t o = 0;
    while (o < n) {
        if (n - o < 3) return 0;
        size_t len = (size_t)p[o + 1] << 8 | p[o + 2];
        if (len > n - o - 3) return 0;
        const uint8_t *v = p + o + 3;
        if (!sub && p[o] == 0x03) { /* CRC32C */
            if (len != 4 || ++*crcs > 1) return 0;
            uint8_t *copy = malloc(hlen);
            if (!copy) abort();
            memcpy(copy, hdr, hlen);
            memset(copy + (v - hdr), 0, 4);
            uint32_t want =
                (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
            int ok = crc32c(copy, hlen) == want;
            free(copy);
            if (!ok) return 0;
        }
        if (!sub && p[o] == 0x05 && len > 128) return 0;
        if (!sub && p[o] == 0x20 && (len < 5 || !tiles(v + 5, len - 5, hdr, hlen, 1, crcs)))
            return 0;
        o += 3 + len;
    }
    return 1;
}

/* A whole v2 header at d[0..n): its length if valid, -1 if not, 0 when d
 * does not hold all of it. */
static long ref_v2(const uint8_t *d, size_t n)
{
    if (n < 16) return 0;
    if (memcmp(d, sig, 12) || (d[12] & 0xf0) != 0x20 || (d[12] & 0x0f) > 1) return -1;
    size_t total = 16 + ((size_t)d[14] << 8 | d[15]);
    if (n < total) return 0;
    if ((d[12] & 0x0f) == 0) return (long)total; /* LOCAL: block ignored */
    size_t need;
    switch (d[13]) {
    case 0x00:
        need = 0;
        break;
    case 0x11:
    case 0x12:
        need = 12;
        break;
    case 0x21:
    case 0x22:
        need = 36;
        break;
    case 0x31:
    case 0x32:
        need = 216;
        break;
    default:
        return -1;
    }
    if (total - 16 < need) return -1;
    int crcs = 0;
    return tiles(d + 16 + need, total - 16 - need, d, total, 0, &crcs) ? (long)total : -1;
}

/* Feeds in[0..n) in pieces of at most step bytes (0: first `split`, then the rest). */
static int run(const uint8_t *in, size_t n, size_t split, size_t step, size_t *end,
               struct proxyproto_addr *a)
{
    struct proxyproto pp;
    proxyproto_init(&pp);
    size_t pos = 0;
    int rc = 0;
    memset(a, 0, sizeof *a);
    while (pos < n && rc == 0) {
        size_t k = step ? step : (pos < split ? split - pos : n - pos);
        if (k > n - pos) k = n - pos;
        size_t used = 0;
        rc = proxyproto_feed(&pp, in + pos, k, &used, a);
        if (used > k) abort();
        if (rc == 0 && used != k) abort();
        if (rc < 0 && !pp.error) abort();
        pos += used;
    }
    *end = pos;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0];
    data++;
    size--;
    struct proxyproto_addr a1, a2, a3;
    size_t e1, e2, e3;
    int r1 = run(data, size, size, 0, &e1, &a1);
    int r2 = run(data, size, split, 0, &e2, &a2);
    int r3 = run(data, size, 0, 1, &e3, &a3);
    if (r1 != r2 || r1 != r3) abort();
    if (r1 == 1) {
        if (e1 != e2 || e1 != e3 || e1 > size) abort();
        if (memcmp(&a1, &a2, sizeof a1) || memcmp(&a1, &a3, sizeof a1)) abort();
        if (a1.version == 1 && e1 > PROXYPROTO_V1_MAX) abort();
        if (a1.family != AF_INET && a1.family != AF_INET6 && a1.family != AF_UNSPEC) abort();
        if (a1.version == 1 && a1.family == AF_INET) {
            char s4[INET_ADDRSTRLEN], d4[INET_ADDRSTRLEN], line[PROXYPROTO_V1_MAX + 1];
            if (!inet_ntop(AF_INET, a1.src, s4, sizeof s4) ||
                !inet_ntop(AF_INET, a1.dst, d4, sizeof d4))
                abort();
            int k = snprintf(line, sizeof line, "PROXY TCP4 %s %s %u %u\r\n", s4, d4,
                             (unsigned)a1.sport, (unsigned)a1.dport);
            if (k < 0 || (size_t)k != e1 || memcmp(line, data, e1)) abort();
        }
    }
    if (size && data[0] == sig[0]) {
        long want = ref_v2(data, size);
        if (want > 0 && (r1 != 1 || e1 != (size_t)want)) abort();
        if (want < 0 && r1 >= 0) abort();
        if (want == 0 && r1 == 1) abort();
    }
    return 0;
}
