#!/usr/bin/env python3
"""The filter's `fwmark` condition against the kernel, with ss as the oracle.

Root only (SO_MARK needs CAP_NET_ADMIN, and so does reading marks back).  In a
namespace of its own, a process makes sockets with SO_MARK set:

  198.18.7.1:7300   listener, mark 0x10; a client to it, mark 0x1f, and the
                    socket the listener accepted for it (the kernel gives an
                    accepted socket its listener's mark: 0x10)
  [fd00:7::1]:7301  IPv6 listener, mark 0x24; a client, mark 0x124, and the
                    accepted socket (0x24)
  198.18.7.1:7302   listener, no mark; a client, no mark, and its accepted
                    socket; and a client with mark 0x55 that closed first and
                    so sits in TIME-WAIT

Each filter gives, in `tcpstate list -a`, the sockets made for it, and what
`ss -tanH -a FILTER` gives in the namespace; as list sends it (the kernel's
INET_DIAG_BC_MARK_COND) and with --no-kernel-filter (user space alone, on
the INET_DIAG_MARK each record carries).  `top -b --json -n 1 --no-wire`
gives the same rows.  As nobody (no CAP_NET_ADMIN: the kernel would report
no marks and refuse the program), list and top exit 1 with one line saying
why, and print nothing; without a fwmark condition, nobody's list works.

TIME-WAIT: the kernel keeps the closed socket's mark (tw_mark).  Since 5.14
(inet_diag: add support for tw_mark) it both reports it (INET_DIAG_MARK) and
tests it in the bytecode, so ss and tcpstate, with or without the kernel's
filter, list the TIME-WAIT socket under `fwmark 0x55` and not under
`fwmark 0`.  Before 5.14 the dump reported no mark and the bytecode tested
0: all three would list it under `fwmark 0` instead.  The case asserts
tcpstate == ss both ways, and which of the two this kernel does.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import json
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, canon_addr, fmt_cmd  # noqa: E402
# Its checks against ss, with and without the kernel's filter, serve here as they are.
from test_filter_dev_cgroup import filtered, same, tcpstate_rows  # noqa: E402

NAMES = ["mark_as_ss", "mark_not_as_ss", "mark_top", "mark_time_wait", "mark_needs_net_admin",
         "mark_bad_is_usage"]
NO_ADMIN_MSG = "fwmark needs CAP_NET_ADMIN: the kernel reports socket marks only to it"

MARKED = r'''
import socket, sys
keep = []
def sock(fam, mark):
    s = socket.socket(fam)
    if mark is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    keep.append(s)
    return s
def pair(fam, addr, port, lmark, cmark):
    l = sock(fam, lmark)
    l.bind((addr, port))
    l.listen(4)
    c = sock(fam, cmark)
    c.connect((addr, port))
    a, _ = l.accept()
    keep.append(a)
    return c.getsockname()[1], l
p1, _ = pair(socket.AF_INET, "198.18.7.1", 7300, 0x10, 0x1f)
p2, _ = pair(socket.AF_INET6, "fd00:7::1", 7301, 0x24, 0x124)
p3, l3 = pair(socket.AF_INET, "198.18.7.1", 7302, None, None)
# The active closer goes to TIME-WAIT: the client, whose mark was 0x55.  Its
# FIN is read (recv gives b"") before the server closes, so the client ends
# in TIME-WAIT and the server's socket, acknowledged, is gone.
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 0x55)
c.connect(("198.18.7.1", 7302))
a, _ = l3.accept()
p4 = c.getsockname()[1]
c.close()
a.recv(1)
a.close()
print("ready %d %d %d %d" % (p1, p2, p3, p4), flush=True)
sys.stdin.read()
'''


def kernel_reports_tw_mark():
    """5.14 and later: INET_DIAG_MARK and the bytecode's mark for TIME-WAIT."""
    nums = [int(x) for x in platform.release().split("-")[0].split(".")[:2]]
    return nums >= [5, 14]


