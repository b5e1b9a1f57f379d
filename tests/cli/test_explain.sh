#!/usr/bin/env bash
# tcpstate explain: every state has an entry with the four parts, the facts
# about TIME-WAIT are right, the diagrams and the narration of a capture.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

for s in LISTEN SYN-SENT SYN-RECEIVED ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 CLOSE-WAIT CLOSING \
	LAST-ACK TIME-WAIT CLOSED; do
	run "$TCPSTATE" explain "$s"
	if [ "$rc" -eq 0 ] && [ "$(head -1 "$T/out")" = "$s" ] && grep -q '^  Means:' "$T/out" &&
		grep -q '^  Who:' "$T/out" && grep -q '^  Lasts:' "$T/out" &&
		grep -q '^  If many:' "$T/out"; then
		pass "explain $s: meaning, who, how long, what to do"
	else
		fail "explain $s" "rc=$rc"
	fi
done
# Any spelling a filter accepts.
run "$TCPSTATE" explain time_wait
[ "$rc" -eq 0 ] && [ "$(head -1 "$T/out")" = TIME-WAIT ] && pass "explain accepts time_wait" ||
	fail "explain accepts time_wait" "rc=$rc"

run "$TCPSTATE" explain tw
tw=$(tr '\n' ' ' <"$T/out" | tr -s ' ')
grep -q '2 x MSL' <<<"$tw" && grep -q 'MSL to 2 minutes' <<<"$tw" &&
	grep -q 'Linux fixes it at 60 s' <<<"$tw" && grep -q 'tcpstate tune' <<<"$tw" &&
	pass "TIME-WAIT: 2 x MSL, MSL 2 minutes, Linux 60 s, points to tune" ||
	fail "TIME-WAIT facts" "$tw"
# Never the myths: no claim that MSL is four minutes or that fin_timeout shortens it.
! grep -qi 'four minutes known as' <<<"$tw" && ! grep -qi 'vs.timeout_timewait' <<<"$tw" &&
	pass "TIME-WAIT entry repeats no myth" || fail "TIME-WAIT entry repeats no myth" "$tw"
run "$TCPSTATE" explain close-wait
cw=$(tr '\n' ' ' <"$T/out" | tr -s ' ')
grep -q 'tcpstate list -p state close-wait' <<<"$cw" && grep -q 'No sysctl fixes it' <<<"$cw" &&
	pass "CLOSE-WAIT: an application bug, how to find the owner" || fail "CLOSE-WAIT advice" ""

run "$TCPSTATE" explain all
n=0
for s in LISTEN SYN-SENT SYN-RECEIVED ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 CLOSE-WAIT CLOSING \
	LAST-ACK TIME-WAIT CLOSED; do
	grep -qx "$s" "$T/out" && n=$((n + 1))
done
[ "$rc" -eq 0 ] && [ $n -eq 11 ] && grep -q 'Three-way handshake' "$T/out" &&
	grep -q 'Simultaneous close' "$T/out" && grep -q '^Myths' "$T/out" &&
	pass "explain all: 11 states, diagrams, myths" || fail "explain all" "$n states"

run "$TCPSTATE" explain handshake
grep -q 'SEQ=A><CTL=SYN>' "$T/out" && grep -q 'SEQ=B><ACK=A+1>' "$T/out" &&
	grep -q 'SEQ=A+1><ACK=B+1>' "$T/out" && grep -q 'RFC 9293 section 3.5' "$T/out" &&
	pass "handshake: seq A, ack A+1, seq B, ack B+1" || fail "handshake" ""
run "$TCPSTATE" explain close
grep -q 'Normal close' "$T/out" && grep -q 'Simultaneous close' "$T/out" &&
	grep -q 'Half close' "$T/out" && grep -q 'CLOSING' "$T/out" &&
	pass "close: normal, simultaneous and half close" || fail "close diagrams" ""
# The simultaneous close as RFC 9293 figure 13 draws it: the two sides pass
# through the same states at the same steps.  Each row's states (the first
# and the last word, when they are state names), in order.
names='ESTABLISHED|FIN-WAIT-1|FIN-WAIT-2|CLOSING|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSED'
steps=$(sed -n '/^Simultaneous close/,/^Half close/p' "$T/out" |
	awk -v re="^($names)\$" '$1 ~ re && $NF ~ re && NF > 1 { printf "%s/%s ", $1, $NF }')
[ "$steps" = "ESTABLISHED/ESTABLISHED FIN-WAIT-1/FIN-WAIT-1 CLOSING/CLOSING TIME-WAIT/TIME-WAIT CLOSED/CLOSED " ] &&
	pass "close: simultaneous close, both sides step by step as in RFC 9293 figure 13" ||
	fail "close: simultaneous close, both sides step by step as in RFC 9293 figure 13" "rows: $steps"
