#!/usr/bin/env bash
# t_sim.sh — end-to-end checks of `p2psip sim` (sim/cli.c, sim/world.c): a seeded run is
# reproducible byte for byte, malformed scenarios fail with exit code 2 and a FILE:LINE:COLUMN
# message naming the key, and the CHORD-RELOAD ring (RFC 6940 §10) reproduces the path length
# of Stoica et al., SIGCOMM 2001, §6.3 (mean ≈ ½·log2 N) with every lookup correct; the
# services scenario (docs/services.md) is reproducible and finds live providers.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Prints
# PASS/FAIL per check; exits non-zero on any failure.  Takes well under a minute.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_sim   # pass/fail, $WORK; metric FILE NAME and stable FILE read summary.tsv
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
ROOT=$(pwd)

# ---- help -------------------------------------------------------------------------------------
if "$BIN" sim --help >"$WORK/help.txt" 2>&1 && grep -q 'Usage: p2psip sim' "$WORK/help.txt"; then
    pass "p2psip sim --help exits 0"
else
    fail "p2psip sim --help"
fi

# ---- determinism: the default demo twice ------------------------------------------------------
for run in a b; do
    "$BIN" sim scenarios/chord-static.yaml --quiet --out "$WORK/$run" 2>"$WORK/$run.err" ||
        fail "chord-static run $run exited $? ($(head -c 300 "$WORK/$run.err"))"
done
if [ -f "$WORK/a/summary.tsv" ] && [ -f "$WORK/b/summary.tsv" ]; then
    if diff <(stable "$WORK/a/summary.tsv") <(stable "$WORK/b/summary.tsv") >"$WORK/diff.txt"; then
        pass "chord-static: summary.tsv identical across runs (wall/memory rows aside)"
    else
        fail "chord-static: summary.tsv differs"; cat "$WORK/diff.txt"
    fi
    ea=$(metric "$WORK/a/summary.tsv" events); eb=$(metric "$WORK/b/summary.tsv" events)
    if [ -n "$ea" ] && [ "$ea" = "$eb" ] && [ "$ea" -gt 0 ]; then
        pass "chord-static: same event count ($ea)"
    else
        fail "chord-static: events '$ea' vs '$eb'"
    fi
    for f in scenario.yaml hops.tsv latency_cdf.tsv messages.tsv; do
        cmp -s "$WORK/a/$f" "$WORK/b/$f" || fail "chord-static: $f differs between runs"
    done
    succ=$(metric "$WORK/a/summary.tsv" lookup_success)
    look=$(metric "$WORK/a/summary.tsv" lookups)
    found=$(metric "$WORK/a/summary.tsv" fetches_found); fetches=$(metric "$WORK/a/summary.tsv" fetches)
    if [ "$succ" = "1.000000" ] && [ "$look" = "10000" ] && [ "$found" = "$fetches" ]; then
        pass "chord-static: $look lookups all correct, $found/$fetches fetches found"
    else
        fail "chord-static: lookups=$look lookup_success=$succ fetches_found=$found/$fetches"
    fi
    grep -q '"git_revision"' "$WORK/a/meta.json" && grep -q '"seed": 1,' "$WORK/a/meta.json" ||
        fail "chord-static: meta.json lacks seed or git_revision"
fi

# ---- the default results folder depends only on the inputs ------------------------------------
mkdir -p "$WORK/cwd"
for i in 1 2; do
    (cd "$WORK/cwd" && "$BIN" sim "$ROOT/scenarios/chord-static.yaml" --quiet --seed 9 \
        --set peers=50 --set workload.lookups=100 --set workload.fetches=10) ||
        fail "default folder run $i"
