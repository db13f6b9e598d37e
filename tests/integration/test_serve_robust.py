"""Black-box tests of `berth serve` under stress (issue 4): the access log,
timeouts, connection limits, many clients, resets, signals, workers and
IPv6.  Helpers in test_serve.py."""
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
import requests

from conftest import BERTH, Server
from test_serve import (CURL, HOST, PIPE_T, T, Conn, get, have_ipv6, make_site, req, start_cmd,
                        start_serve, status_of, url)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, all threads, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def big_site(root, size=64 << 20):
    make_site(root)
    with open(root / "big.bin", "wb") as f:
        f.truncate(size)
        f.seek(size - 16)
        f.write(b"END-OF-BIG-FILE!")
    return root


# ---------------------------------------------------------------- access log

CLF = re.compile(r'^(\S+) - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(.*)" (\d{3}) (\d+|-)$')


class Split:
    """berth serve with stdout and stderr kept apart (conftest merges them)."""

    def __init__(self, tmp_path, args):
        self.out_path = tmp_path / "stdout"
        self.err_path = tmp_path / "stderr"
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([BERTH] + args, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.err)
        assert wait_until(lambda: b" port " in self.out_path.read_bytes(), 10), self.stderr()
        self.port = int(re.search(rb"Serving HTTP on \S+ port (\d+)", self.out_path.read_bytes()).group(1))

    def stdout(self):
        return self.out_path.read_text()

    def stderr(self):
        return self.err_path.read_text()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


@pytest.fixture
def split(tmp_path):
    started = []

    def start(*args):
        s = Split(tmp_path, list(args))
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def log_lines(text):
    return [l for l in text.splitlines() if CLF.match(l)]


def test_access_log_clf_on_stderr(tmp_path, split):
    root = make_site(tmp_path / "www")
    s = split("serve", "0", "-b", HOST, "-d", str(root))
    get(s.port, "/a.txt")
    get(s.port, "/nope")
    get(s.port, "/a.txt", method="HEAD")
    get(s.port, "/sub/x.txt?q=1", version="HTTP/1.0", host=None)
    assert wait_until(lambda: len(log_lines(s.stderr())) >= 4, 3), s.stderr()
    lines = log_lines(s.stderr())
    # each worker buffers its own lines: compare by request, not by order
    parsed = {g[1]: g for g in (CLF.match(l).groups() for l in lines)}
    assert len(parsed) == 4, lines
    assert parsed["GET /a.txt HTTP/1.1"] == ("127.0.0.1", "GET /a.txt HTTP/1.1", "200", "9"), lines
    assert parsed["GET /nope HTTP/1.1"][2] == "404", lines
    assert parsed["HEAD /a.txt HTTP/1.1"][2] == "200" and parsed["HEAD /a.txt HTTP/1.1"][3] in ("-", "0")
    assert parsed["GET /sub/x.txt?q=1 HTTP/1.0"][2:] == ("200", "9"), lines
    assert not log_lines(s.stdout()), "the access log went to stdout"
    assert s.stop() == 0


def test_access_log_is_flushed_at_exit(tmp_path, split):
    root = make_site(tmp_path / "www")
    s = split("serve", "0", "-b", HOST, "-d", str(root))
    get(s.port, "/b.txt")
    assert s.stop() == 0
    assert any('"GET /b.txt HTTP/1.1" 200 40' in l for l in log_lines(s.stderr())), s.stderr()


def test_access_log_for_bad_requests(tmp_path, split):
    root = make_site(tmp_path / "www")
    s = split("serve", "0", "-b", HOST, "-d", str(root))
    with Conn(s.port) as c:
        c.send(b"GET /a.txt HTTP/1.1\r\n\r\n")
        c.read_to_eof(5)
    assert wait_until(lambda: any(CLF.match(l).group(3) == "400" for l in log_lines(s.stderr())), 3), \
        s.stderr()


