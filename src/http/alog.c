#include "http/alog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* nginx's log escaping (ngx_http_log_escape): what could end the quoted
 * field ('"'), start an escape ('\\'), end the line or drive a terminal
 * (controls, DEL), or be read in another charset (>= 0x80) */
static int needs_escape(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

static char *put_escaped(char *d, struct http_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (needs_escape(c)) {
            *d++ = '\\';
            *d++ = 'x';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        } else {
            *d++ = (char)c;
        }
    }
    return d;
}

static char *put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

/* "-" for an absent field, else the escaped bytes, in quotes */
static char *put_quoted(char *d, struct http_str s)
{
    *d++ = '"';
    d = s.p ? put_escaped(d, s) : put(d, "-", 1);
    *d++ = '"';
    return d;
}

static char *put_uint(char *d, uint64_t v)
{
    char t[24];
    size_t i = sizeof t;
    do
        t[--i] = (char)('0' + v % 10);
    while (v /= 10);
    return put(d, t + i, sizeof t - i);
}

/* The client's address; a v4 client of a dual-stack socket (::ffff:a.b.c.d,
 * RFC 4291 §2.5.5.2) as the a.b.c.d it is. */
static char *put_host(char *d, const struct alog_entry *e)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char h[INET6_ADDRSTRLEN];
    const char *ok = NULL;
    if (e->family == AF_INET6 && !memcmp(e->addr, mapped, sizeof mapped))
        ok = inet_ntop(AF_INET, e->addr + 12, h, sizeof h);
    else if (e->family == AF_INET || e->family == AF_INET6)
        ok = inet_ntop(e->family, e->addr, h, sizeof h);
    return ok ? put(d, h, strlen(h)) : put(d, "-", 1);
}

/* [10/Oct/2000:13:55:36 -0700], formatted once a second per thread */
static char *put_time(char *d, time_t when)
{
    static _Thread_local struct {
        time_t sec;
        size_t len;
        char s[48];
    } tc;
    if (when != tc.sec || !tc.len) {
        struct tm tm;
        tc.len = 0;
        if (localtime_r(&when, &tm))
            tc.len = strftime(tc.s, sizeof tc.s, "[%d/%b/%Y:%H:%M:%S %z]", &tm);
        if (!tc.len) tc.len = (size_t)snprintf(tc.s, sizeof tc.s, "[-]");
        tc.sec = when;
    }
    return put(d, tc.s, tc.len);
}

int alog_format(struct buf *out, const struct alog_entry *e, enum alog_fmt fmt)
{
    int combined = fmt == ALOG_COMBINED;
    /* reserved once, for the worst case: every escaped byte takes four */
    size_t text = e->method.p ? e->method.n + e->target.n : e->line.p ? e->line.n : 0;
    if (combined) text += e->referer.n + e->user_agent.n;
    if (text > (SIZE_MAX - 256) / 4) return -ENOMEM;
    size_t want = INET6_ADDRSTRLEN + 48 + 4 * text + 128;
    int rc = buf_reserve(out, want);
    if (rc < 0) return rc;
    char *d = buf_tail(out), *start = d;
    d = put_host(d, e);
    d = put(d, " - - ", 5);
    d = put_time(d, e->when);
    d = put(d, " \"", 2);
    if (e->method.p) {
        d = put_escaped(d, e->method);
        *d++ = ' ';
        d = put_escaped(d, e->target);
        d = put(d,
                e->version == 10   ? " HTTP/1.0"
                : e->version == 20 ? " HTTP/2.0"
                                   : " HTTP/1.1",
                9);
    } else if (e->line.p) {
        d = put_escaped(d, e->line);
    } else {
        *d++ = '-';
    }
    d = put(d, "\" ", 2);
    d = put_uint(d, e->status > 0 ? (uint64_t)e->status : 0);
    *d++ = ' ';
    d = e->bytes ? put_uint(d, e->bytes) : put(d, "-", 1);
    if (combined) {
        *d++ = ' ';
        d = put_quoted(d, e->referer);
        *d++ = ' ';
        d = put_quoted(d, e->user_agent);
    }
    *d++ = '\n';
    buf_commit(out, (size_t)(d - start));
    return 0;
}

struct http_str alog_first_line(const char *p, size_t n, size_t max)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    size_t j = i;
    while (j < n && j - i < max && p[j] != '\r' && p[j] != '\n')
        j++;
    return j > i ? http_str_make(p + i, j - i) : http_str_make(NULL, 0);
}

void alog_write(int fd, struct buf *b)
{
    if (!buf_len(b)) return; /* a buffer never used has no data pointer to offset */
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
    int nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (nfd < 0) return -errno;
    /* dup3 swaps the file under the number atomically: a write racing it
     * goes whole to one file or the other */
    int rc = dup3(nfd, fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(nfd);
    return rc;
}

void alog_sink_init(struct alog_sink *k)
{
    memset(k, 0, sizeof *k);
    k->fd = 2;
    pthread_mutex_init(&k->mu, NULL);
}

int alog_sink_open(struct alog_sink *k, const char *path)
{
    char *p = strdup(path);
    if (!p) return -ENOMEM;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = -errno;
        free(p);
        return err;
    }
    if (k->fd > 2) close(k->fd);
    free(k->path);
    k->fd = fd;
    k->path = p;
    return 0;
}

void alog_sink_free(struct alog_sink *k)
{
    if (k->fd > 2) close(k->fd);
    free(k->path);
    pthread_mutex_destroy(&k->mu);
    k->fd = 2;
    k->path = NULL;
}

void alog_sink_join(struct alog_sink *k, unsigned *gen)
{
    pthread_mutex_lock(&k->mu);
    k->live++;
    *gen = k->gen; /* a reopening under way does not wait for a newcomer */
    pthread_mutex_unlock(&k->mu);
}

int alog_sink_rotate(struct alog_sink *k)
{
    if (!k->path) return 0;
    pthread_mutex_lock(&k->mu);
    int start = k->left == 0 && k->live > 0;
    if (start) {
        k->gen++;
        k->left = k->live;
    }
    pthread_mutex_unlock(&k->mu);
    return start;
}

int alog_sink_sync(struct alog_sink *k, unsigned *gen, struct buf *lines, int leaving)
{
    pthread_mutex_lock(&k->mu);
    int due = *gen != k->gen;
    pthread_mutex_unlock(&k->mu);
    if (!due && !leaving) return 0;
    alog_write(k->fd, lines); /* outside the lock: a slow disk holds no other worker */
    int last = 0;
    pthread_mutex_lock(&k->mu);
    if (*gen != k->gen) {
        *gen = k->gen;
        last = --k->left == 0;
    }
    if (leaving) k->live--;
    pthread_mutex_unlock(&k->mu);
    return last ? alog_reopen(k->fd, k->path) : 0;
}
