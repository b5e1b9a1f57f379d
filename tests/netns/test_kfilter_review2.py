#!/usr/bin/env python3
"""Second review of issue 17 (dev, cgroup, fwmark, the one-walk dump), as
root in a namespace of its own.  Each case is a defect the review found:

 - dev_digit_name_as_ss: a device may be named with digits only ("ip link
   add 2 type veth ..."); ss's `dev 2` looks the name up first and takes
   it as an index only when no device has that name, so it lists the
   socket bound to the device "2".  tcpstate took "2" as ifindex 2 (another
   device), silently listing other sockets.
 - dev_hex_index_as_ss: ss reads an index with strtoul(.., 0), so `dev 0xN`
   is index N; tcpstate refused it (exit 2).
 - load_dump_dev_name_not_host: `list --load-dump F` prints the dump's
   devices as ifN (it cannot know the dumped namespace's names), yet a
   device NAME in the filter was looked up in the namespace tcpstate runs
   in: a host device whose index happens to equal a dumped device's index
   matched that device's sockets.  A name must be refused there (exit 2,
   pointing at ifN), as it cannot be resolved in the dump's namespace.
 - save_dump_same_output_as_live: `list -a --save-dump F` printed its rows
   in another order than `list -a` (it dumps per family, the live list in
   one walk, families interleaved), and `list -a --load-dump F` repeats the
   saved order: a saved dump does not reproduce what list showed.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""
import json
import os
import re

import nslib

TCPSTATE = nslib.TCPSTATE
CASES = ["dev_digit_name_as_ss", "dev_hex_index_as_ss", "load_dump_dev_name_not_host",
         "save_dump_same_output_as_live", "load_dump_one_family_as_live"]
rep = nslib.begin(None, CASES, watchdog=90, tools=("ip", "ss"))
report = rep.check

# A device named "2" (made after va/vb, so its index is not 2: checked), with
# one listener bound to it and one to va;
# and, for the order of rows, listeners and connections of both families.
HOLDER = r"""
import socket, sys
keep = []
def bound(fam, dev, addr, port):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((addr, port)); s.listen(4); keep.append(s)
bound(socket.AF_INET, "2", "0.0.0.0", 7101)
bound(socket.AF_INET, "va", "198.18.7.1", 7100)
for i in range(6):
    for fam, addr in ((socket.AF_INET, "198.18.7.1"), (socket.AF_INET6, "fd00:7::1")):
        l = socket.socket(fam); l.bind((addr, 7200 + i)); l.listen(4); keep.append(l)
        c = socket.socket(fam); c.connect((addr, 7200 + i)); keep += [c, l.accept()[0]]
