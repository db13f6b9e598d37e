/* h2_ws — a WebSocket session carried by an HTTP/2 stream (see h2_ws.h). */
#include "http/h2_ws.h"

#include "err.h"
#include "http/conn.h"
#include "http/h2_int.h"
#include "http/server.h"
#include "http/ws_session.h"

#include <errno.h>
#include <string.h>

/* The stream's frames: what ws->out holds, as far as the window allows;
 * deferred while it holds nothing, the end (END_STREAM) once the carrier
 * was ended and nothing is left. */
static ssize_t read_ws(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)buf;
    (void)user;
    struct h2_stream *st = src->ptr;
    struct berth_ws *ws = st->ws;
    size_t n = ws ? buf_len(ws->out) : 0;
    if (n) {
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY; /* h2's send_data calls h2_ws_copy */
        return (ssize_t)(n < length ? n : length);
    }
    if (!ws || ws->io_ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    return NGHTTP2_ERR_DEFERRED;
}

void h2_ws_copy(struct h2_stream *st, char *p, size_t n)
{
    struct berth_ws *ws = st->ws;
    memcpy(p, buf_head(ws->out), n);
    buf_consume(ws->out, n);
    ws->tx_at = loop_now(ws->c->w->loop);
    /* the session runs again (drain, its end) from the loop, not from
     * inside nghttp2's send */
    if ((ws->finish && !buf_len(ws->out)) ||
        (ws->want_drain && buf_len(ws->out) <= ws->o.low_water))
        ws_session_wake(ws);
}

/* Asks the connection to write soon: from the loop, since a session may
 * queue from anywhere (another connection's callback, a timer). */
static int want_write(struct berth_ws *ws)
{
    struct conn *c = ws->c;
    return loop_io_set(c->w->loop, c->t.fd, c->t.wwant | c->t.rwant, conn_on_event, c) < 0 ? -1 : 0;
}

static int ws_flush(struct berth_ws *ws)
{
    struct h2_stream *st = ws->io_arg;
    nghttp2_session_resume_data(ws->c->h2->ng, st->id); /* an error: not deferred */
    return want_write(ws);
}

static int ws_wait(struct berth_ws *ws, int want_in)
{
    struct h2_stream *st = ws->io_arg;
    if (want_in && st->ws_owed) { /* the window the paused input held back */
        nghttp2_session_consume_stream(ws->c->h2->ng, st->id, st->ws_owed);
        st->ws_owed = 0;
        return want_write(ws);
    }
    return 0;
}

static void ws_end(struct berth_ws *ws, int how)
{
    struct h2_stream *st = ws->io_arg;
    nghttp2_session *ng = ws->c->h2->ng;
    /* the WebSocket is over: the connection's idle timeout applies again,
     * so a peer that never ends its side cannot hold the stream (h1's
     * linger is bounded the same way) */
    ws->c->h2->nws--;
    if (how == WS_IO_RESET) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    } else {
        /* END: nothing is left.  EOF: the peer ended its side; what is
         * queued still goes (the answer to its close frame), the rest not */
        if (how == WS_IO_EOF && !ws->got_close) buf_clear(ws->out);
        nghttp2_session_resume_data(ng, st->id); /* read_ws ends the stream */
    }
    (void)want_write(ws); /* failing, the connection's own update sets it again */
}

static const struct ws_io h2_io = {ws_flush, ws_wait, ws_end};

int h2_ws_respond(struct h2_session *s, int32_t stream_id, const char *head, size_t len,
                  struct berth_ws *ws)
{
    struct h2_stream *st = stream_of(s, stream_id);
    if (!st || st->responded) {
        ws_session_free(ws);
        return -ENOENT;
    }
    nghttp2_nv nv[NV_STACK];
    size_t hl = 0;
    int nnv = h2_head_nv(head, len, nv, NV_STACK, &hl);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_ws};
    if (nnv < 0 || nghttp2_submit_response(s->ng, stream_id, nv, (size_t)nnv, &prd) != 0) {
        ws_session_free(ws);
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
        return nnv == -1 ? BERTH_EPROTO : -ENOMEM;
    }
    st->responded = st->done = 1;
    st->ws = ws;
    s->nws++;
    ws_session_carry(ws, &h2_io, st, NULL);
    ws_session_start(ws, NULL, 0);
    return 0;
}

int h2_ws_data(struct h2_session *s, struct h2_stream *st, const uint8_t *p, size_t n)
{
    struct berth_ws *ws = st->ws;
    if (ws->io_ended || ws->finish || ws->dead) { /* closing: dropped */
        nghttp2_session_consume_stream(s->ng, st->id, n);
        return 0;
    }
    /* the frames are unmasked in place: nghttp2 hands out views of the
     * bytes h2_session_recv was given, the worker's writable buffer */
    ws_session_input(ws, p, n);
    if (buf_len(ws->out) >= WS_READ_PAUSE)
        st->ws_owed += n; /* granted when output drained (ws_wait) */
    else
        nghttp2_session_consume_stream(s->ng, st->id, n);
    ws_session_pump(ws);
    return 0;
}

void h2_ws_eof(struct h2_session *s, struct h2_stream *st)
{
    (void)s;
    struct berth_ws *ws = st->ws;
    if (ws->io_ended) return; /* our END_STREAM went first: the stream closes now */
    ws_session_eof(ws, 0);
    ws_session_pump(ws);
}

void h2_ws_free(struct h2_session *s, struct h2_stream *st)
{
    struct berth_ws *ws = st->ws;
    st->ws = NULL;
    if (!ws->io_ended) s->nws--; /* (ws_end counted the others) */
    ws->io_ended = 1;            /* nothing more through the stream: it is gone */
    ws_session_free(ws);
}

void h2_ws_free_all(struct h2_session *s)
{
    for (struct h2_stream *st = s->streams; st; st = st->next)
        if (st->ws) st->ws->io_ended = 1; /* a close callback's sends go nowhere */
    for (struct h2_stream *st = s->streams; st; st = st->next)
        if (st->ws) h2_ws_free(s, st);
}

int h2_ws_any(const struct h2_session *s)
{
    return s->nws > 0;
}

void h2_ws_stop(struct h2_session *s)
{
    for (struct h2_stream *st = s->streams; st; st = st->next)
        if (st->ws) ws_session_going_away(st->ws);
}
