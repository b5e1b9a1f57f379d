/*
 * topmodel.c - what `tcpstate top` knows between refreshes.
 *
 * Each refresh brings the kernel's sockets.  A table keyed by 4-tuple
 * remembers, per socket, when it was first seen in its state and which
 * process held it; TIME-WAIT sockets have no owner in the kernel, so the
 * owner of the same 4-tuple's earlier socket is carried over.  /proc is
 * scanned only when sockets with unknown owners appear, at most every two
 * seconds: at 100k sockets a scan costs more than a refresh.
 */
#include "topmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hash.h"
#include "procmap.h"

#define EVENT_RING 262144u

struct memo {
	uint8_t used;
	uint8_t family;
	uint8_t state;
	uint8_t has_owner;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	uint64_t since_us;
	pid_t pid;
	int fd;
	char comm[16];
};

struct ring_event {
	uint32_t conn_id;
	struct top_event ev;
};

struct topmodel {
	struct top_row *rows;
	size_t nrows, caprows;
	struct memo *memo, *spare; /* this refresh's table, and the last one's, reused */
	size_t memo_cap, spare_cap;
	uint64_t last_scan_us, last_refresh_us;
	struct top_stats st;
	struct ring_event *ring;
	size_t ring_next, ring_count;
	/* destination rates, smoothed */
	struct top_dest prev_dest[3];
	int nprev_dest;
};

static size_t tuple_hash(int family, const uint8_t *la, uint16_t lp, const uint8_t *ra,
			 uint16_t rp)
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

static struct memo *memo_find(struct memo *t, size_t cap, const struct sock_rec *r, int insert)
{
	if (!cap)
		return NULL;
	size_t i = tuple_hash(r->family, r->laddr, r->lport, r->raddr, r->rport) & (cap - 1);
	for (;; i = (i + 1) & (cap - 1)) {
		struct memo *m = &t[i];
		if (!m->used) {
			if (!insert)
				return NULL;
			memset(m, 0, sizeof(*m));
			m->used = 1;
			m->family = r->family;
			m->lport = r->lport;
			m->rport = r->rport;
			memcpy(m->laddr, r->laddr, 16);
			memcpy(m->raddr, r->raddr, 16);
			m->state = 0;
			return m;
		}
		if (m->family == r->family && m->lport == r->lport && m->rport == r->rport &&
		    memcmp(m->laddr, r->laddr, 16) == 0 && memcmp(m->raddr, r->raddr, 16) == 0)
			return m;
	}
}

struct topmodel *topmodel_new(void)
{
	struct topmodel *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ring = calloc(EVENT_RING, sizeof(*m->ring));
	if (!m->ring) {
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
	free(m->memo);
	free(m->spare);
	free(m->ring);
	free(m);
}

static long read_long(const char *path, long *second)
{
	FILE *f = fopen(path, "r");
	long a = -1, b = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &a, &b) < 1)
		a = -1;
	fclose(f);
	if (second)
		*second = b;
	return a;
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
			snprintf(r->comm, sizeof(r->comm), "%s", o->comm);
			r->remembered = 0;
			struct memo *me = memo_find(m->memo, m->memo_cap, &r->s, 0);
			if (me) {
				me->has_owner = 1;
				me->pid = r->pid;
				me->fd = r->fd;
				memcpy(me->comm, r->comm, sizeof(me->comm));
			}
		}
	}
	procmap_free(pm);
}

static int by_dest(const void *a, const void *b)
{
	const struct top_row *x = *(const struct top_row *const *)a;
	const struct top_row *y = *(const struct top_row *const *)b;
	int c = (int)x->s.family - (int)y->s.family;
	if (c)
		return c;
	c = memcmp(x->s.raddr, y->s.raddr, 16);
	return c ? c : (int)x->s.rport - (int)y->s.rport;
}

