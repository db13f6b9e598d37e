/* transport — plain socket or TLS under one connection (see transport.h).
 * The plain branch is first and is the syscalls conn.c always made. */
#include "http/transport.h"

#include "err.h"
#include "http/proxyproto.h"
#include "loop.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Counts r bytes (when positive) in and out of the connection and its
 * worker: plain adds on this thread, stores other threads may load. */
static void count(struct transport *t, uint64_t *mine, int out, ssize_t r)
{
    if (r <= 0) return;
    *mine += (uint64_t)r;
    if (!t->tally) return;
    uint64_t *tot = out ? &t->tally->out : &t->tally->in;
    __atomic_store_n(tot, __atomic_load_n(tot, __ATOMIC_RELAXED) + (uint64_t)r, __ATOMIC_RELAXED);
}

int transport_init(struct transport *t, int fd, struct tls_ctx *tls, int proxy)
{
    t->fd = fd;
    t->bytes_in = t->bytes_out = 0;
    t->tally = NULL;
    t->rwant = LOOP_READ;
    t->wwant = LOOP_WRITE;
    t->handshaking = 0;
    t->tls = NULL;
    t->pp = NULL;
    if (proxy) {
        /* only while the header is read: a few hundred bytes per new connection */
        t->pp = malloc(sizeof *t->pp);
        if (!t->pp) return -ENOMEM;
        proxyproto_init(t->pp);
    }
    if (!tls) return 0;
    t->tls = tls_conn_new(tls, fd);
    if (!t->tls) {
        free(t->pp);
        t->pp = NULL;
        return -ENOMEM;
    }
    t->handshaking = 1;
    return 0;
}

int transport_preamble(struct transport *t, struct proxyproto_addr *a)
{
    /* peek, let the parser say how much is header, take exactly that: the
     * request (or ClientHello) behind it stays in the socket for whoever
     * reads next.  Bytes of an unfinished header are all taken, so a level-
     * triggered wait for more never spins on them. */
    uint8_t tmp[2048];
    for (;;) {
        ssize_t r;
        do
            r = recv(t->fd, tmp, sizeof tmp, MSG_PEEK);
        while (r < 0 && errno == EINTR);
        if (r < 0) return -errno;
        if (r == 0) return -ECONNRESET; /* closed before its header ended */
        size_t used = 0;
        int rc = proxyproto_feed(t->pp, tmp, (size_t)r, &used, a);
        if (rc < 0) return rc;
        if (used) {
            ssize_t k;
            do
                k = recv(t->fd, tmp, used, 0);
            while (k < 0 && errno == EINTR);
            if (k != (ssize_t)used) return k < 0 ? -errno : -EIO; /* cannot happen: peeked */
        }
        if (rc == 1) {
            free(t->pp);
            t->pp = NULL;
            return 1;
        }
    }
}

/* the loop's event for tls.h's wait (a call that did not wait leaves the
 * usual one: a write that stopped at a slice waits for writability) */
static uint8_t tls_event(ssize_t r, unsigned want, uint8_t usual)
{
    if (r != TLS_WAIT) return usual;
    return want == TLS_WANT_WRITE ? LOOP_WRITE : LOOP_READ;
}

int transport_handshake(struct transport *t)
{
    if (!t->handshaking) return 1;
    unsigned want = 0;
    int r = tls_handshake(t->tls, &want);
    t->rwant = tls_event(r, want, LOOP_READ);
    if (r == 1) t->handshaking = 0;
    return r;
}

static ssize_t recv_raw(struct transport *t, void *p, size_t n)
{
    if (!t->tls) {
        ssize_t r;
        do
            r = recv(t->fd, p, n, 0);
        while (r < 0 && errno == EINTR);
        return r >= 0 ? r : -errno;
    }
    unsigned want = 0;
    ssize_t r = tls_read(t->tls, p, n, &want);
    t->rwant = tls_event(r, want, LOOP_READ);
    return r;
}

ssize_t transport_recv_buf(struct transport *t, struct buf *b, size_t want)
{
    if (!t->tls) {
        ssize_t r = buf_read_fd(b, t->fd, want);
        count(t, &t->bytes_in, 0, r);
        return r;
    }
    if (b->max && want > b->max - b->len) want = b->max - b->len;
    if (want == 0) return BERTH_ETOOBIG;
    int rc = buf_reserve(b, want);
    if (rc < 0) return rc;
    ssize_t r = transport_recv(t, buf_tail(b), buf_room(b));
    if (r > 0) buf_commit(b, (size_t)r);
    return r;
}

static ssize_t send_raw(struct transport *t, const void *p, size_t n, int more)
{
    if (!t->tls) {
        ssize_t r;
        do
            r = send(t->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        while (r < 0 && errno == EINTR);
        return r >= 0 ? r : -errno;
    }
    unsigned want = 0;
    ssize_t r = tls_write(t->tls, p, n, &want);
    t->wwant = tls_event(r, want, LOOP_WRITE);
    return r;
}

static ssize_t sendfile_raw(struct transport *t, int fd, off_t *off, size_t n, char *buf,
                            size_t cap)
{
    if (!t->tls) {
        ssize_t r;
        do
            r = sendfile(t->fd, fd, off, n);
        while (r < 0 && errno == EINTR);
        return r >= 0 ? r : -errno;
    }
    unsigned want = 0;
    ssize_t r = tls_sendfile(t->tls, fd, *off, n, buf, cap, &want);
    t->wwant = tls_event(r, want, LOOP_WRITE);
    if (r > 0) *off += r;
    return r;
}

ssize_t transport_recv(struct transport *t, void *p, size_t n)
{
    ssize_t r = recv_raw(t, p, n);
    count(t, &t->bytes_in, 0, r);
    return r;
}

ssize_t transport_send(struct transport *t, const void *p, size_t n, int more)
{
    ssize_t r = send_raw(t, p, n, more);
    count(t, &t->bytes_out, 1, r);
    return r;
}

ssize_t transport_sendfile(struct transport *t, int fd, off_t *off, size_t n, char *buf, size_t cap)
{
    ssize_t r = sendfile_raw(t, fd, off, n, buf, cap);
    count(t, &t->bytes_out, 1, r);
    return r;
}

int transport_pending(const struct transport *t)
{
    return t->tls && !t->handshaking && tls_pending(t->tls);
}

const char *transport_alpn(const struct transport *t)
{
    return t->tls && !t->handshaking ? tls_alpn(t->tls) : "";
}

int transport_shutdown_write(struct transport *t)
{
    if (t->tls) tls_conn_free(t->tls, 0); /* close_notify; the rest is raw bytes */
    t->tls = NULL;
    t->handshaking = 0;
    return shutdown(t->fd, SHUT_WR) < 0 ? -errno : 0;
}

void transport_close(struct transport *t, int abort)
{
    free(t->pp);
    t->pp = NULL;
    if (t->tls) tls_conn_free(t->tls, abort);
    t->tls = NULL;
    close(t->fd);
    t->fd = -1;
}
