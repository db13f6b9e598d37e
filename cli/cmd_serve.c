/* berth serve — the command line of python3 -m http.server, on libberth. */
#include "berth.h"
#include "cmd.h"
#include "err.h"
#include "http/mime.h"
#include "http/policy.h"
#include "sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
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
          "  --index LIST          index files tried in order (default index.html,index.htm)\n"
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
          "  --tls-cert FILE       serve HTTPS with this PEM certificate (and chain, and its key\n"
          "                        unless --tls-key is given)\n"
          "  --tls-key FILE        the certificate's PEM private key (SIGHUP reloads both)\n"
          "  --tls-password-file FILE  the passphrase of an encrypted key\n"
          "  --tls-self-signed     HTTPS with an in-memory self-signed certificate; prints its\n"
          "                        SHA-256 SPKI fingerprint (for a browser's pin list)\n"
          "  --no-h2               over TLS, offer HTTP/1.1 only in ALPN\n"
          "  --metrics PATH        GET PATH answers Prometheus metrics (e.g. /metrics)\n"
          "  --status PATH         GET PATH answers the live connection table as JSON\n"
          "                        (e.g. /status; what 'berth top URL' shows)\n"
          "  --proxy-protocol      every connection begins with a PROXY protocol header (v1 or\n"
          "                        v2, from HAProxy's send-proxy[-v2]); its client is logged\n"
          "  --health PATH         GET PATH answers 200 ok while serving, 503 once stopping\n"
          "  --drain-grace SEC     on SIGTERM keep serving this long before draining, health\n"
          "                        saying 503 (default 2 with --health, else 0)\n"
          "  --cache-size SIZE     memory for each worker's file cache, k/M/G suffixes\n"
          "                        (default 64M; entries not used lately go first)\n"
          "  --digest              send Repr-Digest: sha-256 (RFC 9530) with every file;\n"
          "                        Want-Repr-Digest / Want-Content-Digest work without it\n"
          "  --no-sandbox          do not restrict the process with Landlock (on by default\n"
          "                        where the kernel has it: reads beneath the directory\n"
          "                        holding DIR only, writes in the --log file's only)\n"
          "  --user NAME           after binding, become user NAME (when started as root,\n"
          "                        e.g. for port 80); refuses to run if that fails\n",
          f);
    /* in parts: C11 promises string literals of 4095 bytes only */
    fputs("Content:\n"
          "  --no-compress         no on-the-fly compression (brotli, zstd, gzip) of text,\n"
          "                        JSON, JS, SVG, wasm and fonts of 256 B to 4 MiB\n"
          "  --compress-cache SIZE memory per worker for compressed files (default 16M;\n"
          "                        0: compress nothing)\n"
          "  --no-precompressed    ignore F.br, F.zst and F.gz sidecars (served by default\n"
          "                        when the client accepts them and they are not older)\n",
          f);
    fputs("Site features:\n"
          "  --cache-control VALUE Cache-Control of file answers whose name has no content\n"
          "                        fingerprint (app.3f9a1c2b.js always gets immutable, a year)\n"
          "  --spa                 single-page app: a missing path without an extension asked\n"
          "                        for as text/html gets /index.html (missing assets stay 404)\n"
          "  --cors [ORIGIN]       Access-Control-Allow-Origin: ORIGIN (default *) on every\n"
          "                        response; CORS preflights answered 204\n"
          "  --header 'N: V'       add this field to every response (repeatable)\n"
          "  --no-tar              refuse ?download=tar (a directory as a tar stream)\n"
          "  -h, --help            this text\n"
          "\n"
          "Under systemd socket activation (LISTEN_FDS, LISTEN_PID) berth serves on the\n"
          "socket it is given instead of binding: see contrib/systemd/.\n",
          f);
}

/* Whether the kernel has IPv6: the library binds the wildcard as "::"
 * (dual-stack) whenever it does, and falls back to 0.0.0.0 only when not. */
static int have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

/* The URLs a person on this machine or the LAN can open, for a wildcard
 * bind: the IPv4 addresses, and the IPv6 ones too when the socket is
 * dual-stack.  Link-local IPv6 addresses are left out: they need a %zone
 * that browsers do not take in a URL. */
