/* The file cache's budget and eviction order (CLOCK), its growing table,
 * and the content entity tag, over real files in a temporary directory. */
#include "http/digest.h"
#include "http/fcache.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static int rootfd = -1;

static void make_files(int n, size_t size)
{
    char *b = malloc(size);
    memset(b, 'x', size);
    for (int i = 0; i < n; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/f%05d.txt", dir, i);
        FILE *f = fopen(p, "wb");
        cr_assert(f);
        fwrite(b, 1, size, f);
        fclose(f);
    }
    free(b);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/berth-fcache-XXXXXX");
    cr_assert(mkdtemp(dir));
    rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert(rootfd >= 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    close(rootfd);
}

static struct static_conf conf(size_t budget)
{
    struct static_conf sc = {.rootfd = rootfd,
                             .index = "index.html",
                             .mime_default = "application/octet-stream",
                             .boundary = "b",
                             .cache_size = budget};
    return sc;
}

/* looks path up: 1 when it was a hit, 0 a miss */
static int look(const struct static_conf *sc, struct fcache *c, int i)
{
    char p[32];
    snprintf(p, sizeof p, "/f%05d.txt", i);
    uint64_t h0, m0, h1, m1;
    fcache_stats(c, &h0, &m0);
    int status = 0, dirfd = -1;
    struct fentry *e = fcache_lookup(sc, c, p, &status, &dirfd);
    cr_assert(e, "%s: status %d", p, status);
    if (status == -1) fcache_entry_release(e);
    fcache_stats(c, &h1, &m1);
    return h1 > h0;
}

static uint64_t entry_cost(void)
{
    struct static_conf sc = conf(0);
    struct fcache *c = fcache_new(&sc);
    cr_assert(c);
    look(&sc, c, 0);
    struct fcache_usage u;
    fcache_usage(c, &u);
    fcache_free(c);
    cr_assert_eq(u.entries, 1);
    return u.bytes;
}

TestSuite(fcache, .init = setup, .fini = teardown);

Test(fcache, clock_evicts_the_first_entry_not_used_since)
{
    make_files(6, 100);
    uint64_t cost = entry_cost();
    struct static_conf sc = conf(4 * cost + cost / 2); /* room for four */
    struct fcache *c = fcache_new(&sc);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(look(&sc, c, i), 0);
    cr_expect_eq(look(&sc, c, 0), 1); /* used again: spared by the hand */
    cr_expect_eq(look(&sc, c, 1), 1);
    cr_expect_eq(look(&sc, c, 4), 0); /* needs room: 2 goes, the first not used */
    struct fcache_usage u;
    fcache_usage(c, &u);
    cr_expect_eq(u.entries, 4);
    cr_expect_eq(u.evictions, 1);
    cr_expect_leq(u.bytes, 4 * cost + cost / 2);
    cr_expect_eq(look(&sc, c, 0), 1);
    cr_expect_eq(look(&sc, c, 1), 1);
    cr_expect_eq(look(&sc, c, 3), 1);
    cr_expect_eq(look(&sc, c, 4), 1);
    cr_expect_eq(look(&sc, c, 2), 0); /* it was the one evicted */
    fcache_free(c);
}

Test(fcache, budget_holds_whatever_is_asked)
{
    make_files(200, 3000);
    uint64_t cost = entry_cost();
    struct static_conf sc = conf(10 * cost);
    struct fcache *c = fcache_new(&sc);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 200; i++) {
            look(&sc, c, (i * 37) % 200);
            struct fcache_usage u;
            fcache_usage(c, &u);
            cr_assert_leq(u.bytes, 10 * cost);
            cr_assert_leq(u.entries, 10);
        }
    struct fcache_usage u;
    fcache_usage(c, &u);
    cr_expect_geq(u.evictions, 590);
    fcache_free(c);
}

Test(fcache, a_file_larger_than_the_budget_is_served_uncached)
{
    make_files(1, 20000);
    struct static_conf sc = conf(8192);
    struct fcache *c = fcache_new(&sc);
    int status = 0, dirfd = -1;
    struct fentry *e = fcache_lookup(&sc, c, "/f00000.txt", &status, &dirfd);
    cr_assert(e);
    cr_expect_eq(status, -1);
    cr_expect_eq(e->size, 20000);
    cr_expect(e->body != NULL);
    fcache_entry_release(e); /* its bytes too (ASan says if not) */
    struct fcache_usage u;
    fcache_usage(c, &u);
    cr_expect_eq(u.entries, 0);
    cr_expect_eq(u.bytes, 0);
    fcache_free(c);
}

Test(fcache, table_grows_and_every_entry_stays_found)
{
    make_files(5000, 10);
    struct static_conf sc = conf(0);
    struct fcache *c = fcache_new(&sc);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(look(&sc, c, i), 0);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(look(&sc, c, i), 1, "f%05d", i);
    struct fcache_usage u;
    fcache_usage(c, &u);
    cr_expect_eq(u.entries, 5000);
    cr_expect_eq(u.evictions, 0);
    fcache_free(c);
}

Test(fcache, small_files_get_the_content_tag_at_once)
{
    make_files(1, 100);
    struct static_conf sc = conf(0);
    struct fcache *c = fcache_new(&sc);
    int status = 0, dirfd = -1;
    struct fentry *e = fcache_lookup(&sc, c, "/f00000.txt", &status, &dirfd);
    cr_assert(e);
    char b[100], want[32];
    uint8_t d[32];
    memset(b, 'x', sizeof b);
    http_digest_mem(HTTP_DIGEST_SHA256, b, sizeof b, d);
    cr_assert_eq(fcache_content_etag(d, want, sizeof want), 24);
    cr_expect_eq(e->etag_len, 24);
    cr_expect_str_eq(e->etag, want);
    cr_expect(strstr(e->hdr, want) != NULL); /* the prebuilt fields carry it */
    cr_expect_eq(fcache_content_etag(d, want, 24), 0);
    fcache_free(c);
}

Test(fcache, sidecar_descriptors_are_bounded, .init = setup, .fini = teardown)
{
    struct static_conf sc = conf(1 << 20);
    struct fcache *c = fcache_new(&sc);
    cr_assert(c);
    for (int i = 0; i < FCACHE_SIDE_FDS; i++)
        cr_assert_eq(fcache_side_fd_take(c), 1);
    cr_expect_eq(fcache_side_fd_take(c), 0); /* the bound: opened for each answer then */
    struct fcache_usage u;
    fcache_usage(c, &u);
    cr_expect_eq(u.side_fds, FCACHE_SIDE_FDS);
    fcache_side_fd_give(c);
    cr_expect_eq(fcache_side_fd_take(c), 1);
    for (int i = 0; i < FCACHE_SIDE_FDS; i++)
        fcache_side_fd_give(c);
    fcache_usage(c, &u);
    cr_expect_eq(u.side_fds, 0);
    fcache_free(c);
}
