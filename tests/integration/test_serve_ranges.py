"""Range requests that must not amplify or exhaust memory, multipart answers
checked byte for byte, files shrinking under a multipart answer; and what
`berth serve` shows and serves besides: the listing, .svgz, charsets, index.htm."""
import email
import email.policy
import html.parser
import os
import re
import socket
import time
import urllib.parse

import pytest

from test_serve import HOST, T, Conn, get, req, start_serve

MIB = 1 << 20


@pytest.fixture(scope="module")
def rroot(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranges") / "www"
    root.mkdir()
    (root / "small.txt").write_bytes(bytes(range(32, 127)) * 40)  # 3800 B: in memory
    (root / "1m.bin").write_bytes(os.urandom(MIB))                # by descriptor
    (root / "8m.bin").write_bytes(os.urandom(8 * MIB))
    return root


@pytest.fixture
def rsrv(rroot):
    s = start_serve(rroot, "--quiet")
    s.root = rroot
    yield s
    assert s.stop() == 0, s.output()


def parse_multipart(r):
    """[(first, last, total, payload)] of a multipart/byteranges answer."""
    ct = r.h("Content-Type")
    assert ct.startswith("multipart/byteranges; boundary="), ct
    assert r.h("Content-Range") is None
    msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + r.body,
                                   policy=email.policy.HTTP)
    assert msg.is_multipart()
    boundary = ct.split("boundary=", 1)[1].encode()
    assert r.body.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts = []
    for part in msg.iter_parts():
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", str(part["Content-Range"]))
        assert m, part["Content-Range"]
        parts.append((int(m.group(1)), int(m.group(2)), int(m.group(3)),
                      part.get_payload(decode=True)))
    return parts


def check_ranges(r, data, want):
    """r answers the ranges `want` ([(first, last)], coalesced) of data."""
    assert r.status == 206, r
    assert int(r.h("Content-Length")) == len(r.body)
    if len(want) == 1:
        a, b = want[0]
        assert r.h("Content-Range") == "bytes %d-%d/%d" % (a, b, len(data))
        assert r.body == data[a:b + 1]
        return
    parts = parse_multipart(r)
    assert [(a, b) for a, b, _, _ in parts] == want
    for a, b, total, payload in parts:
        assert total == len(data) and payload == data[a:b + 1]
    # never more than the file plus the part headers
    assert len(r.body) <= sum(b - a + 1 for a, b in want) + 200 * (len(want) + 1)


@pytest.mark.parametrize("name", ["small.txt", "1m.bin"])
def test_overlapping_ranges_do_not_amplify(rsrv, name):
    data = (rsrv.root / name).read_bytes()
    r = get(rsrv.port, "/" + name, extra="Range: bytes=0-,0-,0-,0-,0-,0-,0-,0-\r\n")
    check_ranges(r, data, [(0, len(data) - 1)])
    assert len(r.body) == len(data)


@pytest.mark.parametrize("name", ["small.txt", "1m.bin"])
@pytest.mark.parametrize("spec,want", [
    ("0-9,20-29", [(0, 9), (20, 29)]),
    ("20-29,0-9", [(0, 9), (20, 29)]),                      # sorted
    ("0-9,5-14,100-199", [(0, 14), (100, 199)]),            # overlap
    ("0-9,10-19,30-39", [(0, 19), (30, 39)]),               # adjacent
    ("-5,0-0,1000-1499,1200-1999", [(0, 0), (1000, 1999), ("n-5", "n-1")]),
    ("3000-,0-99,50-150", [(0, 150), (3000, "n-1")]),
])
def test_multipart_answers_are_exact(rsrv, name, spec, want):
    data = (rsrv.root / name).read_bytes()
    n = len(data)
    ev = lambda v: n + int(v[1:]) if isinstance(v, str) else v
    want = sorted((ev(a), ev(b)) for a, b in want)
    r = get(rsrv.port, "/" + name, extra="Range: bytes=%s\r\n" % spec)
    check_ranges(r, data, want)
    h = get(rsrv.port, "/" + name, method="HEAD", extra="Range: bytes=%s\r\n" % spec)
    assert h.status == 206 and h.h("Content-Length") == r.h("Content-Length")


