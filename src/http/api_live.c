/* api_live — the berth.h calls of API v2 that keep a request past its
 * handler call: deferring, streamed answers, the body's pause and resume,
 * the request's callbacks.  The mechanics are http/live's; the HTTP/1.1 and
 * h2 sessions move what is queued here to the client. */
#include "http/live.h"

#include "err.h"
#include "http/field.h"
#include "http/resp.h"
#include "http/route.h"
#include "http/server.h"
#include "http/str.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The live of req, locked, or NULL (an exchange within its handler call). */
static struct live *lock(const berth_req *req)
{
    struct live *lv = req->lv;
    if (lv) pthread_mutex_lock(&lv->mu);
    return lv;
}

static int unlock(struct live *lv, int rc)
{
    pthread_mutex_unlock(&lv->mu);
    return rc;
}

/* The live of a request still in its handler call, made now (the program
 * takes its reference): what berth_req_defer and a streamed answer begun in
 * the handler need. */
static struct live *promote(berth_req *req)
{
    struct live *lv = req->lv;
    if (!lv) {
        if (!req->c || req->status) return NULL;
        if (!(lv = live_new(req->c, req))) return NULL;
        buf_init(&req->extra, 64 * 1024); /* the fields moved into the live */
        req->lv = lv;
        lv->q.r = req->r; /* the handle reads the request until the handler returns (attach) */
        if (req->rt && req->rt->ro.max_queue) lv->max_queue = req->rt->ro.max_queue; /* now */
    }
    /* An h2 extended CONNECT (RFC 8441) outlives its request's fields: its
     * :protocol is remembered for start (h2_req lets only "websocket" reach
     * a handler, so the literal is its value) */
    if (req->r && req->r->protocol.p) lv->lreq.protocol = http_str_make("websocket", 9);
    return lv;
}

int berth_req_defer(berth_req *req, berth_req **handle)
{
    if (!req || !handle) return BERTH_EUSAGE;
    if (!req->lv && req->status) return BERTH_EUSAGE;
    struct live *lv = promote(req);
    if (!lv) return -ENOMEM;
    pthread_mutex_lock(&lv->mu);
    if (lv->ended) return unlock(lv, BERTH_EUSAGE);
    live_app_ref(lv);
    *handle = &lv->q;
    return unlock(lv, 0);
}

int berth_req_callbacks(berth_req *req, berth_event_cb *writable, berth_event_cb *gone, void *arg)
{
    struct live *lv = promote(req);
    if (!lv) return req->status ? BERTH_EUSAGE : -ENOMEM;
    pthread_mutex_lock(&lv->mu);
    lv->writable = writable;
    lv->gone_cb = gone;
    lv->cb_arg = arg;
    return unlock(lv, 0);
}

void berth_req_set_user(berth_req *req, void *user)
{
    if (req->lv)
        req->lv->q.user = user;
    else
        req->user = user;
}

void *berth_req_user(const berth_req *req)
{
    return req->lv ? req->lv->q.user : req->user;
}

int berth_req_pause(berth_req *req)
{
    struct live *lv = lock(req);
    if (!lv) return BERTH_EUSAGE; /* only a streamed body can be held back */
    if (!lv->on_body || lv->body_done) return unlock(lv, BERTH_EUSAGE);
    lv->paused = 1;
    return unlock(lv, 0);
}

int berth_req_resume(berth_req *req)
{
    struct live *lv = lock(req);
    if (!lv) return BERTH_EUSAGE;
    if (lv->gone) return unlock(lv, BERTH_EGONE);
    if (lv->paused) {
        lv->paused = 0;
        live_poke(lv);
    }
    return unlock(lv, 0);
}

/* "Name: value\r\n" into b after the checks of berth_resp_header */
static int add_field(struct buf *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (!http_field_token(name, nl) || !http_field_value(value, vl)) return BERTH_EFIELD;
    if (http_field_reserved(name, nl)) return BERTH_ERESERVED;
    int rc = buf_reserve(b, nl + vl + 4);
    if (rc < 0) return rc;
    buf_append(b, name, nl);
    buf_append(b, ": ", 2);
    buf_append(b, value, vl);
    buf_append(b, "\r\n", 2);
    return 0;
}

