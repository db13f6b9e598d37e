#!/bin/sh
# Runs every test: the Criterion unit binaries given as arguments, then the
# pytest integration suite against $BUILD/berth.  Prints each runner's own
# output and ends with one line "N passed, M failed" over both.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$@"; do
    echo "== unit: $t"
    LANG=C "$t" --jobs 2 >"$log" 2>&1
    st=$?
    grep -E 'FAIL|CRASH|Synthesis|ERROR|Assertion' "$log" | tail -n 40
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' "$log" | tail -n 1)
    [ -n "$p" ] || { echo "   no summary from $t (exit $st)"; tail -n 20 "$log"; p=0; f="1 0"; }
    passed=$((passed + p))
    failed=$((failed + ${f% *} + ${f#* }))
    [ "$st" -eq 0 ] || [ "${f% *}${f#* }" != "00" ] || { echo "   $t exited $st"; failed=$((failed + 1)); }
done

tests=${PYTEST_ARGS:-tests/integration}
echo "== integration: pytest $tests (BERTH=$BUILD/berth)"
# shellcheck disable=SC2086
BERTH="$BUILD/berth" BERTH_BUILD="$BUILD" "$PYTHON" -m pytest -q -p no:cacheprovider \
    $tests 2>&1 | tee "$log"
sum=$(tail -n 1 "$log")
p=$(echo "$sum" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' | head -n 1)
f=$(echo "$sum" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p; s/^\([0-9][0-9]*\) failed.*/\1/p' | head -n 1)
e=$(echo "$sum" | sed -n 's/.* \([0-9][0-9]*\) error.*/\1/p' | head -n 1)
[ -n "$p$f$e" ] || { echo "   pytest printed no summary"; f=1; }
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0} + ${e:-0}))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
