"""Content encoding of static files (issue 11): Accept-Encoding negotiation,
precompressed sidecars (F.br, F.zst, F.gz), on-the-fly brotli/zstd/gzip from
a bounded per-worker cache, Vary and per-coding ETags, preconditions, ranges,
HEAD and HTTP/2.  Every encoded body is decompressed by Python's brotli,
zstandard and gzip modules (or curl) and compared with the file."""
import base64
import gzip
import hashlib
import http.client
import os
import random
import re
import shutil
import socket
import subprocess
import time

import pytest

from test_serve import HOST, T, start_serve

brotli = pytest.importorskip("brotli")  # Debian python3-brotli
zstandard = pytest.importorskip("zstandard")  # Debian python3-zstandard
CURL = shutil.which("curl")

WORDS = ("function return const let var await async class extends import export "
         "default div span section header footer article nav button input label "
         "value length index item items render props state effect query select "
         "width height margin padding color border display flex grid").split()


def page(n, seed=1):
    """n bytes of realistic HTML/JS: repeated but varied lines."""
    rnd = random.Random(seed)
    out = []
    size = 0
    while size < n:
        w = [rnd.choice(WORDS) for _ in range(6)]
        if rnd.random() < 0.5:
            line = '<div class="%s-%d"><a href="/%s/%d">%s %s</a></div>\n' % (
                w[0], rnd.randrange(500), w[1], rnd.randrange(10000), w[2], w[3])
        else:
            line = "function %s%d(%s, %s) { return %s.%s + %d; }\n" % (
                w[0], rnd.randrange(1000), w[1], w[2], w[1], w[3], rnd.randrange(99))
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def decode(enc, body):
    if enc is None:
        return body
    if enc == "br":
        return brotli.decompress(body)
    if enc == "zstd":
        return zstandard.ZstdDecompressor().decompress(body, max_output_size=64 << 20)
    if enc == "gzip":
        assert body[:2] == b"\x1f\x8b"  # the gzip format, not zlib's
        return gzip.decompress(body)
    raise AssertionError(enc)


