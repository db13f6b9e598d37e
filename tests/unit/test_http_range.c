#include "http/range.h"

#include <criterion/criterion.h>
#include <stdio.h>
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
        /* past 64 bits: still a number, saturated, never wrapped (§14.1.1) */
        {"bytes=0-18446744073709551616", 10, 1, {{0, 9}}},
        {"bytes=-18446744073709551616", 10, 1, {{0, 9}}},
        {"bytes=3-99999999999999999999999999", 10, 1, {{3, 9}}},
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
        {"bytes=18446744073709551616-", 10, -416, {{0, 0}}},
        {"bytes=99999999999999999999999999-", 10, -416, {{0, 0}}},
        {"bytes=18446744073709551616-99999999999999999999999999", 10, -416, {{0, 0}}},
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

/* ---- coalescing (RFC 9110 §14.2) ---- */

/* parses v against size with room for every member, then coalesces */
static int select_ranges(const char *v, uint64_t size, struct http_range *out)
{
    int n = http_range_parse(v, strlen(v), size, out, HTTP_RANGE_SPECS);
    return n > 0 ? http_range_coalesce(out, n) : n;
}

struct ccase {
    const char *v;
    uint64_t size;
    int want;
    struct http_range r[4];
};

static void run_c(const struct ccase *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct http_range out[HTTP_RANGE_SPECS];
        int got = select_ranges(t[i].v, t[i].size, out);
        cr_expect_eq(got, t[i].want, "\"%s\": got %d want %d", t[i].v, got, t[i].want);
        if (got != t[i].want) continue;
        for (int k = 0; k < got; k++) {
            cr_expect_eq(out[k].first, t[i].r[k].first, "\"%s\" range %d first %llu", t[i].v, k,
                         (unsigned long long)out[k].first);
            cr_expect_eq(out[k].last, t[i].r[k].last, "\"%s\" range %d last %llu", t[i].v, k,
                         (unsigned long long)out[k].last);
        }
    }
}

Test(coalesce, amplification_is_one_range)
{
    static const struct ccase t[] = {
        {"bytes=0-,0-,0-,0-,0-,0-,0-,0-", 1 << 20, 1, {{0, (1 << 20) - 1}}},
        {"bytes=-100,-100,-100", 1000, 1, {{900, 999}}},
        {"bytes=0-999,0-999", 1000, 1, {{0, 999}}},
    };
    run_c(t, sizeof t / sizeof t[0]);
}

Test(coalesce, overlap_adjacent_near)
{
    static const struct ccase t[] = {
        {"bytes=0-499,400-999", 10000, 1, {{0, 999}}},           /* overlap */
        {"bytes=0-499,500-999", 10000, 1, {{0, 999}}},           /* adjacent */
        {"bytes=0-99,101-299", 10000, 2, {{0, 99}, {101, 299}}}, /* one byte apart: two */
        {"bytes=0-4,10-14", 10000, 2, {{0, 4}, {10, 14}}},
        {"bytes=10-14,0-4,5-9", 10000, 1, {{0, 14}}},      /* joined by the third */
        {"bytes=100-200,150-160", 10000, 1, {{100, 200}}}, /* contained */
        {"bytes=0-0,5000-5000,9999-", 10000, 3, {{0, 0}, {5000, 5000}, {9999, 9999}}},
    };
    run_c(t, sizeof t / sizeof t[0]);
}

Test(coalesce, unsorted)
{
    static const struct ccase t[] = {
        {"bytes=5000-5999,0-99", 10000, 2, {{0, 99}, {5000, 5999}}},
        {"bytes=-100,0-99,3000-3099", 10000, 3, {{0, 99}, {3000, 3099}, {9900, 9999}}},
        {"bytes=900-999,0-99,50-950", 1000, 1, {{0, 999}}},
    };
    run_c(t, sizeof t / sizeof t[0]);
}

Test(coalesce, many_small_ranges_are_ignored)
{
    /* 20 one-byte ranges 1000 bytes apart, out of order: more than the
     * maximum remain, so the header is ignored */
    char v[512] = "bytes=";
    for (int i = 19; i >= 0; i--)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%d-%d,", i * 1000, i * 1000);
    struct http_range out[HTTP_RANGE_SPECS];
    cr_expect_eq(select_ranges(v, 100000, out), 0);
    /* 20 adjacent one-byte ranges, out of order, make one range */
    strcpy(v, "bytes=");
    for (int i = 19; i >= 0; i--)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%d-%d,", i, i);
    cr_expect_eq(select_ranges(v, 100000, out), 1);
    cr_expect_eq(out[0].first, 0);
    cr_expect_eq(out[0].last, 19);
    /* more members than HTTP_RANGE_SPECS are ignored before any work */
    char w[1024] = "bytes=";
    for (int i = 0; i <= HTTP_RANGE_SPECS; i++)
        snprintf(w + strlen(w), sizeof w - strlen(w), "0-%d,", i);
    cr_expect_eq(select_ranges(w, 100000, out), 0);
    /* exactly the maximum of separate ranges is kept */
    strcpy(v, "bytes=");
    for (int i = 0; i < HTTP_RANGE_MAX; i++)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%d-%d,", i * 1000, i * 1000 + 9);
    cr_expect_eq(select_ranges(v, 100000, out), HTTP_RANGE_MAX);
    for (int i = 1; i < HTTP_RANGE_MAX; i++)
        cr_expect_gt(out[i].first, out[i - 1].last + HTTP_RANGE_GAP + 1);
}

Test(coalesce, edges)
{
    struct http_range r[2] = {{UINT64_MAX - 1, UINT64_MAX - 1}, {0, UINT64_MAX - 1}};
    cr_expect_eq(http_range_coalesce(r, 2), 1);
    cr_expect_eq(r[0].first, 0);
    cr_expect_eq(r[0].last, UINT64_MAX - 1);
    cr_expect_eq(http_range_coalesce(r, 0), 0);
    struct http_range one = {3, 4};
    cr_expect_eq(http_range_coalesce(&one, 1), 1);
    cr_expect_eq(one.first, 3);
    cr_expect_eq(one.last, 4);
}
