/* exchange — a request's answer: the server's own paths, routes and their
 * handlers, then static files (contract in exchange.h).  Protocol-agnostic
 * apart from the HTTP/1.1 body framing a handler's request needs first. */
#include "http/exchange.h"
#include "http/live.h"

#include "http/server.h"

#include "buf.h"
#include "http/admin.h"
#include "http/conn.h"
#include "http/path.h"
#include "http/preflight.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/route.h"
#include "http/static.h"
#include "loop.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The request as a handler sees it: q's views of r, its query copied out
 * of the target into query[] (NUL-terminated; a longer one, possible with
 * a max_header over 8 KiB, into *heap, which the caller frees after the
 * handler), the route's match.  -ENOMEM when that copy cannot be made. */
static int req_fill(struct berth_req *q, struct conn *c, const struct route *rt,
                    const struct http_request *r, const char *path, const struct route_match *mt,
                    char *query, size_t qsize, char **heap)
{
    *q = (struct berth_req){.c = c, .r = r, .path = path, .rt = rt, .remainder = mt->rest};
    memcpy(q->params, mt->params, sizeof q->params);
    const char *qm = memchr(r->path.p, '?', r->path.n);
    size_t ql = qm ? r->path.n - (size_t)(qm + 1 - r->path.p) : 0;
    *heap = NULL;
    if (ql >= qsize && !(query = *heap = malloc(ql + 1))) return -ENOMEM;
    memcpy(query, qm ? qm + 1 : "", ql);
    query[ql] = '\0';
    q->query = query;
    size_t ml = r->method_str.n < sizeof q->method ? r->method_str.n : sizeof q->method - 1;
    memcpy(q->method, r->method_str.p, ml);
    q->method[ml] = '\0';
    buf_init(&q->extra, 64 * 1024);
    return 0;
}

/* A live exchange begins on c: HTTP/1.1 keeps it on the connection (its
 * answer is pumped by exchange_h1_pump), h2 hands it to the stream. */
static void attach(struct conn *c, struct live *lv, struct live **out)
{
    lv->q.r = NULL;
    if (out) {
        *out = lv;
        return;
    }
    c->lv = lv;
}

static void run_handler(struct conn *c, const struct route *rt, const struct http_request *r,
                        const char *path, const struct route_match *mt, const char *body,
                        size_t body_len, struct live **out)
{
    struct berth_req q;
    char query[8192], *heap;
    if (req_fill(&q, c, rt, r, path, mt, query, sizeof query, &heap) < 0) {
        conn_error(c, r, 500, NULL, NULL);
        return;
    }
    q.body = body;
    q.body_len = body_len;
    rt->h(&q, rt->arg);
    free(heap); /* a live copied it (live_new) */
    if (q.lv) {
        /* deferred, or a streamed answer: counted and logged when it ends */
        struct live *lv = q.lv;
        lv->body_done = 1;
        lv->max_queue = rt->ro.max_queue ? rt->ro.max_queue : lv->max_queue;
        pthread_mutex_lock(&lv->mu);
        int orphan = !lv->app_ref && !lv->ended; /* callbacks set, nobody to answer */
        pthread_mutex_unlock(&lv->mu);
        if (orphan) {
            static const char why[] = "The handler gave no answer.\n";
            live_respond(lv, 500, "text/plain", why, sizeof why - 1);
        }
        attach(c, lv, out);
    } else if (!q.status) {
        conn_error(c, r, 500, NULL, "The handler gave no answer.");
    } else {
        conn_count(c, r, q.status);
        reqlog_access(c, r, q.status, q.bytes);
    }
    buf_free(&q.extra);
}

/* A route with a streamed body: the handler runs on the head (with the
 * live handle), the body follows to on_body (exchange_h1_body). */
