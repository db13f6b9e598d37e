#include "net.h"

#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define UNIX_PREFIX "unix:"

static int is_unix(const char *host)
{
    return host && !strncmp(host, UNIX_PREFIX, strlen(UNIX_PREFIX));
}

int net_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *h = s, *p = NULL;
    size_t hl;
    if (is_unix(s)) {
        if (strlen(s) >= hostlen || !s[strlen(UNIX_PREFIX)]) return BERTH_EBADADDR;
        strcpy(host, s);
        *port = 0;
        return 0;
    }
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || (end[1] && end[1] != ':')) return BERTH_EBADADDR;
        h = s + 1;
        hl = (size_t)(end - h);
        p = end[1] ? end + 2 : NULL;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon) return BERTH_EBADADDR; /* bare v6 needs [] */
        if (!colon && strspn(s, "0123456789") == strlen(s) && *s) {
            hl = 0; /* just a port */
            p = s;
        } else {
            hl = colon ? (size_t)(colon - s) : strlen(s);
            p = colon ? colon + 1 : NULL;
        }
    }
    if (hl >= hostlen) return BERTH_EBADADDR;
    /* brackets only enclose a whole IPv6 literal, never part of a host */
    if (memchr(h, '[', hl) || memchr(h, ']', hl)) return BERTH_EBADADDR;
    memcpy(host, h, hl);
    host[hl] = '\0';
    /* digits only: strtol alone would take "+80", " 80" and "-0" */
    if (!p || !*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) return BERTH_EBADADDR;
    long v = strtol(p, NULL, 10);
    if (v > 65535) return BERTH_EBADADDR;
    *port = (int)v;
    return 0;
}

/* "localhost", "x.localhost", with or without the root's trailing dot */
static int is_localhost(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n && host[n - 1] == '.') n--;
    static const char name[] = "localhost";
    size_t k = sizeof name - 1;
    return n >= k && !strncasecmp(host + n - k, name, k) && (n == k || host[n - k - 1] == '.');
}

/* Appends the loopback address of `family` unless out[0..n) has it. */
static int add_loopback(struct net_addr *out, int n, int max, int family, int port)
{
    for (int i = 0; i < n; i++)
        if (out[i].ss.ss_family == family) return n;
    if (n >= max) return n;
    memset(&out[n], 0, sizeof out[n]);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[n].ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        out[n].len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out[n].ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        out[n].len = sizeof *a;
    }
    return n + 1;
}

static int unix_addr(const char *host, struct net_addr *out)
{
    const char *path = host + strlen(UNIX_PREFIX);
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    if (!*path || strlen(path) >= sizeof sun->sun_path) return BERTH_EBADADDR;
    memset(out, 0, sizeof *out);
    sun->sun_family = AF_UNIX;
    strcpy(sun->sun_path, path);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return 1;
}

int net_resolve(const char *host, int port, int socktype, int passive, struct net_addr *out,
                int max)
{
    if (max < 1) return BERTH_EUSAGE;
    if (is_unix(host)) return unix_addr(host, out);
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {.ai_socktype = socktype, .ai_family = AF_UNSPEC};
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
    const char *node = host && *host ? host : NULL;
    if (!node && passive) {
        /* all interfaces: prefer "::" (dual-stack), then 0.0.0.0 */
        hints.ai_family = AF_INET6;
        struct addrinfo *r6;
        int n = 0;
        if (getaddrinfo(NULL, serv, &hints, &r6) == 0) {
            memcpy(&out[n].ss, r6->ai_addr, r6->ai_addrlen);
            out[n++].len = r6->ai_addrlen;
            freeaddrinfo(r6);
        }
        hints.ai_family = AF_INET;
        if (n < max && getaddrinfo(NULL, serv, &hints, &r6) == 0) {
            memcpy(&out[n].ss, r6->ai_addr, r6->ai_addrlen);
            out[n++].len = r6->ai_addrlen;
            freeaddrinfo(r6);
        }
        return n ? n : BERTH_ERESOLVE;
    }
    struct addrinfo *res, *ai;
    int rc = getaddrinfo(node, serv, &hints, &res);
    int local = !passive && is_localhost(node);
    if (rc == EAI_SYSTEM && !local) return -errno;
    if (rc == EAI_MEMORY) return -ENOMEM;
    if (rc != 0 && !local) return BERTH_ERESOLVE;
    int n = 0;
    for (ai = rc ? NULL : res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[n].ss) continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
        out[n++].len = ai->ai_addrlen;
    }
    if (rc == 0) freeaddrinfo(res);
    if (local) {
        /* RFC 6761 6.3: localhost is the loopback.  /etc/hosts often names
         * only 127.0.0.1, and AI_ADDRCONFIG drops ::1 on hosts without a
         * global IPv6 address, so a server bound on ::1 alone would be out
         * of reach; after what the resolver said, try both (as curl does). */
        n = add_loopback(out, n, max, AF_INET, port);
        n = add_loopback(out, n, max, AF_INET6, port);
    }
    return n ? n : BERTH_ERESOLVE;
}

/* A unix socket file left behind by a dead server is removed; a live one
 * (something accepts a connection on it) is left alone: EADDRINUSE. */
static void unlink_stale(const struct net_addr *a)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
    struct stat st;
    if (stat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode)) return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno == ECONNREFUSED)
        unlink(sun->sun_path);
    close(fd);
}

