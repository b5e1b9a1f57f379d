/*
 * topmodel.c - what `tcpstate top` knows between refreshes.
 *
 * Each refresh brings the kernel's sockets.  A table keyed by 4-tuple
 * remembers, per socket, when it was first seen in its state and which
 * process held it; TIME-WAIT sockets have no owner in the kernel, so the
 * owner of the same 4-tuple's earlier socket is carried over.  /proc is
 * scanned only when sockets with unknown owners appear, and at most once
 * per interval the caller gives (top: its refresh interval, and no more
 * than twice a second): at 100k sockets a scan costs more than a refresh.
 */
#define _GNU_SOURCE /* qsort_r */
#include "topmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "census.h"
#include "hash.h"
#include "procmap.h"
#include "sysctl.h"
#include "topns.h"

#define EVENT_RING 262144u

/* Rows are compared whole (memcmp): no padding bytes, whose values are undefined. */
_Static_assert(sizeof(struct sock_rec) == 128, "struct sock_rec has padding");
_Static_assert(sizeof(struct top_row) == 184, "struct top_row has padding");

struct ring_event {
	uint32_t conn_id;
	struct top_event ev;
};

/*
 * The join with the last refresh.  Each row carries what must be remembered
 * of its socket (since when it is in its state, its owner), keyed by the
 * 4-tuple, not the socket cookie: the TIME-WAIT socket that follows a closed
 * one is a different kernel object, and it must inherit the owner.
 *
 * The kernel walks its hash tables in the same order every time, so this
 * refresh's sockets arrive, nearly all, in the order of the last refresh's
 * rows.  They are matched with a cursor into the last refresh's rows,
 * reading both arrays front to back.  Only a socket that is not where the
 * cursor expects it (new, or moved) is looked up in a hash index of the
 * last refresh, built the first time one is needed.  This replaced a hash
 * table probed twice per socket, whose cache misses were most of top's own
 * time at 100k sockets.
 */
struct topmodel {
	struct top_row *rows, *prev; /* this refresh's and the last one's, in dump order */
	size_t nrows, caprows;
	size_t nprev, capprev; /* nprev: the last refresh's kernel rows */
	/*
	 * While the dump repeats the last one's order, rows and prev are the
	 * same array and each row is updated in place, written only if it
	 * changed: a refresh of an unchanged table then only reads it.  At the
	 * first socket out of order the rows so far are copied to the other
	 * array and the refresh goes on from there (switch_to_copy).
	 */
	int inplace;
	struct top_row *spare; /* the third array, kept for the next switch */
	size_t capspare;
	/*
	 * Per row, apart from the rows: what the default view reads for every
	 * row (state, age, ports for ties), 16 bytes instead of a row's 176,
	 * and the age, which changes every refresh while the row mostly does not.
	 */
	struct vrow {
		uint64_t age;	/* time in its state */
		uint32_t ports; /* lport << 16 | rport: the first tie-breaks */
		uint8_t state;
		uint8_t pad[3];
	} * v;
	size_t capv;
	size_t cursor;	 /* next expected position in prev[] */
	uint32_t *index; /* prev position + 1, by tuple hash; 0 = empty */
	size_t index_cap, index_alloc;
	int index_built;
	size_t unknown; /* rows with an inode but no known owner */
	/*
	 * The header's counts are taken as each socket arrives, while its row
	 * is in cache: a pass over 100k rows afterwards costs a trip to memory
	 * per row.
	 */
	struct census *census; /* ephemeral ports per source address and destination */
	uint32_t *cw;	       /* rows in CLOSE-WAIT */
	size_t ncw, capcw;
	uint64_t now_us;
	uint64_t gen; /* rows changed (a refresh began, the wire's joined): a top_pick's miss is
			 stale */
	int first;
	int rebase; /* the next refresh is taken as a first one (topmodel_rebase) */
	uint64_t last_scan_us, last_refresh_us;
	struct top_stats st;
	struct ring_event *ring;
	size_t ring_next, ring_count;
	/* destination rates, smoothed */
	struct top_dest prev_dest[3];
	int nprev_dest;
	struct topns ns; /* top -A: the rows' namespaces */
};

static size_t tuple_hash(int family, const uint8_t *la, uint16_t lp, const uint8_t *ra, uint16_t rp)
{
	uint64_t h = (uint64_t)family << 32 | (uint64_t)lp << 16 | rp;
	for (int i = 0; i < 16; i += 8) {
		uint64_t a, b;
		memcpy(&a, la + i, 8);
		memcpy(&b, ra + i, 8);
		h = hash_mix64(h ^ a) + hash_mix64(b);
	}
	return (size_t)hash_mix64(h);
}

/*
 * The same socket: the same 4-tuple, and not two inodes.  A tuple alone is
 * shared by SO_REUSEPORT listeners, and by a new connection on the tuple
 * of one just reset; an inode of 0 (TIME-WAIT, an orphan, a connection
 * not yet accepted) cannot tell, and is taken for the same socket.
 */
static int same_socket(const struct sock_rec *a, const struct sock_rec *b)
{
	return a->family == b->family && a->lport == b->lport && a->rport == b->rport &&
	       memcmp(a->laddr, b->laddr, 16) == 0 && memcmp(a->raddr, b->raddr, 16) == 0 &&
	       (!a->inode || !b->inode || a->inode == b->inode);
}

