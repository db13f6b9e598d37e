/* epoll backend for loop.c (included, not compiled on its own). */
#include <pthread.h>
#include <sys/epoll.h>

#define EPOLL_BATCH 256

struct api_epoll {
    int epfd;
    struct epoll_event ev[EPOLL_BATCH];
};

static int api_create(struct loop *l)
{
    struct api_epoll *a = malloc(sizeof *a);
    if (!a) return -ENOMEM;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0) {
        int err = -errno;
        free(a);
        return err;
    }
    l->api = a;
    return 0;
}

static void api_free(struct loop *l)
{
    struct api_epoll *a = l->api;
    close(a->epfd);
    free(a);
}

static int api_update(struct loop *l, int fd, unsigned from, unsigned to)
{
    struct api_epoll *a = l->api;
    struct epoll_event e = {.data.fd = fd};
    if (to & LOOP_READ) e.events |= EPOLLIN | EPOLLRDHUP;
    if (to & LOOP_WRITE) e.events |= EPOLLOUT;
    int op = !to ? EPOLL_CTL_DEL : from ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(a->epfd, op, fd, &e) == 0) return 0;
    /* the fd was closed behind our back (and so left the set): not an error
     * worth failing a removal for */
    if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)) return 0;
    return -errno;
}

static int api_poll(struct loop *l, int timeout)
{
    struct api_epoll *a = l->api;
    int n = epoll_wait(a->epfd, a->ev, EPOLL_BATCH, timeout);
    l->now = clock_ms();
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = a->ev[i].events;
        unsigned ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP)) ev |= LOOP_READ;
        if (e & EPOLLOUT) ev |= LOOP_WRITE;
        if (e & (EPOLLERR | EPOLLHUP)) ev |= LOOP_HUP;
        fire(l, a->ev[i].data.fd, ev);
    }
    return n;
}