class World:
    """The sockets MARKED made, by mark."""

    def __init__(self, ports):
        p1, p2, p3, p4 = ports
        v4, v6 = "198.18.7.1", "fd00:7::1"
        self.tw = ("TIME-WAIT", v4, p4, v4, 7302)
        # The mark the kernel tests and reports for it (see the top of the file).
        self.tw_mark = 0x55 if kernel_reports_tw_mark() else 0
        self.by_mark = {
            0x10: [("LISTEN", v4, 7300, "*", 0), ("ESTABLISHED", v4, 7300, v4, p1)],
            0x1f: [("ESTABLISHED", v4, p1, v4, 7300)],
            0x24: [("LISTEN", v6, 7301, "*", 0), ("ESTABLISHED", v6, 7301, v6, p2)],
            0x124: [("ESTABLISHED", v6, p2, v6, 7301)],
            0: [("LISTEN", v4, 7302, "*", 0), ("ESTABLISHED", v4, 7302, v4, p3),
                ("ESTABLISHED", v4, p3, v4, 7302)],
        }

    def where(self, test):
        """The sockets whose mark passes test, the TIME-WAIT one too."""
        got = collections.Counter(k for m, keys in self.by_mark.items() if test(m)
                                  for k in keys)
        if test(self.tw_mark):
            got[self.tw] += 1
        return got


def mark_as_ss(ns, w):
    for words, test in (
            (["fwmark", "=", "0x10/0xf0"], lambda m: m & 0xf0 == 0x10),
            (["fwmark", "0x24"], lambda m: m == 0x24),
            (["fwmark", "==", "36/0xff"], lambda m: m & 0xff == 0x24),
            (["fwmark", "eq", "0x4/0x4"], lambda m: m & 0x4 == 0x4),
            (["fwmark", "0x124", "or", "fwmark", "31"], lambda m: m in (0x124, 0x1f)),
            (["fwmark", "0x10", "and", "sport", "=", ":7300"], lambda m: m == 0x10)):
        got = filtered(ns, words)
        same(got, w.where(test), "%s vs the sockets made with such marks" % " ".join(words))


def mark_not_as_ss(ns, w):
    # ss spells "not equal" fwmark != too; "not fwmark =" must agree with it.
    _, everything = tcpstate_rows(["-N", ns.name, "-a", "-H"])
    eq = filtered(ns, ["fwmark", "0x10/0xf0"])
    ne = filtered(ns, ["fwmark", "!=", "0x10/0xf0"])
    same(eq + ne, everything, "fwmark 0x10/0xf0 and fwmark != 0x10/0xf0 vs everything")
    same(filtered(ns, ["not", "fwmark", "=", "0x10/0xf0"]), ne, "not fwmark = vs fwmark !=")
    for k in w.by_mark[0] + w.by_mark[0x24]:
        if k not in ne:
            raise Fail("fwmark != 0x10/0xf0 lacks %s: %s" % (k, sorted(ne)))


def mark_top(ns, w):
    for words, test in ((["fwmark", "=", "0x10/0xf0"], lambda m: m & 0xf0 == 0x10),
                        (["fwmark", "ne", "0"], lambda m: m != 0)):
        argv = [nslib.TCPSTATE, "top", "-b", "-n", "1", "--no-wire", "--json", "-N", ns.name]
        res = nslib.run_result(argv + words)
        if res.rc != 0:
            raise Fail("%s, expected rc=0" % res.describe())
        rows = json.loads(res.stdout.splitlines()[0])["rows"]
        got = collections.Counter(
            (r["state"], canon_addr(r["local_addr"]), r["local_port"],
             "*" if r["peer_addr"] == "*" else canon_addr(r["peer_addr"]), r["peer_port"])
            for r in rows)
        same(got, w.where(test), "`%s`" % fmt_cmd(argv + words))


def mark_time_wait(ns, w):
    # (No "state time-wait" in the filter: ss then leaves out its State column.)
    marked = filtered(ns, ["fwmark", "0x55"])
    unmarked = filtered(ns, ["fwmark", "0"])
    if kernel_reports_tw_mark():
        same(marked, collections.Counter([w.tw]), "fwmark 0x55 (this kernel reports tw_mark)")
        if w.tw in unmarked:
            raise Fail("fwmark 0 lists the TIME-WAIT socket whose mark was 0x55")
    else:
        same(marked, collections.Counter(), "fwmark 0x55 (no tw_mark before 5.14)")
        if w.tw not in unmarked:
            raise Fail("fwmark 0 lacks the TIME-WAIT socket (no tw_mark before 5.14)")


