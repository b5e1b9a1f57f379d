#!/usr/bin/env bash
# The man page, --help and the completions all come from the command
# table: this fails when a command or option exists in the binary but not
# in one of them, and when the man page does not lint clean.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

run sh tools/genman.sh --check tcpstate.1 "$TCPSTATE"
[ "$rc" -eq 0 ] && pass "man page generated parts are up to date" ||
	fail "man page generated parts are up to date" "run 'make man'"

if command -v mandoc >/dev/null; then
	run mandoc -Tlint -Wall tcpstate.1
	[ "$rc" -eq 0 ] && [ -z "$out$err" ] && pass "man page lints clean (mandoc)" ||
		fail "man page lints clean (mandoc)" "$out $err"
else
	echo "SKIP: man page lints clean (mandoc): mandoc not installed"
fi
run groff -man -ww -z tcpstate.1
[ "$rc" -eq 0 ] && [ -z "$err" ] && pass "man page lints clean (groff -ww)" ||
	fail "man page lints clean (groff -ww)" "$err"

# Every command: a section in the page, a line in --help, a completion.
cmds=$("$TCPSTATE" __complete "" | grep -v '^-')
for c in $cmds; do
	grep -q "^\.SS \"tcpstate $c " tcpstate.1 && pass "man: section for $c" ||
		fail "man: section for $c" "no .SS"
	"$TCPSTATE" --help | grep -q "^  $c " && pass "--help: lists $c" || fail "--help: lists $c" ""
	# Every option in the command's --help is completed and is in the page.
	opts=$("$TCPSTATE" "$c" --help | grep -oE '^  (-[A-Za-z0-9], )?--[a-z0-9-]+' |
		grep -oE -- '--[a-z0-9-]+$')
	comp=$("$TCPSTATE" __complete "$c" -)
	missing=
	for o in $opts; do
		grep -qx -- "$o" <<<"$comp" || missing="$missing completion:$o"
		esc=$(sed 's/-/\\\\-/g' <<<"$o")
		grep -q -- "fB$esc" tcpstate.1 || missing="$missing man:$o"
	done
	[ -z "$missing" ] && [ -n "$opts" ] && pass "$c: every option completed and documented" ||
		fail "$c: every option completed and documented" "missing:$missing"
	# Every short option (list -t -n for ss habits, ...) is completed and sits
	# in the command's own synopsis.
	# (-h is offered as --help.)
	shorts=$("$TCPSTATE" "$c" --help | grep -oE '^  -[A-Za-z0-9]\b' | grep -oE -- '-[A-Za-z0-9]$' |
		grep -vx -- -h)
	[ -n "$shorts" ] || continue
	synopsis=$(awk -v c="$c" '/^\.SY tcpstate$/ { getline; on = ($0 == ".B " c) }
		on && /^\.YS$/ { on = 0 } on' tcpstate.1)
	missing=
	for o in $shorts; do
		grep -qx -- "$o" <<<"$comp" || missing="$missing completion:$o"
		grep -qE -- "^\.OP \\\\$o( |$)" <<<"$synopsis" || missing="$missing synopsis:$o"
	done
	[ -z "$missing" ] && pass "$c: every short option completed and in the synopsis" ||
		fail "$c: every short option completed and in the synopsis" "missing:$missing"
done

# bash: load the script and complete as a user would.
PATH=$(dirname "$TCPSTATE"):$PATH bash -c '
	. completions/tcpstate.bash
	complete -p tcpstate >/dev/null || { echo "FAIL: bash: complete -p"; exit 1; }
	c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _tcpstate; echo "${COMPREPLY[*]}"; }
	r=$(c tcpstate li);                [[ $r == list ]] && echo "PASS: bash: subcommand" || echo "FAIL: bash: subcommand: $r"
	r=$(c tcpstate list state clos);   [[ $r == "closed close-wait closing" ]] && echo "PASS: bash: state names after state" || echo "FAIL: bash: state names: $r"
	r=$(c tcpstate list exclude syn-); [[ $r == "syn-sent syn-recv" ]] && echo "PASS: bash: state names after exclude" || echo "FAIL: bash: exclude: $r"
	r=$(c tcpstate list --sum);        [[ $r == --summary ]] && echo "PASS: bash: long option" || echo "FAIL: bash: long option: $r"
	r=$(c tcpstate list sp);           [[ $r == sport ]] && echo "PASS: bash: filter keyword" || echo "FAIL: bash: filter keyword: $r"
	r=$(c tcpstate list --load-dump tests/data/ns1.nl); [[ $r == tests/data/ns1.nldump ]] && echo "PASS: bash: file after --load-dump" || echo "FAIL: bash: files: $r"
	r=$(c tcpstate tune set fin-t);    [[ $r == fin-timeout= ]] && echo "PASS: bash: tune set offers knob=" || echo "FAIL: bash: tune set: $r"
	r=$(c tcpstate tune show fin-t);   [[ $r == fin-timeout ]] && echo "PASS: bash: tune show offers the knob" || echo "FAIL: bash: tune show: $r"
	# bash splits --opt=arg at "=": the scan for the tune action must not take arg for it.
	r=$(c tcpstate tune --rollback-file = /tmp/x set fin-t); [[ $r == fin-timeout= ]] && echo "PASS: bash: tune --opt=arg set offers knob=" || echo "FAIL: bash: tune --opt=arg set: $r"
	r=$(c tcpstate top --sort r);      [[ $r == "recv-q rtt retrans" ]] && echo "PASS: bash: sort columns after --sort" || echo "FAIL: bash: --sort: $r"
	r=$(c tcpstate tune -n "");        [[ $r == "show set revert guide" ]] && echo "PASS: bash: tune actions after a flag" || echo "FAIL: bash: tune -n: $r"
