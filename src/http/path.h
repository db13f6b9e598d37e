/* path — turning a request target into a safe, canonical URL path.
 *
 * Pure functions: no file system access, no allocation.  The file server
 * maps the result onto its root only after it has passed through here. */
#ifndef BERTH_HTTP_PATH_H
#define BERTH_HTTP_PATH_H

#include <stddef.h>

/* Normalises the path of the request target target[0..len) into out:
 *   - stops at the first '?' or '#' (query and fragment are not the path);
 *   - percent-decodes (%zz, a truncated %4, and %00 or a raw NUL: -400);
 *   - removes "." and ".." segments (RFC 3986 §5.2.4), clamped at the root
 *     so ".." can never climb above "/";
 *   - collapses runs of '/', and keeps a trailing '/'.
 * Decoding happens first, so an encoded "%2F" becomes a separator and
 * "%2e%2e" a ".." segment *before* dot segments are removed: whatever the
 * encoding, no "." or ".." survives.  Other decoded bytes (a '\' from %5C)
 * are ordinary name bytes.
 * The result is NUL-terminated and always begins with '/'.  Returns its
 * length; -400 when target does not begin with '/' or an escape is invalid;
 * -414 when out is too small for the path as it is being built (the decoded
 * path is never longer than the target, so outlen > len always suffices). */
int http_path_normalize(const char *target, size_t len, char *out, size_t outlen);

/* 1 when a segment of the normalised path begins with '.', which the server
 * treats as hidden; a first segment ".well-known" (RFC 8615) does not count,
 * only the ones below it.  0 otherwise. */
int http_path_hidden(const char *path);

#endif
