#!/usr/bin/env bash
# t_sipp.sh — SIP interop test: real SIP user agents (SIPp, Debian package sip-tester) use three
# `p2psip peer --sip` processes on 127.0.0.1 as their proxy/registrar (seed draft §5.5–5.6,
# RFC 7904, docs/sip.md).  bob's phone registers at peer A (REGISTER, RFC 3261 §10), a caller
# at peer C calls bob CALLS times: each INVITE is looked up in the overlay by peer C, proxied
# to peer A (AppAttach, RFC 6940 §6.5.2) and on to bob; 180/200 come back along the Vias, and
# ACK and BYE follow the Record-Routes.  Every call must complete, with 0 failures on both
# sides.  Then bob unregisters (Expires: 0) and a call gets 404.
#
# SIPp cannot register and then serve calls from one scenario run, so bob is two SIPp runs on
# the same UDP port: tests/sipp/register.xml (one REGISTER, then exit), then tests/sipp/uas.xml
# (answers CALLS calls).  The peer sends bob's calls to the address the REGISTER came from,
# which is that port.  The caller is tests/sipp/uac.xml; the last call tests/sipp/uac_404.xml.
#
# The peers hold credentials (docs/security.md): an overlay CA and one user per peer made by
# `p2psip ca init/enroll`, so every RELOAD message between them is signed and verified;
# SIPP_SECURE=0 runs them without.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Every wait is
# bounded; an EXIT trap kills whatever this script started.  Prints PASS/FAIL per check and a
# "calls: ..." line with the measured completion; exits non-zero on any failure, after dumping
# the logs.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
SIPP=${SIPP:-sipp}
SCEN=tests/sipp
HOST=127.0.0.1
DOMAIN=p2psip.example
CALLS=${SIPP_CALLS:-100}
RATE=${SIPP_RATE:-50}  # calls started per second
LIMIT=${SIPP_LIMIT:-30} # simultaneous calls at most
JOIN_WAIT_S=10
EXIT_WAIT_S=5
SECURE=${SIPP_SECURE:-1}

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_sipp

command -v "$SIPP" >/dev/null ||
    abort "SIPp is not installed (Debian package sip-tester: apt-get install -y sip-tester)"

# Ten free UDP ports in a row: 3 RELOAD, 3 SIP, 4 for SIPp.
BASE=$(pick_base_port 10) || abort "no free UDP port range on $HOST"
reload_port() { echo $((BASE + $1)); }    # peer 0 (A), 1 (B), 2 (C)
sip_port() { echo $((BASE + 3 + $1)); }
BOB_PORT=$((BASE + 6))
ALICE_PORT=$((BASE + 7))
UNREG_PORT=$((BASE + 8))
CALL404_PORT=$((BASE + 9))
NAMES=(A B C)
echo "t_sipp.sh: peers on $HOST:$BASE..$((BASE + 5)), bob on $BOB_PORT, files in $WORK"

# ---- 1. three peers with SIP --------------------------------------------------------------
if [ "$SECURE" = 1 ]; then
    make_ca "$WORK/ca" "$DOMAIN" peerA peerB peerC ||
        abort "p2psip ca init/enroll failed: $(tail -n 2 "$WORK/ca.log")"
fi
for i in 0 1 2; do
    args=(peer --listen "$HOST:$(reload_port $i)" --sip "$HOST:$(sip_port $i)"
          --sip-domain "$DOMAIN")
    [ "$SECURE" = 1 ] && args+=(--key "$WORK/ca/peer${NAMES[$i]}.key"
        --cert "$WORK/ca/peer${NAMES[$i]}.pem" --ca "$WORK/ca/ca.pem")
    [ $i -gt 0 ] && args+=(--bootstrap "$HOST:$(reload_port 0)")
    start_peer "peer${NAMES[$i]}" "${args[@]}"
    wait_joined "peer${NAMES[$i]}" "$PEER_PID" ||
        abort "peer ${NAMES[$i]} did not join within ${JOIN_WAIT_S}s"
    grep -q "^sip addr=$HOST:$(sip_port $i) domain=$DOMAIN\$" "$WORK/peer${NAMES[$i]}.out" ||
        abort "peer ${NAMES[$i]} did not print its SIP address"
done
pass "peers A, B, C joined$([ "$SECURE" = 1 ] && echo ' with credentials'), SIP on $HOST:$(sip_port 0), :$(sip_port 1), :$(sip_port 2)"
sleep 1 # the first stabilization rounds fill in replicas

# sipp NAME ARGS...: runs SIPp in the background-less mode, output in $WORK/NAME.*; returns its
# exit code (0: every call succeeded).
sipp_run() {
    local name=$1
    shift
    (cd "$WORK" && timeout 60 "$SIPP" -nostdin -trace_screen -trace_err "$@" \
        >"$WORK/$name.out" 2>&1)
}

