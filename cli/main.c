/* berth — sockets to HTTP.  Dispatches to the subcommands in cli/cmd_*.c. */
#include "cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} cmds[] = {
    {"serve", cmd_serve, "serve a directory over HTTP/1.1 (drop-in for python3 -m http.server)"},
    {"echo-server", cmd_echo_server,
     "TCP/UDP echo server; --model iterative|fork|thread|select|epoll"},
    {"echo", cmd_echo_client, "echo client: send words or stdin, print what comes back"},
    {"app-server", cmd_app_server, "application-protocol server (Real Python's libserver)"},
    {"app-client", cmd_app_client, "application-protocol client (Real Python's libclient)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: berth <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\n'berth <command> --help' describes each command.  berth --version\n");
}

int cmd_parse_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 65535) return -1;
    return (int)v;
}

int cmd_parse_size(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno) return -1;
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'm' || *end == 'M')
        shift = 20, end++;
    else if (*end == 'g' || *end == 'G')
        shift = 30, end++;
    if (*end || (shift && v > (~0ULL >> shift))) return -1;
    *out = v << shift;
    return 0;
}

int cmd_parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= 0) || v > 86400) return -1;
    return (int)(v * 1000 + 0.999); /* round up: 0.0001 s is not "never" */
}

int cmd_usage_error(const char *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "berth %s: %s%s%s; try 'berth %s --help'\n", cmd, msg, arg ? " " : "",
            arg ? arg : "", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    /* a peer that goes away must cost an EPIPE, never the process */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("berth %s\n", BERTH_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "berth: unknown command '%s'; try 'berth --help'\n", argv[1]);
    return 2;
}
