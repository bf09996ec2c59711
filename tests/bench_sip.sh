#!/usr/bin/env bash
# bench_sip.sh — SIP throughput benchmark (docs/benchmarks.md, "SIP"): REGISTERs per second and
# calls per second that a 3-peer loopback p2psip overlay sustains (RFC 7904 on RFC 6940; seed
# draft §5.5–5.6), side by side with kamailio (Debian package) as a classic single-server
# registrar/proxy (RFC 3261 §10.3, §16; tests/sipp/kamailio.cfg), on the same machine in the
# same run, one system after the other.  Load from SIPp (Debian package sip-tester).
#
# (a) REGISTER: tests/sipp/register_bench.xml, one REGISTER of a distinct user per SIPp call
#     (injection file of users), at each rate of SIP_REG_RATES for SIP_DURATION seconds; to
#     peer A of the overlay, or to kamailio.
# (b) calls: bob registers (tests/sipp/register.xml) at peer A / at kamailio and answers on that
#     port (tests/sipp/uas.xml); the caller (tests/sipp/uac.xml) calls through peer C / through
#     kamailio: INVITE, 180, 200, ACK, BYE, 200, at each rate of SIP_CALL_RATES.
# A rate is sustained when fewer than 0.1 % of its attempts failed; the figure reported is the
# highest completed rate (successes / wall time of the SIPp run) over the sustained rates.
# The rates of a system stop rising at the first rate that is not sustained, or whose
# completed rate is below 80 % of the offered rate (saturated).
#
# Not part of `make test`: run it as `BENCH_PARTS=sip bash tests/bench.sh` or directly, from the
# repository root after ./p2psip is built.  Needs kamailio: installed with apt-get when run as
# root, else the apt-get line is printed and the script exits 2.  Prints one line per rate
# ("# ...") and one TSV table: system, registers_per_s, calls_per_s, failures, loadavg, command.
# SIP_SECURE=1 gives the peers credentials from `p2psip ca` (docs/security.md): every RELOAD
# message and stored value is then signed and verified.
# Each ladder (REGISTER, calls) starts on a freshly started system.  Every wait is bounded; an EXIT trap kills whatever this script started.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
SIPP=${SIPP:-sipp}
KAMAILIO=${KAMAILIO:-kamailio}
SCEN=tests/sipp
HOST=127.0.0.1
DOMAIN=p2psip.example
REG_RATES=${SIP_REG_RATES:-1000 2000 4000 8000 12000}
CALL_RATES=${SIP_CALL_RATES:-250 500 1000 2000 4000}
DUR=${SIP_DURATION:-5}      # seconds of load per rate
SYSTEMS=${SIP_SYSTEMS:-p2psip kamailio}
SECURE=${SIP_SECURE:-0}     # 1: the peers hold credentials (p2psip ca), every message signed
JOIN_WAIT_S=10

[ -x "$BIN" ] || { echo "bench_sip.sh: $BIN not built (run from the repository root)" >&2; exit 2; }
command -v "$SIPP" >/dev/null || {
    echo "bench_sip.sh: SIPp is not installed: apt-get install -y sip-tester" >&2; exit 2; }
