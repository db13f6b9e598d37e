"""valgrind over the TLS and HTTP/2 paths (issue 9): `berth serve
--tls-self-signed` serves HTTP/1.1 over TLS, h2 (curl --http2, python3-h2
over ssl), failed handshakes and streams reset mid-answer, then SIGTERM; a
plaintext server does the same for h2c.  At exit every heap block is freed
(no suppressions: OpenSSL 3 frees its own state in its atexit handler) and
valgrind reports no error."""
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import Server
from test_http_faults import sanitized
from test_tls import HTTPS_RE

h2c = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")
pytestmark = [
    pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind missing"),
    pytest.mark.skipif(not CURL or not NGHTTP, reason="curl or nghttp missing"),
    pytest.mark.skipif(sanitized(), reason="an ASan build checks leaks itself and cannot run under valgrind"),
]
HOST = "127.0.0.1"
T = 60  # valgrind makes the server ~20x slower


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("leak")
    (root / "hello.txt").write_bytes(b"Hello, client!")
    (root / "big.bin").write_bytes(os.urandom(300_000))  # past the small-file cache: pread/sendfile
    (root / "dir").mkdir()
    return root


def curl(*args):
    """'status version' per URL; several URLs share one connection."""
    argv = []
    for a in args:
        argv += ["-o", "/dev/null", a] if a.startswith(("http://", "https://")) else [a]
    p = subprocess.run([CURL, "-sS", "-k", "-w", "%{http_code} %{http_version}\n"] + argv,
                       capture_output=True, timeout=T * 3)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().split("\n")[:-1]


def nghttp(*urls):
    """Several h2c streams at once on one connection (curl 7.88's h2c with
    prior knowledge fails to reuse its connection, against h2o as well)."""
    p = subprocess.run([NGHTTP, "-n", "-s"] + list(urls), capture_output=True, timeout=T * 3)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def h2_resets(port, tls):
    """Opens streams for the large file and resets them mid-answer, then
    closes the connection with streams still open (the session frees them)."""
    raw = socket.create_connection((HOST, port), timeout=T)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = ctx.wrap_socket(raw, server_hostname="localhost")
        assert raw.selected_alpn_protocol() == "h2"
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    raw.sendall(conn.data_to_send())
    path = "/big.bin"
    ids = []
    for _ in range(20):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "https" if tls else "http"),
                                (":authority", "localhost")], end_stream=True)
        ids.append(sid)
    raw.sendall(conn.data_to_send())
    got_data = False
    while not got_data:  # until the server is sending bodies
        data = raw.recv(65536)
        assert data, "closed before any DATA"
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                got_data = True
    for sid in ids[:10]:
        conn.reset_stream(sid)
    # the others stay open: the connection goes away under them
    raw.sendall(conn.data_to_send())
    raw.close()


def handshake_failures(port):
    s = socket.create_connection((HOST, port), timeout=T)  # plaintext to the TLS port
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(T)
    while s.recv(4096):
        pass
    s.close()
    s = socket.create_connection((HOST, port), timeout=T)  # a ClientHello cut short
    s.sendall(bytes.fromhex("16030100c8010000c40303") + os.urandom(20))
    s.close()


def finish(srv):
    rc = srv.stop(timeout=T * 2)
    out = srv.output()
    assert "All heap blocks were freed -- no leaks are possible" in out, out[-4000:]
    assert "ERROR SUMMARY: 0 errors" in out, out[-4000:]
    assert rc == 0, out[-4000:]


def test_tls_h1_and_h2_free_everything(site):
    srv = Server(["serve", "0", "-b", HOST, "-d", str(site), "--tls-self-signed", "--workers", "2",
                  "-q"], timeout=T, valgrind=True, ready=HTTPS_RE)
    try:
        base = "https://127.0.0.1:%d" % srv.port
        urls = [base + p for p in ("/hello.txt", "/big.bin", "/dir/", "/missing", "/%zz")] * 4
        got = curl("--http1.1", *urls)  # keep-alive HTTP/1.1 over TLS
        assert all(g.endswith(" 1.1") for g in got) and len(got) == len(urls), got
        got = curl("--http2", *urls)  # one h2 connection, the URLs as streams
        assert all(g.endswith(" 2") for g in got) and len(got) == len(urls), got
        got = curl("--http2", "-r", "0-9,20-29", base + "/big.bin")
        assert got == ["206 2"], got
        got = curl("--http2", "--data-binary", "x" * 1000, base + "/hello.txt")  # a body, dropped
        assert got == ["405 2"], got
        h2_resets(srv.port, tls=True)
        handshake_failures(srv.port)
        for _ in range(5):  # a new TLS connection each (handshakes, session cache entries)
            assert curl("--http2", base + "/hello.txt") == ["200 2"]
        finish(srv)
    finally:
        srv.kill()


def test_h2c_frees_everything(site):
    srv = Server(["serve", "0", "-b", HOST, "-d", str(site), "--workers", "2", "-q"], timeout=T,
                 valgrind=True)
    try:
        base = "http://127.0.0.1:%d" % srv.port
        # distinct URLs: nghttp fetches a repeated one once
        urls = [base + p + "?%d" % i for i in range(4)
                for p in ("/hello.txt", "/big.bin", "/dir/", "/missing", "/%zz")]
        out = nghttp(*urls)
        assert out.count("/big.bin") >= 4 and out.count("/missing") >= 4, out
        for p in ("/hello.txt", "/big.bin", "/dir/", "/missing"):  # a connection each
            assert curl("--http2-prior-knowledge", base + p)[0].endswith(" 2")
        got = curl("--http2-prior-knowledge", "-r", "0-9,20-29", base + "/big.bin")
        assert got == ["206 2"], got
        h2_resets(srv.port, tls=False)
        assert curl("--http1.1", base + "/hello.txt") == ["200 1.1"]  # h1 on the same port
        finish(srv)
    finally:
        srv.kill()
