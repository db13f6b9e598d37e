/* ws_client — `berth echo --ws` (see ws_client.h).  The handshake is made
 * blocking (with the timeout on the socket); the many-connection run then
 * switches to non-blocking sockets on the event loop. */
#include "ws_client.h"

#include "buf.h"
#include "err.h"
#include "http/ws.h"
#include "http/ws_msg.h"
#include "loop.h"
#include "net.h"
#include "ws_client_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RBUF WSC_RBUF

int ws_url_parse(const char *url, struct ws_url *u)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (!strncasecmp(url, "ws://", 5)) {
        p = url + 5;
        u->port = 80;
    } else if (!strncasecmp(url, "wss://", 6)) {
        p = url + 6;
        u->port = 443;
        u->tls = 1;
    } else {
        return BERTH_EUSAGE;
    }
    const char *h = p, *he;
    if (*p == '[') {
        he = strchr(p, ']');
        if (!he) return BERTH_EUSAGE;
        h = p + 1;
        p = he + 1;
    } else {
        p += strcspn(p, ":/?#");
        he = p;
    }
    if (he == h || (size_t)(he - h) >= sizeof u->host) return BERTH_EUSAGE;
    memcpy(u->host, h, (size_t)(he - h));
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) return BERTH_EUSAGE;
        u->port = (int)port;
        p = end;
    }
    if (strchr(p, '#')) return BERTH_EUSAGE; /* RFC 6455 §3: no fragment */
    if (*p && *p != '/' && *p != '?') return BERTH_EUSAGE;
    int n = snprintf(u->path, sizeof u->path, "%s%s", *p == '/' ? "" : "/", p);
    return n > 0 && (size_t)n < sizeof u->path ? 0 : BERTH_EUSAGE;
}

/* Sends a close frame (code 0: an empty one) unless ours went already: the
 * answer to the server's close (RFC 6455 §5.5.1), or the code a failure is
 * sent with (§7.1.7).  Best effort: the connection ends either way. */
static void send_close(struct wsc *c, int code)
{
    if (c->sent_close) return;
    c->sent_close = 1;
    const uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    if (wsc_queue(c, WS_CLOSE, p, code ? 2 : 0) == 0) (void)wsc_flush(c);
}

/* After the closing handshake the server closes TCP first (§7.1.1): waits
 * for its end of stream, bounded by the socket's timeout. */
static void wait_eof(struct wsc *c)
{
    char tmp[256];
    for (int i = 0; i < 64 && wsc_recv(c, tmp, sizeof tmp) > 0; i++)
        ;
}

/* Reads until a whole message (1: op, p and len set), the server's close (0,
 * with code; answered), or an error (sent as a close with its code).  Pings
 * are answered. */
static int next_event(struct wsc *c, int *op, const uint8_t **p, size_t *len, int *code, char *why,
                      size_t n)
{
    for (;;) {
        while (buf_len(&c->in)) {
            struct ws_ev ev;
            size_t used;
            int rc =
                ws_parse(&c->ps, (uint8_t *)c->in.data + c->in.off, buf_len(&c->in), &used, &ev);
            buf_consume(&c->in, used);
            if (rc < 0) {
                send_close(c, -rc);
                return wsc_failf(why, n, BERTH_EPROTO, "the server broke the protocol: %s",
                                 c->ps.error);
            }
            if (rc == 0) break;
            if (ev.type == WS_EV_DATA) {
                rc = ws_msg_feed(&c->msg, &ev, op, p, len);
                if (rc < 0) {
                    send_close(c, rc == -WS_BAD_DATA  ? WS_BAD_DATA
                                  : rc == -WS_TOO_BIG ? WS_TOO_BIG
                                                      : WS_INTERNAL);
                    return wsc_failf(why, n, BERTH_EPROTO, "the server sent %s",
                                     rc == -WS_BAD_DATA ? "text that is not UTF-8"
                                                        : "a bad message");
                }
                if (rc == 1) return 1;
            } else if (ev.op == WS_PING) {
                if ((rc = wsc_queue(c, WS_PONG, ev.p, ev.n)) < 0 || (rc = wsc_flush(c)) < 0)
                    return wsc_failf(why, n, rc, "cannot answer a ping: %s", err_str(rc));
            } else if (ev.op == WS_CLOSE) {
                if ((rc = ws_close_check(ev.p, ev.n, code)) < 0) {
                    send_close(c, -rc);
                    return wsc_failf(why, n, BERTH_EPROTO,
                                     "the server sent a malformed close frame");
                }
                send_close(c, *code == WS_NO_STATUS ? 0 : *code); /* its code, echoed */
                return 0;
            }
        }
        if (buf_reserve(&c->in, RBUF) < 0) return wsc_failf(why, n, -ENOMEM, "out of memory");
        ssize_t k = wsc_recv(c, buf_tail(&c->in), buf_room(&c->in));
        if (k == 0)
            return wsc_failf(why, n, BERTH_EOF,
                             "the server closed the connection without a "
                             "close frame");
        if (k < 0) {
            err_fmt(why, n, k == -EAGAIN ? -ETIMEDOUT : (int)k, "reading from the server");
            return k == -EAGAIN ? -ETIMEDOUT : (int)k;
        }
        buf_commit(&c->in, (size_t)k);
    }
}

