/* ws_pmd — permessage-deflate (RFC 7692) over zlib (see ws_pmd.h). */
#include "http/ws_pmd.h"

#include "http/str.h"
#include "http/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct ws_pmd {
    z_stream d, i; /* our compressor, our decompressor */
    int d_reset;   /* reset the compressor after each message (no context takeover) */
    int i_reset;
};

/* one parameter or extension name: a token, then optionally = token or
 * quoted-string; the scan stops at ';' or ',' outside quotes */
struct param {
    struct http_str name, value; /* value.p NULL: none */
};

static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ws(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* Reads name[=value] at *p; -1 when malformed. */
static int scan_param(const char **p, const char *end, struct param *pm)
{
    skip_ws(p, end);
    const char *s = *p;
    while (*p < end && is_tchar((unsigned char)**p))
        (*p)++;
    if (*p == s) return -1;
    pm->name = http_str_make(s, (size_t)(*p - s));
    pm->value = http_str_make(NULL, 0);
    skip_ws(p, end);
    if (*p < end && **p == '=') {
        (*p)++;
        skip_ws(p, end);
        if (*p < end && **p == '"') {
            s = ++*p;
            while (*p < end && **p != '"') {
                if (**p == '\\') return -1; /* no value of ours needs escapes */
                (*p)++;
            }
            if (*p == end) return -1;
            pm->value = http_str_make(s, (size_t)(*p - s));
            (*p)++;
        } else {
            s = *p;
            while (*p < end && is_tchar((unsigned char)**p))
                (*p)++;
            if (*p == s) return -1;
            pm->value = http_str_make(s, (size_t)(*p - s));
        }
        skip_ws(p, end);
    }
    return 0;
}

/* "8".."15" without leading zeros, else -1 */
static int window_bits(struct http_str v)
{
    if (!v.p || v.n < 1 || v.n > 2 || v.p[0] == '0') return -1;
    int b = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        b = b * 10 + (v.p[i] - '0');
    }
    return b >= 8 && b <= 15 ? b : -1;
}

/* Reads one offer's parameters up to its ',' (or the end), leaving *p past
 * it.  1: this server can honour it (c filled), 0: not, -1: malformed. */
static int scan_offer(const char **p, const char *end, struct ws_pmd_conf *c)
{
    struct param pm;
    if (scan_param(p, end, &pm) < 0 || pm.value.p) return -1;
    int ours = http_str_eq_ci(pm.name, "permessage-deflate"), ok = 1;
    int seen_snc = 0, seen_cnc = 0, seen_sb = 0, seen_cb = 0;
    memset(c, 0, sizeof *c);
    c->server_bits = WS_PMD_BITS;
    while (*p < end && **p == ';') {
        (*p)++;
        if (scan_param(p, end, &pm) < 0) return -1;
        if (!ours) continue;
        if (http_str_eq_ci(pm.name, "server_no_context_takeover")) {
            if (seen_snc++ || pm.value.p) ok = 0;
            c->server_no_ctx = 1;
        } else if (http_str_eq_ci(pm.name, "client_no_context_takeover")) {
            if (seen_cnc++ || pm.value.p) ok = 0;
            c->client_no_ctx = 1;
        } else if (http_str_eq_ci(pm.name, "server_max_window_bits")) {
            int b = window_bits(pm.value);
            /* zlib's raw deflate refuses a 256-byte window (it would use
             * 512): an offer that insists on 8 is declined, as others do */
            if (seen_sb++ || b < 9) ok = 0;
            if (b >= 9 && b < WS_PMD_BITS) c->server_bits = (uint8_t)b;
        } else if (http_str_eq_ci(pm.name, "client_max_window_bits")) {
            /* the client may be told its window: ours, or its own if
             * smaller (8 is fine here: inflating needs no less than the
             * window the data was made with) */
            int b = pm.value.p ? window_bits(pm.value) : 15;
            if (seen_cb++ || b < 0) ok = 0;
            c->client_bits = (uint8_t)(b >= 8 && b < WS_PMD_BITS ? b : WS_PMD_BITS);
        } else {
            ok = 0;
        }
    }
    if (*p < end && **p != ',') return -1;
    if (*p < end) (*p)++;
    return ours && ok;
}

int ws_pmd_negotiate(const char *v, size_t n, struct ws_pmd_conf *c, char *resp, size_t rn)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        skip_ws(&p, end);
        if (p < end && *p == ',') { /* empty list elements are allowed */
            p++;
            continue;
        }
        if (p == end) break;
        int rc = scan_offer(&p, end, c);
        if (rc < 0) return 0; /* a malformed header: no extension at all */
        if (rc == 0) continue;
        /* the server's window is always said (RFC 7692 §7.1.2.1 allows it
         * unasked); the client's only when its offer allows it */
        char bits[80];
        int b = snprintf(bits, sizeof bits, "; server_max_window_bits=%d", c->server_bits);
        if (c->client_bits && b > 0)
            snprintf(bits + b, sizeof bits - (size_t)b, "; client_max_window_bits=%d",
                     c->client_bits);
        int k = snprintf(resp, rn, "permessage-deflate%s%s%s",
                         c->server_no_ctx ? "; server_no_context_takeover" : "",
                         c->client_no_ctx ? "; client_no_context_takeover" : "", bits);
        return k > 0 && (size_t)k < rn;
    }
    return 0;
}