def fetch(port, path, method="GET", **headers):
    """(status, {lower-case name: value}, body) without any decoding."""
    c = http.client.HTTPConnection(HOST, port, timeout=T)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            c.putheader(k.replace("_", "-"), v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        h = {}
        for k, v in r.getheaders():
            k = k.lower()
            h[k] = h[k] + ", " + v if k in h else v
        return r.status, h, body
    finally:
        c.close()


CHEAP_TAG = re.compile(r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')  # a file's version's, until hashed


def wait_hashed(port, path, timeout=20):
    """A file over 32 KiB is hashed off the loop: until then its tag (and the
    tags of its codings made from it) is its version's.  Waits for the
    content tag, so later comparisons of tags are not a race."""
    assert wait_until(lambda: not CHEAP_TAG.match(fetch(port, path, "HEAD")[1]["etag"]), timeout)


def wait_until(pred, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


SIZE = 64 * 1024


def settled(port, path="/app.js"):
    """Waits until the file's identity ETag is its content hash: a file over
    32 KiB is answered with a size+mtime tag until its hasher is done, and the
    per-coding tags follow the file's (test_serve_etag.py tests the switch)."""
    assert wait_until(lambda: not re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"',
                                               fetch(port, path)[1]["etag"]), timeout=20)


@pytest.fixture
def site(tmp_path, request):
    root = tmp_path / "www"
    root.mkdir()
    (root / "app.js").write_bytes(page(SIZE, 1))
    (root / "index.html").write_bytes(page(4000, 2))
    (root / "tiny.css").write_bytes(b"body { color: red }\n")
    (root / "data.json").write_bytes(page(3000, 3))
    (root / "pic.png").write_bytes(page(5000, 4))  # the name says compressed: never touched
    (root / "font.woff2").write_bytes(page(5000, 5))
    (root / "arch.zip").write_bytes(page(5000, 6))
    extra = getattr(request, "param", ())
    srv = start_serve(root, "-q", "--workers", "1", *extra)
    settled(srv.port)
    yield root, srv.port
    srv.kill()


@pytest.mark.parametrize("enc", ["br", "zstd", "gzip"])
def test_each_coding_decodes_to_the_file(site, enc):
    root, port = site
    st, h, body = fetch(port, "/app.js", Accept_Encoding=enc)
    assert st == 200
    assert h["content-encoding"] == enc
    assert h["vary"] == "Accept-Encoding"
    assert int(h["content-length"]) == len(body) < SIZE // 2
    assert h["content-type"].startswith("text/javascript")
    assert decode(enc, body) == (root / "app.js").read_bytes()


def test_identity_etag_and_per_coding_etags(site):
    root, port = site
    st, h, body = fetch(port, "/app.js")
    assert st == 200 and "content-encoding" not in h and body == (root / "app.js").read_bytes()
    assert h["vary"] == "Accept-Encoding"  # identity answers of a negotiated file too
    tag = h["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    seen = {tag}
    marks = set()
    for enc, sfx in (("br", "-br"), ("zstd", "-zst"), ("gzip", "-gz")):
        _, he, _ = fetch(port, "/app.js", Accept_Encoding=enc)
        # the coding, then a mark of the coder that made these bytes (its
        # library's version and level): a strong tag names one byte
        # sequence, even after an upgrade compresses the file differently
        m = re.fullmatch(re.escape(tag[:-1] + sfx) + r'\.([0-9a-v]{4})"', he["etag"])
        assert m, (enc, he["etag"])
        assert fetch(port, "/app.js", Accept_Encoding=enc)[1]["etag"] == he["etag"]
        seen.add(he["etag"])
        marks.add(m.group(1))
    assert len(seen) == 4 and len(marks) == 3


@pytest.mark.skipif(not CURL, reason="curl missing")
def test_curl_compressed_and_each_coding(site, tmp_path):
    root, port = site
    want = (root / "app.js").read_bytes()
    p = subprocess.run([CURL, "-sS", "--compressed", "-D", "-", "-o", str(tmp_path / "c"),
                        "http://%s:%d/app.js" % (HOST, port)], capture_output=True, timeout=T)
    assert p.returncode == 0
    assert b"content-encoding:" in p.stdout.lower()
    assert (tmp_path / "c").read_bytes() == want
    for enc in ("br", "zstd", "gzip"):
        p = subprocess.run([CURL, "-sS", "-H", "Accept-Encoding: " + enc,
                            "http://%s:%d/app.js" % (HOST, port)], capture_output=True, timeout=T)
        assert decode(enc, p.stdout) == want


@pytest.mark.parametrize("ae,want", [
    ("gzip, deflate, br, zstd", "br"),
    ("gzip, zstd", "zstd"),
    ("gzip;q=1.0, br;q=0.5", "gzip"),
    ("br;q=0, zstd;q=0.1, gzip;q=0.2", "gzip"),
    ("identity, gzip;q=0.5", None),
    ("identity;q=0", None),              # nothing acceptable: identity anyway
    ("*;q=0", None),
    ("*", "br"),
    ("*;q=0.5, br;q=0.1", "zstd"),
    ("identity;q=0, zstd", "zstd"),
    ("BR ; Q=0.9, GZIP;q=0.8", "br"),
    ("x-gzip", "gzip"),
    ("", None),
    (" , ,", None),
    ("br;q=2, gzip;q=0.5", "gzip"),      # malformed element ignored
    ("br;level=11", None),
    ("deflate, compress", None),
])
def test_qvalues(site, ae, want):
    root, port = site
    st, h, body = fetch(port, "/app.js", Accept_Encoding=ae)
    assert st == 200
    assert h.get("content-encoding") == want
    assert decode(want, body) == (root / "app.js").read_bytes()
    assert h["vary"] == "Accept-Encoding"


def test_repeated_accept_encoding_lines_join(site):
    root, port = site
    s = socket.create_connection((HOST, port), timeout=T)
    s.sendall(b"GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0.5\r\n"
              b"Accept-Encoding: zstd;q=0.6\r\nConnection: close\r\n\r\n")
    raw = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        raw += d
    s.close()
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"\r\nContent-Encoding: zstd\r\n" in head
    assert decode("zstd", body) == (root / "app.js").read_bytes()


def test_vary_on_every_answer_of_the_file(site):
    root, port = site
    for ae in (None, "br", "gzip"):
        hdr = {"Accept_Encoding": ae} if ae else {}
        st, h, body = fetch(port, "/app.js", **hdr)
        tag = h["etag"]
        for extra, status in (({"If_None_Match": tag}, 304),
                              ({"Range": "bytes=0-9"}, 206),
                              ({"Range": "bytes=0-9,20-29"}, 206),
                              ({"If_Match": '"nope"'}, 412),
                              ({"Range": "bytes=999999-"}, 416)):
            st2, h2, _ = fetch(port, "/app.js", **hdr, **extra)
            assert st2 == status, (ae, extra)
            assert h2.get("vary") == "Accept-Encoding", (ae, extra, h2)
        st3, h3, b3 = fetch(port, "/app.js", "HEAD", **hdr)
        assert h3.get("vary") == "Accept-Encoding" and b3 == b""


@pytest.mark.parametrize("enc", [None, "br", "zstd", "gzip"])
def test_304_for_each_codings_etag(site, enc):
    root, port = site
    hdr = {"Accept_Encoding": enc} if enc else {}
    _, h, _ = fetch(port, "/app.js", **hdr)
    st, h2, body = fetch(port, "/app.js", If_None_Match=h["etag"], **hdr)
    assert st == 304 and body == b""
    assert h2["etag"] == h["etag"]
    # the tag of another coding does not match this representation
    other = "gzip" if enc != "gzip" else "br"
    st, h3, body = fetch(port, "/app.js", If_None_Match=h["etag"], Accept_Encoding=other)
    assert st == 200 and h3["content-encoding"] == other
    # If-Match against the selected representation
    assert fetch(port, "/app.js", If_Match=h["etag"], **hdr)[0] == 200
    if enc:
        assert fetch(port, "/app.js", If_Match=h["etag"])[0] == 412


@pytest.mark.parametrize("enc", [None, "br", "zstd", "gzip"])
def test_head_lengths_equal_get(site, enc):
    root, port = site
    hdr = {"Accept_Encoding": enc} if enc else {}
    _, hg, body = fetch(port, "/app.js", **hdr)
    st, hh, hb = fetch(port, "/app.js", "HEAD", **hdr)
    assert st == 200 and hb == b""
    assert hh["content-length"] == hg["content-length"] == str(len(body))
    assert hh["etag"] == hg["etag"] and hh.get("content-encoding") == hg.get("content-encoding")


def test_ranges_apply_to_the_encoded_bytes(site):
    root, port = site
    _, h, whole = fetch(port, "/app.js", Accept_Encoding="gzip")
    n = len(whole)
    st, hr, part = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=10-109")
    assert st == 206 and hr["content-encoding"] == "gzip"
    assert hr["content-range"] == "bytes 10-109/%d" % n
    assert part == whole[10:110] and hr["content-length"] == "100"
    # If-Range with the coding's own tag: still the range; another tag: the whole
    st, _, part = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=0-9",
                        If_Range=h["etag"])
    assert st == 206 and part == whole[:10]
    _, hi, _ = fetch(port, "/app.js")
    st, _, all_ = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=0-9",
                        If_Range=hi["etag"])
    assert st == 200 and all_ == whole
    # suffix range reassembles with the head
    st, _, tail = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=-50")
    assert st == 206 and tail == whole[-50:]


def test_small_and_already_compressed_types_not_encoded(site):
    root, port = site
    for path in ("/tiny.css", "/pic.png", "/font.woff2", "/arch.zip"):
        st, h, body = fetch(port, path, Accept_Encoding="br, zstd, gzip")
        assert st == 200 and "content-encoding" not in h, path
        assert "vary" not in h, path
        assert body == (root / path[1:]).read_bytes()


def test_index_and_json_compressed(site):
    root, port = site
    st, h, body = fetch(port, "/", Accept_Encoding="br")
    assert h["content-encoding"] == "br"
    assert decode("br", body) == (root / "index.html").read_bytes()
    st, h, body = fetch(port, "/data.json", Accept_Encoding="zstd")
    assert h["content-encoding"] == "zstd"
    assert decode("zstd", body) == (root / "data.json").read_bytes()


@pytest.mark.parametrize("site", [("--no-compress",)], indirect=True)
def test_no_compress(site):
    root, port = site
    st, h, body = fetch(port, "/app.js", Accept_Encoding="br, gzip")
    assert st == 200 and "content-encoding" not in h and "vary" not in h
    assert body == (root / "app.js").read_bytes()


def sidecar_site(tmp_path, server, *extra):
    root = tmp_path / "side"
    root.mkdir()
    (root / "app.js").write_bytes(page(SIZE, 7))
    srv = start_serve(root, "-q", "--workers", "2", *extra)
    server_list.append(srv)
    for _ in range(4):  # each worker has its own entry: ask often enough to reach both
        settled(srv.port)
    return root, srv.port


server_list = []


@pytest.fixture(autouse=True)
def _reap():
    yield
    while server_list:
        server_list.pop().kill()


def put(path, data, mtime_ns=None):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    if mtime_ns is not None:
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.rename(tmp, path)


@pytest.mark.parametrize("enc,sfx", [("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz")])
def test_sidecar_is_served(tmp_path, server, enc, sfx):
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    # the sidecar holds other bytes than compressing would: proof it is the one sent
    marker = b"/* from the sidecar */\n" + (root / "app.js").read_bytes()
    comp = {"br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress,
            "gzip": gzip.compress}[enc](marker)
    put(root / ("app.js" + sfx), comp)
    st, h, body = fetch(port, "/app.js", Accept_Encoding=enc)
    assert st == 200 and h["content-encoding"] == enc and h["vary"] == "Accept-Encoding"
    assert body == comp and int(h["content-length"]) == len(comp)
    assert decode(enc, body) == marker
    # identity for a client that does not take it, with Vary
    st, h, body = fetch(port, "/app.js")
    assert "content-encoding" not in h and h["vary"] == "Accept-Encoding"
    assert body == (root / "app.js").read_bytes()


def test_large_sidecar_ranges_and_304(tmp_path, server):
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    blob = os.urandom(100 * 1024)  # a sidecar over 32 KiB goes out by sendfile
    put(root / "app.js.gz", blob)
    st, h, body = fetch(port, "/app.js", Accept_Encoding="gzip")
    assert st == 200 and body == blob and h["content-length"] == str(len(blob))
    st, hr, part = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=70000-70099")
    assert st == 206 and part == blob[70000:70100]
    assert hr["content-range"] == "bytes 70000-70099/%d" % len(blob)
    st, _, b = fetch(port, "/app.js", Accept_Encoding="gzip", Range="bytes=0-1,50000-50001")
    assert st == 206 and blob[0:2] in b and blob[50000:50002] in b
    # the tag first sent may be the sidecar's version's (until hashed): it
    # still matches; the 304 tells the current one
    st, h2, _ = fetch(port, "/app.js", Accept_Encoding="gzip", If_None_Match=h["etag"])
    assert st == 304 and h2["etag"].endswith('-gz"') and h2["vary"] == "Accept-Encoding"
    # hashed off the loop, the tag becomes the sidecar's content's and stays so;
    # the tags sent before still match it
    want = '"%s-gz"' % base64.urlsafe_b64encode(hashlib.sha256(blob).digest()[:16]).decode().rstrip("=")
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[1]["etag"] == want, 10)
    for tag in (h["etag"], h2["etag"], want):
        st, h3, _ = fetch(port, "/app.js", Accept_Encoding="gzip", If_None_Match=tag)
        assert st == 304 and h3["etag"] == want, (tag, st, h3)


