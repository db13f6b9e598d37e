"""Request bodies (issue 8): chunked bodies are decoded (RFC 9112 §7.1) —
discarded for static files, handed whole to handlers — and a body that
trickles in is bounded in time like a head.  Real clients: raw sockets,
http.client and requests with a generator body."""
import http.client
import os
import socket
import time

import pytest

from conftest import BUILD, Server
from test_serve import (T, Conn, make_site, raw_exchange, req, responses, start_serve, status_of,
                        statuses)

try:
    import requests
except ImportError:  # pragma: no cover
    requests = None

UPLOAD = os.path.join(BUILD, "examples", "upload")


@pytest.fixture
def site(tmp_path):
    root = make_site(tmp_path / "www")
    s = start_serve(root)
    yield s
    s.kill()


@pytest.fixture
def app(tmp_path):
    """The upload example: POST /upload echoes the decoded body; static
    files from a docroot beside it; max_body 4096."""
    root = make_site(tmp_path / "www")
    s = Server(["0", str(root), "4096"], exe=UPLOAD)
    yield s
    s.kill()


def chunked(*parts, trailer=b""):
    out = b""
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def test_get_with_chunked_body_is_answered_and_pipelining_goes_on(site):
    body = chunked(b"hello", b" world" * 100, trailer=b"X-Check: 1\r\n")
    data = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
            req("/b.txt") + req("/a.txt", extra="Connection: close\r\n"))
    out = raw_exchange(site.port, data)
    rs = responses(out)
    assert [r.status for r in rs] == [200, 200, 200], out[:500]
    assert rs[0].body == b"hello, a\n" and rs[2].body == b"hello, a\n"


def test_post_with_chunked_body_to_a_static_file_is_405(site):
    data = (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunked(b"x" * 1000) + req("/a.txt", extra="Connection: close\r\n"))
    rs = responses(raw_exchange(site.port, data))
    assert [r.status for r in rs] == [405, 200]
    assert "GET" in rs[0].h("Allow")


@pytest.mark.parametrize("bad", [b"zz\r\n", b"5\r\nhelloXX\r\n0\r\n\r\n", b"5\nhello\r\n0\r\n\r\n",
                                 b"-1\r\n", b"5;\x01\r\nhello\r\n0\r\n\r\n"])
def test_malformed_chunks_close_the_connection(site, bad):
    data = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + bad +
            req("/b.txt"))
    out = raw_exchange(site.port, data)
    st = statuses(out)
    # the static answer does not depend on the body, so it may go first; the
    # connection closes at the bad framing, and nothing after it is answered
    assert st in ([200], [400]), out[:400]


def test_chunked_body_split_at_every_byte(site):
    body = chunked(b"abc", b"defgh", trailer=b"T: v\r\n")
    head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    for cut in range(len(body) + 1):
        with Conn(site.port) as c:
            c.send(head + body[:cut])
            time.sleep(0.01)
            c.send(body[cut:] + req("/b.txt"))
            assert c.read_response().status == 200
            r = c.read_response()
            assert r.status == 200 and r.body.startswith(b"bee"), cut


def test_handler_receives_decoded_chunked_body(app):
    body = bytes(range(256)) * 10
    data = (b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunked(body[:1], body[1:1000], body[1000:]) +
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz")
    rs = responses(raw_exchange(app.port, data))
    assert [r.status for r in rs] == [200, 200]
    assert rs[0].body == body and rs[0].h("X-Body-Length") == str(len(body))
    assert rs[1].body == b"xyz"


def test_handler_chunked_body_split_everywhere(app):
    body = chunked(b"abc", b"de", trailer=b"T: v\r\n")
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    for cut in range(0, len(body) + 1):
        with Conn(app.port) as c:
            c.send(head + body[:cut])
            time.sleep(0.01)
            c.send(body[cut:])
            r = c.read_response()
            assert r.status == 200 and r.body == b"abcde", (cut, r)


def test_handler_chunked_body_over_the_limit_is_413(app):
    data = (b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            chunked(b"x" * 3000, b"y" * 3000))
    out = raw_exchange(app.port, data)
    assert status_of(out) == 413, out[:300]


def test_handler_chunked_expect_100_continue(app):
    with Conn(app.port) as c:
        c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-continue\r\n\r\n")
        head = c.read_head()
        assert head[1] == 100, head
        c.send(chunked(b"after continue"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"after continue"


@pytest.mark.skipif(requests is None, reason="python3-requests")
def test_requests_generator_body_is_chunked(app):
    def gen():
        for i in range(5):
            yield b"part%d;" % i
    r = requests.post("http://127.0.0.1:%d/upload" % app.port, data=gen(), timeout=T)
    assert r.status_code == 200 and r.content == b"part0;part1;part2;part3;part4;"


@pytest.mark.skipif(requests is None, reason="python3-requests")
def test_requests_generator_body_to_a_static_file(site):
    r = requests.post("http://127.0.0.1:%d/a.txt" % site.port, data=iter([b"a", b"b"]), timeout=T)
    assert r.status_code == 405


def test_http_client_chunked_upload(app):
    c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=T)
    c.request("POST", "/upload", body=iter([b"one ", b"two"]), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"one two"
    c.close()


def trickle_closed(port, head, step=b"x", every=0.4, limit=20):
    """Sends head, then step every `every` s; returns the seconds until the
    server closed the connection (None if it never did within limit)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=T)
    s.sendall(head)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < limit:
            time.sleep(every)
            s.sendall(step)
            s.settimeout(0.01)
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        return time.monotonic() - t0
            except socket.timeout:
                pass
            s.settimeout(T)
    except (BrokenPipeError, ConnectionResetError):
        return time.monotonic() - t0
    finally:
        s.close()
    return None


def test_trickled_discarded_body_is_bounded(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), "--header-timeout", "2",
               "--idle-timeout", "1")
    head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
    took = trickle_closed(s.port, head)
    assert took is not None and took < 8, took


def test_trickled_chunked_body_is_bounded(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), "--header-timeout", "2",
               "--idle-timeout", "1")
    head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n"
    took = trickle_closed(s.port, head)
    assert took is not None and took < 8, took
