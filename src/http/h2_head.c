/* h2_head — an answer's HTTP/1.1 head as nghttp2 pairs, the last few kept
 * (contract in h2_head.h). */
#include "http/h2_head.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BYTES 4096 /* a larger head is not kept (converted each time) */

/* One allocation the head's size: the struct, n pairs, then the head twice */
struct h2_head_slot {
    size_t len;  /* the head's bytes, blank line included */
    size_t size; /* bytes allocated */
    int n;       /* pairs */
    int busy;    /* given out since the last h2_heads_idle: nghttp2 may still read it */
    char *orig;  /* the head as built: what a new one is compared with */
    char *low;   /* ... with lower-case names: what nv points into */
    nghttp2_nv nv[];
};

/* ASCII lower case by table: one load per byte, no call */
#define LT(i)   ((unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i)))
#define LT4(i)  LT(i), LT((i) + 1), LT((i) + 2), LT((i) + 3)
#define LT16(i) LT4(i), LT4((i) + 4), LT4((i) + 8), LT4((i) + 12)
#define LT64(i) LT16(i), LT16((i) + 16), LT16((i) + 32), LT16((i) + 48)
static const unsigned char lower_tab[256] = {LT64(0), LT64(64), LT64(128), LT64(192)};
#undef LT64
#undef LT16
#undef LT4
#undef LT

/* name[0..n) equals the lower-case literal lit[0..n), ignoring case */
static int name_is(const char *name, const char *lit, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (lower_tab[(unsigned char)name[k]] != (unsigned char)lit[k]) return 0;
    return 1;
}

/* RFC 9113 §8.2.2: fields that only mean something to one HTTP/1.1 hop */
static int connection_specific(const char *name, size_t n)
{
    switch (n) {
    case 7:
        return name_is(name, "upgrade", 7);
    case 10:
        return name_is(name, "connection", 10) || name_is(name, "keep-alive", 10);
    case 16:
        return name_is(name, "proxy-connection", 16);
    case 17:
        return name_is(name, "transfer-encoding", 17);
    default:
        return 0;
    }
}

static nghttp2_nv nv_make(const char *name, size_t nlen, const char *value, size_t vlen)
{
    nghttp2_nv nv = {(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, nlen, vlen,
                     NGHTTP2_NV_FLAG_NONE};
    return nv;
}

/* One memchr per line.  The names and values point into r: nghttp2's copy
 * (nghttp2_submit_response) lower-cases the names while it copies, so no
 * pass of ours has to. */
int h2_head_nv(const char *r, size_t len, nghttp2_nv *nv, size_t cap, size_t *hl)
{
    if (len < 14 || memcmp(r, "HTTP/1.", 7) != 0 || r[8] != ' ') return -1;
    for (int i = 0; i < 3; i++)
        if (r[9 + i] < '0' || r[9 + i] > '9') return -1;
    size_t n = 0;
    /* a literal (lower case, static): nghttp2 need not copy the name */
    nv[n] = nv_make(":status", 7, r + 9, 3);
    nv[n++].flags = NGHTTP2_NV_FLAG_NO_COPY_NAME;
    const char *end = r + len;
    const char *p = memchr(r, '\n', len);
    if (!p) return -1;
    for (p++; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) return -1;
        size_t ll = (size_t)(eol - p);
        if (ll && p[ll - 1] == '\r') ll--;
        if (!ll) {
            *hl = (size_t)(eol + 1 - r); /* the blank line */
            return (int)n;
        }
        const char *colon = memchr(p, ':', ll);
        if (!colon || colon == p) return -1;
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1, *ve = p + ll;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (!connection_specific(p, nlen)) {
            if (n >= cap) return -2;
            nv[n++] = nv_make(p, nlen, v, (size_t)(ve - v));
        }
        p = eol + 1;
    }
    return -1; /* no blank line */
}

/* The kept head r[0..len) begins with, or NULL.  A kept head ends with its
 * blank line, so a head that begins with one is that one. */
