/* tar — a directory tree as one pax/ustar stream, from the POSIX pax
 * utility's description of the ustar and pax interchange formats. */
#include "http/tar.h"

#include "http/beneath.h"
#include "http/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK     512
#define USTAR_MAX 077777777777ULL  /* 11 octal digits: sizes and times up to 8 GiB - 1 */
#define MAX_NAME  (PATH_MAX + 300) /* top "/" path below it */
/* headers appended in one tar_next before the caller sends them */
#define BATCH (64 * 1024)

struct tent {
    size_t off; /* of the path below the directory in names (NUL-terminated) */
    uint64_t size;
    struct timespec mtime;
    dev_t dev;
    ino_t ino;
    uint8_t dir, exec;
};

struct tar {
    int rootfd, placeholder; /* placeholder: an empty pipe for header-only pieces */
    int show_hidden;
    size_t max_entries; /* TAR_MAX_ENTRIES or fewer (tar_open) */
    char *url, *top;
    struct buf ents, names;
    size_t n, next;
    uint64_t total, handed;
    size_t pad; /* zeros owed after the file region just handed out */
    int done;
};

static uint64_t round_up(uint64_t v)
{
    return (v + BLOCK - 1) / BLOCK * BLOCK;
}

/* ---- headers ---- */

/* v in octal, zero-padded to width - 1 digits and a NUL */
static void octal(char *dst, size_t width, uint64_t v)
{
    dst[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        dst[i] = (char)('0' + (v & 7));
}

static void ustar(char *h, const char *name, size_t nlen, char type, uint64_t size, int64_t mtime,
                  unsigned mode)
{
    memset(h, 0, BLOCK);
    memcpy(h, name, nlen < 100 ? nlen : 100);
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0); /* uid */
    octal(h + 116, 8, 0); /* gid */
    octal(h + 124, 12, size <= USTAR_MAX ? size : 0);
    octal(h + 136, 12, mtime >= 0 && (uint64_t)mtime <= USTAR_MAX ? (uint64_t)mtime : 0);
    h[156] = type;
    memcpy(h + 257, "ustar", 6); /* magic with its NUL, then version "00" */
    memcpy(h + 263, "00", 2);
    octal(h + 329, 8, 0); /* devmajor */
    octal(h + 337, 8, 0); /* devminor */
    /* the checksum: every byte summed with the field itself as spaces */
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    octal(h + 148, 7, sum); /* six digits and a NUL; the eighth byte stays a space */
}

/* One pax record "LEN key=value\n", LEN counting the whole record with its
 * own digits; written at dst unless NULL.  Its length. */
static size_t record(char *dst, const char *key, const char *val, size_t vlen)
{
    size_t body = 1 + strlen(key) + 1 + vlen + 1, len = body + 1, digits;
    for (;;) {
        digits = (size_t)snprintf(NULL, 0, "%zu", len);
        if (body + digits == len) break;
        len = body + digits;
    }
    if (dst) {
        int k = snprintf(dst, digits + 1, "%zu", len);
        size_t o = (size_t)k;
        dst[o++] = ' ';
        memcpy(dst + o, key, strlen(key));
        o += strlen(key);
        dst[o++] = '=';
        memcpy(dst + o, val, vlen);
        o += vlen;
        dst[o] = '\n';
    }
    return len;
}

/* well-formed UTF-8 (pax wants it, or hdrcharset=BINARY) */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (!len || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        if (len == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f)))
            return 0;
        if (len == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f)))
            return 0;
        i += len;
    }
    return 1;
}

