#!/usr/bin/env python3
"""Live capture: `tcpstate watch -i lo --json` in a namespace of its own sees
a connection open and close, stops cleanly on SIGINT (exit 0), and reports
the kernel's packet counts on stderr.  Root only."""
import json, os, signal, subprocess, sys, time, uuid

TCPSTATE = os.environ.get("TCPSTATE", os.path.abspath("tcpstate"))
CASES = ["watch_live_sees_handshake_and_close", "watch_live_sigint_exit_0",
         "watch_live_reports_kernel_counts"]


def out(kind, name, why=""):
    print(f"{kind}: {name}" + (f": {why}" if why else ""))


if os.geteuid() != 0 or subprocess.run(["which", "ip"], capture_output=True).returncode:
    for c in CASES:
        out("SKIP", c, "needs root and ip")
    sys.exit(0)

ns = "tcpst-live-" + uuid.uuid4().hex[:8]
failed = False
proc = None
try:
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", ns, TCPSTATE, "watch", "-i", "lo", "--json",
                             "-f", "tcp port 7777"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the capture is open
    client = """
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 7777)); l.listen()
c = socket.create_connection(("127.0.0.1", 7777)); s, _ = l.accept()
c.sendall(b"hello"); s.recv(5); c.close(); time.sleep(0.2); s.close(); time.sleep(0.3)
"""
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", client], check=True,
                   timeout=20)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    events = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    seen = {(e["endpoint"], e["to"]) for e in events}
    want = {("orig", "SYN-SENT"), ("resp", "SYN-RECEIVED"), ("orig", "ESTABLISHED"),
            ("resp", "ESTABLISHED"), ("orig", "FIN-WAIT-1"), ("resp", "CLOSE-WAIT"),
            ("orig", "TIME-WAIT"), ("resp", "CLOSED")}
    if want <= seen:
        out("PASS", CASES[0])
    else:
        out("FAIL", CASES[0], f"missing {sorted(want - seen)}; got {sorted(seen)}")
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
except Exception as e:  # a broken setup is a failure, never a pass
    out("FAIL", CASES[0], f"{type(e).__name__}: {e}")
    failed = True
finally:
    if proc and proc.poll() is None:
        proc.kill()
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
sys.exit(1 if failed else 0)
