#!/usr/bin/env bash
# Formatting is part of the build's contract: every C file git knows is as
# .clang-format has it. This fails, naming the files, when one is not; the
# fix is `make fmt`.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

if ! command -v clang-format >/dev/null; then
	echo "SKIP: sources are formatted as .clang-format says: clang-format not installed"
	exit 0
fi
run make --no-print-directory fmt-check
[ "$rc" -eq 0 ] && pass "sources are formatted as .clang-format says" ||
	fail "sources are formatted as .clang-format says" "$err"

# The check itself: a file made unformatted on purpose is named.
tmp=$T # lib.sh's directory, removed on exit
printf 'int  f( void ){return 0;}\n' >"$tmp/bad.c"
cp .clang-format "$tmp/"
run make --no-print-directory fmt-check FMT_FILES="$tmp/bad.c"
[ "$rc" -ne 0 ] && grep -q "bad.c" <<<"$err" && pass "fmt-check names an unformatted file" ||
	fail "fmt-check names an unformatted file" "rc=$rc err=$err"
finish
