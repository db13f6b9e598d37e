#!/bin/sh
# Installs the Debian packages berth needs for a purpose, if any are missing:
#   scripts/deps.sh build   compiler, make, jansson
#   scripts/deps.sh test    + Criterion, pytest, requests, curl, chromium, setpriv, sslscan, haproxy, wrk, systemd
#   scripts/deps.sh fuzz    + clang and its libFuzzer runtime
#   scripts/deps.sh bench   + wrk, nginx, lighttpd, h2o, strace, openssl, h2load
# A no-op (one dpkg-query per package) when everything is there.
#
# It leaves the system as it found it: the policy-rc.d that keeps the
# installs from starting services (nginx would take port 80) exists only
# while apt-get install runs, and only if there was none; a policy-rc.d left
# behind would silently keep every later package's service from starting.
# Without dpkg/apt-get (another distribution) it says what to install and
# exits 0: the build then stops with its own error if something is missing.
set -e
build="gcc make libc6-dev pkg-config libjansson-dev libssl-dev libnghttp2-dev zlib1g-dev libbrotli-dev libzstd-dev"
test="$build libcriterion-dev python3 python3-pytest python3-requests python3-h2 python3-websockets curl openssl nghttp2-client chromium util-linux iproute2 valgrind sslscan haproxy wrk systemd python3-brotli python3-zstandard brotli zstd"
fuzz="$build clang libclang-rt-14-dev"
bench="$build wrk nginx-light lighttpd h2o strace openssl nghttp2-client"
# the same by purpose, for package managers whose names differ
need_build="a C11 compiler (gcc or clang), make, pkg-config, jansson, OpenSSL 3, libnghttp2, zlib, libbrotli and libzstd with their headers (libjansson-dev libssl-dev libnghttp2-dev zlib1g-dev libbrotli-dev libzstd-dev; jansson-devel openssl-devel libnghttp2-devel zlib-devel brotli-devel libzstd-devel)"
need_test="$need_build; Criterion (libcriterion-dev); python3 with pytest, requests, h2 and websockets; curl; openssl; nghttp and h2load (nghttp2-client); Chromium; setpriv (util-linux); ip (iproute2); valgrind; sslscan; HAProxy (haproxy); wrk (the cluster test); systemd-socket-activate and systemd-analyze (systemd); python3 brotli and zstandard modules; the brotli and zstd commands"
need_fuzz="$need_build; clang with its libFuzzer runtime"
need_bench="$need_build; wrk, nginx, lighttpd, h2o, strace, openssl, h2load (nghttp2-client)"
case "${1:-build}" in
build) want=$build need=$need_build ;;
test) want=$test need=$need_test ;;
fuzz) want=$fuzz need=$need_fuzz ;;
bench) want=$bench need=$need_bench ;;
all) want="$test $fuzz $bench" need="$need_test; clang with its libFuzzer runtime; wrk, nginx, lighttpd, h2o, strace, openssl, h2load (nghttp2-client)" ;;
*)
    echo "usage: $0 build|test|fuzz|bench|all" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "berth: no dpkg-query/apt-get here, so nothing is installed; '${1:-build}' needs: $need" >&2
    echo "berth: install what is missing with this system's package manager; going on" >&2
    exit 0
fi

missing=
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "berth: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else
    echo "berth: run as root: apt-get install -y$missing" >&2
    exit 1
fi

# BERTH_POLICY_RC exists for the tests (tests/integration/test_deps.py)
policy=${BERTH_POLICY_RC:-/usr/sbin/policy-rc.d}
ours=
cleanup() {
    if [ -n "$ours" ]; then
        ours=
        $sudo rm -f "$policy" ||
            echo "berth: could not remove $policy; remove it, or later packages' services will not start" >&2
    fi
}
# an interrupt exits through the EXIT trap too; the status says which signal
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# sudo does not pass the environment on: say it on the command line
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
    # ours from before it exists, so an interrupt at any point removes it; set -C
    # creates it with O_EXCL, so one that appeared meanwhile is not taken for ours
    ours=1
    # shellcheck disable=SC2016
    if ! $sudo sh -c 'set -C && printf "#!/bin/sh\nexit 101\n" >"$1" && chmod 755 "$1"' \
        sh "$policy" 2>/dev/null; then
        ours=
        [ -e "$policy" ] || {
            echo "berth: cannot create $policy, which keeps the installs from starting services; install by hand:$missing" >&2
            exit 1
        }
    fi
fi
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
