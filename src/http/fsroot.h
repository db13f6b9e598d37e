/* fsroot — opening a request path beneath the served root, the one place
 * that decides what a path may reach (used by static and by listing, so a
 * listing shows exactly what would be served). */
#ifndef BERTH_HTTP_FSROOT_H
#define BERTH_HTTP_FSROOT_H

/* Opens path (normalised, beginning with '/') read-only beneath the root
 * directory open at rootfd: neither "..", an absolute symlink nor a symlink
 * climbing out may leave it (openat2 RESOLVE_BENEATH, or a check of the real
 * path where the kernel lacks openat2).  Non-blocking (a FIFO never blocks),
 * close-on-exec.  Returns the descriptor or a negative errno (-EXDEV for an
 * escape). */
int fsroot_open(int rootfd, const char *path);

#endif