def test_stale_sidecar_ignored(tmp_path, server):
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    old = os.stat(root / "app.js").st_mtime_ns - 10**9
    put(root / "app.js.br", brotli.compress(b"stale"), mtime_ns=old)
    st, h, body = fetch(port, "/app.js", Accept_Encoding="br")
    assert "content-encoding" not in h and body == (root / "app.js").read_bytes()
    # the same mtime as the file is not stale (reproducible builds set both)
    m = os.stat(root / "app.js").st_mtime_ns
    fresh = gzip.compress(b"fresh")
    put(root / "app.js.gz", fresh, mtime_ns=m)
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[2] == fresh, 3)
    # one nanosecond older is stale
    put(root / "app.js.gz", fresh, mtime_ns=m - 1)
    assert wait_until(lambda: "content-encoding" not in
                      fetch(port, "/app.js", Accept_Encoding="gzip")[1], 3)


def test_sidecar_appears_changes_disappears(tmp_path, server):
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    want = (root / "app.js").read_bytes()
    for _ in range(4):  # cached by both workers
        st, h, body = fetch(port, "/app.js", Accept_Encoding="br")
        assert "content-encoding" not in h and body == want
    v1, v2 = brotli.compress(b"one " + want), brotli.compress(b"two " + want)
    put(root / "app.js.br", v1)
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="br")[2] == v1, 3)
    for _ in range(6):  # every worker now: never the identity again
        assert fetch(port, "/app.js", Accept_Encoding="br")[2] == v1
    put(root / "app.js.br", v2)
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="br")[2] == v2, 3)
    os.unlink(root / "app.js.br")
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="br")[2] == want, 3)
    st, h, _ = fetch(port, "/app.js", Accept_Encoding="br")
    assert "content-encoding" not in h


