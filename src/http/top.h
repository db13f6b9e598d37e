/* top — what `berth top` needs of a running server: a blocking GET of its
 * --status JSON over plain HTTP, and the screen made of it (a pure
 * formatter: the table of connections, sorted, cut to the terminal). */
#ifndef BERTH_HTTP_TOP_H
#define BERTH_HTTP_TOP_H

#include "buf.h"

#include <stddef.h>

enum top_sort { TOP_BY_BYTES, TOP_BY_AGE };

/* GETs url ("http://host:port/path"; host may be [v6]) within timeout_ms
 * into body (appended).  0, or a negative code with the cause and fix in
 * err ("connection refused; is berth serve --status running there?"). */
int top_fetch(const char *url, int timeout_ms, struct buf *body, char *err, size_t errlen);

/* Appends the screen for the status JSON text (NUL-terminated) to out: a
 * summary line, the column heads, then at most rows connections (0: all)
 * sorted by sort, descending.  0, or a negative code with err filled when
 * the text is not a berth status document. */
int top_render(struct buf *out, const char *json, enum top_sort sort, int rows, char *err,
               size_t errlen);

#endif