' >"$T/bash.out" 2>&1
cat "$T/bash.out"
grep -q '^FAIL' "$T/bash.out" && failed=1

# A command's own words (tune's actions and --os systems, explain's topics)
# are one list each: what is completed is what the synopsis, --help and the
# messages name, and each completed word is accepted.
words() { tr -s ' |,[]()' '\n' | grep -v -e '^$' -e '^or$' | tr '\n' ' '; }
same() { # NAME WANT GOT
	[ "$2" = "$3" ] && pass "$1" || fail "$1" "completed '$2', named '$3'"
}
acts=$("$TCPSTATE" __complete tune "" | words)
same "tune: actions completed = synopsis" "$acts" \
	"$("$TCPSTATE" tune --help | sed -n 's/^Usage: tcpstate tune \[OPTIONS\] \([^ ]*\) .*/\1/p' | words)"
same "tune: actions completed = unknown-action message" "$acts" \
	"$("$TCPSTATE" tune nope 2>&1 | sed -n 's/.*(\(.*\)) (see.*/\1/p' | words)"
oses=$("$TCPSTATE" __complete tune --os "" | words)
same "tune: --os systems completed = --help" "$oses" \
	"$("$TCPSTATE" tune --help | sed -n 's/.*--os OS *guide: \(.*\) (default: all)$/\1/p' | words)"
same "tune: --os systems completed = unknown-system message" "$oses" \
	"$("$TCPSTATE" tune guide --os nope 2>&1 | sed -n 's/.*(\(.*\)) (see.*/\1/p' | words)"
topics=$("$TCPSTATE" __complete explain "" | head -n 4 | words)
same "explain: topics completed = synopsis" "STATE $topics" \
	"$("$TCPSTATE" explain --help | sed -n 's/^Usage: tcpstate explain \[OPTIONS\] //p' | words)"
same "explain: topics completed = unknown-topic message" "a state $topics" \
	"$("$TCPSTATE" explain nope 2>&1 | sed -n 's/.*(\(.*\)) (see.*/\1/p' | words)"
bad=
for w in $oses; do "$TCPSTATE" tune guide --os "$w" >/dev/null 2>&1 || bad="$bad os:$w"; done
for w in $("$TCPSTATE" __complete explain ""); do "$TCPSTATE" explain "$w" >/dev/null 2>&1 || bad="$bad topic:$w"; done
[ -z "$bad" ] && pass "completed --os systems and explain topics are accepted" ||
	fail "completed --os systems and explain topics are accepted" "refused:$bad"

# Namespaces after -N come from /run/netns (needs root to make one).
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
	ns=tcpstate-comp-$$
	if ip netns add "$ns" 2>/dev/null; then
		r=$("$TCPSTATE" __complete list -N tcpstate-comp-)
		ip netns del "$ns"
		[ "$r" = "$ns" ] && pass "completion: namespaces after -N" ||
			fail "completion: namespaces after -N" "got '$r'"
	else
		echo "SKIP: completion: namespaces after -N: cannot create a namespace"
	fi
else
	echo "SKIP: completion: namespaces after -N: needs root"
fi
finish
