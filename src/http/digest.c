/* digest — RFC 9530 digests, the Want-*-Digest parser, base64. */
#include "http/digest.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static const char *const names[HTTP_DIGEST_ALGS] = {"sha-256", "sha-512"};
static const size_t lens[HTTP_DIGEST_ALGS] = {32, 64};

/* Fetched once per process: EVP_sha256() would look the implementation up
 * again (under a lock shared by every thread) at each use. */
static EVP_MD *mds[HTTP_DIGEST_ALGS];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

static void mds_free(void)
{
    for (int i = 0; i < HTTP_DIGEST_ALGS; i++) {
        EVP_MD_free(mds[i]);
        mds[i] = NULL;
    }
}

static void mds_fetch(void)
{
    mds[HTTP_DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    mds[HTTP_DIGEST_SHA512] = EVP_MD_fetch(NULL, "SHA2-512", NULL);
    /* released by OpenSSL's own cleanup at exit, before the provider that
     * made them goes, so a leak check sees every block freed */
    OPENSSL_atexit(mds_free);
}

static const EVP_MD *md(int alg)
{
    pthread_once(&mds_once, mds_fetch);
    return alg >= 0 && alg < HTTP_DIGEST_ALGS ? mds[alg] : NULL;
}

const char *http_digest_name(int alg)
{
    return alg >= 0 && alg < HTTP_DIGEST_ALGS ? names[alg] : "";
}

size_t http_digest_len(int alg)
{
    return alg >= 0 && alg < HTTP_DIGEST_ALGS ? lens[alg] : 0;
}

int http_digest_mem(int alg, const void *p, size_t n, uint8_t *out)
{
    const EVP_MD *m = md(alg);
    if (!m) return -ENOTSUP;
    return EVP_Digest(p, n, out, NULL, m, NULL) == 1 ? 0 : -ENOMEM;
}

struct http_digest_run *http_digest_start(int alg)
{
    const EVP_MD *m = md(alg);
    EVP_MD_CTX *ctx = m ? EVP_MD_CTX_new() : NULL;
    if (ctx && EVP_DigestInit_ex2(ctx, m, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return (struct http_digest_run *)ctx;
}

int http_digest_update(struct http_digest_run *r, const void *p, size_t n)
{
    return EVP_DigestUpdate((EVP_MD_CTX *)r, p, n) == 1 ? 0 : -ENOMEM;
}

int http_digest_finish(struct http_digest_run *r, uint8_t *out)
{
    EVP_MD_CTX *ctx = (EVP_MD_CTX *)r;
    int rc = !out || EVP_DigestFinal_ex(ctx, out, NULL) == 1 ? 0 : -ENOMEM;
    EVP_MD_CTX_free(ctx);
    return rc;
}

size_t http_base64(char *out, const uint8_t *in, size_t n, int url)
{
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = abc[(v >> 6) & 63];
        if (!url) {
            if (i + 1 >= n) out[o++] = '=';
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return o;
}

size_t http_digest_field(char *out, size_t n, const char *name, unsigned algs,
                         const uint8_t *const digest[HTTP_DIGEST_ALGS])
{
    size_t need = strlen(name) + 4, o;
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if (algs & (1u << a)) need += strlen(names[a]) + 4 + 4 * ((lens[a] + 2) / 3) + 2;
    if (need + 1 > n || !algs) return 0;
    o = (size_t)(stpcpy(stpcpy(out, name), ": ") - out);
    for (int a = 0, first = 1; a < HTTP_DIGEST_ALGS; a++) {
        if (!(algs & (1u << a))) continue;
        if (!first) o = (size_t)(stpcpy(out + o, ", ") - out);
        first = 0;
        o = (size_t)(stpcpy(stpcpy(out + o, names[a]), "=:") - out);
        o += http_base64(out + o, digest[a], lens[a], 0);
        out[o++] = ':';
    }
    memcpy(out + o, "\r\n", 3);
    return o + 2;
}

/* ---- RFC 9651 Structured Fields: just enough to validate a dictionary ---- */

struct sf {
    const char *p, *e;
};

static int at(const struct sf *s, char c)
{
    return s->p < s->e && *s->p == c;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_lcalpha(int c)
{
    return c >= 'a' && c <= 'z';
}

static int is_alpha(int c)
{
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

static int is_tchar(int c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void ows(struct sf *s)
{
    while (s->p < s->e && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

static void sp(struct sf *s)
{
    while (at(s, ' '))
        s->p++;
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" );
 * its span in *k */
static int key(struct sf *s, struct sf *k)
{
    if (s->p >= s->e || !(is_lcalpha(*s->p) || *s->p == '*')) return -1;
    k->p = s->p++;
    while (s->p < s->e &&
           (is_lcalpha(*s->p) || is_digit(*s->p) || (*s->p && strchr("_-.*", *s->p))))
        s->p++;
    k->e = s->p;
    return 0;
}

/* sf-integer or sf-decimal; *ival set for an integer, *is_int tells */
static int number(struct sf *s, long long *ival, int *is_int)
{
    int neg = at(s, '-'), digits = 0, frac = -1;
    long long v = 0;
    if (neg) s->p++;
    if (s->p >= s->e || !is_digit(*s->p)) return -1;
    for (; s->p < s->e; s->p++) {
        if (is_digit(*s->p)) {
            if (frac >= 0)
                frac++;
            else
                v = v * 10 + (*s->p - '0');
            if (++digits > 15) return -1;
        } else if (*s->p == '.' && frac < 0) {
            if (digits > 12) return -1;
            frac = 0;
        } else {
            break;
        }
    }
    if (frac == 0 || frac > 3) return -1; /* "1." or too many fraction digits */
    *is_int = frac < 0;
    *ival = neg ? -v : v;
    return 0;
}

static int bare_item(struct sf *s, long long *ival, int *is_int)
{
    *is_int = 0;
    if (s->p >= s->e) return -1;
    char c = *s->p;
    if (c == '-' || is_digit(c)) return number(s, ival, is_int);
    if (c == '"') { /* sf-string: printable ASCII, \" and \\ escapes */
        for (s->p++; s->p < s->e; s->p++) {
            unsigned char ch = (unsigned char)*s->p;
            if (ch == '"') {
                s->p++;
                return 0;
            }
            if (ch == '\\') {
                if (++s->p >= s->e || (*s->p != '"' && *s->p != '\\')) return -1;
            } else if (ch < 0x20 || ch > 0x7e) {
                return -1;
            }
        }
        return -1;
    }
    if (is_alpha(c) || c == '*') { /* sf-token */
        for (s->p++; s->p < s->e && (is_tchar(*s->p) || *s->p == ':' || *s->p == '/'); s->p++)
            ;
        return 0;
    }
    if (c == ':') { /* sf-binary */
        for (s->p++; s->p < s->e; s->p++) {
            if (*s->p == ':') {
                s->p++;
                return 0;
            }
            /* *s->p != 0: strchr would find the set's own terminator */
            if (!is_alpha(*s->p) && !is_digit(*s->p) && (!*s->p || !strchr("+/=", *s->p)))
                return -1;
        }
        return -1;
    }
    if (c == '?') { /* sf-boolean */
        if (s->e - s->p < 2 || (s->p[1] != '0' && s->p[1] != '1')) return -1;
        s->p += 2;
        return 0;
    }
    if (c == '@') { /* sf-date: an integer */
        s->p++;
        return number(s, ival, is_int) < 0 || !*is_int ? -1 : (*is_int = 0);
    }
    return -1; /* a Display String, or no item at all */
}

static int parameters(struct sf *s)
{
    while (at(s, ';')) {
        s->p++;
        sp(s);
        struct sf k;
        long long v;
        int is_int;
        if (key(s, &k) < 0) return -1;
        if (at(s, '=')) {
            s->p++;
            if (bare_item(s, &v, &is_int) < 0) return -1;
        }
    }
    return 0;
}

/* an Item or an Inner List; *is_int tells whether it is an Integer (in *ival) */
static int member_value(struct sf *s, long long *ival, int *is_int)
{
    *is_int = 0;
    if (!at(s, '(')) return bare_item(s, ival, is_int) < 0 ? -1 : parameters(s);
    long long v;
    int i;
    for (s->p++;;) {
        sp(s);
        if (at(s, ')')) {
            s->p++;
            return parameters(s);
        }
        if (bare_item(s, &v, &i) < 0 || parameters(s) < 0) return -1;
        if (!at(s, ' ') && !at(s, ')')) return -1;
    }
}

static int alg_of(const struct sf *k)
{
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if ((size_t)(k->e - k->p) == strlen(names[a]) && !memcmp(k->p, names[a], strlen(names[a])))
            return a;
    return -1;
}

int http_digest_want_parse(const char *str, size_t n, struct http_digest_want *w)
{
    struct sf s = {str, str + n};
    memset(w, 0, sizeof *w);
    sp(&s);
    while (s.e > s.p && s.e[-1] == ' ')
        s.e--;
    while (s.p < s.e) {
        struct sf k;
        long long v = 0;
        int is_int = 0;
        if (key(&s, &k) < 0) goto bad;
        if (at(&s, '=')) {
            s.p++;
            if (member_value(&s, &v, &is_int) < 0) goto bad;
        } else if (parameters(&s) < 0) { /* a bare key is Boolean true */
            goto bad;
        }
        int a = alg_of(&k);
        if (a >= 0) w->pref[a] = is_int && v >= 0 && v <= 10 ? (uint8_t)v : 0;
        ows(&s);
        if (s.p == s.e) return 0;
        if (*s.p++ != ',') goto bad;
        ows(&s);
        if (s.p == s.e) goto bad; /* a trailing comma */
    }
    return 0; /* empty: a valid, empty dictionary */
bad:
    memset(w, 0, sizeof *w);
    return -1;
}

int http_digest_choose(const struct http_digest_want *w, unsigned avail)
{
    int best = -1;
    for (int a = 0; a < HTTP_DIGEST_ALGS; a++)
        if ((avail & (1u << a)) && w->pref[a] && (best < 0 || w->pref[a] > w->pref[best])) best = a;
    return best;
}
