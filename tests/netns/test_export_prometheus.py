#!/usr/bin/env python3
"""`tcpstate export` scraped by a real Prometheus (issue 19's acceptance
test), as root, in a namespace of its own, over loopback only.

In the namespace: `tcpstate export --listen 127.0.0.1:19814`, and
Prometheus (its config, storage and log in a scratch directory, listening
on 127.0.0.1:19090) scraping it every second.  The test then makes, with
an ip_local_port_range of 40000-40999 (the namespace's own) and, on lo,
198.18.0.1, .2 and .9:
  - N established pairs 127.0.0.1:20000+i -> 127.0.0.1:7000 (bound ports,
    outside the range: no ephemeral port);
  - M more listeners, 127.0.0.1:6000+j with backlog 10+j, and one on
    127.0.0.1:6999 (backlog 8) holding Q connections never accepted;
  - K CLOSE-WAIT sockets owned by a process named "cwleak-fleet": it
    accepts K connections on 198.18.0.1:7100 and never closes them once
    the clients have sent their FIN (shutdown, so the client side stays in
    FIN-WAIT-2 instead of timing out);
  - L connections from 198.18.0.2 on ephemeral ports to 198.18.0.9:8080.
Its own traffic (Prometheus' scrapes, the test's queries) runs on
connections kept alive, so the socket set keeps still.  The state counts
are compared with `ss -tanH` taken before and after one scrape (equal, or
the whole is tried again), read from Prometheus at that scrape's
timestamp.  The oldest CLOSE-WAIT age, a lower bound, must lie between
what the exporter's first sighting allows (the first scrape that showed
them, as Prometheus recorded it) and the time since the test made them.
`promtool check metrics` must pass on a scrape in the text format.
Prometheus or promtool missing: every case is skipped, saying so.
"""
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
import promlib  # noqa: E402
from nslib import Fail  # noqa: E402

CASES = [
    "exporter_and_prometheus_up",
    "scrape_clean",
    "state_counts_exact",
    "close_wait_count_per_process",
    "close_wait_oldest_age",
    "ephemeral_ports_per_destination",
    "ephemeral_budget",
    "time_wait_limit",
    "listen_queues",
    "promtool_check_metrics",
    "openmetrics_ends_with_eof",
    "http_keep_alive",
    "exporter_exits_on_sigterm",
]

EXPORT_PORT = 19814
PROM_PORT = 19090
JOB = "tcpstate"
RANGE = (40000, 40999)
N, M, Q, K, L = 25, 5, 3, 7, 13
TW_MAX = 4321  # the namespace's tcp_max_tw_buckets, unlike any default
COMM = "cwleak-fleet"
CW_PORT, EPH_DEST = 7100, ("198.18.0.9", 8080)

# Accepts argv[1] connections on argv[2]:argv[3] under the name COMM and
# holds them, never closing: their server side stays in CLOSE-WAIT once the
# clients send their FIN.  "listening", then "ready" once all are accepted.
CW_SERVER = r'''
import socket, sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[4])
k = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[2], int(sys.argv[3])))
l.listen(k)
print("listening", flush=True)
held = [l.accept()[0] for _ in range(k)]
print("ready", flush=True)
sys.stdin.read()
'''


