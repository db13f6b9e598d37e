/* ws_msg — a WebSocket message put together from the parser's data pieces
 * (ws.h): fragments joined, permessage-deflate undone (ws_pmd.h), text
 * checked as UTF-8 as it arrives (an invalid prefix fails at once, not at
 * the end), the whole bounded by a limit.  A message that arrives in one
 * piece and uncompressed is handed over where it lies, without a copy. */
#ifndef BERTH_HTTP_WS_MSG_H
#define BERTH_HTTP_WS_MSG_H

#include "buf.h"
#include "http/ws.h"

struct ws_pmd;

struct ws_msg {
    struct buf b; /* the message so far, when it spans pieces or was compressed */
    size_t max;   /* its limit, after decompression */
    struct ws_utf8 u;
    struct ws_pmd *z; /* the decompressor (not owned); NULL: none negotiated */
    uint8_t op, compressed;
};

#define WS_MSG_KEEP (16 * 1024) /* a larger message's buffer is given back after it */

void ws_msg_init(struct ws_msg *m, size_t max, struct ws_pmd *z);
void ws_msg_free(struct ws_msg *m);
/* After a message was used: its buffer is emptied, and given back when
 * large (an idle connection holds no large buffer). */
static inline void ws_msg_done(struct ws_msg *m)
{
    if (m->b.cap > WS_MSG_KEEP)
        buf_free(&m->b);
    else
        m->b.off = m->b.len = 0;
}

/* ws_msg_feed's general case: a message in pieces, or compressed. */
int ws_msg_pieces(struct ws_msg *m, const struct ws_ev *ev, int *op, const uint8_t **p, size_t *n);

/* Takes a WS_EV_DATA event.  1: the message is complete, *p and *n are its
 * payload (valid until the next call; *op WS_TEXT or WS_BINARY); 0: more
 * must come; -1007 invalid text or compressed data, -1009 past the limit,
 * -ENOMEM.  Inline for the common case, a message whole in one piece and
 * not compressed: handed over where it lies, nothing kept, and only text
 * is checked. */
static inline int ws_msg_feed(struct ws_msg *m, const struct ws_ev *ev, int *op, const uint8_t **p,
                              size_t *n)
{
    if (!(ev->first && ev->last) || (ev->compressed && m->z)) return ws_msg_pieces(m, ev, op, p, n);
    if (ev->n > m->max) return -WS_TOO_BIG;
    if (ev->op == WS_TEXT) {
        struct ws_utf8 u = {0};
        if (ws_utf8_feed(&u, ev->p, ev->n) < 0 || !ws_utf8_done(&u)) return -WS_BAD_DATA;
    }
    m->op = ev->op;
    *op = ev->op;
    *p = ev->p;
    *n = ev->n;
    return 1;
}

#endif