/* The same socket in the same namespace (two containers may both have 10.0.0.2:80). */
static int same_row(const struct top_row *r, const struct sock_rec *k, uint16_t ns)
{
	return r->ns == ns && same_socket(&r->s, k);
}

static size_t rec_hash(const struct sock_rec *r)
{
	return tuple_hash(r->family, r->laddr, r->lport, r->raddr, r->rport);
}

/* Index prev[] by tuple; on failure the join falls back to "all new". */
static int build_index(struct topmodel *m)
{
	size_t cap = 64;
	while (cap < m->nprev * 2)
		cap <<= 1;
	if (cap > m->index_alloc) {
		uint32_t *ni = realloc(m->index, cap * sizeof(*ni));
		if (!ni)
			return -1;
		m->index = ni;
		m->index_alloc = cap;
	}
	m->index_cap = cap;
	memset(m->index, 0, cap * sizeof(*m->index));
	for (size_t p = 0; p < m->nprev; p++) {
		size_t i = rec_hash(&m->prev[p].s) & (cap - 1);
		while (m->index[i])
			i = (i + 1) & (cap - 1);
		m->index[i] = (uint32_t)(p + 1);
	}
	m->index_built = 1;
	return 0;
}

/* The last refresh's row for this socket, or NULL. */
static const struct top_row *match_prev(struct topmodel *m, const struct sock_rec *k)
{
	/* Where the cursor expects it, or just past sockets that went away. */
	for (size_t d = 0; d < 4 && m->cursor + d < m->nprev; d++)
		if (same_row(&m->prev[m->cursor + d], k, m->ns.cur)) {
			m->cursor += d + 1;
			return &m->prev[m->cursor - 1];
		}
	if (!m->nprev || (!m->index_built && build_index(m) < 0))
		return NULL;
	for (size_t i = rec_hash(k) & (m->index_cap - 1); m->index[i];
	     i = (i + 1) & (m->index_cap - 1)) {
		size_t p = m->index[i] - 1;
		if (same_row(&m->prev[p], k, m->ns.cur)) {
			if (p >= m->cursor) /* many went away at once: follow */
				m->cursor = p + 1;
			return &m->prev[p];
		}
	}
	return NULL;
}

struct topmodel *topmodel_new(void)
{
	struct topmodel *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ring = calloc(EVENT_RING, sizeof(*m->ring));
	m->census = census_new();
	if (!m->ring || !m->census) {
		free(m->ring);
		census_free(m->census);
		free(m);
		return NULL;
	}
	return m;
}

void topmodel_free(struct topmodel *m)
{
	if (!m)
		return;
	free(m->rows);
	if (m->prev != m->rows)
		free(m->prev);
	free(m->spare);
	free(m->v);
	free(m->index);
	census_free(m->census);
	free(m->cw);
	free(m->ring);
	topns_free(&m->ns);
	free(m);
}

static void resolve_owners(struct topmodel *m, const char *procroot)
{
	struct procmap *pm = procmap_new(m->nrows);

	if (!pm)
		return;
	for (size_t i = 0; i < m->nrows; i++)
		procmap_want(pm, m->rows[i].s.inode);
	if (procmap_scan(pm, procroot) == 0) {
		for (size_t i = 0; i < m->nrows; i++) {
			struct top_row *r = &m->rows[i];
			int k = procmap_first(pm, r->s.inode);
			if (k < 0)
				continue;
			const struct proc_owner *o = procmap_owner(pm, k);
			r->pid = o->pid;
			r->fd = o->fd;
			/* comm is at most 15 characters (TASK_COMM_LEN); strncpy pads with NULs. */
			strncpy(r->comm, o->comm, sizeof(r->comm) - 1);
			r->comm[sizeof(r->comm) - 1] = '\0';
			r->remembered = 0;
			r->has_owner = 1;
		}
	}
	procmap_free(pm);
}

/* Whether a and b are the same source address and destination. */
static int same_pair(const struct top_dest *a, const struct top_dest *b)
{
	return a->family == b->family && a->port == b->port && a->src_family == b->src_family &&
	       memcmp(a->addr, b->addr, 16) == 0 && memcmp(a->src, b->src, 16) == 0;
}

