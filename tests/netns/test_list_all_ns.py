#!/usr/bin/env python3
"""`tcpstate list -A` at scale (issue 18): 30 named network namespaces and
10 unnamed ones, each read back as ss reads it from inside, and the same
while namespaces vanish under it.

Root only.  The test makes 30 namespaces with `ip netns add
tcpst-A-<pid>-<k>` and 10 the way container runtimes do (a process that
unshares its network namespace and is never named: `unshare -n` running a
python holder).  In each, a holder process builds a small table of its
own, different in every namespace (ports 20000 + 50 k and up): 1 to 3
listeners and 1 to 4 established pairs over 127.0.0.1, in every second
one a v6-only listener and pairs on [::1], in every third a FIN-WAIT-2 /
CLOSE-WAIT pair (a client that shut down its writing side), and in six of
the named ones a TIME-WAIT socket.  Every socket there is stable for
longer than the test but the TIME-WAIT ones (60 s), so a comparison is
taken again when ss changed between just before and just after it.

Cases:
  * the tables are as planned (ss inside each namespace);
  * for every namespace of ours, the rows `list -A -a --json` gives for
    its inode equal `ss -tanH` run inside it (ip netns exec NAME /
    nsenter -t PID -n), as multisets of (state, local, peer); every row
    has the keys netns, netns_inode, container, netns_pid;
  * rows of named namespaces carry the name; rows of unnamed ones carry
    a null name and a pid that is in that namespace;
  * `list -A --json state close-wait` gives only CLOSE-WAIT rows, and in
    each namespace of ours exactly its CLOSE-WAIT sockets;
  * `--ns 'tcpst-A-<pid>-*'` selects our named namespaces and nothing
    else; `--ns INODE` one unnamed namespace;
  * the table's first column is Netns, with the name of a named one;
  * churn: while `list -A` runs in a loop, a thread deletes six named
    namespaces (ip netns del, then their holder killed) and kills three
    unnamed holders: every run exits 0 and gives every row of the
    namespaces that stay; the ones that went are not listed afterwards
    (by name or by their rows: a gone namespace's inode is soon reused).

Other sessions' namespaces exist on this machine: the test selects rows by
inode and never counts namespaces.  Everything it made goes on exit, on
failure and on a signal.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import json
import os
import select
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, compare_counters, fmt_cmd, make_key, ts_key  # noqa: E402

TCPSTATE = nslib.TCPSTATE
CASES = ["tables_as_planned", "rows_per_namespace_as_ss", "named_rows_carry_name",
         "unnamed_rows_carry_pid", "state_filter_close_wait", "ns_pattern_named",
         "ns_pattern_inode", "table_netns_column", "churn_every_run_exits_0",
         "churn_no_row_lost", "churn_gone_not_listed"]
TOOLS = ("ip", "ss", "unshare", "nsenter")
NAMED, UNNAMED = 30, 10
NS_KEYS = ("netns", "netns_inode", "container", "netns_pid")

# The holder: builds namespace k's table, prints {"pid", "plan"} (plan: the
# rows ss should show, [state, laddr, lport, paddr, pport]) and holds the
# sockets until its standard input closes.  argv: k v6 cw tw lo_up.
TABLE_SRC = r'''
import json, os, socket, subprocess, sys
k, v6, cw, tw, lo_up = (int(a) for a in sys.argv[1:6])
if lo_up:  # an unnamed namespace: nobody else brings its loopback up
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
base = 20000 + 50 * k
keep, plan = [], []
def listen(fam, addr, port):
    s = socket.socket(fam)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(16)
    keep.append(s)
    plan.append(["LISTEN", addr, port, "*", 0])
    return s
def pair(l):
    c = socket.socket(l.family)
    c.connect(l.getsockname()[:2])
    s = l.accept()[0]
    keep.extend([c, s])
    return c, s
def row(state, s):
    plan.append([state] + list(s.getsockname()[:2]) + list(s.getpeername()[:2]))
ls = [listen(socket.AF_INET, "127.0.0.1", base + i) for i in range(1 + k % 3)]
for j in range(1 + k % 4):
    c, s = pair(ls[j % len(ls)])
    row("ESTABLISHED", c)
    row("ESTABLISHED", s)
if v6:
    l6 = listen(socket.AF_INET6, "::1", base + 10)
    for j in range(1 + (k // 2) % 2):
        c, s = pair(l6)
        row("ESTABLISHED", c)
        row("ESTABLISHED", s)
if cw:  # the client's FIN only: FIN-WAIT-2 / CLOSE-WAIT for as long as both live
    c, s = pair(listen(socket.AF_INET, "127.0.0.1", base + 20))
    c.shutdown(socket.SHUT_WR)
    row("FIN-WAIT-2", c)
    row("CLOSE-WAIT", s)
if tw:  # the client closes first, the server once it has seen that FIN
    c, s = pair(listen(socket.AF_INET6 if k % 2 else socket.AF_INET,
                       "::1" if k % 2 else "127.0.0.1", base + 30))
    row("TIME-WAIT", c)
    c.close()
    s.recv(1)
    s.close()
print(json.dumps({"pid": os.getpid(), "plan": plan}), flush=True)
sys.stdin.read()
'''


class Space:
    """One namespace of ours and the holder of its table: named (ip netns
    add) when `name` is given, otherwise made by `unshare -n` and never
    named.  inode, pid and plan are known once ready() returned."""

    def __init__(self, k, name):
        self.k, self.name = k, name
        self.tw = name is not None and k % 5 == 4  # the churn's named victims
        self.victim = self.tw or (name is None and k % 3 == 2)
        self.added = False
        self.proc = self.pid = self.inode = None
        self.plan = collections.Counter()

    def start(self):
        """Make the namespace (named ones) and start the holder in it."""
        k, name = self.k, self.name
        args = [str(k), str(int(k % 2 == 0)), str(int(k % 3 == 0)), str(int(self.tw)),
                str(int(name is None))]
        py = [sys.executable, "-u", "-c", TABLE_SRC] + args
        if name is not None:
            nslib.run(["ip", "netns", "add", name], check=True)
            self.added = True  # from here on, destroy() deletes it
            nslib.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                      check=True)
            argv = ["ip", "netns", "exec", name] + py
        else:
            argv = ["unshare", "-n", "--"] + py
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def ready(self, deadline):
        """Wait for the holder's plan; learn the pid and the inode."""
        r, _, _ = select.select([self.proc.stdout], [], [], max(0.1, deadline - time.time()))
        line = self.proc.stdout.readline() if r else ""
        if not line:
            raise RuntimeError("the holder of %s did not get ready (rc %s)"
                               % (self.label(), self.proc.poll()))
        got = json.loads(line)
        self.pid = got["pid"]
        self.plan = collections.Counter(make_key(s, (la, lp), (pa, pp))
                                        for s, la, lp, pa, pp in got["plan"])
        path = "/run/netns/" + self.name if self.name else "/proc/%d/ns/net" % self.pid
        self.inode = os.stat(path).st_ino

    def label(self):
        return self.name or "unnamed k=%d pid=%s" % (self.k, self.pid)

    def enter(self):
        """argv prefix that runs a command in this namespace."""
        if self.name:
            return ["ip", "netns", "exec", self.name]
        return ["nsenter", "-t", str(self.pid), "-n"]

    def ss(self):
        """`ss -tanH` inside: a Counter of keys."""
        r = nslib.run(self.enter() + ["ss", "-tanH"], check=True)
        return nslib.ss_keys(nslib.parse_ss(r.stdout))

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()

    def undo_name(self):
        if self.added:
            self.added = False
            nslib.run(["ip", "netns", "del", self.name], timeout=20)

    def destroy(self):
        try:
            self.kill()
        finally:
            self.undo_name()


