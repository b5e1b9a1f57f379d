"""Shared helpers for the root-only end-to-end tests (tests/netns/test_*.py).

Everything here happens inside throw-away network namespaces named
tcpst-<pid>-<n>; only loopback and addresses assigned inside the namespace
(198.18.0.0/15, fd00::/8) are used.  Host sysctls are never touched.

Pieces:
  * Reporter       -- prints PASS/FAIL/SKIP lines, computes the exit code,
                      checks the host's values at exit (guard_host).
  * begin()        -- how a test starts: skip (visibly) where it cannot run,
                      signals as exits, a watchdog.
  * in_netns()     -- how a test with one namespace runs and cleans up.
  * Netns          -- creates/deletes a namespace, runs commands and
                      processes inside it, manages nft rules, parses `ss`.
  * Holder         -- a python child living inside the namespace that opens
                      and holds sockets, driven by JSON lines on stdin/stdout.
  * Tmux           -- a tmux server of the test's own, to drive a terminal.
  * build_world()  -- builds the standard scenario with every TCP state.
  * run_tcpstate() -- runs the binary under test; Result, run_result().
"""

import atexit
import collections
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TCPSTATE = os.environ.get("TCPSTATE") or os.path.join(REPO, "tcpstate")

SKIP_REASON = "needs root and ip/nft"
# What the namespace tests run: ip (netns, addresses), nft (drop rules), ss.
NETNS_TOOLS = ("ip", "nft", "ss")

# ss state spelling -> RFC 9293 spelling used by tcpstate.
SS_STATE = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN-SENT",
    "SYN-RECV": "SYN-RECEIVED",
    "FIN-WAIT-1": "FIN-WAIT-1",
    "FIN-WAIT-2": "FIN-WAIT-2",
    "TIME-WAIT": "TIME-WAIT",
    "UNCONN": "CLOSED",
    "CLOSE-WAIT": "CLOSE-WAIT",
    "LAST-ACK": "LAST-ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
}
RFC_STATES = {"LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
              "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
              "CLOSED"}
REQUIRED_STATES = ["LISTEN", "ESTABLISHED", "SYN-SENT", "SYN-RECEIVED",
                   "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "LAST-ACK",
                   "TIME-WAIT"]
JSON_KEYS = ("state", "family", "local_addr", "local_port", "peer_addr",
             "peer_port", "recv_q", "send_q")

# Unprivileged uid used for a few sockets so that `-e` uid is meaningful.
OTHER_UID = 65534


class Fail(Exception):
    pass


class Skip(Exception):
    pass


# --------------------------------------------------------------------------
# Reporting


class Reporter:
    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = 0
        self.done = set()
        self.watchdog = None  # begin() sets it: see case()
        self.guards = []      # guard_host(): checked by exit()

    def _name(self, name):
        return name if self.prefix is None else "%s.%s" % (self.prefix, name)

    def emit(self, kind, name, reason=None):
        self.done.add(name)
        if kind == "FAIL":
            self.failed += 1
        line = "%s: %s" % (kind, self._name(name))
        if reason is not None:
            reason = " ".join(str(reason).split())  # one line
            line += ": " + reason
        print(line, flush=True)

    def case(self, name, fn, *args):
        """fn(*args) is case `name`: it passes unless it raises Fail (or
        anything else); Skip skips it.  Once the watchdog has fired the
        cases left fail as not run: they would run unguarded."""
        if self.watchdog is not None and self.watchdog.expired:
            self.emit("FAIL", name, "not run: the file's %d s watchdog expired"
                      % self.watchdog.seconds)
            return
        try:
            fn(*args)
        except Fail as e:
            self.emit("FAIL", name, e)
        except Skip as e:
            self.emit("SKIP", name, e)
        except Exception as e:  # a broken test is a failing test
            self.emit("FAIL", name, "%s: %s" % (type(e).__name__, e))
        else:
            self.emit("PASS", name)

    def check(self, ok, name, why=""):
        """One case that is one test: PASS, or FAIL with why."""
        self.emit("PASS" if ok else "FAIL", name, None if ok else why)

    def skip_unless(self, ready, names, reason):
        """Skip every case, visibly, and exit, when the machine cannot run them."""
        if not ready:
            self.skip_all(names, reason)
            self.exit()

    def need_root(self, names, *tools):
        """Skip every case, visibly, and exit, unless this runs as root with
        every one of `tools` (see cannot_run())."""
        why = cannot_run(tools)
        self.skip_unless(not why, names, why)

    def guard_host(self, name, snapshot):
        """Case `name`, reported by exit(): snapshot() (a dict of the host's
        values, e.g. host_sysctls()) gives then what it gives now.  exit()
        comes after the file's namespaces are gone."""
        self.guards.append((name, snapshot, snapshot()))

    def fail_rest(self, names, reason):
        for n in names:
            if n not in self.done:
                self.emit("FAIL", n, reason)

    def skip_all(self, names, reason=SKIP_REASON):
        for n in names:
            self.emit("SKIP", n, reason)

    def exit(self):
        """The guarded host values checked, exit: 1 if any case failed."""
        stop_watchdog()  # nothing is left for it to guard
        guards, self.guards = self.guards, []
        for name, snapshot, before in guards:
            diff = snap_diff(before, snapshot())
            self.check(not diff, name, "host values changed: %s" % "; ".join(diff))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def cannot_run(tools=NETNS_TOOLS):
    """Why a root-only test that runs `tools` cannot run on this machine
    (not root, a tool missing, `ip netns` not working), or "" when it can."""
    needs = "needs root" + (" and " + ", ".join(tools) if tools else "")
    if os.geteuid() != 0:
        return needs + " (not root)"
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return needs + " (missing: %s)" % ", ".join(missing)
    if "ip" in tools:
        try:
            ok = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                timeout=10).returncode == 0
        except Exception:
            ok = False
        if not ok:
            return needs + " (`ip netns list` fails)"
    return ""


