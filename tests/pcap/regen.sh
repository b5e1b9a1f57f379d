#!/usr/bin/env bash
# Rewrite tests/pcap/expected/*.out from the current binary.  Run it on
# purpose, after checking by hand that the new output is right; then review
# `git diff tests/pcap/expected` before committing.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
: "${TCPSTATE:=$REPO/tcpstate}"
. "$REPO/tests/pcap/lib.sh"
while read -r name input args; do
	case $name in '' | '#'*) continue ;; esac
	path=$(resolve_input "$input") || { echo "regen: $name: no input" >&2; continue; }
	# shellcheck disable=SC2086
	run_case "$path" $args >"$REPO/tests/pcap/expected/$name.out"
	echo "regen: $name"
done <"$REPO/tests/pcap/TESTLIST"
