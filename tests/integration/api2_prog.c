/* api2_prog — the embedding API v2 (issue 12) under test, for
 * test_api_v2.py: streamed request bodies (counted and SHA-256'd),
 * per-route limits, streamed and deferred answers, path and query
 * parameters.  Prints "port N" once listening (one worker, 127.0.0.1).
 *
 *   api2_prog [tls] [ht=MS] [mh=BYTES]   (header_timeout_ms, max_header)
 *
 *   POST /count        streamed body: "<bytes> <sha256>"; ?pause=1 pauses
 *                      on every piece and resumes from another thread
 *   POST /count16      the same with max_body 16
 *   POST /small        whole body, max_body 16: echoes it
 *   POST /big          whole body, max_body 4 MiB: its length
 *   GET  /stream?n=N   chunked: N lines "line i", 20 ms apart, from a thread
 *   GET  /len          streamed with a declared length, a file region inside
 *   GET  /trailer      chunked with a trailer "X-Sum: 42"
 *   GET  /flood        writes until the queue is full, then on writable,
 *                      64 MiB in all (a client that never reads costs the queue)
 *   GET  /defer?ms=N   answered "deferred" N ms later from a thread
 *   GET  /gone         deferred, never answered: the gone callback counts
 *   GET  /gonecount    how many gone callbacks ran
 *   GET  /drop         deferred, then released unanswered from a thread (500)
 *   GET  /users/:id/posts/ *rest  (no space) "id=<id> rest=<rest>"
 *   GET  /q?name=...   berth_req_query_param of "name"
 *   POST /huge         whole body, max_body ULLONG_MAX: its length
 *   POST /echo         streamed body echoed piece by piece into a chunked
 *                      answer begun on the head (gone counted)
 *   GET  /qfill        max_queue 16 KiB: 4 KiB pieces written in the handler
 *                      until BERTH_ERR_FULL; trailer X-Pieces: how many were taken
 *   GET  /gonehdr      deferred, started; when the client goes, the gone
 *                      callback tries a field and a trailer (GET /gonercs:
 *                      their codes, "none" before)
 *   POST /early        streamed body, answered by the handler at once; on_body
 *                      calls after that answer are counted (GET /late)
 *   GET  /status?s=N   a streamed answer with status N (204, 304, 200), -1
 *                      length, a write and a trailer tried all the same
 *   GET  /zero         chunked: empty writes around "x", which alone arrives
 *   GET  /dhdr         deferred, then its X-Name field read through the handle
 *                      (still in the handler call) and answered with it
 *   GET  /hammer?t=T&n=N  T threads write N lines each ("T<i> <j>") on one
 *                      deferred chunked handle, trailers and headers tried
 *                      concurrently; the last one to finish ends it */
#include <berth.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int gone_count;
static char tmpfile_path[64];

struct counter {
    EVP_MD_CTX *md;
    unsigned long long n;
    int pause;
};

static void *resume_later(void *arg)
{
    usleep(1000);
    berth_req_resume(arg);
    return NULL;
}

static void count_body(berth_req *req, const void *data, size_t len, int end, void *arg)
{
    (void)arg;
    struct counter *ct = berth_req_user(req);
    ct->n += len;
    EVP_DigestUpdate(ct->md, data, len);
    if (end) {
        unsigned char h[32];
        char out[128];
        EVP_DigestFinal_ex(ct->md, h, NULL);
        int k = snprintf(out, sizeof out, "%llu ", ct->n);
        for (int i = 0; i < 32; i++)
            k += snprintf(out + k, sizeof out - (size_t)k, "%02x", h[i]);
        EVP_MD_CTX_free(ct->md);
        free(ct);
        berth_respond(req, 200, "text/plain", out, (size_t)k);
        return;
    }
    if (ct->pause) {
        pthread_t t;
        berth_req_pause(req);
        if (pthread_create(&t, NULL, resume_later, req) == 0)
            pthread_detach(t);
        else
            berth_req_resume(req);
    }
}

static void on_gone_count(berth_req *req, void *arg)
{
    (void)arg;
    (void)req;
    gone_count++;
}

static void count(berth_req *req, void *arg)
{
    (void)arg;
    struct counter *cur = calloc(1, sizeof *cur);
    berth_req_set_user(req, cur);
    cur->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(cur->md, EVP_sha256(), NULL);
    char v[8];
    cur->pause = berth_req_query_param(req, "pause", v, sizeof v) >= 0;
}

static void small(berth_req *req, void *arg)
{
    (void)arg;
    size_t n;
    const void *b = berth_req_body(req, &n);
    berth_respond(req, 200, "text/plain", b, n);
}

static void big(berth_req *req, void *arg)
{
    (void)arg;
    size_t n;
    berth_req_body(req, &n);
    char out[32];
    int k = snprintf(out, sizeof out, "%zu", n);
    berth_respond(req, 200, "text/plain", out, (size_t)k);
}

