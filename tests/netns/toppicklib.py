"""What the detail-view and selection tests of top share: their start (root, ip, nft, ss and
tmux, or every case skipped) and a python helper run in a namespace, told
what to do by lines on its standard input and answering by lines."""
import os
import select
import shutil
import subprocess
import sys

import nslib

TCPSTATE = os.environ.get("TCPSTATE", os.path.abspath("tcpstate"))


def begin(cases):
    """The reporter; every case skipped, and exit, without the tools."""
    rep = nslib.Reporter(None)
    rep.skip_unless(nslib.prereqs_ok() and shutil.which("tmux") is not None, cases,
                    "needs root, ip, nft, ss and tmux")
    nslib.install_signal_handlers()
    return rep


def start(ns, script):
    """script (python source) in namespace ns; killed with the namespace."""
    p = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-u", "-c", script],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ns.procs.append(p)
    return p


def said(p, what, timeout=10):
    """The words after what on the helper's next line; an error if it says otherwise."""
    r, _, _ = select.select([p.stdout], [], [], timeout)
    line = p.stdout.readline() if r else ""
    if not line.startswith(what):
        raise RuntimeError(f"helper said {line!r}, not {what!r}")
    return line.split()[1:]
