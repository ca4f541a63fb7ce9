#!/bin/sh
# One run of the fuzzing campaign, recorded: fuzz/campaign.sh TARGET SECONDS [libFuzzer args…]
#
# Builds the targets as the README says (cargo fuzz, -O, no sanitizer), runs TARGET for SECONDS
# from the committed corpus plus a scratch corpus that persists between runs
# ($PURPLE_OTR_CAMPAIGN_DIR, default /var/tmp/purple-otr-campaign), and appends one line to
# fuzz/campaign.log: UTC start, commit (with "+" if the tree differs), target, seconds, inputs
# executed (libFuzzer's own count), crashes (0, or 1 and the artifact's name), extra arguments.
# A crash stops the run with libFuzzer's report; the artifact is kept in the scratch directory.
set -eu
target=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
scratch=${PURPLE_OTR_CAMPAIGN_DIR:-/var/tmp/purple-otr-campaign}
mkdir -p "$scratch/$target" "$scratch/artifacts"
cd "$here"
cargo fuzz build -O --sanitizer none "$target" >/dev/null 2>&1 || cargo fuzz build -O --sanitizer none "$target"
bin=$(ls -d target/*/release/"$target" | head -n 1)
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- ../src ../Cargo.toml . ':!campaign.log' || commit="$commit+"
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log="$scratch/$target.$(date -u +%s).log"
status=0
"$bin" "$scratch/$target" "corpus/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$scratch/artifacts/" "$@" >"$log" 2>&1 || status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
crash=0
if [ "$status" -ne 0 ]; then
    crash="1 $(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)"
    tail -n 40 "$log" >&2
fi
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "$commit" "$target" "$seconds" "${execs:-?}" \
    "$crash" "$*" >>"$here/campaign.log"
tail -n 1 "$here/campaign.log"
exit "$status"
