/* Unit tests of src/loop.c: timer ordering (re-arm and stop included),
 * 100k timers, io callbacks on a socketpair, signals through loop_signal,
 * loop_stop, and the loop ending when nothing is left to do.  Criterion runs
 * each test in its own process, so blocked signals do not leak between them. */
#include "loop.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tmark {
    struct loop_timer t; /* first: the callback casts back */
    int id;
    int *order;
    int *n;
};

static void mark_cb(struct loop *l, struct loop_timer *t)
{
    struct tmark *m = (struct tmark *)t;
    (void)l;
    m->order[(*m->n)++] = m->id;
}

Test(loop, timers_fire_in_deadline_order)
{
    struct loop *l = loop_new();
    cr_assert_not_null(l);
    int order[8], n = 0;
    struct tmark m[4];
    memset(m, 0, sizeof m);
    uint64_t when[4] = {30, 10, 20, 0};
    for (int i = 0; i < 4; i++) {
        m[i].id = i;
        m[i].order = order;
        m[i].n = &n;
        cr_assert_eq(loop_timer_set(l, &m[i].t, when[i], mark_cb), 0);
        cr_assert(loop_timer_armed(&m[i].t));
    }
    uint64_t t0 = loop_now(l);
    cr_assert_eq(loop_run(l), 0); /* returns once no timer is left */
    cr_assert_eq(n, 4);
    cr_assert_eq(order[0], 3);
    cr_assert_eq(order[1], 1);
    cr_assert_eq(order[2], 2);
    cr_assert_eq(order[3], 0);
    cr_assert_geq(loop_now(l) - t0, 30);
    for (int i = 0; i < 4; i++)
        cr_assert(!loop_timer_armed(&m[i].t));
    loop_free(l);
}

Test(loop, rearm_moves_and_stop_cancels)
{
    struct loop *l = loop_new();
    int order[8], n = 0;
    struct tmark m[3];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++) {
        m[i].id = i;
        m[i].order = order;
        m[i].n = &n;
        loop_timer_set(l, &m[i].t, (uint64_t)(10 * (i + 1)), mark_cb);
    }
    loop_timer_set(l, &m[0].t, 40, mark_cb); /* the first becomes the last */
    loop_timer_stop(l, &m[1].t);
    cr_assert(!loop_timer_armed(&m[1].t));
    loop_timer_stop(l, &m[1].t); /* twice is harmless */
    loop_run(l);
    cr_assert_eq(n, 2);
    cr_assert_eq(order[0], 2);
    cr_assert_eq(order[1], 0);
    loop_free(l);
}

struct rearm {
    struct loop_timer t;
    int left;
};

static void rearm_cb(struct loop *l, struct loop_timer *t)
{
    struct rearm *r = (struct rearm *)t;
    if (--r->left > 0) loop_timer_set(l, t, 1, rearm_cb);
}

Test(loop, timer_rearms_itself_from_its_callback)
{
    struct loop *l = loop_new();
    struct rearm r = {.left = 5};
    loop_timer_set(l, &r.t, 1, rearm_cb);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(r.left, 0);
    loop_free(l);
}

static int order_ok = 1;
static uint64_t last_when;
static int fired;

static void order_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    if (t->when < last_when) order_ok = 0;
    last_when = t->when;
    fired++;
}

Test(loop, hundred_thousand_timers, .timeout = 20)
{
    enum { N = 100000 };
    struct loop *l = loop_new();
    struct loop_timer *ts = calloc(N, sizeof *ts);
    srand(42);
    for (int i = 0; i < N; i++)
        cr_assert_eq(loop_timer_set(l, &ts[i], (uint64_t)(rand() % 50), order_cb), 0);
    /* stop a tenth of them, from all over the heap */
    for (int i = 0; i < N; i += 10)
        loop_timer_stop(l, &ts[i]);
    cr_assert_eq(loop_run(l), 0);
    cr_assert(order_ok, "timers fired out of deadline order");
    cr_assert_eq(fired, N - N / 10);
    free(ts);
    loop_free(l);
}

