#!/usr/bin/env python3
"""top's groups by process (`top -b --group process`, the g key) for the
sockets no process holds, as root, in a namespace of its own.  One
process (a socket holder) builds, over loopback:
 - a connection it closed at both ends, its client side now in TIME-WAIT:
   the line reads "(no process: kernel TIME-WAIT)", not one "(no process)" that reads
   as sockets some process forgot;
 - a connection whose client side it closed (the server side it keeps, in
   CLOSE-WAIT): the client waits in FIN-WAIT-2 with no file, orphaned,
   under "(no process: orphaned)";
 - a connection to a listener it never accepts: the server side, in the
   listener's queue, is "(no process: not accepted)";
 - the rest (two listeners, the CLOSE-WAIT side, the unaccepted client)
   are its own, under "name[pid]", and no line reads "(no process)";
 - run as nobody, who may not look into root's /proc/PID/fd, its sockets
   are "(owner out of sight)", and the kernel's groups stay as they were;
 - a connection it closes while top watches: what the kernel holds after
   (TIME-WAIT) counts under "~name[pid]", apart from what it holds.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

CASES = ["time_wait_is_the_kernels", "orphan_is_the_kernels", "not_accepted_is_the_kernels",
         "holder_keeps_its_own", "no_process_line_gone", "out_of_sight_without_privilege",
         "closed_while_watched_marked", "close_wait_holder_out_of_sight",
         "rows_cut_groups_says_so"]
rep = nslib.begin("top_kernel_groups", CASES)

LINE_RE = re.compile(r"^(.+?)\s+(\d+)  oldest (\S+)\s*(.*)$")


def groups(out):
    """{key: (count, {state abbreviation: count})} of a batch frame's group lines."""
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("Grouped by process")), None)
    found = {}
    for l in lines[start + 1:] if start is not None else []:
        if not l.strip():
            break
        m = LINE_RE.match(l)
        if m:
            toks = m.group(4).split()
            found[m.group(1)] = (int(m.group(2)),
                                 {toks[i]: int(toks[i + 1]) for i in range(0, len(toks) - 1, 2)})
    return found


def top_frame(ns, as_nobody=False):
    argv = [nslib.TCPSTATE, "top", "-b", "-n", "1", "--group", "process"]
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
    r = ns.exec(argv)
    if r.returncode != 0:
        raise RuntimeError("top exited %d: %s" % (r.returncode, r.stderr.strip()))
    return r.stdout


def wait_states(ns, want):
    """Until ss shows each (local port, peer port) in its state (nslib's spelling)."""
    deadline = time.monotonic() + 10
    while True:
        have = {(r.local[1], r.peer[1]): r.state for r in ns.ss("-tanH")}
        if all(have.get(k) == s for k, s in want.items()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("sockets not in their states: want %r, ss has %r" % (want, have))
        time.sleep(0.05)


def frames(proc):
    """Each batch frame top prints, as it comes."""
    cur = []
    for line in proc.stdout:
        if line.startswith("tcpstate top - ") and cur:
            yield "".join(cur)
            cur = []
        cur.append(line)
    if cur:
        yield "".join(cur)


def body(ns, tmp):
    h = ns.holder()
    with open("/proc/%d/comm" % h.pid) as f:
        me = "%s[%d]" % (f.read().strip(), h.pid)
    l1 = h.listen("127.0.0.1", 7100)
    l2 = h.listen("127.0.0.1", 7101)
    # TIME-WAIT: the client closes first, then the server.
    c1 = h.connect("127.0.0.1", 7100, bind=["127.0.0.1", 41001])
    s1 = l1.accept()
    c1.close()
    wait_states(ns, {(41001, 7100): "FIN-WAIT-2"})
    s1.close()
    # Orphaned: the client closes; the server side stays open, in CLOSE-WAIT.
    c2 = h.connect("127.0.0.1", 7100, bind=["127.0.0.1", 41002])
    l1.accept()
    c2.close()
    # Not accepted: a connection in l2's queue.
    h.connect("127.0.0.1", 7101, bind=["127.0.0.1", 41003])
    wait_states(ns, {(41001, 7100): "TIME-WAIT", (41002, 7100): "FIN-WAIT-2",
                     (7100, 41002): "CLOSE-WAIT", (7101, 41003): "ESTABLISHED"})

    out = top_frame(ns)
    g = groups(out)
    rep.check(g.get("(no process: kernel TIME-WAIT)") == (1, {"TIME-W": 1}), "time_wait_is_the_kernels",
              "groups %r" % (g,))
    rep.check(g.get("(no process: orphaned)") == (1, {"FIN-W2": 1}), "orphan_is_the_kernels",
              "groups %r" % (g,))
    rep.check(g.get("(no process: not accepted)") == (1, {"ESTAB": 1}),
              "not_accepted_is_the_kernels", "groups %r" % (g,))
    rep.check(g.get(me) == (4, {"ESTAB": 1, "CLOSE-W": 1, "LISTEN": 2}), "holder_keeps_its_own",
              "%s: groups %r" % (me, g))
    rep.check(g and "(no process)" not in out, "no_process_line_gone", out)

    # --rows cuts the groups, and the title says so.
    r = ns.exec([nslib.TCPSTATE, "top", "-b", "-n", "1", "--group", "process", "--rows", "2"])
    cut = r.stdout.split("Grouped by process: ", 1)[-1].splitlines()
    rep.check(r.returncode == 0 and cut and
              cut[0] == "%d groups (the first 2 shown)" % len(g) and
              len([l for l in cut[1:] if l.strip()]) == 2, "rows_cut_groups_says_so", r.stdout)

    out2 = top_frame(ns, as_nobody=True)
    g2 = groups(out2)
    # The header names the CLOSE-WAIT holder it cannot see as the groups do.
    rep.check(re.search(r"(?m)^CLOSE-WAIT holders: \(owner out of sight\) 1, oldest", out2),
              "close_wait_holder_out_of_sight", out2)
    rep.check(g2.get("(owner out of sight)") == g.get(me) and me not in g2 and
              all(g2.get(k) == g.get(k) for k in g if k.startswith("(no process: ")),
              "out_of_sight_without_privilege", "as root %r; as nobody %r" % (g, g2))

    # Closed while top watches: it knew the owner, and marks what the kernel holds now.
    c4 = h.connect("127.0.0.1", 7100, bind=["127.0.0.1", 41004])
    s4 = l1.accept()
    top = subprocess.Popen(["ip", "netns", "exec", ns.name, nslib.TCPSTATE, "top", "-b",
                            "-d", "0.2", "-n", "50", "--group", "process"],
                           stdout=subprocess.PIPE, text=True)
    seen, closed = None, False
    try:
        for frame in frames(top):
            g3 = groups(frame)
            if not closed and g3.get(me, (0, {}))[1].get("ESTAB") == 3:
                c4.close()
                wait_states(ns, {(41004, 7100): "FIN-WAIT-2"})
                s4.close()
                closed = True
            elif closed and g3.get("~" + me, (0, {}))[1].get("TIME-W"):
                seen = g3
                break
    finally:
        top.kill()
        top.wait()
        top.stdout.close()
    rep.check(seen is not None and seen["~" + me] == (1, {"TIME-W": 1}) and
              seen.get("(no process: kernel TIME-WAIT)") == (1, {"TIME-W": 1}),
              "closed_while_watched_marked", "closed %r; groups %r" % (closed, seen))


nslib.in_netns(rep, CASES, body)
