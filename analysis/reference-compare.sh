#!/usr/bin/env bash
# reference-compare.sh — `make reference`: runs the topology comparison of issue 4 (Chord,
# Bamboo and super-peer on the same scenarios, scenarios/compare/*.yaml) and curates the
# reference results that README.md and docs/compare.md cite, under results/reference/compare/.
#
# For each scenario: the full sweep goes to $REF_WORK/<name>/ (default results/compare/, not
# committed: every run folder with its hop counts, latency CDFs and time series); the curated
# copy in $REF_OUT/<name>/ (default results/reference/compare/) keeps the resolved scenario,
# runs.tsv (one row per run), aggregate.tsv (mean and 95 % CI per point), the comparison
# table `p2psip compare` prints (compare.txt, and compare.tsv in long format) and the sweep
# figures of the key metrics as SVG and PNG.  The same binary and scenarios give byte-identical
# tables (the figures embed nothing that varies).
#
#   make reference                      # all scenarios (about 30 minutes on 2 cores)
#   REF_ONLY="scale latency" make reference
set -eu

BIN=${P2PSIP_BIN:-./p2psip}
OUT=${REF_OUT:-results/reference/compare}
WORK=${REF_WORK:-results/compare}
ONLY=${REF_ONLY:-scale churn latency latency-pns bandwidth superpeer-election}
FIGURES="lookup_success hops_mean latency_ms_p50 latency_ms_p95 maintenance_bytes_per_peer_per_s
         bytes_per_peer_per_s records_lost alive_peers_mean"
METRICS=lookup_success,lookup_consistency,hops_mean,hops_p99,latency_ms_p50,latency_ms_p95,\
fetches_found,records_lost,alive_peers_mean,maintenance_bytes_per_peer_per_s,\
application_bytes_per_peer_per_s,superpeers_mean,promotions
# The figures README.md embeds, per scenario.
png_figures() {
    case $1 in
        scale) echo "hops_mean latency_ms_p50" ;;
        churn) echo "lookup_success maintenance_bytes_per_peer_per_s latency_ms_p95" ;;
        *) echo "" ;;
    esac
}
[ -x "$BIN" ] || { echo "reference-compare.sh: $BIN not built (run from the repository root)" >&2; exit 2; }

for name in $ONLY; do
    scenario=scenarios/compare/$name.yaml
    [ -f "$scenario" ] || { echo "reference-compare.sh: no $scenario" >&2; exit 2; }
    echo "== $name ($scenario)" >&2
    rm -rf "${WORK:?}/$name"
    rc=0
    "$BIN" sim "$scenario" --out "$WORK/$name" || rc=$?
    # Exit 3 = an expectation failed: keep the results (they say so in expectations.tsv).
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
    PNG_FIGURES=$(png_figures "$name")
    dest=$OUT/$name
    rm -rf "${dest:?}"
    mkdir -p "$dest/plots"
    cp "$WORK/$name/scenario.yaml" "$WORK/$name/runs.tsv" "$WORK/$name/aggregate.tsv" "$dest/"
    # The table: a column per topology (or per value of the key the scenario compares).
    case $name in
        latency-pns) by=overlay.bamboo.pns ;;
        superpeer-election) by=overlay.superpeer.election ;;
        *) by=overlay.topology ;;
    esac
    # (without the closing "wrote ..." line, which names the work folder)
    "$BIN" compare "$WORK/$name" --by "$by" --metrics "$METRICS" --out "$WORK/$name/compare" |
        sed '/^wrote /d' >"$dest/compare.txt"
    cp "$WORK/$name/compare/compare.tsv" "$dest/"
    # SVG for every figure (for papers); PNG only for those README.md shows.
    for m in $FIGURES; do
        f=$WORK/$name/plots/sweep_$m.svg
        [ -f "$f" ] && cp "$f" "$dest/plots/"
    done
    for m in $PNG_FIGURES; do
        f=$WORK/$name/plots/sweep_$m.png
        [ -f "$f" ] && cp "$f" "$dest/plots/"
    done
    [ "$rc" = 0 ] || echo "reference-compare.sh: $name: an expectation failed (see runs.tsv)" >&2
done
echo "reference results in $OUT" >&2
