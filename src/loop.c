#include "loop.h"

#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

struct loop_fd {
    loop_io_cb *cb;
    void *arg;
    unsigned mask;     /* interest the caller asked for */
    unsigned char set; /* watched (counts toward "something to do") */
    unsigned char in_kernel;
};

struct loop {
    struct loop_fd *fds;
    int cap;     /* fds[] is indexed by fd */
    int watched; /* user fds with set == 1 */
    struct loop_timer **heap;
    size_t nheap, capheap;
    uint64_t now;
    int stop;
    int sigfd;
    sigset_t sigs;
    struct {
        loop_signal_cb *cb;
        void *arg;
    } sig[_NSIG];
    void *api; /* backend state */
};

static void fire(struct loop *l, int fd, unsigned events);
static uint64_t clock_ms(void);

/* The backend: api_create, api_free, api_update (interest from -> to, with
 * to == 0 meaning "remove"), api_poll (waits, sets l->now, then calls fire()
 * for each ready fd: callbacks must see the time they woke at, not the time
 * the loop fell asleep). */
#ifdef LOOP_POLL
#include "loop_poll.c.h"
#else
#include "loop_epoll.c.h"
#endif

static uint64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->sigfd = -1;
    sigemptyset(&l->sigs);
    l->now = clock_ms();
    if (api_create(l) < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void loop_free(struct loop *l)
{
    if (!l) return;
    /* the signals stay blocked: unblocking would let a pending SIGTERM kill
     * a process that is already shutting down cleanly */
    if (l->sigfd >= 0) close(l->sigfd);
    api_free(l);
    free(l->fds);
    free(l->heap);
    free(l);
}

static int grow_fds(struct loop *l, int fd)
{
    if (fd < l->cap) return 0;
    int cap = l->cap ? l->cap : 64;
    while (cap <= fd)
        cap *= 2;
    struct loop_fd *p = realloc(l->fds, (size_t)cap * sizeof *p);
    if (!p) return -ENOMEM;
    memset(p + l->cap, 0, (size_t)(cap - l->cap) * sizeof *p);
    l->fds = p;
    l->cap = cap;
    return 0;
}

static int io_set(struct loop *l, int fd, unsigned events, loop_io_cb *cb, void *arg, int user)
{
    if (fd < 0) return -EBADF;
    int rc = grow_fds(l, fd);
    if (rc < 0) return rc;
    struct loop_fd *f = &l->fds[fd];
    events &= LOOP_READ | LOOP_WRITE;
    /* a quiet fd leaves the kernel set: epoll reports HUP even with no
     * interest, which would spin a level-triggered loop */
    if (events != (f->in_kernel ? f->mask : 0)) {
        rc = api_update(l, fd, f->in_kernel ? f->mask : 0, events);
        if (rc < 0) return rc;
        f->in_kernel = events != 0;
    }
    if (!f->set && user) l->watched++;
    f->set = 1;
    f->mask = events;
    f->cb = cb;
    f->arg = arg;
    return 0;
}

int loop_io_set(struct loop *l, int fd, unsigned events, loop_io_cb *cb, void *arg)
{
    return io_set(l, fd, events, cb, arg, 1);
}

void loop_io_del(struct loop *l, int fd)
{
    if (fd < 0 || fd >= l->cap || !l->fds[fd].set) return;
    struct loop_fd *f = &l->fds[fd];
    if (f->in_kernel) api_update(l, fd, f->mask, 0);
    if (fd != l->sigfd) l->watched--;
    memset(f, 0, sizeof *f);
}

unsigned loop_io_get(const struct loop *l, int fd)
{
    return fd >= 0 && fd < l->cap ? l->fds[fd].mask : 0;
}

static void fire(struct loop *l, int fd, unsigned events)
{
    if (fd >= l->cap) return;
    struct loop_fd *f = &l->fds[fd];
    /* HUP/ERR wakes whichever side is interested, so the owner sees the
     * failure in its next read or write */
    unsigned ev = events & f->mask;
    if (events & LOOP_HUP) ev |= LOOP_HUP | f->mask;
    if (f->set && f->cb && ev) f->cb(l, fd, ev, f->arg);
}

/* binary min-heap of timers on `when`; slot = index + 1 */

static void heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when <= t->when) break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap) break;
        if (c + 1 < l->nheap && l->heap[c + 1]->when < l->heap[c]->when) c++;
        if (t->when <= l->heap[c]->when) break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    if (!t->slot) return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct loop_timer *last = l->heap[--l->nheap];
    if (i == l->nheap) return;
    heap_place(l, i, last);
    heap_up(l, i);
    heap_down(l, last->slot - 1);
}

int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms, loop_timer_cb *cb)
{
    t->cb = cb;
    t->when = l->now + ms;
    if (t->slot) {
        size_t i = t->slot - 1;
        heap_up(l, i);
        heap_down(l, t->slot - 1);
        return 0;
    }
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        struct loop_timer **p = realloc(l->heap, cap * sizeof *p);
        if (!p) return -ENOMEM;
        l->heap = p;
        l->capheap = cap;
    }
    heap_place(l, l->nheap++, t);
    heap_up(l, l->nheap - 1);
    return 0;
}

uint64_t loop_now(const struct loop *l)
{
    return l->now;
}

static void on_signalfd(struct loop *l, int fd, unsigned events, void *arg)
{
    (void)events;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int s = (int)si.ssi_signo;
        if (s > 0 && s < _NSIG && l->sig[s].cb) l->sig[s].cb(l, s, l->sig[s].arg);
    }
}

int loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *arg)
{
    if (signo <= 0 || signo >= _NSIG) return -EINVAL;
    sigaddset(&l->sigs, signo);
    int err = pthread_sigmask(SIG_BLOCK, &l->sigs, NULL);
    if (err) return -err;
    int fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (l->sigfd < 0) {
        l->sigfd = fd;
        int rc = io_set(l, fd, LOOP_READ, on_signalfd, NULL, 0);
        if (rc < 0) return rc;
    }
    l->sig[signo].cb = cb;
    l->sig[signo].arg = arg;
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

/* Fires the timers that are due, at most as many as were armed when the
 * pass began: a callback that re-arms itself for 0 ms runs again on the next
 * pass, after I/O has been polled, instead of starving it. */
static void run_timers(struct loop *l)
{
    size_t budget = l->nheap;
    while (budget-- && l->nheap && l->heap[0]->when <= l->now) {
        struct loop_timer *t = l->heap[0];
        loop_timer_stop(l, t);
        t->cb(l, t);
    }
}

int loop_run(struct loop *l)
{
    l->stop = 0;
    while (!l->stop && (l->watched > 0 || l->nheap > 0)) {
        int timeout = -1;
        if (l->nheap) {
            uint64_t when = l->heap[0]->when;
            timeout =
                when <= l->now ? 0 : (int)(when - l->now > 86400000 ? 86400000 : when - l->now);
        }
        int rc = api_poll(l, timeout); /* updates l->now before any callback */
        if (rc < 0 && rc != -EINTR) return rc;
        run_timers(l);
    }
    return 0;
}
