#!/usr/bin/env python3
"""What tcpstate top shows (issue 14), as root in namespaces of its own:
 - the header on a 200-column screen with a full history: every state's
   count is there (CLOSE-WAIT and LAST-ACK as ss counts them), no line is
   wider than the screen, and no character is cut in half;
 - the Wire line counts the packets top read, as tcpdump counts them, and
   names the kernel's counters (which count each packet on lo twice);
 - -i with an interface that is not there (or -r with a missing file) is
   an error, exit 1; only a missing privilege falls back to the kernel view;
 - each column's header stands over its values (batch, without a capture);
 - a filter's error leaves the status line once a valid filter is applied;
 - Tab at the / prompt lists the completions through curses: the screen
   keeps its title while they show, and Escape leaves nothing behind;
 - the Wire line shows at the narrowest screens (80 and 99 columns), where
   the state counts take five lines;
 - a process named with a line break and an escape sequence is shown
   escaped on the screen: table rows, the CLOSE-WAIT holders, its group and
   the detail view (whose peer reads *:* for a listener, as in the table);
 - one socket is "1 socket" in the title."""
import itertools, os, re, signal, subprocess, sys, tempfile, time, unicodedata

import nslib
from toplib import Tmux, case, rows

TCPSTATE = nslib.TCPSTATE
CASES = ["tmux_header_wide_full_history", "batch_wire_counts_packets_once",
         "batch_missing_interface_is_an_error", "batch_columns_line_up",
         "tmux_filter_error_cleared", "tmux_tab_completion_through_curses",
         "tmux_wire_line_at_80_and_99_columns", "tmux_names_escaped_on_screen",
         "batch_one_socket_singular"]
rep = nslib.begin(None, CASES, watchdog=None, tools=nslib.NETNS_TOOLS + ("tmux",))

