#include "http/range.h"

#include <criterion/criterion.h>
#include <string.h>

#define MAXR 8

struct rcase {
    const char *v;
    uint64_t size;
    int want;               /* return value */
    struct http_range r[4]; /* the first `want` ranges when want > 0 */
};

static void run(const struct rcase *t, size_t n, int max)
{
    for (size_t i = 0; i < n; i++) {
        struct http_range out[MAXR];
        memset(out, 0xa5, sizeof out);
        int got = http_range_parse(t[i].v, strlen(t[i].v), t[i].size, out, max);
        cr_expect_eq(got, t[i].want, "\"%s\" size %llu: got %d want %d", t[i].v,
                     (unsigned long long)t[i].size, got, t[i].want);
        if (got != t[i].want) continue;
        for (int k = 0; k < got; k++) {
            cr_expect_eq(out[k].first, t[i].r[k].first, "\"%s\" range %d first %llu", t[i].v, k,
                         (unsigned long long)out[k].first);
            cr_expect_eq(out[k].last, t[i].r[k].last, "\"%s\" range %d last %llu", t[i].v, k,
                         (unsigned long long)out[k].last);
        }
    }
}

Test(range, single)
{
    static const struct rcase t[] = {
        {"bytes=0-0", 10, 1, {{0, 0}}},
        {"bytes=0-9", 10, 1, {{0, 9}}},
        {"bytes=2-5", 10, 1, {{2, 5}}},
        {"bytes=9-9", 10, 1, {{9, 9}}},
        {"bytes=5-", 10, 1, {{5, 9}}},
        {"bytes=0-", 10, 1, {{0, 9}}},
        {"bytes=-1", 10, 1, {{9, 9}}},
        {"bytes=-3", 10, 1, {{7, 9}}},
        {"bytes=-10", 10, 1, {{0, 9}}},
        {"bytes=-11", 10, 1, {{0, 9}}},
        {"bytes=-18446744073709551615", 10, 1, {{0, 9}}},
        {"bytes=0-999999999999", 10, 1, {{0, 9}}},
        {"bytes=5-18446744073709551615", 10, 1, {{5, 9}}},
        {"bytes=4-20", 5, 1, {{4, 4}}},
        {"bytes=0-0", 1, 1, {{0, 0}}},
        {"bytes=-1", 1, 1, {{0, 0}}},
        {"bytes=007-008", 10, 1, {{7, 8}}},
        /* the unit is case-insensitive (RFC 9110 §14.1) */
        {"Bytes=0-1", 10, 1, {{0, 1}}},
        {"BYTES=0-1", 10, 1, {{0, 1}}},
        /* OWS around the value and members */
        {"  bytes=1-2  ", 10, 1, {{1, 2}}},
        {"bytes=1-2\t", 10, 1, {{1, 2}}},
        {"bytes=3-4,", 10, 1, {{3, 4}}},
        {"bytes=,3-4", 10, 1, {{3, 4}}},
        /* huge representations */
        {"bytes=18446744073709551613-",
         18446744073709551615ull,
         1,
         {{18446744073709551613ull, 18446744073709551614ull}}},
    };
    run(t, sizeof t / sizeof t[0], MAXR);
}

Test(range, unsatisfiable)
{
    static const struct rcase t[] = {
        {"bytes=5-", 5, -416, {{0, 0}}},
        {"bytes=5-10", 5, -416, {{0, 0}}},
        {"bytes=10-20", 5, -416, {{0, 0}}},
        {"bytes=-0", 5, -416, {{0, 0}}},
        {"bytes=0-0", 0, -416, {{0, 0}}},
        {"bytes=0-", 0, -416, {{0, 0}}},
        {"bytes=-1", 0, -416, {{0, 0}}},
        {"bytes=-5", 0, -416, {{0, 0}}},
        {"bytes=5-,6-9,-0", 5, -416, {{0, 0}}},
        {"bytes=18446744073709551615-18446744073709551615", 10, -416, {{0, 0}}},
    };
    run(t, sizeof t / sizeof t[0], MAXR);
}

