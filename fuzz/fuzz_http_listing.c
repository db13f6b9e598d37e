/* libFuzzer target for the directory listing's escaping (src/http/listing.c).
 *
 * Input: a URL path line, then file names separated by '/' (a name cannot
 * hold '/' or NUL; a first byte of 0x01 makes that entry a directory).
 *   - http_html_escape of the raw input leaves no & < > " ' that is not a
 *     character reference, and unescaping gives the input back;
 *   - http_url_encode of it holds only unreserved bytes, '/' and %XX, and
 *     decoding gives the input back;
 *   - the names are created in a directory under /dev/shm (tmpfs), listed
 *     with http_listing, and in the page: no raw control byte but '\n'
 *     anywhere, every href holds only URL bytes and decodes to one of the
 *     names (or ".."), every name is listed (dotfiles only when hidden ones
 *     are shown), and every link text holds no raw < > " ' and no
 *     control byte;
 *   - the JSON form (http_listing_ex, any order) is valid JSON: an array
 *     of one object per name listed, whose "url" decodes to that name and
 *     whose "type" says what it is;
 *   - the same directory as a tar stream (tar_open/tar_next, ?download=tar):
 *     exactly the length announced, whole 512-byte blocks with valid
 *     checksums, pax records well formed (their length counts themselves),
 *     one entry for the directory and one per name listed, each named
 *     "t/" + the name (a pax path where ustar cannot hold it), and each
 *     file's bytes exactly its content. */
#include "buf.h"
#include "harness.h"
#include "http/listing.h"
#include "http/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 16

static int dirfd_ = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_setup("fuzz_http_listing", 0);
    /* removed at exit with what the last input left in it */
    dirfd_ = open(fz_tmpdir("fuzz_listing"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd_ < 0) abort();
    return 0;
}

static void cleanup(void)
{
    /* a fresh open: a dup() would share (and leave at the end) the offset */
    DIR *d = fdopendir(openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) abort();
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            if (unlinkat(dirfd_, de->d_name, 0) < 0) unlinkat(dirfd_, de->d_name, AT_REMOVEDIR);
    closedir(d);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int url_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '/';
}

/* decodes an href/url_encode output; -1 if it holds a byte a URL cannot */
static long url_decode(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return -1;
            out[k++] = (char)(h << 4 | l);
            i += 2;
        } else if (url_byte((unsigned char)s[i])) {
            out[k++] = s[i];
        } else {
            return -1;
        }
    }
    return (long)k;
}

/* unescapes the five references http_html_escape writes; -1 on a raw
 * special character or an unknown reference */
static long html_unescape(const char *s, size_t n, char *out)
{
    static const struct {
        const char *ref;
        char c;
    } refs[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '<' || c == '>' || c == '"' || c == '\'') return -1;
        if (c != '&') {
            out[k++] = s[i++];
            continue;
        }
        size_t j = 0;
        for (; j < sizeof refs / sizeof refs[0]; j++) {
            size_t rl = strlen(refs[j].ref);
            if (n - i >= rl && !memcmp(s + i, refs[j].ref, rl)) {
                out[k++] = refs[j].c;
                i += rl;
                break;
            }
        }
        if (j == sizeof refs / sizeof refs[0]) return -1;
    }
    return (long)k;
}

static void check_escapers(const char *in, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    char *back = malloc(n + 1);
    if (!back) abort();
    if (http_html_escape(&b, in, n) != 0) abort();
    long k = html_unescape(buf_head(&b), buf_len(&b), back);
    if (k != (long)n || (n && memcmp(back, in, n))) abort();
    buf_clear(&b);
    if (http_url_encode(&b, in, n) != 0) abort();
    k = url_decode(buf_head(&b), buf_len(&b), back);
    if (k != (long)n || (n && memcmp(back, in, n))) abort();
    free(back);
    buf_free(&b);
}

/* Checks every "<a href="...">text</a>" of the page. */
/* Returns how many links the page has. */
static int check_page(const char *p, size_t n, char names[][256], int nnames)
{
    int links = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f) abort();
    }
    static const char open[] = "<a href=\"";
    const char *end = p + n, *q = p;
    char dec[1024];
    while ((q = memmem(q, (size_t)(end - q), open, sizeof open - 1))) {
        q += sizeof open - 1;
        const char *close = memchr(q, '"', (size_t)(end - q));
        if (!close || end - close < 2 || close[1] != '>') abort();
        long k = url_decode(q, (size_t)(close - q), dec);
        if (k < 0 || (size_t)k >= sizeof dec) abort();
        if (k > 0 && dec[k - 1] == '/') k--; /* a directory */
        int known = k == 2 && !memcmp(dec, "..", 2);
        for (int i = 0; i < nnames && !known; i++)
            known = strlen(names[i]) == (size_t)k && !memcmp(names[i], dec, (size_t)k);
        if (!known) abort();
        const char *text = close + 2;
        const char *stop = memmem(text, (size_t)(end - text), "</a>", 4);
        if (!stop) abort();
        for (const char *t = text; t < stop; t++)
            if (*t == '<' || *t == '>' || *t == '"' || *t == '\'') abort();
        if (html_unescape(text, (size_t)(stop - text), dec) < 0) {
            /* other references (&#xFFFD; for a control byte) are allowed */
            for (const char *t = text; t < stop; t++)
                if (*t == '&' && !memchr(t, ';', (size_t)(stop - t))) abort();
        }
        q = stop;
        links++;
    }
    return links;
}

