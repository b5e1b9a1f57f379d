#!/usr/bin/env python3
"""Least privilege: a live capture opens the device as root, then runs as an
unprivileged user (-Z, default nobody) with no capabilities (watch), or
only those it still uses (top: SYS_PTRACE, DAC_READ_SEARCH, NET_ADMIN).
Checked from /proc/PID/status.  Root only."""
import signal, subprocess, time

import nslib

TCPSTATE = nslib.TCPSTATE
CASES = ["watch_default_drops_to_nobody", "watch_Z_named_user", "top_keeps_only_its_caps",
         "Z_unknown_user"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("ip",))  # names as they are
report = rep.check


def status_of(pid):
    st = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        st[k] = v.split()
    return st


def run_and_inspect(ns, args):
    p = ns.popen([TCPSTATE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        st = status_of(p.pid)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    return st, p.returncode


def cases(ns, tmp):
    st, rc = run_and_inspect(ns, ["watch", "-i", "lo"])
    ok = (st["Uid"] == ["65534"] * 4 and st["Gid"] == ["65534"] * 4 and
          int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0 and
          int(st["CapBnd"][0], 16) == 0 and st.get("NoNewPrivs") == ["1"] and rc == 0)
    report(ok, CASES[0], f"status {st.get('Uid')} {st.get('CapEff')} {st.get('CapPrm')}, exit {rc}")

    st, rc = run_and_inspect(ns, ["watch", "-i", "lo", "-Z", "daemon"])
    import pwd
    uid = str(pwd.getpwnam("daemon").pw_uid)
    report(st["Uid"] == [uid] * 4 and int(st["CapEff"][0], 16) == 0, CASES[1],
           f"want uid {uid}, status {st.get('Uid')} {st.get('CapEff')}")

    st, rc = run_and_inspect(ns, ["top", "-b", "-d", "0.5", "-n", "10", "-i", "lo"])
    want = (1 << 19) | (1 << 2) | (1 << 12)  # SYS_PTRACE, DAC_READ_SEARCH, NET_ADMIN
    ok = (st["Uid"] == ["65534"] * 4 and int(st["CapEff"][0], 16) == want and
          int(st["CapPrm"][0], 16) == want)
    report(ok, CASES[2], f"status {st.get('Uid')} CapEff {st.get('CapEff')}, want {want:x}")

    p = ns.exec([TCPSTATE, "watch", "-i", "lo", "-Z", "no-such-user-xyz"], timeout=10)
    report(p.returncode == 1 and p.stderr.strip() ==
           'tcpstate watch: -Z: no user "no-such-user-xyz"' and not p.stdout, CASES[3],
           f"exit {p.returncode}, stderr {p.stderr!r}")


nslib.in_netns(rep, CASES, cases)
