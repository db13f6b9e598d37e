/* libFuzzer harness for the URL path normaliser: whatever the input, a
 * successful result starts with '/', holds no "." or ".." segment and no
 * empty one, and normalising it again (with '%' re-escaped) changes nothing. */
#include "http/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_canonical(const char *p, int n)
{
    if (n < 1 || p[0] != '/' || (size_t)n != strlen(p)) abort();
    for (int i = 0; i < n; i++) {
        if (p[i] != '/') continue;
        /* the segment that starts after this '/' */
        const char *s = p + i + 1;
        size_t len = strcspn(s, "/");
        if (len == 0 && s[0] == '/') abort();                /* "//" */
        if (len == 1 && s[0] == '.') abort();                /* "/./" or a trailing "/." */
        if (len == 2 && s[0] == '.' && s[1] == '.') abort(); /* "/../" or "/.." */
    }
    if (strstr(p, "/../") || strstr(p, "/./")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1), out[4096 + 1];
    if (!in) return 0;
    if (size) memcpy(in, data, size); /* an exact-size copy: ASan catches any over-read */
    int n = http_path_normalize(in, size, out, sizeof out);
    if (n >= 0) {
        check_canonical(out, n);
        (void)http_path_hidden(out);

        char enc[3 * sizeof out], again[sizeof out];
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            if (out[i] == '%' || out[i] == '?' || out[i] == '#') {
                static const char hex[] = "0123456789ABCDEF";
                enc[k++] = '%';
                enc[k++] = hex[(unsigned char)out[i] >> 4];
                enc[k++] = hex[out[i] & 15];
            } else {
                enc[k++] = out[i];
            }
        }
        int m = http_path_normalize(enc, k, again, sizeof again);
        if (m != n || memcmp(again, out, (size_t)n + 1) != 0) abort();
    } else if (n != -400 && n != -414) {
        abort();
    }
    /* a tiny output buffer must fail cleanly or still produce a canonical path */
    char small[8];
    n = http_path_normalize(in, size, small, sizeof small);
    if (n >= 0)
        check_canonical(small, n);
    else if (n != -400 && n != -414)
        abort();
    free(in);
    return 0;
}
