/* berth echo-server / berth echo: option parsing only; the work is in
 * src/echo_server.c and src/echo_client.c. */
#include "berth.h"
#include "cmd.h"
#include "echo.h"
#include "err.h"
#include "ws_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char server_help[] =
    "usage: berth echo-server [-p PORT] [-b HOST] [--model MODEL] [--udp] [-q]\n"
    "                         [--send-timeout SEC]\n"
    "       berth echo-server --ws [-p PORT] [-b HOST] [-q] [--tls-cert FILE --tls-key FILE |\n"
    "                         --tls-self-signed]\n"
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
    "  -W, --ws          WebSocket (RFC 6455) echo on every path, on libberth's HTTP\n"
    "                    server: text comes back as text, binary as binary;\n"
    "                    permessage-deflate when the client offers it\n"
    "      --tls-cert FILE, --tls-key FILE   with --ws: wss:// with this PEM pair\n"
    "      --tls-self-signed  with --ws: wss:// with an in-memory certificate for\n"
    "                    localhost (its SHA-256 SPKI fingerprint is printed)\n"
    "  -h, --help        this text\n";

static const char client_help[] =
    "usage: berth echo [-p PORT] [-i HOST] [-s WORD ...] [--udp] [--timeout SEC]\n"
    "       berth echo [-p PORT] [-i HOST] --connections N --messages M [--size BYTES]\n"
    "       berth echo --ws URL [-s WORD ...] [--binary] [--insecure | --cacert FILE]\n"
    "       berth echo --ws URL --connections N --messages M [--size BYTES]\n"
    "       berth echo --ws URL --ws-deflate [--server-max-window-bits N]\n"
    "                  [--client-max-window-bits N] [--server-no-context-takeover]\n"
    "                  [--client-no-context-takeover] ...\n"
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
    "  -n, --messages M       messages per connection (default 1); with --ws alone,\n"
    "                         the message is sent M times, each after the echo of the\n"
    "                         one before, and each echo printed (a line each with -s)\n"
    "  -z, --size BYTES       bytes per message, k/M/G suffixes (default 1k)\n"
    "  -t, --timeout SEC      give up after SEC seconds without progress (default 10)\n"
    "  -W, --ws URL           WebSocket instead of raw TCP: ws://HOST[:PORT]/PATH or\n"
    "                         wss://... (TLS); sends one text message, prints the echo\n"
    "                         and closes with 1000; with --connections, binary messages\n"
    "                         pipelined and checked, and messages/s in the summary\n"
    "      --binary           with --ws: send a binary message instead of text\n"
    "      --cacert FILE      with wss://: trust the CA certificates in this PEM file\n"
    "      --insecure         with wss://: do not verify the server's certificate\n"
    "      --ws-deflate       with --ws: offer permessage-deflate (RFC 7692): messages\n"
    "                         go compressed both ways if the server agrees (what it\n"
    "                         answered is printed: on standard error, or in the\n"
    "                         summary); its parameters, each asked of the server:\n"
    "      --server-max-window-bits N   the server's LZ77 window, 8..15 bits\n"
    "      --client-max-window-bits N   ours at most, 8..15 (default: the server's\n"
    "                         choice, up to 15)\n"
    "      --server-no-context-takeover  the server compresses each message afresh\n"
    "      --client-no-context-takeover  so do we\n"
    "  -h, --help             this text\n";

/* ---- echo-server --ws: WebSocket echo on libberth's HTTP server ---- */

struct ws_echo {
    int quiet;
};

struct ws_peer {
    char addr[48];
    unsigned long long msgs, bytes;
};

static void ws_echo_open(berth_ws *ws, void *arg)
{
    const struct ws_echo *e = arg;
    struct ws_peer *p = calloc(1, sizeof *p);
    if (!p) {
        berth_ws_close(ws, 1011, "out of memory");
        return;
    }
    if (berth_ws_peer(ws, p->addr, sizeof p->addr) <= 0) snprintf(p->addr, sizeof p->addr, "?");
    berth_ws_set_data(ws, p);
    if (!e->quiet) printf("connection from %s\n", p->addr);
}

static void ws_echo_message(berth_ws *ws, int binary, const void *data, size_t len, void *arg)
{
    (void)arg;
    struct ws_peer *p = berth_ws_get_data(ws);
    if (p) {
        p->msgs++;
        p->bytes += len;
    }
    int rc = berth_ws_send(ws, binary, data, len);
    if (rc == -ENOBUFS) berth_ws_close(ws, 1008, "echo not read: the send queue is full");
}

