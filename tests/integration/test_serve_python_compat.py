"""`berth serve` beside `python3 -m http.server`, side by side.

README promises a drop-in: the same tree is served by both, each case asks
both the same thing and compares what a user or a script sees.  Where berth
differs on purpose, the comment says why and the test asserts berth's
behaviour (and python's, so the comparison stays honest when python
changes).  The python is the interpreter running pytest (Debian's 3.11:
/usr/bin/python3); its CLI takes port 0 and prints the port it bound."""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse

import pytest

from conftest import BERTH, Server

HOST = "127.0.0.1"
T = 10
START_RE = re.compile(rb"^Serving HTTP on (\S+) port (\d+) \(http://(\S+):(\d+)/\) \.\.\.$")


class Py:
    """python3 -m http.server in a subprocess; .port, .lines, .proc."""

    def __init__(self, args, cwd=None):
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "http.server"] + list(args),
                                     cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = []
        self.first = self.proc.stdout.readline().rstrip(b"\n")  # blocks until bound (or exit)
        m = START_RE.match(self.first)
        if not m:
            self.kill()
            raise RuntimeError("python http.server did not start: %r" % self.first)
        self.port = int(m.group(2))
        # python logs every request on stderr: drain it so it never blocks
        self._t = threading.Thread(target=self.proc.stderr.read, daemon=True)
        self._t.start()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def fetch(port, method, target, headers=None, host=HOST):
    """One request on its own connection: (status, reason, version, headers
    with lower-case names, body)."""
    c = http.client.HTTPConnection(host, port, timeout=T)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return (r.status, r.reason, r.version, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        c.close()


NAMES = ["a.txt", "B.txt", "c.txt", "sp ace.txt", "a&b.txt", "lt<gt>.txt", "pc%25.txt",
         "ha#sh.txt", "q?m.txt", "\u00fcn\u00ef.txt", "_under.txt", "Zeta.txt", "zeta2.txt"]
TYPES = ["html", "css", "js", "mjs", "json", "svg", "wasm", "txt", "md", "png", "jpg", "gif",
         "webp", "ico", "pdf", "zip", "gz", "tar", "xml", "csv", "woff2", "unknownext"]


def make_tree(base):
    root = base / "www"
    root.mkdir()
    for i, n in enumerate(NAMES):
        (root / n).write_bytes(b"n" * (i + 1))
    for i, e in enumerate(TYPES):
        (root / ("f." + e)).write_bytes(b"t" * (i + 3))
    with open(os.path.join(os.fsencode(str(root)), b"bad\xff.txt"), "wb") as f:
        f.write(b"latin")
    for d in ("sub", "Dir2", "a b&<c>", "idx", "idx2"):
        (root / d).mkdir()
    (root / "sub" / "x.txt").write_bytes(b"x in sub\n")
    (root / "idx" / "index.htm").write_bytes(b"htm only\n")
    (root / "idx2" / "index.html").write_bytes(b"html wins\n")
    (root / "idx2" / "index.htm").write_bytes(b"htm loses, longer\n")
    (root / ".hidden").write_bytes(b"dot")
    os.symlink("a.txt", root / "link")
    os.symlink("sub", root / "dlink")
    (base / "secret.txt").write_bytes(b"outside the root\n")
    os.symlink(str(base / "secret.txt"), root / "out")
    # a fractional mtime: both must compare whole seconds
    os.utime(root / "c.txt", (1_600_000_000.7, 1_600_000_000.7))
    return root


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("pycompat")
    root = make_tree(base)
    py = Py(["0", "-b", HOST, "-d", str(root)])
    b = Server(["serve", "0", "-b", HOST, "-d", str(root), "-q"])
    yield py, b, root
    py.kill()
    b.stop()


def both(pair, method, target, headers=None):
    py, b, _ = pair
    return fetch(py.port, method, target, headers), fetch(b.port, method, target, headers)


def media(ct):
    return ct.split(";")[0].strip().lower()


# --------------------------------------------------------------------- files


def test_files_same_bytes_length_and_last_modified(pair):
    for n in NAMES + ["f.txt", "sub/x.txt", "link"]:
        target = "/" + "/".join(urllib.parse.quote(p) for p in n.split("/"))
        p, b = both(pair, "GET", target)
        assert p[0] == b[0] == 200, n
        assert p[4] == b[4], n
        assert p[3]["content-length"] == b[3]["content-length"] == str(len(b[4])), n
        # the same IMF-fixdate, from the same mtime
        assert p[3]["last-modified"] == b[3]["last-modified"], n


def test_head_is_get_without_the_body(pair):
    for target in ("/a.txt", "/sub/", "/nope"):
        p, b = both(pair, "HEAD", target)
        pg, bg = both(pair, "GET", target)
        assert p[0] == b[0] == pg[0] == bg[0], target
        assert p[4] == b[4] == b"", target
        assert b[3]["content-length"] == bg[3]["content-length"], target


def test_content_types_of_common_extensions(pair):
    # Both read /etc/mime.types when it is there; without it each has its own
    # built-in table, and berth's is the modern web's (a python on such a
    # machine may say octet-stream for .md or .webp).
    diffs = []
    for e in TYPES:
        p, b = both(pair, "GET", "/f." + e)
        if media(p[3]["content-type"]) != media(b[3]["content-type"]):
            diffs.append((e, p[3]["content-type"], b[3]["content-type"]))
        # deliberate: berth names the charset of text (python sends bare
        # text/html, which leaves browsers guessing)
        if b[3]["content-type"].startswith("text/"):
            assert b[3]["content-type"].endswith("charset=utf-8"), e
    if os.path.exists("/etc/mime.types"):
        assert diffs == []
    assert media(both(pair, "GET", "/f.unknownext")[1][3]["content-type"]) == \
        "application/octet-stream"


def test_query_and_encoded_names_reach_the_same_file(pair):
    for target in ("/a.txt?x=1", "/sp%20ace.txt", "/q%3Fm.txt", "/ha%23sh.txt", "/pc%2525.txt",
                   "/a%26b.txt", "/%C3%BCn%C3%AF.txt", "/sub/../a.txt", "/./a.txt"):
        p, b = both(pair, "GET", target)
        assert p[0] == b[0] == 200, target
        assert p[4] == b[4], target


def test_missing_files_are_404_with_an_html_body(pair):
    for target in ("/nope", "/a.txt/", "/sub/nope/", "/sub/x.txt/"):
        p, b = both(pair, "GET", target)
        assert p[0] == b[0] == 404, target
        # python's reason is "File not found"; the status is what scripts read
        assert media(p[3]["content-type"]) == media(b[3]["content-type"]) == "text/html"
        assert b[4] and p[4]


# ---------------------------------------------------------------- directories


def hrefs(body):
    return re.findall(r'<a href="([^"]*)"', body.decode("utf-8", "surrogateescape"))


def test_listing_title_and_links(pair):
    py, b, root = pair
    for target in ("/", "/sub/", "/a%20b%26%3Cc%3E/"):
        p, bb = both(pair, "GET", target)
        assert p[0] == bb[0] == 200
        assert media(p[3]["content-type"]) == media(bb[3]["content-type"]) == "text/html"
        title = re.search(rb"<title>(.*?)</title>", p[4]).group(1)
        assert re.search(rb"<title>(.*?)</title>", bb[4]).group(1) == title, target
        ph = [h for h in hrefs(p[4])]
        bh = [h for h in hrefs(bb[4]) if h not in ("../", "..")]  # berth links the parent
        bh = [h for h in bh if not h.startswith("?")]  # and its sort links
        if target == "/":
            # deliberate: dotfiles are hidden without --hidden (python lists
            # and serves them: .git, .env ...)
            assert ".hidden" in ph and ".hidden" not in bh
            # deliberate: a symlink leaving the root is neither listed nor
            # served (python follows it out of the tree)
            assert "out" in ph and "out" not in bh
            # deliberate: a name that is not UTF-8 is linked by its bytes
            # (bad%FF.txt, which any server resolves); python links the
            # surrogate it decoded, in CESU-8 (bad%ED%B3%BF.txt), that only
            # python maps back
            assert "bad%ED%B3%BF.txt" in ph and "bad%FF.txt" in bh
            ph = [h for h in ph if h not in (".hidden", "out", "bad%ED%B3%BF.txt")]
            bh = [h for h in bh if h != "bad%FF.txt"]
        # the same names, the same percent-encoding, '/' after directories
        # (and after a symlink to one)
        assert sorted(ph) == sorted(bh), target


def test_listing_links_resolve_on_berth(pair):
    py, b, root = pair
    for h in hrefs(fetch(b.port, "GET", "/")[4]):
        if h.startswith("?"):
            continue
        st = fetch(b.port, "GET", "/" + h)[0]
        assert st == 200, h
    # python's own link for the non-UTF-8 name is not a name on disk
    assert fetch(b.port, "GET", "/bad%ED%B3%BF.txt")[0] == 404
    assert fetch(py.port, "GET", "/bad%ED%B3%BF.txt")[0] == 200


def test_listing_orders_names_as_python_does(pair):
    """python sorts a listing by name.lower(): 'a.txt', 'B.txt', 'c.txt', not
    the byte order that puts every capital first.  Deliberate difference:
    berth puts directories before files (python mixes them), so the files'
    order is compared among files and the directories' among directories."""
    p, b = both(pair, "GET", "/")
    ph = [h for h in hrefs(p[4]) if h not in (".hidden", "out", "bad%ED%B3%BF.txt")]
    bh = [h for h in hrefs(b[4]) if not h.startswith("?") and h not in ("bad%FF.txt",)]
    pfiles = [h for h in ph if not h.endswith("/")]
    bfiles = [h for h in bh if not h.endswith("/")]
    assert bfiles == pfiles
    pdirs = [h for h in ph if h.endswith("/")]
    bdirs = [h for h in bh if h.endswith("/")]
    assert bdirs == pdirs
    # directories first
    assert bh == bdirs + bfiles


def test_directory_without_slash_redirects_keeping_the_query(pair):
    for target in ("/sub", "/sub?x=1&y=2", "/dlink", "/a%20b%26%3Cc%3E", "/sub?q=%2F"):
        p, b = both(pair, "GET", target)
        assert p[0] == b[0] == 301, target
        assert p[3]["location"] == b[3]["location"], target
        # python answers an empty body; berth a short HTML page with the link
        # (RFC 9110 §15.4.2 SHOULD): both are followed by every client


def test_index_html_before_index_htm(pair):
    for target in ("/idx/", "/idx2/"):
        p, b = both(pair, "GET", target)
        assert p[0] == b[0] == 200
        assert p[4] == b[4], target
        assert media(p[3]["content-type"]) == media(b[3]["content-type"]) == "text/html"


# ----------------------------------------------------------------- validators


def test_if_modified_since(pair):
    p, b = both(pair, "GET", "/c.txt")
    lm = p[3]["last-modified"]
    assert b[3]["last-modified"] == lm  # whole seconds of a .7 s mtime
    before = "Sun, 13 Sep 2020 12:26:39 GMT"
    assert lm == "Sun, 13 Sep 2020 12:26:40 GMT"
    cases = [
        ({"If-Modified-Since": lm}, 304),
        ({"If-Modified-Since": before}, 200),
        ({"If-Modified-Since": "Sunday, 13-Sep-20 12:26:40 GMT"}, 304),  # RFC 850
        ({"If-Modified-Since": "Sun Sep 13 12:26:40 2020"}, 304),  # asctime
        ({"If-Modified-Since": "garbage"}, 200),
        # If-None-Match wins (python: IMS ignored when it is present)
        ({"If-Modified-Since": lm, "If-None-Match": '"nope"'}, 200),
    ]
    for h, want in cases:
        p, b = both(pair, "GET", "/c.txt", h)
        assert p[0] == b[0] == want, h
        if want == 304:
            assert p[4] == b[4] == b""
    # deliberate: a date after the server's clock is not a valid validator
    # (RFC 7232 §3.3; nginx wants the exact date) — python answers 304 to any
    # later date, so a client with a fast clock would never see a change
    future = {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    p, b = both(pair, "GET", "/c.txt", future)
    assert (p[0], b[0]) == (304, 200)


# ----------------------------------------------------------------- safety


@pytest.mark.parametrize("target", ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt",
                                    "/sub/%2E%2E/%2E%2E/secret.txt", "//secret.txt",
                                    "/..%2fsecret.txt", "/sub/..%2F..%2Fsecret.txt"])
def test_traversal_is_refused_by_both(pair, target):
    p, b = both(pair, "GET", target)
    assert b"outside the root" not in p[4] and b"outside the root" not in b[4]
    assert b[0] in (400, 404) and p[0] in (400, 404)


def test_symlink_out_of_the_root(pair):
    # deliberate: python serves what a symlink points at, anywhere
    p, b = both(pair, "GET", "/out")
    assert p[0] == 200 and p[4] == b"outside the root\n"
    assert b[0] == 404 and b"outside" not in b[4]


def test_nul_and_bad_escapes(pair):
    # deliberate: berth answers 400; python drops the connection without an
    # answer for %00 (ValueError in open) and looks up "%zz" literally
    py, bs, _ = pair
    assert fetch(bs.port, "GET", "/%00")[0] == 400
    assert fetch(bs.port, "GET", "/%zz")[0] == 400
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        fetch(py.port, "GET", "/%00")


# ------------------------------------------------------------ protocol


def raw(port, data, host=HOST):
    with socket.create_connection((host, port), timeout=T) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False  # still open
            if not chunk:
                return out, True
            out += chunk


def read_one(s):
    """One response with a Content-Length from a socket: its head, and the
    bytes that came after its body (a peer may send the next answer in the
    same segment)."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    head, _, rest = got.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(rest) < n:
        chunk = s.recv(65536)
        assert chunk
        rest += chunk
    return head, rest[n:]


def test_protocol_http10_and_11(tmp_path, server):
    root = make_tree(tmp_path)
    two = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    # python's default (HTTP/1.0) and berth's -p HTTP/1.0: a 1.0 status line
    # and a close after each response, even to an HTTP/1.1 request
    py10 = Py(["0", "-b", HOST, "-d", str(root)])
    b10 = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "-p", "HTTP/1.0")
    try:
        for port in (py10.port, b10.port):
            out, closed = raw(port, two + two)
            assert out.startswith(b"HTTP/1.0 200 "), out[:40]
            assert closed and out.count(b"HTTP/1.0 200") == 1, out
    finally:
        py10.kill()
    # --protocol HTTP/1.1 (berth's default): keep-alive, both pipelined
    # requests answered (python answers them one by one: compare counts)
    py11 = Py(["0", "-b", HOST, "-d", str(root), "--protocol", "HTTP/1.1"])
    b11 = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--protocol", "HTTP/1.1")
    try:
        for port in (py11.port, b11.port):
            with socket.create_connection((HOST, port), timeout=T) as s:
                for _ in range(2):  # the same connection answers twice
                    s.sendall(two)
                    head, after = read_one(s)
                    assert head.startswith(b"HTTP/1.1 200 ") and after == b""
    finally:
        py11.kill()
    # deliberate: berth's default is HTTP/1.1 with keep-alive (python's is
    # HTTP/1.0), and an unknown version is a usage error, where python
    # starts and writes "HTTP/2.0" status lines it does not speak
    r = subprocess.run([BERTH, "serve", "0", "-b", HOST, "-p", "HTTP/2.0"], capture_output=True,
                       timeout=T)
    assert r.returncode == 2 and b"--protocol must be HTTP/1.0 or HTTP/1.1" in r.stderr


# ------------------------------------------------------------- command line


def test_startup_lines_and_bind_forms(tmp_path, server):
    root = make_tree(tmp_path)
    forms = [["0", "-b", HOST, "-d", str(root)],
             ["--bind", HOST, "--directory", str(root), "0"],  # options before the port
             ["0", "--bi", HOST, "--dir", str(root)]]  # argparse's and getopt's abbreviations
    if socket.has_ipv6:
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
            forms.append(["0", "-b", "::1", "-d", str(root)])
        except OSError:
            pass
    for args in forms:
        py = Py(args)
        try:
            b = server("serve", *args)
            pm, bm = START_RE.match(py.first), START_RE.match(b.lines[0])
            assert bm, b.lines[0]
            assert pm.group(1) == bm.group(1) and pm.group(3) == bm.group(3), args
            host = bm.group(1).decode()
            for port in (py.port, b.port):
                assert fetch(port, "GET", "/sub/x.txt", host=host)[4] == b"x in sub\n"
            b.stop()
        finally:
            py.kill()
    # a host name: both resolve it and say which address they bound
    py = Py(["0", "-b", "localhost", "-d", str(root)])
    try:
        b = server("serve", "0", "-b", "localhost", "-d", str(root))
        assert START_RE.match(b.lines[0]) and START_RE.match(py.first)
        assert START_RE.match(b.lines[0]).group(1) in (b"127.0.0.1", b"::1")
    finally:
        py.kill()


def test_current_directory_is_the_default_root(tmp_path, server):
    root = make_tree(tmp_path)
    py = Py(["0", "-b", HOST], cwd=str(root))
    try:
        b = server("serve", "0", "-b", HOST, cwd=str(root))
        assert fetch(py.port, "GET", "/a.txt")[4] == fetch(b.port, "GET", "/a.txt")[4] == b"n"
    finally:
        py.kill()


def test_ctrl_c_exits_zero(tmp_path):
    root = make_tree(tmp_path)
    py = Py(["0", "-b", HOST, "-d", str(root)])
    b = Server(["serve", "0", "-b", HOST, "-d", str(root)])
    try:
        # python prints its line before it enters serve_forever's try: a
        # SIGINT in between kills it (-2).  An answer means it is inside.
        assert fetch(py.port, "GET", "/a.txt")[0] == 200
        py.proc.send_signal(signal.SIGINT)
        out = py.proc.stdout.read()
        assert py.proc.wait(T) == 0
        assert b"Keyboard interrupt received, exiting." in out
        assert b.stop(signal.SIGINT) == 0
        assert b.output().endswith("\n\nKeyboard interrupt received, exiting."), b.output()
        # deliberate: SIGTERM (a service manager's stop) ends berth with 0
        # and without that line; python dies of the signal
        t = Server(["serve", "0", "-b", HOST, "-d", str(root)])
        assert t.stop(signal.SIGTERM) == 0
        assert "Keyboard interrupt" not in t.output() and t.output().startswith("Serving HTTP")
    finally:
        py.kill()
        b.kill()


def test_port_in_use_and_out_of_range(pair):
    py, b, root = pair
    r = subprocess.run([BERTH, "serve", str(py.port), "-b", HOST, "-d", str(root)],
                       capture_output=True, timeout=T)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "address already in use" in err and "--port 0" in err and err.count("\n") == 1
    r = subprocess.run([sys.executable, "-m", "http.server", str(b.port), "-b", HOST],
                       capture_output=True, timeout=T)
    assert r.returncode != 0 and b"Address already in use" in r.stderr  # a traceback
    # deliberate: python 3.11 takes 99999 and binds 99999 - 65536 (34463);
    # berth refuses a port that is not one
    r = subprocess.run([BERTH, "serve", "99999"], capture_output=True, timeout=T)
    assert r.returncode == 2 and b"port must be 0..65535: 99999" in r.stderr
    # deliberate: a -d that does not exist stops berth with the cause (exit
    # 1); python starts and answers 404 to everything
    missing = str(root) + "-missing"
    r = subprocess.run([BERTH, "serve", "0", "-b", HOST, "-d", missing], capture_output=True,
                       timeout=T)
    assert r.returncode == 1 and missing.encode() in r.stderr
    gone = Py(["0", "-b", HOST, "-d", missing])
    try:
        assert fetch(gone.port, "GET", "/")[0] == 404
    finally:
        gone.kill()


def test_python_314_options_and_cgi(tmp_path):
    # python 3.14 added --tls-cert, --tls-key (needs --tls-cert) and
    # --tls-password-file (needs --tls-cert): berth takes the same words
    # (test_tls.py serves with them); the dependency is a usage error, exit 2
    # as argparse's
    for args in (["--tls-key", "k.pem"], ["--tls-password-file", "pw"]):
        r = subprocess.run([BERTH, "serve", "0"] + args, capture_output=True, timeout=T)
        assert r.returncode == 2 and b"--tls-cert" in r.stderr, r.stderr
    # --cgi (deprecated in 3.13, gone in 3.15): refused with the reason
    r = subprocess.run([BERTH, "serve", "--cgi"], capture_output=True, timeout=T)
    assert r.returncode == 2 and b"--cgi is not supported" in r.stderr
    # an unknown option: argparse says "error" and exits 2; so does berth
    r = subprocess.run([BERTH, "serve", "--bogus"], capture_output=True, timeout=T)
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1


def test_methods_python_lacks(pair):
    # deliberate: python answers 501 to POST on a file (no do_POST); berth
    # 405 with Allow, as RFC 9110 §15.5.6 asks for a method it knows
    p, b = both(pair, "POST", "/a.txt")
    assert p[0] == 501 and b[0] == 405 and "GET" in b[3]["allow"]


def test_a_request_body_is_never_a_request(tmp_path, server):
    """FIELD.md: python (--protocol HTTP/1.1) leaves a GET's body unread and
    runs it as the next request — a desync behind any proxy.  Deliberate:
    berth reads the body as a body; one request, one response."""
    root = make_tree(tmp_path)
    inner = b"GET /sub/x.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    data = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner
    py = Py(["0", "-b", HOST, "-d", str(root), "--protocol", "HTTP/1.1"])
    b = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--idle-timeout", "1")
    try:
        for port, want in ((py.port, 2), (b.port, 1)):
            with socket.create_connection((HOST, port), timeout=T) as s:
                s.sendall(data)
                head, extra = read_one(s)
                assert head.startswith(b"HTTP/1.1 200 ")
                s.settimeout(T)  # python answers (at once when not loaded); berth closes when idle
                try:
                    while b"x in sub" not in extra:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        extra += chunk
                except socket.timeout:
                    pass
                assert (b"x in sub" in extra) == (want == 2), (port, extra)
    finally:
        py.kill()
