"""What the tests of `tcpstate top` share: a tmux server of their own to
drive the screen in, the table rows read off a screen or a batch frame, and
a python child that opens sockets inside a namespace and holds them."""
import re
import subprocess
import sys
import time
import uuid

import nslib


class Tmux:
    """A tmux server on a socket of its own (-L), so that no user's server
    is touched; kill() ends it and every session in it."""

    def __init__(self, prefix="tcpst-top-"):
        self.sock = prefix + uuid.uuid4().hex[:8]

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True)

    def new(self, target, cmd, x=132, y=40):
        """A detached session named target running cmd (a shell command line),
        tried again when the server was exiting (nslib.tmux_new_session)."""
        return nslib.tmux_new_session(self.run, "-d", "-s", target, "-x", str(x), "-y", str(y),
                                      cmd)

    def keys(self, target, *keys):
        return self.run("send-keys", "-t", target, *keys)

    def screen(self, target="t"):
        return self.run("capture-pane", "-p", "-t", target).stdout

    def wait(self, pred, timeout=8.0, target="t"):
        """The screen once pred holds on two captures in a row (not mid-redraw),
        or the last capture when it never does."""
        end = time.time() + timeout
        s = ""
        while time.time() < end:
            s = self.screen(target)
            if pred(s):
                time.sleep(0.15)
                s2 = self.screen(target)
                if pred(s2):
                    return s2
            time.sleep(0.2)
        return s

    def kill(self):
        self.run("kill-server")


def rows(s):
    """Table rows: lines after the column header, up to the status line."""
    lines = s.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("State ")) + 1
    except StopIteration:
        return []
    return [l for l in lines[start:] if re.match(r"^(\S+)\s+\d|^\(wire only\)|^[A-Z-]+ +[0-9\[]", l)]


def case(rep, name, fn, *args):
    """One case, in a namespace of its own (nslib.Netns, passed to fn first):
    fn returns (ok, why); an exception fails the case."""
    try:
        with nslib.Netns() as ns:
            ok, why = fn(ns, *args)
        rep.check(ok, name, why)
    except Exception as e:
        rep.check(False, name, f"{type(e).__name__}: {e}")


def hold(ns, script):
    """Run script (python source) inside namespace ns; it prints "ready" once
    its sockets are open, then holds them until its standard input closes."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", script],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        p.kill()
        raise RuntimeError("socket holder did not start")
    return p