def build(ns, h):
    """The sockets of the docstring; returns (t0, t1): wall clock just
    before and just after the CLOSE-WAIT sockets' clients sent their FIN."""
    for a in ("198.18.0.1/24", "198.18.0.2/24", "198.18.0.9/24"):
        ns.add_addr(a)
    main = h.listen("127.0.0.1", 7000, backlog=64)
    for i in range(N):
        h.connect("127.0.0.1", 7000, bind=["127.0.0.1", 20000 + i])
        main.accept()
    for j in range(M):
        h.listen("127.0.0.1", 6000 + j, backlog=10 + j)
    full = h.listen("127.0.0.1", 6999, backlog=8)
    for i in range(Q):
        h.connect("127.0.0.1", full.local[1], bind=["127.0.0.1", 21000 + i])
    eph = h.listen(EPH_DEST[0], EPH_DEST[1], backlog=64)
    eph.clients(L, bind=["198.18.0.2", 0])
    cw = ns.popen([sys.executable, "-u", "-c", CW_SERVER, str(K), "198.18.0.1",
                   str(CW_PORT), COMM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if cw.stdout.readline().strip() != "listening":
        raise RuntimeError("the CLOSE-WAIT server did not start")
    clients = [h.connect("198.18.0.1", CW_PORT, bind=["198.18.0.1", 22000 + i])
               for i in range(K)]
    if cw.stdout.readline().strip() != "ready":
        raise RuntimeError("the CLOSE-WAIT server did not accept its %d connections" % K)
    t0 = time.time()
    h.cmd("shutdown_many", ids=[c.id for c in clients], how="wr")
    t1 = time.time()
    for _ in range(200):
        cw = [r for r in promlib.ss_rows(ns) if r.state == "CLOSE-WAIT" and r.local[1] == CW_PORT]
        if len(cw) == K:
            return t0, t1
        time.sleep(0.05)
    raise RuntimeError("%d of the %d CLOSE-WAIT sockets made" % (len(cw), K))


def without_scrapes(snapshot):
    """A snapshot without the scrapes' connections (either end on EXPORT_PORT)
    but with the exporter's listener."""
    return [(st, lo, pe) for st, lo, pe in snapshot
            if st == "LISTEN" or EXPORT_PORT not in (lo[1], pe[1])]


class Tests:
    def __init__(self, ns, tmp):
        self.ns, self.tmp = ns, tmp
        ns.sysctl("net.ipv4.ip_local_port_range", "%d %d" % RANGE)
        ns.sysctl("net.ipv4.tcp_max_tw_buckets", str(TW_MAX))
        self.http = promlib.Http(ns)
        self.export = promlib.start_export(ns, tmp, EXPORT_PORT)
        self.prom = None
        self.at = None  # the still scrape's timestamp
        self.snap = None  # the socket set at that scrape
        self.still = False  # the whole set kept still, the scrapes' connections too
        self.unstill = []  # if not: what changed around the last try

    def prom_q(self, expr):
        return self.prom.query(expr, self.at)

    def exporter_and_prometheus_up(self):
        # Listening is enough: a probe's connection would leave a TIME-WAIT.
        for _ in range(150):
            if any(st == "LISTEN" and lo[1] == EXPORT_PORT
                   for st, lo, _ in promlib.ss_snapshot(self.ns)):
                break
            if self.export.proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            raise Fail("tcpstate export never listened; %s" % self.export.describe())
        if self.export.proc.poll() is not None:
            raise Fail(self.export.describe())
        self.prom = promlib.Prometheus(self.ns, self.tmp, self.http, PROM_PORT, JOB,
                                       "127.0.0.1:%d" % EXPORT_PORT)
        ts = self.prom.wait_scrape_after(0)
        up = self.prom.query_one('up{job="%s"}' % JOB, ts)
        if up != 1:
            raise Fail("up = %s at %.3f; targets %r; %s" % (
                up, ts, self.prom.api("targets"), self.export.describe()))

    def settle(self, h):
        """Build the sockets, wait for the exporter to name their owner,
        then find a scrape with the socket set still around it: ss before
        it started equals ss after Prometheus had it.  The scrapes' own
        connections (to EXPORT_PORT) keep still only if they are kept
        alive: if they never do, the rest of the set must (self.still
        says which was found)."""
        self.t0, self.t1 = build(self.ns, h)
        self.prom.wait_scrape_after(self.t1)
        for _ in range(100):  # owners are looked up every --owner-interval (5 s)
            if COMM in promlib.by_label(self.prom.query("tcpstate_close_wait_sockets"),
                                        "process"):
                break
            time.sleep(0.2)
        core, diff = None, None
        for _ in range(10):
            before, t = promlib.ss_snapshot(self.ns), time.time()
            ts = self.prom.wait_scrape_after(t)
            after = promlib.ss_snapshot(self.ns)
            # A TIME-WAIT on EXPORT_PORT: the scrapes reconnect, and a new
            # connection may take over an old one's 4-tuple (tcp_tw_reuse
            # on loopback), so the set only looks still.
            if before == after and not any(st == "TIME-WAIT" and EXPORT_PORT in (lo[1], pe[1])
                                           for st, lo, pe in after):
                self.at, self.snap, self.still = ts, after, True
                return
            diff = sorted(set(before) ^ set(after))
            if core is None and without_scrapes(before) == without_scrapes(after):
                core = (ts, after)
        if core is None:
            raise Fail("the namespace's sockets never kept still around a scrape; "
                       "last difference %r" % diff[:10])
        self.at, self.snap = core
        self.still = False
        self.unstill = diff

    def scrape_clean(self):
        health, err = self.prom.target_health()
        up = self.prom_q('up{job="%s"}' % JOB)
        scraped = self.prom.query_one('scrape_samples_scraped{job="%s"}' % JOB, self.at)
        stored = self.prom.query_one('count({job="%s",__name__=~"tcpstate_.*"})' % JOB, self.at)
        if health != "up" or err or list(up.values()) != [1.0]:
            raise Fail("target health %r, lastError %r, up %r" % (health, err, up))
        # Every sample of the scrape is a tcpstate_ series Prometheus kept.
        if scraped < 1 or scraped != stored:
            raise Fail("scrape_samples_scraped %s, tcpstate_ series stored %s" % (scraped, stored))

    def state_counts_exact(self):
        got = promlib.by_label(self.prom_q('tcpstate_sockets{job="%s"}' % JOB), "state")
        want = {s: float(c) for s, c in promlib.ss_states(self.snap).items()}
        if not self.still:
            raise Fail("the scrapes' own connections never kept still: a new one per scrape, "
                       "each leaving a TIME-WAIT (see http_keep_alive); last ss difference "
                       "around a scrape %r; tcpstate_sockets %r, ss %r" % (
                           self.unstill[:4], got, want))
        if got != want:
            raise Fail("tcpstate_sockets %r; ss -tanH %r" % (got, want))
        # The test's own sockets are in it (2N + Q*2 + ...): the oracle is
        # not trivially small.
        if want["close_wait"] != K or want["established"] < 2 * (N + L):
            raise Fail("ss itself shows close_wait %d, established %d: not the scenario" % (
                want["close_wait"], want["established"]))

    def close_wait_count_per_process(self):
        got = promlib.by_label(self.prom_q("tcpstate_close_wait_sockets"), "process")
        if got != {COMM: float(K)}:
            raise Fail("tcpstate_close_wait_sockets by process %r, want {%r: %d}" % (
                got, COMM, K))

    def close_wait_oldest_age(self):
        age = self.prom.query_one('tcpstate_close_wait_oldest_seconds{process="%s"}' % COMM,
                                  self.at)
        # When the exporter first saw them: during the first scrape that
        # showed any (whatever owner it named then), which began at `first`
        # and lasted at most `dur_first`.
        raw = self.prom.raw('tcpstate_close_wait_sockets{job="%s"}' % JOB, "10m", self.at)
        seen = [t for samples in raw.values() for t, v in samples if v > 0]
        first = min(seen)
        dur_first = self.prom.query_one('scrape_duration_seconds{job="%s"}' % JOB, first)
        dur = self.prom.query_one('scrape_duration_seconds{job="%s"}' % JOB, self.at)
        # The collection this age comes from ran within [at, at + dur].
        lo = self.at - (first + dur_first) - 0.002
        hi = min(self.at + dur - first, self.at + dur - self.t0) + 0.002
        since = self.at - self.t1
        if not lo <= age <= hi:
            raise Fail("oldest age %.3f s, not within [%.3f, %.3f] (first shown by the scrape "
                       "at %.3f, %.3f s after the FINs; this scrape %.3f s after them)" % (
                           age, lo, hi, first, first - self.t1, since))
        if first < self.t0 - 0.002:
            raise Fail("CLOSE-WAIT sockets shown at %.3f, before they were made (%.3f)" % (
                first, self.t0))

    def ephemeral_ports_per_destination(self):
        got = {(d["source"], d["destination"]): v for d, v in
               ((dict(k), v) for k, v in self.prom_q("tcpstate_ephemeral_ports_in_use").items())}
        want = promlib.ephemeral_pairs(self.snap, *RANGE)
        if not self.still:  # the scraper's own pair changed around the scrape
            scrapes = "127.0.0.1:%d" % EXPORT_PORT
            got = {k: v for k, v in got.items() if k[1] != scrapes}
            want = {k: v for k, v in want.items() if k[1] != scrapes}
        key = ("198.18.0.2", "%s:%d" % EPH_DEST)
        if want.get(key) != L:
            raise Fail("ss itself shows %r for %r, not %d: not the scenario" % (
                want.get(key), key, L))
        if got != {k: float(v) for k, v in want.items()}:
            raise Fail("tcpstate_ephemeral_ports_in_use %r; from ss %r" % (got, want))

    def ephemeral_budget(self):
        size = self.prom.query_one("tcpstate_ephemeral_port_range_size", self.at)
        ratio = self.prom.query_one("tcpstate_ephemeral_ports_fullest_ratio", self.at)
        want_size = RANGE[1] - RANGE[0] + 1
        want_ratio = max(promlib.ephemeral_pairs(self.snap, *RANGE).values()) / want_size
        if size != want_size or not math.isclose(ratio, want_ratio, rel_tol=1e-9):
            raise Fail("range size %s, fullest ratio %s; want %d, %s" % (
                size, ratio, want_size, want_ratio))

    def time_wait_limit(self):
        lim = self.prom.query_one("tcpstate_time_wait_limit", self.at)
        if lim != TW_MAX:
            raise Fail("tcpstate_time_wait_limit %s, the namespace's is %d" % (lim, TW_MAX))

    def listen_queues(self):
        def ports(name):
            return {int(dict(k)["port"]): v for k, v in self.prom_q(name).items()
                    if dict(k).get("address") == "127.0.0.1"}
        qlen, qlim = ports("tcpstate_listen_queue_length"), ports("tcpstate_listen_queue_limit")
        want_lim = {6000 + j: float(10 + j) for j in range(M)}
        want_lim.update({6999: 8.0, 7000: 64.0})
        bad = {p: (qlen.get(p), qlim.get(p)) for p in want_lim
               if qlim.get(p) != want_lim[p] or qlen.get(p) != (Q if p == 6999 else 0)}
        if bad:
            raise Fail("(length, limit) per port %r; want limits %r and %d queued on 6999" % (
                bad, want_lim, Q))

    def promtool_check_metrics(self):
        r = self.http.get(EXPORT_PORT, "/metrics", fresh=True)
        if not r.get("ok") or r["status"] != 200:
            raise Fail("GET /metrics: %r" % r)
        ctype = r["headers"].get("content-type", "")
        if not ctype.startswith("text/plain"):
            raise Fail("a scrape without Accept came as %r, not the text format" % ctype)
        p = nslib.run([promlib.PROMTOOL, "check", "metrics"], input=r["body"])
        if p.returncode != 0:
            raise Fail("promtool check metrics exited %d: %s" % (
                p.returncode, (p.stdout + p.stderr).strip()[:800]))
        promlib.parse_text(r["body"])  # and no sample twice

    def openmetrics_ends_with_eof(self):
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        r = self.http.get(EXPORT_PORT, "/metrics", fresh=True, headers={"Accept": accept})
        if not r.get("ok") or r["status"] != 200:
            raise Fail("GET /metrics (OpenMetrics): %r" % r)
        ctype = r["headers"].get("content-type", "")
        if not ctype.startswith("application/openmetrics-text") or \
                not r["body"].endswith("# EOF\n"):
            raise Fail("Content-Type %r, body ending %r" % (ctype, r["body"][-80:]))

    def http_keep_alive(self):
        # Prometheus keeps its connection to a target open between scrapes:
        # an exporter that closes it after every answer leaves a TIME-WAIT
        # socket per scrape in the namespace it reports on.
        r = self.http.get(EXPORT_PORT, "/metrics", fresh=True)
        conn = r.get("headers", {}).get("connection", "")
        if not r.get("ok") or r["status"] != 200 or conn.lower() == "close":
            raise Fail("an HTTP/1.1 GET /metrics: status %s, Connection: %r (the server closes "
                       "after every answer)" % (r.get("status"), conn))


def main():
    tools = ("ip", "ss", promlib.PROMETHEUS, promlib.PROMTOOL)
    rep = nslib.begin("export_prometheus", CASES, watchdog=200, tools=tools)

    def body(ns, tmp):
        t = Tests(ns, tmp)
        try:
            rep.case("exporter_and_prometheus_up", t.exporter_and_prometheus_up)
            if t.prom is None:
                rep.fail_rest(CASES[:-1], "Prometheus or the exporter never came up")
                return
            t.settle(ns.holder())
            for name in CASES[1:-1]:
                rep.case(name, getattr(t, name))
        finally:
            if t.prom is not None:
                t.prom.logged.stop()
            rc = t.export.stop()
            rep.check(rc == 0, "exporter_exits_on_sigterm",
                      "exit status %s (None: killed): %s" % (rc, t.export.describe()))
    nslib.in_netns(rep, CASES, body)


if __name__ == "__main__":
    main()
