#include "http/range.h"

#include "http/str.h"

/* Reads 1*DIGIT at *p; 0 when there is none.  A number past UINT64_MAX is
 * UINT64_MAX: still a valid position, past any file's end (RFC 9110
 * §14.1.1: large numerals must not be parse errors, and never wrap). */
static int parse_u64(const char **p, const char *e, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    for (; s < e && *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    if (s == *p) return 0;
    *p = s;
    *v = x;
    return 1;
}

int http_range_parse(const char *v, size_t n, uint64_t size, struct http_range *out, int max)
{
    static const char unit[] = "bytes=";
    const char *p = v, *e = v + n;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(e - p) < sizeof unit - 1 ||
        !http_str_eq_ci(http_str_make(p, sizeof unit - 1), unit))
        return 0;
    p += sizeof unit - 1;

    /* a syntax error in any member ignores the whole header, so out may
     * hold earlier members when 0 is returned: callers look only at > 0 */
    int specs = 0, count = 0;
    for (;;) {
        /* #list: OWS and empty members between commas are allowed */
        while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == e) break;
        uint64_t a = 0, b = 0;
        int suffix = 0, open = 0;
        if (*p == '-') {
            p++;
            if (!parse_u64(&p, e, &b)) return 0;
            suffix = 1;
        } else {
            if (!parse_u64(&p, e, &a) || p == e || *p++ != '-') return 0;
            if (p < e && *p >= '0' && *p <= '9') {
                if (!parse_u64(&p, e, &b)) return 0;
                if (b < a) return 0; /* invalid int-range: the header is invalid */
            } else {
                open = 1;
            }
        }
        /* the member must end here */
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t'))
            q++;
        if (q < e && *q != ',') return 0;
        p = q;
        if (++specs > max) return 0;

        if (suffix) {
            if (b == 0 || size == 0) continue; /* "-0" selects nothing */
            out[count].first = b >= size ? 0 : size - b;
            out[count].last = size - 1;
        } else {
            if (a >= size) continue;
            out[count].first = a;
            out[count].last = open || b >= size ? size - 1 : b;
        }
        count++;
    }
    if (specs == 0) return 0; /* "bytes=" or "bytes=,": range-set needs one member */
    return count ? count : -416;
}

int http_range_coalesce(struct http_range *r, int n)
{
    if (n <= 0) return 0;
    /* insertion sort: n is small and bounded, and it needs no allocation */
    for (int i = 1; i < n; i++) {
        struct http_range t = r[i];
        int j = i;
        for (; j > 0 && r[j - 1].first > t.first; j--)
            r[j] = r[j - 1];
        r[j] = t;
    }
    int k = 0;
    for (int i = 1; i < n; i++) {
        /* r[i].first >= r[k].first; merge when it starts within r[k], right
         * after it, or at most the gap past it (no sum: nothing overflows) */
        if (r[i].first <= r[k].last || r[i].first - r[k].last - 1 <= HTTP_RANGE_GAP) {
            if (r[i].last > r[k].last) r[k].last = r[i].last;
        } else {
            r[++k] = r[i];
        }
    }
    k++;
    return k > HTTP_RANGE_MAX ? 0 : k;
}
