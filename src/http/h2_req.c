/* h2_req — an HTTP/2 request head as the HTTP/1.1 parser would give it. */
#include "http/h2_req.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PSEUDO_MAX 5 /* :method :scheme :authority :path :protocol */

void h2_req_init(struct h2_req *r, size_t max_bytes, size_t max_fields)
{
    memset(r, 0, sizeof *r);
    r->max_bytes = max_bytes;
    r->max_fields = max_fields;
}

void h2_req_free(struct h2_req *r)
{
    free(r->buf);
    free(r->f);
    r->buf = NULL;
    r->f = NULL;
    r->len = r->cap = r->nf = 0;
}

void h2_req_reset(struct h2_req *r)
{
    r->len = r->nf = r->list = 0;
    r->status = 0;
}

static int reserve(struct h2_req *r, size_t n)
{
    if (r->cap - r->len >= n) return 0;
    size_t cap = r->cap ? r->cap : 512;
    while (cap - r->len < n)
        cap *= 2;
    char *p = realloc(r->buf, cap);
    if (!p) return -ENOMEM;
    r->buf = p;
    r->cap = cap;
    return 0;
}

int h2_req_field(struct h2_req *r, const uint8_t *name, size_t nlen, const uint8_t *value,
                 size_t vlen)
{
    r->list += nlen + vlen + 32;
    if (r->status) return 0;
    if (r->list > r->max_bytes || r->nf >= r->max_fields + PSEUDO_MAX) {
        r->status = 431;
        return 0;
    }
    /* counted, not kept: the transport, not :scheme, says whether it is secure */
    if (nlen == 7 && memcmp(name, ":scheme", 7) == 0) return 0;
    if (!r->f && !(r->f = malloc((r->max_fields + PSEUDO_MAX) * sizeof *r->f))) return -ENOMEM;
    if (reserve(r, nlen + vlen) < 0) return -ENOMEM;
    struct h2_field *f = &r->f[r->nf++];
    f->name = (uint32_t)r->len;
    f->nlen = (uint32_t)nlen;
    memcpy(r->buf + r->len, name, nlen);
    r->len += nlen;
    f->value = (uint32_t)r->len;
    f->vlen = (uint32_t)vlen;
    memcpy(r->buf + r->len, value, vlen);
    r->len += vlen;
    return 0;
}

static struct http_str view(const struct h2_req *r, uint32_t off, uint32_t n)
{
    return http_str_make(r->buf + off, n);
}

static int is(const struct h2_req *r, const struct h2_field *f, const char *lit)
{
    size_t n = strlen(lit);
    return f->nlen == n && memcmp(r->buf + f->name, lit, n) == 0;
}

struct http_str h2_req_get(const struct h2_req *r, const char *name)
{
    for (size_t i = 0; i < r->nf; i++)
        if (is(r, &r->f[i], name)) return view(r, r->f[i].value, r->f[i].vlen);
    return http_str_make(NULL, 0);
}

static enum http_method method_of(struct http_str m)
{
    for (int i = 0; i < HTTP_OTHER; i++) {
        const char *name = http_method_name((enum http_method)i);
        if (strlen(name) == m.n && memcmp(name, m.p, m.n) == 0) return (enum http_method)i;
    }
    return HTTP_OTHER;
}

static int fail(struct http_request *req, int status, const char *why)
{
    req->error = why;
    return -status;
}

/* Several cookie fields become one, appended to the buffer (before any view
 * is taken, since the buffer may move).  The first keeps its place. */
static int join_cookies(struct h2_req *r)
{
    size_t n = 0, total = 0, first = 0;
    for (size_t i = 0; i < r->nf; i++)
        if (is(r, &r->f[i], "cookie")) {
            if (!n++) first = i;
            total += r->f[i].vlen + 2;
        }
    if (n < 2) return 0;
    if (reserve(r, total) < 0) return -ENOMEM;
    uint32_t start = (uint32_t)r->len;
    size_t k = 0;
    for (size_t i = 0; i < r->nf; i++) {
        if (!is(r, &r->f[i], "cookie")) {
            r->f[k++] = r->f[i];
            continue;
        }
        if (r->len > start) {
            memcpy(r->buf + r->len, "; ", 2);
            r->len += 2;
        }
        memcpy(r->buf + r->len, r->buf + r->f[i].value, r->f[i].vlen);
        r->len += r->f[i].vlen;
        if (i == first) r->f[k++] = r->f[i];
    }
    r->nf = k;
    r->f[first].value = start; /* first kept its index: only later ones were dropped */
    r->f[first].vlen = (uint32_t)(r->len - start);
    return 0;
}

static int once(struct http_str *slot, struct http_str v, struct http_request *req, const char *why)
{
    if (slot->p) return fail(req, 400, why);
    *slot = v;
    return 0;
}

/* as HTTP/1.1's parser does (http/parse.h): If-Match / If-None-Match are
 * lists, split over several fields at will (RFC 9110 §5.3), so the first is
 * kept and the conditions read all of them from hdrs; a one-value field
 * sent twice is an invalid list, ignored (empty) as an invalid value is */
static void first(struct http_str *slot, struct http_str v)
{
    if (!slot->p) *slot = v;
}

static void or_void(struct http_str *slot, struct http_str v)
{
    *slot = slot->p ? http_str_make(slot->p, 0) : v;
}

