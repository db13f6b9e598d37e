"""HTTP/2 (issue 9) against real peers: curl (--http2 over TLS,
--http2-prior-knowledge on a plaintext port), nghttp, h2load and python3-h2
for raw frames.  Static files, ranges, validators, listings and handlers
answer the same over h2 as over HTTP/1.1; the attacks of RFC 9113's era
(rapid reset, CONTINUATION floods, endless SETTINGS/PING) end in a GOAWAY
while other clients go on being served; a drain lets streams finish."""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import BUILD, Server
from test_serve import HOST, T, get, make_site

h2 = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")
H2LOAD = shutil.which("h2load")
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")
UPLOAD = os.path.join(BUILD, "examples", "upload")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = make_site(tmp_path_factory.mktemp("h2") / "www")
    (r / "big.bin").write_bytes(os.urandom(3 << 20))
    return r


@pytest.fixture
def tls(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--tls-self-signed", "--quiet",
               ready=HTTPS_RE)
    s.url = "https://127.0.0.1:%d" % s.port
    return s


@pytest.fixture
def plain(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet")
    s.url = "http://127.0.0.1:%d" % s.port
    return s


def curl(*args, timeout=30):
    p = subprocess.run([CURL, "-sS", "-k"] + list(args), capture_output=True, timeout=timeout)
    return p


def curl_h2(srv, path, *extra):
    mode = "--http2" if srv.url.startswith("https") else "--http2-prior-knowledge"
    return curl(mode, "-w", "\n%{http_version} %{http_code}", *extra, srv.url + path)


def split(out):
    body, _, tail = out.rpartition(b"\n")
    version, code = tail.decode().split()
    return body, version, int(code)


# ---------------------------------------------------------------- real clients

needs_curl = pytest.mark.skipif(not CURL, reason="curl")


@needs_curl
@pytest.mark.parametrize("kind", ["tls", "plain"])
def test_curl_get_head_and_errors(kind, request, root):
    srv = request.getfixturevalue(kind)
    body, ver, code = split(curl_h2(srv, "/a.txt").stdout)
    assert (ver, code, body) == ("2", 200, b"hello, a\n")
    _, ver, code = split(curl_h2(srv, "/nope").stdout)
    assert (ver, code) == ("2", 404)
    p = curl_h2(srv, "/a.txt", "-I")
    assert b"HTTP/2 200" in p.stdout and b"content-length: 9" in p.stdout.lower()
    assert b"connection:" not in p.stdout.lower() and b"keep-alive" not in p.stdout.lower()
    body, ver, code = split(curl_h2(srv, "/").stdout)
    assert code == 200 and b"a.txt" in body  # the listing
    _, ver, code = split(curl_h2(srv, "/a.txt", "-X", "DELETE").stdout)
    assert code == 405


@needs_curl
@pytest.mark.parametrize("kind", ["tls", "plain"])
def test_curl_large_file_ranges_and_validators(kind, request, root, tmp_path):
    srv = request.getfixturevalue(kind)
    out = tmp_path / "big"
    p = curl_h2(srv, "/big.bin", "-o", str(out))
    assert split(p.stdout)[1:] == ("2", 200)
    assert hashlib.sha256(out.read_bytes()).digest() == \
        hashlib.sha256((root / "big.bin").read_bytes()).digest()
    body, _, code = split(curl_h2(srv, "/big.bin", "-r", "100-199").stdout)
    assert code == 206 and body == (root / "big.bin").read_bytes()[100:200]
    body, _, code = split(curl_h2(srv, "/big.bin", "-r", "0-9,1000-1009").stdout)
    data = (root / "big.bin").read_bytes()
    assert code == 206 and data[0:10] in body and data[1000:1010] in body
    head = curl_h2(srv, "/a.txt", "-D", "-", "-o", "/dev/null").stdout
    etag = re.search(rb"etag: (\S+)", head, re.I).group(1).decode()
    _, _, code = split(curl_h2(srv, "/a.txt", "-H", "If-None-Match: " + etag).stdout)
    assert code == 304


@pytest.mark.skipif(not NGHTTP, reason="nghttp (nghttp2-client)")
@pytest.mark.parametrize("kind", ["tls", "plain"])
def test_nghttp_many_streams_on_one_connection(kind, request):
    srv = request.getfixturevalue(kind)
    urls = ["%s%s?i=%d" % (srv.url, p, i)
            for i, p in enumerate(["/a.txt", "/b.txt", "/big.bin", "/sub/x.txt"] * 5)]
    p = subprocess.run([NGHTTP, "-n", "-s"] + urls, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr[-500:]
    # the statistics: one line per stream, each with its status
    assert len(re.findall(rb" 200 +\S+ /\S+\?i=\d+", p.stdout)) == 20, p.stdout[-1500:]


@pytest.mark.skipif(not H2LOAD, reason="h2load (nghttp2-client)")
@pytest.mark.parametrize("kind", ["tls", "plain"])
def test_h2load_every_request_answered(kind, request):
    srv = request.getfixturevalue(kind)
    p = subprocess.run([H2LOAD, "-n", "20000", "-c", "10", "-m", "10", srv.url + "/a.txt"],
                       capture_output=True, timeout=120)
    out = p.stdout.decode()
    assert "20000 succeeded, 0 failed, 0 errored" in out, out[-800:]
    assert "20000 2xx" in out


@needs_curl
def test_no_h2_keeps_http11(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--tls-self-signed", "--no-h2",
               "--quiet", ready=HTTPS_RE)
    p = curl("--http2", "-w", "\n%{http_version}", "https://127.0.0.1:%d/a.txt" % s.port)
    assert p.stdout.endswith(b"\n1.1")
    s2 = server("serve", "0", "-b", HOST, "-d", str(root), "--no-h2", "--quiet")
    p = curl("--http2-prior-knowledge", "https://127.0.0.1:%d/a.txt" % s2.port)
    assert p.returncode != 0  # no h2c either


@needs_curl
def test_h2c_upload_to_a_handler(root, tmp_path):
    """A request body over h2 reaches a handler whole (examples/upload)."""
    srv = Server(["0", str(root), "100000"], exe=UPLOAD)
    try:
        data = os.urandom(70000)
        (tmp_path / "up").write_bytes(data)
        p = curl("--http2-prior-knowledge", "--data-binary", "@" + str(tmp_path / "up"),
                 "-H", "Content-Type: application/octet-stream",
                 "http://127.0.0.1:%d/upload" % srv.port)
        assert p.stdout == data
        (tmp_path / "big").write_bytes(b"x" * 200000)
        p = curl("--http2-prior-knowledge", "--data-binary", "@" + str(tmp_path / "big"),
                 "-w", "%{http_code}", "-o", "/dev/null", "http://127.0.0.1:%d/upload" % srv.port)
        assert p.stdout == b"413"
    finally:
        srv.kill()


def test_http11_still_served_on_the_h2c_port(plain):
    assert get(plain.port, "/a.txt").body == b"hello, a\n"


# ---------------------------------------------------------------- raw frames (python3-h2)

class H2Client:
    def __init__(self, port, tls=False):
        self.sock = socket.create_connection((HOST, port), timeout=T)
        if tls:
            ctx = ssl._create_unverified_context()
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(self, path, method="GET", extra=()):
        return [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", "localhost")] + list(extra)

    def events(self, until, timeout=T):
        """Reads until until(events so far) is true or the server closes
        (self.closed tells which)."""
        got = []
        self.closed = False
        deadline = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        while not until(got) and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                self.closed = True
                break
            except socket.timeout:
                break
            if not data:
                self.closed = True
                break
            try:
                evs = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                # python-h2 takes a GOAWAY for the end: frames after it are
                # its error, not the server's (streams <= last-stream-id go on)
                self.closed = True
                break
            for ev in evs:
                got.append(ev)
                if isinstance(ev, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            self.flush()
        return got

    def close(self):
        self.sock.close()


def ended(ids):
    return lambda evs: ids <= {e.stream_id for e in evs if isinstance(e, h2.events.StreamEnded)}


def goaway(evs):
    return any(isinstance(e, h2.events.ConnectionTerminated) for e in evs)


@pytest.mark.parametrize("tls_", [False, True])
def test_raw_streams_answered_in_any_order(root, server, tls_):
    if tls_:
        s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet", "--tls-self-signed",
                   ready=HTTPS_RE)
    else:
        s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet")
    c = H2Client(s.port, tls=tls_)
    ids = []
    for path in ["/a.txt", "/b.txt", "/nope", "/a.txt"]:
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, c.headers(path), end_stream=True)
        ids.append(sid)
    c.flush()
    evs = c.events(ended(set(ids)))
    status = {e.stream_id: dict(e.headers)[b":status"] for e in evs
              if isinstance(e, h2.events.ResponseReceived)}
    assert [status[i] for i in ids] == [b"200", b"200", b"404", b"200"]
    body = b"".join(e.data for e in evs if isinstance(e, h2.events.DataReceived)
                    and e.stream_id == ids[0])
    assert body == b"hello, a\n"
    c.close()


def test_rapid_reset_ends_in_goaway_and_others_are_served(plain):
    """CVE-2023-44487: streams opened and reset at once, thousands of them."""
    c = H2Client(plain.port)
    for _ in range(3000):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, c.headers("/big.bin"), end_stream=True)
        c.conn.reset_stream(sid)
        if sid % 200 == 1:
            try:
                c.flush()
            except (BrokenPipeError, ConnectionResetError):
                break
    try:
        c.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    evs = c.events(goaway, timeout=5)
    c.close()
    # nghttp2's reset rate limit (Debian's 1.52 has it) ends the connection
    assert goaway(evs) or c.closed, "3000 rapid resets were taken"
    assert plain.alive()
    assert get(plain.port, "/a.txt").body == b"hello, a\n"


def test_continuation_flood_is_cut(plain):
    c = H2Client(plain.port)
    # HEADERS without END_HEADERS, then CONTINUATION frames for ever
    frame = lambda t, flags, sid, payload: (len(payload).to_bytes(3, "big") + bytes([t, flags]) +
                                            sid.to_bytes(4, "big") + payload)
    c.sock.sendall(frame(1, 0x1, 1, b"\x82"))  # :method GET, END_STREAM, no END_HEADERS
    sent = 0
    try:
        for _ in range(20000):
            c.sock.sendall(frame(9, 0, 1, b"\x00" * 16))
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    evs = c.events(goaway, timeout=5)
    c.close()
    assert sent < 20000 or goaway(evs) or c.closed, "20000 CONTINUATION frames were taken"
    assert get(plain.port, "/a.txt").status == 200


def test_ping_flood_never_read_is_bounded(plain):
    """A client that sends PINGs and reads none of their acks: the server
    stops after a bounded backlog of acks and ends with GOAWAY
    ENHANCE_YOUR_CALM, then drops what still comes (bounded in time)."""
    c = H2Client(plain.port)
    ping = (8).to_bytes(3, "big") + bytes([6, 0]) + (0).to_bytes(4, "big") + b"12345678"
    c.sock.settimeout(5)
    try:
        for _ in range(20000):  # 17 MB of PINGs at most
            c.sock.sendall(ping * 50)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    codes = [int.from_bytes(pl[4:8], "big")
             for t, _, _, pl in raw_frames(c.sock, lambda: False, None, timeout=5) if t == 7]
    c.close()
    assert codes and codes[-1] == 0xB, codes  # ENHANCE_YOUR_CALM
    assert get(plain.port, "/a.txt").status == 200


def test_client_that_never_opens_its_window_costs_little(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet", "--workers", "1")
    conns = []
    for _ in range(30):
        c = H2Client(s.port)
        for _ in range(10):
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, c.headers("/big.bin"), end_stream=True)
        c.flush()
        conns.append(c)
    time.sleep(1)
    rss = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % s.proc.pid).read()).group(1))
    assert rss < 100 * 1024, "%d KiB with 300 stalled 3 MiB streams" % rss
    assert get(s.port, "/a.txt").status == 200
    for c in conns:
        c.close()