/* 1 when the field lines in b have one called name */
static int has(const struct buf *b, const char *name)
{
    const char *p = buf_head(b), *end = p ? p + buf_len(b) : p;
    while (p && p < end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon) break;
        if (http_str_eq_ci(http_str_make(p, (size_t)(colon - p)), name)) return 1;
        const char *nl = memchr(colon, '\n', (size_t)(end - colon));
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

int live_resp_header(struct live *lv, const char *name, const char *value)
{
    pthread_mutex_lock(&lv->mu);
    if (lv->gone && !lv->ended) return unlock(lv, BERTH_EGONE);
    if (lv->started || lv->ended) return unlock(lv, BERTH_EUSAGE);
    if (http_str_eq_ci(http_str_make(name, strlen(name)), "content-type") &&
        has(&lv->q.extra, "content-type"))
        return unlock(lv, BERTH_ERESERVED);
    return unlock(lv, add_field(&lv->q.extra, name, value));
}

static int push_piece(struct live *lv, const void *data, size_t len,
                      void (*release)(void *, void *), void *rarg);

/* A 2xx to an extended CONNECT would tell the client its WebSocket is open
 * (RFC 9113 §8.5: any 2xx establishes the tunnel), yet no berth_ws_upgrade
 * made one: the answer is 501 instead, whole (the program's fields and body
 * are dropped), as a synchronous handler's is (h2conn's on_connect).  Its
 * length is declared, so later writes are past it (BERTH_ERR_USAGE).
 * Under the lock. */
static int refuse_connect(struct live *lv)
{
    char page[320];
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>501 %s</title></head>\n<body><h1>501 %s</h1><p>This resource does "
                     "not speak WebSocket; connect to a WebSocket endpoint.</p></body></html>\n",
                     http_reason(501), http_reason(501));
    static const char ct[] = "Content-Type: text/html; charset=utf-8\r\n";
    buf_clear(&lv->q.extra);
    lv->framing = LIVE_LENGTH; /* h2: DATA frames */
    int rc = buf_append(&lv->q.extra, ct, sizeof ct - 1);
    if (rc == 0) rc = push_piece(lv, page, (size_t)n, NULL, NULL);
    if (rc < 0) return rc;
    lv->status = lv->q.status = 501;
    lv->length = n;
    lv->written = (uint64_t)n;
    lv->nobody = 0;
    lv->started = 1;
    live_poke(lv);
    return 0;
}

/* berth_resp_start under the lock */
static int start(struct live *lv, int status, const char *ctype, long long length)
{
    if (lv->started || lv->ended) return BERTH_EUSAGE;
    if (status < 200 || status > 599 || length < -1) return BERTH_EUSAGE;
    if (lv->gone) return BERTH_EGONE;
    if (lv->h2 && lv->lreq.protocol.p && status / 100 == 2) return refuse_connect(lv);
    if (ctype && !*ctype) ctype = NULL;
    if (ctype) {
        if (!http_field_value(ctype, strlen(ctype))) return BERTH_EFIELD;
        if (has(&lv->q.extra, "content-type")) return BERTH_ERESERVED;
        size_t n = buf_len(&lv->q.extra);
        int rc = buf_append(&lv->q.extra, "Content-Type: ", 14);
        if (rc == 0) rc = buf_append(&lv->q.extra, ctype, strlen(ctype));
        if (rc == 0) rc = buf_append(&lv->q.extra, "\r\n", 2);
        if (rc < 0) {
            buf_truncate(&lv->q.extra, n);
            return rc;
        }
    }
    lv->status = status;
    lv->length = status == 204 || status == 304 ? 0 : length; /* no body, no framing */
    length = lv->length;
    lv->nobody = lv->lreq.method == HTTP_HEAD || status == 204 || status == 304;
    if (lv->h2 || length >= 0)
        lv->framing = LIVE_LENGTH; /* h2: DATA frames whatever the length */
    else if (lv->lreq.version == 10 || lv->w->s->o.http10)
        lv->framing = LIVE_CLOSE;
    else
        lv->framing = LIVE_CHUNKED;
    lv->started = 1;
    lv->q.status = status;
    live_poke(lv);
    return 0;
}

int berth_resp_start(berth_req *req, int status, const char *content_type, long long length)
{
    struct live *lv = req->lv;
    if (!lv) {
        if (req->status) return BERTH_EUSAGE;
        if (!(lv = promote(req))) return -ENOMEM;
        pthread_mutex_lock(&lv->mu);
        live_app_ref(lv); /* the handler goes on answering through writable */
    } else {
        pthread_mutex_lock(&lv->mu);
    }
    return unlock(lv, start(lv, status, content_type, length));
}