if ! command -v "$KAMAILIO" >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        echo "bench_sip.sh: installing kamailio (apt-get install -y kamailio)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio >/dev/null ||
            { echo "bench_sip.sh: apt-get install -y kamailio failed" >&2; exit 2; }
    else
        echo "bench_sip.sh: kamailio is not installed: apt-get install -y kamailio" >&2
        exit 2
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench_sip.XXXXXX")
ROOT=$PWD
PIDS=()
KAM_PID=
# TERM first: kamailio's main process then stops its children itself; a SIGKILL would leave
# them running.  What still runs 3 s later is killed, kamailio's children by their parent id.
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 1 30); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    [ -n "$KAM_PID" ] && pkill -KILL -P "$KAM_PID" 2>/dev/null
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${SIP_KEEP:-0}" = 1 ]; then echo "bench_sip.sh: files kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench_sip.sh: interrupted" >&2; exit 130' INT TERM

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() {
    echo "bench_sip.sh: $*" >&2
    for f in "$WORK"/*.log "$WORK"/*.out; do
        [ -f "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# 12 free UDP ports in a row: 3 RELOAD, 3 SIP, kamailio, then SIPp's.
BASE=$(pick_base_port 12) || die "no free UDP port range on $HOST"
KAM_PORT=$((BASE + 6))
BOB_PORT=$((BASE + 7))
LOAD_PORT=$((BASE + 8))

# Users of the injection file: enough distinct ones for the highest rate.
max_rate=0
for r in $REG_RATES; do [ "$r" -gt $max_rate ] && max_rate=$r; done
{ echo SEQUENTIAL; seq -f 'u%06g;' 1 $((max_rate * DUR)); } >"$WORK/users.csv"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Successful and failed SIPp calls from a screen dump NAME_*_screen.log.
calls_of() {
    local f
    f=$(ls "$WORK"/"$1"_*_screen.log 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "0 0"; return; }
    echo "$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$f")" \
         "$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$f")"
}

# sipp_timed NAME ARGS...: one SIPp run in $WORK; sets OK, FAILED, SECS.
sipp_timed() {
    local name=$1 t0 t1
    shift
    rm -f "$WORK/$name"_*_screen.log
    t0=$(date +%s.%N)
    (cd "$WORK" && timeout $((DUR * 3 + 40)) "$SIPP" -nostdin -trace_screen -trace_err \
        -screen_file "$WORK/${name}_x_screen.log" -error_file "$WORK/$name.err" "$@" \
        >"$WORK/$name.out" 2>&1)
    t1=$(date +%s.%N)
    read -r OK FAILED <<<"$(calls_of "$name")"
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# measure KIND TARGET_REG TARGET_CALL: the rate ladder of one kind (reg|call) for one system;
# sets BEST (completed/s), BEST_FAIL (failures of that run), BEST_CMD.
measure() {
    local kind=$1 sysname=$2 reg_addr=$3 call_addr=$4 r n got fail_ok cmd uas rc
    local rates=$REG_RATES
    [ "$kind" = call ] && rates=$CALL_RATES
    BEST=0; BEST_FAIL=0; BEST_CMD="-"
    for r in $rates; do
        n=$((r * DUR))
        if [ "$kind" = reg ]; then
            cmd="sipp -sf $SCEN/register_bench.xml -inf users.csv -key domain $DOMAIN -key run r$r -r $r -m $n -l $((r * 2)) $reg_addr"
            sipp_timed "reg-$sysname-$r" -sf "$ROOT/$SCEN/register_bench.xml" -inf "$WORK/users.csv" \
                -key domain "$DOMAIN" -key run "r$r" -r "$r" -m "$n" -l $((r * 2)) \
                -p "$LOAD_PORT" "$reg_addr"
        else
            # No -m: bob answers until the caller is done.  kamailio's two worker processes
            # can hand an ACK and the BYE right behind it to bob out of order; bob's SIPp then
            # answers the BYE, aborts that call and takes the late ACK for a new call, which
            # with -m N would leave the last real call unanswered (408).
            # SIPp's own -timeout (not timeout(1)): killing $uas must stop SIPp itself.
            (cd "$WORK" && exec "$SIPP" -nostdin -trace_screen -timeout $((DUR * 3 + 45)) \
                -sf "$ROOT/$SCEN/uas.xml" -p "$BOB_PORT" >"$WORK/uas-$sysname-$r.out" 2>&1) &
            uas=$!
            PIDS+=($uas)
            sleep 0.5
            cmd="sipp -sf $SCEN/uac.xml -s bob -key domain $DOMAIN -r $r -m $n -l $((r * 2)) $call_addr"
            sipp_timed "call-$sysname-$r" -sf "$ROOT/$SCEN/uac.xml" -s bob -key domain "$DOMAIN" \
                -r "$r" -m "$n" -l $((r * 2)) -p "$LOAD_PORT" "$call_addr"
            kill -KILL $uas 2>/dev/null
            wait $uas 2>/dev/null
        fi
        # Attempts SIPp did not finish (killed by the timeout) count as failures.
        [ $((OK + FAILED)) -ge "$n" ] || FAILED=$((n - OK))
        got=$(awk -v n="$OK" -v s="$SECS" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
        fail_ok=$(awk -v f="$FAILED" -v n="$n" 'BEGIN { print (f * 1000 < n) ? 1 : 0 }')
        echo "# $sysname $kind rate=$r attempts=$n ok=$OK failed=$FAILED secs=$SECS completed_per_s=$got load=$(loadavg)"
        [ "$fail_ok" = 1 ] || break
        if [ "$got" -gt "$BEST" ]; then
            BEST=$got; BEST_FAIL=$FAILED; BEST_CMD=$cmd
        fi
        [ $((got * 10)) -ge $((r * 8)) ] || break
    done
}

# register_bob ADDR: bob binds his UAS port at ADDR (one REGISTER, 200 expected).
register_bob() {
    sipp_timed "bob-$1" -sf "$ROOT/$SCEN/register.xml" -s bob -key domain "$DOMAIN" \
        -key contact "sip:bob@$HOST:$BOB_PORT" -key expires 3600 -m 1 -p "$BOB_PORT" "$1"
    [ "$OK" = 1 ] || die "bob's REGISTER at $1 failed"
}

ROWS=()
start_p2psip() {
    local i args names=(A B C)
    if [ "$SECURE" = 1 ] && [ ! -f "$WORK/ca/ca.pem" ]; then
        make_ca "$WORK/ca" "$DOMAIN" peerA peerB peerC || die "p2psip ca init/enroll failed"
    fi
    for i in 0 1 2; do
        args=(peer --listen "$HOST:$((BASE + i))" --sip "$HOST:$((BASE + 3 + i))"
              --sip-domain "$DOMAIN")
        [ "$SECURE" = 1 ] && args+=(--key "$WORK/ca/peer${names[$i]}.key"
            --cert "$WORK/ca/peer${names[$i]}.pem" --ca "$WORK/ca/ca.pem")
        [ $i -gt 0 ] && args+=(--bootstrap "$HOST:$BASE")
        start_peer "peer${names[$i]}" "${args[@]}"
        P2P_PIDS+=($PEER_PID)
        wait_joined "peer${names[$i]}" "$PEER_PID" ||
            die "peer ${names[$i]} did not join within ${JOIN_WAIT_S}s"
    done
    sleep 1 # the first stabilization rounds fill in replicas
}

start_system() {
    case $1 in
    p2psip)
        P2P_PIDS=()
        start_p2psip
        reg_addr="$HOST:$((BASE + 3))"; call_addr="$HOST:$((BASE + 5))"
        desc="3 p2psip peers (REGISTER to A, calls through C)$([ "$SECURE" = 1 ] && echo ', every RELOAD message and value signed (ECDSA P-256)')"
        ;;
    kamailio)
        mkdir -p "$WORK/kam"
        # 1 GiB of shared memory: the default 64 MiB holds only some 40,000 contacts.
        "$KAMAILIO" -DD -E -f "$ROOT/$SCEN/kamailio.cfg" -l "udp:$HOST:$KAM_PORT" -n 2 \
            -m 1024 -M 32 -Y "$WORK/kam" >"$WORK/kamailio.log" 2>&1 &
        PIDS+=($!)
        KAM_PID=$!
        wait_line "$WORK/kamailio.log" 'Listening on' 10 $KAM_PID ||
            die "kamailio did not start"
        sleep 0.5
        reg_addr="$HOST:$KAM_PORT"; call_addr="$HOST:$KAM_PORT"
        desc="kamailio $("$KAMAILIO" -v | awk 'NR == 1 {print $3}') (children 2, usrloc in memory)"
        ;;
    *) die "unknown system $1 (p2psip, kamailio)" ;;
    esac
}

stop_system() {
    case $1 in
    p2psip) for pid in "${P2P_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
            for pid in "${P2P_PIDS[@]}"; do wait "$pid" 2>/dev/null; done ;;
    kamailio) kill -TERM $KAM_PID 2>/dev/null; wait $KAM_PID 2>/dev/null
              pkill -KILL -P "$KAM_PID" 2>/dev/null; KAM_PID= ;;
    esac
}

# Each ladder runs on a freshly started system, so that the calls do not meet the backlog (or
# the tens of thousands of bindings) the REGISTER ladder left.
for sys in $SYSTEMS; do
    start_system "$sys"
    echo "# $sys: $desc"
    measure reg "$sys" "$reg_addr" "$call_addr"
    reg=$BEST; reg_fail=$BEST_FAIL; reg_cmd=$BEST_CMD
    stop_system "$sys"
    start_system "$sys"
    register_bob "$reg_addr"
    measure call "$sys" "$reg_addr" "$call_addr"
    stop_system "$sys"
    ROWS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s; %s' "$sys" "$reg" "$BEST" \
        $((reg_fail + BEST_FAIL)) "$(loadavg | tr ' ' '/')" "$reg_cmd" "$BEST_CMD")")
done

echo "# SIP throughput, $(nproc) cores shared with other work (loadavg = 1/5/15-minute load at the end of the system's runs)"
printf 'system\tregisters_per_s\tcalls_per_s\tfailures\tloadavg\tcommand\n'
for row in "${ROWS[@]}"; do echo "$row"; done
