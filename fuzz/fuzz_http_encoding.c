/* libFuzzer harness for the Accept-Encoding parser and chooser: the first
 * input byte picks the codings available, the rest is the field value (split
 * at the first NUL into two field lines).  Every weight is 0..1000 or
 * unlisted, the choice is identity or an available coding the client
 * weights above 0, no available coding weighs more than the one chosen, and
 * identity is chosen over a coding only when it weighs more. */
#include "http/encoding.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned avail = (unsigned)(data[0] & 0x0e); /* bits of br, zstd, gzip */
    data++;
    size--;
    char *v = malloc(size ? size : 1); /* exact size: ASan catches over-reads */
    if (!v) return 0;
    if (size) memcpy(v, data, size);
    struct http_accept_enc a;
    http_ae_init(&a);
    const char *nul = memchr(v, '\0', size);
    size_t first = nul ? (size_t)(nul - v) : size;
    http_ae_parse(&a, v, first);
    if (nul) http_ae_parse(&a, nul + 1, size - first - 1);
    for (int e = 0; e < HTTP_ENC_N; e++)
        if (a.q[e] < -1 || a.q[e] > 1000) abort();
    if (a.star < -1 || a.star > 1000) abort();
    enum http_enc c = http_ae_choose(&a, avail);
    if ((unsigned)c >= HTTP_ENC_N) abort();
    int qc = http_ae_q(&a, c);
    if (c != HTTP_ENC_IDENTITY && (!(avail & HTTP_ENC_BIT(c)) || qc <= 0)) abort();
    for (int e = HTTP_ENC_BR; e < HTTP_ENC_N; e++) {
        int qe = http_ae_q(&a, (enum http_enc)e);
        if (qe < 0 || qe > 1000) abort();
        if ((avail & HTTP_ENC_BIT(e)) && c != HTTP_ENC_IDENTITY && qe > qc) abort();
        if ((avail & HTTP_ENC_BIT(e)) && c == HTTP_ENC_IDENTITY && qe > 0 &&
            http_ae_q(&a, HTTP_ENC_IDENTITY) <= qe)
            abort();
    }
    /* nothing available: identity whatever was asked */
    if (http_ae_choose(&a, 0) != HTTP_ENC_IDENTITY) abort();
    free(v);
    return 0;
}
