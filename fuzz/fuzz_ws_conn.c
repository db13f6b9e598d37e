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
#include <berth.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define READ_MS 3000
#define OUT_MAX (64u << 20)
#define KEY     "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 §1.3's example */

static berth_server *srv;
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

static void *serve(void *arg)
{
    int rc = berth_server_run(arg);
    fprintf(stderr, "fuzz_ws_conn: the server stopped (%s)\n", berth_strerror(rc));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.no_h2 = 1;
    o.header_timeout_ms = 3000;
    o.idle_timeout_ms = 3000;
    if (berth_server_new(&srv, &o) < 0 || berth_route(srv, "GET", "/ws", 0, ws_route, NULL) < 0 ||
        berth_server_listen(srv) < 0)
        abort();
    port = berth_server_port(srv);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, srv) != 0) abort();
    pthread_detach(t);
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        err = errno;
        long long deadline = now_ms() + 10000;
        while (err == EINPROGRESS || err == EINTR) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 100) == 1) {
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            } else if (now_ms() > deadline) {
                err = ETIMEDOUT;
            }
        }
    }
    if (err) {
        fprintf(stderr, "fuzz_ws_conn: connect: %s\n", strerror(err));
        abort();
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

struct bytes {
    uint8_t *p;
    size_t n, cap;
    long long last;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (!n) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Reads what is there (waiting up to ms); 1 at EOF or reset, else 0. */
static int pump(int fd, struct bytes *o, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return 0;
    for (;;) {
        uint8_t tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r > 0) {
            if (o->n + (size_t)r > OUT_MAX) {
                fprintf(stderr, "fuzz_ws_conn: over %u bytes of answer\n", OUT_MAX);
                abort();
            }
            put(o, tmp, (size_t)r);
            o->last = now_ms();
            continue;
        }
        if (r == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 0;
        return 1;
    }
}

static void send_all(int fd, const uint8_t *p, size_t n, struct bytes *o, long long deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN) return; /* closed by the server: fine */
        if (pump(fd, o, 5) || now_ms() > deadline) return;
    }
}

/* raw deflate of p[0..n), sync-flushed, without the 00 00 ff ff tail; a
 * 512-byte window, within any window the server may tell a client */
static void deflate_raw(const uint8_t *p, size_t n, struct bytes *out)
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
        put(out, tmp, sizeof tmp - z.avail_out);
    } while (z.avail_out == 0);
    deflateEnd(&z);
    if (out->n >= 4) out->n -= 4;
}

static void frame(struct bytes *out, int flags, const uint8_t *p, size_t n, const uint8_t key[4])
{
    struct bytes z = {0};
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
    put(out, h, hl);
    size_t at = out->n;
    put(out, p, n);
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

static void fail(const char *why, const struct bytes *o)
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
static void check_frames(const uint8_t *p, size_t n, int deflate, int reset, const struct bytes *o)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) abort();
    struct bytes msg = {0}, plain = {0};
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
        put(&msg, pl, (size_t)len);
        if (!fin) continue;
        in_msg = 0;
        const uint8_t *m = msg.p;
        size_t mn = msg.n;
        if (comp) {
            put(&msg, "\0\0\xff\xff", 4);
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
                put(&plain, tmp, sizeof tmp - z.avail_out);
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

/* Handshakes; the answer's head length, or 0 when the server closed. */
static size_t handshake(int fd, const char *offer, struct bytes *o, long long deadline)
{
    char req[512];
    int k = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: chat\r\n%s\r\n",
                     offer);
    send_all(fd, (const uint8_t *)req, (size_t)k, o, deadline);
    for (;;) {
        for (size_t i = 0; i + 4 <= o->n; i++)
            if (!memcmp(o->p + i, "\r\n\r\n", 4)) return i + 4;
        if (pump(fd, o, 50) || now_ms() > deadline) fail("no 101 head", o);
    }
}

static void alive(void)
{
    struct bytes o = {0};
    int fd = dial();
    size_t hl = handshake(fd, offers[0], &o, now_ms() + 10000);
    close(fd);
    if (hl < 12 || memcmp(o.p, "HTTP/1.1 101", 12)) fail("the server no longer upgrades", &o);
    free(o.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bytes o, in;
    if (size < 1) return 0;
    const char *offer = offers[data[0] & 3];
    int raw = (data[0] >> 2) & 1;
    const uint8_t *p = data + 1, *end = data + size;
    uint8_t key[4] = {0x12, 0x34, (uint8_t)size, data[0]};
    in.n = 0;
    if (raw) {
        put(&in, p, (size_t)(end - p));
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
    o.n = 0;
    int fd = dial();
    long long deadline = now_ms() + READ_MS;
    size_t hl = handshake(fd, offer, &o, deadline);
    const char *head = (const char *)o.p;
    if (memcmp(head, "HTTP/1.1 101 ", 13) ||
        !has(head, hl, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n") ||
        !has(head, hl, "\r\nSec-WebSocket-Protocol: chat\r\n"))
        fail("a bad 101", &o);
    int deflate = has(head, hl, "permessage-deflate");
    if (deflate && !*offer) fail("deflate agreed unasked", &o);
    int reset = has(head, hl, "server_no_context_takeover");
    send_all(fd, in.p, in.n, &o, deadline + 2000);
    shutdown(fd, SHUT_WR);
    int eof = 0;
    o.last = now_ms();
    while (!(eof = pump(fd, &o, 50)) && now_ms() - o.last < READ_MS) {
    }
    close(fd);
    if (!eof) fail("no close after our EOF", &o);
    check_frames(o.p + hl, o.n - hl, deflate, reset, &o);
    alive();
    return 0;
}
