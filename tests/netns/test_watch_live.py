#!/usr/bin/env python3
"""Live capture: `tcpstate watch -i lo --json` in a namespace of its own sees
a connection open and close, stops cleanly on SIGINT (exit 0), and reports
the kernel's packet counts on stderr.  On a quiet wire the engine's timers
follow the wall clock: TIME-WAIT ends (--time-wait 0.5) with no packet after
the close.  `watch -N NS -i lo`, run from the
host's namespace, captures on the namespace's lo: it sees a connection made
there (the host's lo never carries it).  Root only."""
import json, os, signal, subprocess, sys, time, uuid

TCPSTATE = os.environ.get("TCPSTATE", os.path.abspath("tcpstate"))
CASES = ["watch_live_sees_handshake_and_close", "watch_live_sigint_exit_0",
         "watch_live_reports_kernel_counts", "watch_N_captures_in_the_namespace",
         "watch_live_timewait_ends_on_a_quiet_wire"]
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


def watch_a_connection(argv, port, quiet=1.0):
    """Start `argv` (a watch), make one connection on `port` in the namespace,
    wait `quiet` seconds, stop the watch with SIGINT; returns (proc,
    transitions seen, stderr)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the capture is open
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, str(port)],
                       check=True, timeout=20)
        time.sleep(quiet)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    return proc, {(e["endpoint"], e["to"]) for e in events}, stderr


def out(kind, name, why=""):
    print(f"{kind}: {name}" + (f": {why}" if why else ""))


if os.geteuid() != 0 or subprocess.run(["which", "ip"], capture_output=True).returncode:
    for c in CASES:
        out("SKIP", c, "needs root and ip")
    sys.exit(0)

ns = "tcpst-live-" + uuid.uuid4().hex[:8]
failed = False
try:
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    proc, seen, stderr = watch_a_connection(
        ["ip", "netns", "exec", ns, TCPSTATE, "watch", "-i", "lo", "--json", "-f",
         "tcp port 7777"], 7777)
    if WANT <= seen:
        out("PASS", CASES[0])
    else:
        out("FAIL", CASES[0], f"missing {sorted(WANT - seen)}; got {sorted(seen)}")
        failed = True
    if proc.returncode == 0:
        out("PASS", CASES[1])
    else:
        out("FAIL", CASES[1], f"exit {proc.returncode}: {stderr.strip()}")
        failed = True
    if "kernel:" in stderr and "dropped" in stderr:
        out("PASS", CASES[2])
    else:
        out("FAIL", CASES[2], f"stderr: {stderr.strip()!r}")
        failed = True
    # -N from the host's namespace: the capture opens on the namespace's lo.
    proc, seen, stderr = watch_a_connection(
        [TCPSTATE, "watch", "-N", ns, "-i", "lo", "--json", "-f", "tcp port 7778"], 7778)
    if WANT <= seen and proc.returncode == 0:
        out("PASS", CASES[3])
    else:
        out("FAIL", CASES[3], f"exit {proc.returncode}, missing {sorted(WANT - seen)}; "
            f"stderr {stderr.strip()!r}")
        failed = True
    # Nothing crosses lo after the close: only the clock can end TIME-WAIT
    # (a stopped watch runs no timers).  Three seconds is six TIME-WAITs.
    proc, seen, stderr = watch_a_connection(
        ["ip", "netns", "exec", ns, TCPSTATE, "watch", "-i", "lo", "--json", "--time-wait",
         "0.5", "-f", "tcp port 7779"], 7779, quiet=3.0)
    if ("orig", "TIME-WAIT") in seen and ("orig", "CLOSED") in seen:
        out("PASS", CASES[4])
    else:
        out("FAIL", CASES[4], f"exit {proc.returncode}, got {sorted(seen)}; "
            f"stderr {stderr.strip()!r}")
        failed = True
except Exception as e:  # a broken setup is a failure, never a pass
    out("FAIL", CASES[0], f"{type(e).__name__}: {e}")
    failed = True
finally:
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
sys.exit(1 if failed else 0)
