/* proxyproto — the PROXY protocol v1/v2 header parser (see proxyproto.h).
 * Each byte is checked against the signature as it comes, so garbage is
 * refused at its first wrong byte, not after a timeout. */
#include "http/proxyproto.h"

#include "err.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
#define V2_HEAD  16
#define V2_ADDRS 36 /* the TCP6 block, the largest one read */

void proxyproto_init(struct proxyproto *pp)
{
    memset(pp, 0, sizeof *pp);
    pp->crc = 0xFFFFFFFFu;
}

static int fail(struct proxyproto *pp, const char *why)
{
    pp->error = why;
    return BERTH_EPROTO;
}

/* A v1 port: decimal 0..65535, no sign, no leading zero. */
static int v1_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return -1;
    *out = (uint16_t)v;
    return 0;
}

/* "PROXY TCP4 src dst sport dport" (the CRLF already cut), fields split by
 * single spaces; "PROXY UNKNOWN" with anything after it. */
static int v1_parse(struct proxyproto *pp, char *line, struct proxyproto_addr *a)
{
    char *f[7];
    int nf = 0;
    a->version = 1;
    if (!strncmp(line, "PROXY UNKNOWN", 13) && (line[13] == '\0' || line[13] == ' ')) {
        a->family = AF_UNSPEC; /* the sender cannot tell: the socket's addresses stay */
        return 1;
    }
    for (char *p = line;;) {
        if (nf == 7) return fail(pp, "a v1 header has 6 fields");
        f[nf++] = p;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = '\0';
        p = sp + 1;
    }
    if (nf != 6) return fail(pp, "a v1 header has 6 fields");
    if (!strcmp(f[1], "TCP4"))
        a->family = AF_INET;
    else if (!strcmp(f[1], "TCP6"))
        a->family = AF_INET6;
    else
        return fail(pp, "a v1 protocol is TCP4, TCP6 or UNKNOWN");
    if (inet_pton(a->family, f[2], a->src) != 1 || inet_pton(a->family, f[3], a->dst) != 1)
        return fail(pp, "a v1 address does not match its protocol");
    if (v1_port(f[4], &a->sport) < 0 || v1_port(f[5], &a->dport) < 0)
        return fail(pp, "a v1 port is 0..65535 in decimal");
    return 1;
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), a bit at a time: a header is
 * tens of bytes, so a table would cost more cache than it saves. */
static uint32_t crc32c_byte(uint32_t crc, uint8_t ch)
{
    crc ^= ch;
    for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    return crc;
}

/* The 16-byte v2 head is complete: its length, and for PROXY where the
 * addresses end and the TLVs begin.  Refused here, before the block comes,
 * when the family cannot be or its addresses cannot fit. */
static int v2_head(struct proxyproto *pp)
{
    const uint8_t *b = pp->b;
    uint32_t len = (uint32_t)(b[14] << 8 | b[15]), need;
    pp->total = V2_HEAD + len;
    if ((b[12] & 0x0f) == 0) return 0; /* LOCAL: "discard the protocol block" */
    switch (b[13]) {
    case 0x00: /* UNSPEC: no addresses, the block is TLVs */
        need = 0;
        break;
    case 0x11: /* TCP, UDP over IPv4 */
    case 0x12:
        need = 12;
        break;
    case 0x21: /* TCP, UDP over IPv6 */
    case 0x22:
        need = 36;
        break;
    case 0x31: /* unix stream, datagram: two 108-byte paths */
    case 0x32:
        need = 216;
        break;
    default: /* bad nibbles, or one UNSPEC nibble that says not where addresses end */
        return fail(pp, "a v2 address family/protocol byte is unknown");
    }
    if (len < need) return fail(pp, "a v2 address block is shorter than its family's addresses");
    pp->tlv_at = V2_HEAD + need;
    return 0;
}

/* One byte of an SSL TLV's value (spec 2.2.6): client (1), verify (4), then
 * sub-TLVs that must end with it; left: the SSL value's bytes after this. */
static int ssl_byte(struct proxyproto *pp, uint8_t ch, uint32_t left)
{
    if (pp->ssl_fixed < 5) {
        pp->ssl_fixed++;
    } else if (pp->sub_hn < 3) {
        if (++pp->sub_hn == 2) pp->sub_hi = ch;
        if (pp->sub_hn == 3) {
            uint32_t n = (uint32_t)(pp->sub_hi << 8 | ch);
            if (n > left) return fail(pp, "a v2 SSL sub-TLV overruns its SSL TLV");
            pp->sub_left = (uint16_t)n;
            if (!n) pp->sub_hn = 0;
        }
    } else if (--pp->sub_left == 0) {
        pp->sub_hn = 0;
    }
    if (left == 0 && pp->sub_hn) return fail(pp, "a v2 SSL sub-TLV is cut by its SSL TLV's end");
    return 0;
}

/* One byte of the TLV area; rest: the header's bytes after this one.  *sum
 * is what the checksum takes for it: zero inside a CRC32C's own value. */
