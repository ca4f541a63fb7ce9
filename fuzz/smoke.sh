#!/usr/bin/env bash
# A bounded libFuzzer run of every fuzz target (default 20 s each; FUZZ_SECS to change), for
# CI or a quick check before a commit. Skipped, successfully, when cargo-fuzz is not installed:
# `cargo test --no-default-features --features fuzzing --test fuzz_smoke` covers the same
# bodies without libFuzzer.
#
# New inputs go to a scratch directory; the committed seed corpus is only read. A crash leaves
# its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")"

secs="${FUZZ_SECS:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz/smoke.sh: cargo-fuzz not installed (cargo install cargo-fuzz); skipped"
  exit 0
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer); stable rustc accepts them this way.
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"
if ! cargo fuzz build -O --sanitizer "$sanitizer"; then
  echo "fuzz/smoke.sh: build with sanitizer '$sanitizer' failed; retrying without one"
  sanitizer=none
  cargo fuzz build -O --sanitizer none
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target" "artifacts/$target"
  echo "== $target (${secs}s)"
  if cargo fuzz run -O --sanitizer "$sanitizer" "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$secs" -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="artifacts/$target/" 2>"$scratch/$target.log"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    tail -n 40 "$scratch/$target.log"
  fi
  grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units)' "$scratch/$target.log" || true
done
echo "fuzz smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
