#!/usr/bin/env bash
# t_netsec.sh — real peers with credentials (RFC 6940 §6.3.4 every message signed and
# verified, §11.3/§13.3 an overlay CA, §13.6.2 admission): `p2psip ca init/enroll` makes an
# overlay CA and users; three `p2psip peer --key --cert --ca` processes form an overlay over UDP
# on 127.0.0.1 and a credentialed client stores and fetches across them; a client without a
# credential is refused; a peer whose credential another CA signed cannot join, and the
# overlay logs the refusal with the reason; a peer probing remembered peers (--cache) signs its
# probes; a --config document's <root-cert> serves as the trust anchor; two self-signed peers
# (§11.3.1) form an overlay; bad credential options exit 2.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Every wait is
# bounded; an EXIT trap kills whatever this script started.  About 10 seconds.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
HOST=127.0.0.1
JOIN_WAIT_S=10
CLIENT_TIMEOUT=5

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_netsec
DUMP_EXT="out log err"

BASE=$(pick_base_port 7) || abort "no free UDP port range on $HOST"
port() { echo $((BASE + $1 - 1)); }
echo "t_netsec.sh: peers on $HOST:$BASE..$((BASE + 6)), files in $WORK"

# ---- credentials --------------------------------------------------------------------------
CA=$WORK/ca
OTHER=$WORK/other
{
    make_ca "$CA" p2psip.example peer1 peer2 peer3 peer4 client-store client-fetch &&
        make_ca "$OTHER" p2psip.example mallory &&
        "$BIN" ca self-sign --dir "$WORK/self" --user self1 &&
        "$BIN" ca self-sign --dir "$WORK/self" --user self2 &&
        "$BIN" ca self-sign --dir "$WORK/self" --user self3
} >"$WORK/ca.log" 2>&1 || abort "p2psip ca init/enroll failed: $(tail -n 3 "$WORK/ca.log")"
pass "an overlay CA, six users, another CA with one user, three self-signed users"
cred() { echo --key "$1/$2.key" --cert "$1/$2.pem" --ca "$1/ca.pem"; }

# ---- 1. three signed peers ------------------------------------------------------------------
for i in 1 2 3; do
    # shellcheck disable=SC2046
    args=(peer --listen "$HOST:$(port "$i")" --update-interval 2 $(cred "$CA" "peer$i"))
    [ "$i" -gt 1 ] && args+=(--bootstrap "$HOST:$(port 1)")
    start_peer "peer$i" "${args[@]}"
    eval "P$i=$PEER_PID"
    wait_joined "peer$i" "$PEER_PID" || abort "signed peer $i did not join within ${JOIN_WAIT_S}s"
done
want=$(sed -n 's/^node-id: *//p' <("$BIN" ca show "$CA/peer2.pem" --ca "$CA/ca.pem"))
if grep -q "^joined node-id=$want " "$WORK/peer2.out" &&
    grep -q 'security: credential of user peer2 .*trust anchor: --ca' "$WORK/peer2.log"; then
    pass "three signed peers joined; peer 2 runs as its certificate's Node-ID $want"
else
    fail "peer 2 does not run as its certificate's Node-ID $want: $(cat "$WORK/peer2.out")"
fi
sleep 1

