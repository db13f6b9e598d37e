"""Black-box tests of `berth serve` (issue 4): the real binary on port 0 with a
temporary docroot, real clients on the other end (curl, http.client, urllib,
requests, raw sockets).  This file: the command line, GET/HEAD, keep-alive
and pipelining, HTTP/1.0, the request parser's strictness, methods, request
bodies (smuggling), absolute-form targets and the embedding example.

test_serve_files.py covers paths, directories, types, validators, ranges and
large files; test_serve_robust.py the log, timeouts, limits, signals and
workers.  The shared helpers live here."""
import email.utils
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import conftest
from conftest import BERTH, BUILD, Server, run_berth

PIPE_T = 2.5  # pipelined answers come at once; do not wait for the server's 10 s 408
T = 10  # socket timeout: a hang fails one test, never the suite
HOST = "127.0.0.1"
CURL = shutil.which("curl")

try:
    import requests  # Debian python3-requests
except ImportError:  # pragma: no cover
    requests = None


# ---------------------------------------------------------------- helpers

def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def start_serve(root, *extra, bind=HOST, **kw):
    """A `berth serve 0 -b bind -d root extra...` (killed by the caller)."""
    args = ["serve", "0"]
    if bind is not None:
        args += ["-b", bind]
    args += ["-d", str(root)] + list(extra)
    return Server(args, **kw)


def start_cmd(argv, **kw):
    """Starts any program (not berth itself) with conftest.Server's port
    detection: conftest.Server prepends BERTH, so borrow its machinery with
    the program in BERTH's place for the duration of the constructor."""
    old = conftest.BERTH
    conftest.BERTH = argv[0]
    try:
        return Server(argv[1:], **kw)
    finally:
        conftest.BERTH = old


class Resp:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body, self.raw_head = headers, body, raw_head

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def h(self, name):
        v = self.all(name)
        assert len(v) <= 1, "field %s repeated: %r" % (name, v)
        return v[0] if v else None

    def __repr__(self):
        return "<Resp %s %s %r body=%d>" % (self.version, self.status, self.headers, len(self.body))


class Conn:
    """A raw HTTP/1.x client over one socket, reading responses in order."""

    def __init__(self, port, host=HOST, family=socket.AF_INET, timeout=T):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = bytearray()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def _more(self):
        b = self.s.recv(1 << 16)
        if not b:
            raise EOFError("connection closed; buffered %r" % self.buf[:200])
        self.buf += b

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i])
        del self.buf[:i + 4]
        lines = head.split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d\d\d) ?(.*)$", lines[0])
        assert m, "bad status line %r" % lines[0]
        headers = []
        for ln in lines[1:]:
            n, sep, v = ln.partition(b":")
            assert sep and n == n.strip() and n, "bad field line %r" % ln
            headers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
        return m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"), headers, head

    def read_exact(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, head=False):
        """One response; a HEAD request's (head=True) has no body."""
        while True:
            version, status, reason, headers, raw = self.read_head()
            if status != 100:
                break
        r = Resp(version, status, reason, headers, b"", raw)
        if head or status in (204, 304) or 100 <= status < 200:
            return r
        te = r.h("Transfer-Encoding")
        cl = r.h("Content-Length")
        if te:
            assert te.lower() == "chunked", te
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._more()
                i = self.buf.index(b"\r\n")
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.buf[:0] = b"\r\n"
                    while b"\r\n\r\n" not in self.buf:
                        self._more()
                    del self.buf[:self.buf.index(b"\r\n\r\n") + 4]
                    break
                body += self.read_exact(size)
                assert self.read_exact(2) == b"\r\n"
            r.body = body
        elif cl is not None:
            r.body = self.read_exact(int(cl))
        else:
            r.body = self.read_to_eof()
        return r

    def read_to_eof(self, timeout=T):
        """Everything until the peer closes (a reset counts as a close)."""
        self.s.settimeout(timeout)
        out = self.buf
        self.buf = bytearray()
        try:
            while True:
                b = self.s.recv(1 << 16)
                if not b:
                    return bytes(out)
                out += b
        except ConnectionResetError:
            return bytes(out)

    def closed_within(self, timeout):
        """True when the server closes within timeout with nothing more to say."""
        self.s.settimeout(timeout)
        try:
            b = self.s.recv(1 << 16)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        assert not b and not self.buf, "unexpected bytes %r" % (self.buf + b)[:200]
        return True

    def idle(self, wait=0.3):
        """True when nothing arrives (and no close) within wait seconds."""
        self.s.settimeout(wait)
        try:
            b = self.s.recv(1 << 16)
        except socket.timeout:
            return True
        finally:
            self.s.settimeout(T)
        self.buf += b
        return False

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()



def req(path, method="GET", host="x", extra="", version="HTTP/1.1"):
    h = "Host: %s\r\n" % host if host is not None else ""
    return ("%s %s %s\r\n%s%s\r\n" % (method, path, version, h, extra)).encode()


def get(port, path, method="GET", extra="", host="x", version="HTTP/1.1", head=None):
    """One request on a fresh connection; returns the parsed response."""
    with Conn(port) as c:
        c.send(req(path, method, host, extra, version))
        return c.read_response(head=method == "HEAD" if head is None else head)


