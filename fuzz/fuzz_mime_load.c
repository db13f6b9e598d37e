/* libFuzzer target for the mime.types loader (src/http/mime.c).
 *
 * The input is written to a memfd and loaded through /proc/self/fd/N, as a
 * file would be.  A small model of the documented format ("type ext ext...",
 * '#' comments, a line that does not start with a media type is ignored, an
 * extension keeps its first type, .js/.mjs stay text/javascript, a NUL ends
 * the line as it ends a C string) predicts each extension's type, and every
 * lookup must agree: the model's type, with "; charset=utf-8" or nothing
 * after it.  The file is then loaded a second time (replacing the first),
 * and unloaded: the built-in answers must be what they were before, and
 * libFuzzer's leak check sees anything a load/unload cycle keeps. */
#include "http/mime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EXT 64
#define EXT_MAX 32 /* mime.c: longer extensions are never matched */

struct mexp {
    char ext[EXT_MAX];
    char type[256];
    size_t tlen; /* 0: the type is too long to compare */
};

static const char *const probes[] = {"a.html", "b.JS",    "c.mjs",    "d.png",  "e.unknownext",
                                     "f",      ".bashrc", "g.tar.gz", "h.json", "i.svg"};
#define NPROBES (sizeof probes / sizeof probes[0])

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* RFC 9110 §5.6.2 tchar */
static int tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 §5.6.4 qdtext and the byte after a backslash (quoted-pair):
 * HTAB, SP, VCHAR, obs-text */
static int qbyte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* the model's reading of RFC 9110 §8.3.1 media-type, on one word of p[0..n)
 * (no whitespace: the file splits on it): token "/" token *( ";" token "="
 * ( token / quoted-string ) ) */
static int media_type(const char *p, size_t n)
{
    size_t i = 0, t;
    for (t = i; i < n && tchar((unsigned char)p[i]); i++)
        ;
    if (i == t || i == n || p[i++] != '/') return 0;
    for (t = i; i < n && tchar((unsigned char)p[i]); i++)
        ;
    if (i == t) return 0;
    while (i < n) {
        if (p[i++] != ';') return 0;
        for (t = i; i < n && tchar((unsigned char)p[i]); i++)
            ;
        if (i == t || i == n || p[i++] != '=') return 0;
        if (i < n && p[i] == '"') {
            for (i++; i < n && p[i] != '"'; i++) {
                if (p[i] == '\\' && ++i == n) return 0;
                if (!qbyte((unsigned char)p[i])) return 0;
            }
            if (i == n) return 0;
            i++;
        } else {
            for (t = i; i < n && tchar((unsigned char)p[i]); i++)
                ;
            if (i == t) return 0;
        }
    }
    return 1;
}

/* the model: the first MAX_EXT distinct lookable extensions and their types */
static size_t model(const char *s, size_t n, struct mexp *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_EXT;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, next = nl ? end + 1 : n;
        const char *nul = memchr(s + i, '\0', end - i);
        if (nul) end = (size_t)(nul - s);
        const char *hash = memchr(s + i, '#', end - i);
        if (hash) end = (size_t)(hash - s);
        const char *type = NULL;
        size_t tl = 0;
        for (size_t j = i; j < end;) {
            while (j < end && is_sep(s[j]))
                j++;
            size_t t0 = j;
            while (j < end && !is_sep(s[j]))
                j++;
            if (j == t0) break;
            if (!type) {
                if (!media_type(s + t0, j - t0)) break;
                type = s + t0;
                tl = j - t0;
                continue;
            }
            size_t el = j - t0;
            if (el >= EXT_MAX || memchr(s + t0, '.', el) || memchr(s + t0, '/', el)) continue;
            char ext[EXT_MAX];
            for (size_t q = 0; q < el; q++) {
                char c = s[t0 + q];
                ext[q] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
            }
            ext[el] = '\0';
            if (!strcmp(ext, "js") || !strcmp(ext, "mjs")) continue;
            int dup = 0;
            for (size_t q = 0; q < k && !dup; q++)
                dup = !strcmp(out[q].ext, ext);
            if (dup || k == MAX_EXT) continue;
            memcpy(out[k].ext, ext, el + 1);
            out[k].tlen = tl < sizeof out[k].type ? tl : 0;
            if (out[k].tlen) memcpy(out[k].type, type, tl);
            k++;
        }
        i = next;
    }
    return k;
}

static void check(const struct mexp *m, size_t k)
{
    char path[EXT_MAX + 8];
    for (size_t i = 0; i < k; i++) {
        /* upper-case the first letter: lookups ignore case */
        snprintf(path, sizeof path, "dir/x.%s", m[i].ext);
        if (path[6] >= 'a' && path[6] <= 'z') path[6] = (char)(path[6] - 32);
        const char *t = mime_type(path, NULL);
        if (!t) abort();
        if (!m[i].tlen) continue;
        /* .svgz is gzip-encoded SVG whatever the file says (mime_encoding) */
        if (!strcasecmp(m[i].ext, "svgz")) {
            if (strcmp(t, "image/svg+xml") != 0) abort();
            continue;
        }
        if (strncmp(t, m[i].type, m[i].tlen) != 0) abort();
        const char *rest = t + m[i].tlen;
        if (*rest && strcmp(rest, "; charset=utf-8") != 0) abort();
    }
    const char *js = mime_type("x.js", NULL), *mjs = mime_type("x.MJS", NULL);
    if (!js || !mjs || strncmp(js, "text/javascript", 15) || strncmp(mjs, "text/javascript", 15))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *before[NPROBES];
    static int init;
    if (!init) {
        for (size_t i = 0; i < NPROBES; i++)
            before[i] = mime_type(probes[i], "dflt");
        init = 1;
    }
    int fd = memfd_create("mime.types", MFD_CLOEXEC);
    if (fd < 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    static struct mexp m[MAX_EXT];
    size_t k = model((const char *)data, size, m);
    for (int round = 0; round < 2; round++) {
        if (mime_load(path) != 0) abort();
        check(m, k);
        for (size_t i = 0; i < NPROBES; i++) /* every probe answers something */
            if (!mime_type(probes[i], "dflt")) abort();
    }
    mime_unload();
    for (size_t i = 0; i < NPROBES; i++)
        if (strcmp(mime_type(probes[i], "dflt"), before[i]) != 0) abort();
    close(fd);
    return 0;
}
