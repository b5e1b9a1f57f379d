/*
 * countloop - the floor for reading a capture: a bare libpcap loop.
 *
 * usage: countloop [-t] FILE
 *
 * Without -t: pcap_open_offline and pcap_dispatch until the end, with a
 * callback that only counts packets.  Anything a pcap reader spends beyond
 * this is its own work.  Prints "packets N".
 *
 * With -t: also a naive connection table for reference.  Each packet is
 * decoded just enough (Ethernet, 802.1Q, IPv4 or IPv6 without extension
 * headers, TCP ports) to build a direction-independent 4-tuple key, which
 * goes into an open-addressing hash table (linear probing, doubled at half
 * full) of 40-byte keys plus a packet count.  Prints
 * "packets N tcp M conns C" (C: distinct 4-tuples).
 *
 * Built by bench/engine: cc -O2 -Wall -Wextra -Werror countloop.c -lpcap
 */
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../src/hash.h"

struct key {
	uint8_t a[16], b[16]; /* lower endpoint first */
	uint16_t pa, pb;
	uint8_t fam, used;
	uint8_t pad[2];
};

struct slot {
	struct key k;
	uint64_t pkts;
};

static struct {
	uint64_t packets, tcp;
	int table;
	int linktype;
	struct slot *t;
	size_t cap, n;
} g;

static uint64_t key_hash(const struct key *k)
{
	uint64_t w[4], h = (uint64_t)k->fam << 32 | (uint64_t)k->pa << 16 | k->pb;

	memcpy(w, k->a, 16);
	memcpy(w + 2, k->b, 16);
	for (int i = 0; i < 4; i++)
		h = hash_mix64(h ^ w[i]);
	return h;
}

static void grow(void);

static void insert(const struct key *k)
{
	if (2 * (g.n + 1) > g.cap)
		grow();
	size_t m = g.cap - 1, i = key_hash(k) & m;
	for (;; i = (i + 1) & m) {
		struct slot *s = &g.t[i];
		if (!s->k.used) {
			s->k = *k;
			s->k.used = 1;
			s->pkts = 1;
			g.n++;
			return;
		}
		if (memcmp(&s->k, k, offsetof(struct key, used)) == 0) {
			s->pkts++;
			return;
		}
	}
}

static void grow(void)
{
	size_t ocap = g.cap, cap = ocap ? ocap * 2 : 1 << 16;
	struct slot *old = g.t;

	g.t = calloc(cap, sizeof(*g.t));
	if (!g.t) {
		fprintf(stderr, "countloop: out of memory\n");
		exit(1);
	}
	g.cap = cap;
	g.n = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].k.used)
			continue;
		size_t m = cap - 1, j = key_hash(&old[i].k) & m;
		while (g.t[j].k.used)
			j = (j + 1) & m;
		g.t[j] = old[i];
		g.n++;
	}
	free(old);
}

static unsigned be16(const u_char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void track(const struct pcap_pkthdr *h, const u_char *p)
{
	uint32_t n = h->caplen, off = 0;
	unsigned type;
	struct key k;
	const u_char *sa, *da;
	int alen;

	if (g.linktype == DLT_EN10MB) {
		if (n < 14)
			return;
		type = be16(p + 12);
		off = 14;
		while ((type == 0x8100 || type == 0x88a8) && n >= off + 4) {
			type = be16(p + off + 2);
			off += 4;
		}
	} else {
		if (n < 1)
			return;
		type = (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
	}
	if (type == 0x0800) {
		if (n < off + 20 || p[off + 9] != 6)
			return;
		if ((be16(p + off + 6) & 0x1fff) != 0)
			return; /* not the first fragment */
		sa = p + off + 12, da = p + off + 16, alen = 4;
		off += (uint32_t)(p[off] & 0x0f) * 4;
	} else if (type == 0x86dd) {
		if (n < off + 40 || p[off + 6] != 6)
			return;
		sa = p + off + 8, da = p + off + 24, alen = 16;
		off += 40;
	} else {
		return;
	}
	if (n < off + 4)
		return;
	g.tcp++;
	memset(&k, 0, sizeof(k));
	k.fam = (uint8_t)alen;
	unsigned sp = be16(p + off), dp = be16(p + off + 2);
	int c = memcmp(sa, da, (size_t)alen);
	if (c < 0 || (c == 0 && sp <= dp)) {
		memcpy(k.a, sa, (size_t)alen), memcpy(k.b, da, (size_t)alen);
		k.pa = (uint16_t)sp, k.pb = (uint16_t)dp;
	} else {
		memcpy(k.a, da, (size_t)alen), memcpy(k.b, sa, (size_t)alen);
		k.pa = (uint16_t)dp, k.pb = (uint16_t)sp;
	}
	insert(&k);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)user;
	g.packets++;
	if (g.table)
		track(h, bytes);
}

int main(int argc, char **argv)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	int opt, n;

	while ((opt = getopt(argc, argv, "t")) != -1) {
		if (opt == 't')
			g.table = 1;
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	pcap_t *p = pcap_open_offline(argv[optind], ebuf);
	if (!p) {
		fprintf(stderr, "countloop: %s\n", ebuf);
		return 1;
	}
	g.linktype = pcap_datalink(p);
	if (g.table && g.linktype != DLT_EN10MB && g.linktype != DLT_RAW) {
		fprintf(stderr, "countloop: -t reads Ethernet or raw IP only\n");
		return 1;
	}
	while ((n = pcap_dispatch(p, -1, on_packet, NULL)) > 0)
		;
	if (n < 0) {
		fprintf(stderr, "countloop: %s\n", pcap_geterr(p));
		return 1;
	}
	pcap_close(p);
	if (g.table)
		printf("packets %llu tcp %llu conns %zu\n", (unsigned long long)g.packets,
		       (unsigned long long)g.tcp, g.n);
	else
		printf("packets %llu\n", (unsigned long long)g.packets);
	free(g.t);
	return 0;
usage:
	fprintf(stderr, "usage: countloop [-t] FILE\n");
	return 2;
}
