"""bench/exportlib.py - what bench/export and bench/soak-export share: a
network namespace of the bench's own (loopback only, removed on exit, error
and Ctrl-C, with every process started in it), programs run in it, HTTP
scrapes timed from inside it, and a process's RSS.

Scrapes are made by one child Python in the namespace (so `ip netns exec`
costs nothing per scrape), from 127.0.0.9 and ports 3000-8999 of its own
(mksockets binds its clients to every port from 10000 up, which leaves no
ephemeral port free at 500k sockets).  It reads requests as JSON lines on
stdin and answers with the wall time of the whole GET (connect to last
byte of the body), its status, the body's length and its sample lines.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCRAPER_SRC = r'''
import http.client, json, sys, time
n = 0
for line in sys.stdin:
    c = json.loads(line)
    n += 1
    # From 127.0.0.9 and a port of its own below mksockets' (10000 up):
    # at 500k sockets mksockets has bound every port of the ephemeral range.
    src = ("127.0.0.9", 3000 + n % 6000)
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", c["port"], timeout=c.get("timeout", 300),
                                          source_address=src)
        conn.request("GET", c.get("path", "/metrics"))
        r = conn.getresponse()
        body = r.read()
        secs = time.perf_counter() - t0
        conn.close()
        text = body.decode("utf-8", "replace")
        samples = [l for l in text.splitlines() if l and not l.startswith("#")]
        out = dict(ok=True, status=r.status, seconds=secs, bytes=len(body),
                   series=len(samples))
        if c.get("body"):
            out["body"] = text
    except Exception as e:
        out = dict(ok=False, error="%s: %s" % (type(e).__name__, e),
                   seconds=time.perf_counter() - t0)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
'''


def die(msg):
    print("%s: %s" % (os.path.basename(sys.argv[0]), msg), file=sys.stderr)
    sys.exit(1)


def on_signals_exit():
    """SIGTERM/SIGHUP/SIGINT become SystemExit: the finally clauses clean up."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, handler)


def need_root_and(*tools):
    if os.geteuid() != 0:
        print("%s: must run as root (network namespaces)" % os.path.basename(sys.argv[0]),
              file=sys.stderr)
        sys.exit(2)
    import shutil
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        print("%s: needs %s" % (os.path.basename(sys.argv[0]), ", ".join(missing)),
              file=sys.stderr)
        sys.exit(2)


def tcpstate_binary():
    """The release binary (a sanitizer build would make the figures
    meaningless), copied so that a rebuild during the run changes nothing."""
    path = os.environ.get("TCPSTATE") or os.path.join(ROOT, "tcpstate")
    with open(path, "rb") as f:
        data = f.read()
    if b"__asan_init" in data or b"__ubsan_handle" in data:
        rel = os.path.join(ROOT, "build", "rel", "tcpstate")
        if os.path.exists(rel):
            print("note: %s is a sanitizer build; using %s" % (path, rel), file=sys.stderr)
            path = rel
        else:
            print("WARNING: %s is a sanitizer build: its figures are meaningless" % path,
                  file=sys.stderr)
    return path


def build_helper(name, tmp):
    """bench/NAME.c compiled into tmp."""
    out = os.path.join(tmp, name)
    r = subprocess.run(["cc", "-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror",
                        "-o", out, os.path.join(HERE, name + ".c")],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("building bench/%s.c failed:\n%s" % (name, r.stderr))
    return out


def rss_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB, or (None, None) if it is gone."""
    got = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    got[k] = int(v.split()[0])
    except OSError:
        return None, None
    return got.get("VmRSS"), got.get("VmHWM")


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def machine_line(tcpstate):
    model = "unknown cpu"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run([tcpstate, "--version"], capture_output=True, text=True).stdout
    ne = subprocess.run(["prometheus-node-exporter", "--version"], capture_output=True,
                        text=True)
    ne = (ne.stdout + ne.stderr).splitlines()[:1]
    return "machine: nproc=%d, %s, kernel %s, %s, %s (%s), %s; load %s" % (
        os.cpu_count(), model, os.uname().release, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        (ver.splitlines() or ["tcpstate ?"])[0], tcpstate, (ne or ["node_exporter ?"])[0],
        " ".join(open("/proc/loadavg").read().split()[:3]))


class Namespace:
    """A namespace named PREFIX-PID with lo up; close() kills what runs in
    it and deletes it, and the scratch directory."""

    def __init__(self, prefix):
        self.name = "%s-%d" % (prefix, os.getpid())
        self.tmp = tempfile.mkdtemp(prefix=prefix + ".")
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv, **kw):
        kw.setdefault("check", True)
        return subprocess.run(["ip", "netns", "exec", self.name] + list(argv), **kw)

    def sysctl(self, *settings):
        self.run("sysctl", "-qw", *settings)

    def popen(self, argv, log=None, **kw):
        """argv in the namespace; its output in TMP/log when given."""
        if log is not None:
            kw["stdout"] = open(os.path.join(self.tmp, log), "wb")
            kw["stderr"] = subprocess.STDOUT
        p = subprocess.Popen(["ip", "netns", "exec", self.name] + list(argv), **kw)
        self.procs.append(p)
        return p

    def log_tail(self, log, n=600):
        try:
            with open(os.path.join(self.tmp, log), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, timeout=20):
        """Signal p, wait (killed after timeout); its exit status."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["rm", "-rf", self.tmp])


class Scraper:
    """GETs from inside the namespace, timed there."""

    def __init__(self, ns):
        self.ns = ns
        self.p = ns.popen([sys.executable, "-u", "-c", SCRAPER_SRC],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def get(self, port, path="/metrics", body=False, timeout=300):
        self.p.stdin.write(json.dumps(dict(port=port, path=path, body=body,
                                           timeout=timeout)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("the scraper in the namespace died")
        return json.loads(line)

    def wait_up(self, port, proc, what, log, tries=300):
        """Until GET /metrics answers 200; RuntimeError with what the
        program said (TMP/log) if it exits first or never answers."""
        r = None
        for _ in range(tries):
            if proc.poll() is not None:
                break
            r = self.get(port, timeout=30)
            if r["ok"] and r["status"] == 200:
                return r
            time.sleep(0.1)
        raise RuntimeError("%s never answered GET /metrics on port %d (%s; last: %s): %s" % (
            what, port, "running" if proc.poll() is None else "exited %d" % proc.returncode,
            r and (r.get("error") or r.get("status")), self.ns.log_tail(log)))


def start_export(ns, tcpstate, port, *extra):
    return ns.popen([tcpstate, "export", "--listen", "127.0.0.1:%d" % port] + list(extra),
                    log="export.log", stdin=subprocess.DEVNULL)


def start_node_exporter(ns, port, *collectors):
    argv = ["prometheus-node-exporter", "--collector.disable-defaults",
            "--web.listen-address=127.0.0.1:%d" % port]
    return ns.popen(argv + ["--collector." + c for c in collectors], log="ne.log",
                    stdin=subprocess.DEVNULL)
