"""Black-box tests of `berth echo-server` and `berth echo`: the real binary on
port 0, Python sockets on the other end.  Every concurrency model runs the
same behaviour tests; UDP, addresses and the client CLI have their own."""
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import BERTH, run_berth

MODELS = ["iterative", "fork", "thread", "select", "epoll"]
T = 20  # socket timeout: a hang fails the test instead of the suite


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(port, host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(T)
    s.connect((host, port))
    return s


def recv_all(s):
    out = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            return bytes(out)
        out += b


def roundtrip(s, data, piece=None, pause=0.0):
    """Sends data (in pieces of `piece` bytes, if given) while reading the echo
    back, half-closes, and returns everything received until EOF."""
    err = []

    def send():
        try:
            if piece:
                for i in range(0, len(data), piece):
                    s.sendall(data[i:i + piece])
                    if pause:
                        time.sleep(pause)
            else:
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:  # pragma: no cover - reported below
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    got = recv_all(s)
    t.join(T)
    assert not err, err
    s.close()
    return got


@pytest.fixture(params=MODELS)
def echo(request, server):
    s = server("echo-server", "-p", "0", "--model", request.param, "-q")
    s.model = request.param
    return s


# ---- the same behaviour in every model ----

def test_prints_where_it_listens(server):
    for m in MODELS:
        s = server("echo-server", "-p", "0", "--model", m)
        assert s.port and "listening on 127.0.0.1:%d (tcp, model %s)" % (s.port, m) in s.output()
        assert s.stop() == 0


def test_default_model_is_epoll(server):
    s = server("echo-server", "-p", "0")
    assert "(tcp, model epoll)" in s.output()


def test_zero_bytes(echo):
    s = connect(echo.port)
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == b""
    s.close()
    assert echo.alive()


def test_one_byte(echo):
    assert roundtrip(connect(echo.port), b"x") == b"x"


def test_all_byte_values(echo):
    data = bytes(range(256)) * 4
    assert roundtrip(connect(echo.port), data) == data


def test_16mib_full_duplex(echo):
    data = os.urandom(16 << 20)
    got = roundtrip(connect(echo.port), data, piece=1 << 20)
    assert len(got) == len(data)
    assert got == data


def test_backpressure_bounds_what_the_server_holds(echo):
    """A client that sends and never reads must be stopped by full buffers,
    not absorbed: the server stops reading while its output is backed up."""
    s = connect(echo.port)
    s.setblocking(False)
    chunk = b"b" * (1 << 16)
    sent, stalled_since = 0, None
    while sent < (64 << 20):
        _, w, _ = select.select([], [s], [], 0.05)
        if not w:
            if stalled_since is None:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since > 0.5:
                break
            continue
        stalled_since = None
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            pass
    # kernel socket buffers on both sides hold some MiB; the server itself
    # only a few hundred KiB
    assert sent < (40 << 20), "server kept reading %d bytes it could not send" % sent
    s.setblocking(True)
    s.settimeout(T)
    s.shutdown(socket.SHUT_WR)
    assert len(recv_all(s)) == sent
    s.close()


def test_byte_by_byte(echo):
    data = bytes(range(200))
    s = connect(echo.port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert roundtrip(s, data, piece=1, pause=0.001) == data


def test_200_concurrent_clients(echo):
    socks = [connect(echo.port) for _ in range(200)]
    for i, s in enumerate(socks):
        s.sendall(b"client %d\n" % i)
        s.shutdown(socket.SHUT_WR)
    for i, s in enumerate(socks):
        assert recv_all(s) == b"client %d\n" % i
        s.close()


def test_idle_client_does_not_block_others(echo):
    if echo.model == "iterative":
        pytest.skip("iterative serves one client at a time, by design")
    idle = connect(echo.port)
    idle.sendall(b"half a message")
    other = connect(echo.port)
    other.settimeout(5)
    assert roundtrip(other, b"hello") == b"hello"
    idle.close()


def test_reset_mid_stream_keeps_serving(echo):
    for _ in range(3):
        s = connect(echo.port)
        s.sendall(os.urandom(200000))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST, with data in flight both ways
    time.sleep(0.1)
    assert echo.alive()
    assert roundtrip(connect(echo.port), b"still here") == b"still here"


def test_sigterm_exits_0(echo):
    assert roundtrip(connect(echo.port), b"one") == b"one"
    idle = connect(echo.port)  # connected, being served or queued: no hang
    time.sleep(0.1)
    assert echo.stop(signal.SIGTERM) == 0
    idle.close()


def test_sigint_exits_0(echo):
    assert roundtrip(connect(echo.port), b"one") == b"one"
    assert echo.stop(signal.SIGINT) == 0


def test_stopping_finishes_what_was_read(echo):
    """A stop signal in the middle of a connection: whatever the server had
    read goes back before it closes, and it then exits 0."""
    s = connect(echo.port)
    s.sendall(b"before the signal")
    assert s.recv(100) == b"before the signal"
    echo.proc.send_signal(signal.SIGTERM)
    # the server stops reading; the connection ends with EOF or a reset
    try:
        rest = recv_all(s)
    except ConnectionResetError:
        rest = b""
    assert rest == b""
    assert echo.proc.wait(T) == 0
    s.close()


def fill_until_stalled(s, stall=0.3, limit=64 << 20):
    """Sends without reading until nothing more goes for `stall` seconds."""
    s.setblocking(False)
    chunk = b"f" * (1 << 16)
    sent, since = 0, None
    while sent < limit:
        _, w, _ = select.select([], [s], [], 0.05)
        if not w:
            since = since or time.monotonic()
            if time.monotonic() - since > stall:
                break
            continue
        since = None
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            pass
    return sent


def test_stop_with_a_client_that_never_reads(server):
    """The server has echo bytes the client will not take: a stop gives them
    a bounded grace, without spinning meanwhile, then exits 0."""
    srvs = {m: server("echo-server", "-p", "0", "--model", m, "-q") for m in MODELS}
    clients = []
    for s in srvs.values():
        c = connect(s.port)
        assert fill_until_stalled(c) > 0
        clients.append(c)
    t0 = time.monotonic()
    for s in srvs.values():
        s.proc.send_signal(signal.SIGTERM)
    cpu0 = {m: cpu_seconds(s.proc.pid) for m, s in srvs.items()}
    time.sleep(1)
    for m, s in srvs.items():
        assert cpu_seconds(s.proc.pid) - cpu0[m] < 0.3, "%s spins while stopping" % m
    for m, s in srvs.items():
        assert s.proc.wait(15) == 0, m
    assert time.monotonic() - t0 < 12
    for c in clients:
        c.close()


with open(BERTH, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def vm_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def stall_clients(port, n):
    """n clients, with small socket buffers, that send until nothing more
    goes (the server has stopped reading) and never read."""
    socks = []
    for _ in range(n):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        c.settimeout(T)
        c.connect(("127.0.0.1", port))
        c.setblocking(False)
        socks.append(c)
    chunk = b"s" * (64 << 10)
    sent = {c: 0 for c in socks}
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 0.5:
        _, w, _ = select.select([], socks, [], 0.05)
        for c in w:
            try:
                sent[c] += c.send(chunk)
                quiet_since = time.monotonic()
            except BlockingIOError:
                pass
            except OSError:
                pass  # dropped already (a slow machine): counted below
    return socks, sent


def dropped(c):
    """Whether the server has closed c (a reset answers our next send)."""
    try:
        c.send(b"x")
        return False
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize("model", MODELS)
def test_a_client_that_never_reads_is_dropped_after_send_timeout(server, model):
    """Every model drops a client that takes none of its echo for
    --send-timeout, and holds a bounded amount for it meanwhile."""
    n = {"iterative": 1, "fork": 4, "thread": 8}.get(model, 80)
    # 256 KiB held per connection at most, and slack; ASan doubles it (shadow
    # memory, and the quarantine keeps the buffer's smaller earlier copies)
    bound = (n * 400 + 8192) * (2 if SANITIZED else 1)
    s = server("echo-server", "-p", "0", "--model", model, "--send-timeout", "1")
    pid = s.proc.pid
    assert roundtrip(connect(s.port), b"up") == b"up"  # the model is running
    assert s.wait_for("closed$")
    fds0, rss0 = open_fds(pid), vm_kib(pid)
    t0 = time.monotonic()
    socks, sent = stall_clients(s.port, n)
    assert all(sent.values()), "some clients could not send at all"
    if model in ("select", "epoll"):
        # the server keeps at most its high-water mark (256 KiB) plus one read
        # per connection, whatever the client sends
        grew = vm_kib(pid) - rss0
        assert grew < bound, "RSS grew by %d KiB for %d stalled clients" % (grew, n)
    deadline = time.monotonic() + 15
    left = list(socks)
    while left and time.monotonic() < deadline:
        left = [c for c in left if not dropped(c)]
        time.sleep(0.1)
    assert not left, "%d of %d clients still connected after %.1f s" % (
        len(left), n, time.monotonic() - t0)
    assert s.wait_for("closed: timed out", timeout=5), s.output()
    if model in ("select", "epoll"):
        for _ in range(100):
            if open_fds(pid) <= fds0:
                break
            time.sleep(0.05)
        assert open_fds(pid) <= fds0
        assert vm_kib(pid, "VmHWM") - rss0 < bound
    for c in socks:
        c.close()
    # and it still serves
    assert roundtrip(connect(s.port), b"after") == b"after"
    assert s.stop() == 0


def test_send_timeout_usage():
    r = run_berth("echo-server", "--send-timeout", "soon")
    assert r.returncode == 2 and b"bad --send-timeout" in r.stderr, r.stderr
    r = run_berth("echo-server", "--help")
    assert b"--send-timeout SEC" in r.stdout


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_exits_at_once(server, model):
    s = server("echo-server", "-p", "0", "--model", model, "-q")
    assert roundtrip(connect(s.port), b"warm") == b"warm"
    idle = connect(s.port)  # owed nothing: nothing to wait for
    time.sleep(0.2)  # accepted (no output line with -q to poll for)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(5) == 0
    # before: select slept out a 1 s timeout; 0.6 s leaves room for a loaded machine
    assert time.monotonic() - t0 < 0.6, model
    idle.close()


def test_logs_peer_and_byte_counts(server):
    for m in MODELS:
        srv = server("echo-server", "-p", "0", "--model", m)
        s = connect(srv.port)
        local = s.getsockname()
        assert roundtrip(s, b"12345") == b"12345"
        assert srv.wait_for(r"127\.0\.0\.1:%d: 5 bytes in, 5 bytes out" % local[1]), srv.output()
        assert "connection from 127.0.0.1:%d" % local[1] in srv.output()
        assert srv.stop() == 0


# ---- the client CLI ----

def test_client_words(echo):
    r = run_berth("echo", "-p", str(echo.port), "-i", "127.0.0.1", "-s", "Hello,", "server!")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello, server!\n"


def test_client_stdin(echo):
    data = os.urandom(3 << 20)
    r = run_berth("echo", "-p", str(echo.port), input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_client_multiconn(echo):
    r = run_berth("echo", "-p", str(echo.port), "--connections", "50", "--messages", "3",
                  "--size", "10k")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"50 connections, %d bytes echoed" % (50 * 3 * 10240)), r.stdout
    assert b"MiB/s" in r.stdout


def test_client_multiconn_detects_a_bad_echo(server):
    """A server that answers wrongly must be caught: a Python 'echo' that
    flips one byte."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port = ls.getsockname()[1]

    def bad():
        c, _ = ls.accept()
        data = recv_all(c)
        c.sendall(data[:100] + bytes([data[100] ^ 1]) + data[101:])
        c.close()

    t = threading.Thread(target=bad, daemon=True)
    t.start()
    r = run_berth("echo", "-p", str(port), "--connections", "1", "--messages", "1",
                  "--size", "1000")
    assert r.returncode != 0
    assert b"byte 100" in r.stderr, r.stderr
    ls.close()


def test_client_connection_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound, never listening: nothing answers there
    r = run_berth("echo", "-p", str(port), "-s", "hi")
    assert r.returncode == 1
    assert r.stderr.decode() == ("berth: cannot connect to 127.0.0.1:%d: connection refused; "
                                 "is the server running?\n" % port)
    r = run_berth("echo", "-p", str(port), "--connections", "3")
    assert r.returncode == 1 and b"connection refused" in r.stderr


def test_client_timeout_never_hangs():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)  # accepts (in the kernel) but never answers
    t0 = time.monotonic()
    r = run_berth("echo", "-p", str(ls.getsockname()[1]), "-s", "anyone?", "--timeout", "0.5")
    assert time.monotonic() - t0 < 5
    assert r.returncode == 1
    assert b"timed out" in r.stderr
    ls.close()


class EchoNoClose:
    """A tiny server that echoes what one client sends (up to `keep` bytes of
    it) once the client half-closes, then keeps the connection open."""

    def __init__(self, keep=None):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.keep = keep
        self.done = threading.Event()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        c, _ = self.ls.accept()
        c.settimeout(T)
        data = recv_all(c)
        c.sendall(data if self.keep is None else data[:self.keep])
        self.done.wait(T)
        c.close()
        self.ls.close()


def test_client_says_the_echo_came_but_the_close_did_not():
    srv = EchoNoClose()
    r = run_berth("echo", "-p", str(srv.port), "-s", "hello", "--timeout", "0.5")
    srv.done.set()
    assert r.returncode == 1
    assert r.stdout == b"hello"
    err = r.stderr.decode()
    assert "received the echo (5 bytes), but the server did not close the connection " \
           "within 0.5 s" in err, err
    assert "reachable" not in err, err


def test_client_says_how_much_of_the_echo_came():
    srv = EchoNoClose(keep=2)
    r = run_berth("echo", "-p", str(srv.port), "-s", "hello", "--timeout", "0.5")
    srv.done.set()
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "received 2 of 5 bytes of the echo, then nothing for 0.5 s" in err, err
    assert "reachable" not in err, err


def test_help_and_usage_errors():
    for cmd in ("echo-server", "echo"):
        r = run_berth(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith(b"usage: berth " + cmd.encode())
    r = run_berth("echo-server", "--model", "coroutines")
    assert r.returncode == 2 and b"unknown model" in r.stderr
    r = run_berth("echo-server", "-p", "70000")
    assert r.returncode == 2 and b"bad port" in r.stderr
    r = run_berth("echo", "--connections", "0")
    assert r.returncode == 2


# ---- addresses ----

def test_port_in_use(server):
    first = server("echo-server", "-p", "0")
    r = run_berth("echo-server", "-p", str(first.port), timeout=10)
    assert r.returncode != 0
    assert b"in use" in r.stderr, r.stderr
    assert r.stderr.startswith(b"berth: cannot listen on 127.0.0.1:%d: " % first.port)
    assert first.alive()


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not have_ipv6(), reason="no ::1 here")
@pytest.mark.parametrize("model", ["thread", "epoll"])
def test_ipv6(server, model):
    s = server("echo-server", "-b", "::1", "-p", "0", "--model", model)
    assert "listening on [::1]:%d" % s.port in s.output()
    c = connect(s.port, "::1", socket.AF_INET6)
    assert roundtrip(c, b"over six") == b"over six"
    r = run_berth("echo", "-i", "::1", "-p", str(s.port), "-s", "v6")
    assert r.returncode == 0 and r.stdout == b"v6\n", r.stderr


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 here")
def test_dual_stack(server):
    s = server("echo-server", "-b", "::", "-p", "0")
    assert roundtrip(connect(s.port, "::1", socket.AF_INET6), b"six") == b"six"
    assert roundtrip(connect(s.port, "127.0.0.1"), b"four") == b"four"


@pytest.mark.skipif(not have_ipv6(), reason="no ::1 here")
def test_client_reaches_localhost_bound_on_ipv6_only(server):
    """-i localhost tries every loopback address, not just the first one
    the resolver gives (often 127.0.0.1 alone)."""
    s = server("echo-server", "-b", "::1", "-p", "0", "-q")
    r = run_berth("echo", "-i", "localhost", "-p", str(s.port), "-s", "six")
    assert r.returncode == 0 and r.stdout == b"six\n", r.stderr


def test_hostname(server):
    s = server("echo-server", "-b", "localhost", "-p", "0")
    r = run_berth("echo", "-i", "localhost", "-p", str(s.port), "-s", "by name")
    assert r.returncode == 0 and r.stdout == b"by name\n", r.stderr


@pytest.mark.parametrize("model", MODELS)
def test_unix_socket(server, tmp_path, model):
    path = str(tmp_path / "echo.sock")
    s = server("echo-server", "-b", "unix:" + path, "--model", model)
    assert s.unix == path
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(T)
    c.connect(path)
    assert roundtrip(c, bytes(range(256))) == bytes(range(256))
    r = run_berth("echo", "-i", "unix:" + path, "-s", "local")
    assert r.returncode == 0 and r.stdout == b"local\n", r.stderr
    assert s.stop() == 0
    assert not os.path.exists(path)


# ---- UDP ----

def udp_sock():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(T)
    return u


def test_udp_keeps_boundaries(server):
    s = server("echo-server", "--udp", "-p", "0", "-q")
    assert "listening on 127.0.0.1:%d (udp" % s.port in s.output()
    u = udp_sock()
    msgs = [b"a", b"", b"b" * 100, bytes(range(256)), os.urandom(60000)]
    for m in msgs:
        u.sendto(m, ("127.0.0.1", s.port))
    for m in msgs:
        got, addr = u.recvfrom(65536)
        assert got == m
        assert addr[1] == s.port
    u.close()
    assert s.stop() == 0


def test_udp_answers_each_sender(server):
    s = server("echo-server", "--udp", "-p", "0")
    a, b = udp_sock(), udp_sock()
    a.sendto(b"from a", ("127.0.0.1", s.port))
    b.sendto(b"from b", ("127.0.0.1", s.port))
    assert a.recvfrom(100)[0] == b"from a"
    assert b.recvfrom(100)[0] == b"from b"
    assert s.wait_for(r"127\.0\.0\.1:%d: 6 bytes in, 6 bytes out" % a.getsockname()[1])
    a.close()
    b.close()


def test_udp_client_cli(server):
    s = server("echo-server", "--udp", "-p", "0")
    r = run_berth("echo", "--udp", "-p", str(s.port), "-s", "Hello, server!")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello, server!\n"
    r = run_berth("echo", "--udp", "-p", str(s.port), input=b"from stdin\x00\xff")
    assert r.returncode == 0 and r.stdout == b"from stdin\x00\xff"


def test_udp_client_no_server():
    u = udp_sock()
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    u.close()
    r = run_berth("echo", "--udp", "-p", str(port), "-s", "x", "--timeout", "1")
    assert r.returncode == 1
    assert b"connection refused" in r.stderr or b"timed out" in r.stderr


# ---- running out of descriptors ----

@pytest.mark.parametrize("model", ["thread", "select", "epoll"])
def test_out_of_descriptors_pauses_instead_of_spinning(server, model):
    s = server("echo-server", "-p", "0", "--model", model, "-q")
    resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE, (32, 32))
    socks = [connect(s.port) for _ in range(50)]  # more than it may hold
    assert s.wait_for("cannot accept a connection: too many open files", timeout=5), s.output()
    before = cpu_seconds(s.proc.pid)
    time.sleep(1)
    assert cpu_seconds(s.proc.pid) - before < 0.5, "accept loop spins while out of fds"
    for c in socks:
        c.close()
    assert roundtrip(connect(s.port), b"again") == b"again"
    assert s.stop() == 0


# ---- select's limit ----

def test_select_refuses_past_fd_setsize(server):
    """select(2) cannot watch descriptor 1024 or above: such a connection is
    refused with a clear line, and the server keeps serving the others."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2200:
        pytest.skip("needs 2200 file descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (2200, hard))
    try:
        for quiet in (True, False):
            s = server("echo-server", "-p", "0", "--model", "select", *(["-q"] if quiet else []))
            socks = []
            try:
                for _ in range(1040):
                    socks.append(connect(s.port))
                # the last ones are closed by the server
                last = socks.pop()
                last.settimeout(10)
                assert last.recv(1) == b""
                last.close()
                assert roundtrip(socks.pop(0), b"first") == b"first"
                if not quiet:  # the line comes through a pipe: wait for it (bounded)
                    assert s.wait_for("past FD_SETSIZE", 5)
                lines = [l for l in s.output().splitlines() if "past FD_SETSIZE" in l]
                if quiet:
                    assert lines == [], lines  # -q silences them
                else:
                    # one line for a burst, not one per connection
                    assert len(lines) == 1, lines
                    assert "use --model epoll" in lines[0]
            finally:
                for c in socks:
                    c.close()
            assert s.stop() == 0
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
