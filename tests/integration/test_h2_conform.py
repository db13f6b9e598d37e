"""HTTP/2 conformance (RFC 9113, HPACK RFC 7541), h2spec-style: raw frames
over a plain socket (h2c with prior knowledge) or TLS with ALPN h2, built by
hand (hyperframe and hpack for the well-formed ones, bytes for the rest) so
that frames python-h2 would refuse to build can be sent.  Each case names the
section that fixes the server's reaction: a connection error is a GOAWAY with
that code and then the close; a stream error is a RST_STREAM with that code
(RFC 9113 §5.4.1 lets a server make any stream error a connection error, so
a GOAWAY with the same code passes too), after which the same connection must
still serve a request; "ignored" means the connection answers a PING and
serves a request afterwards, with no error on the way."""
import pytest

pytest.importorskip("hpack")
pytest.importorskip("hyperframe.frame")
from h2raw import (ACK, CANCEL, CLOSED, COMPRESSION, CONT, DATA, END_HEADERS, END_STREAM, FLOW,
                   FRAME_SIZE, GOAWAY, HEADERS, NO_ERROR, PADDED, PING, PREFACE,
                   PRIO, PRIORITY, PROTOCOL, PUSH, Closed, REFUSED, RST, SETTINGS,
                   S_FRAME, S_NO_RFC7540_PRIORITIES, S_PUSH, S_STREAMS, S_TABLE,
                   S_WINDOW, WU, frame, half_closed, open_stream, padded,
                   raw_block, setting, u32)  # noqa: E402

from h2raw import both, peer, plain, root, tls  # noqa: E402,F401 (fixtures)


# ---------------------------------------------------------------- §3.4, §4, §5.5: ignored / served

def test_3_4_preface_and_settings_then_served(both, peer):
    """§3.4: the server's preface is a SETTINGS frame; ours is ACKed; a
    request is served over h2c and over TLS (ALPN h2)."""
    p = peer(both)
    p.read_until(lambda f: f[0] == SETTINGS and f[1] & ACK)
    assert p.get_ok() == b"hello, a\n"


def test_3_4_invalid_preface_is_a_connection_error(both, peer):
    """§3.4: an invalid preface is a connection error PROTOCOL_ERROR (the
    GOAWAY MAY be omitted: a close passes too; on the h2c port, which also
    serves HTTP/1.1, an HTTP/1.1 error answer may come before the close)."""
    p = peer(both, preface=b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0),
             handshake=False)
    kind, code, _ = p.error()
    assert kind == "closed" or (kind, code) == ("goaway", PROTOCOL), (kind, code)
    p.expect_close()


def test_3_4_first_frame_not_settings(both, peer):
    """§3.4: the preface's SETTINGS must be the first frame."""
    p = peer(both, preface=PREFACE + frame(PING, 0, 0, b"12345678"), handshake=False)
    p.expect_goaway(PROTOCOL)


IGNORED = {
    # §4.1: flags without defined semantics are ignored
    "4.1-undefined-flags": lambda p: frame(PING, 0x16, 0, b"flags..."),
    # §4.1: the reserved bit of the stream identifier is ignored
    "4.1-reserved-bit": lambda p: frame(PING, 0, 1 << 31, b"reserved"),
    # §5.5: unknown frame types are ignored, on stream 0 or on any stream
    "5.5-unknown-type-conn": lambda p: frame(0x20, 0xff, 0, b"extension"),
    "5.5-unknown-type-stream": lambda p: frame(0x21, 0, 7, b"extension"),
    # §6.5.2: unknown SETTINGS identifiers are ignored
    "6.5.2-unknown-setting": lambda p: frame(SETTINGS, 0, 0, setting(0xFF, 1) + setting(0x7777, 9)),
    # §5.1, §6.3: PRIORITY is allowed on an idle stream (and does not open it)
    "6.3-priority-idle": lambda p: frame(PRIORITY, 0, 99, u32(0) + b"\x10"),
    # §6.7: a PING with ACK is not answered (expect_alive's own PING is)
    "6.7-ping-ack-unanswered": lambda p: frame(PING, ACK, 0, b"not-mine"),
    # §6.9: a WINDOW_UPDATE for the connection is taken
    "6.9-window-update-conn": lambda p: frame(WU, 0, 0, u32(1000)),
    # §6.5: SETTINGS with legal values at their bounds
    "6.5.2-legal-bounds": lambda p: frame(SETTINGS, 0, 0, setting(S_PUSH, 0) +
                                          setting(S_WINDOW, 2 ** 31 - 1) +
                                          setting(S_FRAME, 2 ** 24 - 1) + setting(S_TABLE, 0)),
    # §6.5: an empty SETTINGS frame
    "6.5-empty-settings": lambda p: frame(SETTINGS, 0, 0),
}


@pytest.mark.parametrize("case", sorted(IGNORED))
def test_ignored(case, peer):
    p = peer()
    p.send(IGNORED[case](p))
    if case == "6.7-ping-ack-unanswered":
        p.send(frame(PING, 0, 0, b"answered"))
        f = p.read_until(lambda f: f[0] == PING)
        assert f[3] == b"answered" and f[1] & ACK, "an ACK PING was answered"
    p.expect_alive()


