"""Black-box tests of `berth serve`'s access log (issue 8): escaping as nginx
does, the request line of requests that did not parse, the body size of
error pages, v4 clients of a dual-stack socket, the combined format, SIGHUP
(logrotate) and the second Ctrl-C during a drain."""
import os
import re
import signal
import socket
import time

import pytest

from conftest import BERTH
from test_serve import HOST, Conn, get, have_ipv6, make_site, req, start_serve
from test_serve_robust import big_site, wait_until

# one field in quotes, escaped as nginx does: no '"' or '\\' but in \xHH
Q = r'"((?:[^"\\\x00-\x1f\x7f-\xff]|\\x[0-9A-F]{2})*)"'
LINE = re.compile(r'^(\S+) - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ' + Q +
                  r' (\d{3}) (\d+|-)(?: ' + Q + ' ' + Q + ')?$')


def parsed(path):
    """The log file's lines as (host, request, status, bytes, referer, agent);
    a line that does not parse fails the test."""
    try:
        text = open(path, "rb").read().decode("ascii")  # escaped: nothing else gets in
    except FileNotFoundError:
        return []
    out = []
    for l in text.splitlines():
        m = LINE.match(l)
        assert m, "not a log line: %r" % l
        out.append(m.groups())
    return out


def logged(path, want, timeout=5):
    """Waits (bounded) until the log holds `want` lines; returns them all."""
    assert wait_until(lambda: len(parsed(path)) >= want, timeout), parsed(path)
    return parsed(path)


def by_request(lines):
    return {l[1]: l for l in lines}


def raw(port, data, timeout=5):
    with Conn(port) as c:
        c.send(data)
        return c.read_response()


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path / "www")


# ---------------------------------------------------------------- escaping

def test_request_line_is_escaped(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log))
    raw(s.port, b'GET /q"x\x01y\\z HTTP/1.1\r\nHost: x\r\n\r\n')
    raw(s.port, b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n")
    lines = by_request(logged(log, 2))
    assert r"GET /q\x22x\x01y\x5Cz HTTP/1.1" in lines, lines
    assert r"GET /caf\xC3\xA9 HTTP/1.1" in lines, lines
    assert s.alive()


def test_parse_errors_log_their_request_line(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log))
    r400 = raw(s.port, b"GET /a.txt?malformed HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    r505 = raw(s.port, b"\r\nGET /v2 HTTP/2.0\r\nHost: x\r\n\r\n")
    assert (r400.status, r505.status) == (400, 505)
    lines = by_request(logged(log, 2))
    assert lines["GET /a.txt?malformed HTTP/1.1"][2] == "400", lines
    assert lines["GET /v2 HTTP/2.0"][2] == "505", lines
    assert "-" not in lines, lines


def test_408_logs_the_request_line_it_got(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log),
               "--header-timeout", "1")
    with Conn(s.port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        r = c.read_response()
    assert r.status == 408 and len(r.body) > 0
    with Conn(s.port) as c:
        c.send(b"GET /half")  # no whole line: nothing to show
        assert c.read_response().status == 408
    lines = by_request(logged(log, 2))
    assert lines["GET /slow HTTP/1.1"][2:4] == ("408", str(len(r.body))), lines
    assert lines["-"][2] == "408", lines


# ---------------------------------------------------------------- bytes

def test_error_pages_log_their_body_size(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log))
    sizes = {}
    r = get(s.port, "/nope")
    assert r.status == 404 and len(r.body) > 0
    sizes["GET /nope HTTP/1.1"] = len(r.body)
    r = get(s.port, "/a.txt", method="POST", extra="Content-Length: 0\r\n")
    assert r.status == 405 and len(r.body) > 0
    sizes["POST /a.txt HTTP/1.1"] = len(r.body)
    r = raw(s.port, b"GET /bad HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert r.status == 400 and len(r.body) > 0
    sizes["GET /bad HTTP/1.1"] = len(r.body)
    assert get(s.port, "/nope-head", method="HEAD").status == 404
    assert get(s.port, "/a.txt").status == 200
    lines = by_request(logged(log, 5))
    for request, size in sizes.items():
        assert lines[request][3] == str(size), (request, lines[request])
    assert lines["HEAD /nope-head HTTP/1.1"][3] == "-", "a HEAD sends no body"
    assert lines["GET /a.txt HTTP/1.1"][3] == "9"


# ---------------------------------------------------------------- addresses

@pytest.mark.skipif(not have_ipv6(), reason="no IPv6")
def test_v4_client_of_dual_stack_socket(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", "::", "-d", str(site), "--log", str(log))
    assert get(s.port, "/a.txt").status == 200  # over 127.0.0.1
    with Conn(s.port, host="::1", family=socket.AF_INET6) as c:
        c.send(req("/b.txt"))
        assert c.read_response().status == 200
    lines = by_request(logged(log, 2))
    assert lines["GET /a.txt HTTP/1.1"][0] == "127.0.0.1", lines
    assert lines["GET /b.txt HTTP/1.1"][0] == "::1", lines


# ---------------------------------------------------------------- combined

def test_combined_format(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log),
               "--log-format", "combined")
    get(s.port, "/a.txt", extra='Referer: http://example.com/?q="x"\r\n'
                                'User-Agent: test-agent/1.0 (\\o/)\r\n')
    get(s.port, "/b.txt")
    get(s.port, "/c.html", extra="user-agent: only-ua\r\n")
    lines = by_request(logged(log, 3))
    a = lines["GET /a.txt HTTP/1.1"]
    assert a[2:] == ("200", "9", r"http://example.com/?q=\x22x\x22", r"test-agent/1.0 (\x5Co/)"), a
    assert lines["GET /b.txt HTTP/1.1"][4:] == ("-", "-"), lines
    assert lines["GET /c.html HTTP/1.1"][4:] == ("-", "only-ua"), lines


def test_clf_is_the_default_and_has_no_referer(tmp_path, site, server):
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log),
               "--log-format", "clf")
    get(s.port, "/a.txt", extra="Referer: http://example.com/\r\nUser-Agent: ua\r\n")
    (line,) = logged(log, 1)
    assert line[4] is None and line[5] is None, line


