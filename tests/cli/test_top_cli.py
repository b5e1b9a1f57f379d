#!/usr/bin/env python3
"""tcpstate top where it cannot draw or write, without root:
 - on a terminal whose TERM is dumb, unknown or unset: one `tcpstate top:`
   line naming TERM and pointing to -b, exit 1, nothing drawn;
 - in batch mode into a pipe whose reader has gone (| head -1): exit 0 and
   nothing on stderr, as ss does."""
import signal
import os, pty, re, select, subprocess

TCPSTATE = os.environ.get("TCPSTATE", os.path.abspath("tcpstate"))
failed = False


def check(name, ok, detail=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + " ".join(detail.split())))
    failed |= not ok


def on_terminal(term):
    """top on a pseudo-terminal with TERM=term (None: unset): its exit code,
    its stderr (kept apart, on a pipe), and what it wrote on the terminal."""
    env = {k: v for k, v in os.environ.items() if k != "TERM"}
    if term is not None:
        env["TERM"] = term
    master, slave = pty.openpty()
    p = subprocess.Popen([TCPSTATE, "top"], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                         env=env, text=True)
    os.close(slave)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    shown = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        shown += b
    os.close(master)
    return p.returncode, err, shown


for name, term, why in (("term_dumb_says_use_batch", "dumb", r'terminal "dumb" \(TERM\) cannot move the cursor'),
                        ("term_unknown_says_use_batch", "nosuchterm", r'unknown terminal type "nosuchterm" \(TERM'),
                        ("term_unset_says_use_batch", None, r"TERM is not set")):
    rc, err, shown = on_terminal(term)
    lines = err.splitlines()
    ok = (rc == 1 and len(lines) == 1 and lines[0].startswith("tcpstate top: ") and
          re.search(why, lines[0]) is not None and "use -b for batch output" in lines[0] and
          b"\x1b[" not in shown)
    check(name, ok, f"rc {rc}, stderr {err!r}, on the terminal {shown[:200]!r}")

# The reader reads one line and goes, as head -1 does.  top then ends as ss
# and list end: by SIGPIPE where SIGPIPE has its default action (141 in a
# shell), with status 0 where it is ignored (trap '' PIPE); never a word.
def closed_pipe(ignore):
    pre = (lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignore else None
    p = subprocess.Popen([TCPSTATE, "top", "-b", "-n", "3", "-d", "0.1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=pre)
    first = p.stdout.readline()
    p.stdout.close()
    try:
        err = p.stderr.read()
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc, err = p.wait(), b"(timed out)"
    return rc, err, first


for name, ignore, want in (("batch_closed_pipe_ends_by_sigpipe", False, -signal.SIGPIPE),
                           ("batch_closed_pipe_sigpipe_ignored_exits_0", True, 0)):
    rc, err, first = closed_pipe(ignore)
    check(name, rc == want and err == b"" and first.startswith(b"tcpstate top - "),
          f"rc {rc} (want {want}), stderr {err!r}, first line {first!r}")
raise SystemExit(1 if failed else 0)
