/* ws_client_conn — a WebSocket client connection (see ws_client_conn.h).
 * The handshake is made blocking, with the timeout on the socket. */
#include "ws_client_conn.h"

#include "err.h"
#include "http/ws_hs.h"
#include "http/ws_pmd.h"
#include "net.h"
#include "ws_client_pmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define RBUF     WSC_RBUF

int wsc_failf(char *why, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return rc;
}

SSL_CTX *wsc_tls_ctx(const char *cacert, int insecure, char *why, size_t n)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        wsc_failf(why, n, 0, "cannot set up TLS: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
    if (!insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL)
                    : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            wsc_failf(why, n, 0,
                      "cannot load the CA certificates%s%s; give a PEM file with --cacert",
                      cacert ? " of " : "", cacert ? cacert : "");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

ssize_t wsc_recv(struct wsc *c, void *p, size_t n)
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

ssize_t wsc_send(struct wsc *c, const void *p, size_t n)
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

void wsc_close(struct wsc *c)
{
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    ws_msg_free(&c->msg);
    ws_pmd_free(c->z);
    c->z = NULL;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->zbuf);
}

const uint8_t *wsc_mask_key(struct wsc *c)
{
    if (c->pool_left < 4) {
        if (ws_random(c->pool, sizeof c->pool) < 0) return NULL;
        c->pool_left = sizeof c->pool;
    }
    const uint8_t *key = c->pool + sizeof c->pool - c->pool_left;
    c->pool_left -= 4;
    return key;
}

int wsc_queue(struct wsc *c, int op, const void *p, size_t n)
{
    int rsv1 = 0, rc;
    if (c->z && (op == WS_TEXT || op == WS_BINARY)) {
        buf_clear(&c->zbuf);
        if ((rc = ws_pmd_deflate(c->z, p, n, &c->zbuf)) < 0) return rc;
        p = buf_head(&c->zbuf);
        n = buf_len(&c->zbuf);
        rsv1 = 1;
    }
    const uint8_t *key = wsc_mask_key(c);
    if (!key) return -EIO;
    if ((rc = buf_reserve(&c->out, WS_HEAD_MAX + n)) < 0) return rc;
    uint8_t *t = (uint8_t *)buf_tail(&c->out);
    size_t h = ws_frame_head(t, 1, rsv1, op, n, key);
    if (n) memcpy(t + h, p, n);
    ws_mask(t + h, n, key, 0);
    buf_commit(&c->out, h + n);
    return 0;
}

int wsc_flush(struct wsc *c)
{
    while (buf_len(&c->out)) {
        ssize_t k = wsc_send(c, buf_head(&c->out), buf_len(&c->out));
        if (k < 0) return k == -EAGAIN ? -ETIMEDOUT : (int)k;
        buf_consume(&c->out, (size_t)k);
    }
    return 0;
}

/* The value of the field after *from in head (NUL-terminated, ending with
 * an empty line), or NULL; *from moves past it, so a repeated field is
 * found again by calling again. */
static const char *field_next(const char **from, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(*from, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) || line[nl] != ':') continue;
        const char *v = line + nl + 1, *e = strstr(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        *len = (size_t)(e - v);
        while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
            (*len)--;
        *from = e;
        return v;
    }
    return NULL;
}

static const char *field(const char *head, const char *name, size_t *len)
{
    return field_next(&head, name, len);
}

/* Every line of field name joined by ", " (RFC 9110 §5.3) into out: its
 * length, or -1 when it does not fit. */
static int field_all(const char *head, const char *name, char *out, size_t on)
{
    size_t k = 0, vl;
    out[0] = '\0';
    for (const char *v; (v = field_next(&head, name, &vl));) {
        if (k + vl + 3 > on) return -1;
        if (k) {
            memcpy(out + k, ", ", 2);
            k += 2;
        }
        memcpy(out + k, v, vl);
        out[k += vl] = '\0';
    }
    return (int)k;
}

/* The server's Sec-WebSocket-Extensions against what was offered: the
 * codec set up when permessage-deflate was agreed. */
static int extensions(struct wsc *c, const char *head, const struct ws_deflate *d, char *why,
                      size_t n)
{
    int k = field_all(head, "Sec-WebSocket-Extensions", c->ext, sizeof c->ext);
    if (k < 0)
        return wsc_failf(why, n, BERTH_EPROTO,
                         "the server's Sec-WebSocket-Extensions is longer than any answer to "
                         "this client's offer; the server is broken: fix it");
    if (!k) return 0;
    if (!d->on) {
        size_t e = strcspn(c->ext, ";, \t");
        return wsc_failf(why, n, BERTH_EPROTO,
                         "the server chose the extension \"%.*s\", which this client did not "
                         "offer (RFC 6455 section 9.1); the server is broken: fix it",
                         (int)(e > 60 ? 60 : e), c->ext);
    }
    struct ws_pmd_conf conf;
    int rc = ws_client_pmd_accept(d, c->ext, (size_t)k, &conf, why, n);
    if (rc <= 0) return rc;
    if (!(c->z = ws_pmd_new(&conf, 0))) return wsc_failf(why, n, -ENOMEM, "out of memory");
    c->ps.rsv1_ok = 1;
    c->msg.z = c->z;
    return 0;
}

