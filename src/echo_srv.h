/* echo_srv — what the echo server's files share (not part of echo.h's
 * contract): the server state, the limits, the logging helpers, and the two
 * non-blocking models that live in echo_nb.c. */
#ifndef BERTH_ECHO_SRV_H
#define BERTH_ECHO_SRV_H

#include "echo.h"
#include "net.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define CHUNK           (64 * 1024)
#define HIGH_WATER      (256 * 1024) /* unsent bytes past which we stop reading */
#define STOP_GRACE_MS   5000         /* after a stop signal, to flush what was read */
#define ACCEPT_PAUSE_MS 100          /* out of descriptors: wait this long before accepting again */

struct echo_srv {
    const struct echo_server_opt *o;
    FILE *out;
    int lfd;
    int send_ms;           /* drop a peer owed output that takes none this long; 0: never */
    time_t complained;     /* when accept trouble was last reported */
    time_t refused_at;     /* select: when a "refusing" line was last printed */
    unsigned long refused; /* select: connections refused since that line */
};

/* Whether a failed accept calls for a pause (reported at most once a minute). */
int echo_accept_trouble(struct echo_srv *s, int rc);
uint64_t echo_mono_ms(void);
void echo_log_open(struct echo_srv *s, const char *peer);
void echo_log_close(struct echo_srv *s, const char *peer, unsigned long long in,
                    unsigned long long out, int rc);
void echo_peer_str(const struct net_addr *a, char *out, size_t n);

/* The models; each returns 0 once stopped, or a negative err.h code.
 * select learns of a stop from stop_fd becoming readable, epoll from its
 * own signalfd. */
int echo_run_select(struct echo_srv *s, int stop_fd);
int echo_run_epoll(struct echo_srv *s);

#endif
