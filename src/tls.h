/* tls — TLS for a server over OpenSSL 3, and nothing of HTTP.
 *
 * A tls_ctx is the server's side: certificate chain and key (PEM files, or
 * an in-memory self-signed ECDSA P-256 pair), TLS 1.2 and 1.3 only, a
 * modern cipher list, a server session cache for resumption, ALPN.  Reload
 * swaps in a new pair for new handshakes; open connections keep theirs.
 *
 * A tls_conn is one connection's TLS over a non-blocking socket: each call
 * returns bytes (or 1 for a finished handshake), TLS_WAIT when it must wait
 * for the event left in *want (TLS_WANT_READ or TLS_WANT_WRITE), or a
 * negative error.  Thread-safety: a ctx is shared by every worker (reload
 * from any thread); a conn belongs to one thread. */
#ifndef BERTH_TLS_H
#define BERTH_TLS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_ctx;
struct tls_conn;

struct tls_conf {
    const char *cert, *key; /* PEM files (cert may hold the chain; key NULL: cert holds it too) */
    const char *password_file; /* the passphrase of an encrypted key, read at each load */
    int self_signed;           /* instead: generate a certificate in memory */
    const char *host;          /* self-signed: the bind address, also named in it */
    int no_h2;                 /* ALPN offers http/1.1 only */
};

enum { TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };
#define TLS_WAIT (-EAGAIN) /* wait for the event in *want */

/* Builds a server context.  On failure returns a negative code and writes
 * "cause; fix" into err.  A warning (an expired certificate) that does not
 * stop it is written into warn ("" when none). */
int tls_ctx_new(struct tls_ctx **out, const struct tls_conf *conf, char *err, size_t errlen,
                char *warn, size_t warnlen);
/* Loads the files again (SIGHUP): 0 and new handshakes use the new pair, or
 * a negative code, the message in err, and the old pair stays.  1 when there
 * is nothing to reload (self-signed). */
int tls_ctx_reload(struct tls_ctx *t, char *err, size_t errlen, char *warn, size_t warnlen);
/* The SHA-256 of the certificate's public key (SPKI), base64: what
 * chromium --ignore-certificate-errors-spki-list= takes. */
const char *tls_ctx_spki(const struct tls_ctx *t);
void tls_ctx_free(struct tls_ctx *t);

/* A server connection over socket fd (not owned); NULL when out of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd);
/* 1: handshake done; TLS_WAIT; or a negative error (not TLS, a bad
 * handshake). */
int tls_handshake(struct tls_conn *c, unsigned *want);
/* Reads up to n bytes (several records, as long as OpenSSL holds more:
 * what is still in the socket is left for its next readable event); 0 at
 * the peer's close. */
ssize_t tls_read(struct tls_conn *c, void *p, size_t n, unsigned *want);
/* Writes up to n bytes; a TLS_WAIT write is retried with the same bytes
 * (they may have moved).  Without kTLS the records of a write over 16 KiB
 * are sealed into a per-connection buffer (at most four records, held only
 * while it has bytes) and sent together; bytes are reported written only
 * once their records have left, so a wait may come after OpenSSL took the
 * bytes, and the retry then reports them. */
ssize_t tls_write(struct tls_conn *c, const void *p, size_t n, unsigned *want);
/* Sends n bytes of file fd at off: with kTLS by SSL_sendfile when the kernel
 * took the keys, else by pread into buf (cap bytes) and tls_write.  0 when
 * the file ended early. */
ssize_t tls_sendfile(struct tls_conn *c, int fd, off_t off, size_t n, char *buf, size_t cap,
                     unsigned *want);
/* Whether decrypted bytes wait inside OpenSSL (no socket event will come). */
int tls_pending(const struct tls_conn *c);
/* The protocol ALPN chose: "h2", "http/1.1", or "" (none). */
const char *tls_alpn(const struct tls_conn *c);
/* Whether sends of c go through kTLS (the kernel encrypts). */
int tls_ktls_send(const struct tls_conn *c);
/* Sends close_notify unless abort (best effort) and frees c. */
void tls_conn_free(struct tls_conn *c, int abort);

/* File transfers so far by path: kTLS SSL_sendfile calls and pread+write
 * fallback calls (process-wide). */
void tls_sendfile_stats(uint64_t *ktls, uint64_t *copy);
/* Records collected for sending together, and the sends that carried them
 * (process-wide). */
void tls_write_stats(uint64_t *records, uint64_t *sends);

#endif
