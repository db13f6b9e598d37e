/* str — a borrowed byte string: a pointer into someone else's buffer and a
 * length.  The HTTP parser fills these with views into the receive buffer,
 * so nothing is copied and nothing is NUL-terminated. */
#ifndef BERTH_HTTP_STR_H
#define BERTH_HTTP_STR_H

#include <stddef.h>
#include <string.h>

struct http_str {
    const char *p; /* NULL: absent (an empty but present value has p != NULL, n == 0) */
    size_t n;
};

static inline struct http_str http_str_make(const char *p, size_t n)
{
    struct http_str s = {p, n};
    return s;
}

/* a view of a NUL-terminated string, or the absent string for NULL */
static inline struct http_str http_str_cstr(const char *s)
{
    return http_str_make(s, s ? strlen(s) : 0);
}

static inline int http_str_present(struct http_str s)
{
    return s.p != NULL;
}

/* ASCII lower-casing only: header names and tokens are ASCII, and the C
 * library's tolower() depends on the locale */
static inline int http_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 1 when s equals the NUL-terminated lit ignoring ASCII case; an absent s never does */
static inline int http_str_eq_ci(struct http_str s, const char *lit)
{
    if (!s.p) return 0;
    size_t i = 0;
    for (; i < s.n; i++)
        if (!lit[i] || http_lower((unsigned char)s.p[i]) != http_lower((unsigned char)lit[i]))
            return 0;
    return lit[i] == '\0';
}

/* s without leading and trailing optional whitespace (SP / HTAB) */
static inline struct http_str http_str_trim(struct http_str s)
{
    if (!s.p) return s;
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

#endif
