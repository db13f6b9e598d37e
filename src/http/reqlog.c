/* reqlog — the access-log lines of the HTTP server: an entry from a
 * connection and its request (views, for alog's formatter), appended to the
 * worker's buffer and written at 16 KiB or LOG_FLUSH_MS later; the line of
 * an answer sent by sendfile waits until its transfer ends, so it shows the
 * bytes that went out. */
#include "http/reqlog.h"

#include "err.h"
#include "http/alog.h"
#include "http/server.h"
#include "http/static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_FLUSH_MS 200

void reqlog_flush(struct worker *w)
{
    alog_write(w->s->log.fd, &w->log);
}

static void on_log_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    reqlog_flush((struct worker *)((char *)t - offsetof(struct worker, log_timer)));
}

/* The value of the first field called name; absent when there is none. */
static struct http_str field(const struct http_request *r, const char *name)
{
    for (size_t i = 0; r->headers && i < r->nheaders; i++)
        if (http_str_eq_ci(r->headers[i].name, name)) return r->headers[i].value;
    return http_str_make(NULL, 0);
}

/* The entry for an answer to r on c, or, r NULL, to the raw first line read
 * (absent: "-").  Its views point into c and r's input: a caller that logs
 * later copies them. */
static void log_entry(const struct conn *c, const struct http_request *r, struct http_str raw,
                      int status, uint64_t bytes, struct alog_entry *e)
{
    memset(e, 0, sizeof *e);
    e->family = c->family;
    memcpy(e->addr, c->peer, sizeof e->addr);
    e->when = time(NULL);
    e->line = raw;
    e->status = status;
    e->bytes = bytes;
    if (r) {
        e->method = r->method_str;
        e->target = r->target;
        e->version = r->version;
        if (c->w->s->o.log_format == ALOG_COMBINED) {
            e->referer = field(r, "referer");
            e->user_agent = field(r, "user-agent");
        }
    }
}

/* Adds e to the worker's lines, written at 16 KiB or LOG_FLUSH_MS later. */
static void log_append(struct worker *w, const struct alog_entry *e)
{
    if (w->s->o.quiet) return;
    enum alog_fmt fmt = w->s->o.log_format == ALOG_COMBINED ? ALOG_COMBINED : ALOG_CLF;
    if (alog_format(&w->log, e, fmt) < 0) return; /* out of memory: the line is lost */
    if (buf_len(&w->log) > 16384)
        reqlog_flush(w);
    else if (!loop_timer_armed(&w->log_timer))
        loop_timer_set(w->loop, &w->log_timer, LOG_FLUSH_MS, on_log_timer);
}

void reqlog_line(struct conn *c, const struct http_request *r, struct http_str raw, int status,
                 uint64_t bytes)
{
    if (c->w->s->o.quiet) return;
    struct alog_entry e;
    log_entry(c, r, raw, status, bytes, &e);
    log_append(c->w, &e);
}

void reqlog_access(struct conn *c, const struct http_request *r, int status, uint64_t bytes)
{
    reqlog_line(c, r, http_str_make(NULL, 0), status, bytes);
}

/* The line of an answer whose body goes out by sendfile: its byte count is
 * known only when the transfer ends (or is cut short), so the entry is kept
 * with copies of the bytes it points at. */
struct conn_log {
    struct alog_entry e;
    uint64_t body; /* the announced body length */
    char bytes[];
};

void reqlog_defer(struct conn *c, const struct http_request *r, int status, uint64_t body)
{
    if (c->w->s->o.quiet) return;
    struct alog_entry e;
    log_entry(c, r, http_str_make(NULL, 0), status, body, &e);
    struct http_str *v[] = {&e.method, &e.target, &e.referer, &e.user_agent};
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        n += v[i]->n;
    struct conn_log *l = malloc(sizeof *l + n);
    if (!l) { /* out of memory: logged now, as if whole */
        log_append(c->w, &e);
        return;
    }
    char *p = l->bytes;
    for (int i = 0; i < 4; i++) {
        if (!v[i]->p) continue;
        memcpy(p, v[i]->p, v[i]->n);
        v[i]->p = p;
        p += v[i]->n;
    }
    l->e = e;
    l->body = body;
    c->plog = l;
}

/* Logs the deferred line with the body bytes that went out: the announced
 * length less what is still unsent when the transfer ends or is cut. */
void reqlog_settle(struct conn *c)
{
    struct conn_log *l = c->plog;
    if (!l) return;
    c->plog = NULL;
    uint64_t unsent = buf_len(&c->out) + static_xfer_left(&c->x);
    l->e.bytes = unsent < l->body ? l->body - unsent : 0;
    log_append(c->w, &l->e);
    free(l);
}

/* A log reopening (SIGHUP) waits for this worker's lines, or it leaves. */
void reqlog_sync(struct worker *w, int leaving)
{
    struct berth_server *s = w->s;
    int rc = alog_sink_sync(&s->log, &w->log_gen, &w->log, leaving);
    if (rc == -EACCES && s->sandboxed) { /* Landlock's no, not the file's mode */
        fprintf(stderr,
                "berth: cannot reopen the access log %s: permission denied; the sandbox allows "
                "writing only in the directory the log was in at start (not one put in its "
                "place): rename log files instead of their directory, restart berth, or use "
                "--no-sandbox (the lines go on to the old file)\n",
                s->log.path);
        return;
    }
    if (rc < 0) {
        char what[300], msg[512];
        snprintf(what, sizeof what, "cannot reopen the access log %s", s->log.path);
        fprintf(stderr, "berth: %s (the lines go on to the old file)\n",
                err_fmt(msg, sizeof msg, rc, what));
    }
}
