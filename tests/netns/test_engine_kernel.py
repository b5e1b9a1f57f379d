#!/usr/bin/env python3
"""End-to-end: the wire state engine (`tcpstate list -r --at`) vs the kernel.

Root only.  Inside a private network namespace, tcpdump captures loopback
while real sockets go through the scenarios below.  After each scenario
settles, a checkpoint records the time and the kernel's state of BOTH
endpoints (`ss -tanH`; a socket absent from ss is CLOSED).  When all are
done the capture is stopped and, for every checkpoint, the engine's view as
of that moment (`tcpstate list -r FILE --json --at T`) must name the same
state for each endpoint as the kernel did.  The kernel is the oracle.

Packets are lost on purpose only with nft rules in the namespace's OUTPUT
hook: the packet is dropped before the capture point, so the capture holds
exactly what the receiver got.

Scenarios run in parallel, each in its own thread, with its own holder
process and its own ports (server port 7000 + 10 * n).

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.  Lines starting with '#'
are evidence for a failure (kernel states, engine rows, packets).
"""

import atexit
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True  # leave no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd  # noqa: E402

PREFIX = "engine_kernel"

# (case name, scenario number); number 0 = a case checked from `watch`.
SCENARIOS = [
    ("close_by_client", 1),
    ("close_by_server", 2),
    ("half_close_with_data", 3),
    ("linger0_abort", 4),
    ("close_with_unread_data", 5),
    ("refused_syn", 6),
    ("unanswered_syn", 7),
    ("lost_handshake_ack", 8),
    ("fin_never_acked", 9),
    ("lost_last_ack", 10),
    ("simultaneous_close", 11),
    ("timewait_tuple_reuse", 12),
    ("midstream", 13),
    ("ipv6_close_by_client", 14),
    ("ipv6_fd00_close_by_server", 15),
    ("data_and_fin_in_one_segment", 16),
    ("simultaneous_open", 17),
    ("data_after_close_rst", 18),
    ("midstream_half_closed", 19),
]
WATCH_CASES = [
    "unanswered_syn_causes",
    "lost_handshake_ack_causes",
    "timewait_tuple_reuse_watch",
]
CASES = [n for n, _ in SCENARIOS] + WATCH_CASES

V6_ADDRS = ["fd00::1/64", "fd00::2/64"]
FIXED_PORT_REFUSED = 30006   # client port of scenario 6
FIXED_PORT_REUSE = 30012     # client port of scenario 12
MARKER_PORT = 9              # nothing listens: the capture check's SYN/RST

WATCHDOG = 85
SCENARIO_DEADLINE = 45       # seconds for all scenario threads together


def server_port(n):
    return 7000 + 10 * n


# --------------------------------------------------------------------------
# nslib's socket holder, with this file's defaults.


class Holder(nslib.Holder):
    """IPv6 sockets are v6-only, so that no scenario sees a v4-mapped
    address; a non-blocking connect may be refused, which the refused-SYN
    scenarios are about."""

    def listen(self, addr, port, family=4, **kw):
        if family == 6:
            kw.setdefault("v6only", 1)
        return super().listen(addr, port, family=family, **kw)

    def connect(self, addr, port, family=4, **kw):
        if family == 6:
            kw.setdefault("v6only", 1)
        if kw.get("nonblock"):
            kw.setdefault("refused_ok", True)
        return super().connect(addr, port, family=family, **kw)


# --------------------------------------------------------------------------
# Small helpers


def canon(addr):
    return nslib.canon_addr(addr)


def ep_str(ep):
    a, p = ep
    return ("[%s]:%d" % (a, p)) if ":" in a else "%s:%d" % (a, p)


class Conn:
    """The two endpoints of one connection, as (canonical addr, port)."""

    def __init__(self, client, server):
        self.client = (canon(client[0]), int(client[1]))
        self.server = (canon(server[0]), int(server[1]))

    def ends(self):
        return {"client": self.client, "server": self.server}

    def peer(self, who):
        return self.server if who == "client" else self.client

    def __str__(self):
        return "%s -> %s" % (ep_str(self.client), ep_str(self.server))


class Checkpoint:
    def __init__(self, scen, label, conn, t, kernel, want, checks):
        self.scen = scen        # Scenario
        self.label = label
        self.conn = conn
        self.t = t
        self.kernel = kernel    # {"client": state, "server": state}
        self.want = want        # what the scenario meant to produce
        self.checks = checks    # extra engine checks: instance, midstream, unsure


