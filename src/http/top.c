/* top — the --status client of `berth top` and its screen. */
#include "http/top.h"

#include "err.h"
#include "net.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOP_MAX_BODY (64u << 20) /* a status document past this is not one */

/* Splits "http://host:port/path" (port default 80, path default "/"). */
static int parse_url(const char *url, char *host, size_t hn, int *port, const char **path)
{
    if (strncmp(url, "http://", 7)) return -EINVAL;
    const char *h = url + 7, *slash = strchr(h, '/');
    *path = slash ? slash : "/";
    size_t len = slash ? (size_t)(slash - h) : strlen(h);
    char hp[300];
    if (len == 0 || len >= sizeof hp) return -EINVAL;
    memcpy(hp, h, len);
    hp[len] = '\0';
    *port = 80;
    const char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
    if (colon && hp[0] == '[') colon++;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535) return -EINVAL;
        *port = (int)p;
        len = (size_t)(colon - hp);
    } else {
        len = strlen(hp);
    }
    if (hp[0] == '[') {
        if (len < 2 || hp[len - 1] != ']') return -EINVAL;
        memmove(hp, hp + 1, len - 2);
        len -= 2;
    }
    if (len == 0 || len >= hn) return -EINVAL;
    memcpy(host, hp, len);
    host[len] = '\0';
    return 0;
}

static int fail(char *err, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return rc;
}

int top_fetch(const char *url, int timeout_ms, struct buf *body, char *err, size_t errlen)
{
    char host[256];
    int port;
    const char *path;
    if (parse_url(url, host, sizeof host, &port, &path) < 0)
        return fail(err, errlen, BERTH_EUSAGE,
                    "cannot use the URL %s; give the server's status URL, such as "
                    "http://127.0.0.1:8000/status (https is not supported)",
                    url);
    int fd = net_connect(host, port, SOCK_STREAM, timeout_ms, NULL);
    if (fd < 0)
        return fail(err, errlen, fd,
                    "cannot connect to %s port %d: %s; is berth serve --status running there?",
                    host, port, err_str(fd));
    net_set_timeout(fd, timeout_ms);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                     "Connection: close\r\n\r\n",
                     path, host);
    struct buf raw;
    buf_init(&raw, TOP_MAX_BODY);
    int rc = 0;
    if (n < 0 || (size_t)n >= sizeof req) {
        rc = fail(err, errlen, BERTH_EUSAGE, "the URL is too long; shorten its path");
        goto out;
    }
    if (net_send_all(fd, req, (size_t)n) < 0) {
        rc = fail(err, errlen, -errno, "cannot send the request to %s: %s", url, strerror(errno));
        goto out;
    }
    for (;;) { /* Connection: close: the answer ends with the connection */
        ssize_t r = buf_read_fd(&raw, fd, 65536);
        if (r == 0) break;
        if (r == -EINTR) continue;
        if (r < 0) {
            rc = fail(err, errlen, (int)r, "cannot read the answer of %s: %s%s", url,
                      err_str((int)r),
                      r == -EAGAIN ? " (timed out); is the server overloaded?" : "");
            goto out;
        }
    }
    buf_append(&raw, "", 1);
    const char *p = buf_head(&raw), *end = strstr(p, "\r\n\r\n");
    int status = 0;
    if (!end || sscanf(p, "HTTP/1.%*d %d", &status) != 1) {
        rc = fail(err, errlen, -EPROTO, "%s did not answer HTTP; is the URL right?", url);
        goto out;
    }
    if (status != 200) {
        rc = fail(err, errlen, -EPROTO,
                  "%s answered %d; is this the path the server was given with --status?", url,
                  status);
        goto out;
    }
    if (strstr(p, "\r\nTransfer-Encoding:") && strstr(p, "\r\nTransfer-Encoding:") < end) {
        rc =
            fail(err, errlen, -EPROTO, "%s answered with a chunked body; not a berth server?", url);
        goto out;
    }
    end += 4;
    rc = buf_append(body, end, strlen(end));
out:
    buf_free(&raw);
    close(fd);
    return rc;
}

/* ---- the screen ---- */

