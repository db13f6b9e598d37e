/* chunked — the HTTP/1.1 chunked transfer coding of request bodies
 * (RFC 9112 §7.1), as a pure incremental decoder.
 *
 * No I/O and no allocation: feed it bytes as they arrive, it remembers where
 * it is (inside a size line, a chunk, the trailer section) in a small
 * caller-owned struct.  Data bytes are optionally copied to a destination
 * that may be the input itself (decoding in place: output never overtakes
 * input).  Strict where lenient parsing lets two readers disagree about
 * where a body ends (request smuggling): line ends are CRLF only, sizes are
 * bare hex digits without a sign or "0x" and at most 16 of them, no
 * whitespace before the size, chunk data must be followed by exactly CRLF.
 * Extensions and trailer fields are checked for stray control bytes and
 * skipped; their size is bounded. */
#ifndef BERTH_HTTP_CHUNKED_H
#define BERTH_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_CHUNK_LINE_MAX    4096 /* a size line with its extensions */
#define HTTP_CHUNK_TRAILER_MAX 8192 /* the whole trailer section */

struct http_chunked {
    uint8_t state;
    uint8_t digits;    /* hex digits of the size read so far */
    size_t line;       /* bytes of the current size or trailer line */
    size_t trailer;    /* bytes of the trailer section so far */
    uint64_t left;     /* data bytes still to come in the current chunk */
    uint64_t total;    /* data bytes decoded so far */
    uint64_t max;      /* data bytes allowed in all; 0 = no limit */
    const char *error; /* on failure: a short lower-case reason */
};

/* Starts a new body; max bounds the decoded size (0: unbounded). */
void http_chunked_init(struct http_chunked *d, uint64_t max);

/* Feeds p[0..n).  *used receives the input bytes consumed.  When dst is not
 * NULL the data bytes are copied to dst + *dlen and *dlen grows by their
 * number (dst may equal p: in-place decoding is safe).
 *   1     the body is complete, last chunk and trailer section included;
 *         *used stops right after it (what follows is the next request)
 *   0     need more: all n bytes were consumed
 *   -400  malformed framing (d->error says what)
 *   -413  the decoded body would exceed max */
int http_chunked_feed(struct http_chunked *d, const char *p, size_t n, size_t *used, char *dst,
                      size_t *dlen);

#endif
