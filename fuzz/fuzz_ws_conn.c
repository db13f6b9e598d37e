/* libFuzzer target for a WebSocket connection end to end: the handshake
 * through the embedding API (berth_ws_upgrade: ws_api.c, ws_hs.c), then the
 * session (ws_session.c: frames, fragments, control frames, the closing
 * handshake, permessage-deflate both ways, the send queue) on a REAL berth
 * server started once through the public API on 127.0.0.1, one worker, a
 * route /ws that echoes every message.
 *
 * Per input: byte 0 picks the extension offer (none, or permessage-deflate
 * with one of a few parameter sets) and the mode; the rest is, in raw mode,
 * sent as is after the handshake, else read as records
 *   [flags][len][len bytes]: flags bits 0-3 the opcode, bit 4 RSV1, bit 5
 *   compress the payload with zlib first (raw deflate, sync flush, the
 *   00 00 ff ff tail dropped; sets RSV1), bit 6 send unmasked, bit 7 FIN;
 * which the harness frames (masked with a key taken from the data, the
 * shortest length form).  Then the write side is shut and the answer read
 * until the server closes.  Invariants:
 *   - the answer begins "HTTP/1.1 101" with the right Sec-WebSocket-Accept,
 *     and permessage-deflate only when offered;
 *   - after the head come well-formed server frames only: unmasked, no RSV2/3,
 *     RSV1 only on the first frame of a data message and only when deflate
 *     was agreed, known opcodes, control frames final and <= 125 bytes, the
 *     shortest length form, continuation only inside a message, nothing
 *     after a close frame, whose code is one a server may send and whose
 *     reason is UTF-8;
 *   - every compressed message the server sends inflates with zlib (the
 *     context kept or reset as agreed) and every text message is UTF-8;
 *   - after our EOF the server closes, with no silence over READ_MS first;
 *   - the server still answers a fresh handshake afterwards. */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define READ_MS 3000
#define KEY     "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 §1.3's example */

static int port;

static void on_msg(berth_ws *ws, int binary, const void *p, size_t n, void *arg)
{
    (void)arg;
    berth_ws_send(ws, binary, p, n); /* -EPIPE once closing: fine */
}

static void ws_route(berth_req *r, void *arg)
{
    (void)arg;
    static const struct berth_ws_cb cb = {.message = on_msg};
    struct berth_ws_opts o;
    berth_ws_opts_init(&o);
    o.max_message = 8192;
    o.protocols = "chat";
    berth_ws_upgrade(r, &cb, NULL, &o);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_setup("fuzz_ws_conn", 64u << 20);
    struct berth_opts o;
    fz_opts(&o);
    o.no_h2 = 1;
    berth_server *srv;
    if (berth_server_new(&srv, &o) < 0 || berth_route(srv, "GET", "/ws", 0, ws_route, NULL) < 0)
        abort();
    port = fz_serve(srv);
    return 0;
}

/* raw deflate of p[0..n), sync-flushed, without the 00 00 ff ff tail; a
 * 512-byte window, within any window the server may tell a client */
