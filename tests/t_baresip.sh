#!/usr/bin/env bash
# t_baresip.sh — a real softphone through the overlay: two baresip user agents (Debian package
# baresip-core) use `p2psip peer --sip` processes as their outbound proxy and registrar (seed
# draft §5.5–5.6, RFC 7904, docs/sip.md).  bob registers at peer A and answers automatically;
# alice registers at peer C and calls sip:bob@DOMAIN.  Peer C looks bob up in the overlay and
# proxies the INVITE to peer A and on to bob; both phones must report the call established
# (200 OK and ACK went through) and then terminated (the BYE went through along the
# Record-Routes).  A call to a user nobody registered gets 404.  SIPp (t_sipp.sh) checks the same paths at volume; this checks that an
# ordinary phone's own SIP stack — its Via, Contact, Record-Route and SDP handling — works
# with our proxy.
#
# Media: each phone plays a generated 2-second file of silence (8 kHz, S16LE) as its source
# and writes what it hears to a file; the call ends when the source file ends.  RTP flows
# between the phones directly, not through the overlay.
#
# baresip opens its SIP port and, for TLS, the next one: the ports below are spaced by 2.
# Skips (exit 0 with a SKIP line) when baresip is not installed and cannot be, so that a
# machine without it still runs the rest of `make test`; the Makefile installs it.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
BARESIP=${BARESIP:-baresip}
HOST=127.0.0.1
DOMAIN=p2psip.example
JOIN_WAIT_S=10

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_baresip

if ! command -v "$BARESIP" >/dev/null; then
    echo "SKIP: baresip is not installed (Debian package baresip-core)"
    exit 0
fi
MODULES=${BARESIP_MODULES:-/usr/lib/baresip/modules}
[ -f "$MODULES/aufile.so" ] || abort "baresip's modules are not in $MODULES (set BARESIP_MODULES)"

# Ports: 3 RELOAD, 3 SIP, and 2 x 2 for the phones.
BASE=$(pick_base_port 10) || abort "no free UDP port range on $HOST"
reload_port() { echo $((BASE + $1)); }
sip_port() { echo $((BASE + 3 + $1)); }
BOB_PORT=$((BASE + 6))
ALICE_PORT=$((BASE + 8))
NAMES=(A B C)
echo "t_baresip.sh: peers on $HOST:$BASE.., phones on :$BOB_PORT and :$ALICE_PORT, files in $WORK"

for i in 0 1 2; do
    args=(peer --listen "$HOST:$(reload_port $i)" --sip "$HOST:$(sip_port $i)"
          --sip-domain "$DOMAIN")
    [ $i -gt 0 ] && args+=(--bootstrap "$HOST:$(reload_port 0)")
    start_peer "peer${NAMES[$i]}" "${args[@]}"
    wait_joined "peer${NAMES[$i]}" "$PEER_PID" ||
        abort "peer ${NAMES[$i]} did not join within ${JOIN_WAIT_S}s"
done
pass "peers A, B, C joined, SIP on $HOST:$(sip_port 0), :$(sip_port 1), :$(sip_port 2)"
sleep 1 # the first stabilization rounds fill in replicas

# 2 s of silence, 8 kHz mono S16LE: the only format baresip 1.0's aufile source reads.
python3 -c "
import sys, wave
w = wave.open(sys.argv[1], 'wb')
w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b'\x00\x00' * 16000)
w.close()" "$WORK/silence.wav" || abort "could not write the source audio file"

# phone NAME PORT PROXY_PORT [ACCOUNT_PARAMS]: writes the baresip configuration directory
# $WORK/NAME (one account, registered through the peer at PROXY_PORT).
phone() {
    local name=$1 port=$2 proxy=$3 extra=${4:-}
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name/config" <<EOF
poll_method		poll
sip_listen		$HOST:$port
audio_player		aufile,$WORK/$name-heard.wav
audio_source		aufile,$WORK/silence.wav
audio_alert		aufile,/dev/null
module_path		$MODULES
module			g711.so
module			aufile.so
module_app		account.so
module_app		menu.so
EOF
    echo "<sip:$name@$DOMAIN>;regint=60;outbound=\"sip:$HOST:$proxy\";audio_codecs=PCMU$extra" \
        >"$WORK/$name/accounts"
}
phone bob "$BOB_PORT" "$(sip_port 0)" ";answermode=auto"
phone alice "$ALICE_PORT" "$(sip_port 2)"

# bob: registers, answers, quits after 20 s at most (killed at exit anyway).
"$BARESIP" -f "$WORK/bob" -t 20 >"$WORK/bob.log" 2>&1 &
BOB_PID=$!
PIDS+=($BOB_PID)
wait_line "$WORK/bob.log" 'UDP/v4} 200 OK' 10 "$BOB_PID" ||
    abort "bob's baresip did not register at peer A"
pass "bob (baresip) registered at peer A: $(grep -m1 '200 OK' "$WORK/bob.log" | tr -d '\033')"

# alice: registers, dials bob; the call ends when her 2-s source file ends.
timeout 20 "$BARESIP" -f "$WORK/alice" -t 10 -e "/dial sip:bob@$DOMAIN" >"$WORK/alice.log" 2>&1
if grep -q 'Call established: sip:bob@' "$WORK/alice.log" &&
    grep -q 'Call established: sip:alice@' "$WORK/bob.log"; then
    pass "alice (baresip at peer C) called bob through the overlay: both report the call established"
else
    fail "the call was not established on both phones"
fi
if grep -q 'Call with sip:bob@.* terminated' "$WORK/alice.log" &&
    wait_line "$WORK/bob.log" 'Call with sip:alice@.* terminated' 5 "$BOB_PID"; then
    pass "the call ended on both phones (BYE through the Record-Routes)"
else
    fail "the call did not end on both phones"
fi

# A user nobody registered: peer C answers 404 and alice's phone says so.
timeout 10 "$BARESIP" -f "$WORK/alice" -t 3 -e "/dial sip:carol@$DOMAIN" >"$WORK/alice404.log" 2>&1
if grep -q 'carol@.*404 Not Found' "$WORK/alice404.log"; then
    pass "a call to carol, who never registered, got 404 Not Found"
else
    fail "a call to carol did not get 404"
fi

test_end
