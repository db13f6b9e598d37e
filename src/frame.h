/* frame — message boundaries on a byte stream (the framing choices of the
 * Socket HOWTO): fixed length, a delimiter, a 2- or 4-byte big-endian length
 * prefix, or "the message ends when the peer closes".
 *
 * The decoder is a pure function over the caller's bytes: no I/O, no
 * allocation, and it keeps its progress so a delimiter search never re-scans
 * bytes it has already looked at.  Feed it the whole unconsumed input each
 * time (the same start, possibly more bytes); after it returns a message,
 * consume `frame_decode()`'s return value from the input. */
#ifndef BERTH_FRAME_H
#define BERTH_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum frame_kind { FRAME_FIXED, FRAME_DELIM, FRAME_LEN16, FRAME_LEN32, FRAME_CLOSE };

struct frame_dec {
    enum frame_kind kind;
    size_t size;       /* FRAME_FIXED: the message size */
    const char *delim; /* FRAME_DELIM: the delimiter (not part of the message) */
    size_t delim_len;
    size_t max;     /* largest payload accepted; 0 = no limit */
    size_t scanned; /* progress: bytes already searched (FRAME_DELIM) */
};

/* Sets up a decoder; `arg` is the size for FRAME_FIXED and ignored otherwise
 * (use frame_init_delim for delimiters). */
void frame_init(struct frame_dec *d, enum frame_kind kind, size_t arg, size_t max);
void frame_init_delim(struct frame_dec *d, const char *delim, size_t delim_len, size_t max);

/* Looks for one whole message at the start of p[0..n).  `eof` says the peer
 * has closed, so no more bytes will come.
 *   > 0  a message: *msg and *msg_len point at its payload inside p; the return
 *        value is how many bytes of p the frame used (prefix + payload + delim)
 *   0    need more bytes (or, at eof with n == 0: the stream ended cleanly)
 *   < 0  BERTH_ETOOBIG (over max), BERTH_EOF (eof inside a message) */
ssize_t frame_decode(struct frame_dec *d, const char *p, size_t n, int eof, const char **msg,
                     size_t *msg_len);

/* Writes the length prefix for a payload of `len` bytes into out (2 or 4
 * bytes); returns its size, or BERTH_ETOOBIG when len does not fit. */
int frame_put_len(enum frame_kind kind, size_t len, uint8_t out[4]);

#endif
