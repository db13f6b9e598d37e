"""TLS conformance of `berth serve --tls-cert` (issue 9), each case with its
RFC section, against real peers: ClientHellos built here byte by byte,
Python ssl with explicit contexts, `openssl s_client`.  What test_tls.py
and test_tls_scan.py check is not repeated.  Where an RFC leaves a choice,
nginx 1.22 and h2o 2.2 (bench/*-tls.conf) were asked; the case says which."""
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
from test_serve import HOST, T, Conn, req
from test_tls import HTTPS_RE, OPENSSL, TlsConn, client_ctx, make_cert, openssl

pytestmark = pytest.mark.skipif(not OPENSSL, reason="needs the openssl command")

# TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2, RFC 7301 §3.2)
HANDSHAKE_FAILURE, PROTOCOL_VERSION, INAPPROPRIATE_FALLBACK, NO_APP_PROTO = 40, 70, 86, 120

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("conform") / "www"
    root.mkdir()
    (root / "a.txt").write_bytes(b"hello, a\n")
    (root / "early.txt").write_bytes(b"early\n")
    (root / "big.bin").write_bytes(os.urandom(256 << 10))
    return root


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("conform-certs"), "ec", "ec")


@pytest.fixture(scope="module")
def srv(site, pair):
    """One server for the cases that do not restart or signal it."""
    cert, key = pair
    s = Server(["serve", "0", "-b", HOST, "-d", str(site), "--tls-cert", str(cert), "--tls-key",
                str(key), "--header-timeout", "2", "--idle-timeout", "2"], ready=HTTPS_RE)
    s.cert = cert
    yield s
    assert s.stop() == 0, s.output()


def quiet_log(s):
    """Output lines other than the start and access lines."""
    return [l for l in s.output().splitlines()
            if not re.search(r'Serving HTTPS|SPKI|sandbox:|" \d{3} ', l)]


# ---------------------------------------------------------------- hand-made ClientHellos

def ext(kind, data):
    return struct.pack("!HH", kind, len(data)) + data


vec8 = lambda b: bytes([len(b)]) + b  # noqa: E731
vec16 = lambda b: struct.pack("!H", len(b)) + b  # noqa: E731


GOOD12 = [0xC02B, 0xC02F]  # ECDHE-ECDSA/RSA-AES128-GCM-SHA256


def hello12(suites, version=0x0303, alpn=None, sni=None, pad=0, exts=True):
    """A ClientHello of legacy version `version` offering `suites` (IANA
    codes) with the extensions a TLS 1.2 client sends; `pad` bytes of the
    padding extension (RFC 7685).  Its handshake message, not framed."""
    e = b""
    if exts:
        e += ext(10, vec16(struct.pack("!HH", 0x001D, 0x0017)))  # supported_groups
        e += ext(11, vec8(b"\x00"))  # ec_point_formats
        e += ext(13, vec16(struct.pack("!HHH", 0x0403, 0x0804, 0x0401)))  # signature_algorithms
        e += ext(0xFF01, b"\x00")  # renegotiation_info, initial (RFC 5746 §3.4)
        if sni:
            e += ext(0, vec16(b"\x00" + vec16(sni.encode())))
        if alpn:
            e += ext(16, vec16(b"".join(vec8(p.encode()) for p in alpn)))
        if pad:
            e += ext(21, bytes(pad))
    body = (struct.pack("!H", version) + os.urandom(32) + vec8(b"") +
            vec16(b"".join(struct.pack("!H", c) for c in suites)) + vec8(b"\x00") +
            (vec16(e) if exts else b""))
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def records(msg, rec_version=0x0301, size=16384):
    """msg framed as handshake records of at most `size` bytes."""
    return b"".join(b"\x16" + struct.pack("!HH", rec_version, len(msg[i:i + size])) +
                    msg[i:i + size] for i in range(0, len(msg), size))


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            return None
        b += k
    return b


