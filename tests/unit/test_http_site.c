/* The site features' pure parts: content fingerprints, Accept negotiation,
 * the start-up checks of --header/--cache-control/--cors, the prebuilt
 * Cache-Control, the tar headers, and the JSON listing. */
#include "http/accept.h"
#include "http/listing.h"
#include "http/policy.h"
#include "http/tar.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fp(const char *s)
{
    return policy_fingerprinted(s, strlen(s));
}

Test(fingerprint, hex_and_base64url)
{
    cr_expect(fp("app.3f9a1c2b.js"));
    cr_expect(fp("/assets/app.3f9a1c2b.js"));
    cr_expect(fp("main.A1b2C3d4E5.css"));
    cr_expect(fp("x.0123ABCD.js"));                             /* upper-case hex */
    cr_expect(fp("chunk.a1b2c3d4e5f60718293a4b5c6d7e8f90.js")); /* md5 length */
    cr_expect(fp("a.b.0123abcd.min.js"));                       /* any middle segment */
    cr_expect(fp("m.Ab_9-xYz.css"));
    cr_expect(fp("x.3f9A1c2b.js"));
    /* mixed-case hex digits are base64url too */ /* base64url's - and _ */
}

Test(fingerprint, length_7_and_8)
{
    cr_expect_not(fp("app.3f9a1c2.js"));
    cr_expect(fp("app.3f9a1c2b.js"));
    cr_expect_not(fp("main.A1b2C3d.css"));
    cr_expect(fp("main.A1b2C3dE.css"));
}

Test(fingerprint, false_positives_avoided)
{
    cr_expect_not(fp("jquery.min.js"));
    cr_expect_not(fp("file.20240101.txt")); /* a date: digits only */
    cr_expect_not(fp("img.deadbeef.png"));  /* a word in a-f: no digit */
    cr_expect_not(fp("app.production.js")); /* no digit, one case */
    cr_expect_not(fp("lib.es2015min.js"));  /* no upper case: not base64 */
    cr_expect_not(fp("archive.tar.gz"));
    cr_expect_not(fp("x.3f9a1c2b!.js")); /* not base64url */
}

Test(fingerprint, position)
{
    cr_expect_not(fp("3f9a1c2b.js"));        /* the stem */
    cr_expect_not(fp("app.3f9a1c2b"));       /* the extension */
    cr_expect_not(fp("app.3f9a1c2b."));      /* no extension */
    cr_expect_not(fp(".3f9a1c2b.js"));       /* no stem */
    cr_expect_not(fp("app..js"));            /* an empty middle */
    cr_expect(fp("app..3f9a1c2b.js"));       /* an empty one beside */
    cr_expect_not(fp("/a.3f9a1c2b.d/x.js")); /* a directory's name does not count */
    cr_expect_not(fp("/dir/"));
    cr_expect_not(fp(""));
}

Test(fingerprint, cache_control)
{
    struct policy p = {0};
    cr_expect_str_eq(policy_cache_control(NULL, "/a.3f9a1c2b.js"), POLICY_IMMUTABLE);
    cr_expect_null(policy_cache_control(NULL, "/a.js"));
    p.cache_control = "no-cache";
    cr_expect_str_eq(policy_cache_control(&p, "/a.js"), "no-cache");
    cr_expect_str_eq(policy_cache_control(&p, "/a.3f9a1c2b.js"), POLICY_IMMUTABLE);
}

/* ---- Accept ---- */

static int q(const char *v, const char *type, int exact)
{
    return http_accept_q(v, strlen(v), type, exact);
}

