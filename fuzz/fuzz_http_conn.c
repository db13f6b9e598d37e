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
#include <berth.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define READ_MS  2000 /* the server must have closed by then after our EOF */
#define SPLIT_MS 1    /* pause between the two pieces, so they are two reads */
/* what 4 KiB of requests can draw today: ~130 GETs of a 128 KiB file, or
 * multipart answers to ranges that repeat (the latter are being bounded) */
#define OUT_MAX (256u << 20)

/* [0]: with the /echo route (the embedding API's path); [1]: no routes, as
 * `berth serve` runs (the static fast path); [2]: the same with
 * --proxy-protocol, for inputs that begin with a PROXY v1 or v2 signature */
static berth_server *srv[3];
static int ports[3];
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

/* /later: answered by a thread; a client gone meanwhile makes that answer
 * BERTH_ERR_GONE, which releases the request all the same */
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
    fprintf(stderr, "fuzz_http_conn: the server stopped (%s)\n", berth_strerror(rc));
    abort(); /* it must never stop on its own */
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
    static const char *const names[] = {"a.txt", "index.html", "dir/b.css", "big.bin", "dir", ""};
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
    snprintf(root, sizeof root, "%s/fuzz_http_conn.XXXXXX", base);
    if (!mkdtemp(root)) abort();
    char d[160];
    snprintf(d, sizeof d, "%s/dir", root);
    if (mkdir(d, 0755) < 0) abort();
    atexit(remove_root);
    put_file("a.txt", "alpha\n", 10);
    put_file("index.html", "<!DOCTYPE html><title>i</title>\n", 1);
    put_file("dir/b.css", "b{}\n", 3);
    put_file("big.bin", "0123456789abcdef", 8192); /* 128 KiB: more than one send */

    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.root = root;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.no_h2 = 1; /* HTTP/1.x is what is checked: no h2c by prior knowledge */
    o.max_body = 4096;
    o.header_timeout_ms = 3000;
    o.idle_timeout_ms = 3000;
    struct berth_route_opts sbody_opts = {.on_body = sbody_piece, .max_body = 4096};
    for (int i = 0; i < 3; i++) {
        o.proxy_protocol = i == 2;
        if (berth_server_new(&srv[i], &o) < 0 ||
            (i == 0 && berth_route(srv[i], NULL, "/echo", 0, echo, NULL) < 0) ||
            (i == 0 && berth_route_opts(srv[i], NULL, "/sbody", 0, sbody, NULL, &sbody_opts) < 0) ||
            (i == 0 && berth_route(srv[i], NULL, "/later", 0, later, NULL) < 0) ||
            berth_server_listen(srv[i]) < 0)
            abort();
        ports[i] = berth_server_port(srv[i]);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, srv[i]) != 0) abort();
        pthread_detach(t);
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects (non-blocking, so a signal — libFuzzer's SIGALRM — interrupting
 * the wait only means waiting again). */
static int dial(int port)
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
        fprintf(stderr, "fuzz_http_conn: connect: %s\n", strerror(err));
        abort();
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* the bytes received on one connection */
struct out {
    char *p;
    size_t n, cap;
    long long last; /* when bytes last arrived */
};

/* Reads what is there (waiting up to ms); 1 at EOF or reset, else 0. */
static int pump(int fd, struct out *o, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return 0;
    for (;;) {
        if (o->n == o->cap) {
            if (o->cap >= OUT_MAX) {
                fprintf(stderr, "fuzz_http_conn: over %u bytes of answer\n", OUT_MAX);
                abort();
            }
            size_t cap = o->cap ? 2 * o->cap : 1u << 16;
            char *q = realloc(o->p, cap);
            if (!q) abort();
            o->p = q;
            o->cap = cap;
        }
        ssize_t r = recv(fd, o->p + o->n, o->cap - o->n, 0);
        if (r > 0) {
            o->n += (size_t)r;
            o->last = now_ms();
            continue;
        }
        if (r == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 0;
        return 1; /* ECONNRESET: the server closed with our bytes unread */
    }
}

/* Sends everything, reading the answer meanwhile (the server may stop
 * reading while its output is not taken). */
static void send_all(int fd, const char *p, size_t n, struct out *o, long long deadline)
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

/* -- checking the responses -- */

struct resp_scan {
    const char *p;
    size_t n;
};

static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int name_is(const char *p, size_t n, const char *lit)
{
    if (strlen(lit) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
        if (c != lit[i]) return 0;
    }
    return 1;
}

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
            if (!tchar((unsigned char)*q)) return -1;
        const char *v = colon + 1, *ve = nl - 1;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        for (const char *q = v; q < ve; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) return -1;
        size_t nn = (size_t)(colon - line), vn = (size_t)(ve - v);
        if (name_is(line, nn, "content-length")) {
            h->ncl++;
            long long x = 0;
            if (!vn) return -1;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9' || x > (1ll << 40)) return -1;
                x = x * 10 + (v[i] - '0');
            }
            h->clen = x;
        } else if (name_is(line, nn, "transfer-encoding")) {
            h->te = 1;
        } else if (name_is(line, nn, "connection")) {
            if (vn == 5 && name_is(v, 5, "close")) h->close = 1;
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

static void alive(int port)
{
    static const char req[] = "PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"
                              "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static struct out o;
    o.n = 0;
    int fd = dial(port);
    long long deadline = now_ms() + 10000;
    size_t skip = port == ports[2] ? 0 : 40; /* the PROXY line only for the server that reads it */
    send_all(fd, req + skip, sizeof req - 1 - skip, &o, deadline);
    while (!pump(fd, &o, 100))
        if (now_ms() > deadline) break;
    close(fd);
    if (o.n < 12 || memcmp(o.p, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "fuzz_http_conn: the server no longer answers (%zu bytes)\n", o.n);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct out o;
    if (size < 1) return 0;
    const char *in = (const char *)data + 1;
    int which = data[0] & 1; /* the server; the other bits pick the cut */
    size_t n = size - 1, cut = n * (data[0] >> 1) / 128;
    static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";
    if ((n >= 6 && !memcmp(in, "PROXY ", 6)) || (n >= 12 && !memcmp(in, v2sig, 12))) which = 2;
    o.n = 0;
    int fd = dial(ports[which]);
    long long deadline = now_ms() + READ_MS;
    send_all(fd, in, cut, &o, deadline);
    if (cut && cut < n) pump(fd, &o, SPLIT_MS);
    send_all(fd, in + cut, n - cut, &o, deadline);
    shutdown(fd, SHUT_WR);
    /* the bound is on silence, not on the whole answer, which may be large */
    int eof = 0;
    o.last = now_ms();
    while (!(eof = pump(fd, &o, 50)) && now_ms() - o.last < READ_MS) {
    }
    close(fd);
    if (!eof) {
        fprintf(stderr, "fuzz_http_conn: no close and no byte %d ms after our EOF (%zu read)\n",
                READ_MS, o.n);
        abort();
    }
    budget = 10000;
    if (!well_formed(o.p, 0, o.n, count(data, size, "HEAD"))) {
        fprintf(stderr, "fuzz_http_conn: malformed output (%zu bytes):\n%.*s\n", o.n,
                (int)(o.n < 2000 ? o.n : 2000), o.p);
        abort();
    }
    alive(ports[which]);
    return 0;
}
