#!/bin/sh
# Installs the Debian packages berth needs for a purpose, if any are missing:
#   scripts/deps.sh build   compiler, make, jansson
#   scripts/deps.sh test    + Criterion, pytest, requests, curl, chromium, setpriv
#   scripts/deps.sh fuzz    + clang and its libFuzzer runtime
#   scripts/deps.sh bench   + wrk, nginx, lighttpd, h2o, strace
# A no-op (one dpkg-query) when everything is there.
set -e
build="gcc make libc6-dev pkg-config libjansson-dev"
test="$build libcriterion-dev python3 python3-pytest python3-requests curl chromium util-linux iproute2 valgrind"
fuzz="$build clang libclang-rt-14-dev"
bench="$build wrk nginx-light lighttpd h2o strace"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
fuzz) want=$fuzz ;;
bench) want=$bench ;;
all) want="$test $fuzz $bench valgrind" ;;
*) echo "usage: $0 build|test|fuzz|bench|all" >&2; exit 2 ;;
esac
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
# package installs must not start services (nginx would take port 80)
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
