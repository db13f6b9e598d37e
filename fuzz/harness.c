/* The shared part of the libFuzzer targets that needs no server (see
 * harness.h; the server and the sockets are in harness_net.c, so that an
 * in-memory target links none of the server's code, whose coverage
 * counters libFuzzer would scan on every run). */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *who = "fuzz";
static size_t out_max = 64u << 20;

void fz_setup(const char *name, size_t max)
{
    who = name;
    if (max) out_max = max;
}

const char *fz_name(void)
{
    return who;
}

size_t fz_answer_max(void)
{
    return out_max;
}

_Noreturn void fz_die(const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s%s%s\n", who, what, detail ? ": " : "", detail ? detail : "");
    abort();
}

void fz_reserve(struct fz_bytes *b, size_t n)
{
    if (b->cap - b->n >= n) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->n < n)
        cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) fz_die("out of memory", NULL);
    b->p = q;
    b->cap = cap;
}

void fz_put(struct fz_bytes *b, const void *p, size_t n)
{
    if (!n) return;
    fz_reserve(b, n);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

long long fz_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -- temporary directories -- */

static char dirs[4][128];
static int ndirs;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* best effort: go on with the rest */
}

static void remove_dirs(void)
{
    for (int i = 0; i < ndirs; i++)
        nftw(dirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_tmpdir(const char *tag)
{
    if (ndirs == (int)(sizeof dirs / sizeof dirs[0])) fz_die("too many temp directories", tag);
    char *d = dirs[ndirs];
    /* tmpfs: the targets write files on every run */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(d, sizeof dirs[0], "%s/%s.XXXXXX", base, tag);
    if (!mkdtemp(d)) fz_die("mkdtemp", strerror(errno));
    if (ndirs++ == 0) atexit(remove_dirs);
    return d;
}

void fz_put_file(const char *dir, const char *name, const char *text, size_t reps)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) fz_die(p, strerror(errno));
    for (size_t i = 0; i < reps; i++)
        fputs(text, f);
    if (fclose(f) != 0) fz_die(p, strerror(errno));
}

const char *fz_docroot(const char *tag)
{
    const char *root = fz_tmpdir(tag);
    char d[160];
    snprintf(d, sizeof d, "%s/dir", root);
    if (mkdir(d, 0755) < 0) fz_die(d, strerror(errno));
    fz_put_file(root, "a.txt", "alpha\n", 10);
    fz_put_file(root, "index.html", "<!DOCTYPE html><title>i</title>\n", 1);
    fz_put_file(root, "dir/b.css", "b{}\n", 3);
    fz_put_file(root, "big.bin", "0123456789abcdef", 8192);
    return root;
}

int fz_parse_head(const uint8_t *data, size_t n, char **head, struct http_request *req,
                  struct http_header h[100])
{
    *head = malloc(n ? n : 1);
    if (!*head) fz_die("out of memory", NULL);
    memcpy(*head, data, n);
    struct http_parser st;
    struct http_limits lim = HTTP_LIMITS_DEFAULT;
    http_parser_init(&st);
    return http_parse_request(&st, *head, n, &lim, req, h);
}

/* -- HTTP/2 frames -- */

void fz_h2_frame(struct fz_bytes *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
                 size_t n)
{
    uint8_t h[9] = {
        (uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    fz_put(b, h, 9);
    fz_put(b, p, n);
}

/* "name:value\n..." into nv[], pointing into p */
static size_t fields(const uint8_t *p, size_t n, nghttp2_nv *nv, size_t cap)
{
    size_t k = 0, at = 0;
    while (at < n && k < cap) {
        const uint8_t *eol = memchr(p + at, '\n', n - at);
        size_t len = eol ? (size_t)(eol - (p + at)) : n - at;
        const uint8_t *line = p + at, *colon = len > 1 ? memchr(line + 1, ':', len - 1) : NULL;
        if (colon) {
            size_t nl = (size_t)(colon - line);
            nv[k++] = (nghttp2_nv){(uint8_t *)(uintptr_t)line, (uint8_t *)(uintptr_t)(colon + 1),
                                   nl, len - nl - 1, NGHTTP2_NV_FLAG_NO_COPY_NAME};
        }
        at += len + 1;
    }
    return k;
}

void fz_h2_records(const uint8_t *d, size_t n, struct fz_bytes *out)
{
    nghttp2_hd_deflater *dfl;
    if (nghttp2_hd_deflate_new(&dfl, 4096) != 0) fz_die("nghttp2_hd_deflate_new", NULL);
    fz_h2_frame(out, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
    static uint8_t block[8192];
    while (n >= 3) {
        uint8_t op = d[0];
        uint32_t sid = d[1];
        size_t len = d[2] < n - 3 ? d[2] : n - 3;
        const uint8_t *p = d + 3;
        d += 3 + len;
        n -= 3 + len;
        uint8_t end = op & 4 ? NGHTTP2_FLAG_END_STREAM : 0;
        if ((op & 3) == 0) {
            fz_put(out, p, len);
        } else if ((op & 3) == 1) {
            nghttp2_nv nv[32];
            size_t k = fields(p, len, nv, 32);
            ssize_t bl = nghttp2_hd_deflate_hd(dfl, block, sizeof block, nv, k);
            if (bl < 0) break;
            fz_h2_frame(out, NGHTTP2_HEADERS,
                        (uint8_t)(end | (op & 8 ? 0 : NGHTTP2_FLAG_END_HEADERS)), sid, block,
                        (size_t)bl);
        } else if ((op & 3) == 2) {
            fz_h2_frame(out, NGHTTP2_DATA, end, sid, p, len);
        } else {
            uint8_t code[4] = {0, 0, 0, NGHTTP2_CANCEL};
            fz_h2_frame(out, NGHTTP2_RST_STREAM, 0, sid, code, 4);
        }
    }
    nghttp2_hd_deflate_del(dfl);
}