def prereqs_ok():
    return not cannot_run()


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP/SIGINT into SystemExit so finally/atexit run."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, handler)


class Watchdog:
    """SIGALRM after `seconds`: a TimeoutError in whatever runs then.  It
    remembers that it fired, so that Reporter.case fails the cases left
    rather than run them with no watchdog."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.expired = False
        signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(seconds)

    def _fire(self, signum, frame):
        self.expired = True
        raise TimeoutError("test watchdog expired after %ds" % self.seconds)


def begin(prefix, cases, watchdog=55, ready=None, why=SKIP_REASON, tools=NETNS_TOOLS):
    """How every test here starts: its Reporter; when the machine cannot run
    it, every case skipped, visibly, and exit (need_root(cases, *tools), or
    ready() false: skipped with `why`); otherwise signals turned into exits
    (so cleanup runs) and a watchdog of `watchdog` seconds (None: none)."""
    rep = Reporter(prefix)
    if ready is not None:
        rep.skip_unless(ready(), cases, why)
    else:
        rep.need_root(cases, *tools)
    install_signal_handlers()
    if watchdog is not None:
        rep.watchdog = Watchdog(watchdog)
    return rep


def stop_watchdog():
    signal.alarm(0)


def in_netns(rep, names, body):
    """How a test with one namespace runs and ends: body(ns, tmp) reports
    its cases (tmp: a scratch directory); an exception fails the cases not
    reported; the namespace and the directory go; exit (rep.exit(), which
    checks what rep.guard_host() guards, now that the namespace is gone)."""
    ns = None
    tmp = tempfile.mkdtemp(prefix="tcpstate-%s." % (rep.prefix or "test"))
    try:
        ns = Netns()
        body(ns, tmp)
    except Exception as e:
        rep.fail_rest(names, "%s: %s" % (type(e).__name__, e))
    finally:
        stop_watchdog()
        if ns is not None:
            ns.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    rep.exit()


# --------------------------------------------------------------------------
# The host's values, which no test may change


# The knobs `tcpstate tune` knows, and the files it writes by default.
HOST_TUNE_KNOBS = ["net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range",
                   "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_max_tw_buckets",
                   "net.ipv4.tcp_timestamps", "net.ipv4.ip_local_reserved_ports"]
HOST_TUNE_EXTRA = ["net.ipv4.tcp_tw_reuse_delay", "net.ipv4.tcp_max_orphans",
                   "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
                   "net.ipv4.tcp_keepalive_time"]
HOST_TUNE_FILES = ["/var/lib/tcpstate", "/etc/sysctl.d/90-tcpstate.conf"]


def host_sysctls(names):
    """The host's values of sysctls `names` (read from /proc/sys, words
    joined by single spaces; None where there is none), by name."""
    snap = {}
    for name in names:
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                snap[name] = " ".join(f.read().split())
        except OSError:
            snap[name] = None
    return snap


def host_tune_snapshot():
    """What `tcpstate tune` could change on the host: its knobs (`sysctl -n`
    of the list all at once, then one by one so that a difference is named)
    and the state of the files it writes by default."""
    r = subprocess.run(["sysctl", "-n"] + HOST_TUNE_KNOBS, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=10)
    snap = {"<sysctl -n batch>": (r.returncode, r.stdout)}
    snap.update(host_sysctls(HOST_TUNE_KNOBS + HOST_TUNE_EXTRA))
    for f in HOST_TUNE_FILES:
        try:
            st = os.lstat(f)
            snap[f] = (st.st_mode, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            snap[f] = None
    return snap


def snap_diff(a, b):
    """The differences between two snapshots (dicts), one line each."""
    return ["%s: %r -> %r" % (k, a.get(k), b.get(k))
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


# --------------------------------------------------------------------------
# Running things


def run(argv, timeout=20, check=False, input=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       input=input)
    if check and r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv), r.returncode,
                                                 r.stderr.strip()))
    return r


def fmt_cmd(argv):
    out = []
    for a in argv:
        if a == "" or re.search(r"[^\w@%+=:,./-]", a):
            out.append("'" + a.replace("'", "'\\''") + "'")
        else:
            out.append(a)
    return " ".join(out)


class Result:
    """What a command did (argv, rc, stdout, stderr) and how a failure
    message quotes it: describe() gives its status and stderr, str() the
    tail of its output too.  desc names the command (default: argv)."""

    def __init__(self, argv, proc, desc=None):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.desc = desc or "`%s`" % fmt_cmd(argv)

    def describe(self):
        return "%s rc=%d stderr=%r" % (self.desc, self.rc, self.stderr.strip()[:300])

    def __str__(self):
        return "%s rc=%s stdout=%r stderr=%r" % (self.desc, self.rc, self.stdout[-500:],
                                                self.stderr.strip()[-400:])


def run_result(argv, timeout=20, input=None, desc=None):
    """Run argv (stdin: `input`, or nothing) to its end; its Result.  A
    command that does not end within `timeout` seconds fails the case."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Fail("%s timed out after %ds" % (desc or "`%s`" % fmt_cmd(argv), timeout))
    return Result(argv, p, desc)