/* Checks a write of len more body bytes; 1: drop it (no body is sent) */
static int writable_check(struct live *lv, size_t len)
{
    if (lv->gone) return BERTH_EGONE;
    if (!lv->started || lv->ended) return BERTH_EUSAGE;
    if (lv->length >= 0 && lv->written + len > (uint64_t)lv->length) return BERTH_EUSAGE;
    if (lv->queued >= lv->max_queue) return BERTH_EFULL;
    return lv->nobody || len == 0;
}

static int queued(struct live *lv)
{
    if (lv->queued > lv->max_queue / 2) lv->want_low = 1;
    live_poke(lv);
    return lv->queued > INT_MAX ? INT_MAX : (int)lv->queued;
}

/* Queues one body piece, framed: for chunked HTTP/1.1 a copied piece is
 * one segment with its size line and CRLF, the program's memory three
 * (allocated before any is queued, so a failure queues nothing). */
static int push_piece(struct live *lv, const void *data, size_t len,
                      void (*release)(void *, void *), void *rarg)
{
    char line[24];
    int ll = lv->framing == LIVE_CHUNKED
                 ? snprintf(line, sizeof line, "%llx\r\n", (unsigned long long)len)
                 : 0;
    size_t crlf = lv->framing == LIVE_CHUNKED ? 2 : 0;
    if (!release) {
        struct seg *s = live_seg_new(NULL, (size_t)ll + len + crlf);
        if (!s) return -ENOMEM;
        memcpy(s->data, line, (size_t)ll);
        if (len) memcpy(s->data + ll, data, len);
        memcpy(s->data + (size_t)ll + len, "\r\n", crlf);
        live_push(lv, s);
        return 0;
    }
    struct seg *pre = ll ? live_seg_new(line, (size_t)ll) : NULL;
    struct seg *mid = live_seg_new(NULL, 0);
    struct seg *post = crlf ? live_seg_new("\r\n", 2) : NULL;
    if (!mid || (ll && !pre) || (crlf && !post)) {
        live_seg_free(pre);
        live_seg_free(mid); /* no release yet: the caller hands it back */
        live_seg_free(post);
        return -ENOMEM;
    }
    mid->p = mid->rdata = data;
    mid->len = len;
    mid->release = release;
    mid->rarg = rarg;
    if (pre) live_push(lv, pre);
    live_push(lv, mid);
    if (post) live_push(lv, post);
    return 0;
}

static int write_piece(berth_req *req, const void *data, size_t len,
                       void (*release)(void *, void *), void *rarg)
{
    struct live *lv = req->lv;
    int rc = BERTH_EUSAGE; /* not started: nothing to write into */
    if (lv && (data || !len)) {
        pthread_mutex_lock(&lv->mu);
        rc = writable_check(lv, len);
        if (rc == 0 && (rc = push_piece(lv, data, len, release, rarg)) == 0) {
            lv->written += len;
            rc = queued(lv);
            release = NULL; /* the queue hands it back */
        } else if (rc == 1) {
            lv->written += len;
            rc = 0;
        }
        pthread_mutex_unlock(&lv->mu);
    }
    if (release) release((void *)(uintptr_t)data, rarg);
    return rc;
}

int berth_resp_write(berth_req *req, const void *data, size_t len)
{
    return write_piece(req, data, len, NULL, NULL);
}

int berth_resp_write_ref(berth_req *req, const void *data, size_t len,
                         void (*release)(void *data, void *rarg), void *rarg)
{
    if (!release) return BERTH_EUSAGE;
    return write_piece(req, data, len, release, rarg);
}

