#!/usr/bin/env python3
"""Root-only end-to-end tests for `tcpstate tune`.

Every change happens inside throw-away network namespaces created here
(`ip netns add`), through `tcpstate tune ... -N NAME` (or, for the cases
that need it, `ip netns exec NAME ...`); values are checked with
`ip netns exec NAME sysctl`.  The rollback and sysctl.d files always live
in a temporary directory.  The host's values of the knobs involved
(nslib.host_tune_snapshot) are snapshotted before and after every case and
at the end of the file: any change is a FAIL.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import json
import os
import re
import shutil
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, Skip, fmt_cmd, run_result  # noqa: E402

TCPSTATE = nslib.TCPSTATE

CASES = [
    "show_json_agrees_with_sysctl",
    "show_text_agrees_with_sysctl",
    "set_changes_exactly_what_was_asked",
    "dry_run_changes_nothing",
    "invalid_value_in_batch_changes_nothing",
    "kernel_refused_write_rolls_back",
    "failed_write_rolls_back_readonly_proc",
    "revert_restores_and_deletes_rollback",
    "revert_restores_empty_reserved_ports",
    "revert_restores_fin_timeout_beyond_advice",
    "revert_restores_max_tw_minus_one",
    "long_reserved_ports_list",
    "persist_writes_valid_file",
    "persist_creates_new_file_0644",
    "unknown_knob_suggests_name",
    "myths_refused_nothing_changed",
    "unprivileged_set_refused",
    "cap_net_admin_without_root_can_set",
    "confirm_prompt_on_terminal",
    "guide_per_os",
    "show_missing_netns_and_bad_action",
    "host_sysctls_unchanged",
]

# alias -> full name of every real knob.
KNOBS = {
    "tw-reuse": "net.ipv4.tcp_tw_reuse",
    "tw-reuse-delay": "net.ipv4.tcp_tw_reuse_delay",
    "max-tw": "net.ipv4.tcp_max_tw_buckets",
    "fin-timeout": "net.ipv4.tcp_fin_timeout",
    "port-range": "net.ipv4.ip_local_port_range",
    "reserved-ports": "net.ipv4.ip_local_reserved_ports",
    "timestamps": "net.ipv4.tcp_timestamps",
    "max-orphans": "net.ipv4.tcp_max_orphans",
    "ct-time-wait": "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
}
MYTHS = {
    "tw-recycle": "net.ipv4.tcp_tw_recycle",
    "vs-timewait": "net.ipv4.vs.timeout_timewait",
    "time-wait": "net.ipv4.tcp_timewait_len",
}

TMP = None


# --------------------------------------------------------------------------
# helpers


def fold(v):
    return " ".join(v.split())


def tune(*args, **kw):
    """`tcpstate tune ARGS` run to its end (kw: run_result's): its Result."""
    nslib.need_tcpstate()
    return run_result([TCPSTATE, "tune"] + list(args), **kw)


def expect_rc(res, rc):
    if res.rc != rc:
        raise Fail("%s; expected rc=%d" % (res, rc))


def expect_err_lines(res):
    """Every stderr line of tune is `tcpstate tune: ...`; returns the lines."""
    lines = res.stderr.splitlines()
    if not lines:
        raise Fail("%s; expected an error message on stderr" % res)
    bad = [l for l in lines if not l.startswith("tcpstate tune:")]
    if bad:
        raise Fail("%s; stderr lines not starting 'tcpstate tune:': %r" % (res, bad))
    return lines


def ns_values(ns):
    """The namespace's value of every real knob, by name (None: absent)."""
    return {name: ns.sysctl_value(name) for name in KNOBS.values()}


def expect_unchanged(ns, before, what):
    after = ns_values(ns)
    diff = ["%s: %r -> %r" % (k, before[k], after[k]) for k in before if before[k] != after[k]]
    if diff:
        raise Fail("%s: namespace values changed: %s" % (what, "; ".join(diff)))


def tmpdir():
    return tempfile.mkdtemp(dir=TMP)


def rollback_path():
    """Where a case's rollback file goes: in a scratch directory of its own."""
    return os.path.join(tmpdir(), "rb")


def other_value(cur, choices):
    for c in choices:
        if c != cur:
            return c
    raise RuntimeError("no value differs from %r" % cur)


def names_knob(text, name):
    alias = {v: k for k, v in KNOBS.items()}.get(name) or \
        {v: k for k, v in MYTHS.items()}.get(name)
    short = name.split(".", 2)[-1] if name.startswith("net.ipv4.") else name
    return name in text or short in text or (alias is not None and alias in text)


# --------------------------------------------------------------------------
# cases


def show_json_agrees_with_sysctl(ns):
    truth = ns_values(ns)
    if truth["net.ipv4.tcp_tw_reuse"] is None:
        raise RuntimeError("sysctl cannot read tcp_tw_reuse in %s" % ns.name)
    res = tune("show", "-N", ns.name, "--json")
    expect_rc(res, 0)
    try:
        data = json.loads(res.stdout)
    except ValueError as e:
        raise Fail("%s; invalid JSON: %s" % (res, e))
    if not isinstance(data, dict) or not isinstance(data.get("knobs"), list) \
            or not isinstance(data.get("advice"), list):
        raise Fail("%s; expected {\"knobs\": [...], \"advice\": [...]}" % res)
    by = {}
    keys = {"name", "alias", "myth", "exists", "value", "default", "min", "max", "unit",
            "path", "per_netns", "since", "meaning"}
    probs = []
    for o in data["knobs"]:
        miss = keys - set(o) - {"min", "max"}  # min/max only for numbers
        if miss:
            probs.append("%s lacks %s" % (o.get("name"), sorted(miss)))
        by[o.get("name")] = o
    for alias, name in KNOBS.items():
        o = by.get(name)
        if o is None:
            probs.append("%s missing from the JSON" % name)
            continue
        if o.get("alias") != alias:
            probs.append("%s alias %r, expected %r" % (name, o.get("alias"), alias))
        if o.get("myth") is not False:
            probs.append("%s myth=%r" % (name, o.get("myth")))
        want_exists = truth[name] is not None
        if o.get("exists") is not want_exists:
            probs.append("%s exists=%r but sysctl %s" % (
                name, o.get("exists"), "reads %r" % truth[name] if want_exists else "lacks it"))
        if want_exists:
            got = o.get("value")
            if not isinstance(got, str) or fold(got) != truth[name]:
                probs.append("%s value %r, sysctl says %r" % (name, got, truth[name]))
        elif o.get("value") is not None:
            probs.append("%s absent but value %r" % (name, o.get("value")))
    for alias, name in MYTHS.items():
        o = by.get(name)
        if o is None:
            probs.append("myth %s missing from the JSON" % name)
            continue
        if o.get("myth") is not True or o.get("exists") is not False or o.get("alias") != alias:
            probs.append("myth %s: myth=%r exists=%r alias=%r" % (
                name, o.get("myth"), o.get("exists"), o.get("alias")))
        if not o.get("meaning"):
            probs.append("myth %s has no explanation" % name)
    # The namespace is not the initial one: tcp_max_orphans must be absent.
    if truth["net.ipv4.tcp_max_orphans"] is None and by.get("net.ipv4.tcp_max_orphans", {}).get("exists") is not False:
        probs.append("tcp_max_orphans is absent in %s but reported present" % ns.name)
    # Selected knobs, by alias/short name: exactly those.
    res2 = tune("show", "-N", ns.name, "--json", "port-range", "tcp_fin_timeout")
    expect_rc(res2, 0)
    try:
        sel = [o.get("name") for o in json.loads(res2.stdout)["knobs"]]
    except (ValueError, KeyError, TypeError) as e:
        raise Fail("%s; bad JSON: %s" % (res2, e))
    if sorted(sel) != sorted(["net.ipv4.ip_local_port_range", "net.ipv4.tcp_fin_timeout"]):
        probs.append("`tune show --json port-range tcp_fin_timeout` listed %r" % sel)
    if probs:
        raise Fail("`%s`: %s" % (fmt_cmd(res.argv), "; ".join(probs)))


def show_text_agrees_with_sysctl(ns):
    # Make the values interesting: a folded range and a non-empty list.
    ns.sysctl("net.ipv4.ip_local_reserved_ports", "8080,9000-9100")
    truth = ns_values(ns)
    res = tune("show", "-N", ns.name)
    expect_rc(res, 0)
    got, absent = {}, set()
    for line in res.stdout.splitlines():
        m = re.match(r"^(\S+) \((\S+)\) = (.*)$", line)
        if m:
            got[m.group(1)] = (m.group(2), m.group(3).rstrip())
            continue
        m = re.match(r"^(\S+) \((\S+)\): not available here$", line)
        if m:
            absent.add(m.group(1))
    probs = []
    for alias, name in KNOBS.items():
        if truth[name] is None:
            if name not in absent:
                probs.append("%s: sysctl lacks it, expected '%s (%s): not available here'"
                             % (name, name, alias))
            continue
        if name not in got:
            probs.append("no '%s (%s) = ...' line" % (name, alias))
        elif got[name] != (alias, truth[name]):
            probs.append("%s shown as %r, sysctl says %r" % (name, got[name], (alias, truth[name])))
    for alias, name in MYTHS.items():
        if name not in res.stdout:
            probs.append("myth %s not explained" % name)
    if "32768 60999" not in res.stdout and truth["net.ipv4.ip_local_port_range"] == "32768 60999":
        probs.append("port range not folded to '32768 60999'")
    if probs:
        raise Fail("`%s`: %s; stdout head %r" % (fmt_cmd(res.argv), "; ".join(probs),
                                                 res.stdout[:300]))


def set_changes_exactly_what_was_asked(ns):
    rb = rollback_path()
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    rng = other_value(before["net.ipv4.ip_local_port_range"], ["20000 60001", "20001 60002"])
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "tw-reuse=" + reuse,
               "port-range=" + rng)
    expect_rc(res, 0)
    after = ns_values(ns)
    want = dict(before)
    want["net.ipv4.tcp_tw_reuse"] = reuse
    want["net.ipv4.ip_local_port_range"] = rng
    diff = ["%s: before %r, after %r, wanted %r" % (k, before[k], after[k], want[k])
            for k in want if after[k] != want[k]]
    if diff:
        raise Fail("%s; %s" % (res, "; ".join(diff)))
    for name, new in (("net.ipv4.tcp_tw_reuse", reuse), ("net.ipv4.ip_local_port_range", rng)):
        line = "set %s: %s -> %s" % (name, before[name], new)
        if line not in res.stdout.splitlines():
            raise Fail("%s; stdout lacks the line %r" % (res, line))
    # The rollback file: comments, one record ("[set]"), then `name = old`
    # for exactly those two.
    if not os.path.isfile(rb):
        raise Fail("%s; rollback file %s was not written" % (res, rb))
    recorded = {}
    with open(rb) as f:
        text = f.read()
    if text.splitlines().count("[set]") != 1:
        raise Fail("rollback file %s: expected one [set] record in %r" % (rb, text))
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line == "[set]":
            continue
        m = re.match(r"^(\S+) = (.*)$", line)
        if not m:
            raise Fail("rollback file %s: bad line %r in %r" % (rb, line, text))
        recorded[m.group(1)] = fold(m.group(2))
    wantrec = {"net.ipv4.tcp_tw_reuse": before["net.ipv4.tcp_tw_reuse"],
               "net.ipv4.ip_local_port_range": before["net.ipv4.ip_local_port_range"]}
    if recorded != wantrec:
        raise Fail("rollback file %s records %r, expected %r" % (rb, recorded, wantrec))


