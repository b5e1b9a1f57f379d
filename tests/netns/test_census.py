#!/usr/bin/env python3
"""The ephemeral-port census (src/census.c) against the kernel, as root, in
namespaces of its own.

ip_local_port_range is set in each namespace (a per-namespace knob; the
host's value is checked unchanged), wide enough to hold servers' ports:
 - a server on 27017 (inside the range) with accepted connections, a
   dual-stack server on [::]:50051 (IPV6_V6ONLY off) accepting IPv4
   clients, a server on one address of two, and real outgoing connections:
   `list -s` (text, JSON, and with a filter that hides the listeners) and
   top's header count only the real ephemeral ports, as computed here from
   `ss` output by the rule "a port a listener holds on the socket's address
   or the wildcard is not ephemeral";
 - two destinations holding 49 ports each of a 100-port range: top's
   header gives the busiest destination's share (49%), naming it, and the
   total (98) apart, not 98 of 100.
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

CASES = [
    "oracle_scenario_as_built",
    "list_summary_json_counts_only_ephemeral",
    "list_summary_text_counts_only_ephemeral",
    "list_summary_filter_still_sees_listeners",
    "top_header_counts_only_ephemeral",
    "top_header_busiest_destination_share",
    "host_port_range_unchanged",
]

RANGE = (15000, 65000)
SMALL = (40000, 40099)


def ss_rows(ns):
    """(state, family, laddr, lport, raddr, rport, v6only) from ss -taneH."""
    out = ns.exec(["ss", "-taneH"], check=True).stdout
    rows = []
    for r in nslib.parse_ss(out):
        m = re.search(r"\bv6only:(\d)", r.extra)
        # ss prints a dual-stack [::] listener as '*'; parse_ss makes it '::'.
        rows.append((r.state, r.family, r.local[0], r.local[1], r.peer[0], r.peer[1],
                     int(m.group(1)) if m else 0))
    return rows


def canon(a):
    """An address as the wire carries it: ::ffff:a.b.c.d is a.b.c.d."""
    ip = ipaddress.ip_address(a)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def expected_census(rows, lo, hi, states=None):
    """Sockets on ephemeral ports, by the rule, from ss rows; and per destination."""
    listeners = [r for r in rows if r[0] == "LISTEN"]

    def held(r):
        la = canon(r[2])
        for l in listeners:
            if l[3] != r[3]:
                continue
            addr = canon(l[2])
            if addr.is_unspecified:
                if addr.version == 4 and la.version == 4:
                    return True
                if addr.version == 6 and (la.version == 6 or not l[6]):
                    return True
            elif addr == la:
                return True
        return False

    count, on_listen, dests = 0, 0, {}
    for r in rows:
        if r[0] == "LISTEN" or not lo <= r[3] <= hi:
            continue
        if states is not None and r[0] not in states:
            continue
        if held(r):
            on_listen += 1
            continue
        count += 1
        d = (str(canon(r[4])), r[5])
        dests[d] = dests.get(d, 0) + 1
    return count, on_listen, dests


def build(ns, h):
    """The scenario; returns how many ephemeral and accepted sockets it made."""
    ns.add_addr("198.18.0.1/24")
    ns.add_addr("198.18.0.2/24")
    # A server on 27017, inside the range: 5 clients.
    keep = h.listen("127.0.0.1", 27017).clients(5)
    # A dual-stack server on [::]:50051: 3 IPv4 clients, accepted as [::ffff:127.0.0.1].
    keep += h.listen("::", 50051, family=6, v6only=0).clients(3, "127.0.0.1")
    # A server on 198.18.0.1:30000 only: 2 clients from 198.18.0.2.
    keep += h.listen("198.18.0.1", 30000).clients(2, bind=["198.18.0.2", 0])
    # A server outside the range, on 5000: 4 clients, one of them closed
    # first (its port stays in use, in TIME-WAIT).
    l4 = h.listen("127.0.0.1", 5000)
    for i in range(4):
        c = h.connect("127.0.0.1", 5000)
        s = l4.accept()
        if i == 0:
            local, peer = c.local, c.peer
            c.close()
            ns.wait_for([nslib.make_key("FIN-WAIT-2", local, peer)], what="FIN-WAIT-2")
            s.close()
            ns.wait_for([nslib.make_key("TIME-WAIT", local, peer)], what="TIME-WAIT")
        else:
            keep += [c, s]
    return keep, 5 + 3 + 2 + 4, 5 + 3 + 2


def list_json(ns, *args):
    r = nslib.run_tcpstate(["-s", "--json"] + list(args), ns)
    if r.rc != 0:
        raise Fail(r.describe())
    try:
        return json.loads(r.stdout)["ephemeral"]
    except (ValueError, KeyError, TypeError) as e:
        raise Fail("%s: bad JSON (%s): %r" % (r.describe(), e, r.stdout[:300]))


def top_header(ns):
    r = subprocess.run([nslib.TCPSTATE, "top", "-b", "-n", "1", "-N", ns.name],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise Fail("top -b rc=%d: %s" % (r.returncode, r.stderr.strip()[:200]))
    lines = [l for l in r.stdout.splitlines() if l.startswith("Ephemeral ports")]
    if len(lines) != 1:
        raise Fail("no single 'Ephemeral ports' line in top -b: %r" % r.stdout[:800])
    return lines[0]


# With more than one source address, each pair says "from SRC" (test_census_source.py).
HEADER_RE = re.compile(r"^Ephemeral ports: busiest (\S+)(?: from \S+)? "
                       r"(\d+) of (\d+) \((\d+)%\)"
                       r"(?: full in \S+)?; (\d+) in use to (\d+) destinations?"
                       r"(?: from \d+ source addresses)?(?:; next (.*))?$")


class Tests:
    def __init__(self, ns, small, made):
        self.ns, self.small = ns, small
        self.made_eph, self.made_acc = made
        self.rows = ss_rows(ns)
        self.want, self.want_listen, self.want_dests = expected_census(self.rows, *RANGE)

    def oracle_scenario_as_built(self):
        # The rule applied to ss's rows gives what the scenario built: the
        # test's own arithmetic is checked before tcpstate is.
        if (self.want, self.want_listen) != (self.made_eph, self.made_acc):
            raise Fail("from ss: %d ephemeral, %d on listening ports; built %d and %d; "
                       "rows %r" % (self.want, self.want_listen, self.made_eph,
                                    self.made_acc, self.rows))

    def list_summary_json_counts_only_ephemeral(self):
        e = list_json(self.ns)
        got = (e.get("range_low"), e.get("range_high"), e.get("in_use"),
               e.get("destination_count"), e.get("on_listening_ports"))
        want = (RANGE[0], RANGE[1], self.want, len(self.want_dests), self.want_listen)
        if got != want:
            raise Fail("list -s --json: (low, high, in_use, destinations, on listening "
                       "ports) %r, from ss %r" % (got, want))
        dests = {(d["addr"], d["port"]): d["in_use"] for d in e["destinations"]}
        top = sorted(self.want_dests.items(), key=lambda kv: -kv[1])
        if dests != dict(top[:5]) or e["time_wait"] != 1:
            raise Fail("destinations %r (time_wait %r), from ss %r" % (dests, e["time_wait"],
                                                                     top))

    def list_summary_text_counts_only_ephemeral(self):
        r = nslib.run_tcpstate(["-s"], self.ns)
        m = re.search(r"(\d+) sockets on ephemeral ports to (\d+) destinations", r.stdout)
        n = re.search(r"(\d+) more in the range are on listening ports", r.stdout)
        if (r.rc != 0 or not m or not n or
                (int(m.group(1)), int(m.group(2)), int(n.group(1))) !=
                (self.want, len(self.want_dests), self.want_listen)):
            raise Fail("list -s printed %r; from ss: %d on ephemeral ports to %d "
                       "destinations, %d on listening ports"
                       % (r.stdout, self.want, len(self.want_dests), self.want_listen))

    def list_summary_filter_still_sees_listeners(self):
        # The filter hides the listeners, not what they hold.
        e = list_json(self.ns, "state", "established")
        want, _, _ = expected_census(self.rows, *RANGE, states={"ESTABLISHED"})
        if e.get("in_use") != want or want != self.want - 1:
            raise Fail("list -s state established: in_use %r, from ss %d"
                       % (e.get("in_use"), want))

    def top_header_counts_only_ephemeral(self):
        line = top_header(self.ns)
        m = HEADER_RE.match(line)
        busiest = max(self.want_dests.values())
        if not m or (int(m.group(2)), int(m.group(3)), int(m.group(5)), int(m.group(6))) != \
                (busiest, RANGE[1] - RANGE[0] + 1, self.want, len(self.want_dests)):
            raise Fail("top header %r; from ss: busiest %d of %d, %d in use to %d "
                       "destinations" % (line, busiest, RANGE[1] - RANGE[0] + 1, self.want,
                                         len(self.want_dests)))
        if m.group(1) != "127.0.0.1:27017":
            raise Fail("top header names %s as busiest, not 127.0.0.1:27017: %r"
                       % (m.group(1), line))

    def top_header_busiest_destination_share(self):
        ns = self.small
        rows = ss_rows(ns)
        want, _, dests = expected_census(rows, *SMALL)
        line = top_header(ns)
        m = HEADER_RE.match(line)
        if want != 98 or sorted(dests.values()) != [49, 49]:
            raise Fail("scenario: from ss %d in use, %r" % (want, dests))
        if not m or (int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                     int(m.group(6))) != (49, 100, 49, 98, 2):
            raise Fail("top header %r: want the busiest at 49 of 100 (49%%), and 98 in use "
                       "to 2 destinations apart" % line)
        named = {m.group(1)} | set(re.findall(r"(\S+:\d+) 49 \(49%\)", m.group(7) or ""))
        if named != {"127.0.0.1:5001", "127.0.0.1:5002"}:
            raise Fail("top header %r names %r, want both destinations" % (line, named))

    def host_port_range_unchanged(self):
        pass  # checked in main(), after the namespaces are gone


def build_small(ns, h):
    """Two destinations, 49 connections each, in a 100-port range."""
    return [s for port in (5001, 5002)
            for s in h.listen("127.0.0.1", port, backlog=64).clients(49)]


def cases(rep, ns):
    """Every case but the last, on the two scenarios."""
    ns.sysctl("net.ipv4.ip_local_port_range", "%d %d" % RANGE)
    keep, eph, acc = build(ns, ns.holder())
    with nslib.Netns() as small:
        small.sysctl("net.ipv4.ip_local_port_range", "%d %d" % SMALL)
        build_small(small, small.holder())
        T = Tests(ns, small, (eph, acc))
        for name in CASES[:-1]:
            rep.case(name, getattr(T, name))


def main():
    rep = nslib.begin("census", CASES, watchdog=120)
    rep.guard_host("host_port_range_unchanged",
                   lambda: nslib.host_sysctls(["net.ipv4.ip_local_port_range"]))
    nslib.in_netns(rep, CASES[:-1], lambda ns, tmp: cases(rep, ns))


if __name__ == "__main__":
    main()
