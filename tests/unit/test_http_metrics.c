/* metrics_format and top_render: the pure formatters of --metrics and
 * berth top. */
#include "buf.h"
#include "http/metrics.h"
#include "http/parse.h"
#include "http/top.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct metrics m; /* large: not on the stack */

static char *format(const struct metrics_view *v)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(metrics_format(&b, v), 0);
    buf_append(&b, "", 1);
    char *s = strdup(buf_head(&b));
    buf_free(&b);
    return s;
}

Test(metrics, requests_by_method_and_status)
{
    memset(&m, 0, sizeof m);
    metrics_request(&m, HTTP_GET, 200);
    metrics_request(&m, HTTP_GET, 200);
    metrics_request(&m, HTTP_HEAD, 304);
    metrics_request(&m, HTTP_OTHER, 400);
    metrics_request(&m, 99, 404);      /* out of range: other */
    metrics_request(&m, HTTP_GET, 99); /* not a status: not counted */
    metrics_request(&m, HTTP_GET, 600);
    struct metrics_view v = {.m = &m, .workers = 2, .uptime = 1.5, .bytes_out = 1234};
    v.conns[CONN_IDLE] = 3;
    char *s = format(&v);
    cr_assert(strstr(s, "berth_http_requests_total{method=\"GET\",code=\"200\"} 2\n"));
    cr_assert(strstr(s, "berth_http_requests_total{method=\"HEAD\",code=\"304\"} 1\n"));
    cr_assert(strstr(s, "berth_http_requests_total{method=\"other\",code=\"400\"} 1\n"));
    cr_assert(strstr(s, "berth_http_requests_total{method=\"other\",code=\"404\"} 1\n"));
    cr_assert_null(strstr(s, "code=\"99\""));
    cr_assert_null(strstr(s, "code=\"600\""));
    cr_assert_null(strstr(s, "code=\"201\"")); /* zero series are left out */
    cr_assert(strstr(s, "berth_sent_bytes_total 1234\n"));
    cr_assert(strstr(s, "berth_connections{state=\"idle\"} 3\n"));
    cr_assert(strstr(s, "berth_connections{state=\"reading_head\"} 0\n"));
    cr_assert(strstr(s, "berth_workers 2\n"));
    cr_assert(strstr(s, "berth_uptime_seconds 1.500\n"));
    cr_assert_null(strstr(s, "tls")); /* no TLS: no handshake family */
    free(s);
}

Test(metrics, compression_counters)
{
    memset(&m, 0, sizeof m);
    struct metrics_view v = {.m = &m,
                             .workers = 1,
                             .comp_made = 3,
                             .comp_in = 1000,
                             .comp_out = 300,
                             .comp_hits = 7,
                             .comp_misses = 4,
                             .comp_evictions = 1,
                             .comp_items = 2,
                             .comp_bytes = 512,
                             .comp_fds = 1,
                             .comp_jobs = 2,
                             .side_fds = 5};
    char *s = format(&v);
    cr_expect(strstr(s, "berth_compress_results_total 3\n"));
    cr_expect(strstr(s, "berth_compress_bytes_total{direction=\"in\"} 1000\n"));
    cr_expect(strstr(s, "berth_compress_bytes_total{direction=\"out\"} 300\n"));
    cr_expect(strstr(s, "berth_compress_cache_lookups_total{result=\"hit\"} 7\n"));
    cr_expect(strstr(s, "berth_compress_cache_lookups_total{result=\"miss\"} 4\n"));
    cr_expect(strstr(s, "berth_compress_cache_evictions_total 1\n"));
    cr_expect(strstr(s, "berth_compress_cache_results 2\n"));
    cr_expect(strstr(s, "berth_compress_cache_bytes 512\n"));
    cr_expect(strstr(s, "berth_compress_cache_descriptors 1\n"));
    cr_expect(strstr(s, "berth_compress_queue 2\n"));
    cr_expect(strstr(s, "berth_sidecar_descriptors 5\n"));
    cr_expect(strstr(s, "# TYPE berth_compress_queue gauge\n"));
    cr_expect(strstr(s, "# TYPE berth_compress_results_total counter\n"));
    free(s);
}