static void print_urls(const char *bound, const char *asked, int port, const char *scheme)
{
    int v4 = 0, v6 = 0;
    if (!strcmp(bound, "::"))
        v4 = v6 = 1; /* -b :: is dual-stack */
    else if (!strcmp(bound, "0.0.0.0"))
        v4 = 1, v6 = !(asked && *asked) && have_ipv6(); /* the default bind */
    if (!v4 && !v6) return;
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0) return;
    const int families[2] = {v4 ? AF_INET : -1, v6 ? AF_INET6 : -1}; /* IPv4 ones first */
    for (int k = 0; k < 2; k++) {
        int family = families[k];
        for (i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != family) continue;
            char a[INET6_ADDRSTRLEN];
            if (family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
                printf("  %s://%s:%d/\n", scheme, a, port);
                continue;
            }
            const struct in6_addr *a6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_MULTICAST(a6) ||
                IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_UNSPECIFIED(a6))
                continue;
            inet_ntop(AF_INET6, a6, a, sizeof a);
            printf("  %s://[%s]:%d/\n", scheme, a, port);
        }
    }
    freeifaddrs(ifs);
}

/* every range error names the range: "--workers must be 1..256: 0" */
static int range_error(const char *what, const char *range, const char *arg)
{
    return cmd_range_error("serve", what, range, arg);
}

enum { OPT_NO_SANDBOX = 1001, OPT_USER }; /* long-only options */
/* site features (issue 11) */
enum { OPT_CACHE_CONTROL = 1101, OPT_SPA, OPT_CORS, OPT_HEADER, OPT_NO_TAR };
#define MAX_EXTRA_HEADERS 64
/* content encoding (long-only) */
enum { OPT_NO_COMPRESS = 1201, OPT_COMPRESS_CACHE, OPT_NO_PRECOMPRESSED };
enum { OPT_CACHE_SIZE = 1301, OPT_DIGEST }; /* content validators and the file cache */
enum { OPT_TLS_PASSWORD_FILE = 1401 };      /* python 3.14's --tls-password-file */

