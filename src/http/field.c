#include "http/field.h"

#include "http/str.h"

/* tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
 * "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static int tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c && c < 0x80 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int http_field_token(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)s[i])) return 0;
    return 1;
}

int http_field_value(const char *s, size_t n)
{
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != ' ' && c != '\t' && (c < 0x21 || c == 0x7f)) return 0;
    }
    return 1;
}

int http_field_reserved(const char *name, size_t n)
{
    /* the framing fields (RFC 9112 §6, RFC 9110 §7.6.1) and the two lines
     * every response head already starts with */
    static const char *const own[] = {"content-length", "transfer-encoding",
                                      "connection",     "keep-alive",
                                      "upgrade",        "te",
                                      "trailer",        "date",
                                      "server"};
    struct http_str s = http_str_make(name, n);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (http_str_eq_ci(s, own[i])) return 1;
    return 0;
}
