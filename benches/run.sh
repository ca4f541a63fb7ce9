#!/usr/bin/env bash
# Side-by-side benchmark of purple-otr's engine and libotr 4.1 (docs/benchmarks.md).
#
#   benches/run.sh [time]      wall time of every workload (medians), then memory of
#                              $SESSIONS idle private sessions (one process per implementation)
#   benches/run.sh callgrind   instruction counts under valgrind --tool=callgrind
#
# Builds benches/libotr_bench.c against libotr (pkg-config) and benches/compare.rs (cargo's
# bench profile, engine only), runs each workload on both, and prints one line per workload:
#   bench <name> ours=<value> libotr=<value> unit=<unit> ratio=<ours/libotr>
# followed by the target lines. Raw outputs stay in target/bench/.
#
# Environment: SESSIONS (default 10000), CARGO (cargo), CC (cc).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-time}
out=target/bench
fixtures=tests/fixtures/libotr
sessions=${SESSIONS:-10000}
mkdir -p "$out"

say() { echo "run.sh: $*" >&2; }

build() {
    if ! pkg-config --exists libotr; then
        say "libotr not found by pkg-config (Debian: apt-get install libotr5-dev)"
        exit 1
    fi
    say "building benches/libotr_bench.c against libotr $(pkg-config --modversion libotr)"
    # shellcheck disable=SC2046 # pkg-config output is a list of flags
    ${CC:-cc} -O2 -g -Wall -Wextra -o "$out/libotr_bench" benches/libotr_bench.c \
        $(pkg-config --cflags --libs libotr) -lgcrypt
    say "building benches/compare.rs (cargo bench profile, engine only)"
    ours=$(${CARGO:-cargo} bench --no-default-features --bench compare --no-run \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    if [ ! -x "$ours" ]; then
        say "could not build benches/compare.rs"
        exit 1
    fi
    theirs=("$out/libotr_bench" "$fixtures")
}

# Lines "<impl> <name> <value> <unit>" from both harnesses -> the comparison lines.
combine() {
    awk -v sessions="$sessions" '
        $1 == "ours" { o[$2] = $3; u[$2] = $4; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
        $1 == "libotr" { l[$2] = $3 }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]
                # The modern suite (docs/modern-suite.md) against libotr doing the same job.
                base = k
                if (k ~ /^modern_/) { base = substr(k, 8); if (base == "handshake" || base == "ake_and_upgrade" || base == "direct_start") base = "ake" }
                if (!(base in l)) continue
                name = k
                if (k == "rss_sessions") name = (sessions == 10000) ? "rss_10k_sessions" : "rss_" sessions "_sessions"
                ratio = (l[base] + 0 == 0) ? "inf" : sprintf("%.3f", o[k] / l[base])
                printf "bench %s ours=%s libotr=%s unit=%s ratio=%s\n", name, o[k], l[base], u[k], ratio
            }
        }'
}

# The targets: ratio <= 1.0 everywhere, tighter aims for some, and two absolute ones.
targets() {
    awk '
        function verdict(ok) { return ok ? "met" : "missed" }
        $1 == "bench" {
            name = $2; sub(/^cg_/, "", name)
            for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            r = v["ratio"] + 0
            # send_140b is part of the round trip, judged by its absolute target below.
            if ($2 != "send_140b") printf "target %s ratio<=1.0 %s (ratio=%s)\n", $2, verdict(r <= 1.0), v["ratio"]
            aim = ""
            if (name == "ake" || name == "smp") aim = 0.7
            if (name == "roundtrip" || name == "oneway" || name ~ /^fragments/) aim = 0.5
            # Issue 14: the modern handshake >= 10x faster than the libotr AKE, its round trip >= 5x.
            if (name == "modern_handshake" || name == "modern_direct_start") aim = 0.1
            if (name == "modern_roundtrip") aim = 0.2
            if (aim != "") printf "target %s ratio<=%s %s (ratio=%s)\n", $2, aim, verdict(r <= aim), v["ratio"]
            if ($2 == "send_140b") printf "target send_140b ours<1000us %s (ours=%sus)\n", verdict(v["ours"] + 0 < 1000), v["ours"]
            if ($2 == "session_heap") printf "target session_heap ours<16KiB %s (ours=%sB)\n", verdict(v["ours"] + 0 < 16384), v["ours"]
        }'
}

machine() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    echo "# machine: nproc=$(nproc) cpu=\"$cpu\" $(rustc --version | cut -d' ' -f1-2) libotr=$(pkg-config --modversion libotr) libgcrypt=$(pkg-config --modversion libgcrypt 2>/dev/null || libgcrypt-config --version 2>/dev/null || echo '?')"
}

run_time() {
    local raw="$out/time.txt" w
    : >"$raw"
    # Interleaved per workload so both see the same machine load.
    for w in keygen ake roundtrip oneway smp fragments; do
        say "timing $w"
        "$ours" time "$w" | tee -a "$raw" >&2
        "${theirs[@]}" time "$w" | tee -a "$raw" >&2
    done
    # Memory: a fresh process each, both at once (wall time does not matter here).
    say "memory of $sessions idle private sessions (two processes, ~1-2 minutes)"
    "$ours" mem "$sessions" >"$out/mem.ours.txt" &
    local pid_ours=$!
    "${theirs[@]}" mem "$sessions" >"$out/mem.libotr.txt" &
    local pid_theirs=$!
    wait "$pid_ours"
    wait "$pid_theirs"
    cat "$out/mem.ours.txt" "$out/mem.libotr.txt" | tee -a "$raw" >&2
    report "$raw"
}

run_callgrind() {
    local raw="$out/callgrind.txt" w impl file ir
    command -v valgrind >/dev/null || { say "valgrind not found (apt-get install valgrind)"; exit 1; }
    : >"$raw"
    for w in ake roundtrip smp oneway fragments; do
        for impl in ours libotr; do
            say "callgrind $w ($impl)"
            file="$out/callgrind.$impl.$w.out"
            if [ "$impl" = ours ]; then
                set -- "$ours" cg "$w"
            else
                set -- "${theirs[@]}" cg "$w"
            fi
            valgrind --tool=callgrind --toggle-collect='*cg_workload_*' \
                --callgrind-out-file="$file" "$@" 2>"$file.log" >&2 || {
                say "valgrind failed, see $file.log"
                exit 1
            }
            ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$file")
            echo "$impl cg_$w $ir Ir" | tee -a "$raw" >&2
            callgrind_annotate --inclusive=no "$file" 2>/dev/null | head -n 40 >"$file.top.txt" || true
        done
    done
    say "per-function profiles: $out/callgrind.*.top.txt (callgrind_annotate)"
    report "$raw"
}

report() {
    local results="$out/results.txt"
    {
        combine <"$1"
    } >"$results.tmp"
    {
        cat "$results.tmp"
        targets <"$results.tmp"
        machine
    } >"$results"
    rm -f "$results.tmp"
    cat "$results"
}

build
case "$mode" in
    time) run_time ;;
    callgrind) run_callgrind ;;
    *)
        say "unknown mode '$mode' (time | callgrind)"
        exit 2
        ;;
esac
