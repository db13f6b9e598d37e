/* accept — the Accept field's media ranges and their q-values. */
#include "http/accept.h"

#include "http/str.h"

#include <string.h>

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar of RFC 9110 §5.6.2 */
static int tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c && c < 0x80 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static size_t token_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && tchar((unsigned char)p[i]))
        i++;
    return i;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed */
static int qvalue(const char *p, size_t n)
{
    if (n == 0 || (p[0] != '0' && p[0] != '1')) return -1;
    if (n > 1 && (p[1] != '.' || n > 5)) return -1;
    int q = (p[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9') return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* a quoted-string's length from its opening quote, 0 when unterminated */
static size_t quoted_len(const char *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] == '"') return i + 1;
    }
    return 0;
}

static int eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++)
        if (http_lower((unsigned char)a[i]) != http_lower((unsigned char)b[i])) return 0;
    return 1;
}

/* Parses one member p[0..n) (no comma in it outside quotes); 1 with the
 * range's specificity (1 both wildcards, 2 a subtype wildcard, 3 "type/sub") and q when it
 * matches type, 0 when it does not, -1 when it does not parse. */
static int member(const char *p, size_t n, const char *type, int *spec, int *q)
{
    size_t i = 0, tl = token_len(p, n);
    if (!tl || tl == n || p[tl] != '/') return -1;
    size_t sl = token_len(p + tl + 1, n - tl - 1);
    if (!sl) return -1;
    const char *sub = p + tl + 1, *slash = strchr(type, '/');
    size_t ttl = (size_t)(slash - type), tsl = strlen(slash + 1);
    int s;
    if (tl == 1 && p[0] == '*')
        s = sl == 1 && sub[0] == '*' ? 1 : -1; /* a type wildcard needs a subtype one */
    else if (sl == 1 && sub[0] == '*')
        s = eq_ci(p, tl, type, ttl) ? 2 : 0;
    else
        s = eq_ci(p, tl, type, ttl) && eq_ci(sub, sl, slash + 1, tsl) ? 3 : 0;
    if (s < 0) return -1;
    *q = 1000;
    i = tl + 1 + sl;
    /* *( OWS ";" OWS [ parameter ] ) */
    while (i < n) {
        while (i < n && ows(p[i]))
            i++;
        if (i == n) break;
        if (p[i] != ';') return -1;
        i++;
        while (i < n && ows(p[i]))
            i++;
        if (i == n || p[i] == ';') continue;
        size_t nl = token_len(p + i, n - i);
        if (!nl || i + nl == n || p[i + nl] != '=') return -1;
        const char *name = p + i;
        i += nl + 1;
        size_t vl;
        if (i < n && p[i] == '"') {
            if (!(vl = quoted_len(p + i, n - i))) return -1;
        } else {
            vl = token_len(p + i, n - i);
            if (!vl) return -1;
        }
        if (nl == 1 && (name[0] == 'q' || name[0] == 'Q')) {
            /* q is the weight: parameters after it would be accept-ext,
             * which no one sends; they are skipped like the others */
            int v = qvalue(p + i, vl);
            if (v < 0) return -1;
            *q = v;
        }
        i += vl;
    }
    *spec = s;
    return s > 0;
}

/* Folds the members of v[0..n) into the running best (specificity, q). */
static void scan(const char *v, size_t n, const char *type, int exact, int *best_spec, int *best_q)
{
    size_t i = 0;
    while (i < n) {
        /* the member runs to the next comma outside a quoted-string */
        size_t start = i;
        while (i < n && v[i] != ',') {
            if (v[i] == '"') {
                size_t ql = quoted_len(v + i, n - i);
                i += ql ? ql : n - i;
            } else {
                i++;
            }
        }
        struct http_str m = http_str_trim(http_str_make(v + start, i - start));
        i++; /* the comma */
        int spec, q;
        if (!m.n || member(m.p, m.n, type, &spec, &q) != 1) continue;
        if (exact && spec != 3) continue;
        if (spec > *best_spec || (spec == *best_spec && q > *best_q)) {
            *best_spec = spec;
            *best_q = q;
        }
    }
}

int http_accept_q(const char *v, size_t n, const char *type, int exact)
{
    int spec = 0, q = -1;
    scan(v, n, type, exact, &spec, &q);
    return q;
}

int http_accept_req(const struct http_request *r, const char *type, int exact)
{
    int spec = 0, q = -1, seen = 0;
    /* several fields are one comma-separated list (RFC 9110 §5.3) */
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!http_str_eq_ci(r->headers[i].name, "accept")) continue;
        seen = 1;
        scan(r->headers[i].value.p, r->headers[i].value.n, type, exact, &spec, &q);
    }
    if (!seen) return exact ? -1 : 1000;
    return q;
}
