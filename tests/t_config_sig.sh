#!/usr/bin/env bash
# t_config_sig.sh — signed overlay configuration documents (RFC 6940 §11.1, sec/confsig.h;
# docs/config.md, "Signed configurations") with real peers over UDP on 127.0.0.1, and a
# further overlay of one peer process running with credentials of its own (seed draft §6.5).
#
#   1. `p2psip ca sign-config` signs a document whose <configuration-signer> lists the user
#      "signer"; `ca verify-config` accepts it and rejects a copy with one byte changed.
#   2. At start (`peer --config --key --cert`, the document's <root-cert> the trust anchor):
#      the signed document starts; a tampered copy, an unsigned one, one signed by a user the
#      CA enrolled but the document does not list, and one signed by another CA's user exit 2
#      naming the file, line and reason.
#   3. ConfigUpdate (§6.5.4): peers 1 and 2 follow sequence 1.  Peer 3 follows a newer
#      sequence 2 that it changed (another bootstrap node, itself added as a signer) and signed
#      with its own credential: peers 1 and 2 refuse it (the signer is not one the
#      configuration in force lists), log and count it, and keep sequence 1.  Peer 4 follows a
#      newer sequence 2 that "signer" signed: peers 1 and 2 adopt it.  (A document changed
#      after signing cannot be followed by any peer with a credential, so its push is tested on
#      the fake network instead: tests/test_config.c, "ConfigUpdate: a tampered ...".)
#   4. One process runs p2psip.example (--key/--cert) and b.example (`--overlay
#      b.example,listen=...,key=...,cert=...,ca=...`, another CA); a peer of b.example joins
#      through it, a credentialed client stores and fetches in b.example, an unsigned client
#      is refused there, and a b.example credential from the wrong CA exits 2.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Every wait is
# bounded; an EXIT trap kills whatever this script started.  About 10 seconds.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
HOST=127.0.0.1
JOIN_WAIT_S=10
CLIENT_TIMEOUT=5

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_config_sig
DUMP_EXT="out log err"

BASE=$(pick_base_port 8) || abort "no free UDP port range on $HOST"
port() { echo $((BASE + $1 - 1)); }
echo "t_config_sig.sh: peers on $HOST:$BASE..$((BASE + 7)), files in $WORK"

# ---- credentials ------------------------------------------------------------------------------
CA=$WORK/ca
{
    make_ca "$CA" p2psip.example signer peer1 peer2 peer3 peer4 m &&
        make_ca "$WORK/other" p2psip.example signer &&
        make_ca "$WORK/cab" b.example m-b p-b client-b
} || abort "p2psip ca init/enroll failed: $(tail -n 3 "$WORK/ca.log")"
node_of() { sed -n 's/^node-id: *//p' <("$BIN" ca show "$1"); }
SIGNER=$(node_of "$CA/signer.pem")
P3ID=$(node_of "$CA/peer3.pem")
ROOT=$(grep -v -- '-----' "$CA/ca.pem" | tr -d '\n')
cred() { echo --key "$CA/$1.key" --cert "$CA/$1.pem"; }

# doc SEQUENCE BOOTSTRAP_PORT SIGNERS...: an unsigned document of p2psip.example.
doc() {
    local seq=$1 bport=$2 s
    shift 2
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"'
    echo '         xmlns:chord="urn:ietf:params:xml:ns:p2p:config-chord">'
    echo "  <configuration instance-name=\"p2psip.example\" sequence=\"$seq\">"
    echo "    <root-cert>$ROOT</root-cert>"
    for s in "$@"; do echo "    <configuration-signer>$s</configuration-signer>"; done
    echo "    <bootstrap-node address=\"$HOST\" port=\"$bport\"/>"
    echo '    <chord:chord-update-interval>2</chord:chord-update-interval>'
    echo '  </configuration>'
    echo '</overlay>'
}
# sign IN OUT KEYDIR USER
sign() { "$BIN" ca sign-config --key "$3/$4.key" --cert "$3/$4.pem" "$1" >"$2" 2>>"$WORK/sign.err"; }

# ---- 1. sign-config and verify-config ---------------------------------------------------------
doc 1 "$(port 1)" "$SIGNER" >"$WORK/v1.xml"
sign "$WORK/v1.xml" "$WORK/signed1.xml" "$CA" signer || abort "sign-config failed: $(cat "$WORK/sign.err")"
sed 's/sequence="1"/sequence="7"/' "$WORK/signed1.xml" >"$WORK/tampered.xml"
if "$BIN" ca verify-config "$WORK/signed1.xml" --ca "$CA/ca.pem" >"$WORK/verify.out" &&
    grep -q "p2psip.example sequence 1: signed by node-id=$SIGNER (user signer): ok" "$WORK/verify.out" &&
    ! "$BIN" ca verify-config "$WORK/tampered.xml" --ca "$CA/ca.pem" >"$WORK/verify-bad.out"; then
    pass "sign-config signed the document; verify-config: $(cat "$WORK/verify.out")"
