/* route — which registered route answers a request: exact paths and
 * whole-segment prefixes, HEAD answered by GET routes, and the Allow list
 * of a path whose routes do not take the request's method (405, OPTIONS).
 * struct route itself is in http/server.h. */
#ifndef BERTH_HTTP_ROUTE_H
#define BERTH_HTTP_ROUTE_H

#include <stddef.h>

struct route;

/* room for "Allow: ...\r\n"; methods past it are left out of the list */
#define ROUTE_ALLOW_MAX 512

/* 1 when the route's path covers path: equal, or for a prefix route, path
 * is the prefix or continues it with '/' ("/files" covers "/files",
 * "/files/", "/files/a", not "/filesystem").  A prefix ending in '/' covers
 * what starts with it and the same path without that slash ("/files/"
 * covers "/files"); "/" covers every path. */
int route_path_match(const struct route *rt, const char *path);

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
                               const char *path, int static_get, char *allow, size_t size);

#endif