def make_spaces(spaces):
    """Start every namespace's holder (all at once, then wait for all)."""
    for k in range(NAMED + UNNAMED):
        name = "tcpst-A-%d-%d" % (os.getpid(), k) if k < NAMED else None
        spaces.append(Space(k, name))
        spaces[-1].start()
    deadline = time.time() + 30
    for sp in spaces:
        sp.ready(deadline)


def list_json(args, timeout=30):
    """`tcpstate list -A --json ARGS`: (Result, rows); rc 0 and valid JSON
    with the namespace keys on every row, or the case fails."""
    nslib.need_tcpstate()
    argv = [TCPSTATE, "list", "-A", "--json"] + list(args)
    res = nslib.run_result(argv, timeout)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    try:
        rows = json.loads(res.stdout)
    except ValueError as e:
        raise Fail("`%s` printed invalid JSON (%s): %r" % (fmt_cmd(argv), e, res.stdout[:300]))
    if not isinstance(rows, list):
        raise Fail("`%s`: the JSON is not an array" % fmt_cmd(argv))
    for o in rows:
        if not isinstance(o, dict) or any(key not in o for key in NS_KEYS + nslib.JSON_KEYS):
            raise Fail("`%s`: a row lacks a key of %s: %r"
                       % (fmt_cmd(argv), NS_KEYS + nslib.JSON_KEYS, o))
    return res, rows


