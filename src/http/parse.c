/* The request parser makes one forward pass over a complete head
 * (parse_head), classifying bytes through one table.  The bytes it is given
 * end in LF, and LF belongs to no class, so its inner loops need no bounds
 * checks.  It gets such bytes in one of two ways:
 *   - the fast path: a client writes whole heads, so the receive buffer
 *     usually ends in LF already (pipelined or not).  Then the head is parsed
 *     straight away, in a single pass, and only a complete, valid head within
 *     the limits is taken; anything else (too few bytes, an error, a limit)
 *     goes the slow way, so every outcome but success is the slow path's.
 *   - the slow path: find_end() looks for the blank line that ends the head
 *     with memchr, resumably, enforcing the size limits as bytes arrive; once
 *     the whole head is there, parse_head() runs over exactly the head. */
#include "http/parse.h"

#include <limits.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* byte classes: T token (tchar), V field-value byte (HTAB, SP, VCHAR,
 * obs-text), R request-target byte (no whitespace, no CTL), H host byte
 * (RFC 3986 unreserved, sub-delims and '%') */
enum {
    T = 1,
    V = 2,
    R = 4,
    H = 8,
    A = T | V | R | H,
    TVR = T | V | R,
    VRH = V | R | H,
    VR = V | R
};

// clang-format off
static const unsigned char cls[256] = {
    /* 00 */ 0,  0,  0,   0,  0,  0,  0,  0,  0,   V,  0,  0,  0,   0,   0,  0,
    /* 10 */ 0,  0,  0,   0,  0,  0,  0,  0,  0,   0,  0,  0,  0,   0,   0,  0,
    /* 20 */ V,  A,  VR,  TVR, A, A,  A,  A,  VRH, VRH, A, A,  VRH, A,   A,  VR,
    /* 30 */ A,  A,  A,   A,  A,  A,  A,  A,  A,   A,  VR, VRH, VR, VRH, VR, VR,
    /* 40 */ VR, A,  A,   A,  A,  A,  A,  A,  A,   A,  A,  A,  A,   A,   A,  A,
    /* 50 */ A,  A,  A,   A,  A,  A,  A,  A,  A,   A,  A,  VR, VR,  VR,  TVR, A,
    /* 60 */ TVR, A, A,   A,  A,  A,  A,  A,  A,   A,  A,  A,  A,   A,   A,  A,
    /* 70 */ A,  A,  A,   A,  A,  A,  A,  A,  A,   A,  A,  VR, TVR, VR,  A,  0,
    /* 80 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* 90 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* a0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* b0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* c0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* d0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* e0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
    /* f0 */ VR, VR, VR,  VR, VR, VR, VR, VR, VR,  VR, VR, VR, VR,  VR,  VR, VR,
};
// clang-format on

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

/* Values and targets are most of a head's bytes, so they are skipped many
 * bytes at a time: V and R are exactly the bytes from lo (0x20 for V, 0x21
 * for R) up, DEL excepted, plus HTAB for V.  A block with no byte below lo
 * and no DEL is all class k; in the first other block the first such byte is
 * found directly, and from there (and for the last bytes before e, too few
 * for a block) the table decides, so an HTAB goes on byte by byte.
 *
 * With SSE2 (every x86-64) a block is 16 bytes: "below lo" is the unsigned
 * min(x, lo - 1) == x.  Elsewhere it is a 64-bit word (SWAR) and the classic
 * "has a byte less than n" (exact for n <= 128) and "has a zero byte" on
 * x ^ DEL; their lowest flag is exact (a borrow only runs towards higher
 * bytes), which on a little-endian machine locates the first stop byte. */
#define ONES 0x0101010101010101u
static inline __attribute__((always_inline)) const char *skip(const char *p, const char *e,
                                                              unsigned char lo, int k)
{
#ifdef __SSE2__
    const __m128i below = _mm_set1_epi8((char)(lo - 1)), del = _mm_set1_epi8(0x7f);
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i stop =
            _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, below), x), _mm_cmpeq_epi8(x, del));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m) {
            p += __builtin_ctz(m);
            e = p; /* no more blocks: the table goes on from here */
            break;
        }
        p += 16;
    }
