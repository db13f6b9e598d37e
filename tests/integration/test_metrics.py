"""--metrics (Prometheus text exposition, parsed strictly), --status (the
live connection table as JSON) and `berth top --once`, against the real
server with raw sockets, http.client and ssl."""
import json
import os
import re
import socket
import ssl
import struct
import time

import pytest

from conftest import BERTH, Server, run_berth

HOST = "127.0.0.1"
T = 10
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")
BIG = 8 << 20


def make_root(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"hello metrics\n")
    (tmp_path / "b.txt").write_bytes(b"b" * 1000)
    (tmp_path / "big.bin").write_bytes(b"\0" * BIG)
    return tmp_path


def start(root, *extra, workers=1, ready=None):
    args = ["serve", "0", "-b", HOST, "-d", str(root), "--workers", str(workers), "-q",
            "--metrics", "/metrics", "--status", "/status"] + list(extra)
    return Server(args, ready=ready) if ready else Server(args)


def connect(port, tls=False):
    s = socket.create_connection((HOST, port), timeout=T)
    if tls:
        s = ssl._create_unverified_context().wrap_socket(s, server_hostname="localhost")
    return s


def read_response(s, head_only=False):
    """One response from s: (status, headers dict, body, raw byte count)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed before a response head: %r" % data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = 0 if head_only else int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    assert len(rest) == n, "more bytes than the response announced"
    return status, hdrs, rest, len(head) + 4 + n


def get(port, path, method="GET", tls=False):
    """A request on a new connection that closes: (status, headers, body, raw bytes)."""
    with connect(port, tls) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % (method, path)).encode())
        return read_response(s, head_only=method == "HEAD")


# ------------------------------------------------- the strict little parser

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text):
    """{(name, frozenset(labels)): value}, {name: type}; asserts the text
    format 0.0.4 rules: HELP and TYPE once per family, before its samples,
    known types, counters named *_total, no repeated series, one newline at
    the end of every line."""
    assert text.endswith("\n")
    helps, types, samples = {}, {}, {}
    seen_families = []
    for line in text[:-1].split("\n"):
        assert line, "an empty line"
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[0] == "#" and parts[1] in ("HELP", "TYPE") and len(parts) == 4, line
            name = parts[2]
            assert re.fullmatch(NAME, name), line
            if parts[1] == "HELP":
                assert name not in helps, "HELP twice: " + name
                assert parts[3].strip(), "an empty HELP"
                helps[name] = parts[3]
            else:
                assert name not in types, "TYPE twice: " + name
                assert name in helps, "TYPE before HELP: " + name
                assert parts[3] in ("counter", "gauge"), line
                types[name] = parts[3]
                seen_families.append(name)
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        assert name in types and name in helps, "a sample before its HELP/TYPE: " + name
        assert seen_families[-1] == name, "samples of %s outside its family block" % name
        lab = []
        if labels is not None:
            rest = labels
            while rest:
                lm = LABEL_RE.match(rest)
                assert lm, "bad labels: %r" % labels
                lab.append((lm.group(1), lm.group(2)))
                rest = rest[lm.end():]
                if rest:
                    assert rest[0] == ",", "bad labels: %r" % labels
                    rest = rest[1:]
            assert len({k for k, _ in lab}) == len(lab), "a label twice: " + line
        v = float(value)
        if types[name] == "counter":
            assert name.endswith("_total"), name
            assert v >= 0 and v == int(v), line
        key = (name, frozenset(lab))
        assert key not in samples, "a series twice: " + line
        samples[key] = v
    for name in helps:
        assert name in types, "HELP without TYPE: " + name
    return samples, types


def scrape(port, tls=False):
    status, hdrs, body, raw = get(port, "/metrics", tls=tls)
    assert status == 200
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    samples, types = parse_exposition(body.decode())
    return samples, types, raw


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def assert_monotonic(s1, t1, s2):
    for key, v in s1.items():
        if t1[key[0]] == "counter":
            assert s2.get(key, 0) >= v, "counter went down: %r %s -> %s" % (key, v, s2.get(key))


def poll(fn, what, timeout=15.0):
    """fn() until it returns something true, bounded; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


