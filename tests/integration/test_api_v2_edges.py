"""The embedding API v2 (issue 12), its edges: bodies of requests that
close, coded or cut or trickled bodies, answers given before the body,
bodies broken mid-answer, 204/304 and empty writes in streams, one handle
written from many threads while clients leave, gone handles, the route's
queue bound, long queries, a stop that cuts kept answers.  The program
under test is api2_prog.c (test_api_v2.py builds it); its fixtures and
helpers are test_api_v2's."""
import hashlib
import http.client
import os
import subprocess
import threading
import time

import pytest

from conftest import Server
from test_api_v2 import (CURL, PORT_LINE, curl, get, gone_count, needs_curl, prog_path,  # noqa: F401
                         raw, read_chunked, read_until, sanitizer_clean, srv, wait_until)


@pytest.mark.parametrize("path, want", [("/count", b"5 2cf24dba"), ("/small", b"hello")])
def test_expect_100_continue_with_the_body_sent_at_once(srv, path, want):
    """RFC 9110 §10.1.1: a client may send the body without waiting for
    the 100; it is read all the same, and the connection goes on."""
    s = raw(srv.port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\nhello"
              b"GET /q?name=next HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    got = read_until(s, b"next")
    assert want in got and got.count(b" 200 OK") == 2
    s.close()


@pytest.mark.parametrize("path", ["/small", "/count"])
@pytest.mark.parametrize("te", [b"gzip, chunked", b"deflate,chunked", b"gzip\r\nTransfer-Encoding: chunked"])
def test_a_body_with_a_coding_besides_chunked_is_501(srv, path, te):
    """RFC 9112 §6.1: only chunked is decoded; a handler never gets a body
    still gzip- or deflate-coded as if it were the content."""
    s = raw(srv.port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n"
              b"3\r\nabc\r\n0\r\n\r\n" % (path.encode(), te))
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 501")
    s.close()


@pytest.mark.parametrize("path", ["/small", "/count"])
def test_length_and_chunked_together_is_400(srv, path):
    s = raw(srv.port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" % path.encode())
    got = read_until(s, b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400") and b"Connection: close" in got
    s.close()


def test_a_whole_body_gets_time_by_what_arrives(prog_path):
    """A whole body (buffered for its handler) is not held to the head's
    timeout: it gets a second more per 64 KiB that arrived, as a body being
    dropped does; one that stalls is cut with a 408 that says so."""
    s = Server(["ht=600"], exe=prog_path, ready=PORT_LINE)
    try:
        c = raw(s.port)
        piece = b"x" * (64 << 10)
        c.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 * len(piece)))
        for _ in range(16):  # 1 MiB over about 1.6 s, past the 0.6 s of the head
            c.sendall(piece)
            time.sleep(0.1)
        got = read_until(c, b"\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 200"), got[:80]
        c.close()
        c = raw(s.port)
        c.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        got = read_until(c, b"time.")
        assert got.startswith(b"HTTP/1.1 408") and b"body" in got, got
        c.close()
    finally:
        s.kill()


def test_h2_streamed_body_without_length_over_its_limit_is_413(srv):
    h2c = pytest.importorskip("h2.connection")
    import h2.config
    import h2.events
    s = raw(srv.port)
    c = h2c.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.send_headers(1, [(":method", "POST"), (":path", "/count16"), (":scheme", "http"),
                       (":authority", "x")])
    c.send_data(1, b"x" * 40, end_stream=True)
    s.sendall(c.data_to_send())
    status = None
    while status is None:
        data = s.recv(65536)
        assert data
        for e in c.receive_data(data):
            if isinstance(e, h2.events.ResponseReceived):
                status = dict(e.headers)[b":status"]
            elif isinstance(e, h2.events.StreamReset):
                status = b"reset"
        s.sendall(c.data_to_send())
    s.close()
    assert status in (b"413", b"reset")


@pytest.mark.parametrize("head", [b"POST /count HTTP/1.0\r\n",
                                  b"POST /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
                                  b"POST /count HTTP/1.0\r\nExpect: 100-continue\r\n"])
def test_streamed_body_of_a_request_that_closes_is_read(srv, head):
    """A request that will close its connection (HTTP/1.0, Connection:
    close) still has its streamed body read; HTTP/1.0 ignores Expect."""
    s = raw(srv.port)
    s.sendall(head + b"Content-Length: 3\r\n\r\nabc")
    got = read_until(s, b"\r\n\r\n" + b"3 ba7816bf")
    assert b" 200 OK" in got and b"100 Continue" not in got
    s.close()


def test_no_body_piece_after_the_handler_answered(srv):
    """A handler that answers on the head lets go of the request: on_body is
    not called with it afterwards (the body is read and dropped)."""
    before = int(get(srv, "/late")[1])
    s = raw(srv.port)
    s.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
              b"GET /q?name=next HTTP/1.1\r\nHost: x\r\n\r\n")
    got = read_until(s, b"next")
    assert got.count(b"HTTP/1.1 200") == 2 and b"early\n" in got
    s.close()
    assert int(get(srv, "/late")[1]) == before


