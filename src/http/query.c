/* query — parameters of a query string (contract in query.h). */
#include "http/query.h"

#include "err.h"

#include <errno.h>
#include <string.h>

static int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_query_decode(const char *p, size_t n, char *out, size_t len)
{
    size_t o = 0;
    if (!len) return BERTH_EUSAGE;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi;
            if (i + 2 >= n || (hi = hex(p[i + 1])) < 0 || hex(p[i + 2]) < 0) return BERTH_EFIELD;
            c = (char)(hi << 4 | hex(p[i + 2]));
            i += 2;
        }
        if (o + 1 >= len) return BERTH_EUSAGE;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

/* 1 when the encoded name p[0..n) decodes to name */
static int name_is(const char *p, size_t n, const char *name)
{
    char buf[256];
    size_t nl = strlen(name);
    if (nl >= sizeof buf || n > 3 * nl) return 0; /* cannot decode to name */
    int k = http_query_decode(p, n, buf, sizeof buf);
    return k >= 0 && (size_t)k == nl && memcmp(buf, name, nl) == 0;
}

int http_query_param(const char *q, const char *name, char *out, size_t len)
{
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        size_t pl = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', pl);
        size_t nl = eq ? (size_t)(eq - p) : pl;
        if (name_is(p, nl, name)) {
            const char *v = eq ? eq + 1 : p + pl;
            return http_query_decode(v, (size_t)(p + pl - v), out, len);
        }
        p += pl + (amp != NULL);
    }
    return -ENOENT;
}
