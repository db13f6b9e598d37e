/* conn — an HTTP/1.1 connection of a worker (and what an HTTP/2 one shares) (the state machine is
 * conn.c; struct conn is in server.h). */
#ifndef BERTH_HTTP_CONN_H
#define BERTH_HTTP_CONN_H

#include "net.h"

#include <stddef.h>
#include <stdint.h>

struct conn;
struct worker;
struct loop;
struct http_request;
struct http_xfer;

/* Takes the accepted socket fd (closed on failure) into worker w. */
void conn_new(struct worker *w, int fd, const struct net_addr *peer);
/* Closes c now: its socket, transfer, buffers; a deferred log line is
 * written with the bytes that went out. */
void conn_close(struct conn *c);

/* What the HTTP/2 connection (h2conn.c) shares with the HTTP/1.1 one. */
/* The socket event callback of c (arg). */
void conn_on_event(struct loop *l, int fd, unsigned events, void *arg);
/* Ends c in stages (RFC 9112 §9.6): our side shut, input dropped until the
 * client closes or a moment passes, then closed. */
void conn_linger(struct conn *c);
/* Counts an answer to r (NULL: a request that did not parse) with status. */
void conn_count(struct conn *c, const struct http_request *r, int status);
/* Answers r with an error page (why: a sentence for its body; extra: more
 * field lines), counted and logged; a failure marks c closing. */
void conn_error(struct conn *c, const struct http_request *r, int status, const char *extra,
                const char *why);
/* A live exchange of c (API v2) has something for the connection to do:
 * its answer was queued or ended, its body resumed (from the worker's
 * wake-up). */
struct live;
void conn_kick(struct conn *c, struct live *lv);
/* Writes c->out (and c->x): 1 all written, 0 the socket is full, -1 dead. */
int conn_flush(struct conn *c);
/* c times out ms from now (the heap is touched only when that is sooner). */
void conn_deadline(struct conn *c, uint64_t ms);

#endif