def test_6_5_3_settings_are_acknowledged(peer):
    """§6.5.3: each SETTINGS is ACKed with an empty SETTINGS ACK."""
    p = peer()
    p.read_until(lambda f: f[0] == SETTINGS and f[1] & ACK)  # the preface's
    p.send(frame(SETTINGS, 0, 0, setting(S_TABLE, 4096)))
    f = p.read_until(lambda f: f[0] == SETTINGS)
    assert f[1] & ACK and f[3] == b"" and f[2] == 0


def test_6_7_ping_echoes_its_payload(both, peer):
    p = peer(both)
    p.send(frame(PING, 0, 0, b"\x00\xffpayload"[:8]))
    f = p.read_until(lambda f: f[0] == PING)
    assert (f[1] & ACK, f[2], f[3]) == (ACK, 0, b"\x00\xffpayload"[:8])


# ---------------------------------------------------------------- connection errors

CONN_ERRORS = {
    # §4.2: a frame over SETTINGS_MAX_FRAME_SIZE that carries a field block
    "4.2-headers-too-large": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, p.new_id(),
                                              raw_block() + b"\x00\x01x\x83" + b"\x00" * 16384),
                              FRAME_SIZE),
    # §4.3: a field block that cannot be decoded
    "4.3-bad-block": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, p.new_id(),
                                      b"\x82\x86\x84\x01\x09localhost\x00"), COMPRESSION),
    # §4.3, §6.10: a field block is contiguous: nothing between HEADERS and CONTINUATION
    "4.3-priority-inside-block": (lambda p: (lambda s: frame(HEADERS, END_STREAM, s, raw_block()[:3])
                                             + frame(PRIORITY, 0, s, u32(0) + b"\x10")
                                             + frame(CONT, END_HEADERS, s, raw_block()[3:]))(
                                                 p.new_id()), PROTOCOL),
    "5.5-unknown-frame-inside-block": (lambda p: (lambda s: frame(HEADERS, END_STREAM, s,
                                                                  raw_block()[:3])
                                                  + frame(0x20, 0, s, b"x")
                                                  + frame(CONT, END_HEADERS, s, raw_block()[3:]))(
                                                      p.new_id()), PROTOCOL),
    "6.10-data-inside-block": (lambda p: (lambda s: frame(HEADERS, 0, s, raw_block()[:3])
                                          + frame(DATA, 0, s, b"x")
                                          + frame(CONT, END_HEADERS, s, raw_block()[3:]))(
                                              p.new_id()), PROTOCOL),
    "6.10-continuation-other-stream": (lambda p: (lambda s: frame(HEADERS, END_STREAM, s,
                                                                  raw_block()[:3])
                                                  + frame(CONT, END_HEADERS, s + 2,
                                                          raw_block()[3:]))(p.new_id()), PROTOCOL),
    "6.10-continuation-after-end-headers": (lambda p: (lambda s: frame(HEADERS, END_STREAM |
                                                                       END_HEADERS, s, raw_block())
                                                       + frame(CONT, END_HEADERS, s,
                                                               b"\x0f\x2b\x01x"))(p.new_id()),
                                            PROTOCOL),
    "6.10-continuation-without-headers": (lambda p: frame(CONT, END_HEADERS, p.new_id(),
                                                          raw_block()), PROTOCOL),
    "6.10-continuation-stream-0": (lambda p: frame(HEADERS, END_STREAM, 1, raw_block()[:3]) +
                                   frame(CONT, END_HEADERS, 0, raw_block()[3:]), PROTOCOL),
    # §5.1: idle streams take HEADERS and PRIORITY only
    "5.1-idle-data": (lambda p: frame(DATA, END_STREAM, 1, b"x"), PROTOCOL),
    "5.1-idle-rst-stream": (lambda p: frame(RST, 0, 1, u32(CANCEL)), PROTOCOL),
    "5.1-idle-window-update": (lambda p: frame(WU, 0, 1, u32(100)), PROTOCOL),
    # §5.1.1: client streams are odd and increasing
    "5.1.1-even-stream": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 2, raw_block()),
                          PROTOCOL),
    "5.1.1-decreasing-stream": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 5, raw_block())
                                + frame(HEADERS, END_STREAM | END_HEADERS, 3, raw_block()),
                                PROTOCOL),
    # §6.1: DATA on stream 0; padding as long as the payload
    "6.1-data-stream-0": (lambda p: frame(DATA, 0, 0, b"x"), PROTOCOL),
    "6.1-data-padding-too-long": (lambda p: (lambda s: p.headers(s, method="POST",
                                                                 end_stream=False)
                                             + frame(DATA, END_STREAM | PADDED, s,
                                                     b"\x05abcd"))(p.new_id()), PROTOCOL),
    # §6.2: HEADERS on stream 0; padding as long as the payload
    "6.2-headers-stream-0": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 0, raw_block()),
                             PROTOCOL),
    "6.2-headers-padding-too-long": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS | PADDED,
                                                     p.new_id(), bytes([len(raw_block()) + 1]) +
                                                     raw_block()), PROTOCOL),
    # §6.3: PRIORITY on stream 0
    "6.3-priority-stream-0": (lambda p: frame(PRIORITY, 0, 0, u32(1) + b"\x10"), PROTOCOL),
    # §6.4: RST_STREAM on stream 0, or not 4 bytes long
    "6.4-rst-stream-0": (lambda p: frame(RST, 0, 0, u32(CANCEL)), PROTOCOL),
    "6.4-rst-wrong-length": (lambda p: (lambda s: p.headers(s, method="POST", end_stream=False)
                                        + frame(RST, 0, s, u32(CANCEL) + b"\0"))(p.new_id()),
                             FRAME_SIZE),
    # §6.5: SETTINGS: ACK with a payload, a stream, a length not a multiple of 6
    "6.5-settings-ack-payload": (lambda p: frame(SETTINGS, ACK, 0, setting(S_TABLE, 4096)),
                                 FRAME_SIZE),
    "6.5-settings-on-stream": (lambda p: frame(SETTINGS, 0, 1, setting(S_TABLE, 4096)), PROTOCOL),
    "6.5-settings-length-7": (lambda p: frame(SETTINGS, 0, 0, setting(S_TABLE, 4096) + b"\0"),
                              FRAME_SIZE),
    "6.5-settings-length-3": (lambda p: frame(SETTINGS, 0, 0, b"\0\0\0"), FRAME_SIZE),
    # §6.5.2: values out of range
    "6.5.2-enable-push-2": (lambda p: frame(SETTINGS, 0, 0, setting(S_PUSH, 2)), PROTOCOL),
    "6.5.2-initial-window-2^31": (lambda p: frame(SETTINGS, 0, 0, setting(S_WINDOW, 2 ** 31)),
                                  FLOW),
    "6.5.2-max-frame-size-16383": (lambda p: frame(SETTINGS, 0, 0, setting(S_FRAME, 16383)),
                                   PROTOCOL),
    "6.5.2-max-frame-size-2^24": (lambda p: frame(SETTINGS, 0, 0, setting(S_FRAME, 2 ** 24)),
                                  PROTOCOL),
    # §6.7: PING on a stream, or not 8 bytes long
    "6.7-ping-on-stream": (lambda p: frame(PING, 0, 1, b"12345678"), PROTOCOL),
    "6.7-ping-length-6": (lambda p: frame(PING, 0, 0, b"123456"), FRAME_SIZE),
    "6.7-ping-ack-length-9": (lambda p: frame(PING, ACK, 0, b"123456789"), FRAME_SIZE),
    # §6.8: GOAWAY on a stream
    "6.8-goaway-on-stream": (lambda p: frame(GOAWAY, 0, 1, u32(0) + u32(NO_ERROR)), PROTOCOL),
    # §6.9: WINDOW_UPDATE: 0 on the connection, not 4 bytes, past 2^31-1
    "6.9-window-update-0-conn": (lambda p: frame(WU, 0, 0, u32(0)), PROTOCOL),
    "6.9-window-update-length-3": (lambda p: frame(WU, 0, 0, b"\0\0\1"), FRAME_SIZE),
    "6.9.1-window-overflow-conn": (lambda p: frame(WU, 0, 0, u32(2 ** 31 - 1)) +
                                   frame(WU, 0, 0, u32(2 ** 31 - 1)), FLOW),
    # §8.4: a client cannot push
    "8.4-push-promise-from-client": (lambda p: (lambda s: p.headers(s, end_stream=False)
                                                + frame(PUSH, END_HEADERS, s, u32(2) +
                                                        raw_block()))(p.new_id()), PROTOCOL),
    # RFC 7541: HPACK decoding errors are COMPRESSION_ERROR
    "hpack-2.3.3-index-out-of-range": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                       raw_block() + b"\xbe"), COMPRESSION),
    "hpack-6.1-index-0": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                          b"\x80" + raw_block()), COMPRESSION),
    "hpack-4.2-table-size-over-setting": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                          b"\x3f\xe2\x1f" + raw_block()),
                                          COMPRESSION),
    "hpack-4.2-table-size-update-late": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                         raw_block() + b"\x20"), COMPRESSION),
    "hpack-5.2-huffman-eos": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                              raw_block() + b"\x0f\x2b\x84\xff\xff\xff\xff"),
                              COMPRESSION),
    "hpack-5.2-huffman-padding-over-7-bits": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS,
                                                              1, raw_block() +
                                                              b"\x0f\x2b\x82\x1f\xff"),
                                              COMPRESSION),
    "hpack-5.2-huffman-padding-not-eos": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                          raw_block() + b"\x0f\x2b\x81\x18"),
                                          COMPRESSION),
    "hpack-5.1-integer-overflow": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                   raw_block() + b"\xff" + b"\xff" * 9 + b"\x01"),
                                   COMPRESSION),
    "hpack-5.2-string-past-block": (lambda p: frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                    raw_block() + b"\x0f\x2b\x0aab"),
                                    COMPRESSION),
}
TLS_TOO = {"4.3-bad-block", "6.1-data-stream-0", "6.5-settings-ack-payload",
           "6.9.1-window-overflow-conn", "hpack-5.2-huffman-eos"}


