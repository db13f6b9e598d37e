/* berth — sockets to HTTP.  Dispatches to the subcommands in cli/cmd_*.c. */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
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
    {"top", cmd_top, "a running server's connections and counters (its --status URL)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: berth COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\n'berth help COMMAND' (or 'berth COMMAND --help') describes a command;\n"
               "'berth --version' prints the version.  man berth has it all.\n");
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

int cmd_range_error(const char *cmd, const char *what, const char *range, const char *arg)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be %s:", what, range);
    return cmd_usage_error(cmd, msg, arg);
}

/* Which option a failed getopt_long call was about.  glibc leaves optopt 0
 * for an unknown or ambiguous long option and sets it to the option's val
 * for a long one that lacks or must not have a value; argv[optind - 1] is
 * the element it was reading, unless a short option failed inside a cluster
 * ("-Zq"), where only optopt tells. */
int cmd_option_error(const char *cmd, const struct option *lopts, char **argv, int c)
{
    const char *el = optind > 0 ? argv[optind - 1] : "";
    char name[80], msg[400];
    const char *full = NULL; /* the long option's whole name */
    int is_long = 0, matches = 0;
    if (el && !strncmp(el, "--", 2) && el[2]) {
        const char *pre = el + 2;
        size_t n = strcspn(pre, "=");
        if (optopt == 0) is_long = 1;
        for (const struct option *o = lopts; o->name; o++) {
            if (strncmp(o->name, pre, n)) continue;
            if (o->val == optopt) is_long = 1, full = o->name;
            matches++;
        }
        snprintf(name, sizeof name, "--%.*s", (int)(n < 60 ? n : 60), pre);
    }
    if (!is_long) {
        if (optopt > ' ' && optopt < 127)
            snprintf(name, sizeof name, "-%c", optopt);
        else
            snprintf(name, sizeof name, "%s", el ? el : "?");
    } else if (full && optopt) {
        snprintf(name, sizeof name, "--%s", full);
    }
    if (c == ':') {
        snprintf(msg, sizeof msg, "option %s needs a value", name);
    } else if (is_long && optopt) {
        snprintf(msg, sizeof msg, "option %s takes no value", name);
    } else if (is_long && matches > 1) {
        /* an abbreviation of several: say which, so the fix is obvious */
        int len = snprintf(msg, sizeof msg, "ambiguous option %s (", name);
        const char *sep = "";
        size_t n = strcspn(el + 2, "=");
        for (const struct option *o = lopts; o->name && len > 0 && (size_t)len < sizeof msg; o++) {
            if (strncmp(o->name, el + 2, n)) continue;
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s--%s", sep, o->name);
            sep = ", ";
        }
        if (len > 0 && (size_t)len < sizeof msg - 1) strcat(msg, ")");
    } else {
        snprintf(msg, sizeof msg, "unknown option %s", name);
    }
    return cmd_usage_error(cmd, msg, NULL);
}

/* berth help [COMMAND]: the command's own --help, so the two never differ */
static int help(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "help") || !strcmp(argv[2], "--help") ||
        !strcmp(argv[2], "-h")) {
        usage(stdout);
        return 0;
    }
    if (argc > 3) {
        fprintf(stderr, "berth: unexpected argument %s; try 'berth --help'\n", argv[3]);
        return 2;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[2], cmds[i].name)) continue;
        char opt[] = "--help", *args[] = {argv[2], opt, NULL};
        return cmds[i].run(2, args);
    }
    fprintf(stderr, "berth: unknown command '%s'; try 'berth --help'\n", argv[2]);
    return 2;
}

int main(int argc, char **argv)
{
    /* a peer that goes away must cost an EPIPE, never the process */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* usage errors are one line of ours (cmd_option_error), not getopt's
     * line followed by ours */
    opterr = 0;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "help")) return help(argc, argv);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("berth %s\n", BERTH_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].run(argc - 1, argv + 1);
    if (argv[1][0] == '-')
        fprintf(stderr, "berth: unknown option %s; try 'berth --help'\n", argv[1]);
    else
        fprintf(stderr, "berth: unknown command '%s'; try 'berth --help'\n", argv[1]);
    return 2;
}