static void header_stats(struct topmodel *m, double dt)
{
	struct top_stats *st = &m->st;

	st->total = m->nrows;
	/* Sparkline history: shift left once per refresh. */
	if (st->nhistory == TOP_HISTORY)
		for (int s = 0; s < TS_MAX; s++)
			memmove(st->history[s], st->history[s] + 1,
				(TOP_HISTORY - 1) * sizeof(st->history[s][0]));
	else
		st->nhistory++;
	for (int s = 0; s < TS_MAX; s++)
		st->history[s][st->nhistory - 1] =
			(uint16_t)(st->count[s] > UINT16_MAX ? UINT16_MAX : st->count[s]);

	long hi = st->port_hi;
	struct census_dest cd[3];
	struct top_dest top[3];
	int ntop = (int)census_busiest(m->census, cd, 3);
	double range = st->port_lo > 0 ? (double)(hi - st->port_lo + 1) : 0;
	const struct census_totals *ct = census_totals(m->census);
	st->ephemeral_in_use = (uint32_t)ct->in_use;
	st->ephemeral_dests = (uint32_t)ct->dests;
	st->ephemeral_srcs = (uint32_t)ct->sources;
	for (int k = 0; k < ntop; k++) {
		struct top_dest *d = &top[k];
		memset(d, 0, sizeof(*d));
		d->family = cd[k].family;
		memcpy(d->addr, cd[k].addr, 16);
		d->port = cd[k].port;
		d->src_family = cd[k].src_family;
		memcpy(d->src, cd[k].src, 16);
		d->in_use = cd[k].in_use;
		d->time_wait = cd[k].time_wait;
		d->rate = dt > 0 ? (double)cd[k].fresh / dt : 0;
		/* Smooth the rate with the last refresh's, for the same source and destination. */
		for (int p = 0; p < m->nprev_dest; p++)
			if (same_pair(&m->prev_dest[p], d))
				d->rate = 0.7 * m->prev_dest[p].rate + 0.3 * d->rate;
		/*
		 * Sockets to one destination stay in TIME-WAIT for 60 s after they
		 * close, so the port range runs out only if the rate times 60 s,
		 * plus the sockets still open, exceeds it.
		 */
		double open = (double)(d->in_use - d->time_wait);
		if (d->rate > 0 && range > 0 && d->rate * 60.0 + open >= range)
			d->exhaust_s = ((double)range - d->in_use) / d->rate;
		else
			d->exhaust_s = -1;
		if (d->exhaust_s < 0 && range > 0 && d->in_use >= range)
			d->exhaust_s = 0;
	}
	memcpy(st->dest, top, sizeof(top[0]) * (size_t)ntop);
	st->ndest = ntop;
	memcpy(m->prev_dest, top, sizeof(top[0]) * (size_t)ntop);
	m->nprev_dest = ntop;

	/* Who holds the CLOSE-WAIT sockets, and since when. */
	st->nholder = 0;
	struct top_holder h[64];
	int nh = 0;
	for (size_t c = 0; c < m->ncw; c++) {
		const struct top_row *r = &m->rows[m->cw[c]];
		int k;
		for (k = 0; k < nh; k++)
			if (h[k].pid == r->pid)
				break;
		if (k == nh) {
			if (nh == 64)
				continue;
			memset(&h[nh], 0, sizeof(h[nh]));
			h[nh].pid = r->pid;
			snprintf(h[nh].comm, sizeof(h[nh].comm), "%s", r->pid ? r->comm : "?");
			h[nh].oldest_us = r->since_us;
			nh++;
		}
		h[k].count++;
		if (r->since_us < h[k].oldest_us)
			h[k].oldest_us = r->since_us;
	}
	for (int a = 0; a < nh && a < 3; a++) {
		int best = a;
		for (int b = a + 1; b < nh; b++)
			if (h[b].count > h[best].count)
				best = b;
		struct top_holder t = h[a];
		h[a] = h[best];
		h[best] = t;
		st->holder[st->nholder++] = h[a];
	}
}

static void set_v(struct topmodel *m, size_t i, const struct top_row *r, uint64_t age)
{
	struct vrow *v = &m->v[i];
	v->age = age;
	v->ports = (uint32_t)r->s.lport << 16 | r->s.rport;
	v->state = r->s.state;
	v->pad[0] = v->pad[1] = v->pad[2] = 0;
}

/*
 * The next capacity of an array of cap elements of size bytes: half as
 * much again, and at least one more (a copy may have been made for a single
 * row, see switch_to_copy); 0 when that many bytes cannot be counted.
 */
static size_t next_cap(size_t cap, size_t size)
{
	size_t more = cap / 2 ? cap / 2 : 1;
	if (!cap)
		return 1024;
	if (cap > SIZE_MAX / size - more)
		return 0;
	return cap + more;
}

/* Room for one more row (and its age). */
static int grow(struct topmodel *m)
{
	if (m->nrows == m->capv) {
		size_t cap = next_cap(m->capv, sizeof(*m->v));
		struct vrow *nv = cap ? realloc(m->v, cap * sizeof(*nv)) : NULL;
		if (!nv)
			return -1;
		m->v = nv;
		m->capv = cap;
	}
	if (m->nrows < m->caprows)
		return 0;
	size_t cap = next_cap(m->caprows, sizeof(*m->rows));
	struct top_row *nr = cap ? realloc(m->rows, cap * sizeof(*nr)) : NULL;
	if (!nr)
		return -1;
	if (m->rows == m->prev) { /* one array for both (in place): move both */
		m->prev = nr;
		m->capprev = cap;
	}
	m->rows = nr;
	m->caprows = cap;
	return 0;
}

void topmodel_begin(struct topmodel *m, uint64_t now_us)
{
	/* The last refresh's rows are prev[], and (in place) this one's too. */
	if (m->rows != m->prev) {
		/* The last refresh left the order: its prev[] is spare now. */
		free(m->spare);
		m->spare = m->prev;
		m->capspare = m->capprev;
	}
	m->prev = m->rows;
	m->capprev = m->caprows;
	m->inplace = 1;
	m->nrows = 0;
	m->cursor = 0;
	m->index_built = 0;
	m->unknown = 0;
	m->now_us = now_us;
	m->gen++;
	m->first = m->last_refresh_us == 0 || m->rebase;
	m->rebase = 0;
	topns_begin(&m->ns);

	struct top_stats *st = &m->st;
	long range[2];
	memset(st->count, 0, sizeof(st->count));
	sysctl_read_longs("net.ipv4.tcp_max_tw_buckets", &st->tw_max, 1); /* -1 when unknown */
	sysctl_read_longs("net.ipv4.ip_local_port_range", range, 2);
	st->port_lo = range[0];
	st->port_hi = range[1];
	st->ephemeral_in_use = 0;
	st->ephemeral_dests = 0;
	st->ephemeral_srcs = 0;
	census_begin(m->census, st->port_lo, st->port_hi);
	m->ncw = 0;
}