@pytest.mark.parametrize("case", sorted(CONN_ERRORS))
def test_connection_error(case, plain, peer):
    build, code = CONN_ERRORS[case]
    p = peer(plain)
    p.send(build(p))
    p.expect_goaway(code)


@pytest.mark.parametrize("case", sorted(TLS_TOO))
def test_connection_error_tls(case, tls, peer):
    build, code = CONN_ERRORS[case]
    p = peer(tls)
    p.send(build(p))
    p.expect_goaway(code)


# ---------------------------------------------------------------- stream errors

STREAM_ERRORS = {
    # §5.3.1, §5.3.2: a stream cannot depend on itself (HEADERS and PRIORITY)
    "5.3.1-headers-depends-on-itself": (lambda p, s: frame(HEADERS, END_STREAM | END_HEADERS |
                                                           PRIO, s, u32(s) + b"\x10" +
                                                           raw_block()), PROTOCOL),
    # §6.3: a PRIORITY frame not 5 bytes long
    "6.3-priority-wrong-length": (lambda p, s: p.headers(s, method="POST", end_stream=False) +
                                  frame(PRIORITY, 0, s, u32(0) + b"\x10\x00"), FRAME_SIZE),
    # §6.9: a WINDOW_UPDATE of 0 on a stream
    "6.9-window-update-0-stream": (lambda p, s: p.headers(s, method="POST", end_stream=False) +
                                   frame(WU, 0, s, u32(0)), PROTOCOL),
    # §6.9.1: a stream window past 2^31-1
    "6.9.1-window-overflow-stream": (lambda p, s: p.headers(s, method="POST", end_stream=False) +
                                     frame(WU, 0, s, u32(2 ** 31 - 1)), FLOW),
    # §4.2: DATA over SETTINGS_MAX_FRAME_SIZE (may be a connection error too)
    "4.2-data-too-large": (lambda p, s: p.headers(s, method="POST", end_stream=False) +
                           frame(DATA, END_STREAM, s, b"x" * 16385), FRAME_SIZE),
    # §8.1.1: Content-Length that the DATA does not match
    "8.1.1-content-length-more-than-data": (lambda p, s: p.headers(
        s, method="POST", end_stream=False, extra=[("content-length", "10")]) +
        frame(DATA, END_STREAM, s, b"abcd"), PROTOCOL),
    "8.1.1-content-length-less-than-data": (lambda p, s: p.headers(
        s, method="POST", end_stream=False, extra=[("content-length", "1")]) +
        frame(DATA, 0, s, b"abcd"), PROTOCOL),
    "8.1.1-content-length-without-data": (lambda p, s: p.headers(
        s, method="POST", extra=[("content-length", "5")]), PROTOCOL),
    "8.1.1-content-length-with-padding": (lambda p, s: p.headers(
        s, method="POST", end_stream=False, extra=[("content-length", "5")]) +
        padded(DATA, END_STREAM, s, b"abcd", 1), PROTOCOL),
    # §8.1: HEADERS without END_STREAM after the trailers
    "8.1-trailers-without-end-stream": (lambda p, s: p.headers(s, method="POST",
                                                               end_stream=False) +
                                        frame(DATA, 0, s, b"abcd") +
                                        frame(HEADERS, END_HEADERS, s,
                                              p.block(pseudo=[("x-trailer", "1")])), PROTOCOL),
    # §8.1: a second HEADERS without END_STREAM right after the request's
    "8.1-second-headers-without-end-stream": (lambda p, s: p.headers(s, method="POST",
                                                                     end_stream=False) +
                                              frame(HEADERS, END_HEADERS, s,
                                                    p.block(pseudo=[("x-more", "1")])), PROTOCOL),
    # §8.1, §8.3: pseudo-header fields in trailers
    "8.3-pseudo-in-trailers": (lambda p, s: p.headers(s, method="POST", end_stream=False) +
                               frame(DATA, 0, s, b"abcd") +
                               frame(HEADERS, END_HEADERS | END_STREAM, s,
                                     p.block(pseudo=[(":method", "POST")])), PROTOCOL),
}

