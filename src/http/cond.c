#include "http/cond.h"

#include "http/parse.h"

#include <stdint.h>
#include <string.h>

static const char wday_short[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_name[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* the range gmtime_r can render with a four-digit year: 0001-01-01 .. 9999-12-31 */
#define DATE_MIN (-62135596800LL)
#define DATE_MAX 253402300799LL

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

size_t http_date_fmt(time_t t, char out[30])
{
    long long v = (long long)t;
    if (v < DATE_MIN) v = DATE_MIN;
    if (v > DATE_MAX) v = DATE_MAX;
    time_t c = (time_t)v;
    struct tm tm;
    if (!gmtime_r(&c, &tm)) memset(&tm, 0, sizeof tm); /* unreachable after clamping */
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    memcpy(out, wday_short[tm.tm_wday % 7], 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    memcpy(out + 8, month_name[tm.tm_mon % 12], 3);
    out[11] = ' ';
    int y = tm.tm_year + 1900;
    put2(out + 12, y / 100);
    put2(out + 14, y % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    memcpy(out + 25, " GMT", 5); /* with the NUL */
    return HTTP_DATE_LEN;
}

/* days since 1970-01-01 of a proleptic Gregorian date (m 1..12): count whole
 * 400-year eras (146097 days each), then days within the era from a year
 * that starts in March, so the leap day is the era-year's last day */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2) y--;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

static int days_in_month(int y, int m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
    return dim[m - 1];
}

/* a cursor over the field value; every matcher advances only on success */
struct cur {
    const char *p, *e;
};

static int lit(struct cur *c, const char *s, size_t n)
{
    if ((size_t)(c->e - c->p) < n || memcmp(c->p, s, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int num(struct cur *c, int digits, int *v)
{
    if (c->e - c->p < digits) return 0;
    int x = 0;
    for (int i = 0; i < digits; i++) {
        if (c->p[i] < '0' || c->p[i] > '9') return 0;
        x = x * 10 + (c->p[i] - '0');
    }
    c->p += digits;
    *v = x;
    return 1;
}

static int month(struct cur *c, int *m)
{
    for (int i = 0; i < 12; i++)
        if (lit(c, month_name[i], 3)) {
            *m = i + 1;
            return 1;
        }
    return 0;
}

/* "HH:MM:SS" */
static int hms(struct cur *c, int *h, int *mi, int *s)
{
    return num(c, 2, h) && lit(c, ":", 1) && num(c, 2, mi) && lit(c, ":", 1) && num(c, 2, s) &&
           *h <= 23 && *mi <= 59 && *s <= 60; /* 60: a leap second */
}

static int rfc850_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    int cur = gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 2000;
    int y = cur - cur % 100 + yy;
    /* RFC 9110 §5.6.7: more than 50 years ahead means the previous century */
    return y > cur + 50 ? y - 100 : y;
}

int http_date_parse(const char *s, size_t n, time_t *out)
{
    struct cur c = {s, s + n};
    int y, m, d, h, mi, sec;
    while (c.p < c.e && (*c.p == ' ' || *c.p == '\t'))
        c.p++;
    while (c.e > c.p && (c.e[-1] == ' ' || c.e[-1] == '\t'))
        c.e--;

    int wd = -1, longname = 0;
    for (int i = 0; i < 7 && wd < 0; i++) {
        if (lit(&c, wday_long[i], strlen(wday_long[i]))) {
            wd = i;
            longname = 1;
        } else if (lit(&c, wday_short[i], 3)) {
            wd = i;
        }
    }
    if (wd < 0) return -1;
    /* the weekday is not checked against the date: it adds nothing to the
     * instant, and rejecting the field would only cost a cache hit */
    if (longname) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        if (!(lit(&c, ", ", 2) && num(&c, 2, &d) && lit(&c, "-", 1) && month(&c, &m) &&
              lit(&c, "-", 1) && num(&c, 2, &y) && lit(&c, " ", 1) && hms(&c, &h, &mi, &sec) &&
              lit(&c, " GMT", 4)))
            return -1;
        y = rfc850_year(y);
    } else if (lit(&c, ", ", 2)) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (!(num(&c, 2, &d) && lit(&c, " ", 1) && month(&c, &m) && lit(&c, " ", 1) &&
              num(&c, 4, &y) && lit(&c, " ", 1) && hms(&c, &h, &mi, &sec) && lit(&c, " GMT", 4)))
            return -1;
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" (the day is 2DIGIT or SP DIGIT) */
        if (!(lit(&c, " ", 1) && month(&c, &m) && lit(&c, " ", 1) &&
              (num(&c, 2, &d) || (lit(&c, " ", 1) && num(&c, 1, &d))) && lit(&c, " ", 1) &&
              hms(&c, &h, &mi, &sec) && lit(&c, " ", 1) && num(&c, 4, &y)))
            return -1;
    }
    if (c.p != c.e || d < 1 || d > days_in_month(y, m)) return -1;
    int64_t t = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
    if ((int64_t)(time_t)t != t) return -1; /* a 32-bit time_t */
    *out = (time_t)t;
    return 0;
}

static char *put_hex(char *p, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t http_etag_make(const struct stat *st, char *out, size_t n)
{
    /* inode and size tell replaced files apart even within one mtime tick;
     * the nanoseconds catch rewrites in place within the same second */
    uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    char tmp[HTTP_ETAG_MAX], *p = tmp;
    *p++ = '"';
    p = put_hex(p, (uint64_t)st->st_ino);
    *p++ = '-';
    p = put_hex(p, (uint64_t)st->st_size);
    *p++ = '-';
    p = put_hex(p, ns);
    *p++ = '"';
    size_t len = (size_t)(p - tmp);
    if (len + 1 > n) return 0;
    memcpy(out, tmp, len);
    out[len] = '\0';
    return len;
}

/* One entity-tag: weak flag and the opaque-tag with its quotes. */
struct etag {
    const char *p;
    size_t n;
    int weak;
};

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Parses an entity-tag at c (RFC 9110 §8.8.3: [W/] DQUOTE *etagc DQUOTE,
 * etagc = %x21 / %x23-7E / obs-text).  1 on success. */
static int etag_parse(struct cur *c, struct etag *t)
{
    struct cur s = *c;
    t->weak = lit(&s, "W/", 2);
    if (s.p >= s.e || *s.p != '"') return 0;
    const char *q = s.p + 1;
    for (; q < s.e && *q != '"'; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x21 || ch == 0x7f) return 0;
    }
    if (q >= s.e) return 0;
    t->p = s.p;
    t->n = (size_t)(q + 1 - s.p);
    c->p = q + 1;
    return 1;
}

static int etag_eq(const struct etag *a, const struct etag *b, int strong)
{
    if (strong && (a->weak || b->weak)) return 0;
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* 1 when the If-Match / If-None-Match value v lists "*" or a tag matching cur
 * (strong or weak comparison).  A malformed member is skipped up to the next
 * comma; it can never match. */
static int etag_list_match(struct http_str v, const struct etag *cur, int strong)
{
    struct cur c = {v.p, v.p + v.n};
    while (c.p < c.e) {
        while (c.p < c.e && (is_ows(*c.p) || *c.p == ','))
            c.p++;
        if (c.p >= c.e) break;
        struct etag t;
        int ok, star = 0;
        if (*c.p == '*') {
            c.p++;
            ok = star = 1;
        } else {
            ok = etag_parse(&c, &t);
        }
        while (ok && c.p < c.e && is_ows(*c.p))
            c.p++;
        if (ok && c.p < c.e && *c.p != ',') ok = 0; /* junk after the member */
        if (ok && (star || (cur && etag_eq(&t, cur, strong)))) return 1;
        if (!ok)
            while (c.p < c.e && *c.p != ',')
                c.p++;
    }
    return 0;
}

/* etag_list_match over the whole If-Match / If-None-Match list: the value
 * v, or every line named name when the request's lines are at hand */
static int list_match(const struct http_cond *c, struct http_str v, const char *name,
                      const struct etag *cur, int strong)
{
    if (!c->lines) return etag_list_match(v, cur, strong);
    for (size_t i = 0; i < c->nlines; i++)
        if (http_str_eq_ci(c->lines[i].name, name) &&
            etag_list_match(c->lines[i].value, cur, strong))
            return 1;
    return 0;
}

/* the representation's own tag, or NULL when it has none (or it is malformed) */
static const struct etag *current_tag(const char *etag, size_t etag_len, struct etag *t)
{
    if (!etag || !etag_len) return NULL;
    struct cur c = {etag, etag + etag_len};
    return etag_parse(&c, t) && c.p == c.e ? t : NULL;
}

int http_preconditions(const struct http_cond *c, int get_or_head, const char *etag,
                       size_t etag_len, time_t mtime)
{
    struct etag tbuf;
    const struct etag *cur = current_tag(etag, etag_len, &tbuf);
    time_t d;

    /* step 1 and 2: the client's idea of the current state must hold */
    if (c->if_match.p) {
        if (!list_match(c, c->if_match, "if-match", cur, 1)) return 412;
    } else if (c->if_unmodified_since.p) {
        if (http_date_parse(c->if_unmodified_since.p, c->if_unmodified_since.n, &d) == 0 &&
            mtime > d)
            return 412;
    }
    /* step 3 and 4: the client's cached copy may already be current */
    if (c->if_none_match.p) {
        if (list_match(c, c->if_none_match, "if-none-match", cur, 0))
            return get_or_head ? 304 : 412;
    } else if (get_or_head && c->if_modified_since.p) {
        /* a date later than our clock is invalid (RFC 7232 §3.3): the client
         * cannot have seen a representation from the future */
        if (http_date_parse(c->if_modified_since.p, c->if_modified_since.n, &d) == 0 &&
            d <= time(NULL) && mtime <= d)
            return 304;
    }
    return 200;
}

int http_if_range_ok(struct http_str if_range, const char *etag, size_t etag_len, time_t mtime)
{
    if (!if_range.p) return 1;
    struct http_str v = http_str_trim(if_range);
    if (v.n && (v.p[0] == '"' || (v.n >= 2 && v.p[0] == 'W' && v.p[1] == '/'))) {
        struct etag tbuf, t;
        const struct etag *cur = current_tag(etag, etag_len, &tbuf);
        struct cur c = {v.p, v.p + v.n};
        /* a weak tag never passes the strong comparison If-Range requires */
        return cur && etag_parse(&c, &t) && c.p == c.e && etag_eq(&t, cur, 1);
    }
    time_t d;
    return http_date_parse(v.p, v.n, &d) == 0 && d == mtime;
}
