/* digest — RFC 9530 integrity fields: SHA-256 and SHA-512 (OpenSSL 3 EVP),
 * the Want-Repr-Digest / Want-Content-Digest parser (a strict RFC 9651
 * Structured Fields dictionary, bounded, no allocation), the Repr-Digest /
 * Content-Digest field lines, and base64 (standard for sf-binary, URL-safe
 * for entity tags).  Safe from any thread. */
#ifndef BERTH_HTTP_DIGEST_H
#define BERTH_HTTP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

enum { HTTP_DIGEST_SHA256, HTTP_DIGEST_SHA512, HTTP_DIGEST_ALGS };
#define HTTP_DIGEST_MAX 64 /* bytes of the longest digest (SHA-512) */

/* "sha-256", "sha-512" (the IANA Hash Algorithms for HTTP Digest Fields
 * names) and 32, 64. */
const char *http_digest_name(int alg);
size_t http_digest_len(int alg);

/* out (http_digest_len bytes) = alg's digest of p[0..n).  0 or -ENOMEM. */
int http_digest_mem(int alg, const void *p, size_t n, uint8_t *out);

/* The same over bytes given piece by piece: start (NULL when out of
 * memory), update any number of times, finish (writes the digest, frees the
 * state; with out NULL it only frees). */
struct http_digest_run;
struct http_digest_run *http_digest_start(int alg);
int http_digest_update(struct http_digest_run *r, const void *p, size_t n);
int http_digest_finish(struct http_digest_run *r, uint8_t *out);

/* The client's preferences (RFC 9530 §4): 1..10 per supported algorithm, 0
 * when not wanted (absent, 0, or not an Integer in 0..10). */
struct http_digest_want {
    uint8_t pref[HTTP_DIGEST_ALGS];
};

/* Parses a Want-Repr-Digest or Want-Content-Digest value (the field lines
 * joined by ", ").  The whole value must be a valid Structured Fields
 * dictionary (RFC 9651 §4.2.2; Display Strings are refused): otherwise -1
 * and *w all zero (the field is ignored).  Members whose key is not a
 * supported algorithm, or whose value is not an Integer 0..10, are ignored;
 * a repeated key takes its last value.  0 on success. */
int http_digest_want_parse(const char *s, size_t n, struct http_digest_want *w);

/* The algorithm to send for w: the highest preference among those whose
 * bit (1 << alg) is in avail; ties go to SHA-256.  -1 when none. */
int http_digest_choose(const struct http_digest_want *w, unsigned avail);

/* Writes "Name: sha-256=:B64:, sha-512=:B64:\r\n" for each alg in the mask
 * algs (bit 1 << alg; digest[alg] is its value) into out; returns the
 * length, or 0 when n is too small (HTTP_DIGEST_FIELD_MAX always does). */
#define HTTP_DIGEST_FIELD_MAX 200
size_t http_digest_field(char *out, size_t n, const char *name, unsigned algs,
                         const uint8_t *const digest[HTTP_DIGEST_ALGS]);

/* base64 of in[0..n) into out, NUL-terminated: standard alphabet with
 * padding, or (url) the URL-safe alphabet without.  Returns the length;
 * out needs 4 * ((n + 2) / 3) + 1 bytes. */
size_t http_base64(char *out, const uint8_t *in, size_t n, int url);

#endif
