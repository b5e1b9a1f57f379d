#!/usr/bin/env bash
# A classic pcap file on disk (or standard input from one) is read by
# savefile.c, not by libpcap (capture.c, use_savefile); from a pipe,
# libpcap reads it.  So libpcap is
# the oracle: every file here is read both ways and must give the same
# stdout, stderr (the file's name aside) and exit status.  The files are
# the suite's captures and bad files, the pcap fuzz corpus, and variants
# written here of a generated trace: cut at many points, a snapshot length
# under the records' captured lengths, nanosecond stamps, big-endian,
# version 2.3 (libpcap's either way), insane captured lengths, stamps past
# 2^31 (signed, as libpcap reads them), a pcapng file whose interface block
# ends like a pcap header, a big-endian cooked capture with a CAN frame
# (libpcap swaps its ID); read plain, with BPF filters (one on the wire
# length), with --at, and by watch.  Standard input must be read to its
# end.  strace, where it runs, shows that the disk read really bypasses
# libpcap (pread64 in 512 KiB blocks).  The one place the two readers
# differ on purpose: past a pcapng interface of another link type, where
# libpcap stops and savefile.c reads on (test_pcapng_links.py checks what
# it reads); there the disk read (and stdin from the file) must succeed,
# and the pipe's error must name the way round it.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
# shellcheck source=tests/pcap/lib.sh
. "$REPO/tests/pcap/lib.sh"
test_start "savefile reader" savefile

cc -O2 -o "$T/mktrace" "$REPO/bench/mktrace.c" || {
	fail "build" "bench/mktrace.c did not compile"
	exit 1
}
# 300 connections, 40 open at once: about 7500 packets, 96-byte frames.
"$T/mktrace" -n 300 -k 40 -p 25 -g 100 "$T/base.pcap" >/dev/null 2>&1

python3 - "$T" <<'EOF'
import struct, sys, os
T = sys.argv[1]
raw = open(f"{T}/base.pcap", "rb").read()
hdr, body = raw[:24], raw[24:]
magic, major, minor, zone, sig, snap, link = struct.unpack("<IHHiIII", hdr)
recs, off = [], 0
while off + 16 <= len(body):
    sec, usec, cap, ln = struct.unpack("<IIII", body[off:off + 16])
    recs.append((sec, usec, cap, ln, body[off + 16:off + 16 + cap]))
    off += 16 + cap

def write(name, recs, magic=0xa1b2c3d4, minor=4, snap=snap, endian="<", frac=lambda u: u):
    with open(f"{T}/{name}", "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, minor, 0, 0, snap, link))
        for sec, usec, cap, ln, data in recs:
            f.write(struct.pack(endian + "IIII", sec, frac(usec), cap, ln) + data)

write("nsec.pcap", recs, magic=0xa1b23c4d, frac=lambda u: u * 1000 + 999)
write("be.pcap", recs, endian=">")
write("v23.pcap", recs, minor=3)
write("snap40.pcap", recs, snap=40)      # every record is longer: libpcap keeps 40
first = recs[:50]
write("short.pcap", first)
bad = list(first)
sec, usec, cap, ln, data = bad[20]
bad[20] = (sec, usec, 300000, ln, data)  # an insane captured length mid-file
write("insane.pcap", bad)

# Stamps as libpcap reads them, signed 32-bit: seconds past 2038, and
# fractions of 2^31 and more (micro- and nanosecond files).
t0 = recs[0][0]
write("sec2038.pcap", [(0x80000000 + sec - t0, u, c, l, d) for sec, u, c, l, d in recs])
write("usecbig.pcap", [(sec, u | 0x80000000 if i % 7 == 3 else u, c, l, d)
                       for i, (sec, u, c, l, d) in enumerate(recs)])
write("nsecbig.pcap", recs, magic=0xa1b23c4d, frac=lambda u: 0x90000000 + u)
# A header's snapshot length over libpcap's maximum (it keeps it), then a
# record just over the maximum: "bigger than maximum of 262144".
with open(f"{T}/max.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 300000, link))
    f.write(struct.pack("<IIII", 1, 0, 262145, 262145) + bytes(262145))
# pcapng whose interface block ends in the bytes of a classic pcap header:
# the 24 bytes before where libpcap stopped reading must not pass for one.
def block(kind, body):
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)
shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
fake = struct.pack("<IHH", 0xa1b2c3d4, 2, 4) + bytes(8)
idb = block(1, struct.pack("<HHI", 1, 0, 96) + struct.pack("<HH", 1, len(fake)) + fake +
            bytes(4))
epbs = b""
for sec, usec, cap, ln, data in recs[:200]:
    t = sec * 1000000 + usec
    epbs += block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xffffffff, cap, ln) + data +
                  bytes(-len(data) % 4))