done
dirs=$(cd "$WORK/cwd" && ls -d results/chord-static/* 2>/dev/null)
if [ "$(echo "$dirs" | wc -w)" = 1 ] && [[ "$dirs" =~ ^results/chord-static/s9-[0-9a-f]{8}$ ]]; then
    pass "default folder $dirs reused for the same inputs"
else
    fail "default folder: got '$dirs'"
fi

# ---- golden scenarios: checked-in expected summaries (tests/golden/) ---------------------------
# P2PSIP_GOLDEN_UPDATE=1 rewrites the expected files instead (after an intended change).
for g in tests/golden/*.yaml; do
    name=$(basename "$g" .yaml)
    out="$WORK/golden-$name"
    if ! "$BIN" sim "$g" --quiet --out "$out" 2>"$out.err"; then
        fail "golden $name: exit $? ($(head -c 300 "$out.err"))"
        continue
    fi
    stable "$out/summary.tsv" >"$out/summary.stable.tsv"
    if [ "${P2PSIP_GOLDEN_UPDATE:-0}" = 1 ]; then
        cp "$out/summary.stable.tsv" "tests/golden/$name.summary.tsv"
        cp "$out/messages.tsv" "tests/golden/$name.messages.tsv"
        pass "golden $name: expected files rewritten"
        continue
    fi
    ok=1
    for f in summary messages; do
        got="$out/$f.tsv"
        [ "$f" = summary ] && got="$out/summary.stable.tsv"
        if ! diff "tests/golden/$name.$f.tsv" "$got" >"$out.$f.diff" 2>&1; then
            ok=0
            fail "golden $name: $f.tsv differs from tests/golden/$name.$f.tsv:"
            head -20 "$out.$f.diff"
        fi
    done
    [ "$ok" = 1 ] && pass "golden $name: summary.tsv and messages.tsv as expected"
done

# ---- malformed scenarios: exit 2, FILE:LINE:COLUMN and the key --------------------------------
# expect_error NAME KEY YAML-TEXT: KEY empty means only the position is required.
expect_error() {
    local name=$1 key=$2 f="$WORK/$1.yaml" rc=0
    printf '%s\n' "$3" >"$f"
    "$BIN" sim "$f" --quiet --out "$WORK/out-$name" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    local msg
    msg=$(cat "$WORK/$name.err")
    if [ "$rc" != 2 ]; then
        fail "$name: exit $rc, expected 2 ($msg)"
    elif ! grep -qE "$f:[0-9]+:[0-9]+" "$WORK/$name.err"; then
        fail "$name: no $f:LINE:COL in '$msg'"
    elif [ -n "$key" ] && ! grep -qF "$key" "$WORK/$name.err"; then
        fail "$name: message does not name '$key': '$msg'"
    elif [ "$(wc -l <"$WORK/$name.err")" -gt 2 ]; then
        fail "$name: expected one clear line, got: $msg"
    else
        pass "$name: exit 2: $msg"
    fi
}
GOOD='name: t
duration: 10s
peers: 8'
expect_error bad-yaml "" "$GOOD
overlay: [join, instant"
expect_error unknown-key "overlay.sucessors" "$GOOD
overlay:
  sucessors: 4"
expect_error wrong-type "peers" 'name: t
duration: 10s
peers: many'
expect_error negative-count "workload.lookups" "$GOOD
workload:
  lookups: -5"
expect_error bad-election "overlay.superpeer.election" "$GOOD
overlay:
  topology: superpeer
  superpeer: {election: strongest}"
expect_error capacity-unit "overlay.superpeer.capacity.scale" "$GOOD
overlay:
  superpeer:
    election: capacity
    capacity: {dist: pareto, shape: 2, scale: 5ms}"

rc=0
"$BIN" sim scenarios/chord-static.yaml --quiet --set peers=abc --out "$WORK/set" \
    2>"$WORK/set.err" || rc=$?
if [ "$rc" = 2 ] && grep -q -- "peers" "$WORK/set.err"; then
    pass "--set peers=abc: exit 2: $(cat "$WORK/set.err")"
else
    fail "--set peers=abc: exit $rc: $(cat "$WORK/set.err")"
fi
rc=0
"$BIN" sim scenarios/chord-static.yaml --no-such-option 2>"$WORK/opt.err" || rc=$?
[ "$rc" = 2 ] && pass "unknown option: exit 2" || fail "unknown option: exit $rc"
rc=0
"$BIN" sim "$WORK/missing.yaml" 2>"$WORK/missing.err" || rc=$?
[ "$rc" = 2 ] && pass "missing file: exit 2: $(cat "$WORK/missing.err")" ||
    fail "missing file: exit $rc"

# ---- path length, Stoica et al. §6.3: mean ≈ ½·log2 N, every lookup correct -----------------
for k in 8 9 10; do
    n=$((1 << k))
    out="$WORK/pl$k"
    if ! "$BIN" sim scenarios/chord-pathlength.yaml --quiet --set peers=$n \
        --set workload.lookups=2000 --set duration=8s --out "$out" 2>"$out.err"; then
        fail "path length k=$k: exit $? ($(head -c 300 "$out.err"))"
        continue
    fi
    hops=$(metric "$out/summary.tsv" hops_mean)
    succ=$(metric "$out/summary.tsv" lookup_success)
    if awk -v h="$hops" -v k="$k" -v s="$succ" \
        'BEGIN { e = k / 2; d = h - e; if (d < 0) d = -d; exit !(s == 1 && d <= 0.1 * e) }'; then
        pass "path length k=$k: hops_mean $hops vs ½·log2 N = $(awk -v k=$k 'BEGIN{print k/2}'), success $succ"
    else
        fail "path length k=$k: hops_mean $hops (want ½·log2 N = $(awk -v k=$k 'BEGIN{print k/2}') ± 10 %), success $succ"
    fi
done

# ---- services (docs/services.md): the shipped scenario, smaller, twice ------------------------
for run in a b; do
    "$BIN" sim scenarios/services/relay-lookup.yaml --quiet --set peers=300 \
        --out "$WORK/svc-$run" 2>"$WORK/svc-$run.err" ||
        fail "relay-lookup run $run exited $? ($(head -c 300 "$WORK/svc-$run.err"))"
done
if [ -f "$WORK/svc-a/summary.tsv" ] && [ -f "$WORK/svc-b/summary.tsv" ]; then
    if diff <(stable "$WORK/svc-a/summary.tsv") <(stable "$WORK/svc-b/summary.tsv") >/dev/null; then
        pass "relay-lookup: summary.tsv identical across runs"
    else
        fail "relay-lookup: summary.tsv differs between runs"
    fi
    n=$(metric "$WORK/svc-a/summary.tsv" service_lookups)
    succ=$(metric "$WORK/svc-a/summary.tsv" service_lookup_success)
    if [ -n "$n" ] && [ "$n" -gt 100 ] && awk -v s="$succ" 'BEGIN { exit !(s >= 0.95) }'; then
        pass "relay-lookup: $n service lookups, success $succ"
    else
        fail "relay-lookup: service_lookups '$n', service_lookup_success '$succ'"
    fi
fi

# ---- relay servers (docs/nat.md): every peer behind its own NAT, no peer public -------------
for t in chord superpeer; do
    "$BIN" sim scenarios/nat/nat-chord-own-relays.yaml --quiet --set peers=100 \
        --set overlay.topology=$t --set workload.lookups=1000 --set workload.fetches=100 \
        --out "$WORK/relays-$t" 2>"$WORK/relays-$t.err" ||
        fail "nat-chord-own-relays $t exited $? ($(head -c 300 "$WORK/relays-$t.err"))"
done
succ=$(metric "$WORK/relays-chord/summary.tsv" lookup_success)
if awk -v s="$succ" 'BEGIN { exit !(s >= 0.99) }' && ! [ -s "$WORK/relays-chord.err" ]; then
    pass "nat-chord-own-relays: chord lookup_success $succ, no warning"
else
    fail "nat-chord-own-relays: chord lookup_success '$succ', stderr: $(head -c 300 "$WORK/relays-chord.err")"
fi
sp=$(metric "$WORK/relays-superpeer/summary.tsv" superpeers_end)
if [ "$sp" = 0 ] && grep -q "no super-peer can be elected" "$WORK/relays-superpeer.err"; then
    pass "nat-chord-own-relays: superpeer superpeers_end 0, warned"
else
    fail "nat-chord-own-relays: superpeers_end '$sp', stderr: $(head -c 300 "$WORK/relays-superpeer.err")"
fi

# ---- relays from the directory, relay failover (docs/nat.md) -------------------------------
# Three relay peers crash at 12 s: with failover their clients move and lookups succeed;
# without, the peers that relied on them are lost.
for f in true false; do
    "$BIN" sim scenarios/nat/nat-relay-churn.yaml --quiet --set nat.relay_failover=$f \
        --out "$WORK/relay-churn-$f" 2>"$WORK/relay-churn-$f.err" ||
        fail "nat-relay-churn failover=$f exited $? ($(head -c 300 "$WORK/relay-churn-$f.err"))"
done
on=$(metric "$WORK/relay-churn-true/summary.tsv" lookup_success)
off=$(metric "$WORK/relay-churn-false/summary.tsv" lookup_success)
moved=$(metric "$WORK/relay-churn-true/summary.tsv" relay_failovers)
if awk -v a="$on" -v b="$off" -v m="$moved" 'BEGIN { exit !(a >= 0.99 && b < 0.97 && m > 0) }'; then
    pass "nat-relay-churn: lookup_success $on with failover ($moved failovers), $off without"
else
    fail "nat-relay-churn: lookup_success '$on' with failover ('$moved' failovers), '$off' without"
fi

if [ "$FAILS" -gt 0 ]; then
    echo "t_sim.sh: $FAILS check(s) failed"
    exit 1
fi
echo "t_sim.sh: all checks passed"
