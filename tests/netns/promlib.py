"""Helpers of the exporter's end-to-end tests (issue 19): a real Prometheus,
a real node_exporter and `tcpstate export`, all inside one namespace of
the test's own (nslib.Netns), talked to over loopback.

Pieces:
  * parse_text()  -- the Prometheus text format (and OpenMetrics) into
                     samples: {(name, frozenset(labels)): value}.
  * Http          -- a child in the namespace that makes HTTP requests for
                     the test and keeps one connection per server alive
                     (so that the test's own traffic is a fixed pair of
                     sockets, not a TIME-WAIT per query).
  * Prometheus    -- a real Prometheus (its own config, storage and
                     listener in the test's scratch directory), and PromQL
                     over its HTTP API.
  * start_logged() -- a long-running program in the namespace, its output
                     in a file of the scratch directory (quoted on failure).
  * ss_states(), ephemeral_pairs() -- the oracles, from `ss -tanH`.
Every process started here belongs to the namespace (Netns.popen): it is
killed when the namespace goes, and the scratch directory goes with it.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402
from test_census import canon  # noqa: E402

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"
NODE_EXPORTER = "prometheus-node-exporter"

# ss's state names -> the spelling of tcpstate_sockets{state} (node_exporter's).
SS_TO_PROM = {
    "ESTAB": "established", "SYN-SENT": "syn_sent", "SYN-RECV": "syn_recv",
    "FIN-WAIT-1": "fin_wait1", "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait",
    "UNCONN": "close", "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack",
    "LISTEN": "listen", "CLOSING": "closing",
}
PROM_STATES = sorted(SS_TO_PROM.values())


# --------------------------------------------------------------------------
# The exposition format

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text):
    """`a="x",b="y"` (the inside of the braces) into a dict, unescaped."""
    out, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError("bad labels at %r" % text[pos:])
        out[m.group(1)] = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group(0)], m.group(2))
        pos = m.end()
    return out


def parse_text(text):
    """Samples of an exposition (text format or OpenMetrics): a dict
    {(name, frozenset(label items)): float}.  A malformed line or a sample
    given twice raises ValueError: the scrape would not be clean."""
    samples = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("bad sample line %r" % line)
        key = (m.group(1), frozenset(_labels((m.group(2) or "{}")[1:-1]).items()))
        if key in samples:
            raise ValueError("sample given twice: %r" % line)
        samples[key] = float(m.group(3))
    return samples


def family(samples, name):
    """The samples of metric `name`: {frozenset(labels): value}."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def by_label(series, label):
    """{labels: value} (family() or a PromQL vector) keyed by one label's value."""
    return {dict(labels).get(label): v for labels, v in series.items()}


# --------------------------------------------------------------------------
# HTTP from inside the namespace

HTTP_SRC = r'''
import http.client, json, sys, time
conns = {}
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()
def once(c, conn):
    conn.request(c.get("method", "GET"), c["path"], headers=c.get("headers", {}))
    r = conn.getresponse()
    return r, r.read()
for line in sys.stdin:
    c = json.loads(line)
    key = (c["host"], c["port"])
    t0 = time.monotonic()
    try:
        conn = None if c.get("fresh") else conns.pop(key, None)
        if conn is None:
            conn = http.client.HTTPConnection(c["host"], c["port"], timeout=c.get("timeout", 10))
            r, body = once(c, conn)
        else:
            try:
                r, body = once(c, conn)
            except (http.client.HTTPException, OSError):
                # The server closed the kept connection: once more, on a new one.
                conn.close()
                conn = http.client.HTTPConnection(c["host"], c["port"],
                                                  timeout=c.get("timeout", 10))
                r, body = once(c, conn)
        if c.get("fresh") or r.will_close:
            conn.close()
        else:
            conns[key] = conn
        reply(ok=True, status=r.status, headers={k.lower(): v for k, v in r.getheaders()},
              body=body.decode("utf-8", "replace"), seconds=time.monotonic() - t0)
    except Exception as e:
        reply(ok=False, error="%s: %s" % (type(e).__name__, e))
'''


