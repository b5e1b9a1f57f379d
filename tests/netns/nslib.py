"""Shared helpers for the root-only end-to-end tests of `tcpstate list`.

Everything here happens inside throw-away network namespaces named
tcpst-<pid>-<n>; only loopback and addresses assigned inside the namespace
(198.18.0.0/15, fd00::/8) are used.  Host sysctls are never touched.

Pieces:
  * Reporter       -- prints PASS/FAIL/SKIP lines, computes the exit code.
  * Netns          -- creates/deletes a namespace, runs commands inside it,
                      manages nft rules, parses `ss` output.
  * Holder         -- a python child living inside the namespace that opens
                      and holds sockets, driven by JSON lines on stdin/stdout.
  * build_world()  -- builds the standard scenario with every TCP state.
  * run_tcpstate() -- runs the binary under test and parses its JSON.
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

    def fail_rest(self, names, reason):
        for n in names:
            if n not in self.done:
                self.emit("FAIL", n, reason)

    def skip_all(self, names, reason=SKIP_REASON):
        for n in names:
            self.emit("SKIP", n, reason)

    def exit(self):
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def prereqs_ok():
    if os.geteuid() != 0:
        return False
    for tool in ("ip", "nft", "ss"):
        if shutil.which(tool) is None:
            return False
    try:
        r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                           timeout=10)
    except Exception:
        return False
    return r.returncode == 0


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP/SIGINT into SystemExit so finally/atexit run."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, handler)


def start_watchdog(seconds):
    """Abort the current work with an exception after `seconds` (SIGALRM)."""
    def handler(signum, frame):
        raise TimeoutError("test watchdog expired after %ds" % seconds)
    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)


def begin(prefix, cases, watchdog=55, ready=prereqs_ok, why=SKIP_REASON):
    """How every test here starts: its Reporter; when the machine cannot run
    it (not root, tools missing), every case skipped, visibly, and exit;
    otherwise signals turned into exits (so cleanup runs) and a watchdog."""
    rep = Reporter(prefix)
    if not ready():
        rep.skip_all(cases, why)
        rep.exit()
    install_signal_handlers()
    start_watchdog(watchdog)
    return rep


def stop_watchdog():
    signal.alarm(0)


def in_netns(rep, names, body):
    """How a test with one namespace runs and ends: body(ns, tmp) reports
    its cases (tmp: a scratch directory); an exception fails the cases not
    reported; the namespace and the directory go; exit."""
    ns = None
    tmp = tempfile.mkdtemp(prefix="tcpstate-%s." % rep.prefix)
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
            p.kill()
            p.wait()
            p.stdin.close()
            p.stdout.close()
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

    def spawn(self, script, *args):
        """Run a Python script in the namespace until destroy(): it prints
        "ready" when its sockets are in place and then waits."""
        p = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", script]
                             + [str(a) for a in args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
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

    def nft(self, rule):
        """Add `rule` (a string, nft syntax) to the namespace's output chain."""
        if not self.nft_ready:
            self.exec(["nft", "add", "table", "inet", "tcpst"], check=True)
            self.exec(["nft", "add", "chain", "inet", "tcpst", "out",
                       "{ type filter hook output priority 0; }"], check=True)
            self.nft_ready = True
        self.exec(["nft", "add rule inet tcpst out " + rule], check=True)

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


def _split_ss_endpoint(tok, local_family=None):
    addr, port = tok.rsplit(":", 1)
    addr = addr.split("%", 1)[0].strip("[]")
    return addr, port


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
        laddr, lport = _split_ss_endpoint(ltok)
        if laddr == "*":
            laddr = "::"  # ss prints the IPv6 wildcard as '*'
        laddr = canon_addr(laddr)
        paddr, pport = _split_ss_endpoint(ptok)
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


class TcpstateResult:
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def describe(self):
        return "`%s` rc=%d stderr=%r" % (fmt_cmd(self.argv), self.rc,
                                         self.stderr.strip()[:300])


def tcpstate_argv(args, ns=None, how="N"):
    """argv for `tcpstate list ARGS`; how='N' adds -N ns, 'exec' uses ip netns exec."""
    if ns is None:
        return [TCPSTATE, "list"] + list(args)
    if how == "N":
        return [TCPSTATE, "list", "-N", ns.name] + list(args)
    return ["ip", "netns", "exec", ns.name, TCPSTATE, "list"] + list(args)


