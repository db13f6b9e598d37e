/* h2 — the HTTP/2 server session on libnghttp2: the glue between its
 * callbacks and berth's request and answer forms (contract in h2.h). */
#include "http/h2.h"

#include "err.h"
#include "http/h2_guard.h"
#include "http/h2_head.h"
#include "http/h2_int.h"
#include "http/h2_pool.h"
#include "http/h2_req.h"
#include "http/h2_ws.h"
#include "http/h2live.h"
#include "http/resp.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEND_BUDGET (256 * 1024) /* bytes per h2_session_send call */
#define SPARE_BYTES 16384        /* streams are kept for reuse when their buffers are no larger */

/* Streams, with their field and answer buffers, are kept for the next ones
 * in the pool (up to POOL_STREAMS; the worker's, shared by its sessions, so
 * the stream a request gets is one that ended lately, still in the cache):
 * a request then costs no allocation of ours. */
static void stream_release(struct h2_stream *st)
{
    h2_req_free(&st->req);
    free(st->hdrs);
    buf_free(&st->mem);
    free(st);
}

static void streams_release(void *list)
{
    for (struct h2_stream *st = list, *next; st; st = next) {
        next = st->next;
        stream_release(st);
    }
}

static void stream_free(struct h2_session *s, struct h2_stream *st)
{
    if (st->ws) h2_ws_free(s, st); /* its close callback (1006) if still due */
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    if (s->cur == st) s->cur = NULL;
    free(st->body); /* bodies can be large: never kept */
    s->body_total -= st->bcap;
    static_xfer_end(&st->x);
    if (s->pool->nstreams >= POOL_STREAMS || st->req.cap > SPARE_BYTES ||
        st->mem.cap > SPARE_BYTES) {
        stream_release(st);
        return;
    }
    st->next = s->pool->streams;
    s->pool->streams = st;
    s->pool->nstreams++;
    s->pool->release = streams_release;
}

static struct h2_stream *stream_new(struct h2_session *s)
{
    struct h2_stream *st = s->pool->streams;
    if (st) {
        s->pool->streams = st->next;
        s->pool->nstreams--;
        if (st->req.max_bytes != s->conf.max_header || st->req.max_fields != s->conf.max_headers) {
            stream_release(st); /* another session's, with other limits */
            st = NULL;
        }
    }
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return NULL;
        buf_init(&st->mem, 0);
        h2_req_init(&st->req, s->conf.max_header, s->conf.max_headers);
    } else {
        h2_req_reset(&st->req);
        buf_clear(&st->mem);
    }
    st->prev = st->next = NULL;
    st->body = NULL;
    st->blen = st->bcap = 0;
    st->head = st->done = st->responded = st->checked = 0;
    st->lv = NULL;
    st->limit = s->conf.max_body;
    st->streaming = st->end_held = 0;
    st->owed = st->ws_owed = 0;
    st->connect = 0;
    st->ws = NULL;
    memset(&st->x, 0, sizeof st->x);
    st->x.fd = -1;
    return st;
}

/* An answer built here (400, 413, 431, 500) through the same resp code as
 * every other answer, and handed to h2_respond like one. */
static void reject(struct h2_session *s, struct h2_stream *st, int status, const char *why)
{
    st->done = 1;
    if (s->ops.on_reject) s->ops.on_reject(s->owner, st->id, status, why);
    struct buf b;
    buf_init(&b, 0);
    if (resp_error(&b, status, 1, 11, st->head, NULL, why) < 0 ||
        h2_respond(s, st->id, buf_head(&b), buf_len(&b), NULL) < 0)
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    buf_free(&b);
}