class Http:
    """HTTP requests made from inside the namespace, on connections kept
    alive per server (fresh=True: a connection of its own, closed after)."""

    def __init__(self, ns):
        self.proc = ns.popen([sys.executable, "-u", "-c", HTTP_SRC],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def get(self, port, path, host="127.0.0.1", timeout=10, **kw):
        """{status, headers, body, seconds} or {ok: False, error}."""
        kw.update(host=host, port=port, path=path, timeout=timeout)
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the HTTP child in the namespace died")
        return json.loads(line)

    def get_ok(self, port, path, what, **kw):
        """The body of a 200 answer, or Fail naming `what`."""
        r = self.get(port, path, **kw)
        if not r.get("ok") or r["status"] != 200:
            raise Fail("%s: GET %s on port %d: %s" % (
                what, path, port, r.get("error") or "status %s: %r" % (r["status"],
                                                                     r["body"][:300])))
        return r["body"]


# --------------------------------------------------------------------------
# Long-running programs in the namespace


class Logged:
    """A program started in the namespace, its stdout and stderr in a file."""

    def __init__(self, ns, argv, log):
        self.argv, self.log = argv, log
        with open(log, "wb") as f:
            self.proc = ns.popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT)

    def tail(self, n=1200):
        try:
            with open(self.log, errors="replace") as f:
                return " ".join(f.read()[-n:].split())
        except OSError as e:
            return "(no log: %s)" % e

    def describe(self):
        rc = self.proc.poll()
        state = "running" if rc is None else "exited %d" % rc
        return "`%s` %s; its output: %s" % (nslib.fmt_cmd(self.argv), state, self.tail())

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal it and wait; killed if it does not end in time.  Its exit
        status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


def wait_http(http, port, path, what, proc, tries=150, fresh=False):
    """Poll GET path until it answers 200 (up to tries x 0.2 s while proc
    runs); Fail with proc's output otherwise.  fresh: on connections of
    their own, not kept."""
    r = None
    for _ in range(tries):
        if proc.proc.poll() is not None:
            break
        r = http.get(port, path, timeout=5, fresh=fresh)
        if r.get("ok") and r["status"] == 200:
            return r["body"]
        time.sleep(0.2)
    raise Fail("%s never answered GET %s on port %d (last: %s); %s" % (
        what, path, port, r and (r.get("error") or r.get("status")), proc.describe()))


def start_export(ns, tmp, port, *extra):
    """`tcpstate export --listen 127.0.0.1:port` in the namespace."""
    nslib.need_tcpstate()
    return Logged(ns, [nslib.TCPSTATE, "export", "--listen", "127.0.0.1:%d" % port] +
                  list(extra), os.path.join(tmp, "export.log"))


