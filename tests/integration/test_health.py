"""berth serve --health PATH and --drain-grace: the health path answers 200
"ok" while serving and 503 from the moment SIGTERM arrives; with --health a
stop begins with a grace period (default 2 s) during which the listener
stays open and other requests are answered, so a load balancer's checks see
the 503 before the port closes; then the drain proceeds as before (in-flight
downloads finish, exit 0).  Health answers are not logged.  A second SIGINT
still quits at once."""
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import run_berth
from test_serve_robust import wait_until

HOST = "127.0.0.1"
T = 10.0


def get(port, path, method="GET"):
    c = http.client.HTTPConnection(HOST, port, timeout=T)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type")
    finally:
        c.close()


def connectable(port):
    try:
        c = socket.create_connection((HOST, port), timeout=1)
    except OSError:
        return False
    c.close()
    return True


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("health")
    (r / "a.txt").write_bytes(b"hello\n")
    (r / "big.bin").write_bytes(os.urandom(8 << 20))
    return r


def test_health_answers_ok_and_is_not_logged(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--health", "/healthz")
    assert get(s.port, "/healthz") == (200, b"ok", "text/plain")
    assert get(s.port, "/healthz?probe=1")[:2] == (200, b"ok")
    st, body, _ = get(s.port, "/healthz", "HEAD")
    assert (st, body) == (200, b"")
    assert get(s.port, "/healthz/more")[0] == 404  # only that path
    assert get(s.port, "/a.txt")[:2] == (200, b"hello\n")
    assert s.wait_for(r'"GET /a.txt HTTP/1.1" 200 6')
    # not the health path: logged as usual (each worker writes its own lines,
    # so wait for this one too)
    assert s.wait_for(r'"GET /healthz/more HTTP/1.1" 404')
    out = s.output()
    assert "/healthz " not in out and "/healthz?" not in out


def test_health_over_h2c(root, server):
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("needs curl")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--health", "/up")
    p = subprocess.run([curl, "-sS", "--http2-prior-knowledge", "-w", " %{http_version} %{http_code}",
                        "http://%s:%d/up" % (HOST, s.port)], capture_output=True, timeout=60)
    assert p.stdout == b"ok 2 200", (p.stdout, p.stderr)


def slow_download(port, result):
    """GET /big.bin, read slowly (the drain must wait for it)."""
    try:
        s = socket.create_connection((HOST, port), timeout=T)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(16384)
            if not d:
                raise ConnectionError("closed before the head")
            data += d
        head, body = data.split(b"\r\n\r\n", 1)
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
                     .split(b":")[1])
        h = hashlib.sha256(body)
        got = len(body)
        result["started"] = True
        while got < length:
            d = s.recv(16384)
            if not d:
                break
            h.update(d)
            got += len(d)
            time.sleep(0.004)  # the slowness itself: about 2 s for 8 MiB
        s.close()
        result["done"] = (got, length, h.hexdigest())
    except Exception as e:  # reported by the test
        result["error"] = repr(e)


def test_sigterm_health_503_during_grace_then_drain(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--health", "/healthz",
               "--drain-grace", "1")
    assert get(s.port, "/healthz")[:2] == (200, b"ok")
    result = {}
    th = threading.Thread(target=slow_download, args=(s.port, result))
    th.start()
    assert wait_until(lambda: "started" in result or "error" in result, T)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    # 503 at once (polled: the signal is asynchronous), the listener open
    assert wait_until(lambda: get(s.port, "/healthz")[0] == 503, 2)
    st, body, _ = get(s.port, "/healthz")
    assert st == 503 and body == b"draining"
    # other requests are still served during the grace, each closing its
    # connection (a balancer's keep-alive pool empties before the drain)
    if time.monotonic() - t0 < 0.8:
        c = http.client.HTTPConnection(HOST, s.port, timeout=T)
        c.request("GET", "/a.txt")
        r = c.getresponse()
        assert (r.status, r.read(), r.getheader("Connection")) == (200, b"hello\n", "close")
        c.close()
    # then accepting stops, not before the grace is over
    assert wait_until(lambda: not connectable(s.port), T), "still accepting after the grace"
    assert time.monotonic() - t0 >= 0.9
    # the in-flight download completes, and the server exits 0
    th.join(30)
    assert "error" not in result, result
    got, length, digest = result["done"]
    assert got == length == 8 << 20
    assert digest == hashlib.sha256((root / "big.bin").read_bytes()).hexdigest()
    assert s.proc.wait(15) == 0
    assert "GET /healthz" not in s.output()
    assert "GET /a.txt" in s.output()


def test_default_grace_with_health_is_2s(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--health", "/healthz", "--quiet")
    assert get(s.port, "/healthz")[0] == 200  # serving: its signals are handled
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: get(s.port, "/healthz")[0] == 503, 2)
    assert s.proc.wait(15) == 0
    assert time.monotonic() - t0 >= 1.9


def test_no_grace_without_health_or_with_0(root, server):
    for extra in ([], ["--health", "/healthz", "--drain-grace", "0"]):
        s = server("serve", "0", "-b", HOST, "-d", str(root), "--quiet", *extra)
        assert get(s.port, "/a.txt")[0] == 200
        t0 = time.monotonic()
        assert s.stop(signal.SIGTERM, timeout=5) == 0
        assert time.monotonic() - t0 < 1.5


def test_second_sigint_quits_during_grace(root, server):
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--health", "/healthz",
               "--drain-grace", "60", "--quiet")
    assert get(s.port, "/healthz")[0] == 200  # serving: its signals are handled
    s.proc.send_signal(signal.SIGINT)
    assert wait_until(lambda: get(s.port, "/healthz")[0] == 503, 2)
    assert s.wait_for("Ctrl-C again")
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("args,msg", [
    (["--health", "healthz"], b"--health takes a path starting with '/'"),
    (["--drain-grace", "-1"], b"--drain-grace must be 0..3600 seconds"),
    (["--drain-grace", "x"], b"--drain-grace must be 0..3600 seconds"),
])
def test_bad_values_are_usage_errors(args, msg):
    p = run_berth("serve", "0", *args)
    assert p.returncode == 2
    assert msg in p.stderr, p.stderr
