#include "http/beneath.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];
static int rootfd = -1;

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    cr_assert_eq(symlink(target, p), 0);
}

/* top/secret.txt beside top/www (the root) and top/www2 (a name that only
 * begins like the root), with symlinks in and out */
static void setup(void)
{
    strcpy(top, "/tmp/berth-beneath-XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    char p[256];
    snprintf(p, sizeof p, "%s/www", top);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/www/sub", top);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/www2", top);
    cr_assert_eq(mkdir(p, 0755), 0);
    put("secret.txt", "SECRET");
    put("www2/x.txt", "beside");
    put("www/a.txt", "inside");
    put("www/sub/b.txt", "deeper");
    link_at("../secret.txt", "www/rel-escape.txt");
    snprintf(p, sizeof p, "%s/secret.txt", top);
    link_at(p, "www/abs-escape.txt");
    link_at("../../www2/x.txt", "www/sub/sibling.txt");
    link_at("a.txt", "www/in.txt");
    link_at("../a.txt", "www/sub/up.txt");
    snprintf(p, sizeof p, "%s/www", top);
    rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(rootfd, 0);
}

static void teardown(void)
{
    close(rootfd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(beneath, .init = setup, .fini = teardown);

static void expect_file(int (*open_fn)(int, const char *), const char *path, const char *text)
{
    int fd = open_fn(rootfd, path);
    cr_assert_geq(fd, 0, "%s: %d", path, fd);
    char b[64] = "";
    ssize_t n = read(fd, b, sizeof b - 1);
    cr_assert_geq(n, 0);
    b[n] = '\0';
    cr_assert_str_eq(b, text, "%s", path);
    close(fd);
}

static void expect_refused(int (*open_fn)(int, const char *), const char *path)
{
    int fd = open_fn(rootfd, path);
    if (fd >= 0) close(fd);
    cr_assert(fd == -EXDEV || fd == -ENOENT || fd == -ELOOP, "%s: %d", path, fd);
}

static void same_verdicts(int (*open_fn)(int, const char *))
{
    expect_file(open_fn, "/a.txt", "inside");
    expect_file(open_fn, "/sub/b.txt", "deeper");
    expect_file(open_fn, "/in.txt", "inside");
    expect_file(open_fn, "/sub/up.txt", "inside");
    expect_refused(open_fn, "/rel-escape.txt");
    expect_refused(open_fn, "/abs-escape.txt");
    expect_refused(open_fn, "/sub/sibling.txt"); /* "www2" only begins like "www" */
    expect_refused(open_fn, "/../secret.txt");
    cr_assert_eq(open_fn(rootfd, "/missing"), -ENOENT);
    int d = open_fn(rootfd, "/");
    cr_assert_geq(d, 0);
    struct stat st;
    cr_assert_eq(fstat(d, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    close(d);
}

Test(beneath, openat2_or_fallback)
{
    same_verdicts(beneath_open);
}

/* what a seccomp profile answering EPERM to openat2 leaves: the fallback
 * must refuse the same escapes (the integration test runs the real server
 * under such a filter) */
Test(beneath, fallback_alone_refuses_the_same_escapes)
{
    same_verdicts(beneath_open_checked);
}