def by_inode(rows):
    """Rows grouped by netns_inode."""
    out = collections.defaultdict(list)
    for o in rows:
        out[o["netns_inode"]].append(o)
    return out


def mismatches(spaces, groups, want):
    """The namespaces whose rows differ from want(sp), one message each."""
    bad = []
    for sp in spaces:
        got = collections.Counter(ts_key(o) for o in groups.get(sp.inode, []))
        try:
            compare_counters(got, want(sp), sp.label())
        except Fail as e:
            bad.append(str(e))
    return bad


def check_tables(spaces):
    """Every holder's table is in place as planned (ss inside; a TIME-WAIT
    or a FIN takes a moment on loopback, hence a few tries)."""
    deadline = time.time() + 10
    left = list(spaces)
    while left:
        left = [sp for sp in left if sp.ss() != sp.plan]
        if left and time.time() > deadline:
            sp = left[0]
            compare_counters(sp.plan, sp.ss(), "%s: its plan against ss (%d namespaces differ)"
                             % (sp.label(), len(left)))
        if left:
            time.sleep(0.1)


def rows_as_ss(spaces, out):
    """list -A -a against ss inside each namespace, taken again (up to 3
    times) when some table changed while list ran (a TIME-WAIT ending)."""
    for attempt in range(3):
        before = {sp.k: sp.ss() for sp in spaces}
        _, rows = list_json(["-a"])
        after = {sp.k: sp.ss() for sp in spaces}
        if before == after:
            break
    else:
        raise Fail("the tables kept changing under the comparison (3 tries)")
    out["rows"] = rows
    groups = by_inode(rows)
    bad = mismatches(spaces, groups, lambda sp: before[sp.k])
    if bad:
        raise Fail("%d of %d namespaces differ: %s" % (len(bad), len(spaces), " | ".join(bad[:3])))


def named_rows(spaces, out):
    groups = by_inode(out["rows"])
    for sp in spaces:
        if sp.name is None:
            continue
        for o in groups.get(sp.inode, []):
            if o["netns"] != sp.name:
                raise Fail("a row of %s (inode %d) has netns %r: %r"
                           % (sp.name, sp.inode, o["netns"], o))
            if not (o["container"] is None or isinstance(o["container"], str)):
                raise Fail("container is neither a string nor null: %r" % o)


def unnamed_rows(spaces, out):
    groups = by_inode(out["rows"])
    for sp in spaces:
        if sp.name is not None:
            continue
        for o in groups.get(sp.inode, []):
            pid = o["netns_pid"]
            if o["netns"] is not None or not isinstance(pid, int):
                raise Fail("a row of %s (inode %d) has netns %r, netns_pid %r (want null "
                           "and a pid): %r" % (sp.label(), sp.inode, o["netns"], pid, o))
            try:
                ino = os.stat("/proc/%d/ns/net" % pid).st_ino
            except OSError as e:
                raise Fail("netns_pid %d of %s: %s" % (pid, sp.label(), e))
            if ino != sp.inode:
                raise Fail("netns_pid %d of %s is in namespace %d, not %d"
                           % (pid, sp.label(), ino, sp.inode))


