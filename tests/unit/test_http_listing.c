#include "http/listing.h"

#include "err.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the escaping helpers ---- */

static char *escaped(int (*f)(struct buf *, const char *, size_t), const char *s)
{
    static char out[1024];
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(f(&b, s, strlen(s)), 0);
    cr_assert_lt(buf_len(&b), sizeof out);
    if (buf_len(&b)) memcpy(out, buf_head(&b), buf_len(&b));
    out[buf_len(&b)] = '\0';
    buf_free(&b);
    return out;
}

Test(escape, html)
{
    cr_expect_str_eq(escaped(http_html_escape, ""), "");
    cr_expect_str_eq(escaped(http_html_escape, "plain text/é"), "plain text/é");
    cr_expect_str_eq(escaped(http_html_escape, "<script>alert('x')</script>"),
                     "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    cr_expect_str_eq(escaped(http_html_escape, "a&b \"q\""), "a&amp;b &quot;q&quot;");
    cr_expect_str_eq(escaped(http_html_escape, "&&"), "&amp;&amp;");
    cr_expect_str_eq(escaped(http_html_escape, "&amp;"), "&amp;amp;");
    cr_expect_str_eq(escaped(http_html_escape, "x>"), "x&gt;");
}

Test(escape, url)
{
    cr_expect_str_eq(escaped(http_url_encode, ""), "");
    cr_expect_str_eq(escaped(http_url_encode, "/a-b_c.d~e/F09"), "/a-b_c.d~e/F09");
    cr_expect_str_eq(escaped(http_url_encode, "sp ace"), "sp%20ace");
    cr_expect_str_eq(escaped(http_url_encode, "100%"), "100%25");
    cr_expect_str_eq(escaped(http_url_encode, "#frag?q=1&x"), "%23frag%3Fq%3D1%26x");
    cr_expect_str_eq(escaped(http_url_encode, "javascript:alert(1)"), "javascript%3Aalert%281%29");
    cr_expect_str_eq(escaped(http_url_encode, "\xe6\x97\xa5\xff"), "%E6%97%A5%FF");
    cr_expect_str_eq(escaped(http_url_encode, "<\"'>\\+"), "%3C%22%27%3E%5C%2B");
    struct buf b;
    buf_init(&b, 0);
    cr_expect_eq(http_url_encode(&b, "a\0b", 3), 0);
    cr_expect_eq(buf_len(&b), 5);
    cr_expect_eq(memcmp(buf_head(&b), "a%00b", 5), 0);
    buf_free(&b);
}

Test(escape, limits)
{
    struct buf b;
    buf_init(&b, 8);
    cr_expect_eq(http_html_escape(&b, "<<<", 3), BERTH_ETOOBIG);
    buf_free(&b);
    buf_init(&b, 8);
    cr_expect_eq(http_url_encode(&b, "   ", 3), BERTH_ETOOBIG);
    buf_free(&b);
}

/* ---- listings of a real directory ---- */

static char tmpdir[64];

static const char *const files[] = {
    "<script>alert(1)",
    "a&b",
    "sp ace",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt", /* 日本語.txt */
    "100%",
    "#frag",
    "q?x=1",
    "javascript:alert(1)",
    "it's \"q\"",
    "Zed",
    "ctl\x01name",
    "big.bin",
    ".hidden",
};
static const char *const dirs[] = {"zdir", "adir", "b<dir>", ".git"};