static uint64_t octal(const char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(p[i] - '0');
    return v;
}

/* Parses a whole tar stream; abort()s on a malformed one.  Checks every
 * entry is the directory or a name of names[] (once each), file bytes equal
 * to the name.  Returns the entries. */
static int check_tar(const char *s, size_t n, char names[][256], int nnames, int *seen)
{
    size_t pos = 0;
    int entries = 0;
    char path[1024];
    size_t plen = 0;
    int have_path = 0;
    if (n % 512) abort();
    for (;;) {
        if (n - pos < 512) abort();
        const char *h = s + pos;
        int zero = 1;
        for (int i = 0; i < 512 && zero; i++)
            zero = h[i] == 0;
        if (zero) {
            if (n - pos != 1024) abort();
            for (int i = 512; i < 1024; i++)
                if (h[i]) abort();
            return entries;
        }
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
            sum += i >= 148 && i < 156 ? ' ' : (unsigned char)h[i];
        if (octal(h + 148, 8) != sum || memcmp(h + 257, "ustar", 6)) abort();
        uint64_t size = octal(h + 124, 12);
        pos += 512;
        if (size > n - pos) abort();
        const char *body = s + pos;
        pos += (size_t)((size + 511) / 512 * 512);
        if (h[156] == 'x') {
            /* pax records: "LEN key=value\n", LEN counting the whole record */
            for (size_t r = 0; r < size;) {
                size_t len = 0, d = r;
                while (d < size && body[d] >= '0' && body[d] <= '9')
                    len = len * 10 + (size_t)(body[d++] - '0');
                if (d == r || d >= size || body[d] != ' ' || len > size - r || len < d - r + 3)
                    abort();
                const char *kv = body + d + 1, *rend = body + r + len;
                if (rend[-1] != '\n') abort();
                const char *eq = memchr(kv, '=', (size_t)(rend - kv));
                if (!eq) abort();
                if (eq - kv == 4 && !memcmp(kv, "path", 4)) {
                    plen = (size_t)(rend - 1 - (eq + 1));
                    if (plen >= sizeof path) abort();
                    memcpy(path, eq + 1, plen);
                    have_path = 1;
                }
                r += len;
            }
            continue;
        }
        if (!have_path) {
            plen = strnlen(h, 100);
            memcpy(path, h, plen);
        }
        have_path = 0;
        entries++;
        if (h[156] != '0' && h[156] != '5') abort();
        if (plen == 2 && !memcmp(path, "t/", 2) && h[156] == '5') continue; /* the directory */
        if (plen < 3 || memcmp(path, "t/", 2)) abort();
        size_t nl = plen - 2 - (h[156] == '5' && path[plen - 1] == '/');
        int which = -1;
        for (int i = 0; i < nnames && which < 0; i++)
            if (strlen(names[i]) == nl && !memcmp(names[i], path + 2, nl)) which = i;
        if (which < 0 || seen[which]++) abort();
        if (h[156] == '0' && (size != nl || memcmp(body, names[which], nl))) abort();
    }
}

static void check_tar_stream(char names[][256], int nnames, int hidden)
{
    struct tar *t;
    uint64_t total = 0;
    if (tar_open(&t, dirfd_, "/", "t", hidden, TAR_MAX_ENTRIES, &total) != 0) abort();
    if (tar_left(t) != total) abort();
    struct buf out;
    buf_init(&out, 0);
    for (;;) {
        int fd = -1;
        uint64_t size = 0;
        struct timespec mt;
        int rc = tar_next(t, &out, &fd, &size, &mt);
        if (rc < 0) abort();
        if (rc == 0) break;
        if (size > 4096) abort();
        char tmp[4096];
        if (size && pread(fd, tmp, (size_t)size, 0) != (ssize_t)size) abort();
        if (buf_append(&out, tmp, (size_t)size) != 0) abort();
        close(fd);
    }
    if (tar_left(t) != 0 || buf_len(&out) != total) abort();
    int seen[MAX_NAMES] = {0}, want = 1;
    for (int i = 0; i < nnames; i++)
        want += hidden || names[i][0] != '.';
    if (check_tar(buf_head(&out), buf_len(&out), names, nnames, seen) != want) abort();
    tar_free(t);
    buf_free(&out);
}

