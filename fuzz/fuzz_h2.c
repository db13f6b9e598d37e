/* libFuzzer harness for the HTTP/2 session glue (http/h2): the input is what
 * a client sends after the connection preface.  It is fed in pieces (sizes
 * taken from the first byte), every complete request is answered (a memory
 * body, a file region, HEAD/304 forms, or a head that varies with the
 * request, through h2_respond_buf), and the output is drained after
 * each piece.  Invariants: requests look like the h1 parser's (version 20, an
 * origin-form or "*" path, a host), h2_respond succeeds on a live stream, and
 * every send call stays within its budget.  Memory stays bounded: libFuzzer's
 * RSS limit and ASan's leak check see the rest.
 *
 * Random bytes rarely make a valid HPACK block, so an input whose first byte
 * is odd is read as records instead (fz_h2_records in harness.h, shared
 * with fuzz_h2_conn): [op][stream][len][len bytes], op 0 raw bytes, 1 a
 * HEADERS frame whose fields ("name:value" lines, pseudo fields included)
 * are HPACK-encoded with nghttp2's deflater, 2 DATA, 3 RST_STREAM; bit 2 of
 * op sets END_STREAM, bit 3 leaves END_HEADERS off. */
#include "harness.h"
#include "http/h2.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int file_fd = -1;
static struct stat file_st;
static struct h2_session *sess;

static int file_init(void)
{
    if (file_fd >= 0) return 0;
    file_fd = memfd_create("fuzz-h2", 0);
    if (file_fd < 0) return -1;
    static char chunk[70000];
    memset(chunk, 'f', sizeof chunk);
    if (write(file_fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) return -1;
    return fstat(file_fd, &file_st);
}

static void on_request(void *owner, int32_t id, const struct http_request *req, const char *body,
                       size_t body_len)
{
    (void)owner;
    if (req->version != 20 || req->keep_alive != 1 || !req->host.p || !req->path.n) abort();
    if (req->path.p[0] != '/' && !(req->path.n == 1 && req->path.p[0] == '*')) abort();
    if (body_len && !body) abort();
    for (size_t i = 0; i < req->nheaders; i++)
        if (!req->headers[i].name.n || req->headers[i].name.p[0] == ':') abort();
    static const char *const heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\nhello",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 60000\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    int k = (int)(req->path.n % 4);
    struct http_xfer x = {.fd = -1};
    if (k == 3) {
        /* a head that varies with the request (more heads than the session
         * keeps, some while earlier ones are still queued), in a buffer the
         * stream may take */
        struct buf b;
        buf_init(&b, 0);
        char head[64];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nX-N: %zu\r\nX-Path: ", req->target.n % 7);
        if (buf_append(&b, head, (size_t)n) == 0 && buf_append(&b, req->path.p, req->path.n) == 0 &&
            buf_append(&b, "\r\n\r\nbody", 8) == 0) {
            int rc = h2_respond_buf(sess, id, &b, NULL);
            if (rc < 0 && rc != -ENOMEM) abort();
        }
        buf_free(&b);
        return;
    }
    if (k == 2) {
        x.fd = dup(file_fd);
        x.off = req->target.n;
        x.end = 60000 + x.off;
        x.size = (uint64_t)file_st.st_size;
        x.mtime_sec = file_st.st_mtim.tv_sec;
        x.mtime_nsec = file_st.st_mtim.tv_nsec;
    }
    int rc = h2_respond(sess, id, heads[k], strlen(heads[k]), &x);
    if (x.fd >= 0) abort(); /* owned by the stream, or released */
    if (rc < 0 && rc != -ENOMEM) abort();
}

static void on_reject(void *owner, int32_t id, int status, const char *why)
{
    (void)owner;
    (void)id;
    if (!why || (status != 400 && status != 413 && status != 417 && status != 431 &&
                 status != 500 && status != 501))
        abort();
}

static void drain(void)
{
    struct buf out;
    buf_init(&out, 0);
    for (int i = 0; i < 64; i++) {
        ssize_t n = h2_session_send(sess, &out);
        if (n < 0 || n > 256 * 1024 + 65536) break;
        if (n == 0) break;
        buf_clear(&out);
    }
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size || file_init() < 0) return 0;
    const struct h2_conf conf = {.max_streams = 16,
                                 .max_header = 4096,
                                 .max_body = 8192,
                                 .ws = 1}; /* extended CONNECT parsed too (RFC 8441) */
    const struct h2_ops ops = {.on_request = on_request, .on_reject = on_reject};
    if (h2_session_new(&sess, &conf, &ops, NULL) < 0) return 0;
    size_t piece = (size_t)data[0] * 4 + 1;
    static struct fz_bytes rec;
    rec.n = 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        fz_h2_records(in, n, &rec);
        in = rec.p;
        n = rec.n;
    }
    int rc = h2_session_recv(sess, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    for (size_t at = 0; rc == 0 && at < n; at += piece) {
        size_t k = n - at < piece ? n - at : piece;
        char *p = malloc(k); /* exact size: ASan sees any over-read */
        if (!p) break;
        memcpy(p, in + at, k);
        rc = h2_session_recv(sess, p, k);
        free(p);
        drain();
    }
    drain();
    h2_session_free(sess);
    sess = NULL;
    return 0;
}
