#!/usr/bin/env bash
# bench.sh — `make bench`: the engine's raw throughput (tests/bench_engine.c), static
# CHORD-RELOAD rings (RFC 6940 §10) of 10,000 and 100,000 peers with 100,000 lookups each
# (wall time, events/s, messages/s, peak memory, memory per peer), and the path-length sweep
# of Stoica et al., SIGCOMM 2001, §6.3 for N = 2^3 .. 2^14 (mean hops next to ½·log2 N).
#
# Last, the churn benchmark of the experiments issue (scenarios/bench-churn-10k.yaml: 10,000
# peers, one hour of Weibull churn) for each topology: CHORD-RELOAD, Bamboo and super-peer
# (super-peer share $BENCH_SP_SHARE, default 0.01: a tier of about 1 %, since a super-peer's
# table costs O(S) and the tier's O(S^2), docs/superpeer.md).
#
# Run from the repository root after ./p2psip is built.  Output is TSV-ish, one table per
# part; results folders go to $BENCH_OUT (default results/bench).  Part `sip` (not in the
# default list) runs tests/bench_sip.sh: REGISTERs/s and calls/s of a 3-peer loopback overlay
# next to kamailio, with SIPp.  BENCH_QUICK=1 runs smaller
# rings (1,000 and 10,000 peers, 20,000 lookups), the sweep to k = 12 and the churn benchmark
# with 1,000 peers for 10 minutes.  BENCH_PARTS selects parts (default: "engine static
# pathlength churn"); BENCH_TOPOLOGIES the churn benchmark's topologies (default: "chord
# bamboo superpeer").
set -eu

BIN=${P2PSIP_BIN:-./p2psip}
OUT=${BENCH_OUT:-results/bench}
QUICK=${BENCH_QUICK:-0}
[ -x "$BIN" ] || { echo "bench.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
mkdir -p "$OUT"

metric() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }
PARTS=" ${BENCH_PARTS:-engine static pathlength churn} "
want() { case $PARTS in *" $1 "*) return 0 ;; esac; return 1; }

if want engine; then
echo "# engine: hold model (tests/bench_engine.c)"
cc -std=c11 -O2 -g -D_GNU_SOURCE $(pkg-config --cflags glib-2.0) -o "$OUT/bench_engine" \
    tests/bench_engine.c sim/engine.c $(pkg-config --libs glib-2.0) -lm
"$OUT/bench_engine"
echo
fi

if [ "$QUICK" = 1 ]; then
    RINGS="1000 10000"; LOOKUPS=20000; KMAX=12
else
    RINGS="10000 100000"; LOOKUPS=100000; KMAX=14
fi

if want static; then
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
fi

if want pathlength; then
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
echo
fi

if want churn; then
if [ "$QUICK" = 1 ]; then
    CHURN_SET="--set peers=1000 --set duration=10m"; CHURN_DESC="1,000 peers, 10 minutes"
else
    CHURN_SET=""; CHURN_DESC="10,000 peers, one hour"
fi
SP_SHARE=${BENCH_SP_SHARE:-0.01}
echo "# churn benchmark per topology: $CHURN_DESC (scenarios/bench-churn-10k.yaml; superpeer share $SP_SHARE)"
printf 'topology\tsuccess\thops_mean\tlatency_ms_p50\tmaintenance_bytes_per_peer_per_s\tapplication_bytes_per_peer_per_s\twall_s\tevents_per_s\tpeak_rss_kib\tmemory_per_peer_bytes\n'
for topo in ${BENCH_TOPOLOGIES:-chord bamboo superpeer}; do
    dir="$OUT/churn-$topo"
    extra=""
    [ "$topo" = superpeer ] && extra="--set overlay.superpeer.share=$SP_SHARE"
    # shellcheck disable=SC2086 # CHURN_SET and extra are lists of arguments
    "$BIN" sim scenarios/bench-churn-10k.yaml --quiet --set overlay.topology=$topo $CHURN_SET \
        $extra --out "$dir"
    s="$dir/summary.tsv"
    wall=$(metric "$s" wall_s); events=$(metric "$s" events)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\n' "$topo" \
        "$(metric "$s" lookup_success)" "$(metric "$s" hops_mean)" \
        "$(metric "$s" latency_ms_p50)" "$(metric "$s" maintenance_bytes_per_peer_per_s)" \
        "$(metric "$s" application_bytes_per_peer_per_s)" "$wall" \
        "$(awk -v e="$events" -v w="$wall" 'BEGIN { print (w > 0 ? e / w : 0) }')" \
        "$(metric "$s" peak_rss_kib)" "$(metric "$s" memory_per_peer_bytes)"
done
echo "# wall_s is the simulation's own wall time (summary.tsv), events_per_s = events / wall_s"
fi

if want sip; then
echo
echo "# SIP: REGISTERs/s and calls/s, 3-peer overlay vs kamailio (tests/bench_sip.sh)"
P2PSIP_BIN="$BIN" bash tests/bench_sip.sh
fi
