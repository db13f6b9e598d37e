#include "http/alog.h"

#include "berth.h"
#include "err.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 2026-03-01 12:34:56 UTC */
#define WHEN ((time_t)1772368496)

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

static struct http_str S(const char *s) {
    return http_str_cstr(s);
}

/* an entry for GET target HTTP/1.1 from 192.0.2.7, 200, bytes */
static struct alog_entry
entry(const char *target, uint64_t bytes)
{
    struct alog_entry e;
    memset(&e, 0, sizeof e);
    e.family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", e.addr);
    e.when = WHEN;
    e.method = S("GET");
    e.target = S(target);
    e.version = 11;
    e.status = 200;
    e.bytes = bytes;
    return e;
}

/* the formatted line, without its '\n' (which is checked here) */
static char *line(const struct alog_entry *e, enum alog_fmt fmt)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(alog_format(&b, e, fmt), 0);
    cr_assert_gt(buf_len(&b), 0);
    cr_assert_lt(buf_len(&b), sizeof out);
    cr_assert_eq(buf_head(&b)[buf_len(&b) - 1], '\n', "a line ends with a newline");
    cr_assert_null(memchr(buf_head(&b), '\n', buf_len(&b) - 1), "one line only");
    memcpy(out, buf_head(&b), buf_len(&b) - 1);
    out[buf_len(&b) - 1] = '\0';
    buf_free(&b);
    return out;
}

TestSuite(alog, .init = utc);

Test(alog, clf)
{
    struct alog_entry e = entry("/a.txt?q=1", 1234);
    cr_expect_str_eq(
        line(&e, ALOG_CLF),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /a.txt?q=1 HTTP/1.1\" 200 1234");
    e.version = 10;
    e.status = 404;
    e.method = S("HEAD");
    cr_expect_str_eq(
        line(&e, ALOG_CLF),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"HEAD /a.txt?q=1 HTTP/1.0\" 404 1234");
}

Test(alog, bytes_dash_when_none)
{
    struct alog_entry e = entry("/", 0);
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 -");
    e.bytes = 18446744073709551615ull;
    cr_expect_str_eq(
        line(&e, ALOG_CLF),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 18446744073709551615");
    e.bytes = 1;
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 1");
}

Test(alog, escapes_quote_backslash_controls)
{
    struct alog_entry e = entry("/a\"b\\c\x01\x1f\x7f d\te\r\nf", 5);
    cr_expect_str_eq(line(&e, ALOG_CLF), "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] "
                                         "\"GET /a\\x22b\\x5Cc\\x01\\x1F\\x7F d\\x09e\\x0D\\x0Af "
                                         "HTTP/1.1\" 200 5");
    /* a NUL inside the view is a byte like any other */
    e.target = http_str_make("/x\0y", 4);
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /x\\x00y HTTP/1.1\" 200 5");
    /* printable ASCII stays as it is */
    e.target = S("/~!#$%&'()*+,-./:;<=>?@[]^_`{|}");
    cr_expect_str_eq(line(&e, ALOG_CLF), "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET "
                                         "/~!#$%&'()*+,-./:;<=>?@[]^_`{|} HTTP/1.1\" 200 5");
}

Test(alog, escapes_utf8_and_high_bytes)
{
    /* "é" in UTF-8, a lone 0x80 and 0xff: nginx escapes every byte >= 0x80 */
    struct alog_entry e = entry("/caf\xc3\xa9/\x80\xff", 0);
    cr_expect_str_eq(line(&e, ALOG_CLF), "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] "
                                         "\"GET /caf\\xC3\\xA9/\\x80\\xFF HTTP/1.1\" 200 -");
}

Test(alog, terminal_escape_cannot_reach_the_log)
{
    struct alog_entry e = entry("/\x1b[31mred\x1b]0;title\x07", 0);
    char *l = line(&e, ALOG_CLF);
    cr_expect_null(strchr(l, '\x1b'));
    cr_expect_null(strchr(l, '\x07'));
    cr_expect(strstr(l, "/\\x1B[31mred\\x1B]0;title\\x07 HTTP/1.1") != NULL, "%s", l);
}

