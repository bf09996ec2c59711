#!/usr/bin/env bash
# t_natns.sh — real peers behind real NATs: `p2psip peer --relay` (NAT traversal, core/ice.c;
# RFC 6940 §6.5.1 Attach with ICE candidates, docs/nat.md "Traversal") across Linux NAT in
# network namespaces (RFC 4787 behaviours: plain nftables masquerade keeps the source port and
# admits only replies, a port-restricted cone; masquerade fully-random draws a port per
# destination, symmetric).
#
#   public ns:  bridge 198.51.100.0/24 — bootstrap peer .1, relay peer .2
#   NAT A:      wan 198.51.100.11, lan 192.168.1.1   —  LAN A: peer A 192.168.1.10
#   NAT B:      wan 198.51.100.12, lan 192.168.2.1   —  LAN B: peer B 192.168.2.10
#
# Each router masquerades what leaves its wan and, as a home router's firewall does, drops
# whatever arrives unsolicited (so an early check from the other side leaves no conntrack
# entry behind that would make the router move its own outgoing port).  Two cases:
#   1. cone/cone: both routers plain masquerade  -> A and B connect hole-punched;
#   2. symmetric/cone: router A fully-random    -> A and B connect relayed.
# In each, a client in LAN A stores a value through peer A and a client in LAN B fetches it
# through peer B.  Root and `ip netns` are needed: otherwise the test prints SKIP and exits 0.
# Namespace names carry this shell's PID, so parallel runs do not clash; an EXIT trap kills
# the peers and deletes the namespaces whatever happens (P2PSIP_KEEP=1 keeps the logs).
set -u

BIN=${P2PSIP_BIN:-./p2psip}
PATH=$PATH:/usr/sbin:/sbin  # ip and nft live there
PORT=6084
JOIN_WAIT_S=12     # per peer, for its "joined" line
OUTCOME_WAIT_S=12  # for the A-B connection outcome
CLIENT_TIMEOUT=8
# P2PSIP_NATNS_HOLD=SECONDS (default 0): run the overlay that long before the store and fetch.

