#!/usr/bin/env python3
"""bench/live, the live-capture benchmark, as a smoke test: `bench/live
--quick` runs (two small load steps, every program, real namespaces) and
prints a well-formed table whose numbers agree with each other; it leaves no
namespace, process or temporary directory behind, when it ends and when
Ctrl-C stops it mid-run; a program that will not start ends it with exit 1
and the program's message; bad options exit 2 with a message.

Nothing here asserts a timing or a drop count: the bench measures, the test
only checks that it runs and parses.  Root only (the bench makes namespaces);
skipped visibly elsewhere."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402

BENCH = os.path.join(nslib.REPO, "bench", "live")
CASES = ["quick_run_exits_0", "quick_table_well_formed", "quick_summary_well_formed",
         "quick_leaves_nothing", "sigint_mid_run_exits_130", "sigint_leaves_nothing",
         "start_failure_exit_1", "start_failure_leaves_nothing", "usage_errors_exit_2",
         "not_root_exit_2"]
PROGRAMS = ["watch", "top-1", "top-0.2"]
# A row: program, conn/s (a "<" when the step's target was missed), pkt/s,
# received, dropped, drop%, CPU s, us/pkt, and for tcpstate "+x.xxx pp".
ROW = re.compile(r"^\s+(?P<name>\S+)\s+(?P<conns>\d+)[< ]\s+(?P<pps>\d+)\s+"
                 r"(?P<recv>\d+)\s+(?P<drop>\d+)\s+(?P<pct>\d+\.\d{3})\s+(?P<cpu>\d+\.\d\d)\s+"
                 r"(?P<us>\d+\.\d\d|-)(?:\s+(?P<vs>[+-]\d+\.\d{3}) pp)?$")
SUMMARY = re.compile(r"^  (\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+\.\d\d|-)$")


def ready():
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "tcpdump", "cc"))


rep = nslib.begin("live_bench", CASES, watchdog=280, ready=ready,
                  why="needs root, ip, tcpdump and cc")
TAG = "TCPSTATE_LIVE_BENCH_TEST=" + uuid.uuid4().hex
ENV = dict(os.environ, TCPSTATE_LIVE_BENCH_TEST=TAG.split("=", 1)[1])


def tagged_pids():
    """Processes started by a bench of this test: they inherit TAG."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/environ", "rb") as f:
                if TAG.encode() in f.read().split(b"\0"):
                    pids.append(int(d[6:]))
        except OSError:
            pass
    return [p for p in pids if p != os.getpid()]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:  # gone meanwhile
        return ""


def bench_netns(pid):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.startswith(f"tcpstate-live-{pid}-")]


def tmpdirs(pid="*"):
    """The bench's scratch directories: tcpstate-live.PID.* (another run's are not ours)."""
    return set(glob.glob(os.path.join(tempfile.gettempdir(), f"tcpstate-live.{pid}.*")))