def need_tcpstate():
    """Fail the case when the binary under test is not there to run."""
    if not (os.path.isfile(TCPSTATE) and os.access(TCPSTATE, os.X_OK)):
        raise Fail("tcpstate binary not found or not executable: %s" % TCPSTATE)


# --------------------------------------------------------------------------
# Socket holder child

HOLDER_SRC = r'''
import errno, json, os, socket, struct, sys
socks = {}
nid = [0]
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()
def endpoint(addr):
    return [addr[0], addr[1]] if addr else None
def info(i):
    s = socks[i]
    try:
        peer = endpoint(s.getpeername())
    except OSError:
        peer = None
    try:
        local = endpoint(s.getsockname())
    except OSError:
        local = None
    return dict(ok=True, id=i, fd=s.fileno(), local=local, peer=peer)
def add(s):
    nid[0] += 1
    socks[nid[0]] = s
    return nid[0]
def newsock(c):
    fam = socket.AF_INET6 if c.get("family") == 6 else socket.AF_INET
    uid = c.get("uid")
    if uid is not None:
        os.seteuid(uid)
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
    finally:
        if uid is not None:
            os.seteuid(0)
    if fam == socket.AF_INET6 and c.get("v6only") is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(c["v6only"]))
    return s
HOW = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}
for line in sys.stdin:
    try:
        c = json.loads(line)
        op = c["op"]
        if op == "pid":
            reply(ok=True, pid=os.getpid())
        elif op == "listen":
            s = newsock(c)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((c["addr"], c["port"]))
            s.listen(c.get("backlog", 16))
            reply(**info(add(s)))
        elif op == "connect":
            s = newsock(c)
            if c.get("reuseaddr"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if c.get("bind"):
                s.bind(tuple(c["bind"]))
            if c.get("nonblock"):
                s.setblocking(False)
                err = s.connect_ex((c["addr"], c["port"]))
                # refused_ok: a refusal is what the caller is testing for.
                if err not in (0, errno.EINPROGRESS) and not (
                        c.get("refused_ok") and err == errno.ECONNREFUSED):
                    raise OSError(err, os.strerror(err))
            else:
                s.settimeout(c.get("timeout", 5))
                s.connect((c["addr"], c["port"]))
                s.settimeout(None)
            reply(**info(add(s)))
        elif op == "accept":
            l = socks[c["id"]]
            l.settimeout(c.get("timeout", 5))
            s, _ = l.accept()
            s.settimeout(None)
            reply(**info(add(s)))
        elif op == "send":
            socks[c["id"]].sendall(c["data"].encode())
            reply(ok=True)
        elif op == "recv":
            s = socks[c["id"]]
            s.settimeout(c.get("timeout", 5))
            got = b""
            while len(got) < c["n"]:
                b = s.recv(c["n"] - len(got))
                if not b:
                    break
                got += b
            s.settimeout(None)
            reply(ok=True, n=len(got))
        elif op == "shutdown":
            socks[c["id"]].shutdown(HOW[c["how"]])
            reply(ok=True)
        elif op == "shutdown_many":
            # Back to back, so that the kernel arms both timers together.
            for i in c["ids"]:
                socks[i].shutdown(HOW[c["how"]])
            reply(ok=True)
        elif op == "linger0":
            socks[c["id"]].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
            reply(ok=True)
        elif op == "close":
            socks.pop(c["id"]).close()
            reply(ok=True)
        elif op == "info":
            reply(**info(c["id"]))
        elif op == "exit":
            reply(ok=True)
            break
        else:
            reply(ok=False, error="unknown op %r" % op)
    except Exception as e:
        reply(ok=False, error="%s: %s" % (type(e).__name__, e))
'''


class Sock:
    """Holder-side socket handle."""

    def __init__(self, holder, resp):
        self.holder = holder
        self.id = resp["id"]
        self.fd = resp["fd"]
        self.local = tuple(resp["local"]) if resp["local"] else None
        self.peer = tuple(resp["peer"]) if resp["peer"] else None

    def __getattr__(self, op):
        # s.shutdown(how="wr"), s.close(), s.send(data="x"), s.linger0()
        if op in ("send", "shutdown", "close", "linger0"):
            return lambda **kw: self.holder.cmd(op, id=self.id, **kw)
        raise AttributeError(op)

    def accept(self, **kw):
        return Sock(self.holder, self.holder.cmd("accept", id=self.id, **kw))

    def clients(self, n, addr=None, **kw):
        """n clients connected to this listener (at addr; by default its own
        address), each followed by the socket it accepted: [c1, s1, c2, s2,
        ...].  kw goes to connect (the family follows addr unless given)."""
        addr = addr or self.local[0]
        kw.setdefault("family", 6 if ":" in addr else 4)
        out = []
        for _ in range(n):
            out.append(self.holder.connect(addr, self.local[1], **kw))
            out.append(self.accept())
        return out


