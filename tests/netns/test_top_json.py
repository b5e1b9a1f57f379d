#!/usr/bin/env python3
"""tcpstate top -b --json, and the wire on by default (issue 16, items 3
and 4), as root in namespaces of their own, the kernel (ss) and tcpdump
as the oracles:
 - every frame is one line of JSON; a frame's rows are ss's sockets, state
   and addresses spelled as list --json spells them; its ts is the wall
   clock;
 - without -i, root captures on any: a connection made after top started
   has the wire's states at both ends, sure; one made before, quiet since,
   has null; top dropped root after opening the capture and still names
   the process that holds each socket;
 - on any, a loopback connection's packets count once, as tcpdump -i lo
   counts them, and its ends' states are the kernel's (TIME-WAIT here);
 - -N NAME captures inside that namespace;
 - as nobody, and with --no-wire, the wire is off and says why: the
   header's Wire line, and JSON's wire null with wire_off_reason;
 - on the screen, without -i, the Wire column fills in for a connection
   made after top started."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from toplib import Tmux, rows  # noqa: E402

TCPSTATE = nslib.TCPSTATE
CASES = ["json_frames_parse", "json_rows_are_ss_sockets", "json_ts_is_wall_clock",
         "json_wire_after_start_sure", "json_wire_null_before_start",
         "json_process_named_after_root_dropped", "json_any_counts_lo_once",
         "json_any_states_match_kernel", "json_netns_option_captures_inside",
         "json_nobody_wire_off_says_why", "text_nobody_wire_off_says_why",
         "json_no_wire_says_why", "text_no_wire_says_why", "screen_default_wire_column"]
rep = nslib.begin("top_json", CASES, watchdog=240,
                  ready=lambda: nslib.prereqs_ok() and all(
                      shutil.which(t) for t in ("tcpdump", "tmux", "setpriv")),
                  why="needs root, ip, nft, ss, tcpdump, tmux and setpriv")

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
NO_PRIVILEGE = ("capture needs root or CAP_NET_RAW: run as root, or setcap cap_net_raw+ep "
                "tcpstate")


class Top:
    """top -b --json running, its frames read as they come (at most -n of them)."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.lines = []

    def frame(self):
        """The next frame, parsed; None when top has ended."""
        line = self.p.stdout.readline()
        if not line:
            return None
        self.lines.append(line)
        return json.loads(line)

    def until(self, pred):
        """The first frame pred holds for, or None when top ends first."""
        while True:
            f = self.frame()
            if f is None or pred(f):
                return f

    def stop(self):
        """End top (SIGINT, as a user would); its exit code and standard error."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            _, err = self.p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, err = self.p.communicate()
        return self.p.returncode, err


def top_json(ns, *args, netns_opt=False):
    base = [TCPSTATE, "top", "-b", "--json", "-d", "0.2", "-n", "300", *args]
    if netns_opt:
        return Top(base[:2] + ["-N", ns.name] + base[2:])
    return Top(["ip", "netns", "exec", ns.name] + base)


def key(r):
    """A JSON row as nslib keys a socket: (state, family, laddr, lport, paddr, pport)."""
    return (r["state"], r["family"], nslib.canon_addr(r["local_addr"]), r["local_port"],
            nslib.canon_addr(r["peer_addr"]), r["peer_port"])


def row(f, lport, rport):
    return next((r for r in f["rows"] if r["local_port"] == lport and r["peer_port"] == rport),
                None)


def comm(pid):
    with open("/proc/%d/comm" % pid) as fh:
        return fh.read().rstrip("\n")


def default_wire(ns, tmp):
    """A connection made before top, one after; the frame that has the second
    one's wire states is compared with ss."""
    h = ns.holder()
    lis = h.listen("127.0.0.1", 7200)
    a = h.connect("127.0.0.1", 7200)
    a_srv = lis.accept()
    before = time.time()
    top = top_json(ns)
    try:
        first = top.frame()
        after = time.time()
        b = h.connect("127.0.0.1", 7200)
        b_srv = lis.accept()

        def seen(f):
            """Both ends have the wire's view, and their owner was looked up
            (new sockets' owners are, at most twice a second)."""
            rs = [row(f, x.local[1], x.peer[1]) for x in (b, b_srv)]
            return all(r and r["wire_local"] and r["process"] for r in rs)
        f = top.until(seen)
        ss = {r.key() for r in ns.ss("-tanH")}
    finally:
        rc, err = top.stop()
    frames = [json.loads(l) for l in top.lines]
    rep.check(first is not None and f is not None and len(frames) >= 2 and
              all(set(x) >= {"ts", "wire", "rows"} for x in frames) and
              first["wire"] and first["wire"]["source"] == "any",
              "json_frames_parse", "first frame %r; frames %d; rc %s stderr %r"
              % (top.lines[:1], len(top.lines), rc, err[-300:]))
    if f is None:
        rep.fail_rest(CASES[1:6], "no frame had both the wire's view and the owner of the "
                      "connection made after top started; last %r" % top.lines[-1:])
        return
    got = {key(r) for r in f["rows"]}
    rep.check(got == ss and len(got) == 5, "json_rows_are_ss_sockets",
              "top %s; ss %s" % (nslib.fmt_keys(got), nslib.fmt_keys(ss)))
    rep.check(before <= first["ts"] <= after and first["ts"] <= f["ts"] <= time.time(),
              "json_ts_is_wall_clock", "started at %f, first frame %f (out %f)"
              % (before, first["ts"], after))
    want = {"wire_local": "ESTABLISHED", "wire_peer": "ESTABLISHED", "wire_sure": True,
            "wire_disagree": False, "wire_only": False, "age_exact": True}
    new = [row(f, x.local[1], x.peer[1]) for x in (b, b_srv)]
    rep.check(all({k: r[k] for k in want} == want for r in new), "json_wire_after_start_sure",
              "rows %r" % new)
    old = [row(f, x.local[1], x.peer[1]) for x in (a, a_srv)]
    rep.check(all(r and r["wire_local"] is None and r["wire_peer"] is None and
                  r["wire_sure"] is None for r in old), "json_wire_null_before_start",
              "rows %r" % old)
    name = comm(h.pid)
    fds = {(x.local[1], x.peer[1]): x.fd for x in (a, a_srv, b, b_srv)}
    procs = {k: (row(f, *k) or {}).get("process") for k in fds}
    rep.check(all(p == {"pid": h.pid, "comm": name, "fd": fds[k], "closed": False}
                  for k, p in procs.items()),
              "json_process_named_after_root_dropped",
              "want %s[%d] with fds %r; rows' processes %r" % (name, h.pid, fds, procs))


