"""WebSocket over HTTP/2 (RFC 8441, issue 12): python3-h2 as the raw client
opening WebSocket streams with an extended CONNECT, over h2c and TLS, against
`berth echo-server --ws` and the API program of test_ws.py (ws_prog.c): the
setting, the 200 without Sec-WebSocket-Accept, masked frames in DATA both
ways, fragments, ping/pong, the closing handshake and END_STREAM / RST_STREAM
as TCP's FIN / RST (§6), a message larger than either window, permessage-
deflate, several WebSockets and GETs on one connection, the refusals (501,
400, PROTOCOL_ERROR without the setting), the drain's 1001, and headless
Chromium's WebSocket on a page served over h2."""
import socket
import ssl
import struct
import time
import zlib

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from test_ws import CHROMIUM, MASK, frame, start_echo, start_prog, ws_prog  # noqa: F401

T = 20  # bound on any one wait (loaded machines)
ENABLE_CONNECT_PROTOCOL = 0x8


class Stream:
    def __init__(self):
        self.headers = None
        self.data = b""
        self.ended = False
        self.reset = None


class H2:
    """One HTTP/2 connection (h2c with prior knowledge, or TLS with ALPN h2)
    whose streams are WebSockets (extended CONNECT) or plain requests.  Data
    received is acknowledged as it is read (the test's reads drive the
    server's window), data sent waits for the server's window."""

    def __init__(self, port, tls=False, window=65535, validate=True, ack=True):
        s = socket.create_connection(("127.0.0.1", port), timeout=T)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl._create_unverified_context()
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(s, server_hostname="localhost")
            assert s.selected_alpn_protocol() == "h2"
        self.sock, self.tls = s, tls
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate)
        self.c = h2.connection.H2Connection(config=cfg)
        self.c.initiate_connection()
        self.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.streams = {}
        self.settings = None
        self.goaway = None
        self.closed = False
        self.inbuf = b""
        self.ack, self.unacked = ack, []
        self.flush()
        self.pump(lambda: self.settings is not None)

    def flush(self):
        d = self.c.data_to_send()
        if d:
            self.sock.sendall(d)

    def pump(self, cond, timeout=T):
        """Reads and handles frames until cond() holds (bounded)."""
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            assert left > 0, "timed out; streams: %r" % {k: (v.headers, v.data[:80], v.ended,
                                                              v.reset) for k, v in
                                                          self.streams.items()}
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                continue  # the deadline's assertion says it
            except (ConnectionResetError, ssl.SSLError):
                d = b""
            if not d:
                self.closed = True
                assert cond(), "connection closed"
                return
            self.inbuf += d
            # frame by frame: python-h2 takes nothing after a GOAWAY (even
            # NO_ERROR's, whose streams go on), so from there DATA is read here
            while len(self.inbuf) >= 9:
                n = int.from_bytes(self.inbuf[:3], "big") + 9
                if len(self.inbuf) < n:
                    break
                f, self.inbuf = self.inbuf[:n], self.inbuf[n:]
                if self.goaway is None:
                    for e in self.c.receive_data(f):
                        self.event(e)
                    self.flush()
                    continue
                st = self.streams.get(int.from_bytes(f[5:9], "big") & 0x7fffffff)
                if f[3] == 0 and st:  # DATA
                    st.data += f[9:]
                if f[3] in (0, 1) and f[4] & 1 and st:
                    st.ended = True
                if f[3] == 3 and st:
                    st.reset = int.from_bytes(f[9:13], "big")

    def event(self, e):
        st = self.streams.get(getattr(e, "stream_id", None))
        if isinstance(e, h2.events.RemoteSettingsChanged):
            if self.settings is None:
                self.settings = {}
            self.settings.update({k: v.new_value for k, v in e.changed_settings.items()})
        elif isinstance(e, h2.events.ResponseReceived):
            st.headers = dict(e.headers)
        elif isinstance(e, h2.events.DataReceived):
            st.data += e.data
            self.unacked.append((e.flow_controlled_length, e.stream_id))
            if self.ack:
                self.acknowledge()
        elif isinstance(e, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(e, h2.events.StreamReset):
            st.reset = e.error_code
        elif isinstance(e, h2.events.ConnectionTerminated):
            self.goaway = e.error_code

    def acknowledge(self):
        """Grants the server the window of what it sent (read by the test)."""
        for n, sid in self.unacked:
            self.c.acknowledge_received_data(n, sid)
        self.unacked = []
        self.flush()

    def request(self, headers, end=False):
        sid = self.c.get_next_available_stream_id()
        self.streams[sid] = Stream()
        self.c.send_headers(sid, headers, end_stream=end)
        self.flush()
        return sid

    def connect(self, path=b"/", extra=(), version=b"13", protocol=b"websocket"):
        """An extended CONNECT: (stream, response fields) once they came."""
        h = [(b":method", b"CONNECT"), (b":protocol", protocol),
             (b":scheme", b"https" if self.tls else b"http"), (b":path", path),
             (b":authority", b"localhost")]
        if version is not None:
            h.append((b"sec-websocket-version", version))
        sid = self.request(h + list(extra))
        st = self.streams[sid]
        self.pump(lambda: st.headers is not None or st.reset is not None)
        return sid, st.headers

    def get(self, path):
        sid = self.request([(b":method", b"GET"), (b":scheme", b"http"), (b":path", path),
                            (b":authority", b"localhost")], end=True)
        return sid

    def send(self, sid, data, end=False):
        """All of data on sid, as the stream's and connection's windows allow."""
        while data:
            room = self.c.local_flow_control_window(sid)
            if room <= 0:
                self.pump(lambda: self.c.local_flow_control_window(sid) > 0)
                continue
            n = min(room, self.c.max_outbound_frame_size, len(data))
            self.c.send_data(sid, data[:n])
            data = data[n:]
            self.flush()
        if end:
            self.c.end_stream(sid)
            self.flush()

    def send_after_goaway(self, sid, data, end=False):
        """A DATA frame built by hand (python-h2 sends nothing after a GOAWAY)."""
        self.sock.sendall(len(data).to_bytes(3, "big") + bytes([0, 1 if end else 0]) +
                          sid.to_bytes(4, "big") + data)

    def read(self, sid):
        """(fin, rsv, op, payload) of the stream's next WebSocket frame."""
        st = self.streams[sid]

        def have():
            b = st.data
            if len(b) < 2:
                return False
            assert not b[1] & 0x80, "a server frame was masked"
            n, k = b[1] & 127, 2
            if n == 126:
                if len(b) < 4:
                    return False
                n, k = struct.unpack(">H", b[2:4])[0], 4
            elif n == 127:
                if len(b) < 10:
                    return False
                n, k = struct.unpack(">Q", b[2:10])[0], 10
            return len(b) >= k + n and (k, n)

        self.pump(lambda: have() or st.ended or st.reset is not None)
        got = have()
        assert got, "the stream ended (%s, reset %r) with %r" % (st.ended, st.reset, st.data)
        k, n = got
        b0, p = st.data[0], st.data[k:k + n]
        st.data = st.data[k + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 15, p

    def message(self, sid):
        """A whole message (op, payload), control frames between skipped."""
        op0, data = None, b""
        while True:
            fin, rsv, op, p = self.read(sid)
            if op >= 8:
                continue
            if op0 is None:
                op0 = op
            data += p
            if fin:
                return op0, data

    def close(self):
        self.sock.close()


def finish(s):
    """Stops a server: it must exit cleanly (under ASan: no error, no leak)."""
    rc = s.stop(timeout=30)
    out = s.output()
    assert rc == 0 and "Sanitizer" not in out, out[-4000:]


@pytest.fixture(params=["h2c", "tls"])
def mode(request):
    return request.param


def echo_server(server, mode):
    return start_echo(server, *(["--tls-self-signed"] if mode == "tls" else []))


def test_setting_sent_with_routes_and_extended_connect_refused_without(server, tmp_path):
    echo = start_echo(server)
    c = H2(echo.port)
    assert c.settings.get(ENABLE_CONNECT_PROTOCOL) == 1
    c.close()
    # a static-only server has no WebSocket to offer: no setting, and an
    # extended CONNECT is malformed to nghttp2 (RFC 8441 section 3)
    (tmp_path / "a.txt").write_text("a")
    static = server("serve", "0", "-b", "127.0.0.1", "-d", str(tmp_path), "--quiet")
    c = H2(static.port, validate=False)
    assert ENABLE_CONNECT_PROTOCOL not in c.settings
    sid, head = c.connect(path=b"/a.txt")
    assert head is None and c.streams[sid].reset == 1  # PROTOCOL_ERROR
    c.close()
    finish(static)
    finish(echo)


def test_echo_messages_fragments_ping_and_close(server, mode):
    echo = echo_server(server, mode)
    c = H2(echo.port, tls=mode == "tls")
    sid, head = c.connect(path=b"/chat/room")
    assert head[b":status"] == b"200"
    assert b"sec-websocket-accept" not in head and b"upgrade" not in head
    assert not c.streams[sid].ended
    c.send(sid, frame(1, "héllo".encode()))
    assert c.read(sid) == (True, 0, 1, "héllo".encode())
    c.send(sid, frame(2, b"\x00\xff\x80bin"))
    assert c.read(sid) == (True, 0, 2, b"\x00\xff\x80bin")
    c.send(sid, frame(1, b""))
    assert c.read(sid) == (True, 0, 1, b"")
    # a fragmented message with a ping between its fragments
    c.send(sid, frame(1, b"frag", fin=False) + frame(9, b"pp") + frame(0, b"ment", fin=False) +
           frame(0, b"ed"))
    assert c.read(sid) == (True, 0, 10, b"pp")      # the pong, at once
    assert c.message(sid) == (1, b"fragmented")
    # an unmasked client frame is a protocol error over h2 too (1002)
    sid2, _ = c.connect()
    c.send(sid2, frame(1, b"bare", mask=None))
    fin, rsv, op, p = c.read(sid2)
    assert op == 8 and struct.unpack(">H", p[:2])[0] == 1002
    c.pump(lambda: c.streams[sid2].ended)           # then END_STREAM: the server's FIN
    # the closing handshake: the code echoed, then END_STREAM
    c.send(sid, frame(8, struct.pack(">H", 1000) + b"bye"))
    fin, rsv, op, p = c.read(sid)
    assert op == 8 and struct.unpack(">H", p[:2])[0] == 1000
    c.pump(lambda: c.streams[sid].ended)
    assert c.streams[sid].reset is None
    c.send(sid, b"", end=True)
    # the connection still serves (a GET on a WebSocket path: 400)
    g = c.get(b"/")
    c.pump(lambda: c.streams[g].ended)
    assert c.streams[g].headers[b":status"] == b"400"
    c.close()
    finish(echo)


def test_larger_than_the_windows_both_ways(server, mode):
    echo = echo_server(server, mode)
    c = H2(echo.port, tls=mode == "tls", window=16384)  # the server waits for our updates
    sid, head = c.connect()
    assert head[b":status"] == b"200"
    big = bytes(range(256)) * 4096                      # 1 MiB: past the server's 64 KiB window
    c.send(sid, frame(2, big))
    assert c.message(sid) == (2, big)
    c.close()
    finish(echo)


def test_input_pauses_while_output_backs_up(server):
    # a client that sends and does not read: the server's echoes wait in its
    # queue (the client grants no window), and past 4 MiB queued the server
    # stops granting the stream's window, so the client's sending stops too
    echo = start_echo(server)
    c = H2(echo.port, ack=False)
    sid, _ = c.connect()
    msg = frame(2, b"x" * 65536)
    sent, blocked = 0, False
    while sent < 16 << 20 and not blocked:
        data = msg
        while data:
            room = c.c.local_flow_control_window(sid)
            if room <= 0:
                # no window for 2 s is the pause once past the limit; before
                # it, only a slow server (a loaded machine): wait for it
                try:
                    c.pump(lambda: c.c.local_flow_control_window(sid) > 0,
                           timeout=2 if sent * 65536 >= 4 << 20 else T)
                except AssertionError:
                    blocked = True
                    break
                continue
            n = min(room, c.c.max_outbound_frame_size, len(data))
            c.c.send_data(sid, data[:n])
            c.flush()
            data = data[n:]
        sent += 1
    assert blocked, "the server took %d messages without pausing" % sent
    assert sent * 65536 >= 4 << 20, sent                 # it paused at its limit, not before
    c.ack = True                                          # reading again ...
    c.acknowledge()
    c.send(sid, data)                                     # ... lets the rest of the last one in
    for _ in range(sent):
        assert c.message(sid) == (2, b"x" * 65536)
    c.close()
    finish(echo)


def test_permessage_deflate(server, mode):
    echo = echo_server(server, mode)
    c = H2(echo.port, tls=mode == "tls")
    sid, head = c.connect(extra=[(b"sec-websocket-extensions",
                                  b"permessage-deflate; client_max_window_bits")])
    assert head[b"sec-websocket-extensions"].startswith(b"permessage-deflate"), head
    text = b"compress me " * 200
    co = zlib.compressobj(wbits=-15)
    z = co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH)
    c.send(sid, frame(1, z[:-4], rsv=4))
    fin, rsv, op, p = c.read(sid)
    assert (fin, rsv, op) == (True, 4, 1) and len(p) < len(text)
    assert zlib.decompressobj(wbits=-15).decompress(p + b"\x00\x00\xff\xff") == text
    c.close()
    finish(echo)


def test_several_websockets_and_gets_on_one_connection(server, mode):
    echo = echo_server(server, mode)
    c = H2(echo.port, tls=mode == "tls")
    ids = [c.connect(path=b"/s%d" % i)[0] for i in range(4)]
    gets = [c.get(b"/nothing%d" % i) for i in range(3)]
    for i, sid in enumerate(ids):                        # interleaved sends
        c.send(sid, frame(1, b"first %d" % i, fin=False))
    for i, sid in enumerate(reversed(ids)):
        c.send(sid, frame(0, b" and last"))
    for i, sid in enumerate(ids):
        assert c.message(sid) == (1, b"first %d and last" % i)
    c.pump(lambda: all(c.streams[g].ended for g in gets))
    for g in gets:
        assert c.streams[g].headers[b":status"] == b"400", c.streams[g].headers
    for sid in ids:
        c.send(sid, frame(8, struct.pack(">H", 1000)))
        assert c.read(sid)[2] == 8
    c.pump(lambda: all(c.streams[s].ended for s in ids))
    c.close()
    finish(echo)


def test_refusals(server):
    echo = start_echo(server)
    c = H2(echo.port)
    sid, head = c.connect(protocol=b"chat")              # RFC 9220 section 3: 501
    assert head[b":status"] == b"501"
    c.pump(lambda: c.streams[sid].ended)
    sid, head = c.connect(version=None)                  # no version: 400, which one is spoken
    assert head[b":status"] == b"400" and head[b"sec-websocket-version"] == b"13"
    sid, head = c.connect(version=b"8")
    assert head[b":status"] == b"400" and head[b"sec-websocket-version"] == b"13"
    c.pump(lambda: c.streams[sid].ended)
    # a plain GET over h2 cannot upgrade: 400 naming the way (RFC 8441)
    g = c.get(b"/")
    c.pump(lambda: c.streams[g].ended)
    assert c.streams[g].headers[b":status"] == b"400"
    assert b"RFC 8441" in c.streams[g].data
    c.close()
    finish(echo)


def test_routes_that_do_not_upgrade(ws_prog):  # noqa: F811
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        c = H2(s.port)
        # a route that answers 200 without upgrading would look like an open
        # WebSocket: 501 instead (RFC 9220 section 3)
        sid, head = c.connect(path=b"/page")
        assert head[b":status"] == b"501", head
        c.pump(lambda: c.streams[sid].ended)
        assert b"WebSocket" in c.streams[sid].data
        sid, head = c.connect(path=b"/nothing")           # an error stays what it was
        assert head[b":status"] == b"404", head
        g = c.get(b"/page")                               # the GET of the page is a page
        c.pump(lambda: c.streams[g].ended)
        assert c.streams[g].headers[b":status"] == b"200" and b"<script>" in c.streams[g].data
        c.close()
        finish(s)
    finally:
        s.kill()


def test_deferred_answers_that_do_not_upgrade(ws_prog):  # noqa: F811
    """A handler that defers an extended CONNECT and answers 2xx later (from
    another thread) without upgrading gets the synchronous handler's 501: a
    2xx would tell the client its WebSocket is open (RFC 9113 section 8.5),
    whole or streamed; a non-2xx stays what it was; the connection serves its
    other streams throughout."""
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        c = H2(s.port)
        for path in (b"/later", b"/later?stream"):
            sid, head = c.connect(path=path)
            assert head[b":status"] == b"501", (path, head)
            c.pump(lambda: c.streams[sid].ended)
            body = c.streams[sid].data
            assert b"WebSocket" in body and b"not a websocket" not in body, body
            assert head[b"content-length"] == str(len(body)).encode(), head
            assert head[b"content-type"].startswith(b"text/html"), head
            g = c.get(b"/page")                           # the connection goes on
            c.pump(lambda: c.streams[g].ended)
            assert c.streams[g].headers[b":status"] == b"200"
        sid, head = c.connect(path=b"/later?404")         # an error stays what it was
        assert head[b":status"] == b"404", head
        sid, head = c.connect(path=b"/ws")                # and a WebSocket still opens
        assert head[b":status"] == b"200", head
        c.send(sid, frame(0x1, b"after", mask=MASK))
        assert c.message(sid) == (0x1, b"protocol:")
        assert c.message(sid) == (0x1, b"after")
        c.close()
        assert s.wait_for(r"^later 0$")                   # berth_respond succeeded (as a 501)
        # the streamed answer: started (as a 501), its write past the 501's
        # whole body is BERTH_ERR_USAGE, its end releases it
        assert s.wait_for(r"^later-stream 0 -4006 0$")
        finish(s)
    finally:
        s.kill()


def test_deferred_200_to_an_http11_upgrade_is_not_an_open_websocket(ws_prog):  # noqa: F811
    """Over HTTP/1.1 the same handler's 200 reaches the client as it is: only
    a 101 opens a WebSocket there (RFC 6455 section 4.1), so a client fails
    its handshake by itself and no 501 is needed."""
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        k = socket.create_connection(("127.0.0.1", s.port), timeout=T)
        k.sendall(b"GET /later HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        got = b""
        while b"not a websocket" not in got:
            d = k.recv(65536)
            assert d, got
            got += d
        assert got.startswith(b"HTTP/1.1 200 "), got
        assert b"sec-websocket-accept" not in got.lower(), got
        k.close()
        finish(s)
    finally:
        s.kill()


def test_peer_end_stream_and_reset(server, ws_prog):  # noqa: F811
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        c = H2(s.port)
        sid, head = c.connect(path=b"/ws", extra=[(b"sec-websocket-protocol", b"other, chat")])
        assert head[b":status"] == b"200" and head[b"sec-websocket-protocol"] == b"chat"
        assert c.message(sid) == (1, b"protocol:chat")
        c.send(sid, b"", end=True)                       # FIN without a close frame: 1006
        c.pump(lambda: c.streams[sid].ended)             # and the server ends its side
        assert s.wait_for(r"^close 1006\b")
        sid, _ = c.connect(path=b"/ws")
        assert c.message(sid) == (1, b"protocol:")
        c.c.reset_stream(sid, 8)                         # RST_STREAM: an abort, 1006
        c.flush()
        end = time.monotonic() + T
        while s.output().count("close 1006") < 2:
            assert time.monotonic() < end, s.output()
            time.sleep(0.02)
        sid, _ = c.connect(path=b"/ws")                  # the server's own close
        assert c.message(sid) == (1, b"protocol:")
        c.send(sid, frame(1, b"close"))
        fin, rsv, op, p = c.read(sid)
        assert op == 8 and p == struct.pack(">H", 4000) + b"asked"
        assert not c.streams[sid].ended                  # it waits for our close frame
        c.send(sid, frame(8, p))
        c.pump(lambda: c.streams[sid].ended)             # then ends its side first
        assert c.streams[sid].reset is None
        assert s.wait_for(r"^close 4000 asked")
        c.send(sid, b"", end=True)
        c.close()
        finish(s)
    finally:
        s.kill()


def test_idle_timeout_spares_a_connection_with_a_websocket(ws_prog):  # noqa: F811
    # idle connections close after 300 ms; one that carries a WebSocket
    # stream is watched by the WebSocket's own pings and timeouts instead
    s = start_prog(ws_prog, "0", "1000", "1048576", "plain", "300")
    try:
        idle = H2(s.port)
        c = H2(s.port)
        sid, _ = c.connect(path=b"/ws")
        assert c.message(sid) == (1, b"protocol:")
        idle.pump(lambda: idle.closed or idle.goaway is not None, timeout=T)  # the timeout works
        time.sleep(1.5)                                   # five idle timeouts
        c.send(sid, frame(1, b"still here"))
        assert c.message(sid) == (1, b"still here")
        # once the WebSocket is over (the closing handshake, the server's
        # END_STREAM), a peer that never ends its side holds nothing: the
        # idle timeout closes the connection again
        c.send(sid, frame(1, b"close"))
        fin, rsv, op, p = c.read(sid)
        assert op == 8
        c.send(sid, frame(8, p))
        c.pump(lambda: c.streams[sid].ended)
        c.pump(lambda: c.closed or c.goaway is not None, timeout=T)
        idle.close()
        c.close()
        finish(s)
    finally:
        s.kill()


def test_api_backpressure_and_drain_over_h2(ws_prog):  # noqa: F811
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        c = H2(s.port)
        sid, _ = c.connect(path=b"/ws")
        assert c.message(sid) == (1, b"protocol:")
        c.send(sid, frame(1, b"flood"))
        # the stream's window holds the queue: 1 MiB fits 15 messages of 64 KiB
        assert s.wait_for(r"^flood 15 messages, then ENOBUFS, \d+ buffered$")
        for _ in range(15):
            assert c.message(sid) == (2, b"f" * 65536)
        assert c.message(sid) == (1, b"drained")
        assert s.wait_for(r"^drain \d+$")
        c.close()
        finish(s)
    finally:
        s.kill()


def test_stop_sends_going_away(server, mode):
    echo = echo_server(server, mode)
    c = H2(echo.port, tls=mode == "tls")
    sid, _ = c.connect()
    c.send(sid, frame(1, b"x"))
    assert c.message(sid) == (1, b"x")
    echo.proc.send_signal(15)
    fin, rsv, op, p = c.read(sid)
    assert op == 8 and struct.unpack(">H", p[:2])[0] == 1001
    assert c.goaway == 0                                 # NO_ERROR: a drain
    c.send_after_goaway(sid, frame(8, p[:2]), end=True)
    c.pump(lambda: c.streams[sid].ended or c.closed)
    assert echo.proc.wait(timeout=T) == 0
    c.close()
    finish(echo)


def test_api_program_over_h2_tls(ws_prog):  # noqa: F811
    s = start_prog(ws_prog, "0", "1000", "1048576", "tls")
    try:
        c = H2(s.port, tls=True)
        sid, head = c.connect(path=b"/ws", extra=[(b"sec-websocket-protocol", b"superchat")])
        assert head[b"sec-websocket-protocol"] == b"superchat"
        assert s.wait_for(r"^upgrade over HTTP/2$")       # berth_req_protocol
        assert c.message(sid) == (1, b"protocol:superchat")
        c.send(sid, frame(1, b"ping"))                    # the server's ping, our pong
        assert c.read(sid) == (True, 0, 9, b"abc")
        c.send(sid, frame(10, b"abc") + frame(1, b"hi"))
        assert c.message(sid) == (1, b"hi")
        assert s.wait_for(r"^ping 0 -4006$")
        c.close()                                         # the connection goes: 1006
        assert s.wait_for(r"^close 1006\b")
        finish(s)
    finally:
        s.kill()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_page_websocket_over_h2(ws_prog):  # noqa: F811
    import asyncio
    import re
    from test_ws import Chromium
    s = start_prog(ws_prog, "0", "1000", "1048576", "tls")
    try:
        assert s.wait_for("SPKI fingerprint")
        spki = re.search(r"SPKI fingerprint: (\S+)", s.output()).group(1)

        async def go():
            async with Chromium(["--ignore-certificate-errors-spki-list=" + spki]) as b:
                page = await b.open("https://127.0.0.1:%d/page" % s.port)
                await b.wait_text(page, "state", "^open$")
                await b.wait_text(page, "log", r"^protocol:;hello;$")
        asyncio.run(go())
        m = re.search(r"^upgrade over (\S+)$", s.output(), re.M)
        assert m, s.output()
        # Chromium takes RFC 8441 when the page's h2 connection offers it
        # (SETTINGS_ENABLE_CONNECT_PROTOCOL); say which one this one used
        print("Chromium's WebSocket went over %s" % m.group(1))
        finish(s)
    finally:
        s.kill()
