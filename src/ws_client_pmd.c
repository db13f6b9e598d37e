/* ws_client_pmd — the client's permessage-deflate offer and the check of
 * the server's answer (see ws_client_pmd.h). */
#include "ws_client_pmd.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ws_client_pmd_offer(const struct ws_deflate *o, char *out, size_t n)
{
    int sb = o->server_max_window_bits, cb = o->client_max_window_bits;
    if ((sb && (sb < 8 || sb > 15)) || (cb && (cb < 8 || cb > 15))) return BERTH_EUSAGE;
    char sbs[40] = "", cbs[8] = "";
    if (sb) snprintf(sbs, sizeof sbs, "; server_max_window_bits=%d", sb);
    if (cb) snprintf(cbs, sizeof cbs, "=%d", cb);
    int k = snprintf(out, n, "permessage-deflate%s%s%s; client_max_window_bits%s",
                     o->server_no_context_takeover ? "; server_no_context_takeover" : "",
                     o->client_no_context_takeover ? "; client_no_context_takeover" : "", sbs, cbs);
    return k > 0 && (size_t)k < n ? 0 : BERTH_EUSAGE;
}

static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct scan {
    const char *p, *end;
    char *why;
    size_t wn;
};

static int bad(struct scan *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, s->wn, fmt, ap);
    va_end(ap);
    return BERTH_EPROTO;
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

/* A token at s->p into t (at most tn - 1 bytes, NUL-terminated); its
 * length, 0 when there is none. */
static size_t token(struct scan *s, char *t, size_t tn)
{
    size_t k = 0;
    for (; s->p < s->end && is_tchar((unsigned char)*s->p); s->p++)
        if (k < tn - 1) t[k++] = *s->p;
    t[k] = '\0';
    return k;
}

/* name [= token | quoted-string]: the name into nm, the value (a quoted
 * one unescaped; RFC 6455 §9.1 wants a token after that) into val, or
 * *has_val 0.  0 or BERTH_EPROTO. */
static int param(struct scan *s, char *nm, size_t nn, char *val, size_t vn, int *has_val)
{
    skip_ws(s);
    if (!token(s, nm, nn)) return bad(s, "a parameter without a name");
    skip_ws(s);
    *has_val = 0;
    val[0] = '\0';
    if (s->p == s->end || *s->p != '=') return 0;
    s->p++;
    skip_ws(s);
    *has_val = 1;
    if (s->p < s->end && *s->p == '"') {
        size_t k = 0;
        for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
            if (*s->p == '\\' && ++s->p == s->end) break;
            if (k < vn - 1) val[k++] = *s->p;
        }
        if (s->p == s->end) return bad(s, "an unterminated quoted value of %s", nm);
        s->p++;
        val[k] = '\0';
        for (size_t i = 0; i < k; i++)
            if (!is_tchar((unsigned char)val[i]))
                return bad(s, "the value of %s is not a token (RFC 6455 section 9.1)", nm);
        if (!k) return bad(s, "an empty value of %s", nm);
    } else if (!token(s, val, vn)) {
        return bad(s, "%s= without a value", nm);
    }
    skip_ws(s);
    return 0;
}

