/* The echo server, in the five concurrency models the tutorials compare.
 *
 * The blocking models (iterative, fork, thread) and select learn about
 * SIGINT/SIGTERM from a flag and a self-pipe: the handler writes one byte that
 * is never drained, so every poll() that includes the pipe -- the acceptor's,
 * each thread's, each forked child's (the pipe is inherited) -- wakes up and
 * keeps waking up.  The epoll model gets them from the event loop instead. */
#include "echo.h"
#include "echo_srv.h"

#include "err.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024)

static const char *const model_names[] = {
    [ECHO_ITERATIVE] = "iterative", [ECHO_FORK] = "fork",   [ECHO_THREAD] = "thread",
    [ECHO_SELECT] = "select",       [ECHO_EPOLL] = "epoll",
};

int echo_model_parse(const char *name)
{
    for (size_t i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
        if (name && !strcmp(name, model_names[i])) return (int)i;
    return BERTH_EUSAGE;
}

const char *echo_model_name(enum echo_model m)
{
    return (unsigned)m < sizeof model_names / sizeof model_names[0] ? model_names[m] : "?";
}

/* Whether a failed accept calls for a pause: out of descriptors or memory
 * will not go away by retrying at once, and a level-triggered listener
 * would spin.  Reported at most once a minute. */
int echo_accept_trouble(struct echo_srv *s, int rc)
{
    if (rc == -EAGAIN || rc == -EINTR) return 0;
    time_t now = time(NULL);
    if (now - s->complained >= 60) {
        char msg[256];
        fprintf(s->out, "%s\n", err_fmt(msg, sizeof msg, rc, "cannot accept a connection"));
        s->complained = now;
    }
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

uint64_t echo_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void echo_log_open(struct echo_srv *s, const char *peer)
{
    if (!s->o->quiet) fprintf(s->out, "connection from %s\n", peer);
}

void echo_log_close(struct echo_srv *s, const char *peer, unsigned long long in,
                    unsigned long long out, int rc)
{
    if (s->o->quiet) return;
    if (rc < 0)
        fprintf(s->out, "%s: %llu bytes in, %llu bytes out, closed: %s\n", peer, in, out,
                err_str(rc));
    else
        fprintf(s->out, "%s: %llu bytes in, %llu bytes out, closed\n", peer, in, out);
}

void echo_peer_str(const struct net_addr *a, char *out, size_t n)
{
    if (a->ss.ss_family == AF_UNIX)
        snprintf(out, n, "unix client");
    else
        net_addr_str(a, out, n);
}

/* ---- stop signals for the blocking models and select ---- */

static volatile sig_atomic_t stopping;
static int stop_pipe[2] = {-1, -1};

static void on_stop(int signo)
{
    int saved = errno;
    (void)signo;
    stopping = 1;
    if (stop_pipe[1] >= 0) {
        ssize_t r = write(stop_pipe[1], "x", 1);
        (void)r; /* a full pipe already says "stop" */
    }
    errno = saved;
}

/* only there so that SIGCHLD interrupts poll() and children get reaped */
static void on_child(int signo)
{
    (void)signo;
}

struct saved_sigs {
    struct sigaction intr, term, chld;
};

static int stop_signals_install(struct saved_sigs *sv)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
    stopping = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked call returns EINTR */
    sigaction(SIGINT, &sa, &sv->intr);
    sigaction(SIGTERM, &sa, &sv->term);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &sv->chld);
    return 0;
}

static void stop_signals_restore(struct saved_sigs *sv)
{
    sigaction(SIGINT, &sv->intr, NULL);
    sigaction(SIGTERM, &sv->term, NULL);
    sigaction(SIGCHLD, &sv->chld, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    stop_pipe[0] = stop_pipe[1] = -1;
}

/* Waits for lfd to become readable; 1 when it is, 0 once stopping. */
static int wait_listener(int lfd)
{
    struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (stopping) return 0;
        int r = poll(p, 2, -1);
        if (r < 0 && errno != EINTR) return 0;
        if (r < 0) return 1; /* let the caller reap children, then come back */
        if (p[1].revents) return 0;
        if (p[0].revents) return 1;
    }
}

/* The blocking models' pause after accept trouble; a stop cuts it short. */
static void pause_accepting(struct echo_srv *s, int rc)
{
    if (!echo_accept_trouble(s, rc)) return;
    struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
    poll(&p, 1, ACCEPT_PAUSE_MS);
}

/* Sends all of p[0..n), waiting in poll() rather than in send() so that a
 * stop is noticed: from then on the peer has STOP_GRACE_MS to take the
 * rest.  Before that, a peer that takes nothing for s->send_ms fails. */
