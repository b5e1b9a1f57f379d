#!/usr/bin/env python3
"""tcpstate top where it cannot draw, without root: on a terminal whose
TERM is dumb, unknown or unset, one `tcpstate top:` line naming TERM and
pointing to -b, exit 1, nothing drawn."""
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

raise SystemExit(1 if failed else 0)