# ------------------------------------------------------------------ metrics

@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_counts_requests_by_method_and_status(tmp_path, workers):
    srv = start(make_root(tmp_path), workers=workers)
    try:
        s1, t1, raw1 = scrape(srv.port)
        assert val(s1, "berth_workers") == workers
        assert val(s1, "berth_uptime_seconds") >= 0
        received = 0
        with connect(srv.port) as c:  # keep-alive: three answers on one connection
            for _ in range(3):
                c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                st, _, body, n = read_response(c)
                assert st == 200 and body == b"hello metrics\n"
                received += n
        for path, method, want in [("/nope", "GET", 404), ("/nope2", "GET", 404),
                                   ("/a.txt", "HEAD", 200), ("/a.txt", "POST", 405),
                                   ("/a.txt", "DELETE", 405), ("/b.txt", "OPTIONS", 204)]:
            st, _, _, n = get(srv.port, path, method)
            assert st == want
            received += n
        s2, t2, _ = scrape(srv.port)
        assert_monotonic(s1, t1, s2)

        def delta(method, code):
            k = dict(method=method, code=str(code))
            return val(s2, "berth_http_requests_total", **k) - val(
                s1, "berth_http_requests_total", **k)
        # the first scrape's own answer is counted after it was made
        assert delta("GET", 200) == 3 + 1
        assert delta("GET", 404) == 2
        assert delta("HEAD", 200) == 1
        assert delta("POST", 405) == 1
        assert delta("DELETE", 405) == 1
        assert delta("OPTIONS", 204) == 1
        total = lambda s: sum(v for (n, _), v in s.items() if n == "berth_http_requests_total")
        assert total(s2) - total(s1) == 3 + 1 + 6
        # bytes: every byte this test read, and the first scrape's answer
        assert (val(s2, "berth_sent_bytes_total") - val(s1, "berth_sent_bytes_total")
                == received + raw1)
        assert val(s2, "berth_received_bytes_total") > val(s1, "berth_received_bytes_total")
        # accepts: the keep-alive connection, six others, the second scrape's
        assert (val(s2, "berth_accepted_connections_total")
                - val(s1, "berth_accepted_connections_total") == 1 + 6 + 1)
    finally:
        srv.kill()


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_open_connections_by_state(tmp_path, workers):
    srv = start(make_root(tmp_path), workers=workers)
    held = []
    try:
        for _ in range(3):  # idle keep-alive
            c = connect(srv.port)
            c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(c)[0] == 200
            held.append(c)
        slow = connect(srv.port)  # a head still arriving
        slow.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
        held.append(slow)

        def states():
            s, _, _ = scrape(srv.port)
            got = {st: val(s, "berth_connections", state=st) for st in
                   ("handshake", "reading_head", "reading_body", "writing", "idle", "draining")}
            # the scrape's own connection is answered while the table is made: idle
            want = dict(handshake=0, reading_head=1, reading_body=0, writing=0, idle=3 + 1,
                        draining=0)
            return got if got == want else None
        poll(states, "3 idle and 1 reading_head connections in the metrics")
        for c in held:
            c.close()
        poll(lambda: (lambda s: val(s, "berth_connections", state="idle") == 1 and
                      val(s, "berth_connections", state="reading_head") == 0)(scrape(srv.port)[0]),
             "the closed connections to leave the gauge")
    finally:
        for c in held:
            c.close()
        srv.kill()


