#include "http/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define U8 "; charset=utf-8"

/* longest extension looked up; anything longer is unknown */
#define EXT_MAX 32

struct ment {
    const char *ext; /* lower case */
    const char *type;
};

/* The built-in table, sorted by extension (byte order) for bsearch; the
 * charset is spelled out so each lookup returns a constant. */
static const struct ment builtin[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml" U8},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"c", "text/plain" U8},
    {"cjs", "text/javascript" U8},
    {"conf", "text/plain" U8},
    {"css", "text/css" U8},
    {"csv", "text/csv" U8},
    {"diff", "text/x-diff" U8},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"h", "text/plain" U8},
    {"heic", "image/heic"},
    {"htm", "text/html" U8},
    {"html", "text/html" U8},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar" U8},
    {"ini", "text/plain" U8},
    {"jar", "application/java-archive"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript" U8},
    {"json", "application/json" U8},
    {"jsonld", "application/ld+json" U8},
    {"jxl", "image/jxl"},
    {"log", "text/plain" U8},
    {"m4a", "audio/mp4"},
    {"m4v", "video/mp4"},
    {"map", "application/json" U8},
    {"md", "text/markdown" U8},
    {"mjs", "text/javascript" U8},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"patch", "text/x-diff" U8},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"py", "text/plain" U8},
    {"rar", "application/vnd.rar"},
    {"rss", "application/rss+xml" U8},
    {"rtf", "application/rtf"},
    {"sh", "text/plain" U8},
    {"svg", "image/svg+xml" U8},
    {"svgz", "image/svg+xml"}, /* gzip bytes: no charset; see mime_encoding() */
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml" U8},
    {"ttf", "font/ttf"},
    {"txt", "text/plain" U8},
    {"vtt", "text/vtt" U8},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json" U8},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml" U8},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml" U8},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml" U8},
    {"yml", "application/yaml" U8},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

/* the loaded table: entries sorted by extension, strings in `text` (the
 * file, cut into tokens in place) or in `extra` (types with a charset) */
