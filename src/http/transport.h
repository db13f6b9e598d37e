/* transport — a connection's bytes in and out: the plain socket (recv, send
 * with MSG_MORE, sendfile: exactly the syscalls of plaintext HTTP/1.1) or
 * TLS over it (tls.h), with its handshake.  The protocol layer (conn.c)
 * calls nothing else on the socket.  With --proxy-protocol a preamble comes
 * first: the PROXY header, taken off the socket byte-exactly (MSG_PEEK), so
 * what follows it is read by TLS or HTTP as if the connection began there.
 *
 * Calls return bytes, -EAGAIN when they must wait for the event left in
 * t->rwant (reads, the handshake) or t->wwant (writes): LOOP_READ or
 * LOOP_WRITE, since a TLS read may need the socket writable and a write
 * readable; or another negative error. */
#ifndef BERTH_HTTP_TRANSPORT_H
#define BERTH_HTTP_TRANSPORT_H

#include "buf.h"

#include <stdint.h>
#include <sys/types.h>

struct tls_ctx;
struct tls_conn;
struct proxyproto;
struct proxyproto_addr;

struct transport {
    int fd;
    uint8_t handshaking;   /* TLS: no application bytes yet */
    uint8_t rwant, wwant;  /* the event reading (or the handshake) and writing wait for */
    struct tls_conn *tls;  /* NULL: plain socket */
    struct proxyproto *pp; /* the PROXY header still being read; NULL: none (or done) */
    /* bytes through this connection (the status table), and the worker's
     * totals (the metrics: read from other threads, so relaxed atomic
     * stores); tally NULL: none */
    uint64_t bytes_in, bytes_out;
    struct transport_tally *tally;
};

struct transport_tally {
    uint64_t in, out;
};

/* A plain socket or, with tls non-NULL, a TLS server connection over it;
 * proxy: a PROXY protocol header must come first (transport_preamble).
 * -ENOMEM. */
int transport_init(struct transport *t, int fd, struct tls_ctx *tls, int proxy);
/* Reads the PROXY header (never a byte past it).  1: done, *a says whose
 * connection this is (AF_UNSPEC: the socket's own peer); -EAGAIN: more must
 * arrive (wait for LOOP_READ); BERTH_EPROTO: not a valid header, or another
 * negative error (the peer closed: -ECONNRESET): close the connection. */
int transport_preamble(struct transport *t, struct proxyproto_addr *a);
/* 1: ready for application bytes (always, for a plain socket); -EAGAIN
 * while the handshake waits; another negative error when it failed. */
int transport_handshake(struct transport *t);
/* One read into p (0: the peer closed). */
ssize_t transport_recv(struct transport *t, void *p, size_t n);
/* Reads up to want bytes into the tail of b (buf_read_fd's contract). */
ssize_t transport_recv_buf(struct transport *t, struct buf *b, size_t want);
/* Sends p[0..n); more: a file transfer follows (MSG_MORE). */
ssize_t transport_send(struct transport *t, const void *p, size_t n, int more);
/* Sends up to n bytes of file fd from *off (advanced); 0: the file ended.
 * TLS without kTLS reads the file through buf (cap bytes). */
ssize_t transport_sendfile(struct transport *t, int fd, off_t *off, size_t n, char *buf,
                           size_t cap);
/* Whether bytes already arrived that no socket event will announce
 * (decrypted and held inside OpenSSL). */
int transport_pending(const struct transport *t);
/* "h2" or "http/1.1" when ALPN chose one, else "". */
const char *transport_alpn(const struct transport *t);
/* Ends our side (close_notify first for TLS, then a FIN) for a close in
 * stages: what arrives afterwards is read with transport_recv as plain
 * bytes, to be dropped.  0 or -errno. */
int transport_shutdown_write(struct transport *t);

/* Closes the socket: after close_notify, or abort: a reset, nothing more
 * said (a transfer cut short must not look complete). */
void transport_close(struct transport *t, int abort);

#endif
