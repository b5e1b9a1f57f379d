#!/usr/bin/env python3
"""Every command that cannot write its output says so and exits 1, as explain
does: into /dev/full, one line "tcpstate[ CMD]: write error: No space left on
device" and status 1.  Into a pipe whose reader has gone, it ends as ss does:
killed by SIGPIPE, without a word.

Each output path is run: main's --help and --version, every command's
--help, tune show and guide (and set's dry run), explain, watch -r, list
(a dump and -r), top -b, shell's help, and the completion and man page
helpers."""
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TCPSTATE = os.environ.get("TCPSTATE", os.path.join(ROOT, "tcpstate"))
PCAP = os.path.join(ROOT, "tests/pcap/data/zero-caplen.pcap")
DUMP = os.path.join(ROOT, "tests/data/ns1.nldump")
failed = False


def check(name, ok, why):
    global failed
    if ok:
        print(f"PASS: {name}")
    else:
        print(f"FAIL: {name}: {why}")
        failed = True


def commands():
    """(who says it, argv[, standard input]) for each output path."""
    names = subprocess.run([TCPSTATE, "__complete", ""], capture_output=True, text=True,
                           check=True).stdout.split()
    cmds = [n for n in names if not n.startswith("-")]
    yield None, ["--help"]
    yield None, ["--version"]
    for c in cmds:
        yield c, [c, "--help"]
    yield "tune", ["tune", "guide"]
    yield "tune", ["tune", "guide", "--os", "linux"]
    yield "tune", ["tune", "show"]
    yield "tune", ["tune", "show", "--json"]
    yield "tune", ["tune", "set", "--dry-run", "tw-reuse=1"]
    yield "explain", ["explain"]
    yield "explain", ["explain", "handshake"]
    yield "watch", ["watch", "-r", PCAP]
    yield "list", ["list", "-r", PCAP]
    yield "list", ["list", "-a", "--load-dump", DUMP]
    yield "top", ["top", "-b", "-n", "1"]
    yield None, ["__complete", "list", ""]
    yield None, ["__man"]
    yield "shell", ["shell"], b"help\n"
    yield "shell", ["shell"], b"help tune\n"


def run(argv, stdout, stdin):
    p = subprocess.run([TCPSTATE] + argv, input=stdin, stdout=stdout, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stderr.decode(errors="replace")


for who, argv, *stdin in commands():
    stdin = stdin[0] if stdin else b""
    words = " ".join(os.path.basename(a) if a in (PCAP, DUMP) else a or "''" for a in argv)
    if stdin:
        words += " <<< " + repr(stdin.decode().strip())
    prefix = "tcpstate " + who if who else "tcpstate"
    want = f"{prefix}: write error: No space left on device\n"
    with open("/dev/full", "w") as full:
        rc, err = run(argv, full, stdin)
    check(f"{words} >/dev/full: says so, exit 1", rc == 1 and err == want,
          f"rc {rc}, stderr {err!r} (want 1, {want!r})")
    # A pipe whose reader is gone before the command starts: every write fails.
    r, w = os.pipe()
    os.close(r)
    try:
        rc, err = run(argv, w, stdin)
    finally:
        os.close(w)
    check(f"{words} | (closed): ends by SIGPIPE, no word", rc == -signal.SIGPIPE and err == "",
          f"rc {rc}, stderr {err!r}")
sys.exit(1 if failed else 0)
