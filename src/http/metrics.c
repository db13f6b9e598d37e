/* metrics — counters per worker, summed into the Prometheus text format. */
#include "http/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const method_names[METRICS_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "other"};

static const char *const state_names[CONN_STATES] = {"handshake", "reading_head", "reading_body",
                                                     "writing",   "idle",         "draining"};

const char *metrics_state_name(int state)
{
    return state >= 0 && state < CONN_STATES ? state_names[state] : "unknown";
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void metrics_sum(struct metrics *dst, const struct metrics *src)
{
    for (int i = 0; i < METRICS_METHODS; i++)
        for (int j = 0; j < METRICS_CODES; j++)
            dst->req[i][j] += load(&src->req[i][j]);
    dst->accepts += load(&src->accepts);
    dst->tls_ok += load(&src->tls_ok);
    dst->tls_failed += load(&src->tls_failed);
    dst->timeouts += load(&src->timeouts);
    dst->resets += load(&src->resets);
    dst->parse_errors += load(&src->parse_errors);
}

/* printf onto the tail of out (failure remembered in *err) */
static void put(struct buf *out, int *err, const char *fmt, ...)
{
    if (*err) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line || buf_append(out, line, (size_t)n) < 0) *err = -ENOMEM;
}

/* the HELP and TYPE lines of one family */
static void family(struct buf *out, int *err, const char *name, const char *type, const char *help)
{
    put(out, err, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct buf *out, int *err, const char *name, const char *help, uint64_t n)
{
    family(out, err, name, "gauge", help);
    put(out, err, "%s %llu\n", name, (unsigned long long)n);
}

/* on-the-fly compression and sidecars (http/compress, http/encvar) */
static void compression(struct buf *out, int *err, const struct metrics_view *v)
{
    family(out, err, "berth_compress_results_total", "counter",
           "Files compressed on the fly (each coding once per file version).");
    put(out, err, "berth_compress_results_total %llu\n", (unsigned long long)v->comp_made);
    family(out, err, "berth_compress_bytes_total", "counter",
           "Bytes compressed on the fly (in) and what they became (out).");
    put(out, err, "berth_compress_bytes_total{direction=\"in\"} %llu\n",
        (unsigned long long)v->comp_in);
    put(out, err, "berth_compress_bytes_total{direction=\"out\"} %llu\n",
        (unsigned long long)v->comp_out);
    family(out, err, "berth_compress_cache_lookups_total", "counter",
           "Lookups in the caches of compressed results, by result.");
    put(out, err, "berth_compress_cache_lookups_total{result=\"hit\"} %llu\n",
        (unsigned long long)v->comp_hits);
    put(out, err, "berth_compress_cache_lookups_total{result=\"miss\"} %llu\n",
        (unsigned long long)v->comp_misses);
    family(out, err, "berth_compress_cache_evictions_total", "counter",
           "Compressed results evicted to stay within --compress-cache or the descriptor bound.");
    put(out, err, "berth_compress_cache_evictions_total %llu\n",
        (unsigned long long)v->comp_evictions);
    gauge(out, err, "berth_compress_cache_bytes", "Bytes the caches of compressed results hold.",
          v->comp_bytes);
    gauge(out, err, "berth_compress_cache_results",
          "Compressed results held (and not-smaller marks).", v->comp_items);
    gauge(out, err, "berth_compress_cache_descriptors", "Memfds of large compressed results held.",
          v->comp_fds);
    gauge(out, err, "berth_compress_queue",
          "Large files queued or being compressed by the helper threads.", v->comp_jobs);
    gauge(out, err, "berth_sidecar_descriptors", "Large precompressed sidecars held open.",
          v->side_fds);
}

int metrics_format(struct buf *out, const struct metrics_view *v)
{
    const struct metrics *m = v->m;
    int err = 0;
    family(out, &err, "berth_http_requests_total", "counter",
           "Requests answered, by method and status code.");
    for (int i = 0; i < METRICS_METHODS; i++)
        for (int j = 0; j < METRICS_CODES; j++)
            if (m->req[i][j])
                put(out, &err, "berth_http_requests_total{method=\"%s\",code=\"%d\"} %llu\n",
                    method_names[i], j + METRICS_CODE_MIN, (unsigned long long)m->req[i][j]);
    family(out, &err, "berth_sent_bytes_total", "counter",
           "Bytes written to connections (heads, bodies, TLS records).");
    put(out, &err, "berth_sent_bytes_total %llu\n", (unsigned long long)v->bytes_out);
    family(out, &err, "berth_received_bytes_total", "counter", "Bytes read from connections.");
    put(out, &err, "berth_received_bytes_total %llu\n", (unsigned long long)v->bytes_in);
    family(out, &err, "berth_connections", "gauge", "Open connections, by state.");
    for (int s = 0; s < CONN_STATES; s++)
        put(out, &err, "berth_connections{state=\"%s\"} %llu\n", state_names[s],
            (unsigned long long)v->conns[s]);
    family(out, &err, "berth_accepted_connections_total", "counter", "Connections accepted.");
    put(out, &err, "berth_accepted_connections_total %llu\n", (unsigned long long)m->accepts);
    if (v->tls) {
        family(out, &err, "berth_tls_handshakes_total", "counter", "TLS handshakes, by result.");
        put(out, &err, "berth_tls_handshakes_total{result=\"ok\"} %llu\n",
            (unsigned long long)m->tls_ok);
        put(out, &err, "berth_tls_handshakes_total{result=\"failed\"} %llu\n",
            (unsigned long long)m->tls_failed);
    }
    family(out, &err, "berth_file_cache_hits_total", "counter",
           "Static answers from a file cache entry already held.");
    put(out, &err, "berth_file_cache_hits_total %llu\n", (unsigned long long)v->cache_hits);
    family(out, &err, "berth_file_cache_misses_total", "counter",
           "File cache entries built (a file read or opened anew).");
    put(out, &err, "berth_file_cache_misses_total %llu\n", (unsigned long long)v->cache_misses);
    family(out, &err, "berth_file_cache_bytes", "gauge",
           "Bytes the file caches hold (entries, paths, prebuilt fields, small files).");
    put(out, &err, "berth_file_cache_bytes %llu\n", (unsigned long long)v->cache_bytes);
    family(out, &err, "berth_file_cache_entries", "gauge", "Files the caches hold.");
    put(out, &err, "berth_file_cache_entries %llu\n", (unsigned long long)v->cache_entries);
    family(out, &err, "berth_file_cache_evictions_total", "counter",
           "Entries evicted to stay within --cache-size.");
    put(out, &err, "berth_file_cache_evictions_total %llu\n",
        (unsigned long long)v->cache_evictions);
    family(out, &err, "berth_file_hash_jobs_total", "counter",
           "Large files' content hashes, by outcome (queued, done, dropped: queue full, "
           "failed: unreadable or changed meanwhile).");
    put(out, &err, "berth_file_hash_jobs_total{state=\"queued\"} %llu\n",
        (unsigned long long)v->hash_queued);
    put(out, &err, "berth_file_hash_jobs_total{state=\"done\"} %llu\n",
        (unsigned long long)v->hash_done);
    put(out, &err, "berth_file_hash_jobs_total{state=\"dropped\"} %llu\n",
        (unsigned long long)v->hash_dropped);
    put(out, &err, "berth_file_hash_jobs_total{state=\"failed\"} %llu\n",
        (unsigned long long)v->hash_failed);
    family(out, &err, "berth_file_hash_bytes_total", "counter", "File bytes read to hash them.");
    put(out, &err, "berth_file_hash_bytes_total %llu\n", (unsigned long long)v->hash_bytes);
    family(out, &err, "berth_file_hash_queue", "gauge", "Hash jobs in flight.");
    put(out, &err, "berth_file_hash_queue %llu\n", (unsigned long long)v->hash_depth);
    compression(out, &err, v);
    family(out, &err, "berth_errors_total", "counter", "Connections ended by an error, by kind.");
    put(out, &err, "berth_errors_total{kind=\"timeout\"} %llu\n", (unsigned long long)m->timeouts);
    put(out, &err, "berth_errors_total{kind=\"reset\"} %llu\n", (unsigned long long)m->resets);
    put(out, &err, "berth_errors_total{kind=\"parse\"} %llu\n",
        (unsigned long long)m->parse_errors);
    family(out, &err, "berth_workers", "gauge", "Worker threads.");
    put(out, &err, "berth_workers %d\n", v->workers);
    family(out, &err, "berth_uptime_seconds", "gauge", "Seconds since the server started.");
    put(out, &err, "berth_uptime_seconds %.3f\n", v->uptime);
    return err;
}