def test_log_format_bad_value(tmp_path, site):
    import subprocess
    p = subprocess.run([BERTH, "serve", "0", "-b", HOST, "-d", str(site), "--log-format", "json"],
                       capture_output=True, timeout=10)
    assert p.returncode == 2, p
    assert b"json" in p.stderr and b"--log-format" in p.stderr, p.stderr


# ---------------------------------------------------------------- SIGHUP

@pytest.mark.parametrize("workers", ["1", "2"])
def test_sighup_reopens_the_log(tmp_path, site, server, workers):
    """logrotate: rename the file, SIGHUP; lines before land in the old file,
    lines after in the new one, none lost, and the server keeps serving."""
    log = tmp_path / "access.log"
    old = tmp_path / "access.log.1"
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log),
               "--workers", workers)
    n, m = 8, 6
    for i in range(n):  # fresh connections: both workers get some
        assert get(s.port, "/a.txt?before=%d" % i).status == 200
    os.rename(log, old)
    s.proc.send_signal(signal.SIGHUP)
    assert wait_until(log.exists, 5), "SIGHUP did not reopen the log: %s" % s.output()
    for j in range(m):
        assert get(s.port, "/b.txt?after=%d" % j).status == 200
    assert s.alive(), s.output()
    assert s.stop(signal.SIGTERM) == 0
    before = sorted(l[1] for l in parsed(old))
    after = sorted(l[1] for l in parsed(log))
    assert before == sorted("GET /a.txt?before=%d HTTP/1.1" % i for i in range(n)), before
    assert after == sorted("GET /b.txt?after=%d HTTP/1.1" % j for j in range(m)), after


def test_sighup_twice_and_unwritable_path(tmp_path, site, server):
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(log))
    assert get(s.port, "/a.txt?1").status == 200
    os.rename(log, tmp_path / "logs" / "access.log.1")
    s.proc.send_signal(signal.SIGHUP)
    assert wait_until(log.exists, 5)
    assert get(s.port, "/a.txt?2").status == 200
    # the directory goes away: the reopen fails, says why, the lines still go to the open file
    os.rename(log.parent, tmp_path / "gone")
    s.proc.send_signal(signal.SIGHUP)
    assert s.wait_for(r"cannot reopen the access log", 5), s.output()
    assert get(s.port, "/a.txt?3").status == 200
    assert s.stop() == 0
    assert [l[1] for l in parsed(tmp_path / "gone" / "access.log.1")] == ["GET /a.txt?1 HTTP/1.1"]
    assert sorted(l[1] for l in parsed(tmp_path / "gone" / "access.log")) == \
        ["GET /a.txt?2 HTTP/1.1", "GET /a.txt?3 HTTP/1.1"]