class Holder:
    def __init__(self, ns):
        self.ns = ns
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, sys.executable, "-u", "-c",
             HOLDER_SRC],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.cmd("pid")["pid"]

    def cmd(self, op, timeout=15, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise RuntimeError("holder: no reply to %r within %ds" % (kw, timeout))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("holder died while doing %r" % (kw,))
        resp = json.loads(line)
        if not resp.get("ok"):
            raise RuntimeError("holder %r failed: %s" % (kw, resp.get("error")))
        return resp

    def listen(self, addr, port, family=4, **kw):
        return Sock(self, self.cmd("listen", addr=addr, port=port,
                                   family=family, **kw))

    def connect(self, addr, port, family=4, **kw):
        return Sock(self, self.cmd("connect", addr=addr, port=port,
                                   family=family, **kw))

    def pair(self, addr, port, family=4, bind=None, **listen_kw):
        """A listener on addr:port (listen_kw: v6only, uid, ...), a client
        connected to it (from `bind` when given) and the socket the listener
        accepted: (listener, client, server)."""
        l = self.listen(addr, port, family=family, **listen_kw)
        c, s = l.clients(1, addr, family=family, **({"bind": bind} if bind else {}))
        return l, c, s

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "exit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=3)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except Exception:
                pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass


# --------------------------------------------------------------------------
# Namespaces

_ns_counter = [0]
_live_ns = []


def _cleanup_all():
    for ns in list(_live_ns):
        ns.destroy()


atexit.register(_cleanup_all)


class Netns:
    def __init__(self):
        _ns_counter[0] += 1
        self.name = "tcpst-%d-%d" % (os.getpid(), _ns_counter[0])
        self.holders = []
        self.procs = []
        self.nft_ready = False
        run(["ip", "netns", "add", self.name], check=True)
        _live_ns.append(self)
        self.exec(["ip", "link", "set", "lo", "up"], check=True)

    def destroy(self):
        for h in self.holders:
            h.stop()
        self.holders = []
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None:
                    f.close()
        self.procs = []
        if self in _live_ns:
            _live_ns.remove(self)
            try:
                run(["ip", "netns", "del", self.name], timeout=20)
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def exec(self, argv, **kw):
        return run(["ip", "netns", "exec", self.name] + list(argv), **kw)

    def holder(self):
        h = Holder(self)
        self.holders.append(h)
        return h

    def popen(self, argv, **kw):
        """Start argv in the namespace (subprocess.Popen's kw); it is killed,
        if it still runs, when the namespace goes.  Its pid is argv's own:
        ip netns exec execs it."""
        p = subprocess.Popen(["ip", "netns", "exec", self.name] + list(argv), **kw)
        self.procs.append(p)
        return p

    def spawn(self, script, *args):
        """Run a Python script in the namespace until destroy(): it prints
        "ready" when its sockets are in place and then waits (until its
        standard input closes, by the convention of these scripts)."""
        p = self.popen([sys.executable, "-c", script] + [str(a) for a in args],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a script in %s did not get ready" % self.name)
        return p

    def add_addr(self, cidr, dev="lo"):
        argv = ["ip", "addr", "add", cidr, "dev", dev]
        if ":" in cidr:
            argv.append("nodad")
        self.exec(argv, check=True)

    def sysctl(self, key, value):
        # `ip netns exec` remounts /sys but /proc/sys/net is per-netns already.
        self.exec(["sysctl", "-q", "-w", "%s=%s" % (key, value)], check=True)

    def sysctl_value(self, key):
        """The namespace's value of `key`, its words joined by single
        spaces; None when the namespace has no such sysctl."""
        r = self.exec(["sysctl", "-n", key])
        return " ".join(r.stdout.split()) if r.returncode == 0 else None

    def nft(self, rule):
        """Add `rule` (a string, nft syntax) to the namespace's output chain
        (inet tcpst out, made on first use); returns the rule's handle."""
        if not self.nft_ready:
            self.exec(["nft", "add", "table", "inet", "tcpst"], check=True)
            self.exec(["nft", "add", "chain", "inet", "tcpst", "out",
                       "{ type filter hook output priority 0; }"], check=True)
            self.nft_ready = True
        r = self.exec(["nft", "--echo", "--handle", "add rule inet tcpst out " + rule],
                      check=True)
        for line in r.stdout.splitlines():
            if "# handle " in line:
                return int(line.rsplit("# handle ", 1)[1].split()[0])
        raise RuntimeError("nft printed no handle for %r: %r" % (rule, r.stdout))

    def nft_delete(self, handle):
        """Remove the rule nft() returned `handle` for."""
        self.exec(["nft", "delete rule inet tcpst out handle %d" % handle], check=True)

    # ---- ss -------------------------------------------------------------

    def ss(self, opts, filt=(), via_exec=True):
        """Run ss with option string `opts` (e.g. "-tanH") and filter words.

        Returns a list of SsRow.  Rows whose State column ss omitted (single
        state selected) get state None; see ss_rows_with_state().
        """
        if via_exec:
            argv = ["ip", "netns", "exec", self.name, "ss", opts] + list(filt)
        else:
            argv = ["ss", "-N", self.name, opts] + list(filt)
        r = run(argv)
        if r.returncode != 0:
            raise RuntimeError("%s exited %d: %s" % (fmt_cmd(argv), r.returncode,
                                                     r.stderr.strip()[:300]))
        return parse_ss(r.stdout)

    def ss_count(self, state):
        """How many sockets `ss -tanH state STATE` lists (ss's spelling of
        the state, or one of its groups: listening, connected, ...)."""
        out = self.exec(["ss", "-tanH", "state", state], check=True).stdout
        return len([l for l in out.splitlines() if l.strip()])

    def ss_rows_with_state(self, opts, filt=(), full=None):
        """ss rows for the filter, each with its state, as a Counter of keys.

        When a filter selects a single state, ss drops the State column; the
        state is then taken from an unfiltered `ss -tanH` dump of the same
        namespace (`full`, a list of SsRow, or a fresh dump), joined on the
        4-tuple (unique in these scenarios).
        """
        rows = self.ss(opts, filt)
        if any(r.state is None for r in rows):
            full = {r.tuple4(): r.state for r in (full or self.ss("-tanH"))}
            for r in rows:
                if r.state is None:
                    if r.tuple4() not in full:
                        raise RuntimeError("cannot find state of ss row %r" % (r.raw,))
                    r.state = full[r.tuple4()]
        return rows

    def wait_for(self, expected, timeout=10, what="sockets"):
        """Poll `ss -tanH` until every key in `expected` is present."""
        deadline = time.monotonic() + timeout
        while True:
            have = {r.key() for r in self.ss("-tanH")}
            missing = [k for k in expected if k not in have]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for %s; missing %s; ss has %s"
                                   % (what, fmt_keys(missing), fmt_keys(have)))
            time.sleep(0.05)

    def wait_gone(self, tuples4, timeout=10, what="sockets to go away"):
        deadline = time.monotonic() + timeout
        while True:
            have = {r.tuple4() for r in self.ss("-tanH")}
            left = [t for t in tuples4 if t in have]
            if not left:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for %s: %r" % (what, left))
            time.sleep(0.05)


class ChildNetns(Netns):
    """A namespace made from inside `parent` (a Netns) instead of from the
    host's, so that it gets a TCP hash table of its own: the kernel sizes a
    new namespace's table by its creator's net.ipv4.tcp_child_ehash_entries,
    and the host's 0 means "share mine", which every socket dump in the
    namespace then walks whole (262144 buckets: ~15 ms a dump).  The sysctl
    is set in `parent` only.  Needs nsenter and Linux 6.1 (has_child_ehash).
    destroy() leaves `parent` to its owner."""

    def __init__(self, parent, ehash_entries=1024):
        parent.sysctl("net.ipv4.tcp_child_ehash_entries", ehash_entries)
        _ns_counter[0] += 1
        self.name = "tcpst-%d-%d" % (os.getpid(), _ns_counter[0])
        self.holders, self.procs, self.nft_ready = [], [], False
        # nsenter changes only the network namespace: `ip netns add` then
        # mounts the new one under the host's /run/netns, where ip netns exec
        # (a mount namespace of its own) would hide it.
        run(["nsenter", "--net=/run/netns/" + parent.name, "ip", "netns", "add", self.name],
            check=True)
        _live_ns.append(self)
        self.exec(["ip", "link", "set", "lo", "up"], check=True)


def has_child_ehash(ns):
    """Can ChildNetns give a namespace made from `ns` a table of its own?"""
    return shutil.which("nsenter") is not None and \
        ns.sysctl_value("net.ipv4.tcp_child_ehash_entries") is not None


# --------------------------------------------------------------------------
# Address / row normalisation


def canon_addr(a):
    """Canonical text for an address (or '*')."""
    if a == "*":
        return "*"
    ip = ipaddress.ip_address(a)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return "::ffff:" + str(ip.ipv4_mapped)
    return str(ip)


def family_of(a):
    return "ipv4" if ipaddress.ip_address(a).version == 4 else "ipv6"


def make_key(state, local, peer):
    """Key = (state, family, laddr, lport, paddr, pport) from raw endpoints."""
    laddr = canon_addr(local[0])
    return (state, family_of(laddr), laddr, int(local[1]),
            canon_addr(peer[0]) if peer[0] != "*" else "*", int(peer[1]))


def fmt_key(k):
    state, fam, la, lp, pa, pp = k
    def ep(a, p):
        return ("[%s]:%d" % (a, p)) if ":" in a else "%s:%d" % (a, p)
    return "%s %s -> %s" % (state, ep(la, lp), ep(pa, pp))


def fmt_keys(keys):
    ks = sorted(keys, key=lambda k: tuple(str(x) for x in k))
    return "{" + "; ".join(fmt_key(k) for k in ks) + "}"


_USERS_RE = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)')