/* every sample line's family has HELP then TYPE before it */
Test(metrics, every_family_has_help_and_type)
{
    memset(&m, 0, sizeof m);
    metrics_request(&m, HTTP_POST, 201);
    struct metrics_view v = {.m = &m, .workers = 1, .tls = 1};
    char *s = format(&v);
    char *save = NULL, help[128] = "", type[128] = "";
    int samples = 0;
    cr_assert(strstr(s, "berth_tls_handshakes_total{result=\"ok\"} 0\n"));
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        if (sscanf(line, "# HELP %127s", name) == 1) {
            strcpy(help, name);
            continue;
        }
        if (sscanf(line, "# TYPE %127s", name) == 1) {
            cr_assert_str_eq(name, help);
            strcpy(type, name);
            continue;
        }
        size_t n = strcspn(line, "{ ");
        cr_assert_eq(strlen(type), n, "%s", line);
        cr_assert_eq(strncmp(line, type, n), 0, "%s", line);
        samples++;
    }
    cr_assert_gt(samples, 10);
    free(s);
}

Test(metrics, sum_adds_workers)
{
    static struct metrics a, b, sum;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&sum, 0, sizeof sum);
    metrics_request(&a, HTTP_GET, 200);
    metrics_request(&b, HTTP_GET, 200);
    metrics_add(&a.accepts, 2);
    metrics_add(&b.resets, 1);
    metrics_sum(&sum, &a);
    metrics_sum(&sum, &b);
    cr_assert_eq(sum.req[HTTP_GET][200 - METRICS_CODE_MIN], 2);
    cr_assert_eq(sum.accepts, 2);
    cr_assert_eq(sum.resets, 1);
    cr_assert_str_eq(metrics_state_name(CONN_WRITING), "writing");
    cr_assert_str_eq(metrics_state_name(99), "unknown");
}

static const char doc[] =
    "{\"version\":\"0.1.0\",\"uptime\":12.0,\"workers\":2,\"connections\":["
    "{\"worker\":0,\"peer\":\"127.0.0.1\",\"peer_port\":1001,\"protocol\":\"http/1.1\","
    "\"state\":\"idle\",\"age\":5.0,\"idle\":4.0,\"bytes_in\":10,\"bytes_out\":20,"
    "\"requests\":1,\"target\":\"/a\"},"
    "{\"worker\":1,\"peer\":\"::1\",\"peer_port\":1002,\"protocol\":\"h2\","
    "\"state\":\"writing\",\"age\":1.0,\"idle\":0.0,\"bytes_in\":100,\"bytes_out\":2500000,"
    "\"requests\":3,\"target\":\"/big\\u001b[2J\"},"
    "{\"worker\":1,\"peer\":\"127.0.0.1\",\"peer_port\":1003,\"protocol\":\"http/1.1\","
    "\"state\":\"reading_head\",\"age\":9.0,\"idle\":9.0,\"bytes_in\":3,\"bytes_out\":0,"
    "\"requests\":0,\"target\":\"\"}]}";

static char *render(const char *json, enum top_sort sort, int rows, int *rc)
{
    struct buf b;
    char err[256] = "";
    buf_init(&b, 0);
    *rc = top_render(&b, json, sort, rows, err, sizeof err);
    buf_append(&b, "", 1);
    char *s = strdup(*rc < 0 ? err : buf_head(&b));
    buf_free(&b);
    return s;
}

Test(top, sorted_by_bytes_and_age)
{
    int rc;
    char *s = render(doc, TOP_BY_BYTES, 0, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(s, "berth 0.1.0  up 12 s  workers 2  connections 3  sorted by bytes\n"));
    char *a = strstr(s, ":1002 "), *b = strstr(s, ":1001 "), *c = strstr(s, ":1003 ");
    cr_assert(a && b && c && a < b && b < c, "%s", s);
    cr_assert(strstr(s, "2.5M"));
    cr_assert_null(strchr(s, '\x1b')); /* a control byte in a target is not obeyed */
    cr_assert(strstr(s, "/big?[2J"));
    free(s);
    s = render(doc, TOP_BY_AGE, 0, &rc);
    a = strstr(s, ":1003 "), b = strstr(s, ":1001 "), c = strstr(s, ":1002 ");
    cr_assert(a && b && c && a < b && b < c, "%s", s);
    free(s);
    s = render(doc, TOP_BY_AGE, 1, &rc); /* cut to the screen */
    cr_assert(strstr(s, ":1003 ") && !strstr(s, ":1001 "));
    free(s);
}

