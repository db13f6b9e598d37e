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

/* The bit of a client stream (odd id) in a bitmap */
static size_t slot(int32_t id)
{
    return ((size_t)id >> 1) % H2_GUARD_IDS;
}

static int bit(const uint64_t *map, int32_t id)
{
    return (int)(map[slot(id) / 64] >> (slot(id) % 64)) & 1;
}

static void set_bit(uint64_t *map, int32_t id)
{
    map[slot(id) / 64] |= (uint64_t)1 << (slot(id) % 64);
}

/* Whether id is one of the last H2_GUARD_IDS client streams */
static int recent(const struct h2_guard *g, int32_t id)
{
    return id <= g->max_id && (g->max_id - id) / 2 < H2_GUARD_IDS;
}

/* HEADERS came for id, above every earlier stream: the bits it and the
 * identifiers skipped on the way take over are cleared (they last stood
 * for streams H2_GUARD_IDS older), and a skip is recorded. */
static void advance(struct h2_guard *g, int32_t id)
{
    if ((id - g->max_id) / 2 >= H2_GUARD_IDS) {
        memset(g->opened, 0, sizeof g->opened);
        memset(g->reset, 0, sizeof g->reset);
    } else {
        for (int32_t k = g->max_id + 2; k <= id; k += 2) {
            g->opened[slot(k) / 64] &= ~((uint64_t)1 << (slot(k) % 64));
            g->reset[slot(k) / 64] &= ~((uint64_t)1 << (slot(k) % 64));
        }
    }
    if (id > g->max_id + 2) {
        int32_t *h = g->hole[g->nholes++ % H2_GUARD_HOLES];
        h[0] = g->max_id + 2;
        h[1] = id - 2;
    }
    g->max_id = id;
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
    if (g->off || hd->type != NGHTTP2_HEADERS || !(id & 1))
        return 0; /* stream 0 and even streams: nghttp2 refuses them */
    if (id > g->max_id) {
        advance(g, id); /* a new stream */
        return 0;
    }
    /* an open stream, one too old to tell, or one the server reset (what
     * the client had in flight on it is ignored, §5.1): nghttp2's to handle */
    if (nghttp2_session_find_stream(ng, id) || !recent(g, id) || bit(g->reset, id)) return 0;
    if (bit(g->opened, id)) {
        *why = "HEADERS on a closed stream (RFC 9113 section 5.1)";
        return NGHTTP2_STREAM_CLOSED;
    }
    if (skipped(g, id)) {
        *why = "HEADERS on a stream identifier below one already used (RFC 9113 section 5.1.1)";
        return NGHTTP2_PROTOCOL_ERROR;
    }
    return 0; /* refused before it opened: its RST_STREAM is on the way */
}

void h2_guard_opened(struct h2_guard *g, int32_t id)
{
    if (recent(g, id)) set_bit(g->opened, id);
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

void h2_guard_sent(struct h2_guard *g, const nghttp2_frame *f)
{
    if (f->hd.type == NGHTTP2_GOAWAY)
        g->off = 1; /* streams above its last one are ignored, whatever comes on them */
    else if (f->hd.type == NGHTTP2_RST_STREAM && (f->hd.stream_id & 1) &&
             recent(g, f->hd.stream_id))
        set_bit(g->reset, f->hd.stream_id);
}
