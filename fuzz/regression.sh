#!/bin/sh
# Shows that the lifecycle target finds a silent downgrade (issue 13): the old buddy-sign-off
# behaviour is put back behind a test-only switch (PURPLE_OTR_FUZZ_REGRESSION=1; the target
# then reports only first-rule violations), and each of RUNS seeds must make libFuzzer report a
# "FIRST RULE" violation within LIMIT seconds, starting from an empty corpus.
# fuzz/regression.sh [RUNS [LIMIT]]   (needs cargo-fuzz; see fuzz/README.md)
set -eu
runs=${1:-3}
limit=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
cargo fuzz build -O --sanitizer none lifecycle >/dev/null 2>&1 || cargo fuzz build -O --sanitizer none lifecycle
bin=$(ls -d target/*/release/lifecycle | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
seed=1
while [ "$seed" -le "$runs" ]; do
    mkdir -p "$work/corpus$seed"
    start=$(date +%s.%N)
    PURPLE_OTR_FUZZ_REGRESSION=1 "$bin" "$work/corpus$seed" -seed="$seed" \
        -max_total_time="$limit" -artifact_prefix="$work/crash$seed-" >"$work/log$seed" 2>&1 || true
    took=$(echo "$(date +%s.%N) - $start" | bc)
    execs=$(grep -Eo '^#[0-9]+' "$work/log$seed" | tail -n 1)
    if grep -q 'lifecycle oracle: .*FIRST RULE' "$work/log$seed"; then
        echo "seed $seed: found in $took s (${execs#\#} inputs): $(grep -o 'FIRST RULE.*' "$work/log$seed" | head -n 1 | cut -c1-100)"
    else
        echo "seed $seed: NOT found in $limit s"
        failed=1
    fi
    seed=$((seed + 1))
done
exit "$failed"
