#!/usr/bin/env bash
# The engine takes most segments by a fast path that works on the table's
# packed entry (engine.c, fast_ack).  The check build (FASTCHECK, made by
# `make check`) also runs every segment the fast path took through the full
# path, compares the two entries and the counters, and aborts on the first
# difference; what it prints is therefore the full path's, and the real
# build must print the same.  Here it reads every capture of the suite and
# generated traces (short and whole snaplen, long connections) under the
# options that change what the engine does, and the fast path must be taken
# often enough for the comparison to mean something.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
: "${FASTCHECK:=$REPO/build/rel/tcpstate-fastcheck}"
# shellcheck source=tests/pcap/lib.sh
. "$REPO/tests/pcap/lib.sh"
test_start "fast path" fastpath

if [ ! -x "$FASTCHECK" ]; then
	fail "check build" "$FASTCHECK is missing (make build/rel/tcpstate-fastcheck)"
	exit 1
fi
cc -O2 -o "$T/mktrace" "$REPO/bench/mktrace.c" || {
	fail "build" "bench/mktrace.c did not compile"
	exit 1
}
"$T/mktrace" -n 3000 -k 300 -p 25 "$T/short.pcap" >/dev/null 2>&1
"$T/mktrace" -n 3000 -k 300 -p 25 -s 1514 -S 7 "$T/whole.pcap" >/dev/null 2>&1
# Long connections: gap counts past the short form's 255.
"$T/mktrace" -n 100 -k 50 -p 1500 -S 3 "$T/long.pcap" >/dev/null 2>&1
# A trace edited (tcpedit IN OUT SKIP):
# - its first SKIP packets left out, so that connections are picked up
#   mid-stream (the trace sends one packet of each of 300 connections in
#   turn: 450 cuts handshakes in two places, 1500 cuts after them);
# - every 7th segment advertises a zero window (W), and the next one a
#   window its checksum does not cover (ignored with --verify-checksums);
# - after the 30000th packet, time jumps by 970 ms: with the 30 ms between
#   a connection's packets, the next ones come exactly 1 s after the last,
#   on the boundary of --idle-timeout 1;
# - after the 60000th, it goes back 10 s, before every connection began.
tcpedit() {
	python3 - "$T/$1.pcap" "$T/$2.pcap" "$3" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], 'rb').read())
out, off, n, skip = bytearray(data[:24]), 24, 0, int(sys.argv[3])
while off + 16 <= len(data):
    incl = struct.unpack_from('<I', data, off + 8)[0]
    rec = bytearray(data[off:off + 16 + incl])
    if n % 7 in (3, 4) and rec[16 + 12:16 + 14] == b'\x08\x00':
        tcp = 16 + 14 + (rec[16 + 14] & 15) * 4
        rec[tcp + 14:tcp + 16] = b'\x00\x00' if n % 7 == 3 else b'\x01\x01'
    if n >= 30000:
        sec, usec = struct.unpack_from('<II', rec, 0)
        t = sec * 1000000 + usec + 970000 - (10000000 if n >= 60000 else 0)
        struct.pack_into('<II', rec, 0, t // 1000000, t % 1000000)
    if n >= skip:
        out += rec
    off, n = off + 16 + incl, n + 1
open(sys.argv[2], 'wb').write(out)
PY
}
tcpedit whole edited 0
tcpedit whole midstream 450
tcpedit whole midstream2 1500
tcpedit short midstream3 450

# Without --json (no durations kept) and without watch (no event hook), the
# fast path also takes the handshake's last ACK (SYN-RECEIVED to ESTABLISHED).
opts=(
	"list -a"
	"list -a --zeek --idle-timeout 1"
	"list -a --json"
	"list -a --json --zeek"
	"list -a --json --verify-checksums"
	"list -a --json --ignore-vlan"
	"list -a --json --idle-timeout 1 --time-wait 0.5"
	"list -a --json --idle-timeout 1 --verify-checksums"
	"list -a --json --zeek --idle-timeout 1"
	"watch --json"
)

# run NAME FILE: every option set; collect the fast-path counts.
total_fast=0 total_seg=0
run() {
	local name=$1 file=$2 bad=0 o rc
	for o in "${opts[@]}"; do
		# shellcheck disable=SC2086
		("$FASTCHECK" $o -r "$file" >"$T/check.out" 2>"$T/err") 2>/dev/null
		rc=$?
		if [ $rc -ge 128 ] || grep -q 'fast path differs' "$T/err"; then
			fail "$name ($o)" "exit $rc: $(grep ENGINE_FASTCHECK "$T/err" | head -1)"
			bad=1
			continue
		fi
		# The check build prints what the full path made of every segment;
		# the real build must print the same (events, durations).
		# shellcheck disable=SC2086
		"$TCPSTATE" $o -r "$file" >"$T/real.out" 2>/dev/null
		if [ $? -ne $rc ] || ! cmp -s "$T/real.out" "$T/check.out"; then
			fail "$name ($o)" "output differs from the check build's: $(diff "$T/real.out" "$T/check.out" | head -3)"
			bad=1
			continue
		fi
		read -r f n < <(sed -nE 's/^ENGINE_FASTCHECK: ([0-9]+) of ([0-9]+) segments.*/\1 \2/p' "$T/err")
		total_fast=$((total_fast + ${f:-0})) total_seg=$((total_seg + ${n:-0}))
		last_fast=${f:-0} last_seg=${n:-0}
	done
	return $bad
}

# Generated traces: each must agree, and mostly take the fast path.
for g in short whole long edited midstream midstream2 midstream3; do
	if run "$g trace" "$T/$g.pcap"; then
		if [ "$last_seg" -gt 0 ] && [ $((last_fast * 2)) -gt "$last_seg" ]; then
			pass "$g trace: full path agrees ($last_fast of $last_seg segments fast)"
		else
			fail "$g trace" "only $last_fast of $last_seg segments took the fast path"
		fi
	fi
done

# Every capture of the suite: real traffic, crafted cases, fuzz finds.
total_fast=0 total_seg=0 files=0 bad=0
for f in "$REPO"/tests/pcap/captures/pcap/* "$REPO"/tests/pcap/data/*.pcap* \
	"$REPO"/tests/fuzz/corpus/pcap/*; do
	[ -f "$f" ] || continue
	files=$((files + 1))
	run "$(basename "$f")" "$f" || bad=1
done
if [ $bad -eq 0 ] && [ "$total_fast" -gt 0 ]; then
	pass "$files captures: full path agrees ($total_fast of $total_seg segments fast)"
elif [ $bad -eq 0 ]; then
	fail "$files captures" "no segment took the fast path"
fi
exit $failed