# §8.2, §8.3: malformed requests (stream error PROTOCOL_ERROR)
TLS_STREAM = {"8.1.1-content-length-more-than-data", "6.9-window-update-0-stream"}


def stream_error(srv, peer, case):
    build, code = STREAM_ERRORS[case]
    p = peer(srv)
    sid = p.new_id()
    p.send(build(p, sid))
    return p.expect_stream_error(sid, code)


@pytest.mark.parametrize("case", sorted(STREAM_ERRORS))
def test_stream_error(case, plain, peer):
    stream_error(plain, peer, case)


@pytest.mark.parametrize("case", sorted(TLS_STREAM))
def test_stream_error_tls(case, tls, peer):
    stream_error(tls, peer, case)


# ---------------------------------------------------------------- well-formed variants are served

SERVED = {
    # §6.2: HEADERS with padding and a (valid) priority
    "6.2-headers-padded": lambda p, s: padded(HEADERS, END_STREAM | END_HEADERS, s,
                                              raw_block(), 7),
    "6.2-headers-priority": lambda p, s: frame(HEADERS, END_STREAM | END_HEADERS | PRIO, s,
                                               u32(0) + b"\x10" + raw_block()),
    "6.2-headers-padded-priority": lambda p, s: frame(
        HEADERS, END_STREAM | END_HEADERS | PRIO | PADDED, s,
        b"\x03" + u32(0) + b"\xff" + raw_block() + b"\0\0\0"),
    # §6.10: a field block in HEADERS and several CONTINUATION frames
    "6.10-continuations": lambda p, s: (frame(HEADERS, END_STREAM, s, raw_block()[:2]) +
                                        frame(CONT, 0, s, raw_block()[2:5]) +
                                        frame(CONT, 0, s, b"") +
                                        frame(CONT, END_HEADERS, s, raw_block()[5:])),
    # §8.2.2: TE: trailers is allowed
    "8.2.2-te-trailers": lambda p, s: p.headers(s, extra=[("te", "trailers")]),
    # §8.1: trailers end a request (a POST to a file: 405, but answered)
    "8.1-trailers": lambda p, s: (p.headers(s, method="POST", end_stream=False) +
                                  frame(DATA, 0, s, b"abcd") +
                                  frame(HEADERS, END_HEADERS | END_STREAM, s,
                                        p.block(pseudo=[("x-trailer", "1")]))),
    # §6.1: padded DATA with a matching Content-Length
    "6.1-data-padded": lambda p, s: (p.headers(s, method="POST", end_stream=False,
                                               extra=[("content-length", "4")]) +
                                     padded(DATA, END_STREAM, s, b"abcd", 10)),
    # §6.1: an empty DATA frame ends the request
    "6.1-empty-data-ends": lambda p, s: (p.headers(s, end_stream=False) +
                                         frame(DATA, END_STREAM, s, b"")),
    # §5.1: PRIORITY in open and before HEADERS of the same stream
    "5.1-priority-then-headers": lambda p, s: (frame(PRIORITY, 0, s, u32(0) + b"\x10") +
                                               p.headers(s)),
    # §4.2: DATA of exactly SETTINGS_MAX_FRAME_SIZE (16,384) is taken
    "4.2-data-of-max-frame-size": lambda p, s: (p.headers(s, method="POST", end_stream=False,
                                                          extra=[("content-length", "16384")]) +
                                                frame(DATA, END_STREAM, s, b"x" * 16384)),
    # §8.3.1: Host instead of :authority; OPTIONS *; other methods
    "8.3.1-host-instead-of-authority": lambda p, s: p.headers(s, pseudo=[
        (":method", "GET"), (":scheme", "http"), (":path", "/a.txt"), ("host", "localhost")]),
    "8.3.1-options-asterisk": lambda p, s: p.headers(s, pseudo=[
        (":method", "OPTIONS"), (":scheme", "http"), (":path", "*"), (":authority", "localhost")]),
    "8.3.1-delete": lambda p, s: p.headers(s, method="DELETE"),
    # §8.2.1: an empty value, and bytes above 0x7f in a value, are valid
    "8.2.1-empty-value": lambda p, s: p.headers(s, extra=[("x-empty", "")]),
    "8.2.1-obs-text-value": lambda p, s: p.headers(s, extra=[(b"x-v", b"caf\xe9")]),
    # §7: an unknown error code in RST_STREAM is no error of the receiver's
    "7-rst-unknown-code": lambda p, s: p.headers(s) + frame(RST, 0, s, u32(0xff)),
    # RFC 7541 §6.3: a dynamic table size update at the start of a block
    "hpack-6.3-table-size-update": lambda p, s: frame(HEADERS, END_STREAM | END_HEADERS, s,
                                                      b"\x3f\xe1\x1f" + b"\x20" + raw_block()),
    # RFC 7541: Huffman-coded strings and the dynamic table across requests
    "hpack-huffman-and-indexing": lambda p, s: p.headers(s, extra=[("x-a", "indexed value")]),
}


