#!/usr/bin/env bash
# t_net.sh — end-to-end test of the real backend (net/): five `p2psip peer` processes speak
# RELOAD over UDP on 127.0.0.1 (RFC 6940 §10.5 join through a bootstrap peer, §7.4.1 Store and
# §7.4.2 Fetch from a client, §4.2), survive a malformed datagram, and leave cleanly on SIGTERM
# (§10.9).  Four more peers follow overlay configuration documents (§11.1, --config): two share
# one and store/fetch through it, its max-size is enforced by the storing peer, a peer with
# another overlay's document is ignored (its messages counted and dropped), and a peer with a
# newer document spreads it by ConfigUpdate (§6.5.4).
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Every wait is
# bounded; an EXIT trap kills whatever this script started.  Prints PASS/FAIL per check and
# exits non-zero on any failure, after dumping the peers' output and logs.
set -u

BIN=${P2PSIP_BIN:-./p2psip}  # override to test another build
NPEERS=5
NEXTRA=4          # peers 6..9 of section 6 (configuration documents)
HOST=127.0.0.1
JOIN_WAIT_S=10    # per peer, for its "joined" line
EXIT_WAIT_S=5     # per peer, after SIGTERM
CLIENT_TIMEOUT=8  # --timeout of store/fetch

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_net

# The peers' logs by index (60 lines each), then the clients' errors; replaces lib.sh's.
dump_logs() {
    for i in $(seq 1 $((NPEERS + NEXTRA))); do
        for f in "$WORK/peer$i.out" "$WORK/peer$i.log"; do
            [ -f "$f" ] || continue
            echo "---- $f"
            tail -n 60 "$f"
        done
    done
    for f in "$WORK"/client*.err; do
        [ -f "$f" ] || continue
        echo "---- $f"
        cat "$f"
    done
}

# Sends one datagram of the bytes in hex string $2 to UDP port $1.
send_hex() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[1], int(sys.argv[2])))' "$HOST" "$1" "$2"
    else
        printf '%s' "$2" | xxd -r -p >"/dev/udp/$HOST/$1"
    fi
}

