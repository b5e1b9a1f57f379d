/*
 * Unit tests: the ephemeral-port census on crafted socket rows (a server's
 * accepted sockets on a listening port inside the range are not ephemeral,
 * whichever address or wildcard the listener holds, in any dump order),
 * counted per source address and destination, in canonical form and
 * without a cap; top's ports line from it; and addr_canonical.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "addr.h"
#include "census.h"
#include "state.h"
#include "topmodel.h"
#include "topview.h"
#include "unit.h"

/* A listener; v6only as IPV6_V6ONLY (a [::] one without it holds the IPv4 port too). */
static struct sock_rec listener(const char *la, int lport, int v6only)
{
	struct sock_rec r = unit_sockrow(TS_LISTEN, la, lport, "*", 0);
	r.v6only = (uint8_t)v6only;
	return r;
}

static void add_all(struct census *c, const struct sock_rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK(census_add(c, &r[i], 0) == 0);
}

/*
 * A server on 27017, inside the range: its five accepted sockets are not
 * ephemeral ports, its five clients' sockets are.  The listener comes
 * last, as an IPv6 listener does after the IPv4 sockets of a dump.
 */
static void accepted_sockets_not_counted(void)
{
	struct sock_rec r[11];
	size_t n = 0;
	char port[8];

	for (int i = 0; i < 5; i++) {
		r[n++] = unit_sockrow(TS_ESTABLISHED, "127.0.0.1", 27017, "127.0.0.1", 40000 + i);
		r[n++] = unit_sockrow(i ? TS_ESTABLISHED : TS_TIME_WAIT, "127.0.0.1", 40000 + i,
				      "127.0.0.1", 27017);
	}
	r[n++] = listener("127.0.0.1", 27017, 0);
	struct census *c = census_new();
	CHECK(c != NULL);
	census_begin(c, 15000, 65000);
	add_all(c, r, n);
	CHECK(census_end(c) == 0);
	const struct census_totals *t = census_totals(c);
	CHECK(t->in_use == 5 && t->time_wait == 1 && t->dests == 1 && t->on_listen == 5);
	struct census_dest d[3];
	CHECK(census_busiest(c, d, 3) == 1);
	snprintf(port, sizeof(port), "%u", d[0].port);
	CHECK(d[0].family == AF_INET && d[0].in_use == 5 && d[0].time_wait == 1);
	CHECK_STR(port, "27017");

	/* The same sockets without the listener: all ten count (and a new count starts clean). */
	census_begin(c, 15000, 65000);
	add_all(c, r, n - 1);
	CHECK(census_end(c) == 0);
	CHECK(census_totals(c)->in_use == 10 && census_totals(c)->dests == 6);
	/* No range known: nothing counts. */
	census_begin(c, 0, 0);
	add_all(c, r, n);
	CHECK(census_end(c) == 0);
	CHECK(census_totals(c)->in_use == 0 && census_busiest(c, d, 3) == 0);
	census_free(c);
}

