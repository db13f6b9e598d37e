"""HTTP/1.1 conformance of `berth serve` (RFC 9112 message syntax and
framing, RFC 9110 semantics, RFC 9111 as an origin), in the style of
test_h2_conform.py: raw bytes over a plain socket, each case naming the
section that fixes the server's reaction.  An error case asserts the exact
status, that nothing after the bad request is answered (the connection is
closed: a request smuggled behind it is never served), and that the server
still serves a fresh connection afterwards.  "accepted" cases assert the
answer and that the same connection goes on.

What test_serve.py, test_serve_files.py, test_serve_ranges.py and
test_serve_body.py already pin down (the common malformed heads, the
precondition order, single and multipart ranges, chunked bodies) is not
repeated here: these are the cases they miss.  Where the RFC leaves a
choice, the comment says what nginx 1.22 and h2o 2.2 do and why berth's
answer is the one kept."""
import re

import pytest

from test_serve import HOST, Conn, make_site, req, responses, start_serve, status_of, statuses

SMUGGLE = b"GET /secret-in-body.txt HTTP/1.1\r\nHost: x\r\n\r\n"
A = b"hello, a\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = make_site(tmp_path_factory.mktemp("h1conf") / "www")
    (r / "t.js").write_bytes(b"var x = 1;\n" * 200)  # compressible: Vary, a -gz tag
    return r


@pytest.fixture(scope="module")
def srv(root):
    """One server for the module; every test checks it still serves."""
    s = start_serve(root, "--quiet", "--cache-control", "max-age=60")
    yield s
    assert s.stop() == 0, s.output()


def exchange(port, data, timeout=5):
    """Sends data, returns every byte until the server closes."""
    with Conn(port) as c:
        c.send(data)
        return c.read_to_eof(timeout)


def served(port):
    """The server still answers a request on a fresh connection."""
    with Conn(port) as c:
        c.send(req("/a.txt"))
        r = c.read_response()
    assert r.status == 200 and r.body == A, r
    return True


def rejected(port, data, status):
    """data is answered `status` alone and the connection closed: the request
    behind it (SMUGGLE) is never answered."""
    out = exchange(port, data + SMUGGLE)
    assert statuses(out) == [status], out[:400]
    head = out.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nconnection: close" in head, head
    assert b"SMUGGLED" not in out
    assert served(port)
    return out


def accepted(port, data, want=200, body=A):
    """data is answered `want`, and the same connection serves one more."""
    with Conn(port) as c:
        c.send(data + req("/b.txt"))
        r = c.read_response(head=data.startswith(b"HEAD "))
        assert r.status == want, (data[:80], r)
        if body is not None:
            assert r.body == body, r
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"bee\n" * 10, r2
    return r


# ---------------------------------------------------------------- RFC 9112 §2.2, §3: the request line