def first_answer(port, data, chunks=None, want_body=False):
    """Sends data (in pieces of the sizes in chunks, each its own segment)
    and reads the server's first record: ("alert", level, description),
    ("handshake", msg_type, server legacy_version), or ("eof",)."""
    with socket.create_connection((HOST, port), timeout=T) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if chunks:
            i = 0
            for n in chunks:
                s.sendall(data[i:i + n])
                i += n
                time.sleep(0.001)  # a segment each
            s.sendall(data[i:])
        else:
            s.sendall(data)
        try:
            h = recv_exact(s, 5)
        except ConnectionResetError:
            return ("reset",)
        if h is None:
            return ("eof",)
        kind, _, n = struct.unpack("!BHH", h)
        body = recv_exact(s, n)
        if kind == 21:
            return ("alert", body[0], body[1])
        if kind == 22:
            return ("handshake", body[0], struct.unpack("!H", body[4:6])[0]) + (
                (body,) if want_body else ())
        return ("record", kind)


# ---------------------------------------------------------------- versions and suites

SSL3_HELLO = records(hello12([0x002F, 0x000A, 0x0005], version=0x0300, exts=False), 0x0300)


@pytest.mark.parametrize("name,data", [
    ("SSLv3", SSL3_HELLO),
    ("TLS 1.0", records(hello12(GOOD12 + [0xC013, 0x002F], version=0x0301))),
    ("TLS 1.1", records(hello12(GOOD12 + [0xC013, 0x002F], version=0x0302))),
], ids=["SSLv3", "TLS1.0", "TLS1.1"])
def test_old_versions_get_a_protocol_version_alert(srv, name, data):
    """RFC 8446 Appendix D.2 and RFC 5246 Appendix E.1: a server that
    supports only versions above the client's answers with a fatal
    protocol_version alert, not a silent close (RFC 8996 retires TLS 1.0
    and 1.1).  SSL 3.0 has no protocol_version alert (RFC 6101 §5.4.2), so
    an SSLv3 client is told handshake_failure, the alert it knows (OpenSSL
    maps it so; nginx answers the same; h2o closes silently for all three)."""
    want = HANDSHAKE_FAILURE if name == "SSLv3" else PROTOCOL_VERSION
    assert first_answer(srv.port, data) == ("alert", 2, want)


@pytest.mark.parametrize("kind,suites", [
    ("CBC only", [0xC009, 0xC013, 0xC023, 0xC027, 0xC00A, 0xC014]),
    ("RSA key exchange only", [0x009C, 0x009D, 0x002F, 0x0035, 0x003C]),
    ("DHE only", [0x009E, 0x009F, 0xCCAA]),
    ("NULL", [0x0001, 0x0002, 0x003B, 0xC006, 0xC010]),
    ("EXPORT", [0x0003, 0x0006, 0x0008, 0x0014]),
    ("RC4", [0x0004, 0x0005, 0xC007, 0xC011]),
    ("3DES", [0x000A, 0xC008, 0xC012]),
    ("anonymous", [0x0034, 0x00A6, 0xC018]),
])
def test_tls12_weak_offers_get_handshake_failure(srv, kind, suites):
    """RFC 5246 §7.4.1.3: no acceptable suite is a fatal handshake_failure
    alert; berth's TLS 1.2 list is ECDHE + AEAD only (RFC 7525 §4.2)."""
    assert first_answer(srv.port, records(hello12(suites))) == ("alert", 2, HANDSHAKE_FAILURE)
    # the same hello with one good suite added is served: the refusal is the suites'
    assert first_answer(srv.port, records(hello12(suites + GOOD12)))[:2] == ("handshake", 2)


def test_tls12_server_hello_carries_the_downgrade_sentinel(srv):
    """RFC 8446 §4.1.3: a TLS 1.3 server that negotiates TLS 1.2 ends its
    ServerHello.random with DOWNGRD\\x01, so a TLS 1.3 client can tell an
    attacker stripped its supported_versions."""
    got = first_answer(srv.port, records(hello12(GOOD12)), want_body=True)
    assert got[:3] == ("handshake", 2, 0x0303), got[:3]
    random = got[3][6:38]
    assert random[-8:] == b"DOWNGRD\x01", random


def test_fallback_scsv_is_refused(srv):
    """RFC 7507 §3: TLS_FALLBACK_SCSV in a hello for a version below the
    server's highest is refused with inappropriate_fallback (a client's
    downgrade retry, or an attacker's; testssl.sh checks it)."""
    data = records(hello12(GOOD12 + [0x5600]))
    assert first_answer(srv.port, data) == ("alert", 2, INAPPROPRIATE_FALLBACK)


