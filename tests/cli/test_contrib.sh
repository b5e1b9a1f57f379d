#!/usr/bin/env bash
# contrib/: the Prometheus rules and the systemd unit.
#  - promtool accepts the rules and their unit tests pass;
#  - the unit tests can fail: mutants of alerts.yml (a threshold moved past
#    a near-miss, a join that pairs the wrong series, a shorter `for:`, an
#    extra label or annotation) each make `promtool test rules` fail, naming
#    the rule; every alert has a test, `for:`, a severity and its texts;
#  - the unit verifies clean (systemd-analyze verify prints nothing), its
#    hardening directives are there, CAP_SYS_ADMIN only in comments, and the
#    options it passes exist in `tcpstate export --help`.
# Missing promtool or systemd-analyze: those cases skip, saying so.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

P=contrib/prometheus
UNIT=contrib/systemd/tcpstate-export.service
touch "$T/out" "$T/err" # fail() shows them, before any run() too
alerts=$(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+) *$/\1/p' "$P/alerts.yml")

# ---- the rules' shape (no promtool needed) ------------------------------
[ -n "$alerts" ] && pass "alerts.yml: alerts found ($(wc -w <<<"$alerts"))" ||
	fail "alerts.yml: alerts found" "no '- alert:' line"
for a in $alerts; do
	# The alert's block: from its line to the next rule.
	blk=$(awk -v a="$a" '$0 ~ "^ *- (alert|record): " { on = ($0 ~ "- alert: " a "$") } on' \
		"$P/alerts.yml")
	missing=
	for k in 'for:' 'severity:' 'summary:' 'description:' 'runbook: doc/metrics.md#'; do
		grep -q "^ *$k" <<<"$blk" || missing="$missing $k"
	done
	[ -z "$missing" ] && pass "$a: has for, severity, summary, description, runbook" ||
		fail "$a: has for, severity, summary, description, runbook" "missing:$missing"
	grep -qE "^ *alertname: $a *$" "$P/alerts_test.yml" && pass "$a: has a unit test" ||
		fail "$a: has a unit test" "no 'alertname: $a' in alerts_test.yml"
done

