#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *msg;
} own[] = {
#define X(name, val, msg) {val, msg},
    BERTH_ERRORS(X)
#undef X
};

/* strerror() capitalises and varies by libc; these are the ones users meet */
static const struct {
    int code;
    const char *msg, *hint;
} sys[] = {
    {EADDRINUSE, "address already in use", "try --port 0 or stop the other server"},
    {EADDRNOTAVAIL, "address not available on this machine", "bind to 0.0.0.0, :: or 127.0.0.1"},
    {EACCES, "permission denied", "ports below 1024 need root; try a port above 1024"},
    {ECONNREFUSED, "connection refused", "is the server running?"},
    {ECONNRESET, "connection reset by peer", ""},
    {ETIMEDOUT, "timed out", "is the host reachable? raise --timeout to wait longer"},
    {EHOSTUNREACH, "host unreachable", "check the address and your network"},
    {ENETUNREACH, "network unreachable", "check the address and your network"},
    {EMFILE, "too many open files", "raise the limit with ulimit -n"},
    {ENFILE, "too many open files in the system", "raise fs.file-max"},
    {ENOENT, "no such file or directory", ""},
    {EPIPE, "connection closed by peer", ""},
    {EAFNOSUPPORT, "address family not supported", "is IPv6 enabled on this machine?"},
    {ENOMEM, "out of memory", ""},
    {EINVAL, "invalid argument", ""},
};

static const char *own_hint(int code)
{
    switch (code) {
    case BERTH_ERESOLVE:
        return "check the spelling, or give a numeric address";
    case BERTH_EBADADDR:
        return "use HOST, IPv4, [IPv6] or unix:/path";
    case BERTH_ETOOBIG:
        return "raise the limit if the peer is trusted";
    default:
        return "";
    }
}

const char *err_str(int code)
{
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (own[i].code == code) return own[i].msg;
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (-sys[i].code == code) return sys[i].msg;
    if (code < 0 && code > -4000) return strerror(-code);
    return "unknown error";
}

const char *err_hint(int code)
{
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (-sys[i].code == code) return sys[i].hint;
    return own_hint(code);
}

char *err_fmt(char *out, size_t n, int code, const char *what)
{
    const char *hint = err_hint(code);
    snprintf(out, n, "%s: %s%s%s", what, err_str(code), *hint ? "; " : "", hint);
    return out;
}
