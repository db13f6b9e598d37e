#include "http/listing.h"

#include "err.h"
#include "http/beneath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int puts_(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int http_html_escape(struct buf *b, const char *s, size_t n)
{
    size_t run = 0; /* bytes at s[i - run .. i) waiting to be copied as they are */
    for (size_t i = 0; i < n; i++) {
        const char *ref;
        switch (s[i]) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        default:
            run++;
            continue;
        }
        int rc = buf_append(b, s + i - run, run);
        if (rc == 0) rc = puts_(b, ref);
        if (rc < 0) return rc;
        run = 0;
    }
    return buf_append(b, s + n - run, run);
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

int http_url_encode(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0) return 0;
    if (n > SIZE_MAX / 3) return BERTH_ETOOBIG;
    int rc = buf_reserve(b, 3 * n); /* the worst case, so the loop cannot fail */
    if (rc < 0) return rc;
    char *o = buf_tail(b), *start = o;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    buf_commit(b, (size_t)(o - start));
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0) lo = 0xa0;
        if (s[0] == 0xed) hi = 0x9f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0) lo = 0x90;
        if (s[0] == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* A name for display in a UTF-8 page: HTML-escaped, control characters
 * (which HTML cannot carry) shown as U+FFFD, and each byte that is not part
 * of valid UTF-8 (a Latin-1 name, say) shown as the text \xHH, so the page
 * stays valid UTF-8 and the name stays recognisable. */
static int display_name(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t j = i, k;
        while (j < n && u[j] >= 0x20 && u[j] != 0x7f && (k = utf8_len(u + j, n - j)) > 0)
            j += k;
        int rc = http_html_escape(b, s + i, j - i);
        if (rc == 0 && j < n) {
            if (u[j] < 0x20 || u[j] == 0x7f) {
                rc = puts_(b, "&#xFFFD;");
            } else {
                char esc[5] = {'\\', 'x', hex[u[j] >> 4], hex[u[j] & 15], '\0'};
                rc = puts_(b, esc);
            }
        }
        if (rc < 0) return rc;
        i = j + (j < n);
    }
    return 0;
}

struct entry {
    size_t off; /* of the name in the names buffer */
    const char *name;
    uint64_t size;
    time_t mtime;
    int dir;
};

/* names as python's http.server orders them (by name.lower()): ASCII letters
 * folded, so "a.txt", "B.txt", "c.txt" rather than every capital first; the
 * bytes break ties so the order stays total.  No locale: the same order on
 * every machine. */
static int name_cmp(const char *x, const char *y)
{
    const unsigned char *p = (const unsigned char *)x, *q = (const unsigned char *)y;
    for (;; p++, q++) {
        int a = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
        int b = *q >= 'A' && *q <= 'Z' ? *q + 32 : *q;
        if (a != b) return a - b;
        if (!*p) break;
    }
    return strcmp(x, y);
}

static int entry_cmp(const void *a, const void *b, void *arg)
{
    const struct entry *x = a, *y = b;
    const struct listing_opts *lo = arg;
    if (x->dir != y->dir) return y->dir - x->dir; /* directories first */
    int c = 0;
    if (lo->sort == LISTING_SIZE && x->size != y->size) c = x->size < y->size ? -1 : 1;
    if (lo->sort == LISTING_MTIME && x->mtime != y->mtime) c = x->mtime < y->mtime ? -1 : 1;
    if (!c) c = name_cmp(x->name, y->name);
    return lo->desc ? -c : c;
}

/* "1023 B", "1.5 KiB", "12.0 MiB": one decimal, computed in integers so no
 * floating point or locale is involved */
static void human_size(uint64_t v, char out[32])
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (v < 1024) {
        snprintf(out, 32, "%u B", (unsigned)v);
        return;
    }
    int u = 0;
    uint64_t div = 1024;
    while (u < 5 && v / div >= 1024) {
        div *= 1024;
        u++;
    }
    uint64_t whole = v / div, tenths = ((v % div) * 10 + div / 2) / div;
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    if (whole == 1024 && u < 5) { /* rounded up into the next unit: 1.0 MiB, not 1024.0 KiB */
        whole = 1;
        u++;
    }
    snprintf(out, 32, "%llu.%u %s", (unsigned long long)whole, (unsigned)tenths, unit[u]);
}

static void short_date(time_t t, char out[64])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
}

/* What an entry would be served as: *st filled from the entry, or from
 * its target for a symlink that beneath_open() lets through.  0 when it
 * would not be served (gone, dangling, leading out of the root, special). */
