#!/usr/bin/env bash
# The zsh and fish completions load in their shells and complete commands,
# options, state names and knob names, by asking the binary (which reads
# the command table).  bash is covered by test_docs.sh.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
BIN_DIR=$(dirname "$TCPSTATE")

if command -v zsh >/dev/null; then
	# Drive the completion function with compadd and _files stubbed out: it
	# must pass the words to `tcpstate __complete` and hand back its answer.
	zc() {
		PATH=$BIN_DIR:$PATH zsh -f -c '
			compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
			_files() { print -- "@files"; }
			words=("$@"); CURRENT=$#
			source completions/_tcpstate' zsh "$@"
	}
	r=$(zc tcpstate li)
	[ "$r" = list ] && pass "zsh: subcommand" || fail "zsh: subcommand" "got '$r'"
	r=$(zc tcpstate list state clos | tr '\n' ' ')
	[ "$r" = "closed close-wait closing " ] && pass "zsh: state names" || fail "zsh: state names" "got '$r'"
	r=$(zc tcpstate tune show tw-reuse-d)
	[ "$r" = tw-reuse-delay ] && pass "zsh: knob names" || fail "zsh: knob names" "got '$r'"
	# tune set takes KNOB=VALUE: the knob comes with its '=' and no space after it.
	r=$(PATH=$BIN_DIR:$PATH zsh -f -c '
		compadd() { local s=" "; [[ $1 == -S ]] && { s=$2; shift 2; }; [[ $1 == -- ]] && shift; print -l -- "$@$s"; }
		_files() { print -- "@files"; }
		words=("$@"); CURRENT=$#
		source completions/_tcpstate' zsh tcpstate tune set tw-reuse-d)
	[ "$r" = "tw-reuse-delay=" ] && pass "zsh: tune set offers knob= with no space" ||
		fail "zsh: tune set offers knob= with no space" "got '$r'"
	r=$(zc tcpstate watch -r tr)
	[ "$r" = @files ] && pass "zsh: files after -r" || fail "zsh: files after -r" "got '$r'"
	ZDUMP=$T/zcompdump zsh -f -c 'autoload -Uz compinit && compinit -u -d $ZDUMP; fpath=(completions $fpath); autoload -Uz _tcpstate && whence -w _tcpstate' >"$T/z" 2>&1 &&
		grep -q 'function' "$T/z" && pass "zsh: _tcpstate autoloads from fpath" ||
		fail "zsh: _tcpstate autoloads from fpath" "$(cat "$T/z")"
else
	echo "SKIP: zsh completion: zsh not installed"
fi

if command -v fish >/dev/null; then
	fc() { PATH=$BIN_DIR:$PATH fish --no-config -c "source completions/tcpstate.fish; complete -C '$1'" | cut -f1; }
	r=$(fc "tcpstate wat")
	[ "$r" = watch ] && pass "fish: subcommand" || fail "fish: subcommand" "got '$r'"
	r=$(fc "tcpstate list exclude syn-" | tr '\n' ' ')
	[ "$r" = "syn-recv syn-sent " ] || [ "$r" = "syn-sent syn-recv " ] && pass "fish: state names" ||
		fail "fish: state names" "got '$r'"
	r=$(fc "tcpstate list --sum")
	[ "$r" = --summary ] && pass "fish: long options" || fail "fish: long options" "got '$r'"
	r=$(fc "tcpstate tune show fin-t")
	[ "$r" = fin-timeout ] && pass "fish: knob names" || fail "fish: knob names" "got '$r'"
	r=$(fc "tcpstate explain hand")
	[ "$r" = handshake ] && pass "fish: explain topics" || fail "fish: explain topics" "got '$r'"
else
	echo "SKIP: fish completion: fish not installed"
fi
finish
