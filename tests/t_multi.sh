#!/usr/bin/env bash
# t_multi.sh — one peer process in two overlays (seed draft §6.5; docs/sip.md, "Several
# overlays"): process M joins overlay a.test (its first overlay) and b.test (`--overlay
# b.test,listen=...`), each with its own Node-ID, storage and neighbours, and serves both SIP
# domains on one SIP socket.  Peer P1 is in a.test only, P2 in b.test only.
#
# Checks, end to end over UDP on 127.0.0.1:
#   - a value stored in each overlay is fetched through M's node of that overlay, and is not
#     found through M's node of the other one (separate storage);
#   - a client speaking a.test to M's b.test socket gets no answer, and M counts the dropped
#     messages ("other overlay N" in its b.test statistics);
#   - SIP: bob REGISTERs at M as bob@a.test, carol at M as carol@b.test; a call to bob through
#     P1 (a.test only) and a call to carol through P2 (b.test only) complete (INVITE, 200, ACK,
#     BYE), which they only can when M stored each registration in the overlay of its domain;
#     erin registers at P2 (b.test) and a call to erin@b.test sent to M completes (M looked it
#     up in b.test), while a call to erin@a.test sent to M gets 404.
# Needs SIPp (Debian sip-tester); about 15 s.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
SIPP=${SIPP:-sipp}
SCEN=tests/sipp
HOST=127.0.0.1
CALLS=${MULTI_CALLS:-10}
JOIN_WAIT_S=10

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_multi

command -v "$SIPP" >/dev/null ||
    abort "SIPp is not installed (Debian package sip-tester: apt-get install -y sip-tester)"

BASE=$(pick_base_port 16) || abort "no free UDP port range on $HOST"
M_A=$BASE M_B=$((BASE + 1)) M_SIP=$((BASE + 2))
P1=$((BASE + 3)) P1_SIP=$((BASE + 4)) P2=$((BASE + 5)) P2_SIP=$((BASE + 6))
BOB=$((BASE + 7)) CAROL=$((BASE + 8)) ERIN=$((BASE + 9)) CALLER=$((BASE + 10))
echo "t_multi.sh: ports $BASE..$((BASE + 15)) on $HOST, files in $WORK"

# ---- 1. M in a.test and b.test; P1 in a.test, P2 in b.test --------------------------------
"$BIN" peer --listen "$HOST:$M_A" --overlay "b.test,listen=$HOST:$M_B,colour=red" \
    >"$WORK/bad.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "unknown key 'colour'" "$WORK/bad.out"; then
    pass "a malformed --overlay specification exits 2 with the key named"
else
    fail "a malformed --overlay specification: exit $rc, $(head -c 200 "$WORK/bad.out")"
fi
start_peer M peer --listen "$HOST:$M_A" --overlay a.test --sip "$HOST:$M_SIP" \
    --overlay "b.test,listen=$HOST:$M_B"
M_PID=$PEER_PID
wait_line "$WORK/M.out" "^joined node-id=.* addr=$HOST:$M_B overlay=b.test\$" 10 $M_PID ||
    abort "M did not start overlay b.test"
wait_joined M $M_PID || abort "M did not start overlay a.test"
grep -q "^sip addr=$HOST:$M_SIP domain=b.test overlay=b.test\$" "$WORK/M.out" ||
    abort "M did not print its SIP address for b.test"
start_peer P1 peer --listen "$HOST:$P1" --overlay a.test --bootstrap "$HOST:$M_A" \
    --sip "$HOST:$P1_SIP"
P1_PID=$PEER_PID
start_peer P2 peer --listen "$HOST:$P2" --overlay b.test --bootstrap "$HOST:$M_B" \
    --sip "$HOST:$P2_SIP"
P2_PID=$PEER_PID
wait_joined P1 $P1_PID || abort "P1 did not join a.test through M"
wait_joined P2 $P2_PID || abort "P2 did not join b.test through M"
ida=$(sed -n 's/^listening node-id=\([0-9a-f]*\) .*overlay=a.test$/\1/p' "$WORK/M.out")
idb=$(sed -n 's/^listening node-id=\([0-9a-f]*\) .*overlay=b.test$/\1/p' "$WORK/M.out")
if [ -n "$ida" ] && [ -n "$idb" ] && [ "$ida" != "$idb" ]; then
    pass "M joined a.test and b.test with two Node-IDs; P1 joined a.test, P2 b.test, through M"
else
    fail "M's Node-IDs: a.test '$ida', b.test '$idb'"
fi
sleep 1

# ---- 2. a store and a fetch in each overlay ---------------------------------------------------
"$BIN" store --peer "$HOST:$P1" --overlay a.test color red >/dev/null 2>>"$WORK/client.log" &&
    "$BIN" store --peer "$HOST:$P2" --overlay b.test color blue >/dev/null 2>>"$WORK/client.log" ||
    fail "store through P1 (a.test) or P2 (b.test) failed"