Test(alog, v4_mapped_is_logged_as_v4)
{
    struct alog_entry e = entry("/", 0);
    e.family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.0.0.1", e.addr);
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "127.0.0.1 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 -");
    inet_pton(AF_INET6, "2001:db8::1", e.addr);
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "2001:db8::1 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 -");
    inet_pton(AF_INET6, "::1", e.addr);
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "::1 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 -");
    /* ::ffff:0:a.b.c.d (SIIT) and ::a.b.c.d are not v4-mapped */
    inet_pton(AF_INET6, "::ffff:0:127.0.0.1", e.addr);
    cr_expect(strncmp(line(&e, ALOG_CLF), "127.0.0.1 ", 10) != 0);
    e.family = 0;
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "- - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 -");
}

Test(alog, combined)
{
    struct alog_entry e = entry("/p", 3);
    e.referer = S("http://example.com/?a=\"b\"");
    e.user_agent = S("curl/8.0 \\o/ \xc3\xa9");
    cr_expect_str_eq(line(&e, ALOG_COMBINED),
                     "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /p HTTP/1.1\" 200 3 "
                     "\"http://example.com/?a=\\x22b\\x22\" \"curl/8.0 \\x5Co/ \\xC3\\xA9\"");
    /* CLF never shows them */
    cr_expect_str_eq(line(&e, ALOG_CLF),
                     "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /p HTTP/1.1\" 200 3");
}

Test(alog, combined_without_referer_or_agent)
{
    struct alog_entry e = entry("/p", 0);
    cr_expect_str_eq(
        line(&e, ALOG_COMBINED),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /p HTTP/1.1\" 200 - \"-\" \"-\"");
    e.user_agent = S("ua");
    cr_expect_str_eq(
        line(&e, ALOG_COMBINED),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /p HTTP/1.1\" 200 - \"-\" \"ua\"");
    /* present but empty is logged empty, as nginx does */
    e.referer = S("");
    cr_expect_str_eq(
        line(&e, ALOG_COMBINED),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /p HTTP/1.1\" 200 - \"\" \"ua\"");
}

Test(alog, raw_line_when_the_request_did_not_parse)
{
    struct alog_entry e = entry("/", 0);
    e.method = e.target = http_str_make(NULL, 0);
    e.version = 0;
    e.status = 400;
    e.line = S("GET /a\"b HTTP/1.1\x01");
    cr_expect_str_eq(
        line(&e, ALOG_CLF),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET /a\\x22b HTTP/1.1\\x01\" 400 -");
    e.line = http_str_make(NULL, 0);
    cr_expect_str_eq(line(&e, ALOG_CLF), "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"-\" 400 -");
    /* a TLS hello on the HTTP port, as nginx logs it */
    e.line = http_str_make("\x16\x03\x01\x02\x00\x01", 6);
    cr_expect_str_eq(
        line(&e, ALOG_CLF),
        "192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"\\x16\\x03\\x01\\x02\\x00\\x01\" 400 -");
}

