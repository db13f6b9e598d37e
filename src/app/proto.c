#include "app/proto.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void app_msg_free(struct app_msg *m)
{
    json_decref(m->header);
    json_decref(m->json);
    memset(m, 0, sizeof *m);
}

void app_dec_init(struct app_dec *d, size_t max_header, size_t max_content)
{
    memset(d, 0, sizeof *d);
    if (max_header == 0) max_header = APP_HEADER_MAX;
    if (max_header > 0xffff) max_header = 0xffff;
    frame_init(&d->frame, FRAME_LEN16, 0, max_header);
    d->max_content = max_content ? max_content : APP_CONTENT_MAX;
}

static void reset(struct app_dec *d)
{
    json_decref(d->header);
    d->header = NULL;
    d->head_size = d->content_len = 0;
}

void app_dec_free(struct app_dec *d)
{
    reset(d);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static ssize_t
fail(struct app_dec *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    /* jansson quotes the offending input; keep the line printable ASCII so it
     * is safe on a terminal and valid inside a JSON error response */
    for (char *s = d->why; *s; s++)
        if (*s < 0x20 || *s > 0x7e) *s = '?';
    reset(d);
    return code;
}

/* jansson's message plus where it stopped, or the one cause users can act on */
static ssize_t json_fail(struct app_dec *d, const char *what, const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_invalid_utf8:
        return fail(d, BERTH_EJSON, "%s is not valid UTF-8", what);
    case json_error_out_of_memory:
        return fail(d, -ENOMEM, "out of memory decoding the %s", what);
    case json_error_duplicate_key:
        return fail(d, BERTH_EJSON, "%s has a duplicate key (%s)", what, e->text);
    default:
        return fail(d, BERTH_EJSON, "%s is not valid JSON: %s at byte %d", what, e->text,
                    e->position);
    }
}

static const char *const required[] = {"byteorder", "content-length", "content-type",
                                       "content-encoding"};

/* Parses and checks a header of `len` bytes; on success keeps it in d. */
static ssize_t parse_header(struct app_dec *d, const char *h, size_t len)
{
    json_error_t e;
    /* duplicate keys are refused: two content-lengths must never be read two
     * ways by two implementations */
    json_t *o = json_loadb(h, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!o) return json_fail(d, "header", &e);
    d->header = o;
    if (!json_is_object(o)) return fail(d, BERTH_EPROTO, "header is not a JSON object");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!json_object_get(o, required[i]))
            return fail(d, BERTH_EPROTO, "header lacks the required key \"%s\"", required[i]);

    const char *bo = json_string_value(json_object_get(o, "byteorder"));
    if (!bo || (strcmp(bo, "little") && strcmp(bo, "big")))
        return fail(d, BERTH_EPROTO, "header \"byteorder\" must be \"little\" or \"big\"");
    if (!json_is_string(json_object_get(o, "content-type")))
        return fail(d, BERTH_EPROTO, "header \"content-type\" must be a string");
    if (!json_is_string(json_object_get(o, "content-encoding")))
        return fail(d, BERTH_EPROTO, "header \"content-encoding\" must be a string");

    json_t *cl = json_object_get(o, "content-length");
    if (!json_is_integer(cl))
        return fail(d, BERTH_EPROTO, "header \"content-length\" must be an integer, not %s",
                    json_is_real(cl)     ? "a fraction"
                    : json_is_string(cl) ? "a string"
                                         : "another type");
    json_int_t v = json_integer_value(cl);
    if (v < 0)
        return fail(d, BERTH_EPROTO,
                    "header \"content-length\" is negative (%" JSON_INTEGER_FORMAT ")", v);
    /* the limit is checked here, before a single byte of content is kept */
    if ((unsigned long long)v > d->max_content)
        return fail(d, BERTH_ETOOBIG,
                    "content-length %" JSON_INTEGER_FORMAT " exceeds the limit of %zu bytes", v,
                    d->max_content);
    d->head_size = 2 + len;
    d->content_len = (size_t)v;
    return 0;
}

static int is_utf8_name(const char *enc)
{
    return !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8");
}

