"""HTTPS (issue 9): `berth serve --tls-cert/--tls-key`, `--tls-self-signed`,
`--no-h2`, against real peers (curl, openssl, python ssl, http.client,
requests): certificates made here with the openssl command (ECDSA and RSA),
TLS 1.2/1.3 only, ALPN, resumption, SIGHUP reload, the errors for bad files,
plaintext and stalled handshakes, and the HTTP/1.1 behaviours over TLS."""
import base64
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BERTH, Server
from test_serve import HOST, T, Conn, make_site, req
from test_serve_ranges import parse_multipart

try:
    import requests  # Debian python3-requests
except ImportError:  # pragma: no cover
    requests = None

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")
pytestmark = pytest.mark.skipif(not OPENSSL, reason="needs the openssl command")


# ---------------------------------------------------------------- helpers

def openssl(*args, input=None):
    return subprocess.run([OPENSSL] + list(args), input=input, capture_output=True, timeout=60,
                          check=True).stdout


def make_cert(d, name, kind="ec", days="30"):
    """A self-signed certificate for localhost/127.0.0.1 and its key, made
    by the openssl command: (cert path, key path)."""
    cert, key = d / (name + ".crt"), d / (name + ".key")
    algo = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
            else ["-newkey", "rsa:2048"])
    openssl("req", "-x509", *algo, "-nodes", "-keyout", str(key), "-out", str(cert), "-days",
            days, "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1")
    return cert, key


def spki_of_pem(pem):
    """The base64 SHA-256 of a certificate's public key, by the openssl command."""
    pub = openssl("x509", "-pubkey", "-noout", input=pem)
    der = openssl("pkey", "-pubin", "-outform", "der", input=pub)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def start_tls(root, *extra, **kw):
    return Server(["serve", "0", "-b", HOST, "-d", str(root)] + list(extra), ready=HTTPS_RE, **kw)


def client_ctx(cafile=None, **kw):
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


class TlsConn(Conn):
    """test_serve.Conn over TLS (verified against cafile when given)."""

    def __init__(self, port, cafile=None, ctx=None, session=None, timeout=T):
        self.raw = socket.create_connection((HOST, port), timeout=timeout)
        ctx = ctx or client_ctx(cafile)
        self.s = ctx.wrap_socket(self.raw, server_hostname="localhost", session=session)
        self.s.settimeout(timeout)
        self.buf = bytearray()


def tls_get(port, path, cafile=None, method="GET", extra=""):
    with TlsConn(port, cafile) as c:
        c.send(req(path, method, "localhost", extra))
        return c.read_response(head=method == "HEAD")


