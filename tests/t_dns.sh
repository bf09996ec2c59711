#!/usr/bin/env bash
# t_dns.sh — SIP between an overlay and ordinary SIP (seed draft §2, §5.6, §6.3; RFC 3263;
# docs/sip.md, "Out of the overlay" and "In from outside").  A local DNS server (dnsmasq on
# 127.0.0.1, a high port, no upstream) holds the records of a classic SIP domain:
#     classic.test        NAPTR 10 10 "S" "SIP+D2U" "" _sip._udp.classic.test
#     _sip._udp.classic.test  SRV 0 10 UAS_PORT uas.classic.test
#     uas.classic.test    A 127.0.0.1
#     _sip._udp.srvonly.test  SRV 0 10 UAS2_PORT uas.classic.test     (no NAPTR)
# Two peers of overlay p2p.test run with --sip and --dns 127.0.0.1:DNS_PORT.
#   out: alice's phone (SIPp UAC) registers at peer B as alice@p2p.test and calls
#        carol@classic.test CALLS times: B finds the SIPp UAS by NAPTR → SRV → A and proxies
#        every call there (INVITE, 180, 200, ACK, BYE through B); then 5 calls to
#        dave@srvonly.test (SRV without NAPTR), and a call to nobody@nowhere.test gets 502;
#   in:  bob's phone registers at peer A as bob@p2p.test; a classic phone outside the overlay
#        (SIPp UAC, registered nowhere) sends CALLS calls for bob@p2p.test to peer B, which
#        looks bob up in the overlay and proxies them in to peer A and bob.
#   both: pat's phone registers with kamailio (a classic registrar, found through DNS) as
#        pat@kamailio.test and in the overlay as pat@p2p.test, and is reached both ways: from
#        the overlay through kamailio, and from outside through the overlay (skipped without
#        kamailio).
# Every call must complete on both sides, ACK and BYE included, with 0 failures.  Skips (exit
# 0, with a message) when dnsmasq or SIPp is missing and cannot be installed.  About 15 s.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
SIPP=${SIPP:-sipp}
DNSMASQ=${DNSMASQ:-dnsmasq}
SCEN=tests/sipp
HOST=127.0.0.1
DOMAIN=p2p.test
CALLS=${DNS_CALLS:-20}
JOIN_WAIT_S=10

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in "$DNSMASQ:dnsmasq-base" "$SIPP:sip-tester"; do
    cmd=${tool%%:*} pkg=${tool##*:}
    command -v "$cmd" >/dev/null && continue
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1
    fi
    command -v "$cmd" >/dev/null || {
        echo "t_dns.sh: SKIPPED: $cmd is not installed (as root: apt-get install -y $pkg)"
        exit 0
    }
done
[ -x "$DNSMASQ" ] || DNSMASQ=$(command -v "$DNSMASQ")

test_begin t_dns

BASE=$(pick_base_port 14) || abort "no free UDP port range on $HOST"
DNS_PORT=$BASE A=$((BASE + 1)) A_SIP=$((BASE + 2)) B=$((BASE + 3)) B_SIP=$((BASE + 4))
UAS=$((BASE + 5)) UAS2=$((BASE + 6)) ALICE=$((BASE + 7)) BOB=$((BASE + 8))
OUTSIDE=$((BASE + 9)) FAIL=$((BASE + 10)) KAM=$((BASE + 11)) PAT=$((BASE + 12))
echo "t_dns.sh: ports $BASE..$((BASE + 13)) on $HOST, files in $WORK"

# ---- 1. the DNS server -----------------------------------------------------------------------
"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --port="$DNS_PORT" \
    --listen-address="$HOST" --bind-interfaces --no-resolv --no-hosts --no-negcache \
    --pid-file="$WORK/dnsmasq.pid" --log-queries --log-facility=- \
    --naptr-record='classic.test,10,10,S,SIP+D2U,,_sip._udp.classic.test' \
    --srv-host="_sip._udp.classic.test,uas.classic.test,$UAS,0,10" \
    --srv-host="_sip._udp.srvonly.test,uas.classic.test,$UAS2,0,10" \
    --srv-host="_sip._udp.kamailio.test,kam.classic.test,$KAM,0,10" \
    --host-record=uas.classic.test,127.0.0.1 --host-record=kam.classic.test,127.0.0.1 \
    >"$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)