static struct {
    struct ment *v;
    size_t n;
    char *text;
    char **extra;
    size_t nextra;
} loaded;

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* RFC 9110 §5.6.2 tchar */
static int tchar(unsigned char c)
{
    /* c != 0: strchr would find the set's own terminator */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* p points at a run of tchars: past it (p itself when there are none) */
static const char *token_end(const char *p)
{
    while (tchar((unsigned char)*p))
        p++;
    return p;
}

/* mime.h; a mime.types line whose type is not one is ignored (it would go
 * out in Content-Type as written, controls included) */
int mime_type_ok(const char *t)
{
    const char *p = token_end(t);
    if (p == t || *p++ != '/') return 0;
    const char *q = token_end(p);
    if (q == p) return 0;
    while (*q == ';') {
        p = q + 1;
        q = token_end(p);
        if (q == p || *q++ != '=') return 0;
        if (*q == '"') {
            for (q++; *q != '"'; q++) {
                unsigned char c = (unsigned char)*q;
                if (c == '\\') c = (unsigned char)*++q;
                if ((c < 0x20 && c != 0x09) || c == 0x7f) return 0; /* the end, a control */
            }
            q++;
        } else {
            p = q;
            q = token_end(p);
            if (q == p) return 0;
        }
    }
    return *q == '\0';
}

/* whether a type is text that browsers should decode as UTF-8 */
static int wants_charset(const char *t)
{
    static const char *const app[] = {"application/json",       "application/xml",
                                      "application/javascript", "application/ecmascript",
                                      "application/yaml",       "application/toml"};
    if (strchr(t, ';')) return 0; /* has parameters already */
    if (strncmp(t, "text/", 5) == 0) return 1;
    for (size_t i = 0; i < sizeof app / sizeof app[0]; i++)
        if (strcmp(t, app[i]) == 0) return 1;
    size_t n = strlen(t);
    return (n > 5 && strcmp(t + n - 5, "+json") == 0) || (n > 4 && strcmp(t + n - 4, "+xml") == 0);
}

/* by extension, then by address: the extensions all point into the file's
 * text in file order, so equal extensions keep their order in the file */
static int ment_cmp(const void *a, const void *b)
{
    const struct ment *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    if (c) return c;
    return (x->ext > y->ext) - (x->ext < y->ext);
}

void mime_unload(void)
{
    for (size_t i = 0; i < loaded.nextra; i++)
        free(loaded.extra[i]);
    free(loaded.extra);
    free(loaded.v);
    free(loaded.text);
    memset(&loaded, 0, sizeof loaded);
}

static char *slurp(const char *file, size_t *len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) < 0) goto out;
    if (!S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto out;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    if (!(text = malloc(cap + 1))) goto out;
    /* the size may change under us: read what is there, up to cap */
    while (n < cap) {
        ssize_t k = read(fd, text + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            free(text);
            text = NULL;
            goto out;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    text[n] = '\0';
    *len = n;
out:;
    int e = errno;
    close(fd);
    errno = e;
    return text;
}

int mime_load(const char *file)
{
    size_t len;
    char *text = slurp(file, &len);
    if (!text) return errno ? -errno : -EIO;

    /* every extension is a token of at least one byte plus a separator */
    struct ment *v = malloc((len / 2 + 1) * sizeof *v);
    char **extra = malloc((len / 4 + 1) * sizeof *extra);
    size_t n = 0, nextra = 0;
    if (!v || !extra) goto nomem;

    for (char *line = text, *next; line < text + len; line = next) {
        char *eol = memchr(line, '\n', (size_t)(text + len - line));
        next = eol ? eol + 1 : text + len;
        if (eol) *eol = '\0';
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';

        const char *type = NULL;
        const char *sep = " \t\r\v\f";
        for (char *save = NULL, *tok = strtok_r(line, sep, &save); tok;
             tok = strtok_r(NULL, sep, &save)) {
            if (!type) {
                if (!mime_type_ok(tok)) break; /* not a type: ignore the line */
                type = tok;
                if (wants_charset(tok)) {
                    size_t tl = strlen(tok);
                    char *t = malloc(tl + sizeof U8);
                    if (!t) goto nomem;
                    memcpy(t, tok, tl);
                    memcpy(t + tl, U8, sizeof U8);
                    extra[nextra++] = t;
                    type = t;
                }
                continue;
            }
            if (strlen(tok) >= EXT_MAX) continue;
            for (char *c = tok; *c; c++)
                *c = (char)lower((unsigned char)*c);
            /* RFC 9239: JavaScript is text/javascript, whatever older files say */
            if (strcmp(tok, "js") == 0 || strcmp(tok, "mjs") == 0) continue;
            v[n].ext = tok;
            v[n].type = type;
            n++;
        }
    }
    /* duplicates sort in file order, so the first line naming an extension wins */
    qsort(v, n, sizeof *v, ment_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1].ext, v[i].ext) != 0) v[k++] = v[i];

    mime_unload();
    loaded.v = v;
    loaded.n = k;
    loaded.text = text;
    loaded.extra = extra;
    loaded.nextra = nextra;
    return 0;

nomem:
    for (size_t i = 0; i < nextra; i++)
        free(extra[i]);
    free(extra);
    free(v);
    free(text);
    return -ENOMEM;
}

static const char *find(const struct ment *v, size_t n, const char *ext)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ext, v[mid].ext);
        if (c == 0) return v[mid].type;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *mime_type(const char *path, const char *dflt)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    while (*base == '.') /* ".bashrc" has no extension */
        base++;
    const char *dot = strrchr(base, '.');
    if (!dot || !dot[1]) return dflt;
    char ext[EXT_MAX];
    size_t i = 0;
    for (const char *c = dot + 1; *c; c++) {
        if (i + 1 >= sizeof ext) return dflt;
        ext[i++] = (char)lower((unsigned char)*c);
    }
    ext[i] = '\0';
    /* whatever a mime.types file says (image/svg+xml, with a charset added):
     * the bytes are gzip, and Content-Encoding says so */
    if (strcmp(ext, "svgz") == 0) return "image/svg+xml";
    const char *t = loaded.n ? find(loaded.v, loaded.n, ext) : NULL;
    if (!t) t = find(builtin, sizeof builtin / sizeof builtin[0], ext);
    return t ? t : dflt;
}

const char *mime_encoding(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n <= 5 || base[n - 5] != '.') return NULL;
    for (int i = 0; i < 4; i++)
        if (lower((unsigned char)base[n - 4 + i]) != "svgz"[i]) return NULL;
    return base[0] == '.' && n == 5 ? NULL : "gzip";
}

enum sniff { SNIFF_NONE, SNIFF_HTML, SNIFF_CSS, SNIFF_XML };

static enum sniff sniff_kind(const char *type)
{
    size_t n = strlen(type), u = sizeof U8 - 1;
    if (n <= u || strcmp(type + n - u, U8) != 0) return SNIFF_NONE; /* not our utf-8 */
    n -= u;
    if (n == 9 && strncmp(type, "text/html", 9) == 0) return SNIFF_HTML;
    if (n == 8 && strncmp(type, "text/css", 8) == 0) return SNIFF_CSS;
    if ((n >= 4 && strncmp(type + n - 4, "+xml", 4) == 0) ||
        (n >= 4 && strncmp(type + n - 4, "/xml", 4) == 0))
        return SNIFF_XML;
    return SNIFF_NONE;
}

