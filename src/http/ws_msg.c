/* ws_msg — reassembly, decompression, UTF-8 and the limit (see ws_msg.h). */
#include "http/ws_msg.h"

#include "http/ws_pmd.h"

#include <string.h>

void ws_msg_init(struct ws_msg *m, size_t max, struct ws_pmd *z)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->b, 0);
    m->max = max;
    m->z = z;
}

void ws_msg_free(struct ws_msg *m)
{
    buf_free(&m->b);
}

int ws_msg_pieces(struct ws_msg *m, const struct ws_ev *ev, int *op, const uint8_t **p, size_t *n)
{
    if (ev->first) {
        ws_msg_done(m);
        memset(&m->u, 0, sizeof m->u);
        m->op = ev->op;
        m->compressed = ev->compressed && m->z;
    }
    size_t before = buf_len(&m->b);
    if (m->compressed) {
        int rc = ws_pmd_inflate(m->z, ev->p, ev->n, ev->last, &m->b, m->max);
        if (rc < 0) return rc;
        if (m->op == WS_TEXT && buf_len(&m->b) > before &&
            ws_utf8_feed(&m->u, (const uint8_t *)buf_head(&m->b) + before,
                         buf_len(&m->b) - before) < 0)
            return -WS_BAD_DATA;
    } else {
        /* a frame that announces more than the limit fails at its first piece */
        if (ev->n > m->max - before || ev->rest > m->max - before - ev->n) return -WS_TOO_BIG;
        if (m->op == WS_TEXT && ws_utf8_feed(&m->u, ev->p, ev->n) < 0) return -WS_BAD_DATA;
        int rc = buf_append(&m->b, ev->p, ev->n);
        if (rc < 0) return rc;
    }
    if (!ev->last) return 0;
    if (m->op == WS_TEXT && !ws_utf8_done(&m->u)) return -WS_BAD_DATA;
    *op = m->op;
    *p = (const uint8_t *)buf_head(&m->b);
    *n = buf_len(&m->b);
    if (!*p) *p = (const uint8_t *)""; /* an empty message: never a NULL payload */
    return 1;
}
