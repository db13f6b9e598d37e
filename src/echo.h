/* echo — the echo server of the tutorials in five concurrency models, and
 * its clients: one connection (send, half-close, read to EOF) or many
 * concurrent connections that check every echoed byte.
 *
 * Everything returns 0 or a negative err.h code; on failure `why` receives
 * one line naming the cause and the fix (no "berth: " prefix, no newline). */
#ifndef BERTH_ECHO_H
#define BERTH_ECHO_H

#include <stddef.h>
#include <stdio.h>

#define ECHO_SEND_TIMEOUT_MS 30000

enum echo_model { ECHO_ITERATIVE, ECHO_FORK, ECHO_THREAD, ECHO_SELECT, ECHO_EPOLL };

/* "iterative" ... "epoll" to the model, or BERTH_EUSAGE. */
int echo_model_parse(const char *name);
const char *echo_model_name(enum echo_model m);

struct echo_server_opt {
    const char *host; /* "127.0.0.1", "::", "localhost", "unix:/path"; NULL = all */
    int port;         /* 0 = pick a free one */
    enum echo_model model;
    int udp;   /* echo datagrams instead (the model does not apply) */
    int quiet; /* no per-connection lines (nor select's "refusing" lines) */
    /* a client that takes none of the echo it is owed for this long is
     * dropped, in every model; 0 = ECHO_SEND_TIMEOUT_MS, < 0 = never */
    int send_timeout_ms;
    FILE *out; /* "listening on ..." and per-connection lines; NULL = stdout */
};

/* Listens, prints "listening on ADDR (tcp, model M)" and echoes until SIGINT
 * or SIGTERM; then stops accepting, lets every connection finish sending
 * what it has read (a peer that will not take it gets a few seconds), and
 * returns 0.  Signals are process-wide: one server per process at a time;
 * it installs its own SIGINT/SIGTERM/SIGCHLD handling for the duration, and
 * the epoll model leaves SIGINT/SIGTERM blocked afterwards (see loop.h). */
int echo_server_run(const struct echo_server_opt *o, char *why, size_t n);

struct echo_client_opt {
    const char *host;
    int port;
    int udp;
    int timeout_ms;   /* connect and inactivity limit; <= 0: none */
    const char *data; /* what to send; NULL = read in_fd to its end */
    size_t len;
    int in_fd, out_fd; /* stdin and stdout, usually */
};

/* Sends the data (TCP: then shutdown(SHUT_WR)) and copies everything that
 * comes back to out_fd until EOF (UDP: the one reply datagram). */
int echo_client_run(const struct echo_client_opt *o, char *why, size_t n);

struct echo_multi_opt {
    const char *host;
    int port;
    int connections, messages;
    size_t size;    /* bytes per message */
    int timeout_ms; /* fails when no connection makes progress for this long */
};

struct echo_multi_result {
    int connections;
    unsigned long long bytes; /* bytes echoed back and checked */
    double seconds;
};

/* Opens o->connections connections at once and, on the event loop, sends
 * o->messages messages of o->size patterned bytes on each while checking
 * every byte that comes back.  BERTH_EPROTO (with the place in `why`) when
 * an echoed byte differs or bytes are missing. */
int echo_multi_run(const struct echo_multi_opt *o, struct echo_multi_result *r, char *why,
                   size_t n);

#endif
