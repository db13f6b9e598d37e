#include "http/route.h"

#include "http/server.h"

#include <string.h>

int route_path_match(const struct route *rt, const char *path)
{
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
                               const char *path, int static_get, char *allow, size_t size)
{
    const struct route *get = NULL;
    int covered = 0;
    allow[0] = '\0';
    int head = method_is("HEAD", m, ml);
    for (int i = 0; i < n; i++) {
        if (!route_path_match(&rs[i], path)) continue;
        covered = 1;
        if (!rs[i].method || method_is(rs[i].method, m, ml)) return &rs[i];
        if (head && !get && !strcmp(rs[i].method, "GET")) get = &rs[i];
    }
    if (get) return get;
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
