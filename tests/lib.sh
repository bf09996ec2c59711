# tests/lib.sh — helpers shared by the shell tests (tests/t_*.sh) and tests/bench_sip.sh:
# PASS/FAIL counting, a work directory removed at exit together with every process the script
# started, free UDP ports on 127.0.0.1, peers started in the background, bounded waits for a
# log line or a process's exit.  No RFC of its own; the scripts say what they check.
#
# Sourced, not run (its name does not match the t_*.sh that `make test` runs):
#     . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sourcing only defines functions.  The scripts set BIN (and HOST, JOIN_WAIT_S where they use
# them) first, then call test_begin.

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# test_begin NAME: checks that $BIN is built, makes the work directory $WORK and empties PIDS
# and FAILS; at exit every pid in PIDS is killed and $WORK removed, and an interrupt prints
# "NAME.sh: interrupted" and exits 130.
test_begin() {
    TEST_NAME=$1
    [ -x "$BIN" ] || { echo "$TEST_NAME.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")
    PIDS=()
    FAILS=0
    trap test_cleanup EXIT
    trap 'echo "$TEST_NAME.sh: interrupted" >&2; exit 130' INT TERM
}

test_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}

# dump_logs: the last 40 lines of each of $WORK's files ending in one of DUMP_EXT (default
# "out log"), by extension in that order.
dump_logs() {
    local ext f
    for ext in ${DUMP_EXT:-out log}; do
        for f in "$WORK"/*."$ext"; do
            [ -f "$f" ] || continue
            echo "---- $f"
            tail -n 40 "$f"
        done
    done
}

# abort MESSAGE: a failed check that ends the test now, after dumping the logs (used when the
# later checks cannot run without this one).
abort() {
    fail "$*"
    dump_logs
    echo "$TEST_NAME.sh: FAILED (aborted)"
    exit 1
}

# test_end: dumps the logs and exits 1 when a check failed, else says that all passed.
test_end() {
    if [ "$FAILS" -gt 0 ]; then
        dump_logs
        echo "$TEST_NAME.sh: FAILED ($FAILS checks)"
        exit 1
    fi
    echo "$TEST_NAME.sh: all checks passed"
}

# metric FILE NAME: the value of one summary.tsv row.
metric() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }
# stable FILE: the summary.tsv rows that must not vary between runs (all but wall time and memory).
stable() { grep -vE '^(wall_s|peak_rss_kib|memory_per_peer_bytes)[[:space:]]' "$1"; }

# port_free PORT: true when UDP port PORT on $HOST can be bound right now.
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

# pick_base_port N: prints a random base port with N free UDP ports from it on $HOST (30
# attempts at most; returns 1 when none is found).
pick_base_port() {
    local n=$1 attempt base i ok
    for attempt in $(seq 1 30); do
        base=$((20000 + RANDOM % 40000))
        ok=1
        for i in $(seq 0 $((n - 1))); do
            port_free $((base + i)) || { ok=0; break; }
        done
        [ $ok = 1 ] && { echo "$base"; return 0; }
    done
    return 1
}

# wait_line FILE PATTERN SECONDS PID: waits until FILE holds a line matching PATTERN, while
# process PID lives (a last look after it exits); returns 1 after SECONDS.
wait_line() {
    local file=$1 pattern=$2 secs=$3 pid=$4 i
    for i in $(seq 1 $((secs * 10))); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -q -- "$pattern" "$file" 2>/dev/null; return; }
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECONDS: waits until process PID has exited; returns 1 if it still runs after
# SECONDS.
wait_exit() {
    local _
    for _ in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

# stop_pid PID: SIGTERM, a bounded wait (5 s) for the exit, then SIGKILL and reaping.
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    wait_exit "$1" 5
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# start_peer NAME ARGS...: runs "$BIN" ARGS... in the background, its stdout in $WORK/NAME.out
# (started afresh) and its stderr appended to $WORK/NAME.log (so a restarted peer's log keeps
# the earlier run); adds its pid to PIDS and sets PEER_PID.
start_peer() {
    local name=$1
    shift
    "$BIN" "$@" >"$WORK/$name.out" 2>>"$WORK/$name.log" &
    PEER_PID=$!
    PIDS+=($PEER_PID)
}

# wait_joined NAME PID: waits up to JOIN_WAIT_S (default 10) seconds for the "joined" line of
# the peer whose stdout is $WORK/NAME.out.
wait_joined() { wait_line "$WORK/$1.out" '^joined node-id=' "${JOIN_WAIT_S:-10}" "$2"; }

# make_ca DIR OVERLAY USER...: an overlay CA in DIR (`p2psip ca init`) and a credential per
# USER (`p2psip ca enroll`: DIR/USER.key, DIR/USER.pem); output appended to $WORK/ca.log.
# Returns non-zero at the first failure.
make_ca() {
    local dir=$1 overlay=$2 u
    shift 2
    {
        "$BIN" ca init --dir "$dir" --overlay "$overlay" || return 1
        for u in "$@"; do "$BIN" ca enroll --dir "$dir" --user "$u" || return 1; done
    } >>"$WORK/ca.log" 2>&1
}
