/* libFuzzer harness for the Want-Repr-Digest / Want-Content-Digest parser:
 * the input is the field value (an exact-size copy, so ASan catches any
 * read past it).  Checks: the result is 0 or -1; a failure leaves every
 * preference 0; a preference is never above 10; and the parse is a pure
 * function of the bytes (the same input twice gives the same answer, and
 * appending a member to a valid dictionary keeps it valid); a value with a
 * NUL byte anywhere is malformed. */
#include "http/digest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);
    if (!v) return 0;
    if (size) memcpy(v, data, size);
    struct http_digest_want w, again;
    int rc = http_digest_want_parse(v, size, &w);
    if (rc != 0 && rc != -1) abort();
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if (w.pref[a] > 10 || (rc < 0 && w.pref[a])) abort();
    if (http_digest_want_parse(v, size, &again) != rc || memcmp(&w, &again, sizeof w)) abort();
    /* no part of a Structured Field may hold a NUL byte */
    if (rc == 0 && size && memchr(v, 0, size)) abort();
    int best = http_digest_choose(&w, (1u << HTTP_DIGEST_ALGS) - 1);
    if (best >= HTTP_DIGEST_ALGS || (best >= 0 && !w.pref[best])) abort();
    /* a valid, non-empty dictionary followed by ", x=1" is still valid,
     * with the same preferences (x is no algorithm) */
    int nonempty = 0;
    for (size_t i = 0; i < size; i++)
        nonempty |= v[i] != ' ';
    if (rc == 0 && nonempty) {
        char *more = malloc(size + 5);
        if (!more) {
            free(v);
            return 0;
        }
        memcpy(more, v, size);
        memcpy(more + size, ", x=1", 5);
        /* trailing SP is dropped by the top level, not inside: skip those */
        if (v[size - 1] != ' ' &&
            (http_digest_want_parse(more, size + 5, &again) != 0 || memcmp(&w, &again, sizeof w)))
            abort();
        free(more);
    }
    free(v);
    return 0;
}
