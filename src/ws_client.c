/* ws_client — `berth echo --ws` (see ws_client.h).  The handshake is made
 * blocking (with the timeout on the socket); the many-connection run then
 * switches to non-blocking sockets on the event loop. */
#include "ws_client.h"

#include "buf.h"
#include "err.h"
#include "http/ws.h"
#include "http/ws_hs.h"
#include "http/ws_msg.h"
#include "loop.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define RBUF     65536

struct wsc {
    int fd;
    SSL *ssl;
    struct ws_parser ps;
    struct ws_msg msg;
    struct buf in, out;
    uint8_t pool[256]; /* mask keys, from getrandom in batches */
    size_t pool_left;
    uint8_t sent_close; /* our close frame went: no other follows it */
};

static int failf(char *why, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return rc;
}

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

static SSL_CTX *client_ctx(const char *cacert, int insecure, char *why, size_t n)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        failf(why, n, 0, "cannot set up TLS: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
    if (!insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL)
                    : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            failf(why, n, 0, "cannot load the CA certificates%s%s; give a PEM file with --cacert",
                  cacert ? " of " : "", cacert ? cacert : "");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

static ssize_t c_recv(struct wsc *c, void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t k = recv(c->fd, p, n, 0);
        return k < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : k;
    }
    size_t got;
    ERR_clear_error();
    if (SSL_read_ex(c->ssl, p, n, &got) == 1) return (ssize_t)got;
    int e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL) return errno && errno != EAGAIN ? -errno : 0;
    return BERTH_EPROTO;
}

static ssize_t c_send(struct wsc *c, const void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        return k < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : k;
    }
    size_t put;
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, p, n, &put) == 1) return (ssize_t)put;
    int e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -EAGAIN;
    if (e == SSL_ERROR_SYSCALL && errno) return -errno;
    return BERTH_EPROTO;
}

static void wsc_close(struct wsc *c)
{
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    ws_msg_free(&c->msg);
    buf_free(&c->in);
    buf_free(&c->out);
}

/* Appends a masked frame to c->out; when p is NULL the payload is already
 * at the tail (written by the caller) and only masked here. */
static int queue_frame(struct wsc *c, int op, const void *p, size_t n)
{
    if (c->pool_left < 4) {
        int rc = ws_random(c->pool, sizeof c->pool);
        if (rc < 0) return rc;
        c->pool_left = sizeof c->pool;
    }
    const uint8_t *key = c->pool + sizeof c->pool - c->pool_left;
    c->pool_left -= 4;
    int rc = buf_reserve(&c->out, WS_HEAD_MAX + n);
    if (rc < 0) return rc;
    uint8_t *t = (uint8_t *)buf_tail(&c->out);
    size_t h = ws_frame_head(t, 1, 0, op, n, key);
    if (n) memcpy(t + h, p, n);
    ws_mask(t + h, n, key, 0);
    buf_commit(&c->out, h + n);
    return 0;
}

static int flush_blocking(struct wsc *c)
{
    while (buf_len(&c->out)) {
        ssize_t k = c_send(c, buf_head(&c->out), buf_len(&c->out));
        if (k < 0) return k == -EAGAIN ? -ETIMEDOUT : (int)k;
        buf_consume(&c->out, (size_t)k);
    }
    return 0;
}

/* the header's value in head[0..n), or NULL */
static const char *field(const char *head, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) || line[nl] != ':') continue;
        const char *v = line + nl + 1, *e = strstr(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        *len = (size_t)(e - v);
        while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
            (*len)--;
        return v;
    }
    return NULL;
}

