"""`berth echo --ws --ws-deflate` (issue 12): the client's permessage-deflate
(RFC 7692) against `berth echo-server --ws`, Python's `websockets` server,
and a strict raw-socket peer of this file that answers the handshake as a
test says, inflates the client's messages with exactly the agreed window
(zlib refuses a distance past it) and context (a fresh decompressor per
message under client_no_context_takeover), and compresses its echoes with
the agreed window and context.  The raw peer's wrong answers must fail the
connection with an error naming the cause (§5, §7.1)."""
import asyncio
import os
import random
import re
import socket
import struct
import subprocess
import threading
import zlib

import pytest
import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from conftest import BERTH as BERTH_EXE, run_berth
from test_ws import start_echo

T = 30  # bound on any one wait (loaded machines)
TAIL = b"\x00\x00\xff\xff"


def text(seed, n=6000):
    """Text whose repeats lie a few hundred to a few thousand bytes apart:
    a compressor with a window larger than agreed would reach past it."""
    r = random.Random(seed)
    words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 9)))
             for _ in range(150)]
    out = []
    while sum(len(w) + 1 for w in out) < n:
        out.append(r.choice(words))
    return " ".join(out)[:n]


def client(url, *args, input=None):
    return subprocess.run([BERTH_EXE, "echo", "--ws", url] + list(args), input=input,
                          capture_output=True, timeout=T * 2)


def agreed(stderr):
    m = re.search(rb"permessage-deflate: (.*)", stderr)
    return m.group(1).decode() if m else None


# ---- a strict raw peer ----

class Raw:
    """A one-connection-at-a-time WebSocket echo server on a raw socket.
    answer(offer) returns the Sec-WebSocket-Extensions lines to send (a list;
    empty: none) and the agreement to run with: a dict with server_bits,
    client_bits, server_no_ctx, client_no_ctx (None: no compression)."""

    def __init__(self, answer):
        self.answer = answer
        self.offers, self.messages, self.errors, self.rsv1 = [], [], [], []
        self.sizes = []  # the client's messages as sent (compressed)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = "ws://127.0.0.1:%d/" % self.port
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(T)
                self.serve(c)
            except Exception as e:  # recorded: the test asserts there is none
                self.errors.append(repr(e))
            finally:
                c.close()

    @staticmethod
    def read(c, n, buf):
        while len(buf) < n:
            d = c.recv(65536)
            if not d:
                raise EOFError("the client closed")
            buf += d
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def serve(self, c):
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        buf = bytearray(rest)
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            fields.setdefault(k.strip().lower(), []).append(v.strip().decode())
        offer = ", ".join(fields.get(b"sec-websocket-extensions", []))
        self.offers.append(offer)
        import base64
        import hashlib
        key = fields[b"sec-websocket-key"][0]
        acc = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        lines, conf = self.answer(offer)
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n" % (
                       acc, "".join("Sec-WebSocket-Extensions: %s\r\n" % x for x in lines))
                   ).encode())
        inf = comp = None
        if conf:
            inf = zlib.decompressobj(wbits=-conf["client_bits"])
            # zlib has no 8-bit raw deflate; its 9 reaches back 250 bytes at most
            comp = zlib.compressobj(wbits=-max(9, conf["server_bits"]))
        while True:
            try:
                b0, b1 = self.read(c, 2, buf)
            except EOFError:
                return
            n = b1 & 127
            if n == 126:
                n = struct.unpack("!H", self.read(c, 2, buf))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read(c, 8, buf))[0]
            assert b1 & 0x80, "an unmasked frame from the client"
            mask = self.read(c, 4, buf)
            p = bytes(x ^ mask[i % 4] for i, x in enumerate(self.read(c, n, buf)))
            op, rsv1 = b0 & 15, bool(b0 & 0x40)
            if op == 8:
                c.sendall(bytes([0x88, len(p)]) + p)
                return
            assert b0 & 0x80, "a fragment"
            self.rsv1.append(rsv1)
            self.sizes.append(len(p))
            if rsv1:
                assert conf, "RSV1 without permessage-deflate"
                if conf["client_no_ctx"]:
                    inf = zlib.decompressobj(wbits=-conf["client_bits"])
                p = inf.decompress(p + TAIL)
            self.messages.append(p)
            if conf:
                if conf["server_no_ctx"]:
                    comp = zlib.compressobj(wbits=-max(9, conf["server_bits"]))
                z = comp.compress(p) + comp.flush(zlib.Z_SYNC_FLUSH)
                assert z.endswith(TAIL)
                out, b0 = z[:-4] or b"\x00", 0xC0 | op
            else:
                out, b0 = p, 0x80 | op
            hl = bytes([b0, len(out)]) if len(out) < 126 else \
                bytes([b0, 126]) + struct.pack("!H", len(out)) if len(out) < 65536 else \
                bytes([b0, 127]) + struct.pack("!Q", len(out))
            c.sendall(hl + out)

    def close(self):
        self.sock.close()


