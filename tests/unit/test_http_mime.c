#include "http/mime.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DFLT "application/octet-stream"

static const struct {
    const char *path, *type;
} builtin_cases[] = {
    {"index.html", "text/html; charset=utf-8"},
    {"index.htm", "text/html; charset=utf-8"},
    {"style.css", "text/css; charset=utf-8"},
    {"app.js", "text/javascript; charset=utf-8"},
    {"mod.mjs", "text/javascript; charset=utf-8"},
    {"data.json", "application/json; charset=utf-8"},
    {"app.js.map", "application/json; charset=utf-8"},
    {"m.wasm", "application/wasm"},
    {"logo.svg", "image/svg+xml; charset=utf-8"},
    {"a.png", "image/png"},
    {"a.jpg", "image/jpeg"},
    {"a.jpeg", "image/jpeg"},
    {"a.gif", "image/gif"},
    {"a.webp", "image/webp"},
    {"a.avif", "image/avif"},
    {"favicon.ico", "image/vnd.microsoft.icon"},
    {"f.woff", "font/woff"},
    {"f.woff2", "font/woff2"},
    {"f.ttf", "font/ttf"},
    {"f.otf", "font/otf"},
    {"notes.txt", "text/plain; charset=utf-8"},
    {"README.md", "text/markdown; charset=utf-8"},
    {"feed.xml", "application/xml; charset=utf-8"},
    {"doc.pdf", "application/pdf"},
    {"a.zip", "application/zip"},
    {"a.gz", "application/gzip"},
    {"a.tar", "application/x-tar"},
    {"v.mp4", "video/mp4"},
    {"v.webm", "video/webm"},
    {"s.mp3", "audio/mpeg"},
    {"s.ogg", "audio/ogg"},
    {"s.wav", "audio/wav"},
    {"t.csv", "text/csv; charset=utf-8"},
    {"app.webmanifest", "application/manifest+json; charset=utf-8"},
    {"a.7z", "application/x-7z-compressed"},
    {"a.zst", "application/zstd"},
    {"a.yml", "application/yaml; charset=utf-8"},
    {"sub.vtt", "text/vtt; charset=utf-8"},
    {"x.xhtml", "application/xhtml+xml; charset=utf-8"},
};

Test(mime, builtin)
{
    mime_unload();
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++) {
        const char *t = mime_type(builtin_cases[i].path, DFLT);
        cr_expect_str_eq(t, builtin_cases[i].type, "%s -> %s", builtin_cases[i].path, t);
    }
}

Test(mime, extension_rules)
{
    mime_unload();
    static const struct {
        const char *path, *type;
    } t[] = {
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"/a/b/App.Js", "text/javascript; charset=utf-8"},
        {"a.tar.gz", "application/gzip"},
        {"a.gz.txt", "text/plain; charset=utf-8"},
        {"/dir.html/file", DFLT},
        {"/dir.html/", DFLT},
        {"README", DFLT},
        {"", DFLT},
        {".", DFLT},
        {"x.", DFLT},
        {".bashrc", DFLT},
        {"/a/.png", DFLT},
        {"/a/..png", DFLT},
        {"/a/.hidden.txt", "text/plain; charset=utf-8"},
        {"a.unknownext", DFLT},
        {"a.htmlx", DFLT},
        {"a.htm", "text/html; charset=utf-8"},
        {"a.h", "text/plain; charset=utf-8"},
        {"a.0000000000000000000000000000000000000000000000000000", DFLT},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_str_eq(mime_type(t[i].path, DFLT), t[i].type, "%s", t[i].path);
    cr_expect_null(mime_type("x.nope", NULL));
    /* stable strings: the same pointer every time, no allocation */
    cr_expect_eq(mime_type("a.css", DFLT), mime_type("b.CSS", DFLT));
}

