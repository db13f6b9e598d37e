#!/usr/bin/env bash
# bench/cache.sh — the file cache when requests spread over 100,000 files (issue 11).
#
# A temp docroot of FILES (100,000) files of SIZE (512) bytes in 100 directories; wrk -t1 with
# bench/random.lua picks a uniformly random file per request. Rows: berth with the default
# --cache-size (64M, less than the site needs: evictions), berth --cache-size 256M (all of it
# fits), and nginx with open_file_cache for 200,000 files (bench/nginx-cache.conf). Each server
# is pinned to CPU 0 and wrk to CPU 1, 127.0.0.1 only; a warm-up that asks for every file once,
# then the measured run of DURATION seconds (random files). Printed per row: requests/s, server CPU per request (utime+stime of all its
# threads), berth's cache hit rate over the measured run (from --metrics), the cache's bytes
# and entries, and the server's RSS.
#
#   bench/cache.sh                     # about a minute plus creating the files
#   DURATION=2 FILES=20000 bench/cache.sh
#
# Environment: BERTH (default build/berth), FILES, SIZE, DURATION (5), CONNS (50), SERVER_CPU
# (0), CLIENT_CPU (1), ONLY="berth berth256 nginx" (a subset of the rows), KEEP_TMP=1 (keep the
# temp dir with the site, configs and logs).
set -euo pipefail

FILES=${FILES:-100000}
SIZE=${SIZE:-512}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ONLY=${ONLY:-berth berth256 nginx}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH=${BERTH:-$ROOT/build/berth}
PYTHON=${PYTHON:-python3}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
[[ -x $BERTH ]] || die "no berth at $BERTH; run make first or set BERTH"

# every process started here is killed by PID at exit; nothing by name
PIDS=()
TMP=$(mktemp -d /tmp/berth-cache-bench.XXXXXX)
chmod 755 "$TMP" # nginx's workers drop privileges (when started as root) and must read the site
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ -n ${KEEP_TMP:-} ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "creating $FILES files of $SIZE bytes in $TMP/site"
"$PYTHON" - "$TMP/site" "$FILES" "$SIZE" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(100):
    os.makedirs(os.path.join(root, "d%02d" % d))
for i in range(n):
    with open(os.path.join(root, "d%02d" % (i % 100), "f%06d.txt" % i), "wb") as f:
        f.write(b"%0*d" % (size, i))
PY

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu_ticks PID : utime+stime of the process, all threads included
cpu_ticks() {
    local line rest
    local -a f
    read -r line < "/proc/$1/stat"
    rest=${line##*) }
    read -ra f <<< "$rest"
    echo $((f[11] + f[12]))
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# metric PORT NAME : a berth counter from --metrics (0 when absent)
metric() {
    { curl -s "http://127.0.0.1:$1/metrics" || true; } | awk -v n="$2" '$1 == n {print $2; f=1} END {if (!f) print 0}'
}

wait_port() {
    local _
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/d00/f000000.txt" && return 0
        sleep 0.1
    done
    die "nothing answers on port $1"
}

# start NAME PORT : starts a server, sets SPID
start() {
    local name=$1 port=$2
    case $name in
    berth) taskset -c "$SERVER_CPU" "$BERTH" serve "$port" -b 127.0.0.1 -d "$TMP/site" -q \
               --workers 1 --no-sandbox --metrics /metrics >"$TMP/$name.log" 2>&1 & ;;
    berth256) taskset -c "$SERVER_CPU" "$BERTH" serve "$port" -b 127.0.0.1 -d "$TMP/site" -q \
               --workers 1 --no-sandbox --metrics /metrics --cache-size 256M \
               >"$TMP/$name.log" 2>&1 & ;;
    nginx)
        command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { SPID=; return; }
        mkdir -p "$TMP/nginx/nginx"
        local maxf=$((FILES + 100)) lim
        lim=$(ulimit -n)
        ((maxf > lim - 200)) && maxf=$((lim - 200)) && log "nginx: open_file_cache max=$maxf (ulimit -n)"
        sed -e "s|@PORT@|$port|g" -e "s|@DOCROOT@|$TMP/site|g" -e "s|@RUN@|$TMP/nginx|g" \
            -e "s|@MAXFILES@|$maxf|g" \
            "$ROOT/bench/nginx-cache.conf" >"$TMP/nginx/nginx.conf"
        taskset -c "$SERVER_CPU" "$(command -v nginx || echo /usr/sbin/nginx)" -p "$TMP/nginx" \
            -e "$TMP/nginx/nginx-error.log" -c "$TMP/nginx/nginx.conf" >"$TMP/$name.log" 2>&1 & ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
    wait_port "$port"
}

