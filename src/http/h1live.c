/* h1live — a live exchange on an HTTP/1.1 connection (contract in
 * h1live.h). */
#include "http/h1live.h"

#include "http/conn.h"
#include "http/live.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/server.h"
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PUMP_HIGH (256 * 1024) /* answer bytes moved into c->out per pump, about */
#define FAR_MS    (24ull * 3600 * 1000)

static int paused(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    int p = lv->paused;
    pthread_mutex_unlock(&lv->mu);
    return p;
}

/* The client broke the body's framing: nothing sensible can follow. */
static void body_broken(struct conn *c, struct live *lv, int status)
{
    c->closing = 1;
    lv->body_done = 1;
    if (lv->tail_out) return; /* the answer is whole: it goes out, then the close */
    /* the program that holds the request hears it is gone (it would wait
     * for the body's end forever); no answer began: the client learns why;
     * one began: it is cut short, the close tells the client */
    c->lv = NULL;
    if (!lv->head_out)
        conn_error(c, &lv->lreq, status, NULL,
                   status == 413     ? "The request body is too large."
                   : lv->chunk.error ? lv->chunk.error
                                     : "The chunked body is malformed.");
    live_gone(lv);
}

size_t h1live_body(struct conn *c, const char *p, size_t n)
{
    struct live *lv = c->lv;
    size_t used = 0;
    while (used < n && !lv->body_done && !lv->cont_due && !paused(lv)) {
        const char *d = p + used;
        size_t dl;
        int end;
        if (!lv->body_chunked) {
            dl = n - used < lv->body_left ? n - used : (size_t)lv->body_left;
            used += dl;
            lv->body_left -= dl;
            end = lv->body_left == 0;
        } else {
            size_t u;
            char *dst = (char *)(uintptr_t)d; /* decoded in place: never overtakes */
            dl = 0;
            int rc = http_chunked_feed(&lv->chunk, d, n - used, &u, dst, &dl);
            used += u;
            if (rc < 0) {
                body_broken(c, lv, -rc);
                return n;
            }
            end = rc == 1;
        }
        lv->body_done = (uint8_t)end;
        /* a program that answered already let go of the request: the rest
         * of the body is read (the connection may go on) and dropped */
        if ((dl || end) && live_held(lv)) {
            lv->in_cb = 1;
            lv->on_body(&lv->q, d, dl, end, lv->route_arg);
            lv->in_cb = 0;
        }
    }
    if (used) conn_deadline(c, (uint64_t)c->w->s->o.header_timeout_ms);
    return used;
}

/* The head of the answer, in HTTP/1.1 form, into c->out. */
static int head(struct conn *c, struct live *lv)
{
    struct buf *o = &c->out;
    int keep = !c->closing && lv->framing != LIVE_CLOSE;
    int rc = resp_head(o, lv->status, keep, lv->lreq.version == 10 ? 10 : 11);
    char line[64];
    int n = 0;
    if (lv->status != 204 && lv->status != 304) {
        if (lv->framing == LIVE_LENGTH)
            n = snprintf(line, sizeof line, "Content-Length: %lld\r\n", lv->length);
        else if (lv->framing == LIVE_CHUNKED)
            n = snprintf(line, sizeof line, "Transfer-Encoding: chunked\r\n");
    }
    if (rc >= 0 && n) rc = buf_append(o, line, (size_t)n);
    if (rc >= 0 && buf_len(&lv->q.extra))
        rc = buf_append(o, buf_head(&lv->q.extra), buf_len(&lv->q.extra));
    if (rc >= 0) rc = buf_append(o, "\r\n", 2);
    if (lv->framing == LIVE_CLOSE) c->closing = 1;
    if (c->w->s->o.http10 && buf_len(o) >= 8 && !memcmp(buf_head(o), "HTTP/1.1", 8))
        o->data[o->off + 7] = '0';
    return rc < 0 ? rc : 0;
}

