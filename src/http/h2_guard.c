/* h2_guard — RFC 9113 checks nghttp2 leaves to the server (contract in
 * h2_guard.h). */
#include "http/h2_guard.h"

#include <stddef.h>
#include <string.h>

void h2_guard_init(struct h2_guard *g)
{
    memset(g, 0, sizeof *g);
    g->win_max = -1;
}

static int skipped(const struct h2_guard *g, int32_t id)
{
    unsigned n = g->nholes < H2_GUARD_HOLES ? g->nholes : H2_GUARD_HOLES;
    for (unsigned i = 0; i < n; i++)
        if (id >= g->hole[i][0] && id <= g->hole[i][1]) return 1;
    return 0;
}

uint32_t h2_guard_begin(struct h2_guard *g, nghttp2_session *ng, const nghttp2_frame_hd *hd,
                        const char **why)
{
    int32_t id = hd->stream_id;
    if (hd->type == NGHTTP2_PRIORITY && id == 0) {
        *why = "PRIORITY frame on stream 0 (RFC 9113 section 6.3)";
        return NGHTTP2_PROTOCOL_ERROR;
    }
    if (hd->type != NGHTTP2_HEADERS || !(id & 1))
        return 0;         /* stream 0 and even streams: nghttp2 refuses them */
    if (id > g->max_id) { /* a new stream: what it skipped is closed now */
        if (id > g->max_id + 2) {
            int32_t *h = g->hole[g->nholes++ % H2_GUARD_HOLES];
            h[0] = g->max_id + 2;
            h[1] = id - 2;
        }
        g->max_id = id;
        return 0;
    }
    if (!g->nholes || nghttp2_session_find_stream(ng, id) || !skipped(g, id)) return 0;
    *why = "HEADERS on a stream identifier below one already used (RFC 9113 section 5.1.1)";
    return NGHTTP2_PROTOCOL_ERROR;
}

uint32_t h2_guard_settings(const struct h2_guard *g, const nghttp2_settings *f)
{
    if (g->win_max < 0) return 0; /* no stream open */
    /* every stream window moves by the same difference; nghttp2 applies the
     * entries in order, so the first that overflows is the error */
    for (size_t i = 0; i < f->niv; i++)
        if (f->iv[i].settings_id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE &&
            g->win_max + (int64_t)f->iv[i].value - g->win_init > NGHTTP2_MAX_WINDOW_SIZE)
            return NGHTTP2_FLOW_CONTROL_ERROR;
    return 0;
}
