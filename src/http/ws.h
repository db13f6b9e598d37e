/* ws — the WebSocket protocol (RFC 6455) in memory: no I/O, no allocation.
 *
 * An incremental frame parser that takes input in any segmentation and
 * reports payload pieces and whole control frames; the frame encoder and the
 * masking; UTF-8 validation that carries its state across pieces and fails
 * at the first byte that no valid text can continue; the close frame's
 * payload rules.  Reassembly, permessage-deflate and the limits are
 * ws_msg's; the handshake is ws_hs's.
 *
 * Errors are the close code the connection must be failed with, negated:
 * -1002 (protocol error), -1007 (invalid text), -1009 (too big). */
#ifndef BERTH_HTTP_WS_H
#define BERTH_HTTP_WS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* close codes the library itself sends */
enum {
    WS_NORMAL = 1000,
    WS_GOING_AWAY = 1001,
    WS_PROTOCOL = 1002,
    WS_NO_STATUS = 1005,
    WS_ABNORMAL = 1006,
    WS_BAD_DATA = 1007,
    WS_TOO_BIG = 1009,
    WS_INTERNAL = 1011
};

#define WS_CONTROL_MAX 125
#define WS_HEAD_MAX    14 /* 2 + 8 (64-bit length) + 4 (mask key) */

/* incremental UTF-8 validation: zero it to start */
struct ws_utf8 {
    uint8_t need;   /* continuation bytes still due */
    uint8_t lo, hi; /* the range the next continuation byte must be in */
};

/* 0 while p[0..n) continues valid UTF-8 (a sequence may stay open), -1 at
 * the first byte that makes it invalid: overlongs, surrogates, > U+10FFFF. */
int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n);
/* 1 when no sequence is left open (the text may end here). */
static inline int ws_utf8_done(const struct ws_utf8 *u)
{
    return u->need == 0;
}

enum { WS_EV_DATA = 1, WS_EV_CONTROL = 2 };

/* What ws_parse found.  DATA: a piece of a text or binary message's payload,
 * unmasked in place in the caller's input (p, n; n may be 0); first: the
 * message's first piece (op and compressed are valid then and stay so);
 * last: its last piece.  CONTROL: a whole close, ping or pong frame, its
 * payload (<= 125 bytes) in the parser's own storage until the next call. */
struct ws_ev {
    int type;
    uint8_t op; /* WS_TEXT/WS_BINARY for DATA (the message's), or the control opcode */
    uint8_t first, last, compressed;
    uint8_t *p;
    size_t n;
    uint64_t rest; /* DATA: the frame's payload bytes still to come after this piece */
};

struct ws_parser {
    uint8_t server;  /* frames must arrive masked (we are the server), else unmasked */
    uint8_t rsv1_ok; /* permessage-deflate was negotiated: RSV1 marks a compressed message */
    uint8_t hdr[WS_HEAD_MAX], hn, hneed;
    uint8_t op, fin, rsv1, masked, key[4];
    uint64_t len, done; /* the frame's payload length and how much of it was read */
    uint8_t msg_op;     /* the data message under way (WS_TEXT/WS_BINARY); 0: none */
    uint8_t msg_rsv1;
    uint8_t first; /* the next data piece is its message's first */
    uint8_t ctrl[WS_CONTROL_MAX];
    const char *error; /* why the last call failed */
};

/* server: 1 for a server's parser (clients must mask), 0 for a client's. */
void ws_parser_init(struct ws_parser *p, int server, int rsv1_ok);

/* The general parser: any state, any segmentation, every rule.  ws_parse
 * (below) is the same with a fast path in front; this one is exported so
 * the tests can hold the two against each other. */
int ws_parse_general(struct ws_parser *p, uint8_t *in, size_t n, size_t *used, struct ws_ev *ev);

/* XORs p[0..n) with key, the payload starting at offset 0: sixteen bytes at
 * a time with SSE2 (every x86-64), then eight, four, and the last ones. */
