#!/usr/bin/env python3
"""A pcapng file whose interfaces have different link types (what dumpcap
writes when it captures on several interfaces at once).  libpcap stops at
the first interface whose link type differs from the first one's; tcpstate
reads on (savefile.c).  The check: the same traffic read from one pcapng
file and read as one classic pcap per interface must give the same rows
(list -r --json) and the same transitions (watch --json), connection ids
aside, with and without a BPF filter (compiled for each link type).

Five real captures of five link types (Ethernet, Linux cooked, IPv4, BSD
loopback, and raw IP made from an Ethernet one) are moved to start at the
same moment, so that their packets interleave, and written:
  - as five classic pcap files;
  - as one pcapng file, each interface described just before its first
    packet (so libpcap reads the start of the file, and savefile.c the rest),
    little-endian, with nanosecond stamps on one interface, binary (2^-20 s)
    stamps on another and a time offset (if_tsoffset) on a third;
  - the same, big-endian;
  - the same in two sections, the second describing its interfaces again
    in another order.
Standard input from the file (-r - < FILE) reads as the file.  Through a
pipe libpcap reads, and its limit stands: the first interface's packets,
then its error (the documented limit), which names the way round it.
"""
import json, os, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "fuzz"))
sys.dont_write_bytecode = True
from mkseeds import ip_of_ethernet, read_pcap, relink, write_pcap  # noqa: E402

TCPSTATE = os.environ.get("TCPSTATE", os.path.join(REPO, "tcpstate"))
CANDIDATES = [os.environ.get("TCPSTATE_CAPTURES", ""), os.path.join(REPO, "tests", "pcap", "captures"),
              os.path.join(REPO, "..", "shared", "captures")]
ROOT = next((c for c in CANDIDATES if c and os.path.isfile(os.path.join(c, "MANIFEST.tsv"))), None)
SOURCES = ["zeek_ftp_ipv6.pcap", "zeek_irc_starttls_sll.pcap", "zeek_tcp_syslog_rawip.pcap",
           "zeek_connect_with_header_null6.pcap", "zeek_http_get.pcap"]
T0 = 1700000000 * 1000000
# Timers never fire: the rows then do not depend on where the file ends.
OPTS = ["--time-wait", "86400", "--idle-timeout", "2592000"]
# Offsets differ with the link type: a program compiled for another would miss.
FILTER = "not tcp port 514 and (ip6 or tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-push) != 0)"
failed = False


def report(ok, name, why=""):
    global failed
    print(("PASS: " if ok else "FAIL: ") + "pcapng links: " + name + ("" if ok else ": " + why))
    failed |= not ok


if ROOT is None:
    print("SKIP: pcapng links: tests/pcap/captures not found (set TCPSTATE_CAPTURES)")
    sys.exit(0)


def interfaces():
    """[(linktype, [(ts_us, bytes, wirelen)])], each moved to start near T0."""
    out = []
    for i, name in enumerate(SOURCES):
        lt, pkts = read_pcap(open(os.path.join(ROOT, "pcap", name), "rb").read())
        if name == "zeek_http_get.pcap":  # raw IP, LINKTYPE_RAW (101)
            lt, pkts = 101, [(ts, relink(*ip_of_ethernet(b), 101), w - 14) for ts, b, w in pkts]
        first = pkts[0][0]
        out.append((lt, [(T0 + 137 * i + ts - first, b, w) for ts, b, w in pkts]))
    return out


# Per interface: (if_tsresol option byte or None, if_tsoffset seconds).
TSOPTS = [(None, 0), (9, 0), (0x80 | 20, 0), (None, 1000), (6, 0)]


