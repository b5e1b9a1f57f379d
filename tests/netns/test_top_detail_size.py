#!/usr/bin/env python3
"""top's detail view (Enter) and the size of the screen, as root in a namespace of
its own, in tmux:
 - at 80x24, the smallest screen top supports, the detail view of an IPv6
   connection between two long addresses shows the whole peer (the ends go
   on two lines; once, one line wrapped and the next was drawn over it);
 - a screen shrunk to 20x5 while the detail view shows says that top needs
   80x24, as the table does (once its lines wrapped over each other)."""
import re

from toppicklib import TCPSTATE, begin, said, start
from toplib import Tmux, case

CASES = ["tmux_detail_80x24_whole_peer", "tmux_detail_20x5_says_too_small"]
rep = begin(CASES)

A = "fd00:1234:5678:9abc:def0:1234:5678:9abc"
B = "fd00:1234:5678:9abc:def0:1234:5678:9abd"
PEER = f"[{B}]:65000"

# One connection between the two long addresses, held until stdin closes.
HOLD = f'''
import socket, sys
l = socket.socket(socket.AF_INET6); l.bind(("{B}", 65000)); l.listen(4)
c = socket.socket(socket.AF_INET6); c.bind(("{A}", 65001)); c.connect(("{B}", 65000))
a, _ = l.accept()
print("ready", flush=True)
sys.stdin.read()
'''


def detail(ns, tm, name):
    for a in (A, B):
        ns.exec(["ip", "addr", "add", a + "/64", "dev", "lo", "nodad"], check=True)
    said(start(ns, HOLD), "ready")
    tm.new(name, f"ip netns exec {ns.name} {TCPSTATE} top -d 0.2 -- sport = :65001", 80, 24)
    tm.wait(lambda s: re.search(r"(?m)^ESTABLISHED +\[fd00:", s) is not None, 10, name)
    tm.keys(name, "Enter")
    return tm.wait(lambda s: s.startswith("Connection "), 10, name)


def whole_peer(ns, tm):
    s = detail(ns, tm, "w")
    tm.keys("w", "q")
    return PEER in s, f"no {PEER!r} on the 80x24 detail view: {s.splitlines()[:4]!r}"


def too_small(ns, tm):
    detail(ns, tm, "s")
    tm.run("resize-window", "-t", "s", "-x", "20", "-y", "5")
    s = tm.wait(lambda s: "needs at least 80x24" in s.replace("\n", ""), 10, "s")
    tm.keys("s", "q")
    return "needs at least 80x24" in s.replace("\n", ""), f"at 20x5 the detail view: {s!r}"


tm = Tmux()
try:
    case(rep, "tmux_detail_80x24_whole_peer", whole_peer, tm)
    case(rep, "tmux_detail_20x5_says_too_small", too_small, tm)
finally:
    tm.kill()
rep.exit()
