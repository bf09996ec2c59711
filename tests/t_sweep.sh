#!/usr/bin/env bash
# t_sweep.sh — end-to-end checks of sweeps, seeds, expectations and traffic capture in
# `p2psip sim` (sim/cli.c, sim/sweep.c, sim/expect.c): a sweep with seeds: 5 over two values
# gives the same runs.tsv and aggregate.tsv whatever --jobs is, and --collect rebuilds them;
# --run K writes one run folder; --emit writes as many Slurm array tasks or GNU parallel lines
# as there are runs; a failing expectation exits 3 naming the metric, a passing one exits 0,
# an unknown metric exits 2 naming FILE:LINE:COLUMN; --pcap writes a capture tshark decodes
# as RELOAD (RFC 6940); nothing is written on stderr when it is not a terminal.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Prints
# PASS/FAIL per check; exits non-zero on any failure.  Takes a few seconds: the scenarios are
# tiny and written to a temporary folder.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
[ -x "$BIN" ] || { echo "t_sweep.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_sweep.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILS=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# ---- help -------------------------------------------------------------------------------------
if "$BIN" sim --help >"$WORK/help.txt" 2>&1 && grep -q -- '--emit slurm|parallel' "$WORK/help.txt" &&
    grep -q -- '--jobs' "$WORK/help.txt" && grep -q -- '--pcap' "$WORK/help.txt"; then
    pass "p2psip sim --help exits 0 and explains --jobs, --emit, --pcap"
else
    fail "p2psip sim --help"
fi

# ---- the scenarios ----------------------------------------------------------------------------
cat >"$WORK/sweep.yaml" <<'EOF'
name: t-sweep
duration: 12s
peers: 12
seed: 11
seeds: 5
workload:
  start: 2s
  lookups: 60
  lookup_rate: 20/s
output:
  plots: false
expect:
  lookup_success: ">= 0.5"
sweep:
  overlay.successors: [2, 4]
EOF
cat >"$WORK/one.yaml" <<'EOF'
name: t-one
duration: 12s
peers: 12
workload:
  start: 2s
  lookups: 60
  lookup_rate: 20/s
output:
  plots: false
expect:
  lookup_success: ">= 0.99"
  hops_mean: "<= 8"
EOF

# ---- a sweep: same tables whatever --jobs -----------------------------------------------------
for j in 1 2; do
    rc=0
    "$BIN" sim "$WORK/sweep.yaml" --jobs $j --out "$WORK/j$j" >"$WORK/j$j.out" 2>"$WORK/j$j.err" ||
        rc=$?
    [ "$rc" = 0 ] || fail "sweep --jobs $j: exit $rc ($(head -c 300 "$WORK/j$j.err"))"
    [ -s "$WORK/j$j.err" ] && fail "sweep --jobs $j: stderr not empty: $(head -c 300 "$WORK/j$j.err")"
done
if [ -f "$WORK/j1/runs.tsv" ] && [ -f "$WORK/j2/runs.tsv" ]; then
    rows=$(($(wc -l <"$WORK/j1/runs.tsv") - 1))
    runs=$(find "$WORK/j1/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
    if cmp -s "$WORK/j1/runs.tsv" "$WORK/j2/runs.tsv" &&
        cmp -s "$WORK/j1/aggregate.tsv" "$WORK/j2/aggregate.tsv"; then
        pass "sweep: runs.tsv and aggregate.tsv identical with --jobs 1 and --jobs 2"
    else
        fail "sweep: tables differ between --jobs 1 and --jobs 2"
        diff "$WORK/j1/runs.tsv" "$WORK/j2/runs.tsv" | head -5
    fi
    header=$(head -1 "$WORK/j1/runs.tsv")
    if [ "$rows" = 10 ] && [ "$runs" = 10 ] &&
        [[ "$header" == run$'\t'point$'\t'seed$'\t'overlay.successors$'\t'* ]] &&
        [[ "$header" != *wall_s* ]] && [[ "$header" != *peak_rss_kib* ]]; then
        pass "sweep: 10 runs (2 values x 5 seeds), header '${header:0:60}...'"
    else
        fail "sweep: $rows rows, $runs run folders, header '$header'"
    fi
    # point-major then seed: seeds 11..15 for successors 2, then for 4
    order=$(awk -F'\t' 'NR > 1 { printf "%s:%s:%s:%s ", $1, $2, $3, $4 }' "$WORK/j1/runs.tsv")
    want="0:0:11:2 1:0:12:2 2:0:13:2 3:0:14:2 4:0:15:2 5:1:11:4 6:1:12:4 7:1:13:4 8:1:14:4 9:1:15:4 "
    [ "$order" = "$want" ] && pass "sweep: run order and seeds" || fail "sweep: order '$order'"
    agg=$(awk -F'\t' '$2 == "hops_mean" { print $1, $3 }' "$WORK/j1/aggregate.tsv" | tr '\n' ' ')
    if [ "$(head -1 "$WORK/j1/aggregate.tsv")" = \
        "overlay.successors"$'\t'"metric"$'\t'"n"$'\t'"mean"$'\t'"ci95_low"$'\t'"ci95_high" ] &&
        [ "$agg" = "2 5 4 5 " ]; then
        pass "sweep: aggregate.tsv has hops_mean over 5 seeds per point"
    else
        fail "sweep: aggregate.tsv hops_mean rows '$agg'"
    fi
    [ -f "$WORK/j1/scenario.yaml" ] && [ -f "$WORK/j1/runs/p1-s13/expectations.tsv" ] ||
        fail "sweep: scenario.yaml or a run's expectations.tsv missing"
    # --collect rebuilds the same tables from the run folders
    rm -f "$WORK/j2/runs.tsv" "$WORK/j2/aggregate.tsv"
    if "$BIN" sim "$WORK/sweep.yaml" --collect --out "$WORK/j2" --quiet 2>"$WORK/col.err" &&
        cmp -s "$WORK/j1/runs.tsv" "$WORK/j2/runs.tsv" &&
        cmp -s "$WORK/j1/aggregate.tsv" "$WORK/j2/aggregate.tsv"; then
        pass "--collect rebuilds identical runs.tsv and aggregate.tsv"
    else
        fail "--collect: $(head -c 300 "$WORK/col.err")"
    fi
fi

# ---- --run K: one run folder ------------------------------------------------------------------
rc=0
"$BIN" sim "$WORK/sweep.yaml" --run 3 --out "$WORK/r3" --quiet 2>"$WORK/r3.err" || rc=$?
stable() { grep -vE '^(wall_s|peak_rss_kib|memory_per_peer_bytes)[[:space:]]' "$1"; }
entries=$(cd "$WORK/r3" 2>/dev/null && find . -mindepth 1 | sort | tr '\n' ' ')
if [ "$rc" = 0 ] && [ "$entries" = "./runs ./runs/p0-s14 " ]; then
    fail "--run 3: the run folder is empty"
elif [ "$rc" = 0 ] && [ "$(find "$WORK/r3/runs" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ] &&
    [ -f "$WORK/r3/runs/p0-s14/summary.tsv" ] &&
    diff <(stable "$WORK/r3/runs/p0-s14/summary.tsv") <(stable "$WORK/j1/runs/p0-s14/summary.tsv") \
        >/dev/null 2>&1; then
    pass "--run 3 writes exactly one run folder (p0-s14), same summary as in the sweep"
else
    fail "--run 3: exit $rc, wrote: ${entries:0:200} $(head -c 300 "$WORK/r3.err")"
fi
rc=0
"$BIN" sim "$WORK/sweep.yaml" --run 10 --out "$WORK/r10" --quiet 2>"$WORK/r10.err" || rc=$?
[ "$rc" = 2 ] && pass "--run 10 of 10 runs: exit 2" || fail "--run 10: exit $rc"

# ---- --emit: cluster scripts ------------------------------------------------------------------
if "$BIN" sim "$WORK/sweep.yaml" --emit slurm >"$WORK/slurm.sh" 2>"$WORK/emit.err" &&
    grep -qx '#SBATCH --array=0-9' "$WORK/slurm.sh" &&
    [ "$(grep -c -- '--run "$SLURM_ARRAY_TASK_ID"' "$WORK/slurm.sh")" = 1 ] &&
    grep -q -- '--collect' "$WORK/slurm.sh" && bash -n "$WORK/slurm.sh" &&
    [ ! -d "$WORK/results" ]; then
    pass "--emit slurm: an array of 10 tasks and the --collect command; nothing run"
else
    fail "--emit slurm: $(head -c 300 "$WORK/emit.err"; head -5 "$WORK/slurm.sh")"
fi
if "$BIN" sim "$WORK/sweep.yaml" --emit parallel --out "$WORK/jobs.txt" --set workload.lookups=30 \
    2>"$WORK/emit.err" && [ "$(grep -c -- ' --run [0-9]' "$WORK/jobs.txt")" = 10 ] &&
    [ "$(grep -vc '^#' "$WORK/jobs.txt")" = 10 ] && grep -q -- '--collect' "$WORK/jobs.txt" &&
    [ "$(grep -c -- "--set 'workload.lookups=30'" "$WORK/jobs.txt")" = 11 ]; then
    pass "--emit parallel: 10 command lines (with the user's --set) and the --collect command"
else
    fail "--emit parallel: $(head -c 300 "$WORK/emit.err"; head -5 "$WORK/jobs.txt")"
fi

# ---- usage errors of sweeps -------------------------------------------------------------------
rc=0
"$BIN" sim "$WORK/sweep.yaml" --set overlay.successors=3 --quiet 2>"$WORK/e1.err" || rc=$?
[ "$rc" = 2 ] && grep -q "overlay.successors" "$WORK/e1.err" &&
    pass "--set on a swept key: exit 2: $(cat "$WORK/e1.err")" || fail "--set on a swept key: exit $rc"
rc=0
"$BIN" sim "$WORK/sweep.yaml" --pcap "$WORK/x.pcap" --quiet 2>"$WORK/e2.err" || rc=$?
[ "$rc" = 2 ] && pass "--pcap with a sweep: exit 2" || fail "--pcap with a sweep: exit $rc"
for bad in "--jobs 0" "--emit pbs" "--run -1" "--run 1 --collect"; do
    rc=0
    # shellcheck disable=SC2086
    "$BIN" sim "$WORK/sweep.yaml" $bad --quiet 2>/dev/null || rc=$?
    [ "$rc" = 2 ] || fail "'$bad': exit $rc, expected 2"
done

# ---- expectations -----------------------------------------------------------------------------
rc=0
"$BIN" sim "$WORK/one.yaml" --out "$WORK/ok" >"$WORK/ok.out" 2>"$WORK/ok.err" || rc=$?
if [ "$rc" = 0 ] && [ "$(grep -c $'\ttrue$' "$WORK/ok/expectations.tsv")" = 2 ] &&
    [ ! -s "$WORK/ok.err" ]; then
    pass "passing expectations: exit 0, expectations.tsv all true, nothing on stderr"
else
    fail "passing expectations: exit $rc ($(head -c 300 "$WORK/ok.err"))"
fi
rc=0
"$BIN" sim "$WORK/one.yaml" --quiet --out "$WORK/no" --set 'expect.hops_mean=< 0.5' \
    2>"$WORK/no.err" || rc=$?
if [ "$rc" = 3 ] &&
    # the position is the file's, or the --set that replaced the file's expectation
    grep -qE "^expectation failed: hops_mean < 0.5 \(measured [0-9.]+\) at ($WORK/one.yaml:[0-9]+:[0-9]+|--set expect.hops_mean=< 0.5)$" \
        "$WORK/no.err" && [ "$(wc -l <"$WORK/no.err")" = 1 ] &&
    grep -q $'^hops_mean\t<\t0.5\t[0-9.]*\tfalse$' "$WORK/no/expectations.tsv"; then
    pass "failing expectation: exit 3: $(cat "$WORK/no.err")"
else
    fail "failing expectation: exit $rc: $(cat "$WORK/no.err")"
fi
rc=0
"$BIN" sim "$WORK/one.yaml" --quiet --out "$WORK/unk" --set 'expect.hops_meen=< 5' \
    2>"$WORK/unk.err" || rc=$?
if [ "$rc" = 2 ] && grep -q "hops_meen" "$WORK/unk.err" && grep -q "unknown metric" "$WORK/unk.err"; then
    pass "unknown metric in expect: exit 2, named"
else
    fail "unknown metric: exit $rc: $(cat "$WORK/unk.err")"
fi
printf '%s\n' 'name: t-unk' 'duration: 5s' 'peers: 4' 'output:' '  plots: false' 'expect:' \
    '  no_such_metric: ">= 1"' >"$WORK/unk.yaml"
rc=0
"$BIN" sim "$WORK/unk.yaml" --quiet --out "$WORK/unk2" 2>"$WORK/unk2.err" || rc=$?
if [ "$rc" = 2 ] && grep -q "^p2psip sim: $WORK/unk.yaml:7:3: .*no_such_metric" "$WORK/unk2.err"; then
    pass "unknown metric names FILE:LINE:COLUMN"
else
    fail "unknown metric position: exit $rc: $(cat "$WORK/unk2.err")"
fi
# in a sweep: exit 3, which runs failed
rc=0
"$BIN" sim "$WORK/sweep.yaml" --quiet --jobs 2 --out "$WORK/sx" --set 'expect.hops_mean=< 0.5' \
    2>"$WORK/sx.err" || rc=$?
if [ "$rc" = 3 ] && grep -q "expectations failed in 10 of 10 runs: p0-s11 p0-s12 " "$WORK/sx.err" &&
    grep -q "^run p0-s11: expectation failed: hops_mean < 0.5 (measured " "$WORK/sx.err"; then
    pass "sweep with a failing expectation: exit 3: $(tail -1 "$WORK/sx.err")"
else
    fail "sweep expectation: exit $rc: $(head -c 400 "$WORK/sx.err")"
fi

# ---- --pcap: RELOAD that tshark decodes -------------------------------------------------------
rc=0
"$BIN" sim "$WORK/one.yaml" --quiet --out "$WORK/cap" --pcap "$WORK/cap.pcap" 2>"$WORK/cap.err" ||
    rc=$?
if ! command -v tshark >/dev/null; then
    fail "--pcap: tshark is not installed"
elif [ "$rc" = 0 ] && [ -s "$WORK/cap.pcap" ]; then
    frames=$(tshark -r "$WORK/cap.pcap" -Y reload 2>/dev/null | wc -l)
    pings=$(tshark -r "$WORK/cap.pcap" -Y reload 2>/dev/null | grep -c 'Ping Request')
    if [ "$frames" -gt 0 ] && [ "$pings" -ge 60 ]; then
        pass "--pcap: tshark decodes $frames RELOAD frames ($pings Ping requests)"
    else
        fail "--pcap: tshark found $frames RELOAD frames, $pings Ping requests"
    fi
else
    fail "--pcap: exit $rc ($(head -c 300 "$WORK/cap.err"))"
fi

# ---- progress: only on a terminal, cleared at the end -----------------------------------------
rc=0
"$BIN" sim "$WORK/one.yaml" --out "$WORK/pr" >/dev/null 2>"$WORK/pr.err" || rc=$?
[ "$rc" = 0 ] && [ ! -s "$WORK/pr.err" ] && pass "no progress when stderr is not a terminal" ||
    fail "progress off a terminal: exit $rc, stderr '$(head -c 200 "$WORK/pr.err")'"
if command -v script >/dev/null; then
    script -qec "'$BIN' sim '$WORK/one.yaml' --set peers=2000 --set workload.lookups=20000 \
        --set workload.lookup_rate=500/s --set duration=60s --out '$WORK/tty' >/dev/null" \
        "$WORK/tty.txt" >/dev/null 2>&1
    text=$(cat "$WORK/tty.txt")
    after=${text##*events/s} # what follows the last progress line: \r, blanks, \r
    shown=$(grep -o 'events/s' "$WORK/tty.txt" | wc -l)
    if [ ! -f "$WORK/tty/summary.tsv" ]; then
        fail "on a terminal: the run failed: $(tail -c 300 "$WORK/tty.txt")"
    elif [ "$shown" = 0 ]; then
        pass "on a terminal: the run was too quick for a progress line"
    elif [[ "$after" =~ $'\r'\ +$'\r' ]]; then
        pass "on a terminal: progress line shown $shown times, cleared at the end"
    else
        fail "on a terminal: progress line not cleared: $(tail -c 200 "$WORK/tty.txt" | cat -A)"
    fi
fi

if [ "$FAILS" -gt 0 ]; then
    echo "t_sweep.sh: $FAILS check(s) failed"
    exit 1
fi
echo "t_sweep.sh: all checks passed"
