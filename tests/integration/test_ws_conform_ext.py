"""WebSocket conformance, continued (issue 12): permessage-deflate (RFC 7692,
Autobahn's 12.x and 13.x), the opening handshake (RFC 6455 §4.2.1, §4.4) against
one `berth echo-server --ws` for the module, and the client (`berth echo --ws`)
against a scripted server (§4.1, §5.5.1, §7.1.7).  The frame helpers and the
fixtures are test_ws_conform.py's."""
import asyncio
import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import threading
import zlib

import pytest
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from conftest import BERTH as BERTH_EXE
from test_ws import KEY, raw_http
from test_ws_conform import (GUID, Peer, close_frame, frame, mask_bytes, peer, port,  # noqa: F401
                             srv)


# ---- 12.x / 13.x permessage-deflate (RFC 7692) ----

def ext_params(head):
    """The parameters of the 101's Sec-WebSocket-Extensions (a dict)."""
    m = re.search(rb"\r\nSec-WebSocket-Extensions: *([^\r]*)", head, re.I)
    assert m, head
    parts = [p.strip() for p in m.group(1).decode().split(";")]
    assert parts[0] == "permessage-deflate", parts
    out = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        assert k not in out, "parameter %s repeated" % k
        out[k.strip()] = v.strip().strip('"') or None
    return out


class Deflate:
    """The client's side of an agreed permessage-deflate."""

    def __init__(self, offer, resp):
        # the client's window: the answer's, else the offer's, else 15
        self.cbits = int(resp.get("client_max_window_bits") or
                         offer.get("client_max_window_bits") or 15)
        self.sbits = int(resp.get("server_max_window_bits") or 15)
        self.c_reset = "client_no_context_takeover" in resp
        self.s_reset = "server_no_context_takeover" in resp
        self.c = self.compressor()
        # exactly the server's window: data that reached further back fails
        self.d = zlib.decompressobj(-self.sbits)

    def compressor(self):
        # zlib's raw deflate takes no 8, but its 9 never reaches back more
        # than 512 - 262 bytes: within a 256-byte window
        return zlib.compressobj(6, zlib.DEFLATED, -max(self.cbits, 9))

    def compress(self, msg):
        z = self.c.compress(msg) + self.c.flush(zlib.Z_SYNC_FLUSH)
        assert z.endswith(b"\x00\x00\xff\xff")
        if self.c_reset:
            self.c = self.compressor()
        return z[:-4]

    def decompress(self, p):
        """Inflates in 64-byte steps: zlib then reads every distance longer
        than that from its window of 2^sbits, so one the server's window
        does not hold fails ("invalid distance too far back")."""
        data, out = p + b"\x00\x00\xff\xff", []
        while True:
            o = self.d.decompress(data, 64)
            out.append(o)
            data = self.d.unconsumed_tail
            if not data and not o:
                break
        out = b"".join(out)
        if self.s_reset:
            self.d = zlib.decompressobj(-self.sbits)
        return out


OFFERS = [
    {},
    {"server_no_context_takeover": None},
    {"client_no_context_takeover": None},
    {"server_no_context_takeover": None, "client_no_context_takeover": None},
    {"client_max_window_bits": None},
] + [{"client_max_window_bits": str(b)} for b in range(8, 16)] + \
    [{"server_max_window_bits": str(b)} for b in range(8, 16)] + [
    # Autobahn 13.3 and 13.5: the server's window of 256 bytes, asked for
    {"client_no_context_takeover": None, "client_max_window_bits": None,
     "server_max_window_bits": "8"},
    {"client_no_context_takeover": None, "client_max_window_bits": None,
     "server_no_context_takeover": None, "server_max_window_bits": "8"},
    {"server_max_window_bits": "9", "client_max_window_bits": "9",
     "server_no_context_takeover": None, "client_no_context_takeover": None},
    {"server_max_window_bits": "15", "client_max_window_bits": "15"},
]


