/* policy — Cache-Control by fingerprint, the fields every response
 * carries, CORS preflights, and the checks of their options. */
#include "http/policy.h"

#include "err.h"
#include "http/field.h"
#include "http/resp.h"
#include "http/str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fingerprints ---- */

static int hash_like(const char *s, size_t n)
{
    if (n < 8) return 0;
    int digit = 0, lhex = 0, uhex = 0, lower = 0, upper = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digit = 1;
        else if (c >= 'a' && c <= 'f')
            lhex = 1;
        else if (c >= 'g' && c <= 'z')
            lower = 1;
        else if (c >= 'A' && c <= 'F')
            uhex = 1;
        else if (c >= 'G' && c <= 'Z')
            upper = 1;
        else if (c == '-' || c == '_')
            other = 1;
        else
            return 0;
    }
    /* hex of one case: a digit and a letter, so neither a number (a date,
     * a version) nor a word spelt in a-f */
    if (!lower && !upper && !other && digit && (lhex != uhex)) return 1;
    /* base64url: all three classes, which words and numbers rarely have */
    return digit && (lhex || lower) && (uhex || upper);
}

int policy_fingerprinted(const char *path, size_t n)
{
    const char *base = path;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/') base = path + i + 1;
    size_t bn = (size_t)(path + n - base);
    const char *first = memchr(base, '.', bn), *last = NULL;
    if (!first || first == base) return 0; /* no stem */
    for (size_t i = bn; i-- > 0;)
        if (base[i] == '.') {
            last = base + i;
            break;
        }
    if (last == first || last == base + bn - 1) return 0; /* no middle, or no extension */
    for (const char *p = first + 1; p < last;) {
        const char *d = memchr(p, '.', (size_t)(last - p) + 1);
        if (hash_like(p, (size_t)(d - p))) return 1;
        p = d + 1;
    }
    return 0;
}

const char *policy_cache_control(const struct policy *p, const char *path)
{
    if (policy_fingerprinted(path, strlen(path))) return POLICY_IMMUTABLE;
    return p ? p->cache_control : NULL;
}

/* ---- option checks ---- */

static int fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (len) vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* names berth writes on some answer itself: a copy would contradict them */
static int owned(const char *name, size_t n)
{
    static const char *const own[] = {
        "content-type", "content-encoding", "content-range", "content-disposition",
        "etag",         "last-modified",    "accept-ranges", "location",
        "allow",        "cache-control",    "repr-digest",   "content-digest",
    };
    struct http_str s = http_str_make(name, n);
    if (http_field_reserved(name, n)) return 1;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (http_str_eq_ci(s, own[i])) return 1;
    return n >= 15 && http_str_eq_ci(http_str_make(name, 15), "access-control-");
}

int policy_header_check(const char *line, char *why, size_t len)
{
    const char *colon = strchr(line, ':');
    if (!colon) return fail(why, len, "--header '%s' has no ':'; write it as 'Name: value'", line);
    size_t nl = (size_t)(colon - line);
    if (!http_field_token(line, nl))
        return fail(why, len,
                    "--header '%s': '%.*s' is not a field name (letters, digits and "
                    "!#$%%&'*+-.^_`|~ only); write it as 'Name: value'",
                    line, (int)nl, line);
    struct http_str v = http_str_trim(http_str_cstr(colon + 1));
    if (!http_field_value(v.p, v.n))
        return fail(why, len,
                    "--header '%.*s': the value holds a control character (CR, LF, NUL...); "
                    "give printable text",
                    (int)nl, line);
    if (owned(line, nl)) {
        struct http_str s = http_str_make(line, nl);
        int cors = nl >= 15 && http_str_eq_ci(http_str_make(line, 15), "access-control-");
        const char *fix = http_str_eq_ci(s, "cache-control") ? "use --cache-control instead"
                          : cors                             ? "use --cors instead"
                                 : "drop it (berth writes this field itself)";
        return fail(why, len, "--header '%.*s' names a field berth writes itself; %s", (int)nl,
                    line, fix);
    }
    return 0;
}

