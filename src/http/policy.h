/* policy — what a site adds to answers beyond the files themselves:
 * Cache-Control (content-fingerprinted names are immutable; --cache-control
 * for the rest), the fields every response carries (--header, CORS), the
 * CORS preflight answer, and the start-up checks of those options.
 * Built once by berth_server_new, read-only afterwards (shared by workers). */
#ifndef BERTH_HTTP_POLICY_H
#define BERTH_HTTP_POLICY_H

#include "berth.h"
#include "buf.h"
#include "http/fcache.h"
#include "http/parse.h"

#include <stddef.h>

#define POLICY_IMMUTABLE "public, max-age=31536000, immutable"

struct policy {
    char *cache_control; /* for names without a fingerprint; NULL: none */
    char *cors;          /* the allowed origin ("*" or one origin); NULL: no CORS */
    char *fields;        /* "Name: value\r\n"... on every response (resp_extra_set); may be NULL */
    size_t fields_len;
    int spa;    /* missing extension-less paths asked for as HTML get /index.html */
    int no_tar; /* ?download=tar refused */
};

/* 1 when the last segment of path[0..n) carries a content fingerprint: a
 * dot-separated segment that is neither the first (the stem, which must not
 * be empty) nor the last (the extension, which must not be empty either),
 * of 8 or more characters that are
 *   - lower-case hex, or upper-case hex, with at least one digit and one
 *     letter ("3f9a1c2b"; not "20240101", a date, nor "deadbeef", a word), or
 *   - base64url (A-Z a-z 0-9 - _) with at least one upper-case letter, one
 *     lower-case letter and one digit ("A1b2C3d4E5"; not "bootstrap").
 * "app.3f9a1c2b.js", "main.A1b2C3d4E5.css", "a.b.0123abcd.min.js" are;
 * "jquery.min.js", "file.20240101.txt", "3f9a1c2b.js", "app.3f9a1c2b" are
 * not.  Errs towards "no": a missed fingerprint costs a revalidation, a
 * false one a stale year. */
int policy_fingerprinted(const char *path, size_t n);

/* The Cache-Control value of a static answer for the request path: the
 * immutable one for a fingerprinted name, else p's --cache-control (NULL:
 * none).  p may be NULL (fingerprints only). */
const char *policy_cache_control(const struct policy *p, const char *path);

/* Start-up checks, each 0 or -1 with why[] saying "cause; fix". */
/* "Name: value": a token name, a field value, not a field berth writes
 * (framing, Date, Server, Content-*, validators, Cache-Control: use
 * --cache-control, Access-Control-*: use --cors). */
int policy_header_check(const char *line, char *why, size_t len);
/* a list of cache directives: token [ "=" ( token / quoted-string ) ], by commas,
 * of POLICY_CACHE_CONTROL_MAX bytes at most */
#define POLICY_CACHE_CONTROL_MAX 512
int policy_cache_control_check(const char *v, char *why, size_t len);
/* "*", "null" or a serialized origin: scheme "://" host [ ":" port ], no path */
int policy_origin_check(const char *o, char *why, size_t len);
/* all of o's site options */
int policy_opts_check(const struct berth_opts *o, char *why, size_t len);

/* Builds p from o (checked first: BERTH_EUSAGE when a value is bad, -ENOMEM). */
int policy_init(struct policy *p, const struct berth_opts *o);
void policy_free(struct policy *p);

/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method,
 * p->cors set) is answered 204 into out: `allow` ("Allow: GET, HEAD\r\n",
 * what the path answers) both as Allow and Access-Control-Allow-Methods,
 * the requested headers echoed when they are a valid token list, and a
 * max-age.  Returns 204, 0 when r is no preflight (nothing appended), or a
 * negative code. */
int policy_preflight(const struct policy *p, const struct http_request *r, const char *allow,
                     int keep_alive, struct buf *out);

#endif
