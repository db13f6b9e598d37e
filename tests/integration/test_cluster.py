"""bench/cluster.sh in its short form (DURATION=6): HAProxy
(contrib/haproxy/haproxy.cfg) in front of two berth instances, wrk through
HAProxy in three phases: steady, instance A drained by SIGTERM and restarted,
instance B SIGKILLed and restarted.  The drain must lose nothing (health says
503 during --drain-grace, HAProxy stops routing, keep-alive answers say
Connection: close, retries cover a pooled connection closed at the wrong
instant); the SIGKILL phase may lose the requests in flight on the killed
instance, so only a small fraction is allowed.  Every process the script
started must be gone when it returns."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BERTH

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "cluster.sh")
PHASE_RE = re.compile(r"^phase (\d) \(([^)]*)\): requests (\d+) failed (\d+) ", re.M)
STARTED_RE = re.compile(r"^started (\S+) pid (\d+)$", re.M)

pytestmark = pytest.mark.skipif(
    not (shutil.which("haproxy") and shutil.which("wrk") and shutil.which("curl")),
    reason="needs haproxy, wrk and curl (scripts/deps.sh)")


def alive(pid):
    """True if pid runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_cluster_short():
    env = dict(os.environ, DURATION="6", BERTH=os.path.abspath(BERTH))
    r = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    phases = {int(m[1]): (int(m[3]), int(m[4])) for m in PHASE_RE.finditer(out)}
    assert sorted(phases) == [1, 2, 3], out
    for n in (1, 2):
        req, failed = phases[n]
        assert req > 0 and failed == 0, f"phase {n}: {req} requests, {failed} failed\n{out}"
    req, failed = phases[3]
    assert req > 0 and failed < 0.05 * req, f"phase 3: {req} requests, {failed} failed\n{out}"
    assert "berth-a exited with status 0" in out, out  # the drain ended cleanly
    started = STARTED_RE.findall(out)
    # a, b, haproxy, then a and b restarted
    assert len(started) == 5, out
    left = [f"{name} {pid}" for name, pid in started if alive(int(pid))]
    assert not left, f"still running after the script: {left}"