int mime_sniffs(const char *type)
{
    return sniff_kind(type) != SNIFF_NONE;
}

/* What a declared charset name may hold: a token, or ':' besides, which
 * registered names and browser labels have (ISO_8859-1:1987, a label of
 * windows-1252); such a name goes out as a quoted-string. */
static int name_char(unsigned char c)
{
    return tchar(c) || c == ':';
}

/* case-insensitive search for the ASCII word w in s[0..n) */
static const char *find_ci(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++) {
        size_t k = 0;
        while (k < wl && lower((unsigned char)s[i + k]) == w[k])
            k++;
        if (k == wl) return s + i;
    }
    return NULL;
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f'))
        p++;
    return p;
}

/* After "charset" or "encoding" at p: [ws] = [ws] [quote] NAME.  Sets *name
 * and returns its length, 0 when there is none. */
static size_t decl_value(const char *p, const char *e, const char **name)
{
    p = skip_ws(p, e);
    if (p == e || *p != '=') return 0;
    p = skip_ws(p + 1, e);
    if (p < e && (*p == '"' || *p == '\'')) p++;
    const char *v = p;
    while (p < e && *p != '"' && *p != '\'' && name_char((unsigned char)*p))
        p++;
    *name = v;
    return (size_t)(p - v);
}

/* The charset declared in an HTML head: the first <meta ...> carrying
 * charset=NAME, as an attribute or inside http-equiv's content. */
static size_t html_decl(const char *s, size_t n, const char **name)
{
    const char *e = s + n, *p = s;
    while ((p = find_ci(p, (size_t)(e - p), "<meta")) != NULL) {
        const char *end = memchr(p, '>', (size_t)(e - p));
        if (!end) end = e;
        const char *c = find_ci(p, (size_t)(end - p), "charset");
        if (c) {
            size_t l = decl_value(c + 7, end, name);
            if (l) return l;
        }
        p = end;
    }
    return 0;
}

const char *mime_charset_sniff(const char *type, const char *head, size_t n, char *out, size_t cap)
{
    enum sniff k = sniff_kind(type);
    if (k == SNIFF_NONE) return type;
    size_t base = strlen(type) - (sizeof U8 - 1);
    const unsigned char *u = (const unsigned char *)head;
    const char *name = NULL;
    size_t nl = 0, quote = 0;
    if (n >= 2 && ((u[0] == 0xfe && u[1] == 0xff) || (u[0] == 0xff && u[1] == 0xfe))) {
        nl = 0; /* UTF-16: the byte order mark rules; send the bare type */
    } else {
        if (n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) return type; /* UTF-8 BOM */
        if (n > 1024) n = 1024;
        static const char at[] = "@charset \"";
        if (k == SNIFF_HTML)
            nl = html_decl(head, n, &name);
        else if (k == SNIFF_CSS && n > sizeof at - 1 && memcmp(head, at, sizeof at - 1) == 0) {
            name = head + sizeof at - 1;
            const char *q = memchr(name, '"', n - (sizeof at - 1));
            nl = q ? (size_t)(q - name) : 0;
        } else if (k == SNIFF_XML && n > 5 && memcmp(head, "<?xml", 5) == 0) {
            const char *end = memchr(head, '>', n);
            const char *c = find_ci(head, end ? (size_t)(end - head) : n, "encoding");
            if (c) nl = decl_value(c + 8, end ? end : head + n, &name);
        }
        if (!nl) return type; /* nothing declared */
        for (size_t i = 0; i < nl; i++) {
            if (!name_char((unsigned char)name[i])) return type;
            quote |= !tchar((unsigned char)name[i]);
        }
        if (nl == 5 && find_ci(name, 5, "utf-8") == name) return type;
        if (nl == 4 && find_ci(name, 4, "utf8") == name) return type;
    }
    /* a parameter value is a token or a quoted-string (RFC 9110 §5.6.6);
     * name_char holds no '"' or '\\', so quoting needs no escapes */
    if (base + 10 + nl + 2 * quote + 1 > cap) return type;
    memcpy(out, type, base);
    if (nl) {
        memcpy(out + base, "; charset=", 10);
        base += 10;
        if (quote) out[base++] = '"';
        memcpy(out + base, name, nl);
        base += nl;
        if (quote) out[base++] = '"';
    }
    out[base] = '\0';
    return out;
}
