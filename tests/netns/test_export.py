#!/usr/bin/env python3
"""`tcpstate export` (issue 19): its HTTP answers, that a scrape is the
kernel's table of the moment, the textfile, usage errors, signals, hostile
clients, memory, -Z and -A.

Root only.  Three namespaces of the test's own: `web`, where export runs
and listens on loopback (the test process enters it with setns to be its
client), and `a` and `b`, whose sockets it reads (-N a; -A --ns for both),
so that the scrapes' own connections never show in what is counted.

Cases:
  * GET /metrics: 200, text format's Content-Type, every state's series;
    HEAD: 200, the same headers, no body; / links /metrics; /nope 404;
    POST and DELETE 405 with Allow: GET, HEAD;
  * Accept: application/openmetrics-text gives OpenMetrics, ending # EOF;
  * sockets made between two scrapes show in the second: the 11 state
    series equal `ss -tanH` counted in `a`;
  * --textfile writes a complete file, mode 0644, and nothing else in its
    directory; into a missing directory: a message naming it, exit 1, and
    nothing created;
  * usage errors exit 2 naming the option; a port in use exits 1 naming
    the address; SIGTERM and SIGINT end export with 0;
  * hostile clients: 300 idle connections held open and one client that
    sends a byte a second; a scrape still completes within a 2 s client
    timeout, and another after they went;
  * memory: 20 rounds of 300 connections opened and closed: export's RSS
    after the last round stays under twice its RSS after the first (the
    connections' memory is freed and reused, not grown per round);
  * -Z nobody: export's uids are nobody's, and scrapes work; -i lo: the
    wire's counters count the scrapes' handshakes, and export keeps only
    CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE;
  * -A --ns: series carry netns="<name>" of both namespaces `a` and `b`.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import ctypes
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402

TCPSTATE = nslib.TCPSTATE
CASES = ["get_metrics", "head_metrics", "index_page", "not_found", "method_not_allowed",
         "openmetrics", "scrape_reflects_sockets", "textfile_written", "textfile_missing_dir",
         "usage_errors", "unknown_namespace", "port_in_use", "sigterm_exit_0", "sigint_exit_0",
         "hostile_idle_and_slow", "serves_after_hostile", "memory_bounded", "Z_drops_uid",
         "wire_counters_and_caps", "all_ns_labels"]
STATES = ["established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
          "close", "close_wait", "last_ack", "listen", "closing"]
SS_TO_PROM = {"ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
              "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait",
              "UNCONN": "close", "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack",
              "LISTEN": "listen", "CLOSING": "closing"}
PORT = 9814
CLONE_NEWNET = 0x40000000

rep = nslib.begin("export", CASES, watchdog=280, tools=("ip", "ss"))


def enter_netns(name):
    """This process (and the threads it starts) joins namespace `name`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + name)
    finally:
        os.close(fd)