static int read_all(int fd, struct buf *b)
{
    for (;;) {
        int rc = buf_reserve(b, 65536);
        if (rc < 0) return rc;
        ssize_t k = read(fd, buf_tail(b), buf_room(b));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return 0;
        buf_commit(b, (size_t)k);
    }
}

static int write_all(int fd, const void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = write(fd, (const char *)p + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        off += (size_t)k;
    }
    return 0;
}

int ws_client_run(const struct ws_client_opt *o, char *why, size_t n)
{
    struct ws_url u;
    if (ws_url_parse(o->url, &u) < 0)
        return wsc_failf(why, n, BERTH_EUSAGE,
                         "bad URL %s; write ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH",
                         o->url);
    struct buf data;
    buf_init(&data, 0);
    const char *msg = o->data;
    size_t len = o->len;
    int rc;
    if (!msg) {
        if ((rc = read_all(o->in_fd, &data)) < 0) {
            buf_free(&data);
            return wsc_failf(why, n, rc, "cannot read standard input: %s", err_str(rc));
        }
        msg = buf_len(&data) ? buf_head(&data) : "";
        len = buf_len(&data);
    }
    struct ws_utf8 text = {0};
    if (!o->binary &&
        (ws_utf8_feed(&text, (const uint8_t *)msg, len) < 0 || !ws_utf8_done(&text))) {
        buf_free(&data);
        return wsc_failf(
            why, n, BERTH_EUSAGE,
            "the message is not UTF-8, so it cannot go as text; send it with --binary");
    }
    SSL_CTX *ctx = NULL;
    struct wsc c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    if (u.tls && !(ctx = wsc_tls_ctx(o->cacert, o->insecure, why, n))) {
        buf_free(&data);
        return BERTH_ETLS;
    }
    rc = wsc_open(&c, ctx, &u, &o->deflate, o->timeout_ms, why, n);
    if (rc < 0) goto out;
    if (o->ext) snprintf(o->ext, o->ext_n, "%s", c.ext);
    int op, code = 0;
    const uint8_t *p;
    size_t plen;
    for (int i = 0; i < (o->messages > 1 ? o->messages : 1); i++) {
        if ((rc = wsc_queue(&c, o->binary ? WS_BINARY : WS_TEXT, msg, len)) < 0 ||
            (rc = wsc_flush(&c)) < 0) {
            err_fmt(why, n, rc, "cannot send the message");
            goto out;
        }
        rc = next_event(&c, &op, &p, &plen, &code, why, n);
        if (rc < 0) goto out;
        if (rc == 0) {
            wait_eof(&c);
            rc =
                wsc_failf(why, n, BERTH_EOF, "the server closed with code %d before echoing", code);
            goto out;
        }
        if ((i && o->sep && (rc = write_all(o->out_fd, o->sep, strlen(o->sep))) < 0) ||
            (rc = write_all(o->out_fd, p, plen)) < 0) {
            wsc_failf(why, n, rc, "cannot write the echo: %s", err_str(rc));
            goto out;
        }
    }
    /* the closing handshake: 1000, the server's close, then its FIN */
    static const uint8_t bye[2] = {1000 >> 8, 1000 & 255};
    c.sent_close = 1;
    if ((rc = wsc_queue(&c, WS_CLOSE, bye, 2)) < 0 || (rc = wsc_flush(&c)) < 0) {
        err_fmt(why, n, rc, "cannot send the close frame");
        goto out;
    }
    do
        rc = next_event(&c, &op, &p, &plen, &code, why, n);
    while (rc == 1); /* messages after our close are dropped */
    if (rc < 0) goto out;
    wait_eof(&c);
    rc = 0;
out:
    wsc_close(&c);
    SSL_CTX_free(ctx);
    buf_free(&data);
    return rc;
}

