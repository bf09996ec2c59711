#!/usr/bin/env bash
# bench.sh — `make bench`: the engine's raw throughput (tests/bench_engine.c), static
# CHORD-RELOAD rings (RFC 6940 §10) of 10,000 and 100,000 peers with 100,000 lookups each
# (wall time, events/s, messages/s, peak memory, memory per peer), and the path-length sweep
# of Stoica et al., SIGCOMM 2001, §6.3 for N = 2^3 .. 2^14 (mean hops next to ½·log2 N).
#
# Run from the repository root after ./p2psip is built.  Output is TSV-ish, one table per
# part; results folders go to $BENCH_OUT (default results/bench).  BENCH_QUICK=1 runs smaller
# rings (1,000 and 10,000 peers, 20,000 lookups) and the sweep to k = 12.
set -eu

BIN=${P2PSIP_BIN:-./p2psip}
OUT=${BENCH_OUT:-results/bench}
QUICK=${BENCH_QUICK:-0}
[ -x "$BIN" ] || { echo "bench.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
mkdir -p "$OUT"

metric() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }

echo "# engine: hold model (tests/bench_engine.c)"
cc -std=c11 -O2 -g -D_GNU_SOURCE $(pkg-config --cflags glib-2.0) -o "$OUT/bench_engine" \
    tests/bench_engine.c sim/engine.c $(pkg-config --libs glib-2.0) -lm
"$OUT/bench_engine"
echo

if [ "$QUICK" = 1 ]; then
    RINGS="1000 10000"; LOOKUPS=20000; KMAX=12
else
    RINGS="10000 100000"; LOOKUPS=100000; KMAX=14
fi

echo "# static Chord ring: $LOOKUPS lookups at 1000/s after a 10 s start (scenarios/chord-static.yaml)"
printf 'peers\tlookups\tsuccess\thops_mean\tlatency_ms_p50\tsim_s\twall_s\tevents\tevents_per_s\tmessages\tmessages_per_s\tpeak_rss_kib\tmemory_per_peer_bytes\n'
for n in $RINGS; do
    dir="$OUT/static-$n"
    dur=$((10 + LOOKUPS / 1000 + 10))
    "$BIN" sim scenarios/chord-static.yaml --quiet --set peers=$n --set workload.lookups=$LOOKUPS \
        --set workload.lookup_rate=1000 --set duration=${dur}s --out "$dir"
    s="$dir/summary.tsv"
    wall=$(metric "$s" wall_s); events=$(metric "$s" events); msgs=$(metric "$s" messages)
    acks=$(metric "$s" acks)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%.0f\t%s\t%s\n' "$n" \
        "$(metric "$s" lookups)" "$(metric "$s" lookup_success)" "$(metric "$s" hops_mean)" \
        "$(metric "$s" latency_ms_p50)" "$(metric "$s" duration_s)" "$wall" "$events" \
        "$(awk -v e="$events" -v w="$wall" 'BEGIN { print (w > 0 ? e / w : 0) }')" "$msgs" \
        "$(awk -v m="$msgs" -v a="$acks" -v w="$wall" 'BEGIN { print (w > 0 ? (m + a) / w : 0) }')" \
        "$(metric "$s" peak_rss_kib)" "$(metric "$s" memory_per_peer_bytes)"
done
echo "# messages_per_s counts every simulated datagram (RELOAD messages and link ACKs) per wall second"
echo

echo "# path length, Stoica et al. SIGCOMM 2001 §6.3 (scenarios/chord-pathlength.yaml)"
printf 'k\tpeers\tlookups\tsuccess\thops_mean\thalf_log2_n\thops_p50\thops_p99\twall_s\n'
for k in $(seq 3 "$KMAX"); do
    n=$((1 << k))
    dir="$OUT/pathlength-k$k"
    "$BIN" sim scenarios/chord-pathlength.yaml --quiet --set peers=$n --out "$dir"
    s="$dir/summary.tsv"
    printf '%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\n' "$k" "$n" "$(metric "$s" lookups)" \
        "$(metric "$s" lookup_success)" "$(metric "$s" hops_mean)" \
        "$(awk -v k="$k" 'BEGIN { print k / 2 }')" "$(metric "$s" hops_p50)" \
        "$(metric "$s" hops_p99)" "$(metric "$s" wall_s)"
done