def dry_run_changes_nothing(ns):
    d = tmpdir()
    rb, sc = os.path.join(d, "rb"), os.path.join(d, "sc.conf")
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    fin = other_value(before["net.ipv4.tcp_fin_timeout"], ["30", "31"])
    for opt in ("-n", "--dry-run"):
        res = tune("set", opt, "-p", "--sysctl-file", sc, "-N", ns.name, "--rollback-file", rb,
                   "tw-reuse=" + reuse, "fin-timeout=" + fin)
        expect_rc(res, 0)
        for name, new in (("net.ipv4.tcp_tw_reuse", reuse), ("net.ipv4.tcp_fin_timeout", fin)):
            line = "would set %s: %s -> %s" % (name, before[name], new)
            if line not in res.stdout.splitlines():
                raise Fail("%s; stdout lacks %r" % (res, line))
        expect_unchanged(ns, before, str(res))
        for f in (rb, sc):
            if os.path.exists(f):
                raise Fail("%s; dry run created %s" % (res, f))


def invalid_value_in_batch_changes_nothing(ns):
    rb = rollback_path()
    before = ns_values(ns)
    unpriv = ns.sysctl_value("net.ipv4.ip_unprivileged_port_start")
    if unpriv is None or int(unpriv) <= 100:
        raise RuntimeError("ip_unprivileged_port_start in %s is %r" % (ns.name, unpriv))
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["0", "1"])
    batches = [
        (["tw-reuse=" + reuse, "fin-timeout=abc"], "net.ipv4.tcp_fin_timeout", "abc"),
        (["fin-timeout=abc", "tw-reuse=" + reuse], "net.ipv4.tcp_fin_timeout", "abc"),
        (["tw-reuse=" + reuse, "port-range=100 2000"], "net.ipv4.ip_local_port_range", "100"),
        (["port-range=20000 60001", "tw-reuse=3"], "net.ipv4.tcp_tw_reuse", "3"),
        (["tw-reuse=" + reuse, "max-tw=-5"], "net.ipv4.tcp_max_tw_buckets", "-5"),
        (["tw-reuse=" + reuse, "reserved-ports=70000"], "net.ipv4.ip_local_reserved_ports",
         "70000"),
        (["tw-reuse=" + reuse, "port-range=60001 20000"], "net.ipv4.ip_local_port_range",
         "60001"),
        (["tw-reuse=" + reuse, "tw-reuse-delay=0"], "net.ipv4.tcp_tw_reuse_delay", "0"),
    ]
    for args, bad, value in batches:
        res = tune("set", "-N", ns.name, "--rollback-file", rb, *args)
        expect_rc(res, 2)
        lines = expect_err_lines(res)
        err = lines[-1]
        if not names_knob(err, bad) or value not in err:
            raise Fail("%s; the error should name %s and %r" % (res, bad, value))
        if "nothing was changed" not in err:
            raise Fail("%s; the error should say 'nothing was changed'" % res)
        expect_unchanged(ns, before, str(res))
        if os.path.exists(rb):
            raise Fail("%s; rollback file %s was written" % (res, rb))