#endif
    while (e - p >= 8) {
        uint64_t x, d, m;
        memcpy(&x, p, 8);
        d = x ^ (ONES * 0x7f);
        m = (((x - ONES * lo) & ~x) | ((d - ONES) & ~d)) & (ONES * 0x80);
        if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            p += __builtin_ctzll(m) / 8;
#endif
            break;
        }
        p += 8;
    }
    while (IS(*p, k))
        p++;
    return p;
}

/* Field names are nearly always letters and '-', both tchars: with SSE2, 16
 * bytes at a time look for the first other byte (a letter is
 * (x | 0x20) - 'a' <= 25 unsigned, which only letters meet), and from there
 * the table decides, so digits and the rarer tchars go on byte by byte.
 * Without SSE2 the table does it all. */
static const char *skip_name(const char *p, const char *e)
{
#ifdef __SSE2__
    const __m128i fold = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), z = _mm_set1_epi8(25),
                  dash = _mm_set1_epi8('-');
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i l = _mm_sub_epi8(_mm_or_si128(x, fold), a);
        __m128i ok = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, z), l), _mm_cmpeq_epi8(x, dash));
        unsigned m = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
        if (m) {
            p += __builtin_ctz(m);
            break;
        }
        p += 16;
    }
#else
    (void)e;
#endif
    while (IS(*p, T))
        p++;
    return p;
}

static const char *const method_names[] = {
    [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",       [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT",     [HTTP_DELETE] = "DELETE",   [HTTP_OPTIONS] = "OPTIONS",
    [HTTP_TRACE] = "TRACE", [HTTP_CONNECT] = "CONNECT", [HTTP_PATCH] = "PATCH",
    [HTTP_OTHER] = "OTHER",
};

const char *http_method_name(enum http_method m)
{
    return (unsigned)m < HTTP_OTHER ? method_names[m] : "OTHER";
}

void http_parser_init(struct http_parser *st)
{
    memset(st, 0, sizeof *st);
}

/* methods are case-sensitive (RFC 9110 §9.1) */
static enum http_method method_of(const char *p, size_t n)
{
#define M(m) (memcmp(p, method_names[m], n) == 0 ? (m) : HTTP_OTHER)
    switch (n) {
    case 3:
        return p[0] == 'G' ? M(HTTP_GET) : M(HTTP_PUT);
    case 4:
        return p[0] == 'H' ? M(HTTP_HEAD) : M(HTTP_POST);
    case 5:
        return p[0] == 'T' ? M(HTTP_TRACE) : M(HTTP_PATCH);
    case 6:
        return M(HTTP_DELETE);
    case 7:
        return p[0] == 'O' ? M(HTTP_OPTIONS) : M(HTTP_CONNECT);
    }
    return HTTP_OTHER;
#undef M
}

/* p[0..n) equals the lower-case literal lit (of length n), ignoring ASCII case */
static int eq_ci(const char *p, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++)
        if (http_lower((unsigned char)p[i]) != lit[i] || !lit[i]) return 0;
    return lit[n] == '\0';
}

static uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static uint32_t load4(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* A field name (tchars only) equals lit, a lower-case name of n >= 4
 * letters and '-', ignoring case.  OR-ing 0x20 into a tchar folds case and
 * nothing else onto such bytes: only 'X' and 'x' turn into 'x', and only '-'
 * into '-' (0x0d, CR, is no tchar).  So words compare at once, the last one
 * overlapping the one before. */
static int name_is(const char *p, size_t n, const char *lit)
{
    if (n < 8)
        return (load4(p) | 0x20202020u) == load4(lit) &&
               (load4(p + n - 4) | 0x20202020u) == load4(lit + n - 4);
    for (size_t i = 0; i + 8 < n; i += 8)
        if ((load8(p + i) | ONES * 0x20) != load8(lit + i)) return 0;
    return (load8(p + n - 8) | ONES * 0x20) == load8(lit + n - 8);
}

/* Finds the end of the head: the first LF followed by LF or CRLF after the
 * request line.  Returns 1 with *end set, 0 for more bytes (progress saved in
 * st), or -status.  The limits are checked as soon as the bytes present
 * prove them exceeded, without waiting for the line end. */
static int find_end(struct http_parser *st, const char *buf, size_t len,
                    const struct http_limits *l, size_t *end, const char **why)
{
    size_t i = st->scanned;
    if (len < i) i = st->scanned = st->start = st->line_end = 0; /* not our buffer: start over */

    if (!st->line_end) {
        if (i == st->start) {
            /* RFC 9112 §2.2: ignore empty lines before the request line
             * (some clients send a CRLF after a body).  The bound is checked
             * at each line, so that the first fault in byte order is the one
             * reported, however the bytes arrive */
            while (i < len && (buf[i] == '\n' || buf[i] == '\r')) {
                if (buf[i] == '\r') {
                    if (i + 1 == len) break; /* the LF may come next */
                    if (buf[i + 1] != '\n') return *why = "bare cr", -400;
                    i++;
                }
                if (++i > l->max_line) return *why = "too many empty lines", -400;
            }
            st->start = st->scanned = i;
            if (i == len || buf[i] == '\r') return 0;
            /* a TLS handshake or other non-HTTP bytes: say so now, not after
             * max_line bytes or a timeout */
            if (!IS(buf[i], T)) return *why = "invalid method", -400;
        }
        /* search no further than the longest allowed request line */
        size_t stop = len - st->start > l->max_line ? st->start + l->max_line : len;
        const char *lf = memchr(buf + i, '\n', stop - i);
        if (!lf) {
            if (len - st->start >= l->max_line) return *why = "request line too long", -414;
            st->scanned = len;
            return 0;
        }
        i = (size_t)(lf - buf);
        st->line_end = i + 1;
    }

    /* every LF from i on is a candidate: the request line's own LF too, for
     * a request without fields */
    size_t base = st->line_end;
    size_t stop = len - base > l->max_header ? base + l->max_header : len;
    while (i < stop) {
        const char *lf = memchr(buf + i, '\n', stop - i);
        if (!lf) {
            i = stop;
            break;
        }
        size_t k = (size_t)(lf - buf);
        if (k + 1 < len && buf[k + 1] == '\n') {
            *end = k + 2;
            goto found;
        }
        if (k + 2 < len && buf[k + 1] == '\r' && buf[k + 2] == '\n') {
            *end = k + 3;
            goto found;
        }
        if (k + 1 == len || (k + 2 == len && buf[k + 1] == '\r')) {
            i = k; /* undecided until the next byte: look at this LF again */
            break;
        }
        i = k + 1;
    }
    /* not found here, so the end, if any, is at len + 1 or beyond */
    if (len - base >= l->max_header) return *why = "header section too large", -431;
    st->scanned = i;
    return 0;
found:
    if (*end - base > l->max_header) return *why = "header section too large", -431;
    return 1;
}

static int fail(struct http_request *req, int status, const char *why)
{
    req->error = why;
    return -status;
}

static int hex_digit(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* After the host byte at q (before e): q + 1, or past a pct-encoded
 * triplet ("%41", RFC 3986 §2.1); NULL for a '%' not followed by two hex
 * digits. */
static const char *host_byte_end(const char *q, const char *e)
{
    if (*q != '%') return q + 1;
    return e - q >= 3 && hex_digit(q[1]) && hex_digit(q[2]) ? q + 3 : NULL;
}

/* p[0..n) is an RFC 3986 host [ ":" port ], the host an IP-literal or a
 * reg-name (not empty if need_host); userinfo ('@'), whitespace and the
 * like are not host bytes. */
static int valid_host(const char *p, size_t n, int need_host)
{
    const char *q = p, *e = p + n;
    if (need_host && (n == 0 || *p == ':')) return 0;
    if (n && *q == '[') {
        for (q++; q < e && (IS(*q, H) || *q == ':');)
            if (!(q = host_byte_end(q, e))) return 0;
        if (q == e || *q != ']' || q == p + 1) return 0;
        q++;
    } else {
        while (q < e && IS(*q, H))
            if (!(q = host_byte_end(q, e))) return 0;
    }
    if (q < e && *q == ':')
        for (q++; q < e && *q >= '0' && *q <= '9'; q++)
            ;
    return q == e;
}

int http_host_valid(const char *p, size_t n)
{
    return valid_host(p, n, 0);
}

/* The Host field's value v[0..n) (trimmed, all field-value bytes, e the end
 * of the readable bytes) is a host [ ":" port ]: valid_host(v, n, 0).
 * Nearly every Host is letters, digits, '.' and '-', then maybe ':' and
 * digits; with SSE2 such a value of up to 16 bytes is recognised in one
 * block (those bytes are all host bytes, so valid_host would agree), and
 * anything else — or a value too near the end to load a block — is left to
 * valid_host. */
static int host_ok(const char *v, size_t n, const char *e)
{
#ifdef __SSE2__
    if (n <= 16 && e - v >= 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)v);
        const __m128i l = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
        const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
        const __m128i dig = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
        const __m128i ok =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(25)), l), dig),
                         _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')),
                                      _mm_cmpeq_epi8(x, _mm_set1_epi8('-'))));
        unsigned all = (1u << n) - 1;
        unsigned m_ok = (unsigned)_mm_movemask_epi8(ok) & all;
        unsigned m_colon = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(':'))) & all;
        if (!m_colon) {
            if (m_ok == all) return 1;
        } else {
            /* host bytes before the first colon, digits after it */
            unsigned before = (m_colon & -m_colon) - 1;
            unsigned after = all & ~before & ~(m_colon & -m_colon);
            unsigned m_dig = (unsigned)_mm_movemask_epi8(dig) & all;
            if ((m_ok & before) == before && (m_dig & after) == after) return 1;
        }
    }
