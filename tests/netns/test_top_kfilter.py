#!/usr/bin/env python3
"""tcpstate top with the filter in the kernel (inet_diag bytecode), as root in
a namespace of its own:
 - batch frames with a filter give exactly the rows ss gives for it, with the
   bytecode and without it (--no-kernel-filter);
 - a filter typed at / is compiled again: after one port's filter, another
   port's shows that port's sockets (with the first program still in the
   kernel it would show none), and clearing it shows every socket again;
 - as nobody, a fwmark filter typed at / is refused with the reason (the
   kernel tells marks only to CAP_NET_ADMIN: every mark would read 0)."""
import collections, json, subprocess, time

import nslib
from toplib import Tmux, rows

TCPSTATE = nslib.TCPSTATE
CASES = ["batch_filtered_rows_match_ss", "batch_no_kernel_filter_same_rows",
         "tmux_new_filter_recompiled", "tmux_cleared_filter_shows_all",
         "tmux_fwmark_refused_without_net_admin"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("tmux", "ip", "ss"))
report = rep.check

HOLDER = r"""
import socket, sys
keep = []
for port, n in ((7001, 2), (7002, 3), (7003, 1)):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(16); keep.append(l)
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept(); keep += [c, s]
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 7002)); l6.listen(4); keep.append(l6)
c = socket.create_connection(("::1", 7002)); s, _ = l6.accept(); keep += [c, s]
print("ready", flush=True)
sys.stdin.read()
"""


def last_frame_keys(ns, args):
    """Row keys of the last JSON frame of `top -b --json --no-wire ARGS`."""
    res = nslib.run(["ip", "netns", "exec", ns.name, TCPSTATE, "top", "-b", "--json",
                     "--no-wire", "-n", "2", "-d", "0.2"] + args, timeout=30)
    if res.returncode != 0:
        raise nslib.Fail(f"top {args} exited {res.returncode}: {res.stderr.strip()[:200]}")
    frames = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    return collections.Counter(nslib.ts_key(o) for o in frames[-1]["rows"])


def batch_cases(ns):
    filt = ["dport", "=", ":7002"]
    want = nslib.ss_keys(ns.ss_rows_with_state("-tanH", ["state", "all"] + filt))
    got = last_frame_keys(ns, filt)
    report(got == want and sum(want.values()) == 4, "batch_filtered_rows_match_ss",
           f"top {sorted(got.elements())}, ss {sorted(want.elements())}")
    plain = last_frame_keys(ns, ["--no-kernel-filter"] + filt)
    report(plain == got, "batch_no_kernel_filter_same_rows",
           f"with bytecode {sorted(got.elements())}, without {sorted(plain.elements())}")


def peer_ports(screen):
    """The peer port of each table row on the screen."""
    out = []
    for r in rows(screen):
        f = r.split()
        if len(f) >= 3 and ":" in f[2]:  # State, Local, Peer, ...
            out.append(f[2].rsplit(":", 1)[1])
    return out


def tmux_cases(ns, tm):
    total = len(ns.ss("-tanH", ["state", "all"]))
    tm.new("t", f"ip netns exec {ns.name} {TCPSTATE} top --no-wire -d 0.3; sleep 60")
    tm.wait(lambda s: "ESTABLISHED" in s and "Recv-Q" in s)

    def set_filter(text):
        tm.keys("t", "/")
        time.sleep(0.3)
        tm.keys("t", "C-a", "C-k")
        if text:
            tm.keys("t", text)
        tm.keys("t", "Enter")

    set_filter("dport = :7001")
    s = tm.wait(lambda s: "filter: dport = :7001" in s and peer_ports(s) == ["7001"] * 2)
    first = peer_ports(s)
    set_filter("dport = :7002")
    s = tm.wait(lambda s: "filter: dport = :7002" in s and peer_ports(s) == ["7002"] * 4)
    second = peer_ports(s)
    report(first == ["7001"] * 2 and second == ["7002"] * 4, "tmux_new_filter_recompiled",
           f"rows for :7001 {first}, then for :7002 {second}")
    set_filter("")
    s = tm.wait(lambda s: "filter:" not in s.splitlines()[0] and len(rows(s)) >= total)
    report("filter:" not in s.splitlines()[0] and len(rows(s)) == total,
           "tmux_cleared_filter_shows_all", f"{len(rows(s))} rows, ss has {total}")
    tm.keys("t", "q")


def tmux_fwmark_nobody(ns, tm):
    tm.new("n", f"ip netns exec {ns.name} setpriv --reuid=65534 --regid=65534 --clear-groups "
                f"--inh-caps=-all {TCPSTATE} top --no-wire -d 0.3; sleep 60")
    tm.wait(lambda s: "Recv-Q" in s, 10, "n")
    tm.keys("n", "/")
    time.sleep(0.3)
    tm.keys("n", "fwmark 0", "Enter")
    s = tm.wait(lambda s: "fwmark needs CAP_NET_ADMIN" in s, 5, "n")
    lines = s.splitlines()
    report("fwmark needs CAP_NET_ADMIN" in s and "filter:" not in lines[0],
           "tmux_fwmark_refused_without_net_admin",
           f"title {lines[0] if lines else ''!r}, status {lines[-1] if lines else ''!r}")
    tm.keys("n", "q")


def cases(ns, tmp):
    ns.spawn(HOLDER)
    batch_cases(ns)
    with Tmux() as tm:
        tmux_cases(ns, tm)
        tmux_fwmark_nobody(ns, tm)


nslib.in_netns(rep, CASES, cases)