def raw_exchange(port, data, timeout=5):
    """Sends raw bytes, returns everything until the server closes."""
    with Conn(port) as c:
        c.send(data)
        return c.read_to_eof(timeout)


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d\d\d) ", raw)
    assert m, "no status line in %r" % raw[:200]
    return int(m.group(1))


class _Bytes(Conn):
    """Conn's response parser over bytes already received."""

    def __init__(self, raw):
        self.buf = bytearray(raw)

    def _more(self):
        raise EOFError("truncated response")


def responses(raw):
    """Parses every response in raw (none of them to HEAD); a truncated or
    unparsable tail ends the list."""
    p = _Bytes(raw)
    out = []
    while p.buf:
        try:
            out.append(p.read_response())
        except (EOFError, AssertionError, ValueError):
            break
    return out


def statuses(raw):
    return [r.status for r in responses(raw)]


def url(port, path, host=HOST):
    return "http://%s:%d%s" % (host, port, path)


def make_site(root):
    """The common docroot: small files, a subdirectory, a secret outside."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.txt").write_bytes(b"hello, a\n")
    (root / "b.txt").write_bytes(b"bee\n" * 10)
    (root / "c.html").write_bytes(b"<!doctype html><title>c</title><p>c</p>\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "mid.bin").write_bytes(bytes(range(256)) * 400)  # 100 KiB: beyond the in-memory cache size
    (root / "secret-in-body.txt").write_bytes(b"SMUGGLED-RESPONSE\n")
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "x.txt").write_bytes(b"x in sub\n")
    return root


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    return make_site(tmp_path_factory.mktemp("site") / "www")


@pytest.fixture
def site(site_root):
    """A server over make_site's docroot for the read-only tests (one per
    test: cheap, and no test depends on what an earlier one left behind)."""
    s = start_serve(site_root)
    s.root = site_root
    yield s
    rc = s.stop()
    assert rc == 0, s.output()


# ---------------------------------------------------------------- command line

STARTUP_RE = re.compile(r"^Serving HTTP on (\S+) port (\d+) \(http://(\S+):(\d+)/\) \.\.\.$")


def test_startup_line_is_pythons(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root))
    first = s.lines[0].decode()
    m = STARTUP_RE.match(first)
    assert m, first
    assert m.group(1) == HOST and m.group(3) == HOST
    assert m.group(2) == m.group(4) == str(s.port) and s.port > 0
    r = get(s.port, "/a.txt")
    assert r.status == 200 and r.body == b"hello, a\n"
    assert s.stop() == 0


def test_long_options_and_port_option(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "--port", "0", "--bind", HOST, "--directory", str(root))
    assert get(s.port, "/sub/x.txt").body == b"x in sub\n"


def test_bind_accepts_a_host_name(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", "localhost", "-d", str(root))
    assert re.match(rb"^Serving HTTP on (127\.0\.0\.1|::1|localhost) port ", s.lines[0]), s.lines[0]
    host = "::1" if b" ::1 " in s.lines[0] else HOST
    with Conn(s.port, host, socket.AF_INET6 if ":" in host else socket.AF_INET) as c:
        c.send(req("/a.txt"))
        assert c.read_response().body == b"hello, a\n"


def test_serves_current_directory_by_default(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, cwd=str(root))
    assert get(s.port, "/b.txt").body == b"bee\n" * 10


def test_default_bind_is_all_interfaces_dual_stack(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-d", str(root))
    m = STARTUP_RE.match(s.lines[0].decode())
    assert m and m.group(1) == "0.0.0.0", s.lines[0]
    # then the URLs a person can open, loopback among them
    assert s.wait_for(r"http://127\.0\.0\.1:%d/" % s.port, 3), s.output()
    assert get(s.port, "/a.txt").status == 200
    if have_ipv6():
        with Conn(s.port, "::1", socket.AF_INET6) as c:
            c.send(req("/a.txt"))
            assert c.read_response().body == b"hello, a\n"


def test_port_in_use_exits_with_message(tmp_path):
    root = make_site(tmp_path / "www")
    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        p = run_berth("serve", str(port), "-b", HOST, "-d", str(root), timeout=10)
    finally:
        busy.close()
    assert p.returncode == 1, p
    assert b"in use" in p.stderr, p.stderr
    assert b"--port 0" in p.stderr or b"port 0" in p.stderr, p.stderr
    assert b"Serving HTTP" not in p.stdout


def test_port_in_use_by_another_berth(tmp_path, server):
    """Two `berth serve 8000` must not silently share a port: the second one
    has to fail as it would against any other program."""
    root = make_site(tmp_path / "www")
    first = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "2")
    try:
        p = run_berth("serve", str(first.port), "-b", HOST, "-d", str(root), "--workers", "2",
                      timeout=3)
    except subprocess.TimeoutExpired:
        pytest.fail("a second berth serve started on port %d, which the first one holds" % first.port)
    assert p.returncode == 1 and b"in use" in p.stderr, p


def test_bad_arguments(tmp_path):
    p = run_berth("serve", "notaport", timeout=10)
    assert p.returncode == 2 and b"port" in p.stderr
    p = run_berth("serve", "70000", timeout=10)
    assert p.returncode == 2
    p = run_berth("serve", "0", "-b", HOST, "-d", str(tmp_path / "missing"), timeout=10)
    assert p.returncode == 1 and str(tmp_path / "missing").encode() in p.stderr, p
    p = run_berth("serve", "--help", timeout=10)
    assert p.returncode == 0
    for flag in (b"-b", b"-d", b"--workers", b"--no-listing", b"--index", b"--log", b"--quiet",
                 b"--hidden", b"--mime-default", b"--max-conn", b"--header-timeout",
                 b"--idle-timeout", b"--send-timeout"):
        assert flag in p.stdout, flag


# ---------------------------------------------------------------- GET and HEAD

def test_get_with_curl(site):
    p = subprocess.run([CURL, "-sS", "-D", "-", "--max-time", "10", url(site.port, "/a.txt")],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert body == b"hello, a\n"
    assert b"\r\nContent-Length: 9\r\n" in head + b"\r\n"
    assert b"\r\nContent-Type: text/plain; charset=utf-8\r\n" in head + b"\r\n"


def test_get_with_urllib_and_http_client(site):
    with urllib.request.urlopen(url(site.port, "/b.txt"), timeout=T) as f:
        assert f.status == 200 and f.read() == b"bee\n" * 10
    c = http.client.HTTPConnection(HOST, site.port, timeout=T)
    c.request("GET", "/sub/x.txt")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"x in sub\n"
    c.close()


def test_get_with_requests(site):
    r = requests.get(url(site.port, "/c.html"), timeout=T)
    assert r.status_code == 200 and r.content.startswith(b"<!doctype html>")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    r = requests.get(url(site.port, "/nope.txt"), timeout=T)
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["/a.txt", "/empty.txt", "/mid.bin",
                                  "/sub/", "/sub", "/nope", "/c.html"])
def test_head_is_get_without_body(site, path):
    """HEAD's fields equal GET's (Date aside); no body: a GET pipelined after
    the HEAD on the same connection parses cleanly."""
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(req(path, "GET") + req(path, "HEAD") + req("/a.txt"))
        g = c.read_response()
        h = c.read_response(head=True)
        after = c.read_response()
    assert h.status == g.status
    strip = lambda r: [(n.lower(), v) for n, v in r.headers if n.lower() != "date"]
    assert strip(h) == strip(g)
    assert after.status == 200 and after.body == b"hello, a\n", "HEAD sent a body"
    if g.h("Content-Length") is not None:
        assert int(g.h("Content-Length")) == len(g.body)


def test_head_with_curl_has_no_body(site):
    p = subprocess.run([CURL, "-sS", "-I", "--max-time", "10", url(site.port, "/mid.bin")],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert b"Content-Length: 102400\r\n" in p.stdout
    assert p.stdout.endswith(b"\r\n\r\n")


def test_date_and_server_headers(site):
    for path in ("/a.txt", "/nope", "/sub/", "/sub"):
        r = get(site.port, path)
        assert r.h("Server"), r
        d = r.h("Date")
        assert d and re.match(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|"
                              r"Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$", d), d
        when = email.utils.parsedate_to_datetime(d).timestamp()
        assert abs(when - time.time()) < 3, d


# ---------------------------------------------------------------- keep-alive and pipelining

def test_keep_alive_reuses_one_connection(site):
    c = http.client.HTTPConnection(HOST, site.port, timeout=T)
    ports = set()
    for path, body in [("/a.txt", b"hello, a\n"), ("/b.txt", b"bee\n" * 10)] * 5:
        c.request("GET", path)
        r = c.getresponse()
        assert r.status == 200 and r.read() == body
        assert (r.getheader("Connection") or "").lower() != "close"
        ports.add(c.sock.getsockname()[1])
    assert len(ports) == 1
    c.close()


def test_keep_alive_with_requests_session(site):
    with requests.Session() as sess:
        for _ in range(5):
            assert sess.get(url(site.port, "/a.txt"), timeout=T).content == b"hello, a\n"
            assert sess.head(url(site.port, "/mid.bin"), timeout=T).headers["Content-Length"] == "102400"


def test_no_nagle_stall_on_keep_alive(site):
    """Python's http.server loses ~45 ms per keep-alive request to Nagle and
    delayed ACKs; 40 round trips must take well under that."""
    c = http.client.HTTPConnection(HOST, site.port, timeout=T)
    c.request("GET", "/a.txt")
    c.getresponse().read()
    t0 = time.monotonic()
    for i in range(40):
        c.request("GET", "/mid.bin" if i % 2 else "/a.txt")
        c.getresponse().read()
    took = time.monotonic() - t0
    c.close()
    assert took < 1.0, "40 keep-alive requests took %.2f s" % took


def test_pipelining_in_one_send_answers_in_order(site):
    paths = ["/a.txt", "/b.txt", "/nope", "/sub/x.txt", "/c.html", "/empty.txt", "/mid.bin",
             "/a.txt"] * 3
    want = {p: (site.root / p[1:]).read_bytes() if p != "/nope" else None for p in paths}
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(b"".join(req(p) for p in paths))
        for p in paths:
            r = c.read_response()
            if want[p] is None:
                assert r.status == 404
            else:
                assert r.status == 200 and r.body == want[p], p
        assert c.idle(0.2)


def test_pipelining_mixed_methods_ranges_and_errors(site):
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(req("/a.txt", "HEAD") + req("/mid.bin", extra="Range: bytes=0-3\r\n") +
               req("/a.txt", "POST", extra="Content-Length: 3\r\n") + b"abc" +
               req("/a.txt", "OPTIONS") + req("/b.txt"))
        assert c.read_response(head=True).status == 200
        r = c.read_response()
        assert r.status == 206 and r.body == b"\x00\x01\x02\x03"
        assert c.read_response().status == 405
        assert c.read_response().status in (200, 204)
        r = c.read_response()
        assert r.status == 200 and r.body == b"bee\n" * 10


def test_deep_pipelining(site):
    n = 300
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(b"".join(req("/a.txt" if i % 3 else "/mid.bin") for i in range(n)))
        for i in range(n):
            r = c.read_response()
            assert r.status == 200
            assert len(r.body) == (9 if i % 3 else 102400), i


def test_thousands_of_pipelined_requests(site):
    n = 3000
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(b"".join(req("/a.txt") for _ in range(n)))
        for i in range(n):
            r = c.read_response()
            assert r.status == 200 and r.body == b"hello, a\n", i


def test_pipelined_large_responses_while_client_reads_slowly(site):
    """Output backs up; the queued requests must still all be answered."""
    with Conn(site.port, timeout=PIPE_T) as c:
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        c.send(b"".join(req("/mid.bin") for _ in range(30)) + req("/a.txt"))
        time.sleep(0.3)
        for _ in range(30):
            assert c.read_response().body == (site.root / "mid.bin").read_bytes()
        assert c.read_response().body == b"hello, a\n"


def test_request_split_across_many_sends(site):
    with Conn(site.port) as c:
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = req("/a.txt", extra="User-Agent: slow\r\nAccept: */*\r\n")
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % 8 == 0:
                time.sleep(0.005)
        assert c.read_response().body == b"hello, a\n"


@pytest.mark.parametrize("cut", [1, 5, 17, 20, 24, 25, 26])
def test_second_pipelined_request_split_across_reads(site, cut):
    """The first send carries request 1 and part of request 2 (cut inside
    the request line, a field, the CRLF CRLF)."""
    second = req("/b.txt")
    assert cut < len(second)
    with Conn(site.port) as c:
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.send(req("/a.txt") + second[:cut])
        assert c.read_response().body == b"hello, a\n"
        assert c.idle(0.2), "answered an incomplete request"
        c.send(second[cut:])
        assert c.read_response().body == b"bee\n" * 10


def test_response_read_in_small_pieces(site):
    """A client that reads 1 KiB at a time gets every byte in order."""
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(req("/mid.bin") + req("/a.txt"))
        got = b""
        while b"hello, a\n" not in got[-20:]:
            b = c.s.recv(1024)
            assert b
            got += b
            time.sleep(0.0005)
    head, body = got.split(b"\r\n\r\n", 1)
    assert body.startswith((site.root / "mid.bin").read_bytes())
    assert body.endswith(b"\r\n\r\nhello, a\n")


# ---------------------------------------------------------------- HTTP/1.0 and Connection

def test_http10_closes_unless_asked(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt", version="HTTP/1.0", host=None) + req("/b.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n"
        assert (r.h("Connection") or "close").lower() == "close"
        assert c.closed_within(3), "HTTP/1.0 without keep-alive stayed open"


def test_http10_keep_alive_when_asked(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt", version="HTTP/1.0", host=None, extra="Connection: keep-alive\r\n"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n"
        assert (r.h("Connection") or "").lower() == "keep-alive"
        assert r.h("Content-Length") == "9"
        c.send(req("/b.txt", version="HTTP/1.0", host=None, extra="Connection: Keep-Alive\r\n"))
        assert c.read_response().body == b"bee\n" * 10
        c.send(req("/a.txt", version="HTTP/1.0", host=None))
        assert c.read_response().status == 200
        assert c.closed_within(3)


def test_http10_response_with_urllib_style_request(site):
    """HTTP/1.0 does not require Host."""
    r = get(site.port, "/sub/x.txt", version="HTTP/1.0", host=None)
    assert r.status == 200 and r.body == b"x in sub\n"


def test_connection_close_is_honoured(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt", extra="Connection: close\r\n") + req("/b.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n"
        assert r.h("Connection").lower() == "close"
        assert c.closed_within(3), "the request after Connection: close was answered"


def test_connection_close_among_other_tokens(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt", extra="Connection: TE, Close\r\nTE: trailers\r\n"))
        assert c.read_response().status == 200
        assert c.closed_within(3)


def test_protocol_http10_flag(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-p", "HTTP/1.0")
    with Conn(s.port) as c:
        c.send(req("/a.txt") + req("/b.txt"))
        r = c.read_response()
        assert r.body == b"hello, a\n"
        # as python3 -m http.server -p HTTP/1.0 answers: the server speaks 1.0
        assert r.version == "HTTP/1.0", r
        assert c.closed_within(3)
    for path, status in [("/nope", 404), ("/sub", 301), ("/", 200)]:
        r = get(s.port, path)
        assert (r.version, r.status) == ("HTTP/1.0", status), r


# ---------------------------------------------------------------- parser strictness

BAD_REQUESTS = {
    "missing host": b"GET /a.txt HTTP/1.1\r\n\r\n",
    "repeated host": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    "repeated identical host": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
    "space before colon": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
    "space before colon host": b"GET /a.txt HTTP/1.1\r\nHost : x\r\n\r\n",
    "tab before colon": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n",
    "obs-fold": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
    "obs-fold tab": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n",
    "leading whitespace first field": b"GET /a.txt HTTP/1.1\r\n Host: x\r\n\r\n",
    "nul in value": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "nul in name": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX\x00A: 1\r\n\r\n",
    "bare cr in value": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "bare cr in request line": b"GET /a.txt\rHTTP/1.1\r\nHost: x\r\n\r\n",
    "empty field name": b"GET /a.txt HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n",
    "no colon": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nJustAName\r\n\r\n",
    "cl and te": b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te and cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "repeated cl different": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "repeated cl same": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
    "cl list": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 3\r\n\r\nabc",
    "negative cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "plus cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na",
    "hex cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
    "huge cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "empty cl": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
    "space in target": b"GET /a b.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "two spaces": b"GET  /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "no version": b"GET /a.txt\r\nHost: x\r\n\r\n",
    "lowercase version": b"GET /a.txt http/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET /a.txt HTTP/1.x\r\nHost: x\r\n\r\n",
    "relative target": b"GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "control char in target": b"GET /a\x01.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "del in target": b"GET /a\x7f.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "high byte in name": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-\xff: 1\r\n\r\n",
    "tls hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
    "garbage": b"hello there\r\n\r\n",
    "binary garbage": bytes(range(1, 256)) + b"\r\n\r\n",
    "empty method": b" /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "invalid host": b"GET /a.txt HTTP/1.1\r\nHost: a b\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_malformed_request_is_400_and_closes(site, name):
    data = BAD_REQUESTS[name] + req("/secret-in-body.txt")
    out = raw_exchange(site.port, data)
    assert status_of(out) == 400, (name, out[:300])
    assert statuses(out) == [400], "answered more after a 400: %r" % out
    assert b"SMUGGLED" not in out
    head = out.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nconnection: close" in head


@pytest.mark.parametrize("te", ["gzip", "gzip, chunked", "chunked, gzip", "deflate", "x-custom",
                                "identity"])
def test_transfer_coding_not_ending_in_chunked_is_400(site, te):
    data = ("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n" % te).encode()
    data += req("/secret-in-body.txt", extra="Connection: close\r\n")
    out = raw_exchange(site.port, data)
    if te == "gzip, chunked":
        # chunked last is framing we understand: the body ends at its last
        # chunk, and what follows is the next request, answered on its own
        assert statuses(out) == [405, 200], out[:300]
        return
    # RFC 9112 §6.3: a final coding other than chunked leaves no length: 400
    assert status_of(out) == 400, (te, out[:300])
    assert b"SMUGGLED" not in out


def test_request_line_too_long_is_414(site):
    out = raw_exchange(site.port, b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(out) == 414, out[:200]


def test_request_line_too_long_without_end_is_414(site):
    """A request line that never ends is cut off at the limit, not buffered."""
    with Conn(site.port) as c:
        try:
            for _ in range(40):
                c.send(b"GET /" + b"a" * 1024 if _ == 0 else b"a" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = c.read_to_eof(5)
    assert status_of(out) == 414, out[:200]


def test_header_section_too_large_is_431(site):
    big = "".join("X-Filler-%d: %s\r\n" % (i, "v" * 200) for i in range(100))
    out = raw_exchange(site.port, req("/a.txt", extra=big))
    assert status_of(out) == 431, out[:200]
    out = raw_exchange(site.port, req("/a.txt", extra="X-Big: %s\r\n" % ("v" * 20000)))
    assert status_of(out) == 431, out[:200]


def test_many_small_fields_are_431(site):
    out = raw_exchange(site.port, req("/a.txt", extra="".join("X%d: 1\r\n" % i for i in range(1000))))
    assert status_of(out) == 431, out[:200]


def test_max_header_flag(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--max-header", "1024")
    assert get(s.port, "/a.txt", extra="X-A: %s\r\n" % ("v" * 500)).status == 200
    out = raw_exchange(s.port, req("/a.txt", extra="X-A: %s\r\n" % ("v" * 2000)))
    assert status_of(out) == 431


def test_normal_large_header_is_accepted(site):
    """Browsers send cookies of a few KiB: below the 8 KiB default it must work."""
    r = get(site.port, "/a.txt", extra="Cookie: %s\r\nUser-Agent: %s\r\n" % ("c" * 4000, "u" * 2000))
    assert r.status == 200 and r.body == b"hello, a\n"


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
def test_unsupported_version_is_505(site, version):
    out = raw_exchange(site.port, ("GET /a.txt %s\r\nHost: x\r\n\r\n" % version).encode())
    assert status_of(out) == 505, (version, out[:200])


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9"])
def test_higher_minor_version_is_served_as_http11(site, version):
    """RFC 9110 §2.5: a higher minor version of a major version the server
    implements is processed as the highest it conforms to: an HTTP/1.1
    answer, the connection kept open for the next request."""
    one = "GET /a.txt %s\r\nHost: x\r\n%s\r\n"
    out = raw_exchange(site.port, (one % (version, "") + one % (version, "Connection: close\r\n")).encode())
    assert statuses(out) == [200, 200], (version, out[:300])
    assert out.startswith(b"HTTP/1.1 200 "), out[:100]
    assert out.count(b"hello, a\n") == 2


def test_http2_preface_starts_h2c(site):
    """RFC 9113 §3.3: a connection that opens with the preface speaks h2
    (prior knowledge): the server's first frame is its SETTINGS."""
    with Conn(site.port) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        while len(c.buf) < 9:
            c._more()
        assert c.buf[3] == 4 and c.buf[4] == 0, bytes(c.buf[:9])  # SETTINGS, not an ack


