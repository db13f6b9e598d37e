"""Black-box tests of `berth serve` with files that change while they are
served (issue 8): every response's headers agree with its body, a change is
seen at once (by every worker, never old after new), a replaced docroot is
followed, deleted files are released, a file truncated mid-download aborts
the connection, exhausted descriptors answer 503, and a seccomp profile that
refuses openat2 with EPERM still serves.  Each for one and two workers."""
import base64
import fcntl
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from conftest import BERTH
from test_serve import HOST, T, Conn, get, req, start_cmd, start_serve

WORKERS = [1, 2]


def wait_until(cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def seen_within(cond, t0, bound=1.0, timeout=T):
    """A change made at t0 (monotonic) is seen within `bound` seconds: polls
    cond until it holds; False once a try begun `bound` after t0 failed (or
    after timeout).  A try begun earlier may still see the old state, and a
    loaded machine may answer late: a late answer is no late change."""
    while True:
        began = time.monotonic()
        if cond():
            return True
        if began - t0 >= bound or began - t0 > timeout:
            return False
        time.sleep(0.02)


class Got:
    """One response read as far as the server sent it: .whole is False when
    the connection ended (or was reset) before Content-Length bytes came."""

    def __init__(self, status, headers, body, whole):
        self.status, self.headers, self.body, self.whole = status, dict(headers), body, whole
        self.cl = int(self.headers["Content-Length"]) if "Content-Length" in self.headers else None

    def __repr__(self):
        return "<Got %s cl=%s body=%d whole=%s>" % (self.status, self.cl, len(self.body), self.whole)


def fetch(port, path, conn=None):
    c = conn or Conn(port)
    try:
        c.send(req(path))
        _, status, _, headers, _ = c.read_head()
        g = Got(status, headers, b"", True)
        try:
            g.body = c.read_exact(g.cl)
        except (EOFError, ConnectionResetError):
            g.body, g.whole = bytes(c.buf), False
        return g
    finally:
        if conn is None:
            c.close()


def assert_one_of(g, *contents):
    """Headers and body agree, and the body is one of the versions, whole."""
    assert g.status == 200, g
    assert g.whole and len(g.body) == g.cl, "Content-Length %s, body %d bytes" % (g.cl, len(g.body))
    assert g.body in contents, "a body that is no version of the file (%d bytes)" % len(g.body)


def warm(port, path, n=8):
    """Several connections, so with two workers both are likely to cache it."""
    for _ in range(n):
        fetch(port, path)


@pytest.fixture(params=WORKERS, ids=lambda n: "workers%d" % n)
def live(request, tmp_path, server):
    root = tmp_path / "www"
    root.mkdir()
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", str(request.param))
    s.root = root
    yield s
    assert s.stop() == 0, s.output()  # a clean exit (and, under ASan, no leak)


SIZES = {"small": 20000, "large": 300000}  # in memory (<= 32 KiB) / by descriptor


def series(port, path, old, new, n=20):
    """n requests on fresh connections: each whole and old or new, the first
    already new (seen at once), never old after new."""
    seen_new = False
    for i in range(n):
        g = fetch(port, path)
        assert_one_of(g, old, new)
        if i == 0:
            assert g.body == new, "the change was not seen at once"
        if g.body == new:
            seen_new = True
        assert not (seen_new and g.body == old), "old content after new"


@pytest.mark.parametrize("kind", SIZES)
def test_shrunk_in_place(live, kind):
    f = live.root / "f.bin"
    old = os.urandom(SIZES[kind])
    f.write_bytes(old)
    warm(live.port, "/f.bin")
    new = os.urandom(len(old) // 3)
    with open(f, "r+b") as fh:  # the same inode: rewritten and shrunk in place
        fh.write(new)
        fh.truncate(len(new))
    series(live.port, "/f.bin", old, new)


@pytest.mark.parametrize("kind", SIZES)
def test_truncated_in_place(live, kind):
    f = live.root / "t.bin"
    old = os.urandom(SIZES[kind])
    f.write_bytes(old)
    warm(live.port, "/t.bin")
    os.truncate(f, len(old) // 2)
    series(live.port, "/t.bin", old, old[:len(old) // 2])


@pytest.mark.parametrize("kind", SIZES)
def test_rewritten_larger(live, kind):
    f = live.root / "g.bin"
    old = os.urandom(SIZES[kind] // 4)
    f.write_bytes(old)
    warm(live.port, "/g.bin")
    new = os.urandom(SIZES[kind])
    with open(f, "r+b") as fh:
        fh.write(new)
    series(live.port, "/g.bin", old, new)


@pytest.mark.parametrize("kind", SIZES)
def test_replaced_by_rename(live, kind):
    f = live.root / "r.bin"
    old = os.urandom(SIZES[kind])
    f.write_bytes(old)
    warm(live.port, "/r.bin")
    new = os.urandom(SIZES[kind] - 7)
    tmp = live.root / ".r.bin.swp"
    tmp.write_bytes(new)
    os.rename(tmp, f)  # an editor's atomic save
    series(live.port, "/r.bin", old, new)


def fd_links(pid):
    """What the process's descriptors point at; one closed while they are
    read (a hashing thread's dup) is left out."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except FileNotFoundError:
        return []
    out = []
    for fd in fds:
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
    return out


def deleted_fds(pid, name):
    return [t for t in fd_links(pid) if name in t and t.endswith("(deleted)")]


@pytest.mark.parametrize("kind", SIZES)
def test_deleted_file_is_404_and_released(live, kind):
    f = live.root / "gone.bin"
    data = os.urandom(SIZES[kind])
    f.write_bytes(data)
    for _ in range(8):
        assert fetch(live.port, "/gone.bin").body == data
    f.unlink()
    # released without being asked for again: the disk space comes back
    held = wait_until(lambda: not deleted_fds(live.proc.pid, "gone.bin"), T)
    assert held, "still open: %r" % deleted_fds(live.proc.pid, "gone.bin")
    assert get(live.port, "/gone.bin").status == 404


def test_docroot_replaced(live):
    root = live.root
    (root / "a.txt").write_bytes(b"old a\n")
    (root / "sub").mkdir()
    (root / "sub" / "b.txt").write_bytes(b"old b\n")
    for _ in range(4):
        assert get(live.port, "/a.txt").body == b"old a\n"
        assert get(live.port, "/sub/b.txt").body == b"old b\n"
        assert b"a.txt" in get(live.port, "/").body
    shutil.rmtree(root)  # what every build tool does
    root.mkdir()
    (root / "a.txt").write_bytes(b"new a, longer\n")
    (root / "new.txt").write_bytes(b"brand new\n")
    t0 = time.monotonic()
    ok = seen_within(lambda: get(live.port, "/new.txt").status == 200, t0)
    assert ok, "the new docroot was not served within a second"
    for _ in range(8):  # every worker
        assert get(live.port, "/new.txt").body == b"brand new\n"
        assert get(live.port, "/a.txt").body == b"new a, longer\n"
        assert get(live.port, "/sub/b.txt").status == 404
        page = get(live.port, "/").body
        assert b"new.txt" in page and b"sub/" not in page


def test_docroot_replaced_listing_shows_its_symlinks(live):
    """The listing checks symlinks beneath the root in use, not the one that
    was replaced (where the new tree's links lead nowhere)."""
    root = live.root
    (root / "a.txt").write_bytes(b"old a\n")
    for _ in range(4):
        assert b"a.txt" in get(live.port, "/").body
    shutil.rmtree(root)
    root.mkdir()
    (root / "target-new.txt").write_bytes(b"new\n")
    os.symlink("target-new.txt", root / "link-new.txt")
    assert seen_within(lambda: get(live.port, "/link-new.txt").status == 200, time.monotonic())
    for _ in range(8):  # every worker
        page = get(live.port, "/").body
        assert b"link-new.txt" in page and b"target-new.txt" in page, page


@pytest.mark.parametrize("workers", WORKERS)
def test_docroot_symlink_swapped(tmp_path, server, workers):
    """A deploy that points a symlink at a new release (ln -sfn, atomic):
    the name is followed, the new release served within a second."""
    for rel, text in (("r1", b"release one\n"), ("r2", b"release two, longer\n")):
        (tmp_path / rel).mkdir()
        (tmp_path / rel / "v.txt").write_bytes(text)
    os.symlink("r1", tmp_path / "current")
    s = server("serve", "0", "-b", HOST, "-d", str(tmp_path / "current"), "--workers",
               str(workers), "--quiet")
    warm(s.port, "/v.txt")
    os.symlink("r2", tmp_path / "current.new")
    os.rename(tmp_path / "current.new", tmp_path / "current")
    ok = seen_within(lambda: get(s.port, "/v.txt").body == b"release two, longer\n",
                     time.monotonic())
    assert ok, "the new release was not served within a second"
    for _ in range(8):
        assert get(s.port, "/v.txt").body == b"release two, longer\n"


def test_more_directories_than_watches(live):
    """Past the watches a worker keeps (512), they are started again: a
    change in any directory is still served at the next request."""
    n = 600
    for i in range(n):
        (live.root / ("d%03d" % i)).mkdir()
        (live.root / ("d%03d" % i) / "f.txt").write_bytes(b"old %d\n" % i)
    with Conn(live.port) as c:
        for _ in range(2):
            for i in range(n):
                assert fetch(live.port, "/d%03d/f.txt" % i, conn=c).body == b"old %d\n" % i
        for i in (n - 1, n // 2, 1, 0):  # the first change bumps the epoch for all
            old, new = b"old %d\n" % i, b"new %d, longer\n" % i
            (live.root / ("d%03d" % i) / "f.txt").write_bytes(new)
            assert_one_of(fetch(live.port, "/d%03d/f.txt" % i), new)  # a new connection
            # on a connection already open, a request read in the same loop
            # iteration as the change's event may still get the old bytes,
            # whole; the next one is new
            assert_one_of(fetch(live.port, "/d%03d/f.txt" % i, conn=c), old, new)
            assert_one_of(fetch(live.port, "/d%03d/f.txt" % i, conn=c), new)


def test_never_old_after_new(live):
    """Once one response shows the new bytes, no later one shows the old:
    one worker has the file cached, an atomic save replaces it, then a few
    hundred requests over many connections (both workers); a request sent
    after a new answer arrived must be answered new too."""
    f = live.root / "m.txt"
    old, new = b"old version\n" * 50, b"new version\n" * 60
    f.write_bytes(old)
    assert fetch(live.port, "/m.txt").body == old
    tmp = live.root / "m.tmp"
    tmp.write_bytes(new)
    os.rename(tmp, f)
    results = []
    lock = threading.Lock()

    def client():
        with Conn(live.port) as c:
            for _ in range(40):
                t_send = time.monotonic()
                g = fetch(live.port, "/m.txt", conn=c)
                with lock:
                    results.append((t_send, time.monotonic(), g))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 320
    for _, _, g in results:
        assert_one_of(g, old, new)
    news = [t_recv for _, t_recv, g in results if g.body == new]
    assert news, "the new version was never served"
    first_new = min(news)
    late_old = [g for t_send, _, g in results if t_send > first_new and g.body == old]
    assert not late_old, "%d old answers to requests sent after a new one arrived" % len(late_old)


@pytest.mark.parametrize("workers", WORKERS)
def test_truncated_and_regrown_while_sent(tmp_path, server, workers):
    """sendfile of a file truncated and grown back to the same size mid-way
    must not end as a complete 200 padded with zeros: the connection aborts."""
    root = tmp_path / "www"
    root.mkdir()
    f = root / "big.bin"
    size = 16 << 20
    data = os.urandom(size)
    f.write_bytes(data)
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", str(workers), "--quiet")
    with Conn(s.port) as c:
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(req("/big.bin"))
        _, status, _, headers, _ = c.read_head()
        assert status == 200 and dict(headers)["Content-Length"] == str(size)
        got = c.read_exact(256 << 10)
        # the server is stalled on a full socket once what waits here stops
        # growing: the file changes between two of its sendfile calls
        last = [-1]

        def stalled():
            n = struct.unpack("i", fcntl.ioctl(c.s.fileno(), termios.FIONREAD, b"\0" * 4))[0]
            same, last[0] = n == last[0], n
            return same

        assert wait_until(stalled, 10, 0.1)
        os.truncate(f, 0)  # then grown back to the same size: zeros
        os.truncate(f, size)
        got += c.read_to_eof(timeout=20)
    assert len(got) < size, "a complete 200 although the file changed under it (%d)" % len(got)
    assert got[:256 << 10] == data[:256 << 10]
    assert s.alive()
    g = fetch(s.port, "/big.bin")  # and the new file is served whole
    assert g.whole and g.body == f.read_bytes()


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("workers", WORKERS)
def test_out_of_descriptors_is_503_then_served(tmp_path, workers):
    prlimit = shutil.which("prlimit")
    if not prlimit:
        pytest.skip("prlimit is missing")
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_bytes(b"cached a\n")
    (root / "b.txt").write_bytes(b"never cached b\n")
    big = os.urandom(200000)
    (root / "big.bin").write_bytes(big)
    limit = 32
    s = start_cmd([prlimit, "--nofile=%d:%d" % (limit, limit), BERTH, "serve", "0", "-b", HOST,
                   "-d", str(root), "--workers", str(workers), "--idle-timeout", "30", "--quiet"])
    held = []
    try:
        keeper = Conn(s.port)
        assert fetch(s.port, "/a.txt", conn=keeper).body == b"cached a\n"
        assert fetch(s.port, "/big.bin", conn=keeper).body == big
        # big.bin is hashed by a helper thread holding a dup of its descriptor;
        # wait for its content ETag, or that dup is closed after the table is
        # seen full and a file could still be opened (a flaky 200)
        want = '"%s"' % base64.urlsafe_b64encode(hashlib.sha256(big).digest()[:16]).decode().rstrip("=")
        assert wait_until(lambda: fetch(s.port, "/big.bin", conn=keeper).headers.get("ETag") == want, 10)
        for _ in range(limit + 8):
            held.append(socket.create_connection((HOST, s.port), timeout=T))
        assert wait_until(lambda: fd_count(s.proc.pid) >= limit, 10), fd_count(s.proc.pid)
        g = fetch(s.port, "/b.txt", conn=keeper)
        assert g.status == 503, g
        assert g.headers.get("Retry-After") == "1"
        # a cached large file needs a descriptor to send from: 503 too, whole,
        # never a 500 inside a head already queued
        g = fetch(s.port, "/big.bin", conn=keeper)
        assert g.status == 503 and g.whole and len(g.body) == g.cl, g
        assert g.headers.get("Retry-After") == "1"
        time.sleep(1.1)  # /a.txt is due for revalidation, which needs a descriptor
        g = fetch(s.port, "/a.txt", conn=keeper)
        assert g.status in (200, 503), g  # never a cacheable 404
        if g.status == 200:
            assert g.body == b"cached a\n"
        for c in held:
            c.close()
        held = []
        # the closed connections still queued are accepted (and closed) in
        # the meantime: 503 until descriptors are free, then served
        assert wait_until(lambda: fetch(s.port, "/b.txt", conn=keeper).status == 200, 10, 0.1)
        g = fetch(s.port, "/b.txt", conn=keeper)
        assert g.status == 200 and g.body == b"never cached b\n", g
        for path, body in (("/a.txt", b"cached a\n"), ("/big.bin", big)):
            assert wait_until(lambda: fetch(s.port, path, conn=keeper).status == 200, 10, 0.1)
            assert fetch(s.port, path, conn=keeper).body == body
        keeper.close()
        assert s.alive()
    finally:
        for c in held:
            c.close()
        s.kill()


# A seccomp filter that answers some system calls with EPERM, as some
# container runtimes' profiles do for calls they do not know, installed by a
# launcher that then execs the rest of its argv.  argv[1]: the calls, as
# "x86_64-number:aarch64-number" separated by commas.
SECCOMP_LAUNCHER = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def op(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)
LD, JEQ, RET = 0x20, 0x15, 0x06
ALLOW, EPERM = 0x7fff0000, 0x00050000 | 1
ARCHES = (0xc000003e, 0xc00000b7)  # x86_64, aarch64
prog = b""
for call in sys.argv[1].split(","):
    for arch, nr in zip(ARCHES, call.split(":")):
        prog += op(LD, 4) + op(JEQ, arch, 0, 3) + op(LD, 0) + op(JEQ, int(nr), 0, 1) + op(RET, EPERM)
prog += op(RET, ALLOW)
buf = ctypes.create_string_buffer(prog, len(prog))
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fp = Fprog(len(prog) // 8, ctypes.addressof(buf))
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("no_new_privs: %d" % ctypes.get_errno())
if libc.prctl(22, 2, ctypes.byref(fp), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
    sys.exit("seccomp: %d" % ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
"""

OPENAT2 = "437:437"
INOTIFY_INIT1 = "294:26"

PROBE = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
how = (ctypes.c_uint64 * 3)(0, 0, 0)
r1 = libc.syscall(437, -100, b".", ctypes.byref(how), 24)
e1 = ctypes.get_errno()
r2 = libc.inotify_init1(0)
e2 = ctypes.get_errno()
print(e1 if r1 < 0 else "opened", e2 if r2 < 0 else "inotify")
"""


@pytest.fixture
def launcher(tmp_path):
    """Runs argv under a filter: launcher(calls, argv) -> the command line."""
    p = tmp_path / "seccomp_eperm.py"
    p.write_text(SECCOMP_LAUNCHER)
    probe = subprocess.run([sys.executable, str(p), OPENAT2 + "," + INOTIFY_INIT1, sys.executable,
                            "-c", PROBE], capture_output=True, timeout=30)
    if probe.returncode != 0 or probe.stdout.split() != [b"1", b"1"]:
        pytest.skip("cannot filter system calls with seccomp here: %r"
                    % (probe.stdout + probe.stderr))
    return lambda calls, argv: [sys.executable, str(p), calls] + list(argv)


@pytest.mark.parametrize("workers", WORKERS)
def test_openat2_refused_with_eperm_falls_back(tmp_path, launcher, workers):
    base = tmp_path / "site"
    root = base / "www"
    root.mkdir(parents=True)
    (base / "secret.txt").write_bytes(b"SECRET\n")
    (root / "a.txt").write_bytes(b"served anyway\n")
    (root / "sub").mkdir()
    (root / "sub" / "c.txt").write_bytes(b"deeper\n")
    os.symlink("../secret.txt", root / "escape.txt")
    os.symlink(str(base / "secret.txt"), root / "abs-escape.txt")
    os.symlink("a.txt", root / "inside.txt")
    s = start_cmd(launcher(OPENAT2, [BERTH, "serve", "0", "-b", HOST, "-d", str(root),
                                     "--workers", str(workers), "--quiet"]))
    try:
        for _ in range(4):
            assert get(s.port, "/a.txt").body == b"served anyway\n"
            assert get(s.port, "/sub/c.txt").body == b"deeper\n"
            assert get(s.port, "/inside.txt").body == b"served anyway\n"
            for bad in ("/escape.txt", "/abs-escape.txt", "/../secret.txt", "/sub/../../secret.txt"):
                r = get(s.port, bad)
                assert r.status in (400, 403, 404) and b"SECRET" not in r.body, (bad, r)
        assert b"a.txt" in get(s.port, "/").body
    finally:
        s.kill()


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("kind", SIZES)
def test_without_inotify_changes_are_whole_and_seen_within_a_second(tmp_path, launcher, workers,
                                                                      kind):
    """Where inotify is refused (a seccomp profile, no instance left), the
    once-a-second check remains: answers stay whole, the change is served
    within a second or so, and never old after new across workers."""
    root = tmp_path / "www"
    root.mkdir()
    f = root / "f.bin"
    old = os.urandom(SIZES[kind])
    f.write_bytes(old)
    s = start_cmd(launcher(INOTIFY_INIT1, [BERTH, "serve", "0", "-b", HOST, "-d", str(root),
                                           "--workers", str(workers), "--quiet"]))
    try:
        warm(s.port, "/f.bin")
        links = fd_links(s.proc.pid)
        assert links and "anon_inode:inotify" not in links, "inotify was not refused"
        new = os.urandom(len(old) // 3)
        with open(f, "r+b") as fh:
            fh.write(new)
            fh.truncate(len(new))
        t0 = time.monotonic()
        seen_new = None
        while time.monotonic() - t0 < 3:
            g = fetch(s.port, "/f.bin")
            assert_one_of(g, old, new)
            if g.body == new and seen_new is None:
                seen_new = time.monotonic() - t0
            assert not (seen_new is not None and g.body == old), "old content after new"
            if seen_new is not None and time.monotonic() - t0 > seen_new + 0.3:
                break
        assert seen_new is not None and seen_new < 1.5, seen_new
        assert s.alive()
    finally:
        s.kill()
