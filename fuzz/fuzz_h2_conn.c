/* libFuzzer target for HTTP/2 on a real connection: h2c with prior
 * knowledge (the preface detection in conn.c, h2conn.c's glue between the
 * socket, the session and the exchange layer), answered by the static file
 * path, the embedding API (a body-echo route, a deferred route) and errors
 * — what fuzz_h2 (the session alone, in memory) does not reach.  A berth
 * server is started once through the public API on 127.0.0.1, one worker,
 * a temp root with a few files.
 *
 * Input: byte 0's low bit picks raw bytes or records (as fuzz_h2 reads them:
 * [op][stream][len][len bytes], op&3 0 raw, 1 HEADERS from "name:value"
 * lines HPACK-encoded by nghttp2's deflater, 2 DATA, 3 RST_STREAM; op&4
 * END_STREAM, op&8 leaves END_HEADERS off).  The client preface goes first,
 * then the input; the write side is shut and the answer read to the close.
 * Invariants:
 *   - the server closes after our EOF, with no silence over READ_MS first;
 *   - its output is whole frames, the first its SETTINGS; SETTINGS, PING
 *     and GOAWAY on stream 0 with their fixed lengths, HEADERS, DATA and
 *     RST_STREAM on odd (client) streams, WINDOW_UPDATE of 4 bytes;
 *   - every header block decodes with one HPACK inflater kept across the
 *     connection, begins with a 3-digit :status, and comes before DATA on
 *     its stream; nothing follows END_STREAM on a stream;
 *   - the server still answers an HTTP/1.1 request afterwards. */
#include <berth.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define READ_MS 3000
#define OUT_MAX (64u << 20)
#define STREAMS 256 /* stream ids checked exactly: the records name ids 0..255 */

static berth_server *srv;
static int port;
static char root[128];

static void echo(berth_req *r, void *arg)
{
    (void)arg;
    size_t n = 0;
    berth_req_body(r, &n);
    char b[64];
    int k = snprintf(b, sizeof b, "len=%zu\n", n);
    berth_respond(r, 200, "text/plain", b, (size_t)k);
}

static void *later_thread(void *h)
{
    berth_respond(h, 200, "text/plain", "later\n", 6);
    return NULL;
}

static void later(berth_req *r, void *arg)
{
    (void)arg;
    berth_req *h;
    pthread_t t;
    if (berth_req_defer(r, &h) < 0 || pthread_create(&t, NULL, later_thread, h) != 0) abort();
    pthread_detach(t);
}

static void *serve(void *arg)
{
    int rc = berth_server_run(arg);
    fprintf(stderr, "fuzz_h2_conn: the server stopped (%s)\n", berth_strerror(rc));
    abort();
}

static void put_file(const char *name, const char *text, size_t reps)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    for (size_t i = 0; i < reps; i++)
        fputs(text, f);
    if (fclose(f) != 0) abort();
}

static void remove_root(void)
{
    static const char *const names[] = {"a.txt", "index.html", "big.bin", ""};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        remove(p);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof root, "%s/fuzz_h2_conn.XXXXXX", base);
    if (!mkdtemp(root)) abort();
    atexit(remove_root);
    put_file("a.txt", "alpha\n", 10);
    put_file("index.html", "<!DOCTYPE html><title>i</title>\n", 1);
    put_file("big.bin", "0123456789abcdef", 8192); /* 128 KiB: past the first windows */
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.root = root;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.max_body = 4096;
    o.header_timeout_ms = 3000;
    o.idle_timeout_ms = 3000;
    if (berth_server_new(&srv, &o) < 0 || berth_route(srv, NULL, "/echo", 0, echo, NULL) < 0 ||
        berth_route(srv, NULL, "/later", 0, later, NULL) < 0 || berth_server_listen(srv) < 0)
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
        fprintf(stderr, "fuzz_h2_conn: connect: %s\n", strerror(err));
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