class Ctx:
    """What a scenario thread works with."""

    def __init__(self, run, scen, holder):
        self.run = run
        self.ns = run.ns
        self.scen = scen
        self.h = holder
        self.port = server_port(scen.num)

    # ---- kernel ----------------------------------------------------------

    def kernel_states(self, conn):
        table = {}
        for r in self.ns.ss("-tanH"):
            table.setdefault((r.local, r.peer), r.state)
        return {who: table.get((ep, conn.peer(who)), "CLOSED")
                for who, ep in conn.ends().items()}

    def wait_states(self, conn, want, timeout=5.0, strict=True, what=None):
        deadline = time.monotonic() + timeout
        while True:
            got = self.kernel_states(conn)
            if got == want:
                return got
            if time.monotonic() > deadline:
                if strict:
                    raise Fail("scenario setup: the kernel did not reach %s%s "
                               "for %s within %.0fs; it shows %s"
                               % (fmt_states(want),
                                  " (%s)" % what if what else "", conn,
                                  timeout, fmt_states(got)))
                return got
            time.sleep(0.02)

    def checkpoint(self, label, conn, want, strict=True, timeout=5.0,
                   **checks):
        """Wait for the kernel to settle in `want`, then record its state."""
        self.wait_states(conn, want, timeout=timeout, strict=strict, what=label)
        time.sleep(0.05)  # let any trailing segment pass
        for _ in range(50):
            k1 = self.kernel_states(conn)
            t = time.time()
            k2 = self.kernel_states(conn)
            if k1 == k2:
                cp = Checkpoint(self.scen, label, conn, t, k1, want, checks)
                self.scen.checkpoints.append(cp)
                return cp
            time.sleep(0.05)
        raise Fail("scenario setup: kernel states of %s never stable" % conn)

    # ---- nft -------------------------------------------------------------

    def nft_add(self, rule):
        return self.run.nft_add(rule)

    def nft_del(self, handle):
        self.run.nft_del(handle)

    # ---- sockets ---------------------------------------------------------

    def pair(self, addr="127.0.0.1", family=4, bind=None):
        """A listener on the scenario's port, a connected client and the
        accepted server, and their Conn."""
        l, c, s = self.h.pair(addr, self.port, family=family, bind=bind)
        return l, c, s, Conn(c.local, s.local)


def fmt_states(d):
    return "client %s, server %s" % (d.get("client"), d.get("server"))


# --------------------------------------------------------------------------
# Scenarios.  Each runs in its own thread; a Fail or other exception is
# recorded and makes the scenario fail.

EST = "ESTABLISHED"