def curl(*args, timeout=60):
    return subprocess.run([CURL, "-sS", "--http1.1"] + list(args), capture_output=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    out = {"dir": d}
    for kind in ("ec", "rsa"):
        out[kind] = make_cert(d, kind, kind)
    out["other"] = make_cert(d, "other", "ec")
    return out


@pytest.fixture(scope="module")
def troot(tmp_path_factory):
    root = make_site(tmp_path_factory.mktemp("tls") / "www")
    (root / "8m.bin").write_bytes(os.urandom(8 << 20))
    return root


@pytest.fixture
def tsrv(troot, certs):
    cert, key = certs["ec"]
    s = start_tls(troot, "--tls-cert", str(cert), "--tls-key", str(key))
    s.cert, s.root = cert, troot
    yield s
    assert s.stop() == 0, s.output()


# ---------------------------------------------------------------- peers

@pytest.mark.skipif(not CURL, reason="needs curl")
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_curl_over_https_with_ecdsa_and_rsa(troot, certs, server, kind):
    cert, key = certs[kind]
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(key), ready=HTTPS_RE)
    assert s.wait_for("SPKI fingerprint", 10)
    assert "https://%s:%d/" % (HOST, s.port) in s.output()
    assert spki_of_pem(cert.read_bytes()) in s.output()  # the fingerprint, for pinning
    u = "https://localhost:%d" % s.port
    r = curl("-v", "--cacert", str(cert), u + "/a.txt", u + "/sub/x.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello, a\nx in sub\n"
    err = r.stderr.decode()
    assert "ALPN: server accepted http/1.1" in err or "ALPN, server accepted to use http/1.1" in err
    assert re.search(r"SSL connection using TLSv1\.[23]", err)
    # ...and only with the right CA: an unknown certificate is refused
    r = curl("--cacert", str(certs["other"][0]), u + "/a.txt")
    assert r.returncode != 0


def test_http_client_and_requests(tsrv):
    ctx = client_ctx(tsrv.cert)
    h = http.client.HTTPSConnection("localhost", tsrv.port, context=ctx, timeout=T)
    for path, body in (("/a.txt", b"hello, a\n"), ("/b.txt", b"bee\n" * 10)):
        h.request("GET", path)
        r = h.getresponse()
        assert (r.status, r.read()) == (200, body)
    h.close()
    if requests:
        with requests.Session() as sess:
            for _ in range(3):
                r = sess.get("https://localhost:%d/mid.bin" % tsrv.port, verify=str(tsrv.cert),
                             timeout=T)
                assert r.status_code == 200 and r.content == bytes(range(256)) * 400


@pytest.mark.skipif(not CURL, reason="needs curl")
def test_self_signed_prints_pin_and_urls_and_curl_pins_it(tmp_path, server):
    (tmp_path / "i.txt").write_bytes(b"pinned\n")
    s = server("serve", "0", "-b", HOST, "-d", str(tmp_path), "--tls-self-signed", ready=HTTPS_RE)
    assert s.wait_for("ignore-certificate-errors-spki-list", 10)
    out = s.output()
    m = re.search(r"SHA-256 SPKI fingerprint: ([A-Za-z0-9+/]{43}=)", out)
    assert m, out
    pin = m.group(1)
    assert "https://%s:%d/" % (HOST, s.port) in out
    assert "https://localhost:%d/" % s.port in out
    assert "--ignore-certificate-errors-spki-list=" + pin in out
    # the certificate served is the one whose key the pin names
    with TlsConn(s.port) as c:
        der = c.s.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    assert spki_of_pem(pem) == pin
    san = openssl("x509", "-noout", "-ext", "subjectAltName", input=pem).decode()
    for name in ("DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
        assert name in san, san
    assert "DNS:" + socket.gethostname() in san or not re.fullmatch(r"[A-Za-z0-9.-]+",
                                                                     socket.gethostname())
    u = "https://localhost:%d/i.txt" % s.port
    r = curl("--insecure", "--pinnedpubkey", "sha256//" + pin, u)
    assert r.returncode == 0 and r.stdout == b"pinned\n", r.stderr
    r = curl("--insecure", "--pinnedpubkey", "sha256//" + "A" * 43 + "=", u)
    assert r.returncode != 0  # a wrong pin is refused: the check is real
    # nothing of it is written to disk
    assert sorted(os.listdir(tmp_path)) == ["i.txt"]


# ---------------------------------------------------------------- protocol

@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(tsrv, flag):
    r = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, tsrv.port), flag,
                        "-cipher", "DEFAULT@SECLEVEL=0"],
                       input=b"", capture_output=True, timeout=T * 2)
    assert r.returncode != 0
    # the server said no (the client was willing: SECLEVEL=0 and the flag)
    assert b"alert protocol version" in r.stderr, r.stderr
    assert b"no peer certificate available" in r.stdout


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls12_and_tls13_work(tsrv, version):
    ctx = client_ctx(tsrv.cert, minimum_version=version, maximum_version=version)
    with TlsConn(tsrv.port, ctx=ctx) as c:
        assert c.s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                 ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"