def test_echo_streams_a_body_back_while_it_arrives(srv):
    s = raw(srv.port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    got = read_until(s, b"hello")
    assert got.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in got
    s.sendall(b"6\r\n world\r\n0\r\n\r\n")
    _, rest = got.split(b"\r\n\r\n", 1)
    body, _ = read_chunked(s, rest)
    assert body == b"hello world"
    s.close()


def test_a_body_broken_after_the_answer_began_ends_the_exchange(srv):
    """The chunked body turns malformed after a streamed answer began: the
    connection is cut (the answer cannot be finished honestly) and the
    program hears gone, instead of both sides waiting forever."""
    before = gone_count(srv)
    s = raw(srv.port)
    s.settimeout(10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    read_until(s, b"hello")
    s.sendall(b"zz\r\nbad\r\n")
    while s.recv(65536):  # ends (no timeout): the server closed
        pass
    s.close()
    wait_until(lambda: gone_count(srv) > before, what="gone after a broken body")


CHUNKED_UPLOAD = (b"Transfer-Encoding: chunked\r\n\r\n"
                  b"5;name=\"v\"\r\nhello\r\n3\r\n wo\r\n0\r\nX-T: y\r\n\r\n")


@pytest.mark.parametrize("path, want", [
    ("/count", b"8 " + hashlib.sha256(b"hello wo").hexdigest().encode()),
    ("/small", b"hello wo")])
def test_a_chunked_upload_split_anywhere(srv, path, want):
    """Chunk extensions and a trailer, the request cut in two at every byte
    (and then trickled a byte at a time): the same answer each time, and
    the connection goes on."""
    req = b"POST %s HTTP/1.1\r\nHost: x\r\n" % path.encode() + CHUNKED_UPLOAD
    nxt = b"GET /q?name=next HTTP/1.1\r\nHost: x\r\n\r\n"
    cuts = [[req[:i], req[i:]] for i in range(1, len(req))]
    cuts.append([req[i:i + 1] for i in range(len(req))])
    for parts in cuts:
        s = raw(srv.port)
        for part in parts:
            s.sendall(part)
            time.sleep(0.001)
        s.sendall(nxt)
        got = read_until(s, b"next")
        assert got.count(b" 200 OK") == 2 and want in got, (parts, got)
        s.close()


def test_a_client_that_closes_mid_body(srv):
    """Half a body, then the client goes: nothing is answered, the server
    goes on (and the streamed route's program is not left waiting)."""
    for path, te in (("/count", b"Content-Length: 100\r\n\r\nabc"),
                     ("/count", b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc"),
                     ("/small", b"Content-Length: 10\r\n\r\nabc"),
                     ("/echo", b"Content-Length: 10\r\n\r\nabc")):
        s = raw(srv.port)
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\n" % path.encode() + te)
        time.sleep(0.05)
        s.close()
    assert get(srv, "/q?name=alive")[1] == b"alive"


def test_resume_from_another_thread_while_clients_leave(srv):
    """/count?pause=1 pauses on every piece and resumes from a new thread
    1 ms later; clients leave mid-body meanwhile (a resume racing the
    close: BERTH_ERR_GONE, never a use-after-free under ASan)."""
    blob = os.urandom(256 << 10)

    def one(i):
        s = raw(srv.port)
        te = (b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(blob)) if i % 2 else \
            b"Content-Length: 10000000\r\n\r\n"
        s.sendall(b"POST /count?pause=1 HTTP/1.1\r\nHost: x\r\n" + te)
        try:
            s.sendall(blob[:(i % 8 + 1) * 16384])
        except OSError:
            pass
        s.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert get(srv, "/q?name=alive")[1] == b"alive"
    assert srv.proc.poll() is None


def test_chunked_framing_that_outgrows_the_buffer_is_413(srv):
    """A whole body under the route's limit in 1-byte chunks: its framing
    (6 bytes a byte) outgrows the buffer; the client hears 413, not a
    silent close."""
    s = raw(srv.port)
    s.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        s.sendall(b"1\r\nx\r\n" * (1 << 20) + b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading: its answer is waiting
    got = read_until(s, b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 413"), got[:80]
    s.close()


@needs_curl
def test_no_body_piece_after_the_handler_answered_h2(srv):
    before = int(get(srv, "/late")[1])
    assert curl(srv, "/early", "--data-binary", "0123456789", h2=True) == b"early\n"
    assert int(get(srv, "/late")[1]) == before


@pytest.mark.parametrize("status", [204, 304])
def test_a_streamed_204_or_304_has_no_body_nor_framing(srv, status):
    s = raw(srv.port)
    s.sendall(b"GET /status?s=%d HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /q?name=next HTTP/1.1\r\nHost: x\r\n\r\n" % status)
    got = read_until(s, b"next")
    first, rest = got.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 %d" % status)
    assert b"Transfer-Encoding" not in first and b"Content-Length" not in first
    assert rest.startswith(b"HTTP/1.1 200"), rest[:40]  # no chunk, no trailer in between
    s.close()


def test_empty_writes_make_no_chunk(srv):
    s = raw(srv.port)
    s.sendall(b"GET /zero HTTP/1.1\r\nHost: x\r\n\r\n")
    head = read_until(s, b"\r\n\r\n")
    _, rest = head.split(b"\r\n\r\n", 1)
    body, trailers = read_chunked(s, rest)
    assert body == b"x" and trailers == b"\r\n"
    s.close()


@pytest.mark.parametrize("h2", [False, True])
def test_one_handle_written_from_many_threads(srv, h2):
    """berth_resp_write, _header, _trailer, query_param and resume on one
    deferred handle from 6 threads at once: every line arrives, each
    thread's in its order (the server runs under ASan/UBSan in CI)."""
    if h2 and CURL is None:
        pytest.skip("curl is not installed")
    path = "/hammer?t=6&n=500"
    body = curl(srv, path, h2=True) if h2 else get(srv, path)[1]
    seqs = {}
    for line in body.decode().splitlines():
        t, j = line.split()
        seqs.setdefault(t, []).append(int(j))
    assert sorted(seqs) == ["T%d" % i for i in range(6)]
    assert all(v == list(range(500)) for v in seqs.values())
    assert srv.proc.poll() is None


def test_many_threads_writing_while_clients_leave(srv):
    def one(i):
        s = raw(srv.port)
        s.sendall(b"GET /hammer?t=4&n=3000 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(200 + i * 50)
        s.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert get(srv, "/q?name=alive")[1] == b"alive"
    assert srv.proc.poll() is None


def test_the_routes_queue_bound_holds_in_the_handler_call(srv):
    """max_queue (16 KiB here) bounds writes made in the handler call too:
    4 KiB pieces are refused with BERTH_ERR_FULL after 4."""
    s = raw(srv.port)
    s.sendall(b"GET /qfill HTTP/1.1\r\nHost: x\r\n\r\n")
    _, rest = read_until(s, b"\r\n\r\n").split(b"\r\n\r\n", 1)
    body, trailers = read_chunked(s, rest)
    s.close()
    assert trailers.startswith(b"X-Pieces: 4\r\n") and len(body) == 4 * 4096, trailers


def test_a_handle_reads_the_request_during_its_handler_call(srv):
    """berth_req_defer's handle is the request: during the handler call its
    fields are readable through it, as through req."""
    r, body = get(srv, "/dhdr", headers={"X-Name": "kept"})
    assert (r.status, body) == (200, b"kept")


def test_every_call_on_a_gone_handle_says_gone(srv):
    """berth.h: once the client went away, calls on the handle return
    BERTH_ERR_GONE (-4020) — berth_resp_header and _trailer too."""
    s = raw(srv.port)
    s.sendall(b"GET /gonehdr HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    s.close()
    got = wait_until(lambda: (lambda b: b if b != b"none" else None)(get(srv, "/gonercs")[1]),
                     what="the gone callback's calls")
    assert got == b"-4020 -4020"


def test_a_second_signal_cuts_kept_answers_never_given(prog_path):
    """A deferred request its program never answers, a stream still being
    written and a paused upload: a second SIGTERM cuts them, gone is
    called (the program releases its handles there), the server exits 0
    and ASan finds nothing leaked."""
    s = Server([], exe=prog_path, ready=PORT_LINE)
    try:
        cs = [raw(s.port) for _ in range(3)]
        cs[0].sendall(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
        cs[1].sendall(b"GET /hammer?t=2&n=100000 HTTP/1.1\r\nHost: x\r\n\r\n")
        cs[2].sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        read_until(cs[1], b"T1 ")
        read_until(cs[2], b"abc")
        s.proc.terminate()
        time.sleep(0.2)
        s.proc.terminate()
        assert s.proc.wait(timeout=20) == 0
        for c in cs:
            c.settimeout(10)
            while c.recv(65536):
                pass
        sanitizer_clean(s)
    finally:
        s.kill()


def test_a_query_longer_than_8_kib_is_whole(prog_path):
    """With a larger max_header, a query past 8 KiB reaches the handler
    whole (berth_req_query, berth_req_query_param), over h1 and h2."""
    s = Server(["mh=65536"], exe=prog_path, ready=PORT_LINE)
    try:
        path = "/q?pad=" + "x" * 20000 + "&name=found"
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.request("GET", path)
        assert c.getresponse().read() == b"found"
        if CURL:
            p = subprocess.run([CURL, "-sS", "--http2-prior-knowledge",
                                "http://127.0.0.1:%d%s" % (s.port, path)], capture_output=True, timeout=60)
            assert p.stdout == b"found", p.stderr
    finally:
        s.kill()
