/* h2: a server session (http/h2) driven in memory by a real nghttp2 CLIENT
 * session, or, for the attacks a well-behaved client cannot send, by raw
 * frames (their header blocks still encoded by nghttp2's HPACK deflater). */
#include "err.h"
#include "http/fcache.h"
#include "http/h2.h"
#include "http/resp.h"
#include "http/static.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the server side: what on_request saw, and how it answers ---- */

struct seen {
    int n, rejects, reject_status;
    int32_t id;
    int method, version, keep_alive;
    int64_t content_length;
    char method_str[16], target[256], path[256], host[128], inm[128], range[128], cookie[256];
    char fields[2048]; /* "name=value;" in order */
    char body[200000];
    size_t body_len;
};

struct srv {
    struct h2_session *s;
    struct seen seen;
    int rc; /* the first error of h2_session_recv */
    size_t out_bytes;
    /* how to answer: NULL leaves the request unanswered */
    void (*answer)(struct srv *, int32_t id, const struct http_request *req);
    const char *resp; /* for answer_text */
    int fd;           /* for answer_file: a region [off, end) of it */
    uint64_t off, end;
    int xfd; /* the last transfer's descriptor, to see it released */
    struct static_conf sc;
    struct fcache *cache;
};

static void copy(char *dst, size_t cap, struct http_str s)
{
    size_t n = s.p ? (s.n < cap - 1 ? s.n : cap - 1) : 0;
    if (s.p) memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void on_request(void *owner, int32_t id, const struct http_request *req, const char *body,
                       size_t body_len)
{
    struct srv *v = owner;
    struct seen *w = &v->seen;
    w->n++;
    w->id = id;
    w->method = req->method;
    w->version = req->version;
    w->keep_alive = req->keep_alive;
    w->content_length = req->content_length;
    copy(w->method_str, sizeof w->method_str, req->method_str);
    copy(w->target, sizeof w->target, req->target);
    copy(w->path, sizeof w->path, req->path);
    copy(w->host, sizeof w->host, req->host);
    copy(w->inm, sizeof w->inm, req->if_none_match);
    copy(w->range, sizeof w->range, req->range);
    w->fields[0] = w->cookie[0] = '\0';
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t l = strlen(w->fields);
        snprintf(w->fields + l, sizeof w->fields - l, "%.*s=%.*s;", (int)req->headers[i].name.n,
                 req->headers[i].name.p, (int)req->headers[i].value.n, req->headers[i].value.p);
        if (http_str_eq_ci(req->headers[i].name, "cookie"))
            copy(w->cookie, sizeof w->cookie, req->headers[i].value);
    }
    w->body_len = body_len;
    if (body_len <= sizeof w->body && body_len) memcpy(w->body, body, body_len);
    if (v->answer) v->answer(v, id, req);
}

static void on_reject(void *owner, int32_t id, int status, const char *why)
{
    (void)id;
    cr_assert(why && *why);
    struct srv *v = owner;
    v->seen.rejects++;
    v->seen.reject_status = status;
}

static void answer_text(struct srv *v, int32_t id, const struct http_request *req)
{
    (void)req;
    cr_assert_eq(h2_respond(v->s, id, v->resp, strlen(v->resp), NULL), 0);
}

static void answer_file(struct srv *v, int32_t id, const struct http_request *req)
{
    (void)req;
    struct stat sb;
    cr_assert_eq(fstat(v->fd, &sb), 0);
    struct http_xfer x = {.fd = dup(v->fd),
                          .off = v->off,
                          .end = v->end,
                          .size = (uint64_t)sb.st_size,
                          .mtime_sec = sb.st_mtim.tv_sec,
                          .mtime_nsec = sb.st_mtim.tv_nsec};
    v->xfd = x.fd;
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
             "%llu\r\nConnection: keep-alive\r\n\r\n",
             (unsigned long long)(v->end - v->off));
    cr_assert_eq(h2_respond(v->s, id, head, strlen(head), &x), 0);
    cr_assert_lt(x.fd, 0, "the stream owns the transfer");
}

/* the real static code answers: the request path is taken as normalised */
static void answer_static(struct srv *v, int32_t id, const struct http_request *req)
{
    struct buf out;
    buf_init(&out, 0);
    struct http_xfer x = {.fd = -1};
    uint64_t blen = 0;
    char path[256];
    copy(path, sizeof path, req->path);
    int st = static_serve(&v->sc, v->cache, req, path, 1, &out, &x, &blen);
    cr_assert_gt(st, 0);
    cr_assert_eq(h2_respond(v->s, id, buf_head(&out), buf_len(&out), &x), 0);
    buf_free(&out);
}

/* ---- the client side ---- */

struct got {
    int32_t id;
    int status, closed, end_on_headers;
    uint32_t rst;
    char fields[2048];
    char *body;
    size_t len, cap;
};