@pytest.mark.parametrize("size", [200, 100 * 1024])  # in memory, and by descriptor
def test_sidecar_rewritten_gets_a_new_etag(tmp_path, server, size):
    # a strong tag names bytes: a sidecar rebuilt with other bytes (another
    # compressor, level or gzip header) while F stays is another
    # representation, and a cached copy of the old one must not be revalidated
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    m = os.stat(root / "app.js").st_mtime_ns
    v1, v2 = os.urandom(size), os.urandom(size)
    put(root / "app.js.gz", v1, mtime_ns=m)
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[2] == v1, 3)
    # a large one's tag may become its content's once hashed: the settled one
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[1]["etag"] ==
                      fetch(port, "/app.js", Accept_Encoding="gzip")[1]["etag"], 5)
    t1 = fetch(port, "/app.js", Accept_Encoding="gzip")[1]["etag"]
    put(root / "app.js.gz", v2, mtime_ns=m)  # the same size and mtime
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[2] == v2, 3)
    for _ in range(4):  # every worker
        st, h, body = fetch(port, "/app.js", Accept_Encoding="gzip", If_None_Match=t1)
        assert st == 200 and body == v2 and h["etag"] != t1
        st, h, body = fetch(port, "/app.js", Accept_Encoding="gzip", If_Range=t1,
                            Range="bytes=0-9")
        assert st == 200 and body == v2


