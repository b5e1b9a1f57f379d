#!/usr/bin/env python3
"""`tcpstate list | head`: a reader that goes away is no error, and tcpstate
ends as ss does; a full disk still is one.

Root only.  A namespace holds 4000 listeners, so that a listing is far
larger than a pipe's buffer and head's first read: head exits while list is
still writing.  ss, run the same way in the same shell, is the oracle for
the exit status: with SIGPIPE at its default action both are killed by it
(141 in a shell), with SIGPIPE ignored (trap '' PIPE) both exit 0, and
neither says a word.  The JSON and CSV listings are written while the dump
arrives, so they are checked too.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail  # noqa: E402

LISTENERS = 4000
FORMATS = [("table", []), ("json", ["--json"]), ("csv", ["--csv"])]
NAMES = (["head_%s_as_ss" % f for f, _ in FORMATS] +
         ["head_%s_sigpipe_ignored_as_ss" % f for f, _ in FORMATS] +
         ["full_disk_is_a_write_error", "full_disk_is_a_write_error_sigpipe_ignored"])

HOLDER = r'''
import resource, socket, sys
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
keep = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 20000 + i))
    s.listen(1)
    keep.append(s)
print("ready", flush=True)
sys.stdin.read()
'''


def shell(script):
    """Run a bash script; its stderr is what the test reads."""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)


def head_status(cmd, ignore, tmp):
    """`cmd | head -1`: (exit status of cmd, what cmd said on stderr)."""
    trap = "trap '' PIPE; " if ignore else ""
    r = shell("%s%s 2>%s/err | head -1 >/dev/null; echo ${PIPESTATUS[0]}" % (trap, cmd, tmp))
    with open(os.path.join(tmp, "err")) as f:
        said = f.read()
    return int(r.stdout.strip()), said


def as_ss(ns, opts, ignore, tmp):
    mine = "%s list -N %s -a %s" % (nslib.TCPSTATE, ns.name, " ".join(opts))
    rc, said = head_status(mine, ignore, tmp)
    ss_rc, ss_said = head_status("ss -N %s -tan" % ns.name, ignore, tmp)
    if said:
        raise Fail("`%s | head -1` said %r" % (mine, said))
    if rc != ss_rc:
        raise Fail("`%s | head -1` exited %d, ss %d" % (mine, rc, ss_rc))
    want = 0 if ignore else 128 + 13
    if rc != want:
        raise Fail("`%s | head -1` exited %d (ss too): want %d" % (mine, rc, want))


def full_disk(ns, ignore):
    trap = "trap '' PIPE; " if ignore else ""
    r = shell("%s%s list -N %s -a >/dev/full" % (trap, nslib.TCPSTATE, ns.name))
    if r.returncode != 1 or r.stderr != "tcpstate list: write error: No space left on device\n":
        raise Fail("`list >/dev/full`: exit %d, stderr %r; want 1 and a write error"
                   % (r.returncode, r.stderr))


def cases(rep, ns, tmp):
    ns.spawn(HOLDER, LISTENERS)
    for ignore in (False, True):
        for f, opts in FORMATS:
            name = ("head_%s_sigpipe_ignored_as_ss" if ignore else "head_%s_as_ss") % f
            rep.case(name, as_ss, ns, opts, ignore, tmp)
    rep.case("full_disk_is_a_write_error", full_disk, ns, False)
    rep.case("full_disk_is_a_write_error_sigpipe_ignored", full_disk, ns, True)


def main():
    rep = nslib.begin("list_pipe", NAMES)
    nslib.in_netns(rep, NAMES, lambda ns, tmp: cases(rep, ns, tmp))


if __name__ == "__main__":
    main()
