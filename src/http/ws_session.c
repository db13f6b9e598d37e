/* ws_session — an upgraded connection's WebSocket session (see
 * ws_session.h).
 *
 * Callbacks run with `dispatch` raised: what they send is queued and
 * written once when the batch of input is done, so an echo of many small
 * messages read together costs one send.  A send from outside the
 * session's own callbacks (a broadcast from another connection's message)
 * is written at once, but a failure it meets is only noted: the session is
 * closed from its own timer, never inside someone else's loop over the
 * connections (which could be walking the list this one is on). */
#include "http/ws_session.h"

#include "err.h"
#include "http/server.h"
#include "http/ws_hs.h"
#include "http/ws_pmd.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_WAIT_MS 5000        /* after our close frame, the peer's may take this long */
#define BUF_KEEP      (16 * 1024) /* an idle connection keeps at most this of a buffer */

static void on_timer(struct loop *l, struct loop_timer *t);

static struct loop *loop_of(const struct berth_ws *ws)
{
    return ws->c->w->loop;
}

struct berth_ws *ws_session_new(struct conn *c, const struct berth_ws_cb *cb, void *arg,
                                const struct berth_ws_opts *o, const struct ws_hs *hs)
{
    struct berth_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->c = c;
    ws->cb = *cb;
    ws->arg = arg;
    ws->o = *o;
    ws->o.protocols = NULL; /* not kept: the choice is in ws->protocol */
    memcpy(ws->protocol, hs->protocol, sizeof ws->protocol);
    if (hs->deflate && !(ws->z = ws_pmd_new(&hs->pmd, 1))) {
        free(ws);
        return NULL;
    }
    ws_parser_init(&ws->ps, 1, ws->z != NULL);
    ws_msg_init(&ws->msg, o->max_message, ws->z);
    buf_init(&ws->zbuf, 0);
    buf_init(&ws->own, 0);
    ws->out = &ws->own;
    return ws;
}

void ws_session_carry(struct berth_ws *ws, const struct ws_io *io, void *arg, struct buf *out)
{
    ws->io = io;
    ws->io_arg = arg;
    ws->out = out ? out : &ws->own;
}

/* The close callback, once (only if open was called). */
static void end(struct berth_ws *ws, int code, const void *reason, size_t len)
{
    if (ws->ended) return;
    ws->ended = 1;
    if (ws->started && ws->cb.close) {
        ws->dispatch++;
        ws->cb.close(ws, code, reason ? reason : "", reason ? len : 0, ws->arg);
        ws->dispatch--;
    }
}

void ws_session_free(struct berth_ws *ws)
{
    if (!ws) return;
    loop_timer_stop(loop_of(ws), &ws->timer);
    end(ws, WS_ABNORMAL, NULL, 0);
    ws_msg_free(&ws->msg);
    ws_pmd_free(ws->z);
    buf_free(&ws->zbuf);
    buf_free(&ws->own);
    free(ws);
}

size_t ws_session_buffered(const struct berth_ws *ws)
{
    return buf_len(ws->out);
}

/* Copies a short payload (n <= 64) sixteen bytes at a time, the last
 * sixteen overlapping: no call into libc for the small messages of an echo. */
