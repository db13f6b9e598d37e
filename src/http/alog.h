/* alog — the access log: one line per answered request, in the Common Log
 * Format or nginx's "combined" format.
 *
 * alog_format is a pure formatter over plain views (no I/O, no parser
 * types): a caller that logs later (when a file transfer ends) copies the
 * entry and the bytes it points at.  Request line, Referer and User-Agent are
 * escaped as nginx does: '"', '\\', bytes below 0x20, 0x7f and bytes from
 * 0x80 up become \xHH, so a request can neither end a field nor forge a line
 * or a terminal escape.  Workers collect lines in their own buffer and write
 * them in one go with alog_write. */
#ifndef BERTH_HTTP_ALOG_H
#define BERTH_HTTP_ALOG_H

#include "buf.h"
#include "http/str.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

enum alog_fmt {
    ALOG_CLF = 0,      /* host - - [time] "request" status bytes */
    ALOG_COMBINED = 1, /* the same, then "Referer" "User-Agent" */
};

struct alog_entry {
    int family;       /* AF_INET or AF_INET6 (::ffff:a.b.c.d is logged a.b.c.d); 0: "-" */
    uint8_t addr[16]; /* the peer's address bytes, network order */
    time_t when;
    /* the request line: method, target and version (10 or 11) when it was
     * parsed; else `line`, the raw first line read; neither (p NULL): "-" */
    struct http_str method, target;
    int version;
    struct http_str line;
    int status;
    uint64_t bytes;                      /* body bytes sent; 0 is logged "-" as CLF does */
    struct http_str referer, user_agent; /* p NULL: absent, logged "-" */
};

/* Appends one line, '\n' included, to out.  0, or a negative code (out of
 * memory, or out's limit) with out unchanged. */
int alog_format(struct buf *out, const struct alog_entry *e, enum alog_fmt fmt);

/* The first line of raw input p[0..n) (after empty lines, up to CR or LF),
 * at most max bytes: what to log for a request that did not parse. */
struct http_str alog_first_line(const char *p, size_t n, size_t max);

/* Writes b to fd and empties it; a failing write (a full disk) loses the
 * lines, never blocks or fails a request. */
void alog_write(int fd, struct buf *b);

/* Opens path anew (append, create 0644) over descriptor fd, which keeps its
 * number, so every writer of fd goes on writing, now to the new file
 * (logrotate renamed the old one).  0, or -errno with fd unchanged. */
int alog_reopen(int fd, const char *path);

/* The log file every worker writes to.  On SIGHUP (logrotate renamed the
 * file) alog_sink_rotate starts a reopening; each worker, woken, calls
 * alog_sink_sync, which writes its lines to the file they were logged for,
 * and the last one opens the path anew over the same descriptor number: no
 * line is lost or lands in the wrong file.  Workers join before their first
 * line and sync with leaving = 1 after their last. */
struct alog_sink {
    int fd;     /* 2 (stderr) until a path is opened */
    char *path; /* NULL: stderr, never reopened */
    pthread_mutex_t mu;
    unsigned gen, left, live; /* reopenings, workers still to sync, workers joined; under mu */
};

void alog_sink_init(struct alog_sink *k);
/* Opens path for appending (created 0644).  0, -errno or -ENOMEM. */
int alog_sink_open(struct alog_sink *k, const char *path);
void alog_sink_free(struct alog_sink *k);
/* A worker arrives; *gen is its own counter (the reopening it synced for). */
void alog_sink_join(struct alog_sink *k, unsigned *gen);
/* Starts a reopening: 1 when the workers must now be woken to sync; 0 on
 * stderr, or while a reopening is under way (it covers this one). */
int alog_sink_rotate(struct alog_sink *k);
/* Writes `lines` (emptying it) when a reopening waits for this worker, or
 * always when leaving; the last worker to sync reopens the path.  0, or the
 * reopening's -errno (the old file stays in use). */
int alog_sink_sync(struct alog_sink *k, unsigned *gen, struct buf *lines, int leaving);

#endif