def start(args, env=ENV):
    return subprocess.Popen([BENCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)


def leftovers(pid, before):
    """What a finished bench left: its namespaces, its processes, new temp dirs."""
    left = []
    if bench_netns(pid):
        left.append(f"namespaces {bench_netns(pid)}")
    if tagged_pids():
        left.append(f"processes {tagged_pids()}")
    if tmpdirs(pid) - before:
        left.append(f"directories {sorted(tmpdirs(pid) - before)}")
    return "; ".join(left)


def force_clean(p):
    """After a failed case: the bench and all it started go, whatever state it is in."""
    if p.poll() is None:
        p.kill()
        p.wait()
    for pid in tagged_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for ns in bench_netns(p.pid):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def check_rows(steps):
    """Each step: a program row, then its tcpdump's, for every program; the
    numbers agree (dropped <= received, drop% = dropped / received)."""
    if [s for s, _ in steps] != ["500", "1000"]:
        raise nslib.Fail(f"steps {[s for s, _ in steps]}, want ['500', '1000']")
    for step, rows in steps:
        names = [r["name"] for r in rows]
        want = [n for p in PROGRAMS for n in (p, "tcpdump")]
        if names != want:
            raise nslib.Fail(f"step {step}: rows {names}, want {want}")
        for r in rows:
            recv, drop = int(r["recv"]), int(r["drop"])
            pct = 100.0 * drop / recv if recv else 0.0
            if drop > recv or abs(pct - float(r["pct"])) > 0.001 or recv == 0:
                raise nslib.Fail(f"step {step}: {r['name']}: received {recv}, dropped {drop}, "
                                 f"drop% {r['pct']}")
            if (r["vs"] is None) != (r["name"] == "tcpdump"):
                raise nslib.Fail(f"step {step}: {r['name']}: vs tcpdump column {r['vs']!r}")


def parse_table(out):
    steps, cur = [], None
    for line in out.splitlines():
        m = re.match(r"^step (\d+|max) conn/s", line)
        if m:
            cur = (m[1], [])
            steps.append(cur)
        elif cur is not None and line.startswith("  ") and "program" not in line:
            r = ROW.match(line)
            if not r:
                raise nslib.Fail(f"step {cur[0]}: malformed row {line!r}")
            cur[1].append(r.groupdict())
        elif not line.strip():
            cur = None
    return steps


def check_summary(out):
    lines = out.splitlines()
    try:
        i = lines.index("highest drop-free load (achieved conn/s, pkt/s; - = dropped at "
                        "every step):")
        j = lines.index("issue 16 targets (informational):")
    except ValueError:
        raise nslib.Fail("no summary or no targets section")
    rows = [SUMMARY.match(l) for l in lines[i + 2:i + 2 + len(PROGRAMS)]]
    if not all(rows) or [r[1] for r in rows] != PROGRAMS:
        raise nslib.Fail(f"summary rows {lines[i + 2:i + 2 + len(PROGRAMS)]}")
    targets = lines[j + 1:j + 1 + len(PROGRAMS)]
    for name, t in zip(PROGRAMS, targets):
        if not re.match(rf"^  {re.escape(name)}\s+drop% vs tcpdump at worst [+-]\d+\.\d{{3}} pp "
                        r"\(<= \+0\.1\): (MET|MISSED); drop-free load >= tcpdump's: "
                        r"(MET|MISSED)$", t):
            raise nslib.Fail(f"target line {t!r}")


def quick_run():
    before = tmpdirs()
    p = start(["--quick", "--tcpstate", nslib.TCPSTATE])
    try:
        out, err = p.communicate(timeout=200)
        left = leftovers(p.pid, before)
    finally:
        force_clean(p)
    rep.check(p.returncode == 0, "quick_run_exits_0", f"exit {p.returncode}: {err.strip()}\n"
              f"{out[-2000:]}")
    rep.case("quick_table_well_formed", lambda: check_rows(parse_table(out)))
    rep.case("quick_summary_well_formed", check_summary, out)
    rep.check(not left, "quick_leaves_nothing", left)


def wait_for(cond, what, timeout=120):
    """A condition, not a timing: the deadline only stops a hung wait."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise nslib.Fail(f"never saw {what} in {timeout} s")
        time.sleep(0.1)


def sigint_mid_run():
    before = tmpdirs()
    p = start(["--quick", "--seconds", "30", "--tcpstate", nslib.TCPSTATE])
    try:
        # Mid-run: a namespace of the bench exists and a churn runs in it.
        wait_for(lambda: bench_netns(p.pid) and any("churn" in cmdline(q) for q in tagged_pids()),
                 "churn running")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        rep.check(p.returncode == 130 and "interrupted" in err, "sigint_mid_run_exits_130",
                  f"exit {p.returncode}: {err.strip()}")
        left = leftovers(p.pid, before)
        rep.check(not left, "sigint_leaves_nothing", left)
    finally:
        force_clean(p)


def start_failure(tmp):
    before = tmpdirs()
    fake = os.path.join(tmp, "fake-tcpstate")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho 'fake: cannot capture' >&2\nexit 1\n")
    os.chmod(fake, 0o755)
    p = start(["--quick", "--tcpstate", fake])
    try:
        out, err = p.communicate(timeout=120)
        left = leftovers(p.pid, before)
    finally:
        force_clean(p)
    rep.check(p.returncode == 1 and "exited 1 before the load" in err and
              "fake: cannot capture" in err, "start_failure_exit_1",
              f"exit {p.returncode}: {err.strip()}")
    rep.check(not left, "start_failure_leaves_nothing", left)


def usage_errors():
    cases = [(["--steps", "1000,x"], "--steps: bad step 'x'"),
             (["--bogus"], "unrecognized arguments: --bogus"),
             (["--seconds", "0"], "--seconds: must be over 0"),
             (["--programs", "watch,tcpdump"], "--programs: unknown program 'tcpdump'"),
             (["--tcpstate", "/nonexistent/tcpstate"], "--tcpstate: /nonexistent/tcpstate: "
              "not an executable file")]
    for args, msg in cases:
        r = subprocess.run([BENCH] + args, capture_output=True, text=True, timeout=60, env=ENV)
        if r.returncode != 2 or msg not in r.stderr:
            raise nslib.Fail(f"{args}: exit {r.returncode}, stderr {r.stderr.strip()!r}, "
                             f"want 2 and {msg!r}")


def not_root():
    if not shutil.which("setpriv"):
        raise nslib.Skip("needs setpriv")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, BENCH, "--quick"], capture_output=True, text=True,
                       timeout=60, env=ENV)
    if r.returncode != 2 or "must run as root" not in r.stderr:
        raise nslib.Fail(f"exit {r.returncode}, stderr {r.stderr.strip()!r}")


tmp = tempfile.mkdtemp(prefix="tcpstate-live-test.")
try:
    quick_run()
    sigint_mid_run()
    start_failure(tmp)
    rep.case("usage_errors_exit_2", usage_errors)
    rep.case("not_root_exit_2", not_root)
except Exception as e:
    rep.fail_rest(CASES, f"{type(e).__name__}: {e}")
finally:
    nslib.stop_watchdog()
    shutil.rmtree(tmp, ignore_errors=True)
rep.exit()