static void ws_echo_close(berth_ws *ws, int code, const char *reason, size_t len, void *arg)
{
    const struct ws_echo *e = arg;
    struct ws_peer *p = berth_ws_get_data(ws);
    if (p && !e->quiet)
        printf("%s: %llu messages, %llu bytes in, closed: %d%s%.*s\n", p->addr, p->msgs, p->bytes,
               code, len ? " " : "", (int)len, reason);
    free(p);
}

static void ws_echo_handler(berth_req *r, void *arg)
{
    static const struct berth_ws_cb cb = {
        .open = ws_echo_open, .message = ws_echo_message, .close = ws_echo_close};
    berth_ws_upgrade(r, &cb, arg, NULL); /* a refusal has been answered: nothing to add */
}

static int ws_echo_server(const struct echo_server_opt *eo, const char *cert, const char *key,
                          int self_signed)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = eo->host;
    o.port = eo->port;
    o.workers = 1; /* one event loop, as the TCP echo server's epoll model */
    o.quiet = 1;   /* the lines below instead of an access log */
    o.tls_cert = cert;
    o.tls_key = key;
    o.tls_self_signed = self_signed;
    struct ws_echo e = {.quiet = eo->quiet};
    berth_server *s = NULL;
    int rc = berth_server_new(&s, &o);
    if (rc >= 0) rc = berth_route(s, "GET", "/", 1, ws_echo_handler, &e);
    if (rc >= 0) rc = berth_server_listen(s);
    if (rc < 0) {
        char why[300];
        fprintf(stderr, "berth: %s\n", err_fmt(why, sizeof why, rc, "cannot serve WebSocket"));
        berth_server_free(s);
        return 1;
    }
    const char *host = berth_server_host(s), *spki = berth_server_tls_spki(s);
    int v6 = strchr(host, ':') != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("listening on %s%s%s:%d (websocket%s: %s://%s%s%s:%d/)\n", v6 ? "[" : "", host,
           v6 ? "]" : "", berth_server_port(s), spki ? " over TLS" : "", spki ? "wss" : "ws",
           v6 ? "[" : "", host, v6 ? "]" : "", berth_server_port(s));
    if (spki)
        printf("TLS certificate%s, SHA-256 SPKI fingerprint: %s\n",
               self_signed ? " (self-signed, in memory only)" : "", spki);
    rc = berth_server_run(s);
    berth_server_free(s);
    return rc < 0 ? 1 : 0;
}

