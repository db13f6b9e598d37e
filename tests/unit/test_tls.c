/* Unit tests of src/tls.c over a real TCP connection on 127.0.0.1 with an
 * OpenSSL client: the self-signed context and its pin, the errors for files
 * that cannot be used, the non-blocking handshake, reads that leave bytes
 * inside OpenSSL (tls_pending), ALPN, and which path a file transfer takes
 * (kTLS SSL_sendfile or pread + SSL_write) and that it is counted. */
#include "tls.h"

#include "berth.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static char err[768], warn[512];

static struct tls_ctx *self_signed(int no_h2)
{
    struct tls_conf conf = {.self_signed = 1, .host = "127.0.0.1", .no_h2 = no_h2};
    struct tls_ctx *t = NULL;
    int rc = tls_ctx_new(&t, &conf, err, sizeof err, warn, sizeof warn);
    cr_assert_eq(rc, 0, "self-signed: %d %s", rc, err);
    cr_assert_str_empty(warn);
    return t;
}

/* a connected TCP pair on 127.0.0.1 (kTLS needs TCP), both non-blocking */
static void tcp_pair(int *srv, int *cli)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0);
    cr_assert(getsockname(l, (struct sockaddr *)&a, &al) == 0);
    *cli = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(connect(*cli, (struct sockaddr *)&a, sizeof a) == 0);
    *srv = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    cr_assert(*srv >= 0);
    close(l);
    fcntl(*cli, F_SETFL, fcntl(*cli, F_GETFL) | O_NONBLOCK);
}

struct pair {
    int sfd, cfd;
    struct tls_conn *s;
    SSL_CTX *cctx;
    SSL *c;
};

static void wait_fd(int fd, unsigned want)
{
    struct pollfd p = {.fd = fd, .events = want == TLS_WANT_WRITE ? POLLOUT : POLLIN};
    poll(&p, 1, 50);
}

/* Drives both handshakes to the end; alpn: what the client offers. */
static void connect_pair(struct pair *p, struct tls_ctx *t, const char *alpn, size_t alpn_len)
{
    tcp_pair(&p->sfd, &p->cfd);
    p->s = tls_conn_new(t, p->sfd);
    cr_assert_not_null(p->s);
    p->cctx = SSL_CTX_new(TLS_client_method());
    cr_assert_not_null(p->cctx);
    p->c = SSL_new(p->cctx);
    SSL_set_fd(p->c, p->cfd);
    if (alpn) SSL_set_alpn_protos(p->c, (const unsigned char *)alpn, (unsigned)alpn_len);
    SSL_set_connect_state(p->c);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 2000 && !(sdone && cdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(p->c);
            if (r == 1)
                cdone = 1;
            else
                cr_assert(SSL_get_error(p->c, r) == SSL_ERROR_WANT_READ, "client handshake");
        }
        if (!sdone) {
            unsigned want = 0;
            int r = tls_handshake(p->s, &want);
            cr_assert(r == 1 || r == TLS_WAIT, "server handshake: %d", r);
            if (r == 1)
                sdone = 1;
            else
                cr_assert(want == TLS_WANT_READ || want == TLS_WANT_WRITE);
        }
        if (!(sdone && cdone)) wait_fd(p->sfd, TLS_WANT_READ);
    }
    cr_assert(sdone && cdone, "the handshake did not finish");
}

static void close_pair(struct pair *p)
{
    tls_conn_free(p->s, 0);
    SSL_free(p->c);
    SSL_CTX_free(p->cctx);
    close(p->sfd);
    if (p->cfd >= 0) close(p->cfd);
}

