#!/usr/bin/env python3
"""Real captures with independent oracles (tests/pcap/captures, a copy of ../shared/captures): for every
TCP connection, tcpstate list -r must give the conn_state Zeek's conn.log
gives, and the history where the baseline has one; and the responder's
state where Suricata's eve flow records name one.

Zeek's options are taken from each case's oracle_cmd: without -C Zeek drops
segments with bad checksums, so we pass --verify-checksums.  Cases run with
--zeek (Zeek's connection splitting and timers), so rows line up one to one;
a second pass without --zeek checks that conn_state still matches wherever
the splitting rules agree.  Suricata's session state is named from the
server's side; TIME-WAIT, which Suricata does not model, counts as closed.
"""
import collections, csv, json, os, subprocess, sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TCPSTATE = os.environ.get("TCPSTATE", os.path.join(REPO, "tcpstate"))
CANDIDATES = [os.environ.get("TCPSTATE_CAPTURES", ""),
              os.path.join(REPO, "tests", "pcap", "captures"),
              os.path.join(REPO, "..", "shared", "captures")]
ROOT = next((c for c in CANDIDATES if c and os.path.isfile(os.path.join(c, "MANIFEST.tsv"))), None)
failed = False


def report(ok, name, why=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
    failed |= not ok


if ROOT is None:
    print("SKIP: oracles: tests/pcap/captures not found (set TCPSTATE_CAPTURES)")
    sys.exit(0)

manifest = list(csv.DictReader(open(os.path.join(ROOT, "MANIFEST.tsv")), delimiter="\t"))


def run(path, extra):
    p = subprocess.run([TCPSTATE, "list", "-r", path, "--json", *extra],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return json.loads(p.stdout), ""


def zeek_case(m, zeek_mode):
    name = m["name"]
    want_rows = []
    for line in open(os.path.join(ROOT, "oracle", name + ".conn.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        want_rows.append(f)
    use_state = all(f[5] != "-" for f in want_rows)
    use_hist = all(f[6] != "-" for f in want_rows)
    extra = ["--zeek"] if zeek_mode else []
    if " -C" not in m["oracle_cmd"]:
        extra.append("--verify-checksums")
    rows, err = run(os.path.join(ROOT, m["file"]), extra)
    label = f"zeek {name}" + ("" if zeek_mode else " (default splitting)")
    if rows is None:
        report(False, label, err)
        return
    def key(t, st, hi):
        return (t[0], t[1], t[2], t[3], st if use_state else "", hi if use_hist else "")
    want = collections.Counter(key(f[:4], f[5], f[6]) for f in want_rows)
    got = collections.Counter(
        key((r["orig_addr"], str(r["orig_port"]), r["resp_addr"], str(r["resp_port"])),
            r["conn_state"], r["history"]) for r in rows)
    if not zeek_mode:
        # Our own splitting may merge Zeek's timer-split rows: compare conn_state
        # only, and only for tuples that appear once on both sides.
        once = {k[:4] for k, n in collections.Counter(k[:4] for k in want.elements()).items()
                if n == 1}
        want = collections.Counter({(k[:5]): n for k, n in want.items() if k[:4] in once})
        got_once = collections.Counter(k[:4] for k in got.elements())
        got = collections.Counter({(k[:5]): n for k, n in got.items()
                                   if k[:4] in once and got_once[k[:4]] == 1})
        missing = {k for k in want if k not in got}
        report(not missing, label, f"want {sorted(missing)[:3]} got {sorted(got)[:3]}")
        return
    report(want == got, label,
           f"only Zeek: {sorted((want - got).items())[:4]} only tcpstate: "
           f"{sorted((got - want).items())[:4]}")


SURICATA = {"ESTABLISHED": "established", "CLOSE-WAIT": "close_wait", "FIN-WAIT-1": "fin_wait1",
            "FIN-WAIT-2": "fin_wait2", "LAST-ACK": "last_ack", "CLOSING": "closing",
            "TIME-WAIT": "closed", "CLOSED": "closed", "SYN-RECEIVED": "syn_recv"}


def suricata_state(r):
    # Before the server has answered, Suricata's session is syn_sent.
    if r["orig_state"] == "SYN-SENT":
        return "syn_sent"
    return SURICATA.get(r["resp_state"], r["resp_state"].lower())


def suricata_case(m):
    name = m["name"]
    extra = []
    if "vlan.use-for-tracking=false" in m["oracle_cmd"]:
        extra.append("--ignore-vlan")
    rows, err = run(os.path.join(ROOT, m["file"]), extra)
    if rows is None:
        report(False, "suricata " + name, err)
        return
    path = os.path.join(ROOT, "oracle", name + ".suricata.tsv")
    problems = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        tup = (f[0], f[1], f[2], f[3])
        mine = [r for r in rows if (r["orig_addr"], str(r["orig_port"]), r["resp_addr"],
                                    str(r["resp_port"])) == tup]
        if len(mine) != 1:
            problems.append(f"{tup}: {len(mine)} rows")
        elif suricata_state(mine[0]) != f[5]:
            problems.append(f"{tup}: suricata {f[5]}, tcpstate {mine[0]['orig_state']}/"
                            f"{mine[0]['resp_state']}")
    report(not problems, "suricata " + name, "; ".join(problems))


def endpoints_case(m):
    """Zeek's final endpoint states (TCP_ENDPOINT_*), where the baseline gives them."""
    name = m["name"]
    rows, err = run(os.path.join(ROOT, m["file"]), ["--zeek"])
    if rows is None:
        report(False, "zeek endpoints " + name, err)
        return
    problems = []
    for line in open(os.path.join(ROOT, "oracle", name + ".endpoints.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        want = (f[5].split("(")[0], f[6].split("(")[0])
        mine = [(r["orig_zeek_state"], r["resp_zeek_state"]) for r in rows
                if (r["orig_addr"], str(r["orig_port"]), r["resp_addr"], str(r["resp_port"]))
                == tuple(f[:4])]
        if mine != [want]:
            problems.append(f"{f[:4]}: want {want}, got {mine}")
    report(not problems, "zeek endpoints " + name, "; ".join(problems))


for m in manifest:
    if os.path.exists(os.path.join(ROOT, "oracle", m["name"] + ".endpoints.tsv")):
        endpoints_case(m)
    if os.path.exists(os.path.join(ROOT, "oracle", m["name"] + ".conn.tsv")):
        zeek_case(m, True)
        zeek_case(m, False)
    elif os.path.exists(os.path.join(ROOT, "oracle", m["name"] + ".suricata.tsv")):
        suricata_case(m)
sys.exit(1 if failed else 0)