TRAFFIC = ("import socket,time\n"
           "l=socket.socket();l.bind(('127.0.0.1',7201));l.listen()\n"
           "c=socket.create_connection(('127.0.0.1',7201));s,_=l.accept()\n"
           "c.sendall(b'x'*3000);s.recv(5000);s.sendall(b'y');c.recv(1)\n"
           "print(c.getsockname()[1])\n"
           "c.close();time.sleep(0.1);s.close();time.sleep(0.2)")


def any_once(ns, tmp):
    """tcpdump on lo and top on any, side by side, over one connection's life."""
    pcap = os.path.join(tmp, "lo.pcap")
    # Immediate mode: a packet waits in no buffer that SIGINT would throw away.
    dump = subprocess.Popen(["ip", "netns", "exec", ns.name, "tcpdump", "-i", "lo",
                             "--immediate-mode", "-U", "-w", pcap], stderr=subprocess.PIPE,
                            text=True)
    top = None
    try:
        if "listening" not in dump.stderr.readline():
            raise RuntimeError("tcpdump did not start")
        top = top_json(ns)
        if top.frame() is None:
            raise RuntimeError("top printed no frame")
        port = int(ns.exec([sys.executable, "-c", TRAFFIC], check=True).stdout)
        done = time.time()
        # Each frame reads what the capture holds first: the second frame
        # refreshed after the traffic ended has read all of it.
        n = [0]

        def after(f):
            n[0] += f["ts"] > done
            return n[0] == 2
        f = top.until(after)
    finally:
        rc, err = top.stop() if top else (None, "")
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
    seen = len(subprocess.run(["tcpdump", "-nn", "-r", pcap], capture_output=True,
                              text=True).stdout.splitlines())
    w = f and f["wire"]
    rep.check(w is not None and seen > 0 and w["packets"] == seen and
              w["kernel_received"] >= w["packets"] and w["kernel_dropped"] == 0,
              "json_any_counts_lo_once", "tcpdump -i lo saw %d packets; top's wire %r; rc %s "
              "stderr %r" % (seen, w, rc, err[-300:]))
    tw = f and row(f, port, 7201)
    rep.check(tw is not None and tw["state"] == "TIME-WAIT" and tw["wire_local"] == "TIME-WAIT"
              and tw["wire_peer"] == "CLOSED" and tw["wire_sure"] is True and
              not tw["wire_disagree"], "json_any_states_match_kernel", "row %r" % (tw,))