def test_metrics_cache_hits_grow_on_repeated_gets(tmp_path):
    srv = start(make_root(tmp_path))
    try:
        s1, _, _ = scrape(srv.port)
        assert get(srv.port, "/b.txt")[0] == 200
        for _ in range(5):
            assert get(srv.port, "/b.txt")[0] == 200
        s2, _, _ = scrape(srv.port)
        hits = val(s2, "berth_file_cache_hits_total") - val(s1, "berth_file_cache_hits_total")
        misses = (val(s2, "berth_file_cache_misses_total")
                  - val(s1, "berth_file_cache_misses_total"))
        assert misses >= 1  # the first GET built the entry
        # the same second: straight from the entry; a second later: revalidated, still held
        assert hits >= 5 - (misses - 1)
        assert hits + misses >= 6
    finally:
        srv.kill()


def test_metrics_errors_by_kind(tmp_path):
    srv = start(make_root(tmp_path), "--header-timeout", "0.5")
    try:
        s1, t1, _ = scrape(srv.port)
        with connect(srv.port) as c:  # a parse error
            c.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
            assert read_response(c)[0] == 400
        with connect(srv.port) as c:  # a head that never ends: 408
            c.sendall(b"GET /a.txt HTTP/1.1\r\n")
            assert read_response(c)[0] == 408
        # a client that resets a download it does not read
        c = connect(srv.port)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(1024).startswith(b"HTTP/1.1 200")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        s2 = poll(lambda: (lambda s: s if val(s, "berth_errors_total", kind="reset") >= 1
                           else None)(scrape(srv.port)[0]), "the reset to be counted")
        assert_monotonic(s1, t1, s2)
        assert val(s2, "berth_errors_total", kind="parse") - val(
            s1, "berth_errors_total", kind="parse") == 1
        assert val(s2, "berth_errors_total", kind="timeout") - val(
            s1, "berth_errors_total", kind="timeout") == 1
        assert val(s2, "berth_http_requests_total", method="other", code="408") == 1
        assert val(s2, "berth_http_requests_total", method="other", code="400") == 1
    finally:
        srv.kill()


def test_metrics_tls_handshakes(tmp_path):
    srv = start(make_root(tmp_path), "--tls-self-signed", ready=HTTPS_RE)
    try:
        s1, t1, _ = scrape(srv.port, tls=True)
        assert get(srv.port, "/a.txt", tls=True)[0] == 200
        assert get(srv.port, "/b.txt", tls=True)[0] == 200
        with connect(srv.port) as c:  # plaintext HTTP to the TLS port: a failed handshake
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            c.settimeout(T)
            while c.recv(4096):
                pass
        s2, _, _ = scrape(srv.port, tls=True)
        assert_monotonic(s1, t1, s2)
        ok = lambda s: val(s, "berth_tls_handshakes_total", result="ok")
        failed = lambda s: val(s, "berth_tls_handshakes_total", result="failed")
        assert ok(s1) >= 1
        assert ok(s2) - ok(s1) == 2 + 1  # two GETs and the second scrape's connection
        assert failed(s2) - failed(s1) == 1
    finally:
        srv.kill()


def test_metrics_head_and_other_methods(tmp_path):
    srv = start(make_root(tmp_path))
    try:
        st, hdrs, body, _ = get(srv.port, "/metrics", "HEAD")
        assert st == 200 and body == b"" and int(hdrs["content-length"]) > 0
        st, hdrs, _, _ = get(srv.port, "/metrics", "POST")
        assert st == 405 and hdrs["allow"] == "GET, HEAD"
        st, _, body, _ = get(srv.port, "/metrics?x=1")
        assert st == 200 and b"berth_uptime_seconds" in body
        assert get(srv.port, "/metrics/")[0] == 404  # an exact path, nothing below it
    finally:
        srv.kill()


# ------------------------------------------------------------------- status

def status_doc(port):
    st, hdrs, body, _ = get(port, "/status")
    assert st == 200 and hdrs["content-type"] == "application/json"
    return json.loads(body)