def stamp(ts_us, resol, offset):
    """The stamp that reads back as ts_us in an interface's units."""
    ts_us -= offset * 1000000
    if resol is None or resol == 6:
        return ts_us
    if resol & 0x80:
        units = 1 << (resol & 0x7F)
        sec, usec = divmod(ts_us, 1000000)
        return sec * units + -(-usec * units // 1000000)
    return ts_us * 10 ** (resol - 6)


def pcapng(ifs, endian, sections):
    """Each interface described just before its first packet; two sections if asked."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)

    def shb():
        return block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))

    def idb(i):
        resol, offset = TSOPTS[i]
        opts = b""
        if resol is not None:
            opts += struct.pack(endian + "HH", 9, 1) + bytes([resol, 0, 0, 0])
        if offset:
            opts += struct.pack(endian + "HHq", 14, 8, offset)
        if opts:
            opts += struct.pack(endian + "HH", 0, 0)
        return block(1, struct.pack(endian + "HHI", ifs[i][0], 0, 262144) + opts)

    pkts = sorted((ts, i, b, w) for i, (_, p) in enumerate(ifs) for ts, b, w in p)
    out, ids = [shb()], {}
    half = len(pkts) // 2
    for k, (ts, i, b, w) in enumerate(pkts):
        if sections == 2 and k == half:
            out.append(shb())  # a new section: its interfaces in reverse order
            ids = {}
            for j in reversed(range(len(ifs))):
                ids[j] = len(ids)
                out.append(idb(j))
        if i not in ids:
            ids[i] = len(ids)
            out.append(idb(i))
        t = stamp(ts, *TSOPTS[i])
        out.append(block(6, struct.pack(endian + "IIIII", ids[i], t >> 32, t & 0xFFFFFFFF, len(b), w) + b))
    return b"".join(out)


def run(cmd, path, extra, stdin=None):
    """stdin: None (-r path), "file" (-r - < path) or "pipe" (path's bytes through a pipe)."""
    argv = [TCPSTATE, cmd, "-r", "-" if stdin else path, "--json", *OPTS, *extra]
    if stdin == "pipe":
        p = subprocess.run(argv, capture_output=True, input=open(path, "rb").read())
    else:
        p = subprocess.run(argv, capture_output=True, stdin=open(path, "rb") if stdin else None)
    return p.returncode, p.stdout.decode(), p.stderr.decode().strip()


def normal(cmd, out):
    """The rows or events, without connection ids, as sorted JSON strings."""
    items = json.loads(out) if cmd == "list" else [json.loads(l) for l in out.splitlines() if l]
    for o in items:
        o.pop("conn", None)
        o.pop("time_in_state", None)  # counts up to the last packet of the file read
    return sorted(json.dumps(o, sort_keys=True) for o in items)


with tempfile.TemporaryDirectory(prefix="tcpstate-pcapng.") as d:
    ifs = interfaces()
    # Against classic files of the same byte order: libpcap reads a file
    # written on a big-endian host (and so its filters) as such.
    seps = {}
    for endian in "<>":
        for i, (lt, pkts) in enumerate(ifs):
            seps.setdefault(endian, []).append(os.path.join(d, "if%d%s.pcap" % (i, endian)))
            open(seps[endian][-1], "wb").write(write_pcap(lt, pkts, endian=endian, snaplen=262144))
    files = {"little-endian": ("<", pcapng(ifs, "<", 1)), "big-endian": (">", pcapng(ifs, ">", 1)),
             "two sections": ("<", pcapng(ifs, "<", 2))}
    for label, (_, data) in files.items():
        open(os.path.join(d, label), "wb").write(data)
    for cmd in ("list", "watch"):
        for extra in ([], ["-f", FILTER]):
            what = "%s%s" % (cmd, " -f" if extra else "")
            for label, (endian, _) in files.items():
                want, errs = [], []
                for f in seps[endian]:
                    rc, out, err = run(cmd, f, extra)
                    errs += [err] if rc else []
                    want += normal(cmd, out) if rc == 0 else []
                want.sort()
                if errs or len(want) < 5:
                    report(False, "%s, %s" % (what, label),
                           "the separate files: %s, %d rows" % (errs[:2], len(want)))
                    continue
                rc, out, err = run(cmd, os.path.join(d, label), extra)
                got = normal(cmd, out) if rc == 0 else []
                missing = [x for x in want if x not in got][:1]
                extra_rows = [x for x in got if x not in want][:1]
                report(rc == 0 and got == want, "%s, %s: as the five files read apart" % (what, label),
                       "exit %d %s; %d rows, want %d; missing %s; unexpected %s"
                       % (rc, err[:200], len(got), len(want), missing, extra_rows))
    # Standard input from the file: savefile.c reads it, as the file.
    path = os.path.join(d, "little-endian")
    rc, out, err = run("list", path, [])
    rc2, out2, err2 = run("list", path, [], stdin="file")
    report(rc == 0 and rc2 == 0 and normal("list", out2) == normal("list", out),
           "-r - < FILE: read as the file", "exit %d %s; %d rows, want %d"
           % (rc2, err2[:200], len(normal("list", out2)) if rc2 == 0 else 0,
              len(normal("list", out)) if rc == 0 else 0))
    # Through a pipe libpcap reads: its limit, and its message, stand, and
    # the error says how to read the rest.
    rc, out, err = run("list", path, [], stdin="pipe")
    report(rc == 1 and "different from the type of the first interface" in err and
           "save the capture to a file and read that with -r FILE" in err,
           "through a pipe, libpcap's limit: its error and the way round, exit 1",
           "exit %d: %s" % (rc, err[:300]))
sys.exit(1 if failed else 0)
