#!/usr/bin/env bash
# t_net.sh — end-to-end test of the real backend (net/): five `p2psip peer` processes speak
# RELOAD over UDP on 127.0.0.1 (RFC 6940 §10.5 join through a bootstrap peer, §7.4.1 Store and
# §7.4.2 Fetch from a client, §4.2), survive a malformed datagram, and leave cleanly on SIGTERM
# (§10.9).
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Every wait is
# bounded; an EXIT trap kills whatever this script started.  Prints PASS/FAIL per check and
# exits non-zero on any failure, after dumping the peers' output and logs.
set -u

BIN=${P2PSIP_BIN:-./p2psip}  # override to test another build
NPEERS=5
HOST=127.0.0.1
JOIN_WAIT_S=10    # per peer, for its "joined" line
EXIT_WAIT_S=5     # per peer, after SIGTERM
CLIENT_TIMEOUT=8  # --timeout of store/fetch

[ -x "$BIN" ] || { echo "t_net.sh: $BIN not built (run from the repository root)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_net.XXXXXX")
PIDS=()
FAILS=0

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "t_net.sh: interrupted" >&2; exit 130' INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

dump_logs() {
    for i in $(seq 1 $NPEERS); do
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

# Ends the test now: used when a later check cannot run without this one.
abort() {
    fail "$*"
    dump_logs
    echo "t_net.sh: FAILED (aborted)"
    exit 1
}

# True when UDP port $1 on $HOST can be bound right now.
port_free() {
    if command -v python3 >/dev/null; then
        python3 - "$HOST" "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
EOF
    else
        ! ss -uln 2>/dev/null | grep -q ":$1 "
    fi
}

# A random base port with NPEERS free ports above it (bounded number of attempts).
pick_base_port() {
    local attempt base i ok
    for attempt in $(seq 1 30); do
        base=$((20000 + RANDOM % 40000))
        ok=1
        for i in $(seq 0 $((NPEERS - 1))); do
            port_free $((base + i)) || { ok=0; break; }
        done
        [ $ok = 1 ] && { echo "$base"; return 0; }
    done
    return 1
}

# wait_line FILE PATTERN SECONDS PID: waits until FILE holds a line matching PATTERN, while
# process PID lives.
wait_line() {
    local file=$1 pattern=$2 secs=$3 pid=$4 i
    for i in $(seq 1 $((secs * 10))); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -q -- "$pattern" "$file" 2>/dev/null; return; }
        sleep 0.1
    done
    return 1
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

BASE=$(pick_base_port) || abort "no free UDP port range on $HOST"
port() { echo $((BASE + $1 - 1)); }
echo "t_net.sh: $NPEERS peers on $HOST:$BASE..$((BASE + NPEERS - 1)), files in $WORK"

# ---- 1. five peers, each joining through the first ----------------------------------------
for i in $(seq 1 $NPEERS); do
    args=(peer --listen "$HOST:$(port "$i")" --update-interval 2)
    [ "$i" -gt 1 ] && args+=(--bootstrap "$HOST:$(port 1)")
    "$BIN" "${args[@]}" >"$WORK/peer$i.out" 2>"$WORK/peer$i.log" &
    PIDS+=($!)
    if wait_line "$WORK/peer$i.out" '^joined node-id=' $JOIN_WAIT_S "${PIDS[$((i - 1))]}"; then
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

# ---- 6. SIGTERM: every peer leaves and exits 0 --------------------------------------------
for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
done
for i in $(seq 1 $NPEERS); do
    pid=${PIDS[$((i - 1))]}
    for _ in $(seq 1 $((EXIT_WAIT_S * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
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

if [ $FAILS -gt 0 ]; then
    dump_logs
    echo "t_net.sh: FAILED ($FAILS checks)"
    exit 1
fi
echo "t_net.sh: all checks passed"
