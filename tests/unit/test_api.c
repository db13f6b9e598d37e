/* The embedding API (include/berth.h) through its public functions only: a
 * server runs on a thread of this process and real sockets talk to it. */
#include <berth.h>
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static berth_server *srv;
static pthread_t th;
static int run_rc = 1;

static void *runner(void *arg)
{
    (void)arg;
    run_rc = berth_server_run(srv);
    return NULL;
}

static void hello(berth_req *req, void *arg)
{
    (void)arg;
    berth_respond(req, 200, "text/html; charset=utf-8", "Hello, client!", 14);
}

/* echoes method, path, query, a header and the body */
static void inspect(berth_req *req, void *arg)
{
    (void)arg;
    char out[4096];
    size_t hl = 0, bl = 0;
    const char *h = berth_req_header(req, "x-test", &hl);
    const char *b = berth_req_body(req, &bl);
    int n =
        snprintf(out, sizeof out, "%s|%s|%s|%.*s|%.*s", berth_req_method(req), berth_req_path(req),
                 berth_req_query(req), h ? (int)hl : 1, h ? h : "-", (int)bl, b ? b : "");
    cr_assert_eq(berth_resp_header(req, "X-Reply", "yes"), 0);
    cr_assert_lt(berth_resp_header(req, "X-Bad", "split\r\nInjected: 1"), 0);
    berth_respond(req, 201, "text/plain", out, (size_t)n);
    cr_assert_lt(berth_respond(req, 200, NULL, "", 0), 0, "a second answer must be refused");
}

static void silent(berth_req *req, void *arg)
{
    (void)req;
    (void)arg;
}

static void start(void)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.max_body = 64;
    cr_assert_eq(berth_server_new(&srv, &o), 0);
    cr_assert_eq(berth_route(srv, "GET", "/", 0, hello, NULL), 0);
    cr_assert_eq(berth_route(srv, NULL, "/api/", 1, inspect, NULL), 0);
    cr_assert_eq(berth_route(srv, "GET", "/silent", 0, silent, NULL), 0);
    cr_assert_lt(berth_route(srv, "GET", "no-slash", 0, hello, NULL), 0);
    cr_assert_eq(berth_server_listen(srv), 0);
    cr_assert_gt(berth_server_port(srv), 0);
    cr_assert_eq(pthread_create(&th, NULL, runner, NULL), 0);
}

static void stop(void)
{
    berth_server_stop(srv);
    pthread_join(th, NULL);
    cr_assert_eq(run_rc, 0);
    berth_server_free(srv);
}

/* Sends req on a new connection and returns everything until the server
 * closes (or 2 s of silence). */
static char *exchange(const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)berth_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(send(fd, req, len, 0), (ssize_t)len);
    static char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    return buf;
}

#define EXCHANGE(lit) exchange(lit, sizeof(lit) - 1)

TestSuite(api, .init = start, .fini = stop, .timeout = 20);

Test(api, hello_route_answers_the_seed_greeting)
{
    char *r = EXCHANGE("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    cr_assert(strstr(r, "Content-Type: text/html; charset=utf-8\r\n"));
    cr_assert(strstr(r, "Content-Length: 14\r\n"));
    cr_assert(strstr(r, "\r\n\r\nHello, client!"));
}

Test(api, no_root_means_404_for_other_paths)
{
    char *r = EXCHANGE("GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 404 ") == r, "%s", r);
}

Test(api, method_mismatch_falls_through)
{
    char *r =
        EXCHANGE("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 404 ") == r, "%s", r);
}

Test(api, prefix_route_sees_method_path_query_header_body)
{
    char *r = EXCHANGE("PUT /api/a%20b/../c?x=1&y HTTP/1.1\r\nHost: x\r\nX-Test: val\r\n"
                       "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    cr_assert(strstr(r, "HTTP/1.1 201 Created\r\n") == r, "%s", r);
    cr_assert(strstr(r, "X-Reply: yes\r\n"));
    cr_assert(!strstr(r, "Injected"));
    cr_assert(strstr(r, "\r\n\r\nPUT|/api/c|x=1&y|val|hello"), "%s", r);
}

Test(api, body_split_across_reads_and_pipelined_after)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)berth_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *p1 = "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab";
    const char *p2 = "cdefGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send(fd, p1, strlen(p1), 0);
    usleep(100 * 1000);
    send(fd, p2, strlen(p2), 0);
    char buf[8192];
    size_t got = 0;
    ssize_t r;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while ((r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    cr_assert(strstr(buf, "POST|/api/x||-|abcdef"), "%s", buf);
    char *second = strstr(buf, "HTTP/1.1 200 OK");
    cr_assert(second && strstr(second, "Hello, client!"), "%s", buf);
}

Test(api, body_over_the_limit_is_413)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    char *r = exchange(req, (size_t)n);
    cr_assert(strstr(r, "HTTP/1.1 413 ") == r, "%s", r);
    cr_assert(strstr(r, "Connection: close\r\n"));
}

Test(api, handler_that_does_not_answer_gives_500)
{
    char *r = EXCHANGE("GET /silent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 500 ") == r, "%s", r);
}

Test(api, head_on_a_handler_keeps_length_drops_body)
{
    char *r = EXCHANGE("HEAD /api/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 201 ") == r, "%s", r);
    cr_assert(strstr(r, "Content-Length: "));
    char *end = strstr(r, "\r\n\r\n");
    cr_assert(end && end[4] == '\0', "no body after HEAD: %s", r);
}

Test(api, strerror_names_causes)
{
    cr_assert_str_eq(berth_strerror(-98), "address already in use");
}
