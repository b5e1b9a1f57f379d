#!/usr/bin/env python3
"""Root-only tests of `tcpstate tune`'s rollback stack, its lock, and the
sysctl.d file that set --persist writes and revert restores.

- Concurrent `tune set -p` of two knobs, 50 pairs and more: both settings
  are always in the kernel and in the file, and reverts bring back the
  original values and the file as it was, byte for byte; again with two
  rollback files sharing the sysctl.d file.
- Several sets are a stack: each revert undoes the newest; --all every one.
- revert restores the sysctl.d lines the set replaced, removes a file the
  set created, and leaves a line changed since (with a note).
- A rollback file that names a knob twice in one set is refused, naming the
  file and the knob, changing nothing; so is set on a stack it cannot read.
- A second tune waits for the lock (ROLLBACK.lock) and changes nothing
  meanwhile.
- revert refuses a record made in another namespace (or without -N when it
  runs with one, and the reverse), naming it, changing nothing.
- set -N --persist needs --sysctl-file: the default file is the host's.
- A FIFO as the rollback file, or as the sysctl.d file at revert, is
  refused at once: no hang.
- revert names only the sysctl.d lines it really restored.

Every change happens in throw-away namespaces through `tune -N`, with the
rollback and sysctl.d files in a temporary directory; the host's values are
compared before and after each case, as test_tune.py does (its helpers are
used here).

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import fcntl
import os
import select
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
import test_tune as tt  # noqa: E402
from nslib import Fail, Skip, fmt_cmd, run_result  # noqa: E402
from test_tune import expect_err_lines, expect_rc, fold, tune  # noqa: E402

CASES = [
    "concurrent_set_persist_pairs",
    "concurrent_set_persist_two_stacks",
    "sequential_sets_revert_newest_first",
    "revert_restores_persisted_lines",
    "revert_removes_file_set_created",
    "revert_keeps_line_changed_since",
    "revert_failing_file_keeps_record",
    "rollback_duplicate_key_refused",
    "set_refuses_unreadable_stack",
    "second_tune_waits_for_the_lock",
    "revert_refuses_other_namespace",
    "persist_with_netns_needs_sysctl_file",
    "fifo_files_refused_without_hanging",
    "revert_names_only_lines_restored",
    "host_sysctls_unchanged",
]

FIN = "net.ipv4.tcp_fin_timeout"
MAXTW = "net.ipv4.tcp_max_tw_buckets"
REUSE = "net.ipv4.tcp_tw_reuse"
PAIRS = 50

SEED = ("# my own settings\n"
        "net.ipv4.tcp_keepalive_time = 600\n"
        "net.ipv4.tcp_fin_timeout = 45\n"
        "; a comment\n"
        "net.ipv4.tcp_max_tw_buckets = 5000\n")


def proc_path(name):
    return "/proc/sys/" + name.replace(".", "/")


def ns_read(ns, *names):
    """Several values of the namespace in one `ip netns exec`."""
    r = run_result(["ip", "netns", "exec", ns.name, "cat"] + [proc_path(n) for n in names])
    if r.rc != 0:
        raise RuntimeError("cannot read %s in %s: %s" % (names, ns.name, r.stderr))
    vals = [fold(line) for line in r.stdout.splitlines()]
    return dict(zip(names, vals))


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def key_lines(text, name):
    return [l for l in (text or "").splitlines() if tt._key_of(l) == name]


def files(d):
    """The rollback and sysctl.d files in d, and the options naming them."""
    rb, sc = os.path.join(d, "rb"), os.path.join(d, "sc.conf")
    return rb, sc, ["--rollback-file", rb, "--sysctl-file", sc]


def _concurrent_pairs(ns, pairs, two_stacks):
    """Pairs of `tune set -p` at once, one knob each.  With two_stacks each
    has its own rollback file (as two namespaces' sets have by default) and
    only the sysctl.d file is shared."""
    d = tt.tmpdir()
    rb, sc, _ = files(d)
    rbs = [rb, rb + "2" if two_stacks else rb]
    write(sc, SEED)
    orig = ns_read(ns, FIN, MAXTW)

    def pair(i):
        fin, maxtw = str(100 + i), str(20000 + i)
        procs = [subprocess.Popen([tt.TCPSTATE, "tune", "set", "-p", "-N", ns.name,
                                   "--rollback-file", r, "--sysctl-file", sc, arg],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for r, arg in zip(rbs, ("fin-timeout=" + fin, "max-tw=" + maxtw))]
        outs = [p.communicate(timeout=30) for p in procs]
        for p, (out, err) in zip(procs, outs):
            if p.returncode != 0:
                raise Fail("pair %d: `%s` exited %d: %r %r" % (i, fmt_cmd(p.args), p.returncode,
                                                               out, err))
        now = ns_read(ns, FIN, MAXTW)
        if now != {FIN: fin, MAXTW: maxtw}:
            raise Fail("pair %d: the kernel has %r, expected %s=%s %s=%s"
                       % (i, now, FIN, fin, MAXTW, maxtw))
        text = read(sc)
        got = (key_lines(text, FIN), key_lines(text, MAXTW))
        if got != (["%s = %s" % (FIN, fin)], ["%s = %s" % (MAXTW, maxtw)]):
            raise Fail("pair %d of concurrent `tune set -p`: %s has %r, expected one line each "
                       "with %s and %s: a setting was lost; file %r" % (i, sc, got, fin, maxtw,
                                                                          text))
        for keep in ("# my own settings", "net.ipv4.tcp_keepalive_time = 600", "; a comment"):
            if keep not in text.splitlines():
                raise Fail("pair %d: %s lost the line %r: %r" % (i, sc, keep, text))

    def revert(r, *extra):
        res = tune("revert", "-N", ns.name, "--rollback-file", r, *extra)
        expect_rc(res, 0)

    def back_to_start(what):
        now = ns_read(ns, FIN, MAXTW)
        if now != orig:
            raise Fail("%s: the kernel has %r, expected the original %r" % (what, now, orig))
        if read(sc) != SEED:
            raise Fail("%s: %s is %r, expected it as it was: %r" % (what, sc, read(sc), SEED))
        for r in rbs:
            if os.path.exists(r):
                raise Fail("%s: %s still exists: %r" % (what, r, read(r)))

    for i in range(pairs):
        pair(i)
        # Newest first on each stack; across stacks, either order.
        for r in (rbs[::-1] if i % 2 else rbs):
            revert(r)
        back_to_start("pair %d, after two reverts" % i)
    # Five more pairs stacked up, then revert --all.
    for i in range(pairs, pairs + 5):
        pair(i)
    for r in sorted(set(rbs)):
        revert(r, "--all")
    back_to_start("five pairs, then revert --all")


def concurrent_set_persist_pairs(ns):
    _concurrent_pairs(ns, PAIRS, False)


def concurrent_set_persist_two_stacks(ns):
    _concurrent_pairs(ns, 25, True)


def sequential_sets_revert_newest_first(ns):
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    write(sc, SEED)
    orig = ns_read(ns, FIN, REUSE)
    reuse = tt.other_value(orig[REUSE], ["1", "0"])
    for arg in ("fin-timeout=33", "tw-reuse=" + reuse):
        expect_rc(tune("set", "-p", "-N", ns.name, *opts, arg), 0)
    after_a = read(sc)
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    now = ns_read(ns, FIN, REUSE)
    if now != {FIN: "33", REUSE: orig[REUSE]}:
        raise Fail("set a; set b; revert: the kernel has %r, expected only b undone: "
                   "%s=33 %s=%s" % (now, FIN, REUSE, orig[REUSE]))
    if key_lines(read(sc), REUSE) or key_lines(read(sc), FIN) != ["%s = 33" % FIN]:
        raise Fail("set a; set b; revert: %s is %r, expected a's line only (file after a "
                   "and b: %r)" % (sc, read(sc), after_a))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    if res.rc != 0:
        raise Fail("%s; the second revert must undo the first set" % res)
    now = ns_read(ns, FIN, REUSE)
    if now != orig or read(sc) != SEED:
        raise Fail("set a; set b; revert; revert: kernel %r (expected %r), %s %r (expected "
                   "%r)" % (now, orig, sc, read(sc), SEED))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 1)
    if "nothing to revert" not in expect_err_lines(res)[-1]:
        raise Fail("%s; expected 'nothing to revert' after the stack is empty" % res)
    # --all without a terminal, and a dry run of it first.
    for arg in ("fin-timeout=34", "fin-timeout=35", "tw-reuse=" + reuse):
        expect_rc(tune("set", "-p", "-N", ns.name, *opts, arg), 0)
    res = tune("revert", "-n", "--all", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    want = ["would set %s: %s -> %s" % (REUSE, reuse, orig[REUSE]),
            "would set %s: 35 -> 34" % FIN, "would set %s: 34 -> %s" % (FIN, orig[FIN])]
    got = [l for l in res.stdout.splitlines() if l.startswith("would set")]
    if got != want:
        raise Fail("%s; expected the plan %r" % (res, want))
    if ns_read(ns, FIN, REUSE) != {FIN: "35", REUSE: reuse}:
        raise Fail("%s; a dry run changed the kernel" % res)
    res = tune("revert", "--all", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if ns_read(ns, FIN, REUSE) != orig or read(sc) != SEED or os.path.exists(rb):
        raise Fail("%s; kernel %r (expected %r), %s %r, rollback file left: %s"
                   % (res, ns_read(ns, FIN, REUSE), orig, sc, read(sc), os.path.exists(rb)))
    res = tune("set", "--all", "-N", ns.name, "--rollback-file", rb, "fin-timeout=30")
    expect_rc(res, 2)
    if "--all" not in expect_err_lines(res)[0]:
        raise Fail("%s; expected a usage error naming --all" % res)


def revert_restores_persisted_lines(ns):
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    write(sc, SEED)
    os.chmod(sc, 0o640)
    orig = ns_read(ns, FIN, MAXTW)
    res = tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=30", "max-tw=30000")
    expect_rc(res, 0)
    text = read(sc)
    if key_lines(text, FIN) != ["%s = 30" % FIN] or key_lines(text, MAXTW) != \
            ["%s = 30000" % MAXTW]:
        raise Fail("%s; %s is %r" % (res, sc, text))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if read(sc) != SEED:
        raise Fail("%s; %s is %r, expected the user's lines back: %r" % (res, sc, read(sc), SEED))
    if os.stat(sc).st_mode & 0o777 != 0o640:
        raise Fail("%s; %s mode %o, expected 640 as before" % (res, sc, os.stat(sc).st_mode))
    if ns_read(ns, FIN, MAXTW) != orig:
        raise Fail("%s; kernel %r, expected %r" % (res, ns_read(ns, FIN, MAXTW), orig))
    # Several lines for one knob, in both spellings, one to be ignored on
    # failure: all come back, in their order, at the first one's place.
    seed2 = ("net.ipv4.tcp_fin_timeout = 45\n"
             "net.ipv4.tcp_keepalive_time = 600\n"
             "-net/ipv4/tcp_fin_timeout=50\n")
    write(sc, seed2)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=31"), 0)
    if key_lines(read(sc), FIN) != ["%s = 31" % FIN]:
        raise Fail("set -p over two lines for %s: %s is %r" % (FIN, sc, read(sc)))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    want = ("net.ipv4.tcp_fin_timeout = 45\n"
            "-net/ipv4/tcp_fin_timeout=50\n"
            "net.ipv4.tcp_keepalive_time = 600\n")
    if read(sc) != want:
        raise Fail("%s; %s is %r, expected %r" % (res, sc, read(sc), want))


def revert_removes_file_set_created(ns):
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    orig = ns_read(ns, FIN)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=32"), 0)
    if key_lines(read(sc), FIN) != ["%s = 32" % FIN]:
        raise Fail("set -p did not create %s: %r" % (sc, read(sc)))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if os.path.exists(sc):
        raise Fail("%s; %s did not exist before the set but is still there: %r"
                   % (res, sc, read(sc)))
    if "removed " + sc not in res.stdout:
        raise Fail("%s; expected 'removed %s'" % (res, sc))
    if ns_read(ns, FIN) != orig:
        raise Fail("%s; kernel %r, expected %r" % (res, ns_read(ns, FIN), orig))
    # An empty file stays, empty.
    write(sc, "")
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=32"), 0)
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if read(sc) != "":
        raise Fail("%s; %s was empty before the set, now %r" % (res, sc, read(sc)))


def revert_keeps_line_changed_since(ns):
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    write(sc, SEED)
    orig = ns_read(ns, FIN, MAXTW)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=30", "max-tw=30000"), 0)
    edited = read(sc).replace("%s = 30\n" % FIN, "%s = 35\n" % FIN)
    write(sc, edited)
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    lines = expect_err_lines(res)
    if not any(sc in l and FIN in l and "changed since" in l for l in lines):
        raise Fail("%s; expected a note naming %s and %s" % (res, sc, FIN))
    text = read(sc)
    if key_lines(text, FIN) != ["%s = 35" % FIN] or \
            key_lines(text, MAXTW) != ["%s = 5000" % MAXTW]:
        raise Fail("%s; %s is %r: expected the edited %s line kept and %s's line back"
                   % (res, sc, text, FIN, MAXTW))
    if ns_read(ns, FIN, MAXTW) != orig:
        raise Fail("%s; kernel %r, expected %r" % (res, ns_read(ns, FIN, MAXTW), orig))


def revert_failing_file_keeps_record(ns):
    """The sysctl.d file cannot be written at revert (its directory mounted
    read-only in a private mount namespace): the kernel's values are put
    back, the record is kept, and a later revert does it all."""
    d = tt.tmpdir()
    etc = os.path.join(d, "etc")
    os.mkdir(etc)
    rb, sc = os.path.join(d, "rb"), os.path.join(etc, "sc.conf")
    write(sc, SEED)
    orig = ns_read(ns, FIN)
    expect_rc(tune("set", "-p", "-N", ns.name, "--rollback-file", rb, "--sysctl-file", sc,
                   "fin-timeout=30"), 0)
    after_set = (read(sc), read(rb))
    script = ('mount --bind {e} {e} && mount -o remount,bind,ro {e} || exit 99; '
              'exec "$@"').format(e=etc)
    res = run_result(["unshare", "-m", "sh", "-c", script, "sh", tt.TCPSTATE, "tune", "revert",
                  "-N", ns.name, "--rollback-file", rb])
    if res.rc == 99:
        raise Skip("cannot mount %s read-only: %s" % (etc, res.stderr.strip()[:200]))
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if sc not in lines[-1] or "record is kept" not in lines[-1]:
        raise Fail("%s; expected the error to name %s and say the record is kept" % (res, sc))
    if ns_read(ns, FIN) != {FIN: "30"} or (read(sc), read(rb)) != after_set:
        raise Fail("%s; expected nothing changed: %s is %r, files %r, were %r"
                   % (res, FIN, ns_read(ns, FIN), (read(sc), read(rb)), after_set))
    if "set " in res.stdout:
        raise Fail("%s; printed a change that was undone" % res)
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if ns_read(ns, FIN) != orig or read(sc) != SEED or os.path.exists(rb):
        raise Fail("%s; kernel %r (expected %r), %s %r" % (res, ns_read(ns, FIN), orig, sc,
                                                          read(sc)))


def _snapshot(paths):
    out = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (read(p), st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            out[p] = None
    return out


def rollback_duplicate_key_refused(ns):
    d = tt.tmpdir()
    rb, sc, _ = files(d)
    write(sc, "net.ipv4.tcp_fin_timeout = 30\n")
    cases = [
        # This version's format, with a persisted part that must stay untouched.
        "[set]\n%s = 60\n%s = 61\npersist %s\nwrote %s = 30\n" % (FIN, FIN, sc, FIN),
        # The format of earlier versions: one record, no header.
        "# tcpstate tune\n%s = 0\n%s = 2\n" % (REUSE, REUSE),
        # The older of two records is broken: nothing at all is reverted.
        "[set]\n%s = 60\n%s = 61\n[set]\n%s = 1\n" % (FIN, FIN, REUSE),
    ]
    for text in cases:
        write(rb, text)
        os.chmod(rb, 0o600)
        key = FIN if FIN in text else REUSE
        ns_before = ns_read(ns, FIN, REUSE)
        files_before = _snapshot([rb, sc])
        for extra in ([], ["--all"], ["-n"]):
            res = tune("revert", "-N", ns.name, "--rollback-file", rb, *extra)
            expect_rc(res, 1)
            lines = expect_err_lines(res)
            if len(lines) != 1 or rb not in lines[0] or key not in lines[0] or \
                    "twice" not in lines[0] or "nothing was changed" not in lines[0]:
                raise Fail("%s; expected one line naming %s and %s twice, 'nothing was "
                           "changed'" % (res, rb, key))
            if ns_read(ns, FIN, REUSE) != ns_before:
                raise Fail("%s; the kernel changed: %r -> %r" % (res, ns_before,
                                                                 ns_read(ns, FIN, REUSE)))
            if _snapshot([rb, sc]) != files_before:
                raise Fail("%s; a file changed: %r -> %r" % (res, files_before,
                                                             _snapshot([rb, sc])))
            if res.stdout:
                raise Fail("%s; expected no output" % res)


def set_refuses_unreadable_stack(ns):
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    write(rb, "[set]\n%s = 60\n%s = 61\n" % (FIN, FIN))
    before = ns_read(ns, FIN)
    snap = _snapshot([rb, sc])
    res = tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=30")
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if rb not in lines[-1] or FIN not in lines[-1] or "nothing was changed" not in lines[-1]:
        raise Fail("%s; expected the error to name %s and %s" % (res, rb, FIN))
    if ns_read(ns, FIN) != before or _snapshot([rb, sc]) != snap:
        raise Fail("%s; something changed" % res)


def second_tune_waits_for_the_lock(ns):
    rb = tt.rollback_path()
    before = ns_read(ns, FIN)
    fin = tt.other_value(before[FIN], ["36", "37"])
    fd = os.open(rb + ".lock", os.O_RDONLY | os.O_CREAT, 0o600)
    p = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = subprocess.Popen([tt.TCPSTATE, "tune", "set", "-N", ns.name, "--rollback-file", rb,
                              "fin-timeout=" + fin], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # It says it waits, then blocks in flock(2): only then look.  The
        # descriptor is read as it is (a buffered reader could keep the
        # line from select()).
        err = b""
        end = time.time() + 20
        while b"waiting for" not in err and time.time() < end:
            if select.select([p.stderr], [], [], 0.5)[0]:
                chunk = os.read(p.stderr.fileno(), 4096)
                if not chunk:
                    break
                err += chunk
        err = err.decode(errors="replace")
        if "waiting for %s.lock" % rb not in err:
            fcntl.flock(fd, fcntl.LOCK_UN)
            out, rest = p.communicate(timeout=20)
            raise Fail("`%s` with %s.lock held: exit %r, stdout %r, stderr %r: it did not "
                       "say it waits for the lock" % (fmt_cmd(p.args), rb, p.returncode, out,
                                                      err + rest.decode(errors="replace")))
        if ns_read(ns, FIN) != before or os.path.exists(rb):
            raise Fail("`%s` changed things while %s.lock was held" % (fmt_cmd(p.args), rb))
        fcntl.flock(fd, fcntl.LOCK_UN)
        out, rest = p.communicate(timeout=20)
        out, rest = out.decode(errors="replace"), rest.decode(errors="replace")
        if p.returncode != 0 or ns_read(ns, FIN) != {FIN: fin}:
            raise Fail("`%s` after the lock was released: exit %d, %r, %r; %s is %r"
                       % (fmt_cmd(p.args), p.returncode, out, rest, FIN, ns_read(ns, FIN)))
    finally:
        os.close(fd)
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def _refused(res, rc, *words):
    """res failed with rc, printed nothing, and its last stderr line (after
    any notes) holds every word."""
    expect_rc(res, rc)
    last = expect_err_lines(res)[-1]
    missing = [w for w in words if w not in last]
    if missing:
        raise Fail("%s; expected the error to hold %r" % (res, missing))
    if res.stdout:
        raise Fail("%s; expected no output" % res)


def _unchanged(res, before, now):
    if now != before:
        raise Fail("%s; something changed: %r -> %r" % (res, before, now))


def revert_refuses_other_namespace(ns):
    """A record made with -N A is never written into B, nor into the
    namespace a plain revert runs in (tried in B through `ip netns exec`,
    and on the host only with --dry-run), and one made without -N never
    into -N A; with --all every record is checked before any write."""
    other = nslib.Netns()
    try:
        d = tt.tmpdir()
        rb, sc, opts = files(d)
        write(sc, SEED)
        A, B = ns.name, other.name
        other.sysctl(FIN, "45")
        orig = ns_read(ns, FIN)
        expect_rc(tune("set", "-p", "-N", A, *opts, "fin-timeout=30"), 0)

        def state():
            return ns_read(ns, FIN), ns_read(other, FIN), _snapshot([rb, sc])
        before = state()
        for extra in ([], ["--all"], ["-n"]):
            res = tune("revert", "-N", B, "--rollback-file", rb, *extra)
            _refused(res, 1, rb, 'made in namespace "%s"' % A, 'in namespace "%s"' % B,
                     "with -N %s" % A, "nothing was changed")
            _unchanged(res, before, state())
        # A plain revert where it runs: in B, and (a dry run) on the host.
        res = run_result(["ip", "netns", "exec", B, tt.TCPSTATE, "tune", "revert",
                      "--rollback-file", rb])
        _refused(res, 1, rb, 'made in namespace "%s"' % A, "runs without -N",
                 "with -N %s" % A, "nothing was changed")
        _unchanged(res, before, state())
        res = tune("revert", "-n", "--rollback-file", rb)
        _refused(res, 1, rb, 'made in namespace "%s"' % A, "runs without -N")
        _unchanged(res, before, state())
        # Made without -N (inside B), reverted with -N A.
        rb2 = os.path.join(d, "rb2")
        expect_rc(run_result(["ip", "netns", "exec", B, tt.TCPSTATE, "tune", "set",
                          "--rollback-file", rb2, "fin-timeout=46"]), 0)
        before2 = (state(), _snapshot([rb2]))
        res = tune("revert", "-N", A, "--rollback-file", rb2)
        _refused(res, 1, rb2, "made without -N", 'in namespace "%s"' % A,
                 "revert it without -N", "nothing was changed")
        _unchanged(res, before2, (state(), _snapshot([rb2])))
        expect_rc(run_result(["ip", "netns", "exec", B, tt.TCPSTATE, "tune", "revert",
                          "--rollback-file", rb2]), 0)
        # One stack, a set of each: --all from B stops at A's, before any write.
        expect_rc(tune("set", "-N", B, "--rollback-file", rb, "fin-timeout=47"), 0)
        before = state()
        res = tune("revert", "--all", "-N", B, "--rollback-file", rb)
        _refused(res, 1, rb, 'made in namespace "%s"' % A, "nothing was changed")
        _unchanged(res, before, state())
        # Each in its own namespace: both undone.
        expect_rc(tune("revert", "-N", B, "--rollback-file", rb), 0)
        res = tune("revert", "-N", A, "--rollback-file", rb)
        expect_rc(res, 0)
        if (ns_read(ns, FIN), ns_read(other, FIN), read(sc)) != (orig, {FIN: "45"}, SEED):
            raise Fail("%s; expected %r in A, 45 in B and %s as it was; got %r, %r, %r"
                       % (res, orig, sc, ns_read(ns, FIN), ns_read(other, FIN), read(sc)))
    finally:
        other.destroy()


def persist_with_netns_needs_sysctl_file(ns):
    """set -N --persist without --sysctl-file is a usage error, before any
    write.  It runs with a directory of ours bound over /etc/sysctl.d in a
    private mount namespace, so even a tcpstate without the check cannot
    touch the host's file."""
    d = tt.tmpdir()
    etc = os.path.join(d, "etc")
    os.mkdir(etc)
    rb = os.path.join(d, "rb")
    before = ns_read(ns, FIN)
    script = 'mount --bind {e} /etc/sysctl.d || exit 99; exec "$@"'.format(e=etc)
    for extra in ([], ["-n"]):
        res = run_result(["unshare", "-m", "sh", "-c", script, "sh", tt.TCPSTATE, "tune", "set",
                      "-p", "-N", ns.name, "--rollback-file", rb, *extra, "fin-timeout=31"])
        if res.rc == 99:
            raise Skip("cannot bind a directory over /etc/sysctl.d: %s"
                       % res.stderr.strip()[:200])
        _refused(res, 2, "--persist with -N needs --sysctl-file",
                 "/etc/sysctl.d/90-tcpstate.conf", '"%s"' % ns.name, "nothing was changed")
        if ns_read(ns, FIN) != before or os.listdir(etc) or os.path.exists(rb):
            raise Fail("%s; something changed: %s %r, %s holds %r, %s exists: %s"
                       % (res, FIN, ns_read(ns, FIN), etc, os.listdir(etc), rb,
                          os.path.exists(rb)))
    # Named, the file is the user's choice.
    sc = os.path.join(d, "sc.conf")
    res = tune("set", "-p", "-N", ns.name, "--rollback-file", rb, "--sysctl-file", sc,
               "fin-timeout=31")
    expect_rc(res, 0)
    if ns_read(ns, FIN) != {FIN: "31"} or key_lines(read(sc), FIN) != ["%s = 31" % FIN]:
        raise Fail("%s; %s is %r, %s %r" % (res, FIN, ns_read(ns, FIN), sc, read(sc)))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if ns_read(ns, FIN) != before or os.path.exists(sc):
        raise Fail("%s; %s is %r, expected %r; %s left" % (res, FIN, ns_read(ns, FIN), before,
                                                         sc))


def fifo_files_refused_without_hanging(ns):
    """A FIFO as the rollback file (set, revert, revert -n, revert --all) or
    as the sysctl.d file a record names (revert, revert -n) is refused as
    "not a regular file" at once, changing nothing."""
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    os.mkfifo(rb, 0o600)
    before = ns_read(ns, FIN)
    snap = _snapshot([sc])
    for args in (["set", "fin-timeout=31"], ["revert"], ["revert", "-n"],
                 ["revert", "--all"]):
        res = tune(args[0], "-N", ns.name, "--rollback-file", rb, *args[1:], timeout=10)
        _refused(res, 1, rb, "not a regular file", "nothing was changed")
        if ns_read(ns, FIN) != before or not stat.S_ISFIFO(os.lstat(rb).st_mode) or \
                _snapshot([sc]) != snap:
            raise Fail("%s; something changed" % res)
    os.unlink(rb)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=31"), 0)
    os.unlink(sc)
    os.mkfifo(sc, 0o644)
    snap = _snapshot([rb])
    res = tune("revert", "-n", "-N", ns.name, "--rollback-file", rb, timeout=10)
    expect_rc(res, 1)
    last = expect_err_lines(res)[-1]
    if sc not in last or "not a regular file" not in last:
        raise Fail("%s; expected the error to name %s and 'not a regular file'" % (res, sc))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb, timeout=10)
    expect_rc(res, 1)
    last = expect_err_lines(res)[-1]
    if sc not in last or "not a regular file" not in last or "record is kept" not in last:
        raise Fail("%s; expected the error to name %s, 'not a regular file' and 'record is "
                   "kept'" % (res, sc))
    if ns_read(ns, FIN) != {FIN: "31"} or _snapshot([rb]) != snap or \
            not stat.S_ISFIFO(os.lstat(sc).st_mode):
        raise Fail("%s; something changed" % res)