Test(range, ignored)
{
    static const struct rcase t[] = {
        {"", 10, 0, {{0, 0}}},
        {"bytes", 10, 0, {{0, 0}}},
        {"bytes=", 10, 0, {{0, 0}}},
        {"bytes= ", 10, 0, {{0, 0}}},
        {"bytes=,", 10, 0, {{0, 0}}},
        {"bytes=1-0", 10, 0, {{0, 0}}}, /* last < first: invalid, not unsatisfiable */
        {"bytes=9-3", 10, 0, {{0, 0}}},
        {"bytes=-", 10, 0, {{0, 0}}},
        {"bytes=--1", 10, 0, {{0, 0}}},
        {"bytes=1", 10, 0, {{0, 0}}},
        {"bytes=a-b", 10, 0, {{0, 0}}},
        {"bytes=1-2-3", 10, 0, {{0, 0}}},
        {"bytes=1-2 3-4", 10, 0, {{0, 0}}},
        {"bytes=1 -2", 10, 0, {{0, 0}}},
        {"bytes=1- 2", 10, 0, {{0, 0}}},
        {"bytes=+1-2", 10, 0, {{0, 0}}},
        {"bytes=0x1-2", 10, 0, {{0, 0}}},
        {"bytes=1-2;", 10, 0, {{0, 0}}},
        {"bytes =0-1", 10, 0, {{0, 0}}},
        {"bytes:0-1", 10, 0, {{0, 0}}},
        {"bits=0-1", 10, 0, {{0, 0}}},
        {"items=0-1", 10, 0, {{0, 0}}},
        {"byte=0-1", 10, 0, {{0, 0}}},
        {"bytesx=0-1", 10, 0, {{0, 0}}},
        {"0-1", 10, 0, {{0, 0}}},
        /* numbers past 64 bits are rejected, not wrapped */
        {"bytes=18446744073709551616-", 10, 0, {{0, 0}}},
        {"bytes=0-18446744073709551616", 10, 0, {{0, 0}}},
        {"bytes=-18446744073709551616", 10, 0, {{0, 0}}},
        {"bytes=99999999999999999999999999-", 10, 0, {{0, 0}}},
        /* one bad member spoils the header, even after good ones */
        {"bytes=0-1,x", 10, 0, {{0, 0}}},
        {"bytes=0-1,2-1", 10, 0, {{0, 0}}},
        /* syntax errors win over unsatisfiable members */
        {"bytes=20-30,5-4", 10, 0, {{0, 0}}},
    };
    run(t, sizeof t / sizeof t[0], MAXR);
}

Test(range, lists)
{
    static const struct rcase t[] = {
        {"bytes=0-0,-1", 10, 2, {{0, 0}, {9, 9}}},
        {"bytes=0-1, 3-4 ,\t6-", 10, 3, {{0, 1}, {3, 4}, {6, 9}}},
        {"bytes=0-1,,, 3-4", 10, 2, {{0, 1}, {3, 4}}},
        /* unsatisfiable members are dropped, satisfiable ones kept in order */
        {"bytes=20-30,2-3,-0,5-", 10, 2, {{2, 3}, {5, 9}}},
        {"bytes=5-,0-0", 5, 1, {{0, 0}}},
        /* overlap is returned as sent */
        {"bytes=0-5,2-8", 10, 2, {{0, 5}, {2, 8}}},
        {"bytes=8-9,0-1", 10, 2, {{8, 9}, {0, 1}}},
    };
    run(t, sizeof t / sizeof t[0], MAXR);
}

Test(range, max)
{
    struct http_range out[4];
    const char *v = "bytes=0-0,1-1,2-2";
    cr_expect_eq(http_range_parse(v, strlen(v), 10, out, 3), 3);
    cr_expect_eq(http_range_parse(v, strlen(v), 10, out, 2), 0, "more than max: ignored");
    cr_expect_eq(http_range_parse(v, strlen(v), 10, out, 0), 0);
    /* unsatisfiable members still count toward max */
    const char *w = "bytes=50-,60-,0-1";
    cr_expect_eq(http_range_parse(w, strlen(w), 10, out, 2), 0);
    cr_expect_eq(http_range_parse(w, strlen(w), 10, out, 3), 1);
    cr_expect_eq(out[0].last, 1);
    /* empty members do not */
    const char *x = "bytes=,,0-1,,";
    cr_expect_eq(http_range_parse(x, strlen(x), 10, out, 1), 1);
    /* a single-range server */
    const char *y = "bytes=0-1,3-4";
    cr_expect_eq(http_range_parse(y, strlen(y), 10, out, 1), 0);
}

Test(range, length_bounds_input)
{
    struct http_range out[1];
    /* "bytes=1-2" followed by bytes that must not be read */
    cr_expect_eq(http_range_parse("bytes=1-23", 9, 100, out, 1), 1);
    cr_expect_eq(out[0].last, 2);
    cr_expect_eq(http_range_parse("bytes=1-2", 5, 100, out, 1), 0);
}
