#!/usr/bin/env python3
"""Faults: each gets one clear line naming the problem, an exit code, and no
partial state (sysctls unchanged, persisted file intact).  Root only: uses a
network namespace and private mount namespaces of its own; never the host's
sysctls or files."""
import os, re, subprocess, time

import nslib

REPO = nslib.REPO
TCPSTATE = nslib.TCPSTATE
CASES = ["interface_vanishes", "proc_not_mounted_list_p", "proc_sys_not_mounted_tune",
         "kernel_refuses_write_rolls_back", "readonly_etc_persist", "full_disk_persist",
         "sigpipe_head"]
rep = nslib.begin(None, CASES, watchdog=None, tools=("ip", "unshare"))  # names as they are
report = rep.check


def ns_sh(ns, script, timeout=30):
    """Run a shell script inside the namespace, in a private mount namespace.
    Without /proc, AddressSanitizer's leak checker cannot run and its runtime
    prints '==PID==' notes: neither is tcpstate's output, so both are set
    aside (ASAN_OPTIONS) and filtered."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run(["ip", "netns", "exec", ns.name, "unshare", "-m", "--propagation",
                        "private", "sh", "-c", script], capture_output=True, text=True,
                       timeout=timeout, env=env)
    p.stderr = "".join(l for l in p.stderr.splitlines(True) if not re.match(r"==\d+==", l))
    return p


def one_line(err, start):
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith(start)


def cases(ns, tmp):
    T = TCPSTATE
    sysctl = ns.sysctl_value

    # An interface that goes away under a live capture.
    ns.exec(["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"], check=True)
    ns.exec(["ip", "link", "set", "d0", "up"], check=True)
    w = ns.popen([T, "watch", "-i", "d0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)
    time.sleep(1.0)
    ns.exec(["ip", "link", "del", "d0"], check=True)
    try:
        out, err = w.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        w.kill()
        out, err = w.communicate()
    first = err.strip().splitlines()[0] if err.strip() else ""
    report(w.returncode == 1 and first.startswith("tcpstate watch: d0: "), CASES[0],
           f"exit {w.returncode}, stderr {err!r}")

    # /proc not mounted: -p cannot find owners, tune cannot find the knobs.
    r = ns_sh(ns, f"umount -l /proc && {T} list -a -p")
    report(r.returncode == 1 and one_line(r.stderr, "tcpstate list: /proc: ") and
           "mounted" in r.stderr and not r.stdout, CASES[1],
           f"exit {r.returncode}, stderr {r.stderr!r}, stdout {r.stdout[:80]!r}")
    r = ns_sh(ns, f"umount -l /proc && {T} tune show")
    report(r.returncode == 1 and one_line(r.stderr, "tcpstate tune: /proc/sys/net: ") and
           not r.stdout, CASES[2], f"exit {r.returncode}, stderr {r.stderr!r}")

    # The kernel refuses the second of two writes: the first is undone.
    before = (sysctl("net.ipv4.tcp_tw_reuse"), sysctl("net.ipv4.tcp_fin_timeout"))
    rb = os.path.join(tmp, "rb")
    r = ns_sh(ns, "mount --bind /proc/sys/net/ipv4/tcp_fin_timeout /proc/sys/net/ipv4/tcp_fin_timeout"
              " && mount -o remount,bind,ro /proc/sys/net/ipv4/tcp_fin_timeout && "
              f"{T} tune set tw-reuse=1 fin-timeout=30 --yes --rollback-file {rb}")
    after = (sysctl("net.ipv4.tcp_tw_reuse"), sysctl("net.ipv4.tcp_fin_timeout"))
    report(r.returncode == 1 and "net.ipv4.tcp_fin_timeout: the kernel refused" in r.stderr and
           "all values restored" in r.stderr and after == before, CASES[3],
           f"exit {r.returncode}, stderr {r.stderr!r}, before {before}, after {after}")

    # --persist on a read-only /etc and on a full disk: nothing half-done.
    for case, mount in ((CASES[4], "mount -t tmpfs -o size=64k tmpfs {d} && "
                                   "cp {seed} {d}/90-tcpstate.conf && mount -o remount,ro {d}"),
                        (CASES[5], "mount -t tmpfs -o size=4k tmpfs {d} && "
                                   "cp {seed} {d}/90-tcpstate.conf && "
                                   "(dd if=/dev/zero of={d}/fill bs=1k count=64 2>/dev/null; true)")):
        d = os.path.join(tmp, case)
        os.mkdir(d)
        seed = os.path.join(tmp, "seed.conf")
        with open(seed, "w") as f:
            f.write("# mine\nnet.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_tw_reuse = 0\n")
        before = sysctl("net.ipv4.tcp_tw_reuse")
        script = (mount.format(d=d, seed=seed) +
                  f" && {T} tune set tw-reuse=1 --persist --yes --sysctl-file {d}/90-tcpstate.conf"
                  f" --rollback-file {os.path.join(tmp, case + '.rb')}; rc=$?; "
                  f"cat {d}/90-tcpstate.conf; ls {d}; exit $rc")
        r = ns_sh(ns, script)
        report(r.returncode == 1 and f"{d}/90-tcpstate.conf: " in r.stderr and
               "the running values were restored and the file is unchanged" in r.stderr and
               sysctl("net.ipv4.tcp_tw_reuse") == before and
               "# mine\nnet.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_tw_reuse = 0\n" in r.stdout
               and ".tmp." not in r.stdout, case,
               f"exit {r.returncode}, stderr {r.stderr!r}, stdout {r.stdout!r}")

    # SIGPIPE: output into a pipe closed early ends list -r quietly: killed
    # by SIGPIPE at its default action, as cat is; exit 0 when SIGPIPE is
    # ignored, as ss does (cat then complains).  list on the kernel's table
    # is compared with ss itself in tests/netns/test_list_pipe.py.
    gen = os.path.join(tmp, "mktrace")
    subprocess.run(["cc", "-O2", "-o", gen, os.path.join(REPO, "bench", "mktrace.c")], check=True)
    trace = os.path.join(tmp, "syns.pcap")
    subprocess.run([gen, "-F", "50000", trace], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    got = []
    for trap, oracle in (("", f"cat {trace} {trace} | head -c 1 >/dev/null; "
                                "echo ${PIPESTATUS[0]} >&2"),
                         ("trap '' PIPE; ", "")):
        r = subprocess.run(["bash", "-c", f"{trap}{T} list -r {trace} --csv | head -1 >/dev/null; "
                                          "echo ${PIPESTATUS[0]} >&2; " + oracle],
                           capture_output=True, text=True, timeout=60)
        got.append(r.stderr.strip().splitlines())
    report(got == [["141", "141"], ["0"]], CASES[6],
           f"stderr (list's status, cat's) with SIGPIPE default, then ignored: {got!r}")


nslib.in_netns(rep, CASES, cases)