static int send_all_or_stop(const struct echo_srv *s, int fd, const char *p, size_t n)
{
    uint64_t deadline = 0;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) return -errno;
        struct pollfd q[2] = {{.fd = fd, .events = POLLOUT},
                              {.fd = stop_pipe[0], .events = POLLIN}};
        int wait = s->send_ms ? s->send_ms : -1;
        if (deadline) {
            uint64_t now = echo_mono_ms();
            if (now >= deadline) return -ETIMEDOUT;
            wait = (int)(deadline - now);
        }
        int r = poll(q, deadline ? 1 : 2, wait);
        if (r < 0 && errno != EINTR) return -errno;
        if (r == 0) return -ETIMEDOUT;
        if (r > 0 && !deadline && q[1].revents) deadline = echo_mono_ms() + STOP_GRACE_MS;
    }
    return 0;
}

/* Echoes one connection with blocking I/O until the peer half-closes, or the
 * server stops: reading stops then, and everything read is sent back. */
static void serve_blocking(struct echo_srv *s, int fd, const char *peer)
{
    char data[16384];
    unsigned long long in = 0, out = 0;
    int rc = 0;
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};

    echo_log_open(s, peer);
    if ((rc = net_set_nonblock(fd, 0)) < 0) goto done;
    for (;;) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (p[1].revents) break;
        ssize_t got = recv(fd, data, sizeof data, 0);
        if (got == 0) break;
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            rc = -errno;
            break;
        }
        in += (size_t)got;
        if ((rc = send_all_or_stop(s, fd, data, (size_t)got)) < 0) break;
        out += (size_t)got;
    }
done:
    close(fd);
    echo_log_close(s, peer, in, out, rc);
}

/* ---- iterative: one client at a time, seed 000's loop ---- */

static int run_iterative(struct echo_srv *s)
{
    while (wait_listener(s->lfd)) {
        struct net_addr peer;
        int fd = net_accept(s->lfd, &peer);
        if (fd < 0) { /* EAGAIN: a client that reset before we got to it */
            pause_accepting(s, fd);
            continue;
        }
        char ps[128];
        echo_peer_str(&peer, ps, sizeof ps);
        serve_blocking(s, fd, ps);
    }
    return 0;
}

/* ---- fork: a process per connection ---- */

static void reap(int *children, int block)
{
    while (*children > 0) {
        pid_t p = waitpid(-1, NULL, block ? 0 : WNOHANG);
        if (p > 0)
            (*children)--;
        else if (p < 0 && errno == EINTR)
            continue;
        else if (p < 0 && errno == ECHILD)
            *children = 0;
        else
            break;
    }
}

static int run_fork(struct echo_srv *s)
{
    int children = 0;
    for (;;) {
        int more = wait_listener(s->lfd);
        reap(&children, 0);
        if (!more) break;
        struct net_addr peer;
        int fd = net_accept(s->lfd, &peer);
        if (fd < 0) {
            pause_accepting(s, fd);
            continue;
        }
        char ps[128];
        echo_peer_str(&peer, ps, sizeof ps);
        fflush(s->out); /* or the child would print the parent's buffer again */
        pid_t pid = fork();
        if (pid == 0) {
            close(s->lfd);
            serve_blocking(s, fd, ps);
            fflush(s->out);
            _exit(0);
        }
        close(fd);
        if (pid < 0)
            fprintf(s->out, "%s: cannot fork: %s\n", ps, err_str(-errno));
        else
            children++;
    }
    /* the children saw the same stop byte; wait until they have flushed */
    reap(&children, 1);
    return 0;
}

/* ---- thread: a detached thread per connection ---- */

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static int live_threads;

struct job {
    struct echo_srv *s;
    int fd;
    char peer[128];
};

static void *thread_main(void *arg)
{
    struct job *j = arg;
    serve_blocking(j->s, j->fd, j->peer);
    free(j);
    pthread_mutex_lock(&live_mu);
    if (--live_threads == 0) pthread_cond_signal(&live_cv);
    pthread_mutex_unlock(&live_mu);
    return NULL;
}

static int run_thread(struct echo_srv *s)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    /* workers inherit a mask with every signal blocked: they hear about a
     * stop from the pipe, and the handler always runs in this thread */
    sigset_t all, old;
    sigfillset(&all);

    while (wait_listener(s->lfd)) {
        struct net_addr peer;
        int fd = net_accept(s->lfd, &peer);
        if (fd < 0) {
            pause_accepting(s, fd);
            continue;
        }
        struct job *j = malloc(sizeof *j);
        if (!j) {
            close(fd);
            continue;
        }
        j->s = s;
        j->fd = fd;
        echo_peer_str(&peer, j->peer, sizeof j->peer);
        pthread_mutex_lock(&live_mu);
        live_threads++;
        pthread_mutex_unlock(&live_mu);
        pthread_t t;
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&t, &attr, thread_main, j);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
            fprintf(s->out, "%s: cannot start a thread: %s\n", j->peer, err_str(-rc));
            close(fd);
            free(j);
            pthread_mutex_lock(&live_mu);
            live_threads--;
            pthread_mutex_unlock(&live_mu);
        }
    }
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&live_mu);
    while (live_threads > 0)
        pthread_cond_wait(&live_cv, &live_mu);
    pthread_mutex_unlock(&live_mu);
    return 0;
}

