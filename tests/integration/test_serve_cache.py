"""Black-box tests of the file cache's budget (issue 11): with --cache-size
1M the server's memory stays bounded while 20,000 distinct files are
requested, the cache's own gauges stay within the budget, and a hot set
keeps being answered from the cache while a stream of cold files passes
through (CLOCK spares what is used again).  Counters from --metrics."""
import os
import re

import pytest

from conftest import BERTH, run_berth
from test_serve import Conn, get, req, start_serve

FILE = 2048

with open(BERTH, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def make_files(root, n, prefix):
    body = b"x" * FILE
    for i in range(n):
        with open(os.path.join(root, "%s%05d.txt" % (prefix, i)), "wb") as f:
            f.write(body)


def fetch_all(port, paths, batch=200):
    """GETs every path over one keep-alive connection, pipelined in batches."""
    with Conn(port) as c:
        for i in range(0, len(paths), batch):
            chunk = paths[i:i + batch]
            c.send(b"".join(req(p) for p in chunk))
            for _ in chunk:
                r = c.read_response()
                assert r.status == 200 and len(r.body) == FILE, r


def metrics(port):
    body = get(port, "/metrics").body.decode()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(berth_file_cache_\w+) (\d+)$", body, re.M)}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


@pytest.fixture
def srv():
    started = []

    def start(root, *extra):
        env = None
        if SANITIZED:  # ASan's quarantine would hold every freed entry: RSS says nothing
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
        s = start_serve(root, "-q", "--workers", "1", "--metrics", "/metrics", *extra, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def test_memory_stays_bounded_over_20000_files(tmp_path, srv):
    make_files(tmp_path, 20000, "f")
    s = srv(tmp_path, "--cache-size", "1M")
    paths = ["/f%05d.txt" % i for i in range(20000)]
    fetch_all(s.port, paths[:500])  # the allocator and buffers settle
    before = rss_kib(s.proc.pid)
    fetch_all(s.port, paths)
    grown = rss_kib(s.proc.pid) - before
    m = metrics(s.port)
    assert m["berth_file_cache_bytes"] <= 1 << 20, m
    assert m["berth_file_cache_evictions_total"] >= 19000, m
    # every file kept would be 20,000 x (2 KiB + entry) = 50+ MiB
    assert grown < 12 * 1024, "RSS grew by %d KiB" % grown


def test_hot_set_survives_a_stream_of_cold_files(tmp_path, srv):
    make_files(tmp_path, 50, "hot")
    make_files(tmp_path, 3000, "cold")
    s = srv(tmp_path, "--cache-size", "1M")  # room for a few hundred of these
    hot = ["/hot%05d.txt" % i for i in range(50)]
    fetch_all(s.port, hot)  # in the cache
    m0 = metrics(s.port)
    order = []
    for i in range(3000):  # each cold file once, a hot one between each
        order += [hot[i % 50], "/cold%05d.txt" % i]
    fetch_all(s.port, order)
    m = metrics(s.port)
    misses = m["berth_file_cache_misses_total"] - m0["berth_file_cache_misses_total"]
    hot_misses = misses - 3000  # every cold request is a miss
    assert m["berth_file_cache_evictions_total"] >= 2500, m
    # CLOCK keeps the hot set; emptying the cache or FIFO would lose it
    # every few hundred cold files (>= 5% of the hot requests missing)
    assert hot_misses <= 0.01 * 3000, (hot_misses, m)


def test_cache_size_option_is_checked(tmp_path):
    for bad in ("1", "0", "lots", "2T", "-5"):
        p = run_berth("serve", "0", "-d", str(tmp_path), "--cache-size", bad)
        assert p.returncode == 2, (bad, p)
        assert b"--cache-size" in p.stderr and b"4k..1T" in p.stderr, (bad, p.stderr)


def test_variants_are_charged_to_the_budget(tmp_path, srv):
    """What an entry's variants hold (small sidecars in memory, the coded
    heads) counts against --cache-size: asking for the codings of files with
    20 KiB sidecars grows the cache's bytes by them, and a budget they
    overflow evicts, so the bytes stay near the budget."""
    side = os.urandom(20 * 1024)
    for i in range(12):
        p = tmp_path / ("v%02d.js" % i)
        p.write_bytes(b"let x = %d;\n" % i * 40)
        for suffix in (".br", ".zst", ".gz"):
            (tmp_path / ("v%02d.js%s" % (i, suffix))).write_bytes(side)
    s = srv(tmp_path, "--cache-size", "256k")
    before = metrics(s.port)["berth_file_cache_bytes"]
    assert get(s.port, "/v00.js").status == 200  # identity: the sidecars are probed
    for enc in ("br", "zstd", "gzip"):
        r = get(s.port, "/v00.js", extra="Accept-Encoding: %s\r\n" % enc)
        assert r.h("Content-Encoding") == enc and r.body == side
    grown = metrics(s.port)["berth_file_cache_bytes"] - before
    assert grown >= 3 * len(side), grown
    for i in range(1, 12):  # 12 x 60 KiB of sidecars: four times the budget
        for enc in ("br", "zstd", "gzip"):
            r = get(s.port, "/v%02d.js" % i, extra="Accept-Encoding: %s\r\n" % enc)
            assert r.status == 200 and r.body == side
    m = metrics(s.port)
    assert m["berth_file_cache_evictions_total"] >= 6, m
    assert m["berth_file_cache_bytes"] <= 256 * 1024, m  # a recharge evicts others