print("ready", flush=True)
sys.stdin.read()
"""


def ifindex(ns, dev):
    out = ns.exec(["ip", "-o", "link", "show", "dev", dev], check=True).stdout
    return int(out.split(":", 1)[0])


def ts_keys(ns, filt, extra=()):
    res = nslib.run_tcpstate(["-a", "--json"] + list(extra) + filt, ns)
    if res.rc != 0:
        return res, None
    return res, nslib.ts_keys(json.loads(res.stdout))


def dev_cases(ns):
    want = nslib.ss_keys(ns.ss_rows_with_state("-tanH", ["state", "all", "dev", "2"]))
    if sum(want.values()) != 1:
        raise nslib.Fail("setup: ss lists %s for `dev 2`, expected the one listener bound "
                         "to the device named 2" % dict(want))
    res, got = ts_keys(ns, ["dev", "2"])
    report(got == want, "dev_digit_name_as_ss",
           "device \"2\" has ifindex %d: `list -a dev 2` exit %d %r rows %s, ss rows %s"
           % (ifindex(ns, "2"), res.rc, res.stderr.strip()[:200],
              None if got is None else dict(got), dict(want)))
    hexidx = hex(ifindex(ns, "va"))
    want = nslib.ss_keys(ns.ss_rows_with_state("-tanH", ["state", "all", "dev", hexidx]))
    res, got = ts_keys(ns, ["dev", hexidx])
    report(sum(want.values()) == 1 and got == want, "dev_hex_index_as_ss",
           "`list -a dev %s` exit %d %r rows %s, ss rows %s"
           % (hexidx, res.rc, res.stderr.strip()[:200], None if got is None else dict(got),
              dict(want)))


def load_dump_case(ns, tmp, host):
    dump = os.path.join(tmp, "d.bin")
    res = nslib.run_tcpstate(["-a", "--save-dump", dump], ns)
    if res.rc != 0:
        raise nslib.Fail("setup: %s" % res.describe())
    if host is None:
        rep.emit("SKIP", "load_dump_dev_name_not_host", "the host has no device but lo")
        return
    idx, host = host
    if ifindex(ns, "va") != idx:
        raise nslib.Fail("setup: va did not take the index %d of the host's %s" % (idx, host))
    res = nslib.run_result([TCPSTATE, "list", "-a", "--load-dump", dump, "dev", host])
    rows = [l for l in res.stdout.splitlines()[1:] if l.strip()]
    report(res.rc == 2 and not rows and "if" in res.stderr, "load_dump_dev_name_not_host",
           "the host's %s has the index (%d) of the dumped namespace's va: `list -a "
           "--load-dump F dev %s` exit %d, stderr %r, rows %r (expected exit 2, pointing "
           "at if%d)" % (host, idx, host, res.rc, res.stderr.strip()[:200], rows, idx))


def save_dump_case(ns, tmp):
    dump = os.path.join(tmp, "o.bin")
    live = nslib.run_tcpstate(["-a"], ns)
    saved = nslib.run_tcpstate(["-a", "--save-dump", dump], ns)
    loaded = nslib.run_result([TCPSTATE, "list", "-a", "--load-dump", dump])
    if live.rc or saved.rc or loaded.rc:
        raise nslib.Fail("setup: %s / %s / %s" % (live.describe(), saved.describe(),
                                                  loaded.describe()))
    # The loaded dump cannot name the namespace's devices (and so its column
    # may be narrower): compare the words of each row, devices left out.
    def rows(out):
        return [tuple(re.sub(r"%[^:\s]+:", ":", l).split()) for l in out.splitlines()]
    a, b, c = rows(live.stdout), rows(saved.stdout), rows(loaded.stdout)
    if sorted(a) != sorted(b):
        raise nslib.Fail("setup: the sockets changed between the two lists")
    first = next((i for i in range(len(a)) if not a[i] == b[i] == c[i]), None)
    report(first is None, "save_dump_same_output_as_live",
           "list -a, list -a --save-dump F and list -a --load-dump F list the same %d rows, "
           "but row %s is %r live, %r saved, %r loaded"
           % (len(a) - 1, first, a[first] if first is not None else None,
              b[first] if first is not None else None,
              c[first] if first is not None and first < len(c) else None))


def load_dump_family_case(ns, tmp):
    """A dump saved without -4/-6 holds both families in one request; read
    back with -4 or -6 (the table, and JSON, which is written as it comes),
    it gives what the live list gives for that family."""
    dump = os.path.join(tmp, "both.bin")
    nslib.run_tcpstate(["-a", "--save-dump", dump], ns)
    bad = []
    for fam in ("-4", "-6"):
        for fmt in ([], ["--json"]):
            live = nslib.run_tcpstate(["-a", fam, "-H"] + fmt, ns)
            loaded = nslib.run_result([TCPSTATE, "list", "-a", fam, "-H", "--load-dump", dump] + fmt)
            # A dump read back cannot name the namespace's devices: leave them out.
            # (and so the table's columns may be narrower): words, devices left out.
            norm = lambda out: sorted(" ".join(re.sub(r'%[^:\s"]+|"dev":"[^"]*"', "", l).split())
                                      for l in out.splitlines())
            if loaded.rc or norm(live.stdout) != norm(loaded.stdout) or not live.stdout.strip():
                bad.append("%s %s: live %r, loaded %r (rc %d)" % (fam, fmt, live.stdout[:200],
                                                                 loaded.stdout[:200], loaded.rc))
    report(not bad, "load_dump_one_family_as_live", "; ".join(bad))


def host_device():
    """A host device other than lo, as (index, name); None if there is none."""
    for line in nslib.run(["ip", "-o", "link", "show"]).stdout.splitlines():
        m = re.match(r"(\d+): ([^:@]+)", line)
        if m and m.group(2) not in ("lo", "va", "vb", "2", "x2") and int(m.group(1)) > 1:
            return int(m.group(1)), m.group(2)
    return None


def cases(ns, tmp):
    # va takes the index of a host device, so that the host's name for that
    # index is not va (load_dump_dev_name_not_host).
    host = host_device()
    va = ["ip", "link", "add", "va"] + (["index", str(host[0])] if host else [])
    vb = ["peer", "name", "vb"] + (["index", str(host[0] + 1000)] if host else [])
    for argv in (va + ["type", "veth"] + vb,
                 ["ip", "link", "add", "2", "type", "veth", "peer", "name", "x2"]):
        ns.exec(argv, check=True)
    for dev in ("va", "vb", "2", "x2"):
        ns.exec(["ip", "link", "set", dev, "up"], check=True)
    ns.add_addr("198.18.7.1/24", "va")
    ns.add_addr("fd00:7::1/64", "va")
    if ifindex(ns, "2") == 2:
        raise nslib.Fail("setup: the device named 2 has index 2; the case tests nothing")
    ns.spawn(HOLDER)
    dev_cases(ns)
    load_dump_case(ns, tmp, host)
    save_dump_case(ns, tmp)
    load_dump_family_case(ns, tmp)


nslib.in_netns(rep, CASES, cases)
