/* encoding — Accept-Encoding parsing and the choice of a content coding
 * (the rules are in encoding.h). */
#include "http/encoding.h"

#include "http/str.h"

static int tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when s is not one */
static int qvalue(const char *s, size_t n)
{
    if (!n || (s[0] != '0' && s[0] != '1')) return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1) return q;
    if (s[1] != '.' || n > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

void http_ae_init(struct http_accept_enc *a)
{
    for (int i = 0; i < HTTP_ENC_N; i++)
        a->q[i] = -1;
    a->star = -1;
    a->present = 0;
}

/* One list element, already trimmed: token [ OWS ";" OWS "q=" qvalue ]. */
static void element(struct http_accept_enc *a, const char *p, size_t n)
{
    size_t t = 0;
    while (t < n && tchar((unsigned char)p[t]))
        t++;
    if (!t) return;
    int q = 1000;
    size_t i = t;
    while (i < n && ows(p[i]))
        i++;
    if (i < n) {
        if (p[i++] != ';') return;
        while (i < n && ows(p[i]))
            i++;
        if (n - i < 2 || (p[i] != 'q' && p[i] != 'Q') || p[i + 1] != '=') return;
        if ((q = qvalue(p + i + 2, n - i - 2)) < 0) return;
    }
    struct http_str tok = http_str_make(p, t);
    short *slot = NULL;
    if (http_str_eq_ci(tok, "*"))
        slot = &a->star;
    else if (http_str_eq_ci(tok, "identity"))
        slot = &a->q[HTTP_ENC_IDENTITY];
    else if (http_str_eq_ci(tok, "br"))
        slot = &a->q[HTTP_ENC_BR];
    else if (http_str_eq_ci(tok, "zstd"))
        slot = &a->q[HTTP_ENC_ZSTD];
    else if (http_str_eq_ci(tok, "gzip") || http_str_eq_ci(tok, "x-gzip"))
        slot = &a->q[HTTP_ENC_GZIP];
    if (slot && *slot < 0) *slot = (short)q;
}

void http_ae_parse(struct http_accept_enc *a, const char *v, size_t n)
{
    a->present = 1;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        /* no quoted strings in this grammar: a comma always ends an element */
        while (j < n && v[j] != ',')
            j++;
        struct http_str el = http_str_trim(http_str_make(v + i, j - i));
        if (el.n) element(a, el.p, el.n);
        i = j + 1;
    }
}

int http_ae_q(const struct http_accept_enc *a, enum http_enc e)
{
    if (!a->present) return e == HTTP_ENC_IDENTITY ? 1000 : 0;
    if (a->q[e] >= 0) return a->q[e];
    if (a->star >= 0) return a->star;
    return e == HTTP_ENC_IDENTITY ? 1 : 0;
}

enum http_enc http_ae_choose(const struct http_accept_enc *a, unsigned avail)
{
    enum http_enc best = HTTP_ENC_IDENTITY;
    int bq = 0;
    /* in tie-break order: a later coding must weigh strictly more */
    for (int e = HTTP_ENC_BR; e < HTTP_ENC_N; e++) {
        int q = http_ae_q(a, (enum http_enc)e);
        if ((avail & HTTP_ENC_BIT(e)) && q > bq) {
            best = (enum http_enc)e;
            bq = q;
        }
    }
    /* identity only when it weighs more; refused with nothing else
     * acceptable, it is still the answer (see encoding.h) */
    return http_ae_q(a, HTTP_ENC_IDENTITY) > bq ? HTTP_ENC_IDENTITY : best;
}

const char *http_enc_name(enum http_enc e)
{
    static const char *const n[HTTP_ENC_N] = {"identity", "br", "zstd", "gzip"};
    return (unsigned)e < HTTP_ENC_N ? n[e] : "identity";
}

const char *http_enc_suffix(enum http_enc e)
{
    static const char *const s[HTTP_ENC_N] = {"", ".br", ".zst", ".gz"};
    return (unsigned)e < HTTP_ENC_N ? s[e] : "";
}