def kernel_refused_write_rolls_back(ns):
    """ct-time-wait takes seconds up to 2^31-1 in tcpstate's table, but the
    kernel converts to jiffies and refuses anything above INT_MAX/HZ."""
    rb = rollback_path()
    before = ns_values(ns)
    ct = "net.netfilter.nf_conntrack_tcp_timeout_time_wait"
    if before[ct] is None:
        raise Skip("no value tcpstate accepts that the kernel refuses: the only one found "
                   "(ct-time-wait=2147483647, above INT_MAX/HZ) needs nf_conntrack, which "
                   "is not loaded in this namespace; see failed_write_rolls_back_readonly_proc")
    # Confirm the kernel really refuses it (in the namespace, never the host).
    probe = run_result(["ip", "netns", "exec", ns.name, "sh", "-c",
                 "echo 2147483647 > /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait"])
    if probe.rc == 0:
        ns.sysctl(ct, before[ct])
        raise Skip("this kernel accepts ct-time-wait=2147483647; no kernel-refused value known")
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    rng = other_value(before["net.ipv4.ip_local_port_range"], ["20000 60001", "20001 60002"])
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "tw-reuse=" + reuse,
               "port-range=" + rng, "ct-time-wait=2147483647")
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if not names_knob(lines[-1], ct) or "2147483647" not in lines[-1]:
        raise Fail("%s; the error should name %s and its value" % (res, ct))
    expect_unchanged(ns, before, str(res))


