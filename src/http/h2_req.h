/* h2_req — one HTTP/2 stream's request head, turned into the struct
 * http_request the HTTP/1.1 parser fills (http/parse.h), so handlers and
 * static files see one shape whatever the protocol.
 *
 * nghttp2 has already checked what RFC 9113 §8 asks of the fields (pseudo
 * fields present, once and first; lower-case names; no connection-specific
 * field; TE only "trailers"; Content-Length against the DATA).  What is left
 * here is what berth's HTTP/1.1 parser also refuses (400): CONNECT, a target
 * that is not origin-form or "*", a repeated Host / If-* / Range field, a Host
 * that names another authority than :authority, no authority at all.  The
 * field bytes are copied into one per-stream buffer (the views point into it
 * and stay valid until h2_req_free). */
#ifndef BERTH_HTTP_H2_REQ_H
#define BERTH_HTTP_H2_REQ_H

#include "http/parse.h"

#include <stddef.h>
#include <stdint.h>

struct h2_field {
    uint32_t name, nlen, value, vlen; /* offsets into h2_req.buf */
};

struct h2_req {
    char *buf;
    size_t len, cap, max_bytes; /* max_bytes: the header list size (RFC 9113 §6.5.2) */
    struct h2_field *f;
    size_t nf, max_fields; /* regular fields; pseudo fields come on top (at most 5) */
    size_t list;           /* the list size received so far: name + value + 32 each */
    int status;            /* 0, or 431 once over a limit (later fields are not kept) */
};

void h2_req_init(struct h2_req *r, size_t max_bytes, size_t max_fields);
void h2_req_free(struct h2_req *r);
/* Empties r for the next stream, keeping its allocations. */
void h2_req_reset(struct h2_req *r);

/* Keeps one field as received.  0, or -ENOMEM.  Over a limit the field is
 * counted, not kept, and r->status becomes 431. */
int h2_req_field(struct h2_req *r, const uint8_t *name, size_t nlen, const uint8_t *value,
                 size_t vlen);

/* The first regular field called name (lower case), or the absent view:
 * for decisions taken before the body (Content-Length, Expect). */
struct http_str h2_req_get(const struct h2_req *r, const char *name);

/* Fills *req (version 20, keep_alive 1, chunked 0, content_length from the
 * field or -1) with views into r; hdrs holds r->max_fields entries.  0, or
 * -400 / -417 (an Expect other than 100-continue) / -431 with req->error
 * saying why.  Several Cookie fields are joined with "; " into one (RFC 9113
 * §8.2.3).  If-Match / If-None-Match repeated: the first field's value (the
 * others are in hdrs); Range, If-Range and the dates repeated: empty. */
int h2_req_build(struct h2_req *r, struct http_request *req, struct http_header *hdrs);

#endif