random_hex() {
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

BASE=$(pick_base_port $((NPEERS + NEXTRA))) || abort "no free UDP port range on $HOST"
port() { echo $((BASE + $1 - 1)); }
echo "t_net.sh: $NPEERS peers on $HOST:$BASE..$((BASE + NPEERS - 1)), files in $WORK"

# ---- 1. five peers, each joining through the first ----------------------------------------
for i in $(seq 1 $NPEERS); do
    args=(peer --listen "$HOST:$(port "$i")" --update-interval 2)
    [ "$i" -gt 1 ] && args+=(--bootstrap "$HOST:$(port 1)")
    start_peer "peer$i" "${args[@]}"
    if wait_joined "peer$i" "$PEER_PID"; then
        pass "peer $i joined ($(grep '^joined' "$WORK/peer$i.out"))"
    else
        abort "peer $i did not print 'joined' within ${JOIN_WAIT_S}s"
    fi
done
# Let Updates settle the neighbour tables (the ring is correct before this, but replicas and
# fingers are filled in by the first rounds of stabilization).
sleep 1

# client NAME ARGS...: runs a store/fetch client, its stdout to $WORK/NAME.out, its stderr to
# $WORK/NAME.err, and returns its exit code.
client() {
    local name=$1
    shift
    timeout $((CLIENT_TIMEOUT + 5)) "$BIN" "$@" --timeout $CLIENT_TIMEOUT \
        >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# ---- 2. store through peer 2, fetch through peer 5 ----------------------------------------
VALUE='sip:alice@127.0.0.1'
if client client-store-alice store --peer "$HOST:$(port 2)" alice "$VALUE"; then
    pass "store alice through peer 2"
else
    fail "store alice through peer 2 (exit $?): $(cat "$WORK/client-store-alice.err")"
fi
client client-fetch-alice fetch --peer "$HOST:$(port 5)" alice
rc=$?
got=$(cat "$WORK/client-fetch-alice.out")
if [ $rc = 0 ] && [ "$got" = "$VALUE" ]; then
    pass "fetch alice through peer 5 printed '$got'"
else
    fail "fetch alice through peer 5: exit $rc, printed '$got', expected '$VALUE'"
fi

# ---- 3. an absent name is "not found", exit 1 ---------------------------------------------
client client-fetch-absent fetch --peer "$HOST:$(port 5)" "nobody-$RANDOM$RANDOM"
rc=$?
if [ $rc = 1 ] && [ ! -s "$WORK/client-fetch-absent.out" ]; then
    pass "fetch of an absent name exits 1"
else
    fail "fetch of an absent name: exit $rc (expected 1)," \
        "printed '$(cat "$WORK/client-fetch-absent.out")'"
fi

# ---- 4. usage errors exit 2 ---------------------------------------------------------------
"$BIN" fetch >/dev/null 2>&1
rc=$?
if [ $rc = 2 ]; then
    pass "fetch without arguments exits 2"
else
    fail "fetch without arguments: exit $rc (expected 2)"
fi

# ---- 5. malformed datagrams to peer 3 are dropped and counted; peer 3 still serves ---------
BAD=3
send_hex "$(port 3)" "$(random_hex 64)"                  # random bytes
send_hex "$(port 3)" "80$(random_hex 40)"                # a DATA frame with a random length
send_hex "$(port 3)" "800000000100002a$(random_hex 42)"  # a well-framed random message
DROP_RE='dropped malformed datagram from 127\.0\.0\.1:'
dropped=0
for _ in $(seq 1 30); do
    dropped=$(grep -c "$DROP_RE" "$WORK/peer3.log")
    [ "$dropped" -ge $BAD ] && break
    sleep 0.1
done
if [ "$dropped" -ge $BAD ]; then
    last=$(grep "$DROP_RE" "$WORK/peer3.log" | tail -n 1 | sed 's/.*dropped/dropped/')
    pass "peer 3 logged the $BAD malformed datagrams as dropped (last: $last)"
else
    fail "peer 3 logged $dropped of $BAD malformed datagrams as dropped"
fi
if kill -0 "${PIDS[2]}" 2>/dev/null; then pass "peer 3 still running"; else fail "peer 3 died"; fi
VALUE2='sip:bob@127.0.0.1'
if client client-store-bob store --peer "$HOST:$(port 3)" bob "$VALUE2" &&
    client client-fetch-bob fetch --peer "$HOST:$(port 3)" bob &&
    [ "$(cat "$WORK/client-fetch-bob.out")" = "$VALUE2" ]; then
    pass "store+fetch bob through peer 3 after the malformed datagrams"
else
    fail "store+fetch bob through peer 3: printed '$(cat "$WORK/client-fetch-bob.out" 2>/dev/null)'"
fi

# ---- 6. overlay configuration documents (--config; RFC 6940 §11.1, §6.5.4) -----------------
# overlay_doc NAME SEQUENCE: a document whose first bootstrap node is peer 6.
overlay_doc() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"
         xmlns:chord="urn:ietf:params:xml:ns:p2p:config-chord">
  <configuration instance-name="$1" sequence="$2">
    <topology-plugin>CHORD-RELOAD</topology-plugin>
    <bootstrap-node address="$HOST" port="$(port 6)"/>
    <chord:chord-update-interval>2</chord:chord-update-interval>
    <required-kinds>
      <kind-block>
        <kind id="0xf0000001">
          <data-model>SINGLE</data-model>
          <access-control>USER-MATCH</access-control>
          <max-count>1</max-count>
          <max-size>32</max-size>
        </kind>
      </kind-block>
    </required-kinds>
  </configuration>
</overlay>
EOF
}
overlay_doc t-net.example 3 >"$WORK/overlay.xml"
overlay_doc other.example 3 >"$WORK/other.xml"
overlay_doc t-net.example 4 >"$WORK/newer.xml"
sed 's/CHORD-RELOAD/PASTRY/' "$WORK/overlay.xml" >"$WORK/bad.xml"

# A document the peer cannot follow is a usage error naming the file, line and element.
"$BIN" peer --listen "$HOST:0" --config "$WORK/bad.xml" >/dev/null 2>"$WORK/bad.err"
rc=$?
if [ $rc = 2 ] && grep -q "bad.xml:5:5: <topology-plugin>: unknown topology 'PASTRY'" "$WORK/bad.err"; then
    pass "a document with an unknown topology is refused: $(head -n 1 "$WORK/bad.err")"
else
    fail "bad document: exit $rc (expected 2), stderr: $(cat "$WORK/bad.err")"
fi

# cfg_peer I DOC: starts peer I with --config DOC (joining through the document's bootstrap
# node, or starting the overlay when it is that node itself).
cfg_peer() { start_peer "peer$1" peer --listen "$HOST:$(port "$1")" --config "$2"; }
cfg_peer 6 "$WORK/overlay.xml"
P6=${PIDS[-1]}
wait_joined peer6 "$P6" ||
    abort "peer 6 (--config, the document's bootstrap node) did not start the overlay"
cfg_peer 7 "$WORK/overlay.xml"
P7=${PIDS[-1]}
if wait_joined peer7 "$P7"; then
    pass "peer 7 joined through the document's bootstrap node (peer 6)"
else
    abort "peer 7 (--config) did not join through the document's bootstrap node"
fi
VALUE3='sip:carol@127.0.0.1'
if client client-store-carol store --config "$WORK/overlay.xml" carol "$VALUE3" &&
    client client-fetch-carol fetch --config "$WORK/overlay.xml" --peer "$HOST:$(port 7)" carol &&
    [ "$(cat "$WORK/client-fetch-carol.out")" = "$VALUE3" ]; then
    pass "store through the document's bootstrap node, fetch through peer 7: '$VALUE3'"
else
    fail "store/fetch carol with --config: $(cat "$WORK"/client-*-carol.err 2>/dev/null)"
fi
# max-size 32: a client without the document sends 40 bytes; the storing peer refuses them.
BIG=$(printf 'x%.0s' $(seq 1 40))
client client-store-big store --overlay t-net.example --peer "$HOST:$(port 7)" big "$BIG"
rc=$?
if [ $rc = 1 ] && grep -q 'refused by the overlay' "$WORK/client-store-big.err"; then
    pass "a 40-byte value for a kind of max-size 32 is refused by the storing peer"
else
    fail "oversized store: exit $rc, stderr: $(cat "$WORK/client-store-big.err")"
fi
# Another overlay's document: peer 8 tries to join through peer 6, which drops its messages.
cfg_peer 8 "$WORK/other.xml"
P8=${PIDS[-1]}
if wait_line "$WORK/peer6.log" 'dropped a message for another overlay' 5 "$P6" &&
    ! grep -q '^joined' "$WORK/peer8.out"; then
    pass "peer 6 dropped peer 8's messages for another overlay; peer 8 did not join"
else
    fail "another overlay: peer 8 printed $(grep -c '^joined' "$WORK/peer8.out") joined lines;" \
        "peer 6 log: $(grep -i overlay "$WORK/peer6.log" | tail -n 2)"
fi
# A newer document (sequence 4): peer 9 pushes it to the peers it talks to.
cfg_peer 9 "$WORK/newer.xml"
P9=${PIDS[-1]}
wait_joined peer9 "$P9" || fail "peer 9 did not join"
if wait_line "$WORK/peer6.log" 'adopted configuration sequence 4' 10 "$P6" &&
    wait_line "$WORK/peer7.log" 'adopted configuration sequence 4' 10 "$P7"; then
    pass "peers 6 and 7 adopted sequence 4 through ConfigUpdate"
else
    fail "ConfigUpdate: peers 6 and 7 did not log 'adopted configuration sequence 4'"
fi
# Their final statistics count the other overlay's messages and the adopted update.
for pid in $P6 $P7 $P8 $P9; do kill -TERM "$pid" 2>/dev/null; done
for pid in $P6 $P7 $P8 $P9; do wait_exit "$pid" $EXIT_WAIT_S; done
stats6=$(grep 'stats:' "$WORK/peer6.log" | tail -n 1)
if echo "$stats6" | grep -Eq 'other overlay [1-9][0-9]*, .*config updates 1 \(sequence 4\)'; then
    pass "peer 6's statistics: $(echo "$stats6" | grep -Eo 'other overlay [0-9]+'),"\
" $(echo "$stats6" | grep -Eo 'config updates [0-9]+ \(sequence [0-9]+\)')"
else
    fail "peer 6's statistics do not count the drops and the update: $stats6"
fi

# ---- 7. SIGTERM: every peer leaves and exits 0 --------------------------------------------
for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
done
for i in $(seq 1 $NPEERS); do
    pid=${PIDS[$((i - 1))]}
    if ! wait_exit "$pid" $EXIT_WAIT_S; then
        fail "peer $i still running ${EXIT_WAIT_S}s after SIGTERM"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        continue
    fi
    wait "$pid"
    rc=$?
    if [ $rc = 0 ]; then
        pass "peer $i left and exited 0"
    else
        fail "peer $i exited $rc after SIGTERM"
    fi
done

test_end
