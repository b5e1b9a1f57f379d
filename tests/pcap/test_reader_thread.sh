#!/usr/bin/env bash
# A file is read on its own thread when there are two CPUs (wire.c,
# run_threaded).  Everything it prints must be what the single-threaded path
# prints (taskset -c 0 leaves one CPU, so tcpstate reads in-line): here on a
# generated trace of many hand-overs between the threads (the ring holds
# 16384 segments: the trace goes round it six times), with --at cutting it
# short mid-file, and on a file cut short mid-record (a read error inside
# the reader thread, after which the whole records' listing is printed).
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
# shellcheck source=tests/pcap/lib.sh
. "$REPO/tests/pcap/lib.sh"
test_start "reader thread" reader

if ! command -v taskset >/dev/null || [ "$(nproc)" -lt 2 ]; then
	echo "SKIP: reader thread: needs taskset and two CPUs (nproc: $(nproc))"
	exit 0
fi
cc -O2 -o "$T/mktrace" "$REPO/bench/mktrace.c" || {
	fail "build" "bench/mktrace.c did not compile"
	exit 1
}
# 4000 connections, 300 open at once: about 100 000 packets.
meta=$("$T/mktrace" -n 4000 -k 300 -p 25 -g 100 "$T/t.pcap" 2>/dev/null)
# The same file cut short mid-record.
head -c $(($(stat -c %s "$T/t.pcap") / 2 + 7)) "$T/t.pcap" >"$T/cut.pcap"

both() { # name args...: run threaded and single, compare stdout, stderr, exit
	local name=$1
	shift
	TZ=UTC "$TCPSTATE" "$@" >"$T/a.out" 2>"$T/a.err"
	local ra=$?
	TZ=UTC taskset -c 0 "$TCPSTATE" "$@" >"$T/b.out" 2>"$T/b.err"
	local rb=$?
	if [ $ra -ne $rb ]; then
		fail "$name" "exit $ra threaded, $rb single"
	elif ! cmp -s "$T/a.out" "$T/b.out"; then
		fail "$name" "stdout differs: $(diff "$T/a.out" "$T/b.out" | head -3)"
	elif ! cmp -s "$T/a.err" "$T/b.err"; then
		fail "$name" "stderr differs: $(cat "$T/a.err") / $(cat "$T/b.err")"
	elif [ ! -s "$T/a.out" ] && [ ! -s "$T/a.err" ]; then
		fail "$name" "printed nothing"
	else
		pass "$name"
	fi
}

both "list --json" list -r "$T/t.pcap" --json
both "list --summary" list -r "$T/t.pcap" --summary
both "list --json --zeek" list -r "$T/t.pcap" --json --zeek
both "list --at mid-file" list -r "$T/t.pcap" --json --at +5.5
both "watch --json" watch -r "$T/t.pcap" --json
both "read error mid-file" list -r "$T/cut.pcap" --summary
# What the whole records before the cut list, as tcpdump copies them: the
# broken file lists exactly that, then reports its error.
if command -v tcpdump >/dev/null; then
	tcpdump -r "$T/cut.pcap" -w "$T/whole.pcap" 2>/dev/null
	"$TCPSTATE" list -r "$T/whole.pcap" --summary >"$T/w.out" 2>&1
	grep -q 'truncated dump file' "$T/a.err" && [ -s "$T/a.out" ] &&
		cmp -s "$T/a.out" "$T/w.out" &&
		pass "read error mid-file: the whole records' listing, then the error" ||
		fail "read error mid-file: the whole records' listing, then the error" \
			"$(head -c 200 "$T/a.err"); $(diff "$T/a.out" "$T/w.out" | head -4)"
else
	echo "SKIP: reader thread: read error mid-file against the whole records: needs tcpdump"
fi
# The threaded run must have read the whole file: every packet counted.
pk=$("$TCPSTATE" list -r "$T/t.pcap" --summary | sed -nE 's/^Packets: ([0-9]+) read.*/\1/p')
want=$(sed -nE 's/^packets=([0-9]+) .*/\1/p' <<<"$meta")
[ -n "$pk" ] && [ "$pk" = "$want" ] && pass "every packet read ($pk)" ||
	fail "every packet read" "read ${pk:-?}, generated ${want:-?}"
exit $failed
