#!/usr/bin/env python3
"""`tcpstate explain syn-sent` against the kernel: what it says a connect()
to a silent peer does must be what the kernel does.

Root only.  Each case makes its own namespace, sets net.ipv4.tcp_syn_retries
and net.ipv4.tcp_syn_linear_timeouts there (never on the host), reads what
`explain -N NS syn-sent` computes from them, then connect()s to an address of
the namespace whose SYNs an nft rule in the output hook counts and drops.
The SYNs the rule counted must be the first SYN plus the retransmissions
explain announced, and connect() must fail with ETIMEDOUT no sooner than
explain's time (the kernel's rule), nor much later (the timer wheel fires a
timer late by at most about an eighth of its length; the slack allowed here
is that plus a second of scheduling).  The cases run side by side.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, fmt_cmd  # noqa: E402

# (tcp_syn_retries, tcp_syn_linear_timeouts): small, so that each connect()
# fails within seconds.  (1, 3) ends by the time limit before the count.
SETTINGS = [(2, 2), (1, 3), (3, 0)]
NAMES = ["syn_retries_%d_linear_%d" % s for s in SETTINGS] + [
    "explain_N_reads_the_namespace", "host_knobs_unchanged"]
KNOBS = ("net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts")
ADDR = "198.18.0.1"

CONNECT = r'''
import errno, socket, sys, time
s = socket.socket()
t = time.monotonic()
try:
    s.connect((sys.argv[1], 9))
    print("connected")
except OSError as e:
    print("errno %d %.3f" % (e.errno, time.monotonic() - t))
'''


def explained(ns):
    """(retransmissions, their times, failure time) as explain prints them."""
    argv = [nslib.TCPSTATE, "explain", "-N", ns.name, "syn-sent"]
    r = nslib.run(argv)
    if r.returncode != 0:
        raise Fail("`%s` exited %d: %s" % (fmt_cmd(argv), r.returncode, r.stderr.strip()))
    text = " ".join(r.stdout.split())
    m = re.search(r"retransmitted (\d+) times?, at ([\d., and]+?) s after the first, and "
                  r"connect\(\) fails after ([\d.]+) s", text)
    if not m:
        raise Fail("`%s` does not give the retransmissions and the failure: %r"
                   % (fmt_cmd(argv), text))
    times = [float(x) for x in re.split(r", | and ", m.group(2))]
    return int(m.group(1)), times, float(m.group(3)), text


def blackholed(retries, linear, out):
    """Set the knobs in a new namespace, ask explain, connect into a drop rule."""
    with nslib.Netns() as ns:
        ns.add_addr(ADDR + "/24")
        ns.sysctl("net.ipv4.tcp_syn_retries", retries)
        ns.sysctl("net.ipv4.tcp_syn_linear_timeouts", linear)
        ns.nft("tcp dport 9 tcp flags syn counter drop")
        out["explain"] = explained(ns)
        r = ns.exec([sys.executable, "-c", CONNECT, ADDR], timeout=60)
        out["connect"] = r.stdout.strip()
        rules = ns.exec(["nft", "list", "chain", "inet", "tcpst", "out"], check=True).stdout
        m = re.search(r"counter packets (\d+)", rules)
        out["syns"] = int(m.group(1)) if m else None


def check(retries, linear, out):
    if "error" in out:
        raise Fail(out["error"])
    n, times, fail_s, text = out["explain"]
    if len(times) != n:
        raise Fail("explain gives %d retransmissions but %d times: %r" % (n, len(times), text))
    m = re.match(r"errno (\d+) ([\d.]+)$", out["connect"])
    if not m or int(m.group(1)) != 110:
        raise Fail("connect() did not fail with ETIMEDOUT: %r" % out["connect"])
    elapsed = float(m.group(2))
    if out["syns"] != n + 1:
        raise Fail("the kernel sent %s SYNs; explain said 1 + %d retransmissions (%r)"
                   % (out["syns"], n, text))
    if not (fail_s - 0.05 <= elapsed <= fail_s * 1.125 + 1.0):
        raise Fail("connect() failed after %.3f s; explain said %g s" % (elapsed, fail_s))


def quotes_namespace(out):
    """explain -N quotes the namespace's values, not the host's."""
    if "explain" not in out:
        raise Fail(out.get("error", "explain did not run"))
    want = "tcp_syn_retries is %d and net.ipv4.tcp_syn_linear_timeouts %d" % SETTINGS[0]
    if want not in out["explain"][3]:
        raise Fail("explain -N does not say %r: %r" % (want, out["explain"][3]))


def main():
    rep = nslib.begin("explain_syn", NAMES, watchdog=55)
    rep.guard_host("host_knobs_unchanged", lambda: nslib.host_sysctls(KNOBS))
    try:
        results = {s: {} for s in SETTINGS}

        def run_one(s):
            try:
                blackholed(s[0], s[1], results[s])
            except Exception as e:
                results[s]["error"] = "%s: %s" % (type(e).__name__, e)

        threads = [threading.Thread(target=run_one, args=(s,)) for s in SETTINGS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s, name in zip(SETTINGS, NAMES):
            rep.case(name, check, s[0], s[1], results[s])
        rep.case("explain_N_reads_the_namespace", quotes_namespace, results[SETTINGS[0]])
    except Exception as e:
        rep.fail_rest(NAMES[:-1], "%s: %s" % (type(e).__name__, e))
    finally:
        nslib.stop_watchdog()
        nslib._cleanup_all()
    rep.exit()


if __name__ == "__main__":
    main()