def failed_write_rolls_back_readonly_proc(ns):
    """A write that fails halfway (the last knob's /proc file bind-mounted
    read-only in a private mount namespace): the earlier ones are restored."""
    rb = rollback_path()
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    rng = other_value(before["net.ipv4.ip_local_port_range"], ["20000 60001", "20001 60002"])
    fin = other_value(before["net.ipv4.tcp_fin_timeout"], ["30", "31"])
    f = "/proc/sys/net/ipv4/tcp_fin_timeout"
    script = ('mount --bind {f} {f} && mount -o remount,bind,ro {f} || exit 99; '
              'exec "$@"').format(f=f)
    argv = ["ip", "netns", "exec", ns.name, "unshare", "-m", "sh", "-c", script, "sh",
            TCPSTATE, "tune", "set", "--rollback-file", rb, "tw-reuse=" + reuse,
            "port-range=" + rng, "fin-timeout=" + fin]
    res = run_result(argv)
    if res.rc == 99:
        raise Skip("cannot bind-mount %s read-only: %s" % (f, res.stderr.strip()[:200]))
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if not names_knob(lines[-1], "net.ipv4.tcp_fin_timeout"):
        raise Fail("%s; the error should name tcp_fin_timeout" % res)
    expect_unchanged(ns, before, str(res))


def revert_restores_and_deletes_rollback(ns):
    rb = rollback_path()
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    fin = other_value(before["net.ipv4.tcp_fin_timeout"], ["30", "31"])
    rng = other_value(before["net.ipv4.ip_local_port_range"], ["20000 60001", "20001 60002"])
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "tw-reuse=" + reuse,
               "fin-timeout=" + fin, "port-range=" + rng)
    expect_rc(res, 0)
    mid = ns_values(ns)
    if (mid["net.ipv4.tcp_tw_reuse"], mid["net.ipv4.tcp_fin_timeout"],
            mid["net.ipv4.ip_local_port_range"]) != (reuse, fin, rng):
        raise Fail("%s; values after set: %r" % (res, mid))
    if not os.path.isfile(rb):
        raise Fail("%s; no rollback file %s" % (res, rb))
    # A dry-run revert changes nothing and keeps the file.
    res = tune("revert", "-n", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    if "would set" not in res.stdout:
        raise Fail("%s; dry-run revert should print 'would set'" % res)
    expect_unchanged(ns, mid, str(res))
    if not os.path.isfile(rb):
        raise Fail("%s; dry-run revert removed %s" % (res, rb))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 0)
    expect_unchanged(ns, before, "after `%s` (values should be back to the original)"
                     % fmt_cmd(res.argv))
    if os.path.exists(rb):
        raise Fail("%s; rollback file %s still exists" % (res, rb))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if "nothing to revert" not in lines[-1]:
        raise Fail("%s; expected 'nothing to revert'" % res)
    expect_unchanged(ns, before, str(res))


def revert_restores_empty_reserved_ports(ns):
    """The default ip_local_reserved_ports is empty: set, then revert, must
    bring the empty list back."""
    rb = rollback_path()
    ns.sysctl("net.ipv4.ip_local_reserved_ports", "")
    before = ns_values(ns)
    if before["net.ipv4.ip_local_reserved_ports"] != "":
        raise RuntimeError("cannot empty ip_local_reserved_ports: %r"
                           % before["net.ipv4.ip_local_reserved_ports"])
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "reserved-ports=8080,9000-9100")
    expect_rc(res, 0)
    got = ns.sysctl_value("net.ipv4.ip_local_reserved_ports")
    if got != "8080,9000-9100":
        raise Fail("%s; reserved ports now %r" % (res, got))
    with open(rb) as f:
        recorded = f.read()
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    if res.rc != 0:
        raise Fail("%s; expected rc=0 (rollback file %r)" % (res, recorded))
    expect_unchanged(ns, before, "after `%s` (rollback file %r)" % (fmt_cmd(res.argv), recorded))
    if os.path.exists(rb):
        raise Fail("%s; rollback file %s still exists" % (res, rb))