/* Connects, TLS, and the opening handshake, blocking within timeout_ms. */
int wsc_open(struct wsc *c, SSL_CTX *ctx, const struct ws_url *u, const struct ws_deflate *d,
             int timeout_ms, char *why, size_t n)
{
    int rc;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    buf_init(&c->in, HEAD_MAX + RBUF);
    buf_init(&c->out, 0);
    buf_init(&c->zbuf, 0);
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
            return wsc_failf(why, n, -ENOMEM, "cannot set up TLS: out of memory");
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
                return wsc_failf(why, n, BERTH_ETLS,
                                 "the certificate of %s is not trusted: %s; pass its CA with "
                                 "--cacert FILE, or --insecure to skip the check",
                                 u->host, X509_verify_cert_error_string(v));
            unsigned long e = ERR_get_error();
            return wsc_failf(why, n, BERTH_ETLS,
                             "TLS handshake with %s failed: %s; is it a wss:// (TLS) server?",
                             u->host, e ? ERR_reason_error_string(e) : "the connection closed");
        }
    }
    char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1], port[16] = "";
    if ((rc = ws_hs_key(key)) < 0 || (rc = ws_hs_accept(key, WS_KEY_LEN, accept)) < 0)
        return wsc_failf(why, n, rc, "cannot make a handshake key");
    if (u->port != (u->tls ? 443 : 80)) snprintf(port, sizeof port, ":%d", u->port);
    char req[2800], offer[200] = "";
    if (d->on) {
        memcpy(offer, "Sec-WebSocket-Extensions: ", 26);
        if ((rc = ws_client_pmd_offer(d, offer + 26, sizeof offer - 28)) < 0)
            return wsc_failf(why, n, rc, "bad permessage-deflate window; give 8 to 15 bits");
        strcat(offer, "\r\n");
    }
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n%sUser-Agent: berth\r\n\r\n",
                       u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", port, key, offer);
    if ((rc = buf_append(&c->out, req, (size_t)len)) < 0 || (rc = wsc_flush(c)) < 0) {
        err_fmt(why, n, rc, "cannot send the handshake");
        return rc;
    }
    /* the head of the answer; bytes after it are frames */
    char *end = NULL;
    while (!end) {
        if ((rc = buf_reserve(&c->in, 4096)) < 0)
            return wsc_failf(why, n, BERTH_EPROTO,
                             "the server's answer has no end of head within "
                             "16 KiB; is it an HTTP server?");
        ssize_t k = wsc_recv(c, buf_tail(&c->in), buf_room(&c->in) - 1);
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
        return wsc_failf(why, n, BERTH_EPROTO,
                         "the server answered \"%.*s\" instead of 101 Switching Protocols; is %s a "
                         "WebSocket endpoint?",
                         (int)(l1 > 80 ? 80 : l1), head, u->path);
    }
    if (!(v = field(head, "Sec-WebSocket-Accept", &vl)) || vl != WS_ACCEPT_LEN ||
        memcmp(v, accept, WS_ACCEPT_LEN))
        return wsc_failf(
            why, n, BERTH_EPROTO,
            "the server's Sec-WebSocket-Accept does not match the key sent; it does not "
            "speak RFC 6455");
    if (!(v = field(head, "Upgrade", &vl)) || !ws_hs_has_token(v, vl, "websocket"))
        return wsc_failf(why, n, BERTH_EPROTO, "the server's 101 lacks Upgrade: websocket");
    /* RFC 6455 §4.1: both are the client's to check, and fatal */
    if (!(v = field(head, "Connection", &vl)) || !ws_hs_has_token(v, vl, "upgrade"))
        return wsc_failf(why, n, BERTH_EPROTO, "the server's 101 lacks Connection: Upgrade");
    if (field(head, "Sec-WebSocket-Protocol", &vl))
        return wsc_failf(why, n, BERTH_EPROTO,
                         "the server chose a subprotocol this client did not offer");
    if ((rc = extensions(c, head, d, why, n)) < 0) return rc;
    buf_consume(&c->in, hl);
    return 0;
}
