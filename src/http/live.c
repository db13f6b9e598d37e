/* live — exchanges that outlive their handler call: the shared object, its
 * answer queue and the cross-thread wake-up (contract in live.h). */
#include "http/live.h"

#include "http/conn.h"
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* copies s into *p and returns a view of the copy */
static struct http_str keep(char **p, struct http_str s)
{
    struct http_str k = http_str_make(*p, s.n);
    if (s.n) memcpy(*p, s.p, s.n);
    (*p)[s.n] = '\0';
    *p += s.n + 1;
    return k;
}

struct live *live_new(struct conn *c, struct berth_req *q)
{
    const struct http_request *r = q->r;
    size_t pl = strlen(q->path), ql = strlen(q->query);
    struct live *lv = calloc(1, sizeof *lv);
    char *copy = malloc(r->method_str.n + r->target.n + pl + ql + 4);
    if (!lv || !copy) {
        free(lv);
        free(copy);
        return NULL;
    }
    if (pthread_mutex_init(&lv->mu, NULL) != 0) {
        free(lv);
        free(copy);
        return NULL;
    }
    lv->copy = copy;
    lv->q = *q;
    lv->q.lv = lv;
    lv->lreq.method = r->method;
    lv->lreq.version = r->version;
    lv->lreq.content_length = r->content_length;
    lv->lreq.method_str = keep(&copy, r->method_str);
    lv->lreq.target = keep(&copy, r->target);
    lv->q.path = keep(&copy, http_str_make(q->path, pl)).p;
    lv->q.query = keep(&copy, http_str_make(q->query, ql)).p;
    lv->q.r = NULL; /* the head's fields are the handler call's only */
    buf_init(&lv->trailers, 64 * 1024);
    lv->refs = 1; /* the connection's */
    lv->w = c->w;
    lv->c = c;
    lv->h2 = c->h2 != NULL;
    lv->secure = c->t.tls != NULL;
    lv->length = -1;
    lv->max_queue = 1 << 20;
    return lv;
}

void live_app_ref(struct live *lv)
{
    if (lv->app_ref) return;
    lv->app_ref = 1;
    lv->refs++;
}

void live_seg_free(struct seg *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (s->release) s->release((void *)(uintptr_t)s->rdata, s->rarg);
    free(s);
}

void live_unref(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    int last = --lv->refs == 0;
    pthread_mutex_unlock(&lv->mu);
    if (!last) return;
    while (lv->first)
        live_seg_free(live_pop(lv));
    buf_free(&lv->trailers);
    buf_free(&lv->q.extra);
    pthread_mutex_destroy(&lv->mu);
    free(lv->copy);
    free(lv);
}

void live_push(struct live *lv, struct seg *s)
{
    s->next = NULL;
    if (lv->last)
        lv->last->next = s;
    else
        lv->first = s;
    lv->last = s;
    lv->queued += s->fd >= 0 ? (size_t)(s->end - s->off) : s->len;
}

struct seg *live_seg_new(const void *p, size_t len)
{
    struct seg *s = malloc(sizeof *s + len);
    if (!s) return NULL;
    s->next = NULL;
    s->fd = -1;
    s->off = s->end = 0;
    s->len = len;
    s->release = NULL;
    s->rarg = NULL;
    s->p = s->data;
    if (p && len) memcpy(s->data, p, len);
    return s;
}

struct seg *live_seg_file(int fd, uint64_t off, uint64_t len, int *err)
{
    struct seg *s = live_seg_new(NULL, 0);
    if (!s) {
        *err = -ENOMEM;
        return NULL;
    }
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (s->fd < 0) {
        *err = -errno;
        free(s);
        return NULL;
    }
    s->p = NULL;
    s->off = off;
    s->end = off + len;
    return s;
}

struct seg *live_pop(struct live *lv)
{
    struct seg *s = lv->first;
    if (!s) return NULL;
    lv->first = s->next;
    if (!lv->first) lv->last = NULL;
    lv->queued -= s->fd >= 0 ? (size_t)(s->end - s->off) : s->len;
    return s;
}

void live_poke(struct live *lv)
{
    struct worker *w = lv->w;
    if (lv->gone || lv->detached || lv->listed) return;
    /* always through the list: a call from inside a callback of this very
     * exchange must not re-enter the connection's state machine */
    lv->listed = 1;
    lv->refs++; /* the list's */
    pthread_mutex_lock(&w->wake_mu);
    lv->next_ready = w->wake_list;
    w->wake_list = lv;
    pthread_mutex_unlock(&w->wake_mu);
    uint64_t one = 1;
    (void)!write(w->wakefd, &one, sizeof one);
}

void live_wake(struct worker *w)
{
    uint64_t v;
    (void)!read(w->wakefd, &v, sizeof v);
    pthread_mutex_lock(&w->wake_mu);
    struct live *lv = w->wake_list;
    w->wake_list = NULL;
    pthread_mutex_unlock(&w->wake_mu);
    while (lv) {
        struct live *next = lv->next_ready;
        pthread_mutex_lock(&lv->mu);
        lv->listed = 0;
        pthread_mutex_unlock(&lv->mu);
        if (lv->c) conn_kick(lv->c, lv);
        live_unref(lv);
        lv = next;
    }
}

void live_wake_drop(struct worker *w)
{
    struct live *lv = w->wake_list;
    w->wake_list = NULL;
    while (lv) {
        struct live *next = lv->next_ready;
        lv->listed = 0;
        live_unref(lv);
        lv = next;
    }
}

void live_gone(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    /* only a program still holding the request is told */
    int tell = !lv->gone && !lv->tail_out && lv->app_ref && lv->gone_cb;
    lv->gone = 1;
    lv->c = NULL;
    pthread_mutex_unlock(&lv->mu);
    if (tell) lv->gone_cb(&lv->q, lv->cb_arg);
    live_unref(lv);
}

void live_detach(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    lv->c = NULL;
    lv->detached = 1;
    pthread_mutex_unlock(&lv->mu);
}

void live_notify(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    int due = lv->want_low && lv->queued < lv->max_queue / 4 && !lv->ended && !lv->gone;
    if (due) lv->want_low = 0;
    pthread_mutex_unlock(&lv->mu);
    if (due && lv->writable) lv->writable(&lv->q, lv->cb_arg);
}

int live_held(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    int h = lv->app_ref;
    pthread_mutex_unlock(&lv->mu);
    return h;
}