int http_listing_servable(int rootfd, int fd, const char *urlpath, const char *nm, struct stat *st)
{
    if (fstatat(fd, nm, st, rootfd >= 0 ? AT_SYMLINK_NOFOLLOW : 0) < 0) return 0;
    if (S_ISLNK(st->st_mode)) {
        /* resolved from the root as a request for it would be: a link
         * "../a.txt" in a subdirectory is fine, "/etc" or "../../x" is not */
        char path[PATH_MAX];
        int f = -1;
        if ((size_t)snprintf(path, sizeof path, "%s%s", urlpath, nm) < sizeof path)
            f = beneath_open(rootfd, path);
        if (f < 0) return 0;
        int ok = fstat(f, st) == 0;
        close(f);
        if (!ok) return 0;
    }
    return S_ISDIR(st->st_mode) || S_ISREG(st->st_mode);
}

/* Reads the directory into entries (a struct entry array in `ents`, the
 * names NUL-terminated in `names`).  Returns the count or a negative code. */
static long read_entries(int rootfd, int dirfd, const char *urlpath, int show_hidden, size_t max,
                         struct buf *ents, struct buf *names)
{
    /* a fresh open file description: readdir's position is not shared with
     * dirfd, which the caller may list again (a dup() would share it) */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    long n = 0;
    size_t seen = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            rc = errno ? -errno : 0;
            break;
        }
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!show_hidden || !nm[1] || (nm[1] == '.' && !nm[2]))) continue;
        if (max && ++seen > max) { /* counted before the stat: that is the cost */
            rc = -E2BIG;
            break;
        }
        struct stat st;
        if (!http_listing_servable(rootfd, fd, urlpath, nm, &st)) continue;
        struct entry e = {.off = buf_len(names),
                          .size = (uint64_t)st.st_size,
                          .mtime = st.st_mtim.tv_sec,
                          .dir = S_ISDIR(st.st_mode)};
        if ((rc = buf_append(names, nm, strlen(nm) + 1)) < 0) break;
        if ((rc = buf_append(ents, &e, sizeof e)) < 0) break;
        n++;
    }
    closedir(d); /* closes fd */
    return rc < 0 ? rc : n;
}

static int row(struct buf *b, const char *name, size_t len, int dir, const char *size,
               const char *date)
{
    int rc = puts_(b, "<tr><td><a href=\"");
    if (rc == 0) rc = http_url_encode(b, name, len);
    if (rc == 0 && dir) rc = puts_(b, "/");
    if (rc == 0) rc = puts_(b, "\">");
    if (rc == 0) rc = display_name(b, name, len);
    if (rc == 0 && dir) rc = puts_(b, "/");
    if (rc == 0) rc = puts_(b, "</a></td><td>");
    if (rc == 0) rc = puts_(b, size);
    if (rc == 0) rc = puts_(b, "</td><td>");
    if (rc == 0) rc = puts_(b, date);
    if (rc == 0) rc = puts_(b, "</td></tr>\n");
    return rc;
}

/* A JSON string's content for a name: UTF-8 kept, each byte that is not
 * part of it as the text \xHH (the HTML page's convention), NUL-terminated. */
static int json_name(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        size_t k = utf8_len(u + i, n - i);
        if (k) {
            rc = buf_append(b, s + i, k);
            i += k;
        } else {
            char esc[4] = {'\\', 'x', hex[u[i] >> 4], hex[u[i] & 15]};
            rc = buf_append(b, esc, 4);
            i++;
        }
    }
    return rc == 0 ? buf_append(b, "", 1) : rc;
}

static int json_listing(struct buf *out, const struct entry *e, long n)
{
    json_t *arr = json_array();
    struct buf tmp;
    buf_init(&tmp, 0);
    int rc = arr ? 0 : -ENOMEM;
    for (long i = 0; rc == 0 && i < n; i++) {
        size_t len = strlen(e[i].name);
        struct tm tm;
        char date[64] = "";
        time_t t = e[i].mtime;
        if (gmtime_r(&t, &tm))
            snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        buf_clear(&tmp);
        rc = json_name(&tmp, e[i].name, len);
        size_t ul = buf_len(&tmp);
        if (rc == 0) rc = http_url_encode(&tmp, e[i].name, len);
        if (rc == 0 && e[i].dir) rc = buf_append(&tmp, "/", 1);
        if (rc == 0) rc = buf_append(&tmp, "", 1);
        if (rc < 0) break;
        const char *name = buf_head(&tmp), *url = name + ul;
        json_t *o =
            json_pack("{s:s, s:s, s:o, s:s, s:s}", "name", name, "type", e[i].dir ? "dir" : "file",
                      "size", e[i].dir ? json_null() : json_integer((json_int_t)e[i].size), "mtime",
                      date, "url", url);
        if (!o || json_array_append_new(arr, o) < 0) rc = -ENOMEM;
    }
    char *txt = rc == 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (rc == 0 && !txt) rc = -ENOMEM;
    if (rc == 0) rc = buf_append(out, txt, strlen(txt));
    if (rc == 0) rc = buf_append(out, "\n", 1);
    free(txt);
    json_decref(arr);
    buf_free(&tmp);
    return rc;
}