#else
    (void)e;
#endif
    return valid_host(v, n, 0);
}

/* request-target forms (RFC 9112 §3.2) */
static int parse_target(struct http_request *req)
{
    const char *p = req->target.p;
    size_t n = req->target.n;
    if (p[0] == '/') {
        req->path = req->target;
        return 0;
    }
    if (n == 1 && p[0] == '*') {
        if (req->method != HTTP_OPTIONS) return fail(req, 400, "asterisk-form not for options");
        req->path = req->target;
        return 0;
    }
    size_t s;
    if (n >= 7 && eq_ci(p, 7, "http://"))
        s = 7;
    else if (n >= 8 && eq_ci(p, 8, "https://"))
        s = 8;
    else
        return fail(req, 400, "invalid request target"); /* authority-form included */
    size_t a = s;
    while (a < n && p[a] != '/' && p[a] != '?' && p[a] != '#')
        a++;
    if (!valid_host(p + s, a - s, 1)) return fail(req, 400, "invalid authority in target");
    if (a < n && p[a] != '/') return fail(req, 400, "absolute-form without path");
    req->host = http_str_make(p + s, a - s);
    req->path = a < n ? http_str_make(p + a, n - a) : http_str_make("/", 1);
    return 0;
}

/* The request line from *pp on; on success *pp is just past its LF.  The
 * line end is not known beforehand: the method and target stop at the first
 * byte outside their class (an LF at the latest), and the version must be
 * followed by the line end at once.  That takes exactly the lines the
 * "line end first" reading takes, and refuses the others with the same
 * status and reason: a byte that ends the target early leaves a version of
 * the wrong length, and an LF before the version's eighth byte breaks its
 * pattern. */
static int parse_request_line(struct http_request *req, const char **pp, const char *e)
{
    const char *p = *pp, *q = p;
    if (e - p >= 4 && memcmp(p, "GET ", 4) == 0) { /* the common case in one compare */
        q = p + 3;
        req->method = HTTP_GET;
    } else {
        while (IS(*q, T))
            q++;
        if (q == p || *q != ' ') return fail(req, 400, "invalid method");
        req->method = method_of(p, (size_t)(q - p));
    }
    req->method_str = http_str_make(p, (size_t)(q - p));

    p = ++q;
    q = skip(q, e, 0x21, R);
    if (q == p || *q != ' ') return fail(req, 400, "invalid request target");
    req->target = http_str_make(p, (size_t)(q - p));

    /* "HTTP/d.d" then CRLF or LF.  e - p >= 9 covers the version and one
     * byte after it; p[9] is read only after a CR at p[8], which is not the
     * last byte, as that is an LF. */
    p = q + 1;
    if (e - p >= 10 && memcmp(p, "HTTP/1.1\r\n", 10) == 0) {
        q = p + 10;
        req->version = 11;
    } else {
        if (e - p < 9 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
            p[7] < '0' || p[7] > '9')
            return fail(req, 400, "invalid version");
        if (p[8] == '\n')
            q = p + 9;
        else if (p[8] == '\r' && p[9] == '\n')
            q = p + 10;
        else
            return fail(req, 400, "invalid version");
        if (p[5] != '1') return fail(req, 505, "unsupported version");
        /* 1.2 to 1.9 are read as 1.1, the highest minor version of 1 we
         * conform to (RFC 9110 §2.5) */
        req->version = p[7] == '0' ? 10 : 11;
    }
    *pp = q;

    if (req->method == HTTP_CONNECT) return fail(req, 400, "connect not supported");
    return parse_target(req);
}