def as_nobody(ns, argv):
    return nslib.run_result(["ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534",
                             "--regid=65534", "--clear-groups", "--inh-caps=-all"] + argv)


def mark_needs_net_admin(ns, _w):
    if not shutil.which("setpriv"):
        raise nslib.Skip("needs setpriv")
    for cmd, args in (("list", ["-a", "fwmark", "0x10/0xf0"]),
                      ("list", ["--no-kernel-filter", "not", "fwmark", "0"]),
                      ("list", ["-j", "dport", "=", ":7300", "or", "fwmark", "!=", "1"]),
                      ("top", ["-b", "-n", "1", "--no-wire", "fwmark", "0x24"])):
        res = as_nobody(ns, [nslib.TCPSTATE, cmd] + args)
        want = "tcpstate %s: %s\n" % (cmd, NO_ADMIN_MSG)
        if res.rc != 1 or res.stderr != want or res.stdout:
            raise Fail("%s, expected rc=1, nothing on stdout and only %r" % (res.describe(),
                                                                              want))
    # Only the mark needs the privilege: nobody lists the same sockets without
    # it, and filters a saved dump by its marks (none: all 0) without asking.
    res = as_nobody(ns, [nslib.TCPSTATE, "list", "-a", "-H", "sport", "=", ":7300"])
    if res.rc != 0 or len(res.stdout.splitlines()) != 2:
        raise Fail("%s, expected rc=0 and two rows" % res.describe())
    dump = os.path.join(nslib.REPO, "tests", "data", "ns1.nldump")
    every = as_nobody(ns, [nslib.TCPSTATE, "list", "-a", "-H", "--load-dump", dump])
    zero = as_nobody(ns, [nslib.TCPSTATE, "list", "-a", "-H", "--load-dump", dump, "fwmark", "0"])
    if zero.rc != 0 or zero.stderr or not zero.stdout or zero.stdout != every.stdout:
        raise Fail("%s, expected rc=0 and every row of the dump" % zero.describe())


def mark_bad_is_usage(ns, _w):
    for words, want in (
            (["fwmark", "010"], 'token 2 "010": the mark has a leading 0 (octal to ss)'),
            (["fwmark", "=", "0x10/0xfffffffff"],
             'token 3 "0x10/0xfffffffff": the mask must be a number from 0 to 0xffffffff'),
            (["fwmark"], "at end: expected a mark (MARK or MARK/MASK)")):
        res = nslib.run_tcpstate(["-a"] + words, ns)
        if res.rc != 2 or "tcpstate list: filter: " + want not in res.stderr or res.stdout:
            raise Fail("%s, expected rc=2, nothing on stdout and %r" % (res.describe(), want))


def body(rep, ns, _tmp):
    ns.add_addr("198.18.7.1/24")
    ns.add_addr("fd00:7::1/64")
    proc = ns.popen([sys.executable, "-c", MARKED], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True)
    words = proc.stdout.readline().split()
    if words[:1] != ["ready"]:
        raise RuntimeError("the socket maker did not get ready")
    w = World([int(x) for x in words[1:]])
    # The server's FIN may still be on its way when "ready" comes: wait for the state.
    ns.wait_for([nslib.make_key("TIME-WAIT", (w.tw[1], w.tw[2]), (w.tw[3], w.tw[4]))],
                what="the marked client in TIME-WAIT")
    for name in NAMES:
        rep.case(name, globals()[name], ns, w)


def main():
    rep = nslib.begin("filter_mark", NAMES, tools=nslib.NETNS_TOOLS + ("nsenter",))
    nslib.in_netns(rep, NAMES, lambda ns, tmp: body(rep, ns, tmp))


if __name__ == "__main__":
    main()
