/* libFuzzer target for src/frame.c: every framing (fixed, delimiter, LEN16,
 * LEN32, close-terminated).
 *
 * Input: byte 0 picks the framing and the limit, byte 1 the fixed size or the
 * delimiter length (its bytes follow), two bytes a split point; the rest is
 * the stream.  The stream is decoded as a reader would (decode what has
 * arrived, consume each message, decode again when more arrives, then once
 * more at EOF) three ways: in one piece, in two pieces cut at the chosen
 * point, and (for short streams) one byte at a time.  All three must give the
 * same messages and end the same way.  Each call sees an exact-size copy of
 * the unconsumed bytes, so ASan catches a read past them.  Every message must
 * also be what its framing says: inside the bytes given, within the limit,
 * the prefix equal to the length, the delimiter right after the payload and
 * nowhere earlier. */
#include "err.h"
#include "frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 512

struct trace {
    size_t off[MAX_MSGS], len[MAX_MSGS], used[MAX_MSGS];
    size_t count;
    ssize_t end; /* 0: clean end or incomplete, < 0: the error */
    size_t left; /* unconsumed bytes at the end */
};

struct cfg {
    enum frame_kind kind;
    size_t size, max;
    const char *delim;
    size_t dl;
};

static void init(struct frame_dec *d, const struct cfg *c)
{
    if (c->kind == FRAME_DELIM)
        frame_init_delim(d, c->delim, c->dl, c->max);
    else
        frame_init(d, c->kind, c->size, c->max);
}

/* what the framing promises about one message at p[0..used) */
static void check_msg(const struct cfg *c, const char *p, size_t n, ssize_t used, const char *msg,
                      size_t len)
{
    if (used <= 0 || (size_t)used > n) abort();
    if (msg < p || msg + len > p + used) abort();
    if (c->max && len > c->max) abort();
    switch (c->kind) {
    case FRAME_FIXED:
        if (len != c->size || msg != p || (size_t)used != len) abort();
        break;
    case FRAME_DELIM:
        if (msg != p || (size_t)used != len + c->dl || memcmp(p + len, c->delim, c->dl)) abort();
        if (len + c->dl > c->dl && memmem(p, len + c->dl - 1, c->delim, c->dl)) abort();
        break;
    case FRAME_LEN16:
    case FRAME_LEN32: {
        size_t hl = c->kind == FRAME_LEN16 ? 2 : 4, v = 0;
        for (size_t i = 0; i < hl; i++)
            v = v << 8 | (unsigned char)p[i];
        if (v != len || msg != p + hl || (size_t)used != hl + len) abort();
        uint8_t pre[4];
        if (frame_put_len(c->kind, len, pre) != (int)hl || memcmp(pre, p, hl)) abort();
        break;
    }
    case FRAME_CLOSE:
        if (msg != p || (size_t)used != len || len != n) abort();
        break;
    }
}

/* One decode call on an exact-size copy of s[start..avail). */
static ssize_t call(struct frame_dec *d, const struct cfg *c, const char *s, size_t start,
                    size_t avail, int eof, struct trace *t)
{
    size_t n = avail - start;
    char *copy = malloc(n ? n : 1);
    if (!copy) abort();
    if (n) memcpy(copy, s + start, n);
    const char *msg = NULL;
    size_t len = 0;
    ssize_t r = frame_decode(d, copy, n, eof, &msg, &len);
    if (r > 0) {
        check_msg(c, copy, n, r, msg, len);
        if (t->count < MAX_MSGS) {
            t->off[t->count] = start + (size_t)(msg - copy);
            t->len[t->count] = len;
            t->used[t->count] = (size_t)r;
        }
        t->count++;
    } else if (r < 0 && r != BERTH_ETOOBIG && r != BERTH_EOF) {
        abort();
    } else if (r == BERTH_EOF && (!eof || !n)) {
        abort(); /* "eof inside a message" needs both */
    }
    free(copy);
    return r;
}

/* Decodes s[0..n) arriving at the given cut points (ascending, the last n),
 * then at EOF. */
static void run(const struct cfg *c, const char *s, size_t n, const size_t *cuts, size_t ncuts,
                struct trace *t)
{
    struct frame_dec d;
    init(&d, c);
    memset(t, 0, sizeof *t);
    size_t start = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        int eof = k == ncuts;
        size_t avail = eof ? n : cuts[k];
        for (;;) {
            ssize_t r = call(&d, c, s, start, avail, eof, t);
            if (r > 0) {
                start += (size_t)r;
                continue;
            }
            if (r < 0) {
                t->end = r;
                t->left = n - start;
                return;
            }
            break;
        }
    }
    t->left = n - start;
}

static void same(const struct trace *a, const struct trace *b)
{
    if (a->count != b->count || a->end != b->end || a->left != b->left) abort();
    size_t k = a->count < MAX_MSGS ? a->count : MAX_MSGS;
    for (size_t i = 0; i < k; i++)
        if (a->off[i] != b->off[i] || a->len[i] != b->len[i] || a->used[i] != b->used[i]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    struct cfg c;
    memset(&c, 0, sizeof c);
    c.kind = (enum frame_kind)(data[0] % 5);
    static const size_t maxes[] = {0, 1, 2, 3, 5, 8, 16, 64, 255, 256, 1000, 65535};
    c.max = maxes[(data[0] / 5) % (sizeof maxes / sizeof maxes[0])];
    size_t pos = 2;
    if (c.kind == FRAME_FIXED) {
        c.size = data[1] % 64; /* 0 included: never a message */
    } else if (c.kind == FRAME_DELIM) {
        c.dl = 1 + data[1] % 4;
        if (size < pos + c.dl + 2) return 0;
        c.delim = (const char *)data + pos;
        pos += c.dl;
    }
    size_t split = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    const char *s = (const char *)data + pos;
    size_t n = size - pos;
    if (n)
        split %= n + 1;
    else
        split = 0;

    static struct trace whole, two, bytes;
    size_t cut_all[1] = {n};
    run(&c, s, n, cut_all, 1, &whole);
    size_t cut2[2] = {split, n};
    run(&c, s, n, cut2, 2, &two);
    same(&whole, &two);
    /* the messages tile the consumed bytes */
    size_t k = whole.count < MAX_MSGS ? whole.count : MAX_MSGS, at = 0;
    for (size_t i = 0; i < k; i++)
        at += whole.used[i];
    if (whole.count <= MAX_MSGS && at != n - whole.left) abort();

    if (n <= 512) {
        static size_t cuts[513];
        for (size_t i = 0; i < n; i++)
            cuts[i] = i + 1;
        run(&c, s, n, cuts, n, &bytes);
        same(&whole, &bytes);
    }
    return 0;
}
