#!/usr/bin/env python3
"""`tcpstate list --prom` (issue 19) against the kernel, as root, in
namespaces of its own (loopback, 198.18.0.0/15, fd00::/8).

The first namespace holds the standard scenario (every state nslib can
make) and a process named "cwleak" that:
  - accepts three connections on 127.0.0.1:7000 whose clients then close:
    three CLOSE-WAIT sockets it owns and never closes;
  - listens on 127.0.0.1:7001 with backlog 4 and never accepts: three
    clients connect (the accept queue holds 3, its limit is 4) and one of
    them closes, leaving a CLOSE-WAIT socket no process owns yet;
  - connects 5 sockets from 198.18.0.2 to 198.18.0.1:7002 and 2 from
    fd00::2 to [fd00::1]:7003 (ephemeral ports per destination).
The second namespace holds one listener.

Cases (the kernel, through ss, is the oracle):
  * state counts equal `ss -tanH`'s, all 11 states present;
  * CLOSE-WAIT per process equals `ss -tanpH`'s owners (cwleak: 3; the
    unaccepted one under "(accept queue)"), ages 0 on a first collection;
  * every listener's queue length and limit equal ss's Recv-Q and Send-Q
    (7001: 3 and 4);
  * ephemeral ports for the two destinations equal the sockets opened;
  * --top-k 1 keeps one destination and counts the rest as truncated;
  * -A --ns NAME --ns NAME: the two namespaces, labelled with netns,
    container and netns_inode (the inode of /run/netns/NAME);
  * `promtool check metrics` passes on both outputs (skipped, visibly,
    without promtool);
  * bad --top-k values, --top-k without --prom, --prom with a filter or
    --json: a message naming the option, exit 2.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402

TCPSTATE = nslib.TCPSTATE
CASES = ["states_equal_ss", "close_wait_per_process", "close_wait_first_age_zero",
         "listen_queue_equals_ss", "ephemeral_per_destination", "top_k_truncates",
         "all_ns_labels", "promtool_check_metrics", "bad_top_k", "incompatible_options"]

PROM_STATE = {"ESTABLISHED": "established", "SYN-SENT": "syn_sent",
              "SYN-RECEIVED": "syn_recv", "FIN-WAIT-1": "fin_wait1",
              "FIN-WAIT-2": "fin_wait2", "TIME-WAIT": "time_wait", "CLOSED": "close",
              "CLOSE-WAIT": "close_wait", "LAST-ACK": "last_ack", "LISTEN": "listen",
              "CLOSING": "closing"}

LEAK_SRC = r'''
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b"cwleak", 0, 0, 0)  # PR_SET_NAME: the comm tcpstate reports
keep = []
l = socket.socket()
l.bind(("127.0.0.1", 7000))
l.listen(16)
keep.append(l)
for i in range(3):  # accepted, then the client closes: CLOSE-WAIT, ours, never closed
    c = socket.create_connection(("127.0.0.1", 7000))
    keep.append(l.accept()[0])
    c.close()
q = socket.socket()
q.bind(("127.0.0.1", 7001))
q.listen(4)  # never accepted
keep.append(q)
cl = [socket.create_connection(("127.0.0.1", 7001)) for i in range(3)]
cl[0].close()  # its server side, still in the accept queue, goes CLOSE-WAIT
keep += cl[1:]
for fam, src, dst, port, n in ((socket.AF_INET, "198.18.0.2", "198.18.0.1", 7002, 5),
                               (socket.AF_INET6, "fd00::2", "fd00::1", 7003, 2)):
    srv = socket.socket(fam)
    srv.bind((dst, port))
    srv.listen(64)
    keep.append(srv)
    for i in range(n):
        c = socket.socket(fam)
        c.bind((src, 0))
        c.connect((dst, port))
        keep += [c, srv.accept()[0]]
print("ready", flush=True)
sys.stdin.read()
'''

LISTEN_SRC = r'''
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 9000))
l.listen(8)
print("ready", flush=True)
sys.stdin.read()
'''

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """[(name, {label: value}, float)] of a text-format exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise Fail("not a sample line: %r" % line)
        labels = {}
        for k, v in LABEL.findall(m.group(2) or ""):
            labels[k] = v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def series(samples, name, **match):
    return [(l, v) for n, l, v in samples if n == name
            and all(l.get(k) == w for k, w in match.items())]