@pytest.mark.parametrize("case", sorted(SERVED))
def test_served(case, plain, peer):
    p = peer(plain)
    sid = p.new_id()
    p.send(SERVED[case](p, sid))
    if case == "7-rst-unknown-code":  # the stream is gone: the connection must go on
        p.expect_alive()
        return
    status, _, _ = p.response(sid)
    assert status in ("200", "204", "405"), status
    p.expect_alive()


def test_4_3_dynamic_table_evictions(peer):
    """§4.3, RFC 7541 §4.4: field blocks that make the server's decoder
    evict entries (3 x 2,000-byte values indexed in a 4,096-byte table),
    request after request, decode right."""
    p = peer()
    for i in range(4):
        sid = p.new_id()
        p.send(p.headers(sid, extra=[("x-%s" % c, c * 2000 + str(i)) for c in "abc"]))
        status, _, body = p.response(sid)
        assert (status, body) == ("200", b"hello, a\n")


def test_6_9_2_negative_window(peer):
    """§6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE cut below what was sent makes
    a stream window negative; DATA waits until WINDOW_UPDATEs lift it above
    zero."""
    p = peer(settings=[(S_WINDOW, 1000)])
    sid = p.new_id()
    p.send(p.headers(sid, "/big.bin"))
    f = p.read_until(lambda f: f[0] == DATA)
    assert len(f[3]) == 1000
    p.send(frame(SETTINGS, 0, 0, setting(S_WINDOW, 0)))  # the stream window is now -1000
    p.read_until(lambda f: f[0] == SETTINGS and f[1] & ACK and f[2] == 0)
    p.send(frame(WU, 0, sid, u32(1000)), frame(PING, 0, 0, b"negative"))  # back to 0
    p.read_until(lambda f: f[0] == PING)
    assert sum(x[4] for x in p.log if x[0] == DATA) == 1000
    p.send(frame(WU, 0, sid, u32(10)))
    f = p.read_until(lambda f: f[0] in (DATA, RST, GOAWAY))
    assert (f[0], len(f[3])) == (DATA, 10)


