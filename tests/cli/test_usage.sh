#!/usr/bin/env bash
# Usage, help, version and bad input: messages, exit codes, stdout kept clean.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

run "$TCPSTATE" --version
[ "$rc" -eq 0 ] && [[ "$out" =~ ^tcpstate\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && pass "--version" ||
	fail "--version" "rc=$rc out=$out"

run "$TCPSTATE" --help
[ "$rc" -eq 0 ] && grep -q '^  list ' "$T/out" && [ ! -s "$T/err" ] && pass "--help lists commands on stdout" ||
	fail "--help lists commands on stdout" "rc=$rc"

# No command runs top, which needs a terminal (tests have none): exit 2.
run "$TCPSTATE"
expect "no command runs top; without a terminal, exit 2" 2 '^tcpstate top: the screen needs a terminal; use -b'
run "$TCPSTATE" -b -n 1 -d 0.1
[ "$rc" -eq 0 ] && grep -q '^tcpstate top - ' "$T/out" && pass "options alone run top (-b -n 1)" ||
	fail "options alone run top (-b -n 1)" "rc=$rc"

run "$TCPSTATE" frobnicate
expect "unknown command" 2 '^tcpstate: unknown command "frobnicate"'

# Subcommands match exactly, never by prefix.
run "$TCPSTATE" lis
expect "command prefix is not a command" 2 '^tcpstate: unknown command "lis"'

run "$TCPSTATE" --frob
expect "unknown option goes to top and is refused" 2 '^tcpstate top: unknown option "--frob"'

run "$TCPSTATE" top --rows 5
expect "top: --rows without -b" 2 '^tcpstate top: --rows applies to batch mode \(-b\)'
run "$TCPSTATE" top -b --rows 0
expect "top: --rows 0" 2 '^tcpstate top: --rows: invalid count "0"'
run "$TCPSTATE" top -b -n 1 --sort frob
expect "top: --sort with an unknown column names the columns" 2 '^tcpstate top: --sort: unknown column "frob" \(state, local, peer, process, age, recv-q, send-q, rtt, retrans\)'
[ -z "$out" ] || fail "top: bad --sort prints nothing on stdout" "stdout not empty"

for cmd in top list watch; do
	run "$TCPSTATE" "$cmd" --help
	[ "$rc" -eq 0 ] && grep -q "^Usage: tcpstate $cmd" "$T/out" && [ ! -s "$T/err" ] &&
		pass "$cmd --help" || fail "$cmd --help" "rc=$rc"
	run "$TCPSTATE" "$cmd" -h
	[ "$rc" -eq 0 ] && grep -q "^Usage: tcpstate $cmd" "$T/out" && pass "$cmd -h" || fail "$cmd -h" "rc=$rc"
done

run "$TCPSTATE" list --frob
expect "list: unknown long option" 2 '^tcpstate list: unknown option "--frob" \(see .tcpstate list --help.\)$'
[ -z "$out" ] || fail "list: unknown option prints nothing on stdout" "stdout not empty"

run "$TCPSTATE" list -aZ
expect "list: unknown short option in a bundle" 2 '^tcpstate list: unknown option "-Z"'

# Long options match exactly too: --listen is not --listening.
run "$TCPSTATE" list --listen
expect "list: long option prefix refused" 2 'unknown option "--listen"'

# Every option of every command's table reaches its command: `CMD OPT x
# --help` parses OPT (x is its value, or a positional), then shows the help.
# Exit 0; or 2 with one line naming what was wrong with x.  Never a silent
# exit 1 (list -t and -n once fell through to the capture options and did
# that), never the parser's message for a table entry without a handler.
unhandled=
for cmd in $("$TCPSTATE" __complete ''); do
	case $cmd in -*) continue ;; esac
	for opt in $("$TCPSTATE" __complete "$cmd" -); do
		[ "$opt" = --help ] && continue
		run "$TCPSTATE" "$cmd" "$opt" x --help
		if [ "$rc" -eq 0 ] && grep -q "^Usage: tcpstate $cmd" "$T/out"; then
			continue
		fi
		if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && ! grep -q 'not handled' "$T/err"; then
			continue
		fi
		unhandled="$unhandled $cmd $opt (exit $rc: $err);"
	done
done
[ -z "$unhandled" ] && pass "every option in the tables is handled by its command" ||
	fail "every option in the tables is handled by its command" "$unhandled"

# ss habits: accepted, and changing nothing (a dump replays the same rows).
run "$TCPSTATE" list -a --load-dump tests/data/ns1.nldump
base=$out
for habit in "-tan" "-t -a -n" "--tcp --numeric -a" "-ant" "-nat"; do
	# shellcheck disable=SC2086
	run "$TCPSTATE" list $habit --load-dump tests/data/ns1.nldump
	[ "$rc" -eq 0 ] && [ ! -s "$T/err" ] && [ -n "$out" ] && [ "$out" = "$base" ] &&
		pass "list $habit: the rows of list -a" || fail "list $habit: the rows of list -a" "rc=$rc"
done
run "$TCPSTATE" list -tanq
expect "list: an unknown letter in an ss bundle is named" 2 '^tcpstate list: unknown option "-q" \(see .tcpstate list --help.\)$'
run "$TCPSTATE" list -t --tcpp
expect "list: an unknown long option after -t is named" 2 '^tcpstate list: unknown option "--tcpp"'

run "$TCPSTATE" list -N
expect "list: -N without its argument" 2 '^tcpstate list: -N needs an argument \(NAME\)'

run "$TCPSTATE" list --json=yes
expect "list: flag given a value" 2 '^tcpstate list: --json takes no argument'

run "$TCPSTATE" list -N ../etc
expect "list: namespace name with a slash" 2 '^tcpstate list: -N: invalid namespace name "../etc"'

run "$TCPSTATE" list -N x --load-dump tests/data/ns1.nldump
expect "list: -N with --load-dump" 2 'cannot be used together'

run "$TCPSTATE" list -A -N x
expect "list: -A with -N" 2 '^tcpstate list: -A reads every namespace, -N one: not both'
run "$TCPSTATE" list -A --load-dump tests/data/ns1.nldump
expect "list: -A with --load-dump" 2 '^tcpstate list: -A cannot be used with --load-dump or --save-dump'
run "$TCPSTATE" list -A --ns ''
expect "list: --ns with an empty pattern" 2 '^tcpstate list: --ns: an empty pattern names no namespace'
run "$TCPSTATE" list --ns 'web*'
expect "list: --ns without -A" 2 '^tcpstate list: --ns picks among namespaces: it needs -A'
run "$TCPSTATE" list -A -r tests/data/ns1.nldump
expect "list: -A with -r" 2 '^tcpstate list: -r reads a capture: .*-A'

# Bad filters: exit 2, one line naming the token, nothing on stdout.
while IFS='|' read -r filter re; do
	# shellcheck disable=SC2086
	run "$TCPSTATE" list --load-dump tests/data/ns1.nldump $filter
	expect "bad filter: $filter" 2 "$re"
	[ -z "$out" ] || fail "bad filter prints nothing: $filter" "stdout not empty"
done <<'LIST'
state bogus|^tcpstate list: filter: token 2 "bogus": unknown state name
dport = :99999|token 3 ":99999": port must be a number from 0 to 65535
src not.an.address|token 2 "not.an.address": "not.an.address" is not a numeric
( state listen|at end: expected \)
state listen ) |token 3 "\)": unexpected token
bogus 1|token 1 "bogus": expected state, exclude, sport, dport, src, dst, dev, cgroup, fwmark, not or \(
dev tcpst-none0|token 2 "tcpst-none0": no such device 
dev = 2147483648|token 3 "2147483648": device index must be a number from 0 to 2147483647
cgroup /tcpstate-none|token 2 "/tcpstate-none": no (such cgroup under |cgroup2 file system is mounted)
cgroup|at end: expected a cgroup path
fwmark != 0x10/0xf0g|token 3 "0x10/0xf0g": the mask must be a number from 0 to 0xffffffff \(decimal or 0x hex\)
fwmark 0777|token 2 "0777": the mark has a leading 0 \(octal to ss\): write it in decimal or 0x hex
fwmark =|at end: expected a mark \(MARK or MARK/MASK\)
src [fe80::1]%d0:7000|token 2 "\[fe80::1\]%d0:7000": "%d0:7000" after \] is not :port or /prefix
src [::]xyz:6000|token 2 "\[::\]xyz:6000": "xyz:6000" after \] is not :port or /prefix
LIST