struct job {
    berth_req *h;
    int n, ms;
};

static void *stream_thread(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < j->n; i++) {
        char line[32];
        int k = snprintf(line, sizeof line, "line %d\n", i);
        if (berth_resp_write(j->h, line, (size_t)k) == BERTH_ERR_GONE) break;
        usleep(20000);
    }
    berth_resp_trailer(j->h, "X-Lines", "done");
    berth_resp_end(j->h);
    free(j);
    return NULL;
}

static void stream(berth_req *req, void *arg)
{
    (void)arg;
    char v[16] = "5";
    berth_req_query_param(req, "n", v, sizeof v);
    struct job *j = calloc(1, sizeof *j);
    j->n = atoi(v);
    berth_req_defer(req, &j->h);
    berth_resp_start(j->h, 200, "text/plain", -1);
    pthread_t t;
    pthread_create(&t, NULL, stream_thread, j);
    pthread_detach(t);
}

static void len_route(berth_req *req, void *arg)
{
    (void)arg;
    /* "head " + 10 file bytes + " tail" with a declared length */
    berth_resp_start(req, 200, "text/plain", 20);
    berth_resp_write(req, "head ", 5);
    FILE *f = fopen(tmpfile_path, "rb");
    berth_resp_sendfile(req, fileno(f), 0x7fffffffffffffffll, 1); /* past the end: refused */
    berth_resp_sendfile(req, fileno(f), 2, 10);
    fclose(f);
    berth_resp_write(req, " tail", 5);
    berth_resp_end(req);
}

static void trailer(berth_req *req, void *arg)
{
    (void)arg;
    berth_resp_start(req, 200, "text/plain", -1);
    berth_resp_write(req, "body\n", 5);
    /* fields that are never trailers (RFC 9110 §6.5.1): refused */
    berth_resp_trailer(req, "Content-Type", "text/html");
    berth_resp_trailer(req, "set-cookie", "a=1");
    berth_resp_trailer(req, "Cache-Control", "no-store");
    berth_resp_trailer(req, "X-Sum", "42");
    berth_resp_end(req);
}

static char block[65536];
struct flood {
    berth_req *h;
    long left;
};

static void flood_more(berth_req *req, void *arg)
{
    struct flood *f = arg;
    while (f->left > 0) {
        int rc = berth_resp_write(req, block, sizeof block);
        if (rc == BERTH_ERR_FULL) return; /* writable comes back */
        if (rc < 0) break;
        f->left -= (long)sizeof block;
    }
    berth_resp_end(req);
    f->left = -1;
}

static void flood_gone(berth_req *req, void *arg)
{
    struct flood *f = arg;
    gone_count++;
    if (f->left >= 0) berth_resp_end(req);
    f->left = -1;
}

static void flood(berth_req *req, void *arg)
{
    (void)arg;
    struct flood *f = calloc(1, sizeof *f); /* leaked per request: a test program */
    f->left = 64l << 20;
    berth_resp_start(req, 200, "application/octet-stream", f->left);
    berth_req_defer(req, &f->h);
    berth_req_callbacks(req, flood_more, flood_gone, f);
    flood_more(f->h, f);
}

static void *defer_thread(void *arg)
{
    struct job *j = arg;
    usleep((useconds_t)j->ms * 1000);
    berth_resp_header(j->h, "X-Deferred", "yes");
    int rc = berth_respond(j->h, 200, "text/plain", "deferred\n", 9);
    (void)rc;
    free(j);
    return NULL;
}

static void defer(berth_req *req, void *arg)
{
    (void)arg;
    char v[16] = "10";
    berth_req_query_param(req, "ms", v, sizeof v);
    struct job *j = calloc(1, sizeof *j);
    j->ms = atoi(v);
    berth_req_defer(req, &j->h);
    berth_req_callbacks(req, NULL, on_gone_count, NULL);
    pthread_t t;
    pthread_create(&t, NULL, defer_thread, j);
    pthread_detach(t);
}

static void gone(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    berth_req_defer(req, &h);
    berth_req_callbacks(req, NULL, on_gone_count, NULL);
    /* released only when the client goes: see on_gone_release */
}

static void on_gone_release(berth_req *req, void *arg)
{
    on_gone_count(req, arg);
    berth_resp_end(req); /* BERTH_ERR_GONE, and released */
}

static void gone2(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    berth_req_defer(req, &h);
    berth_req_callbacks(req, NULL, on_gone_release, NULL);
}

static void *drop_thread(void *arg)
{
    usleep(10000);
    berth_resp_end(arg); /* never answered: the client gets 500 */
    return NULL;
}

