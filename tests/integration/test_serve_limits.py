"""Connection limits and failures in the middle of an answer (issue 8):
--max-conn is one limit over all workers, idle keep-alive connections make
room for new clients at the limit, and a failure after an answer's head was
built is never spliced into it."""
import shutil
import socket
import time

import pytest

from conftest import BERTH
from test_serve import (HOST, T, Conn, get, make_site, req, responses, start_cmd)


def busy(port):
    """A connection whose request head is still arriving (never idle)."""
    c = Conn(port)
    c.send(req("/a.txt")[:10])
    return c


def served(port):
    c = Conn(port)
    c.send(req("/a.txt"))
    assert c.read_response().status == 200
    return c


def test_idle_keep_alive_makes_room_at_the_limit(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--max-conn", "4", "--workers", "1",
               "--idle-timeout", "30", "--quiet")
    idle = [served(s.port) for _ in range(4)]
    t0 = time.monotonic()
    r = get(s.port, "/b.txt")
    assert r.status == 200 and time.monotonic() - t0 < 1.5
    # the oldest idle connection was the one closed
    assert idle[0].closed_within(2)
    for c in idle[1:]:
        c.send(req("/a.txt"))
        assert c.read_response().status == 200
        c.close()


def test_busy_connections_are_never_closed_for_room(tmp_path, server):
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--max-conn", "3", "--workers", "1",
               "--idle-timeout", "30", "--header-timeout", "30", "--quiet")
    held = [busy(s.port) for _ in range(3)]
    time.sleep(0.2)
    extra = Conn(s.port)
    extra.send(req("/b.txt"))
    assert extra.idle(1.0), "served past --max-conn"
    for c in held:  # they finish their heads and are answered
        c.send(req("/a.txt")[10:])
        assert c.read_response().status == 200
    held[0].close()
    assert extra.read_response().status == 200


def test_max_conn_is_shared_by_all_workers(tmp_path, server):
    """With --workers 2 the kernel does not spread connections evenly; the
    limit is on their sum, so N connections are served whatever the spread."""
    root = make_site(tmp_path / "www")
    s = server("serve", "0", "-b", HOST, "-d", str(root), "--max-conn", "10", "--workers", "2",
               "--idle-timeout", "30", "--header-timeout", "30", "--quiet")
    for _ in range(3):
        held = [busy(s.port) for _ in range(10)]
        for c in held:
            c.send(req("/a.txt")[10:])
        for c in held:
            assert c.read_response().status == 200
        for c in held:
            c.close()
    # and at the limit, a busy server makes the 11th wait: none is idle
    held = [busy(s.port) for _ in range(10)]
    time.sleep(0.3)
    extra = Conn(s.port)
    extra.send(req("/b.txt"))
    assert extra.idle(1.0), "served past --max-conn"
    held[0].close()
    # a close in either worker frees room for the other's queue
    assert extra.read_response().status == 200
    for c in held[1:]:
        c.close()


def test_out_of_descriptors_mid_answer_is_a_whole_error(tmp_path):
    """A large cached file is sent from a dup() of its descriptor; when dup
    fails (EMFILE), the client must get one whole error answer, never a 200
    head followed by an error page inside its announced body."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        pytest.skip("prlimit is missing")
    root = make_site(tmp_path / "www")
    (root / "big.bin").write_bytes(b"b" * (1 << 20))
    s = start_cmd([prlimit, "--nofile=24:24", BERTH, "serve", "0", "-b", HOST, "-d", str(root),
                   "--workers", "1", "--idle-timeout", "30", "--quiet"])
    try:
        first = Conn(s.port)
        first.send(req("/big.bin"))
        r = first.read_response()
        assert r.status == 200 and len(r.body) == 1 << 20
        held = []
        for _ in range(30):  # use up the server's descriptors
            held.append(socket.create_connection((HOST, s.port), timeout=T))
        time.sleep(0.5)
        first.send(req("/big.bin"))
        r = first.read_response()
        assert r.status in (200, 500, 503), r
        if r.status == 200:  # the dup happened to fit: then it must be whole
            assert len(r.body) == 1 << 20 and r.body == b"b" * (1 << 20)
        else:
            assert int(r.h("Content-Length")) == len(r.body)
            assert first.closed_within(3) or r.status == 503
        for c in held:
            c.close()
        first.close()
    finally:
        s.kill()