struct io {
    int reads, writes, hups;
    char got[64];
    size_t len;
};

static void io_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
    struct io *io = arg;
    if (ev & LOOP_READ) {
        ssize_t r = read(fd, io->got + io->len, sizeof io->got - io->len);
        io->reads++;
        if (r > 0) io->len += (size_t)r;
        if (r == 0) loop_io_del(l, fd); /* the peer is gone */
    }
    if (ev & LOOP_HUP) io->hups++;
    if (ev & LOOP_WRITE) {
        io->writes++;
        /* write once, then only read */
        cr_assert_eq(write(fd, "pong", 4), 4);
        loop_io_set(l, fd, LOOP_READ, io_cb, arg);
    }
}

Test(loop, io_on_a_socketpair)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    struct io io = {0};
    cr_assert_eq(loop_io_set(l, sv[0], LOOP_READ | LOOP_WRITE, io_cb, &io), 0);
    cr_assert_eq(loop_io_get(l, sv[0]), LOOP_READ | LOOP_WRITE);
    cr_assert_eq(write(sv[1], "ping", 4), 4);
    shutdown(sv[1], SHUT_WR);
    cr_assert_eq(loop_run(l), 0); /* ends when sv[0] is deleted at EOF */
    cr_assert_eq(io.writes, 1);
    cr_assert_eq(io.len, 4);
    cr_assert(!memcmp(io.got, "ping", 4));
    cr_assert_eq(loop_io_get(l, sv[0]), 0);
    char b[8];
    cr_assert_eq(read(sv[1], b, sizeof b), 4);
    cr_assert(!memcmp(b, "pong", 4));
    loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

static void count_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
    (void)l;
    (void)fd;
    (void)ev;
    (*(int *)arg)++;
}

static void stop_cb(struct loop *l, struct loop_timer *t)
{
    (void)t;
    loop_stop(l);
}

Test(loop, quiet_fd_gets_no_callbacks)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    int calls = 0;
    /* readable and then hung up, but nobody asked: no callback, no spin */
    cr_assert_eq(write(sv[1], "x", 1), 1);
    close(sv[1]);
    cr_assert_eq(loop_io_set(l, sv[0], 0, count_cb, &calls), 0);
    struct loop_timer t = {0};
    loop_timer_set(l, &t, 30, stop_cb);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(calls, 0);
    loop_io_del(l, sv[0]);
    loop_io_del(l, sv[0]); /* twice is harmless */
    loop_io_del(l, 12345); /* never watched */
    loop_free(l);
    close(sv[0]);
}

Test(loop, hangup_reaches_a_reader)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    struct io io = {0};
    close(sv[1]);
    loop_io_set(l, sv[0], LOOP_READ, io_cb, &io);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_geq(io.reads, 1);
    loop_free(l);
    close(sv[0]);
}

Test(loop, run_returns_with_nothing_to_do)
{
    struct loop *l = loop_new();
    cr_assert_eq(loop_run(l), 0);
    loop_free(l);
}

static void sig_cb(struct loop *l, int signo, void *arg)
{
    *(int *)arg = signo;
    loop_stop(l);
}

static void raise_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
    raise(SIGUSR1);
}