/* Landlock unless --no-sandbox, then the line that says which is in force */
static void sandbox_line(berth_server *s, int off, const char *root)
{
    if (off) {
        puts("sandbox: off");
        return;
    }
    int abi = berth_server_sandbox(s);
    char full[PATH_MAX]; /* "." says nothing in a log: the name the rule holds */
    if (!realpath(root, full)) snprintf(full, sizeof full, "%s", root);
    if (abi > 0)
        printf("sandbox: landlock ABI %d, reads beneath the directory holding %s (so a %s "
               "replaced there is followed)\n",
               abi, full, full);
    else
        printf("sandbox: unavailable (%s)\n",
               abi == -ENOSYS       ? "this kernel has no Landlock"
               : abi == -EOPNOTSUPP ? "Landlock is disabled; add landlock to the lsm= boot option"
                                    : berth_strerror(abi));
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
        {"tls-cert", required_argument, 0, 'E'},
        {"tls-key", required_argument, 0, 'K'},
        {"tls-self-signed", no_argument, 0, 'Z'},
        {"no-h2", no_argument, 0, '2'},
        {"metrics", required_argument, 0, 'M'},
        {"status", required_argument, 0, 'U'},
        {"proxy-protocol", no_argument, 0, 'X'},
        {"health", required_argument, 0, 'A'},
        {"drain-grace", required_argument, 0, 'G'},
        {"cgi", no_argument, 0, 'C'},
        {"no-sandbox", no_argument, 0, OPT_NO_SANDBOX},
        {"user", required_argument, 0, OPT_USER},
        {"cache-control", required_argument, 0, OPT_CACHE_CONTROL},
        {"spa", no_argument, 0, OPT_SPA},
        {"cors", optional_argument, 0, OPT_CORS},
        {"header", required_argument, 0, OPT_HEADER},
        {"no-tar", no_argument, 0, OPT_NO_TAR},
        {"no-compress", no_argument, 0, OPT_NO_COMPRESS},
        {"compress-cache", required_argument, 0, OPT_COMPRESS_CACHE},
        {"no-precompressed", no_argument, 0, OPT_NO_PRECOMPRESSED},
        {"cache-size", required_argument, 0, OPT_CACHE_SIZE},
        {"digest", no_argument, 0, OPT_DIGEST},
        {"tls-password-file", required_argument, 0, OPT_TLS_PASSWORD_FILE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static const char seconds[] = "0.001..86400 seconds";
    const char *want = NULL; /* what a bad value of a word option should have been */
    const char *user = NULL;
    int no_sandbox = 0;
    static const char *extra[MAX_EXTRA_HEADERS];
    char site_why[512];
    struct berth_opts o;
    berth_opts_init(&o);
    o.root = ".";
    unsigned long long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:d:p:qh", opts, NULL)) != -1) {
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
            else if (strcmp(optarg, "HTTP/1.1")) {
                want = "HTTP/1.0 or HTTP/1.1";
                goto bad;
            }
            break;
        case 'P':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return range_error("port", "0..65535", optarg);
            break;
        case 'w':
            if (cmd_parse_size(optarg, &v) < 0 || v < 1 || v > 256)
                return range_error("--workers", "1..256", optarg);
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
            if (!mime_type_ok(optarg))
                return cmd_usage_error("serve",
                                       "--mime-default must be a media type such as text/plain "
                                       "(type/subtype, no spaces outside quotes):",
                                       optarg);
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
            if (cmd_parse_size(optarg, &v) < 0 || v < 1 || v > 10000000)
                return range_error("--max-conn", "1..10000000", optarg);
            o.max_conn = (int)v;
            break;
        case 'x':
            if (cmd_parse_size(optarg, &v) < 0 || v < 256 || v > (1 << 20))
                return range_error("--max-header", "256..1M bytes", optarg);
            o.max_header = (size_t)v;
            break;
        case 'T':
            if ((o.header_timeout_ms = cmd_parse_seconds(optarg)) <= 0)
                return range_error("--header-timeout", seconds, optarg);
            break;
        case 'I':
            if ((o.idle_timeout_ms = cmd_parse_seconds(optarg)) <= 0)
                return range_error("--idle-timeout", seconds, optarg);
            break;
        case 'S':
            if ((o.send_timeout_ms = cmd_parse_seconds(optarg)) <= 0)
                return range_error("--send-timeout", seconds, optarg);
            break;
        case 'E':
            o.tls_cert = optarg;
            break;
        case 'K':
            o.tls_key = optarg;
            break;
        case 'Z':
            o.tls_self_signed = 1;
            break;
        case '2':
            o.no_h2 = 1;
            break;
        case 'M':
        case 'U':
            /* a path of its own: exact match, so it must look like one */
            if (optarg[0] != '/' || strpbrk(optarg, "?# \t"))
                return cmd_usage_error("serve",
                                       c == 'M' ? "--metrics takes a path such as /metrics, not"
                                                : "--status takes a path such as /status, not",
                                       optarg);
            if (c == 'M')
                o.metrics_path = optarg;
            else
                o.status_path = optarg;
            break;
        case 'X':
            o.proxy_protocol = 1;
            break;
        case 'A':
            if (optarg[0] != '/')
                return cmd_usage_error("serve", "--health takes a path starting with '/', not",
                                       optarg);
            o.health = optarg;
            break;
        case 'G':
            /* 0 is allowed: no grace even with --health */
            if ((o.drain_grace_ms = cmd_parse_seconds(optarg)) < 0 || o.drain_grace_ms > 3600000)
                return range_error("--drain-grace", "0..3600 seconds", optarg);
            break;
        case 'C':
            fputs("berth serve: --cgi is not supported (CGI was deprecated in Python 3.13 too)\n",
                  stderr);
            return 2;
        case OPT_NO_COMPRESS:
            o.no_compress = 1;
            break;
        case OPT_COMPRESS_CACHE:
            if (cmd_parse_size(optarg, &v) < 0 || v > (1ull << 40))
                return range_error("--compress-cache", "0..1T bytes", optarg);
            o.compress_cache = (size_t)v;
            break;
        case OPT_NO_PRECOMPRESSED:
            o.no_precompressed = 1;
            break;
        case OPT_NO_SANDBOX:
            no_sandbox = 1;
            break;
        case OPT_USER:
            if (!*optarg) return cmd_usage_error("serve", "--user takes a user name, not", "\"\"");
            user = optarg;
            break;
        case OPT_CACHE_CONTROL:
            if (policy_cache_control_check(optarg, site_why, sizeof site_why) < 0) goto site_error;
            o.cache_control = optarg;
            break;
        case OPT_SPA:
            o.spa = 1;
            break;
        case OPT_CORS:
            /* "--cors ORIGIN" as well as "--cors=ORIGIN": the next word is
             * the origin when it looks like one (a port is digits) */
            if (!optarg && optind < argc &&
                (strstr(argv[optind], "://") || !strcmp(argv[optind], "*") ||
                 !strcmp(argv[optind], "null")))
                optarg = argv[optind++];
            o.cors = optarg ? optarg : "*";
            if (policy_origin_check(o.cors, site_why, sizeof site_why) < 0) goto site_error;
            break;
        case OPT_HEADER:
            if (policy_header_check(optarg, site_why, sizeof site_why) < 0) goto site_error;
            if (o.nextra_headers == MAX_EXTRA_HEADERS)
                return cmd_usage_error("serve", "more than 64 --header options; drop", optarg);
            extra[o.nextra_headers++] = optarg;
            o.extra_headers = extra;
            break;
        case OPT_NO_TAR:
            o.no_tar = 1;
            break;
        case OPT_CACHE_SIZE:
            if (cmd_parse_size(optarg, &v) < 0 || v < 4096 || v > (1ULL << 40))
                return range_error("--cache-size", "4k..1T bytes", optarg);
            o.cache_size = (size_t)v;
            break;
        case OPT_TLS_PASSWORD_FILE:
            o.tls_password_file = optarg;
            break;
        case OPT_DIGEST:
            o.digest = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cmd_option_error("serve", opts, argv, c);
        }
    }
    if (optind < argc && (o.port = cmd_parse_port(argv[optind])) < 0)
        return range_error("port", "0..65535", argv[optind]);
    if (optind + 1 < argc) return cmd_usage_error("serve", "unexpected argument", argv[optind + 1]);
    if (o.tls_self_signed && (o.tls_cert || o.tls_key || o.tls_password_file))
        return cmd_usage_error("serve", "--tls-self-signed makes its own certificate; drop it or",
                               o.tls_cert  ? "--tls-cert"
                               : o.tls_key ? "--tls-key"
                                           : "--tls-password-file");
    /* as python -m http.server: --tls-cert alone when its file holds the key too */
    if (!o.tls_cert && (o.tls_key || o.tls_password_file))
        return cmd_usage_error("serve", "a key needs its certificate; add --tls-cert to",
                               o.tls_key ? "--tls-key" : "--tls-password-file");

    /* 10,000 connections need more descriptors than the usual soft limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    berth_server *s;
    int rc = berth_server_new(&s, &o);
    if (rc == BERTH_ERR_TLS) return 1; /* the library said why */
    if (rc < 0) {
        char what[300], msg[512];
        int dir_ok = access(o.root, R_OK | X_OK) == 0;
        snprintf(what, sizeof what,
                 dir_ok && o.log_path ? "cannot open the access log %s" : "cannot serve %s",
                 dir_ok && o.log_path ? o.log_path : o.root);
        fprintf(stderr, "berth serve: %s\n", err_fmt(msg, sizeof msg, rc, what));
        return 1;
    }
    int activated = getenv("LISTEN_FDS") != NULL; /* listen takes the variables away */
    rc = berth_server_listen(s);
    if (rc < 0 && activated) {
        char msg[512];
        fprintf(stderr, "berth serve: %s\n",
                err_fmt(msg, sizeof msg, rc, "cannot serve on the socket systemd passed"));
        berth_server_free(s);
        return 1;
    }
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
    if (user) { /* root is needed no more: the sockets and files are open */
        char why[512];
        if (sandbox_drop_user(user, why, sizeof why) < 0) {
            fprintf(stderr, "berth serve: %s\n", why);
            berth_server_free(s);
            return 1;
        }
    }
    const char *host = berth_server_host(s);
    int port = berth_server_port(s), v6 = strchr(host, ':') != NULL;
    const char *spki = berth_server_tls_spki(s), *scheme = spki ? "https" : "http";
    /* python3 -m http.server --tls-cert says "Serving HTTPS" too */
    printf("Serving %s on %s port %d (%s://%s%s%s:%d/) ...\n", spki ? "HTTPS" : "HTTP", host, port,
           scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
    print_urls(host, o.host, port, scheme);
    if (spki) {
        if (o.tls_self_signed) printf("  https://localhost:%d/\n", port);
        printf("TLS certificate%s, SHA-256 SPKI fingerprint: %s\n",
               o.tls_self_signed ? " (self-signed, in memory only)" : "", spki);
        if (o.tls_self_signed)
            printf("  chromium --ignore-certificate-errors-spki-list=%s https://localhost:%d/\n",
                   spki, port);
    }
    /* before run starts the workers: they inherit the restriction */
    sandbox_line(s, no_sandbox, o.root);
    fflush(stdout);
    rc = berth_server_run(s);
    /* what python3 -m http.server prints when Ctrl-C ends it */
    if (rc == 0 && berth_server_stop_signal(s) == SIGINT)
        printf("\nKeyboard interrupt received, exiting.\n");
    berth_server_free(s);
    if (rc < 0) {
        fprintf(stderr, "berth serve: %s\n", berth_strerror(rc));
        return 1;
    }
    return 0;
site_error:
    fprintf(stderr, "berth serve: %s\n", site_why);
    return 2;
bad: /* an option that takes one of some words: name it, and them if known */
    for (const struct option *p = opts; p->name; p++)
        if (p->val == c) {
            char name[64];
            snprintf(name, sizeof name, "--%s", p->name);
            if (want) return range_error(name, want, optarg);
            snprintf(name, sizeof name, "invalid value for --%s:", p->name);
            return cmd_usage_error("serve", name, optarg);
        }
    return cmd_usage_error("serve", "invalid value", optarg);
}
