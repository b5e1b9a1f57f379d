#!/usr/bin/env python3
"""The live capture path (issue 16): its kernel filter, its reader thread,
and its drop counts.

Filter: on a veth pair in a namespace of its own (IPv6 off, so that nothing
but what the test sends crosses it), frames written onto one end with a
packet socket: TCP SYNs plain over IPv4 and IPv6, with a VLAN tag in the
frame, with two (QinQ), over PPPoE, and over IPv6 with a hop-by-hop header,
each to its own port; and UDP and ARP frames.  `watch -i` on that end sees
every SYN, and the kernel's count of what its filter passed is the SYNs
alone: the UDP and ARP frames never reach the ring.  With -f 'port 7005'
(libpcap's "port", which reads IPv6's first header only, as ever) it sees
that SYN alone, and the kernel counts it alone.

Reader: `watch -i lo --json` whose stdout nobody reads while 400
connections come and go (the pipe fills, and watch's own thread blocks in
write()): once its output is read, every connection is there, and neither
the kernel nor tcpstate dropped a packet.  (Before the reader thread the
ring was read by the blocked thread: it overflowed.)  And the kernel's
count is the packets watch took: on lo it skips the outgoing copy of each.

Drops: with a ring of one block (-B 1) under churn as fast as bench/churn
goes, top -b's Wire line counts drops, with their rate, and so do top's and
watch's reports at exit.  And the engine learns of them: a connection both
of whose ends were proved before the drops, and quiet through them, closes
after them: its client's FIN-WAIT-1 is not sure (watch --json), where the
same close before the drops was.

Root only, with ip and cc (bench/churn is compiled here)."""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

CASES = ["filter_plain_ipv4", "filter_plain_ipv6", "filter_vlan_tag_in_frame",
         "filter_qinq", "filter_pppoe", "filter_ipv6_hop_by_hop", "filter_passes_tcp_only",
         "filter_user_expression_within", "reader_keeps_reading_while_output_blocks",
         "loopback_packets_copied_once",
         "drops_in_top_header", "drops_in_top_exit_report", "drops_in_watch_exit_report",
         "drops_reach_the_engine"]
REPORT = re.compile(r"(\d+) packets, .*; kernel: (\d+) received, (\d+) dropped; "
                    r"tcpstate: (\d+) dropped \(queue full\)")

# ---- frames -----------------------------------------------------------------

SRC4, DST4 = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
SRC6 = bytes.fromhex("fd000000000000000000000000000001")
DST6 = bytes.fromhex("fd000000000000000000000000000002")
MACS = bytes.fromhex("020000000002") + bytes.fromhex("020000000001")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp_syn(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)


def ipv4(proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, SRC4, DST4)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ipv6(nxt, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, SRC6, DST6) + payload


def hop_by_hop(nxt, payload):
    # Next header, length 0 (8 bytes), a PadN option of 4 bytes.
    return struct.pack("!BB", nxt, 0) + bytes([1, 4, 0, 0, 0, 0]) + payload


def eth(etype, payload):
    frame = MACS + struct.pack("!H", etype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))


def vlan(vid, etype, payload):
    return struct.pack("!HH", vid, etype) + payload


def pppoe(payload):
    # Version and type 1, session code 0, session 0x1234, then PPP's IPv4.
    return struct.pack("!BBHHH", 0x11, 0, 0x1234, len(payload) + 2, 0x0021) + payload


def syns():
    """port -> (case, frame)."""
    t = tcp_syn
    return {
        7000: ("filter_plain_ipv4", eth(0x0800, ipv4(6, t(40000, 7000)))),
        7001: ("filter_vlan_tag_in_frame", eth(0x8100, vlan(10, 0x0800, ipv4(6, t(40001, 7001))))),
        7002: ("filter_qinq", eth(0x88a8, vlan(20, 0x8100, vlan(30, 0x0800,
                                                               ipv4(6, t(40002, 7002)))))),
        7003: ("filter_ipv6_hop_by_hop", eth(0x86dd, ipv6(0, hop_by_hop(6, t(40003, 7003))))),
        7004: ("filter_pppoe", eth(0x8864, pppoe(ipv4(6, t(40004, 7004))))),
        7005: ("filter_plain_ipv6", eth(0x86dd, ipv6(6, t(40005, 7005)))),
    }


def noise():
    """Frames the kernel filter must keep out: UDP over IPv4 and IPv6, ARP."""
    udp = struct.pack("!HHHH", 5353, 5353, 8, 0)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MACS[6:], SRC4, bytes(6), DST4)
    return [eth(0x0800, ipv4(17, udp))] * 20 + [eth(0x86dd, ipv6(17, udp))] * 20 + \
        [eth(0x0806, arp)] * 10


