/* conn — an HTTP/1.1 connection of a worker (the state machine is
 * conn.c; struct conn is in server.h). */
#ifndef BERTH_HTTP_CONN_H
#define BERTH_HTTP_CONN_H

#include "net.h"

struct conn;
struct worker;

/* Takes the accepted socket fd (closed on failure) into worker w. */
void conn_new(struct worker *w, int fd, const struct net_addr *peer);
/* Closes c now: its socket, transfer, buffers; a deferred log line is
 * written with the bytes that went out. */
void conn_close(struct conn *c);

#endif