static void deflate_raw(const uint8_t *p, size_t n, struct fz_bytes *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, -9, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uint8_t tmp[1024];
    z.next_in = (uint8_t *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    do {
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        deflate(&z, Z_SYNC_FLUSH);
        fz_put(out, tmp, sizeof tmp - z.avail_out);
    } while (z.avail_out == 0);
    deflateEnd(&z);
    if (out->n >= 4) out->n -= 4;
}

static void frame(struct fz_bytes *out, int flags, const uint8_t *p, size_t n, const uint8_t key[4])
{
    struct fz_bytes z = {0};
    if (flags & 0x20) {
        deflate_raw(p, n, &z);
        p = z.p;
        n = z.n;
        flags |= 0x10;
    }
    uint8_t h[14];
    size_t hl = 2;
    int masked = !(flags & 0x40);
    h[0] = (uint8_t)((flags & 0x80) | ((flags & 0x10) << 2) | (flags & 0x0f));
    if (n < 126) {
        h[1] = (uint8_t)n;
    } else {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    }
    if (masked) {
        h[1] |= 0x80;
        memcpy(h + hl, key, 4);
        hl += 4;
    }
    fz_put(out, h, hl);
    size_t at = out->n;
    fz_put(out, p, n);
    if (masked)
        for (size_t i = 0; i < n; i++)
            out->p[at + i] ^= key[i & 3];
    free(z.p);
}

/* -- checking the answer -- */

static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void fail(const char *why, const struct fz_bytes *o)
{
    fprintf(stderr, "fuzz_ws_conn: %s (%zu bytes of answer)\n", why, o->n);
    abort();
}

static int has(const char *head, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        if (!strncasecmp(head + i, lit, l)) return 1;
    return 0;
}

/* Checks the server's frames in p[0..n); deflate: agreed; reset: the
 * server resets its compressor after each message. */
static void check_frames(const uint8_t *p, size_t n, int deflate, int reset,
                         const struct fz_bytes *o)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) abort();
    struct fz_bytes msg = {0}, plain = {0};
    int in_msg = 0, op = 0, comp = 0, closed = 0;
    size_t i = 0;
    while (i < n) {
        if (closed) fail("bytes after the close frame", o);
        if (n - i < 2) fail("a cut frame head", o);
        uint8_t b0 = p[i], b1 = p[i + 1];
        int fin = b0 >> 7, rsv1 = (b0 >> 6) & 1, fop = b0 & 15;
        if (b0 & 0x30) fail("RSV2/RSV3 set", o);
        if (b1 & 0x80) fail("a masked server frame", o);
        uint64_t len = b1 & 127;
        size_t hl = 2;
        if (len == 126) {
            if (n - i < 4) fail("a cut frame head", o);
            len = (uint64_t)p[i + 2] << 8 | p[i + 3];
            hl = 4;
            if (len < 126) fail("a longer length form than needed", o);
        } else if (len == 127) {
            if (n - i < 10) fail("a cut frame head", o);
            len = 0;
            for (int k = 0; k < 8; k++)
                len = len << 8 | p[i + 2 + k];
            hl = 10;
            if (len < 65536 || len >> 63) fail("a bad 64-bit length", o);
        }
        if (len > n - i - hl) fail("a cut frame", o);
        const uint8_t *pl = p + i + hl;
        i += hl + (size_t)len;
        if (fop >= 8) {
            if (fop > 10) fail("an unknown control opcode", o);
            if (!fin || len > 125 || rsv1) fail("a bad control frame", o);
            if (fop == 8) {
                closed = 1;
                if (len == 1) fail("a close payload of one byte", o);
                if (len >= 2) {
                    int code = pl[0] << 8 | pl[1];
                    if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                          (code >= 3000 && code <= 4999)))
                        fail("a close code a server may not send", o);
                    if (!utf8_ok(pl + 2, (size_t)len - 2)) fail("a close reason not UTF-8", o);
                }
            }
            continue;
        }
        if (fop > 2) fail("an unknown data opcode", o);
        if (fop == 0) {
            if (!in_msg) fail("a continuation outside a message", o);
            if (rsv1) fail("RSV1 on a continuation", o);
        } else {
            if (in_msg) fail("a new message inside a message", o);
            if (rsv1 && !deflate) fail("RSV1 without permessage-deflate", o);
            in_msg = 1, op = fop, comp = rsv1, msg.n = 0;
        }
        fz_put(&msg, pl, (size_t)len);
        if (!fin) continue;
        in_msg = 0;
        const uint8_t *m = msg.p;
        size_t mn = msg.n;
        if (comp) {
            fz_put(&msg, "\0\0\xff\xff", 4);
            plain.n = 0;
            z.next_in = msg.p;
            z.avail_in = (uInt)msg.n;
            int zr;
            do {
                uint8_t tmp[4096];
                z.next_out = tmp;
                z.avail_out = sizeof tmp;
                zr = inflate(&z, Z_SYNC_FLUSH);
                if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END)
                    fail("a compressed message zlib cannot inflate", o);
                fz_put(&plain, tmp, sizeof tmp - z.avail_out);
                if (zr == Z_STREAM_END) inflateReset(&z);
            } while (z.avail_in || z.avail_out == 0);
            if (reset) inflateReset(&z);
            m = plain.p, mn = plain.n;
        }
        if (op == 1 && !utf8_ok(m, mn)) fail("a text message not UTF-8", o);
    }
    inflateEnd(&z);
    free(msg.p);
    free(plain.p);
}

static const char *const offers[] = {
    "",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    ("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover\r\n"),
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n",
};

/* the opening handshake's request, offering offer (a header line or "") */
static size_t ws_request(char *req, size_t cap, const char *offer)
{
    int k = snprintf(req, cap,
                     "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: chat\r\n%s\r\n",
                     offer);
    if (k < 0 || (size_t)k >= cap) abort();
    return (size_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_bytes o, in;
    if (size < 1) return 0;
    const char *offer = offers[data[0] & 3];
    int raw = (data[0] >> 2) & 1;
    const uint8_t *p = data + 1, *end = data + size;
    uint8_t key[4] = {0x12, 0x34, (uint8_t)size, data[0]};
    in.n = 0;
    if (raw) {
        fz_put(&in, p, (size_t)(end - p));
    } else {
        while (end - p >= 2) {
            int flags = p[0];
            size_t len = p[1];
            p += 2;
            if (len > (size_t)(end - p)) len = (size_t)(end - p);
            frame(&in, flags, p, len, key);
            p += len;
        }
    }
    char req[512];
    size_t reqn = ws_request(req, sizeof req, offer);
    o.n = 0;
    int fd = fz_dial(port);
    long long deadline = fz_now_ms() + READ_MS;
    fz_send_all(fd, req, reqn, &o, deadline);
    size_t hl = fz_read_head(fd, &o, deadline);
    if (!hl) fail("no 101 head", &o);
    const char *head = (const char *)o.p;
    if (memcmp(head, "HTTP/1.1 101 ", 13) ||
        !has(head, hl, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n") ||
        !has(head, hl, "\r\nSec-WebSocket-Protocol: chat\r\n"))
        fail("a bad 101", &o);
    int deflate = has(head, hl, "permessage-deflate");
    if (deflate && !*offer) fail("deflate agreed unasked", &o);
    int reset = has(head, hl, "server_no_context_takeover");
    fz_send_all(fd, in.p, in.n, &o, deadline + 2000);
    if (!fz_finish(fd, &o, READ_MS)) fail("no close after our EOF", &o);
    check_frames(o.p + hl, o.n - hl, deflate, reset, &o);
    reqn = ws_request(req, sizeof req, offers[0]);
    fz_alive(port, req, reqn, "HTTP/1.1 101");
    return 0;
}
