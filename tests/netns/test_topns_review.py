#!/usr/bin/env python3
"""Review of `tcpstate top -A` (issue 18): defects found, each a case.

  wire_on_sees_namespaces  as root with the capture on (top's default), the
                           rows of another namespace are shown as with
                           --no-wire: the capture's drop to nobody (-Z) must
                           not leave top unable to enter the namespaces and
                           show the host's sockets only (and silently)
  ephemeral_per_netns      the header's busiest ephemeral source/destination
                           pair counts per namespace: two namespaces each
                           with ONE connection 127.0.0.1:41101 ->
                           127.0.0.1:41100 are 1 port in use, not 2 (a port
                           is in use in one namespace's table, not in all)
  no_named_netns           /run/netns empty (no `ip netns add` yet, the usual
                           host): top -A exits 0 with nothing on stderr (the
                           ASan/UBSan build: qsort(NULL, 0) in nsall.c is a
                           sanitizer error and exit 1); in a mount namespace
                           of its own, an empty tmpfs on /run/netns

Root only; its own namespaces only (other sessions' may exist: --ns picks
ours by name).
Env: TCPSTATE = path of the binary.  Prints PASS/FAIL/SKIP; exits 1 on FAIL.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402

CASES = ["wire_on_sees_namespaces", "ephemeral_per_netns", "no_named_netns"]
PORT = 41100

# A listener on PORT and one connection to it from PORT+1; "ready", then wait.
PAIR = r'''
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


def ours():
    return ["--ns", "tcpst-%d-*" % os.getpid()]


def top(args, timeout=60):
    res = nslib.run_result([nslib.TCPSTATE, "top", "-b", "-A", "-n", "2", "-d", "0.3"]
                           + ours() + list(args), timeout=timeout)
    if res.rc != 0 or res.stderr:
        raise Fail("%s: want exit 0 and no message" % res.describe())
    return res.stdout


def ss_count(ns):
    return len([l for l in ns.exec(["ss", "-tanH"], check=True).stdout.splitlines() if l.strip()])


def wire_on_sees_namespaces(rep, nss):
    want = sum(ss_count(ns) for ns in nss)
    names = {ns.name for ns in nss}
    got = []
    for line in top(["--json"]).splitlines():
        f = json.loads(line)
        got.append(len([r for r in f["rows"] if r["netns"] in names]))
    rep.check(got == [want, want], "wire_on_sees_namespaces",
              "rows of our namespaces per frame %s, ss shows %d (wire on, the default)"
              % (got, want))


def ephemeral_per_netns(rep, nss):
    """Each namespace has its own port range and budgets: top -A must not
    add them up (one source port counted once per namespace), and says
    where the per-namespace figures are; list -A -s gives each namespace's."""
    out = top(["--no-wire", "--rows", "1"])
    summed = re.findall(r"^Ephemeral ports: busiest.*$", out, re.M)
    pointed = re.search(r"^Ephemeral ports and TIME-WAIT limits are per namespace", out, re.M)
    res = nslib.run_result([nslib.TCPSTATE, "list", "-A", "-s", "--json"]
                           + sum((["--ns", ns.name] for ns in nss), []))
    per = []
    if res.rc == 0:
        for n in json.loads(res.stdout)["namespaces"]:
            d = n["summary"]["ephemeral"]["destinations"]
            per.append([x["in_use"] for x in d if x["port"] == PORT])
    rep.check(not summed and pointed is not None and per == [[1]] * len(nss),
              "ephemeral_per_netns",
              "%d namespaces, each one connection to 127.0.0.1:%d: top's header %r, "
              "list -A -s per namespace %r (%s)"
              % (len(nss), PORT, summed or pointed, per, res.describe()))


def no_named_netns(rep, nss):
    sh = ("mount --make-rprivate / && mount -t tmpfs none /run/netns && "
          "exec \"$0\" top -b -A -n 2 -d 0.1 --no-wire --rows 1")
    res = nslib.run_result(["unshare", "-m", "sh", "-c", sh, nslib.TCPSTATE], timeout=60)
    rep.check(res.rc == 0 and not res.stderr and "tcpstate top" in res.stdout,
              "no_named_netns", "%s: want exit 0, frames and no message" % res.describe())


def main():
    rep = nslib.begin("topns_review", CASES, watchdog=200, tools=("ip", "ss", "unshare"))
    nss = []
    try:
        for _ in range(2):
            ns = nslib.Netns()
            nss.append(ns)
            ns.spawn(PAIR, PORT)
        for name in CASES:
            try:
                globals()[name](rep, nss)
            except Fail as e:
                rep.check(False, name, str(e))
    except Exception as e:  # noqa: BLE001
        rep.fail_rest(CASES, "%s: %s" % (type(e).__name__, e))
    finally:
        nslib.stop_watchdog()
        for ns in nss:
            ns.destroy()
    rep.exit()


if __name__ == "__main__":
    main()
