/* err — the library's one error convention.
 *
 * Every fallible function returns 0 (or a count) on success and a negative
 * code on failure: -errno for system errors, or one of the BERTH_E* codes
 * below for the library's own.  There is no global error variable.  All text
 * comes from here: err_str() for the cause, err_hint() for what to do next. */
#ifndef BERTH_ERR_H
#define BERTH_ERR_H

#include <stddef.h>

/* library codes sit below -4000, far from any errno value */
#define BERTH_ERRORS(X)                                                                            \
    X(EOF, -4001, "connection closed in the middle of a message")                                  \
    X(ETOOBIG, -4002, "message larger than the configured limit")                                  \
    X(EBADADDR, -4003, "malformed address")                                                        \
    X(EPROTO, -4004, "protocol violation")                                                         \
    X(ERESOLVE, -4005, "host name could not be resolved")                                          \
    X(EUSAGE, -4006, "invalid argument")                                                           \
    X(EJSON, -4007, "malformed JSON")                                                              \
    X(EFIELD, -4008,                                                                               \
      "malformed header field; a name must be a token (letters, digits, !#$%&'*+-.^_`|~) and a "   \
      "value visible characters with inner spaces only, no CR, LF or other control byte")          \
    X(ERESERVED, -4009,                                                                            \
      "header field reserved for the server; Content-Length, Transfer-Encoding, Connection, "      \
      "Keep-Alive, Upgrade, TE, Trailer, Date and Server are written by berth, and Content-Type "  \
      "is set once (best through berth_respond)")                                                  \
    X(ETLS, -4010, "TLS could not be set up; the message before this one says why")                \
    /* API v2 (deferred and streamed exchanges) */                                                 \
    X(EGONE, -4020,                                                                                \
      "the client is gone (disconnected, reset the stream, or the server stopped); release "       \
      "the request with berth_resp_end")                                                           \
    X(EFULL, -4021, "the response queue is full; write again from the writable callback")          \
    X(EHANDSHAKE, -4022,                                                                           \
      "not a WebSocket handshake; the client was answered with 400, 426 or 503, so the handler "   \
      "just returns")

enum berth_err {
#define X(name, val, msg) BERTH_##name = val,
    BERTH_ERRORS(X)
#undef X
};

/* The cause, in lower case: "address already in use". Never NULL. */
const char *err_str(int code);

/* A hint naming the fix ("try --port 0"), or "" when there is none to give. */
const char *err_hint(int code);

/* Formats "<what>: <cause>[; <hint>]" into out and returns out. */
char *err_fmt(char *out, size_t n, int code, const char *what);

#endif