def test_sidecar_last_modified_is_its_own(tmp_path, server):
    # a sidecar is never older than F; rebuilt later, its bytes are newer
    # than F's date: If-Modified-Since with F's date must not revalidate them
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    m = time.time_ns() - 20 * 10**9  # F, then its sidecar, in the past
    os.utime(root / "app.js", ns=(m, m))
    later = m + 5 * 10**9
    blob = gzip.compress(b"rebuilt " + (root / "app.js").read_bytes())
    put(root / "app.js.gz", blob, mtime_ns=later)
    assert wait_until(lambda: fetch(port, "/app.js", Accept_Encoding="gzip")[2] == blob, 3)
    _, hi, _ = fetch(port, "/app.js")
    for _ in range(4):  # every worker
        st, h, body = fetch(port, "/app.js", Accept_Encoding="gzip",
                            If_Modified_Since=hi["last-modified"])
        assert st == 200 and body == blob
        assert h["last-modified"] != hi["last-modified"]
        st, h2, _ = fetch(port, "/app.js", Accept_Encoding="gzip",
                          If_Modified_Since=h["last-modified"])
        assert st == 304
    st, _, _ = fetch(port, "/app.js", If_Modified_Since=hi["last-modified"])
    assert st == 304  # identity is F's, as before


def test_sidecar_never_serves_what_the_path_would_not(tmp_path, server):
    root, port = sidecar_site(tmp_path, server, "--no-compress")
    outside = tmp_path / "secret"
    outside.write_bytes(gzip.compress(b"secret outside the root"))
    os.symlink(outside, root / "app.js.gz")  # leaves the root: never opened
    (root / ".hidden.js").write_bytes(page(4000, 9))
    put(root / ".hidden.js.gz", gzip.compress(b"hidden"))
    (root / "dir").mkdir()
    os.symlink(root / "dir", root / "dir" / "x.js.br")  # not a regular file
    (root / "dir" / "x.js").write_bytes(page(4000, 8))
    st, h, body = fetch(port, "/app.js", Accept_Encoding="gzip")
    assert "content-encoding" not in h and body == (root / "app.js").read_bytes()
    assert fetch(port, "/.hidden.js", Accept_Encoding="gzip")[0] == 404
    st, h, body = fetch(port, "/dir/x.js", Accept_Encoding="br")
    assert "content-encoding" not in h and body == (root / "dir" / "x.js").read_bytes()


