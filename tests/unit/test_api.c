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

/* answers "<tag>:<method>:<path>" (the tag is the route's arg) */
static void tagged(berth_req *req, void *arg)
{
    char out[512];
    int n = snprintf(out, sizeof out, "%s:%s:%s", (const char *)arg, berth_req_method(req),
                     berth_req_path(req));
    berth_respond(req, 200, "text/plain", out, (size_t)n);
}

/* answers the status given as the query, with an empty body */
static void status_of_query(berth_req *req, void *arg)
{
    (void)arg;
    berth_respond(req, atoi(berth_req_query(req)), NULL, NULL, 0);
}

/* Tries to smuggle fields into its own response; the body lists each
 * call's return code, in order, so the test can check them all. */
static void injector(berth_req *req, void *arg)
{
    (void)arg;
    static const char *const bad[][2] = {
        {"X-Bad", "split\r\nInjected: 1"},
        {"X-Bad", "lf\nInjected: 1"},
        {"X-Bad", "cr\rInjected: 1"},
        {"X-Bad", "ctl\x01"},
        {"X-Bad", "del\x7f"},
        {"X-Bad", " leading"},
        {"X-Bad", "trailing\t"},
        {"X Bad", "v"},
        {"X-Bad:", "v"},
        {"", "v"},
        {"X-Bad\r\nInjected", "v"},
        {"X-B\xc3\xa4"
         "d",
         "v"},
        {"Content-Length", "0"},
        {"content-length", "0"},
        {"Transfer-Encoding", "chunked"},
        {"Connection", "close"},
        {"Keep-Alive", "timeout=5"},
        {"Upgrade", "h2c"},
        {"TE", "trailers"},
        {"Trailer", "X-T"},
        {"Date", "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"SERVER", "other"},
    };
    char out[2048];
    size_t n = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%d ",
                              berth_resp_header(req, bad[i][0], bad[i][1]));
    /* valid ones: obs-text, inner HTAB and SP, an empty value, a repeated field */
    /* (one call per statement: argument order is unspecified in C) */
    static const char *const good[][2] = {
        {"X-Utf8", "caf\xc3\xa9"}, {"X-Tab", "a\tb c"},   {"X-Empty", ""},
        {"Set-Cookie", "a=1"},     {"Set-Cookie", "b=2"},
    };
    n += (size_t)snprintf(out + n, sizeof out - n, "|");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, " %d",
                              berth_resp_header(req, good[i][0], good[i][1]));
    static const char *const types[] = {"text/plain\r\nSet-Cookie: evil=1", "text/plain\nX-Evil: 1",
                                        " text/plain"};
    n += (size_t)snprintf(out + n, sizeof out - n, " |");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, " %d",
                              berth_respond(req, 200, types[i], "x", 1));
    berth_respond(req, 200, "text/plain", out, n);
}