/*
 * The dump left the last refresh's order: keep prev[] as it is, and write
 * this refresh's rows, those so far first, into the other array.
 */
static int switch_to_copy(struct topmodel *m)
{
	struct top_row *other = m->spare;
	size_t cap = m->capspare;
	size_t need = m->nprev > m->nrows + 1 ? m->nprev : m->nrows + 1;
	if (cap < need) {
		cap = need + need / 2;
		other = realloc(other, cap * sizeof(*other));
		if (!other)
			return -1;
	}
	memcpy(other, m->rows, m->nrows * sizeof(*other));
	m->spare = NULL;
	m->capspare = 0;
	m->rows = other;
	m->caprows = cap;
	m->inplace = 0;
	return 0;
}

int topmodel_add(struct topmodel *m, const struct sock_rec *rec)
{
	size_t i = m->nrows;

	/* In place while the socket is where the last refresh had it. */
	if (m->inplace && !(i < m->nprev && same_row(&m->prev[i], rec, m->ns.cur))) {
		if (i < m->nprev) {
			if (switch_to_copy(m) < 0)
				return -1;
		} else {
			m->inplace = 0; /* past the end: rows == prev grows, nothing to keep */
		}
	}
	if (grow(m) < 0)
		return -1;
	m->nrows++;

	/* The streams are sequential; ask for them a few sockets ahead. */
	if (m->cursor + 16 < m->nprev) {
		const char *p = (const char *)&m->prev[m->cursor + 16];
		for (size_t o = 0; o < sizeof(struct top_row); o += 64)
			__builtin_prefetch(p + o);
	}
	const struct top_row *old;
	if (m->inplace) {
		old = &m->prev[i];
		m->cursor = i + 1;
	} else {
		if (i + 8 < m->caprows) {
			const char *p = (const char *)&m->rows[i + 8];
			for (size_t o = 0; o < sizeof(struct top_row); o += 64)
				__builtin_prefetch(p + o, 1);
		}
		old = match_prev(m, rec);
	}
	/*
	 * The row is built on the stack, every field one by one (a memset
	 * compiles to a slow "rep stos"; top_row has no padding, see
	 * topmodel.h), and stored only if it differs from what is there.
	 */
	struct top_row nr;
	nr.s = *rec;
	/*
	 * A listener's tcp_info is all zeros, and it is asked for only when
	 * the dump carries everyone's: drop it, so that a listener reads the
	 * same ("-") whichever way tcp_info came.
	 */
	if (rec->state == TS_LISTEN) {
		nr.s.has_info = 0;
		nr.s.retransmits = 0;
		memset(&nr.s.info, 0, sizeof(nr.s.info));
	}
	nr.is_new = !old && !m->first;
	nr.seen_us = old && old->s.state == rec->state ? old->seen_us : m->now_us;
	nr.since_us = nr.seen_us;
	nr.since_exact = 0;
	nr.wire[0] = nr.wire[1] = 0;
	nr.disagree = 0;
	nr.wire_only = 0;
	nr.info_asked = 0;
	nr.wire_unsure = 0;
	nr.ns = m->ns.cur;
	nr.conn_id = 0;
	/*
	 * The owner carries over to the same socket (same inode), and to the
	 * TIME-WAIT socket that follows it (no inode): not to a new socket that
	 * reuses the tuple, whose owner may be anyone.
	 */
	if (old && old->has_owner && (rec->inode == 0 || rec->inode == old->s.inode)) {
		nr.has_owner = 1;
		nr.pid = old->pid;
		nr.fd = old->fd;
		memcpy(nr.comm, old->comm, sizeof(nr.comm));
		/* The kernel no longer names an owner: this is memory. */
		nr.remembered = rec->inode == 0;
	} else {
		nr.has_owner = 0;
		nr.pid = 0;
		nr.fd = 0;
		memset(nr.comm, 0, sizeof(nr.comm));
		nr.remembered = 0;
		m->unknown += rec->inode != 0;
	}
	struct top_row *r = &m->rows[i];
	if (!m->inplace || memcmp(r, &nr, sizeof(nr)) != 0)
		*r = nr;
	set_v(m, i, r, m->now_us > nr.seen_us ? m->now_us - nr.seen_us : 0);

	struct top_stats *st = &m->st;
	st->count[rec->state]++;
	if (rec->state == TS_CLOSE_WAIT) {
		if (m->ncw == m->capcw) {
			size_t cap = m->capcw ? m->capcw * 2 : 256;
			uint32_t *nc = realloc(m->cw, cap * sizeof(*nc));
			if (!nc)
				return -1;
			m->cw = nc;
			m->capcw = cap;
		}
		m->cw[m->ncw++] = (uint32_t)i;
	}
	return census_add(m->census, rec, nr.is_new);
}

void topmodel_abort(struct topmodel *m)
{
	m->nprev = m->nrows;
	topns_end(&m->ns);
}

void topmodel_rebase(struct topmodel *m)
{
	m->rebase = 1;
	/* The counts so far were of other sockets: a bar across the change would fall or rise. */
	m->st.nhistory = 0;
}

