#!/bin/sh
# Leak check: the echo server under valgrind --leak-check=full serves 1,000
# clients (10 rounds of `berth echo --connections 100`), is stopped with
# SIGTERM, and must exit 0 having freed everything ("no leaks are possible",
# or at least 0 bytes definitely/indirectly lost) with no valgrind errors.
#
#   bench/leakcheck.sh [path/to/berth]       MODEL=epoll ROUNDS=10 CONNS=100
#
# Slow (about a minute): not part of `make test`.
set -u
BERTH=${1:-${BERTH:-build/berth}}
MODEL=${MODEL:-epoll}
ROUNDS=${ROUNDS:-10}
CONNS=${CONNS:-100}

command -v valgrind >/dev/null || { echo "leakcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$BERTH" ] || { echo "leakcheck: no berth binary at $BERTH; run make first" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --log-file="$tmp/vg" \
    "$BERTH" echo-server -p 0 -q --model "$MODEL" >"$tmp/server" 2>&1 &
pid=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 600 ]; do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) (.*/\1/p' "$tmp/server")
    [ -n "$port" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$port" ] || { echo "leakcheck: server did not start"; cat "$tmp/server" "$tmp/vg"; exit 1; }

r=0
while [ $r -lt "$ROUNDS" ]; do
    "$BERTH" echo -p "$port" --connections "$CONNS" --messages 2 --size 4k --timeout 60 >/dev/null ||
        { echo "leakcheck: round $r failed"; exit 1; }
    r=$((r + 1))
done
# and a few that leave mid-stream, the untidy way
python3 - "$port" <<'PY' 2>/dev/null || true
import socket, struct, sys
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"x" * 100000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
sleep 0.5
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
served=$((ROUNDS * CONNS))
echo "leakcheck: model $MODEL served $served clients (+20 resets), server exit status $st"
# (with --model fork every child writes its own summary: counted, not repeated)
grep -E "definitely lost|indirectly lost|possibly lost|still reachable|no leaks are possible|ERROR SUMMARY" "$tmp/vg" |
    sed 's/^==[0-9]*== *//' | sort | uniq -c
if [ "$st" -ne 0 ]; then
    echo "leakcheck: FAILED (exit status $st)"
    cat "$tmp/vg"
    exit 1
fi
if grep -q "no leaks are possible" "$tmp/vg" ||
    { grep -q "definitely lost: 0 bytes" "$tmp/vg" && grep -q "indirectly lost: 0 bytes" "$tmp/vg"; } ||
    ! grep -q "lost:" "$tmp/vg"; then
    ! grep "ERROR SUMMARY" "$tmp/vg" | grep -qv "ERROR SUMMARY: 0 errors" || { echo "leakcheck: FAILED (valgrind errors)"; cat "$tmp/vg"; exit 1; }
    echo "leakcheck: ok"
    exit 0
fi
echo "leakcheck: FAILED"
cat "$tmp/vg"
exit 1
