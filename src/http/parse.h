/* parse — the HTTP/1.1 request head parser (RFC 9110/9112), strict enough
 * that no two readers can disagree about where a request ends.
 *
 * A pure function over the connection's receive buffer: no I/O, no
 * allocation, and every string in the result points into the buffer.  It
 * says complete / need more / which status to answer.  Between calls it keeps
 * its scan progress in a small caller-owned struct, so when more bytes arrive
 * (same buffer start, or the same bytes moved elsewhere) nothing already
 * searched is searched again (a head that arrives whole, the bytes ending in
 * LF, is parsed in a single pass).  Pipelined requests: consume the returned
 * length (and the body) and call again on the rest. */
#ifndef BERTH_HTTP_PARSE_H
#define BERTH_HTTP_PARSE_H

#include "http/str.h"

#include <stddef.h>
#include <stdint.h>

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_PATCH,
    HTTP_OTHER
};

struct http_header {
    struct http_str name, value; /* value without surrounding OWS */
};

/* A field of 0 means its default.  max_line bounds the request line with its
 * line end (-414); max_header bounds the field section after it, blank line
 * included (-431), so a whole head is at most max_line + max_header bytes
 * (plus up to max_line bytes of ignored empty lines before it). */
struct http_limits {
    size_t max_line;    /* default 8192 */
    size_t max_header;  /* default 8192 */
    size_t max_headers; /* field lines; also the capacity of the headers array; default 100 */
};
// clang-format off
#define HTTP_LIMITS_DEFAULT {8192, 8192, 100}
// clang-format on

/* Scan progress, byte offsets from the buffer start.  Zero it (or
 * http_parser_init) for a new request; the parser zeroes it itself whenever
 * it returns non-zero, so pipelined calls need no reset. */
struct http_parser {
    size_t scanned;  /* bytes searched for the end of the head */
    size_t start;    /* where the request line starts (after ignored empty lines) */
    size_t line_end; /* just past the request line's LF; 0 while not yet seen */
};

struct http_request {
    enum http_method method;
    struct http_str method_str;
    struct http_str target; /* as sent */
    /* origin-form: the target (path and query); absolute-form (GET http://h/p?q):
     * from the path on, "/" when there is none; asterisk-form (OPTIONS only): "*" */
    struct http_str path;
    int version;                 /* 10 or 11 (0 when an error came before the version) */
    struct http_header *headers; /* the caller's array, in arrival order */
    size_t nheaders;
    struct http_str host;   /* Host value, or the authority of an absolute-form target */
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding present; its final coding is chunked */
    int keep_alive;         /* 1.1: unless "Connection: close"; 1.0: only with keep-alive */
    int expect_continue;    /* "Expect: 100-continue" on HTTP/1.1 */
    struct http_str if_match, if_none_match, if_modified_since, if_unmodified_since, if_range,
        range;         /* raw values; p == NULL when absent; If-Match, If-None-Match repeated:
                        * the first line's (the list's other lines are in headers); the
                        * others repeated: empty (n == 0, invalid, so ignored) */
    const char *error; /* on failure: a short lower-case reason ("repeated host") */
    /* h2's extended CONNECT (RFC 8441): the :protocol ("websocket", the one
     * taken; the request is then a GET to its :path); p == NULL otherwise */
    struct http_str protocol;
};

void http_parser_init(struct http_parser *st);

/* Parses the request head at buf[0..len).  lim NULL means the defaults;
 * headers holds lim->max_headers entries (NULL: fields are checked, not kept).
 *   > 0  complete: the head's length through its blank line, ignored leading
 *        empty lines included; *req is filled in;
 *   0    need more bytes; *req and headers hold nothing of use;
 *   < 0  -STATUS to answer before closing the connection, req->error says why
 *        (req->version too when the request line got that far; the rest reset):
 *        -400 malformed or ambiguous framing, -414 request line over max_line,
 *        -431 field section over max_header or more than max_headers fields,
 *        -417 an Expect other than 100-continue in an HTTP/1.1 request,
 *        -505 a well-formed version other than HTTP/1.0 and HTTP/1.1,
 *        (-400 also for a final transfer coding other than chunked),
 *        -501 an unknown transfer coding before a final chunked
 *        ("gzip, chunked" is accepted: the body is framed by chunked).
 *        A first byte that cannot start a method fails at once (-400).
 * Chosen strictness beyond RFC 9112 (security first): CONNECT and the
 * authority-form are refused (400, we do not proxy); userinfo in an
 * absolute-form target, an absolute-form target with a query but no path,
 * and repeated If-* / Range fields are 400. */
int http_parse_request(struct http_parser *st, const char *buf, size_t len,
                       const struct http_limits *lim, struct http_request *req,
                       struct http_header *headers);

/* 1 when p[0..n) is an RFC 3986 host [ ":" port ] (reg-name or
 * IP-literal, '%' only before two hex digits; empty is valid): what a Host
 * field, an absolute-form authority and HTTP/2's :authority must be. */
int http_host_valid(const char *p, size_t n);

/* "GET" ... "PATCH"; "OTHER" for HTTP_OTHER (use method_str then). */
const char *http_method_name(enum http_method m);

#endif
