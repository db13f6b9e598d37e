"""Site features of berth serve (issue 11) against real clients: the caching
policy by content fingerprint and --cache-control, the --spa fallback,
--cors (preflights too), --header on every response, JSON listings and
?sort/&order, and ?download=tar extracted by Python's tarfile."""
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.parse

import pytest

from conftest import BERTH
from test_serve import HOST, T, raw_exchange

requests = pytest.importorskip("requests")
CURL = shutil.which("curl")
IMMUTABLE = "public, max-age=31536000, immutable"


def site(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_bytes(b"<!doctype html><title>app</title>\n")
    (root / "assets").mkdir()
    (root / "assets" / "app.3f9a1c2b.js").write_bytes(b"console.log(1)\n")
    (root / "assets" / "main.A1b2C3d4E5.css").write_bytes(b"body{}\n")
    (root / "assets" / "jquery.min.js").write_bytes(b"/* jq */\n")
    (root / "assets" / "file.20240101.txt").write_bytes(b"dated\n")
    (root / "assets" / "big.3f9a1c2b.bin").write_bytes(os.urandom(100 * 1024))  # a large file
    (root / "plain.txt").write_bytes(b"plain\n")
    return root


@pytest.fixture
def root(tmp_path):
    return site(tmp_path / "www")


def url(s, path):
    return "http://%s:%d%s" % (HOST, s.port, path)


def conn(s):
    return http.client.HTTPConnection(HOST, s.port, timeout=T)


def fetch(s, path, method="GET", headers=None):
    c = conn(s)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


# ---------------------------------------------------------------- caching policy

def test_fingerprinted_names_are_immutable_on_200_206_304(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q")
    for path in ("/assets/app.3f9a1c2b.js", "/assets/main.A1b2C3d4E5.css",
                 "/assets/big.3f9a1c2b.bin"):
        r, _ = fetch(s, path)
        assert r.status == 200 and r.getheader("Cache-Control") == IMMUTABLE, path
        etag = r.getheader("ETag")
        r, _ = fetch(s, path, headers={"If-None-Match": etag})
        assert r.status == 304 and r.getheader("Cache-Control") == IMMUTABLE, path
        r, b = fetch(s, path, headers={"Range": "bytes=0-3"})
        assert r.status == 206 and len(b) == 4 and r.getheader("Cache-Control") == IMMUTABLE
        r, _ = fetch(s, path, headers={"Range": "bytes=0-1,5-6"})
        assert r.status == 206 and r.getheader("Cache-Control") == IMMUTABLE  # multipart
    for path in ("/assets/jquery.min.js", "/assets/file.20240101.txt", "/plain.txt", "/"):
        r, _ = fetch(s, path)
        assert r.status == 200 and r.getheader("Cache-Control") is None, path


def test_cache_control_option_for_the_rest(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--cache-control",
               "public, max-age=60")
    r, _ = fetch(s, "/plain.txt")
    assert r.getheader("Cache-Control") == "public, max-age=60"
    r, _ = fetch(s, "/plain.txt", headers={"If-None-Match": r.getheader("ETag")})
    assert r.status == 304 and r.getheader("Cache-Control") == "public, max-age=60"
    r, _ = fetch(s, "/assets/app.3f9a1c2b.js")
    assert r.getheader("Cache-Control") == IMMUTABLE
    r, _ = fetch(s, "/missing.txt")  # errors carry no caching policy
    assert r.status == 404 and r.getheader("Cache-Control") is None
    # curl sees the same
    if CURL:
        out = subprocess.run([CURL, "-sSI", url(s, "/plain.txt")], capture_output=True,
                             timeout=T).stdout.decode()
        assert "cache-control: public, max-age=60" in out.lower()


def test_compressed_answers_keep_the_caching_policy(root, server):
    """A compressed variant's head carries the Cache-Control of the file."""
    js = b"".join(b"function f%d(a, b) { return a * %d + b; }\n" % (i, i) for i in range(200))
    (root / "assets" / "app.3f9a1c2b.js").write_bytes(js)
    (root / "plain.js").write_bytes(js)
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--cache-control", "no-cache")
    for path, cc in (("/assets/app.3f9a1c2b.js", IMMUTABLE), ("/plain.js", "no-cache")):
        for enc in ("gzip", "br", "zstd"):
            r, b = fetch(s, path, headers={"Accept-Encoding": enc})
            assert r.status == 200 and r.getheader("Content-Encoding") == enc, (path, enc)
            assert len(b) < len(js)
            assert r.getheader("Cache-Control") == cc, (path, enc)
            r, _ = fetch(s, path, headers={"Accept-Encoding": enc,
                                           "If-None-Match": r.getheader("ETag")})
            assert r.status == 304 and r.getheader("Cache-Control") == cc, (path, enc)


LONG_CC = "public, " + ", ".join("x-e%d=1" % i for i in range(150))  # over 512 bytes


@pytest.mark.parametrize("value", ["", "max-age=", "a b", "no-cache\nX: y", LONG_CC])
def test_bad_cache_control_refused_at_start(root, value):
    p = subprocess.run([BERTH, "serve", "0", "-d", str(root), "--cache-control", value],
                       capture_output=True, timeout=T)
    assert p.returncode == 2 and b"--cache-control" in p.stderr and b"; give" in p.stderr


def test_longest_cache_control_on_every_answer(root, server):
    # the longest value accepted fits every head berth builds: plain, coded,
    # 304, 206, multipart (a longer one is refused at start, not answered 503)
    cc = ("public, max-age=60, " + ", ".join("x-e%d=1" % i for i in range(100)))[:512]
    cc = cc.rstrip(", =")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--cache-control", cc)
    for enc in ("identity", "gzip"):
        h = {"Accept-Encoding": enc}
        r, _ = fetch(s, "/plain.txt", headers=h)
        assert r.status == 200 and r.getheader("Cache-Control") == cc, enc
        r, _ = fetch(s, "/plain.txt", headers=dict(h, **{"If-None-Match": r.getheader("ETag")}))
        assert r.status == 304 and r.getheader("Cache-Control") == cc, enc
        for rng in ("bytes=0-3", "bytes=0-1,5-6"):
            r, _ = fetch(s, "/plain.txt", headers=dict(h, Range=rng))
            assert r.status == 206 and r.getheader("Cache-Control") == cc, (enc, rng)


# ---------------------------------------------------------------- SPA

def test_spa_routes_get_index_assets_stay_404(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--spa")
    index = (root / "index.html").read_bytes()
    nav = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for path in ("/dashboard", "/users/42/settings", "/deep/route/"):
        r, b = fetch(s, path, headers=nav)
        assert r.status == 200 and b == index, path
        assert r.getheader("Content-Type").startswith("text/html")
        assert "Accept" in r.getheader("Vary")
        assert r.getheader("Location") is None
        etag = r.getheader("ETag")
        r2, _ = fetch(s, "/")
        assert r2.getheader("ETag") == etag  # index.html's own validators
        r, b = fetch(s, path, "HEAD", headers=nav)
        assert r.status == 200 and b == b"" and int(r.getheader("Content-Length")) == len(index)
        r, _ = fetch(s, path, headers=dict(nav, **{"If-None-Match": etag}))
        assert r.status == 304
    # missing assets (an extension) stay 404 even for a browser
    for path in ("/assets/missing.3f9a1c2b.js", "/favicon.ico", "/user/john.doe"):
        r, _ = fetch(s, path, headers=nav)
        assert r.status == 404, path
    # a script's fetch (*/*, or JSON) is not a navigation
    for accept in ("*/*", "application/json", "text/html;q=0", None):
        r, _ = fetch(s, "/dashboard", headers={"Accept": accept} if accept else {})
        assert r.status == 404, accept
        assert "Accept" in (r.getheader("Vary") or "")
    # directories behave as before, files too
    r, _ = fetch(s, "/assets", headers=nav)
    assert r.status == 301
    r, b = fetch(s, "/plain.txt", headers=nav)
    assert r.status == 200 and b == b"plain\n"
    # POST is no navigation
    r, _ = fetch(s, "/dashboard", "POST", headers=nav)
    assert r.status == 405


def test_without_spa_routes_are_404(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q")
    r, _ = fetch(s, "/dashboard", headers={"Accept": "text/html"})
    assert r.status == 404 and r.getheader("Vary") is None


def test_spa_with_requests_and_curl(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--spa")
    r = requests.get(url(s, "/app/route"), headers={"Accept": "text/html"}, timeout=T,
                     allow_redirects=False)
    assert r.status_code == 200 and b"<title>app</title>" in r.content
    if CURL:
        p = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            url(s, "/app/route")], capture_output=True, timeout=T)
        assert p.stdout == b"404"  # curl says Accept: */*


# ---------------------------------------------------------------- CORS

def test_cors_star_on_every_response(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--cors")
    for path, status in (("/plain.txt", 200), ("/missing", 404), ("/assets", 301),
                         ("/assets/", 200)):
        r, _ = fetch(s, path, headers={"Origin": "https://a.example"})
        assert r.status == status
        assert r.getheader("Access-Control-Allow-Origin") == "*", path
        assert r.getheader("Vary") in (None, "Accept")  # no Vary: Origin for '*'
        assert "ETag" in r.getheader("Access-Control-Expose-Headers")
    r, _ = fetch(s, "/plain.txt", "DELETE")
    assert r.status == 405 and r.getheader("Access-Control-Allow-Origin") == "*"
    r, _ = fetch(s, "/plain.txt", headers={"If-None-Match": "*"})
    assert r.status == 304 and r.getheader("Access-Control-Allow-Origin") == "*"


def test_cors_preflight(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--cors",
               "https://app.example.com")
    r, b = fetch(s, "/plain.txt", "OPTIONS", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Requested-With, content-type"})
    assert r.status == 204 and b == b""
    assert r.getheader("Access-Control-Allow-Origin") == "https://app.example.com"
    assert "Origin" in r.getheader("Vary")
    methods = [m.strip() for m in r.getheader("Access-Control-Allow-Methods").split(",")]
    assert set(methods) == {"GET", "HEAD", "OPTIONS"}
    assert r.getheader("Access-Control-Allow-Headers") == "X-Requested-With, content-type"
    assert int(r.getheader("Access-Control-Max-Age")) > 0
    # requested headers that are no token list are not echoed
    r, _ = fetch(s, "/plain.txt", "OPTIONS", headers={
        "Origin": "https://x", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "a b"})
    assert r.status == 204 and r.getheader("Access-Control-Allow-Headers") is None
    # a plain OPTIONS (no preflight) keeps today's answer
    r, _ = fetch(s, "/plain.txt", "OPTIONS")
    assert r.status == 204 and r.getheader("Allow") == "GET, HEAD, OPTIONS"
    assert r.getheader("Access-Control-Allow-Methods") is None
    # a simple GET with the specific origin
    r, _ = fetch(s, "/plain.txt", headers={"Origin": "https://app.example.com"})
    assert r.getheader("Access-Control-Allow-Origin") == "https://app.example.com"
    assert r.getheader("Vary") == "Origin"


def test_cors_off_by_default(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q")
    r, _ = fetch(s, "/plain.txt", "OPTIONS", headers={
        "Origin": "https://x", "Access-Control-Request-Method": "GET"})
    assert r.status == 204 and r.getheader("Access-Control-Allow-Origin") is None
    assert r.getheader("Access-Control-Allow-Methods") is None


@pytest.mark.parametrize("origin", ["app.example.com", "https://a.example/path", "https://"])
def test_bad_cors_origin_refused(root, origin):
    p = subprocess.run([BERTH, "serve", "0", "-d", str(root), "--cors=" + origin],
                       capture_output=True, timeout=T)
    assert p.returncode == 2 and b"not an origin" in p.stderr


# ---------------------------------------------------------------- --header

def test_header_on_every_response(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--header",
               "X-Frame-Options: DENY", "--header", "Content-Security-Policy: default-src 'self'",
               "--header", "Link: </a>; rel=preload", "--header", "Link: </b>; rel=preload")
    for path, status in (("/plain.txt", 200), ("/missing", 404), ("/assets/", 200),
                         ("/assets/big.3f9a1c2b.bin", 200)):
        r, _ = fetch(s, path)
        assert r.status == status
        assert r.getheader("X-Frame-Options") == "DENY", path
        assert r.getheader("Content-Security-Policy") == "default-src 'self'"
        assert r.msg.get_all("Link") == ["</a>; rel=preload", "</b>; rel=preload"]
    r, _ = fetch(s, "/plain.txt", headers={"If-None-Match": "*"})
    assert r.status == 304 and r.getheader("X-Frame-Options") == "DENY"
    # a request that does not even parse
    with socket.create_connection((HOST, s.port), timeout=T) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 400") and b"X-Frame-Options: DENY\r\n" in data


def test_header_on_repeated_keep_alive_hits(root, server):
    """the answer a client asks for again comes from a prebuilt head: the
    --header fields are in it, pipelined, one by one, HEAD and HTTP/1.0 too"""
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--header", "X-Frame-Options: DENY")
    req = b"GET /plain.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    data = raw_exchange(s.port, req * 3 + b"HEAD /plain.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
                        b"GET /plain.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
                        b"GET /plain.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = (root / "plain.txt").read_bytes()
    heads = []
    while data:
        h, _, rest = data.partition(b"\r\n\r\n")
        heads.append(h)
        n = 0 if h.startswith(b"HTTP/1.1 200 OK\r\n") and len(heads) == 4 else len(body)
        assert rest[:n] == body[:n]
        data = rest[n:]
    assert len(heads) == 6
    for h in heads:
        assert h.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nX-Frame-Options: DENY" in h, h
        assert b"\r\nContent-Length: %d" % len(body) in h
    assert b"Connection: keep-alive" in heads[4] and b"Connection: close" in heads[5]
    assert not any(b"Connection:" in h for h in heads[:4])


def test_header_over_h2(root, server):
    if not CURL:
        pytest.skip("curl")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q", "--header", "X-Site: one",
               "--cors")
    for path, code in (("/plain.txt", "200"), ("/missing", "404")):
        p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null",
                            url(s, path)], capture_output=True, timeout=T)
        out = p.stdout.decode().lower()
        assert out.startswith("http/2 " + code), out
        assert "x-site: one\r\n" in out and "access-control-allow-origin: *\r\n" in out


@pytest.mark.parametrize("value,msg", [
    ("NoColon", b"no ':'"),
    ("Bad Name: x", b"not a field name"),
    ("Content-Length: 3", b"writes itself"),
    ("Server: other", b"writes itself"),
    ("Cache-Control: no-store", b"--cache-control"),
    ("Access-Control-Allow-Origin: *", b"--cors"),
    ("Repr-Digest: sha-256=:AA==:", b"writes itself"),
    ("Transfer-Encoding: chunked", b"drop it"),
])
def test_bad_header_refused_at_start(root, value, msg):
    p = subprocess.run([BERTH, "serve", "0", "-d", str(root), "--header", value],
                       capture_output=True, timeout=T)
    assert p.returncode == 2, p
    assert msg in p.stderr and b"; " in p.stderr, p.stderr


def test_header_with_control_character_refused(root):
    p = subprocess.run([BERTH, "serve", "0", "-d", str(root), "--header", "X-A: a\x01b"],
                       capture_output=True, timeout=T)
    assert p.returncode == 2 and b"control character" in p.stderr


# ---------------------------------------------------------------- JSON listings

ODD = ["sp ace.txt", 'q"uote.txt', "it's.txt", "\u65e5\u672c.txt", "back\\slash", "tab\tname",
       "a&b<c>.txt"]


@pytest.fixture
def listing_root(tmp_path):
    r = tmp_path / "list"
    (r / "d").mkdir(parents=True)
    for i, n in enumerate(ODD):
        (r / "d" / n).write_bytes(b"x" * (i * 10 + 1))
        os.utime(r / "d" / n, (1_600_000_000 + i * 1000,) * 2)
    os.mkdir(os.path.join(os.fsencode(str(r / "d")), b"sub"))
    with open(os.path.join(os.fsencode(str(r / "d")), b"latin\xe9.txt"), "wb") as f:
        f.write(b"l" * 500)
    (r / "d" / ".hidden").write_bytes(b"h")
    return r


def test_json_listing_round_trips(listing_root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(listing_root), "-q")
    r = requests.get(url(s, "/d/"), headers={"Accept": "application/json"}, timeout=T)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert "Accept" in r.headers["Vary"]
    data = json.loads(r.content.decode("utf-8"))
    names = [e["name"] for e in data]
    assert ".hidden" not in names
    assert names[0] == "sub" and data[0]["type"] == "dir" and data[0]["size"] is None
    assert set(names[1:]) == set(ODD) | {"latin\\xE9.txt"}
    for e in data[1:]:
        assert e["type"] == "file"
        assert set(e) == {"name", "type", "size", "mtime", "url"}
        assert e["mtime"].endswith("Z") and "T" in e["mtime"]
        # the url reaches the file, whatever its name
        got = requests.get(urllib.parse.urljoin(url(s, "/d/"), e["url"]), timeout=T)
        assert got.status_code == 200 and len(got.content) == e["size"], e
    byname = {e["name"]: e for e in data}
    assert byname["sp ace.txt"]["mtime"] == "2020-09-13T12:26:40Z"
    # HTML stays the default (a browser's Accept, no Accept, */*)
    for accept in (None, "*/*", "text/html,application/json", "application/json;q=0.5, text/html"):
        r = requests.get(url(s, "/d/"), headers={"Accept": accept} if accept else {}, timeout=T)
        assert r.headers["Content-Type"].startswith("text/html"), accept
        assert "Accept" in r.headers["Vary"]
    r = requests.get(url(s, "/d/"), headers={"Accept": "application/json, */*;q=0.1"}, timeout=T)
    assert r.headers["Content-Type"] == "application/json"
    r = requests.head(url(s, "/d/"), headers={"Accept": "application/json"}, timeout=T)
    assert r.headers["Content-Type"] == "application/json" and r.content == b""


def test_listing_sort_orders(listing_root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(listing_root), "-q")
    J = {"Accept": "application/json"}

    def names(q):
        r = requests.get(url(s, "/d/" + q), headers=J, timeout=T)
        return [e for e in r.json() if e["type"] == "file"]

    files = names("")
    assert files == names("?sort=name&order=asc")  # the default order is by name
    ascii_names = [e["name"] for e in files if e["name"].isascii()]
    assert ascii_names == sorted(ascii_names)  # byte order of the names
    by_size = names("?sort=size")
    assert [e["size"] for e in by_size] == sorted(e["size"] for e in by_size)
    by_size_desc = names("?sort=size&order=desc")
    assert [e["size"] for e in by_size_desc] == sorted((e["size"] for e in by_size), reverse=True)
    by_mtime = names("?sort=mtime&order=asc")
    assert [e["mtime"] for e in by_mtime] == sorted(e["mtime"] for e in by_mtime)
    assert names("?sort=mtime&order=desc") == by_mtime[::-1]
    assert names("?order=desc") == names("?sort=name")[::-1]
    # invalid values: the default, not an error
    assert names("?sort=bogus&order=sideways") == names("")
    # the HTML page honours the same order and offers the choice
    r = requests.get(url(s, "/d/?sort=size&order=desc"), timeout=T)
    assert r.status_code == 200 and 'name="sort"' in r.text
    html = r.text
    pos = [html.index(urllib.parse.quote(e["name"].replace("\\xE9", "\xe9"),
                                         safe="/-._~", encoding="latin-1"))
           if "\\x" in e["name"] else html.index(urllib.parse.quote(e["name"], safe="/-._~"))
           for e in by_size_desc]
    assert pos == sorted(pos)


# ---------------------------------------------------------------- tar downloads

@pytest.fixture
def tree(tmp_path):
    r = tmp_path / "tree"
    d = r / "proj"
    (d / "nested" / "deeper").mkdir(parents=True)
    (d / "empty-dir").mkdir()
    (d / "a.txt").write_bytes(b"alpha\n")
    (d / "empty.txt").write_bytes(b"")
    (d / "nested" / "b.bin").write_bytes(os.urandom(300_000))  # sent by sendfile
    (d / "nested" / "deeper" / "c.txt").write_bytes(b"c" * 513)
    long = "L" * 120 + ".txt"  # > 100 bytes: a pax path record
    (d / "nested" / long).write_bytes(b"long name\n")
    (d / "\u00fcnic\u00f8de \u65e5\u672c.txt").write_bytes("unicode\n".encode())
    (d / ".secret").write_bytes(b"hidden\n")
    os.symlink("/etc/passwd", d / "escape")  # leaves the root: left out
    os.symlink("a.txt", d / "alias.txt")  # stays inside: its target's bytes
    os.symlink(".", d / "nested" / "again")  # a loop: skipped, not walked forever
    (d / "index.html").write_bytes(b"<p>index</p>\n")
    return r


def expected_files(d):
    out = {}
    for base, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            p = os.path.join(base, f)
            if f.startswith(".") or (os.path.islink(p) and not os.path.realpath(p).startswith(
                    os.path.realpath(str(d)))):
                continue
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


def test_tar_download_extracts_to_the_same_files(tree, server, tmp_path):
    s = server("serve", "0", "-b", HOST, "-d", str(tree), "-q")
    r = requests.get(url(s, "/proj/?download=tar"), timeout=T)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-tar"
    assert r.headers["Content-Disposition"] == 'attachment; filename="proj.tar"'
    assert int(r.headers["Content-Length"]) == len(r.content)
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        assert names[0] == "proj"
        assert all(n == "proj" or n.startswith("proj/") for n in names)
        assert "proj/.secret" not in names and "proj/escape" not in names
        assert not any("again" in n for n in names)
        assert tf.extractfile("proj/alias.txt").read() == b"alpha\n"
        assert "proj/empty-dir" in names and tf.getmember("proj/empty-dir").isdir()
        out = tmp_path / "x"
        tf.extractall(out, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(out)
    got = {}
    for base, dirs, files in os.walk(out / "proj"):
        for f in files:
            p = os.path.join(base, f)
            got[os.path.relpath(p, out / "proj")] = open(p, "rb").read()
    want = expected_files(tree / "proj")
    assert got == want
    assert any(len(os.path.basename(k)) > 100 for k in got)
    # HEAD: the same length, no body
    h = requests.head(url(s, "/proj/?download=tar"), timeout=T)
    assert h.headers["Content-Length"] == r.headers["Content-Length"] and h.content == b""


def test_tar_respects_hidden_option_and_root(tree, server):
    s = server("serve", "0", "-b", HOST, "-d", str(tree), "-q", "--hidden")
    r = requests.get(url(s, "/proj/?download=tar"), timeout=T)
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tf:
        assert "proj/.secret" in tf.getnames()
    r = requests.get(url(s, "/?download=tar"), timeout=T)
    assert r.status_code == 200 and 'filename="tree.tar"' in r.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tf:
        assert "tree/proj/a.txt" in tf.getnames()
    # not a directory: the query is ignored
    r = requests.get(url(s, "/proj/a.txt?download=tar"), timeout=T)
    assert r.content == b"alpha\n"
    # without the slash: the redirect keeps the query
    r = requests.get(url(s, "/proj?download=tar"), timeout=T, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"].endswith("/proj/?download=tar")


def test_tar_unicode_name_and_curl(tmp_path, server):
    r = tmp_path / "u"
    (r / "caf\u00e9").mkdir(parents=True)
    (r / "caf\u00e9" / "x").write_bytes(b"x")
    s = server("serve", "0", "-b", HOST, "-d", str(r), "-q")
    resp = requests.get(url(s, "/caf%C3%A9/?download=tar"), timeout=T)
    cd = resp.headers["Content-Disposition"]
    assert 'filename="caf__.tar"' in cd and "filename*=UTF-8''caf%C3%A9.tar" in cd
    # beyond ASCII, names travel as pax paths (POSIX: ustar names are the
    # portable set), so a reader that takes ustar names as ASCII gets them
    with tarfile.open(fileobj=io.BytesIO(resp.content), encoding="ascii") as tf:
        m = tf.getmember("caf\u00e9/x")
        assert m.pax_headers.get("path") == "caf\u00e9/x"
        assert tf.extractfile(m).read() == b"x"
    if CURL:
        p = subprocess.run([CURL, "-sS", url(s, "/caf%C3%A9/?download=tar")],
                           capture_output=True, timeout=T)
        with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
            assert tf.extractfile("caf\u00e9/x").read() == b"x"


def test_tar_over_h2(tree, server):
    if not CURL:
        pytest.skip("curl")
    s = server("serve", "0", "-b", HOST, "-d", str(tree), "-q")
    p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", url(s, "/proj/?download=tar")],
                       capture_output=True, timeout=30)
    assert p.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert tf.extractfile("proj/nested/b.bin").read() == \
            (tree / "proj" / "nested" / "b.bin").read_bytes()


def test_tar_refused_without_listing_or_with_no_tar(tree, server):
    for opt in ("--no-listing", "--no-tar"):
        s = server("serve", "0", "-b", HOST, "-d", str(tree), "-q", opt)
        r = requests.get(url(s, "/proj/?download=tar"), timeout=T)
        assert r.status_code == 403 and "turned off" in r.text


def test_tar_file_changed_mid_download_cuts_the_connection(tmp_path, server):
    r = tmp_path / "chg"
    (r / "d").mkdir(parents=True)
    # larger than the socket buffers can hold: the server is still sending it
    # when the second file changes
    (r / "d" / "a-first.bin").write_bytes(os.urandom(32 << 20))
    (r / "d" / "b-second.bin").write_bytes(os.urandom(1 << 20))
    s = server("serve", "0", "-b", HOST, "-d", str(r), "-q")
    with socket.create_connection((HOST, s.port), timeout=T) as c:
        c.sendall(b"GET /d/?download=tar HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.recv(4096)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        got = len(head.split(b"\r\n\r\n", 1)[1])
        # the second file grows while the first is still being sent (the
        # client has read next to nothing of its 32 MiB)
        with open(r / "d" / "b-second.bin", "ab") as f:
            f.write(b"more")
        c.settimeout(T)
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
        assert got > 32 << 20  # the first file went out whole
        assert got < length  # cut short: never a complete body that lies


def test_tar_limits_are_403(tmp_path, server):
    r = tmp_path / "deep"
    p = r / "d"
    for i in range(34):
        p = p / "x"
    p.mkdir(parents=True)
    s = server("serve", "0", "-b", HOST, "-d", str(r), "-q")
    resp = requests.get(url(s, "/d/?download=tar"), timeout=T)
    assert resp.status_code == 403 and "subdirectories" in resp.text
    resp = requests.get(url(s, "/d/x/x/x/?download=tar"), timeout=T)
    assert resp.status_code == 200


def test_tar_entry_limit_is_403(tmp_path, server):
    r = tmp_path / "many"
    (r / "d").mkdir(parents=True)
    for i in range(20001):
        open(r / "d" / ("f%05d" % i), "wb").close()
    s = server("serve", "0", "-b", HOST, "-d", str(r), "-q")
    resp = requests.get(url(s, "/d/?download=tar"), timeout=30)
    assert resp.status_code == 403 and "20000 entries" in resp.text
    os.unlink(r / "d" / "f00000")
    os.unlink(r / "d" / "f00001")  # the directory itself is an entry too
    resp = requests.get(url(s, "/d/?download=tar"), timeout=30)
    assert resp.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tf:
        assert len(tf.getmembers()) == 20000


def heads(c, n):
    """n answers to HEAD requests (heads only) from socket c."""
    got, out = b"", []
    while len(out) < n:
        while b"\r\n\r\n" not in got:
            chunk = c.recv(65536)
            assert chunk, (len(out), got[:200])
            got += chunk
        head, got = got.split(b"\r\n\r\n", 1)
        out.append(head)
    return out


@pytest.mark.parametrize("query", ["?download=tar", ""])
def test_directory_walks_take_at_most_a_share_of_the_worker(tmp_path, server, query):
    """A tar's walk and a listing's read run on the loop (tens of ms for a
    large tree): a flood of them (HEAD: no output to hold it back) gets a
    burst, then about half the worker's time; the rest are 503 with
    Retry-After, not a worker frozen for seconds.  Small directories are
    never refused."""
    r = tmp_path / "flood"
    (r / "big").mkdir(parents=True)
    (r / "small").mkdir()
    for i in range(10000):
        open(r / "big" / ("f%05d" % i), "wb").close()
    (r / "small" / "a.txt").write_bytes(b"a")
    s = server("serve", "0", "-b", HOST, "-d", str(r), "-q", "--workers", "1")
    n = 100
    with socket.create_connection((HOST, s.port), timeout=60) as c:
        c.sendall(b"HEAD /big/%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode() * n)
        answers = heads(c, n)
    status = [h.split(b" ")[1] for h in answers]
    assert set(status) == {b"200", b"503"}, status
    assert status[0] == b"200"  # the first of a burst is walked
    for h in answers:
        if b" 503 " in h.split(b"\r\n")[0]:
            assert b"\r\nRetry-After: 1\r\n" in h + b"\r\n"
    # small trees cost what a listing costs: pipelined, all answered
    with socket.create_connection((HOST, s.port), timeout=T) as c:
        c.sendall(b"HEAD /small/%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode() * 20)
        assert all(h.startswith(b"HTTP/1.1 200 ") for h in heads(c, 20))
    # the budget fills again: a download after the Retry-After is whole
    deadline = time.monotonic() + 30
    while True:
        resp = requests.get(url(s, "/big/" + query), timeout=60)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        assert resp.status_code == 503 and "try again" in resp.text
        time.sleep(float(resp.headers["Retry-After"]))
    assert resp.status_code == 200
    if query:
        with tarfile.open(fileobj=io.BytesIO(resp.content)) as tf:
            assert len(tf.getmembers()) == 10001
    else:
        assert resp.text.count('<td><a href="f') == 10000