open(f"{T}/trick.pcapng", "wb").write(shb + idb + epbs)
# Big-endian Linux cooked capture with a CAN frame: libpcap swaps a CAN
# frame's ID to host order in such files, so they stay with libpcap.
with open(f"{T}/sll-be.pcap", "wb") as f:
    f.write(struct.pack(">IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 113))
    for sec, usec, cap, ln, data in recs[:100]:
        sll = struct.pack(">HHH8sH", 0, 1, 6, data[6:12] + bytes(2), 0x0800) + data[14:]
        f.write(struct.pack(">IIII", sec, usec, len(sll), ln + 2) + sll)
    can = struct.pack(">HHH8sH", 1, 280, 0, bytes(8), 0x000C) + struct.pack(">I", 0x11223344) + bytes(12)
    f.write(struct.pack(">IIII", recs[0][0], 5, len(can), len(can)) + can)
# Cuts: inside the file header's neighbourhood, record headers and bodies.
short = open(f"{T}/short.pcap", "rb").read()
snap40 = open(f"{T}/snap40.pcap", "rb").read()
for n in [24, 25, 39, 40, 41, 70, 135, 136, 137, 150, len(short) - 1]:
    open(f"{T}/cut{n}.pcap", "wb").write(short[:n])
# Snapshot 40: the first record cut in the part libpcap keeps, then in the part it skips.
cap = recs[0][2]
open(f"{T}/snapcut-kept.pcap", "wb").write(snap40[:24 + 16 + 20])
skip = (40 + cap) // 2
open(f"{T}/snapcut-skipped.pcap", "wb").write(snap40[:24 + 16 + skip])
open(f"{T}/snapcut-skipped.want", "w").write(
    f"truncated dump file; tried to read {cap} captured bytes, only got {skip}\n")
EOF

# read NAME ARGS...: the file on disk, then through a pipe; compare.
read_both() {
	local f=$1 name
	name=$(basename "$f")
	shift
	# shellcheck disable=SC2002 # the pipe is the point
	cat "$f" | TZ=UTC "$TCPSTATE" "$@" -r - >"$T/p.out" 2>"$T/p.err"
	local rp=$? how ra limit=
	sed -i "s|-: |IN: |" "$T/p.err"
	# libpcap's limit: a pcapng interface of another link type or snapshot
	# length than the first.  From a regular file savefile.c reads on.
	grep -q 'an interface has a .* different from the' "$T/p.err" && limit=1
	if [ -n "$limit" ] && ! grep -q 'save the capture to a file and read that with -r FILE' "$T/p.err"; then
		echo "  $name ($*): the pipe's error does not name the way round: $(head -c 200 "$T/p.err")"
		return 1
	fi
	for how in disk stdin; do
		if [ -n "$limit" ]; then
			if [ $how = disk ]; then
				TZ=UTC "$TCPSTATE" "$@" -r "$f" >"$T/a.out" 2>"$T/a.err"
			else
				TZ=UTC "$TCPSTATE" "$@" -r - <"$f" >"$T/a.out" 2>"$T/a.err"
			fi
			ra=$?
			if [ $ra -ne 0 ]; then
				echo "  $name ($*): past libpcap's limit, exit $ra from $how: $(head -c 200 "$T/a.err")"
				return 1
			fi
			if [ $how = disk ]; then
				cp "$T/a.out" "$T/d.out"
			elif ! cmp -s "$T/a.out" "$T/d.out"; then
				echo "  $name ($*): past libpcap's limit, stdin from the file reads otherwise than the file"
				return 1
			fi
			continue
		elif [ $how = disk ]; then
			TZ=UTC "$TCPSTATE" "$@" -r "$f" >"$T/a.out" 2>"$T/a.err"
			ra=$?
			sed -i "s|$f: |IN: |" "$T/a.err"
		else
			TZ=UTC "$TCPSTATE" "$@" -r - <"$f" >"$T/a.out" 2>"$T/a.err"
			ra=$?
			sed -i "s|-: |IN: |" "$T/a.err"
		fi
		if [ $ra -ne $rp ]; then
			echo "  $name ($*): exit $ra from $how, $rp from a pipe"
			return 1
		elif ! cmp -s "$T/a.out" "$T/p.out"; then
			echo "  $name ($*): stdout from $how differs: $(diff "$T/a.out" "$T/p.out" | head -3)"
			return 1
		elif ! cmp -s "$T/a.err" "$T/p.err"; then
			echo "  $name ($*): stderr from $how differs: $(head -c 200 "$T/a.err") / $(head -c 200 "$T/p.err")"
			return 1
		fi
	done
	return 0
}

# every FILE: list -a --json, each read both ways
check_all() {
	local label=$1 bad=0 n=0
	shift
	for f in "$@"; do
		n=$((n + 1))
		read_both "$f" list -a --json || bad=$((bad + 1))
	done
	[ $bad -eq 0 ] && pass "$label: $n files read alike" || fail "$label" "$bad of $n files differ"
}

shopt -s nullglob
check_all "the suite's captures" "$REPO"/tests/pcap/captures/pcap/* "$REPO"/tests/pcap/data/*
check_all "the pcap fuzz corpus" "$REPO"/tests/fuzz/corpus/pcap/*
check_all "variants (nsec, big-endian, 2.3, snapshot 40, insane lengths, stamps past 2^31, pcapng)" \
	"$T"/nsec.pcap "$T"/be.pcap "$T"/v23.pcap "$T"/snap40.pcap "$T"/insane.pcap "$T"/max.pcap \
	"$T"/sec2038.pcap "$T"/usecbig.pcap "$T"/nsecbig.pcap "$T"/trick.pcapng
check_all "files cut at 13 points" "$T"/cut*.pcap "$T"/snapcut*.pcap

# The messages themselves (libpcap's, whichever reader): a check that the
# variants above really are what they claim.
"$TCPSTATE" list -r "$T/insane.pcap" >/dev/null 2>"$T/e" ; rc=$?
grep -q 'invalid packet capture length 300000, bigger than snaplen of' "$T/e" && [ $rc -eq 1 ] &&
	pass "insane length: libpcap's message, exit 1" || fail "insane length" "exit $rc: $(cat "$T/e")"
"$TCPSTATE" list -r "$T/snapcut-skipped.pcap" >/dev/null 2>"$T/e"
grep -qF "$(cat "$T/snapcut-skipped.want")" "$T/e" &&
	pass "cut in the skipped part of a record over the snapshot length" ||
	fail "cut in the skipped part" "$(cat "$T/e")"

# Filters that read the wire length, on frames cut short (len > caplen).
bad=0
read_both "$T/base.pcap" list -a --json -f 'greater 200' || bad=1
read_both "$T/snap40.pcap" list --summary -f 'greater 60' || bad=1
read_both "$T/sll-be.pcap" list --summary -f 'tcp or link[16:4] = 0x44332211' || bad=1
[ $bad -eq 0 ] && pass "filters on the wire length, and a swapped CAN ID: read alike" ||
	fail "filters on the wire length, and a swapped CAN ID" "differ"

# A command after tcpstate reads on from the same standard input: none left.
left=$({ "$TCPSTATE" list --summary -r - >/dev/null 2>&1; wc -c; } <"$T/base.pcap")
[ "$left" = 0 ] && pass "standard input is read to its end" ||
	fail "standard input is read to its end" "$left bytes left after tcpstate"

bad=0
for f in "$T/base.pcap" "$T/nsec.pcap"; do
	read_both "$f" list -a --json -f 'tcp[13] & 2 != 0' || bad=1 # SYNs only
	[ -s "$T/a.out" ] || bad=1
	read_both "$f" list --json --at +0.3 || bad=1
	read_both "$f" watch --json || bad=1
	read_both "$f" list --summary --zeek || bad=1
	[ -s "$T/a.out" ] || bad=1
done
[ $bad -eq 0 ] && pass "a filter, --at, watch, --zeek: read alike" ||
	fail "a filter, --at, watch, --zeek" "differ, or printed nothing"

# The disk read is savefile.c's: pread64 of the records, not libpcap's reads.
if command -v strace >/dev/null && strace -f -qq -e trace=pread64 -o "$T/st" true 2>/dev/null; then
	# (LeakSanitizer cannot run under ptrace: off for these two runs)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=pread64,read -o "$T/st" "$TCPSTATE" list -r "$T/base.pcap" --summary >/dev/null
	preads=$(grep -c 'pread64(.*524288' "$T/st")
	[ "$preads" -ge 1 ] && pass "disk reads are savefile.c's pread64 ($preads)" ||
		fail "disk reads are savefile.c's" "no 512 KiB pread64: $(grep -c . "$T/st") calls traced"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=pread64 -o "$T/st" sh -c "cat '$T/base.pcap' | '$TCPSTATE' list -r - --summary >/dev/null"
	[ "$(grep -c 'pread64(.*524288' "$T/st")" -eq 0 ] && pass "a pipe is read by libpcap" ||
		fail "a pipe is read by libpcap" "savefile.c's pread64 seen"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=pread64 -o "$T/st" "$TCPSTATE" list -r - --summary <"$T/base.pcap" >/dev/null
	[ "$(grep -c 'pread64(0, .*524288' "$T/st")" -ge 1 ] &&
		pass "standard input from a regular file is read by savefile.c" ||
		fail "standard input from a regular file is read by savefile.c" "no 512 KiB pread64 of fd 0"
else
	echo "SKIP: savefile reader: strace cannot run here, so which reader ran is not shown"
fi
exit $failed
