#!/usr/bin/env python3
"""The filter's `dev` and `cgroup` conditions against the kernel, with ss
as the oracle.

Root only.  A namespace holds a veth pair, one end with 198.18.5.1/24 and
fd00:5::1/64, and sockets bound to that end with SO_BINDTODEVICE: two IPv4
listeners, an IPv6 one, and a connection that stays in SYN-SENT (its SYNs
go to a MAC address no one has);
beside them, sockets bound to no device.  `dev = NAME` must list exactly the
bound ones, as `ss -tanH dev = NAME` does in the namespace; the name is the
namespace's (the host has no such device), for list and for top.

cgroup: a cgroup v2 directory tcpstate-test-<pid> under the cgroup2 mount
(skipped, visibly, when there is none or it is not writable), and a process
moved into it (its pid written to cgroup.procs) that listens and connects to
itself; a process outside connects to that listener too.  `cgroup =
/tcpstate-test-<pid>` must list the inside process's sockets and the one its
listener accepted for the outsider (an accepted socket takes its listener's
cgroup), no others, as ss does.  The process is moved out and killed and the
directory removed, whatever happened.

Each filter runs twice: as list sends it, the kernel's bytecode first
(INET_DIAG_BC_DEV_COND, _CGROUP_COND), and with --no-kernel-filter, in user
space alone on each record's ifindex and cgroup id; both must give ss's rows.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import errno
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, canon_addr, fmt_cmd  # noqa: E402

DEV_NAMES = ["dev_as_ss", "dev_by_index", "dev_not_as_ss", "dev_zero", "dev_names_are_the_netns",
             "dev_unknown_is_usage", "dev_top"]
CG_NAMES = ["cgroup_as_ss", "cgroup_not", "cgroup_unknown_is_usage"]
NAMES = DEV_NAMES + CG_NAMES
DEV = "tsd%d" % (os.getpid() % 1000000)  # short, and not the host's (checked)

BOUND = r'''
import errno, socket, sys
dev = sys.argv[1].encode()
keep = []
def sock(fam):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev)
    keep.append(s)
    return s
for fam, addr, port in ((socket.AF_INET, "198.18.5.1", 7100), (socket.AF_INET, "0.0.0.0", 7101),
                        (socket.AF_INET6, "fd00:5::1", 7102)):
    s = sock(fam)
    s.bind((addr, port))
    s.listen(4)
c = sock(socket.AF_INET)
c.setblocking(False)
if c.connect_ex(("198.18.5.9", 7109)) != errno.EINPROGRESS:
    raise SystemExit("connect to 198.18.5.9 did not stay in progress")
free = socket.socket()
free.bind(("198.18.5.1", 7103))
free.listen(4)
keep.append(free)
print("ready", flush=True)
sys.stdin.read()
'''

# Moved into the cgroup by the test before it says "go" (ip netns exec runs
# it with a /sys of its own, where the cgroup file system is not mounted).
INSIDE = r'''
import socket, sys
sys.stdin.readline()
l = socket.socket()
l.bind(("198.18.6.1", 7200))
l.listen(8)
c = socket.create_connection(("198.18.6.1", 7200))
s, _ = l.accept()
print("ready %d" % c.getsockname()[1], flush=True)
sys.stdin.read()
'''


def ss_argv(ns, words):
    """ss in the namespace's network only: `ip netns exec` and `ss -N` give
    ss a fresh /sys, without the cgroup2 mount its `cgroup` needs."""
    return ["nsenter", "--net=/run/netns/" + ns.name, "ss", "-tanH"] + list(words)


def row_key(state, local, peer):
    laddr, _dev, lport = nslib.split_endpoint(local)
    if peer.endswith(":*"):
        return (state, canon_addr("::" if laddr == "*" else laddr), int(lport), "*", 0)
    paddr, _pdev, pport = nslib.split_endpoint(peer)
    return (state, canon_addr("::" if laddr == "*" else laddr), int(lport), canon_addr(paddr),
            int(pport))


def ss_rows(ns, words):
    r = nslib.run(ss_argv(ns, ["-a"] + list(words)))
    if r.returncode != 0 or r.stderr.strip():
        raise RuntimeError("%s: rc=%d %s" % (fmt_cmd(r.args), r.returncode, r.stderr.strip()))
    rows = collections.Counter()
    for line in r.stdout.splitlines():
        f = line.split()
        rows[row_key(nslib.SS_STATE[f[0]], f[3], f[4])] += 1
    return rows


def tcpstate_rows(args):
    res = nslib.run_tcpstate(args)
    if res.rc != 0 or res.stderr:
        raise Fail("%s, expected rc=0 and nothing on stderr" % res.describe())
    rows = collections.Counter()
    for line in res.stdout.splitlines():
        state, _rq, _sq, local, peer = line.split()
        rows[row_key(state, local, peer)] += 1
    return res, rows


def same(got, want, what):
    if got != want:
        raise Fail("%s: missing %s; unexpected %s" % (
            what, sorted((want - got).elements()), sorted((got - want).elements())))


def filtered(ns, words):
    """tcpstate list -a WORDS in the namespace, checked against ss, and the
    same filter in user space alone (--no-kernel-filter: the record's
    ifindex and cgroup id, not the kernel's bytecode); the rows."""
    res, got = tcpstate_rows(["-N", ns.name, "-a", "-H"] + words)
    same(got, ss_rows(ns, words), "`%s` vs `%s`" % (fmt_cmd(res.argv),
                                                   fmt_cmd(ss_argv(ns, ["-a"] + words))))
    res, user = tcpstate_rows(["-N", ns.name, "-a", "-H", "--no-kernel-filter"] + words)
    same(user, got, "`%s` vs the kernel's filter" % fmt_cmd(res.argv))
    return got


# ---- dev -------------------------------------------------------------------

BOUND_ROWS = collections.Counter([
    ("LISTEN", "198.18.5.1", 7100, "*", 0), ("LISTEN", "0.0.0.0", 7101, "*", 0),
    ("LISTEN", "fd00:5::1", 7102, "*", 0)])


def bound_rows(got):
    """The rows made on the device: the three listeners and a SYN-SENT to .9."""
    syn = [k for k in got if k[0] == "SYN-SENT" and k[3:] == ("198.18.5.9", 7109)]
    if len(syn) != 1:
        raise Fail("no single SYN-SENT to 198.18.5.9:7109 among %s" % sorted(got))
    return BOUND_ROWS + collections.Counter(syn)


def dev_as_ss(ns):
    got = filtered(ns, ["dev", "=", DEV])
    same(got, bound_rows(got), "dev = %s vs the sockets bound to it" % DEV)


def dev_by_index(ns):
    idx = int(ns.exec(["cat", "/sys/class/net/%s/ifindex" % DEV], check=True).stdout)
    by_name = filtered(ns, ["dev", DEV])
    for words in (["dev", str(idx)], ["dev", "==", "if%d" % idx], ["dev", "eq", DEV]):
        _, got = tcpstate_rows(["-N", ns.name, "-a", "-H"] + words)
        same(got, by_name, " ".join(words) + " vs dev " + DEV)


def dev_not_as_ss(ns):
    # ss has no != for devices; its "not dev = NAME" is what dev != NAME means.
    _, got = tcpstate_rows(["-N", ns.name, "-a", "-H", "dev", "!=", DEV])
    same(got, ss_rows(ns, ["not", "dev", "=", DEV]), "dev != %s vs ss not dev = %s" % (DEV, DEV))
    if ("LISTEN", "198.18.5.1", 7103, "*", 0) not in got:
        raise Fail("dev != %s lacks the unbound listener on 7103: %s" % (DEV, sorted(got)))


def dev_zero(ns):
    _, everything = tcpstate_rows(["-N", ns.name, "-a", "-H"])
    _, unbound = tcpstate_rows(["-N", ns.name, "-a", "-H", "dev", "0"])
    _, bound = tcpstate_rows(["-N", ns.name, "-a", "-H", "dev", "ne", "0"])
    same(bound, bound_rows(bound), "dev ne 0 vs the bound sockets")
    same(unbound + bound, everything, "dev 0 and dev ne 0 vs everything")


def dev_names_are_the_netns(ns):
    """The name is looked up in -N's namespace: the host has no such device."""
    if os.path.exists("/sys/class/net/" + DEV):
        raise Fail("the host has a device %s: pick another name" % DEV)
    res = nslib.run_result([nslib.TCPSTATE, "list", "-a", "dev", DEV])
    want = 'tcpstate list: filter: token 2 "%s": no such device' % DEV
    if res.rc != 2 or want not in res.stderr:
        raise Fail("%s, expected rc=2 and %r" % (res.describe(), want))
    _, got = tcpstate_rows(["-N", ns.name, "-a", "-H", "dev", DEV])
    same(got, bound_rows(got), "-N %s dev %s" % (ns.name, DEV))


def dev_unknown_is_usage(ns):
    res = nslib.run_tcpstate(["-a", "dev", "=", "tcpst-none0"], ns)
    want = 'tcpstate list: filter: token 3 "tcpst-none0": no such device'
    if res.rc != 2 or want not in res.stderr or res.stdout:
        raise Fail("%s, expected rc=2, nothing on stdout and %r" % (res.describe(), want))


def dev_top(ns):
    argv = [nslib.TCPSTATE, "top", "-b", "-n", "1", "--no-wire", "--json", "-N", ns.name,
            "dev", DEV]
    res = nslib.run_result(argv)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    rows = json.loads(res.stdout.splitlines()[0])["rows"]
    got = collections.Counter(
        (r["state"], canon_addr(r["local_addr"]), r["local_port"],
         "*" if r["peer_addr"] == "*" else canon_addr(r["peer_addr"]), r["peer_port"])
        for r in rows)
    same(got, bound_rows(got), "`%s`" % fmt_cmd(argv))


def dev_cases(rep, ns):
    ns.exec(["ip", "link", "add", DEV, "type", "veth", "peer", "name", DEV + "p"], check=True)
    for d in (DEV, DEV + "p"):
        ns.exec(["ip", "link", "set", d, "up"], check=True)
    ns.add_addr("198.18.5.1/24", DEV)
    ns.add_addr("fd00:5::1/64", DEV)
    # A neighbour that never answers but is never found missing either: an
    # unresolved one would fail the connect with EHOSTUNREACH after a while.
    ns.exec(["ip", "neigh", "add", "198.18.5.9", "lladdr", "02:00:00:00:05:09", "dev", DEV,
             "nud", "permanent"], check=True)
    ns.spawn(BOUND, DEV)
    for name in DEV_NAMES:
        rep.case(name, globals()[name], ns)


# ---- cgroup ----------------------------------------------------------------

def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                return left.split()[4].replace("\\040", " ")
    return None


class Cgroup:
    """A cgroup directory of the test's own; gone at close, whatever is in it."""

    def __init__(self, mnt, name):
        self.mnt, self.name = mnt, name
        self.path = os.path.join(mnt, name)
        os.mkdir(self.path)
        self.procs = []

    def move_in(self, pid):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("%d\n" % pid)
        self.procs.append(pid)

    def close(self, procs):
        for pid in self.procs:  # out first, so rmdir cannot find it busy
            try:
                with open(os.path.join(self.mnt, "cgroup.procs"), "w") as f:
                    f.write("%d\n" % pid)
            except OSError:
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                os.sched_yield()
        os.rmdir(self.path)


def cgroup_as_ss(ns, cg, inside_port, outside_port):
    path = "/" + cg.name
    got = filtered(ns, ["cgroup", "=", path])
    want = collections.Counter([
        ("LISTEN", "198.18.6.1", 7200, "*", 0),
        ("ESTABLISHED", "198.18.6.1", inside_port, "198.18.6.1", 7200),
        ("ESTABLISHED", "198.18.6.1", 7200, "198.18.6.1", inside_port),
        # accepted for the outsider: the listener's cgroup, not the client's
        ("ESTABLISHED", "198.18.6.1", 7200, "198.18.6.1", outside_port)])
    same(got, want, "cgroup = %s vs the sockets its process made" % path)
    _, bare = tcpstate_rows(["-N", ns.name, "-a", "-H", "cgroup", cg.name])
    same(bare, got, "cgroup %s (no leading /) vs cgroup = %s" % (cg.name, path))


def cgroup_not(ns, cg, inside_port, outside_port):
    path = "/" + cg.name
    _, everything = tcpstate_rows(["-N", ns.name, "-a", "-H"])
    _, inside = tcpstate_rows(["-N", ns.name, "-a", "-H", "cgroup", path])
    _, outside = tcpstate_rows(["-N", ns.name, "-a", "-H", "cgroup", "!=", path])
    same(inside + outside, everything, "cgroup %s and cgroup != %s vs everything" % (path, path))
    for k in (("LISTEN", "198.18.6.1", 7201, "*", 0),
              ("ESTABLISHED", "198.18.6.1", outside_port, "198.18.6.1", 7200)):
        if k not in outside:
            raise Fail("cgroup != %s lacks the outsider's %s: %s" % (path, k, sorted(outside)))
    same(outside, ss_rows(ns, ["not", "cgroup", "=", path]), "cgroup != vs ss not cgroup =")


def cgroup_unknown_is_usage(ns, cg, _inside_port, _outside_port):
    res = nslib.run_tcpstate(["-a", "cgroup", "/" + cg.name + "-none"], ns)
    want = 'tcpstate list: filter: token 2 "/%s-none": no such cgroup under %s' % (cg.name,
                                                                                 cg.mnt)
    if res.rc != 2 or want not in res.stderr or res.stdout:
        raise Fail("%s, expected rc=2, nothing on stdout and %r" % (res.describe(), want))


def cgroup_ready():
    """(mount, None), or (None, why the cgroup cases cannot run)."""
    mnt = cgroup2_mount()
    if not mnt:
        return None, "no cgroup2 file system is mounted"
    if not os.access(mnt, os.W_OK):
        return None, "the cgroup2 mount %s is not writable" % mnt
    return mnt, None


def cgroup_cases(rep, ns):
    mnt, why = cgroup_ready()
    if not mnt:
        for name in CG_NAMES:
            rep.emit("SKIP", name, why)
        return
    try:
        cg = Cgroup(mnt, "tcpstate-test-%d" % os.getpid())
    except OSError as e:
        for name in CG_NAMES:
            rep.emit("SKIP", name, "cannot make a cgroup under %s: %s" % (mnt, e))
        return
    procs = []
    try:
        ns.add_addr("198.18.6.1/24")
        p = ns.popen([sys.executable, "-c", INSIDE], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
        procs.append(p)
        cg.move_in(p.pid)
        p.stdin.write("go\n")
        p.stdin.flush()
        words = p.stdout.readline().split()
        if words[:1] != ["ready"]:
            raise RuntimeError("the process in the cgroup did not get ready")
        inside_port = int(words[1])
        out = ns.holder()
        out.listen("198.18.6.1", 7201)
        outside_port = out.connect("198.18.6.1", 7200).local[1]
        for name in CG_NAMES:
            rep.case(name, globals()[name], ns, cg, inside_port, outside_port)
    finally:
        cg.close(procs)


def body(rep, ns, _tmp):
    dev_cases(rep, ns)
    cgroup_cases(rep, ns)


def main():
    rep = nslib.begin("filter_dev_cgroup", NAMES, tools=nslib.NETNS_TOOLS + ("nsenter",))
    nslib.in_netns(rep, NAMES, lambda ns, tmp: body(rep, ns, tmp))


if __name__ == "__main__":
    main()