struct ws_pmd *ws_pmd_new(const struct ws_pmd_conf *c, int server)
{
    struct ws_pmd *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    /* ours: the side's window as agreed; theirs: 15 unless it was agreed
     * (8 inflates as 9, a larger window reads a smaller one's data) */
    int dbits = server ? c->server_bits : (c->client_bits ? c->client_bits : 15);
    int ibits = server ? (c->client_bits ? c->client_bits : 15) : c->server_bits;
    /* zlib's raw deflate refuses 8; with 9 (512 bytes) it never reaches
     * back past 250 bytes (the window less its lookahead), so 9 keeps to a
     * 256-byte window where 15 would not */
    if (dbits == 8) dbits = 9;
    if (dbits < 9 || dbits > 15) dbits = 15;
    if (ibits < 9 || ibits > 15) ibits = 15;
    if (deflateInit2(&z->d, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -dbits, WS_PMD_MEMLEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    if (inflateInit2(&z->i, -ibits) != Z_OK) {
        deflateEnd(&z->d);
        free(z);
        return NULL;
    }
    z->d_reset = server ? c->server_no_ctx : c->client_no_ctx;
    z->i_reset = server ? c->client_no_ctx : c->server_no_ctx;
    return z;
}

void ws_pmd_free(struct ws_pmd *z)
{
    if (!z) return;
    deflateEnd(&z->d);
    inflateEnd(&z->i);
    free(z);
}

#define STEP (1u << 30) /* zlib counts in uInt */

int ws_pmd_deflate(struct ws_pmd *z, const void *p, size_t n, struct buf *out)
{
    size_t start = buf_len(out);
    const unsigned char *in = p;
    int rc;
    do {
        size_t k = n < STEP ? n : STEP;
        z->d.next_in = (unsigned char *)(uintptr_t)in;
        z->d.avail_in = (uInt)k;
        in += k;
        n -= k;
        do {
            size_t room = z->d.avail_in / 2 + 64;
            if (room > 1u << 20) room = 1u << 20;
            if ((rc = buf_reserve(out, room)) < 0) goto fail;
            z->d.next_out = (unsigned char *)buf_tail(out);
            z->d.avail_out = (uInt)buf_room(out);
            size_t before = z->d.avail_out;
            int zr = deflate(&z->d, n ? Z_NO_FLUSH : Z_SYNC_FLUSH);
            if (zr != Z_OK && zr != Z_BUF_ERROR) {
                rc = -ENOMEM;
                goto fail;
            }
            buf_commit(out, before - z->d.avail_out);
        } while (z->d.avail_in || z->d.avail_out == 0);
    } while (n);
    /* a sync flush ends with an empty stored block, 00 00 ff ff: RFC 7692
     * §7.2.1 drops it (the receiver puts it back) */
    if (buf_len(out) - start >= 4) out->len -= 4;
    /* nothing came out (an empty message right after a flush): an empty
     * stored block's first byte stands for it, as RFC 7692 §7.2.3.6 shows */
    if (buf_len(out) == start && (rc = buf_append(out, "", 1)) < 0) goto fail;
    if (z->d_reset) deflateReset(&z->d);
    return 0;
fail:
    buf_truncate(out, start);
    deflateReset(&z->d);
    return rc;
}

static int inflate_some(struct ws_pmd *z, const unsigned char *in, size_t n, struct buf *out,
                        size_t max)
{
    z->i.next_in = (unsigned char *)(uintptr_t)in;
    z->i.avail_in = (uInt)n;
    while (z->i.avail_in) {
        /* one byte past the limit is room enough to see it passed */
        size_t room = max + 1 - buf_len(out);
        if (room > 65536) room = 65536;
        int rc = buf_reserve(out, room);
        if (rc < 0) return rc == -ENOMEM ? rc : -WS_TOO_BIG;
        z->i.next_out = (unsigned char *)buf_tail(out);
        z->i.avail_out = (uInt)room;
        int zr = inflate(&z->i, Z_SYNC_FLUSH);
        buf_commit(out, room - z->i.avail_out);
        if (buf_len(out) > max) return -WS_TOO_BIG;
        if (zr == Z_STREAM_END) {
            /* a final block (BFINAL): what follows starts a new stream */
            inflateReset(&z->i);
        } else if (zr == Z_BUF_ERROR) {
            if (z->i.avail_out) break; /* no progress possible: all taken */
        } else if (zr != Z_OK) {
            return zr == Z_MEM_ERROR ? -ENOMEM : -WS_BAD_DATA;
        }
    }
    /* input all taken: output may still be pending in the window */
    for (;;) {
        size_t room = max + 1 - buf_len(out);
        if (room > 65536) room = 65536;
        if (buf_reserve(out, room) < 0) return -WS_TOO_BIG;
        z->i.next_out = (unsigned char *)buf_tail(out);
        z->i.avail_out = (uInt)room;
        int zr = inflate(&z->i, Z_SYNC_FLUSH);
        buf_commit(out, room - z->i.avail_out);
        if (buf_len(out) > max) return -WS_TOO_BIG;
        if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT) return -WS_BAD_DATA;
        if (zr == Z_MEM_ERROR) return -ENOMEM;
        if (zr == Z_STREAM_END) inflateReset(&z->i);
        if (z->i.avail_out) break; /* not filled: nothing more is pending */
    }
    return 0;
}

int ws_pmd_inflate(struct ws_pmd *z, const void *p, size_t n, int last, struct buf *out, size_t max)
{
    static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
    const unsigned char *in = p;
    while (n) {
        size_t k = n < STEP ? n : STEP;
        int rc = inflate_some(z, in, k, out, max);
        if (rc < 0) {
            inflateReset(&z->i);
            return rc;
        }
        in += k;
        n -= k;
    }
    if (!last) return 0;
    int rc = inflate_some(z, tail, sizeof tail, out, max);
    if (rc < 0 || z->i_reset) inflateReset(&z->i);
    return rc;
}
