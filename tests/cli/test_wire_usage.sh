#!/usr/bin/env bash
# Bad input to the wire commands (watch, list -r): message, exit code,
# nothing on stdout.  No root needed: files only.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
P=tests/pcap/data/zero-caplen.pcap

run "$TCPSTATE" watch
expect "watch: no packet source" 2 '^tcpstate watch: a packet source is needed: -i IFACE or -r FILE'
run "$TCPSTATE" watch -i lo -r "$P"
expect "watch: -i and -r together" 2 'cannot be used together'
run "$TCPSTATE" watch -r "$P" extra
expect "watch: a stray argument" 2 'unexpected argument "extra"'
run "$TCPSTATE" watch -r "$P" --snaplen 10
expect "watch: snaplen out of range" 2 '^tcpstate watch: --snaplen: invalid length "10" \(64 to 262144\)'
# -B, the kernel's ring in KiB: an int of bytes at most, as libpcap takes it.
for bad in 0 -1 abc 12k 2097152 ''; do
	run "$TCPSTATE" watch -i lo -B "$bad"
	expect "watch: -B '$bad'" 2 "^tcpstate watch: -B: invalid size \"$bad\" \\(KiB, 1 to 2097151\\)"
	[ -z "$out" ] || fail "watch: -B '$bad' prints nothing" "stdout not empty"
done
run "$TCPSTATE" top -b -i lo --buffer-size 0
expect "top: --buffer-size 0" 2 '^tcpstate top: -B: invalid size "0" \(KiB, 1 to 2097151\)'
run "$TCPSTATE" watch -r "$P" -B 1024
expect "watch: -B with a file" 2 '^tcpstate watch: -B applies to a live capture \(-i IFACE\)'
run "$TCPSTATE" watch -r "$P" --time-wait abc
expect "watch: bad --time-wait" 2 'invalid duration "abc"'
run "$TCPSTATE" watch -r "$P" --idle-timeout 0
expect "watch: --idle-timeout 0" 2 'invalid duration "0"'
run "$TCPSTATE" watch -r "$P" --max-conns -5
expect "watch: negative --max-conns" 2 'invalid count "-5"'
run "$TCPSTATE" watch -r "$P" -f 'port x81'
expect "watch: bad BPF expression" 2 '^tcpstate watch: -f: '
[ -z "$out" ] || fail "watch: bad BPF prints nothing" "stdout not empty"
run "$TCPSTATE" watch -N x -r "$P"
expect "watch: -N with a file" 2 '^tcpstate watch: -N goes with -i'
run "$TCPSTATE" watch -N ../x -i lo
expect "watch: -N with a bad name" 2 '^tcpstate watch: -N: invalid namespace name "../x"'
run "$TCPSTATE" watch -N tcpstate-no-such-ns-$$ -i lo
expect "watch: -N with a missing namespace" 1 '^tcpstate watch: -N: network namespace "tcpstate-no-such-ns-[0-9]*" not found'
run "$TCPSTATE" watch -r /nonexistent.pcap
expect "watch: missing file" 1 '^tcpstate watch: /nonexistent.pcap: No such file or directory$'
run "$TCPSTATE" list -r /tmp
expect "list -r: a directory" 1 '^tcpstate list: /tmp: .*Is a directory$'
run "$TCPSTATE" list -r "$P" state established
expect "list -r: kernel filter refused" 2 'filters apply to the kernel view'
run "$TCPSTATE" list -r "$P" -p
expect "list -r: kernel option refused" 2 '-r reads a capture'
run "$TCPSTATE" list --zeek
expect "list: capture option without -r" 2 'need -r FILE'
run "$TCPSTATE" list -r "$P" --at yesterday
expect "list -r: bad --at" 2 '^tcpstate list: --at: invalid time "yesterday"'
# From standard input.
out=$("$TCPSTATE" list -r - -s <"$P" 2>"$T/err")
rc=$?
[ $rc -eq 0 ] && grep -q '^Connections: 1 ' <<<"$out" && pass "list -r - reads stdin" ||
	fail "list -r - reads stdin" "rc=$rc $(cat "$T/err")"
# A full disk while writing: reported, exit 1.
"$TCPSTATE" watch -r "$P" >/dev/full 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'write error: No space left on device' "$T/err" &&
	pass "watch: write error on a full disk" || fail "watch: write error on a full disk" "rc=$rc"
# Live capture needs privilege: without it, one clear line (as nobody).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TCPSTATE" watch -i lo
	expect "watch: live capture without privilege" 1 '^tcpstate watch: -i lo: '
	run "$TCPSTATE" watch -i no-such-iface0
	expect "watch: no such interface" 1 '^tcpstate watch: -i no-such-iface0: '
else
	echo "SKIP: watch: live capture errors: needs root and setpriv"
fi
finish
