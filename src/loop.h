/* loop — a single-threaded event loop (in the spirit of redis ae).
 *
 * File descriptors are watched for LOOP_READ/LOOP_WRITE with a callback and a
 * user pointer; timers are caller-owned structs kept in a binary heap (100k
 * timeouts cost O(log n) each, never a scan); signals arrive as ordinary
 * callbacks through signalfd.  The backend (epoll, or poll with
 * -DLOOP_POLL) is chosen at compile time behind four static functions.
 * One loop per thread; nothing here is thread-safe. */
#ifndef BERTH_LOOP_H
#define BERTH_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

enum { LOOP_READ = 1, LOOP_WRITE = 2 };
/* events passed to a callback may also carry LOOP_HUP (error or hang-up) */
enum { LOOP_HUP = 4 };

typedef void loop_io_cb(struct loop *l, int fd, unsigned events, void *arg);

struct loop_timer;
typedef void loop_timer_cb(struct loop *l, struct loop_timer *t);

/* Embed in your own struct; zero it before first use. */
struct loop_timer {
    uint64_t when; /* loop_now() deadline, ms */
    size_t slot;   /* heap position + 1; 0 = not armed */
    loop_timer_cb *cb;
};

typedef void loop_signal_cb(struct loop *l, int signo, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watches fd for `events` (LOOP_READ|LOOP_WRITE), replacing any earlier
 * interest and callback; events == 0 keeps the fd registered but quiet. */
int loop_io_set(struct loop *l, int fd, unsigned events, loop_io_cb *cb, void *arg);
/* Stops watching fd (call before close).  Safe on an unwatched fd. */
void loop_io_del(struct loop *l, int fd);
/* The interest last set for fd, or 0. */
unsigned loop_io_get(const struct loop *l, int fd);

/* Arms (or re-arms) t to fire once, `ms` from now. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms, loop_timer_cb *cb);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline int loop_timer_armed(const struct loop_timer *t)
{
    return t->slot != 0;
}

/* Milliseconds on the monotonic clock, cached once per loop iteration. */
uint64_t loop_now(const struct loop *l);

/* Delivers signo to cb from the loop instead of interrupting it.  The signal
 * is blocked in the calling thread (create the loop before other threads) and
 * stays blocked after loop_free().  A watched signal alone does not keep
 * loop_run() going: it returns once no fd and no timer is left. */
int loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *arg);

/* Runs until loop_stop() or until nothing is watched and no timer is armed.
 * Returns 0, or -errno if the backend fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