def _revert_restores_kernel_value(ns, name, start, new):
    """Start from a value the kernel accepts but set would refuse; set, then
    revert: the kernel has the starting value again."""
    rb = rollback_path()
    probe = run_result(["ip", "netns", "exec", ns.name, "sysctl", "-q", "-w", "%s=%s" % (name, start)])
    if probe.rc != 0 or ns.sysctl_value(name) != start:
        return "the kernel refuses %s=%s in a namespace: %s" % (name, start,
                                                                probe.stderr.strip()[:200])
    alias = {v: k for k, v in KNOBS.items()}[name]
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "%s=%s" % (alias, start))
    if res.rc != 2 or "nothing was changed" not in res.stderr:
        raise Fail("%s; expected set to refuse %s=%s (outside its advised range)"
                   % (res, alias, start))
    before = ns_values(ns)
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "%s=%s" % (alias, new))
    expect_rc(res, 0)
    if ns.sysctl_value(name) != new:
        raise Fail("%s; %s is %r, expected %r" % (res, name, ns.sysctl_value(name), new))
    res = tune("revert", "-N", ns.name, "--rollback-file", rb)
    if res.rc != 0:
        raise Fail("%s; expected rc=0: revert must restore %s=%s, which set read from the "
                   "kernel" % (res, name, start))
    expect_unchanged(ns, before, "after `%s` (%s should be %s again)"
                     % (fmt_cmd(res.argv), name, start))
    if os.path.exists(rb):
        raise Fail("%s; rollback file %s still exists" % (res, rb))
    return None


def revert_restores_fin_timeout_beyond_advice(ns):
    why = _revert_restores_kernel_value(ns, "net.ipv4.tcp_fin_timeout", "100000", "30")
    if why:
        raise RuntimeError(why)


def revert_restores_max_tw_minus_one(ns):
    why = _revert_restores_kernel_value(ns, "net.ipv4.tcp_max_tw_buckets", "-1", "20000")
    if why:
        raise Skip(why)


def _port_set(text):
    ports = set()
    for tok in re.split(r"[,\s]+", text.strip()):
        if not tok:
            continue
        if "-" in tok:
            a, b = tok.split("-", 1)
            ports.update(range(int(a), int(b) + 1))
        else:
            ports.add(int(tok))
    return ports


def long_reserved_ports_list(ns):
    """Lists longer than 255 characters: shown whole, recorded whole and
    restored whole by revert, and set whole (or refused, changing nothing)."""
    rb = rollback_path()
    long1 = ",".join(str(p) for p in range(10000, 10120, 2))   # 60 ports, 359 chars
    ns.sysctl("net.ipv4.ip_local_reserved_ports", long1)
    before = ns_values(ns)
    if _port_set(before["net.ipv4.ip_local_reserved_ports"]) != _port_set(long1):
        raise RuntimeError("cannot prepare a long reserved list: %r"
                           % before["net.ipv4.ip_local_reserved_ports"])
    probs = []
    # show
    res = tune("show", "-N", ns.name, "--json", "reserved-ports")
    try:
        shown = json.loads(res.stdout)["knobs"][0]["value"]
    except (ValueError, KeyError, IndexError, TypeError):
        shown = None
    if res.rc != 0 or shown != before["net.ipv4.ip_local_reserved_ports"]:
        probs.append("`%s` rc=%d shows %r, sysctl says %r" % (
            fmt_cmd(res.argv), res.rc, shown, before["net.ipv4.ip_local_reserved_ports"]))
    # set + revert
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "reserved-ports=8080")
    if res.rc != 0:
        probs.append("%s; expected rc=0" % res)
    else:
        rec = open(rb).read() if os.path.exists(rb) else None
        res = tune("revert", "-N", ns.name, "--rollback-file", rb)
        now = ns.sysctl_value("net.ipv4.ip_local_reserved_ports") or ""
        if res.rc != 0 or _port_set(now) != _port_set(long1):
            probs.append("set reserved-ports=8080 then `%s` (rc=%d, stderr %r): reserved "
                         "ports now %r, expected %r; lost %s, gained %s; rollback file "
                         "recorded %r" % (
                             fmt_cmd(res.argv), res.rc, res.stderr.strip()[:200], now,
                             before["net.ipv4.ip_local_reserved_ports"],
                             sorted(_port_set(long1) - _port_set(now)),
                             sorted(_port_set(now) - _port_set(long1)), rec))
    ns.sysctl("net.ipv4.ip_local_reserved_ports", long1)
    # set a long list
    long2 = ",".join(str(p) for p in range(20000, 20060))       # 60 ports, 359 chars
    if os.path.exists(rb):
        os.unlink(rb)
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "reserved-ports=" + long2)
    now = ns.sysctl_value("net.ipv4.ip_local_reserved_ports") or ""
    if res.rc == 0:
        if _port_set(now) != _port_set(long2):
            probs.append("%s: reserved ports now %r, expected ports 20000-20059; "
                         "missing %s, unexpected %s" % (
                             res, now, sorted(_port_set(long2) - _port_set(now)),
                             sorted(_port_set(now) - _port_set(long2))))
    elif res.rc in (1, 2):
        if _port_set(now) != _port_set(long1):
            probs.append("%s: refused but reserved ports changed to %r" % (res, now))
    else:
        probs.append("%s: expected rc 0, or 1/2 with nothing changed" % res)
    if probs:
        raise Fail(" || ".join(probs))


def _persist_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def _key_of(line):
    s = line.strip()
    if not s or s[0] in "#;":
        return None
    s = s.lstrip("-")
    return s.split("=", 1)[0].strip().replace("/", ".")


