#!/usr/bin/env python3
"""top follows a socket, not just its 4-tuple (issue 15's top_pick, attacked),
as root in namespaces of its own:
 - three SO_REUSEPORT listeners share one 4-tuple: the detail view of one of
   them, once that one is closed, must not go on showing one of the others
   (another fd, another inode) as if it were the same socket;
 - a connection closed (RST, no TIME-WAIT) and made again on the same
   4-tuple between two batch frames is a new socket: its age starts again
   (">0s", first seen at that refresh), where the old socket's age went on.
No assertion is on time: the age is counted in refreshes two seconds apart,
and the socket is replaced as soon as the second frame shows."""
import re
import subprocess

from toppicklib import TCPSTATE, begin, said, start
from toplib import Tmux, case

CASES = ["tmux_detail_reuseport_keeps_its_socket", "batch_same_tuple_new_socket_age"]
rep = begin(CASES)

# Three listeners on one tuple; "close INODE" closes the one with that inode.
REUSEPORT = r'''
import os, socket, sys
ls = []
for _ in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 8080))
    s.listen(4)
    ls.append(s)
print("ready", *[os.fstat(s.fileno()).st_ino for s in ls], flush=True)
for line in sys.stdin:
    ino = int(line.split()[1])
    for s in [s for s in ls if os.fstat(s.fileno()).st_ino == ino]:
        ls.remove(s)
        s.close()
    print("closed", flush=True)
'''

# One connection on a fixed tuple; each line on stdin resets it (no
# TIME-WAIT) and connects again on the same tuple.
RECONNECT = r'''
import socket, struct, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 9000))
l.listen(8)
def conn():
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("127.0.0.2", 45000))
    c.connect(("127.0.0.1", 9000))
    return c, l.accept()[0]
pair = conn()
print("ready", flush=True)
for line in sys.stdin:
    for s in pair:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    pair = conn()
    print("again", flush=True)
'''


def detail_inode(s):
    m = re.search(r"(?m)^Queues: .* inode (\d+);", s)
    return int(m.group(1)) if m and s.startswith("Connection ") else None


def reuseport(ns, tm):
    p = start(ns, REUSEPORT)
    inodes = [int(i) for i in said(p, "ready")]
    tm.new("p", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.2 -- sport = :8080", 132, 40)
    table = tm.wait(lambda s: len(re.findall(r"(?m)^LISTEN +127\.0\.0\.1:8080 ", s)) == 3, 10,
                    "p")
    tm.keys("p", "Down")
    tm.keys("p", "Enter")
    before = tm.wait(lambda s: detail_inode(s) in inodes, 10, "p")
    picked = detail_inode(before)
    if picked is None:
        return False, f"no detail view of a listener: {before!r}; table {table!r}"
    p.stdin.write(f"close {picked}\n")
    p.stdin.flush()
    said(p, "closed")
    # The closed socket's view goes (back to the table), or another one shows.
    after = tm.wait(lambda s: detail_inode(s) != picked, 10, "p")
    shown = detail_inode(after)
    tm.keys("p", "q")
    return shown is None, (f"picked inode {picked} of {inodes}; once it was closed the "
                           f"detail view showed inode {shown}: {after.splitlines()[:5]!r}")


def ages(frame):
    return re.findall(r"(?m)^ESTABLISHED +127\.0\.0\.2:45000 .* (>\S+) +\d+ +\d+ +\S+ +\d+$",
                      frame)


def same_tuple(ns):
    p = start(ns, RECONNECT)
    said(p, "ready")
    # --no-wire: the kernel's view alone, whose ages are lower bounds
    # (">"); as root top would capture, and a capture makes them exact.
    top = subprocess.Popen(["ip", "netns", "exec", ns.name, TCPSTATE, "top", "-b", "-d", "2",
                            "-n", "3", "--no-wire", "--", "sport", "=", ":45000"],
                           stdout=subprocess.PIPE, text=True)
    frames, cur = [], []
    try:
        for line in top.stdout:
            if line.startswith("tcpstate top - ") and cur:
                frames.append("".join(cur))
                cur = []
                if len(frames) == 1:
                    # Frame 2 is being printed, its refresh done: the socket
                    # is replaced two seconds before frame 3's.
                    p.stdin.write("x\n")
                    p.stdin.flush()
                    said(p, "again")
            cur.append(line)
        frames.append("".join(cur))
    finally:
        top.kill()
        top.wait()
        top.stdout.close()
    got = [ages(f) for f in frames]
    ok = len(got) == 3 and got[0] == got[2] == [">0s"]
    return ok, (f"ages of 127.0.0.2:45000 per frame {got}; the third frame's socket was new "
                f"since the second")


tm = Tmux()
try:
    case(rep, "tmux_detail_reuseport_keeps_its_socket", reuseport, tm)
    case(rep, "batch_same_tuple_new_socket_age", same_tuple)
finally:
    tm.kill()
rep.exit()
