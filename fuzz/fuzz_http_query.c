/* libFuzzer harness for the query-string helpers: the input is split at
 * its first NUL into a name and a query.  Whatever they are, a decoded
 * value is NUL-terminated within the buffer at the length returned, is no
 * longer than its encoded form, and decoding never writes past the buffer
 * (ASan watches); a tiny buffer fails cleanly. */
#include "http/query.h"

#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 2);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = in[size + 1] = '\0';
    const char *name = in, *q = in + strlen(in) + (strlen(in) < size ? 1 : 0);
    size_t qlen = strlen(q);
    char *out = malloc(qlen + 1);
    if (!out) {
        free(in);
        return 0;
    }
    int n = http_query_param(q, name, out, qlen + 1);
    if (n >= 0 && ((size_t)n > qlen || out[n] != '\0')) abort();
    if (n < 0 && n != -ENOENT && n != BERTH_EFIELD && n != BERTH_EUSAGE) abort();
    n = http_query_decode(q, qlen, out, qlen + 1);
    if (n >= 0 && ((size_t)n > qlen || out[n] != '\0')) abort();
    char one[1];
    n = http_query_decode(q, qlen, one, 1);
    if (n > 0 || (n == 0 && qlen && one[0] != '\0')) abort();
    free(out);
    free(in);
    return 0;
}
