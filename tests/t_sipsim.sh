#!/usr/bin/env bash
# t_sipsim.sh — end-to-end checks of SIP in the simulator (sim/sipua.c on sim/world.c, the
# proxy/registrar adapter of sip/ on every peer; docs/sip.md, "SIP in the simulator"): on a
# 100-peer overlay with a constant 50 ms one-way latency, every user registers, Poisson calls
# complete through the overlay for each topology (INVITE, 180, 200, ACK, BYE), the call setup
# latency is what the underlay and the overlay's hops explain (a Fetch and an AppAttach
# through the overlay, each about a lookup's round trip, then one round trip between the two
# peers, then the answer delay), a seeded run is reproducible byte for byte, a run without a
# sip: section has no SIP rows, and a bad sip key exits 2 naming it.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Prints
# PASS/FAIL per check; exits non-zero on any failure.  Takes a few seconds.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_sipsim

# awk-evaluated condition on numbers: check "EXPR" "message"
check() { if awk "BEGIN { exit !($1) }"; then pass "$2"; else fail "$2 ($1)"; fi; }

cat >"$WORK/sip100.yaml" <<'EOF'
name: sip-100
seed: 3
duration: 4m
peers: 100
overlay:
  join: instant
latency:
  model: constant
  ms: 50
workload:
  start: 30s
  lookups: 500
  lookup_rate: 5/s
sip:
  call_rate: 60/h
  answer_delay: 500ms
  call_duration: 20s
EOF

# ---- every topology: registrations, calls, hang-ups -----------------------------------------
for topo in chord bamboo superpeer; do
    out="$WORK/$topo"
    if ! "$BIN" sim "$WORK/sip100.yaml" --set overlay.topology=$topo --quiet --out "$out" \
        2>"$WORK/$topo.err"; then
        fail "$topo: run exited $? ($(head -c 300 "$WORK/$topo.err"))"
        continue
    fi
    s="$out/summary.tsv"
    reg=$(metric "$s" registrations_ok); calls=$(metric "$s" calls)
    done_=$(metric "$s" calls_completed); failed=$(metric "$s" calls_failed)
    ended=$(metric "$s" calls_ended); succ=$(metric "$s" call_success)
    check "$reg == 100 && $(metric "$s" registered_users_end) == 100" \
        "$topo: 100 users registered"
    # ~1.7 calls/s held 20 s: about 35 calls are still talking at the end.
    check "$calls >= 250 && $failed == 0 && $done_ + 2 >= $calls && $ended >= $done_ - 50 && \
        $(metric "$s" byes_failed) == 0" \
        "$topo: $done_/$calls calls set up (success $succ), $ended hung up, $failed failed"
    grep -q $'\tcall_success\t' "$out/timeseries.tsv" || fail "$topo: no call_success time series"
    [ -s "$out/call_setup_cdf.tsv" ] || fail "$topo: no call_setup_cdf.tsv"
    # Setup = ring (INVITE -> 180) + the 500 ms answer delay, with a constant latency exactly.
    setup=$(metric "$s" call_setup_ms_mean); ring=$(metric "$s" call_ring_ms_mean)
    min=$(awk 'NR == 2 { print $1 }' "$out/call_setup_cdf.tsv")
    check "$setup - $ring > 495 && $setup - $ring < 505 && $min >= 600" \
        "$topo: setup $setup ms = ring $ring ms + 500 ms answer delay; fastest $min ms"
    # Ring: at least the Fetch (a lookup's latency) plus one round trip between the peers.
    lat=$(metric "$s" latency_ms_mean)
    check "$ring >= $lat + 100" "$topo: ring $ring ms >= lookup $lat ms + 100 ms"
done

# Chord: the AppAttach is routed like the Fetch, so ring ~ 2 lookups + 1 round trip (cached
# AppAttach answers make it a little less).
s="$WORK/chord/summary.tsv"
if [ -f "$s" ]; then
    ring=$(metric "$s" call_ring_ms_mean); lat=$(metric "$s" latency_ms_mean)
    hops=$(metric "$s" hops_mean)
    check "$ring <= 2 * $lat + 100 + 10 && $lat >= 99 * $hops && $lat <= 101 * $hops" \
        "chord: ring $ring ms <= 2 x lookup ($lat ms = $hops hops x 100 ms) + 100 ms"
fi

# ---- determinism ----------------------------------------------------------------------------
if "$BIN" sim "$WORK/sip100.yaml" --set overlay.topology=chord --quiet --out "$WORK/again" \
    2>/dev/null && [ -f "$WORK/chord/summary.tsv" ]; then
    if diff <(stable "$WORK/chord/summary.tsv") <(stable "$WORK/again/summary.tsv") >/dev/null &&
        cmp -s "$WORK/chord/call_setup_cdf.tsv" "$WORK/again/call_setup_cdf.tsv" &&
        cmp -s "$WORK/chord/timeseries.tsv" "$WORK/again/timeseries.tsv"; then
        pass "chord: summary, call_setup_cdf and time series identical across runs"
    else
        fail "chord: runs differ"
    fi
else
    fail "chord: second run"
fi

# ---- no sip: section, no SIP --------------------------------------------------------------------
if "$BIN" sim scenarios/chord-static.yaml --quiet --set peers=50 --set workload.lookups=100 \
    --set workload.fetches=10 --out "$WORK/plain" 2>/dev/null; then
    if ! grep -qE '^(calls|sip_users)\b' "$WORK/plain/summary.tsv" &&
        [ ! -e "$WORK/plain/call_setup_cdf.tsv" ] && ! grep -q '^sip:' "$WORK/plain/scenario.yaml"; then
        pass "no sip: section: no SIP rows, no call_setup_cdf.tsv, none in scenario.yaml"
    else
        fail "a run without sip: has SIP output"
    fi
else
    fail "chord-static run"
fi

# ---- a bad sip key -------------------------------------------------------------------------------
"$BIN" sim "$WORK/sip100.yaml" --set sip.users_per_peer=0 --quiet --out "$WORK/bad" \
    2>"$WORK/bad.err"
rc=$?
if [ $rc = 2 ] && grep -q "sip.users_per_peer" "$WORK/bad.err"; then
    pass "sip.users_per_peer=0 exits 2 naming the key"
else
    fail "bad sip key: exit $rc, $(head -c 200 "$WORK/bad.err")"
fi

[ $FAILS = 0 ] && echo "t_sipsim.sh: all passed" || echo "t_sipsim.sh: $FAILS failed"
exit $((FAILS > 0))
