#!/usr/bin/env python3
"""Files tcpstate writes are never written through a symlink someone could
plant, and get safe modes: the rollback record (0600, in a 0700 directory),
the sysctl.d fragment (0644), the shell's history (0600); --save-dump refuses
a symlink too.  Root only (tune acts on a namespace of its own)."""
import os, stat, subprocess

import nslib

TCPSTATE = nslib.TCPSTATE
CASES = ["rollback_symlink_refused", "persist_symlink_refused", "rollback_modes",
         "history_symlink_not_followed", "save_dump_symlink_refused"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("ip",))  # names as they are
report = rep.check


def cases(ns, tmp):
    def tune(*args):
        return subprocess.run([TCPSTATE, "tune", "-N", ns.name, "--yes", *args],
                              capture_output=True, text=True)

    def reuse():
        return ns.sysctl_value("net.ipv4.tcp_tw_reuse")

    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    before = reuse()
    link = os.path.join(tmp, "rb-link")
    os.symlink(victim, link)
    r = tune("set", "tw-reuse=1", "--rollback-file", link)
    report(r.returncode == 1 and "Too many levels of symbolic links" in r.stderr and
           reuse() == before and open(victim).read() == "precious\n", CASES[0],
           f"exit {r.returncode}, {r.stderr!r}, value {reuse()}")

    plink = os.path.join(tmp, "conf-link")
    os.symlink(victim, plink)
    r = tune("set", "tw-reuse=1", "--persist", "--sysctl-file", plink, "--rollback-file",
             os.path.join(tmp, "rb1"))
    report(r.returncode == 1 and reuse() == before and open(victim).read() == "precious\n" and
           os.path.islink(plink), CASES[1], f"exit {r.returncode}, {r.stderr!r}")

    d = os.path.join(tmp, "state", "tcpstate")
    rb = os.path.join(d, "rollback")
    r = tune("set", "tw-reuse=1", "--rollback-file", rb)
    ok = (r.returncode == 0 and stat.S_IMODE(os.stat(rb).st_mode) == 0o600 and
          stat.S_IMODE(os.stat(d).st_mode) == 0o700)
    report(ok, CASES[2], f"exit {r.returncode}, {r.stderr!r}")
    tune("revert", "--rollback-file", rb)

    hist = os.path.join(tmp, "hist-link")
    os.symlink(victim, hist)
    # The interactive shell (on a pseudo-terminal) keeps history; a planted
    # link must not redirect it.
    import pty, time
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(TCPSTATE, [TCPSTATE, "shell", "--history-file", hist])
        finally:
            os._exit(127)  # never the parent's cleanup, in the child
    time.sleep(0.5)
    os.write(fd, b"list -l\r")
    time.sleep(0.5)
    os.write(fd, b"exit\r")
    seen = b""
    try:
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    report(open(victim).read() == "precious\n" and b"tcpstate> " in seen and
           os.waitstatus_to_exitcode(status) == 0, CASES[3],
           f"victim now {open(victim).read()!r}, screen {seen[-200:]!r}")

    dlink = os.path.join(tmp, "dump-link")
    os.symlink(victim, dlink)
    r = subprocess.run([TCPSTATE, "list", "--save-dump", dlink], capture_output=True, text=True)
    report(r.returncode == 1 and open(victim).read() == "precious\n" and
           "Too many levels of symbolic links" in r.stderr, CASES[4],
           f"exit {r.returncode}, {r.stderr!r}")


nslib.in_netns(rep, CASES, cases)