static void check_json(char names[][256], int nnames, int hidden, const char *url, uint8_t how)
{
    struct listing_opts lo = {
        .sort = (enum listing_sort)(how % 3), .desc = (how >> 2) & 1, .json = 1};
    struct buf b;
    int want = 0, seen[MAX_NAMES] = {0};
    for (int i = 0; i < nnames; i++)
        want += hidden || names[i][0] != '.';
    /* an entry limit (the walk budget's): past it -E2BIG and nothing, at
     * or under it the whole listing (every name shown counts) */
    if (how & 8) {
        lo.max_entries = (size_t)(how >> 4) + 1;
        buf_init(&b, 0);
        int rc = http_listing_ex(&b, -1, dirfd_, url, hidden, &lo);
        buf_free(&b);
        if (rc != ((size_t)want > lo.max_entries ? -E2BIG : 0)) abort();
        lo.max_entries = 0;
    }
    buf_init(&b, 0);
    if (http_listing_ex(&b, -1, dirfd_, url, hidden, &lo) != 0) abort();
    json_t *arr = json_loadb(buf_head(&b), buf_len(&b), 0, NULL);
    if (!json_is_array(arr)) abort();
    if (json_array_size(arr) != (size_t)want) abort();
    size_t i;
    json_t *o;
    char dec[1024];
    json_array_foreach(arr, i, o)
    {
        const char *u = json_string_value(json_object_get(o, "url"));
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!u || !type || !json_is_string(json_object_get(o, "name"))) abort();
        long k = url_decode(u, strlen(u), dec);
        int dir = !strcmp(type, "dir");
        if (k < 0 || (!dir && strcmp(type, "file"))) abort();
        if (dir && (k == 0 || dec[k - 1] != '/')) abort();
        k -= dir;
        int which = -1;
        for (int j = 0; j < nnames && which < 0; j++)
            if (strlen(names[j]) == (size_t)k && !memcmp(names[j], dec, (size_t)k)) which = j;
        if (which < 0 || seen[which]++) abort();
    }
    json_decref(arr);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char *in = malloc(size); /* exact size: ASan sees over-reads */
    if (!in) return 0;
    memcpy(in, data, size);
    check_escapers(in, size);

    /* the URL path: the first line, made absolute and ending in '/' */
    const char *nl = memchr(in, '\n', size);
    size_t ul = nl ? (size_t)(nl - in) : 0;
    char url[300];
    size_t un = 0;
    url[un++] = '/';
    for (size_t i = 0; i < ul && un < 200; i++)
        if (in[i] != '\0') url[un++] = in[i];
    if (url[un - 1] != '/') url[un++] = '/';
    url[un] = '\0';

    static char names[MAX_NAMES][256];
    int nnames = 0;
    const char *p = nl ? nl + 1 : in, *e = in + size;
    while (p < e && nnames < MAX_NAMES) {
        const char *slash = memchr(p, '/', (size_t)(e - p));
        const char *end = slash ? slash : e;
        int dir = p < end && *p == 1;
        const char *s = p + dir;
        size_t len = (size_t)(end - s);
        p = slash ? slash + 1 : e;
        if (len == 0 || len > 255 || memchr(s, '\0', len)) continue;
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) continue;
        memcpy(names[nnames], s, len);
        names[nnames][len] = '\0';
        int fd = -1;
        if (dir ? mkdirat(dirfd_, names[nnames], 0755) == 0
                : (fd = openat(dirfd_, names[nnames], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                               0644)) >= 0)
            nnames++;
        if (fd >= 0) {
            if (write(fd, s, len) < 0) abort();
            close(fd);
        }
    }

    struct buf page;
    buf_init(&page, 0);
    if (http_listing(&page, -1, dirfd_, url, data[0] & 1) != 0) abort(); /* no symlinks made */
    /* every entry is listed once: the names (hidden ones only when asked
     * for), and ".." below the root */
    int want = strcmp(url, "/") != 0;
    for (int i = 0; i < nnames; i++)
        want += (data[0] & 1) || names[i][0] != '.';
    if (check_page(buf_head(&page), buf_len(&page), names, nnames) != want) abort();
    buf_free(&page);
    check_json(names, nnames, data[0] & 1, url, data[0] >> 1);
    check_tar_stream(names, nnames, data[0] & 1);
    cleanup();
    free(in);
    return 0;
}