def split_endpoint(tok):
    """An endpoint as ss and tcpstate's table print it ("127.0.0.1:5000",
    "[fe80::1]%v0:7000", "*:*"): (address, device or None, port), the
    port as printed (a number, or "*")."""
    addr, port = tok.rsplit(":", 1)
    addr, _, dev = addr.partition("%")
    return addr.strip("[]"), dev or None, port


class SsRow:
    def __init__(self, raw, state, recv_q, send_q, local, peer, extra):
        self.raw = raw
        self.state = state
        self.recv_q = recv_q
        self.send_q = send_q
        self.local = local  # (addr, port) canonical, addr '::' for ss '*'
        self.peer = peer    # (addr, port) or ('*', 0)
        self.extra = extra
        self.family = family_of(local[0])

    def tuple4(self):
        return (self.family, self.local, self.peer)

    def key(self):
        return (self.state, self.family) + self.local + self.peer

    def users(self):
        return {(m.group(1), int(m.group(2)), int(m.group(3)))
                for m in _USERS_RE.finditer(self.extra)}

    def field(self, name):
        m = re.search(r"(?:^|\s)%s:(\d+)" % re.escape(name), self.extra)
        return int(m.group(1)) if m else None

    def timer(self):
        m = re.search(r"timer:\((\w+),([^,)]*),(\d+)\)", self.extra)
        return (m.group(1), m.group(2), int(m.group(3))) if m else None


