#include "http/fswatch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];
static int topfd = -1;
static struct fswatch *w;

/* what the callback saw, one "key|name|mask" line per report */
static char seen[8192];

static void record(void *arg, const char *key, const char *name, uint32_t mask)
{
    (void)arg;
    size_t n = strlen(seen);
    snprintf(seen + n, sizeof seen - n, "%s|%s|%s%s%s%s%s%s\n", key ? key : "(null)",
             name ? name : "(null)", mask & IN_CREATE ? "C" : "", mask & IN_MODIFY ? "M" : "",
             mask & IN_DELETE ? "D" : "", mask & (IN_MOVED_FROM | IN_MOVED_TO) ? "R" : "",
             mask & IN_DELETE_SELF ? "S" : "", mask & IN_IGNORED ? "I" : "");
}

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", top, rel);
}

static void write_file(const char *rel, const char *text)
{
    char p[256];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int drain(void)
{
    seen[0] = '\0';
    return fswatch_read(w, record, NULL);
}

static void setup(void)
{
    strcpy(top, "/tmp/berth-fswatch-XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    char p[256];
    path_of(p, sizeof p, "sub");
    cr_assert_eq(mkdir(p, 0755), 0);
    path_of(p, sizeof p, "link");
    cr_assert_eq(symlink("sub", p), 0);
    topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(topfd, 0);
    w = fswatch_new();
    cr_assert_not_null(w);
    if (fswatch_fd(w) < 0) cr_skip_test("inotify is unavailable here");
}

static void teardown(void)
{
    fswatch_free(w);
    close(topfd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(fswatch, .init = setup, .fini = teardown);

Test(fswatch, add_dirs_watches_every_directory_along_the_path)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/f.txt"), 0);
    cr_assert(fswatch_has(w, "/"));
    cr_assert(fswatch_has(w, "/sub/"));
    cr_assert_not(fswatch_has(w, "/sub/f.txt"));
    cr_assert_not(fswatch_has(w, "/sub/f.txt/"));
    /* a key already watched costs nothing and says so */
    char p[256];
    path_of(p, sizeof p, "sub");
    cr_assert_eq(fswatch_add(w, p, "/sub/", FSWATCH_ALL), 1);
    /* a directory path ends in its own key */
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/"), 0);
}

Test(fswatch, add_dirs_reports_a_missing_directory)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/nope/f.txt"), -ENOENT);
    cr_assert(fswatch_has(w, "/"));
    cr_assert_not(fswatch_has(w, "/nope/"));
}

Test(fswatch, changes_are_reported_under_their_key_and_name)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/f.txt"), 0);
    cr_assert_eq(drain(), 0);
    write_file("sub/f.txt", "one");
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/sub/|f.txt|C"), "%s", seen);
    cr_assert_not_null(strstr(seen, "/sub/|f.txt|M"), "%s", seen);
    cr_assert(strncmp(seen, "/|", 2) && !strstr(seen, "\n/|"), "the top saw nothing: %s", seen);

    char from[256], to[256];
    path_of(from, sizeof from, "sub/f.txt");
    path_of(to, sizeof to, "sub/g.txt");
    cr_assert_eq(rename(from, to), 0);
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/sub/|f.txt|R"), "%s", seen);
    cr_assert_not_null(strstr(seen, "/sub/|g.txt|R"), "%s", seen);
    cr_assert_eq(unlink(to), 0);
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/sub/|g.txt|D"), "%s", seen);
    cr_assert_null(strstr(seen, "/sub/||"), "names come and go: no event of the directory itself");
    cr_assert_eq(drain(), 0, "nothing more: %s", seen);
}

Test(fswatch, one_directory_under_two_keys_reports_to_both)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/x"), 0);
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/link/x"), 0); /* the symlink: same directory */
    write_file("sub/x", "x");
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/sub/|x|C"), "%s", seen);
    cr_assert_not_null(strstr(seen, "/link/|x|C"), "%s", seen);
}

Test(fswatch, a_removed_directory_is_reported_and_forgotten)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/x"), 0);
    char p[256];
    path_of(p, sizeof p, "sub");
    cr_assert_eq(rmdir(p), 0);
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/|sub|D"), "%s", seen);
    cr_assert_not_null(strstr(seen, "/sub/||S"), "%s", seen);
    cr_assert_not_null(strstr(seen, "/sub/||I"), "%s", seen);
    cr_assert_not(fswatch_has(w, "/sub/"));
    cr_assert(fswatch_has(w, "/"));
}

Test(fswatch, clear_forgets_every_watch)
{
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/x"), 0);
    fswatch_clear(w);
    cr_assert_not(fswatch_has(w, "/"));
    cr_assert_not(fswatch_has(w, "/sub/"));
    write_file("sub/x", "x");
    cr_assert_geq(drain(), 0);
    cr_assert_str_empty(seen, "the old watches' events are not reported: %s", seen);
    /* and it can watch again */
    cr_assert_eq(fswatch_add_dirs(w, topfd, "/sub/x"), 0);
    write_file("sub/x", "y");
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "/sub/|x|M"), "%s", seen);
}

Test(fswatch, names_only_skips_writes)
{
    char p[256];
    path_of(p, sizeof p, "sub");
    cr_assert_eq(fswatch_add(w, p, "names", FSWATCH_NAMES), 0);
    write_file("sub/n.txt", "one");
    cr_assert_gt(drain(), 0);
    cr_assert_not_null(strstr(seen, "names|n.txt|C\n"), "%s", seen);
    cr_assert_null(strstr(seen, "|M"), "%s", seen);
    write_file("sub/n.txt", "two"); /* the same name rewritten: nothing */
    cr_assert_eq(drain(), 0, "%s", seen);
}
