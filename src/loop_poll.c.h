/* poll(2) backend for loop.c (included, not compiled on its own): build with
 * -DLOOP_POLL.  Portable, O(n) per wait; the tests run on both backends. */
#include <poll.h>
#include <pthread.h>

struct api_poll {
    struct pollfd *pfd; /* dense array of watched fds */
    int *pos;           /* fd -> index in pfd, -1 if absent */
    int n, cap, poscap;
    struct pollfd *ready; /* snapshot: callbacks may change pfd */
};

static int api_create(struct loop *l)
{
    struct api_poll *a = calloc(1, sizeof *a);
    if (!a) return -ENOMEM;
    l->api = a;
    return 0;
}

static void api_free(struct loop *l)
{
    struct api_poll *a = l->api;
    free(a->pfd);
    free(a->pos);
    free(a->ready);
    free(a);
}

static int api_update(struct loop *l, int fd, unsigned from, unsigned to)
{
    struct api_poll *a = l->api;
    (void)from;
    if (fd >= a->poscap) {
        int cap = a->poscap ? a->poscap : 64;
        while (cap <= fd)
            cap *= 2;
        int *p = realloc(a->pos, (size_t)cap * sizeof *p);
        if (!p) return -ENOMEM;
        for (int i = a->poscap; i < cap; i++)
            p[i] = -1;
        a->pos = p;
        a->poscap = cap;
    }
    int i = a->pos[fd];
    if (!to) {
        if (i < 0) return 0;
        a->pfd[i] = a->pfd[--a->n];
        a->pos[a->pfd[i].fd] = i;
        a->pos[fd] = -1;
        return 0;
    }
    if (i < 0) {
        if (a->n == a->cap) {
            int cap = a->cap ? a->cap * 2 : 64;
            struct pollfd *p = realloc(a->pfd, (size_t)cap * sizeof *p);
            struct pollfd *r = realloc(a->ready, (size_t)cap * sizeof *r);
            if (p) a->pfd = p;
            if (r) a->ready = r;
            if (!p || !r) return -ENOMEM;
            a->cap = cap;
        }
        i = a->n++;
        a->pos[fd] = i;
        a->pfd[i].fd = fd;
    }
    a->pfd[i].events = (short)((to & LOOP_READ ? POLLIN : 0) | (to & LOOP_WRITE ? POLLOUT : 0));
    a->pfd[i].revents = 0;
    return 0;
}

static int api_poll(struct loop *l, int timeout)
{
    struct api_poll *a = l->api;
    int n = poll(a->pfd, (nfds_t)a->n, timeout);
    l->now = clock_ms();
    if (n < 0) return -errno;
    int k = 0;
    for (int i = 0; i < a->n && k < n; i++)
        if (a->pfd[i].revents) a->ready[k++] = a->pfd[i];
    for (int i = 0; i < k; i++) {
        short e = a->ready[i].revents;
        unsigned ev = 0;
        if (e & POLLIN) ev |= LOOP_READ;
        if (e & POLLOUT) ev |= LOOP_WRITE;
        if (e & (POLLERR | POLLHUP | POLLNVAL)) ev |= LOOP_HUP;
        fire(l, a->ready[i].fd, ev);
    }
    return n;
}