size_t tar_header(char *dst, const char *name, size_t nlen, int dir, uint64_t size, int64_t mtime,
                  int exec)
{
    /* a name beyond 100 bytes, or beyond ASCII (ustar's names are the
     * portable character set) but UTF-8, goes in a pax path record; a
     * short one that is not UTF-8 stays raw in ustar, which every reader
     * takes as bytes (GNU tar warns at hdrcharset=BINARY) */
    int long_name = nlen > 100, big = size > USTAR_MAX;
    for (size_t i = 0; i < nlen && !long_name; i++)
        long_name = (unsigned char)name[i] >= 0x80;
    if (long_name && nlen <= 100 && !utf8_ok((const unsigned char *)name, nlen)) long_name = 0;
    int odd_time = mtime < 0 || (uint64_t)mtime > USTAR_MAX;
    unsigned mode = dir || exec ? 0755 : 0644;
    char num[32];
    size_t pax = 0;
    if (long_name || big || odd_time) {
        char *p = dst ? dst + BLOCK : NULL;
        size_t k;
        if (long_name && !utf8_ok((const unsigned char *)name, nlen)) {
            k = record(p, "hdrcharset", "BINARY", 6);
            pax += k;
            p = p ? p + k : NULL;
        }
        if (long_name) {
            k = record(p, "path", name, nlen);
            pax += k;
            p = p ? p + k : NULL;
        }
        if (big) {
            int l = snprintf(num, sizeof num, "%llu", (unsigned long long)size);
            k = record(p, "size", num, (size_t)l);
            pax += k;
            p = p ? p + k : NULL;
        }
        if (odd_time) {
            int l = snprintf(num, sizeof num, "%lld", (long long)mtime);
            k = record(p, "mtime", num, (size_t)l);
            pax += k;
        }
        if (dst) {
            ustar(dst, "././@PaxHeader", 14, 'x', pax, mtime, 0644);
            memset(dst + BLOCK + pax, 0, round_up(pax) - pax);
        }
    }
    size_t at = pax ? BLOCK + round_up(pax) : 0;
    if (dst) ustar(dst + at, name, nlen, dir ? '5' : '0', dir ? 0 : size, mtime, mode);
    return at + BLOCK;
}

/* ---- the walk ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct walk {
    struct tar *t;
    struct {
        dev_t dev;
        ino_t ino;
    } up[TAR_MAX_DEPTH + 2]; /* the directories being walked: a symlink loop is skipped */
    char rel[PATH_MAX];      /* the path below the tarred directory */
    char url[PATH_MAX];
};

static int add(struct tar *t, const char *rel, size_t rl, const struct stat *st, int dir)
{
    if (t->n >= t->max_entries) return -E2BIG;
    struct tent e = {.off = buf_len(&t->names),
                     .size = dir ? 0 : (uint64_t)st->st_size,
                     .mtime = st->st_mtim,
                     .dev = st->st_dev,
                     .ino = st->st_ino,
                     .dir = (uint8_t)dir,
                     .exec = (st->st_mode & 0111) != 0};
    int rc = buf_append(&t->names, rel, rl + 1);
    if (rc == 0) rc = buf_append(&t->ents, &e, sizeof e);
    if (rc < 0) return rc;
    t->n++;
    return 0;
}

static int walk(struct walk *w, int depth);