def parse_ss(text):
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        toks = line.split()
        if toks[0] in ("State", "Recv-Q", "Netid"):
            continue  # header, in case -H was not given
        if toks[0].isdigit():          # State column omitted by ss
            state, rest = None, toks
        else:
            if toks[0] not in SS_STATE:
                raise RuntimeError("unknown ss state %r in %r" % (toks[0], line))
            state, rest = SS_STATE[toks[0]], toks[1:]
        recv_q, send_q, ltok, ptok = rest[0], rest[1], rest[2], rest[3]
        laddr, _, lport = split_endpoint(ltok)
        if laddr == "*":
            laddr = "::"  # ss prints the IPv6 wildcard as '*'
        laddr = canon_addr(laddr)
        paddr, _, pport = split_endpoint(ptok)
        if pport == "*":
            peer = ("*", 0)
        else:
            peer = (canon_addr(paddr), int(pport))
        # Text after the peer column (process, timer, uid, ino, ...).
        idx = line.find(ptok, line.find(ltok) + len(ltok)) + len(ptok)
        # ss prints port 0 as '*': a socket caught between close and unhash
        # (seen once, in lost_last_ack) is no connection of ours.
        rows.append(SsRow(line, state, int(recv_q), int(send_q),
                          (laddr, 0 if lport == "*" else int(lport)), peer, line[idx:]))
    return rows


def ss_keys(rows):
    return collections.Counter(r.key() for r in rows)


# --------------------------------------------------------------------------
# tcpstate


def tcpstate_argv(args, ns=None, how="N"):
    """argv for `tcpstate list ARGS`; how='N' adds -N ns, 'exec' uses ip netns exec."""
    if ns is None:
        return [TCPSTATE, "list"] + list(args)
    if how == "N":
        return [TCPSTATE, "list", "-N", ns.name] + list(args)
    return ["ip", "netns", "exec", ns.name, TCPSTATE, "list"] + list(args)


def run_tcpstate(args, ns=None, how="N", timeout=20):
    """`tcpstate list ARGS` (see tcpstate_argv), run to its end: its Result."""
    need_tcpstate()
    return run_result(tcpstate_argv(args, ns, how), timeout)


def tcpstate_json(args, ns=None, how="N"):
    """Run tcpstate with --json (added if missing); return (result, list)."""
    args = list(args)
    if "--json" not in args:
        args = ["--json"] + args
    res = run_tcpstate(args, ns, how)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    try:
        data = json.loads(res.stdout)
    except ValueError as e:
        raise Fail("`%s` printed invalid JSON (%s): %r" % (fmt_cmd(res.argv), e,
                                                        res.stdout[:300]))
    if not isinstance(data, list):
        raise Fail("`%s` JSON is not an array" % fmt_cmd(res.argv))
    for o in data:
        if not isinstance(o, dict):
            raise Fail("`%s` JSON array holds a non-object: %r" % (fmt_cmd(res.argv), o))
        for k in JSON_KEYS:
            if k not in o:
                raise Fail("`%s` JSON object lacks key %r: %r" % (fmt_cmd(res.argv), k, o))
    return res, data


def ts_key(o):
    """Key of a tcpstate JSON object, same shape as SsRow.key()."""
    try:
        laddr = canon_addr(o["local_addr"])
        paddr = "*" if o["peer_addr"] == "*" else canon_addr(o["peer_addr"])
    except ValueError as e:
        raise Fail("bad address in tcpstate row %r: %s" % (o, e))
    return (o["state"], o["family"], laddr, o["local_port"], paddr, o["peer_port"])


def ts_keys(data):
    return collections.Counter(ts_key(o) for o in data)


def compare_counters(got, want, what):
    """Raise Fail describing the difference between two row multisets."""
    if got == want:
        return
    extra = got - want
    missing = want - got
    msg = "%s: rows differ from ss." % what
    if missing:
        msg += " missing (in ss, not in tcpstate): %s." % fmt_keys(missing.elements())
    if extra:
        msg += " unexpected (in tcpstate, not in ss): %s." % fmt_keys(extra.elements())
    raise Fail(msg)


# --------------------------------------------------------------------------
# The standard scenario

V4_ADDRS = ["198.18.0.1/24", "198.18.0.2/24", "198.18.1.1/24"]
V6_ADDRS = ["fd00::1/64", "fd00::2/64"]