def test_tls12_ciphers_are_forward_secret_aead(tsrv):
    ctx = client_ctx(tsrv.cert, maximum_version=ssl.TLSVersion.TLSv1_2)
    with TlsConn(tsrv.port, ctx=ctx) as c:
        name = c.s.cipher()[0]
    assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name
    # a client with only CBC or RSA key exchange finds nothing in common
    ctx = client_ctx(tsrv.cert, maximum_version=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA")
    with pytest.raises(ssl.SSLError):
        TlsConn(tsrv.port, ctx=ctx)


@pytest.mark.parametrize("extra", [[], ["--no-h2"]])
def test_alpn_offers_h2_unless_no_h2(troot, certs, server, extra):
    cert, key = certs["ec"]
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(key), *extra, ready=HTTPS_RE)
    ctx = client_ctx(cert)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with TlsConn(s.port, ctx=ctx) as c:
        assert c.s.selected_alpn_protocol() == ("http/1.1" if extra else "h2")
    ctx = client_ctx(cert)
    ctx.set_alpn_protocols(["http/1.1"])
    with TlsConn(s.port, ctx=ctx) as c:
        assert c.s.selected_alpn_protocol() == "http/1.1"
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().status == 200
    ctx = client_ctx(cert)
    ctx.set_alpn_protocols(["http/1.0"])
    with TlsConn(s.port, ctx=ctx) as c:
        assert c.s.selected_alpn_protocol() == "http/1.0"
        c.send(req("/a.txt", host=None, version="HTTP/1.0"))
        assert c.read_response().status == 200
    # RFC 7301 §3.2: nothing in common is a fatal no_application_protocol
    # alert (as nginx since 1.21.4: a cross-protocol (ALPACA) guard), never a
    # connection whose protocol neither side agreed on
    offers = [["spdy/3"], ["acme-tls/1"]] + ([["h2"]] if extra else [])
    for offer in offers:
        ctx = client_ctx(cert)
        ctx.set_alpn_protocols(offer)
        with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
            TlsConn(s.port, ctx=ctx)
    ctx = client_ctx(cert)  # a client without ALPN is served as before
    with TlsConn(s.port, ctx=ctx) as c:
        assert c.s.selected_alpn_protocol() is None
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().status == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume(tsrv, version):
    ctx = client_ctx(tsrv.cert, maximum_version=version)
    with TlsConn(tsrv.port, ctx=ctx) as c:
        c.send(req("/a.txt", host="localhost"))
        c.read_response()  # TLS 1.3 sends its ticket after the handshake
        sess = c.s.session
        assert not c.s.session_reused
    assert sess is not None
    with TlsConn(tsrv.port, ctx=ctx, session=sess) as c:
        assert c.s.session_reused
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"


def test_resumption_with_openssl_s_client(tsrv, tmp_path):
    sess = tmp_path / "sess.pem"
    base = [OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, tsrv.port), "-CAfile",
            str(tsrv.cert), "-servername", "localhost", "-tls1_2"]
    r1 = subprocess.run(base + ["-sess_out", str(sess)], input=b"", capture_output=True, timeout=T * 2)
    assert b"New, TLSv1.2" in r1.stdout, r1.stdout[-500:]
    r2 = subprocess.run(base + ["-sess_in", str(sess)], input=b"", capture_output=True, timeout=T * 2)
    assert b"Reused, TLSv1.2" in r2.stdout, r2.stdout[-500:]


# ---------------------------------------------------------------- reload and errors

def test_sighup_reloads_the_certificate(troot, certs, tmp_path, server):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    shutil.copy(certs["ec"][0], cert)
    shutil.copy(certs["ec"][1], key)
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(key), ready=HTTPS_RE)
    old_der = ssl.PEM_cert_to_DER_cert(certs["ec"][0].read_text())
    new_der = ssl.PEM_cert_to_DER_cert(certs["rsa"][0].read_text())
    kept = TlsConn(s.port)
    kept.send(req("/a.txt", host="localhost"))
    assert kept.read_response().status == 200
    assert kept.s.getpeercert(True) == old_der

    # a bad pair: the old one stays, and stderr says why
    shutil.copy(certs["rsa"][0], cert)  # the key no longer matches
    s.proc.send_signal(signal.SIGHUP)
    assert s.wait_for("cannot reload the certificate, still serving the previous one: the key "
                      ".* does not match the certificate", 10), s.output()
    with TlsConn(s.port) as c:
        assert c.s.getpeercert(True) == old_der

    shutil.copy(certs["rsa"][1], key)
    s.proc.send_signal(signal.SIGHUP)
    assert s.wait_for("reloaded the TLS certificate and key", 10), s.output()
    with TlsConn(s.port) as c:
        assert c.s.getpeercert(True) == new_der
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"
    # the connection made before goes on, with its certificate
    kept.send(req("/b.txt", host="localhost"))
    assert kept.read_response().body == b"bee\n" * 10
    kept.close()
    assert s.alive()


def serve_fails(root, *args):
    r = subprocess.run([BERTH, "serve", "0", "-b", HOST, "-d",
                        str(root)] + list(args), capture_output=True, timeout=T * 2)
    assert r.returncode != 0
    return r.stderr.decode()


