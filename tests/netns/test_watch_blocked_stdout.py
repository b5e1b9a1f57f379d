#!/usr/bin/env python3
"""A live `watch` whose standard output is blocked ends on SIGTERM and on
SIGINT (issue 16 attack).

`watch -i lo --json` writes into a pipe the test holds and never reads (its
size cut to one page), while connections come and go over lo until watch's
main thread sleeps in the pipe's write.  Then SIGTERM (and, in a second
run, SIGINT): watch must end, as tcpdump and ss end, and not sleep on in
write() until whoever holds the pipe reads it.  Before the fix, out.c's write
loop retried the write the signal interrupted, so the signal was noted and
never looked at: only SIGKILL ended it.

Root only, with ip."""
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

CASES = ["sigterm_while_stdout_blocked", "sigint_while_stdout_blocked"]
F_SETPIPE_SZ = 1031
# Generous: a hang is what is detected, not a speed (the watch ends in ms).
PATIENCE_S = 15

CHURN = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7300)); s.listen(128)
print("ready", flush=True)
while True:
    c = socket.create_connection(("127.0.0.1", 7300)); a, _ = s.accept()
    c.close(); a.close()
"""


def blocked_in_write(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "pipe" in f.read()
    except OSError:
        return False


def ends_on(ns, sig):
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    p = ns.popen([nslib.TCPSTATE, "watch", "-i", "lo", "--json"], stdout=w,
                 stderr=subprocess.DEVNULL)
    os.close(w)
    churn = ns.popen([sys.executable, "-c", CHURN], stdout=subprocess.PIPE, text=True)
    try:
        if churn.stdout.readline().strip() != "ready":
            raise nslib.Fail("the churn script did not start")
        t0 = time.monotonic()
        while not blocked_in_write(p.pid):
            if p.poll() is not None:
                raise nslib.Fail("watch ended (%s) before its output blocked" % p.returncode)
            if time.monotonic() - t0 > PATIENCE_S:
                raise nslib.Skip("watch's output never blocked")
            time.sleep(0.05)
        churn.kill()
        p.send_signal(sig)
        try:
            p.wait(PATIENCE_S)
        except subprocess.TimeoutExpired:
            raise nslib.Fail("still running %d s after %s, asleep in write()"
                             % (PATIENCE_S, signal.Signals(sig).name))
    finally:
        churn.kill()
        churn.wait()
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(r)


rep = nslib.begin("live_attack_blocked_stdout", CASES, watchdog=80, tools=("ip",))


def body(ns, tmp):
    rep.case("sigterm_while_stdout_blocked", ends_on, ns, signal.SIGTERM)
    rep.case("sigint_while_stdout_blocked", ends_on, ns, signal.SIGINT)


nslib.in_netns(rep, CASES, body)
