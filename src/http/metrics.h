/* metrics — the server's counters in the Prometheus text exposition format
 * (0.0.4).  Each worker counts into its own struct metrics (only it writes
 * there: plain adds done as relaxed atomic stores, no shared cache line, no
 * lock); the exposition sums the workers with relaxed loads.  The
 * formatter is pure: it writes what it is given. */
#ifndef BERTH_HTTP_METRICS_H
#define BERTH_HTTP_METRICS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* methods by http_method (parse.h) order; the last is every other one */
#define METRICS_METHODS  10
#define METRICS_CODE_MIN 100
#define METRICS_CODES    500 /* 100..599 */

/* the states of open connections (status.h names them) */
enum conn_state {
    CONN_HANDSHAKE,
    CONN_READING_HEAD,
    CONN_READING_BODY,
    CONN_WRITING,
    CONN_IDLE,
    CONN_DRAINING,
    CONN_STATES
};

struct metrics {
    uint64_t req[METRICS_METHODS][METRICS_CODES];
    uint64_t accepts;
    uint64_t tls_ok, tls_failed;
    uint64_t timeouts, resets, parse_errors;
};

/* Adds n to a counter this thread alone writes (readers: metrics_load). */
static inline void metrics_add(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Counts an answer with status (100..599; others are not counted) to a
 * request of method (enum http_method; out of range: other).  Inline: it
 * is on every request's path. */
static inline void metrics_request(struct metrics *m, int method, int status)
{
    unsigned code = (unsigned)status - METRICS_CODE_MIN;
    if (code >= METRICS_CODES) return;
    if ((unsigned)method >= METRICS_METHODS) method = METRICS_METHODS - 1;
    metrics_add(&m->req[method][code], 1);
}
/* dst += src, reading src with relaxed loads (src may be live). */
void metrics_sum(struct metrics *dst, const struct metrics *src);

/* What the exposition shows besides the counters. */
struct metrics_view {
    const struct metrics *m;
    uint64_t bytes_in, bytes_out;
    uint64_t cache_hits, cache_misses;
    /* the file caches: bytes held, entries, evictions; their hashing
     * threads: jobs queued, done, dropped (queue full), failed, bytes read,
     * in flight now */
    uint64_t cache_bytes, cache_entries, cache_evictions;
    uint64_t hash_queued, hash_done, hash_dropped, hash_failed, hash_bytes, hash_depth;
    /* on-the-fly compression (http/compress): compressions done, bytes in
     * and out of them, cache lookups that hit and missed, results evicted,
     * results and bytes held, memfds held, helper jobs in flight; large
     * sidecars held open */
    uint64_t comp_made, comp_in, comp_out, comp_hits, comp_misses, comp_evictions;
    uint64_t comp_items, comp_bytes, comp_fds, comp_jobs, side_fds;
    uint64_t conns[CONN_STATES]; /* open connections by state */
    double uptime;               /* seconds */
    int workers;
    int tls; /* whether the TLS handshake counters are shown */
};

/* The name of a connection state ("idle", "reading_head", ...). */
const char *metrics_state_name(int state);
/* Appends the whole exposition of v to out; 0 or -ENOMEM. */
int metrics_format(struct buf *out, const struct metrics_view *v);

#endif
