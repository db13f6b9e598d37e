"""A raw HTTP/2 client for conformance tests (test_h2_conform*): frames
built by hand, valid or not, over a plain socket (h2c with prior knowledge)
or TLS with ALPN h2; what the server sends read back frame by frame, its
field blocks decoded with hpack.  Every wait is bounded (T seconds).  The
fixtures: a plaintext and a TLS server per module (each must exit cleanly),
and peer(srv, settings=...) making Peers closed after the test."""
import re
import socket
import ssl
import time

import hpack
import pytest
from hyperframe.frame import HeadersFrame

from conftest import Server
from test_serve import HOST, make_site

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
T = 10  # bound on any one wait: a hang fails one case, never the suite

DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WU, CONT = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
NO_ERROR, PROTOCOL, INTERNAL, FLOW, TIMEOUT, CLOSED, FRAME_SIZE, REFUSED, CANCEL, \
    COMPRESSION = range(10)
S_TABLE, S_PUSH, S_STREAMS, S_WINDOW, S_FRAME, S_LIST = range(1, 7)
S_NO_RFC7540_PRIORITIES = 9
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")


def frame(t, flags, sid, payload=b""):
    """Any frame, valid or not: 24-bit length, type, flags, 32-bit stream."""
    return len(payload).to_bytes(3, "big") + bytes([t, flags]) + sid.to_bytes(4, "big") + payload


def setting(ident, value):
    return ident.to_bytes(2, "big") + value.to_bytes(4, "big")


def u32(v):
    return v.to_bytes(4, "big")


# A request head in HPACK without the dynamic table (so that a raw block
# stays valid whatever the encoder did before): :method GET, :scheme http,
# :path (literal, indexed name 4), :authority localhost.
def raw_block(path=b"/a.txt", method=b"\x82"):
    return method + b"\x86" + b"\x04" + bytes([len(path)]) + path + b"\x01\x09localhost"


class Closed(Exception):
    pass