/* what the framing and connection fields said, checked once all are seen:
 * flags in one word (bit-fields or a struct of bytes cost a head dozens of
 * instructions to clear and test) */
enum {
    S_HOST = 1 << 0,
    S_CL = 1 << 1,
    S_TE = 1 << 2,
    S_TE_ANY = 1 << 3,
    S_TE_CHUNKED = 1 << 4,
    S_TE_TWICE = 1 << 5,
    S_TE_UNKNOWN = 1 << 6,
    S_TE_LAST_CHUNKED = 1 << 7,
    S_CONN_CLOSE = 1 << 8,
    S_CONN_KA = 1 << 9
};

/* Transfer-Encoding: a list of codings, possibly over several lines */
static void parse_te(unsigned *s, const char *p, const char *e)
{
    *s |= S_TE;
    while (p < e) {
        const char *c = p, *ce;
        while (p < e && *p != ',')
            p++;
        for (ce = p; ce > c && (ce[-1] == ' ' || ce[-1] == '\t'); ce--)
            ;
        while (c < ce && (*c == ' ' || *c == '\t'))
            c++;
        size_t n = (size_t)(ce - c);
        if (p < e) p++;       /* the comma */
        if (n == 0) continue; /* empty list elements are allowed (RFC 9110 §5.6.1) */
        *s |= S_TE_ANY;
        if (eq_ci(c, n, "chunked")) {
            if (*s & S_TE_CHUNKED) *s |= S_TE_TWICE;
            *s |= S_TE_CHUNKED | S_TE_LAST_CHUNKED;
            continue;
        }
        *s &= ~(unsigned)S_TE_LAST_CHUNKED;
        if (!eq_ci(c, n, "gzip") && !eq_ci(c, n, "x-gzip") && !eq_ci(c, n, "deflate") &&
            !eq_ci(c, n, "compress") && !eq_ci(c, n, "x-compress"))
            *s |= S_TE_UNKNOWN;
    }
}

/* Connection: a token list; only close and keep-alive matter here */
static void parse_connection(unsigned *s, const char *p, const char *e)
{
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *t = p;
        while (p < e && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (eq_ci(t, (size_t)(p - t), "close")) *s |= S_CONN_CLOSE;
        if (eq_ci(t, (size_t)(p - t), "keep-alive")) *s |= S_CONN_KA;
    }
}

static int parse_content_length(struct http_request *req, const char *p, const char *e)
{
    if (p == e) return fail(req, 400, "empty content-length");
    int64_t n = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return fail(req, 400, "invalid content-length");
        if (n > (INT64_MAX - (*p - '0')) / 10) return fail(req, 400, "content-length overflow");
        n = n * 10 + (*p - '0');
    }
    req->content_length = n;
    return 0;
}

/* A field that holds one value, sent twice: its value is then a list, which
 * is invalid, and an invalid one of these is ignored — dates (RFC 9110
 * §13.1.3-4 MUST), Range (§14.2) and If-Range (§13.1.5: no match, the whole
 * answer).  An empty value says so to every reader of the field. */
static int set_or_void(struct http_str *f, const char *p, const char *e)
{
    *f = f->p ? http_str_make(f->p, 0) : http_str_make(p, (size_t)(e - p));
    return 0;
}

/* If-Match and If-None-Match are lists, which may come over several lines
 * (RFC 9110 §5.3): the first value is kept; whoever evaluates them reads
 * every line from the headers (struct http_cond's lines) */
static int set_first(struct http_str *f, const char *p, const char *e)
{
    if (!f->p) *f = http_str_make(p, (size_t)(e - p));
    return 0;
}