int h1live_pump(struct conn *c)
{
    struct live *lv = c->lv;
    struct seg *done = NULL;
    int moved = 0, rc = 0;
    http_date_tick(); /* the head's Date: this may run from a wake-up */
    pthread_mutex_lock(&lv->mu);
    if (lv->cont_due && !lv->paused && !lv->started) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        rc = buf_append(&c->out, cont, sizeof cont - 1);
        lv->cont_due = 0;
        moved = 1;
    } else if (lv->cont_due && lv->started) {
        /* answered before asking for the body: it will not come */
        lv->cont_due = 0;
        lv->body_done = 1;
        c->closing = 1;
    }
    if (rc == 0 && !lv->head_out && lv->started) {
        rc = head(c, lv);
        lv->head_out = 1;
        moved = 1;
    }
    while (rc == 0 && lv->head_out && lv->first && buf_len(&c->out) < PUMP_HIGH && c->x.fd < 0) {
        struct seg *s = live_pop(lv);
        if (s->fd >= 0) {
            struct stat st;
            if (fstat(s->fd, &st) < 0) rc = -errno;
            c->x = (struct http_xfer){.fd = s->fd,
                                      .off = s->off,
                                      .end = s->end,
                                      .size = (uint64_t)st.st_size,
                                      .mtime_sec = (int64_t)st.st_mtim.tv_sec,
                                      .mtime_nsec = st.st_mtim.tv_nsec};
            s->fd = -1;
            lv->sent += s->end - s->off;
        } else if (s->len) {
            rc = buf_append(&c->out, s->p, s->len);
            lv->sent += s->len;
        }
        s->next = done;
        done = s;
        moved = 1;
    }
    if (rc == 0 && lv->head_out && !lv->first && lv->ended && !lv->tail_out) {
        if (lv->framing == LIVE_CHUNKED && !lv->nobody) {
            rc = buf_append(&c->out, "0\r\n", 3);
            if (rc == 0 && buf_len(&lv->trailers))
                rc = buf_append(&c->out, buf_head(&lv->trailers), buf_len(&lv->trailers));
            if (rc == 0) rc = buf_append(&c->out, "\r\n", 2);
        }
        /* fewer bytes than announced: only a close tells the client */
        if (lv->framing == LIVE_LENGTH && lv->length >= 0 && lv->written < (uint64_t)lv->length &&
            !lv->nobody)
            c->closing = 1;
        lv->tail_out = 1;
        moved = 1;
    }
    pthread_mutex_unlock(&lv->mu);
    while (done) { /* the program's release callbacks run without the lock */
        struct seg *next = done->next;
        live_seg_free(done);
        done = next;
    }
    live_notify(lv);
    return rc < 0 ? -1 : moved;
}

int h1live_done(struct conn *c)
{
    struct live *lv = c->lv;
    if (!lv->tail_out) return 0;
    if (!lv->body_done) c->closing = 1; /* the rest of the body is not read */
    c->lv = NULL;
    conn_count(c, &lv->lreq, lv->status);
    reqlog_access(c, &lv->lreq, lv->status, lv->nobody ? 0 : lv->written);
    c->served = 1;
    live_detach(lv);
    live_unref(lv);
    return 1;
}

void h1live_wait(struct conn *c)
{
    struct live *lv = c->lv;
    int reading = !lv->body_done && !lv->cont_due && !paused(lv);
    /* while the program holds the answer the connection is still read: the
     * client's close is how it learns the client went away (input past
     * the buffer's limit ends the connection) */
    unsigned ev = reading || (lv->body_done && buf_len(&c->in) < WORKER_SCRATCH) ? c->t.rwant : 0;
    if (loop_io_set(c->w->loop, c->t.fd, ev, conn_on_event, c) < 0) {
        conn_close(c);
        return;
    }
    conn_deadline(c, reading ? (uint64_t)c->w->s->o.header_timeout_ms : FAR_MS);
}
