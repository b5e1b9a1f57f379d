#!/usr/bin/env python3
"""tcpstate top, end to end, as root in a namespace of its own:
 - the real UI in tmux: header counts match ss, a filter typed at / narrows
   the rows, sorting changes their order, Enter shows a timeline when run
   with -r on a capture, q exits 0 and restores the terminal;
 - the join in batch mode with a live capture: a CLOSE-WAIT row names its
   process, its age and the peer's FIN-WAIT-2; a TIME-WAIT row names the
   process that produced it; a half-closed connection that was already
   there when the capture began is marked as a guess (?), never as a
   disagreement (!), however long its data flows."""
import os, re, signal, subprocess, sys, time

import nslib
from toplib import Tmux, rows

TCPSTATE = nslib.TCPSTATE
CASES = ["tmux_header_counts_match_ss", "tmux_filter_narrows_rows", "tmux_sort_changes_order",
         "tmux_k_closes_selected_socket", "tmux_survives_resizes",
         "tmux_detail_shows_timeline", "tmux_q_exits_0_and_restores", "batch_join_close_wait",
         "batch_join_time_wait_owner", "batch_join_midstream_half_close",
         "batch_rows_ask_tcp_info_per_socket"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("tmux", "ip", "ss"))  # names as they are
report = rep.check

HOLDER = r"""
import socket, sys, time
def lis(port):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(64); return l
keep = []
a = lis(5001); b = lis(5002)
keep += [a, b]
for i in range(3):                       # 3 established pairs on 5001
    c = socket.create_connection(("127.0.0.1", 5001)); s, _ = a.accept(); keep += [c, s]
for i in range(2):                       # 2 TIME-WAIT (client closes first) on 5002
    c = socket.create_connection(("127.0.0.1", 5002)); s, _ = b.accept()
    c.close(); time.sleep(0.05); s.close()
c = socket.create_connection(("127.0.0.1", 5002)); s, _ = b.accept()
c.close(); keep.append(s)                # 1 CLOSE-WAIT (server never closes)
print("ready", flush=True)
sys.stdin.read()
"""


