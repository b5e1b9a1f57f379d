#!/bin/sh
# tools/deps.sh - make sure the Debian packages tcpstate needs are present.
# As root it installs what is missing with apt-get; otherwise it names the
# missing packages and fails, so `make run` never half-works.
#   tools/deps.sh build    packages needed to compile
#   tools/deps.sh check    packages needed to compile and run the tests
set -eu

build_pkgs="gcc make pkg-config libnl-3-dev libpcap-dev libncurses-dev libreadline-dev"
test_pkgs="clang-format iproute2 nftables procps python3 mandoc groff-base netbase tcpdump tmux zsh fish valgrind strace"

case "${1:-build}" in
build) want=$build_pkgs ;;
check) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 build|check" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: no dpkg here; install the equivalents of: $want (see README.md)" >&2
	exit 0
fi

missing=
for p in $want; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An install from a stale package list fails; refresh it first.
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
