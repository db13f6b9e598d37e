/* ws_hs — the WebSocket opening handshake (RFC 6455 §4), both sides, pure:
 * a server's checks of the request's fields and what its 101 carries
 * (Sec-WebSocket-Accept, the subprotocol, permessage-deflate's answer), a
 * client's key and its check of the server's accept value. */
#ifndef BERTH_HTTP_WS_HS_H
#define BERTH_HTTP_WS_HS_H

#include "http/parse.h"
#include "http/ws_pmd.h"

#include <stddef.h>

#define WS_KEY_LEN    24 /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

struct ws_hs {
    int status;      /* on failure: 400 or 426 */
    const char *why; /* on failure: the cause and the fix, for the error page */
    char accept[WS_ACCEPT_LEN + 1];
    char protocol[64]; /* the subprotocol chosen, "" for none */
    int deflate;       /* permessage-deflate agreed: ext and pmd hold it */
    char
        ext[192]; /* the longest answer (every parameter, 2-digit windows) is 128 bytes and a NUL */
    struct ws_pmd_conf pmd;
};

/* Checks a request's fields h[0..nh) for an upgrade to WebSocket; get: the
 * method is GET; version: 11 for HTTP/1.1, 20 for an h2 extended CONNECT
 * (RFC 8441: no Upgrade, Connection or key is asked for, no accept made).  protocols: the server's
 * subprotocols, comma-separated in its order of preference (NULL: none);
 * deflate: whether to accept permessage-deflate.  0 with *hs filled, or
 * -1 with hs->status and hs->why: 426 when the client did not ask to
 * upgrade to WebSocket or speaks another version (the answer then carries
 * Upgrade: websocket or Sec-WebSocket-Version: 13), 400 otherwise. */
int ws_hs_check(int get, int version, const struct http_header *h, size_t nh, const char *protocols,
                int deflate, struct ws_hs *hs);

/* base64(SHA-1(key + the RFC's GUID)) into out (WS_ACCEPT_LEN + 1 bytes). */
int ws_hs_accept(const char *key, size_t n, char *out);
/* A fresh random key (WS_KEY_LEN + 1 bytes, NUL-terminated). 0 or -errno. */
int ws_hs_key(char *out);
/* Random bytes from the kernel (mask keys). 0 or -errno. */
int ws_random(void *p, size_t n);
/* 1 when s[0..n) (a comma-separated list) holds token tok, ASCII case ignored. */
int ws_hs_has_token(const char *s, size_t n, const char *tok);

#endif
