#!/usr/bin/env python3
"""The ephemeral-port census per source address and destination, against
the kernel, as root, in a namespace of its own.

connect() needs the 4-tuple to be unique, so each source address has the
whole of ip_local_port_range towards each destination: two source
addresses are two budgets, not one of twice the size.  In a namespace with
a 100-port range (a per-namespace knob; the host's value is checked
unchanged) and, on lo, 198.18.0.1, .2 and .9, fd00::1, ::2 and ::9:
 - 30 connections from 198.18.0.1 to 198.18.0.9:5000, and 3 more from a
   dual-stack socket bound to ::ffff:198.18.0.1 (the same source and
   destination, canonically), 20 from 198.18.0.2 to the same destination,
   10 from 198.18.0.1 to 198.18.0.9:5001; 15 from fd00::1 and 5 from
   fd00::2 to [fd00::9]:5000.
The counts per (source, destination) come from `ss` as the oracle.
`list -s` (JSON and text), top's header and `tune show`'s advice must give
each pair its own count: 198.18.0.9:5000 holds 53 ports in all, but 33 of
one range and 20 of another, so no range is half used and tune advises
nothing.
"""
import ipaddress
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402
# The census's address rule, as the census test has it.
from test_census import canon  # noqa: E402

CASES = [
    "oracle_scenario_as_built",
    "list_summary_json_per_source",
    "list_summary_text_per_source",
    "top_header_per_source",
    "tune_advice_per_source",
    "host_port_range_unchanged",
]

RANGE = (40000, 40099)
SIZE = RANGE[1] - RANGE[0] + 1

# (source, destination address, destination port): connections, as built.
BUILT = {
    ("198.18.0.1", "198.18.0.9", 5000): 33,
    ("198.18.0.2", "198.18.0.9", 5000): 20,
    ("198.18.0.1", "198.18.0.9", 5001): 10,
    ("fd00::1", "fd00::9", 5000): 15,
    ("fd00::2", "fd00::9", 5000): 5,
}


def kernel_pairs(ns):
    """From ss: sockets on ports of the range that no listener holds, per
    (source, destination address, port)."""
    rows = nslib.parse_ss(ns.exec(["ss", "-tanH"], check=True).stdout)
    held = {(str(canon(r.local[0])), r.local[1]) for r in rows if r.state == "LISTEN"}
    wild = {r.local[1] for r in rows if r.state == "LISTEN"
            and ipaddress.ip_address(r.local[0]).is_unspecified}
    pairs = {}
    for r in rows:
        src, lport = str(canon(r.local[0])), r.local[1]
        if r.state == "LISTEN" or not RANGE[0] <= lport <= RANGE[1]:
            continue
        if (src, lport) in held or lport in wild:
            continue
        k = (src, str(canon(r.peer[0])), r.peer[1])
        pairs[k] = pairs.get(k, 0) + 1
    return pairs


def build(ns, h):
    for a in ("198.18.0.1/24", "198.18.0.2/24", "198.18.0.9/24",
              "fd00::1/64", "fd00::2/64", "fd00::9/64"):
        ns.add_addr(a)
    l5000 = h.listen("198.18.0.9", 5000, backlog=64)
    l5001 = h.listen("198.18.0.9", 5001, backlog=64)
    l6 = h.listen("fd00::9", 5000, family=6, v6only=1, backlog=64)
    l5000.clients(30, bind=["198.18.0.1", 0])
    l5000.clients(3, "::ffff:198.18.0.9", bind=["::ffff:198.18.0.1", 0], v6only=0)
    l5000.clients(20, bind=["198.18.0.2", 0])
    l5001.clients(10, bind=["198.18.0.1", 0])
    l6.clients(15, bind=["fd00::1", 0])
    l6.clients(5, bind=["fd00::2", 0])