else
    fail "sign-config/verify-config: $(cat "$WORK/verify.out" "$WORK/verify-bad.out" "$WORK/sign.err" 2>/dev/null)"
fi
if [ "$(head -n 9 "$WORK/signed1.xml")" = "$(head -n 9 "$WORK/v1.xml")" ] &&
    grep -q '^  <signature>$' "$WORK/signed1.xml"; then
    pass "the signed document keeps the original bytes; a <signature> follows </configuration>"
else
    fail "the signed document changed the configuration's text"
fi

# ---- 2. what a peer refuses at start ---------------------------------------------------------
doc 1 "$(port 1)" "$SIGNER" >"$WORK/unsigned.xml"
sign "$WORK/v1.xml" "$WORK/unlisted.xml" "$CA" peer1
sign "$WORK/v1.xml" "$WORK/otherca.xml" "$WORK/other" signer
# refused NAME FILE PATTERN: peer --config FILE exits 2 with PATTERN on stderr.
refused() {
    # shellcheck disable=SC2046
    "$BIN" peer --listen "$HOST:0" --config "$2" $(cred peer2) >/dev/null 2>"$WORK/$1.err"
    local rc=$?
    if [ $rc = 2 ] && grep -q -- "$3" "$WORK/$1.err"; then
        pass "$1 document refused (exit 2): $(head -n 1 "$WORK/$1.err")"
    else
        fail "$1 document: exit $rc (expected 2), stderr: $(cat "$WORK/$1.err")"
    fi
}
refused tampered "$WORK/tampered.xml" \
    "tampered.xml:10:3: <signature>: the signature does not verify over the <configuration> at line 4"
refused unsigned "$WORK/unsigned.xml" "unsigned.xml:4:3: <configuration>: configuration 'p2psip.example' (sequence 1) is not signed"
refused unlisted "$WORK/unlisted.xml" "(user peer1) is not a <configuration-signer> of this configuration"
refused other-CA "$WORK/otherca.xml" "certificate not signed by the overlay CA"

# ---- 3. ConfigUpdate: a newer document changed and re-signed by a peer vs. the signer's -------
# shellcheck disable=SC2046
start_peer peer1 peer --listen "$HOST:$(port 1)" --config "$WORK/signed1.xml" $(cred peer1)
P1=$PEER_PID
wait_joined peer1 "$P1" || abort "peer 1 (signed sequence 1) did not start the overlay"
if grep -q "configuration $WORK/signed1.xml signed by node-id=$SIGNER (user signer)" "$WORK/peer1.log"; then
    pass "peer 1 started with the signed document (logged: signed by the listed signer)"
else
    fail "peer 1's log does not name the configuration's signer: $(grep security: "$WORK/peer1.log")"
fi
# shellcheck disable=SC2046
start_peer peer2 peer --listen "$HOST:$(port 2)" --config "$WORK/signed1.xml" $(cred peer2)
P2=$PEER_PID
wait_joined peer2 "$P2" || abort "peer 2 (signed sequence 1) did not join through peer 1"

# Peer 3's sequence 2: another bootstrap node, peer 3 listed as a signer, signed by peer 3.
doc 2 "$(port 3)" "$SIGNER" "$P3ID" >"$WORK/evil2.xml"
sign "$WORK/evil2.xml" "$WORK/evil2-signed.xml" "$CA" peer3
# shellcheck disable=SC2046
start_peer peer3 peer --listen "$HOST:$(port 3)" --config "$WORK/evil2-signed.xml" \
    --bootstrap "$HOST:$(port 1)" $(cred peer3)
P3=$PEER_PID
wait_joined peer3 "$P3" || fail "peer 3 did not join"
refusal="refused a configuration document received in a ConfigUpdate: ConfigUpdate:11:3: <signature>: the signer node-id=$P3ID (user peer3) is not a <configuration-signer> of the configuration in force (sequence 1)"
if wait_line "$WORK/peer1.log" "$refusal" 10 "$P1"; then
    pass "peer 1 refused peer 3's re-signed sequence 2: $(grep -o 'refused a configuration.*' "$WORK/peer1.log" | head -n 1)"
else
    fail "peer 1 did not refuse peer 3's document: $(grep -i config "$WORK/peer1.log" | tail -n 3)"
fi
sleep 1
if ! grep -q 'adopted configuration sequence' "$WORK"/peer[12].log; then
    pass "peers 1 and 2 kept sequence 1"
else
    fail "a peer adopted peer 3's document: $(grep -h 'adopted configuration' "$WORK"/peer[12].log)"
fi
stop_pid "$P3"