va=$("$BIN" fetch --peer "$HOST:$M_A" --overlay a.test color 2>>"$WORK/client.log")
vb=$("$BIN" fetch --peer "$HOST:$M_B" --overlay b.test color 2>>"$WORK/client.log")
if [ "$va" = red ] && [ "$vb" = blue ]; then
    pass "each overlay keeps its own value: a.test color=red, b.test color=blue (fetched at M)"
else
    fail "fetched at M: a.test '$va' (want red), b.test '$vb' (want blue)"
fi
"$BIN" store --peer "$HOST:$P1" --overlay a.test only-a x >/dev/null 2>>"$WORK/client.log"
if "$BIN" fetch --peer "$HOST:$M_B" --overlay b.test only-a >/dev/null 2>>"$WORK/client.log"; then
    fail "a value stored in a.test was found in b.test"
else
    pass "a value stored in a.test is not found through M's b.test node"
fi
if "$BIN" fetch --peer "$HOST:$M_B" --overlay a.test color --timeout 2 >/dev/null \
    2>>"$WORK/client.log"; then
    fail "an a.test client got an answer from M's b.test socket"
else
    pass "an a.test client at M's b.test socket gets no answer"
fi

# ---- 3. SIP: a REGISTER and an INVITE per domain ---------------------------------------------
sipp_run() {
    local name=$1
    shift
    (cd "$WORK" && timeout 60 "$SIPP" -nostdin -trace_screen -trace_err "$@" \
        >"$WORK/$name.out" 2>&1)
}
# register USER DOMAIN PORT PEER_SIP_PORT
register() {
    sipp_run "reg-$1" -sf "$PWD/$SCEN/register.xml" -s "$1" -key domain "$2" \
        -key contact "sip:$1@$HOST:$3" -key expires 3600 -m 1 -p "$3" "$HOST:$4"
}
# call NAME USER DOMAIN CALLEE_PORT PEER_SIP_PORT: CALLS calls, answered by a UAS on CALLEE_PORT.
call() {
    local name=$1 user=$2 domain=$3 port=$4 via=$5
    (cd "$WORK" && exec timeout 60 "$SIPP" -nostdin -trace_screen -trace_err \
        -sf "$OLDPWD/$SCEN/uas.xml" -m "$CALLS" -p "$port" >"$WORK/uas-$name.out" 2>&1) &
    local uas=$!
    PIDS+=($uas)
    sleep 0.3
    sipp_run "uac-$name" -sf "$PWD/$SCEN/uac.xml" -s "$user" -key domain "$domain" \
        -m "$CALLS" -r 20 -l 10 -p "$CALLER" "$HOST:$via"
    local rc=$?
    wait_exit $uas 10
    wait $uas
    local urc=$?
    if [ $rc = 0 ] && [ $urc = 0 ]; then
        pass "$CALLS calls to $user@$domain through $HOST:$via completed on both sides (ACK, BYE)"
    else
        fail "calls to $user@$domain through $HOST:$via: caller exit $rc, callee exit $urc"
    fi
}
register bob a.test $BOB $M_SIP || abort "bob@a.test could not register at M"
register carol b.test $CAROL $M_SIP || abort "carol@b.test could not register at M"
register erin b.test $ERIN $P2_SIP || abort "erin@b.test could not register at P2"
pass "bob@a.test and carol@b.test registered at M, erin@b.test at P2"
call bob bob a.test $BOB $P1_SIP     # P1 knows a.test only: finds bob's registration by M
call carol carol b.test $CAROL $P2_SIP # P2 knows b.test only
call erin erin b.test $ERIN $M_SIP   # M looks erin up in b.test
if sipp_run uac-404 -sf "$PWD/$SCEN/uac_404.xml" -s erin -key domain a.test -m 1 \
    -p "$CALLER" "$HOST:$M_SIP"; then
    pass "a call to erin@a.test at M gets 404 (erin is registered in b.test only)"
else
    fail "a call to erin@a.test at M did not get 404"
fi

# ---- 4. clean exit; M's counters ----------------------------------------------------------
for pid in $M_PID $P1_PID $P2_PID; do
    kill -TERM $pid 2>/dev/null
done
for pid in $M_PID $P1_PID $P2_PID; do
    wait_exit $pid 5 || fail "peer $pid still running 5 s after SIGTERM"
    wait $pid || fail "peer $pid exited $? after SIGTERM"
done
other=$(sed -n 's/.*stats: overlay b.test: .*other overlay \([0-9]*\),.*/\1/p' "$WORK/M.log")
if [ "${other:-0}" -ge 1 ]; then
    pass "M's b.test node counted and dropped $other messages of another overlay"
else
    fail "M's b.test node counted no message of another overlay ('$other')"
fi
grep -q "b.test\] sip: received [1-9].*registers ok 1 " "$WORK/M.log" &&
    grep -q "127.0.0.1:$M_A\] sip: received [1-9].*registers ok 1 " "$WORK/M.log" ||
    fail "M's two SIP adapters did not each take one REGISTER"
grep -h "sip: received\|other overlay" "$WORK/M.log" | sed 's/^.*\] /  /'

test_end