/* ---- many connections on the event loop ---- */

/* Message k of connection idx is the pattern from (idx * 97 + k * size)
 * on; the period is a prime, so no message size lines up with it. */
#define PERIOD 65521
static uint8_t pat[2 * PERIOD];

static void pattern_init(void)
{
    uint32_t x = 2654435761u;
    for (size_t i = 0; i < PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = pat[i + PERIOD] = (uint8_t)(x >> 24);
    }
}

struct mrun;

struct mws {
    struct wsc w;
    struct mrun *m;
    int idx, closing, done;
    unsigned long long sent, rcvd;
};

struct mrun {
    const struct ws_multi_opt *o;
    struct loop *l;
    struct mws *cs;
    int left, rc;
    size_t window;
    uint8_t *scratch;
    uint8_t *whole; /* a message to compress, when the pattern does not hold it whole */
    unsigned long long msgs, bytes;
    uint64_t last_progress;
    struct loop_timer idle;
    char *why;
    size_t n;
};

static void mfail(struct mrun *m, int rc, const char *fmt, ...)
{
    if (m->rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->why, m->n, fmt, ap);
        va_end(ap);
        m->rc = rc;
    }
    loop_stop(m->l);
}

static size_t pat_off(const struct mws *c, unsigned long long k)
{
    return (size_t)(((unsigned long long)c->idx * 97 + k * c->m->o->size) % PERIOD);
}

/* Message k of connection c's pattern into t[0..size) */
static void fill(const struct mws *c, unsigned long long k, uint8_t *t, size_t size)
{
    size_t start = pat_off(c, k);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < PERIOD ? size - off : PERIOD;
        memcpy(t + off, pat + (start + off) % PERIOD, n);
        off += n;
    }
}

static int queue_message(struct mws *c)
{
    struct wsc *w = &c->w;
    size_t size = c->m->o->size;
    int rc;
    if (w->z) { /* compressed: from the pattern where it lies whole, else assembled */
        const uint8_t *p = pat + pat_off(c, c->sent);
        if (size > PERIOD) {
            if (!c->m->whole && !(c->m->whole = malloc(size))) return -ENOMEM;
            fill(c, c->sent, c->m->whole, size);
            p = c->m->whole;
        }
        if ((rc = wsc_queue(w, WS_BINARY, p, size)) == 0) c->sent++;
        return rc;
    }
    if ((rc = buf_reserve(&w->out, WS_HEAD_MAX + size)) < 0) return rc;
    const uint8_t *key = wsc_mask_key(w);
    if (!key) return -EIO;
    uint8_t *t = (uint8_t *)buf_tail(&w->out);
    size_t h = ws_frame_head(t, 1, 0, WS_BINARY, size, key);
    fill(c, c->sent, t + h, size);
    ws_mask(t + h, size, key, 0);
    buf_commit(&w->out, h + size);
    c->sent++;
    return 0;
}

