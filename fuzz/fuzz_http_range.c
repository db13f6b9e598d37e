/* libFuzzer harness for the Range parser and coalescing: the first 8 input
 * bytes pick the representation size (small sizes made likely), the rest is
 * the header value.  Every range returned lies within the size with first <=
 * last, and the result is one of the documented values; after coalescing the
 * ranges are sorted, disjoint (more than HTTP_RANGE_GAP bytes apart, never touching), at
 * most HTTP_RANGE_MAX, cover every byte the request asked for, and add up to
 * no more than the size. */
#include "http/range.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t rsize = 0;
    for (int i = 0; i < 8; i++)
        rsize = rsize << 8 | data[i];
    if (!(data[0] & 0x80)) rsize %= 4096; /* mostly small files, sometimes huge */
    data += 8;
    size -= 8;

    char *v = malloc(size ? size : 1); /* exact size: ASan catches over-reads */
    if (!v) return 0;
    if (size) memcpy(v, data, size);
    enum { MAX = 16 };
    struct http_range out[MAX + 1];
    memset(out, 0, sizeof out);
    out[MAX].first = 0x5a5a; /* canary: max must bound the writes */
    int n = http_range_parse(v, size, rsize, out, MAX);
    if (n > MAX || (n < 0 && n != -416)) abort();
    if (n == -416 && rsize > 0 && size >= 6 && memchr(v, '-', size) == NULL) abort();
    for (int i = 0; i < n; i++)
        if (out[i].first > out[i].last || out[i].last >= rsize) abort();
    if (out[MAX].first != 0x5a5a) abort();
    /* a smaller max never yields more ranges, and max 1 yields 0, 1 or -416 */
    int m = http_range_parse(v, size, rsize, out, 1);
    if (m > 1 || (m < 0 && m != -416)) abort();
    if (n == 0 && m != 0) abort(); /* what is ignored with room stays ignored */

    struct http_range all[HTTP_RANGE_SPECS + 1], req[HTTP_RANGE_SPECS];
    all[HTTP_RANGE_SPECS].first = 0x5a5a;
    int k = http_range_parse(v, size, rsize, all, HTTP_RANGE_SPECS);
    if (k > HTTP_RANGE_SPECS || all[HTTP_RANGE_SPECS].first != 0x5a5a) abort();
    if (k > 0) {
        memcpy(req, all, (size_t)k * sizeof *req);
        int c = http_range_coalesce(all, k);
        if (c < 0 || c > HTTP_RANGE_MAX) abort();
        uint64_t total = 0;
        for (int i = 0; i < c; i++) {
            if (all[i].first > all[i].last || all[i].last >= rsize) abort();
            if (i && (all[i].first <= all[i - 1].last ||
                      all[i].first - all[i - 1].last - 1 <= HTTP_RANGE_GAP))
                abort();
            total += all[i].last - all[i].first + 1;
        }
        if (total > rsize) abort();
        /* every requested byte range is inside one coalesced range */
        for (int j = 0; c && j < k; j++) {
            int in = 0;
            for (int i = 0; i < c && !in; i++)
                in = req[j].first >= all[i].first && req[j].last <= all[i].last;
            if (!in) abort();
        }
    }
    free(v);
    return 0;
}
