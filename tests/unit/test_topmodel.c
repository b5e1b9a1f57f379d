/*
 * Unit tests: top's model without a screen: the bounded-heap view equals a
 * full sort at any offset, the rank used to follow the cursor agrees with
 * it, and a socket keeps the time it entered its state across refreshes;
 * the prepare step, the groups, the view's column table, and the frames of
 * top -b --json (topjson.c).
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "segment.h"
#include "topjson.h"
#include "topmodel.h"
#include "topview.h"
#include "unit.h"

/* A refresh as top makes one (cmd_top.c): the dump's sockets one at a time, then the end. */
int unit_top_refresh(struct topmodel *m, const struct sock_rec *r, size_t n, uint64_t now_us,
		     const char *procroot)
{
	topmodel_begin(m, now_us);
	for (size_t i = 0; i < n; i++)
		if (topmodel_add(m, &r[i]) < 0) {
			topmodel_abort(m);
			return -1;
		}
	topmodel_end(m, 0, procroot);
	return 0;
}

static void rows(struct sock_rec *r, int n, uint32_t seed, int state_shift)
{
	memset(r, 0, sizeof(*r) * (size_t)n);
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		r[i].family = AF_INET;
		r[i].state = (uint8_t)(1 + (i + state_shift) % 11);
		r[i].laddr[0] = 198;
		r[i].laddr[1] = 18;
		r[i].laddr[3] = (uint8_t)(i % 7);
		r[i].raddr[0] = 198;
		r[i].raddr[1] = 19;
		r[i].raddr[3] = (uint8_t)(seed >> 24);
		r[i].lport = (uint16_t)(1000 + i);
		r[i].rport = (uint16_t)(seed >> 8);
		r[i].recv_q = (seed >> 4) % 50;
		r[i].send_q = (seed >> 12) % 50;
	}
}

/* n rows, all ESTABLISHED, with inodes 1000, 1001, ... (owned through fake_owner). */
static void established_rows(struct sock_rec *r, int n, uint32_t seed)
{
	rows(r, n, seed, 0);
	for (int i = 0; i < n; i++) {
		r[i].state = TS_ESTABLISHED;
		r[i].inode = (uint32_t)(1000 + i);
	}
}

static void view_rank_and_memory(void)
{
	enum { N = 300 };
	struct sock_rec r[N];
	struct topmodel *m = topmodel_new();
	uint32_t all[N], part[N];
	size_t matching;

	CHECK(m != NULL);
	rows(r, N, 7, 0);
	CHECK(unit_top_refresh(m, r, N, 1000000, NULL) == 0);
	/* The second refresh, 5 s later: a third of the sockets changed state. */
	for (int i = 0; i < N; i += 3)
		r[i].state = (uint8_t)(r[i].state % 11 + 1);
	CHECK(unit_top_refresh(m, r, N, 6000000, NULL) == 0);
	for (size_t i = 0; i < topmodel_nrows(m); i++) {
		const struct top_row *row = topmodel_row(m, i);
		uint64_t want = i % 3 == 0 ? 6000000 : 1000000;
		if (row->since_us != want || topmodel_age(m, row) != 6000000 - want) {
			printf("  row %zu: since %llu age %llu\n", i,
			       (unsigned long long)row->since_us,
			       (unsigned long long)topmodel_age(m, row));
			unit_failed = 1;
			break;
		}
	}
	for (int sort = 0; sort < SORT_MAX; sort++) {
		for (int rev = 0; rev < 2; rev++) {
			size_t n = topmodel_view(m, SM_ALL, NULL, (enum top_sort)sort, rev, 0, N,
						 all, &matching);
			CHECK(n == N && matching == N);
			/* A window anywhere equals the same slice of the full order. */
			for (size_t first = 0; first < N; first += 37) {
				size_t k = topmodel_view(m, SM_ALL, NULL, (enum top_sort)sort, rev,
							 first, 25, part, &matching);
				size_t want = N - first < 25 ? N - first : 25;
				CHECK(k == want &&
				      memcmp(part, all + first, k * sizeof(*part)) == 0);
			}
			/* The rank of every row is its place in the order. */
			for (size_t pos = 0; pos < N; pos += 11) {
				size_t rank = topmodel_rank(m, SM_ALL, NULL, (enum top_sort)sort,
							    rev, all[pos]);
				if (rank != pos) {
					printf("  sort %d rev %d: row at %zu has rank %zu\n", sort,
					       rev, pos, rank);
					unit_failed = 1;
				}
			}
		}
	}
	/* A state mask narrows the view and the ranks. */
	size_t n = topmodel_view(m, SM(TS_ESTABLISHED), NULL, SORT_LOCAL, 0, 0, N, all, &matching);
	CHECK(n == matching && n > 0 && n < N);
	for (size_t pos = 0; pos < n; pos++)
		CHECK(topmodel_row(m, all[pos])->s.state == TS_ESTABLISHED);
	CHECK(topmodel_rank(m, SM(TS_ESTABLISHED), NULL, SORT_LOCAL, 0, all[n - 1]) == n - 1);
	topmodel_free(m);
}

/*
 * The join with the last refresh follows the kernel's dump order with a
 * cursor and falls back to a hash index: whatever the order of the second
 * dump (the same, reversed, with sockets gone and new ones, with duplicate
 * tuples), every socket must find its own past.
 */
static char proc_root[] = "/tmp/tcpstate-topmodel-XXXXXX";

static void fake_owner(int n)
{
	char p[256];
	strcpy(proc_root, "/tmp/tcpstate-topmodel-XXXXXX");
	CHECK(mkdtemp(proc_root) != NULL);
	snprintf(p, sizeof(p), "%s/self", proc_root); /* what a mounted /proc has */
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/4242", proc_root);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/4242/fd", proc_root);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/4242/comm", proc_root);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("holder\n", f);
		fclose(f);
	}
	for (int i = 0; i < n; i++) {
		char target[64];
		snprintf(p, sizeof(p), "%s/4242/fd/%d", proc_root, i + 3);
		snprintf(target, sizeof(target), "socket:[%d]", 1000 + i);
		CHECK(symlink(target, p) == 0);
	}
}

static void rm_fake_owner(int n)
{
	char p[256];
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/4242/fd/%d", proc_root, i + 3);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/4242/comm", proc_root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/4242/fd", proc_root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/4242", proc_root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/self", proc_root);
	rmdir(p);
	rmdir(proc_root);
}