void topmodel_end(struct topmodel *m, uint64_t rescan_us, const char *procroot)
{
	uint64_t now_us = m->now_us;
	double dt = m->last_refresh_us ? (double)(now_us - m->last_refresh_us) / 1e6 : 0;

	if (procroot && m->unknown && now_us >= m->last_scan_us + rescan_us) {
		resolve_owners(m, procroot);
		m->last_scan_us = now_us;
	}
	/* Out of memory: no ephemeral figures rather than wrong ones. */
	if (census_end(m->census) < 0)
		m->st.port_lo = m->st.port_hi = -1;
	m->st.namespaces = m->ns.seen;
	topns_end(&m->ns);
	header_stats(m, dt);
	/* Rows the wire adds after this are not the kernel's: not matched next time. */
	m->nprev = m->nrows;
	m->last_refresh_us = now_us;
}

/* ---- the join with the wire engine ------------------------------------- */

struct wkey {
	uint8_t used, family, matched;
	uint16_t port[2];
	uint8_t addr[2][16];
	uint32_t id;
	uint8_t state[2];
	uint8_t unsure[2];
	uint64_t since[2];
};

struct joinctx {
	const struct engine *e;
	struct wkey *t;
	size_t cap;
};

static size_t wkey_hash(int family, const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
	/* Symmetric: either end may be the local one. */
	return (size_t)(tuple_hash(family, a, pa, b, pb) + tuple_hash(family, b, pb, a, pa));
}

/*
 * A connection's two addresses as the wire carries them: a dual-stack
 * socket's IPv4 connection ([::ffff:a.b.c.d] at both ends) is IPv4.
 * Returns the family; a and b are the addresses, 16 bytes each.
 */
static int wire_tuple(int family, const uint8_t *x, const uint8_t *y, uint8_t a[16], uint8_t b[16])
{
	int fa = addr_canonical(family, x, a), fb = addr_canonical(family, y, b);

	if (fa == fb)
		return fa;
	/* One end mapped and the other not is no IPv4 connection: leave both. */
	memcpy(a, x, 16);
	memcpy(b, y, 16);
	return family;
}

static void add_conn(void *arg, const struct conn *c)
{
	struct joinctx *j = arg;
	struct conn_info ci;

	engine_conn_info(j->e, c, &ci);
	uint8_t a[16], b[16];
	ci.family = (uint8_t)wire_tuple(ci.family, ci.addr[0], ci.addr[1], a, b);
	size_t i = wkey_hash(ci.family, a, ci.port[0], b, ci.port[1]) & (j->cap - 1);
	while (j->t[i].used) {
		struct wkey *k = &j->t[i];
		/* A newer instance of the same tuple wins. */
		if (k->family == ci.family && k->port[0] == ci.port[0] &&
		    k->port[1] == ci.port[1] && !memcmp(k->addr[0], a, 16) &&
		    !memcmp(k->addr[1], b, 16)) {
			if (ci.id < k->id)
				return;
			break;
		}
		i = (i + 1) & (j->cap - 1);
	}
	struct wkey *k = &j->t[i];
	k->used = 1;
	k->family = ci.family;
	k->port[0] = ci.port[0];
	k->port[1] = ci.port[1];
	memcpy(k->addr[0], a, 16);
	memcpy(k->addr[1], b, 16);
	k->id = ci.id;
	k->state[0] = ci.state[0];
	k->state[1] = ci.state[1];
	k->unsure[0] = ci.unsure[0];
	k->unsure[1] = ci.unsure[1];
	k->since[0] = ci.since_us[0];
	k->since[1] = ci.since_us[1];
}

