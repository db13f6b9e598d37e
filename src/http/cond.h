/* cond — HTTP dates, validators and conditional requests (RFC 9110 §5.6.7,
 * §8.8, §13).  Pure functions over borrowed strings; no allocation. */
#ifndef BERTH_HTTP_COND_H
#define BERTH_HTTP_COND_H

#include "http/str.h"

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* length of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_DATE_LEN 29

/* Formats t as an IMF-fixdate into out (NUL-terminated); returns 29.  No
 * locale, no static state: safe from any thread.  Years past 9999 (or before
 * year 0) are clamped, so the output is always 29 bytes. */
size_t http_date_fmt(time_t t, char out[30]);

/* Parses an HTTP-date in any of the three forms a recipient must accept:
 * IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year
 * more than 50 years ahead means the previous century) and asctime
 * ("Sun Nov  6 08:49:37 1994").  Surrounding whitespace is allowed.  0 and
 * *out set, or -1 when s[0..n) is not a valid date. */
int http_date_parse(const char *s, size_t n, time_t *out);

/* Writes a strong entity tag "<ino>-<size>-<mtime ns>" (lower-case hex,
 * with the quotes) made from st into out, NUL-terminated.  Returns its length,
 * or 0 when n is too small (HTTP_ETAG_MAX always suffices). */
#define HTTP_ETAG_MAX 56
size_t http_etag_make(const struct stat *st, char *out, size_t n);

struct http_header;

/* The request's conditional header fields, as received (absent: p == NULL).
 * lines[0..nlines), when set, are all the request's field lines: If-Match and
 * If-None-Match are then read from every line of that name (a list may be
 * split over several, RFC 9110 §5.3), if_match / if_none_match saying only
 * whether the field is present. */
struct http_cond {
    struct http_str if_match, if_none_match, if_modified_since, if_unmodified_since, if_range;
    const struct http_header *lines;
    size_t nlines;
};

/* Evaluates the preconditions in the order of RFC 9110 §13.2.2 against the
 * selected representation, whose entity tag is etag[0..etag_len) (quoted, as
 * sent in ETag; NULL: none) and whose modification time is mtime:
 *   If-Match (strong comparison; "*" matches any) false      -> 412
 *   else If-Unmodified-Since (invalid date ignored) false    -> 412
 *   If-None-Match (weak comparison; "*") matches             -> 304 for GET/HEAD, else 412
 *   else for GET/HEAD, If-Modified-Since not modified        -> 304
 *     (an invalid date, or one later than now, is ignored)
 * Returns 200 when the request may proceed.  If-Range is not looked at. */
int http_preconditions(const struct http_cond *c, int get_or_head, const char *etag,
                       size_t etag_len, time_t mtime);

/* 1 when a Range request should be honoured given If-Range (§13.1.5): the
 * field is absent, or is a strong entity tag equal to etag, or an HTTP-date
 * exactly equal to mtime.  0 otherwise (send the whole representation). */
int http_if_range_ok(struct http_str if_range, const char *etag, size_t etag_len, time_t mtime);

#endif