def test_file_changed_gets_new_compressed_bytes(tmp_path, server):
    root = tmp_path / "chg"
    root.mkdir()
    v1, v2 = page(20000, 11), page(20000, 12)  # same size, other bytes
    put(root / "a.js", v1)
    srv = start_serve(root, "-q", "--workers", "2")
    server_list.append(srv)
    for _ in range(4):
        assert decode("br", fetch(srv.port, "/a.js", Accept_Encoding="br")[2]) == v1
    put(root / "a.js", v2)
    got = []

    def new():
        b = decode("br", fetch(srv.port, "/a.js", Accept_Encoding="br")[2])
        got.append(b)
        return b == v2
    assert wait_until(new, 3)
    for _ in range(6):
        assert decode("br", fetch(srv.port, "/a.js", Accept_Encoding="br")[2]) == v2
    assert all(b in (v1, v2) for b in got)


def test_large_result_from_memfd_and_cut_connection(tmp_path, server):
    root = tmp_path / "big"
    root.mkdir()
    rnd = random.Random(5)
    # words drawn at random: compresses about 3:1, so the result is over 32 KiB
    data = " ".join(rnd.choice(WORDS) + str(rnd.randrange(100000))
                    for _ in range(30000)).encode()[:200000]
    (root / "big.txt").write_bytes(data)
    srv = start_serve(root, "-q", "--workers", "1")
    server_list.append(srv)
    wait_hashed(srv.port, "/big.txt")
    got = {}

    def zstd_answer():  # over 64 KiB: the helper thread compresses it
        got["r"] = fetch(srv.port, "/big.txt", Accept_Encoding="zstd")
        return got["r"][1].get("content-encoding") == "zstd"
    assert wait_until(zstd_answer, 20)
    st, h, body = got["r"]
    assert len(body) > 32 * 1024
    assert decode("zstd", body) == data
    # cut connections mid-answer, then a whole answer still comes
    for _ in range(5):
        s = socket.create_connection((HOST, srv.port), timeout=T)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\n\r\n")
        s.recv(1000)
        s.close()
    st, h2, body2 = fetch(srv.port, "/big.txt", Accept_Encoding="zstd")
    assert body2 == body and h2["etag"] == h["etag"]
    st, hr, part = fetch(srv.port, "/big.txt", Accept_Encoding="zstd", Range="bytes=40000-40999")
    assert st == 206 and part == body[40000:41000]


def test_large_files_compressed_off_the_loop(tmp_path, server):
    root = tmp_path / "large"
    root.mkdir()
    data = page(1 << 20, 21)
    (root / "bundle.js").write_bytes(data)
    (root / "huge.js").write_bytes(page((4 << 20) + 1, 22))  # over the 4 MiB ceiling
    srv = start_serve(root, "-q", "--workers", "1")
    server_list.append(srv)
    # the first answer does not wait for the compression: the file as it is, with Vary
    st, h, body = fetch(srv.port, "/bundle.js", Accept_Encoding="br")
    assert st == 200 and "content-encoding" not in h and h["vary"] == "Accept-Encoding"
    assert body == data
    wait_hashed(srv.port, "/bundle.js")
    got = {}

    def br():
        got["r"] = fetch(srv.port, "/bundle.js", Accept_Encoding="br")
        return got["r"][1].get("content-encoding") == "br"
    assert wait_until(br, 30)
    st, h, body = got["r"]
    assert decode("br", body) == data and int(h["content-length"]) == len(body) < len(data) // 3
    # HEAD and ranges of the filed result agree with it
    st, hh, _ = fetch(srv.port, "/bundle.js", "HEAD", Accept_Encoding="br")
    assert hh["content-length"] == h["content-length"] and hh["etag"] == h["etag"]
    st, hr, part = fetch(srv.port, "/bundle.js", Accept_Encoding="br", Range="bytes=100-199")
    assert st == 206 and part == body[100:200]
    if CURL:  # over h2 the memfd result goes out through the data provider's pread
        p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", "-H", "Accept-Encoding: br",
                            "http://%s:%d/bundle.js" % (HOST, srv.port)],
                           capture_output=True, timeout=T)
        assert p.returncode == 0 and p.stdout == body
    st, h, body = fetch(srv.port, "/huge.js", Accept_Encoding="br")
    assert "content-encoding" not in h and len(body) == (4 << 20) + 1


