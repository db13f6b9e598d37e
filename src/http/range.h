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
 *         a syntax error (first > last), or more than max ranges (RFC 9110
 *         §14.2 lets a server ignore them); a number past 64 bits is taken
 *         as UINT64_MAX, past any end (§14.1.1), not as an error
 *   -416  valid, but no range is satisfiable (first >= size, "-0", size 0)
 * out is meaningful only when the result is > 0.  Overlapping or unordered
 * ranges are returned as sent; limiting max bounds the work they can cause
 * (http_range_coalesce() makes them harmless). */
int http_range_parse(const char *v, size_t n, uint64_t size, struct http_range *out, int max);

/* Members a Range header may list (before coalescing) and ranges a response
 * may carry (after it); past either the header is ignored (200 whole). */
#define HTTP_RANGE_SPECS 64
#define HTTP_RANGE_MAX   16
/* the largest gap (bytes nobody asked for) sent to join two ranges into one.
 * 0: only overlapping and adjacent ranges are joined, so every part is what
 * was asked for (nginx sends the parts as asked too); RFC 9110 §14.2 would
 * allow up to the size of a part header (~80 bytes), at the cost of clients
 * that compare the parts with their request. */
#define HTTP_RANGE_GAP 0

/* RFC 9110 §14.2 lets a server coalesce and refuse: sorts r[0..n) by first
 * byte and merges ranges that overlap, touch, or lie at most HTTP_RANGE_GAP
 * bytes apart, so each byte is sent at most once and the answer never exceeds the
 * representation plus the part headers (`bytes=0-,0-,0-` is one range).
 * Returns the number of ranges left (>= 1 when n >= 1), sorted, disjoint,
 * each within the input's hull; or 0 (ignore the header: send 200) when more
 * than HTTP_RANGE_MAX remain, which only many small scattered ranges cause
 * (a client asking for them is better served by the whole file).
 * Pure: no allocation, at most n*n/2 comparisons (n <= HTTP_RANGE_SPECS). */
int http_range_coalesce(struct http_range *r, int n);

#endif