def hold_connections(port, root):
    """An idle keep-alive connection, one sending a slow head, one
    downloading slowly, one whose body is being dropped: {name: socket}."""
    idle = connect(port)
    idle.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(idle)[0] == 200
    head = connect(port)
    head.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
    down = connect(port)
    down.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    down.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    body = connect(port)
    body.sendall(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789")
    return {"idle": idle, "head": head, "down": down, "body": body}


@pytest.mark.parametrize("workers", [1, 2])
def test_status_lists_held_connections(tmp_path, workers):
    root = make_root(tmp_path)
    srv = start(root, workers=workers)
    held = {}
    try:
        held = hold_connections(srv.port, root)
        ports = {name: s.getsockname()[1] for name, s in held.items()}
        want = {"idle": "idle", "head": "reading_head", "down": "writing", "body": "reading_body"}

        def rows():
            doc = status_doc(srv.port)
            by_port = {r["peer_port"]: r for r in doc["connections"]}
            got = {name: by_port.get(p) for name, p in ports.items()}
            if all(got[n] and got[n]["state"] == want[n] for n in want):
                return doc, got
            return None
        doc, got = poll(rows, "the held connections in their states")
        assert doc["server"] == "berth" and re.fullmatch(r"\d+\.\d+\.\d+", doc["version"])
        assert doc["workers"] == workers and len(doc["worker_parts"]) == workers
        assert doc["uptime"] >= 0
        for name, r in got.items():
            assert r["peer"] == "127.0.0.1"
            assert r["local_port"] == srv.port
            assert r["protocol"] == "http/1.1" and r["tls"] is False
            assert 0 <= r["idle"] <= r["age"] < 60
            assert r["bytes_in"] > 0
            assert 0 <= r["worker"] < workers
        assert got["idle"]["requests"] == 1 and got["idle"]["target"] == "/a.txt"
        assert got["idle"]["bytes_out"] > len(b"hello metrics\n")
        assert got["head"]["requests"] == 0
        assert got["head"]["bytes_in"] == len(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        assert got["down"]["target"] == "/big.bin"
        assert 0 < got["down"]["bytes_out"] < BIG
        assert got["body"]["target"] == "/a.txt" and got["body"]["requests"] == 1
        # the table knows only open connections: a closed one leaves it
        held["idle"].close()
        poll(lambda: ports["idle"] not in {r["peer_port"] for r in
                                           status_doc(srv.port)["connections"]},
             "the closed connection to leave the table")

        # berth top --once prints the same table
        out = run_berth("top", "--once", "http://%s:%d/status" % (HOST, srv.port))
        assert out.returncode == 0, out.stderr
        text = out.stdout.decode()
        lines = text.splitlines()
        assert lines[0].startswith("berth ") and ("workers %d" % workers) in lines[0]
        assert lines[1].split()[:4] == ["W", "PEER", "PROTO", "STATE"]
        for name in ("head", "down", "body"):
            row = [l for l in lines if ("127.0.0.1:%d " % ports[name]) in l]
            assert len(row) == 1, text
            assert want[name] in row[0].split()
        assert "\x1b" not in text  # --once: no terminal escapes
        # sorted by bytes: the download first
        assert ("127.0.0.1:%d " % ports["down"]) in lines[2]
        out = run_berth("top", "--once", "--sort", "age", "http://%s:%d/status" % (HOST, srv.port))
        assert out.returncode == 0
        ages = [float(l.split()[4].rstrip("s")) for l in out.stdout.decode().splitlines()[2:]]
        assert ages == sorted(ages, reverse=True) and len(ages) >= 3
    finally:
        for s in held.values():
            s.close()
        srv.kill()


def test_status_tls_connection(tmp_path):
    srv = start(make_root(tmp_path), "--tls-self-signed", ready=HTTPS_RE)
    try:
        c = connect(srv.port, tls=True)
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(c)[0] == 200
        hs = connect(srv.port)  # a TCP connection that never says ClientHello
        port, hport = c.getsockname()[1], hs.getsockname()[1]

        def rows():
            st, _, body, _ = get(srv.port, "/status", tls=True)
            by_port = {r["peer_port"]: r for r in json.loads(body)["connections"]}
            r, h = by_port.get(port), by_port.get(hport)
            return (r, h) if r and h and r["state"] == "idle" else None
        r, h = poll(rows, "the TLS connections in the table")
        assert r["protocol"] == "http/1.1" and r["tls"] is True and r["requests"] == 1
        assert h["protocol"] == "tls" and h["state"] == "handshake"
        c.close()
        hs.close()
    finally:
        srv.kill()


# -------------------------------------------------------------- usage errors

def test_usage_errors():
    out = run_berth("serve", "--metrics", "metrics")
    assert out.returncode == 2 and b"--metrics takes a path such as /metrics" in out.stderr
    out = run_berth("serve", "--status", "/s?x")
    assert out.returncode == 2 and b"--status takes a path" in out.stderr
    out = run_berth("top")
    assert out.returncode == 2 and b"status URL" in out.stderr
    out = run_berth("top", "--once", "https://127.0.0.1:1/status")
    assert out.returncode == 1 and b"cannot use the URL" in out.stderr
    out = run_berth("top", "--sort", "name", "http://127.0.0.1:1/")
    assert out.returncode == 2 and b"--sort is bytes or age" in out.stderr


def test_top_refused_and_not_status(tmp_path):
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    out = run_berth("top", "--once", "http://%s:%d/status" % (HOST, port))
    assert out.returncode == 1 and b"connection refused" in out.stderr
    srv = start(make_root(tmp_path))
    try:
        out = run_berth("top", "--once", "http://%s:%d/a.txt" % (HOST, srv.port))
        assert out.returncode == 1 and b"not a berth status document" in out.stderr
        out = run_berth("top", "--once", "http://%s:%d/nope" % (HOST, srv.port))
        assert out.returncode == 1 and b"answered 404" in out.stderr
    finally:
        srv.kill()


def test_top_shows_c1_controls_as_question_marks(tmp_path):
    """A status document's strings come from a server's clients: C1 controls
    (U+009B is CSI to many terminals) are shown as '?', as C0 ones are."""
    root = make_root(tmp_path)
    doc = {"version": "1", "connections": [
        {"peer": "10.0.0.1\u0085", "peer_port": 1, "protocol": "h2", "state": "idle",
         "target": "/x\u009b2J\u001b[1m\u00a0caf\u00e9"}]}
    (root / "s.json").write_text(json.dumps(doc))  # ASCII: the \u escapes stay
    srv = start(root)
    try:
        out = run_berth("top", "--once", "http://%s:%d/s.json" % (HOST, srv.port))
        assert out.returncode == 0, out.stderr
        text = out.stdout
        assert not re.search(rb"\xc2[\x80-\x9f]|[\x00-\x09\x0b-\x1f\x7f]", text), text
        assert "/x?2J?[1m\u00a0caf\u00e9".encode() in text, text
        assert b"10.0.0.1?:1 " in text, text
    finally:
        srv.kill()


def test_status_h2c_connection(tmp_path):
    srv = start(make_root(tmp_path))
    try:
        c = connect(srv.port)  # HTTP/2 with prior knowledge: the preface and SETTINGS
        c.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        assert c.recv(9)[3] == 4  # the server's SETTINGS
        port = c.getsockname()[1]

        def row():
            return {r["peer_port"]: r for r in status_doc(srv.port)["connections"]}.get(port)
        r = poll(lambda: (lambda x: x if x and x["protocol"] == "h2c" else None)(row()),
                 "the h2c connection in the table")
        assert r["tls"] is False and r["bytes_in"] == 24 + 9 and r["bytes_out"] > 0
        c.close()
    finally:
        srv.kill()


def test_top_interactive_keys(tmp_path):
    """berth top on a terminal (a pty, no tmux): redraws, 'a' sorts by age,
    'q' quits and restores the cursor."""
    import os
    import pty
    import select
    srv = start(make_root(tmp_path))
    pid, fd = pty.fork()
    if pid == 0:  # the child: berth top on the pty
        os.execv(BERTH, [BERTH, "top", "--interval", "0.2",
                         "http://%s:%d/status" % (HOST, srv.port)])
    seen = b""

    def read_until(needle, timeout=15.0):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen:
            left = deadline - time.monotonic()
            assert left > 0, "no %r in %r" % (needle, seen[-500:])
            if select.select([fd], [], [], left)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        assert needle in seen, seen[-500:]
    try:
        read_until(b"sorted by bytes")
        assert b"\x1b[H\x1b[2J" in seen  # drawn like top: home and clear
        os.write(fd, b"a")
        read_until(b"sorted by age")
        os.write(fd, b"q")
        read_until(b"\x1b[?25h")  # the cursor back
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
        srv.kill()


def get_coded(port, path, enc):
    with connect(port) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: %s\r\nConnection: close"
                   "\r\n\r\n" % (path, enc)).encode())
        return read_response(s)