ssize_t app_decode(struct app_dec *d, const char *p, size_t n, int eof, struct app_msg *m)
{
    if (!d->header) {
        const char *h;
        size_t hl;
        ssize_t r = frame_decode(&d->frame, p, n, eof, &h, &hl);
        if (r == BERTH_ETOOBIG)
            return fail(d, r, "header length %u exceeds the limit of %zu bytes",
                        (unsigned)((unsigned char)p[0] << 8 | (unsigned char)p[1]), d->frame.max);
        if (r == BERTH_EOF)
            return fail(d, r, "connection closed inside a message header (%zu bytes)", n);
        if (r <= 0) return r;
        if (hl == 0) return fail(d, BERTH_EPROTO, "header length is 0");
        r = parse_header(d, h, hl);
        if (r < 0) return r;
    }

    size_t total = d->head_size + d->content_len;
    if (n < total) {
        if (!eof) return 0;
        return fail(d, BERTH_EOF, "connection closed after %zu of %zu bytes of a message", n,
                    total);
    }

    memset(m, 0, sizeof *m);
    json_t *h = d->header;
    m->type = json_string_value(json_object_get(h, "content-type"));
    m->encoding = json_string_value(json_object_get(h, "content-encoding"));
    m->big_endian = !strcmp(json_string_value(json_object_get(h, "byteorder")), "big");
    m->content = p + d->head_size;
    m->content_len = d->content_len;
    if (!strcmp(m->type, APP_TYPE_JSON)) {
        if (!is_utf8_name(m->encoding))
            return fail(d, BERTH_EPROTO, "unsupported content-encoding \"%.40s\" for text/json",
                        m->encoding);
        json_error_t e;
        /* Python's json accepts "\u0000" in strings, so we do too */
        m->json = json_loadb(m->content, m->content_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!m->json) return json_fail(d, "content", &e);
    }
    m->header = h; /* ownership moves to the message */
    d->header = NULL;
    d->head_size = d->content_len = 0;
    return (ssize_t)total;
}

struct sink {
    struct buf *b;
    int rc;
};

static int sink_put(const char *s, size_t n, void *arg)
{
    struct sink *k = arg;
    k->rc = buf_append(k->b, s, n);
    return k->rc < 0 ? -1 : 0;
}

int app_json_dump(struct buf *out, const json_t *v)
{
    size_t start = buf_len(out);
    struct sink k = {out, 0};
    /* without JSON_COMPACT jansson separates with ", " and ": " as Python
     * does; without JSON_ENSURE_ASCII it writes UTF-8 unescaped, as
     * ensure_ascii=False does */
    if (json_dump_callback(v, sink_put, &k, JSON_ENCODE_ANY) < 0) {
        out->len = start;
        return k.rc < 0 ? k.rc : BERTH_EJSON;
    }
    /* jansson spells control characters "\u001F", Python "\u001f": lower the
     * hex digits of every \u escape so the bytes are the same.  A backslash
     * only ever appears in jansson's output as the start of an escape. */
    char *s = out->data + out->off + start, *end = out->data + out->off + out->len;
    while (s < end) {
        if (*s != '\\') {
            s++;
            continue;
        }
        if (s + 6 <= end && s[1] == 'u')
            for (int i = 2; i < 6; i++)
                s[i] = (char)tolower((unsigned char)s[i]);
        s += s + 1 < end && s[1] == 'u' ? 6 : 2;
    }
    return 0;
}

static const char *host_byteorder(void)
{
    const union {
        unsigned short s;
        unsigned char c[2];
    } u = {1};
    return u.c[0] ? "little" : "big";
}

int app_encode(struct buf *out, const char *type, const char *encoding, const void *content,
               size_t len)
{
    int rc = BERTH_EUSAGE;
    size_t start = buf_len(out);
    json_t *h = json_object();
    if (!h) return -ENOMEM;
    /* the reference's key order: byteorder, content-type, content-encoding,
     * content-length (json_string refuses invalid UTF-8) */
    if (json_object_set_new(h, "byteorder", json_string(host_byteorder())) ||
        json_object_set_new(h, "content-type", json_string(type)) ||
        json_object_set_new(h, "content-encoding", json_string(encoding)) ||
        json_object_set_new(h, "content-length", json_integer((json_int_t)len)))
        goto fail;
    if ((rc = buf_append(out, "\0\0", 2)) < 0) goto fail;
    if ((rc = app_json_dump(out, h)) < 0) goto fail;
    uint8_t pre[4];
    if ((rc = frame_put_len(FRAME_LEN16, buf_len(out) - start - 2, pre)) < 0) goto fail;
    memcpy(out->data + out->off + start, pre, 2);
    if ((rc = buf_append(out, content, len)) < 0) goto fail;
    json_decref(h);
    return 0;
fail:
    out->len = start;
    json_decref(h);
    return rc;
}

int app_encode_json(struct buf *out, const json_t *v)
{
    struct buf c;
    buf_init(&c, 0);
    int rc = app_json_dump(&c, v);
    if (rc == 0) rc = app_encode(out, APP_TYPE_JSON, "utf-8", buf_head(&c), buf_len(&c));
    buf_free(&c);
    return rc;
}