static int walk_dir(struct walk *w, int dirfd, int depth)
{
    struct tar *t = w->t;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0) close(fd);
        return -e;
    }
    struct buf names, ptrs;
    buf_init(&names, 0);
    buf_init(&ptrs, 0);
    int rc = 0;
    size_t count = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            rc = errno ? -errno : 0;
            break;
        }
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!t->show_hidden || !nm[1] || (nm[1] == '.' && !nm[2]))) continue;
        if (++count > t->max_entries) {
            rc = -E2BIG;
            break;
        }
        size_t off = buf_len(&names);
        if ((rc = buf_append(&names, nm, strlen(nm) + 1)) < 0 ||
            (rc = buf_append(&ptrs, &off, sizeof off)) < 0)
            break;
    }
    /* offsets become pointers once the names buffer stops moving */
    char **list = (char **)(void *)ptrs.data;
    for (size_t i = 0; rc == 0 && i < count; i++)
        list[i] = names.data + ((size_t *)(void *)ptrs.data)[i];
    if (rc == 0 && count > 1) qsort(list, count, sizeof *list, name_cmp);
    size_t rl0 = strlen(w->rel), ul0 = strlen(w->url);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        struct stat st;
        const char *nm = list[i];
        if (!http_listing_servable(t->rootfd, fd, w->url, nm, &st)) continue;
        int dir = S_ISDIR(st.st_mode);
        size_t nl = strlen(nm);
        if (rl0 + nl + 2 >= sizeof w->rel || ul0 + nl + 2 >= sizeof w->url) {
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(w->rel + rl0, nm, nl + 1);
        memcpy(w->url + ul0, nm, nl + 1);
        if (dir) {
            int loop = 0; /* a symlink back up the tree */
            for (int k = 0; k <= depth; k++)
                loop |= w->up[k].dev == st.st_dev && w->up[k].ino == st.st_ino;
            if (loop) continue;
            if (depth + 1 > TAR_MAX_DEPTH) {
                rc = -E2BIG;
                break;
            }
        }
        rc = add(t, w->rel, rl0 + nl, &st, dir);
        if (rc == 0 && dir) {
            w->rel[rl0 + nl] = '/';
            w->rel[rl0 + nl + 1] = '\0';
            w->url[ul0 + nl] = '/';
            w->url[ul0 + nl + 1] = '\0';
            w->up[depth + 1].dev = st.st_dev;
            w->up[depth + 1].ino = st.st_ino;
            rc = walk(w, depth + 1);
        }
        w->rel[rl0] = '\0';
        w->url[ul0] = '\0';
    }
    closedir(d);
    buf_free(&names);
    buf_free(&ptrs);
    return rc;
}

/* the directory at w->url, opened beneath the root as a request for it would be */
static int walk(struct walk *w, int depth)
{
    int fd = beneath_open(w->t->rootfd, w->url);
    if (fd < 0) return fd;
    int rc = walk_dir(w, fd, depth);
    close(fd);
    return rc;
}

static size_t entry_name(const struct tar *t, const struct tent *e, char *name)
{
    const char *rel = t->names.data + e->off;
    /* the directory itself is "top/" */
    return (size_t)snprintf(name, MAX_NAME, "%s/%s%s", t->top, rel, e->dir && *rel ? "/" : "");
}

