#!/usr/bin/env python3
"""tcpstate top's crashes (issue 14), as root in namespaces of its own:
 - End, Home, PgDn and PgUp on the screen, with 20 established pairs and
   with 6,000 sockets: End shows the last row of the order, Home the first,
   and q exits 0 (a heap error aborts under ASan, make check SANITIZE=1);
 - a refresh after one that held a single socket (an IPv6 listener alone,
   then two IPv4 listeners): top -b exits 0 and shows all three;
 - End followed at once by a refresh (the pause key released with it):
   the refresh keeps the row End moved to (it once put the cursor back);
 - a fatal signal (SIGABRT) leaves the terminal as top found it: out of the
   alternate screen, and the tty back in canonical mode with echo."""
import os, signal, subprocess, tempfile, time

import nslib
from toplib import Tmux, case, rows

TCPSTATE = nslib.TCPSTATE
CASES = ["tmux_end_home_20_pairs", "tmux_end_home_6000_sockets", "batch_one_socket_then_three",
         "tmux_abort_restores_terminal", "tmux_end_survives_the_next_refresh"]
rep = nslib.begin(None, CASES, watchdog=None, tools=nslib.NETNS_TOOLS + ("tmux",))

# argv[1] established pairs to one listener; the fd limit raised for 6,000.
PAIRS = r"""
import resource, socket, sys
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (2 * n + 64, 2 * n + 64))
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 5001)); l.listen(4096)
keep = [l]
for i in range(n):
    c = socket.create_connection(("127.0.0.1", 5001)); s, _ = l.accept(); keep += [c, s]
print("ready", flush=True)
sys.stdin.read()
"""

# An IPv6 listener alone; two IPv4 listeners when told ("more").
ONE_THEN_THREE = r"""
import socket, sys
def lis(fam, addr, port):
    l = socket.socket(fam); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    l.bind((addr, port)); l.listen(); return l
keep = [lis(socket.AF_INET6, "::1", 7000)]
print("ready", flush=True)
sys.stdin.readline()
keep += [lis(socket.AF_INET, "127.0.0.1", 7001), lis(socket.AF_INET, "127.0.0.1", 7002)]
print("more", flush=True)
sys.stdin.read()
"""


def ends(rs):
    """(local, peer) of the first and last table rows."""
    return [tuple(r.split()[1:3]) for r in (rs[0], rs[-1])] if rs else []


def end_home(ns, tm, target, n):
    """The screen with n established pairs: End, PgUp, Home, PgDn, End, Home, q."""
    ns.spawn(PAIRS, n)
    batch = ns.exec([TCPSTATE, "top", "-b", "-n", "1", "--sort", "local"], timeout=60)
    order = rows(batch.stdout)
    total = len(order)
    first, last = ends(order)
    tm.new(target, f"ip netns exec {ns.name} {TCPSTATE} top -d 0.5 --sort local; "
           "echo EXIT=$?; sleep 60")
    shown = f"{total} of {total} sockets shown"
    tm.wait(lambda s: shown in s, 20, target)
    seen = []
    for key, want in (("End", last), ("PPage", None), ("Home", first), ("NPage", None),
                      ("End", last), ("Home", first)):
        tm.keys(target, key)
        if want:
            s = tm.wait(lambda s: rows(s) and want in ends(rows(s)), 8, target)
            seen.append((key, ends(rows(s)), want))
        else:
            time.sleep(0.4)
    tm.keys(target, "q")
    s = tm.wait(lambda s: "EXIT=" in s, 10, target)
    exit_line = [l for l in s.splitlines() if l.startswith("EXIT=")]
    # End puts the last row at the bottom of the page, Home the first at the top.
    placed = all(got and (got[1] == want if key == "End" else got[0] == want)
                 for key, got, want in seen)
    return (batch.returncode == 0 and total == 2 * n + 1 and exit_line == ["EXIT=0"] and
            placed, f"batch rc {batch.returncode}, {total} rows; after each key "
            f"(first, last shown; wanted): {seen}; exit {exit_line}; screen {s[-600:]!r}")


