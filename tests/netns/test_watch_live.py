#!/usr/bin/env python3
"""Live capture: `tcpstate watch -i lo --json` in a namespace of its own sees
a connection open and close, stops cleanly on SIGINT (exit 0), and reports
the kernel's packet counts on stderr.  On a quiet wire the engine's timers
follow the wall clock: TIME-WAIT ends (--time-wait 0.5) with no packet after
the close.  `watch -N NS -i lo`, run from the
host's namespace, captures on the namespace's lo: it sees a connection made
there (the host's lo never carries it).  Root only."""
import json, signal, subprocess, sys, time

import nslib

TCPSTATE = nslib.TCPSTATE
CASES = ["watch_live_sees_handshake_and_close", "watch_live_sigint_exit_0",
         "watch_live_reports_kernel_counts", "watch_N_captures_in_the_namespace",
         "watch_live_timewait_ends_on_a_quiet_wire"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("ip",))  # names as they are
WANT = {("orig", "SYN-SENT"), ("resp", "SYN-RECEIVED"), ("orig", "ESTABLISHED"),
        ("resp", "ESTABLISHED"), ("orig", "FIN-WAIT-1"), ("resp", "CLOSE-WAIT"),
        ("orig", "TIME-WAIT"), ("resp", "CLOSED")}
CLIENT = """
import socket, sys, time
port = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen()
c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept()
c.sendall(b"hello"); s.recv(5); c.close(); time.sleep(0.2); s.close(); time.sleep(0.3)
"""


def watch_a_connection(ns, argv, port, quiet=1.0):
    """Start `argv` (a watch), make one connection on `port` in namespace ns,
    wait `quiet` seconds, stop the watch with SIGINT; returns (proc,
    transitions seen, stderr)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the capture is open
        ns.exec([sys.executable, "-c", CLIENT, str(port)], check=True, timeout=20)
        time.sleep(quiet)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    return proc, {(e["endpoint"], e["to"]) for e in events}, stderr


def cases(ns, tmp):
    proc, seen, stderr = watch_a_connection(
        ns, ["ip", "netns", "exec", ns.name, TCPSTATE, "watch", "-i", "lo", "--json", "-f",
             "tcp port 7777"], 7777)
    rep.check(WANT <= seen, CASES[0], f"missing {sorted(WANT - seen)}; got {sorted(seen)}")
    rep.check(proc.returncode == 0, CASES[1], f"exit {proc.returncode}: {stderr.strip()}")
    rep.check("kernel:" in stderr and "dropped" in stderr, CASES[2],
              f"stderr: {stderr.strip()!r}")
    # -N from the host's namespace: the capture opens on the namespace's lo.
    proc, seen, stderr = watch_a_connection(
        ns, [TCPSTATE, "watch", "-N", ns.name, "-i", "lo", "--json", "-f", "tcp port 7778"],
        7778)
    rep.check(WANT <= seen and proc.returncode == 0, CASES[3],
              f"exit {proc.returncode}, missing {sorted(WANT - seen)}; "
              f"stderr {stderr.strip()!r}")
    # Nothing crosses lo after the close: only the clock can end TIME-WAIT
    # (a stopped watch runs no timers).  Three seconds is six TIME-WAITs.
    proc, seen, stderr = watch_a_connection(
        ns, ["ip", "netns", "exec", ns.name, TCPSTATE, "watch", "-i", "lo", "--json",
             "--time-wait", "0.5", "-f", "tcp port 7779"], 7779, quiet=3.0)
    rep.check(("orig", "TIME-WAIT") in seen and ("orig", "CLOSED") in seen, CASES[4],
              f"exit {proc.returncode}, got {sorted(seen)}; stderr {stderr.strip()!r}")


nslib.in_netns(rep, CASES, cases)