# Each figure's right-hand arrows stand in one column: a row's last "-->" or
# "<--", where it has two, starts where the others of its figure start.
for topic in handshake close; do
	run "$TCPSTATE" explain "$topic"
	bad=$(awk '/^$/ { col = 0; next }
		{ n = 0; s = $0; at = 0
		  while (match(s, /-->|<--/)) {
			n++; last = at + RSTART; at += RSTART + 2; s = substr(s, RSTART + 3)
		  }
		  if (n < 2) next
		  if (!col) col = last
		  else if (last != col) print NR ": column " last " against " col ": " $0 }' "$T/out")
	[ "$rc" -eq 0 ] && [ -z "$bad" ] &&
		pass "explain $topic: each figure's right-hand arrows in one column" ||
		fail "explain $topic: each figure's right-hand arrows in one column" "$bad"
done
run "$TCPSTATE" explain myths
grep -q 'tcp_fin_timeout' "$T/out" && grep -q 'IPVS' "$T/out" && grep -q '4.12' "$T/out" &&
	grep -q 'Linux does not follow it' "$T/out" &&
	pass "myths: each with its origin and the truth" || fail "myths" ""

# The story of one connection in a capture.
run env TZ=UTC "$TCPSTATE" explain -r tests/pcap/data/one-connection.pcap --conn 1
[ "$rc" -eq 0 ] && grep -q '^Connection 1: 198.18.0.1:40000' "$T/out" &&
	grep -q 'orig: FIN-WAIT-2 -> TIME-WAIT, because: FIN received' "$T/out" &&
	grep -q 'resp: LAST-ACK -> CLOSED, because: ACK of FIN received' "$T/out" &&
	pass "explain --conn narrates a capture's connection" || fail "explain --conn" "rc=$rc"

# SYN-SENT quotes this kernel's knobs and computes from them (the rule
# itself is tested in tests/unit/test_knobs.c, against the kernel in
# tests/netns/test_explain_syn.py).
run "$TCPSTATE" explain syn-sent
syn=$(tr '\n' ' ' <"$T/out" | tr -s ' ')
r=$(cat /proc/sys/net/ipv4/tcp_syn_retries 2>/dev/null)
if [ -n "$r" ] && [ -r /proc/sys/net/ipv4/tcp_syn_linear_timeouts ]; then
	l=$(cat /proc/sys/net/ipv4/tcp_syn_linear_timeouts)
	grep -q "tcp_syn_retries is $r and net.ipv4.tcp_syn_linear_timeouts $l: the SYN is retransmitted" <<<"$syn" &&
		grep -q 'connect() fails after [0-9.]* s' <<<"$syn" &&
		pass "explain syn-sent: this kernel's tcp_syn_retries and tcp_syn_linear_timeouts" ||
		fail "explain syn-sent: this kernel's tcp_syn_retries and tcp_syn_linear_timeouts" "$syn"
else
	echo "SKIP: explain syn-sent: this kernel's knobs: no tcp_syn_linear_timeouts here"
fi

# tcp_rto_max_ms caps the SYN timer: the sentence about the timer says what
# the printed times do (at 1 s it never doubles).  In a namespace of our own.
# syn_sent_says NAME RE...: `explain -N $ns syn-sent` matches each RE ("!RE": does not).
syn_sent_says() {
	local name=$1 re ok=1
	shift
	run "$TCPSTATE" explain -N "$ns" syn-sent
	syn=$(tr '\n' ' ' <"$T/out" | tr -s ' ')
	for re in "$@"; do
		case $re in
		!*) ! grep -q "${re#!}" <<<"$syn" || ok=0 ;;
		*) grep -q "$re" <<<"$syn" || ok=0 ;;
		esac
	done
	[ "$rc" -eq 0 ] && [ $ok -eq 1 ] && pass "$name" || fail "$name" "$syn"
}
knobs() { ip netns exec "$ns" sysctl -q -w "$@" >/dev/null 2>&1; }
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
	ns=tcpst-explain-$$-$RANDOM
	trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$T"' EXIT
	if ip netns add "$ns" 2>/dev/null && knobs net.ipv4.tcp_rto_max_ms=1000; then
		knobs net.ipv4.tcp_syn_retries=3 net.ipv4.tcp_syn_linear_timeouts=0
		syn_sent_says "explain syn-sent: tcp_rto_max_ms 1000, a timer that never doubles" \
			'at 1, 2 and 3 s after the first' '!doubl' \
			'starts at 1 s and stays there: tcp_rto_max_ms caps it'
		knobs net.ipv4.tcp_rto_max_ms=4000 net.ipv4.tcp_syn_retries=5
		syn_sent_says "explain syn-sent: tcp_rto_max_ms 4000, doubling up to the cap" \
			'at 1, 3, 7, 11 and 15 s after the first' \
			'doubles with each retransmission, up to tcp_rto_max_ms (4 s)'
	else
		echo "SKIP: explain syn-sent: tcp_rto_max_ms 1000: no namespace or tcp_rto_max_ms (6.15)"
		echo "SKIP: explain syn-sent: tcp_rto_max_ms 4000: no namespace or tcp_rto_max_ms (6.15)"
	fi
	ip netns del "$ns" 2>/dev/null
else
	echo "SKIP: explain syn-sent: tcp_rto_max_ms 1000: needs root"
	echo "SKIP: explain syn-sent: tcp_rto_max_ms 4000: needs root"
fi

# Bad input.
run "$TCPSTATE" explain -N ../x syn-sent
expect "-N with a bad name" 2 '^tcpstate explain: -N: invalid namespace name "../x"'
run "$TCPSTATE" explain -N tcpstate-no-such-ns-$$ syn-sent
expect "-N with a missing namespace" 1 '^tcpstate explain: -N: network namespace "tcpstate-no-such-ns-[0-9]*" not found'
run "$TCPSTATE" explain -N x -r tests/pcap/data/one-connection.pcap --conn 1
expect "-N with --conn" 2 '^tcpstate explain: -N goes with a topic'

run "$TCPSTATE" explain nonsense
expect "unknown topic" 2 '^tcpstate explain: unknown topic "nonsense"'
run "$TCPSTATE" explain --conn 1
expect "--conn without -r" 2 '--conn ID and -r FILE go together'
run "$TCPSTATE" explain -r tests/pcap/data/one-connection.pcap --conn 7
expect "no such connection" 1 'no connection 7'
run "$TCPSTATE" explain -r tests/pcap/data/one-connection.pcap --conn x
expect "bad connection id" 2 'invalid connection id "x"'
run "$TCPSTATE" explain a b
expect "two topics" 2 'unexpected argument "b"'
finish