static void stream_start(struct conn *c, const struct route *rt, const struct http_request *r,
                         const char *path, const struct route_match *mt, uint64_t limit,
                         const char *body, size_t blen, struct live **out)
{
    struct berth_req q;
    char query[8192], *heap;
    struct live *lv = NULL;
    if (req_fill(&q, c, rt, r, path, mt, query, sizeof query, &heap) == 0) {
        lv = live_new(c, &q);
        free(heap); /* copied */
    }
    if (!lv) {
        buf_free(&q.extra);
        c->closing = 1;
        conn_error(c, r, 500, NULL, NULL);
        return;
    }
    lv->on_body = rt->ro.on_body;
    lv->route_arg = rt->arg;
    if (rt->ro.max_queue) lv->max_queue = rt->ro.max_queue;
    lv->body_left = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    lv->body_chunked = (uint8_t)r->chunked;
    if (r->chunked) http_chunked_init(&lv->chunk, limit == UINT64_MAX ? 0 : limit);
    lv->body_done = !lv->body_left && !r->chunked;
    live_app_ref(lv); /* the handler's: it answers now or later */
    lv->q.r = r;
    if (out && !body) { /* h2, on the head: DATA goes to on_body as it comes */
        lv->body_done = 0;
        rt->h(&lv->q, rt->arg);
        attach(c, lv, out);
        return;
    }
    if (out) { /* h2: the body came whole; on_body gets it in one piece */
        rt->h(&lv->q, rt->arg);
        lv->q.r = NULL;
        lv->body_done = 1;
        lv->in_cb = 1;
        if (live_held(lv)) lv->on_body(&lv->q, blen ? body : NULL, blen, 1, lv->route_arg);
        lv->in_cb = 0;
        attach(c, lv, out);
        return;
    }
    c->lv = lv;
    rt->h(&lv->q, rt->arg);
    lv->q.r = NULL;
    if (!lv->body_done && r->expect_continue) {
        pthread_mutex_lock(&lv->mu);
        int answered = lv->started || lv->ended;
        pthread_mutex_unlock(&lv->mu);
        if (answered) {
            /* no 100 was sent: the client will not send the body */
            c->closing = 1;
            lv->body_done = 1;
        } else {
            lv->cont_due = 1; /* sent when the body is first wanted */
        }
    }
    if (lv->body_done && !lv->body_left && !r->chunked && live_held(lv)) {
        lv->in_cb = 1;
        lv->on_body(&lv->q, NULL, 0, 1, lv->route_arg);
        lv->in_cb = 0;
    }
}

/* 1 when r carries an expectation other than 100-continue (RFC 9110
 * §10.1.1: 417); HTTP/1.0 ignores Expect */
static int expect_unsupported(const struct http_request *r)
{
    if (r->version == 10) return 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (http_str_eq_ci(r->headers[i].name, "expect") &&
            !http_str_eq_ci(r->headers[i].value, "100-continue"))
            return 1;
    return 0;
}

/* 1 when r's body has a transfer coding besides chunked (gzip, chunked):
 * the parser frames such a body, but only chunked is decoded, so a handler
 * would get coded bytes as the content (RFC 9112 §6.1: 501) */
static int coded_body(const struct http_request *r)
{
    if (!r->chunked) return 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!http_str_eq_ci(r->headers[i].name, "transfer-encoding")) continue;
        const char *p = r->headers[i].value.p, *e = p + r->headers[i].value.n;
        while (p < e) {
            const char *c = p;
            while (p < e && *p != ',')
                p++;
            const char *ce = p;
            while (c < ce && (*c == ' ' || *c == '\t'))
                c++;
            while (ce > c && (ce[-1] == ' ' || ce[-1] == '\t'))
                ce--;
            if (ce > c && !http_str_eq_ci(http_str_make(c, (size_t)(ce - c)), "chunked")) return 1;
            if (p < e) p++;
        }
    }
    return 0;
}

/* Drops what was appended for c's current answer since mark — before any of
 * it is sent — so a failure midway is answered with a whole error response,
 * never one spliced into a body already announced. */
static void answer_abort(struct conn *c, size_t mark)
{
    buf_truncate(&c->w->out, mark);
    if (c->x.fd >= 0) close(c->x.fd);
    c->x.fd = -1;
    c->closing = 1;
}

/* Logs a static answer now, or when its file transfer ends. */
static void log_answer(struct conn *c, const struct http_request *r, int status, uint64_t bytes)
{
    conn_count(c, r, status);
    if (c->x.fd >= 0 && bytes && !c->h2) /* an h2 stream owns its transfer: logged now */
        reqlog_defer(c, r, status, bytes);
    else
        reqlog_access(c, r, status, bytes);
}

