/*
 * metrics.c - one collection counted into the metric families (metrics.h):
 * states, the ephemeral-port census and the listeners' accept queues per
 * namespace as the sockets stream past (none is stored), and the
 * CLOSE-WAIT sockets, which are remembered across collections (when each
 * was first seen, who owns it) in a table keyed by namespace and socket
 * cookie.  metrics_render.c writes the families out.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hash.h"
#include "metrics_int.h"
#include "procmap.h"

struct metrics *metrics_new(const struct metrics_config *cfg)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cfg = *cfg;
	if (!m->cfg.top_k)
		m->cfg.top_k = METRICS_TOP_K;
	m->census = census_new();
	if (!m->census) {
		free(m);
		return NULL;
	}
	return m;
}

static void ns_clear(struct ns_col *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].netns);
		free(v[i].container);
		free(v[i].eph);
		free(v[i].lq);
		free(v[i].cw);
	}
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	ns_clear(m->ns, m->nns);
	ns_clear(m->prev, m->nprev);
	free(m->ns);
	free(m->prev);
	census_free(m->census);
	free(m->lis);
	free(m->cw);
	free(m->cwidx);
	free(m);
}

void metrics_collect_error(struct metrics *m)
{
	if (!m->err_counted)
		m->errors++;
	m->err_counted = 1;
}

void metrics_begin(struct metrics *m, uint64_t now_us)
{
	/* The last collection becomes prev: its namespaces' summed counters carry over. */
	ns_clear(m->prev, m->nprev);
	struct ns_col *t = m->prev;
	size_t cap = m->capprev;
	m->prev = m->ns;
	m->nprev = m->nns;
	m->capprev = m->capns;
	m->ns = t;
	m->capns = cap;
	m->nns = 0;
	m->now_us = now_us;
	m->gen++;
	m->err_counted = 0;
	m->in_ns = 0;
}