static int pump(int fd, struct bytes *o, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return 0;
    for (;;) {
        uint8_t tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r > 0) {
            if (o->n + (size_t)r > OUT_MAX) {
                fprintf(stderr, "fuzz_h2_conn: over %u bytes of answer\n", OUT_MAX);
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
        if (w < 0 && errno != EAGAIN) return;
        if (pump(fd, o, 5) || now_ms() > deadline) return;
    }
}

static void frame(struct bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
                  size_t n)
{
    uint8_t h[9] = {
        (uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    put(b, h, 9);
    put(b, p, n);
}

static size_t fields(const uint8_t *p, size_t n, nghttp2_nv *nv, size_t cap)
{
    size_t k = 0, at = 0;
    while (at < n && k < cap) {
        const uint8_t *eol = memchr(p + at, '\n', n - at);
        size_t len = eol ? (size_t)(eol - (p + at)) : n - at;
        const uint8_t *line = p + at, *colon = len > 1 ? memchr(line + 1, ':', len - 1) : NULL;
        if (colon) {
            size_t nl = (size_t)(colon - line);
            nv[k++] = (nghttp2_nv){(uint8_t *)(uintptr_t)line, (uint8_t *)(uintptr_t)(colon + 1),
                                   nl, len - nl - 1, NGHTTP2_NV_FLAG_NO_COPY_NAME};
        }
        at += len + 1;
    }
    return k;
}

static void records(const uint8_t *d, size_t n, struct bytes *out)
{
    nghttp2_hd_deflater *dfl;
    if (nghttp2_hd_deflate_new(&dfl, 4096) != 0) abort();
    frame(out, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    static uint8_t block[8192];
    while (n >= 3) {
        uint8_t op = d[0];
        uint32_t sid = d[1];
        size_t len = d[2] < n - 3 ? d[2] : n - 3;
        const uint8_t *p = d + 3;
        d += 3 + len;
        n -= 3 + len;
        uint8_t end = op & 4 ? NGHTTP2_FLAG_END_STREAM : 0;
        if ((op & 3) == 0) {
            put(out, p, len);
        } else if ((op & 3) == 1) {
            nghttp2_nv nv[32];
            size_t k = fields(p, len, nv, 32);
            ssize_t bl = nghttp2_hd_deflate_hd(dfl, block, sizeof block, nv, k);
            if (bl < 0) break;
            frame(out, NGHTTP2_HEADERS, (uint8_t)(end | (op & 8 ? 0 : NGHTTP2_FLAG_END_HEADERS)),
                  sid, block, (size_t)bl);
        } else if ((op & 3) == 2) {
            frame(out, NGHTTP2_DATA, end, sid, p, len);
        } else {
            uint8_t code[4] = {0, 0, 0, NGHTTP2_CANCEL};
            frame(out, NGHTTP2_RST_STREAM, 0, sid, code, 4);
        }
    }
    nghttp2_hd_deflate_del(dfl);
}

static void fail(const char *why, uint32_t sid, const struct bytes *o)
{
    fprintf(stderr, "fuzz_h2_conn: %s (stream %u; %zu bytes of answer)\n", why, sid, o->n);
    abort();
}

/* One header block: decodes it, and checks it begins with :status. */
static void header_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t n, uint32_t sid,
                         const struct bytes *o)
{
    int first = 1;
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t k = nghttp2_hd_inflate_hd2(inf, &nv, &fl, p, n, 1);
        if (k < 0) fail("a header block that does not decode", sid, o);
        p += k;
        n -= (size_t)k;
        if (fl & NGHTTP2_HD_INFLATE_EMIT) {
            if (first && (nv.namelen != 7 || memcmp(nv.name, ":status", 7) || nv.valuelen != 3 ||
                          nv.value[0] < '1' || nv.value[0] > '5'))
                fail("a header block not led by :status", sid, o);
            if (!first && nv.namelen && nv.name[0] == ':')
                fail("a pseudo-field after the first", sid, o);
            first = 0;
        }
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            break;
        }
        if (k == 0 && n == 0) fail("a header block cut short", sid, o);
    }
    if (first) fail("an empty header block", sid, o);
}

static void check_frames(const uint8_t *p, size_t n, const struct bytes *o)
{
    enum { IDLE, HEADERS, ENDED };
    static uint8_t st[STREAMS];
    memset(st, 0, sizeof st);
    nghttp2_hd_inflater *inf;
    if (nghttp2_hd_inflate_new(&inf) != 0) abort();
    struct bytes block = {0};
    uint32_t cont = 0; /* a header block waiting for CONTINUATION on this stream */
    size_t i = 0;
    int nth = 0;
    while (i < n) {
        if (n - i < 9) fail("a cut frame head", 0, o);
        size_t len = (size_t)p[i] << 16 | (size_t)p[i + 1] << 8 | p[i + 2];
        uint8_t type = p[i + 3], flags = p[i + 4];
        uint32_t sid = ((uint32_t)p[i + 5] << 24 | (uint32_t)p[i + 6] << 16 |
                        (uint32_t)p[i + 7] << 8 | p[i + 8]) &
                       0x7fffffff;
        if (len > n - i - 9) fail("a cut frame", sid, o);
        const uint8_t *pl = p + i + 9;
        i += 9 + len;
        if (nth++ == 0 && (type != NGHTTP2_SETTINGS || (flags & NGHTTP2_FLAG_ACK)))
            fail("the first frame is not the server's SETTINGS", sid, o);
        if (cont && type != NGHTTP2_CONTINUATION) fail("a header block interrupted", sid, o);
        switch (type) {
        case NGHTTP2_SETTINGS:
            if (sid || len % 6 || ((flags & NGHTTP2_FLAG_ACK) && len)) fail("bad SETTINGS", sid, o);
            continue;
        case NGHTTP2_PING:
            if (sid || len != 8) fail("bad PING", sid, o);
            continue;
        case NGHTTP2_GOAWAY:
            if (sid || len < 8) fail("bad GOAWAY", sid, o);
            continue;
        case NGHTTP2_WINDOW_UPDATE:
            if (len != 4) fail("bad WINDOW_UPDATE", sid, o);
            continue;
        case NGHTTP2_RST_STREAM:
            if (len != 4 || !(sid & 1)) fail("bad RST_STREAM", sid, o);
            if (sid < STREAMS) st[sid] = ENDED;
            continue;
        case NGHTTP2_HEADERS:
        case NGHTTP2_CONTINUATION:
        case NGHTTP2_DATA:
            break;
        default:
            fail("a frame type the server never sends", sid, o);
        }
        if (!(sid & 1)) fail("a stream frame on an even or zero stream", sid, o);
        int s = sid < STREAMS ? st[sid] : HEADERS;
        if (type == NGHTTP2_CONTINUATION) {
            if (cont != sid) fail("CONTINUATION without its HEADERS", sid, o);
        } else if (s == ENDED) {
            fail("a frame after END_STREAM", sid, o);
        }
        if (type == NGHTTP2_DATA) {
            if (s != HEADERS) fail("DATA before HEADERS", sid, o);
            if (flags & NGHTTP2_FLAG_END_STREAM && sid < STREAMS) st[sid] = ENDED;
            continue;
        }
        if (type == NGHTTP2_HEADERS) {
            if (flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY))
                fail("padding or priority from the server", sid, o);
            block.n = 0;
            if (flags & NGHTTP2_FLAG_END_STREAM && sid < STREAMS)
                st[sid] = ENDED;
            else if (sid < STREAMS)
                st[sid] = HEADERS;
        }
        put(&block, pl, len);
        if (flags & NGHTTP2_FLAG_END_HEADERS) {
            header_block(inf, block.p, block.n, sid, o);
            cont = 0;
        } else {
            cont = sid;
        }
    }
    nghttp2_hd_inflate_del(inf);
    free(block.p);
}

static void alive(void)
{
    static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct bytes o = {0};
    int fd = dial();
    long long deadline = now_ms() + 10000;
    send_all(fd, (const uint8_t *)req, sizeof req - 1, &o, deadline);
    while (!pump(fd, &o, 100))
        if (now_ms() > deadline) break;
    close(fd);
    if (o.n < 12 || memcmp(o.p, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "fuzz_h2_conn: the server no longer answers (%zu bytes)\n", o.n);
        abort();
    }
    free(o.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bytes o, in;
    if (size < 1) return 0;
    in.n = 0;
    put(&in, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    if (data[0] & 1)
        records(data + 1, size - 1, &in);
    else
        put(&in, data + 1, size - 1);
    o.n = 0;
    int fd = dial();
    long long deadline = now_ms() + READ_MS;
    send_all(fd, in.p, in.n, &o, deadline);
    shutdown(fd, SHUT_WR);
    int eof = 0;
    o.last = now_ms();
    while (!(eof = pump(fd, &o, 50)) && now_ms() - o.last < READ_MS) {
    }
    close(fd);
    if (!eof) fail("no close after our EOF", 0, &o);
    check_frames(o.p, o.n, &o);
    alive();
    return 0;
}