class Exporter:
    """`tcpstate export ARGS` in namespace ns, listening on 127.0.0.1:port."""

    def __init__(self, ns, args, port=PORT):
        self.port = port
        # Under ASan, freed memory waits in a quarantine (256 MB by default)
        # before reuse: RSS would grow with every round of the memory case.
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = dict(os.environ, ASAN_OPTIONS=(asan + ":" if asan else "") +
                   "quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
        self.p = ns.popen([TCPSTATE, "export", "--listen", "127.0.0.1:%d" % port] + args,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=env)
        r, _, _ = select.select([self.p.stderr], [], [], 10)
        line = self.p.stderr.readline() if r else ""
        if "serving http://" not in line:
            self.p.kill()
            raise Fail("export did not start: %r (exit %s)" % (line, self.p.poll()))

    def stop(self, sig=signal.SIGTERM):
        """Signal it; its exit status and the rest of its stderr."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        return rc, self.p.stderr.read()

    def rss_kib(self):
        for line in open("/proc/%d/status" % self.p.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise Fail("no VmRSS for export")


def request(port, method="GET", path="/metrics", headers=None, timeout=10):
    """(status, headers as a dict with lower-case names, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body.decode()
    finally:
        c.close()


def series(body, name):
    """{labels string: value} of a family's samples."""
    out = {}
    for line in body.splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def state_counts(body):
    out = {}
    for labels, v in series(body, "tcpstate_sockets").items():
        m = re.search(r'state="([a-z_0-9]+)"', labels)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(v)
    return out


def ss_counts(ns):
    out = {s: 0 for s in STATES}
    for line in ns.exec(["ss", "-tanH"], check=True).stdout.splitlines():
        st = line.split()[0]
        out[SS_TO_PROM[st]] += 1
    return out


def http_cases(port):
    st, h, body = request(port)
    ok = (st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4") and
          all(s in state_counts(body) for s in STATES))
    rep.check(ok, "get_metrics", "status %d, %r, states %r" % (st, h, state_counts(body)))
    hst, hh, hbody = request(port, "HEAD")
    ok = (hst == 200 and hbody == "" and hh.get("content-type") == h.get("content-type") and
          set(hh) == set(h) and int(hh.get("content-length", 0)) > 0)
    rep.check(ok, "head_metrics", "status %d, headers %r vs GET's %r, body %r"
              % (hst, hh, h, hbody[:80]))
    st, h, body = request(port, path="/")
    rep.check(st == 200 and 'href="/metrics"' in body, "index_page", "%d %r" % (st, body[:200]))
    st, h, body = request(port, path="/nope")
    rep.check(st == 404, "not_found", "status %d" % st)
    got = [(m, *request(port, m)[:2]) for m in ("POST", "DELETE")]
    ok = all(st == 405 and h.get("allow") == "GET, HEAD" for _, st, h in got)
    rep.check(ok, "method_not_allowed", repr(got))
    st, h, body = request(port, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    ok = (st == 200 and h.get("content-type", "").startswith("application/openmetrics-text") and
          body.endswith("# EOF\n"))
    rep.check(ok, "openmetrics", "status %d, %r, ends %r" % (st, h.get("content-type"),
                                                             body[-40:]))


def reflects_cases(port, a):
    """Sockets made in `a` between two scrapes are in the second."""
    request(port)
    h = a.holder()
    l, c, s = h.pair("127.0.0.1", 7000)
    _, c2, s2 = l.clients(2)[0:3]
    c2.shutdown(how="wr")  # FIN-WAIT-2 here, CLOSE-WAIT on the accepted side
    h.listen("::1", 7001, family=6)
    time.sleep(0.2)
    for _ in range(5):  # a comparison is retried only if ss changed around the scrape
        before = ss_counts(a)
        _, _, body = request(port)
        after = ss_counts(a)
        if before == after:
            break
    got = state_counts(body)
    want = after
    ok = got == want and want["listen"] == 2 and want["close_wait"] == 1
    rep.check(ok, "scrape_reflects_sockets", "scrape %r, ss %r" % (got, want))


def textfile_cases(web, tmp):
    d = os.path.join(tmp, "tf")
    os.mkdir(d)
    path = os.path.join(d, "tcpstate.prom")
    r = web.exec([TCPSTATE, "export", "--textfile", path], timeout=30)
    try:
        body = open(path).read()
        mode = os.stat(path).st_mode & 0o777
    except OSError as e:
        body, mode = "", str(e)
    ok = (r.returncode == 0 and os.listdir(d) == ["tcpstate.prom"] and mode == 0o644 and
          body.endswith("\n") and all(s in state_counts(body) for s in STATES) and
          "tcpstate_scrape_duration_seconds" in body)
    rep.check(ok, "textfile_written", "exit %d %r, files %r, mode %r, body %r"
              % (r.returncode, r.stderr, os.listdir(d), mode, body[-200:]))
    missing = os.path.join(tmp, "nodir", "sub", "tcpstate.prom")
    r = web.exec([TCPSTATE, "export", "--textfile", missing], timeout=30)
    ok = (r.returncode == 1 and missing in r.stderr and "No such file" in r.stderr and
          not os.path.exists(os.path.join(tmp, "nodir")) and not r.stdout)
    rep.check(ok, "textfile_missing_dir", "exit %d, stderr %r, nodir exists %r"
              % (r.returncode, r.stderr, os.path.exists(os.path.join(tmp, "nodir"))))


USAGE = [
    (["--listen", "127.0.0.1"], "--listen"),
    (["--listen", "127.0.0.1:0"], "invalid port"),
    (["--listen", "127.0.0.1:70000"], "invalid port"),
    (["--listen", "localhost:9814"], "not a numeric IP address"),
    (["--listen", "::1:9814"], "brackets"),
    (["--listen", "[::1:9814"], "--listen"),
    (["--interval", "5"], "--interval applies to --textfile"),
    (["--textfile", "/tmp/x.prom", "--interval", "0"], "--interval: invalid"),
    (["--textfile", "/tmp/x.prom", "--interval", "abc"], "--interval: invalid"),
    (["--textfile", "/tmp/x.prom", "--listen", ":9814"], "cannot be used together"),
    (["--top-k", "0"], "--top-k"),
    (["-N", "a/b"], "invalid namespace name"),
    (["--ns", "x"], "--ns"),
    (["-f", "tcp"], "-i IFACE"),
    (["extra"], ""),
]


def usage_cases(web, port):
    bad = []
    for args, words in USAGE:
        r = web.exec([TCPSTATE, "export"] + args, timeout=15)
        if r.returncode != 2 or words not in r.stderr or r.stdout:
            bad.append("%s: exit %d, %r" % (args, r.returncode, r.stderr.strip()))
    rep.check(not bad, "usage_errors", "; ".join(bad))
    # As ss -N and every -N here: a name that is not there is a runtime error (1),
    # said before the port, which another export holds.
    r = web.exec([TCPSTATE, "export", "-N", "tcpst-no-such-ns-x"], timeout=15)
    rep.check(r.returncode == 1 and r.stderr.strip() == 'tcpstate export: -N: network '
              'namespace "tcpst-no-such-ns-x" not found in /run/netns', "unknown_namespace",
              "exit %d, %r" % (r.returncode, r.stderr))
    # The exporter of the other cases holds the port.
    r = web.exec([TCPSTATE, "export", "--listen", "127.0.0.1:%d" % port], timeout=15)
    rep.check(r.returncode == 1 and r.stderr.strip() == "tcpstate export: --listen "
              "127.0.0.1:%d: Address already in use" % port, "port_in_use",
              "exit %d, %r" % (r.returncode, r.stderr))


def slow_client(port, stop):
    """Sends a request a byte a second, never finishing it."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            if stop.is_set():
                break
            s.send(bytes([b]))
            stop.wait(1)
    except OSError:
        pass
    finally:
        s.close()


def open_idle(port, n):
    out = []
    for _ in range(n):
        out.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    return out


def hostile_cases(x):
    stop = threading.Event()
    t = threading.Thread(target=slow_client, args=(x.port, stop), daemon=True)
    t.start()
    idle = open_idle(x.port, 300)
    try:
        time.sleep(3)  # the slow client is some bytes in
        try:
            st, _, body = request(x.port, timeout=2)
            rep.check(st == 200 and "tcpstate_sockets" in body, "hostile_idle_and_slow",
                      "status %d" % st)
        except (OSError, http.client.HTTPException) as e:
            rep.check(False, "hostile_idle_and_slow", "scrape with 2 s timeout: %r" % e)
    finally:
        stop.set()
        for s in idle:
            s.close()
        t.join(5)
    st, _, body = request(x.port, timeout=5)
    rep.check(st == 200 and "tcpstate_sockets" in body, "serves_after_hostile", "status %d" % st)


def memory_case(x):
    rss = []
    for _ in range(20):
        idle = open_idle(x.port, 300)
        st, _, _ = request(x.port, timeout=10)  # they are accepted, and it still serves
        for s in idle:
            s.close()
        time.sleep(0.2)
        if st != 200:
            raise Fail("a scrape during the rounds: status %d" % st)
        rss.append(x.rss_kib())
    print("# export's RSS (KiB) after each round: %r" % rss, flush=True)
    rep.check(rss[-1] < 2 * rss[0], "memory_bounded", "RSS KiB per round: %r" % rss)


def signal_cases(web):
    for sig, name in ((signal.SIGTERM, "sigterm_exit_0"), (signal.SIGINT, "sigint_exit_0")):
        x = Exporter(web, [], port=PORT + 1)
        request(x.port)
        rc, err = x.stop(sig)
        rep.check(rc == 0 and not err, name, "exit %d, stderr %r" % (rc, err))


def status_of(pid):
    st = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        st[k] = v.split()
    return st


def z_case(web, a):
    x = Exporter(web, ["-Z", "nobody", "-N", a.name], port=PORT + 2)
    try:
        uids = status_of(x.p.pid)["Uid"]
        st, _, body = request(x.port)
        st2, _, _ = request(x.port)
        ok = uids == ["65534"] * 4 and st == 200 and st2 == 200 and "tcpstate_sockets" in body
        rep.check(ok, "Z_drops_uid", "uids %r, scrapes %d %d" % (uids, st, st2))
    finally:
        x.stop()


def wire_case(web):
    """-i lo: the wire's counters count the scrapes' own handshakes; export runs
    as nobody with DAC_READ_SEARCH and SYS_PTRACE alone."""
    x = Exporter(web, ["-i", "lo"], port=PORT + 4)
    try:
        request(x.port)
        _, _, body = request(x.port)
        hs = series(body, "tcpstate_wire_handshakes_total").get("", 0)
        pk = series(body, "tcpstate_wire_packets_total").get("", 0)
        st = status_of(x.p.pid)
        want = (1 << 2) | (1 << 19)
        ok = (hs >= 1 and pk >= 3 and st["Uid"] == ["65534"] * 4 and
              int(st["CapEff"][0], 16) == want)
        rep.check(ok, "wire_counters_and_caps", "handshakes %r packets %r, uids %r CapEff %r"
                  % (hs, pk, st["Uid"], st["CapEff"]))
    finally:
        x.stop()


def all_ns_case(web, a, b):
    pat = "tcpst-%d-*" % os.getpid()
    x = Exporter(web, ["-A", "--ns", pat], port=PORT + 3)
    try:
        _, _, body = request(x.port)
        names = set(re.findall(r'tcpstate_sockets\{[^}]*netns="([^"]*)"', body))
        ok = a.name in names and b.name in names
        rep.check(ok, "all_ns_labels", "netns labels %r, want %s and %s; %r"
                  % (sorted(names), a.name, b.name, body[:300]))
    finally:
        x.stop()


def body(web, tmp):
    a, b = nslib.Netns(), nslib.Netns()
    try:
        enter_netns(web.name)
        x = Exporter(web, ["-N", a.name])
        try:
            http_cases(x.port)
            reflects_cases(x.port, a)
            usage_cases(web, x.port)
            hostile_cases(x)
            memory_case(x)
        finally:
            x.stop()
        textfile_cases(web, tmp)
        signal_cases(web)
        z_case(web, a)
        wire_case(web)
        all_ns_case(web, a, b)
    finally:
        a.destroy()
        b.destroy()


nslib.in_netns(rep, CASES, body)
