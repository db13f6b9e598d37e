"""Black-box tests of content-derived validators (issue 11): a file's ETag is
made of its bytes (SHA-256), so two roots with the same bytes and different
mtimes agree, touching keeps it, one changed byte changes it; a large file
is hashed off the event loop (answered with the size+mtime tag until then,
the loop serving others meanwhile); 304, 412 and If-Range use the content
tag.  The expected tags are computed here with hashlib."""
import base64
import hashlib
import os
import re
import time

import pytest

from test_serve import get, start_serve

CHEAP = re.compile(r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')  # http_etag_make's ino-size-mtime


def content_tag(data=None, path=None):
    h = hashlib.sha256()
    if path:
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
    else:
        h.update(data)
    return '"%s"' % base64.urlsafe_b64encode(h.digest()[:16]).decode().rstrip("=")


def wait_until(cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def sparse(path, size, tail=b"END"):
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size - len(tail))
        f.write(tail)


def etag(port, path, extra=""):
    r = get(port, path, "HEAD", extra=extra)
    assert r.status == 200, r
    return r.h("ETag")


@pytest.fixture
def srv(tmp_path):
    started = []

    def start(root, *extra):
        s = start_serve(root, "-q", *extra)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def test_small_file_tag_is_its_content_hash(tmp_path, srv):
    (tmp_path / "a.txt").write_bytes(b"hello, world\n")
    s = srv(tmp_path)
    r = get(s.port, "/a.txt")
    assert r.status == 200 and r.body == b"hello, world\n"
    assert r.h("ETag") == content_tag(b"hello, world\n")
    assert r.h("Last-Modified")  # stays beside it


def test_same_bytes_in_two_roots_with_different_mtimes_agree(tmp_path, srv):
    big = os.urandom(100_000)  # above the in-memory size: hashed by the hasher thread
    for name, mtime in (("one", 0), ("two", 1_700_000_000)):
        d = tmp_path / name
        d.mkdir()
        (d / "app.js").write_bytes(b"console.log(1)\n")
        (d / "big.bin").write_bytes(big)
        os.utime(d / "app.js", (mtime, mtime))  # reproducible builds set mtime to 0
        os.utime(d / "big.bin", (mtime, mtime))
    a, b = srv(tmp_path / "one"), srv(tmp_path / "two")
    assert get(a.port, "/app.js").h("Last-Modified") != get(b.port, "/app.js").h("Last-Modified")
    assert etag(a.port, "/app.js") == etag(b.port, "/app.js") == content_tag(b"console.log(1)\n")
    want = content_tag(big)
    for s in (a, b):
        assert wait_until(lambda: etag(s.port, "/big.bin") == want, 20), etag(s.port, "/big.bin")


def test_touch_keeps_the_tag_and_one_byte_changes_it(tmp_path, srv):
    f = tmp_path / "page.html"
    f.write_bytes(b"<p>version A</p>\n")
    os.utime(f, (1_000_000, 1_000_000))
    s = srv(tmp_path)
    r0 = get(s.port, "/page.html")
    tag0, lm0 = r0.h("ETag"), r0.h("Last-Modified")
    assert tag0 == content_tag(b"<p>version A</p>\n")
    os.utime(f, (2_000_000, 2_000_000))  # touch: new mtime, same bytes
    assert wait_until(lambda: get(s.port, "/page.html").h("Last-Modified") != lm0, 5)
    assert etag(s.port, "/page.html") == tag0
    # one byte, same size, and the mtime put back: only the content tells
    f.write_bytes(b"<p>version B</p>\n")
    os.utime(f, (2_000_000, 2_000_000))
    want = content_tag(b"<p>version B</p>\n")
    assert wait_until(lambda: etag(s.port, "/page.html") == want, 5)
    assert get(s.port, "/page.html").body == b"<p>version B</p>\n"


def test_large_file_cheap_tag_first_then_the_content_tag(tmp_path, srv):
    sparse(tmp_path / "big.bin", 32 << 20)
    want = content_tag(path=tmp_path / "big.bin")
    s = srv(tmp_path, "--workers", "1")
    first = etag(s.port, "/big.bin")
    assert CHEAP.match(first), first  # never waited for the hash
    assert wait_until(lambda: etag(s.port, "/big.bin") == want, 20)
    # the whole answer agrees with the new tag
    r = get(s.port, "/big.bin")
    assert r.h("ETag") == want and len(r.body) == 32 << 20
    # the old tag names the same version: still a match, under the new name
    r = get(s.port, "/big.bin", extra="If-None-Match: %s\r\n" % first)
    assert r.status == 304 and r.h("ETag") == want
    r = get(s.port, "/big.bin", extra="Range: bytes=-3\r\nIf-Range: %s\r\n" % first)
    assert r.status == 206 and r.body == b"END"  # a resumed download goes on
    r = get(s.port, "/big.bin", "HEAD", extra="If-Match: %s\r\n" % first)
    assert r.status == 200
    # not a date's If-Range that only the old tag's time would have matched
    r = get(s.port, "/big.bin", extra="Range: bytes=-3\r\n"
            "If-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
    assert r.status == 200
    # once the file changes, neither name matches
    with open(tmp_path / "big.bin", "r+b") as f:
        f.write(b"changed")
    assert wait_until(lambda: etag(s.port, "/big.bin") not in (first, want), 10)
    r = get(s.port, "/big.bin", "HEAD", extra="If-None-Match: %s, %s\r\n" % (first, want))
    assert r.status == 200


def metric(port, name):
    body = get(port, "/metrics").body.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
    return int(m.group(1)) if m else None


def test_loop_serves_others_while_a_large_file_is_hashed(tmp_path, srv):
    sparse(tmp_path / "huge.bin", 512 << 20)  # a second or so of SHA-256 + SHA-512
    (tmp_path / "small.txt").write_bytes(b"small\n")
    s = srv(tmp_path, "--workers", "1", "--metrics", "/metrics")
    get(s.port, "/small.txt")  # cached: what follows measures the loop, not a first read
    r = get(s.port, "/huge.bin", "HEAD", extra="Want-Repr-Digest: sha-512=5\r\n")
    assert CHEAP.match(r.h("ETag")) and r.h("Repr-Digest") is None  # never blocks for it
    worst = 0.0
    for _ in range(10):
        t = time.monotonic()
        assert get(s.port, "/small.txt").body == b"small\n"
        worst = max(worst, time.monotonic() - t)
    # the job was under way through all of it (the same single worker)
    assert metric(s.port, "berth_file_hash_queue") == 1
    assert worst < 0.2, worst
    assert wait_until(lambda: metric(s.port, "berth_file_hash_queue") == 0, 60)
    assert not CHEAP.match(etag(s.port, "/huge.bin"))


def test_change_while_hashing_never_gives_the_old_hash(tmp_path, srv):
    f = tmp_path / "big.bin"
    with open(f, "wb") as fh:  # sparse: 512 MiB of hashing, little disk
        fh.write(b"old!")
        fh.truncate(512 << 20)
    h = hashlib.sha256(b"new!")  # the new content's tag, known before the change
    zeros = bytes(1 << 20)
    for i in range(512):
        h.update(zeros[4:] if i == 0 else zeros)
    want = '"%s"' % base64.urlsafe_b64encode(h.digest()[:16]).decode().rstrip("=")
    s = srv(tmp_path, "--workers", "1", "--metrics", "/metrics")
    assert CHEAP.match(etag(s.port, "/big.bin"))  # the job starts now
    # once the hasher has read past the first bytes, they change (same size, in place)
    assert wait_until(lambda: metric(s.port, "berth_file_hash_bytes_total") >= 8 << 20, 20)
    with open(f, "r+b") as fh:
        fh.write(b"new!")
    assert metric(s.port, "berth_file_hash_queue") == 1  # still reading the old bytes
    # asked again at once: a new entry (new mtime) while the old job still runs
    get(s.port, "/big.bin", "HEAD")
    assert wait_until(lambda: etag(s.port, "/big.bin") == want, 60), etag(s.port, "/big.bin")
    assert metric(s.port, "berth_file_hash_queue") == 0
    assert etag(s.port, "/big.bin") == want


def test_conditionals_with_content_tags(tmp_path, srv):
    data = b"0123456789" * 100
    (tmp_path / "d.txt").write_bytes(data)
    s = srv(tmp_path)
    tag = content_tag(data)
    assert etag(s.port, "/d.txt") == tag
    r = get(s.port, "/d.txt", extra="If-None-Match: %s\r\n" % tag)
    assert r.status == 304 and r.h("ETag") == tag and r.body == b""
    r = get(s.port, "/d.txt", extra="If-None-Match: W/%s\r\n" % tag)  # weak comparison
    assert r.status == 304
    r = get(s.port, "/d.txt", extra='If-Match: "nope"\r\n')
    assert r.status == 412
    r = get(s.port, "/d.txt", extra="If-Match: %s\r\n" % tag)
    assert r.status == 200 and r.body == data
    r = get(s.port, "/d.txt", extra="Range: bytes=10-19\r\nIf-Range: %s\r\n" % tag)
    assert r.status == 206 and r.body == data[10:20]
    r = get(s.port, "/d.txt", extra='Range: bytes=10-19\r\nIf-Range: "other"\r\n')
    assert r.status == 200 and r.body == data


def test_large_file_conditionals_after_the_hash(tmp_path, srv):
    sparse(tmp_path / "big.bin", 40 << 20)
    want = content_tag(path=tmp_path / "big.bin")
    s = srv(tmp_path, "--workers", "1")
    etag(s.port, "/big.bin")
    assert wait_until(lambda: etag(s.port, "/big.bin") == want, 20)
    r = get(s.port, "/big.bin", extra="If-None-Match: %s\r\n" % want)
    assert r.status == 304
    r = get(s.port, "/big.bin", extra="Range: bytes=-3\r\nIf-Range: %s\r\n" % want)
    assert r.status == 206 and r.body == b"END"


def test_workers_share_a_large_files_hash(tmp_path, srv):
    sparse(tmp_path / "big.bin", 64 << 20)
    want = content_tag(path=tmp_path / "big.bin")
    s = srv(tmp_path, "--workers", "2", "--metrics", "/metrics")
    # fresh connections land on either worker (SO_REUSEPORT): all of them must
    # come to give the content tag, and the file be hashed once for both
    assert wait_until(lambda: all(etag(s.port, "/big.bin") == want for _ in range(8)), 30)
    body = get(s.port, "/metrics").body.decode()
    assert 'berth_file_hash_jobs_total{state="queued"} 1\n' in body, body
    assert "berth_file_hash_bytes_total %d\n" % (64 << 20) in body, body


@pytest.mark.parametrize("size", [100, 300 * 1024])  # in memory, and by descriptor
def test_future_mtime_is_not_a_future_last_modified(tmp_path, srv, size):
    # RFC 9110 §8.8.2.1: a modification time in the future is replaced by
    # the message's date; the date sent then works in conditionals
    from email.utils import parsedate_to_datetime
    p = tmp_path / "f.txt"
    p.write_bytes(b"x" * size)
    future = time.time_ns() + 3600 * 10**9
    os.utime(p, ns=(future, future))
    s = srv(tmp_path)
    r = get(s.port, "/f.txt")
    assert r.status == 200 and len(r.body) == size
    lm = r.h("Last-Modified")
    assert parsedate_to_datetime(lm) <= parsedate_to_datetime(r.h("Date"))
    assert get(s.port, "/f.txt", "HEAD").h("Last-Modified") == lm
    r = get(s.port, "/f.txt", extra="If-Modified-Since: %s\r\n" % lm)
    assert r.status == 304
    r = get(s.port, "/f.txt", extra="If-Unmodified-Since: %s\r\n" % lm)
    assert r.status == 200 and len(r.body) == size
