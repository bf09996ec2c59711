#!/usr/bin/env bash
# t_plot.sh — end-to-end checks of `p2psip plot` and `p2psip compare` (analysis/plot.c,
# analysis/compare.c): two seeded runs of the demo scenario are re-rendered (PNG by signature,
# SVG, scripts byte-identical when rendered again) and compared side by side (table, compare.tsv,
# overlaid figures); a small sweep is plotted against its swept key and compared point by
# point; usage errors and unreadable folders exit 2 naming the file; without gnuplot, plot
# exits 1 and compare still writes its table.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Prints
# PASS/FAIL per check; exits non-zero on any failure.  Takes a few seconds.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
[ -x "$BIN" ] || { echo "t_plot.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_plot.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILS=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

HAVE_GNUPLOT=0
command -v gnuplot >/dev/null 2>&1 && HAVE_GNUPLOT=1
[ "$HAVE_GNUPLOT" = 1 ] || echo "NOTE: gnuplot is not installed: figures are not checked"

# is_png FILE: non-empty with the PNG signature.
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
is_svg() { [ -s "$1" ] && grep -q '<svg' "$1" && grep -q '</svg>' "$1"; }

# figures DIR STEM...: STEM.gp exists and, with gnuplot, STEM.png and STEM.svg are real images.
figures() {
    local dir=$1 stem bad=""
    shift
    for stem in "$@"; do
        [ -s "$dir/$stem.gp" ] || bad="$bad $stem.gp"
        if [ "$HAVE_GNUPLOT" = 1 ]; then
            is_png "$dir/$stem.png" || bad="$bad $stem.png"
            is_svg "$dir/$stem.svg" || bad="$bad $stem.svg"
        fi
    done
    [ -z "$bad" ] || { echo "  missing or broken in $dir:$bad"; return 1; }
}

# expect_rc WANT NAME CMD...: runs CMD, checks its exit code; stderr goes to $WORK/NAME.err.
expect_rc() {
    local want=$1 name=$2 rc=0
    shift 2
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    if [ "$rc" = "$want" ]; then
        pass "$name: exit $rc $(head -c 200 "$WORK/$name.err")"
    else
        fail "$name: exit $rc, expected $want ($(head -c 300 "$WORK/$name.err"))"
    fi
}

# ---- help -------------------------------------------------------------------------------------
for cmd in plot compare; do
    if "$BIN" $cmd --help >"$WORK/help.txt" 2>&1 && grep -q "Usage: p2psip $cmd" "$WORK/help.txt"; then
        pass "p2psip $cmd --help exits 0"
    else
        fail "p2psip $cmd --help"
    fi
done

# ---- two runs with different seeds ------------------------------------------------------------
for seed in 1 2; do
    "$BIN" sim scenarios/chord-static.yaml --seed $seed --out "$WORK/s$seed" --quiet \
        2>"$WORK/sim$seed.err" || fail "sim --seed $seed exited $? ($(head -c 300 "$WORK/sim$seed.err"))"
done
[ -f "$WORK/s1/summary.tsv" ] && [ -f "$WORK/s2/summary.tsv" ] ||
    { fail "the runs left no summary.tsv"; echo "t_plot.sh: cannot go on"; exit 1; }

# ---- p2psip plot RUN_DIR ----------------------------------------------------------------------
rm -rf "$WORK/s1/plots"
expect_rc $((1 - HAVE_GNUPLOT)) "plot run" "$BIN" plot "$WORK/s1"
run_figs="hops latency_cdf messages"
[ -f "$WORK/s1/timeseries.tsv" ] && run_figs="$run_figs time_alive_peers time_lookup_success"
if figures "$WORK/s1/plots" $run_figs; then
    pass "plot run: $run_figs (.gp$([ $HAVE_GNUPLOT = 1 ] && echo ', .png, .svg'))"
else
    fail "plot run: figures missing"
fi
if grep -q "set title 'chord-static: hops per lookup" "$WORK/s1/plots/hops.gp" &&
    grep -q "set xlabel 'lookup latency (ms)'" "$WORK/s1/plots/latency_cdf.gp"; then
    pass "plot run: titles name the scenario, axes carry units"
else
    fail "plot run: title or axis label missing in the scripts"
fi
mkdir -p "$WORK/gp1" && cp "$WORK/s1/plots/"*.gp "$WORK/gp1/"
"$BIN" plot --quiet "$WORK/s1" >/dev/null 2>&1
same=1
for f in "$WORK/gp1/"*.gp; do cmp -s "$f" "$WORK/s1/plots/$(basename "$f")" || same=0; done
if [ "$same" = 1 ] && ! grep -q "$WORK" "$WORK/gp1/"*.gp; then
    pass "plot run: scripts byte-identical when rendered again, no absolute paths"
else
    fail "plot run: scripts differ between renderings or hold paths"
fi
expect_rc $((1 - HAVE_GNUPLOT)) "plot two runs" "$BIN" plot --quiet "$WORK/s1" "$WORK/s2"
figures "$WORK/s2/plots" hops latency_cdf && pass "plot two runs: both folders drawn" ||
    fail "plot two runs: second folder not drawn"

# ---- p2psip compare ---------------------------------------------------------------------------
expect_rc 0 "compare two runs" "$BIN" compare "$WORK/s1" "$WORK/s2" --out "$WORK/cmp"
out="$WORK/compare two runs.out"
if head -1 "$out" | grep -qE '^metric +s1 +s2 +difference +relative$' &&
    grep -qE '^hops_mean +[0-9.]+ +[0-9.]+ +[-+0-9.]+ +[-+0-9.]+ %' "$out" &&
    grep -qE '^seed +1 +2 +\+1 +\+100\.00 %$' "$out"; then
    pass "compare: aligned table with both runs, difference and relative difference"
else
    fail "compare: unexpected table:"; head -5 "$out"
fi
tsv="$WORK/cmp/compare.tsv"
if [ "$(head -1 "$tsv" 2>/dev/null)" = "$(printf 'run\tmetric\tvalue\tci95_low\tci95_high')" ] &&
    grep -qP '^s1\thops_mean\t[0-9.]+\tNA\tNA$' "$tsv" && grep -qP '^s2\tlookup_success\t' "$tsv"; then
    pass "compare: compare.tsv in long format ($(($(wc -l <"$tsv") - 1)) rows)"
else
    fail "compare: compare.tsv missing or malformed"
fi
if figures "$WORK/cmp" hops latency_cdf &&
    grep -q "title 's1'" "$WORK/cmp/hops.gp" && grep -q "title 's2'" "$WORK/cmp/hops.gp"; then
    pass "compare: overlaid hop and latency figures, legend = folder names"
else
    fail "compare: overlaid figures missing"
fi
(cd "$WORK" && "$BIN" compare s1 s2 >/dev/null 2>&1) && [ -f "$WORK/compare/compare.tsv" ] &&
    pass "compare: default output folder ./compare/" || fail "compare: no ./compare/compare.tsv"

# ---- a sweep: plot against the swept key, compare point by point -----------------------------
cat >"$WORK/sweep.yaml" <<'EOF'
name: plot-sweep
duration: 6s
peers: 16
seeds: 2
workload:
  start: 2s
  lookups: 100
  lookup_rate: 100
sweep:
  peers: [16, 32]
  overlay.successors: [2, 4]
EOF
if "$BIN" sim "$WORK/sweep.yaml" --out "$WORK/sweep" --quiet >/dev/null 2>"$WORK/sweep.err" &&
    [ -f "$WORK/sweep/aggregate.tsv" ]; then
    rm -rf "$WORK/sweep/plots"
    expect_rc $((1 - HAVE_GNUPLOT)) "plot sweep" "$BIN" plot "$WORK/sweep"
    if figures "$WORK/sweep/plots" sweep_lookup_success sweep_hops_mean sweep_latency_ms_p95 \
        sweep_bytes_per_peer_per_s &&
        grep -q "with yerrorlines" "$WORK/sweep/plots/sweep_hops_mean.gp" &&
        grep -q "title '4'" "$WORK/sweep/plots/sweep_hops_mean.gp" &&
        grep -q "set key below title 'overlay.successors'" "$WORK/sweep/plots/sweep_hops_mean.gp"; then
        pass "plot sweep: metrics against peers, a line per overlay.successors, 95 % CIs"
    else
        fail "plot sweep: sweep figures missing"
    fi
    expect_rc 0 "compare sweeps" "$BIN" compare "$WORK/sweep" "$WORK/sweep" --out "$WORK/cmp-sweep"
    if grep -q '^\[peers=32, overlay.successors=4\]$' "$WORK/compare sweeps.out" &&
        grep -qE '^hops_mean +[0-9.]+ ± [0-9.e-]+ ' "$WORK/compare sweeps.out"; then
        pass "compare sweeps: one block per sweep point, means ± CI"
    else
        fail "compare sweeps: unexpected table:"; head -8 "$WORK/compare sweeps.out"
    fi
    # --by: a column per value of one swept key, a group of rows per value of the others.
    expect_rc 0 "compare by" "$BIN" compare "$WORK/sweep" --by overlay.successors \
        --metrics hops_mean,lookup_success --out "$WORK/cmp-by"
    if grep -qE '^metric +2 +4 +difference' "$WORK/compare by.out" &&
        grep -q '^\[peers=32\]$' "$WORK/compare by.out" &&
        [ "$(grep -c '^hops_mean ' "$WORK/compare by.out")" -ge 2 ] &&
        ! grep -q '^messages ' "$WORK/compare by.out"; then
        pass "compare --by: a column per overlay.successors, only the metrics asked for"
    else
        fail "compare --by: unexpected table:"; head -8 "$WORK/compare by.out"
    fi
    expect_rc 2 "compare by unknown key" "$BIN" compare "$WORK/sweep" --by overlay.bogus
    grep -q "no swept key 'overlay.bogus'" "$WORK/compare by unknown key.err" ||
        fail "compare --by unknown key: message does not name the key"
else
    fail "sweep run failed ($(head -c 300 "$WORK/sweep.err"))"
fi

# ---- usage errors and unreadable folders: exit 2, the message names the file ------------------
expect_rc 2 "plot without folder" "$BIN" plot
expect_rc 2 "compare without folder" "$BIN" compare
expect_rc 2 "plot unknown option" "$BIN" plot --frobnicate "$WORK/s1"
expect_rc 2 "compare unknown option" "$BIN" compare --frobnicate "$WORK/s1"
expect_rc 2 "compare --out without value" "$BIN" compare "$WORK/s1" --out
expect_rc 2 "plot missing folder" "$BIN" plot "$WORK/nowhere"
grep -q "$WORK/nowhere" "$WORK/plot missing folder.err" || fail "plot missing folder: not named"
mkdir -p "$WORK/empty"
expect_rc 2 "compare empty folder" "$BIN" compare "$WORK/s1" "$WORK/empty"
grep -q "$WORK/empty/summary.tsv" "$WORK/compare empty folder.err" ||
    fail "compare empty folder: message does not name summary.tsv"
mkdir -p "$WORK/bad" && cp "$WORK/s1/summary.tsv" "$WORK/bad/"
printf 'hops\tcount\n1\t5\n2\tfive\n' >"$WORK/bad/hops.tsv"
expect_rc 2 "plot malformed hops.tsv" "$BIN" plot "$WORK/bad"
grep -q "$WORK/bad/hops.tsv:3:3: 'five'" "$WORK/plot malformed hops.tsv.err" ||
    fail "plot malformed hops.tsv: message does not name FILE:LINE:COLUMN"

# ---- without gnuplot: plot says so (exit 1), compare still prints and writes compare.tsv -----
NOPLOT_PATH=$WORK/nopath
mkdir -p "$NOPLOT_PATH"
expect_rc 1 "plot without gnuplot" env PATH="$NOPLOT_PATH" "$BIN" plot "$WORK/s2"
grep -q "gnuplot is not installed" "$WORK/plot without gnuplot.err" ||
    fail "plot without gnuplot: message does not say gnuplot is missing"
expect_rc 0 "compare without gnuplot" env PATH="$NOPLOT_PATH" "$BIN" compare "$WORK/s1" "$WORK/s2" \
    --out "$WORK/cmp-noplot"
[ -f "$WORK/cmp-noplot/compare.tsv" ] && [ -f "$WORK/cmp-noplot/hops.gp" ] &&
    pass "compare without gnuplot: compare.tsv and scripts written" ||
    fail "compare without gnuplot: files missing"

if [ "$FAILS" -gt 0 ]; then
    echo "t_plot.sh: $FAILS check(s) failed"
    exit 1
fi
echo "t_plot.sh: all checks passed"
