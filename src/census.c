/*
 * census.c - ephemeral ports in use, per source address and destination
 * (see census.h).
 *
 * census_add() keeps each socket whose local port lies in the range, 40
 * bytes each, and each listener whose port does; census_end() then marks
 * the listening ports in a bitmap, drops the sockets a listener covers and
 * counts the rest per (source, destination) in an open-addressing hash
 * table; a second table, filled once per pair, counts the distinct
 * destinations and sources.
 */
#include "census.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "hash.h"
#include "state.h"

/* A socket on a port of the range, its addresses in canonical form. */
struct cand {
	uint8_t lfamily, rfamily;
	uint8_t time_wait, fresh;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

/* A listener on a port of the range: which local addresses it holds the port on. */
struct lis {
	uint8_t family; /* canonical */
	uint8_t any4;	/* every IPv4 address (0.0.0.0, or [::] without IPV6_V6ONLY) */
	uint8_t any6;	/* every IPv6 address ([::]) */
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

struct slot {
	uint8_t used;
	struct census_dest d;
};

/* An open-addressing hash table of census_dests, at most half full. */
struct table {
	struct slot *s;
	size_t cap, n;
};

struct census {
	long lo, hi;
	struct cand *cand;
	size_t ncand, capcand;
	struct lis *lis;
	size_t nlis, caplis;
	struct table pairs;		/* the counts, per source and destination */
	struct table ends;		/* the distinct destinations and sources of pairs[] */
	uint64_t listening[65536 / 64]; /* ports with a listener in lis[] */
	struct census_totals tot;
	int failed;
};

struct census *census_new(void)
{
	return calloc(1, sizeof(struct census));
}

void census_free(struct census *c)
{
	if (!c)
		return;
	free(c->cand);
	free(c->lis);
	free(c->pairs.s);
	free(c->ends.s);
	free(c);
}

/* Empty, keeping its memory for the next count. */
static void table_clear(struct table *t)
{
	if (t->s)
		memset(t->s, 0, t->cap * sizeof(*t->s));
	t->n = 0;
}

void census_begin(struct census *c, long lo, long hi)
{
	c->lo = lo;
	c->hi = hi;
	c->ncand = 0;
	c->nlis = 0;
	table_clear(&c->pairs);
	table_clear(&c->ends);
	memset(&c->tot, 0, sizeof(c->tot));
	c->failed = 0;
}

/* Room for one more element of size sz in *arr (n used of *cap). */
static int room(void **arr, size_t n, size_t *cap, size_t sz, size_t first)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : first;
	void *p = realloc(*arr, ncap * sz);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int add_listener(struct census *c, const struct sock_rec *r)
{
	if (room((void **)&c->lis, c->nlis, &c->caplis, sizeof(*c->lis), 16) < 0)
		return -1;
	struct lis *l = &c->lis[c->nlis++];
	memset(l, 0, sizeof(*l));
	l->family = (uint8_t)addr_canonical(r->family, r->laddr, l->addr);
	l->port = r->lport;
	if (addr_any(l->family, l->addr)) {
		l->any4 = l->family == AF_INET || !r->v6only;
		l->any6 = l->family == AF_INET6;
	}
	return 0;
}

int census_add(struct census *c, const struct sock_rec *r, int fresh)
{
	if (c->lo <= 0 || r->lport < c->lo || r->lport > c->hi)
		return 0;
	int rc;
	if (r->state == TS_LISTEN) {
		rc = add_listener(c, r);
	} else {
		rc = room((void **)&c->cand, c->ncand, &c->capcand, sizeof(*c->cand), 1024);
		if (rc == 0) {
			struct cand *k = &c->cand[c->ncand++];
			k->lfamily = (uint8_t)addr_canonical(r->family, r->laddr, k->laddr);
			k->rfamily = (uint8_t)addr_canonical(r->family, r->raddr, k->raddr);
			k->time_wait = r->state == TS_TIME_WAIT;
			k->fresh = fresh != 0;
			k->lport = r->lport;
			k->rport = r->rport;
		}
	}
	if (rc < 0)
		c->failed = 1;
	return rc;
}

static int lis_cmp(const void *a, const void *b)
{
	const struct lis *x = a, *y = b;
	return (int)x->port - (int)y->port;
}

/* Whether a listener holds k's local port on k's local address. */
static int on_listening_port(const struct census *c, const struct cand *k)
{
	if (!(c->listening[k->lport / 64] >> (k->lport % 64) & 1))
		return 0;
	/* The first listener on the port: lis[] is sorted by port. */
	size_t lo = 0, hi = c->nlis;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->lis[mid].port < k->lport)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->nlis && c->lis[i].port == k->lport; i++) {
		const struct lis *l = &c->lis[i];
		if ((k->lfamily == AF_INET && l->any4) || (k->lfamily == AF_INET6 && l->any6) ||
		    (l->family == k->lfamily && memcmp(l->addr, k->laddr, 16) == 0))
			return 1;
	}
	return 0;
}

/*
 * Keys of the tables: a pair (both ends), a destination (src_family 0) or
 * a source (family 0).  A real address has a family, so the three kinds
 * never meet.
 */
static size_t key_hash(const struct census_dest *k)
{
	uint64_t a, b, x, y;
	memcpy(&a, k->addr, 8);
	memcpy(&b, k->addr + 8, 8);
	memcpy(&x, k->src, 8);
	memcpy(&y, k->src + 8, 8);
	uint64_t h = hash_mix64(
		b ^ ((uint64_t)k->family << 24 | (uint64_t)k->src_family << 16 | k->port));
	return (size_t)hash_mix64(a ^ hash_mix64(x ^ hash_mix64(y ^ h)));
}