def raw_frames(sock, until, window_for, timeout=T):
    """Reads HTTP/2 frames off sock without a state machine (python-h2 stops
    at a GOAWAY, which a drain sends while streams go on): yields (type,
    flags, stream, payload), granting window for every DATA frame."""
    buf = b""
    sock.settimeout(timeout)
    while not until():
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            t, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = buf[9:9 + n], buf[9 + n:]
            if t == 0 and n:
                try:  # WINDOW_UPDATE for the connection and the stream
                    for s_ in (0, sid):
                        sock.sendall((4).to_bytes(3, "big") + bytes([8, 0]) +
                                     s_.to_bytes(4, "big") + n.to_bytes(4, "big"))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server is done sending; what it sent is still to be read
            yield t, flags, sid, payload


def test_drain_lets_streams_finish(root, server):
    """SIGTERM during an h2 download: a GOAWAY names the stream as taken, the
    stream completes whole, then the server exits 0."""
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet", "--workers", "1")
    c = H2Client(s.port)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, c.headers("/big.bin"), end_stream=True)
    c.flush()
    body, state = bytearray(), {"goaway": False, "end": False}
    signalled = False
    for t, flags, fsid, payload in raw_frames(c.sock, lambda: state["end"], None, timeout=20):
        if t == 0 and fsid == sid:
            body += payload
            if flags & 1:
                state["end"] = True
            if not signalled:  # the download is under way: drain now
                s.proc.send_signal(signal.SIGTERM)
                signalled = True
        elif t == 7:
            state["goaway"] = True
            assert int.from_bytes(payload[:4], "big") == sid  # last stream taken
            assert int.from_bytes(payload[4:8], "big") == 0  # NO_ERROR
    c.close()
    assert signalled and state["goaway"] and state["end"]
    assert hashlib.sha256(bytes(body)).digest() == \
        hashlib.sha256((root / "big.bin").read_bytes()).digest()
    assert s.proc.wait(15) == 0


