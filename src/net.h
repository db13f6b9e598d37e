/* net — sockets without the boilerplate (in the spirit of redis anet).
 *
 * Addresses: "127.0.0.1", "::1", "localhost", "" or NULL (all interfaces,
 * dual-stack "::" where IPv6 exists, else 0.0.0.0), and "unix:/path".
 * Everything returns a value >= 0 on success or a negative err.h code. */
#ifndef BERTH_NET_H
#define BERTH_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Parses "host:port", "[v6]:port", ":port", "port" or "unix:/path" (port 0)
 * into host (copied, NUL-terminated) and *port.  BERTH_EBADADDR if malformed. */
int net_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Resolves host/port for socktype (SOCK_STREAM or SOCK_DGRAM) into up to
 * max addresses; `passive` for binding.  Returns how many.  For connecting,
 * "localhost" (and *.localhost) always includes 127.0.0.1 and ::1 after what
 * the resolver returns (RFC 6761). */
int net_resolve(const char *host, int port, int socktype, int passive, struct net_addr *out,
                int max);

struct net_listen_opt {
    int backlog;   /* 0: SOMAXCONN */
    int reuseport; /* SO_REUSEPORT, for several workers on one port */
    int nonblock;
};

/* Binds (and for SOCK_STREAM listens) on the first address of host/port that
 * works; "::" is made dual-stack.  A stale unix socket file is replaced only
 * when nothing answers on it.  *bound (if non-NULL) receives the real local
 * address (port 0 resolved).  Returns the fd. */
int net_listen(const char *host, int port, int socktype, const struct net_listen_opt *o,
               struct net_addr *bound);

/* accept4: non-blocking, close-on-exec, TCP_NODELAY on TCP.  Returns the fd
 * or -errno (-EAGAIN when the queue is empty). */
int net_accept(int lfd, struct net_addr *peer);

/* Connects to host/port (each resolved address in turn, "localhost" always
 * both 127.0.0.1 and ::1) within timeout_ms
 * (<= 0: no limit).  Returns a blocking, close-on-exec fd; *peer (if
 * non-NULL) receives the address that answered. */
int net_connect(const char *host, int port, int socktype, int timeout_ms, struct net_addr *peer);

int net_set_nonblock(int fd, int on);
int net_set_nodelay(int fd);
/* SO_RCVTIMEO and SO_SNDTIMEO, for blocking code that must not hang. */
int net_set_timeout(int fd, int ms);

/* Blocking helpers: send everything (MSG_NOSIGNAL, EINTR retried) or fail;
 * receive exactly n bytes.  net_recv_exact returns n, or fewer when the peer
 * closed first, or -errno (-EAGAIN: the SO_RCVTIMEO timeout passed). */
ssize_t net_send_all(int fd, const void *p, size_t n);
ssize_t net_recv_exact(int fd, void *p, size_t n);

/* "127.0.0.1:65432", "[::1]:8000", "unix:/run/x.sock"; returns out. */
char *net_addr_str(const struct net_addr *a, char *out, size_t n);
/* Numeric host only ("127.0.0.1", "::1"); returns out. */
char *net_addr_host(const struct net_addr *a, char *out, size_t n);
int net_addr_port(const struct net_addr *a);
int net_local_addr(int fd, struct net_addr *a);

#endif
