#include "http/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static int openat2_off; /* openat2 is missing or filtered: the fallback from now on */

int beneath_open_checked(int rootfd, const char *path)
{
    const char *rel = path[1] ? path + 1 : ".";
    int f = openat(rootfd, rel, FLAGS);
    if (f < 0) return -errno;
    char link[64], root[PATH_MAX], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", rootfd);
    ssize_t rn = readlink(link, root, sizeof root - 1);
    snprintf(link, sizeof link, "/proc/self/fd/%d", f);
    ssize_t fn = readlink(link, real, sizeof real - 1);
    if (rn < 0 || fn < 0) goto escape;
    root[rn] = real[fn] = '\0';
    if (strncmp(real, root, (size_t)rn) || (real[rn] && real[rn] != '/' && strcmp(root, "/")))
        goto escape;
    return f;
escape:
    close(f);
    return -EXDEV;
}

int beneath_open(int rootfd, const char *path)
{
    if (!__atomic_load_n(&openat2_off, __ATOMIC_RELAXED)) {
        struct open_how how = {
            .flags = FLAGS,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, rootfd, path[1] ? path + 1 : ".", &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno != ENOSYS && errno != EPERM) return -errno;
    }
    int f = beneath_open_checked(rootfd, path);
    /* openat did what openat2 refused: the call is filtered, not the file
     * (a real EPERM fails openat too, and leaves openat2 in use) */
    if (f >= 0 || f == -EXDEV) __atomic_store_n(&openat2_off, 1, __ATOMIC_RELAXED);
    return f;
}