@pytest.mark.parametrize("tls_", [False, True])
def test_backed_up_connection_keeps_its_bytes_while_others_are_served(server, tmp_path, tls_):
    """A client that stops reading fills its socket.  The worker's
    connections make their frames in one shared buffer: what the socket did
    not take must wait on its own connection, intact, while the worker
    serves another one; then every body arrives whole, in-memory files and
    file regions alike."""
    import fcntl
    import termios
    import h2.settings
    r = make_site(tmp_path / "www")
    small, big = os.urandom(4096), os.urandom(2 << 20)
    (r / "k4.bin").write_bytes(small)
    (r / "big.bin").write_bytes(big)
    args = ["serve", "0", "-b", HOST, "-d", str(r), "--quiet", "--workers", "1"]
    s = server(*args, "--tls-self-signed", ready=HTTPS_RE) if tls_ else server(*args)
    a = H2Client(s.port, tls=tls_)
    # a's windows wide open: the server sends until the socket takes no more
    a.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    a.conn.increment_flow_control_window(2**31 - 1 - 65535)
    want = {}
    for path in ["/k4.bin", "/big.bin"] * 4:
        sid = a.conn.get_next_available_stream_id()
        a.conn.send_headers(sid, a.headers(path), end_stream=True)
        want[sid] = small if path == "/k4.bin" else big
    a.flush()
    # until the bytes stop arriving, far short of the 8 MiB asked for (more
    # than both sockets' buffers hold): the server's side is backed up
    queued, last, deadline = 0, -1, time.monotonic() + T
    while time.monotonic() < deadline and (queued != last or queued < 64 << 10):
        last = queued
        time.sleep(0.2)
        queued = int.from_bytes(fcntl.ioctl(a.sock.fileno(), termios.FIONREAD, b"\0" * 4),
                                "little")
    assert 64 << 10 <= queued < 8 << 20, queued
    b = H2Client(s.port, tls=tls_)
    bids = []
    for _ in range(10):
        sid = b.conn.get_next_available_stream_id()
        b.conn.send_headers(sid, b.headers("/k4.bin"), end_stream=True)
        bids.append(sid)
    b.flush()
    evs = b.events(ended(set(bids)))
    for sid in bids:
        assert b"".join(e.data for e in evs if isinstance(e, h2.events.DataReceived)
                        and e.stream_id == sid) == small
    b.close()
    evs = a.events(ended(set(want)), timeout=60)
    a.close()
    for sid, body in want.items():
        got = b"".join(e.data for e in evs if isinstance(e, h2.events.DataReceived)
                       and e.stream_id == sid)
        assert len(got) == len(body) and got == body, sid
