#include "buf.h"

#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
    if (buf_room(b) >= n) return 0;
    if (b->max && n > b->max - b->len) return BERTH_ETOOBIG;
    /* len + n, and the doubling below, must not wrap around */
    if (n > SIZE_MAX / 2 - b->len) return -ENOMEM;
    /* slide the unread bytes down when that alone makes room */
    if (b->off && b->cap - b->len >= n) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return 0;
    }
    size_t want = b->len + n, cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (b->max && cap > b->max) cap = b->max;
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    char *p = realloc(b->data, cap);
    if (!p) return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_commit(struct buf *b, size_t n)
{
    b->len += n;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc < 0) return rc;
    if (n) memcpy(buf_tail(b), p, n);
    b->len += n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
}

void buf_clear(struct buf *b)
{
    b->off = b->len = 0;
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t want)
{
    if (b->max && want > b->max - b->len) want = b->max - b->len;
    if (want == 0) return BERTH_ETOOBIG;
    int rc = buf_reserve(b, want);
    if (rc < 0) return rc;
    for (;;) {
        ssize_t r = read(fd, buf_tail(b), buf_room(b));
        if (r >= 0) {
            b->len += (size_t)r;
            return r;
        }
        if (errno != EINTR) return -errno;
    }
}
