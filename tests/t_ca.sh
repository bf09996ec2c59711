#!/usr/bin/env bash
# t_ca.sh — end-to-end checks of `p2psip ca` (sec/cli.c; RFC 6940 §11.3, §11.3.1, §13.3):
# a CA is made, a user enrolled with two Node-IDs, and `ca show --ca` verifies the certificate
# and prints the user, the Node-IDs and the window; openssl(1), when installed, independently
# checks the chain and the subjectAltName (rfc822Name, reload: URIs, empty subject); another
# CA's certificate fails verification (exit 1); a self-signed credential verifies alone; bad
# input exits 2 with a message; the CA is never overwritten and its key is mode 0600.
#
# Run from the repository root after ./p2psip is built (`make test` does both).  Prints
# PASS/FAIL per check; exits non-zero on any failure.  Takes under a second.
set -u

BIN=${P2PSIP_BIN:-./p2psip}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin t_ca

# expect CODE WHAT CMD...: runs CMD (output to $WORK/out, $WORK/err), checks the exit code.
expect() {
    local want=$1 what=$2
    shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    if [ "$rc" = "$want" ]; then pass "$what (exit $rc)"; else
        fail "$what: exit $rc, wanted $want"; sed 's/^/    /' "$WORK/err"; fi
}
has() { grep -q -- "$2" "$WORK/$1" && pass "$3" || { fail "$3: no '$2' in $1"; sed 's/^/    /' "$WORK/$1"; }; }

CA=$WORK/ca
expect 0 "ca init" "$BIN" ca init --dir "$CA" --overlay t.example --days 30
[ -s "$CA/ca.key" ] && [ -s "$CA/ca.pem" ] && pass "ca.key and ca.pem written" || fail "CA files missing"
[ "$(stat -c %a "$CA/ca.key")" = 600 ] && pass "ca.key is mode 0600" || fail "ca.key mode $(stat -c %a "$CA/ca.key")"
expect 2 "ca init refuses to overwrite a CA" "$BIN" ca init --dir "$CA"
has err "already exists" "the refusal says why"

expect 0 "ca enroll" "$BIN" ca enroll --dir "$CA" --user alice@t.example --nodes 2 --days 7
[ -s "$CA/alice@t.example.key" ] && [ -s "$CA/alice@t.example.pem" ] && pass "user files written" \
    || fail "user files missing"
expect 0 "ca show --ca verifies the enrolled certificate" \
    "$BIN" ca show "$CA/alice@t.example.pem" --ca "$CA/ca.pem"
has out "user: *alice@t.example" "show prints the user"
has out "overlay: *t.example" "show prints the overlay"
[ "$(grep -c '^node-id: *[0-9a-f]\{32\}$' "$WORK/out")" = 2 ] && pass "show prints two Node-IDs" \
    || fail "show: expected two Node-IDs"
has out "not-after:" "show prints the validity"
has out "verified: *ok" "show reports the verification"

if command -v openssl >/dev/null 2>&1; then
    if openssl verify -CAfile "$CA/ca.pem" "$CA/alice@t.example.pem" >/dev/null 2>&1; then
        pass "openssl verify accepts the chain"; else fail "openssl verify refuses the chain"; fi
    openssl x509 -in "$CA/alice@t.example.pem" -noout -text >"$WORK/out" 2>&1
    has out "email:alice@t.example" "subjectAltName carries the rfc822Name"
    [ "$(grep -o 'URI:reload://0110[0-9a-f]\{32\}@t.example/' "$WORK/out" | wc -l)" = 2 ] \
        && pass "subjectAltName carries two reload: URIs" || fail "reload: URIs missing"
    has out "ASN1 OID: prime256v1" "the key is ECDSA P-256"
    openssl x509 -in "$CA/alice@t.example.pem" -noout -subject >"$WORK/out" 2>&1
    grep -q '^subject= *$' "$WORK/out" && pass "subject name is empty" || fail "subject: $(cat "$WORK/out")"
else
    echo "NOTE: openssl(1) is not installed: the certificate is not cross-checked"
fi

OTHER=$WORK/other
"$BIN" ca init --dir "$OTHER" --overlay t.example >/dev/null 2>&1
expect 1 "a certificate of another CA fails verification" \
    "$BIN" ca show "$CA/alice@t.example.pem" --ca "$OTHER/ca.pem"
has out "verified: *certificate not signed by the overlay CA" "and says why"

expect 0 "ca self-sign" "$BIN" ca self-sign --dir "$WORK/self" --user carol --overlay t.example
expect 0 "a self-signed certificate verifies alone" "$BIN" ca show "$WORK/self/carol.pem"
has out "issuer: *self-signed" "show names it self-signed"

expect 2 "enroll without --user" "$BIN" ca enroll --dir "$CA"
has err "needs --user" "the error names the missing option"
expect 2 "enroll with a user name holding a space" "$BIN" ca enroll --dir "$CA" --user "a b"
expect 2 "enroll with --nodes 0" "$BIN" ca enroll --dir "$CA" --user bob --nodes 0
expect 2 "enroll with --days -1" "$BIN" ca enroll --dir "$CA" --user bob --days -1
expect 2 "enroll with --days 0" "$BIN" ca enroll --dir "$CA" --user bob --days 0
[ ! -e "$CA/bob.key" ] && pass "refused enrollments wrote nothing" || fail "bob.key written"
expect 2 "enroll from a directory without a CA" "$BIN" ca enroll --dir "$WORK/none" --user bob
has err "ca init" "the error suggests ca init"
expect 2 "init with a bad overlay name" "$BIN" ca init --dir "$WORK/bad" --overlay "a/b"
expect 2 "unknown subcommand" "$BIN" ca frobnicate
expect 2 "show of a file that is no certificate" "$BIN" ca show "$CA/ca.key"
expect 2 "show of a missing file" "$BIN" ca show "$WORK/missing.pem"
expect 0 "ca --help" "$BIN" ca --help
has out "enroll --dir DIR --user NAME" "help lists enroll"

if [ "$FAILS" = 0 ]; then echo "t_ca.sh: all checks passed"; else echo "t_ca.sh: $FAILS failed"; exit 1; fi