/* The row for lport, or NULL. */
static const struct top_row *by_lport(const struct topmodel *m, uint16_t lport)
{
	for (size_t i = 0; i < topmodel_nrows(m); i++)
		if (topmodel_row(m, i)->s.lport == lport)
			return topmodel_row(m, i);
	return NULL;
}

static void join_follows_any_order(void)
{
	enum { N = 400 };
	static struct sock_rec a[N], b[N + 50];
	struct topmodel *m = topmodel_new();

	CHECK(m != NULL);
	fake_owner(N);
	established_rows(a, N, 11);
	/* Two listeners on one tuple (SO_REUSEPORT): duplicates in one dump. */
	a[N - 1] = a[N - 2];
	a[N - 1].inode = (uint32_t)(1000 + N - 1);
	CHECK(unit_top_refresh(m, a, N, 1000000, proc_root) == 0);
	CHECK(topmodel_stats(m)->count[TS_ESTABLISHED] == N);
	CHECK(by_lport(m, a[5].lport)->pid == 4242);

	for (int round = 0; round < 3; round++) {
		/*
		 * round 0: the same order; 1: reversed; 2: a block of 40 gone,
		 * 50 new ones in the middle.  Each time the sockets with i % 5 == 0
		 * move to TIME-WAIT, which has no owner in the kernel.
		 */
		int nb = 0;
		for (int i = 0; i < N; i++) {
			int j = round == 1 ? N - 1 - i : i;
			if (round == 2 && j >= 100 && j < 140)
				continue;
			if (round == 2 && j == 200)
				for (int k = 0; k < 50; k++) {
					b[nb] = a[0];
					b[nb].lport = (uint16_t)(30000 + k);
					b[nb].inode = 0;
					nb++;
				}
			b[nb] = a[j];
			if (j % 5 == 0 && j < N - 2) {
				b[nb].state = TS_TIME_WAIT;
				b[nb].inode = 0;
			}
			nb++;
		}
		uint64_t now = 2000000 + (uint64_t)round * 1000000;
		CHECK(unit_top_refresh(m, b, (size_t)nb, now, NULL) == 0);
		CHECK(topmodel_nrows(m) == (size_t)nb);
		int bad = 0;
		for (int i = 0; i < N - 2; i++) {
			const struct top_row *r = by_lport(m, a[i].lport);
			if (round == 2 && i >= 100 && i < 140) {
				bad += r != NULL;
				continue;
			}
			uint64_t since = i % 5 == 0 ? 2000000 : 1000000;
			bad += !r || r->since_us != since || topmodel_age(m, r) != now - since ||
			       r->pid != 4242 || strcmp(r->comm, "holder") != 0 ||
			       r->remembered != (i % 5 == 0) || r->is_new;
			if (r && bad == 1 && (r->since_us != since || r->pid != 4242)) {
				printf("  round %d socket %d: since %llu pid %d\n", round, i,
				       (unsigned long long)r->since_us, (int)r->pid);
				bad++;
			}
		}
		CHECK(bad == 0);
		if (round == 2) {
			const struct top_row *r = by_lport(m, 30000);
			CHECK(r && r->is_new && r->since_us == now && r->pid == 0);
		}
		CHECK(topmodel_stats(m)->count[TS_TIME_WAIT] == (round == 2 ? 72u : 80u));
	}
	/*
	 * The same dump again, then with 700 sockets more at its end: the rows
	 * are updated in place, and the table grows past its first allocation
	 * while the last refresh's rows are the same array.
	 */
	enum { MORE = 700 };
	static struct sock_rec c[N + 50 + MORE];
	size_t nc = topmodel_nrows(m);
	for (size_t i = 0; i < nc; i++)
		c[i] = topmodel_row(m, i)->s;
	CHECK(unit_top_refresh(m, c, nc, 6000000, NULL) == 0);
	for (int k = 0; k < MORE; k++) {
		c[nc + (size_t)k] = a[1];
		c[nc + (size_t)k].lport = (uint16_t)(40000 + k);
		c[nc + (size_t)k].inode = 0;
	}
	CHECK(unit_top_refresh(m, c, nc + MORE, 7000000, NULL) == 0);
	CHECK(topmodel_nrows(m) == nc + MORE);
	const struct top_row *r = by_lport(m, a[7].lport);
	CHECK(r && r->since_us == 1000000 && r->pid == 4242 && !r->is_new &&
	      topmodel_age(m, r) == 6000000);
	r = by_lport(m, 40000 + MORE - 1);
	CHECK(r && r->is_new && r->since_us == 7000000 && topmodel_age(m, r) == 0);
	r = by_lport(m, 30000);
	CHECK(r && !r->is_new && r->since_us == 4000000);
	topmodel_free(m);
	rm_fake_owner(N);
}

/*
 * Sockets a new kernel filter lets in were there before: after
 * topmodel_rebase they are not new connections (which would feed the
 * census's connection rate), their ages stay lower bounds, and the state
 * history starts again.  Without it
 * they are new, as sockets that appear between two refreshes are.
 */
static void rebase_takes_next_refresh_as_first(void)
{
	struct topmodel *m = topmodel_new();
	struct sock_rec s[3];

	for (int i = 0; i < 3; i++)
		s[i] = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 41000 + i, "198.18.0.2", 443);
	CHECK(m && unit_top_refresh(m, s, 1, 1000000, NULL) == 0);
	CHECK(unit_top_refresh(m, s, 2, 2000000, NULL) == 0);
	const struct top_row *r = by_lport(m, 41001);
	CHECK(r && r->is_new); /* appeared between refreshes: a new connection */
	CHECK(topmodel_stats(m)->nhistory == 2);
	topmodel_rebase(m);
	CHECK(unit_top_refresh(m, s, 3, 3000000, NULL) == 0);
	/* The history starts again: it counted other sockets before. */
	CHECK(topmodel_stats(m)->nhistory == 1 &&
	      topmodel_stats(m)->history[TS_ESTABLISHED][0] == 3);
	r = by_lport(m, 41002);
	CHECK(r && !r->is_new && !r->since_exact);
	r = by_lport(m, 41001);
	CHECK(r && !r->is_new && r->since_us == 2000000); /* known rows keep their age */
	/* Only the one refresh: a socket after it is new again. */
	s[2].lport = 41003;
	CHECK(unit_top_refresh(m, s, 3, 4000000, NULL) == 0);
	r = by_lport(m, 41003);
	CHECK(r && r->is_new);
	topmodel_free(m);
}