def dest_text(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


class Tests:
    def __init__(self, ns):
        self.ns = ns
        self.pairs = kernel_pairs(ns)
        self.busiest = sorted(self.pairs.items(), key=lambda kv: -kv[1])

    def oracle_scenario_as_built(self):
        # The test's own arithmetic is checked against the kernel first.
        if self.pairs != BUILT:
            raise Fail("from ss: %r; built %r" % (self.pairs, BUILT))

    def list_summary_json_per_source(self):
        r = nslib.run_tcpstate(["-s", "--json"], self.ns)
        if r.rc != 0:
            raise Fail(r.describe())
        try:
            e = json.loads(r.stdout)["ephemeral"]
            got = {(d["source"], d["addr"], d["port"]): d["in_use"] for d in e["destinations"]}
            totals = (e["in_use"], e["destination_count"], e["source_count"], e["pair_count"])
        except (ValueError, KeyError, TypeError) as ex:
            raise Fail("list -s --json: %s in %r" % (ex, r.stdout[-600:]))
        dests = {(k[1], k[2]) for k in self.pairs}
        sources = {k[0] for k in self.pairs}
        want = (sum(self.pairs.values()), len(dests), len(sources), len(self.pairs))
        if got != self.pairs or totals != want:
            raise Fail("list -s --json: pairs %r, (in_use, destinations, sources, pairs) %r; "
                       "from ss %r, %r" % (got, totals, self.pairs, want))

    def list_summary_text_per_source(self):
        r = nslib.run_tcpstate(["-s"], self.ns)
        if r.rc != 0:
            raise Fail(r.describe())
        total = sum(self.pairs.values())
        line = "  %d sockets on ephemeral ports to 3 destinations from 4 source addresses, " \
               "0 of them in TIME-WAIT" % total
        if line not in r.stdout.splitlines():
            raise Fail("list -s lacks %r: %r" % (line, r.stdout))
        rows = {}
        for l in r.stdout.splitlines():
            m = re.match(r"^  (\S+) +(\S+) +(\d+) +(\d+) +([\d.]+)%$", l)
            if m:
                rows[(m.group(2), m.group(1))] = (int(m.group(3)), m.group(5))
        want = {(s, dest_text(a, p)): (n, "%.1f" % (100.0 * n / SIZE))
                for (s, a, p), n in self.pairs.items()}
        if rows != want:
            raise Fail("list -s rows (from, destination): (in use, %% of range) %r; from ss %r"
                       % (rows, want))

    def top_header_per_source(self):
        r = subprocess.run([nslib.TCPSTATE, "top", "-b", "-n", "1", "-N", self.ns.name],
                           capture_output=True, text=True, timeout=20)
        lines = [l for l in r.stdout.splitlines() if l.startswith("Ephemeral ports")]
        (s1, a1, p1), n1 = self.busiest[0]
        nxt = ", ".join("%s from %s %d (%d%%)" % (dest_text(a, p), s, n, round(100.0 * n / SIZE))
                        for (s, a, p), n in self.busiest[1:3])
        want = ("Ephemeral ports: busiest %s from %s %d of %d (%d%%); %d in use to 3 "
                "destinations from 4 source addresses; next %s"
                % (dest_text(a1, p1), s1, n1, SIZE, round(100.0 * n1 / SIZE),
                   sum(self.pairs.values()), nxt))
        if r.returncode != 0 or lines != [want]:
            raise Fail("top -b rc=%d, header %r; from ss, want %r"
                       % (r.returncode, lines, want))

    def tune_advice_per_source(self):
        # 53 sockets to 198.18.0.9:5000 would be over half the range, but
        # they are 33 from one source and 20 from another.
        r = subprocess.run([nslib.TCPSTATE, "tune", "-N", self.ns.name, "show", "--json",
                            "port-range"], capture_output=True, text=True, timeout=20)
        try:
            advice = [a for a in json.loads(r.stdout)["advice"]
                      if a.startswith("Ephemeral ports")]
        except (ValueError, KeyError, TypeError) as ex:
            raise Fail("tune show --json rc=%d: %s in %r" % (r.returncode, ex, r.stdout[-400:]))
        (s1, a1, p1), n1 = self.busiest[0]
        want = ("Ephemeral ports: the busiest destination, %s from %s, uses %d of %d ports "
                "(each source address has a range of its own): no action needed."
                % (dest_text(a1, p1), s1, n1, SIZE))
        if r.returncode != 0 or advice != [want]:
            raise Fail("tune show advice %r; from ss, want %r" % (advice, want))


def cases(rep, ns):
    """Every case but the last, on the scenario (its holder keeps the
    sockets open until the namespace goes)."""
    ns.sysctl("net.ipv4.ip_local_port_range", "%d %d" % RANGE)
    build(ns, ns.holder())
    T = Tests(ns)
    for name in CASES[:-1]:
        rep.case(name, getattr(T, name))


def main():
    rep = nslib.begin("census_source", CASES, watchdog=120)
    rep.guard_host("host_port_range_unchanged",
                   lambda: nslib.host_sysctls(["net.ipv4.ip_local_port_range"]))
    nslib.in_netns(rep, CASES[:-1], lambda ns, tmp: cases(rep, ns))


if __name__ == "__main__":
    main()
