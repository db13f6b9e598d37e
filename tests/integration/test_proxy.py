"""berth serve --proxy-protocol: every connection begins with a PROXY protocol
header (haproxy's doc/proxy-protocol.txt), v1 text or v2 binary, built here
byte by byte.  The client it names is the one the access log shows; the
header may be split anywhere across segments and may share its last
segment with the request (or the TLS ClientHello, or the HTTP/2 preface);
LOCAL, UNKNOWN and UNSPEC keep the socket's own address.  A connection
without a valid header is closed with no answer: at once for garbage,
within --header-timeout for silence or a trickle.  HAProxy itself in front
(send-proxy-v2), when installed, checks the whole path end to end."""
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import Server

HOST = "127.0.0.1"
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
T = 10.0  # generous: a loaded 2-core machine
REQ = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def v1(proto, src="", dst="", sport=0, dport=0):
    if proto == "UNKNOWN":
        return b"PROXY UNKNOWN\r\n"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def tlvs():
    """Two TLVs the server must skip: ALPN (0x01) and a NOOP (0x04)."""
    return b"\x01\x00\x02h2" + b"\x04\x00\x05" + b"\xab" * 5


def v2(cmd, fam, src=None, dst=None, sport=0, dport=0, extra=b""):
    """cmd 0 LOCAL / 1 PROXY; fam 0x11 TCP4, 0x21 TCP6, 0x00 UNSPEC."""
    if fam == 0x11:
        block = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
        block += struct.pack("!HH", sport, dport)
    elif fam == 0x21:
        block = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        block += struct.pack("!HH", sport, dport)
    else:
        block = b""
    block += extra
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(block)) + block


def recv_all(s, timeout=T):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        out += d
    return out


def send_split(port, data, at):
    """Sends data[:at], then the rest, as separate segments (TCP_NODELAY and
    a short pause between them, so the server reads them apart)."""
    s = socket.create_connection((HOST, port), timeout=T)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if 0 < at < len(data):
        s.sendall(data[:at])
        time.sleep(0.005)  # a segment boundary, not a condition to wait for
        s.sendall(data[at:])
    else:
        s.sendall(data)
    return s


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("proxy")
    (r / "a.txt").write_bytes(b"hello\n")
    (r / "big.bin").write_bytes(os.urandom(1 << 20))
    return r


@pytest.fixture
def psrv(root, server):
    return server("serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                  "--header-timeout", "2")


def logged(srv, addr, what="GET /a.txt HTTP/1.1", timeout=T):
    return srv.wait_for(r"^%s - - \[[^]]+\] \"%s\" 200 " % (re.escape(addr), re.escape(what)),
                        timeout)


# (header maker, the address the log must show) for each form; the index
# makes each connection's client unique, so every split's line is checked
FORMS = {
    "v1-tcp4": (lambda i: v1("TCP4", "198.51.100.%d" % i, "10.0.0.1", 40000 + i, 80),
                lambda i: "198.51.100.%d" % i),
    "v1-tcp6": (lambda i: v1("TCP6", "2001:db8::%x" % i, "2001:db8::1", 40000 + i, 443),
                lambda i: "2001:db8::%x" % i),
    "v1-unknown": (lambda i: v1("UNKNOWN"), lambda i: HOST),
    "v2-tcp4-tlv": (lambda i: v2(1, 0x11, "203.0.113.%d" % i, "10.0.0.1", 40000 + i, 80, tlvs()),
                    lambda i: "203.0.113.%d" % i),
    "v2-tcp6-tlv": (lambda i: v2(1, 0x21, "2001:db8:2::%x" % i, "::1", 40000 + i, 80, tlvs()),
                    lambda i: "2001:db8:2::%x" % i),
    "v2-local": (lambda i: v2(0, 0x11, "192.0.2.9", "192.0.2.10", 1, 2), lambda i: HOST),
    "v2-unspec": (lambda i: v2(1, 0x00, extra=tlvs()), lambda i: HOST),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_header_split_at_every_byte_then_request(psrv, form):
    make, addr = FORMS[form]
    n = len(make(1))
    # at == n: the request comes in a segment of its own; 0: all in one
    for at in range(0, n + 1):
        i = at + 1
        s = send_split(psrv.port, make(i) + REQ, at)
        resp = recv_all(s)
        s.close()
        assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), (form, at, resp[:80])
        assert resp.endswith(b"\r\n\r\nhello\n"), (form, at)
    # the log is written in batches (every 200 ms): each split's line is
    # looked for once all are sent
    for at in range(0, n + 1):
        if addr(at + 1) != HOST:
            assert logged(psrv, addr(at + 1)), (form, at, psrv.output()[-500:])
    if addr(1) == HOST:  # the socket's own peer, for every connection
        rx = re.compile(r"(?m)^127\.0\.0\.1 - - .*\"GET /a.txt HTTP/1.1\" 200 ")
        deadline = time.monotonic() + T
        while len(rx.findall(psrv.output())) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rx.findall(psrv.output())) == n + 1


