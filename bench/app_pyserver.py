#!/usr/bin/env python3
"""A Python server for bench/app.sh that behaves like the Real Python
reference application server (selectors, non-blocking sockets, recv(4096),
the same JSON encoding and answers), written for the benchmark.

Differences from the published reference, each so it can be measured at all:
  - it keeps parsing while whole parts are buffered, so a request that arrives
    in one recv is answered (the reference waits for another readable event
    and hangs);
  - it prints nothing per message (the reference prints every request and
    response, which would only make it slower);
  - with --keepalive it answers further requests on the same connection in
    order instead of closing after the first response.

usage: app_pyserver.py HOST PORT [--keepalive]   (PORT 0 picks a free one;
prints "listening on HOST:PORT")"""
import json
import selectors
import socket
import struct
import sys

ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def message(content, content_type, encoding):
    header = json.dumps({"byteorder": sys.byteorder, "content-type": content_type,
                         "content-encoding": encoding, "content-length": len(content)},
                        ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(header)) + header + content


def answer(header, content):
    if header["content-type"] == "text/json":
        request = json.loads(content.decode(header["content-encoding"]))
        action = request.get("action")
        if action == "search":
            value = request.get("value")
            result = ANSWERS.get(value) or f"No match for '{value}'."
        else:
            result = f"Error: invalid action '{action}'."
        body = json.dumps({"result": result}, ensure_ascii=False).encode("utf-8")
        return message(body, "text/json", "utf-8")
    return message(b"First 10 bytes of request: " + content[:10],
                   "binary/custom-server-binary-type", "binary")


class Conn:
    def __init__(self, sel, sock, keepalive):
        self.sel, self.sock, self.keepalive = sel, sock, keepalive
        self.rbuf = b""
        self.wbuf = b""
        self.header = None
        self.hlen = None
        self.done = False  # one response made (reference mode)

    def close(self):
        self.sel.unregister(self.sock)
        self.sock.close()

    def on_read(self):
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        except ConnectionError:
            return self.close()
        if not data:
            return self.close()
        self.rbuf += data
        while not self.done:
            if self.hlen is None:
                if len(self.rbuf) < 2:
                    break
                self.hlen = struct.unpack(">H", self.rbuf[:2])[0]
                self.rbuf = self.rbuf[2:]
            if self.header is None:
                if len(self.rbuf) < self.hlen:
                    break
                self.header = json.loads(self.rbuf[:self.hlen].decode("utf-8"))
                self.rbuf = self.rbuf[self.hlen:]
            n = self.header["content-length"]
            if len(self.rbuf) < n:
                break
            self.wbuf += answer(self.header, self.rbuf[:n])
            self.rbuf = self.rbuf[n:]
            self.header = self.hlen = None
            if not self.keepalive:
                self.done = True
        if self.wbuf:
            self.on_write()

    def on_write(self):
        try:
            sent = self.sock.send(self.wbuf)
        except BlockingIOError:
            sent = 0
        except ConnectionError:
            return self.close()
        self.wbuf = self.wbuf[sent:]
        if self.wbuf:
            self.sel.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)
        elif self.done:
            self.close()  # the reference closes once its one response is sent
        else:
            self.sel.modify(self.sock, selectors.EVENT_READ, self)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keepalive = "--keepalive" in sys.argv
    host, port = args[0], int(args[1])
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(1024)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    print("listening on %s:%d" % lsock.getsockname(), flush=True)
    try:
        while True:
            for key, mask in sel.select():
                if key.data is None:
                    try:
                        conn, _ = lsock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, Conn(sel, conn, keepalive))
                    continue
                c = key.data
                if mask & selectors.EVENT_READ:
                    c.on_read()
                if mask & selectors.EVENT_WRITE and c.sock.fileno() >= 0:
                    c.on_write()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
