#!/bin/sh
# bench/upload.sh — request-body upload speed (MiB/s) of berth's streamed
# bodies (API v2: a route whose on_body counts the bytes, nothing kept)
# against nginx reading and discarding the same bodies, in one run, on
# 127.0.0.1, one connection at a time.
#
# nginx: `location /upload { return 204; }` — nginx reads a body it does not
# need and throws it away (ngx_http_discard_request_body) so the connection
# stays usable: that is the same work as counting, with no disk and no
# proxy.  (client_body_buffer_size only matters when a module keeps the
# body; with `return` nothing is buffered, as with berth's on_body.)  Note
# that nginx discards with 4 KiB reads (NGX_HTTP_DISCARD_BUFFER_SIZE) where
# berth reads 64 KiB at a time: the gap is mostly that, not the parsing.
#
#   SIZE_MIB=1024 REPS=3 sh bench/upload.sh
#
# Each row: MiB/s over REPS uploads of SIZE_MIB (Content-Length, sent from
# one zero-filled buffer by a Python client), and the server's CPU seconds
# per GiB (from /proc, so a loaded machine moves it less than MiB/s).
set -eu
cd "$(dirname "$0")/.."
LIB=${LIB:-build/libberth.a}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

[ -f "$LIB" ] || { echo "bench/upload.sh: $LIB not built (make)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cat >"$tmp/count.c" <<'END_OF_C'
/* POST /upload: the body streamed to on_body, counted, answered 204. */
#include <berth.h>
#include <stdio.h>
#include <stdlib.h>

static void on_body(berth_req *req, const void *data, size_t len, int end, void *arg)
{
    (void)data;
    (void)arg;
    unsigned long long *n = berth_req_user(req);
    *n += len;
    if (end) {
        free(n);
        berth_respond(req, 204, NULL, NULL, 0);
    }
}

static void upload(berth_req *req, void *arg)
{
    (void)arg;
    berth_req_set_user(req, calloc(1, sizeof(unsigned long long)));
}

int main(int argc, char **argv)
{
    struct berth_opts o;
    berth_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = atoi(argv[1]);
    o.workers = 1;
    o.quiet = 1;
    struct berth_route_opts ro = {.on_body = on_body};
    berth_server *s;
    if (berth_server_new(&s, &o) < 0 || berth_route_opts(s, "POST", "/upload", 0, upload, NULL, &ro) < 0 ||
        berth_server_listen(s) < 0)
        return 1;
    berth_server_run(s);
    berth_server_free(s);
    return 0;
}
END_OF_C
"$CC" -O2 -Iinclude -o "$tmp/count" "$tmp/count.c" "$LIB" -ljansson -lssl -lcrypto -lnghttp2 -lpthread

cat >"$tmp/client.py" <<'END_OF_PY'
import socket, sys, time
port, size, reps = int(sys.argv[1]), int(sys.argv[2]) << 20, int(sys.argv[3])
buf = bytes(1 << 20)
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
s = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic()
for _ in range(reps):
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    left = size
    while left:
        n = s.send(buf if left >= len(buf) else buf[:left])
        left -= n
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 204"), head
dt = time.monotonic() - t0
print("%.0f" % (size * reps / dt / (1 << 20)))
END_OF_PY

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

row() { # name pid port
    c0=$(cpu "$2")
    mibs=$("$PYTHON" "$tmp/client.py" "$3" "$SIZE_MIB" "$REPS")
    c1=$(cpu "$2")
    awk -v n="$1" -v m="$mibs" -v c="$((c1 - c0))" -v t="$tck" -v g="$((SIZE_MIB * REPS))" \
        'BEGIN { printf "%-8s %8s MiB/s  %6.2f CPU s/GiB\n", n, m, c / t / (g / 1024) }'
}

port=$((20000 + $$ % 20000))
"$tmp/count" "$port" & pids="$pids $!"
berth_pid=$!
row berth "$berth_pid" "$port"

if [ -x "$NGINX" ]; then
    nport=$((port + 1))
    mkdir -p "$tmp/ng/logs"
    cat >"$tmp/ng/nginx.conf" <<END_OF_CONF
worker_processes 1;
daemon off;
error_log $tmp/ng/logs/error.log;
pid $tmp/ng/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    client_body_temp_path $tmp/ng;
    server {
        listen 127.0.0.1:$nport;
        location /upload { return 204; }
    }
}
END_OF_CONF
    "$NGINX" -p "$tmp/ng" -c "$tmp/ng/nginx.conf" 2>/dev/null & pids="$pids $!"
    sleep 0.5
    worker=$(pgrep -P "$(cat "$tmp/ng/nginx.pid" 2>/dev/null || echo 0)" | head -1)
    row nginx "${worker:-$!}" "$nport"
else
    echo "nginx     (not installed)"
fi
