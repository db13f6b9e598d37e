/* The echo clients: one connection that sends, half-closes and prints what
 * comes back (seeds 000 and 003), and the multi-connection client of seed
 * 002 that drives many connections at once on the event loop. */
#include "echo.h"

#include "err.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK        (64 * 1024)
#define MAX_DATAGRAM 65507 /* the largest UDP payload over IPv4 */

static void where_str(const char *host, int port, char *out, size_t n)
{
    if (!host || !*host) host = "localhost";
    if (!strncmp(host, "unix:", 5))
        snprintf(out, n, "%s", host);
    else if (strchr(host, ':'))
        snprintf(out, n, "[%s]:%d", host, port);
    else
        snprintf(out, n, "%s:%d", host, port);
}

static int fail(char *why, size_t n, int rc, const char *fmt, const char *where)
{
    char what[400];
    snprintf(what, sizeof what, fmt, where);
    err_fmt(why, n, rc, what);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The connection was made, so a timeout is about the server, not the
 * network: say how far the exchange got. */
static int tcp_timeout(const struct echo_client_opt *o, const char *where, int wr_done,
                       unsigned long long sent, unsigned long long rcvd, char *why, size_t n)
{
    double t = o->timeout_ms / 1000.0;
    if (wr_done && rcvd >= sent)
        snprintf(why, n,
                 "%s: received the echo (%llu bytes), but the server did not close the "
                 "connection within %g s; raise --timeout if it is slow to close",
                 where, rcvd, t);
    else if (rcvd)
        snprintf(why, n,
                 "%s: received %llu of %llu bytes of the echo, then nothing for %g s; raise "
                 "--timeout if the server is slow",
                 where, rcvd, sent, t);
    else
        snprintf(why, n,
                 "no echo from %s: timed out after %g s without a byte back; is it an echo "
                 "server? raise --timeout to wait longer",
                 where, t);
    return -ETIMEDOUT;
}

/* Sends, half-closes and copies the echo to out_fd, all at once: a large
 * input must not deadlock against a server that stops reading until we read. */
static int client_tcp(const struct echo_client_opt *o, int fd, const char *where, char *why,
                      size_t n)
{
    static char in[CHUNK], back[CHUNK];
    const char *pend = o->data;
    size_t plen = o->data ? o->len : 0;
    int in_eof = o->data != NULL, wr_done = 0, rc;
    unsigned long long sent = 0, rcvd = 0; /* to say what a timeout cut short */

    if ((rc = net_set_nonblock(fd, 1)) < 0) return fail(why, n, rc, "%s", where);
    for (;;) {
        if (!wr_done && !plen && in_eof) {
            shutdown(fd, SHUT_WR); /* "that was all": the server's cue to finish */
            wr_done = 1;
        }
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN | (plen ? POLLOUT : 0)},
                              {.fd = o->in_fd, .events = POLLIN}};
        int nfds = !in_eof && !plen ? 2 : 1;
        int r = poll(p, (nfds_t)nfds, o->timeout_ms > 0 ? o->timeout_ms : -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail(why, n, -errno, "%s", where);
        if (r == 0) return tcp_timeout(o, where, wr_done, sent, rcvd, why, n);
        if (nfds == 2 && p[1].revents) {
            ssize_t got = read(o->in_fd, in, sizeof in);
            if (got < 0 && errno != EINTR && errno != EAGAIN)
                return fail(why, n, -errno, "cannot read %s", "standard input");
            if (got == 0) in_eof = 1;
            if (got > 0) pend = in, plen = (size_t)got;
        }
        if (p[0].revents & POLLOUT) {
            ssize_t w = send(fd, pend, plen, MSG_NOSIGNAL);
            if (w < 0 && errno != EINTR && errno != EAGAIN)
                return fail(why, n, -errno, "cannot send to %s", where);
            if (w > 0) pend += w, plen -= (size_t)w, sent += (size_t)w;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = recv(fd, back, sizeof back, 0);
            if (got == 0) return 0;
            if (got < 0 && errno != EINTR && errno != EAGAIN)
                return fail(why, n, -errno, "cannot receive from %s", where);
            if (got > 0 && (rc = write_all(o->out_fd, back, (size_t)got)) < 0)
                return fail(why, n, rc, "cannot write %s", "standard output");
            if (got > 0) rcvd += (size_t)got;
        }
    }
}

