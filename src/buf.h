/* buf — a growable byte buffer with a read cursor.
 *
 * Bytes live in data[off .. off+len).  Consuming from the front only moves
 * `off`; the bytes are slid down (once) when room is needed at the tail, so a
 * reader that consumes message by message never memmoves per message.  The
 * buffer owns `data` (malloc); buf_free() releases it and leaves an empty
 * buffer that may be used again. */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct buf {
    char *data;
    size_t off; /* read cursor */
    size_t len; /* bytes readable from data + off */
    size_t cap; /* bytes allocated */
    size_t max; /* capacity limit; 0 = none */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);

/* An empty buffer may have no storage yet (data == NULL); adding even 0 to a
 * null pointer is undefined in C, so the offsets are added only when there
 * is storage. */
static inline const char *buf_head(const struct buf *b)
{
    return b->data ? b->data + b->off : b->data;
}
static inline size_t buf_len(const struct buf *b)
{
    return b->len;
}
/* room after the readable bytes without moving or growing */
static inline char *buf_tail(struct buf *b)
{
    return b->data ? b->data + b->off + b->len : b->data;
}
static inline size_t buf_room(const struct buf *b)
{
    return b->cap - b->off - b->len;
}

/* Ensures at least n writable bytes at the tail (compacting first, then
 * growing).  0, or BERTH_ETOOBIG past b->max, or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Marks n bytes written at the tail as readable. */
void buf_commit(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
/* Drops n bytes from the front (n <= len).  An emptied buffer rewinds. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
/* Drops the readable bytes past the first n (n <= len): undoes appends. */
static inline void buf_truncate(struct buf *b, size_t n)
{
    if (n < b->len) b->len = n;
}

/* One read(2) into the tail, reserving up to `want` bytes first (clamped
 * to what max allows).  Returns bytes read, 0 on EOF, or -errno (-EAGAIN
 * included); BERTH_ETOOBIG when the buffer is full at its limit. */
ssize_t buf_read_fd(struct buf *b, int fd, size_t want);

#endif
