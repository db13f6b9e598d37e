"""HTTP/2 messages (RFC 9113 §8), conformance over raw frames (h2raw):
malformed requests (field names and values, connection-specific fields,
pseudo-header fields) are stream errors PROTOCOL_ERROR after which the
connection goes on; answers carry valid fields, interim 1xx before the
final one, no DATA for HEAD, no server push; a dynamic table the client
forbids is not used."""
import pytest

pytest.importorskip("hpack")
pytest.importorskip("hyperframe.frame")
from h2raw import (ACK, DATA, END_STREAM, GOAWAY, HEADERS, PROTOCOL, PUSH, SETTINGS,  # noqa: E402
                   S_PUSH, S_TABLE, WU, frame)
from h2raw import both, peer, plain, root, tls  # noqa: E402,F401 (fixtures)

# §8.2, §8.3, §8.5: each a stream error PROTOCOL_ERROR
BASE = [(":method", "GET"), (":scheme", "http"), (":path", "/a.txt"), (":authority", "localhost")]
MALFORMED = {
    "8.2-uppercase-name": BASE + [("X-Upper", "1")],
    "8.2-space-in-name": BASE + [("x y", "1")],
    "8.2-colon-in-name": BASE + [("x:y", "1")],
    "8.2.1-nul-in-value": BASE + [("x-v", "a\x00b")],
    "8.2.1-lf-in-value": BASE + [("x-v", "a\nb")],
    "8.2.1-cr-in-value": BASE + [("x-v", "a\rb")],
    "8.2.1-leading-space-in-value": BASE + [("x-v", " a")],
    "8.2.1-trailing-tab-in-value": BASE + [("x-v", "a\t")],
    "8.2.2-connection": BASE + [("connection", "keep-alive")],
    "8.2.2-keep-alive": BASE + [("keep-alive", "timeout=5")],
    "8.2.2-proxy-connection": BASE + [("proxy-connection", "keep-alive")],
    "8.2.2-transfer-encoding": BASE + [("transfer-encoding", "chunked")],
    "8.2.2-upgrade": BASE + [("upgrade", "h2c")],
    "8.2.2-te-gzip": BASE + [("te", "gzip")],
    "8.3-unknown-pseudo": BASE + [(":foo", "bar")],
    "8.3-response-pseudo-in-request": BASE[:3] + [(":status", "200"), BASE[3]],
    "8.3-pseudo-after-regular": BASE[:3] + [("x-a", "1"), BASE[3]],
    "8.3.1-duplicate-method": BASE + [(":method", "GET")],
    "8.3.1-duplicate-path": BASE[:3] + [(":path", "/b.txt"), BASE[3]],
    "8.3.1-duplicate-scheme": [BASE[0], BASE[1], BASE[1]] + BASE[2:],
    "8.3.1-missing-method": BASE[1:],
    "8.3.1-missing-scheme": [BASE[0]] + BASE[2:],
    "8.3.1-missing-path": BASE[:2] + BASE[3:],
    "8.3.1-empty-path": BASE[:2] + [(":path", ""), BASE[3]],
    "8.2.1-del-in-name": BASE + [("x\x7fy", "1")],
    "8.2.2-te-trailers-and-more": BASE + [("te", "trailers, deflate")],
    "8.5-connect-with-path": [(":method", "CONNECT"), (":authority", "localhost:443"),
                              (":path", "/")],
    "8.5-connect-without-authority": [(":method", "CONNECT")],
    "8.3-protocol-without-extended-connect": BASE + [(":protocol", "websocket")],
    # RFC 9110 §8.6 as §8.1.1 applies it: a Content-Length that is no number
    "8.1.1-content-length-not-a-number": BASE + [("content-length", "abc")],
    "8.1.1-two-content-lengths": BASE + [("content-length", "0"), ("content-length", "1")],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_request(case, plain, peer):
    p = peer(plain)
    sid = p.new_id()
    p.send(p.headers(sid, pseudo=MALFORMED[case]))
    p.expect_stream_error(sid, PROTOCOL)


def test_malformed_request_tls(tls, peer):
    p = peer(tls)
    sid = p.new_id()
    p.send(p.headers(sid, pseudo=MALFORMED["8.2-uppercase-name"]))
    p.expect_stream_error(sid, PROTOCOL)


def test_8_4_server_never_pushes(peer):
    """§8.4: no PUSH_PROMISE, even to a client that allows push."""
    p = peer(settings=[(S_PUSH, 1)])
    assert p.server_settings.get(S_PUSH, 0) == 0
    for path in ["/", "/c.html", "/a.txt"]:
        p.get_ok(path)
    assert not [f for f in p.log if f[0] == PUSH]


def test_8_1_response_fields_are_valid(both, peer):
    """§8.2, §8.3.2: :status first, names lower case, no connection-specific
    field in an answer."""
    p = peer(both)
    sid = p.new_id()
    p.send(p.headers(sid, "/a.txt"))
    f = p.read_until(lambda f: f[0] == HEADERS and f[2] == sid)
    names = [k for k, _ in f[4]]
    assert names[0] == ":status" and all(k == k.lower() for k in names)
    assert not {"connection", "keep-alive", "transfer-encoding", "upgrade"} & set(names)


def test_6_5_2_header_table_size_0_is_honoured(peer):
    """RFC 9113 §6.5.2, RFC 7541 §4.2: a client that allows no dynamic
    table gets answers whose field blocks use none (our decoder, limited to
    0, would fail on any entry or a size update above 0)."""
    p = peer(settings=[(S_TABLE, 0)])
    p.dec.max_allowed_table_size = 0
    p.read_until(lambda f: f[0] == SETTINGS and f[1] & ACK)
    for path in ["/a.txt", "/b.txt", "/a.txt", "/nope"]:
        sid = p.new_id()
        p.send(p.headers(sid, path))
        p.response(sid)
    assert not p.dec.header_table.dynamic_entries and p.dec.header_table.maxsize == 0


def test_8_1_interim_100_then_final_answer(peer):
    """§8.1: an interim (1xx) HEADERS without END_STREAM, then the final
    answer, on one stream."""
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid, method="POST", end_stream=False,
                     extra=[("content-length", "4"), ("expect", "100-continue")]))
    f = p.read_until(lambda f: f[2] == sid or f[0] == GOAWAY)
    assert f[0] == HEADERS and dict(f[4])[":status"] == "100" and not f[1] & END_STREAM, f[:3]
    p.send(frame(DATA, END_STREAM, sid, b"abcd"))
    status, _, _ = p.response(sid)
    assert status == "405"


