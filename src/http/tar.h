/* tar — a directory tree as one POSIX tar stream (pax interchange format,
 * IEEE Std 1003.1 "pax"): ustar headers, with a pax extended header in
 * front of an entry whose name passes 100 bytes or whose size or mtime does
 * not fit the ustar fields.
 *
 * The tree is walked once, up front (tar_open): what would be served (the
 * listing's rule, http/listing: dotfiles only with show_hidden, symlinks
 * only when they stay beneath the root, no special files), so the stream's
 * length is known before the answer's head.  The stream is then produced a
 * piece at a time (tar_next): headers into memory, each file's bytes as a
 * region the caller sends itself (sendfile, or pread over h2), so memory
 * stays bounded whatever the files' sizes.  No temporary files.
 *
 * Limits: TAR_MAX_ENTRIES entries and TAR_MAX_DEPTH levels below the
 * directory; past either, tar_open fails with -E2BIG (nothing is cut
 * silently).  A file found changed (size, mtime or identity) when its turn
 * comes fails tar_next: the connection is cut, never a wrong body. */
#ifndef BERTH_HTTP_TAR_H
#define BERTH_HTTP_TAR_H

#include "buf.h"

#include <stdint.h>
#include <time.h>

#define TAR_MAX_ENTRIES 20000
#define TAR_MAX_DEPTH   32

struct tar;

/* Walks the directory at URL path urlpath (normalised, ending in '/')
 * beneath rootfd; entries are named top "/" their path below it.  *total
 * receives the stream's exact length.  0, or -E2BIG past a limit
 * (max_entries, at most TAR_MAX_ENTRIES, or TAR_MAX_DEPTH), -ENOMEM, or
 * -errno reading the tree. */
int tar_open(struct tar **out, int rootfd, const char *urlpath, const char *top, int show_hidden,
             size_t max_entries, uint64_t *total);

/* The next piece: appends headers (and the previous file's padding) to
 * out, then returns 1 with *fd (the caller's to close) and *size: a region
 * [0, size) to send next, *mtime the file's (size 0: headers only, fd a
 * placeholder, so the caller's transfer stays open), or 0 once the closing
 * blocks are appended.  Negative: a file changed or cannot be opened
 * (abort the answer). */
int tar_next(struct tar *t, struct buf *out, int *fd, uint64_t *size, struct timespec *mtime);

/* Stream bytes not yet handed out (appended or returned as a region). */
uint64_t tar_left(const struct tar *t);

void tar_free(struct tar *t);

/* Writes the ustar/pax header block(s) of one entry into dst (NULL: only
 * measure); returns their length (a multiple of 512, at most 512 * 12).
 * Exposed for the unit tests. */
size_t tar_header(char *dst, const char *name, size_t nlen, int dir, uint64_t size, int64_t mtime,
                  int exec);

#endif
