"""Shared helpers for the integration tests: start the real berth binary on
port 0, learn the port from the line it prints, stop it cleanly."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

BERTH = os.path.abspath(os.environ.get("BERTH", "build/berth"))
BUILD = os.path.abspath(os.environ.get("BERTH_BUILD", os.path.dirname(BERTH)))

# "listening on 127.0.0.1:4242 (tcp, model epoll)", "listening on [::1]:4242 ...",
# "Serving HTTP on 0.0.0.0 port 4242 (http://...)"
PORT_RE = re.compile(rb"(?:listening on \S*:(\d+)|listening on (unix:\S+)|Serving HTTP on \S+ port (\d+))")


class Server:
    """A berth server process.  .port, .lines (all output lines so far)."""

    def __init__(self, args, cwd=None, env=None, ready=PORT_RE, timeout=10.0, valgrind=False,
                 exe=None):
        self.args = [exe or BERTH] + list(args)
        if valgrind:
            self.args = ["valgrind", "--leak-check=full", "--show-leak-kinds=all",
                         "--errors-for-leak-kinds=all", "--error-exitcode=9"] + self.args
        self.proc = subprocess.Popen(self.args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = None
        self.unix = None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    m = ready.search(line)
                    if m:
                        g = [x for x in m.groups() if x]
                        if g and g[0].startswith(b"unix:"):
                            self.unix = g[0][5:].decode()
                        elif g:
                            self.port = int(g[0])
                        break
                else:
                    if self.proc.poll() is not None and not self._reader.is_alive():
                        raise RuntimeError("server exited %s: %r" % (self.proc.returncode, self.lines))
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.kill()
                        raise RuntimeError("server did not report a port: %r" % self.lines)
                    self._cond.wait(min(left, 0.1))
                    continue
                break

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip(b"\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self):
        with self._cond:
            return b"\n".join(self.lines).decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=5.0):
        """Waits until some output line matches the regex (bytes or str)."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(rx.search(l) for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the server and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(2)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(2)

    def alive(self):
        return self.proc.poll() is None


@pytest.fixture
def server():
    """server(args...) starts a berth server; all are killed after the test."""
    started = []

    def start(*args, **kw):
        s = Server(args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def run_berth(*args, input=None, timeout=30, cwd=None):
    """Runs a berth client command to completion; returns CompletedProcess."""
    return subprocess.run([BERTH] + list(args), input=input, capture_output=True,
                          timeout=timeout, cwd=cwd)


# What a program linked with build/libberth.a needs after it (the libraries of
# berth.pc's Requires.private and Libs.private), for tests that build one.
STATIC_LIBS = ["-ljansson", "-lssl", "-lcrypto", "-lnghttp2", "-lz", "-lbrotlienc", "-lbrotlidec",
               "-lzstd", "-lpthread"]
