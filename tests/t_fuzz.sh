#!/usr/bin/env bash
# t_fuzz.sh — replays the fuzz targets' inputs (docs/fuzzing.md) through the ordinary build:
# every seed of fuzz/corpus/<target>/ and every regression input of fuzz/regress/<target>/ (an
# input a past `make fuzz` found crashing, kept once the bug was fixed) goes once through the
# target's harness (fuzz/fuzz_<target>.c with fuzz/replay.c's main): the RELOAD decoder and a
# whole peer, the topologies, the SIP adapters, the scenario loader, the overlay
# configuration and certificates.  A harness aborts on any failed check, so a regression fails
# this test; under `make test SANITIZE=1` the replays run with AddressSanitizer and UBSan.
#
# Run from the repository root after `make test` built fuzz/out/replay_*.  Prints PASS/FAIL per
# target; exits non-zero on any failure.  Takes about a second.
set -u
FAILS=0
for t in wire topology sip scenario config cert; do
    bin=fuzz/out/replay_$t
    if [ ! -x "$bin" ]; then
        echo "FAIL: $bin not built (make test builds it)"; FAILS=$((FAILS + 1)); continue
    fi
    dirs=(fuzz/corpus/$t)
    [ -d fuzz/regress/$t ] && dirs+=(fuzz/regress/$t)
    if out=$("$bin" "${dirs[@]}" 2>&1) && [[ $out =~ replayed\ ([0-9]+)\ inputs ]] &&
        [ "${BASH_REMATCH[1]}" -gt 0 ]; then
        echo "PASS: $t: ${BASH_REMATCH[1]} inputs from ${dirs[*]}"
    else
        echo "FAIL: $t: $(echo "$out" | tail -5)"; FAILS=$((FAILS + 1))
    fi
done
[ $FAILS = 0 ] || { echo "t_fuzz.sh: $FAILS failure(s)"; exit 1; }
echo "t_fuzz.sh: all passed"