/*
 * An owner carries over to the same socket and to the TIME-WAIT socket
 * that follows it, not to a new socket that reuses the tuple.
 */
static void owner_not_carried_to_a_new_socket(void)
{
	enum { N = 3 };
	struct sock_rec a[N];
	struct topmodel *m = topmodel_new();

	CHECK(m != NULL);
	fake_owner(N);
	established_rows(a, N, 5);
	CHECK(unit_top_refresh(m, a, N, 1000000, proc_root) == 0);
	CHECK(by_lport(m, a[0].lport)->pid == 4242 && by_lport(m, a[1].lport)->pid == 4242);
	a[0].state = TS_TIME_WAIT; /* the same connection, closed: no inode */
	a[0].inode = 0;
	a[1].inode = 777777; /* a new socket on the same tuple, owner unknown */
	/* No /proc this time: what is shown comes from memory only. */
	CHECK(unit_top_refresh(m, a, N, 2000000, NULL) == 0);
	const struct top_row *r = by_lport(m, a[0].lport);
	CHECK(r && r->pid == 4242 && r->remembered);
	r = by_lport(m, a[1].lport);
	CHECK(r && r->pid == 0 && !r->has_owner);
	r = by_lport(m, a[2].lport);
	CHECK(r && r->pid == 4242 && !r->remembered);
	/* A listener's all-zero tcp_info is dropped: it reads the same either way. */
	a[2].state = TS_LISTEN;
	a[2].has_info = 1;
	a[2].info.rtt_us = 5;
	CHECK(unit_top_refresh(m, a, N, 3000000, NULL) == 0);
	r = by_lport(m, a[2].lport);
	CHECK(r && !r->s.has_info && r->s.info.rtt_us == 0);
	topmodel_free(m);
	rm_fake_owner(N);
}

/*
 * Ephemeral ports per destination: 300 destinations (the table grows and
 * rehashes several times), destination k holding k % 7 + 1 sockets; the
 * busiest three come out in order, ties in address order.
 */
static void busiest_destinations(void)
{
	long lo = -1, hi = -1;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (!f || fscanf(f, "%ld %ld", &lo, &hi) != 2 || hi - lo < 3000) {
		if (f)
			fclose(f);
		printf("  no usable ip_local_port_range; nothing to check\n");
		unit_failed = 1;
		return;
	}
	fclose(f);
	enum { DESTS = 300 };
	static struct sock_rec r[DESTS * 7];
	size_t n = 0, want = 0;
	memset(r, 0, sizeof(r));
	for (int k = 0; k < DESTS; k++)
		for (int j = 0; j < k % 7 + 1; j++) {
			struct sock_rec *x = &r[n++];
			x->family = AF_INET;
			x->state = TS_ESTABLISHED;
			x->laddr[0] = 198, x->laddr[1] = 18, x->laddr[3] = 1;
			x->raddr[0] = 198, x->raddr[1] = 19;
			x->raddr[2] = (uint8_t)(k >> 8), x->raddr[3] = (uint8_t)k;
			x->rport = 443;
			x->lport = (uint16_t)(lo + (long)n);
			want++;
		}
	struct topmodel *m = topmodel_new();
	CHECK(m != NULL && unit_top_refresh(m, r, n, 1000000, NULL) == 0);
	const struct top_stats *st = topmodel_stats(m);
	CHECK(st->ephemeral_in_use == want);
	CHECK(st->ndest == 3);
	/* Seven sockets: k = 6, 13, 20, ...; the first three by address. */
	for (int d = 0; d < st->ndest && d < 3; d++) {
		int k = 6 + 7 * d;
		CHECK(st->dest[d].in_use == 7 && st->dest[d].port == 443 &&
		      st->dest[d].addr[2] == (uint8_t)(k >> 8) &&
		      st->dest[d].addr[3] == (uint8_t)k);
	}
	topmodel_free(m);
}

/*
 * A window far past the end, as top's End key asks for (first near
 * SIZE_MAX / 2), or one whose first + max or (first + max) * 4 passes
 * SIZE_MAX: nothing is shown and nothing is written past out[max].  A
 * window without an end (max = SIZE_MAX) shows the rest of the order.
 */
static void view_huge_window(void)
{
	enum { N = 300, GUARD = 4 };
	static const struct {
		size_t first, max;
	} empty[] = {
		{(size_t)-1 / 2 - 3, 8}, /* End: cursor (size_t)-1/2, less the rows, plus one */
		{(size_t)-1 / 4 + 1, 8}, /* (first + max) * 4 wraps to a small size */
		{(size_t)-1 - 3, 8},	 /* first + max wraps */
		{(size_t)-1, (size_t)-1}, {N, 8},
	};
	struct sock_rec r[N];
	struct topmodel *m = topmodel_new();
	uint32_t all[N], out[N + GUARD];
	size_t matching;

	CHECK(m != NULL);
	rows(r, N, 3, 0);
	CHECK(unit_top_refresh(m, r, N, 1000000, NULL) == 0);
	CHECK(topmodel_view(m, SM_ALL, NULL, SORT_LOCAL, 0, 0, N, all, &matching) == N);
	for (size_t c = 0; c < sizeof(empty) / sizeof(empty[0]); c++) {
		for (size_t i = 0; i < N + GUARD; i++)
			out[i] = 0xdeadbeef;
		matching = 0;
		size_t n = topmodel_view(m, SM_ALL, NULL, SORT_LOCAL, 0, empty[c].first,
					 empty[c].max, out, &matching);
		int untouched = 1;
		for (size_t i = 0; i < N + GUARD; i++)
			untouched &= out[i] == 0xdeadbeef;
		if (n != 0 || matching != N || !untouched) {
			printf("  first %zu max %zu: %zu rows, %zu matching, out %s\n",
			       empty[c].first, empty[c].max, n, matching,
			       untouched ? "untouched" : "written");
			unit_failed = 1;
		}
	}
	/* No end to the window: from first to the last row, with the heap or the full sort. */
	for (size_t first = 0; first < N; first += 60) {
		size_t n = topmodel_view(m, SM_ALL, NULL, SORT_LOCAL, 0, first, (size_t)-1, out,
					 &matching);
		CHECK(n == N - first && matching == N &&
		      memcmp(out, all + first, n * sizeof(*out)) == 0);
		n = topmodel_view(m, SM_ALL, NULL, SORT_LOCAL, 0, first, (size_t)-1 / 2 + 1, out,
				  &matching);
		CHECK(n == N - first && memcmp(out, all + first, n * sizeof(*out)) == 0);
	}
	topmodel_free(m);
}

