#!/bin/sh
# tools/genman.sh - refresh the generated parts of tcpstate.1 from the
# binary's own command table (`tcpstate __man`), so the synopsis and the
# option lists cannot drift from the code.
#   tools/genman.sh [--check] MANPAGE BINARY
# With --check, change nothing and exit 1 if the page is out of date.
set -eu
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
man=$1 bin=$2
gen=$(mktemp) new=$(mktemp)
trap 'rm -f "$gen" "$new"' EXIT
"$bin" __man >"$gen"
awk -v gen="$gen" '
function key(s) { sub(/^\.\\" (BEGIN|END) GENERATED /, "", s); return s }
BEGIN {
	while ((getline line < gen) > 0) {
		if (line ~ /^\.\\" BEGIN GENERATED /) { k = key(line); buf = ""; inr = 1; continue }
		if (line ~ /^\.\\" END GENERATED /) { region[k] = buf; inr = 0; continue }
		if (inr) buf = buf line "\n"
	}
}
/^\.\\" BEGIN GENERATED / {
	print; k = key($0)
	if (!(k in region)) { print "genman: no generated region " k > "/dev/stderr"; exit 1 }
	printf "%s", region[k]; seen[k] = 1; skip = 1; next
}
/^\.\\" END GENERATED / { skip = 0; print; next }
!skip { print }
END {
	for (k in region) if (!(k in seen)) {
		print "genman: " FILENAME " lacks a region for " k > "/dev/stderr"; bad = 1
	}
	if (bad) exit 1
}' "$man" >"$new"
if [ "$check" = 1 ]; then
	if ! cmp -s "$man" "$new"; then
		echo "genman: $man is out of date; run 'make man'" >&2
		diff -u "$man" "$new" >&2 || true
		exit 1
	fi
	exit 0
fi
cat "$new" >"$man"
