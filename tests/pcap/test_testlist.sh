#!/usr/bin/env bash
# Runs every case of tests/pcap/TESTLIST and compares with expected/NAME.out.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
. "$REPO/tests/pcap/lib.sh"
failed=0
while read -r name input args; do
	case $name in '' | '#'*) continue ;; esac
	if ! path=$(resolve_input "$input"); then
		echo "SKIP: pcap $name: tests/pcap/captures not found"
		continue
	fi
	# shellcheck disable=SC2086
	got=$(run_case "$path" $args)
	if [ "$got" == "$(cat "$REPO/tests/pcap/expected/$name.out" 2>/dev/null)" ]; then
		echo "PASS: pcap $name"
	else
		echo "FAIL: pcap $name: output differs from tests/pcap/expected/$name.out"
		diff <(echo "$got") "$REPO/tests/pcap/expected/$name.out" | head -20
		failed=1
	fi
done <"$REPO/tests/pcap/TESTLIST"
exit $failed