def strict(server_bits=None, client_bits=None, server_no_ctx=False, client_no_ctx=False):
    """An answer that agrees to what is given (None: the parameter not sent),
    checking that the client offered permessage-deflate at all."""
    def answer(offer):
        if "permessage-deflate" not in offer:
            return [], None
        ps = ["permessage-deflate"]
        if server_no_ctx:
            ps.append("server_no_context_takeover")
        if client_no_ctx:
            ps.append("client_no_context_takeover")
        if server_bits:
            ps.append("server_max_window_bits=%d" % server_bits)
        if client_bits:
            ps.append("client_max_window_bits=%d" % client_bits)
        return ["; ".join(ps)], dict(server_bits=server_bits or 15, client_bits=client_bits or 15,
                                     server_no_ctx=server_no_ctx, client_no_ctx=client_no_ctx)
    return answer


@pytest.mark.parametrize("sb,cb", [(8, 8), (15, 15), (8, 15), (15, 8), (10, 9)])
def test_windows_are_kept_to_exactly(sb, cb):
    """Every window edge, each way: the raw peer inflates with exactly the
    client's agreed window (a larger one's distances fail it) and compresses
    with its own (the client must keep its context: context takeover)."""
    raw = Raw(strict(server_bits=sb, client_bits=cb))
    try:
        msg = text(sb * 100 + cb)
        p = client(raw.url, "--ws-deflate", "--server-max-window-bits", str(sb),
                   "--client-max-window-bits", str(cb), "-n", "3", "-s", msg)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == (msg + "\n") * 3
        assert raw.errors == [], raw.errors
        assert raw.rsv1 == [True] * 3                  # compressed, each of them
        assert raw.messages == [msg.encode()] * 3
        assert raw.offers[0] == ("permessage-deflate; server_max_window_bits=%d; "
                                 "client_max_window_bits=%d" % (sb, cb))
        assert "server_max_window_bits=%d" % sb in agreed(p.stderr)
    finally:
        raw.close()


@pytest.mark.parametrize("side", ["client", "server", "both"])
def test_no_context_takeover(side):
    """client_no_context_takeover: each message of the client must inflate
    on its own (the same message thrice would otherwise be a back-reference
    to the one before); server_no_context_takeover asked and answered; and a
    client_no_context_takeover the server adds unasked is kept to."""
    sn, cn = side in ("server", "both"), side in ("client", "both")
    raw = Raw(strict(server_no_ctx=sn, client_no_ctx=cn))
    try:
        msg = text(7, 2000)
        args = ["--ws-deflate", "-n", "3", "-s", msg]
        if sn:
            args.insert(1, "--server-no-context-takeover")
        p = client(raw.url, *args)                     # the client's side: the server's demand
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == (msg + "\n") * 3
        assert raw.errors == [], raw.errors
        assert raw.messages == [msg.encode()] * 3 and raw.rsv1 == [True] * 3
        assert ("server_no_context_takeover" in raw.offers[0]) == sn
    finally:
        raw.close()


def test_context_is_taken_over_when_agreed():
    """Without no_context_takeover the client keeps its compressor's context:
    the same message again compresses to a few bytes (the raw peer's kept
    decompressor reads it), and it reads the peer's echoes likewise."""
    raw = Raw(strict())
    try:
        msg = text(11, 3000)
        p = client(raw.url, "--ws-deflate", "-n", "2", "-s", msg)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == (msg + "\n") * 2
        assert raw.errors == [] and raw.messages == [msg.encode()] * 2, raw.errors
        assert raw.sizes[1] * 10 < raw.sizes[0], raw.sizes
    finally:
        raw.close()


