#!/usr/bin/env python3
"""End-to-end: `tcpstate list [opts] FILTER` selects the same rows as `ss`.

Root only.  Builds nslib's standard scenario (every TCP state, IPv4, IPv6,
v4-mapped) in a private network namespace, then for each filter compares the
row multiset of `tcpstate list OPTS --json FILTER...` with that of
`ss -tnH OPTS FILTER...` in the same namespace.  Filter words are passed as
separate argv words, exactly as to ss.

Where the tcpstate contract spells a filter in a way this ss rejects
(`state` inside an and/not expression), the oracle is the ss spelling with
the same meaning; those cases are marked ss_equiv below.

Env: TCPSTATE = path of the binary (default <repo>/tcpstate).
Prints PASS/FAIL/SKIP lines; exits 1 if any FAIL.
"""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nslib  # noqa: E402
from nslib import Fail, compare_counters, fmt_cmd, tcpstate_json, ts_keys  # noqa: E402

W = str.split

# (name, tcpstate options, filter words, ss options, ss filter words or None
#  for "same words", may the oracle be empty)
CASES = [
    # --- state / exclude, with -a (a state in the filter overrides -a) ----
    ("all_state_established", ["-a"], W("state established"), "-tanH", None),
    ("all_state_time_wait", ["-a"], W("state time-wait"), "-tanH", None),
    ("all_state_syn_recv", ["-a"], W("state syn-recv"), "-tanH", None),
    ("all_state_rfc_spelling_syn_received", ["-a"], W("state SYN-RECEIVED"),
     "-tanH", W("state syn-recv")),
    ("all_state_syn_sent", ["-a"], W("state syn-sent"), "-tanH", None),
    ("all_state_fin_wait_1", ["-a"], W("state fin-wait-1"), "-tanH", None),
    ("all_state_close_wait", ["-a"], W("state close-wait"), "-tanH", None),
    ("all_state_last_ack", ["-a"], W("state last-ack"), "-tanH", None),
    ("all_state_listening", ["-a"], W("state listening"), "-tanH", None),
    ("all_two_state_words", ["-a"], W("state fin-wait-1 state fin-wait-2"),
     "-tanH", None),
    ("all_exclude_then_state", ["-a"], W("exclude listening state established"),
     "-tanH", None),
    ("all_exclude_listening", ["-a"], W("exclude listening"), "-tanH", None),
    ("all_two_exclude_words", ["-a"], W("exclude listening exclude established"),
     "-tanH", None),
    ("all_state_connected", ["-a"], W("state connected"), "-tanH", None),
    ("all_state_synchronized", ["-a"], W("state synchronized"), "-tanH", None),
    ("all_state_bucket", ["-a"], W("state bucket"), "-tanH", None),
    ("all_state_big", ["-a"], W("state big"), "-tanH", None),
    ("all_state_all", ["-a"], W("state all"), "-tanH", None),
    # --- ports ------------------------------------------------------------
    ("all_sport_eq", ["-a"], W("sport = :5000"), "-tanH", None),
    ("all_sport_eq_word", ["-a"], W("sport eq :5000"), "-tanH", None),
    ("all_dport_ne", ["-a"], W("dport != :5000"), "-tanH", None),
    ("all_dport_neq_word", ["-a"], W("dport neq :5000"), "-tanH", None),
    ("all_dport_ne_word", ["-a"], W("dport ne :5000"), "-tanH", None),
    ("all_dport_gt_word", ["-a"], W("dport gt :5002"), "-tanH", None),
    ("all_dport_gt", ["-a"], W("dport > :5002"), "-tanH", None),
    ("all_dport_ge_word", ["-a"], W("dport ge :5005"), "-tanH", None),
    ("all_dport_ge", ["-a"], W("dport >= :5005"), "-tanH", None),
    ("all_sport_lt_word", ["-a"], W("sport lt :5003"), "-tanH", None),
    ("all_sport_lt", ["-a"], W("sport < :5003"), "-tanH", None),
    ("all_sport_le_word", ["-a"], W("sport le :5003"), "-tanH", None),
    ("all_sport_le", ["-a"], W("sport <= :5003"), "-tanH", None),
    ("all_sport_mixed_families", ["-a"], W("sport = :5013"), "-tanH", None),
    # --- addresses --------------------------------------------------------
    ("all_src_loopback_v4", ["-a"], W("src 127.0.0.1"), "-tanH", None),
    ("all_dst_prefix24", ["-a"], W("dst 198.18.0.0/24"), "-tanH", None),
    ("all_src_prefix15", ["-a"], W("src 198.18.0.0/15"), "-tanH", None),
    ("all_dst_addr_port", ["-a"], W("dst 198.18.0.1:5007"), "-tanH", None),
    ("all_src_addr", ["-a"], W("src 198.18.0.2"), "-tanH", None),
    ("all_src_v6_port", ["-a"], W("src [::1]:5010"), "-tanH", None),
    ("all_src_v6_bracketed", ["-a"], W("src [::1]"), "-tanH", None),
    ("all_dst_v6_port", ["-a"], W("dst [fd00::1]:5012"), "-tanH", None),
    ("all_dst_v6_prefix", ["-a"], W("dst fd00::/64"), "-tanH", None),
    ("all_src_v4_mapped", ["-a"], W("src [::ffff:127.0.0.1]"), "-tanH", None),
    # --- boolean structure ------------------------------------------------
    ("all_paren_or", ["-a"], ["(", "sport", "=", ":5000", "or", "dport", "=", ":5000", ")"],
     "-tanH", None),
    ("all_and", ["-a"], W("sport >= :5003 and sport <= :5006"), "-tanH", None),
    ("all_not", ["-a"], W("not sport = :5000"), "-tanH", None),
    ("all_not_paren", ["-a"], W("not ( sport = :5000 or dport = :5000 )"), "-tanH", None),
    # ss's grammar (misc/ssfilter.y: exprlist '|' expr | exprlist '&' expr)
    # gives and/or equal precedence, left to right: (A or B) and C.
    ("all_and_or_left_to_right", ["-a"],
     W("sport = :5000 or sport = :5007 and dst 198.18.1.1"), "-tanH", None),
    ("all_precedence_not", ["-a"], W("not sport = :5000 and dport = :5000"),
     "-tanH", None),
    ("all_state_then_expr_manpage_form", ["-a"],
     W("state established ( sport = :5003 )"), "-tanH", None),
    # --- contract spellings that this ss rejects: oracle = ss equivalent --
    ("all_state_and_expr", ["-a"], W("state established and sport = :5003"),
     "-tanH", W("state established ( sport = :5003 )")),
    ("all_not_state_listening", ["-a"], W("not state listening"),
     "-tanH", W("exclude listening")),
    # --- without -a: ss's default state set unless the filter names states
    ("default_src", [], W("src 127.0.0.1"), "-tnH", None),
    ("default_sport", [], W("sport = :5000"), "-tnH", None),
    ("default_exclude_time_wait", [], W("exclude time-wait"), "-tnH", None),
    ("default_state_syn_recv", [], W("state syn-recv"), "-tnH", None),
    # --- with -l ------------------------------------------------------------
    ("listening_sport", ["-l"], W("sport = :5000"), "-tlnH", None),
    ("listening_src_v6", ["-l"], W("src [::1]"), "-tlnH", None),
    # --- ss habits: -t and -n are accepted and change nothing ----------
    ("habit_tan", ["-tan"], [], "-tanH", None),
    ("habit_t_a_n", W("-t -a -n"), [], "-tanH", None),
    ("habit_tcp_numeric", W("--tcp --numeric"), [], "-tnH", None),
    ("habit_tan_filter", ["-tan"], W("sport = :5000"), "-tanH", None),
    ("habit_tln", ["-tln"], [], "-tlnH", None),
]

