"""Conformance of `berth serve --proxy-protocol` to haproxy's
doc/proxy-protocol.txt (versions 1 and 2), case by case, each naming the
section it checks.  Raw sockets build every header byte by byte; the client
address berth adopts is read back from the access-log line of a request
made unique by its query, so every accepted form is checked for the exact
address it must yield (the header's source, or the socket's own peer where
the spec says to keep the real endpoints).  A refused header gets no byte
back and a close at once (before the header timeout), and its request is
never logged.  Where the spec leaves a choice, the test says which one
berth makes (docs/LOAD_BALANCER.md lists them)."""
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import Server
from test_proxy import free_port, h2_get, recv_all, tls_through

HOST = "127.0.0.1"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HEADER_TIMEOUT = 4  # the spec: "at least 3 seconds to cover a TCP retransmit"
T = 10.0  # generous: a loaded 2-core machine
HTTPS_RE = re.compile(rb"Serving HTTPS on \S+ port (\d+)")
_ids = itertools.count(1)


# ---- building headers ----

def crc32c(data):
    """CRC-32C (Castagnoli), as RFC 4960 appendix B computes it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # CRC-32C's published check value


def v1(proto, src="", dst="", sport=0, dport=0):
    if proto == "UNKNOWN" and not src:
        return b"PROXY UNKNOWN\r\n"
    return ("PROXY %s %s %s %s %s\r\n" % (proto, src, dst, sport, dport)).encode()


def tlv(t, value):
    return bytes([t]) + struct.pack("!H", len(value)) + value


def addrs(fam, src=None, dst=None, sport=0, dport=0):
    """The address block of a v2 family byte (0x11, 0x21, 0x12, 0x22, 0x31, 0x32)."""
    if fam in (0x11, 0x12):
        return (socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
                + struct.pack("!HH", sport, dport))
    if fam in (0x21, 0x22):
        return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                + struct.pack("!HH", sport, dport))
    if fam in (0x31, 0x32):
        return src.encode().ljust(108, b"\0") + dst.encode().ljust(108, b"\0")
    return b""


def v2(cmd, fam, block=b"", ver=2, crc=False):
    """cmd 0 LOCAL / 1 PROXY; block: addresses then TLVs.  crc: a CRC32C TLV
    appended, computed over the whole header with its value zeroed (2.2.3)."""
    if crc:
        block += tlv(0x03, b"\0\0\0\0")
    hdr = SIG + bytes([ver << 4 | cmd, fam]) + struct.pack("!H", len(block)) + block
    if crc:
        hdr = hdr[:-4] + struct.pack("!I", crc32c(hdr))
    return hdr


def tcp4(src="198.51.100.7", sport=40001, extra=b"", crc=False, fam=0x11):
    return v2(1, fam, addrs(fam, src, "10.0.0.1", sport, 80) + extra, crc=crc)


def tcp6(src="2001:db8::7", sport=40001, extra=b"", crc=False, fam=0x21):
    return v2(1, fam, addrs(fam, src, "2001:db8::1", sport, 443) + extra, crc=crc)


def canon6(a):
    """How berth (inet_ntop) writes an IPv6 address."""
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, a))


# ---- talking to berth ----

def request(tag):
    return ("GET /a.txt?c=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % tag).encode()


def connect(port):
    s = socket.create_connection((HOST, port), timeout=T)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_pieces(port, data, cuts=()):
    """Sends data in segments cut at the offsets `cuts` (TCP_NODELAY and a
    pause between them, so the server reads them apart)."""
    s = connect(port)
    last = 0
    for c in sorted(set(cuts)) + [len(data)]:
        if c <= last:
            continue
        s.sendall(data[last:c])
        last = c
        if c < len(data):
            time.sleep(0.004)  # a segment boundary, not a condition to wait for
    return s


def log_rx(addr, tag, proto="HTTP/1.1"):
    return r"(?m)^%s - - \[[^]]+\] \"GET /a\.txt\?c=%d %s\" 200 " % (re.escape(addr), tag,
                                                                    re.escape(proto))


def served_as(srv, header, addr, cuts=(), wait=True):
    """header then a request (in the same segment unless cut): answered 200
    and logged with client `addr` (wait=False: the log line's check is left
    to expect_logged, so many exchanges pay the log's latency once)."""
    tag = next(_ids)
    s = send_pieces(srv.port, header + request(tag), cuts)
    resp = recv_all(s)
    s.close()
    assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), (header, cuts, resp[:100])
    assert resp.endswith(b"\r\n\r\nhello\n")
    if wait:
        expect_logged(srv, [(addr, tag, cuts)])
    return (addr, tag, cuts)


def expect_logged(srv, done):
    """Each (addr, tag, what) exchange has its log line, with that client."""
    for addr, tag, what in done:
        assert srv.wait_for(log_rx(addr, tag), T), (addr, tag, what, srv.output()[-600:])