Test(accept, q_values_and_specificity)
{
    cr_expect_eq(q("text/html", "text/html", 0), 1000);
    cr_expect_eq(q("TEXT/HTML", "text/html", 0), 1000);
    cr_expect_eq(q("application/json", "text/html", 0), -1);
    cr_expect_eq(q("*/*", "text/html", 0), 1000);
    cr_expect_eq(q("*/*", "text/html", 1), -1);
    cr_expect_eq(q("text/*;q=0.5", "text/html", 0), 500);
    /* the most specific range decides, whatever the others' q */
    cr_expect_eq(q("text/html;q=0, */*", "text/html", 0), 0);
    cr_expect_eq(q("*/*;q=0.1, text/*;q=0.3, text/html;q=0.7", "text/html", 0), 700);
    cr_expect_eq(q("text/html;level=1;q=0.2", "text/html", 0), 200);
    cr_expect_eq(q("text/html ; q=0.25 ", "text/html", 0), 250);
    cr_expect_eq(q("text/html;q=1.000", "text/html", 0), 1000);
    cr_expect_eq(q("text/html;q=0.001", "text/html", 0), 1);
    cr_expect_eq(q("text/html, text/html;q=0.5", "text/html", 0), 1000);
    cr_expect_eq(q("text/html;charset=\"a,b\";q=0.4", "text/html", 0), 400);
    cr_expect_eq(
        q("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json", 0),
        800);
}

Test(accept, bad_members_are_skipped)
{
    cr_expect_eq(q("text/html;q=2, */*;q=0.3", "text/html", 0), 300);
    cr_expect_eq(q("text/html;q=0.0001", "text/html", 0), -1);
    cr_expect_eq(q("text/html;q=1.5", "text/html", 0), -1);
    cr_expect_eq(q("text/html;q=", "text/html", 0), -1);
    cr_expect_eq(q("*/html", "text/html", 0), -1);
    cr_expect_eq(q("text", "text/html", 0), -1);
    cr_expect_eq(q("text/", "text/html", 0), -1);
    cr_expect_eq(q("text/html;\"", "text/html", 0), -1);
    cr_expect_eq(q("", "text/html", 0), -1);
    cr_expect_eq(q(",,, ,text/html", "text/html", 0), 1000);
    cr_expect_eq(q("text/html x", "text/html", 0), -1);
}

Test(accept, request_fields)
{
    struct http_header h[3] = {
        {{"Accept", 6}, {"application/json;q=0.5", 22}},
        {{"Host", 4}, {"x", 1}},
        {{"accept", 6}, {"application/*;q=0.9", 19}},
    };
    struct http_request r = {.headers = h, .nheaders = 3};
    /* both fields are one list: the specific member wins */
    cr_expect_eq(http_accept_req(&r, "application/json", 0), 500);
    cr_expect_eq(http_accept_req(&r, "application/xml", 0), 900);
    cr_expect_eq(http_accept_req(&r, "text/html", 0), -1);
    r.nheaders = 0;
    cr_expect_eq(http_accept_req(&r, "text/html", 0), 1000);
    cr_expect_eq(http_accept_req(&r, "text/html", 1), -1);
}

/* ---- option checks ---- */

Test(checks, header)
{
    char why[512];
    cr_expect_eq(policy_header_check("X-Frame-Options: DENY", why, sizeof why), 0);
    cr_expect_eq(policy_header_check("Content-Security-Policy:default-src 'self'", why, sizeof why),
                 0);
    cr_expect_eq(policy_header_check("X-Empty:", why, sizeof why), 0);
    cr_expect_eq(policy_header_check("NoColon", why, sizeof why), -1);
    cr_expect(strstr(why, "no ':'") && strstr(why, "Name: value"), "%s", why);
    cr_expect_eq(policy_header_check("Bad Name: x", why, sizeof why), -1);
    cr_expect(strstr(why, "not a field name"), "%s", why);
    cr_expect_eq(policy_header_check("X-A: a\r\nX-B: b", why, sizeof why), -1);
    cr_expect(strstr(why, "control character"), "%s", why);
    cr_expect_eq(policy_header_check("Content-Length: 5", why, sizeof why), -1);
    cr_expect(strstr(why, "writes itself"), "%s", why);
    cr_expect_eq(policy_header_check("cache-control: no-store", why, sizeof why), -1);
    cr_expect(strstr(why, "--cache-control"), "%s", why);
    cr_expect_eq(policy_header_check("Access-Control-Allow-Origin: *", why, sizeof why), -1);
    cr_expect(strstr(why, "--cors"), "%s", why);
    cr_expect_eq(policy_header_check("ETag: \"x\"", why, sizeof why), -1);
    /* the digests berth computes itself (--digest, Want-*-Digest) */
    cr_expect_eq(policy_header_check("Repr-Digest: sha-256=:AA==:", why, sizeof why), -1);
    cr_expect_eq(policy_header_check("content-digest: sha-256=:AA==:", why, sizeof why), -1);
    /* a long name that is not a CORS field is not sent to --cors */
    cr_expect_eq(policy_header_check("Transfer-Encoding: chunked", why, sizeof why), -1);
    cr_expect(strstr(why, "writes itself") && !strstr(why, "--cors"), "%s", why);
}