def persist_writes_valid_file(ns):
    d = tmpdir()
    rb, sc = os.path.join(d, "rb"), os.path.join(d, "90-test.conf")
    seed = ("# my own comment, keep me\n"
            "net.ipv4.tcp_keepalive_time = 600\n"
            "net.ipv4.tcp_tw_reuse = 0\n"
            "; another comment\n")
    with open(sc, "w") as f:
        f.write(seed)
    os.chmod(sc, 0o644)
    ns.sysctl("net.ipv4.tcp_tw_reuse", "0")
    before = ns_values(ns)
    rng = other_value(before["net.ipv4.ip_local_port_range"], ["20000 60001", "20001 60002"])
    res = tune("set", "--persist", "--sysctl-file", sc, "-N", ns.name, "--rollback-file", rb,
               "tw-reuse=1", "port-range=" + rng)
    expect_rc(res, 0)
    after = ns_values(ns)
    if after["net.ipv4.tcp_tw_reuse"] != "1" or after["net.ipv4.ip_local_port_range"] != rng:
        raise Fail("%s; running values %r" % (res, after))
    mode = stat.S_IMODE(os.stat(sc).st_mode)
    lines = _persist_lines(sc)
    probs = []
    if mode != 0o644:
        probs.append("mode %o, expected 644" % mode)
    for keep in ("# my own comment, keep me", "net.ipv4.tcp_keepalive_time = 600",
                 "; another comment"):
        if keep not in lines:
            probs.append("line %r was not kept" % keep)
    reuse_lines = [l for l in lines if _key_of(l) == "net.ipv4.tcp_tw_reuse"]
    if len(reuse_lines) != 1 or fold(reuse_lines[0].split("=", 1)[1]) != "1":
        probs.append("tcp_tw_reuse lines %r, expected one with value 1" % reuse_lines)
    rng_lines = [l for l in lines if _key_of(l) == "net.ipv4.ip_local_port_range"]
    if len(rng_lines) != 1 or fold(rng_lines[0].split("=", 1)[1]) != rng:
        probs.append("ip_local_port_range lines %r, expected one with value %r" % (rng_lines, rng))
    if probs:
        raise Fail("%s; %s: %s; file %r" % (res, sc, "; ".join(probs), lines))
    # The file must load with sysctl -p, in the namespace, and set the values.
    ns.sysctl("net.ipv4.tcp_tw_reuse", "0")
    ns.sysctl("net.ipv4.ip_local_port_range", before["net.ipv4.ip_local_port_range"])
    p = run_result(["ip", "netns", "exec", ns.name, "sysctl", "-p", sc])
    if p.rc != 0:
        raise Fail("%s; file %r" % (p, lines))
    got = (ns.sysctl_value("net.ipv4.tcp_tw_reuse"), ns.sysctl_value("net.ipv4.ip_local_port_range"),
           ns.sysctl_value("net.ipv4.tcp_keepalive_time"))
    if got != ("1", rng, "600"):
        raise Fail("%s; after it, (tw_reuse, port_range, keepalive) = %r" % (p, got))


def persist_creates_new_file_0644(ns):
    d = tmpdir()
    rb, sc = os.path.join(d, "rb"), os.path.join(d, "sub", "dir", "new.conf")
    old_umask = os.umask(0o077)  # tcpstate must not inherit a private umask for this file
    try:
        before = ns_values(ns)
        fin = other_value(before["net.ipv4.tcp_fin_timeout"], ["30", "31"])
        res = tune("set", "-p", "--sysctl-file", sc, "-N", ns.name, "--rollback-file", rb,
                   "fin-timeout=" + fin)
    finally:
        os.umask(old_umask)
    expect_rc(res, 0)
    if not os.path.isfile(sc):
        raise Fail("%s; %s not created" % (res, sc))
    mode = stat.S_IMODE(os.stat(sc).st_mode)
    lines = _persist_lines(sc)
    if mode != 0o644:
        raise Fail("%s; %s mode %o, expected 644" % (res, sc, mode))
    fl = [l for l in lines if _key_of(l) == "net.ipv4.tcp_fin_timeout"]
    if len(fl) != 1 or fold(fl[0].split("=", 1)[1]) != fin:
        raise Fail("%s; %s lines %r" % (res, sc, lines))
    ns.sysctl("net.ipv4.tcp_fin_timeout", before["net.ipv4.tcp_fin_timeout"])
    p = run_result(["ip", "netns", "exec", ns.name, "sysctl", "-p", sc])
    if p.rc != 0 or ns.sysctl_value("net.ipv4.tcp_fin_timeout") != fin:
        raise Fail("%s; file %r" % (p, lines))


def unknown_knob_suggests_name(ns):
    rb = rollback_path()
    before = ns_values(ns)
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "tw_reuze=1")
    expect_rc(res, 2)
    lines = expect_err_lines(res)
    if "did you mean net.ipv4.tcp_tw_reuse" not in lines[-1]:
        raise Fail("%s; expected 'did you mean net.ipv4.tcp_tw_reuse'" % res)
    # In a batch, after a valid one: still nothing changed.
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    res = tune("set", "-N", ns.name, "--rollback-file", rb, "tw-reuse=" + reuse,
               "tw_reuze=1")
    expect_rc(res, 2)
    expect_unchanged(ns, before, str(res))
    if os.path.exists(rb):
        raise Fail("%s; rollback file written" % res)
    res = tune("show", "-N", ns.name, "fin_timout")
    expect_rc(res, 2)
    if "did you mean net.ipv4.tcp_fin_timeout" not in res.stderr:
        raise Fail("%s; expected 'did you mean net.ipv4.tcp_fin_timeout'" % res)


