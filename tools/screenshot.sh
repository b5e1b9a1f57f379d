#!/usr/bin/env bash
# tools/screenshot.sh - the README's picture of the monitor, reproducibly.
#
# As root: a network namespace of its own, a small service on 127.0.0.1
# that holds three established connections on :8080, has let four close
# into TIME-WAIT, and leaves three CLOSE-WAIT sockets on :5432 behind; then
# `tcpstate top -i lo` in a private tmux server, captured with capture-pane
# after a few refreshes.  Prints the screen on stdout.  Cleans up on exit.
set -euo pipefail
TCPSTATE=${TCPSTATE:-$(cd "$(dirname "$0")/.." && pwd)/tcpstate}
NS=tcpstate-shot-$$
SOCK=tcpstate-shot-$$
HOLD=
cleanup() {
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null || true
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "tools/screenshot.sh: needs root" >&2; exit 2; }
ip netns add "$NS"
ip -n "$NS" link set lo up
# The capture starts first, so that the wire sees every handshake.
tmux -L "$SOCK" -f /dev/null new-session -d -s shot -x 132 -y 32 \
	"TERM=xterm-256color NO_COLOR=1 ip netns exec $NS $TCPSTATE top -i lo"
sleep 1.5
ip netns exec "$NS" python3 -c '
import socket, time, sys
def lis(port):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(16); return l
web, db = lis(8080), lis(5432)
keep = []
for i in range(3):                       # established, both ends ours
    c = socket.create_connection(("127.0.0.1", 8080)); s, _ = web.accept(); keep += [c, s]
for i in range(4):                       # the client closes first: TIME-WAIT on its side
    c = socket.create_connection(("127.0.0.1", 8080)); s, _ = web.accept()
    c.close(); time.sleep(0.05); s.close()
for i in range(3):                       # the peer closed; the service never calls close()
    c = socket.create_connection(("127.0.0.1", 5432)); s, _ = db.accept()
    c.close(); keep.append(s)
print("ready", flush=True)
sys.stdin.read()
' < <(sleep 30) > /tmp/tcpstate-shot.$$ &
HOLD=$!
for _ in $(seq 50); do grep -q ready /tmp/tcpstate-shot.$$ 2>/dev/null && break; sleep 0.1; done
rm -f /tmp/tcpstate-shot.$$
sleep 6
tmux -L "$SOCK" capture-pane -p -t shot | sed -e 's/[[:space:]]*$//'