static int key_eq(const struct census_dest *a, const struct census_dest *b)
{
	return a->family == b->family && a->src_family == b->src_family && a->port == b->port &&
	       memcmp(a->addr, b->addr, 16) == 0 && memcmp(a->src, b->src, 16) == 0;
}

/*
 * The slot of key k in a table of cap slots; a free one is claimed with
 * k's contents, counts included, and *claimed says so.
 */
static struct slot *key_slot(struct slot *t, size_t cap, const struct census_dest *k, int *claimed)
{
	*claimed = 0;
	for (size_t i = key_hash(k) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct slot *s = &t[i];
		if (!s->used) {
			s->used = 1;
			s->d = *k;
			*claimed = 1;
			return s;
		}
		if (key_eq(&s->d, k))
			return s;
	}
}

/*
 * k's entry in t, claimed if new (*claimed says so); the table grows to
 * stay at most half full.  NULL when out of memory.
 */
static struct census_dest *key_get(struct table *t, const struct census_dest *k, int *claimed)
{
	if (t->n * 2 >= t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct slot *nt = calloc(ncap, sizeof(*nt));
		if (!nt)
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].used)
				key_slot(nt, ncap, &t->s[i].d, claimed);
		free(t->s);
		t->s = nt;
		t->cap = ncap;
	}
	struct slot *s = key_slot(t->s, t->cap, k, claimed);
	t->n += (size_t)*claimed;
	return &s->d;
}

/* Count k's socket in its pair. */
static int count_pair(struct census *c, const struct cand *k)
{
	struct census_dest key;
	int claimed;

	memset(&key, 0, sizeof(key));
	key.family = k->rfamily;
	key.src_family = k->lfamily;
	key.port = k->rport;
	memcpy(key.addr, k->raddr, 16);
	memcpy(key.src, k->laddr, 16);
	struct census_dest *d = key_get(&c->pairs, &key, &claimed);
	if (!d)
		return -1;
	d->in_use++;
	d->time_wait += k->time_wait;
	d->fresh += k->fresh;
	c->tot.in_use++;
	c->tot.time_wait += k->time_wait;
	return 0;
}

/*
 * The distinct destinations and sources among the pairs: once per pair,
 * not per socket, as there are far fewer pairs.
 */
static int count_ends(struct census *c)
{
	for (size_t i = 0; i < c->pairs.cap; i++) {
		const struct census_dest *p = &c->pairs.s[i].d;
		struct census_dest dest, src;
		int claimed;
		if (!c->pairs.s[i].used)
			continue;
		memset(&dest, 0, sizeof(dest));
		dest.family = p->family;
		dest.port = p->port;
		memcpy(dest.addr, p->addr, 16);
		if (!key_get(&c->ends, &dest, &claimed))
			return -1;
		c->tot.dests += (uint64_t)claimed;
		memset(&src, 0, sizeof(src));
		src.src_family = p->src_family;
		memcpy(src.src, p->src, 16);
		if (!key_get(&c->ends, &src, &claimed))
			return -1;
		c->tot.sources += (uint64_t)claimed;
	}
	return 0;
}

int census_end(struct census *c)
{
	memset(c->listening, 0, sizeof(c->listening));
	if (c->nlis) /* lis may still be NULL */
		qsort(c->lis, c->nlis, sizeof(*c->lis), lis_cmp);
	for (size_t i = 0; i < c->nlis; i++)
		c->listening[c->lis[i].port / 64] |= 1ull << (c->lis[i].port % 64);
	for (size_t i = 0; i < c->ncand; i++) {
		const struct cand *k = &c->cand[i];
		if (on_listening_port(c, k)) {
			c->tot.on_listen++;
		} else if (count_pair(c, k) < 0) {
			c->failed = 1;
			break;
		}
	}
	if (count_ends(c) < 0)
		c->failed = 1;
	c->tot.pairs = c->pairs.n;
	return c->failed ? -1 : 0;
}

const struct census_totals *census_totals(const struct census *c)
{
	return &c->tot;
}

/*
 * 1 if a sorts before b: busier, then more in TIME-WAIT, then by
 * destination, then by source.
 */
static int busier(const struct census_dest *a, const struct census_dest *b)
{
	if (a->in_use != b->in_use)
		return a->in_use > b->in_use;
	if (a->time_wait != b->time_wait)
		return a->time_wait > b->time_wait;
	if (a->family != b->family)
		return a->family < b->family;
	int m = memcmp(a->addr, b->addr, 16);
	if (m || a->port != b->port)
		return m ? m < 0 : a->port < b->port;
	if (a->src_family != b->src_family)
		return a->src_family < b->src_family;
	return memcmp(a->src, b->src, 16) < 0;
}

size_t census_busiest(const struct census *c, struct census_dest *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->pairs.cap && max; i++) {
		if (!c->pairs.s[i].used)
			continue;
		const struct census_dest *d = &c->pairs.s[i].d;
		if (n == max && !busier(d, &out[n - 1]))
			continue;
		/* Insert in order; the least busy falls off the end when full. */
		size_t j = n < max ? n++ : n - 1;
		for (; j > 0 && busier(d, &out[j - 1]); j--)
			out[j] = out[j - 1];
		out[j] = *d;
	}
	return n;
}