class World:
    """All the sockets of the standard scenario plus what ss should show."""

    def __init__(self, ns, holder):
        self.ns = ns
        self.h = holder
        self.s = {}          # name -> Sock
        self.expect = {}     # name -> key expected in ss -tanH

    def key(self, name, state, local=None, peer=None):
        s = self.s.get(name)
        k = make_key(state, local or s.local, peer or s.peer or ("*", 0))
        self.expect[name] = k
        return k


def build_world(ns):
    """Build the standard scenario in `ns`: every TCP state we can make.

    Port plan (IPv4 unless noted):
      5000 LISTEN 127.0.0.1, ESTABLISHED pair with data queued both ways
      5001 SYN-SENT (client SYNs dropped, nothing listens)
      5002 LISTEN + SYN-RECEIVED request (client's final ACK dropped), client ESTABLISHED
      5003 FIN-WAIT-1 client (its FIN dropped) / ESTABLISHED server
      5004 FIN-WAIT-2 client (shutdown WR) / CLOSE-WAIT server
      5005 TIME-WAIT client / LAST-ACK server (client ACKs dropped)
      5006 TIME-WAIT client (normal close)
      5007 LISTEN 198.18.0.1 (uid 65534); ESTABLISHED from 198.18.0.2 (uid 65534)
           and from 198.18.1.1
      5010 IPv6 LISTEN [::1] v6only + ESTABLISHED pair
      5011 IPv6 TIME-WAIT on [::1]
      5012 IPv6 LISTEN [fd00::1], ESTABLISHED from fd00::2
      5013 dual-stack LISTEN [::], ESTABLISHED from 127.0.0.1 (v4-mapped) and from ::1
    """
    for a in V4_ADDRS + V6_ADDRS:
        ns.add_addr(a)
    # The SYN-RECEIVED request lives ~63 s with the default
    # tcp_synack_retries (5): far longer than a test, so no sysctl is needed.
    ns.nft("tcp dport 5001 drop")
    ns.nft("tcp dport 5002 tcp flags & syn == 0 drop")
    h = ns.holder()
    w = World(ns, h)
    s = w.s

    # 5000: LISTEN + ESTABLISHED with queued data.
    s["l0"], s["c0"], s["s0"] = h.pair("127.0.0.1", 5000)
    s["c0"].send(data="hello")
    s["s0"].send(data="hi!")
    w.key("l0", "LISTEN")
    w.key("c0", "ESTABLISHED")
    w.key("s0", "ESTABLISHED")

    # 5001: SYN-SENT.
    s["c1"] = h.connect("127.0.0.1", 5001, nonblock=True)
    w.key("c1", "SYN-SENT", peer=("127.0.0.1", 5001))

    # 5002: SYN-RECEIVED on the server, ESTABLISHED on the client.
    s["l2"] = h.listen("127.0.0.1", 5002)
    s["c2"] = h.connect("127.0.0.1", 5002)
    w.key("l2", "LISTEN")
    w.key("c2", "ESTABLISHED")
    w.expect["r2"] = make_key("SYN-RECEIVED", s["c2"].peer, s["c2"].local)

    # 5003: FIN-WAIT-1.
    s["l3"], s["c3"], s["s3"] = h.pair("127.0.0.1", 5003)
    ns.wait_for([w.key("c3", "ESTABLISHED"), w.key("s3", "ESTABLISHED")],
                what="5003 ESTABLISHED")
    ns.nft("tcp dport 5003 drop")
    s["c3"].shutdown(how="wr")
    w.key("l3", "LISTEN")
    w.key("c3", "FIN-WAIT-1")

    # 5004: FIN-WAIT-2 / CLOSE-WAIT.
    s["l4"], s["c4"], s["s4"] = h.pair("127.0.0.1", 5004)
    s["c4"].shutdown(how="wr")
    w.key("l4", "LISTEN")
    w.key("c4", "FIN-WAIT-2")
    w.key("s4", "CLOSE-WAIT")

    # 5005: LAST-ACK / TIME-WAIT.
    s["l5"], s["c5"], s["s5"] = h.pair("127.0.0.1", 5005)
    s["c5"].shutdown(how="wr")
    ns.wait_for([w.key("c5", "FIN-WAIT-2"), w.key("s5", "CLOSE-WAIT")],
                what="5005 FIN-WAIT-2/CLOSE-WAIT")
    ns.nft("tcp dport 5005 drop")
    s["s5"].shutdown(how="wr")
    w.key("l5", "LISTEN")
    w.key("c5", "TIME-WAIT")
    w.key("s5", "LAST-ACK")

    # 5006: plain TIME-WAIT (client closes first, then server).
    s["l6"], s["c6"], s["s6"] = h.pair("127.0.0.1", 5006)
    c6_local, c6_peer = s["c6"].local, s["c6"].peer
    s["c6"].close()
    ns.wait_for([make_key("FIN-WAIT-2", c6_local, c6_peer),
                 make_key("CLOSE-WAIT", c6_peer, c6_local)],
                what="5006 FIN-WAIT-2/CLOSE-WAIT")
    s["s6"].close()
    w.key("l6", "LISTEN")
    w.expect["c6"] = make_key("TIME-WAIT", c6_local, c6_peer)

    # 5007: 198.18.0.x, some sockets owned by another uid.
    s["l7"] = h.listen("198.18.0.1", 5007, uid=OTHER_UID)
    s["c7"], s["s7"] = s["l7"].clients(1, bind=["198.18.0.2", 0], uid=OTHER_UID)
    s["c8"], s["s8"] = s["l7"].clients(1, bind=["198.18.1.1", 0])
    for n in ("c7", "s7", "c8", "s8"):
        w.key(n, "ESTABLISHED")
    w.key("l7", "LISTEN")

    # 5010: IPv6 loopback LISTEN + ESTABLISHED.
    s["l10"], s["c10"], s["s10"] = h.pair("::1", 5010, family=6, v6only=1)
    for n in ("c10", "s10"):
        w.key(n, "ESTABLISHED")
    w.key("l10", "LISTEN")

    # 5011: IPv6 TIME-WAIT.
    s["l11"], s["c11"], s["s11"] = h.pair("::1", 5011, family=6, v6only=1)
    c11_local, c11_peer = s["c11"].local, s["c11"].peer
    s["c11"].close()
    ns.wait_for([make_key("FIN-WAIT-2", c11_local, c11_peer)],
                what="5011 FIN-WAIT-2")
    s["s11"].close()
    w.key("l11", "LISTEN")
    w.expect["c11"] = make_key("TIME-WAIT", c11_local, c11_peer)

    # 5012: IPv6 on fd00::/64.
    s["l12"], s["c12"], s["s12"] = h.pair("fd00::1", 5012, family=6, bind=["fd00::2", 0])
    for n in ("c12", "s12"):
        w.key(n, "ESTABLISHED")
    w.key("l12", "LISTEN")

    # 5013: dual-stack wildcard listener, v4-mapped and native v6 peers.
    s["l13"] = h.listen("::", 5013, family=6, v6only=0)
    s["c13"], s["s13"] = s["l13"].clients(1, "127.0.0.1")
    s["c14"], s["s14"] = s["l13"].clients(1, "::1")
    for n in ("c13", "s13", "c14", "s14"):
        w.key(n, "ESTABLISHED")
    w.key("l13", "LISTEN")

    ns.wait_for(list(w.expect.values()), what="the standard scenario")
    # Sockets that must have disappeared (server sides of the TIME-WAITs).
    ns.wait_gone([_tuple4_of_key(make_key("X", c6_peer, c6_local)),
                  _tuple4_of_key(make_key("X", c11_peer, c11_local))])
    return w


