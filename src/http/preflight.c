/* preflight — the CORS preflight on a connection. */
#include "http/preflight.h"

#include "http/conn.h"
#include "http/policy.h"
#include "http/reqlog.h"
#include "http/server.h"

int preflight_answer(struct conn *c, const struct http_request *r, const char *allow)
{
    struct berth_server *s = c->w->s;
    if (!s->pol.cors) return 0; /* the common case: one load */
    /* no route matches: static files answer GET, HEAD and OPTIONS, if any */
    const char *a = allow[0] ? allow : s->sc.rootfd >= 0 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL;
    int rc = policy_preflight(&s->pol, r, a, !c->closing, &c->w->out);
    if (!rc) return 0;
    if (rc < 0) c->closing = 1;
    conn_count(c, r, 204);
    reqlog_access(c, r, 204, 0);
    return 1;
}