int tar_open(struct tar **out, int rootfd, const char *urlpath, const char *top, int show_hidden,
             size_t max_entries, uint64_t *total)
{
    struct tar *t = calloc(1, sizeof *t);
    struct walk *w = malloc(sizeof *w);
    int rc = t && w ? 0 : -ENOMEM;
    if (t) {
        t->max_entries = max_entries < TAR_MAX_ENTRIES ? max_entries : TAR_MAX_ENTRIES;
        t->rootfd = t->placeholder = -1;
        buf_init(&t->ents, 0);
        buf_init(&t->names, 0);
    }
    if (rc == 0 && (strlen(urlpath) >= sizeof w->url || strlen(top) > 255)) rc = -ENAMETOOLONG;
    if (rc == 0 && (!(t->url = strdup(urlpath)) || !(t->top = strdup(top)))) rc = -ENOMEM;
    if (rc == 0 && (t->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0) rc = -errno;
    /* the placeholder: a pipe's read end, never written, so its size (0)
     * and times never change (any seccomp profile allows pipe2) */
    int pfd[2];
    if (rc == 0 && pipe2(pfd, O_CLOEXEC) < 0) rc = -errno;
    if (rc == 0) {
        t->placeholder = pfd[0];
        close(pfd[1]);
    }
    struct stat st;
    if (rc == 0) {
        t->show_hidden = show_hidden;
        w->t = t;
        w->rel[0] = '\0';
        strcpy(w->url, urlpath);
        int fd = beneath_open(rootfd, urlpath);
        if (fd < 0 || fstat(fd, &st) < 0) rc = fd < 0 ? fd : -errno;
        if (fd >= 0) close(fd);
    }
    uint64_t sum = 0;
    if (rc == 0) {
        /* the directory itself comes first, as "top/" */
        w->up[0].dev = st.st_dev;
        w->up[0].ino = st.st_ino;
        rc = add(t, "", 0, &st, 1);
        if (rc == 0) rc = walk(w, 0);
    }
    free(w);
    if (rc < 0) {
        tar_free(t);
        return rc;
    }
    /* the length: every entry's headers and padded bytes, two zero blocks */
    char name[MAX_NAME];
    const struct tent *e = (const struct tent *)(void *)t->ents.data;
    for (size_t i = 0; i < t->n; i++) {
        size_t nl = entry_name(t, &e[i], name);
        sum += tar_header(NULL, name, nl, e[i].dir, e[i].size, (int64_t)e[i].mtime.tv_sec, 0) +
               round_up(e[i].size);
    }
    t->total = *total = sum + 2 * BLOCK;
    *out = t;
    return 0;
}

int tar_next(struct tar *t, struct buf *out, int *fd, uint64_t *size, struct timespec *mtime)
{
    static const char zeros[2 * BLOCK];
    size_t start = buf_len(out);
    int rc = 0;
    if (t->pad) {
        if ((rc = buf_append(out, zeros, t->pad)) < 0) return rc;
        t->handed += t->pad;
        t->pad = 0;
    }
    const struct tent *ents = (const struct tent *)(void *)t->ents.data;
    char name[MAX_NAME], url[PATH_MAX + 8];
    while (t->next < t->n) {
        const struct tent *e = &ents[t->next];
        size_t nl = entry_name(t, e, name);
        size_t hl = tar_header(NULL, name, nl, e->dir, e->size, (int64_t)e->mtime.tv_sec, e->exec);
        if ((rc = buf_reserve(out, hl)) < 0) return rc;
        tar_header(buf_tail(out), name, nl, e->dir, e->size, (int64_t)e->mtime.tv_sec, e->exec);
        buf_commit(out, hl);
        t->handed += hl;
        t->next++;
        if (!e->dir && e->size) {
            snprintf(url, sizeof url, "%s%s", t->url, t->names.data + e->off);
            int f = beneath_open(t->rootfd, url);
            struct stat st;
            if (f < 0) return f;
            if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != e->dev ||
                st.st_ino != e->ino || (uint64_t)st.st_size != e->size ||
                st.st_mtim.tv_sec != e->mtime.tv_sec || st.st_mtim.tv_nsec != e->mtime.tv_nsec) {
                close(f);
                return -ESTALE; /* not the file the length was computed from */
            }
            *fd = f;
            *size = e->size;
            *mtime = e->mtime;
            t->handed += e->size;
            t->pad = (size_t)(round_up(e->size) - e->size);
            return 1;
        }
        if (buf_len(out) - start >= BATCH) break; /* send these first */
    }
    if (t->next == t->n && !t->done) {
        if ((rc = buf_append(out, zeros, 2 * BLOCK)) < 0) return rc;
        t->handed += 2 * BLOCK;
        t->done = 1;
        return 0;
    }
    if (t->done) return 0;
    /* headers only this time: an empty region of a descriptor that never changes */
    struct stat st;
    int f = fcntl(t->placeholder, F_DUPFD_CLOEXEC, 0);
    if (f < 0) return -errno;
    if (fstat(f, &st) < 0) {
        close(f);
        return -errno;
    }
    *fd = f;
    *size = 0;
    *mtime = st.st_mtim;
    return 1;
}

uint64_t tar_left(const struct tar *t)
{
    return t->total - t->handed;
}

void tar_free(struct tar *t)
{
    if (!t) return;
    if (t->rootfd >= 0) close(t->rootfd);
    if (t->placeholder >= 0) close(t->placeholder);
    buf_free(&t->ents);
    buf_free(&t->names);
    free(t->url);
    free(t->top);
    free(t);
}