def test_bad_files_say_cause_and_fix(troot, certs, tmp_path):
    cert, key = certs["ec"]
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.key"))
    assert re.search(r"cannot read the key .*nope\.key: No such file or directory; check the path",
                     err), err
    err = serve_fails(troot, "--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(key))
    assert "cannot read the certificate" in err and "nope.crt" in err, err
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(certs["rsa"][1]))
    assert "does not match the certificate" in err and "give the key the certificate was made for" in err, err
    err = serve_fails(troot, "--tls-cert", str(key), "--tls-key", str(key))  # a key as certificate
    assert "holds no PEM certificate" in err and "--tls-cert" in err, err
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(cert))  # and the reverse
    assert "holds no PEM private key" in err and "--tls-key" in err, err
    enc = tmp_path / "enc.key"
    openssl("pkey", "-in", str(key), "-out", str(enc), "-aes256", "-passout", "pass:secret")
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(enc))
    assert "is encrypted; give its passphrase in a file with --tls-password-file" in err, err
    assert "openssl pkey" in err, err
    err = serve_fails(troot, "--tls-cert", str(cert))  # a file without the key in it
    assert "holds no PEM private key" in err and "--tls-key" in err, err
    err = serve_fails(troot, "--tls-key", str(key))
    assert "a key needs its certificate; add --tls-cert" in err, err
    err = serve_fails(troot, "--tls-self-signed", "--tls-cert", str(cert), "--tls-key", str(key))
    assert "--tls-self-signed" in err, err
    assert err.count("\n") == 1  # one line


@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
def test_encrypted_key_with_a_password_file(troot, certs, tmp_path, server, form):
    """python -m http.server --tls-password-file (3.14): the passphrase of
    an encrypted key, in a file, surrounding white space removed; never a
    prompt.  A wrong one names the file; SIGHUP reads the file again."""
    cert, key = certs["rsa"]
    enc, pw = tmp_path / "enc.key", tmp_path / "pass.txt"
    if form == "pkcs8":
        openssl("pkey", "-in", str(key), "-out", str(enc), "-aes256", "-passout", "pass:s3cret word")
    else:  # -----BEGIN RSA PRIVATE KEY----- with Proc-Type: 4,ENCRYPTED
        openssl("rsa", "-in", str(key), "-out", str(enc), "-aes128", "-traditional", "-passout",
                "pass:s3cret word")
    assert b"ENCRYPTED" in enc.read_bytes()
    pw.write_text("  s3cret word\n")
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(enc), "--tls-password-file", str(pw), ready=HTTPS_RE)
    assert tls_get(s.port, "/a.txt", cert).body == b"hello, a\n"
    # a wrong passphrase at reload: the old pair stays, the line names the file
    pw.write_text("wrong\n")
    s.proc.send_signal(signal.SIGHUP)
    assert s.wait_for("cannot reload the certificate, still serving the previous one: cannot "
                      "decrypt the key .*enc\\.key with the passphrase in .*pass\\.txt", 10), s.output()
    assert tls_get(s.port, "/a.txt", cert).status == 200
    pw.write_text("s3cret word")
    s.proc.send_signal(signal.SIGHUP)
    assert s.wait_for("reloaded the TLS certificate and key", 10), s.output()
    assert tls_get(s.port, "/a.txt", cert).status == 200
    # at start: a wrong or missing file stops berth with cause and fix
    pw.write_text("wrong")
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(enc), "--tls-password-file",
                      str(pw))
    assert re.search(r"cannot decrypt the key \S*enc\.key with the passphrase in \S*pass\.txt "
                     r"\(bad decrypt\); put the key's passphrase in that file", err), err
    err = serve_fails(troot, "--tls-cert", str(cert), "--tls-key", str(enc), "--tls-password-file",
                      str(tmp_path / "nope"))
    assert re.search(r"cannot read the password file \S*nope: No such file or directory; check the "
                     r"path", err), err
    err = serve_fails(troot, "--tls-password-file", str(pw))
    assert "a key needs its certificate; add --tls-cert" in err, err


