/* berth serve — the command line of python3 -m http.server, on libberth. */
#include "berth.h"
#include "cmd.h"
#include "err.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: berth serve [PORT] [options]\n"
          "\n"
          "Serves a directory over HTTP/1.1, like python3 -m http.server (same PORT,\n"
          "-b and -d), with keep-alive, ranges, validators and a safe path resolver.\n"
          "\n"
          "  PORT                  port to listen on (default 8000; 0 picks a free one)\n"
          "  --port N              the same, as an option\n"
          "  -b, --bind ADDR       address to bind (default: all interfaces, IPv4 and IPv6)\n"
          "  -d, --directory DIR   directory to serve (default: the current one)\n"
          "  -p, --protocol VER    HTTP/1.1 (default) or HTTP/1.0 (close after each response)\n"
          "  --workers N           event-loop threads (default: one per CPU)\n"
          "  --index NAME          directory index file (default index.html)\n"
          "  --no-listing          no HTML listing of directories without an index (403)\n"
          "  --hidden              serve dotfiles too (/.well-known/ is always served)\n"
          "  --mime-default TYPE   type of unknown extensions (default application/octet-stream)\n"
          "  --log FILE            access log to FILE instead of stderr (SIGHUP reopens it)\n"
          "  --log-format FMT      clf (default) or combined (nginx's: adds Referer, User-Agent)\n"
          "  -q, --quiet           no access log\n"
          "  --max-conn N          open connections at most (default 10000)\n"
          "  --max-header BYTES    request head size limit (default 8k)\n"
          "  --header-timeout SEC  a request head must arrive within (default 10)\n"
          "  --idle-timeout SEC    idle keep-alive connections close after (default 5)\n"
          "  --send-timeout SEC    a client that reads nothing for this long is dropped (default "
          "30)\n"
          "  -h, --help            this text\n",
          f);
}

/* The URLs a person on this machine or the LAN can open. */
static void print_urls(const char *host, int port)
{
    if (strcmp(host, "0.0.0.0") && strcmp(host, "::")) return;
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0) return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        char a[INET6_ADDRSTRLEN];
        if (i->ifa_addr->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
            printf("  http://%s:%d/\n", a, port);
        }
    }
    freeifaddrs(ifs);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bind", required_argument, 0, 'b'},
        {"directory", required_argument, 0, 'd'},
        {"protocol", required_argument, 0, 'p'},
        {"port", required_argument, 0, 'P'},
        {"workers", required_argument, 0, 'w'},
        {"index", required_argument, 0, 'i'},
        {"no-listing", no_argument, 0, 'L'},
        {"hidden", no_argument, 0, 'H'},
        {"mime-default", required_argument, 0, 'm'},
        {"log", required_argument, 0, 'l'},
        {"log-format", required_argument, 0, 'F'},
        {"quiet", no_argument, 0, 'q'},
        {"max-conn", required_argument, 0, 'c'},
        {"max-header", required_argument, 0, 'x'},
        {"header-timeout", required_argument, 0, 'T'},
        {"idle-timeout", required_argument, 0, 'I'},
        {"send-timeout", required_argument, 0, 'S'},
        {"cgi", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct berth_opts o;
    berth_opts_init(&o);
    o.root = ".";
    unsigned long long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:d:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.host = optarg;
            break;
        case 'd':
            o.root = optarg;
            break;
        case 'p':
            if (!strcmp(optarg, "HTTP/1.0"))
                o.http10 = 1;
            else if (strcmp(optarg, "HTTP/1.1"))
                goto bad;
            break;
        case 'P':
            if ((o.port = cmd_parse_port(optarg)) < 0) goto bad;
            break;
        case 'w':
            if (cmd_parse_size(optarg, &v) < 0 || v < 1 || v > 256) goto bad;
            o.workers = (int)v;
            break;
        case 'i':
            o.index = optarg;
            break;
        case 'L':
            o.listing = 0;
            break;
        case 'H':
            o.hidden = 1;
            break;
        case 'm':
            o.mime_default = optarg;
            break;
        case 'l':
            o.log_path = optarg;
            break;
        case 'F':
            if (!strcmp(optarg, "clf"))
                o.log_format = 0;
            else if (!strcmp(optarg, "combined"))
                o.log_format = 1;
            else
                return cmd_usage_error("serve", "--log-format is clf or combined, not", optarg);
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'c':
            if (cmd_parse_size(optarg, &v) < 0 || v < 1 || v > 10000000) goto bad;
            o.max_conn = (int)v;
            break;
        case 'x':
            if (cmd_parse_size(optarg, &v) < 0 || v < 256 || v > (1 << 20)) goto bad;
            o.max_header = (size_t)v;
            break;
        case 'T':
            if ((o.header_timeout_ms = cmd_parse_seconds(optarg)) <= 0) goto bad;
            break;
        case 'I':
            if ((o.idle_timeout_ms = cmd_parse_seconds(optarg)) <= 0) goto bad;
            break;
        case 'S':
            if ((o.send_timeout_ms = cmd_parse_seconds(optarg)) <= 0) goto bad;
            break;
        case 'C':
            fputs("berth serve: --cgi is not supported (CGI was deprecated in Python 3.13 too)\n",
                  stderr);
            return 2;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        if (optind + 1 < argc || (o.port = cmd_parse_port(argv[optind])) < 0) {
            return cmd_usage_error("serve", "not a port (0-65535):", argv[optind]);
        }
    }

    /* 10,000 connections need more descriptors than the usual soft limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc < 0) {
        char what[300], msg[512];
        int dir_ok = access(o.root, R_OK | X_OK) == 0;
        snprintf(what, sizeof what,
                 dir_ok && o.log_path ? "cannot open the access log %s" : "cannot serve %s",
                 dir_ok && o.log_path ? o.log_path : o.root);
        fprintf(stderr, "berth serve: %s\n", err_fmt(msg, sizeof msg, rc, what));
        return 1;
    }
    rc = berth_server_listen(s);
    if (rc < 0) {
        const char *h = o.host && *o.host ? o.host : "0.0.0.0";
        int v6 = strchr(h, ':') && strncmp(h, "unix:", 5);
        char what[300], msg[512];
        snprintf(what, sizeof what, "cannot listen on %s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "",
                 o.port);
        fprintf(stderr, "berth serve: %s\n", err_fmt(msg, sizeof msg, rc, what));
        berth_server_free(s);
        return 1;
    }
    const char *host = berth_server_host(s);
    int port = berth_server_port(s), v6 = strchr(host, ':') != NULL;
    printf("Serving HTTP on %s port %d (http://%s%s%s:%d/) ...\n", host, port, v6 ? "[" : "", host,
           v6 ? "]" : "", port);
    print_urls(host, port);
    fflush(stdout);
    rc = berth_server_run(s);
    berth_server_free(s);
    if (rc < 0) {
        fprintf(stderr, "berth serve: %s\n", berth_strerror(rc));
        return 1;
    }
    return 0;
bad:
    return cmd_usage_error("serve", "invalid value", optarg);
}
