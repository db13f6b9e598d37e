/* Unit tests of src/buf.c: the read cursor, compaction before growth, the
 * capacity limit, and buf_read_fd on a pipe. */
#include "buf.h"
#include "err.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

Test(buf, starts_empty_and_appends)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_len(&b), 0);
    cr_assert_eq(buf_append(&b, "hello", 5), 0);
    cr_assert_eq(buf_append(&b, " world", 6), 0);
    cr_assert_eq(buf_len(&b), 11);
    cr_assert(!memcmp(buf_head(&b), "hello world", 11));
    buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(buf_len(&b), 0);
}

Test(buf, append_nothing_is_fine)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_append(&b, "", 0), 0);
    cr_assert_eq(buf_len(&b), 0);
    buf_free(&b);
}

/* A buffer that never held a byte has no storage: its head and tail must
 * still be usable (a log flushed at shutdown with nothing logged) without
 * arithmetic on a null pointer, which clang's UBSan reports. */
Test(buf, empty_buffer_head_and_tail_without_storage)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_head(&b), buf_tail(&b));
    cr_assert_eq(buf_room(&b), 0);
    buf_consume(&b, 0);
    buf_clear(&b);
    cr_assert_eq(buf_head(&b), buf_tail(&b));
    buf_free(&b);
    cr_assert_eq(buf_head(&b), buf_tail(&b));
}

Test(buf, consume_moves_the_cursor_not_the_bytes)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, "abcdefgh", 8);
    char *data = b.data;
    buf_consume(&b, 3);
    cr_assert_eq(buf_len(&b), 5);
    cr_assert_eq(b.off, 3);
    cr_assert(!memcmp(buf_head(&b), "defgh", 5));
    cr_assert_eq(b.data, data);
    buf_consume(&b, 5); /* emptied: rewinds for free */
    cr_assert_eq(b.off, 0);
    cr_assert_eq(buf_len(&b), 0);
    buf_free(&b);
}

Test(buf, compacts_before_growing)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_reserve(&b, 100), 0);
    size_t cap = b.cap;
    char fill[256];
    memset(fill, 'x', sizeof fill);
    buf_append(&b, fill, cap - 10);
    buf_consume(&b, cap - 20); /* 10 bytes left at the end */
    cr_assert_eq(buf_len(&b), 10);
    /* room for 100 more exists once the 10 bytes slide down */
    cr_assert_eq(buf_reserve(&b, 100), 0);
    cr_assert_eq(b.cap, cap);
    cr_assert_eq(b.off, 0);
    cr_assert_geq(buf_room(&b), 100);
    cr_assert(!memcmp(buf_head(&b), fill, 10));
    buf_free(&b);
}

Test(buf, grows_and_keeps_bytes)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 100000; i++) {
        unsigned char c = (unsigned char)(i * 7);
        cr_assert_eq(buf_append(&b, &c, 1), 0);
        if (i % 3 == 0) buf_consume(&b, 1);
    }
    size_t n = buf_len(&b);
    cr_assert_eq(n, 100000 - 33334);
    /* what is left is the tail of the sequence, in order, minus every
     * third byte consumed from the front */
    const unsigned char *p = (const unsigned char *)buf_head(&b);
    cr_assert_eq(p[n - 1], (unsigned char)(99999 * 7));
    buf_free(&b);
}

Test(buf, commit_after_writing_at_the_tail)
{
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_reserve(&b, 4), 0);
    memcpy(buf_tail(&b), "abcd", 4);
    buf_commit(&b, 4);
    cr_assert_eq(buf_len(&b), 4);
    cr_assert(!memcmp(buf_head(&b), "abcd", 4));
    buf_clear(&b);
    cr_assert_eq(buf_len(&b), 0);
    cr_assert_eq(b.off, 0);
    buf_free(&b);
}

Test(buf, limit_refuses_with_etoobig)
{
    struct buf b;
    buf_init(&b, 10);
    cr_assert_eq(buf_append(&b, "0123456789", 10), 0);
    cr_assert_eq(buf_append(&b, "x", 1), BERTH_ETOOBIG);
    cr_assert_eq(buf_len(&b), 10);
    cr_assert_leq(b.cap, 10);
    buf_consume(&b, 5);
    cr_assert_eq(buf_append(&b, "abcde", 5), 0); /* room again after consuming */
    cr_assert(!memcmp(buf_head(&b), "56789abcde", 10));
    cr_assert_eq(buf_reserve(&b, 1), BERTH_ETOOBIG);
    buf_free(&b);
    cr_assert_eq(b.max, 10); /* reusable with the same limit */
}

Test(buf, impossible_sizes_fail_cleanly)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, "abc", 3);
    /* len + n overflows size_t: must fail, never "succeed" with no room */
    int rc = buf_reserve(&b, SIZE_MAX - 1);
    cr_assert_lt(rc, 0);
    rc = buf_reserve(&b, SIZE_MAX / 2 + 10);
    cr_assert_lt(rc, 0);
    cr_assert(!memcmp(buf_head(&b), "abc", 3));
    buf_free(&b);
}

Test(buf, read_fd_reads_eof_and_eagain)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
    struct buf b;
    buf_init(&b, 0);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), -EAGAIN);
    cr_assert_eq(write(p[1], "ping", 4), 4);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), 4);
    cr_assert_eq(write(p[1], "pong", 4), 4);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), 4);
    cr_assert_eq(buf_len(&b), 8);
    cr_assert(!memcmp(buf_head(&b), "pingpong", 8));
    close(p[1]);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), 0);
    close(p[0]);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), -EBADF);
    buf_free(&b);
}

Test(buf, read_fd_respects_the_limit)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(write(p[1], "0123456789abcdef", 16), 16);
    struct buf b;
    buf_init(&b, 10);
    ssize_t r = buf_read_fd(&b, p[0], 4096); /* clamped to what max allows */
    cr_assert_gt(r, 0);
    cr_assert_leq(buf_len(&b), 10);
    while (buf_len(&b) < 10)
        cr_assert_gt(buf_read_fd(&b, p[0], 4096), 0);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), BERTH_ETOOBIG);
    cr_assert(!memcmp(buf_head(&b), "0123456789", 10));
    buf_consume(&b, 10);
    cr_assert_eq(buf_read_fd(&b, p[0], 4096), 6);
    cr_assert(!memcmp(buf_head(&b), "abcdef", 6));
    close(p[0]);
    close(p[1]);
    buf_free(&b);
}
