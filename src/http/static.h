/* static — answering GET and HEAD from a directory tree.
 *
 * Files are opened beneath the root only (openat2 RESOLVE_BENEATH, so
 * neither ".." nor a symlink can leave it).  Each worker keeps a cache of
 * what it served (http/fcache): the validators, the prebuilt header fields,
 * small files' bytes and large files' descriptors, so a keep-alive GET of a
 * small file costs one read and one write.
 *
 * Freshness: each worker watches (inotify) the directories of what it
 * caches and drops an entry as soon as it reads its file's change event (a
 * request read in the same loop iteration as that event, on a connection
 * already open, may still get the old bytes, whole); an entry is used
 * without looking at the file only if it was checked this second and at the
 * server's current change epoch, which any worker that sees a change bumps,
 * so once one answer shows new bytes no worker answers with old ones.  A
 * large file's descriptor is fstat'ed before each answer and after each
 * sendfile, so headers and body always agree.  Where inotify cannot help
 * (no instance left, a change behind a symlink), a changed file is served
 * whole and old for at most a second.  The root is followed by name: a
 * replaced docroot (rm -rf dist && mkdir dist) is reopened. */
#ifndef BERTH_HTTP_STATIC_H
#define BERTH_HTTP_STATIC_H

#include "buf.h"
#include "http/fcache.h"
#include "http/parse.h"

#include <stdint.h>

/* File bytes still to send after the head, with sendfile; fd is owned by
 * the transfer (closed when done).  fd < 0: nothing.  A multipart/byteranges
 * answer from a large file also carries its remaining parts (the coalesced
 * ranges, the boundary, the part type: a few hundred bytes on the heap, NULL
 * otherwise), so memory per connection stays small whatever the ranges. */
struct static_parts;
struct http_xfer {
    int fd;
    uint64_t off, end;
    struct static_parts *parts;
    /* the file as the head announced it: a change meanwhile voids the body */
    uint64_t size;
    int64_t mtime_sec;
    long mtime_nsec;
};

/* Call when the region [off, end) has been sent.  With parts left: appends
 * the next part's header to out, makes its bytes the region and returns 1.
 * After the last part: appends the closing boundary (multipart), releases
 * the transfer (fd < 0 afterwards) and returns 0.  A negative code (out of
 * memory) leaves the transfer to static_xfer_end(): abort the connection. */
int static_xfer_next(struct http_xfer *x, struct buf *out);

/* The body bytes the transfer has still to hand to the socket: the rest of
 * the current region and, for multipart, the parts to come with their
 * headers and the closing boundary. */
uint64_t static_xfer_left(const struct http_xfer *x);

/* Releases the descriptor and parts of a transfer cut short (idempotent). */
void static_xfer_end(struct http_xfer *x);

/* 1 while x's file still has the size and mtime the head announced, 0 once
 * it changed (the connection must be aborted, not completed). */
int static_xfer_intact(const struct http_xfer *x);

/* Answers req (GET or HEAD) for the normalised path.  Appends the response
 * head, and any body held in memory, to out; sets *x for a file region to
 * send afterwards.  Returns the status (for the log); *body_len receives the
 * body's size.  A negative return is an out-of-memory failure. */
int static_serve(const struct static_conf *sc, struct fcache *cache, const struct http_request *req,
                 const char *path, int keep_alive, struct buf *out, struct http_xfer *x,
                 uint64_t *body_len);

/* The same, for a request whose target is byte for byte the last one this
 * cache answered from an entry that is still fresh: no decoding, no lookup.
 * Returns 0 when that is not the case (call static_serve). */
int static_serve_again(const struct static_conf *sc, struct fcache *cache,
                       const struct http_request *req, int keep_alive, struct buf *out,
                       struct http_xfer *x, uint64_t *body_len);

#endif