static int check_echo(struct mws *c, const uint8_t *p, size_t len)
{
    struct mrun *m = c->m;
    if (len != m->o->size) {
        mfail(m, BERTH_EPROTO, "connection %d: echo %llu has %zu bytes, %zu were sent", c->idx,
              c->rcvd, len, m->o->size);
        return -1;
    }
    size_t start = pat_off(c, c->rcvd);
    for (size_t off = 0; off < len;) {
        size_t k = len - off < PERIOD ? len - off : PERIOD;
        if (memcmp(p + off, pat + (start + off) % PERIOD, k)) {
            mfail(m, BERTH_EPROTO, "connection %d: echo %llu differs from the message sent", c->idx,
                  c->rcvd);
            return -1;
        }
        off += k;
    }
    c->rcvd++;
    m->msgs++;
    m->bytes += len;
    return 0;
}

static void mws_done(struct mws *c)
{
    loop_io_del(c->m->l, c->w.fd);
    c->done = 1;
    if (--c->m->left == 0) loop_stop(c->m->l);
}

/* Takes what was read: 0, or -1 when c is finished or failed. */
static int mws_input(struct mws *c, uint8_t *p, size_t n)
{
    struct mrun *m = c->m;
    while (n) {
        struct ws_ev ev;
        size_t used;
        int rc = ws_parse(&c->w.ps, p, n, &used, &ev);
        p += used;
        n -= used;
        if (rc < 0) {
            mfail(m, BERTH_EPROTO, "connection %d: the server broke the protocol: %s", c->idx,
                  c->w.ps.error);
            return -1;
        }
        if (rc == 0) break;
        if (ev.type == WS_EV_DATA) {
            int op;
            const uint8_t *mp;
            size_t ml;
            rc = ws_msg_feed(&c->w.msg, &ev, &op, &mp, &ml);
            if (rc < 0) {
                mfail(m, BERTH_EPROTO, "connection %d: an echo longer than sent, or bad", c->idx);
                return -1;
            }
            if (rc == 1 && check_echo(c, mp, ml) < 0) return -1;
            if (rc == 1 && c->rcvd == (unsigned long long)m->o->messages && !c->closing) {
                static const uint8_t bye[2] = {1000 >> 8, 1000 & 255};
                if (wsc_queue(&c->w, WS_CLOSE, bye, 2) < 0) return -1;
                c->closing = 1;
            }
        } else if (ev.op == WS_PING) {
            if (wsc_queue(&c->w, WS_PONG, ev.p, ev.n) < 0) return -1;
        } else if (ev.op == WS_CLOSE) {
            int code = 0;
            ws_close_check(ev.p, ev.n, &code);
            if (!c->closing) {
                mfail(m, BERTH_EOF,
                      "connection %d: the server closed (code %d) after %llu of %d echoes", c->idx,
                      code, c->rcvd, m->o->messages);
                return -1;
            }
            mws_done(c);
            return -1;
        }
    }
    return 0;
}

static void mws_cb(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    struct mws *c = arg;
    struct mrun *m = c->m;
    for (int i = 0; i < 16; i++) { /* TLS may hold decrypted bytes: read until it would block */
        ssize_t k = wsc_recv(&c->w, m->scratch, RBUF);
        if (k == -EAGAIN) break;
        if (k <= 0) {
            mfail(m, k ? (int)k : BERTH_EOF, "connection %d: %s after %llu of %d echoes", c->idx,
                  k ? err_str((int)k) : "the server closed", c->rcvd, m->o->messages);
            return;
        }
        m->last_progress = loop_now(l);
        if (mws_input(c, m->scratch, (size_t)k) < 0) return;
    }
    while (!c->closing && c->sent < (unsigned long long)m->o->messages &&
           c->sent - c->rcvd < m->window)
        if (queue_message(c) < 0) {
            mfail(m, -ENOMEM, "connection %d: out of memory", c->idx);
            return;
        }
    while (buf_len(&c->w.out)) {
        ssize_t k = wsc_send(&c->w, buf_head(&c->w.out), buf_len(&c->w.out));
        if (k == -EAGAIN) break;
        if (k < 0) {
            mfail(m, (int)k, "connection %d: cannot send: %s", c->idx, err_str((int)k));
            return;
        }
        buf_consume(&c->w.out, (size_t)k);
        m->last_progress = loop_now(l);
    }
    loop_io_set(l, c->w.fd, LOOP_READ | (buf_len(&c->w.out) ? LOOP_WRITE : 0), mws_cb, c);
}

