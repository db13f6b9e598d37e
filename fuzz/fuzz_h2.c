/* libFuzzer harness for the HTTP/2 session glue (http/h2): the input is what
 * a client sends after the connection preface.  It is fed in pieces (sizes
 * taken from the first byte), every complete request is answered (a memory
 * body, a file region, or HEAD/304 forms), and the output is drained after
 * each piece.  Invariants: requests look like the h1 parser's (version 20, an
 * origin-form or "*" path, a host), h2_respond succeeds on a live stream, and
 * every send call stays within its budget.  Memory stays bounded: libFuzzer's
 * RSS limit and ASan's leak check see the rest. */
#include "http/h2.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
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
    int k = (int)(req->path.n % 3);
    struct http_xfer x = {.fd = -1};
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
    if (!why || (status != 400 && status != 413 && status != 431 && status != 500)) abort();
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
    if (file_init() < 0) return 0;
    const struct h2_conf conf = {.max_streams = 16, .max_header = 4096, .max_body = 8192};
    const struct h2_ops ops = {on_request, on_reject};
    if (h2_session_new(&sess, &conf, &ops, NULL) < 0) return 0;
    size_t piece = size ? (size_t)data[0] * 4 + 1 : 1;
    int rc = h2_session_recv(sess, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    for (size_t at = size ? 1 : 0; rc == 0 && at < size; at += piece) {
        size_t n = size - at < piece ? size - at : piece;
        char *p = malloc(n); /* exact size: ASan sees any over-read */
        if (!p) break;
        memcpy(p, data + at, n);
        rc = h2_session_recv(sess, p, n);
        free(p);
        drain();
    }
    drain();
    h2_session_free(sess);
    sess = NULL;
    return 0;
}
