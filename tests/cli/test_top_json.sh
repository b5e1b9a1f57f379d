#!/usr/bin/env bash
# top -b --json and --no-wire without root or a namespace (tests/netns/
# test_top_json.py checks the frames against the kernel): --json wants -b
# and no --group, --no-wire no -i or -r (usage errors, exit 2, nothing on
# stdout); each frame is one line of JSON, --rows limits its rows; the
# wire is null with --no-wire and says why, a replay's has no kernel
# counters; a reader that goes away ends top quietly.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

run "$TCPSTATE" top --json
expect "top: --json without -b names both" 2 '^tcpstate top: --json applies to batch mode \(-b\)'
[ -z "$out" ] || fail "top: --json without -b prints nothing on stdout" "stdout not empty"
run "$TCPSTATE" top -b -n 1 --json --group process
expect "top: --json with --group" 2 '^tcpstate top: --json prints rows: it cannot be used with --group'
run "$TCPSTATE" top -b -n 1 --no-wire -i lo
expect "top: --no-wire with -i" 2 '^tcpstate top: --no-wire and -i cannot be used together'
run "$TCPSTATE" top -b -n 1 --no-wire -r tests/pcap/data/one-connection.pcap
expect "top: --no-wire with -r" 2 '^tcpstate top: --no-wire and -r cannot be used together'
[ -z "$out" ] || fail "top: usage errors print nothing on stdout" "stdout not empty"

# check NAME PYTHON: the last run's stdout, one JSON frame a line, holds for
# the python expression over `frames` (a list of the parsed lines).
check() {
	if python3 -c '
import json, sys
frames = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$T/out" "$2" 2>>"$T/err"; then
		pass "$1"
	else
		fail "$1" "not true of the frames: $2"
	fi
}

run "$TCPSTATE" top -b -n 2 -d 0.05 --json --no-wire
expect "top: -b --json --no-wire runs, quietly" 0
check "top: --json prints one frame a line, wire null and why" \
	'len(frames) == 2 and all(f["wire"] is None and f["wire_off_reason"] == "--no-wire" and
	 isinstance(f["ts"], float) and isinstance(f["rows"], list) for f in frames) and
	 frames[0]["ts"] < frames[1]["ts"]'

run "$TCPSTATE" top -b -n 1 --json --no-wire --rows 1
expect "top: --json --rows 1 runs" 0
check "top: --rows limits the rows of a JSON frame" \
	'len(frames) == 1 and len(frames[0]["rows"]) == min(1, frames[0]["rows_matching"])'

run "$TCPSTATE" top -b -n 1 --json -r tests/pcap/data/one-connection.pcap
expect "top: --json -r runs" 0
check "top: a replay's wire names the file, without kernel counters" \
	'len(frames) == 1 and frames[0]["wire"]["source"] == "tests/pcap/data/one-connection.pcap"
	 and frames[0]["wire"]["kernel_received"] is None and
	 frames[0]["wire"]["kernel_dropped"] is None and "wire_off_reason" not in frames[0]'

# The reader takes one frame and goes: top ends by SIGPIPE (141) where it
# has its default action, with 0 where it is ignored; never a word.
"$TCPSTATE" top -b -d 0.05 --json --no-wire 2>"$T/err" | head -n 1 >"$T/out"
rc=${PIPESTATUS[0]}
if { [ "$rc" -eq 141 ] || [ "$rc" -eq 0 ]; } && [ ! -s "$T/err" ] && [ "$(wc -l <"$T/out")" -eq 1 ]; then
	pass "top: --json into a pipe that closes ends quietly"
else
	fail "top: --json into a pipe that closes ends quietly" "exit $rc"
fi

finish