class Peer:
    """One raw HTTP/2 connection to the server.  Frames arrive as (type,
    flags, stream, payload); server header blocks go through one HPACK
    decoder so its table stays in step."""

    def __init__(self, srv, settings=(), preface=PREFACE, handshake=True):
        self.sock = socket.create_connection((HOST, srv.port), timeout=T)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if srv.tls:
            ctx = ssl._create_unverified_context()
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2"
        self.enc, self.dec = hpack.Encoder(), hpack.Decoder()
        self.buf = b""
        self.closed = False
        self.next_id = 1
        self.log = []  # every frame received, for the failure messages
        self.pings = 0
        self.server_settings = {}
        self.window = dict(settings).get(S_WINDOW, 65535)
        if preface is not None:
            self.send(preface + frame(SETTINGS, 0, 0, b"".join(setting(k, v) for k, v in settings)))
        if handshake:
            f = self.read_until(lambda f: f[0] == SETTINGS and not f[1] & ACK)
            p = f[3]
            self.server_settings = {int.from_bytes(p[i:i + 2], "big"):
                                    int.from_bytes(p[i + 2:i + 6], "big")
                                    for i in range(0, len(p), 6)}
            self.send(frame(SETTINGS, ACK, 0))

    # -- bytes
    def send(self, *frames):
        try:
            self.sock.sendall(b"".join(bytes(f) if not isinstance(f, bytes) else f
                                       for f in frames))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.closed = True  # the server already ended it: what it said is still to read

    def frame(self, timeout=T):
        """The next frame; Closed when the server closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    b = self.buf
                    f = (b[3], b[4], int.from_bytes(b[5:9], "big") & 0x7FFFFFFF, b[9:9 + n])
                    self.buf = b[9 + n:]
                    self.log.append(f[:3] + (f[3][:16], n))
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in %ss; got %r" % (timeout, self.log[-12:]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                raise Closed()
            self.buf += chunk

    def read_until(self, pred, timeout=T):
        """Frames until pred(frame) holds: that frame.  Header blocks are
        decoded on the way (f[4] then holds the fields of a HEADERS)."""
        deadline = time.monotonic() + timeout
        block, first = b"", None
        while True:
            f = self.frame(max(0.01, deadline - time.monotonic()))
            t, flags, sid, p = f
            if t in (HEADERS, CONT):
                if t == HEADERS:
                    if flags & PADDED:
                        p = p[1:len(p) - p[0]]
                    if flags & PRIO:
                        p = p[5:]
                    block, first = p, f
                else:
                    block += p
                if flags & END_HEADERS:
                    fields = [(k.decode() if isinstance(k, bytes) else k,
                               v.decode() if isinstance(v, bytes) else v)
                              for k, v in self.dec.decode(block)]
                    f = (HEADERS, first[1] | (flags & END_HEADERS), first[2], first[3], fields)
                else:
                    continue
            if pred(f):
                return f

    # -- requests
    def new_id(self):
        sid = self.next_id
        self.next_id += 2
        return sid

    def block(self, path="/a.txt", method="GET", extra=(), pseudo=None):
        fields = pseudo if pseudo is not None else [
            (":method", method), (":scheme", "http"), (":path", path),
            (":authority", "localhost")]
        return self.enc.encode(list(fields) + list(extra))

    def headers(self, sid, path="/a.txt", end_stream=True, method="GET", extra=(), pseudo=None):
        f = HeadersFrame(sid)
        f.data = self.block(path, method, extra, pseudo)
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    def response(self, sid, timeout=T):
        """Reads stream sid's answer to its end: (status, fields, body).
        Grants window for what it receives; an error frame fails."""
        status, fields, body = None, None, b""
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_until(lambda f: f[2] in (sid, 0), max(0.01, deadline - time.monotonic()))
            t, flags, _, p = f[:4]
            if t == RST and f[2] == sid:
                raise AssertionError("stream %d reset: %d" % (sid, int.from_bytes(p, "big")))
            if t == GOAWAY:
                raise AssertionError("GOAWAY %d" % int.from_bytes(p[4:8], "big"))
            if t == HEADERS and f[2] == sid:
                if status is None or status.startswith("1"):
                    fields = f[4]
                    status = dict(fields).get(":status")
            elif t == DATA and f[2] == sid:
                body += p[1:len(p) - p[0]] if flags & PADDED else p
                if p:
                    self.send(frame(WU, 0, 0, u32(len(p))), frame(WU, 0, sid, u32(len(p))))
            elif t == PING and not flags & ACK:
                self.send(frame(PING, ACK, 0, p))
            if f[2] == sid and flags & END_STREAM and t in (HEADERS, DATA):
                return status, fields, body

    def get_ok(self, path="/a.txt"):
        """A new stream on this connection is served (200)."""
        sid = self.new_id()
        self.send(self.headers(sid, path))
        if self.window < 16384:  # a peer made with a small initial window opens this stream's
            self.send(frame(WU, 0, sid, u32(1 << 20)))
        status, _, body = self.response(sid)
        assert status == "200", (status, self.log[-12:])
        return body

    # -- verdicts
    def error(self, timeout=T, want=(GOAWAY, RST)):
        """The first error the server sends: ("goaway", code, last_id) or
        ("rst", code, stream) or ("closed", None, None)."""
        try:
            while True:
                f = self.read_until(lambda f: f[0] in want, timeout)
                if f[0] == GOAWAY:
                    return "goaway", int.from_bytes(f[3][4:8], "big"), \
                        int.from_bytes(f[3][:4], "big") & 0x7FFFFFFF
                return "rst", int.from_bytes(f[3], "big"), f[2]
        except Closed:
            return "closed", None, None

    def expect_goaway(self, *codes):
        """A connection error: GOAWAY with one of codes, then the close (a
        RST_STREAM the error caused may come first)."""
        kind, code, _ = self.error(want=(GOAWAY,))
        assert (kind, code in codes) == ("goaway", True), \
            "want GOAWAY %s, got %s %s; frames %r" % (codes, kind, code, self.log[-12:])
        self.expect_close()

    def expect_close(self):
        try:
            while True:
                self.frame()
        except Closed:
            pass

    def expect_stream_error(self, sid, *codes):
        """RST_STREAM(sid) with one of codes, the connection then serving
        another stream; or (§5.4.1) a connection error with that code."""
        kind, code, which = self.error()
        if kind == "goaway":
            assert code in codes, "GOAWAY %s, want %s" % (code, codes)
            self.expect_close()
            return "goaway"
        assert (kind, which, code in codes) == ("rst", sid, True), \
            "want RST_STREAM(%d) %s, got %s %s on %s; frames %r" % (
                sid, codes, kind, code, which, self.log[-12:])
        self.get_ok()
        return "rst"

    def expect_alive(self):
        """The connection took what was sent without complaint: a PING
        comes back (nothing but answers before it), and a request is served."""
        self.pings += 1
        data = b"alive%03d" % self.pings
        self.send(frame(PING, 0, 0, data))
        try:
            f = self.read_until(lambda f: f[0] in (GOAWAY, RST) or
                                (f[0] == PING and f[1] & ACK and f[3] == data))
        except Closed:
            raise AssertionError("connection closed; frames %r" % self.log[-12:])
        assert f[0] == PING, "got %r" % (f[:3] + (f[3][:8],),)
        self.get_ok()

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- request shapes

def open_stream(p):
    """A request whose body is still to come: the stream is open."""
    sid = p.new_id()
    p.send(p.headers(sid, method="POST", end_stream=False))
    return sid


def half_closed(p):
    """A stream half-closed (remote) at the server: the request ended but
    its answer waits on a window of 0 (the peer is made with it)."""
    sid = p.new_id()
    p.send(p.headers(sid, "/big.bin"))
    p.read_until(lambda f: f[0] == HEADERS and f[2] == sid)
    return sid


def padded(t, flags, sid, body, pad):
    return frame(t, flags | PADDED, sid, bytes([pad]) + body + b"\0" * max(0, min(pad, 255)))


# ---------------------------------------------------------------- servers and peers (fixtures)

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = make_site(tmp_path_factory.mktemp("h2c") / "www")
    (r / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB
    return r


@pytest.fixture(scope="module")
def plain(root):
    s = Server(["serve", "0", "-b", HOST, "-d", str(root), "--quiet"])
    s.tls = False
    yield s
    assert s.stop() == 0, s.output()[-3000:]  # a clean exit (a sanitizer's report is not)


@pytest.fixture(scope="module")
def tls(root):
    s = Server(["serve", "0", "-b", HOST, "-d", str(root), "--quiet", "--tls-self-signed"],
               ready=HTTPS_RE)
    s.tls = True
    yield s
    assert s.stop() == 0, s.output()[-3000:]


@pytest.fixture(params=["plain", "tls"])
def both(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def peer(plain):
    made = []

    def make(srv=plain, **kw):
        p = Peer(srv, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
