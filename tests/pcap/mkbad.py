#!/usr/bin/env python3
"""Write the malformed captures under tests/pcap/data/ (run on purpose;
the files are committed).  Each one breaks the pcap format in one way."""
import os, struct

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(D, exist_ok=True)


def header(linktype=1, snaplen=65535, magic=0xa1b2c3d4):
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def record(data, caplen=None, wirelen=None, ts=1700000000):
    caplen = len(data) if caplen is None else caplen
    wirelen = caplen if wirelen is None else wirelen
    return struct.pack("<IIII", ts, 0, caplen, wirelen) + data


def syn():
    eth = b"\x00" * 12 + b"\x08\x00"
    ip = bytes([0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2])
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    return eth + ip + tcp


def write(name, data):
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)


write("bad-magic.pcap", b"NOTAPCAPFILE" + b"\x00" * 12)
write("truncated-record.pcap", header() + record(syn())[:16 + 20])
write("zero-caplen.pcap", header() + record(b"", caplen=0, wirelen=54) + record(syn()))
write("huge-caplen.pcap", header() + struct.pack("<IIII", 1700000000, 0, 0x7fffffff, 60) + syn())
write("unknown-linktype.pcap", header(linktype=147) + record(syn()))
write("truncated-headers.pcap", header() + b"".join(record(syn()[:n], wirelen=54) for n in
                                                    (10, 14, 20, 34, 40, 53)) + record(syn()))
write("empty.pcap", header())


def seg(src, dst, sport, dport, flags, seq, ack, payload=b"", ts=1700000000, usec=0):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     bytes(src), bytes(dst))
    data = b"\x00" * 12 + b"\x08\x00" + ip + tcp
    return struct.pack("<IIII", ts, usec, len(data), len(data)) + data


# One whole connection: handshake, a request, a reply, and a close by the
# client (who ends in TIME-WAIT).  For explain --conn and other tests.
C, S = (198, 18, 0, 1), (198, 18, 0, 2)
F, SY, R, P, A = 0x01, 0x02, 0x04, 0x08, 0x10
pkts = [
    seg(C, S, 40000, 80, SY, 1000, 0, usec=0),
    seg(S, C, 80, 40000, SY | A, 5000, 1001, usec=100),
    seg(C, S, 40000, 80, A, 1001, 5001, usec=200),
    seg(C, S, 40000, 80, P | A, 1001, 5001, b"GET / HTTP/1.0\r\n\r\n", usec=300),
    seg(S, C, 80, 40000, P | A, 5001, 1019, b"HTTP/1.0 200 OK\r\n\r\n", usec=400),
    seg(C, S, 40000, 80, F | A, 1019, 5020, usec=500),
    seg(S, C, 80, 40000, A, 5020, 1020, usec=600),
    seg(S, C, 80, 40000, F | A, 5020, 1020, usec=700),
    seg(C, S, 40000, 80, A, 1020, 5021, usec=800),
]
write("one-connection.pcap", header() + b"".join(pkts))

# The same connection with times that cross millisecond boundaries, then a
# SYN of another connection 10 ms in.  The times of its transitions and the
# end of its 2MSL (with --time-wait 0.001) must come out to the microsecond:
# cut to whole milliseconds after the first packet, they came out early.
times = [250, 1300, 2100, 2600, 3150, 3400, 3650, 3800, 4150]
write("close-subms.pcap", header() + b"".join(
    p[:4] + struct.pack("<I", t) + p[8:] for p, t in zip(pkts, times)) +
    seg(C, S, 40001, 80, SY, 3000, 0, usec=10000))

# A capture cut in the middle of a record, as a killed tcpdump or a full
# disk leaves it: six whole records, then 30 bytes of the seventh.
whole = header() + b"".join(pkts[:6])
write("cut-mid-record.pcap", whole + pkts[6][:30])

# A pcapng file whose interfaces differ in link type, as dumpcap writes when
# it captures on several interfaces: the connection on Ethernet (interface
# 0), again from port 40001 on Linux cooked capture with nanosecond stamps
# (1), and from port 40002 as raw IP stamped 1000 s early with an offset
# (2).  libpcap stops at interface 1; tcpstate reads on.
def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def epb(ifid, t, frame):
    return block(6, struct.pack("<IIIII", ifid, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)) +
                 frame)


def with_port(frame, off, port):
    """The frame with its client port (40000) moved to port; off: where IP starts."""
    f = bytearray(frame)
    for at in (off + 20, off + 22):
        if struct.unpack_from("!H", f, at)[0] == 40000:
            struct.pack_into("!H", f, at, port)
    return bytes(f)


sll = struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", 0x0800)
links = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
         block(1, struct.pack("<HHI", 1, 0, 65535))]
for i, p in enumerate(pkts):
    us = 1700000000 * 1000000 + struct.unpack_from("<I", p, 4)[0]
    eth = p[16:]
    links.append(epb(0, us, eth))
    if i == 0:
        links.append(block(1, struct.pack("<HHI", 113, 0, 65535) +
                           struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)))
        links.append(block(1, struct.pack("<HHI", 101, 0, 65535) +
                           struct.pack("<HHq", 14, 8, 1000) + struct.pack("<HH", 0, 0)))
    links.append(epb(1, (us + 30) * 1000, sll + with_port(eth, 14, 40001)[14:]))
    links.append(epb(2, us + 60 - 1000 * 1000000, with_port(eth, 14, 40002)[14:]))
write("links.pcapng", b"".join(links))
