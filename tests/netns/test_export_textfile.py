#!/usr/bin/env python3
"""`tcpstate export --textfile` read by a real node_exporter's textfile
collector (issue 19), as root, in a namespace of its own, over loopback.

In the namespace: N established pairs to 127.0.0.1:7000, K CLOSE-WAIT
sockets (clients that sent their FIN to a server that never closes), L
connections from 198.18.0.2 on ephemeral ports (the namespace's range,
40000-40999) to 198.18.0.9:8080.  `tcpstate export --textfile
DIR/tcpstate.prom` writes once and exits 0; the file's state counts equal
`ss -tanH` taken before and after it (the sockets keep still: nothing else
runs), its mode is 0644 and nothing else is left in DIR.  Then
node_exporter (`--collector.disable-defaults --collector.textfile`) serves
it: node_textfile_scrape_error is 0 and every sample of the file is served
with the file's value.  Last, with `--interval 1` the file is rewritten
while node_exporter is scraped: no scrape sees a partial file (the rename
is atomic), and SIGTERM ends the writer with 0 and no temporary file left.
node_exporter missing: every case is skipped, saying so.
"""
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
import promlib  # noqa: E402
from nslib import Fail  # noqa: E402

CASES = [
    "textfile_written_once",
    "textfile_state_counts",
    "textfile_mode_and_nothing_left",
    "node_exporter_no_scrape_error",
    "node_exporter_serves_the_file",
    "interval_rewrites_atomically",
    "interval_sigterm_clean",
]

NE_PORT = 19100
RANGE = (40000, 40999)
N, K, L = 6, 3, 4


def build(ns, h):
    for a in ("198.18.0.2/24", "198.18.0.9/24"):
        ns.add_addr(a)
    main = h.listen("127.0.0.1", 7000, backlog=64)
    for i in range(N + K):
        c = h.connect("127.0.0.1", 7000, bind=["127.0.0.1", 20000 + i])
        main.accept()
        if i >= N:
            c.shutdown(how="wr")  # its server side: CLOSE-WAIT, held
    h.listen("198.18.0.9", 8080, backlog=64).clients(L, bind=["198.18.0.2", 0])
    for _ in range(200):
        if promlib.ss_states(promlib.ss_snapshot(ns))["close_wait"] == K:
            return
        time.sleep(0.05)
    raise RuntimeError("the %d CLOSE-WAIT sockets never showed" % K)