@pytest.mark.parametrize("opt", [["-groups", "secp521r1"], ["-groups", "ffdhe2048"],
                                 ["-ciphersuites", "TLS_AES_128_CCM_8_SHA256"]],
                         ids=["P-521", "ffdhe2048", "CCM_8"])
def test_tls13_nothing_in_common_is_a_handshake_failure(srv, opt):
    """RFC 8446 §4.1.1: no common group, or no common suite, aborts with
    handshake_failure (berth: X25519, P-256, P-384; OpenSSL's default
    TLS 1.3 suites, no CCM_8)."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, srv.port), "-tls1_3"] +
                       opt, input=b"", capture_output=True, timeout=T * 3)
    assert b"alert handshake failure" in r.stderr + r.stdout, r.stderr[-600:]


def test_tls13_hello_retry_request_for_a_group_it_has(srv):
    """RFC 8446 §4.1.4: a client whose key share is for a group the server
    lacks (ffdhe2048) but that lists one it has (P-256) gets a
    HelloRetryRequest (a second ServerHello) and then completes with it."""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, srv.port), "-tls1_3",
                        "-groups", "ffdhe2048:P-256", "-msg"], input=b"", capture_output=True,
                       timeout=T * 3)
    out = r.stdout.decode()
    assert len(re.findall(r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], ServerHello", out)) == 2, out
    assert "Server Temp Key: ECDH, prime256v1" in out and "New, TLSv1.3" in out, out[-1200:]


def tls12(cipher=None, alpn=None):
    ctx = client_ctx(maximum_version=ssl.TLSVersion.TLSv1_2)
    if cipher:
        ctx.set_ciphers(cipher)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def test_tls12_suite_is_ecdhe_aead_in_the_servers_order(srv):
    """RFC 5246 §7.4.1.2 leaves the pick to the server.  berth applies its
    own order (SSL_OP_CIPHER_SERVER_PREFERENCE: AES-128-GCM first, what
    testssl.sh's "server cipher order" looks for), except that a client
    that puts ChaCha20 first (no AES hardware) gets it (PRIORITIZE_CHACHA).
    nginx and h2o by default follow the client's order."""
    aes256_first = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
    with TlsConn(srv.port, ctx=tls12(aes256_first)) as c:
        assert c.s.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    chacha_first = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
    with TlsConn(srv.port, ctx=tls12(chacha_first)) as c:
        assert c.s.cipher()[0] == "ECDHE-ECDSA-CHACHA20-POLY1305"
    # a client listing CBC and RSA suites first still gets ECDHE + AEAD
    with TlsConn(srv.port, ctx=tls12("AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-GCM-SHA256:"
                                     "ECDHE-ECDSA-AES256-GCM-SHA384")) as c:
        assert c.s.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"


# ---------------------------------------------------------------- ALPN and HTTP/2 over TLS 1.2

def test_alpn_h2_never_with_a_blocklisted_suite(srv):
    """RFC 9113 §9.2.2: h2 over TLS 1.2 needs an ephemeral key exchange and
    an AEAD suite (Appendix A's blocklist).  An offer of h2 with only
    blocklisted suites is refused, never h2 over CBC; with a good suite
    among them the good one is chosen."""
    with pytest.raises(ssl.SSLError, match="(?i)handshake.failure"):
        TlsConn(srv.port, ctx=tls12("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
                                    "AES128-GCM-SHA256", ["h2"]))
    with TlsConn(srv.port, ctx=tls12("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256",
                                     ["h2", "http/1.1"])) as c:
        assert c.s.selected_alpn_protocol() == "h2"
        assert c.s.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
        c.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        head = c.s.recv(9)
        assert head[3] == 4  # the server's SETTINGS: it speaks h2 here


@pytest.mark.parametrize("offer,want", [
    (["http/1.1", "h2"], "h2"),  # RFC 7301 §3.2: the server picks; h2 first (nginx, h2o too)
    (["foo", "http/1.1"], "http/1.1"),  # unknown names beside a known one are skipped
])
def test_alpn_server_order(srv, offer, want):
    ctx = client_ctx()
    ctx.set_alpn_protocols(offer)
    with TlsConn(srv.port, ctx=ctx) as c:
        assert c.s.selected_alpn_protocol() == want


def test_alpn_unknown_only_is_a_fatal_alert_on_tls12_too(srv):
    """RFC 7301 §3.2 on TLS 1.2 as well (test_tls.py checks TLS 1.3): the
    alert is fatal and comes in place of the ServerHello."""
    data = records(hello12(GOOD12, alpn=["spdy/3", "imap"]))
    assert first_answer(srv.port, data) == ("alert", 2, NO_APP_PROTO)


# ---------------------------------------------------------------- SNI

@pytest.mark.parametrize("name", ["localhost", "nope.invalid", None, "x" * 63 + ".example"])
def test_any_sni_or_none_gets_the_one_certificate(srv, name):
    """RFC 6066 §3: a name the server does not know may be answered by
    going on with the handshake (not unrecognized_name): berth has one
    certificate and serves it for any name or none, as nginx's default
    server does."""
    der = ssl.PEM_cert_to_DER_cert(srv.cert.read_text())
    raw = socket.create_connection((HOST, srv.port), timeout=T)
    with client_ctx().wrap_socket(raw, server_hostname=name) as s:
        assert s.getpeercert(True) == der
        s.sendall(req("/a.txt", host="localhost", extra="Connection: close\r\n"))
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"hello, a\n")


