/* The hashing thread: results equal the one-shot digests, the queue is
 * bounded (-EAGAIN beyond HASHER_QUEUE in flight), a file changed before it
 * is read is reported not ok, and freeing with jobs pending releases them. */
#include "http/digest.h"
#include "http/hasher.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/berth-hasher-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    char *b = malloc(1 << 20);
    for (int i = 0; i < 1 << 20; i++)
        b[i] = (char)(i * 7);
    cr_assert_eq(write(fd, b, 1 << 20), 1 << 20);
    free(b);
    close(fd);
}

static void teardown(void)
{
    unlink(path);
}

static struct hasher_job job_for(int fd, unsigned algs)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    struct hasher_job j = {.fd = fd,
                           .algs = algs,
                           .dev = st.st_dev,
                           .ino = st.st_ino,
                           .size = (uint64_t)st.st_size,
                           .mtime = st.st_mtim,
                           .key = "/k"};
    return j;
}

static int take(struct hasher *h, struct hasher_result *r)
{
    for (int i = 0; i < 200; i++) { /* 10 s at most */
        struct pollfd p = {hasher_fd(h), POLLIN, 0};
        poll(&p, 1, 50);
        if (hasher_take(h, r)) return 1;
    }
    return 0;
}

TestSuite(hasher, .init = setup, .fini = teardown);

Test(hasher, results_match_the_one_shot_digests)
{
    struct hasher *h = hasher_new();
    cr_assert(h);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct hasher_job j = job_for(fd, HASHER_SHA256 | HASHER_SHA512);
    cr_assert_eq(hasher_submit(h, &j), 0);
    struct hasher_result r;
    cr_assert(take(h, &r));
    cr_expect(r.ok);
    cr_expect_str_eq(r.key, "/k");
    cr_expect_eq(r.size, 1 << 20);
    char *b = malloc(1 << 20);
    int rfd = open(path, O_RDONLY);
    cr_assert_eq(read(rfd, b, 1 << 20), 1 << 20);
    close(rfd);
    uint8_t d256[32], d512[64];
    http_digest_mem(HTTP_DIGEST_SHA256, b, 1 << 20, d256);
    http_digest_mem(HTTP_DIGEST_SHA512, b, 1 << 20, d512);
    free(b);
    cr_expect_eq(memcmp(r.sha256, d256, 32), 0);
    cr_expect_eq(memcmp(r.sha512, d512, 64), 0);
    hasher_result_free(&r);
    struct hasher_stats st;
    hasher_stats(h, &st);
    cr_expect_eq(st.queued, 1);
    cr_expect_eq(st.done, 1);
    cr_expect_eq(st.bytes, 1 << 20);
    cr_expect_eq(st.depth, 0);
    hasher_free(h);
}

Test(hasher, a_changed_file_is_not_ok)
{
    struct hasher *h = hasher_new();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct hasher_job j = job_for(fd, HASHER_SHA256);
    j.mtime.tv_nsec ^= 1; /* the version the job names is not the file's */
    cr_assert_eq(hasher_submit(h, &j), 0);
    struct hasher_result r;
    cr_assert(take(h, &r));
    cr_expect_not(r.ok);
    hasher_result_free(&r);
    struct hasher_stats st;
    hasher_stats(h, &st);
    cr_expect_eq(st.failed, 1);
    hasher_free(h);
}

Test(hasher, the_queue_is_bounded_and_free_releases_what_is_left)
{
    struct hasher *h = hasher_new();
    int n = 0, rc = 0;
    for (int i = 0; i < HASHER_QUEUE + 5; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct hasher_job j = job_for(fd, HASHER_SHA256 | HASHER_SHA512);
        rc = hasher_submit(h, &j);
        if (rc < 0) {
            close(fd); /* refused: still the caller's */
            break;
        }
        n++;
    }
    cr_expect_eq(rc, -EAGAIN);
    cr_expect_eq(n, HASHER_QUEUE); /* nothing taken: every job stays in flight */
    struct hasher_stats st;
    hasher_stats(h, &st);
    cr_expect_eq(st.dropped, 1);
    cr_expect_eq(st.depth, HASHER_QUEUE);
    /* one result taken makes room for one job */
    struct hasher_result r;
    cr_assert(take(h, &r));
    hasher_result_free(&r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct hasher_job j = job_for(fd, HASHER_SHA256);
    cr_expect_eq(hasher_submit(h, &j), 0);
    hasher_free(h); /* jobs queued, running and done: descriptors and keys freed */
    /* every descriptor came back: the next open gets a low number again */
    int probe = open(path, O_RDONLY);
    cr_expect_lt(probe, 10);
    close(probe);
}
