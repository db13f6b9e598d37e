/* proxyproto — the PROXY protocol header (haproxy's doc/proxy-protocol.txt)
 * that a load balancer puts before a connection's first byte: version 1
 * (a text line) or 2 (binary), told apart by their first byte.  A pure
 * incremental parser: bytes in, taking only the header's own bytes (what
 * follows in the same segment is left for TLS or HTTP), no I/O, no
 * allocation.  PROXY and LOCAL commands; TCP over IPv4 and IPv6; UNKNOWN
 * (v1), UNSPEC and the families it may fall back from (UDP, unix: v2) keep
 * the socket's own addresses.  A v2 PROXY header's TLVs are walked as they
 * come: each must fit the header (an SSL TLV's sub-TLVs, the SSL value), a
 * CRC32C is verified (spec 2.2.3), the rest skipped; LOCAL's block is not
 * looked at (the spec: discard it). */
#ifndef BERTH_HTTP_PROXYPROTO_H
#define BERTH_HTTP_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROXYPROTO_V1_MAX 107 /* the longest v1 line, CRLF included */

struct proxyproto {
    uint8_t b[PROXYPROTO_V1_MAX + 1]; /* v1: the line so far; v2: 16 bytes, then addresses */
    uint32_t have;                    /* header bytes taken */
    uint32_t total;                   /* v2: 16 + its length, once known; else 0 */
    const char *error;                /* why the header was refused */
    /* v2 TLVs, walked a byte at a time so any split parses alike */
    uint32_t crc, crc_got; /* CRC32C so far (a CRC32C TLV's value as zeros); the one sent */
    uint32_t tlv_at;       /* where the TLVs begin; 0: the block is not walked (LOCAL) */
    uint16_t tlv_left;     /* value bytes left in the current TLV */
    uint16_t sub_left;     /* value bytes left in the current SSL sub-TLV */
    uint8_t tlv_type, tlv_hn, tlv_hi;  /* the current TLV: type, head bytes seen, length's MSB */
    uint8_t sub_hn, sub_hi, ssl_fixed; /* SSL: sub-TLV head state; client+verify bytes seen */
    uint8_t crc_seen;                  /* a CRC32C TLV came */
};

struct proxyproto_addr {
    int family;         /* AF_INET or AF_INET6: the client below; AF_UNSPEC: keep the socket's */
    int version, local; /* 1 or 2; local: v2 LOCAL (the balancer's own health check) */
    uint8_t src[16], dst[16]; /* network order: 4 bytes for AF_INET */
    uint16_t sport, dport;
};

void proxyproto_init(struct proxyproto *pp);
/* Takes bytes of p[0..n) into the header and says how many in *used (never
 * past its end).  1: complete, *a filled (*used may be < n: the rest is the
 * connection's); 0: more is needed (*used == n); BERTH_EPROTO: not a valid
 * header (pp->error says why) — the connection is to be closed. */
int proxyproto_feed(struct proxyproto *pp, const void *p, size_t n, size_t *used,
                    struct proxyproto_addr *a);

#endif