void topmodel_join(struct topmodel *m, struct engine *e, uint64_t now_us)
{
	const struct engine_stats *es = engine_stats(e);
	struct joinctx j = {e, NULL, 64};

	while (j.cap < es->live * 2 + 2)
		j.cap <<= 1;
	j.t = calloc(j.cap, sizeof(*j.t));
	if (!j.t)
		return;
	m->gen++; /* rows of the wire's own follow the kernel's */
	engine_foreach(e, add_conn, &j);
	for (size_t i = 0; i < m->nrows; i++) {
		struct top_row *r = &m->rows[i];
		uint8_t la[16], ra[16];
		int fam = wire_tuple(r->s.family, r->s.laddr, r->s.raddr, la, ra);
		size_t h = wkey_hash(fam, la, r->s.lport, ra, r->s.rport) & (j.cap - 1);
		for (;; h = (h + 1) & (j.cap - 1)) {
			struct wkey *k = &j.t[h];
			if (!k->used)
				break;
			if (k->family != fam)
				continue;
			int local;
			if (k->port[0] == r->s.lport && k->port[1] == r->s.rport &&
			    !memcmp(k->addr[0], la, 16) && !memcmp(k->addr[1], ra, 16))
				local = 0;
			else if (k->port[1] == r->s.lport && k->port[0] == r->s.rport &&
				 !memcmp(k->addr[1], la, 16) && !memcmp(k->addr[0], ra, 16))
				local = 1;
			else
				continue;
			k->matched = 1;
			r->conn_id = k->id;
			r->wire[0] = k->state[local];
			r->wire[1] = k->state[1 - local];
			r->wire_unsure = (uint8_t)(k->unsure[local] | k->unsure[1 - local] << 1);
			/*
			 * A transition the capture saw gives the state's start.  The
			 * refresh's time is only a bound, and not even that for a
			 * socket that changed state during the dump (the time is
			 * taken before it): the capture's comes later then.  A
			 * guessed state began before the capture: its start is a
			 * lower bound, taken only when it is the better one.
			 */
			if (k->state[local] == r->s.state &&
			    (!k->unsure[local] || k->since[local] <= r->since_us)) {
				r->since_us = k->since[local];
				m->v[i].age = now_us > r->since_us ? now_us - r->since_us : 0;
				r->since_exact = !k->unsure[local];
			}
			/*
			 * A disagreement that has lasted a second is worth a flag;
			 * not with a guess, which the capture cannot back: the row
			 * shows '?' when either end is one, and then no '!'.
			 */
			r->disagree = k->state[local] != r->s.state && !k->unsure[0] &&
				      !k->unsure[1] && now_us > k->since[local] + 1000000 &&
				      now_us > r->since_us + 1000000;
			break;
		}
	}
	/*
	 * Connections the wire sees but the kernel does not hold: other hosts'
	 * traffic, a replayed capture, sockets already gone.  They are rows too,
	 * from the originator's side, aged on the capture's clock.
	 */
	uint64_t wnow = engine_now(e);
	for (size_t h = 0; h < j.cap; h++) {
		struct wkey *k = &j.t[h];
		if (!k->used || k->matched)
			continue;
		if (grow(m) < 0)
			break;
		struct top_row *r = &m->rows[m->nrows++];
		memset(r, 0, sizeof(*r));
		r->s.family = k->family;
		memcpy(r->s.laddr, k->addr[0], 16);
		memcpy(r->s.raddr, k->addr[1], 16);
		r->s.lport = k->port[0];
		r->s.rport = k->port[1];
		r->s.state = k->state[0] ? k->state[0] : TS_CLOSE;
		r->wire[0] = k->state[0];
		r->wire[1] = k->state[1];
		r->wire_unsure = (uint8_t)(k->unsure[0] | k->unsure[1] << 1);
		r->wire_only = 1;
		r->ns = TOP_NS_NONE;
		r->conn_id = k->id;
		r->since_us = k->since[0];
		set_v(m, m->nrows - 1, r, wnow > k->since[0] ? wnow - k->since[0] : 0);
		r->since_exact = !k->unsure[0];
	}
	free(j.t);
}

void topmodel_event(struct topmodel *m, const struct engine *e, const struct engine_event *ev)
{
	struct ring_event *re = &m->ring[m->ring_next];
	struct conn_info ci;
	engine_conn_info(e, ev->conn, &ci);
	re->conn_id = ci.id;
	re->ev.ts_us = ev->ts_us;
	re->ev.endpoint = ev->endpoint;
	re->ev.from = ev->from;
	re->ev.to = ev->to;
	re->ev.cause = ev->cause;
	m->ring_next = (m->ring_next + 1) % EVENT_RING;
	if (m->ring_count < EVENT_RING)
		m->ring_count++;
}

int topmodel_events(const struct topmodel *m, uint32_t conn_id, struct top_event *out, int max)
{
	int n = 0;
	size_t start = (m->ring_next + EVENT_RING - m->ring_count) % EVENT_RING;

	for (size_t k = 0; k < m->ring_count && n < max; k++) {
		const struct ring_event *re = &m->ring[(start + k) % EVENT_RING];
		if (re->conn_id == conn_id)
			out[n++] = re->ev;
	}
	return n;
}

size_t topmodel_nrows(const struct topmodel *m)
{
	return m->nrows;
}

const struct top_row *topmodel_row(const struct topmodel *m, size_t i)
{
	return &m->rows[i];
}

void top_pick_row(struct top_pick *p, const struct topmodel *m, size_t i)
{
	p->key = m->rows[i].s;
	p->ns = m->rows[i].ns;
	p->at = i;
	p->have = 1;
	p->missed = 0;
}

long top_pick_find(struct top_pick *p, const struct topmodel *m)
{
	if (!p->have || (p->missed && p->gen == m->gen))
		return -1; /* none picked; or gone, and no row has changed since */
	p->gen = m->gen;
	p->missed = 0;
	if (p->at < m->nrows) {
		p->compared++;
		if (same_row(&m->rows[p->at], &p->key, p->ns))
			return (long)p->at;
	}
	for (size_t i = 0; i < m->nrows; i++) {
		p->compared++;
		if (same_row(&m->rows[i], &p->key, p->ns)) {
			p->at = i;
			return (long)i;
		}
	}
	p->missed = 1;
	return -1;
}

struct topns *topmodel_nstab(struct topmodel *m)
{
	return &m->ns;
}

const struct top_ns *topmodel_ns_of(const struct topmodel *m, const struct top_row *r)
{
	return topns_get(&m->ns, r->ns);
}

uint64_t topmodel_age(const struct topmodel *m, const struct top_row *r)
{
	return m->v[r - m->rows].age;
}

void topmodel_prepare(struct topmodel *m, const uint32_t *idx, size_t n, topmodel_fetch_fn *fetch,
		      void *arg)
{
	struct sock_rec *need[256];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct top_row *r = &m->rows[idx[i]];
		/*
		 * None to ask for: TIME-WAIT and request sockets have no tcp_info
		 * (nor FIN-WAIT-2 kept as a timewait socket, timer 3); a
		 * listener's is all zeros, and an exact lookup finds only one
		 * member of a SO_REUSEPORT group.
		 */
		if (r->s.has_info || r->info_asked || r->wire_only || r->s.state == TS_TIME_WAIT ||
		    r->s.state == TS_SYN_RECV || r->s.state == TS_LISTEN ||
		    r->s.timer == TIMER_TIMEWAIT)
			continue;
		r->info_asked = 1;
		need[k++] = &r->s;
		if (k == sizeof(need) / sizeof(need[0])) {
			fetch(need, k, arg);
			k = 0;
		}
	}
	if (k)
		fetch(need, k, arg);
}

