/* encvar — the content-encoded variants of a cached file: which
 * representation of a file (http/fcache entry) a request gets.
 *
 * For a file F the variants are its precompressed sidecars (F.br, F.zst,
 * F.gz: regular files beneath the root, not older than F, non-empty) and,
 * for compressible types within the size bounds of http/compress, the
 * results of compressing F (kept in the worker's http/compress cache).  A
 * sidecar wins over compressing for its coding.  The request's
 * Accept-Encoding (http/encoding) picks one.
 *
 * Every answer for a file that has or may have variants carries
 * `Vary: Accept-Encoding` (identity, 304, 206 and errors included); each
 * variant has its own strong ETag, the file's with "-br", "-zst" or "-gz"
 * before the closing quote, and its own Content-Length; preconditions and
 * ranges apply to the selected representation (RFC 9110 §13, §14).
 *
 * Freshness: sidecars are looked at again whenever the entry is
 * revalidated (at most once a second, or at once after a change event: an
 * event on F.br drops F's entry, see fcache.c), and a large sidecar's
 * descriptor is fstat'ed before each answer, as F's is.  A variant's head is
 * rebuilt whenever the entry's gen moves (its ETag or head was rebuilt).
 * Compressed results are keyed by F's version, so a changed F never gets
 * old bytes.
 *
 * Descriptors: a large sidecar is held open while FCACHE_SIDE_FDS others
 * are not; past that it is opened for each answer that sends it (and
 * checked to be the version probed), so a site of many large sidecars
 * never runs the worker out of descriptors. */
#ifndef BERTH_HTTP_ENCVAR_H
#define BERTH_HTTP_ENCVAR_H

#include "http/encoding.h"
#include "http/fcache.h"
#include "http/parse.h"

#include <stdint.h>

struct encvar;

/* Frees what an entry's variants hold (descriptors, bytes, heads). */
void encvar_free(struct encvar *v);

/* What the selection decided, beyond the view. */
struct encvar_pick {
    enum http_enc enc;
    int fd_own_mtime; /* the view's fd is not F's: a transfer checks these */
    int64_t mtime_sec;
    long mtime_nsec;
    int close_fd; /* a sidecar opened for this answer only: closed after it, or -1 */
};

/* Chooses the representation of e for req.  Returns 1 and fills *view (a
 * copy of e with the variant's size, bytes or descriptor, ETag, 200 head,
 * Content-Encoding and Vary; it owns nothing and is valid until the next
 * call on this cache), 0 when e is to be answered as it is, or a negative
 * code (out of memory: answer e as it is). */
int encvar_select(const struct static_conf *sc, struct fcache *c, struct fentry *e,
                  const struct http_request *req, struct fentry *view, struct encvar_pick *pk);

/* 1 when e is answered as it is whatever a request's Accept-Encoding says:
 * it is a coded file itself, or has no variant and none is made of it, as
 * known since it was last revalidated (encvar_select would return 0). */
int encvar_plain(const struct static_conf *sc, struct fcache *c, const struct fentry *e);

/* Digests (RFC 9530) of a coded representation are its bytes': a
 * compressed result's are made with it (http/compress), a sidecar's like a
 * file's — at once when it is small, by the worker's hasher when large
 * (never on the loop; omitted until known).  encvar_view_digests is
 * http/fcache's fcache_digests for an entry or any view encvar_select made
 * of it (an identity view's are asked of its entry): the digests known now
 * after asking for want, in e->sha256/512. */
unsigned encvar_view_digests(struct fcache *c, struct fentry *view, unsigned want);

/* A sidecar's ETag is its bytes' (their SHA-256, or its inode, size and
 * mtime until a large one is hashed).  Once hashed, the tag it was sent
 * with before (that very version's) into out, for conditionals to match as
 * the content tag does; 0 when view has no such alias. */
size_t encvar_alias(const struct fentry *view, char *out, size_t n);

/* The digests kept for e's sidecar of coding enc (NULL: none now): where
 * the hasher's result for it is filed. */
struct fdigests *encvar_digests(struct fentry *e, int enc);

/* Bytes the variants hold (the struct, small sidecars, prebuilt heads):
 * charged to the file cache's budget with their entry. */
size_t encvar_cost(const struct encvar *v);

#endif