static size_t token_len(const char *s)
{
    size_t i = 0;
    while (s[i] && http_field_token(s + i, 1))
        i++;
    return i;
}

int policy_cache_control_check(const char *v, char *why, size_t len)
{
    const char *p = v;
    int n = 0;
    /* it is baked into fixed-size prebuilt heads (http/fcache, http/encvar) */
    if (strlen(v) > POLICY_CACHE_CONTROL_MAX)
        return fail(why, len,
                    "--cache-control is %zu bytes long, over %d; give a shorter list of "
                    "cache directives",
                    strlen(v), POLICY_CACHE_CONTROL_MAX);
    if (!http_field_value(v, strlen(v))) goto bad;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t tl = token_len(p);
        if (!tl) goto bad;
        p += tl;
        n++;
        if (*p == '=') {
            p++;
            if (*p == '"') {
                for (p++; *p && *p != '"'; p++)
                    if (*p == '\\' && !*++p) goto bad;
                if (*p++ != '"') goto bad;
            } else {
                if (!(tl = token_len(p))) goto bad;
                p += tl;
            }
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) return 0;
        if (*p++ != ',') goto bad;
    }
bad:
    (void)n;
    return fail(why, len,
                "--cache-control '%s' is not a list of cache directives; give e.g. "
                "'no-cache' or 'public, max-age=3600'",
                v);
}

