"""WebSocket conformance (issue 12): RFC 6455 §5-§7 case by case, in the
order of Autobahn|Testsuite's case groups (1.x framing, 2.x pings, 3.x
reserved bits, 4.x opcodes, 5.x fragmentation, 6.x UTF-8, 7.x closing, 9.x
sizes and counts); test_ws_conform_ext.py has 12.x/13.x permessage-deflate,
the opening handshake (§4.2.1) and the client.  Hand-built masked client
frames over plain sockets against one `berth echo-server --ws` for the
module; every case asserts the exact frames the RFC requires (the close
code, and nothing the server must not send before it), then that the server
closed TCP first and still serves a fresh connection.  test_ws.py holds the
feature tests; some helpers come from it."""
import os
import struct
import threading
import time

import pytest

from conftest import Server
from test_ws import MASK, Raw, start_prog, ws_prog  # noqa: F401 (ws_prog: a fixture)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def mask_bytes(p, key):
    """p XOR the 4-byte key repeated: as big integers, fast for MiBs."""
    if not p:
        return p
    n = len(p)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(p, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(op, payload=b"", fin=True, rsv=0, mask=MASK, length=None):
    """A client frame: masked unless mask is None; length overrides the
    announced payload length."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        return h + mask + mask_bytes(payload, mask)
    return h + payload


def close_frame(code=None, reason=b""):
    return frame(8, b"" if code is None else struct.pack(">H", code) + reason)


class Peer(Raw):
    """Raw with strict reads: exactly these frames, then the close."""

    def __init__(self, port, headers=b"", path=b"/"):
        super().__init__(port, headers, path)
        self.s.settimeout(15)

    def chops(self, data, size=1):
        for i in range(0, len(data), size):
            self.s.sendall(data[i:i + size])

    def expect(self, *frames):
        """The next frames are exactly these (fin, rsv, op, payload)."""
        for want in frames:
            assert self.read() == want

    def expect_close(self, code, before=()):
        """Exactly the frames in before, then a close with code (None: an
        empty close payload), then TCP closed by the server.  The close's
        reason, if any."""
        got = []
        while True:
            f = self.read()
            if f[2] == 8:
                break
            got.append(f)
        assert got == list(before), "frames before the close: %r" % got
        fin, rsv, op, p = f
        assert fin and rsv == 0
        code_got = struct.unpack(">H", p[:2])[0] if p else None
        assert code_got == code, (code_got, p)
        reason = p[2:]
        reason.decode("utf-8")                          # a close reason is UTF-8 (§5.5.1)
        # §7.1.1: the server closes TCP first; nothing follows its close
        assert self.buf == b"", "bytes after the close frame: %r" % self.buf
        while True:
            d = self.s.recv(65536)                      # bounded by the socket's timeout
            assert d == b"" or not d, "bytes after the close frame: %r" % d
            if not d:
                break
        self.s.close()
        return reason


@pytest.fixture(scope="module")
def srv():
    s = Server(["echo-server", "--ws", "-p", "0", "-b", "127.0.0.1"])
    yield s
    s.kill()


def echo_once(port):
    r = Peer(port)
    r.send(frame(1, "still up ✓".encode()))
    r.expect((True, 0, 1, "still up ✓".encode()))
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.fixture
def port(srv):
    """The echo server's port; after the case, the server is still running
    and serves a fresh connection."""
    yield srv.port
    assert srv.alive(), srv.output()[-2000:]
    echo_once(srv.port)


def peer(port, headers=b""):
    return Peer(port, headers)


# ---- 1.x framing: text and binary of the sizes around each length form ----

SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", [1, 2])
def test_1_payload_sizes_echoed(port, op, n):
    data = (b"*" * n) if op == 1 else bytes(i * 7 & 255 for i in range(n))
    r = peer(port)
    r.send(frame(op, data))
    r.expect((True, 0, op, data))
    # the same in chops of 997 bytes (1.1.8, 1.2.8)
    r.chops(frame(op, data), 997)
    r.expect((True, 0, op, data))
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_1_unmasked_client_frame_is_1002(port):
    """§5.1: a server MUST close on an unmasked frame, with 1002 (§7.4.1);
    after a valid exchange and in the middle of a fragmented message."""
    r = peer(port)
    r.send(frame(1, b"masked") + frame(2, b"plain", mask=None) + frame(9, b"no pong"))
    r.expect_close(1002, [(True, 0, 1, b"masked")])
    r = peer(port)
    r.send(frame(1, b"a", fin=False) + frame(0, b"b", fin=False, mask=None))
    r.expect_close(1002)
    r = peer(port)
    r.send(frame(9, b"ctl", mask=None))
    r.expect_close(1002)


# ---- 2.x pings and pongs ----

@pytest.mark.parametrize("payload", [b"", b"Hello, world!", bytes([0, 255, 254, 253, 252, 251]),
                                     b"\xfe" * 125])
def test_2_ping_answered_with_its_payload(port, payload):
    r = peer(port)
    r.send(frame(9, payload))
    r.expect((True, 0, 10, payload))
    r.chops(frame(9, payload))                          # 2.6: every byte on its own
    r.expect((True, 0, 10, payload))
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_2_ping_of_126_bytes_is_1002(port):
    r = peer(port)
    r.send(frame(9, b"x" * 126))
    r.expect_close(1002)
    r = peer(port)                                      # a pong as long: the same rule (§5.5)
    r.send(frame(10, b"x" * 126))
    r.expect_close(1002)
    r = peer(port)                                      # a close as long
    r.send(frame(8, struct.pack(">H", 1000) + b"x" * 124))
    r.expect_close(1002)


def test_2_unsolicited_pongs_ignored(port):
    """§5.5.3: an unsolicited pong needs no answer (2.7, 2.8, 2.9)."""
    r = peer(port)
    r.send(frame(10, b"") + frame(10, b"unsolicited pong payload") + frame(9, b"ping payload"))
    r.expect((True, 0, 10, b"ping payload"))            # only the ping is answered
    r.send(frame(1, b"after"))
    r.expect((True, 0, 1, b"after"))
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("chop", [0, 1])
def test_2_ten_pings_answered_in_order(port, chop):
    pings = b"".join(frame(9, b"payload-%d" % i) for i in range(10))
    r = peer(port)
    if chop:
        r.chops(pings)                                  # 2.11
    else:
        r.send(pings)                                   # 2.10
    r.expect(*[(True, 0, 10, b"payload-%d" % i) for i in range(10)])
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_2_ping_inside_a_fragmented_message_answered_before_its_end(port):
    """§5.4: control frames may come between fragments, and a ping's answer
    must not wait for the message to complete (5.6-5.8, 5.19)."""
    r = peer(port)
    r.send(frame(1, b"fragment1", fin=False) + frame(9, b"pong me"))
    r.expect((True, 0, 10, b"pong me"))                 # the final fragment is not sent yet
    r.send(frame(0, b"fragment2", fin=False) + frame(10, b"pong") + frame(9, b"again"))
    r.expect((True, 0, 10, b"again"))
    r.send(frame(0, b"fragment3"))
    r.expect((True, 0, 1, b"fragment1fragment2fragment3"))
    r.send(close_frame(1000))
    r.expect_close(1000)


# ---- 3.x reserved bits: no extension negotiated ----

@pytest.mark.parametrize("rsv", range(1, 8))
@pytest.mark.parametrize("op", [1, 2, 9, 8])
def test_3_reserved_bits_are_1002(port, rsv, op):
    """§5.2: a nonzero RSV with no extension that defines it fails the
    connection; a valid message before it is still echoed, and a ping after
    it is never answered (3.2)."""
    body = struct.pack(">H", 1000) if op == 8 else b"rsv"
    r = peer(port)
    r.send(frame(1, b"before") + frame(op, body, rsv=rsv) + frame(9, b"after"))
    r.expect_close(1002, [(True, 0, 1, b"before")])


# ---- 4.x reserved opcodes ----

@pytest.mark.parametrize("op", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
@pytest.mark.parametrize("payload", [b"", b"reserved opcode payload"])
def test_4_reserved_opcodes_are_1002(port, op, payload):
    r = peer(port)
    r.send(frame(1, b"before") + frame(op, payload) + frame(9, b"after"))
    r.expect_close(1002, [(True, 0, 1, b"before")])


def test_4_reserved_opcode_inside_a_fragmented_message_is_1002(port):
    r = peer(port)
    r.send(frame(1, b"half", fin=False) + frame(3, b"", fin=False))
    r.expect_close(1002)


# ---- 5.x fragmentation ----

@pytest.mark.parametrize("op", [9, 10, 8])
def test_5_fragmented_control_frames_are_1002(port, op):
    """§5.5: control frames MUST NOT be fragmented (5.1, 5.2)."""
    body = struct.pack(">H", 1000) if op == 8 else b"fragment1"
    r = peer(port)
    r.send(frame(op, body, fin=False) + frame(0, b"fragment2"))
    r.expect_close(1002)


@pytest.mark.parametrize("fin", [True, False])
@pytest.mark.parametrize("chop", [0, 1])
def test_5_continuation_with_nothing_to_continue_is_1002(port, fin, chop):
    """5.9-5.14: a continuation frame with no message under way."""
    data = frame(0, b"non-continuation payload", fin=fin) + frame(1, b"Hello, world!")
    r = peer(port)
    r.chops(data) if chop else r.send(data)
    r.expect_close(1002)


def test_5_continuation_after_a_complete_message_is_1002(port):
    """5.15-5.17: text, then a second message's final fragment came, then a
    continuation that continues nothing."""
    r = peer(port)
    r.send(frame(1, b"fragment1", fin=False) + frame(0, b"fragment2") +
           frame(0, b"fragment3", fin=False) + frame(1, b"fragment4"))
    r.expect_close(1002, [(True, 0, 1, b"fragment1fragment2")])


@pytest.mark.parametrize("second", [1, 2])
@pytest.mark.parametrize("fin", [True, False])
def test_5_new_message_inside_a_fragmented_one_is_1002(port, second, fin):
    """§5.4: fragments of different messages MUST NOT be interleaved (5.18)."""
    r = peer(port)
    r.send(frame(1, b"fragment1", fin=False) + frame(second, b"fragment2", fin=fin))
    r.expect_close(1002)


@pytest.mark.parametrize("op", [1, 2])
def test_5_many_one_byte_fragments(port, op):
    msg = "fragmented ✓ ".encode() * 40
    data = frame(op, msg[:1], fin=False) + b"".join(
        frame(0, msg[i:i + 1], fin=False) for i in range(1, len(msg) - 1)) + frame(0, msg[-1:])
    r = peer(port)
    r.send(data)
    r.expect((True, 0, op, msg))
    r.chops(data, 7)
    r.expect((True, 0, op, msg))
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("op", [1, 2])
def test_5_fragments_with_empty_payloads(port, op):
    r = peer(port)
    # empty first, middle and last fragments around real ones
    r.send(frame(op, b"", fin=False) + frame(0, b"ab", fin=False) + frame(0, b"", fin=False) +
           frame(0, b"cd", fin=False) + frame(0, b""))
    r.expect((True, 0, op, b"abcd"))
    # a message of empty fragments only is an empty message
    r.send(frame(op, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b""))
    r.expect((True, 0, op, b""))
    r.send(frame(op, b""))
    r.expect((True, 0, op, b""))
    r.send(close_frame(1000))
    r.expect_close(1000)


def test_5_fragments_with_pings_between_sent_in_chops(port):
    """5.20: fragments and pings between them, byte by byte."""
    data = (frame(1, b"fragment1", fin=False) + frame(9, b"ping1") +
            frame(0, b"fragment2", fin=False) + frame(9, b"ping2") + frame(0, b"fragment3"))
    r = peer(port)
    r.chops(data)
    r.expect((True, 0, 10, b"ping1"), (True, 0, 10, b"ping2"),
             (True, 0, 1, b"fragment1fragment2fragment3"))
    r.send(close_frame(1000))
    r.expect_close(1000)


# ---- 6.x UTF-8 ----

VALID = [
    "κόσμε".encode(), b"\x00", b"\x7f", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80",
    b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\xef\xbf\xbe", b"\xef\xbf\xbf",
    b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "😀 emoji and 中文 text".encode(),
]

INVALID = [
    b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80\xbf",                 # lone continuations
    b"\xc0\x80", b"\xc1\xbf", b"\xc0\xaf",                              # overlong 2-byte
    b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xe0\x80\xaf",                  # overlong 3-byte
    b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf0\x80\x80\xaf",      # overlong 4-byte
    b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",               # 5 and 6 bytes
    b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf",  # surrogates
    b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf",
    b"\xed\xa0\x80\xed\xb0\x80", b"\xed\xaf\xbf\xed\xbf\xbf",           # surrogate pairs
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf7\xbf\xbf\xbf",      # past U+10FFFF
    b"\xfe", b"\xff", b"\xfe\xfe\xff\xff",
    b"\xc2", b"\xe0\xa0", b"\xf0\x90\x80", b"ok\xf4\x8f\xbf",          # truncated at the end
    b"\xc2\x41", b"\xe0\xa0\x41", b"\xf0\x90\x80\x41",                  # cut by ASCII
    "κόσμε".encode() + b"\xed\xa0\x80edited",
]


@pytest.mark.parametrize("text", VALID, ids=lambda t: t.hex()[:24])
def test_6_valid_utf8_echoed_whole_and_byte_by_byte(port, text):
    """6.2-6.3: valid text in one frame, and as fragments of one byte each
    (a sequence split across fragment boundaries is valid: §5.6 applies to
    the whole message)."""
    r = peer(port)
    r.send(frame(1, text))
    r.expect((True, 0, 1, text))
    if len(text) > 1:
        r.send(frame(1, text[:1], fin=False) +
               b"".join(frame(0, text[i:i + 1], fin=False) for i in range(1, len(text) - 1)) +
               frame(0, text[-1:]))
        r.expect((True, 0, 1, text))
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("text", INVALID, ids=lambda t: t.hex()[:24])
def test_6_invalid_utf8_is_1007(port, text):
    """§8.1: a text message that is not UTF-8 fails the connection with
    1007, whole or in 1-byte fragments; the same bytes in a binary message
    are echoed."""
    r = peer(port)
    r.send(frame(2, text))
    r.expect((True, 0, 2, text))
    r.send(frame(1, text))
    r.expect_close(1007)
    if len(text) > 1:
        r = peer(port)
        r.send(frame(1, text[:1], fin=False) +
               b"".join(frame(0, text[i:i + 1], fin=False) for i in range(1, len(text) - 1)) +
               frame(0, text[-1:]))
        r.expect_close(1007)


@pytest.mark.parametrize("first,bad", [
    ("κόσμε".encode(), b"\xed\xa0\x80edited"),          # 6.4.1: a surrogate in fragment 2
    ("κόσμε".encode() + b"\xf4", b"\x90\x80\x80"),      # 6.4.2: decided by fragment 2's byte
    (b"", b"\xc0\x80"),
    (b"abc", b"\xff"),
])
def test_6_fail_fast_on_fragments(port, first, bad):
    """§8.1 with Autobahn 6.4: the 1007 comes once the invalid bytes are in,
    before the message's final fragment (which is never sent)."""
    r = peer(port)
    if first:
        r.send(frame(1, first, fin=False))
        r.send(frame(0, bad, fin=False))
    else:
        r.send(frame(1, bad, fin=False))
    r.expect_close(1007)


def test_6_fail_fast_inside_one_frame(port):
    """6.4.3-6.4.4: one frame whose payload arrives in parts: the 1007 comes
    after the invalid part, before the rest of the frame."""
    good, bad, rest = "κόσμε".encode(), b"\xf4\x90\x80\x80", "edited".encode()
    f = frame(1, good + bad + rest)
    head = len(f) - len(good + bad + rest)
    r = peer(port)
    r.send(f[:head + len(good)])
    r.send(f[head + len(good):head + len(good) + len(bad)])
    r.expect_close(1007)
    r = peer(port)                                      # the byte that decides arrives alone
    r.send(f[:head + len(good) + 1])
    r.send(f[head + len(good) + 1:head + len(good) + 2])
    r.expect_close(1007)


@pytest.mark.parametrize("ch", ["é", "€", "😀", "\U0010ffff"])
def test_6_sequence_split_at_every_fragment_boundary(port, ch):
    b = ("a" + ch + "z").encode()
    r = peer(port)
    for cut in range(1, len(b)):
        r.send(frame(1, b[:cut], fin=False) + frame(0, b[cut:]))
        r.expect((True, 0, 1, b))
    r.send(close_frame(1000))
    r.expect_close(1000)


# ---- 7.x closing ----

def test_7_close_after_a_message(port):
    r = peer(port)
    r.send(frame(1, b"Hello World!") + close_frame(1000))
    r.expect_close(1000, [(True, 0, 1, b"Hello World!")])


@pytest.mark.parametrize("after", [
    close_frame(1000),                                  # 7.1.2: a second close
    frame(9, b"ping"),                                  # 7.1.3
    frame(1, b"text"),                                  # 7.1.4
    frame(2, b"binary"),
    frame(0, b"continuation"),                          # nothing is parsed after the close
    frame(1, b"\xff"),                                  # not even bad data: no 1007
])
def test_7_frames_after_the_peers_close_are_ignored(port, after):
    """§5.5.1: after sending its close an endpoint sends no data frames:
    nothing after the peer's close is answered; the server answers the close
    and closes TCP."""
    r = peer(port)
    r.send(close_frame(1000) + after)
    r.expect_close(1000)


def test_7_close_inside_a_fragmented_message(port):
    """7.1.5: the close ends the session; the message stays incomplete."""
    r = peer(port)
    r.send(frame(1, b"fragment1", fin=False) + close_frame(1000) + frame(0, b"fragment2"))
    r.expect_close(1000)


def test_7_close_after_a_large_message(port):
    """7.1.6: a large message, a close, a ping: the echo, the close, no pong."""
    big = os.urandom(256 << 10)
    r = peer(port)
    r.send(frame(2, big) + close_frame(1000) + frame(9, b"no"))
    r.expect_close(1000, [(True, 0, 2, big)])


def test_7_close_payloads(port):
    """7.3: empty (no code in the answer either), a code, a code and a
    reason of 123 bytes (the most that fits), 124 bytes is too long."""
    r = peer(port)
    r.send(close_frame())
    r.expect_close(None)
    r = peer(port)
    r.send(close_frame(1000))
    r.expect_close(1000)
    r = peer(port)
    r.send(close_frame(1000, b"Hello World!"))
    r.expect_close(1000)
    r = peer(port)
    r.send(close_frame(1000, b"*" * 123))
    r.expect_close(1000)
    r = peer(port)
    r.send(close_frame(1000, b"*" * 124))
    r.expect_close(1002)


def test_7_close_with_one_byte_is_1002(port):
    r = peer(port)
    r.send(frame(8, b"\x03"))
    r.expect_close(1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                                  65535])