def test_sni_is_not_acknowledged_and_a_bad_name_is_not_fatal(srv):
    """RFC 6066 §3: the empty server_name extension in the ServerHello
    says the server used the name; berth does not (one certificate), so it
    sends none (as h2o; nginx acknowledges).  An IP literal, which §3 does
    not allow as a HostName, is not fatal either."""
    for name in ("localhost", "127.0.0.1"):
        out = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, srv.port),
                              "-tls1_2", "-servername", name, "-tlsextdebug"], input=b"",
                             capture_output=True, timeout=T * 3).stdout.decode()
        assert "Cipher is ECDHE-" in out, out[-800:]
        assert 'TLS server extension "renegotiation info"' in out  # the dump is there...
        assert 'TLS server extension "server name"' not in out  # ...without the ack


# ---------------------------------------------------------------- renegotiation

def s_client_session(port, *args, send=b"", until=None, timeout=T * 3):
    """openssl s_client's output; fed `send` after the handshake (or steps
    [(regex to wait for, bytes)]), stdin open until `until` (bounded)."""
    steps = [(rb"Verify return code", send)] if isinstance(send, bytes) else list(send)
    p = subprocess.Popen([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, port)] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and p.poll() is None:
            b = p.stdout.read() or b""
            out += b
            if steps and re.search(steps[0][0], out):
                p.stdin.write(steps.pop(0)[1])
                p.stdin.flush()
            elif not steps and until and re.search(until, out):
                break
            if not b:
                time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        out += p.stdout.read() or b""
    return out.decode(errors="replace")


def test_tls12_client_renegotiation_is_refused(srv):
    """RFC 5746: the server answers renegotiation_info (§3.6: secure
    renegotiation is supported and said so) but refuses a client-initiated
    renegotiation (§4.4 allows refusing; nginx does, as a DoS and
    prefix-injection guard) with a no_renegotiation alert; the connection
    it was asked on stays usable or closes, the server goes on."""
    out = s_client_session(srv.port, "-tls1_2", send=b"R\n",
                           until=rb"(?i)no renegotiation|handshake failure|closed")
    assert "Secure Renegotiation IS supported" in out, out[-1500:]
    assert "RENEGOTIATING" in out, out[-1500:]
    assert re.search(r"(?i)no renegotiation", out), out[-1500:]
    with TlsConn(srv.port) as c:
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"


def test_tls13_key_update_is_honoured(srv):
    """RFC 8446 §4.6.3: a KeyUpdate asking for an update is answered with
    the server's own, and requests after it are served."""
    out = s_client_session(srv.port, "-tls1_3", "-msg", send=[(rb"Verify return code", b"K\n"),
                                 (rb"KEYUPDATE[\s\S]*KeyUpdate", b"GET /a.txt HTTP/1.0\r\n\r\n")],
                           until=rb"hello, a")
    assert "KEYUPDATE" in out, out[-1500:]
    assert re.search(r"<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate", out), out[-1500:]
    assert "hello, a" in out, out[-1500:]


# ---------------------------------------------------------------- resumption and early data

