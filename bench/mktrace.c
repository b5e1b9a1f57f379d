/*
 * mktrace - write a pcap of synthetic TCP traffic for bench/engine.
 *
 * usage: mktrace [-n CONNS] [-k OPEN] [-p PKTS] [-g GAP_US] [-s SNAPLEN] [-S SEED] OUT
 *        mktrace -F N [-g GAP_US] [-s SNAPLEN] [-S SEED] OUT      (SYN flood)
 *
 * Connection mode: CONNS connections (default 200000), of which OPEN
 * (default 10000) are open at any moment.  The generator keeps a window of
 * OPEN active connections and emits one packet of each in turn
 * (round-robin); a connection that has sent its last packet leaves the
 * window and the next one takes its slot.  With OPEN >= CONNS every
 * connection has sent its SYN before any sends its second packet, so none
 * closes before all have started.  PKTS (default 25) is the average
 * number of packets per connection: the total is at least CONNS * PKTS.
 *
 * Every connection has its own 4-tuple: clients in 198.18.0.0/16, servers
 * in 198.19.0.0/24 (ports 80, 443, 8080, 5432).  Each gets one kind, drawn
 * from a hash of its index:
 *   40% client closes first (FIN, ACK, FIN, ACK)                   -> SF
 *   25% server closes first                                         -> SF
 *    5% simultaneous close (the FINs cross, neither acks the other)  -> SF
 *    5% client aborts with RST after data                           -> RSTO
 *    5% server aborts with RST after data                           -> RSTR
 *    5% refused: SYN answered by RST-ACK                            -> REJ
 *    5% unanswered SYN, retransmitted twice (same ISN)              -> S0
 *   10% half-close: the client sends FIN after its request, the
 *       server goes on sending data, then closes                    -> SF
 * Established connections do a handshake (SYNs carry MSS, window scale
 * and SACK-permitted), then data both ways (client request, two server
 * segments, a pure ACK, ...), with exact sequence and acknowledgment
 * numbers.  Payload bytes are zeros; the IP and TCP checksums are right.
 * Frames are cut to SNAPLEN bytes (default 96) as `tcpdump -s 96` would:
 * the headers are whole, the IP lengths give the real payload size.
 *
 * Flood mode (-F N): N SYNs from N distinct sources (addresses in
 * 198.18.0.0/15, ports varied) to 198.19.255.254:80, nothing answered.
 *
 * Timestamps start at 1700000000 s and advance GAP_US microseconds per
 * packet (default 100, i.e. 10 k packets/s; the flood's default is 10).
 * The capture span matters to a tracker: finished connections linger in
 * TIME-WAIT, unanswered ones until an idle timeout.
 *
 * Link type: Ethernet.  On success it prints one line on stdout:
 *   packets=P conns=C SF=.. RSTO=.. RSTR=.. REJ=.. S0=.. span_us=..
 * (the conn_state counts Zeek would give), and the mix on stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../src/hash.h"

enum kind { K_CFIN, K_SFIN, K_SIM, K_RSTC, K_RSTS, K_REFUSED, K_UNANSWERED, K_HALF, K_MAX };

static const char *const kind_names[K_MAX] = {"client-fin", "server-fin", "simultaneous",
					      "rst-client", "rst-server", "refused",
					      "unanswered", "half-close"};

/* Out of 20: 8 + 5 + 1 + 1 + 1 + 1 + 1 + 2. */
static const uint8_t kind_of20[20] = {
	K_CFIN, K_CFIN, K_CFIN, K_CFIN, K_CFIN, K_CFIN, K_CFIN,	   K_CFIN,	 K_SFIN, K_SFIN,
	K_SFIN, K_SFIN, K_SFIN, K_SIM,	K_RSTC, K_RSTS, K_REFUSED, K_UNANSWERED, K_HALF, K_HALF,
};

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16 };

static FILE *out;
static uint64_t ts_us, gap_us = 100, npackets;
static uint32_t snaplen = 96, seed = 1;
static uint16_t ip_id;

static uint64_t h64(uint64_t i, uint64_t salt)
{
	return hash_mix64(i * 0x9e3779b97f4a7c15ull + salt +
			  (uint64_t)seed * 0x632be59bd9b4e019ull);
}

