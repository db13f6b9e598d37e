/* libFuzzer target for the application-protocol decoder (src/app/proto.c).
 *
 * The input is a byte stream.  It is decoded twice: all at once, and fed in
 * pieces whose sizes come from the first input byte; both must find the same
 * messages and end the same way.  Every message is re-encoded and decoded
 * again, and its JSON content dumped and parsed again, to check the encoder
 * against the decoder.  The limits are the app server's (src/app/server.c):
 * the default header limit, and the default content limit or, when the
 * second input byte's top bit is set, a small --max-content. */
#include "app/proto.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MSGS 64

struct trace {
    size_t sizes[MAX_MSGS];
    int count;
    int end; /* 0 clean or need more, else the error code */
};

static void check_roundtrip(const struct app_msg *m)
{
    struct buf b;
    buf_init(&b, 0);
    if (app_encode(&b, m->type, m->encoding, m->content, m->content_len) == 0) {
        struct app_dec d;
        struct app_msg again;
        app_dec_init(&d, 0xffff, m->content_len + 1);
        ssize_t r = app_decode(&d, buf_head(&b), buf_len(&b), 1, &again);
        if (r != (ssize_t)buf_len(&b)) abort();
        if (again.content_len != m->content_len ||
            memcmp(again.content, m->content, m->content_len) != 0 ||
            strcmp(again.type, m->type) != 0 || strcmp(again.encoding, m->encoding) != 0)
            abort();
        if (m->json && !json_equal(m->json, again.json)) abort();
        app_msg_free(&again);
        app_dec_free(&d);
    }
    buf_clear(&b);
    if (m->json && app_json_dump(&b, m->json) == 0) {
        json_t *v = json_loadb(buf_head(&b), buf_len(&b), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!v || !json_equal(v, m->json)) abort();
        json_decref(v);
    }
    buf_free(&b);
}

/* Decodes p[0..n) handing the decoder `step(i)` more bytes at a time. */
/* The decoder as src/app/server.c sets it up: app_dec_init(&dec, 0,
 * o->max_content), the header limit always the default (APP_HEADER_MAX) and
 * the content limit the --max-content option (0: APP_CONTENT_MAX). */
static void run(const char *p, size_t n, unsigned seed, size_t max_content, struct trace *t,
                int check)
{
    struct app_dec d;
    app_dec_init(&d, 0, max_content);
    if (d.max_content != (max_content ? max_content : APP_CONTENT_MAX)) abort();
    memset(t, 0, sizeof *t);
    size_t start = 0, avail = 0;
    unsigned x = seed | 1;
    for (;;) {
        int eof = avail == n;
        struct app_msg m;
        ssize_t r = app_decode(&d, p + start, avail - start, eof, &m);
        if (r > 0) {
            if ((size_t)r > avail - start) abort();
            if (m.content < p + start || m.content + m.content_len > p + start + r) abort();
            if (check) check_roundtrip(&m);
            app_msg_free(&m);
            if (t->count < MAX_MSGS) t->sizes[t->count] = (size_t)r;
            t->count++;
            start += (size_t)r;
            continue;
        }
        if (r < 0) {
            if (!d.why[0]) abort(); /* every error explains itself */
            t->end = (int)r;
            break;
        }
        if (eof) break;
        x = x * 1103515245u + 12345u;
        size_t step = seed ? 1 + (x >> 16) % (seed % 64 + 1) : n;
        avail = avail + step > n ? n : avail + step;
    }
    app_dec_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned seed = data[0];
    /* mostly the server's default limit; sometimes a small --max-content */
    size_t max_content = data[1] & 0x80 ? (size_t)(data[1] & 0x7f) * 37 : 0;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    struct trace whole, pieces;
    run(p, n, 0, max_content, &whole, 1);
    run(p, n, seed, max_content, &pieces, 0);
    int k = whole.count < MAX_MSGS ? whole.count : MAX_MSGS;
    if (whole.count != pieces.count || whole.end != pieces.end) abort();
    if (memcmp(whole.sizes, pieces.sizes, (size_t)k * sizeof whole.sizes[0])) abort();
    return 0;
}