/* ---- UDP: every datagram back to its sender, boundaries kept ---- */

static int run_udp(struct echo_srv *s)
{
    static char data[65536];
    struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
    while (!stopping) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (p[1].revents) break;
        struct net_addr peer;
        peer.len = sizeof peer.ss;
        ssize_t got =
            recvfrom(s->lfd, data, sizeof data, 0, (struct sockaddr *)&peer.ss, &peer.len);
        if (got < 0) continue; /* EAGAIN, or an ICMP error from an earlier reply */
        ssize_t sent =
            sendto(s->lfd, data, (size_t)got, MSG_NOSIGNAL, (struct sockaddr *)&peer.ss, peer.len);
        if (!s->o->quiet) {
            char ps[128];
            echo_peer_str(&peer, ps, sizeof ps);
            if (sent < 0)
                fprintf(s->out, "%s: %zd bytes in, not echoed: %s\n", ps, got, err_str(-errno));
            else
                fprintf(s->out, "%s: %zd bytes in, %zd bytes out\n", ps, got, sent);
        }
    }
    return 0;
}

int echo_server_run(const struct echo_server_opt *o, char *why, size_t n)
{
    struct echo_srv s = {.o = o, .out = o->out ? o->out : stdout, .lfd = -1};
    s.send_ms = o->send_timeout_ms < 0    ? 0
                : o->send_timeout_ms == 0 ? ECHO_SEND_TIMEOUT_MS
                                          : o->send_timeout_ms;
    const char *host = o->host ? o->host : "";
    int is_unix = !strncmp(host, "unix:", 5);
    char where[300];
    if (is_unix)
        snprintf(where, sizeof where, "%s", host);
    else if (strchr(host, ':'))
        snprintf(where, sizeof where, "[%s]:%d", host, o->port);
    else
        snprintf(where, sizeof where, "%s:%d", *host ? host : "*", o->port);

    struct net_listen_opt lo = {.nonblock = 1};
    struct net_addr bound;
    int rc = net_listen(o->host, o->port, o->udp ? SOCK_DGRAM : SOCK_STREAM, &lo, &bound);
    if (rc < 0) {
        char what[340];
        snprintf(what, sizeof what, "cannot listen on %s", where);
        err_fmt(why, n, rc, what);
        return rc;
    }
    s.lfd = rc;

    /* whoever reads the "listening" line may signal at once: from before it
     * is printed, a stop signal is held (and later handled), never fatal */
    sigset_t stopsigs, oldmask;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopsigs, &oldmask);
    struct saved_sigs sv;
    int blocking_sigs = o->udp || o->model != ECHO_EPOLL;
    if (blocking_sigs && (rc = stop_signals_install(&sv)) < 0) {
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
        goto fail;
    }

    char addr[300];
    if (is_unix)
        snprintf(addr, sizeof addr, "%s", host);
    else
        net_addr_str(&bound, addr, sizeof addr);
    if (o->udp)
        fprintf(s.out, "listening on %s (udp)\n", addr);
    else
        fprintf(s.out, "listening on %s (%s, model %s)\n", addr, is_unix ? "unix" : "tcp",
                echo_model_name(o->model));
    fflush(s.out);
    /* the epoll model keeps them blocked: the loop reads them from a signalfd */
    if (blocking_sigs) pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    if (o->udp)
        rc = run_udp(&s);
    else
        switch (o->model) {
        case ECHO_ITERATIVE:
            rc = run_iterative(&s);
            break;
        case ECHO_FORK:
            rc = run_fork(&s);
            break;
        case ECHO_THREAD:
            rc = run_thread(&s);
            break;
        case ECHO_SELECT:
            rc = echo_run_select(&s, stop_pipe[0]);
            break;
        case ECHO_EPOLL:
            rc = echo_run_epoll(&s);
            break;
        default:
            rc = BERTH_EUSAGE;
        }
    if (blocking_sigs) stop_signals_restore(&sv);
fail:
    close(s.lfd);
    if (is_unix) unlink(host + 5);
    fflush(s.out);
    if (rc < 0) err_fmt(why, n, rc, "echo server failed");
    return rc < 0 ? rc : 0;
}