BAD = [
    # (the server's extension lines, what the error names)
    (["x-webkit-deflate-frame"], "x-webkit-deflate-frame"),
    (["permessage-deflate", "permessage-deflate"], "twice"),
    (["permessage-deflate, permessage-deflate"], "twice"),
    (["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
     "repeats server_no_context_takeover"),
    (["permessage-deflate; client_max_window_bits=9; client_max_window_bits=9"],
     "repeats client_max_window_bits"),
    (["permessage-deflate; foo=1"], "unknown parameter foo"),
    (["permessage-deflate; server_max_window_bits=16"], "server_max_window_bits=16"),
    (["permessage-deflate; server_max_window_bits=7"], "server_max_window_bits=7"),
    (["permessage-deflate; server_max_window_bits=09"], "server_max_window_bits=09"),
    (["permessage-deflate; server_max_window_bits"], "server_max_window_bits=(none)"),
    (["permessage-deflate; client_max_window_bits"], "client_max_window_bits=(none)"),
    (["permessage-deflate; client_no_context_takeover=1"], "gives client_no_context_takeover"),
    (["permessage-deflate; server_max_window_bits=\"1 0\""], "not a token"),
    (["permessage-deflate; =1"], "without a name"),
    (["permessage-deflate x"], "malformed"),
]


@pytest.mark.parametrize("lines,named", BAD, ids=[b[1] for b in BAD])
def test_bad_answers_fail_the_connection(lines, named):
    raw = Raw(lambda offer: (lines, None))
    try:
        p = client(raw.url, "--ws-deflate", "-s", "hi")
        err = p.stderr.decode()
        assert p.returncode == 1 and p.stdout == b"", err
        assert named in err and "RFC" in err and "fix" in err, err
        assert raw.messages == []                      # nothing was sent on it
    finally:
        raw.close()


ASKED = [
    # (the client's options, the server's answer, what the error names)
    (["--server-max-window-bits", "10"], "permessage-deflate; server_max_window_bits=11",
     "server_max_window_bits=11 is above the 10 asked for"),
    (["--server-max-window-bits", "10"], "permessage-deflate",
     "without the server_max_window_bits=10 asked for"),
    (["--client-max-window-bits", "10"], "permessage-deflate; client_max_window_bits=12",
     "client_max_window_bits=12 is above the 10 offered"),
    (["--server-no-context-takeover"], "permessage-deflate",
     "without the server_no_context_takeover asked for"),
]


@pytest.mark.parametrize("opts,line,named", ASKED, ids=[a[2][:30] for a in ASKED])
def test_answers_beyond_the_offer_fail_the_connection(opts, line, named):
    raw = Raw(lambda offer: ([line], None))
    try:
        p = client(raw.url, "--ws-deflate", *opts, "-s", "hi")
        assert p.returncode == 1 and named in p.stderr.decode(), p.stderr
        assert raw.messages == []
    finally:
        raw.close()


def test_an_extension_not_offered_fails_the_connection():
    """Without --ws-deflate nothing is offered: any extension answered fails."""
    raw = Raw(lambda offer: (["permessage-deflate"], None))
    try:
        p = client(raw.url, "-s", "hi")
        err = p.stderr.decode()
        assert p.returncode == 1 and "permessage-deflate" in err and "did not offer" in err, err
        assert raw.offers == [""] and raw.messages == []
    finally:
        raw.close()


def test_a_quoted_value_and_an_added_client_no_context_takeover_are_fine():
    """RFC 7692 §7.1: a value may be a quoted-string; the server may add
    client_no_context_takeover unasked (the client then resets its own)."""
    def answer(offer):
        return (['permessage-deflate; client_no_context_takeover; server_max_window_bits="9"'],
                dict(server_bits=9, client_bits=15, server_no_ctx=False, client_no_ctx=True))
    raw = Raw(answer)
    try:
        msg = text(3, 1500)
        p = client(raw.url, "--ws-deflate", "-n", "3", "-s", msg)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode() == (msg + "\n") * 3
        assert raw.errors == [] and raw.messages == [msg.encode()] * 3, raw.errors
    finally:
        raw.close()


# ---- berth's own echo server ----

def test_against_berth_echo_server(server):
    e = start_echo(server)
    url = "ws://127.0.0.1:%d/" % e.port
    msg = text(5, 50000)
    p = client(url, "-s", msg)                         # none offered: none agreed
    assert p.returncode == 0 and p.stdout.decode() == msg + "\n", p.stderr
    assert b"permessage-deflate" not in p.stderr
    p = client(url, "--ws-deflate", "-n", "2", "-s", msg)
    assert p.returncode == 0 and p.stdout.decode() == (msg + "\n") * 2, p.stderr
    # berth's server keeps to 4 KiB windows where it may choose
    assert agreed(p.stderr) == ("permessage-deflate; server_max_window_bits=12; "
                                "client_max_window_bits=12")
    for sb, cb in [(8, 8), (15, 15), (8, 15), (15, 8)]:
        p = client(url, "--ws-deflate", "--server-max-window-bits", str(sb),
                   "--client-max-window-bits", str(cb), "--server-no-context-takeover",
                   "--client-no-context-takeover", "-n", "2", "-s", msg)
        assert p.returncode == 0 and p.stdout.decode() == (msg + "\n") * 2, p.stderr
        a = agreed(p.stderr)
        assert "server_max_window_bits=%d" % min(sb, 12) in a, a
        assert "client_max_window_bits=%d" % min(cb, 12) in a, a
        assert "server_no_context_takeover" in a and "client_no_context_takeover" in a, a
    # binary from standard input, 1 MiB, compressible
    data = (text(9, 4000).encode() + os.urandom(64)) * 256
    p = client(url, "--ws-deflate", "--binary", input=data)
    assert p.returncode == 0 and p.stdout == data, p.stderr
    # many connections: the summary says what was agreed
    p = client(url, "--ws-deflate", "--connections", "4", "--messages", "200", "--size", "3000")
    out = p.stdout.decode()
    assert p.returncode == 0 and "800 messages" in out, p.stderr
    assert "permessage-deflate on 4: permessage-deflate; server_max_window_bits=12" in out, out
    p = client(url, "--connections", "2", "--messages", "10", "--size", "100")
    assert p.returncode == 0 and "permessage-deflate" not in p.stdout.decode(), p.stdout


def test_usage_errors():
    def err(*args):
        p = run_berth("echo", *args)
        return p.returncode, p.stderr.decode()
    rc, e = err("--ws", "ws://127.0.0.1:1/", "--server-max-window-bits", "9")
    assert rc == 2 and "add --ws-deflate" in e, e
    rc, e = err("--ws", "ws://127.0.0.1:1/", "--ws-deflate", "--client-max-window-bits", "16")
    assert rc == 2 and "8 to 15 bits" in e, e
    rc, e = err("--ws-deflate", "-s", "x")
    assert rc == 2 and "--ws URL" in e, e


# ---- Python's websockets as the server ----

class PyServer:
    """websockets' echo server on a thread, with the given extensions; each
    connection's agreed extensions are recorded."""

    def __init__(self, **kw):
        self.agreed, self.got = [], []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def handler(ws, path=None):
            self.agreed.append([(type(x).__name__, x.remote_max_window_bits,
                                 x.local_max_window_bits, x.remote_no_context_takeover,
                                 x.local_no_context_takeover) for x in ws.extensions])
            async for m in ws:
                self.got.append(m)
                await ws.send(m)

        def run():
            asyncio.set_event_loop(self.loop)
            self.srv = self.loop.run_until_complete(
                websockets.serve(handler, "127.0.0.1", 0, max_size=None, **kw))
            self.port = self.srv.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(T)
        self.url = "ws://127.0.0.1:%d/" % self.port

    def close(self):
        async def stop():
            self.srv.close()
            await self.srv.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(T)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(T)


def test_python_server_without_and_with_deflate():
    msg = text(21, 20000)
    py = PyServer(compression=None)
    try:
        p = client(py.url, "--ws-deflate", "-s", msg)  # offered, declined: uncompressed
        assert p.returncode == 0 and p.stdout.decode() == msg + "\n", p.stderr
        assert b"declined by the server" in p.stderr
        assert py.agreed == [[]] and py.got == [msg]
    finally:
        py.close()
    py = PyServer()                                    # websockets' default: deflate, 12 bits
    try:
        p = client(py.url, "-s", msg)
        assert p.returncode == 0 and p.stdout.decode() == msg + "\n", p.stderr
        p = client(py.url, "--ws-deflate", "-n", "3", "-s", msg)
        assert p.returncode == 0 and p.stdout.decode() == (msg + "\n") * 3, p.stderr
        assert py.agreed[0] == [] and py.agreed[1] == [("PerMessageDeflate", 12, 12, False, False)]
        assert py.got == [msg] * 4
    finally:
        py.close()


@pytest.mark.parametrize("sb,cb,sn,cn", [(9, 8, False, False), (15, 15, False, False),
                                         (15, 8, True, True), (9, 15, True, False),
                                         (12, 9, False, True)])
def test_python_server_windows_and_contexts(sb, cb, sn, cn):
    """websockets inflates with exactly the agreed client window (8 too) and
    a fresh decompressor per message under client_no_context_takeover; it
    has no 8-bit compressor (zlib has none), so its own window starts at 9."""
    py = PyServer(extensions=[ServerPerMessageDeflateFactory(
        server_max_window_bits=sb, client_max_window_bits=cb, server_no_context_takeover=sn,
        client_no_context_takeover=cn)])
    try:
        msg = text(sb * cb, 8000)
        p = client(py.url, "--ws-deflate", "-n", "3", "-s", msg)
        assert p.returncode == 0 and p.stdout.decode() == (msg + "\n") * 3, p.stderr
        assert py.agreed == [[("PerMessageDeflate", cb, sb, cn, sn)]], py.agreed
        a = agreed(p.stderr)
        assert "server_max_window_bits=%d" % sb in a and "client_max_window_bits=%d" % cb in a
        p = client(py.url, "--ws-deflate", "--connections", "3", "--messages", "100",
                   "--size", "2000")
        assert p.returncode == 0 and "300 messages" in p.stdout.decode(), p.stderr
    finally:
        py.close()