struct row {
    json_t *o;
    double age;
    double bytes; /* not an integer: a document's numbers may be past any (2e84) */
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
    const struct row *x = a, *y = b;
    if (*(const enum top_sort *)arg == TOP_BY_AGE)
        return x->age < y->age ? 1 : x->age > y->age ? -1 : 0;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* a string field, "-" when absent; shown as is but for control characters,
 * which a terminal would obey, each shown as '?': C0 and DEL, and C1
 * (U+0080..U+009F, C2 80..C2 9F in UTF-8; U+009B is CSI to many terminals).
 * jansson hands out valid UTF-8 only, so no lone 8-bit C1 byte gets here. */
static const char *str(json_t *o, const char *k, char *tmp, size_t n)
{
    const unsigned char *s = (const unsigned char *)json_string_value(json_object_get(o, k));
    if (!s) return "-";
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 1 < n; i++) {
        if (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
            tmp[j++] = '?';
            i++;
        } else {
            tmp[j++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
        }
    }
    tmp[j] = '\0';
    return tmp;
}

static void put(struct buf *out, int *bad, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    /* cut: a row still ends its line (every format ends in '\n'), or the
     * next row would run on */
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    if (buf_append(out, line, (size_t)n) < 0) *bad = -ENOMEM;
}

/* bytes as "999", "12.3k", "4.5M" */
static void human(char *o, size_t n, double v)
{
    if (v < 1000)
        snprintf(o, n, "%.0f", v);
    else if (v < 1e6)
        snprintf(o, n, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(o, n, "%.1fM", v / 1e6);
    else
        snprintf(o, n, "%.1fG", v / 1e9);
}

int top_render(struct buf *out, const char *json, enum top_sort sort, int rows, char *err,
               size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    json_t *conns = root ? json_object_get(root, "connections") : NULL;
    if (!root || !json_is_array(conns) || !json_is_string(json_object_get(root, "version"))) {
        json_decref(root);
        return fail(err, errlen, -EPROTO,
                    "the answer is not a berth status document%s%s; is the URL the --status path?",
                    root ? "" : ": ", root ? "" : je.text);
    }
    size_t n = json_array_size(conns);
    struct row *r = calloc(n ? n : 1, sizeof *r);
    if (!r) {
        json_decref(root);
        return -ENOMEM;
    }
    size_t k = 0;
    json_t *c;
    size_t i;
    json_array_foreach(conns, i, c)
    {
        if (!json_is_object(c)) continue;
        r[k].o = c;
        r[k].age = num(c, "age");
        r[k].bytes = num(c, "bytes_in") + num(c, "bytes_out");
        k++;
    }
    qsort_r(r, k, sizeof *r, cmp_rows, &sort);
    int bad = 0;
    char t1[64], t2[64], t3[64], t5[128];
    put(out, &bad, "berth %s  up %.0f s  workers %lld  connections %zu  sorted by %s\n",
        str(root, "version", t1, sizeof t1), num(root, "uptime"),
        (long long)json_integer_value(json_object_get(root, "workers")), k,
        sort == TOP_BY_AGE ? "age" : "bytes");
    put(out, &bad, "%-3s %-39s %-8s %-12s %8s %8s %8s %8s %6s  %s\n", "W", "PEER", "PROTO", "STATE",
        "AGE", "IDLE", "IN", "OUT", "REQS", "TARGET");
    for (size_t j = 0; j < k && (rows <= 0 || (int)j < rows); j++) {
        json_t *o = r[j].o;
        char peer[96], in[16], outb[16];
        snprintf(peer, sizeof peer, "%s:%lld", str(o, "peer", t1, sizeof t1),
                 (long long)json_integer_value(json_object_get(o, "peer_port")));
        human(in, sizeof in, num(o, "bytes_in"));
        human(outb, sizeof outb, num(o, "bytes_out"));
        put(out, &bad, "%-3lld %-39s %-8s %-12s %7.1fs %7.1fs %8s %8s %6lld  %.60s\n",
            (long long)json_integer_value(json_object_get(o, "worker")), peer,
            str(o, "protocol", t2, sizeof t2), str(o, "state", t3, sizeof t3), num(o, "age"),
            num(o, "idle"), in, outb, (long long)json_integer_value(json_object_get(o, "requests")),
            str(o, "target", t5, sizeof t5));
    }
    free(r);
    json_decref(root);
    return bad;
}
