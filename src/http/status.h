/* status — the live connection table and the counters, for --status (JSON)
 * and --metrics (Prometheus text), built without stopping the workers.
 *
 * Only a worker may read its own connections, so each worker publishes its
 * part: its table as JSON text and its count of connections by state, under
 * its own short mutex.  A scrape (status_collect, on whichever worker got
 * the request) publishes its own worker's part, pokes every other worker
 * through its eventfd (each publishes from its own loop as soon as it wakes)
 * and waits for them, bounded (STATUS_WAIT_MS): a busy or stuck worker
 * leaves its previous part in the answer, marked by its age, never a
 * stalled scrape.  Two workers scraping at once cannot deadlock: each
 * publishes before it waits, which is what the other waits for.  The cost
 * is nothing on the hot path; a scrape costs a walk of the connections. */
#ifndef BERTH_HTTP_STATUS_H
#define BERTH_HTTP_STATUS_H

#include "buf.h"
#include "http/metrics.h"

#include <pthread.h>
#include <stdint.h>

#define STATUS_WAIT_MS 250

struct worker;
struct conn;
struct loop;

/* A worker's published part. */
struct status_pub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t gen;                 /* bumped by each publication */
    char *json;                   /* its connections: a JSON array's items, "" none */
    uint64_t states[CONN_STATES]; /* its connections by state */
    uint64_t at_ms;               /* CLOCK_MONOTONIC ms of the publication */
    int gone;                     /* the worker's loop no longer answers */
    int fd;                       /* eventfd: a scrape asks for a publication */
};

int status_pub_init(struct status_pub *p);
void status_pub_free(struct status_pub *p);

/* The state of connection c (enum conn_state), from its fields. */
int status_conn_state(const struct conn *c);
/* Publishes w's part now (on w's thread). */
void status_publish(struct worker *w);
/* w's loop is ending: a last publication, and scrapes stop waiting for it. */
void status_leave(struct worker *w);
/* The eventfd callback of a worker (arg): publishes. */
void status_on_poke(struct loop *l, int fd, unsigned events, void *arg);

/* Which admin path request r on c asks for: 0 none, STATUS_METRICS or
 * STATUS_TABLE; with --status, c keeps a bounded copy of r's target for
 * the table (without it nobody reads one, so none is made). */
enum { STATUS_METRICS = 1, STATUS_TABLE = 2 };
struct http_request;
int status_route(struct conn *c, const struct http_request *r);

/* The body of an answer, from worker self's thread: the status JSON
 * (metrics 0) or the metrics exposition (1); 0 or -ENOMEM. */
int status_collect(struct worker *self, int metrics, struct buf *out);

#endif