static void complete(struct h2_session *s, struct h2_stream *st)
{
    if (st->done) return;
    st->done = 1;
    struct http_request req;
    if (!st->hdrs && !(st->hdrs = malloc((st->req.max_fields + 1) * sizeof *st->hdrs))) {
        reject(s, st, 500, "out of memory");
        return;
    }
    int rc = h2_req_build(&st->req, &req, st->hdrs);
    if (rc < 0) {
        reject(s, st, -rc, req.error);
        return;
    }
    if (req.content_length < 0 && st->body) req.content_length = (int64_t)st->blen;
    s->ops.on_request(s->owner, st->id, &req, st->body, st->blen);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *s = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    struct h2_stream *st = stream_new(s);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* this stream is reset, not all */
    st->id = frame->hd.stream_id;
    if (nghttp2_session_set_stream_user_data(ng, st->id, st) != 0) {
        stream_release(st);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    st->next = s->streams;
    if (st->next) st->next->prev = st;
    s->streams = st;
    s->cur = st;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)ng;
    (void)flags;
    struct h2_session *s = user;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; /* trailers: not kept */
    struct h2_stream *st = stream_of(s, frame->hd.stream_id);
    if (!st) return 0;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0 && vlen == 4 && memcmp(value, "HEAD", 4) == 0)
        st->head = 1;
    if (nlen == 9 && memcmp(name, ":protocol", 9) == 0) st->connect = 1; /* nghttp2 allowed it */
    if (h2_req_field(&st->req, name, nlen, value, vlen) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    /* an HPACK bomb decodes far more than it weighs: past 4 x the limit the
     * peer is not sending a request but an attack, and the connection ends */
    if (st->req.list > 4 * s->conf.max_header + 65536) {
        s->error = "header list far over the limit (HPACK bomb?)";
        nghttp2_session_terminate_session(ng, NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

/* Appends p[0..n) to the stream's body buffer (a streamed body held while
 * paused: at most the stream's window). */
static int hold(struct h2_session *s, struct h2_stream *st, const char *p, size_t n)
{
    if (st->blen + n > st->bcap) {
        size_t cap = st->bcap ? st->bcap * 2 : 16384;
        while (cap < st->blen + n)
            cap *= 2;
        char *b = realloc(st->body, cap);
        if (!b) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        s->body_total += cap - st->bcap;
        st->body = b;
        st->bcap = cap;
    }
    memcpy(st->body + st->blen, p, n);
    st->blen += n;
    return 0;
}

/* A piece of a streamed body: to on_body now, or held while paused (the
 * stream's window is granted only for what was delivered unpaused). */
static int body_piece(struct h2_session *s, struct h2_stream *st, const char *p, size_t n)
{
    if (!st->lv || st->end_held || st->got > st->limit) { /* gone, done with, or cut */
        nghttp2_session_consume_stream(s->ng, st->id, n);
        return 0;
    }
    if ((st->got += n) > st->limit) {
        /* past the route's limit without a Content-Length to refuse up front:
         * the handler already has the request, so the stream is reset and its
         * close tells the program the client is gone (h1 closes instead) */
        nghttp2_session_consume_stream(s->ng, st->id, n);
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
        return 0;
    }
    if (st->blen || h2live_paused(st->lv)) return hold(s, st, p, n);
    h2live_body(st->lv, p, n, 0);
    if (h2live_paused(st->lv))
        st->owed += n;
    else
        nghttp2_session_consume_stream(s->ng, st->id, n);
    return 0;
}

void h2_body_resume(struct h2_session *s, int32_t stream_id)
{
    struct h2_stream *st = stream_of(s, stream_id);
    if (!st || !st->streaming || !st->lv || h2live_paused(st->lv)) return;
    size_t n = st->blen + st->owed;
    if (st->blen) h2live_body(st->lv, st->body, st->blen, 0);
    st->blen = 0;
    st->owed = 0;
    if (h2live_paused(st->lv)) {
        st->owed = n;
        return;
    }
    if (n) nghttp2_session_consume_stream(s->ng, st->id, n);
    if (st->end_held == 1) {
        st->end_held = 2;
        h2live_body(st->lv, NULL, 0, 1);
    }
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *user)
{
    (void)flags;
    struct h2_session *s = user;
    struct h2_stream *st = stream_of(s, id);
    /* the connection's window is never held back: a paused stream holds at
     * most its own (SETTINGS_INITIAL_WINDOW_SIZE) */
    nghttp2_session_consume_connection(ng, len);
    if (st && st->ws) return h2_ws_data(s, st, data, len);
    if (st && st->streaming) return body_piece(s, st, (const char *)data, len);
    nghttp2_session_consume_stream(ng, id, len);
    if (!st || st->done) return 0; /* dropped */
    if (st->blen + len > st->limit) {
        free(st->body);
        s->body_total -= st->bcap;
        st->body = NULL;
        st->blen = st->bcap = 0;
        reject(s, st, 413, "The request body is too large.");
        return 0;
    }
    if (st->blen + len > st->bcap) {
        size_t cap = st->bcap ? st->bcap : 16384;
        while (cap < st->blen + len)
            cap *= 2;
        if (cap > st->limit) cap = (size_t)st->limit;
        uint64_t bound = 4 * (st->limit > s->conf.max_body ? st->limit : s->conf.max_body);
        if (s->body_total - st->bcap + cap > bound) {
            st->done = 1; /* too much buffered on this connection: the client may retry */
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
            return 0;
        }
        char *p = realloc(st->body, cap);
        if (!p) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        s->body_total += cap - st->bcap;
        st->body = p;
        st->bcap = cap;
    }
    memcpy(st->body + st->blen, data, len);
    st->blen += len;
    return 0;
}

/* A request head with a body to come: a Content-Length over max_body is
 * answered 413 at once (as over HTTP/1.1), and "Expect: 100-continue" gets
 * its 100 so the client sends the body without waiting (RFC 9110 §10.1.1). */
static void before_body(struct h2_session *s, struct h2_stream *st)
{
    struct http_str cl = h2_req_get(&st->req, "content-length");
    uint64_t n = 0;
    for (size_t k = 0; cl.p && k < cl.n && n <= UINT64_MAX / 16; k++)
        n = n * 10 + (uint64_t)(cl.p[k] - '0'); /* digits: nghttp2 checked */
    struct http_request req;
    if (s->ops.on_head &&
        (st->hdrs || (st->hdrs = malloc((st->req.max_fields + 1) * sizeof *st->hdrs))) &&
        h2_req_build(&st->req, &req, st->hdrs) == 0) {
        /* the route decides: its limit, or its handler takes the body as it comes */
        s->ops.on_head(s->owner, st->id, &req, &st->limit, &st->lv);
        if (st->lv) {
            st->streaming = 1;
            st->done = 1; /* no on_request: the handler ran */
        }
    }
    if (n > st->limit) {
        reject(s, st, 413, "The request body is too large.");
        return;
    }
    if (http_str_eq_ci(h2_req_get(&st->req, "expect"), "100-continue")) {
        const nghttp2_nv nv = {(uint8_t *)(uintptr_t) ":status", (uint8_t *)(uintptr_t) "100", 7, 3,
                               NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
        nghttp2_submit_headers(s->ng, NGHTTP2_FLAG_NONE, st->id, NULL, &nv, 1, NULL);
    }
}

/* A connection error h2_guard found (code, else 0: none): the GOAWAY is
 * queued and nghttp2 stops reading. */
static int guard_end(struct h2_session *s, uint32_t code, const char *why)
{
    if (!code) return 0;
    s->error = why;
    nghttp2_session_terminate_session(s->ng, code);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *user)
{
    struct h2_session *s = user;
    if (hd->type == NGHTTP2_SETTINGS && !(hd->flags & NGHTTP2_FLAG_ACK)) {
        /* before nghttp2 moves the stream windows by the new initial size */
        s->guard.win_max = -1;
        for (const struct h2_stream *st = s->streams; st; st = st->next) {
            int32_t w = nghttp2_session_get_stream_remote_window_size(ng, st->id);
            if (w > s->guard.win_max) s->guard.win_max = w;
        }
        s->guard.win_init =
            (int32_t)nghttp2_session_get_remote_settings(ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
        return 0;
    }
    const char *why = "";
    uint32_t code = h2_guard_begin(&s->guard, ng, hd, &why);
    return guard_end(s, code, why);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)ng;
    struct h2_session *s = user;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
        return guard_end(s, h2_guard_settings(&s->guard, &frame->settings),
                         "SETTINGS_INITIAL_WINDOW_SIZE took a stream window past 2^31-1 (RFC "
                         "9113 section 6.9.2)");
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    struct h2_stream *st = stream_of(s, frame->hd.stream_id);
    if (!st) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        st->req.status && !st->done) {
        reject(s, st, st->req.status, "header list too large"); /* no need to wait for a body */
        return 0;
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->streaming) {
        if (st->lv && !st->end_held && (st->blen || h2live_paused(st->lv)))
            st->end_held = 1; /* delivered on resume */
        else if (st->lv && !st->end_held)
            h2live_body(st->lv, NULL, 0, 1);
        if (!st->end_held) st->end_held = 2;
    } else if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->ws)
        h2_ws_eof(s, st); /* the peer's orderly close, as a TCP FIN (RFC 8441 section 6) */
    else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM || (st->connect && !st->done))
        complete(s, st); /* an extended CONNECT: the head is the request */
    else if (frame->hd.type == NGHTTP2_HEADERS && !st->done)
        before_body(s, st);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)code;
    struct h2_session *s = user;
    struct h2_stream *st = stream_of(s, id);
    if (!st) return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    if (st->lv && s->ops.on_live_end)
        s->ops.on_live_end(s->owner, st->lv, code == NGHTTP2_NO_ERROR);
    stream_free(s, st);
    return 0;
}