struct cli {
    nghttp2_session *ng;
    struct got g[8];
    int ng_count;
    int goaway;
    uint32_t goaway_code;
};

static struct got *got_of(struct cli *c, int32_t id)
{
    for (int i = 0; i < c->ng_count; i++)
        if (c->g[i].id == id) return &c->g[i];
    cr_assert_lt(c->ng_count, 8);
    struct got *g = &c->g[c->ng_count++];
    memset(g, 0, sizeof *g);
    g->id = id;
    return g;
}

static int c_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                    const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)ng;
    (void)flags;
    struct got *g = got_of(user, f->hd.stream_id);
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) g->status = atoi((const char *)value);
    size_t l = strlen(g->fields);
    snprintf(g->fields + l, sizeof g->fields - l, "%.*s: %.*s\n", (int)nlen, name, (int)vlen,
             value);
    return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                  void *user)
{
    (void)ng;
    (void)flags;
    struct got *g = got_of(user, id);
    if (g->len + len > g->cap) {
        g->cap = (g->len + len) * 2;
        g->body = realloc(g->body, g->cap);
        cr_assert(g->body);
    }
    memcpy(g->body + g->len, d, len);
    g->len += len;
    return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    (void)ng;
    struct cli *c = user;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1;
        c->goaway_code = f->goaway.error_code;
    }
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        got_of(c, f->hd.stream_id)->end_on_headers = 1;
    return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)ng;
    struct got *g = got_of(user, id);
    g->closed = 1;
    g->rst = code;
    return 0;
}

static void cli_init(struct cli *c, int manual_window, uint32_t window)
{
    memset(c, 0, sizeof *c);
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    cr_assert_eq(nghttp2_session_callbacks_new(&cb), 0);
    cr_assert_eq(nghttp2_option_new(&opt), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_option_set_no_auto_window_update(opt, manual_window);
    cr_assert_eq(nghttp2_session_client_new2(&c->ng, cb, c, opt), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    cr_assert_eq(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, set, 1), 0);
}

static void cli_free(struct cli *c)
{
    for (int i = 0; i < c->ng_count; i++)
        free(c->g[i].body);
    nghttp2_session_del(c->ng);
}

static void srv_init(struct srv *v, const struct h2_conf *conf)
{
    memset(v, 0, sizeof *v);
    v->fd = -1;
    struct h2_conf def = {0};
    const struct h2_ops ops = {on_request, on_reject};
    cr_assert_eq(h2_session_new(&v->s, conf ? conf : &def, &ops, v), 0);
    http_date_tick();
}

static void srv_free(struct srv *v)
{
    h2_session_free(v->s);
    if (v->cache) fcache_free(v->cache);
    if (v->sc.rootfd > 0) close(v->sc.rootfd);
    if (v->fd >= 0) close(v->fd);
}

/* Moves bytes both ways until neither side has any; a server error stops
 * its input (its GOAWAY still goes out). */
static void pump(struct srv *v, struct cli *c)
{
    for (int round = 0; round < 100000; round++) {
        int moved = 0;
        struct buf out;
        buf_init(&out, 0);
        ssize_t n = h2_session_send(v->s, &out);
        cr_assert_geq(n, 0);
        cr_assert_leq(n, 256 * 1024 + 16384 + 9, "bounded per call");
        if (n > 0) {
            moved = 1;
            v->out_bytes += (size_t)n;
            cr_assert_eq(
                nghttp2_session_mem_recv(c->ng, (const uint8_t *)buf_head(&out), (size_t)n), n);
        }
        buf_free(&out);
        const uint8_t *d;
        while ((n = nghttp2_session_mem_send(c->ng, &d)) > 0) {
            moved = 1;
            if (v->rc == 0) v->rc = h2_session_recv(v->s, (const char *)d, (size_t)n);
        }
        if (!moved) return;
    }
    cr_assert_fail("pump did not settle");
}

static int32_t request(struct cli *c, const char *method, const char *path, const nghttp2_nv *extra,
                       size_t nextra, nghttp2_data_provider *body)
{
    nghttp2_nv nv[24] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"example.test", 10, 12, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
    };
    cr_assert_leq(nextra, 20);
    if (nextra) memcpy(nv + 4, extra, nextra * sizeof *nv);
    int32_t id = nghttp2_submit_request(c->ng, NULL, nv, 4 + nextra, body, NULL);
    cr_assert_gt(id, 0);
    return id;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, 0                            \
    }

/* ---- requests and answers ---- */

#define TEXT_200                                                                                   \
    "HTTP/1.1 200 OK\r\nServer: berth\r\nContent-Type: text/plain\r\nContent-Length: "             \
    "5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: "                  \
    "identity\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nhello"

