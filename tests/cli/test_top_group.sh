#!/usr/bin/env bash
# top --group: the grouping batch output starts with (the g key's, on a
# screen).  A word it does not know is a usage error naming the words, and
# prints nothing on stdout; a known one prints the groups' title, not the
# table's; completion offers the words.  No sockets needed: any table has
# a title line, even an empty one.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

run "$TCPSTATE" top -b -n 1 --group frob
expect "top: --group with an unknown word names the words" 2 \
	'^tcpstate top: --group: unknown grouping "frob" \(process, host, state, netns\)'
[ -z "$out" ] && pass "top: bad --group prints nothing on stdout" ||
	fail "top: bad --group prints nothing on stdout" "stdout not empty"

for by in process host state; do
	run "$TCPSTATE" top -b -n 1 --group "$by"
	title=$(printf '%s\n' "$out" | grep -E '^Grouped by ')
	case $by in host) want="remote host" ;; *) want=$by ;; esac
	if [ "$rc" -eq 0 ] && printf '%s\n' "$title" | grep -Eq "^Grouped by $want: [0-9]+ groups?$" &&
		! printf '%s\n' "$out" | grep -q '^State '; then
		pass "top: --group $by prints the groups, not the table"
	else
		fail "top: --group $by prints the groups, not the table" "exit $rc, title '$title'"
	fi
done

run "$TCPSTATE" __complete top --group ''
[ "$(printf '%s\n' "$out" | tr '\n' ' ')" = "process host state netns " ] &&
	pass "top: --group completes its words" || fail "top: --group completes its words" "got '$out'"
finish