def test_http2_preface_is_rejected_with_no_h2(site_root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(site_root), "--no-h2")
    out = raw_exchange(s.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert status_of(out) in (400, 505), out[:200]
    assert statuses(out) == [status_of(out)]


def test_leading_empty_lines_are_ignored(site):
    """RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
    request line (some clients send a CRLF after a POST body)."""
    with Conn(site.port) as c:
        c.send(b"\r\n" + req("/a.txt"))
        assert c.read_response().body == b"hello, a\n"


def test_bare_lf_line_ends_do_not_desync(site):
    """Bare LF line endings are either accepted or rejected; either way the
    request must not be split differently from how the server answers it."""
    out = raw_exchange(site.port, b"GET /a.txt HTTP/1.1\nHost: x\n\n" + req("/b.txt",
                       extra="Connection: close\r\n"))
    st = statuses(out)
    assert st in ([200, 200], [400]), out[:400]


def test_server_survives_malformed_input(site):
    for data in BAD_REQUESTS.values():
        with Conn(site.port) as c:
            c.send(data)
            c.s.shutdown(socket.SHUT_WR)
            c.read_to_eof(5)
    assert site.alive()
    assert get(site.port, "/a.txt").body == b"hello, a\n"


# ---------------------------------------------------------------- methods

def allow_set(r):
    return {m.strip() for m in (r.h("Allow") or "").split(",") if m.strip()}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_are_405_with_allow(site, method):
    """RFC 9110 §15.5.6: a method the server knows but the resource does not
    take is 405, with Allow listing what it does take."""
    r = get(site.port, "/a.txt", method=method, extra="Content-Length: 0\r\n")
    assert r.status == 405, r
    assert {"GET", "HEAD"} <= allow_set(r), r
    assert method not in allow_set(r)


@pytest.mark.parametrize("method", ["PROPFIND", "BREW", "get", "Head"])
def test_unrecognized_methods_are_501(site, method):
    """RFC 9110 §9.1: a method the server does not recognize (methods are
    case-sensitive) SHOULD be answered 501, as python's http.server does; the
    connection goes on."""
    with Conn(site.port) as c:
        c.send(req("/a.txt", method, extra="Content-Length: 0\r\n") + req("/a.txt"))
        r = c.read_response()
        assert r.status == 501, r
        assert c.read_response().status == 200


def test_post_with_requests_is_405(site):
    r = requests.post(url(site.port, "/a.txt"), data=b"x=1", timeout=T)
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_options_is_204_with_allow(site):
    for target in ("/a.txt", "/sub/", "*"):
        r = get(site.port, target, method="OPTIONS")
        assert r.status == 204, (target, r)
        assert {"GET", "HEAD", "OPTIONS"} <= allow_set(r)
        assert r.body == b""


def test_trace_is_never_echoed(site):
    secret = "Cookie: session=TOPSECRET-cookie\r\nAuthorization: Basic c2VjcmV0\r\n"
    out = raw_exchange(site.port, req("/a.txt", "TRACE", extra=secret + "Connection: close\r\n"))
    assert status_of(out) in (405, 501), out[:300]
    assert b"TOPSECRET" not in out and b"c2VjcmV0" not in out
    assert b"message/http" not in out.lower()


# ---------------------------------------------------------------- request bodies

SMUGGLE = b"GET /secret-in-body.txt HTTP/1.1\r\nHost: x\r\n\r\n"


def test_get_body_is_not_parsed_as_a_request(site):
    """FIELD.md: python's http.server executes a request body as the next
    request.  A GET with a Content-Length body followed by a real pipelined
    request: exactly two answers, the body is never answered."""
    data = req("/a.txt", extra="Content-Length: %d\r\n" % len(SMUGGLE)) + SMUGGLE + req("/b.txt")
    with Conn(site.port) as c:
        c.send(data)
        r1 = c.read_response()
        assert r1.body == b"hello, a\n"
        try:
            r2 = c.read_response()
        except (EOFError, ConnectionResetError):
            return  # closing instead of reading the body is allowed
        assert r2.body == b"bee\n" * 10, "the body was answered as a request: %r" % r2
        assert c.idle(0.3)


def test_body_arriving_later_is_not_parsed_as_a_request(site):
    with Conn(site.port) as c:
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.send(req("/a.txt", extra="Content-Length: %d\r\n" % len(SMUGGLE)))
        time.sleep(0.2)
        c.send(SMUGGLE[:10])
        time.sleep(0.2)
        c.send(SMUGGLE[10:] + req("/b.txt", extra="Connection: close\r\n"))
        out = c.read_to_eof()
    assert b"SMUGGLED" not in out, out
    assert statuses(out)[0] == 200


def test_post_body_is_discarded_and_next_request_answered(site):
    with Conn(site.port) as c:
        body = SMUGGLE * 50
        c.send(req("/a.txt", "POST", extra="Content-Length: %d\r\n" % len(body)) + body + req("/a.txt"))
        assert c.read_response().status == 405
        try:
            r = c.read_response()
        except EOFError:
            return
        assert r.status == 200 and r.body == b"hello, a\n"
    assert b"SMUGGLED" not in r.body


def test_cl_te_smuggling_is_not_answered(site):
    """The classic CL.TE desync: a front end that uses Content-Length would
    forward the smuggled request as part of the body."""
    smuggled = b"0\r\n\r\n" + SMUGGLE
    data = (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % len(smuggled)) + smuggled
    out = raw_exchange(site.port, data)
    assert b"SMUGGLED" not in out
    assert statuses(out) == [400], out[:300]


def test_chunked_body_is_never_read_as_a_request(site):
    chunk = SMUGGLE
    data = (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n" +
            req("/b.txt", extra="Connection: close\r\n"))
    out = raw_exchange(site.port, data)
    assert b"SMUGGLED" not in out, out
    assert statuses(out) == [200, 200], out[:300]


def test_large_get_body_is_skipped(site):
    body = b"z" * (3 << 20)
    with Conn(site.port) as c:
        c.send(req("/a.txt", extra="Content-Length: %d\r\n" % len(body)))
        r = c.read_response()
        assert r.status in (200, 413), r
        if r.status == 413:
            return
        try:
            c.send(body + req("/b.txt"))
        except (BrokenPipeError, ConnectionResetError):
            return
        try:
            r2 = c.read_response()
        except (EOFError, ConnectionResetError):
            return
        assert r2.body == b"bee\n" * 10


def test_expect_100_continue_on_static_file(site):
    """curl sends Expect: 100-continue with a body; the answer must come
    without hanging and the connection must stay in sync."""
    p = subprocess.run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                        "-H", "Expect: 100-continue", "--data-binary", "x" * 2000,
                        url(site.port, "/a.txt")], capture_output=True, timeout=20)
    assert p.stdout == b"405", p


