#!/usr/bin/env bash
# bench/http.sh — `berth serve` side by side with canned (the ceiling), nginx, lighttpd and h2o.
#
# One run, all servers: each server pinned to CPU 0, wrk -t1 pinned to CPU 1, 127.0.0.1 only,
# keep-alive, access logs off, ROUNDS rounds of DURATION seconds per scenario, median.
# Prints one markdown table and writes it to bench/out/http-<date>.md. See bench/README.md.
# HTTPS and HTTP/2 rows: berth, nginx and h2o with one ECDSA P-256 certificate made for the run;
# wrk over https, openssl s_time (new TLS connection per request, with and without resumption)
# and h2load -c 50 -m 10 (h2c with prior knowledge, and h2 over TLS).
#
#   bench/http.sh                        # full run (about 16 minutes; DURATION=3: 9)
#   DURATION=2 ROUNDS=1 bench/http.sh    # quick run
#   ONLY_ROWS=tls,h2 bench/http.sh       # only the HTTPS and HTTP/2 rows
#   ONLY_ROWS=enc bench/http.sh          # only the content-encoding rows (berth, nginx, h2o)
#
# Environment: BERTH=path (default: run `make BUILD=$BUILD` and use $BUILD/berth, BUILD=build),
# CANNED_SRC=path/to/canned.c (default ../shared/bench/canned.c next to the repo), DURATION,
# ROUNDS, WORKERS2=0 (skip the berth --workers 2 column), IDLE_CONNS (10000), SERVER_CPU (0),
# CLIENT_CPU (1), OUT_DIR (bench/out), KEEP_TMP=1 (keep the temp dir with configs and logs),
# ONLY="berth canned …" (run a subset of the servers), ONLY_ROWS=plain,tls,h2,enc (a subset of the
# row groups: plain = the plaintext HTTP/1.1 rows, syscalls and idle memory; tls = HTTPS with wrk
# and the handshake rows; h2 = h2load over h2c and TLS; enc = a 64 KiB text file asked for with
# Accept-Encoding: br, gzip, compressed on the fly and from precompressed sidecars).
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WORKERS2=${WORKERS2:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SYSCALL_SECONDS=${SYSCALL_SECONDS:-2}
SYSCALL_CONNS=${SYSCALL_CONNS:-10}
ONLY_ROWS=${ONLY_ROWS:-plain,tls,h2,enc}
ROW_PLAIN=0 ROW_TLS=0 ROW_H2=0 ROW_ENC=0
for g in ${ONLY_ROWS//,/ }; do
    case $g in
    plain) ROW_PLAIN=1 ;; tls) ROW_TLS=1 ;; h2) ROW_H2=1 ;; enc) ROW_ENC=1 ;;
    *) printf 'ONLY_ROWS=%s: %s is none of plain, tls, h2, enc\n' "$ONLY_ROWS" "$g" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT_DIR=${OUT_DIR:-$BENCH/out}
CANNED_SRC=${CANNED_SRC:-$ROOT/../shared/bench/canned.c}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- processes we own
# Every process this script starts in the background goes into PIDS; at exit (normal, error,
# Ctrl-C, TERM) each of them and its descendants is killed by PID. Nothing is killed by name.
PIDS=()
TMP=""