Test(checks, cache_control_and_origin)
{
    char why[512];
    cr_expect_eq(policy_cache_control_check("no-cache", why, sizeof why), 0);
    cr_expect_eq(policy_cache_control_check("public, max-age=3600", why, sizeof why), 0);
    cr_expect_eq(policy_cache_control_check("private=\"Set-Cookie, X\", no-store", why, sizeof why),
                 0);
    cr_expect_eq(policy_cache_control_check("", why, sizeof why), -1);
    cr_expect_eq(policy_cache_control_check("max-age=", why, sizeof why), -1);
    cr_expect_eq(policy_cache_control_check("a b", why, sizeof why), -1);
    cr_expect_eq(policy_cache_control_check("a,,", why, sizeof why), -1);
    cr_expect_eq(policy_cache_control_check("x=\"open", why, sizeof why), -1);
    cr_expect_eq(policy_cache_control_check("no-cache\r\nX: y", why, sizeof why), -1);
    /* its length is bounded: it goes into fixed-size prebuilt heads */
    char longv[POLICY_CACHE_CONTROL_MAX + 2];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    cr_expect_eq(policy_cache_control_check(longv, why, sizeof why), -1);
    cr_expect(strstr(why, "bytes long"), "%s", why);
    longv[POLICY_CACHE_CONTROL_MAX] = '\0';
    cr_expect_eq(policy_cache_control_check(longv, why, sizeof why), 0);
    cr_expect(strstr(why, "cache directives"), "%s", why);
    cr_expect_eq(policy_origin_check("*", why, sizeof why), 0);
    cr_expect_eq(policy_origin_check("https://app.example.com", why, sizeof why), 0);
    cr_expect_eq(policy_origin_check("http://[::1]:8080", why, sizeof why), 0);
    cr_expect_eq(policy_origin_check("https://a.example/path", why, sizeof why), -1);
    cr_expect_eq(policy_origin_check("app.example.com", why, sizeof why), -1);
    cr_expect_eq(policy_origin_check("https://", why, sizeof why), -1);
    cr_expect_eq(policy_origin_check("https://a b", why, sizeof why), -1);
    cr_expect(strstr(why, "not an origin"), "%s", why);
}

Test(checks, init_builds_the_fields)
{
    struct berth_opts o;
    berth_opts_init(&o);
    const char *h[] = {"X-A:  one ", "X-B: two"};
    o.extra_headers = h;
    o.nextra_headers = 2;
    o.cors = "https://a.example";
    struct policy p;
    cr_assert_eq(policy_init(&p, &o), 0);
    cr_assert_not_null(p.fields);
    char *f = strndup(p.fields, p.fields_len);
    cr_expect(strstr(f, "X-A: one\r\nX-B: two\r\nAccess-Control-Allow-Origin: https://a.example\r\n"
                        "Vary: Origin\r\n") == f,
              "%s", f);
    free(f);
    policy_free(&p);
    o.cors = "*";
    o.nextra_headers = 0;
    cr_assert_eq(policy_init(&p, &o), 0);
    cr_expect_null(memmem(p.fields, p.fields_len, "Vary", 4));
    policy_free(&p);
    const char *bad[] = {"Server: x"};
    o.extra_headers = bad;
    o.nextra_headers = 1;
    cr_expect_lt(policy_init(&p, &o), 0);
}

/* ---- tar headers ---- */

static unsigned long oct(const char *p, size_t n)
{
    char tmp[16];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return strtoul(tmp, NULL, 8);
}

static void check_sum(const char *h)
{
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += i >= 148 && i < 156 ? ' ' : (unsigned char)h[i];
    cr_expect_eq(oct(h + 148, 6), sum);
}

