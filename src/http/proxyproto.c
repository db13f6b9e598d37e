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

/* The 16-byte v2 head and the start of its address block (b, have). */
static int v2_parse(struct proxyproto *pp, struct proxyproto_addr *a)
{
    const uint8_t *b = pp->b;
    uint32_t len = pp->total - V2_HEAD;
    a->version = 2;
    a->family = AF_UNSPEC;
    if ((b[12] & 0x0f) == 0) { /* LOCAL: the balancer itself; addresses ignored */
        a->local = 1;
        return 1;
    }
    switch (b[13]) {
    case 0x11: /* TCP over IPv4 */
        if (len < 12) return fail(pp, "a v2 TCP4 header is too short for its addresses");
        a->family = AF_INET;
        memcpy(a->src, b + 16, 4);
        memcpy(a->dst, b + 20, 4);
        a->sport = (uint16_t)(b[24] << 8 | b[25]);
        a->dport = (uint16_t)(b[26] << 8 | b[27]);
        return 1;
    case 0x21: /* TCP over IPv6 */
        if (len < 36) return fail(pp, "a v2 TCP6 header is too short for its addresses");
        a->family = AF_INET6;
        memcpy(a->src, b + 16, 16);
        memcpy(a->dst, b + 32, 16);
        a->sport = (uint16_t)(b[48] << 8 | b[49]);
        a->dport = (uint16_t)(b[50] << 8 | b[51]);
        return 1;
    case 0x00: /* UNSPEC */
    case 0x12: /* UDP, unix sockets: not ours, so UNSPEC's fallback (the spec allows it) */
    case 0x22:
    case 0x31:
    case 0x32:
        return 1;
    default:
        return fail(pp, "a v2 address family/protocol byte is unknown");
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
            if (ch < 0x20 && ch != '\r') return fail(pp, "a v1 header is printable text");
            if (at && pp->b[at - 1] == '\r') return fail(pp, "a v1 header has CR only at its end");
            pp->b[pp->have++] = ch;
            i++;
            continue;
        }
        if (at < 12) {
            if (ch != v2sig[at]) return fail(pp, "the v2 signature is wrong");
        } else if (at == 12) {
            if ((ch & 0xf0) != 0x20) return fail(pp, "a v2 header's version is 2");
            if ((ch & 0x0f) > 1) return fail(pp, "a v2 command is LOCAL or PROXY");
        }
        if (at < V2_HEAD) {
            pp->b[pp->have++] = ch;
            i++;
            if (pp->have == V2_HEAD) pp->total = V2_HEAD + (uint32_t)(pp->b[14] << 8 | pp->b[15]);
        } else {
            /* the address block is kept as far as TCP6's; TLVs are skipped */
            size_t k = n - i < pp->total - at ? n - i : pp->total - at;
            if (at < V2_HEAD + V2_ADDRS) {
                size_t keep = V2_HEAD + V2_ADDRS - at < k ? V2_HEAD + V2_ADDRS - at : k;
                memcpy(pp->b + at, s + i, keep);
            }
            pp->have += (uint32_t)k;
            i += k;
        }
        if (pp->have == pp->total) {
            *used = i;
            return v2_parse(pp, a);
        }
    }
    *used = n;
    return 0;
}
