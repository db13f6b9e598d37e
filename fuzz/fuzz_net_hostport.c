/* libFuzzer target for src/net.c's address strings: net_parse_hostport, and
 * for numeric results net_resolve, net_addr_str, net_addr_host and
 * net_addr_port.
 *
 * Input: byte 0 picks the size of the host buffer (small ones make the
 * "does not fit" paths reachable), the rest is the string (cut at a NUL).
 * Invariants: the result is 0 or BERTH_EBADADDR; on success the host is
 * NUL-terminated inside its buffer, the port is 0..65535, and writing
 * "host:port" back ("[host]:port" when the host has a ':') parses to the same
 * host and port.  A numeric host (inet_pton) or a unix path resolves without
 * any lookup to an address whose string form parses and resolves to the
 * same string again. */
#include "err.h"
#include "net.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse(const char *s, size_t hostlen, char *host, int *port)
{
    /* the host buffer in its own exact-size allocation: ASan sees overflows */
    char *h = malloc(hostlen ? hostlen : 1);
    if (!h) abort();
    memset(h, 'Z', hostlen ? hostlen : 1);
    *port = -7;
    int rc = net_parse_hostport(s, h, hostlen, port);
    if (rc != 0 && rc != BERTH_EBADADDR) abort();
    if (rc == 0) {
        if (!hostlen || !memchr(h, '\0', hostlen)) abort();
        if (*port < 0 || *port > 65535) abort();
        memcpy(host, h, strlen(h) + 1);
    }
    free(h);
    return rc;
}

static int numeric(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* host and port (of a numeric host or a unix path) resolve to one address
 * whose string form comes back to the same address */
static void resolve_roundtrip(const char *host, int port)
{
    struct net_addr a[4], b[4];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    int n = net_resolve(host, port, SOCK_STREAM, 1, a, 4);
    if (n < 0) {
        /* a unix path too long for sun_path is the one expected failure */
        if (strncmp(host, "unix:", 5) != 0) abort();
        return;
    }
    if (n < 1) abort();
    char str[160], h2[160];
    net_addr_str(&a[0], str, sizeof str);
    int p2;
    if (net_parse_hostport(str, h2, sizeof h2, &p2) != 0) abort();
    if (a[0].ss.ss_family != AF_UNIX) {
        if (p2 != port || net_addr_port(&a[0]) != port) abort();
        char hh[64];
        net_addr_host(&a[0], hh, sizeof hh);
        if (strcmp(hh, h2) != 0 || !numeric(hh)) abort();
    }
    /* the string form is a fixed point (an IPv4-mapped address may be shown
     * as IPv4, so compare strings, not socket addresses) */
    char str2[160];
    int m = net_resolve(h2, p2, SOCK_STREAM, 1, b, 4);
    if (m < 1 || strcmp(net_addr_str(&b[0], str2, sizeof str2), str) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t lens[] = {0, 1, 2, 5, 16, 46, 64, 256};
    size_t hostlen = lens[data[0] % 8];
    size_t n = strnlen((const char *)data + 1, size - 1);
    char *s = malloc(n + 1); /* exact size, NUL-terminated */
    if (!s) abort();
    memcpy(s, data + 1, n);
    s[n] = '\0';

    char host[257], again[257], out[600];
    int port, port2;
    if (parse(s, hostlen, host, &port) == 0) {
        if (strlen(host) > n) abort();
        if (!strncmp(s, "unix:", 5)) {
            if (strcmp(host, s) != 0 || port != 0) abort();
            snprintf(out, sizeof out, "%s", host);
        } else if (strchr(host, ':') || !strcmp(host, "unix")) { /* "unix:0" is a path */
            snprintf(out, sizeof out, "[%s]:%d", host, port);
        } else {
            snprintf(out, sizeof out, "%s:%d", host, port);
        }
        /* the same host fits a buffer of the same size */
        if (parse(out, hostlen, again, &port2) != 0) abort();
        if (strcmp(host, again) != 0 || port != port2) abort();
        if (!strncmp(host, "unix:", 5) || numeric(host)) resolve_roundtrip(host, port);
    }
    free(s);
    return 0;
}
