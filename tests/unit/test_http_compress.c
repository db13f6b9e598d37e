#include "http/compress.h"
#include "http/digest.h"

#include <brotli/decode.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* realistic text: HTML and JS lines that repeat with variations */
static char *text(size_t n, unsigned seed)
{
    char *b = malloc(n);
    size_t k = 0;
    for (unsigned i = 0; k < n; i++) {
        char line[160];
        unsigned r = (seed + i) * 2654435761u;
        int m = snprintf(line, sizeof line,
                         i % 2 ? "<li class=\"item-%u\"><a href=\"/p/%u\">entry %u</a></li>\n"
                               : "function f%u(a, b) { return a * %u + b.length - %u; }\n",
                         r % 97, r % 1000, r % 13);
        for (int j = 0; j < m && k < n; j++)
            b[k++] = line[j];
    }
    return b;
}

static void roundtrip(enum http_enc e, const char *in, size_t n, const char *out, size_t len)
{
    char *back = malloc(n + 1);
    size_t got = n + 1;
    if (e == HTTP_ENC_BR) {
        cr_assert_eq(BrotliDecoderDecompress(len, (const uint8_t *)out, &got, (uint8_t *)back),
                     BROTLI_DECODER_RESULT_SUCCESS);
    } else if (e == HTTP_ENC_ZSTD) {
        got = ZSTD_decompress(back, n + 1, out, len);
        cr_assert(!ZSTD_isError(got));
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only, no zlib wrapper */
        z.next_in = (Bytef *)(uintptr_t)out;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)back;
        z.avail_out = (uInt)(n + 1);
        cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
        got = z.total_out;
        inflateEnd(&z);
        cr_assert_eq((unsigned char)out[0], 0x1f); /* the gzip magic */
        cr_assert_eq((unsigned char)out[1], 0x8b);
    }
    cr_assert_eq(got, n);
    cr_assert(memcmp(back, in, n) == 0);
    free(back);
}

Test(compress, each_coding_roundtrips_and_shrinks)
{
    size_t n = 64 * 1024;
    char *in = text(n, 1), *out = malloc(n);
    for (int e = HTTP_ENC_BR; e < HTTP_ENC_N; e++) {
        long len = compress_bytes((enum http_enc)e, in, n, out, n - 1, 1);
        cr_assert_gt(len, 0, "coding %d", e);
        cr_expect_lt((size_t)len, n / 3, "coding %d: %ld", e, len);
        roundtrip((enum http_enc)e, in, n, out, (size_t)len);
    }
    cr_expect_eq(compress_bytes(HTTP_ENC_IDENTITY, in, n, out, n, 1), -EINVAL);
    free(in);
    free(out);
}

Test(compress, incompressible_does_not_fit)
{
    size_t n = 4096;
    unsigned char *in = malloc(n), *out = malloc(n);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        in[i] = (unsigned char)x;
    }
    for (int e = HTTP_ENC_BR; e < HTTP_ENC_N; e++)
        cr_expect_eq(compress_bytes((enum http_enc)e, in, n, out, n - 1, 0), -ENOSPC, "%d", e);
    free(in);
    free(out);
}