# descendants PID... : the given PIDs plus all their descendants (from /proc/*/stat ppid)
descendants() {
    local -A parent=()
    local f line pid ppid rest
    for f in /proc/[0-9]*/stat; do
        { read -r line < "$f"; } 2>/dev/null || continue
        pid=${f#/proc/}; pid=${pid%/stat}
        rest=${line##*) }            # fields after "(comm) "
        rest=${rest#* }              # drop state
        ppid=${rest%% *}
        parent[$pid]=$ppid
    done
    local -a found=() todo=("$@")
    local -A seen=()
    while ((${#todo[@]})); do
        pid=${todo[-1]}; unset 'todo[-1]'
        [[ -n $pid && -z ${seen[$pid]:-} && -d /proc/$pid ]] || continue
        seen[$pid]=1; found+=("$pid")
        for f in "${!parent[@]}"; do
            [[ ${parent[$f]} == "$pid" ]] && todo+=("$f")
        done
    done
    echo "${found[@]}"
}

# forget PID : it has exited and been waited for (so its number may be reused by others)
forget() {
    local -a keep=()
    local p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if ((${#PIDS[@]})); then
        local all p i
        all=$(descendants "${PIDS[@]}")
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for i in $(seq 30); do
            local alive=0
            for p in $all; do [[ -d /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 0.1
        done
        for p in $all; do kill -KILL "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
    fi
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- what we need
install_missing() {
    local -a need=()
    command -v wrk >/dev/null || need+=(wrk)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
    command -v lighttpd >/dev/null || [[ -x /usr/sbin/lighttpd ]] || need+=(lighttpd)
    command -v h2o >/dev/null || need+=(h2o)
    command -v strace >/dev/null || need+=(strace)
    command -v openssl >/dev/null || need+=(openssl)
    command -v h2load >/dev/null || need+=(nghttp2-client)
    command -v python3 >/dev/null || need+=(python3)
    command -v make >/dev/null || need+=(make)
    command -v cc >/dev/null || need+=(gcc libc6-dev)
    command -v taskset >/dev/null || need+=(util-linux)
    printf '#include <jansson.h>\n' | cc -E -x c - >/dev/null 2>&1 || need+=(libjansson-dev)
    ((${#need[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "missing ${need[*]}: run as root, or: sudo apt-get install -y ${need[*]}"
    log "installing ${need[*]}"
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        # keep the packages' services (nginx, lighttpd, h2o) from starting on install
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local ok=1
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || ok=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || ok=0
    ((made_policy)) && rm -f /usr/sbin/policy-rc.d
    ((ok)) || die "apt-get install ${need[*]} failed"
}
install_missing
export PATH=$PATH:/usr/sbin:/sbin
# the interpreter itself, not a version-manager shim (those cost a second per start on a busy box)
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}

# file descriptors: 10,000 held connections plus wrk's 1,000
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
((NOFILE >= IDLE_CONNS + 2000)) || die "ulimit -n is $NOFILE; need $((IDLE_CONNS + 2000)) for IDLE_CONNS=$IDLE_CONNS"
MAXFDS=$NOFILE; ((MAXFDS > 65536)) && MAXFDS=65536
MAXCONN=$((MAXFDS - 1000)); ((MAXCONN > 20000)) && MAXCONN=20000

# ---------------------------------------------------------------- build
if [[ -z ${BERTH:-} ]]; then
    BUILD=${BUILD:-build}
    log "make BUILD=$BUILD"
    make -C "$ROOT" -j2 BUILD="$BUILD" >&2 || die "make failed"
    BERTH=$ROOT/$BUILD/berth
fi
[[ -x $BERTH ]] || die "no berth binary at $BERTH"
BERTH=$(cd "$(dirname "$BERTH")" && pwd)/$(basename "$BERTH")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
chmod 755 "$TMP"     # nginx workers and h2o drop privileges and must read the docroot

HAVE_CANNED=0
if [[ -f $CANNED_SRC ]]; then
    cc -O2 -o "$TMP/canned" "$CANNED_SRC" && HAVE_CANNED=1
else
    log "warning: no canned.c at $CANNED_SRC (set CANNED_SRC); the canned column stays empty"
fi

WWW=$TMP/www
mkdir -p "$WWW"
printf 'Hello, client!' > "$WWW/hello.txt"
head -c 4096 /dev/urandom > "$WWW/4k.bin"
head -c 1048576 /dev/urandom > "$WWW/1m.bin"
# the content-encoding rows: 64 KiB of HTML and JavaScript, repeated but varied (not zeros), as
# 64k.js (no sidecars: compressed on the fly) and 64kp.js with .br and .gz sidecars made the way
# a build step makes them (brotli -q 11, gzip -9)
"$PYTHON" - "$WWW/64k.js" <<'EOF'
import random, sys
rnd = random.Random(11)
w = ("function return const let var await async class extends import export default div span "
     "section header footer article nav button input label value length index item render "
     "props state effect query select width height margin padding color border flex").split()
out, n = [], 0
while n < 65536:
    a = [rnd.choice(w) for _ in range(5)]
    line = (f'<div class="{a[0]}-{rnd.randrange(500)}"><a href="/{a[1]}/{rnd.randrange(9999)}">'
            f'{a[2]} {a[3]}</a></div>\n' if rnd.random() < 0.5 else
            f'function {a[0]}{rnd.randrange(999)}({a[1]}, {a[2]}) {{ return {a[1]}.{a[3]} + '
            f'{rnd.randrange(99)}; }}\n')
    out.append(line); n += len(line)
open(sys.argv[1], "wb").write("".join(out).encode()[:65536])
EOF
cp "$WWW/64k.js" "$WWW/64kp.js"
gzip -9 -n -c "$WWW/64kp.js" > "$WWW/64kp.js.gz"
if command -v brotli >/dev/null; then brotli -q 11 -c "$WWW/64kp.js" > "$WWW/64kp.js.br"; fi
touch -r "$WWW/64kp.js" "$WWW"/64kp.js.*
chmod 755 "$WWW"; chmod 644 "$WWW"/*

# one ECDSA P-256 certificate for every TLS server of the run (made here, never kept)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2> "$TMP/openssl-req.log" || die "openssl req failed: $(cat "$TMP/openssl-req.log")"
chmod 644 "$TMP/key.pem" "$TMP/cert.pem"    # nginx and h2o read them before dropping privileges

mkdir -p "$TMP/wrk"
cat > "$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d p99_us=%d p50_us=%d"
      .. " connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.bytes, summary.duration,
      latency:percentile(99), latency:percentile(50),
      e.connect, e.read, e.write, e.timeout, e.status))
end
EOF

# free TCP ports on 127.0.0.1, $1 of them, all distinct
free_ports() {
    "$PYTHON" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# render TEMPLATE OUT PORT RUNDIR
render() {
    sed -e "s|@PORT@|$3|g" -e "s|@RUN@|$4|g" -e "s|@DOCROOT@|$WWW|g" \
        -e "s|@MAXCONN@|$MAXCONN|g" -e "s|@MAXFDS@|$MAXFDS|g" -e "s|@HALFFDS@|$((MAXFDS / 2))|g" \
        -e "s|@CERT@|$TMP/cert.pem|g" -e "s|@KEY@|$TMP/key.pem|g" -e "s|@H2CPORT@|${PORT[nginx-h2c]:-0}|g" \
        "$1" > "$2"
}

# ---------------------------------------------------------------- servers
declare -A PORT=() SPID=() SET=()

# start_server NAME INSTANCE PORT : starts it pinned, waits until it accepts, sets SPID[INSTANCE]
start_server() {
    local name=$1 inst=$2 port=$3 run=$TMP/run-$2
    mkdir -p "$run/nginx"; chmod 755 "$run"
    local -a cmd
    case $name in
    berth)   cmd=(taskset -c "$SERVER_CPU" "$BERTH" serve "$port" -b 127.0.0.1 -d "$WWW" --workers 1 --quiet) ;;
    berth2)  cmd=(taskset -c "$SERVER_CPU,$CLIENT_CPU" "$BERTH" serve "$port" -b 127.0.0.1 -d "$WWW" --workers 2 --quiet) ;;
    canned)  cmd=(taskset -c "$SERVER_CPU" "$TMP/canned" "$port" 127.0.0.1) ;;
    cannedb) cmd=(taskset -c "$SERVER_CPU" "$TMP/cannedb" "$port" 127.0.0.1) ;;
    nginx)   render "$BENCH/nginx.conf" "$run/nginx.conf" "$port" "$run"
             cmd=(taskset -c "$SERVER_CPU" nginx -p "$run" -e "$run/nginx-error.log" -c "$run/nginx.conf") ;;
    lighttpd) render "$BENCH/lighttpd.conf" "$run/lighttpd.conf" "$port" "$run"
             cmd=(taskset -c "$SERVER_CPU" lighttpd -D -f "$run/lighttpd.conf") ;;
    h2o)     render "$BENCH/h2o.conf" "$run/h2o.conf" "$port" "$run"
             cmd=(taskset -c "$SERVER_CPU" h2o -c "$run/h2o.conf") ;;
    berth-tls) cmd=(taskset -c "$SERVER_CPU" "$BERTH" serve "$port" -b 127.0.0.1 -d "$WWW" --workers 1 --quiet
                    --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem") ;;
    nginx-tls) render "$BENCH/nginx-tls.conf" "$run/nginx.conf" "$port" "$run"
             cmd=(taskset -c "$SERVER_CPU" nginx -p "$run" -e "$run/nginx-error.log" -c "$run/nginx.conf") ;;
    h2o-tls) render "$BENCH/h2o-tls.conf" "$run/h2o.conf" "$port" "$run"
             cmd=(taskset -c "$SERVER_CPU" h2o -c "$run/h2o.conf") ;;
    esac
    if [[ $inst == *-idle && $name == berth* ]]; then
        cmd+=(--max-conn "$MAXCONN" --idle-timeout 600)
    fi
    "${cmd[@]}" > "$run/out.log" 2>&1 < /dev/null &
    local pid=$!
    PIDS+=("$pid"); SPID[$inst]=$pid
    local i
    for i in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$run"/*.log >&2 || true
            die "$inst did not start: ${cmd[*]}"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            sleep 0.2    # nginx: let the worker come up
            SET[$inst]=$(descendants "$pid")
            return 0
        fi
        sleep 0.1
    done
    die "$inst does not accept on 127.0.0.1:$port"
}

# fetch PORT PATH : one keep-alive GET; prints "status=… head_bytes=… body_bytes=…"
fetch() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(f"GET {sys.argv[2]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
buf = b""
while b"\r\n\r\n" not in buf:
    c = s.recv(65536)
    if not c: break
    buf += c
head, _, body = buf.partition(b"\r\n\r\n")
n = 0
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length": n = int(v)
while len(body) < n:
    c = s.recv(65536)
    if not c: break
    body += c
status = head.split(b" ")[1].decode() if b" " in head else "?"
print(f"status={status} head_bytes={len(head) + 4} body_bytes={len(body)}")
EOF
}

# the servers of the content-encoding rows: lighttpd and canned as configured here compress nothing
enc_ok() { [[ $1 == berth || $1 == berth2 || $1 == nginx || $1 == h2o ]]; }

# fetch_enc PORT PATH : fetch's GET with Accept-Encoding: br, gzip; prints "status=… enc=… body_bytes=…"
fetch_enc() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", sys.argv[2], headers={"Accept-Encoding": "br, gzip"})
r = c.getresponse()
body = r.read()
print(f"status={r.status} enc={r.getheader('Content-Encoding') or 'none'} body_bytes={len(body)}")
EOF
}

# fetch_tls PORT PATH : fetch's GET over TLS (ALPN http/1.1); adds "tls=VERSION/CIPHER"
fetch_tls() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
s.sendall(f"GET {sys.argv[2]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
buf = b""
while b"\r\n\r\n" not in buf:
    c = s.recv(65536)
    if not c: break
    buf += c
head, _, body = buf.partition(b"\r\n\r\n")
n = 0
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length": n = int(v)
while len(body) < n:
    c = s.recv(65536)
    if not c: break
    body += c
status = head.split(b" ")[1].decode() if b" " in head else "?"
print(f"status={status} head_bytes={len(head) + 4} body_bytes={len(body)} tls={s.version()}/{s.cipher()[0]}")
EOF
}

# cpu_ticks PID... : utime+stime (+ reaped children's) of the processes, all threads included
cpu_ticks() {
    local p line rest total=0
    local -a f
    for p in "$@"; do
        { read -r line < "/proc/$p/stat"; } 2>/dev/null || continue
        rest=${line##*) }
        read -ra f <<< "$rest"
        # after "(comm) ": f[0]=state ... utime=f[11] stime=f[12] cutime=f[13] cstime=f[14]
        total=$((total + f[11] + f[12] + f[13] + f[14]))
    done
    echo "$total"
}

# run_bg CMD... : run in the background as one of ours, wait for it (Ctrl-C stays responsive)
run_bg() {
    "$@" &
    local p=$!
    PIDS+=("$p")
    wait "$p" || true
    forget "$p"
}

# stop_server INSTANCE : TERM its first process, wait for all of its processes, KILL leftovers
stop_server() {
    local pid=${SPID[$1]} p i alive
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 30); do
        alive=0
        for p in ${SET[$1]}; do
            [[ -d /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive=1
        done
        ((alive)) || break
        sleep 0.1
    done
    for p in ${SET[$1]}; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

SERVERS=(berth)
((WORKERS2)) && SERVERS+=(berth2)
((HAVE_CANNED)) && SERVERS+=(canned cannedb)
SERVERS+=(nginx lighttpd h2o)
if [[ -n ${ONLY:-} ]]; then     # e.g. ONLY="berth canned": a subset, for a quicker look
    keep=()
    for s in "${SERVERS[@]}"; do [[ " $ONLY " == *" $s "* ]] && keep+=("$s"); done
    SERVERS=("${keep[@]}")
    ((${#SERVERS[@]})) || die "ONLY=$ONLY names none of berth berth2 canned cannedb nginx lighttpd h2o"
fi
# cannedb is canned sending berth's own answer: it needs berth's
[[ " ${SERVERS[*]} " == *" berth "* ]] || SERVERS=(${SERVERS[@]/cannedb})
# the HTTPS and HTTP/2 rows: berth, nginx and h2o, each a second instance with TLS ("S-tls")
TLS_SERVERS=()
if ((ROW_TLS || ROW_H2)); then
    for s in berth nginx h2o; do [[ " ${SERVERS[*]} " == *" $s "* ]] && TLS_SERVERS+=("$s"); done
fi
# h2c: berth and h2o take the preface on their plaintext port, nginx on a port of its own
# (nginx-tls.conf), so without the plain rows only berth's and h2o's plaintext instances start
if ! ((ROW_PLAIN)); then
    keep=()
    for s in berth nginx h2o; do
        [[ " ${SERVERS[*]} " == *" $s "* ]] || continue
        # h2c needs berth's and h2o's plaintext instances; the encoding rows berth, nginx, h2o
        if ((ROW_ENC)) || { ((ROW_H2)) && [[ $s != nginx ]]; }; then keep+=("$s"); fi
    done
    SERVERS=("${keep[@]}")
fi
declare -A H2C_INST=([berth]=berth [h2o]=h2o [nginx]=nginx-tls)
declare -A H2C_OK=() H2S_OK=()

read -ra ports <<< "$(free_ports $((2 * ${#SERVERS[@]} + ${#TLS_SERVERS[@]} + 1)))"
i=0
for s in "${SERVERS[@]}"; do PORT[$s]=${ports[i]}; PORT[$s-idle]=${ports[i + 1]}; i=$((i + 2)); done
for s in "${TLS_SERVERS[@]}"; do PORT[$s-tls]=${ports[i]}; i=$((i + 1)); done
PORT[nginx-h2c]=${ports[i]}
PORT[h2c-berth]=${PORT[berth]:-} PORT[h2c-h2o]=${PORT[h2o]:-} PORT[h2c-nginx]=${PORT[nginx-h2c]}

# h2_check URL : 20 GETs with h2load over one connection; true if all succeed over h2
h2_check() {
    local out
    out=$(taskset -c "$CLIENT_CPU" h2load -n 20 -c 1 -m 1 "$1" 2>&1) || true
    [[ $out == *" 20 succeeded"* && ( $1 == http:* || $out == *"Application protocol: h2"* ) ]]
}

log "berth: $BERTH; temp dir $TMP; ulimit -n $NOFILE; DURATION=$DURATION ROUNDS=$ROUNDS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average: $LOAD_START"
RESULTS=$TMP/results.tsv; : > "$RESULTS"
# build_cannedb: canned.c made to send, byte for byte, berth's answer to /hello.txt (its head
# frozen at one Date), so that the ceiling of the pipelining row is also measured for the bytes
# berth must send; wrk's own parsing of a 7-field head is part of what it measures
build_cannedb() {
    "$PYTHON" - "${PORT[berth]}" "$CANNED_SRC" "$TMP/cannedb.c" <<'PYEOF'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
d = b""
while b"\r\n\r\n" not in d or len(d) < d.index(b"\r\n\r\n") + 4 + 14:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("berth closed before its whole answer")
    d += chunk
lit = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else "\\%03o" % b for b in d)
src, n = re.subn(r'#define RESP "[^\n]*', lambda m: '#define RESP "' + lit + '"', open(sys.argv[2]).read(), count=1)
if n != 1:
    sys.exit("no '#define RESP \"' line in " + sys.argv[2])
open(sys.argv[3], "w").write(src)
PYEOF
    cc -O2 -o "$TMP/cannedb" "$TMP/cannedb.c"
}
for s in "${SERVERS[@]}"; do
    [[ $s == cannedb ]] && { build_cannedb || die "cannot build canned with berth's answer"; }
    start_server "$s" "$s" "${PORT[$s]}"
    got=$(fetch "${PORT[$s]}" /hello.txt)
    log "$s on ${PORT[$s]} (pids ${SET[$s]}): /hello.txt → $got"
    [[ $got == "status=200 "*" body_bytes=14" ]] || die "$s does not serve /hello.txt correctly"
    ((ROW_PLAIN)) && echo -e "head\t$s\t${got#*head_bytes=}" | sed 's/ body_bytes=.*//' >> "$RESULTS"
    if [[ $s != canned* ]]; then
        for f in 4k.bin:4096 1m.bin:1048576; do
            got=$(fetch "${PORT[$s]}" "/${f%%:*}")
            [[ $got == "status=200 "*" body_bytes=${f##*:}" ]] || die "$s: /${f%%:*} → $got"
        done
    fi
    if ((ROW_ENC)) && enc_ok "$s"; then
        for f in 64k.js 64kp.js; do
            got=$(fetch_enc "${PORT[$s]}" "/$f")
            log "$s: /$f with Accept-Encoding: br, gzip → $got"
            [[ $got == "status=200 "* ]] || die "$s: /$f → $got"
            [[ $got == *" enc=none "* ]] && log "warning: $s sends /$f uncompressed"
            echo -e "enc\t$s\t$f\t${got#*enc=}" >> "$RESULTS"
        done
    fi
done

for s in "${TLS_SERVERS[@]}"; do
    start_server "$s-tls" "$s-tls" "${PORT[$s-tls]}"
    got=$(fetch_tls "${PORT[$s-tls]}" /hello.txt)
    log "$s-tls on ${PORT[$s-tls]} (pids ${SET[$s-tls]}): /hello.txt → $got"
    [[ $got == "status=200 "*" body_bytes=14 "* ]] || die "$s-tls does not serve /hello.txt over TLS correctly"
    echo -e "tls\t$s\t${got#*tls=}" >> "$RESULTS"
    for f in 4k.bin:4096 1m.bin:1048576; do
        got=$(fetch_tls "${PORT[$s-tls]}" "/${f%%:*}")
        [[ $got == "status=200 "*" body_bytes=${f##*:} "* ]] || die "$s-tls: /${f%%:*} → $got"
    done
    if ((ROW_H2)); then
        H2S_OK[$s]=0 H2C_OK[$s]=0
        if h2_check "https://127.0.0.1:${PORT[$s-tls]}/4k.bin"; then H2S_OK[$s]=1
        else log "warning: $s does not serve h2 over TLS; its h2 rows stay empty"; fi
        if h2_check "http://127.0.0.1:${PORT[h2c-$s]}/4k.bin"; then H2C_OK[$s]=1
        else log "warning: $s does not serve h2c with prior knowledge; its h2c rows stay empty"; fi
    fi
done

# ---------------------------------------------------------------- throughput scenarios
# name  conns  path  script-args
SCENARIOS=(
    "s14_50     50   /hello.txt -"
    "s14_1000   1000 /hello.txt -"
    "s4k_50     50   /4k.bin    -"
    "s1m_10     10   /1m.bin    -"
    "pipe16_50  50   /hello.txt 16"
)
canned_ok() { [[ $1 == s14_* || $1 == pipe* ]]; }
# the content-encoding rows: berth, nginx (gzip on, gzip_static on) and h2o (compress: ON,
# file.send-compressed: ON); lighttpd and canned as configured here compress nothing
ENC_SCENARIOS=(
    "e64k_50    50   /64k.js    -"
    "e64kp_50   50   /64kp.js   -"
)

# wrk_once SERVER SCENARIO ROUND CONNS PATH DEPTH SECONDS [INSTANCE]
# (an instance named *-tls is fetched over https)
wrk_once() {
    local s=$1 sc=$2 r=$3 c=$4 path=$5 depth=$6 secs=$7 inst=${8:-$1} out=$TMP/wrk/$1-$2-$3.out
    local scheme=http
    [[ $inst == *-tls ]] && scheme=https
    local -a script=(-s "$TMP/report.lua" "$scheme://127.0.0.1:${PORT[$inst]}$path")
    [[ $sc == e* ]] && script=(-H "Accept-Encoding: br, gzip" "${script[@]}")
    [[ $depth != - ]] && script=(-s "$BENCH/pipeline.lua" "$scheme://127.0.0.1:${PORT[$inst]}" -- "$depth" "$path")
    local t0 t1
    # shellcheck disable=SC2086
    t0=$(cpu_ticks ${SET[$inst]})
    run_bg taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"${secs}s" --timeout 5s "${script[@]}" > "$out" 2>&1
    # shellcheck disable=SC2086
    t1=$(cpu_ticks ${SET[$inst]})
    local line
    line=$(grep '^BENCH ' "$out" || true)
    if [[ -z $line ]]; then
        log "wrk failed against $s ($sc): $(tr '\n' ' ' < "$out")"
        return 0
    fi
    [[ $sc == warm ]] && return 0
    echo -e "run\t$s\t$sc\t$r\t$((t1 - t0))\t${line#BENCH }" >> "$RESULTS"
}

# h2load_once SERVER SCENARIO ROUND INSTANCE URL SECONDS : h2load -c 50 -m 10 for SECONDS
h2load_once() {
    local s=$1 sc=$2 r=$3 inst=$4 url=$5 secs=$6 out=$TMP/wrk/$1-$2-$3.out t0 t1
    # shellcheck disable=SC2086
    t0=$(cpu_ticks ${SET[$inst]})
    run_bg taskset -c "$CLIENT_CPU" h2load -t1 -c50 -m10 -D "$secs" "$url" > "$out" 2>&1
    # shellcheck disable=SC2086
    t1=$(cpu_ticks ${SET[$inst]})
    # "finished in 3.00s, 301340.00 req/s, 18.97MB/s" / "requests: N total, N started, N done,
    # N succeeded, N failed, N errored, N timeout" / "traffic: 37.94MB (39785030) total, ..."
    local fin req traffic
    fin=$(sed -n 's/^finished in \([0-9.]*\)\(m\?s\),.*/\1 \2/p' "$out")
    req=$(sed -n 's/^requests: [0-9]* total, [0-9]* started, [0-9]* done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/\1 \2 \3 \4/p' "$out")
    traffic=$(sed -n 's/^traffic: [^(]*(\([0-9]*\)) total.*/\1/p' "$out")
    if [[ -z $fin || -z $req ]]; then
        log "h2load failed against $s ($sc): $(tr '\n' ' ' < "$out" | tail -c 400)"
        return 0
    fi
    local ok failed errored timeout us
    read -r ok failed errored timeout <<< "$req"
    us=$(awk -v v="${fin% *}" -v u="${fin#* }" 'BEGIN { printf "%d", (u == "ms" ? v * 1000 : v * 1e6) }')
    echo -e "run\t$s\t$sc\t$r\t$((t1 - t0))\trequests=$ok bytes=${traffic:-0} duration_us=$us p99_us=0 p50_us=0 connect=0 read=$errored write=0 timeout=$timeout status=$failed" >> "$RESULTS"
}

# stime_once SERVER SCENARIO ROUND MODE SECONDS : openssl s_time -new|-reuse, one connection at a
# time, each a TLS handshake and one GET /hello.txt; the wall clock around it is the duration
stime_once() {
    local s=$1 sc=$2 r=$3 mode=$4 secs=$5 inst=$1-tls out=$TMP/wrk/$1-$2-$3.out t0 t1 w0 w1
    # shellcheck disable=SC2086
    t0=$(cpu_ticks ${SET[$inst]})
    w0=$(date +%s%N)
    run_bg taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:${PORT[$inst]}" "$mode" \
        -time "$secs" -www /hello.txt > "$out" 2>&1
    w1=$(date +%s%N)
    # shellcheck disable=SC2086
    t1=$(cpu_ticks ${SET[$inst]})
    # the last "N connections in T real seconds, B bytes read per connection" is the total
    local n bytes resumed
    n=$(sed -n 's/^\([0-9]*\) connections in [0-9]* real seconds.*/\1/p' "$out" | tail -1)
    bytes=$(sed -n 's/.* real seconds, \([0-9]*\) bytes read per connection.*/\1/p' "$out" | tail -1)
    if [[ -z $n ]]; then
        log "s_time failed against $s ($sc): $(tr '\n' ' ' < "$out" | tail -c 400)"
        return 0
    fi
    # s_time prints * for a full handshake and r for a resumed one
    resumed=$(grep -E '^[*r]+$' "$out" | tr -cd r | wc -c)
    echo -e "run\t$s\t$sc\t$r\t$((t1 - t0))\trequests=$n bytes=$((n * ${bytes:-0})) duration_us=$(((w1 - w0) / 1000)) p99_us=0 p50_us=0 connect=0 read=0 write=0 timeout=0 status=0 resumed=$resumed" >> "$RESULTS"
}

if ((ROW_PLAIN)); then
log "warm-up: 1 s per server"
for s in "${SERVERS[@]}"; do wrk_once "$s" warm 0 50 /hello.txt - 1; done

nsrv=${#SERVERS[@]}
for spec in "${SCENARIOS[@]}"; do
    read -r sc c path depth <<< "$spec"
    for r in $(seq "$ROUNDS"); do
        # rotate the order each round so no server always runs first or last
        for k in $(seq 0 $((nsrv - 1))); do
            s=${SERVERS[$(((k + r - 1) % nsrv))]}
            [[ $s == canned* ]] && ! canned_ok "$sc" && continue
            wrk_once "$s" "$sc" "$r" "$c" "$path" "$depth" "$DURATION"
        done
        log "$sc round $r/$ROUNDS done"
    done
done
fi

if ((ROW_ENC)); then
if ! ((ROW_PLAIN)); then
    log "warm-up: 1 s per server"
    for s in "${SERVERS[@]}"; do wrk_once "$s" warm 0 50 /hello.txt - 1; done
fi
nsrv=${#SERVERS[@]}
for spec in "${ENC_SCENARIOS[@]}"; do
    read -r sc c path depth <<< "$spec"
    for r in $(seq "$ROUNDS"); do
        for k in $(seq 0 $((nsrv - 1))); do
            s=${SERVERS[$(((k + r - 1) % nsrv))]}
            enc_ok "$s" || continue
            wrk_once "$s" "$sc" "$r" "$c" "$path" "$depth" "$DURATION"
        done
        log "$sc round $r/$ROUNDS done"
    done
done
fi

# ---------------------------------------------------------------- HTTPS and HTTP/2 scenarios
# name  kind  args — kind: wrk (conns path, over https), stime (-new|-reuse), h2c|h2s (path)
TLS_SCENARIOS=()
((ROW_TLS)) && TLS_SCENARIOS+=(
    "tls14_50   wrk   50 /hello.txt"
    "tls1m_10   wrk   10 /1m.bin"
    "hs_new     stime -new"
    "hs_reuse   stime -reuse"
)
((ROW_H2)) && TLS_SCENARIOS+=(
    "h2c14      h2c   /hello.txt"
    "h2c4k      h2c   /4k.bin"
    "h2s14      h2s   /hello.txt"
    "h2s4k      h2s   /4k.bin"
)
if ((${#TLS_SCENARIOS[@]})); then
    log "warm-up: 1 s per TLS server"
    for s in "${TLS_SERVERS[@]}"; do wrk_once "$s" warm 0 50 /hello.txt - 1 "$s-tls"; done
fi
ntls=${#TLS_SERVERS[@]}
for spec in "${TLS_SCENARIOS[@]}"; do
    read -r sc kind a1 a2 <<< "$spec"
    for r in $(seq "$ROUNDS"); do
        for k in $(seq 0 $((ntls - 1))); do
            s=${TLS_SERVERS[$(((k + r - 1) % ntls))]}
            case $kind in
            wrk)   wrk_once "$s" "$sc" "$r" "$a1" "$a2" - "$DURATION" "$s-tls" ;;
            stime) stime_once "$s" "$sc" "$r" "$a1" "$DURATION" ;;
            h2c)   ((H2C_OK[$s])) && h2load_once "$s" "$sc" "$r" "${H2C_INST[$s]}" \
                       "http://127.0.0.1:${PORT[h2c-$s]}$a1" "$DURATION" ;;
            h2s)   ((H2S_OK[$s])) && h2load_once "$s" "$sc" "$r" "$s-tls" \
                       "https://127.0.0.1:${PORT[$s-tls]}$a1" "$DURATION" ;;
            esac
        done
        log "$sc round $r/$ROUNDS done"
    done
done

# ---------------------------------------------------------------- syscalls per keep-alive request
# strace -f -c on the server's processes (all threads) while wrk -c$SYSCALL_CONNS runs for
# SYSCALL_SECONDS on /hello.txt; total syscalls / completed requests.
((ROW_PLAIN)) && for s in "${SERVERS[@]}"; do
    [[ $s == berth2 || $s == cannedb ]] && continue
    st=$TMP/strace-$s.txt
    args=()
    for p in ${SET[$s]}; do args+=(-p "$p"); done
    strace -f -c -o "$st" "${args[@]}" 2> "$TMP/strace-$s.err" &
    spid=$!
    PIDS+=("$spid")
    for i in $(seq 50); do grep -q attached "$TMP/strace-$s.err" 2>/dev/null && break; sleep 0.1; done
    sleep 0.3
    run_bg taskset -c "$CLIENT_CPU" wrk -t1 -c"$SYSCALL_CONNS" -d"${SYSCALL_SECONDS}s" --timeout 5s \
        -s "$TMP/report.lua" "http://127.0.0.1:${PORT[$s]}/hello.txt" > "$TMP/wrk/strace-$s.out" 2>&1
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    forget "$spid"
    reqs=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$TMP/wrk/strace-$s.out")
    calls=$(awk '$NF == "total" { print $4 }' "$st")
    echo -e "sys\t$s\t${calls:-0}\t${reqs:-0}" >> "$RESULTS"
    log "$s: ${calls:-?} syscalls for ${reqs:-?} requests"
done

# ---------------------------------------------------------------- memory per idle connection
# a fresh instance of each server; RSS (all its processes) before and after IDLE_CONNS
# keep-alive connections that each did one GET and then stay open.
((ROW_PLAIN)) && for s in "${SERVERS[@]}"; do
    [[ $s == berth2 || $s == cannedb ]] && continue
    start_server "$s" "$s-idle" "${PORT[$s-idle]}"
    fetch "${PORT[$s-idle]}" /hello.txt > /dev/null
    sleep 0.2
    pidargs=()
    for p in ${SET[$s-idle]}; do pidargs+=(--pid "$p"); done
    run_bg taskset -c "$CLIENT_CPU" "$PYTHON" "$BENCH/idle_conns.py" "${PORT[$s-idle]}" -n "$IDLE_CONNS" \
        "${pidargs[@]}" > "$TMP/idle.out" 2>&1
    line=$(grep '^IDLE ' "$TMP/idle.out" || true)
    log "$s: ${line:-$(tr '\n' ' ' < "$TMP/idle.out")}"
    [[ -n $line ]] && echo -e "idle\t$s\t${line#IDLE }" >> "$RESULTS"
    stop_server "$s-idle"
done

# ---------------------------------------------------------------- the table
mkdir -p "$OUT_DIR"
stamp=$(date -u +%Y-%m-%d-%H%M)
md=$OUT_DIR/http-$stamp.md
{
    echo "# berth serve vs the field — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs," \
         "Linux $(uname -r); load average at start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "berth $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')," \
         "$(nginx -v 2>&1 | sed 's/.*: //'), lighttpd $(lighttpd -v | sed 's/lighttpd\/\([^ ]*\).*/\1/'), h2o $(h2o --version | sed -n 's/h2o version //p'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
    echo "Each server pinned to CPU $SERVER_CPU (berth ×2: CPUs $SERVER_CPU,$CLIENT_CPU), wrk -t1 on CPU $CLIENT_CPU; median of $ROUNDS × ${DURATION} s."
    echo
    cols=()
    for s in berth berth2 canned cannedb nginx lighttpd h2o; do
        [[ " ${SERVERS[*]} ${TLS_SERVERS[*]} " == *" $s "* ]] && cols+=("$s")
    done
    "$PYTHON" - "$RESULTS" "$(getconf CLK_TCK)" "${cols[*]}" "$IDLE_CONNS" "$SYSCALL_CONNS" <<'EOF'
import statistics, sys
from collections import defaultdict

path, tck, servers, idle_n, sys_conns = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4], sys.argv[5]
runs = defaultdict(list)
head, sysc, idle, tls = {}, {}, {}, {}
encs = defaultdict(dict)
errors = []
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[0] == "head":
        head[f[1]] = int(f[2])
    elif f[0] == "run":
        s, sc, r, ticks = f[1], f[2], int(f[3]), int(f[4])
        kv = dict(x.split("=") for x in f[5].split())
        kv = {k: int(v) for k, v in kv.items()}
        bad = {k: kv[k] for k in ("connect", "read", "write", "timeout", "status") if kv[k]}
        if bad:
            errors.append(f"{s} {sc} round {r}: " + ", ".join(f"{v} {k}" for k, v in bad.items()))
        secs = kv["duration_us"] / 1e6
        runs[s, sc].append({
            "round": r,
            "rps": kv["requests"] / secs,
            "mibs": kv["bytes"] / secs / 1048576,
            # wrk records one latency per pipelined batch and its coordinated-omission
            # correction assumes one response per request: under pipelining (and whenever
            # the correction leaves the histogram unusable, p99 = 0) there is no p99
            "p99": None if sc.startswith("pipe") or not kv["p99_us"] else kv["p99_us"] / 1000,
            "cpu": ticks / tck * 1e6 / kv["requests"] if kv["requests"] else float("nan"),
            "n": kv["requests"], "resumed": kv.get("resumed"),
        })
    elif f[0] == "tls":
        tls[f[1]] = f[2]
    elif f[0] == "enc":
        encs[f[2]][f[1]] = f[3].replace(" body_bytes=", " ") + " B"
    elif f[0] == "sys":
        calls, reqs = int(f[2]), int(f[3])
        sysc[f[1]] = calls / reqs if reqs else None
    elif f[0] == "idle":
        kv = dict(x.split("=") for x in f[2].split())
        idle[f[1]] = (float(kv["per_conn_kib"]), int(kv["held"]))

def med(s, sc, key):
    v = [x[key] for x in runs.get((s, sc), []) if x[key] is not None]
    return statistics.median(v) if v else None

def fmt_k(v):
    if v is None: return "—"
    return f"{v/1000:,.0f}k" if v >= 100000 else f"{v/1000:.1f}k" if v >= 1000 else f"{v:.0f}"
def fmt_int(v): return "—" if v is None else f"{v:,.0f}"
def fmt2(v):   return "—" if v is None else f"{v:.2f}"
def fmt_pct(v): return "—" if v is None else f"{v:.0f}"

def busy(s, sc):
    """the share of its CPU the server used: requests/s × CPU per request
    (berth ×2 over its two CPUs); far below 100 the client is the limit"""
    r, c = med(s, sc, "rps"), med(s, sc, "cpu")
    if r is None or c is None or c != c:
        return None
    return r * c / 1e4 / (2 if s == "berth2" else 1)

cols = servers
others = [s for s in ("canned", "cannedb", "nginx", "lighttpd", "h2o") if s in servers]
label = {"berth": "berth", "berth2": "berth ×2 ¹", "canned": "canned", "cannedb": "canned, berth's bytes ⁸", "nginx": "nginx",
         "lighttpd": "lighttpd", "h2o": "h2o"}
print("| " + " | ".join(["scenario"] + [label[s] for s in cols] + [f"berth/{o}" for o in others]) + " |")
print("|---|" + "---:|" * (len(cols) + len(others)))

def row(name, vals, fmt, ratio=True):
    cells = [fmt(vals.get(s)) for s in cols]
    rs = []
    for o in others:
        b, x = vals.get("berth"), vals.get(o)
        rs.append(f"{b / x:.2f}" if ratio and b is not None and x else "—")
    print("| " + " | ".join([name] + cells + rs) + " |")

scen = [("s14_50", "14 B file, 50 conns"), ("s14_1000", "14 B file, 1000 conns"),
        ("s4k_50", "4 KiB file, 50 conns"), ("s1m_10", "1 MiB file, 10 conns"),
        ("pipe16_50", "14 B file, 16-deep pipelining, 50 conns ⁴"),
        ("e64k_50", "64 KiB text, Accept-Encoding: br, gzip, compressed by the server ⁷"),
        ("e64kp_50", "64 KiB text, Accept-Encoding: br, gzip, .br/.gz sidecars ⁷")]
# the HTTPS and HTTP/2 rows: (scenario, name, unit of the first line, p99 line?, per what)
tscen = [("tls14_50", "HTTPS 14 B file, 50 conns (wrk)", "req/s", True, "request"),
         ("tls1m_10", "HTTPS 1 MiB file, 10 conns (wrk)", "MiB/s", True, "request"),
         ("hs_new", "new TLS connection per request, full handshake ⁵", "handshakes/s", False, "handshake"),
         ("hs_reuse", "new TLS connection per request, resumed ⁵", "handshakes/s", False, "handshake"),
         ("h2c14", "h2c 14 B file, h2load -c 50 -m 10 ⁶", "req/s", False, "request"),
         ("h2c4k", "h2c 4 KiB file, h2load -c 50 -m 10 ⁶", "req/s", False, "request"),
         ("h2s14", "h2 over TLS 14 B file, h2load -c 50 -m 10 ⁶", "req/s", False, "request"),
         ("h2s4k", "h2 over TLS 4 KiB file, h2load -c 50 -m 10 ⁶", "req/s", False, "request")]
ran = lambda sc: any(k[1] == sc for k in runs)
for sc, name in scen:
    if not ran(sc):
        continue
    if sc == "s1m_10":
        row(f"{name}, MiB/s", {s: med(s, sc, "mibs") for s in cols}, fmt_int)
    else:
        row(f"{name}, req/s", {s: med(s, sc, "rps") for s in cols}, fmt_k)
    row("&nbsp;&nbsp;p99 latency, ms", {s: med(s, sc, "p99") for s in cols}, fmt2)
    row("&nbsp;&nbsp;server CPU, µs/request", {s: med(s, sc, "cpu") for s in cols}, fmt2)
    if sc.startswith("pipe"):
        row("&nbsp;&nbsp;server's core busy, % ⁹", {s: busy(s, sc) for s in cols}, fmt_pct, ratio=False)
for sc, name, unit, p99, per in tscen:
    if not ran(sc):
        continue
    if unit == "MiB/s":
        row(f"{name}, MiB/s", {s: med(s, sc, "mibs") for s in cols}, fmt_int)
    else:
        row(f"{name}, {unit}", {s: med(s, sc, "rps") for s in cols}, fmt_k)
    if p99:
        row("&nbsp;&nbsp;p99 latency, ms", {s: med(s, sc, "p99") for s in cols}, fmt2)
    row(f"&nbsp;&nbsp;server CPU, µs/{per}", {s: med(s, sc, "cpu") for s in cols}, fmt2)
scen += [(sc, name) for sc, name, _, _, _ in tscen]
if head:
    row("response bytes, 14 B file (head + body)", {s: head[s] + 14 for s in head}, fmt_int)
if sysc:
    row(f"syscalls per keep-alive request ²", sysc, fmt2)
def fmt_idle(v): return "—" if v is None else f"{v:.2f}"
if idle:
    row(f"KiB per idle keep-alive connection ({int(idle_n):,} held) ³", {s: v[0] for s, v in idle.items()}, fmt_idle)
print()
print("¹ berth --workers 2 on CPUs 0 and 1, sharing CPU 1 with wrk: the single wrk thread is the limit, "
      "so this shows scaling headroom, not a fair comparison; its CPU/request sums both threads.  ")
print(f"² strace -f -c on all the server's processes while wrk -t1 -c{sys_conns} runs on the 14 B file; "
      "total syscalls / requests completed.  ")
print("³ (RSS of all the server's processes with the connections held − RSS before) / connections held; "
      "each connection did one GET and stays open. Ratios berth/x: above 1 is better for req/s and MiB/s, "
      "below 1 is better for latency, CPU, syscalls and memory.  ")
print("⁴ wrk -s bench/pipeline.lua: each write carries 16 requests. wrk times only whole batches and "
      "its latency correction assumes one response per request, so no p99 is given here.  ")
print("⁵ openssl s_time -new (every connection a full handshake) or -reuse (every connection after the "
      "first resumes the session), -www /hello.txt: one connection at a time, each a TCP connect, a TLS "
      "handshake and one HTTP/1.0 GET; handshakes/s = connections / wall time, CPU per connection.  ")
print("⁶ h2load -t1 -c50 -m10 -D DURATION: 50 connections, 10 streams each; h2c with prior knowledge "
      "(nginx on a port of its own, `listen … http2`), h2 over TLS by ALPN.  ")
print("⁷ wrk -H 'Accept-Encoding: br, gzip', 50 conns, a 64 KiB HTML/JS file. Compressed by the server "
      "(64k.js, no sidecar): berth compresses once per file version and serves from its compressed "
      "cache; nginx `gzip on` (level 1, as shipped) and h2o `compress: ON` compress every response. "
      "Sidecars (64kp.js with .br from brotli -q 11 and .gz from gzip -9): berth and h2o "
      "(`file.send-compressed: ON`) send the .br, nginx (`gzip_static on`; no brotli module) the .gz."
      + ("  \nCodings sent (and body bytes): " + "; ".join(
          f"{f}: " + ", ".join(f"{s} {e}" for s, e in v.items()) for f, v in encs.items())
         if encs else ""))
if "cannedb" in cols:
    print("⁸ canned.c with its one answer replaced by berth's own answer to /hello.txt, byte for byte "
          "(its head, Date frozen, 7 fields): the ceiling for the bytes berth sends, since wrk parses "
          "every answer's head on the same two cores. Run on the 14 B and pipelining rows only.  ")
if ran("pipe16_50"):
    print("⁹ req/s × server CPU per request: the share of its own CPU the server used. Well below 100 "
          "the server waited for wrk, whose one thread on the other CPU parses every answer: req/s then "
          "follows the answer's length (compare canned with canned sending berth's bytes), and the "
          "server's CPU per request is the fair comparison.  ")
if tls:
    print()
    print("TLS negotiated (Python ssl, OpenSSL's default client offer, as wrk, h2load and s_time make): "
          + "; ".join(f"{s} {v}" for s, v in tls.items())
          + ". Same ECDSA P-256 certificate for all.")
res = []
for s in cols:
    v = runs.get((s, "hs_reuse"), [])
    if v:
        n, rr = sum(x["n"] for x in v), sum(x["resumed"] or 0 for x in v)
        res.append(f"{s} {rr:,} of {n:,}")
if res:
    print()
    print("Resumed handshakes in the resumed row (s_time's r marks): " + "; ".join(res) + ".")
short = [f"{s}: {v[1]:,} held" for s, v in idle.items() if v[1] < int(idle_n)]
if short:
    print()
    print("Not all idle connections held: " + "; ".join(short) + ".")
if errors:
    print()
    print("wrk errors: " + "; ".join(errors) + ".")

# every round, to show the noise the medians smooth over
print()
print("Every round (req/s, handshakes/s; MiB/s for 1 MiB), in round order:")
print()
print("| " + " | ".join(["scenario"] + [label[s] for s in cols]) + " |")
print("|---|" + "---:|" * len(cols))
for sc, name in scen:
    if not ran(sc):
        continue
    key, fmt = ("mibs", fmt_int) if sc in ("s1m_10", "tls1m_10") else ("rps", fmt_k)
    cells = []
    for s in cols:
        v = sorted(runs.get((s, sc), []), key=lambda x: x["round"])
        cells.append(" / ".join(fmt(x[key]) for x in v) if v else "—")
    print("| " + " | ".join([name] + cells) + " |")
EOF
} > "$md.tmp"
mv "$md.tmp" "$md"
if [[ -f $TMP/strace-berth.txt ]]; then
    {
        echo
        echo "berth's syscalls under strace -c (top 8):"
        echo
        echo '```'
        sed -n '1,2p' "$TMP/strace-berth.txt"
        sed -n '3,$p' "$TMP/strace-berth.txt" | grep -v -e '^-' -e total | head -8
        echo '```'
    } >> "$md"
fi
echo
cat "$md"
log "written to $md"
