/* libFuzzer harness for the PROXY protocol header parser: the first byte
 * picks a split point, the rest is what a connection begins with.  Parsing
 * whole, in two pieces and byte by byte must agree on the result, where the
 * header ends and the addresses; a header never ends past the input, a
 * v1 one never past 107 bytes, and a refusal always says why. */
#include "http/proxyproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds in[0..n) in pieces of at most step bytes (0: first `split`, then the rest). */
static int run(const uint8_t *in, size_t n, size_t split, size_t step, size_t *end,
               struct proxyproto_addr *a)
{
    struct proxyproto pp;
    proxyproto_init(&pp);
    size_t pos = 0;
    int rc = 0;
    memset(a, 0, sizeof *a);
    while (pos < n && rc == 0) {
        size_t k = step ? step : (pos < split ? split - pos : n - pos);
        if (k > n - pos) k = n - pos;
        size_t used = 0;
        rc = proxyproto_feed(&pp, in + pos, k, &used, a);
        if (used > k) abort();
        if (rc == 0 && used != k) abort();
        if (rc < 0 && !pp.error) abort();
        pos += used;
    }
    *end = pos;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0];
    data++;
    size--;
    struct proxyproto_addr a1, a2, a3;
    size_t e1, e2, e3;
    int r1 = run(data, size, size, 0, &e1, &a1);
    int r2 = run(data, size, split, 0, &e2, &a2);
    int r3 = run(data, size, 0, 1, &e3, &a3);
    if (r1 != r2 || r1 != r3) abort();
    if (r1 == 1) {
        if (e1 != e2 || e1 != e3 || e1 > size) abort();
        if (memcmp(&a1, &a2, sizeof a1) || memcmp(&a1, &a3, sizeof a1)) abort();
        if (a1.version == 1 && e1 > PROXYPROTO_V1_MAX) abort();
        if (a1.family != AF_INET && a1.family != AF_INET6 && a1.family != AF_UNSPEC) abort();
    }
    return 0;
}
