/* ws — RFC 6455 framing, masking, UTF-8 and close-frame rules (see ws.h). */
#include "http/ws.h"

#include <string.h>

int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (u->need) {
            uint8_t b = p[i++];
            if (b < u->lo || b > u->hi) return -1;
            u->lo = 0x80;
            u->hi = 0xBF;
            u->need--;
            continue;
        }
        /* ASCII runs, eight bytes at a time: most text is mostly ASCII */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            if (v & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t b = p[i++];
        if (b < 0x80) continue;
        /* the second byte's range rules out overlongs (E0, F0), surrogates
         * (ED) and code points past U+10FFFF (F4) at the byte that decides */
        u->lo = 0x80;
        u->hi = 0xBF;
        if (b < 0xC2) return -1; /* a continuation byte, or an overlong 2-byte lead */
        if (b < 0xE0) {
            u->need = 1;
        } else if (b < 0xF0) {
            u->need = 2;
            if (b == 0xE0) u->lo = 0xA0;
            if (b == 0xED) u->hi = 0x9F;
        } else if (b < 0xF5) {
            u->need = 3;
            if (b == 0xF0) u->lo = 0x90;
            if (b == 0xF4) u->hi = 0x8F;
        } else {
            return -1;
        }
    }
    return 0;
}

void ws_parser_init(struct ws_parser *p, int server, int rsv1_ok)
{
    memset(p, 0, sizeof *p);
    p->server = (uint8_t) !!server;
    p->rsv1_ok = (uint8_t) !!rsv1_ok;
}

static int fail(struct ws_parser *p, const char *why)
{
    p->error = why;
    return -WS_PROTOCOL;
}

/* The first two bytes are in: every rule that they decide is checked now,
 * before the extended length arrives (fail fast). */
static inline int head_start(struct ws_parser *p, uint8_t b0, uint8_t b1)
{
    p->fin = b0 >> 7;
    p->rsv1 = (b0 >> 6) & 1;
    p->op = b0 & 15;
    p->masked = b1 >> 7;
    uint8_t len7 = b1 & 127;
    if (b0 & 0x30) return fail(p, "RSV2 or RSV3 set, and no extension defines them");
    if ((p->op > WS_BINARY && p->op < WS_CLOSE) || p->op > WS_PONG)
        return fail(p, "reserved opcode");
    if (p->op >= WS_CLOSE) {
        if (!p->fin) return fail(p, "fragmented control frame");
        if (len7 > WS_CONTROL_MAX) return fail(p, "control frame longer than 125 bytes");
        if (p->rsv1) return fail(p, "RSV1 set on a control frame");
    } else if (p->op == WS_CONT) {
        if (!p->msg_op) return fail(p, "continuation frame without a message to continue");
        if (p->rsv1) return fail(p, "RSV1 set on a continuation frame");
    } else {
        if (p->msg_op) return fail(p, "new message before the last one's final fragment");
        if (p->rsv1 && !p->rsv1_ok) return fail(p, "RSV1 set, and no extension was negotiated");
    }
    if (p->server && !p->masked) return fail(p, "unmasked frame from a client");
    if (!p->server && p->masked) return fail(p, "masked frame from a server");
    p->hneed = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (p->masked ? 4 : 0));
    return 0;
}

/* The whole head is at h (the input itself, or hdr when it came in pieces). */
static inline void head_end(struct ws_parser *p, const uint8_t *h)
{
    uint8_t len7 = h[1] & 127;
    size_t k = 2;
    if (len7 == 126) {
        p->len = (uint64_t)h[2] << 8 | h[3];
        k = 4;
    } else if (len7 == 127) {
        p->len = 0;
        for (int i = 0; i < 8; i++)
            p->len = p->len << 8 | h[2 + i];
        k = 10;
    } else {
        p->len = len7;
    }
    if (p->masked) memcpy(p->key, h + k, 4);
    p->done = 0;
    if (p->op == WS_TEXT || p->op == WS_BINARY) {
        p->msg_op = p->op;
        p->msg_rsv1 = p->rsv1;
        p->first = 1;
    }
}

void ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t off)
{
    /* the key as it stands at this offset, then from offset 0 */
    uint8_t k[4];
    for (int j = 0; j < 4; j++)
        k[j] = key[(off + (uint64_t)j) % 4];
    ws_unmask(p, n, k);
}