/* Which listener holds which local address: wildcards, IPV6_V6ONLY, mapped addresses. */
static void listener_addresses(void)
{
	static const struct {
		const char *laddr;
		int lport, counted;
	} cases[] = {
		{"198.18.0.1", 30000, 0},	 /* 0.0.0.0:30000 */
		{"::ffff:198.18.0.1", 30000, 0}, /* a dual-stack socket's IPv4 end, same port */
		{"198.18.0.1", 30001, 0},	 /* 198.18.0.1:30001 */
		{"198.18.0.2", 30001, 1},	 /* another address: the port is free there */
		{"::ffff:127.0.0.1", 30002, 0},	 /* [::]:30002, IPV6_V6ONLY off */
		{"127.0.0.1", 30002, 0},
		{"fd00::1", 30002, 0},
		{"fd00::1", 30003, 0}, /* [::]:30003, IPV6_V6ONLY on: IPv6 only */
		{"127.0.0.1", 30003, 1},
		{"::ffff:127.0.0.1", 30003, 1},
		{"198.18.0.1", 30004, 0}, /* [::ffff:198.18.0.1]:30004 */
		{"198.18.0.3", 30004, 1},
		{"fd00::2", 30005, 0}, /* [fd00::2]:30005 */
		{"fd00::3", 30005, 1},
		{"fd00::2", 30006, 1},	 /* 0.0.0.0:30006 holds no IPv6 address */
		{"127.0.0.1", 30007, 1}, /* no listener on the port */
	};
	struct sock_rec l[] = {
		listener("0.0.0.0", 30000, 0),
		listener("198.18.0.1", 30001, 0),
		listener("::", 30002, 0),
		listener("::", 30003, 1),
		listener("::ffff:198.18.0.1", 30004, 0),
		listener("fd00::2", 30005, 0),
		listener("0.0.0.0", 30006, 0),
		listener("127.0.0.1", 5000, 0),
	};
	struct census *c = census_new();

	CHECK(c != NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		census_begin(c, 15000, 65000);
		struct sock_rec r =
			unit_sockrow(TS_ESTABLISHED, cases[i].laddr, cases[i].lport,
				     strchr(cases[i].laddr, ':') ? "fd00::99" : "198.18.0.99", 443);
		if (strncmp(cases[i].laddr, "::ffff:", 7) == 0)
			addr_parse("::ffff:198.18.0.99", &(int){0}, r.raddr);
		CHECK(census_add(c, &r, 0) == 0);
		add_all(c, l, sizeof(l) / sizeof(l[0]));
		CHECK(census_end(c) == 0);
		const struct census_totals *t = census_totals(c);
		if (t->in_use != (uint64_t)cases[i].counted ||
		    t->on_listen != (uint64_t)!cases[i].counted) {
			printf("  %s:%d: counted %llu, on a listening port %llu\n", cases[i].laddr,
			       cases[i].lport, (unsigned long long)t->in_use,
			       (unsigned long long)t->on_listen);
			unit_failed = 1;
		}
	}
	/* Listeners are never counted, nor sockets outside the range. */
	census_begin(c, 15000, 65000);
	add_all(c, l, sizeof(l) / sizeof(l[0]));
	struct sock_rec out = unit_sockrow(TS_ESTABLISHED, "127.0.0.1", 14999, "127.0.0.1", 80);
	CHECK(census_add(c, &out, 0) == 0);
	CHECK(census_end(c) == 0);
	CHECK(census_totals(c)->in_use == 0 && census_totals(c)->on_listen == 0);
	census_free(c);
}

/*
 * ::ffff:198.18.0.9:443 (from a dual-stack socket) and 198.18.0.9:443 are
 * one destination.  And there is no cap: the busiest of 5,000
 * destinations is found when it comes last.
 */
static void destinations_canonical_and_uncapped(void)
{
	enum { DESTS = 5000 };
	static struct sock_rec r[DESTS + 4];
	size_t n = 0;
	struct census *c = census_new();

	CHECK(c != NULL);
	census_begin(c, 1024, 65535);
	r[n++] = unit_sockrow(TS_ESTABLISHED, "::ffff:198.18.0.1", 50000, "::ffff:198.18.0.9", 443);
	r[n++] = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 50001, "198.18.0.9", 443);
	add_all(c, r, n);
	CHECK(census_end(c) == 0);
	struct census_dest d[2];
	CHECK(census_busiest(c, d, 2) == 1 && d[0].family == AF_INET && d[0].in_use == 2);
	CHECK(d[0].addr[0] == 198 && d[0].addr[3] == 9 && d[0].addr[4] == 0 && d[0].addr[15] == 0);

	n = 0;
	for (int k = 0; k < DESTS; k++) {
		r[n] = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 2000 + k, "198.19.0.0", 443);
		r[n].raddr[2] = (uint8_t)(k >> 8);
		r[n].raddr[3] = (uint8_t)k;
		n++;
	}
	for (int j = 0; j < 3; j++) { /* the last destination gets three more */
		r[n] = r[DESTS - 1];
		r[n].lport = (uint16_t)(60000 + j);
		r[n].state = j ? TS_ESTABLISHED : TS_TIME_WAIT;
		n++;
	}
	census_begin(c, 1024, 65535);
	add_all(c, r, n);
	CHECK(census_end(c) == 0);
	CHECK(census_totals(c)->dests == DESTS && census_totals(c)->in_use == DESTS + 3);
	struct census_dest top[3];
	CHECK(census_busiest(c, top, 3) == 3);
	CHECK(top[0].in_use == 4 && top[0].time_wait == 1 &&
	      top[0].addr[2] == (uint8_t)((DESTS - 1) >> 8) &&
	      top[0].addr[3] == (uint8_t)(DESTS - 1));
	/* Ties in address order. */
	CHECK(top[1].in_use == 1 && top[1].addr[2] == 0 && top[1].addr[3] == 0);
	CHECK(top[2].in_use == 1 && top[2].addr[2] == 0 && top[2].addr[3] == 1);
	census_free(c);
}

/* "DEST from SRC N/TW" for a census entry, to compare with one string. */
static void pair_text(char *buf, size_t len, const struct census_dest *d)
{
	char a[ADDR_STRLEN], s[ADDR_STRLEN];

	addr_format_port(a, d->family, d->addr, d->port, 0);
	addr_format(s, d->src_family, d->src);
	snprintf(buf, len, "%s from %s %u/%u", a, s, d->in_use, d->time_wait);
}

