/* libFuzzer harness for route patterns: the input is split at its first
 * NUL into a pattern and a path.  A pattern that route_pattern_check
 * accepts is matched against the path (as a prefix route and an exact
 * one): a match's parameters and remainder lie inside the path, an exact
 * match implies a prefix match, and nothing reads past either string. */
#include "http/route.h"
#include "http/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *path, const char *p, size_t n)
{
    size_t len = strlen(path);
    if (p && (p < path || p + n > path + len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 2);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = in[size + 1] = '\0';
    char *pat = in, *path = in + strlen(in) + (strlen(in) < size ? 1 : 0);
    int np = route_pattern_check(pat, strlen(pat));
    if (np > ROUTE_PARAMS_MAX) abort();
    if (np >= 0 && *path == '/') {
        int hit[2];
        for (int prefix = 0; prefix < 2; prefix++) {
            struct route rt = {
                .method = NULL, .path = pat, .len = strlen(pat), .prefix = prefix, .pattern = 1};
            char allow[ROUTE_ALLOW_MAX];
            struct route_match m;
            memset(&m, 0, sizeof m);
            const struct route *r = route_find(&rt, 1, "GET", 3, path, 0, allow, sizeof allow, &m);
            hit[prefix] = r != NULL;
            if (!r) continue;
            for (int i = 0; i < ROUTE_PARAMS_MAX; i++)
                inside(path, m.params[i].p, m.params[i].n);
            if (!m.rest) abort();
            inside(path, m.rest, strlen(m.rest));
        }
        if (hit[0] && !hit[1]) abort();
    }
    free(in);
    return 0;
}