static void drop(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    pthread_t t;
    berth_req_defer(req, &h);
    pthread_create(&t, NULL, drop_thread, h);
    pthread_detach(t);
}

static void gonecount(berth_req *req, void *arg)
{
    (void)arg;
    char out[16];
    int k = snprintf(out, sizeof out, "%d", gone_count);
    berth_respond(req, 200, "text/plain", out, (size_t)k);
}

static void users(berth_req *req, void *arg)
{
    (void)arg;
    size_t il;
    const char *id = berth_req_param(req, "id", &il);
    char out[256];
    int k = snprintf(out, sizeof out, "id=%.*s rest=%s", (int)il, id ? id : "",
                     berth_req_remainder(req));
    berth_respond(req, 200, "text/plain", out, (size_t)k);
}

static void query(berth_req *req, void *arg)
{
    (void)arg;
    char v[64];
    int rc = berth_req_query_param(req, "name", v, sizeof v);
    if (rc < 0) {
        char out[64];
        int k = snprintf(out, sizeof out, "error %d", rc);
        berth_respond(req, 400, "text/plain", out, (size_t)k);
        return;
    }
    berth_respond(req, 200, "text/plain", v, (size_t)rc);
}

static void echo_body(berth_req *req, const void *data, size_t len, int end, void *arg)
{
    (void)arg;
    if (len) berth_resp_write(req, data, len);
    if (end) berth_resp_end(req);
}

static void echo_gone(berth_req *req, void *arg)
{
    (void)arg;
    gone_count++;
    berth_resp_end(req); /* BERTH_ERR_GONE, and released */
}

static void echo(berth_req *req, void *arg)
{
    (void)arg;
    berth_req_callbacks(req, NULL, echo_gone, NULL);
    berth_resp_start(req, 200, "application/octet-stream", -1);
}

static void qfill(berth_req *req, void *arg)
{
    (void)arg;
    static char piece[4096];
    int n = 0;
    berth_resp_start(req, 200, "text/plain", -1);
    while (n < 1000 && berth_resp_write(req, piece, sizeof piece) > 0)
        n++;
    char out[16];
    snprintf(out, sizeof out, "%d", n);
    berth_resp_trailer(req, "X-Pieces", out); /* the queue is full: not a body piece */
    berth_resp_end(req);
}

static atomic_int gone_rc1 = 1, gone_rc2 = 1;

static void gonehdr_gone(berth_req *req, void *arg)
{
    (void)arg;
    gone_rc1 = berth_resp_header(req, "X-After", "gone");
    gone_rc2 = berth_resp_trailer(req, "X-After", "gone");
    berth_resp_end(req);
}

static void gonehdr(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    berth_req_defer(req, &h);
    berth_req_callbacks(req, NULL, gonehdr_gone, NULL);
}

static void gonercs(berth_req *req, void *arg)
{
    (void)arg;
    char out[32];
    int k = gone_rc1 == 1 ? snprintf(out, sizeof out, "none")
                          : snprintf(out, sizeof out, "%d %d", gone_rc1, gone_rc2);
    berth_respond(req, 200, "text/plain", out, (size_t)k);
}

static atomic_int late;

static void early_body(berth_req *req, const void *data, size_t len, int end, void *arg)
{
    (void)req, (void)data, (void)len, (void)end, (void)arg;
    late++; /* the handler answered (and let go of req) before any piece */
}

static void early(berth_req *req, void *arg)
{
    (void)arg;
    berth_respond(req, 200, "text/plain", "early\n", 6);
}

static void late_route(berth_req *req, void *arg)
{
    (void)arg;
    char out[16];
    int k = snprintf(out, sizeof out, "%d", late);
    berth_respond(req, 200, "text/plain", out, (size_t)k);
}

static void status_route(berth_req *req, void *arg)
{
    (void)arg;
    char v[8] = "200";
    berth_req_query_param(req, "s", v, sizeof v);
    berth_resp_start(req, atoi(v), "text/plain", -1);
    berth_resp_write(req, "body\n", 5);
    berth_resp_trailer(req, "X-T", "1");
    berth_resp_end(req);
}

static void zero(berth_req *req, void *arg)
{
    (void)arg;
    berth_resp_start(req, 200, "text/plain", -1);
    berth_resp_write(req, "", 0);
    berth_resp_write(req, NULL, 0);
    berth_resp_write(req, "x", 1);
    berth_resp_write(req, "", 0);
    berth_resp_end(req);
}

static void dhdr(berth_req *req, void *arg)
{
    (void)arg;
    berth_req *h;
    size_t n = 0;
    berth_req_defer(req, &h);
    const char *v = berth_req_header(h, "X-Name", &n);
    berth_respond(h, 200, "text/plain", v ? v : "none", v ? n : 4);
}

struct hammer {
    berth_req *h;
    int n;
    atomic_int left;
};
struct hammer_arg {
    struct hammer *hm;
    int i;
};