def refused(srv, header, within=HEADER_TIMEOUT - 1.0):
    """header then a request: closed with no byte sent, before the header
    timeout (at once), and the request never served."""
    tag = next(_ids)
    s = connect(srv.port)
    t0 = time.monotonic()
    try:
        s.sendall(header + request(tag))
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = recv_all(s, timeout=HEADER_TIMEOUT + 5)
    took = time.monotonic() - t0
    s.close()
    assert data == b"", (header, data[:100])
    assert took < within, (header, took)
    assert ("a.txt?c=%d " % tag) not in srv.output()
    return took


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("pconf")
    (r / "a.txt").write_bytes(b"hello\n")
    return r


@pytest.fixture(scope="module")
def srv(root):
    s = Server(["serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                "--header-timeout", str(HEADER_TIMEOUT)])
    yield s
    assert s.alive()  # no header, however bad, took it down
    s.kill()


# ================= version 1 (section 2.1) =================

V1_GOOD = [
    # (id, header, the client the log must show)
    ("tcp4", v1("TCP4", "192.0.2.10", "192.0.2.11", 56324, 443), "192.0.2.10"),
    ("tcp4-zero-octets-and-ports", v1("TCP4", "0.0.0.0", "255.255.255.255", 0, 65535), "0.0.0.0"),
    ("tcp4-max-56", v1("TCP4", "255.255.255.255", "255.255.255.255", 65535, 65535),
     "255.255.255.255"),
    ("tcp6", v1("TCP6", "2001:db8::10", "2001:db8::1", 1, 2), "2001:db8::10"),
    ("tcp6-uppercase-4-digit-groups", v1("TCP6", "2001:0DB8:0000:0000:0000:0000:0000:0A0B",
                                         "::1", 1, 2), canon6("2001:db8::a0b")),
    ("tcp6-max-104", v1("TCP6", "ffff:" * 7 + "ffff", "ffff:" * 7 + "ffff", 65535, 65535),
     canon6("ffff:" * 7 + "ffff")),
    ("tcp6-v4-mapped", v1("TCP6", "::ffff:192.0.2.77", "::1", 1, 2), "192.0.2.77"),
    ("unknown-short-15", b"PROXY UNKNOWN\r\n", HOST),
    ("unknown-with-addresses", v1("UNKNOWN", "192.0.2.1", "192.0.2.2", 1, 2), HOST),
    ("unknown-worst-case-107", v1("UNKNOWN", "ffff:" * 7 + "ffff", "ffff:" * 7 + "ffff",
                                  65535, 65535), HOST),
    ("unknown-anything-before-crlf", b"PROXY UNKNOWN whatever ~!@# \x7f\xff\r\n", HOST),
    # "the receiver must ignore anything presented before the CRLF": bytes
    # below 0x20 too (a lone CR or LF still is not a CRLF: refused below)
    ("unknown-control-bytes", b"PROXY UNKNOWN \x00\x01\t\x1b\x7f 1 2\r\n", HOST),
]


@pytest.mark.parametrize("hdr,addr", [c[1:] for c in V1_GOOD], ids=[c[0] for c in V1_GOOD])
def test_2_1_v1_accepted_forms_give_their_client(srv, hdr, addr):
    """2.1: TCP4/TCP6 lines give their source address; UNKNOWN (with or
    without addresses, anything before the CRLF) keeps the real endpoints."""
    served_as(srv, hdr, addr)


# 2.1's longest lines the receiver must support: 56, 104 and 107 bytes (and 15)
assert [len(c[1]) for c in V1_GOOD if c[0] in (
    "tcp4-max-56", "tcp6-max-104", "unknown-worst-case-107", "unknown-short-15")] == [56, 104, 15, 107]


GOOD4 = "PROXY TCP4 192.0.2.1 192.0.2.2 1000 80"
V1_BAD = [
    # fields and separators: exactly one space each, nothing else
    ("double-space-" + str(i), GOOD4.replace(" ", "  ", i + 1).replace("  ", " ", i) + "\r\n")
    for i in range(5)
] + [
    ("trailing-space", GOOD4 + " \r\n"),
    ("leading-space", " " + GOOD4 + "\r\n"),
    ("tab-separator", GOOD4.replace(" 1000", "\t1000") + "\r\n"),
    ("five-fields", "PROXY TCP4 192.0.2.1 192.0.2.2 1000\r\n"),
    ("seven-fields", GOOD4 + " 1\r\n"),
    ("lowercase-proxy", GOOD4.replace("PROXY", "proxy") + "\r\n"),
    ("lowercase-tcp4", GOOD4.replace("TCP4", "tcp4") + "\r\n"),
    ("udp4", GOOD4.replace("TCP4", "UDP4") + "\r\n"),
    ("tcp5", GOOD4.replace("TCP4", "TCP5") + "\r\n"),
    ("unknown-suffix", "PROXY UNKNOWNX\r\n"),
    ("unknown-tab-suffix", "PROXY UNKNOWN\t\r\n"),
    ("unknown-lone-lf-inside", "PROXY UNKNOWN a\nb\r\n"),
    ("unknown-lone-cr-inside", "PROXY UNKNOWN a\rb\r\n"),
    ("tcp4-control-byte", GOOD4.replace(" 80", " 80\x01") + "\r\n"),
    ("proxy-alone", "PROXY\r\n"),
    ("proxy-space-alone", "PROXY \r\n"),
    # CRLF required: no lone LF, no lone CR, no CR before CRLF
    ("lf-only", GOOD4 + "\n"),
    ("cr-then-data", GOOD4 + "\rGET"),
    ("cr-cr-lf", GOOD4 + "\r\r\n"),
    ("lf-cr", GOOD4 + "\n\r"),
    ("nul-in-line", GOOD4 + "\0\r\n"),
    # addresses: canonical, of the announced family, never a name
    ("ipv4-leading-zero", GOOD4.replace("192.0.2.1 ", "192.0.2.01 ") + "\r\n"),
    ("ipv4-octet-256", GOOD4.replace("192.0.2.1 ", "192.0.2.256 ") + "\r\n"),
    ("ipv4-three-parts", GOOD4.replace("192.0.2.1 ", "192.0.2 ") + "\r\n"),
    ("ipv4-five-parts", GOOD4.replace("192.0.2.1 ", "192.0.2.1.5 ") + "\r\n"),
    ("ipv4-hex", GOOD4.replace("192.0.2.1 ", "0xc0.0.2.1 ") + "\r\n"),
    ("ipv4-double-dot", GOOD4.replace("192.0.2.1 ", "192.0..2.1 ") + "\r\n"),
    ("hostname", GOOD4.replace("192.0.2.1 ", "localhost ") + "\r\n"),
    ("ipv6-in-tcp4", GOOD4.replace("192.0.2.1 ", "2001:db8::1 ") + "\r\n"),
    ("ipv4-in-tcp6", "PROXY TCP6 192.0.2.1 2001:db8::2 1000 80\r\n"),
    ("mixed-families-tcp6", "PROXY TCP6 2001:db8::1 192.0.2.2 1000 80\r\n"),
    ("ipv6-two-double-colons", "PROXY TCP6 2001::db8::1 ::2 1000 80\r\n"),
    ("ipv6-nine-groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::2 1000 80\r\n"),
    ("ipv6-five-digit-group", "PROXY TCP6 2001:0db80::1 ::2 1000 80\r\n"),
    ("ipv6-zone", "PROXY TCP6 fe80::1%eth0 ::2 1000 80\r\n"),
    ("ipv6-bracketed", "PROXY TCP6 [2001:db8::1] ::2 1000 80\r\n"),
    ("ipv6-hostname", "PROXY TCP6 localhost ::2 1000 80\r\n"),
    # ports: decimal 0..65535, no leading zero, no sign
    ("port-leading-zero", GOOD4.replace(" 1000 ", " 01000 ") + "\r\n"),
    ("port-zero-zero", GOOD4.replace(" 1000 ", " 00 ") + "\r\n"),
    ("port-65536", GOOD4.replace(" 1000 ", " 65536 ") + "\r\n"),
    ("port-99999", GOOD4.replace(" 80", " 99999") + "\r\n"),
    ("port-negative", GOOD4.replace(" 1000 ", " -1 ") + "\r\n"),
    ("port-plus", GOOD4.replace(" 1000 ", " +1 ") + "\r\n"),
    ("port-hex", GOOD4.replace(" 1000 ", " 0x10 ") + "\r\n"),
    ("port-letters", GOOD4.replace(" 80", " 8o") + "\r\n"),
    ("port-six-digits", GOOD4.replace(" 1000 ", " 000080 ") + "\r\n"),
    # length: 107 bytes at most, CRLF included
    ("unknown-108", "PROXY UNKNOWN " + "f" * 92 + "\r\n"),
    ("no-crlf-in-107", "PROXY UNKNOWN " + "f" * 120),
]


@pytest.mark.parametrize("hdr", [c[1] for c in V1_BAD], ids=[c[0] for c in V1_BAD])
def test_2_1_v1_malformed_is_refused_at_once(srv, hdr):
    """2.1: "Any sequence which does not exactly match the protocol must be
    discarded and cause the receiver to abort the connection" (as soon as
    possible): the connection closes with no answer, before the timeout."""
    refused(srv, hdr.encode("latin-1"))


assert len(dict(V1_BAD)["unknown-108"]) == 108  # one past the limit
# each double-space case doubles exactly one separator
assert all(h.count("  ") == 1 and h.replace("  ", " ") == GOOD4 + "\r\n" for _, h in V1_BAD[:5])


def test_2_1_v1_every_split_point_and_byte_at_a_time(srv):
    """2.1 (and 2: "The receiver may be tolerant to partial headers ...
    Recommendation is to be tolerant"): berth is — a v1 line split at each
    byte, and one sent a byte a segment, still gives its client."""
    hdr = v1("TCP6", "2001:db8:5::1", "2001:db8::1", 65535, 443)
    done = [served_as(srv, hdr, "2001:db8:5::1", cuts=[at], wait=False)
            for at in range(1, len(hdr) + 1)]  # at == len: the request in its own segment
    hdr = v1("TCP4", "203.0.113.99", "10.0.0.1", 1, 80)
    done.append(served_as(srv, hdr, "203.0.113.99", cuts=range(1, len(hdr) + 1), wait=False))
    expect_logged(srv, done)


# ================= version 2 (section 2.2) =================

def unix_block(extra=b""):
    return addrs(0x31, "/run/client.sock", "/run/berth.sock") + extra


V2_GOOD = [
    ("proxy-tcp4", tcp4("198.51.100.20"), "198.51.100.20"),
    ("proxy-tcp6", tcp6("2001:db8:7::20"), "2001:db8:7::20"),
    ("proxy-tcp6-v4-mapped", tcp6("::ffff:198.51.100.21"), "198.51.100.21"),
    # LOCAL: the real endpoints, the block and even the family ignored
    ("local-unspec-empty", v2(0, 0x00), HOST),
    ("local-tcp4-addresses", v2(0, 0x11, addrs(0x11, "192.0.2.9", "192.0.2.10", 1, 2)), HOST),
    ("local-tcp6-addresses", v2(0, 0x21, addrs(0x21, "2001:db8::9", "::1", 1, 2)), HOST),
    ("local-family-ignored", v2(0, 0xFF, b"\xde\xad"), HOST),
    ("local-block-not-tlvs", v2(0, 0x00, b"\x01\x00\xff"), HOST),
    # UNSPEC under PROXY: accepted with the real endpoints (the spec's free choice)
    ("proxy-unspec-empty", v2(1, 0x00), HOST),
    ("proxy-unspec-tlvs", v2(1, 0x00, tlv(0x02, b"example.com")), HOST),
    # valid combinations berth does not implement fall back to UNSPEC
    ("proxy-udp4-fallback", tcp4("198.51.100.22", fam=0x12), HOST),
    ("proxy-udp6-fallback", tcp6("2001:db8::22", fam=0x22), HOST),
    ("proxy-unix-stream-fallback", v2(1, 0x31, unix_block()), HOST),
    ("proxy-unix-dgram-fallback", v2(1, 0x32, unix_block()), HOST),
    # a longer block: TLVs after the addresses (2.2.1-2.2.8)
    ("tlv-alpn", tcp4("198.51.100.30", extra=tlv(0x01, b"h2")), "198.51.100.30"),
    ("tlv-authority", tcp4("198.51.100.31", extra=tlv(0x02, b"example.com")), "198.51.100.31"),
    ("tlv-noop-empty", tcp4("198.51.100.32", extra=tlv(0x04, b"")), "198.51.100.32"),
    ("tlv-noop-padding", tcp4("198.51.100.33", extra=tlv(0x04, b"\xaa" * 9)), "198.51.100.33"),
    ("tlv-unique-id-128", tcp4("198.51.100.34", extra=tlv(0x05, b"u" * 128)), "198.51.100.34"),
    ("tlv-ssl-subtlvs", tcp4("198.51.100.35", extra=tlv(0x20, b"\x07" + b"\0\0\0\0"
                                                        + tlv(0x21, b"TLSv1.3")
                                                        + tlv(0x22, b"client.example")
                                                        + tlv(0x23, b"TLS_AES_128_GCM_SHA256")
                                                        + tlv(0x24, b"RSA-SHA256")
                                                        + tlv(0x25, b"RSA2048"))),
     "198.51.100.35"),
    ("tlv-ssl-no-subtlvs", tcp4("198.51.100.36", extra=tlv(0x20, b"\x00\0\0\0\x01")),
     "198.51.100.36"),
    ("tlv-netns", tcp6("2001:db8::37", extra=tlv(0x30, b"blue")), "2001:db8::37"),
    ("tlv-custom-experimental-future", tcp6("2001:db8::38", extra=tlv(0xE0, b"a") + tlv(
        0xF0, b"bb") + tlv(0xF8, b"") + tlv(0xFF, b"ccc") + tlv(0x7f, b"?")), "2001:db8::38"),
    ("tlv-after-unix-addresses", v2(1, 0x31, unix_block(tlv(0x04, b"x"))), HOST),
    ("crc32c-alone", tcp4("198.51.100.40", crc=True), "198.51.100.40"),
    ("crc32c-after-tlvs", tcp6("2001:db8::41", extra=tlv(0x01, b"http/1.1")
                                + tlv(0x04, b"\0" * 3), crc=True), "2001:db8::41"),
    ("crc32c-before-tlvs", None, "198.51.100.42"),  # built below: CRC first
    ("crc32c-unspec", v2(1, 0x00, tlv(0x04, b"pad"), crc=True), HOST),
    ("big-block-3000", tcp4("198.51.100.43", extra=tlv(0x04, b"\x55" * 3000)), "198.51.100.43"),
    # the largest length: addresses 36 + a NOOP 3 + v + the CRC32C 7 = 65535
    ("length-65535-max", tcp6("2001:db8::44", extra=tlv(0x04, b"\x55" * (65535 - 36 - 3 - 7)),
                              crc=True), "2001:db8::44"),
]


def crc_first(src):
    """A CRC32C TLV ahead of others: the field zeroed where it stands."""
    block = addrs(0x11, src, "10.0.0.1", 9, 80) + tlv(0x03, b"\0\0\0\0") + tlv(0x02, b"h.example")
    hdr = v2(1, 0x11, block)
    at = 16 + 12 + 3
    return hdr[:at] + struct.pack("!I", crc32c(hdr)) + hdr[at + 4:]


V2_GOOD = [(n, crc_first(a) if h is None else h, a) for n, h, a in V2_GOOD]


@pytest.mark.parametrize("hdr,addr", [c[1:] for c in V2_GOOD], ids=[c[0] for c in V2_GOOD])
def test_2_2_v2_accepted_forms_give_their_client(srv, hdr, addr):
    """2.2: PROXY TCP4/TCP6 give their source; LOCAL keeps the real
    endpoints whatever its block holds; UNSPEC and the combinations berth does
    not implement fall back to the real endpoints; TLVs are walked and the
    known, unknown and reserved types skipped; a CRC32C that matches passes."""
    served_as(srv, hdr, addr)


def bad_crc(hdr):
    return hdr[:-1] + bytes([hdr[-1] ^ 1])


V2_BAD = [
    # 2.2: the version nibble is 2 only; the command LOCAL or PROXY only
    ("version-0", v2(1, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"), ver=0)),
    ("version-1", v2(1, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"), ver=1)),
    ("version-3", v2(1, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"), ver=3)),
    ("version-15", v2(1, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"), ver=15)),
    ("command-2", v2(2, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"))),
    ("command-15", v2(15, 0x11, addrs(0x11, "1.2.3.4", "5.6.7.8"))),
    ("local-version-1", v2(0, 0x00, ver=1)),
    # 2.2: family 0..3, protocol 0..2, else rejected
    ("family-4", v2(1, 0x41, b"\0" * 12)),
    ("family-15", v2(1, 0xF1, b"\0" * 36)),
    ("protocol-3", v2(1, 0x13, b"\0" * 12)),
    ("protocol-15", v2(1, 0x2F, b"\0" * 36)),
    # 2.2: an address block shorter than its family's addresses
    ("tcp4-block-11", v2(1, 0x11, b"\0" * 11)),
    ("tcp4-block-0", v2(1, 0x11)),
    ("tcp6-block-35", v2(1, 0x21, b"\0" * 35)),
    ("tcp6-block-12", v2(1, 0x21, addrs(0x11, "1.2.3.4", "5.6.7.8"))),
    ("udp4-block-11", v2(1, 0x12, b"\0" * 11)),
    ("udp6-block-35", v2(1, 0x22, b"\0" * 35)),
    ("unix-stream-block-215", v2(1, 0x31, b"\0" * 215)),
    ("unix-dgram-block-0", v2(1, 0x32)),
    # 2.2: TLVs must tile the rest of the block exactly
    ("tlv-overruns-block", tcp4(extra=tlv(0x02, b"example.com")[:-1])),
    ("tlv-length-past-end", tcp4(extra=b"\x04\x00\x10" + b"\0" * 4)),
    ("tlv-one-trailing-byte", tcp4(extra=b"\x04")),
    ("tlv-two-trailing-bytes", tcp4(extra=b"\x04\x00")),
    ("tlv-overrun-after-good", tcp6(extra=tlv(0x01, b"h2") + b"\x02\x00\x05abc")),
    ("tlv-overrun-unspec", v2(1, 0x00, b"\x02\x00\x05abc")),
    ("tlv-overrun-udp4", tcp4(fam=0x12, extra=b"\x04\x00\x01")),
    # 2.2.3: a CRC32C that does not match, or is not 4 bytes
    ("crc32c-wrong", bad_crc(tcp4(crc=True))),
    ("crc32c-wrong-tcp6-tlvs", bad_crc(tcp6(extra=tlv(0x01, b"h2"), crc=True))),
    ("crc32c-wrong-unspec", bad_crc(v2(1, 0x00, crc=True))),
    ("crc32c-not-zeroed", None),  # the sum over the header with its own value in place
    ("crc32c-3-bytes", tcp4(extra=tlv(0x03, b"\0\0\0"))),
    ("crc32c-5-bytes", tcp4(extra=tlv(0x03, b"\0\0\0\0\0"))),
    # 2.2.5: a unique ID is up to 128 bytes
    ("unique-id-129", tcp4(extra=tlv(0x05, b"u" * 129))),
    # 2.2.6: an SSL TLV holds client (1) and verify (4), then sub-TLVs that fit it
    ("ssl-too-short", tcp4(extra=tlv(0x20, b"\x01\0\0\0"))),
    ("ssl-subtlv-overruns", tcp4(extra=tlv(0x20, b"\x01\0\0\0\0" + b"\x21\x00\x09TLSv1.3"))),
    ("ssl-subtlv-partial-head", tcp4(extra=tlv(0x20, b"\x01\0\0\0\0" + b"\x21\x00"))),
]


def crc_not_zeroed():
    hdr = tcp4(crc=True)
    return hdr[:-4] + struct.pack("!I", crc32c(hdr))  # summed with the value in place


V2_BAD = [(n, crc_not_zeroed() if h is None else h) for n, h in V2_BAD]


@pytest.mark.parametrize("hdr", [c[1] for c in V2_BAD], ids=[c[0] for c in V2_BAD])
def test_2_2_v2_malformed_is_refused_at_once(srv, hdr):
    """2.2: unexpected version, command, family or protocol values are
    dropped; so is an address block too short for its family, a TLV that does
    not fit the block, and (2.2.3) a checksum that does not verify."""
    refused(srv, hdr)


@pytest.mark.parametrize("at", range(12))
def test_2_2_v2_signature_every_byte_checked(srv, at):
    """2.2: the 12-byte signature; a wrong byte anywhere is not a v2 header
    (nor a v1 one) and is refused at once."""
    hdr = bytearray(tcp4())
    hdr[at] ^= 0x40
    refused(srv, bytes(hdr))


def test_2_2_v2_unspec_nibble_combinations_are_refused(srv):
    """2.2: a PROXY with only one nibble UNSPEC (0x10, 0x20, 0x01 ...) says
    neither where its addresses end nor that there are none: berth uses the
    spec's freedom to reject UNSPEC under PROXY for these (0x00, whose block
    is all TLVs, is accepted above)."""
    for fam in (0x10, 0x20, 0x30, 0x01, 0x02):
        refused(srv, v2(1, fam, b"\0" * 36))


def test_2_2_v2_every_split_point_with_tlvs_and_crc(srv):
    """2.2 "The receiver must not start to parse an address before the whole
    address block is received": split at each byte (signature, head, addresses,
    TLVs, checksum) and a byte a segment, the client is the header's."""
    hdr = tcp6("2001:db8:6::1", extra=tlv(0x01, b"h2") + tlv(0x20, b"\x01\0\0\0\0"
                                                             + tlv(0x21, b"TLSv1.3")), crc=True)
    done = [served_as(srv, hdr, "2001:db8:6::1", cuts=[at], wait=False)
            for at in range(1, len(hdr) + 1)]
    hdr = tcp4("203.0.113.98", extra=tlv(0x04, b"\0" * 3), crc=True)
    done.append(served_as(srv, hdr, "203.0.113.98", cuts=range(1, len(hdr) + 1), wait=False))
    expect_logged(srv, done)


def test_2_2_v2_bad_crc_refused_even_when_split(srv):
    """2.2.3: the checksum is verified however the header arrives."""
    hdr = bad_crc(tcp4(extra=tlv(0x02, b"a.example"), crc=True))
    tag = next(_ids)
    s = send_pieces(srv.port, hdr + request(tag), cuts=range(1, len(hdr) + 1))
    assert recv_all(s) == b""
    s.close()
    assert ("a.txt?c=%d " % tag) not in srv.output()


# ================= section 2: timing and the header being required =================

def test_2_stall_nothing_or_partial_header_closed_at_header_timeout(srv):
    """2: "The receiver may apply a short timeout and decide to abort the
    connection if the protocol header is not seen within a few seconds": a
    client sending nothing, a partial v1 line, a partial v2 header (its head
    promising more) or a v2 header missing its last TLV byte is closed with
    no answer, after the header timeout and not long after it."""
    v2h = tcp4(extra=tlv(0x04, b"\0" * 8))
    pieces = [b"", b"PROXY TCP4 192.0.2.1 192.", b"PROXY UNKNOWN\r", SIG[:7], v2h[:16],
              v2h[:-1]]
    socks = []
    t0 = time.monotonic()
    for p in pieces:
        s = connect(srv.port)
        if p:
            s.sendall(p)
        socks.append(s)
    for p, s in zip(pieces, socks):
        data = recv_all(s, timeout=HEADER_TIMEOUT + 8)
        took = time.monotonic() - t0
        s.close()
        assert data == b"", (p, data[:80])
        assert took < HEADER_TIMEOUT + 4, (p, took)
    assert time.monotonic() - t0 > HEADER_TIMEOUT - 1.5  # the timeout, not at once


def test_2_2_partial_header_then_end_of_stream_is_refused_at_once(srv):
    """2.2: "The receiver must also reject incoming connections containing
    partial protocol headers": a header cut by the client's FIN is closed at
    once, unanswered (not held until the timeout)."""
    for part in (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r", tcp4()[:20],
                 tcp4(extra=tlv(0x04, b"abc"))[:-1]):
        s = connect(srv.port)
        s.sendall(part)
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        assert recv_all(s, timeout=HEADER_TIMEOUT + 5) == b""
        assert time.monotonic() - t0 < HEADER_TIMEOUT - 1, part
        s.close()


def test_2_ipv6_listener_takes_ipv4_clients_and_keeps_its_own_for_local(root):
    """2.1 / 2.2: the header's family need not be the socket's: on an IPv6
    listener a TCP4 client is logged as IPv4, and LOCAL / UNKNOWN keep ::1."""
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    srv6 = Server(["serve", "0", "-b", "::1", "-d", str(root), "--proxy-protocol",
                   "--header-timeout", str(HEADER_TIMEOUT)])
    try:
        done = []
        for hdr, addr in ((v1("TCP4", "192.0.2.61", "10.0.0.1", 1, 80), "192.0.2.61"),
                          (tcp4("192.0.2.62"), "192.0.2.62"),
                          (tcp6("2001:db8:c::1"), "2001:db8:c::1"),
                          (v2(0, 0x11, addrs(0x11, "192.0.2.63", "10.0.0.1", 1, 2)), "::1"),
                          (b"PROXY UNKNOWN\r\n", "::1")):
            tag = next(_ids)
            s = socket.create_connection(("::1", srv6.port), timeout=T)
            s.sendall(hdr + request(tag))
            resp = recv_all(s)
            s.close()
            assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), (addr, resp[:80])
            done.append((addr, tag, hdr))
        expect_logged(srv6, done)
    finally:
        srv6.kill()


def test_2_required_header_missing_is_never_served(srv):
    """2 / 5: "MUST not try to guess whether the protocol header is present":
    plain HTTP, an HTTP/2 preface, a TLS ClientHello and blank lines are all
    closed unanswered, never served as if the balancer were the client."""
    for data in (b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                 b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03" + b"\0" * 40,
                 b"\r\n\r\n\r\n"):  # a v2 signature's start, wrong at its 5th byte
        s = connect(srv.port)
        s.sendall(data)
        t0 = time.monotonic()
        assert recv_all(s, timeout=HEADER_TIMEOUT + 5) == b""
        assert time.monotonic() - t0 < HEADER_TIMEOUT - 1  # at once
        s.close()
    assert "GET /a.txt HTTP/1.1\"" not in srv.output()


def test_2_header_only_once_then_plain_http(srv):
    """2: the header begins the connection only; a second PROXY line after it
    is HTTP's to judge (a 400), not a new client address."""
    tag = next(_ids)
    s = connect(srv.port)
    s.sendall(v1("TCP4", "192.0.2.200", "10.0.0.1", 1, 80)
              + b"PROXY TCP4 192.0.2.201 10.0.0.1 1 80\r\n" + request(tag))
    resp = recv_all(s)
    s.close()
    assert resp.startswith(b"HTTP/1.1 400 "), resp[:80]
    assert not re.search(r"(?m)^192\.0\.2\.201 ", srv.output())


# ================= over TLS and HTTP/2 =================

def tls_exchange(port, header, request_bytes, cuts, alpn="http/1.1"):
    """A TLS client over a raw socket: the header then the ClientHello, in
    one segment or cut inside the header."""
    return tls_through(lambda hello: send_pieces(port, header + hello, cuts), request_bytes, alpn)


def test_2_tls_header_precedes_client_hello(root):
    """2 / 2.2.3: on a TLS port the header (v1, or v2 with TLVs and a CRC32C)
    comes before the ClientHello, split or in one segment with it; a bad
    checksum or a missing header ends the connection before any handshake."""
    srv = Server(["serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                  "--tls-self-signed", "--header-timeout", str(HEADER_TIMEOUT)], ready=HTTPS_RE)
    try:
        forms = [(v1("TCP6", "2001:db8:a::1", "::1", 5, 443), "2001:db8:a::1"),
                 (tcp4("198.51.100.150", extra=tlv(0x20, b"\x01\0\0\0\0" + tlv(0x21, b"TLSv1.3"))
                       + tlv(0x02, b"localhost"), crc=True), "198.51.100.150"),
                 (v2(0, 0x00), HOST)]
        done = []
        for hdr, addr in forms:
            for cut in sorted({len(hdr), 1, len(hdr) // 2, len(hdr) - 1}):
                tag = next(_ids)
                resp = tls_exchange(srv.port, hdr, request(tag), [cut])
                assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), (addr, cut, resp[:80])
                done.append((addr, tag, cut))
        expect_logged(srv, done)
        for hdr in (bad_crc(tcp4(crc=True)), b"", v2(1, 0x11, b"\0" * 11)):
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                tls_exchange(srv.port, hdr, request(next(_ids)), [])
        assert srv.alive()
    finally:
        srv.kill()


def test_2_h2c_prior_knowledge_behind_v2_tcp6_with_tlvs(srv):
    """2: the HTTP/2 preface may share the header's segment; the stream's
    client is the header's."""
    for hdr, addr in ((tcp6("2001:db8:b::1", extra=tlv(0x01, b"h2c"), crc=True), "2001:db8:b::1"),
                      (v1("TCP4", "198.51.100.151", "10.0.0.1", 7, 80), "198.51.100.151")):
        tag = next(_ids)
        status, body = h2_get(connect(srv.port), "/a.txt?c=%d" % tag, "http", hdr, len(hdr) - 3)
        assert status == b"200" and body == b"hello\n"
        assert srv.wait_for(log_rx(addr, tag, "HTTP/2.0"), T), (addr, srv.output()[-400:])


def test_2_h2_over_tls_behind_v2_header(root):
    """2: on a TLS port the header, then TLS with ALPN h2: the HTTP/2 stream's
    client is the header's (v2 TCP4 with an ALPN TLV and a CRC32C; LOCAL)."""
    srv = Server(["serve", "0", "-b", HOST, "-d", str(root), "--proxy-protocol",
                  "--tls-self-signed", "--header-timeout", str(HEADER_TIMEOUT)], ready=HTTPS_RE)
    try:
        for hdr, addr in ((tcp4("198.51.100.152", extra=tlv(0x01, b"h2"), crc=True),
                           "198.51.100.152"), (v2(0, 0x00), HOST)):
            tag = next(_ids)
            raw = connect(srv.port)
            raw.sendall(hdr)
            ctx = ssl._create_unverified_context()
            ctx.set_alpn_protocols(["h2"])
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            assert tls.selected_alpn_protocol() == "h2"
            status, body = h2_get(tls, "/a.txt?c=%d" % tag, "https")
            assert status == b"200" and body == b"hello\n"
            assert srv.wait_for(log_rx(addr, tag, "HTTP/2.0"), T), (addr, srv.output()[-400:])
    finally:
        srv.kill()


# ================= a real sender: HAProxy's send-proxy-v2 with TLVs =================

HAPROXY = shutil.which("haproxy") or (os.path.exists("/usr/sbin/haproxy") and "/usr/sbin/haproxy")


@pytest.mark.skipif(not HAPROXY, reason="needs haproxy (scripts/deps.sh test installs it)")
def test_2_2_3_haproxy_v2_with_crc32c_unique_id_authority_tlvs(srv, tmp_path):
    """2.2.1-2.2.6 from a real sender: HAProxy's send-proxy-v2 with
    proxy-v2-options crc32c, unique-id, authority and ssl: berth verifies its
    checksum (a mismatch would refuse it: HAProxy would answer 502/503) and
    logs the client HAProxy saw."""
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""global
    maxconn 50
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind %(h)s:%(f)d
    unique-id-format %%{+X}o%%ci:%%cp_%%fi:%%fp_%%Ts_%%rt
    default_backend be
backend be
    server b1 %(h)s:%(b)d send-proxy-v2 proxy-v2-options crc32c,unique-id,authority,ssl
""" % {"h": HOST, "f": front, "b": srv.port})
    hp = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        got, tag = b"", None
        while time.monotonic() < deadline:
            tag = next(_ids)
            try:
                s = socket.create_connection((HOST, front), timeout=T,
                                             source_address=("127.0.0.5", 0))
                s.sendall(request(tag))
                got = recv_all(s)
                s.close()
            except OSError:
                got = b""
            if got:
                break  # haproxy answered: berth's, or its own error
            assert hp.poll() is None, hp.stdout.read()
            time.sleep(0.1)  # haproxy still binding its port
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        assert srv.wait_for(log_rx("127.0.0.5", tag), T), srv.output()[-400:]
    finally:
        hp.send_signal(signal.SIGTERM)
        try:
            hp.wait(10)
        except subprocess.TimeoutExpired:
            hp.kill()
            hp.wait()