/* The answer's body: the in-memory bytes, then the file region, then for
 * multipart each next part header and region.  nghttp2 asks only for what
 * the peer's window allows (at most a frame), so nothing is read ahead.
 * read_body only sizes the frame (NGHTTP2_DATA_FLAG_NO_COPY); send_data then
 * writes it straight into the connection's output, so a body is not copied
 * into nghttp2's frame buffer first and out of it again. */
static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *out, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)out;
    (void)user;
    struct h2_stream *st = src->ptr;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    for (;;) {
        size_t mem = buf_len(&st->mem);
        if (st->x.fd >= 0 && !st->checked) {
            /* the file must still be the one the head announced: checked
             * when a region begins (here) and when it ends (send_data), as
             * conn.c checks around sendfile */
            if (!static_xfer_intact(&st->x)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            st->checked = 1;
        }
        uint64_t file = st->x.fd >= 0 ? st->x.end - st->x.off : 0;
        if (mem || file || st->x.fd < 0) {
            size_t n = mem < length ? mem : length;
            if (n < length) n += file < length - n ? (size_t)file : length - n;
            /* the last frame: nothing in memory or the file after it */
            if (n == mem + file && (st->x.fd < 0 || !st->x.parts)) *flags |= NGHTTP2_DATA_FLAG_EOF;
            return (ssize_t)n;
        }
        /* the region is done (and was checked at its end): the next part */
        st->checked = 0;
        if (static_xfer_next(&st->x, &st->mem) < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
}

/* Writes the DATA frame read_body sized: its 9-byte header, then its
 * payload from the stream's memory and the file region, into the output
 * h2_session_send is filling.  A frame that would take that call past
 * SEND_BUDGET waits for the next one (WOULDBLOCK: nghttp2 calls again with
 * the same frame). */
static int send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
                     size_t length, nghttp2_data_source *src, void *user)
{
    (void)ng;
    struct h2_session *s = user;
    struct h2_stream *st = src->ptr;
    struct buf *out = s->out;
    if (buf_len(out) - s->out_start >= SEND_BUDGET) return NGHTTP2_ERR_WOULDBLOCK;
    /* no padding: berth sets no select_padding callback */
    size_t frame_len = 9 + length + (frame->data.padlen ? frame->data.padlen : 0);
    int rc = buf_reserve(out, frame_len);
    if (rc < 0) {
        s->send_rc = rc;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    char *p = buf_tail(out);
    if (st->lv || st->ws) { /* a live exchange's or a WebSocket's bytes (no padding) */
        memcpy(p, framehd, 9);
        if (st->ws)
            h2_ws_copy(st, p + 9, length);
        else if (h2live_copy(st->lv, p + 9, length) < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        buf_commit(out, 9 + length);
        return 0;
    }
    memcpy(p, framehd, 9);
    size_t n = 9;
    if (frame->data.padlen) p[n++] = (char)(frame->data.padlen - 1);
    size_t k = buf_len(&st->mem) < length ? buf_len(&st->mem) : length;
    if (k) { /* an empty buf may have no storage: no memcpy from NULL */
        memcpy(p + n, buf_head(&st->mem), k);
        buf_consume(&st->mem, k);
        n += k;
        h2_pool_shelf_put(s->pool, &st->mem); /* emptied: for the next answer to be built in */
    }
    length -= k;
    while (length) {
        ssize_t r = pread(st->x.fd, p + n, length, (off_t)st->x.off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* error or shrunk */
        st->x.off += (uint64_t)r;
        n += (size_t)r;
        length -= (size_t)r;
    }
    if (st->x.fd >= 0 && st->x.off == st->x.end && !static_xfer_intact(&st->x))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (frame->data.padlen > 1) {
        memset(p + n, 0, frame->data.padlen - 1);
        n += frame->data.padlen - 1;
    }
    buf_commit(out, n);
    return 0;
}

/* h2_respond; take (NULL, or the buffer resp[0..len) is the whole of)
 * gives the in-memory body without a copy: the stream takes its storage. */
static int respond(struct h2_session *s, int32_t stream_id, const char *resp, size_t len,
                   struct http_xfer *x, struct buf *take)
{
    struct http_xfer none = {.fd = -1};
    if (!x) x = &none;
    struct h2_stream *st = stream_of(s, stream_id);
    if (!st || st->responded) {
        static_xfer_end(x);
        return -ENOENT;
    }
    nghttp2_nv nvs[NV_STACK], *nv = nvs;
    const nghttp2_nv *pairs = nvs; /* a kept head's (h2_head), or nv's */
    size_t hl = 0;
    int rc = 0, nnv = h2_heads_get(&s->heads, resp, len, nvs, NV_STACK, &pairs, &hl);
    if (nnv == -2) { /* a head with many fields: one array its size (rare) */
        size_t lines = 1;
        for (const char *p = resp; (p = memchr(p, '\n', (size_t)(resp + len - p))); p++)
            lines++;
        if (!(nv = malloc(lines * sizeof *nv)))
            rc = -ENOMEM;
        else
            nnv = h2_head_nv(resp, len, nv, lines, &hl);
        pairs = nv;
    }
    if (rc == 0 && nnv < 0) rc = BERTH_EPROTO;
    int code = rc == 0 ? (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0') : 0;
    int body = !st->head && code != 204 && code != 304 && code >= 200;
    if (rc == 0 && body && len > hl) {
        if (take && !buf_len(&st->mem)) {
            /* the storage changes hands, the bytes (which pairs may point
             * into until nghttp2 copies them below) stay where they are */
            struct buf mine = st->mem;
            st->mem.data = take->data;
            st->mem.off = take->off;
            st->mem.len = take->len;
            st->mem.cap = take->cap;
            take->data = mine.data;
            take->off = take->len = 0;
            take->cap = mine.cap;
            h2_pool_shelf_get(s->pool, take); /* storage written lately, when mine went there */
            buf_consume(&st->mem, hl);
        } else {
            rc = buf_append(&st->mem, resp + hl, len - hl);
        }
    }
    if (rc == 0 && body && x->fd >= 0) {
        st->x = *x; /* the stream owns it now */
        x->fd = -1;
        x->parts = NULL;
    }
    static_xfer_end(x);
    if (rc == 0) {
        nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
        int has = buf_len(&st->mem) || st->x.fd >= 0;
        if (nghttp2_submit_response(s->ng, stream_id, pairs, (size_t)nnv, has ? &prd : NULL) != 0)
            rc = -ENOMEM;
    }
    if (nv != nvs) free(nv);
    if (rc < 0) {
        buf_clear(&st->mem);
        static_xfer_end(&st->x);
        return rc;
    }
    st->responded = 1;
    st->done = 1;
    return 0;
}

int h2_respond(struct h2_session *s, int32_t stream_id, const char *resp, size_t len,
               struct http_xfer *x)
{
    return respond(s, stream_id, resp, len, x, NULL);
}

int h2_respond_buf(struct h2_session *s, int32_t stream_id, struct buf *resp, struct http_xfer *x)
{
    return respond(s, stream_id, buf_head(resp), buf_len(resp), x, resp);
}

static ssize_t read_live(nghttp2_session *ng, int32_t id, uint8_t *out, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)out;
    (void)user;
    struct h2_stream *st = src->ptr;
    return h2live_read(ng, id, st->lv, length, flags);
}

int h2_respond_live(struct h2_session *s, int32_t stream_id, const char *head, size_t len,
                    struct live *lv, int body)
{
    struct h2_stream *st = stream_of(s, stream_id);
    if (!st || st->responded) return -ENOENT;
    nghttp2_nv nv[NV_STACK];
    size_t hl = 0;
    int nnv = h2_head_nv(head, len, nv, NV_STACK, &hl);
    if (nnv < 0) return nnv == -2 ? -ENOMEM : BERTH_EPROTO;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_live};
    body = body && !st->head;
    if (nghttp2_submit_response(s->ng, stream_id, nv, (size_t)nnv, body ? &prd : NULL) != 0)
        return -ENOMEM;
    st->lv = lv;
    st->responded = st->done = 1;
    return body;
}

int h2_resume(struct h2_session *s, int32_t stream_id)
{
    return nghttp2_session_resume_data(s->ng, stream_id) == 0 ? 0 : -ENOENT;
}

int h2_session_new(struct h2_session **out, const struct h2_conf *conf, const struct h2_ops *ops,
                   void *owner)
{
    struct h2_session *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->conf = *conf;
    if (!s->conf.max_streams) s->conf.max_streams = 100;
    if (!s->conf.max_header) s->conf.max_header = 16384;
    if (!s->conf.max_headers) s->conf.max_headers = 100;
    if (!s->conf.max_body) s->conf.max_body = 1 << 20;
    if (!s->conf.window) s->conf.window = 65535;
    s->ops = *ops;
    s->owner = owner;
    s->error = "";
    h2_guard_init(&s->guard);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rc = nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&opt) ? -ENOMEM : 0;
    if (rc == 0) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
        nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
        nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
        nghttp2_option_set_no_recv_client_magic(opt, conf->preface_consumed);
        /* windows are granted as bodies are consumed (on_data), so a paused
         * streamed body stops its sender */
        nghttp2_option_set_no_auto_window_update(opt, 1);
        nghttp2_option_set_max_outbound_ack(opt, 1000);
        nghttp2_option_set_max_settings(opt, 32);
        nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
        nghttp2_option_set_max_continuations(opt, 8);
        nghttp2_mem mem;
        s->pool = conf->pool ? conf->pool : &s->own;
        h2_pool_mem(s->pool, &mem);
        if (nghttp2_session_server_new3(&s->ng, cb, s, opt, &mem) != 0) rc = -ENOMEM;
    }
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rc == 0) {
        nghttp2_settings_entry set[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->conf.max_streams},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, s->conf.window},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)s->conf.max_header},
            {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}, /* last: sent only with conf.ws */
            /* no SETTINGS_NO_RFC7540_PRIORITIES: with it nghttp2 1.52 keeps
             * no closed stream and reads no PRIORITY payload, so DATA on a
             * closed stream and a self-dependent PRIORITY would be ignored
             * (RFC 9113 §5.1, §6.1, §5.3.1); the tree costs ~2% of an h2
             * request's instructions and is bounded by nghttp2 (closed
             * streams kept: at most SETTINGS_MAX_CONCURRENT_STREAMS; idle
             * ones: 100) */
        };
        if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, set, s->conf.ws ? 4 : 3) != 0)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        h2_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void h2_session_free(struct h2_session *s)
{
    if (!s) return;
    h2_ws_free_all(s);          /* their close callbacks, while nghttp2's session still is */
    nghttp2_session_del(s->ng); /* calls no on_stream_close: the streams left go here */
    while (s->streams)
        stream_free(s, s->streams);
    h2_heads_free(&s->heads); /* after nghttp2_session_del: no frame reads them now */
    h2_pool_free(&s->own);
    free(s);
}