@pytest.mark.parametrize("code", [NO_ERROR, 0xff])
def test_6_8_goaway_from_the_client_ends_an_idle_connection(code, peer):
    """§6.8, §7: a client's GOAWAY (an unknown error code triggers nothing
    special) with no stream open: the server closes the connection, with
    no error of its own (a GOAWAY it sends says NO_ERROR)."""
    p = peer()
    p.send(frame(GOAWAY, 0, 0, u32(0) + u32(code) + b"debug"))
    try:
        while True:
            f = p.read_until(lambda f: f[0] in (GOAWAY, RST))
            assert f[0] == GOAWAY and f[3][4:8] == u32(NO_ERROR), f[:3]
    except Closed:
        pass


def test_6_8_goaway_from_the_client_lets_open_streams_finish(peer):
    """§6.8: streams the client opened before its GOAWAY are answered."""
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid, "/b.txt"), frame(GOAWAY, 0, 0, u32(0) + u32(NO_ERROR)))
    status, _, body = p.response(sid)
    assert (status, body) == ("200", b"bee\n" * 10)


@pytest.mark.parametrize("closed", [False, True])
def test_5_1_continuation_on_half_closed_or_closed_stream(closed, peer):
    """§5.1, §6.10: a CONTINUATION with no HEADERS before it, on a stream
    half-closed (remote) or closed: PROTOCOL_ERROR (or STREAM_CLOSED)."""
    p = peer(settings=[] if closed else [(S_WINDOW, 0)])
    if closed:
        sid = p.new_id()
        p.send(p.headers(sid))
        p.response(sid)
    else:
        sid = half_closed(p)
    p.send(frame(CONT, END_HEADERS, sid, b"\x0f\x2b\x01x"))
    kind, code, _ = p.error()
    assert kind == "goaway" and code in (PROTOCOL, CLOSED), (kind, code)


# ---------------------------------------------------------------- §5.1 stream states

def needs_closed_streams(p):
    """nghttp2 1.52 keeps no closed stream, and reads no PRIORITY payload,
    in a session that sent SETTINGS_NO_RFC7540_PRIORITIES=1: what then
    comes on a closed stream is ignored whatever it is (no option changes
    that but not sending the setting)."""
    if p.server_settings.get(S_NO_RFC7540_PRIORITIES) == 1:
        pytest.xfail("nghttp2 1.52 forgets closed streams and skips PRIORITY payloads once "
                     "SETTINGS_NO_RFC7540_PRIORITIES=1 is sent (RFC 9113 5.1, 5.3.1, 6.1)")


def test_5_3_1_priority_frame_depending_on_itself(both, peer):
    """§5.3.1 (RFC 7540, kept by RFC 9113 §5.3.2 for the frames still
    parsed): a stream cannot depend on itself: stream error PROTOCOL_ERROR
    (or, §5.4.1, a connection error)."""
    p = peer(both)
    needs_closed_streams(p)
    sid = open_stream(p)
    p.send(frame(PRIORITY, 0, sid, u32(sid) + b"\x10"))
    p.expect_stream_error(sid, PROTOCOL)


def test_5_1_half_closed_remote_data_is_stream_closed(both, peer):
    """§5.1, §6.1: DATA on a stream the client ended (its answer still
    under way: our window is 0) is a stream error STREAM_CLOSED."""
    p = peer(both, settings=[(S_WINDOW, 0)])
    sid = half_closed(p)
    p.send(frame(DATA, 0, sid, b"late"))
    p.expect_stream_error(sid, CLOSED)


def test_5_1_half_closed_remote_headers_is_stream_closed(peer):
    p = peer(settings=[(S_WINDOW, 0)])
    sid = half_closed(p)
    p.send(p.headers(sid))
    p.expect_stream_error(sid, CLOSED)


def test_5_1_half_closed_remote_takes_window_update_rst_priority(peer):
    """§5.1: half-closed (remote) takes WINDOW_UPDATE, PRIORITY and
    RST_STREAM; a window opened lets the answer through."""
    p = peer(settings=[(S_WINDOW, 0)])
    sid = half_closed(p)
    p.send(frame(PRIORITY, 0, sid, u32(0) + b"\x10"), frame(WU, 0, sid, u32(10)))
    f = p.read_until(lambda f: f[0] in (DATA, RST, GOAWAY) and f[2] in (sid, 0))
    assert (f[0], len(f[3])) == (DATA, 10)
    p.send(frame(RST, 0, sid, u32(CANCEL)))
    p.expect_alive()


def test_5_1_closed_data_after_end_is_stream_closed(peer):
    """§5.1 (closed), §6.1: DATA on a stream that ended both ways is an
    error STREAM_CLOSED (stream or connection)."""
    p = peer()
    needs_closed_streams(p)
    sid = p.new_id()
    p.send(p.headers(sid))
    p.response(sid)
    p.send(frame(DATA, 0, sid, b"late"))
    p.expect_stream_error(sid, CLOSED)


def test_5_1_closed_headers_after_end_is_an_error(peer):
    """§5.1 (closed), §5.1.1: HEADERS on a stream that ended both ways:
    STREAM_CLOSED (or PROTOCOL_ERROR: an identifier not new)."""
    p = peer()
    needs_closed_streams(p)
    sid = p.new_id()
    p.send(p.headers(sid))
    p.response(sid)
    p.send(p.headers(sid))
    kind, code, _ = p.error()
    assert kind in ("goaway", "rst") and code in (CLOSED, PROTOCOL), (kind, code, p.log[-8:])


