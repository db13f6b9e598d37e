/* libFuzzer harness for the chunked decoder: the first byte picks a split
 * point and a size limit, the rest is the body.  Decoding in one piece, in
 * two pieces, and in place must agree on the status, where the body ends,
 * the decoded bytes and their count; the decoded size never exceeds the
 * input nor the limit. */
#include "http/chunked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(const char *in, size_t n, size_t split, uint64_t max, char *out, size_t *olen,
               size_t *end)
{
    struct http_chunked d;
    http_chunked_init(&d, max);
    size_t used = 0, pos = 0;
    *olen = 0;
    int rc = 0;
    size_t parts[2] = {split < n ? split : n, n - (split < n ? split : n)};
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = http_chunked_feed(&d, in + pos, parts[i], &used, out, olen);
        if (rc == 0 && used != parts[i]) abort();
        pos += used;
    }
    if (rc < 0 && !d.error) abort();
    if (*olen != (out ? d.total : 0)) abort();
    *end = pos;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0] % 64;
    uint64_t max = data[0] & 0x80 ? (uint64_t)(data[0] & 0x3f) * 7 : 0;
    data++;
    size--;
    char *in = malloc(size ? size : 1), *out = malloc(size ? size : 1);
    char *inplace = malloc(size ? size : 1);
    if (!in || !out || !inplace) abort();
    memcpy(in, data, size);
    memcpy(inplace, data, size);

    size_t l1, e1, l2, e2, l3, e3;
    int r1 = run(in, size, size, max, out, &l1, &e1);
    char *first = malloc(l1 ? l1 : 1);
    memcpy(first, out, l1);
    int r2 = run(in, size, split, max, out, &l2, &e2);
    int r3 = run(inplace, size, split, max, inplace, &l3, &e3);
    if (r1 != r2 || r1 != r3) abort();
    if (r1 == 1 && (e1 != e2 || e1 != e3)) abort();
    if (r1 >= 0 && (l1 != l2 || l1 != l3 || memcmp(first, out, l1) || memcmp(first, inplace, l1)))
        abort();
    if (l1 > size || (max && l1 > max)) abort();
    free(first);
    free(in);
    free(out);
    free(inplace);
    return 0;
}