def myths_refused_nothing_changed(ns):
    rb = rollback_path()
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    cases = [("tw-recycle=0", ["4.12"]),
             ("vs-timewait=10", ["IPVS", "ipvsadm"]),
             ("time-wait=30", ["60 s"]),
             ("net.ipv4.tcp_tw_recycle=1", ["4.12"])]
    for arg, words in cases:
        for args in ([arg], ["tw-reuse=" + reuse, arg]):
            res = tune("set", "-N", ns.name, "--rollback-file", rb, *args)
            expect_rc(res, 2)
            lines = expect_err_lines(res)
            missing = [w for w in words if w not in res.stderr]
            if missing:
                raise Fail("%s; explanation lacks %r" % (res, missing))
            if len(lines) != 1:
                raise Fail("%s; expected one stderr line" % res)
            expect_unchanged(ns, before, str(res))
            if os.path.exists(rb):
                raise Fail("%s; rollback file %s written" % (res, rb))
    # No stray files were created under /proc either.
    for name in MYTHS.values():
        if ns.sysctl_value(name) is not None:
            raise Fail("myth %s now exists in %s?" % (name, ns.name))


def _binary_for(uid_dir):
    """A copy of the binary any uid can run (the repo path may be private)."""
    os.chmod(uid_dir, 0o755)
    dst = os.path.join(uid_dir, "tcpstate")
    if not os.path.exists(dst):
        shutil.copy2(TCPSTATE, dst)
        os.chmod(dst, 0o755)
    return dst


def unprivileged_set_refused(ns):
    if not shutil.which("setpriv"):
        raise Skip("setpriv not installed")
    d = tmpdir()
    rb = os.path.join(d, "rb")
    binp = _binary_for(d)
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    argv = ["ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534",
            "--clear-groups", "--inh-caps=-all", binp, "tune", "set",
            "tw-reuse=" + reuse, "port-range=20000 60001", "--rollback-file", rb]
    res = run_result(argv)
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if "root" not in lines[-1] or "CAP_NET_ADMIN" not in lines[-1]:
        raise Fail("%s; expected a message naming root and CAP_NET_ADMIN" % res)
    if "nothing was changed" not in lines[-1]:
        raise Fail("%s; expected 'nothing was changed'" % res)
    expect_unchanged(ns, before, str(res))
    if os.path.exists(rb):
        raise Fail("%s; rollback file written" % res)
    # revert, unprivileged, with something to revert: refused too.
    with open(rb, "w") as f:
        f.write("# test\nnet.ipv4.tcp_tw_reuse = %s\n" % reuse)
    os.chmod(rb, 0o644)
    argv = argv[:argv.index("set")] + ["revert", "--rollback-file", rb]
    res = run_result(argv)
    expect_rc(res, 1)
    if "CAP_NET_ADMIN" not in res.stderr:
        raise Fail("%s; expected the CAP_NET_ADMIN message" % res)
    expect_unchanged(ns, before, str(res))
    if not os.path.exists(rb):
        raise Fail("%s; refused revert deleted the rollback file" % res)


def cap_net_admin_without_root_can_set(ns):
    if not shutil.which("setpriv"):
        raise Skip("setpriv not installed")
    d = tmpdir()
    binp = _binary_for(d)
    own = os.path.join(d, "nobody")
    os.mkdir(own, 0o700)
    os.chown(own, 65534, 65534)
    rb = os.path.join(own, "rb")
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    argv = ["ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534",
            "--clear-groups", "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin",
            "--bounding-set=-all,+net_admin", binp, "tune", "set", "tw-reuse=" + reuse,
            "--rollback-file", rb]
    res = run_result(argv)
    if res.rc != 0 and "setpriv:" in res.stderr:
        raise Skip("setpriv cannot grant an ambient CAP_NET_ADMIN here: %s"
                   % res.stderr.strip()[:200])
    expect_rc(res, 0)
    if ns.sysctl_value("net.ipv4.tcp_tw_reuse") != reuse:
        raise Fail("%s; tcp_tw_reuse is %r, expected %r" % (
            res, ns.sysctl_value("net.ipv4.tcp_tw_reuse"), reuse))


def confirm_prompt_on_terminal(ns):
    """On a terminal, set asks; anything but y changes nothing; -y does not ask."""
    d = tmpdir()
    rb = os.path.join(d, "rb")
    before = ns_values(ns)
    reuse = other_value(before["net.ipv4.tcp_tw_reuse"], ["1", "0"])
    cmd = "%s tune set -N %s --rollback-file %s tw-reuse=%s; echo EXIT=$?; sleep 30" % (
        TCPSTATE, ns.name, rb, reuse)
    with nslib.Tmux(path=os.path.join(d, "tmux.sock")) as tm:
        tm.new("t", cmd, 150, 30)
        s = tm.wait(lambda s: "[y/N]" in s or "EXIT=" in s)
        if "[y/N]" not in s:
            ls = tm.run("list-sessions")
            raise Fail("on a terminal `%s` did not ask for confirmation; screen %r; "
                       "tmux sessions %r %r" % (cmd, s, ls.stdout, ls.stderr))
        if ns.sysctl_value("net.ipv4.tcp_tw_reuse") != before["net.ipv4.tcp_tw_reuse"]:
            raise Fail("value changed before the answer; screen %r" % s)
        tm.keys("t", "n", "Enter")
        s = tm.wait(lambda s: "EXIT=" in s)
        if "EXIT=1" not in s:
            raise Fail("answering n: expected EXIT=1; screen %r" % s)
        expect_unchanged(ns, before, "after answering n")
        if os.path.exists(rb):
            raise Fail("answering n wrote the rollback file; screen %r" % s)
        cmd_y = cmd.replace(" tune set ", " tune set -y ")
        tm.new("t", cmd_y, 150, 30)
        s = tm.wait(lambda s: "EXIT=" in s)
        if "EXIT=0" not in s or "[y/N]" in s:
            raise Fail("`%s` on a terminal: expected no question and EXIT=0; screen %r"
                       % (cmd_y, s))
        if ns.sysctl_value("net.ipv4.tcp_tw_reuse") != reuse:
            raise Fail("`%s` did not set the value" % cmd_y)