def test_5_1_data_after_client_rst_is_an_error(peer):
    """§5.1: frames other than PRIORITY on a stream the client reset:
    STREAM_CLOSED."""
    p = peer()
    needs_closed_streams(p)
    sid = open_stream(p)
    p.send(frame(RST, 0, sid, u32(CANCEL)))
    p.send(frame(DATA, 0, sid, b"late"))
    p.expect_stream_error(sid, CLOSED)


def test_5_1_priority_on_closed_stream_is_ignored(peer):
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid))
    p.response(sid)
    p.send(frame(PRIORITY, 0, sid, u32(0) + b"\x10"))
    p.expect_alive()


def test_5_1_frames_after_server_rst_are_ignored(peer):
    """§5.1 (closed): after the server reset a stream, what the client had
    in flight on it (DATA, WINDOW_UPDATE, trailers, RST_STREAM) is ignored."""
    p = peer()
    sid = p.new_id()
    p.send(frame(HEADERS, END_HEADERS, sid, raw_block() + b"\x40\x01X\x01y"))  # uppercase name
    p.read_until(lambda f: f[0] == RST and f[2] == sid)
    p.send(frame(DATA, 0, sid, b"in flight"), frame(WU, 0, sid, u32(5)),
           frame(HEADERS, END_STREAM | END_HEADERS, sid, p.block(pseudo=[("x-trailer", "1")])),
           frame(RST, 0, sid, u32(CANCEL)))
    p.expect_alive()


def test_5_4_2_rst_is_not_answered_with_rst(peer):
    """§5.4.2: a RST_STREAM is never answered with one; the connection goes on."""
    p = peer()
    sid = open_stream(p)
    p.send(frame(RST, 0, sid, u32(CANCEL)))
    p.expect_alive()
    assert not [f for f in p.log if f[0] == RST], p.log


def test_5_1_1_new_stream_closes_lower_idle_ones(peer):
    """§5.1.1: opening stream 5 closes idle stream 3; HEADERS on 3 then is
    an error (PROTOCOL_ERROR, or STREAM_CLOSED)."""
    p = peer()
    p.send(p.headers(5))
    p.response(5)
    p.send(p.headers(3))
    kind, code, _ = p.error()
    assert kind in ("goaway", "rst") and code in (PROTOCOL, CLOSED), (kind, code, p.log[-8:])


def test_5_1_2_concurrency_limit(peer):
    """§5.1.2: a stream over SETTINGS_MAX_CONCURRENT_STREAMS is a stream
    error PROTOCOL_ERROR or REFUSED_STREAM (the others then go on), or
    (§5.4.1, nghttp2's choice) a connection error PROTOCOL_ERROR naming
    the last stream within the limit."""
    p = peer()
    limit = p.server_settings.get(S_STREAMS)
    assert limit and limit <= 1000, p.server_settings
    p.read_until(lambda f: f[0] == SETTINGS and f[1] & ACK)  # our SETTINGS taken
    ids = [p.new_id() for _ in range(limit + 1)]
    p.send(*[p.headers(s, method="POST", end_stream=False) for s in ids])
    kind, code, which = p.error()
    if kind == "goaway":
        assert (code, which) == (PROTOCOL, ids[-2])
        p.expect_close()
        return
    assert (kind, which, code in (PROTOCOL, REFUSED)) == ("rst", ids[-1], True), (kind, code, which)
    p.send(frame(DATA, END_STREAM, ids[0], b""))
    status, _, _ = p.response(ids[0])
    assert status == "405"


# ---------------------------------------------------------------- flow control, frame sizes, push

def test_6_9_2_initial_window_change_applies_to_open_streams(both, peer):
    """§6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change adjusts the windows
    of open streams: with 0 nothing comes, with 20 twenty bytes, with 40
    the rest."""
    p = peer(both, settings=[(S_WINDOW, 0)])
    sid = p.new_id()
    p.send(p.headers(sid, "/b.txt"))
    p.read_until(lambda f: f[0] == HEADERS and f[2] == sid)
    p.send(frame(SETTINGS, 0, 0, setting(S_WINDOW, 20)))
    f = p.read_until(lambda f: f[0] in (DATA, RST, GOAWAY))
    assert (f[0], f[3]) == (DATA, b"bee\n" * 5) and not f[1] & END_STREAM
    p.send(frame(SETTINGS, 0, 0, setting(S_WINDOW, 40)))
    f = p.read_until(lambda f: f[0] in (DATA, RST, GOAWAY))
    assert (f[0], f[3], f[1] & END_STREAM) == (DATA, b"bee\n" * 5, END_STREAM)


def test_6_9_2_initial_window_change_overflowing_a_stream(peer):
    """§6.9.2: a change that takes a stream window past 2^31-1 is a
    connection error FLOW_CONTROL_ERROR."""
    p = peer(settings=[(S_WINDOW, 0)])
    sid = half_closed(p)
    p.send(frame(WU, 0, sid, u32(2 ** 31 - 1)))
    p.send(frame(SETTINGS, 0, 0, setting(S_WINDOW, 2 ** 31 - 1)))
    p.expect_goaway(FLOW)


