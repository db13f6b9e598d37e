#include "http/path.h"

#include <limits.h>
#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Called at the end of each segment out[seg..*o): drops a "." segment, and
 * for ".." also the segment before it.  out[seg - 1] is always the '/' that
 * opened the segment, and out[0] is the root '/', so popping stops there. */
static void end_segment(char *out, size_t seg, size_t *o)
{
    size_t n = *o - seg;
    if (n == 1 && out[seg] == '.') {
        *o = seg;
    } else if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        *o = seg; /* just after the '/' that opened "..": out[*o - 1] == '/' */
        if (*o > 1) {
            /* step over that '/' and back to just after the previous one */
            (*o)--;
            while (out[*o - 1] != '/')
                (*o)--;
        }
    }
}

/* The decoder and the normaliser run in one pass: decoded bytes are written
 * to out, and each time a (decoded) '/' or the end arrives the segment just
 * written is examined.  out therefore never holds more than the decoded
 * prefix, and decoding only ever shrinks, so out needs at most len + 1. */
int http_path_normalize(const char *target, size_t len, char *out, size_t outlen)
{
    if (len == 0 || target[0] != '/') return -400;
    if (outlen > INT_MAX) outlen = INT_MAX; /* the length must fit the return value */
    if (outlen < 2) return -414;
    out[0] = '/';
    size_t o = 1, seg = 1;
    for (size_t i = 1; i <= len; i++) {
        int c;
        if (i == len || target[i] == '?' || target[i] == '#') {
            c = -1; /* end of the path */
        } else if (target[i] == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)target[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)target[i + 2]) : -1;
            if (lo < 0) return -400;
            c = hi << 4 | lo;
            i += 2;
        } else {
            c = (unsigned char)target[i];
        }
        if (c == 0) return -400;
        if (c == '/' || c < 0) {
            end_segment(out, seg, &o);
            if (c < 0) break;
            if (out[o - 1] != '/') {
                if (o + 1 >= outlen) return -414;
                out[o++] = '/';
            }
            seg = o;
        } else {
            if (o + 1 >= outlen) return -414;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return (int)o;
}

int http_path_hidden(const char *path)
{
    const char *s = path;
    while (*s == '/')
        s++;
    /* RFC 8615 well-known URIs are meant to be served */
    static const char wk[] = ".well-known";
    if (strncmp(s, wk, sizeof wk - 1) == 0 && (s[sizeof wk - 1] == '/' || !s[sizeof wk - 1]))
        s += sizeof wk - 1;
    for (; *s; s++)
        if (*s == '.' && (s == path || s[-1] == '/')) return 1;
    return 0;
}