def test_multipart_keeps_the_connection(rsrv):
    """After a streamed multipart answer the next request on the connection
    is answered (the closing boundary and nothing else came before it)."""
    data = (rsrv.root / "1m.bin").read_bytes()
    with Conn(rsrv.port) as c:
        for _ in range(3):
            c.send(req("/1m.bin", extra="Range: bytes=0-99999,500000-599999,-10\r\n") +
                   req("/small.txt"))
            check_ranges(c.read_response(), data, [(0, 99999), (500000, 599999), (MIB - 10, MIB - 1)])
            assert c.read_response().body == (rsrv.root / "small.txt").read_bytes()


def test_many_scattered_ranges_get_the_whole_file(rsrv):
    data = (rsrv.root / "1m.bin").read_bytes()
    spec = ",".join("%d-%d" % (i * 1000, i * 1000) for i in range(40, 0, -1))
    r = get(rsrv.port, "/1m.bin", extra="Range: bytes=%s\r\n" % spec)
    assert r.status == 200 and r.body == data


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("name,spec", [
    ("1m.bin", "0-,0-,0-,0-,0-,0-,0-,0-"),      # the amplification request
    ("8m.bin", "0-4194303,4194305-"),          # two parts covering the file
])
def test_stalled_multirange_readers_cost_little_memory(rsrv, name, spec):
    """200 clients send a multi-range request and never read: the parts
    are sent from the file, not assembled in memory (kernel socket buffers
    are not the server's RSS)."""
    get(rsrv.port, "/" + name, method="HEAD")  # cache the entry first
    before = rss_kib(rsrv.proc.pid)
    socks = []
    try:
        for _ in range(200):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(T)
            s.connect((HOST, rsrv.port))
            s.sendall(req("/" + name, extra="Range: bytes=%s\r\n" % spec))
            socks.append(s)
        for s in socks:  # every request has been answered as far as its socket allows
            assert s.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 206")
        grown = rss_kib(rsrv.proc.pid) - before
        assert grown < 100 * 1024, "RSS grew by %d KiB" % grown
    finally:
        for s in socks:
            s.close()
    assert get(rsrv.port, "/small.txt").status == 200


def test_file_truncated_under_a_multipart_answer_is_cut(tmp_path):
    """A large file shrinks while a slow client reads a multipart answer:
    the connection ends early; the client never sees a complete-looking body
    nor an error page inside the 206."""
    root = tmp_path / "www"
    root.mkdir()
    f = root / "big.bin"
    size = 48 * MIB
    f.write_bytes(os.urandom(size))
    s = start_serve(root, "--quiet")
    try:
        assert get(s.port, "/big.bin", method="HEAD").status == 200  # cached with its descriptor
        c = Conn(s.port)
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        c.send(req("/big.bin", extra="Range: bytes=0-%d,%d-%d\r\n" % (32 * MIB, 40 * MIB, 40 * MIB + 99)))
        version, status, reason, headers, raw = c.read_head()
        assert status == 206
        cl = int(dict((k.lower(), v) for k, v in headers)["content-length"])
        got = c.read_exact(65536)
        os.truncate(f, MIB)
        got += c.read_to_eof(timeout=30)
        c.close()
        assert len(got) < cl, "a complete-looking body after the file shrank"
        assert b"HTTP/1.1 500" not in got and b"HTTP/1.0 500" not in got
    finally:
        assert s.stop() == 0, s.output()


def test_file_shrunk_before_a_multipart_answer_never_gets_an_error_page(tmp_path):
    """The cached entry still says the old size: the parts past the new end
    cannot be sent; the answer is cut (or answered afresh), never padded or
    followed by a 500 inside the 206."""
    root = tmp_path / "www"
    root.mkdir()
    f = root / "big.bin"
    data = os.urandom(2 * MIB)
    f.write_bytes(data)
    s = start_serve(root, "--quiet")
    try:
        with Conn(s.port) as c:
            c.send(req("/big.bin", method="HEAD"))
            c.read_response(head=True)
            os.truncate(f, 100000)
            c.send(req("/big.bin", extra="Range: bytes=0-99,1500000-1500099\r\nConnection: close\r\n"))
            version, status, reason, headers, raw = c.read_head()
            hd = dict((k.lower(), v) for k, v in headers)
            cl = int(hd.get("content-length", 0))
            body = c.read_to_eof(timeout=T)
        assert len(body) <= cl, "bytes past the announced body: %r" % body[cl:cl + 200]
        assert b" 500 " not in body
        if len(body) == cl and status == 206:
            # complete: then it answers the file as it is now (revalidated)
            now = f.read_bytes()
            assert hd["content-range"] == "bytes 0-99/%d" % len(now), hd
            assert body == now[:100]
    finally:
        assert s.stop() == 0, s.output()