Test(tar, ustar_header)
{
    char h[512 * 12];
    size_t n = tar_header(h, "top/a.txt", 9, 0, 1234, 1700000000, 0);
    cr_assert_eq(n, 512);
    cr_expect_str_eq(h, "top/a.txt");
    cr_expect_eq(oct(h + 124, 11), 1234);
    cr_expect_eq(oct(h + 136, 11), 1700000000);
    cr_expect_eq(oct(h + 100, 7), 0644);
    cr_expect_eq(h[156], '0');
    cr_expect_eq(memcmp(h + 257,
                        "ustar\0"
                        "00",
                        8),
                 0);
    check_sum(h);
    cr_expect_eq(tar_header(NULL, "top/a.txt", 9, 0, 1234, 1700000000, 0), 512);
    n = tar_header(h, "top/d/", 6, 1, 0, 0, 1);
    cr_expect_eq(h[156], '5');
    cr_expect_eq(oct(h + 100, 7), 0755);
}

Test(tar, pax_for_long_names_big_sizes_and_odd_times)
{
    char name[300], h[512 * 12];
    memset(name, 'n', sizeof name);
    memcpy(name, "top/", 4);
    size_t n = tar_header(h, name, 300, 0, 10, 5, 0);
    cr_assert_eq(n, tar_header(NULL, name, 300, 0, 10, 5, 0));
    cr_assert_eq(n, 512 + 512 + 512); /* the pax header, its records, the entry */
    cr_expect_eq(h[156], 'x');
    check_sum(h);
    unsigned long plen = oct(h + 124, 11);
    char rec[400];
    snprintf(rec, sizeof rec, "%lu path=%.*s\n", plen, 300, name);
    cr_expect_eq(strlen(rec), plen);
    cr_expect_eq(memcmp(h + 512, rec, plen), 0);
    check_sum(h + 1024);
    cr_expect_eq(h[1024 + 156], '0');

    n = tar_header(h, "top/big", 7, 0, 10ULL << 30, -1, 0);
    cr_assert_eq(n, 1536);
    cr_expect(memmem(h + 512, 512, "size=10737418240\n", 17));
    cr_expect(memmem(h + 512, 512, "mtime=-1\n", 9));

    /* a long name that is not UTF-8 says so */
    name[10] = (char)0xff;
    tar_header(h, name, 300, 0, 1, 1, 0);
    cr_expect(memmem(h + 512, 512, "hdrcharset=BINARY\n", 18));
}

/* ustar names are the portable character set: a short UTF-8 name beyond
 * ASCII is carried as a pax path */
Test(tar, pax_path_for_names_beyond_ascii)
{
    char h[512 * 12];
    size_t n = tar_header(h, "top/caf\xc3\xa9", 9, 0, 1, 1, 0);
    cr_assert_eq(n, 1536);
    cr_assert_eq(n, tar_header(NULL, "top/caf\xc3\xa9", 9, 0, 1, 1, 0));
    cr_expect_eq(h[156], 'x');
    cr_expect(memmem(h + 512, 512, "path=top/caf\xc3\xa9\n", 15));
    cr_expect(!memmem(h + 512, 512, "hdrcharset", 10));
    /* not UTF-8: raw bytes in ustar (GNU tar warns at hdrcharset) */
    n = tar_header(h, "top/\xff", 5, 0, 1, 1, 0);
    cr_assert_eq(n, 512);
    cr_expect_eq(memcmp(h, "top/\xff", 6), 0);
    cr_expect_eq(tar_header(NULL, "top/plain.txt", 13, 0, 1, 1, 0), 512);
}

/* ---- the JSON listing ---- */

