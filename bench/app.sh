#!/bin/sh
# bench/app.sh — requests/s of `berth app-server` against a Python server that
# behaves like the Real Python reference (bench/app_pyserver.py), in one run,
# on 127.0.0.1: 100 concurrent clients, each sending search requests one
# after another (send, wait for the whole answer, send the next).
#
# The reference closes the connection after one response, so it cannot take
# 1,000 requests over one connection.  To compare like with like the run has:
#   ref_1       the reference behaviour, one request per connection
#   berth_1     berth, one request per connection (the same load)
#   py_keep     the reference code kept open (--keepalive), 1,000 per connection
#   berth_keep  berth, 1,000 requests per connection (the issue's figure)
# and prints berth_keep/py_keep, berth_1/ref_1 and berth_keep/ref_1.  Each row
# also shows the server's CPU time per request (from /proc): on a shared
# machine req/s moves with everyone else's load, CPU per request much less.
#
#   BERTH=build/berth CLIENTS=100 REQUESTS=1000 SHORT=100 SECONDS=30 sh bench/app.sh
#
# The load client is C (written out below and built against libberth.a, so
# every answer is decoded and checked by the codec); LOAD=py uses
# bench/app_load.py instead, which is slower than berth and then measures
# itself.  SHORT is the requests per client in the one-per-connection rows.
# Clients close with a reset (SO_LINGER 0) so those rows do not fill the
# client's ports with TIME_WAIT.  Every row stops at SECONDS and reports what
# was done by then.
set -eu
cd "$(dirname "$0")/.."
BERTH=${BERTH:-build/berth}
LIB=${LIB:-$(dirname "$BERTH")/libberth.a}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
LOAD=${LOAD:-c}
CLIENTS=${CLIENTS:-100}
REQUESTS=${REQUESTS:-1000}
SHORT=${SHORT:-100}
SECONDS_MAX=${SECONDS:-30}
PROCS=${PROCS:-2}

[ -x "$BERTH" ] || { echo "bench/app.sh: $BERTH not built (make)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ "$LOAD" = c ]; then
    [ -f "$LIB" ] || { echo "bench/app.sh: $LIB not built (make)" >&2; exit 1; }
    cat >"$tmp/load.c" <<'END_OF_C'
/* C clients on one epoll loop, each sending R search requests one after
 * another, N per connection; every answer decoded by the library's codec.
 * usage: load PORT CLIENTS REQUESTS PER_CONN SECONDS */
#include "app/proto.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct cl {
    int fd, left, on_conn, i, connecting;
    struct buf in;
    struct app_dec d;
};
static struct buf reqs[4];
static int port, per_conn, ep;

static int send_req(struct cl *c);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Starts a non-blocking connect; the request goes out once it completes, so
 * the load never waits on one connection's handshake. */
static int open_conn(struct cl *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) return -1;
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->connecting = 1;
    c->on_conn = 0;
    buf_clear(&c->in);
    return 0;
}

/* The connect finished: check it and send the first request. */
static int connected(struct cl *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->connecting = 0;
    return send_req(c);
}

static void close_rst(struct cl *c)
{
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c->fd);
    c->fd = -1;
}

static int send_req(struct cl *c)
{
    struct buf *r = &reqs[(c->i + c->left) % 4];
    return send(c->fd, buf_head(r), buf_len(r), MSG_NOSIGNAL) == (ssize_t)buf_len(r) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    port = atoi(argv[1]);
    int n = atoi(argv[2]), total = atoi(argv[3]);
    per_conn = atoi(argv[4]);
    double limit = atof(argv[5]);
    const char *vals[4] = {"morpheus", "ring", "\xf0\x9f\x90\xb6", "neo"};
    for (int i = 0; i < 4; i++) {
        buf_init(&reqs[i], 0);
        json_t *v = json_pack("{s:s, s:s}", "action", "search", "value", vals[i]);
        app_encode_json(&reqs[i], v);
        json_decref(v);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct cl *cs = calloc((size_t)n, sizeof *cs);
    long done = 0, errors = 0;
    int active = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        cs[i].i = i;
        cs[i].left = total;
        app_dec_init(&cs[i].d, 0, 0);
        if (open_conn(&cs[i]) < 0) {
            errors++;
            continue;
        }
        active++;
    }
    struct epoll_event evs[256];
    while (active && now() - t0 < limit) {
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int e = 0; e < k; e++) {
            struct cl *c = evs[e].data.ptr;
            if (c->fd < 0) continue;
            int bad = 0;
            ssize_t r = 0;
            if (c->connecting) bad = connected(c) < 0;
            else r = buf_read_fd(&c->in, c->fd, 4096), bad = r == 0 || (r < 0 && r != -EAGAIN);
            struct app_msg m;
            ssize_t used;
            while (!bad && c->fd >= 0 && !c->connecting &&
                   (used = app_decode(&c->d, buf_head(&c->in), buf_len(&c->in), 0, &m)) != 0) {
                if (used < 0) {
                    bad = 1;
                    break;
                }
                int ok = json_is_string(json_object_get(m.json, "result"));
                app_msg_free(&m);
                if (!ok) {
                    bad = 1;
                    break;
                }
                buf_consume(&c->in, (size_t)used);
                done++;
                c->left--;
                c->on_conn++;
                if (c->left == 0) {
                    close_rst(c);
                    active--;
                } else if (c->on_conn >= per_conn) {
                    close_rst(c);
                    if (open_conn(c) < 0) bad = 1;
                } else if (send_req(c) < 0) {
                    bad = 1;
                }
            }
            if (bad) {
                errors++;
                if (c->fd >= 0) close_rst(c);
                active--;
            }
        }
    }
    double s = now() - t0;
    printf("{\"requests\": %ld, \"errors\": %ld, \"seconds\": %.3f, \"rps\": %.1f}\n", done,
           errors, s, (double)done / s);
    return 0;
}
END_OF_C
    "$CC" -O2 -D_GNU_SOURCE -Isrc -o "$tmp/load" "$tmp/load.c" "$LIB" -ljansson -lpthread