def run_tcpstate(args, ns=None, how="N", timeout=20):
    if not (os.path.isfile(TCPSTATE) and os.access(TCPSTATE, os.X_OK)):
        raise Fail("tcpstate binary not found or not executable: %s" % TCPSTATE)
    argv = tcpstate_argv(args, ns, how)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("`%s` timed out after %ds" % (fmt_cmd(argv), timeout))
    return TcpstateResult(argv, p)


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
    s["l0"] = h.listen("127.0.0.1", 5000)
    s["c0"] = h.connect("127.0.0.1", 5000)
    s["s0"] = s["l0"].accept()
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
    s["l3"] = h.listen("127.0.0.1", 5003)
    s["c3"] = h.connect("127.0.0.1", 5003)
    s["s3"] = s["l3"].accept()
    ns.wait_for([w.key("c3", "ESTABLISHED"), w.key("s3", "ESTABLISHED")],
                what="5003 ESTABLISHED")
    ns.nft("tcp dport 5003 drop")
    s["c3"].shutdown(how="wr")
    w.key("l3", "LISTEN")
    w.key("c3", "FIN-WAIT-1")

    # 5004: FIN-WAIT-2 / CLOSE-WAIT.
    s["l4"] = h.listen("127.0.0.1", 5004)
    s["c4"] = h.connect("127.0.0.1", 5004)
    s["s4"] = s["l4"].accept()
    s["c4"].shutdown(how="wr")
    w.key("l4", "LISTEN")
    w.key("c4", "FIN-WAIT-2")
    w.key("s4", "CLOSE-WAIT")

    # 5005: LAST-ACK / TIME-WAIT.
    s["l5"] = h.listen("127.0.0.1", 5005)
    s["c5"] = h.connect("127.0.0.1", 5005)
    s["s5"] = s["l5"].accept()
    s["c5"].shutdown(how="wr")
    ns.wait_for([w.key("c5", "FIN-WAIT-2"), w.key("s5", "CLOSE-WAIT")],
                what="5005 FIN-WAIT-2/CLOSE-WAIT")
    ns.nft("tcp dport 5005 drop")
    s["s5"].shutdown(how="wr")
    w.key("l5", "LISTEN")
    w.key("c5", "TIME-WAIT")
    w.key("s5", "LAST-ACK")

    # 5006: plain TIME-WAIT (client closes first, then server).
    s["l6"] = h.listen("127.0.0.1", 5006)
    s["c6"] = h.connect("127.0.0.1", 5006)
    s["s6"] = s["l6"].accept()
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
    s["c7"] = h.connect("198.18.0.1", 5007, bind=["198.18.0.2", 0], uid=OTHER_UID)
    s["s7"] = s["l7"].accept()
    s["c8"] = h.connect("198.18.0.1", 5007, bind=["198.18.1.1", 0])
    s["s8"] = s["l7"].accept()
    for n in ("c7", "s7", "c8", "s8"):
        w.key(n, "ESTABLISHED")
    w.key("l7", "LISTEN")

    # 5010: IPv6 loopback LISTEN + ESTABLISHED.
    s["l10"] = h.listen("::1", 5010, family=6, v6only=1)
    s["c10"] = h.connect("::1", 5010, family=6)
    s["s10"] = s["l10"].accept()
    for n in ("c10", "s10"):
        w.key(n, "ESTABLISHED")
    w.key("l10", "LISTEN")

    # 5011: IPv6 TIME-WAIT.
    s["l11"] = h.listen("::1", 5011, family=6, v6only=1)
    s["c11"] = h.connect("::1", 5011, family=6)
    s["s11"] = s["l11"].accept()
    c11_local, c11_peer = s["c11"].local, s["c11"].peer
    s["c11"].close()
    ns.wait_for([make_key("FIN-WAIT-2", c11_local, c11_peer)],
                what="5011 FIN-WAIT-2")
    s["s11"].close()
    w.key("l11", "LISTEN")
    w.expect["c11"] = make_key("TIME-WAIT", c11_local, c11_peer)

    # 5012: IPv6 on fd00::/64.
    s["l12"] = h.listen("fd00::1", 5012, family=6)
    s["c12"] = h.connect("fd00::1", 5012, family=6, bind=["fd00::2", 0])
    s["s12"] = s["l12"].accept()
    for n in ("c12", "s12"):
        w.key(n, "ESTABLISHED")
    w.key("l12", "LISTEN")

    # 5013: dual-stack wildcard listener, v4-mapped and native v6 peers.
    s["l13"] = h.listen("::", 5013, family=6, v6only=0)
    s["c13"] = h.connect("127.0.0.1", 5013)
    s["s13"] = s["l13"].accept()
    s["c14"] = h.connect("::1", 5013, family=6)
    s["s14"] = s["l13"].accept()
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
