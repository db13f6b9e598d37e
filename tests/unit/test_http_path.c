#include "http/path.h"

#include <criterion/criterion.h>
#include <string.h>

struct pcase {
    const char *in, *want; /* want NULL: expect code */
    int code;
};

static void check(const struct pcase *c)
{
    char out[256];
    int n = http_path_normalize(c->in, strlen(c->in), out, sizeof out);
    if (c->want) {
        cr_expect_eq(n, (int)strlen(c->want), "%s: returned %d, want %zu", c->in, n,
                     strlen(c->want));
        if (n >= 0) cr_expect_str_eq(out, c->want, "%s", c->in);
    } else {
        cr_expect_eq(n, c->code, "%s: returned %d, want %d", c->in, n, c->code);
    }
}

Test(path, plain)
{
    static const struct pcase t[] = {
        {"/", "/", 0},
        {"/index.html", "/index.html", 0},
        {"/a/b/c", "/a/b/c", 0},
        {"/a/b/", "/a/b/", 0},
        {"/a//b///c", "/a/b/c", 0},
        {"//", "/", 0},
        {"/a?x=1", "/a", 0},
        {"/a/?x=/../..", "/a/", 0},
        {"/a#frag", "/a", 0},
        {"/a#f?x", "/a", 0},
        {"/?", "/", 0},
        {"/...", "/...", 0},
        {"/a/.../b", "/a/.../b", 0},
        {"/.a/..b/b..", "/.a/..b/b..", 0},
        {"/a+b", "/a+b", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check(&t[i]);
}

Test(path, dot_segments)
{
    static const struct pcase t[] = {
        {"/.", "/", 0},
        {"/..", "/", 0},
        {"/./", "/", 0},
        {"/../", "/", 0},
        {"/a/.", "/a/", 0},
        {"/a/./", "/a/", 0},
        {"/a/..", "/", 0},
        {"/a/../", "/", 0},
        {"/a/b/..", "/a/", 0},
        {"/a/b/../c", "/a/c", 0},
        {"/a/./b/./c/.", "/a/b/c/", 0},
        {"/a/b/c/./../../g", "/a/g", 0},
        {"/mid/content=5/../6", "/mid/6", 0},
        {"/a/b/../../..", "/", 0},
        {"/a/b/../../../c", "/c", 0},
        {"/a//..", "/", 0},
        {"/a/b//../c", "/a/c", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check(&t[i]);
}

Test(path, traversal)
{
    static const struct pcase t[] = {
        {"/../etc/passwd", "/etc/passwd", 0},
        {"/../../../../etc/passwd", "/etc/passwd", 0},
        {"/%2e%2e/", "/", 0},
        {"/%2E%2E/etc/passwd", "/etc/passwd", 0},
        {"/%2e%2e%2fetc%2fpasswd", "/etc/passwd", 0},
        {"/a/%2e%2e%2f..", "/", 0},
        {"/a/b/%2e%2e%2f..%2fx", "/x", 0},
        {"/.%2e/.%2e/x", "/x", 0},
        {"/%2e/x", "/x", 0},
        {"//..", "/", 0},
        {"//../..//etc", "/etc", 0},
        {"/a%2f..%2f..%2f..%2fetc", "/etc", 0},
        {"/%2f%2f..%2f", "/", 0},
        /* backslashes are ordinary bytes on POSIX: kept literally, never separators */
        {"/..%5c..%5cetc", "/..\\..\\etc", 0},
        {"/a\\..\\b", "/a\\..\\b", 0},
        {"/%5c..%5c", "/\\..\\", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check(&t[i]);
}

Test(path, decoding)
{
    static const struct pcase t[] = {
        {"/sp%20ace", "/sp ace", 0},
        {"/100%25", "/100%", 0},
        {"/%25zz", "/%zz", 0},
        {"/%23frag", "/#frag", 0},
        {"/%3Fq", "/?q", 0},
        {"/%e6%97%a5%E6%9C%AC", "/\xe6\x97\xa5\xe6\x9c\xac", 0},
        {"/%41%62", "/Ab", 0},
        {"/a%2Fb", "/a/b", 0},
        {"/%2F", "/", 0},
        {"/%zz", NULL, -400},
        {"/%4", NULL, -400},
        {"/%", NULL, -400},
        {"/%g0", NULL, -400},
        {"/%0g", NULL, -400},
        {"/a%00b", NULL, -400},
        {"/%00", NULL, -400},
        {"/%4?x", NULL, -400},
        /* past the path nothing is decoded or checked */
        {"/a?%zz", "/a", 0},
        {"/a#%00", "/a", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check(&t[i]);
}

Test(path, must_start_with_slash)
{
    static const struct pcase t[] = {
        {"", NULL, -400},     {"a/b", NULL, -400},
        {"*", NULL, -400},    {"http://example.com/", NULL, -400},
        {"%2Fa", NULL, -400}, {"?x", NULL, -400},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check(&t[i]);
}

Test(path, raw_nul_rejected)
{
    char out[16];
    cr_expect_eq(http_path_normalize("/a\0b", 4, out, sizeof out), -400);
    /* but only the path part counts: NUL after '?' is not looked at */
    cr_expect_eq(http_path_normalize("/a?\0", 4, out, sizeof out), 2);
}

Test(path, length_respected)
{
    char out[8];
    memset(out, 'X', sizeof out);
    /* len bounds the input: the bytes after it are not read */
    cr_expect_eq(http_path_normalize("/abc/def", 4, out, sizeof out), 4);
    cr_expect_str_eq(out, "/abc");
}

Test(path, too_long)
{
    char out[8];
    cr_expect_eq(http_path_normalize("/abcdef", 7, out, 8), 7);
    cr_expect_str_eq(out, "/abcdef");
    cr_expect_eq(http_path_normalize("/abcdefg", 8, out, 8), -414);
    cr_expect_eq(http_path_normalize("/abcdef/", 8, out, 8), -414);
    cr_expect_eq(http_path_normalize("/", 1, out, 1), -414);
    cr_expect_eq(http_path_normalize("/", 1, out, 2), 1);
    /* decoding shrinks: fits though the target is longer than out */
    cr_expect_eq(http_path_normalize("/%41%42%43", 10, out, 8), 4);
    cr_expect_str_eq(out, "/ABC");
    /* outlen == len + 1 always suffices */
    const char *t[] = {"/a/b/../c/./d//", "/%2e%2e/x", "/..//..//", "/x/"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char o2[64];
        size_t n = strlen(t[i]);
        cr_expect_geq(http_path_normalize(t[i], n, o2, n + 1), 0, "%s", t[i]);
    }
}

Test(path, hidden)
{
    static const struct {
        const char *p;
        int want;
    } t[] = {
        {"/", 0},
        {"/a/b.txt", 0},
        {"/a.b/c", 0},
        {"/.git", 1},
        {"/.git/config", 1},
        {"/a/.env", 1},
        {"/a/.b/c", 1},
        {"/a/b/.", 1},
        {"/.well-known", 0},
        {"/.well-known/", 0},
        {"/.well-known/acme-challenge/tok", 0},
        {"/.well-known/.secret", 1},
        {"/.well-known/a/.b", 1},
        {"/.well-knownx", 1},
        {"/.well-known-x/a", 1},
        {"/a/.well-known/x", 1},
        {"/.WELL-KNOWN/x", 1},
        {"/a..b", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(http_path_hidden(t[i].p), t[i].want, "%s", t[i].p);
}

/* every output of the normaliser is canonical: feeding it back is a no-op */
Test(path, idempotent)
{
    const char *t[] = {"/a/./b/../c//d/", "/%2e%2e%2f..%2fx/%2E/", "/a/b/c/../../..",
                       "/%5c/..",         "/.../....//.",          "/x/%2F%2F/y"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char a[64], b[64];
        int n = http_path_normalize(t[i], strlen(t[i]), a, sizeof a);
        cr_assert_geq(n, 0, "%s", t[i]);
        /* re-encode '%' so decoding the output yields the output */
        char enc[192];
        size_t k = 0;
        for (int j = 0; j < n; j++) {
            if (a[j] == '%') {
                memcpy(enc + k, "%25", 3);
                k += 3;
            } else {
                enc[k++] = a[j];
            }
        }
        int m = http_path_normalize(enc, k, b, sizeof b);
        cr_expect_eq(m, n, "%s", t[i]);
        cr_expect_str_eq(b, a, "%s", t[i]);
        cr_expect_null(strstr(a, "/../"), "%s", a);
        cr_expect_null(strstr(a, "/./"), "%s", a);
        cr_expect_null(strstr(a, "//"), "%s", a);
    }
}
