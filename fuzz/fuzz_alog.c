/* libFuzzer target for the access log's formatter (src/http/alog.c), which
 * writes request bytes chosen by the client (method, target, the raw first
 * line of a request that did not parse, Referer, User-Agent) into a log that
 * operators read with terminals and parse with scripts.
 *
 * Input: byte 0 picks the format and which fields are present, bytes 1-16
 * the address, byte 17 the family; the rest is cut into the four strings at
 * 0x00 bytes (the last piece, with its NULs kept, is the raw line).
 * Invariants:
 *   - exactly one line is appended, ending in its only '\n';
 *   - no byte of it is a control or >= 0x7f: every such byte was written
 *     \xHH, and so were '"' and '\\' inside the quoted fields;
 *   - unescaping the quoted request field gives back exactly the bytes
 *     logged (a round trip), and the line has exactly 2 (CLF) or 6
 *     (combined) unescaped '"';
 *   - alog_first_line returns a piece of its input without CR or LF, at
 *     most max bytes long. */
#include "buf.h"
#include "http/alog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* unescapes s[0..n) into out; -1 when an escape is malformed or a byte
 * that needed one appears bare */
static long unescape(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            if (i + 3 >= n || s[i + 1] != 'x') return -1;
            int h = hexval((unsigned char)s[i + 2]), l = hexval((unsigned char)s[i + 3]);
            if (h < 0 || l < 0) return -1;
            out[k++] = (char)(h * 16 + l);
            i += 3;
        } else {
            if (c == '"' || c < 0x20 || c >= 0x7f) return -1;
            out[k++] = (char)c;
        }
    }
    return (long)k;
}

static const char *piece(const uint8_t **p, const uint8_t *end, size_t *n)
{
    const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    const uint8_t *e = z ? z : end;
    *n = (size_t)(e - s);
    *p = z ? z + 1 : end;
    return (const char *)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 18) return 0;
    uint8_t f = data[0];
    struct alog_entry e;
    memset(&e, 0, sizeof e);
    memcpy(e.addr, data + 1, 16);
    e.family = data[17] & 1 ? AF_INET6 : data[17] & 2 ? AF_INET : 0;
    e.when = (time_t)(data[17] >> 2) * 86400 * 97;
    e.status = (int)(data[1] | data[2] << 8) - 100;
    e.bytes = (uint64_t)data[3] << (data[4] & 63);
    e.version = (f >> 4) & 1 ? 10 : (f >> 5) & 1 ? 20 : 11;
    const uint8_t *p = data + 18, *end = data + size;
    size_t mn, tn, rn, un;
    const char *m = piece(&p, end, &mn), *t = piece(&p, end, &tn);
    const char *r = piece(&p, end, &rn), *u = piece(&p, end, &un);
    const char *line = (const char *)p;
    size_t ln = (size_t)(end - p);
    int combined = f & 1;
    if (f & 2) {
        e.method = http_str_make(m, mn);
        e.target = http_str_make(t, tn);
    } else if (f & 4) {
        e.line = alog_first_line(line, ln, 64 + (size_t)(f >> 6) * 100);
        size_t max = 64 + (size_t)(f >> 6) * 100;
        if (e.line.p) {
            if (e.line.n == 0 || e.line.n > max || e.line.p < line ||
                e.line.p + e.line.n > line + ln)
                abort();
            if (memchr(e.line.p, '\r', e.line.n) || memchr(e.line.p, '\n', e.line.n)) abort();
        }
    }
    if (f & 8) e.referer = http_str_make(r, rn);
    e.user_agent = http_str_make(u, un);

    struct buf out;
    buf_init(&out, 0);
    if (buf_append(&out, "x", 1) < 0) abort(); /* appended, not overwritten */
    if (alog_format(&out, &e, combined ? ALOG_COMBINED : ALOG_CLF) < 0) abort();
    const char *s = buf_head(&out) + 1;
    size_t n = buf_len(&out) - 1;
    if (buf_head(&out)[0] != 'x' || n == 0 || s[n - 1] != '\n') abort();
    size_t quotes = 0, q[6] = {0};
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f) abort();
        if (c == '"') {
            if (quotes < 6) q[quotes] = i;
            quotes++;
        }
    }
    if (quotes != (combined ? 6u : 2u)) abort();
    /* the request field: method SP target SP version, or the raw line */
    char *back = malloc(q[1] - q[0] + 1);
    long k = unescape(s + q[0] + 1, q[1] - q[0] - 1, back);
    if (k < 0) abort();
    if (e.method.p) {
        if ((size_t)k < mn + 1 + tn + 9 || memcmp(back, m, mn) || back[mn] != ' ' ||
            memcmp(back + mn + 1, t, tn) || (size_t)k != mn + 1 + tn + 9)
            abort();
    } else if (e.line.p) {
        if ((size_t)k != e.line.n || memcmp(back, e.line.p, e.line.n)) abort();
    } else if (k != 1 || back[0] != '-') {
        abort();
    }
    free(back);
    if (combined) {
        char *ua = malloc(q[5] - q[4] + 1);
        long kn = unescape(s + q[4] + 1, q[5] - q[4] - 1, ua);
        if (kn < 0 || (size_t)kn != un || memcmp(ua, u, un)) abort();
        free(ua);
    }
    buf_free(&out);
    return 0;
}