/* The frame in hand ended: the parser starts the next one. */
static void frame_end(struct ws_parser *p)
{
    if (p->op < WS_CLOSE && p->fin) p->msg_op = 0;
    p->hn = 0;
    p->hneed = 0;
}

int ws_parse_general(struct ws_parser *p, uint8_t *in, size_t n, size_t *used, struct ws_ev *ev)
{
    size_t i = 0;
    int rc;
    for (;;) {
        if (p->hn == 0 && n - i >= 2) {
            /* the common case: the whole head is in the input, read in place */
            uint8_t b1 = in[i + 1], len7 = b1 & 127;
            size_t need = 2u + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
            if (n - i >= need) {
                if ((rc = head_start(p, in[i], b1)) < 0) goto err;
                if (len7 == 127 && (in[i + 2] & 0x80)) {
                    rc = fail(p, "64-bit payload length with its top bit set");
                    goto err;
                }
                head_end(p, in + i);
                i += need;
                p->hn = p->hneed; /* the head is done */
                goto payload;
            }
        }
        if (p->hn < 2 || p->hn < p->hneed) {
            if (i == n) break;
            size_t want = p->hn < 2 ? 2u - p->hn : (size_t)(p->hneed - p->hn);
            size_t k = n - i < want ? n - i : want;
            memcpy(p->hdr + p->hn, in + i, k);
            p->hn = (uint8_t)(p->hn + k);
            i += k;
            if (p->hn < 2) continue;
            if (p->hn == 2 && (rc = head_start(p, p->hdr[0], p->hdr[1])) < 0) goto err;
            if (p->hn > 2 && (p->hdr[1] & 127) == 127 && (p->hdr[2] & 0x80)) {
                rc = fail(p, "64-bit payload length with its top bit set");
                goto err;
            }
            if (p->hn < p->hneed) continue;
            head_end(p, p->hdr);
            if (p->len) continue;
        }
    payload:; /* the payload, or what of it is here */
        size_t k = n - i;
        if (k > p->len - p->done) k = (size_t)(p->len - p->done);
        if (k && p->masked) ws_mask(in + i, k, p->key, p->done);
        if (p->op >= WS_CLOSE) {
            memcpy(p->ctrl + p->done, in + i, k);
            p->done += k;
            i += k;
            if (p->done < p->len) break;
            ev->type = WS_EV_CONTROL;
            ev->op = p->op;
            ev->first = ev->last = 1;
            ev->compressed = 0;
            ev->p = p->ctrl;
            ev->n = (size_t)p->len;
        } else {
            if (!k && p->len) break; /* nothing of a payload that is due */
            ev->type = WS_EV_DATA;
            ev->op = p->msg_op;
            ev->first = p->first;
            ev->compressed = p->msg_rsv1;
            ev->p = in + i;
            ev->n = k;
            p->first = 0;
            p->done += k;
            i += k;
            ev->last = p->done == p->len && p->fin;
            ev->rest = p->len - p->done;
            if (p->done < p->len) {
                *used = i;
                return 1;
            }
        }
        frame_end(p);
        *used = i;
        return 1;
    }
    *used = i;
    return 0;
err:
    *used = i;
    return rc;
}

size_t ws_frame_head(uint8_t *out, int fin, int rsv1, int op, uint64_t len, const uint8_t *mask)
{
    size_t k = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (op & 15));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        k = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        k = 10;
    }
    if (mask) {
        memcpy(out + k, mask, 4);
        k += 4;
    }
    return k;
}

int ws_close_code_ok(int code)
{
    if (code >= 3000 && code <= 4999) return 1;
    if (code < 1000 || code > 1014) return 0;
    /* 1004 reserved, 1005 and 1006 are never sent, only reported */
    return code != 1004 && code != 1005 && code != 1006;
}

int ws_close_check(const uint8_t *p, size_t n, int *code)
{
    if (n == 0) {
        *code = WS_NO_STATUS;
        return 0;
    }
    if (n == 1) return -WS_PROTOCOL;
    *code = p[0] << 8 | p[1];
    if (!ws_close_code_ok(*code)) return -WS_PROTOCOL;
    struct ws_utf8 u = {0};
    if (ws_utf8_feed(&u, p + 2, n - 2) < 0 || !ws_utf8_done(&u)) return -WS_BAD_DATA;
    return 0;
}
