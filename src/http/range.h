/* range — the Range request header (RFC 9110 §14.1.2, §14.2). */
#ifndef BERTH_HTTP_RANGE_H
#define BERTH_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* an inclusive byte range, first <= last < size */
struct http_range {
    uint64_t first, last;
};

/* Parses the Range value v[0..n) ("bytes=0-99", "bytes=500-", "bytes=-500",
 * comma lists with optional whitespace and empty members; the unit is
 * case-insensitive) against a representation of `size` bytes.  Writes the
 * satisfiable ranges, in request order, clamped to last <= size - 1, to out.
 * Returns:
 *   > 0   how many ranges were written (at most max)
 *   0     ignore the header and send the whole representation: another unit,
 *         a syntax error (first > last, a number too big for 64 bits), or
 *         more than max ranges (RFC 9110 §14.2 lets a server ignore them)
 *   -416  valid, but no range is satisfiable (first >= size, "-0", size 0)
 * out is meaningful only when the result is > 0.  Overlapping or unordered
 * ranges are returned as sent; limiting max bounds the work they can cause. */
int http_range_parse(const char *v, size_t n, uint64_t size, struct http_range *out, int max);

#endif