static char *dup_or_null(const char *s, int *oom)
{
	if (!s || !*s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

int metrics_ns_begin(struct metrics *m, uint64_t ino, const char *netns, const char *container,
		     long port_lo, long port_hi, long tw_max)
{
	int oom = 0;

	if (m->in_ns)
		metrics_ns_end(m);
	if (m->nns == m->capns) {
		size_t cap = m->capns ? m->capns * 2 : 8;
		struct ns_col *v = realloc(m->ns, cap * sizeof(*v));
		if (!v) {
			metrics_collect_error(m);
			return -1;
		}
		m->ns = v;
		m->capns = cap;
	}
	struct ns_col *ns = &m->ns[m->nns];
	memset(ns, 0, sizeof(*ns));
	ns->ino = ino;
	snprintf(ns->inostr, sizeof(ns->inostr), "%llu", (unsigned long long)ino);
	ns->netns = dup_or_null(netns, &oom);
	ns->container = dup_or_null(container, &oom);
	ns->lo = port_lo > 0 && port_hi >= port_lo ? port_lo : 0;
	ns->hi = ns->lo ? port_hi : 0;
	ns->tw_max = tw_max;
	/* A counter goes on from where the last collection of this namespace left it. */
	for (size_t i = 0; i < m->nprev; i++)
		if (m->prev[i].ino == ino)
			memcpy(ns->trunc, m->prev[i].trunc, sizeof(ns->trunc));
	m->nns++;
	m->in_ns = 1;
	m->nlis = 0;
	census_begin(m->census, ns->lo, ns->hi);
	if (oom) {
		metrics_collect_error(m);
		return -1;
	}
	return 0;
}

/* ---- the CLOSE-WAIT table ---- */

static size_t cw_hash(uint64_t ino, uint64_t cookie)
{
	return (size_t)hash_mix64(cookie ^ hash_mix64(ino));
}

/*
 * Index every entry anew, at most a quarter full (grown again past half).
 * Out of memory, the table has no index, and the next cw_get tries again.
 */
static int cw_reindex(struct metrics *m)
{
	size_t cap = 128;

	while (cap < (m->ncw + 1) * 4)
		cap *= 2;
	free(m->cwidx);
	m->cwidx = calloc(cap, sizeof(*m->cwidx));
	m->cwmask = m->cwidx ? cap - 1 : 0;
	if (!m->cwidx)
		return -1;
	for (size_t i = 0; i < m->ncw; i++) {
		size_t h = cw_hash(m->cw[i].ino, m->cw[i].cookie) & m->cwmask;
		while (m->cwidx[h])
			h = (h + 1) & m->cwmask;
		m->cwidx[h] = (uint32_t)(i + 1);
	}
	return 0;
}

/* The entry of socket cookie in namespace ino, added (first seen now) if new; NULL: no memory. */
static struct cw_ent *cw_get(struct metrics *m, uint64_t ino, uint64_t cookie)
{
	if ((!m->cwidx || (m->ncw + 1) * 2 > m->cwmask + 1) && cw_reindex(m) < 0)
		return NULL;
	size_t h = cw_hash(ino, cookie) & m->cwmask;
	for (; m->cwidx[h]; h = (h + 1) & m->cwmask) {
		struct cw_ent *e = &m->cw[m->cwidx[h] - 1];
		if (e->cookie == cookie && e->ino == ino)
			return e;
	}
	if (m->ncw == m->capcw) {
		size_t cap = m->capcw ? m->capcw * 2 : 64;
		struct cw_ent *v = realloc(m->cw, cap * sizeof(*v));
		if (!v)
			return NULL;
		m->cw = v;
		m->capcw = cap;
	}
	struct cw_ent *e = &m->cw[m->ncw];
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->cookie = cookie;
	e->first_us = m->now_us;
	m->cwidx[h] = (uint32_t)++m->ncw; /* h: the empty slot the search ended on */
	return e;
}

static void cw_seen(struct metrics *m, const struct sock_rec *r)
{
	struct cw_ent *e = cw_get(m, m->ns[m->nns - 1].ino, r->cookie);

	if (!e) {
		metrics_collect_error(m);
		return;
	}
	/* Accepted since (its inode was 0): its owner is yet to be looked for. */
	if (e->inode != r->inode) {
		e->inode = r->inode;
		e->looked_up = e->found = 0;
	}
	e->gen = m->gen;
	e->ns = (uint32_t)(m->nns - 1);
}

/*
 * Forget the sockets this collection did not see in CLOSE-WAIT (closed,
 * moved on, or their namespace gone).  The memory follows the table down
 * when it has shrunk to an eighth, so a burst is not held for ever.  The
 * index is stale until cw_reindex.
 */
static void cw_sweep(struct metrics *m)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->ncw; i++)
		if (m->cw[i].gen == m->gen)
			m->cw[kept++] = m->cw[i];
	m->ncw = kept;
	if (m->capcw > 64 && kept * 8 < m->capcw) {
		struct cw_ent *v = realloc(m->cw, m->capcw / 4 * sizeof(*v));
		if (v) {
			m->cw = v;
			m->capcw /= 4;
		}
	}
}

/* ---- listeners ---- */

static void lis_add(struct metrics *m, const struct sock_rec *r)
{
	if (m->nlis == m->caplis) {
		size_t cap = m->caplis ? m->caplis * 2 : 64;
		struct lq *v = realloc(m->lis, cap * sizeof(*v));
		if (!v) {
			metrics_collect_error(m);
			return;
		}
		m->lis = v;
		m->caplis = cap;
	}
	struct lq *l = &m->lis[m->nlis++];
	memset(l, 0, sizeof(*l));
	l->family = (uint8_t)addr_canonical(r->family, r->laddr, l->addr);
	l->port = r->lport;
	l->len = r->recv_q;
	l->lim = r->send_q;
}

int metrics_add(const struct sock_rec *r, void *arg)
{
	struct metrics *m = arg;

	if (!m->in_ns)
		return 0; /* no namespace begun: nothing to count it in */
	struct ns_col *ns = &m->ns[m->nns - 1];
	int st = r->state == TS_NEW_SYN_RECV ? TS_SYN_RECV : r->state;
	if (st > TS_NONE && st < TS_MAX)
		ns->states[st]++;
	if (census_add(m->census, r, 0) < 0)
		metrics_collect_error(m);
	if (r->state == TS_LISTEN)
		lis_add(m, r);
	else if (r->state == TS_CLOSE_WAIT)
		cw_seen(m, r);
	return 0;
}

/* Fuller first: length over limit (a limit of 0 as 1), then longer, then address and port. */
static int lq_fuller(const struct lq *a, const struct lq *b)
{
	uint64_t x = (uint64_t)a->len * (b->lim ? b->lim : 1);
	uint64_t y = (uint64_t)b->len * (a->lim ? a->lim : 1);

	if (x != y)
		return x > y ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return 0;
}

