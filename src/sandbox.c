/* sandbox — Landlock and dropping root; see sandbox.h.  Raw system calls
 * (glibc has no wrappers, and libberth needs no library for them). */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* older uapi headers lack the later syscalls' numbers and rights; the
 * numbers are the same on every architecture (new generic table) */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule       445
#define SYS_landlock_restrict_self  446
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#define LL_FS_TRUNCATE    (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV   (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP   (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT    (1ULL << 1)  /* ABI 4 */
#define LL_SCOPE_ABSTRACT (1ULL << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL   (1ULL << 1)  /* ABI 6 */

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a longer
 * struct than it knows as long as the extra fields are 0 */
/* LeakSanitizer checks at exit by reading /proc/self/maps and stopping the
 * threads with ptrace from a helper process: a sanitizer build (make asan)
 * lets the process read its own /proc directory and stays dumpable after
 * --user, or every run would end in LSan's fatal error.  Release builds do
 * neither. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_LSAN 1
#endif
#endif
#ifndef UNDER_LSAN
#define UNDER_LSAN 0
#endif

struct ll_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};

struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed)); /* as the uapi declares it */

#define LL_FS_ABI1                                                                                 \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |                                 \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

int sandbox_landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? -errno : (int)v;
}

/* One rule: access beneath (or on) path.  A missing path is no error: a
 * log directory or TLS file that is gone has nothing to allow. */
static int add_rule(int rs, const char *path, uint64_t access, char *why, size_t whylen)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0
                               : (snprintf(why, whylen,
                                           "cannot open %s for a sandbox rule: %s; "
                                           "fix its permissions or use --no-sandbox",
                                           path, strerror(errno)),
                                  -errno);
    struct ll_path_beneath pb = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int err = errno;
    close(fd);
    if (rc < 0) {
        snprintf(why, whylen,
                 "cannot add a Landlock rule for %s: %s; report it, or use --no-sandbox", path,
                 strerror(err));
        return -err;
    }
    return 0;
}

int sandbox_landlock(const struct sandbox_conf *c, char *why, size_t whylen)
{
    *why = '\0';
    int abi = sandbox_landlock_abi();
    if (abi == -EPERM || abi == -EACCES)
        snprintf(why, whylen,
                 "the Landlock system calls are refused (%s): a seccomp filter? under systemd add "
                 "landlock_create_ruleset landlock_add_rule landlock_restrict_self to "
                 "SystemCallFilter=, or use --no-sandbox",
                 strerror(-abi));
    if (abi < 0) return abi;
    struct ll_ruleset_attr attr = {.handled_access_fs = LL_FS_ABI1};
    if (abi >= 2) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 4) attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT; /* no rule: none */
    if (abi >= 5) attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    if (abi >= 6) attr.scoped = LL_SCOPE_ABSTRACT | LL_SCOPE_SIGNAL;
    size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) {
        int err = errno;
        snprintf(why, whylen, "cannot create a Landlock ruleset: %s; use --no-sandbox",
                 strerror(err));
        return -err;
    }
    const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    const uint64_t wr = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG;
    int rc = 0;
    for (int i = 0; rc == 0 && i < c->nread_dirs; i++)
        rc = add_rule(rs, c->read_dirs[i], rd, why, whylen);
    for (int i = 0; rc == 0 && i < c->nread_files; i++)
        rc = add_rule(rs, c->read_files[i], LANDLOCK_ACCESS_FS_READ_FILE, why, whylen);
    for (int i = 0; rc == 0 && i < c->nwrite_dirs; i++)
        rc = add_rule(rs, c->write_dirs[i], wr, why, whylen);
    if (rc == 0 && UNDER_LSAN) rc = add_rule(rs, "/proc/self", rd, why, whylen);
    /* restrict_self needs no_new_privs (or CAP_SYS_ADMIN): a restricted
     * process must not gain rights through a set-uid program either */
    if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot set no_new_privs: %s; use --no-sandbox", strerror(-rc));
    }
    if (rc == 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot enforce the Landlock ruleset: %s; use --no-sandbox",
                 strerror(-rc));
    }
    close(rs);
    return rc < 0 ? rc : abi;
}

int sandbox_drop_user(const char *name, char *why, size_t whylen)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        int err = errno ? errno : ENOENT;
        snprintf(why, whylen, "no user %s (%s); give an existing user to --user", name,
                 errno ? strerror(errno) : "not in the user database");
        return -err;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    /* groups first (needs root), then the group, then the user: in any
     * other order the later calls are no longer allowed */
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        int err = errno;
        snprintf(why, whylen, "cannot become user %s: %s; --user needs to start as root", name,
                 strerror(err));
        return -err;
    }
    if (UNDER_LSAN) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* see UNDER_LSAN */
    /* root must be gone for good: if uid 0 can be taken back, the drop did
     * not happen the way it must */
    if (uid != 0 && (setuid(0) == 0 || getuid() != uid || geteuid() != uid || getegid() != gid)) {
        snprintf(why, whylen, "still able to become root after switching to %s; refusing to run",
                 name);
        return -EPERM;
    }
    return 0;
}
