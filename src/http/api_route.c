/* api_route — registering routes (berth_route, berth_route_opts with path
 * patterns) and what a handler reads of its route's match: path
 * parameters, the remainder, query parameters. */
#include "http/server.h"

#include "err.h"
#include "http/field.h"
#include "http/query.h"
#include "http/route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(ROUTE_PARAMS == ROUTE_PARAMS_MAX, "server.h and route.h disagree");

int berth_route_opts(berth_server *s, const char *method, const char *path, int prefix,
                     berth_handler *h, void *arg, const struct berth_route_opts *o)
{
    if (!s || !path || *path != '/' || !h) return BERTH_EUSAGE;
    /* the method is written into Allow lines: a token or nothing */
    if (method && !http_field_token(method, strlen(method))) return BERTH_EFIELD;
    size_t len = strlen(path);
    /* only berth_route_opts reads patterns: berth_route's paths stay literal */
    int pattern = 0;
    if (o && (strstr(path, "/:") || strstr(path, "/*"))) {
        if (route_pattern_check(path, len) < 0) return BERTH_EUSAGE;
        pattern = 1;
    }
    struct route *rs = realloc(s->routes, (size_t)(s->nroutes + 1) * sizeof *rs);
    if (!rs) return -ENOMEM;
    s->routes = rs;
    struct route *rt = &rs[s->nroutes];
    memset(rt, 0, sizeof *rt);
    rt->method = method ? strdup(method) : NULL;
    rt->path = strdup(path);
    if (!rt->path || (method && !rt->method)) {
        free(rt->method);
        free(rt->path);
        return -ENOMEM;
    }
    rt->len = len;
    rt->prefix = prefix;
    rt->h = h;
    rt->arg = arg;
    rt->pattern = pattern;
    if (o) rt->ro = *o;
    s->nroutes++;
    return 0;
}

int berth_route(berth_server *s, const char *method, const char *path, int prefix, berth_handler *h,
                void *arg)
{
    return berth_route_opts(s, method, path, prefix, h, arg, NULL);
}

const char *berth_req_param(const berth_req *r, const char *name, size_t *len)
{
    if (!r->r || !r->rt || !r->rt->pattern || !name) return NULL;
    size_t nl = strlen(name);
    int i = 0;
    for (const char *p = r->rt->path; (p = strchr(p, '/'));) {
        p++;
        if (*p != ':' && *p != '*') continue;
        const char *e = strchr(p, '/');
        size_t sl = e ? (size_t)(e - p - 1) : strlen(p) - 1;
        if (sl == nl && !memcmp(p + 1, name, nl)) {
            if (len) *len = r->params[i].n;
            return r->params[i].p ? r->params[i].p : "";
        }
        i++;
    }
    return NULL;
}

const char *berth_req_remainder(const berth_req *r)
{
    return r->r && r->remainder ? r->remainder : "";
}

int berth_req_query_param(const berth_req *r, const char *name, char *buf, size_t len)
{
    if (!name || !buf) return BERTH_EUSAGE;
    return http_query_param(berth_req_query(r), name, buf, len);
}
