/* libFuzzer target for the WebSocket frame parser (src/http/ws.c), the
 * message layer (ws_msg.c) and the permessage-deflate inflater
 * (ws_pmd.c).
 *
 * Input: byte 0 picks the role (server or client parser), whether
 * permessage-deflate is on and the message limit; bytes 1-2 a split point;
 * the rest is the stream.  It is parsed whole and in two pieces cut at the
 * split point (each piece an exact-size heap copy, so ASan sees a read past
 * it), and whole by the general parser alone (ws_parse_general, without
 * ws_parse's fast path), which must agree with the fast path exactly (the
 * same events, code and error message); the
 * whole and cut runs must report the same messages, controls and end (only a
 * compressed message that is both too big and invalid may end with either
 * code).  Every
 * event must lie inside the input given, messages within the limit, text
 * valid UTF-8, control payloads <= 125 bytes. */
#include "http/ws.h"
#include "http/ws_msg.h"
#include "http/ws_pmd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    uint64_t hash; /* of every event, in order */
    uint64_t raw;  /* of every data piece as the parser gave it: place, length, flags, bytes */
    int n, rc;
    const char *error;
};

static void mix(struct out *o, const void *p, size_t n, int tag)
{
    const uint8_t *b = p;
    o->hash = o->hash * 1099511628211ull ^ (uint64_t)tag;
    for (size_t i = 0; i < n; i++)
        o->hash = (o->hash ^ b[i]) * 1099511628211ull;
    o->n++;
}

static void run(const uint8_t *s, size_t n, size_t cut, int server, int deflate, size_t max,
                int fast, struct out *o)
{
    struct ws_parser ps;
    struct ws_msg m;
    struct ws_pmd_conf conf = {.server_bits = 15};
    struct ws_pmd *z = deflate ? ws_pmd_new(&conf, server) : NULL;
    ws_parser_init(&ps, server, z != NULL);
    ws_msg_init(&m, max, z);
    memset(o, 0, sizeof *o);
    size_t at = 0;
    for (int piece = 0; piece < 2 && !o->rc; piece++) {
        size_t end = piece == 0 ? cut : n, len = end - at, at0 = at;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, s + at, len);
        size_t off = 0;
        while (off < len) {
            struct ws_ev ev;
            size_t used;
            int rc = fast ? ws_parse(&ps, copy + off, len - off, &used, &ev)
                          : ws_parse_general(&ps, copy + off, len - off, &used, &ev);
            if (used > len - off) abort();
            off += used;
            if (rc < 0) {
                o->rc = rc;
                o->error = ps.error;
                break;
            }
            if (rc == 0) break;
            if (ev.n && (ev.p < copy || ev.p + ev.n > copy + len) && ev.type == WS_EV_DATA) abort();
            if (ev.type == WS_EV_DATA) {
                uint64_t f[5] = {(uint64_t)(ev.p - copy) + (uint64_t)at0, ev.n, ev.rest,
                                 (uint64_t)(ev.op | ev.first << 4 | ev.last << 5), ev.compressed};
                uint64_t h = o->raw;
                for (size_t i = 0; i < sizeof f; i++)
                    h = (h ^ ((const uint8_t *)f)[i]) * 1099511628211ull;
                for (size_t i = 0; i < ev.n; i++)
                    h = (h ^ ev.p[i]) * 1099511628211ull;
                o->raw = h;
            }
            if (ev.type == WS_EV_CONTROL) {
                if (ev.n > WS_CONTROL_MAX) abort();
                mix(o, ev.p, ev.n, ev.op);
                continue;
            }
            int op;
            const uint8_t *mp;
            size_t mn;
            rc = ws_msg_feed(&m, &ev, &op, &mp, &mn);
            if (rc < 0) {
                o->rc = rc;
                break;
            }
            if (rc == 1) {
                if (mn > max) abort();
                if (op == WS_TEXT) {
                    struct ws_utf8 u = {0};
                    if (ws_utf8_feed(&u, mp, mn) < 0 || !ws_utf8_done(&u)) abort();
                }
                mix(o, mp, mn, 16 + op);
            }
        }
        free(copy);
        at = end;
    }
    ws_msg_free(&m);
    ws_pmd_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int server = data[0] & 1, deflate = (data[0] >> 1) & 1;
    size_t max = (size_t)1 << (4 + (data[0] >> 4)); /* 16 B .. 512 KiB */
    const uint8_t *s = data + 3;
    size_t n = size - 3, cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);
    struct out whole, split, general;
    run(s, n, n, server, deflate, max, 1, &whole);
    run(s, n, cut, server, deflate, max, 1, &split);
    run(s, n, n, server, deflate, max, 0, &general);
    if (whole.n != general.n || whole.hash != general.hash || whole.raw != general.raw ||
        whole.rc != general.rc ||
        (whole.error != general.error && strcmp(whole.error, general.error)))
        abort();
    if (whole.n != split.n || whole.hash != split.hash || !whole.rc != !split.rc) abort();
    /* a compressed message can be both too big and invalid (bad text or
     * data): which is seen first depends on where the input was cut */
    if (whole.rc != split.rc && !(deflate && (whole.rc == -1007 || whole.rc == -1009) &&
                                  (split.rc == -1007 || split.rc == -1009)))
        abort();
    return 0;
}