/* Count rows and check the busiest pairs (all of them, want[] busiest first) and the totals. */
static void check_pairs(struct census *c, const struct sock_rec *r, size_t n,
			const char *const *want, size_t nwant, uint64_t dests, uint64_t sources)
{
	struct census_dest d[8];
	char got[128];

	census_begin(c, 15000, 65000);
	add_all(c, r, n);
	CHECK(census_end(c) == 0);
	size_t k = census_busiest(c, d, 8);
	CHECK(k == nwant);
	for (size_t i = 0; i < k && i < nwant; i++) {
		pair_text(got, sizeof(got), &d[i]);
		CHECK_STR(got, want[i]);
	}
	const struct census_totals *t = census_totals(c);
	CHECK(t->pairs == nwant && t->dests == dests && t->sources == sources);
	CHECK(t->in_use == n);
}

/*
 * The kernel's budget is per (source address, destination address,
 * destination port): two sources to one destination are two budgets, one
 * source to two destinations (even on one local port) two as well, and
 * ::ffff:a.b.c.d is a.b.c.d on either end.
 */
static void pairs_per_source_and_destination(void)
{
	struct census *c = census_new();
	CHECK(c != NULL);

	/* One destination, two source addresses: 3 and 2, not 5. */
	struct sock_rec two_src[] = {
		unit_sockrow(TS_ESTABLISHED, "198.18.0.2", 40000, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40000, "198.18.0.9", 443),
		unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 40001, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.2", 40001, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40002, "198.18.0.9", 443),
	};
	static const char *const two_src_want[] = {"198.18.0.9:443 from 198.18.0.1 3/1",
						   "198.18.0.9:443 from 198.18.0.2 2/0"};
	check_pairs(c, two_src, 5, two_src_want, 2, 1, 2);

	/* One source, three destinations (another port, another address); port 40000 twice. */
	struct sock_rec two_dst[] = {
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40000, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40000, "198.18.0.9", 80),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40001, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40002, "198.18.0.10", 443),
	};
	static const char *const two_dst_want[] = {"198.18.0.9:443 from 198.18.0.1 2/0",
						   "198.18.0.9:80 from 198.18.0.1 1/0",
						   "198.18.0.10:443 from 198.18.0.1 1/0"};
	check_pairs(c, two_dst, 4, two_dst_want, 3, 3, 1);

	/*
	 * A dual-stack socket's ends are IPv4: one pair with the IPv4
	 * socket's.  IPv6 sources are two budgets too; equal counts go in
	 * address order of the source.
	 */
	struct sock_rec mixed[] = {
		unit_sockrow(TS_ESTABLISHED, "::ffff:198.18.0.1", 40000, "::ffff:198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 40001, "198.18.0.9", 443),
		unit_sockrow(TS_ESTABLISHED, "fd00::2", 40000, "fd00::9", 443),
		unit_sockrow(TS_ESTABLISHED, "fd00::1", 40000, "fd00::9", 443),
	};
	static const char *const mixed_want[] = {"198.18.0.9:443 from 198.18.0.1 2/0",
						 "[fd00::9]:443 from fd00::1 1/0",
						 "[fd00::9]:443 from fd00::2 1/0"};
	check_pairs(c, mixed, 4, mixed_want, 3, 2, 3);
	struct census_dest d[1];
	CHECK(census_busiest(c, d, 1) == 1 && d[0].src_family == AF_INET);
	CHECK(d[0].src[3] == 1 && d[0].src[4] == 0 && d[0].src[15] == 0);
	census_free(c);
}

/* A crafted row for the model: lport in the range, from src to dst:443. */
static struct sock_rec model_row(const char *src, const char *dst, long lport)
{
	return unit_sockrow(TS_ESTABLISHED, src, (int)lport, dst, 443);
}

/*
 * top's ports line: with one source address the destination names the
 * budget, as before; with two, each pair says "from SRC" and the total
 * says how many source addresses share it.
 */
