#!/usr/bin/env python3
"""End-to-end: `tcpstate list` vs `ss` on a namespace holding every TCP state.

Root only.  Builds the standard scenario of nslib (LISTEN, ESTABLISHED,
SYN-SENT, SYN-RECEIVED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, LAST-ACK,
TIME-WAIT over IPv4, IPv6 and v4-mapped IPv6) in a private network
namespace, then checks tcpstate's JSON output against ss run in the same
namespace.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, compare_counters, fmt_cmd, fmt_key, ss_keys, \
    tcpstate_json, ts_key, ts_keys  # noqa: E402

CASES = [
    "scenario_all_states_in_ss",
    "all_rows_netns_option",
    "all_rows_ip_netns_exec",
    "all_rows_long_options",
    "required_states_reported",
    "json_fields",
    "ipv6_and_mapped_rows",
    "default_vs_ss",
    "listening_vs_ss",
    "listening_long_option_vs_ss",
    "queues_vs_ss",
    "processes_vs_ss",
    "timers_timewait",
    "extended_uid_inode_vs_ss",
]


def cases(rep, ns):
    """Every case on the standard scenario (its failure fails them all)."""
    T = Tests(ns, nslib.build_world(ns))
    for name in CASES:
        rep.case(name, getattr(T, name))


def main():
    rep = nslib.begin("list_states", CASES)
    nslib.in_netns(rep, CASES, lambda ns, tmp: cases(rep, ns))


class Tests:
    def __init__(self, ns, world):
        self.ns = ns
        self.w = world

    # -- helpers -----------------------------------------------------------

    def ss_all(self, extra=""):
        return self.ns.ss("-tanH" + extra)

    def compare(self, ts_args, ss_opts, how="N"):
        res, data = tcpstate_json(ts_args, self.ns, how)
        want = ss_keys(self.ns.ss(ss_opts))
        compare_counters(ts_keys(data), want,
                         "`%s` vs `ss %s`" % (fmt_cmd(res.argv), ss_opts))
        return res, data

    # -- cases -------------------------------------------------------------

    def scenario_all_states_in_ss(self):
        seen = {r.state for r in self.ss_all()}
        missing = [s for s in nslib.REQUIRED_STATES if s not in seen]
        if missing:
            raise Fail("scenario broken: ss does not show %s" % missing)
        have = set(ss_keys(self.ss_all()))
        lost = [n for n, k in self.w.expect.items() if k not in have]
        if lost:
            raise Fail("scenario broken: sockets %s not in the expected state: %s"
                       % (lost, [fmt_key(self.w.expect[n]) for n in lost]))

    def all_rows_netns_option(self):
        self.compare(["-a", "--json"], "-tanH", how="N")

    def all_rows_ip_netns_exec(self):
        self.compare(["-a", "--json"], "-tanH", how="exec")

    def all_rows_long_options(self):
        res, data = tcpstate_json(["--netns", self.ns.name, "--all", "--json"])
        compare_counters(ts_keys(data), ss_keys(self.ss_all()),
                         "`%s` vs `ss -tanH`" % fmt_cmd(res.argv))

    def required_states_reported(self):
        res, data = tcpstate_json(["-a"], self.ns)
        seen = {o["state"] for o in data}
        missing = [s for s in nslib.REQUIRED_STATES if s not in seen]
        if missing:
            raise Fail("`%s` reports no row in state %s (saw %s)"
                       % (fmt_cmd(res.argv), missing, sorted(map(str, seen))))
        # Every socket of the scenario, individually.
        got = set(ts_keys(data))
        lost = [fmt_key(k) for k in self.w.expect.values() if k not in got]
        if lost:
            raise Fail("`%s` lacks scenario rows: %s" % (fmt_cmd(res.argv), lost))

    def json_fields(self):
        res, data = tcpstate_json(["-a"], self.ns)
        cmd = fmt_cmd(res.argv)
        if not data:
            raise Fail("`%s` returned an empty array" % cmd)
        for o in data:
            def bad(why):
                raise Fail("`%s` row %r: %s" % (cmd, o, why))
            if o["state"] not in nslib.RFC_STATES:
                bad("state is not an RFC 9293 name")
            if o["family"] not in ("ipv4", "ipv6"):
                bad("family must be ipv4 or ipv6")
            for k in ("local_port", "peer_port", "recv_q", "send_q"):
                v = o[k]
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    bad("%s must be a non-negative integer" % k)
            for k in ("local_port", "peer_port"):
                if o[k] > 65535:
                    bad("%s out of range" % k)
            for k in ("local_addr", "peer_addr"):
                v = o[k]
                if not isinstance(v, str) or any(c in v for c in "[]%") \
                        or v != v.strip():
                    bad("%s must be a plain address string" % k)
            try:
                la = ipaddress.ip_address(o["local_addr"])
            except ValueError:
                bad("local_addr is not an IP address")
            if ("ipv4" if la.version == 4 else "ipv6") != o["family"]:
                bad("family does not match local_addr")
            if o["state"] == "LISTEN":
                if o["peer_addr"] != "*" or o["peer_port"] != 0:
                    bad("a listener's peer must be \"*\" with port 0")
            else:
                try:
                    pa = ipaddress.ip_address(o["peer_addr"])
                except ValueError:
                    bad("peer_addr is not an IP address")
                if pa.version != la.version:
                    bad("peer_addr family differs from local_addr")
                if o["peer_port"] == 0:
                    bad("connected socket with peer port 0")

    def ipv6_and_mapped_rows(self):
        res, data = tcpstate_json(["-a"], self.ns)
        got = set(ts_keys(data))
        want = {n: self.w.expect[n] for n in
                ("l10", "c10", "s10", "c11", "l12", "c12", "s12", "l13",
                 "s13", "c14", "s14")}
        lost = ["%s (%s)" % (fmt_key(k), n) for n, k in want.items() if k not in got]
        if lost:
            raise Fail("`%s` lacks IPv6 rows: %s" % (fmt_cmd(res.argv), lost))
        s13 = [o for o in data if ts_key(o) == want["s13"]][0]
        if s13["family"] != "ipv6":
            raise Fail("v4-mapped row %r must have family ipv6" % s13)

    def default_vs_ss(self):
        res, data = self.compare([], "-tnH", how="N")
        bad = {o["state"] for o in data} & {"LISTEN", "TIME-WAIT", "SYN-RECEIVED"}
        if bad:
            raise Fail("`%s` (default) shows states %s" % (fmt_cmd(res.argv), bad))

    def listening_vs_ss(self):
        res, data = self.compare(["-l"], "-tlnH", how="exec")
        if {o["state"] for o in data} != {"LISTEN"}:
            raise Fail("`%s` shows non-LISTEN rows" % fmt_cmd(res.argv))

    def listening_long_option_vs_ss(self):
        self.compare(["--listening"], "-tlnH", how="N")

    def queues_vs_ss(self):
        res, data = tcpstate_json(["-a"], self.ns)
        got = collections.Counter(ts_key(o) + (o["recv_q"], o["send_q"]) for o in data)
        want = collections.Counter(r.key() + (r.recv_q, r.send_q)
                                   for r in self.ss_all())
        if got != want:
            raise Fail("`%s` recv_q/send_q differ from `ss -tanH`: tcpstate-only %s; "
                       "ss-only %s" % (fmt_cmd(res.argv), _fmt_q(got - want),
                                       _fmt_q(want - got)))
        # The data queued on the 5000 pair must be visible.
        for n, rq in (("s0", 5), ("c0", 3)):
            o = [o for o in data if ts_key(o) == self.w.expect[n]][0]
            if o["recv_q"] != rq:
                raise Fail("row %s: recv_q %r, expected %d" % (fmt_key(self.w.expect[n]),
                                                             o["recv_q"], rq))

    def processes_vs_ss(self):
        res, data = tcpstate_json(["-a", "-p"], self.ns, how="exec")
        cmd = fmt_cmd(res.argv)
        got = {}
        for o in data:
            if "processes" not in o:
                raise Fail("`%s` row lacks 'processes': %r" % (cmd, o))
            ps = o["processes"]
            if not isinstance(ps, list):
                raise Fail("`%s` 'processes' is not an array: %r" % (cmd, o))
            entries = set()
            for p in ps:
                if not isinstance(p, dict) or not {"pid", "comm", "fd"} <= set(p):
                    raise Fail("`%s` bad processes entry %r" % (cmd, p))
                entries.add((p["comm"], p["pid"], p["fd"]))
            got.setdefault(ts_key(o), set()).update(entries)
        want = {}
        for r in self.ns.ss("-tanpH"):
            want.setdefault(r.key(), set()).update(r.users())
        # The holder's ESTABLISHED client socket on 5000, explicitly.
        k = self.w.expect["c0"]
        exp = {(c, pid, fd) for (c, pid, fd) in want.get(k, ())}
        if (self.w.h.pid, self.w.s["c0"].fd) not in {(p, f) for (_, p, f) in got.get(k, ())}:
            raise Fail("`%s`: row %s should name pid %d fd %d; got %r (ss: %r)"
                       % (cmd, fmt_key(k), self.w.h.pid, self.w.s["c0"].fd,
                          sorted(got.get(k, ())), sorted(exp)))
        if set(got) != set(want):
            compare_counters(collections.Counter(got.keys()),
                             collections.Counter(want.keys()),
                             "`%s` vs `ss -tanpH`" % cmd)
        diff = ["%s: tcpstate %r, ss %r" % (fmt_key(k), sorted(got[k]), sorted(want[k]))
                for k in want if got[k] != want[k]]
        if diff:
            raise Fail("`%s` processes differ from `ss -tanpH`: %s" % (cmd, "; ".join(diff)))

    def timers_timewait(self):
        res, data = self.compare(["-a", "-o"], "-tanH", how="N")
        tw = [o for o in data if o["state"] == "TIME-WAIT"]
        if len(tw) < 3:
            raise Fail("`%s`: expected >= 3 TIME-WAIT rows, got %d" % (fmt_cmd(res.argv), len(tw)))
        for o in tw:
            if o.get("timer") != "timewait":
                raise Fail("`%s` TIME-WAIT row %r: timer should be \"timewait\""
                           % (fmt_cmd(res.argv), o))
            e = o.get("expires_ms")
            if not isinstance(e, int) or isinstance(e, bool) or not 0 < e <= 60000:
                raise Fail("`%s` TIME-WAIT row %r: expires_ms should be an integer in (0, 60000]"
                           % (fmt_cmd(res.argv), o))

    def extended_uid_inode_vs_ss(self):
        res, data = self.compare(["-a", "-e"], "-tanH", how="exec")
        cmd = fmt_cmd(res.argv)
        got = {}
        for o in data:
            for k in ("uid", "inode"):
                if not isinstance(o.get(k), int) or isinstance(o.get(k), bool):
                    raise Fail("`%s` row %r: %s should be an integer" % (cmd, o, k))
            got[ts_key(o)] = (o["uid"], o["inode"])
        want = {}
        for r in self.ns.ss("-tanHe"):
            ino = r.field("ino")
            if ino is None:
                raise Fail("cannot parse ino from ss -e row %r" % r.raw)
            want[r.key()] = (r.field("uid") or 0, ino)
        diff = ["%s: tcpstate uid/inode %r, ss %r" % (fmt_key(k), got.get(k), v)
                for k, v in want.items() if got.get(k) != v]
        if diff:
            raise Fail("`%s` uid/inode differ from `ss -tanHe`: %s" % (cmd, "; ".join(diff)))
        if not any(u == nslib.OTHER_UID for (u, _) in got.values()):
            raise Fail("`%s`: no row with uid %d" % (cmd, nslib.OTHER_UID))
        if got.get(self.w.expect["c0"], (0, 0))[1] == 0:
            raise Fail("`%s`: inode of %s is 0" % (cmd, fmt_key(self.w.expect["c0"])))


def _fmt_q(counter):
    return "{" + "; ".join("%s q=%d/%d" % (fmt_key(k[:6]), k[6], k[7])
                           for k in sorted(counter.elements(), key=str)) + "}"


if __name__ == "__main__":
    main()