static int tlv_byte(struct proxyproto *pp, uint8_t ch, uint32_t rest, uint8_t *sum)
{
    if (pp->tlv_hn < 3) {
        if (pp->tlv_hn == 0) pp->tlv_type = ch;
        if (pp->tlv_hn == 1) pp->tlv_hi = ch;
        if (++pp->tlv_hn < 3) return 0;
        uint32_t n = (uint32_t)(pp->tlv_hi << 8 | ch);
        if (n > rest) return fail(pp, "a v2 TLV overruns the header");
        switch (pp->tlv_type) {
        case 0x03: /* PP2_TYPE_CRC32C */
            if (n != 4) return fail(pp, "a v2 CRC32C TLV is 4 bytes");
            if (pp->crc_seen) return fail(pp, "a v2 header has one CRC32C TLV at most");
            pp->crc_seen = 1;
            break;
        case 0x05: /* PP2_TYPE_UNIQUE_ID */
            if (n > 128) return fail(pp, "a v2 UNIQUE_ID TLV is 128 bytes at most");
            break;
        case 0x20: /* PP2_TYPE_SSL */
            if (n < 5) return fail(pp, "a v2 SSL TLV is 5 bytes at least");
            pp->ssl_fixed = pp->sub_hn = 0;
            break;
        default: /* ALPN, AUTHORITY, NOOP, NETNS, reserved, unknown: skipped */
            break;
        }
        pp->tlv_left = (uint16_t)n;
        if (!n) pp->tlv_hn = 0;
        return 0;
    }
    pp->tlv_left--;
    if (pp->tlv_type == 0x03) {
        pp->crc_got = pp->crc_got << 8 | ch;
        *sum = 0;
    } else if (pp->tlv_type == 0x20 && ssl_byte(pp, ch, pp->tlv_left) < 0) {
        return BERTH_EPROTO;
    }
    if (!pp->tlv_left) pp->tlv_hn = 0;
    return 0;
}

/* The whole v2 header is in: the TLVs ended where it does, the checksum
 * matches; then its addresses (kept in b). */
static int v2_parse(struct proxyproto *pp, struct proxyproto_addr *a)
{
    const uint8_t *b = pp->b;
    a->version = 2;
    a->family = AF_UNSPEC;
    if ((b[12] & 0x0f) == 0) { /* LOCAL: the balancer itself; addresses ignored */
        a->local = 1;
        return 1;
    }
    if (pp->tlv_hn) return fail(pp, "a v2 TLV is cut by the header's end");
    if (pp->crc_seen && (pp->crc ^ 0xFFFFFFFFu) != pp->crc_got)
        return fail(pp, "the v2 CRC32C does not match the header");
    switch (b[13]) {
    case 0x11: /* TCP over IPv4 */
        a->family = AF_INET;
        memcpy(a->src, b + 16, 4);
        memcpy(a->dst, b + 20, 4);
        a->sport = (uint16_t)(b[24] << 8 | b[25]);
        a->dport = (uint16_t)(b[26] << 8 | b[27]);
        return 1;
    case 0x21: /* TCP over IPv6 */
        a->family = AF_INET6;
        memcpy(a->src, b + 16, 16);
        memcpy(a->dst, b + 32, 16);
        a->sport = (uint16_t)(b[48] << 8 | b[49]);
        a->dport = (uint16_t)(b[50] << 8 | b[51]);
        return 1;
    default: /* UNSPEC; UDP and unix are not ours: UNSPEC's fallback (the spec allows it) */
        return 1;
    }
}

int proxyproto_feed(struct proxyproto *pp, const void *p, size_t n, size_t *used,
                    struct proxyproto_addr *a)
{
    const uint8_t *s = p;
    size_t i = 0;
    *used = 0;
    if (pp->error) return BERTH_EPROTO;
    memset(a, 0, sizeof *a);
    while (i < n) {
        uint8_t ch = s[i];
        uint32_t at = pp->have;
        int v2 = pp->have ? pp->b[0] == v2sig[0] : ch == v2sig[0];
        if (!v2) {
            /* v1: "PROXY " then a line ending in CRLF within 107 bytes */
            if (at < 6 && ch != (uint8_t) "PROXY "[at])
                return fail(pp, at ? "a v1 header starts with \"PROXY \""
                                   : "no PROXY protocol header (v1 or v2) at the start");
            if (ch == '\n') {
                if (pp->b[at - 1] != '\r') return fail(pp, "a v1 header ends with CRLF");
                pp->b[at - 1] = '\0';
                pp->have++;
                *used = i + 1;
                return v1_parse(pp, (char *)pp->b, a);
            }
            if (at + 1 >= PROXYPROTO_V1_MAX) return fail(pp, "a v1 header is 107 bytes at most");
            /* after "PROXY UNKNOWN " the spec has the receiver ignore anything
             * before the CRLF; elsewhere a control byte cannot be a field's */
            if (ch < 0x20 && ch != '\r' && (at < 14 || memcmp(pp->b, "PROXY UNKNOWN ", 14)))
                return fail(pp, "a v1 header is printable text");
            if (at && pp->b[at - 1] == '\r') return fail(pp, "a v1 header has CR only at its end");
            pp->b[pp->have++] = ch;
            i++;
            continue;
        }
        if (at < 12 && ch != v2sig[at]) return fail(pp, "the v2 signature is wrong");
        if (at == 12) {
            if ((ch & 0xf0) != 0x20) return fail(pp, "a v2 header's version is 2");
            if ((ch & 0x0f) > 1) return fail(pp, "a v2 command is LOCAL or PROXY");
        }
        /* a byte at a time: the head and the addresses (as far as TCP6's)
         * are kept, the TLVs walked, everything summed */
        if (at < V2_HEAD + V2_ADDRS) pp->b[at] = ch;
        uint8_t sum = ch;
        if (pp->tlv_at && at >= pp->tlv_at && tlv_byte(pp, ch, pp->total - at - 1, &sum) < 0)
            return BERTH_EPROTO;
        pp->crc = crc32c_byte(pp->crc, sum);
        pp->have++;
        i++;
        if (pp->have == V2_HEAD && v2_head(pp) < 0) return BERTH_EPROTO;
        if (pp->have == pp->total) {
            *used = i;
            return v2_parse(pp, a);
        }
    }
    *used = n;
    return 0;
}