Test(compress, types)
{
    static const char *const yes[] = {"text/html; charset=utf-8",
                                      "text/css",
                                      "text/javascript",
                                      "application/json",
                                      "application/wasm",
                                      "image/svg+xml; charset=utf-8",
                                      "font/ttf",
                                      "font/otf",
                                      "application/ld+json",
                                      "application/atom+xml",
                                      "application/manifest+json; charset=utf-8"};
    static const char *const no[] = {"image/png",
                                     "image/jpeg",
                                     "font/woff2",
                                     "font/woff",
                                     "video/mp4",
                                     "application/zip",
                                     "application/gzip",
                                     "image/webp",
                                     "application/octet-stream",
                                     "text/",
                                     NULL};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_expect(compress_type_ok(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_expect(!compress_type_ok(no[i]), "%s", no[i] ? no[i] : "NULL");
}

static struct ckey key(uint64_t ino, int enc)
{
    struct ckey k = {1, ino, 1000, 5, 6, enc};
    return k;
}

Test(compress, cache_keeps_lru_within_budget)
{
    size_t n = 20000;
    char *in = text(n, 7);
    int err;
    struct ckey k1 = key(1, HTTP_ENC_GZIP), k2 = key(2, HTTP_ENC_GZIP), k3 = key(3, HTTP_ENC_GZIP);
    /* what one result costs, so the budget holds two and not three */
    struct ccache_stats st;
    struct ccache *probe = ccache_new(1 << 20);
    cr_assert(ccache_make(probe, &k1, in, n, 1, &err));
    ccache_stats(probe, &st);
    ccache_free(probe);
    uint64_t cost = st.bytes;
    size_t budget = (size_t)(cost * 2 + cost / 2);
    struct ccache *c = ccache_new(budget);
    cr_assert(c);
    const struct citem *a = ccache_make(c, &k1, in, n, 1, &err);
    cr_assert(a);
    cr_assert_eq(a->fd, -1);
    roundtrip(HTTP_ENC_GZIP, in, n, a->bytes, a->len);
    cr_assert(ccache_make(c, &k2, in, n, 1, &err));
    cr_assert(ccache_get(c, &k1)); /* k1 now the most recent: k2 goes first */
    cr_assert(ccache_make(c, &k3, in, n, 1, &err));
    ccache_stats(c, &st);
    cr_expect_leq(st.bytes, budget);
    cr_expect_eq(st.items, 2);
    cr_expect_eq(st.made, 3);
    cr_expect_eq(st.evictions, 1);
    cr_expect_eq(st.in, 3 * n);
    cr_expect_eq(st.out, 3 * a->len); /* the same input three times */
    cr_expect_eq(st.hits, 1);
    cr_expect(ccache_get(c, &k1) != NULL);
    cr_expect(ccache_get(c, &k3) != NULL);
    cr_expect(ccache_get(c, &k2) == NULL);
    /* the key is the version: another mtime or coding is another result */
    struct ckey other = k1;
    other.nsec++;
    cr_expect(ccache_get(c, &other) == NULL);
    other = k1;
    other.enc = HTTP_ENC_BR;
    cr_expect(ccache_get(c, &other) == NULL);
    ccache_free(c);
    free(in);
}

Test(compress, cache_refuses_what_cannot_help)
{
    struct ccache *c = ccache_new(1000);
    int err;
    size_t n = 20000;
    char *in = text(n, 3);
    struct ckey k = key(9, HTTP_ENC_BR);
    cr_expect(ccache_make(c, &k, in, n, 1, &err) == NULL);
    cr_expect_eq(err, -E2BIG); /* larger than the whole budget */
    char tiny[] = "abcdefgh";
    cr_expect(ccache_make(c, &k, tiny, 8, 1, &err) == NULL);
    cr_expect_eq(err, -ENOSPC); /* not smaller */
    ccache_free(c);
    free(in);
}

Test(compress, large_results_go_to_a_memfd)
{
    size_t n = 256 * 1024;
    char *in = malloc(n);
    uint64_t x = 1;
    for (size_t i = 0; i < n; i++) { /* half random, half text: about 140 KiB compressed */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        in[i] = i % 2 ? (char)('a' + x % 16) : ' ';
    }
    struct ccache *c = ccache_new(1 << 20);
    int err;
    struct ckey k = key(4, HTTP_ENC_ZSTD);
    const struct citem *it = ccache_make(c, &k, in, n, 1, &err);
    cr_assert(it, "err %d", err);
    cr_assert_gt(it->len, COMPRESS_SMALL);
    cr_assert_geq(it->fd, 0);
    struct stat st;
    cr_assert_eq(fstat(it->fd, &st), 0);
    cr_expect_eq((uint64_t)st.st_size, it->len);
    char *z = malloc(it->len);
    cr_assert_eq(pread(it->fd, z, it->len, 0), (ssize_t)it->len);
    roundtrip(HTTP_ENC_ZSTD, in, n, z, it->len);
    /* sealed: nobody can change what a transfer sends */
    cr_expect_lt(pwrite(it->fd, "x", 1, 0), 0);
    free(z);
    ccache_free(c);
    free(in);
}

Test(compress, memfds_are_bounded)
{
    size_t n = 96 * 1024;
    char *in = malloc(n);
    uint64_t x = 7;
    for (size_t i = 0; i < n; i++) { /* about 50 KiB gzipped: each result a memfd */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        in[i] = (char)('a' + x % 16);
    }
    struct ccache *c = ccache_new(64u << 20); /* bytes are no limit here: descriptors are */
    int err;
    for (int i = 0; i < CCACHE_MAX_FDS + 6; i++) {
        struct ckey k = key((uint64_t)(100 + i), HTTP_ENC_GZIP);
        const struct citem *it = ccache_make(c, &k, in, n, 1, &err);
        cr_assert(it, "err %d", err);
        cr_assert_geq(it->fd, 0);
    }
    struct ccache_stats st;
    ccache_stats(c, &st);
    cr_expect_eq(st.fds, CCACHE_MAX_FDS);
    cr_expect_eq(st.items, CCACHE_MAX_FDS);
    cr_expect_eq(st.evictions, 6);
    struct ckey oldest = key(100, HTTP_ENC_GZIP), newest = key(100 + CCACHE_MAX_FDS + 5, 3);
    newest.enc = HTTP_ENC_GZIP;
    cr_expect(ccache_get(c, &oldest) == NULL);
    cr_expect(ccache_get(c, &newest) != NULL);
    ccache_free(c);
    free(in);
}

/* a temporary file holding data, and its key for coding enc */
static int tmpfile_of(const char *data, size_t n, int enc, struct ckey *k)
{
    char name[] = "/tmp/berth-ccache-XXXXXX";
    int fd = mkstemp(name);
    cr_assert_geq(fd, 0);
    unlink(name);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    struct ckey key = {(uint64_t)st.st_dev,        (uint64_t)st.st_ino, (uint64_t)st.st_size,
                       (int64_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,  enc};
    *k = key;
    return fd;
}

static const struct citem *wait_filed(struct ccache *c, const struct ckey *k)
{
    for (int i = 0; i < 3000; i++) { /* up to 30 s on a loaded machine */
        const struct citem *it = ccache_get(c, k);
        if (it) return it;
        usleep(10000);
    }
    return NULL;
}

Test(compress, helper_thread_compresses_large_files)
{
    size_t n = 600 * 1024;
    char *in = text(n, 5);
    struct ckey k;
    int fd = tmpfile_of(in, n, HTTP_ENC_BR, &k);
    struct ccache *c = ccache_new(8 << 20);
    cr_assert_eq(ccache_submit(c, &k, fd, 1), 0);
    cr_assert_eq(ccache_submit(c, &k, fd, 1), 0); /* pending: not queued twice */
    close(fd);                                    /* the job holds its own descriptor */
    const struct citem *it = wait_filed(c, &k);
    cr_assert(it);
    cr_assert(!it->none);
    char *z = malloc(it->len);
    if (it->fd >= 0)
        cr_assert_eq(pread(it->fd, z, it->len, 0), (ssize_t)it->len);
    else
        memcpy(z, it->bytes, it->len);
    roundtrip(HTTP_ENC_BR, in, n, z, it->len);
    struct ccache_stats st;
    ccache_stats(c, &st);
    cr_expect_eq(st.made, 1); /* once, though asked twice */
    cr_expect_eq(st.items, 1);
    cr_expect_eq(st.submitted, 1);
    cr_expect_eq(st.jobs, 0);
    /* the result's digests were made with it, on the helper thread */
    uint8_t d[64];
    cr_assert_eq(it->hashed, 3u);
    cr_assert_eq(http_digest_mem(HTTP_DIGEST_SHA256, z, it->len, d), 0);
    cr_expect_eq(memcmp(d, it->sha256, 32), 0);
    cr_assert_eq(http_digest_mem(HTTP_DIGEST_SHA512, z, it->len, d), 0);
    cr_expect_eq(memcmp(d, it->sha512, 64), 0);
    free(z);
    ccache_free(c);
    free(in);
}

Test(compress, helper_drops_a_changed_file_and_files_none)
{
    size_t n = 100 * 1024;
    char *in = text(n, 9);
    struct ckey k;
    int fd = tmpfile_of(in, n, HTTP_ENC_GZIP, &k);
    struct ckey old = k;
    old.nsec ^= 1; /* the key names another version than the file is now */
    struct ccache *c = ccache_new(8 << 20);
    cr_assert_eq(ccache_submit(c, &old, fd, 1), 0);
    /* random bytes: filed as none */
    unsigned char *rnd = malloc(n);
    uint64_t x = 7;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rnd[i] = (unsigned char)x;
    }
    struct ckey kr;
    int fr = tmpfile_of((char *)rnd, n, HTTP_ENC_ZSTD, &kr);
    cr_assert_eq(ccache_submit(c, &kr, fr, 0), 0);
    const struct citem *it = wait_filed(c, &kr);
    cr_assert(it);
    cr_expect(it->none);
    /* the changed one was dropped, not filed under the old version */
    cr_expect(ccache_get(c, &old) == NULL);
    close(fd);
    close(fr);
    free(rnd);
    ccache_free(c);
    free(in);
}

Test(compress, free_with_jobs_pending)
{
    size_t n = 2 << 20;
    char *in = text(n, 2);
    struct ccache *c = ccache_new(8 << 20);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        struct ckey k;
        fds[i] = tmpfile_of(in, n, HTTP_ENC_BR, &k);
        cr_assert_eq(ccache_submit(c, &k, fds[i], 1), 0);
    }
    ccache_free(c); /* joins after the job in hand; frees the queue (ASan: no leak) */
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    free(in);
}

/* the coder's mark that coded ETags carry: short, of its alphabet, one per
 * coding, the same on every call (a restart makes the same tags) */
Test(compress, coder_marks)
{
    char m[3][8], again[8];
    enum http_enc enc[3] = {HTTP_ENC_BR, HTTP_ENC_ZSTD, HTTP_ENC_GZIP};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(compress_coder_mark(enc[i], m[i], sizeof m[i]), COMPRESS_MARK_LEN);
        cr_expect_eq(strspn(m[i], "0123456789abcdefghijklmnopqrstuv"), COMPRESS_MARK_LEN);
        cr_expect_eq(compress_coder_mark(enc[i], again, sizeof again), COMPRESS_MARK_LEN);
        cr_expect_str_eq(again, m[i]);
    }
    cr_expect_str_neq(m[0], m[1]);
    cr_expect_str_neq(m[1], m[2]);
    cr_expect_str_neq(m[0], m[2]);
    cr_expect_eq(compress_coder_mark(HTTP_ENC_IDENTITY, again, sizeof again), 0);
    cr_expect_eq(compress_coder_mark(HTTP_ENC_BR, again, COMPRESS_MARK_LEN), 0, "no room for NUL");
}
