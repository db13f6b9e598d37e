#include "http/fsroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Opens path (normalised, beginning with '/') beneath the root.  openat2
 * with RESOLVE_BENEATH refuses "..", absolute symlinks and symlinks that
 * climb out; where the kernel lacks openat2, the opened file's real path is
 * checked against the root's instead.  O_NONBLOCK keeps a FIFO from
 * blocking the worker; only regular files and directories are served. */
int fsroot_open(int rootfd, const char *path)
{
    const char *rel = path[1] ? path + 1 : ".";
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return fd >= 0 ? (int)fd : -errno;

    int f = openat(rootfd, rel, (int)how.flags);
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
