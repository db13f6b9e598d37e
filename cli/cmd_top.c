/* berth top — a running server's connections and counters (its --status
 * URL), refreshed every second like top(1): plain ANSI, no curses. */
#include "buf.h"
#include "cmd.h"
#include "http/top.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: berth top URL [options]\n"
          "\n"
          "Shows the connections of a running berth serve started with --status PATH:\n"
          "URL is http://HOST:PORT/PATH.  Refreshed every second; keys: b sort by bytes,\n"
          "a sort by age, q quit.\n"
          "\n"
          "  --once              print one snapshot and exit (for scripts)\n"
          "  --sort KEY          bytes (default: bytes in + out) or age, largest first\n"
          "  --interval SEC      seconds between refreshes (default 1)\n"
          "  -h, --help          this text\n",
          f);
}

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

/* One fetch and render into out: 0, or 1 after saying why on stderr. */
static int snapshot(const char *url, enum top_sort sort, int rows, struct buf *out)
{
    char err[512] = "";
    struct buf body;
    buf_init(&body, 0);
    int rc = top_fetch(url, 5000, &body, err, sizeof err);
    if (rc == 0) rc = buf_append(&body, "", 1);
    if (rc == 0) rc = top_render(out, buf_head(&body), sort, rows, err, sizeof err);
    buf_free(&body);
    if (rc < 0) {
        fprintf(stderr, "berth top: %s\n", *err ? err : "out of memory");
        return 1;
    }
    return 0;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        {"once", no_argument, 0, 'o'},
        {"sort", required_argument, 0, 's'},
        {"interval", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int once = 0, c, interval_ms = 1000;
    enum top_sort sort = TOP_BY_BYTES;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            once = 1;
            break;
        case 's':
            if (!strcmp(optarg, "bytes"))
                sort = TOP_BY_BYTES;
            else if (!strcmp(optarg, "age"))
                sort = TOP_BY_AGE;
            else
                return cmd_usage_error("top", "--sort is bytes or age, not", optarg);
            break;
        case 'i':
            if ((interval_ms = cmd_parse_seconds(optarg)) < 100)
                return cmd_range_error("top", "--interval", "0.1..86400 seconds", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return cmd_option_error("top", opts, argv, c);
        }
    }
    if (optind >= argc)
        return cmd_usage_error("top", "give the server's status URL, such as",
                               "http://127.0.0.1:8000/status");
    if (optind + 1 < argc) return cmd_usage_error("top", "unexpected argument", argv[optind + 1]);
    const char *url = argv[optind];
    struct buf out;
    buf_init(&out, 0);
    if (once || !isatty(STDOUT_FILENO)) { /* not a terminal: one snapshot, no escapes */
        int rc = snapshot(url, sort, 0, &out);
        if (!rc) fwrite(buf_head(&out), 1, buf_len(&out), stdout);
        buf_free(&out);
        return rc;
    }
    struct termios saved, raw;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) { /* keys without Enter, not echoed */
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = 0;
    fputs("\x1b[?25l", stdout); /* hide the cursor */
    while (!quit) {
        struct winsize ws;
        int rows = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 3 ? ws.ws_row - 3 : 20;
        buf_clear(&out);
        if (snapshot(url, sort, rows, &out)) {
            rc = 1;
            break;
        }
        fputs("\x1b[H\x1b[2J", stdout); /* home, clear */
        fwrite(buf_head(&out), 1, buf_len(&out), stdout);
        fputs("\n[b] bytes  [a] age  [q] quit", stdout);
        fflush(stdout);
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, tty ? 1 : 0, interval_ms) > 0) {
            char k;
            if (read(STDIN_FILENO, &k, 1) == 1) {
                if (k == 'q' || k == 'Q') break;
                if (k == 'b' || k == 'B') sort = TOP_BY_BYTES;
                if (k == 'a' || k == 'A') sort = TOP_BY_AGE;
            }
        }
    }
    fputs("\x1b[?25h\n", stdout);
    fflush(stdout);
    if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    buf_free(&out);
    return rc;
}
