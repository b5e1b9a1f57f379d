#!/usr/bin/env python3
"""top's group view (key g), driven in tmux, as root, in a namespace of its
own holding a dual-stack server with IPv4 clients (peers 127.0.0.1 on one
side, ::ffff:127.0.0.1 on the other) and a connection between two long
IPv6 addresses:
 - by remote host, ::ffff:127.0.0.1 is 127.0.0.1: one group;
 - a 39-character IPv6 key stays in its column: every row's count and
   "oldest" line up;
 - without a capture every age is a lower bound, and "oldest" says so (>=);
 - one group is "1 group", not "1 groups";
 - by process, a TIME-WAIT socket (no owner) is "(no process: kernel TIME-WAIT)";
 - by remote host, the listeners of both families are one group "*";
 - the detail view of a listener reads "-> *:*", as the table does.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

TCPSTATE = nslib.TCPSTATE

CASES = ["host_groups_join_v4mapped", "long_ipv6_key_keeps_columns",
         "oldest_keeps_lower_bound_mark", "one_group_singular", "no_process_group",
         "listeners_one_wildcard_host", "detail_listener_peer_as_table"]
rep = nslib.begin("top_groups", CASES, watchdog=None, tools=("tmux", "ip"))

LONG_A = "fd00:1234:5678:9abc:def0:1234:5678:9abc"
LONG_B = "fd00:1234:5678:9abc:def0:1234:5678:9abd"

HOLDER = r"""
import socket, sys
keep = []
l = socket.socket(socket.AF_INET6)
l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
l.bind(("::", 7000)); l.listen()
for _ in range(2):
    keep.append(socket.create_connection(("127.0.0.1", 7000))); keep.append(l.accept()[0])
m = socket.socket(socket.AF_INET6)
m.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
m.bind(("%s", 7001)); m.listen()
c = socket.socket(socket.AF_INET6); c.bind(("%s", 0)); c.connect(("%s", 7001))
v4 = socket.socket(); v4.bind(("127.0.0.1", 7003)); v4.listen()
keep += [l, m, c, m.accept()[0], v4]
print("ready", flush=True)
sys.stdin.read()
""" % (LONG_A, LONG_B, LONG_A)

# A TIME-WAIT socket to ::1, whose process has gone before top starts.
TIME_WAIT = r"""
import socket, time
l = socket.socket(socket.AF_INET6); l.bind(("::1", 7004)); l.listen()
c = socket.create_connection(("::1", 7004)); s, _ = l.accept()
c.close(); time.sleep(0.1); s.close(); time.sleep(0.1)
"""


GROUP_RE = re.compile(r"^(\S+|\([^)]*\))\s+(\d+)\s+oldest (\S+)")


def groups(screen):
    """(key, count, oldest, column of 'oldest') of each group row."""
    lines = screen.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("Grouped by")), None)
    if start is None:
        return []
    out = []
    for l in lines[start + 1:]:
        m = GROUP_RE.match(l)
        if m:
            out.append((m.group(1), int(m.group(2)), m.group(3), l.index(" oldest ")))
    return out


def group_cases(ns, tm):
    """Every case, in order, on top's screen in tmux."""
    for a in (LONG_A, LONG_B):
        ns.add_addr(a + "/64")
    ns.spawn(HOLDER)
    ns.exec([sys.executable, "-c", TIME_WAIT], check=True)

    tm.new("t", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.5; echo EXIT=$?; sleep 60")
    tm.wait(lambda s: "Recv-Q" in s and "ESTABLISHED" in s)
    tm.keys("t", "g")
    s = tm.wait(lambda s: "Grouped by process" in s and len(groups(s)) >= 2)
    g = groups(s)
    rep.check(("(no process: kernel TIME-WAIT)", 1) in [(k, n) for k, n, _, _ in g] and
              not any(k.startswith("?") for k, _, _, _ in g), "no_process_group",
              "groups %r" % (g,))
    tm.keys("t", "g")
    s = tm.wait(lambda s: "Grouped by remote host" in s and len(groups(s)) >= 4)
    g = groups(s)
    keys = {k: n for k, n, _, _ in g}
    rep.check(keys.get("127.0.0.1") == 4 and not any(k.startswith("::ffff:") for k in keys),
              "host_groups_join_v4mapped", "groups %r" % (g,))
    cols = {c for _, _, _, c in g}
    rep.check(LONG_A in keys and LONG_B in keys and len(cols) == 1, "long_ipv6_key_keeps_columns",
              "'oldest' at columns %r; screen %r" % (sorted(cols), s))
    rep.check(g and all(o.startswith(">=") for _, _, o, _ in g), "oldest_keeps_lower_bound_mark",
              "oldest %r" % ([o for _, _, o, _ in g],))
    rep.check(keys.get("*") == 3 and not {"::", "0.0.0.0"} & set(keys),
              "listeners_one_wildcard_host", "groups %r" % (g,))

    # Only the listeners, grouped by state: one group.
    tm.keys("t", "/")
    time.sleep(0.3)
    tm.keys("t", "state listening", "Enter")
    tm.keys("t", "g")
    s = tm.wait(lambda s: "filter: state listening" in s and "Grouped by state" in s)
    title = next((l for l in s.splitlines() if l.startswith("Grouped by")), "")
    rep.check(title.strip() == "Grouped by state: 1 group" and len(groups(s)) == 1,
              "one_group_singular", "title %r, groups %r" % (title, groups(s)))

    # No grouping again: the first listener's detail.
    tm.keys("t", "g", "Home", "Enter")
    s = tm.wait(lambda s: s.startswith("Connection "))
    first = s.splitlines()[0].rstrip() if s else ""
    rep.check(re.fullmatch(r"Connection \S+:700[013] -> \*:\*", first) is not None,
              "detail_listener_peer_as_table", "first line %r" % (first,))
    tm.keys("t", "q", "q")


def cases(ns, tmp):
    with nslib.Tmux() as tm:
        group_cases(ns, tm)


nslib.in_netns(rep, CASES, cases)
