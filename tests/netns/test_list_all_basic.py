#!/usr/bin/env python3
"""`tcpstate list -A`: every network namespace in one process.

Root only.  Three named namespaces (ip netns add) and two unnamed ones (a
process that unshares its network namespace and is never named, as
container runtimes make them) each hold a listener and a connection on
ports of their own; one named namespace also has a veth pair with a
listener bound to it.  The machine's /run/netns holds other sessions'
namespaces, so every check looks only at the namespaces made here, by
inode, and never counts the others.

  rows_equal_ss        for each namespace made here, the rows `list -A -a
                       --json` gives for its inode equal `ss -tanH` inside it
  named_carry_name     rows of a named namespace carry its name, unnamed ones
                       null and the pid of the process in it
  state_filter         `list -A state listening`: only LISTEN, from each one
  dev_of_its_netns     a socket bound to a device names that namespace's device
  processes_all        -p names each namespace's owner (one /proc pass)
  table_netns_column   the table's first column is Netns: name or comm[pid]
  ns_select            --ns NAME, --ns INODE, --ns 'glob*'; no match: [] exit 0
  summary_per_netns    -s --json: each namespace's own ip_local_port_range
                       (read inside it) and counts, and a total
  usage_errors         -A -N, -A --load-dump, --ns '' and --ns alone: exit 2
  netns_deleted_midrun namespaces made and deleted, and processes that unshare
                       and exit, while list -A runs again and again: never an
                       error, never a row of the others lost
  nobody_own_only      as nobody, inside a namespace made here: exit 0, that
                       namespace's rows (as ss), no other's, and a warning
                       that entering the others needs CAP_SYS_ADMIN

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd  # noqa: E402

CASES = ["rows_equal_ss", "named_carry_name", "state_filter", "dev_of_its_netns",
         "processes_all", "table_netns_column", "ns_select", "summary_per_netns",
         "usage_errors", "netns_deleted_midrun", "nobody_own_only"]

# A listener and one connection to it on port PORT; "ready", then wait for stdin to close.
SCRIPT = r'''
import socket, sys
port = int(sys.argv[1])
dev = sys.argv[2] if len(sys.argv) > 2 else ""
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
c = socket.create_connection(("127.0.0.1", port)); a, _ = s.accept()
keep = [s, c, a]
if dev:
    d = socket.socket(); d.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    d.bind(("198.18.77.1", port + 1)); d.listen(1); keep.append(d)
print("ready", flush=True)
sys.stdin.read()
'''


def inode_of(path):
    return os.stat(path).st_ino


class Unnamed:
    """A process in a network namespace of its own that no name pins."""

    def __init__(self, port):
        self.p = subprocess.Popen(
            ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1" "$2"',
             sys.executable, SCRIPT, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "ready":
            raise RuntimeError("an unshared process did not get ready")
        self.pid = self.p.pid
        self.inode = inode_of("/proc/%d/ns/net" % self.pid)

    def ss(self):
        r = nslib.run(["nsenter", "-t", str(self.pid), "-n", "ss", "-tanH"], check=True)
        return nslib.parse_ss(r.stdout)

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.kill()
        self.p.wait()
        self.p.stdout.close()


def list_all(args, **kw):
    res = nslib.run_tcpstate(["-A", "--json"] + list(args), **kw)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    try:
        return res, json.loads(res.stdout)
    except ValueError as e:
        raise Fail("`%s` printed invalid JSON (%s)" % (fmt_cmd(res.argv), e))


def by_inode(data):
    rows = collections.defaultdict(list)
    for o in data:
        for k in ("netns", "netns_inode", "container", "netns_pid"):
            if k not in o:
                raise Fail("row lacks %r: %r" % (k, o))
        rows[o["netns_inode"]].append(o)
    return rows


class World:
    def __init__(self):
        self.named = []    # (Netns, inode, port)
        self.unnamed = []  # (Unnamed, port)
        for i in range(3):
            ns = nslib.Netns()
            dev = ""
            if i == 0:
                ns.exec(["ip", "link", "add", "nsl0", "type", "veth", "peer", "name", "nsl1"],
                        check=True)
                ns.exec(["ip", "link", "set", "nsl1", "up"], check=True)
                ns.exec(["ip", "link", "set", "nsl0", "up"], check=True)
                ns.add_addr("198.18.77.1/24", dev="nsl0")
                dev = "nsl0"
            port = 41000 + 10 * i
            ns.spawn(SCRIPT, port, *([dev] if dev else []))
            self.named.append((ns, inode_of("/run/netns/" + ns.name), port))
        for i in range(2):
            port = 42000 + 10 * i
            self.unnamed.append((Unnamed(port), port))

    def mine(self):
        """inode -> (what, ss rows, name or None, pid or None)"""
        m = {}
        for ns, ino, port in self.named:
            m[ino] = (ns.name, ns.ss("-tanH"), ns.name, None)
        for u, port in self.unnamed:
            m[u.inode] = ("unnamed pid %d" % u.pid, u.ss(), None, u.pid)
        return m

    def destroy(self):
        for u, _ in self.unnamed:
            u.stop()
        for ns, _, _ in self.named:
            ns.destroy()


class Tests:
    def __init__(self, w):
        self.w = w

    def rows_equal_ss(self):
        _, data = list_all(["-a"])
        rows = by_inode(data)
        for ino, (what, ss, _, _) in self.w.mine().items():
            if not ss:
                raise Fail("%s: ss shows no socket: the scenario did not build" % what)
            nslib.compare_counters(nslib.ts_keys(rows.get(ino, [])), nslib.ss_keys(ss),
                                   "%s (inode %d)" % (what, ino))

    def named_carry_name(self):
        _, data = list_all(["-a"])
        rows = by_inode(data)
        for ino, (what, _, name, pid) in self.w.mine().items():
            for o in rows.get(ino, []):
                if o["netns"] != name or o["container"] is not None:
                    raise Fail("%s: row says netns %r container %r" %
                               (what, o["netns"], o["container"]))
                if pid is not None and o["netns_pid"] != pid:
                    raise Fail("%s: netns_pid %r, want %d" % (what, o["netns_pid"], pid))
                if name is not None and not isinstance(o["netns_pid"], int):
                    raise Fail("%s: netns_pid %r: a process is in it" % (what, o["netns_pid"]))

    def state_filter(self):
        _, data = list_all(["state", "listening"])
        rows = by_inode(data)
        for ino, (what, ss, _, _) in self.w.mine().items():
            got = rows.get(ino, [])
            want = [r for r in ss if r.state == "LISTEN"]
            if any(o["state"] != "LISTEN" for o in got):
                raise Fail("%s: a row not LISTEN: %r" % (what, got))
            if len(got) != len(want) or not want:
                raise Fail("%s: %d LISTEN rows, ss has %d" % (what, len(got), len(want)))
        if any(o["state"] != "LISTEN" for o in data):
            raise Fail("a row of another namespace is not LISTEN")

    def dev_of_its_netns(self):
        ns, ino, port = self.w.named[0]
        _, data = list_all(["-l", "--ns", ns.name])
        devs = {(o["local_port"], o["dev"]) for o in data}
        if (port + 1, "nsl0") not in devs:
            raise Fail("the listener bound to nsl0 in %s shows %r" % (ns.name, sorted(devs)))

    def processes_all(self):
        _, data = list_all(["-l", "-p"])
        rows = by_inode(data)
        for u, port in self.w.unnamed:
            got = [o for o in rows.get(u.inode, []) if o["local_port"] == port]
            pids = {p["pid"] for o in got for p in o["processes"]}
            if pids != {u.pid}:
                raise Fail("unnamed pid %d: the listener's processes %r" % (u.pid, pids))
        for ns, ino, port in self.w.named:
            got = [o for o in rows.get(ino, []) if o["local_port"] == port]
            if not got or not all(o["processes"] for o in got):
                raise Fail("%s: the listener has no process: %r" % (ns.name, got))

    def table_netns_column(self):
        u, port = self.w.unnamed[0]
        ns, _, _ = self.w.named[1]
        res = nslib.run_tcpstate(["-A", "-l", "--ns", ns.name, "--ns", str(u.inode)])
        lines = res.stdout.splitlines()
        if res.rc != 0 or not lines or lines[0].split()[:2] != ["Netns", "State"]:
            raise Fail("%s: header %r" % (res.describe(), lines[:1]))
        firsts = {ln.split()[0] for ln in lines[1:]}
        want = {ns.name, "python3[%d]" % u.pid}
        if firsts != want:
            raise Fail("Netns cells %r, want %r" % (sorted(firsts), sorted(want)))

    def ns_select(self):
        ns, ino, _ = self.w.named[2]
        u, _ = self.w.unnamed[1]
        for pats, want in (([ns.name], {ino}), ([str(u.inode)], {u.inode}),
                           (["python3[[]%d]" % u.pid], {u.inode}),
                           ([ns.name[:-1] + "*"], None)):
            args = []
            for p in pats:
                args += ["--ns", p]
            _, data = list_all(["-a"] + args)
            got = {o["netns_inode"] for o in data}
            if want is not None and got != want:
                raise Fail("--ns %r: inodes %r, want %r" % (pats, got, want))
            if want is None and ino not in got:
                raise Fail("--ns %r: %s (inode %d) missing" % (pats, ns.name, ino))
        res, data = list_all(["--ns", "no-such-ns-%d-*" % os.getpid()])
        if data != [] or res.stderr:
            raise Fail("no match: %r, stderr %r" % (data, res.stderr))

    def summary_per_netns(self):
        ns, ino, _ = self.w.named[1]
        ns.sysctl("net.ipv4.ip_local_port_range", "40000 40100")
        _, _, other = self.w.named[2]
        res = nslib.run_tcpstate(["-A", "-s", "--json", "--ns", ns.name,
                                  "--ns", self.w.named[2][0].name])
        if res.rc != 0:
            raise Fail(res.describe())
        d = json.loads(res.stdout)
        got = {n["netns_inode"]: n for n in d["namespaces"]}
        if set(got) != {ino, self.w.named[2][1]}:
            raise Fail("namespaces %r" % sorted(got))
        e = got[ino]["summary"]["ephemeral"]
        if (e["range_low"], e["range_high"]) != (40000, 40100):
            raise Fail("%s's range %r, set to 40000-40100 inside it" % (ns.name, e))
        e2 = got[self.w.named[2][1]]["summary"]["ephemeral"]
        if (e2["range_low"], e2["range_high"]) == (40000, 40100):
            raise Fail("the other namespace shows the first's range")
        total = sum(n["summary"]["total"] for n in d["namespaces"])
        if d["total"]["total"] != total or d["total"]["namespaces"] != 2 or total < 6:
            raise Fail("total %r, namespaces sum to %d" % (d["total"], total))

    def usage_errors(self):
        for args, word in ((["-A", "-N", self.w.named[0][0].name], "-N"),
                           (["-A", "--load-dump", "/dev/null"], "--load-dump"),
                           (["-A", "--save-dump", "/tmp/x-never-written"], "--save-dump"),
                           (["-A", "--ns", ""], "empty"),
                           (["--ns", "x"], "-A")):
            res = nslib.run_tcpstate(args)
            if res.rc != 2 or res.stdout or word not in res.stderr:
                raise Fail("%s: want exit 2 and a message naming %r" % (res.describe(), word))
        if os.path.exists("/tmp/x-never-written"):
            raise Fail("--save-dump with -A wrote its file")

    def netns_deleted_midrun(self):
        stop = threading.Event()
        errors = []

        def churn():
            n = 0
            while not stop.is_set():
                n += 1
                name = "tcpst-%d-churn-%d" % (os.getpid(), n)
                try:
                    nslib.run(["ip", "netns", "add", name], check=True)
                    nslib.run(["ip", "netns", "del", name], check=True)
                    nslib.run(["unshare", "-n", "true"], check=True)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
                    return
        t = threading.Thread(target=churn)
        t.start()
        try:
            want = {ino: nslib.ss_keys(ss) for ino, (_, ss, _, _) in self.w.mine().items()}
            for _ in range(15):
                _, data = list_all(["-a"])
                rows = by_inode(data)
                for ino, keys in want.items():
                    nslib.compare_counters(nslib.ts_keys(rows.get(ino, [])), keys,
                                           "inode %d while others come and go" % ino)
        finally:
            stop.set()
            t.join()
        if errors:
            raise Fail("the churn itself failed: %s" % errors[0])

    def nobody_own_only(self):
        # Run inside a namespace made here, so its own rows are known (ss).
        ns, ino, _ = self.w.named[1]
        argv = ["ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", nslib.TCPSTATE, "list", "-A", "-a", "--json"]
        res = nslib.run_result(argv)
        if res.rc != 0:
            raise Fail("%s: want exit 0 (the own namespace, and a warning)" % res.describe())
        data = json.loads(res.stdout)
        if {o["netns_inode"] for o in data} != {ino}:
            raise Fail("as nobody in %s (inode %d), rows of %r" %
                       (ns.name, ino, sorted({o["netns_inode"] for o in data})))
        if {o["netns"] for o in data} != {ns.name}:
            raise Fail("as nobody, the own namespace is not named %s" % ns.name)
        nslib.compare_counters(nslib.ts_keys(data), nslib.ss_keys(ns.ss("-tanH")),
                               "as nobody, %s" % ns.name)
        if "CAP_SYS_ADMIN" not in res.stderr or "warning" not in res.stderr:
            raise Fail("no warning that namespaces were skipped: %r" % res.stderr)


def main():
    rep = nslib.begin("list_all_basic", CASES, watchdog=170,
                      tools=("ip", "ss", "unshare", "nsenter", "setpriv"))
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