static int listen_one(const struct net_addr *a, int socktype, const struct net_listen_opt *o)
{
    int family = a->ss.ss_family, one = 1, zero = 0;
    int fd = socket(family, socktype | SOCK_CLOEXEC | (o && o->nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) return -errno;
    if (family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (o && o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            goto fail;
    } else {
        unlink_stale(a);
    }
    if (family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        /* "::" serves IPv4 too; a specific v6 address only itself */
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof one);
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) goto fail;
    if (socktype == SOCK_STREAM && listen(fd, o && o->backlog > 0 ? o->backlog : SOMAXCONN) < 0)
        goto fail;
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

int net_listen(const char *host, int port, int socktype, const struct net_listen_opt *o,
               struct net_addr *bound)
{
    struct net_addr addrs[8];
    int n = net_resolve(host, port, socktype, 1, addrs, 8);
    if (n < 0) return n;
    int fd = BERTH_ERESOLVE;
    for (int i = 0; i < n; i++) {
        fd = listen_one(&addrs[i], socktype, o);
        /* no IPv6 on this machine: fall through to the IPv4 wildcard */
        if (fd >= 0 || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)) break;
    }
    if (fd >= 0 && bound && net_local_addr(fd, bound) < 0) memset(bound, 0, sizeof *bound);
    return fd;
}

int net_accept(int lfd, struct net_addr *peer)
{
    struct net_addr tmp;
    if (!peer) peer = &tmp;
    for (;;) {
        peer->len = sizeof peer->ss;
        int fd =
            accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (peer->ss.ss_family == AF_INET || peer->ss.ss_family == AF_INET6)
                net_set_nodelay(fd);
            return fd;
        }
        /* a connection that died in the queue is not our error */
        if (errno != EINTR && errno != ECONNABORTED) return -errno;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_one(const struct net_addr *a, int socktype, int timeout_ms)
{
    int fd = socket(a->ss.ss_family, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) goto fail;
        int64_t deadline = now_ms() + timeout_ms;
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int left = timeout_ms > 0 ? (int)(deadline - now_ms()) : -1;
            if (timeout_ms > 0 && left <= 0) {
                errno = ETIMEDOUT;
                goto fail;
            }
            int r = poll(&p, 1, left);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) goto fail;
            if (r == 0) {
                errno = ETIMEDOUT;
                goto fail;
            }
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                errno = err;
                goto fail;
            }
            break;
        }
    }
    net_set_nonblock(fd, 0);
    if (a->ss.ss_family != AF_UNIX && socktype == SOCK_STREAM) net_set_nodelay(fd);
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

int net_connect(const char *host, int port, int socktype, int timeout_ms, struct net_addr *peer)
{
    struct net_addr addrs[8];
    int n = net_resolve(host, port, socktype, 0, addrs, 8);
    if (n < 0) return n;
    int rc = BERTH_ERESOLVE;
    for (int i = 0; i < n; i++) {
        int fd = connect_one(&addrs[i], socktype, timeout_ms);
        if (fd >= 0) {
            if (peer) *peer = addrs[i];
            return fd;
        }
        /* report the first real answer ("refused", "timed out"), not that a
         * later address's family or route does not exist here */
        if (i == 0 || rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL || rc == -ENETUNREACH) rc = fd;
    }
    return rc;
}

int net_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int net_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ? -errno : 0;
}

int net_set_timeout(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) return -errno;
    return 0;
}

ssize_t net_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, c + done, n - done, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            /* SOCK_DGRAM on a unix socket or a plain file: fall back to write */
            if (errno == ENOTSOCK) w = write(fd, c + done, n - done);
            if (w < 0) return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

ssize_t net_recv_exact(int fd, void *p, size_t n)
{
    char *c = p;
    size_t done = 0;
    while (done < n) {
        ssize_t r = recv(fd, c + done, n - done, 0);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

char *net_addr_host(const struct net_addr *a, char *out, size_t n)
{
    const void *src = NULL;
    switch (a->ss.ss_family) {
    case AF_INET:
        src = &((const struct sockaddr_in *)&a->ss)->sin_addr;
        break;
    case AF_INET6:
        src = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        break;
    case AF_UNIX:
        snprintf(out, n, "unix:%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
        return out;
    default:
        snprintf(out, n, "?");
        return out;
    }
    if (!inet_ntop(a->ss.ss_family, src, out, (socklen_t)n)) snprintf(out, n, "?");
    return out;
}

int net_addr_port(const struct net_addr *a)
{
    if (a->ss.ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

char *net_addr_str(const struct net_addr *a, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN + 8];
    net_addr_host(a, host, sizeof host);
    if (a->ss.ss_family == AF_INET6)
        snprintf(out, n, "[%s]:%d", host, net_addr_port(a));
    else if (a->ss.ss_family == AF_INET)
        snprintf(out, n, "%s:%d", host, net_addr_port(a));
    else
        snprintf(out, n, "%s", host);
    return out;
}

int net_local_addr(int fd, struct net_addr *a)
{
    memset(a, 0, sizeof *a);
    a->len = sizeof a->ss;
    return getsockname(fd, (struct sockaddr *)&a->ss, &a->len) < 0 ? -errno : 0;
}