int policy_origin_check(const char *o, char *why, size_t len)
{
    if (!strcmp(o, "*") || !strcmp(o, "null")) return 0;
    const char *sep = strstr(o, "://");
    size_t sl = sep ? (size_t)(sep - o) : 0;
    int ok = sl > 0 && ((o[0] >= 'a' && o[0] <= 'z') || (o[0] >= 'A' && o[0] <= 'Z'));
    for (size_t i = 0; ok && i < sl; i++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", o[i]) &&
             o[i];
    const char *h = sep ? sep + 3 : o;
    ok = ok && *h && *h != ':';
    for (const char *q = h; ok && *q; q++)
        ok = (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f && !strchr("/?#@\\\"", *q);
    if (ok) return 0;
    return fail(why, len,
                "--cors '%s' is not an origin; give '*' or scheme://host[:port] with no path, "
                "e.g. https://app.example.com",
                o);
}

int policy_opts_check(const struct berth_opts *o, char *why, size_t len)
{
    if (o->cache_control && policy_cache_control_check(o->cache_control, why, len) < 0) return -1;
    if (o->cors && policy_origin_check(o->cors, why, len) < 0) return -1;
    if (o->nextra_headers < 0 || (o->nextra_headers && !o->extra_headers))
        return fail(why, len, "extra_headers is NULL or nextra_headers negative; pass both");
    for (int i = 0; i < o->nextra_headers; i++)
        if (!o->extra_headers[i] || policy_header_check(o->extra_headers[i], why, len) < 0)
            return o->extra_headers[i] ? -1 : fail(why, len, "extra_headers[%d] is NULL", i);
    return 0;
}

/* ---- building ---- */

static int add(struct buf *b, const char *s, size_t n)
{
    return buf_append(b, s, n);
}

static int adds(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int policy_init(struct policy *p, const struct berth_opts *o)
{
    memset(p, 0, sizeof *p);
    char why[512];
    if (policy_opts_check(o, why, sizeof why) < 0) return BERTH_EUSAGE;
    p->spa = o->spa;
    p->no_tar = o->no_tar;
    struct buf f;
    buf_init(&f, 0);
    int rc = 0;
    for (int i = 0; i < o->nextra_headers && rc == 0; i++) {
        const char *l = o->extra_headers[i], *colon = strchr(l, ':');
        struct http_str v = http_str_trim(http_str_cstr(colon + 1));
        rc = add(&f, l, (size_t)(colon - l));
        if (rc == 0) rc = adds(&f, ": ");
        if (rc == 0) rc = add(&f, v.p, v.n);
        if (rc == 0) rc = adds(&f, "\r\n");
    }
    if (rc == 0 && o->cors) {
        rc = adds(&f, "Access-Control-Allow-Origin: ");
        if (rc == 0) rc = adds(&f, o->cors);
        /* one origin named: a shared cache must not give its answer to others */
        if (rc == 0) rc = adds(&f, strcmp(o->cors, "*") ? "\r\nVary: Origin\r\n" : "\r\n");
        /* what a script may read beyond the CORS-safelisted fields */
        if (rc == 0)
            rc = adds(&f, "Access-Control-Expose-Headers: ETag, Content-Range, Accept-Ranges, "
                          "Content-Disposition, Content-Encoding, Repr-Digest, Content-Digest\r\n");
    }
    if (rc == 0 && o->cache_control && !(p->cache_control = strdup(o->cache_control))) rc = -ENOMEM;
    if (rc == 0 && o->cors && !(p->cors = strdup(o->cors))) rc = -ENOMEM;
    if (rc < 0) {
        buf_free(&f);
        policy_free(p);
        return rc;
    }
    if (buf_len(&f)) {
        p->fields = f.data; /* its bytes start at 0: nothing was consumed */
        p->fields_len = f.len;
    } else {
        buf_free(&f);
    }
    return 0;
}

void policy_free(struct policy *p)
{
    free(p->cache_control);
    free(p->cors);
    free(p->fields);
    memset(p, 0, sizeof *p);
}

static struct http_str field(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (http_str_eq_ci(r->headers[i].name, name)) return r->headers[i].value;
    return http_str_make(NULL, 0);
}

/* 1 when v is #token: tokens separated by commas with optional
 * whitespace around them (empty members allowed), at least one token */
static int token_list(struct http_str v)
{
    int any = 0;
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t start = i;
        while (i < v.n && http_field_token(v.p + i, 1))
            i++;
        any |= i > start;
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (i < v.n && v.p[i++] != ',') return 0;
    }
    return any;
}

int policy_preflight(const struct policy *p, const struct http_request *r, const char *allow,
                     int keep_alive, struct buf *out)
{
    if (!p || !p->cors || r->method != HTTP_OPTIONS || !allow) return 0;
    struct http_str origin = field(r, "origin"), method = field(r, "access-control-request-method");
    if (!origin.p || !method.p) return 0;
    struct http_str hdrs = field(r, "access-control-request-headers");
    const char *methods = strncmp(allow, "Allow: ", 7) ? allow : allow + 7;
    struct buf x;
    buf_init(&x, 0);
    int rc = adds(&x, allow);
    if (rc == 0) rc = adds(&x, "Access-Control-Allow-Methods: ");
    if (rc == 0) rc = adds(&x, methods);
    /* echoed only as a token list of sane size: anything else gets no
     * Allow-Headers, and the browser refuses the request itself */
    if (rc == 0 && hdrs.p && hdrs.n <= 1024 && token_list(hdrs)) {
        struct http_str t = http_str_trim(hdrs);
        rc = adds(&x, "Access-Control-Allow-Headers: ");
        if (rc == 0) rc = add(&x, t.p, t.n);
        if (rc == 0) rc = adds(&x, "\r\n");
    }
    /* two hours: Chromium's cap (Firefox allows a day) */
    if (rc == 0) rc = adds(&x, "Access-Control-Max-Age: 7200\r\n");
    if (rc == 0) rc = buf_append(&x, "", 1);
    if (rc == 0) rc = resp_simple(out, 204, keep_alive, r->version, 0, buf_head(&x), NULL, NULL, 0);
    buf_free(&x);
    return rc < 0 ? rc : 204;
}