Test(top, not_a_status_document)
{
    int rc;
    char *s = render("# HELP x y\n", TOP_BY_BYTES, 0, &rc);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(s, "not a berth status document"), "%s", s);
    free(s);
    s = render("{\"connections\":[]}", TOP_BY_BYTES, 0, &rc);
    cr_assert_lt(rc, 0);
    free(s);
    s = render("{\"version\":\"1\",\"connections\":[]}", TOP_BY_BYTES, 0, &rc);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(s, "connections 0"));
    free(s);
}

/* found by fuzz_top_render: a row longer than the line buffer (huge numbers
 * from the server, a long peer) lost its '\n', so the next row ran on */
Test(top, an_overlong_row_still_ends_its_line)
{
    int rc;
    char json[1024];
    snprintf(
        json, sizeof json,
        "{\"version\":\"x\",\"connections\":[{\"age\":1e300,\"idle\":-1e300,\"peer\":\"%0100d\","
        "\"target\":\"/a\"},{\"age\":1,\"target\":\"/b\"}]}",
        0);
    char *s = render(json, TOP_BY_AGE, 0, &rc);
    cr_assert_eq(rc, 0);
    size_t lines = 0;
    for (const char *p = s; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 4, "%s", s); /* summary, heads, two rows */
    cr_expect_eq(s[strlen(s) - 1], '\n');
    free(s);
}

/* C1 controls (U+0080..U+009F, C2 80..C2 9F in UTF-8) are obeyed by many
 * terminals as C0 ones are (U+009B is CSI): each is shown as one '?', the
 * way a C0 control is; the characters around them (U+00A0 just past the
 * range, é) are shown as they are */
Test(top, c1_controls_in_strings_are_not_obeyed)
{
    static const char json[] =
        "{\"version\":\"1\\u009b2J\",\"connections\":[{\"peer\":\"\\u0080x\\u009f\","
        "\"protocol\":\"h\\u0085\",\"state\":\"\\u009d0;t\\u009c\","
        "\"target\":\"/a\\u009b31mb\\u00a0\\u00e9\\u001b\"}]}";
    int rc;
    char *s = render(json, TOP_BY_BYTES, 0, &rc);
    cr_assert_eq(rc, 0, "%s", s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        cr_expect(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f), "a C1 control at %zu: %s",
                  (size_t)(p - (const unsigned char *)s), s);
    cr_expect(strstr(s, "berth 1?2J "), "%s", s);
    cr_expect(strstr(s, " ?x?:0 "), "%s", s);
    cr_expect(strstr(s, " h? "), "%s", s);
    cr_expect(strstr(s, " ?0;t? "), "%s", s);
    cr_expect(strstr(s, "/a?31mb\xc2\xa0\xc3\xa9?\n"), "%s", s);
    free(s);
}

/* found by fuzz_top_render: byte counts past long long (2e84 from a hostile
 * document) were converted to it, which is undefined (UBSan stops there; x86
 * gives LLONG_MIN, so the largest row sorted last) */
Test(top, byte_counts_past_long_long_sort_first)
{
    static const char json[] =
        "{\"version\":\"1\",\"connections\":[{\"peer_port\":1,\"bytes_out\":5},"
        "{\"peer_port\":2,\"bytes_in\":1,\"bytes_out\":2e84},{\"peer_port\":3,\"bytes_out\":7}]}";
    int rc;
    char *s = render(json, TOP_BY_BYTES, 0, &rc);
    cr_assert_eq(rc, 0, "%s", s);
    char *a = strstr(s, ":2 "), *b = strstr(s, ":3 "), *c = strstr(s, ":1 ");
    cr_expect(a && b && c && a < b && b < c, "%s", s);
    free(s);
}
