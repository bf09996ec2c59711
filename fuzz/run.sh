#!/bin/bash
# run.sh — runs the libFuzzer targets built by `make fuzz` (docs/fuzzing.md), one after the
# other, each on a working corpus fuzz/out/corpus/TARGET seeded from the committed
# fuzz/corpus/TARGET, and prints the executions and the time of each.
#
#   FUZZ_SECONDS=N  bound each target by time (default 60), or
#   FUZZ_RUNS=N     run each target for exactly N executions.
# A crash, leak, sanitizer report or timeout leaves its input in fuzz/out/crash-TARGET-* (or
# leak-/timeout-) and the script exits 1 after the remaining targets.
set -u
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
status=0
printf '%-10s %12s %8s %10s  %s\n' target execs seconds execs/s result
for t in "$@"; do
    bin=fuzz/out/fuzz_$t
    work=fuzz/out/corpus/$t
    log=fuzz/out/fuzz_$t.log
    mkdir -p "$work"
    args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/out/$t-")
    [ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
    if [ -n "$runs" ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
    start=$(date +%s.%N)
    if "$bin" "${args[@]}" "$work" "fuzz/corpus/$t" >"$log" 2>&1; then result=ok; else
        result="FAILED (see $log and fuzz/out/$t-*)"; status=1; fi
    end=$(date +%s.%N)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    rate=$(awk -v e="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? e / s : 0) }')
    printf '%-10s %12s %8s %10s  %s\n' "$t" "${execs:-?}" "$secs" "$rate" "$result"
done
exit $status
