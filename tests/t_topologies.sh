#!/usr/bin/env bash
# t_topologies.sh — the same stable scenario on each topology plug-in (CHORD-RELOAD, Bamboo,
# super-peer): every lookup must reach the peer the oracle names responsible, with the hop
# count each design promises (Chord about ½·log2 N; Bamboo about log16 N with b = 4;
# super-peer at most X -> SP(X) -> SP(key), 2 overlay links for a lookup).
set -u
BIN=${P2PSIP_BIN:-./p2psip}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
metric() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1/summary.tsv"; }
check() { # NAME CONDITION-DESCRIPTION AWK-EXPRESSION
    if awk "BEGIN { exit !($3) }"; then echo "PASS: $1: $2"; else echo "FAIL: $1: $2"; fail=1; fi
}
for topo in chord bamboo superpeer; do
    out="$tmp/$topo"
    if ! "$BIN" sim scenarios/chord-static.yaml --quiet --set peers=1024 \
        --set overlay.topology=$topo --set workload.lookups=3000 --out "$out"; then
        echo "FAIL: $topo: the run failed"; fail=1; continue
    fi
    s=$(metric "$out" lookup_success); h=$(metric "$out" hops_mean); m=$(metric "$out" hops_max)
    check "$topo" "lookup_success $s == 1" "$s == 1"
    case $topo in
    chord) check chord "hops_mean $h within 10 % of ½·log2 1024 = 5" "$h >= 4.5 && $h <= 5.5" ;;
    bamboo) check bamboo "hops_mean $h near log16 1024 = 2.5" "$h >= 2 && $h <= 3.2" ;;
    superpeer) check superpeer "hops_max $m <= 2" "$m <= 2" ;;
    esac
done
[ $fail = 0 ] && echo "t_topologies.sh: all checks passed" || echo "t_topologies.sh: checks failed"
exit $fail