# The signer's sequence 2 (peer 4): adopted.
doc 2 "$(port 1)" "$SIGNER" >"$WORK/good2.xml"
sign "$WORK/good2.xml" "$WORK/good2-signed.xml" "$CA" signer
# shellcheck disable=SC2046
start_peer peer4 peer --listen "$HOST:$(port 4)" --config "$WORK/good2-signed.xml" $(cred peer4)
P4=$PEER_PID
wait_joined peer4 "$P4" || fail "peer 4 did not join"
if wait_line "$WORK/peer1.log" 'adopted configuration sequence 2' 10 "$P1" &&
    wait_line "$WORK/peer2.log" 'adopted configuration sequence 2' 10 "$P2" &&
    grep -q "ConfigUpdate: configuration sequence 2 signed by node-id=$SIGNER (user signer)" "$WORK/peer1.log"; then
    pass "peers 1 and 2 adopted the signer's sequence 2 through ConfigUpdate"
else
    fail "the signer's sequence 2 was not adopted: $(grep -ih config "$WORK"/peer[12].log | tail -n 4)"
fi
stop_pid "$P4"
stop_pid "$P2"
stop_pid "$P1"
if grep -q 'config updates 1 (sequence 2)' "$WORK/peer1.log"; then
    pass "peer 1's statistics: $(grep -o 'config updates [0-9]* (sequence [0-9]*)' "$WORK/peer1.log" | tail -n 1)"
else
    fail "peer 1's statistics: $(grep 'stats:' "$WORK/peer1.log" | tail -n 1)"
fi

# ---- 4. a further overlay with credentials of its own ------------------------------------------
CB=$WORK/cab
bspec() { echo "b.example,listen=$HOST:$(port 6),key=$1/$2.key,cert=$1/$2.pem,ca=$1/ca.pem"; }
# shellcheck disable=SC2046
"$BIN" peer --listen "$HOST:0" --overlay p2psip.example $(cred m) --ca "$CA/ca.pem" \
    --overlay "$(bspec "$CA" m)" >/dev/null 2>"$WORK/bad-b.err"
rc=$?
if [ $rc = 2 ] && grep -q "b.example.*a certificate of overlay p2psip.example, not b.example" "$WORK/bad-b.err"; then
    pass "a further overlay given another overlay's credential exits 2: $(grep -o 'a certificate of.*' "$WORK/bad-b.err")"
else
    fail "wrong credential for b.example: exit $rc, $(cat "$WORK/bad-b.err")"
fi
# shellcheck disable=SC2046
start_peer M peer --listen "$HOST:$(port 5)" --overlay p2psip.example $(cred m) --ca "$CA/ca.pem" \
    --overlay "$(bspec "$CB" m-b)"
PM=$PEER_PID
wait_line "$WORK/M.out" "^joined node-id=.* addr=$HOST:$(port 6) overlay=b.example\$" 10 "$PM" ||
    abort "M did not start b.example"
start_peer PB peer --listen "$HOST:$(port 7)" --overlay b.example --bootstrap "$HOST:$(port 6)" \
    --key "$CB/p-b.key" --cert "$CB/p-b.pem" --ca "$CB/ca.pem"
PPB=$PEER_PID
mb=$(node_of "$CB/m-b.pem")
if wait_joined PB "$PPB" && grep -q "^listening node-id=$mb addr=$HOST:$(port 6) overlay=b.example" "$WORK/M.out" &&
    grep -q 'security: credential of user m-b (overlay b.example)' "$WORK/M.log"; then
    pass "M runs b.example as its b.example certificate's Node-ID; a signed b.example peer joined through it"
else
    fail "b.example with credentials: $(cat "$WORK/M.out" "$WORK/PB.out")"
fi
sleep 1
bclient() {
    local name=$1
    shift
    timeout $((CLIENT_TIMEOUT + 5)) "$BIN" "$@" --overlay b.example --timeout $CLIENT_TIMEOUT \
        >"$WORK/$name.out" 2>"$WORK/$name.err"
}
if bclient store-b store --peer "$HOST:$(port 7)" --key "$CB/client-b.key" --cert "$CB/client-b.pem" \
    --ca "$CB/ca.pem" color blue &&
    bclient fetch-b fetch --peer "$HOST:$(port 6)" --key "$CB/client-b.key" --cert "$CB/client-b.pem" \
        --ca "$CB/ca.pem" color && [ "$(cat "$WORK/fetch-b.out")" = blue ]; then
    pass "a signed store in b.example through PB, fetched through M's b.example node: blue"
else
    fail "signed store/fetch in b.example: $(cat "$WORK"/store-b.err "$WORK"/fetch-b.err 2>/dev/null)"
fi
bclient store-b-unsigned store --peer "$HOST:$(port 6)" eve x
rc=$?
if [ $rc = 1 ] && grep -q 'refused by the overlay' "$WORK/store-b-unsigned.err"; then
    pass "an unsigned store in b.example is refused (exit 1)"
else
    fail "unsigned store in b.example: exit $rc, $(cat "$WORK/store-b-unsigned.err")"
fi
stop_pid "$PPB"
stop_pid "$PM"

test_end