def test_tls13_tickets_one_without_early_data(srv, tmp_path):
    """RFC 8446 §4.6.1: one NewSessionTicket after the handshake (berth's
    choice: one, stateful — a single resumption per full handshake is what
    a browser needs, OpenSSL's default is two) and none with the
    early_data extension, so §4.2.10's 0-RTT is never offered; a client
    that tries it with the ticket is told so and its request goes once."""
    sess = tmp_path / "s.pem"
    out = s_client_session(srv.port, "-tls1_3", "-msg", "-sess_out", str(sess),
                           send=b"GET /a.txt HTTP/1.0\r\n\r\n", until=rb"hello, a\n[\s\S]*closed")
    assert len(re.findall(r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], NewSessionTicket",
                          out)) == 1, out[-2000:]
    assert "Max Early Data: 0" in out, out[-1500:]
    early = tmp_path / "early.txt"
    early.write_bytes(b"GET /early.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    out = s_client_session(srv.port, "-tls1_3", "-sess_in", str(sess), "-early_data", str(early),
                           send=b"GET /a.txt HTTP/1.0\r\n\r\n", until=rb"hello, a")
    assert "Reused, TLSv1.3" in out, out[-1500:]
    assert re.search(r"Early data was (not sent|rejected)", out), out[-1500:]
    assert "early\n" not in out  # the early request was not answered...
    time.sleep(0.2)
    assert not any("GET /early.txt" in l for l in srv.output().splitlines())  # ...nor run


def test_tls12_resumes_by_session_id_without_tickets(srv, tmp_path):
    """RFC 5077 tickets are optional; berth keeps sessions in its cache
    (no ticket key to steal or rotate), so a TLS 1.2 ServerHello carries
    no session_ticket extension and a session ID, and that ID resumes."""
    sess = tmp_path / "s12.pem"
    out = s_client_session(srv.port, "-tls1_2", "-tlsextdebug", "-sess_out", str(sess),
                           send=b"Q\n", until=rb"closed|DONE")
    assert "New, TLSv1.2" in out, out[-1500:]
    assert 'TLS server extension "session ticket"' not in out
    sid = re.search(r"Session-ID: ([0-9A-F]*)", out).group(1)
    assert len(sid) == 64, out[-1500:]
    out = s_client_session(srv.port, "-tls1_2", "-sess_in", str(sess), send=b"Q\n",
                           until=rb"closed|DONE")
    assert "Reused, TLSv1.2" in out and "Session-ID: " + sid in out, out[-1500:]