static int lq_key_cmp(const struct lq *a, const struct lq *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	return a->port < b->port ? -1 : a->port > b->port;
}

/* By address and port, the fullest of each first. */
static int lq_by_key(const void *pa, const void *pb)
{
	int c = lq_key_cmp(pa, pb);
	return c ? c : lq_fuller(pa, pb);
}

static int lq_by_fullness(const void *pa, const void *pb)
{
	int c = lq_fuller(pa, pb);
	return c ? c : lq_key_cmp(pa, pb);
}

/*
 * The namespace's listeners, one per address and port (SO_REUSEPORT
 * siblings: the fullest), the top K of them kept.
 */
static void listeners_end(struct metrics *m, struct ns_col *ns)
{
	size_t n = 0;

	if (!m->nlis)
		return;
	qsort(m->lis, m->nlis, sizeof(*m->lis), lq_by_key);
	for (size_t i = 0; i < m->nlis; i++)
		if (!n || lq_key_cmp(&m->lis[n - 1], &m->lis[i]) != 0)
			m->lis[n++] = m->lis[i];
	qsort(m->lis, n, sizeof(*m->lis), lq_by_fullness);
	size_t k = n < m->cfg.top_k ? n : m->cfg.top_k;
	ns->lq = malloc(k * sizeof(*ns->lq));
	if (!ns->lq) {
		metrics_collect_error(m);
		return;
	}
	memcpy(ns->lq, m->lis, k * sizeof(*ns->lq));
	ns->nlq = k;
	ns->trunc[TR_LQ_LENGTH] += n - k;
	ns->trunc[TR_LQ_LIMIT] += n - k;
}

void metrics_ns_end(struct metrics *m)
{
	if (!m->in_ns)
		return;
	m->in_ns = 0;
	struct ns_col *ns = &m->ns[m->nns - 1];
	if (census_end(m->census) < 0)
		metrics_collect_error(m);
	uint64_t pairs = census_totals(m->census)->pairs;
	size_t k = pairs < m->cfg.top_k ? (size_t)pairs : m->cfg.top_k;
	if (k) {
		ns->eph = malloc(k * sizeof(*ns->eph));
		if (ns->eph)
			ns->neph = census_busiest(m->census, ns->eph, k);
		else
			metrics_collect_error(m);
	}
	ns->trunc[TR_EPHEMERAL] += pairs - ns->neph;
	listeners_end(m, ns);
}

/* ---- CLOSE-WAIT owners and groups ---- */

/*
 * Look for the owners of CLOSE-WAIT sockets not looked for yet, when any
 * appeared: one pass over procroot for every inode still without one, at
 * most every rescan_us (the first collection always may).  A socket may
 * be shared (fork, SCM_RIGHTS): the lowest pid names it.
 */
static void owners_resolve(struct metrics *m, const char *procroot, uint64_t rescan_us)
{
	size_t want = 0, fresh = 0;

	for (size_t i = 0; i < m->ncw; i++) {
		const struct cw_ent *e = &m->cw[i];
		want += e->inode && !e->found;
		fresh += e->inode && !e->looked_up;
	}
	if (!fresh || !procroot)
		return;
	if (m->scanned && m->now_us >= m->scan_us && m->now_us - m->scan_us < rescan_us)
		return;
	struct procmap *pm = procmap_new(want);
	for (size_t i = 0; pm && i < m->ncw; i++)
		if (m->cw[i].inode && !m->cw[i].found && procmap_want(pm, m->cw[i].inode) < 0)
			break;
	if (!pm || procmap_scan(pm, procroot) < 0) {
		procmap_free(pm);
		metrics_collect_error(m);
		return;
	}
	m->scanned = 1;
	m->scan_us = m->now_us;
	for (size_t i = 0; i < m->ncw; i++) {
		struct cw_ent *e = &m->cw[i];
		if (!e->inode || e->found)
			continue;
		e->looked_up = 1;
		const struct proc_owner *best = NULL;
		for (int k = procmap_first(pm, e->inode); k >= 0;) {
			const struct proc_owner *o = procmap_owner(pm, k);
			if (!best || o->pid < best->pid)
				best = o;
			k = o->next;
		}
		if (best) {
			e->found = 1;
			snprintf(e->comm, sizeof(e->comm), "%s", best->comm);
		}
	}
	procmap_free(pm);
}