BAD_LINES = {
    # §3: request-line = method SP request-target SP HTTP-version, single SPs
    "3-tab-separators": b"GET\t/a.txt\tHTTP/1.1\r\nHost: x\r\n\r\n",
    "3-space-after-version": b"GET /a.txt HTTP/1.1 \r\nHost: x\r\n\r\n",
    "3-space-before-method": b" GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    # §3.1: method = token
    "3.1-method-not-a-token": b"GE(T /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "3.1-method-only": b"GET\r\nHost: x\r\n\r\n",
    # §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, "HTTP" case-sensitive
    "2.3-version-mixed-case": b"GET /a.txt Http/1.1\r\nHost: x\r\n\r\n",
    "2.3-version-leading-zero": b"GET /a.txt HTTP/01.1\r\nHost: x\r\n\r\n",
    "2.3-version-two-digit-minor": b"GET /a.txt HTTP/1.10\r\nHost: x\r\n\r\n",
    "2.3-version-two-digit-major": b"GET /a.txt HTTP/10.0\r\nHost: x\r\n\r\n",
    "2.3-version-no-minor": b"GET /a.txt HTTP/1\r\nHost: x\r\n\r\n",
    "2.3-version-trailing-junk": b"GET /a.txt HTTP/1.1x\r\nHost: x\r\n\r\n",
    # §3.2: the four target forms; asterisk only for OPTIONS, authority only
    # for CONNECT (which a file server refuses, as nginx does)
    "3.2.4-asterisk-with-get": b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    "3.2.3-authority-with-get": b"GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n",
    # §3.2.2 + RFC 9110 §4.2.4: userinfo in an http URI is an error; an
    # http URI needs a host
    "3.2.2-absolute-userinfo": b"GET http://u@x/a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    "3.2.2-absolute-empty-host": b"GET http:///a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    # §3.2: an HTTP/1.1 request without Host is 400 even in absolute form
    "3.2-absolute-without-host-field": b"GET http://x/a.txt HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_invalid_request_line_is_400_and_closes(srv, case):
    rejected(srv.port, BAD_LINES[case], 400)


def test_3_1_unknown_token_method_is_501_and_goes_on(srv):
    """§3.1 / RFC 9110 §9.1: "GET!" is a valid token, just not a method we
    know: 501 (nginx: 400, h2o: 405), and the connection goes on."""
    r = accepted(srv.port, req("/a.txt", "GET!"), 501, body=None)
    assert "GET" in r.h("Allow")


@pytest.mark.parametrize("target", ["http://x/a.txt", "https://x/a.txt", "http://X:8080/a.txt",
                                    "http://[::1]/a.txt"])
def test_3_2_2_absolute_form_target_wins_over_host(srv, target):
    """§3.2.2: absolute-form is accepted by a server; its authority replaces
    Host (which may then say anything valid)."""
    accepted(srv.port, ("GET %s HTTP/1.1\r\nHost: other.example\r\n\r\n" % target).encode())


@pytest.mark.parametrize("pre", [b"\r\n", b"\r\n\r\n\r\n", b"\n", b"\r\n\n"])
def test_2_2_empty_lines_before_the_request_line_are_ignored(srv, pre):
    """§2.2: a server SHOULD ignore at least one empty line (CRLF) before the
    request line; several, and bare LFs (§2.2 MAY), are ignored too (nginx
    does the same; h2o takes only one)."""
    accepted(srv.port, pre + req("/a.txt"))


# ---------------------------------------------------------------- RFC 9112 §3.2, RFC 9110 §7.2: Host

BAD_HOSTS = {
    "slash": b"x/y", "comma-list": b"x, y", "userinfo": b"u@x", "port-not-digits": b"x:abc",
    "ipv6-unclosed": b"[::1", "space": b"a b",
    # RFC 3986 §2.1: '%' starts "%" HEXDIG HEXDIG, nothing else
    "pct-not-hex": b"a%zz", "pct-short": b"a%4", "pct-alone": b"a%",
}


@pytest.mark.parametrize("case", sorted(BAD_HOSTS))
def test_3_2_invalid_host_is_400(srv, case):
    """§3.2: "A server MUST respond with a 400 ... to any request message
    that ... contains ... a Host header field with an invalid field value"
    (h2o serves these; nginx rejects most)."""
    rejected(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: " + BAD_HOSTS[case] + b"\r\n\r\n", 400)


def test_3_2_two_hosts_in_http10_is_400(srv):
    """§3.2: more than one Host field line is 400, whatever the version."""
    rejected(srv.port, b"GET /a.txt HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", 400)


@pytest.mark.parametrize("host", [b"", b"x:8080", b"[::1]:80", b"127.0.0.1", b"xn--bcher-kva.example",
                                  b"a%2Db"])
def test_3_2_valid_hosts_are_served(srv, host):
    """§3.2: an empty Host is what a client sends for a URI without an
    authority: valid (h2o serves it; nginx says 400)."""
    accepted(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")


# ---------------------------------------------------------------- RFC 9112 §5, RFC 9110 §5.5: fields

BAD_FIELDS = {
    # §5.1: field-name = token
    "5.1-name-not-a-token": b"X(A): 1",
    "5.1-name-with-slash": b"X/A: 1",
    # RFC 9110 §5.5: CR, LF, NUL are invalid in values; other CTLs too
    # (nginx passes 0x01 and DEL through, h2o rejects them)
    "5.5-ctl-in-value": b"X-A: a\x01b",
    "5.5-del-in-value": b"X-A: a\x7fb",
    "5.5-esc-in-value": b"X-A: a\x1bb",
}


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_invalid_field_is_400_and_closes(srv, case):
    rejected(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n" + BAD_FIELDS[case] + b"\r\n\r\n", 400)


def test_5_field_value_whitespace_is_not_part_of_the_value(srv):
    """§5: OWS around a value is excluded; HTAB inside one is allowed (a
    trailing tab after Host must not make the host invalid)."""
    accepted(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x \t\r\nX-A: \ta\tb \r\n\r\n")


# ---------------------------------------------------------------- RFC 9112 §6: body framing

NOT_FINAL_CHUNKED = ["gzip", "chunked, gzip", "identity", "x-custom", "deflate", "chunked;q=1"]


@pytest.mark.parametrize("te", NOT_FINAL_CHUNKED)
def test_6_3_transfer_coding_not_final_chunked_is_400(srv, te):
    """§6.3 item 4: a request whose Transfer-Encoding does not end in chunked
    has no determinable length: "the server MUST respond with the 400 (Bad
    Request) status code and then close the connection" (h2o: 400; nginx:
    501, the §6.1 SHOULD for unknown codings, which the MUST outranks)."""
    rejected(srv.port, ("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n"
                        % te).encode(), 400)


def test_6_1_unknown_coding_before_chunked_is_501(srv):
    """§6.1: a transfer coding the server does not understand SHOULD be 501;
    chunked last frames the body, so the connection could go on, but a
    body nobody can decode is not worth reading: close (nginx: 501, h2o:
    400)."""
    rejected(srv.port, b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-custom, chunked"
                       b"\r\n\r\n0\r\n\r\n", 501)


@pytest.mark.parametrize("te", ["chunked", "CHUNKED", "chunked ,", ", chunked", "chunked\t"])
def test_6_1_chunked_spelled_any_valid_way_frames_the_body(srv, te):
    """§6.1 / RFC 9110 §5.6.1: codings are case-insensitive, and a list may
    carry empty elements and OWS: all of these are just chunked."""
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLE), SMUGGLE)
    accepted(srv.port, ("GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n" % te)
             .encode() + body)


def test_6_1_transfer_encoding_over_two_lines_is_one_list(srv):
    """RFC 9110 §5.3: Transfer-Encoding: gzip + Transfer-Encoding: x-custom
    is "gzip, x-custom": not chunked last, 400."""
    rejected(srv.port, b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Transfer-Encoding: x-custom\r\n\r\n0\r\n\r\n", 400)


def test_6_1_transfer_encoding_in_http10_is_400(srv):
    """§6.1: an HTTP/1.0 message with Transfer-Encoding MUST be treated as
    faulty framing and the connection closed."""
    rejected(srv.port, b"POST /a.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)


def test_6_2_content_length_with_leading_zeros(srv):
    """§6.2: Content-Length = 1*DIGIT: "003" is three (nginx and h2o agree)."""
    accepted(srv.port, req("/a.txt", extra="Content-Length: 003\r\n") + b"xyz")


def test_7_1_chunk_extensions_and_trailers_are_accepted(srv):
    """§7.1.1: chunk-ext (token and quoted values, BWS before ";") is
    ignored; §7.1.2: trailer fields, even ones that would be framing in a
    head, are not framing."""
    body = (b"3 ;a=b;c=\"d;e\"\r\nabc\r\n0;last\r\nContent-Length: 99\r\nHost: y\r\n"
            b"X-T: 1\r\n\r\n")
    accepted(srv.port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)


BAD_CHUNKS = {
    # §7.1: chunk-size overflow must not wrap to a small size (MUST anticipate)
    "7.1-size-overflow": b"10000000000000003\r\nabc\r\n0\r\n\r\n",
    "7.1-no-size": b";ext\r\nabc\r\n0\r\n\r\n",
    "7.1-0x-prefix": b"0x3\r\nabc\r\n0\r\n\r\n",
    "7.1-data-longer-than-size": b"3\r\nabcX\r\n0\r\n\r\n",
    "7.1.1-ctl-in-extension": b"3;\x01\r\nabc\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(BAD_CHUNKS))
def test_7_1_malformed_chunked_body_closes(srv, case):
    """§7.1, §8: a chunked body that cannot be parsed leaves the message
    incomplete: the connection is closed and the bytes after it (SMUGGLE)
    are never read as a request.  The body comes with its head, so it is
    checked before a static GET is answered: 400 (as nginx and h2o), not
    the file and then a close."""
    data = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + BAD_CHUNKS[case]
    out = exchange(srv.port, data + SMUGGLE)
    assert statuses(out) == [400], out[:400]
    assert b"SMUGGLED" not in out
    assert served(srv.port)


# ---------------------------------------------------------------- RFC 9110 §10.1.1: Expect

@pytest.mark.parametrize("value", ["fly", "100-continue, fly", "100-continue;x=1"])
def test_10_1_1_unknown_expectation_is_417(srv, value):
    """RFC 9110 §10.1.1: "A server that receives an Expect field value
    containing a member other than 100-continue MAY respond with a 417":
    berth does (as Apache httpd; nginx and h2o ignore it), since going on
    would pretend to meet an expectation it never looked at.  The body the
    client holds back is never read: close."""
    rejected(srv.port, req("/a.txt", extra="Expect: %s\r\n" % value), 417)


def test_10_1_1_expectation_in_http10_is_ignored(srv):
    """§10.1.1: 100-continue in HTTP/1.0 MUST be ignored; no 100, no 417."""
    out = exchange(srv.port, b"GET /a.txt HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")
    assert statuses(out) == [200] and b" 100 " not in out.split(b"\r\n")[0]


@pytest.mark.parametrize("method, want", [("POST", 405), ("GET", 200), ("PUT", 405)])
def test_10_1_1_final_status_instead_of_100_says_close(srv, method, want):
    """§10.1.1: a server MAY answer with a final status instead of 100 when
    it would not use the body (no 100 Continue first), and then "SHOULD
    indicate whether it intends to close the connection ... or continue
    reading": the body never comes, so berth closes — and says so in that
    answer (RFC 9112 §9.6), never a silent close after a keep-alive answer."""
    data = ("%s /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
            % method).encode()
    out = exchange(srv.port, data)
    rs = responses(out)
    assert [r.status for r in rs] == [want], out[:300]
    assert rs[0].h("Connection") == "close", rs[0]
    assert b" 100 " not in out.split(b"\r\n")[0]
    assert served(srv.port)


def test_10_1_1_unknown_expectation_in_http10_is_ignored(srv):
    """§10.1.1 concerns HTTP/1.1: an HTTP/1.0 client knows no Expect."""
    out = exchange(srv.port, b"GET /a.txt HTTP/1.0\r\nExpect: fly\r\n\r\n")
    assert statuses(out) == [200]


# ---------------------------------------------------------------- RFC 9110 §13: preconditions

def tag(port, path="/a.txt"):
    with Conn(port) as c:
        c.send(req(path, "HEAD"))
        return c.read_response(head=True).h("ETag")


def test_13_1_3_invalid_if_unmodified_since_is_ignored(srv):
    """§13.1.4: If-Unmodified-Since with an invalid date MUST be ignored
    (nginx answers 412)."""
    accepted(srv.port, req("/a.txt", extra="If-Unmodified-Since: yesterday\r\n"))


@pytest.mark.parametrize("field", ["If-Match: *", "If-Match: \"x\"", "If-None-Match: *"])
def test_13_2_1_preconditions_ignored_for_non_2xx(srv, field):
    """§13.2.1: preconditions are ignored when the answer without them would
    not be 2xx or 412: a missing file stays 404, a directory without its
    slash stays 301."""
    assert exchange(srv.port, req("/nope.txt", extra=field + "\r\nConnection: close\r\n"))\
        .startswith(b"HTTP/1.1 404 ")
    assert exchange(srv.port, req("/sub", extra=field + "\r\nConnection: close\r\n"))\
        .startswith(b"HTTP/1.1 301 ")


@pytest.mark.parametrize("field, want", [("If-None-Match: *", 304), ('If-None-Match: "x"', 200),
                                         ("If-Match: *", 200), ('If-Match: "x"', 412)])
def test_13_1_listing_is_a_representation(srv, field, want):
    """§13.1.1-2: a directory listing is a current representation without an
    entity tag: "*" matches it, a listed tag never does.  So If-None-Match: *
    is 304 and If-Match: "x" is 412 (MUST NOT perform the method)."""
    with Conn(srv.port) as c:
        c.send(req("/sub/", extra=field + "\r\n") + req("/b.txt"))
        r = c.read_response()
        assert r.status == want, r
        if want == 304:
            assert r.body == b"" and r.h("Content-Length") is None
        assert c.read_response().body == b"bee\n" * 10


def test_15_4_5_304_carries_what_200_would(srv):
    """RFC 9110 §15.4.5: a 304 carries the Cache-Control, Content-Location,
    Date, ETag, Expires and Vary the 200 would; RFC 9111 §4.3.4 updates a
    stored response from them.  With and without a content coding."""
    for ae in ("", "Accept-Encoding: gzip\r\n"):
        with Conn(srv.port) as c:
            c.send(req("/t.js", extra=ae))
            full = c.read_response()
            assert full.status == 200
            c.send(req("/t.js", extra=ae + "If-None-Match: %s\r\n" % full.h("ETag")))
            nm = c.read_response()
            assert nm.status == 304, nm
            for f in ("ETag", "Cache-Control", "Vary", "Content-Location", "Expires",
                      "Last-Modified"):
                assert nm.h(f) == full.h(f), (f, ae, full, nm)
            assert nm.h("Date") and nm.h("Content-Length") is None and nm.body == b""


# ---------------------------------------------------------------- RFC 9110 §14: ranges

@pytest.mark.parametrize("spec, want, body", [
    # §14.1.1: last-pos past the end is the remainder, even past 2^64
    ("0-99999999999999999999999", "bytes 0-8/9", A),
    ("-99999999999999999999999", "bytes 0-8/9", A),
    # §14.1.2: a first-pos past the end is unsatisfiable, even past 2^64
    ("99999999999999999999999-", "bytes */9", None),
    ("99999999999999999999999-99999999999999999999999", "bytes */9", None),
])
def test_14_1_1_huge_positions_are_numbers_not_errors(srv, spec, want, body):
    """§14.1.1: "recipients ... MUST anticipate potentially large decimal
    numerals and prevent parsing errors due to integer conversion
    overflows": a position past 2^64 is just very large.  (nginx and h2o
    answer 416 to all four: wrong for the first two, whose first-pos is 0.)"""
    with Conn(srv.port) as c:
        c.send(req("/a.txt", extra="Range: bytes=%s\r\n" % spec) + req("/b.txt"))
        r = c.read_response()
        assert r.status == (206 if body else 416), (spec, r)
        assert r.h("Content-Range") == want
        if body:
            assert r.body == body
        assert c.read_response().body == b"bee\n" * 10


LM_FAR_PAST = "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize("fields", [
    # §13.1.3: If-Modified-Since "MUST" be ignored when its value has more
    # than one member; two lines are one list (RFC 9110 §5.3)
    ["If-Modified-Since: %s" % "Sat, 01 Jan 2050 00:00:00 GMT",
     "If-Modified-Since: %s" % "Sat, 01 Jan 2050 00:00:00 GMT"],
    # §13.1.4: If-Unmodified-Since likewise ("a list of dates"): no 412
    ["If-Unmodified-Since: " + LM_FAR_PAST, "If-Unmodified-Since: " + LM_FAR_PAST],
    # §14.2: two Range lines are no valid ranges-specifier: ignored, 200
    ["Range: bytes=0-1", "Range: bytes=3-4"],
    # §13.1.5: an If-Range that is no single validator never matches: 200
    ["Range: bytes=0-1", "If-Range: {E}", "If-Range: {E}"],
])
def test_13_single_valued_field_twice_is_ignored(srv, fields):
    """A field defined as one value, sent on two lines, is an invalid list:
    these four are then ignored (the answer is the plain 200), not 400 (as
    nginx answers; h2o takes the first line).  If-Match / If-None-Match,
    real lists, combine instead (the next test)."""
    extra = "".join(f.replace("{E}", tag(srv.port)) + "\r\n" for f in fields)
    accepted(srv.port, req("/a.txt", extra=extra))


@pytest.mark.parametrize("lines, want", [
    (['If-None-Match: "x"', 'If-None-Match: {E}'], 304),
    (['If-None-Match: "x"', 'If-None-Match: "y", W/{E}'], 304),
    (['If-None-Match: "x"', 'If-None-Match: "y"'], 200),
    (['If-Match: "x"', 'If-Match: {E}'], 200),
    (['If-Match: "x"', 'If-Match: "y"'], 412),
    # a tag in another field between the two lines is not a member
    (['If-Match: "x"', 'X-Other: {E}', 'If-Match: "y"'], 412),
])
def test_13_1_1_tag_list_over_several_lines_is_one_list(srv, lines, want):
    """RFC 9110 §5.3: a list field may be split over several field lines,
    which mean the same as one comma-joined line; If-Match and If-None-Match
    are lists (#entity-tag).  (nginx answers 400; h2o looks at the first.)"""
    e = tag(srv.port)
    extra = "".join(l.replace("{E}", e) + "\r\n" for l in lines)
    accepted(srv.port, req("/a.txt", extra=extra), want, body=b"" if want == 304 else None)


def test_14_4_416_on_head_has_content_range(srv):
    """RFC 9110 §15.5.17: a 416 to a byte range request SHOULD carry
    Content-Range: bytes */length, to HEAD as to GET."""
    r = accepted(srv.port, req("/a.txt", "HEAD", extra="Range: bytes=20-\r\n"), 416, body=b"")
    assert r.h("Content-Range") == "bytes */9"


def test_14_2_range_ignored_for_non_get(srv):
    """§14.2: Range is only for GET; OPTIONS with Range is a plain 204."""
    r = accepted(srv.port, req("/a.txt", "OPTIONS", extra="Range: bytes=0-1\r\n"), 204, body=b"")
    assert r.h("Content-Range") is None


# ---------------------------------------------------------------- RFC 9112 §9: connections

def test_9_3_http10_keep_alive_then_close(srv):
    """§9.3: an HTTP/1.0 request with "Connection: keep-alive" is kept open
    and its answer says so; the next one without it is the last."""
    with Conn(srv.port) as c:
        c.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.body == A and (r.h("Connection") or "").lower() == "keep-alive", r
        c.send(b"GET /b.txt HTTP/1.0\r\n\r\n")
        assert c.read_response().status == 200
        assert c.closed_within(5)


def test_9_6_close_stops_pipelined_requests(srv):
    """§9.6: after a request with "Connection: close" the server MUST NOT
    process any further request on that connection."""
    out = exchange(srv.port, req("/a.txt", extra="Connection: close\r\n") + SMUGGLE)
    rs = responses(out)
    assert [r.status for r in rs] == [200] and rs[0].h("Connection") == "close"
    assert b"SMUGGLED" not in out


def test_9_6_response_close_on_error_pipelined(srv):
    """§9.6: when the server closes after an error answer, that answer says
    Connection: close, and earlier pipelined answers are complete."""
    out = exchange(srv.port, req("/a.txt") + b"GET /a.txt HTTP/1.1\r\n\r\n" + SMUGGLE)
    rs = responses(out)
    assert [r.status for r in rs] == [200, 400], out[:400]
    assert rs[0].body == A and rs[1].h("Connection") == "close"
    assert b"SMUGGLED" not in out


@pytest.mark.parametrize("data", [req("/a.txt"), req("/nope"), req("/sub"),
                                  req("/a.txt", extra="Range: bytes=20-\r\n"),
                                  b"GET /a.txt HTTP/1.1\r\n\r\n"])
def test_6_6_1_date_on_every_answer(srv, data):
    """RFC 9110 §6.6.1: an origin server with a clock MUST send Date in
    2xx, 3xx and 4xx answers, as an IMF-fixdate."""
    out = exchange(srv.port, data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
    head = out.split(b"\r\n\r\n", 1)[0]
    assert status_of(out) in (200, 301, 400, 404, 416)
    assert re.search(rb"\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                     rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                     rb"\d\d:\d\d:\d\d GMT(\r\n|$)", head), head
