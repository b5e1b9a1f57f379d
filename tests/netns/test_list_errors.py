#!/usr/bin/env python3
"""Root-only bad-input tests for `tcpstate list`: named network namespaces.

`tcpstate list -N NAME` for a namespace that does not exist must exit 1,
print nothing on stdout and exactly one stderr line starting `tcpstate list:` that
names NAME.  A control case checks that an existing, empty namespace (created
here) works.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, run_tcpstate  # noqa: E402

CASES = [
    "missing_netns",
    "missing_netns_json_all",
    "missing_netns_long_option",
    "missing_netns_with_filter",
    "existing_empty_netns_control",
]

MISSING = "no-such-ns-%d" % os.getpid()


def expect_missing_ns_error(args):
    if os.path.exists(os.path.join("/var/run/netns", MISSING)) or \
            os.path.exists(os.path.join("/run/netns", MISSING)):
        raise Fail("namespace %s unexpectedly exists" % MISSING)
    res = run_tcpstate(args)
    if res.rc != 1:
        raise Fail("%s, expected rc=1" % res.describe())
    if res.stdout != "":
        raise Fail("`%s` printed on stdout: %r" % (nslib.fmt_cmd(res.argv), res.stdout[:200]))
    lines = res.stderr.splitlines()
    if len(lines) != 1 or not res.stderr.endswith("\n"):
        raise Fail("`%s` stderr should be exactly one line, got %r"
                   % (nslib.fmt_cmd(res.argv), res.stderr[:300]))
    if not lines[0].startswith("tcpstate list:"):
        raise Fail("`%s` stderr should start with 'tcpstate list:', got %r"
                   % (nslib.fmt_cmd(res.argv), lines[0]))
    if MISSING not in lines[0]:
        raise Fail("`%s` stderr should name the namespace %s, got %r"
                   % (nslib.fmt_cmd(res.argv), MISSING, lines[0]))


class Tests:
    def __init__(self, ns):
        self.ns = ns

    def missing_netns(self):
        expect_missing_ns_error(["-N", MISSING])

    def missing_netns_json_all(self):
        expect_missing_ns_error(["-a", "--json", "-N", MISSING])

    def missing_netns_long_option(self):
        expect_missing_ns_error(["--netns", MISSING, "--json"])

    def missing_netns_with_filter(self):
        expect_missing_ns_error(["-N", MISSING, "--json", "state", "established"])

    def existing_empty_netns_control(self):
        res = run_tcpstate(["-N", self.ns.name, "-a", "--json"])
        if res.rc != 0:
            raise Fail("%s, expected rc=0" % res.describe())
        try:
            data = json.loads(res.stdout)
        except ValueError:
            raise Fail("`%s` printed invalid JSON: %r" % (nslib.fmt_cmd(res.argv), res.stdout[:200]))
        if data != []:
            raise Fail("`%s` on a fresh namespace should print [], got %r"
                       % (nslib.fmt_cmd(res.argv), data))
        if res.stderr:
            raise Fail("`%s` wrote to stderr: %r" % (nslib.fmt_cmd(res.argv), res.stderr[:200]))
        res = run_tcpstate(["-N", self.ns.name])
        if res.rc != 0 or res.stderr:
            raise Fail("%s, expected rc=0 and no stderr" % res.describe())


def cases(rep, ns):
    T = Tests(ns)
    for name in CASES:
        rep.case(name, getattr(T, name))


def main():
    rep = nslib.begin("list_errors", CASES)
    nslib.in_netns(rep, CASES, lambda ns, tmp: cases(rep, ns))


if __name__ == "__main__":
    main()
