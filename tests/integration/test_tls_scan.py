"""sslscan (Debian's, 2.x: its own raw handshakes for SSLv2/SSLv3 and for
every TLS version's cipher list, so what it reports is what the server
accepts, not what the local OpenSSL can offer) against `berth serve` with
--tls-self-signed and with ECDSA and RSA pairs made by the openssl command:
only TLS 1.2 and 1.3, and no weak cipher.  Its --xml=- output is parsed, not
its coloured text.  And the same scan of a deliberately weak
`openssl s_server`, so the checks are shown to see what they look for."""
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from test_serve import HOST
from test_tls import OPENSSL, make_cert, start_tls

SSLSCAN = shutil.which("sslscan")
pytestmark = pytest.mark.skipif(not SSLSCAN or not OPENSSL, reason="needs sslscan and openssl")

# what no server should accept in 2026: by name (OpenSSL and IANA spellings)
WEAK = ("RC4", "DES-CBC3", "3DES", "NULL", "EXP", "ADH", "AECDH", "anon", "MD5", "IDEA", "SEED",
        "_CBC_", "-CBC-")


def scan(port):
    """(protocols {(type, version): enabled}, [(sslversion, cipher, status)])"""
    p = subprocess.run([SSLSCAN, "--xml=-", "--no-colour", "--no-heartbleed", "%s:%d" % (HOST, port)],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = ET.fromstring(p.stdout[p.stdout.index(b"<?xml"):])
    test = doc.find("ssltest")
    assert test is not None, p.stdout
    protos = {(e.get("type"), e.get("version")): e.get("enabled") == "1" for e in test.iter("protocol")}
    ciphers = [(e.get("sslversion"), e.get("cipher"), e.get("status")) for e in test.iter("cipher")]
    return protos, ciphers


def weak_ciphers(ciphers):
    """The accepted suites that are weak: a name from WEAK, or a TLS 1.2 suite
    that is not an AEAD (CBC with SHA-1 or SHA-2 MACs: Lucky13-style, no
    forward-secure-only list would keep them), or without ECDHE/DHE."""
    bad = []
    for version, name, _ in ciphers:
        if any(w in name for w in WEAK):
            bad.append((version, name))
        elif version == "TLSv1.2" and not (("GCM" in name or "CHACHA20" in name or "CCM" in name)
                                           and name.startswith(("ECDHE-", "DHE-"))):
            bad.append((version, name))
    return bad


def check_modern(port):
    protos, ciphers = scan(port)
    # every version was tested, and only TLS 1.2 and 1.3 are on
    assert protos == {("ssl", "2"): False, ("ssl", "3"): False, ("tls", "1.0"): False,
                      ("tls", "1.1"): False, ("tls", "1.2"): True, ("tls", "1.3"): True}, protos
    assert {v for v, _, _ in ciphers} == {"TLSv1.2", "TLSv1.3"}, ciphers
    assert weak_ciphers(ciphers) == [], ciphers
    return ciphers


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("scan-certs")
    return {kind: make_cert(d, kind, kind) for kind in ("ec", "rsa")}


def test_self_signed_offers_only_modern_tls(tmp_path):
    s = start_tls(tmp_path, "--tls-self-signed", "--quiet")
    try:
        ciphers = check_modern(s.port)
        assert any(n == "ECDHE-ECDSA-AES128-GCM-SHA256" for _, n, _ in ciphers), ciphers
    finally:
        s.kill()


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_openssl_made_pairs_offer_only_modern_tls(tmp_path, certs, kind):
    cert, key = certs[kind]
    s = start_tls(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), "--quiet")
    try:
        ciphers = check_modern(s.port)
        want = "ECDHE-ECDSA-" if kind == "ec" else "ECDHE-RSA-"
        assert all(n.startswith(want) for v, n, _ in ciphers if v == "TLSv1.2"), ciphers
    finally:
        s.kill()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def test_the_checks_see_a_weak_server(tmp_path, certs):
    """openssl s_server with TLS 1.0 allowed and every cipher at security
    level 0: the same parsing reports TLS 1.0 on and weak suites accepted."""
    cert, key = certs["rsa"]
    port = free_port()
    p = subprocess.Popen([OPENSSL, "s_server", "-accept", "%s:%d" % (HOST, port), "-cert", str(cert),
                          "-key", str(key), "-min_protocol", "TLSv1", "-cipher", "ALL:@SECLEVEL=0",
                          "-quiet", "-naccept", "10000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # until it listens
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                assert p.poll() is None and time.monotonic() < deadline, "s_server did not start"
                time.sleep(0.05)
        protos, ciphers = scan(port)
        assert protos[("tls", "1.0")] and protos[("tls", "1.2")], protos
        assert weak_ciphers(ciphers), ciphers
    finally:
        p.kill()
        p.wait()
