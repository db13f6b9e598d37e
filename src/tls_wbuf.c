/* tls_wbuf — collecting a large write's TLS records into fewer sends (see
 * tls_wbuf.h).  Why: each send of a 16 KiB record costs a syscall and a
 * TCP segment; four records in one send cost one.  The price is a copy of
 * the records, which stay hot in the cache between OpenSSL's seal and it. */
#include "tls_wbuf.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WBUF_CAP (4 * (16384 + 256)) /* four full records with their overhead */

static _Atomic uint64_t wbuf_records, wbuf_sends;

struct tls_wbuf {
    char *p;
    size_t len;  /* ciphertext waiting to be sent */
    size_t owed; /* plaintext bytes accepted whose records are not all sent */
    int on;      /* inside a large tls_write: collect */
    long ktls;   /* the socket BIO's answer to BIO_CTRL_GET_KTLS_SEND */
    BIO *bio;    /* the filter itself */
};

static BIO_METHOD *wbuf_meth;
static int wbuf_type;
static pthread_once_t wbuf_once = PTHREAD_ONCE_INIT;

/* Each thread keeps one spare buffer between large writes: a buffer
 * malloc'd and freed per write sits at the heap's top, and freeing it
 * would give the memory back to the kernel (brk) only to take it again at
 * the next write — two syscalls per write, more than collecting saves.
 * The spare is freed when its thread ends (the key's destructor) and by
 * tls_wbuf_thread_free. */
static pthread_key_t wbuf_key;
static int wbuf_key_ok;

static char *wbuf_get(void)
{
    char *p = wbuf_key_ok ? pthread_getspecific(wbuf_key) : NULL;
    if (!p) return malloc(WBUF_CAP);
    pthread_setspecific(wbuf_key, NULL);
    return p;
}

static void wbuf_put(char *p)
{
    if (p && wbuf_key_ok && !pthread_getspecific(wbuf_key) && pthread_setspecific(wbuf_key, p) == 0)
        return;
    free(p);
}

void tls_wbuf_thread_free(void)
{
    if (!wbuf_key_ok) return;
    free(pthread_getspecific(wbuf_key));
    pthread_setspecific(wbuf_key, NULL);
}

/* Sends what waits; 1 when nothing is left, else -1 with the socket BIO's
 * retry state copied (a wait) or not (an error). */
static int wbuf_drain(BIO *b)
{
    struct tls_wbuf *w = BIO_get_data(b);
    BIO *next = BIO_next(b);
    size_t off = 0;
    BIO_clear_retry_flags(b); /* BIO_copy_next_retry adds flags, never clears them */
    while (off < w->len) {
        int r = BIO_write(next, w->p + off, (int)(w->len - off));
        if (r <= 0) {
            BIO_copy_next_retry(b);
            memmove(w->p, w->p + off, w->len - off);
            w->len -= off;
            return -1;
        }
        off += (size_t)r;
        wbuf_sends++;
    }
    w->len = 0;
    if (!w->on) {
        wbuf_put(w->p);
        w->p = NULL;
    }
    return 1;
}

/* straight to the socket BIO: only when nothing waits in the filter */
static int wbuf_pass(BIO *b, const char *data, int n)
{
    int r = BIO_write(BIO_next(b), data, n);
    BIO_copy_next_retry(b);
    return r;
}

static int wbuf_write(BIO *b, const char *data, int n)
{
    struct tls_wbuf *w = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (n <= 0) return 0;
    if (!w->on && !w->len) return wbuf_pass(b, data, n); /* nothing collected, nothing to collect */
    /* no room: what waits goes first, all of it (else a wait, or the error) */
    if (WBUF_CAP - w->len < (size_t)n && wbuf_drain(b) < 0) return -1;
    /* a write larger than the buffer, or no memory for one: sent as it is,
     * behind nothing (the buffer is empty whenever either holds) */
    if (WBUF_CAP - w->len < (size_t)n || (!w->p && !(w->p = wbuf_get())))
        return wbuf_pass(b, data, n);
    memcpy(w->p + w->len, data, (size_t)n);
    w->len += (size_t)n;
    wbuf_records++;
    return n;
}

static int wbuf_read(BIO *b, char *data, int n)
{
    BIO_clear_retry_flags(b);
    int r = BIO_read(BIO_next(b), data, n);
    BIO_copy_next_retry(b);
    return r;
}