Test(h2, get_fills_the_request_like_h1_and_gets_the_answer)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    const nghttp2_nv extra[] = {NV("if-none-match", "\"abc\""), NV("range", "bytes=0-1"),
                                NV("x-thing", "Value 1"), NV("cookie", "a=1"), NV("cookie", "b=2")};
    int32_t id = request(&c, "GET", "/dir/file.txt?q=1", extra, 5, NULL);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0);
    cr_assert_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.id, id);
    cr_expect_eq(v.seen.method, HTTP_GET);
    cr_expect_str_eq(v.seen.method_str, "GET");
    cr_expect_str_eq(v.seen.target, "/dir/file.txt?q=1");
    cr_expect_str_eq(v.seen.path, "/dir/file.txt?q=1");
    cr_expect_str_eq(v.seen.host, "example.test");
    cr_expect_eq(v.seen.version, 20);
    cr_expect_eq(v.seen.keep_alive, 1);
    cr_expect_eq(v.seen.content_length, -1);
    cr_expect_str_eq(v.seen.inm, "\"abc\"");
    cr_expect_str_eq(v.seen.range, "bytes=0-1");
    cr_expect_str_eq(v.seen.cookie, "a=1; b=2", "cookies joined (RFC 9113 8.2.3)");
    cr_expect(strstr(v.seen.fields, "x-thing=Value 1;"), "%s", v.seen.fields);
    cr_expect(!strstr(v.seen.fields, ":"), "no pseudo field among headers: %s", v.seen.fields);
    struct got *g = got_of(&c, id);
    cr_expect_eq(g->status, 200);
    cr_expect_eq(g->len, 5);
    cr_expect(g->body && memcmp(g->body, "hello", 5) == 0);
    cr_expect(strstr(g->fields, "content-type: text/plain\n"), "%s", g->fields);
    cr_expect(strstr(g->fields, "x-multi: a\nx-multi: b\n"), "%s", g->fields);
    cr_expect(strstr(g->fields, "server: berth\n"), "%s", g->fields);
    cr_expect(!strstr(g->fields, "connection") && !strstr(g->fields, "keep-alive") &&
                  !strstr(g->fields, "transfer-encoding"),
              "connection-specific fields dropped: %s", g->fields);
    cr_expect(g->closed && g->rst == 0);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, head_and_304_and_204_carry_no_data)
{
    const char *resps[] = {TEXT_200, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
                           "HTTP/1.1 204 No Content\r\n\r\n"};
    const char *methods[] = {"HEAD", "GET", "DELETE"};
    for (int i = 0; i < 3; i++) {
        struct srv v;
        struct cli c;
        srv_init(&v, NULL);
        cli_init(&c, 0, 65535);
        v.answer = answer_text;
        v.resp = resps[i];
        int32_t id = request(&c, methods[i], "/x", NULL, 0, NULL);
        pump(&v, &c);
        struct got *g = got_of(&c, id);
        cr_expect_eq(g->status, i == 0 ? 200 : i == 1 ? 304 : 204);
        cr_expect_eq(g->len, 0, "%s: no body", methods[i]);
        cr_expect(g->end_on_headers, "%s: END_STREAM on HEADERS", methods[i]);
        if (i == 0) cr_expect(strstr(g->fields, "content-length: 5\n"), "HEAD keeps the length");
        srv_free(&v);
        cli_free(&c);
    }
}

static int temp_file(size_t size, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/berth-h2-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    char chunk[4096];
    for (size_t off = 0; off < size; off += sizeof chunk) {
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = (char)((off + k) * 7 + (off + k) / 251);
        size_t n = size - off < sizeof chunk ? size - off : sizeof chunk;
        cr_assert_eq(write(fd, chunk, n), (ssize_t)n);
    }
    return fd;
}

static void expect_region(int fd, uint64_t off, const char *got, size_t n)
{
    char *want = malloc(n ? n : 1);
    cr_assert_eq(pread(fd, want, n, (off_t)off), (ssize_t)n);
    cr_expect(memcmp(want, got, n) == 0, "the file's bytes");
    free(want);
}

Test(h2, file_region_body)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.fd = temp_file(300000, path, sizeof path);
    unlink(path);
    v.off = 1000;
    v.end = 250000;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/f", NULL, 0, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_eq(g->len, 249000);
    expect_region(v.fd, 1000, g->body, g->len);
    cr_expect(g->closed && g->rst == 0);
    srv_free(&v);
    cli_free(&c);
}

/* The client opens its window 32 KiB at a time: the server never sends (nor
 * reads from the file) more than the window, and the whole 1 MiB arrives. */
