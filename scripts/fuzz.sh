#!/bin/sh
# Smoke-runs each libFuzzer binary given for $FUZZ_SECONDS on its seeds
# (fuzz/seeds/NAME/), its dictionary if any (fuzz/NAME.dict) and a scratch
# corpus; a crash, leak or sanitizer report fails that target.
# Ends with "N passed, M failed" (one per target).
secs=${FUZZ_SECONDS:-20}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$@"; do
    n=$(basename "$f")
    mkdir -p "$tmp/$n"
    seeds=
    [ -d "fuzz/seeds/$n" ] && seeds="fuzz/seeds/$n"
    dict=
    [ -f "fuzz/$n.dict" ] && dict="-dict=fuzz/$n.dict"
    # -timeout: one input running this long is a hang (fuzz_http_conn talks to
    # a real server); without it libFuzzer waits 20 minutes.  A failing input
    # is kept beside the binary (crash-*, timeout-*, leak-*).
    # shellcheck disable=SC2086
    if "$f" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$(dirname "$f")/$n-" $dict "$tmp/$n" $seeds >"$tmp/$n.log" 2>&1; then
        echo "fuzz: $n clean, $(sed -n 's/.*stat::number_of_executed_units: *//p' "$tmp/$n.log") runs in ${secs}s"
        passed=$((passed + 1))
    else
        echo "fuzz: $n FAILED"
        tail -n 40 "$tmp/$n.log"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