static void *hammer_thread(void *arg)
{
    struct hammer_arg *a = arg;
    struct hammer *hm = a->hm;
    char buf[32];
    for (int j = 0; j < hm->n; j++) {
        int k = snprintf(buf, sizeof buf, "T%d %d\n", a->i, j);
        int rc;
        while ((rc = berth_resp_write(hm->h, buf, (size_t)k)) == BERTH_ERR_FULL)
            usleep(200);
        if (rc < 0) break;
        if (j % 16 == 0) {
            berth_resp_header(hm->h, "X-Late", "no"); /* after the start: refused */
            berth_resp_trailer(hm->h, "X-Part", "yes");
            berth_req_query_param(hm->h, "t", buf, sizeof buf);
            berth_req_resume(hm->h);
        }
    }
    if (--hm->left == 0) {
        berth_resp_end(hm->h);
        free(hm);
    }
    free(a);
    return NULL;
}

static void hammer(berth_req *req, void *arg)
{
    (void)arg;
    char v[16] = "4";
    berth_req_query_param(req, "t", v, sizeof v);
    int t = atoi(v);
    strcpy(v, "100");
    berth_req_query_param(req, "n", v, sizeof v);
    struct hammer *hm = calloc(1, sizeof *hm);
    hm->n = atoi(v);
    hm->left = t;
    berth_req_defer(req, &hm->h);
    berth_resp_start(hm->h, 200, "text/plain", -1);
    for (int i = 0; i < t; i++) {
        struct hammer_arg *a = calloc(1, sizeof *a);
        a->hm = hm;
        a->i = i;
        pthread_t th;
        pthread_create(&th, NULL, hammer_thread, a);
        pthread_detach(th);
    }
}

int main(int argc, char **argv)
{
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/api2_prog.%d", (int)getpid());
    FILE *f = fopen(tmpfile_path, "wb");
    fputs("0123456789abcdef", f);
    fclose(f);
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "tls")) o.tls_self_signed = 1;
        if (!strncmp(argv[i], "ht=", 3)) o.header_timeout_ms = atoi(argv[i] + 3);
        if (!strncmp(argv[i], "mh=", 3)) o.max_header = (size_t)atol(argv[i] + 3);
    }
    berth_server *s;
    struct berth_route_opts stream_body = {.on_body = count_body};
    struct berth_route_opts small_o = {.max_body = 16}, big_o = {.max_body = 4 << 20};
    struct berth_route_opts stream16 = {.on_body = count_body, .max_body = 16};
    struct berth_route_opts pat = {0};
    struct berth_route_opts early_o = {.on_body = early_body}, huge_o = {.max_body = ~0ull};
    struct berth_route_opts echo_o = {.on_body = echo_body}, qfill_o = {.max_queue = 16384};
    int rc = berth_server_new(&s, &o);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/count", 0, count, NULL, &stream_body);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/count16", 0, count, NULL, &stream16);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/small", 0, small, NULL, &small_o);
    if (rc == 0) rc = berth_route(s, "GET", "/drop", 0, drop, NULL);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/big", 0, big, NULL, &big_o);
    if (rc == 0) rc = berth_route(s, "GET", "/stream", 0, stream, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/len", 0, len_route, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/trailer", 0, trailer, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/flood", 0, flood, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/defer", 0, defer, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/gone", 0, gone2, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/gonecount", 0, gonecount, NULL);
    if (rc == 0) rc = berth_route_opts(s, "GET", "/users/:id/posts/*rest", 0, users, NULL, &pat);
    if (rc == 0) rc = berth_route(s, "GET", "/q", 0, query, NULL);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/early", 0, early, NULL, &early_o);
    if (rc == 0) rc = berth_route(s, "GET", "/late", 0, late_route, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/status", 0, status_route, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/zero", 0, zero, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/hammer", 0, hammer, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/dhdr", 0, dhdr, NULL);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/huge", 0, big, NULL, &huge_o);
    if (rc == 0) rc = berth_route_opts(s, "POST", "/echo", 0, echo, NULL, &echo_o);
    if (rc == 0) rc = berth_route_opts(s, "GET", "/qfill", 0, qfill, NULL, &qfill_o);
    if (rc == 0) rc = berth_route(s, "GET", "/gonehdr", 0, gonehdr, NULL);
    if (rc == 0) rc = berth_route(s, "GET", "/gonercs", 0, gonercs, NULL);
    if (rc == 0) rc = berth_server_listen(s);
    if (rc < 0) {
        fprintf(stderr, "api2_prog: %s\n", berth_strerror(rc));
        return 1;
    }
    (void)gone;
    printf("port %d\n", berth_server_port(s));
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    unlink(tmpfile_path);
    return rc < 0;
}
