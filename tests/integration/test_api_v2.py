"""The embedding API v2 (issue 12): streamed request bodies with per-route
limits and 100-continue/417/413, streamed answers (chunked, declared length,
file regions, trailers, backpressure), answers deferred to other threads
with clients that vanish, path patterns and query parameters — over
HTTP/1.1 and h2 where they apply — and the examples that show them
(sse_clock, deferred, json_api).  api2_prog.c is the program under test."""
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, STATIC_LIBS, Server

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CURL = shutil.which("curl")
PORT_LINE = re.compile(rb"port (\d+)")
SERVING = re.compile(rb"serving on http://[^:]+:(\d+)/")


def sanitizer_flags():
    out = subprocess.run(["nm", os.path.join(BUILD, "libberth.a")], capture_output=True,
                         text=True).stdout
    return (["-fsanitize=address"] if "__asan_" in out else []) + \
        (["-fsanitize=undefined"] if "__ubsan_" in out else [])


@pytest.fixture(scope="module")
def prog_path(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("api2") / "api2_prog")
    cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror"] + sanitizer_flags() + \
        ["-I" + os.path.join(REPO, "include"), os.path.join(HERE, "api2_prog.c"), "-o", out,
         os.path.join(BUILD, "libberth.a")] + STATIC_LIBS
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def sanitizer_clean(s):
    bad = [l for l in s.lines if b"Sanitizer" in l or b"runtime error" in l]
    assert not bad, bad


@pytest.fixture(scope="module")
def srv(prog_path):
    s = Server([], exe=prog_path, ready=PORT_LINE)
    yield s
    assert s.proc.poll() is None, "the server died"
    s.kill()
    sanitizer_clean(s)