def revert_names_only_lines_restored(ns):
    """Lines changed since the set are left alone, with a note, and neither
    the plan nor the final line says they were restored."""
    d = tt.tmpdir()
    rb, sc, opts = files(d)
    write(sc, SEED)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=30", "max-tw=30000"), 0)
    write(sc, read(sc).replace("%s = 30\n" % FIN, "%s = 35\n" % FIN))
    res = tune("revert", "-n", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    want = ["would restore in %s: the lines of %s as they were" % (sc, MAXTW),
            "would leave in %s: the line for %s, changed since that set" % (sc, FIN)]
    got = [l for l in res.stdout.splitlines() if " in %s: " % sc in l]
    if sorted(got) != sorted(want):
        raise Fail("%s; expected the lines %r" % (res, want))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    got = [l for l in res.stdout.splitlines() if l.startswith("restored")]
    if got != ["restored in %s: the lines of %s as they were" % (sc, MAXTW)]:
        raise Fail("%s; expected one 'restored' line naming %s only" % (res, MAXTW))
    if not any(FIN in l and "changed since" in l for l in expect_err_lines(res)):
        raise Fail("%s; expected a note that %s's line changed since" % (res, FIN))
    # Nothing restored at all: no such line.  The user wrote the knob twice.
    write(sc, SEED)
    expect_rc(tune("set", "-p", "-N", ns.name, *opts, "fin-timeout=30"), 0)
    write(sc, read(sc) + "%s = 30\n" % FIN)
    edited = read(sc)
    for extra in (["-n"], []):
        res = tune("revert", "-N", ns.name, "--rollback-file", rb, *extra)
        expect_rc(res, 0)
        if "restore" in res.stdout:
            raise Fail("%s; nothing was restored in %s, but it says so" % (res, sc))
    if read(sc) != edited:
        raise Fail("%s; %s changed: %r -> %r" % (res, sc, edited, read(sc)))


def main():
    rep = nslib.begin("test_tune_stack", CASES, watchdog=240, tools=("ip", "sysctl"))
    tt.run_cases(rep, CASES, globals(), "tcpstate-tune-stack.")


if __name__ == "__main__":
    main()
