#!/usr/bin/env python3
"""Hold N idle keep-alive connections to a server and report its memory per connection.

    idle_conns.py PORT --pid PID [--pid PID ...] [-n 10000] [--path /hello.txt] [--host 127.0.0.1]

Measures the resident memory (VmRSS) of the given processes and of all their descendants,
opens N connections, sends one keep-alive GET on each and reads the whole response, leaves
every connection open, waits until the server settles, measures again, and prints one line

    IDLE held=N before_kib=B after_kib=A per_conn_kib=X

then closes every connection with a reset (SO_LINGER 0, so no TIME_WAIT is left behind).
A connection the server closes early counts as not held; held < N means the server could
not hold them all.
"""
import argparse
import os
import resource
import selectors
import socket
import struct
import sys
import time


def descendants(pids):
    """pids plus every process whose parent chain leads to one of them."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        parent[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    out, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def rss_kib(pids):
    total = 0
    for p in descendants(pids):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def complete(buf):
    """True once buf holds a whole response (head + Content-Length body)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= end + 4 + length


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--pid", type=int, action="append", required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--path", default="/hello.txt")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--batch", type=int, default=200, help="connections in flight at once")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait before measuring")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 100
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
        except (ValueError, OSError):
            sys.exit(f"idle_conns: need {want} file descriptors, have {soft} (raise ulimit -n)")

    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n").encode()
    before = rss_kib(a.pid)

    socks, failed = [], 0
    sel = selectors.DefaultSelector()
    linger = struct.pack("ii", 1, 0)
    i = 0
    while i < a.n:
        # open a batch, send one request on each, read every response fully
        batch = []
        for _ in range(min(a.batch, a.n - i)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                s.settimeout(10)
                s.connect((a.host, a.port))
                s.sendall(request)
                s.setblocking(False)
            except OSError:
                s.close()
                failed += 1
                continue
            batch.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
        i += a.batch
        pending = len(batch)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s, buf = key.fileobj, key.data
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(s)
                    s.close()
                    failed += 1
                    pending -= 1
                    continue
                buf += chunk
                if complete(buf):
                    sel.unregister(s)
                    socks.append(s)
                    pending -= 1
        for key in list(sel.get_map().values()):
            sel.unregister(key.fileobj)
            key.fileobj.close()
            failed += 1

    time.sleep(a.settle)
    # a connection the server dropped while we waited reads as EOF now
    held = 0
    for s in socks:
        try:
            held += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    after = rss_kib(a.pid)
    per = (after - before) / held if held else float("nan")
    print(f"IDLE held={held} before_kib={before} after_kib={after} per_conn_kib={per:.3f} failed={failed}",
          flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