def ui_cases(ns, tm):
    """The screen on the holder's sockets: counts, filter, k, sort, resizes, q."""
    ns.spawn(HOLDER)
    tm.new("t", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.5; echo EXIT=$?; sleep 60")
    s = tm.wait(lambda s: "ESTABLISHED" in s and "Recv-Q" in s)
    want = {"ESTABLISHED": ns.ss_count("established"), "TIME-WAIT": ns.ss_count("time-wait"),
            "CLOSE-WAIT": ns.ss_count("close-wait"), "LISTEN": ns.ss_count("listening")}
    got = {}
    for name in want:
        m = re.search(rf"{name}\s+(\d+)", s)
        got[name] = int(m.group(1)) if m else None
    report(got == want and want["ESTABLISHED"] == 6, "tmux_header_counts_match_ss", f"screen {got}, ss {want}")

    before = rows(s)
    tm.keys("t", "/")
    time.sleep(0.3)
    tm.keys("t", "state close-wait", "Enter")
    s = tm.wait(lambda s: "filter: state close-wait" in s and len(rows(s)) == 1)
    r = rows(s)
    report(len(before) >= 9 and len(r) == 1 and r[0].startswith("CLOSE-WAIT"), "tmux_filter_narrows_rows",
           f"{len(before)} rows before, after: {r}")
    # k on the CLOSE-WAIT row, confirmed: the kernel closes it (SOCK_DESTROY).
    tm.keys("t", "k")
    s = tm.wait(lambda s: "close the selected socket? (y/N)" in s, 5)
    asked = "close the selected socket? (y/N)" in s
    tm.keys("t", "y")
    end = time.time() + 5
    while time.time() < end and ns.ss_count("close-wait"):
        time.sleep(0.2)
    s = tm.wait(lambda s: "closed" in s.splitlines()[-1], 3)
    report(asked and ns.ss_count("close-wait") == 0, "tmux_k_closes_selected_socket",
           f"asked {asked}, close-wait left {ns.ss_count('close-wait')}, status {s.splitlines()[-1]!r}")
    # Clear the filter, then sort by peer and compare the order.
    tm.keys("t", "/")
    time.sleep(0.3)
    tm.keys("t", "C-a", "C-k", "Enter")
    tm.wait(lambda s: "filter:" not in s.splitlines()[0])
    time.sleep(0.6)
    def peers(s):
        # The capture (on by default as root) may show the socket k closed
        # as "(wire only)": a state of two words.
        return [l.split()[3 if l.startswith("(wire only)") else 2] for l in rows(s)]
    def key(a):
        host, port = a.rsplit(":", 1)
        return (tuple(int(p) for p in host.split(".")) if host != "*" else (), int(port) if port != "*" else 0)
    for _ in range(12):
        if "sorted by peer" in tm.screen():
            break
        tm.keys("t", ">")
        time.sleep(0.3)
    s = tm.wait(lambda s: "sorted by peer" in s and "reversed" not in s)
    asc = peers(s)
    tm.keys("t", "I")
    s = tm.wait(lambda s: "sorted by peer (reversed)" in s)
    desc = peers(s)
    real = [p for p in asc if p != "*:*"]
    report(len(asc) >= 9 and real == sorted(real, key=key) and desc == list(reversed(asc)),
           "tmux_sort_changes_order", f"by peer {asc}; reversed {desc}")
    # Resizes: small but legal, too small, and back.
    tm.run("resize-window", "-t", "t", "-x", "80", "-y", "24")
    s80 = tm.wait(lambda s: "Peer" in s and "tcpstate top" in s and "F1/h" in s, 4)
    tm.run("resize-window", "-t", "t", "-x", "60", "-y", "20")
    s60 = tm.wait(lambda s: "needs at least 80x24" in s, 4)
    tm.run("resize-window", "-t", "t", "-x", "132", "-y", "40")
    s132 = tm.wait(lambda s: "Recv-Q" in s, 4)
    report("Peer" in s80 and max(len(l) for l in s80.splitlines()) <= 80 and
           "needs at least 80x24" in s60 and "Recv-Q" in s132, "tmux_survives_resizes",
           f"80x24 longest: {max(s80.splitlines(), key=len)!r} 60x20: {s60[:80]!r}")
    tm.keys("t", "q")
    s = tm.wait(lambda s: "EXIT=" in s)
    alt = tm.alternate_on("t")
    report("EXIT=0" in s and alt == "0", "tmux_q_exits_0_and_restores", f"exit line {re.findall('EXIT=.*', s)}, alternate screen {alt}")


def detail_case(ns, tm, tmp):
    """The detail view on a capture."""
    pcap = os.path.join(tmp, "lo.pcap")
    dump = ns.popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", pcap, "tcp port 5003"],
                    stderr=subprocess.PIPE, text=True)
    line = dump.stderr.readline()  # "listening on lo ..." once it captures
    if "listening" not in line:
        raise RuntimeError("tcpdump did not start: " + line)
    time.sleep(0.3)
    ns.exec([sys.executable, "-c", "import socket,time\nl=socket.socket();l.bind(('127.0.0.1',5003));l.listen()\n"
             "c=socket.create_connection(('127.0.0.1',5003));s,_=l.accept();c.send(b'x');s.recv(1);"
             "c.close();time.sleep(0.1);s.close();time.sleep(0.3)"])
    time.sleep(0.5)
    dump.send_signal(signal.SIGINT)
    dump.wait(5)
    tm.new("bad", f"{TCPSTATE} top -r {pcap} --speed 1000 -d 0.3 port; echo EXIT=$?; sleep 60")
    # The positional 'port' is not a filter: top must refuse it, exit 2.
    end = time.time() + 5
    while time.time() < end and "EXIT=" not in tm.screen("bad"):
        time.sleep(0.2)
    bad_filter_ok = "EXIT=2" in tm.screen("bad")
    tm.new("d", f"{TCPSTATE} top -r {pcap} --speed 1000 -d 0.3 dport = :5003; echo EXIT=$?; sleep 60")
    tm.wait(lambda s: "(wire only)" in s, 8, "d")
    tm.keys("d", "Enter")
    s = tm.wait(lambda s: "Timeline" in s and "FIN" in s, 5, "d")
    report(bad_filter_ok and "Timeline" in s and "SYN sent" in s and "FIN" in s, "tmux_detail_shows_timeline",
           f"bad filter refused: {bad_filter_ok}; screen: {s[:400]!r}")
    tm.keys("d", "q", "q")


