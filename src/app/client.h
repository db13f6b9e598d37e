/* app/client — the application-protocol client (Real Python's
 * app-client.py): one request, one response, printed for people or, with
 * `json`, as one JSON object for scripts.
 *
 * Returns 0 or a negative err.h code with one line in `why`: the server's
 * {"error": ...} reply, a malformed or truncated response, a timeout. */
#ifndef BERTH_APP_CLIENT_H
#define BERTH_APP_CLIENT_H

#include <stddef.h>
#include <stdio.h>

struct app_client_opt {
    const char *host;
    int port;
    const char *action; /* "search" goes as text/json; anything else as bytes */
    const char *value;
    int timeout_ms;     /* connect and inactivity limit; <= 0: none */
    size_t max_content; /* largest response content; 0 = APP_CONTENT_MAX */
    int json;           /* print {"header": {...}, "content": ...} */
    FILE *out;          /* NULL = stdout */
};

int app_client_run(const struct app_client_opt *o, char *why, size_t n);

/* Writes p[0..n) to f with printable text (valid UTF-8 included) as is and
 * everything else escaped (\n, \t, \\, \xNN), so bytes from a peer can never
 * drive the terminal. */
void app_print_escaped(FILE *f, const char *p, size_t n);
/* The same for text: backslashes, newlines and tabs are written as they are
 * (C:\dir stays C:\dir); other controls are still escaped. */
void app_print_text(FILE *f, const char *p, size_t n);

#endif