def test_6_9_1_server_keeps_to_the_window_and_frame_size(both, peer):
    """§6.9.1, §4.2: the server sends no more DATA than the window, and
    no frame over SETTINGS_MAX_FRAME_SIZE (16384 by default)."""
    p = peer(both, settings=[(S_WINDOW, 1000)])
    sid = p.new_id()
    p.send(p.headers(sid, "/big.bin"))
    p.read_until(lambda f: f[0] == HEADERS and f[2] == sid)
    f = p.read_until(lambda f: f[0] == DATA)
    assert len(f[3]) == 1000
    p.send(frame(PING, 0, 0, b"window.."))
    p.read_until(lambda f: f[0] == PING)
    assert sum(x[4] for x in p.log if x[0] == DATA) == 1000  # not a byte more
    p.send(frame(WU, 0, sid, u32(2 ** 20)), frame(WU, 0, 0, u32(2 ** 20)))
    status, _, body = p.response(sid)
    assert len(body) == (256 << 10) - 1000
    assert max(x[4] for x in p.log if x[0] == DATA) <= 16384


def test_6_9_1_server_keeps_to_the_connection_window(peer):
    """§6.9.1: the connection window (65,535 until a WINDOW_UPDATE on
    stream 0) bounds DATA on all streams together."""
    p = peer(settings=[(S_WINDOW, 2 ** 31 - 1)])
    sids = [p.new_id(), p.new_id()]
    p.send(*[p.headers(s, "/big.bin") for s in sids])
    got = 0
    while got < 65535:
        f = p.read_until(lambda f: f[0] in (DATA, RST, GOAWAY))
        assert f[0] == DATA, f[:3]
        got += len(f[3])
    p.send(frame(PING, 0, 0, b"conn-win"))
    p.read_until(lambda f: f[0] == PING)
    assert sum(x[4] for x in p.log if x[0] == DATA) == 65535  # not a byte more
    p.send(frame(WU, 0, 0, u32(2 * (256 << 10))))
    for s in sids:
        f = p.read_until(lambda f: f[2] == s and f[1] & END_STREAM or f[0] in (RST, GOAWAY))
        assert f[0] == DATA, f[:3]
    assert sum(x[4] for x in p.log if x[0] == DATA) == 2 * (256 << 10)


def test_5_1_closed_stream_takes_window_update_priority_rst(peer):
    """§5.1 (closed): WINDOW_UPDATE and RST_STREAM may still come on a
    stream that just ended, and PRIORITY always may: all ignored."""
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid))
    p.response(sid)
    p.send(frame(WU, 0, sid, u32(100)), frame(PRIORITY, 0, sid, u32(0) + b"\x10"),
           frame(RST, 0, sid, u32(CANCEL)))
    p.expect_alive()



def test_hpack_representations_and_the_dynamic_table(both, peer):
    """RFC 7541 §6: indexed, literal with incremental indexing (new name),
    without indexing, never indexed; the next block refers to the two
    entries the first one added (indices 62 and 63)."""
    p = peer(both)
    first = (raw_block() + b"\x40\x03x-a\x011" + b"\x00\x03x-b\x012" + b"\x10\x03x-c\x013" +
             b"\x53\x03*/*")  # accept: */* (indexed name 19, incremental indexing)
    for block in (first, raw_block() + b"\xbe\xbf"):  # accept: */*, x-a: 1
        sid = p.new_id()
        p.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, block))
        status, _, body = p.response(sid)
        assert (status, body) == ("200", b"hello, a\n")


def test_6_1_padding_is_flow_controlled_and_credited(peer):
    """§6.1, §6.9.1: padding counts against the windows, and the server
    gives it back: 300 DATA frames of 1 byte and 255 of padding (76,800
    flow-controlled bytes, past both 65,535 windows) go through a client
    that keeps to the windows the server grants."""
    p = peer()
    conn, stream = 65535, p.server_settings.get(S_WINDOW, 65535)
    sid = p.new_id()
    p.send(p.headers(sid, method="POST", end_stream=False, extra=[("content-length", "300")]))
    for i in range(300):
        while conn < 256 or stream < 256:
            f = p.read_until(lambda f: f[0] in (WU, RST, GOAWAY), timeout=5)
            assert f[0] == WU, f[:3]
            inc = int.from_bytes(f[3], "big")
            if f[2] == 0:
                conn += inc
            elif f[2] == sid:
                stream += inc
        p.send(padded(DATA, END_STREAM if i == 299 else 0, sid, b"x", 254))
        conn -= 256
        stream -= 256
    status, _, _ = p.response(sid)
    assert status == "405"


def test_5_1_no_frame_after_the_client_reset_the_stream(peer):
    """§5.1, §5.4.2: once the client reset a stream mid-answer, the server
    sends nothing more on it, even when the connection window opens (a
    PING round trip after the reset marks the point).  The stream's window
    is large: the connection's is what holds the answer back."""
    p = peer(settings=[(S_WINDOW, 1 << 20)])
    sid = p.new_id()
    p.send(p.headers(sid, "/big.bin"))
    p.read_until(lambda f: f[0] == DATA and f[2] == sid)
    p.send(frame(RST, 0, sid, u32(CANCEL)), frame(PING, 0, 0, b"after-rs"))
    p.read_until(lambda f: f[0] == PING and f[3] == b"after-rs")
    mark = len(p.log)
    p.send(frame(WU, 0, 0, u32(1 << 20)))  # the connection window: no more on sid
    p.expect_alive()
    assert not [f for f in p.log[mark:] if f[2] == sid], p.log[mark:]