def test_8_1_head_answer_has_no_data(both, peer):
    """RFC 9110 §9.3.2 over h2: a HEAD answer is HEADERS with END_STREAM,
    its Content-Length that of the GET, and no DATA."""
    p = peer(both)
    sid = p.new_id()
    p.send(p.headers(sid, method="HEAD"))
    f = p.read_until(lambda f: f[2] == sid)
    assert f[0] == HEADERS and f[1] & END_STREAM and dict(f[4]).get("content-length") == "9"
    p.expect_alive()
    assert not [x for x in p.log if x[0] == DATA and x[2] == sid]


def refused_as_malformed(p, sid):
    """§8.1.1: a malformed request is a stream error PROTOCOL_ERROR, and
    the server may answer (400) first; never the file; the connection goes
    on."""
    try:
        status, _, _ = p.response(sid)
        assert status == "400", status
    except AssertionError as e:
        assert "reset: %d" % PROTOCOL in str(e), e
    p.expect_alive()


def test_8_3_1_host_differing_from_authority(peer):
    """§8.3.1: a Host naming another authority than :authority SHOULD be
    malformed (RST_STREAM PROTOCOL_ERROR); §8.1.1 lets the server answer
    first: a 400 passes too, never the file."""
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid, extra=[("host", "elsewhere.example")]))
    refused_as_malformed(p, sid)


@pytest.mark.parametrize("field, value", [(":authority", "user@localhost"),
                                          (":authority", "local%zzhost"),
                                          (":authority", "[::1"), ("host", "a b")])
def test_8_3_1_authority_and_host_must_be_hosts(peer, field, value):
    """§8.3.1: ":authority MUST NOT include the deprecated userinfo
    subcomponent"; it and Host are an RFC 3986 host [":" port] (RFC 9110
    §7.2), as Host is in HTTP/1.1: malformed, so 400 or PROTOCOL_ERROR,
    never the file; the connection goes on."""
    p = peer()
    sid = p.new_id()
    if field == "host":
        p.send(p.headers(sid, pseudo=[(":method", "GET"), (":scheme", "http"), (":path", "/a.txt")],
                         extra=[("host", value)]))
    else:
        p.send(p.headers(sid, pseudo=[(":method", "GET"), (":scheme", "http"), (":path", "/a.txt"),
                                      (":authority", value)]))
    refused_as_malformed(p, sid)
    sid = p.new_id()
    p.send(p.headers(sid, pseudo=[(":method", "GET"), (":scheme", "http"), (":path", "/a.txt"),
                                  (":authority", "a%2Db:80")]))
    assert p.response(sid)[0] == "200"


def test_8_1_early_answer_then_the_rest_of_the_body_is_taken(peer):
    """§8.1: a server may answer before the request ends (here 413 for a
    Content-Length over the body limit); the DATA the client still sends
    is taken without error and its window given back, and the connection
    goes on."""
    p = peer()
    sid = p.new_id()
    p.send(p.headers(sid, method="POST", end_stream=False,
                     extra=[("content-length", str(64 << 20))]))
    f = p.read_until(lambda f: f[2] == sid or f[0] == GOAWAY)
    assert f[0] == HEADERS and dict(f[4])[":status"] == "413", f[:3]
    conn, sent = 65535, 0
    while sent < 200000:  # past the first connection window
        while conn < 16384:
            f = p.read_until(lambda f: (f[0] == WU and f[2] == 0) or f[0] == GOAWAY, timeout=5)
            assert f[0] == WU, f[:3]
            conn += int.from_bytes(f[3], "big")
        p.send(frame(DATA, 0, sid, b"x" * 16384))
        conn -= 16384
        sent += 16384
    p.expect_alive()
    assert not [x for x in p.log if x[0] == GOAWAY]