fi

# start NAME CMD... : runs a server, waits for "listening on HOST:PORT", sets $port
start() {
    name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1 &
    spid=$!
    pids="$pids $spid"
    i=0
    while ! grep -q "listening on" "$tmp/$name.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "bench/app.sh: $name did not start" >&2; cat "$tmp/$name.log" >&2; exit 1; }
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/$name.log" | head -n 1)
}

start berth "$BERTH" app-server -b 127.0.0.1 -p 0 -q
berth_port=$port berth_pid=$spid
start ref "$PYTHON" bench/app_pyserver.py 127.0.0.1 0
ref_port=$port ref_pid=$spid
start pykeep "$PYTHON" bench/app_pyserver.py 127.0.0.1 0 --keepalive
pykeep_port=$port pykeep_pid=$spid

# CPU time (user + system) a process has used, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# row NAME PORT PID PER_CONN REQUESTS
row() {
    t0=$(ticks "$3")
    shift_pid=$3
    set -- "$1" "$2" "$4" "$5"
    if [ "$LOAD" = c ]; then
        out=$("$tmp/load" "$2" "$CLIENTS" "$4" "$3" "$SECONDS_MAX")
    else
        out=$("$PYTHON" bench/app_load.py "$2" --clients "$CLIENTS" --requests "$4" \
            --per-conn "$3" --procs "$PROCS" --seconds "$SECONDS_MAX")
    fi
    rps=$(echo "$out" | sed -n 's/.*"rps": \([0-9.]*\).*/\1/p')
    n=$(echo "$out" | sed -n 's/.*"requests": \([0-9]*\).*/\1/p')
    e=$(echo "$out" | sed -n 's/.*"errors": \([0-9]*\).*/\1/p')
    s=$(echo "$out" | sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p')
    # server CPU per request: unlike req/s, not set by how busy the machine is
    cpu=$(awk -v t="$(($(ticks "$shift_pid") - t0))" -v hz="$hz" -v n="$n" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
    printf '%-11s %9s req/s  %7s requests in %6ss, %s errors, server CPU %5s us/request  (%s per connection)\n' \
        "$1" "$rps" "$n" "$s" "$e" "$cpu" "$3"
    eval "rps_$1=\$rps cpu_$1=\$cpu"
}

echo "bench/app.sh: $CLIENTS concurrent clients on 127.0.0.1, $(nproc) CPUs shared by the servers and the load client ($LOAD); load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
row ref_1 "$ref_port" "$ref_pid" 1 "$SHORT"
row berth_1 "$berth_port" "$berth_pid" 1 "$SHORT"
row py_keep "$pykeep_port" "$pykeep_pid" "$REQUESTS" "$REQUESTS"
row berth_keep "$berth_port" "$berth_pid" "$REQUESTS" "$REQUESTS"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
echo "berth_keep / py_keep  ($REQUESTS requests per connection, like for like): $(ratio "$rps_berth_keep" "$rps_py_keep")"
echo "berth_1 / ref_1       (one request per connection, the reference's way): $(ratio "$rps_berth_1" "$rps_ref_1")"
echo "berth_keep / ref_1    (berth as designed vs the reference as published): $(ratio "$rps_berth_keep" "$rps_ref_1")"
echo "server CPU per request, py_keep / berth_keep:                          $(ratio "$cpu_py_keep" "$cpu_berth_keep")"
[ "$LOAD" = c ] || echo "note: the load client is Python; at berth's rates it, not the server, is the limit"
