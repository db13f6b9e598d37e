/* Query-string helpers (http/query) and route patterns (http/route): the
 * pure parsers under berth_req_query_param and berth_req_param. */
#include "err.h"
#include "http/query.h"
#include "http/route.h"
#include "http/server.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static int param(const char *q, const char *name, char *out, size_t len)
{
    return http_query_param(q, name, out, len);
}

Test(query, decodes_percent_and_plus)
{
    char v[64];
    cr_assert_eq(param("a=1&name=a%20b+c%2b%2F", "name", v, sizeof v), 7);
    cr_assert_str_eq(v, "a b c+/");
}

Test(query, first_of_repeated_and_names_are_decoded)
{
    char v[16];
    cr_assert_eq(param("x=1&x=2", "x", v, sizeof v), 1);
    cr_assert_str_eq(v, "1");
    cr_assert_eq(param("my%20key=v", "my key", v, sizeof v), 1);
    cr_assert_str_eq(v, "v");
}

Test(query, absent_empty_and_bare)
{
    char v[16];
    cr_assert_eq(param("a=1", "b", v, sizeof v), -ENOENT);
    cr_assert_eq(param("", "b", v, sizeof v), -ENOENT);
    cr_assert_eq(param("flag&b=2", "flag", v, sizeof v), 0);
    cr_assert_str_eq(v, "");
    cr_assert_eq(param("a=", "a", v, sizeof v), 0);
    cr_assert_eq(param("ab=1", "a", v, sizeof v), -ENOENT); /* whole names only */
}

Test(query, malformed_escapes_and_small_buffers)
{
    char v[4];
    cr_assert_eq(param("a=%zz", "a", v, sizeof v), BERTH_EFIELD);
    cr_assert_eq(param("a=%4", "a", v, sizeof v), BERTH_EFIELD);
    cr_assert_eq(param("a=%", "a", v, sizeof v), BERTH_EFIELD);
    cr_assert_eq(param("a=abcd", "a", v, sizeof v), BERTH_EUSAGE); /* 4 + NUL */
    cr_assert_eq(param("a=abc", "a", v, sizeof v), 3);
    cr_assert_eq(http_query_decode("%00", 3, v, sizeof v), 1); /* a NUL byte is data */
}

static const struct route *match(const char *pat, int prefix, const char *path,
                                 struct route_match *m)
{
    static struct route rt;
    rt = (struct route){.path = (char *)pat, .len = strlen(pat), .prefix = prefix, .pattern = 1};
    char allow[ROUTE_ALLOW_MAX];
    memset(m, 0, sizeof *m);
    return route_find(&rt, 1, "GET", 3, path, 0, allow, sizeof allow, m);
}

Test(route, pattern_check)
{
    cr_assert_eq(route_pattern_check("/users/:id/posts/*rest", 22), 2);
    cr_assert_eq(route_pattern_check("/a/:", 4), -1);                         /* no name */
    cr_assert_eq(route_pattern_check("/*rest/a", 8), -1);                     /* star not last */
    cr_assert_eq(route_pattern_check("/:a.b", 5), -1);                        /* name characters */
    cr_assert_eq(route_pattern_check("/:a/:b/:c/:d/:e/:f/:g/:h/:i", 27), -1); /* over 8 */
    cr_assert_eq(route_pattern_check("/x", 2), 0);
}

Test(route, params_and_rest)
{
    struct route_match m;
    cr_assert_not_null(match("/users/:id/posts/*rest", 0, "/users/42/posts/a/b", &m));
    cr_assert_eq(m.params[0].n, 2);
    cr_assert_eq(memcmp(m.params[0].p, "42", 2), 0);
    cr_assert_str_eq(m.rest, "a/b");
    cr_assert_not_null(match("/users/:id/posts/*rest", 0, "/users/42/posts/", &m));
    cr_assert_str_eq(m.rest, "");
    cr_assert_null(match("/users/:id/posts/*rest", 0, "/users//posts/a", &m));
    cr_assert_null(match("/users/:id", 0, "/users/1/more", &m));
    cr_assert_not_null(match("/users/:id", 1, "/users/1/more/x", &m));
    cr_assert_str_eq(m.rest, "more/x");
    cr_assert_null(match("/users/:id/x", 1, "/users/1/xy", &m)); /* whole segments */
    cr_assert_null(match("/a/:x", 0, "/b/1", &m));
}
