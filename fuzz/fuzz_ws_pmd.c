/* libFuzzer target for permessage-deflate's compressor and decompressor
 * (src/http/ws_pmd.c) under every agreement the negotiation can reach:
 * windows 8..15 for either side, context takeover on or off.
 *
 * Input: bytes 0-2 the agreement (no-context flags, the server's and the
 * client's window) and the mode, byte 3 a limit; the rest is data.
 *   mode 0, round trips: the rest, cut into messages at every 0xff byte, is
 *     compressed by one side and decompressed by the other, in both
 *     directions at once and each message in two pieces cut at a point the
 *     data picks; every message must come back exactly, and a fresh
 *     decompressor given one byte less of room than the message must answer
 *     -1009 (too big) rather than pass its limit, and every message also
 *     inflates with a decompressor of exactly the window the agreement
 *     gives its sender (a peer may use no more);
 *   mode 1, hostile data: the rest is fed to a decompressor as one message,
 *     in pieces, with a limit of 0..1023 bytes: the answer is 0, -1007 or
 *     -1009, never more than limit + 1 bytes come out, and it agrees with
 *     zlib's inflate read directly (same bytes when both succeed; a data
 *     error where zlib finds one before the limit and before a final
 *     block). */
#include "buf.h"
#include "http/ws.h"
#include "http/ws_pmd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A raw inflater of exactly the window the agreement gives the sender
 * (8..15), fed one message and the 00 00 ff ff tail: 0 when it gives back
 * exactly msg[0..len).  It keeps its context unless reset is set. */
static int strict_inflate(z_stream *s, const struct buf *z, const uint8_t *msg, size_t len,
                          int reset)
{
    uint8_t *in = malloc(buf_len(z) + 4), *out = malloc(len + 1);
    memcpy(in, buf_head(z), buf_len(z));
    memcpy(in + buf_len(z), "\0\0\xff\xff", 4);
    s->next_in = in;
    s->avail_in = (uInt)(buf_len(z) + 4);
    s->next_out = out;
    s->avail_out = (uInt)(len + 1);
    int zr = inflate(s, Z_SYNC_FLUSH);
    int bad = (zr != Z_OK && zr != Z_BUF_ERROR) || s->avail_in || len + 1 - s->avail_out != len ||
              memcmp(out, msg, len);
    if (reset) inflateReset(s);
    free(in);
    free(out);
    return bad ? -1 : 0;
}

static void roundtrip(const struct ws_pmd_conf *c, const uint8_t *p, size_t n)
{
    /* [0] client -> server, [1] server -> client */
    struct ws_pmd *tx[2] = {ws_pmd_new(c, 0), ws_pmd_new(c, 1)};
    struct ws_pmd *rx[2] = {ws_pmd_new(c, 1), ws_pmd_new(c, 0)};
    struct buf z, out;
    buf_init(&z, 0);
    buf_init(&out, 0);
    /* what each sender may use: the client its agreed window (15 when not
     * said), the server its own; a peer's inflater may be exactly that */
    z_stream strict[2];
    memset(strict, 0, sizeof strict);
    if (inflateInit2(&strict[0], -(c->client_bits ? c->client_bits : 15)) != Z_OK ||
        inflateInit2(&strict[1], -c->server_bits) != Z_OK)
        abort();
    int first = 1;
    size_t at = 0;
    while (tx[0] && tx[1] && rx[0] && rx[1] && at <= n) {
        const uint8_t *e = memchr(p + at, 0xff, n - at);
        size_t len = e ? (size_t)(e - (p + at)) : n - at;
        const uint8_t *msg = p + at;
        for (int dir = 0; dir < 2; dir++) {
            buf_clear(&z);
            buf_clear(&out);
            if (ws_pmd_deflate(tx[dir], msg, len, &z) < 0) abort();
            if (buf_len(&z) == 0) abort(); /* an empty message is one byte */
            size_t cut = len ? msg[0] % (buf_len(&z) + 1) : 0;
            if (ws_pmd_inflate(rx[dir], buf_head(&z), cut, 0, &out, len) < 0) abort();
            if (ws_pmd_inflate(rx[dir], buf_head(&z) + cut, buf_len(&z) - cut, 1, &out, len) < 0)
                abort();
            if (buf_len(&out) != len || memcmp(buf_head(&out), msg, len)) abort();
            if (strict_inflate(&strict[dir], &z, msg, len,
                               dir ? c->server_no_ctx : c->client_no_ctx) < 0) {
                fprintf(stderr, "fuzz_ws_pmd: side %d's message needs more than its window\n", dir);
                abort();
            }
            if (first && len) {
                /* the first message needs no context: a fresh decompressor
                 * with one byte less room must refuse it */
                struct ws_pmd *fresh = ws_pmd_new(c, !dir);
                if (!fresh) abort();
                buf_clear(&out);
                if (ws_pmd_inflate(fresh, buf_head(&z), buf_len(&z), 1, &out, len - 1) !=
                    -WS_TOO_BIG)
                    abort();
                if (buf_len(&out) > len) abort();
                ws_pmd_free(fresh);
            }
        }
        first = 0;
        at += len + 1;
    }
    for (int i = 0; i < 2; i++)
        ws_pmd_free(tx[i]), ws_pmd_free(rx[i]), inflateEnd(&strict[i]);
    buf_free(&z);
    buf_free(&out);
}

