/* berth echo-server / berth echo: option parsing only; the work is in
 * src/echo_server.c and src/echo_client.c. */
#include "cmd.h"
#include "echo.h"
#include "err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char server_help[] =
    "usage: berth echo-server [-p PORT] [-b HOST] [--model MODEL] [--udp] [-q]\n"
    "                         [--send-timeout SEC]\n"
    "\n"
    "Echoes every byte back to the client that sent it, until SIGINT/SIGTERM.\n"
    "\n"
    "  -p, --port PORT   port to listen on (default 65432; 0 picks a free one)\n"
    "  -b, --bind HOST   address: 127.0.0.1 (default), ::, a host name, \"\" for all\n"
    "                    interfaces (dual-stack), or unix:/path/to.sock\n"
    "  -m, --model MODEL iterative  one client at a time (blocking)\n"
    "                    fork       a process per connection\n"
    "                    thread     a thread per connection\n"
    "                    select     non-blocking, select(2); at most FD_SETSIZE fds\n"
    "                    epoll      non-blocking, the event loop (default)\n"
    "  -u, --udp         echo UDP datagrams instead (the model does not apply)\n"
    "  -q, --quiet       no line per connection (nor select's \"refusing\" lines)\n"
    "  -T, --send-timeout SEC  drop a client that takes none of the echo it is\n"
    "                    owed for SEC seconds, in every model (default 30; 0: never)\n"
    "  -h, --help        this text\n";

static const char client_help[] =
    "usage: berth echo [-p PORT] [-i HOST] [-s WORD ...] [--udp] [--timeout SEC]\n"
    "       berth echo [-p PORT] [-i HOST] --connections N --messages M [--size BYTES]\n"
    "\n"
    "Sends the words (joined by spaces) or standard input, half-closes the\n"
    "connection and prints what comes back until the server closes.  With\n"
    "--connections, opens N connections at once, sends M messages of --size\n"
    "bytes on each, checks every echoed byte and prints a summary.\n"
    "\n"
    "  -p, --port PORT        server port (default 65432)\n"
    "  -i, --host HOST        server address (default 127.0.0.1; unix:/path too)\n"
    "  -s, --send WORD ...    what to send, instead of standard input\n"
    "  -u, --udp              one UDP datagram out, one back\n"
    "  -c, --connections N    concurrent connections (multi-connection mode)\n"
    "  -n, --messages M       messages per connection (default 1)\n"
    "  -z, --size BYTES       bytes per message, k/M/G suffixes (default 1k)\n"
    "  -t, --timeout SEC      give up after SEC seconds without progress (default 10)\n"
    "  -h, --help             this text\n";

int cmd_echo_server(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"port", required_argument, NULL, 'p'},  {"bind", required_argument, NULL, 'b'},
        {"model", required_argument, NULL, 'm'}, {"udp", no_argument, NULL, 'u'},
        {"quiet", no_argument, NULL, 'q'},       {"send-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct echo_server_opt o = {.host = "127.0.0.1", .port = 65432, .model = ECHO_EPOLL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:b:m:uqT:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return cmd_usage_error("echo-server", "bad port", optarg);
            break;
        case 'b':
            o.host = optarg;
            break;
        case 'm': {
            int m = echo_model_parse(optarg);
            if (m < 0)
                return cmd_usage_error("echo-server",
                                       "unknown model (iterative, fork, thread, "
                                       "select or epoll):",
                                       optarg);
            o.model = (enum echo_model)m;
            break;
        }
        case 'u':
            o.udp = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'T':
            if ((o.send_timeout_ms = cmd_parse_seconds(optarg)) < 0)
                return cmd_usage_error("echo-server",
                                       "bad --send-timeout (seconds, 0 to 86400):", optarg);
            if (o.send_timeout_ms == 0) o.send_timeout_ms = -1; /* 0: never */
            break;
        case 'h':
            fputs(server_help, stdout);
            return 0;
        default:
            return cmd_option_error("echo-server", lopts, argv, c);
        }
    }
    if (optind < argc) return cmd_usage_error("echo-server", "unexpected argument", argv[optind]);
    char why[512];
    if (echo_server_run(&o, why, sizeof why) < 0) {
        fprintf(stderr, "berth: %s\n", why);
        return 1;
    }
    return 0;
}