/* Content-Type as a field: once, and then not again from berth_respond */
static void typed_by_field(berth_req *req, void *arg)
{
    (void)arg;
    char out[64];
    int a = berth_resp_header(req, "Content-Type", "text/x-one");
    int b = berth_resp_header(req, "content-type", "text/x-two");
    int c = berth_respond(req, 200, "text/x-three", "x", 1);
    int n = snprintf(out, sizeof out, "%d %d %d", a, b, c);
    berth_respond(req, 200, NULL, out, (size_t)n);
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
    cr_assert_eq(berth_route(srv, "GET", "/files", 1, tagged, "files"), 0);
    cr_assert_eq(berth_route(srv, "GET", "/dir/", 1, tagged, "dir"), 0);
    cr_assert_eq(berth_route(srv, "POST", "/upload", 0, tagged, "post"), 0);
    cr_assert_eq(berth_route(srv, "PUT", "/upload", 0, tagged, "put"), 0);
    cr_assert_eq(berth_route(srv, "POST", "/upload", 0, tagged, "again"), 0);
    cr_assert_eq(berth_route(srv, "GET", "/opt", 0, tagged, "get"), 0);
    cr_assert_eq(berth_route(srv, "OPTIONS", "/opt", 0, tagged, "options"), 0);
    cr_assert_eq(berth_route(srv, "HEAD", "/head", 0, tagged, "head"), 0);
    cr_assert_eq(berth_route(srv, "GET", "/head", 0, tagged, "get"), 0);
    cr_assert_eq(berth_route(srv, "GET", "/status", 0, status_of_query, NULL), 0);
    cr_assert_eq(berth_route(srv, "GET", "/inject", 0, injector, NULL), 0);
    cr_assert_eq(berth_route(srv, "GET", "/typed", 0, typed_by_field, NULL), 0);
    cr_assert_lt(berth_route(srv, "G T", "/x", 0, hello, NULL), 0, "a method is a token");
    cr_assert_lt(berth_route(srv, "GET\r\nX: y", "/x", 0, hello, NULL), 0);
    cr_assert_lt(berth_route(srv, "", "/x", 0, hello, NULL), 0);
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
    cr_assert_eq(berth_server_stop_signal(srv), 0, "stopped by a call, not a signal");
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

Test(api, method_mismatch_is_405_with_allow)
{
    char *r =
        EXCHANGE("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: GET, HEAD, OPTIONS\r\n"), "%s", r);
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

/* ---- header fields a handler sets ---- */

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *head_of(char *r)
{
    char *end = strstr(r, "\r\n\r\n");
    cr_assert(end, "%s", r);
    end[2] = '\0';
    return end + 4;
}

Test(api, injected_and_reserved_fields_are_refused_and_leave_the_response_untouched)
{
    char *r = EXCHANGE("GET /inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char *body = head_of(r);
    char want[1024];
    int n = 0;
    for (int i = 0; i < 12; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%d ", BERTH_ERR_FIELD);
    for (int i = 0; i < 10; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%d ", BERTH_ERR_RESERVED);
    snprintf(want + n, sizeof want - (size_t)n, "| 0 0 0 0 0 | %d %d %d", BERTH_ERR_FIELD,
             BERTH_ERR_FIELD, BERTH_ERR_FIELD);
    cr_assert_str_eq(body, want);
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    cr_assert(!strstr(r, "Injected") && !strstr(r, "evil") && !strstr(r, "Evil"), "%s", r);
    cr_assert(!strstr(r, "X-Bad") && !strstr(r, "X Bad"), "%s", r);
    cr_assert_eq(count(r, "Content-Length:"), 1, "%s", r);
    cr_assert_eq(count(r, "Content-Type:"), 1, "%s", r);
    cr_assert_eq(count(r, "Date:"), 1, "%s", r);
    cr_assert_eq(count(r, "Server:"), 1, "%s", r);
    cr_assert_eq(count(r, "Connection:"), 1, "%s", r);
    cr_assert(!strstr(r, "Transfer-Encoding") && !strstr(r, "Keep-Alive") && !strstr(r, "Upgrade"));
    cr_assert(strstr(r, "\r\nX-Utf8: caf\xc3\xa9\r\n"), "%s", r);
    cr_assert(strstr(r, "\r\nX-Tab: a\tb c\r\n"), "%s", r);
    cr_assert(strstr(r, "\r\nX-Empty: \r\n"), "%s", r);
    cr_assert(strstr(r, "\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"), "%s", r);
}

Test(api, content_type_as_a_field_is_taken_once)
{
    char *r = EXCHANGE("GET /typed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char *body = head_of(r);
    char want[64];
    snprintf(want, sizeof want, "0 %d %d", BERTH_ERR_RESERVED, BERTH_ERR_RESERVED);
    cr_assert_str_eq(body, want);
    cr_assert_eq(count(r, "Content-Type:"), 1, "%s", r);
    cr_assert(strstr(r, "\r\nContent-Type: text/x-one\r\n"), "%s", r);
}

Test(api, error_codes_name_cause_and_fix)
{
    cr_assert(strstr(berth_strerror(BERTH_ERR_FIELD), "token"));
    cr_assert(strstr(berth_strerror(BERTH_ERR_RESERVED), "Content-Length"));
    cr_assert(strstr(berth_strerror(BERTH_ERR_RESERVED), "berth_respond"));
}

/* ---- prefix routes match whole segments ---- */

Test(api, prefix_matches_whole_segments)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/files", "200 OK\r\n|files:GET:/files"},
        {"/files/", "200 OK\r\n|files:GET:/files/"},
        {"/files/a/b.txt", "200 OK\r\n|files:GET:/files/a/b.txt"},
        {"/filesystem", "404 "},
        {"/files.txt", "404 "},
        {"/dir/", "200 OK\r\n|dir:GET:/dir/"},
        {"/dir/x", "200 OK\r\n|dir:GET:/dir/x"},
        {"/dir", "200 OK\r\n|dir:GET:/dir"},
        {"/directory", "404 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         cases[i].path);
        char *r = exchange(req, (size_t)n);
        char *body = head_of(r);
        const char *bar = strchr(cases[i].want, '|');
        size_t sl = bar ? (size_t)(bar - cases[i].want) : strlen(cases[i].want);
        cr_assert(!strncmp(r + 9, cases[i].want, sl), "%s: %s", cases[i].path, r);
        if (bar) cr_assert_str_eq(body, bar + 1, "%s", cases[i].path);
    }
}

/* ---- HEAD, 405, OPTIONS ---- */

Test(api, head_on_a_get_route_runs_it_without_body)
{
    char *r = EXCHANGE("HEAD /files/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char *body = head_of(r);
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    /* the handler saw HEAD and answered "files:HEAD:/files/a" (19 bytes) */
    cr_assert(strstr(r, "\r\nContent-Length: 19\r\n"), "%s", r);
    cr_assert(strstr(r, "\r\nContent-Type: text/plain\r\n"), "%s", r);
    cr_assert_str_eq(body, "");
}

Test(api, an_explicit_head_route_wins_over_get)
{
    char *r = EXCHANGE("HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    head_of(r);
    cr_assert(strstr(r, "\r\nContent-Length: 15\r\n"), "head:HEAD:/head: %s", r);
    r = EXCHANGE("GET /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_str_eq(head_of(r), "get:GET:/head");
}

Test(api, other_methods_get_405_with_the_exact_allow)
{
    char *r = EXCHANGE("DELETE /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: POST, PUT, OPTIONS\r\n"), "%s", r);
    cr_assert_eq(count(r, "Allow:"), 1, "%s", r);
    r = EXCHANGE("GET /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 ") == r, "%s", r);
    r = EXCHANGE("POST /files/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                 "GET /files/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 ") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: GET, HEAD, OPTIONS\r\n"), "%s", r);
    cr_assert(strstr(r, "files:GET:/files/y"),
              "the body was skipped, the next request answered: %s", r);
}

Test(api, options_lists_the_methods_of_the_path)
{
    char *r = EXCHANGE("OPTIONS /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 204 No Content\r\n") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: POST, PUT, OPTIONS\r\n"), "%s", r);
    cr_assert_str_eq(head_of(r), "");
    r = EXCHANGE("OPTIONS /files/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 204 ") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: GET, HEAD, OPTIONS\r\n"), "%s", r);
    /* a route of its own answers OPTIONS itself */
    r = EXCHANGE("OPTIONS /opt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 200 ") == r, "%s", r);
    cr_assert_str_eq(head_of(r), "options:OPTIONS:/opt");
    /* no route for the path at all: as before */
    r = EXCHANGE("OPTIONS /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 404 ") == r, "%s", r);
}

/* ---- reason phrases ---- */

Test(api, reason_phrases_follow_the_iana_registry)
{
    static const struct {
        int code;
        const char *reason;
    } cases[] = {
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {207, "Multi-Status"},
        {303, "See Other"},
        {409, "Conflict"},
        {410, "Gone"},
        {415, "Unsupported Media Type"},
        {418, "I'm a teapot"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {451, "Unavailable For Legal Reasons"},
        {502, "Bad Gateway"},
        {504, "Gateway Timeout"},
        {511, "Network Authentication Required"},
        {299, ""},
        {599, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[128], want[96];
        int n = snprintf(req, sizeof req,
                         "GET /status?%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         cases[i].code);
        snprintf(want, sizeof want, "HTTP/1.1 %d %s\r\n", cases[i].code, cases[i].reason);
        char *r = exchange(req, (size_t)n);
        cr_assert(strstr(r, want) == r, "want %s got %s", want, r);
    }
}

/* ---- with a root: static files answer GET and HEAD everywhere ---- */

static char rootdir[64];

static void start_with_root(void)
{
    strcpy(rootdir, "/tmp/berth-api-XXXXXX");
    cr_assert(mkdtemp(rootdir));
    char f[128];
    snprintf(f, sizeof f, "%s/upload", rootdir);
    FILE *fp = fopen(f, "w");
    cr_assert(fp);
    fputs("a static file\n", fp);
    fclose(fp);
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.root = rootdir;
    cr_assert_eq(berth_server_new(&srv, &o), 0);
    cr_assert_eq(berth_route(srv, "POST", "/upload", 0, tagged, "post"), 0);
    cr_assert_eq(berth_server_listen(srv), 0);
    cr_assert_eq(pthread_create(&th, NULL, runner, NULL), 0);
}

static void stop_with_root(void)
{
    stop();
    char f[128];
    snprintf(f, sizeof f, "%s/upload", rootdir);
    unlink(f);
    rmdir(rootdir);
}

TestSuite(api_root, .init = start_with_root, .fini = stop_with_root, .timeout = 20);

Test(api_root, get_falls_through_to_static_files_and_allow_lists_them)
{
    char *r = EXCHANGE("GET /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    cr_assert_str_eq(head_of(r), "a static file\n");
    r = EXCHANGE(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    cr_assert_str_eq(head_of(r), "post:POST:/upload");
    r = EXCHANGE("DELETE /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 ") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: POST, GET, HEAD, OPTIONS\r\n"), "%s", r);
    r = EXCHANGE("OPTIONS /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 204 ") == r, "%s", r);
    cr_assert(strstr(r, "\r\nAllow: POST, GET, HEAD, OPTIONS\r\n"), "%s", r);
}

/* ---- proxy_protocol and health: the client a PROXY header names ---- */

/* answers berth_req_peer(), and whether a too-small buffer is refused */
static void peer(berth_req *req, void *arg)
{
    (void)arg;
    char a[46], small[4];
    int n = berth_req_peer(req, a, sizeof a);
    cr_assert_geq(n, 0);
    cr_assert_eq((size_t)n, strlen(a));
    cr_assert_eq(berth_req_peer(req, small, sizeof small), n < 4 ? n : BERTH_ERR_USAGE);
    berth_respond(req, 200, "text/plain", a, (size_t)n);
}

static void start_proxy(void)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.proxy_protocol = 1;
    o.health = "/hz";
    cr_assert_eq(berth_server_new(&srv, &o), 0);
    cr_assert_eq(berth_route(srv, "GET", "/peer", 0, peer, NULL), 0);
    cr_assert_eq(berth_server_listen(srv), 0);
    cr_assert_eq(pthread_create(&th, NULL, runner, NULL), 0);
}

TestSuite(api_proxy, .init = start_proxy, .fini = stop, .timeout = 20);

#define PEER_REQ "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

Test(api_proxy, req_peer_is_the_header_client)
{
    char *r = EXCHANGE("PROXY TCP4 192.0.2.9 10.0.0.1 1000 80\r\n" PEER_REQ);
    cr_assert_str_eq(head_of(r), "192.0.2.9", "%s", r);
    r = EXCHANGE("PROXY TCP6 2001:db8::5 ::1 1000 80\r\n" PEER_REQ);
    cr_assert_str_eq(head_of(r), "2001:db8::5", "%s", r);
    r = EXCHANGE("PROXY TCP6 ::ffff:198.51.100.3 ::1 1000 80\r\n" PEER_REQ);
    cr_assert_str_eq(head_of(r), "198.51.100.3", "a v4-mapped client reads as IPv4: %s", r);
    r = EXCHANGE("PROXY UNKNOWN\r\n" PEER_REQ);
    cr_assert_str_eq(head_of(r), "127.0.0.1", "UNKNOWN keeps the socket's peer: %s", r);
    /* v2 LOCAL, as a balancer's own check sends it */
    r = EXCHANGE("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00" PEER_REQ);
    cr_assert_str_eq(head_of(r), "127.0.0.1", "%s", r);
}

Test(api_proxy, no_header_no_answer_and_health_ok)
{
    char *r = EXCHANGE(PEER_REQ);
    cr_assert_str_eq(r, "", "no header: closed without an answer");
    r = EXCHANGE("PROXY UNKNOWN\r\nGET /hz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    cr_assert_str_eq(head_of(r), "ok");
}

/* options that would go out in a response as they are are checked first:
 * a mime_default that is no media type (a CRLF would start a new field) */
Test(api_opts, mime_default_must_be_a_media_type)
{
    static const char *const bad[] = {"text",
                                      "text/",
                                      "/plain",
                                      "text/plain\r\nX-Injected: 1",
                                      "text/plain; charset=utf-8",
                                      "text/x;a",
                                      "text/x;a=\"b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct berth_opts o;
        berth_opts_init(&o);
        o.mime_default = bad[i];
        berth_server *s = NULL;
        cr_expect_eq(berth_server_new(&s, &o), BERTH_ERR_USAGE, "%s", bad[i]);
        berth_server_free(s);
    }
    static const char *const good[] = {"text/plain", "text/x-a;charset=latin1",
                                       "application/x;a=\"b c\\\"\"", "a/b;x=1;y=2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct berth_opts o;
        berth_opts_init(&o);
        o.mime_default = good[i];
        o.port = 0;
        berth_server *s = NULL;
        cr_expect_eq(berth_server_new(&s, &o), 0, "%s", good[i]);
        berth_server_free(s);
    }
}
