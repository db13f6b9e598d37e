/* ws_client_conn — one WebSocket client connection of `berth echo --ws`
 * (its functions are wsc_*): TCP or TLS, the opening handshake (RFC 6455
 * §4.1, with permessage-deflate offered and its answer checked by
 * ws_client_pmd), the socket's reads and writes, and masked frames queued
 * for sending, compressed when permessage-deflate was agreed.  Incoming
 * frames are the caller's (ps and msg, the decompressor set in msg). */
#ifndef BERTH_WS_CLIENT_CONN_H
#define BERTH_WS_CLIENT_CONN_H

#include "buf.h"
#include "http/ws.h"
#include "http/ws_msg.h"
#include "ws_client.h"

#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/types.h>

#define WSC_RBUF 65536 /* a read's size */

struct wsc {
    int fd;
    SSL *ssl;
    struct ws_parser ps;
    struct ws_msg msg;
    struct buf in, out;
    struct ws_pmd *z;  /* permessage-deflate's codec when agreed, else NULL */
    struct buf zbuf;   /* a compressed message on its way into out */
    char ext[256];     /* the server's Sec-WebSocket-Extensions, "" for none */
    uint8_t pool[256]; /* mask keys, from getrandom in batches */
    size_t pool_left;
    uint8_t sent_close; /* our close frame went: no other follows it */
};

/* Formats why[0..n) and returns rc: "return wsc_failf(why, n, -1, ...)". */
int wsc_failf(char *why, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A TLS client context verifying against cacert (NULL: the system's roots)
 * unless insecure; NULL with why on failure. */
SSL_CTX *wsc_tls_ctx(const char *cacert, int insecure, char *why, size_t n);

/* Connects (ctx for wss://), and makes the opening handshake, blocking
 * within timeout_ms; offers permessage-deflate when d->on.  0, or a
 * negative code with why.  c is wsc_close'd by the caller either way. */
int wsc_open(struct wsc *c, SSL_CTX *ctx, const struct ws_url *u, const struct ws_deflate *d,
             int timeout_ms, char *why, size_t n);
void wsc_close(struct wsc *c);

/* One read or write: bytes, 0 at the end of the stream (reads), -EAGAIN,
 * or a negative code. */
ssize_t wsc_recv(struct wsc *c, void *p, size_t n);
ssize_t wsc_send(struct wsc *c, const void *p, size_t n);
/* Writes all of out, blocking (-ETIMEDOUT past the socket's timeout). */
int wsc_flush(struct wsc *c);

/* Appends a masked frame of p[0..n) to out; a text or binary one goes
 * compressed (RSV1) when permessage-deflate was agreed.  0 or a negative
 * code. */
int wsc_queue(struct wsc *c, int op, const void *p, size_t n);
/* A fresh mask key (4 bytes, valid until the next call); NULL on failure. */
const uint8_t *wsc_mask_key(struct wsc *c);

#endif