# ---------------------------------------------------------------- absolute form

def test_absolute_form_target(site):
    with Conn(site.port) as c:
        c.send("GET http://%s:%d/a.txt HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (HOST, site.port, HOST, site.port))
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n"
        c.send(b"GET http://example.com/sub/x.txt?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"x in sub\n"
        c.send(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and b"x.txt" not in r.body and b"sub/" in r.body  # the listing of /
        c.send(b"HEAD HTTP://Example.COM:80/b.txt HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert c.read_response(head=True).h("Content-Length") == "40"


def test_absolute_form_http10_without_host(site):
    r = get(site.port, "http://example.com/a.txt", version="HTTP/1.0", host=None)
    assert r.status == 200 and r.body == b"hello, a\n"


def test_absolute_form_sub_directory_redirect(site):
    r = get(site.port, "http://example.com/sub")
    assert r.status == 301 and r.h("Location") in ("/sub/", "http://example.com/sub/")


# ---------------------------------------------------------------- the embedding example

def hello_path():
    return os.path.join(BUILD, "examples", "hello")


@pytest.fixture
def hello():
    path = hello_path()
    if not os.path.exists(path):
        pytest.fail("%s is not built (make BUILD=%s)" % (path, BUILD))
    s = start_cmd([path, "0"])
    yield s
    s.kill()


def test_hello_example_answers_hello_client(hello):
    r = get(hello.port, "/")
    assert r.status == 200 and r.body == b"Hello, client!"
    assert r.h("Content-Type").startswith("text/html")
    assert r.h("Content-Length") == "14"
    assert r.h("Date") and r.h("Server")
    p = subprocess.run([CURL, "-sS", "--max-time", "10", url(hello.port, "/")],
                       capture_output=True, timeout=20)
    assert p.stdout == b"Hello, client!"
    with urllib.request.urlopen(url(hello.port, "/?name=x"), timeout=T) as f:
        assert f.read() == b"Hello, client!"


def test_hello_example_404_elsewhere(hello):
    for path in ("/x", "/index.html", "/hello", "/etc/passwd", "/x/../y"):
        r = get(hello.port, path)
        assert r.status == 404, (path, r)
        assert b"Hello, client!" not in r.body


def test_hello_example_head_keepalive_and_methods(hello):
    with Conn(hello.port) as c:
        c.send(req("/", "HEAD") + req("/") + req("/", "POST", extra="Content-Length: 2\r\n") + b"hi" + req("/"))
        h = c.read_response(head=True)
        assert h.status == 200 and h.h("Content-Length") == "14"
        assert c.read_response().body == b"Hello, client!"
        assert c.read_response().status in (404, 405)
        assert c.read_response().body == b"Hello, client!"


def test_hello_example_exits_0_on_sigterm(hello):
    assert get(hello.port, "/").status == 200
    assert hello.stop(signal.SIGTERM, timeout=5) == 0


def test_hello_example_startup_line(hello):
    assert re.match(rb"^Serving HTTP on \S+ port \d+ \(http://", hello.lines[0]), hello.lines


def test_pipelined_request_after_a_large_file_is_answered_at_once(site):
    """A file over the in-memory size goes out with sendfile; the request
    queued behind it must be answered as soon as it is sent, not when the
    header timeout fires."""
    with Conn(site.port, timeout=PIPE_T) as c:
        t0 = time.monotonic()
        c.send(req("/mid.bin") + req("/a.txt"))
        assert len(c.read_response().body) == 102400
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n", r
        assert time.monotonic() - t0 < 2


def test_field_names_are_case_insensitive_and_values_trimmed(site):
    with Conn(site.port, timeout=PIPE_T) as c:
        c.send(b"GET /mid.bin HTTP/1.1\r\nhOsT:   x   \r\nrAnGe:\t bytes=1-2 \t\r\n\r\n")
        r = c.read_response()
        assert r.status == 206 and r.body == b"\x01\x02"
        c.send(b"GET /a.txt HTTP/1.1\r\nHOST: x\r\nCONNECTION: CLOSE\r\n\r\n")
        assert c.read_response().body == b"hello, a\n"
        assert c.closed_within(3)


def test_repeated_connection_fields_any_close_wins(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt", extra="Connection: keep-alive\r\nConnection: close\r\n"))
        assert c.read_response().status == 200
        assert c.closed_within(3)


def test_obs_text_in_field_values_is_accepted(site):
    """RFC 9110 5.5: field values may carry obs-text (bytes 0x80-0xFF), as
    cookies and user agents in the wild do."""
    for value in (b"caf\xc3\xa9", b"\xff\xfe", b"a\tb"):
        with Conn(site.port) as c:
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nCookie: n=" + value + b"\r\n\r\n")
            assert c.read_response().body == b"hello, a\n", value


def test_mutated_requests_never_crash(site):
    """Mutations of valid requests (bytes flipped, CR/LF/NUL/colon/space
    inserted, pieces doubled), several to a connection: every answer is a
    well-formed response and the server lives (under ASan too)."""
    import random
    rnd = random.Random(2024)
    seeds = [req("/a.txt", extra="Range: bytes=0-3\r\nIf-None-Match: \"x\"\r\n"),
             req("/sub", "HEAD", extra="Connection: keep-alive\r\n"),
             req("/a.txt", "POST", extra="Content-Length: 5\r\n") + b"hello",
             b"GET http://x:1/%61.txt?q=%zz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
             req("/mid.bin", extra="Range: bytes=1-2,5-9,-3\r\nIf-Range: \"x\"\r\n")]
    specials = [b"\r", b"\n", b"\x00", b":", b" ", b"\t", b"%", b"/../", b",", b"-", b"\xff", b"9" * 25]
    deadline = time.monotonic() + 8
    sent = answered = 0
    while time.monotonic() < deadline and sent < 600:
        batch = b""
        for _ in range(rnd.randint(1, 4)):
            m = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 4)):
                op = rnd.random()
                i = rnd.randrange(len(m))
                if op < 0.3:
                    m[i] = rnd.randrange(256)
                elif op < 0.7:
                    m[i:i] = rnd.choice(specials)
                elif op < 0.85:
                    del m[i:i + rnd.randint(1, 8)]
                else:
                    j = rnd.randrange(i, len(m))
                    m[i:i] = m[i:j + 1]
            batch += bytes(m)
        sent += 1
        try:
            with Conn(site.port, timeout=5) as c:
                c.send(batch)
                c.s.shutdown(socket.SHUT_WR)
                out = c.read_to_eof(5)
        except (BrokenPipeError, ConnectionResetError):
            continue
        if out:
            assert re.match(rb"HTTP/1\.1 [1-5]\d\d ", out), out[:200]
            answered += 1
    assert sent >= 100 and answered >= sent // 2, (sent, answered)
    assert site.alive(), site.output()[-2000:]
    assert get(site.port, "/a.txt").body == b"hello, a\n"


def test_repeated_target_honours_each_requests_own_fields(site):
    """The same target again must still be answered for *this* request: its
    version, Connection, validators, Range and method."""
    with Conn(site.port) as c:
        c.send(req("/a.txt") + req("/a.txt"))
        r1 = c.read_response()
        assert c.read_response().body == b"hello, a\n"
        et = r1.h("ETag")
        c.send(req("/a.txt", extra="If-None-Match: %s\r\n" % et))
        assert c.read_response().status == 304
        c.send(req("/a.txt", extra="Range: bytes=1-3\r\n"))
        r = c.read_response()
        assert r.status == 206 and r.body == b"ell"
        c.send(req("/a.txt", "HEAD"))
        h = c.read_response(head=True)
        assert h.status == 200 and h.h("Content-Length") == "9"
        c.send(req("/a.txt", version="HTTP/1.0", host=None, extra="Connection: keep-alive\r\n"))
        r = c.read_response()
        assert r.body == b"hello, a\n" and (r.h("Connection") or "").lower() == "keep-alive"
        c.send(req("/a.txt?x=1"))
        assert c.read_response().body == b"hello, a\n"
        c.send(req("/a.txt", extra="Connection: close\r\n"))
        r = c.read_response()
        assert r.body == b"hello, a\n" and (r.h("Connection") or "").lower() == "close"
        assert c.closed_within(3)
    with Conn(site.port) as c:
        c.send(req("/a.txt") + req("/a.txt", version="HTTP/1.0", host=None))
        assert c.read_response().body == b"hello, a\n"
        r = c.read_response()
        assert r.body == b"hello, a\n" and (r.h("Connection") or "close").lower() == "close"
        assert c.closed_within(3)


def test_repeated_target_sees_a_new_file_and_a_deleted_one(site_root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(site_root))
    f = site_root / "memo.txt"
    if f.exists():
        f.unlink()
    with Conn(s.port) as c:
        for _ in range(3):
            c.send(req("/memo.txt"))
            assert c.read_response().status == 404
        f.write_bytes(b"now here")
        c.send(req("/memo.txt"))
        assert c.read_response().body == b"now here"
        c.send(req("/memo.txt"))
        assert c.read_response().body == b"now here"
        f.unlink()
        time.sleep(1.1)
        c.send(req("/memo.txt"))
        assert c.read_response().status == 404