Test(alog, long_fields_are_whole)
{
    static char t[8193];
    memset(t, '"', sizeof t - 1);
    t[0] = '/';
    struct alog_entry e = entry(t, 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(alog_format(&b, &e, ALOG_COMBINED), 0);
    size_t want = strlen("192.0.2.7 - - [01/Mar/2026:12:34:56 +0000] \"GET / HTTP/1.1\" 200 - "
                         "\"-\" \"-\"\n") +
                  4 * 8191;
    cr_expect_eq(buf_len(&b), want);
    buf_free(&b);
}

Test(alog, a_full_buffer_is_left_unchanged)
{
    struct alog_entry e = entry("/a-long-enough-target", 0);
    struct buf b;
    buf_init(&b, 64);
    cr_assert_eq(buf_append(&b, "keep", 4), 0);
    cr_expect_lt(alog_format(&b, &e, ALOG_CLF), 0);
    cr_expect_eq(buf_len(&b), 4);
    cr_expect_eq(memcmp(buf_head(&b), "keep", 4), 0);
    buf_free(&b);
}

Test(alog, first_line)
{
    struct http_str l = alog_first_line("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 100);
    cr_expect_eq(l.n, 14);
    cr_expect_eq(memcmp(l.p, "GET / HTTP/1.1", 14), 0);
    l = alog_first_line("\r\n\nGET /x HTTP/1.0\nHost: x\n", 27, 100);
    cr_expect_eq(l.n, 15);
    cr_expect_eq(memcmp(l.p, "GET /x HTTP/1.0", 15), 0);
    l = alog_first_line("GET /no-line-end-yet", 20, 100);
    cr_expect_eq(l.n, 20);
    l = alog_first_line("GET /a-very-long-target HTTP/1.1\r\n", 34, 8);
    cr_expect_eq(l.n, 8, "bounded");
    l = alog_first_line("\r\n\r\n", 4, 100);
    cr_expect_null(l.p, "no line read: logged \"-\"");
    l = alog_first_line("", 0, 100);
    cr_expect_null(l.p);
}

Test(alog, write_empties_the_buffer)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_append(&b, "one\ntwo\n", 8), 0);
    alog_write(p[1], &b);
    cr_expect_eq(buf_len(&b), 0);
    char got[16] = {0};
    cr_expect_eq(read(p[0], got, sizeof got), 8);
    cr_expect_str_eq(got, "one\ntwo\n");
    /* a failing descriptor loses the lines, never blocks */
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(full, 0);
    cr_assert_eq(buf_append(&b, "lost\n", 5), 0);
    alog_write(full, &b);
    cr_expect_eq(buf_len(&b), 0);
    close(full);
    close(p[0]);
    close(p[1]);
    buf_free(&b);
}

static size_t file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

Test(alog, reopen_keeps_the_descriptor_number)
{
    char dir[] = "/tmp/alog-test-XXXXXX", path[64], old[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/access.log", dir);
    snprintf(old, sizeof old, "%s/access.log.1", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "before\n", 7), 7);
    cr_assert_eq(rename(path, old), 0); /* logrotate */
    cr_assert_eq(write(fd, "between\n", 8), 8);
    cr_assert_eq(alog_reopen(fd, path), 0);
    cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "still close-on-exec");
    cr_assert_eq(write(fd, "after\n", 6), 6);
    cr_expect_eq(file_size(old), 15);
    cr_expect_eq(file_size(path), 6);
    /* a path that cannot be opened: an error, and the old file stays */
    char bad[80];
    snprintf(bad, sizeof bad, "%s/no/such/dir/log", dir);
    cr_expect_eq(alog_reopen(fd, bad), -ENOENT);
    cr_assert_eq(write(fd, "still\n", 6), 6);
    cr_expect_eq(file_size(path), 12);
    close(fd);
    unlink(path);
    unlink(old);
    rmdir(dir);
}

Test(alog, write_of_a_never_used_buffer)
{
    /* clang's UBSan: NULL + 0 ("applying zero offset to null pointer") */
    struct buf b;
    buf_init(&b, 0);
    alog_write(1, &b);
    cr_expect_eq(buf_len(&b), 0);
}

/* the embedding API takes the format in berth_opts.log_format */
Test(alog, opts_log_format_is_checked)
{
    struct berth_opts o;
    berth_server *s = NULL;
    berth_opts_init(&o);
    cr_expect_eq(o.log_format, 0, "CLF by default");
    o.log_format = 2;
    cr_expect_eq(berth_server_new(&s, &o), BERTH_EUSAGE);
    o.log_format = 1;
    cr_assert_eq(berth_server_new(&s, &o), 0);
    berth_server_free(s);
}

static char *slurp(const char *path)
{
    static char out[4][256];
    static int i;
    char *o = out[i++ % 4];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(o, 1, 255, f);
    o[n] = '\0';
    fclose(f);
    return o;
}

struct tmpdir {
    char dir[32], path[64], old[64];
};