const struct top_stats *topmodel_stats(const struct topmodel *m)
{
	return &m->st;
}

/* ---- the view: filter, then sort only what is shown -------------------- */

static const char *const sort_names[SORT_MAX] = {"state",  "local",  "peer", "process", "age",
						 "recv-q", "send-q", "rtt",  "retrans"};

const char *topmodel_sort_name(enum top_sort s)
{
	return s < SORT_MAX ? sort_names[s] : "?";
}

enum top_sort topmodel_sort_by_name(const char *name)
{
	for (int s = 0; s < SORT_MAX; s++)
		if (strcmp(name, sort_names[s]) == 0)
			return (enum top_sort)s;
	return SORT_MAX;
}

int topmodel_sort_needs_info(enum top_sort s)
{
	return s == SORT_RTT || s == SORT_RETRANS;
}

struct sortctx {
	const struct topmodel *m;
	enum top_sort sort;
	int reverse;
};

static int cmp_rows(const struct sortctx *c, uint32_t ia, uint32_t ib)
{
	const struct top_row *a = &c->m->rows[ia], *b = &c->m->rows[ib];
	int r = 0;

	switch (c->sort) {
	case SORT_STATE:
		r = (int)a->s.state - (int)b->s.state;
		break;
	case SORT_LOCAL:
		r = (int)a->s.family - (int)b->s.family;
		if (!r)
			r = memcmp(a->s.laddr, b->s.laddr, 16);
		if (!r)
			r = (int)a->s.lport - (int)b->s.lport;
		break;
	case SORT_PEER:
		r = (int)a->s.family - (int)b->s.family;
		if (!r)
			r = memcmp(a->s.raddr, b->s.raddr, 16);
		if (!r)
			r = (int)a->s.rport - (int)b->s.rport;
		break;
	case SORT_PROCESS:
		r = strcmp(a->comm, b->comm);
		if (!r)
			r = a->pid - b->pid;
		break;
	case SORT_AGE: /* longest in its state first */
		r = c->m->v[ia].age > c->m->v[ib].age ? -1 : c->m->v[ia].age < c->m->v[ib].age;
		break;
	case SORT_RECVQ:
		r = a->s.recv_q > b->s.recv_q ? -1 : a->s.recv_q < b->s.recv_q;
		break;
	case SORT_SENDQ:
		r = a->s.send_q > b->s.send_q ? -1 : a->s.send_q < b->s.send_q;
		break;
	case SORT_RTT:
		r = a->s.info.rtt_us > b->s.info.rtt_us ? -1 : a->s.info.rtt_us < b->s.info.rtt_us;
		break;
	case SORT_RETRANS:
		r = a->s.info.total_retrans > b->s.info.total_retrans
			    ? -1
			    : a->s.info.total_retrans < b->s.info.total_retrans;
		break;
	case SORT_MAX:
		break;
	}
	/* A stable order for equal keys, so rows do not jump between frames. */
	if (!r)
		r = (int)a->s.lport - (int)b->s.lport;
	if (!r)
		r = (int)a->s.rport - (int)b->s.rport;
	if (!r)
		r = memcmp(a->s.raddr, b->s.raddr, 16);
	return c->reverse ? -r : r;
}

static int cmp_fast(const struct sortctx *c, uint32_t ia, uint32_t ib);