Test(listing_json, odd_names_and_order)
{
    char dir[] = "/tmp/berth-site-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    const char *names[] = {"b big", "a\"q", "\xff\xfelatin", "\xe6\x97\xa5.txt", ".hidden"};
    for (int i = 0; i < 5; i++) {
        int fd = openat(d, names[i], O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        cr_assert_eq(ftruncate(fd, (off_t)(i * 100)), 0);
        close(fd);
    }
    cr_assert_eq(mkdirat(d, "zsub", 0755), 0);
    struct listing_opts lo = {LISTING_SIZE, 1, 1, 0};
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(http_listing_ex(&b, -1, d, "/x/", 0, &lo), 0);
    json_error_t err;
    json_t *a = json_loadb(buf_head(&b), buf_len(&b), 0, &err);
    cr_assert_not_null(a, "%s", err.text);
    cr_assert_eq(json_array_size(a), 5); /* no .hidden */
    /* directories first, then by size, largest first */
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "name")), "zsub");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "type")), "dir");
    cr_expect(json_is_null(json_object_get(json_array_get(a, 0), "size")));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "name")),
                     "\xe6\x97\xa5.txt");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 2), "name")),
                     "\\xFF\\xFElatin");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 2), "url")),
                     "%FF%FElatin");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(a, 2), "size")), 200);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 3), "name")), "a\"q");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(a, 4), "name")), "b big");
    const char *mt = json_string_value(json_object_get(json_array_get(a, 4), "mtime"));
    cr_expect(mt && strlen(mt) == 20 && mt[10] == 'T' && mt[19] == 'Z', "%s", mt);
    json_decref(a);
    buf_free(&b);
    for (int i = 0; i < 5; i++)
        unlinkat(d, names[i], 0);
    unlinkat(d, "zsub", AT_REMOVEDIR);
    close(d);
    rmdir(dir);
}

/* ---- through the API: handlers get the fields too, preflights name the
 * routes' methods ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

static berth_server *srv;
static pthread_t th;

static void *runner(void *arg)
{
    (void)arg;
    berth_server_run(srv);
    return NULL;
}

static void say(berth_req *req, void *arg)
{
    berth_respond(req, 200, "text/plain", (const char *)arg, strlen(arg));
}

static void start(void)
{
    static const char *const extra[] = {"X-Site: yes", "Strict-Transport-Security: max-age=60"};
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.quiet = 1;
    o.no_signals = 1;
    o.extra_headers = extra;
    o.nextra_headers = 2;
    o.cors = "https://app.example";
    cr_assert_eq(berth_server_new(&srv, &o), 0);
    cr_assert_eq(berth_route(srv, "GET", "/hello", 0, say, "hi"), 0);
    cr_assert_eq(berth_route(srv, "POST", "/upload", 0, say, "up"), 0);
    cr_assert_eq(berth_route(srv, "PUT", "/upload", 0, say, "up"), 0);
    cr_assert_eq(berth_server_listen(srv), 0);
    cr_assert_eq(pthread_create(&th, NULL, runner, NULL), 0);
}

static void stop(void)
{
    berth_server_stop(srv);
    pthread_join(th, NULL);
    berth_server_free(srv);
}

static char *exchange(const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)berth_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    static char buf[16384];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    return buf;
}

TestSuite(site_api, .init = start, .fini = stop, .timeout = 20);

Test(site_api, handler_answers_carry_the_fields)
{
    char *r = exchange("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n") == r, "%s", r);
    cr_expect(strstr(r, "\r\nX-Site: yes\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\nStrict-Transport-Security: max-age=60\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\nVary: Origin\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\n\r\nhi"), "%s", r);
    /* the 405 and the 404 too */
    r = exchange("DELETE /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 405 ") == r, "%s", r);
    cr_expect(strstr(r, "\r\nX-Site: yes\r\n"), "%s", r);
    r = exchange("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 404 ") == r, "%s", r);
    cr_expect(strstr(r, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"), "%s", r);
}

Test(site_api, preflight_lists_the_routes_methods)
{
    char *r = exchange("OPTIONS /upload HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                       "Access-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n");
    cr_assert(strstr(r, "HTTP/1.1 204 ") == r, "%s", r);
    cr_expect(strstr(r, "\r\nAccess-Control-Allow-Methods: POST, PUT, OPTIONS\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\nAllow: POST, PUT, OPTIONS\r\n"), "%s", r);
    cr_expect(strstr(r, "\r\nAccess-Control-Max-Age: "), "%s", r);
    /* no root, no route: no preflight answer, the 404 as before */
    r = exchange("OPTIONS /nothing HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                 "Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n");
    cr_expect(strstr(r, "HTTP/1.1 404 ") == r, "%s", r);
}