def one_then_three(ns):
    holder = ns.spawn(ONE_THEN_THREE)
    top = ns.popen([TCPSTATE, "top", "-b", "-n", "4", "-d", "1", "--sort", "local"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first frame, whole (its rows end with an empty line), holds the listener alone.
    out, header = [], False
    for line in top.stdout:
        out.append(line)
        header |= line.startswith("State ")
        if header and not line.strip():
            break
    holder.stdin.write("more\n")
    holder.stdin.flush()
    holder.stdout.readline()
    rest, err = top.communicate(timeout=30)
    frames = ("".join(out) + rest).split("tcpstate top - ")[1:]
    first = [tuple(r.split()[1:2]) for r in rows(frames[0])] if frames else []
    last = sorted(r.split()[1] for r in rows(frames[-1])) if frames else []
    ok = (top.returncode == 0 and len(frames) == 4 and first == [("[::1]:7000",)] and
          last == ["127.0.0.1:7001", "127.0.0.1:7002", "[::1]:7000"])
    return ok, f"rc {top.returncode}, {len(frames)} frames, first {first}, last {last}, " \
               f"stderr {err.strip()[-300:]!r}"


def abort_restores(ns, tm, tmp):
    """SIGABRT (as an assert or glibc's heap checks raise it) while the screen is up."""
    pidf = os.path.join(tmp, "top.pid")
    tm.new("a", f"sh -c 'echo $$ >{pidf}; exec ip netns exec {ns.name} {TCPSTATE} top -d 0.5'; "
           "echo EXIT=$?; stty -a; sleep 60")
    tm.wait(lambda s: "Recv-Q" in s, 10, "a")
    during = tm.alternate_on("a")
    with open(pidf) as f:
        os.kill(int(f.read()), signal.SIGABRT)
    s = tm.wait(lambda s: "EXIT=" in s and "speed" in s, 10, "a")
    alt = tm.alternate_on("a")
    modes = set(s.replace(";", " ").split())
    exit_line = [l for l in s.splitlines() if l.startswith("EXIT=")]
    ok = (during == "1" and alt == "0" and exit_line == [f"EXIT={128 + signal.SIGABRT}"] and
          {"icanon", "echo", "icrnl", "opost"} <= modes and "-icanon" not in modes and
          "-echo" not in modes)
    return ok, f"alternate screen {during} -> {alt}; exit {exit_line}; stty: {s[-700:]!r}"


def end_then_refresh(ns, tm, target, n):
    """Paused past the refresh delay, End and Space (resume) sent together:
    the refresh runs between the keys and the next draw, and End must stand."""
    ns.spawn(PAIRS, n)
    batch = ns.exec([TCPSTATE, "top", "-b", "-n", "1", "--sort", "local"], timeout=60)
    first, last = ends(rows(batch.stdout))
    tm.new(target, f"ip netns exec {ns.name} {TCPSTATE} top -d 0.5 --sort local; "
           "echo EXIT=$?; sleep 60")
    tm.wait(lambda s: f"{2 * n + 1} of {2 * n + 1} sockets shown" in s, 20, target)
    tm.keys(target, "Space")
    time.sleep(1.0)  # twice the delay: the refresh is due the moment top resumes
    tm.keys(target, "End", "Space")
    s = tm.wait(lambda s: rows(s) and last in ends(rows(s)), 8, target)
    got = ends(rows(s)) if rows(s) else []
    tm.keys(target, "q")
    return (bool(got) and got[1] == last and got[0] != first,
            f"after End and a refresh: first, last shown {got}; wanted last {last}")


with Tmux() as tm, tempfile.TemporaryDirectory(prefix="tcpstate-top-crash.") as tmp:
    case(rep, "tmux_end_home_20_pairs", end_home, tm, "e20", 20)
    case(rep, "tmux_end_home_6000_sockets", end_home, tm, "e6k", 3000)
    case(rep, "batch_one_socket_then_three", one_then_three)
    case(rep, "tmux_abort_restores_terminal", abort_restores, tm, tmp)
    case(rep, "tmux_end_survives_the_next_refresh", end_then_refresh, tm, "er", 20)
rep.exit()
