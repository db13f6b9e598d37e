/* h2_peer — the fixture the h2 tests share: a server session (http/h2)
 * with callbacks that record what they saw and answer in several ways, a
 * real nghttp2 CLIENT session pumped against it in memory, and raw frames
 * (header blocks still encoded by nghttp2's HPACK deflater) for the attacks
 * a well-behaved client cannot send. */
#ifndef BERTH_TEST_H2_PEER_H
#define BERTH_TEST_H2_PEER_H

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

/* each test file uses some of these */
#pragma GCC diagnostic ignored "-Wunused-function"

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
    const struct h2_ops ops = {.on_request = on_request, .on_reject = on_reject};
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
#endif
