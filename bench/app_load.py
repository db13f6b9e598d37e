#!/usr/bin/env python3
"""Load client for bench/app.sh: C concurrent clients, each sending R search
requests one after another (send, wait for the whole response, send the
next), N requests per connection (1 = connect per request, as the reference
client does).  Clients are spread over P processes, each a selectors loop.
Every response is checked (framing, header, a "result" answer).

usage: app_load.py PORT [--clients 100] [--requests 1000] [--per-conn 1000]
                        [--procs 2] [--seconds 30]
Prints one JSON line: {"requests": n, "errors": e, "seconds": s, "rps": r};
stops early at --seconds (then the count is what was done by then)."""
import argparse
import json
import multiprocessing
import selectors
import socket
import struct
import sys
import time

VALUES = ["morpheus", "ring", "\U0001f436", "neo"]


def request(value):
    content = json.dumps({"action": "search", "value": value}, ensure_ascii=False).encode()
    header = json.dumps({"byteorder": sys.byteorder, "content-type": "text/json",
                         "content-encoding": "utf-8", "content-length": len(content)},
                        ensure_ascii=False).encode()
    return struct.pack(">H", len(header)) + header + content


REQUESTS = [request(v) for v in VALUES]


class Client:
    def __init__(self, i, port, total, per_conn):
        self.i, self.port, self.left, self.per_conn = i, port, total, per_conn
        self.sock = None
        self.on_conn = 0
        self.rbuf = b""

    def open(self, sel):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        self.sock, self.on_conn, self.rbuf = s, 0, b""
        sel.register(s, selectors.EVENT_READ, self)

    def close(self, sel):
        # a reset instead of a FIN: otherwise every connection the client
        # closes first (berth keeps connections open; the reference closes
        # them itself) leaves a TIME_WAIT on the client's ports and slows its
        # connect(), which would measure the kernel rather than the server
        sel.unregister(self.sock)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def send(self):
        self.sock.sendall(REQUESTS[(self.i + self.left) % len(REQUESTS)])

    def response(self):
        """A whole response at the front of rbuf: consume it and return 1
        (0 = need more); raises on a malformed one."""
        if len(self.rbuf) < 2:
            return 0
        hlen = struct.unpack(">H", self.rbuf[:2])[0]
        if len(self.rbuf) < 2 + hlen:
            return 0
        header = json.loads(self.rbuf[2:2 + hlen])
        end = 2 + hlen + header["content-length"]
        if len(self.rbuf) < end:
            return 0
        if not isinstance(json.loads(self.rbuf[2 + hlen:end]).get("result"), str):
            raise ValueError("unexpected response %r" % self.rbuf[:end])
        self.rbuf = self.rbuf[end:]
        return 1


def worker(port, ids, total, per_conn, seconds, start_evt, out):
    sel = selectors.DefaultSelector()
    clients = [Client(i, port, total, per_conn) for i in ids]
    done = errors = 0
    start_evt.wait()
    deadline = time.monotonic() + seconds
    active = 0
    for c in clients:
        c.open(sel)
        c.send()
        active += 1
    while active and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            c.rbuf += data
            try:
                got = c.response()
            except (ValueError, KeyError) as e:  # a wrong answer: count, drop the client
                print("app_load: %s" % e, file=sys.stderr)
                got, data = 0, b""
                errors += 1
            if not got and not data:
                c.close(sel)
                errors += c.left > 0
                c.left = 0
                active -= 1
                continue
            if not got:
                continue
            done += 1
            c.left -= 1
            c.on_conn += 1
            if c.left == 0:
                c.close(sel)
                active -= 1
            elif c.on_conn >= c.per_conn:
                c.close(sel)
                c.open(sel)
                c.send()
            else:
                c.send()
    out.send((done, errors))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--per-conn", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs, pipes = [], []
    for p in range(a.procs):
        r, w = ctx.Pipe(False)
        ids = list(range(p, a.clients, a.procs))
        pr = ctx.Process(target=worker, args=(a.port, ids, a.requests, a.per_conn, a.seconds,
                                              start, w))
        pr.start()
        procs.append(pr)
        pipes.append(r)
    time.sleep(0.2)
    t0 = time.monotonic()
    start.set()
    done = errors = 0
    for r in pipes:
        d, e = r.recv()
        done += d
        errors += e
    elapsed = time.monotonic() - t0
    for pr in procs:
        pr.join()
    print(json.dumps({"requests": done, "errors": errors, "seconds": round(elapsed, 3),
                      "rps": round(done / elapsed, 1)}))


if __name__ == "__main__":
    main()
