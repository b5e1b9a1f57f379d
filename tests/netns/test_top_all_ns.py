#!/usr/bin/env python3
"""`tcpstate top -A`: every network namespace in the monitor.

Root only.  Three named namespaces and two unnamed ones (a process that
unshares its network namespace, as container runtimes make them); two named
ones hold the SAME 4-tuples (a listener on 127.0.0.1:41100 and a
connection to it from 127.0.0.1:41101), the others tuples of their own.
The machine may hold other sessions' namespaces: every check looks only at
the namespaces made here, by inode.

  rows_equal_ss        `top -b -A --json -n 3`: in every frame, the rows of
                       each namespace made here (by netns_inode) equal
                       `ss -tanH` inside it; names and pids as list -A's
  join_keeps_apart     a TIME-WAIT tuple in one namespace, and later the same
                       tuple's TIME-WAIT in another: the second is a new row
                       with no owner, not the first's (the join keys on the
                       namespace as well as the tuple)
  group_netns          `--group netns` batch: one group per namespace, by its
                       label, with as many sockets as ss shows in it
  ns_select            --ns NAME and --ns INODE keep only that namespace
  usage_errors         --group netns, --ns, --rootfs without -A; -A -N; a
                       device name with -A: exit 2 with a message
  tmux_80x24           the screen at 80x24: the Netns column, g cycles to the
                       namespace grouping, q exits 0
  tmux_200x50          the same at 200x50 (both with --ns: the named ones made
                       here and the host's, each a group)
  netns_deleted_midrun namespaces made and deleted, processes that unshare and
                       exit, while top -A runs: exit 0, nothing on stderr,
                       every frame's rows of the namespaces made here as ss

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402
# list -A's test: its unnamed namespaces (a listener and a connection on a port of their own).
from test_list_all_basic import Unnamed, by_inode as rows_by_inode, inode_of  # noqa: E402
from toplib import Tmux  # noqa: E402

CASES = ["rows_equal_ss", "join_keeps_apart", "group_netns", "ns_select", "usage_errors",
         "tmux_80x24", "tmux_200x50", "netns_deleted_midrun"]

SAME_PORT = 41100

# A listener and one connection to it on port PORT; "ready", then wait for stdin to close.
SCRIPT = r'''
import socket, sys
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
c = socket.socket(); c.bind(("127.0.0.1", port + 1))
c.connect(("127.0.0.1", port)); a, _ = s.accept()
keep = [s, c, a]
print("ready", flush=True)
sys.stdin.read()
'''

# On "open": a connection 127.0.0.1:PORT+1 -> 127.0.0.1:PORT; on "close": the
# client closes first (its end goes to TIME-WAIT), then the server's end.
JOIN_SCRIPT = r'''
import socket, sys
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
print("ready", flush=True)
conn = []
for line in sys.stdin:
    if line.strip() in ("open", "openclose"):
        c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind(("127.0.0.1", port + 1)); c.connect(("127.0.0.1", port))
        a, _ = s.accept(); conn = [c, a]
    if line.strip() in ("close", "openclose"):
        conn[0].close(); conn[1].recv(1); conn[1].close(); conn = []
    print("ok", flush=True)
'''


class World:
    def __init__(self):
        self.named = []    # (Netns, inode)
        self.unnamed = []  # Unnamed
        for port in (SAME_PORT, SAME_PORT, 41200):
            ns = nslib.Netns()
            ns.spawn(SCRIPT, port)
            self.named.append((ns, inode_of("/run/netns/" + ns.name)))
        for port in (41300, 41310):
            self.unnamed.append(Unnamed(port))

    def mine(self):
        """inode -> (what, ss rows, name or None, pid or None)"""
        m = {}
        for ns, ino in self.named:
            m[ino] = (ns.name, ns.ss("-tanH"), ns.name, None)
        for u in self.unnamed:
            m[u.inode] = ("unnamed pid %d" % u.pid, u.ss(), None, u.pid)
        return m

    def destroy(self):
        for u in self.unnamed:
            u.stop()
        for ns, _ in self.named:
            ns.destroy()


def top_argv(args):
    return [nslib.TCPSTATE, "top", "-b", "-A", "--no-wire", "-d", "0.2"] + list(args)


def frames(args, n, timeout=60):
    """The JSON frames of `top -b -A --json -n N ARGS`.  The machine may hold
    other namespaces with many sockets (another test's): timeouts are wide."""
    res = nslib.run_result(top_argv(["--json", "-n", str(n)] + list(args)), timeout=timeout)
    if res.rc != 0 or res.stderr:
        raise Fail("%s: want exit 0 and no message" % res.describe())
    out = [json.loads(line) for line in res.stdout.splitlines()]
    if len(out) != n:
        raise Fail("%d frames, want %d" % (len(out), n))
    return out


def by_inode(frame):
    return rows_by_inode(frame["rows"])


class TopStream:
    """top -b -A --json running on, one frame read at a time."""

    def __init__(self, args):
        self.p = subprocess.Popen(top_argv(["--json"] + list(args)), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def next(self):
        line = self.p.stdout.readline()
        if not line:
            raise Fail("top -A ended: %s" % self.p.stderr.read())
        return json.loads(line)

    def until(self, pred, what, most=100):
        """The first frame pred holds on, reading at most `most` frames."""
        for _ in range(most):
            f = self.next()
            if pred(f):
                return f
        raise Fail("no frame where %s in %d frames" % (what, most))

    def stop(self):
        self.p.kill()
        self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def tw_rows(frame, ino, port):
    return [o for o in by_inode(frame).get(ino, [])
            if o["state"] == "TIME-WAIT" and o["local_port"] == port + 1]


def established_owned(frame, ino, port):
    return any(o["state"] == "ESTABLISHED" and o["local_port"] == port + 1 and o["process"]
               for o in by_inode(frame).get(ino, []))


class JoinPair:
    """Two named namespaces each running JOIN_SCRIPT on the same port."""

    def __init__(self, port):
        self.port = port
        self.ns = [nslib.Netns(), nslib.Netns()]
        self.p = [ns.popen([sys.executable, "-c", JOIN_SCRIPT, str(port)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                  for ns in self.ns]
        for p in self.p:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("the join script did not get ready")
        self.ino = [inode_of("/run/netns/" + ns.name) for ns in self.ns]

    def say(self, i, word):
        self.p[i].stdin.write(word + "\n")
        self.p[i].stdin.flush()
        if self.p[i].stdout.readline().strip() != "ok":
            raise Fail("the join script in %s failed at %r" % (self.ns[i].name, word))

    def destroy(self):
        for ns in self.ns:
            ns.destroy()


class Tests:
    def __init__(self, w):
        self.w = w

    def rows_equal_ss(self):
        mine = self.w.mine()
        for f in frames([], 3):
            rows = by_inode(f)
            if f.get("namespaces", 0) < len(mine):
                raise Fail("frame says %r namespaces, %d made here" %
                           (f.get("namespaces"), len(mine)))
            for ino, (what, ss, name, pid) in mine.items():
                if not ss:
                    raise Fail("%s: ss shows no socket: the scenario did not build" % what)
                got = rows.get(ino, [])
                nslib.compare_counters(nslib.ts_keys(got), nslib.ss_keys(ss),
                                       "%s (inode %d)" % (what, ino))
                for o in got:
                    if o["netns"] != name or (pid is not None and o["netns_pid"] != pid):
                        raise Fail("%s: row says netns %r pid %r" %
                                   (what, o["netns"], o["netns_pid"]))

    def join_keeps_apart(self):
        pair = JoinPair(41400)
        top = TopStream([])
        try:
            a, b = pair.ino
            port = pair.port
            pair.say(0, "open")
            top.until(lambda f: established_owned(f, a, port), "A's connection has an owner")
            pair.say(0, "close")
            f = top.until(lambda f: tw_rows(f, a, port), "A's TIME-WAIT shows")
            first = tw_rows(f, a, port)[0]
            if not first["process"] or first["process"]["pid"] != pair.p[0].pid:
                raise Fail("A's TIME-WAIT row remembers %r, want pid %d" %
                           (first["process"], pair.p[0].pid))
            # The same tuple in B, opened and closed between two refreshes.
            pair.say(1, "openclose")
            f = top.until(lambda f: tw_rows(f, b, port), "B's TIME-WAIT shows")
            got_a, got_b = tw_rows(f, a, port), tw_rows(f, b, port)
            if len(got_a) != 1 or len(got_b) != 1:
                raise Fail("TIME-WAIT rows: A %r, B %r" % (got_a, got_b))
            if got_b[0]["process"] is not None:
                raise Fail("B's new TIME-WAIT row took an owner it never had: %r "
                           "(A's process is pid %d)" % (got_b[0]["process"], pair.p[0].pid))
            if not got_a[0]["process"] or got_a[0]["process"]["pid"] != pair.p[0].pid:
                raise Fail("A's TIME-WAIT row lost its owner: %r" % got_a[0]["process"])
        finally:
            top.stop()
            pair.destroy()

    def group_netns(self):
        res = nslib.run_result(top_argv(["--group", "netns", "-n", "1"]), timeout=60)
        if res.rc != 0 or res.stderr:
            raise Fail("%s: want exit 0" % res.describe())
        if not re.search(r"^tcpstate top .* sockets? in \d+ namespaces? ", res.stdout, re.M):
            raise Fail("the title does not count namespaces: %r" % res.stdout[:200])
        if "Grouped by namespace:" not in res.stdout:
            raise Fail("no grouping title: %r" % res.stdout)
        counts = {}
        for line in res.stdout.splitlines():
            m = re.match(r"^(\S+)\s+(\d+)\s+oldest ", line)
            if m:
                counts[m.group(1)] = int(m.group(2))
        for ns, ino in self.w.named:
            want = len(ns.ss("-tanH"))
            if counts.get(ns.name) != want:
                raise Fail("group %s: %r sockets, ss shows %d" %
                           (ns.name, counts.get(ns.name), want))
        for u in self.w.unnamed:
            label = "python3[%d]" % u.pid
            if counts.get(label) != len(u.ss()):
                raise Fail("group %s: %r sockets, ss shows %d" %
                           (label, counts.get(label), len(u.ss())))

    def ns_select(self):
        ns, ino = self.w.named[1]
        u = self.w.unnamed[1]
        for pats, want in (([ns.name], {ino}), ([str(u.inode)], {u.inode}),
                           ([ns.name, str(u.inode)], {ino, u.inode})):
            args = []
            for p in pats:
                args += ["--ns", p]
            for f in frames(args, 2):
                got = {o["netns_inode"] for o in f["rows"]}
                if got != want or f["namespaces"] != len(want):
                    raise Fail("--ns %r: inodes %r (%r namespaces), want %r" %
                               (pats, got, f["namespaces"], want))

    def usage_errors(self):
        name = self.w.named[0][0].name
        base = [nslib.TCPSTATE, "top", "-b", "-n", "1", "--no-wire"]
        for args, word in ((["--group", "netns"], "-A"), (["--ns", "x"], "-A"),
                           (["--rootfs", "/"], "-A"), (["-A", "-N", name], "-N"),
                           (["-A", "--ns", ""], "empty"), (["-A", "dev", "lo"], "ifN"),
                           (["-A", "--group", "nope"], "netns")):
            res = nslib.run_result(base + args)
            if res.rc != 2 or res.stdout or word not in res.stderr:
                raise Fail("%s: want exit 2 and a message naming %r" % (res.describe(), word))

    def tmux_at(self, x, y):
        with Tmux() as tm:
            # Its own namespaces and the host's: the machine may hold hundreds more.
            pick = "--ns 'tcpst-%d-*' --ns '(host)'" % os.getpid()
            tm.new("t", "%s top -A %s --no-wire -d 0.3; echo EXIT=$?; sleep 60" %
                   (nslib.TCPSTATE, pick), x=x, y=y)
            s = tm.wait(lambda s: re.search(r"^Netns +State ", s, re.M) is not None, 60)
            if not re.search(r"^Netns +State ", s, re.M):
                raise Fail("%dx%d: no Netns column: %r" % (x, y, s))
            if not re.search(r"sockets? in \d+ namespaces?", s):
                raise Fail("%dx%d: the title does not count namespaces: %r" % (x, y, s[:200]))
            if max(len(line) for line in s.splitlines()) > x:
                raise Fail("%dx%d: a line is wider than the screen" % (x, y))
            # One g at a time, each seen to act: a refresh of a busy machine may be slow.
            for by in ("process", "remote host", "state", "namespace"):
                tm.keys("t", "g")
                s = tm.wait(lambda s, by=by: "Grouped by %s:" % by in s, 60)
            if "Grouped by namespace" not in s or "(host)" not in s:
                raise Fail("%dx%d: g did not reach the namespace grouping: %r" % (x, y, s))
            if not all(ns.name in s for ns, _ in self.w.named):
                raise Fail("%dx%d: a namespace made here is not among the groups: %r" %
                           (x, y, s))
            tm.keys("t", "g")  # back to no grouping: rows again
            s = tm.wait(lambda s: re.search(r"^Netns +State ", s, re.M) is not None, 60)
            tm.keys("t", "q")
            s = tm.wait(lambda s: "EXIT=" in s, 60)
            if "EXIT=0" not in s:
                raise Fail("%dx%d: %r" % (x, y, re.findall("EXIT=.*", s)))

    def tmux_80x24(self):
        self.tmux_at(80, 24)

    def tmux_200x50(self):
        self.tmux_at(200, 50)

    def netns_deleted_midrun(self):
        stop = threading.Event()
        errors = []

        def churn():
            n = 0
            while not stop.is_set():
                n += 1
                name = "tcpst-%d-topchurn-%d" % (os.getpid(), n)
                try:
                    nslib.run(["ip", "netns", "add", name], check=True)
                    nslib.run(["ip", "netns", "exec", name, "true"], check=True)
                    nslib.run(["ip", "netns", "del", name], check=True)
                    nslib.run(["unshare", "-n", "sleep", "0.05"], check=True)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
                    return
        want = {ino: nslib.ss_keys(ss) for ino, (_, ss, _, _) in self.w.mine().items()}
        t = threading.Thread(target=churn)
        t.start()
        try:
            got = frames([], 10, timeout=240)
        finally:
            stop.set()
            t.join()
        if errors:
            raise Fail("the churn itself failed: %s" % errors[0])
        for f in got:
            rows = by_inode(f)
            for ino, keys in want.items():
                nslib.compare_counters(nslib.ts_keys(rows.get(ino, [])), keys,
                                       "inode %d while others come and go" % ino)


def main():
    rep = nslib.begin("top_all_ns", CASES, watchdog=280,
                      tools=("ip", "ss", "unshare", "nsenter", "tmux"))
    w = None
    try:
        w = World()
        t = Tests(w)
        for name in CASES:
            rep.case(name, getattr(t, name))
    except Exception as e:  # noqa: BLE001
        rep.fail_rest(CASES, "%s: %s" % (type(e).__name__, e))
    finally:
        nslib.stop_watchdog()
        if w is not None:
            w.destroy()
    rep.exit()


if __name__ == "__main__":
    main()