SPARK = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def cells(line):
    """A line's width on the screen (wide characters take two cells)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def wide_header(ns, tm):
    """ESTABLISHED, CLOSE-WAIT / FIN-WAIT-2, LAST-ACK / TIME-WAIT (the
    client's ACKs dropped), and LISTEN: the states whose sparklines are not
    blank fill the header lines that used to be cut at 256 bytes."""
    h = ns.holder()
    h.pair("127.0.0.1", 5001)
    _, c2, _ = h.pair("127.0.0.1", 5002)
    c2.shutdown(how="wr")                   # c2 FIN-WAIT-2, its server CLOSE-WAIT
    _, c3, s3 = h.pair("127.0.0.1", 5003)
    c3.shutdown(how="wr")
    ns.wait_for([nslib.make_key("CLOSE-WAIT", s3.local, s3.peer)], what="5003 CLOSE-WAIT")
    ns.nft("tcp dport 5003 drop")
    s3.shutdown(how="wr")                   # s3 LAST-ACK (its FIN never acked), c3 TIME-WAIT
    ns.wait_for([nslib.make_key("LAST-ACK", s3.local, s3.peer)], what="5003 LAST-ACK")
    tm.new("w", f"env LANG=C.UTF-8 LC_ALL=C.UTF-8 ip netns exec {ns.name} {TCPSTATE} top -d 0.1",
           200, 50)

    def spark_len(s):
        m = re.search(rf"ESTABLISHED +\d+ ([{SPARK}]+)", s)
        return len(m.group(1)) if m else 0
    # Full: the ESTABLISHED sparkline has stopped growing (a refresh is 0.1 s).
    n, end = -1, time.time() + 30
    while time.time() < end:
        s = tm.wait(lambda s: spark_len(s) > 0, 10, "w")
        if spark_len(s) == n:
            break
        n = spark_len(s)
        time.sleep(1.0)
    raw = tm.run("capture-pane", "-p", "-t", "w").stdout
    got, want = {}, {}
    for name, ss_name in (("CLOSE-WAIT", "close-wait"), ("LAST-ACK", "last-ack"),
                          ("FIN-WAIT-2", "fin-wait-2"), ("TIME-WAIT", "time-wait"),
                          ("ESTABLISHED", "established")):
        m = re.search(rf"(?m)^(?:.*  )?{name} +(\d+) ", raw)
        got[name] = int(m.group(1)) if m else None
        want[name] = ns.ss_count(ss_name)
    header = raw.splitlines()[:9]
    widest = max(cells(l) for l in header)
    # Every state with sockets has a sparkline as long as ESTABLISHED's: none cut short.
    state_lines = itertools.takewhile(lambda l: not l.startswith("TIME-WAIT "), header[1:])
    sparks = {name: len(g) for name, k, g in re.findall(rf"([A-Z][A-Z0-9-]+) +(\d+) ([{SPARK}]*)",
                                                        "\n".join(state_lines)) if int(k)}
    tm.keys("w", "q")
    ok = (got == want and want["CLOSE-WAIT"] == 1 and want["LAST-ACK"] == 1 and n >= 10 and
          set(sparks.values()) == {n} and widest <= 200 and "\ufffd" not in raw)
    return ok, (f"header {got}, ss {want}, sparkline {n} glyphs, each state's {sparks}, "
                f"widest line {widest} cells; header: {header!r}")


def wire_counts(ns, tmp):
    """A connection on lo, seen by tcpdump and by top -i lo side by side."""
    pcap = os.path.join(tmp, "lo.pcap")
    dump = ns.popen(["tcpdump", "-i", "lo", "-U", "-w", pcap], stderr=subprocess.PIPE, text=True)
    if "listening" not in dump.stderr.readline():
        raise RuntimeError("tcpdump did not start")
    top = ns.popen([TCPSTATE, "top", "-b", "-d", "0.3", "-n", "12", "-i", "lo"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = []
    for line in top.stdout:             # the capture is open once a frame is out
        first.append(line)
        if line.startswith("Wire:"):
            break
    ns.exec([sys.executable, "-c", "import socket,time\n"
             "l=socket.socket();l.bind(('127.0.0.1',5004));l.listen()\n"
             "c=socket.create_connection(('127.0.0.1',5004));s,_=l.accept()\n"
             "c.sendall(b'x'*3000);s.recv(5000);s.sendall(b'y');c.recv(1)\n"
             "c.close();time.sleep(0.1);s.close();time.sleep(0.2)"], check=True)
    out, err = top.communicate(timeout=30)
    dump.send_signal(signal.SIGINT)  # tcpdump writes out what it holds
    dump.wait(10)
    seen = len(subprocess.run(["tcpdump", "-nn", "-r", pcap], capture_output=True,
                              text=True).stdout.splitlines())
    wires = re.findall(r"^Wire: capturing on lo - (\d+) packets, \d+ connections[,;] .*"
                       r": kernel (\d+) of (\d+), tcpstate \d+$", "".join(first) + out, re.M)
    packets, _, recv = (int(x) for x in wires[-1]) if wires else (None, None, None)
    ok = top.returncode == 0 and seen > 0 and packets == seen and recv >= packets
    return ok, (f"tcpdump saw {seen}, top's last Wire line: {packets} packets, kernel recv "
                f"{recv}; rc {top.returncode}; Wire lines {wires[-2:]}; stderr {err[-200:]!r}")


def missing_source(ns):
    def top(*args, user=()):
        return ns.exec([*user, TCPSTATE, "top", "-b", "-n", "1", *args])
    iface = top("-i", "nosuchif")
    file = top("-r", "/nonexistent/lo.pcap")
    nobody = top("-i", "lo", user=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    ok = (iface.returncode == 1 and iface.stdout == "" and
          iface.stderr == "tcpstate top: -i nosuchif: no such interface\n" and
          file.returncode == 1 and file.stdout == "" and
          re.fullmatch(r"tcpstate top: /nonexistent/lo\.pcap: .*\n", file.stderr) is not None and
          nobody.returncode == 0 and "kernel view only" in nobody.stderr and
          re.search(r"^Wire: off: -i lo: permission denied", nobody.stdout, re.M) is not None)
    return ok, (f"-i nosuchif: rc {iface.returncode} {iface.stderr!r}; -r missing: rc "
                f"{file.returncode} {file.stderr!r}; as nobody: rc {nobody.returncode} "
                f"{nobody.stderr!r}")


LEFT = ["State", "Local", "Peer", "Wire L/P", "Process"]
RIGHT = ["Age", "Recv-Q", "Send-Q", "RTT ms", "Retr"]


def columns(ns):
    """Left-aligned columns start where their header starts, right-aligned
    ones end where theirs ends, on every row."""
    ns.holder().pair("127.0.0.1", 5005)
    out = ns.exec([TCPSTATE, "top", "-b", "-n", "1"]).stdout
    head = next((l for l in out.splitlines() if l.startswith("State ")), "")
    want = [(head.find(x), None) for x in LEFT] + [(None, head.find(x) + len(x)) for x in RIGHT]
    bad = []
    for r in rows(out):
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", r)]
        if len(spans) != len(want) or any((a is not None and a != s) or (b is not None and b != e)
                                          for (a, b), (s, e) in zip(want, spans)):
            bad.append(r)
    return bool(head) and len(rows(out)) == 3 and not bad, f"header {head!r}, rows not under it {bad}"


def filter_error(ns, tm):
    ns.holder().pair("127.0.0.1", 5006)
    tm.new("f", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.5")
    tm.wait(lambda s: "Recv-Q" in s, 10, "f")
    tm.keys("f", "/")
    time.sleep(0.3)
    tm.keys("f", "state nosuch", "Enter")
    s = tm.wait(lambda s: "nosuch" in s.splitlines()[-1], 5, "f")
    error = s.splitlines()[-1].strip()
    tm.keys("f", "/")
    time.sleep(0.3)
    tm.keys("f", "C-a", "C-k", "state established", "Enter")
    s = tm.wait(lambda s: "filter: state established" in s.splitlines()[0], 5, "f")
    status = s.splitlines()[-1].strip()
    tm.keys("f", "q")
    ok = "unknown state" in error and "filter: state established" in s and "nosuch" not in status
    return ok, f"error shown {error!r}, status after a valid filter {status!r}"


def first_words(s):
    """The first word of each line down to the column header: the header's shape."""
    lines = s.splitlines()
    end = next((i for i, l in enumerate(lines) if l.startswith("State ")), len(lines) - 1)
    return [l.split()[:1] for l in lines[:end + 1]]


def tab_completion(ns, tm):
    """"s" and Tab twice at the / prompt, then Escape.  Readline printed the
    list itself, scrolling the screen under curses: the title went, header
    lines mixed, and the list stayed until a resize."""
    tm.new("c", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.3; sleep 60", 100, 30)
    before = tm.wait(lambda s: "Recv-Q" in s, 10, "c")
    tm.keys("c", "/")
    time.sleep(0.3)
    tm.keys("c", "-l", "s")
    time.sleep(0.2)
    tm.keys("c", "Tab")
    time.sleep(0.2)
    tm.keys("c", "Tab")
    words = {"sport", "src", "state", "syn-sent"}

    def listed(s):
        lines = s.splitlines()
        at = next((i for i, l in enumerate(lines) if words <= set(l.split())), None)
        return at is not None and at + 1 < len(lines) and lines[at + 1].startswith("filter: s")
    during = tm.wait(listed, 5, "c")
    tm.keys("c", "Escape")

    def clean(s):
        return ("filter: " not in s and "syn-sent" not in s and
                s.startswith("tcpstate top - ") and first_words(s) == first_words(before))
    after = tm.wait(clean, 5, "c")
    tm.keys("c", "q")
    ok = (listed(during) and during.startswith("tcpstate top - ") and
          first_words(during) == first_words(before) and clean(after))
    return ok, f"before {before!r}; with the list {during!r}; after Escape {after!r}"


def wire_line(ns, tm):
    """Without a capture (--no-wire: as root top captures by default) the
    Wire line says so, at 80x24 and 99x30; at 100 columns the TIME-WAIT
    line is there too."""
    got = {}
    for x, y in ((80, 24), (99, 30), (100, 30)):
        target = f"w{x}"
        tm.new(target, f"ip netns exec {ns.name} {TCPSTATE} top -d 0.3 --no-wire; sleep 60", x, y)
        s = tm.wait(lambda s: "Recv-Q" in s, 10, target)
        tm.keys(target, "q")
        head = s.split("\nState ")[0].splitlines()
        got[x] = ([l for l in head if l.startswith("Wire: off (--no-wire)")],
                  any(l.startswith("CLOSE-WAIT holders:") for l in head),
                  any(l.startswith("TIME-WAIT ") for l in head), len(head))
    ok = (all(w and holders and n <= 9 for w, holders, _, n in got.values()) and got[100][2])
    return ok, f"per width: (Wire lines, holders line, TIME-WAIT line, header lines) {got}"


NAME = "x\n\x1b[31mevil"                 # as test_proc_names.py: within the kernel's 15 bytes
SHOWN = "x\\n\\x1b[31mevil"
NAMED = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
l = socket.socket(); l.bind(("127.0.0.1", 5007)); l.listen(4)
c = socket.create_connection(("127.0.0.1", 5007)); s, _ = l.accept()
c2 = socket.create_connection(("127.0.0.1", 5007)); s2, _ = l.accept()
c2.close()  # s2 in CLOSE-WAIT: the header names its holder
print("ready", flush=True)
sys.stdin.read()
"""


def names_escaped(ns, tm):
    """The listener, both ends of a connection and a CLOSE-WAIT end are the
    process's: four whole rows (a raw line break cut them short), the
    header's holder, one group of four, and the detail view."""
    pid = ns.spawn(NAMED, NAME).pid
    proc = f"{SHOWN}[{pid}]"
    tm.new("n", f"ip netns exec {ns.name} {TCPSTATE} top -d 0.3; sleep 60", 150, 40)
    table = tm.wait(lambda s: len([r for r in rows(s) if proc in r]) == 4, 10, "n")
    whole = [r for r in rows(table) if re.search(rf" {re.escape(proc)} +>?\S+( +[\d.-]+){{4}}$",
                                                   r)]
    holders = re.search(rf"(?m)^CLOSE-WAIT holders: {re.escape(proc)} 1, oldest", table)
    tm.keys("n", "g")
    grouped = re.compile(rf"(?m)^{re.escape(proc)} +4 +oldest")
    group = tm.wait(lambda s: grouped.search(s), 5, "n")
    tm.keys("n", "g", "g", "g", "/")
    time.sleep(0.3)
    tm.keys("n", "state listening", "Enter")
    tm.wait(lambda s: "filter: state listening" in s and len(rows(s)) == 1, 5, "n")
    tm.keys("n", "Enter")
    detail = tm.wait(lambda s: s.startswith("Connection "), 5, "n")
    tm.keys("n", "q", "q")
    lines = detail.splitlines()
    ok = (len(whole) == 4 and holders is not None and grouped.search(group) and
          lines[0].rstrip() == "Connection 127.0.0.1:5007 -> *:*" and
          re.search(rf"(?m)^Process: {re.escape(SHOWN)} pid {pid} fd \d+$", detail) is not None)
    return ok, (f"whole rows {len(whole)} of {rows(table)}; header {table.split('State ')[0]!r}; "
                f"group screen {group!r}; detail {lines[:5]!r}")


def one_socket(ns):
    h = ns.holder()
    h.listen("127.0.0.1", 5008)
    out = ns.exec([TCPSTATE, "top", "-b", "-n", "1"])
    title = out.stdout.splitlines()[0] if out.stdout else ""
    return (out.returncode == 0 and re.match(r"tcpstate top - \S+ - 1 socket - ", title)
            is not None), f"rc {out.returncode}, title {title!r}"


with Tmux() as tm, tempfile.TemporaryDirectory(prefix="tcpstate-top-screen.") as tmp:
    case(rep, "tmux_header_wide_full_history", wide_header, tm)
    case(rep, "batch_wire_counts_packets_once", wire_counts, tmp)
    case(rep, "batch_missing_interface_is_an_error", missing_source)
    case(rep, "batch_columns_line_up", columns)
    case(rep, "tmux_filter_error_cleared", filter_error, tm)
    case(rep, "tmux_tab_completion_through_curses", tab_completion, tm)
    case(rep, "tmux_wire_line_at_80_and_99_columns", wire_line, tm)
    case(rep, "tmux_names_escaped_on_screen", names_escaped, tm)
    case(rep, "batch_one_socket_singular", one_socket)
rep.exit()
