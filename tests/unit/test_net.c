/* Unit tests of src/net.c: address parsing (good and bad), listen on port 0,
 * connect, the blocking send/recv helpers, errors as codes (-EADDRINUSE,
 * -ECONNREFUSED) and the text err_fmt makes of them.  Everything stays on
 * 127.0.0.1, ::1 or a unix socket in /tmp. */
#include "err.h"
#include "net.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void parses(const char *s, const char *host, int port)
{
    char h[256];
    int p = -1;
    int rc = net_parse_hostport(s, h, sizeof h, &p);
    cr_assert_eq(rc, 0, "'%s' should parse, got %d", s, rc);
    cr_assert_str_eq(h, host, "'%s': host", s);
    cr_assert_eq(p, port, "'%s': port", s);
}

static void refuses(const char *s)
{
    char h[256];
    int p = -1;
    cr_assert_eq(net_parse_hostport(s, h, sizeof h, &p), BERTH_EBADADDR, "'%s' should not parse",
                 s);
}

Test(net, parse_good)
{
    parses("127.0.0.1:65432", "127.0.0.1", 65432);
    parses("localhost:80", "localhost", 80);
    parses("example.org:0", "example.org", 0);
    parses("[::1]:80", "::1", 80);
    parses("[::]:8000", "::", 8000);
    parses("[fe80::1%lo]:1", "fe80::1%lo", 1);
    parses(":8000", "", 8000);
    parses("8000", "", 8000);
    parses("0", "", 0);
    parses("65535", "", 65535);
    parses("unix:/run/x.sock", "unix:/run/x.sock", 0);
}

Test(net, parse_bad)
{
    refuses("");
    refuses("localhost");       /* no port */
    refuses("localhost:");      /* empty port */
    refuses("127.0.0.1:65536"); /* too big */
    refuses("127.0.0.1:-1");
    refuses("127.0.0.1:http"); /* numeric only */
    refuses("127.0.0.1:80x");
    refuses("::1:80");  /* a bare IPv6 address needs brackets */
    refuses("[::1]80"); /* junk after ] */
    refuses("[::1");    /* unclosed */
    refuses("[::1]");   /* no port */
    refuses("unix:");   /* no path */
    refuses("99999999999999999999");
}

/* Brackets only enclose a whole IPv6 literal: a host that holds one (found
 * by fuzz_net_hostport: "[[]:5" gave the host "[", which cannot be written
 * back as an address) is malformed, not a name to look up. */
Test(net, parse_stray_brackets)
{
    refuses("[[]:5");
    refuses("[a]b]:80");
    refuses("a]:80");
    refuses("a[b:80");
}

/* strtol alone would skip spaces and take a sign: ports are digits only. */
Test(net, parse_bad_signs_and_spaces)
{
    refuses("127.0.0.1:+80");
    refuses("127.0.0.1: 80");
}

Test(net, parse_host_too_long)
{
    char h[8];
    int p;
    cr_assert_eq(net_parse_hostport("averylonghostname:80", h, sizeof h, &p), BERTH_EBADADDR);
    cr_assert_eq(net_parse_hostport("unix:/a/very/long/path", h, sizeof h, &p), BERTH_EBADADDR);
}

Test(net, resolve_numeric)
{
    struct net_addr a[4];
    char s[64];
    int n = net_resolve("127.0.0.1", 80, SOCK_STREAM, 0, a, 4);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(net_addr_str(&a[0], s, sizeof s), "127.0.0.1:80");
    cr_assert_str_eq(net_addr_host(&a[0], s, sizeof s), "127.0.0.1");
    cr_assert_eq(net_addr_port(&a[0]), 80);
    n = net_resolve("::1", 8000, SOCK_STREAM, 1, a, 4);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(net_addr_str(&a[0], s, sizeof s), "[::1]:8000");
    n = net_resolve("unix:/tmp/x.sock", 0, SOCK_STREAM, 1, a, 4);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].ss.ss_family, AF_UNIX);
    cr_assert_str_eq(net_addr_str(&a[0], s, sizeof s), "unix:/tmp/x.sock");
}

Test(net, resolve_localhost)
{
    struct net_addr a[8];
    int n = net_resolve("localhost", 1234, SOCK_STREAM, 0, a, 8);
    cr_assert_geq(n, 1);
    for (int i = 0; i < n; i++)
        cr_assert_eq(net_addr_port(&a[i]), 1234);
}

/* RFC 6761 6.3: "localhost" is the loopback, both families, whatever
 * /etc/hosts or AI_ADDRCONFIG leave out (curl does the same) */
static int has_family(const struct net_addr *a, int n, int family, const char *host)
{
    char s[64];
    for (int i = 0; i < n; i++)
        if (a[i].ss.ss_family == family && !strcmp(net_addr_host(&a[i], s, sizeof s), host))
            return 1;
    return 0;
}

