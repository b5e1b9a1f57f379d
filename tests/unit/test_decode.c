/*
 * Unit tests: the packet decoder on every link type, with truncated and
 * malformed input.  Packets are built here byte by byte.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "decode.h"
#include "unit.h"

static void put16(struct unit_buf *p, unsigned v)
{
	unit_put8(p, v >> 8);
	unit_put8(p, v & 0xff);
}

static void put32(struct unit_buf *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static uint16_t csum(const uint8_t *d, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)d[i] << 8 | d[i + 1];
	if (n & 1)
		sum += (uint32_t)d[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A TCP header with MSS, SACK-permitted, timestamps and window scale, and
 * `len` payload bytes. */
static void tcp(struct unit_buf *p, unsigned flags, size_t len)
{
	put16(p, 40000);
	put16(p, 443);
	put32(p, 0x11223344);
	put32(p, 0x55667788);
	unit_put8(p, (20 + 20) / 4 << 4);
	unit_put8(p, flags);
	put16(p, 29200);
	put16(p, 0); /* checksum, filled by fix_csum */
	put16(p, 0);
	uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 1, 3, 3, 7};
	unit_put(p, opts, sizeof(opts));
	for (size_t i = 0; i < len; i++)
		unit_put8(p, 'x');
}

static size_t ipv4(struct unit_buf *p, size_t tcplen, int frag)
{
	size_t at = p->n;
	unit_put8(p, 0x45);
	unit_put8(p, 0);
	put16(p, (unsigned)(20 + tcplen));
	put16(p, 1);
	put16(p, frag ? 0x2000 : 0x4000);
	unit_put8(p, 64);
	unit_put8(p, 6);
	put16(p, 0);
	put32(p, 0xc6120001);
	put32(p, 0xc6120002);
	return at;
}

static size_t ipv6(struct unit_buf *p, size_t payload, int next)
{
	size_t at = p->n;
	put32(p, 0x60000000);
	put16(p, (unsigned)payload);
	unit_put8(p, (unsigned)next);
	unit_put8(p, 64);
	uint8_t a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	unit_put(p, a, 16);
	a[15] = 2;
	unit_put(p, a, 16);
	return at;
}

/* Fill in the TCP checksum over the pseudo-header. */
static void fix_csum(struct unit_buf *p, size_t ip, size_t tcpoff, int v6)
{
	size_t len = p->n - tcpoff;
	uint32_t sum = 0;
	const uint8_t *a = p->b + ip + (v6 ? 8 : 12);
	for (size_t i = 0; i < (v6 ? 32u : 8u); i += 2)
		sum += (uint32_t)a[i] << 8 | a[i + 1];
	sum += 6 + (uint32_t)len;
	uint16_t c = csum(p->b + tcpoff, len, sum);
	p->b[tcpoff + 16] = (uint8_t)(c >> 8);
	p->b[tcpoff + 17] = (uint8_t)c;
}

static enum decode_result run(int dlt, const struct unit_buf *p, size_t caplen, struct segment *s,
			      struct decode_stats *st)
{
	return decode_packet(dlt, p->b, caplen, p->n, 42, 1, s, st);
}

static void eth_hdr(struct unit_buf *p, unsigned type)
{
	uint8_t mac[12] = {0};
	unit_put(p, mac, 12);
	put16(p, type);
}

static void check_segment(const struct segment *s, int family, size_t len)
{
	CHECK(s->family == family);
	CHECK(s->sport == 40000 && s->dport == 443);
	CHECK(s->seq == 0x11223344 && s->ack == 0x55667788);
	CHECK(s->flags == (TH_SYN | TH_ACK));
	CHECK(s->win == 29200);
	CHECK(s->payload_len == len);
	CHECK(s->has_mss && s->mss == 1460 && s->sack_ok);
	CHECK(s->has_ts && s->tsval == 7 && s->tsecr == 9);
	CHECK(s->has_wscale && s->wscale == 7);
	CHECK(s->ts_us == 42);
}