NAMES = [c[0] for c in CASES] + ["habit_tan_table"]


def cases(rep, ns):
    """Every case on the standard scenario (its failure fails them all)."""
    nslib.build_world(ns)
    full = ns.ss("-tanH")  # states are stable: one dump for joins
    for i, (name, opts, words, ss_opts, ss_words) in enumerate(CASES):
        how = "exec" if i % 3 == 2 else "N"
        rep.case(name, check, ns, opts, words, ss_opts,
                 words if ss_words is None else ss_words, how, full)
    rep.case("habit_tan_table", check_table, ns)


def main():
    rep = nslib.begin("list_filters", NAMES)
    nslib.in_netns(rep, NAMES, lambda ns, tmp: cases(rep, ns))


def check(ns, opts, words, ss_opts, ss_words, how, full):
    want_rows = ns.ss_rows_with_state(ss_opts, ss_words, full)
    if not want_rows:
        raise Fail("scenario broken: `ss %s %s` selects no rows"
                   % (ss_opts, fmt_cmd(ss_words)))
    want = nslib.ss_keys(want_rows)
    res, data = tcpstate_json(list(opts) + ["--json"] + list(words), ns, how)
    compare_counters(ts_keys(data), want,
                     "`%s` vs `ss %s %s`" % (fmt_cmd(res.argv), ss_opts, fmt_cmd(ss_words)))


def check_table(ns):
    """`list -tan` as a table (what people type and read) holds ss -tan's rows."""
    want = nslib.ss_keys(ns.ss("-tanH"))
    res = nslib.run_tcpstate(["-tan", "-H"], ns)
    if res.rc != 0 or res.stderr:
        raise Fail("%s, expected rc=0 and nothing on stderr" % res.describe())
    got = []
    for line in res.stdout.splitlines():
        state, _recvq, _sendq, local, peer = line.split()
        laddr, _, lport = nslib.split_endpoint(local)
        if peer == "*:*":
            paddr, pport = "*", 0
        else:
            paddr, _, pport = nslib.split_endpoint(peer)
        got.append(nslib.make_key(state, (laddr, lport), (paddr, pport)))
    compare_counters(collections.Counter(got), want, "`%s` (table) vs `ss -tanH`"
                     % fmt_cmd(res.argv))


if __name__ == "__main__":
    main()