# the process that serves: nginx's worker, berth itself
server_pid() {
    local name=$1 pid=$2 c
    if [[ $name == nginx ]]; then
        c=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null)
        [[ -n $c ]] && pid=$c
    fi
    echo "$pid"
}

CLK=$(getconf CLK_TCK)
printf '| server | requests/s | CPU µs/request | cache hit rate | cache MiB | entries | RSS MiB |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for name in $ONLY; do
    port=$(free_port)
    start "$name" "$port"
    [[ -n ${SPID:-} ]] || { log "$name: not installed, skipped"; continue; }
    pid=$(server_pid "$name" "$SPID")
    log "$name: warm-up: every file once (at most 60 s)"
    from=0 started=$SECONDS
    while ((from < FILES && SECONDS - started < 60)); do
        w=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s -s "$ROOT/bench/random.lua" \
            "http://127.0.0.1:$port" -- "$FILES" seq "$from" | sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p')
        from=$((from + ${w:-0}))
    done
    h0=0 m0=0
    [[ $name == berth* ]] && h0=$(metric "$port" berth_file_cache_hits_total) \
        && m0=$(metric "$port" berth_file_cache_misses_total)
    t0=$(cpu_ticks "$pid")
    log "$name: measured ${DURATION}s"
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$ROOT/bench/random.lua" \
        "http://127.0.0.1:$port" -- "$FILES")
    t1=$(cpu_ticks "$pid")
    line=$(grep '^BENCH ' <<<"$out") || die "$name: wrk said $out"
    field() { local v=${line##*" $1="}; echo "${v%% *}"; }
    req=$(field requests)
    dur=$(field duration_us)
    errs=$(field status)
    if [[ $errs != 0 ]]; then
        log "$name: $errs non-2xx answers; its log says:"
        tail -n 3 "$TMP/$name.log" "$TMP/nginx/nginx-error.log" >&2 2>/dev/null || true
    fi
    hit="n/a" mib="n/a" ent="n/a"
    if [[ $name == berth* ]]; then
        h1=$(metric "$port" berth_file_cache_hits_total)
        m1=$(metric "$port" berth_file_cache_misses_total)
        hit=$(awk -v h=$((h1 - h0)) -v m=$((m1 - m0)) 'BEGIN {printf "%.1f%%", h + m ? 100 * h / (h + m) : 0}')
        mib=$(awk -v b="$(metric "$port" berth_file_cache_bytes)" 'BEGIN {printf "%.1f", b / 1048576}')
        ent=$(metric "$port" berth_file_cache_entries)
    fi
    rss=$(awk -v k="$(rss_kib "$pid")" 'BEGIN {printf "%.1f", k / 1024}')
    awk -v n="$name" -v r="$req" -v d="$dur" -v t=$((t1 - t0)) -v clk="$CLK" -v hit="$hit" \
        -v mib="$mib" -v ent="$ent" -v rss="$rss" \
        'BEGIN {printf "| %s | %.0f | %.1f | %s | %s | %s | %s |\n", n, r / (d / 1e6),
                r ? t / clk * 1e6 / r : 0, hit, mib, ent, rss}'
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
done
