/* ws_pmd — permessage-deflate (RFC 7692) over zlib's raw deflate: the
 * negotiation of its parameters (§7.1) and a connection's compressor and
 * decompressor.  In memory; the decompressor's output is bounded by the
 * message limit, so a small message cannot inflate past it (a bomb is a
 * 1009, not an allocation). */
#ifndef BERTH_HTTP_WS_PMD_H
#define BERTH_HTTP_WS_PMD_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* The server's window, and the client's when its offer lets the server
 * choose: 4 KiB instead of zlib's 32 KiB, and a smaller hash (memLevel), so
 * a connection's compressor and decompressor cost ~50 KiB, not ~300 KiB
 * (10,000 WebSockets offering permessage-deflate must not take 3 GB).  An
 * offer of a smaller window is kept to. */
#define WS_PMD_BITS     12
#define WS_PMD_MEMLEVEL 5

/* what was agreed, from the server's side */
struct ws_pmd_conf {
    uint8_t server_no_ctx; /* the server resets its compressor after each message */
    uint8_t client_no_ctx; /* the client resets its own: so does our decompressor */
    uint8_t server_bits;   /* the server's LZ77 window, 8..15 (WS_PMD_BITS unless offered less) */
    uint8_t client_bits;   /* the client's, when the response says it (8..15); 0: not said, 15 */
};

/* Picks the first offer in a Sec-WebSocket-Extensions value v[0..n) that
 * this server can honour, and writes the response's value into resp (NUL-
 * terminated; server_max_window_bits always, client_max_window_bits when
 * the offer has it).  1: accepted; 0: none can be (offers of other extensions,
 * unknown or repeated parameters, bad values) — the connection then goes
 * on without compression. */
int ws_pmd_negotiate(const char *v, size_t n, struct ws_pmd_conf *c, char *resp, size_t rn);

struct ws_pmd;

/* server: our role (1 server, 0 client: the conf's sides swap).  NULL when
 * out of memory. */
struct ws_pmd *ws_pmd_new(const struct ws_pmd_conf *c, int server);
void ws_pmd_free(struct ws_pmd *z);

/* Compresses a whole message p[0..n) onto out, without the final
 * 00 00 ff ff.  0 or a negative code. */
int ws_pmd_deflate(struct ws_pmd *z, const void *p, size_t n, struct buf *out);

/* Decompresses a piece of a message onto out; last: the message's final
 * piece (the 00 00 ff ff tail is added).  0; -1009 when out would pass max
 * bytes; -1007 for data that is not deflate; -ENOMEM. */
int ws_pmd_inflate(struct ws_pmd *z, const void *p, size_t n, int last, struct buf *out,
                   size_t max);

#endif
