/* encoding — Accept-Encoding (RFC 9110 §12.5.3) as a pure parser and the
 * choice of the content coding to answer with.
 *
 * The codings berth can send are br (RFC 7932), zstd (RFC 8878) and gzip
 * ("x-gzip" is the same, §8.4.1.3); anything else a client lists is ignored.
 * Weights are kept in thousandths (the qvalue grammar's precision).
 *
 * Rules, in the RFC's words where it has them:
 * - no Accept-Encoding field: no preference; berth sends identity (as nginx
 *   and h2o do: a client that says nothing may decode nothing);
 * - an empty field value: identity only (§12.5.3);
 * - a coding not listed gets the weight of "*" when "*" is listed, else 0;
 * - identity is acceptable unless "identity;q=0", or "*;q=0" without an
 *   identity entry; unlisted and not covered by "*" it ranks below every
 *   listed coding (weight 1, the smallest there is);
 * - q=0 refuses; an element that is not `token [ OWS ";" OWS "q=" qvalue ]`
 *   (a malformed or out-of-range qvalue, another parameter) is ignored as a
 *   whole, so it neither grants nor refuses anything; "q" ignores case;
 * - a coding listed twice keeps its first weight; empty list elements and
 *   whitespace are skipped (§5.6.1);
 * - the highest weight wins; ties go br > zstd > gzip > identity;
 * - nothing acceptable (identity refused, no listed coding available): the
 *   answer is identity anyway.  §15.5.7 allows 406, §12.1 allows
 *   disregarding the field; nginx and h2o send the file, and so does berth:
 *   a 406 for a file that exists helps no client. */
#ifndef BERTH_HTTP_ENCODING_H
#define BERTH_HTTP_ENCODING_H

#include <stddef.h>

enum http_enc { HTTP_ENC_IDENTITY, HTTP_ENC_BR, HTTP_ENC_ZSTD, HTTP_ENC_GZIP, HTTP_ENC_N };
#define HTTP_ENC_BIT(e) (1u << (e))

struct http_accept_enc {
    short q[HTTP_ENC_N]; /* as listed, 0..1000; -1: not listed */
    short star;          /* the weight of "*"; -1: not listed */
    char present;        /* an Accept-Encoding field was seen */
};

void http_ae_init(struct http_accept_enc *a);
/* Adds one Accept-Encoding field value (call once per field line, in
 * order: repeated lines make one list). */
void http_ae_parse(struct http_accept_enc *a, const char *v, size_t n);
/* The weight (0..1000) the client gives coding e after the rules above. */
int http_ae_q(const struct http_accept_enc *a, enum http_enc e);
/* The coding to answer with among avail (HTTP_ENC_BIT of each coding that
 * can be sent; identity always can). */
enum http_enc http_ae_choose(const struct http_accept_enc *a, unsigned avail);

/* "identity", "br", "zstd", "gzip" */
const char *http_enc_name(enum http_enc e);
/* a sidecar's suffix: "", ".br", ".zst", ".gz" */
const char *http_enc_suffix(enum http_enc e);

#endif
