#!/usr/bin/env bash
# HAProxy in front of two berth instances (contrib/haproxy/haproxy.cfg), load
# from wrk through HAProxy in three phases of DURATION/3 seconds each:
#   1 steady
#   2 instance A gets SIGTERM at the start (health 503 for --drain-grace,
#     then the drain) and is restarted once it has exited
#   3 instance B gets SIGKILL at the start and is restarted
# Prints per phase: requests, failed (non-2xx/3xx + socket errors).
# Loopback only; every process is started here, tracked by PID and killed by
# PID at exit; bounded in time.  See docs/LOAD_BALANCER.md.
#   bench/cluster.sh                  # 30 s
#   DURATION=6 bench/cluster.sh       # short form (CI: tests/integration/test_cluster.py)
#   BERTH=build/berth CONNS=16 SIZE=1048576 bench/cluster.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BERTH=${BERTH:-$root/build/berth}
DURATION=${DURATION:-30}
CONNS=${CONNS:-8}
SIZE=${SIZE:-4096}   # bytes of the file wrk fetches (SIZE=1048576: responses cut mid-body)
GRACE=${GRACE:-1}
CFG=${CFG:-$root/contrib/haproxy/haproxy.cfg}   # another HAProxy config (same variables)

for t in haproxy wrk curl python3; do
  command -v "$t" >/dev/null || { echo "cluster.sh: $t not found; install it (scripts/deps.sh)" >&2; exit 2; }
done
[ -x "$BERTH" ] || { echo "cluster.sh: $BERTH not found; run make or set BERTH" >&2; exit 2; }
phase_s=$((DURATION / 3))
[ "$phase_s" -ge 1 ] || { echo "cluster.sh: DURATION must be >= 3" >&2; exit 2; }

tmp=$(mktemp -d)
declare -A pid=()
cleanup() {
  for k in "${!pid[@]}"; do
    p=${pid[$k]}
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
  done
  for k in "${!pid[@]}"; do
    p=${pid[$k]}
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# four free loopback ports (bound then released: a race with other programs
# is possible but unlikely; the start checks below would catch it)
read -r P_LB P_A P_B P_ST < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')

mkdir -p "$tmp/www"
head -c "$SIZE" /dev/urandom > "$tmp/www/file.bin"

# wait (bounded) until a command succeeds
poll() { # seconds cmd...
  local end=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}

start_berth() { # name port
  : >"$tmp/$1.out"   # exists before the poll below reads it
  "$BERTH" serve "$2" -b 127.0.0.1 -d "$tmp/www" --workers 1 -q \
    --proxy-protocol --health /healthz --drain-grace "$GRACE" \
    >"$tmp/$1.out" 2>&1 &
  pid[$1]=$!
  echo "started berth-$1 pid ${pid[$1]}"
  poll 10 grep -q "Serving HTTP" "$tmp/$1.out" ||
    { echo "cluster.sh: berth-$1 did not start:" >&2; cat "$tmp/$1.out" >&2; exit 1; }
}

stats() { curl -fsS --max-time 2 "http://127.0.0.1:$P_ST/stats;csv" 2>/dev/null; }
# both servers UP in HAProxy's eyes
both_up() { [ "$(stats | awk -F, '$1=="berth" && ($2=="a"||$2=="b") && $18 ~ /^UP/' | wc -l)" = 2 ]; }

start_berth a "$P_A"
start_berth b "$P_B"
LB_BIND=127.0.0.1:$P_LB BERTH_A=127.0.0.1:$P_A BERTH_B=127.0.0.1:$P_B \
  LB_STATS=127.0.0.1:$P_ST haproxy -db -f "$CFG" >"$tmp/haproxy.out" 2>&1 &
pid[haproxy]=$!
echo "started haproxy pid ${pid[haproxy]}"
poll 10 both_up || { echo "cluster.sh: backends not UP in HAProxy:" >&2; cat "$tmp/haproxy.out" >&2; stats >&2; exit 1; }

url=http://127.0.0.1:$P_LB/file.bin
if ! curl -fsS --max-time 5 -o "$tmp/check.bin" "$url" || ! cmp -s "$tmp/check.bin" "$tmp/www/file.bin"; then
  echo "cluster.sh: GET through HAProxy failed" >&2; exit 1
fi

# restart an instance once it has exited (bounded: drain grace + drain)
restart_after_exit() { # name port
  local p=${pid[$1]}
  poll 20 bash -c "! kill -0 $p 2>/dev/null" ||
    { echo "cluster.sh: berth-$1 (pid $p) did not exit" >&2; exit 1; }
  { wait "$p"; } 2>/dev/null
  echo "berth-$1 exited with status $?"
  start_berth "$1" "$2"
}

run_phase() { # n label
  wrk -t1 -c"$CONNS" -d"${phase_s}s" --timeout 5s "$url" >"$tmp/wrk$1.out" 2>&1 &
  local w=$!
  pid[wrk]=$w
  case $1 in
    2) sleep 0.2; kill -TERM "${pid[a]}"; echo "phase 2: SIGTERM to berth-a"; restart_after_exit a "$P_A" ;;
    3) sleep 0.2; kill -KILL "${pid[b]}"; echo "phase 3: SIGKILL to berth-b"
       # reaped here, stderr aside: bash would report "Killed" on stderr
       { wait "${pid[b]}"; } 2>/dev/null
       echo "berth-b exited with status $?"
       start_berth b "$P_B" ;;
  esac
  wait "$w"
  pid[wrk]=
  local f=$tmp/wrk$1.out
  local req non2xx sock
  req=$(awk '/requests in/ {print $1}' "$f")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
  sock=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$f")
  read -r sc sr sw st <<<"${sock:-0 0 0 0}"
  if [ -z "$req" ]; then echo "cluster.sh: wrk failed:" >&2; cat "$f" >&2; exit 1; fi
  local failed=$(( ${non2xx:-0} + sc + sr + sw + st ))
  echo "phase $1 ($2): requests $req failed $failed (non-2xx ${non2xx:-0}, socket errors connect $sc read $sr write $sw timeout $st)"
  # the next phase starts with both instances in rotation
  poll 15 both_up || { echo "cluster.sh: backends not back UP after phase $1" >&2; stats >&2; exit 1; }
}

echo "berth-a 127.0.0.1:$P_A, berth-b 127.0.0.1:$P_B, haproxy 127.0.0.1:$P_LB; wrk -c$CONNS, $SIZE-byte file, 3 phases of ${phase_s}s"
run_phase 1 steady
run_phase 2 "SIGTERM A + restart"
run_phase 3 "SIGKILL B + restart"
# HAProxy's counters per server (CSV fields, 1-based): stot 8, econ 14,
# eresp 15, wretr 16, wredis 17, status 18, srv_abrt 51 (responses the
# server cut: these reach the client truncated)
stats | awk -F, '$1=="berth" {print "haproxy " $2 ": sessions " $8 " retries " $16 " redispatches " $17 " conn-errors " $14 " resp-errors " $15 " server-aborts " $51 " status " $18}'