# ---------------------------------------------------------------- index files

@pytest.fixture(scope="module")
def iroot(tmp_path_factory):
    root = tmp_path_factory.mktemp("index") / "www"
    (root / "htm").mkdir(parents=True)
    (root / "htm" / "index.htm").write_bytes(b"<p>htm only</p>\n")
    (root / "both").mkdir()
    (root / "both" / "index.html").write_bytes(b"<p>html</p>\n")
    (root / "both" / "index.htm").write_bytes(b"<p>htm</p>\n")
    (root / "both" / "default.txt").write_bytes(b"default\n")
    (root / "none").mkdir()
    (root / "none" / "f.txt").write_bytes(b"f\n")
    return root


def test_index_htm_is_served_by_default(iroot, server):
    s = server("serve", "0", "-b", HOST, "-d", str(iroot))
    r = get(s.port, "/htm/")
    assert r.status == 200 and r.body == b"<p>htm only</p>\n"
    assert r.h("Content-Type").startswith("text/html")
    assert get(s.port, "/both/").body == b"<p>html</p>\n"  # index.html first
    r = get(s.port, "/none/")
    assert r.status == 200 and b"f.txt" in r.body  # the listing


def test_index_list_is_tried_in_order(iroot, server):
    s = server("serve", "0", "-b", HOST, "-d", str(iroot), "--index", "default.txt, index.htm")
    r = get(s.port, "/both/")
    assert r.body == b"default\n" and r.h("Content-Type").startswith("text/plain")
    assert get(s.port, "/htm/").body == b"<p>htm only</p>\n"
    assert get(s.port, "/none/").status == 200 and b"f.txt" in get(s.port, "/none/").body


# ---------------------------------------------------------------- types and charsets

