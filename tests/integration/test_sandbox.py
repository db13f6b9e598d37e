"""The sandbox of berth serve: Landlock on by default (--no-sandbox turns
it off), and --user dropping root after binding.  Black-box: the start
line, /proc/PID/status, what is served, and what the process can no
longer do (reopen its log in a directory put in place of the old one)."""
import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BERTH

SANDBOX_RE = re.compile(rb"^sandbox: (landlock ABI (\d+), reads beneath the directory holding (\S+) "
                        rb"\(so a \S+ replaced there is followed\)|off|unavailable \((.+)\))$", re.M)


def get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def sandbox_line(srv):
    assert srv.wait_for(SANDBOX_RE.pattern, timeout=10), srv.output()
    return SANDBOX_RE.search(srv.output().encode())


def status_field(pid, name, task=None):
    path = "/proc/%d/task/%d/status" % (pid, task) if task else "/proc/%d/status" % pid
    with open(path) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return None


def landlock_on(srv):
    m = sandbox_line(srv)
    if m.group(1).startswith(b"unavailable"):
        pytest.skip("no Landlock here: " + m.group(4).decode())
    assert m.group(2), srv.output()
    return m


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    (d / "a.txt").write_bytes(b"inside the root\n")
    return d


def test_on_by_default_restricts_every_thread(server, root):
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), "--workers", "3")
    m = landlock_on(s)
    assert int(m.group(2)) >= 1
    assert m.group(3) == str(root).encode()
    assert get(s.port, "/a.txt") == (200, b"inside the root\n")
    pid = s.proc.pid
    tasks = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    assert len(tasks) >= 3  # the workers run: they were started after the restriction
    for t in tasks:
        assert status_field(pid, "NoNewPrivs", t) == ["1"], t


def test_no_sandbox_restores_the_old_behaviour(server, root):
    if status_field(os.getpid(), "NoNewPrivs") != ["0"]:
        pytest.skip("the test runner itself has no_new_privs set")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), "--no-sandbox")
    assert sandbox_line(s).group(1) == b"off"
    assert status_field(s.proc.pid, "NoNewPrivs") == ["0"]
    assert get(s.port, "/a.txt") == (200, b"inside the root\n")


@pytest.mark.parametrize("mode", [[], ["--no-sandbox"]], ids=["sandbox", "no-sandbox"])
def test_symlink_to_etc_passwd_is_not_served(server, root, mode):
    os.symlink("/etc/passwd", root / "pw")
    os.symlink("/etc", root / "etc")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), *mode)
    sandbox_line(s)
    for path in ("/pw", "/etc/passwd", "/etc/"):
        status, body = get(s.port, path)
        assert status in (403, 404), (path, status)
        assert b"root:" not in body
    assert get(s.port, "/a.txt")[0] == 200


