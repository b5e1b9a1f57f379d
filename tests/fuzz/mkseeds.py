#!/usr/bin/env python3
"""Build the seed corpora of the fuzz targets under tests/fuzz/corpus/.

    python3 tests/fuzz/mkseeds.py [--captures DIR]

Sources: the test captures (tests/pcap/captures/pcap, or --captures), the
pcaps of tests/pcap/data, the recorded netlink dump tests/data/ns1.nldump,
and the filter expressions of tests/unit/test_filter.c.  Each corpus
directory is emptied and rewritten, so the result depends only on those
files.  The input layouts are described at the top of each fuzz_T.c.
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

SEED_MAX = 8 * 1024  # bytes per decode/diag seed
PCAP_MAX = 20 * 1024  # bytes per pcap seed

# fuzz_decode.c's link_types[], in order.
LINKS = [0, 1, 12, 101, 108, 113, 228, 229, 276, 14, 147]


# ---- reading captures ---------------------------------------------------------------


def read_pcap(data):
    """(linktype, [(ts_us, bytes, wirelen)]) of a pcap or pcapng file, or None."""
    if len(data) < 24:
        return None
    magic = data[:4]
    for endian in "<>":
        m = struct.unpack(endian + "I", magic)[0]
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            nano = m == 0xA1B23C4D
            linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0xFFFF
            pkts, off = [], 24
            while off + 16 <= len(data):
                sec, frac, cap, wire = struct.unpack_from(endian + "IIII", data, off)
                off += 16
                if cap > len(data) - off:
                    break
                ts = sec * 1000000 + (frac // 1000 if nano else frac)
                pkts.append((ts, data[off:off + cap], wire))
                off += cap
            return linktype, pkts
    if magic == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    return None


def read_pcapng(data):
    """The packets of the first interface's link type (enough for seeds)."""
    off, endian, links, pkts = 0, "<", [], []
    while off + 12 <= len(data):
        btype = struct.unpack_from("<I", data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = struct.unpack_from("<I", data, off + 8)[0]
            endian = "<" if bom == 0x1A2B3C4D else ">"
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            links.append(struct.unpack_from(endian + "H", body, 0)[0])
        elif btype == 6:  # enhanced packet
            ifid, hi, lo, cap, wire = struct.unpack_from(endian + "IIIII", body, 0)
            pkts.append((((hi << 32) | lo), body[20:20 + cap], wire))
        elif btype == 3:  # simple packet
            wire = struct.unpack_from(endian + "I", body, 0)[0]
            pkts.append((0, body[4:4 + wire], wire))
        off += blen
    if not links:
        return None
    return links[0], pkts


def write_pcap(linktype, pkts, endian="<", nano=False, snaplen=65535):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, b, wire in pkts:
        frac = (ts % 1000000) * (1000 if nano else 1)
        out.append(struct.pack(endian + "IIII", ts // 1000000, frac, len(b), wire) + b)
    return b"".join(out)


def write_pcapng(linktype, pkts, links=None):
    """One interface of linktype; or, with links ([(linktype, pkts)]), one
    interface each, taking turns packet by packet, each described just before
    its first packet (libpcap stops at the second link type)."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    links = links or [(linktype, pkts)]
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for k in range(max(len(p) for _, p in links)):
        for ifid, (lt, p) in enumerate(links):
            if k == 0:
                out.append(block(1, struct.pack("<HHI", lt, 0, 65535)))
            if k < len(p):
                ts, b, wire = p[k]
                out.append(block(6, struct.pack("<IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF,
                                                len(b), wire) + b))
    return b"".join(out)


# ---- link-layer conversions ---------------------------------------------------------


def ip_of_ethernet(pkt):
    """The IP packet inside an untagged Ethernet frame, and its version, or None."""
    if len(pkt) < 15:
        return None
    etype = struct.unpack_from("!H", pkt, 12)[0]
    if etype == 0x0800:
        return pkt[14:], 4
    if etype == 0x86DD:
        return pkt[14:], 6
    return None


def relink(ip, ver, dlt):
    """An IP packet framed for link type dlt (a DLT value from LINKS)."""
    etype = 0x0800 if ver == 4 else 0x86DD
    if dlt == 0:  # BSD loopback, host order (little endian here)
        return struct.pack("<I", 2 if ver == 4 else 30) + ip
    if dlt == 108:  # OpenBSD loopback, network order
        return struct.pack("!I", 2 if ver == 4 else 24) + ip
    if dlt == 113:  # Linux cooked v1
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", etype) + ip
    if dlt == 276:  # Linux cooked v2
        return struct.pack("!HHIHBB8s", etype, 0, 1, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + ip
    if dlt == 1:
        return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01" + struct.pack("!H", etype) + ip
    return ip  # 12, 14, 101, 228, 229: raw IP


def vlan(ip, ver, tags, pppoe=False):
    """Ethernet with 802.1Q tags (outer first), optionally PPPoE inside."""
    etype = 0x0800 if ver == 4 else 0x86DD
    out = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"
    for i, tag in enumerate(tags):
        out += struct.pack("!HH", 0x88A8 if i == 0 and len(tags) > 1 else 0x8100, tag)
    if pppoe:
        out += struct.pack("!H", 0x8864)
        out += struct.pack("!BBHHH", 0x11, 0, 1, len(ip) + 2, 0x0021 if ver == 4 else 0x0057)
    else:
        out += struct.pack("!H", etype)
    return out + ip


# ---- decode seeds -------------------------------------------------------------------


def step_code(dt_us):
    """fuzz_decode.c's time step byte closest to dt_us."""
    if dt_us < 0:
        return 0xFF
    if dt_us < 128 * 1000:
        return dt_us // 1000
    if dt_us < 112 * 1000000:
        return 0x80 + dt_us // 1000000
    return min(0xEF + dt_us // 60000000, 0xFE)


def decode_seed(dlt, flags, pkts, cut=256, limit=SEED_MAX):
    out = bytearray([LINKS.index(dlt), flags])
    prev = pkts[0][0] if pkts else 0
    for ts, b, wire in pkts:
        b = b[:cut]
        extra = max(0, min(wire - len(b), 0xFEFF))
        rec = struct.pack("!HHB", len(b), extra, step_code(ts - prev)) + b
        if len(out) + len(rec) > limit:
            break
        out += rec
        prev = ts
    return bytes(out)


# ---- diag seeds ---------------------------------------------------------------------


def read_nldump(path):
    """[(family, seq, pid, chunk)] of a --save-dump file."""
    data = open(path, "rb").read()
    assert data[:8] == b"tcpsdmp1", path
    out, off = [], 8
    while off + 16 <= len(data):
        fam, seq, pid, n = struct.unpack_from("<IIII", data, off)
        off += 16
        out.append((fam, seq, pid, data[off:off + n]))
        off += n
    return out


def diag_seed(seq, pid, chunks, stop=0):
    out = struct.pack("<IIB", seq, pid, stop)
    for c in chunks:
        out += struct.pack("<H", len(c)) + c
    return out


def nlmsg(mtype, flags, seq, pid, payload):
    m = struct.pack("<IHHII", 16 + len(payload), mtype, flags, seq, pid) + payload
    return m + b"\0" * (-len(m) % 4)


def diag_msg(family=2, state=1, attrs=b""):
    src = bytes([198, 18, 0, 1]) + b"\0" * 12 if family == 2 else b"\xfd" + b"\0" * 14 + b"\1"
    dst = bytes([198, 18, 0, 2]) + b"\0" * 12 if family == 2 else b"\xfd" + b"\0" * 14 + b"\2"
    return (struct.pack("<BBBB", family, state, 1, 0) + struct.pack("!HH", 40000, 80) + src +
            dst + struct.pack("<IQIIIII", 0, 0x1122334455667788, 200, 0, 10, 1000, 4242) + attrs)


def rta(atype, payload):
    a = struct.pack("<HH", 4 + len(payload), atype) + payload
    return a + b"\0" * (-len(a) % 4)


# ---- output -------------------------------------------------------------------------


def reset(target):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--captures", default=os.path.join(REPO, "tests", "pcap", "captures", "pcap"))
    args = ap.parse_args()
    args.captures = os.path.abspath(args.captures)

    caps = {}
    for path in sorted(glob.glob(os.path.join(args.captures, "*.pcap*")) +
                       glob.glob(os.path.join(REPO, "tests", "pcap", "data", "*.pcap"))):
        r = read_pcap(open(path, "rb").read())
        if r and r[1]:
            caps[os.path.basename(path)] = (path, r)
    if not any(p.startswith(args.captures) for p, _ in caps.values()):
        print("note: no captures under %s; seeds from tests/pcap/data only" % args.captures)

    # -- decode: every capture, in its own link type; a few with other flags
    d = reset("decode")
    flags_for = {"zeek_vlan_collisions.pcap": [0, 4], "zeek_pppoe_qinq.pcap": [0, 1],
                 "zeek_m57_49583.pcap": [0, 8], "zeek_ssh_dups.pcap": [0, 1],
                 "zeek_flip_without_syn.pcapng": [1], "zeek_syn_bad.pcap": [0, 2],
                 "one-connection.pcap": [0, 1, 2, 9]}
    for name, (path, (lt, pkts)) in sorted(caps.items()):
        if lt not in LINKS or name in ("empty.pcap", "huge-caplen.pcap", "bad-magic.pcap"):
            continue
        for fl in flags_for.get(name, [0]):
            put(d, "%s.f%d" % (os.path.splitext(name)[0], fl), decode_seed(lt, fl, pkts))
    # -- the link types no capture has: frame one IPv4 and one IPv6 connection anew
    samples = []
    for name in ("one-connection.pcap", "zeek_ftp_ipv6.pcap"):
        if name in caps:
            lt, pkts = caps[name][1]
            ips = [(ts, ip_of_ethernet(b), w) for ts, b, w in pkts[:24]]
            samples.append((name, [(ts, x[0], x[1], w - 14) for ts, x, w in ips if x]))
    for name, ips in samples:
        base = os.path.splitext(name)[0]
        ver = ips[0][2]
        for dlt in (0, 12, 14, 108, 113, 276, 228 if ver == 4 else 229):
            pkts = [(ts, relink(ip, v, dlt), w + len(relink(b"", v, dlt))) for ts, ip, v, w in ips]
            put(d, "%s.dlt%d" % (base, dlt), decode_seed(dlt, 0, pkts))
        for tags, pppoe, tag in (([100], False, "vlan"), ([100, 200], False, "qinq"),
                                 ([7, 8, 9], True, "qinq3-pppoe"), ([], True, "pppoe")):
            pkts = [(ts, vlan(ip, v, tags, pppoe), w + 14 + 4 * len(tags) + 8 * pppoe)
                    for ts, ip, v, w in ips]
            put(d, "%s.%s" % (base, tag), decode_seed(1, 0, pkts))
        # The same packets with every timer due in between, and out of order.
        spread = [(i * 400 * 1000000 if i % 3 else i * 1000, ip, v, w)
                  for i, (ts, ip, v, w) in enumerate(ips)]
        pkts = [(ts, relink(ip, v, 12), w) for ts, ip, v, w in spread]
        put(d, "%s.slow" % base, decode_seed(12, 1, pkts))
        if ver == 4:
            put(d, "%s.reversed" % base, decode_seed(12, 0, list(reversed(pkts))))
    put(d, "empty-unknown-link", bytes([LINKS.index(147), 0]) + struct.pack("!HHB", 4, 0, 0) +
        b"abcd")

    # -- pcap: small captures whole, larger ones cut, and new framings
    d = reset("pcap")
    want = ["sv_base64_5223.pcap", "sv_bug_2491_02.pcap", "sv_bug_2646_02.pcap",
            "sv_bug_6733_syn_only.pcap", "sv_tcp_fastopen_07.pcap", "zeek_flip_without_syn.pcapng",
            "zeek_irc_starttls_sll.pcap", "zeek_tcp_syslog_rawip.pcap", "zeek_rst_inject.pcap",
            "zeek_syn_then_ack_then_rst.pcap", "zeek_tcp_padding.pcap", "zeek_http_to_ssh.pcap",
            "zeek_vlan_collisions.pcap"]
    for name in want:
        if name in caps and os.path.getsize(caps[name][0]) < PCAP_MAX:
            shutil.copy(caps[name][0], os.path.join(d, name))
    for path in sorted(glob.glob(os.path.join(REPO, "tests", "pcap", "data", "*.pcap"))):
        shutil.copy(path, os.path.join(d, "data-" + os.path.basename(path)))
    for name in ("zeek_connect_with_header_null6.pcap", "zeek_pppoe_qinq.pcap",
                 "zeek_ftp_ipv6.pcap", "zeek_m57_49583.pcap"):
        if name in caps:
            lt, pkts = caps[name][1]
            keep = []
            for p in pkts:
                if sum(len(b) + 16 for _, b, _ in keep) + len(p[1]) + 16 + 24 > PCAP_MAX:
                    break
                keep.append(p)
            put(d, "cut-" + name, write_pcap(lt, keep))
    for name, ips in samples:
        base = os.path.splitext(name)[0]
        for dlt, linktype in ((0, 0), (108, 108), (113, 113), (276, 276), (12, 101)):
            pkts = [(ts, relink(ip, v, dlt), w + len(relink(b"", v, dlt))) for ts, ip, v, w in ips]
            put(d, "%s.lt%d.pcap" % (base, linktype), write_pcap(linktype, pkts))
        pkts = [(ts, relink(ip, v, 1), w + 14) for ts, ip, v, w in ips]
        put(d, "%s.be.pcap" % base, write_pcap(1, pkts, endian=">"))
        put(d, "%s.ns.pcap" % base, write_pcap(1, pkts, nano=True))
        put(d, "%s.pcapng" % base, write_pcapng(1, pkts))
        # Interfaces of other link types (where libpcap stops and savefile.c reads on).
        links = [(1, pkts)] + [
            (lt, [(ts, relink(ip, v, dlt), w + len(relink(b"", v, dlt))) for ts, ip, v, w in ips])
            for dlt, lt in ((113, 113), (12, 101), (0, 0))]
        put(d, "%s.links.pcapng" % base, write_pcapng(0, [], links))
        put(d, "%s.snap64.pcap" % base,
            write_pcap(1, [(ts, b[:64], w) for ts, b, w in pkts], snaplen=64))
        hdr = bytearray(write_pcap(1, pkts))
        hdr[8] = 0x09  # fuzz_pcap.c flags: zeek, paced replay
        put(d, "%s.zeek-paced.pcap" % base, bytes(hdr))
        hdr[8] = 0x16  # verify checksums, ignore VLAN, stop at a time
        put(d, "%s.verify-stop.pcap" % base, bytes(hdr))

    # -- filter: the unit tests' expressions, and broken ones
    d = reset("filter")
    src = open(os.path.join(REPO, "tests", "unit", "test_filter.c")).read()
    exprs = set(m for m in re.findall(r'\{"((?:[^"\\]|\\.)*)",', src))
    exprs |= set(re.findall(r'(?:matches|parse|bad|fails?)\("((?:[^"\\]|\\.)*)"', src))
    exprs |= {
        "", "state", "state bogus", "exclude", "( state established", "state established )",
        "dport = :", "dport = :65536", "dport = :-1", "dport > :*", "dport = :nosuchservice",
        "src [fd00::1", "src 1.2.3.4/33", "src ::1/129", "src */8", "src 999.1.1.1",
        "src [::ffff:1.2.3.4]/120:443", "dst 10.0.0.0/8:*", "not not not ! ! state listen",
        "( ( ( ( ( ( ( ( dport = :1 ) ) ) ) ) ) ) )", "dport=:80||sport=:22&&state tw",
        "state all exclude all", "exclude established exclude syn-sent or dport = :1",
        "sport lt :1024 and dport ge :1024", "state FIN_WAIT_1", "state Time-Wait",
        "src 0.0.0.0/0", "src ::/0", "dst [::]:0", "and", "or or", "( )", "!", "<=", "&&&",
        "state established and", "dport = :80 :81", "src " + "1" * 130,
    }
    for i, e in enumerate(sorted(exprs)):
        put(d, "expr-%03d-%s" % (i, hashlib.sha1(e.encode()).hexdigest()[:8]),
            e.encode().decode("unicode_escape").encode())
    put(d, "deep-not", b"not " * 150 + b"state listen")
    put(d, "deep-paren", b"( " * 120 + b"dport = :1" + b" )" * 120)
    put(d, "many-tokens", b"dport = :1 or " * 300 + b"sport = :2")

    # -- diag: the recorded dump, per request, whole and cut; and crafted replies
    d = reset("diag")
    chunks = read_nldump(os.path.join(REPO, "tests", "data", "ns1.nldump"))
    reqs = {}
    for fam, seq, pid, c in chunks:
        reqs.setdefault((fam, seq, pid), []).append(c)
    for (fam, seq, pid), cs in sorted(reqs.items()):
        put(d, "ns1-af%d" % fam, diag_seed(seq, pid, cs))
        put(d, "ns1-af%d-stop1" % fam, diag_seed(seq, pid, cs, stop=1))
        put(d, "ns1-af%d-otherpid" % fam, diag_seed(seq, pid + 1, cs))
        joined = b"".join(cs)
        put(d, "ns1-af%d-split" % fam,
            diag_seed(seq, pid, [joined[i:i + 100] for i in range(0, len(joined), 100)]))
        put(d, "ns1-af%d-first" % fam, diag_seed(seq, pid, [cs[0][:408]]))
    seq, pid = 7, 4242
    done = nlmsg(3, 2, seq, pid, struct.pack("<i", 0))
    info = rta(2, bytes(range(232)))  # INET_DIAG_INFO, a full tcp_info
    crafted = {
        "v4-info": [nlmsg(20, 2, seq, pid, diag_msg(2, 1, info)), done],
        "v6-newsynrecv": [nlmsg(20, 2, seq, pid, diag_msg(10, 12)), done],
        "info-short": [nlmsg(20, 2, seq, pid, diag_msg(2, 1, rta(2, b"\1" * 20))), done],
        "info-empty": [nlmsg(20, 2, seq, pid, diag_msg(2, 1, rta(2, b""))), done],
        "attr-badlen": [nlmsg(20, 2, seq, pid, diag_msg(2, 1, struct.pack("<HH", 200, 2))), done],
        "attr-unpadded": [nlmsg(20, 2, seq, pid, diag_msg(2, 1, struct.pack("<HH", 5, 9) + b"x"))],
        "state-bad": [nlmsg(20, 2, seq, pid, diag_msg(2, 13)), done],
        "family-bad": [nlmsg(20, 2, seq, pid, diag_msg(1, 1)), done],
        "short-msg": [nlmsg(20, 2, seq, pid, b"\2\1"), done],
        "intr": [nlmsg(20, 0x12, seq, pid, diag_msg()), done],
        "done-error": [nlmsg(3, 2, seq, pid, struct.pack("<i", -1))],
        "done-bare": [nlmsg(3, 2, seq, pid, b"")],
        "error-ack": [nlmsg(2, 0, seq, pid, struct.pack("<i", 0) + b"\0" * 16)],
        "error-eperm": [nlmsg(2, 0, seq, pid, struct.pack("<i", -1) + b"\0" * 16)],
        "error-short": [nlmsg(2, 0, seq, pid, b"")],
        "other-type": [nlmsg(24, 2, seq, pid, diag_msg()), done],
        "other-seq": [nlmsg(20, 2, seq + 1, pid, diag_msg()), done],
        "len-too-big": [struct.pack("<IHHII", 4000, 20, 2, seq, pid) + diag_msg()],
        "len-too-small": [struct.pack("<IHHII", 8, 20, 2, seq, pid) + diag_msg()],
        "after-done": [done, nlmsg(20, 2, seq, pid, diag_msg())],
        "many": [b"".join(nlmsg(20, 2, seq, pid, diag_msg(2, 1 + i % 11)) for i in range(20)),
                 done],
    }
    for name, cs in crafted.items():
        put(d, "crafted-" + name, diag_seed(seq, pid, cs))
    put(d, "raw-msg", diag_msg(10, 1, info))
    put(d, "garbage", bytes(range(256)))

    total = 0
    for t in sorted(os.listdir(CORPUS)):
        files = glob.glob(os.path.join(CORPUS, t, "*"))
        size = sum(os.path.getsize(f) for f in files)
        total += size
        print("%-8s %3d seeds, %7d bytes, largest %d" %
              (t, len(files), size, max(os.path.getsize(f) for f in files)))
    print("total    %d bytes" % total)


if __name__ == "__main__":
    main()