def test_7_invalid_close_codes_are_1002(port, code):
    r = peer(port)
    r.send(close_frame(code))
    r.expect_close(1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
                                  3999, 4000, 4999])
def test_7_valid_close_codes_echoed(port, code):
    r = peer(port)
    r.send(close_frame(code, "reason ✓".encode()))
    r.expect_close(code)


@pytest.mark.parametrize("reason", [b"\xce", b"\xed\xa0\x80", b"ok\xc0\x80", b"\xff"])
def test_7_close_reason_not_utf8_is_1007(port, reason):
    r = peer(port)
    r.send(close_frame(1000, reason))
    r.expect_close(1007)


def test_7_server_closes_tcp_without_waiting_for_the_client(port):
    """§7.1.1: after the closing handshake the server closes TCP first; the
    client keeps its socket open and sees the end of the stream."""
    r = peer(port)
    t0 = time.monotonic()
    r.send(close_frame(1001))
    r.expect_close(1001)
    assert time.monotonic() - t0 < 10


# ---- 9.x large messages, many small ones ----

@pytest.mark.parametrize("size", [64 << 10, 256 << 10, 1 << 20, 4 << 20])
def test_9_large_messages(port, size):
    text = ("0123456789abcdef" * (size // 16)).encode()
    binary = os.urandom(size)
    r = peer(port)
    t0 = time.monotonic()
    r.send(frame(1, text))
    r.expect((True, 0, 1, text))
    r.send(frame(2, binary))
    r.expect((True, 0, 2, binary))
    assert time.monotonic() - t0 < 20
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("frag", [64, 4096, 65536, 1 << 20])
def test_9_fragmented_4m_message(port, frag):
    """9.3-9.4: a 4 MiB message in fragments of one size, sent in chops."""
    msg = os.urandom(4 << 20)
    parts = [msg[i:i + frag] for i in range(0, len(msg), frag)]
    data = frame(2, parts[0], fin=False) + b"".join(
        frame(0, p, fin=False) for p in parts[1:-1]) + frame(0, parts[-1])
    r = peer(port)
    t0 = time.monotonic()
    r.chops(data, 1 << 16)
    r.expect((True, 0, 2, msg))
    assert time.monotonic() - t0 < 20
    r.send(close_frame(1000))
    r.expect_close(1000)


@pytest.mark.parametrize("size", [0, 16, 64, 256, 1024, 4096])
def test_9_thousand_messages(port, size):
    """9.7-9.8: 1000 messages sent back to back, all echoed in order."""
    r = peer(port)
    t0 = time.monotonic()
    msgs = [(b"%04d" % i + b"m" * size)[:size] if size else b"" for i in range(1000)]
    # sent from a thread while the echoes are read: 4 MB each way need not
    # fit the sockets' buffers
    tx = threading.Thread(target=r.send, daemon=True,
                          args=(b"".join(frame(1 if i % 2 else 2, m) for i, m in enumerate(msgs)),))
    tx.start()
    for i, m in enumerate(msgs):
        assert r.read() == (True, 0, 1 if i % 2 else 2, m)
    tx.join(30)
    # and one at a time, each after its echo
    for m in msgs[:200]:
        r.send(frame(1, m))
        assert r.read() == (True, 0, 1, m)
    assert time.monotonic() - t0 < 20
    r.send(close_frame(1000))
    r.expect_close(1000)


# ---- the API (tests/integration/ws_prog.c): a server-initiated close ----

def test_7_server_initiated_close(ws_prog):
    """§7.1.2-§7.1.3 from the server's side: after its own close it answers
    no ping and echoes no data, waits for the client's close, then closes TCP
    first."""
    s = start_prog(ws_prog, "0", "1000", "1048576")
    try:
        r = Peer(s.port, path=b"/ws")
        r.expect((True, 0, 1, b"protocol:"))
        r.send(frame(1, b"close"))
        fin, rsv, op, p = r.read()
        assert (op, p) == (8, struct.pack(">H", 4000) + b"asked")
        r.send(frame(9, b"no answer") + frame(1, b"no echo"))
        r.send(close_frame(4000))
        r.s.settimeout(15)
        assert r.s.recv(100) == b"" and r.buf == b""
        assert s.wait_for(r"^close 4000\b")
    finally:
        s.kill()
