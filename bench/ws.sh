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
# servers share the machine: berth's WebSocket and TCP servers run side by
# side and take turns round by round, and the ratio is the median of the
# rounds' own ratios, each WebSocket round over the TCP round just after it.
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
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
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

# start LOG CMD...: runs CMD in the background, its output in $tmp/LOG;
# sets pid and port
start() {
    log=$tmp/$1
    shift
    # emptied here, not by the background job's redirection: that one may
    # come after the loop below has read the last server's port
    : >"$log"
    "$@" >"$log" 2>&1 &
    pid=$!
    pids="$pids $pid"
    port=
    i=0
    while [ -z "$port" ] && [ $i -lt 200 ]; do
        port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) (.*/\1/p' "$log" | head -n 1)
        [ -n "$port" ] || sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || { echo "server did not start: $(cat "$log")" >&2; exit 1; }
}

# CPU time of a process's threads, ns (schedstat: exact, where /proc/PID/stat
# counts clock ticks of 10 ms)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.0f", t }'; }

# stop PID
stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    pids=$(echo " $pids " | sed "s/ $1 / /")
}

# median of the numbers on standard input
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# load KEY PID PORT MESSAGES SIZE: one run of the client against a server
# (KEY ws or py: WebSocket; tcp: TCP); appends messages/s to $tmp/KEY.rate
# and the server's CPU per message (us) to $tmp/KEY.cpu (for 1M: MiB/s to
# $tmp/KEY.mib)
load() {
    if [ "$1" = tcp ]; then
        set -- "$@" -p "$3"
    else
        set -- "$@" --ws "ws://127.0.0.1:$3/"
    fi
    key=$1 lpid=$2 n=$4 size=$5
    shift 5
    conns=$CONNS
    [ "$size" = 1M ] && conns=$BIG_CONNS
    t0=$(cpu_ns "$lpid")
    out=$("$BERTH" echo "$@" --connections "$conns" --messages "$n" --size "$size" --timeout 60 2>&1)
    t1=$(cpu_ns "$lpid")
    secs=$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s,.*/\1/p')
    [ -n "$secs" ] || { echo "$key: $out; the server said: $(cat "$tmp/$key.log")" >&2; exit 1; }
    if [ "$size" = 1M ]; then
        echo "$out" | sed -n 's/.*, \([0-9.]*\) MiB\/s$/\1/p' >>"$tmp/$key.mib"
        return
    fi
    msgs=$((conns * n))
    awk -v m="$msgs" -v s="$secs" 'BEGIN { printf "%.0f\n", m / s }' >>"$tmp/$key.rate"
    awk -v t0="$t0" -v t1="$t1" -v m="$msgs" 'BEGIN { printf "%.4f\n", (t1 - t0) / 1e3 / m }' >>"$tmp/$key.cpu"
}

# row NAME KEY: one line of the table, medians of the rounds
row() {
    printf '%-22s %12s %14s %12s\n' "$1" "$(median <"$tmp/$2.rate")" "$(median <"$tmp/$2.cpu")" \
        "$(median <"$tmp/$2.mib")"
}

printf '%s connections x %s messages (python: %s) x %s bytes, %s rounds; %s x %s messages of 1 MiB\n' \
    "$CONNS" "$MSGS" "$PY_MSGS" "$SIZE" "$ROUNDS" "$BIG_CONNS" "$BIG_MSGS"
printf '%-22s %12s %14s %12s\n' server 'messages/s' 'CPU us/message' 'MiB/s (1M)'
# berth's two servers run side by side and take turns, round by round, so
# that each WebSocket round is compared with a TCP round of the same minute
# (the load of a shared machine drifts)
start ws.log "$BERTH" echo-server --ws -p 0 -q
ws_pid=$pid ws_port=$port
start tcp.log "$BERTH" echo-server -p 0 -q --model epoll
tcp_pid=$pid tcp_port=$port
r=0
while [ $r -lt "$ROUNDS" ]; do
    load ws "$ws_pid" "$ws_port" "$MSGS" "$SIZE"
    load tcp "$tcp_pid" "$tcp_port" "$MSGS" "$SIZE"
    paste "$tmp/ws.cpu" "$tmp/tcp.cpu" | tail -n 1 | awk '$2 > 0 { printf "%.2f\n", $1 / $2 }' >>"$tmp/ratio"
    r=$((r + 1))
done
load ws "$ws_pid" "$ws_port" "$BIG_MSGS" 1M
load tcp "$tcp_pid" "$tcp_port" "$BIG_MSGS" 1M
stop "$ws_pid"
stop "$tcp_pid"
start py.log "$PYTHON" "$tmp/py_echo.py"
py_pid=$pid
r=0
while [ $r -lt "$ROUNDS" ]; do
    load py "$py_pid" "$port" "$PY_MSGS" "$SIZE"
    r=$((r + 1))
done
load py "$py_pid" "$port" "$BIG_MSGS" 1M
stop "$py_pid"
row "berth websocket" ws
row "python websockets" py
row "berth tcp (no framing)" tcp
awk -v a="$(median <"$tmp/ws.rate")" -v b="$(median <"$tmp/py.rate")" \
    -v c="$(median <"$tmp/ratio")" -v all="$(sort -g "$tmp/ratio" | tr '\n' ' ' | sed 's/ $//')" 'BEGIN {
    printf "berth/python messages/s: %.1fx (target >= 10x)\n", a / b
    if (c != "") printf "websocket/tcp CPU per message: %.2fx (target <= 1.5x; the rounds: %s)\n", c, all
    else print "websocket/tcp CPU per message: the TCP runs took no measurable time; raise MSGS"
}'