run "$TCPSTATE" list --load-dump /nonexistent/x.nldump
expect "list: missing dump file is a runtime error" 1 '^tcpstate list: /nonexistent/x.nldump: No such file or directory$'

printf 'garbage!' >"$T/bad.nldump"
run "$TCPSTATE" list --load-dump "$T/bad.nldump"
expect "list: not a dump file" 1 'not a tcpstate dump file'

# A dump cut short mid-record: an error, never a partial listing.
head -c 1000 tests/data/ns1.nldump >"$T/cut.nldump"
run "$TCPSTATE" list -a --load-dump "$T/cut.nldump"
expect "list: truncated dump file" 1 'truncated chunk'
[ -z "$out" ] || fail "list: truncated dump prints no partial rows" "stdout not empty"

# Output errors: a full disk is reported, exit 1.
"$TCPSTATE" list -a --load-dump tests/data/ns1.nldump >/dev/full 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q '^tcpstate list: write error: No space left on device$' "$T/err" &&
	pass "list: write error on a full disk" || fail "list: write error on a full disk" "rc=$rc $(cat "$T/err")"

# Netlink unavailable (shim makes AF_NETLINK sockets fail).
if [ -n "${NONETLINK:-}" ] && [ -f "$NONETLINK" ]; then
	ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD=$NONETLINK run "$TCPSTATE" list
	expect "list: netlink unavailable" 1 '^tcpstate list: netlink: cannot open sock_diag socket'
else
	echo "SKIP: list: netlink unavailable: NONETLINK shim not built (run via make check)"
fi

finish