# Successful and failed call counts from a SIPp screen dump.
calls_of() {
    local f
    f=$(ls "$WORK"/$1_*_screen.log 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "? ?"; return; }
    echo "$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$f")" \
         "$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$f")"
}

# ---- 2. bob registers at peer A ---------------------------------------------------------------
if sipp_run register -sf "$PWD/$SCEN/register.xml" -s bob -key domain "$DOMAIN" \
    -key contact "sip:bob@$HOST:$BOB_PORT" -key expires 3600 -m 1 -p "$BOB_PORT" \
    "$HOST:$(sip_port 0)"; then
    pass "bob registered at peer A (REGISTER answered 200)"
else
    abort "bob's REGISTER at peer A failed"
fi

# ---- 3. CALLS calls from peer C to bob --------------------------------------------------------
(cd "$WORK" && exec timeout 60 "$SIPP" -nostdin -trace_screen -trace_err \
    -sf "$OLDPWD/$SCEN/uas.xml" -m "$CALLS" -p "$BOB_PORT" >"$WORK/uas.out" 2>&1) &
UAS=$!
PIDS+=($UAS)
sleep 0.5
t0=$(date +%s.%N)
sipp_run uac -sf "$PWD/$SCEN/uac.xml" -s bob -key domain "$DOMAIN" -m "$CALLS" -r "$RATE" \
    -l $LIMIT -p "$ALICE_PORT" "$HOST:$(sip_port 2)"
uac_rc=$?
t1=$(date +%s.%N)
read -r ok failed <<<"$(calls_of uac)"
rate=$(awk -v n="$ok" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (n + 0) / (b - a) }')
echo "calls: $ok completed, $failed failed, in $(awk -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%.2f", b - a }') s ($rate calls/s; sipp -r $RATE -l $LIMIT)"
if [ $uac_rc = 0 ] && [ "$ok" = "$CALLS" ] && [ "$failed" = 0 ]; then
    pass "caller: $ok of $CALLS calls through peer C completed (INVITE, 200, ACK, BYE), 0 failed"
else
    fail "caller: exit $uac_rc, $ok completed, $failed failed of $CALLS"
fi
for _ in $(seq 1 100); do
    kill -0 $UAS 2>/dev/null || break
    sleep 0.1
done
wait $UAS
uas_rc=$?
read -r ok failed <<<"$(calls_of uas)"
if [ $uas_rc = 0 ] && [ "$ok" = "$CALLS" ] && [ "$failed" = 0 ]; then
    pass "bob: $ok calls answered, each with its ACK and BYE, 0 failed"
else
    fail "bob: exit $uas_rc, $ok completed, $failed failed of $CALLS"
fi
for i in 0 2; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || fail "peer ${NAMES[$i]} died"
done

# ---- 4. bob unregisters; a call gets 404 ------------------------------------------------------
if sipp_run unregister -sf "$PWD/$SCEN/register.xml" -s bob -key domain "$DOMAIN" \
    -key contact "sip:bob@$HOST:$BOB_PORT" -key expires 0 -m 1 -p "$UNREG_PORT" \
    "$HOST:$(sip_port 0)"; then
    pass "bob unregistered (Expires: 0 answered 200)"
else
    fail "bob's unregistration failed"
fi
if sipp_run uac_404 -sf "$PWD/$SCEN/uac_404.xml" -s bob -key domain "$DOMAIN" -m 1 \
    -p "$CALL404_PORT" "$HOST:$(sip_port 2)"; then
    pass "a call to bob after the unregistration got 404 Not Found"
else
    fail "a call to bob after the unregistration did not get 404"
fi

# ---- 5. the peers leave cleanly ---------------------------------------------------------------
for i in 0 1 2; do
    kill -TERM "${PIDS[$i]}" 2>/dev/null
done
for i in 0 1 2; do
    pid=${PIDS[$i]}
    if ! wait_exit "$pid" $EXIT_WAIT_S; then
        fail "peer ${NAMES[$i]} still running ${EXIT_WAIT_S}s after SIGTERM"
        continue
    fi
    wait "$pid"
    rc=$?
    [ $rc = 0 ] || fail "peer ${NAMES[$i]} exited $rc after SIGTERM"
done
grep -h "sip: received" "$WORK"/peer*.log | sed 's/^.*\] /  /'
if [ "$SECURE" = 1 ]; then
    if [ "$(cat "$WORK"/peer[ABC].log | grep -c 'dropped signature 0, refused joins 0')" = 3 ]; then
        pass "every RELOAD message between the peers verified (no signature drops)"
    else
        fail "signature drops: $(grep -ho 'dropped signature [0-9]*, refused joins [0-9]*' "$WORK"/peer*.log | paste -sd ';')"
    fi
fi

test_end
