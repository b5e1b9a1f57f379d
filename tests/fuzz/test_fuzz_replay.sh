#!/usr/bin/env bash
# Replays the fuzz corpora and every saved crash through the fuzz targets,
# built without libFuzzer (make fuzz-replay): a regression test for every
# input the fuzzers found.  One PASS/FAIL line per directory; SKIP when a
# replay binary has not been built.
#
# Environment: FUZZ_REPLAY_DIR, where fuzz-replay-* are (default build/rel).
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" || exit 1
: "${FUZZ_REPLAY_DIR:=build/rel}"
failed=0
for t in decode pcap filter diag; do
	bin=$FUZZ_REPLAY_DIR/fuzz-replay-$t
	if [ ! -x "$bin" ]; then
		echo "SKIP: fuzz-replay $t: $bin not built (make fuzz-replay)"
		continue
	fi
	dirs=()
	corpus=tests/fuzz/corpus/$t
	if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus" 2>/dev/null)" ]; then
		dirs+=("$corpus")
	else
		echo "FAIL: fuzz-replay $t: $corpus is missing or empty (tests/fuzz/mkseeds.py)"
		failed=1
	fi
	[ -d "tests/fuzz/crashes/$t" ] && dirs+=("tests/fuzz/crashes/$t")
	[ ${#dirs[@]} -gt 0 ] || continue
	"$bin" "${dirs[@]}"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: fuzz-replay $t: exited $rc"
		failed=1
	fi
done
exit $failed
