/* libFuzzer target for src/http/cond.c: HTTP dates, entity tags and the
 * preconditions of RFC 9110 §13.2.2.
 *
 * Input: 8 bytes of a time (the representation's mtime), 1 byte of flags
 * (which conditional fields are present, GET/HEAD or not), then the fields
 * separated by '\n': the current ETag, If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range.  Each field is an exact
 * -size copy so ASan sees any over-read.  Invariants:
 *   - a formatted date is 29 bytes and parses back to the (clamped) time;
 *     a date that parses formats to a date that parses to the same time;
 *   - preconditions answer 200, 304 or 412 only, 304 only for GET/HEAD and
 *     only when If-None-Match or If-Modified-Since is present, 412 only when
 *     one of If-Match, If-Unmodified-Since, If-None-Match is present;
 *   - a field that RFC 9110's order makes irrelevant (If-Unmodified-Since
 *     beside If-Match, If-Modified-Since beside If-None-Match or for other
 *     methods) changes nothing;
 *   - listing the current strong tag in If-Match passes step 1; listing its
 *     weak form in If-None-Match always gives 304 (GET/HEAD) or 412;
 *   - an ETag made from any stat passes If-Match and If-Range as itself. */
#include "http/cond.h"
#include "http/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_ETAG, F_IM, F_INM, F_IMS, F_IUS, F_IR, NFIELDS };

/* the range http_date_fmt renders with a four-digit year */
#define DATE_MIN (-62135596800LL)
#define DATE_MAX 253402300799LL

static time_t clamp(long long v)
{
    if (sizeof(time_t) < 8) v = (int32_t)v;
    if (v < DATE_MIN) v = DATE_MIN;
    if (v > DATE_MAX) v = DATE_MAX;
    return (time_t)v;
}

static void check_date_roundtrip(time_t t)
{
    char out[30];
    memset(out, 'x', sizeof out);
    if (http_date_fmt(t, out) != HTTP_DATE_LEN || strlen(out) != HTTP_DATE_LEN) abort();
    time_t back;
    if (http_date_parse(out, HTTP_DATE_LEN, &back) != 0) abort();
    if (back != clamp((long long)t)) abort();
}

static struct http_str dup_str(const char *p, size_t n, int present, char **own)
{
    *own = NULL;
    if (!present) return http_str_make(NULL, 0);
    *own = malloc(n ? n : 1);
    if (!*own) abort();
    if (n) memcpy(*own, p, n);
    return http_str_make(*own, n);
}

static int valid_status(int s)
{
    return s == 200 || s == 304 || s == 412;
}

