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
#include "harness.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define READ_MS 3000
#define STREAMS 256 /* stream ids checked exactly: the records name ids 0..255 */

static int port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_setup("fuzz_h2_conn", 64u << 20);
    const char *root = fz_docroot("fuzz_h2_conn");
    struct berth_opts o;
    fz_opts(&o);
    o.root = root;
    o.max_body = 4096;
    berth_server *srv;
    if (berth_server_new(&srv, &o) < 0 || berth_route(srv, NULL, "/echo", 0, fz_echo, NULL) < 0 ||
        berth_route(srv, NULL, "/later", 0, fz_later, NULL) < 0)
        abort();
    port = fz_serve(srv);
    return 0;
}

static void fail(const char *why, uint32_t sid, const struct fz_bytes *o)
{
    fprintf(stderr, "fuzz_h2_conn: %s (stream %u; %zu bytes of answer)\n", why, sid, o->n);
    abort();
}

/* One header block: decodes it, and checks it begins with :status. */
static void header_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t n, uint32_t sid,
                         const struct fz_bytes *o)
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

static void check_frames(const uint8_t *p, size_t n, const struct fz_bytes *o)
{
    enum { IDLE, HEADERS, ENDED };
    static uint8_t st[STREAMS];
    memset(st, 0, sizeof st);
    nghttp2_hd_inflater *inf;
    if (nghttp2_hd_inflate_new(&inf) != 0) abort();
    struct fz_bytes block = {0};
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
        fz_put(&block, pl, len);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static struct fz_bytes o, in;
    if (size < 1) return 0;
    in.n = 0;
    fz_put(&in, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    if (data[0] & 1)
        fz_h2_records(data + 1, size - 1, &in);
    else
        fz_put(&in, data + 1, size - 1);
    o.n = 0;
    int fd = fz_dial(port);
    fz_send_all(fd, in.p, in.n, &o, fz_now_ms() + READ_MS);
    if (!fz_finish(fd, &o, READ_MS)) fail("no close after our EOF", 0, &o);
    check_frames(o.p, o.n, &o);
    fz_alive(port, req, sizeof req - 1, "HTTP/1.1 200");
    return 0;
}