Test(net, connecting_to_localhost_tries_both_loopbacks)
{
    struct net_addr a[8];
    int n = net_resolve("localhost", 1234, SOCK_STREAM, 0, a, 8);
    cr_assert_geq(n, 2);
    cr_assert(has_family(a, n, AF_INET, "127.0.0.1"));
    cr_assert(has_family(a, n, AF_INET6, "::1"));
    n = net_resolve("LocalHost.", 1234, SOCK_STREAM, 0, a, 8);
    cr_assert(has_family(a, n, AF_INET, "127.0.0.1") && has_family(a, n, AF_INET6, "::1"));
    n = net_resolve("app.localhost", 1234, SOCK_STREAM, 0, a, 8);
    cr_assert(has_family(a, n, AF_INET, "127.0.0.1") && has_family(a, n, AF_INET6, "::1"));
    n = net_resolve("localhost", 1234, SOCK_STREAM, 0, a, 1);
    cr_assert_eq(n, 1);
}

Test(net, resolve_bad_input)
{
    struct net_addr a[2];
    cr_assert_lt(net_resolve("300.1.2.3.4.5", 80, SOCK_STREAM, 1, a, 0), 0);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof longpath - 1] = '\0';
    cr_assert_eq(net_resolve(longpath, 0, SOCK_STREAM, 1, a, 2), BERTH_EBADADDR);
}

/* listen on 127.0.0.1:0, learn the port, connect to it */
static int listen_any(int *port)
{
    struct net_addr bound;
    int lfd = net_listen("127.0.0.1", 0, SOCK_STREAM, NULL, &bound);
    cr_assert_geq(lfd, 0, "listen: %s", err_str(lfd));
    *port = net_addr_port(&bound);
    cr_assert_gt(*port, 0);
    return lfd;
}

Test(net, listen_connect_send_recv)
{
    int port;
    int lfd = listen_any(&port);
    struct net_addr peer;
    int c = net_connect("127.0.0.1", port, SOCK_STREAM, 2000, &peer);
    cr_assert_geq(c, 0, "connect: %s", err_str(c));
    cr_assert_eq(net_addr_port(&peer), port);
    struct net_addr from;
    int s = net_accept(lfd, &from);
    cr_assert_geq(s, 0);
    char fs[64];
    net_addr_str(&from, fs, sizeof fs);
    cr_assert(!strncmp(fs, "127.0.0.1:", 10), "%s", fs);
    cr_assert_eq(net_set_nonblock(s, 0), 0);

    /* more than a socket buffer, so send_all must loop: a thread-free way
     * is to send from one side in pieces the other side drains */
    static char big[1 << 20], back[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 31 + (i >> 10));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        ssize_t w = net_send_all(c, big, sizeof big);
        _exit(w == (ssize_t)sizeof big ? 0 : 1);
    }
    cr_assert_eq(net_recv_exact(s, back, sizeof back), (ssize_t)sizeof back);
    cr_assert(!memcmp(big, back, sizeof big));
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* the peer closes early: recv_exact returns what there was */
    cr_assert_eq(net_send_all(c, "abc", 3), 3);
    close(c);
    char buf[10];
    cr_assert_eq(net_recv_exact(s, buf, sizeof buf), 3);
    cr_assert(!memcmp(buf, "abc", 3));
    close(s);
    close(lfd);
}

Test(net, accept_is_nonblocking)
{
    int port;
    int lfd = listen_any(&port);
    cr_assert_eq(net_set_nonblock(lfd, 1), 0);
    cr_assert_eq(net_accept(lfd, NULL), -EAGAIN);
    close(lfd);
}

Test(net, recv_timeout)
{
    int port;
    int lfd = listen_any(&port);
    int c = net_connect("127.0.0.1", port, SOCK_STREAM, 2000, NULL);
    cr_assert_geq(c, 0);
    cr_assert_eq(net_set_timeout(c, 100), 0);
    char b[4];
    cr_assert_eq(net_recv_exact(c, b, sizeof b), -EAGAIN);
    close(c);
    close(lfd);
}

Test(net, port_in_use)
{
    int port;
    int lfd = listen_any(&port);
    int again = net_listen("127.0.0.1", port, SOCK_STREAM, NULL, NULL);
    cr_assert_eq(again, -EADDRINUSE, "got %d", again);
    char msg[200];
    char what[64];
    snprintf(what, sizeof what, "cannot listen on 127.0.0.1:%d", port);
    err_fmt(msg, sizeof msg, again, what);
    char want[200];
    snprintf(want, sizeof want,
             "cannot listen on 127.0.0.1:%d: address already in use; try --port 0 or stop the "
             "other server",
             port);
    cr_assert_str_eq(msg, want);
    close(lfd);
}

Test(net, reuseport_lets_two_listen)
{
    struct net_listen_opt o = {.reuseport = 1};
    struct net_addr bound;
    int a = net_listen("127.0.0.1", 0, SOCK_STREAM, &o, &bound);
    cr_assert_geq(a, 0);
    int b = net_listen("127.0.0.1", net_addr_port(&bound), SOCK_STREAM, &o, NULL);
    cr_assert_geq(b, 0, "%s", err_str(b));
    close(a);
    close(b);
}

