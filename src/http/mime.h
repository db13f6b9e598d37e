/* mime — Content-Type by file name extension.
 *
 * Two tables: an optional one loaded from an /etc/mime.types-style file,
 * consulted first, and a built-in one for the modern web.  Every type a
 * text format (text/..., JSON, JavaScript, XML, SVG...) comes back with
 * "; charset=utf-8" already appended, so lookups never allocate and the
 * strings returned stay valid until the next mime_load()/mime_unload();
 * mime_charset_sniff() replaces it where the file declares another. */
#ifndef BERTH_MIME_H
#define BERTH_MIME_H

#include <stddef.h>

/* Loads `file` ("type ext1 ext2 ..." per line, '#' starts a comment) into the
 * table consulted before the built-in one, replacing any earlier load; an
 * extension listed twice keeps its first type.  .js and .mjs stay
 * text/javascript whatever the file says (RFC 9239).  0, or -errno (-ENOENT
 * for a missing file, which callers may treat as "built-ins only").  Call it
 * during setup: it is not safe against concurrent mime_type() calls. */
int mime_load(const char *file);

/* 1 when t is an RFC 9110 §8.3.1 media-type with no whitespace outside
 * quotes: type "/" subtype, then ";" name "=" value parameters, a value a
 * token or a quoted-string ("text/plain", "text/x-a;charset=latin1"). */
int mime_type_ok(const char *t);

/* Forgets the loaded table (the built-in one remains). */
void mime_unload(void);

/* The type for path by its last extension, compared case-insensitively
 * ("a/b.tar.GZ" -> application/gzip); dflt when there is none or it is
 * unknown.  A leading dot does not start an extension (".bashrc"). */
const char *mime_type(const char *path, const char *dflt);

/* The Content-Encoding a name implies: "gzip" for .svgz (gzip-compressed
 * SVG, served as image/svg+xml so a browser inflates and renders it, as
 * nginx and Apache do); NULL otherwise (a .gz file is application/gzip). */
const char *mime_encoding(const char *path);

/* A text type from mime_type() carries "; charset=utf-8" because that is what
 * a file that declares nothing most likely is.  A file that declares its own
 * charset in its first bytes gets that one instead, so the header never
 * contradicts the file:
 *   HTML (text/html)   <meta charset=X> or <meta http-equiv=... content="...;
 *                      charset=X"> in the first 1024 bytes (the HTML prescan);
 *   CSS (text/css)     a leading @charset "X";
 *   XML (.../xml, +xml, XHTML)  the encoding="X" of a leading <?xml ...?>;
 *   any of them        a UTF-16 byte order mark: no charset at all (the BOM
 *                      decides, and utf-8 would be wrong).
 * head[0..n) are the file's first bytes.  Returns type itself when nothing
 * changes (no declaration, a declaration of UTF-8, an unsniffed type, a name
 * with a byte that is neither a token's nor ':'), or out (cap bytes) holding
 * "type; charset=X" or the bare type.  X is a token, or a quoted-string when
 * the name holds ':' (charset="ISO_8859-1:1987"): RFC 9110 §5.6.6 allows
 * nothing else in a parameter value. */
const char *mime_charset_sniff(const char *type, const char *head, size_t n, char *out, size_t cap);

/* Whether mime_charset_sniff() may change type (so a caller reads the head
 * of the file only for those types). */
int mime_sniffs(const char *type);

#endif