def test_sessions_after_sighup_fall_back_to_a_full_handshake(site, pair, tmp_path):
    """After a reload (SIGHUP) the new context has a fresh session cache:
    a session from before is not resumed (a full handshake with the new
    certificate follows; it never resumes into keys made under the old
    one), and new sessions resume again."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    shutil.copy(pair[0], cert)
    shutil.copy(pair[1], key)
    s = Server(["serve", "0", "-b", HOST, "-d", str(site), "--tls-cert", str(cert), "--tls-key",
                str(key)], ready=HTTPS_RE)
    try:
        sessions = {}
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_ctx(maximum_version=v, minimum_version=v)
            with TlsConn(s.port, ctx=ctx) as c:
                c.send(req("/a.txt", host="localhost"))
                c.read_response()
                sessions[v] = (ctx, c.s.session)
            with TlsConn(s.port, ctx=ctx, session=sessions[v][1]) as c:
                assert c.s.session_reused  # it does resume before the reload
        s.proc.send_signal(signal.SIGHUP)
        assert s.wait_for("reloaded the TLS certificate and key", 10), s.output()
        for v, (ctx, sess) in sessions.items():
            with TlsConn(s.port, ctx=ctx, session=sess) as c:
                assert not c.s.session_reused, v
                c.send(req("/a.txt", host="localhost"))
                assert c.read_response().body == b"hello, a\n"
                fresh = c.s.session
            with TlsConn(s.port, ctx=ctx, session=fresh) as c:
                assert c.s.session_reused, v
    finally:
        assert s.stop() == 0, s.output()


# ---------------------------------------------------------------- closing

def read_to_close(s):
    """Reads to a close_notify (a strict() socket raises without one)."""
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += b


def strict_ctx(v=None):
    """A context for which an EOF without close_notify is an error (Python
    sets OP_IGNORE_UNEXPECTED_EOF by default: cleared)."""
    ctx = client_ctx(maximum_version=v) if v else client_ctx()
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return ctx


def strict(port, v=None):
    ctx = strict_ctx(v)
    raw = socket.create_connection((HOST, port), timeout=T)
    return ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)


@pytest.mark.parametrize("v", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_close_notify_after_connection_close_and_idle_timeout(srv, v):
    """RFC 8446 §6.1 / RFC 5246 §7.2.1: each party sends close_notify
    before closing its write side — after an answer with Connection: close
    and when a keep-alive connection idles out (--idle-timeout 2)."""
    with strict(srv.port, v) as s:
        s.sendall(req("/a.txt", host="localhost", extra="Connection: close\r\n"))
        assert read_to_close(s).endswith(b"hello, a\n")  # SSLEOFError: no close_notify
    with strict(srv.port, v) as s:
        s.sendall(req("/a.txt", host="localhost"))
        t0 = time.monotonic()
        assert read_to_close(s).endswith(b"hello, a\n")
        assert 1.5 < time.monotonic() - t0 < T


@pytest.mark.parametrize("what", ["400", "408", "h2 GOAWAY", "h2 idle"])
def test_close_notify_after_error_answers_and_h2(srv, what):
    """The close after an error answer (400, the 408 of --header-timeout)
    and an h2 connection's (a GOAWAY for a bad frame, the idle timeout) is
    an orderly TLS close too (RFC 8446 §6.1), so the client can tell the
    answer is whole."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    data, alpn, want = {
        "400": (b"GARBAGE\r\n\r\n", None, b"HTTP/1.1 400 "),
        "408": (b"GET /a.txt HTTP/1.1\r\n", None, b"HTTP/1.1 408 "),
        "h2 GOAWAY": (preface + b"\x00\x00\x01\x09\x00\x00\x00\x00\x01x", ["h2"], None),
        "h2 idle": (preface, ["h2"], None),
    }[what]
    ctx = strict_ctx()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((HOST, srv.port), timeout=T)
    with ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as s:
        s.sendall(data)
        got = read_to_close(s)  # SSLEOFError: no close_notify
    if alpn:  # frames: the server's SETTINGS first, a GOAWAY (type 7) for the bad frame
        types, i = [], 0
        while i + 9 <= len(got):
            types.append(got[i + 3])
            i += 9 + int.from_bytes(got[i:i + 3], "big")
        assert types[0] == 4 and (7 in types) == (what == "h2 GOAWAY"), types
    else:
        assert got.startswith(want), got[:64]