DNS_PID=$!
wait_line "$WORK/dnsmasq.log" "started, version" 5 $DNS_PID ||
    abort "dnsmasq did not start on $HOST:$DNS_PORT"
pass "dnsmasq serves classic.test (NAPTR, SRV, A) on $HOST:$DNS_PORT"

# ---- 2. two peers of p2p.test with SIP and the DNS locator ----------------------------------
start_peer A peer --listen "$HOST:$A" --overlay $DOMAIN --sip "$HOST:$A_SIP" \
    --dns "$HOST:$DNS_PORT"
A_PID=$PEER_PID
wait_joined A $A_PID || abort "peer A did not start the overlay"
start_peer B peer --listen "$HOST:$B" --overlay $DOMAIN --bootstrap "$HOST:$A" \
    --sip "$HOST:$B_SIP" --dns "$HOST:$DNS_PORT"
B_PID=$PEER_PID
wait_joined B $B_PID || abort "peer B did not join"
pass "peers A and B of $DOMAIN joined, SIP on :$A_SIP and :$B_SIP"
sleep 1

# sipp_run NAME ARGS...: one SIPp run in its own directory $WORK/NAME (its screen and error
# logs), output in $WORK/NAME.out; returns SIPp's exit code (0: every call succeeded).
sipp_run() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && timeout 60 "$SIPP" -nostdin -trace_screen -trace_err "$@" \
        >"$WORK/$name.out" 2>&1)
}
calls_of() {
    local f
    f=$(ls "$WORK/$1"/*_screen.log 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "? ?"; return; }
    echo "$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); print $3}' "$f")" \
         "$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); print $3}' "$f")"
}
# calls NAME USER DOMAIN N CALLER_PORT CALLEE_PORT PEER_SIP_PORT: N calls, a UAS answering on
# CALLEE_PORT; checks both sides.
calls() {
    local name=$1 user=$2 domain=$3 n=$4 from=$5 to=$6 via=$7
    mkdir -p "$WORK/uas-$name"
    (cd "$WORK/uas-$name" && exec timeout 60 "$SIPP" -nostdin -trace_screen -trace_err \
        -sf "$OLDPWD/$SCEN/uas.xml" -m "$n" -p "$to" >"$WORK/uas-$name.out" 2>&1) &
    local uas=$!
    PIDS+=($uas)
    sleep 0.3
    sipp_run "uac-$name" -sf "$PWD/$SCEN/uac.xml" -s "$user" -key domain "$domain" -m "$n" \
        -r 20 -l 10 -p "$from" "$HOST:$via"
    local rc=$?
    wait_exit $uas 10
    wait $uas
    local urc=$?
    local ok failed uok ufailed
    read -r ok failed <<<"$(calls_of "uac-$name")"
    read -r uok ufailed <<<"$(calls_of "uas-$name")"
    echo "calls $name: caller $ok completed, $failed failed; callee $uok answered, $ufailed failed"
    if [ $rc = 0 ] && [ $urc = 0 ] && [ "$ok" = "$n" ] && [ "$failed" = 0 ] &&
        [ "$uok" = "$n" ] && [ "$ufailed" = 0 ]; then
        pass "$n calls to $user@$domain through :$via completed on both sides (ACK, BYE), 0 failed"
    else
        fail "calls to $user@$domain through :$via: caller exit $rc ($ok ok, $failed failed), " \
            "callee exit $urc ($uok ok, $ufailed failed)"
    fi
}

# ---- 3. out: a phone in the overlay calls a classic domain ----------------------------------
sipp_run reg-alice -sf "$PWD/$SCEN/register.xml" -s alice -key domain $DOMAIN \
    -key contact "sip:alice@$HOST:$ALICE" -key expires 3600 -m 1 -p "$ALICE" "$HOST:$B_SIP" ||
    abort "alice could not register at peer B"
calls out carol classic.test "$CALLS" "$ALICE" "$UAS" "$B_SIP"
grep -q "dns: classic.test -> $HOST:$UAS (NAPTR SIP+D2U, SRV, A)" "$WORK/B.log" &&
    pass "peer B found classic.test's server by NAPTR, SRV and A" ||
    fail "peer B did not log the NAPTR/SRV/A resolution of classic.test"
calls srvonly dave srvonly.test 5 "$ALICE" "$UAS2" "$B_SIP"
grep -q "dns: srvonly.test -> $HOST:$UAS2 (no NAPTR; SRV, A)" "$WORK/B.log" &&
    pass "without NAPTR, peer B used _sip._udp.srvonly.test's SRV" ||
    fail "peer B did not fall back to SRV for srvonly.test"
if sipp_run uac-502 -sf "$PWD/$SCEN/uac_502.xml" -s nobody -key domain nowhere.test -m 1 \
    -p "$FAIL" "$HOST:$B_SIP"; then
    pass "a call to nobody@nowhere.test (no NAPTR, SRV or A) gets 502"
else
    fail "a call to nobody@nowhere.test did not get 502"
fi

# ---- 4. in: a classic phone outside calls a user of the overlay ------------------------------
sipp_run reg-bob -sf "$PWD/$SCEN/register.xml" -s bob -key domain $DOMAIN \
    -key contact "sip:bob@$HOST:$BOB" -key expires 3600 -m 1 -p "$BOB" "$HOST:$A_SIP" ||
    abort "bob could not register at peer A"
calls in bob $DOMAIN "$CALLS" "$OUTSIDE" "$BOB" "$B_SIP"

# ---- 5. one phone registered with a classic registrar and in the overlay --------------------
# pat's phone (one UDP port) registers as pat@kamailio.test with kamailio, a classic registrar
# and proxy (tests/sipp/kamailio.cfg; found through DNS: _sip._udp.kamailio.test SRV), and as
# pat@p2p.test at peer A.  alice, in the overlay, calls pat@kamailio.test (out by DNS to
# kamailio, which relays to pat); a classic phone calls pat@p2p.test (into the overlay).
KAMAILIO=$(command -v kamailio)
KAM_PID=
stop_kamailio() { # TERM: kamailio's main process stops its children itself
    [ -n "$KAM_PID" ] || return 0
    kill -TERM "$KAM_PID" 2>/dev/null
    wait_exit "$KAM_PID" 5
    wait "$KAM_PID" 2>/dev/null
    KAM_PID=
}
if [ -z "$KAMAILIO" ]; then
    echo "t_dns.sh: part 5 SKIPPED: kamailio is not installed (apt-get install -y kamailio)"
else
    trap 'stop_kamailio; test_cleanup' EXIT
    mkdir -p "$WORK/kam"
    "$KAMAILIO" -DD -E -f "$PWD/$SCEN/kamailio.cfg" -l "udp:$HOST:$KAM" -n 1 -Y "$WORK/kam" \
        >"$WORK/kamailio.log" 2>&1 &
    KAM_PID=$!
    wait_line "$WORK/kamailio.log" 'Listening on' 10 $KAM_PID || abort "kamailio did not start"
    sleep 0.3
    sipp_run reg-pat-classic -sf "$PWD/$SCEN/register.xml" -s pat -key domain kamailio.test \
        -key contact "sip:pat@$HOST:$PAT" -key expires 3600 -m 1 -p "$PAT" "$HOST:$KAM" &&
        sipp_run reg-pat-overlay -sf "$PWD/$SCEN/register.xml" -s pat -key domain $DOMAIN \
            -key contact "sip:pat@$HOST:$PAT" -key expires 3600 -m 1 -p "$PAT" "$HOST:$A_SIP" ||
        abort "pat could not register with kamailio and at peer A"
    pass "pat's phone registered as pat@kamailio.test (kamailio) and pat@$DOMAIN (peer A)"
    calls pat-classic pat kamailio.test 10 "$ALICE" "$PAT" "$B_SIP"
    calls pat-overlay pat $DOMAIN 10 "$OUTSIDE" "$PAT" "$B_SIP"
    stop_kamailio
fi

# ---- 6. clean exit -------------------------------------------------------------------------
for pid in $A_PID $B_PID; do
    kill -TERM $pid 2>/dev/null
done
for pid in $A_PID $B_PID; do
    wait_exit $pid 5 || fail "peer $pid still running 5 s after SIGTERM"
    wait $pid || fail "peer $pid exited $? after SIGTERM"
done
grep -h "sip: received\|dns: searches" "$WORK"/[AB].log | sed 's/^.*\] /  /'

test_end
