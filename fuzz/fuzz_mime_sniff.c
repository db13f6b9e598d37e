/* libFuzzer target for the charset sniffer (mime_charset_sniff in
 * src/http/mime.c), which reads the first bytes of a served file (HTML
 * <meta charset>, CSS @charset, the XML declaration, byte order marks) and
 * puts what it finds into the Content-Type header: a header-injection risk
 * if a file's bytes could carry CR, LF or other non-token bytes into it.
 *
 * Input: byte 0 picks the type and the room given (an exact-size heap buffer,
 * so ASan sees an overrun); the rest is the file's head.  Invariants:
 *   - an unsniffed type comes back itself, untouched;
 *   - otherwise the answer is the type itself, or the room given holding the
 *     bare type, or the bare type then "; charset=" and a non-empty name
 *     made of token characters and ':' only, neither utf-8 nor utf8, found
 *     verbatim in the file's first 1024 bytes — as a token (RFC 9110
 *     §5.6.2), or quoted when it holds ':' (a quoted-string, §5.6.6);
 *   - the bare type alone is given only for a UTF-16 byte order mark. */
#include "harness.h"
#include "http/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {
        "text/html; charset=utf-8",
        "text/css; charset=utf-8",
        "application/xml; charset=utf-8",
        "image/svg+xml; charset=utf-8",
        "text/plain; charset=utf-8",
        "application/octet-stream",
        "text/html",
        "application/xhtml+xml; charset=utf-8",
    };
    if (size < 1) return 0;
    const char *type = types[data[0] & 7];
    size_t cap = 1 + (size_t)(data[0] >> 3) * 3; /* 1..94 */
    size_t n = size - 1;
    char *head = malloc(n ? n : 1), *out = malloc(cap);
    memcpy(head, data + 1, n);
    const char *r = mime_charset_sniff(type, head, n, out, cap);
    size_t tl = strlen(type),
           base = tl > 15 && !strcmp(type + tl - 15, "; charset=utf-8") ? tl - 15 : tl;
    if (!mime_sniffs(type)) {
        if (r != type) abort();
    } else if (r != type) {
        if (r != out) abort();
        size_t rl = strnlen(out, cap);
        if (rl >= cap || rl < base || memcmp(out, type, base)) abort();
        if (rl == base) {
            const uint8_t *u = data + 1;
            if (n < 2 || !((u[0] == 0xfe && u[1] == 0xff) || (u[0] == 0xff && u[1] == 0xfe)))
                abort();
        } else {
            const char *v = out + base + 10;
            size_t vl = rl - base - 10;
            if (rl <= base + 10 || memcmp(out + base, "; charset=", 10)) abort();
            /* a token, or a quoted-string exactly when the name is none */
            int quoted = v[0] == '"', colon = 0;
            if (quoted) {
                if (vl < 3 || v[vl - 1] != '"') abort();
                v++, vl -= 2;
            }
            for (size_t i = 0; i < vl; i++) {
                if (!fz_tchar((unsigned char)v[i]) && v[i] != ':') abort();
                colon |= v[i] == ':';
            }
            if (quoted != colon) abort();
            if (fz_eq_ci(v, vl, "utf-8") || fz_eq_ci(v, vl, "utf8")) abort();
            size_t lim = n < 1024 ? n : 1024;
            if (!memmem(head, lim, v, vl)) abort();
        }
    }
    free(head);
    free(out);
    return 0;
}
