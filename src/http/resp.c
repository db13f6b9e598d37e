#include "http/resp.h"

#include "http/cond.h"

#include <stdio.h>
#include <string.h>

/* the IANA HTTP Status Code Registry (RFC 9110 §15 and the RFCs it cites),
 * minus the "(Unused)" 306 and the obsoleted 510; 418 keeps the phrase
 * clients know (RFC 9110 §15.5.19 reserves the code, RFC 2324 named it) */
static const char *const reasons[600] = {
    [100] = "Continue",
    [101] = "Switching Protocols",
    [102] = "Processing",
    [103] = "Early Hints",
    [200] = "OK",
    [201] = "Created",
    [202] = "Accepted",
    [203] = "Non-Authoritative Information",
    [204] = "No Content",
    [205] = "Reset Content",
    [206] = "Partial Content",
    [207] = "Multi-Status",
    [208] = "Already Reported",
    [226] = "IM Used",
    [300] = "Multiple Choices",
    [301] = "Moved Permanently",
    [302] = "Found",
    [303] = "See Other",
    [304] = "Not Modified",
    [305] = "Use Proxy",
    [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request",
    [401] = "Unauthorized",
    [402] = "Payment Required",
    [403] = "Forbidden",
    [404] = "Not Found",
    [405] = "Method Not Allowed",
    [406] = "Not Acceptable",
    [407] = "Proxy Authentication Required",
    [408] = "Request Timeout",
    [409] = "Conflict",
    [410] = "Gone",
    [411] = "Length Required",
    [412] = "Precondition Failed",
    [413] = "Content Too Large",
    [414] = "URI Too Long",
    [415] = "Unsupported Media Type",
    [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed",
    [418] = "I'm a teapot",
    [421] = "Misdirected Request",
    [422] = "Unprocessable Content",
    [423] = "Locked",
    [424] = "Failed Dependency",
    [425] = "Too Early",
    [426] = "Upgrade Required",
    [428] = "Precondition Required",
    [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [451] = "Unavailable For Legal Reasons",
    [500] = "Internal Server Error",
    [501] = "Not Implemented",
    [502] = "Bad Gateway",
    [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
    [505] = "HTTP Version Not Supported",
    [506] = "Variant Also Negotiates",
    [507] = "Insufficient Storage",
    [508] = "Loop Detected",
    [511] = "Network Authentication Required",
};

const char *http_reason(int status)
{
    /* an unregistered code gets an empty reason-phrase, which RFC 9112 §4
     * allows ("HTTP/1.1 599 "), as nginx sends: clients go by the code's
     * class, and no invented text is better than a wrong one */
    if (status >= 100 && status < 600 && reasons[status]) return reasons[status];
    return "";
}

static _Thread_local struct {
    time_t sec;
    size_t len, ok_len;
    char line[48];
    char ok[96]; /* the whole head start of a keep-alive 200, this second */
} date_cache;

void http_date_tick(void)
{
    struct timespec ts;
    /* the coarse clock is a vDSO read: no syscall */
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == date_cache.sec && date_cache.len) return;
    char d[32];
    http_date_fmt(ts.tv_sec, d);
    date_cache.len = (size_t)snprintf(date_cache.line, sizeof date_cache.line, "Date: %s\r\n", d);
    date_cache.ok_len =
        (size_t)snprintf(date_cache.ok, sizeof date_cache.ok,
                         "HTTP/1.1 200 OK\r\nServer: " BERTH_SERVER_NAME "\r\n%s", date_cache.line);
    date_cache.sec = ts.tv_sec;
}

const char *http_date_line(size_t *len, time_t *now)
{
    if (!date_cache.len) http_date_tick();
    if (len) *len = date_cache.len;
    if (now) *now = date_cache.sec;
    return date_cache.line;
}

static _Thread_local struct {
    const char *p;
    size_t n;
} site_fields;

void resp_extra_set(const char *fields, size_t len)
{
    site_fields.p = fields;
    site_fields.n = fields ? len : 0;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

const char *resp_ok_head(size_t *len, const char **extra, size_t *extra_len)
{
    if (!date_cache.len) http_date_tick();
    *len = date_cache.ok_len;
    *extra = site_fields.p;
    *extra_len = site_fields.n;
    return date_cache.ok;
}

/* on every response: built with memcpy, not printf */
int resp_head(struct buf *b, int status, int keep_alive, int version)
{
    size_t dl;
    const char *date = http_date_line(&dl, NULL);
    if (status == 200 && keep_alive && version == 11) {
        int rc = buf_append(b, date_cache.ok, date_cache.ok_len);
        return rc < 0 || !site_fields.n ? rc : buf_append(b, site_fields.p, site_fields.n);
    }
    const char *conn = !keep_alive     ? "Connection: close\r\n"
                       : version == 10 ? "Connection: keep-alive\r\n"
                                       : "";
    if (status < 100 || status > 999) status = 500;
    const char *reason = http_reason(status);
    size_t rl = strlen(reason), cl = strlen(conn);
    static const char server[] = "\r\nServer: " BERTH_SERVER_NAME "\r\n";
    int rc = buf_reserve(b, 16 + rl + sizeof server + dl + cl);
    if (rc < 0) return rc;
    char *p = buf_tail(b), *start = p;
    p = put(p, "HTTP/1.1 ", 9);
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, reason, rl);
    p = put(p, server, sizeof server - 1);
    p = put(p, date, dl);
    p = put(p, conn, cl);
    buf_commit(b, (size_t)(p - start));
    return site_fields.n ? buf_append(b, site_fields.p, site_fields.n) : 0;
}

int resp_simple(struct buf *b, int status, int keep_alive, int version, int head, const char *extra,
                const char *ctype, const void *body, size_t len)
{
    int rc = resp_head(b, status, keep_alive, version);
    if (rc < 0) return rc;
    /* 204 and 304 carry no Content-Type or Content-Length about a body they
     * never have */
    if (status != 204 && status != 304) {
        /* a type of any length (a handler's) goes in whole, not via a fixed buffer */
        if (ctype &&
            ((rc = buf_append(b, "Content-Type: ", 14)) < 0 ||
             (rc = buf_append(b, ctype, strlen(ctype))) < 0 || (rc = buf_append(b, "\r\n", 2)) < 0))
            return rc;
        char h[48];
        int n = snprintf(h, sizeof h, "Content-Length: %zu\r\n", len);
        if ((rc = buf_append(b, h, (size_t)n)) < 0) return rc;
    }
    if (extra && (rc = buf_append(b, extra, strlen(extra))) < 0) return rc;
    if ((rc = buf_append(b, "\r\n", 2)) < 0) return rc;
    if (!head && status != 204 && status != 304 && len) rc = buf_append(b, body, len);
    return rc;
}

int resp_error(struct buf *b, int status, int keep_alive, int version, int head, const char *extra,
               const char *detail)
{
    char page[1024], esc[512];
    size_t e = 0;
    for (const char *p = detail ? detail : ""; *p && e < sizeof esc - 7; p++) {
        const char *r = *p == '<'   ? "&lt;"
                        : *p == '>' ? "&gt;"
                        : *p == '&' ? "&amp;"
                        : *p == '"' ? "&quot;"
                                    : NULL;
        if (r) {
            memcpy(esc + e, r, strlen(r));
            e += strlen(r);
        } else {
            esc[e++] = *p;
        }
    }
    esc[e] = '\0';
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>%d %s</title></head>\n<body><h1>%d %s</h1>%s%s%s</body></html>\n",
                     status, http_reason(status), status, http_reason(status), e ? "<p>" : "", esc,
                     e ? "</p>" : "");
    int rc = resp_simple(b, status, keep_alive, version, head, extra, "text/html; charset=utf-8",
                         page, (size_t)n);
    return rc < 0 ? rc : n;
}