static inline void copy_short(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n >= 16) {
        for (size_t i = 0; i + 16 < n; i += 16)
            memcpy(d + i, s + i, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

/* Appends one frame to the connection's output, encoded in place.  A
 * buffer that must grow is sized for the whole read at once, so the echo of
 * a 64 KiB read grows it once, not ten times with a copy each time (pump
 * gives it back once written). */
static int frame(struct berth_ws *ws, int op, int rsv1, const void *p, size_t n)
{
    struct buf *out = ws->out;
    if (buf_room(out) < WS_HEAD_MAX + n) {
        size_t want = WS_HEAD_MAX + n;
        if (want < ws->rx_hint) want = ws->rx_hint;
        int rc = buf_reserve(out, want);
        if (rc < 0) return rc;
    }
    if (!buf_len(out)) ws->tx_at = loop_now(loop_of(ws)); /* the send timeout counts from here */
    uint8_t *t = (uint8_t *)buf_tail(out);
    size_t h = ws_frame_head(t, 1, rsv1, op, n, NULL);
    if (n) memcpy(t + h, p, n);
    buf_commit(out, h + n);
    return 0;
}

static void pump(struct berth_ws *ws, int may_close);

/* ws_session_queue past its checks, but for the short frame of the fast
 * path: compression, a buffer to grow, a write now. */
static __attribute__((noinline)) int queue_general(struct berth_ws *ws, int op, const void *p,
                                                   size_t n)
{
    int rc;
    if (ws->z && (op == WS_TEXT || op == WS_BINARY)) {
        buf_clear(&ws->zbuf);
        if ((rc = ws_pmd_deflate(ws->z, p, n, &ws->zbuf)) < 0) return rc;
        rc = frame(ws, op, 1, buf_head(&ws->zbuf), buf_len(&ws->zbuf));
        if (ws->zbuf.cap > BUF_KEEP) buf_free(&ws->zbuf);
    } else {
        rc = frame(ws, op, 0, p, n);
    }
    if (rc < 0) return rc;
    size_t q = buf_len(ws->out);
    if (q > ws->o.low_water) ws->want_drain = 1;
    if (!ws->dispatch) {
        pump(ws, 0);
        q = buf_len(ws->out);
    }
    return q > INT_MAX ? INT_MAX : (int)q;
}

int ws_session_queue(struct berth_ws *ws, int op, const void *p, size_t n)
{
    if (ws->ended || ws->sent_close) return -EPIPE;
    struct buf *out = ws->out;
    size_t q = buf_len(out);
    /* the bound is checked before compressing: a refused message must not
     * have moved the compressor's context */
    if (n > ws->o.max_buffered || q + n + WS_HEAD_MAX > ws->o.max_buffered) return -ENOBUFS;
    /* the fast path, once per message of an echo: a short uncompressed
     * frame from a callback of ours (written at the batch's end) behind
     * others in a buffer with room: a 2-byte head, the payload copied by
     * words, no call */
    if (n > 64 || !q || !ws->dispatch || (ws->z && (op == WS_TEXT || op == WS_BINARY)) ||
        buf_room(out) < 2 + n)
        return queue_general(ws, op, p, n);
    uint8_t *t = (uint8_t *)out->data + out->off + q;
    t[0] = (uint8_t)(0x80 | op);
    t[1] = (uint8_t)n;
    copy_short(t + 2, p, n);
    q += 2 + n;
    out->len = q; /* buf_commit's work, without its call */
    if (q > ws->o.low_water) ws->want_drain = 1;
    return (int)q; /* q <= max_buffered <= INT_MAX */
}

int ws_session_close(struct berth_ws *ws, int code, const char *reason, size_t len)
{
    if (ws->ended || ws->sent_close) return -EPIPE;
    uint8_t pl[WS_CONTROL_MAX];
    size_t n = 0;
    if (code) {
        if (len > WS_CONTROL_MAX - 2) len = WS_CONTROL_MAX - 2;
        pl[0] = (uint8_t)(code >> 8);
        pl[1] = (uint8_t)code;
        if (len) memcpy(pl + 2, reason, len);
        n = 2 + len;
    }
    int rc = frame(ws, WS_CLOSE, 0, pl, n);
    if (rc < 0) return rc;
    ws->sent_close = 1;
    ws->close_at = loop_now(loop_of(ws)) + CLOSE_WAIT_MS;
    if (!ws->dispatch) pump(ws, 0);
    return 0;
}

/* Fails the connection (RFC 6455 §7.1.7): our close frame with code, then
 * TCP is closed without waiting for the peer's. */
static void fail(struct berth_ws *ws, int code, const char *why)
{
    size_t len = strlen(why);
    if (!ws->sent_close) ws_session_close(ws, code, why, len);
    ws->finish = 1;
    end(ws, code, why, len);
}

static void control(struct berth_ws *ws, const struct ws_ev *ev)
{
    if (ev->op == WS_PING) {
        if (!ws->sent_close && frame(ws, WS_PONG, 0, ev->p, ev->n) < 0)
            fail(ws, WS_INTERNAL, "out of memory");
        return;
    }
    if (ev->op != WS_CLOSE) return; /* a pong: its arrival was life enough */
    int code, rc = ws_close_check(ev->p, ev->n, &code);
    if (rc < 0) {
        fail(ws, -rc,
             rc == -WS_PROTOCOL ? "close frame with a 1-byte payload or a code no endpoint may send"
                                : "close reason is not UTF-8");
        return;
    }
    ws->got_close = 1;
    /* the reply echoes the code (RFC 6455 §5.5.1); then the server closes TCP */
    if (!ws->sent_close) ws_session_close(ws, code == WS_NO_STATUS ? 0 : code, NULL, 0);
    ws->finish = 1;
    end(ws, code, ev->n > 2 ? ev->p + 2 : NULL, ev->n > 2 ? ev->n - 2 : 0);
}

static void input(struct berth_ws *ws, uint8_t *p, size_t n)
{
    ws->last_rx = loop_now(loop_of(ws));
    ws->ping_out = 0;
    while (n && !ws->finish && !ws->dead) {
        struct ws_ev ev;
        size_t used;
        int rc = ws_parse(&ws->ps, p, n, &used, &ev);
        p += used;
        n -= used;
        if (rc < 0) {
            fail(ws, -rc, ws->ps.error);
            return;
        }
        if (rc == 0) return;
        if (ev.type == WS_EV_CONTROL) {
            control(ws, &ev);
            continue;
        }
        if (ws->sent_close) continue; /* closing: messages are dropped */
        int op = 0;
        const uint8_t *m;
        size_t mn;
        rc = ws_msg_feed(&ws->msg, &ev, &op, &m, &mn);
        if (rc == -WS_TOO_BIG)
            fail(ws, WS_TOO_BIG, "message larger than the server's limit");
        else if (rc == -WS_BAD_DATA)
            fail(ws, WS_BAD_DATA,
                 op == WS_TEXT || ws->msg.op == WS_TEXT ? "text message that is not UTF-8"
                                                        : "compressed data that does not inflate");
        else if (rc < 0)
            fail(ws, WS_INTERNAL, "out of memory");
        else if (rc == 1) {
            if (ws->cb.message) ws->cb.message(ws, op == WS_BINARY, m, mn, ws->arg);
            ws_msg_done(&ws->msg);
        }
    }
}

/* Arms the timer for the next deadline: the peer's close, the send
 * timeout, the idle ping or its answer.  The heap is touched only when the
 * deadline comes sooner than the one armed (a late wake-up re-arms). */
static void arm(struct berth_ws *ws)
{
    struct loop *l = loop_of(ws);
    uint64_t when = UINT64_MAX, now = loop_now(l);
    if (ws->sent_close && !ws->got_close) when = ws->close_at;
    if (buf_len(ws->out)) {
        uint64_t t = ws->tx_at + (uint64_t)ws->c->w->s->o.send_timeout_ms;
        if (t < when) when = t;
    }
    if (ws->o.ping_interval_ms > 0 && !ws->sent_close) {
        uint64_t t = ws->ping_out ? ws->ping_at + (uint64_t)ws->o.pong_timeout_ms
                                  : ws->last_rx + (uint64_t)ws->o.ping_interval_ms;
        if (t < when) when = t;
    }
    if (when == UINT64_MAX) return; /* an armed timer fires and finds nothing due */
    if (!loop_timer_armed(&ws->timer) || ws->timer.when > when)
        loop_timer_set(l, &ws->timer, when > now ? when - now : 0, on_timer);
}

/* Writes what is queued, calls drain, then ends the carrier or waits for
 * the right events.  may_close: the carrier may be ended now (not inside
 * another's callback: h1 frees the connection). */
static void pump(struct berth_ws *ws, int may_close)
{
    struct loop *l = loop_of(ws);
    if (ws->dispatch || ws->io_ended || !ws->io) return;
    for (;;) {
        if (buf_len(ws->out) && !ws->dead && ws->io->flush(ws) < 0) ws->dead = 1;
        if (!buf_len(ws->out) && ws->out->cap > BUF_KEEP) buf_free(ws->out);
        if (ws->want_drain && !ws->dead && !ws->ended && !ws->sent_close &&
            buf_len(ws->out) <= ws->o.low_water) {
            ws->want_drain = 0;
            if (ws->cb.drain) {
                ws->dispatch++;
                ws->cb.drain(ws, ws->arg);
                ws->dispatch--;
                continue; /* it may have queued more */
            }
        }
        break;
    }
    if (ws->dead || (ws->finish && !buf_len(ws->out))) {
        if (!may_close) {
            loop_timer_set(l, &ws->timer, 0, on_timer);
            return;
        }
        loop_timer_stop(l, &ws->timer);
        ws->io_ended = 1;
        if (ws->dead || ws->eof) {
            end(ws, WS_ABNORMAL, NULL, 0);
            ws->io->end(ws, ws->eof ? WS_IO_EOF : WS_IO_RESET);
        } else {
            ws->io->end(ws, WS_IO_END); /* the server ends its side first (RFC 6455 §7.1.1) */
        }
        return; /* h1: ws is freed */
    }
    if (ws->io->wait(ws, !ws->finish && buf_len(ws->out) < WS_READ_PAUSE) < 0) {
        ws->dead = 1;
        loop_timer_set(l, &ws->timer, 0, on_timer);
        return;
    }
    arm(ws);
}

static void on_timer(struct loop *l, struct loop_timer *t)
{
    struct berth_ws *ws = (struct berth_ws *)((char *)t - offsetof(struct berth_ws, timer));
    uint64_t now = loop_now(l);
    if (ws->io_ended) return;
    if (ws->dead || (ws->finish && !buf_len(ws->out))) {
        pump(ws, 1);
        return;
    }
    const char *why = NULL;
    if (ws->sent_close && !ws->got_close && now >= ws->close_at)
        why = "no close frame came back";
    else if (buf_len(ws->out) && now >= ws->tx_at + (uint64_t)ws->c->w->s->o.send_timeout_ms)
        why = "the peer took nothing for the send timeout";
    else if (ws->ping_out && !ws->sent_close && ws->o.ping_interval_ms > 0 &&
             now >= ws->ping_at + (uint64_t)ws->o.pong_timeout_ms)
        why = "no answer to the idle ping";
    if (why) {
        metrics_add(&ws->c->w->m.timeouts, 1);
        end(ws, WS_ABNORMAL, why, strlen(why));
        ws->io_ended = 1;
        ws->io->end(ws, WS_IO_RESET);
        return;
    }
    if (ws->o.ping_interval_ms > 0 && !ws->ping_out && !ws->sent_close &&
        now >= ws->last_rx + (uint64_t)ws->o.ping_interval_ms) {
        if (frame(ws, WS_PING, 0, NULL, 0) < 0) ws->dead = 1;
        ws->ping_out = 1;
        ws->ping_at = now;
    }
    pump(ws, 1);
}

void ws_session_start(struct berth_ws *ws, const void *p, size_t n)
{
    struct loop *l = loop_of(ws);
    ws->started = 1;
    ws->last_rx = ws->tx_at = loop_now(l);
    ws->dispatch++;
    if (ws->cb.open) ws->cb.open(ws, ws->arg);
    /* bytes that came behind the handshake are the first frames */
    if (n && !ws->finish && !ws->dead) input(ws, (uint8_t *)(uintptr_t)p, n);
    ws->dispatch--;
    pump(ws, 1);
}

void ws_session_input(struct berth_ws *ws, const void *p, size_t n)
{
    ws->dispatch++;
    if (!ws->finish && !ws->dead) input(ws, (uint8_t *)(uintptr_t)p, n);
    ws->dispatch--;
}

void ws_session_eof(struct berth_ws *ws, int reset)
{
    ws->eof = !reset;
    ws->dead = 1;
}

void ws_session_pump(struct berth_ws *ws)
{
    pump(ws, 1);
}

void ws_session_wake(struct berth_ws *ws)
{
    if (!ws->io_ended) loop_timer_set(loop_of(ws), &ws->timer, 0, on_timer);
}

void ws_session_going_away(struct berth_ws *ws)
{
    static const char why[] = "the server is going away";
    if (ws->io_ended) return; /* closed already */
    if (!ws->sent_close && !ws->ended)
        ws_session_close(ws, WS_GOING_AWAY, why, sizeof why - 1);
    else
        pump(ws, 0);
}