def test_keep_alive_after_header_and_v4_mapped_source(psrv):
    """The header comes once: later requests on the connection are plain HTTP."""
    s = socket.create_connection((HOST, psrv.port), timeout=T)
    s.sendall(v1("TCP6", "::ffff:192.0.2.77", "::1", 1234, 80)
              + b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(T)
    got = b""
    while got.count(b"hello\n") < 1:
        got += s.recv(4096)
    s.sendall(REQ)
    got += recv_all(s)
    s.close()
    assert got.count(b"HTTP/1.1 200 OK") == 2
    assert logged(psrv, "192.0.2.77")  # a v4-mapped client is logged as IPv4


def closed_silently(s, within):
    """The server closes s with no byte sent, within `within` seconds."""
    t0 = time.monotonic()
    data = recv_all(s, timeout=within + 5)
    took = time.monotonic() - t0
    s.close()
    assert data == b"", data[:80]
    assert took < within + 3, took  # not the client's own timeout
    return took


def test_no_header_is_closed_without_answer_within_header_timeout(psrv):
    s = socket.create_connection((HOST, psrv.port), timeout=T)
    took = closed_silently(s, 2)
    assert took > 1.0, took  # the timeout, not at once
    # a plain HTTP request (no header) is refused at its first byte
    s = socket.create_connection((HOST, psrv.port), timeout=T)
    s.sendall(REQ)
    assert closed_silently(s, 0.1) < 2
    assert "GET /a.txt" not in psrv.output()


def test_slowloris_header_is_cut_at_header_timeout(psrv):
    """A header trickled a byte at a time buys no time: its bytes do not move
    the deadline set at accept."""
    hdr = v1("TCP4", "192.0.2.1", "192.0.2.2", 1, 2)
    s = socket.create_connection((HOST, psrv.port), timeout=T)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    try:
        for b in hdr[:-1]:
            s.sendall(bytes([b]))
            time.sleep(0.1)  # the trickle itself
            if time.monotonic() - t0 > 6:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = recv_all(s, timeout=T)
    s.close()
    took = time.monotonic() - t0
    assert data == b""
    assert took < 2 + 3, took


@pytest.mark.parametrize("bad", [
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n" + REQ,
    b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n" + REQ,
    b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n" + REQ,
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n" + REQ,
    b"PROXY " + b"A" * 120 + b"\r\n" + REQ,
    SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12 + REQ,  # version 3
    SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12 + REQ,  # command 2
    SIG + b"\x21\x11\x00\x0b" + b"\x00" * 11 + REQ,  # TCP4 too short
    SIG[:-1] + b"X" + b"\x21\x11\x00\x0c" + b"\x00" * 12 + REQ,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a bare ClientHello
], ids=["v1-fields", "v1-addr", "v1-family", "v1-lf", "v1-long", "v2-version", "v2-cmd",
        "v2-short", "v2-sig", "tls-no-header"])
def test_garbage_header_is_closed(psrv, bad):
    s = socket.create_connection((HOST, psrv.port), timeout=T)
    s.sendall(bad)
    assert closed_silently(s, 0.1) < 2  # at once, not at the timeout
    assert psrv.alive()


# ---- TLS: the header comes before the ClientHello ----

def tls_exchange(port, header, request, split):
    """A TLS client over a raw socket (ssl.MemoryBIO): the header and the
    ClientHello go out in one segment, or split inside the header."""
    return tls_through(lambda hello: send_split(port, header + hello, split), request)


def tls_through(send, request, alpn="http/1.1"):
    """The TLS client of tls_exchange: send(ClientHello bytes) puts them on
    a new connection (after whatever precedes them) and returns its socket;
    the request is sent, the answer read until close_notify or the close."""
    ctx = ssl._create_unverified_context()
    ctx.set_alpn_protocols([alpn])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s = send(out.read())
    s.settimeout(T)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        if out.pending:
            s.sendall(out.read())
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed during the handshake")
        inc.write(d)
    tls.write(request)
    s.sendall(out.read())
    resp = b""
    while True:
        try:
            d = tls.read(65536)
            if not d:  # close_notify
                break
            resp += d
            continue
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if out.pending:
            s.sendall(out.read())
        d = s.recv(65536)
        if not d:
            break
        inc.write(d)
    s.close()
    return resp


def test_tls_header_before_client_hello(root, server):
    srv = server("serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                 "--tls-self-signed", "--header-timeout", "2", ready=HTTPS_RE)
    forms = [v1("TCP4", "198.51.100.200", "10.0.0.1", 5, 443),
             v2(1, 0x21, "2001:db8:9::1", "::1", 5, 443, tlvs())]
    addrs = ["198.51.100.200", "2001:db8:9::1"]
    for hdr, addr in zip(forms, addrs):
        for at in sorted({0, 1, len(hdr) // 2, len(hdr) - 1, len(hdr)}):
            resp = tls_exchange(srv.port, hdr, REQ, at)
            assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), (addr, at, resp[:80])
            assert resp.endswith(b"hello\n")
        assert logged(srv, addr)
    # TLS without a header: closed, no handshake
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        tls_exchange(srv.port, b"", REQ, 0)


def test_curl_haproxy_protocol_over_https_and_h2(root, server):
    """curl's --haproxy-protocol (a v1 header), a real peer, over TLS with
    ALPN h2 and with HTTP/1.1."""
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("needs curl")
    srv = server("serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                 "--tls-self-signed", ready=HTTPS_RE)
    for ver, shown in (("--http2", "HTTP/2.0"), ("--http1.1", "HTTP/1.1")):
        p = subprocess.run([curl, "-sSk", ver, "--haproxy-protocol", "-o", "-", "-w",
                            "%{http_version} %{http_code}",
                            "https://127.0.0.1:%d/a.txt" % srv.port],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == b"hello\n" + (b"2 200" if shown == "HTTP/2.0" else b"1.1 200")
        assert logged(srv, HOST, "GET /a.txt " + shown)


# ---- h2c with prior knowledge behind the header ----

def h2_get(s, path, scheme, first=b"", cut=None):
    """GET path over HTTP/2 on s (after `first`, the header, sent
    with the preface unless cut inside it); returns (status, body)."""
    h2conn = pytest.importorskip("h2.connection")
    import h2.config
    import h2.events
    c = h2conn.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.send_headers(1, [(":method", "GET"), (":scheme", scheme), (":authority", "x"),
                       (":path", path)], end_stream=True)
    data = first + c.data_to_send()
    if cut:
        s.sendall(data[:cut])
        time.sleep(0.004)  # a segment boundary
        data = data[cut:]
    s.sendall(data)
    s.settimeout(T)
    status, body, done = None, b"", False
    while not done:
        d = s.recv(65536)
        assert d, "closed before the answer"
        for ev in c.receive_data(d):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers)[b":status"]
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                done = True
        s.sendall(c.data_to_send())
    s.close()
    return status, body


def test_h2c_prior_knowledge_after_header(root, server):
    srv = server("serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol")
    for i, hdr in enumerate([v1("TCP4", "192.0.2.50", "10.0.0.1", 7, 80),
                             v2(1, 0x11, "192.0.2.51", "10.0.0.1", 7, 80, tlvs())]):
        s = socket.create_connection((HOST, srv.port), timeout=T)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        status, body = h2_get(s, "/a.txt", "http", hdr, len(hdr) // 2)
        assert status == b"200" and body == b"hello\n"
        assert logged(srv, "192.0.2.5%d" % i, "GET /a.txt HTTP/2.0")


# ---- HAProxy in front, send-proxy-v2 ----

HAPROXY = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not HAPROXY, reason="needs haproxy (scripts/deps.sh test installs it)")
def test_haproxy_send_proxy_v2_end_to_end(root, server, tmp_path):
    srv = server("serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol", "--health",
                 "/healthz")
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind %(h)s:%(f)d
    default_backend be
backend be
    option httpchk GET /healthz
    http-check expect string ok
    server b1 %(h)s:%(b)d send-proxy-v2 check check-send-proxy inter 200ms
""" % {"h": HOST, "f": front, "b": srv.port})
    # run in the foreground (-db), started and killed by its own PID: never a service
    hp = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        got = None
        while time.monotonic() < deadline:
            try:
                # from another loopback address than haproxy's own, so the
                # client berth logs can only have come from the header
                s = socket.create_connection((HOST, front), timeout=T,
                                             source_address=("127.0.0.3", 0))
                s.sendall(REQ)
                got = recv_all(s)
                s.close()
                if got.startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert hp.poll() is None, hp.stdout.read()
            time.sleep(0.1)  # haproxy binding and its first health check
        assert got and got.startswith(b"HTTP/1.1 200") and got.endswith(b"hello\n"), got
        # the client haproxy saw (us, on 127.0.0.3) is what berth logs
        assert logged(srv, "127.0.0.3")
        # its checks (send-proxy-v2 too) reached the health path, unlogged
        assert "/healthz" not in srv.output()
    finally:
        hp.send_signal(signal.SIGTERM)
        try:
            hp.wait(10)
        except subprocess.TimeoutExpired:
            hp.kill()
            hp.wait()
    assert srv.alive()