def frames_of(out):
    return [f for f in out.split("tcpstate top - ") if f.strip()]


def join_cases(ns):
    """The join, batch mode with a live capture."""
    top = ns.popen([TCPSTATE, "top", "-b", "-d", "0.5", "-n", "16",
                    "-i", "lo", "sport", "=", ":6001", "or", "dport", "=", ":6001"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    # The holder keeps its sockets until top has printed its last frame: under
    # load a frame can come late, and a holder that had gone by then would
    # take the CLOSE-WAIT row with it.
    join = ns.popen([sys.executable, "-c", r"""
import socket, time, os, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 6001)); l.listen()
c = socket.create_connection(("127.0.0.1", 6001)); s, _ = l.accept()
c.close()                                  # server in CLOSE-WAIT, client FIN-WAIT-2
c2 = socket.create_connection(("127.0.0.1", 6001)); s2, _ = l.accept()
time.sleep(2.5)                            # top sees c2 alive, with its owner
s2.close(); time.sleep(0.1); c2.close()    # server closed first: server side TIME-WAIT
print(os.getpid(), flush=True)
sys.stdin.read()                           # until the test closes it, after top's last frame
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid = join.stdout.readline().strip()
    out, err = top.communicate(timeout=60)
    join.stdin.close()
    join.wait(timeout=10)
    frames = frames_of(out)
    last = frames[-1] if frames else ""
    cw = [l for l in last.splitlines() if l.startswith("CLOSE-WAIT ") and "holders" not in l]
    ok = (len(cw) == 1 and f"python3[{pid}]" in cw[0] and "CLOSE-W/FIN-W2" in cw[0]
          and re.search(r"\b\d+s\b", cw[0]) is not None)
    report(ok, "batch_join_close_wait", f"pid {pid}; CLOSE-WAIT rows: {cw}; stderr {err.strip()[:200]}")
    tw = [l for l in last.splitlines() if l.startswith("TIME-WAIT") and ":6001 " in l + " "]
    ok = any(f"~python3[{pid}]" in l and "TIME-W/" in l for l in tw)
    report(ok, "batch_join_time_wait_owner", f"TIME-WAIT rows: {tw}")


def half_close_case(ns):
    """A connection older than the capture.

    The client shut its side (SHUT_WR) before top started: the kernel holds
    CLOSE-WAIT (server) and FIN-WAIT-2 (client).  Then the server sends data
    for 3 s.  The capture picks the connection up mid-stream and cannot know
    about the FIN before it: its ESTABLISHED is a guess, marked '?', and it
    must not be flagged '!' against the kernel's rows."""
    half = ns.spawn(r"""
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 6002)); l.listen()
c = socket.create_connection(("127.0.0.1", 6002)); s, _ = l.accept()
c.shutdown(socket.SHUT_WR)
assert s.recv(10) == b""
print("ready", flush=True)
sys.stdin.readline()
for i in range(30):
    s.send(b"x" * 100); c.recv(100); time.sleep(0.1)
print("done", flush=True)
sys.stdin.read()
""")
    top = ns.popen([TCPSTATE, "top", "-b", "-d", "0.5", "-n", "10",
                    "-i", "lo", "sport", "=", ":6002", "or", "dport", "=", ":6002"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    half.stdin.write("go\n")
    half.stdin.flush()
    sent = half.stdout.readline().strip() == "done"
    out, err = top.communicate(timeout=40)
    frames = frames_of(out)
    rowsk = {st: [l for f in frames for l in f.splitlines() if l.startswith(st + " ") and ":6002" in l]
             for st in ("CLOSE-WAIT", "FIN-WAIT-2")}
    last = frames[-1] if frames else ""
    lastk = [l for l in last.splitlines() if l.split()[:1] in (["CLOSE-WAIT"], ["FIN-WAIT-2"])
             and ":6002" in l]
    ok = (sent and top.returncode == 0 and len(lastk) == 2
          and all("ESTAB/ESTAB?" in l for l in lastk)
          and not any("!" in l for st in rowsk for l in rowsk[st]))
    report(ok, "batch_join_midstream_half_close",
           f"data sent {sent}; rc {top.returncode}; last frame rows {lastk}; "
           f"rows flagged '!': {[l for st in rowsk for l in rowsk[st] if '!' in l][:2]}; "
           f"stderr {err.strip()[:200]}")
    half.stdin.close()


def tcp_info_case(ns):
    """tcp_info on demand.

    With --rows the dump leaves tcp_info out and top asks the kernel for the
    shown sockets alone (by id and cookie).  The rows are the first of the
    full table, and their RTT is the kernel's (ss -ti), never "-".
    One client bound to its device (SO_BINDTODEVICE): the kernel finds it
    only when the request names the device too."""
    ns.spawn(r"""
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 5005)); l.listen()
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
c.connect(("127.0.0.1", 5005)); s, _ = l.accept(); c.send(b"x"); s.recv(1)
print("ready", flush=True); sys.stdin.read()
""")
    full = ns.exec([TCPSTATE, "top", "-b", "-n", "1", "--sort", "local", "state", "established"])
    part = ns.exec([TCPSTATE, "top", "-b", "-n", "1", "--rows", "4", "--sort", "local", "state", "established"])
    bnd = ns.exec([TCPSTATE, "top", "-b", "-n", "1", "--rows", "2", "state", "established", "dport", "=", ":5005"])
    sst = ns.exec(["ss", "-tinH", "state", "established"]).stdout.splitlines()
    ssrtt = {}
    for i, l in enumerate(sst):
        f = l.split()
        if len(f) >= 4 and f[2].count(":") == 1 and i + 1 < len(sst):
            m = re.search(r"\brtt:([0-9.]+)/", sst[i + 1])
            if m:
                # ss names a bound device in the address (127.0.0.1%lo:port); top does not.
                ssrtt[(re.sub(r"%[^:]*", "", f[2]), re.sub(r"%[^:]*", "", f[3]))] = float(m.group(1))
    fr, pr = rows(full.stdout), rows(part.stdout)
    def cols(r):
        f = r.split()
        return (f[1], f[2], f[8])
    ok = (full.returncode == 0 and part.returncode == 0 and len(fr) >= 6 and len(pr) == 4
          and [cols(r)[:2] for r in pr] == [cols(r)[:2] for r in fr[:4]])
    br = rows(bnd.stdout)
    ok = ok and len(br) == 1
    for r in pr + br:
        loc, peer, rtt = cols(r)
        want = ssrtt.get((loc, peer))
        ok = ok and want is not None and rtt != "-" and abs(float(rtt) - want) <= 0.15
    report(ok, "batch_rows_ask_tcp_info_per_socket",
           f"rows {pr}; bound {br}; first of full {fr[:4]}; ss rtt {ssrtt}; rc {full.returncode}/{part.returncode} {part.stderr[:200]}")


def cases(ns, tmp):
    """Every case in one namespace, in order: the screen first, on the
    holder's sockets (its k case closes one of them), then the capture's."""
    with Tmux() as tm:
        ui_cases(ns, tm)
        detail_case(ns, tm, tmp)
    join_cases(ns)
    half_close_case(ns)
    tcp_info_case(ns)


nslib.in_netns(rep, CASES, cases)