def close_client_first(x, c, s, conn):
    """An established connection: the client closes, then the server."""
    x.checkpoint("established", conn, {"client": EST, "server": EST})
    c.close()
    x.wait_states(conn, {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    s.close()
    x.checkpoint("closed", conn, {"client": "TIME-WAIT", "server": "CLOSED"})


def close_server_first(x, c, s, conn):
    """A connection: the server closes, then the client."""
    s.close()
    x.wait_states(conn, {"client": "CLOSE-WAIT", "server": "FIN-WAIT-2"})
    c.close()
    x.checkpoint("closed", conn, {"client": "CLOSED", "server": "TIME-WAIT"})


def sc_close_by_client(x):
    _, c, s, conn = x.pair()
    close_client_first(x, c, s, conn)


def sc_close_by_server(x):
    _, c, s, conn = x.pair()
    close_server_first(x, c, s, conn)


def sc_half_close(x):
    _, c, s, conn = x.pair()
    c.send(data="request")
    x.h.cmd("recv", id=s.id, n=7)
    c.shutdown(how="wr")
    x.wait_states(conn, {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    s.send(data="x" * 3000)      # the server keeps sending after the FIN
    x.h.cmd("recv", id=c.id, n=3000)
    s.send(data="y" * 500)       # and more, left unread at the client
    x.checkpoint("half-closed", conn,
                 {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    s.close()
    x.checkpoint("closed", conn, {"client": "TIME-WAIT", "server": "CLOSED"})


def sc_linger0(x):
    _, c, s, conn = x.pair()
    c.send(data="abc")
    x.wait_states(conn, {"client": EST, "server": EST})
    c.linger0()
    c.close()
    x.checkpoint("aborted", conn, {"client": "CLOSED", "server": "CLOSED"})


def sc_unread(x):
    _, c, s, conn = x.pair()
    c.send(data="z" * 1000)
    deadline = time.monotonic() + 5
    while True:  # the bytes must sit in the server's receive queue
        rows = [r for r in x.ns.ss("-tanH")
                if r.local == conn.server and r.peer == conn.client]
        if rows and rows[0].recv_q >= 1000:
            break
        if time.monotonic() > deadline:
            raise Fail("scenario setup: data never queued at the server")
        time.sleep(0.02)
    s.close()
    x.checkpoint("reset", conn, {"client": "CLOSED", "server": "CLOSED"})


def sc_refused(x):
    c = x.h.connect("127.0.0.1", x.port, nonblock=True,
                    bind=["127.0.0.1", FIXED_PORT_REFUSED])
    conn = Conn(("127.0.0.1", FIXED_PORT_REFUSED), ("127.0.0.1", x.port))
    x.checkpoint("refused", conn, {"client": "CLOSED", "server": "CLOSED"})
    c.close()


def sc_unanswered_syn(x):
    x.nft_add("tcp sport %d tcp flags & (syn|ack) == syn|ack drop" % x.port)
    x.h.listen("127.0.0.1", x.port)
    c = x.h.connect("127.0.0.1", x.port, nonblock=True)
    conn = Conn(c.local, ("127.0.0.1", x.port))
    x.checkpoint("syn-ack lost", conn,
                 {"client": "SYN-SENT", "server": "SYN-RECEIVED"})


def sc_lost_handshake_ack(x):
    h = x.nft_add("tcp dport %d tcp flags == ack drop" % x.port)
    l = x.h.listen("127.0.0.1", x.port)
    c = x.h.connect("127.0.0.1", x.port)
    conn = Conn(c.local, ("127.0.0.1", x.port))
    x.checkpoint("ack lost", conn, {"client": EST, "server": "SYN-RECEIVED"})
    # Let it through: the next SYN-ACK retransmission is acknowledged.
    x.nft_del(h)
    x.checkpoint("ack through", conn, {"client": EST, "server": EST},
                 timeout=10)
    l.accept()


def sc_fin_never_acked(x):
    _, c, s, conn = x.pair()
    x.wait_states(conn, {"client": EST, "server": EST})
    x.nft_add("tcp sport %d drop" % x.port)
    c.shutdown(how="wr")
    x.checkpoint("fin unacked", conn,
                 {"client": "FIN-WAIT-1", "server": "CLOSE-WAIT"})


def sc_lost_last_ack(x):
    _, c, s, conn = x.pair()
    c.close()
    x.wait_states(conn, {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    x.nft_add("tcp dport %d drop" % x.port)
    s.close()
    x.checkpoint("last ack lost", conn,
                 {"client": "TIME-WAIT", "server": "LAST-ACK"})


def sc_simultaneous_close(x):
    """Both FINs held back in OUTPUT while both ends shut down; once the
    rule goes, the retransmissions leave together and cross.  Whether they
    did is read from the capture; if not, try again on another port (the
    wire of an uncrossed attempt is an ordinary close, and the kernel's
    CLOSING/TIME-WAIT on it cannot be seen from the wire)."""
    attempts = []
    for attempt in range(3):
        port = x.port + attempt
        l = x.h.listen("127.0.0.1", port)
        c = x.h.connect("127.0.0.1", port)
        s = l.accept()
        conn = Conn(c.local, s.local)
        x.wait_states(conn, {"client": EST, "server": EST})
        h1 = x.nft_add("tcp dport %d tcp flags & fin == fin drop" % port)
        h2 = x.nft_add("tcp sport %d tcp flags & fin == fin drop" % port)
        x.h.cmd("shutdown_many", ids=[c.id, s.id], how="wr")
        x.wait_states(conn, {"client": "FIN-WAIT-1", "server": "FIN-WAIT-1"},
                      what="FINs held back")
        x.nft_del(h1)
        x.nft_del(h2)
        final = x.wait_states(conn, {"client": "TIME-WAIT", "server": "TIME-WAIT"},
                              strict=False)
        crossed = x.run.fins_crossed(conn)
        attempts.append("port %d: %s, FINs %s" % (port, fmt_states(final),
                                                  "crossed" if crossed else
                                                  "did not cross"))
        if crossed:
            x.checkpoint("fins crossed", conn,
                         {"client": "TIME-WAIT", "server": "TIME-WAIT"},
                         strict=False)
            x.scen.notes.append("; ".join(attempts))
            return
    raise Fail("scenario setup: the FINs never crossed on the wire (%s)"
               % "; ".join(attempts))


def sc_timewait_reuse(x):
    l = x.h.listen("127.0.0.1", x.port)
    bind = ["127.0.0.1", FIXED_PORT_REUSE]
    c = x.h.connect("127.0.0.1", x.port, bind=bind, reuseaddr=True)
    s = l.accept()
    conn = Conn(c.local, s.local)
    s.close()        # the server closes first: its end goes to TIME-WAIT
    x.wait_states(conn, {"client": "CLOSE-WAIT", "server": "FIN-WAIT-2"})
    c.close()
    x.checkpoint("server time-wait", conn,
                 {"client": "CLOSED", "server": "TIME-WAIT"}, instance=1)
    time.sleep(0.05)
    c2 = x.h.connect("127.0.0.1", x.port, bind=bind, reuseaddr=True)
    l.accept()
    if Conn(c2.local, s.local).client != conn.client:
        raise Fail("scenario setup: reconnect did not reuse port %d"
                   % FIXED_PORT_REUSE)
    x.checkpoint("tuple reused", conn, {"client": EST, "server": EST},
                 instance=2)


def pre_midstream(x):
    """Runs before the capture starts: the handshake is never captured."""
    _, c, s, conn = x.pair()
    x.wait_states(conn, {"client": EST, "server": EST})
    x.scen.state = (c, s, conn)


def sc_midstream(x):
    c, s, conn = x.scen.state
    c.send(data="hello after the capture started")
    x.h.cmd("recv", id=s.id, n=31)
    s.send(data="reply")
    x.h.cmd("recv", id=c.id, n=5)
    x.checkpoint("data", conn, {"client": EST, "server": EST}, midstream=True)
    c.close()
    x.wait_states(conn, {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    s.close()
    # Both FINs seen: no longer a guess.
    x.checkpoint("closed", conn, {"client": "TIME-WAIT", "server": "CLOSED"},
                 midstream=True, unsure=())


def pre_midstream_half_closed(x):
    """Before the capture: the client shuts its side, the server reads the FIN."""
    _, c, s, conn = x.pair()
    c.shutdown(how="wr")
    x.wait_states(conn, {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    x.scen.state = (c, s, conn)


def sc_midstream_half_closed(x):
    """The capture sees only the server's data and the client's ACKs: the
    same segments as an open connection.  The engine must say its states
    are a guess (list -r --json: orig_unsure, resp_unsure), not pass them
    off as known; the server's FIN alone does not settle them either."""
    c, s, conn = x.scen.state
    s.send(data="x" * 3000)
    x.h.cmd("recv", id=c.id, n=3000)
    x.checkpoint("data after the client's FIN", conn,
                 {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"},
                 midstream=True, unsure=("client", "server"))
    s.close()
    x.checkpoint("closed", conn, {"client": "TIME-WAIT", "server": "CLOSED"},
                 midstream=True, unsure=("client", "server"))


def sc_ipv6_close_by_client(x):
    _, c, s, conn = x.pair(addr="::1", family=6)
    c.send(data="six")
    x.h.cmd("recv", id=s.id, n=3)   # unread data would make close() a RST
    close_client_first(x, c, s, conn)


def sc_ipv6_fd00_close_by_server(x):
    _, c, s, conn = x.pair(addr="fd00::1", family=6, bind=["fd00::2", 0])
    close_server_first(x, c, s, conn)


def sc_data_and_fin(x):
    """Data held back in OUTPUT, then shutdown: the FIN rides on the unsent
    data segment, and the retransmission carries both."""
    _, c, s, conn = x.pair()
    x.wait_states(conn, {"client": EST, "server": EST})
    h = x.nft_add("tcp dport %d drop" % x.port)
    c.send(data="last words")
    c.shutdown(how="wr")
    x.wait_states(conn, {"client": "FIN-WAIT-1", "server": EST})
    x.nft_del(h)
    x.checkpoint("fin acked", conn,
                 {"client": "FIN-WAIT-2", "server": "CLOSE-WAIT"})
    pk = read_pcap(x.run.pcap)
    if any((canon(p[1]), p[2]) == conn.client and p[5] & FIN and p[8] > 0
           for p in pk):
        x.scen.notes.append("the FIN rode on a data segment")
    else:
        x.scen.notes.append("the FIN did not ride on the data segment")
    x.h.cmd("recv", id=s.id, n=10)
    s.close()
    x.checkpoint("closed", conn, {"client": "TIME-WAIT", "server": "CLOSED"})


def sc_simultaneous_open(x):
    """Two bound sockets connect to each other; their first SYNs are held
    back in OUTPUT, so the retransmissions (1 s later) cross."""
    pa, pb = x.port, x.port + 1
    h = x.nft_add("tcp sport { %d, %d } tcp flags & (syn|ack) == syn drop"
                  % (pa, pb))
    x.h.connect("127.0.0.1", pb, nonblock=True, bind=["127.0.0.1", pa])
    x.h.connect("127.0.0.1", pa, nonblock=True, bind=["127.0.0.1", pb])
    conn = Conn(("127.0.0.1", pa), ("127.0.0.1", pb))
    # No checkpoint here: nothing of this connection is on the wire yet.
    x.wait_states(conn, {"client": "SYN-SENT", "server": "SYN-SENT"})
    x.nft_del(h)
    x.checkpoint("open", conn, {"client": EST, "server": EST}, timeout=10)


def sc_data_after_close(x):
    """The server closes; data the client sends afterwards meets the
    server's orphaned FIN-WAIT-2 socket, which answers with a RST."""
    _, c, s, conn = x.pair()
    s.close()
    x.checkpoint("half-closed", conn,
                 {"client": "CLOSE-WAIT", "server": "FIN-WAIT-2"})
    c.send(data="too late")
    x.checkpoint("reset", conn, {"client": "CLOSED", "server": "CLOSED"})


FUNCS = {
    1: sc_close_by_client,
    2: sc_close_by_server,
    3: sc_half_close,
    4: sc_linger0,
    5: sc_unread,
    6: sc_refused,
    7: sc_unanswered_syn,
    8: sc_lost_handshake_ack,
    9: sc_fin_never_acked,
    10: sc_lost_last_ack,
    11: sc_simultaneous_close,
    12: sc_timewait_reuse,
    13: sc_midstream,
    14: sc_ipv6_close_by_client,
    15: sc_ipv6_fd00_close_by_server,
    16: sc_data_and_fin,
    17: sc_simultaneous_open,
    18: sc_data_after_close,
    19: sc_midstream_half_closed,
}
PRE = {13: pre_midstream, 19: pre_midstream_half_closed}


class Scenario:
    def __init__(self, name, num):
        self.name = name
        self.num = num
        self.checkpoints = []
        self.error = None      # Fail or other exception text
        self.notes = []
        self.state = None
        self.thread = None
        self.done = False


# --------------------------------------------------------------------------
# pcap reading (for the crossing check; tcpdump -U writes packet by packet)


def read_pcap(path):
    """[(ts, saddr, sport, daddr, dport, flags, seq, ack, paylen)]; a
    truncated last record (capture still running) is ignored."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise RuntimeError("%s: not a pcap file" % path)
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    out = []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        pkt = data[off:off + incl]
        off += incl
        ts = sec + frac / (1e9 if nsec else 1e6)
        if linktype == 1:          # Ethernet
            if len(pkt) < 14:
                continue
            etype = struct.unpack("!H", pkt[12:14])[0]
            ip = pkt[14:]
        elif linktype == 113:      # Linux cooked
            etype = struct.unpack("!H", pkt[14:16])[0]
            ip = pkt[16:]
        else:
            continue
        if etype == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6:
                continue
            total = struct.unpack("!H", ip[2:4])[0]
            src = str(ipaddress.IPv4Address(ip[12:16]))
            dst = str(ipaddress.IPv4Address(ip[16:20]))
            tcp = ip[ihl:]
            iplen = total - ihl
        elif etype == 0x86dd and len(ip) >= 40:
            if ip[6] != 6:
                continue
            src = str(ipaddress.IPv6Address(ip[8:24]))
            dst = str(ipaddress.IPv6Address(ip[24:40]))
            iplen = struct.unpack("!H", ip[4:6])[0]
            tcp = ip[40:]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        out.append((ts, src, sport, dst, dport, flags, seq, ack, iplen - doff))
    return out


FIN, SYN, RST, ACK = 1, 2, 4, 16


def seq_geq(a, b):
    return ((a - b) & 0xffffffff) < 0x80000000


# --------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, rep):
        self.rep = rep
        self.ns = None
        self.tmp = tempfile.mkdtemp(prefix="tcpstate-engine-kernel.")
        self.pcap = os.path.join(self.tmp, "lo.pcap")
        self.tcpdump = None
        self.tcpdump_err = os.path.join(self.tmp, "tcpdump.err")
        self.nft_lock = threading.Lock()
        self.keep = False
        self.scens = [Scenario(n, k) for n, k in SCENARIOS]
        self.list_cache = {}
        self.watch = None

    # ---- setup / teardown ------------------------------------------------

    def setup_ns(self):
        self.ns = nslib.Netns()
        for a in V6_ADDRS:
            self.ns.add_addr(a)
        # Fixed client ports stay outside the ephemeral range.
        self.ns.sysctl("net.ipv4.ip_local_port_range", "40000 60999")

    # The scenario threads share the namespace's one chain: one nft at a time.
    def nft_add(self, rule):
        with self.nft_lock:
            return self.ns.nft(rule)

    def nft_del(self, handle):
        with self.nft_lock:
            self.ns.nft_delete(handle)

    def start_capture(self, marker_holder):
        # -B: in immediate mode the kernel ring holds whole snaplen-sized
        # frames, so the default 2 MiB buffer is about eight packets; a busy
        # machine that delays tcpdump for a moment loses some (seen in CI as
        # "10 packets dropped by kernel", failing every scenario at once).
        argv = ["ip", "netns", "exec", self.ns.name, "tcpdump", "-i", "lo",
                "-U", "-n", "-s", "0", "--immediate-mode", "-B", "65536",
                "-Z", "root", "-w", self.pcap]
        err = open(self.tcpdump_err, "w")
        self.tcpdump = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                        stderr=err)
        err.close()
        deadline = time.monotonic() + 10
        while True:
            if self.tcpdump.poll() is not None:
                raise RuntimeError("tcpdump exited %d: %s" % (
                    self.tcpdump.returncode, self.read_err()))
            if "listening on" in self.read_err():
                break
            if time.monotonic() > deadline:
                raise RuntimeError("tcpdump did not start: %s" % self.read_err())
            time.sleep(0.05)
        # Prove it captures: a SYN to a closed port (and its RST) must land
        # in the file.
        deadline = time.monotonic() + 10
        while True:
            m = marker_holder.connect("127.0.0.1", MARKER_PORT, nonblock=True)
            m.close()
            time.sleep(0.2)
            pk = read_pcap(self.pcap) if os.path.exists(self.pcap) else []
            if any(p[4] == MARKER_PORT for p in pk):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("tcpdump captures nothing: %s" % self.read_err())
        time.sleep(0.5)

    def read_err(self):
        try:
            with open(self.tcpdump_err) as f:
                return f.read()
        except OSError:
            return ""

    def stop_capture(self):
        p = self.tcpdump
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(2)
                p.wait(timeout=10)
            except Exception:
                p.kill()
                p.wait(timeout=5)
        self.tcpdump = None

    def cleanup(self):
        self.stop_capture()
        if self.ns is not None:
            self.ns.destroy()
            self.ns = None
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- scenario threads ------------------------------------------------

    def run_scenarios(self):
        holders = {}
        for sc in self.scens:
            h = Holder(self.ns)
            self.ns.holders.append(h)
            holders[sc.num] = h
        ctxs = {sc.num: Ctx(self, sc, holders[sc.num]) for sc in self.scens}
        for sc in self.scens:
            if sc.num in PRE:
                try:
                    PRE[sc.num](ctxs[sc.num])
                except Exception as e:
                    sc.error = describe_exc(e)
        self.start_capture(holders[1])

        def body(sc):
            try:
                if sc.error is None:
                    FUNCS[sc.num](ctxs[sc.num])
            except Exception as e:
                sc.error = describe_exc(e)
            finally:
                sc.done = True

        for sc in self.scens:
            sc.thread = threading.Thread(target=body, args=(sc,), daemon=True)
            sc.thread.start()
        deadline = time.monotonic() + SCENARIO_DEADLINE
        for sc in self.scens:
            sc.thread.join(max(0.1, deadline - time.monotonic()))
            if not sc.done and sc.error is None:
                sc.error = "scenario timed out after %ds" % SCENARIO_DEADLINE
        time.sleep(0.3)
        self.stop_capture()
        err = self.read_err()
        for line in err.splitlines():
            if "dropped by kernel" in line and not line.startswith("0 "):
                raise RuntimeError("tcpdump lost packets: %s" % line)

    def fins_crossed(self, conn):
        """Did each side send its FIN before the other's FIN was acked?"""
        deadline = time.monotonic() + 3
        while True:
            pk = [p for p in read_pcap(self.pcap)
                  if {(canon(p[1]), p[2]), (canon(p[3]), p[4])}
                  == {conn.client, conn.server}]
            fin = {}
            for i, p in enumerate(pk):
                src = (canon(p[1]), p[2])
                if p[5] & FIN and src not in fin:
                    fin[src] = (i, (p[6] + p[8] + (1 if p[5] & SYN else 0)) & 0xffffffff)
            if len(fin) == 2:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

        def acked_at(side):
            idx, fseq = fin[side]
            for i, p in enumerate(pk):
                if (canon(p[1]), p[2]) != side and p[5] & ACK and \
                        seq_geq(p[7], (fseq + 1) & 0xffffffff):
                    return i
            return len(pk)
        a, b = conn.client, conn.server
        return fin[b][0] < acked_at(a) and fin[a][0] < acked_at(b)

    # ---- the engine ------------------------------------------------------

    def engine_rows(self, t):
        key = "%.6f" % t
        if key not in self.list_cache:
            argv = [nslib.TCPSTATE, "list", "-r", self.pcap, "--json", "--at", key]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                raise Fail("`%s` exited %d: %s" % (fmt_cmd(argv), p.returncode,
                                                   p.stderr.strip()[:300]))
            try:
                rows = json.loads(p.stdout)
            except ValueError as e:
                raise Fail("`%s` printed invalid JSON (%s): %r"
                           % (fmt_cmd(argv), e, p.stdout[:200]))
            if not isinstance(rows, list):
                raise Fail("`%s`: JSON is not an array" % fmt_cmd(argv))
            self.list_cache[key] = (argv, rows)
        return self.list_cache[key]

    def watch_events(self):
        if self.watch is None:
            argv = [nslib.TCPSTATE, "watch", "-r", self.pcap, "--json"]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                raise Fail("`%s` exited %d: %s" % (fmt_cmd(argv), p.returncode,
                                                   p.stderr.strip()[:300]))
            ev = []
            for line in p.stdout.splitlines():
                if line.strip():
                    try:
                        ev.append(json.loads(line))
                    except ValueError as e:
                        raise Fail("`%s` printed a bad NDJSON line (%s): %r"
                                   % (fmt_cmd(argv), e, line[:200]))
            self.watch = (argv, ev)
        return self.watch

    def rows_of(self, rows, conn):
        want = {conn.client, conn.server}
        out = []
        for o in rows:
            try:
                ends = {(canon(o["orig_addr"]), o["orig_port"]),
                        (canon(o["resp_addr"]), o["resp_port"])}
            except (KeyError, ValueError):
                continue
            if ends == want:
                out.append(o)
        return out

    def events_of(self, conn):
        _, ev = self.watch_events()
        want = {conn.client, conn.server}
        return [e for e in ev
                if {(canon(e["addr"]), e["port"]),
                    (canon(e["peer_addr"]), e["peer_port"])} == want]

    def check_checkpoint(self, cp):
        argv, rows = self.engine_rows(cp.t)
        mine = self.rows_of(rows, cp.conn)
        if not mine:
            return ("[%s @%.6f] no engine row for %s (kernel: %s)"
                    % (cp.label, cp.t, cp.conn, fmt_states(cp.kernel)))
        row = max(mine, key=lambda o: (o.get("instance", 0), o.get("conn", 0)))
        errs = []
        unsure = cp.checks.get("unsure")
        for who, ep in cp.conn.ends().items():
            side = "orig" if (canon(row["orig_addr"]), row["orig_port"]) == ep \
                else "resp"
            if unsure is not None:
                flag = row.get(side + "_unsure")
                if flag is not (who in unsure):
                    errs.append("%s %s (%s) expected %s_unsure %s got %r"
                                % (who, ep_str(ep), side, side, who in unsure, flag))
                if who in unsure:
                    continue  # a guess: what the kernel holds came before the capture
            got = row.get(side + "_state")
            if got != cp.kernel[who]:
                errs.append("%s %s (%s) expected %s (kernel) got %s"
                            % (who, ep_str(ep), side, cp.kernel[who], got))
        if "instance" in cp.checks and row.get("instance") != cp.checks["instance"]:
            errs.append("expected instance %s got %s (instances: %s)"
                        % (cp.checks["instance"], row.get("instance"),
                           sorted(o.get("instance") for o in mine)))
        if "midstream" in cp.checks and row.get("midstream") is not cp.checks["midstream"]:
            errs.append("expected midstream %s got %r"
                        % (cp.checks["midstream"], row.get("midstream")))
        if errs:
            return "[%s @%.6f] %s" % (cp.label, cp.t, "; ".join(errs))
        return None

    # ---- evidence --------------------------------------------------------

    def evidence(self, sc, cps):
        out = []
        ports = sorted({cp.conn.server[1] for cp in cps} or
                       {server_port(sc.num)})
        for cp in cps:
            out.append("kernel at %.6f (%s) for %s: %s" % (
                cp.t, cp.label, cp.conn, fmt_states(cp.kernel)))
            try:
                argv, rows = self.engine_rows(cp.t)
                for o in self.rows_of(rows, cp.conn):
                    out.append("engine `%s`: %s" % (fmt_cmd(argv), json.dumps(o)))
            except Fail as e:
                out.append("engine: %s" % e)
        if cps:
            try:
                for e in self.events_of(cps[0].conn):
                    out.append("watch: %.6f #%s/%s %s %s -> %s (%s)" % (
                        e["ts"], e.get("conn"), e.get("instance"), e["endpoint"],
                        e["from"], e["to"], e["cause"]))
            except Exception as e:
                out.append("watch: %s" % e)
        for port in ports:
            argv = ["tcpdump", "-tt", "-n", "-r", self.pcap, "port %d" % port]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            lines = p.stdout.splitlines()
            out.append("packets `%s` (%d):" % (fmt_cmd(argv), len(lines)))
            out.extend("  " + l for l in lines[:40])
            if len(lines) > 40:
                out.append("  ... %d more" % (len(lines) - 40))
        for line in out:
            print("#   " + line, flush=True)

    # ---- verdicts --------------------------------------------------------

    def judge(self):
        byname = {sc.name: sc for sc in self.scens}
        for sc in self.scens:
            errs = []
            if sc.error is not None:
                errs.append(sc.error)
            for cp in sc.checkpoints:
                try:
                    e = self.check_checkpoint(cp)
                except Fail as ex:
                    e = str(ex)
                if e:
                    errs.append(e)
            if not errs and not sc.checkpoints:
                errs.append("no checkpoint was recorded")
            if errs:
                self.keep = True
                self.rep.emit("FAIL", sc.name, " | ".join(errs))
                self.evidence(sc, sc.checkpoints)
            else:
                self.rep.emit("PASS", sc.name)
            for n in sc.notes:
                print("# %s: %s" % (sc.name, n), flush=True)

        for case, fn, scen in (
                ("unanswered_syn_causes", self.causes_unanswered, "unanswered_syn"),
                ("lost_handshake_ack_causes", self.causes_lost_ack,
                 "lost_handshake_ack"),
                ("timewait_tuple_reuse_watch", self.reuse_watch,
                 "timewait_tuple_reuse")):
            before = self.rep.failed
            self.rep.case(case, fn, byname[scen])
            if self.rep.failed != before:
                self.keep = True
                try:
                    self.evidence(byname[scen], byname[scen].checkpoints)
                except Exception as e:
                    print("#   evidence: %s" % describe_exc(e), flush=True)

    def _cp(self, sc, label):
        for cp in sc.checkpoints:
            if cp.label == label:
                return cp
        raise Fail("scenario %s recorded no '%s' checkpoint (%s)"
                   % (sc.name, label, sc.error or "?"))

    def _fail_with_events(self, sc, msg, conn):
        raise Fail(msg)  # judge() prints the evidence after the FAIL line

    @staticmethod
    def _fmt_ev(e):
        return "%s %s->%s (%s)" % (e["endpoint"], e["from"], e["to"], e["cause"])

    def _who(self, e, conn):
        return "client" if (canon(e["addr"]), e["port"]) == conn.client else "server"

    def _need(self, sc, ev, conn, wanted, before):
        """Each (who, from, to, cause) must be among ev with ts < before."""
        have = [(self._who(e, conn), e["from"], e["to"], e["cause"])
                for e in ev if e["ts"] < before]
        missing = [w for w in wanted if w not in have]
        if missing:
            self._fail_with_events(
                sc, "transitions of %s before %.6f lack %s; got %s"
                % (conn, before, missing, [self._fmt_ev(e) for e in ev
                                           if e["ts"] < before]), conn)

    def causes_unanswered(self, sc):
        cp = self._cp(sc, "syn-ack lost")
        ev = self.events_of(cp.conn)
        self._need(sc, ev, cp.conn, [
            ("client", "CLOSED", "SYN-SENT", "SYN sent"),
            ("server", "LISTEN", "SYN-RECEIVED", "SYN received"),
        ], cp.t)
        bad = [e for e in ev if e["ts"] < cp.t and e["to"] not in
               ("SYN-SENT", "SYN-RECEIVED")]
        if bad:
            self._fail_with_events(sc, "unexpected transitions: %s"
                                   % [self._fmt_ev(e) for e in bad], cp.conn)

    def causes_lost_ack(self, sc):
        cp1 = self._cp(sc, "ack lost")
        cp2 = self._cp(sc, "ack through")
        ev = self.events_of(cp1.conn)
        self._need(sc, ev, cp1.conn, [
            ("client", "CLOSED", "SYN-SENT", "SYN sent"),
            ("server", "LISTEN", "SYN-RECEIVED", "SYN received"),
            ("client", "SYN-SENT", "ESTABLISHED", "SYN-ACK received"),
        ], cp1.t)
        early = [e for e in ev if e["ts"] < cp1.t and
                 self._who(e, cp1.conn) == "server" and e["to"] == "ESTABLISHED"]
        if early:
            self._fail_with_events(sc, "server established before its ACK "
                                   "arrived: %s" % [self._fmt_ev(e) for e in early],
                                   cp1.conn)
        self._need(sc, ev, cp1.conn, [
            ("server", "SYN-RECEIVED", "ESTABLISHED", "ACK of SYN received"),
        ], cp2.t)

    def reuse_watch(self, sc):
        cp = self._cp(sc, "tuple reused")
        ev = self.events_of(cp.conn)
        reuse = [e for e in ev if e["ts"] < cp.t and "reuses" in e["cause"]]
        if not reuse:
            self._fail_with_events(sc, "no transition of %s with a cause "
                                   "containing 'reuses'; got %s"
                                   % (cp.conn, [self._fmt_ev(e) for e in ev]),
                                   cp.conn)
        inst2 = [e for e in ev if e.get("instance") == 2]
        if not inst2:
            self._fail_with_events(sc, "no transition of instance 2 of %s"
                                   % cp.conn, cp.conn)


def describe_exc(e):
    if isinstance(e, Fail):
        return str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = ("%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno)) if tb else "?"
    return "%s: %s (at %s)" % (type(e).__name__, e, where)


def main():
    rep = nslib.begin(PREFIX, CASES, WATCHDOG, tools=nslib.NETNS_TOOLS + ("tcpdump",))
    run = Run(rep)
    atexit.register(run.cleanup)
    try:
        nslib.need_tcpstate()
        run.setup_ns()
        run.run_scenarios()
        run.judge()
    except BaseException as e:
        run.keep = isinstance(e, Exception)
        why = describe_exc(e) if isinstance(e, Exception) else \
            "interrupted (%s)" % type(e).__name__
        rep.fail_rest(CASES, why)
        if not isinstance(e, Exception):
            nslib.stop_watchdog()
            run.cleanup()
            raise
    finally:
        nslib.stop_watchdog()
        if run.keep and os.path.exists(run.pcap):
            print("# capture kept: %s" % run.pcap, flush=True)
        run.cleanup()
    rep.exit()


if __name__ == "__main__":
    main()
