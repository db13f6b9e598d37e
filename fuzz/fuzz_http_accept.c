/* libFuzzer target for the site features' parsers: the Accept field
 * (src/http/accept.c), the content-fingerprint matcher and the option
 * checks (src/http/policy.c), and the tar header writer (src/http/tar.c).
 *
 * Input: any bytes.
 *   - http_accept_q returns -1..1000 for every type asked, and where a range
 *     names the type exactly, the wildcard-aware answer is that one (the
 *     most specific range decides);
 *   - policy_fingerprinted only says yes for a last segment with a stem, a
 *     middle and an extension, and depends on nothing before the last '/';
 *   - the option checks never crash, and a --header line they accept holds
 *     no CR, LF or NUL;
 *   - tar_header writes what it measured: whole 512-byte blocks, each with
 *     a valid checksum. */
#include "http/accept.h"
#include "http/policy.h"
#include "http/tar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accept(const char *v, size_t n)
{
    static const char *const types[] = {"text/html", "application/json", "image/png", "a/b"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int any = http_accept_q(v, n, types[i], 0), exact = http_accept_q(v, n, types[i], 1);
        if (any < -1 || any > 1000 || exact < -1 || exact > 1000) abort();
        if (exact >= 0 && any != exact) abort();
        if (exact >= 0 && any < 0) abort();
    }
}

static void check_fingerprint(const char *s, size_t n)
{
    int fp = policy_fingerprinted(s, n);
    const char *base = s;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/') base = s + i + 1;
    size_t bn = (size_t)(s + n - base), dots = 0;
    for (size_t i = 0; i < bn; i++)
        dots += base[i] == '.';
    if (fp && (dots < 2 || base[0] == '.' || base[bn - 1] == '.')) abort();
    if (fp != policy_fingerprinted(base, bn)) abort();
}

static void check_options(const char *z)
{
    char why[256];
    if (policy_header_check(z, why, sizeof why) == 0 && strpbrk(z, "\r\n")) abort();
    (void)policy_cache_control_check(z, why, sizeof why);
    (void)policy_origin_check(z, why, sizeof why);
}

static void check_tar(const char *name, size_t n, const uint8_t *data, size_t size)
{
    static char h[512 * 12];
    uint64_t sz = 0;
    int64_t mt = 0;
    for (size_t i = 0; i < 8 && i < size; i++) {
        sz = sz << 8 | data[i];
        mt = (int64_t)((uint64_t)mt << 8 | data[size - 1 - i]);
    }
    size_t want = tar_header(NULL, name, n, size & 1, sz, mt, size & 2);
    size_t got = tar_header(h, name, n, size & 1, sz, mt, size & 2);
    if (got != want || got % 512 || got > sizeof h) abort();
    for (size_t b = 0; b < got; b += 512) {
        if (b && b + 512 < got) continue; /* pax records between the headers */
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
            sum += i >= 148 && i < 156 ? ' ' : (unsigned char)h[b + i];
        if (strtoul(h + b + 148, NULL, 8) != sum) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1); /* exact size (+ NUL): ASan sees over-reads */
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    check_accept(in, size);
    check_fingerprint(in, size);
    check_options(in);
    if (size <= 4400) check_tar(in, size, data, size);
    free(in);
    return 0;
}