@pytest.mark.parametrize("v", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_clients_close_notify_is_answered(srv, v):
    """RFC 5246 §7.2.1: the other party MUST respond with a close_notify of
    its own (RFC 8446 §6.1: and close).  Python's unwrap() sends one and
    waits for the answer."""
    with strict(srv.port, v) as s:
        s.sendall(req("/a.txt", host="localhost"))
        got = b""
        while not got.endswith(b"hello, a\n"):
            got += s.recv(65536)
        s.unwrap().close()  # raises if the server just closed


def test_close_notify_at_shutdown(site, pair):
    """SIGTERM closes idle keep-alive connections with a close_notify too."""
    s = Server(["serve", "0", "-b", HOST, "-d", str(site), "--tls-cert", str(pair[0]),
                "--tls-key", str(pair[1]), "--idle-timeout", "60"], ready=HTTPS_RE)
    try:
        c = strict(s.port)
        c.sendall(req("/a.txt", host="localhost"))
        got = b""
        while not got.endswith(b"hello, a\n"):
            got += c.recv(65536)
        s.proc.send_signal(signal.SIGTERM)
        assert read_to_close(c) == b""
        c.close()
    finally:
        assert s.stop() == 0, s.output()


def test_truncated_peer_is_answered_and_not_logged(srv):
    """A client that ends with a TCP FIN and no close_notify (RFC 8446 §6.1
    calls it truncation; browsers do it all the time): berth closes its
    side (with its own close_notify), serves others and logs no error."""
    before = len(quiet_log(srv))
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        for mid_request in (False, True):
            s = strict(srv.port, v)
            if mid_request:
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: loc")
            else:
                s.sendall(req("/a.txt", host="localhost"))
                got = b""
                while not got.endswith(b"hello, a\n"):
                    got += s.recv(65536)
            raw = socket.socket(fileno=s.detach())
            raw.settimeout(T)
            raw.shutdown(socket.SHUT_WR)  # FIN, no close_notify
            rest = b""
            while True:
                b = raw.recv(65536)
                if not b:
                    break
                rest += b
            raw.close()
            assert rest[:1] in (b"", b"\x15", b"\x17")  # nothing, or an alert record
    with TlsConn(srv.port) as c:
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"
    assert quiet_log(srv)[before:] == []


# ---------------------------------------------------------------- hostile and odd ClientHellos

@pytest.mark.parametrize("what", [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                  b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                                  b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03"],
                         ids=["http/1.1", "h2c preface", "truncated ClientHello"])
def test_plaintext_and_garbage_are_closed_without_bytes_or_logs(srv, what):
    """A plain HTTP request, an h2c preface or a broken record on the TLS
    port: closed with an orderly FIN, nothing logged, and no bytes but (for
    the record that holds a ClientHello cut inside its own length) a TLS
    alert (RFC 8446 §6.2: decode_error).
    (nginx answers a plain request with 400 "The plain HTTP request was
    sent to HTTPS port" in clear text; berth answers nothing in clear text
    on a TLS port — no cross-protocol reply, issue 9's "closed cleanly".)"""
    before = len(quiet_log(srv))
    with Conn(srv.port) as c:
        c.send(what)
        c.s.settimeout(T)
        got = c.s.recv(4096)
        if what.startswith(b"\x16"):
            assert got[:1] == b"\x15" and c.s.recv(4096) == b"", got
        else:
            assert got == b""
    assert quiet_log(srv)[before:] == []


def real_client_hello(alpn=None):
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = client_ctx()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return obj, inc, out.read(), out


def finish_handshake(sock, obj, inc, out):
    while True:
        try:
            obj.do_handshake()
            sock.sendall(out.read())
            return
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            b = sock.recv(65536)
            assert b, "closed during the handshake"
            inc.write(b)


def test_client_hello_split_into_tiny_segments(srv):
    """RFC 8446 §5.1 / RFC 5246 §6.2.1: a record may arrive in any number
    of TCP segments (here 1 to 50 bytes each, a real TLS 1.3 ClientHello),
    and the handshake then completes."""
    import random
    rnd = random.Random(7)
    obj, inc, hello, out = real_client_hello()
    with socket.create_connection((HOST, srv.port), timeout=T) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        i = 0
        while i < len(hello):
            n = rnd.randint(1, 50)
            sock.sendall(hello[i:i + n])
            i += n
            time.sleep(0.001)
        finish_handshake(sock, obj, inc, out)
        obj.write(req("/a.txt", host="localhost", extra="Connection: close\r\n"))
        sock.sendall(out.read())
        got = b""
        while not got.endswith(b"hello, a\n"):
            try:
                got += obj.read(65536)
            except ssl.SSLWantReadError:
                b = sock.recv(65536)
                assert b, got
                inc.write(b)
        assert got.startswith(b"HTTP/1.1 200 ")


def test_handshake_message_split_over_records_and_segments(srv):
    """A TLS 1.2 ClientHello fragmented into 7-byte records (RFC 5246
    §6.2.1 allows fragmenting handshake messages), each record in 1-3 byte
    segments: answered with a ServerHello."""
    data = records(hello12(GOOD12), size=7)
    assert first_answer(srv.port, data, chunks=[1, 2, 3] * 40)[:2] == ("handshake", 2)


@pytest.mark.parametrize("pad", [16 << 10, 40 << 10])
def test_huge_client_hello_is_served_or_refused_cleanly(srv, pad):
    """RFC 7685 padding of 16 KiB and 40 KiB: the ClientHello spans two or
    three records (RFC 8446 §5.1: a handshake message may).  OpenSSL takes
    hellos up to ~128 KiB, so berth answers with a ServerHello; either way
    the server goes on."""
    got = first_answer(srv.port, records(hello12(GOOD12, pad=pad)))
    assert got[:2] == ("handshake", 2), got
    with TlsConn(srv.port) as c:
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().status == 200


def test_stalled_handshakes_are_bounded_and_others_are_served(srv):
    """Twenty clients that stop halfway through their ClientHello hold no
    one up (a full client is served meanwhile) and are closed within the
    handshake's share of --header-timeout (2 s here)."""
    _, _, hello, _ = real_client_hello()
    stalled = []
    for _ in range(20):
        s = socket.create_connection((HOST, srv.port), timeout=T)
        s.sendall(hello[:len(hello) // 2])
        stalled.append(s)
    t0 = time.monotonic()
    with TlsConn(srv.port) as c:
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"
    assert time.monotonic() - t0 < 3
    for s in stalled:
        s.settimeout(T)
        try:
            assert s.recv(4096) == b""
        except ConnectionResetError:
            pass
        s.close()
    assert time.monotonic() - t0 < 2 + 6


# ---------------------------------------------------------------- records and chains

@pytest.mark.parametrize("v", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_large_answers_use_full_records(srv, site, v):
    """RFC 8446 §5.1 / RFC 5246 §6.2.1: records carry at most 2^14 bytes
    of plaintext; a 256 KiB file goes out in full ones (few records, few
    per-record costs for the client) and none exceeds the limit with its
    expansion (RFC 8446 §5.2: 2^14 + 256)."""
    ctx = client_ctx(maximum_version=v, minimum_version=v)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    sizes, pend = [], b""
    with socket.create_connection((HOST, srv.port), timeout=T) as sock:
        finish_handshake(sock, obj, inc, out)
        obj.write(req("/big.bin", host="localhost", extra="Connection: close\r\n"))
        sock.sendall(out.read())
        body = b""
        while True:
            b = sock.recv(65536)
            if not b:
                break
            inc.write(b)
            pend += b
            while len(pend) >= 5:
                kind, _, n = struct.unpack("!BHH", pend[:5])
                if len(pend) < 5 + n:
                    break
                if kind == 23:
                    sizes.append(n)
                pend = pend[5 + n:]
            try:
                while True:
                    k = obj.read(1 << 20)
                    if not k:
                        break
                    body += k
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
    assert body.endswith((site / "big.bin").read_bytes())
    assert max(sizes) <= 16384 + 256
    full = [n for n in sizes if n > 16384]
    assert len(full) >= (256 << 10) // 16384 - 1, sizes


def test_the_chain_goes_out_leaf_first(site, tmp_path):
    """RFC 8446 §4.4.2 / RFC 5246 §7.4.2: the sender's certificate first,
    then each one certifying the one before.  A root CA, an intermediate
    and a leaf made here; the --tls-cert file holds leaf + intermediate;
    a client that trusts only the root verifies the chain."""
    d = tmp_path

    def mk(name, subj, signer=None, ca=False):
        k, c, ext = d / (name + ".key"), d / (name + ".crt"), d / (name + ".ext")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(k))
        ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                       if ca else "basicConstraints=critical,CA:FALSE\n"
                       "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        csr = openssl("req", "-new", "-key", str(k), "-subj", subj)
        sign = ["-signkey", str(k)] if signer is None else ["-CA", str(signer[0]), "-CAkey",
                                                             str(signer[1]), "-CAcreateserial"]
        openssl("x509", "-req", *sign, "-days", "30", "-extfile", str(ext), "-out", str(c),
                input=csr)
        return c, k

    root = mk("root", "/CN=berth test root", ca=True)
    inter = mk("inter", "/CN=berth test intermediate", signer=root, ca=True)
    leaf = mk("leaf", "/CN=localhost", signer=inter)
    chain = d / "chain.pem"
    chain.write_bytes(leaf[0].read_bytes() + inter[0].read_bytes())
    s = Server(["serve", "0", "-b", HOST, "-d", str(site), "--tls-cert", str(chain), "--tls-key",
                str(leaf[1])], ready=HTTPS_RE)
    try:
        out = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, s.port),
                              "-showcerts", "-CAfile", str(root[0]), "-servername", "localhost"],
                             input=b"", capture_output=True, timeout=T * 3).stdout.decode()
        subjects = re.findall(r"^ ?(\d) s:(.*)$", out, re.M)
        assert [(i, sub.strip()) for i, sub in subjects] == [
            ("0", "CN = localhost"), ("1", "CN = berth test intermediate")], out[:1500]
        assert "Verify return code: 0 (ok)" in out, out[-800:]
        with TlsConn(s.port, cafile=root[0]) as c:  # python's verifying client too
            c.send(req("/a.txt", host="localhost"))
            assert c.read_response().body == b"hello, a\n"
    finally:
        assert s.stop() == 0, s.output()