def test_log_file_option(tmp_path, split):
    root = make_site(tmp_path / "www")
    log = tmp_path / "access.log"
    s = split("serve", "0", "-b", HOST, "-d", str(root), "--log", str(log))
    get(s.port, "/a.txt")
    get(s.port, "/c.html")
    assert s.stop() == 0
    lines = log_lines(log.read_text())
    assert len(lines) == 2, lines  # workers flush their own lines: any order
    assert any('"GET /c.html HTTP/1.1" 200 40' in l for l in lines), lines
    assert any('"GET /a.txt HTTP/1.1" 200 9' in l for l in lines), lines
    assert not log_lines(s.stderr())


def test_log_file_unwritable_is_an_error(tmp_path):
    root = make_site(tmp_path / "www")
    p = subprocess.run([BERTH, "serve", "0", "-b", HOST, "-d", str(root), "--log",
                        str(tmp_path / "no" / "such" / "dir" / "log")], capture_output=True, timeout=10)
    assert p.returncode == 1 and b"log" in p.stderr, p


def test_quiet(tmp_path, split):
    root = make_site(tmp_path / "www")
    s = split("serve", "0", "-b", HOST, "-d", str(root), "--quiet")
    for _ in range(5):
        get(s.port, "/a.txt")
    get(s.port, "/nope")
    time.sleep(0.5)
    assert s.stop() == 0
    assert not log_lines(s.stderr()) and not log_lines(s.stdout()), s.stderr()
    s2 = split("serve", "0", "-b", HOST, "-d", str(root), "-q")
    get(s2.port, "/a.txt")
    assert s2.stop() == 0
    assert not log_lines(s2.stderr())