def _tuple4_of_key(k):
    return (k[1], (k[2], k[3]), (k[4], k[5]))


# --------------------------------------------------------------------------
# A terminal to drive: tmux


def tmux_new_session(tmux, *args, tries=3):
    """tmux(new-session, *args), tried again when it fails.  A tmux server
    exits with its last session, and a session started while it is going
    fails with "server exited unexpectedly" (a kill-session just before, or
    a test's previous session ending).  Returns the last result."""
    for _ in range(tries):
        r = tmux("new-session", *args)
        if r.returncode == 0:
            break
        time.sleep(0.3)
    return r


class Tmux:
    """A tmux server of the test's own, with no configuration file, so that
    no user's server or settings are touched.  Its socket is `path`, or one
    in a directory of its own (named with prefix) that kill() removes:
    kill-server alone leaves the socket behind.  kill() ends the server and
    every session in it; so does the end of a with block."""

    def __init__(self, prefix="tcpstate-tmux.", path=None):
        self.own = None if path else tempfile.mkdtemp(prefix=prefix)
        self.where = ["-S", path or os.path.join(self.own, "sock")]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def run(self, *args):
        return subprocess.run(["tmux", *self.where, "-f", "/dev/null", *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def new(self, target, cmd, x=132, y=40):
        """A detached session named target running cmd (a shell command
        line), x columns by y lines, in place of any session of that name;
        tried again when the server was exiting (tmux_new_session).  Raises
        RuntimeError when it does not start."""
        self.run("kill-session", "-t", target)
        r = tmux_new_session(self.run, "-d", "-s", target, "-x", str(x), "-y", str(y), cmd)
        if r.returncode != 0:
            raise RuntimeError("tmux new-session failed: %s" % r.stderr.strip())
        return r

    def keys(self, target, *keys):
        return self.run("send-keys", "-t", target, *keys)

    def screen(self, target="t"):
        return self.run("capture-pane", "-p", "-t", target).stdout

    def wait(self, pred, timeout=8.0, target="t"):
        """The screen once pred holds on two captures in a row (not mid-redraw),
        or the last capture when it never does."""
        end = time.time() + timeout
        s = ""
        while time.time() < end:
            s = self.screen(target)
            if pred(s):
                time.sleep(0.15)
                s2 = self.screen(target)
                if pred(s2):
                    return s2
            time.sleep(0.2)
        return s

    def alternate_on(self, target="t"):
        """"1" while target's pane shows the alternate screen (a full-screen
        program is up), "0" once back on the normal one."""
        return self.run("display", "-p", "-t", target, "#{alternate_on}").stdout.strip()

    def kill(self):
        self.run("kill-server")
        if self.own:
            shutil.rmtree(self.own, ignore_errors=True)