static void mk(void)
{
    strcpy(tmpdir, "/tmp/berth-listing-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = openat(d, files[i], O_WRONLY | O_CREAT | O_EXCL, 0644);
        cr_assert_geq(fd, 0, "%s", files[i]);
        if (strcmp(files[i], "big.bin") == 0) cr_assert_eq(ftruncate(fd, 1536), 0);
        close(fd);
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        cr_assert_eq(mkdirat(d, dirs[i], 0755), 0);
    cr_assert_eq(symlinkat("adir", d, "linkdir"), 0);     /* shown as a directory */
    cr_assert_eq(symlinkat("nowhere", d, "dangling"), 0); /* cannot be stat()ed: left out */
    cr_assert_eq(mkfifoat(d, "fifo", 0644), 0);           /* not servable: left out */
    close(d);
}

static void rm(void)
{
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    if (d < 0) return;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlinkat(d, files[i], 0);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        unlinkat(d, dirs[i], AT_REMOVEDIR);
    unlinkat(d, "linkdir", 0);
    unlinkat(d, "dangling", 0);
    unlinkat(d, "fifo", 0);
    close(d);
    rmdir(tmpdir);
}

TestSuite(listing, .init = mk, .fini = rm);

static char *list(const char *urlpath, int hidden)
{
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(http_listing(&b, -1, d, urlpath, hidden), 0);
    close(d);
    char *s = malloc(buf_len(&b) + 1);
    memcpy(s, buf_head(&b), buf_len(&b));
    s[buf_len(&b)] = '\0';
    buf_free(&b);
    return s;
}

static int hexv(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* every href in the page, percent-decoded; count returned */
static int hrefs(const char *page, char out[][128], int max)
{
    int n = 0;
    for (const char *p = page; (p = strstr(p, "href=\"")) && n < max;) {
        p += 6;
        size_t k = 0;
        for (; *p != '"'; p++) {
            cr_assert(*p != '<' && *p != '>' && *p != ' ' && *p != '\'' && *p != '&',
                      "unencoded byte in href");
            if (*p == '%') {
                out[n][k++] = (char)(hexv(p[1]) << 4 | hexv(p[2]));
                p += 2;
            } else {
                out[n][k++] = *p;
            }
        }
        out[n][k] = '\0';
        n++;
    }
    return n;
}

/* max_entries bounds what is read (the loop's time): past it -E2BIG and
 * nothing; at it, the whole page */
Test(listing, entry_limit)
{
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    struct buf whole, b;
    struct listing_opts unbounded = {.max_entries = 0};
    buf_init(&whole, 0);
    cr_assert_eq(http_listing_ex(&whole, -1, d, "/", 0, &unbounded), 0);
    /* every name readdir gives but "." and ".." is counted, served or not */
    size_t names = sizeof files / sizeof files[0] + sizeof dirs / sizeof dirs[0] + 3;
    size_t hidden = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        hidden += files[i][0] == '.';
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        hidden += dirs[i][0] == '.';
    struct listing_opts lo = {.max_entries = names - hidden};
    buf_init(&b, 0);
    cr_expect_eq(http_listing_ex(&b, -1, d, "/", 0, &lo), 0);
    cr_expect_eq(buf_len(&b), buf_len(&whole));
    buf_free(&b);
    lo.max_entries = names - hidden - 1;
    buf_init(&b, 0);
    cr_expect_eq(http_listing_ex(&b, -1, d, "/", 0, &lo), -E2BIG);
    buf_free(&b);
    buf_free(&whole);
    close(d);
}

Test(listing, structure)
{
    char *s = list("/sub/dir/", 0);
    cr_expect_eq(strncmp(s, "<!DOCTYPE html>", 15), 0);
    cr_expect_not_null(strstr(s, "<meta charset=\"utf-8\">"));
    cr_expect_not_null(strstr(s, "<title>Directory listing for /sub/dir/</title>"));
    cr_expect_not_null(strstr(s, "</html>\n"));
    free(s);
}

Test(listing, escaping)
{
    char *s = list("/x/", 0);
    static const struct {
        const char *href, *text;
    } t[] = {
        {"href=\"%3Cscript%3Ealert%281%29\"", ">&lt;script&gt;alert(1)</a>"},
        {"href=\"a%26b\"", ">a&amp;b</a>"},
        {"href=\"sp%20ace\"", ">sp ace</a>"},
        {"href=\"%E6%97%A5%E6%9C%AC%E8%AA%9E.txt\"",
         ">\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt</a>"},
        {"href=\"100%25\"", ">100%</a>"},
        {"href=\"%23frag\"", ">#frag</a>"},
        {"href=\"q%3Fx%3D1\"", ">q?x=1</a>"},
        {"href=\"javascript%3Aalert%281%29\"", ">javascript:alert(1)</a>"},
        {"href=\"it%27s%20%22q%22\"", ">it&#39;s &quot;q&quot;</a>"},
        {"href=\"ctl%01name\"", ">ctl&#xFFFD;name</a>"},
        {"href=\"b%3Cdir%3E/\"", ">b&lt;dir&gt;/</a>"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_expect_not_null(strstr(s, t[i].href), "missing %s", t[i].href);
        cr_expect_not_null(strstr(s, t[i].text), "missing %s", t[i].text);
    }
    cr_expect_null(strstr(s, "<script"), "raw markup from a name");
    cr_expect_null(strstr(s, "\x01"), "raw control character");
    free(s);
}

Test(listing, hrefs_round_trip)
{
    char *s = list("/x/", 0);
    char h[64][128];
    int n = hrefs(s, h, 64);
    /* "../", 3 directories and the link to one, and 12 visible files */
    cr_expect_eq(n, 1 + 4 + 12, "got %d hrefs", n);
    cr_expect_str_eq(h[0], "../");
    for (int i = 1; i < n; i++) {
        size_t k = strlen(h[i]);
        int found = 0;
        for (size_t j = 0; j < sizeof files / sizeof files[0]; j++)
            found |= strcmp(h[i], files[j]) == 0;
        for (size_t j = 0; j < sizeof dirs / sizeof dirs[0]; j++)
            found |= k && h[i][k - 1] == '/' && strncmp(h[i], dirs[j], k - 1) == 0 &&
                     strlen(dirs[j]) == k - 1;
        found |= strcmp(h[i], "linkdir/") == 0;
        cr_expect(found, "href %s decodes to no entry", h[i]);
    }
    free(s);
}

Test(listing, order)
{
    char *s = list("/x/", 0);
    char h[64][128];
    int n = hrefs(s, h, 64);
    static const char *const want[] = {
        "../",
        "adir/",
        "b<dir>/",
        "linkdir/",
        "zdir/",
        "#frag",
        "100%",
        "<script>alert(1)",
        "a&b",
        "big.bin",
        "ctl\x01name",
        "it's \"q\"",
        "javascript:alert(1)",
        "q?x=1",
        "sp ace",
        "Zed", /* letters folded, as python's http.server sorts */
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt",
    };
    cr_assert_eq(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++)
        cr_expect_str_eq(h[i], want[i], "position %d", i);
    free(s);
}

Test(listing, sizes_and_dates)
{
    char *s = list("/x/", 0);
    cr_expect_not_null(strstr(s, ">big.bin</a></td><td>1.5 KiB</td><td>"));
    cr_expect_not_null(strstr(s, ">a&amp;b</a></td><td>0 B</td><td>"));
    cr_expect_not_null(strstr(s, ">adir/</a></td><td>-</td><td>"));
    /* a date like 2026-11-22 04:10 */
    const char *p = strstr(s, ">Zed</a></td><td>0 B</td><td>");
    cr_assert_not_null(p);
    p = strstr(p, "B</td><td>") + 10;
    cr_expect(p[4] == '-' && p[7] == '-' && p[10] == ' ' && p[13] == ':' && p[16] == '<', "%.20s",
              p);
    free(s);
}

Test(listing, hidden)
{
    char *s = list("/x/", 0);
    cr_expect_null(strstr(s, ".hidden"));
    cr_expect_null(strstr(s, ".git"));
    cr_expect_null(strstr(s, "dangling"));
    cr_expect_null(strstr(s, "fifo"));
    free(s);
    s = list("/x/", 1);
    cr_expect_not_null(strstr(s, "href=\".hidden\""));
    cr_expect_not_null(strstr(s, "href=\".git/\""));
    cr_expect_null(strstr(s, "href=\"./\""), "no entry for the directory itself");
    /* ".." appears once, as the synthetic first row */
    const char *p = strstr(s, "href=\"../\"");
    cr_assert_not_null(p);
    cr_expect_null(strstr(p + 1, "href=\"../\""));
    cr_expect_null(strstr(s, "href=\"..\""));
    char h[64][128];
    cr_expect_eq(hrefs(s, h, 64), 1 + 5 + 13);
    cr_expect_str_eq(h[1], ".git/");
    free(s);
}

Test(listing, root_has_no_parent)
{
    char *s = list("/", 0);
    cr_expect_null(strstr(s, "href=\"../\""));
    cr_expect_not_null(strstr(s, "<title>Directory listing for /</title>"));
    free(s);
}

Test(listing, urlpath_escaped)
{
    char *s = list("/<b>&\"x\"/", 0);
    cr_expect_not_null(
        strstr(s, "<title>Directory listing for /&lt;b&gt;&amp;&quot;x&quot;/</title>"));
    cr_expect_null(strstr(s, "<b>"));
    free(s);
}

/* A request path may hold control bytes (/a%01b/ decodes to one); HTML
 * cannot carry them, so the title and heading show U+FFFD as the names do
 * (found by fuzz_http_listing). */
Test(listing, urlpath_control_bytes_replaced)
{
    char *s = list("/a\001b\033c/", 0);
    for (const char *p = s; *p; p++)
        cr_expect(*p == '\n' || (unsigned char)*p >= 0x20, "raw control byte 0x%02x in the page",
                  (unsigned char)*p);
    cr_expect_not_null(strstr(s, "<h1>Directory listing for /a&#xFFFD;b&#xFFFD;c/</h1>"));
    free(s);
}

Test(listing, dirfd_untouched)
{
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    struct buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    cr_assert_eq(http_listing(&a, -1, d, "/x/", 0), 0);
    cr_assert_eq(http_listing(&b, -1, d, "/x/", 0), 0, "dirfd must stay open and usable");
    cr_expect_eq(buf_len(&a), buf_len(&b));
    cr_expect_eq(memcmp(buf_head(&a), buf_head(&b), buf_len(&a)), 0);
    cr_expect_geq(fcntl(d, F_GETFD), 0);
    close(d);
    buf_free(&a);
    buf_free(&b);
}

Test(listing, appends)
{
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, "HEAD", 4);
    cr_assert_eq(http_listing(&b, -1, d, "/", 0), 0);
    cr_expect_eq(memcmp(buf_head(&b), "HEAD<!DOCTYPE html>", 19), 0);
    buf_free(&b);
    close(d);
}

Test(listing, errors)
{
    struct buf b;
    buf_init(&b, 0);
    cr_expect_lt(http_listing(&b, -1, -1, "/", 0), 0);
    int f = open("/dev/null", O_RDONLY);
    cr_expect_eq(http_listing(&b, -1, f, "/", 0), -ENOTDIR);
    close(f);
    buf_free(&b);
    /* a full buffer is reported, not truncated silently */
    int d = open(tmpdir, O_RDONLY | O_DIRECTORY);
    buf_init(&b, 256);
    cr_expect_eq(http_listing(&b, -1, d, "/", 0), BERTH_ETOOBIG);
    buf_free(&b);
    close(d);
}

Test(listing, empty_dir)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/zdir", tmpdir);
    int d = open(sub, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(d, 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(http_listing(&b, -1, d, "/zdir/", 0), 0);
    buf_append(&b, "", 1);
    char h[4][128];
    cr_expect_eq(hrefs(buf_head(&b), h, 4), 1);
    buf_free(&b);
    close(d);
}

Test(listing_sizes, human_readable)
{
    char dir[] = "/tmp/berth-sizes-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    static const struct {
        const char *name;
        long long size;
        const char *shown;
    } t[] = {
        {"a", 0, "0 B"},
        {"b", 1023, "1023 B"},
        {"c", 1024, "1.0 KiB"},
        {"d", 1075, "1.0 KiB"},
        {"e", 1076, "1.1 KiB"},
        {"f", 1048575, "1.0 MiB"},
        {"g", 1048576LL * 1023 + 1048576 / 2, "1023.5 MiB"},
        {"h", 5LL << 30, "5.0 GiB"},
        {"i", (1LL << 40) * 3 / 2, "1.5 TiB"},
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int fd = openat(d, t[i].name, O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        /* sparse: no disk space used */
        if (ftruncate(fd, (off_t)t[i].size) != 0) cr_skip_test("cannot make sparse files here");
        close(fd);
    }
    cr_assert_eq(http_listing(&b, -1, d, "/", 0), 0);
    buf_append(&b, "", 1);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, ">%s</a></td><td>%s</td>", t[i].name, t[i].shown);
        cr_expect_not_null(strstr(buf_head(&b), want), "%s", want);
        unlinkat(d, t[i].name, 0);
    }
    buf_free(&b);
    close(d);
    rmdir(dir);
}

/* ---- only what would be served, from a real root ---- */

static char rootdir[64];

static void mkroot(void)
{
    strcpy(rootdir, "/tmp/berth-lroot-XXXXXX");
    cr_assert_not_null(mkdtemp(rootdir));
    int r = open(rootdir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(r, 0);
    cr_assert_eq(mkdirat(r, "sub", 0755), 0);
    int fd = openat(r, "a.txt", O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(write(fd, "12345", 5), 5);
    close(fd);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {86400 * 365, 0}}; /* 1971-01-01 */
    cr_assert_eq(utimensat(r, "a.txt", ts, 0), 0);
    int s = openat(r, "sub", O_RDONLY | O_DIRECTORY);
    cr_assert_eq(symlinkat("../a.txt", s, "up.txt"), 0); /* inside the root: listed */
    cr_assert_eq(symlinkat("..", s, "parent"), 0);       /* the root itself: listed */
    cr_assert_eq(symlinkat("/etc", s, "etc"), 0);        /* absolute, outside */
    cr_assert_eq(symlinkat("/etc/passwd", s, "passwd"), 0);
    cr_assert_eq(symlinkat("../../", s, "out"), 0); /* climbs out */
    cr_assert_eq(symlinkat("nowhere", s, "dangling"), 0);
    cr_assert_eq(mkfifoat(s, "fifo", 0644), 0);
    static const char *const names[] = {"caf\xe9.txt",  "ok-\xc3\xa9.txt", "bad\xff\xfe",
                                        "over\xc0\xaf", "sur\xed\xa0\x80", "trunc\xe6\x97"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        fd = openat(s, names[i], O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
    }
    close(s);
    close(r);
}

static void rmroot(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rootdir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(served, .init = mkroot, .fini = rmroot);

static char *list_sub(void)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", rootdir);
    int r = open(rootdir, O_RDONLY | O_DIRECTORY), d = open(sub, O_RDONLY | O_DIRECTORY);
    cr_assert(r >= 0 && d >= 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(http_listing(&b, r, d, "/sub/", 0), 0);
    close(d);
    close(r);
    buf_append(&b, "", 1);
    char *s = strdup(buf_head(&b));
    buf_free(&b);
    return s;
}

Test(served, symlinks_out_of_the_root_and_broken_ones_are_not_listed)
{
    char *s = list_sub();
    cr_expect_null(strstr(s, "etc"), "a link to /etc");
    cr_expect_null(strstr(s, "passwd"));
    cr_expect_null(strstr(s, "\"out"), "a link climbing out");
    cr_expect_null(strstr(s, "dangling"));
    cr_expect_null(strstr(s, "fifo"));
    /* a link inside the root shows its target's size and date */
    cr_expect_not_null(
        strstr(s, "href=\"up.txt\">up.txt</a></td><td>5 B</td><td>1971-01-01 00:00<"), "%s", s);
    cr_expect_not_null(strstr(s, "href=\"parent/\">parent/</a>"));
    free(s);
}

Test(served, names_that_are_not_utf8_are_escaped)
{
    char *s = list_sub();
    static const struct {
        const char *href, *text;
    } t[] = {
        {"href=\"caf%E9.txt\"", ">caf\\xE9.txt</a>"},
        {"href=\"ok-%C3%A9.txt\"", ">ok-\xc3\xa9.txt</a>"}, /* valid UTF-8 stays as it is */
        {"href=\"bad%FF%FE\"", ">bad\\xFF\\xFE</a>"},
        {"href=\"over%C0%AF\"", ">over\\xC0\\xAF</a>"},       /* overlong '/' */
        {"href=\"sur%ED%A0%80\"", ">sur\\xED\\xA0\\x80</a>"}, /* a surrogate */
        {"href=\"trunc%E6%97\"", ">trunc\\xE6\\x97</a>"},     /* cut short */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_expect_not_null(strstr(s, t[i].href), "missing %s", t[i].href);
        cr_expect_not_null(strstr(s, t[i].text), "missing %s", t[i].text);
    }
    /* the whole page is valid UTF-8: no byte >= 0x80 outside a valid sequence */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) continue;
        int len = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
        cr_assert(*p >= 0xc2 && *p <= 0xf4, "byte %02x at %ld", *p,
                  (long)(p - (const unsigned char *)s));
        for (int k = 1; k < len; k++)
            cr_assert_eq(p[k] & 0xc0, 0x80);
        p += len - 1;
    }
    free(s);
}

Test(served, urlpath_that_is_not_utf8_is_escaped)
{
    int d = open(rootdir, O_RDONLY | O_DIRECTORY);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(http_listing(&b, d, d, "/caf\xe9/", 0), 0);
    buf_append(&b, "", 1);
    cr_expect_not_null(strstr(buf_head(&b), "<title>Directory listing for /caf\\xE9/</title>"));
    cr_expect_null(strstr(buf_head(&b), "\xe9"));
    buf_free(&b);
    close(d);
}