/*
 * A refresh with a single socket, then one whose first socket is another:
 * the copy the second refresh switches to was made for one row, and must
 * still grow row by row (it once grew by half of one, that is by none).
 */
static void one_socket_then_more(void)
{
	struct sock_rec one, more[5];
	struct topmodel *m = topmodel_new();

	CHECK(m != NULL);
	memset(&one, 0, sizeof(one));
	one.family = AF_INET6; /* a listener on [::1]:5000 */
	one.state = TS_LISTEN;
	one.laddr[15] = 1;
	one.lport = 5000;
	rows(more, 5, 9, 0);
	for (int i = 0; i < 5; i++)
		more[i].state = TS_LISTEN;
	for (int round = 0; round < 2; round++) {
		CHECK(unit_top_refresh(m, &one, 1, 1000000 + 2000000 * (uint64_t)round, NULL) == 0);
		CHECK(topmodel_nrows(m) == 1 && topmodel_row(m, 0)->s.lport == 5000);
		CHECK(unit_top_refresh(m, more, 5, 2000000 + 2000000 * (uint64_t)round, NULL) == 0);
		CHECK(topmodel_nrows(m) == 5);
		for (int i = 0; i < 5; i++)
			CHECK(by_lport(m, more[i].lport) != NULL);
		CHECK(topmodel_stats(m)->count[TS_LISTEN] == 5);
	}
	topmodel_free(m);
}

/* One IPv4 segment from (a, pa) to (b, pb) into the engine. */
static void wire_seg(struct engine *e, uint64_t t, const char *a, int pa, const char *b, int pb,
		     int flags, uint32_t seq, uint32_t ack)
{
	struct segment s;
	int fam;

	memset(&s, 0, sizeof(s));
	s.ts_us = t;
	addr_parse(a, &fam, s.saddr);
	addr_parse(b, &fam, s.daddr);
	s.family = (uint8_t)fam;
	s.sport = (uint16_t)pa;
	s.dport = (uint16_t)pb;
	s.flags = (uint8_t)flags;
	s.seq = seq;
	s.ack = ack;
	s.win = 65535;
	s.csum = -1;
	engine_input(e, &s);
}

/*
 * A dual-stack server ([::]:7000, IPV6_V6ONLY off) accepts IPv4 clients:
 * the kernel shows [::ffff:198.18.0.1]:7000, the wire 198.18.0.1:7000.
 * They are one connection: the row gets the wire's states, and the wire's
 * connection makes no "(wire only)" row of its own.
 */
static void join_dual_stack(void)
{
	struct engine_config cfg;
	struct engine_hooks hooks = {NULL, NULL, NULL};
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, &hooks);
	uint64_t t = 1700000000000000ull;

	CHECK(e != NULL);
	/* Two IPv4 clients of the dual-stack server, handshakes seen whole. */
	wire_seg(e, t, "198.18.0.2", 40000, "198.18.0.1", 7000, TH_SYN, 100, 0);
	wire_seg(e, t + 10, "198.18.0.1", 7000, "198.18.0.2", 40000, TH_SYN | TH_ACK, 500, 101);
	wire_seg(e, t + 20, "198.18.0.2", 40000, "198.18.0.1", 7000, TH_ACK, 101, 501);
	wire_seg(e, t + 30, "198.18.0.2", 40001, "198.18.0.1", 7000, TH_SYN, 100, 0);
	wire_seg(e, t + 40, "198.18.0.1", 7000, "198.18.0.2", 40001, TH_SYN | TH_ACK, 900, 101);
	wire_seg(e, t + 50, "198.18.0.2", 40001, "198.18.0.1", 7000, TH_ACK, 101, 901);
	/* And a native IPv6 connection, which must still join as before. */
	wire_seg(e, t + 60, "fd00::2", 40002, "fd00::1", 7000, TH_SYN, 100, 0);
	wire_seg(e, t + 70, "fd00::1", 7000, "fd00::2", 40002, TH_SYN | TH_ACK, 700, 101);
	wire_seg(e, t + 80, "fd00::2", 40002, "fd00::1", 7000, TH_ACK, 101, 701);

	struct sock_rec k[] = {
		unit_sockrow(TS_LISTEN, "::", 7000, "::", 0),
		unit_sockrow(TS_ESTABLISHED, "::ffff:198.18.0.1", 7000, "::ffff:198.18.0.2", 40000),
		unit_sockrow(TS_ESTABLISHED, "::ffff:198.18.0.1", 7000, "::ffff:198.18.0.2", 40001),
		unit_sockrow(TS_ESTABLISHED, "fd00::1", 7000, "fd00::2", 40002),
	};
	struct topmodel *m = topmodel_new();
	CHECK(m != NULL);
	CHECK(unit_top_refresh(m, k, 4, t + 1000000, NULL) == 0);
	topmodel_join(m, e, t + 3000000);
	CHECK(topmodel_nrows(m) == 4); /* no "(wire only)" rows */
	int joined = 0;
	for (size_t i = 0; i < topmodel_nrows(m); i++) {
		const struct top_row *r = topmodel_row(m, i);
		CHECK(!r->wire_only);
		if (r->wire_only || r->s.state != TS_ESTABLISHED)
			continue;
		joined += r->conn_id != 0 && r->wire[0] == TS_ESTABLISHED &&
			  r->wire[1] == TS_ESTABLISHED && r->since_exact;
		/* The kernel's addresses stay as the kernel gave them. */
		CHECK(r->s.family == AF_INET6);
	}
	CHECK(joined == 3);
	topmodel_free(m);
	engine_free(e);
}

/*
 * A connection established while a refresh's dump ran: the refresh's time,
 * taken before the dump, is earlier than the handshake the capture saw.
 * The capture's time is the state's start all the same, exact, at that
 * refresh's join and at the next one's; the table once marked the age as a
 * lower bound, and too long, for as long as the connection lasted.
 */