def wait_until(cond, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def get(srv, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def curl(srv, path, *args, h2=False, timeout=60):
    flags = ["--http2-prior-knowledge"] if h2 else ["--http1.1"]
    p = subprocess.run([CURL, "-sS"] + flags + list(args) + ["http://127.0.0.1:%d%s" % (srv.port, path)],
                       capture_output=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p.stdout


def gone_count(srv):
    return int(get(srv, "/gonecount")[1])


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


def raw(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def read_until(s, marker, limit=1 << 20):
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


# ---- request bodies ----

needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


@needs_curl
@pytest.mark.parametrize("how", ["length", "chunked", "chunked-paused", "h2", "h2-paused"])
def test_streamed_body_is_counted_and_checksummed(srv, tmp_path, how):
    data = os.urandom(3 << 20)
    f = tmp_path / "body"
    f.write_bytes(data)
    args = ["--data-binary", "@" + str(f)]
    path = "/count?pause=1" if how.endswith("paused") else "/count"
    if how.startswith("chunked"):
        args += ["-H", "Transfer-Encoding: chunked"]
    out = curl(srv, path, *args, h2=how.startswith("h2")).decode()
    assert out == "%d %s" % (len(data), hashlib.sha256(data).hexdigest())


def test_one_gib_streamed_upload_with_bounded_memory(srv):
    """1 GiB generated on the fly, hashed on both sides; the server's peak
    RSS stays far below the body (the body never sits in memory)."""
    total, piece = 1 << 30, os.urandom(1 << 20)
    s = raw(srv.port)
    s.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
    h = hashlib.sha256()
    before = rss_kib(srv.proc.pid)
    peak = before
    for i in range(total // len(piece)):
        s.sendall(piece)
        h.update(piece)
        if i % 64 == 0:
            peak = max(peak, rss_kib(srv.proc.pid))
    resp = read_until(s, b"\r\n\r\n")
    while len(resp.split(b"\r\n\r\n", 1)[1]) < 75:
        resp += s.recv(4096)
    s.close()
    head, body = resp.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body.decode() == "%d %s" % (total, h.hexdigest())
    assert peak - before < 32 * 1024, (before, peak)  # KiB: far below 1 GiB


def test_expect_100_continue_only_when_the_body_is_wanted(srv):
    s = raw(srv.port)
    s.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    got = read_until(s, b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), got
    s.sendall(b"hello")
    got = read_until(s, b"2cf24dba")
    assert b"200 OK" in got and b"5 2cf24dba" in got
    s.close()


def test_expect_on_a_refused_length_is_413_without_a_100(srv):
    s = raw(srv.port)
    s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
              b"Expect: 100-continue\r\n\r\n")
    got = read_until(s, b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 413"), got
    assert b"100 Continue" not in got
    s.close()


def test_an_unsupported_expectation_is_417(srv):
    r, _ = get(srv, "/small", "POST", body=b"abc", headers={"Expect": "fly"})
    assert r.status == 417


def test_route_limits_are_the_routes_own(srv):
    r, body = get(srv, "/small", "POST", body=b"0123456789")
    assert (r.status, body) == (200, b"0123456789")
    r, _ = get(srv, "/small", "POST", body=b"x" * 17)
    assert r.status == 413
    big = os.urandom(3 << 20)  # over the server's max_body (1 MiB), under /big's 4 MiB
    r, body = get(srv, "/big", "POST", body=big)
    assert (r.status, body) == (200, str(len(big)).encode())
    r, _ = get(srv, "/big", "POST", body=b"x" * ((4 << 20) + 1))
    assert r.status == 413
    r, body = get(srv, "/huge", "POST", body=big)  # max_body ULLONG_MAX: no overflow
    assert (r.status, body) == (200, str(len(big)).encode())


@pytest.mark.parametrize("path", ["/small", "/count16"])
def test_length_over_a_streamed_route_limit_is_413(srv, path):
    r, _ = get(srv, path, "POST", body=b"x" * 17)
    assert r.status == 413
    r, body = get(srv, path, "POST", body=b"x" * 16)
    assert r.status == 200


def test_chunked_streamed_body_over_its_limit_is_413(srv):
    s = raw(srv.port)
    s.sendall(b"POST /count16 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n")
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 413")
    s.close()


def test_malformed_chunked_streamed_body_is_400(srv):
    s = raw(srv.port)
    s.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"zz\r\nabc\r\n")
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 400")
    s.close()


def test_chunked_body_over_a_route_limit_is_413(srv):
    s = raw(srv.port)
    s.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n")
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 413")
    s.close()


# ---- streamed answers ----

def read_chunked(s, first):
    """The decoded body and the trailer lines of a chunked answer after its head."""
    buf, body = first, b""
    while True:
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        line, buf = buf.split(b"\r\n", 1)
        n = int(line, 16)
        if n == 0:
            while not buf.endswith(b"\r\n\r\n") and buf != b"\r\n":
                buf += s.recv(65536)
            return body, buf
        while len(buf) < n + 2:
            buf += s.recv(65536)
        body, buf = body + buf[:n], buf[n + 2:]


def test_chunked_stream_arrives_piece_by_piece_with_its_trailer(srv):
    # "line 24" not there yet when "line 0" is read: the handler is still
    # writing (25 lines, 20 ms apart).  A test held up for half a second
    # finds them all at once; a server that buffers the stream does every
    # time: a few tries.
    for _ in range(3):
        s = raw(srv.port)
        s.sendall(b"GET /stream?n=25 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_until(s, b"\r\n\r\n")
        hdr, rest = head.split(b"\r\n\r\n", 1)
        assert b"Transfer-Encoding: chunked" in hdr
        while b"line 0" not in rest:
            rest += s.recv(4096)
        pieces = b"line 24" not in rest
        body, trailers = read_chunked(s, rest)
        assert body == b"".join(b"line %d\n" % i for i in range(25))
        assert b"X-Lines: done" in trailers
        s.close()
        if pieces:
            break
    assert pieces, "the 25 lines came at once in 3 tries: buffered, not streamed"


@needs_curl
def test_h2_stream_is_incremental_with_trailers(srv):
    p = subprocess.Popen([CURL, "-sS", "-N", "-v", "--http2-prior-knowledge",
                          "http://127.0.0.1:%d/stream?n=25" % srv.port],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for attempt in range(3):  # see test_chunked_stream_arrives_piece_by_piece_with_its_trailer
        if attempt:
            p = subprocess.Popen(p.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stdout.readline()
        assert first == b"line 0\n"
        pieces = p.poll() is None  # more is coming
        rest, err = p.communicate(timeout=30)
        assert first + rest == b"".join(b"line %d\n" % i for i in range(25))
        assert b"x-lines: done" in err
        if pieces:
            break
    assert pieces, "curl had the 25 lines at once in 3 tries: buffered, not streamed"


@needs_curl
@pytest.mark.parametrize("h2", [False, True])
def test_declared_length_with_a_file_region(srv, h2):
    out = curl(srv, "/len", "-i", h2=h2)
    head, body = out.split(b"\r\n\r\n", 1)
    assert body == b"head 23456789ab tail"
    assert b"content-length: 20" in head.lower()
    assert b"transfer-encoding" not in head.lower()


@needs_curl
@pytest.mark.parametrize("h2", [False, True])
def test_head_of_a_streamed_answer_has_no_body(srv, h2):
    out = curl(srv, "/len", "-I", h2=h2)
    assert b"content-length: 20" in out.lower()
    assert not out.split(b"\r\n\r\n", 1)[1]


def test_head_of_a_chunked_stream_ends_at_its_head(srv):
    s = raw(srv.port)
    s.sendall(b"HEAD /stream?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /q?name=next HTTP/1.1\r\nHost: x\r\n\r\n")
    got = read_until(s, b"next")
    first, rest = got.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 200"), rest[:40]  # no chunk, no terminator between
    s.close()


def test_a_handle_released_unanswered_gets_500(srv):
    r, _ = get(srv, "/drop")
    assert r.status == 500


def test_trailer_on_the_wire(srv):
    s = raw(srv.port)
    s.sendall(b"GET /trailer HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
    head = read_until(s, b"\r\n\r\n")
    _, rest = head.split(b"\r\n\r\n", 1)
    body, trailers = read_chunked(s, rest)
    assert body == b"body\n" and trailers.startswith(b"X-Sum: 42\r\n")
    for never in (b"content-type", b"set-cookie", b"cache-control"):  # RFC 9110 §6.5.1
        assert never not in trailers.lower()
    s.close()


def test_http10_stream_is_close_delimited(srv):
    s = raw(srv.port)
    s.sendall(b"GET /stream?n=3 HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert body == b"line 0\nline 1\nline 2\n"


@pytest.mark.parametrize("h2", [False, True])
def test_backpressure_whole_flood_arrives(srv, h2):
    if h2 and CURL is None:
        pytest.skip("curl is not installed")
    if h2:
        out = curl(srv, "/flood", h2=True)
        assert len(out) == 64 << 20
    else:
        r, body = get(srv, "/flood")
        assert len(body) == 64 << 20 and body == bytes(64 << 20)


def test_a_client_that_never_reads_costs_a_bounded_queue(srv):
    before_gone = gone_count(srv)
    before = rss_kib(srv.proc.pid)
    s = raw(srv.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # let it fill what the socket and queue take
    for _ in range(5):  # others are served meanwhile
        r, body = get(srv, "/q?name=still")
        assert body == b"still"
    assert rss_kib(srv.proc.pid) - before < 16 * 1024  # KiB; the answer is 64 MiB
    s.close()
    wait_until(lambda: gone_count(srv) > before_gone, what="gone after the reader left")


# ---- deferred answers ----

@pytest.mark.parametrize("h2", [False, True])
def test_deferred_answer_from_another_thread(srv, h2):
    if h2:
        if CURL is None:
            pytest.skip("curl is not installed")
        out = curl(srv, "/defer?ms=30", "-i", h2=True)
        assert out.startswith(b"HTTP/2 200") and b"x-deferred: yes" in out and out.endswith(b"deferred\n")
    else:
        r, body = get(srv, "/defer?ms=30")
        assert (r.status, r.getheader("X-Deferred"), body) == (200, "yes", b"deferred\n")


def test_gone_is_reported_when_the_client_leaves(srv):
    before = gone_count(srv)
    s = raw(srv.port)
    s.sendall(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    s.close()
    wait_until(lambda: gone_count(srv) > before, what="the gone callback")


def test_deferred_under_load_with_clients_vanishing(srv):
    ok, errors = [], []

    def client(i):
        try:
            s = raw(srv.port)
            s.sendall(b"GET /defer?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (20 + i % 40))
            if i % 2:
                s.close()  # leaves before the answer
                return
            got = read_until(s, b"deferred\n")
            s.close()
            ok.append(got.startswith(b"HTTP/1.1 200"))
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(ok) == 100 and all(ok)
    assert srv.proc.poll() is None
    r, body = get(srv, "/defer?ms=1")
    assert body == b"deferred\n"


def test_a_stop_waits_for_a_deferred_answer(prog_path):
    """SIGTERM while an answer is kept: the drain waits for it (the client
    gets it whole), then the server exits cleanly."""
    s = Server([], exe=prog_path, ready=PORT_LINE)
    try:
        c = raw(s.port)
        c.sendall(b"GET /defer?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        s.proc.terminate()
        got = read_until(c, b"deferred\n")
        assert got.startswith(b"HTTP/1.1 200") and b"Connection: close" in got
        assert s.proc.wait(timeout=20) == 0
        sanitizer_clean(s)
    finally:
        s.kill()


def test_pipelined_requests_wait_for_a_kept_answer(srv):
    s = raw(srv.port)
    s.sendall(b"GET /defer?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /q?name=second HTTP/1.1\r\nHost: x\r\n\r\n")
    got = read_until(s, b"second")
    assert got.index(b"deferred\n") < got.index(b"second")
    s.close()


# ---- routes and queries ----

@pytest.mark.parametrize("h2", [False, True])
def test_path_parameters_and_remainder(srv, h2):
    if h2 and CURL is None:
        pytest.skip("curl is not installed")
    fetch = (lambda p: curl(srv, p, h2=True)) if h2 else (lambda p: get(srv, p)[1])
    assert fetch("/users/42/posts/a/b") == b"id=42 rest=a/b"
    assert fetch("/users/x%20y/posts/") == b"id=x y rest="
    assert get(srv, "/users//posts/a")[0].status == 404  # ":id" takes a non-empty segment
    assert get(srv, "/users/42/other")[0].status == 404


def test_query_parameters_are_decoded(srv):
    assert get(srv, "/q?x=1&name=a%20b+c%2B")[1] == b"a b c+"
    assert get(srv, "/q?name")[1] == b""
    r, body = get(srv, "/q?name=%zz")
    assert r.status == 400 and body == b"error -4008"
    assert get(srv, "/q?other=1")[1] == b"error -2"


@needs_curl
@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
def test_streams_and_bodies_over_tls(prog_path, tmp_path, proto):
    """The same over HTTPS: h1 through the TLS transport, h2 chosen by ALPN."""
    s = Server(["tls"], exe=prog_path, ready=PORT_LINE)
    try:
        base = "https://127.0.0.1:%d" % s.port
        p = subprocess.run([CURL, "-sSk", proto, base + "/stream?n=4"], capture_output=True,
                           timeout=60)
        assert p.stdout == b"line 0\nline 1\nline 2\nline 3\n", p.stderr
        data = os.urandom(2 << 20)
        (tmp_path / "b").write_bytes(data)
        p = subprocess.run([CURL, "-sSk", proto, "--data-binary", "@" + str(tmp_path / "b"),
                            base + "/count?pause=1"], capture_output=True, timeout=60)
        assert p.stdout.decode() == "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
        p = subprocess.run([CURL, "-sSk", proto, base + "/defer?ms=20"], capture_output=True,
                           timeout=60)
        assert p.stdout == b"deferred\n"
        assert s.proc.poll() is None
        sanitizer_clean(s)
    finally:
        s.kill()


# ---- the examples ----

def example(name, *args):
    return Server(list(args) or ["0"], exe=os.path.join(BUILD, "examples", name), ready=SERVING)


def test_example_sse_clock_streams_events():
    s = example("sse_clock", "0", "50")
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"GET /clock HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_until(c, b"id: 3\n")
        assert b"Content-Type: text/event-stream" in data
        assert re.search(rb"data: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n\n", data)
        c.close()
        r = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        r.request("GET", "/")
        assert b"EventSource" in r.getresponse().read()
    finally:
        s.kill()


def test_example_deferred_answers_from_its_pool():
    s = example("deferred", "0", "4")
    try:
        def one(_):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            c.request("GET", "/work?ms=50")
            return c.getresponse().read()
        t0 = time.monotonic()
        results = []
        threads = [threading.Thread(target=lambda: results.append(one(0))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == [b"done after 50 ms\n"] * 8
        assert time.monotonic() - t0 < 10
        # a pool thread counts its job once berth_respond has returned, which
        # can be after its client read the answer: the count is polled
        def stats():
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            c.request("GET", "/stats")
            return c.getresponse().read()
        deadline = time.monotonic() + 10
        while not stats().startswith(b"done 8 ") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stats().startswith(b"done 8 "), stats()
    finally:
        s.kill()


def test_example_json_api():
    s = example("json_api")
    try:
        def call(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            c.request(method, path, body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read(), r
        st, body, r = call("POST", "/notes", json.dumps({"text": "hello"}))
        assert st == 201 and json.loads(body) == {"id": 1, "text": "hello"}
        assert r.getheader("Location") == "/notes/1"
        assert call("GET", "/notes/1")[:2] == (200, b'{"id":1,"text":"hello"}')
        assert json.loads(call("GET", "/notes")[1]) == [{"id": 1, "text": "hello"}]
        st, body, _ = call("POST", "/notes", "{not json")
        assert st == 400 and "error" in json.loads(body)
        assert call("POST", "/notes", json.dumps({"text": "x" * 70000}))[0] == 413
        assert call("DELETE", "/notes/1")[0] == 204
        assert call("GET", "/notes/1")[0] == 404
    finally:
        s.kill()