[ -x "$BIN" ] || { echo "t_natns.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

skip() { echo "t_natns.sh: SKIP: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and nftables)"
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
command -v nft >/dev/null || skip "no 'nft' command (apt-get install nftables)"
PROBE=p2pnat-probe-$$
ip netns add "$PROBE" 2>/dev/null || skip "'ip netns add' fails here (no CAP_SYS_ADMIN?)"
ip netns del "$PROBE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_natns.XXXXXX")
PIDS=()
NSS=()
FAILS=0
CASE=""

# Kills whatever still runs in this run's namespaces (started by this script only).
kill_ns_procs() {
    local ns pids
    for ns in "${NSS[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086  # one argument per PID
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
}

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    kill_ns_procs
    for ns in "${NSS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "${P2PSIP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "t_natns.sh: interrupted" >&2; exit 130' INT TERM

pass() { echo "PASS: [$CASE] $*"; }
fail() { echo "FAIL: [$CASE] $*"; FAILS=$((FAILS + 1)); }

dump_logs() {
    for f in "$WORK"/*.out "$WORK"/*.log "$WORK"/*.err; do
        [ -s "$f" ] || continue
        echo "---- $f"
        tail -n 40 "$f"
    done
}

# wait_line FILE PATTERN SECONDS: waits until FILE holds a line matching the extended regex.
wait_line() {
    local _
    for _ in $(seq 1 $(($3 * 10))); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# nsx NS CMD...: runs CMD in namespace NS.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- the network ---------------------------------------------------------------------------

# net_up TAG NAT_A_MASQ NAT_B_MASQ: builds the namespaces (names end in TAG) with the given
# masquerade statements ("masquerade" or "masquerade fully-random").
net_up() {
    local t=$1 masq_a=$2 masq_b=$3 ns
    PUB=p2pnat-pub-$t
    NATA=p2pnat-ra-$t
    NATB=p2pnat-rb-$t
    LANA=p2pnat-la-$t
    LANB=p2pnat-lb-$t
    for ns in "$PUB" "$NATA" "$NATB" "$LANA" "$LANB"; do
        ip netns add "$ns" || return 1
        NSS+=("$ns")
        ip -n "$ns" link set lo up
    done
    ip -n "$PUB" link add br0 type bridge &&
        ip -n "$PUB" link set br0 up &&
        ip -n "$PUB" addr add 198.51.100.1/24 dev br0 &&
        ip -n "$PUB" addr add 198.51.100.2/24 dev br0 || return 1
    nat_up "$NATA" "$LANA" 198.51.100.11 192.168.1 "$masq_a" a || return 1
    nat_up "$NATB" "$LANB" 198.51.100.12 192.168.2 "$masq_b" b || return 1
}

# nat_up ROUTER LAN WAN_IP LAN_PREFIX MASQ X: a NAT router between the bridge and a LAN.
nat_up() {
    local r=$1 lan=$2 wan=$3 pfx=$4 masq=$5 x=$6
    ip -n "$r" link add wan type veth peer name "wan$x" netns "$PUB" &&
        ip -n "$PUB" link set "wan$x" master br0 &&
        ip -n "$PUB" link set "wan$x" up &&
        ip -n "$r" addr add "$wan/24" dev wan &&
        ip -n "$r" link set wan up &&
        ip -n "$r" link add lan type veth peer name eth0 netns "$lan" &&
        ip -n "$r" addr add "$pfx.1/24" dev lan &&
        ip -n "$r" link set lan up &&
        ip -n "$lan" addr add "$pfx.10/24" dev eth0 &&
        ip -n "$lan" link set eth0 up &&
        ip -n "$lan" route add default via "$pfx.1" &&
        nsx "$r" sysctl -qw net.ipv4.ip_forward=1 || return 1
    nsx "$r" nft -f - <<EOF
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" $masq
    }
}
table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname { "lo", "lan" } accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
    }
}
EOF
}

# ---- one case ------------------------------------------------------------------------------

ID_BOOT=10000000000000000000000000000000
ID_RELAY=50000000000000000000000000000000
ID_A=90000000000000000000000000000000
ID_B=d0000000000000000000000000000000
RELAY=198.51.100.2:$PORT

# peer NAME NS ADDR ID [ARGS...]: starts a peer in NS, waits for its "joined" line.
peer() {
    local name=$1 ns=$2 addr=$3 id=$4
    shift 4
    # `ip netns exec` execs the peer, so $! is the peer's own PID.
    ip netns exec "$ns" "$BIN" peer --listen "$addr:$PORT" --node-id "$id" --relay "$RELAY" \
        --update-interval 2 "$@" >"$WORK/$CASE-$name.out" 2>"$WORK/$CASE-$name.log" &
    PIDS+=($!)
    if wait_line "$WORK/$CASE-$name.out" '^joined node-id=' $JOIN_WAIT_S; then
        pass "$name joined at $addr:$PORT"
    else
        fail "$name did not print 'joined' within ${JOIN_WAIT_S}s"
        return 1
    fi
}

# run_case NAME MASQ_A MASQ_B EXPECTED_OUTCOME
run_case() {
    CASE=$1
    local expect=$4 t="$$-$1" a b start=$SECONDS
    net_up "$t" "$2" "$3" || { fail "could not build the namespaces"; return; }
    pass "namespaces up (NAT A: $2; NAT B: $3)"
    peer boot "$PUB" 198.51.100.1 "$ID_BOOT" || return
    peer relay "$PUB" 198.51.100.2 "$ID_RELAY" --bootstrap 198.51.100.1:$PORT || return
    peer a "$LANA" 192.168.1.10 "$ID_A" --bootstrap 198.51.100.1:$PORT || return
    peer b "$LANB" 192.168.2.10 "$ID_B" --bootstrap 198.51.100.1:$PORT || return

    # Both learnt their mapped (server-reflexive) address from the relay.
    if wait_line "$WORK/$CASE-a.log" "ice: server-reflexive address 198\.51\.100\.11:.*behind a NAT" 5 &&
        wait_line "$WORK/$CASE-b.log" "ice: server-reflexive address 198\.51\.100\.12:.*behind a NAT" 5
    then
        pass "A and B learnt their server-reflexive addresses from the relay"
    else
        fail "A or B did not log its server-reflexive address"
    fi

    # The A-B connection: hole-punched or relayed, logged by the side that attached (every
    # attempt between them, in either direction, must have ended that way).
    local all
    for _ in $(seq 1 $((OUTCOME_WAIT_S * 10))); do
        grep -q "ice: connection to node-id=$ID_B: " "$WORK/$CASE-a.log" && break
        grep -q "ice: connection to node-id=$ID_A: " "$WORK/$CASE-b.log" && break
        sleep 0.1
    done
    a=$(grep "ice: connection to node-id=$ID_B: " "$WORK/$CASE-a.log" | sed 's/.*: //' | sort | uniq -c | xargs)
    b=$(grep "ice: connection to node-id=$ID_A: " "$WORK/$CASE-b.log" | sed 's/.*: //' | sort | uniq -c | xargs)
    all=$( { grep "ice: connection to node-id=$ID_B: " "$WORK/$CASE-a.log"
             grep "ice: connection to node-id=$ID_A: " "$WORK/$CASE-b.log"; } | sed 's/.*: //' | sort -u | xargs)
    if [ "$all" = "$expect" ]; then
        pass "A-B connection $expect (A to B: ${a:-none}; B to A: ${b:-none})"
    else
        fail "A-B connection: expected $expect; A to B: '${a:-none}', B to A: '${b:-none}'"
    fi

    # P2PSIP_NATNS_HOLD=SECONDS lets the overlay run that long first (bindings kept alive).
    sleep "${P2PSIP_NATNS_HOLD:-0}"
    # Store through A (from LAN A), fetch through B (from LAN B).
    local value="sip:alice@192.168.1.20;case=$CASE"
    if nsx "$LANA" timeout $((CLIENT_TIMEOUT + 5)) "$BIN" store --peer 192.168.1.10:$PORT \
        --timeout $CLIENT_TIMEOUT alice "$value" >"$WORK/$CASE-store.out" 2>"$WORK/$CASE-store.err"; then
        pass "store alice through peer A (behind NAT A)"
    else
        fail "store alice through peer A: $(cat "$WORK/$CASE-store.err")"
    fi
    nsx "$LANB" timeout $((CLIENT_TIMEOUT + 5)) "$BIN" fetch --peer 192.168.2.10:$PORT \
        --timeout $CLIENT_TIMEOUT alice >"$WORK/$CASE-fetch.out" 2>"$WORK/$CASE-fetch.err"
    local rc=$?
    local got
    got=$(cat "$WORK/$CASE-fetch.out")
    if [ $rc = 0 ] && [ "$got" = "$value" ]; then
        pass "fetch alice through peer B (behind NAT B) printed '$got'"
    else
        fail "fetch alice through peer B: exit $rc, printed '$got', expected '$value'"
    fi

    # Stop the peers (SIGTERM: they leave and log their traversal totals), then the network.
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
    kill_ns_procs
    echo "[$CASE] totals: A: $(grep -h 'ice: connections' "$WORK/$CASE-a.log" | sed 's/.*ice: //')"
    echo "[$CASE] totals: B: $(grep -h 'ice: connections' "$WORK/$CASE-b.log" | sed 's/.*ice: //')"
    for ns in "${NSS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    NSS=()
    echo "[$CASE] took $((SECONDS - start)) s"
}

run_case cone "masquerade" "masquerade" hole-punched
run_case symmetric "masquerade fully-random" "masquerade" relayed

if [ $FAILS -gt 0 ]; then
    dump_logs
    echo "t_natns.sh: FAILED ($FAILS checks)"
    exit 1
fi
echo "t_natns.sh: all checks passed"
