/* admin — the server's own paths, answered ahead of routes and files:
 * --health (for a balancer's checks), --metrics and --status (status.h). */
#include "http/admin.h"

#include "buf.h"
#include "http/conn.h"
#include "http/reqlog.h"
#include "http/resp.h"
#include "http/server.h"
#include "http/status.h"

#include <string.h>

/* --metrics and --status: GET (or HEAD) of their paths, answered from the
 * workers' published parts (status.h).  0 when r is not for them. */
static int stats_answer(struct conn *c, const struct http_request *r)
{
    int which = status_route(c, r), metrics = which == STATUS_METRICS;
    if (!which) return 0;
    if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
        conn_error(c, r, 405, "Allow: GET, HEAD\r\n", "This path answers GET and HEAD.");
        return 1;
    }
    struct buf body;
    buf_init(&body, 0);
    int status = 200;
    if (status_collect(c->w, metrics, &body) < 0) {
        conn_error(c, r, 500, NULL, NULL);
    } else {
        const char *type =
            metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json";
        if (resp_simple(&c->w->out, status, !c->closing, r->version, r->method == HTTP_HEAD,
                        "Cache-Control: no-store\r\n", type, buf_head(&body), buf_len(&body)) < 0)
            c->closing = 1;
        conn_count(c, r, status);
        reqlog_access(c, r, status, r->method == HTTP_HEAD ? 0 : buf_len(&body));
    }
    buf_free(&body);
    return 1;
}

/* --health PATH: GET or HEAD answers 200 "ok" while serving, 503 once a
 * drain began (a balancer stops sending before the port closes); not
 * logged.  1 when r was that request and is answered. */
static int health_answer(struct conn *c, const struct http_request *r)
{
    const char *h = c->w->s->o.health;
    size_t hl = strlen(h);
    const char *q = memchr(r->path.p, '?', r->path.n);
    size_t pl = q ? (size_t)(q - r->path.p) : r->path.n;
    if ((r->method != HTTP_GET && r->method != HTTP_HEAD) || pl != hl || memcmp(r->path.p, h, hl))
        return 0;
    int down = __atomic_load_n(&c->w->s->stopped, __ATOMIC_ACQUIRE);
    static const char extra[] = "Cache-Control: no-store\r\n";
    if (resp_simple(&c->w->out, down ? 503 : 200, !c->closing, r->version, r->method == HTTP_HEAD,
                    extra, "text/plain", down ? "draining" : "ok", down ? 8 : 2) < 0)
        c->closing = 1;
    return 1;
}

int admin_answer(struct conn *c, const struct http_request *r)
{
    if (c->w->s->o.health && health_answer(c, r)) return 1;
    return c->w->s->admin && stats_answer(c, r);
}