static long wbuf_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct tls_wbuf *w = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        BIO_clear_retry_flags(b);
        if (w->len && wbuf_drain(b) < 0) return -1;
        break;
    case BIO_CTRL_WPENDING:
        return (long)w->len + BIO_ctrl(BIO_next(b), cmd, num, ptr);
    case BIO_CTRL_GET_KTLS_SEND:
        /* asked several times per record: answered from what the socket
         * BIO said after the last other control, as kTLS only turns on by
         * one (BIO_set_ktls) and every one passes here */
        return w->ktls;
    }
    /* everything else (the descriptor, kTLS, EOF, flush) is the socket's */
    long r = BIO_ctrl(BIO_next(b), cmd, num, ptr);
    w->ktls = BIO_ctrl(BIO_next(b), BIO_CTRL_GET_KTLS_SEND, 0, NULL);
    return r;
}

static int wbuf_create(BIO *b)
{
    struct tls_wbuf *w = calloc(1, sizeof *w);
    if (!w) return 0;
    w->bio = b;
    BIO_set_data(b, w);
    BIO_set_init(b, 1);
    return 1;
}

static int wbuf_destroy(BIO *b)
{
    struct tls_wbuf *w = BIO_get_data(b);
    if (w) wbuf_put(w->p);
    free(w);
    BIO_set_data(b, NULL);
    return 1;
}

/* the method lives as long as OpenSSL does: freed by its cleanup at exit */
static void wbuf_meth_free(void)
{
    tls_wbuf_thread_free();
    BIO_meth_free(wbuf_meth);
    wbuf_meth = NULL;
}

static void wbuf_meth_init(void)
{
    wbuf_key_ok = pthread_key_create(&wbuf_key, free) == 0;
    wbuf_type = BIO_get_new_index() | BIO_TYPE_FILTER;
    BIO_METHOD *m = BIO_meth_new(wbuf_type, "berth record coalescer");
    if (m && BIO_meth_set_write(m, wbuf_write) && BIO_meth_set_read(m, wbuf_read) &&
        BIO_meth_set_ctrl(m, wbuf_ctrl) && BIO_meth_set_create(m, wbuf_create) &&
        BIO_meth_set_destroy(m, wbuf_destroy) && OPENSSL_atexit(wbuf_meth_free)) {
        wbuf_meth = m;
        return;
    }
    BIO_meth_free(m);
}

int tls_wbuf_attach(SSL *s, int fd)
{
    pthread_once(&wbuf_once, wbuf_meth_init);
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *f = wbuf_meth && sock ? BIO_new(wbuf_meth) : NULL;
    if (!f || !BIO_up_ref(sock)) {
        BIO_free(f);
        BIO_free(sock);
        return SSL_set_fd(s, fd); /* without the filter: still correct */
    }
    BIO_push(f, sock);
    SSL_set_bio(s, sock, f); /* s owns a reference to each: sock is in f's chain too */
    return 1;
}

static BIO *wbuf_bio_of(SSL *s)
{
    return wbuf_meth ? BIO_find_type(SSL_get_wbio(s), wbuf_type) : NULL;
}

struct tls_wbuf *tls_wbuf_of(SSL *s)
{
    BIO *b = wbuf_bio_of(s);
    return b ? BIO_get_data(b) : NULL;
}

void tls_wbuf_collect(struct tls_wbuf *w, int on)
{
    w->on = on;
    if (!on && !w->len) {
        wbuf_put(w->p);
        w->p = NULL;
    }
}

size_t tls_wbuf_waiting(const struct tls_wbuf *w)
{
    return w->len;
}

int tls_wbuf_send(struct tls_wbuf *w)
{
    if (wbuf_drain(w->bio) > 0) return 1;
    return BIO_should_retry(w->bio) ? 0 : -1;
}

void tls_wbuf_owe(struct tls_wbuf *w, size_t n)
{
    w->owed = n;
}

size_t tls_wbuf_take_owed(struct tls_wbuf *w)
{
    size_t n = w->owed;
    w->owed = 0;
    return n;
}

void tls_wbuf_stats(uint64_t *records, uint64_t *sends)
{
    *records = wbuf_records;
    *sends = wbuf_sends;
}
