/* ws_client_pmd — permessage-deflate (RFC 7692) from the client's side of
 * the handshake: the offer `berth echo --ws --ws-deflate` sends, and the
 * strict check of the server's answer (§5, §7.1) that turns it into the
 * agreement http/ws_pmd's codec runs with (its client role).  Pure: no I/O,
 * no allocation. */
#ifndef BERTH_WS_CLIENT_PMD_H
#define BERTH_WS_CLIENT_PMD_H

#include "http/ws_pmd.h"

#include <stddef.h>

/* What to offer; all zero: no offer. */
struct ws_deflate {
    int on;
    int server_max_window_bits; /* 8..15: the server's window asked for; 0: not asked */
    int client_max_window_bits; /* 8..15: ours at most; 0: offered without a value (the
                                   server may choose ours) */
    int server_no_context_takeover, client_no_context_takeover;
};

/* The Sec-WebSocket-Extensions value of the offer into out (NUL-
 * terminated).  0, or BERTH_EUSAGE for a window outside 8..15 or no room. */
int ws_client_pmd_offer(const struct ws_deflate *o, char *out, size_t n);

/* Checks the server's Sec-WebSocket-Extensions value v[0..n) (its fields
 * joined by ", ") against offer o.  1: permessage-deflate agreed, *c holds
 * the agreement (server_bits 15 when the server did not say; client_bits
 * what we may use, 0 for 15); 0: v holds no extension (the server declined:
 * no compression); BERTH_EPROTO with why (cause; fix) for an answer the
 * client must fail the connection on (RFC 7692 §5, §7.1): an extension not
 * offered, permessage-deflate twice, a parameter unknown, repeated, with a
 * bad value or one the offer did not allow (server_max_window_bits above
 * the one asked, client_max_window_bits above the one offered or without
 * a value), or a requested server_max_window_bits or
 * server_no_context_takeover left out.  (The offer always carries
 * client_max_window_bits: the server may always choose our window.) */
int ws_client_pmd_accept(const struct ws_deflate *o, const char *v, size_t n, struct ws_pmd_conf *c,
                         char *why, size_t wn);

#endif