def one(samples, name, **match):
    got = series(samples, name, **match)
    if len(got) != 1:
        raise Fail("%s%r: %d series, want 1" % (name, match, len(got)))
    return got[0][1]


def prom(args, ns=None):
    argv = [TCPSTATE, "list"] + (["-N", ns.name] if ns else []) + ["--prom"] + args
    res = nslib.run_result(argv)
    if res.rc != 0:
        raise Fail("%s, expected rc=0" % res.describe())
    return res.stdout


def stable_ss_counts(ns, take):
    """take() while ss -tanH's state counts are the same before and after it
    (a TIME-WAIT socket may expire in between): (counts, take's value)."""
    for _ in range(5):
        before = collections.Counter(r.state for r in ns.ss("-tanH"))
        got = take()
        after = collections.Counter(r.state for r in ns.ss("-tanH"))
        if before == after:
            return before, got
    raise Fail("ss's state counts kept changing")


def close_wait_owners(ns):
    """CLOSE-WAIT sockets per owner, by ss -tanp: the lowest pid's name, or
    "(accept queue)" for a socket no process holds."""
    want = collections.Counter()
    for r in ns.ss("-tanpH"):
        if r.state != "CLOSE-WAIT":
            continue
        users = re.findall(r'\("((?:[^"\\]|\\.)*)",pid=(\d+)', r.extra)
        name = min(users, key=lambda u: int(u[1]))[0] if users else "(accept queue)"
        want[name] += 1
    return want


def check_states(ns):
    counts, text = stable_ss_counts(ns, lambda: prom([], ns))
    s = parse(text)
    got = {l["state"]: v for l, v in series(s, "tcpstate_sockets")}
    want = {PROM_STATE[k]: float(counts.get(k, 0)) for k in PROM_STATE}
    if got != want:
        raise Fail("tcpstate_sockets %r, ss -tanH %r" % (got, want))


def check_close_wait(ns):
    s = parse(prom([], ns))
    got = {l["process"]: v for l, v in series(s, "tcpstate_close_wait_sockets")}
    want = {k: float(v) for k, v in close_wait_owners(ns).items()}
    if got != want or got.get("cwleak") != 3 or got.get("(accept queue)") != 1:
        raise Fail("tcpstate_close_wait_sockets %r, ss -tanpH %r (cwleak 3 and "
                   "(accept queue) 1 wanted)" % (got, want))


def check_ages(ns):
    s = parse(prom([], ns))
    ages = {l["process"]: v for l, v in series(s, "tcpstate_close_wait_oldest_seconds")}
    procs = {l["process"] for l, _ in series(s, "tcpstate_close_wait_sockets")}
    if set(ages) != procs or any(v != 0 for v in ages.values()):
        raise Fail("first collection: ages %r for processes %r, want all 0" % (ages, procs))


def check_listen(ns):
    s = parse(prom([], ns))
    want = {}
    for r in ns.ss("-ltnH"):
        key = (r.local[0], str(r.local[1]))
        want[key] = (float(r.recv_q), float(r.send_q))
    got = {}
    for l, v in series(s, "tcpstate_listen_queue_length"):
        got[(l["address"], l["port"])] = (v, one(s, "tcpstate_listen_queue_limit",
                                                 address=l["address"], port=l["port"]))
    if got != want or got.get(("127.0.0.1", "7001")) != (3.0, 4.0):
        raise Fail("listen queues (length, limit) %r, ss -ltnH %r" % (got, want))


def check_ephemeral(ns):
    s = parse(prom([], ns))
    v4 = one(s, "tcpstate_ephemeral_ports_in_use", source="198.18.0.2",
             destination="198.18.0.1:7002")
    v6 = one(s, "tcpstate_ephemeral_ports_in_use", source="fd00::2",
             destination="[fd00::1]:7003")
    if (v4, v6) != (5, 2):
        raise Fail("ephemeral ports in use %r and %r, want 5 and 2" % (v4, v6))


