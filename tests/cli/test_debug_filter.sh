#!/usr/bin/env bash
# list --debug-filter prints the bytecode a filter compiles to and exits 0
# without dumping; the program's instructions and jump targets are those the
# compiler makes (tests/unit/test_filterbc.c checks the bytes, this the
# words); a state the mask cannot decide is named as left to user space; a
# bad filter is a usage error before anything is printed; the kernel filter
# options are refused with -r.  No sockets needed.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

run "$TCPSTATE" list --debug-filter dport = :443
expect "debug-filter: one port test, exit 0, no stderr" 0
if printf '%s\n' "$out" | grep -q '^bytecode: 8 bytes' &&
	printf '%s\n' "$out" | grep -Eq '^ +0  dport == 443  true: accept  false: reject$' &&
	! printf '%s\n' "$out" | grep -q '^State '; then
	pass "debug-filter: prints the program, not the table"
else
	fail "debug-filter: prints the program, not the table" "got: $out"
fi

run "$TCPSTATE" list --debug-filter sport gt :1000 and sport lt :2000
printf '%s\n' "$out" | grep -Eq '^ +0  sport >= 1001  true: 8  false: reject$' &&
	printf '%s\n' "$out" | grep -Eq '^ +8  sport <= 1999  true: accept  false: reject$' &&
	pass "debug-filter: a port range is two tests, > and < as >= and <=" ||
	fail "debug-filter: a port range is two tests, > and < as >= and <=" "got: $out"

run "$TCPSTATE" list --debug-filter '(' state established and dport = :80 ')' or '(' state close-wait and dport = :81 ')'
printf '%s\n' "$out" | grep -q '^left to user space: state ESTABLISHED, state CLOSE-WAIT' &&
	printf '%s\n' "$out" | grep -q '^states asked of the kernel: ESTABLISHED CLOSE-WAIT$' &&
	pass "debug-filter: undecided state tests are named as left to user space" ||
	fail "debug-filter: undecided state tests are named as left to user space" "got: $out"

run "$TCPSTATE" list --debug-filter state listening
printf '%s\n' "$out" | grep -q '^bytecode: none: the state mask is all the kernel can test$' &&
	pass "debug-filter: a state filter needs no program" ||
	fail "debug-filter: a state filter needs no program" "got: $out"

run "$TCPSTATE" list --debug-filter dport = :99999
expect "debug-filter: a bad filter is a usage error" 2 'port must be a number from 0 to 65535'
[ -z "$out" ] && pass "debug-filter: a bad filter prints nothing on stdout" ||
	fail "debug-filter: a bad filter prints nothing on stdout" "stdout not empty"

for opt in --debug-filter --no-kernel-filter; do
	run "$TCPSTATE" list -r /dev/null "$opt"
	expect "list -r refuses $opt" 2 'the kernel filter options are for the kernel view'
done
finish
