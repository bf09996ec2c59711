#!/usr/bin/env bash
# t_client.sh — a long-running RELOAD client (RFC 6940 §4.2; `p2psip peer --client`,
# docs/clients.md) against three real peers on 127.0.0.1, first without and then with
# credentials (§13: every message signed, the client enrolled by the overlay CA):
#   - the client attaches to peer 2 (then peer 3, --attach twice), learns its Node-ID by its
#     probe Ping (§4.2.1) and stores and fetches through it (commands on its stdin); a
#     short-lived `p2psip fetch` through peer 1 sees the value;
#   - no peer's routing table names the client (SIGUSR1 makes each peer log its table), while
#     the tables do name the other peers;
#   - peer 2 is killed (SIGKILL, no Leave): the client fails over to peer 3 within seconds and
#     stores and fetches again; still no routing table names the client;
#   - without credentials, with SIPp (Debian sip-tester; skipped when absent): the client is
#     also a SIP proxy/registrar (--sip).  bob's phone registers at the client, whose Store
#     puts the route [peer 2, client] (§4.2.1) under hash(bob); a call from a phone at peer 1
#     reaches bob through it (AppAttach along the route, then SIP to the client and on to
#     bob).  After the failover the client stores [peer 3, client] again, and a call through
#     peer 3 (which has no cached answer) reaches bob.
# Every wait is bounded; an EXIT trap kills whatever this script started.  About 25 seconds.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
HOST=127.0.0.1
JOIN_WAIT_S=10
WAIT_S=10

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_client
DUMP_EXT="out log err"

SIPP=${SIPP:-sipp}
SCEN=$PWD/tests/sipp
DOMAIN=p2psip.example
# Per round: 4 RELOAD ports, then (plain round) 3 SIP and 3 for SIPp.
BASE=$(pick_base_port 14) || abort "no free UDP port range on $HOST"
echo "t_client.sh: ports $HOST:$BASE..$((BASE + 13)), files in $WORK"

CA=$WORK/ca
make_ca "$CA" p2psip.example peer1 peer2 peer3 client fetcher || abort "p2psip ca init/enroll failed: $(tail -n 3 "$WORK/ca.log")"
cred() { echo --key "$CA/$1.key" --cert "$CA/$1.pem" --ca "$CA/ca.pem"; }

# node_id NAME: the Node-ID a process printed on its "listening" line.
node_id() { sed -n 's/^listening node-id=\([0-9a-f]*\) .*/\1/p' "$WORK/$1.out"; }

# send CMD: one command line to the client's stdin.
send() { echo "$*" >&3; }

# tables_name TAG ID PEER...: true when some listed peer's latest table dump names ID.
tables_name() {
    local tag=$1 id=$2 p
    shift 2
    for p in "$@"; do
        kill -USR1 "${PID[$p]}" 2>/dev/null
    done
    sleep 0.5
    for p in "$@"; do
        grep -q "table: node-id=$id " "$WORK/$tag-peer$p.log" && return 0
    done
    return 1
}

# sipp_run NAME ARGS...: one SIPp run in $WORK (60 s at most); its exit code.
sipp_run() {
    local name=$1
    shift
    (cd "$WORK" && timeout 60 "$SIPP" -nostdin -trace_screen -trace_err "$@" \
        >"$WORK/$name.out" 2>&1)
}