/* One datagram out, one back. */
static int client_udp(const struct echo_client_opt *o, int fd, const char *where, char *why,
                      size_t n)
{
    static char data[MAX_DATAGRAM + 1], back[65536];
    const char *msg = o->data;
    size_t len = o->len;
    int rc;
    if (!msg) {
        len = 0;
        for (;;) {
            ssize_t got = read(o->in_fd, data + len, sizeof data - len);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return fail(why, n, -errno, "cannot read %s", "standard input");
            if (got == 0) break;
            len += (size_t)got;
            if (len > MAX_DATAGRAM)
                return fail(why, n, -EMSGSIZE, "%s", "input is larger than one UDP datagram");
        }
        msg = data;
    }
    if (len > MAX_DATAGRAM)
        return fail(why, n, -EMSGSIZE, "%s", "message is larger than one UDP datagram");
    if (send(fd, msg, len, MSG_NOSIGNAL) < 0)
        return fail(why, n, -errno, "cannot send to %s", where);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, o->timeout_ms > 0 ? o->timeout_ms : -1)) < 0 && errno == EINTR)
        ;
    if (r < 0) return fail(why, n, -errno, "%s", where);
    if (r == 0) return fail(why, n, -ETIMEDOUT, "no echo from %s", where);
    ssize_t got = recv(fd, back, sizeof back, MSG_DONTWAIT);
    if (got < 0) return fail(why, n, -errno, "no echo from %s", where);
    if ((rc = write_all(o->out_fd, back, (size_t)got)) < 0)
        return fail(why, n, rc, "cannot write %s", "standard output");
    return 0;
}

int echo_client_run(const struct echo_client_opt *o, char *why, size_t n)
{
    char where[300];
    where_str(o->host, o->port, where, sizeof where);
    int fd = net_connect(o->host, o->port, o->udp ? SOCK_DGRAM : SOCK_STREAM, o->timeout_ms, NULL);
    if (fd < 0) return fail(why, n, fd, "cannot connect to %s", where);
    int rc = o->udp ? client_udp(o, fd, where, why, n) : client_tcp(o, fd, where, why, n);
    close(fd);
    return rc;
}

/* ---- the multi-connection client ---- */

struct mrun;

struct mconn {
    struct mrun *m;
    int fd, idx;
    int wr_done;
    unsigned long long sent, rcvd;
};

struct mrun {
    const struct echo_multi_opt *o;
    struct loop *l;
    struct mconn *cs;
    int left; /* connections not yet finished */
    unsigned long long total, bytes;
    uint64_t last_progress;
    struct loop_timer idle;
    int rc;
    char *why;
    size_t n;
    char scratch[CHUNK];
};

/* What the connections send: byte k of connection idx is
 * pat[(k + idx * 97) % PERIOD].  The period is a prime, so no chunk size
 * lines up with it: lost, repeated, reordered or crossed bytes all show.
 * The table is stored twice over, so any PERIOD bytes from any phase are
 * contiguous: sends go straight from it and checks are memcmp. */
#define PERIOD 65521
static unsigned char pat[2 * PERIOD];

static void pattern_init(void)
{
    uint32_t x = 2463534242u; /* xorshift32: cheap, and no byte value is favoured */
    for (size_t i = 0; i < PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = pat[i + PERIOD] = (unsigned char)(x >> 24);
    }
}

static const unsigned char *pattern_at(int idx, unsigned long long k)
{
    return pat + (k + (unsigned long long)idx * 97) % PERIOD;
}

static void mfail(struct mrun *m, int rc, const char *fmt, int idx, unsigned long long a,
                  unsigned long long b, unsigned long long c)
{
    char what[300];
    if (m->rc == 0) {
        snprintf(what, sizeof what, fmt, idx, a, b, c);
        err_fmt(m->why, m->n, rc, what);
        m->rc = rc;
    }
    loop_stop(m->l);
}

static void mconn_close(struct mconn *c)
{
    loop_io_del(c->m->l, c->fd);
    close(c->fd);
    c->fd = -1;
    if (--c->m->left == 0) loop_stop(c->m->l);
}