def check_top_k(ns):
    full = parse(prom([], ns))
    pairs = len(series(full, "tcpstate_ephemeral_ports_in_use"))
    s = parse(prom(["--top-k", "1"], ns))
    kept = series(s, "tcpstate_ephemeral_ports_in_use")
    trunc = one(s, "tcpstate_truncated_series_total",
                family="tcpstate_ephemeral_ports_in_use")
    # The busiest pair: 198.18.0.2 -> 198.18.0.1:7002, 5 sockets.
    if len(kept) != 1 or kept[0][1] != 5 or pairs < 2 or trunc != pairs - 1:
        raise Fail("--top-k 1: kept %r, truncated %r; %d pairs without it"
                   % (kept, trunc, pairs))


def check_all_ns(ns1, ns2):
    text = prom(["-A", "--ns", ns1.name, "--ns", ns2.name])
    s = parse(text)
    if one(s, "tcpstate_namespaces") != 2:
        raise Fail("tcpstate_namespaces is not 2")
    for ns, listeners in ((ns1, None), (ns2, 1)):
        ino = str(os.stat("/run/netns/" + ns.name).st_ino)
        got = series(s, "tcpstate_sockets", netns=ns.name)
        if len(got) != 11 or any(l.get("netns_inode") != ino or l.get("container") != ""
                                 for l, _ in got):
            raise Fail("-A: %s's tcpstate_sockets series %r (inode %s)" % (ns.name, got, ino))
        if listeners is not None and one(s, "tcpstate_sockets", netns=ns.name,
                                         state="listen") != listeners:
            raise Fail("-A: %s's listeners are not %d" % (ns.name, listeners))
    check_all_ns.text = text


def check_promtool(texts):
    tool = shutil.which("promtool")
    if not tool:
        raise nslib.Skip("promtool is not installed (tools/deps.sh installs it)")
    for t in texts:
        p = subprocess.run([tool, "check", "metrics"], input=t, capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise Fail("promtool check metrics: rc %d: %s" % (p.returncode,
                                                              (p.stdout + p.stderr)[:400]))


def check_usage(argvs, pattern):
    for args in argvs:
        res = nslib.run_result([TCPSTATE, "list"] + args)
        if res.rc != 2 or not re.search(pattern, res.stderr) or res.stdout:
            raise Fail("%s: want exit 2, nothing on stdout and a message matching %r"
                       % (res.describe(), pattern))


def body(ns1, tmp):
    nslib.build_world(ns1)
    ns1.spawn(LEAK_SRC)
    # The clients' FINs reach the servers at once on loopback; wait until they have.
    deadline = time.monotonic() + 10
    while sum(close_wait_owners(ns1).values()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    ns2 = nslib.Netns()
    try:
        ns2.spawn(LISTEN_SRC)
        rep.case("states_equal_ss", check_states, ns1)
        rep.case("close_wait_per_process", check_close_wait, ns1)
        rep.case("close_wait_first_age_zero", check_ages, ns1)
        rep.case("listen_queue_equals_ss", check_listen, ns1)
        rep.case("ephemeral_per_destination", check_ephemeral, ns1)
        rep.case("top_k_truncates", check_top_k, ns1)
        check_all_ns.text = None
        rep.case("all_ns_labels", check_all_ns, ns1, ns2)
        texts = [prom([], ns1)] + ([check_all_ns.text] if check_all_ns.text else [])
        rep.case("promtool_check_metrics", check_promtool, texts)
    finally:
        ns2.destroy()
    rep.case("bad_top_k", check_usage,
             [["--prom", "--top-k", v] for v in ("0", "-3", "abc", "", "1000001")],
             r"--top-k: '.*' is not a whole number")
    rep.case("incompatible_options", check_usage,
             [["--top-k", "3"], ["--prom", "state", "listen"], ["--prom", "--json"],
              ["--prom", "-s"]], r"--top-k needs --prom|--prom (takes no filter|prints)")


if __name__ == "__main__":
    rep = nslib.begin("list_prom", CASES, watchdog=120)
    nslib.in_netns(rep, CASES, body)