@pytest.mark.parametrize("mode", [[], ["--no-sandbox"]], ids=["sandbox", "no-sandbox"])
def test_directory_swapped_for_symlink_to_slash(server, root, mode):
    """d/etc/passwd is a file of ours; a thread keeps replacing d by a
    symbolic link to / while requests ask for d/etc/passwd: every answer is
    ours or an error, never the system's /etc/passwd."""
    d = root / "d"
    (d / "etc").mkdir(parents=True)
    (d / "etc" / "passwd").write_bytes(b"our own passwd\n")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", str(root), "--workers", "2", *mode)
    sandbox_line(s)
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            os.rename(d, root / "d.real")
            os.symlink("/", d)
            time.sleep(0.001)
            os.unlink(d)
            os.rename(root / "d.real", d)
            swaps[0] += 1
            time.sleep(0.002)  # the real directory stays a while too

    t = threading.Thread(target=swapper)
    t.start()
    seen = {}
    try:
        deadline = time.monotonic() + 20
        for _ in range(300):
            if time.monotonic() > deadline:
                break
            status, body = get(s.port, "/d/etc/passwd")
            assert b"root:" not in body, status
            if status == 200:
                assert body == b"our own passwd\n"
            seen[status] = seen.get(status, 0) + 1
    finally:
        stop.set()
        t.join(10)
    assert swaps[0] > 0 and seen.get(200), (swaps, seen)
    assert s.alive()


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_log_reopen_outside_the_allowed_directory(server, root, tmp_path, sandbox):
    """The sandbox lets berth write in its log's directory only: after that
    directory is replaced by a new one (another inode, outside the rule),
    SIGHUP's reopen is refused with the documented message and the lines
    go on to the old file; without the sandbox the new file is created."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    args = ["serve", "0", "-b", "127.0.0.1", "-d", str(root), "--workers", "2", "--log", str(log)]
    s = server(*(args + ([] if sandbox else ["--no-sandbox"])))
    if sandbox:
        landlock_on(s)
    assert get(s.port, "/a.txt")[0] == 200
    os.rename(logs, tmp_path / "logs.old")
    logs.mkdir()
    s.proc.send_signal(signal.SIGHUP)
    if sandbox:
        deadline = time.monotonic() + 10
        while not s.wait_for(r"cannot reopen the access log .*the sandbox allows writing only "
                             r"in the directory the log was in at start", timeout=0.2):
            assert time.monotonic() < deadline, s.output()
            get(s.port, "/a.txt?again")
        assert not log.exists()
        # nothing lost: the lines went on to the old file
        get(s.port, "/a.txt?after")
        old = tmp_path / "logs.old" / "access.log"
        deadline = time.monotonic() + 10
        while b"/a.txt?after" not in old.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    else:
        deadline = time.monotonic() + 10
        while not (log.exists() and b"/a.txt?after" in log.read_bytes()):
            assert time.monotonic() < deadline, s.output()
            get(s.port, "/a.txt?after")
            time.sleep(0.05)
        assert "cannot reopen" not in s.output()
    assert s.stop() == 0


@pytest.fixture
def public_root():
    """A docroot nobody can read (pytest's tmp_path is root's only)."""
    d = tempfile.mkdtemp(prefix="berth-user-")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "a.txt"), "wb") as f:
        f.write(b"for nobody\n")
    os.chmod(os.path.join(d, "a.txt"), 0o644)
    yield d
    shutil.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs root")
def test_user_nobody_drops_root_and_serves(server, public_root):
    import pwd
    nobody = pwd.getpwnam("nobody")
    s = server("serve", "0", "-b", "127.0.0.1", "-d", public_root, "--workers", "2", "--user", "nobody")
    sandbox_line(s)
    pid = s.proc.pid
    for t in os.listdir("/proc/%d/task" % pid):
        assert status_field(pid, "Uid", int(t)) == [str(nobody.pw_uid)] * 4
        assert status_field(pid, "Gid", int(t)) == [str(nobody.pw_gid)] * 4
        assert status_field(pid, "Groups", int(t)) == []
    assert get(s.port, "/a.txt") == (200, b"for nobody\n")
    assert s.stop() == 0


def test_user_unknown_is_refused(public_root):
    p = subprocess.run([BERTH, "serve", "0", "-b", "127.0.0.1", "-d", public_root,
                        "--user", "no-such-user-berth"], capture_output=True, timeout=30)
    assert p.returncode == 1
    assert b"no user no-such-user-berth" in p.stderr
    assert b"Serving" not in p.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to start as another user")
def test_user_without_root_refuses_to_run(public_root):
    """Started as nobody, --user cannot drop anything: berth refuses to run
    rather than serving as someone else than asked."""
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BERTH,
                        "serve", "0", "-b", "127.0.0.1", "-d", public_root, "--user", "daemon"],
                       capture_output=True, timeout=30)
    assert p.returncode == 1, p
    assert b"cannot become user daemon" in p.stderr and b"needs to start as root" in p.stderr
    assert b"Serving" not in p.stdout


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_tls_reload_cannot_read_outside_the_allowed_directories(server, root, tmp_path, sandbox):
    """Reading is confined too: the certificate and key are replaced by
    symbolic links to a pair in a directory berth was not given at start
    (outside the TLS files' and the docroot's directories); SIGHUP's reload
    then cannot open them under the sandbox and keeps the old pair, and
    loads them without it."""
    from test_tls import HTTPS_RE, make_cert
    tls = tmp_path / "tls"
    tls.mkdir()
    cert, key = make_cert(tls, "a")
    elsewhere = tempfile.mkdtemp(prefix="berth-tls-elsewhere-")
    try:
        import pathlib
        new_cert, new_key = make_cert(pathlib.Path(elsewhere), "b")
        args = ["serve", "0", "-b", "127.0.0.1", "-d", str(root), "--tls-cert", str(cert),
                "--tls-key", str(key)]
        s = server(*(args + ([] if sandbox else ["--no-sandbox"])), ready=HTTPS_RE)
        if sandbox:
            landlock_on(s)
        for old, new in ((cert, new_cert), (key, new_key)):
            os.unlink(old)
            os.symlink(new, old)
        s.proc.send_signal(signal.SIGHUP)
        if sandbox:
            assert s.wait_for(r"cannot reload the certificate, still serving the previous one",
                              timeout=10), s.output()
            assert "reloaded the TLS certificate" not in s.output()
        else:
            assert s.wait_for(r"reloaded the TLS certificate and key", timeout=10), s.output()
        assert s.stop() == 0
    finally:
        shutil.rmtree(elsewhere)