static void mconn_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    struct mconn *c = arg;
    struct mrun *m = c->m;
    unsigned long long total = m->total;

    if ((events & LOOP_WRITE) && !c->wr_done) {
        size_t want = total - c->sent < PERIOD ? (size_t)(total - c->sent) : PERIOD;
        ssize_t w = want ? send(fd, pattern_at(c->idx, c->sent), want, MSG_NOSIGNAL) : 0;
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            mfail(m, -errno, "connection %d: send failed after %llu bytes", c->idx, c->sent, 0, 0);
            return;
        }
        if (w > 0) {
            c->sent += (size_t)w;
            m->last_progress = loop_now(l);
        }
        if (c->sent == total) {
            shutdown(fd, SHUT_WR);
            c->wr_done = 1;
            loop_io_set(l, fd, LOOP_READ, mconn_cb, c);
        }
    }
    if (events & (LOOP_READ | LOOP_HUP)) {
        ssize_t got = recv(fd, m->scratch, CHUNK, 0);
        if (got < 0 && errno != EAGAIN && errno != EINTR) {
            mfail(m, -errno, "connection %d: receive failed after %llu bytes", c->idx, c->rcvd, 0,
                  0);
            return;
        }
        if (got == 0) {
            if (c->rcvd != total) {
                mfail(m, BERTH_EOF,
                      "connection %d: the server closed after echoing %llu of %llu bytes", c->idx,
                      c->rcvd, total, 0);
                return;
            }
            mconn_close(c);
            return;
        }
        if (got > 0) {
            if (c->rcvd + (size_t)got > total) {
                mfail(m, BERTH_EPROTO, "connection %d: %llu bytes came back, %llu sent", c->idx,
                      c->rcvd + (size_t)got, total, 0);
                return;
            }
            for (size_t off = 0; off < (size_t)got; off += PERIOD) {
                size_t len = (size_t)got - off < PERIOD ? (size_t)got - off : PERIOD;
                const unsigned char *want = pattern_at(c->idx, c->rcvd + off);
                const unsigned char *back = (const unsigned char *)m->scratch + off;
                if (!memcmp(back, want, len)) continue;
                size_t i = 0;
                while (back[i] == want[i])
                    i++;
                mfail(m, BERTH_EPROTO, "connection %d: echoed byte %llu is 0x%02llx, sent 0x%02llx",
                      c->idx, c->rcvd + off + i, back[i], want[i]);
                return;
            }
            c->rcvd += (size_t)got;
            m->bytes += (size_t)got;
            m->last_progress = loop_now(l);
        }
    }
}

static void midle_cb(struct loop *l, struct loop_timer *t)
{
    struct mrun *m = (struct mrun *)((char *)t - offsetof(struct mrun, idle));
    uint64_t quiet = loop_now(l) - m->last_progress;
    if (quiet >= (uint64_t)m->o->timeout_ms) {
        char what[300];
        snprintf(what, sizeof what, "%d of %d connections made no progress for %d ms", m->left,
                 m->o->connections, m->o->timeout_ms);
        err_fmt(m->why, m->n, -ETIMEDOUT, what);
        m->rc = -ETIMEDOUT;
        loop_stop(l);
        return;
    }
    loop_timer_set(l, t, (uint64_t)m->o->timeout_ms - quiet, midle_cb);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int echo_multi_run(const struct echo_multi_opt *o, struct echo_multi_result *r, char *why, size_t n)
{
    char where[300];
    int rc = 0, opened = 0;
    struct mrun *m = calloc(1, sizeof *m);
    if (!m) return fail(why, n, -ENOMEM, "%s", "multi-connection client");
    memset(r, 0, sizeof *r);
    where_str(o->host, o->port, where, sizeof where);
    if (!pat[0] && !pat[1]) pattern_init();
    m->o = o;
    m->why = why;
    m->n = n;
    m->total = (unsigned long long)o->messages * o->size;
    m->cs = calloc((size_t)(o->connections > 0 ? o->connections : 1), sizeof *m->cs);
    m->l = loop_new();
    if (!m->cs || !m->l) {
        rc = fail(why, n, -ENOMEM, "%s", "multi-connection client");
        goto out;
    }

    double t0 = now_s();
    for (int i = 0; i < o->connections; i++) {
        struct mconn *c = &m->cs[i];
        c->m = m;
        c->idx = i;
        c->fd = net_connect(o->host, o->port, SOCK_STREAM, o->timeout_ms, NULL);
        if (c->fd < 0) {
            rc = fail(why, n, c->fd, "cannot connect to %s", where);
            goto out;
        }
        opened++;
        m->left++;
        if ((rc = net_set_nonblock(c->fd, 1)) < 0 ||
            (rc = loop_io_set(m->l, c->fd, LOOP_READ | LOOP_WRITE, mconn_cb, c)) < 0) {
            fail(why, n, rc, "connection to %s", where);
            goto out;
        }
    }
    if (m->left) {
        m->last_progress = loop_now(m->l);
        if (o->timeout_ms > 0) loop_timer_set(m->l, &m->idle, (uint64_t)o->timeout_ms, midle_cb);
        rc = loop_run(m->l);
        if (rc < 0)
            fail(why, n, rc, "%s", "event loop");
        else if (m->rc < 0)
            rc = m->rc;
        else if (m->left)
            rc = fail(why, n, BERTH_EOF, "%s", "connections left unfinished");
    }
    r->connections = o->connections;
    r->bytes = m->bytes;
    r->seconds = now_s() - t0;
out:
    for (int i = 0; i < opened; i++)
        if (m->cs[i].fd >= 0) {
            if (m->l) loop_io_del(m->l, m->cs[i].fd);
            close(m->cs[i].fd);
        }
    if (m->l) {
        loop_timer_stop(m->l, &m->idle);
        loop_free(m->l);
    }
    free(m->cs);
    free(m);
    return rc;
}
