"""The embedding API over every protocol (issue 9): examples/upload, a
program built on include/berth.h, answers the same over HTTP/1.1, HTTP/1.1
over TLS, h2 (ALPN over TLS) and h2c (prior knowledge) — status, fields and
body of a handler, HEAD, 405 with Allow, a request body, static files — and
berth_req_protocol() / berth_req_secure() tell the handler which it was."""
import os
import time
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, Server
from test_tls import HTTPS_RE

CURL = shutil.which("curl")
UPLOAD = os.path.join(BUILD, "examples", "upload")

pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")

# name -> (server: "plain" or "tls", curl's protocol flags, what the handler is told)
PROTOCOLS = {
    "h1": ("plain", ["--http1.1"], "HTTP/1.1 plain"),
    "h1-tls": ("tls", ["--http1.1"], "HTTP/1.1 secure"),
    "h2": ("tls", ["--http2"], "HTTP/2 secure"),
    "h2c": ("plain", ["--http2-prior-knowledge"], "HTTP/2 plain"),
}
# fields that belong to the connection or the moment, not to the answer
HOP = {"date", "connection", "keep-alive"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("apiproto")
    (root / "page.html").write_text("<!doctype html><title>p</title><p>same everywhere</p>\n")
    (root / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB: sent from the descriptor
    return root


@pytest.fixture(scope="module")
def servers(site):
    plain = Server(["0", str(site), "100000"], exe=UPLOAD)
    tls = Server(["0", str(site), "100000", "tls"], exe=UPLOAD, ready=HTTPS_RE)
    yield {"plain": "http://127.0.0.1:%d" % plain.port, "tls": "https://127.0.0.1:%d" % tls.port}
    for s in (plain, tls):
        s.kill()


def fetch(servers, proto, path, *args, tmp_path):
    """(version, status, sorted [(name, value)] without hop fields, body) as curl got them."""
    kind, flags, _ = PROTOCOLS[proto]
    head, body = tmp_path / ("h-" + proto), tmp_path / ("b-" + proto)
    p = subprocess.run([CURL, "-sS", "-k", "-D", str(head), "-o", str(body)] + flags + list(args) +
                       [servers[kind] + path], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    raw, data = head.read_bytes(), body.read_bytes()
    if "-I" in args:  # curl writes a HEAD's fields as its output: nothing else may follow
        assert data == raw, (proto, data)
        data = b""
    # the last head: an interim 100 Continue (HTTP/1.1 only) precedes the answer
    last = [b for b in raw.decode("latin-1").split("\r\n\r\n") if b.strip()][-1]
    lines = last.split("\r\n")
    version, status = lines[0].split(" ")[:2]
    fields = sorted((n.strip().lower(), v.strip()) for n, _, v in
                    (ln.partition(":") for ln in lines[1:] if ln) if n.strip().lower() not in HOP)
    # a multipart answer's boundary is random per answer
    m = [v for n, v in fields if n == "content-type" and "boundary=" in v]
    if m:
        boundary = m[0].split("boundary=")[1]
        fields = [(n, v.replace(boundary, "BOUNDARY")) for n, v in fields]
        data = data.replace(boundary.encode(), b"BOUNDARY")
    return version, int(status), fields, data


def same_everywhere(servers, path, *args, tmp_path):
    """The answer over each protocol, after checking it is the same over all."""
    # a file over 32 KiB is answered with a size+mtime ETag until its content
    # hash is known (per server, off the loop): ask until every server's is
    # the content's, so the protocols are compared on one settled answer
    deadline = time.monotonic() + 20
    while True:
        got = {p: fetch(servers, p, path, *args, tmp_path=tmp_path) for p in PROTOCOLS}
        cheap = [p for p, g in got.items() for n, v in g[2]
                 if n == "etag" and re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"', v)]
        if not cheap or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    want_version = {"h1": "HTTP/1.1", "h1-tls": "HTTP/1.1", "h2": "HTTP/2", "h2c": "HTTP/2"}
    for p, (version, *_rest) in got.items():
        assert version == want_version[p], (p, version)  # the protocol really was the one asked
    first = got["h1"][1:]
    for p, g in got.items():
        assert g[1:] == first, "%s answers differently from h1:\n%r\n%r" % (p, g[1:], first)
    return first


@pytest.mark.parametrize("proto", sorted(PROTOCOLS))
def test_handler_is_told_protocol_and_security(servers, proto, tmp_path):
    _, status, _, body = fetch(servers, proto, "/proto", tmp_path=tmp_path)
    assert (status, body.decode()) == (200, PROTOCOLS[proto][2] + "\n")


def test_http10_is_named(servers, tmp_path):
    p = subprocess.run([CURL, "-sS", "--http1.0", servers["plain"] + "/proto"], capture_output=True,
                       timeout=60)
    assert p.stdout == b"HTTP/1.0 plain\n", p.stderr


def test_request_body_reaches_the_handler_the_same(servers, tmp_path):
    data = os.urandom(70000)
    (tmp_path / "up").write_bytes(data)
    status, fields, body = same_everywhere(servers, "/upload", "--data-binary", "@%s" % (tmp_path / "up"),
                                           "-H", "Content-Type: application/octet-stream",
                                           tmp_path=tmp_path)
    assert status == 200 and body == data
    assert ("x-body-length", "70000") in fields and ("content-length", "70000") in fields


def test_chunked_or_streamed_body_the_same(servers, tmp_path):
    """curl sends stdin-like bodies chunked over h1 and as DATA without a
    length over h2: the handler gets the same whole body either way."""
    data = b"piece " * 5000
    (tmp_path / "up").write_bytes(data)
    status, fields, body = same_everywhere(servers, "/upload", "-T", str(tmp_path / "up"), "-X", "POST",
                                           "-H", "Transfer-Encoding: chunked", tmp_path=tmp_path)
    assert status == 200 and body == data and ("x-body-length", str(len(data))) in fields


def test_too_large_body_is_413_everywhere(servers, tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 200000)
    status, _, _ = same_everywhere(servers, "/upload", "--data-binary", "@%s" % (tmp_path / "big"),
                                   tmp_path=tmp_path)
    assert status == 413


def test_wrong_method_is_405_with_allow_everywhere(servers, tmp_path):
    status, fields, _ = same_everywhere(servers, "/upload", "-X", "DELETE", tmp_path=tmp_path)
    assert status == 405
    assert [v for n, v in fields if n == "allow"] == ["POST, GET, HEAD, OPTIONS"], fields  # GET, HEAD: the static root


def test_head_of_a_handler_route_everywhere(servers, tmp_path):
    """HEAD runs the GET route: over each protocol the GET's fields and no
    body (/proto's body names the protocol, so its length is compared per
    protocol).  curl -I's output is the head itself, checked in fetch."""
    for proto in PROTOCOLS:
        _, gs, gf, gb = fetch(servers, proto, "/proto", tmp_path=tmp_path)
        _, hs, hf, hb = fetch(servers, proto, "/proto", "-I", tmp_path=tmp_path)
        assert (hs, hb) == (200, b"") and gs == 200, proto
        assert hf == gf, (proto, hf, gf)
        assert ("content-length", str(len(gb))) in hf, (proto, hf)


@pytest.mark.parametrize("path,args", [
    ("/page.html", []),
    ("/page.html", ["-I"]),
    ("/big.bin", []),
    ("/big.bin", ["-r", "1000-1999,5000-5099"]),
    ("/", []),  # the listing
    ("/nothing", []),
])
def test_static_files_the_same_everywhere(servers, site, path, args, tmp_path):
    status, fields, body = same_everywhere(servers, path, *args, tmp_path=tmp_path)
    if path == "/big.bin" and not args:
        assert status == 200 and body == (site / "big.bin").read_bytes()
    elif "-r" in args:
        assert status == 206 and len(body) > 1100 and b"multipart/byteranges" in \
            dict(fields)["content-type"].encode()
    elif "-I" in args:
        assert status == 200 and body == b""
    elif path == "/nothing":
        assert status == 404
    else:
        assert status == 200 and body
