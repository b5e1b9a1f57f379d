# tests/cli/lib.sh - helpers for shell tests: run a command capturing
# stdout, stderr and exit code, and report PASS/FAIL lines for tests/run.
: "${TCPSTATE:=$PWD/tcpstate}"
T=$(mktemp -d /tmp/tcpstate-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
failed=0

# run CMD...: sets $out, $err, $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1: $2"
	echo "  stdout: $(head -c 300 "$T/out")"
	echo "  stderr: $(head -c 300 "$T/err")"
	failed=1
}

# expect NAME RC [STDERR-REGEX]: the last run exited RC, printed exactly one
# stderr line matching the regex (or nothing when none is given).
expect() {
	local name=$1 want=$2 re=${3:-}
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit $rc, want $want"
		return
	fi
	if [ -n "$re" ]; then
		if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -Eq -- "$re" "$T/err"; then
			fail "$name" "stderr is not one line matching /$re/"
			return
		fi
	elif [ -s "$T/err" ]; then
		fail "$name" "unexpected stderr"
		return
	fi
	pass "$name"
}

finish() { exit "$failed"; }