Test(tls, self_signed_context_has_a_base64_sha256_pin)
{
    struct tls_ctx *t = self_signed(0);
    const char *pin = tls_ctx_spki(t);
    cr_assert_eq(strlen(pin), 44, "%s", pin); /* 32 bytes in base64 */
    cr_assert_eq(pin[43], '=');
    for (int i = 0; i < 43; i++)
        cr_assert(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", pin[i]));
    /* nothing to reload: the pair lives in memory */
    cr_assert_eq(tls_ctx_reload(t, err, sizeof err, warn, sizeof warn), 1);
    /* a second one is another key */
    struct tls_ctx *u = self_signed(0);
    cr_assert_str_neq(tls_ctx_spki(u), pin);
    tls_ctx_free(u);
    tls_ctx_free(t);
}

Test(tls, files_that_cannot_be_used_say_why)
{
    struct tls_ctx *t = NULL;
    struct tls_conf conf = {.cert = "/nonexistent/c.pem", .key = "/nonexistent/k.pem"};
    cr_assert_lt(tls_ctx_new(&t, &conf, err, sizeof err, warn, sizeof warn), 0);
    cr_assert_null(t);
    cr_assert(strstr(err, "cannot read the certificate /nonexistent/c.pem: No such file"), "%s",
              err);
    cr_assert(strstr(err, "; check the path"), "%s", err);

    char path[] = "/tmp/berth-tls-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    conf.cert = path;
    cr_assert_lt(tls_ctx_new(&t, &conf, err, sizeof err, warn, sizeof warn), 0);
    cr_assert(strstr(err, "holds no PEM certificate"), "%s", err);
    unlink(path);

    /* a key alone: it needs its certificate (a certificate alone is one
     * file holding both, tried like any other) */
    struct tls_conf half = {.key = "k.pem"};
    cr_assert_lt(tls_ctx_new(&t, &half, err, sizeof err, warn, sizeof warn), 0);
    cr_assert(strstr(err, "a key needs its certificate; give --tls-cert"), "%s", err);
}

Test(tls, bytes_left_inside_openssl_are_pending)
{
    struct tls_ctx *t = self_signed(0);
    struct pair p;
    connect_pair(&p, t, NULL, 0);
    cr_assert_str_empty(tls_alpn(p.s)); /* none offered, none chosen */
    cr_assert_eq(SSL_write(p.c, "hello, world", 12), 12);
    char b[64];
    unsigned want = 0;
    ssize_t n = TLS_WAIT;
    for (int i = 0; i < 200 && n == TLS_WAIT; i++) {
        wait_fd(p.sfd, TLS_WANT_READ);
        n = tls_read(p.s, b, 5, &want);
    }
    cr_assert_eq(n, 5);
    cr_assert(tls_pending(p.s), "7 decrypted bytes wait inside OpenSSL; no event will say so");
    n = tls_read(p.s, b + 5, sizeof b - 5, &want);
    cr_assert_eq(n, 7);
    cr_assert(!memcmp(b, "hello, world", 12));
    cr_assert(!tls_pending(p.s));
    cr_assert_eq(tls_read(p.s, b, sizeof b, &want), TLS_WAIT);
    cr_assert_eq(want, TLS_WANT_READ);
    /* the peer's close_notify reads as the end */
    SSL_shutdown(p.c);
    n = TLS_WAIT;
    for (int i = 0; i < 200 && n == TLS_WAIT; i++) {
        wait_fd(p.sfd, TLS_WANT_READ);
        n = tls_read(p.s, b, sizeof b, &want);
    }
    cr_assert_eq(n, 0);
    close_pair(&p);
    tls_ctx_free(t);
}

static int socket_reads;

static long count_reads(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                        int ret, size_t *processed)
{
    (void)b, (void)argp, (void)len, (void)argi, (void)argl, (void)processed;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) socket_reads++;
    return ret;
}

/* A request is one socket read: once OpenSSL holds nothing more, tls_read
 * returns rather than asking the socket again (a read that would fail with
 * EAGAIN); what OpenSSL read ahead is still all taken.  The reads are
 * counted on the server's read BIO (a tls_conn is its SSL, see tls.c). */
Test(tls, a_request_costs_one_socket_read)
{
    struct tls_ctx *t = self_signed(0);
    struct pair p;
    connect_pair(&p, t, NULL, 0);
    BIO_set_callback_ex(SSL_get_rbio((SSL *)p.s), count_reads);
    char b[64];
    unsigned want = 0;
    for (int round = 0; round < 2; round++) {
        /* one record, then two that arrive together */
        cr_assert_eq(SSL_write(p.c, "hello, world", 12), 12);
        if (round) cr_assert_eq(SSL_write(p.c, "hello, again", 12), 12);
        /* both records in the socket before the read (TLS 1.3: 5 + 12 + 1
         * + 16 bytes each) */
        int queued = 0;
        for (int i = 0; i < 2000; i++) {
            cr_assert_eq(ioctl(p.sfd, FIONREAD, &queued), 0);
            if (queued >= 34 * (round + 1)) break;
            usleep(1000);
        }
        cr_assert_eq(queued, 34 * (round + 1));
        socket_reads = 0;
        ssize_t n = tls_read(p.s, b, sizeof b, &want);
        cr_assert_eq(n, round ? 24 : 12, "round %d: %zd bytes", round, n);
        cr_assert_eq(socket_reads, 1, "round %d: %d socket reads", round, socket_reads);
        cr_assert(!tls_pending(p.s));
    }
    BIO_set_callback_ex(SSL_get_rbio((SSL *)p.s), NULL);
    close_pair(&p);
    tls_ctx_free(t);
}