Test(h2, large_body_follows_flow_control)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 1, 32768);
    v.fd = temp_file(1 << 20, path, sizeof path);
    unlink(path);
    v.end = 1 << 20;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/big", NULL, 0, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_leq(g->len, 32768, "the first window only: %zu", g->len);
    size_t consumed = 0;
    for (int i = 0; i < 400 && g->len < (1u << 20); i++) {
        size_t before = g->len, out_before = v.out_bytes;
        cr_assert_eq(nghttp2_session_consume(c.ng, id, before - consumed), 0);
        consumed = before;
        pump(&v, &c);
        g = got_of(&c, id);
        cr_assert_leq(g->len - before, 32768, "no more than the stream's window");
        cr_assert_leq(v.out_bytes - out_before, 32768 + 4096);
    }
    cr_assert_eq(g->len, 1u << 20);
    expect_region(v.fd, 0, g->body, g->len);
    srv_free(&v);
    cli_free(&c);
}

/* A client that never opens its window: nothing but the head goes out, and
 * the session holds no body bytes for it. */
Test(h2, closed_window_buffers_nothing)
{
    struct srv v;
    struct cli c;
    char path[64];
    srv_init(&v, NULL);
    cli_init(&c, 1, 0);
    v.fd = temp_file(1 << 20, path, sizeof path);
    unlink(path);
    v.end = 1 << 20;
    v.answer = answer_file;
    int32_t id = request(&c, "GET", "/big", NULL, 0, NULL);
    for (int i = 0; i < 5; i++)
        pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 200);
    cr_assert_eq(g->len, 0);
    cr_assert_lt(v.out_bytes, 1024, "only SETTINGS, acks and the head: %zu", v.out_bytes);
    cr_assert_neq(fcntl(v.xfd, F_GETFD), -1, "the stream holds its transfer");
    srv_free(&v);
    cr_expect_eq(fcntl(v.xfd, F_GETFD), -1, "the transfer is released with the session");
    cli_free(&c);
}

/* multipart/byteranges from the real static code, over a file large enough
 * to be sent as regions (part headers from static_xfer_next) */
Test(h2, multipart_from_static_serve)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    char dir[] = "/tmp/berth-h2d-XXXXXX";
    cr_assert(mkdtemp(dir));
    char fpath[128];
    snprintf(fpath, sizeof fpath, "%s/big.bin", dir);
    int fd = open(fpath, O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    char *data = malloc(200000);
    for (int i = 0; i < 200000; i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(write(fd, data, 200000), 200000);
    close(fd);
    static uint64_t epoch;
    v.sc = (struct static_conf){.rootfd = open(dir, O_PATH | O_DIRECTORY),
                                .index = "index.html",
                                .mime_default = "application/octet-stream",
                                .boundary = "berth-test-boundary",
                                .epoch = &epoch};
    cr_assert_geq(v.sc.rootfd, 0);
    v.cache = fcache_new(&v.sc);
    cr_assert(v.cache);
    v.answer = answer_static;
    const nghttp2_nv extra[] = {NV("range", "bytes=0-9,100000-100009,199990-")};
    int32_t id = request(&c, "GET", "/big.bin", extra, 1, NULL);
    pump(&v, &c);
    struct got *g = got_of(&c, id);
    cr_assert_eq(g->status, 206, "%s", g->fields);
    const char *cl = strstr(g->fields, "content-length: ");
    cr_assert(cl);
    cr_expect_eq((size_t)atol(cl + 16), g->len, "the body is as long as announced");
    char *b = g->body;
    cr_assert(b && g->len > 30);
    const char *want[] = {"abcdefghij", data + 100000, data + 199990};
    const char *at = b;
    for (int i = 0; i < 3; i++) {
        at = memmem(at, (size_t)(b + g->len - at), "\r\n\r\n", 4);
        cr_assert(at, "part %d", i);
        at += 4;
        cr_expect(memcmp(at, want[i], 10) == 0, "part %d bytes", i);
    }
    cr_expect(memmem(b, g->len, "--berth-test-boundary--\r\n", 25), "closing boundary");
    unlink(fpath);
    rmdir(dir);
    free(data);
    srv_free(&v);
    cli_free(&c);
}

static ssize_t body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)user;
    size_t *left = src->ptr;
    size_t n = *left < len ? *left : len;
    memset(buf, 'p', n);
    *left -= n;
    if (!*left) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

Test(h2, post_body_whole)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    size_t left = 150000;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    const nghttp2_nv extra[] = {NV("content-length", "150000")};
    int32_t id = request(&c, "POST", "/up", extra, 1, &prd);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0);
    cr_assert_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.method, HTTP_POST);
    cr_expect_eq(v.seen.content_length, 150000);
    cr_expect_eq(v.seen.body_len, 150000);
    cr_expect(v.seen.body[0] == 'p' && v.seen.body[149999] == 'p');
    cr_expect_eq(got_of(&c, id)->status, 200);

    /* without content-length: the body's length stands in */
    left = 1000;
    id = request(&c, "PUT", "/up2", NULL, 0, &prd);
    pump(&v, &c);
    cr_assert_eq(v.seen.n, 2);
    cr_expect_eq(v.seen.content_length, 1000);
    cr_expect_eq(v.seen.body_len, 1000);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, body_over_limit_is_413)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_body = 10000};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    size_t left = 50000;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    int32_t id = request(&c, "POST", "/up", NULL, 0, &prd);
    pump(&v, &c);
    cr_assert_eq(v.rc, 0, "a stream's problem, not the connection's");
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(v.seen.rejects, 1);
    cr_expect_eq(got_of(&c, id)->status, 413);
    /* the connection goes on */
    id = request(&c, "GET", "/next", NULL, 0, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 200);
    srv_free(&v);
    cli_free(&c);
}