/* Connects, TLS, and the opening handshake, blocking within timeout_ms. */
static int wsc_open(struct wsc *c, SSL_CTX *ctx, const struct ws_url *u, int timeout_ms, char *why,
                    size_t n)
{
    int rc;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    buf_init(&c->in, HEAD_MAX + RBUF);
    buf_init(&c->out, 0);
    ws_parser_init(&c->ps, 0, 0);
    ws_msg_init(&c->msg, (size_t)1 << 40, NULL); /* the multi-connection run bounds it */
    int v6 = strchr(u->host, ':') != NULL;
    c->fd = net_connect(u->host, u->port, SOCK_STREAM, timeout_ms, NULL);
    if (c->fd < 0) {
        char what[400];
        snprintf(what, sizeof what, "cannot connect to %s%s%s:%d", v6 ? "[" : "", u->host,
                 v6 ? "]" : "", u->port);
        err_fmt(why, n, c->fd, what);
        return c->fd;
    }
    if (timeout_ms > 0) net_set_timeout(c->fd, timeout_ms);
    if (u->tls) {
        if (!(c->ssl = SSL_new(ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
            return failf(why, n, -ENOMEM, "cannot set up TLS: out of memory");
        unsigned char ip[16];
        if (inet_pton(AF_INET, u->host, ip) == 1 || inet_pton(AF_INET6, u->host, ip) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host);
        } else {
            SSL_set_tlsext_host_name(c->ssl, u->host);
            SSL_set1_host(c->ssl, u->host);
        }
        ERR_clear_error();
        if (SSL_connect(c->ssl) != 1) {
            long v = SSL_get_verify_result(c->ssl);
            if (v != X509_V_OK)
                return failf(why, n, BERTH_ETLS,
                             "the certificate of %s is not trusted: %s; pass its CA with "
                             "--cacert FILE, or --insecure to skip the check",
                             u->host, X509_verify_cert_error_string(v));
            unsigned long e = ERR_get_error();
            return failf(why, n, BERTH_ETLS,
                         "TLS handshake with %s failed: %s; is it a wss:// (TLS) server?", u->host,
                         e ? ERR_reason_error_string(e) : "the connection closed");
        }
    }
    char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1], port[16] = "";
    if ((rc = ws_hs_key(key)) < 0 || (rc = ws_hs_accept(key, WS_KEY_LEN, accept)) < 0)
        return failf(why, n, rc, "cannot make a handshake key");
    if (u->port != (u->tls ? 443 : 80)) snprintf(port, sizeof port, ":%d", u->port);
    char req[2600];
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\nUser-Agent: berth\r\n\r\n",
                       u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", port, key);
    if ((rc = buf_append(&c->out, req, (size_t)len)) < 0 || (rc = flush_blocking(c)) < 0) {
        err_fmt(why, n, rc, "cannot send the handshake");
        return rc;
    }
    /* the head of the answer; bytes after it are frames */
    char *end = NULL;
    while (!end) {
        if ((rc = buf_reserve(&c->in, 4096)) < 0)
            return failf(why, n, BERTH_EPROTO,
                         "the server's answer has no end of head within "
                         "16 KiB; is it an HTTP server?");
        ssize_t k = c_recv(c, buf_tail(&c->in), buf_room(&c->in) - 1);
        if (k <= 0) {
            err_fmt(why, n,
                    k == 0         ? BERTH_EOF
                    : k == -EAGAIN ? -ETIMEDOUT
                                   : (int)k,
                    "no handshake answer from the server");
            return k == 0 ? BERTH_EOF : (int)k;
        }
        buf_commit(&c->in, (size_t)k);
        c->in.data[c->in.off + c->in.len] = '\0';
        end = strstr(buf_head(&c->in), "\r\n\r\n");
    }
    const char *head = buf_head(&c->in);
    size_t hl = (size_t)(end + 4 - head), vl;
    const char *v;
    if (strncmp(head, "HTTP/1.1 101 ", 13) && strncmp(head, "HTTP/1.1 101\r", 13)) {
        size_t l1 = strcspn(head, "\r\n");
        return failf(why, n, BERTH_EPROTO,
                     "the server answered \"%.*s\" instead of 101 Switching Protocols; is %s a "
                     "WebSocket endpoint?",
                     (int)(l1 > 80 ? 80 : l1), head, u->path);
    }
    if (!(v = field(head, "Sec-WebSocket-Accept", &vl)) || vl != WS_ACCEPT_LEN ||
        memcmp(v, accept, WS_ACCEPT_LEN))
        return failf(why, n, BERTH_EPROTO,
                     "the server's Sec-WebSocket-Accept does not match the key sent; it does not "
                     "speak RFC 6455");
    if (!(v = field(head, "Upgrade", &vl)) || !ws_hs_has_token(v, vl, "websocket"))
        return failf(why, n, BERTH_EPROTO, "the server's 101 lacks Upgrade: websocket");
    /* RFC 6455 §4.1: both are the client's to check, and fatal */
    if (!(v = field(head, "Connection", &vl)) || !ws_hs_has_token(v, vl, "upgrade"))
        return failf(why, n, BERTH_EPROTO, "the server's 101 lacks Connection: Upgrade");
    if (field(head, "Sec-WebSocket-Protocol", &vl))
        return failf(why, n, BERTH_EPROTO,
                     "the server chose a subprotocol this client did not offer");
    if (field(head, "Sec-WebSocket-Extensions", &vl))
        return failf(why, n, BERTH_EPROTO,
                     "the server chose an extension this client did not offer");
    buf_consume(&c->in, hl);
    return 0;
}

/* Sends a close frame (code 0: an empty one) unless ours went already: the
 * answer to the server's close (RFC 6455 §5.5.1), or the code a failure is
 * sent with (§7.1.7).  Best effort: the connection ends either way. */
static void send_close(struct wsc *c, int code)
{
    if (c->sent_close) return;
    c->sent_close = 1;
    const uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    if (queue_frame(c, WS_CLOSE, p, code ? 2 : 0) == 0) (void)flush_blocking(c);
}

/* After the closing handshake the server closes TCP first (§7.1.1): waits
 * for its end of stream, bounded by the socket's timeout. */
static void wait_eof(struct wsc *c)
{
    char tmp[256];
    for (int i = 0; i < 64 && c_recv(c, tmp, sizeof tmp) > 0; i++)
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
                return failf(why, n, BERTH_EPROTO, "the server broke the protocol: %s",
                             c->ps.error);
            }
            if (rc == 0) break;
            if (ev.type == WS_EV_DATA) {
                rc = ws_msg_feed(&c->msg, &ev, op, p, len);
                if (rc < 0) {
                    send_close(c, rc == -WS_BAD_DATA  ? WS_BAD_DATA
                                  : rc == -WS_TOO_BIG ? WS_TOO_BIG
                                                      : WS_INTERNAL);
                    return failf(why, n, BERTH_EPROTO, "the server sent %s",
                                 rc == -WS_BAD_DATA ? "text that is not UTF-8" : "a bad message");
                }
                if (rc == 1) return 1;
            } else if (ev.op == WS_PING) {
                if ((rc = queue_frame(c, WS_PONG, ev.p, ev.n)) < 0 || (rc = flush_blocking(c)) < 0)
                    return failf(why, n, rc, "cannot answer a ping: %s", err_str(rc));
            } else if (ev.op == WS_CLOSE) {
                if ((rc = ws_close_check(ev.p, ev.n, code)) < 0) {
                    send_close(c, -rc);
                    return failf(why, n, BERTH_EPROTO, "the server sent a malformed close frame");
                }
                send_close(c, *code == WS_NO_STATUS ? 0 : *code); /* its code, echoed */
                return 0;
            }
        }
        if (buf_reserve(&c->in, RBUF) < 0) return failf(why, n, -ENOMEM, "out of memory");
        ssize_t k = c_recv(c, buf_tail(&c->in), buf_room(&c->in));
        if (k == 0)
            return failf(why, n, BERTH_EOF,
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

int ws_client_run(const struct ws_client_opt *o, char *why, size_t n)
{
    struct ws_url u;
    if (ws_url_parse(o->url, &u) < 0)
        return failf(why, n, BERTH_EUSAGE,
                     "bad URL %s; write ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH", o->url);
    struct buf data;
    buf_init(&data, 0);
    const char *msg = o->data;
    size_t len = o->len;
    int rc;
    if (!msg) {
        if ((rc = read_all(o->in_fd, &data)) < 0) {
            buf_free(&data);
            return failf(why, n, rc, "cannot read standard input: %s", err_str(rc));
        }
        msg = buf_len(&data) ? buf_head(&data) : "";
        len = buf_len(&data);
    }
    struct ws_utf8 text = {0};
    if (!o->binary &&
        (ws_utf8_feed(&text, (const uint8_t *)msg, len) < 0 || !ws_utf8_done(&text))) {
        buf_free(&data);
        return failf(why, n, BERTH_EUSAGE,
                     "the message is not UTF-8, so it cannot go as text; send it with --binary");
    }
    SSL_CTX *ctx = NULL;
    struct wsc c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    if (u.tls && !(ctx = client_ctx(o->cacert, o->insecure, why, n))) {
        buf_free(&data);
        return BERTH_ETLS;
    }
    rc = wsc_open(&c, ctx, &u, o->timeout_ms, why, n);
    if (rc < 0) goto out;
    if ((rc = queue_frame(&c, o->binary ? WS_BINARY : WS_TEXT, msg, len)) < 0 ||
        (rc = flush_blocking(&c)) < 0) {
        err_fmt(why, n, rc, "cannot send the message");
        goto out;
    }
    int op, code = 0;
    const uint8_t *p;
    size_t plen;
    rc = next_event(&c, &op, &p, &plen, &code, why, n);
    if (rc < 0) goto out;
    if (rc == 0) {
        wait_eof(&c);
        rc = failf(why, n, BERTH_EOF, "the server closed with code %d before echoing", code);
        goto out;
    }
    for (size_t off = 0; off < plen;) {
        ssize_t k = write(o->out_fd, p + off, plen - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = failf(why, n, -errno, "cannot write the echo: %s", err_str(-errno));
            goto out;
        }
        off += (size_t)k;
    }
    /* the closing handshake: 1000, the server's close, then its FIN */
    static const uint8_t bye[2] = {1000 >> 8, 1000 & 255};
    c.sent_close = 1;
    if ((rc = queue_frame(&c, WS_CLOSE, bye, 2)) < 0 || (rc = flush_blocking(&c)) < 0) {
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

static int queue_message(struct mws *c)
{
    struct wsc *w = &c->w;
    size_t size = c->m->o->size;
    int rc = buf_reserve(&w->out, WS_HEAD_MAX + size);
    if (rc < 0) return rc;
    if (w->pool_left < 4) {
        if ((rc = ws_random(w->pool, sizeof w->pool)) < 0) return rc;
        w->pool_left = sizeof w->pool;
    }
    const uint8_t *key = w->pool + sizeof w->pool - w->pool_left;
    w->pool_left -= 4;
    uint8_t *t = (uint8_t *)buf_tail(&w->out);
    size_t h = ws_frame_head(t, 1, 0, WS_BINARY, size, key), start = pat_off(c, c->sent);
    for (size_t off = 0; off < size;) {
        size_t k = size - off < PERIOD ? size - off : PERIOD;
        memcpy(t + h + off, pat + (start + off) % PERIOD, k);
        off += k;
    }
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
                if (queue_frame(&c->w, WS_CLOSE, bye, 2) < 0) return -1;
                c->closing = 1;
            }
        } else if (ev.op == WS_PING) {
            if (queue_frame(&c->w, WS_PONG, ev.p, ev.n) < 0) return -1;
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
        ssize_t k = c_recv(&c->w, m->scratch, RBUF);
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
        ssize_t k = c_send(&c->w, buf_head(&c->w.out), buf_len(&c->w.out));
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
        return failf(why, n, BERTH_EUSAGE,
                     "bad URL %s; write ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH", o->url);
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
        rc = failf(why, n, -ENOMEM, "out of memory");
        goto out;
    }
    if (u.tls && !(ctx = client_ctx(o->cacert, o->insecure, why, n))) {
        rc = BERTH_ETLS;
        goto out;
    }
    for (int i = 0; i < o->connections; i++) {
        struct mws *c = &m.cs[i];
        c->m = &m;
        c->idx = i;
        rc = wsc_open(&c->w, ctx, &u, o->timeout_ms, why, n);
        opened++;
        if (rc < 0) goto out;
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
    return rc;
}
