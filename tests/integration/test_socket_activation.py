"""systemd socket activation: berth serve on the socket it is handed
(LISTEN_PID/LISTEN_FDS, fd 3) instead of binding, with one worker or
several sharing it, started by Debian's systemd-socket-activate; and the
contrib/systemd units pass systemd-analyze verify."""
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BERTH

ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")
UNITS = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "systemd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=15):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Activated:
    """systemd-socket-activate -l 127.0.0.1:PORT berth serve ...: it binds,
    waits for the first connection, then execs berth in the same process."""

    def __init__(self, *args):
        for _ in range(5):  # the port may be taken between free_port and the bind
            self.port = free_port()
            self.proc = subprocess.Popen(
                [ACTIVATE, "-l", "127.0.0.1:%d" % self.port, BERTH, "serve"] + list(args),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                    return
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("systemd-socket-activate never listened")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(), err.decode()


@pytest.fixture
def activated():
    started = []

    def start(*args):
        a = Activated(*args)
        started.append(a)
        return a

    yield start
    for a in started:
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.communicate()


@pytest.mark.skipif(not ACTIVATE, reason="systemd-socket-activate (package systemd) is missing")
@pytest.mark.parametrize("workers", [1, 2])
def test_serves_on_the_socket_systemd_passes(activated, tmp_path, workers):
    (tmp_path / "a.txt").write_bytes(b"activated\n")
    a = activated("-d", str(tmp_path), "--workers", str(workers))
    results = []

    def client(n):
        for i in range(n):
            results.append(get(a.port, "/a.txt?%d" % i))

    threads = [threading.Thread(target=client, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [(200, b"activated\n")] * 40
    pid = a.proc.pid  # the same process: systemd-socket-activate execs berth
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert os.path.basename(f.read().split(b"\0")[0]) == b"berth"
    # berth did not bind a socket of its own: the one it serves on is fd 3
    sock = os.readlink("/proc/%d/fd/3" % pid)
    assert sock.startswith("socket:")
    # one descriptor of it per worker (duplicates: one shared accept queue)
    fds = os.listdir("/proc/%d/fd" % pid)
    same = [fd for fd in fds if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == sock]
    assert len(same) == workers, same
    rc, out, err = a.stop()
    assert rc == 0, (out, err)
    # the port is the one systemd bound, named on the start line
    assert re.search(r"^Serving HTTP on 127\.0\.0\.1 port %d " % a.port, out, re.M), out
    assert err.count("GET /a.txt?") == 40


def test_listen_pid_of_another_process_is_ignored(tmp_path):
    """LISTEN_* meant for another process (LISTEN_PID differs): berth binds
    as usual."""
    env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1")
    p = subprocess.Popen([BERTH, "serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path)], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline().decode()
        m = re.match(r"Serving HTTP on 127\.0\.0\.1 port (\d+) ", line)
        assert m, line
        assert get(int(m.group(1)), "/")[0] == 200
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=15)
    assert p.returncode == 0


def test_descriptor_that_is_not_a_listening_socket_is_refused(tmp_path):
    """LISTEN_PID is berth's own (sh execs it) but fd 3 is /dev/null: a
    clear error instead of serving nothing."""
    p = subprocess.run(["sh", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec 3</dev/null; '
                        'exec "$0" serve -d "$1"', BERTH, str(tmp_path)],
                       capture_output=True, timeout=30)
    assert p.returncode == 1, p
    assert b"not a listening stream socket" in p.stderr
    assert b"cannot serve on the socket systemd passed" in p.stderr
    assert b"Serving" not in p.stdout


@pytest.mark.skipif(not ANALYZE, reason="systemd-analyze (package systemd) is missing")
def test_contrib_units_verify(tmp_path):
    """systemd-analyze verify parses every directive (an unknown or misspelt
    one is reported); ExecStart= must name an existing program, so the copy
    points at the built berth."""
    shutil.copy(os.path.join(UNITS, "berth.socket"), tmp_path)
    with open(os.path.join(UNITS, "berth.service")) as f:
        service = f.read()
    assert "ExecStart=/usr/local/bin/berth " in service
    (tmp_path / "berth.service").write_text(
        service.replace("/usr/local/bin/berth", os.path.abspath(BERTH)))
    p = subprocess.run([ANALYZE, "verify", "--man=no", str(tmp_path / "berth.socket"),
                        str(tmp_path / "berth.service")], capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b"" and p.stdout == b"", p
    for directive in ("DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes",
                      "PrivateTmp=yes", "NoNewPrivileges=yes", "RestrictAddressFamilies=",
                      "SystemCallFilter=@system-service", "ReadOnlyPaths=", "LogsDirectory="):
        assert "\n" + directive in service, directive