def guide_per_os(ns):
    want = {
        "windows": ["TcpTimedWaitDelay", "REG_DWORD", "30 to 300",
                    "netsh int ipv4 set dynamicport tcp", "MaxUserPort"],
        "macos": ["net.inet.tcp.msl", "net.inet.ip.portrange"],
        "freebsd": ["net.inet.tcp.msl", "net.inet.ip.portrange", "nolocaltimewait",
                    "fast_finwait2_recycle"],
        "linux": ["tcp_tw_reuse"],
    }
    probs = []
    outs = {}
    for os_name, words in want.items():
        res = tune("guide", "--os", os_name)
        if res.rc != 0:
            probs.append(str(res))
            continue
        outs[os_name] = res.stdout
        miss = [w for w in words if w not in res.stdout]
        if miss:
            probs.append("`%s` lacks %r" % (fmt_cmd(res.argv), miss))
    # One system's guide only: windows must not print FreeBSD's.
    if "nolocaltimewait" in outs.get("windows", "") or "TcpTimedWaitDelay" in outs.get("freebsd", ""):
        probs.append("--os prints other systems' guides too")
    res = tune("guide")
    if res.rc != 0:
        probs.append(str(res))
    else:
        miss = [w for ws in want.values() for w in ws if w not in res.stdout]
        if miss:
            probs.append("`tcpstate tune guide` (all systems) lacks %r" % miss)
    res = tune("guide", "--os", "plan9")
    if res.rc != 2 or not res.stderr.startswith("tcpstate tune:") or "plan9" not in res.stderr:
        probs.append("%s; expected rc=2 and an error naming plan9" % res)
    if probs:
        raise Fail("; ".join(probs))


def show_missing_netns_and_bad_action(ns):
    missing = "tcpst-nosuch-%d" % os.getpid()
    if os.path.exists("/run/netns/" + missing):
        raise RuntimeError("%s exists" % missing)
    res = tune("show", "-N", missing)
    expect_rc(res, 1)
    lines = expect_err_lines(res)
    if len(lines) != 1 or missing not in lines[0]:
        raise Fail("%s; expected one line naming %s" % (res, missing))
    res = tune("set", "-N", missing, "--rollback-file", rollback_path(), "tw-reuse=1")
    expect_rc(res, 1)
    if missing not in res.stderr:
        raise Fail("%s; expected the error to name %s" % (res, missing))
    res = tune("frob")
    expect_rc(res, 2)
    lines = expect_err_lines(res)
    if "frob" not in lines[0]:
        raise Fail("%s; expected the error to name frob" % res)
    # An unknown option and a bad option combination: usage errors too.
    for args in (["show", "--frobnicate"], ["guide", "--json"], ["show", "--os", "linux"]):
        res = tune(*args)
        expect_rc(res, 2)
        expect_err_lines(res)


# --------------------------------------------------------------------------


def in_fresh_netns(case):
    """case(ns) in a namespace of its own; the host's values the same after
    it as before (a change fails the case)."""
    pre = nslib.host_tune_snapshot()
    with nslib.Netns() as ns:
        case(ns)
    d = nslib.snap_diff(pre, nslib.host_tune_snapshot())
    if d:
        raise Fail("HOST values changed during this case: %s" % "; ".join(d))


def run_cases(rep, cases, scope, prefix):
    """Each case but the last is scope[name], run by in_fresh_netns; the
    last compares the host's values over the whole run.  TMP (prefix) is
    the cases' scratch directory.  Then exit."""
    global TMP
    rep.guard_host(cases[-1], nslib.host_tune_snapshot)
    TMP = tempfile.mkdtemp(prefix=prefix)
    os.chmod(TMP, 0o755)  # uid 65534 must reach its own subdirectory (case dirs stay 0700)
    try:
        for name in cases[:-1]:
            rep.case(name, in_fresh_netns, scope[name])
    except Exception as e:
        rep.fail_rest(cases[:-1], "%s: %s" % (type(e).__name__, e))
    finally:
        nslib.stop_watchdog()
        nslib._cleanup_all()
        shutil.rmtree(TMP, ignore_errors=True)
    rep.exit()


def main():
    rep = nslib.begin("test_tune", CASES, watchdog=57, tools=("ip", "sysctl", "tmux"))
    run_cases(rep, CASES, globals(), "tcpstate-tune.")


if __name__ == "__main__":
    main()
