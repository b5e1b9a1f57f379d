#!/usr/bin/env python3
"""A dual-stack server joined with the wire, as root, in namespaces of its
own: a real listener (AF_INET6 bound to [::], IPV6_V6ONLY off) accepting
IPv4 clients, whose sockets the kernel shows as [::ffff:a.b.c.d], while the
capture sees a.b.c.d.  With a live capture (`top -b -i IFACE`):
 - on lo, clients in the same namespace: each accepted row shows the
   wire's states, not "-";
 - across a veth pair, clients in another namespace (so that no client
   socket on this side can claim the wire's connection): each accepted
   row shows the wire's states, and there is no "(wire only)" duplicate.
"""
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

TCPSTATE = nslib.TCPSTATE

CASES = ["lo_accepted_rows_show_wire_state", "veth_accepted_rows_show_wire_state",
         "veth_no_wire_only_duplicates"]
rep = nslib.begin("dualstack", CASES, watchdog=None, tools=("ip", "ss"))

PORT = 7000

# The server: a dual-stack listener; accepts N clients and holds them.
SERVER = r"""
import socket, sys
n = int(sys.argv[1])
l = socket.socket(socket.AF_INET6)
l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("::", %d)); l.listen(16)
# A second socket: a refresh of exactly one socket is another issue's crash.
o = socket.socket(); o.bind(("127.0.0.1", 7999)); o.listen()
print("listening", flush=True)
keep = [l.accept()[0] for _ in range(n)]
for s in keep:
    s.send(b"x")
print("accepted", flush=True)
sys.stdin.read()
""" % PORT

CLIENT = r"""
import socket, sys
keep = [socket.create_connection((sys.argv[1], %d)) for _ in range(int(sys.argv[2]))]
for c in keep:
    c.recv(1)
print("connected", flush=True)
sys.stdin.read()
""" % PORT


def spawn(ns, src, *args):
    return ns.popen([sys.executable, "-c", src, *args], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True)


def expect(p, word, timeout=10):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    line = p.stdout.readline().strip() if r else ""
    if line != word:
        raise RuntimeError("expected %r from a helper, got %r" % (word, line))


def run_top(ns, iface, connect):
    """Frames of `top -b -i iface`, with the connections made once it captures."""
    top = ns.popen([TCPSTATE, "top", "-b", "-d", "0.5", "-n", "10", "-i", iface,
                    "sport", "=", ":%d" % PORT, "or", "dport", "=", ":%d" % PORT],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first frame is printed once the capture is open.
    deadline = time.time() + 10
    while time.time() < deadline:
        line = top.stdout.readline()
        if not line or line.startswith("Wire:"):
            break
    connect()
    out, err = top.communicate(timeout=30)
    frames = [f for f in out.split("tcpstate top - ") if f.strip()]
    if top.returncode != 0 or not frames:
        raise RuntimeError("top exited %d: %s" % (top.returncode, err.strip()[:300]))
    return frames[-1]


def accepted_rows(frame):
    """(peer, wire) of each row of a socket the server accepted."""
    rows = []
    for l in frame.splitlines():
        f = l.split()
        if len(f) >= 4 and f[0] == "ESTABLISHED" and f[1].endswith("]:%d" % PORT):
            rows.append((f[2], f[3]))
    return rows


def wire_only(frame):
    return [l for l in frame.splitlines() if l.startswith("(wire only)")]


def accepted_join(srv_ns, cli_ns, server_addr, iface):
    """The last frame of top in srv_ns while cli_ns's 3 clients connect to
    server_addr, and the accepted rows' (peer, wire)."""
    srv = spawn(srv_ns, SERVER, "3")
    expect(srv, "listening")

    def connect():
        cli = spawn(cli_ns, CLIENT, server_addr, "3")
        expect(cli, "connected")
        expect(srv, "accepted")

    frame = run_top(srv_ns, iface, connect)
    return frame, accepted_rows(frame)


def all_joined(acc, peer):
    return len(acc) == 3 and all(p.startswith("[::ffff:%s]:" % peer) and w == "ESTAB/ESTAB"
                                 for p, w in acc)


def cases(ns, tmp):
    # lo: server and clients in one namespace.
    frame, acc = accepted_join(ns, ns, "127.0.0.1", "lo")
    rep.check(all_joined(acc, "127.0.0.1"), "lo_accepted_rows_show_wire_state",
              "accepted rows (peer, wire) %r in %r" % (acc, frame[-1500:]))

    # veth: the server and the clients in two namespaces of their own.
    with nslib.Netns() as srv, nslib.Netns() as cli:
        vs, vc = "tds%d" % os.getpid(), "tdc%d" % os.getpid()
        subprocess.run(["ip", "link", "add", vs, "netns", srv.name, "type", "veth", "peer",
                        "name", vc, "netns", cli.name], check=True)
        for n, dev, a in ((srv, vs, "198.18.0.1/24"), (cli, vc, "198.18.0.2/24")):
            n.add_addr(a, dev)
            n.exec(["ip", "link", "set", dev, "up"], check=True)
        frame, acc = accepted_join(srv, cli, "198.18.0.1", vs)
    rep.check(all_joined(acc, "198.18.0.2"), "veth_accepted_rows_show_wire_state",
              "accepted rows (peer, wire) %r in %r" % (acc, frame[-1500:]))
    wo = wire_only(frame)
    rep.check(len(acc) == 3 and not wo, "veth_no_wire_only_duplicates",
              "%d accepted rows; wire-only rows %r" % (len(acc), wo))


nslib.in_netns(rep, CASES, cases)