static int parse_count(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int run_multi(const struct echo_multi_opt *mo)
{
    struct echo_multi_result r;
    char why[512];
    if (echo_multi_run(mo, &r, why, sizeof why) < 0) {
        fprintf(stderr, "berth: %s\n", why);
        return 1;
    }
    double mib = (double)r.bytes / (1024.0 * 1024.0);
    printf("%d connections, %llu bytes echoed and checked in %.3f s, %.1f MiB/s\n", r.connections,
           r.bytes, r.seconds, r.seconds > 0 ? mib / r.seconds : 0.0);
    return 0;
}

int cmd_echo_client(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'i'},
        {"send", required_argument, NULL, 's'},
        {"udp", no_argument, NULL, 'u'},
        {"connections", required_argument, NULL, 'c'},
        {"messages", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 'z'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct echo_client_opt o = {
        .host = "127.0.0.1", .port = 65432, .timeout_ms = 10000, .in_fd = 0, .out_fd = 1};
    int words = 0, conns = -1, msgs = 1, c, rc = 1;
    unsigned long long size = 1024;
    char *msg = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:i:s:uc:n:z:t:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return cmd_usage_error("echo", "bad port", optarg);
            break;
        case 'i':
            o.host = optarg;
            break;
        case 's':
            words = 1;
            break; /* the words are collected below, in order */
        case 'u':
            o.udp = 1;
            break;
        case 'c':
            if (parse_count(optarg, &conns) < 0 || conns < 1)
                return cmd_usage_error("echo", "bad --connections", optarg);
            break;
        case 'n':
            if (parse_count(optarg, &msgs) < 0)
                return cmd_usage_error("echo", "bad --messages", optarg);
            break;
        case 'z':
            if (cmd_parse_size(optarg, &size) < 0 || size > (1ULL << 32))
                return cmd_usage_error("echo", "bad --size", optarg);
            break;
        case 't':
            if ((o.timeout_ms = cmd_parse_seconds(optarg)) < 0)
                return cmd_usage_error("echo", "bad --timeout", optarg);
            break;
        case 'h':
            fputs(client_help, stdout);
            return 0;
        default:
            return cmd_option_error("echo", lopts, argv, c);
        }
    }

    if (conns > 0) {
        if (words || o.udp)
            return cmd_usage_error("echo", "--connections sends its own data, over TCP;",
                                   "drop -s/--udp");
        struct echo_multi_opt mo = {.host = o.host,
                                    .port = o.port,
                                    .connections = conns,
                                    .messages = msgs,
                                    .size = (size_t)size,
                                    .timeout_ms = o.timeout_ms};
        return run_multi(&mo);
    }

    /* -s takes the words after it as well (argparse's nargs='+'); getopt has
     * moved them behind the options, so rebuild them from argv in order */
    if (words || optind < argc) {
        size_t total = 1;
        for (int i = 1; i < argc; i++)
            total += strlen(argv[i]) + 1;
        msg = malloc(total);
        if (!msg) return 1;
        msg[0] = '\0';
        /* the -s/--send arguments, then the operands, joined by spaces */
        for (int i = 1; i < argc; i++) {
            const char *w = NULL;
            if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--send"))
                w = i + 1 < argc ? argv[++i] : NULL;
            else if (!strncmp(argv[i], "--send=", 7))
                w = argv[i] + 7;
            else if (!strncmp(argv[i], "-s", 2) && argv[i][2])
                w = argv[i] + 2;
            if (w) {
                if (msg[0]) strcat(msg, " ");
                strcat(msg, w);
            }
        }
        for (int i = optind; i < argc; i++) {
            if (msg[0]) strcat(msg, " ");
            strcat(msg, argv[i]);
        }
        o.data = msg;
        o.len = strlen(msg);
    }

    char why[512];
    if (echo_client_run(&o, why, sizeof why) < 0) {
        fprintf(stderr, "berth: %s\n", why);
        goto out;
    }
    if (o.data) putchar('\n'); /* the words carried no newline of their own */
    rc = 0;
out:
    free(msg);
    return rc;
}