def test_log_cannot_be_forged(tmp_path, split):
    """A request cannot put a line break (or an escape sequence) into the log."""
    root = make_site(tmp_path / "www")
    s = split("serve", "0", "-b", HOST, "-d", str(root))
    with Conn(s.port) as c:
        c.send(b"GET /a.txt\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_to_eof(5)
    with Conn(s.port) as c:
        c.send(b"GET /a.txt%0a1.2.3.4 HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_response()
    assert s.stop() == 0
    err = s.stderr()
    assert "\x1b" not in err
    assert not any(l.startswith("1.2.3.4") for l in err.splitlines())


# ---------------------------------------------------------------- timeouts

def test_slowloris_gets_408_and_close(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--header-timeout", "1")
    with Conn(s.port) as c:
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
        got = b""
        try:
            for i in range(40):  # one header byte every 0.1 s: never a full head
                c.send(b"X-Slow-%d: y\r\n" % i if i % 5 == 0 else b"")
                c.send(b"X")
                time.sleep(0.1)
                if time.monotonic() - t0 > 4:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = c.read_to_eof(5)
        took = time.monotonic() - t0
    assert got.startswith(b"HTTP/1.1 408 "), got[:200]
    assert 0.8 < took < 3.5, took
    assert get(s.port, "/a.txt").status == 200


def test_header_timeout_counts_from_the_first_byte(tmp_path, server):
    """A connection opened and then idle is governed by the idle timeout; once
    a head begins, by the header timeout, which dribbling does not extend."""
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--header-timeout", "1", "--idle-timeout", "30")
    with Conn(s.port) as c:
        c.send(b"GET /a.txt HTTP/1.1\r\n")
        t0 = time.monotonic()
        assert c.read_response().status == 408
        assert time.monotonic() - t0 < 3
        assert c.closed_within(2)


def test_idle_keep_alive_closes(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--idle-timeout", "1")
    with Conn(s.port) as c:
        c.send(req("/a.txt"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.closed_within(4), "idle keep-alive connection stayed open"
        assert 0.7 < time.monotonic() - t0 < 3
    with Conn(s.port) as c:  # never sends anything
        t0 = time.monotonic()
        assert c.closed_within(4)
        assert time.monotonic() - t0 < 3


def test_active_keep_alive_is_not_cut(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--idle-timeout", "1")
    with Conn(s.port) as c:
        for _ in range(8):  # 2 s of traffic with 0.25 s gaps
            c.send(req("/a.txt"))
            assert c.read_response().status == 200
            time.sleep(0.25)


def test_default_idle_timeout_keeps_connection_for_a_while(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt"))
        c.read_response()
        assert not c.closed_within(1.5)
        c.send(req("/b.txt"))
        assert c.read_response().status == 200


@pytest.fixture
def site(tmp_path):
    """A fresh server per test: these tests count descriptors and CPU."""
    root = big_site(tmp_path / "site" / "www")
    s = start_serve(root, "--quiet")
    s.root = root
    yield s
    assert s.stop() == 0


def test_send_timeout_drops_a_client_that_never_reads(tmp_path, server):
    root = big_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--send-timeout", "1", "--quiet")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.settimeout(T)
    stuck.connect((HOST, s.port))
    stuck.sendall(req("/big.bin"))
    t0 = time.monotonic()
    time.sleep(0.5)
    # the server is responsive while the client is stuck
    assert get(s.port, "/a.txt").body == b"hello, a\n"
    time.sleep(2.5)
    total = 0
    try:
        while True:
            b = stuck.recv(1 << 20)
            if not b:
                break
            total += len(b)
    except ConnectionResetError:
        pass
    except socket.timeout:
        pytest.fail("the stalled connection was not dropped")
    stuck.close()
    assert total < (64 << 20), "the whole file went out"
    assert get(s.port, "/a.txt").body == b"hello, a\n"


# ---------------------------------------------------------------- connection limits

def test_max_conn_pauses_accept_without_spinning(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--max-conn", "5", "--workers", "1",
               "--idle-timeout", "30", "--quiet")
    held = []
    for _ in range(5):
        # busy, not idle keep-alive (which would be closed to make room): a
        # request head still arriving
        c = Conn(s.port)
        c.send(req("/a.txt")[:10])
        held.append(c)
    time.sleep(0.2)
    sixth = Conn(s.port)  # the kernel completes the handshake; berth must not accept
    sixth.send(req("/b.txt"))
    cpu0 = cpu_seconds(s.proc.pid)
    assert sixth.idle(1.5), "the 6th connection was served while 5 were open"
    used = cpu_seconds(s.proc.pid) - cpu0
    assert used < 0.3, "the server spun at the limit: %.2f s CPU in 1.5 s" % used
    held.pop().close()
    t0 = time.monotonic()
    r = sixth.read_response()
    assert r.status == 200 and r.body == b"bee\n" * 10
    assert time.monotonic() - t0 < 2
    sixth.close()
    for c in held:
        c.close()


def test_out_of_descriptors_does_not_spin(tmp_path):
    prlimit = shutil.which("prlimit")
    if not prlimit:
        pytest.skip("prlimit is missing")
    root = make_site(tmp_path / "www")
    s = start_cmd([prlimit, "--nofile=24:24", BERTH, "serve", "0", "-b", HOST, "-d", str(root),
                   "--workers", "1", "--idle-timeout", "30", "--quiet"])
    try:
        held = []
        for _ in range(30):
            c = socket.create_connection((HOST, s.port), timeout=T)
            held.append(c)
        time.sleep(0.3)
        cpu0 = cpu_seconds(s.proc.pid)
        time.sleep(1.5)
        used = cpu_seconds(s.proc.pid) - cpu0
        assert used < 0.3, "EMFILE spun the loop: %.2f s CPU in 1.5 s" % used
        for c in held:
            c.close()
        ok = wait_until(lambda: _get_ok(s.port), 5, 0.2)
        assert ok, "the server did not recover after descriptors were freed"
        assert s.alive()
    finally:
        s.kill()


def _get_ok(port):
    try:
        return get(port, "/a.txt").status == 200
    except OSError:
        return False


def test_connection_after_an_idle_period_is_served(tmp_path, server):
    """A worker that slept longer than the idle timeout must not judge a new
    connection by the time it fell asleep (and close it unanswered)."""
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "1", "--idle-timeout", "1")
    assert get(s.port, "/a.txt").status == 200
    time.sleep(1.5)  # the worker sleeps in epoll_wait
    with Conn(s.port) as c:
        c.send(req("/a.txt"))
        try:
            r = c.read_response()
        except (EOFError, ConnectionResetError) as e:
            pytest.fail("a request after 1.5 s of quiet was dropped: %r" % e)
        assert r.status == 200 and r.body == b"hello, a\n"


def test_200_concurrent_clients(tmp_path, server):
    root = make_site(tmp_path / "www")
    site = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet")
    site.root = root
    n = 200
    barrier = threading.Barrier(n, timeout=20)
    errors = []
    done = []

    def client(i):
        try:
            c = Conn(site.port, timeout=20)
            barrier.wait()
            with c:
                for k in range(3):
                    path = ("/a.txt", "/b.txt", "/sub/x.txt")[(i + k) % 3]
                    c.send(req(path))
                    r = c.read_response()
                    assert r.status == 200 and r.body == (site.root / path[1:]).read_bytes()
            done.append(i)
        except Exception as e:  # reported below
            errors.append((i, repr(e)))

    ths = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    assert not errors, errors[:5]
    assert len(done) == n
    assert time.monotonic() - t0 < 30


def test_many_requests_libcurl_style(site):
    """curl fetching 50 URLs over one connection."""
    urls = [url(site.port, "/a.txt")] * 50
    p = subprocess.run([CURL, "-sS", "--max-time", "20"] + urls, capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"hello, a\n" * 50


# ---------------------------------------------------------------- misbehaving clients

def test_clients_resetting_mid_transfer(site):
    pid = site.proc.pid
    # the startup line comes before the signal descriptor exists: count
    # from a server that has answered once
    assert get(site.port, "/a.txt").status == 200
    base = fd_count(pid)
    for i in range(20):
        c = Conn(site.port)
        c.send(req("/big.bin"))
        c.read_head()
        c.s.recv(65536)
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
    for i in range(10):
        c = Conn(site.port)
        c.send(req("/big.bin"))
        c.s.recv(1000)
        c.close()  # FIN with unread data
    assert site.alive()
    assert get(site.port, "/a.txt").body == b"hello, a\n"
    # each worker may keep big.bin open in its file cache (two workers here)
    assert wait_until(lambda: fd_count(pid) <= base + 2, 5), (base, fd_count(pid))


def test_client_half_close_still_gets_its_answer(site):
    with Conn(site.port) as c:
        c.send(req("/a.txt"))
        c.s.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello, a\n"
        assert c.closed_within(3)


def test_random_bytes_never_crash(site):
    import random
    rnd = random.Random(4)
    for i in range(60):
        n = rnd.randint(1, 3000)
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        if i % 3 == 0:
            data = b"GET /" + data + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        elif i % 3 == 1:
            data = b"GET / HTTP/1.1\r\nHost: x\r\n" + data + b"\r\n\r\n"
        try:
            with Conn(site.port, timeout=5) as c:
                c.send(data)
                c.s.shutdown(socket.SHUT_WR)
                c.read_to_eof(5)
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert site.alive()
    assert get(site.port, "/a.txt").status == 200


# ---------------------------------------------------------------- signals

def slow_download(port, result, rate_sleep=0.002):
    """Reads /big.bin in 64 KiB steps; result gets (status, sha256, length)."""
    try:
        with Conn(port, timeout=20) as c:
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.send(req("/big.bin"))
            v, st, reason, headers, raw = c.read_head()
            length = int(dict((k.lower(), v) for k, v in headers)["content-length"])
            h = hashlib.sha256()
            got = len(c.buf)
            h.update(bytes(c.buf))
            c.buf.clear()
            result["started"] = True
            while got < length:
                b = c.s.recv(65536)
                if not b:
                    break
                h.update(b)
                got += len(b)
                time.sleep(rate_sleep)
            result["done"] = (st, h.hexdigest(), got, length)
    except Exception as e:  # reported by the test
        result["error"] = repr(e)


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_sigterm_finishes_in_flight_download(tmp_path, server):
    root = big_site(tmp_path / "www", size=24 << 20)
    s = server("serve", "0", "-b", HOST, "-d", str(root))
    idle = Conn(s.port)
    idle.send(req("/a.txt"))
    idle.read_response()
    result = {}
    th = threading.Thread(target=slow_download, args=(s.port, result))
    th.start()
    assert wait_until(lambda: "started" in result or "error" in result, 5)
    time.sleep(0.2)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    # idle keep-alive connections are closed at once
    assert idle.closed_within(3), "an idle keep-alive connection held the shutdown"
    # no new connections
    assert wait_until(lambda: not _connectable(s.port), 2), "still accepting after SIGTERM"
    th.join(20)
    assert "error" not in result, result
    st, digest, got, length = result["done"]
    assert st == 200 and got == length == 24 << 20, result
    assert digest == file_sha(root / "big.bin")
    rc = s.proc.wait(5)
    assert rc == 0
    assert time.monotonic() - t0 < 15
    assert "done" in result


def _connectable(port):
    try:
        c = socket.create_connection((HOST, port), timeout=1)
    except OSError:
        return False
    c.close()
    return True


def test_sigterm_idle_server_exits_0_fast(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root))
    held = Conn(s.port)
    held.send(req("/a.txt"))
    held.read_response()
    half = Conn(s.port)
    half.send(b"GET /a.txt HTTP/1.1\r\n")  # a head still coming
    t0 = time.monotonic()
    assert s.stop(signal.SIGTERM, timeout=5) == 0
    assert time.monotonic() - t0 < 2
    held.close()
    half.close()


def test_sigint_exits_0(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root))
    assert get(s.port, "/a.txt").status == 200
    t0 = time.monotonic()
    assert s.stop(signal.SIGINT, timeout=5) == 0
    assert time.monotonic() - t0 < 2


def test_sigterm_with_stalled_client_exits_within_bound(tmp_path, server):
    """A client that never reads cannot hold the shutdown forever."""
    root = big_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((HOST, s.port))
    stuck.sendall(req("/big.bin"))
    time.sleep(0.3)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    rc = s.proc.wait(15)
    assert rc == 0
    assert time.monotonic() - t0 < 12
    stuck.close()


# ---------------------------------------------------------------- workers and addresses

def test_workers_2(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "2", "--quiet")
    def units():  # worker threads or worker processes
        tasks = len(os.listdir("/proc/%d/task" % s.proc.pid))
        kids = subprocess.run(["ps", "--ppid", str(s.proc.pid), "-o", "pid="],
                              capture_output=True).stdout.split()
        return tasks + len(kids)
    assert wait_until(lambda: units() >= 2, 3), units()
    errors = []

    def client():
        try:
            for _ in range(20):
                r = get(s.port, "/a.txt")
                assert r.body == b"hello, a\n"
        except Exception as e:
            errors.append(repr(e))

    ths = [threading.Thread(target=client) for _ in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    assert not errors, errors
    assert s.stop() == 0


def test_workers_1(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "1")
    assert get(s.port, "/a.txt").status == 200
    assert s.stop() == 0


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 loopback")
def test_ipv6_loopback(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", "::1", "-d", str(root))
    line = s.lines[0].decode()
    assert re.match(r"^Serving HTTP on ::1 port %d \(http://\[::1\]:%d/\) \.\.\.$" % (s.port, s.port), line), line
    p = subprocess.run([CURL, "-sS", "-g", "--max-time", "10", "http://[::1]:%d/a.txt" % s.port],
                       capture_output=True, timeout=20)
    assert p.stdout == b"hello, a\n", p
    r = requests.get("http://[::1]:%d/sub/" % s.port, timeout=T)
    assert r.status_code == 200 and "x.txt" in r.text
    with Conn(s.port, "::1", socket.AF_INET6) as c:
        c.send(req("/sub"))
        assert c.read_response().h("Location") == "/sub/"
    with pytest.raises(OSError):
        socket.create_connection((HOST, s.port), timeout=2).close()
    assert s.wait_for(r"^::1 - - \[", 3), s.output()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_idle_keep_alive_connections_are_small(tmp_path, server):
    """Issue 4: 10,000 idle keep-alive connections fit in a few MiB.  2,000
    connections that each had a request answered may not grow the server's
    resident memory by more than 2 KiB apiece."""
    import resource
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:
        pytest.skip("RLIMIT_NOFILE %d is too small" % soft)
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "1", "--quiet",
               "--idle-timeout", "60")
    for _ in range(20):
        get(s.port, "/a.txt")
    before = rss_kib(s.proc.pid)
    conns = []
    try:
        for i in range(n):
            c = socket.create_connection((HOST, s.port), timeout=T)
            c.sendall(req("/a.txt"))
            conns.append(c)
        for c in conns:
            got = b""
            while not got.endswith(b"hello, a\n"):
                b = c.recv(4096)
                assert b
                got += b
        after = rss_kib(s.proc.pid)
        per = (after - before) / n
        assert per < 2.0, "%.2f KiB per idle connection (%d -> %d KiB)" % (per, before, after)
        assert get(s.port, "/b.txt").status == 200
    finally:
        for c in conns:
            c.close()


def test_big_downloads_do_not_starve_small_requests(tmp_path, server):
    """One worker, two clients pulling 64 MiB as fast as they can: a third
    client's small requests still come back promptly."""
    root = big_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "1", "--quiet")
    stop = threading.Event()
    pulled = []

    def pull():
        n = 0
        with Conn(s.port, timeout=20) as c:
            while not stop.is_set():
                c.send(req("/big.bin"))
                c.read_head()
                left = 64 << 20
                left -= len(c.buf)
                c.buf.clear()
                while left > 0:
                    b = c.s.recv(1 << 20)
                    assert b
                    left -= len(b)
                    n += len(b)
        pulled.append(n)

    ths = [threading.Thread(target=pull) for _ in range(2)]
    for t in ths:
        t.start()
    try:
        time.sleep(0.3)
        worst = 0
        with Conn(s.port) as c:
            for _ in range(10):
                t0 = time.monotonic()
                c.send(req("/a.txt"))
                assert c.read_response().body == b"hello, a\n"
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.05)
    finally:
        stop.set()
        for t in ths:
            t.join(30)
    assert len(pulled) == 2 and min(pulled) > 0
    assert worst < 0.5, "a small request waited %.2f s behind big downloads" % worst


def test_pipelining_client_that_never_reads_is_bounded(tmp_path, server):
    """Megabytes of pipelined requests from a client that reads nothing: the
    server buffers a bounded amount and keeps serving others."""
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", "1", "--quiet",
               "--send-timeout", "2")
    for _ in range(5):
        get(s.port, "/a.txt")
    before = rss_kib(s.proc.pid)
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((HOST, s.port))
    hog.settimeout(0.2)
    blob = req("/b.txt") * 20000  # ~620 KB of requests, ~5 MB of answers
    sent = 0
    t0 = time.monotonic()
    while sent < 4 * len(blob) and time.monotonic() - t0 < 2:
        try:
            sent += hog.send(blob)
        except socket.timeout:
            pass
        except OSError:
            break  # the server gave up on it: fine
    assert sent > 256 << 10, sent
    assert get(s.port, "/a.txt").body == b"hello, a\n"
    grown = rss_kib(s.proc.pid) - before
    assert grown < 16 * 1024, "%d KiB more while one client hoards answers" % grown
    hog.close()
    assert s.alive()
