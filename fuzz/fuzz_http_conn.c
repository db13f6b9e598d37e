/* libFuzzer target for the HTTP connection state machine: body discard,
 * pipelining, Expect, chunked, errors mid-stream — where request smuggling
 * lives.  Whole byte streams go through the REAL server code: a berth server
 * started once through the public API (include/berth.h) on 127.0.0.1, one
 * worker, a temp root with a few files — twice: one server with a route
 * /echo (any method) that answers the length of the body it received, a
 * route /sbody that takes its body streamed (API v2: pausing and resuming
 * on every piece, answering its length at the end) and /later, answered
 * from another thread (deferred), and one with no route (as `berth serve`
 * runs, through the static fast path).
 *
 * A third server, static, reads a PROXY protocol header first
 * (--proxy-protocol: transport.c's preamble, then the same exchange); an
 * input that begins with "PROXY " or the v2 signature goes to it.
 *
 * Per input: byte 0 picks the server (low bit) and where the stream is cut
 * in two (the server then sees the pieces in separate reads, most of the
 * time: we pause SPLIT_MS between them); the rest is sent on a fresh
 * connection, then the write side is shut down and the answer read until
 * the server closes.  Invariants:
 *   - after our EOF the server closes, with no silence longer than READ_MS
 *     before it (a typical input takes about 1 ms; the bound only turns a
 *     held connection into a failure);
 *   - the output is a sequence of well-formed HTTP/1.x responses: a status
 *     line, header lines "name: value", a blank line; 1xx responses (100
 *     Continue) have no body; 204/304 have no Content-Length and no body;
 *     every other response has exactly one Content-Length, no
 *     Transfer-Encoding, and exactly that many body bytes follow — or none,
 *     for an answer to a HEAD (accepted only as often as "HEAD" occurs in
 *     the input);
 *   - nothing follows a response that says "Connection: close";
 *   - the server is still alive: a second, tiny request gets its 200.
 * Real sockets and the real server, not an in-memory entry point: what is
 * checked is what a client sees, TCP resets included. */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define READ_MS  2000 /* the server must have closed by then after our EOF */
#define SPLIT_MS 1    /* pause between the two pieces, so they are two reads */
/* what 4 KiB of requests can draw today: ~130 GETs of a 128 KiB file, or
 * multipart answers to ranges that repeat (the latter are being bounded) */
#define OUT_MAX (256u << 20)

/* [0]: with the /echo route (the embedding API's path); [1]: no routes, as
 * `berth serve` runs (the static fast path); [2]: the same with
 * --proxy-protocol, for inputs that begin with a PROXY v1 or v2 signature */
static int ports[3];

/* /sbody: the body counted piece by piece; each piece pauses the body and
 * resumes it at once (the resume goes through the worker's wake list) */
static void sbody_piece(berth_req *r, const void *data, size_t len, int end, void *arg)
{
    (void)data;
    (void)arg;
    size_t *n = berth_req_user(r);
    *n += len;
    if (!end) {
        if (berth_req_pause(r) < 0 || berth_req_resume(r) < 0) abort();
        return;
    }
    char b[64];
    int k = snprintf(b, sizeof b, "len=%zu\n", *n);
    free(n);
    berth_req_set_user(r, NULL);
    berth_respond(r, 200, "text/plain", b, (size_t)k);
}

static void sbody_gone(berth_req *r, void *arg)
{
    (void)arg;
    free(berth_req_user(r));
    berth_resp_end(r); /* released: the client left before the end */
}

