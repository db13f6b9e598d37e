/* ws_api — the public berth_ws_* calls of include/berth.h: the upgrade of a
 * handler's request (checks, the 101 or the error answer) and the calls on
 * a WebSocket, over ws_session. */
#include "berth.h"

#include "err.h"
#include "http/resp.h"
#include "http/server.h"
#include "http/ws.h"
#include "http/ws_hs.h"
#include "http/ws_session.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

void berth_ws_opts_init(struct berth_ws_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_message = 16u << 20;
    o->max_buffered = 64u << 20; /* room to echo a message of the largest size, several times */
    o->low_water = 64u << 10;
    o->ping_interval_ms = 30000;
    o->pong_timeout_ms = 10000;
    o->deflate = 1;
}

/* Answers the handshake with an error page (status 400, 426 or 503).  Over
 * h2 a 426 becomes 400 (426 names an Upgrade field, which h2 has not),
 * still with Sec-WebSocket-Version. */
static int refuse(berth_req *r, int status, const char *why)
{
    struct conn *c = r->c;
    const char *extra =
        status == 426 ? "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      : NULL;
    if (status == 426 && c->h2) status = 400; /* h2 drops Upgrade and Connection */
    int head = r->r->method == HTTP_HEAD;
    int len = resp_error(&c->w->out, status, !c->closing, r->r->version, head, extra, why);
    if (len < 0) return len;
    r->status = status;
    r->bytes = head ? 0 : (uint64_t)len;
    return BERTH_EHANDSHAKE;
}

int berth_ws_upgrade(berth_req *r, const struct berth_ws_cb *cb, void *arg,
                     const struct berth_ws_opts *o)
{
    if (!r || !cb || r->status) return BERTH_EUSAGE;
    struct conn *c = r->c;
    struct worker *w = c->w;
    struct berth_server *s = w->s;
    struct berth_ws_opts oo;
    berth_ws_opts_init(&oo);
    if (o) oo = *o;
    if (!oo.max_message) oo.max_message = 16u << 20;
    if (!oo.max_buffered || oo.max_buffered > INT_MAX) oo.max_buffered = INT_MAX;
    if (oo.low_water > oo.max_buffered) oo.low_water = oo.max_buffered;
    if (oo.pong_timeout_ms <= 0) oo.pong_timeout_ms = 10000;

    int h2 = r->r->version >= 20 || c->h2;
    if (h2 && !r->r->protocol.p)
        return refuse(r, 400,
                      "A WebSocket over HTTP/2 opens with an extended CONNECT (RFC 8441: "
                      ":method CONNECT, :protocol websocket); send that, or connect over "
                      "HTTP/1.1.");
    if (w->stopping || __atomic_load_n(&s->stopped, __ATOMIC_RELAXED))
        return refuse(r, 503, "The server is shutting down; connect again later.");
    if (s->o.http10)
        return refuse(r, 400,
                      "This server speaks HTTP/1.0 only, which cannot upgrade; run it "
                      "without HTTP/1.0 mode.");
    struct ws_hs hs;
    if (ws_hs_check(r->r->method == HTTP_GET, r->r->version, r->r->headers, r->r->nheaders,
                    oo.protocols, oo.deflate, &hs) < 0)
        return refuse(r, hs.status, hs.why);

    struct berth_ws *ws = ws_session_new(c, cb, arg, &oo, &hs);
    if (!ws) return -ENOMEM;
    struct buf *out = &w->out;
    size_t before = buf_len(out);
    /* over h2 a 200 without Sec-WebSocket-Accept (RFC 8441 section 5), and
     * the stream stays open: http/h2_ws takes it from here */
    int rc = resp_head(out, h2 ? 200 : 101, 1, 11);
    if (rc >= 0 && !h2) {
        static const char up[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: ";
        rc = buf_append(out, up, sizeof up - 1);
        if (rc >= 0) rc = buf_append(out, hs.accept, WS_ACCEPT_LEN);
        if (rc >= 0) rc = buf_append(out, "\r\n", 2);
    }
    if (rc >= 0 && hs.protocol[0]) {
        rc = buf_append(out, "Sec-WebSocket-Protocol: ", 24);
        if (rc >= 0) rc = buf_append(out, hs.protocol, strlen(hs.protocol));
        if (rc >= 0) rc = buf_append(out, "\r\n", 2);
    }
    if (rc >= 0 && hs.deflate) {
        rc = buf_append(out, "Sec-WebSocket-Extensions: ", 26);
        if (rc >= 0) rc = buf_append(out, hs.ext, strlen(hs.ext));
        if (rc >= 0) rc = buf_append(out, "\r\n", 2);
    }
    /* fields the handler added (a cookie, say) */
    if (rc >= 0 && buf_len(&r->extra))
        rc = buf_append(out, buf_head(&r->extra), buf_len(&r->extra));
    if (rc >= 0) rc = buf_append(out, "\r\n", 2);
    if (rc < 0) {
        buf_truncate(out, before);
        ws_session_free(ws);
        return rc;
    }
    r->status = h2 ? 200 : 101;
    r->bytes = 0;
    /* h1: the connection's from now on; h2: picked up once the handler
     * returns (h2conn's on_request), the stream's then */
    if (!h2) ws_session_carry(ws, &ws_h1_io, c, &c->out);
    c->ws = ws;
    return 0;
}

int berth_ws_send(berth_ws *ws, int binary, const void *data, size_t len)
{
    if (!ws || (len && !data)) return BERTH_EUSAGE;
    return ws_session_queue(ws, binary ? WS_BINARY : WS_TEXT, data, len);
}

int berth_ws_ping(berth_ws *ws, const void *data, size_t len)
{
    if (!ws || len > WS_CONTROL_MAX || (len && !data)) return BERTH_EUSAGE;
    int rc = ws_session_queue(ws, WS_PING, data, len);
    return rc < 0 ? rc : 0;
}

int berth_ws_close(berth_ws *ws, int code, const char *reason)
{
    if (!ws || (code && !ws_close_code_ok(code))) return BERTH_EUSAGE;
    size_t len = reason ? strlen(reason) : 0;
    struct ws_utf8 u = {0};
    if (len > WS_CONTROL_MAX - 2 || (len && !code) ||
        ws_utf8_feed(&u, (const uint8_t *)reason, len) < 0 || !ws_utf8_done(&u))
        return BERTH_EUSAGE;
    return ws_session_close(ws, code, reason, len);
}

size_t berth_ws_buffered(const berth_ws *ws)
{
    return ws ? ws_session_buffered(ws) : 0;
}

void berth_ws_set_data(berth_ws *ws, void *data)
{
    if (ws) ws->data = data;
}

void *berth_ws_get_data(const berth_ws *ws)
{
    return ws ? ws->data : NULL;
}

const char *berth_ws_protocol(const berth_ws *ws)
{
    return ws ? ws->protocol : "";
}

int berth_ws_peer(const berth_ws *ws, char *buf, size_t len)
{
    if (!ws) return BERTH_EUSAGE;
    return api_peer(ws->c, buf, len);
}