INJECT = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    s.send(bytes.fromhex(line.strip()))
"""

# ---- running watch and top --------------------------------------------------


class Lines:
    """A process's stdout, read on a thread as it comes."""

    def __init__(self, p):
        self.p, self.lines, self.lock = p, [], threading.Lock()
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stdout:
            with self.lock:
                self.lines.append(line)

    def snapshot(self):
        with self.lock:
            return list(self.lines)


def packet_sockets(ns):
    r = ns.exec(["cat", "/proc/net/packet"])
    return len(r.stdout.splitlines()) - 1


def start(ns, argv, want_sockets=1, stdout=subprocess.PIPE):
    """argv in ns; returns once its capture is open."""
    p = subprocess.Popen(["ip", "netns", "exec", ns.name] + argv, stdout=stdout,
                         stderr=subprocess.PIPE, text=True)
    ns.procs.append(p)
    p.stdin = open(os.devnull)  # Netns.destroy() closes them
    if p.stdout is None:
        p.stdout = open(os.devnull)
    while packet_sockets(ns) < want_sockets:
        if p.poll() is not None:
            raise nslib.Fail("%s exited %s: %s" % (argv[1], p.returncode, p.stderr.read()))
        time.sleep(0.05)
    return p


def stop(p):
    """SIGINT; returns (exit code, stderr)."""
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    return p.wait(30), err


def wait_until(cond, what, limit=60):
    """Poll cond() until true; a limit far beyond need ends a hung run as a failure."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise nslib.Fail("never saw " + what)
        time.sleep(0.05)


def ports_seen(lines):
    seen = set()
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        seen.add(e["port"])
        seen.add(e["peer_port"])
    return seen


# ---- the cases --------------------------------------------------------------


def veth(ns):
    ns.exec(["ip", "link", "add", "tsa", "type", "veth", "peer", "name", "tsb"], check=True)
    for dev in ("tsa", "tsb"):
        ns.sysctl("net.ipv6.conf.%s.disable_ipv6" % dev, 1)
        ns.exec(["ip", "link", "set", dev, "up"], check=True)


def inject(ns, frames):
    ns.exec([sys.executable, "-c", INJECT, "tsa"], check=True,
            input="".join(f.hex() + "\n" for f in frames))


def filter_cases(ns):
    frames = syns()
    p = start(ns, [TCPSTATE, "watch", "-i", "tsa", "--json"])
    out = Lines(p)
    inject(ns, [f for _, f in frames.values()] + noise())
    want = set(frames)
    try:
        wait_until(lambda: want <= ports_seen(out.snapshot()), "every SYN", limit=20)
    except nslib.Fail:
        pass
    rc, err = stop(p)
    out.t.join(10)
    seen = ports_seen(out.snapshot())
    for port, (case, _) in sorted(frames.items()):
        rep.check(port in seen, case, "no event for the SYN to port %d; seen %s; stderr %r"
                  % (port, sorted(seen), err))
    m = REPORT.search(err)
    rep.check(rc == 0 and m is not None and int(m[2]) == len(frames), "filter_passes_tcp_only",
              "exit %s; the kernel should count the %d SYNs alone: %r" % (rc, len(frames), err))
    # The user's expression applies within the TCP filter.
    p = start(ns, [TCPSTATE, "watch", "-i", "tsa", "--json", "-f", "port 7005"])
    out = Lines(p)
    inject(ns, [f for _, f in frames.values()] + noise())
    try:
        wait_until(lambda: 7005 in ports_seen(out.snapshot()), "the SYN to 7005", limit=20)
    except nslib.Fail:
        pass
    rc, err = stop(p)
    out.t.join(10)
    seen = ports_seen(out.snapshot()) - {40005}
    m = REPORT.search(err)
    rep.check(rc == 0 and seen == {7005} and m is not None and int(m[2]) == 1,
              "filter_user_expression_within",
              "exit %s, ports %s, stderr %r" % (rc, sorted(seen), err))


CLIENTS = r"""
import socket, sys
n = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 7100)); l.listen(1024)
for i in range(n):
    c = socket.create_connection(("127.0.0.1", 7100)); s, _ = l.accept()
    c.sendall(b"hello"); s.recv(5); c.close(); s.close()
