/* route — which registered route answers a request: exact paths and
 * whole-segment prefixes, HEAD answered by GET routes, and the Allow list
 * of a path whose routes do not take the request's method (405, OPTIONS).
 * struct route itself is in http/server.h. */
#ifndef BERTH_HTTP_ROUTE_H
#define BERTH_HTTP_ROUTE_H

#include <stddef.h>

#include "http/str.h"

struct route;

#define ROUTE_PARAMS_MAX 8 /* = ROUTE_PARAMS of server.h */

/* What a route's path matched: its parameters in pattern order (views into
 * the request path) and what follows a prefix or "*rest" (a suffix of the
 * path, without its leading '/'). */
struct route_match {
    struct http_str params[ROUTE_PARAMS_MAX];
    const char *rest;
};

/* Checks a route pattern p[0..n): '/'-separated segments, literal, ":name"
 * or a last "*name" (name of [A-Za-z0-9_-], at most ROUTE_PARAMS_MAX in
 * all).  The number of parameters, or -1 when malformed. */
int route_pattern_check(const char *p, size_t n);

/* room for "Allow: ...\r\n"; methods past it are left out of the list */
#define ROUTE_ALLOW_MAX 512

/* 1 when the route's path covers path: equal, or for a prefix route, path
 * is the prefix or continues it with '/' ("/files" covers "/files",
 * "/files/", "/files/a", not "/filesystem").  A prefix ending in '/' covers
 * what starts with it and the same path without that slash ("/files/"
 * covers "/files"); "/" covers every path. */
int route_path_match(const struct route *rt, const char *path);
/* A pattern route (rt->pattern): its segments match path's as described in
 * berth.h (berth_route_opts), then prefix as above. */

/* The route that answers method m (ml bytes) on path: the first, in
 * registration order, whose path matches and whose method is m or any;
 * for HEAD, failing that, the first matching GET route.
 * NULL when there is none, and then allow is either "" (no route covers the
 * path: static files or 404 answer, as for a server without routes) or the
 * whole "Allow: M1, M2, OPTIONS\r\n" line for a 405 or an OPTIONS answer:
 * the methods of the routes covering the path, GET followed by HEAD, and
 * OPTIONS.  static_get: static files answer GET and HEAD on every path, so
 * those two fall through to them (allow "") and are listed in Allow. */
const struct route *route_find(const struct route *rs, int n, const char *m, size_t ml,
                               const char *path, int static_get, char *allow, size_t size,
                               struct route_match *mt);
/* mt (may be NULL) gets what the answering route matched. */

#endif