static void every_link_type(void)
{
	struct segment s;
	struct decode_stats st;
	struct unit_buf p;
	size_t ip, t;

	/* Ethernet, IPv4. */
	memset(&st, 0, sizeof(st));
	p.n = 0;
	eth_hdr(&p, 0x0800);
	ip = ipv4(&p, 40 + 5, 0);
	t = p.n;
	tcp(&p, TH_SYN | TH_ACK, 5);
	fix_csum(&p, ip, t, 0);
	CHECK(run(1, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 5);
	CHECK(s.csum == 1 && s.saddr[0] == 198 && s.daddr[3] == 2 && s.vlan == 0);

	/* Ethernet trailer padding is not payload. */
	size_t real = p.n;
	for (int i = 0; i < 6; i++)
		unit_put8(&p, 0);
	CHECK(run(1, &p, p.n, &s, &st) == DEC_TCP && s.payload_len == 5 && s.csum == 1);
	p.n = real;

	/* A bad checksum is reported, not fatal. */
	p.b[p.n - 1] ^= 0xff;
	CHECK(run(1, &p, p.n, &s, &st) == DEC_TCP && s.csum == 0 && st.bad_csum == 1);

	/* 802.1Q and QinQ. */
	p.n = 0;
	eth_hdr(&p, 0x88a8);
	put16(&p, 0x0064); /* outer 100 */
	put16(&p, 0x8100);
	put16(&p, 0x00c8); /* inner 200 */
	put16(&p, 0x0800);
	ip = ipv4(&p, 40, 0);
	t = p.n;
	tcp(&p, TH_SYN | TH_ACK, 0);
	fix_csum(&p, ip, t, 0);
	CHECK(run(1, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 0);
	CHECK(s.vlan == 100 && s.vlan_inner == 200 && s.csum == 1);

	/* PPPoE session carrying IPv6. */
	p.n = 0;
	eth_hdr(&p, 0x8864);
	unit_put8(&p, 0x11);
	unit_put8(&p, 0);
	put16(&p, 1);
	put16(&p, 2 + 40 + 40);
	put16(&p, 0x0057);
	ip = ipv6(&p, 40, 6);
	t = p.n;
	tcp(&p, TH_SYN | TH_ACK, 0);
	fix_csum(&p, ip, t, 1);
	CHECK(run(1, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET6, 0);
	CHECK(s.csum == 1 && s.saddr[0] == 0xfd && s.daddr[15] == 2);

	/* Linux cooked SLL (DLT 113) and SLL2 (DLT 276). */
	p.n = 0;
	uint8_t sll[14] = {0, 4, 0, 1, 0, 6};
	unit_put(&p, sll, 14);
	put16(&p, 0x0800);
	ip = ipv4(&p, 40, 0);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(113, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 0);
	p.n = 0;
	put16(&p, 0x86dd);
	uint8_t sll2[18] = {0};
	unit_put(&p, sll2, 18);
	ipv6(&p, 40, 6);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(276, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET6, 0);

	/* BSD loopback: NULL in either byte order, LOOP in network order. */
	uint8_t le2[4] = {2, 0, 0, 0}, be2[4] = {0, 0, 0, 2}, le30[4] = {30, 0, 0, 0};
	p.n = 0;
	unit_put(&p, le2, 4);
	ipv4(&p, 40, 0);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(0, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 0);
	memcpy(p.b, be2, 4);
	CHECK(run(0, &p, p.n, &s, &st) == DEC_TCP);
	CHECK(run(108, &p, p.n, &s, &st) == DEC_TCP);
	p.n = 0;
	unit_put(&p, le30, 4);
	ipv6(&p, 40, 6);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(0, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET6, 0);

	/* Raw IP (DLT 12, 101, 228, 229). */
	p.n = 0;
	ipv4(&p, 40, 0);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_TCP && run(101, &p, p.n, &s, &st) == DEC_TCP);
	CHECK(run(228, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 0);
	p.n = 0;
	ipv6(&p, 40, 6);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_TCP && run(229, &p, p.n, &s, &st) == DEC_TCP);

	/* An unknown link type is counted and skipped. */
	CHECK(run(147, &p, p.n, &s, &st) == DEC_SKIP && st.unknown_link == 1);
	CHECK(decode_linktype_supported(1) && !decode_linktype_supported(147));
}

static void ipv6_extension_headers(void)
{
	struct segment s;
	struct decode_stats st;
	struct unit_buf p;

	memset(&st, 0, sizeof(st));
	/* hop-by-hop (8) -> destination options (16) -> TCP */
	p.n = 0;
	ipv6(&p, 8 + 16 + 40, 0);
	unit_put8(&p, 60);
	unit_put8(&p, 0);
	for (int i = 0; i < 6; i++)
		unit_put8(&p, 0);
	unit_put8(&p, 6);
	unit_put8(&p, 1);
	for (int i = 0; i < 14; i++)
		unit_put8(&p, 0);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET6, 0);

	/* A first fragment is skipped and counted; an atomic one is decoded. */
	p.n = 0;
	ipv6(&p, 8 + 40, 44);
	unit_put8(&p, 6);
	unit_put8(&p, 0);
	put16(&p, 0x0001); /* offset 0, M set */
	put32(&p, 77);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_SKIP && st.fragments == 1);
	p.b[40 + 3] = 0; /* M clear, offset 0: atomic */
	CHECK(run(12, &p, p.n, &s, &st) == DEC_TCP);

	/* Not TCP (UDP), and no-next-header. */
	p.n = 0;
	ipv6(&p, 8, 17);
	for (int i = 0; i < 8; i++)
		unit_put8(&p, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_SKIP);
	CHECK(st.not_tcp == 1);

	/* An extension header longer than the payload is invalid. */
	p.n = 0;
	ipv6(&p, 8, 0);
	unit_put8(&p, 6);
	unit_put8(&p, 4); /* 40 bytes */
	for (int i = 0; i < 6; i++)
		unit_put8(&p, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_INVALID && st.invalid[DL_IPV6_EXT] == 1);
}