def netns_option(ns, tmp):
    """top -N NAME from outside: the capture is the namespace's own."""
    h = ns.holder()
    lis = h.listen("127.0.0.1", 7202)
    top = top_json(ns, netns_opt=True)
    try:
        first = top.frame()
        c = h.connect("127.0.0.1", 7202)
        lis.accept()
        f = top.until(lambda f: (row(f, c.local[1], 7202) or {}).get("wire_local"))
    finally:
        rc, err = top.stop()
    r = f and row(f, c.local[1], 7202)
    rep.check(first is not None and first["wire"] is not None and r is not None and
              r["wire_local"] == "ESTABLISHED" and r["wire_sure"] is True,
              "json_netns_option_captures_inside",
              "row %r; first frame %r; rc %s stderr %r" % (r, top.lines[:1], rc, err[-300:]))


def wire_off(ns, tmp):
    """As nobody, and as root with --no-wire: off, and why, in both outputs."""
    h = ns.holder()
    lis = h.listen("127.0.0.1", 7203)
    h.connect("127.0.0.1", 7203)
    lis.accept()
    for name, user, opts, why, line in (
            ("nobody", NOBODY, [], NO_PRIVILEGE, "Wire: off: " + NO_PRIVILEGE),
            ("no_wire", [], ["--no-wire"], "--no-wire", "Wire: off (--no-wire)")):
        j = ns.exec([*user, TCPSTATE, "top", "-b", "-n", "2", "-d", "0.1", "--json", *opts])
        frames = [json.loads(l) for l in j.stdout.splitlines()]
        ok = (j.returncode == 0 and j.stderr == "" and len(frames) == 2 and
              all(f["wire"] is None and f["wire_off_reason"] == why and len(f["rows"]) == 3 and
                  all(r["wire_local"] is None for r in f["rows"]) for f in frames))
        rep.check(ok, "json_%s_%s" % (name, "wire_off_says_why" if user else "says_why"),
                  "rc %d stderr %r stdout %r" % (j.returncode, j.stderr, j.stdout[:400]))
        t = ns.exec([*user, TCPSTATE, "top", "-b", "-n", "1", *opts])
        wl = [l for l in t.stdout.splitlines() if l.startswith("Wire:")]
        rep.check(t.returncode == 0 and t.stderr == "" and wl == [line],
                  "text_%s_%s" % (name, "wire_off_says_why" if user else "says_why"),
                  "rc %d stderr %r Wire lines %r" % (t.returncode, t.stderr, wl))


def screen(ns, tmp):
    """The screen, as `tcpstate` alone runs it: the Wire column of a
    connection made after it started."""
    h = ns.holder()
    lis = h.listen("127.0.0.1", 7204)
    tm = Tmux()
    try:
        tm.new("t", "ip netns exec %s %s top -d 0.3; sleep 60" % (ns.name, TCPSTATE), 150, 40)
        s0 = tm.wait(lambda s: "Wire: capturing on any" in s and "Recv-Q" in s, 10)
        c = h.connect("127.0.0.1", 7204)
        lis.accept()
        mine = re.compile(r"^ESTABLISHED +127\.0\.0\.1:%d +127\.0\.0\.1:7204 +ESTAB/ESTAB "
                          % c.local[1])
        s = tm.wait(lambda s: any(mine.match(r) for r in rows(s)), 10)
        tm.keys("t", "q")
    finally:
        tm.kill()
    rep.check("Wire: capturing on any" in s0 and any(mine.match(r) for r in rows(s)),
              "screen_default_wire_column", "first screen %r; then rows %r" % (s0[:600], rows(s)))


def body(ns, tmp):
    default_wire(ns, tmp)
    with nslib.Netns() as ns2:
        any_once(ns2, tmp)
    with nslib.Netns() as ns3:
        netns_option(ns3, tmp)
    with nslib.Netns() as ns4:
        wire_off(ns4, tmp)
    with nslib.Netns() as ns5:
        screen(ns5, tmp)


nslib.in_netns(rep, CASES, body)
