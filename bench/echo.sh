#!/bin/sh
# Echo throughput of every concurrency model, measured in one run:
# `berth echo --connections N --messages M --size S` (default 100 concurrent
# clients x 1 MiB) against `berth echo-server --model X` on 127.0.0.1.
#
#   bench/echo.sh [path/to/berth]        CONNS=100 MSGS=1 SIZE=1M ROUNDS=3
#
# Prints one table row per model (MiB/s echoed and checked; the best of
# ROUNDS runs, all of them shown).  Client and server share the machine.
set -u
BERTH=${1:-${BERTH:-build/berth}}
CONNS=${CONNS:-100}
MSGS=${MSGS:-1}
SIZE=${SIZE:-1M}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-"iterative fork thread select epoll"}

[ -x "$BERTH" ] || { echo "bench/echo.sh: no berth binary at $BERTH; run make first" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

printf '%s connections x %s message(s) x %s bytes, %s round(s) each\n' "$CONNS" "$MSGS" "$SIZE" "$ROUNDS"
printf '%-10s %10s   %s\n' model 'MiB/s' 'rounds (MiB/s)'
status=0
for m in $MODELS; do
    "$BERTH" echo-server -p 0 -q --model "$m" >"$tmp/server" 2>&1 &
    pid=$!
    port=
    i=0
    while [ -z "$port" ] && [ $i -lt 100 ]; do
        port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) (.*/\1/p' "$tmp/server")
        [ -n "$port" ] || sleep 0.05
        i=$((i + 1))
    done
    if [ -z "$port" ]; then
        echo "$m: server did not start: $(cat "$tmp/server")" >&2
        status=1
        continue
    fi
    best=0
    all=
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        out=$("$BERTH" echo -p "$port" --connections "$CONNS" --messages "$MSGS" --size "$SIZE" --timeout 30 2>&1)
        rate=$(echo "$out" | sed -n 's/.*, \([0-9.]*\) MiB\/s$/\1/p')
        if [ -z "$rate" ]; then
            echo "$m: $out" >&2
            status=1
            rate=0
        fi
        all="$all $rate"
        best=$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
        r=$((r + 1))
    done
    kill -TERM "$pid"
    wait "$pid" || { echo "$m: server exited $?" >&2; status=1; }
    pid=
    printf '%-10s %10s  %s\n' "$m" "$best" "$all"
done
exit $status
