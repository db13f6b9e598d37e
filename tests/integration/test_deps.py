"""scripts/deps.sh leaves the system as it found it (issue 8): the
policy-rc.d that keeps package installs from starting services exists only
while apt-get runs and only if there was none, also when apt-get fails or
the script is interrupted; without dpkg/apt-get it names what to install and
exits 0.

The script runs with PATH holding only a temporary directory: fake
dpkg-query, apt-get, id and sudo that record what they see, and links to the
few real tools the script needs, so no real package manager can be reached.
BERTH_POLICY_RC points the policy-rc.d path into the temporary directory."""
import os
import shutil
import signal
import stat
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "deps.sh")
SH = os.environ.get("BERTH_TEST_SH") or shutil.which("sh")  # dash on Debian; bash --posix too
TOOLS = ("sh", "grep", "rm", "chmod", "cat", "env", "ls")

# what a fake apt-get records: its arguments, and the policy-rc.d as it finds it
FAKE_APT = r"""#!/bin/sh
{
    echo "apt-get $*"
    if [ -e "$BERTH_POLICY_RC" ]; then
        echo "policy present mode=$(ls -l "$BERTH_POLICY_RC" | cut -c1-10)"
        cat "$BERTH_POLICY_RC"
    else
        echo "policy absent"
    fi
    echo "frontend=$DEBIAN_FRONTEND"
} >>"$FAKE_LOG"
case "$*" in
*install*)
    [ -z "$FAKE_INTERRUPT" ] || kill -INT "$PPID"
    exit "${FAKE_APT_RC:-0}" ;;
esac
exit 0
"""
# every package missing, unless FAKE_INSTALLED is set
FAKE_DPKG = """#!/bin/sh
echo "dpkg-query $*" >>"$FAKE_LOG"
[ -n "$FAKE_INSTALLED" ] && printf 'install ok installed'
exit 0
"""
FAKE_ID = """#!/bin/sh
[ "$1" = -u ] && echo "${FAKE_UID:-0}"
"""
FAKE_SUDO = """#!/bin/sh
echo "sudo $*" >>"$FAKE_LOG"
exec "$@"
"""


def default_signals():
    """The script as a user's terminal starts it: the signals it traps at
    their default action.  pytest may itself run with SIGINT ignored (a
    background job of a non-interactive shell: POSIX has `cmd &` ignore
    SIGINT and SIGQUIT), and a shell that starts with a signal ignored can
    neither trap nor receive it, so the interrupt test would see exit 0."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def write_exe(path, text):
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def fake(tmp_path):
    """A PATH directory with fakes and real tools; returns a runner."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in TOOLS + ("cut",):
        real = shutil.which(tool)
        assert real, tool
        os.symlink(real, bin_ / tool)
    write_exe(bin_ / "dpkg-query", FAKE_DPKG)
    write_exe(bin_ / "apt-get", FAKE_APT)
    write_exe(bin_ / "id", FAKE_ID)
    log = tmp_path / "log"
    policy = tmp_path / "root" / "usr" / "sbin" / "policy-rc.d"
    policy.parent.mkdir(parents=True)

    class Fake:
        pass

    f = Fake()
    f.bin, f.log, f.policy, f.tmp = bin_, log, policy, tmp_path

    def run(purpose="build", **env):
        e = {"PATH": str(bin_), "FAKE_LOG": str(log), "BERTH_POLICY_RC": str(policy),
             "HOME": str(tmp_path)}
        e.update(env)
        p = subprocess.run([SH, SCRIPT, purpose], env=e, capture_output=True, timeout=60,
                           preexec_fn=default_signals)
        f.record = log.read_text() if log.exists() else ""
        return p

    f.run = run
    return f


def install_calls(record):
    """The policy-rc.d state each 'apt-get install' saw."""
    lines = record.splitlines()
    return [lines[i + 1] for i, l in enumerate(lines) if l.startswith("apt-get install")]


def test_policy_exists_only_while_apt_get_runs(fake):
    assert not fake.policy.exists()
    p = fake.run()
    assert p.returncode == 0, p
    seen = install_calls(fake.record)
    assert len(seen) == 1 and seen[0] == "policy present mode=-rwxr-xr-x", fake.record
    assert "exit 101" in fake.record  # the policy refuses to start services
    assert "frontend=noninteractive" in fake.record
    assert "libjansson-dev" in fake.record.split("apt-get install", 1)[1].splitlines()[0]
    assert not os.path.lexists(fake.policy), "deps.sh left %s behind" % fake.policy


def test_policy_removed_when_apt_get_fails(fake):
    p = fake.run(FAKE_APT_RC="100")
    assert p.returncode == 100, p
    assert install_calls(fake.record)[0].startswith("policy present"), fake.record
    assert not os.path.lexists(fake.policy)


def test_policy_removed_when_interrupted(fake):
    p = fake.run(FAKE_INTERRUPT="1")
    assert p.returncode == 130, p  # 128 + SIGINT, as the shell reports it
    assert install_calls(fake.record)[0].startswith("policy present"), fake.record
    assert not os.path.lexists(fake.policy)


def test_existing_policy_is_left_alone(fake):
    fake.policy.write_text("#!/bin/sh\n# the admin's own\nexit 0\n")
    fake.policy.chmod(0o700)
    before = fake.policy.read_bytes()
    for rc in ("0", "100"):
        fake.run(FAKE_APT_RC=rc)
        assert "the admin's own" in fake.record
        assert fake.policy.read_bytes() == before
        assert stat.S_IMODE(fake.policy.stat().st_mode) == 0o700


def test_policy_created_and_removed_through_sudo(fake):
    write_exe(fake.bin / "sudo", FAKE_SUDO)
    p = fake.run(FAKE_UID="1000")
    assert p.returncode == 0, p
    assert install_calls(fake.record)[0].startswith("policy present"), fake.record
    assert "sudo" in fake.record and "sudo rm" in fake.record, fake.record
    assert not os.path.lexists(fake.policy)


def test_nothing_missing_is_a_no_op(fake):
    p = fake.run("test", FAKE_INSTALLED="1")
    assert p.returncode == 0, p
    assert "apt-get" not in fake.record and not os.path.lexists(fake.policy)


@pytest.mark.parametrize("purpose,needs", [
    ("build", ["C11 compiler", "make", "pkg-config", "jansson"]),
    ("test", ["jansson", "Criterion", "pytest", "requests", "curl", "Chromium"]),
    ("fuzz", ["jansson", "libFuzzer"]),
])
def test_without_apt_names_the_packages_and_goes_on(fake, purpose, needs):
    os.unlink(fake.bin / "apt-get")
    os.unlink(fake.bin / "dpkg-query")
    p = fake.run(purpose)
    err = p.stderr.decode()
    assert p.returncode == 0, p
    for n in needs:
        assert n in err, (n, err)
    assert "berth:" in err and not os.path.lexists(fake.policy)


def test_unknown_purpose_is_a_usage_error(fake):
    p = fake.run("everything")
    assert p.returncode == 2 and b"usage:" in p.stderr