int cmd_echo_server(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"model", required_argument, NULL, 'm'},
        {"udp", no_argument, NULL, 'u'},
        {"quiet", no_argument, NULL, 'q'},
        {"send-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {"ws", no_argument, NULL, 'W'},
        {"tls-cert", required_argument, NULL, 'E'},
        {"tls-key", required_argument, NULL, 'K'},
        {"tls-self-signed", no_argument, NULL, 'Z'},
        {NULL, 0, NULL, 0},
    };
    struct echo_server_opt o = {.host = "127.0.0.1", .port = 65432, .model = ECHO_EPOLL};
    int c, ws = 0, self_signed = 0, model = 0;
    const char *cert = NULL, *key = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:b:m:uqT:hW", lopts, NULL)) != -1) {
        switch (c) {
        case 'W':
            ws = 1;
            break;
        case 'E':
            cert = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'Z':
            self_signed = 1;
            break;
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
            model = 1;
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
    if (ws) {
        if (o.udp || model)
            return cmd_usage_error("echo-server", "--ws runs on the HTTP server's event loop;",
                                   o.udp ? "drop --udp" : "drop --model");
        if (self_signed && (cert || key))
            return cmd_usage_error("echo-server",
                                   "--tls-self-signed makes its own certificate; drop",
                                   cert ? "--tls-cert" : "--tls-key");
        if (!cert != !key)
            return cmd_usage_error("echo-server", "a certificate needs its key; give both",
                                   "--tls-cert and --tls-key");
        return ws_echo_server(&o, cert, key, self_signed);
    }
    if (cert || key || self_signed)
        return cmd_usage_error("echo-server", "TLS is for the WebSocket echo;", "add --ws");
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
        {"ws", required_argument, NULL, 'W'},
        {"binary", no_argument, NULL, 'B'},
        {"cacert", required_argument, NULL, 'C'},
        {"insecure", no_argument, NULL, 'k'},
        /* permessage-deflate (RFC 7692), the parameters named as in §7.1 */
        {"ws-deflate", no_argument, NULL, 'D'},
        {"server-max-window-bits", required_argument, NULL, 'S' + 256},
        {"client-max-window-bits", required_argument, NULL, 'C' + 256},
        {"server-no-context-takeover", no_argument, NULL, 's' + 256},
        {"client-no-context-takeover", no_argument, NULL, 'c' + 256},
        {NULL, 0, NULL, 0},
    };
    struct ws_deflate defl = {0};
    int defl_params = 0;
    const char *url = NULL, *cacert = NULL;
    int binary = 0, insecure = 0, port_set = 0;
    struct echo_client_opt o = {
        .host = "127.0.0.1", .port = 65432, .timeout_ms = 10000, .in_fd = 0, .out_fd = 1};
    int words = 0, conns = -1, msgs = 1, c, rc = 1;
    unsigned long long size = 1024;
    char *msg = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:i:s:uc:n:z:t:hW:k", lopts, NULL)) != -1) {
        switch (c) {
        case 'W':
            url = optarg;
            break;
        case 'B':
            binary = 1;
            break;
        case 'C':
            cacert = optarg;
            break;
        case 'k':
            insecure = 1;
            break;
        case 'D':
            defl.on = 1;
            break;
        case 'S' + 256:
        case 'C' + 256: {
            char *end;
            long b = strtol(optarg, &end, 10);
            if (end == optarg || *end || b < 8 || b > 15)
                return cmd_usage_error("echo", "a window is 8 to 15 bits, not", optarg);
            *(c == 'S' + 256 ? &defl.server_max_window_bits : &defl.client_max_window_bits) =
                (int)b;
            defl_params = 1;
            break;
        }
        case 's' + 256:
            defl.server_no_context_takeover = defl_params = 1;
            break;
        case 'c' + 256:
            defl.client_no_context_takeover = defl_params = 1;
            break;
        case 'p':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return cmd_usage_error("echo", "bad port", optarg);
            port_set = 1;
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

    if (url && (o.udp || port_set || strcmp(o.host, "127.0.0.1")))
        return cmd_usage_error("echo", "the --ws URL names the server; drop",
                               o.udp      ? "--udp"
                               : port_set ? "--port"
                                          : "--host");
    if (!url && (binary || cacert || insecure || defl.on))
        return cmd_usage_error("echo", "--binary, --cacert, --insecure and --ws-deflate are for",
                               "--ws URL");
    if (defl_params && !defl.on)
        return cmd_usage_error("echo",
                               "the window and context takeover options are "
                               "permessage-deflate's;",
                               "add --ws-deflate");
    if (url && conns > 0) {
        if (words) return cmd_usage_error("echo", "--connections sends its own data;", "drop -s");
        struct ws_multi_opt mo = {.url = url,
                                  .cacert = cacert,
                                  .insecure = insecure,
                                  .connections = conns,
                                  .messages = msgs,
                                  .size = (size_t)size,
                                  .timeout_ms = o.timeout_ms,
                                  .deflate = defl};
        struct ws_multi_result r;
        char why[512];
        if (ws_multi_run(&mo, &r, why, sizeof why) < 0) {
            fprintf(stderr, "berth: %s\n", why);
            return 1;
        }
        double mib = (double)r.bytes / (1024.0 * 1024.0), t = r.seconds > 0 ? r.seconds : 1e-9;
        printf("%d connections, %llu messages (%llu bytes) echoed and checked in %.3f s, "
               "%.0f messages/s, %.1f MiB/s",
               r.connections, r.messages, r.bytes, r.seconds, (double)r.messages / t, mib / t);
        if (defl.on && r.deflated) printf("; permessage-deflate on %d: %s", r.deflated, r.ext);
        if (defl.on && r.deflated < r.connections)
            printf("; permessage-deflate declined on %d", r.connections - r.deflated);
        putchar('\n');
        return 0;
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
    if (url) {
        struct ws_client_opt wo = {.url = url,
                                   .cacert = cacert,
                                   .insecure = insecure,
                                   .timeout_ms = o.timeout_ms,
                                   .binary = binary,
                                   .data = o.data,
                                   .len = o.len,
                                   .in_fd = 0,
                                   .out_fd = 1,
                                   .messages = msgs,
                                   .sep = o.data ? "\n" : NULL,
                                   .deflate = defl};
        char ext[256] = "";
        wo.ext = ext;
        wo.ext_n = sizeof ext;
        int wrc = ws_client_run(&wo, why, sizeof why);
        if (defl.on && (wrc == 0 || ext[0])) /* what the server answered, once known */
            fprintf(stderr, "berth: permessage-deflate: %s\n",
                    ext[0] ? ext : "declined by the server (messages went uncompressed)");
        if (wrc < 0) {
            fprintf(stderr, "berth: %s\n", why);
            goto out;
        }
        if (o.data) putchar('\n');
        rc = 0;
        goto out;
    }
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