# --------------------------------------------------------------------------
# Prometheus

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: ['%s']
"""


class Prometheus:
    """A real Prometheus in the namespace scraping one target every second,
    its storage in tmp; PromQL over its HTTP API through `http`."""

    def __init__(self, ns, tmp, http, port, job, target):
        self.http, self.port, self.job = http, port, job
        conf = os.path.join(tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(CONFIG % (job, target))
        r = nslib.run([PROMTOOL, "check", "config", conf])
        if r.returncode != 0:
            raise RuntimeError("promtool check config: %s" % (r.stdout + r.stderr).strip())
        self.logged = Logged(ns, [PROMETHEUS, "--config.file=" + conf,
                                  "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                                  "--web.listen-address=127.0.0.1:%d" % port],
                             os.path.join(tmp, "prometheus.log"))
        wait_http(http, port, "/-/ready", "Prometheus", self.logged)

    def api(self, path, **params):
        body = self.http.get_ok(self.port, "/api/v1/%s?%s" % (path, urllib.parse.urlencode(params)),
                                "Prometheus API")
        r = json.loads(body)
        if r.get("status") != "success":
            raise Fail("Prometheus %s %r: %r" % (path, params, r))
        return r["data"]

    def query(self, expr, at=None):
        """An instant query: {frozenset(labels): value} for a vector, a
        float for a scalar.  at: the evaluation time (unix seconds)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        d = self.api("query", **params)
        if d["resultType"] == "scalar":
            return float(d["result"][1])
        if d["resultType"] != "vector":
            raise Fail("query %r gave a %s" % (expr, d["resultType"]))
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in d["result"]}

    def query_one(self, expr, at=None):
        """The value of a query that must give exactly one sample."""
        v = self.query(expr, at)
        if isinstance(v, float):
            return v
        if len(v) != 1:
            raise Fail("query %r at %s: %d samples, wanted one: %r" % (expr, at, len(v), v))
        return next(iter(v.values()))

    def raw(self, selector, window, at):
        """Raw samples of `selector[window]` at time at: {labels: [(t, v)]}."""
        d = self.api("query", query="%s[%s]" % (selector, window), time="%.3f" % at)
        return {frozenset(s["metric"].items()): [(float(t), float(v)) for t, v in s["values"]]
                for s in d["result"]}

    def last_scrape(self):
        """Timestamp of the target's latest scrape (0: none yet)."""
        v = self.query('timestamp(up{job="%s"})' % self.job)
        return max(v.values()) if v else 0.0

    def wait_scrape_after(self, t, tries=150):
        """Wait for a scrape that started after t (a Prometheus sample
        timestamp, unix seconds); its timestamp."""
        for _ in range(tries):
            ts = self.last_scrape()
            if ts > t:
                return ts
            time.sleep(0.2)
        raise Fail("Prometheus scraped nothing after %.3f in %d polls; targets: %r; %s" % (
            t, tries, self.api("targets"), self.logged.describe()))

    def target_health(self):
        """(health, lastError) of the job's one active target."""
        ts = [t for t in self.api("targets")["activeTargets"]
              if t["labels"].get("job") == self.job]
        if len(ts) != 1:
            raise Fail("Prometheus has %d targets for job %s: %r" % (len(ts), self.job, ts))
        return ts[0]["health"], ts[0]["lastError"]


# --------------------------------------------------------------------------
# The oracles


def ss_rows(ns):
    return nslib.parse_ss(ns.exec(["ss", "-tanH"], check=True).stdout)


def ss_snapshot(ns):
    """The namespace's TCP sockets as a sorted list of (state, local, peer)."""
    return sorted((r.state, r.local, r.peer) for r in ss_rows(ns))


def ss_states(snapshot):
    """Sockets per tcpstate_sockets state (all 11, zeros too) of a snapshot."""
    counts = dict.fromkeys(PROM_STATES, 0)
    rfc_to_prom = {nslib.SS_STATE[k]: v for k, v in SS_TO_PROM.items()}
    for state, _, _ in snapshot:
        counts[rfc_to_prom[state]] += 1
    return counts


def dest_text(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


def ephemeral_pairs(snapshot, lo, hi):
    """From a snapshot: sockets on ports lo..hi that no listener holds, per
    (source, "destination:port") -- tcpstate_ephemeral_ports_in_use."""
    held = {(str(canon(l[0])), l[1]) for s, l, _ in snapshot if s == "LISTEN"}
    wild = {l[1] for s, l, _ in snapshot
            if s == "LISTEN" and canon(l[0]).is_unspecified}
    pairs = {}
    for state, local, peer in snapshot:
        src, lport = str(canon(local[0])), local[1]
        if state == "LISTEN" or not lo <= lport <= hi:
            continue
        if (src, lport) in held or lport in wild:
            continue
        k = (src, dest_text(str(canon(peer[0])), peer[1]))
        pairs[k] = pairs.get(k, 0) + 1
    return pairs
