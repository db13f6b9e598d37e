/* field — the checks a header field must pass before a handler's response
 * carries it: RFC 9110 syntax (so no CR/LF can split the response) and the
 * names the server writes itself (so framing is never duplicated). */
#ifndef BERTH_HTTP_FIELD_H
#define BERTH_HTTP_FIELD_H

#include <stddef.h>

/* 1 when s[0..n) is a token (RFC 9110 §5.6.2): one or more tchar. */
int http_field_token(const char *s, size_t n);

/* 1 when s[0..n) is a field value (RFC 9110 §5.5): VCHAR and obs-text with
 * SP/HTAB only between them; empty is allowed.  No CR, LF, NUL or other
 * control byte, no leading or trailing whitespace. */
int http_field_value(const char *s, size_t n);

/* 1 for a name berth writes itself and a handler may not add:
 * Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE,
 * Trailer, Date, Server (any case). */
int http_field_reserved(const char *name, size_t n);

#endif
