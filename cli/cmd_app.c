/* berth app-server / berth app-client: option parsing only; the work is in
 * src/app/server.c and src/app/client.c. */
#include "app/client.h"
#include "app/server.h"
#include "cmd.h"
#include "err.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char server_help[] =
    "usage: berth app-server [HOST PORT] [-b HOST] [-p PORT] [--timeout SEC]\n"
    "                        [--message-timeout SEC] [--max-content SIZE]\n"
    "                        [--max-conn N] [--max-buffered SIZE] [--data FILE] [-q]\n"
    "\n"
    "Serves the application protocol of Real Python's sockets guide (see\n"
    "docs/PROTOCOL.md) to many clients at once, until SIGINT/SIGTERM.  HOST and\n"
    "PORT may be given as in app-server.py, or with -b and -p.\n"
    "\n"
    "  -b, --bind HOST       address (default 127.0.0.1; ::, \"\" for all, unix:/path)\n"
    "  -p, --port PORT       port (default 65432; 0 picks a free one)\n"
    "  -t, --timeout SEC     close a client that stalls inside a message, or stops\n"
    "                        reading its answers, for SEC seconds (default 30; 0: never)\n"
    "      --message-timeout SEC  close a client whose message is not whole SEC\n"
    "                        seconds after its first byte (default 60; 0: never)\n"
    "      --max-content SIZE  largest content-length accepted, k/M/G suffixes\n"
    "                        (default 16M)\n"
    "      --max-conn N      clients at once; more wait to be accepted (default 1000)\n"
    "      --max-buffered SIZE  memory for unfinished messages in all; a message\n"
    "                        waits, unread, for its share (default 128M; at least\n"
    "                        --max-content)\n"
    "  -d, --data FILE       search answers from a JSON object of strings instead of\n"
    "                        the built-in three\n"
    "  -q, --quiet           no line per refused client\n"
    "  -h, --help            this text\n";

static const char client_help[] =
    "usage: berth app-client [HOST PORT] ACTION VALUE [-i HOST] [-p PORT] [--json]\n"
    "                        [--timeout SEC] [--max-content SIZE]\n"
    "\n"
    "Sends one request and prints the answer.  ACTION \"search\" goes as text/json\n"
    "{\"action\": \"search\", \"value\": VALUE}; any other action as the bytes\n"
    "ACTION+VALUE (binary/custom-client-binary-type).  Binary answers are printed\n"
    "with non-printable bytes escaped.  Exits 1 on a server error reply or a\n"
    "malformed, truncated or missing response.\n"
    "\n"
    "  -i, --host HOST       server address (default 127.0.0.1)\n"
    "  -p, --port PORT       server port (default 65432)\n"
    "  -j, --json            print the whole response as one JSON object:\n"
    "                        {\"header\": {...}, \"content\": ...} (binary content as\n"
    "                        \"content_base64\")\n"
    "  -t, --timeout SEC     connect and inactivity limit (default 10; 0: none)\n"
    "      --max-content SIZE  largest response accepted (default 16M)\n"
    "  -h, --help            this text\n";

static int parse_max(const char *cmd, const char *s, size_t *out)
{
    unsigned long long v;
    if (cmd_parse_size(s, &v) < 0 || v == 0 || v > (1ULL << 40))
        return cmd_usage_error(cmd, "bad --max-content", s);
    *out = (size_t)v;
    return 0;
}

enum { OPT_MAX = 1000, OPT_MAX_CONN, OPT_MAX_BUF, OPT_MSG_TIMEOUT };

