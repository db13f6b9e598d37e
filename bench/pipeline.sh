#!/usr/bin/env bash
# bench/pipeline.sh — the 16-deep pipelining row alone, many short rounds with the
# servers taking turns, so that the machine's drift falls on every column alike:
# berth (--workers 1), canned (the ceiling: a 53-byte answer) and canned sending
# berth's own answer byte for byte (cannedb), plus BASE=path/to/another/berth if given
# (an older build, say). Each server pinned to SERVER_CPU, wrk -t1 to CLIENT_CPU.
# Prints the medians of req/s and of the server's user, system and total CPU per
# request, how busy its core was, and berth's ratios.
#
#   bench/pipeline.sh                       # 8 rounds of 3 s
#   ROUNDS=12 DURATION=2 BASE=/tmp/old/berth bench/pipeline.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BERTH=${BERTH:-$ROOT/build/berth}
CANNED_SRC=${CANNED_SRC:-$ROOT/../shared/bench/canned.c}
PYTHON=${PYTHON:-python3}
die() { printf 'pipeline.sh: %s\n' "$*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
[[ -x $BERTH ]] || die "no $BERTH: run make first, or set BERTH"
[[ -f $CANNED_SRC ]] || die "no canned.c at $CANNED_SRC: set CANNED_SRC"
[[ -z ${BASE:-} || -x $BASE ]] || die "BASE=$BASE is not an executable"

TMP=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir "$TMP/www"
printf 'Hello, client!' >"$TMP/www/hello.txt"
port=$((20000 + RANDOM % 20000))

start() { # command...: starts the server pinned, waits until it answers
    taskset -c "$SERVER_CPU" "$@" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        "$PYTHON" - "$port" <<'EOF' 2>/dev/null && return 0
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
EOF
        sleep 0.05
    done
    die "the server did not start: $*"
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=; }

cc -O2 -o "$TMP/canned" "$CANNED_SRC" || die "cannot build canned"
# cannedb: canned.c with its answer replaced by berth's answer to /hello.txt
start "$BERTH" serve "$port" -b 127.0.0.1 -d "$TMP/www" --workers 1 --quiet
"$PYTHON" - "$port" "$CANNED_SRC" "$TMP/cannedb.c" <<'EOF'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
d = b""
while not (b"\r\n\r\n" in d and d.endswith(b"Hello, client!")):
    d += s.recv(4096)
lit = "".join("\\x%02x" % b for b in d)
src = open(sys.argv[2]).read()
out, n = re.subn(r'#define RESP ".*"', lambda m: '#define RESP "%s"' % lit, src)
assert n == 1, "canned.c has no #define RESP line"
open(sys.argv[3], "w").write(out)
EOF
stop
cc -O2 -o "$TMP/cannedb" "$TMP/cannedb.c" || die "cannot build cannedb"

names=(berth canned cannedb)
[[ -n ${BASE:-} ]] && names+=(base)
cmd_of() {
    case $1 in
    berth) echo "$BERTH serve $port -b 127.0.0.1 -d $TMP/www --workers 1 --quiet" ;;
    base) echo "$BASE serve $port -b 127.0.0.1 -d $TMP/www --workers 1 --quiet" ;;
    canned) echo "$TMP/canned $port 127.0.0.1" ;;
    cannedb) echo "$TMP/cannedb $port 127.0.0.1" ;;
    esac
}
tck=$(getconf CLK_TCK)
: >"$TMP/results"
for r in $(seq "$ROUNDS"); do
    for s in "${names[@]}"; do
        # shellcheck disable=SC2046
        start $(cmd_of "$s")
        run() { taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d"$1" -s "$ROOT/bench/pipeline.lua" \
            "http://127.0.0.1:$port" -- 16 /hello.txt; }
        run 1s >/dev/null # warm-up
        read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        n=$(run "${DURATION}s" | sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p')
        read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
        stop
        echo "$s $n $((u1 - u0)) $((s1 - s0))" >>"$TMP/results"
        printf '%s round %d: %s requests\n' "$s" "$r" "$n" >&2
    done
done

"$PYTHON" - "$TMP/results" "$DURATION" "$tck" "$ROUNDS" <<'EOF'
import collections, statistics, sys
path, dur, tck, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = collections.defaultdict(list)
for line in open(path):
    s, n, u, k = line.split()
    n, u, k = int(n), int(u) / tck, int(k) / tck
    rows[s].append((n / dur, u / n * 1e6, k / n * 1e6, (u + k) / n * 1e6, (u + k) / dur * 100))
med = {s: [statistics.median(x[i] for x in v) for i in range(5)] for s, v in rows.items()}
print(f"16-deep pipelining, 50 connections, wrk -t1; median of {rounds} rounds of {dur:g} s, servers in turn")
print()
print("| server | req/s | user µs/req | system µs/req | CPU µs/req | core busy, % |")
print("|---|---:|---:|---:|---:|---:|")
for s, m in med.items():
    print(f"| {s} | {m[0]/1000:,.0f}k | {m[1]:.3f} | {m[2]:.3f} | {m[3]:.3f} | {m[4]:.0f} |")
print()
b = med["berth"]
for o in [s for s in med if s != "berth"]:
    x = med[o]
    print(f"berth/{o}: req/s {b[0]/x[0]:.2f}, CPU per request {b[3]/x[3]:.2f} "
          f"(user {b[1]/x[1]:.2f}, system {b[2]/x[2]:.2f})")
EOF
