/* mime — Content-Type by file name extension.
 *
 * Two tables: an optional one loaded from an /etc/mime.types-style file,
 * consulted first, and a built-in one for the modern web.  Every type a
 * text format (text/..., JSON, JavaScript, XML, SVG...) comes back with
 * "; charset=utf-8" already appended, so lookups never allocate and the
 * strings returned stay valid until the next mime_load()/mime_unload(). */
#ifndef BERTH_MIME_H
#define BERTH_MIME_H

/* Loads `file` ("type ext1 ext2 ..." per line, '#' starts a comment) into the
 * table consulted before the built-in one, replacing any earlier load; an
 * extension listed twice keeps its first type.  .js and .mjs stay
 * text/javascript whatever the file says (RFC 9239).  0, or -errno (-ENOENT
 * for a missing file, which callers may treat as "built-ins only").  Call it
 * during setup: it is not safe against concurrent mime_type() calls. */
int mime_load(const char *file);

/* Forgets the loaded table (the built-in one remains). */
void mime_unload(void);

/* The type for path by its last extension, compared case-insensitively
 * ("a/b.tar.GZ" -> application/gzip); dflt when there is none or it is
 * unknown.  A leading dot does not start an extension (".bashrc"). */
const char *mime_type(const char *path, const char *dflt);

#endif