def test_one_file_with_certificate_and_key(troot, certs, tmp_path, server):
    """--tls-cert alone when its PEM file holds the key too (python -m
    http.server takes such a file; so does HAProxy's crt)."""
    cert, key = certs["ec"]
    both = tmp_path / "both.pem"
    both.write_bytes(key.read_bytes() + cert.read_bytes())
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(both),
               ready=HTTPS_RE)
    with TlsConn(s.port, cert) as c:
        assert c.s.getpeercert(True) == ssl.PEM_cert_to_DER_cert(cert.read_text())
        c.send(req("/a.txt", host="localhost"))
        assert c.read_response().body == b"hello, a\n"


def test_expired_certificate_is_a_warning(troot, certs, tmp_path, server):
    key = certs["ec"][1]
    csr = openssl("req", "-new", "-key", str(key), "-subj", "/CN=localhost")
    exp = tmp_path / "expired.pem"
    openssl("x509", "-req", "-signkey", str(key), "-days", "-1", "-out", str(exp), input=csr)
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(exp), "--tls-key",
               str(key), ready=HTTPS_RE)
    assert re.search(r"warning: the certificate .*expired\.pem expired on .*; clients will refuse "
                     r"it: renew it", s.output()), s.output()
    r = tls_get(s.port, "/a.txt")  # it still serves (an unverifying client gets the file)
    assert r.body == b"hello, a\n"


# ---------------------------------------------------------------- hostile peers

def test_plaintext_to_the_tls_port_is_closed_cleanly(tsrv):
    with Conn(tsrv.port) as c:
        c.send(req("/a.txt"))
        t0 = time.monotonic()
        c.s.settimeout(T)
        assert c.s.recv(4096) == b""  # an orderly close: no reset, no bytes
        assert time.monotonic() - t0 < T
    assert tls_get(tsrv.port, "/a.txt", tsrv.cert).status == 200