static int cmp_idx(const void *a, const void *b, void *ctx)
{
	return cmp_fast(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

/*
 * For a sort of the whole table, numeric columns are sorted as compact
 * keys: the column (made ascending) and the ports, cmp_rows' first
 * tie-breaks.  The sort then reads 16-byte keys instead of rows scattered
 * over the table, and a row is looked at only when both keys tie.
 */
struct skey {
	uint64_t k1;
	uint32_t k2, idx;
};

static int sort_keyed(enum top_sort s)
{
	return s != SORT_LOCAL && s != SORT_PEER && s != SORT_PROCESS;
}

static void skey_of(struct skey *k, const struct top_row *r, uint64_t age, enum top_sort s,
		    uint32_t idx)
{
	uint64_t v = 0;
	switch (s) {
	case SORT_STATE:
		v = r->s.state;
		break;
	case SORT_AGE: /* the larger first, so the key is inverted */
		v = UINT64_MAX - age;
		break;
	case SORT_RECVQ:
		v = UINT64_MAX - r->s.recv_q;
		break;
	case SORT_SENDQ:
		v = UINT64_MAX - r->s.send_q;
		break;
	case SORT_RTT:
		v = UINT64_MAX - r->s.info.rtt_us;
		break;
	case SORT_RETRANS:
		v = UINT64_MAX - r->s.info.total_retrans;
		break;
	default:
		break;
	}
	k->k1 = v;
	k->k2 = (uint32_t)r->s.lport << 16 | r->s.rport;
	k->idx = idx;
}

static int cmp_skey(const void *pa, const void *pb, void *ctx)
{
	const struct skey *a = pa, *b = pb;
	const struct sortctx *c = ctx;
	int r;

	if (a->k1 != b->k1)
		r = a->k1 < b->k1 ? -1 : 1;
	else if (a->k2 != b->k2)
		r = a->k2 < b->k2 ? -1 : 1;
	else
		return cmp_rows(c, a->idx, b->idx); /* applies reverse itself */
	return c->reverse ? -r : r;
}

/*
 * cmp_rows, answered from the compact per-row data when the column is there
 * (age, state) and the ports break the tie: the rows themselves are read
 * only for a full tie.
 */
static int cmp_fast(const struct sortctx *c, uint32_t ia, uint32_t ib)
{
	if (c->sort != SORT_AGE && c->sort != SORT_STATE)
		return cmp_rows(c, ia, ib);
	const struct vrow *a = &c->m->v[ia], *b = &c->m->v[ib];
	uint64_t ka = c->sort == SORT_AGE ? UINT64_MAX - a->age : a->state;
	uint64_t kb = c->sort == SORT_AGE ? UINT64_MAX - b->age : b->state;
	int r;
	if (ka != kb)
		r = ka < kb ? -1 : 1;
	else if (a->ports != b->ports)
		r = a->ports < b->ports ? -1 : 1;
	else
		return cmp_rows(c, ia, ib); /* applies reverse itself */
	return c->reverse ? -r : r;
}

/* Whether row i is shown: the state from the compact data, the filter from the row. */
static int shown(const struct topmodel *m, state_mask states, const struct filter *f, size_t i)
{
	return (states & SM(m->v[i].state)) && (!f || filter_match(f, &m->rows[i].s));
}

/* Max-heap on cmp_rows: the worst of the kept rows sits on top. */
static void sift_down(const struct sortctx *c, uint32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, big = i;
		if (l < n && cmp_fast(c, h[l], h[big]) > 0)
			big = l;
		if (r < n && cmp_fast(c, h[r], h[big]) > 0)
			big = r;
		if (big == i)
			return;
		uint32_t t = h[i];
		h[i] = h[big];
		h[big] = t;
		i = big;
	}
}

static void sift_up(const struct sortctx *c, uint32_t *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (cmp_fast(c, h[i], h[p]) <= 0)
			return;
		uint32_t t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

size_t topmodel_view(const struct topmodel *m, state_mask states, const struct filter *f,
		     enum top_sort sort, int reverse, size_t first, size_t max, uint32_t *out,
		     size_t *matching)
{
	struct sortctx c = {m, sort, reverse};
	/*
	 * The rows up to first + max are kept: never more than the table, so
	 * a window past its end (End moves the cursor far down, and the screen
	 * clamps it only once it knows how many rows match) costs no more than
	 * the whole table, and the sum cannot wrap.
	 */
	size_t rest = first < m->nrows ? m->nrows - first : 0;
	size_t k = max < rest ? first + max : m->nrows, n = 0, match = 0;
	uint32_t *heap = malloc((k ? k : 1) * sizeof(*heap));

	if (!heap) {
		*matching = 0;
		return 0;
	}
	if (k >= m->nrows) {
		/*
		 * Every row may be shown (batch mode): a plain sort does about half
		 * the comparisons of a heap as large as the table.
		 */
		struct skey *keys = malloc((m->nrows ? m->nrows : 1) * sizeof(*keys));
		for (size_t i = 0; i < m->nrows; i++) {
			const struct top_row *r = &m->rows[i];
			if (!shown(m, states, f, i))
				continue;
			if (keys)
				skey_of(&keys[n], r, m->v[i].age, sort, (uint32_t)i);
			heap[n++] = (uint32_t)i;
		}
		if (keys && sort_keyed(sort)) {
			qsort_r(keys, n, sizeof(*keys), cmp_skey, &c);
			for (size_t i = 0; i < n; i++)
				heap[i] = keys[i].idx;
		} else {
			qsort_r(heap, n, sizeof(*heap), cmp_idx, &c);
		}
		free(keys);
		size_t w = 0;
		for (size_t i = first; i < n; i++)
			out[w++] = heap[i];
		free(heap);
		*matching = n;
		return w;
	}
	for (size_t i = 0; i < m->nrows; i++) {
		if (!shown(m, states, f, i))
			continue;
		match++;
		if (!k)
			continue;
		if (n < k) {
			heap[n] = (uint32_t)i;
			sift_up(&c, heap, n++);
		} else if (cmp_fast(&c, (uint32_t)i, heap[0]) < 0) {
			heap[0] = (uint32_t)i;
			sift_down(&c, heap, n, 0);
		}
	}
	/* Pop the heap into sorted order, worst last. */
	for (size_t end = n; end > 1; end--) {
		uint32_t t = heap[0];
		heap[0] = heap[end - 1];
		heap[end - 1] = t;
		sift_down(&c, heap, end - 1, 0);
	}
	size_t w = 0;
	for (size_t i = first; i < n; i++)
		out[w++] = heap[i];
	free(heap);
	*matching = match;
	return w;
}

size_t topmodel_rank(const struct topmodel *m, state_mask states, const struct filter *f,
		     enum top_sort sort, int reverse, size_t i)
{
	struct sortctx c = {m, sort, reverse};
	size_t rank = 0;

	if (!shown(m, states, f, i))
		return (size_t)-1;
	for (size_t j = 0; j < m->nrows; j++) {
		if (j == i || !shown(m, states, f, j))
			continue;
		rank += cmp_fast(&c, (uint32_t)j, (uint32_t)i) < 0;
	}
	return rank;
}