static void header_stats(struct topmodel *m, double dt, const uint8_t *is_new)
{
	struct top_stats *st = &m->st;
	long hi = -1;

	memset(st->count, 0, sizeof(st->count));
	st->total = m->nrows;
	st->tw_max = read_long("/proc/sys/net/ipv4/tcp_max_tw_buckets", NULL);
	st->port_lo = read_long("/proc/sys/net/ipv4/ip_local_port_range", &hi);
	st->port_hi = hi;
	st->ephemeral_in_use = 0;
	for (size_t i = 0; i < m->nrows; i++)
		st->count[m->rows[i].s.state]++;
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

	/* Ephemeral ports, grouped by destination. */
	const struct top_row **eph = malloc((m->nrows ? m->nrows : 1) * sizeof(*eph));
	size_t n = 0;
	if (!eph)
		return;
	if (st->port_lo > 0) {
		for (size_t i = 0; i < m->nrows; i++) {
			const struct top_row *r = &m->rows[i];
			if (r->s.state == TS_LISTEN || r->s.lport < st->port_lo || r->s.lport > hi)
				continue;
			eph[n++] = r;
		}
	}
	st->ephemeral_in_use = (uint32_t)n;
	/* Group by destination; a row's index gives back its is_new flag. */
	if (n)
		qsort(eph, n, sizeof(*eph), by_dest);
	struct top_dest top[3];
	int ntop = 0;
	double range = st->port_lo > 0 ? (double)(hi - st->port_lo + 1) : 0;
	for (size_t i = 0; i < n;) {
		struct top_dest d;
		size_t j = i, fresh = 0;
		memset(&d, 0, sizeof(d));
		d.family = eph[i]->s.family;
		memcpy(d.addr, eph[i]->s.raddr, 16);
		d.port = eph[i]->s.rport;
		for (; j < n && by_dest(&eph[i], &eph[j]) == 0; j++) {
			d.in_use++;
			d.time_wait += eph[j]->s.state == TS_TIME_WAIT;
			fresh += is_new[eph[j] - m->rows];
		}
		i = j;
		d.rate = dt > 0 ? (double)fresh / dt : 0;
		int slot = ntop < 3 ? ntop++ : -1;
		if (slot < 0) {
			int worst = 0;
			for (int k = 1; k < 3; k++)
				if (top[k].in_use < top[worst].in_use)
					worst = k;
			if (top[worst].in_use >= d.in_use)
				continue;
			slot = worst;
		}
		top[slot] = d;
	}
	for (int a = 0; a < ntop; a++)
		for (int b = a + 1; b < ntop; b++)
			if (top[b].in_use > top[a].in_use) {
				struct top_dest t = top[a];
				top[a] = top[b];
				top[b] = t;
			}
	for (int k = 0; k < ntop; k++) {
		struct top_dest *d = &top[k];
		/* Smooth the rate with the last refresh's, for the same destination. */
		for (int p = 0; p < m->nprev_dest; p++)
			if (m->prev_dest[p].family == d->family && m->prev_dest[p].port == d->port &&
			    memcmp(m->prev_dest[p].addr, d->addr, 16) == 0)
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
	free(eph);

	/* Who holds the CLOSE-WAIT sockets, and since when. */
	st->nholder = 0;
	struct top_holder h[64];
	int nh = 0;
	for (size_t i = 0; i < m->nrows; i++) {
		const struct top_row *r = &m->rows[i];
		if (r->s.state != TS_CLOSE_WAIT)
			continue;
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

int topmodel_refresh(struct topmodel *m, const struct sock_rec *rows, size_t nrows,
		     uint64_t now_us, uint64_t rescan_us, const char *procroot)
{
	double dt = m->last_refresh_us ? (double)(now_us - m->last_refresh_us) / 1e6 : 0;
	int first = m->last_refresh_us == 0;

	if (nrows > m->caprows) {
		size_t cap = nrows + nrows / 4 + 64;
		struct top_row *nr = realloc(m->rows, cap * sizeof(*nr));
		if (!nr)
			return -1;
		m->rows = nr;
		m->caprows = cap;
	}
	/* The new memo table: sized for this refresh, at most half full. */
	size_t cap = 64;
	while (cap < nrows * 2)
		cap <<= 1;
	/* The table of two refreshes ago is the right size most of the time. */
	struct memo *fresh;
	if (m->spare && m->spare_cap == cap) {
		fresh = m->spare;
		memset(fresh, 0, cap * sizeof(*fresh));
	} else {
		free(m->spare);
		fresh = calloc(cap, sizeof(*fresh));
	}
	m->spare = NULL;
	uint8_t *is_new = malloc(nrows ? nrows : 1);
	if (!fresh || !is_new) {
		free(fresh);
		free(is_new);
		return -1;
	}
	size_t unknown = 0;
	m->nrows = nrows;
	for (size_t i = 0; i < nrows; i++) {
		struct top_row *r = &m->rows[i];
		memset(r, 0, sizeof(*r));
		r->s = rows[i];
		const struct memo *old = memo_find(m->memo, m->memo_cap, &rows[i], 0);
		struct memo *me = memo_find(fresh, cap, &rows[i], 1);
		is_new[i] = !old && !first;
		if (old) {
			*me = *old;
		}
		if (!old || old->state != rows[i].state) {
			me->state = rows[i].state;
			me->since_us = now_us;
		}
		r->since_us = me->since_us;
		r->age_us = now_us > me->since_us ? now_us - me->since_us : 0;
		if (me->has_owner) {
			r->pid = me->pid;
			r->fd = me->fd;
			memcpy(r->comm, me->comm, sizeof(r->comm));
			/* The kernel no longer names an owner: this is memory. */
			r->remembered = rows[i].inode == 0;
		} else if (rows[i].inode) {
			unknown++;
		}
	}
	m->spare = m->memo;
	m->spare_cap = m->memo_cap;
	m->memo = fresh;
	m->memo_cap = cap;
	if (procroot && unknown && now_us >= m->last_scan_us + rescan_us) {
		resolve_owners(m, procroot);
		m->last_scan_us = now_us;
	}
	header_stats(m, dt, is_new);
	free(is_new);
	m->last_refresh_us = now_us;
	return 0;
}

/* ---- the join with the wire engine ------------------------------------- */

struct wkey {
	uint8_t used, family, matched;
	uint16_t port[2];
	uint8_t addr[2][16];
	uint32_t id;
	uint8_t state[2];
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

static void add_conn(void *arg, const struct conn *c)
{
	struct joinctx *j = arg;
	struct conn_info ci;

	engine_conn_info(j->e, c, &ci);
	uint8_t a[16] = {0}, b[16] = {0};
	memcpy(a, ci.addr[0], ci.family == AF_INET ? 4 : 16);
	memcpy(b, ci.addr[1], ci.family == AF_INET ? 4 : 16);
	size_t i = wkey_hash(ci.family, a, ci.port[0], b, ci.port[1]) & (j->cap - 1);
	while (j->t[i].used) {
		struct wkey *k = &j->t[i];
		/* A newer instance of the same tuple wins. */
		if (k->family == ci.family && k->port[0] == ci.port[0] && k->port[1] == ci.port[1] &&
		    !memcmp(k->addr[0], a, 16) && !memcmp(k->addr[1], b, 16)) {
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
	engine_foreach(e, add_conn, &j);
	for (size_t i = 0; i < m->nrows; i++) {
		struct top_row *r = &m->rows[i];
		size_t h = wkey_hash(r->s.family, r->s.laddr, r->s.lport, r->s.raddr, r->s.rport) &
			   (j.cap - 1);
		for (;; h = (h + 1) & (j.cap - 1)) {
			struct wkey *k = &j.t[h];
			if (!k->used)
				break;
			if (k->family != r->s.family)
				continue;
			int local;
			if (k->port[0] == r->s.lport && k->port[1] == r->s.rport &&
			    !memcmp(k->addr[0], r->s.laddr, 16) && !memcmp(k->addr[1], r->s.raddr, 16))
				local = 0;
			else if (k->port[1] == r->s.lport && k->port[0] == r->s.rport &&
				 !memcmp(k->addr[1], r->s.laddr, 16) &&
				 !memcmp(k->addr[0], r->s.raddr, 16))
				local = 1;
			else
				continue;
			k->matched = 1;
			r->conn_id = k->id;
			r->wire[0] = k->state[local];
			r->wire[1] = k->state[1 - local];
			if (k->state[local] == r->s.state && k->since[local] <= r->since_us) {
				r->since_us = k->since[local];
				r->age_us = now_us > r->since_us ? now_us - r->since_us : 0;
				r->since_exact = 1;
			}
			/* A disagreement that has lasted a second is worth a flag. */
			r->disagree = k->state[local] != r->s.state &&
				      now_us > k->since[local] + 1000000 &&
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
		if (m->nrows == m->caprows) {
			size_t cap = m->caprows ? m->caprows * 2 : 256;
			struct top_row *nr = realloc(m->rows, cap * sizeof(*nr));
			if (!nr)
				break;
			m->rows = nr;
			m->caprows = cap;
		}
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
		r->wire_only = 1;
		r->conn_id = k->id;
		r->since_us = k->since[0];
		r->age_us = wnow > k->since[0] ? wnow - k->since[0] : 0;
		r->since_exact = 1;
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
	re->ev.local = ev->endpoint; /* resolved to local/peer by the viewer */
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

const struct top_stats *topmodel_stats(const struct topmodel *m)
{
	return &m->st;
}

/* ---- the view: filter, then sort only what is shown -------------------- */

const char *topmodel_sort_name(enum top_sort s)
{
	static const char *const n[SORT_MAX] = {"state", "local", "peer",   "process", "age",
						"recv-q", "send-q", "rtt", "retrans"};
	return s < SORT_MAX ? n[s] : "?";
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
		r = a->age_us > b->age_us ? -1 : a->age_us < b->age_us;
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

/* Max-heap on cmp_rows: the worst of the kept rows sits on top. */
static void sift_down(const struct sortctx *c, uint32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, big = i;
		if (l < n && cmp_rows(c, h[l], h[big]) > 0)
			big = l;
		if (r < n && cmp_rows(c, h[r], h[big]) > 0)
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
		if (cmp_rows(c, h[i], h[p]) <= 0)
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
	size_t k = first + max, n = 0, match = 0;
	uint32_t *heap = malloc((k ? k : 1) * sizeof(*heap));

	if (!heap) {
		*matching = 0;
		return 0;
	}
	for (size_t i = 0; i < m->nrows; i++) {
		const struct top_row *r = &m->rows[i];
		if (!(states & SM(r->s.state)) || !filter_match(f, &r->s))
			continue;
		match++;
		if (!k)
			continue;
		if (n < k) {
			heap[n] = (uint32_t)i;
			sift_up(&c, heap, n++);
		} else if (cmp_rows(&c, (uint32_t)i, heap[0]) < 0) {
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
	const struct top_row *sel = &m->rows[i];
	size_t rank = 0;

	if (!(states & SM(sel->s.state)) || !filter_match(f, &sel->s))
		return (size_t)-1;
	for (size_t j = 0; j < m->nrows; j++) {
		const struct top_row *r = &m->rows[j];
		if (j == i || !(states & SM(r->s.state)) || !filter_match(f, &r->s))
			continue;
		rank += cmp_rows(&c, (uint32_t)j, (uint32_t)i) < 0;
	}
	return rank;
}