/* zlib directly: the message and the 00 00 ff ff tail, up to max + 1
 * bytes out.  0: read without error and without a final block; 1: a final
 * block or more than max came first (no verdict); -1: a data error. */
static int reference(int bits, const uint8_t *p, size_t n, size_t max, uint8_t *out, size_t *outn)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -bits) != Z_OK) abort();
    uint8_t *in = malloc(n + 4);
    memcpy(in, p, n);
    memcpy(in + n, "\0\0\xff\xff", 4);
    s.next_in = in;
    s.avail_in = (uInt)(n + 4);
    s.next_out = out;
    s.avail_out = (uInt)(max + 1);
    int zr = inflate(&s, Z_SYNC_FLUSH);
    *outn = max + 1 - s.avail_out;
    int verdict = 1;
    if (zr == Z_DATA_ERROR && *outn <= max)
        verdict = -1;
    else if ((zr == Z_OK || zr == Z_BUF_ERROR) && s.avail_in == 0 && s.avail_out > 0)
        verdict = 0;
    inflateEnd(&s);
    free(in);
    return verdict;
}

static void hostile(const struct ws_pmd_conf *c, int server, const uint8_t *p, size_t n, size_t max)
{
    struct ws_pmd *z = ws_pmd_new(c, server);
    if (!z) abort();
    struct buf out;
    buf_init(&out, 0);
    size_t cut = n ? p[0] % (n + 1) : 0;
    uint8_t *a = malloc(cut ? cut : 1), *b = malloc(n - cut ? n - cut : 1);
    memcpy(a, p, cut);
    memcpy(b, p + cut, n - cut);
    int rc = ws_pmd_inflate(z, a, cut, 0, &out, max);
    if (rc == 0) rc = ws_pmd_inflate(z, b, n - cut, 1, &out, max);
    if (rc != 0 && rc != -WS_BAD_DATA && rc != -WS_TOO_BIG) abort();
    if (buf_len(&out) > max + 1) abort();
    if (rc == 0 && buf_len(&out) > max) abort();
    /* the decompressor's window: the other side's, 15 when not agreed */
    int bits = server ? (c->client_bits >= 9 ? c->client_bits : 15) : c->server_bits;
    uint8_t *ref = malloc(max + 1);
    size_t refn = 0;
    int v = reference(bits, p, n, max, ref, &refn);
    if (v == 0 && (rc != 0 || refn != buf_len(&out) || memcmp(ref, buf_head(&out), refn))) abort();
    if (v == -1 && rc != -WS_BAD_DATA) abort();
    free(ref);
    free(a);
    free(b);
    buf_free(&out);
    ws_pmd_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    struct ws_pmd_conf c = {
        .server_no_ctx = data[0] & 1,
        .client_no_ctx = (data[0] >> 1) & 1,
        .server_bits = (uint8_t)(9 + data[1] % 7),
        .client_bits = (uint8_t)(data[2] % 9 ? 7 + data[2] % 9 : 0),
    };
    int mode = (data[0] >> 2) & 1, server = (data[0] >> 3) & 1;
    size_t max = (size_t)data[3] * 4;
    if (mode == 0)
        roundtrip(&c, data + 4, size - 4);
    else
        hostile(&c, server, data + 4, size - 4, max);
    return 0;
}
