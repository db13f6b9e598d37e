/* chunked: every valid body decodes to the same bytes and ends at the same
 * place whether it arrives whole, split at any point, or byte by byte, in
 * place or into a separate buffer; every malformed body is refused. */
#include "http/chunked.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *in, *data;
} valid[] = {
    {"0\r\n\r\n", ""},
    {"5\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
    {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
    {"a\r\n0123456789\r\n000\r\n\r\n", "0123456789"},
    {"0005\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5;name=value\r\nhello\r\n0;x\r\n\r\n", "hello"},
    {"5 ;name=\"quoted ; value\"\r\nhello\r\n0\r\n\r\n", "hello"},
    {"5\t\r\nhello\r\n0\r\n\r\n", "hello"},
    {"3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"},
    {"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", "hello"},
    {"1\r\n\0\r\n0\r\nA:\r\n\r\n", ""}, /* data may hold any byte; checked by length */
};

/* feeds in at the given split points; returns the status and fills out */
static int feed_split(const char *in, size_t n, size_t split, char *out, size_t *olen,
                      size_t *consumed)
{
    struct http_chunked d;
    http_chunked_init(&d, 0);
    size_t pos = 0, used = 0;
    *olen = 0;
    int rc = 0;
    while (pos < n) {
        size_t k = split && pos + split < n ? split : n - pos;
        rc = http_chunked_feed(&d, in + pos, k, &used, out, olen);
        if (rc != 0) {
            *consumed = pos + used;
            return rc;
        }
        cr_assert_eq(used, k);
        pos += k;
    }
    *consumed = pos;
    return rc;
}

Test(chunked, valid_every_split)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        size_t n = strlen(valid[i].in);
        if (i == sizeof valid / sizeof valid[0] - 1) n = 15; /* holds a NUL */
        size_t dl = i == sizeof valid / sizeof valid[0] - 1 ? 1 : strlen(valid[i].data);
        char tail[] = "GET / HTTP/1.1\r\n";
        for (size_t split = 0; split <= n; split++) {
            char in[256], out[256];
            memcpy(in, valid[i].in, n);
            memcpy(in + n, tail, sizeof tail - 1); /* the next request follows */
            size_t olen, used;
            int rc = feed_split(in, n + sizeof tail - 1, split, out, &olen, &used);
            cr_assert_eq(rc, 1, "case %zu split %zu: rc %d", i, split, rc);
            cr_assert_eq(used, n, "case %zu split %zu: used %zu, want %zu", i, split, used, n);
            cr_assert_eq(olen, dl, "case %zu split %zu", i, split);
            cr_assert(!memcmp(out, valid[i].data, dl), "case %zu split %zu: data", i, split);
        }
    }
}

Test(chunked, in_place)
{
    char in[] = "3\r\nabc\r\n4;e=1\r\ndefg\r\n0\r\nT: x\r\n\r\nNEXT";
    struct http_chunked d;
    http_chunked_init(&d, 0);
    size_t used, dl = 0;
    cr_assert_eq(http_chunked_feed(&d, in, strlen(in), &used, in, &dl), 1);
    cr_assert_eq(dl, 7);
    cr_assert(!memcmp(in, "abcdefg", 7));
    cr_assert_str_eq(in + used, "NEXT");
    cr_assert_eq(d.total, 7);
}

Test(chunked, count_only)
{
    const char *in = "5\r\nhello\r\n0\r\n\r\n";
    struct http_chunked d;
    http_chunked_init(&d, 0);
    size_t used;
    cr_assert_eq(http_chunked_feed(&d, in, strlen(in), &used, NULL, NULL), 1);
    cr_assert_eq(d.total, 5);
}

Test(chunked, invalid)
{
    static const char *bad[] = {
        "\r\n",                          /* no size */
        "x\r\n",                         /* not hex */
        "-5\r\nhello\r\n0\r\n\r\n",      /* sign */
        "+5\r\nhello\r\n0\r\n\r\n",      /* sign */
        "0x5\r\nhello\r\n0\r\n\r\n",     /* prefix */
        " 5\r\nhello\r\n0\r\n\r\n",      /* leading space */
        "5 x\r\nhello\r\n0\r\n\r\n",     /* junk after size */
        "5\nhello\r\n0\r\n\r\n",         /* bare LF after size */
        "5\rhello\r\n0\r\n\r\n",         /* bare CR */
        "5\r\nhelloX\r\n0\r\n\r\n",      /* data longer than size */
        "5\r\nhello\n0\r\n\r\n",         /* bare LF after data */
        "5\r\nhello\rX0\r\n\r\n",        /* CR then junk */
        "5;a\nb\r\nhello\r\n0\r\n\r\n",  /* LF inside an extension */
        "5;a\x01\r\nhello\r\n0\r\n\r\n", /* control byte in an extension */
        "0\r\nX\r\n\r\n",                /* trailer without colon */
        "0\r\n Folded: x\r\n\r\n",       /* obs-fold */
        "0\r\n: empty name\r\n\r\n",     /* empty name */
        "0\r\nA: b\nC: d\r\n\r\n",       /* bare LF in trailer */
        "0\r\n\rX",                      /* final CR then junk */
        "0\r\nA: b\r\rX",                /* trailer CR then junk */
        "11111111111111111\r\n",         /* 17 digits */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_chunked d;
        http_chunked_init(&d, 0);
        size_t used, dl = 0;
        char out[64];
        int rc = http_chunked_feed(&d, bad[i], strlen(bad[i]), &used, out, &dl);
        cr_assert_eq(rc, -400, "case %zu (%s): rc %d", i, bad[i], rc);
        cr_assert(d.error != NULL);
    }
}

Test(chunked, sixteen_digits_ok_and_limit)
{
    struct http_chunked d;
    http_chunked_init(&d, 10);
    size_t used;
    /* 16 digits is the most; a huge size beyond max is 413, not a wrap */
    const char *in = "ffffffffffffffff\r\n";
    cr_assert_eq(http_chunked_feed(&d, in, strlen(in), &used, NULL, NULL), -413);
    http_chunked_init(&d, 10);
    in = "6\r\nabcdef\r\n5\r\n";
    cr_assert_eq(http_chunked_feed(&d, in, strlen(in), &used, NULL, NULL), -413);
    http_chunked_init(&d, 11);
    in = "6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n";
    cr_assert_eq(http_chunked_feed(&d, in, strlen(in), &used, NULL, NULL), 1);
    cr_assert_eq(d.total, 11);
}

Test(chunked, bounded_lines)
{
    size_t n = HTTP_CHUNK_LINE_MAX + 10;
    char *in = malloc(n);
    memset(in, 'a', n);
    memcpy(in, "5;", 2);
    struct http_chunked d;
    http_chunked_init(&d, 0);
    size_t used;
    cr_assert_eq(http_chunked_feed(&d, in, n, &used, NULL, NULL), -400);
    /* an endless trailer */
    http_chunked_init(&d, 0);
    memcpy(in, "0\r\nA:", 5);
    cr_assert_eq(http_chunked_feed(&d, in, 5, &used, NULL, NULL), 0);
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = http_chunked_feed(&d, in + 5, n - 5, &used, NULL, NULL);
    cr_assert_eq(rc, -400);
    free(in);
}
