/* hasher — SHA-2 digests of large files, computed off the event loop.
 *
 * One hashing thread per hasher (a worker owns one), started at the first
 * job, fed by a bounded queue.  It reads each job's file by pread from a
 * descriptor it owns (a dup of the cache's), so the loop never waits on the
 * bytes of a large file; a result is posted back through an eventfd the
 * owning loop watches (hasher_fd), and taken there with hasher_take.  A file
 * whose size, mtime, device or inode differ before, during or after the
 * reading is reported not ok: a torn digest is never given out.
 *
 * Threads: hasher_new, hasher_submit, hasher_take, hasher_free are the
 * owning thread's; hasher_stats may be called from any thread. */
#ifndef BERTH_HTTP_HASHER_H
#define BERTH_HTTP_HASHER_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define HASHER_QUEUE 16 /* jobs queued, running or done and not yet taken */

enum { HASHER_SHA256 = 1, HASHER_SHA512 = 2 };

/* A file version and what to compute of it.  key is the caller's (the
 * request path): copied by hasher_submit, handed back with the result. */
struct hasher_job {
    int fd; /* owned by the hasher once hasher_submit succeeds */
    unsigned algs;
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    const char *key;
};

struct hasher_result {
    int ok; /* 0: unreadable, or the file changed meanwhile: discard */
    unsigned algs;
    dev_t dev;
    ino_t ino;
    uint64_t size;
    struct timespec mtime;
    char *key; /* owned by the result: hasher_result_free */
    uint8_t sha256[32], sha512[64];
};

struct hasher_stats {
    uint64_t queued, done, dropped, failed; /* failed: unreadable or changed */
    uint64_t bytes;                         /* file bytes hashed */
    int depth;                              /* jobs in flight now */
};

struct hasher;

/* A hasher with its eventfd (no thread yet); NULL when out of memory or
 * descriptors. */
struct hasher *hasher_new(void);
/* Stops the thread (a job under way ends at its next chunk), joins it,
 * closes every descriptor it still holds.  NULL is fine. */
void hasher_free(struct hasher *h);

/* The descriptor that becomes readable when results wait. */
int hasher_fd(const struct hasher *h);

/* Queues a job: 0 (the hasher owns j->fd now), or -EAGAIN when HASHER_QUEUE
 * jobs are in flight (try again later; the caller keeps j->fd), -ENOMEM, or
 * -errno when the thread cannot be started. */
int hasher_submit(struct hasher *h, const struct hasher_job *j);

/* Takes one finished job's result: 1 with *r filled, 0 when none is left.
 * Call after hasher_fd is readable (it also clears the eventfd). */
int hasher_take(struct hasher *h, struct hasher_result *r);
void hasher_result_free(struct hasher_result *r);

void hasher_stats(const struct hasher *h, struct hasher_stats *st);

#endif