"""


def slow_consumer(ns):
    n = 400
    p = start(ns, [TCPSTATE, "watch", "-i", "lo", "--json", "-f", "tcp port 7100"])
    # Nobody reads watch's output while the connections come and go.
    ns.exec([sys.executable, "-c", CLIENTS, str(n)], check=True, timeout=120)
    pipe = fcntl.fcntl(p.stdout.fileno(), 1032)  # F_GETPIPE_SZ
    out = Lines(p)

    def conns():
        return {e for e in ports_seen(out.snapshot()) if e != 7100}
    try:
        wait_until(lambda: len(conns()) >= n, "all %d connections" % n)
    except nslib.Fail:
        pass
    rc, err = stop(p)
    out.t.join(10)
    size = sum(len(x) for x in out.snapshot())
    m = REPORT.search(err)
    ok = (rc == 0 and len(conns()) == n and size > pipe and m is not None and
          int(m[3]) == 0 and int(m[4]) == 0)
    rep.check(ok, "reader_keeps_reading_while_output_blocks",
              "exit %s, %d of %d connections, %d bytes of output through a pipe of %d; %r"
              % (rc, len(conns()), n, size, pipe, err))
    # lo shows the kernel each packet twice, out and in: it copies one.
    rep.check(m is not None and int(m[1]) > 0 and int(m[2]) == int(m[1]),
              "loopback_packets_copied_once", "stderr %r" % err)


def build_churn(tmp):
    out = os.path.join(tmp, "churn")
    subprocess.run(["cc", "-std=gnu11", "-O2", "-pthread", "-o", out,
                    os.path.join(nslib.REPO, "bench", "churn.c")], check=True)
    return out


def churn(ns, exe, seconds):
    return subprocess.Popen(["ip", "netns", "exec", ns.name, exe, "-r", "0", "-t", "2", "-d",
                             str(seconds), "-p", "5000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


HELD = r"""
import socket, sys
port = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen()
c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept()
c.sendall(b"ping"); s.recv(4); s.sendall(b"pong"); c.recv(4)
print("ready", flush=True)
sys.stdin.readline()
c.shutdown(socket.SHUT_WR); s.recv(1); s.close(); c.recv(1); c.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def close_held(p):
    p.stdin.write("\n")
    p.stdin.flush()
    if p.stdout.readline().strip() != "closed":
        raise nslib.Fail("a held connection did not close")


def fin_sure(path, port):
    """watch --json's "sure" for the FIN-WAIT-1 of the client of port, or None."""
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["peer_port"] == port and e["endpoint"] == "orig" and e["to"] == "FIN-WAIT-1":
                return e["sure"]
    return None


def drop_cases(ns, tmp):
    exe = build_churn(tmp)
    ns.sysctl("net.ipv4.ip_local_port_range", "10000 65535")
    ns.sysctl("net.ipv4.tcp_tw_reuse", 1)
    top = start(ns, [TCPSTATE, "top", "-b", "-d", "0.5", "-i", "lo", "-B", "1", "--rows", "1"])
    events = os.path.join(tmp, "watch.json")
    with open(events, "w") as f:
        watch = start(ns, [TCPSTATE, "watch", "-i", "lo", "-B", "1", "--json"], want_sockets=2,
                      stdout=f)
    out = Lines(top)

    def frames():
        return sum(1 for x in out.snapshot() if x.startswith("Wire:"))
    wait_until(lambda: frames() >= 1, "top's first frame")
    # Two connections proved on both ends: one closes now, one after the drops.
    before, after = ns.spawn(HELD, 7201), ns.spawn(HELD, 7200)
    close_held(before)
    wait_until(lambda: fin_sure(events, 7201) is not None, "the first held connection's FIN")
    load = churn(ns, exe, 3)
    load.wait(60)
    time.sleep(1)  # the reader reads the kernel's drop count every 100 ms
    close_held(after)
    wait_until(lambda: fin_sure(events, 7200) is not None, "the second held connection's FIN")
    # Two frames after the load: the rate of the last interval that saw drops is in one.
    after = frames()
    wait_until(lambda: frames() >= after + 2, "top's frames after the load")
    rc, err = stop(top)
    wrc, werr = stop(watch)
    out.t.join(10)
    wires = [x for x in out.snapshot() if x.startswith("Wire:")]
    dropped = [re.search(r"; dropped (\d+) \((\d+)/s\): kernel (\d+) of \d+, "
                         r"tcpstate (\d+)$", x) for x in wires]
    rep.check(any(m and int(m[1]) > 0 and int(m[1]) == int(m[3]) + int(m[4]) for m in dropped)
              and any(m and int(m[2]) > 0 for m in dropped), "drops_in_top_header",
              "Wire lines: %r" % wires[-3:])
    m = REPORT.search(err)
    rep.check(rc == 0 and m is not None and int(m[3]) > 0, "drops_in_top_exit_report",
              "exit %s: %r" % (rc, err))
    m = REPORT.search(werr)
    rep.check(m is not None and int(m[3]) > 0, "drops_in_watch_exit_report",
              "exit %s: %r" % (wrc, werr))
    sure = (fin_sure(events, 7201), fin_sure(events, 7200))
    rep.check(sure == (True, False), "drops_reach_the_engine",
              "FIN-WAIT-1 sure before the drops, and after them: %r" % (sure,))


def ready():
    return nslib.prereqs_ok() and shutil.which("cc") is not None


TCPSTATE = nslib.TCPSTATE
rep = nslib.begin("live_capture", CASES, watchdog=280, ready=ready,
                  why="needs root, ip, nft, ss and cc")


def body(ns, tmp):
    veth(ns)
    filter_cases(ns)
    slow_consumer(ns)
    drop_cases(ns, tmp)


nslib.in_netns(rep, CASES, body)
