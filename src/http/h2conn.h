/* h2conn — a connection of a worker that speaks HTTP/2 over its transport
 * (ALPN "h2" over TLS, or h2c with prior knowledge on a plaintext port); the
 * session itself is http/h2, the answers are conn_answer's. */
#ifndef BERTH_HTTP_H2CONN_H
#define BERTH_HTTP_H2CONN_H

#include <stddef.h>

struct conn;
struct worker;

/* Whether p[0..n) begins with the HTTP/2 client preface: 1 yes, 0 it may
 * (too few bytes yet), -1 no. */
int h2conn_preface(const char *p, size_t n);

/* Turns c into an HTTP/2 connection (its server SETTINGS are queued).  0 or
 * -ENOMEM. */
int h2conn_start(struct conn *c);
/* Feeds bytes already read (the preface included); -1 on a connection
 * error (c is then closing, a GOAWAY queued). */
int h2conn_feed(struct conn *c, const char *p, size_t n);
/* The connection's socket event: read, answer, write. */
void h2conn_event(struct conn *c, unsigned events);
/* Sends what is queued (a GOAWAY first when the worker drains), then waits
 * for the right event, or closes c when it is done. */
void h2conn_run(struct conn *c);

/* A live exchange (API v2) of c has news: over h2 its answer goes out
 * whole once the program ended it. */
struct live;
void h2conn_kick(struct conn *c, struct live *lv);

/* Frees what w's h2 connections shared (after the last has closed). */
void h2conn_worker_free(struct worker *w);

#endif