def offer_header(offer):
    return "permessage-deflate" + "".join(
        "; %s" % k if v is None else "; %s=%s" % (k, v) for k, v in offer.items())


def check_response(offer, resp):
    """RFC 7692 §7.1: what a server may answer to this offer."""
    for k in resp:
        assert k in ("server_no_context_takeover", "client_no_context_takeover",
                     "server_max_window_bits", "client_max_window_bits"), k
    if "server_no_context_takeover" in offer:           # §7.1.1.1: accepted means said back
        assert "server_no_context_takeover" in resp
    if "server_max_window_bits" in offer:               # §7.1.2.1: the same or smaller
        assert "server_max_window_bits" in resp
        assert 8 <= int(resp["server_max_window_bits"]) <= int(offer["server_max_window_bits"])
    if "client_max_window_bits" in resp:                # §7.1.2.2: only if offered, <= it
        assert "client_max_window_bits" in offer
        lim = int(offer["client_max_window_bits"] or 15)
        assert 8 <= int(resp["client_max_window_bits"]) <= lim
    for k in ("server_no_context_takeover", "client_no_context_takeover"):
        assert k not in resp or resp[k] is None


PMD_SIZES = [0, 1, 16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072]


def corpus(n, seed):
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta",
             "κόσμε".encode(), b"0123456789"]
    out, x, k = [], seed, 0
    while k < n:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(words[x % len(words)] + b" ")
        k += len(out[-1])
    return b"".join(out)[:n].decode("utf-8", "ignore").encode()