def state_filter(spaces):
    res, rows = list_json(["state", "close-wait"])
    others = {o["state"] for o in rows} - {"CLOSE-WAIT"}
    if others:
        raise Fail("`%s` gave rows in %s" % (fmt_cmd(res.argv), sorted(others)))

    def want(sp):
        return collections.Counter({k: n for k, n in sp.plan.items() if k[0] == "CLOSE-WAIT"})
    if not any(want(sp) for sp in spaces):
        raise Fail("no namespace of ours has a CLOSE-WAIT socket: the test is broken")
    bad = mismatches(spaces, by_inode(rows), want)
    if bad:
        raise Fail("%s: %d namespaces differ: %s" % (fmt_cmd(res.argv), len(bad),
                                                     " | ".join(bad[:3])))


def ns_pattern_named(spaces):
    pattern = "tcpst-A-%d-*" % os.getpid()
    res, rows = list_json(["-a", "--ns", pattern])
    named = [sp for sp in spaces if sp.name]
    extra = set(by_inode(rows)) - {sp.inode for sp in named}
    if extra:
        raise Fail("`%s` also gave namespaces %s" % (fmt_cmd(res.argv), sorted(extra)))
    bad = mismatches(named, by_inode(rows), lambda sp: sp.plan)
    if bad:
        raise Fail("%s: %s" % (fmt_cmd(res.argv), " | ".join(bad[:3])))


def ns_pattern_inode(spaces):
    sp = next(s for s in spaces if s.name is None)
    res, rows = list_json(["-a", "--ns", str(sp.inode)])
    if set(by_inode(rows)) != {sp.inode}:
        raise Fail("`%s` gave namespaces %s, want only %d"
                   % (fmt_cmd(res.argv), sorted(by_inode(rows)), sp.inode))
    bad = mismatches([sp], by_inode(rows), lambda s: s.plan)
    if bad:
        raise Fail(bad[0])


def table_column(spaces):
    nslib.need_tcpstate()
    res = nslib.run_result([TCPSTATE, "list", "-A", "-a"], 30)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    lines = res.stdout.splitlines()
    if not lines or lines[0].split()[:1] != ["Netns"]:
        raise Fail("the table's first column is not Netns: %r" % (lines[:1],))
    first = collections.Counter(line.split()[0] for line in lines[1:] if line.split())
    bad = ["%s: %d lines, %d sockets" % (sp.name, first[sp.name], sum(sp.plan.values()))
           for sp in spaces if sp.name and first[sp.name] != sum(sp.plan.values())]
    if bad:
        raise Fail("lines starting with the namespace's name: %s" % "; ".join(bad[:5]))


def churn(victims, errors):
    """The thread: named victims lose their name, then their holder;
    unnamed ones their holder; a little apart, so that list runs meet it."""
    try:
        for sp in victims:
            if sp.name:
                sp.undo_name()
                time.sleep(0.05)
            sp.kill()
            time.sleep(0.15)
    except Exception as e:  # the main thread reports it
        errors.append("%s: %s" % (type(e).__name__, e))


def churn_runs(spaces, out):
    """list -A -a in a loop while churn() runs, then twice more: each
    run's result, and how many ran while the thread was alive."""
    victims = [sp for sp in spaces if sp.victim]
    errors = []
    th = threading.Thread(target=churn, args=(victims, errors), daemon=True)
    runs, during = [], 0
    th.start()
    while th.is_alive() or len(runs) < during + 2:
        alive = th.is_alive()
        nslib.need_tcpstate()
        runs.append(nslib.run_result([TCPSTATE, "list", "-A", "-a", "--json"], 30))
        during += alive
    th.join()
    if errors:
        raise RuntimeError("the churn thread failed: %s" % errors[0])
    out.update(runs=runs, during=during, victims=victims)


