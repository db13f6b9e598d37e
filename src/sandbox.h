/* sandbox — what a serving process gives up once it has bound its sockets
 * and opened its files: Landlock (the kernel's unprivileged file-system and
 * network access control) and root.  No HTTP in here.
 *
 * Landlock rules hold for the calling thread and every thread it creates
 * afterwards, never for threads already running: restrict before starting
 * the workers.  Rules name inodes: a directory replaced by another (a new
 * log directory, a new root) is not covered by them. */
#ifndef BERTH_SANDBOX_H
#define BERTH_SANDBOX_H

#include <stddef.h>

#define SANDBOX_MAX_PATHS 12

struct sandbox_conf {
    const char *read_dirs[SANDBOX_MAX_PATHS];  /* read files and list directories beneath */
    const char *read_files[SANDBOX_MAX_PATHS]; /* read these files */
    const char *write_dirs[SANDBOX_MAX_PATHS]; /* create and write files beneath */
    int nread_dirs, nread_files, nwrite_dirs;
};

/* The Landlock ABI version the kernel speaks (>= 1), -ENOSYS when it has
 * none, -EOPNOTSUPP when it is built in but disabled at boot. */
int sandbox_landlock_abi(void);

/* Sets PR_SET_NO_NEW_PRIVS and restricts the calling thread (and the threads
 * it creates from now on) to what c allows: nothing else on the file system
 * can be read, written, created, removed or executed, no TCP port bound or
 * connected to (ABI >= 4), no signal sent outside the process (ABI >= 6).
 * Paths that do not exist are skipped.  Returns the ABI in force (>= 1),
 * -ENOSYS / -EOPNOTSUPP as sandbox_landlock_abi(), or -errno with what
 * failed in why ("cause; fix"). */
int sandbox_landlock(const struct sandbox_conf *c, char *why, size_t whylen);

/* Becomes user name (its uid, its primary gid, no supplementary groups);
 * checks that root cannot be taken back.  0, or a negative code with why
 * filled ("cause; fix"). */
int sandbox_drop_user(const char *name, char *why, size_t whylen);

#endif
