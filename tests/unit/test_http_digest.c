#include "http/digest.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *s, struct http_digest_want *w)
{
    return http_digest_want_parse(s, strlen(s), w);
}

static int pref(const char *s, int alg)
{
    struct http_digest_want w;
    return parse(s, &w) < 0 ? -1 : w.pref[alg];
}

Test(want, rfc_examples)
{
    /* RFC 9530 Appendix C */
    cr_expect_eq(pref("sha-256=1, unixsum=0", HTTP_DIGEST_SHA256), 1);
    cr_expect_eq(pref("sha-512=3, sha-256=10, unixsum=0", HTTP_DIGEST_SHA256), 10);
    cr_expect_eq(pref("sha-512=3, sha-256=10, unixsum=0", HTTP_DIGEST_SHA512), 3);
}

Test(want, members_and_values)
{
    cr_expect_eq(pref("", HTTP_DIGEST_SHA256), 0); /* an empty dictionary */
    cr_expect_eq(pref("   sha-256=7   ", HTTP_DIGEST_SHA256), 7);
    cr_expect_eq(pref("sha-256=7,\tsha-512=2", HTTP_DIGEST_SHA512), 2);
    cr_expect_eq(pref("sha-256=0", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=11", HTTP_DIGEST_SHA256), 0);  /* out of range: ignored */
    cr_expect_eq(pref("sha-256=-1", HTTP_DIGEST_SHA256), 0);  /* the same */
    cr_expect_eq(pref("sha-256=1.5", HTTP_DIGEST_SHA256), 0); /* a Decimal is no Integer */
    cr_expect_eq(pref("sha-256", HTTP_DIGEST_SHA256), 0);     /* Boolean true */
    cr_expect_eq(pref("sha-256=?1", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=tok", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=\"s\\\"x\"", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=:AAAA:", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=@1700000000", HTTP_DIGEST_SHA256), 0);
    cr_expect_eq(pref("sha-256=(1 2);a=1", HTTP_DIGEST_SHA256), 0); /* an Inner List */
    cr_expect_eq(pref("sha-256=4;q=1;r, sha-512=1", HTTP_DIGEST_SHA256), 4);
    cr_expect_eq(pref("sha-256=4, sha-256=2", HTTP_DIGEST_SHA256), 2); /* the last wins */
    cr_expect_eq(pref("*x=1, a.b_c-d*=2, sha-512=5", HTTP_DIGEST_SHA512), 5);
    cr_expect_eq(pref("sha-256=000000000000003", HTTP_DIGEST_SHA256), 3);
    cr_expect_eq(pref("sha-256=1\t", HTTP_DIGEST_SHA256), 1); /* OWS after the last member */
}

Test(want, malformed_is_ignored_whole)
{
    const char *bad[] = {
        "sha-256=1,",
        "sha-256=1,,sha-512=2",
        ",sha-256=1",
        "SHA-256=1",
        "sha-256=1 x",
        "sha-256=1;",
        "sha-256=",
        "sha-256=-",
        "sha-256=1.",
        "sha-256=1.2345",
        "sha-256=\"open",
        "sha-256=:a*:",
        "sha-256=:open",
        "sha-256=?2",
        "sha-256=(1",
        "sha-256=(1,2)",
        "sha-256=%\"d\"",
        "1a=1",
        "\tsha-256=1",
        "sha-256=@1.5",
        "sha-256=\"\x01\"",
        "sha-256=1234567890123456",
        "sha-256=1234567890123.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct http_digest_want w;
        memset(&w, 7, sizeof w);
        cr_expect_eq(parse(bad[i], &w), -1, "%s", bad[i]);
        cr_expect_eq(w.pref[0] + w.pref[1], 0, "%s", bad[i]);
    }
}

Test(want, not_nul_terminated)
{
    struct http_digest_want w;
    char b[8] = {'s', 'h', 'a', '-', '5', '1', '2', '='}; /* no value: must not read on */
    cr_expect_eq(http_digest_want_parse(b, sizeof b, &w), -1);
    cr_expect_eq(http_digest_want_parse("sha-512=9XYZ", 9, &w), 0);
    cr_expect_eq(w.pref[HTTP_DIGEST_SHA512], 9);
}

Test(want, choose)
{
    struct http_digest_want w = {{3, 3}};
    cr_expect_eq(http_digest_choose(&w, 3), HTTP_DIGEST_SHA256); /* a tie: sha-256 */
    cr_expect_eq(http_digest_choose(&w, 2), HTTP_DIGEST_SHA512); /* only that one known */
    w.pref[1] = 4;
    cr_expect_eq(http_digest_choose(&w, 3), HTTP_DIGEST_SHA512);
    cr_expect_eq(http_digest_choose(&w, 0), -1);
    w.pref[0] = w.pref[1] = 0;
    cr_expect_eq(http_digest_choose(&w, 3), -1);
}

Test(digest, known_values_and_field)
{
    uint8_t d256[32], d512[64];
    cr_assert_eq(http_digest_mem(HTTP_DIGEST_SHA256, "abc", 3, d256), 0);
    cr_assert_eq(http_digest_mem(HTTP_DIGEST_SHA512, "abc", 3, d512), 0);
    const uint8_t *d[HTTP_DIGEST_ALGS] = {d256, d512};
    char f[HTTP_DIGEST_FIELD_MAX];
    size_t n = http_digest_field(f, sizeof f, "Repr-Digest", 3, d);
    cr_expect_str_eq(f, "Repr-Digest: sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:, "
                        "sha-512=:3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
                        "uu9RU1EI2Q86A4qmslPpUyknw==:\r\n");
    cr_expect_eq(n, strlen(f));
    cr_expect_eq(http_digest_field(f, 50, "Repr-Digest", 3, d), 0); /* too small */
    cr_expect_eq(http_digest_field(f, sizeof f, "Repr-Digest", 0, d), 0);
    /* piece by piece: the same */
    struct http_digest_run *r = http_digest_start(HTTP_DIGEST_SHA256);
    cr_assert(r);
    http_digest_update(r, "a", 1);
    http_digest_update(r, "bc", 2);
    uint8_t again[32];
    cr_expect_eq(http_digest_finish(r, again), 0);
    cr_expect_eq(memcmp(again, d256, 32), 0);
    http_digest_finish(http_digest_start(HTTP_DIGEST_SHA512), NULL); /* only freed */
}

Test(digest, base64)
{
    char o[16];
    const uint8_t in[] = {0xfb, 0xff, 0x3e};
    cr_expect_eq(http_base64(o, in, 3, 0), 4);
    cr_expect_str_eq(o, "+/8+");
    http_base64(o, in, 3, 1);
    cr_expect_str_eq(o, "-_8-");
    cr_expect_eq(http_base64(o, in, 1, 0), 4);
    cr_expect_str_eq(o, "+w==");
    cr_expect_eq(http_base64(o, in, 2, 1), 3);
    cr_expect_str_eq(o, "-_8");
    cr_expect_eq(http_base64(o, in, 0, 0), 0);
    cr_expect_str_eq(o, "");
}

/* a NUL byte is neither a key character nor a base64 one (strchr on the
 * allowed set used to find the set's own terminator and accept it) */
Test(want, nul_bytes_are_malformed)
{
    static const char key_nul[] = "sha-256=1, a\0b=2", bin_nul[] = "sha-256=1, x=:YQ\0=:";
    struct http_digest_want w;
    memset(&w, 7, sizeof w);
    cr_expect_eq(http_digest_want_parse(key_nul, sizeof key_nul - 1, &w), -1);
    cr_expect_eq(w.pref[0] + w.pref[1], 0);
    cr_expect_eq(http_digest_want_parse(bin_nul, sizeof bin_nul - 1, &w), -1);
    cr_expect_eq(w.pref[0] + w.pref[1], 0);
}