static void join_handshake_during_dump(void)
{
	struct engine_config cfg;
	struct engine_hooks hooks = {NULL, NULL, NULL};
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, &hooks);
	struct topmodel *m = topmodel_new();
	uint64_t t = 1700000000000000ull; /* the refresh's time: the dump starts */
	struct sock_rec k = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 7000, "198.18.0.2", 40000);

	CHECK(e && m);
	if (!e || !m)
		goto out;
	CHECK(unit_top_refresh(m, &k, 1, t, NULL) == 0); /* the dump finds it ESTABLISHED */
	/* The handshake, 2 ms after the dump began, captured then. */
	wire_seg(e, t + 2000, "198.18.0.2", 40000, "198.18.0.1", 7000, TH_SYN, 100, 0);
	wire_seg(e, t + 2010, "198.18.0.1", 7000, "198.18.0.2", 40000, TH_SYN | TH_ACK, 500, 101);
	wire_seg(e, t + 2020, "198.18.0.2", 40000, "198.18.0.1", 7000, TH_ACK, 101, 501);
	for (int round = 0; round < 2; round++) {
		uint64_t now = t + (uint64_t)round * 1000000;
		if (round)
			CHECK(unit_top_refresh(m, &k, 1, now, NULL) == 0);
		topmodel_join(m, e, now);
		const struct top_row *r = topmodel_row(m, 0);
		CHECK(r->wire[0] == TS_ESTABLISHED && !r->wire_unsure);
		CHECK(r->since_exact && r->since_us == t + 2020);
		CHECK(topmodel_age(m, r) == (round ? 1000000 - 2020 : 0));
	}
out:
	topmodel_free(m);
	engine_free(e);
}

/*
 * A row marked '?' (either end's wire state a guess) never gets the '!'
 * of a disagreement: a connection picked up mid-stream whose local end
 * then sends an RST the kernel ignores reads CLOSED (sure: a CLOSED end is
 * never a guess) beside a guessed ESTABLISHED peer.  Once the '!' looked
 * only at the local end and the row read "CLOSED/ESTAB!?".
 */
static void no_disagreement_on_a_guess(void)
{
	struct engine_config cfg;
	struct engine_hooks hooks = {NULL, NULL, NULL};
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, &hooks);
	struct topmodel *m = topmodel_new();
	uint64_t t = 1700000000000000ull;
	struct sock_rec k = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 7001, "198.18.0.2", 42814);

	CHECK(e && m);
	if (!e || !m)
		goto out;
	/* Mid-stream: no handshake, one ACK each way, then an RST from the local end, out of the
	 * window. */
	wire_seg(e, t, "198.18.0.1", 7001, "198.18.0.2", 42814, TH_ACK, 1000, 2000);
	wire_seg(e, t + 10, "198.18.0.2", 42814, "198.18.0.1", 7001, TH_ACK, 2000, 1000);
	wire_seg(e, t + 20, "198.18.0.1", 7001, "198.18.0.2", 42814, TH_RST, 5000000, 0);
	/* Two refreshes: a disagreement is flagged once it has lasted a second. */
	for (uint64_t now = t + 1000000; now <= t + 3000000; now += 2000000) {
		CHECK(unit_top_refresh(m, &k, 1, now, NULL) == 0);
		topmodel_join(m, e, now);
	}
	const struct top_row *r = topmodel_row(m, 0);
	CHECK(r->conn_id != 0 && r->wire[0] == TS_CLOSE && r->wire_unsure);
	CHECK(!r->disagree);
out:
	topmodel_free(m);
	engine_free(e);
}

/* The prepare step's fetch: records what the model asked for. */
struct asked {
	int calls;
	size_t n;
	uint16_t lport[8];
};

static void count_fetch(struct sock_rec **need, size_t n, void *arg)
{
	struct asked *a = arg;

	a->calls++;
	for (size_t i = 0; i < n; i++) {
		if (a->n < 8)
			a->lport[a->n] = need[i]->lport;
		a->n++;
		need[i]->has_info = 1; /* as sockdiag_info fills it in */
		need[i]->info.rtt_us = 1234;
	}
}

/*
 * topmodel_prepare asks for tcp_info only for shown rows that can have it
 * and lack it (not TIME-WAIT, a request socket or a listener), once.
 */
static void prepare_asks_for_what_is_missing(void)
{
	struct sock_rec k[] = {
		unit_sockrow(TS_LISTEN, "198.18.0.1", 1, "0.0.0.0", 0),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 2, "198.18.0.2", 40000),
		unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 3, "198.18.0.2", 40001),
		unit_sockrow(TS_SYN_RECV, "198.18.0.1", 4, "198.18.0.2", 40002),
		unit_sockrow(TS_CLOSE_WAIT, "198.18.0.1", 5, "198.18.0.2", 40003),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 6, "198.18.0.2", 40004),
	};
	struct topmodel *m = topmodel_new();
	struct asked a;
	uint32_t idx[6];
	size_t matching;

	k[5].has_info = 1; /* the dump brought it */
	CHECK(m != NULL && unit_top_refresh(m, k, 6, 1000000, NULL) == 0);
	size_t n = topmodel_view(m, SM_ALL, NULL, SORT_LOCAL, 0, 0, 6, idx, &matching);
	CHECK(n == 6);
	memset(&a, 0, sizeof(a));
	topmodel_prepare(m, idx, n, count_fetch, &a);
	CHECK(a.calls == 1 && a.n == 2);
	CHECK(a.lport[0] == 2 && a.lport[1] == 5);
	/* Asked once per refresh, whatever the fetch brought. */
	topmodel_prepare(m, idx, n, count_fetch, &a);
	CHECK(a.calls == 1 && a.n == 2);
	topmodel_free(m);
}

/*
 * The screen's selected row (top_pick), looked for at every loop turn of
 * the detail view: one comparison while rows stay put, whatever the size
 * of the table; a pass over it once after a refresh that moved the row or
 * took it away, not at every turn.  Counted, not timed.
 */