static void tmpdir_make(struct tmpdir *t)
{
    strcpy(t->dir, "/tmp/alog-sink-XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/access.log", t->dir);
    snprintf(t->old, sizeof t->old, "%s/access.log.1", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
    unlink(t->path);
    unlink(t->old);
    rmdir(t->dir);
}

Test(alog, sink_rotation_loses_and_misplaces_nothing)
{
    struct tmpdir t;
    tmpdir_make(&t);
    struct alog_sink k;
    alog_sink_init(&k);
    cr_assert_eq(alog_sink_open(&k, t.path), 0);
    unsigned g1, g2;
    alog_sink_join(&k, &g1);
    alog_sink_join(&k, &g2);
    struct buf b1, b2;
    buf_init(&b1, 0);
    buf_init(&b2, 0);
    cr_assert_eq(buf_append(&b1, "w1 before\n", 10), 0);
    cr_assert_eq(buf_append(&b2, "w2 before\n", 10), 0);
    cr_expect_eq(alog_sink_sync(&k, &g1, &b1, 0), 0);
    cr_expect_eq(buf_len(&b1), 10, "nothing due: the lines stay buffered");

    cr_assert_eq(rename(t.path, t.old), 0); /* logrotate, then SIGHUP */
    cr_expect_eq(alog_sink_rotate(&k), 1, "wake the workers");
    cr_expect_eq(alog_sink_rotate(&k), 0, "a reopening under way covers a second SIGHUP");
    cr_expect_eq(alog_sink_sync(&k, &g1, &b1, 0), 0);
    cr_expect_eq(buf_len(&b1), 0);
    cr_expect_neq(access(t.path, F_OK), 0, "no reopening before every worker wrote its lines");
    cr_assert_eq(buf_append(&b1, "w1 after\n", 9), 0); /* logged after its sync */
    cr_expect_eq(alog_sink_sync(&k, &g2, &b2, 0), 0);
    cr_expect_eq(access(t.path, F_OK), 0, "the last one reopened the path");
    cr_expect_eq(alog_sink_sync(&k, &g1, &b1, 0), 0);
    cr_expect_eq(buf_len(&b1), 9, "synced already: nothing due");
    cr_expect_eq(alog_sink_sync(&k, &g1, &b1, 1), 0);
    cr_expect_eq(buf_len(&b1), 0, "leaving writes what is left");
    cr_expect_str_eq(slurp(t.old), "w1 before\nw2 before\n");
    cr_expect_str_eq(slurp(t.path), "w1 after\n");
    buf_free(&b1);
    buf_free(&b2);
    alog_sink_free(&k);
    tmpdir_remove(&t);
}

Test(alog, sink_leaving_worker_counts_as_synced)
{
    struct tmpdir t;
    tmpdir_make(&t);
    struct alog_sink k;
    alog_sink_init(&k);
    cr_assert_eq(alog_sink_open(&k, t.path), 0);
    unsigned g1, g2, g3;
    alog_sink_join(&k, &g1);
    alog_sink_join(&k, &g2);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(rename(t.path, t.old), 0);
    cr_assert_eq(alog_sink_rotate(&k), 1);
    alog_sink_join(&k, &g3); /* came after the signal: not waited for */
    cr_expect_eq(alog_sink_sync(&k, &g3, &b, 0), 0);
    cr_expect_eq(alog_sink_sync(&k, &g1, &b, 1), 0); /* leaves */
    cr_expect_neq(access(t.path, F_OK), 0);
    cr_expect_eq(alog_sink_sync(&k, &g2, &b, 0), 0);
    cr_expect_eq(access(t.path, F_OK), 0);
    /* and the next SIGHUP waits for the two still here */
    cr_assert_eq(unlink(t.path), 0);
    cr_assert_eq(alog_sink_rotate(&k), 1);
    cr_expect_eq(alog_sink_sync(&k, &g2, &b, 0), 0);
    cr_expect_neq(access(t.path, F_OK), 0);
    cr_expect_eq(alog_sink_sync(&k, &g3, &b, 0), 0);
    cr_expect_eq(access(t.path, F_OK), 0);
    buf_free(&b);
    alog_sink_free(&k);
    tmpdir_remove(&t);
}

Test(alog, sink_on_stderr_is_never_reopened)
{
    struct alog_sink k;
    alog_sink_init(&k);
    cr_expect_eq(k.fd, 2);
    unsigned g;
    alog_sink_join(&k, &g);
    cr_expect_eq(alog_sink_rotate(&k), 0);
    alog_sink_free(&k);
    alog_sink_init(&k);
    cr_expect_eq(alog_sink_open(&k, "/nonexistent-dir/x/access.log"), -ENOENT);
    cr_expect_eq(k.fd, 2, "a failed open leaves stderr");
    alog_sink_free(&k);
}
