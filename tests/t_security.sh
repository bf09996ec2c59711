#!/usr/bin/env bash
# t_security.sh — hostile peers in the simulator and the countermeasures of issue 7
# (docs/security.md): RFC 6940 §7.1/§7.3 signatures on stored data, and redundant routing over
# independent paths (core/redundant.h, after Castro et al., OSDI 2002, §4.3).
#
# On a small ring with 20 % hostile peers that forge the answers to Fetches (tests/data/
# security-tiny.yaml), the oracle counts fetched values that differ from what the owner stored:
#   - without signatures some forgeries are accepted (forged_accepted > 0: the check can fail);
#   - with modelled and with real signatures none is (forged_accepted == 0) and the forgeries
#     are rejected by the fetchers instead (forged_rejected > 0);
#   - 4 redundant paths raise lookup success above 1 path's;
#   - the modelled mode is deterministic (two runs, identical summaries);
#   - bad hostile:/security: values, and more records than honest peers to own them, are
#     refused with FILE:LINE:COLUMN and the key, exit 2.
set -u
BIN=${P2PSIP_BIN:-./p2psip}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_security
SC=tests/data/security-tiny.yaml
metric() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1/summary.tsv"; }
check() { # NAME AWK-CONDITION
    if awk "BEGIN { exit !($2) }"; then pass "$1"; else fail "$1"; fi
}
run() { # NAME OVERRIDES...
    local name=$1; shift
    "$BIN" sim "$SC" --quiet --out "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 ||
        abort "$name: the run failed ($(head -c 300 "$WORK/$name.log"))"
}

run none
run modelled --set security.signatures=modelled
run real --set security.signatures=real
run paths4 --set security.redundant_paths=4
run modelled2 --set security.signatures=modelled

fa=$(metric "$WORK/none" forged_accepted)
check "no signatures: forged values accepted ($fa > 0)" "$fa > 0"
for mode in modelled real; do
    fa=$(metric "$WORK/$mode" forged_accepted); fr=$(metric "$WORK/$mode" forged_rejected)
    check "$mode signatures: forged_accepted $fa == 0" "$fa == 0"
    check "$mode signatures: forgeries rejected by the fetchers ($fr > 0)" "$fr > 0"
done
s1=$(metric "$WORK/none" lookup_success); s4=$(metric "$WORK/paths4" lookup_success)
check "4 redundant paths: lookup_success $s4 > $s1 with 1 path" "$s4 > $s1"
cpu=$(metric "$WORK/modelled" crypto_cpu_s)
check "modelled signatures cost CPU ($cpu s > 0)" "$cpu > 0"
if diff <(grep -vE '^(wall_s|peak_rss_kib|memory_per_peer_bytes)\b' "$WORK/modelled/summary.tsv") \
        <(grep -vE '^(wall_s|peak_rss_kib|memory_per_peer_bytes)\b' "$WORK/modelled2/summary.tsv") \
        >"$WORK/det.diff"; then
    pass "modelled signatures: the same seed gives the same summary"
else
    fail "modelled signatures: two runs differ: $(head -c 300 "$WORK/det.diff")"
fi

bad() { # DESCRIPTION EXPECTED-MESSAGE-REGEX SED-EXPRESSION
    sed "$3" "$SC" >"$WORK/bad.yaml"
    "$BIN" sim "$WORK/bad.yaml" --quiet --out "$WORK/bad" >"$WORK/bad.log" 2>&1
    local rc=$?
    if [ $rc = 2 ] && grep -Eq "$2" "$WORK/bad.log"; then
        pass "$1: exit 2, $(head -c 120 "$WORK/bad.log")"
    else
        fail "$1: exit $rc, $(head -c 300 "$WORK/bad.log")"
    fi
}
bad "hostile.fraction 1.5" "bad.yaml:[0-9]+:[0-9]+: key 'hostile.fraction'" \
    's/fraction: 0.2/fraction: 1.5/'
bad "hostile.refuse_store maybe" "bad.yaml:[0-9]+:[0-9]+: key 'hostile.refuse_store'" \
    's/  forge: true/  forge: true\n  refuse_store: maybe/'
bad "security.signatures rsa" "bad.yaml:[0-9]+:[0-9]+: key 'security.signatures'" \
    's/signatures: none/signatures: rsa/'
bad "security.redundant_paths 0" "bad.yaml:[0-9]+:[0-9]+: key 'security.redundant_paths'" \
    's/redundant_paths: 1/redundant_paths: 0/'
bad "hostile peers without a behaviour" "bad.yaml:[0-9]+:[0-9]+: key 'hostile.fraction'" \
    's/  drop: true/  drop: false/; s/  forge: true/  forge: false/'
bad "more records than honest owners" "bad.yaml:[0-9]+:[0-9]+: key 'workload.records'" \
    's/records: 60/records: 250/'
test_end
