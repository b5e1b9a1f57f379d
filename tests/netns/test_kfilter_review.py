#!/usr/bin/env python3
"""Review of the kernel-side filter (issue 17), as root in a namespace of its
own: a long filter, well inside the parser's 1024 tokens, compiles to more
than one page of bytecode (250 `dst A or` conditions: ~5000 bytes, 750
tokens; ss takes it).  With it:
 - `list F` exits 0 and gives the rows of `list --no-kernel-filter F` and of
   ss (it failed with "netlink: cannot build request": the request message
   was a default, one-page netlink message, too small for the program);
 - `top -b --json F` exits 0 and gives the same rows."""
import collections, json

import nslib

TCPSTATE = nslib.TCPSTATE
CASES = ["list_long_program_exits_0", "list_long_program_rows_match_ss",
         "top_long_program_rows_match_ss"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("ip", "ss"))
report = rep.check

HOLDER = r"""
import socket, sys
keep = []
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.18.0.1", 7100)); l.listen(16); keep.append(l)
for src in ("198.18.0.2", "198.18.0.3"):
    c = socket.socket(); c.bind((src, 0)); c.connect(("198.18.0.1", 7100))
    s, _ = l.accept(); keep += [c, s]
print("ready", flush=True)
sys.stdin.read()
"""

# 249 conditions that match nothing, then one that matches the server's
# socket to 198.18.0.3: one row, so a dropped or extra row shows.
FILTER = " or ".join([f"dst 198.18.1.{i}" for i in range(249)] + ["dst 198.18.0.3"])


def program_len():
    """The bytecode's length as --debug-filter prints it (no socket needed)."""
    res = nslib.run([TCPSTATE, "list", "--debug-filter", FILTER])
    for line in res.stdout.splitlines():
        if line.startswith("bytecode: ") and line.split()[1].isdigit():
            return int(line.split()[1])
    raise nslib.Fail(f"--debug-filter printed no program length: {res.stdout[:300]!r}")


def list_keys(ns, extra):
    res = nslib.run_tcpstate(["--json"] + extra + [FILTER], ns)
    if res.rc != 0:
        return res, None
    return res, nslib.ts_keys(json.loads(res.stdout))


def top_keys(ns):
    res = nslib.run(["ip", "netns", "exec", ns.name, TCPSTATE, "top", "-b", "--json",
                     "--no-wire", "-n", "1", FILTER], timeout=30)
    if res.returncode != 0:
        return f"exit {res.returncode}: {res.stderr.strip()[:200]}", None
    frames = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
    return "exit 0", collections.Counter(nslib.ts_key(o) for o in frames[-1]["rows"])


def cases(ns, tmp):
    for a in ("198.18.0.1/15", "198.18.0.2/32", "198.18.0.3/32"):
        ns.add_addr(a)
    ns.spawn(HOLDER)
    size = program_len()
    if size <= 4096:
        raise nslib.Fail(f"the program is {size} bytes: no longer over a page, the test "
                         "no longer tests what it should")
    want = nslib.ss_keys(ns.ss_rows_with_state("-tanH", ["state", "all", FILTER]))
    plain_res, plain = list_keys(ns, ["-a", "--no-kernel-filter"])
    if plain is None or sum(want.values()) != 1 or plain != want:
        raise nslib.Fail(f"setup: ss {dict(want)}, --no-kernel-filter exit {plain_res.rc} "
                         f"{plain_res.stderr.strip()[:200]!r} rows {plain}")
    res, got = list_keys(ns, ["-a"])
    report(res.rc == 0 and res.stderr == "", "list_long_program_exits_0",
           f"{size}-byte program: list exit {res.rc}, stderr {res.stderr.strip()[:200]!r}")
    report(got == want, "list_long_program_rows_match_ss",
           f"{size}-byte program: list {None if got is None else dict(got)}, ss {dict(want)}")
    how, tgot = top_keys(ns)
    report(tgot == want, "top_long_program_rows_match_ss",
           f"{size}-byte program: top {how}, rows {None if tgot is None else dict(tgot)}, "
           f"ss {dict(want)}")


nslib.in_netns(rep, CASES, cases)