/* Scans a handler's chunked body at p[0..n) (resuming where the last call
 * stopped).  1 with *raw = its encoded length once complete, 0 while more
 * must arrive, or -400/-413. */
static int chunked_body(struct conn *c, const char *p, size_t n, size_t *raw, uint64_t limit)
{
    if (!c->chunking) {
        http_chunked_init(&c->chunk, limit);
        c->chunking = 1;
        c->chunk_seen = 0;
    }
    size_t used;
    int rc = http_chunked_feed(&c->chunk, p + c->chunk_seen, n - c->chunk_seen, &used, NULL, NULL);
    c->chunk_seen += used;
    if (rc == 1) *raw = c->chunk_seen;
    return rc;
}

/* Decodes a complete chunked body of raw bytes in place; returns the data
 * length (the scan already proved the framing valid and within limits). */
static size_t chunked_decode(char *p, size_t raw)
{
    struct http_chunked d;
    size_t used, len = 0;
    http_chunked_init(&d, 0);
    http_chunked_feed(&d, p, raw, &used, p, &len);
    return len;
}

/* Answers one parsed request whose head is hlen bytes at p, with avail bytes
 * of input from p on.  Returns the bytes consumed, or 0 when a handler's
 * body has not fully arrived yet. */
/* exchange_h1, and for h2 (lvout set) exchange_answer */
/* The end of an answer that did not need the request's body: the body is
 * read and dropped (or the connection closed), so the next request starts
 * where this one ends. */
static size_t skip_body(struct conn *c, const struct http_request *r, size_t hlen, size_t avail)
{
    uint64_t cl = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    if ((cl || r->chunked) && r->expect_continue) {
        /* we never said 100 Continue: the client may not send the body */
        c->closing = 1;
        return avail;
    }
    /* the answer did not need the body: it is read and dropped, so the next
     * request starts where this one ends, within a bounded time */
    c->discard = cl;
    if (r->chunked) {
        http_chunked_init(&c->chunk, 0);
        c->dechunk = 1;
    }
    if (cl || r->chunked) {
        c->body_start = loop_now(c->w->loop);
        c->body_seen = 0;
    }
    return hlen;
}

/* answer() past the static hit: the path normalised, routes, the server's
 * own paths, static_serve.  Out of line, so the hit's frame stays small
 * (this one holds the normalised path). */
static size_t __attribute__((noinline))
answer_path(struct conn *c, const struct http_request *r, const char *p, size_t hlen, size_t avail,
            struct live **lvout, size_t mark)
{
    struct worker *w = c->w;
    struct berth_server *s = w->s;
    uint64_t cl = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    int head = r->method == HTTP_HEAD;
    char path[8200];
    int pl = 0;
    if (r->path.n == 1 && r->path.p[0] == '*') {
        if (r->method == HTTP_OPTIONS) {
            if (resp_simple(&w->out, 204, !c->closing, r->version, 0,
                            "Allow: GET, HEAD, OPTIONS\r\n", NULL, NULL, 0) < 0)
                c->closing = 1;
            conn_count(c, r, 204);
            reqlog_access(c, r, 204, 0);
        } else {
            conn_error(c, r, 400, NULL, "'*' is only for OPTIONS.");
        }
        return skip_body(c, r, hlen, avail);
    }
    pl = http_path_normalize(r->path.p, r->path.n, path, sizeof path);
    if (pl < 0) {
        c->closing = 1;
        conn_error(c, r, -pl, NULL, "The request path is malformed.");
        return avail;
    }