/* "8".."15" without leading zeros, else -1 */
static int window_bits(const char *v)
{
    if (!strcmp(v, "8") || !strcmp(v, "9")) return v[0] - '0';
    if (strlen(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + v[1] - '0';
    return -1;
}

/* Up to 20 bytes at s->p for an error message, unprintable ones as '?' */
static const char *snippet(const struct scan *s, char out[21])
{
    size_t k = 0;
    for (const char *q = s->p; q < s->end && k < 20; q++)
        out[k++] = *q >= 0x20 && *q < 0x7f ? *q : '?';
    out[k] = '\0';
    return out;
}

#define FIX "; the server breaks RFC 7692: fix it, or connect without --ws-deflate"

int ws_client_pmd_accept(const struct ws_deflate *o, const char *v, size_t n, struct ws_pmd_conf *c,
                         char *why, size_t wn)
{
    struct scan s = {v, v + n, why, wn};
    int agreed = 0, sb = 0, cb = 0, snc = 0, cnc = 0;
    memset(c, 0, sizeof *c);
    while (s.p < s.end) {
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') { /* empty list elements are allowed */
            s.p++;
            continue;
        }
        if (s.p == s.end) break;
        char name[64], val[32], at[21];
        if (!token(&s, name, sizeof name))
            return bad(&s, "the server's Sec-WebSocket-Extensions is malformed at \"%s\"" FIX,
                       snippet(&s, at));
        if (strcasecmp(name, "permessage-deflate"))
            return bad(&s,
                       "the server chose the extension \"%s\", which this client did not offer "
                       "(RFC 6455 section 9.1); the server is broken: fix it",
                       name);
        if (agreed++)
            return bad(&s, "the server accepted permessage-deflate twice (RFC 7692 section 5)" FIX);
        int seen_sb = 0, seen_cb = 0, seen_snc = 0, seen_cnc = 0;
        skip_ws(&s);
        while (s.p < s.end && *s.p == ';') {
            s.p++;
            int has_val, rc = param(&s, name, sizeof name, val, sizeof val, &has_val);
            if (rc < 0) {
                char what[120];
                snprintf(what, sizeof what, "%s", why);
                return bad(&s, "the server's permessage-deflate answer has %s" FIX, what);
            }
            int *seen = !strcasecmp(name, "server_max_window_bits")       ? &seen_sb
                        : !strcasecmp(name, "client_max_window_bits")     ? &seen_cb
                        : !strcasecmp(name, "server_no_context_takeover") ? &seen_snc
                        : !strcasecmp(name, "client_no_context_takeover") ? &seen_cnc
                                                                          : NULL;
            if (!seen)
                return bad(&s,
                           "the server's permessage-deflate answer has the unknown parameter "
                           "%s (RFC 7692 section 7.1)" FIX,
                           name);
            if ((*seen)++)
                return bad(&s,
                           "the server's permessage-deflate answer repeats %s (RFC 7692 "
                           "section 7.1)" FIX,
                           name);
            if (seen == &seen_snc || seen == &seen_cnc) {
                if (has_val)
                    return bad(&s,
                               "the server's permessage-deflate answer gives %s a value (RFC "
                               "7692 section 7.1.1)" FIX,
                               name);
                *(seen == &seen_snc ? &snc : &cnc) = 1;
                continue;
            }
            int b = has_val ? window_bits(val) : -1;
            if (b < 0)
                return bad(&s,
                           "the server's permessage-deflate answer has %s=%s, not a window of "
                           "8 to 15 bits (RFC 7692 section 7.1.2)" FIX,
                           name, has_val ? val : "(none)");
            *(seen == &seen_sb ? &sb : &cb) = b;
        }
        if (s.p < s.end && *s.p != ',')
            return bad(&s, "the server's Sec-WebSocket-Extensions is malformed at \"%s\"" FIX,
                       snippet(&s, at));
    }
    if (!agreed) return 0;
    /* what the offer allowed (RFC 7692 §7.1.1.1, §7.1.2) */
    if (o->server_no_context_takeover && !snc)
        return bad(&s, "the server accepted permessage-deflate without the "
                       "server_no_context_takeover asked for (RFC 7692 section 7.1.1.1)" FIX);
    if (o->server_max_window_bits && !sb)
        return bad(&s,
                   "the server accepted permessage-deflate without the server_max_window_bits=%d "
                   "asked for (RFC 7692 section 7.1.2.1)" FIX,
                   o->server_max_window_bits);
    if (o->server_max_window_bits && sb > o->server_max_window_bits)
        return bad(&s,
                   "the server's server_max_window_bits=%d is above the %d asked for (RFC 7692 "
                   "section 7.1.2.1)" FIX,
                   sb, o->server_max_window_bits);
    if (o->client_max_window_bits && cb > o->client_max_window_bits)
        return bad(&s,
                   "the server's client_max_window_bits=%d is above the %d offered (RFC 7692 "
                   "section 7.1.2.2)" FIX,
                   cb, o->client_max_window_bits);
    c->server_no_ctx = (uint8_t)snc;
    c->client_no_ctx = (uint8_t)(cnc || o->client_no_context_takeover);
    c->server_bits = (uint8_t)(sb ? sb : 15);
    /* ours: as the server said, else as offered (a promise, §7.1.2.2) */
    c->client_bits = (uint8_t)(cb ? cb : o->client_max_window_bits);
    return 1;
}
