#!/usr/bin/env bash
# Runs every case of tests/pcap/TESTLIST and compares with expected/NAME.out;
# then again on one CPU, where a file is read in-line instead of on a reader
# thread (wire.c), so both paths must print the same.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
. "$REPO/tests/pcap/lib.sh"
failed=0
one_cpu=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	one_cpu=1
else
	echo "SKIP: pcap TESTLIST on one CPU: needs taskset and two CPUs to differ"
fi
check_case() { # label name path args...
	local label=$1 name=$2 path=$3 got
	shift 3
	got=$(run_case "$path" "$@")
	if [ "$got" == "$(cat "$REPO/tests/pcap/expected/$name.out" 2>/dev/null)" ]; then
		echo "PASS: pcap $label"
	else
		echo "FAIL: pcap $label: output differs from tests/pcap/expected/$name.out"
		diff <(echo "$got") "$REPO/tests/pcap/expected/$name.out" | head -20
		failed=1
	fi
}
while read -r name input args; do
	case $name in '' | '#'*) continue ;; esac
	if ! path=$(resolve_input "$input"); then
		echo "SKIP: pcap $name: tests/pcap/captures not found"
		continue
	fi
	# shellcheck disable=SC2086
	check_case "$name" "$name" "$path" $args
	# shellcheck disable=SC2086
	[ -z "$one_cpu" ] || WRAP="taskset -c 0" check_case "$name (one CPU)" "$name" "$path" $args
done <"$REPO/tests/pcap/TESTLIST"
exit $failed