/* The order chooser: a GET form (no script, and no link among the
 * entries' links: the page's links stay exactly its entries) */
static int sort_form(struct buf *b, const struct listing_opts *lo)
{
    static const char *const key[] = {"name", "size", "mtime"};
    static const char *const label[] = {"name", "size", "modification time"};
    int rc = puts_(b, "<form method=\"get\">Sort by <select name=\"sort\">");
    for (int i = 0; rc == 0 && i < 3; i++) {
        rc = puts_(b, "<option value=\"");
        if (rc == 0) rc = puts_(b, key[i]);
        if (rc == 0) rc = puts_(b, (int)lo->sort == i ? "\" selected>" : "\">");
        if (rc == 0) rc = puts_(b, label[i]);
        if (rc == 0) rc = puts_(b, "</option>");
    }
    if (rc == 0)
        rc = puts_(b, lo->desc ? "</select> <select name=\"order\"><option value=\"asc\">ascending"
                                 "</option><option value=\"desc\" selected>descending</option>"
                               : "</select> <select name=\"order\"><option value=\"asc\" selected>"
                                 "ascending</option><option value=\"desc\">descending</option>");
    if (rc == 0) rc = puts_(b, "</select> <button>Sort</button></form>\n");
    return rc;
}

int http_listing(struct buf *out, int rootfd, int dirfd, const char *urlpath, int show_hidden)
{
    return http_listing_ex(out, rootfd, dirfd, urlpath, show_hidden, NULL);
}

int http_listing_ex(struct buf *out, int rootfd, int dirfd, const char *urlpath, int show_hidden,
                    const struct listing_opts *lo)
{
    static const struct listing_opts dflt = {LISTING_NAME, 0, 0, 0};
    if (!lo) lo = &dflt;
    struct buf ents, names;
    buf_init(&ents, 0);
    buf_init(&names, 0);
    long n = read_entries(rootfd, dirfd, urlpath, show_hidden, lo->max_entries, &ents, &names);
    int rc = n < 0 ? (int)n : 0;
    struct entry *e = (struct entry *)(void *)ents.data; /* malloc'd: suitably aligned */
    if (rc == 0) {
        for (long i = 0; i < n; i++)
            e[i].name = names.data + e[i].off; /* the names buffer no longer moves */
        if (n > 1) qsort_r(e, (size_t)n, sizeof *e, entry_cmp, (void *)lo);
    }
    if (rc == 0 && lo->json) {
        rc = json_listing(out, e, n);
        buf_free(&ents);
        buf_free(&names);
        return rc;
    }

    size_t ul = strlen(urlpath);
    static const char head[] =
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Directory listing for ";
    static const char style[] =
        "</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;margin:2em}\n"
        "table{border-collapse:collapse}\n"
        "th,td{padding:.2em 1em;text-align:left}\n"
        "td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}\n"
        "</style>\n</head>\n<body>\n<h1>Directory listing for ";
    if (rc == 0) rc = puts_(out, head);
    /* the path may hold control bytes (%01 decodes to one): shown as names are */
    if (rc == 0) rc = display_name(out, urlpath, ul);
    if (rc == 0) rc = puts_(out, style);
    if (rc == 0) rc = display_name(out, urlpath, ul);
    if (rc == 0) rc = puts_(out, "</h1>\n");
    if (rc == 0 && lo != &dflt) rc = sort_form(out, lo); /* http_listing's page has none */
    if (rc == 0)
        rc = puts_(out, "<table>\n<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th>"
                        "</tr></thead>\n<tbody>\n");
    if (rc == 0 && strcmp(urlpath, "/") != 0) rc = row(out, "..", 2, 1, "-", "");
    for (long i = 0; rc == 0 && i < n; i++) {
        char size[32], date[64];
        if (e[i].dir)
            strcpy(size, "-");
        else
            human_size(e[i].size, size);
        short_date(e[i].mtime, date);
        rc = row(out, e[i].name, strlen(e[i].name), e[i].dir, size, date);
    }
    if (rc == 0) rc = puts_(out, "</tbody>\n</table>\n</body>\n</html>\n");
    buf_free(&ents);
    buf_free(&names);
    return rc;
}
