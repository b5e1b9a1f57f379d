#!/usr/bin/env python3
"""Sockets bound to a device: `tcpstate list` shows the device as ss does
(`[fe80::1]%v0:7000`, `0.0.0.0%lo:7001`), JSON and CSV carry it as `dev`.

Root only.  A namespace holds two veth pairs, v0-v1 and v2-v3, with the
same link-local address fe80::1 on v0 and on v2: listeners on
fe80::1%v0:7000 and fe80::1%v2:7000 differ only by their scope.  Also a
connection over v1 to fe80::1%v0, an IPv4 listener bound to lo with
SO_BINDTODEVICE, an fd00:: listener bound to v0 the same way, and a
listener bound to no device.  ss, in the same namespace, is the oracle for
the rows, the devices and the filters.  A dump saved with --save-dump and
read back names devices by index (`%if3`): this namespace's names need not
be the recording's.  `--record DIR` records the scenario (dump, ss, links)
for tests/cli/test_replay.py, which replays it without root.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import csv
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, canon_addr, fmt_cmd  # noqa: E402

NAMES = ["table_as_ss", "json_dev_as_ss", "csv_dev_as_json", "filter_src_link_local",
         "filter_src_port", "filter_sport", "filter_dst_link_local", "dump_names_by_index"]
FILTERS = {"filter_src_link_local": "src [fe80::1]", "filter_src_port": "src [fe80::1]:7000",
           "filter_sport": "sport = :7000", "filter_dst_link_local": "dst [fe80::1]"}

HOLDER = r'''
import socket, sys
idx = socket.if_nametoindex
keep = []
def listen(fam, addr, dev=None, scope=0):
    s = socket.socket(fam)
    if dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind(addr if fam == socket.AF_INET else addr + (0, scope))
    s.listen(4)
    keep.append(s)
    return s
l0 = listen(socket.AF_INET6, ("fe80::1", 7000), scope=idx("v0"))
listen(socket.AF_INET6, ("fe80::1", 7000), scope=idx("v2"))
listen(socket.AF_INET, ("0.0.0.0", 7001), dev="lo")
listen(socket.AF_INET6, ("fd00::5", 7002), dev="v0")
listen(socket.AF_INET, ("127.0.0.1", 7003))
c = socket.socket(socket.AF_INET6)
c.connect(("fe80::1", 7000, 0, idx("v1")))
keep += [c, l0.accept()[0]]
print("ready", flush=True)
sys.stdin.read()
'''


def compare(got, want, what):
    """Rows are (state, addr, dev, port, peer addr, peer dev, peer port)."""
    if got != want:
        def fmt(c):
            return "; ".join("%s %s%%%s:%s > %s:%s" % (r[0], r[1], r[2], r[3], r[4], r[6])
                             for r in sorted(c.elements(), key=str))
        raise Fail("%s: missing {%s}; unexpected {%s}" % (what, fmt(want - got), fmt(got - want)))


def setup(ns):
    for a, b in (("v0", "v1"), ("v2", "v3")):
        ns.exec(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
        for d in (a, b):
            ns.exec(["ip", "link", "set", d, "up"], check=True)
    ns.add_addr("fe80::1/64", "v0")
    ns.add_addr("fe80::1/64", "v2")
    ns.add_addr("fe80::2/64", "v1")
    ns.add_addr("fd00::5/64", "v0")
    ns.spawn(HOLDER)


def endpoint(tok):
    """'[fe80::1]%v0:7000' -> ('fe80::1', 'v0', 7000); no device: None."""
    addr, dev, port = nslib.split_endpoint(tok)
    if addr == "*":
        addr = "::"
    return canon_addr(addr), dev, 0 if port == "*" else int(port)


def ss_rows(ns, words=()):
    r = ns.exec(["ss", "-tanH"] + list(words), check=True)
    rows = []
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] not in nslib.SS_STATE:  # one state asked for: ss drops the column
            raise RuntimeError("unexpected ss row %r" % line)
        rows.append((nslib.SS_STATE[f[0]],) + endpoint(f[3]) +
                    (("*", None, 0) if f[4].endswith(":*") else endpoint(f[4])))
    if not rows:
        raise RuntimeError("ss %s shows nothing: the scenario is broken" % " ".join(words))
    return collections.Counter(rows)


def table_rows(args):
    res = nslib.run_tcpstate(args)
    if res.rc != 0 or res.stderr:
        raise Fail("%s, expected rc=0 and nothing on stderr" % res.describe())
    rows = []
    for line in res.stdout.splitlines():
        state, _recvq, _sendq, local, peer = line.split()
        rows.append((state,) + endpoint(local) +
                    (("*", None, 0) if peer == "*:*" else endpoint(peer)))
    return res, collections.Counter(rows)


def json_rows(ns, words=()):
    res, data = nslib.tcpstate_json(["-a"] + list(words), ns)
    rows = []
    for o in data:
        if "dev" not in o:
            raise Fail("JSON row without dev: %r" % o)
        peer = ("*", None, 0) if o["peer_addr"] == "*" else (
            canon_addr(o["peer_addr"]), None, o["peer_port"])
        rows.append((o["state"], canon_addr(o["local_addr"]), o["dev"], o["local_port"]) + peer)
    return res, data, collections.Counter(rows)


def table_as_ss(ns):
    res, got = table_rows(["-N", ns.name, "-a", "-H"])
    compare(got, ss_rows(ns), "`%s` vs `ss -tanH`" % fmt_cmd(res.argv))


def json_dev_as_ss(ns):
    res, _, got = json_rows(ns)
    compare(got, ss_rows(ns), "`%s` vs `ss -tanH`" % fmt_cmd(res.argv))


def csv_dev_as_json(ns):
    res = nslib.run_tcpstate(["-N", ns.name, "-a", "--csv"])
    if res.rc != 0:
        raise Fail(res.describe())
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    got = collections.Counter((r["local_addr"], r["local_port"], r["dev"] or None) for r in rows)
    _, data, _ = json_rows(ns)
    want = collections.Counter((o["local_addr"], str(o["local_port"]), o["dev"]) for o in data)
    if got != want:
        raise Fail("CSV (addr, port, dev) %r, JSON %r" % (sorted(got.items(), key=str),
                                                          sorted(want.items(), key=str)))


def filtered(ns, words):
    res, got = table_rows(["-N", ns.name, "-a", "-H"] + words)
    compare(got, ss_rows(ns, ["-a"] + words),
                     "`%s` vs `ss -tanH %s`" % (fmt_cmd(res.argv), " ".join(words)))


def dump_names_by_index(ns, tmp):
    dump = os.path.join(tmp, "dev.nldump")
    res = nslib.run_tcpstate(["-N", ns.name, "-a", "--save-dump", dump])
    if res.rc != 0:
        raise Fail(res.describe())
    links = json.loads(ns.exec(["ip", "-j", "link", "show"], check=True).stdout)
    index = {l["ifname"]: "if%d" % l["ifindex"] for l in links}
    want = collections.Counter(r[:2] + ((index[r[2]] if r[2] else None),) + r[3:]
                               for r in ss_rows(ns).elements())
    res, got = table_rows(["--load-dump", dump, "-a", "-H"])
    compare(got, want, "`%s` vs ss with devices by index" % fmt_cmd(res.argv))


def cases(rep, ns, tmp):
    setup(ns)
    rep.case("table_as_ss", table_as_ss, ns)
    rep.case("json_dev_as_ss", json_dev_as_ss, ns)
    rep.case("csv_dev_as_json", csv_dev_as_json, ns)
    for name, words in FILTERS.items():
        rep.case(name, filtered, ns, words.split())
    rep.case("dump_names_by_index", dump_names_by_index, ns, tmp)


def record(ns, out):
    """Record the scenario for tests/cli/test_replay.py, which replays it
    without root: the dump, what ss showed, the interfaces' indexes."""
    setup(ns)
    res = nslib.run_tcpstate(["-N", ns.name, "-a", "--save-dump",
                              os.path.join(out, "dev.nldump")])
    ss = ns.exec(["ss", "-tanH"], check=True).stdout
    links = json.loads(ns.exec(["ip", "-j", "link", "show"], check=True).stdout)
    if res.rc != 0:
        raise RuntimeError(res.describe())
    with open(os.path.join(out, "dev.ss.txt"), "w") as f:
        f.write(ss)
    with open(os.path.join(out, "dev.links.txt"), "w") as f:
        f.writelines("%d %s\n" % (l["ifindex"], l["ifname"]) for l in links)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--record":
        with nslib.Netns() as ns:
            record(ns, sys.argv[2])
        return
    rep = nslib.begin("list_dev", NAMES)
    nslib.in_netns(rep, NAMES, lambda ns, tmp: cases(rep, ns, tmp))


if __name__ == "__main__":
    main()