static int ng_error(struct h2_session *s, int rc)
{
    if (!*s->error) s->error = nghttp2_strerror(rc);
    return rc == NGHTTP2_ERR_NOMEM ? -ENOMEM : BERTH_EPROTO;
}

int h2_session_recv(struct h2_session *s, const char *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(s->ng, (const uint8_t *)p, n);
    if (rc >= 0) return 0;
    /* Some fatal errors (a flood, too many CONTINUATION frames) leave no
     * GOAWAY queued: queue one, so the peer learns why (a no-op when
     * nghttp2 or on_header already did). */
    uint32_t code = rc == NGHTTP2_ERR_FLOODED || rc == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ||
                            rc == NGHTTP2_ERR_TOO_MANY_SETTINGS
                        ? NGHTTP2_ENHANCE_YOUR_CALM
                        : NGHTTP2_PROTOCOL_ERROR;
    nghttp2_session_terminate_session(s->ng, code);
    return ng_error(s, (int)rc);
}

ssize_t h2_session_send(struct h2_session *s, struct buf *out)
{
    /* DATA frames go into out from send_data, the other frames are copied
     * from nghttp2's buffer; the budget counts both */
    s->out = out;
    s->out_start = buf_len(out);
    s->send_rc = 0;
    ssize_t rc = 0;
    while (buf_len(out) - s->out_start < SEND_BUDGET) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(s->ng, &d);
        if (n < 0) {
            rc = s->send_rc ? s->send_rc : ng_error(s, (int)n);
            break;
        }
        if (n == 0) {
            /* every frame queued was sent (on_frame_send called for each),
             * or dropped: no HEADERS left to read the kept heads' pairs */
            if (nghttp2_session_get_outbound_queue_size(s->ng) == 0) h2_heads_idle(&s->heads);
            break;
        }
        if ((rc = buf_append(out, d, (size_t)n)) < 0) break;
    }
    s->out = NULL;
    return rc < 0 ? rc : (ssize_t)(buf_len(out) - s->out_start);
}

int h2_want_read(const struct h2_session *s)
{
    return nghttp2_session_want_read(s->ng);
}

int h2_want_write(const struct h2_session *s)
{
    return nghttp2_session_want_write(s->ng);
}

int h2_shutdown(struct h2_session *s)
{
    int32_t last = nghttp2_session_get_last_proc_stream_id(s->ng);
    return nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, NULL, 0)
               ? -ENOMEM
               : 0;
}

const char *h2_error(const struct h2_session *s)
{
    return s->error;
}
