"""Black-box tests of RFC 9530 digests (issue 11): Want-Repr-Digest and
Want-Content-Digest select Repr-Digest (the whole representation) and
Content-Digest (the bytes this message carries: a range's, a multipart
body's) in sha-256 or sha-512; preferences, malformed fields, --digest,
HEAD, 304 and HTTP/2.  Every value is checked against hashlib."""
import base64
import gzip
import hashlib
import os
import random
import re
import shutil
import subprocess
import time

import pytest

from test_serve import Conn, get, req, start_serve

CURL = shutil.which("curl")
ALGS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def parse(field):
    """A Repr-Digest / Content-Digest value as {alg: bytes}."""
    if field is None:
        return None
    out = {}
    for member in field.split(","):
        m = re.fullmatch(r"\s*([a-z0-9-]+)=:([A-Za-z0-9+/=]*):\s*", member)
        assert m, field
        out[m.group(1)] = base64.b64decode(m.group(2), validate=True)
    return out


def dig(alg, data):
    return {alg: ALGS[alg](data).digest()}


def wait_until(cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


SMALL = bytes(range(256)) * 40  # 10 KiB: in memory
BIG = os.urandom(3 << 20)  # 3 MiB: hashed by the worker's hasher thread


@pytest.fixture
def site(tmp_path):
    (tmp_path / "s.bin").write_bytes(SMALL)
    (tmp_path / "big.bin").write_bytes(BIG)
    (tmp_path / "empty.txt").write_bytes(b"")
    return tmp_path


@pytest.fixture
def srv(site):
    started = []

    def start(*extra):
        s = start_serve(site, "-q", "--workers", "1", *extra)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def want(repr_=None, content=None):
    x = ""
    if repr_ is not None:
        x += "Want-Repr-Digest: %s\r\n" % repr_
    if content is not None:
        x += "Want-Content-Digest: %s\r\n" % content
    return x


def test_no_digest_unless_asked(srv):
    s = srv()
    r = get(s.port, "/s.bin")
    assert r.h("Repr-Digest") is None and r.h("Content-Digest") is None


@pytest.mark.parametrize("alg", ["sha-256", "sha-512"])
def test_whole_file_repr_and_content_digest(srv, alg):
    s = srv()
    r = get(s.port, "/s.bin", extra=want("%s=5" % alg, "%s=5" % alg))
    assert r.status == 200 and r.body == SMALL
    assert parse(r.h("Repr-Digest")) == dig(alg, SMALL)
    assert parse(r.h("Content-Digest")) == dig(alg, SMALL)  # one message: the same


def test_empty_file(srv):
    s = srv()
    r = get(s.port, "/empty.txt", extra=want("sha-256=1", "sha-256=1"))
    assert parse(r.h("Repr-Digest")) == dig("sha-256", b"")
    assert parse(r.h("Content-Digest")) == dig("sha-256", b"")


def test_head_has_repr_digest_no_content_digest(srv):
    s = srv()
    r = get(s.port, "/s.bin", "HEAD", extra=want("sha-256=1", "sha-256=1"))
    assert r.status == 200 and r.body == b""
    assert parse(r.h("Repr-Digest")) == dig("sha-256", SMALL)
    assert r.h("Content-Digest") is None  # a HEAD carries no content


def test_range_content_digest_is_the_ranges(srv):
    s = srv()
    r = get(s.port, "/s.bin", extra="Range: bytes=100-1099\r\n" + want("sha-512=2", "sha-256=2"))
    assert r.status == 206 and r.body == SMALL[100:1100]
    assert parse(r.h("Repr-Digest")) == dig("sha-512", SMALL)  # the whole representation
    assert parse(r.h("Content-Digest")) == dig("sha-256", SMALL[100:1100])


def test_multipart_content_digest_is_the_whole_body(srv):
    s = srv()
    r = get(s.port, "/s.bin", extra="Range: bytes=0-9,500-599\r\n" + want(content="sha-256=1"))
    assert r.status == 206 and r.h("Content-Type").startswith("multipart/byteranges")
    assert parse(r.h("Content-Digest")) == dig("sha-256", r.body)
    assert int(r.h("Content-Length")) == len(r.body)


def test_preferences(srv):
    s = srv()
    cases = [
        ("sha-256=1, sha-512=3", "sha-512"),
        ("sha-512=3, sha-256=10, unixsum=0", "sha-256"),
        ("sha-256=4, sha-512=4", "sha-256"),  # a tie: the cheaper one
        ("sha-256=0, sha-512=1", "sha-512"),
        ("md5=9, sha-256=2", "sha-256"),  # unknown algorithms ignored
        ("sha-256=2;x=1, sha-512=?1", "sha-256"),  # parameters; a Boolean is no preference
        ("sha-512=2, sha-512=0, sha-256=1", "sha-256"),  # the last of a repeated key
        ("  sha-512=1  ", "sha-512"),
    ]
    for field, alg in cases:
        r = get(s.port, "/s.bin", "HEAD", extra=want(field))
        assert parse(r.h("Repr-Digest")) == dig(alg, SMALL), field
    for field in ["sha-256=0", "sha-512=0, sha-256=0", "md5=10", "", "sha-256=11",
                  'sha-256="1"', "sha-256=1.0"]:
        r = get(s.port, "/s.bin", "HEAD", extra=want(field))
        assert r.h("Repr-Digest") is None, field


@pytest.mark.parametrize("field", [
    "sha-256=1,", "sha-256=1,,sha-512=1", "SHA-256=1", "sha-256=1 sha-512=1", "sha-256=(1",
    "sha-256=1;", "sha-256=-", "sha-256=1234567890123456", 'sha-256="x', "sha-256=:a*:",
    "sha-256=%\"x\"", "1sha=1, sha-256=1", "sha-256=1\tsha-512=2",
])
def test_malformed_fields_are_ignored(srv, field):
    s = srv()
    r = get(s.port, "/s.bin", extra=want(field, field))
    assert r.status == 200 and r.body == SMALL
    assert r.h("Repr-Digest") is None and r.h("Content-Digest") is None


def test_field_lines_are_joined(srv):
    s = srv()
    extra = "Want-Repr-Digest: sha-256=1\r\nWant-Repr-Digest: sha-512=9\r\n"
    r = get(s.port, "/s.bin", "HEAD", extra=extra)
    assert parse(r.h("Repr-Digest")) == dig("sha-512", SMALL)


def test_not_modified_carries_no_digest(srv):
    s = srv("--digest")
    tag = get(s.port, "/s.bin", "HEAD").h("ETag")
    r = get(s.port, "/s.bin", extra="If-None-Match: %s\r\n" % tag + want("sha-256=1", "sha-256=1"))
    assert r.status == 304
    assert r.h("Repr-Digest") is None and r.h("Content-Digest") is None


def test_digest_option_sends_repr_digest_always(srv):
    s = srv("--digest")
    for method in ("GET", "HEAD"):
        r = get(s.port, "/s.bin", method)
        assert parse(r.h("Repr-Digest")) == dig("sha-256", SMALL), method
        assert r.h("Content-Digest") is None
    # with a client's choice too: both
    r = get(s.port, "/s.bin", extra=want("sha-512=1"))
    assert parse(r.h("Repr-Digest")) == {**dig("sha-256", SMALL), **dig("sha-512", SMALL)}
    # keep-alive answers of the same target (the memo path) too
    with Conn(s.port) as c:
        c.send(req("/s.bin") * 3)
        for _ in range(3):
            assert parse(c.read_response().h("Repr-Digest")) == dig("sha-256", SMALL)


def test_large_file_digest_arrives_without_blocking(srv):
    s = srv("--digest")
    r = get(s.port, "/big.bin", "HEAD", extra=want("sha-512=1"))
    assert r.status == 200 and r.h("Repr-Digest") is None  # omitted, not waited for
    both = {**dig("sha-256", BIG), **dig("sha-512", BIG)}
    assert wait_until(lambda: parse(get(s.port, "/big.bin", "HEAD", extra=want("sha-512=1"))
                                    .h("Repr-Digest")) == both, 20)
    r = get(s.port, "/big.bin", extra=want(content="sha-256=1"))
    assert r.body == BIG and parse(r.h("Content-Digest")) == dig("sha-256", BIG)
    assert parse(get(s.port, "/big.bin").h("Repr-Digest")) == dig("sha-256", BIG)  # prebuilt


def test_large_file_ranges(srv):
    s = srv()
    r = get(s.port, "/big.bin", extra="Range: bytes=1000-60999\r\n" + want(content="sha-512=1"))
    assert r.status == 206 and r.body == BIG[1000:61000]
    assert parse(r.h("Content-Digest")) == dig("sha-512", BIG[1000:61000])
    # a range too large to read on the event loop: the field is left out
    r = get(s.port, "/big.bin", extra="Range: bytes=0-1999999\r\n" + want(content="sha-256=1"))
    assert r.status == 206 and r.body == BIG[:2000000] and r.h("Content-Digest") is None


@pytest.mark.skipif(not CURL, reason="curl not installed")
def test_h2_digests(srv):
    s = srv()
    out = subprocess.run(
        [CURL, "-s", "--http2-prior-knowledge", "-D", "-", "-o", os.devnull,
         "-H", "Want-Repr-Digest: sha-512=1", "-H", "Want-Content-Digest: sha-256=1",
         "-r", "5-104", "http://127.0.0.1:%d/s.bin" % s.port],
        capture_output=True, timeout=20, check=True).stdout.decode()
    assert out.startswith("HTTP/2 206"), out
    fields = dict(line.split(": ", 1) for line in out.splitlines()[1:] if ": " in line)
    assert parse(fields["repr-digest"]) == dig("sha-512", SMALL)
    assert parse(fields["content-digest"]) == dig("sha-256", SMALL[5:105])


def test_compressed_answers_carry_their_own_digests(tmp_path):
    """RFC 9530 §3: Repr-Digest is of the selected representation, so a
    compressed answer carries its coded bytes' digests (--digest's sha-256 in
    the prebuilt head, the client's choice beside it), never the file's; an
    identity answer of the same file keeps the file's."""
    text = b"".join(b"<p>line %d of a compressible page</p>\n" % i for i in range(400))
    (tmp_path / "page.html").write_bytes(text)
    s = start_serve(tmp_path, "-q", "--workers", "1", "--digest")
    try:
        for enc in ("gzip", "br", "zstd"):
            r = get(s.port, "/page.html", extra="Accept-Encoding: %s\r\n" % enc)
            assert r.status == 200 and r.h("Content-Encoding") == enc
            assert len(r.body) < len(text)
            assert parse(r.h("Repr-Digest")) == dig("sha-256", r.body), enc  # the prebuilt head
            assert r.h("Content-Digest") is None
            r2 = get(s.port, "/page.html",
                     extra="Accept-Encoding: %s\r\n" % enc + want("sha-512=5", "sha-512=5"))
            assert r2.status == 200 and r2.body == r.body
            assert parse(r2.h("Repr-Digest")) == {**dig("sha-256", r.body),
                                                  **dig("sha-512", r.body)}, enc
            assert parse(r2.h("Content-Digest")) == dig("sha-512", r.body), enc
            h = get(s.port, "/page.html", "HEAD", extra="Accept-Encoding: %s\r\n" % enc)
            assert parse(h.h("Repr-Digest")) == dig("sha-256", r.body)
        r = get(s.port, "/page.html")  # identity, with Vary: the file's digest
        assert r.status == 200 and r.h("Content-Encoding") is None and r.body == text
        assert r.h("Vary") == "Accept-Encoding"
        assert parse(r.h("Repr-Digest")) == dig("sha-256", text)
        r = get(s.port, "/page.html", extra=want("sha-512=9"))  # beside --digest's sha-256
        assert parse(r.h("Repr-Digest")) == {**dig("sha-256", text), **dig("sha-512", text)}
    finally:
        s.kill()


def test_range_of_a_compressed_representation(tmp_path):
    """A range of the gzip representation: Content-Digest of the bytes sent,
    Repr-Digest of the whole gzip body (not of the file), as for identity."""
    text = b"".join(b"<li>item %d of a long list</li>\n" % i for i in range(1500))
    (tmp_path / "list.html").write_bytes(text)
    s = start_serve(tmp_path, "-q", "--workers", "1")
    try:
        ae = "Accept-Encoding: gzip\r\n"
        whole = get(s.port, "/list.html", extra=ae)
        assert whole.h("Content-Encoding") == "gzip" and whole.h("Repr-Digest") is None
        r = get(s.port, "/list.html", extra=ae + "Range: bytes=100-1099\r\n" +
                want("sha-256=3", "sha-256=3"))
        assert r.status == 206 and r.body == whole.body[100:1100]
        assert r.h("Content-Range") == "bytes 100-1099/%d" % len(whole.body)
        assert parse(r.h("Content-Digest")) == dig("sha-256", whole.body[100:1100])
        assert parse(r.h("Repr-Digest")) == dig("sha-256", whole.body)
    finally:
        s.kill()


def test_large_compressed_result_digest_made_off_the_loop(tmp_path):
    """A file compressed by the helper thread: its result's digests are made
    there with it, so the first compressed answer carries them."""
    rnd = random.Random(5)
    text = b"".join(b"export const v%d = %d; // %s\n" % (i, rnd.randrange(10**9),
                                                       b"x" * rnd.randrange(40))
                    for i in range(12000))
    assert len(text) > 256 * 1024
    (tmp_path / "app.js").write_bytes(text)
    s = start_serve(tmp_path, "-q", "--workers", "1", "--digest")
    try:
        ae = "Accept-Encoding: br\r\n"
        r = wait_until(lambda: (lambda x: x if x.h("Content-Encoding") == "br" else None)(
            get(s.port, "/app.js", extra=ae)), 30, 0.05)
        assert r, "the helper thread never filed the result"
        assert parse(r.h("Repr-Digest")) == dig("sha-256", r.body)
        r = get(s.port, "/app.js", extra=ae + want("sha-512=2", "sha-256=1"))
        assert r.h("Content-Encoding") == "br"
        assert parse(r.h("Repr-Digest")) == {**dig("sha-256", r.body), **dig("sha-512", r.body)}
        assert parse(r.h("Content-Digest")) == dig("sha-256", r.body)
    finally:
        s.kill()


def test_sidecar_digests(tmp_path):
    """A small sidecar's digest at once; a large one's from the hasher, left
    out until known and then the sidecar's bytes' (never the file's)."""
    rnd = random.Random(9)
    small = b"body { color: red }\n" * 50
    (tmp_path / "a.css").write_bytes(small)
    (tmp_path / "a.css.gz").write_bytes(gzip.compress(small))
    big = b"".join(b"%d,%d\n" % (i, rnd.randrange(10**12)) for i in range(40000))
    (tmp_path / "b.csv").write_bytes(big)
    side = gzip.compress(big, 1)
    assert len(side) > 32 * 1024
    (tmp_path / "b.csv.gz").write_bytes(side)
    s = start_serve(tmp_path, "-q", "--workers", "1", "--digest")
    try:
        ae = "Accept-Encoding: gzip\r\n"
        r = get(s.port, "/a.css", extra=ae)
        assert r.h("Content-Encoding") == "gzip"
        assert r.body == (tmp_path / "a.css.gz").read_bytes()
        assert parse(r.h("Repr-Digest")) == dig("sha-256", r.body)
        r = get(s.port, "/a.css", extra=ae + want("sha-512=1"))
        assert parse(r.h("Repr-Digest")) == {**dig("sha-256", r.body), **dig("sha-512", r.body)}

        def known():
            x = get(s.port, "/b.csv", extra=ae + want("sha-512=1"))
            assert x.status == 200 and x.h("Content-Encoding") == "gzip" and x.body == side
            d = parse(x.h("Repr-Digest"))
            if d is not None:  # each one present is the sidecar's own
                assert d == {k: ALGS[k](side).digest() for k in d}
            return d is not None and len(d) == 2
        assert wait_until(known, 30, 0.05), "the sidecar's digests never came"
        r = get(s.port, "/b.csv", extra=ae)  # --digest: in the prebuilt head now
        assert parse(r.h("Repr-Digest")) == dig("sha-256", side)
    finally:
        s.kill()


def test_coded_answer_never_matches_the_cheap_alias(tmp_path):
    """The inode/size/mtime alias of a large file's tag stays identity's: a
    coded variant's tag was never the cheap one, so no alias built from the
    variant's length may match for it."""
    rnd = random.Random(3)
    big = b"".join(b"%d;%d\n" % (i, rnd.randrange(10**12)) for i in range(30000))
    (tmp_path / "c.csv").write_bytes(big)
    side = gzip.compress(big, 1)
    assert len(side) > 32 * 1024
    (tmp_path / "c.csv.gz").write_bytes(side)
    st = os.stat(tmp_path / "c.csv")
    s = start_serve(tmp_path, "-q", "--workers", "1")
    try:
        ae = "Accept-Encoding: gzip\r\n"
        content = re.compile(r'^"[A-Za-z0-9_-]{22}"$')
        assert wait_until(lambda: content.match(get(s.port, "/c.csv").h("ETag") or ""), 30)
        assert wait_until(lambda: get(s.port, "/c.csv", extra=ae + want("sha-256=1"))
                          .h("Repr-Digest"), 30)
        cheap = '"%x-%x-%x"' % (st.st_ino, st.st_size, st.st_mtime_ns)
        r = get(s.port, "/c.csv", extra="If-None-Match: %s\r\n" % cheap)
        assert r.status == 304  # identity: the alias holds
        coded = '"%x-%x-%x"' % (st.st_ino, len(side), st.st_mtime_ns)
        for tag in (cheap, coded):
            r = get(s.port, "/c.csv", extra=ae + "If-None-Match: %s\r\n" % tag)
            assert r.status == 200 and r.h("Content-Encoding") == "gzip", tag
    finally:
        s.kill()


def test_identity_of_a_large_compressible_file(tmp_path):
    """The identity answer of a file with variants is a view of its entry:
    the digests it asks for are the entry's, hashed once by the hasher
    under the file's path (never keyed by the copy), both algorithms."""
    text = b"".join(b"row %d of a large compressible table\n" % i for i in range(40000))
    assert 1 << 20 < len(text) < 4 << 20
    (tmp_path / "t.txt").write_bytes(text)
    s = start_serve(tmp_path, "-q", "--workers", "1")
    try:
        def both():
            r = get(s.port, "/t.txt", extra=want("sha-512=2, sha-256=1"))
            assert r.status == 200 and r.body == text and r.h("Vary") == "Accept-Encoding"
            d = parse(r.h("Repr-Digest"))
            if d is not None:
                assert d == {k: ALGS[k](text).digest() for k in d}
            return d is not None and "sha-512" in d
        assert wait_until(both, 30, 0.05), "the file's sha-512 never came"
        r = get(s.port, "/t.txt", extra=want("sha-256=1"))
        assert parse(r.h("Repr-Digest")) == dig("sha-256", text)
    finally:
        s.kill()


@pytest.mark.skipif(CURL is None, reason="curl not installed")
def test_h2_compressed_digest_in_the_prebuilt_head(tmp_path):
    """--digest's Repr-Digest of a coded answer comes from the variant's
    prebuilt head, which HTTP/2 converts like any other."""
    text = b"".join(b"<div>cell %d</div>\n" % i for i in range(600))
    (tmp_path / "h.html").write_bytes(text)
    s = start_serve(tmp_path, "-q", "--workers", "1", "--digest")
    try:
        out = subprocess.run(
            [CURL, "-s", "--http2-prior-knowledge", "-D", "-", "-o", str(tmp_path / "out.br"),
             "-H", "Accept-Encoding: br", "http://127.0.0.1:%d/h.html" % s.port],
            capture_output=True, timeout=20, check=True).stdout.decode()
        assert out.startswith("HTTP/2 200"), out
        fields = dict(line.split(": ", 1) for line in out.splitlines()[1:] if ": " in line)
        coded = (tmp_path / "out.br").read_bytes()
        assert fields["content-encoding"] == "br" and len(coded) < len(text)
        assert parse(fields["repr-digest"]) == dig("sha-256", coded)
    finally:
        s.kill()
