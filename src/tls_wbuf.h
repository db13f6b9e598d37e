/* tls_wbuf — a TLS connection's write side: the records of a large write
 * collected and sent together.
 *
 * OpenSSL hands each sealed record (at most 16 KiB of plaintext) to its
 * write BIO at once, which on a socket is a send per record.  tls_wbuf is a
 * filter BIO in front of the socket's: while collecting is on it keeps up
 * to four records and sends them together; otherwise (the handshake, small
 * writes, kTLS) bytes pass straight through.  Controls go to the socket
 * BIO, so OpenSSL can still turn kTLS on through it.  A connection holds a
 * buffer only while records wait; each thread keeps one spare between
 * large writes.  Thread-safety: a connection's filter belongs to one thread
 * at a time. */
#ifndef BERTH_TLS_WBUF_H
#define BERTH_TLS_WBUF_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

struct tls_wbuf;

/* Gives s the socket BIO of fd to read from and the filter in front of it
 * to write through; 1, or 0 when out of memory (s is left without BIOs). */
int tls_wbuf_attach(SSL *s, int fd);
/* s's filter, or NULL (made without one). */
struct tls_wbuf *tls_wbuf_of(SSL *s);

/* Collecting on (the records of a large write are kept) or off (an empty
 * buffer goes back to the thread's spare). */
void tls_wbuf_collect(struct tls_wbuf *w, int on);
/* Bytes of records waiting to be sent. */
size_t tls_wbuf_waiting(const struct tls_wbuf *w);
/* Sends what waits: 1 when nothing is left, 0 when the socket is full
 * (wait until writable), -1 on an error of the socket. */
int tls_wbuf_send(struct tls_wbuf *w);
/* The caller's own count of plaintext whose records still wait (set when a
 * write is answered with a wait; taken, and zeroed, by its retry). */
void tls_wbuf_owe(struct tls_wbuf *w, size_t n);
size_t tls_wbuf_take_owed(struct tls_wbuf *w);

/* Frees the calling thread's spare buffer (other threads' go when they end). */
void tls_wbuf_thread_free(void);
/* Records collected and the sends that carried them (process-wide). */
void tls_wbuf_stats(uint64_t *records, uint64_t *sends);

#endif