int cmd_app_server(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"bind", required_argument, NULL, 'b'},
        {"port", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"max-content", required_argument, NULL, OPT_MAX},
        {"max-conn", required_argument, NULL, OPT_MAX_CONN},
        {"max-buffered", required_argument, NULL, OPT_MAX_BUF},
        {"message-timeout", required_argument, NULL, OPT_MSG_TIMEOUT},
        {"data", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct app_server_opt o = {.host = "127.0.0.1", .port = 65432, .timeout_ms = 30000};
    const char *data = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:p:t:d:qh", lopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.host = optarg;
            break;
        case 'p':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return cmd_usage_error("app-server", "bad port", optarg);
            break;
        case 't':
            if ((o.timeout_ms = cmd_parse_seconds(optarg)) < 0)
                return cmd_usage_error("app-server", "bad --timeout", optarg);
            break;
        case OPT_MAX:
            if (parse_max("app-server", optarg, &o.max_content)) return 2;
            break;
        case OPT_MAX_CONN: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v < 1 || v > 1000000)
                return cmd_usage_error("app-server", "bad --max-conn (1 to 1000000):", optarg);
            o.max_conn = (size_t)v;
            break;
        }
        case OPT_MAX_BUF: {
            unsigned long long v;
            if (cmd_parse_size(optarg, &v) < 0 || v == 0 || v > (1ULL << 40))
                return cmd_usage_error("app-server", "bad --max-buffered (1 to 1T):", optarg);
            o.max_buffered = (size_t)v;
            break;
        }
        case OPT_MSG_TIMEOUT:
            if ((o.message_timeout_ms = cmd_parse_seconds(optarg)) < 0)
                return cmd_usage_error("app-server", "bad --message-timeout (seconds):", optarg);
            if (o.message_timeout_ms == 0) o.message_timeout_ms = -1; /* 0: never */
            break;
        case 'd':
            data = optarg;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            fputs(server_help, stdout);
            return 0;
        default:
            return cmd_option_error("app-server", lopts, argv, c);
        }
    }
    size_t content = o.max_content ? o.max_content : APP_CONTENT_MAX;
    if (o.max_buffered && o.max_buffered < content)
        return cmd_usage_error("app-server",
                               "--max-buffered is below --max-content (16M unless given): "
                               "one whole message must fit",
                               NULL);
    int npos = argc - optind;
    if (npos == 2) {
        o.host = argv[optind];
        if ((o.port = cmd_parse_port(argv[optind + 1])) < 0)
            return cmd_usage_error("app-server", "bad port", argv[optind + 1]);
    } else if (npos != 0) {
        return cmd_usage_error("app-server", "expected HOST PORT or nothing", NULL);
    }

    char why[512];
    json_t *table = NULL;
    if (data && !(table = app_table_load(data, why, sizeof why))) {
        fprintf(stderr, "berth app-server: %s\n", why);
        return 1;
    }
    o.table = table;
    int rc = app_server_run(&o, why, sizeof why);
    json_decref(table);
    if (rc < 0) {
        fprintf(stderr, "berth app-server: %s\n", why);
        return 1;
    }
    return 0;
}

int cmd_app_client(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"host", required_argument, NULL, 'i'},
        {"port", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"max-content", required_argument, NULL, OPT_MAX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct app_client_opt o = {.host = "127.0.0.1", .port = 65432, .timeout_ms = 10000};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":i:p:jt:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o.host = optarg;
            break;
        case 'p':
            if ((o.port = cmd_parse_port(optarg)) < 0)
                return cmd_usage_error("app-client", "bad port", optarg);
            break;
        case 'j':
            o.json = 1;
            break;
        case 't':
            if ((o.timeout_ms = cmd_parse_seconds(optarg)) < 0)
                return cmd_usage_error("app-client", "bad --timeout", optarg);
            break;
        case OPT_MAX:
            if (parse_max("app-client", optarg, &o.max_content)) return 2;
            break;
        case 'h':
            fputs(client_help, stdout);
            return 0;
        default:
            return cmd_option_error("app-client", lopts, argv, c);
        }
    }
    char **pos = argv + optind;
    int npos = argc - optind;
    if (npos == 4) {
        o.host = pos[0];
        if ((o.port = cmd_parse_port(pos[1])) < 0)
            return cmd_usage_error("app-client", "bad port", pos[1]);
        pos += 2;
    } else if (npos != 2) {
        return cmd_usage_error("app-client", "expected [HOST PORT] ACTION VALUE", NULL);
    }
    o.action = pos[0];
    o.value = pos[1];

    char why[512];
    if (app_client_run(&o, why, sizeof why) < 0) {
        fprintf(stderr, "berth app-client: %s\n", why);
        return 1;
    }
    return 0;
}