@pytest.mark.parametrize("offer", OFFERS, ids=offer_header)
def test_12_13_permessage_deflate_parameters(port, offer):
    """12.x/13.x: every parameter combination offered, the answer legal per
    RFC 7692 §7.1, then messages of many sizes both ways, compressed by us
    with the window agreed and inflated with exactly the server's agreed
    window (an echo that reached further back, or kept its context when told
    not to, fails to inflate)."""
    r = peer(port, ("Sec-WebSocket-Extensions: %s\r\n" % offer_header(offer)).encode())
    resp = ext_params(r.head)                           # accepted: every offer here can be
    check_response(offer, resp)
    z = Deflate(offer, resp)
    for rnd in range(3):
        for i, n in enumerate(PMD_SIZES):
            op = 1 if (i + rnd) % 2 else 2
            msg = corpus(n, rnd * 100 + i) if op == 1 else (corpus(n, i) + os.urandom(n // 8))
            r.send(frame(op, z.compress(msg), rsv=4))
            fin, rsv, got_op, p = r.read()
            assert (fin, got_op) == (True, op)
            assert (z.decompress(p) if rsv == 4 else p) == msg, (n, rsv)
    # an uncompressed message (RSV1 clear) is valid on the same connection
    r.send(frame(1, b"plain"))
    fin, rsv, op, p = r.read()
    assert (z.decompress(p) if rsv == 4 else p) == b"plain"
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_13_compressed_message_in_fragments(port):
    """RFC 7692 §6.1: RSV1 on the first fragment only; the compressed data
    split anywhere, even inside a deflate block."""
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    z = Deflate({}, ext_params(r.head))
    msg = corpus(50000, 7)
    c = z.compress(msg)
    for size in (1, 100, 4096):
        if size == 1:
            parts = [c[i:i + 1] for i in range(min(len(c), 300))] + [c[300:]]
        else:
            parts = [c[i:i + size] for i in range(0, len(c), size)]
        data = frame(1, parts[0], fin=False, rsv=4) + b"".join(
            frame(0, p, fin=False) for p in parts[1:-1]) + frame(0, parts[-1])
        r.send(data)
        fin, rsv, op, p = r.read()
        assert op == 1 and (z.decompress(p) if rsv == 4 else p) == msg
        c = z.compress(msg)
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_13_rsv1_on_a_continuation_is_1002(port):
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    z = (c.compress(b"hello hello hello") + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    r.send(frame(1, z[:3], fin=False, rsv=4) + frame(0, z[3:], rsv=4))
    r.expect_close(1002)


@pytest.mark.parametrize("op", [9, 10, 8])
def test_13_rsv1_on_a_control_frame_is_1002(port, op):
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    r.send(frame(op, struct.pack(">H", 1000) if op == 8 else b"ctl", rsv=4))
    r.expect_close(1002)


@pytest.mark.parametrize("fragments", [1, 64])
def test_13_inflating_past_the_limit_is_1009(port, fragments):
    """A message that inflates past the server's limit (16 MiB) is failed
    with 1009 (§7.4.1), also when its compressed data came in fragments."""
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = (c.compress(bytes(24 << 20)) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    step = -(-len(z) // fragments)
    parts = [z[i:i + step] for i in range(0, len(z), step)]
    if len(parts) == 1:
        r.send(frame(2, z, rsv=4))
    else:
        r.send(frame(2, parts[0], fin=False, rsv=4) +
               b"".join(frame(0, p, fin=False) for p in parts[1:-1]) + frame(0, parts[-1]))
    r.expect_close(1009)


def test_13_compressed_text_not_utf8_is_1007(port):
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    z = (c.compress("κόσμε".encode() + b"\xed\xa0\x80") + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    r.send(frame(1, z, rsv=4))
    r.expect_close(1007)


def test_13_compressed_text_fails_fast_and_pings_between_fragments(port):
    """A compressed fragmented text: a ping between its fragments answered
    at once; invalid UTF-8 in its first fragment failed with 1007 before the
    final fragment (which is never sent)."""
    r = peer(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    z = Deflate({}, ext_params(r.head))
    c = z.compress(corpus(3000, 3))
    r.send(frame(1, c[:50], fin=False, rsv=4) + frame(9, b"between"))
    r.expect((True, 0, 10, b"between"))
    r.send(frame(0, c[50:]))
    fin, rsv, op, p = r.read()
    assert op == 1 and (z.decompress(p) if rsv == 4 else p) == corpus(3000, 3)
    bad = zlib.compressobj(6, zlib.DEFLATED, -15)
    part = bad.compress("κόσμε".encode() + b"\xf4\x90\x80\x80") + bad.flush(zlib.Z_SYNC_FLUSH)
    r.send(frame(1, part, fin=False, rsv=4))
    r.expect_close(1007)


@pytest.mark.parametrize("bits", [9, 12, 15])
def test_13_websockets_peer_with_window_bits(port, bits):
    """Python's websockets as the second peer: client_max_window_bits and
    server_max_window_bits requested, context takeover both ways."""
    async def go():
        ext = [ClientPerMessageDeflateFactory(server_max_window_bits=bits,
                                              client_max_window_bits=bits)]
        async with websockets.connect("ws://127.0.0.1:%d/" % port, extensions=ext,
                                      compression=None, max_size=None) as ws:
            h = ws.response_headers["Sec-WebSocket-Extensions"]
            assert "server_max_window_bits=" in h
            for n in PMD_SIZES:
                m = corpus(n, n).decode()
                await ws.send(m)
                assert await ws.recv() == m
    asyncio.run(asyncio.wait_for(go(), 60))


# ---- §4.2.1 the opening handshake ----

def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", line)
    assert m, resp[:200]
    return int(m.group(1))


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def upgrade_req(method=b"GET", version=b"HTTP/1.1", fields=None):
    f = {b"Host": b"localhost", b"Upgrade": b"websocket", b"Connection": b"Upgrade",
         b"Sec-WebSocket-Key": KEY, b"Sec-WebSocket-Version": b"13"}
    f.update(fields or {})
    lines = b"".join(k + b": " + v + b"\r\n" for k, v in f.items() if v is not None)
    return method + b" / " + version + b"\r\n" + lines + b"\r\n"


def handshake_then_echo(port, req, key=KEY):
    """The 101 for req, with the right accept value, and a working session."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(req + frame(1, b"pipelined behind the request"))
    r = Peer.__new__(Peer)
    r.s, r.buf = s, b""
    while b"\r\n\r\n" not in r.buf:
        d = s.recv(65536)
        assert d, r.buf
        r.buf += d
    head, r.buf = r.buf.split(b"\r\n\r\n", 1)
    assert status_of(head) == 101, head
    assert re.search(rb"\r\nUpgrade: *websocket\r\n", head, re.I), head
    assert re.search(rb"\r\nConnection: *Upgrade\r\n", head, re.I), head
    assert b"\r\nSec-WebSocket-Accept: " + accept_for(key) + b"\r\n" in head + b"\r\n", head
    r.expect((True, 0, 1, b"pipelined behind the request"))
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("fields", [
    {b"Connection": b"keep-alive, Upgrade"},
    {b"Connection": b"Upgrade, keep-alive"},
    {b"Connection": b"keep-alive,upgrade"},
    {b"Connection": b"UPGRADE"},
    {b"Upgrade": b"WebSocket"},
    {b"Upgrade": b"WEBSOCKET"},
    {b"Sec-WebSocket-Key": base64.b64encode(bytes(range(16)))},
    {b"Sec-WebSocket-Protocol": b"chat, superchat"},  # no subprotocol spoken: none chosen
    {b"Sec-WebSocket-Extensions": b"x-unknown-extension; a=1"},
], ids=lambda f: b"/".join(f.values()).decode())
def test_4_handshake_accepted(port, fields):
    handshake_then_echo(port, upgrade_req(fields=fields), fields.get(b"Sec-WebSocket-Key", KEY))


def test_4_handshake_field_names_any_case_and_connection_in_two_fields(port):
    req = (b"GET /x?y=1 HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\n"
           b"connection: keep-alive\r\nCONNECTION: upgrade\r\nsec-websocket-key: " + KEY +
           b"\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n")
    handshake_then_echo(port, req)


def test_4_handshake_no_subprotocol_or_extension_unasked(port):
    r = raw_http(port, upgrade_req(fields={b"Sec-WebSocket-Protocol": b"chat"}))
    assert status_of(r) == 101
    assert b"sec-websocket-protocol" not in r.lower() and b"sec-websocket-extensions" not in r.lower()


@pytest.mark.parametrize("fields", [
    {b"Sec-WebSocket-Key": None},
    {b"Sec-WebSocket-Key": b""},
    {b"Sec-WebSocket-Key": b"dGhlIHNhbXBsZSBub25jZQ"},          # no padding
    {b"Sec-WebSocket-Key": base64.b64encode(bytes(15))},         # 15 bytes
    {b"Sec-WebSocket-Key": base64.b64encode(bytes(17))},         # 17 bytes
    {b"Sec-WebSocket-Key": b"!!!!!!!!!!!!!!!!!!!!!!=="},         # not base64
    {b"Host": None},
], ids=lambda f: repr(list(f.items())[0]))
def test_4_handshake_bad_request_is_400(port, fields):
    r = raw_http(port, upgrade_req(fields=fields))
    assert status_of(r) == 400, r


def test_4_handshake_two_keys_is_400(port):
    req = upgrade_req().replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Key: " +
                                base64.b64encode(os.urandom(16)) + b"\r\n\r\n")
    assert status_of(raw_http(port, req)) == 400


@pytest.mark.parametrize("version", [None, b"8", b"12", b"14", b"13, 8", b"abc"])
def test_4_handshake_other_version_is_426(port, version):
    """§4.4: a version the server does not speak: 426 with
    Sec-WebSocket-Version: 13 (and no upgrade)."""
    r = raw_http(port, upgrade_req(fields={b"Sec-WebSocket-Version": version}))
    assert status_of(r) == 426, r
    assert re.search(rb"\r\nSec-WebSocket-Version: *13\r\n", r, re.I), r


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"HEAD"])
def test_4_handshake_method_not_get_is_refused(port, method):
    """§4.2.1 (1): the method MUST be GET; no 101 for anything else."""
    req = upgrade_req(method=method)
    if method in (b"POST", b"PUT"):
        req = req[:-2] + b"Content-Length: 0\r\n\r\n"
    r = raw_http(port, req)
    st = status_of(r)
    assert st in (400, 405), r
    if st == 405:
        assert re.search(rb"\r\nAllow: [^\r]*GET", r, re.I), r   # RFC 9110 §15.5.6


def test_4_handshake_http10_is_refused(port):
    r = raw_http(port, upgrade_req(version=b"HTTP/1.0"))
    assert status_of(r) == 400, r


@pytest.mark.parametrize("fields", [{b"Upgrade": None}, {b"Connection": None},
                                    {b"Upgrade": b"h2c"}, {b"Connection": b"keep-alive"}])
def test_4_handshake_not_an_upgrade_is_426(port, fields):
    r = raw_http(port, upgrade_req(fields=fields))
    assert status_of(r) == 426, r
    assert re.search(rb"\r\nUpgrade: *websocket\r\n", r, re.I), r


# ---- the client, `berth echo --ws`, against a scripted server ----

class Script:
    """A one-connection WebSocket server on a thread: answers the handshake
    with head (a format string taking the accept value), then runs
    play(sock, frames) where frames() reads the client's next frame
    (fin, op, payload, masked); .got lists every frame the client sent,
    .eof whether it closed TCP."""

    def __init__(self, play, head=None):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.ls.settimeout(30)
        self.port = self.ls.getsockname()[1]
        self.play, self.got, self.eof, self.err = play, [], False, None
        self.head = head or ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n")
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            s, _ = self.ls.accept()
            s.settimeout(15)
            self.s, self.buf = s, b""
            while b"\r\n\r\n" not in self.buf:
                d = s.recv(4096)
                assert d
                self.buf += d
            req, self.buf = self.buf.split(b"\r\n\r\n", 1)
            key = re.search(rb"\r\nSec-WebSocket-Key: *([^\r]+)", req, re.I).group(1)
            s.sendall((self.head % accept_for(key).decode()).encode())
            try:
                self.play(s, self.frame)
            except EOFError:
                raise AssertionError("the client closed TCP early, having sent %r" % self.got)
            try:
                while True:                             # what else the client sends, to its end
                    self.frame()
            except EOFError:
                self.eof = True
        except Exception as e:                         # noqa: BLE001 (reported by done())
            self.err = e
        finally:
            self.ls.close()

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, k = b1 & 127, 2
        if n == 126:
            self._need(4)
            n, k = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, k = struct.unpack(">Q", self.buf[2:10])[0], 10
        masked = bool(b1 & 0x80)
        self._need(k + 4 * masked + n)
        key = self.buf[k:k + 4] if masked else None
        p = self.buf[k + 4 * masked:k + 4 * masked + n]
        self.buf = self.buf[k + 4 * masked + n:]
        f = (bool(b0 & 0x80), b0 & 15, mask_bytes(p, key) if masked else p, masked)
        self.got.append(f)
        return f

    def done(self):
        self.t.join(30)
        assert not self.t.is_alive()
        assert self.err is None, repr(self.err)


def server_frame(op, payload=b"", fin=True):
    return frame(op, payload, fin=fin, mask=None)


def run_client(port, *args):
    return subprocess.run([BERTH_EXE, "echo", "--ws", "ws://127.0.0.1:%d/" % port] + list(args),
                          capture_output=True, timeout=60)


def test_client_answers_pings_and_reads_fragments():
    """The control: a ping (answered, masked, same payload) and the echo in
    fragments with a ping between; the client closes with 1000, waits for
    the server's close and for the server to close TCP."""
    def play(s, frames):
        assert frames()[:3] == (True, 1, b"hi")
        s.sendall(server_frame(9, b"p1") + server_frame(1, b"h", fin=False) +
                  server_frame(9, b"p2") + server_frame(0, b"i"))
        assert frames() == (True, 10, b"p1", True)
        assert frames() == (True, 10, b"p2", True)
        assert frames() == (True, 8, struct.pack(">H", 1000), True)
        s.sendall(server_frame(8, struct.pack(">H", 1000)))
        s.shutdown(socket.SHUT_WR)
    sc = Script(play)
    p = run_client(sc.port, "-s", "hi")
    sc.done()
    assert p.returncode == 0 and p.stdout == b"hi\n", p.stderr


@pytest.mark.parametrize("head,why", [
    ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Accept: %s\r\n\r\n", b"Connection"),
    ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
     "Sec-WebSocket-Accept: %s\r\n\r\n", b"Connection"),
    ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Accept: %s\r\n\r\n", b"subprotocol"),
], ids=["no-connection", "connection-keep-alive", "subprotocol-not-offered"])
def test_client_fails_a_bad_101(head, why):
    """§4.1: the client MUST fail the connection when the 101 lacks
    Connection: Upgrade, or names a subprotocol it did not offer."""
    def play(s, frames):
        try:
            f = frames()                                # a client that went on: echo it
        except EOFError:
            return
        s.sendall(server_frame(f[1], f[2]))
        frames()
        s.sendall(server_frame(8, struct.pack(">H", 1000)))
        s.shutdown(socket.SHUT_WR)
    sc = Script(play, head)
    p = run_client(sc.port, "-s", "hi")
    sc.done()
    assert p.returncode == 1 and why in p.stderr, (p.returncode, p.stderr)
    assert p.stdout == b""


def test_client_answers_the_servers_close():
    """§5.5.1: a close from the server is answered with a close (the same
    code) before the client ends; then the server closes TCP."""
    def play(s, frames):
        assert frames()[:3] == (True, 1, b"hi")
        s.sendall(server_frame(8, struct.pack(">H", 1001) + b"bye"))
        assert frames() == (True, 8, struct.pack(">H", 1001), True)
        s.shutdown(socket.SHUT_WR)
    sc = Script(play)
    p = run_client(sc.port, "-s", "hi")
    sc.done()
    assert sc.eof
    assert p.returncode == 1 and b"1001" in p.stderr, p.stderr


@pytest.mark.parametrize("bad,code", [
    (frame(1, b"masked"), 1002),                        # §5.1: a masked server frame
    (bytes([0xC1, 3]) + b"rsv", 1002),                  # RSV1, and no extension agreed
    (server_frame(3, b""), 1002),                       # a reserved opcode
    (server_frame(0, b"orphan"), 1002),
    (server_frame(1, b"\xed\xa0\x80"), 1007),           # text that is not UTF-8
    (server_frame(8, b"\x03"), 1002),                   # a 1-byte close
    (server_frame(8, struct.pack(">H", 1005)), 1002),
    (server_frame(8, struct.pack(">H", 1000) + b"\xff"), 1007),
], ids=["masked", "rsv1", "opcode3", "orphan", "utf8", "close1byte", "close1005", "reason"])
def test_client_fails_with_the_close_code(bad, code):
    """§7.1.7: on a protocol error the client sends a close with the code of
    §7.4.1 before it closes TCP."""
    def play(s, frames):
        frames()
        s.sendall(bad)
    sc = Script(play)
    p = run_client(sc.port, "-s", "hi")
    sc.done()
    assert p.returncode == 1, p.stderr
    closes = [f for f in sc.got if f[1] == 8]
    assert closes and closes[0][2][:2] == struct.pack(">H", code), (sc.got, p.stderr)
    assert sc.eof