# The runbook links point at doc/metrics.md's sections (GitHub's anchors:
# the heading lower-cased, punctuation but - and _ dropped, spaces to -).
if [ -f doc/metrics.md ]; then
	anchors=$(sed -nE 's/^#+ +//p' doc/metrics.md | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g')
	missing=
	for r in $(sed -nE 's/^ *runbook: *doc\/metrics\.md#([^ ]+) *$/\1/p' "$P/alerts.yml" | sort -u); do
		grep -qx -- "$r" <<<"$anchors" || missing="$missing $r"
	done
	[ -z "$missing" ] && pass "runbook links name sections of doc/metrics.md" ||
		fail "runbook links name sections of doc/metrics.md" "no heading for:$missing"
else
	echo "SKIP: runbook links name sections of doc/metrics.md: doc/metrics.md not written yet"
fi

# ---- promtool ------------------------------------------------------------
# mutant RULE REGEX REPL: $T/m/alerts.yml is alerts.yml with REGEX replaced
# by REPL (Python re, multi-line) in RULE's block only, where it must match
# exactly once: a mutant that no longer applies fails loudly instead of
# testing nothing.
mutant() {
	python3 - "$P/alerts.yml" "$T/m/alerts.yml" "$@" <<-'EOF'
		import re, sys
		src, dst, rule, pat, repl = sys.argv[1:]
		text = open(src).read()
		starts = [m.start() for m in re.finditer(r"^ *- (alert|record): ", text, re.M)] + [len(text)]
		for s, e in zip(starts, starts[1:]):
		    if re.match(r" *- (alert|record): " + re.escape(rule) + r"\s*$", text[s:e].split("\n")[0]):
		        blk, n = re.subn(pat, repl, text[s:e], flags=re.M)
		        if n != 1:
		            sys.exit("%s: /%s/ matched %d times" % (rule, pat, n))
		        open(dst, "w").write(text[:s] + blk + text[e:])
		        sys.exit(0)
		sys.exit("no rule " + rule)
	EOF
}

# caught NAME RULE REGEX REPL: the mutant fails `promtool test rules`, and
# the failure names RULE (the rule that changed, or the alert it feeds: the
# 5th argument when given).
caught() {
	local name=$1 rule=$2 shown=${5:-$2}
	if ! mutant "$rule" "$3" "$4" 2>"$T/err"; then
		fail "mutant caught: $name" "mutation does not apply: $(cat "$T/err")"
		return
	fi
	if (cd "$T/m" && promtool test rules alerts_test.yml) >"$T/out" 2>&1; then
		fail "mutant caught: $name" "promtool test rules passes with it"
	elif ! grep -qE "(alertname|rule): $shown," "$T/out"; then
		fail "mutant caught: $name" "the failure does not name $shown"
	else
		pass "mutant caught: $name"
	fi
}

if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool check rules: promtool not installed (Debian: prometheus; sh tools/deps.sh)"
	echo "SKIP: promtool test rules and its mutants: promtool not installed"
else
	run promtool check rules "$P/alerts.yml"
	[ "$rc" -eq 0 ] && pass "promtool check rules alerts.yml" ||
		fail "promtool check rules alerts.yml" "exit $rc"
	# From the folder, as README.md says: rule_files is relative to it.
	run sh -c "cd $P && promtool test rules alerts_test.yml"
	[ "$rc" -eq 0 ] && grep -q SUCCESS "$T/out" && pass "promtool test rules alerts_test.yml" ||
		fail "promtool test rules alerts_test.yml" "exit $rc"

	mkdir -p "$T/m" && cp "$P/alerts_test.yml" "$T/m/"
	# Every alert: fires with exactly its labels and annotations (an extra
	# one fails), and is checked before its `for:` ends (none fails).
	for a in $alerts; do
		caught "$a: an extra label" "$a" '^( *)labels:\n' '\g<0>\1  mutant: "1"\n'
		caught "$a: an extra annotation" "$a" '^( *)annotations:\n' '\g<0>\1  mutant: "1"\n'
		caught "$a: for: 0s" "$a" '^( *)for: \S+$' '\1for: 0s'
	done
	# Each near-miss sits just past its threshold or join: moving either
	# makes it fire (or the rule fail).
	caught "a stale (not aging) CLOSE-WAIT reading" TcpstateCloseWaitLeak \
		'deriv15m > 0\.9$' 'deriv15m > -1'
	caught "CLOSE-WAIT: 10 minutes old fires before 30 minutes of aging" TcpstateCloseWaitLeak \
		'_seconds > 900$' '_seconds > 600'
	caught "ports: 79% of the range" TcpstateEphemeralPortsNearExhaustion \
		'ratio > 0\.8$' 'ratio > 0.78'
	caught "ports: the range of another namespace" tcpstate:ephemeral_ports_in_use:ratio \
		'ignoring\(source, destination\)' 'ignoring(source, destination, netns, netns_inode, container)'
	caught "ports: the range of another job" tcpstate:ephemeral_ports_in_use:ratio \
		'ignoring\(source, destination\) group_left\(\)' 'on(instance, netns, netns_inode, container) group_left()'
	caught "TIME-WAIT: 79.7% of the limit" TcpstateTimeWaitNearLimit \
		'ratio > 0\.8$' 'ratio > 0.79'
	caught "TIME-WAIT: other states counted" tcpstate:time_wait:ratio \
		'tcpstate_sockets\{state="time_wait"\}\n( *)/ ignoring\(state\)' \
		'sum without(state) (tcpstate_sockets)\n\1/' TcpstateTimeWaitNearLimit
	caught "TIME-WAIT: a limit of 0 divided by" tcpstate:time_wait:ratio \
		'\(tcpstate_time_wait_limit > 0\)' 'tcpstate_time_wait_limit' TcpstateTimeWaitNearLimit
	caught "accept queue: backlog 0, empty queue" TcpstateAcceptQueueFull \
		'tcpstate_listen_queue_length > 0$' 'tcpstate_listen_queue_length >= 0'
	caught "accept queue: 78.9% of the backlog" TcpstateAcceptQueueNearlyFull \
		'ratio >= 0\.8$' 'ratio >= 0.78'
	caught "refused: a rise to 0.5/s" TcpstateRefusedConnectionsRising \
		'rate5m > 1$' 'rate5m > 0.4'
	caught "refused: a steady 5/s" TcpstateRefusedConnectionsRising '> 3 \* rate' '> 0.9 * rate'
	caught "resets: a rise to 8/s" TcpstateResetsRising 'rate5m > 10$' 'rate5m > 7'
	caught "resets: a steady 30/s" TcpstateResetsRising '> 3 \* rate' '> 0.9 * rate'
	caught "exporter errors: one error" TcpstateExporterErrors '^( *)for: 10m$' '\1for: 4m'
	caught "truncation: once" TcpstateSeriesTruncated '^( *)for: 30m$' '\1for: 9m'
fi

# ---- the systemd unit ----------------------------------------------------
missing=
for d in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
	'ProtectKernelTunables=yes' 'ProtectControlGroups=yes' 'DynamicUser=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET' \
	'CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE' \
	'AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE' \
	'SystemCallFilter=@system-service' 'MemoryMax=[0-9]+[KMG]' 'Restart=on-failure' \
	'ExecStart=/usr/local/bin/tcpstate export --listen 127\.0\.0\.1:9814'; do
	grep -qxE -- "$d" "$UNIT" || missing="$missing '$d'"
done
[ -z "$missing" ] && pass "unit: hardening directives present" ||
	fail "unit: hardening directives present" "missing:$missing"
# CAP_SYS_ADMIN and CAP_NET_RAW: only in the commented -A and -i variants.
active=$(grep -v '^#' "$UNIT" | grep -E 'CAP_SYS_ADMIN|CAP_NET_RAW')
[ -z "$active" ] && grep -q '^#.*CAP_SYS_ADMIN' "$UNIT" && grep -q '^#.*CAP_NET_RAW' "$UNIT" &&
	pass "unit: CAP_SYS_ADMIN and CAP_NET_RAW only in the commented variants" ||
	fail "unit: CAP_SYS_ADMIN and CAP_NET_RAW only in the commented variants" "active: $active"

# The options the unit passes (its variants too) are export's.
if "$TCPSTATE" export --help >"$T/help" 2>/dev/null; then
	missing=
	for o in $(sed -nE 's/^#?ExecStart=[^ ]+ export //p' "$UNIT" | grep -oE -- '(^| )-[-A-Za-z]+'); do
		grep -qE -- "(^|[ ,])$o([ ,=]|$)" "$T/help" || missing="$missing $o"
	done
	[ -z "$missing" ] && pass "unit: ExecStart's options are export's" ||
		fail "unit: ExecStart's options are export's" "not in export --help:$missing"
else
	echo "SKIP: unit: ExecStart's options are export's: this tcpstate has no export command"
fi

# verify_unit FILE: systemd-analyze verify on FILE with ExecStart on this
# build and the man page of this tree (Documentation=man:tcpstate(1)).
verify_unit() {
	mkdir -p "$T/man/man1" "$T/v"
	cp tcpstate.1 "$T/man/man1/"
	sed "s|/usr/local/bin/tcpstate|$(realpath "$TCPSTATE")|" "$1" >"$T/v/tcpstate-export.service"
	MANPATH=$T/man systemd-analyze verify "$T/v/tcpstate-export.service" >"$T/out" 2>&1
}
if command -v systemd-analyze >/dev/null; then
	# verify reports a misspelt directive only as a warning (exit 0): the
	# check below must see it.
	sed 's/^ProtectClock=yes/ProtectClok=yes/' "$UNIT" >"$T/bad.service"
	verify_unit "$T/bad.service"
	grep -q "ProtectClok" "$T/out" && pass "unit: the verify check catches a misspelt directive" ||
		fail "unit: the verify check catches a misspelt directive" "$(head -c 300 "$T/out")"
	verify_unit "$UNIT"
	rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$T/out" ] && pass "unit: systemd-analyze verify is clean" ||
		fail "unit: systemd-analyze verify is clean" "exit $rc: $(head -c 300 "$T/out")"
	# The exposure score systemd gives it (0 best, 10 worst): a directive
	# dropped by mistake raises it.
	if systemd-analyze security --offline=true "$T/v/tcpstate-export.service" >"$T/out" 2>&1; then
		lvl=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' "$T/out")
		awk -v l="$lvl" 'BEGIN { exit !(l != "" && l + 0 <= 2.5) }' &&
			pass "unit: systemd-analyze security exposure $lvl (at most 2.5)" ||
			fail "unit: systemd-analyze security exposure at most 2.5" "got '$lvl'"
	else
		echo "SKIP: unit: systemd-analyze security: no --offline (systemd before 250)"
	fi
else
	echo "SKIP: unit: systemd-analyze verify: systemd-analyze not installed"
fi
finish
