#include "http/fswatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define BUCKETS     256 /* power of two */
#define MAX_WATCHES 512 /* keys per instance: a few workers stay within any user limit */

/* what a served file's directory reports: content, metadata and names
 * changing, and the directory itself going away */
#define NAMES                                                                                      \
    (IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |         \
     IN_ONLYDIR | IN_EXCL_UNLINK)
#define MASK (NAMES | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)

struct wnode {
    struct wnode *next_key, *next_wd;
    int wd;
    uint32_t hash;
    char key[];
};

struct fswatch {
    int fd;
    int count;
    struct wnode *by_key[BUCKETS];
    struct wnode *by_wd[BUCKETS];
};

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct fswatch *fswatch_new(void)
{
    struct fswatch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    /* failing here only costs promptness: the caller's periodic checks stay */
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return w;
}

static void forget(struct fswatch *w, struct wnode *n)
{
    struct wnode **pp = &w->by_key[n->hash & (BUCKETS - 1)];
    while (*pp != n)
        pp = &(*pp)->next_key;
    *pp = n->next_key;
    pp = &w->by_wd[(unsigned)n->wd & (BUCKETS - 1)];
    while (*pp != n)
        pp = &(*pp)->next_wd;
    *pp = n->next_wd;
    free(n);
    w->count--;
}

void fswatch_clear(struct fswatch *w)
{
    for (int i = 0; i < BUCKETS; i++) {
        while (w->by_wd[i]) {
            int wd = w->by_wd[i]->wd;
            /* one kernel watch may stand for several keys: removed once */
            if (w->fd >= 0) inotify_rm_watch(w->fd, wd);
            for (struct wnode *n = w->by_wd[i], *next; n; n = next) {
                next = n->next_wd;
                if (n->wd == wd) forget(w, n);
            }
        }
    }
}

void fswatch_free(struct fswatch *w)
{
    if (!w) return;
    fswatch_clear(w);
    if (w->fd >= 0) close(w->fd);
    free(w);
}

int fswatch_fd(const struct fswatch *w)
{
    return w->fd;
}

static struct wnode *find_key(const struct fswatch *w, const char *key, uint32_t h)
{
    for (struct wnode *n = w->by_key[h & (BUCKETS - 1)]; n; n = n->next_key)
        if (n->hash == h && !strcmp(n->key, key)) return n;
    return NULL;
}

int fswatch_has(const struct fswatch *w, const char *key)
{
    return find_key(w, key, hash_key(key)) != NULL;
}

int fswatch_add(struct fswatch *w, const char *path, const char *key, int what)
{
    uint32_t h = hash_key(key);
    if (find_key(w, key, h)) return 1;
    if (w->fd < 0) return -ENOSYS;
    if (w->count >= MAX_WATCHES) return -ENOSPC;
    size_t kl = strlen(key);
    struct wnode *n = malloc(sizeof *n + kl + 1);
    if (!n) return -ENOMEM;
    int wd = inotify_add_watch(w->fd, path, what == FSWATCH_NAMES ? NAMES : MASK);
    if (wd < 0) {
        int err = -errno;
        free(n);
        return err;
    }
    memcpy(n->key, key, kl + 1);
    n->hash = h;
    n->wd = wd;
    n->next_key = w->by_key[h & (BUCKETS - 1)];
    w->by_key[h & (BUCKETS - 1)] = n;
    n->next_wd = w->by_wd[(unsigned)wd & (BUCKETS - 1)];
    w->by_wd[(unsigned)wd & (BUCKETS - 1)] = n;
    w->count++;
    return 0;
}

int fswatch_add_dirs(struct fswatch *w, int dirfd, const char *path)
{
    char key[PATH_MAX], where[PATH_MAX + 32];
    size_t n = strlen(path);
    if (n >= sizeof key) return -ENAMETOOLONG;
    memcpy(key, path, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (key[i] != '/') continue;
        char kept = key[i + 1];
        key[i + 1] = '\0';
        int rc = 1;
        if (!fswatch_has(w, key)) {
            /* the magic link walks from dirfd itself: no name outside it */
            snprintf(where, sizeof where, "/proc/self/fd/%d%s", dirfd, key);
            rc = fswatch_add(w, where, key, FSWATCH_ALL);
        }
        key[i + 1] = kept;
        if (rc < 0) return rc;
    }
    return 0;
}

int fswatch_read(struct fswatch *w, fswatch_cb *cb, void *arg)
{
    if (w->fd < 0) return 0;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int count = 0;
    for (;;) {
        ssize_t len = read(w->fd, buf, sizeof buf);
        if (len < 0 && errno == EINTR) continue;
        if (len < 0) return errno == EAGAIN ? count : -errno;
        if (len == 0) return count;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            count++;
            if (ev->mask & IN_Q_OVERFLOW) {
                cb(arg, NULL, NULL, ev->mask);
                continue;
            }
            const char *name = ev->len ? ev->name : "";
            struct wnode *n = w->by_wd[(unsigned)ev->wd & (BUCKETS - 1)], *next;
            for (; n; n = next) {
                next = n->next_wd;
                if (n->wd != ev->wd) continue;
                cb(arg, n->key, name, ev->mask);
                /* the kernel dropped the watch (directory gone, or removed) */
                if (ev->mask & IN_IGNORED) forget(w, n);
            }
        }
    }
}
