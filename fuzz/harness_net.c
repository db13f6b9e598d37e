/* The server and the client side of a connection for the whole-connection
 * targets (fuzz_http_conn, fuzz_h2_conn, fuzz_ws_conn): see harness.h. */
#include "harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* -- the server -- */

void fz_opts(struct berth_opts *o)
{
    berth_opts_init(o);
    o->host = "127.0.0.1";
    o->port = 0;
    o->workers = 1;
    o->quiet = 1;
    o->no_signals = 1;
    o->header_timeout_ms = 3000;
    o->idle_timeout_ms = 3000;
}

static void *serve(void *arg)
{
    fz_die("the server stopped", berth_strerror(berth_server_run(arg)));
    return NULL; /* it must never stop on its own */
}

int fz_serve(berth_server *srv)
{
    int rc = berth_server_listen(srv);
    if (rc < 0) fz_die("listen", berth_strerror(rc));
    pthread_t t;
    if (pthread_create(&t, NULL, serve, srv) != 0) fz_die("pthread_create", NULL);
    pthread_detach(t);
    return berth_server_port(srv);
}

void fz_echo(berth_req *r, void *arg)
{
    (void)arg;
    size_t n = 0;
    berth_req_body(r, &n);
    char b[64];
    int k = snprintf(b, sizeof b, "len=%zu\n", n);
    berth_respond(r, 200, "text/plain", b, (size_t)k);
}

/* a client gone meanwhile makes this answer BERTH_ERR_GONE, which releases
 * the request all the same */
static void *later_thread(void *h)
{
    berth_respond(h, 200, "text/plain", "later\n", 6);
    return NULL;
}

void fz_later(berth_req *r, void *arg)
{
    (void)arg;
    berth_req *h;
    pthread_t t;
    if (berth_req_defer(r, &h) < 0 || pthread_create(&t, NULL, later_thread, h) != 0)
        fz_die("/later: defer or thread", NULL);
    pthread_detach(t);
}

/* -- the client side of a connection -- */

int fz_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fz_die("socket", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        err = errno;
        long long deadline = fz_now_ms() + 10000;
        while (err == EINPROGRESS || err == EINTR) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 100) == 1) {
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            } else if (fz_now_ms() > deadline) {
                err = ETIMEDOUT;
            }
        }
    }
    if (err) fz_die("connect", strerror(err));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int fz_pump(int fd, struct fz_bytes *o, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) return 0;
    for (;;) {
        if (o->n >= fz_answer_max()) {
            fprintf(stderr, "%s: over %zu bytes of answer\n", fz_name(), fz_answer_max());
            abort();
        }
        fz_reserve(o, 65536); /* received in place: no copy */
        ssize_t r = recv(fd, o->p + o->n, o->cap - o->n, 0);
        if (r > 0) {
            o->n += (size_t)r;
            o->last = fz_now_ms();
            continue;
        }
        if (r == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 0;
        return 1; /* ECONNRESET: the server closed with our bytes unread */
    }
}

void fz_send_all(int fd, const void *buf, size_t n, struct fz_bytes *o, long long deadline)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN) return; /* closed by the server: fine */
        if (fz_pump(fd, o, 5) || fz_now_ms() > deadline) return;
    }
}

size_t fz_read_head(int fd, struct fz_bytes *o, long long deadline)
{
    size_t from = 0;
    for (;;) {
        for (size_t i = from; i + 4 <= o->n; i++)
            if (!memcmp(o->p + i, "\r\n\r\n", 4)) return i + 4;
        from = o->n > 3 ? o->n - 3 : 0;
        if (fz_pump(fd, o, 50) || fz_now_ms() > deadline) break;
    }
    for (size_t i = from; i + 4 <= o->n; i++) /* what came with the EOF */
        if (!memcmp(o->p + i, "\r\n\r\n", 4)) return i + 4;
    return 0;
}

int fz_finish(int fd, struct fz_bytes *o, int silence_ms)
{
    shutdown(fd, SHUT_WR);
    int eof = 0;
    o->last = fz_now_ms();
    while (!(eof = fz_pump(fd, o, 50)) && fz_now_ms() - o->last < silence_ms) {
    }
    close(fd);
    return eof;
}

void fz_alive(int port, const char *req, size_t n, const char *want)
{
    static struct fz_bytes o;
    o.n = 0;
    int fd = fz_dial(port);
    long long deadline = fz_now_ms() + 10000;
    fz_send_all(fd, req, n, &o, deadline);
    size_t hl = fz_read_head(fd, &o, deadline);
    close(fd);
    size_t wl = strlen(want);
    if (hl < wl || memcmp(o.p, want, wl)) {
        fprintf(stderr, "%s: the server no longer answers \"%s\" (%zu bytes)\n", fz_name(), want,
                o.n);
        abort();
    }
}
