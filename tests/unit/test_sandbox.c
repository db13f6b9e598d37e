/* sandbox.c: what a Landlock-restricted process can still open.  Criterion
 * runs each test in its own process, so restricting one restricts nothing
 * else; every test skips when the kernel has no Landlock. */
#include "sandbox.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], logdir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/berth-sandbox-XXXXXX");
    strcpy(logdir, "/tmp/berth-sandlog-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(mkdtemp(logdir));
    char p[128];
    snprintf(p, sizeof p, "%s/in.txt", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("in\n", f);
    fclose(f);
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, logdir);
    (void)!system(cmd);
}

static void need_landlock(void)
{
    int abi = sandbox_landlock_abi();
    if (abi < 0) cr_skip_test("no Landlock here (%s)", strerror(-abi));
}

static int can_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

static int restrict_to_dir(void)
{
    struct sandbox_conf c = {
        .read_dirs = {dir}, .nread_dirs = 1, .write_dirs = {logdir}, .nwrite_dirs = 1};
    char why[512];
    int abi = sandbox_landlock(&c, why, sizeof why);
    cr_assert_gt(abi, 0, "%d: %s", abi, why);
    return abi;
}

TestSuite(sandbox, .init = setup, .fini = teardown);

Test(sandbox, reads_only_beneath_the_allowed_directory)
{
    need_landlock();
    char in[128], made[128];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(made, sizeof made, "%s/made.txt", dir);
    cr_assert_eq(can_open("/etc/hostname", O_RDONLY), 0); /* before: readable */
    restrict_to_dir();
    cr_assert_eq(can_open(in, O_RDONLY), 0);
    cr_assert_eq(can_open(dir, O_RDONLY | O_DIRECTORY), 0);
    cr_assert_eq(can_open("/etc/hostname", O_RDONLY), -EACCES);
    cr_assert_eq(can_open("/etc", O_RDONLY | O_DIRECTORY), -EACCES);
    cr_assert_eq(can_open(in, O_WRONLY | O_APPEND), -EACCES); /* read, not write */
    cr_assert_eq(can_open(made, O_WRONLY | O_CREAT), -EACCES);
    int on = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    cr_assert_eq(on, 1);
}

Test(sandbox, writes_only_in_the_log_directory)
{
    need_landlock();
    char log[128], other[128];
    snprintf(log, sizeof log, "%s/access.log", logdir);
    snprintf(other, sizeof other, "/tmp/berth-sandbox-not-%d", (int)getpid());
    restrict_to_dir();
    cr_assert_eq(can_open(log, O_WRONLY | O_APPEND | O_CREAT), 0);
    cr_assert_eq(can_open(other, O_WRONLY | O_CREAT), -EACCES);
    cr_assert_eq(can_open(log, O_RDONLY), -EACCES); /* write, not read */
    cr_assert_eq(mkdir(other, 0755), -1);
    cr_assert_eq(errno, EACCES);
}

static void *opener(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)can_open("/etc/hostname", O_RDONLY);
}

Test(sandbox, threads_started_afterwards_are_restricted)
{
    need_landlock();
    restrict_to_dir();
    pthread_t t;
    void *rc;
    cr_assert_eq(pthread_create(&t, NULL, opener, NULL), 0);
    pthread_join(t, &rc);
    cr_assert_eq((int)(intptr_t)rc, -EACCES);
}

Test(sandbox, missing_paths_are_skipped)
{
    need_landlock();
    struct sandbox_conf c = {.read_dirs = {"/nonexistent/berth"}, .nread_dirs = 1};
    char why[512];
    cr_assert_gt(sandbox_landlock(&c, why, sizeof why), 0, "%s", why);
    cr_assert_eq(can_open("/etc/hostname", O_RDONLY), -EACCES);
}

Test(sandbox, unknown_user_is_an_error)
{
    char why[512];
    cr_assert_lt(sandbox_drop_user("no-such-user-berth", why, sizeof why), 0);
    cr_assert_not_null(strstr(why, "no user no-such-user-berth"), "%s", why);
    cr_assert_eq(getuid(), geteuid()); /* nothing changed */
}