def client_hello():
    """The bytes a real TLS client opens with (python's ssl, in memory)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl._create_unverified_context().wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


@pytest.mark.parametrize("sent", ["nothing", "half a ClientHello", "a whole ClientHello"])
def test_stalled_handshakes_close_within_the_header_timeout(troot, certs, server, sent):
    cert, key = certs["ec"]
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(key), "--header-timeout", "1", "--idle-timeout", "30", ready=HTTPS_RE)
    hello = client_hello()
    data = {"nothing": b"", "half a ClientHello": hello[:len(hello) // 2],
            "a whole ClientHello": hello}[sent]
    with Conn(s.port) as c:
        t0 = time.monotonic()
        if data:
            c.send(data)
        c.s.settimeout(T)
        got = b""
        try:
            while True:  # the ServerHello and the rest, then the close
                b = c.s.recv(65536)
                if not b:
                    break
                got += b
        except ConnectionResetError:
            pass
        took = time.monotonic() - t0
    assert 0.8 <= took < 6, took  # the header timeout (1 s), not the idle one (30 s)
    assert bool(got) == (sent == "a whole ClientHello")
    assert s.alive()


def test_slowloris_inside_tls_gets_408(troot, certs, server):
    cert, key = certs["ec"]
    s = server("serve", "0", "-b", HOST, "-d", str(troot), "--tls-cert", str(cert), "--tls-key",
               str(key), "--header-timeout", "1", ready=HTTPS_RE)
    with TlsConn(s.port, cert) as c:
        t0 = time.monotonic()
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n")
        r = c.read_response()
        assert r.status == 408
        assert time.monotonic() - t0 < 6


# ---------------------------------------------------------------- HTTP/1.1 over TLS

def test_get_head_and_listing_over_tls(tsrv):
    r = tls_get(tsrv.port, "/a.txt", tsrv.cert)
    assert (r.status, r.body, r.h("Content-Length")) == (200, b"hello, a\n", "9")
    r = tls_get(tsrv.port, "/mid.bin", tsrv.cert, method="HEAD")
    assert (r.status, r.body, r.h("Content-Length")) == (200, b"", str(256 * 400))
    r = tls_get(tsrv.port, "/sub/", tsrv.cert)
    assert r.status == 200 and b'href="x.txt"' in r.body
    r = tls_get(tsrv.port, "/sub/../../../etc/passwd", tsrv.cert)
    assert r.status in (400, 403, 404) and b"root:" not in r.body
    r = tls_get(tsrv.port, "/%2e%2e/%2e%2e/etc/passwd", tsrv.cert)
    assert r.status in (400, 403, 404) and b"root:" not in r.body


def test_ranges_and_preconditions_over_tls(tsrv):
    data = bytes(range(256)) * 400
    r = tls_get(tsrv.port, "/mid.bin", tsrv.cert, extra="Range: bytes=10-19\r\n")
    assert (r.status, r.body, r.h("Content-Range")) == (206, data[10:20], "bytes 10-19/102400")
    r = tls_get(tsrv.port, "/mid.bin", tsrv.cert, extra="Range: bytes=0-9,50000-50009,-5\r\n")
    parts = parse_multipart(r)
    assert [(p[0], p[1], p[3]) for p in parts] == [(0, 9, data[:10]), (50000, 50009,
                                                                          data[50000:50010]),
                                                     (102395, 102399, data[-5:])]
    etag = tls_get(tsrv.port, "/a.txt", tsrv.cert).h("ETag")
    r = tls_get(tsrv.port, "/a.txt", tsrv.cert, extra="If-None-Match: %s\r\n" % etag)
    assert r.status == 304 and r.body == b""
    r = tls_get(tsrv.port, "/a.txt", tsrv.cert, extra='If-Match: "nope"\r\n')
    assert r.status == 412


def test_pipelining_over_tls(tsrv):
    with TlsConn(tsrv.port, tsrv.cert) as c:
        paths = ["/a.txt", "/mid.bin", "/b.txt", "/sub/x.txt"] * 4
        c.send(b"".join(req(p, host="localhost") for p in paths))
        bodies = [c.read_response().body for _ in paths]
    want = {"/a.txt": b"hello, a\n", "/b.txt": b"bee\n" * 10, "/sub/x.txt": b"x in sub\n",
            "/mid.bin": bytes(range(256)) * 400}
    assert bodies == [want[p] for p in paths]


@pytest.mark.skipif(not CURL, reason="needs curl")
def test_64mib_download_over_tls_is_whole(tmp_path, certs, server):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    cert, key = certs["ec"]
    s = server("serve", "0", "-b", HOST, "-d", str(tmp_path), "-q", "--tls-cert", str(cert),
               "--tls-key", str(key), ready=HTTPS_RE)
    r = curl("--cacert", str(cert), "https://localhost:%d/big.bin" % s.port, "-o", "-",
             timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 64 << 20
    assert hashlib.sha256(r.stdout).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_download_cut_short_leaves_the_server_serving(tsrv):
    for _ in range(3):
        c = TlsConn(tsrv.port, tsrv.cert)
        c.send(req("/8m.bin", host="localhost"))
        c.read_head()
        c.read_exact(100000)
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.s.close()  # a reset mid-transfer
    r = tls_get(tsrv.port, "/8m.bin", tsrv.cert)
    assert r.status == 200 and r.body == (tsrv.root / "8m.bin").read_bytes()
    assert tsrv.alive()


@pytest.mark.parametrize("n", [63, 66, 200])
def test_requests_held_inside_openssl_are_answered(tsrv, n):
    """A little more than the worker's 64 KiB read at once: the rest, read
    decrypted inside OpenSSL, raises no socket event, yet every request is
    answered.  The n requests (about 1 KiB each) are encrypted in memory as
    10000-byte records and sent with one send()."""
    pad = "X-Pad: " + "p" * 1000 + "\r\n"
    sock = socket.create_connection((HOST, tsrv.port), timeout=5)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(tsrv.cert).wrap_bio(inc, out, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            b = sock.recv(65536)
            assert b, "closed during the handshake"
            inc.write(b)
    data = b"".join(req("/a.txt", host="localhost", extra=pad) for _ in range(n))
    for i in range(0, len(data), 10000):  # records of 10000 bytes: one straddles 64 KiB
        obj.write(data[i:i + 10000])
    sock.sendall(out.read())
    got = b""
    while got.count(b"hello, a\n") < n:
        try:
            got += obj.read(65536)
        except ssl.SSLWantReadError:
            b = sock.recv(65536)  # socket.timeout here: berth stalled
            assert b, "closed after %d answers" % got.count(b"hello, a\n")
            inc.write(b)
    sock.close()
    assert got.count(b"HTTP/1.1 200 OK") == n