/* ---- malformed requests ---- */

struct bad {
    const char *what;
    nghttp2_nv nv[6];
    size_t n;
    int want_status; /* 0: a stream reset (PROTOCOL_ERROR) */
};

Test(h2, malformed_requests_are_stream_errors_or_400)
{
    static const struct bad cases[] = {
        /* NO_COPY_NAME: nghttp2 lower-cases the names it copies */
        {"upper-case name",
         {{(uint8_t *)"X-Upper", (uint8_t *)"1", 7, 1, NGHTTP2_NV_FLAG_NO_COPY_NAME}},
         1,
         0},
        {"connection-specific field", {NV("connection", "keep-alive")}, 1, 0},
        {"keep-alive field", {NV("keep-alive", "5")}, 1, 0},
        {"transfer-encoding", {NV("transfer-encoding", "chunked")}, 1, 0},
        {"te other than trailers", {NV("te", "gzip")}, 1, 0},
        {"repeated if-none-match",
         {NV("if-none-match", "\"a\""), NV("if-none-match", "\"b\"")},
         2,
         400},
        {"repeated range", {NV("range", "bytes=0-1"), NV("range", "bytes=2-3")}, 2, 400},
        {"repeated host", {NV("host", "example.test"), NV("host", "example.test")}, 2, 0},
        {"host other than :authority", {NV("host", "other.test")}, 1, 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct srv v;
        struct cli c;
        srv_init(&v, NULL);
        cli_init(&c, 0, 65535);
        v.answer = answer_text;
        v.resp = TEXT_200;
        int32_t id = request(&c, "GET", "/m", cases[i].nv, cases[i].n, NULL);
        pump(&v, &c);
        struct got *g = got_of(&c, id);
        cr_expect_eq(v.rc, 0, "%s: the connection survives", cases[i].what);
        cr_expect_eq(v.seen.n, 0, "%s: never reaches on_request", cases[i].what);
        if (cases[i].want_status) {
            cr_expect_eq(g->status, cases[i].want_status, "%s", cases[i].what);
            cr_expect_eq(v.seen.rejects, 1, "%s", cases[i].what);
        } else {
            cr_expect_eq(g->status, 0, "%s: no answer", cases[i].what);
            cr_expect(g->closed && g->rst == NGHTTP2_PROTOCOL_ERROR, "%s: rst %u", cases[i].what,
                      g->rst);
        }
        /* the next request on the connection is served */
        int32_t next = request(&c, "GET", "/ok", NULL, 0, NULL);
        pump(&v, &c);
        cr_expect_eq(got_of(&c, next)->status, 200, "%s: then a good request", cases[i].what);
        srv_free(&v);
        cli_free(&c);
    }
}

Test(h2, missing_path_and_content_length_mismatch_are_reset)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv nopath[] = {NV(":method", "GET"), NV(":scheme", "http"),
                           NV(":authority", "example.test")};
    int32_t a = nghttp2_submit_request(c.ng, NULL, nopath, 3, NULL, NULL);
    size_t left = 10;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    const nghttp2_nv cl[] = {NV("content-length", "20")};
    int32_t b = request(&c, "POST", "/p", cl, 1, &prd);
    pump(&v, &c);
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(got_of(&c, a)->rst, NGHTTP2_PROTOCOL_ERROR);
    cr_expect_eq(got_of(&c, b)->rst, NGHTTP2_PROTOCOL_ERROR);
    cr_expect_eq(v.rc, 0);
    srv_free(&v);
    cli_free(&c);
}

Test(h2, connect_and_asterisk)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv conn[] = {NV(":method", "CONNECT"), NV(":authority", "example.test:443")};
    int32_t a = nghttp2_submit_request(c.ng, NULL, conn, 2, NULL, NULL);
    int32_t b = request(&c, "OPTIONS", "*", NULL, 0, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, a)->status, 400, "CONNECT is refused as over HTTP/1.1");
    cr_expect_eq(got_of(&c, b)->status, 200);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.method, HTTP_OPTIONS);
    cr_expect_str_eq(v.seen.path, "*");
    srv_free(&v);
    cli_free(&c);
}

