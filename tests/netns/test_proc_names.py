#!/usr/bin/env python3
"""A process names itself (prctl PR_SET_NAME) with a line break and an
escape sequence, and holds sockets in a namespace: `list -p` and `top -b`
must show the name escaped (x\\n\\x1b[31mevil), never the raw bytes that
would end a line or recolour the admin's terminal; so must `list --csv`.
JSON keeps the name itself, in JSON's own escaping, and stays valid UTF-8
for a name that is not (each such byte U+FFFD; a C1 control \\u009b).

Root only.  Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd  # noqa: E402

NAME = "x\n\x1b[31mevil"          # 11 bytes: within the kernel's 15
SHOWN = "x\\n\\x1b[31mevil"       # what a terminal must get
PORT = 5555
BAD = b"\xff\xfe\xc3\xc2\x9b"     # invalid UTF-8, then an encoded C1 control (CSI)
BAD_JSON = "\ufffd\ufffd\ufffd\x9b"
NAMES = ["list_p_escapes_the_name", "list_p_json_keeps_the_name", "top_b_escapes_the_name",
         "list_p_csv_escapes_the_name", "list_p_json_is_utf8"]

HOLDER = r'''
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]), 0, 0, 0)  # PR_SET_NAME
port = int(sys.argv[2])
l = socket.socket(); l.bind(("127.0.0.1", port)); l.listen(4)
c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept()
c2 = socket.create_connection(("127.0.0.1", port)); s2, _ = l.accept()
c2.close()  # s2 in CLOSE-WAIT: top's header names its holder
print("ready", flush=True)
sys.stdin.read()
'''


def run(argv):
    r = subprocess.run(argv, capture_output=True, timeout=20)
    if r.returncode != 0:
        raise Fail("`%s` exited %d: %r" % (fmt_cmd(argv), r.returncode, r.stderr[:300]))
    return r.stdout


def escaped_rows(argv, want, rows):
    """The output holds `rows` lines with `want` (the name escaped, in the
    form of that output), and no control byte but the line ends."""
    out = run(argv)
    raw = re.findall(rb"[\x00-\x09\x0b-\x1f\x7f]", out)
    if raw:
        raise Fail("`%s` wrote control bytes %r: %r" % (fmt_cmd(argv), raw, out[-600:]))
    lines = [l for l in out.splitlines() if want.encode() in l]
    if len(lines) != rows:
        raise Fail("`%s`: %d lines show %r, want %d: %r" % (fmt_cmd(argv), len(lines), want,
                                                            rows, out[-600:]))


def json_name(ns, pid, name):
    out = run([nslib.TCPSTATE, "list", "-N", ns.name, "-a", "-p", "--json"])
    try:
        data = json.loads(out.decode("utf-8"))  # strict: JSON text is UTF-8 (RFC 8259 8.1)
    except ValueError as e:
        raise Fail("not UTF-8 JSON (%s): %r" % (e, out[-300:]))
    comms = {p["comm"] for o in data for p in o["processes"] if p["pid"] == pid}
    if comms != {name}:
        raise Fail("JSON names the process %r, want %r" % (comms, name))


def cases(rep, ns):
    holder = ns.spawn(HOLDER, NAME.encode().hex(), PORT)
    with open("/proc/%d/comm" % holder.pid) as f:  # ip netns exec runs it in its place
        if f.read() != NAME + "\n":
            raise RuntimeError("prctl did not set the name")
    # The listener, both ends of one connection, the CLOSE-WAIT end of
    # another; top also names the CLOSE-WAIT holder in its header.
    rep.case("list_p_escapes_the_name", escaped_rows,
             [nslib.TCPSTATE, "list", "-N", ns.name, "-a", "-p"],
             "%s[%d]" % (SHOWN, holder.pid), 4)
    rep.case("list_p_json_keeps_the_name", json_name, ns, holder.pid, NAME)
    rep.case("top_b_escapes_the_name", escaped_rows,
             [nslib.TCPSTATE, "top", "-N", ns.name, "-b", "-n", "1"],
             "%s[%d]" % (SHOWN, holder.pid), 5)
    rep.case("list_p_csv_escapes_the_name", escaped_rows,  # pid:comm:fd
             [nslib.TCPSTATE, "list", "-N", ns.name, "-a", "-p", "--csv", "-H"],
             "%d:%s:" % (holder.pid, SHOWN), 4)
    bad = ns.spawn(HOLDER, BAD.hex(), PORT + 1)
    rep.case("list_p_json_is_utf8", json_name, ns, bad.pid, BAD_JSON)


def main():
    rep = nslib.begin("proc_names", NAMES)
    nslib.in_netns(rep, NAMES, lambda ns, tmp: cases(rep, ns))


if __name__ == "__main__":
    main()