@pytest.fixture(scope="module")
def troot(tmp_path_factory):
    import gzip
    root = tmp_path_factory.mktemp("types") / "www"
    root.mkdir()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n'
    (root / "logo.svgz").write_bytes(gzip.compress(svg * 200))
    (root / "cp1252.html").write_bytes(b'<!doctype html><meta charset="windows-1252"><p>caf\xe9</p>\n')
    (root / "equiv.html").write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        b'</head><body>\xe9</body></html>\n' + b"<!-- pad -->" * 4000)  # large: by descriptor
    (root / "plain.html").write_bytes(b"<!doctype html><p>caf\xc3\xa9</p>\n")
    (root / "latin.css").write_bytes(b'@charset "iso-8859-15";\nbody{content:"\xa4"}\n')
    (root / "latin.xml").write_bytes(b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>\n')
    # a WHATWG label of windows-1252 that is no token (':'): sent quoted
    (root / "label.html").write_bytes(b'<meta charset="ISO_8859-1:1987"><p>caf\xe9</p>\n')
    return root


@pytest.fixture
def tsrv(troot):
    s = start_serve(troot, "--quiet")
    s.root = troot
    yield s
    assert s.stop() == 0, s.output()


def test_svgz_is_gzip_encoded_svg(tsrv):
    data = (tsrv.root / "logo.svgz").read_bytes()
    for method in ("GET", "HEAD"):
        r = get(tsrv.port, "/logo.svgz", method=method)
        assert r.status == 200
        assert r.h("Content-Type") == "image/svg+xml"
        assert r.h("Content-Encoding") == "gzip"
    assert get(tsrv.port, "/logo.svgz").body == data
    r = get(tsrv.port, "/logo.svgz", extra="Range: bytes=0-9\r\n")
    assert r.status == 206 and r.h("Content-Encoding") == "gzip" and r.body == data[:10]
    import requests
    rr = requests.get("http://%s:%d/logo.svgz" % (HOST, tsrv.port), timeout=T)
    assert rr.content.startswith(b"<svg")  # a client inflates it


@pytest.mark.parametrize("name,ctype", [
    ("cp1252.html", "text/html; charset=windows-1252"),
    ("equiv.html", "text/html; charset=ISO-8859-1"),
    ("plain.html", "text/html; charset=utf-8"),
    ("latin.css", "text/css; charset=iso-8859-15"),
    ("latin.xml", "application/xml; charset=ISO-8859-1"),
    ("label.html", 'text/html; charset="ISO_8859-1:1987"'),
])
def test_charset_declared_in_the_file_is_sent(tsrv, name, ctype):
    r = get(tsrv.port, "/" + name)
    assert r.status == 200 and r.h("Content-Type") == ctype
    assert r.body == (tsrv.root / name).read_bytes()
    r = get(tsrv.port, "/" + name, extra="Range: bytes=0-4\r\n")
    assert r.status == 206 and r.h("Content-Type") == ctype


def test_a_charset_that_is_no_token_is_quoted_and_clients_decode_with_it(tsrv):
    """RFC 9110 §5.6.6: a parameter value is a token or a quoted-string."""
    import requests
    rr = requests.get("http://%s:%d/label.html" % (HOST, tsrv.port), timeout=T)
    ct = rr.headers["Content-Type"]
    assert re.fullmatch(r'text/html; charset="[^"\\]+"', ct), ct
    msg = email.message_from_string("Content-Type: %s\n\n" % ct, policy=email.policy.HTTP)
    assert msg.get_content_charset() == "iso_8859-1:1987"
    assert rr.encoding == "ISO_8859-1:1987" and "caf\u00e9" in rr.text


# ---------------------------------------------------------------- listing

class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href"]


def links(body):
    p = _Links()
    p.feed(body.decode("utf-8"))  # the page is valid UTF-8, whatever the names
    return p.hrefs


@pytest.fixture(scope="module")
def lroot(tmp_path_factory):
    base = tmp_path_factory.mktemp("listing")
    root = base / "www"
    (root / "sub").mkdir(parents=True)
    (base / "outside.txt").write_bytes(b"outside\n")
    (root / "a.txt").write_bytes(b"12345")
    os.symlink("/etc", root / "etc-link")
    os.symlink("/etc/passwd", root / "passwd-link")
    os.symlink("../outside.txt", root / "out-link.txt")
    os.symlink("nowhere", root / "broken-link")
    os.symlink("a.txt", root / "in-link.txt")
    os.symlink("../a.txt", root / "sub" / "up-link.txt")
    os.symlink("..", root / "sub" / "root-link")
    os.mkfifo(root / "fifo")
    (root / ".hidden.txt").write_bytes(b"h\n")
    os.mkdir(os.fsencode(str(root)) + b"/d\xe9j\xe0")  # Latin-1 directory name
    with open(os.fsencode(str(root)) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"latin-1 named\n")
    with open(os.fsencode(str(root)) + b"/d\xe9j\xe0/x.txt", "wb") as f:
        f.write(b"x\n")
    (root / "日本.txt").write_bytes(b"utf-8 named\n")
    return root


def crawl(port, start="/"):
    """Follows every link of every listing, as wget -r would: {path: status}."""
    seen, todo = {}, [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        r = get(port, path)
        seen[path] = r.status
        if r.status == 200 and r.h("Content-Type") == "text/html; charset=utf-8" and path.endswith("/"):
            for h in links(r.body):
                target = urllib.parse.urljoin(path, h)
                if len(target) < len(path) or target == path:  # ../ and ./
                    continue
                todo.append(target)
    return seen


def test_listing_shows_only_what_is_served(lroot, server):
    s = server("serve", "0", "-b", HOST, "-d", str(lroot))
    body = get(s.port, "/").body
    hrefs = links(body)
    for gone in ("etc-link", "passwd-link", "out-link.txt", "broken-link", "fifo", ".hidden.txt"):
        assert not any(h.startswith(gone) for h in hrefs), (gone, hrefs)
    assert "in-link.txt" in hrefs and "a.txt" in hrefs
    # the link inside the root shows its target's size
    assert re.search(rb'href="in-link.txt">in-link.txt</a></td><td>5 B<', body), body
    sub = links(get(s.port, "/sub/").body)
    assert "up-link.txt" in sub and "root-link/" in sub
    seen = crawl(s.port)
    assert len(seen) >= 10, seen
    assert all(st in (200, 301) for st in seen.values()), seen


def test_non_utf8_names_are_listed_escaped_and_their_links_work(lroot, server):
    s = server("serve", "0", "-b", HOST, "-d", str(lroot))
    body = get(s.port, "/").body
    text = body.decode("utf-8")  # raises on raw Latin-1 bytes
    assert "caf\\xE9.txt</a>" in text and "d\\xE9j\\xE0/</a>" in text
    assert "日本.txt</a>" in text
    hrefs = links(body)
    assert "caf%E9.txt" in hrefs and "d%E9j%E0/" in hrefs
    r = get(s.port, "/caf%E9.txt")
    assert r.status == 200 and r.body == b"latin-1 named\n"
    assert get(s.port, "/d%E9j%E0/x.txt").body == b"x\n"
    assert get(s.port, "/d%E9j%E0").status == 301