static void pick_costs_one_comparison(void)
{
	enum { N = 10000, TURNS = 1000, AT = N - 10 };
	struct sock_rec *r = calloc(N, sizeof(*r));
	struct topmodel *m = topmodel_new();
	struct top_pick p;
	int wrong = 0;

	CHECK(r && m);
	if (!r || !m)
		goto out;
	memset(&p, 0, sizeof(p));
	rows(r, N, 11, 0);
	CHECK(unit_top_refresh(m, r, N, 1000000, NULL) == 0);
	CHECK(top_pick_find(&p, m) == -1 && p.compared == 0); /* none picked */
	top_pick_row(&p, m, AT); /* near the end: a pass from the start costs ~N */
	for (int i = 0; i < TURNS; i++)
		wrong += top_pick_find(&p, m) != AT;
	CHECK(wrong == 0 && p.compared == TURNS);

	/* A refresh in the same order: still where it was. */
	CHECK(unit_top_refresh(m, r, N, 2000000, NULL) == 0);
	CHECK(top_pick_find(&p, m) == AT && p.compared == TURNS + 1);

	/* Five rows before it went away: one pass finds it, then one comparison a turn. */
	CHECK(unit_top_refresh(m, r + 5, N - 5, 3000000, NULL) == 0);
	uint64_t c0 = p.compared;
	CHECK(top_pick_find(&p, m) == AT - 5 && p.compared - c0 <= N + 1);
	c0 = p.compared;
	for (int i = 0; i < TURNS; i++)
		wrong += top_pick_find(&p, m) != AT - 5;
	CHECK(wrong == 0 && p.compared - c0 == TURNS);

	/* It went away: one pass says so, and the turns after cost nothing until rows change. */
	CHECK(unit_top_refresh(m, r, AT, 4000000, NULL) == 0);
	c0 = p.compared;
	CHECK(top_pick_find(&p, m) == -1 && p.compared - c0 <= AT + 1);
	c0 = p.compared;
	for (int i = 0; i < TURNS; i++)
		wrong += top_pick_find(&p, m) != -1;
	CHECK(wrong == 0 && p.compared == c0);
	/* Back at the next refresh: found again. */
	CHECK(unit_top_refresh(m, r, N, 5000000, NULL) == 0);
	CHECK(top_pick_find(&p, m) == AT);

	/* Two rows with one tuple (SO_REUSEPORT listeners): the one picked is the one found. */
	r[7] = r[3];
	r[7].inode = 77;
	CHECK(unit_top_refresh(m, r, N, 6000000, NULL) == 0);
	top_pick_row(&p, m, 7);
	CHECK(top_pick_find(&p, m) == 7 && topmodel_row(m, 7)->s.inode == 77);
out:
	topmodel_free(m);
	free(r);
}

/* Groups: by process, by host ("*" for no peer), biggest first. */
static void groups_by_process_and_host(void)
{
	struct sock_rec k[] = {
		unit_sockrow(TS_LISTEN, "198.18.0.1", 80, "0.0.0.0", 0),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.2", 40000),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.2", 40001),
		unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 80, "198.18.0.3", 40002),
	};
	struct topmodel *m = topmodel_new();
	struct top_group *g = NULL;

	k[0].inode = 7; /* a listener has a file; the others none (not accepted) */
	CHECK(m != NULL && unit_top_refresh(m, k, 4, 1000000, NULL) == 0);
	size_t ng = topmodel_groups(m, SM_ALL, NULL, TOP_GROUP_PROCESS, &g);
	CHECK(ng == 3 && g && strcmp(g[0].key, "(no process: not accepted)") == 0 &&
	      g[0].count == 2);
	CHECK(g && ng == 3 && strcmp(g[1].key, "(owner out of sight)") == 0 &&
	      strcmp(g[2].key, "(no process: kernel TIME-WAIT)") == 0 && g[2].count == 1);
	CHECK(g && g[0].by_state[TS_ESTABLISHED] == 2 && g[0].lower);
	free(g);
	ng = topmodel_groups(m, SM_ALL, NULL, TOP_GROUP_HOST, &g);
	CHECK(ng == 3 && g && strcmp(g[0].key, "198.18.0.2") == 0 && g[0].count == 2);
	CHECK(g && ng == 3 && strcmp(g[1].key, "*") == 0 && strcmp(g[2].key, "198.18.0.3") == 0);
	free(g);
	ng = topmodel_groups(m, SM(TS_ESTABLISHED), NULL, TOP_GROUP_STATE, &g);
	CHECK(ng == 1 && g && strcmp(g[0].key, "ESTABLISHED") == 0 && g[0].count == 2);
	free(g);
	topmodel_free(m);
}

/* The group of key, or NULL. */
static const struct top_group *group_of(const struct top_group *g, size_t ng, const char *key)
{
	for (size_t i = 0; i < ng; i++)
		if (strcmp(g[i].key, key) == 0)
			return &g[i];
	return NULL;
}

/*
 * By process, a socket no process holds is counted by what holds it: the
 * kernel after the close (TIME-WAIT; orphaned, still closing) or before an
 * accept, or an owner out of sight (an inode, but no process seen with it).
 * One its process closed is "~name[pid]", apart from that process's own.
 * None of them is one "(no process)" that reads as sockets some process
 * forgot.
 */