int h2_req_build(struct h2_req *r, struct http_request *req, struct http_header *hdrs)
{
    memset(req, 0, sizeof *req);
    req->version = 20;
    req->keep_alive = 1;
    req->content_length = -1;
    req->headers = hdrs;
    if (r->status) return fail(req, r->status, "header list too large");
    if (join_cookies(r) < 0) return fail(req, 500, "out of memory");
    struct http_str authority = {0}, host = {0};
    int rc = 0;
    for (size_t i = 0; i < r->nf && rc == 0; i++) {
        const struct h2_field *f = &r->f[i];
        struct http_str v = view(r, f->value, f->vlen);
        const char *name = r->buf + f->name;
        if (f->nlen && name[0] == ':') {
            if (f->nlen == 7 && memcmp(name, ":method", 7) == 0)
                req->method_str = v;
            else if (f->nlen == 5 && memcmp(name, ":path", 5) == 0)
                req->target = v;
            else if (f->nlen == 10 && memcmp(name, ":authority", 10) == 0)
                authority = v;
            else if (f->nlen == 9 && memcmp(name, ":protocol", 9) == 0)
                req->protocol = v;
            continue; /* :scheme is not looked at: the transport says whether it is secure */
        }
        if (req->nheaders >= r->max_fields) return fail(req, 431, "too many header fields");
        hdrs[req->nheaders].name = view(r, f->name, f->nlen);
        hdrs[req->nheaders++].value = v;
        /* the fields looked at, by length first: most fields are none of them */
        switch (f->nlen) {
        case 4:
            if (memcmp(name, "host", 4) == 0) rc = once(&host, v, req, "repeated host");
            break;
        case 5:
            if (memcmp(name, "range", 5) == 0) or_void(&req->range, v);
            break;
        case 6:
            /* RFC 9110 §10.1.1: 100-continue is the only expectation (as h1) */
            if (memcmp(name, "expect", 6) == 0 && v.n && !http_str_eq_ci(v, "100-continue"))
                return fail(req, 417, "unsupported expectation");
            break;
        case 8:
            if (memcmp(name, "if-match", 8) == 0)
                first(&req->if_match, v);
            else if (memcmp(name, "if-range", 8) == 0)
                or_void(&req->if_range, v);
            break;
        case 13:
            if (memcmp(name, "if-none-match", 13) == 0) first(&req->if_none_match, v);
            break;
        case 14:
            if (memcmp(name, "content-length", 14) == 0) {
                /* nghttp2 checked it is digits, once, and matches the DATA */
                int64_t n = 0;
                for (size_t k = 0; k < v.n; k++) {
                    if (v.p[k] < '0' || v.p[k] > '9' || n > (INT64_MAX - 9) / 10)
                        return fail(req, 400, "malformed content-length");
                    n = n * 10 + (v.p[k] - '0');
                }
                req->content_length = n;
            }
            break;
        case 17:
            if (memcmp(name, "if-modified-since", 17) == 0) or_void(&req->if_modified_since, v);
            break;
        case 19:
            if (memcmp(name, "if-unmodified-since", 19) == 0) or_void(&req->if_unmodified_since, v);
            break;
        default:
            break;
        }
    }
    if (rc < 0) return rc;
    if (!req->method_str.p || !req->target.p || !req->target.n)
        return fail(req, 400, "missing :method or :path");
    req->method = method_of(req->method_str);
    if (req->protocol.p) { /* nghttp2 allows it on CONNECT only, when we enabled it */
        /* RFC 9220 section 3 (RFC 8441's setting and field): 501 for a
         * protocol the server does not speak */
        if (!http_str_eq_ci(req->protocol, "websocket"))
            return fail(req, 501, "unsupported :protocol (only websocket is spoken here)");
        /* a WebSocket's handler sees the GET of its HTTP/1.1 handshake */
        req->method = HTTP_GET;
        req->method_str = http_str_make("GET", 3);
    } else if (req->method == HTTP_CONNECT) {
        return fail(req, 400, "connect is not served");
    }
    for (size_t k = 0; k < req->target.n; k++) {
        unsigned char c = (unsigned char)req->target.p[k];
        if (c <= 0x20 || c >= 0x7f) return fail(req, 400, "malformed target");
    }
    int star = req->target.n == 1 && req->target.p[0] == '*';
    if (star && req->method != HTTP_OPTIONS) return fail(req, 400, "asterisk target");
    if (!star && req->target.p[0] != '/') return fail(req, 400, "malformed target");
    req->path = req->target;
    /* RFC 9113 §8.3.1: no userinfo in :authority; it and Host are hosts as
     * in HTTP/1.1 (RFC 9110 §7.2) */
    if (authority.p && !http_host_valid(authority.p, authority.n))
        return fail(req, 400, "invalid :authority");
    if (host.p && !http_host_valid(host.p, host.n)) return fail(req, 400, "invalid host");
    /* RFC 9113 §8.3.1: a Host that names another authority is malformed */
    if (authority.p && host.p) {
        if (authority.n != host.n) return fail(req, 400, "host differs from :authority");
        for (size_t k = 0; k < host.n; k++)
            if (http_lower((unsigned char)host.p[k]) != http_lower((unsigned char)authority.p[k]))
                return fail(req, 400, "host differs from :authority");
    }
    req->host = authority.p ? authority : host;
    if (!req->host.p) return fail(req, 400, "missing :authority and host");
    return 0;
}