int berth_resp_sendfile(berth_req *req, int fd, long long off, long long len)
{
    struct live *lv = req->lv;
    if (!lv || fd < 0 || off < 0 || len < 0) return BERTH_EUSAGE;
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (!S_ISREG(st.st_mode) || off > st.st_size || len > st.st_size - off) return BERTH_EUSAGE;
    pthread_mutex_lock(&lv->mu);
    int rc = writable_check(lv, (size_t)len);
    if (rc == 0) {
        char line[24];
        int ll = lv->framing == LIVE_CHUNKED
                     ? snprintf(line, sizeof line, "%llx\r\n", (unsigned long long)len)
                     : 0;
        struct seg *pre = ll ? live_seg_new(line, (size_t)ll) : NULL;
        struct seg *f = live_seg_file(fd, (uint64_t)off, (uint64_t)len, &rc);
        struct seg *post = ll ? live_seg_new("\r\n", 2) : NULL;
        if (f && (!ll || (pre && post))) {
            if (pre) live_push(lv, pre);
            live_push(lv, f);
            if (post) live_push(lv, post);
            rc = 0;
        } else {
            live_seg_free(pre);
            live_seg_free(f);
            live_seg_free(post);
            if (rc == 0) rc = -ENOMEM;
        }
        if (rc == 0) {
            lv->written += (uint64_t)len;
            rc = queued(lv);
        }
    } else if (rc == 1) {
        lv->written += (uint64_t)len;
        rc = 0;
    }
    return unlock(lv, rc);
}

/* 1 for a field a recipient needs before the content, so never a trailer
 * (RFC 9110 §6.5.1): routing, request modifiers, authentication, response
 * control, the content's format (framing ones are berth_resp_header's
 * reserved list already) */
static int trailer_forbidden(const char *name)
{
    static const char *const no[] = {"host",
                                     "cache-control",
                                     "expect",
                                     "max-forwards",
                                     "pragma",
                                     "range",
                                     "te",
                                     "if-match",
                                     "if-none-match",
                                     "if-modified-since",
                                     "if-unmodified-since",
                                     "if-range",
                                     "authorization",
                                     "proxy-authorization",
                                     "www-authenticate",
                                     "proxy-authenticate",
                                     "set-cookie",
                                     "cookie",
                                     "age",
                                     "expires",
                                     "location",
                                     "retry-after",
                                     "vary",
                                     "warning",
                                     "content-type",
                                     "content-encoding",
                                     "content-range",
                                     "content-language",
                                     "content-location"};
    struct http_str n = http_str_make(name, strlen(name));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (http_str_eq_ci(n, no[i])) return 1;
    return 0;
}

int berth_resp_trailer(berth_req *req, const char *name, const char *value)
{
    struct live *lv = req->lv;
    if (!lv || !name || !value) return BERTH_EUSAGE;
    pthread_mutex_lock(&lv->mu);
    if (lv->gone && !lv->ended) return unlock(lv, BERTH_EGONE);
    if (!lv->started || lv->ended) return unlock(lv, BERTH_EUSAGE);
    if (trailer_forbidden(name)) return unlock(lv, BERTH_ERESERVED);
    return unlock(lv, add_field(&lv->trailers, name, value));
}

/* Ends the answer and drops the program's reference (lock held on entry,
 * released here). */
static int end(struct live *lv)
{
    int rc = lv->gone ? BERTH_EGONE : 0;
    if (!lv->ended && !lv->gone) {
        lv->ended = 1;
        live_poke(lv);
    }
    lv->ended = 1;
    int had = lv->app_ref;
    lv->app_ref = 0;
    pthread_mutex_unlock(&lv->mu);
    if (had) live_unref(lv);
    return rc;
}

int berth_resp_end(berth_req *req)
{
    struct live *lv = req->lv;
    if (!lv) return BERTH_EUSAGE;
    pthread_mutex_lock(&lv->mu);
    if (!lv->app_ref) return unlock(lv, BERTH_EUSAGE);
    if (!lv->started && !lv->gone) {
        /* released without an answer: the client gets 500, as from a
         * handler that returns without one */
        static const char why[] = "The handler gave no answer.\n";
        if (start(lv, 500, "text/plain", sizeof why - 1) == 0 &&
            push_piece(lv, why, sizeof why - 1, NULL, NULL) == 0)
            lv->written = sizeof why - 1;
    }
    return end(lv);
}

int live_respond(struct live *lv, int status, const char *ctype, const void *body, size_t len)
{
    pthread_mutex_lock(&lv->mu);
    if (lv->gone) {
        if (!lv->app_ref) return unlock(lv, BERTH_EUSAGE);
        return end(lv);
    }
    int rc = start(lv, status, ctype, (long long)len);
    if (rc < 0) return unlock(lv, rc);
    if (lv->status != status) return end(lv); /* refused (refuse_connect): answered whole */
    /* out of memory for the body: the answer ends short and closes */
    if (len && !lv->nobody && push_piece(lv, body, len, NULL, NULL) == 0) lv->written = len;
    if (lv->nobody) lv->written = len;
    return end(lv);
}
