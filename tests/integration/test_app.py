"""Black-box tests of `berth app-server` and `berth app-client`.

The protocol is implemented here a second time, from its description
(docs/PROTOCOL.md): a 2-byte big-endian header length, a UTF-8 JSON header
with byteorder, content-type, content-encoding and content-length, then the
content.  Messages are encoded the way Python's json.dumps(...,
ensure_ascii=False) writes them, which is what the reference sends."""
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time

import pytest

from conftest import BERTH, run_berth

# The reference server's two non-answers, as its f-strings (libserver.py in
# realpython/materials since 2022) build them: single quotes, the value as is.
def no_match(query):
    return f"No match for '{query}'."


def invalid_action(action):
    return f"Error: invalid action '{action}'."


T = 20  # socket timeout: a hang fails the test instead of the suite

ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


# ---- the protocol, independently ----

def dumps(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def encode(content, content_type="text/json", encoding="utf-8", byteorder=sys.byteorder):
    if content_type == "text/json" and not isinstance(content, bytes):
        content = dumps(content)
    header = dumps({"byteorder": byteorder, "content-type": content_type,
                    "content-encoding": encoding, "content-length": len(content)})
    return struct.pack(">H", len(header)) + header + content


def raw(header_bytes, content=b""):
    return struct.pack(">H", len(header_bytes)) + header_bytes + content


def search(value):
    return encode({"action": "search", "value": value})


class Closed(Exception):
    pass


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise Closed("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def recv_msg(sock):
    """One message: (header dict, content bytes, decoded JSON or None, raw bytes)."""
    pre = recv_exact(sock, 2)
    (hlen,) = struct.unpack(">H", pre)
    hbytes = recv_exact(sock, hlen)
    header = json.loads(hbytes.decode("utf-8"))
    for key in ("byteorder", "content-type", "content-encoding", "content-length"):
        assert key in header, header
    content = recv_exact(sock, header["content-length"])
    obj = None
    if header["content-type"] == "text/json":
        obj = json.loads(content.decode(header["content-encoding"]))
    return header, content, obj, pre + hbytes + content


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def ask(port, message):
    with connect(port) as s:
        s.sendall(message)
        return recv_msg(s)


def assert_closed(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
    except ConnectionResetError:
        return


def expect_error(sock, fragment):
    """The server answers with {"error": ...} in protocol framing, then closes."""
    header, content, obj, _ = recv_msg(sock)
    assert header["content-type"] == "text/json"
    assert set(obj) == {"error"}, obj
    assert fragment in obj["error"], obj["error"]
    assert_closed(sock)
    return obj["error"]


@pytest.fixture
def app(server):
    """Starts `berth app-server` on a free port; at the end of the test it
    must still be running and exit 0 on SIGTERM with no sanitizer report."""
    started = []

    def start(*extra):
        s = server("app-server", "-b", "127.0.0.1", "-p", "0", *extra)
        started.append(s)
        return s

    yield start
    for s in started:
        assert s.stop() == 0, s.output()
        assert "Sanitizer" not in s.output(), s.output()


# ---- answers, byte for byte ----

@pytest.mark.parametrize("value", list(ANSWERS))
def test_the_three_answers_byte_for_byte(app, value):
    s = app()
    header, content, obj, data = ask(s.port, search(value))
    assert obj == {"result": ANSWERS[value]}
    assert data == encode({"result": ANSWERS[value]})


def test_no_match(app):
    s = app()
    _, _, obj, data = ask(s.port, search("neo"))
    assert obj == {"result": no_match("neo")}
    assert data == encode({"result": "No match for 'neo'."})
    assert data == encode(obj)


def test_no_match_keeps_unicode_and_quotes(app):
    s = app()
    value = 'sp\u00e9cial "quoted" \\ \u0001'
    _, _, obj, data = ask(s.port, search(value))
    assert obj == {"result": no_match(value)}
    assert data == encode(obj)


def test_invalid_action(app):
    s = app()
    _, _, obj, data = ask(s.port, encode({"action": "find", "value": "ring"}))
    assert obj == {"result": invalid_action("find")}
    assert data == encode({"result": "Error: invalid action 'find'."})
    assert data == encode(obj)


def test_binary_request(app):
    s = app()
    header, content, obj, data = ask(s.port, encode(b"helloworld and more",
                                                    "binary/custom-client-binary-type", "binary"))
    assert header["content-type"] == "binary/custom-server-binary-type"
    assert header["content-encoding"] == "binary"
    assert content == b"First 10 bytes of request: helloworld"
    assert data == encode(content, "binary/custom-server-binary-type", "binary")


@pytest.mark.parametrize("payload", [b"", b"\x00\xff\x01", bytes(range(256))])
def test_binary_request_any_bytes(app, payload):
    s = app()
    _, content, _, _ = ask(s.port, encode(payload, "application/octet-stream", "binary"))
    assert content == b"First 10 bytes of request: " + payload[:10]


def test_big_endian_request_accepted(app):
    s = app()
    _, _, obj, _ = ask(s.port, encode({"action": "search", "value": "ring"}, byteorder="big"))
    assert obj == {"result": ANSWERS["ring"]}


def test_data_file(app, tmp_path):
    f = tmp_path / "answers.json"
    table = {"neo": "The One.", "\u00e9t\u00e9": "summer", "void": ""}
    f.write_text(json.dumps(table), encoding="utf-8")
    s = app("--data", str(f))
    assert ask(s.port, search("neo"))[2] == {"result": "The One."}
    # the reference's `table.get(query) or no_match`: an empty answer is no match
    assert ask(s.port, search("void"))[2] == {"result": table.get("void") or no_match("void")}
    assert ask(s.port, search("\u00e9t\u00e9"))[2] == {"result": "summer"}
    assert ask(s.port, search("morpheus"))[2] == {"result": no_match("morpheus")}


def test_data_file_invalid(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"a": 1}')
    r = run_berth("app-server", "-p", "0", "--data", str(f))
    assert r.returncode == 1
    assert b"not a string" in r.stderr


# ---- connections ----

def test_keeps_connection_open_and_answers_in_order(app):
    s = app()
    with connect(s.port) as c:
        for value in ["ring", "neo", "morpheus", "\U0001f436"]:
            c.sendall(search(value))
            _, _, obj, _ = recv_msg(c)
            assert obj == {"result": ANSWERS.get(value, no_match(value))}


def test_pipelined_requests_one_segment(app):
    s = app()
    values = ["v%d" % i for i in range(200)] + list(ANSWERS)
    blob = b"".join(search(v) if i % 3 else encode(v.encode(), "binary/x", "binary")
                    for i, v in enumerate(values))
    with connect(s.port) as c:
        c.sendall(blob)
        for i, v in enumerate(values):
            _, content, obj, _ = recv_msg(c)
            if i % 3:
                assert obj == {"result": ANSWERS.get(v, no_match(v))}
            else:
                assert content == b"First 10 bytes of request: " + v.encode()[:10]
        c.shutdown(socket.SHUT_WR)
        assert_closed(c)


def test_one_byte_at_a_time(app):
    s = app("--timeout", "5")
    blob = search("morpheus") + encode(b"0123456789abc", "binary/x", "binary")
    with connect(s.port) as c:
        for b in blob:
            c.send(bytes([b]))
            time.sleep(0.001)
        assert recv_msg(c)[2] == {"result": ANSWERS["morpheus"]}
        assert recv_msg(c)[1] == b"First 10 bytes of request: 0123456789"


def test_every_split_point_of_a_message(app):
    s = app()
    msg = search("ring")
    with connect(s.port) as c:
        for cut in range(1, len(msg)):
            c.sendall(msg[:cut])
            time.sleep(0.002)
            c.sendall(msg[cut:])
            assert recv_msg(c)[2] == {"result": ANSWERS["ring"]}


def test_100_concurrent_clients(app):
    s = app()
    errors = []
    barrier = threading.Barrier(100)

    def client(i):
        try:
            with connect(s.port, timeout=30) as c:
                barrier.wait(10)
                for j in range(20):
                    v = random.choice(list(ANSWERS) + ["x%d-%d" % (i, j)])
                    c.sendall(search(v))
                    obj = recv_msg(c)[2]
                    assert obj == {"result": ANSWERS.get(v, no_match(v))}
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert s.alive()


def test_reference_style_client_closes_after_one_response(app):
    s = app()
    for _ in range(20):
        with connect(s.port) as c:
            c.sendall(search("ring"))
            recv_msg(c)
    assert ask(s.port, search("morpheus"))[2] == {"result": ANSWERS["morpheus"]}


def test_large_content_and_limit(app):
    s = app("--max-content", "64k")
    body = os.urandom(64 * 1024)
    _, content, _, _ = ask(s.port, encode(body, "binary/x", "binary"))
    assert content == b"First 10 bytes of request: " + body[:10]
    with connect(s.port) as c:
        c.sendall(encode(body + b"!", "binary/x", "binary"))
        expect_error(c, "exceeds the limit of 65536 bytes")


def test_limit_refused_before_the_content_is_sent(app):
    s = app("--max-content", "1k")
    with connect(s.port) as c:
        header = dumps({"byteorder": "little", "content-type": "binary/x",
                        "content-encoding": "binary", "content-length": 10 ** 9})
        c.sendall(raw(header))  # the gigabyte never comes
        expect_error(c, "content-length 1000000000 exceeds the limit")


# ---- slow and stalled clients ----

def test_stalled_half_message_times_out_without_blocking_others(app):
    s = app("--timeout", "0.5")
    stalled = connect(s.port)
    stalled.sendall(search("morpheus")[:20])
    t0 = time.monotonic()
    # others are served meanwhile
    for _ in range(5):
        assert ask(s.port, search("ring"))[2] == {"result": ANSWERS["ring"]}
    err = expect_error(stalled, "timeout")
    assert 0.4 < time.monotonic() - t0 < 5, err
    stalled.close()
    # an idle connection between messages is not a stalled one
    with connect(s.port) as idle:
        time.sleep(1.0)
        idle.sendall(search("ring"))
        assert recv_msg(idle)[2] == {"result": ANSWERS["ring"]}


def test_slow_but_steady_client_is_not_cut(app):
    s = app("--timeout", "1")
    msg = search("morpheus")
    with connect(s.port) as c:
        for i in range(0, len(msg), 8):
            c.sendall(msg[i:i + 8])
            time.sleep(0.1)  # total well over the timeout, never silent that long
        assert recv_msg(c)[2] == {"result": ANSWERS["morpheus"]}


def test_client_that_never_reads_does_not_block_others(app):
    s = app("--timeout", "1")
    hog = connect(s.port)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    blob = search("morpheus") * 2000
    hog.settimeout(0.5)
    try:
        for _ in range(200):
            hog.send(blob)
    except (socket.timeout, BlockingIOError, ConnectionError):
        pass
    assert ask(s.port, search("ring"))[2] == {"result": ANSWERS["ring"]}
    hog.close()
    assert s.alive()


def test_trickled_message_is_cut_by_the_message_timeout(app):
    """1 byte every 0.2 s is never silent for --timeout, but a message must
    arrive whole within --message-timeout of its first byte."""
    s = app("--timeout", "1", "--message-timeout", "1.5")
    body = b"t" * 1000
    c = connect(s.port)
    c.sendall(encode(body, "binary/x", "binary")[:-len(body)])  # the header
    t0 = time.monotonic()
    c.settimeout(0.2)
    got = b""
    while time.monotonic() - t0 < 10:
        try:
            c.send(b"t")
        except OSError:
            break
        try:
            got += c.recv(4096)
            if got:
                break
        except socket.timeout:
            pass
    c.settimeout(T)
    while True:  # the rest of the error reply
        try:
            (hlen,) = struct.unpack(">H", got[:2])
            if len(got) >= 2 + hlen + json.loads(got[2:2 + hlen])["content-length"]:
                break
        except (struct.error, ValueError):
            pass
        more = c.recv(4096)
        assert more, got
        got += more
    (hlen,) = struct.unpack(">H", got[:2])
    err = json.loads(got[2 + hlen:])["error"]
    assert "not complete within 1500 ms of its first byte" in err, err
    assert 1.3 < time.monotonic() - t0 < 5
    c.close()


with open(BERTH, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def vm_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s" % field)


def test_unfinished_messages_share_a_bounded_buffer(app):
    """20 clients each send most of an 8 MiB message and stop: the server
    holds about --max-buffered for them, not 20 x 8 MiB; the others wait,
    unread, and every message is answered once they all finish."""
    n, size = 20, 8 << 20
    s = app("--max-content", "8M", "--max-buffered", "24M", "-q")
    rss0 = vm_kib(s.proc.pid)
    msgs = [encode(bytes([65 + i]) * size, "binary/x", "binary") for i in range(n)]
    socks = []
    for _ in range(n):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 << 10)
        c.settimeout(T)
        c.connect(("127.0.0.1", s.port))
        c.setblocking(False)
        socks.append(c)
    sent = [0] * n
    cut = size - (1 << 20)  # hold back the last MiB

    def pump(limit, stall):
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < stall:
            want = [c for i, c in enumerate(socks) if sent[i] < limit(i)]
            if not want:
                return
            _, w, _ = select.select([], want, [], 0.05)
            for c in w:
                i = socks.index(c)
                try:
                    k = c.send(msgs[i][sent[i]:min(limit(i), sent[i] + (256 << 10))])
                    sent[i] += k
                    quiet_since = time.monotonic()
                except BlockingIOError:
                    pass

    pump(lambda i: cut, 1.0)
    grew = (vm_kib(s.proc.pid) - rss0) >> 10
    # 24 MiB of admitted messages, a read or two per connection, and slack;
    # before the limit this was 20 x 7 MiB
    assert grew < 48, "RSS grew by %d MiB for %d unfinished messages" % (grew, n)
    assert min(sent) < cut, "every client could send its whole message"
    pump(lambda i: len(msgs[i]), 15.0)
    assert sent == [len(m) for m in msgs]
    for i, c in enumerate(socks):
        c.setblocking(True)
        c.settimeout(T)
        _, content, _, _ = recv_msg(c)
        assert content == b"First 10 bytes of request: " + bytes([65 + i]) * 10
        c.close()
    if not SANITIZED:  # ASan's quarantine keeps freed messages resident
        assert vm_kib(s.proc.pid, "VmHWM") - rss0 < 48 << 10


def test_connection_limit_makes_new_clients_wait(app):
    s = app("--max-conn", "3")
    held = [connect(s.port) for _ in range(3)]
    for c in held:  # accepted and served
        c.sendall(search("ring"))
        assert recv_msg(c)[2] == {"result": ANSWERS["ring"]}
    late = connect(s.port)  # the kernel completes the handshake; berth waits
    late.sendall(search("morpheus"))
    late.settimeout(1.0)
    with pytest.raises(socket.timeout):
        late.recv(1)
    assert s.wait_for("3 connections, the limit", timeout=5), s.output()
    held.pop().close()
    late.settimeout(T)
    assert recv_msg(late)[2] == {"result": ANSWERS["morpheus"]}
    late.close()
    for c in held:
        c.close()


def test_limit_options_usage():
    r = run_berth("app-server", "--max-conn", "0")
    assert r.returncode == 2 and b"bad --max-conn" in r.stderr, r.stderr
    r = run_berth("app-server", "--max-buffered", "1M")
    assert r.returncode == 2 and b"one whole message must fit" in r.stderr, r.stderr
    r = run_berth("app-server", "--message-timeout", "x")
    assert r.returncode == 2 and b"bad --message-timeout" in r.stderr, r.stderr


# ---- bad input: an error reply in protocol framing, then close ----

def hdr(**kw):
    h = {"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8",
         "content-length": 2}
    h.update(kw)
    return dumps({k: v for k, v in h.items() if v is not None})


BAD = {
    "zero header length": (b"\x00\x00", "header length is 0"),
    "oversized header length": (b"\xff\xff" + b"{" * 100, "header length 65535 exceeds"),
    "header not JSON": (raw(b"hello there"), "header is not valid JSON"),
    "header truncated JSON": (raw(b'{"byteorder": '), "header is not valid JSON"),
    "header not an object": (raw(b"[1, 2]"), "not a JSON object"),
    "header not UTF-8": (raw(b'{"byteorder": "\xff\xfe"}'), "not valid UTF-8"),
    "missing byteorder": (raw(hdr(byteorder=None), b"{}"), '"byteorder"'),
    "missing content-length": (raw(hdr(**{"content-length": None}), b"{}"), '"content-length"'),
    "missing content-type": (raw(hdr(**{"content-type": None}), b"{}"), '"content-type"'),
    "missing content-encoding": (raw(hdr(**{"content-encoding": None}), b"{}"),
                                 '"content-encoding"'),
    "byteorder wrong": (raw(hdr(byteorder="middle"), b"{}"), '"byteorder"'),
    "content-type not a string": (raw(hdr(**{"content-type": 5}), b"{}"), '"content-type"'),
    "content-encoding not a string": (raw(hdr(**{"content-encoding": None, "x": 1})
                                          .replace(b'"x": 1', b'"content-encoding": [1]'), b"{}"),
                                      '"content-encoding"'),
    "negative content-length": (raw(hdr(**{"content-length": -5}), b"{}"), "negative"),
    "fractional content-length": (raw(hdr(**{"content-length": 2.5}), b"{}"), "integer"),
    "string content-length": (raw(hdr(**{"content-length": "2"}), b"{}"), "integer"),
    "huge content-length": (raw(hdr(**{"content-length": 10 ** 30}), b"{}"), "not valid JSON"),
    "over-limit content-length": (raw(hdr(**{"content-length": 16 * 2 ** 20 + 1})),
                                  "exceeds the limit of 16777216 bytes"),
    "duplicate header key": (raw(hdr()[:-1] + b', "content-length": 3}', b"{}"), "duplicate"),
    "content not JSON": (raw(hdr(**{"content-length": 5}), b"{nope"), "content is not valid JSON"),
    "content not UTF-8": (raw(hdr(**{"content-length": 4}), b'"\xc3("'), "not valid UTF-8"),
    "content not an object": (encode([1, 2, 3]), "not a JSON object"),
    "unsupported encoding": (raw(hdr(**{"content-encoding": "utf-16"}), b"{}"),
                             "unsupported content-encoding"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_gets_an_error_reply(app, name):
    s = app()
    blob, fragment = BAD[name]
    with connect(s.port) as c:
        c.sendall(blob)
        expect_error(c, fragment)
    # the server is unharmed
    assert ask(s.port, search("ring"))[2] == {"result": ANSWERS["ring"]}
    assert s.alive()


def test_bad_input_after_good_requests_on_one_connection(app):
    s = app()
    with connect(s.port) as c:
        c.sendall(search("ring") + search("morpheus") + b"\x00\x05junk!")
        assert recv_msg(c)[2] == {"result": ANSWERS["ring"]}
        assert recv_msg(c)[2] == {"result": ANSWERS["morpheus"]}
        expect_error(c, "header is not valid JSON")


@pytest.mark.parametrize("cut", [1, 2, 10, 60, -1])
def test_truncated_message_then_eof(app, cut):
    s = app()
    msg = search("morpheus")
    with connect(s.port) as c:
        c.sendall(msg[:cut])
        c.shutdown(socket.SHUT_WR)
        expect_error(c, "connection closed")


def test_random_garbage(app):
    s = app("--timeout", "1")
    rng = random.Random(42)
    for i in range(30):
        with connect(s.port) as c:
            blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
            if i % 2:
                blob = b"\x00" + blob  # short header lengths reach the JSON layer
            c.sendall(blob)
            c.shutdown(socket.SHUT_WR)
            c.settimeout(5)
            try:
                header, _, obj, _ = recv_msg(c)
                assert set(obj) == {"error"}
            except (Closed, ConnectionResetError):
                pass
    assert ask(s.port, search("ring"))[2] == {"result": ANSWERS["ring"]}


def test_abrupt_resets_do_not_harm(app):
    s = app()
    for _ in range(20):
        c = connect(s.port)
        c.sendall(search("morpheus")[:30])
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    assert ask(s.port, search("ring"))[2] == {"result": ANSWERS["ring"]}


def test_sigterm_exits_cleanly(app):
    s = app()
    with connect(s.port):
        assert s.stop() == 0


# ---- CLI ----

def test_server_help_and_usage():
    r = run_berth("app-server", "--help")
    assert r.returncode == 0 and b"usage: berth app-server" in r.stdout
    assert run_berth("app-server", "only-one").returncode == 2
    assert run_berth("app-server", "127.0.0.1", "99999").returncode == 2
    assert run_berth("app-server", "--timeout", "soon").returncode == 2
    assert run_berth("app-client", "--help").returncode == 0
    assert run_berth("app-client", "127.0.0.1", "1", "search").returncode == 2


def test_positional_host_and_port_like_the_reference(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = server("app-server", "127.0.0.1", str(port))
    assert s.port == port
    assert ask(port, search("ring"))[2] == {"result": ANSWERS["ring"]}


def test_client_against_berth_server(app):
    s = app()
    p = str(s.port)
    r = run_berth("app-client", "127.0.0.1", p, "search", "morpheus")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == ANSWERS["morpheus"] + "\n"
    r = run_berth("app-client", "127.0.0.1", p, "search", "\U0001f436")
    assert r.stdout.decode() == ANSWERS["\U0001f436"] + "\n"
    r = run_berth("app-client", "-p", p, "hello", "world")
    assert r.stdout == b"First 10 bytes of request: helloworld\n"
    r = run_berth("app-client", "-p", p, "search", "ring", "--json")
    out = json.loads(r.stdout)
    assert out["content"] == {"result": ANSWERS["ring"]}
    assert out["header"]["content-type"] == "text/json"


class OneShotServer:
    """A Python server for the client tests: accepts one connection, reads one
    request, records it, answers with `reply` (bytes), then closes."""

    def __init__(self, reply, read_request=True, hold=0.05):
        self.reply = reply
        self.read_request = read_request
        self.hold = hold
        self.request = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5)
            if self.read_request:
                self.request = recv_msg(conn)
            if self.reply is not None:
                conn.sendall(self.reply)
            time.sleep(self.hold)
        self.sock.close()

    def client(self, *args):
        r = run_berth("app-client", "127.0.0.1", str(self.port), *args, "--timeout", "3")
        self.thread.join(5)
        return r


def test_client_request_bytes_match_the_reference():
    srv = OneShotServer(encode({"result": "ok"}))
    r = srv.client("search", "\U0001f436")
    assert r.returncode == 0 and r.stdout == b"ok\n"
    assert srv.request[3] == search("\U0001f436")
    srv = OneShotServer(encode(b"x", "binary/custom-server-binary-type", "binary"))
    r = srv.client("hello", "w\u00f6rld")
    assert srv.request[3] == encode("hellow\u00f6rld".encode(), "binary/custom-client-binary-type",
                                    "binary")
    assert r.stdout == b"x\n"


def test_client_escapes_binary_responses():
    body = b"ok \x1b[31m\x00\xff\n\\ caf\xc3\xa9 \xc2\x9b"
    srv = OneShotServer(encode(body, "binary/custom-server-binary-type", "binary"))
    r = srv.client("hello", "world")
    assert r.returncode == 0
    assert r.stdout == b"ok \\x1b[31m\\x00\\xff\\n\\\\ caf\xc3\xa9 \\xc2\\x9b\n"


def test_client_prints_a_text_result_as_text():
    # the reference client prints f"Got result: {result}": the text itself
    result = "C:\\dir\nline 2\tcaf\u00e9"
    srv = OneShotServer(encode({"result": result}))
    r = srv.client("search", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == result.encode() + b"\n"
    # --json keeps JSON's escaped form
    srv = OneShotServer(encode({"result": result}))
    r = srv.client("search", "x", "--json")
    assert r.returncode == 0, r.stderr
    assert b'"C:\\\\dir\\nline 2\\tcaf\xc3\xa9"' in r.stdout, r.stdout
    assert json.loads(r.stdout)["content"] == {"result": result}


def test_client_text_result_cannot_drive_the_terminal():
    srv = OneShotServer(encode({"result": "a\x1b[2Jb\rc\x7f\u009b"}))
    r = srv.client("search", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"a\\x1b[2Jb\\rc\\x7f\\xc2\\x9b\n"


def test_client_json_output_binary():
    body = bytes(range(12))
    srv = OneShotServer(encode(body, "binary/custom-server-binary-type", "binary"))
    r = srv.client("x", "y", "--json")
    out = json.loads(r.stdout)
    import base64
    assert base64.b64decode(out["content_base64"]) == body
    assert out["header"]["content-length"] == 12


def test_client_reports_server_error():
    srv = OneShotServer(encode({"error": "bad things"}))
    r = srv.client("search", "x")
    assert r.returncode == 1
    assert r.stderr.decode().strip() == "berth app-client: server error: bad things"


@pytest.mark.parametrize("reply,fragment", [
    (b"\x00\x00", "header length is 0"),
    (raw(b"not json"), "header is not valid JSON"),
    (raw(hdr(**{"content-length": -1})), "negative"),
    (raw(hdr(**{"content-length": 5}), b"{bad}"), "content is not valid JSON"),
    (encode({"result": "cut"})[:-3], "connection closed after"),
    (b"\x00", "connection closed inside a message header"),
    (b"", "closed the connection without a response"),
])
def test_client_malformed_or_truncated_response(reply, fragment):
    srv = OneShotServer(reply)
    r = srv.client("search", "x")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.count("\n") == 1 and fragment in err, err


def test_client_timeout_when_server_is_silent():
    srv = OneShotServer(None, hold=3)  # reads, never answers
    t0 = time.monotonic()
    r = run_berth("app-client", "127.0.0.1", str(srv.port), "search", "x", "--timeout", "0.5")
    assert r.returncode == 1
    assert b"timed out" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 2.5


def test_client_timeout_mid_response_says_what_came():
    reply = encode({"result": "cut short"})
    srv = OneShotServer(reply[:-4], hold=3)  # most of the answer, then silence
    r = run_berth("app-client", "127.0.0.1", str(srv.port), "search", "x", "--timeout", "0.5")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "received %d of %d bytes of the response, then nothing for 0.5 s" % (
        len(reply) - 4, len(reply)) in err, err
    assert "reachable" not in err, err


def test_client_timeout_after_connecting_does_not_blame_the_network():
    srv = OneShotServer(None, hold=3)  # reads, never answers
    r = run_berth("app-client", "127.0.0.1", str(srv.port), "search", "x", "--timeout", "0.5")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "no response from the server within 0.5 s" in err, err
    assert "reachable" not in err, err


def test_client_does_not_wait_for_a_close_after_its_answer():
    # as app-client.py: one response processed, then the client closes
    srv = OneShotServer(encode({"result": "ok"}), hold=3)
    t0 = time.monotonic()
    r = run_berth("app-client", "127.0.0.1", str(srv.port), "search", "x", "--timeout", "2")
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr
    assert time.monotonic() - t0 < 1.5


def test_client_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r = run_berth("app-client", "127.0.0.1", str(port), "search", "x")
    assert r.returncode == 1 and b"connection refused" in r.stderr
