# tests/pcap/lib.sh: run one TESTLIST case, printing its combined output
# (stdout, stderr, exit status) so it can be compared or regenerated.
#   run_case INPUT ARGS...
shared_dir() {
	for d in "${TCPSTATE_CAPTURES:-}" "$REPO/tests/pcap/captures" "$REPO/../shared/captures"; do
		[ -n "$d" ] && [ -f "$d/MANIFEST.tsv" ] && { echo "$d"; return 0; }
	done
	return 1
}

resolve_input() {
	case $1 in
	@shared/*) local d; d=$(shared_dir) || return 1; echo "$d/${1#@shared/}" ;;
	*) echo "$REPO/tests/pcap/$1" ;;
	esac
}

# The command line: "watch ARGS" reads with -r INPUT; "list -r ARGS" too.
# WRAP, if set, is a command to run it under (taskset -c 0).
run_case() {
	local input=$1 cmd=$2 rc
	shift 2
	local out err
	out=$(mktemp) err=$(mktemp)
	if [ "$cmd" = watch ]; then
		TZ=UTC ${WRAP:-} "$TCPSTATE" watch -r "$input" "$@" >"$out" 2>"$err"
	else
		TZ=UTC ${WRAP:-} "$TCPSTATE" list "$1" "$input" "${@:2}" >"$out" 2>"$err"
	fi
	rc=$?
	cat "$out"
	echo "--- stderr"
	# Paths differ between machines: show the file name only.
	sed "s|$input|$(basename "$input")|g" "$err"
	echo "--- exit $rc"
	rm -f "$out" "$err"
}

# test_start LABEL TMPNAME: a scratch directory $T (removed on exit), and
# pass/fail that print "PASS: LABEL: ..." lines and set $failed.
test_start() {
	TEST_LABEL=$1
	T=$(mktemp -d "/tmp/tcpstate-$2.XXXXXX")
	trap 'rm -rf "$T"' EXIT
	failed=0
}
pass() { echo "PASS: $TEST_LABEL: $1"; }
fail() {
	echo "FAIL: $TEST_LABEL: $1: $2"
	failed=1
}
