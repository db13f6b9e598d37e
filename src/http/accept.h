/* accept — proactive negotiation on the Accept field (RFC 9110 §12.5.1):
 * how much a request wants one media type.  A pure parser over the
 * request's field views: no allocation, nothing kept. */
#ifndef BERTH_HTTP_ACCEPT_H
#define BERTH_HTTP_ACCEPT_H

#include "http/parse.h"

#include <stddef.h>

/* The quality the Accept value v[0..n) gives the media type `type` ("text/html",
 * lower case), in thousandths (0..1000), or -1 when no media range in it
 * matches.  The most specific matching range decides: "text/html" over
 * "text/STAR" over "STAR/STAR" (STAR being the asterisk); of equally specific ones the highest q
 * counts. exact != 0: only ranges naming type itself count (no wildcards).  Names are compared
 * without regard to case; parameters other than q are ignored.  Members that do not parse (a bad q,
 * a stray quote) are skipped, never the whole field. */
int http_accept_q(const char *v, size_t n, const char *type, int exact);

/* The same over every Accept field of r (several fields are one list,
 * RFC 9110 §5.3).  No Accept field: any type (1000; -1 with exact). */
int http_accept_req(const struct http_request *r, const char *type, int exact);

#endif
