/* ws_client — `berth echo --ws`: a WebSocket client (RFC 6455) over plain
 * TCP or TLS (OpenSSL, the certificate verified against the system's
 * roots, a --cacert file, or not at all with --insecure).  One connection
 * that sends a message and prints the echo, or many concurrent connections
 * that pipeline patterned binary messages and check every echoed byte.
 * permessage-deflate (RFC 7692) is offered when asked for (ws_client_pmd
 * checks the answer; the connection itself is ws_client_conn's).
 *
 * Everything returns 0 or a negative err.h code; on failure `why` receives
 * one line naming the cause and the fix. */
#ifndef BERTH_WS_CLIENT_H
#define BERTH_WS_CLIENT_H

#include "ws_client_pmd.h"

#include <stddef.h>

struct ws_url {
    char host[256]; /* without brackets */
    int port;
    int tls;         /* wss:// */
    char path[2048]; /* path and query, "/" at least */
};

/* ws://HOST[:PORT][/PATH] or wss://...; HOST may be [v6].  0 or BERTH_EUSAGE. */
int ws_url_parse(const char *url, struct ws_url *u);

struct ws_client_opt {
    const char *url;
    const char *cacert; /* PEM roots instead of the system's; NULL: the system's */
    int insecure;       /* wss:// without verifying the certificate */
    int timeout_ms;     /* connect and inactivity limit; <= 0: none */
    int binary;         /* send a binary message instead of text */
    const char *data;   /* what to send; NULL: read in_fd to its end */
    size_t len;
    int in_fd, out_fd;
    int messages;              /* how many times to send it (< 1: once) */
    const char *sep;           /* written between two echoes; NULL: nothing */
    struct ws_deflate deflate; /* permessage-deflate to offer; zero: none */
    char *ext;                 /* when not NULL: the server's Sec-WebSocket-Extensions */
    size_t ext_n;              /* ... into ext[0..ext_n), "" for none */
};

/* Connects, sends the message (messages times, each after the echo of the
 * one before), writes the messages that come back to out_fd (sep between
 * them), closes with 1000 and waits for the server's close. */
int ws_client_run(const struct ws_client_opt *o, char *why, size_t n);

struct ws_multi_opt {
    const char *url, *cacert;
    int insecure;
    int connections, messages;
    size_t size;
    int timeout_ms;
    struct ws_deflate deflate; /* permessage-deflate to offer; zero: none */
};

struct ws_multi_result {
    int connections;
    unsigned long long messages, bytes; /* echoed back and checked */
    double seconds;                     /* from the first message sent to the last close */
    int deflated;                       /* connections with permessage-deflate agreed */
    char ext[256];                      /* the first connection's Sec-WebSocket-Extensions */
};

/* Opens o->connections WebSockets, then on one event loop sends
 * o->messages binary messages of o->size bytes on each (a window of them
 * in flight) and checks that each echo is the message sent; closes each
 * with 1000. */
int ws_multi_run(const struct ws_multi_opt *o, struct ws_multi_result *r, char *why, size_t n);

#endif