static struct h2_head_slot *find(struct h2_heads *h, const char *r, size_t len)
{
    for (size_t i = 0; i < H2_HEAD_SLOTS && h->slot[i]; i++) {
        struct h2_head_slot *sl = h->slot[i];
        if (sl->len <= len && memcmp(sl->orig, r, sl->len) == 0) {
            memmove(&h->slot[1], &h->slot[0], i * sizeof h->slot[0]); /* to the front */
            h->slot[0] = sl;
            return sl;
        }
    }
    return NULL;
}

/* Keeps the head r[0..hl) whose pairs nv[0..n) h2_head_nv made: the least
 * recently used slot no queued frame may read is reused (grown if need be)
 * or a new one made.  NULL when none is free, or the head is too large to
 * keep, or out of memory. */
static struct h2_head_slot *keep(struct h2_heads *h, const char *r, size_t hl, const nghttp2_nv *nv,
                                 int n)
{
    if (hl > SLOT_BYTES) return NULL;
    size_t i = H2_HEAD_SLOTS;
    while (i > 0 && h->slot[i - 1] && h->slot[i - 1]->busy)
        i--;
    if (i == 0) return NULL; /* every slot is still read by queued frames */
    struct h2_head_slot *sl = h->slot[i - 1];
    size_t need = sizeof *sl + (size_t)n * sizeof sl->nv[0] + 2 * hl;
    if (!sl || sl->size < need) {
        need = (need + 255) & ~(size_t)255; /* a head a little longer next second fits */
        struct h2_head_slot *bigger = realloc(sl, need); /* not busy: nothing reads it */
        if (!bigger) return NULL; /* not kept: still answered, nghttp2 copying */
        sl = bigger;
        sl->size = need;
    }
    memmove(&h->slot[1], &h->slot[0], (i - 1) * sizeof h->slot[0]);
    h->slot[0] = sl;
    sl->orig = (char *)&sl->nv[n];
    sl->low = sl->orig + hl;
    sl->len = hl;
    sl->n = n;
    sl->busy = 0;
    memcpy(sl->orig, r, hl);
    memcpy(sl->low, r, hl);
    const uint8_t flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
    sl->nv[0] = nv[0]; /* ":status": a literal name; its value moves below */
    sl->nv[0].value = (uint8_t *)sl->low + (nv[0].value - (const uint8_t *)r);
    sl->nv[0].flags = flags;
    for (int k = 1; k < n; k++) {
        uint8_t *name = (uint8_t *)sl->low + (nv[k].name - (const uint8_t *)r);
        for (size_t j = 0; j < nv[k].namelen; j++)
            name[j] = lower_tab[name[j]];
        sl->nv[k] = (nghttp2_nv){name, (uint8_t *)sl->low + (nv[k].value - (const uint8_t *)r),
                                 nv[k].namelen, nv[k].valuelen, flags};
    }
    return sl;
}

int h2_heads_get(struct h2_heads *h, const char *r, size_t len, nghttp2_nv *nv, size_t cap,
                 const nghttp2_nv **out, size_t *hl)
{
    struct h2_head_slot *sl = find(h, r, len);
    if (!sl) {
        int n = h2_head_nv(r, len, nv, cap, hl);
        *out = nv;
        if (n < 0 || !(sl = keep(h, r, *hl, nv, n))) return n;
    }
    sl->busy = 1;
    *out = sl->nv;
    *hl = sl->len;
    return sl->n;
}

void h2_heads_idle(struct h2_heads *h)
{
    for (size_t i = 0; i < H2_HEAD_SLOTS && h->slot[i]; i++)
        h->slot[i]->busy = 0;
}

void h2_heads_free(struct h2_heads *h)
{
    for (size_t i = 0; i < H2_HEAD_SLOTS; i++) {
        free(h->slot[i]);
        h->slot[i] = NULL;
    }
}
