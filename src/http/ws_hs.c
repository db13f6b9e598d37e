/* ws_hs — the opening handshake's checks and values (see ws_hs.h). */
#include "http/ws_hs.h"

#include "http/str.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_random(void *p, size_t n)
{
    char *b = p;
    while (n) {
        ssize_t k = getrandom(b, n, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int ws_hs_accept(const char *key, size_t n, char *out)
{
    unsigned char in[128], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (n > sizeof in - (sizeof GUID - 1)) return -EINVAL;
    memcpy(in, key, n);
    memcpy(in + n, GUID, sizeof GUID - 1);
    if (!EVP_Digest(in, n + sizeof GUID - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -EINVAL;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return 0;
}

int ws_hs_key(char *out)
{
    unsigned char raw[16];
    int rc = ws_random(raw, sizeof raw);
    if (rc < 0) return rc;
    EVP_EncodeBlock((unsigned char *)out, raw, 16);
    return 0;
}

int ws_hs_has_token(const char *s, size_t n, const char *tok)
{
    const char *end = s + n;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        if (http_str_eq_ci(http_str_trim(http_str_make(s, (size_t)(e - s))), tok)) return 1;
        s = comma ? comma + 1 : end;
    }
    return 0;
}

/* a base64 encoding of exactly 16 bytes: 22 characters then "==" */
static int key_ok(struct http_str k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (k.n != WS_KEY_LEN || k.p[22] != '=' || k.p[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++)
        if (!k.p[i] || !strchr(b64, k.p[i])) return 0;
    return 1;
}

static int refuse(struct ws_hs *hs, int status, const char *why)
{
    hs->status = status;
    hs->why = why;
    return -1;
}

/* The first of the server's protocols that the client offers in any of its
 * Sec-WebSocket-Protocol fields. */
static void pick_protocol(const struct http_header *h, size_t nh, const char *protocols,
                          struct ws_hs *hs)
{
    const char *s = protocols;
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        struct http_str want = http_str_trim(http_str_make(s, len));
        char tok[64];
        if (want.n && want.n < sizeof tok) {
            memcpy(tok, want.p, want.n);
            tok[want.n] = '\0';
            for (size_t i = 0; i < nh; i++)
                if (http_str_eq_ci(h[i].name, "sec-websocket-protocol")) {
                    /* subprotocol names are case-sensitive: compare exactly */
                    const char *v = h[i].value.p, *end = v + h[i].value.n;
                    while (v < end) {
                        const char *c2 = memchr(v, ',', (size_t)(end - v));
                        const char *e = c2 ? c2 : end;
                        struct http_str t = http_str_trim(http_str_make(v, (size_t)(e - v)));
                        if (t.n == want.n && !memcmp(t.p, tok, t.n)) {
                            memcpy(hs->protocol, tok, want.n + 1);
                            return;
                        }
                        v = c2 ? c2 + 1 : end;
                    }
                }
        }
        s = comma ? comma + 1 : NULL;
    }
}

int ws_hs_check(int get, int version, const struct http_header *h, size_t nh, const char *protocols,
                int deflate, struct ws_hs *hs)
{
    memset(hs, 0, sizeof *hs);
    int upgrade = 0, conn_up = 0, nkey = 0, nver = 0, ver13 = 0;
    struct http_str key = http_str_make(NULL, 0);
    for (size_t i = 0; i < nh; i++) {
        struct http_str n = h[i].name, v = h[i].value;
        if (http_str_eq_ci(n, "upgrade"))
            upgrade |= ws_hs_has_token(v.p, v.n, "websocket");
        else if (http_str_eq_ci(n, "connection"))
            conn_up |= ws_hs_has_token(v.p, v.n, "upgrade");
        else if (http_str_eq_ci(n, "sec-websocket-key"))
            nkey++, key = v;
        else if (http_str_eq_ci(n, "sec-websocket-version"))
            nver++, ver13 = v.n == 2 && !memcmp(v.p, "13", 2);
    }
    if (!get)
        return refuse(hs, 400,
                      "A WebSocket handshake is a GET request; send GET with Upgrade: "
                      "websocket.");
    if (version < 11)
        return refuse(hs, 400,
                      "A WebSocket handshake needs HTTP/1.1; send the request as "
                      "HTTP/1.1.");
    int h2 = version == 20; /* RFC 8441: no Upgrade, Connection, key nor accept */
    if (!h2 && (!upgrade || !conn_up))
        return refuse(hs, 426,
                      "This resource is a WebSocket endpoint; connect with a WebSocket "
                      "client (Upgrade: websocket, Connection: Upgrade).");
    if (nver != 1 || !ver13)
        return refuse(hs, 426,
                      "Only WebSocket version 13 (RFC 6455) is spoken here; send "
                      "Sec-WebSocket-Version: 13.");
    if (!h2 && (nkey != 1 || !key_ok(key)))
        return refuse(hs, 400,
                      "Sec-WebSocket-Key must appear once, as the base64 of 16 random "
                      "bytes (24 characters ending in ==).");
    if (!h2 && ws_hs_accept(key.p, key.n, hs->accept) < 0)
        return refuse(hs, 400, "Sec-WebSocket-Key cannot be used.");
    pick_protocol(h, nh, protocols, hs);
    for (size_t i = 0; deflate && !hs->deflate && i < nh; i++)
        if (http_str_eq_ci(h[i].name, "sec-websocket-extensions"))
            hs->deflate =
                ws_pmd_negotiate(h[i].value.p, h[i].value.n, &hs->pmd, hs->ext, sizeof hs->ext);
    return 0;
}