Test(loop, signal_arrives_as_a_callback)
{
    struct loop *l = loop_new();
    int got = 0;
    cr_assert_eq(loop_signal(l, SIGUSR1, sig_cb, &got), 0);
    /* raised from inside the loop, and raised before it runs */
    raise(SIGUSR1); /* blocked now: pending, not fatal */
    /* a signal alone does not keep the loop running: a guard timer does */
    struct loop_timer t = {0}, guard = {0};
    loop_timer_set(l, &guard, 5000, stop_cb);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(got, SIGUSR1);
    got = 0;
    loop_timer_set(l, &t, 5, raise_cb);
    loop_timer_set(l, &guard, 5000, stop_cb);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(got, SIGUSR1);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

Test(loop, two_signals_one_loop)
{
    struct loop *l = loop_new();
    int a = 0, b = 0;
    struct loop_timer guard = {0};
    loop_timer_set(l, &guard, 5000, stop_cb);
    cr_assert_eq(loop_signal(l, SIGUSR1, sig_cb, &a), 0);
    cr_assert_eq(loop_signal(l, SIGUSR2, sig_cb, &b), 0);
    raise(SIGUSR2);
    loop_run(l);
    cr_assert_eq(b, SIGUSR2);
    cr_assert_eq(a, 0);
    raise(SIGUSR1);
    loop_run(l);
    cr_assert_eq(a, SIGUSR1);
    cr_assert_eq(loop_signal(l, 0, sig_cb, &a), -EINVAL);
    loop_timer_stop(l, &guard);
    loop_free(l);
}

struct spin {
    struct loop_timer t;
    int ticks;
};

static void spin_cb(struct loop *l, struct loop_timer *t)
{
    struct spin *s = (struct spin *)t;
    s->ticks++;
    loop_timer_set(l, t, 0, spin_cb); /* "again, as soon as possible" */
}

static void read_stop_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
    (void)fd;
    (void)ev;
    (*(int *)arg)++;
    loop_stop(l);
}

/* A callback that re-arms itself for 0 ms must not keep run_timers() busy
 * forever: fds still get polled between passes. */
Test(loop, zero_ms_timer_does_not_starve_io, .timeout = 5)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    struct spin s = {0};
    int reads = 0;
    cr_assert_eq(write(sv[1], "x", 1), 1);
    loop_io_set(l, sv[0], LOOP_READ, read_stop_cb, &reads);
    loop_timer_set(l, &s.t, 0, spin_cb);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(reads, 1);
    loop_timer_stop(l, &s.t);
    loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

static void stop_now_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
    (void)fd;
    (void)ev;
    (*(int *)arg)++;
    loop_stop(l);
}

Test(loop, stop_from_a_callback)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    int calls = 0;
    /* always writable: without loop_stop this would never end */
    loop_io_set(l, sv[0], LOOP_WRITE, stop_now_cb, &calls);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(calls, 1);
    cr_assert_eq(loop_run(l), 0); /* and the loop can be run again */
    cr_assert_eq(calls, 2);
    loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

/* counts the distinct descriptors reported; stops the loop once all were */
static struct {
    unsigned char seen[4096];
    int distinct, want;
} fds_seen;

static void distinct_cb(struct loop *l, int fd, unsigned ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    if (fd >= 0 && fd < 4096 && !fds_seen.seen[fd]) {
        fds_seen.seen[fd] = 1;
        if (++fds_seen.distinct == fds_seen.want) loop_stop(l);
    }
}

Test(loop, many_fds)
{
    enum { N = 300 };
    int sv[N][2];
    struct loop *l = loop_new();
    int calls = 0;
    memset(&fds_seen, 0, sizeof fds_seen);
    fds_seen.want = N;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]), 0);
        cr_assert_lt(sv[i][0], 4096);
        cr_assert_eq(loop_io_set(l, sv[i][0], LOOP_READ, distinct_cb, &calls), 0);
        cr_assert_eq(write(sv[i][1], "x", 1), 1);
    }
    /* a guard only: on a loaded machine the thread may sleep a while, so
     * the test ends when every descriptor was seen, not after a fixed time */
    struct loop_timer t = {0};
    loop_timer_set(l, &t, 10000, stop_cb);
    loop_run(l);
    loop_timer_stop(l, &t);
    cr_assert_eq(fds_seen.distinct, N); /* level-triggered: every one at least once */
    cr_assert_geq(calls, N);
    for (int i = 0; i < N; i++) {
        loop_io_del(l, sv[i][0]);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    loop_free(l);
}