class Tests:
    def __init__(self, ns, tmp):
        self.ns, self.tmp = ns, tmp
        self.dir = os.path.join(tmp, "textfile")
        os.mkdir(self.dir)
        self.path = os.path.join(self.dir, "tcpstate.prom")
        self.samples = None
        self.snap = None
        self.node = None
        self.http = promlib.Http(ns)

    def textfile_written_once(self):
        nslib.need_tcpstate()
        for _ in range(10):
            before = promlib.ss_snapshot(self.ns)
            r = nslib.run_result(["ip", "netns", "exec", self.ns.name, nslib.TCPSTATE,
                                  "export", "--textfile", self.path], timeout=30)
            after = promlib.ss_snapshot(self.ns)
            if r.rc != 0:
                raise Fail(r.describe())
            if before == after:
                break
        else:
            raise Fail("the namespace's sockets never kept still around the write")
        self.snap = after
        try:
            with open(self.path) as f:
                self.samples = promlib.parse_text(f.read())
        except (OSError, ValueError) as e:
            raise Fail("%s: %s" % (self.path, e))

    def textfile_state_counts(self):
        if self.samples is None:
            raise Fail("no file to read")
        got = promlib.by_label(promlib.family(self.samples, "tcpstate_sockets"), "state")
        want = {s: float(c) for s, c in promlib.ss_states(self.snap).items()}
        if got != want or want["close_wait"] != K:
            raise Fail("the file's tcpstate_sockets %r; ss -tanH %r" % (got, want))
        eph = promlib.family(self.samples, "tcpstate_ephemeral_ports_in_use")
        got = {(dict(k)["source"], dict(k)["destination"]): v for k, v in eph.items()}
        if got != {("198.18.0.2", "198.18.0.9:8080"): float(L)}:
            raise Fail("the file's tcpstate_ephemeral_ports_in_use %r" % got)

    def textfile_mode_and_nothing_left(self):
        st = os.stat(self.path)
        left = sorted(os.listdir(self.dir))
        if stat.S_IMODE(st.st_mode) != 0o644 or left != ["tcpstate.prom"]:
            raise Fail("mode %o, directory holds %r" % (stat.S_IMODE(st.st_mode), left))

    def start_node_exporter(self):
        self.node = promlib.Logged(self.ns, [
            promlib.NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
            "--collector.textfile.directory=" + self.dir,
            "--web.listen-address=127.0.0.1:%d" % NE_PORT], os.path.join(self.tmp, "ne.log"))
        promlib.wait_http(self.http, NE_PORT, "/metrics", "node_exporter", self.node, fresh=True)

    def scrape_node(self):
        """node_exporter's samples now (a connection of its own each time)."""
        body = self.http.get_ok(NE_PORT, "/metrics", "node_exporter", fresh=True)
        try:
            return promlib.parse_text(body)
        except ValueError as e:
            raise Fail("node_exporter's answer: %s" % e)

    def node_exporter_no_scrape_error(self):
        self.start_node_exporter()
        s = self.scrape_node()
        err = promlib.family(s, "node_textfile_scrape_error")
        mtime = promlib.by_label(promlib.family(s, "node_textfile_mtime_seconds"), "file")
        if list(err.values()) != [0.0]:
            raise Fail("node_textfile_scrape_error %r; %s" % (err, self.node.describe()))
        if self.path not in mtime:  # it did read our file
            raise Fail("node_textfile_mtime_seconds names %r, not %s" % (list(mtime), self.path))

    def node_exporter_serves_the_file(self):
        if self.samples is None or self.node is None:
            raise Fail("no file or no node_exporter")
        s = self.scrape_node()
        bad = {k: (v, s.get(k)) for k, v in self.samples.items() if s.get(k) != v}
        if bad or not promlib.family(s, "tcpstate_sockets"):
            raise Fail("%d of the file's %d samples differ (file, served): %r" % (
                len(bad), len(self.samples), sorted(bad.items())[:5]))

    def interval_rewrites_atomically(self):
        self.writer = promlib.Logged(self.ns, [
            nslib.TCPSTATE, "export", "--textfile", self.path, "--interval", "1"],
            os.path.join(self.tmp, "writer.log"))
        mtimes, bad = set(), []
        for _ in range(25):
            s = self.scrape_node()
            err = list(promlib.family(s, "node_textfile_scrape_error").values())
            states = promlib.family(s, "tcpstate_sockets")
            mtimes.update(promlib.family(s, "node_textfile_mtime_seconds").values())
            if err != [0.0] or len(states) != 11:
                bad.append((err, len(states)))
            time.sleep(0.2)
        if bad:
            raise Fail("scrapes with (scrape_error, state series) %r" % bad[:5])
        if len(mtimes) < 2:
            raise Fail("in 25 scrapes over 5 s the file was never rewritten: mtimes %r; %s" % (
                mtimes, self.writer.describe()))

    def interval_sigterm_clean(self):
        rc = self.writer.stop()
        left = sorted(os.listdir(self.dir))
        if rc != 0 or left != ["tcpstate.prom"]:
            raise Fail("exit status %s (None: killed), directory holds %r; %s" % (
                rc, left, self.writer.describe()))


def main():
    rep = nslib.begin("export_textfile", CASES, watchdog=120,
                      tools=("ip", "ss", promlib.NODE_EXPORTER))

    def body(ns, tmp):
        build(ns, ns.holder())
        t = Tests(ns, tmp)
        for name in CASES:
            rep.case(name, getattr(t, name))
            if name == "textfile_written_once" and t.samples is None:
                rep.fail_rest(CASES, "no textfile to go on with")
                return
    nslib.in_netns(rep, CASES, body)


if __name__ == "__main__":
    main()
