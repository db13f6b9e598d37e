#include "app/client.h"

#include "app/proto.h"
#include "err.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at p (1..4) whose code point is
 * printable (not C1, not a surrogate, not overlong), or 0. */
static size_t utf8_printable(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return cp < 0xa0 ? 0 : len; /* C1 controls include the 8-bit CSI */
}

/* text: backslashes, newlines and tabs are the text's own and go out as
 * they are; otherwise they are escaped too */
static void print_safe(FILE *f, const char *s, size_t n, int text)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k;
        if (text && (c == '\\' || c == '\n' || c == '\t'))
            fputc(c, f), i++;
        else if (c == '\\')
            fputs("\\\\", f), i++;
        else if (c == '\n')
            fputs("\\n", f), i++;
        else if (c == '\r')
            fputs("\\r", f), i++;
        else if (c == '\t')
            fputs("\\t", f), i++;
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, f), i++;
        else if ((k = utf8_printable(p + i, n - i)))
            fwrite(p + i, 1, k, f), i += k;
        else
            fprintf(f, "\\x%02x", c), i++;
    }
}

void app_print_escaped(FILE *f, const char *p, size_t n)
{
    print_safe(f, p, n, 0);
}

void app_print_text(FILE *f, const char *p, size_t n)
{
    print_safe(f, p, n, 1);
}

static json_t *base64(const char *s, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *q++ = abc[v >> 18 & 63];
        *q++ = abc[v >> 12 & 63];
        *q++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *q++ = i + 2 < n ? abc[v & 63] : '=';
    }
    json_t *j = json_stringn(o, (size_t)(q - o));
    free(o);
    return j;
}

/* The request as the reference client builds it. */
static int build_request(const struct app_client_opt *o, struct buf *b)
{
    if (!strcmp(o->action, "search")) {
        json_t *v = json_object();
        int rc = -ENOMEM;
        if (v && !json_object_set_new(v, "action", json_string(o->action)) &&
            !json_object_set_new(v, "value", json_string(o->value)))
            rc = app_encode_json(b, v);
        else if (v)
            rc = BERTH_EUSAGE; /* not UTF-8 */
        json_decref(v);
        return rc;
    }
    size_t al = strlen(o->action), vl = strlen(o->value);
    char *c = malloc(al + vl + 1);
    if (!c) return -ENOMEM;
    memcpy(c, o->action, al);
    memcpy(c + al, o->value, vl);
    int rc = app_encode(b, APP_TYPE_CLI_BINARY, "binary", c, al + vl);
    free(c);
    return rc;
}

/* Prints the response; BERTH_EPROTO when it is the server's error reply. */
static int print_response(const struct app_client_opt *o, FILE *f, const struct app_msg *m,
                          char *why, size_t n)
{
    const json_t *err = json_object_get(m->json, "error");
    if (o->json) {
        json_t *all = json_pack("{s:O}", "header", m->header);
        if (!all) return -ENOMEM;
        if (m->json)
            json_object_set(all, "content", m->json);
        else
            json_object_set_new(all, "content_base64", base64(m->content, m->content_len));
        struct buf b;
        buf_init(&b, 0);
        int rc = app_json_dump(&b, all);
        if (rc == 0) fprintf(f, "%.*s\n", (int)buf_len(&b), buf_head(&b));
        buf_free(&b);
        json_decref(all);
        if (rc < 0) return rc;
    } else if (m->json && !err) {
        const json_t *r = json_object_get(m->json, "result");
        if (json_is_string(r)) {
            /* as the reference's print(f"Got result: {result}"): the text */
            app_print_text(f, json_string_value(r), json_string_length(r));
        } else {
            /* not the reference's shape: show the whole content */
            struct buf b;
            buf_init(&b, 0);
            if (app_json_dump(&b, m->json) == 0) app_print_text(f, buf_head(&b), buf_len(&b));
            buf_free(&b);
        }
        fputc('\n', f);
    } else if (!m->json) {
        app_print_escaped(f, m->content, m->content_len);
        fputc('\n', f);
    }
    if (err) {
        snprintf(why, n, "server error: %.200s",
                 json_is_string(err) ? json_string_value(err) : "(not a string)");
        for (char *s = why; *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
        return BERTH_EPROTO;
    }
    return 0;
}

int app_client_run(const struct app_client_opt *o, char *why, size_t n)
{
    FILE *f = o->out ? o->out : stdout;
    struct buf b;
    struct app_dec d;
    struct app_msg m = {0};
    int fd = -1, rc;
    buf_init(&b, 0);
    app_dec_init(&d, 0, o->max_content);

    if ((rc = build_request(o, &b)) < 0) {
        err_fmt(why, n, rc, "cannot build the request (is the value UTF-8?)");
        goto fail;
    }
    if ((fd = rc = net_connect(o->host, o->port, SOCK_STREAM, o->timeout_ms, NULL)) < 0) {
        char what[300];
        snprintf(what, sizeof what, "cannot connect to %s port %d", o->host, o->port);
        err_fmt(why, n, rc, what);
        goto fail;
    }
    if (o->timeout_ms > 0) net_set_timeout(fd, o->timeout_ms);
    if ((rc = (int)net_send_all(fd, buf_head(&b), buf_len(&b))) < 0) {
        err_fmt(why, n, rc, "cannot send the request");
        goto fail;
    }
    buf_clear(&b);

    int eof = 0;
    for (;;) {
        ssize_t r = app_decode(&d, buf_head(&b), buf_len(&b), eof, &m);
        if (r > 0) break;
        if (r < 0) {
            rc = (int)r;
            snprintf(why, n, "malformed response: %s", d.why);
            goto fail;
        }
        if (eof) {
            rc = BERTH_EOF;
            snprintf(why, n, "the server closed the connection without a response");
            goto fail;
        }
        r = buf_read_fd(&b, fd, 65536);
        if (r == 0)
            eof = 1;
        else if (r == -EAGAIN) {
            /* connected, so the server stalled: say how far it got */
            rc = -ETIMEDOUT;
            double t = o->timeout_ms / 1000.0;
            if (!buf_len(&b))
                snprintf(
                    why, n,
                    "timed out: no response from the server within %g s; is it an app-protocol "
                    "server? raise --timeout to wait longer",
                    t);
            else if (d.header)
                snprintf(why, n,
                         "received %zu of %zu bytes of the response, then nothing for %g s; "
                         "raise --timeout if the server is slow",
                         buf_len(&b), d.head_size + d.content_len, t);
            else
                snprintf(why, n,
                         "received %zu bytes of the response's header, then nothing for %g s; "
                         "raise --timeout if the server is slow",
                         buf_len(&b), t);
            goto fail;
        } else if (r < 0) {
            rc = (int)r;
            err_fmt(why, n, rc, buf_len(&b) ? "truncated response" : "no response from the server");
            goto fail;
        }
    }
    rc = print_response(o, f, &m, why, n);
fail:
    fflush(f);
    app_msg_free(&m);
    app_dec_free(&d);
    buf_free(&b);
    if (fd >= 0) close(fd);
    return rc;
}
