#include "http/cond.h"
#include "http/parse.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EPOCH_1994 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static time_t parse(const char *s)
{
    time_t t = -12345;
    int rc = http_date_parse(s, strlen(s), &t);
    return rc == 0 ? t : (time_t)-1;
}

Test(date, fmt_known)
{
    char out[30];
    memset(out, 'X', sizeof out);
    cr_expect_eq(http_date_fmt(EPOCH_1994, out), 29);
    cr_expect_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_fmt(0, out);
    cr_expect_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_fmt(951782400, out);
    cr_expect_str_eq(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_fmt(-1, out);
    cr_expect_str_eq(out, "Wed, 31 Dec 1969 23:59:59 GMT");
    http_date_fmt(253402300799, out);
    cr_expect_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    /* past year 9999 the date is clamped rather than grown */
    cr_expect_eq(http_date_fmt(253402300800 * 4, out), 29);
    cr_expect_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    cr_expect_eq(strlen(out), 29);
}

Test(date, three_forms)
{
    cr_expect_eq(parse("Sun, 06 Nov 1994 08:49:37 GMT"), EPOCH_1994);
    cr_expect_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT"), EPOCH_1994);
    cr_expect_eq(parse("Sun Nov  6 08:49:37 1994"), EPOCH_1994);
    cr_expect_eq(parse("Sun Nov 06 08:49:37 1994"), EPOCH_1994);
    cr_expect_eq(parse("  Sun, 06 Nov 1994 08:49:37 GMT \t"), EPOCH_1994);
    cr_expect_eq(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    cr_expect_eq(parse("Wed, 31 Dec 1969 23:59:59 GMT"), -1 /* a real -1 */);
    cr_expect_eq(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    cr_expect_eq(parse("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
    cr_expect_eq(parse("Sat, 01 Jan 2000 00:00:60 GMT"), 946684860); /* leap second */
    /* the weekday is not cross-checked */
    cr_expect_eq(parse("Mon, 06 Nov 1994 08:49:37 GMT"), EPOCH_1994);
}

Test(date, rfc850_century)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int cur = tm.tm_year + 1900;
    for (int yy = 0; yy < 100; yy++) {
        char s[64];
        snprintf(s, sizeof s, "Saturday, 01-Jan-%02d 00:00:00 GMT", yy);
        time_t t = parse(s);
        cr_assert_neq(t, (time_t)-1, "%s", s);
        struct tm g;
        gmtime_r(&t, &g);
        int y = g.tm_year + 1900;
        cr_expect_eq(y % 100, yy, "%s", s);
        cr_expect(y <= cur + 50 && y > cur - 50, "%s -> %d", s, y);
    }
}

Test(date, invalid)
{
    static const char *bad[] = {
        "",
        " ",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 23:59:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 00:00:00 GMT",
        "Sun, 29 Feb 2100 00:00:00 GMT",
        "Sun, 30 Feb 2000 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun, +6 Nov 1994 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t = 42;
        cr_expect_eq(http_date_parse(bad[i], strlen(bad[i]), &t), -1, "%s", bad[i]);
        cr_expect_eq(t, 42, "%s: *out written on failure", bad[i]);
    }
    /* n bounds the input */
    time_t t;
    cr_expect_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28, &t), -1);
    cr_expect_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT!!", 29, &t), 0);
}

Test(date, roundtrip_against_gmtime)
{
    char out[30], ref[64];
    /* every ~17 hours across 1900..2100, which exercises every month and leap rule */
    for (long long t = -2208988800LL; t < 4102444800LL; t += 61201) {
        http_date_fmt((time_t)t, out);
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        snprintf(ref, sizeof ref, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
                 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cr_assert_str_eq(out, ref);
        cr_assert_eq(parse(out), (time_t)t, "%s", out);
    }
}

Test(etag, make)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = 0x1234;
    st.st_size = 0xabcdef;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;
    char out[HTTP_ETAG_MAX];
    size_t n = http_etag_make(&st, out, sizeof out);
    cr_expect_str_eq(out, "\"1234-abcdef-3b9aca05\"");
    cr_expect_eq(n, strlen(out));

    st.st_mtim.tv_nsec = 6;
    char out2[HTTP_ETAG_MAX];
    http_etag_make(&st, out2, sizeof out2);
    cr_expect_str_neq(out, out2, "nanoseconds must change the tag");

    st.st_ino = 0;
    st.st_size = 0;
    st.st_mtim.tv_sec = 0;
    st.st_mtim.tv_nsec = 0;
    http_etag_make(&st, out, sizeof out);
    cr_expect_str_eq(out, "\"0-0-0\"");

    /* the largest values fit in HTTP_ETAG_MAX */
    st.st_ino = (ino_t)-1;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = INT64_MAX / 2;
    st.st_mtim.tv_nsec = 999999999;
    n = http_etag_make(&st, out, sizeof out);
    cr_expect_gt(n, 0);
    cr_expect_lt(n, HTTP_ETAG_MAX);
    /* too small: 0 and nothing written past n */
    char tiny[4] = "abc";
    cr_expect_eq(http_etag_make(&st, tiny, sizeof tiny), 0);
}

/* the tag and modification time of the representation in every case below */
#define ETAG     "\"abc\""
#define MTIME    ((time_t)1000000000) /* Sun, 09 Sep 2001 01:46:40 GMT */
#define D_EQ     "Sun, 09 Sep 2001 01:46:40 GMT"
#define D_BEFORE "Sun, 09 Sep 2001 01:46:39 GMT"
#define D_AFTER  "Sun, 09 Sep 2001 01:46:41 GMT"
#define D_FUTURE "Fri, 31 Dec 9999 23:59:59 GMT"

struct ccase {
    const char *im, *inm, *ims, *ius; /* NULL: absent */
    int get;
    int want;
    const char *why;
};

static struct http_str S(const char *s) {
    return http_str_cstr(s);
}

static void
run(const struct ccase *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct http_cond c = {.if_match = S(t[i].im),
                              .if_none_match = S(t[i].inm),
                              .if_modified_since = S(t[i].ims),
                              .if_unmodified_since = S(t[i].ius)};
        int got = http_preconditions(&c, t[i].get, ETAG, strlen(ETAG), MTIME);
        cr_expect_eq(got, t[i].want, "case %zu (%s): got %d want %d", i, t[i].why, got, t[i].want);
    }
}

Test(preconditions, none)
{
    static const struct ccase t[] = {
        {NULL, NULL, NULL, NULL, 1, 200, "no conditions, GET"},
        {NULL, NULL, NULL, NULL, 0, 200, "no conditions, POST"},
    };
    run(t, sizeof t / sizeof t[0]);
}

Test(preconditions, if_match)
{
    static const struct ccase t[] = {
        {ETAG, NULL, NULL, NULL, 1, 200, "match"},
        {"\"xyz\"", NULL, NULL, NULL, 1, 412, "mismatch"},
        {"\"xyz\"", NULL, NULL, NULL, 0, 412, "mismatch, unsafe method"},
        {"*", NULL, NULL, NULL, 1, 200, "star"},
        {" * ", NULL, NULL, NULL, 1, 200, "star with OWS"},
        {"\"x\", \"abc\"", NULL, NULL, NULL, 1, 200, "in a list"},
        {"\"x\",\"y\" ,\t\"abc\" ", NULL, NULL, NULL, 1, 200, "list, odd OWS"},
        {"\"x\", \"y\"", NULL, NULL, NULL, 1, 412, "list without it"},
        {"W/\"abc\"", NULL, NULL, NULL, 1, 412, "weak never matches strongly"},
        {"\"ABC\"", NULL, NULL, NULL, 1, 412, "case-sensitive"},
        {"abc", NULL, NULL, NULL, 1, 412, "unquoted"},
        {"\"abc", NULL, NULL, NULL, 1, 412, "unterminated"},
        {"", NULL, NULL, NULL, 1, 412, "empty"},
        {",,, ,", NULL, NULL, NULL, 1, 412, "only commas"},
        {", ,\"abc\",", NULL, NULL, NULL, 1, 200, "empty members are allowed"},
        {"\"x\" junk, \"abc\"", NULL, NULL, NULL, 1, 200, "junk member skipped"},
        {"\"abc\"junk", NULL, NULL, NULL, 1, 412, "junk glued to the tag"},
        {"\"a bc\", \"abc\"", NULL, NULL, NULL, 1, 200, "invalid etagc skipped"},
        {"W/", NULL, NULL, NULL, 1, 412, "bare W/"},
        {"w/\"abc\"", NULL, NULL, NULL, 1, 412, "lower-case w/ is not weak syntax"},
        /* If-Match present: If-Unmodified-Since is not evaluated */
        {ETAG, NULL, NULL, D_BEFORE, 1, 200, "IM passes, IUS would fail"},
        {"\"xyz\"", NULL, NULL, D_AFTER, 1, 412, "IM fails, IUS would pass"},
    };
    run(t, sizeof t / sizeof t[0]);
}

Test(preconditions, if_unmodified_since)
{
    static const struct ccase t[] = {
        {NULL, NULL, NULL, D_EQ, 1, 200, "same second"},
        {NULL, NULL, NULL, D_AFTER, 1, 200, "unmodified since a later date"},
        {NULL, NULL, NULL, D_BEFORE, 1, 412, "modified after the date"},
        {NULL, NULL, NULL, D_BEFORE, 0, 412, "modified, unsafe method"},
        {NULL, NULL, NULL, "yesterday", 1, 200, "invalid date ignored"},
        {NULL, NULL, NULL, "", 1, 200, "empty ignored"},
        {NULL, NULL, NULL, "Sunday, 09-Sep-01 01:46:39 GMT", 1, 412, "RFC 850 form"},
        {NULL, NULL, NULL, "Sun Sep  9 01:46:39 2001", 1, 412, "asctime form"},
        /* step 2 fails before step 3 is reached */
        {NULL, ETAG, NULL, D_BEFORE, 1, 412, "IUS fails before INM"},
        {NULL, ETAG, NULL, D_AFTER, 1, 304, "IUS passes, INM matches"},
    };
    run(t, sizeof t / sizeof t[0]);
}

Test(preconditions, if_none_match)
{
    static const struct ccase t[] = {
        {NULL, ETAG, NULL, NULL, 1, 304, "match, GET"},
        {NULL, ETAG, NULL, NULL, 0, 412, "match, unsafe method"},
        {NULL, "W/\"abc\"", NULL, NULL, 1, 304, "weak comparison"},
        {NULL, "*", NULL, NULL, 1, 304, "star, GET"},
        {NULL, "*", NULL, NULL, 0, 412, "star, unsafe method"},
        {NULL, "\"xyz\"", NULL, NULL, 1, 200, "mismatch"},
        {NULL, "\"xyz\"", NULL, NULL, 0, 200, "mismatch, unsafe method"},
        {NULL, "\"x\", W/\"abc\"", NULL, NULL, 1, 304, "in a list"},
        {NULL, "\"x\", \"y\"", NULL, NULL, 1, 200, "list without it"},
        {NULL, "garbage", NULL, NULL, 1, 200, "malformed"},
        {NULL, "", NULL, NULL, 1, 200, "empty"},
        /* If-None-Match present: If-Modified-Since is not evaluated */
        {NULL, "\"xyz\"", D_AFTER, NULL, 1, 200, "INM fails, IMS would say 304"},
        {NULL, ETAG, D_BEFORE, NULL, 1, 304, "INM matches, IMS would say modified"},
        /* both steps 1 and 3 */
        {ETAG, ETAG, NULL, NULL, 1, 304, "IM passes, INM matches"},
        {ETAG, ETAG, NULL, NULL, 0, 412, "IM passes, INM matches, unsafe"},
        {"\"xyz\"", ETAG, NULL, NULL, 1, 412, "IM fails first"},
        {ETAG, "\"xyz\"", NULL, NULL, 1, 200, "IM passes, INM does not match"},
        {"*", "*", NULL, NULL, 1, 304, "both star"},
    };
    run(t, sizeof t / sizeof t[0]);
}

Test(preconditions, if_modified_since)
{
    static const struct ccase t[] = {
        {NULL, NULL, D_EQ, NULL, 1, 304, "same second"},
        {NULL, NULL, D_AFTER, NULL, 1, 304, "later date"},
        {NULL, NULL, D_BEFORE, NULL, 1, 200, "modified since"},
        {NULL, NULL, D_EQ, NULL, 0, 200, "only for GET/HEAD"},
        {NULL, NULL, "not a date", NULL, 1, 200, "invalid ignored"},
        {NULL, NULL, D_FUTURE, NULL, 1, 200, "future date ignored"},
        {NULL, NULL, "Sunday, 09-Sep-01 01:46:40 GMT", NULL, 1, 304, "RFC 850"},
        {NULL, NULL, "Sun Sep  9 01:46:40 2001", NULL, 1, 304, "asctime"},
        {ETAG, NULL, D_EQ, NULL, 1, 304, "IM passes then IMS"},
        {"\"xyz\"", NULL, D_EQ, NULL, 1, 412, "IM fails first"},
        {NULL, NULL, D_EQ, D_BEFORE, 1, 412, "IUS fails first"},
        {NULL, NULL, D_EQ, D_EQ, 1, 304, "IUS passes then IMS"},
        {ETAG, NULL, D_BEFORE, D_BEFORE, 1, 200, "IM present: IUS ignored; modified"},
    };
    run(t, sizeof t / sizeof t[0]);
}

Test(preconditions, no_current_etag)
{
    struct http_cond c = {.if_match = S("\"abc\"")};
    cr_expect_eq(http_preconditions(&c, 1, NULL, 0, MTIME), 412);
    c.if_match = S("*");
    cr_expect_eq(http_preconditions(&c, 1, NULL, 0, MTIME), 200);
    struct http_cond d = {.if_none_match = S("\"abc\"")};
    cr_expect_eq(http_preconditions(&d, 1, NULL, 0, MTIME), 200);
    /* a weak current tag: If-None-Match (weak) matches, If-Match (strong) cannot */
    const char *w = "W/\"abc\"";
    cr_expect_eq(http_preconditions(&d, 1, w, strlen(w), MTIME), 304);
    struct http_cond e = {.if_match = S("W/\"abc\"")};
    cr_expect_eq(http_preconditions(&e, 1, w, strlen(w), MTIME), 412);
}

Test(if_range, cases)
{
    static const struct {
        const char *v;
        int want;
    } t[] = {
        {ETAG, 1},     {" " ETAG " ", 1},   {"\"xyz\"", 0}, {"W/\"abc\"", 0},
        {"\"abc", 0},  {ETAG ", \"x\"", 0}, {D_EQ, 1},      {"Sunday, 09-Sep-01 01:46:40 GMT", 1},
        {D_BEFORE, 0}, {D_AFTER, 0},        {"garbage", 0}, {"", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(http_if_range_ok(S(t[i].v), ETAG, strlen(ETAG), MTIME), t[i].want, "%s",
                     t[i].v);
    cr_expect_eq(http_if_range_ok(S(NULL), ETAG, strlen(ETAG), MTIME), 1, "absent");
    cr_expect_eq(http_if_range_ok(S(NULL), NULL, 0, MTIME), 1, "absent, no tag");
    cr_expect_eq(http_if_range_ok(S(ETAG), NULL, 0, MTIME), 0, "no current tag");
    const char *w = "W/\"abc\"";
    cr_expect_eq(http_if_range_ok(S(w), w, strlen(w), MTIME), 0, "weak current tag");
}

/* If-Match / If-None-Match split over several field lines are one list
 * (RFC 9110 §5.3): with the lines given, every line of the name counts, and
 * no other field's value does */
Test(preconditions, lists_over_several_lines)
{
    struct http_header h[] = {
        {http_str_cstr("If-None-Match"), http_str_cstr("\"x\"")},
        {http_str_cstr("X-Other"), http_str_cstr(ETAG)},
        {http_str_cstr("if-none-match"), http_str_cstr("\"y\", " ETAG)},
        {http_str_cstr("If-Match"), http_str_cstr("\"x\"")},
        {http_str_cstr("If-Match"), http_str_cstr("W/" ETAG)},
    };
    struct http_cond c = {.if_none_match = h[0].value, .lines = h, .nlines = 3};
    cr_expect_eq(http_preconditions(&c, 1, ETAG, strlen(ETAG), MTIME), 304);
    c.nlines = 2; /* the X-Other line's tag is not a member */
    cr_expect_eq(http_preconditions(&c, 1, ETAG, strlen(ETAG), MTIME), 200);
    c.lines = NULL; /* without lines: the one value given */
    cr_expect_eq(http_preconditions(&c, 1, ETAG, strlen(ETAG), MTIME), 200);

    struct http_cond m = {.if_match = h[3].value, .lines = h, .nlines = 5};
    cr_expect_eq(http_preconditions(&m, 1, ETAG, strlen(ETAG), MTIME), 412, "weak never matches");
    h[4].value = http_str_cstr(ETAG);
    cr_expect_eq(http_preconditions(&m, 1, ETAG, strlen(ETAG), MTIME), 200);
}
