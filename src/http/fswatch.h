/* fswatch — directories watched with inotify, each under a caller's key.
 *
 * The static file cache keys a watch by the request path of the directory
 * ("/", "/sub/"); several keys may name one directory (a symlinked one), and
 * each gets its own report.  One instance per thread: nothing is locked.
 * Where inotify is unavailable (no instances left, a seccomp profile) the
 * instance still works, watches nothing, and fswatch_fd() is -1: the caller
 * keeps its own periodic checks as the backstop. */
#ifndef BERTH_HTTP_FSWATCH_H
#define BERTH_HTTP_FSWATCH_H

#include <stdint.h>

struct fswatch;

/* NULL only when out of memory. */
struct fswatch *fswatch_new(void);
void fswatch_free(struct fswatch *w);

/* The descriptor to wait on for readability, or -1 (nothing is watched). */
int fswatch_fd(const struct fswatch *w);

/* Watches the directory at path under key: 1 when key is watched already
 * (no system call), 0 when added, or a negative error (-ENOSPC: too many).
 * FSWATCH_NAMES reports only names appearing and going (and the directory
 * itself), not writes to what is in it: for a busy directory whose entries'
 * contents do not matter. */
enum { FSWATCH_ALL = 0, FSWATCH_NAMES = 1 };
int fswatch_add(struct fswatch *w, const char *path, const char *key, int what);
int fswatch_has(const struct fswatch *w, const char *key);

/* Watches every directory along path ("/a/b/f": "/", "/a/", "/a/b/"),
 * resolved beneath the directory dirfd, each keyed by its prefix of path.
 * Returns 0, or the first error (the directories below it are skipped). */
int fswatch_add_dirs(struct fswatch *w, int dirfd, const char *path);

/* Forgets every watch (their pending events are dropped). */
void fswatch_clear(struct fswatch *w);

/* Called per event and key: name is the entry's name in the directory, ""
 * for the directory itself; mask is inotify's IN_* bits.  A lost queue
 * (IN_Q_OVERFLOW) is reported once with key and name NULL. */
typedef void fswatch_cb(void *arg, const char *key, const char *name, uint32_t mask);

/* Reads every pending event.  cb must not add or clear watches (note what
 * to do, and do it after).  Returns how many were read, or a negative
 * error. */
int fswatch_read(struct fswatch *w, fswatch_cb *cb, void *arg);

#endif