static void sbody(berth_req *r, void *arg)
{
    (void)arg;
    size_t *n = calloc(1, sizeof *n);
    if (!n) abort();
    berth_req_set_user(r, n);
    berth_req_callbacks(r, NULL, sbody_gone, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_setup("fuzz_http_conn", OUT_MAX);
    const char *root = fz_docroot("fuzz_http_conn");
    struct berth_opts o;
    fz_opts(&o);
    o.root = root;
    o.no_h2 = 1; /* HTTP/1.x is what is checked: no h2c by prior knowledge */
    o.max_body = 4096;
    struct berth_route_opts sbody_opts = {.on_body = sbody_piece, .max_body = 4096};
    for (int i = 0; i < 3; i++) {
        o.proxy_protocol = i == 2;
        berth_server *srv;
        if (berth_server_new(&srv, &o) < 0 ||
            (i == 0 && berth_route(srv, NULL, "/echo", 0, fz_echo, NULL) < 0) ||
            (i == 0 && berth_route_opts(srv, NULL, "/sbody", 0, sbody, NULL, &sbody_opts) < 0) ||
            (i == 0 && berth_route(srv, NULL, "/later", 0, fz_later, NULL) < 0))
            abort();
        ports[i] = fz_serve(srv);
    }
    return 0;
}

/* -- checking the responses -- */

struct resp_scan {
    const char *p;
    size_t n;
};

struct head {
    int status;
    size_t len;         /* through the blank line */
    long long clen;     /* -1: none */
    int close, te, ncl; /* Connection: close; Transfer-Encoding; Content-Length count */
};

/* Parses one response head at p[0..n); 0 and *h, or -1 when malformed or
 * incomplete. */
static int parse_head(const char *p, size_t n, struct head *h)
{
    memset(h, 0, sizeof *h);
    h->clen = -1;
    if (n < 17 || (memcmp(p, "HTTP/1.1 ", 9) && memcmp(p, "HTTP/1.0 ", 9))) return -1;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9') return -1;
    if (p[12] != ' ' || p[9] == '0') return -1;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    const char *e = p + n, *line = memchr(p, '\n', n);
    if (!line || line[-1] != '\r') return -1;
    for (const char *q = p + 13; q < line - 1; q++)
        if ((unsigned char)*q < 0x20 && *q != '\t') return -1;
    for (line++;;) {
        const char *nl = memchr(line, '\n', (size_t)(e - line));
        if (!nl || nl == line || nl[-1] != '\r') return -1;
        if (nl == line + 1) { /* the blank line */
            h->len = (size_t)(nl + 1 - p);
            return 0;
        }
        const char *colon = memchr(line, ':', (size_t)(nl - line));
        if (!colon || colon == line) return -1;
        for (const char *q = line; q < colon; q++)
            if (!fz_tchar((unsigned char)*q)) return -1;
        const char *v = colon + 1, *ve = nl - 1;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        for (const char *q = v; q < ve; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) return -1;
        size_t nn = (size_t)(colon - line), vn = (size_t)(ve - v);
        if (fz_eq_ci(line, nn, "content-length")) {
            h->ncl++;
            long long x = 0;
            if (!vn) return -1;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9' || x > (1ll << 40)) return -1;
                x = x * 10 + (v[i] - '0');
            }
            h->clen = x;
        } else if (fz_eq_ci(line, nn, "transfer-encoding")) {
            h->te = 1;
        } else if (fz_eq_ci(line, nn, "connection")) {
            if (vn == 5 && fz_eq_ci(v, 5, "close")) h->close = 1;
        }
        line = nl + 1;
    }
}

static int budget; /* bounds the backtracking over HEAD answers */

/* 1 when out[pos..n) is a sequence of well-formed responses, with at most
 * `heads` of them answering a HEAD (no body after a Content-Length). */
static int well_formed(const char *out, size_t pos, size_t n, int heads)
{
    while (pos < n) {
        if (--budget < 0) return 0;
        struct head h;
        if (parse_head(out + pos, n - pos, &h) < 0) return 0;
        pos += h.len;
        if (h.te) return 0; /* we never send a chunked response */
        if (h.status < 200) {
            if (h.status != 100 || h.ncl || h.close) return 0;
            continue;
        }
        if (h.status == 204 || h.status == 304) {
            if (h.ncl) return 0;
            if (h.close) return pos == n;
            continue;
        }
        if (h.ncl != 1) return 0;
        /* an answer to HEAD: no body, the next response right after */
        if (heads > 0 && h.clen > 0 && !h.close &&
            (pos == n || (n - pos >= 7 && !memcmp(out + pos, "HTTP/1.", 7))) &&
            well_formed(out, pos, n, heads - 1))
            return 1;
        if (heads > 0 && h.clen > 0 && h.close && pos == n) return 1;
        if ((unsigned long long)h.clen > n - pos) return 0;
        pos += (size_t)h.clen;
        if (h.close) return pos == n; /* nothing after Connection: close */
    }
    return 1;
}

static int count(const uint8_t *p, size_t n, const char *lit)
{
    int k = 0;
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        k += !memcmp(p + i, lit, l);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char req[] = "PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"
                              "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static struct fz_bytes o;
    if (size < 1) return 0;
    const char *in = (const char *)data + 1;
    int which = data[0] & 1; /* the server; the other bits pick the cut */
    size_t n = size - 1, cut = n * (data[0] >> 1) / 128;
    static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";
    if ((n >= 6 && !memcmp(in, "PROXY ", 6)) || (n >= 12 && !memcmp(in, v2sig, 12))) which = 2;
    o.n = 0;
    int fd = fz_dial(ports[which]);
    long long deadline = fz_now_ms() + READ_MS;
    fz_send_all(fd, in, cut, &o, deadline);
    if (cut && cut < n) fz_pump(fd, &o, SPLIT_MS);
    fz_send_all(fd, in + cut, n - cut, &o, deadline);
    if (!fz_finish(fd, &o, READ_MS)) {
        fprintf(stderr, "fuzz_http_conn: no close and no byte %d ms after our EOF (%zu read)\n",
                READ_MS, o.n);
        abort();
    }
    budget = 10000;
    const char *out = (const char *)o.p;
    if (!well_formed(out, 0, o.n, count(data, size, "HEAD"))) {
        fprintf(stderr, "fuzz_http_conn: malformed output (%zu bytes):\n%.*s\n", o.n,
                (int)(o.n < 2000 ? o.n : 2000), out);
        abort();
    }
    size_t skip = which == 2 ? 0 : 40; /* the PROXY line only for the server that reads it */
    fz_alive(ports[which], req + skip, sizeof req - 1 - skip, "HTTP/1.1 200");
    return 0;
}