static void top_ports_line_names_sources(void)
{
	struct topmodel *m = topmodel_new();
	CHECK(m != NULL);
	if (!m)
		return;
	/*
	 * The range the model reads: an empty refresh says which.  Every
	 * refresh is at one time, so no rate and no "full in".
	 */
	CHECK(unit_top_refresh(m, NULL, 0, 1000000, NULL) == 0);
	long lo = topmodel_stats(m)->port_lo, hi = topmodel_stats(m)->port_hi;
	if (lo <= 0 || hi - lo < 10) {
		printf("  no usable ip_local_port_range (%ld-%ld); nothing to check\n", lo, hi);
		unit_failed = 1;
		topmodel_free(m);
		return;
	}
	struct sock_rec r[5] = {
		model_row("198.18.0.1", "198.18.0.9", lo),
		model_row("198.18.0.1", "198.18.0.9", lo + 1),
		model_row("198.18.0.1", "198.18.0.9", lo + 2),
		model_row("198.18.0.2", "198.18.0.9", lo),
		model_row("198.18.0.2", "198.18.0.9", lo + 1),
	};
	struct topview_header h;
	char lines[12][TOPVIEW_HDR_LINE], want[2][256];
	long range = hi - lo + 1;

	memset(&h, 0, sizeof(h));
	h.wire_note = "no capture";
	snprintf(want[0], sizeof(want[0]),
		 "Ephemeral ports: busiest 198.18.0.9:443 3 of %ld (%.0f%%); 3 in use to 1 "
		 "destination",
		 range, 300.0 / (double)range);
	snprintf(want[1], sizeof(want[1]),
		 "Ephemeral ports: busiest 198.18.0.9:443 from 198.18.0.1 3 of %ld (%.0f%%); 5 in "
		 "use to 1 destination from 2 source addresses; next 198.18.0.9:443 from "
		 "198.18.0.2 2 (%.0f%%)",
		 range, 300.0 / (double)range, 200.0 / (double)range);
	for (int two = 0; two < 2; two++) {
		CHECK(unit_top_refresh(m, r, two ? 5 : 3, 1000000, NULL) == 0);
		const struct top_stats *st = topmodel_stats(m);
		CHECK(st->port_lo == lo && st->ephemeral_srcs == (uint32_t)(two + 1));
		int n = topview_header(st, &h, lines, 12, 200, 0), found = 0;
		for (int i = 0; i < n; i++)
			if (strncmp(lines[i], "Ephemeral ports:", 16) == 0) {
				CHECK_STR(lines[i], want[two]);
				found = 1;
			}
		CHECK(found);
	}
	topmodel_free(m);
}

static void addr_canonical_form(void)
{
	uint8_t a[16], out[16];
	int fam;
	char buf[ADDR_STRLEN];

	CHECK(addr_parse("::ffff:127.0.0.1", &fam, a) == 0 && fam == AF_INET6);
	CHECK(addr_v4mapped(fam, a));
	CHECK(addr_canonical(fam, a, out) == AF_INET);
	addr_format(buf, AF_INET, out);
	CHECK_STR(buf, "127.0.0.1");
	CHECK(out[4] == 0 && out[15] == 0);
	/* In place. */
	CHECK(addr_canonical(fam, a, a) == AF_INET && memcmp(a, out, 16) == 0);
	/* Not mapped: as it was. */
	CHECK(addr_parse("fd00::ffff:7f00:1", &fam, a) == 0);
	CHECK(!addr_v4mapped(fam, a) && addr_canonical(fam, a, out) == AF_INET6);
	CHECK(memcmp(a, out, 16) == 0);
	CHECK(addr_parse("::127.0.0.1", &fam, a) == 0 &&
	      !addr_v4mapped(fam, a)); /* compatible, not mapped */
	/* IPv4: whatever follows the first word is dropped. */
	memset(a, 0xee, 16);
	a[0] = 10, a[1] = 0, a[2] = 0, a[3] = 1;
	CHECK(addr_canonical(AF_INET, a, out) == AF_INET && out[3] == 1 && out[4] == 0);
	CHECK(!addr_v4mapped(AF_INET, a));
	/* Wildcards. */
	CHECK(addr_parse("::", &fam, a) == 0 && addr_any(fam, a));
	CHECK(addr_parse("0.0.0.0", &fam, a) == 0 && addr_any(fam, a));
	CHECK(addr_parse("::1", &fam, a) == 0 && !addr_any(fam, a));
}

const struct unit_test census_tests[] = {
	{"census: accepted sockets on a listening port in the range are not ephemeral",
	 accepted_sockets_not_counted},
	{"census: listener addresses, wildcards and IPV6_V6ONLY", listener_addresses},
	{"census: destinations in canonical form, no cap", destinations_canonical_and_uncapped},
	{"census: per source address and destination", pairs_per_source_and_destination},
	{"census: top's ports line names the source when there are several",
	 top_ports_line_names_sources},
	{"addr: ::ffff:a.b.c.d is a.b.c.d (addr_canonical)", addr_canonical_form},
	{NULL, NULL},
};
