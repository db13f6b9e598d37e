/* libFuzzer target for the CORS preflight answer (policy_preflight in
 * src/http/policy.c), which echoes a client's Access-Control-Request-Headers
 * into a response head: a header-injection risk if it lets CR, LF or other
 * non-token bytes through.
 *
 * Input: byte 0 picks the configured origin and the Allow line; the rest is
 * a request head, parsed by http_parse_request as the server does.
 * Invariants:
 *   - a 204 exactly when the request is OPTIONS with Origin and
 *     Access-Control-Request-Method, else nothing is appended;
 *   - the answer is one head: a status line, "Name: value" lines of visible
 *     ASCII and SP/HTAB (no bare CR or LF), a blank line at its very end;
 *   - Access-Control-Allow-Methods is what Allow says, and
 *     Access-Control-Allow-Headers, when present, is the requested value
 *     trimmed and is a comma list of tokens; when the requested value is
 *     a non-empty token list of <= 1024 bytes, it is present. */
#include "buf.h"
#include "harness.h"
#include "http/parse.h"
#include "http/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_str find(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (fz_eq_ci(r->headers[i].name.p, r->headers[i].name.n, name)) return r->headers[i].value;
    return http_str_make(NULL, 0);
}

/* the reference: members split at ',', each trimmed of SP/HTAB, empty or a
 * token; at least one token */
static int ref_token_list(const char *s, size_t n)
{
    int any = 0;
    size_t at = 0, a, b;
    while (fz_list_next(s, n, &at, &a, &b)) {
        for (size_t k = a; k < b; k++)
            if (!fz_tchar((unsigned char)s[k])) return 0;
        any |= b > a;
    }
    return any;
}

/* the value of the answer's field name, or p NULL */
static struct http_str answer_field(const char *h, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = memchr(h, '\n', n); p && p + 1 < h + n;
         p = memchr(p + 1, '\n', (size_t)(h + n - p - 1))) {
        const char *line = p + 1, *e = memchr(line, '\r', (size_t)(h + n - line));
        if (!e) break;
        if ((size_t)(e - line) > nl + 1 && fz_eq_ci(line, nl, name) && line[nl] == ':')
            return http_str_make(line + nl + 2, (size_t)(e - line - nl - 2));
    }
    return http_str_make(NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const origins[] = {"*", "https://a.example", "null", "http://[::1]:8080"};
    static const char *const allows[] = {"Allow: GET, HEAD, OPTIONS\r\n",
                                         "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"};
    if (size < 1) return 0;
    struct policy pol;
    memset(&pol, 0, sizeof pol);
    pol.cors = (char *)origins[data[0] & 3];
    const char *allow = allows[(data[0] >> 2) & 1];
    int keep = (data[0] >> 3) & 1;
    char *head;
    struct http_request req;
    struct http_header h[100];
    if (fz_parse_head(data + 1, size - 1, &head, &req, h) > 0) {
        struct buf out;
        buf_init(&out, 0);
        int rc = policy_preflight(&pol, &req, allow, keep, &out);
        struct http_str origin = find(&req, "origin"),
                        acrm = find(&req, "access-control-request-method"),
                        acrh = find(&req, "access-control-request-headers");
        int want = req.method == HTTP_OPTIONS && origin.p && acrm.p;
        if (rc != (want ? 204 : 0)) abort();
        if (!want && buf_len(&out)) abort();
        if (want) {
            const char *s = buf_head(&out);
            size_t len = buf_len(&out);
            if (len < 16 || memcmp(s, "HTTP/1.", 7) || memcmp(s + 8, " 204", 4)) abort();
            if (memcmp(s + len - 4, "\r\n\r\n", 4)) abort();
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '\r' && (i + 1 >= len || s[i + 1] != '\n')) abort();
                if (c == '\n' && (i == 0 || s[i - 1] != '\r')) abort();
                if (c != '\r' && c != '\n' && c != '\t' && (c < 0x20 || c >= 0x7f)) abort();
            }
            struct http_str m = answer_field(s, len, "access-control-allow-methods");
            const char *am = allow + 7;
            if (!m.p || m.n != strlen(am) - 2 || memcmp(m.p, am, m.n)) abort();
            struct http_str ah = answer_field(s, len, "access-control-allow-headers");
            int listed = acrh.p && acrh.n <= 1024 && ref_token_list(acrh.p, acrh.n);
            if (listed != (ah.p != NULL)) abort();
            if (ah.p) {
                struct http_str t = http_str_trim(acrh);
                if (ah.n != t.n || memcmp(ah.p, t.p, t.n)) abort();
            }
        }
        buf_free(&out);
    }
    free(head);
    return 0;
}