static inline void ws_unmask(uint8_t *p, size_t n, const uint8_t key[4])
{
    uint32_t k4;
    memcpy(&k4, key, 4);
    size_t i = 0;
#ifdef __SSE2__
    if (n >= 16) {
        const __m128i k16 = _mm_set1_epi32((int)k4); /* the key four times, in memory order */
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            _mm_storeu_si128((__m128i *)(void *)(p + i), _mm_xor_si128(v, k16));
        }
    }
#endif
    /* key, key in memory order on either byte order */
    const uint64_t k8 = (uint64_t)k4 << 32 | k4;
    for (; i + 8 <= n; i += 8) {
        uint64_t a;
        memcpy(&a, p + i, 8);
        a ^= k8;
        memcpy(p + i, &a, 8);
    }
    if (i + 4 <= n) {
        uint32_t a;
        memcpy(&a, p + i, 4);
        a ^= k4;
        memcpy(p + i, &a, 4);
        i += 4;
    }
    for (; i < n; i++) /* i is a multiple of 4 here: the key starts over */
        p[i] ^= key[i & 3];
}

/* Reads in[0..n) (modified: payloads are unmasked in place) until an event:
 * 1 with *ev and *used set (the bytes taken so far, up to the event's end);
 * 0 when all n were taken and more must come (*used == n); a negative close
 * code (-1002) with p->error saying why.  Call again with the rest.
 *
 * The fast path, inline because it runs once per message of an echo: at a
 * frame boundary with no message under way, a whole valid text or binary
 * frame (FIN, no RSV2/3, RSV1 only when negotiated, masked as the role
 * wants, a 7- or 16-bit length) lying entirely in the input is one event,
 * read without the parser's state machine: no state is written, the parser
 * stays at a frame boundary as the general path leaves it.  Anything else
 * (a split frame, a fragment, a control frame, any error) goes the general
 * way, so every rule and message stays the general path's. */
static inline int ws_parse(struct ws_parser *p, uint8_t *in, size_t n, size_t *used,
                           struct ws_ev *ev)
{
    if (p->hn == 0 && !p->msg_op && n >= 2) {
        unsigned b0 = in[0], b1 = in[1];
        /* FIN, text or binary; RSV1 is let through when negotiated */
        unsigned fo = b0 & ~((unsigned)p->rsv1_ok << 6);
        size_t len = b1 & 127, h = 2;
        if (fo - 0x81u < 2 && (b1 >> 7) == p->server && len != 127) {
            if (len == 126) {
                if (n < 4) goto general;
                len = (size_t)in[2] << 8 | in[3];
                h = 4;
            }
            size_t key = h;
            h += p->server ? 4 : 0;
            if (n < h || n - h < len) goto general;
            uint8_t *pl = in + h;
            if (p->server) ws_unmask(pl, len, in + key);
            ev->type = WS_EV_DATA;
            ev->op = (uint8_t)(b0 & 15);
            ev->first = ev->last = 1;
            ev->compressed = (uint8_t)(b0 >> 6 & 1);
            ev->p = pl;
            ev->n = len;
            ev->rest = 0;
            *used = h + len;
            return 1;
        }
    }
general:
    return ws_parse_general(p, in, n, used, ev);
}

/* Writes a frame head for a payload of len bytes into out (WS_HEAD_MAX
 * bytes); mask: the key of a client's frame, NULL for a server's.  Returns
 * its length. */
size_t ws_frame_head(uint8_t *out, int fin, int rsv1, int op, uint64_t len, const uint8_t *mask);
/* XORs p[0..n) with key, starting at payload offset off. */
void ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t off);

/* Checks a received close frame's payload: 0 with *code (WS_NO_STATUS when
 * empty) and the reason (p + 2, n - 2) when valid; -1002 for a length of 1
 * or a code no endpoint may send; -1007 for a reason that is not UTF-8. */
int ws_close_check(const uint8_t *p, size_t n, int *code);
/* 1 when an endpoint may send code in a close frame: 1000-1003, 1007-1014,
 * 3000-4999. */
int ws_close_code_ok(int code);

#endif
