/* beneath — opening a path for reading without leaving a directory.
 *
 * openat2 with RESOLVE_BENEATH lets the kernel refuse "..", absolute
 * symlinks and symlinks that climb out.  Where openat2 is missing (ENOSYS)
 * or filtered (a seccomp profile answering EPERM, as some container runtimes
 * do), the file is opened with openat and its real path checked against the
 * directory's instead; the first such refusal switches the process to the
 * fallback for good, so it costs one failed call, not one per open. */
#ifndef BERTH_HTTP_BENEATH_H
#define BERTH_HTTP_BENEATH_H

/* Opens path (normalised, beginning with '/', "/" for the directory itself)
 * beneath rootfd, read-only, close-on-exec and non-blocking (a FIFO never
 * blocks the caller).  Returns the descriptor or -errno; -EXDEV when the
 * fallback finds the file outside. */
int beneath_open(int rootfd, const char *path);

/* The fallback alone: openat, then the real-path check. */
int beneath_open_checked(int rootfd, const char *path);

#endif