static void groups_say_who_holds(void)
{
	struct sock_rec a[10];
	struct topmodel *m = topmodel_new();
	struct top_group *g = NULL;

	CHECK(m != NULL);
	fake_owner(3);
	established_rows(a, 3, 9); /* inodes 1000 to 1002, held by holder[4242] */
	CHECK(unit_top_refresh(m, a, 3, 1000000, proc_root) == 0);
	a[0].state = TS_TIME_WAIT; /* holder closed it: owner remembered */
	a[0].inode = 0;
	a[3] = unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 80, "198.18.0.3", 40002);
	a[4] = unit_sockrow(TS_TIME_WAIT, "198.18.0.1", 80, "198.18.0.3", 40003);
	a[5] = unit_sockrow(TS_FIN_WAIT2, "198.18.0.1", 40004, "198.18.0.3", 80);
	a[6] = unit_sockrow(TS_LAST_ACK, "198.18.0.1", 80, "198.18.0.3", 40005);
	a[7] = unit_sockrow(TS_SYN_RECV, "198.18.0.1", 80, "198.18.0.3", 40006);
	a[8] = unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.3", 40007);
	a[9] = unit_sockrow(TS_LISTEN, "198.18.0.1", 443, "0.0.0.0", 0);
	a[9].inode = 5000; /* a file, but no process seen holding it */
	CHECK(unit_top_refresh(m, a, 10, 2000000, NULL) == 0);
	size_t ng = topmodel_groups(m, SM_ALL, NULL, TOP_GROUP_PROCESS, &g);
	const struct top_group *k;
	CHECK(ng == 6 && g != NULL);
	k = group_of(g, ng, "holder[4242]");
	CHECK(k && k->count == 2 && k->by_state[TS_ESTABLISHED] == 2);
	k = group_of(g, ng, "~holder[4242]");
	CHECK(k && k->count == 1 && k->by_state[TS_TIME_WAIT] == 1);
	k = group_of(g, ng, "(no process: kernel TIME-WAIT)");
	CHECK(k && k->count == 2 && k->by_state[TS_TIME_WAIT] == 2);
	k = group_of(g, ng, "(no process: orphaned)");
	CHECK(k && k->count == 2 && k->by_state[TS_FIN_WAIT2] == 1 &&
	      k->by_state[TS_LAST_ACK] == 1);
	k = group_of(g, ng, "(no process: not accepted)");
	CHECK(k && k->count == 2 && k->by_state[TS_SYN_RECV] == 1 &&
	      k->by_state[TS_ESTABLISHED] == 1);
	k = group_of(g, ng, "(owner out of sight)");
	CHECK(k && k->count == 1 && k->by_state[TS_LISTEN] == 1);
	free(g);

	/* A connection the capture sees and the kernel does not hold. */
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, NULL);
	CHECK(e != NULL);
	if (e) {
		wire_seg(e, 1700000000000000ull, "198.18.0.9", 40010, "198.18.0.1", 80, TH_SYN, 100,
			 0);
		topmodel_join(m, e, 2000000);
		ng = topmodel_groups(m, SM_ALL, NULL, TOP_GROUP_PROCESS, &g);
		k = g ? group_of(g, ng, "(wire only)") : NULL;
		CHECK(ng == 7 && k && k->count == 1);
		free(g);
		engine_free(e);
	}
	topmodel_free(m);
	rm_fake_owner(3);
}

/*
 * The column table writes what top's printf formats wrote: the title as
 * "%-*s %-*s %-*s %-*s %-*s %*s %7s %7s %7s %5s", cells as wide.
 */
static void view_columns(void)
{
	struct sock_rec k[] = {
		unit_sockrow(TS_LISTEN, "198.18.0.1", 80, "0.0.0.0", 0),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.2", 40000),
	};
	struct topmodel *m = topmodel_new();
	struct topview_widths w;
	uint32_t idx[2];
	size_t matching;
	char got[512], want[512];

	k[1].has_info = 1;
	k[1].info.rtt_us = 1250;
	k[1].info.total_retrans = 3;
	k[1].recv_q = 7;
	CHECK(m != NULL && unit_top_refresh(m, k, 2, 1000000, NULL) == 0);
	size_t n = topmodel_view(m, SM_ALL, NULL, SORT_STATE, 0, 0, 2, idx, &matching);
	CHECK(n == 2);
	topview_widths(m, idx, n, 0, &w);
	CHECK(w.w[TV_LOCAL] == 13 && w.w[TV_PEER] == 16 && w.w[TV_WIRE] == 8);
	topview_title(&w, got, sizeof(got));
	snprintf(want, sizeof(want), "%-*s %-*s %-*s %-*s %-*s %*s %7s %7s %7s %5s", 12, "State",
		 13, "Local", 16, "Peer", 8, "Wire L/P", 7, "Process", 7, "Age", "Recv-Q", "Send-Q",
		 "RTT ms", "Retr");
	CHECK_STR(got, want);
	const struct top_row *est = NULL;
	for (size_t i = 0; i < n; i++)
		if (topmodel_row(m, idx[i])->s.state == TS_ESTABLISHED)
			est = topmodel_row(m, idx[i]);
	CHECK(est != NULL);
	if (est) {
		topview_row(m, est, &w, got, sizeof(got));
		snprintf(want, sizeof(want), "%-*s %-*s %-*s %-*s %-*s %*s %7s %7s %7s %5s", 12,
			 "ESTABLISHED", 13, "198.18.0.1:80", 16, "198.18.0.2:40000", 8, "-", 7, "-",
			 7, ">0s", "7", "0", "1.3", "3");
		CHECK_STR(got, want);
	}
	CHECK(topview_col_start(&w, TV_WIRE) == 12 + 1 + 13 + 1 + 16 + 1);
	topview_widths(m, idx, n, 1, &w);
	CHECK(w.w[TV_WIRE] == 16);
	topmodel_free(m);
}

struct json_frame_arg {
	const struct topmodel *m;
	const struct topjson_wire *w;
	uint64_t ts;
};

static void json_frame(struct out *o, void *arg)
{
	const struct json_frame_arg *a = arg;
	uint32_t idx[8];
	size_t matching, n = topmodel_view(a->m, SM_ALL, NULL, SORT_LOCAL, 0, 0, 8, idx, &matching);
	topjson_frame(o, a->m, a->ts, a->w, idx, n, matching);
}

/*
 * top -b --json, four rows: a listener whose process has a quote, a line
 * break, an ESC and a byte that is not UTF-8 in its name; a connection
 * the capture saw from its SYN (states sure, age exact); one it never saw
 * (null); and one only the capture has (no kernel state, from its
 * originator).  Then the capture off (null, and why), and a replay's (no
 * kernel counters).
 */
