#include "http/alog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int alog_format(struct buf *out, const struct alog_entry *e, enum alog_fmt fmt)
{
    (void)fmt;
    static _Thread_local struct {
        time_t sec;
        char s[40];
    } tc;
    if (e->when != tc.sec || !tc.s[0]) {
        struct tm tm;
        localtime_r(&e->when, &tm);
        strftime(tc.s, sizeof tc.s, "%d/%b/%Y:%H:%M:%S %z", &tm);
        tc.sec = e->when;
    }
    char host[INET6_ADDRSTRLEN] = "-";
    if (e->family) inet_ntop(e->family, e->addr, host, sizeof host);
    char sz[24] = "-";
    if (e->bytes) snprintf(sz, sizeof sz, "%llu", (unsigned long long)e->bytes);
    int rc = buf_reserve(out, 512 + e->target.n);
    if (rc < 0) return rc;
    int n;
    if (e->method.p)
        n = snprintf(buf_tail(out), buf_room(out), "%s - - [%s] \"%.*s %.*s HTTP/1.%d\" %d %s\n",
                     host, tc.s, (int)e->method.n, e->method.p, (int)e->target.n, e->target.p,
                     e->version % 10, e->status, sz);
    else
        n = snprintf(buf_tail(out), buf_room(out), "%s - - [%s] \"-\" %d %s\n", host, tc.s,
                     e->status, sz);
    if (n > 0 && (size_t)n < buf_room(out)) buf_commit(out, (size_t)n);
    return 0;
}

struct http_str alog_first_line(const char *p, size_t n, size_t max)
{
    (void)p;
    (void)n;
    (void)max;
    return http_str_make(NULL, 0);
}

void alog_write(int fd, struct buf *b)
{
    const char *p = buf_head(b);
    size_t n = buf_len(b);
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* a full disk loses log lines, never requests */
        p += k;
        n -= (size_t)k;
    }
    buf_clear(b);
}

int alog_reopen(int fd, const char *path)
{
    (void)fd;
    (void)path;
    return -ENOSYS;
}