Test(tls, alpn_offers_h2_only_when_switched_on)
{
    static const char both[] = "\x02h2\x08http/1.1";
    for (int no_h2 = 0; no_h2 <= 1; no_h2++) {
        struct tls_ctx *t = self_signed(no_h2);
        struct pair p;
        connect_pair(&p, t, both, sizeof both - 1);
        cr_assert_str_eq(tls_alpn(p.s), !no_h2 ? "h2" : "http/1.1");
        close_pair(&p);
        tls_ctx_free(t);
    }
}

static int kernel_has_ktls(void)
{
    char ulp[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (f) {
        if (!fgets(ulp, sizeof ulp, f)) ulp[0] = '\0';
        fclose(f);
    }
    return strstr(ulp, "tls") != NULL;
}

Test(tls, file_transfer_takes_ktls_or_the_counted_copy_path)
{
    struct tls_ctx *t = self_signed(0);
    struct pair p;
    connect_pair(&p, t, NULL, 0);
    int ktls = tls_ktls_send(p.s);
    if (!kernel_has_ktls()) cr_assert(!ktls, "kTLS claimed on a kernel without the tls ULP");

    enum { SIZE = 300000 };
    char path[] = "/tmp/berth-tls-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    char *data = malloc(SIZE), *got = malloc(SIZE), buf[65536];
    for (int i = 0; i < SIZE; i++)
        data[i] = (char)(i * 7 + i / 251);
    cr_assert_eq(write(fd, data, SIZE), SIZE);

    uint64_t k0, c0, k1, c1;
    tls_sendfile_stats(&k0, &c0);
    off_t off = 0;
    size_t have = 0;
    for (int i = 0; i < 100000 && have < SIZE; i++) {
        if (off < SIZE) {
            unsigned want = 0;
            ssize_t n = tls_sendfile(p.s, fd, off, (size_t)(SIZE - off), buf, sizeof buf, &want);
            cr_assert(n > 0 || n == TLS_WAIT, "tls_sendfile: %zd", n);
            if (n > 0) off += n;
        }
        int r = SSL_read(p.c, got + have, (int)(SIZE - have));
        if (r > 0)
            have += (size_t)r;
        else
            cr_assert_eq(SSL_get_error(p.c, r), SSL_ERROR_WANT_READ);
    }
    cr_assert_eq(have, (size_t)SIZE);
    cr_assert(!memcmp(data, got, SIZE), "the file arrived changed");
    tls_sendfile_stats(&k1, &c1);
    if (ktls) {
        cr_assert_gt(k1, k0, "kTLS was on: SSL_sendfile should carry the file");
        cr_assert_eq(c1, c0);
    } else {
        cr_assert_gt(c1, c0, "no kTLS: the pread + SSL_write path carries the file, counted");
        cr_assert_eq(k1, k0);
    }
    /* a file shorter than announced: 0, as sendfile(2) says it */
    unsigned want = 0;
    cr_assert_eq(tls_sendfile(p.s, fd, SIZE, 100, buf, sizeof buf, &want), 0);
    free(data);
    free(got);
    close(fd);
    close_pair(&p);
    tls_ctx_free(t);
}

/* Writes all of data[0..size) with tls_write in pieces of up to `piece`
 * bytes as the transport does (a TLS_WAIT is retried with the same bytes),
 * while the client reads; the client reads only every `lazy`-th turn, so
 * the socket fills and writes must wait.  Returns the TLS_WAITs seen. */
static int write_all(struct pair *p, const char *data, char *got, size_t size, size_t piece,
                     int lazy)
{
    size_t off = 0, have = 0;
    int waits = 0;
    for (int i = 0; i < 400000 && have < size; i++) {
        if (off < size) {
            unsigned want = 0;
            size_t k = size - off < piece ? size - off : piece;
            ssize_t n = tls_write(p->s, data + off, k, &want);
            cr_assert(n > 0 || n == TLS_WAIT, "tls_write: %zd", n);
            cr_assert_leq(n, (ssize_t)k);
            if (n > 0) off += (size_t)n;
            if (n == TLS_WAIT) {
                cr_assert_eq(want, TLS_WANT_WRITE);
                waits++;
            }
        }
        if (i % lazy) continue;
        int r = SSL_read(p->c, got + have, (int)(size - have));
        if (r > 0)
            have += (size_t)r;
        else
            cr_assert_eq(SSL_get_error(p->c, r), SSL_ERROR_WANT_READ);
    }
    cr_assert_eq(have, size, "%zu of %zu bytes arrived", have, size);
    cr_assert(!memcmp(data, got, size), "the bytes arrived changed");
    return waits;
}

/* A large write's records go out several to a send; bytes whose records
 * still wait are not reported written, so a reader that falls behind gets
 * every byte once, in order. */
Test(tls, large_writes_share_sends_and_wait_for_their_records)
{
    struct tls_ctx *t = self_signed(0);
    enum { SIZE = 1 << 20 };
    char *data = malloc(SIZE), *got = malloc(SIZE);
    for (int i = 0; i < SIZE; i++)
        data[i] = (char)(i * 13 + i / 509);

    /* a reader that keeps up: 64 records, far fewer sends */
    struct pair p;
    connect_pair(&p, t, NULL, 0);
    int ktls = tls_ktls_send(p.s);
    uint64_t r0, s0, r1, s1;
    tls_write_stats(&r0, &s0);
    write_all(&p, data, got, SIZE, 65536, 1);
    tls_write_stats(&r1, &s1);
    if (!ktls) {
        cr_assert_geq(r1 - r0, SIZE / 16384, "%llu records collected",
                      (unsigned long long)(r1 - r0));
        cr_assert_leq(2 * (s1 - s0), r1 - r0, "%llu sends for %llu records",
                      (unsigned long long)(s1 - s0), (unsigned long long)(r1 - r0));
    }
    close_pair(&p);

    /* a slow reader behind small socket buffers: writes wait, records are
     * owed, and every byte still arrives once */
    connect_pair(&p, t, NULL, 0);
    int small = 16384;
    setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(p.cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    memset(got, 0, SIZE);
    int waits = write_all(&p, data, got, SIZE, 200000, 7);
    cr_assert_gt(waits, 0, "the socket never filled: the waiting path was not tried");
    close_pair(&p);

    /* records wait, then the reader resets: the writer is told, rather
     * than asked to wait for ever (SIGPIPE ignored, as the server does) */
    signal(SIGPIPE, SIG_IGN);
    connect_pair(&p, t, NULL, 0);
    setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(p.cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t off = 0;
    ssize_t n = 0;
    for (int i = 0; i < 1000 && n != TLS_WAIT; i++) {
        unsigned want = 0;
        n = tls_write(p.s, data + off, 200000, &want);
        if (n > 0) off += (size_t)n;
    }
    cr_assert_eq(n, TLS_WAIT, "the socket never filled");
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(p.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    SSL_free(p.c);
    p.c = NULL;
    close(p.cfd);
    p.cfd = -1;
    for (int i = 0; i < 200 && (n > 0 || n == TLS_WAIT); i++) {
        unsigned want = 0;
        wait_fd(p.sfd, TLS_WANT_WRITE);
        n = tls_write(p.s, data + off, 200000, &want);
        if (n > 0) off += (size_t)n;
    }
    cr_assert(n < 0 && n != TLS_WAIT, "a reset peer still gives %zd", n);
    close_pair(&p);

    free(data);
    free(got);
    tls_ctx_free(t);
}

Test(tls, embedding_api_takes_the_tls_fields)
{
    struct berth_opts o;
    berth_opts_init(&o);
    cr_assert_null(o.tls_cert);
    cr_assert_eq(o.tls_self_signed + o.no_h2, 0);
    o.host = "127.0.0.1";
    o.port = 0;
    o.no_signals = 1;
    berth_server *s = NULL;
    cr_assert_eq(berth_server_new(&s, &o), 0);
    cr_assert_null(berth_server_tls_spki(s), "plain HTTP has no certificate");
    berth_server_free(s);

    o.tls_self_signed = 1;
    cr_assert_eq(berth_server_new(&s, &o), 0);
    cr_assert_eq(strlen(berth_server_tls_spki(s)), 44);
    berth_server_free(s);

    o.tls_self_signed = 0;
    o.tls_cert = "/nonexistent/cert.pem";
    o.tls_key = "/nonexistent/key.pem";
    s = NULL;
    cr_assert_eq(berth_server_new(&s, &o), BERTH_ERR_TLS);
    cr_assert_null(s);
    cr_assert(strstr(berth_strerror(BERTH_ERR_TLS), "TLS"));
}