static void json_frames(void)
{
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, NULL);
	struct topmodel *m = topmodel_new();
	uint64_t t = 1700000000000000ull;
	static char got[4096];
	char p[256];

	fake_owner(1); /* holder[4242] holds socket 1000 as fd 3 */
	snprintf(p, sizeof(p), "%s/4242/comm", proc_root);
	FILE *f = fopen(p, "w");
	CHECK(f && e && m);
	if (f) {
		fputs("a\"b\n\x1b\xff\n", f);
		fclose(f);
	}
	if (!e || !m)
		goto out;
	wire_seg(e, t, "198.18.0.2", 40000, "198.18.0.1", 80, TH_SYN, 100, 0);
	wire_seg(e, t + 10, "198.18.0.1", 80, "198.18.0.2", 40000, TH_SYN | TH_ACK, 500, 101);
	wire_seg(e, t + 20, "198.18.0.2", 40000, "198.18.0.1", 80, TH_ACK, 101, 501);
	wire_seg(e, t + 30, "198.18.0.9", 40010, "198.18.0.1", 80, TH_SYN, 100, 0);
	struct sock_rec k[] = {
		unit_sockrow(TS_LISTEN, "198.18.0.1", 80, "0.0.0.0", 0),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.2", 40000),
		unit_sockrow(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.3", 40001),
	};
	k[0].inode = 1000;
	k[1].recv_q = 5;
	k[1].has_info = 1;
	k[1].info.rtt_us = 1250;
	k[1].info.total_retrans = 2;
	CHECK(unit_top_refresh(m, k, 3, t + 1000000, proc_root) == 0);
	topmodel_join(m, e, t + 1000000); /* as top joins: at the refresh's time */

	struct topjson_wire w = {.source = "any",
				 .packets = 4,
				 .conns = 2,
				 .kernel_counts = 1,
				 .kernel_received = 8,
				 .kernel_dropped = 1};
	struct json_frame_arg a = {m, &w, t + 1000000};
	unit_written(json_frame, &a, got, sizeof(got));
	CHECK_STR(got,
		  "{\"ts\":1700000001.000000,\"wire\":{\"source\":\"any\",\"packets\":4,"
		  "\"connections\":2,\"kernel_received\":8,\"kernel_dropped\":1,"
		  "\"tcpstate_dropped\":null,\"dropped\":null,\"packets_per_s\":null,"
		  "\"dropped_per_s\":null,\"capture_cpu_pct\":null},"
		  "\"rows_matching\":4,\"rows\":["
		  "{\"state\":\"LISTEN\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"*\",\"peer_port\":0,\"recv_q\":0,\"send_q\":0,"
		  "\"wire_local\":null,\"wire_peer\":null,\"wire_sure\":null,"
		  "\"wire_disagree\":false,\"wire_only\":false,"
		  "\"process\":{\"pid\":4242,\"comm\":\"a\\\"b\\u000a\\u001b\\ufffd\",\"fd\":3,"
		  "\"closed\":false},\"age_s\":0.000000,\"age_exact\":false,"
		  "\"rtt_us\":null,\"total_retrans\":null},"
		  "{\"state\":\"ESTABLISHED\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"198.18.0.2\",\"peer_port\":40000,"
		  "\"recv_q\":5,\"send_q\":0,\"wire_local\":\"ESTABLISHED\","
		  "\"wire_peer\":\"ESTABLISHED\",\"wire_sure\":true,\"wire_disagree\":false,"
		  "\"wire_only\":false,\"process\":null,\"age_s\":0.999980,\"age_exact\":true,"
		  "\"rtt_us\":1250,\"total_retrans\":2},"
		  "{\"state\":\"ESTABLISHED\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"198.18.0.3\",\"peer_port\":40001,"
		  "\"recv_q\":0,\"send_q\":0,\"wire_local\":null,\"wire_peer\":null,"
		  "\"wire_sure\":null,\"wire_disagree\":false,\"wire_only\":false,"
		  "\"process\":null,\"age_s\":0.000000,\"age_exact\":false,"
		  "\"rtt_us\":null,\"total_retrans\":null},"
		  "{\"state\":null,\"family\":\"ipv4\",\"local_addr\":\"198.18.0.9\","
		  "\"local_port\":40010,\"peer_addr\":\"198.18.0.1\",\"peer_port\":80,"
		  "\"recv_q\":0,\"send_q\":0,\"wire_local\":\"SYN-SENT\","
		  "\"wire_peer\":\"SYN-RECEIVED\",\"wire_sure\":true,\"wire_disagree\":false,"
		  "\"wire_only\":true,\"process\":null,\"age_s\":0.000000,\"age_exact\":true,"
		  "\"rtt_us\":null,\"total_retrans\":null}]}\n");

	struct topjson_wire off = {.off_reason = "--no-wire"};
	struct json_frame_arg b = {m, &off, t};
	unit_written(json_frame, &b, got, sizeof(got));
	static const char nowire[] = "{\"ts\":1700000000.000000,\"wire\":null,"
				     "\"wire_off_reason\":\"--no-wire\",\"rows_matching\":4,"
				     "\"rows\":[{\"state\":\"LISTEN\",";
	CHECK(strncmp(got, nowire, sizeof(nowire) - 1) == 0);
	struct topjson_wire file = {.source = "x.pcap", .packets = 4, .conns = 2};
	struct json_frame_arg c = {m, &file, t};
	unit_written(json_frame, &c, got, sizeof(got));
	CHECK(strstr(got, "\"wire\":{\"source\":\"x.pcap\",\"packets\":4,\"connections\":2,"
			  "\"kernel_received\":null,\"kernel_dropped\":null,"
			  "\"tcpstate_dropped\":null,\"dropped\":null,\"packets_per_s\":null,"
			  "\"dropped_per_s\":null,\"capture_cpu_pct\":null},") != NULL);
out:
	topmodel_free(m);
	engine_free(e);
	rm_fake_owner(1);
}

const struct unit_test topmodel_tests[] = {
	{"topmodel: bounded view, rank and time in state", view_rank_and_memory},
	{"topmodel: the join with the last refresh, in any order", join_follows_any_order},
	{"topmodel: ephemeral ports per destination, busiest first", busiest_destinations},
	{"topmodel: a dual-stack socket's IPv4 connection joins the wire's", join_dual_stack},
	{"topmodel: a handshake the capture saw during the dump gives the exact age",
	 join_handshake_during_dump},
	{"topmodel: no disagreement flag on a row whose wire state is a guess",
	 no_disagreement_on_a_guess},
	{"topmodel: an owner is not carried to a new socket on the tuple",
	 owner_not_carried_to_a_new_socket},
	{"topmodel: a window past the end or past SIZE_MAX writes nothing", view_huge_window},
	{"topmodel: one socket, then more: the table grows row by row", one_socket_then_more},
	{"topmodel: prepare asks for tcp_info the shown rows lack, once",
	 prepare_asks_for_what_is_missing},
	{"topmodel: the selected row is found with one comparison while rows stay put",
	 pick_costs_one_comparison},
	{"topmodel: groups by process, host and state, biggest first", groups_by_process_and_host},
	{"topmodel: grouped by process, what no process holds says what holds it",
	 groups_say_who_holds},
	{"topmodel: a rebase takes the next refresh as a first one",
	 rebase_takes_next_refresh_as_first},
	{"topview: the column table writes the table's title and rows", view_columns},
	{"topjson: rows as list --json spells them, the wire's view or null", json_frames},
	{NULL, NULL},
};
