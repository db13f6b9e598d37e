/* exchange — a request's answer: the server's own paths, routes and their
 * handlers, then static files (contract in exchange.h).  Protocol-agnostic
 * apart from the HTTP/1.1 body framing a handler's request needs first. */
#include "http/exchange.h"

#include "http/server.h"

#include "buf.h"
#include "http/admin.h"
#include "http/conn.h"
#include "http/path.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/route.h"
#include "http/static.h"
#include "loop.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static void run_handler(struct conn *c, const struct route *rt, const struct http_request *r,
                        const char *path, const char *body, size_t body_len)
{
    struct berth_req q = {.c = c, .r = r, .path = path, .body = body, .body_len = body_len};
    char query[8192];
    const char *qm = memchr(r->path.p, '?', r->path.n);
    size_t ql = qm ? r->path.n - (size_t)(qm + 1 - r->path.p) : 0;
    if (ql >= sizeof query) ql = sizeof query - 1;
    memcpy(query, qm ? qm + 1 : "", ql);
    query[ql] = '\0';
    q.query = query;
    size_t ml = r->method_str.n < sizeof q.method ? r->method_str.n : sizeof q.method - 1;
    memcpy(q.method, r->method_str.p, ml);
    q.method[ml] = '\0';
    buf_init(&q.extra, 64 * 1024);
    rt->h(&q, rt->arg);
    if (!q.status) {
        conn_error(c, r, 500, NULL, "The handler gave no answer.");
    } else {
        conn_count(c, r, q.status);
        reqlog_access(c, r, q.status, q.bytes);
    }
    buf_free(&q.extra);
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
static int chunked_body(struct conn *c, const char *p, size_t n, size_t *raw)
{
    if (!c->chunking) {
        http_chunked_init(&c->chunk, c->w->s->o.max_body);
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
size_t exchange_h1(struct conn *c, const struct http_request *r, const char *p, size_t hlen,
                   size_t avail)
{
    struct worker *w = c->w;
    struct berth_server *s = w->s;
    uint64_t cl = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    int head = r->method == HTTP_HEAD;
    /* stopping, or in the grace before it: each answer closes its connection,
     * so a balancer's keep-alive pool empties before the drain cuts it */
    if (!r->keep_alive || s->o.http10 || w->stopping ||
        __atomic_load_n(&s->stopped, __ATOMIC_RELAXED))
        c->closing = 1;
    if ((s->admin || s->o.health) && admin_answer(c, r)) goto skip_body;

    size_t mark = buf_len(&w->out);
    if (!s->nroutes && s->sc.rootfd >= 0 && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
        uint64_t bytes = 0;
        int st = static_serve_again(&s->sc, w->cache, r, !c->closing, &w->out, &c->x, &bytes);
        if (st > 0) {
            log_answer(c, r, st, head ? 0 : bytes);
            goto skip_body;
        }
        if (st < 0) {
            answer_abort(c, mark);
            conn_error(c, r, 500, NULL, NULL);
            goto skip_body;
        }
    }

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
        goto skip_body;
    }
    pl = http_path_normalize(r->path.p, r->path.n, path, sizeof path);
    if (pl < 0) {
        c->closing = 1;
        conn_error(c, r, -pl, NULL, "The request path is malformed.");
        return avail;
    }

    char allow[ROUTE_ALLOW_MAX];
    const struct route *rt = route_find(s->routes, s->nroutes, r->method_str.p, r->method_str.n,
                                        path, s->sc.rootfd >= 0, allow, sizeof allow);
    if (rt) {
        if (cl > s->o.max_body) {
            c->closing = 1;
            conn_error(c, r, 413, NULL, "The request body is too large.");
            return avail;
        }
        size_t raw = r->chunked ? 0 : (size_t)cl;
        if (r->chunked) {
            int rc = chunked_body(c, p + hlen, avail - hlen, &raw);
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
        run_handler(c, rt, r, path, p + hlen, blen);
        return hlen + raw;
    }
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
        goto skip_body;
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
    } else {
        conn_error(c, r, 405, "Allow: GET, HEAD, OPTIONS\r\n",
                   "Static files answer GET, HEAD and OPTIONS.");
    }
skip_body:
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
        c->body_start = loop_now(w->loop);
        c->body_seen = 0;
    }
    return hlen;
}

void exchange_answer(struct conn *c, const struct http_request *r, const char *body, size_t len,
                     struct http_xfer *x)
{
    /* exchange_h1() as for an HTTP/1.1 request whose body follows its head: what
     * it decides about the connection (close, drop a body) is h1's and is
     * undone; the answer and its file transfer are what the caller takes */
    uint8_t closing = c->closing;
    c->closing = 0;
    (void)exchange_h1(c, r, body ? body : "", 0, len); /* no arithmetic on NULL */
    c->closing = closing;
    c->discard = c->dechunk = c->chunking = c->continued = 0;
    *x = c->x;
    c->x.fd = -1;
    c->x.parts = NULL;
}
