"""WebSocket (issue 12): `berth echo-server --ws` against real peers — Python's
`websockets` (asyncio; Debian's 10.4 has no sync client) and raw sockets for
the protocol's edge cases: masking, control frames, reserved bits and
opcodes, fragments, UTF-8, close codes, limits, permessage-deflate in both
context-takeover modes, bad handshakes, every byte sent on its own, many
connections at once, the drain's 1001.  `berth echo --ws` against the
echo server over ws:// and wss:// and against a Python websockets server;
headless Chromium (driven over its DevTools WebSocket) with two pages of
examples/chat and a Python client in one room, over ws:// and wss://."""
import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import zlib

import pytest
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from conftest import BERTH as BERTH_EXE, BUILD, STATIC_LIBS, Server, run_berth as run_bytes

CHAT = os.path.join(BUILD, "examples", "chat")
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
MASK = b"\x11\x22\x33\x44"


def run_berth(*args):
    p = run_bytes(*args, timeout=60)
    p.stdout, p.stderr = p.stdout.decode(), p.stderr.decode()
    return p


def start_echo(server, *extra):
    return server("echo-server", "--ws", "-p", "0", *extra)


@pytest.fixture
def echo(server):
    return start_echo(server)


# ---- raw sockets ----

def frame(op, payload=b"", fin=True, rsv=0, mask=MASK, length=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        h += mask
    return h + payload


class Raw:
    """A WebSocket client made of a socket: the handshake, frames out, frames in."""

    def __init__(self, port, headers=b"", path=b"/"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + b"\r\n"
                       b"Sec-WebSocket-Version: 13\r\n" + headers + b"\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            assert d, self.buf
            self.buf += d
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert self.head.startswith(b"HTTP/1.1 101 "), self.head

    def send(self, data):
        self.s.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("closed with %r buffered" % self.buf)
            self.buf += d

    def read(self):
        """(fin, rsv, op, payload) of the next frame; server frames are never masked."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a server frame was masked"
        n, k = b1 & 127, 2
        if n == 126:
            self._need(4)
            n, k = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, k = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(k + n)
        p = self.buf[k:k + n]
        self.buf = self.buf[k + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 15, p

    def expect_close(self, code):
        """Reads to the close frame: its code; then the server closes TCP."""
        while True:
            fin, rsv, op, p = self.read()
            if op == 8:
                break
        got = struct.unpack(">H", p[:2])[0] if p else None
        assert got == code, (got, p)
        self.s.settimeout(10)
        assert self.s.recv(100) == b"", "the server must close TCP after the close handshake"
        return p[2:]

    def close(self):
        self.s.close()


def test_echo_text_and_binary_with_websockets(echo):
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/any/path" % echo.port) as ws:
            await ws.send("héllo wörld")
            assert await ws.recv() == "héllo wörld"
            await ws.send(b"\x00\xff\x80binary")
            got = await ws.recv()
            assert isinstance(got, bytes) and got == b"\x00\xff\x80binary"
            await ws.send("")
            assert await ws.recv() == ""
            await ws.close()
            assert ws.close_code == 1000
    asyncio.run(go())
    assert echo.wait_for(r"127\.0\.0\.1: 3 messages, \d+ bytes in, closed: 1000")


def test_large_fragmented_messages(echo):
    big = os.urandom(3 << 20)
    text = "κόσμε" * 200000

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/" % echo.port, max_size=None,
                                      compression=None) as ws:
            await ws.send([big[i:i + 65536] for i in range(0, len(big), 65536)])
            assert await ws.recv() == big
            await ws.send([text[i:i + 999] for i in range(0, len(text), 999)])
            assert await ws.recv() == text
    asyncio.run(go())


def test_message_of_exactly_the_limit_and_one_byte_more(echo):
    limit = 16 << 20                                  # max_message's default

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/" % echo.port, max_size=None,
                                      compression=None) as ws:
            big = os.urandom(limit)
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send(big + b"!")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1009
    asyncio.run(go())


def test_fragments_with_control_frames_between(echo):
    r = Raw(echo.port)
    r.send(frame(1, b"Hel", fin=False) + frame(9, b"ping!") + frame(0, b"lo", fin=False) +
           frame(10, b"unasked pong") + frame(0, b" there"))
    assert r.read() == (True, 0, 10, b"ping!")
    assert r.read() == (True, 0, 1, b"Hello there")
    # fragments that cut a UTF-8 sequence (valid: only the message must be whole)
    r.send(frame(1, b"\xce", fin=False) + frame(0, b"\xba\xf0\x9f", fin=False) + frame(0, b"\x98\x80"))
    assert r.read() == (True, 0, 1, "κ😀".encode())
    r.send(frame(8, struct.pack(">H", 1000)))
    r.expect_close(1000)


def test_every_byte_on_its_own(echo):
    stream = (frame(1, "a κ ".encode(), fin=False) + frame(9, b"p") + frame(0, "z€".encode()) +
              frame(2, bytes(range(200))) + frame(2, b"x" * 70000))
    r = Raw(echo.port)
    for i in range(len(stream) if len(stream) < 400 else 400):
        r.send(stream[i:i + 1])
    r.send(stream[400:])
    assert r.read() == (True, 0, 10, b"p")
    assert r.read() == (True, 0, 1, "a κ z€".encode())
    assert r.read() == (True, 0, 2, bytes(range(200)))
    assert r.read() == (True, 0, 2, b"x" * 70000)
    r.close()


def test_pipelined_messages_of_every_short_size(echo):
    """Messages of every size from 0 to 140 bytes (text with multi-byte
    characters, binary with bytes that are not UTF-8), a ping and a
    fragmented message among them, all in one send: read in one batch, so
    most echoes are queued by the short-frame path behind others; every echo
    comes back whole and in order, binary never checked as text; then a bad
    text among them fails with 1007 after the echoes before it."""
    r = Raw(echo.port)
    want, out = [], b""
    for n in range(141):
        t = ("κ" * (n // 2)).encode() + b"a" * (n % 2)
        b = bytes((0xC0 + i * 7) & 0xFF for i in range(n))
        out += frame(1, t) + frame(2, b)
        want += [(True, 0, 1, t), (True, 0, 2, b)]
        if n == 70:
            out += frame(9, b"mid")
            want.append((True, 0, 10, b"mid"))
            out += frame(2, b"fr", fin=False) + frame(0, b"ag", fin=False) + frame(0, b"ment")
            want.append((True, 0, 2, b"fragment"))
    r.send(out)
    for w in want:
        assert r.read() == w
    r.send(frame(2, b"x" * 33) + frame(1, b"ok") + frame(1, b"ab\xc0\x80cd") + frame(1, b"lost"))
    assert r.read() == (True, 0, 2, b"x" * 33)
    assert r.read() == (True, 0, 1, b"ok")
    r.expect_close(1007)


def test_ping_answered_with_the_same_payload(echo):
    r = Raw(echo.port)
    r.send(frame(9, b"\x00payload\xff"))
    assert r.read() == (True, 0, 10, b"\x00payload\xff")
    r.send(frame(9, b""))
    assert r.read() == (True, 0, 10, b"")
    r.send(frame(9, b"x" * 125))
    assert r.read() == (True, 0, 10, b"x" * 125)
    r.close()


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 3000, 4999])
def test_valid_close_codes_are_echoed(echo, code):
    r = Raw(echo.port)
    r.send(frame(8, struct.pack(">H", code) + "reason ✓".encode()))
    r.expect_close(code)
    assert echo.wait_for(r"closed: %d reason ✓" % code)


def test_close_without_code(echo):
    r = Raw(echo.port)
    r.send(frame(8, b""))
    r.expect_close(None)
    assert echo.wait_for(r"closed: 1005")


@pytest.mark.parametrize("payload", [
    b"\x03",                        # a 1-byte payload
    struct.pack(">H", 0), struct.pack(">H", 999), struct.pack(">H", 1004),
    struct.pack(">H", 1005), struct.pack(">H", 1006), struct.pack(">H", 1015),
    struct.pack(">H", 1016), struct.pack(">H", 2999), struct.pack(">H", 5000),
])
def test_invalid_close_payloads_are_1002(echo, payload):
    r = Raw(echo.port)
    r.send(frame(8, payload))
    r.expect_close(1002)


def test_close_reason_not_utf8_is_1007(echo):
    r = Raw(echo.port)
    r.send(frame(8, struct.pack(">H", 1000) + b"\xce"))
    r.expect_close(1007)


def test_invalid_utf8_is_1007(echo):
    r = Raw(echo.port)
    r.send(frame(1, b"\xc0\x80"))
    r.expect_close(1007)
    # fail fast: a fragment with an invalid prefix is refused before the rest
    r = Raw(echo.port)
    r.send(frame(1, "κόσμε".encode() + b"\xed\xa0\x80edited", fin=False))
    r.expect_close(1007)
    # a message that ends inside a sequence
    r = Raw(echo.port)
    r.send(frame(1, b"ok\xf0\x9f", fin=False) + frame(0, b"\x98"))
    r.expect_close(1007)


def test_oversized_message_is_1009_before_it_arrives(echo):
    r = Raw(echo.port)
    # announces 1 GiB (over the default 16 MiB) and sends a few bytes of it
    r.send(frame(2, b"abc", length=1 << 30)[:20])
    r.expect_close(1009)
    # fragments that add up past the limit
    r = Raw(echo.port)
    piece = b"z" * (4 << 20)
    r.send(frame(2, piece, fin=False) + frame(0, piece, fin=False) + frame(0, piece, fin=False) +
           frame(0, piece, fin=False) + frame(0, b"!"))
    r.expect_close(1009)


@pytest.mark.parametrize("data,why", [
    (frame(1, b"hi", mask=None), "unmasked client frame"),
    (frame(3, b""), "reserved opcode 3"),
    (frame(11, b""), "reserved opcode 11"),
    (frame(1, b"x", rsv=4), "RSV1 without an extension"),
    (frame(1, b"x", rsv=2), "RSV2"),
    (frame(1, b"x", rsv=1), "RSV3"),
    (frame(9, b"", fin=False), "fragmented ping"),
    (frame(9, b"y" * 126), "ping longer than 125"),
    (frame(0, b"orphan"), "continuation without a message"),
    (frame(1, b"a", fin=False) + frame(1, b"b"), "new message inside a fragmented one"),
    (bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + MASK, "64-bit length with its top bit"),
])
def test_protocol_errors_are_1002(echo, data, why):
    r = Raw(echo.port)
    r.send(data)
    r.expect_close(1002)


def raw_http(port, req):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    got = b""
    while b"\r\n\r\n" not in got:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    return got


def test_bad_handshakes(echo):
    base = (b"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\n")
    r = raw_http(echo.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 426 ") and b"\r\nUpgrade: websocket\r\n" in r, r
    r = raw_http(echo.port, b"GET / HTTP/1.1\r\n" + base + b"Sec-WebSocket-Version: 8\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 426 ") and b"\r\nSec-WebSocket-Version: 13\r\n" in r, r
    r = raw_http(echo.port, b"GET / HTTP/1.1\r\n" + base.replace(KEY, b"short") +
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400 "), r
    r = raw_http(echo.port, b"GET / HTTP/1.0\r\n" + base + b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert b" 400 " in r.split(b"\r\n")[0], r
    r = raw_http(echo.port, b"POST / HTTP/1.1\r\n" + base + b"Sec-WebSocket-Version: 13\r\n"
                 b"Content-Length: 0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 405 "), r
    # the accept value is RFC 6455's own example
    r = Raw(echo.port)
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in r.head
    r.close()


def inflate(data, d):
    return d.decompress(data + b"\x00\x00\xff\xff")


@pytest.mark.parametrize("no_ctx", [False, True])
def test_permessage_deflate_negotiated_and_used(echo, no_ctx):
    offer = b"permessage-deflate" + (b"; server_no_context_takeover" if no_ctx else b"")
    r = Raw(echo.port, b"Sec-WebSocket-Extensions: " + offer + b"\r\n")
    ext = re.search(rb"\r\nSec-WebSocket-Extensions: ([^\r]*)", r.head).group(1)
    assert ext == offer + b"; server_max_window_bits=12", ext   # 4 KiB: memory per connection
    msg = ("the same words again and again, " * 20).encode()
    comp = zlib.compressobj(wbits=-15)
    d = zlib.decompressobj(wbits=-15)
    sizes = []
    for _ in range(3):
        z = comp.compress(msg) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert z.endswith(b"\x00\x00\xff\xff")
        r.send(frame(1, z[:-4], rsv=4))
        fin, rsv, op, p = r.read()
        assert (fin, rsv, op) == (True, 4, 1), "the echo must come compressed (RSV1)"
        assert inflate(p, d) == msg
        sizes.append(len(p))
    assert sizes[0] < len(msg) // 4
    if no_ctx:
        assert sizes[1] == sizes[0] == sizes[2], sizes   # each message on its own
    else:
        assert sizes[1] < sizes[0], sizes                 # refers back to the last one
    # an uncompressed message on the same connection stays uncompressed in
    # meaning (the server may compress its echo)
    r.send(frame(2, b"plain"))
    fin, rsv, op, p = r.read()
    assert (inflate(p, d) if rsv == 4 else p) == b"plain"
    r.close()


def test_permessage_deflate_offers_declined_or_bounded(echo):
    r = Raw(echo.port, b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n")
    assert b"Sec-WebSocket-Extensions" not in r.head, "no such window (8..15): decline"
    r.close()
    r = Raw(echo.port, b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7, "
            b"permessage-deflate; server_max_window_bits=9; client_max_window_bits\r\n")
    assert (b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; "
            b"client_max_window_bits=12") in r.head, r.head
    r.close()
    # a decompression bomb: 32 MiB of zeros in a few KiB is stopped at the limit
    r = Raw(echo.port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    c = zlib.compressobj(9, wbits=-15)
    z = c.compress(bytes(32 << 20)) + c.flush(zlib.Z_SYNC_FLUSH)
    assert len(z) < 64 << 10
    r.send(frame(2, z[:-4], rsv=4))
    r.expect_close(1009)


def test_websockets_client_with_compression_modes(echo):
    async def go(ext):
        async with websockets.connect("ws://127.0.0.1:%d/" % echo.port, extensions=ext,
                                      compression=None if ext else "deflate", max_size=None) as ws:
            assert "permessage-deflate" in ws.response_headers["Sec-WebSocket-Extensions"]
            for i in range(5):
                m = "message %d " % i * 5000
                await ws.send(m)
                assert await ws.recv() == m
            b = os.urandom(100000)
            await ws.send(b)
            assert await ws.recv() == b
    asyncio.run(go(None))
    asyncio.run(go([ClientPerMessageDeflateFactory(server_no_context_takeover=True,
                                                   client_no_context_takeover=True,
                                                   server_max_window_bits=10,
                                                   client_max_window_bits=9)]))


def test_many_connections_at_once(echo):
    async def one(i):
        async with websockets.connect("ws://127.0.0.1:%d/c%d" % (echo.port, i),
                                      open_timeout=30) as ws:
            for k in range(5):
                await ws.send("%d:%d" % (i, k))
                assert await ws.recv() == "%d:%d" % (i, k)

    async def go():
        await asyncio.gather(*(one(i) for i in range(200)))
    asyncio.run(go())


def test_stop_sends_going_away(server):
    e = start_echo(server)
    r = Raw(e.port)
    r.send(frame(1, b"hi"))
    assert r.read()[3] == b"hi"
    e.proc.send_signal(15)
    fin, rsv, op, p = r.read()
    assert op == 8 and struct.unpack(">H", p[:2])[0] == 1001, p
    r.send(frame(8, p[:2]))
    r.s.settimeout(10)
    assert r.s.recv(10) == b""
    assert e.proc.wait(15) == 0


# ---- berth echo --ws ----

def test_echo_client_against_echo_server(echo):
    p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/x?y=1" % echo.port, "-s", "hello", "κόσμε")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello κόσμε\n"
    assert echo.wait_for(r"1 messages, 16 bytes in, closed: 1000")
    p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % echo.port, "--connections", "20",
                  "--messages", "200", "--size", "100")
    assert p.returncode == 0, p.stderr
    assert "20 connections, 4000 messages (400000 bytes) echoed and checked" in p.stdout
    p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % echo.port, "--connections", "2",
                  "--messages", "3", "--size", "1M")
    assert p.returncode == 0, p.stderr
    assert "6 messages (6291456 bytes)" in p.stdout


def test_echo_client_stdin_and_binary(echo):
    p = subprocess.run([BERTH_EXE, "echo", "--ws", "ws://127.0.0.1:%d/" % echo.port],
                       input=b"from stdin\n\x00", capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"from stdin\n\x00"        # binary-safe, no newline added
    p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % echo.port, "--binary", "-s", "bin")
    assert p.returncode == 0 and p.stdout == "bin\n", p.stderr
    p = subprocess.run([BERTH_EXE, "echo", "--ws", "ws://127.0.0.1:%d/" % echo.port],
                       input=b"\xff\xfe", capture_output=True, timeout=60)
    assert p.returncode == 1 and b"not UTF-8" in p.stderr and b"--binary" in p.stderr, p.stderr
    p = subprocess.run([BERTH_EXE, "echo", "--ws", "ws://127.0.0.1:%d/" % echo.port, "--binary"],
                       input=b"\xff\xfe", capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout == b"\xff\xfe", p.stderr


def test_echo_client_refused_and_bad_urls(server):
    p = run_berth("echo", "--ws", "http://127.0.0.1:1/")
    assert p.returncode == 2 or p.returncode == 1
    assert "ws://HOST" in p.stderr
    s = server("serve", "0", "-b", "127.0.0.1", "-d", ".", "-q")
    p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % s.port, "-s", "x")
    assert p.returncode == 1
    assert "instead of 101" in p.stderr and "WebSocket endpoint" in p.stderr, p.stderr


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("wscert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def test_echo_client_over_wss(server, cert):
    e = start_echo(server, "--tls-self-signed")
    assert "SPKI fingerprint" in e.output() or e.wait_for("SPKI fingerprint")
    url = "wss://127.0.0.1:%d/" % e.port
    p = run_berth("echo", "--ws", url, "-s", "secret")
    assert p.returncode == 1 and "not trusted" in p.stderr and "--insecure" in p.stderr, p.stderr
    p = run_berth("echo", "--ws", url, "--insecure", "-s", "secret")
    assert p.returncode == 0 and p.stdout == "secret\n", p.stderr
    p = run_berth("echo", "--ws", url, "--insecure", "--connections", "5", "--messages", "50",
                  "--size", "3000")
    assert p.returncode == 0 and "250 messages" in p.stdout, p.stderr
    # a certificate of its own, trusted with --cacert
    c, k = cert
    e2 = start_echo(server, "--tls-cert", str(c), "--tls-key", str(k))
    for host in ("127.0.0.1", "localhost"):
        p = run_berth("echo", "--ws", "wss://%s:%d/" % (host, e2.port), "--cacert", str(c),
                      "-s", "pinned")
        assert p.returncode == 0 and p.stdout == "pinned\n", p.stderr
    # python's client agrees
    ctx = ssl.create_default_context(cafile=str(c))

    async def go():
        async with websockets.connect("wss://localhost:%d/" % e2.port, ssl=ctx) as ws:
            await ws.send("over tls")
            assert await ws.recv() == "over tls"
    asyncio.run(go())


def test_echo_client_against_python_server():
    got = []

    async def handler(ws, path=None):
        async for m in ws:
            got.append(m)
            await ws.send(m)

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    def run():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(websockets.serve(handler, "127.0.0.1", 0))
        box["port"] = srv.sockets[0].getsockname()[1]
        box["srv"] = srv
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)
    try:
        p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % box["port"], "-s", "to python")
        assert p.returncode == 0, p.stderr
        assert p.stdout == "to python\n" and got == ["to python"]
        p = run_berth("echo", "--ws", "ws://127.0.0.1:%d/" % box["port"], "--connections", "4",
                      "--messages", "20", "--size", "2000")
        assert p.returncode == 0 and "80 messages" in p.stdout, p.stderr
    finally:
        async def shut():
            box["srv"].close()
            await box["srv"].wait_closed()
        asyncio.run_coroutine_threadsafe(shut(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


# ---- examples/chat in a browser ----

SERVING_RE = re.compile(rb"Serving HTTPS? on \S+ port (\d+)")


class Chromium:
    """Headless Chromium driven over the DevTools protocol (itself a
    WebSocket): pages are opened and their DOM polled until a condition
    holds, so nothing depends on how fast virtual time runs."""

    def __init__(self, extra=()):
        self.profile = tempfile.mkdtemp(prefix="berth-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile] + list(extra) + ["about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        self.url = None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                self.url = m.group(1)
                break
            if not line and self.proc.poll() is not None:
                break
        assert self.url, "chromium did not start its DevTools endpoint"
        self.n = 0

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, max_size=None)
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def call(self, method, params=None, session=None):
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        while True:
            r = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if r.get("id") == self.n:
                assert "error" not in r, r
                return r["result"]

    async def open(self, url):
        t = await self.call("Target.createTarget", {"url": url})
        a = await self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})
        return a["sessionId"]

    async def text(self, session, element_id):
        r = await self.call("Runtime.evaluate", {
            "expression": "(function () { var e = document.getElementById(%s);"
                          " return e ? e.textContent : ''; })()" % json.dumps(element_id),
            "returnByValue": True}, session)
        return r["result"].get("value", "")

    async def wait_text(self, session, element_id, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            t = await self.text(session, element_id)
            if re.search(pattern, t):
                return t
            assert time.monotonic() < deadline, "%s never matched %r: %r" % (element_id, pattern, t)
            await asyncio.sleep(0.1)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.parametrize("tls", [False, True])
def test_chat_between_two_pages_and_python(tls):
    args = ["0"] + (["--tls-self-signed"] if tls else [])
    s = Server(args, exe=CHAT, ready=SERVING_RE)
    try:
        extra, ctx = [], None
        if tls:
            assert s.wait_for("SPKI fingerprint")
            spki = re.search(r"SPKI fingerprint: (\S+)", s.output()).group(1)
            extra = ["--ignore-certificate-errors-spki-list=" + spki]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        page = "%s://127.0.0.1:%d/" % ("https" if tls else "http", s.port)
        wsurl = "%s://127.0.0.1:%d/ws" % ("wss" if tls else "ws", s.port)

        async def go():
            async with websockets.connect(wsurl, ssl=ctx) as py:
                async with Chromium(extra) as b:
                    one = await b.open(page)
                    await b.wait_text(one, "state", "^open$")
                    two = await b.open(page + "?say=" + urllib.parse.quote("from page two ✓"))
                    await b.wait_text(two, "state", "^open$")
                    # page two's line reaches page one, python, and page two itself
                    await b.wait_text(one, "log", r"#\d+: from page two ✓")
                    await b.wait_text(two, "log", r"#\d+: from page two ✓")
                    heard = await asyncio.wait_for(py.recv(), 60)
                    assert re.fullmatch(r"#\d+: from page two ✓", heard), heard
                    await py.send("from python ✓")
                    mine = await asyncio.wait_for(py.recv(), 60)   # everyone gets it, python too
                    assert re.fullmatch(r"#\d+: from python ✓", mine), mine
                    await b.wait_text(one, "log", r"#\d+: from python ✓")
                    await b.wait_text(two, "log", r"#\d+: from python ✓")
                    # typed into page one's form and sent with its button
                    await b.call("Runtime.evaluate", {"expression":
                                 "document.getElementById('msg').value = 'typed in one';"
                                 "document.querySelector('#f button').click();"}, one)
                    await b.wait_text(two, "log", r"#\d+: typed in one")
                    assert re.fullmatch(r"#\d+: typed in one",
                                        await asyncio.wait_for(py.recv(), 60))
        asyncio.run(go())
    finally:
        s.kill()


# ---- the API (tests/integration/ws_prog.c) ----

@pytest.fixture(scope="module")
def ws_prog(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("wsprog") / "ws_prog")
    lib = os.path.join(BUILD, "libberth.a")
    nm = subprocess.run(["nm", lib], capture_output=True, text=True).stdout
    san = (["-fsanitize=address"] if "__asan_" in nm else []) + \
          (["-fsanitize=undefined"] if "__ubsan_" in nm else [])
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", os.path.join(here, "..", "..",
                        "include"), os.path.join(here, "ws_prog.c"), lib] + STATIC_LIBS +
                       ["-o", out] + san,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out


def start_prog(exe, *args):
    return Server(list(args), exe=exe, ready=SERVING_RE)


def test_api_subprotocol_close_ping(ws_prog):
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        async def go():
            async with websockets.connect("ws://127.0.0.1:%d/ws" % s.port,
                                          subprotocols=["superchat", "other"]) as ws:
                assert ws.subprotocol == "superchat"
                assert await ws.recv() == "protocol:superchat"
                await ws.send("ping")   # the server's ping is answered by the client
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await ws.send("close")
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 4000 and ws.close_reason == "asked"
            async with websockets.connect("ws://127.0.0.1:%d/ws" % s.port) as ws:
                assert ws.subprotocol is None
                assert await ws.recv() == "protocol:"
        asyncio.run(go())
        assert s.wait_for(r"^closing 0 1 1$")
        assert s.wait_for(r"^ping 0 -4006$")         # a 200-byte ping is BERTH_ERR_USAGE
        assert s.wait_for(r"^close 4000\b")             # what the client answered
    finally:
        s.kill()


def test_api_idle_ping_and_pong_timeout(ws_prog):
    # a ping after 200 ms of silence, 2 s for the answer (loaded machines)
    s = start_prog(ws_prog, "200", "2000", "1048576")
    try:
        r = Raw(s.port, path=b"/ws")
        assert r.read()[3] == b"protocol:"
        t0 = time.monotonic()
        fin, rsv, op, p = r.read()                    # the idle ping
        assert op == 9
        r.s.settimeout(20)
        assert r.s.recv(100) == b""                   # no pong: dropped
        assert 1.5 < time.monotonic() - t0 < 15
        assert s.wait_for(r"^close 1006 no answer to the idle ping$")

        async def alive():                            # a peer that answers stays
            async with websockets.connect("ws://127.0.0.1:%d/ws" % s.port) as ws:
                await ws.recv()
                await asyncio.sleep(3)
                await ws.send("still here")
                assert await ws.recv() == "still here"
        asyncio.run(alive())
    finally:
        s.kill()


def test_api_backpressure_and_drain(ws_prog):
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        r = Raw(s.port, path=b"/ws")
        assert r.read()[3] == b"protocol:"
        r.send(frame(1, b"flood"))
        # 1 MiB of queue: 15 messages of 64 KiB fit, the 16th is refused
        assert s.wait_for(r"^flood 15 messages, then ENOBUFS, \d+ buffered$")
        for _ in range(15):
            assert r.read()[2:] == (2, b"f" * 65536)
        assert r.read()[2:] == (1, b"drained")
        assert s.wait_for(r"^drain \d+$")
        r.close()
    finally:
        s.kill()


def test_api_status_table_shows_websockets(ws_prog):
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        r = Raw(s.port, path=b"/ws")
        assert r.read()[3] == b"protocol:"
        st = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/status" % s.port],
                            capture_output=True, text=True, timeout=30).stdout
        rows = json.loads(st)["connections"]
        assert [c["protocol"] for c in rows].count("ws") == 1, rows
        r.close()
    finally:
        s.kill()


def test_api_plain_get_over_h2_is_refused_naming_extended_connect(ws_prog):
    # over h2 a WebSocket is an extended CONNECT (RFC 8441, test_ws_h2.py);
    # a plain GET cannot upgrade, and the error page says what to send
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w",
                            "\n%{http_code} %{http_version}", "http://127.0.0.1:%d/ws" % s.port],
                           capture_output=True, text=True, timeout=30)
        assert p.stdout.endswith("400 2"), p.stdout[-300:]
        assert "RFC 8441" in p.stdout and "extended CONNECT" in p.stdout
        assert s.wait_for(r"^upgrade refused ")
    finally:
        s.kill()
