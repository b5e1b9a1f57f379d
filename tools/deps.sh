#!/bin/sh
# tools/deps.sh - make sure the Debian packages tcpstate needs are present.
# As root it installs what is missing with apt-get; otherwise it names the
# missing packages and fails, so `make run` never half-works.
#   tools/deps.sh build    packages needed to compile
#   tools/deps.sh check    packages needed to compile and run the tests
set -eu

build_pkgs="gcc make pkg-config libnl-3-dev libpcap-dev libncurses-dev libreadline-dev libmicrohttpd-dev"
test_pkgs="clang-format iproute2 nftables procps python3 mandoc groff-base netbase tcpdump tmux zsh fish valgrind strace"
# The exporter's tests scrape with a real Prometheus and node_exporter, and
# check with promtool.  They are large and not needed to build: installed
# when they can be, and the tests that need them skip visibly when not.
opt_pkgs="prometheus prometheus-node-exporter"

opt=
case "${1:-build}" in
build) want=$build_pkgs ;;
check) want="$build_pkgs $test_pkgs"; opt=$opt_pkgs ;;
*) echo "usage: $0 build|check" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: no dpkg here; install the equivalents of: $want (see README.md)" >&2
	exit 0
fi

# Prints the packages of $1 that are not installed.
not_installed() {
	for p in $1; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || printf ' %s' "$p"
	done
}
missing=$(not_installed "$want")
opt_missing=$(not_installed "$opt")
[ -z "$missing" ] && [ -z "$opt_missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	[ -z "$missing" ] && { echo "deps: optional, not installed:$opt_missing (their tests skip)" >&2; exit 0; }
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An install from a stale package list fails; refresh it first.
apt-get update -qq >/dev/null || true
if [ -n "$missing" ]; then
	echo "deps: installing$missing" >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$opt_missing" ]; then
	echo "deps: installing (optional)$opt_missing" >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $opt_missing >/dev/null ||
		echo "deps: could not install$opt_missing; the tests that need them skip" >&2
fi