# round TAG FIRST_PORT SIGNED SIP: three peers, a client, store/fetch, failover; with SIP 1
# peers 1 and 3 and the client serve phones (SIP ports FIRST_PORT+4.., SIPp's after them).
round() {
    local tag=$1 base=$2 signed=$3 sip=$4 i args cid p2 p3 pc uas
    declare -gA PID
    port() { echo $((base + $1 - 1)); }
    sip_port() { echo $((base + 3 + $1)); } # 1, 3: peers 1 and 3; 4: the client
    BOB_PORT=$((base + 8)) ALICE_PORT=$((base + 9)) CAROL_PORT=$((base + 10))
    for i in 1 2 3; do
        args=(peer --listen "$HOST:$(port "$i")" --update-interval 2)
        [ "$sip" = 1 ] && [ "$i" != 2 ] && args+=(--sip "$HOST:$(sip_port "$i")" --sip-domain "$DOMAIN")
        # shellcheck disable=SC2046
        [ "$signed" = 1 ] && args+=($(cred "peer$i"))
        [ "$i" -gt 1 ] && args+=(--bootstrap "$HOST:$(port 1)")
        start_peer "$tag-peer$i" "${args[@]}"
        PID[$i]=$PEER_PID
        wait_joined "$tag-peer$i" "$PEER_PID" || abort "$tag: peer $i did not join"
    done
    sleep 2 # a few Updates: every peer knows the other two
    p2=$(node_id "$tag-peer2")
    p3=$(node_id "$tag-peer3")

    mkfifo "$WORK/$tag-client.in"
    args=(peer --client --listen "$HOST:$(port 4)" --attach "$HOST:$(port 2)"
        --attach "$HOST:$(port 3)" --keepalive 1)
    # shellcheck disable=SC2046
    [ "$signed" = 1 ] && args+=($(cred client))
    [ "$sip" = 1 ] && args+=(--sip "$HOST:$(sip_port 4)" --sip-domain "$DOMAIN")
    "$BIN" "${args[@]}" <"$WORK/$tag-client.in" >"$WORK/$tag-client.out" \
        2>"$WORK/$tag-client.log" &
    pc=$!
    PIDS+=($pc)
    exec 3>"$WORK/$tag-client.in"
    out=$WORK/$tag-client.out
    wait_line "$out" "^attached peer-id=$p2 " $WAIT_S $pc ||
        abort "$tag: the client did not report peer 2 ($p2) as its peer"
    cid=$(node_id "$tag-client")
    pass "$tag: the client $cid attached to peer 2 and learnt its Node-ID"

    send store alice sip:alice@127.0.0.1
    send fetch alice
    if wait_line "$out" '^stored alice$' $WAIT_S $pc &&
        wait_line "$out" '^fetched alice sip:alice@127.0.0.1$' $WAIT_S $pc; then
        pass "$tag: the client stored and fetched alice through peer 2"
    else
        fail "$tag: store/fetch through the client: $(tail -n 3 "$out")"
    fi
    # shellcheck disable=SC2046
    got=$(timeout 10 "$BIN" fetch --peer "$HOST:$(port 1)" --timeout 5 \
        $([ "$signed" = 1 ] && cred fetcher) alice 2>"$WORK/$tag-fetch.err")
    if [ "$got" = sip:alice@127.0.0.1 ]; then
        pass "$tag: p2psip fetch through peer 1 sees the client's value"
    else
        fail "$tag: p2psip fetch through peer 1 printed '$got'"
    fi

    if tables_name "$tag" "$cid" 1 2 3; then
        fail "$tag: a peer's routing table names the client $cid"
    elif ! tables_name "$tag" "$p2" 1 3; then
        fail "$tag: no table names peer 2 either: the check sees nothing"
    else
        pass "$tag: no peer's routing table names the client (they name each other)"
    fi

    if [ "$sip" = 1 ]; then
        if sipp_run register -sf "$SCEN/register.xml" -s bob -key domain "$DOMAIN" \
            -key contact "sip:bob@$HOST:$BOB_PORT" -key expires 3600 -m 1 -p "$BOB_PORT" \
            "$HOST:$(sip_port 4)"; then
            pass "$tag: bob's phone registered at the client (REGISTER answered 200)"
        else
            fail "$tag: bob's REGISTER at the client failed"
        fi
        (cd "$WORK" && exec timeout 60 "$SIPP" -nostdin -trace_screen -trace_err \
            -sf "$SCEN/uas.xml" -m 2 -p "$BOB_PORT" >"$WORK/uas.out" 2>&1) &
        uas=$!
        PIDS+=($uas)
        sleep 0.5
        if sipp_run call1 -sf "$SCEN/uac.xml" -s bob -key domain "$DOMAIN" -m 1 \
            -p "$ALICE_PORT" "$HOST:$(sip_port 1)"; then
            pass "$tag: a call from peer 1 reached bob at the client (route [peer 2, client])"
        else
            fail "$tag: the call from peer 1 to bob at the client failed"
        fi
    fi

    kill -KILL "${PID[2]}"
    wait "${PID[2]}" 2>/dev/null
    if wait_line "$out" "^attached peer-id=$p3 " $WAIT_S $pc &&
        grep -q 'client: failed over to' "$WORK/$tag-client.log"; then
        pass "$tag: peer 2 killed: the client failed over to peer 3"
    else
        fail "$tag: no failover to peer 3: $(tail -n 3 "$WORK/$tag-client.log")"
    fi
    send store bob sip:bob@127.0.0.1
    send fetch bob
    send fetch alice
    if wait_line "$out" '^stored bob$' $WAIT_S $pc &&
        wait_line "$out" '^fetched bob sip:bob@127.0.0.1$' $WAIT_S $pc &&
        wait_line "$out" '^fetched alice sip:alice@127.0.0.1$' 2 $pc &&
        [ "$(grep -c '^fetched alice' "$out")" = 2 ]; then
        pass "$tag: after the failover the client stores bob and fetches bob and alice"
    else
        fail "$tag: store/fetch after the failover: $(tail -n 4 "$out")"
    fi
    if tables_name "$tag" "$cid" 1 3; then
        fail "$tag: after the failover a routing table names the client"
    else
        pass "$tag: after the failover no routing table names the client"
    fi
    if [ "$sip" = 1 ]; then
        sleep 1 # the client's new route [peer 3, client] is stored on the failover
        if sipp_run call2 -sf "$SCEN/uac.xml" -s bob -key domain "$DOMAIN" -m 1 \
            -p "$CAROL_PORT" "$HOST:$(sip_port 3)"; then
            pass "$tag: after the failover a call through peer 3 reached bob (route [peer 3, client])"
        else
            fail "$tag: after the failover the call through peer 3 to bob failed"
        fi
        wait_exit "$uas" 10
        if wait "$uas"; then
            pass "$tag: bob answered both calls (INVITE, 200, ACK, BYE)"
        else
            fail "$tag: bob's phone did not complete two calls"
        fi
    fi
    exec 3>&-
    stop_pid "$pc"
    for i in 1 3; do
        stop_pid "${PID[$i]}"
    done
}

with_sip=1
command -v "$SIPP" >/dev/null || { with_sip=0; echo "t_client.sh: no SIPp (sip-tester): SIP checks skipped"; }
round plain "$BASE" 0 $with_sip
round signed $((BASE + 11)) 1 0
if grep -q 'dropped signature [1-9]' "$WORK"/signed-peer[13].log; then
    fail "signed: a peer dropped messages whose signature failed"
else
    pass "signed: every message the client sent verified at the peers"
fi
test_end