def test_sighup_with_log_on_stderr_is_a_no_op(site, server):
    s = server("serve", "0", "-b", HOST, "-d", str(site))
    assert get(s.port, "/a.txt?x=1").status == 200
    s.proc.send_signal(signal.SIGHUP)
    assert get(s.port, "/a.txt?x=2").status == 200
    assert s.alive()
    assert s.stop() == 0
    out = s.output()
    assert "/a.txt?x=1 " in out and "/a.txt?x=2 " in out, out


# ---------------------------------------------------------------- the drain

def _stuck_downloads(port, k):
    """k clients each in the middle of a 64 MiB download, reading nothing more."""
    socks = []
    for _ in range(k):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(10)
        c.connect((HOST, port))
        c.sendall(req("/big.bin"))
        assert c.recv(100).startswith(b"HTTP/1.1 200 ")
        socks.append(c)
    return socks


@pytest.mark.parametrize("workers", ["1", "2"])
def test_second_sigint_during_drain_quits_now(tmp_path, server, workers):
    root = big_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--workers", workers, "-q")
    socks = _stuck_downloads(s.port, 3)
    s.proc.send_signal(signal.SIGINT)
    assert s.wait_for(r"^berth: draining 3 connections \(up to 10 s\); "
                      r"press Ctrl-C again to quit now$", 5), s.output()
    assert s.alive(), "the first Ctrl-C drains, it does not quit"
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    rc = s.proc.wait(10)
    took = time.monotonic() - t0
    assert rc == 0 and took < 2.0, (rc, took)
    s.kill()
    assert s.output().count("draining") == 1, s.output()
    for c in socks:
        c.close()


def test_sigterm_twice_quits_now(tmp_path, server):
    root = big_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "-q")
    socks = _stuck_downloads(s.port, 1)
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait_for(r"^berth: draining 1 connection \(up to 10 s\)", 5), s.output()
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0 and time.monotonic() - t0 < 2.0
    socks[0].close()


def test_no_drain_line_when_nothing_to_drain(site, server):
    s = server("serve", "0", "-b", HOST, "-d", str(site), "-q")
    assert get(s.port, "/a.txt").status == 200
    assert s.stop(signal.SIGINT) == 0
    assert "draining" not in s.output()


# ---------------------------------------------------------------- bytes sent

def test_log_shows_the_bytes_sent_not_the_file_size(tmp_path, server):
    """A download cut short logs what went out; a whole one its size; a
    multipart answer its whole body."""
    root = tmp_path / "www"
    root.mkdir()
    size = 64 << 20
    with open(root / "big.bin", "wb") as f:
        f.truncate(size)
    (root / "mid.bin").write_bytes(b"m" * 200000)
    log = tmp_path / "access.log"
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--log", str(log), "--workers", "1")
    c = Conn(s.port)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(req("/big.bin"))
    c.read_head()
    got = len(c.buf)
    while got < (1 << 20):
        got += len(c.s.recv(65536))
    c.close()  # unread data: a reset, the server's sendfile fails
    r = get(s.port, "/mid.bin")
    assert r.status == 200 and len(r.body) == 200000
    with Conn(s.port) as k:
        k.send(req("/mid.bin", extra="Range: bytes=0-9,100-109\r\nConnection: close\r\n"))
        mp = k.read_response()
    assert mp.status == 206
    lines = by_request(logged(log, 3, timeout=10))
    cut = int(lines["GET /big.bin HTTP/1.1"][3])
    assert (1 << 20) <= cut < size, cut
    whole = [l for l in parsed(log) if l[1] == "GET /mid.bin HTTP/1.1"]
    assert sorted(int(l[3]) for l in whole) == sorted([200000, len(mp.body)]), whole


def test_signals_right_after_the_startup_line(tmp_path, site, server):
    """A SIGHUP or SIGTERM sent the moment the server says it serves is
    handled (reopen; drain and exit 0), never the default action."""
    for _ in range(5):
        s = server("serve", "0", "-b", HOST, "-d", str(site), "--log", str(tmp_path / "l.log"))
        s.proc.send_signal(signal.SIGHUP)
        assert get(s.port, "/a.txt").status == 200
        assert s.stop(signal.SIGTERM) == 0
        s = server("serve", "0", "-b", HOST, "-d", str(site), "--quiet")
        assert s.stop(signal.SIGTERM) == 0
