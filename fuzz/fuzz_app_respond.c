/* libFuzzer target for the application server's answer to a decoded request
 * (app_respond in src/app/server.c): the JSON content's "action" and "value"
 * of any JSON type, any content type, the search table's lookup.
 *
 * Input: a byte stream of requests, decoded as the server decodes it
 * (src/app/proto.c, default limits).  For each request the answer is
 * decoded again by a fresh decoder and must be exactly one whole message:
 *   - a request that is not text/json: binary content "First 10 bytes of
 *     request: " and the request's first 10 bytes;
 *   - text/json content that is not an object: BERTH_EPROTO with a reason;
 *   - else a text/json object with just "result", a string: the table's
 *     answer for {"action": "search", "value": KEY} when there is one,
 *     else "No match for '...'." or "Error: invalid action '...'.". */
#include "app/proto.h"
#include "app/server.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int starts_ends(const char *s, size_t n, const char *pre, const char *post)
{
    size_t a = strlen(pre), b = strlen(post);
    return n >= a + b && !memcmp(s, pre, a) && !memcmp(s + n - b, post, b);
}

static void check(const json_t *table, const struct app_msg *m)
{
    struct buf out;
    char why[256] = "";
    buf_init(&out, 0);
    int rc = app_respond(table, m, &out, why, sizeof why);
    if (m->json && !json_is_object(m->json)) {
        if (rc != BERTH_EPROTO || !why[0] || buf_len(&out)) abort();
        buf_free(&out);
        return;
    }
    if (rc != 0) abort();
    struct app_dec d;
    struct app_msg r;
    app_dec_init(&d, 0xffff, 0);
    ssize_t k = app_decode(&d, buf_head(&out), buf_len(&out), 1, &r);
    if (k != (ssize_t)buf_len(&out)) abort();
    if (!m->json) {
        static const char pre[] = "First 10 bytes of request: ";
        size_t want = m->content_len < 10 ? m->content_len : 10;
        if (r.json || r.content_len != sizeof pre - 1 + want ||
            memcmp(r.content, pre, sizeof pre - 1) ||
            memcmp(r.content + sizeof pre - 1, m->content, want))
            abort();
    } else {
        if (!r.json || !json_is_object(r.json) || json_object_size(r.json) != 1) abort();
        const json_t *res = json_object_get(r.json, "result");
        if (!json_is_string(res)) abort();
        const char *s = json_string_value(res);
        size_t n = json_string_length(res);
        const json_t *action = json_object_get(m->json, "action");
        const json_t *value = json_object_get(m->json, "value");
        int search = json_is_string(action) && json_string_length(action) == 6 &&
                     !memcmp(json_string_value(action), "search", 6);
        const json_t *hit =
            search && json_is_string(value)
                ? json_object_getn(table, json_string_value(value), json_string_length(value))
                : NULL;
        if (hit && json_string_length(hit)) {
            if (n != json_string_length(hit) || memcmp(s, json_string_value(hit), n)) abort();
        } else if (!starts_ends(s, n, search ? "No match for '" : "Error: invalid action '",
                                "'.")) {
            abort();
        }
    }
    app_msg_free(&r);
    app_dec_free(&d);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *table;
    if (!table) table = app_table_default();
    struct app_dec d;
    app_dec_init(&d, 0, 0);
    const char *p = (const char *)data;
    size_t n = size;
    for (;;) {
        struct app_msg m;
        ssize_t k = app_decode(&d, p, n, 1, &m);
        if (k <= 0) break;
        check(table, &m);
        app_msg_free(&m);
        p += k;
        n -= (size_t)k;
    }
    app_dec_free(&d);
    return 0;
}
