#include "http/chunked.h"

#include <string.h>

enum {
    S_SIZE,    /* hex digits of a chunk size */
    S_EXT_WS,  /* whitespace after the size, before ';' or CR */
    S_EXT,     /* chunk extensions, up to CR */
    S_SIZE_LF, /* the LF ending a size line */
    S_DATA,    /* chunk data */
    S_DATA_CR, /* the CRLF after chunk data */
    S_DATA_LF,
    S_TRAILER,    /* the start of a trailer line, or the final CRLF */
    S_TRAILER_LN, /* inside a trailer field line */
    S_TRAILER_LF,
    S_END_LF, /* the LF of the final CRLF */
    S_DONE,
};

void http_chunked_init(struct http_chunked *d, uint64_t max)
{
    memset(d, 0, sizeof *d);
    d->max = max;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* a byte allowed inside an extension or a field line: HTAB, SP, VCHAR,
 * obs-text; never another control byte (a bare LF above all) */
static int text_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int fail(struct http_chunked *d, const char *why)
{
    d->error = why;
    return -400;
}

int http_chunked_feed(struct http_chunked *d, const char *p, size_t n, size_t *used, char *dst,
                      size_t *dlen)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        switch (d->state) {
        case S_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (d->digits == 16) return fail(d, "chunk size too long");
                d->left = d->left << 4 | (uint64_t)v;
                d->digits++;
                break;
            }
            if (!d->digits) return fail(d, "missing chunk size");
            if (c == '\r')
                d->state = S_SIZE_LF;
            else if (c == ';')
                d->state = S_EXT;
            else if (c == ' ' || c == '\t')
                d->state = S_EXT_WS;
            else
                return fail(d, "malformed chunk size");
            break;
        }
        case S_EXT_WS:
            if (c == '\r')
                d->state = S_SIZE_LF;
            else if (c == ';')
                d->state = S_EXT;
            else if (c != ' ' && c != '\t')
                return fail(d, "malformed chunk size");
            break;
        case S_EXT:
            if (c == '\r')
                d->state = S_SIZE_LF;
            else if (!text_byte(c))
                return fail(d, "control byte in a chunk extension");
            break;
        case S_SIZE_LF:
            if (c != '\n') return fail(d, "chunk size line not ended by CRLF");
            d->line = 0;
            d->digits = 0;
            if (d->left == 0) {
                d->state = S_TRAILER;
                break;
            }
            if (d->max && (d->left > d->max || d->total > d->max - d->left)) {
                d->error = "body too large";
                return -413;
            }
            d->state = S_DATA;
            break;
        case S_DATA: {
            size_t k = n - i < d->left ? n - i : (size_t)d->left;
            if (dst) {
                memmove(dst + *dlen, p + i, k);
                *dlen += k;
            }
            d->left -= k;
            d->total += k;
            i += k;
            if (!d->left) d->state = S_DATA_CR;
            continue;
        }
        case S_DATA_CR:
            if (c != '\r') return fail(d, "chunk data longer than its size");
            d->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (c != '\n') return fail(d, "chunk data not followed by CRLF");
            d->state = S_SIZE;
            break;
        case S_TRAILER:
            if (c == '\r') {
                d->state = S_END_LF;
                break;
            }
            /* a field line; no leading whitespace (obsolete line folding) */
            if (c == ' ' || c == '\t' || c == ':' || !text_byte(c))
                return fail(d, "malformed trailer field");
            d->digits = 0; /* here: a colon seen */
            d->state = S_TRAILER_LN;
            break;
        case S_TRAILER_LN:
            if (c == '\r') {
                if (!d->digits) return fail(d, "trailer field without a colon");
                d->state = S_TRAILER_LF;
            } else if (c == ':') {
                d->digits = 1;
            } else if (!text_byte(c)) {
                return fail(d, "control byte in a trailer field");
            }
            break;
        case S_TRAILER_LF:
            if (c != '\n') return fail(d, "trailer field not ended by CRLF");
            d->state = S_TRAILER;
            break;
        case S_END_LF:
            if (c != '\n') return fail(d, "chunked body not ended by CRLF");
            d->state = S_DONE;
            *used = i + 1;
            return 1;
        default:
            *used = i;
            return 1;
        }
        i++;
        /* bounds, counted per byte of framing (never of data) */
        if (d->state <= S_SIZE_LF && ++d->line > HTTP_CHUNK_LINE_MAX)
            return fail(d, "chunk size line too long");
        if (d->state >= S_TRAILER && ++d->trailer > HTTP_CHUNK_TRAILER_MAX)
            return fail(d, "trailer section too large");
    }
    *used = n;
    return 0;
}