static void midle_cb(struct loop *l, struct loop_timer *t)
{
    struct mrun *m = (struct mrun *)((char *)t - offsetof(struct mrun, idle));
    uint64_t quiet = loop_now(l) - m->last_progress;
    if (quiet >= (uint64_t)m->o->timeout_ms) {
        mfail(m, -ETIMEDOUT,
              "%d of %d connections made no progress for %d ms; is the server "
              "overloaded or stuck?",
              m->left, m->o->connections, m->o->timeout_ms);
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

int ws_multi_run(const struct ws_multi_opt *o, struct ws_multi_result *r, char *why, size_t n)
{
    struct ws_url u;
    memset(r, 0, sizeof *r);
    if (ws_url_parse(o->url, &u) < 0)
        return wsc_failf(why, n, BERTH_EUSAGE,
                         "bad URL %s; write ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH",
                         o->url);
    if (!pat[0] && !pat[1]) pattern_init();
    struct mrun m;
    memset(&m, 0, sizeof m);
    m.o = o;
    m.why = why;
    m.n = n;
    /* messages in flight per connection: about 256 KiB of them (at least
     * 4), as the TCP client streams (the server then reads full buffers,
     * not a few frames per system call) */
    m.window = (256u << 10) / (o->size + WS_HEAD_MAX);
    if (m.window < 4) m.window = 4; /* large messages: a few, so the link never idles */
    SSL_CTX *ctx = NULL;
    int rc = 0, opened = 0;
    m.cs = calloc((size_t)o->connections, sizeof *m.cs);
    m.scratch = malloc(RBUF);
    m.l = loop_new();
    if (!m.cs || !m.scratch || !m.l) {
        rc = wsc_failf(why, n, -ENOMEM, "out of memory");
        goto out;
    }
    if (u.tls && !(ctx = wsc_tls_ctx(o->cacert, o->insecure, why, n))) {
        rc = BERTH_ETLS;
        goto out;
    }
    for (int i = 0; i < o->connections; i++) {
        struct mws *c = &m.cs[i];
        c->m = &m;
        c->idx = i;
        rc = wsc_open(&c->w, ctx, &u, &o->deflate, o->timeout_ms, why, n);
        opened++;
        if (rc < 0) goto out;
        if (c->w.z) r->deflated++;
        if (i == 0) snprintf(r->ext, sizeof r->ext, "%s", c->w.ext);
        c->w.msg.max = o->size;
        if ((rc = net_set_nonblock(c->w.fd, 1)) < 0 ||
            (rc = loop_io_set(m.l, c->w.fd, LOOP_READ | LOOP_WRITE, mws_cb, c)) < 0) {
            err_fmt(why, n, rc, "connection setup");
            goto out;
        }
        m.left++;
    }
    double t0 = now_s();
    if (m.left) {
        m.last_progress = loop_now(m.l);
        if (o->timeout_ms > 0) loop_timer_set(m.l, &m.idle, (uint64_t)o->timeout_ms, midle_cb);
        rc = loop_run(m.l);
        if (rc < 0)
            err_fmt(why, n, rc, "event loop");
        else if (m.rc < 0)
            rc = m.rc;
    }
    r->seconds = now_s() - t0;
    r->connections = o->connections;
    r->messages = m.msgs;
    r->bytes = m.bytes;
out:
    for (int i = 0; i < opened; i++) {
        if (m.cs[i].w.fd >= 0 && !m.cs[i].done && m.l) loop_io_del(m.l, m.cs[i].w.fd);
        wsc_close(&m.cs[i].w);
    }
    if (m.l) {
        loop_timer_stop(m.l, &m.idle);
        loop_free(m.l);
    }
    SSL_CTX_free(ctx);
    free(m.cs);
    free(m.scratch);
    free(m.whole);
    return rc;
}