/* acts on the fields the parser itself must understand */
static int known_field(struct http_request *req, unsigned *s, const char *name, size_t n,
                       const char *v, const char *ve, const char *e)
{
    switch (n) {
    case 4:
        if (!name_is(name, n, "host")) break;
        if (*s & S_HOST) return fail(req, 400, "repeated host");
        *s |= S_HOST;
        if (!host_ok(v, (size_t)(ve - v), e)) return fail(req, 400, "invalid host");
        /* an absolute-form target's authority wins (RFC 9112 §3.2.2) */
        if (!req->host.p) req->host = http_str_make(v, (size_t)(ve - v));
        break;
    case 5:
        if (name_is(name, n, "range")) return set_or_void(&req->range, v, ve);
        break;
    case 6:
        if (!name_is(name, n, "expect")) break;
        if (eq_ci(v, (size_t)(ve - v), "100-continue"))
            req->expect_continue = req->version == 11; /* 1.0 must ignore it (RFC 9110 §10.1.1) */
        else if (ve > v && req->version == 11)
            /* any other expectation: 417 (§10.1.1 MAY), never a silent yes */
            return fail(req, 417, "unsupported expectation");
        break;
    case 8:
        if (name_is(name, n, "if-match")) return set_first(&req->if_match, v, ve);
        if (name_is(name, n, "if-range")) return set_or_void(&req->if_range, v, ve);
        break;
    case 10:
        if (name_is(name, n, "connection")) parse_connection(s, v, ve);
        break;
    case 13:
        if (name_is(name, n, "if-none-match")) return set_first(&req->if_none_match, v, ve);
        break;
    case 14:
        if (!name_is(name, n, "content-length")) break;
        if (*s & S_CL) return fail(req, 400, "repeated content-length");
        *s |= S_CL;
        return parse_content_length(req, v, ve);
    case 17:
        if (name_is(name, n, "transfer-encoding")) parse_te(s, v, ve);
        if (name_is(name, n, "if-modified-since"))
            return set_or_void(&req->if_modified_since, v, ve);
        break;
    case 19:
        if (name_is(name, n, "if-unmodified-since"))
            return set_or_void(&req->if_unmodified_since, v, ve);
        break;
    }
    return 0;
}

/* The single forward pass over the head at buf[start..len), buf[len - 1]
 * being an LF.  Returns the head's length (through its blank line), 0 when
 * the bytes end before the blank line (only on the fast path: the slow path
 * hands over exactly one head), or -status; *line_end is set to just past the
 * request line's LF once that is parsed. */
static int parse_head(const char *buf, size_t start, size_t len, size_t max_headers,
                      struct http_request *req, struct http_header *headers, size_t *line_end)
{
    const char *e = buf + len;
    const char *p = buf + start;
    int r = parse_request_line(req, &p, e);
    if (r < 0) return r;
    *line_end = (size_t)(p - buf);

    unsigned s = 0;
    for (;;) {
        if (p == e) return 0;
        if (!IS(*p, T)) { /* a field line starts with a name: one test for it */
            if (*p == '\n') {
                p++;
                break;
            }
            if (*p == '\r') {
                if (p[1] == '\n') {
                    p += 2;
                    break;
                }
                return fail(req, 400, "bare cr");
            }
            if (*p == ' ' || *p == '\t') return fail(req, 400, "obs-fold");
        }

        const char *name = p;
        p = skip_name(p, e);
        if (*p != ':') {
            if (p == name) return fail(req, 400, "invalid field name");
            if (*p == ' ' || *p == '\t') return fail(req, 400, "whitespace before colon");
            if (*p == '\r' || *p == '\n') return fail(req, 400, "field without colon");
            return fail(req, 400, "invalid field name");
        }
        if (p == name) return fail(req, 400, "empty field name");
        size_t nlen = (size_t)(p - name);

        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *v = p, *ve;
        ve = p = skip(p, e, 0x20, V);
        if (*p == '\r' && p[1] == '\n')
            p += 2;
        else if (*p == '\n')
            p++;
        else
            return fail(req, 400, *p == '\r' ? "bare cr" : *p ? "control character" : "nul byte");
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;

        if (req->nheaders == max_headers) return fail(req, 431, "too many fields");
        if (headers) {
            headers[req->nheaders].name = http_str_make(name, nlen);
            headers[req->nheaders].value = http_str_make(v, (size_t)(ve - v));
        }
        req->nheaders++;
        if ((r = known_field(req, &s, name, nlen, v, ve, e)) < 0) return r;
    }

