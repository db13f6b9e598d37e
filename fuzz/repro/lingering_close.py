#!/usr/bin/env python3
"""Reproducer (found by fuzz_http_conn): responses are lost when berth closes
a connection that still has unread input.

A client pipelines GET /big.bin (1 MiB), a malformed request, and - a moment
later, while the server is busy sending the file - one more request.  The
server answers the GET, then 400 with Connection: close, and close()s the
socket with the last request still unread in its receive buffer.  Linux
then sends RST instead of FIN and throws away whatever of the response is
still in the send buffer: the client gets ECONNRESET and a truncated body
instead of the whole file and the 400.  RFC 9112 section 9.6: close in
stages - shutdown(SHUT_WR), then keep reading (and discarding) for a while
until the client closes - so the responses already sent arrive.

Usage: python3 fuzz/repro/lingering_close.py [build/berth]
Exit 0 when every byte arrived, 1 when the answer was cut short.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

BERTH = sys.argv[1] if len(sys.argv) > 1 else "build/berth"
SIZE = 1 << 20

with tempfile.TemporaryDirectory() as root:
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(b"0123456789abcdef" * (SIZE // 16))
    srv = subprocess.Popen([BERTH, "serve", "0", "-b", "127.0.0.1", "-d", root, "-q",
                            "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        port = None
        deadline = time.time() + 10
        while port is None and time.time() < deadline:
            m = re.search(rb"port (\d+)|:(\d+)", srv.stdout.readline())
            if m:
                port = int(m.group(1) or m.group(2))
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n")
        time.sleep(0.2)  # the server is now waiting for us to read the file
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")  # stays unread
        got = b""
        err = None
        c.settimeout(10)
        while True:
            try:
                b = c.recv(4096)
            except ConnectionResetError as e:
                err = e
                break
            if not b:
                break
            got += b
            time.sleep(0.0005)  # a slow reader
        head_end = got.find(b"\r\n\r\n") + 4
        body = got[head_end:head_end + SIZE]
        whole = len(body) == SIZE and b"HTTP/1.1 400 " in got[head_end + SIZE:]
        print("received %d bytes%s; file %s, 400 %s" % (
            len(got), " then " + repr(err) if err else "",
            "whole" if len(body) == SIZE else "CUT at %d of %d" % (len(body), SIZE),
            "received" if b"HTTP/1.1 400 " in got[head_end:] else "LOST"))
        sys.exit(0 if whole else 1)
    finally:
        srv.terminate()
        srv.wait()