static char *write_tmp(const char *content)
{
    static char path[] = "/tmp/berth-mime-XXXXXX";
    strcpy(path, "/tmp/berth-mime-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

Test(mime, load_file)
{
    char *p = write_tmp("# a comment line\n"
                        "\n"
                        "text/x-foo\tfoo FOO2   # trailing comment names bar\n"
                        "application/javascript js mjs jsx\n"
                        "application/x-custom-html html\n"
                        "image/x-first dup\n"
                        "image/x-second dup other\n"
                        "application/vnd.thing+json thing\r\n"
                        "application/vnd.thing+xml xthing\n"
                        "text/x-params;charset=latin1 params\n"
                        "notatype ext\n"
                        "text/x\x01ctl ctl\n"
                        "text/x;noval quux\n"
                        "text/ / slash\n"
                        "   \t  \n"
                        "image/x-nocomment last");
    cr_assert_eq(mime_load(p), 0);
    unlink(p);
    cr_expect_str_eq(mime_type("a.foo", DFLT), "text/x-foo; charset=utf-8");
    cr_expect_str_eq(mime_type("a.foo2", DFLT), "text/x-foo; charset=utf-8");
    cr_expect_str_eq(mime_type("a.Foo2", DFLT), "text/x-foo; charset=utf-8");
    cr_expect_str_eq(mime_type("a.bar", DFLT), DFLT, "comment text is not an extension");
    cr_expect_str_eq(mime_type("a.names", DFLT), DFLT);
    /* JavaScript stays text/javascript (RFC 9239) even when the file disagrees */
    cr_expect_str_eq(mime_type("a.js", DFLT), "text/javascript; charset=utf-8");
    cr_expect_str_eq(mime_type("a.mjs", DFLT), "text/javascript; charset=utf-8");
    cr_expect_str_eq(mime_type("a.jsx", DFLT), "application/javascript; charset=utf-8");
    /* the loaded table is consulted first */
    cr_expect_str_eq(mime_type("a.html", DFLT), "application/x-custom-html");
    cr_expect_str_eq(mime_type("a.dup", DFLT), "image/x-first", "first mention wins");
    cr_expect_str_eq(mime_type("a.other", DFLT), "image/x-second");
    cr_expect_str_eq(mime_type("a.thing", DFLT), "application/vnd.thing+json; charset=utf-8");
    cr_expect_str_eq(mime_type("a.xthing", DFLT), "application/vnd.thing+xml; charset=utf-8");
    cr_expect_str_eq(mime_type("a.params", DFLT), "text/x-params;charset=latin1");
    cr_expect_str_eq(mime_type("a.ext", DFLT), DFLT, "a line without a type is ignored");
    /* a type that is no media type would go out as written: ignored too */
    cr_expect_str_eq(mime_type("a.ctl", DFLT), DFLT);
    cr_expect_str_eq(mime_type("a.quux", DFLT), DFLT);
    cr_expect_str_eq(mime_type("a.slash", DFLT), DFLT);
    cr_expect_str_eq(mime_type("a.last", DFLT), "image/x-nocomment");
    /* the built-in table still answers what the file does not know */
    cr_expect_str_eq(mime_type("a.wasm", DFLT), "application/wasm");
    cr_expect_eq(mime_type("a.foo", DFLT), mime_type("b.foo", DFLT));

    /* a second load replaces the first */
    p = write_tmp("image/x-new new\n");
    cr_assert_eq(mime_load(p), 0);
    unlink(p);
    cr_expect_str_eq(mime_type("a.new", DFLT), "image/x-new");
    cr_expect_str_eq(mime_type("a.foo", DFLT), DFLT);
    cr_expect_str_eq(mime_type("a.html", DFLT), "text/html; charset=utf-8");

    mime_unload();
    cr_expect_str_eq(mime_type("a.new", DFLT), DFLT);
    cr_expect_str_eq(mime_type("a.html", DFLT), "text/html; charset=utf-8");
}

Test(mime, load_errors)
{
    mime_unload();
    cr_expect_eq(mime_load("/nonexistent/berth/mime.types"), -ENOENT);
    cr_expect_eq(mime_load("/tmp"), -EINVAL, "a directory is not a mime.types file");
    cr_expect_str_eq(mime_type("a.html", DFLT), "text/html; charset=utf-8");
    char *p = write_tmp("");
    cr_expect_eq(mime_load(p), 0, "an empty file is fine");
    unlink(p);
    cr_expect_str_eq(mime_type("a.css", DFLT), "text/css; charset=utf-8");
    mime_unload();
    mime_unload(); /* idempotent */
}

Test(mime, system_file)
{
    if (access("/etc/mime.types", R_OK) != 0) cr_skip_test("no /etc/mime.types here");
    cr_assert_eq(mime_load("/etc/mime.types"), 0);
    cr_expect_str_eq(mime_type("a.html", DFLT), "text/html; charset=utf-8");
    cr_expect_str_eq(mime_type("a.js", DFLT), "text/javascript; charset=utf-8");
    cr_expect_str_eq(mime_type("a.png", DFLT), "image/png");
    cr_expect_str_eq(mime_type("a.PNG", DFLT), "image/png");
    cr_expect_str_eq(mime_type("a.json", DFLT), "application/json; charset=utf-8");
    mime_unload();
}

Test(mime, svgz_is_gzip_encoded_svg)
{
    mime_unload();
    cr_expect_str_eq(mime_type("logo.svgz", DFLT), "image/svg+xml");
    cr_expect_str_eq(mime_type("/a/LOGO.SVGZ", DFLT), "image/svg+xml");
    cr_expect_str_eq(mime_encoding("logo.svgz"), "gzip");
    cr_expect_str_eq(mime_encoding("/a/b/LOGO.SvgZ"), "gzip");
    cr_expect_null(mime_encoding("logo.svg"));
    cr_expect_null(mime_encoding("a.gz"), "a .gz file is application/gzip, not encoded");
    cr_expect_null(mime_encoding("a.tar.gz"));
    cr_expect_null(mime_encoding("svgz"));
    cr_expect_null(mime_encoding("/a/.svgz"));
    cr_expect_null(mime_encoding("a.svgz/x"));
    /* a mime.types file that lists svgz with a text type changes nothing */
    char *p = write_tmp("image/svg+xml svg svgz\n");
    cr_assert_eq(mime_load(p), 0);
    unlink(p);
    cr_expect_str_eq(mime_type("logo.svgz", DFLT), "image/svg+xml");
    mime_unload();
}

static const char *sniff(const char *type, const char *head)
{
    static char out[96];
    return mime_charset_sniff(type, head, strlen(head), out, sizeof out);
}

#define HTML "text/html; charset=utf-8"
#define CSS  "text/css; charset=utf-8"
#define XML  "application/xml; charset=utf-8"
#define SVG  "image/svg+xml; charset=utf-8"

Test(mime, charset_declared_by_the_file_wins)
{
    static const struct {
        const char *type, *head, *want;
    } t[] = {
        /* HTML: <meta charset> and http-equiv, any case, quoted or not */
        {HTML, "<!doctype html><meta charset=\"windows-1252\"><p>caf\xe9",
         "text/html; charset=windows-1252"},
        {HTML, "<html><head><META CHARSET='ISO-8859-1'>", "text/html; charset=ISO-8859-1"},
        {HTML, "<meta charset=koi8-r>", "text/html; charset=koi8-r"},
        {HTML,
         "<meta name=x><meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">",
         "text/html; charset=Shift_JIS"},
        {HTML, "<meta charset=\"utf-8\">", HTML},
        {HTML, "<meta charset=\"UTF-8\">", HTML},
        {HTML, "<meta charset=\"utf8\">", HTML},
        {HTML, "<!doctype html><title>no declaration</title>", HTML},
        {HTML, "<meta name=\"description\" content=\"charset talk\">", HTML},
        {HTML, "<meta charset=\"a b\">", "text/html; charset=a"}, /* the token before the space */
        {HTML, "<meta charset=\"\r\nSet-Cookie: x\">", HTML},     /* never a header line */
        {HTML, "", HTML},
        /* CSS: a leading @charset only */
        {CSS, "@charset \"iso-8859-15\";\nbody{}", "text/css; charset=iso-8859-15"},
        {CSS, "body{} @charset \"iso-8859-15\";", CSS},
        {CSS, "@charset \"utf-8\";", CSS},
        {CSS, "@charset \"unterminated", CSS},
        /* XML: the declaration's encoding */
        {XML, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
         "application/xml; charset=ISO-8859-1"},
        {SVG, "<?xml version='1.0' encoding='windows-1251'?><svg/>",
         "image/svg+xml; charset=windows-1251"},
        {XML, "<?xml version=\"1.0\"?><a encoding=\"latin1\"/>", XML},
        {XML, "<a/>", XML},
        /* types that carry no utf-8 of ours are left alone */
        {"text/plain; charset=utf-8", "<meta charset=latin1>", "text/plain; charset=utf-8"},
        {"image/png", "<?xml encoding='x'?>", "image/png"},
        {"text/x-params;charset=latin1", "<meta charset=koi8-r>", "text/x-params;charset=latin1"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_str_eq(sniff(t[i].type, t[i].head), t[i].want, "%s | %s", t[i].type, t[i].head);
    /* byte order marks */
    cr_expect_str_eq(
        mime_charset_sniff(HTML, "\xef\xbb\xbf<meta charset=latin1>", 25, (char[96]){0}, 96), HTML);
    cr_expect_str_eq(mime_charset_sniff(HTML, "\xff\xfe<\0h\0", 6, (char[96]){0}, 96), "text/html");
    cr_expect_str_eq(mime_charset_sniff(XML, "\xfe\xff\0<", 4, (char[96]){0}, 96),
                     "application/xml");
    /* only the first 1024 bytes are looked at */
    char big[2048];
    memset(big, ' ', sizeof big);
    memcpy(big + 1500, "<meta charset=latin1>", 21);
    big[sizeof big - 1] = '\0';
    cr_expect_str_eq(sniff(HTML, big), HTML);
    memcpy(big + 100, "<meta charset=latin1>", 21);
    cr_expect_str_eq(sniff(HTML, big), "text/html; charset=latin1");
    /* too small a buffer: the type is kept rather than cut */
    char tiny[12];
    cr_expect_str_eq(mime_charset_sniff(HTML, "<meta charset=latin1>", 21, tiny, sizeof tiny),
                     HTML);
    cr_expect(mime_sniffs(HTML) && mime_sniffs(CSS) && mime_sniffs(XML) && mime_sniffs(SVG));
    cr_expect(!mime_sniffs("text/plain; charset=utf-8") && !mime_sniffs("image/png"));
}

/* found by fuzz_mime_sniff: a NUL byte passed the token check (strchr finds
 * the set's own terminator), so "<meta charset=" followed by NULs gave
 * "text/html; charset=" with an empty name in the header */
Test(mime, charset_name_with_nul_bytes_is_no_declaration)
{
    static const char html[] = "<meta charset=\0\0\0\0\0\0\">";
    char out[96];
    cr_expect_str_eq(mime_charset_sniff(HTML, html, sizeof html - 1, out, sizeof out), HTML);
    static const char css[] = "@charset \"\0x\";";
    cr_expect_str_eq(mime_charset_sniff(CSS, css, sizeof css - 1, out, sizeof out), CSS);
    static const char xml[] = "<?xml version='1.0' encoding='\0latin1'?>";
    cr_expect_str_eq(mime_charset_sniff(XML, xml, sizeof xml - 1, out, sizeof out), XML);
}

/* ':' is no tchar (RFC 9110 §5.6.2), but registered charset names and
 * browser labels hold it (ISO_8859-1:1987, a label of windows-1252): the
 * name goes out as a quoted-string, the one other form a parameter value
 * may take (§5.6.6), so the header stays valid and still says what the
 * file declares */
Test(mime, a_charset_name_that_is_no_token_goes_out_quoted)
{
    cr_expect_str_eq(sniff(HTML, "<meta charset=\"ISO_8859-1:1987\"><p>caf\xe9"),
                     "text/html; charset=\"ISO_8859-1:1987\"");
    cr_expect_str_eq(sniff(HTML, "<meta http-equiv=Content-Type content='text/html; "
                                 "charset=iso_8859-1:1987'>"),
                     "text/html; charset=\"iso_8859-1:1987\"");
    cr_expect_str_eq(sniff(CSS, "@charset \"ISO_8859-1:1987\";"),
                     "text/css; charset=\"ISO_8859-1:1987\"");
    cr_expect_str_eq(sniff(XML, "<?xml version='1.0' encoding='ISO_8859-1:1987'?><a/>"),
                     "application/xml; charset=\"ISO_8859-1:1987\"");
    cr_expect_str_eq(sniff(HTML, "<meta charset=latin1>"), "text/html; charset=latin1");
    /* the quotes need room too: without it the type is kept, never cut */
    static const char want[] = "text/html; charset=\"a:b\"";
    char out[sizeof want];
    cr_expect_str_eq(mime_charset_sniff(HTML, "<meta charset=a:b>", 18, out, sizeof out), want);
    cr_expect_str_eq(mime_charset_sniff(HTML, "<meta charset=a:b>", 18, out, sizeof out - 1), HTML);
}