    char allow[ROUTE_ALLOW_MAX];
    struct route_match mt = {.rest = ""};
    const struct route *rt = route_find(s->routes, s->nroutes, r->method_str.p, r->method_str.n,
                                        path, s->sc.rootfd >= 0, allow, sizeof allow, &mt);
    if (!rt && preflight_answer(c, r, allow))
        return skip_body(c, r, hlen, avail); /* --cors (http/preflight) */
    if (rt) {
        uint64_t limit = rt->ro.max_body  ? rt->ro.max_body
                         : rt->ro.on_body ? UINT64_MAX
                                          : s->o.max_body;
        if (expect_unsupported(r)) {
            c->closing = 1;
            conn_error(c, r, 417, NULL, "Only the expectation 100-continue is supported.");
            return avail;
        }
        if (cl > limit) {
            c->closing = 1;
            conn_error(c, r, 413, NULL, "The request body is too large.");
            return avail;
        }
        if (coded_body(r)) {
            c->closing = 1;
            conn_error(c, r, 501, NULL,
                       "Only the chunked transfer coding is decoded; send the body chunked "
                       "alone.");
            return avail;
        }
        if (rt->ro.on_body) {
            stream_start(c, rt, r, path, &mt, limit, lvout ? p + hlen : NULL, avail - hlen, lvout);
            return lvout ? avail : hlen;
        }
        /* the whole body is buffered: room for it (saturating, for a limit
         * such as ULLONG_MAX) */
        uint64_t room = s->o.max_header + WORKER_SCRATCH;
        room = limit > SIZE_MAX - room ? SIZE_MAX : room + limit;
        if (limit > s->o.max_body && c->in.max < room) c->in.max = (size_t)room;
        size_t raw = r->chunked ? 0 : (size_t)cl;
        if (r->chunked) {
            int rc = chunked_body(c, p + hlen, avail - hlen, &raw, limit);
            if (rc < 0) {
                c->closing = 1;
                conn_error(c, r, -rc, NULL,
                           rc == -413 ? "The request body is too large." : c->chunk.error);
                return avail;
            }
            if (rc == 0) raw = SIZE_MAX;
        }
        if (raw == SIZE_MAX || avail - hlen < raw) {
            if (r->expect_continue && !c->continued) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                buf_append(&w->out, cont, sizeof cont - 1);
                c->continued = 1;
            }
            c->body_wait = 1;
            return 0;
        }
        size_t blen = (size_t)cl;
        if (r->chunked) blen = chunked_decode((char *)p + hlen, raw);
        run_handler(c, rt, r, path, &mt, p + hlen, blen, lvout);
        return hlen + raw;
    }
    if ((cl || r->chunked) && r->expect_continue) c->closing = 1; /* no route: no 100 Continue */
    if (allow[0]) {
        /* routes cover the path, none takes this method */
        if (r->method != HTTP_OPTIONS) {
            conn_error(c, r, 405, allow, "No route here answers this method.");
        } else {
            if (resp_simple(&w->out, 204, !c->closing, r->version, 0, allow, NULL, NULL, 0) < 0)
                c->closing = 1;
            conn_count(c, r, 204);
            reqlog_access(c, r, 204, 0);
        }
        return skip_body(c, r, hlen, avail);
    }

    if (!s->sc.rootfd || s->sc.rootfd < 0) {
        conn_error(c, r, 404, NULL, "Nothing is served here.");
    } else if (r->method == HTTP_GET || r->method == HTTP_HEAD) {
        uint64_t bytes = 0;
        int st = static_serve(&s->sc, w->cache, r, path, !c->closing, &w->out, &c->x, &bytes);
        if (st < 0) {
            answer_abort(c, mark);
            conn_error(c, r, 500, NULL, NULL);
        } else {
            log_answer(c, r, st, head ? 0 : bytes);
        }
    } else if (r->method == HTTP_OPTIONS) {
        if (resp_simple(&w->out, 204, !c->closing, r->version, 0, "Allow: GET, HEAD, OPTIONS\r\n",
                        NULL, NULL, 0) < 0)
            c->closing = 1;
        conn_count(c, r, 204);
        reqlog_access(c, r, 204, 0);
    } else if (r->method == HTTP_OTHER) {
        /* not a method we know at all (RFC 9110 §9.1); methods are
         * case-sensitive, so "get" is one of these */
        conn_error(c, r, 501, "Allow: GET, HEAD, OPTIONS\r\n",
                   "This method is not one the server implements; static files answer GET, "
                   "HEAD and OPTIONS.");
    } else {
        conn_error(c, r, 405, "Allow: GET, HEAD, OPTIONS\r\n",
                   "Static files answer GET, HEAD and OPTIONS.");
    }
    return skip_body(c, r, hlen, avail);
}