def test_metrics_compression_counters(tmp_path):
    """Results made, bytes in and out, lookups that hit and missed,
    evictions within --compress-cache, bytes held, the helper's queue."""
    pages = {}
    for i in range(4):  # hex: about half compresses away, so four overflow 64 KiB
        pages[i] = os.urandom(30 * 1024).hex().encode()
        (tmp_path / ("p%d.txt" % i)).write_bytes(pages[i])
    big = b"".join(b"export const v%d = %d;\n" % (i, i * 7919 % 100003) for i in range(15000))
    (tmp_path / "big.js").write_bytes(big)
    srv = start(tmp_path, "--compress-cache", "64k")
    try:
        s0, t0, _ = scrape(srv.port)
        for name in ("berth_compress_results_total", "berth_compress_cache_evictions_total"):
            assert t0[name] == "counter" and val(s0, name) == 0
        assert t0["berth_compress_cache_bytes"] == "gauge"
        st, h, body, _ = get_coded(srv.port, "/p0.txt", "br")
        assert st == 200 and h["content-encoding"] == "br"
        s1, _, _ = scrape(srv.port)
        assert val(s1, "berth_compress_results_total") == 1
        assert val(s1, "berth_compress_bytes_total", direction="in") == len(pages[0])
        assert val(s1, "berth_compress_bytes_total", direction="out") == len(body)
        assert val(s1, "berth_compress_cache_lookups_total", result="miss") >= 1
        assert val(s1, "berth_compress_cache_bytes") >= len(body)
        assert val(s1, "berth_compress_cache_results") == 1
        hits = val(s1, "berth_compress_cache_lookups_total", result="hit")
        assert get_coded(srv.port, "/p0.txt", "br")[2] == body  # from the cache
        s2, _, _ = scrape(srv.port)
        assert val(s2, "berth_compress_results_total") == 1
        assert val(s2, "berth_compress_cache_lookups_total", result="hit") > hits
        for i in range(1, 4):
            assert get_coded(srv.port, "/p%d.txt" % i, "br")[1]["content-encoding"] == "br"
        s3, _, _ = scrape(srv.port)
        assert val(s3, "berth_compress_results_total") == 4
        assert val(s3, "berth_compress_cache_evictions_total") >= 1
        assert val(s3, "berth_compress_cache_bytes") <= 64 * 1024
        # a large file: the helper thread's; the queue empties again
        poll(lambda: get_coded(srv.port, "/big.js", "br")[1].get("content-encoding") == "br",
             "big.js compressed by the helper", timeout=30)
        s4 = poll(lambda: (lambda s: s if val(s, "berth_compress_queue") == 0 else None)(
            scrape(srv.port)[0]), "the helper's queue to empty")
        assert val(s4, "berth_compress_results_total") == 5
        assert val(s4, "berth_compress_bytes_total", direction="in") == \
            sum(len(p) for p in pages.values()) + len(big)
    finally:
        srv.kill()