@pytest.mark.skipif(not CURL, reason="curl missing")
@pytest.mark.parametrize("enc", ["br", "zstd", "gzip"])
def test_h2_same_answers(site, tmp_path, enc):
    root, port = site
    p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", "-D", "-", "-o",
                        str(tmp_path / "b"), "-H", "Accept-Encoding: " + enc,
                        "http://%s:%d/app.js" % (HOST, port)], capture_output=True, timeout=T)
    assert p.returncode == 0, p.stderr
    head = p.stdout.decode().lower()
    assert head.startswith("http/2 200")
    assert "content-encoding: %s\r\n" % enc in head and "vary: accept-encoding\r\n" in head
    body = (tmp_path / "b").read_bytes()
    assert decode(enc, body) == (root / "app.js").read_bytes()
    _, h, b1 = fetch(port, "/app.js", Accept_Encoding=enc)
    assert body == b1 and "etag: %s\r\n" % h["etag"].lower() in head
    p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                        "%{http_code}", "-H", "Accept-Encoding: " + enc, "-H",
                        "If-None-Match: " + h["etag"], "http://%s:%d/app.js" % (HOST, port)],
                       capture_output=True, timeout=T)
    assert p.stdout == b"304"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_bounded_by_compress_cache(tmp_path, server):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(500):  # each about 60 KiB, about 15 KiB compressed: 7 MB in all
        rnd = random.Random(i)
        (root / ("f%03d.txt" % i)).write_bytes(" ".join(
            rnd.choice(WORDS) + str(rnd.randrange(1000)) for _ in range(7000)).encode()[:60000])
    # under ASan freed memory waits in a quarantine: let it be reused at once
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), "quarantine_size_mb=0",
                                               "thread_local_quarantine_size_kb=0") if x)
    srv = start_serve(root, "-q", "--workers", "1", "--compress-cache", "1M", env=env)
    server_list.append(srv)
    c = http.client.HTTPConnection(HOST, srv.port, timeout=T)

    def get(i):
        c.request("GET", "/f%03d.txt" % i, headers={"Accept-Encoding": "br"})
        r = c.getresponse()
        body = r.read()
        assert r.getheader("Content-Encoding") == "br"
        return body
    for i in range(40):
        get(i)
    base = rss_kib(srv.proc.pid)
    for i in range(40, 500):
        get(i)
    grown = rss_kib(srv.proc.pid) - base
    # 460 more results (about 7 MB) went through a 1 MiB cache
    assert grown < 4096, "RSS grew by %d KiB" % grown
    assert brotli.decompress(get(499)) == (root / "f499.txt").read_bytes()
    c.close()


