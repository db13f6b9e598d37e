#!/bin/sh
# WebSocket echo, side by side in one run, on 127.0.0.1:
#   berth echo-server --ws          (libberth's HTTP server, one worker)
#   a Python websockets echo server (asyncio, python3-websockets)
#   berth echo-server (TCP, epoll)  (the same echo without WebSocket framing)
# The load is `berth echo --ws URL --connections N ...` (and `berth echo
# --connections N ...` for TCP): CONNS connections x MSGS small messages of
# SIZE bytes, pipelined; then BIG_CONNS x BIG_MSGS messages of 1 MiB.
#
#   bench/ws.sh [path/to/berth]   CONNS=100 MSGS=50000 PY_MSGS=1000 SIZE=32 BIG_CONNS=4 BIG_MSGS=20 ROUNDS=3
#
# (50,000 messages per connection: the 100 handshakes, ~7 ms of server CPU,
# then weigh < 1.5 ns per message.  The Python server gets PY_MSGS messages
# per connection: it is ~100x slower, and its rate does not depend on the
# count)
#
# Prints messages/s and the server's CPU time per message (its threads'
# run time from /proc/PID/task/*/schedstat, over the small-message run; the
# median of ROUNDS runs against the same server), and MiB/s for 1 MiB
# messages.  Targets (issue 12): berth >= 10x the Python server's
# messages/s, and CPU per message <= 1.5x the TCP echo's.  Client and
# servers share the machine: on a busy one, compare within a run.
set -u
BERTH=${1:-${BERTH:-build/berth}}
PYTHON=${PYTHON:-/usr/bin/python3}
CONNS=${CONNS:-100}
MSGS=${MSGS:-50000}
PY_MSGS=${PY_MSGS:-1000}
SIZE=${SIZE:-32}
BIG_CONNS=${BIG_CONNS:-4}
BIG_MSGS=${BIG_MSGS:-20}
ROUNDS=${ROUNDS:-3}

[ -x "$BERTH" ] || { echo "bench/ws.sh: no berth binary at $BERTH; run make first" >&2; exit 1; }
"$PYTHON" -c 'import websockets' 2>/dev/null ||
    { echo "bench/ws.sh: $PYTHON has no websockets module; install python3-websockets" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

cat >"$tmp/py_echo.py" <<'EOF'
import asyncio, sys
import websockets

async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)

async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as s:
        print("listening on 127.0.0.1:%d (python websockets)" % s.sockets[0].getsockname()[1],
              flush=True)
        await asyncio.Future()

asyncio.run(main())
EOF

# start CMD...: runs it in the background, sets pid and port
start() {
    # emptied here, not by the background job's redirection: that one may
    # come after the loop below has read the last server's port
    : >"$tmp/server"
    "$@" >"$tmp/server" 2>&1 &
    pid=$!
    port=
    i=0
    while [ -z "$port" ] && [ $i -lt 200 ]; do
        port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) (.*/\1/p' "$tmp/server" | head -n 1)
        [ -n "$port" ] || sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || { echo "server did not start: $(cat "$tmp/server")" >&2; exit 1; }
}

# CPU time of a process's threads, ns (schedstat: exact, where /proc/PID/stat
# counts clock ticks of 10 ms)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.0f", t }'; }

stop() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}

# median of the numbers on standard input
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# run NAME URL-or-empty KEY MESSAGES: one row of the table
run() {
    name=$1
    url=$2
    n=$4
    msgs=$((CONNS * n))
    : >"$tmp/rates"
    : >"$tmp/cpus"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        t0=$(cpu_ns "$pid")
        if [ -n "$url" ]; then
            out=$("$BERTH" echo --ws "$url" --connections "$CONNS" --messages "$n" --size "$SIZE" --timeout 60 2>&1)
        else
            out=$("$BERTH" echo -p "$port" --connections "$CONNS" --messages "$n" --size "$SIZE" --timeout 60 2>&1)
        fi
        t1=$(cpu_ns "$pid")
        secs=$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s,.*/\1/p')
        [ -n "$secs" ] || { echo "$name: $out; the server said: $(cat "$tmp/server")" >&2; exit 1; }
        awk -v m="$msgs" -v s="$secs" 'BEGIN { printf "%.0f\n", m / s }' >>"$tmp/rates"
        awk -v t0="$t0" -v t1="$t1" -v m="$msgs" 'BEGIN { printf "%.4f\n", (t1 - t0) / 1e3 / m }' >>"$tmp/cpus"
        r=$((r + 1))
    done
    rate=$(median <"$tmp/rates")
    cpu=$(median <"$tmp/cpus")
    if [ -n "$url" ]; then
        big=$("$BERTH" echo --ws "$url" --connections "$BIG_CONNS" --messages "$BIG_MSGS" --size 1M --timeout 60 2>&1)
    else
        big=$("$BERTH" echo -p "$port" --connections "$BIG_CONNS" --messages "$BIG_MSGS" --size 1M --timeout 60 2>&1)
    fi
    mib=$(echo "$big" | sed -n 's/.*, \([0-9.]*\) MiB\/s$/\1/p')
    [ -n "$mib" ] || { echo "$name: $big; the server said: $(cat "$tmp/server")" >&2; exit 1; }
    printf '%-22s %12s %14s %12s\n' "$name" "$rate" "$cpu" "$mib"
    case $3 in
    ws) rate_ws=$rate cpu_ws=$cpu ;;
    py) rate_py=$rate ;;
    tcp) cpu_tcp=$cpu ;;
    esac
}
rate_ws=0 cpu_ws=0 rate_py=1 cpu_tcp=0

printf '%s connections x %s messages (python: %s) x %s bytes; %s x %s messages of 1 MiB\n' \
    "$CONNS" "$MSGS" "$PY_MSGS" "$SIZE" "$BIG_CONNS" "$BIG_MSGS"
printf '%-22s %12s %14s %12s\n' server 'messages/s' 'CPU us/message' 'MiB/s (1M)'
start "$BERTH" echo-server --ws -p 0 -q
run "berth websocket" "ws://127.0.0.1:$port/" ws "$MSGS"
stop
start "$PYTHON" "$tmp/py_echo.py"
run "python websockets" "ws://127.0.0.1:$port/" py "$PY_MSGS"
stop
start "$BERTH" echo-server -p 0 -q --model epoll
run "berth tcp (no framing)" "" tcp "$MSGS"
stop
awk -v a="$rate_ws" -v b="$rate_py" -v c="$cpu_ws" -v d="$cpu_tcp" 'BEGIN {
    printf "berth/python messages/s: %.1fx (target >= 10x)\n", a / b
    if (d > 0) printf "websocket/tcp CPU per message: %.2fx (target <= 1.5x)\n", c / d
    else print "websocket/tcp CPU per message: the TCP run took no measurable time; raise MSGS"
}'