static void ipv4_fragments_and_options(void)
{
	struct segment s;
	struct decode_stats st;
	struct unit_buf p;

	memset(&st, 0, sizeof(st));
	p.n = 0;
	ipv4(&p, 40, 1); /* more fragments */
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_SKIP && st.fragments == 1);

	/* IPv4 with 4 bytes of options (IHL 6). */
	p.n = 0;
	ipv4(&p, 40 + 4, 0);
	p.b[0] = 0x46;
	put32(&p, 0x01010101);
	tcp(&p, TH_SYN | TH_ACK, 0);
	CHECK(run(12, &p, p.n, &s, &st) == DEC_TCP);
	check_segment(&s, AF_INET, 0);
}

static void truncated_and_invalid(void)
{
	struct segment s;
	struct decode_stats st;
	struct unit_buf p;

	memset(&st, 0, sizeof(st));
	p.n = 0;
	eth_hdr(&p, 0x0800);
	ipv4(&p, 40, 0);
	tcp(&p, TH_SYN | TH_ACK, 0);
	size_t full = p.n;
	/* Every cut inside the headers is truncation, never a crash. */
	for (size_t cut = 0; cut < full; cut++) {
		enum decode_result r = decode_packet(1, p.b, cut, full, 1, 1, &s, &st);
		if (r != DEC_TRUNCATED) {
			printf("  cut at %zu: result %d\n", cut, r);
			unit_failed = 1;
		}
	}
	CHECK(st.truncated[DL_LINK] == 14 && st.truncated[DL_IPV4] == 20 &&
	      st.truncated[DL_TCP] == 40);
	/* Payload cut by the snap length is fine: the length comes from IP. */
	p.n = 0;
	eth_hdr(&p, 0x0800);
	ipv4(&p, 40 + 100, 0);
	tcp(&p, TH_ACK, 100);
	CHECK(decode_packet(1, p.b, 14 + 20 + 40 + 10, p.n, 1, 1, &s, &st) == DEC_TCP);
	CHECK(s.payload_len == 100 && s.payload_captured == 10 && s.csum == -1);

	/* Invalid: IHL below 5, total length below the header, TCP offset below 5,
	 * TCP header longer than the segment, IP length beyond the frame. */
	memset(&st, 0, sizeof(st));
	p.n = 0;
	ipv4(&p, 40, 0);
	tcp(&p, TH_ACK, 0);
	struct unit_buf bad = p;
	bad.b[0] = 0x44;
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID);
	bad = p;
	bad.b[2] = 0;
	bad.b[3] = 10;
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID);
	bad = p;
	bad.b[20 + 12] = 0x40; /* data offset 4 */
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID);
	bad = p;
	bad.b[20 + 12] = 0xf0; /* 60-byte header in a 40-byte segment */
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID);
	bad = p;
	bad.b[2] = 0x05; /* total length 1280 > the frame */
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID);
	CHECK(st.invalid[DL_IPV4] == 3 && st.invalid[DL_TCP] == 2);
	bad = p;
	bad.b[0] = 0x75; /* version 7 */
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_INVALID && st.invalid[DL_LINK] == 1);

	/* A bad option length is counted and ends the options; the segment stays. */
	bad = p;
	bad.b[20 + 20 + 1] = 40; /* MSS option claiming 40 bytes */
	CHECK(run(12, &bad, bad.n, &s, &st) == DEC_TCP && st.invalid[DL_TCP_OPT] == 1);
	CHECK(!s.has_mss);

	/* Nine stacked VLAN tags are refused. */
	p.n = 0;
	eth_hdr(&p, 0x8100);
	for (int i = 0; i < 9; i++) {
		put16(&p, 1);
		put16(&p, 0x8100);
	}
	CHECK(run(1, &p, p.n, &s, &st) == DEC_INVALID && st.invalid[DL_VLAN] == 1);
}

/* Random bytes under every link type: no crash, and every packet counted. */
static void random_bytes(void)
{
	static const int dlts[] = {0, 1, 12, 101, 108, 113, 228, 229, 276};
	struct decode_stats st;
	struct segment s;
	uint8_t buf[256];
	uint32_t x = 12345;
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(x % sizeof(buf));
		for (size_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			buf[k] = (uint8_t)(x >> 16);
		}
		/* Bias towards plausible headers so the deeper layers are reached. */
		if (n > 20)
			buf[i % 2 ? 0 : 14] = i % 3 ? 0x45 : 0x60;
		decode_packet(dlts[i % 9], buf, n, n + (size_t)(i % 7), 1, 1, &s, &st);
	}
	uint64_t sum = st.tcp + st.not_tcp + st.fragments + st.unknown_link;
	for (int l = 0; l < DL_MAX; l++)
		sum += st.truncated[l] + st.invalid[l];
	CHECK(st.packets == 20000 && sum == 20000);
}

const struct unit_test decode_tests[] = {
	{"decode: every link type", every_link_type},
	{"decode: IPv6 extension headers and fragments", ipv6_extension_headers},
	{"decode: IPv4 fragments and options", ipv4_fragments_and_options},
	{"decode: truncated and invalid packets counted by layer", truncated_and_invalid},
	{"decode: random bytes never crash, all counted", random_bytes},
	{NULL, NULL},
};