static size_t answer(struct conn *c, const struct http_request *r, const char *p, size_t hlen,
                     size_t avail, struct live **lvout)
{
    struct worker *w = c->w;
    struct berth_server *s = w->s;
    int head = r->method == HTTP_HEAD;
    /* stopping, or in the grace before it: each answer closes its connection,
     * so a balancer's keep-alive pool empties before the drain cuts it */
    if (!r->keep_alive || s->o.http10 || w->stopping ||
        __atomic_load_n(&s->stopped, __ATOMIC_RELAXED))
        c->closing = 1;
    /* a body held back for a 100 Continue only a route sends: any other
     * answer closes (skip_body), and must say so in itself (RFC 9110 §10.1.1
     * SHOULD, RFC 9112 §9.6), so decide before it is built */
    if ((r->content_length > 0 || r->chunked) && r->expect_continue && !s->nroutes) c->closing = 1;
    if ((s->admin || s->o.health) && admin_answer(c, r)) return skip_body(c, r, hlen, avail);

    size_t mark = buf_len(&w->out);
    if (!s->nroutes && s->sc.rootfd >= 0 && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
        uint64_t bytes = 0;
        int st = static_serve_again(&s->sc, w->cache, r, !c->closing, &w->out, &c->x, &bytes);
        if (st > 0) {
            log_answer(c, r, st, head ? 0 : bytes);
            return skip_body(c, r, hlen, avail);
        }
        if (st < 0) {
            answer_abort(c, mark);
            conn_error(c, r, 500, NULL, NULL);
            return skip_body(c, r, hlen, avail);
        }
    }

    return answer_path(c, r, p, hlen, avail, lvout, mark);
}

size_t exchange_h1(struct conn *c, const struct http_request *r, const char *p, size_t hlen,
                   size_t avail)
{
    /* A chunked body that came with its head is checked before anything is
     * answered: most answers (a static file, a 405) do not wait for the body,
     * and one that cannot be parsed must be a 400, not a 200 followed by a
     * close at the bad chunk (RFC 9112 §7.1, §8; what nginx and h2o say).
     * A body still on its way is checked as it is dropped or read; a
     * route's body being gathered (chunking) is checked where it resumes,
     * not rescanned from its start on every read. */
    if (r->chunked && avail > hlen && !c->chunking) {
        struct http_chunked d;
        size_t used;
        http_chunked_init(&d, 0);
        if (http_chunked_feed(&d, p + hlen, avail - hlen, &used, NULL, NULL) == -400) {
            c->closing = 1;
            conn_error(c, r, 400, NULL, d.error);
            return avail;
        }
    }
    return answer(c, r, p, hlen, avail, NULL);
}

void exchange_answer(struct conn *c, const struct http_request *r, const char *body, size_t len,
                     struct http_xfer *x, struct live **lv)
{
    /* answer() as for an HTTP/1.1 request whose body follows its head: what
     * it decides about the connection (close, drop a body) is h1's and is
     * undone; the answer and its file transfer are what the caller takes */
    uint8_t closing = c->closing;
    c->closing = 0;
    *lv = NULL;
    (void)answer(c, r, body ? body : "", 0, len, lv); /* no arithmetic on NULL */
    c->closing = closing;
    c->discard = c->dechunk = c->chunking = c->continued = 0;
    *x = c->x;
    c->x.fd = -1;
    c->x.parts = NULL;
}

void exchange_head(struct conn *c, const struct http_request *r, uint64_t *limit, struct live **lv)
{
    struct berth_server *s = c->w->s;
    char path[8200], allow[ROUTE_ALLOW_MAX];
    *lv = NULL;
    if (!s->nroutes || r->path.n == 0 || r->path.p[0] != '/') return;
    if (http_path_normalize(r->path.p, r->path.n, path, sizeof path) < 0) return;
    struct route_match mt = {.rest = ""};
    const struct route *rt = route_find(s->routes, s->nroutes, r->method_str.p, r->method_str.n,
                                        path, s->sc.rootfd >= 0, allow, sizeof allow, &mt);
    if (!rt) return;
    uint64_t lim = rt->ro.max_body ? rt->ro.max_body : rt->ro.on_body ? UINT64_MAX : s->o.max_body;
    *limit = lim;
    if (!rt->ro.on_body || (r->content_length > 0 && (uint64_t)r->content_length > lim)) return;
    stream_start(c, rt, r, path, &mt, lim, NULL, 0, lv);
}
