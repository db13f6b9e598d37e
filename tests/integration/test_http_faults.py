"""Resource faults of berth serve: running out of file descriptors must pause
accepting (no busy loop), and serving resumes once descriptors come back."""
import os
import shutil
import socket
import time

import pytest

from conftest import BERTH, Server


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(port, path="/hello.txt", timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data


@pytest.mark.skipif(not shutil.which("prlimit"), reason="prlimit (util-linux) missing")
def test_emfile_pauses_accepting_without_spinning(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"Hello, client!")
    # 24 descriptors: a handful for the server itself, the rest for clients
    srv = Server(["serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path), "--workers", "1", "-q"],
                 ready=__import__("re").compile(rb"Serving HTTP on \S+ port (\d+)"))
    try:
        os.system("prlimit --pid %d --nofile=24:24" % srv.proc.pid)
        clients = []
        for _ in range(60):
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            clients.append(c)
        time.sleep(0.3)
        before = cpu_seconds(srv.proc.pid)
        time.sleep(2.0)
        spent = cpu_seconds(srv.proc.pid) - before
        assert spent < 0.5, "server burnt %.2f s of CPU in 2 s while out of descriptors" % spent
        assert srv.alive()
        assert srv.wait_for("too many open files", timeout=3), srv.output()
        for c in clients:
            c.close()
        # descriptors are back: a fresh client is served (after the backoff)
        deadline = time.monotonic() + 10
        while True:
            try:
                r = get(srv.port)
                if r.startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not recover after EMFILE"
            time.sleep(0.2)
        assert r.endswith(b"Hello, client!")
        assert srv.stop() == 0
    finally:
        srv.kill()


def test_client_that_never_reads_costs_bounded_memory(tmp_path):
    """A client pipelining requests for a big file and never reading must not
    make the server buffer without bound."""
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))
    (tmp_path / "hello.txt").write_bytes(b"Hello, client!")
    srv = Server(["serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path), "--workers", "1", "-q"])
    try:
        def rss_kib():
            with open("/proc/%d/status" % srv.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        base = rss_kib()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        req = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 64
        sent = 0
        for _ in range(200):
            try:
                sent += s.send(req)
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        grown = rss_kib() - base
        assert grown < 16 * 1024, "server grew by %d KiB for one non-reading client" % grown
        # and everyone else is still served
        assert get(srv.port).endswith(b"Hello, client!")
        s.close()
        assert srv.stop() == 0
    finally:
        srv.kill()


def sanitized():
    with open(BERTH, "rb") as f:
        return b"__asan_init" in f.read()


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind missing")
@pytest.mark.skipif(sanitized(), reason="an ASan build checks leaks itself and cannot run under valgrind")
def test_no_leak_after_1000_clients_and_sigterm(tmp_path):
    """valgrind: a server that served 1,000 clients (small files, a large
    file by sendfile, ranges, a listing, errors) and got SIGTERM holds no
    memory at exit."""
    import http.client
    (tmp_path / "hello.txt").write_bytes(b"Hello, client!")
    (tmp_path / "big.bin").write_bytes(os.urandom(200_000))
    (tmp_path / "dir").mkdir()
    srv = Server(["serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path), "--workers", "2", "-q"],
                 timeout=30, valgrind=True)
    try:
        paths = ["/hello.txt", "/big.bin", "/dir/", "/dir", "/missing", "/%zz"]
        for i in range(1000):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
            p = paths[i % len(paths)]
            headers = {"Range": "bytes=0-9,20-29"} if i % 7 == 0 else {}
            c.request("GET", p, headers=headers)
            r = c.getresponse()
            r.read()
            assert r.status in (200, 206, 301, 400, 404)
            c.close()
        rc = srv.stop(timeout=30)
        out = srv.output()
        assert "in use at exit: 0 bytes in 0 blocks" in out, out[-3000:]
        assert "ERROR SUMMARY: 0 errors" in out, out[-3000:]
        assert rc == 0
    finally:
        srv.kill()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_disk_loses_log_lines_never_responses(tmp_path):
    """An access log on a full disk (/dev/full: every write fails with ENOSPC)
    costs log lines, not answers, and the server neither spins nor dies."""
    (tmp_path / "hello.txt").write_bytes(b"Hello, client!")
    srv = Server(["serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path), "--workers", "1",
                  "--log", "/dev/full"])
    try:
        before = cpu_seconds(srv.proc.pid)
        for _ in range(300):
            assert get(srv.port).endswith(b"Hello, client!")
        time.sleep(0.5)  # the log flush timer fires and fails
        assert get(srv.port).endswith(b"Hello, client!")
        assert cpu_seconds(srv.proc.pid) - before < 2.0
        assert srv.stop() == 0
    finally:
        srv.kill()