client() {
    local name=$1
    shift
    timeout $((CLIENT_TIMEOUT + 5)) "$BIN" "$@" --timeout $CLIENT_TIMEOUT \
        >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# ---- 2. signed store and fetch across processes ---------------------------------------------
VALUE='sip:alice@127.0.0.1'
# shellcheck disable=SC2046
if client store-alice store --peer "$HOST:$(port 2)" $(cred "$CA" client-store) alice "$VALUE"; then
    pass "signed store of alice through peer 2"
else
    fail "signed store through peer 2: $(cat "$WORK/store-alice.err")"
fi
# shellcheck disable=SC2046
client fetch-alice fetch --peer "$HOST:$(port 3)" $(cred "$CA" client-fetch) alice
rc=$?
got=$(cat "$WORK/fetch-alice.out")
if [ $rc = 0 ] && [ "$got" = "$VALUE" ]; then
    pass "signed fetch through peer 3 printed '$got'"
else
    fail "signed fetch through peer 3: exit $rc, printed '$got': $(cat "$WORK/fetch-alice.err")"
fi

# in_logs PATTERN SECONDS: waits until one of the three peers' logs holds PATTERN (the final
# receiver verifies: whichever peer the message was routed to), and prints that line.
in_logs() {
    local _
    for _ in $(seq 1 $(($2 * 10))); do
        grep -h -- "$1" "$WORK"/peer[123].log 2>/dev/null | head -n 1 | grep . && return 0
        sleep 0.1
    done
    return 1
}

# ---- 3. a client without a credential is refused ------------------------------------------
# Peers forward without verifying; the responsible peer drops it and answers Error_Forbidden.
client store-unsigned store --peer "$HOST:$(port 2)" eve 'sip:eve@127.0.0.1'
rc=$?
if [ $rc = 1 ] && grep -q 'refused by the overlay' "$WORK/store-unsigned.err" &&
    line=$(in_logs 'dropped a message (code 0x0007 .*): unsigned' 3); then
    pass "an unsigned store is refused (exit 1); logged: ${line#*] }"
else
    fail "unsigned store: exit $rc, $(cat "$WORK/store-unsigned.err")"
fi
# shellcheck disable=SC2046
client fetch-eve fetch --peer "$HOST:$(port 3)" $(cred "$CA" client-fetch) eve
[ $? = 1 ] && pass "the refused value was not stored" || fail "the refused value was stored"

# ---- 4. a peer with another CA's credential cannot join ----------------------------------
# shellcheck disable=SC2046
start_peer mallory peer --listen "$HOST:$(port 4)" --bootstrap "$HOST:$(port 1)" \
    $(cred "$OTHER" mallory)
PM=$PEER_PID
mid=$(sed -n 's/^node-id: *//p' <("$BIN" ca show "$OTHER/mallory.pem" --ca "$OTHER/ca.pem"))
# Its join's first Attach goes through peer 1 to the peer responsible for its Node-ID.
if line=$(in_logs "refused an AttachReq from node-id=$mid: certificate not signed by the overlay CA" 6); then
    pass "the overlay refused the untrusted peer; logged: ${line#*] }"
else
    fail "no peer logged the refusal of $mid"
fi
sleep 2
if grep -q '^joined' "$WORK/mallory.out"; then
    fail "the peer with another CA's credential joined"
else
    pass "the peer with another CA's credential did not join"
fi
stop_pid "$PM"

# ---- 4b. remembered peers are probed with signed Pings (net/bootstrap.c) --------------------
printf '%s\n%s\n' "$HOST:$(port 2)" "$HOST:$(port 3)" >"$WORK/peer4.cache"
# shellcheck disable=SC2046
start_peer peer4 peer --listen "$HOST:$(port 5)" --cache "$WORK/peer4.cache" $(cred "$CA" peer4)
P4=$PEER_PID
if wait_joined peer4 "$P4" && grep -q '^bootstrap method=remembered' "$WORK/peer4.out"; then
    pass "a signed peer joined through a remembered peer it probed ($(grep '^bootstrap' "$WORK/peer4.out"))"
else
    fail "peer 4 did not join through its remembered peers: $(cat "$WORK/peer4.out")"
fi
stop_pid "$P4"

# ---- 4c. the configuration document's <root-cert> is the trust anchor ------------------------
# A certificate's PEM body is the base64 of its DER: what <root-cert> holds (RFC 6940 §11.1).
# With a CA as trust anchor the document must be signed by a <configuration-signer> (peer 1's
# user here; tests/t_config_sig.sh checks the refusals).
root=$(grep -v -- '-----' "$CA/ca.pem" | tr -d '\n')
signer=$(sed -n 's/^node-id: *//p' <("$BIN" ca show "$CA/peer1.pem"))
cat >"$WORK/overlay-unsigned.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base">
  <configuration instance-name="p2psip.example" sequence="1">
    <topology-plugin>CHORD-RELOAD</topology-plugin>
    <root-cert>$root</root-cert>
    <configuration-signer>$signer</configuration-signer>
    <bootstrap-node address="$HOST" port="$(port 1)"/>
  </configuration>
</overlay>
EOF
"$BIN" ca sign-config --key "$CA/peer1.key" --cert "$CA/peer1.pem" "$WORK/overlay-unsigned.xml" \
    >"$WORK/overlay.xml" 2>>"$WORK/ca.log" || fail "ca sign-config failed: $(tail -n 2 "$WORK/ca.log")"
start_peer peer5 peer --listen "$HOST:$(port 5)" --config "$WORK/overlay.xml" \
    --key "$CA/peer4.key" --cert "$CA/peer4.pem"
P5=$PEER_PID
if wait_joined peer5 "$P5" &&
    grep -q "trust anchor: the configuration's <root-cert>" "$WORK/peer5.log"; then
    pass "a peer trusting the document's <root-cert> joined the signed overlay"
else
    fail "peer 5 (--config with <root-cert>) did not join: $(tail -n 3 "$WORK/peer5.log")"
fi
stop_pid "$P5"

# ---- 4d. self-signed mode (§11.3.1): no CA, Node-IDs are hashes of the keys -----------------
start_peer self1 peer --listen "$HOST:$(port 6)" --key "$WORK/self/self1.key" \
    --cert "$WORK/self/self1.pem"
PS1=$PEER_PID
wait_joined self1 "$PS1" || abort "self-signed peer 1 did not start"
start_peer self2 peer --listen "$HOST:$(port 7)" --bootstrap "$HOST:$(port 6)" \
    --key "$WORK/self/self2.key" --cert "$WORK/self/self2.pem"
PS2=$PEER_PID
if wait_joined self2 "$PS2" && grep -q 'trust anchor: self-signed mode' "$WORK/self2.log" &&
    timeout 10 "$BIN" store --peer "$HOST:$(port 7)" --key "$WORK/self/self3.key" \
        --cert "$WORK/self/self3.pem" --timeout 5 selfie v >/dev/null 2>"$WORK/selfie.err"; then
    pass "two self-signed peers formed an overlay and a self-signed client stored through it"
else
    fail "self-signed mode: $(tail -n 3 "$WORK/self2.log") $(cat "$WORK/selfie.err" 2>/dev/null)"
fi
stop_pid "$PS2"
stop_pid "$PS1"

# ---- 5. bad credential options exit 2 -------------------------------------------------------
"$BIN" peer --listen "$HOST:0" --key "$CA/peer1.key" >/dev/null 2>"$WORK/bad1.err"
rc=$?
[ $rc = 2 ] && grep -q -- '--key and --cert go together' "$WORK/bad1.err" &&
    pass "--key without --cert exits 2" || fail "--key without --cert: exit $rc, $(cat "$WORK/bad1.err")"
"$BIN" peer --listen "$HOST:0" --key "$OTHER/mallory.key" --cert "$OTHER/mallory.pem" \
    --ca "$CA/ca.pem" >/dev/null 2>"$WORK/bad2.err"
rc=$?
[ $rc = 2 ] && grep -q 'not signed by the overlay CA' "$WORK/bad2.err" &&
    pass "a credential the --ca does not trust exits 2: $(head -n 1 "$WORK/bad2.err")" ||
    fail "untrusted own credential: exit $rc, $(cat "$WORK/bad2.err")"
"$BIN" peer --listen "$HOST:0" --key "$CA/peer1.key" --cert "$CA/peer2.pem" \
    --ca "$CA/ca.pem" >/dev/null 2>"$WORK/bad3.err"
rc=$?
[ $rc = 2 ] && pass "a key that is not the certificate's exits 2" ||
    fail "key/certificate mismatch: exit $rc, $(cat "$WORK/bad3.err")"
# shellcheck disable=SC2046
"$BIN" peer --listen "$HOST:0" --overlay other.example $(cred "$CA" peer1) >/dev/null 2>"$WORK/bad4.err"
rc=$?
[ $rc = 2 ] && grep -q 'a certificate of overlay p2psip.example, not other.example' "$WORK/bad4.err" &&
    pass "a credential of another overlay exits 2" ||
    fail "credential of another overlay: exit $rc, $(cat "$WORK/bad4.err")"
"$BIN" peer --help >"$WORK/help.txt" 2>&1
grep -q -- '--cert' "$WORK/help.txt" && grep -q -- '--ca' "$WORK/help.txt" &&
    pass "peer --help lists --key/--cert/--ca" || fail "peer --help lacks the credential options"

# ---- 6. clean exit; the counters -------------------------------------------------------------
for i in 1 2 3; do
    eval "pid=\$P$i"
    stop_pid "$pid"
done
if grep -q 'refused joins [1-9]' "$WORK"/peer[123].log && grep -q 'dropped signature [1-9]' "$WORK"/peer[123].log; then
    pass "stats at exit count the refusals: $(grep -ho 'dropped signature [0-9]*, refused joins [0-9]*' "$WORK"/peer[123].log | paste -sd ';')"
else
    fail "stats lines lack the refusals"
fi

test_end