static void die(const char *what)
{
	fprintf(stderr, "mktrace: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* pcap headers: host order, the magic says which */
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	return sum; /* n is even everywhere it is used */
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void write_header(void)
{
	uint8_t h[24];

	put32(h, 0xa1b2c3d4);
	{
		uint16_t maj = 2, min = 4; /* version 2.4, in host order like the magic */
		memcpy(h + 4, &maj, 2);
		memcpy(h + 6, &min, 2);
	}
	put32(h + 8, 0);
	put32(h + 12, 0);
	put32(h + 16, snaplen);
	put32(h + 20, 1); /* LINKTYPE_ETHERNET */
	if (fwrite(h, sizeof(h), 1, out) != 1)
		die("write");
}

/*
 * One Ethernet/IPv4/TCP frame.  saddr/daddr host order; payload of plen
 * zero bytes (only what fits in snaplen is written).
 */
static void packet(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport, uint32_t seq,
		   uint32_t ack, uint8_t flags, uint16_t win, int syn_opts, uint32_t plen)
{
	static uint8_t f[16 + 14 + 20 + 60 + 65536];
	uint8_t *eth = f + 16, *ip = eth + 14, *tcp = ip + 20;
	uint32_t thl = syn_opts ? 32 : 20;
	uint32_t iplen = 20 + thl + plen;
	uint32_t wire = 14 + iplen, cap = wire < snaplen ? wire : snaplen;

	/* Ethernet: locally administered MACs, one per side. */
	memset(eth, 0, 14);
	eth[0] = 0x02, eth[5] = (uint8_t)(daddr & 0xff) | 1;
	eth[6] = 0x02, eth[11] = (uint8_t)(saddr & 0xff) | 1;
	eth[3] = (uint8_t)(daddr >> 16), eth[4] = (uint8_t)(daddr >> 8);
	eth[9] = (uint8_t)(saddr >> 16), eth[10] = (uint8_t)(saddr >> 8);
	be16(eth + 12, 0x0800);

	ip[0] = 0x45, ip[1] = 0;
	be16(ip + 2, (uint16_t)iplen);
	be16(ip + 4, ip_id++);
	be16(ip + 6, 0x4000); /* DF */
	ip[8] = 64, ip[9] = 6;
	be16(ip + 10, 0);
	be32(ip + 12, saddr);
	be32(ip + 16, daddr);
	be16(ip + 10, fold(sum16(0, ip, 20)));

	be16(tcp, sport);
	be16(tcp + 2, dport);
	be32(tcp + 4, seq);
	be32(tcp + 8, flags & TH_ACK ? ack : 0);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	be16(tcp + 14, win);
	be16(tcp + 16, 0);
	be16(tcp + 18, 0);
	if (syn_opts) {
		uint8_t *o = tcp + 20;
		o[0] = 2, o[1] = 4, be16(o + 2, 1460);	  /* MSS */
		o[4] = 1, o[5] = 3, o[6] = 3, o[7] = 7;	  /* NOP, window scale 7 */
		o[8] = 1, o[9] = 1, o[10] = 4, o[11] = 2; /* NOP NOP SACK-permitted */
	}
	/* Checksum: pseudo header + header; the payload is zeros. */
	uint32_t sum = sum16(0, ip + 12, 8) + 6 + (thl + plen);
	sum = sum16(sum, tcp, thl);
	be16(tcp + 16, fold(sum));
	uint32_t hdr = 14 + 20 + thl;
	if (cap > hdr)
		memset(tcp + thl, 0, cap - hdr);

	uint8_t *rec = f;
	put32(rec, (uint32_t)(ts_us / 1000000));
	put32(rec + 4, (uint32_t)(ts_us % 1000000));
	put32(rec + 8, cap);
	put32(rec + 12, wire);
	if (fwrite(rec, 16 + cap, 1, out) != 1)
		die("write");
	ts_us += gap_us;
	npackets++;
}

/* ---- connection mode ------------------------------------------------------ */

struct conn {
	uint32_t idx;
	uint32_t caddr, saddr;
	uint16_t cport, sport;
	uint32_t cnxt, snxt; /* next sequence number each side sends */
	uint32_t cisn, sisn;
	uint16_t step, total, data; /* data: data-phase packets */
	uint8_t kind;
	uint8_t live;
};

static const uint16_t server_ports[4] = {80, 443, 8080, 5432};

static void conn_init(struct conn *c, uint32_t i, uint8_t kind, uint32_t budget)
{
	memset(c, 0, sizeof(*c));
	c->idx = i;
	c->kind = kind;
	/* Unique per connection: (client address, client port). */
	c->caddr = (198u << 24 | 18u << 16) + 1 + i % 65000;
	c->cport = (uint16_t)(1024 + ((i / 65000) * 4099u + (i % 65000) * 13u) % 60000);
	c->saddr = (198u << 24 | 19u << 16) + 1 + (uint32_t)(h64(i, 1) % 50);
	c->sport = server_ports[h64(i, 2) % 4];
	c->cisn = (uint32_t)h64(i, 3);
	c->sisn = (uint32_t)h64(i, 4);
	c->live = 1;
	switch (kind) {
	case K_REFUSED:
		c->total = 2;
		break;
	case K_UNANSWERED:
		c->total = 3;
		break;
	case K_RSTC:
	case K_RSTS:
		c->total = (uint16_t)budget;
		c->data = (uint16_t)(budget - 4);
		break;
	default:
		c->total = (uint16_t)budget;
		c->data = (uint16_t)(budget - 7);
		break;
	}
}

#define C2S(seq, ack, fl, opts, len)                                                               \
	packet(c->caddr, c->cport, c->saddr, c->sport, seq, ack, fl, opts ? 64240 : 502, opts, len)
#define S2C(seq, ack, fl, opts, len)                                                               \
	packet(c->saddr, c->sport, c->caddr, c->cport, seq, ack, fl, opts ? 65160 : 509, opts, len)

static uint32_t req_len(const struct conn *c, uint32_t j)
{
	return 100 + (uint32_t)(h64((uint64_t)c->idx << 16 | j, 5) % 400);
}

static uint32_t resp_len(const struct conn *c, uint32_t j)
{
	uint64_t h = h64((uint64_t)c->idx << 16 | j, 6);
	return h % 3 ? 1448 : 200 + (uint32_t)(h % 1248);
}

/* Data phase packet j (both directions open). */
static void data_both(struct conn *c, uint32_t j)
{
	uint32_t n;

	switch (j % 4) {
	case 0:
		n = req_len(c, j);
		C2S(c->cnxt, c->snxt, TH_PSH | TH_ACK, 0, n);
		c->cnxt += n;
		break;
	case 1:
	case 2:
		n = resp_len(c, j);
		S2C(c->snxt, c->cnxt, TH_PSH | TH_ACK, 0, n);
		c->snxt += n;
		break;
	default:
		C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		break;
	}
}

/* Data after the client's FIN: only the server sends data. */
static void data_server_only(struct conn *c, uint32_t j)
{
	if (j % 2 == 0) {
		uint32_t n = resp_len(c, j + 1000);
		S2C(c->snxt, c->cnxt, TH_PSH | TH_ACK, 0, n);
		c->snxt += n;
	} else {
		C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
	}
}

/* Emit the next packet of c; clear c->live after its last one. */
static void conn_step(struct conn *c)
{
	uint32_t s = c->step++;

	if (c->kind == K_REFUSED) {
		if (s == 0)
			C2S(c->cisn, 0, TH_SYN, 1, 0);
		else
			S2C(0, c->cisn + 1, TH_RST | TH_ACK, 0, 0);
		goto done;
	}
	if (c->kind == K_UNANSWERED) {
		C2S(c->cisn, 0, TH_SYN, 1, 0); /* the same SYN, retransmitted */
		goto done;
	}
	/* Handshake. */
	if (s == 0) {
		C2S(c->cisn, 0, TH_SYN, 1, 0);
		goto done;
	}
	if (s == 1) {
		S2C(c->sisn, c->cisn + 1, TH_SYN | TH_ACK, 1, 0);
		goto done;
	}
	if (s == 2) {
		c->cnxt = c->cisn + 1;
		c->snxt = c->sisn + 1;
		C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		goto done;
	}
	uint32_t j = s - 3;
	if (c->kind == K_HALF) {
		uint32_t d1 = c->data / 2, d2 = c->data - d1;
		if (j < d1) {
			data_both(c, j);
		} else if (j == d1) {
			C2S(c->cnxt, c->snxt, TH_FIN | TH_ACK, 0, 0); /* shutdown(SHUT_WR) */
			c->cnxt++;
		} else if (j == d1 + 1) {
			S2C(c->snxt, c->cnxt, TH_ACK, 0, 0);
		} else if (j < d1 + 2 + d2) {
			data_server_only(c, j - d1 - 2);
		} else if (j == d1 + 2 + d2) {
			S2C(c->snxt, c->cnxt, TH_FIN | TH_ACK, 0, 0);
			c->snxt++;
		} else {
			C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		}
		goto done;
	}
	if (j < c->data) {
		data_both(c, j);
		goto done;
	}
	uint32_t k = j - c->data; /* close step */
	switch (c->kind) {
	case K_RSTC:
		C2S(c->cnxt, c->snxt, TH_RST | TH_ACK, 0, 0);
		break;
	case K_RSTS:
		S2C(c->snxt, c->cnxt, TH_RST | TH_ACK, 0, 0);
		break;
	case K_CFIN:
		if (k == 0) {
			C2S(c->cnxt, c->snxt, TH_FIN | TH_ACK, 0, 0);
			c->cnxt++;
		} else if (k == 1) {
			S2C(c->snxt, c->cnxt, TH_ACK, 0, 0);
		} else if (k == 2) {
			S2C(c->snxt, c->cnxt, TH_FIN | TH_ACK, 0, 0);
			c->snxt++;
		} else {
			C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		}
		break;
	case K_SFIN:
		if (k == 0) {
			S2C(c->snxt, c->cnxt, TH_FIN | TH_ACK, 0, 0);
			c->snxt++;
		} else if (k == 1) {
			C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		} else if (k == 2) {
			C2S(c->cnxt, c->snxt, TH_FIN | TH_ACK, 0, 0);
			c->cnxt++;
		} else {
			S2C(c->snxt, c->cnxt, TH_ACK, 0, 0);
		}
		break;
	case K_SIM:
		if (k == 0) {
			C2S(c->cnxt, c->snxt, TH_FIN | TH_ACK, 0, 0);
		} else if (k == 1) {
			/* Sent before the client's FIN arrived: it does not ack it. */
			S2C(c->snxt, c->cnxt, TH_FIN | TH_ACK, 0, 0);
			c->cnxt++;
			c->snxt++;
		} else if (k == 2) {
			C2S(c->cnxt, c->snxt, TH_ACK, 0, 0);
		} else {
			S2C(c->snxt, c->cnxt, TH_ACK, 0, 0);
		}
		break;
	}
done:
	if (c->step >= c->total)
		c->live = 0;
}

static int conn_mode(uint32_t nconn, uint32_t open, uint32_t ppc)
{
	uint8_t *kinds = malloc(nconn ? nconn : 1);
	uint64_t count[K_MAX] = {0};
	struct conn *win;

	if (!kinds)
		die("malloc");
	for (uint32_t i = 0; i < nconn; i++) {
		kinds[i] = kind_of20[h64(i, 0) % 20];
		count[kinds[i]]++;
	}
	/* Spread the packet budget over the full connections. */
	uint64_t total = (uint64_t)nconn * ppc;
	uint64_t shorts = count[K_REFUSED] * 2 + count[K_UNANSWERED] * 3;
	uint64_t nfull = nconn - count[K_REFUSED] - count[K_UNANSWERED];
	uint64_t per = 12, extra = 0;
	if (nfull && total > shorts) {
		per = (total - shorts) / nfull;
		extra = (total - shorts) % nfull;
	}
	if (per < 12) {
		per = 12; /* room for a handshake, some data and a close */
		extra = 0;
	}
	if (per > 60000) {
		fprintf(stderr, "mktrace: too many packets per connection\n");
		return 2;
	}
	if (open > nconn)
		open = nconn;
	if (!open)
		open = 1;
	win = calloc(open, sizeof(*win));
	if (!win)
		die("calloc");

	uint32_t next = 0, active = 0;
	uint64_t fulls_seen = 0;
	for (uint32_t s = 0; s < open && next < nconn; s++, next++, active++) {
		uint8_t k = kinds[next];
		uint32_t b = (uint32_t)per;
		if (k != K_REFUSED && k != K_UNANSWERED && fulls_seen++ < extra)
			b++;
		conn_init(&win[s], next, k, b);
	}
	while (active) {
		for (uint32_t s = 0; s < open; s++) {
			struct conn *c = &win[s];
			if (!c->live)
				continue;
			conn_step(c);
			if (!c->live) {
				if (next < nconn) {
					uint8_t k = kinds[next];
					uint32_t b = (uint32_t)per;
					if (k != K_REFUSED && k != K_UNANSWERED &&
					    fulls_seen++ < extra)
						b++;
					conn_init(c, next, k, b); /* starts next round */
					next++;
				} else {
					active--;
				}
			}
		}
	}
	fprintf(stderr, "mktrace: %llu packets, %u connections, %u open at once; mix:",
		(unsigned long long)npackets, nconn, open);
	for (int k = 0; k < K_MAX; k++)
		fprintf(stderr, " %s %llu", kind_names[k], (unsigned long long)count[k]);
	fprintf(stderr, "\n");
	printf("packets=%llu conns=%u SF=%llu RSTO=%llu RSTR=%llu REJ=%llu S0=%llu span_us=%llu\n",
	       (unsigned long long)npackets, nconn,
	       (unsigned long long)(count[K_CFIN] + count[K_SFIN] + count[K_SIM] + count[K_HALF]),
	       (unsigned long long)count[K_RSTC], (unsigned long long)count[K_RSTS],
	       (unsigned long long)count[K_REFUSED], (unsigned long long)count[K_UNANSWERED],
	       (unsigned long long)(npackets ? (npackets - 1) * gap_us : 0));
	free(win);
	free(kinds);
	return 0;
}

/* ---- SYN flood -------------------------------------------------------------- */

static int flood_mode(uint32_t n)
{
	const uint32_t server = (198u << 24 | 19u << 16) + 0xfffe; /* 198.19.255.254 */
	const uint32_t naddr = 130000; /* 198.18.0.1 .. 198.19.251.208 */

	for (uint32_t i = 0; i < n; i++) {
		/* (address, port) distinct: the port varies with i / naddr. */
		uint32_t a = (198u << 24 | 18u << 16) + 1 + i % naddr;
		uint16_t port =
			(uint16_t)(1024 + ((i / naddr) * 7919u + (i % naddr) * 31u) % 64000);
		packet(a, port, server, 80, (uint32_t)h64(i, 8), 0, TH_SYN, 64240, 1, 0);
	}
	fprintf(stderr, "mktrace: SYN flood, %u SYNs from distinct sources to 198.19.255.254:80\n",
		n);
	printf("packets=%llu conns=%u SF=0 RSTO=0 RSTR=0 REJ=0 S0=%u span_us=%llu\n",
	       (unsigned long long)npackets, n, n,
	       (unsigned long long)(npackets ? (npackets - 1) * gap_us : 0));
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mktrace [-n CONNS] [-k OPEN] [-p PKTS] [-g GAP_US] [-s SNAPLEN] [-S SEED] "
		"OUT\n"
		"       mktrace -F N [-g GAP_US] [-s SNAPLEN] [-S SEED] OUT   (SYN flood)\n");
	exit(2);
}

static uint32_t num(const char *s, uint32_t min, uint32_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "mktrace: bad number '%s' (%u..%u)\n", s, min, max);
		exit(2);
	}
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	uint32_t nconn = 200000, open = 10000, ppc = 25, flood = 0;
	int opt, gap_set = 0, rc;

	while ((opt = getopt(argc, argv, "n:k:p:g:s:S:F:h")) != -1) {
		switch (opt) {
		case 'n':
			nconn = num(optarg, 1, 60000u * 65000u / 2);
			break;
		case 'k':
			open = num(optarg, 1, 100000000);
			break;
		case 'p':
			ppc = num(optarg, 1, 60000);
			break;
		case 'g':
			gap_us = num(optarg, 0, 100000000);
			gap_set = 1;
			break;
		case 's':
			snaplen = num(optarg, 96, 65535);
			break;
		case 'S':
			seed = num(optarg, 0, 0xffffffffu);
			break;
		case 'F':
			flood = num(optarg, 1, 130000u * 64000u);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	out = fopen(argv[optind], "wb");
	if (!out)
		die(argv[optind]);
	static char buf[1 << 20];
	setvbuf(out, buf, _IOFBF, sizeof(buf));
	ts_us = 1700000000ull * 1000000;
	write_header();
	if (flood) {
		if (!gap_set)
			gap_us = 10;
		rc = flood_mode(flood);
	} else {
		rc = conn_mode(nconn, open, ppc);
	}
	if (fclose(out) != 0)
		die("close");
	return rc;
}