Test(h2, oversized_header_list_is_431)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_header = 4096};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    static char big[3000];
    memset(big, 'v', sizeof big - 1);
    nghttp2_nv extra[] = {{(uint8_t *)"x-a", (uint8_t *)big, 3, sizeof big - 1, 0},
                          {(uint8_t *)"x-b", (uint8_t *)big, 3, sizeof big - 1, 0}};
    int32_t id = request(&c, "GET", "/h", extra, 2, NULL);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 431);
    cr_expect_eq(v.seen.n, 0);
    cr_expect_eq(v.rc, 0);
    srv_free(&v);
    cli_free(&c);
}

/* ---- attacks, as raw frames ---- */

struct raw {
    char *p;
    size_t len, cap;
    nghttp2_hd_deflater *dfl;
};

static void raw_put(struct raw *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->p = realloc(r->p, r->cap);
        cr_assert(r->p);
    }
    memcpy(r->p + r->len, p, n);
    r->len += n;
}

static void raw_frame(struct raw *r, uint8_t type, uint8_t flags, uint32_t sid, const void *pl,
                      size_t n)
{
    uint8_t h[9] = {
        (uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    raw_put(r, h, 9);
    if (n) raw_put(r, pl, n);
}

static void raw_start(struct raw *r)
{
    memset(r, 0, sizeof *r);
    cr_assert_eq(nghttp2_hd_deflate_new(&r->dfl, 4096), 0);
    raw_put(r, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    raw_frame(r, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

static void raw_get(struct raw *r, uint32_t sid, uint8_t flags)
{
    const nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                             NV(":authority", "a.test")};
    uint8_t block[256];
    ssize_t n = nghttp2_hd_deflate_hd(r->dfl, block, sizeof block, nv, 4);
    cr_assert_gt(n, 0);
    raw_frame(r, NGHTTP2_HEADERS, flags, sid, block, (size_t)n);
}

static void raw_free(struct raw *r)
{
    free(r->p);
    nghttp2_hd_deflate_del(r->dfl);
}

struct frames {
    int goaway, rst, headers, data;
    uint32_t goaway_code;
    size_t bytes;
};

/* Drains the server's output and counts what frames it holds. */
static struct frames drain(struct srv *v)
{
    struct frames f = {0};
    struct buf out;
    buf_init(&out, 0);
    for (int i = 0; i < 10000; i++) {
        ssize_t n = h2_session_send(v->s, &out);
        if (n <= 0) break;
    }
    const uint8_t *p = (const uint8_t *)buf_head(&out);
    size_t len = buf_len(&out), at = 0;
    f.bytes = len;
    while (at + 9 <= len) {
        size_t n = (size_t)p[at] << 16 | (size_t)p[at + 1] << 8 | p[at + 2];
        uint8_t type = p[at + 3];
        if (type == NGHTTP2_GOAWAY && at + 17 <= len) {
            f.goaway++;
            f.goaway_code = (uint32_t)p[at + 13] << 24 | (uint32_t)p[at + 14] << 16 |
                            (uint32_t)p[at + 15] << 8 | p[at + 16];
        }
        f.rst += type == NGHTTP2_RST_STREAM;
        f.headers += type == NGHTTP2_HEADERS;
        f.data += type == NGHTTP2_DATA;
        at += 9 + n;
    }
    buf_free(&out);
    return f;
}

/* CVE-2023-44487: streams opened and at once cancelled, by the thousand */
Test(h2, rapid_reset_ends_the_connection)
{
    struct srv v;
    srv_init(&v, NULL);
    struct raw r;
    raw_start(&r);
    uint8_t cancel[4] = {0, 0, 0, NGHTTP2_CANCEL};
    for (uint32_t sid = 1; sid < 2 * 5000; sid += 2) {
        raw_get(&r, sid, NGHTTP2_FLAG_END_HEADERS); /* no END_STREAM: the handler never runs */
        raw_frame(&r, NGHTTP2_RST_STREAM, 0, sid, cancel, 4);
    }
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect(rc < 0 || !h2_want_read(v.s), "the session does not go on");
    cr_expect_eq(f.goaway, 1);
    cr_expect(f.goaway_code != NGHTTP2_NO_ERROR, "GOAWAY code %u", f.goaway_code);
    raw_free(&r);
    srv_free(&v);
}

/* CVE-2024-27316 and kin: a header block that never ends, of fields (bounded
 * by the header list size) or of empty frames (bounded by their count) */
Test(h2, continuation_flood_is_a_connection_error)
{
    for (int empty = 0; empty < 2; empty++) {
        struct srv v;
        srv_init(&v, NULL);
        struct raw r;
        raw_start(&r);
        raw_get(&r, 1, 0); /* no END_HEADERS */
        uint8_t lit[64];
        const nghttp2_nv nv[] = {NV("x-flood", "0123456789012345678901234567890123456789")};
        for (int i = 0; i < 20000; i++) {
            ssize_t n = empty ? 0 : nghttp2_hd_deflate_hd(r.dfl, lit, sizeof lit, nv, 1);
            cr_assert_geq(n, 0);
            raw_frame(&r, NGHTTP2_CONTINUATION, 0, 1, lit, (size_t)n);
        }
        int rc = h2_session_recv(v.s, r.p, r.len);
        struct frames f = drain(&v);
        cr_expect_lt(rc, 0, "empty %d", empty);
        cr_expect(*h2_error(v.s), "a reason");
        cr_expect_eq(f.goaway, 1);
        cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
        cr_expect_eq(v.seen.n, 0);
        raw_free(&r);
        srv_free(&v);
    }
}

/* An HPACK bomb: one large dynamic-table entry referenced over and over
 * (a byte each) decodes to megabytes: the connection ends long before. */
Test(h2, hpack_bomb_is_bounded)
{
    struct srv v;
    srv_init(&v, NULL);
    struct raw r;
    raw_start(&r);
    static uint8_t block[16000];
    static char big[4000];
    memset(big, 'b', sizeof big);
    nghttp2_nv nv[4] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                        NV(":authority", "a.test")};
    ssize_t n = nghttp2_hd_deflate_hd(r.dfl, block, sizeof block, nv, 4);
    cr_assert_gt(n, 0);
    size_t len = (size_t)n;
    /* literal with incremental indexing, new name "x-b" (RFC 7541 6.2.1) */
    block[len++] = 0x40;
    block[len++] = 3;
    memcpy(block + len, "x-b", 3);
    len += 3;
    block[len++] = 0x7f; /* value length 4000: 127 + varint 3873 */
    block[len++] = (uint8_t)(0x80 | ((4000 - 127) & 0x7f));
    block[len++] = (uint8_t)((4000 - 127) >> 7);
    memcpy(block + len, big, sizeof big);
    len += sizeof big;
    while (len < sizeof block - 1)
        block[len++] = 0x80 | 62; /* indexed: the entry just added */
    raw_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block,
              len);
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect_lt(rc, 0, "about 48 MB decoded is not a request");
    cr_expect_eq(f.goaway, 1);
    cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    cr_expect_eq(v.seen.n, 0);
    raw_free(&r);
    srv_free(&v);
}

/* SETTINGS and PING each want an ack: a peer that sends them and never
 * reads cannot make the server queue acks without end. */
Test(h2, settings_and_ping_floods_end_the_connection)
{
    for (int kind = 0; kind < 2; kind++) {
        struct srv v;
        srv_init(&v, NULL);
        struct raw r;
        raw_start(&r);
        uint8_t ping[8] = "12345678";
        for (int i = 0; i < 5000; i++)
            raw_frame(&r, kind ? NGHTTP2_PING : NGHTTP2_SETTINGS, 0, 0, kind ? ping : NULL,
                      kind ? 8 : 0);
        int rc = h2_session_recv(v.s, r.p, r.len);
        cr_expect_lt(rc, 0, "%s flood", kind ? "PING" : "SETTINGS");
        struct frames f = drain(&v);
        cr_expect_eq(f.goaway, 1);
        cr_expect_eq(f.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
        cr_expect_lt(f.bytes, 1000 * 17 + 1024, "at most the acks allowed, then GOAWAY");
        raw_free(&r);
        srv_free(&v);
    }
}

/* WINDOW_UPDATE needs no answer: thousands cost no output and no memory,
 * and the connection still serves. */
Test(h2, window_update_flood_is_bounded)
{
    struct srv v;
    srv_init(&v, NULL);
    v.answer = answer_text;
    v.resp = TEXT_200;
    struct raw r;
    raw_start(&r);
    uint8_t one[4] = {0, 0, 0, 1};
    for (int i = 0; i < 20000; i++)
        raw_frame(&r, NGHTTP2_WINDOW_UPDATE, 0, 0, one, 4);
    raw_get(&r, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
    cr_expect_eq(h2_session_recv(v.s, r.p, r.len), 0);
    struct frames f = drain(&v);
    cr_expect_lt(f.bytes, 1024, "SETTINGS, its ack and one answer: %zu bytes", f.bytes);
    cr_expect_eq(f.headers, 1);
    cr_expect_eq(v.seen.n, 1);
    raw_free(&r);
    srv_free(&v);
}

/* streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused */
Test(h2, stream_count_limit)
{
    struct srv v;
    struct h2_conf conf = {.max_streams = 10};
    srv_init(&v, &conf);
    struct raw r;
    raw_start(&r);
    for (uint32_t sid = 1; sid < 2 * 30; sid += 2)
        raw_get(&r, sid, NGHTTP2_FLAG_END_HEADERS); /* open: no END_STREAM */
    int rc = h2_session_recv(v.s, r.p, r.len);
    struct frames f = drain(&v);
    cr_expect(rc == 0 || f.goaway, "a refusal, stream by stream or for the connection");
    if (rc == 0) cr_expect_eq(f.rst, 20, "the 20 over the limit are refused: %d", f.rst);
    raw_free(&r);
    srv_free(&v);
}

/* ---- drain and h2c ---- */

Test(h2, shutdown_lets_open_streams_finish)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    int32_t id = request(&c, "GET", "/slow", NULL, 0, NULL);
    pump(&v, &c); /* unanswered so far */
    cr_assert_eq(v.seen.n, 1);
    cr_assert_eq(h2_shutdown(v.s), 0);
    pump(&v, &c);
    cr_expect(c.goaway && c.goaway_code == NGHTTP2_NO_ERROR);
    cr_assert_eq(h2_respond(v.s, id, TEXT_200, strlen(TEXT_200), NULL), 0);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, id)->status, 200);
    cr_expect_eq(got_of(&c, id)->len, 5);
    cr_expect(!h2_want_write(v.s));
    cr_expect_eq(h2_respond(v.s, id, TEXT_200, strlen(TEXT_200), NULL), -ENOENT,
                 "a stream is answered once");
    srv_free(&v);
    cli_free(&c);
}

Test(h2, preface_already_consumed)
{
    struct srv v;
    struct h2_conf conf = {.preface_consumed = 1};
    srv_init(&v, &conf);
    v.answer = answer_text;
    v.resp = TEXT_200;
    struct raw r;
    raw_start(&r);
    raw_get(&r, 1, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM);
    cr_expect_eq(
        h2_session_recv(v.s, r.p + NGHTTP2_CLIENT_MAGIC_LEN, r.len - NGHTTP2_CLIENT_MAGIC_LEN), 0);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(drain(&v).headers, 1);
    raw_free(&r);
    srv_free(&v);
}

Test(h2, bad_head_and_gone_stream)
{
    struct srv v;
    struct cli c;
    srv_init(&v, NULL);
    cli_init(&c, 0, 65535);
    int32_t id = request(&c, "GET", "/x", NULL, 0, NULL);
    pump(&v, &c);
    char path[64];
    int fd = temp_file(10, path, sizeof path);
    unlink(path);
    struct http_xfer x = {.fd = fd, .end = 10};
    cr_expect_eq(h2_respond(v.s, id, "garbage", 7, &x), BERTH_EPROTO);
    cr_expect_lt(x.fd, 0, "the transfer is released on failure too");
    x.fd = dup(0);
    cr_expect_eq(h2_respond(v.s, 99, TEXT_200, strlen(TEXT_200), &x), -ENOENT);
    cr_expect_lt(x.fd, 0);
    srv_free(&v);
    cli_free(&c);
}

/* A declared body over the limit is refused before it is sent; a client that
 * expects 100-continue gets its 100 and then the whole exchange. */
Test(h2, content_length_over_limit_and_expect_continue)
{
    struct srv v;
    struct cli c;
    struct h2_conf conf = {.max_body = 10000};
    srv_init(&v, &conf);
    cli_init(&c, 0, 65535);
    v.answer = answer_text;
    v.resp = TEXT_200;
    nghttp2_nv big[] = {NV(":method", "POST"), NV(":scheme", "http"),
                        NV(":authority", "example.test"), NV(":path", "/up"),
                        NV("content-length", "50000")};
    int32_t a = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, big, 5, NULL);
    cr_assert_gt(a, 0);
    pump(&v, &c);
    cr_expect_eq(got_of(&c, a)->status, 413, "answered before any DATA");
    cr_expect_eq(v.seen.rejects, 1);

    nghttp2_nv exp[] = {
        NV(":method", "POST"), NV(":scheme", "http"),       NV(":authority", "example.test"),
        NV(":path", "/up"),    NV("content-length", "100"), NV("expect", "100-continue")};
    int32_t b = nghttp2_submit_headers(c.ng, NGHTTP2_FLAG_NONE, -1, NULL, exp, 6, NULL);
    pump(&v, &c);
    cr_expect(strstr(got_of(&c, b)->fields, ":status: 100\n"), "%s", got_of(&c, b)->fields);
    cr_expect_eq(v.seen.n, 0);
    size_t left = 100;
    nghttp2_data_provider prd = {.source.ptr = &left, .read_callback = body_read};
    cr_assert_eq(nghttp2_submit_data(c.ng, NGHTTP2_FLAG_END_STREAM, b, &prd), 0);
    pump(&v, &c);
    cr_expect_eq(v.seen.n, 1);
    cr_expect_eq(v.seen.body_len, 100);
    cr_expect_eq(got_of(&c, b)->status, 200);
    srv_free(&v);
    cli_free(&c);
}