    if (req->version == 11 && !(s & S_HOST)) return fail(req, 400, "missing host");
    if (s & S_TE) {
        /* RFC 9112 §6.1-6.3: anything that lets two readers frame the body
         * differently is an error, and we only decode chunked */
        if (req->version == 10) return fail(req, 400, "transfer-encoding in http/1.0");
        if (s & S_CL) return fail(req, 400, "content-length with transfer-encoding");
        if (s & S_TE_TWICE) return fail(req, 400, "chunked applied twice");
        if (!(s & S_TE_ANY)) return fail(req, 400, "empty transfer-encoding");
        /* not chunked last: no length at all, a MUST-400 (§6.3 item 4) that
         * outranks the SHOULD-501 for a coding we do not know (§6.1) */
        if (!(s & S_TE_LAST_CHUNKED)) return fail(req, 400, "final transfer coding not chunked");
        if (s & S_TE_UNKNOWN) return fail(req, 501, "unknown transfer coding");
        req->chunked = 1;
    }
    req->keep_alive = !(s & S_CONN_CLOSE) && (req->version == 11 || (s & S_CONN_KA));
    if (p - buf > INT_MAX) return fail(req, 431, "header section too large");
    return (int)(p - buf);
}

static void reset(struct http_request *req, struct http_header *headers)
{
    *req = (struct http_request){.content_length = -1, .headers = headers};
}

/* What a successful parse does not set itself: the fast path resets no more
 * (any other outcome is the slow path's, which resets all). */
static void reset_fast(struct http_request *req, struct http_header *headers)
{
    static const struct http_str none;
    req->headers = headers;
    req->nheaders = 0;
    req->host = none;
    req->content_length = -1;
    req->chunked = req->expect_continue = 0;
    req->if_match = req->if_none_match = req->if_modified_since = req->if_unmodified_since =
        req->if_range = req->range = none;
    req->error = NULL;
}

/* find_end, resumably, then one parse of exactly the head */
static int parse_slow(struct http_parser *st, const char *buf, size_t len,
                      const struct http_limits *l, struct http_request *req,
                      struct http_header *headers)
{
    size_t end = 0, line_end;
    const char *why = NULL;
    int r = find_end(st, buf, len, l, &end, &why);
    if (r == 0) return 0;

    reset(req, headers);
    if (r > 0 && end > INT_MAX) r = -431, why = "header section too large";
    if (r > 0) {
        /* buf[end - 1] is the blank line's LF, so the parse meets a blank
         * line by then (this one, unless the bytes changed since they were
         * searched: then the head is still what the search found) */
        if ((r = parse_head(buf, st->start, end, l->max_headers, req, headers, &line_end)) > 0)
            r = (int)end;
    } else {
        req->error = why;
    }
    http_parser_init(st);
    return r;
}

int http_parse_request(struct http_parser *st, const char *buf, size_t len,
                       const struct http_limits *lim, struct http_request *req,
                       struct http_header *headers)
{
    struct http_limits l = {8192, 8192, 100};
    if (lim) {
        l.max_line = lim->max_line ? lim->max_line : l.max_line;
        l.max_header = lim->max_header ? lim->max_header : l.max_header;
        l.max_headers = lim->max_headers ? lim->max_headers : l.max_headers;
    }

    /* the fast path: a fresh request whose bytes end in LF.  Taken only when
     * the slow path would accept the same head: the request line and the
     * field section within their limits (find_end's checks, after the fact) */
    if (!st->scanned && !st->line_end && len && buf[len - 1] == '\n' && IS(buf[0], T)) {
        size_t line_end;
        reset_fast(req, headers);
        int r = parse_head(buf, 0, len, l.max_headers, req, headers, &line_end);
        if (r > 0 && line_end <= l.max_line && (size_t)r - line_end <= l.max_header) return r;
    }
    return parse_slow(st, buf, len, &l, req, headers);
}