ENC_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>enc</title>
<link rel="stylesheet" href="enc.css">
<script src="enc.js"></script>
<script src="side.js"></script>
</head><body>
<p id="css">NO-CSS</p><p id="js">NO-JS</p><p id="side">NO-SIDE</p><p id="sizes">PENDING</p>
<script>
window.addEventListener('load', function () {
  var css = getComputedStyle(document.getElementById('css')).getPropertyValue('--enc').trim();
  document.getElementById('css').textContent = css || 'CSS-MISSING';
  document.getElementById('js').textContent = window.encJs || 'JS-MISSING';
  document.getElementById('side').textContent = window.sideJs || 'SIDE-MISSING';
  document.getElementById('sizes').textContent = performance.getEntriesByType('resource')
    .map(function (e) {
      return e.name.replace(/^.*\\//, '') + '=' + e.encodedBodySize + '/' + e.decodedBodySize;
    }).sort().join(' ');
});
</script>
</body></html>
"""


def test_chromium_loads_compressed_js_and_css(tmp_path):
    tb = pytest.importorskip("test_browser")
    if tb.CHROMIUM is None:
        pytest.skip("chromium is not installed")
    root = tmp_path / "web"
    root.mkdir()
    (root / "enc.html").write_text(ENC_PAGE)
    body = page(30000, 31).decode()
    # a script whose result depends on every byte arriving: the sum of its lines' lengths
    lines = [l.replace("\\", "").replace("'", "") for l in body.splitlines()]
    js = "var L = [\n" + ",\n".join("'%s'" % l for l in lines) + "];\n"
    js += "window.encJs = 'JS-' + L.reduce(function (a, s) { return a + s.length; }, 0);\n"
    (root / "enc.js").write_text(js)
    (root / "enc.css").write_text("".join(".c%d { margin: %dpx; color: #%06x; }\n" % (i, i % 40, i * 7919 % 0xffffff)
                                          for i in range(800)) + "#css { --enc: CSS-APPLIED; }\n")
    side = "window.sideJs = 'SIDE-RAN';\n" + "// padding\n" * 200
    (root / "side.js").write_text(side)
    (root / "side.js.br").write_bytes(brotli.compress(side.encode()))
    srv = start_serve(root, "-q", "--no-compress")  # side.js: only its sidecar can be compressed
    srv2 = start_serve(root, "-q")
    server_list.extend([srv, srv2])
    want = "JS-%d" % sum(len(l) for l in lines)
    dom = tb.dump_dom("http://%s:%d/enc.html" % (HOST, srv2.port))
    assert tb.text_of(dom, "js") == want, dom[-1500:]
    assert tb.text_of(dom, "css") == "CSS-APPLIED"
    assert tb.text_of(dom, "side") == "SIDE-RAN"
    sizes = dict(x.split("=") for x in tb.text_of(dom, "sizes").split())
    for name in ("enc.js", "enc.css", "side.js"):
        enc, dec = map(int, sizes[name].split("/"))
        assert 0 < enc < dec // 2, (name, sizes)  # arrived compressed, decoded whole
    dom = tb.dump_dom("http://%s:%d/enc.html" % (HOST, srv.port))
    assert tb.text_of(dom, "side") == "SIDE-RAN" and tb.text_of(dom, "js") == want
    sizes = dict(x.split("=") for x in tb.text_of(dom, "sizes").split())
    enc, dec = map(int, sizes["side.js"].split("/"))
    assert enc == len(brotli.compress(side.encode())) and dec == len(side)
    enc, dec = map(int, sizes["enc.js"].split("/"))
    assert enc == dec  # --no-compress: as it is


def test_over_tls_h1_and_h2(tmp_path):
    import ssl
    from test_tls import HTTPS_RE
    root = tmp_path / "tls"
    root.mkdir()
    small, large = page(20000, 41), page(300000, 42)  # copied from memory / sent from a memfd
    (root / "s.js").write_bytes(small)
    (root / "l.js").write_bytes(large)
    srv = start_serve(root, "-q", "--workers", "1", "--tls-self-signed", ready=HTTPS_RE)
    server_list.append(srv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def get(path, enc):
        c = http.client.HTTPSConnection(HOST, srv.port, timeout=T, context=ctx)
        c.putrequest("GET", path, skip_accept_encoding=True)
        c.putheader("Accept-Encoding", enc)
        c.endheaders()
        r = c.getresponse()
        out = (r.getheader("Content-Encoding"), r.getheader("Vary"), r.read())
        c.close()
        return out
    e, v, b = get("/s.js", "gzip")
    assert e == "gzip" and v == "Accept-Encoding" and decode("gzip", b) == small
    assert wait_until(lambda: get("/l.js", "br")[0] == "br", 30)
    e, v, b = get("/l.js", "br")
    assert len(b) > 32 * 1024 and decode("br", b) == large
    if CURL:
        p = subprocess.run([CURL, "-sSk", "--http2", "-H", "Accept-Encoding: br",
                            "https://%s:%d/l.js" % (HOST, srv.port)], capture_output=True,
                           timeout=T)
        assert p.returncode == 0 and p.stdout == b


def test_many_large_sidecars_do_not_exhaust_descriptors(tmp_path):
    """A worker holds at most FCACHE_SIDE_FDS (64) large sidecars open and
    opens the others for each answer: 300 files with 40 KiB sidecars, under
    RLIMIT_NOFILE 160, are all served coded, and the server still accepts."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        pytest.skip("prlimit (util-linux) not installed")
    import conftest
    sides = {}
    for i in range(300):
        (tmp_path / ("s%03d.txt" % i)).write_bytes(b"small text %d\n" % i * 30)
        sides[i] = os.urandom(40 * 1024)
        (tmp_path / ("s%03d.txt.br" % i)).write_bytes(sides[i])
    srv = conftest.Server(["--nofile=160:160", conftest.BERTH, "serve", "0", "-b", HOST,
                           "-d", str(tmp_path), "--workers", "1", "-q", "--no-compress",
                           "--metrics", "/metrics"], exe=prlimit)
    try:
        for rnd in range(2):  # the second round: the held ones and the opened ones again
            for i in range(300):
                st, h, body = fetch(srv.port, "/s%03d.txt" % i, **{"Accept-Encoding": "br"})
                assert st == 200 and h.get("content-encoding") == "br", (rnd, i, st, h)
                assert body == sides[i], (rnd, i)
        st, h, body = fetch(srv.port, "/metrics")
        m = re.search(rb"^berth_sidecar_descriptors (\d+)$", body, re.M)
        assert m and int(m.group(1)) == 64, body[-400:]
    finally:
        srv.kill()
