/* query — application/x-www-form-urlencoded query strings (the part of a
 * target after '?'): finding a parameter by name and decoding it.  Pure: no
 * allocation, no I/O. */
#ifndef BERTH_HTTP_QUERY_H
#define BERTH_HTTP_QUERY_H

#include <stddef.h>

/* Decodes p[0..n): "%XX" (hex, either case) to its byte, '+' to a space.
 * Writes at most len - 1 bytes and a NUL into out.  The decoded length, or
 * BERTH_EFIELD for a '%' not followed by two hex digits, BERTH_EUSAGE when
 * it does not fit. */
int http_query_decode(const char *p, size_t n, char *out, size_t len);

/* The first parameter of q (NUL-terminated, without '?') whose decoded
 * name is name, decoded into out as http_query_decode does.  Parameters are
 * separated by '&' (and ';' is not a separator); one without '=' has the
 * value "".  The decoded length, -ENOENT when absent, or the decoder's
 * error. */
int http_query_param(const char *q, const char *name, char *out, size_t len);

#endif
