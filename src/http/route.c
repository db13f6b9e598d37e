#include "http/route.h"

#include "http/server.h"

#include <string.h>

int route_pattern_check(const char *pat, size_t n)
{
    if (!n || pat[0] != '/') return -1;
    int params = 0;
    for (size_t i = 1; i <= n;) {
        size_t j = i;
        while (j < n && pat[j] != '/')
            j++;
        if (j > i && (pat[i] == ':' || pat[i] == '*')) {
            if (pat[i] == ':' && j == i + 1) return -1; /* ":" names nothing */
            if (pat[i] == '*' && j != n) return -1;     /* "*rest" ends the pattern */
            for (size_t k = i + 1; k < j; k++) {
                char c = pat[k];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                    return -1;
            }
            if (++params > ROUTE_PARAMS) return -1;
        }
        i = j + 1;
    }
    return params;
}

/* A pattern's segments against path's: literal segments equal, ":x" any one
 * non-empty segment, a last "*x" the rest.  With prefix, path may go on
 * past the pattern by whole segments. */
static int pattern_match(const char *pat, int prefix, const char *path, struct route_match *m)
{
    int np = 0;
    const char *p = pat, *q = path;
    for (;;) {
        /* both at a '/' (or at the end) */
        if (!*p) break;
        if (*q != '/') return 0;
        p++;
        q++;
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
        if (pl && *p == '*') {
            if (m) {
                m->params[np] = http_str_make(q, strlen(q));
                m->rest = q;
            }
            return 1;
        }
        if (pl && *p == ':') {
            if (!ql) return 0;
            if (m) m->params[np] = http_str_make(q, ql);
            np++;
        } else if (pl != ql || memcmp(p, q, pl)) {
            return 0;
        }
        p += pl;
        q += ql;
    }
    if (!*q) {
        if (m) m->rest = q;
        return 1;
    }
    if (!prefix || (*q != '/' && p[-1] != '/')) return 0;
    if (m) m->rest = q + (*q == '/');
    return 1;
}

static int path_match(const struct route *rt, const char *path, struct route_match *m)
{
    if (rt->pattern) return pattern_match(rt->path, rt->prefix, path, m);
    if (!route_path_match(rt, path)) return 0;
    if (m) {
        size_t n = rt->len, pl = strlen(path);
        const char *rest = pl > n ? path + n : path + pl;
        m->rest = rest + (*rest == '/');
    }
    return 1;
}

int route_path_match(const struct route *rt, const char *path)
{
    if (rt->pattern) return pattern_match(rt->path, rt->prefix, path, NULL);
    if (!rt->prefix) return !strcmp(path, rt->path);
    size_t n = rt->len;
    if (strncmp(path, rt->path, n) == 0)
        return rt->path[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
    /* "/files/" also covers "/files" itself (n > 1: "/" never lacks its slash) */
    return rt->path[n - 1] == '/' && n > 1 && strlen(path) == n - 1 &&
           strncmp(path, rt->path, n - 1) == 0;
}

static int method_is(const char *rm, const char *m, size_t ml)
{
    return strlen(rm) == ml && memcmp(rm, m, ml) == 0;
}

/* 1 when the comma-separated list p[0..n) has the item m */
static int listed(const char *p, size_t n, const char *m, size_t ml)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        if (j - i == ml && memcmp(p + i, m, ml) == 0) return 1;
        i = j + 2; /* past ", " */
    }
    return 0;
}

struct list {
    char *p;
    size_t len, size;
};

static void add(struct list *l, const char *m)
{
    size_t ml = strlen(m), head = sizeof "Allow: " - 1;
    if (listed(l->p + head, l->len - head, m, ml)) return;
    size_t sep = l->len > head ? 2 : 0;
    if (l->len + sep + ml + sizeof "\r\n" > l->size) return; /* documented: left out */
    if (sep) memcpy(l->p + l->len, ", ", 2);
    memcpy(l->p + l->len + sep, m, ml);
    l->len += sep + ml;
}

const struct route *route_find(const struct route *rs, int n, const char *m, size_t ml,
                               const char *path, int static_get, char *allow, size_t size,
                               struct route_match *mt)
{
    const struct route *get = NULL;
    int covered = 0;
    allow[0] = '\0';
    int head = method_is("HEAD", m, ml);
    for (int i = 0; i < n; i++) {
        if (!route_path_match(&rs[i], path)) continue;
        covered = 1;
        if (!rs[i].method || method_is(rs[i].method, m, ml)) {
            if (mt) path_match(&rs[i], path, mt);
            return &rs[i];
        }
        if (head && !get && !strcmp(rs[i].method, "GET")) get = &rs[i];
    }
    if (get) {
        if (mt) path_match(get, path, mt);
        return get;
    }
    if (!covered || (static_get && (head || method_is("GET", m, ml)))) return NULL;
    struct list l = {allow, sizeof "Allow: " - 1, size};
    memcpy(allow, "Allow: ", l.len);
    for (int i = 0; i < n; i++) {
        if (!route_path_match(&rs[i], path)) continue;
        add(&l, rs[i].method);
        if (!strcmp(rs[i].method, "GET")) add(&l, "HEAD");
    }
    if (static_get) {
        add(&l, "GET");
        add(&l, "HEAD");
    }
    add(&l, "OPTIONS");
    memcpy(allow + l.len, "\r\n", 3);
    return NULL;
}