static const char *cw_process(const struct cw_ent *e)
{
	return !e->inode ? "(accept queue)" : e->found ? e->comm : "(unknown)";
}

/* The entries in namespace order, then by process: each run of equal ones is a group. */
static int cw_by_ns_process(const void *pa, const void *pb)
{
	const struct cw_ent *a = pa, *b = pb;

	if (a->ns != b->ns)
		return a->ns < b->ns ? -1 : 1;
	return strcmp(cw_process(a), cw_process(b));
}

/* More sockets first, then the older, then by name. */
static int group_bigger(const void *pa, const void *pb)
{
	const struct cw_group *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->first_us != b->first_us)
		return a->first_us < b->first_us ? -1 : 1;
	return strcmp(a->process, b->process);
}

/* Keep the top K of one namespace's groups g[0..n) (scratch, reordered). */
static int groups_keep(struct metrics *m, struct ns_col *ns, struct cw_group *g, size_t n)
{
	qsort(g, n, sizeof(*g), group_bigger);
	size_t k = n < m->cfg.top_k ? n : m->cfg.top_k;
	ns->cw = malloc(k * sizeof(*ns->cw));
	if (!ns->cw)
		return -1;
	memcpy(ns->cw, g, k * sizeof(*g));
	ns->ncw = k;
	ns->trunc[TR_CW_SOCKETS] += n - k;
	ns->trunc[TR_CW_OLDEST] += n - k;
	return 0;
}

/*
 * Count the CLOSE-WAIT sockets per namespace and process.  The table is
 * sorted for it (the caller indexes it anew): no copy of it is made.
 */
static int cw_groups(struct metrics *m)
{
	struct cw_group *g = NULL;
	size_t ng = 0;
	int rc = 0;

	if (!m->ncw)
		return 0;
	qsort(m->cw, m->ncw, sizeof(*m->cw), cw_by_ns_process);
	g = malloc(m->ncw * sizeof(*g));
	if (!g)
		return -1;
	for (size_t i = 0; i < m->ncw; i++) {
		const struct cw_ent *e = &m->cw[i];
		if (i && cw_by_ns_process(&m->cw[i - 1], e) == 0) {
			struct cw_group *last = &g[ng - 1];
			last->count++;
			last->first_us =
				e->first_us < last->first_us ? e->first_us : last->first_us;
		} else {
			struct cw_group *ng_ = &g[ng++];
			snprintf(ng_->process, sizeof(ng_->process), "%s", cw_process(e));
			ng_->count = 1;
			ng_->first_us = e->first_us;
		}
		/* The namespace's last entry: its groups are complete. */
		if (i + 1 == m->ncw || m->cw[i + 1].ns != e->ns) {
			if (groups_keep(m, &m->ns[e->ns], g, ng) < 0)
				rc = -1;
			ng = 0;
		}
	}
	free(g);
	return rc;
}

int metrics_end(struct metrics *m, const char *procroot, uint64_t rescan_us)
{
	int rc = 0;

	metrics_ns_end(m);
	cw_sweep(m);
	owners_resolve(m, procroot, rescan_us);
	if (cw_groups(m) < 0)
		rc = -1;
	/* Swept and sorted: index the table anew. */
	if (cw_reindex(m) < 0)
		rc = -1;
	if (rc < 0)
		metrics_collect_error(m);
	return rc;
}

/* ---- the wire engine ---- */

void metrics_wire_event(struct metrics *m, const struct engine_event *ev)
{
	struct wire_counts *w = &m->wire;

	w->on = 1;
	if (ev->to > TS_NONE && ev->to < TS_MAX)
		w->transitions[ev->to == TS_NEW_SYN_RECV ? TS_SYN_RECV : ev->to]++;
	if (ev->endpoint == 1 && ev->to == TS_ESTABLISHED && ev->from != TS_ESTABLISHED)
		w->handshakes++;
	if (ev->cause == CAUSE_RST_RECEIVED) {
		/* A reset answering a SYN is a refusal, not the end of a connection. */
		if (ev->from == TS_SYN_SENT)
			w->refused++;
		else
			w->resets++;
	}
}

void metrics_wire_stats(struct metrics *m, const struct metrics_wire *w)
{
	m->wire.on = 1;
	m->wire.w = *w;
}