def churn_exit_0(out):
    bad = [r for r in out["runs"] if r.rc != 0]
    if bad:
        raise Fail("%d of %d runs failed; first: %s" % (len(bad), len(out["runs"]),
                                                       bad[0].describe()))
    if out["during"] < 1:
        raise Fail("no run of list -A met the churn")
    print("note: %d runs of list -A, %d of them while the churn ran"
          % (len(out["runs"]), out["during"]), flush=True)


def churn_no_row_lost(spaces, out):
    stay = [sp for sp in spaces if not sp.victim]
    for i, r in enumerate(out["runs"]):
        try:
            rows = json.loads(r.stdout)
        except ValueError as e:
            raise Fail("run %d printed invalid JSON (%s): %r" % (i, e, r.stdout[:200]))
        bad = mismatches(stay, by_inode(rows), lambda sp: sp.plan)
        if bad:
            raise Fail("run %d of %d (%d during the churn): %s"
                       % (i + 1, len(out["runs"]), out["during"], " | ".join(bad[:3])))


def churn_gone(out):
    """No victim is listed after the churn.  A namespace's inode is reused
    once it is gone (other sessions make namespaces all the time), so a
    victim counts as listed by its name, or by a row of its own table."""
    rows = json.loads(out["runs"][-1].stdout)
    left = []
    for sp in out["victims"]:
        named = [o for o in rows if sp.name and o["netns"] == sp.name]
        own = [o for o in rows if o["netns_inode"] == sp.inode and ts_key(o) in sp.plan]
        if named or own:
            left.append("%s (inode %d): %d rows named so, %d rows of its table: %r"
                        % (sp.label(), sp.inode, len(named), len(own), (named + own)[0]))
    if left:
        raise Fail("after the churn, list -A still lists %s" % "; ".join(left))


def cases(rep, spaces):
    out = {}
    make_spaces(spaces)
    rep.case("tables_as_planned", check_tables, spaces)
    rep.case("rows_per_namespace_as_ss", rows_as_ss, spaces, out)
    if "rows" in out:
        rep.case("named_rows_carry_name", named_rows, spaces, out)
        rep.case("unnamed_rows_carry_pid", unnamed_rows, spaces, out)
    rep.case("state_filter_close_wait", state_filter, spaces)
    rep.case("ns_pattern_named", ns_pattern_named, spaces)
    rep.case("ns_pattern_inode", ns_pattern_inode, spaces)
    rep.case("table_netns_column", table_column, spaces)
    churn_runs(spaces, out)
    rep.case("churn_every_run_exits_0", churn_exit_0, out)
    rep.case("churn_no_row_lost", churn_no_row_lost, spaces, out)
    rep.case("churn_gone_not_listed", churn_gone, out)


def why_not():
    """Why this cannot run here ("" when it can): not root, a tool missing,
    or a tcpstate without -A (issue 18 not merged yet)."""
    why = nslib.cannot_run(TOOLS)
    if why or not os.access(TCPSTATE, os.X_OK):
        return why  # a missing binary fails the cases (need_tcpstate)
    r = nslib.run([TCPSTATE, "list", "--help"])
    if "--all-namespaces" not in r.stdout + r.stderr:
        return "tcpstate list has no --all-namespaces (-A) yet (issue 18)"
    return ""


def main():
    why = why_not()
    rep = nslib.begin("list_all_ns", CASES, watchdog=100, ready=lambda: not why, why=why)
    spaces = []
    try:
        cases(rep, spaces)
    except BaseException as e:
        rep.fail_rest(CASES, "%s: %s" % (type(e).__name__, e))
        if not isinstance(e, Exception):
            raise
    finally:
        nslib.stop_watchdog()
        for sp in spaces:
            try:
                sp.destroy()
            except Exception as e:
                print("cleanup of %s: %s" % (sp.label(), e), file=sys.stderr)
    rep.exit()


if __name__ == "__main__":
    main()