Test(net, connection_refused)
{
    int port;
    int lfd = listen_any(&port);
    close(lfd); /* nobody listens there now */
    int c = net_connect("127.0.0.1", port, SOCK_STREAM, 2000, NULL);
    cr_assert_eq(c, -ECONNREFUSED);
    char msg[200];
    err_fmt(msg, sizeof msg, c, "cannot connect to 127.0.0.1:1");
    cr_assert_str_eq(msg,
                     "cannot connect to 127.0.0.1:1: connection refused; is the server running?");
}

Test(net, err_text)
{
    char msg[200];
    cr_assert_str_eq(err_fmt(msg, sizeof msg, BERTH_EBADADDR, "x"),
                     "x: malformed address; use HOST, IPv4, [IPv6] or unix:/path");
    cr_assert_str_eq(err_fmt(msg, sizeof msg, -ECONNRESET, "y"), "y: connection reset by peer");
    cr_assert_str_eq(err_str(-ETIMEDOUT), "timed out");
    cr_assert_str_eq(err_hint(-ECONNRESET), "");
    cr_assert_str_eq(err_str(12345), "unknown error");
    /* truncation keeps a NUL-terminated prefix */
    char small[8];
    err_fmt(small, sizeof small, -ECONNREFUSED, "cannot connect");
    cr_assert_eq(strlen(small), 7);
}

Test(net, udp_listen_and_echo_by_hand)
{
    struct net_addr bound;
    int s = net_listen("127.0.0.1", 0, SOCK_DGRAM, NULL, &bound);
    cr_assert_geq(s, 0);
    int c = net_connect("127.0.0.1", net_addr_port(&bound), SOCK_DGRAM, 1000, NULL);
    cr_assert_geq(c, 0);
    cr_assert_eq(send(c, "dgram", 5, 0), 5);
    char b[16];
    struct net_addr from;
    from.len = sizeof from.ss;
    cr_assert_eq(recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&from.ss, &from.len), 5);
    cr_assert_eq(sendto(s, b, 5, 0, (struct sockaddr *)&from.ss, from.len), 5);
    cr_assert_eq(recv(c, b, sizeof b, 0), 5);
    close(c);
    close(s);
}

Test(net, ipv6_loopback)
{
    struct net_addr bound;
    int lfd = net_listen("::1", 0, SOCK_STREAM, NULL, &bound);
    if (lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT) cr_skip_test("no IPv6 loopback here");
    cr_assert_geq(lfd, 0, "%s", err_str(lfd));
    char s[64];
    net_addr_str(&bound, s, sizeof s);
    cr_assert(!strncmp(s, "[::1]:", 6), "%s", s);
    int c = net_connect("::1", net_addr_port(&bound), SOCK_STREAM, 1000, NULL);
    cr_assert_geq(c, 0);
    close(c);
    close(lfd);
}

Test(net, dual_stack_wildcard)
{
    struct net_addr bound;
    int lfd = net_listen("", 0, SOCK_STREAM, NULL, &bound);
    cr_assert_geq(lfd, 0, "%s", err_str(lfd));
    /* IPv4 clients reach the "::" listener too */
    int c = net_connect("127.0.0.1", net_addr_port(&bound), SOCK_STREAM, 1000, NULL);
    cr_assert_geq(c, 0, "%s", err_str(c));
    close(c);
    close(lfd);
}

Test(net, unix_socket_and_stale_file)
{
    char path[64], host[80];
    snprintf(path, sizeof path, "/tmp/berth-test-net-%d.sock", (int)getpid());
    snprintf(host, sizeof host, "unix:%s", path);
    unlink(path);
    struct net_addr bound;
    int lfd = net_listen(host, 0, SOCK_STREAM, NULL, &bound);
    cr_assert_geq(lfd, 0, "%s", err_str(lfd));
    char s[100];
    cr_assert_str_eq(net_addr_str(&bound, s, sizeof s), host);
    int c = net_connect(host, 0, SOCK_STREAM, 1000, NULL);
    cr_assert_geq(c, 0);
    int a = net_accept(lfd, NULL);
    cr_assert_geq(a, 0);
    cr_assert_eq(net_send_all(c, "hi", 2), 2);
    char b[2];
    net_set_nonblock(a, 0);
    cr_assert_eq(net_recv_exact(a, b, 2), 2);
    close(a);
    close(c);
    /* a live socket is not taken over */
    cr_assert_eq(net_listen(host, 0, SOCK_STREAM, NULL, NULL), -EADDRINUSE);
    close(lfd); /* the file stays behind, as after a crash */
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    lfd = net_listen(host, 0, SOCK_STREAM, NULL, NULL);
    cr_assert_geq(lfd, 0, "a stale socket file is replaced: %s", err_str(lfd));
    close(lfd);
    unlink(path);
}

Test(net, unix_connect_refused_when_nothing_there)
{
    int c = net_connect("unix:/tmp/berth-test-no-such.sock", 0, SOCK_STREAM, 1000, NULL);
    cr_assert_eq(c, -ENOENT);
}