/* value + ", " + tag, in a fresh exact-size allocation */
static struct http_str with_tag(struct http_str v, const char *pre, const char *tag, size_t tn,
                                char **own)
{
    size_t vn = v.p ? v.n : 0, pn = strlen(pre);
    *own = malloc(vn + 2 + pn + tn);
    if (!*own) abort();
    if (vn) memcpy(*own, v.p, vn);
    memcpy(*own + vn, ", ", 2);
    memcpy(*own + vn + 2, pre, pn);
    memcpy(*own + vn + 2 + pn, tag, tn);
    return http_str_make(*own, vn + 2 + pn + tn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9) return 0;
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++)
        raw = raw << 8 | data[i];
    /* mostly plausible times, sometimes anything */
    long long mt = (data[0] & 0x80) ? (long long)raw : (long long)(raw % 4102444800ull);
    time_t mtime = (time_t)mt;
    if ((long long)mtime != mt) mtime = (time_t)(int32_t)mt;
    unsigned flags = data[8];
    int get_or_head = flags & 1;
    const char *p = (const char *)data + 9, *e = (const char *)data + size;

    check_date_roundtrip(mtime);

    /* split the rest into the fields */
    const char *fp[NFIELDS];
    size_t fn[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) {
        const char *nl = p < e ? memchr(p, '\n', (size_t)(e - p)) : NULL;
        const char *end = nl ? nl : e;
        fp[i] = p;
        fn[i] = (size_t)(end - p);
        p = nl ? nl + 1 : e;
    }
    char *own[NFIELDS];
    struct http_str f[NFIELDS];
    for (int i = 0; i < NFIELDS; i++)
        f[i] = dup_str(fp[i], fn[i], i == F_ETAG || (flags >> i & 1), &own[i]);

    /* every date field that parses formats and parses back to itself */
    for (int i = F_IMS; i <= F_IR; i++) {
        time_t t;
        /* (year 0000 parses, and formats clamped to 0001: documented) */
        if (f[i].p && http_date_parse(f[i].p, f[i].n, &t) == 0) check_date_roundtrip(t);
    }

    struct http_cond c = {f[F_IM], f[F_INM], f[F_IMS], f[F_IUS], f[F_IR], NULL, 0};
    const char *etag = f[F_ETAG].n ? f[F_ETAG].p : NULL;
    size_t etag_len = f[F_ETAG].n;
    int s = http_preconditions(&c, get_or_head, etag, etag_len, mtime);
    /* the same two tag lists given as the request's lines (one each, among
     * another field) decide the same */
    struct http_header lines[3] = {{http_str_cstr("if-NONE-match"), f[F_INM]},
                                   {http_str_cstr("X-Other"), f[F_ETAG]},
                                   {http_str_cstr("If-Match"), f[F_IM]}};
    struct http_cond cl = c;
    cl.lines = lines;
    cl.nlines = 3;
    if (http_preconditions(&cl, get_or_head, etag, etag_len, mtime) != s) abort();
    if (!valid_status(s)) abort();
    if (s == 304 && (!get_or_head || (!c.if_none_match.p && !c.if_modified_since.p))) abort();
    if (s == 412 && !c.if_match.p && !c.if_unmodified_since.p && !c.if_none_match.p) abort();
    if (!c.if_match.p && !c.if_unmodified_since.p && !c.if_none_match.p && !c.if_modified_since.p &&
        s != 200)
        abort();
    /* a field the order of evaluation makes irrelevant changes nothing:
     * If-Unmodified-Since when If-Match is present, If-Modified-Since when
     * If-None-Match is present or the method is not GET/HEAD, If-Range always */
    struct http_cond c3 = c;
    if (c3.if_match.p) c3.if_unmodified_since = http_str_make(NULL, 0);
    if (c3.if_none_match.p || !get_or_head) c3.if_modified_since = http_str_make(NULL, 0);
    c3.if_range = http_str_make(NULL, 0);
    if (http_preconditions(&c3, get_or_head, etag, etag_len, mtime) != s) abort();
    int ir = http_if_range_ok(c.if_range, etag, etag_len, mtime);
    if (ir != 0 && ir != 1) abort();
    if (!c.if_range.p && ir != 1) abort();

    /* a strong, well-formed current tag ("..." with etagc bytes only) */
    int strong = etag_len >= 2 && etag[0] == '"' && etag[etag_len - 1] == '"';
    for (size_t i = 1; strong && i + 1 < etag_len; i++) {
        unsigned char ch = (unsigned char)etag[i];
        if (ch < 0x21 || ch == 0x7f || ch == '"') strong = 0;
    }
    if (strong) {
        char *o1, *o2;
        struct http_cond c2 = c;
        c2.if_match = with_tag(c.if_match, "", etag, etag_len, &o1);
        c2.if_none_match = http_str_make(NULL, 0);
        s = http_preconditions(&c2, get_or_head, etag, etag_len, mtime);
        if (s != 200 && !(s == 304 && get_or_head)) abort();
        c2 = c;
        c2.if_none_match = with_tag(c.if_none_match, "W/", etag, etag_len, &o2);
        s = http_preconditions(&c2, get_or_head, etag, etag_len, mtime);
        if (s == 200 || (s == 304 && !get_or_head)) abort();
        free(o1);
        free(o2);
        if (http_if_range_ok(http_str_make(etag, etag_len), etag, etag_len, mtime) != 1) abort();
        struct http_str w = http_str_make(NULL, 0);
        char *o3;
        w = with_tag(w, "W/", etag, etag_len, &o3);
        w.p += 2; /* "W/<tag>": a weak tag never passes If-Range */
        w.n -= 2;
        if (http_if_range_ok(w, etag, etag_len, mtime) != 0) abort();
        free(o3);
    }

    /* a date equal to mtime passes If-Range; our own ETag of any stat is well formed */
    char d[30];
    http_date_fmt(mtime, d);
    if (clamp((long long)mtime) == mtime &&
        http_if_range_ok(http_str_make(d, HTTP_DATE_LEN), NULL, 0, mtime) != 1)
        abort();
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = (ino_t)raw;
    st.st_size = (off_t)(raw >> 3);
    st.st_mtim.tv_sec = mtime;
    st.st_mtim.tv_nsec = (long)(raw % 1000000000u);
    char tag[HTTP_ETAG_MAX];
    size_t tn = http_etag_make(&st, tag, sizeof tag);
    if (tn < 2 || tn >= sizeof tag || tag[0] != '"' || tag[tn - 1] != '"' || strlen(tag) != tn)
        abort();
    if (http_etag_make(&st, tag, tn) != 0) abort(); /* no room for the NUL: 0, not a cut tag */
    tn = http_etag_make(&st, tag, sizeof tag);
    struct http_cond only = {.if_match = http_str_make(tag, tn)};
    if (http_preconditions(&only, get_or_head, tag, tn, mtime) != 200) abort();
    if (http_if_range_ok(http_str_make(tag, tn), tag, tn, mtime) != 1) abort();

    for (int i = 0; i < NFIELDS; i++)
        free(own[i]);
    return 0;
}
