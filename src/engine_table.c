/*
 * engine_table.c - the engine's connection table: a pool of fixed-size
 * entries in blocks (stable addresses, no copying on growth), a chained
 * hash over them keyed symmetrically on the two ends, the extension records
 * for what does not fit an entry, the packed form (eng_store() and eng_load(),
 * between an entry and the working copy the machines use), and making and
 * freeing connections.
 */
#include "engine_int.h"

#include "hash.h"

#include <stdlib.h>
#include <sys/mman.h>

/* A zeroed block, number n; its pages are touched only as entries are used. */
static struct conn *block_new(uint32_t n)
{
	uint8_t *p = mmap(NULL, 2 * BLOCK_SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	uint8_t *b = (uint8_t *)(((uintptr_t)p + BLOCK_SPAN - 1) & ~(BLOCK_SPAN - 1));
	if (b > p)
		munmap(p, (size_t)(b - p));
	munmap(b + BLOCK_SPAN, (size_t)(p + BLOCK_SPAN - b));
	memcpy(b, &n, sizeof(n));
	return (struct conn *)(b + BLOCK_HDR);
}

void eng_block_free(struct conn *c)
{
	munmap((uint8_t *)c - BLOCK_HDR, BLOCK_SPAN);
}

/*
 * One end as a 64-bit word: a v4 address and port exactly, a v6 one mixed
 * whole (every one of its 128 bits and the port reach the word: a scan
 * from one /112 varies only the last 16).
 */
static uint64_t end_word(const uint8_t *a, int len, uint16_t port)
{
	if (len == 4) {
		uint32_t v;
		memcpy(&v, a, 4);
		return (uint64_t)v << 16 | port;
	}
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	return hash_mix64(x ^ hash_mix64(y ^ port));
}

/*
 * Symmetric in the two ends, so both directions find the same bucket: the
 * two ends are ordered before mixing.  One multiply-mix per packet for IPv4
 * (it is on every packet's path).
 */
static uint32_t hash_key(int family, uint16_t vlan, uint16_t vlan_inner, const uint8_t *a1,
			 uint16_t p1, const uint8_t *a2, uint16_t p2)
{
	int len = family == AF_INET6 ? 16 : 4;
	uint64_t x = end_word(a1, len, p1), y = end_word(a2, len, p2);
	uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
	uint64_t k = (uint64_t)vlan << 32 | (uint64_t)vlan_inner << 16 | (uint64_t)family;
	return (uint32_t)hash_mix64(lo * 0x9e3779b97f4a7c15ULL ^ hi ^ k << 48 ^ k);
}

static uint32_t conn_hash(const struct engine *e, const struct conn *c)
{
	uint16_t vlan, inner;

	slot_vlan(e, c, &vlan, &inner);
	return hash_key(slot_family(e, c), vlan, inner, slot_addr(c, 0), c->port[0],
			slot_addr(c, 1), c->port[1]);
}

int eng_grow_buckets(struct engine *e)
{
	uint32_t n = e->nbuckets ? e->nbuckets * 2 : 1024;
	uint32_t *b = calloc(n, sizeof(*b));

	if (!b)
		return -1;
	for (uint32_t i = 0; i < e->nbuckets; i++) {
		for (uint32_t k = e->buckets[i]; k;) {
			struct conn *c = at(e, k - 1);
			uint32_t next = c->next, h = conn_hash(e, c) & (n - 1);
			c->next = b[h];
			b[h] = k;
			k = next;
		}
	}
	free(e->buckets);
	e->st.bytes += (uint64_t)(n - e->nbuckets) * sizeof(*b);
	e->buckets = b;
	e->nbuckets = n;
	return 0;
}

static void unlink_conn(struct engine *e, struct conn *c, uint32_t idx)
{
	uint32_t *pp = &e->buckets[conn_hash(e, c) & (e->nbuckets - 1)];

	while (*pp && *pp != idx + 1)
		pp = &at(e, *pp - 1)->next;
	if (*pp)
		*pp = c->next;
}

/* ---- extension records -------------------------------------------------- */

/* Make room for more; the free list runs through last_us. */
int eng_ext_grow(struct engine *e)
{
	uint32_t cap = e->xcap ? e->xcap * 2 : 64;
	struct ext *nx;

	if (cap <= e->xcap)
		return -1;
	nx = realloc(e->xs, (size_t)cap * sizeof(*nx));
	if (!nx)
		return -1;
	for (uint32_t i = cap - 1; i >= (e->xcap ? e->xcap : 1); i--) {
		nx[i].last_us = e->xfree;
		e->xfree = i;
	}
	e->st.bytes += (uint64_t)(cap - e->xcap) * sizeof(*nx);
	e->xs = nx;
	e->xcap = cap;
	return 0;
}

static uint32_t ext_alloc(struct engine *e)
{
	if (!e->xfree && eng_ext_grow(e) < 0)
		return 0;
	uint32_t x = e->xfree;
	e->xfree = (uint32_t)e->xs[x].last_us;
	memset(&e->xs[x], 0, sizeof(e->xs[x]));
	return x;
}

static void ext_free(struct engine *e, uint32_t x)
{
	e->xs[x].last_us = e->xfree;
	e->xfree = x;
}

/* An endpoint's fields that every entry holds, the short-form ones left 0. */
static void pack_base(struct pep *pp, const struct ep *p)
{
	pp->isn = p->isn;
	pp->nxt = p->nxt;
	pp->sinced = 0;
	pp->win = p->win;
	pp->w1 = PEP_PUT(p->state, PEP_STATE) | PEP_PUT(p->flags >> 7, PEP_HOLE); /* EP_HOLE */
	pp->w2 = PEP_PUT(p->flags, PEP_FLAGS) | PEP_PUT(p->wscale, PEP_WSCALE) |
		 PEP_PUT(p->z, PEP_Z) | PEP_PUT(p->zprev, PEP_ZPREV) | PEP_PUT(p->hseen, PEP_HSEEN);
	pp->bytes = 0;
	pp->ackd = 0;
	pp->cnt = 0;
}

/*
 * The short form of a connection's endpoints and times, if it holds them
 * exactly; 0 if not.  Each rule is the inverse of what eng_load() computes
 * without an extension.  Checking and packing in one pass: eng_store() runs
 * for every segment that takes the full path.
 */
static int pack_short(const struct wc *w, struct pep pp[2], uint32_t *lastd, uint32_t *zlastd)
{
	uint64_t last = w->last_us - w->first_us, zlast = w->zlast_us - w->first_us;

	/* (A time before first_us wraps, and fails as too far.) */
	if (last > UINT32_MAX || zlast > UINT32_MAX)
		return 0;
	if (w->family != ((w->cflags & C_V6) ? AF_INET6 : AF_INET) ||
	    w->attempt_ms != ((w->cflags & C_ATTEMPT) ? 5000u : 0))
		return 0;
	if (w->instance != 1 || w->vlan || w->vlan_inner || w->hw[1])
		return 0;
	/* Both ends checked before either is written: pp may be the entry itself. */
	uint32_t find[2];
	int32_t ackd[2];
	int code[2];
	uint64_t since[2];
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side], *q = &w->ep[1 - side];
		/* (A 2MSL end after the last packet may lie further out than last.) */
		since[side] = p->since_us - w->first_us;
		if (since[side] > UINT32_MAX)
			return 0;
		find[side] = p->nxt - p->fin_seq;
		ackd[side] = (int32_t)(q->nxt - p->ack);
		if (p->bytes > UINT32_MAX || p->pkts >= 1u << 20)
			return 0;
		if ((p->flags & EP_FIN) ? find[side] > 127 : p->fin_seq != 0)
			return 0;
		if ((p->flags & EP_ACKED) ? ackd[side] != (int16_t)ackd[side] : p->ack != 0)
			return 0;
		if (p->hist_syn || p->hist_fin != usual_hist_fin(p) ||
		    p->hist_rst != usual_hist_rst(p))
			return 0;
		if (p->cnt_c > 3 || p->cnt_w > 3 || p->cnt_t > 15 || p->cnt_g > 255)
			return 0;
		code[side] = contig_code(p, q);
		if (code[side] < 0)
			return 0;
	}
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side];
		struct pep *o = &pp[side];
		pack_base(o, p);
		o->sinced = (uint32_t)since[side];
		o->bytes = (uint32_t)p->bytes;
		o->w1 |= PEP_PUT(p->pkts, PEP_PKTS);
		if (p->flags & EP_FIN)
			o->w1 |= PEP_PUT(find[side], PEP_FIND);
		if (p->flags & EP_ACKED)
			o->ackd = (int16_t)ackd[side];
		o->w2 |= PEP_PUT(code[side], PEP_CONTIGD);
		o->cnt = (uint16_t)(PEP_PUT(p->cnt_c, PEP_CNT_C) | PEP_PUT(p->cnt_w, PEP_CNT_W) |
				    PEP_PUT(p->cnt_t, PEP_CNT_T) | PEP_PUT(p->cnt_g, PEP_CNT_G));
	}
	*lastd = (uint32_t)last;
	*zlastd = (uint32_t)zlast;
	return 1;
}

/*
 * Write a connection back to its table entry.  Fails only if it needs an
 * extension and none can be had (engine_input_hashed keeps one in reserve).
 */
int eng_store(struct engine *e, const struct wc *w)
{
	struct conn *c = w->slot;
	uint32_t lastd = 0, zlastd = 0;
	/*
	 * Packed straight into the entry: building them on the stack and
	 * copying made each copy wait for the bytes just written (a failed
	 * store-to-load forward, a tenth of eng_store()).  pack_short() writes
	 * nothing unless both ends fit, and the extension is had before
	 * pack_base() writes: a eng_store() that fails leaves the entry as it was.
	 */
	int full = c->ext || !pack_short(w, c->ep, &lastd, &zlastd);

	if (full) {
		if (!c->ext && !(c->ext = ext_alloc(e)))
			return -1;
		pack_base(&c->ep[0], &w->ep[0]);
		pack_base(&c->ep[1], &w->ep[1]);
	}
	c->id = w->id;
	c->port[0] = w->port[0];
	c->port[1] = w->port[1];
	if (w->cflags & C_V6)
		memcpy(c->addr, &w->addr.v6, sizeof(w->addr.v6));
	else
		memcpy(c->addr, w->addr.v4, sizeof(c->addr));
	c->cf = (uint16_t)(w->cflags | ((w->vlan | w->vlan_inner) ? C_VLAN : 0) |
			   (w->family != AF_INET && w->family != AF_INET6 ? C_FAMILY : 0)) &
		0x1ff;
	c->first_lo = (uint32_t)w->first_us;
	c->first_hi = (uint32_t)(w->first_us >> 32);
	c->hw = w->hw[0];
	c->lastd = lastd;
	c->zlastd = zlastd;
	if (!full)
		return 0;
	struct ext *x = &e->xs[c->ext];
	x->last_us = w->last_us;
	x->zlast_us = w->zlast_us;
	x->hw1 = w->hw[1];
	x->attempt_ms = w->attempt_ms;
	x->instance = w->instance;
	x->vlan = w->vlan;
	x->vlan_inner = w->vlan_inner;
	x->family = w->family;
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side];
		x->since_us[side] = p->since_us;
		x->bytes[side] = p->bytes;
		x->pkts[side] = p->pkts;
		x->fin_seq[side] = p->fin_seq;
		x->ack[side] = p->ack;
		x->contig[side] = p->contig;
		x->hist_syn[side] = p->hist_syn;
		x->hist_fin[side] = p->hist_fin;
		x->hist_rst[side] = p->hist_rst;
		x->cnt[side][0] = p->cnt_c;
		x->cnt[side][1] = p->cnt_w;
		x->cnt[side][2] = p->cnt_t;
		x->cnt[side][3] = p->cnt_g;
	}
	return 0;
}

/* Read a table entry into a working copy. */
void eng_load(const struct engine *e, const struct conn *c, struct wc *w)
{
	w->slot = (struct conn *)c;
	w->self = self_of(c);
	w->id = c->id;
	w->family = (uint8_t)slot_family(e, c);
	w->cflags = c->cf & ~(C_VLAN | C_FAMILY);
	w->port[0] = c->port[0];
	w->port[1] = c->port[1];
	if (c->cf & C_V6)
		memcpy(&w->addr.v6, c->addr, sizeof(w->addr.v6));
	else
		memcpy(w->addr.v4, c->addr, sizeof(c->addr));
	w->first_us = slot_first(c);
	w->hw[0] = c->hw;
	for (int side = 0; side < 2; side++) {
		const struct pep *pp = &c->ep[side];
		struct ep *p = &w->ep[side];
		p->isn = pp->isn;
		p->nxt = pp->nxt;
		p->since_us = w->first_us + pp->sinced; /* the extension's, if any, below */
		p->win = pp->win;
		p->state = (uint8_t)PEP_FIELD(pp->w1, PEP_STATE);
		p->flags =
			(uint8_t)(PEP_FIELD(pp->w2, PEP_FLAGS) | PEP_FIELD(pp->w1, PEP_HOLE) << 7);
		p->wscale = (uint8_t)PEP_FIELD(pp->w2, PEP_WSCALE);
		p->z = (uint8_t)PEP_FIELD(pp->w2, PEP_Z);
		p->zprev = (uint8_t)PEP_FIELD(pp->w2, PEP_ZPREV);
		p->hseen = (uint8_t)PEP_FIELD(pp->w2, PEP_HSEEN);
	}
	if (c->ext) {
		const struct ext *x = &e->xs[c->ext];
		w->last_us = x->last_us;
		w->zlast_us = x->zlast_us;
		w->hw[1] = x->hw1;
		w->attempt_ms = x->attempt_ms;
		w->instance = x->instance;
		w->vlan = x->vlan;
		w->vlan_inner = x->vlan_inner;
		for (int side = 0; side < 2; side++) {
			struct ep *p = &w->ep[side];
			p->since_us = x->since_us[side];
			p->bytes = x->bytes[side];
			p->pkts = x->pkts[side];
			p->fin_seq = x->fin_seq[side];
			p->ack = x->ack[side];
			p->contig = x->contig[side];
			p->hist_syn = x->hist_syn[side];
			p->hist_fin = x->hist_fin[side];
			p->hist_rst = x->hist_rst[side];
			p->cnt_c = x->cnt[side][0];
			p->cnt_w = x->cnt[side][1];
			p->cnt_t = x->cnt[side][2];
			p->cnt_g = x->cnt[side][3];
		}
	} else {
		w->last_us = w->first_us + c->lastd;
		w->zlast_us = w->first_us + c->zlastd;
		w->hw[1] = 0;
		w->attempt_ms = (w->cflags & C_ATTEMPT) ? 5000 : 0;
		w->instance = 1;
		w->vlan = w->vlan_inner = 0;
		for (int side = 0; side < 2; side++) {
			const struct pep *pp = &c->ep[side];
			struct ep *p = &w->ep[side];
			const struct ep *q = &w->ep[1 - side];
			p->bytes = pp->bytes;
			p->pkts = PEP_FIELD(pp->w1, PEP_PKTS);
			p->fin_seq = (p->flags & EP_FIN) ? p->nxt - PEP_FIELD(pp->w1, PEP_FIND) : 0;
			p->ack = (p->flags & EP_ACKED) ? q->nxt - (uint32_t)(int32_t)pp->ackd : 0;
			p->hist_syn = 0;
			p->hist_fin = usual_hist_fin(p);
			p->hist_rst = usual_hist_rst(p);
			p->cnt_c = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_C);
			p->cnt_w = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_W);
			p->cnt_t = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_T);
			p->cnt_g = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_G);
		}
		/* The in-order points last: they may count from the ACKs. */
		for (int side = 0; side < 2; side++)
			w->ep[side].contig =
				contig_decode(&w->ep[side], &w->ep[1 - side],
					      (uint8_t)PEP_FIELD(c->ep[side].w2, PEP_CONTIGD));
	}
	w->hlen = (uint8_t)hist_len(w->hw);
}

void eng_free_conn(struct engine *e, struct wc *w, enum close_reason why)
{
	struct conn *c = w->slot;
	uint32_t idx = w->self;

	if (e->hooks.closed) {
		eng_store(e, w);
		e->hooks.closed(e->hooks.arg, c, why);
	}
	unlink_conn(e, c, idx);
	if (w->cflags & C_V6) {
		free(w->addr.v6);
		e->st.bytes -= 32;
	}
	if (c->ext)
		ext_free(e, c->ext);
	uint32_t *dur = dur_of(e, w);
	if (dur)
		memset(dur, 0, 2 * TS_MAX * sizeof(uint32_t));
	memset(c, 0, sizeof(*c));
	c->next = e->free_head;
	e->free_head = idx + 1;
	e->st.live--;
}

/* A free entry, and a blank working copy for it. */
static struct conn *alloc_conn(struct engine *e, struct wc *w)
{
	uint32_t idx;

	if (e->free_head) {
		idx = e->free_head - 1;
		e->free_head = at(e, idx)->next;
	} else {
		if (e->used == e->nblocks * BLOCK) {
			if (e->nblocks == e->capblocks) {
				uint32_t cap = e->capblocks ? e->capblocks * 2 : 8;
				struct conn **nb = realloc(e->blocks, cap * sizeof(*nb));
				if (!nb)
					return NULL;
				e->blocks = nb;
				e->capblocks = cap;
			}
			e->blocks[e->nblocks] = block_new(e->nblocks);
			if (!e->blocks[e->nblocks])
				return NULL;
			if (e->cfg.keep_durations) {
				uint32_t **nd = realloc(e->durblocks, e->capblocks * sizeof(*nd));
				if (nd)
					e->durblocks = nd;
				if (!nd || !(nd[e->nblocks] = calloc((size_t)BLOCK * 2 * TS_MAX,
								     sizeof(uint32_t)))) {
					/* Not counted in nblocks yet: give it back. */
					eng_block_free(e->blocks[e->nblocks]);
					return NULL;
				}
				e->st.bytes += (uint64_t)BLOCK * 2 * TS_MAX * sizeof(uint32_t);
			}
			e->nblocks++;
			e->st.bytes += BLOCK * sizeof(struct conn);
		}
		idx = e->used++;
	}
	struct conn *c = at(e, idx);
	memset(c, 0, sizeof(*c));
	memset(w, 0, sizeof(*w));
	w->slot = c;
	w->self = idx;
	return c;
}

/* A new connection in *c, in the table; -1 if there is no room. */
int eng_new_conn(struct engine *e, const struct segment *s, uint32_t h, int flip, uint16_t instance,
		 struct wc *c)
{
	struct conn *slot;

	if (e->st.live >= e->cfg.max_conns && eng_evict_one(e) < 0)
		return -1;
	if ((e->st.live + 1) > (uint64_t)e->nbuckets && eng_grow_buckets(e) < 0)
		return -1;
	slot = alloc_conn(e, c);
	if (!slot)
		return -1;
	int len = s->family == AF_INET6 ? 16 : 4;
	const uint8_t *a0 = flip ? s->daddr : s->saddr, *a1 = flip ? s->saddr : s->daddr;
	c->family = s->family;
	c->vlan = s->vlan;
	c->vlan_inner = s->vlan_inner;
	c->port[0] = flip ? s->dport : s->sport;
	c->port[1] = flip ? s->sport : s->dport;
	if (s->family == AF_INET6) {
		c->addr.v6 = malloc(32);
		if (!c->addr.v6) {
			slot->next = e->free_head;
			e->free_head = c->self + 1;
			return -1;
		}
		c->cflags |= C_V6;
		e->st.bytes += 32;
	}
	memcpy((uint8_t *)addr_of(c, 0), a0, (size_t)len);
	memcpy((uint8_t *)addr_of(c, 1), a1, (size_t)len);
	c->first_us = c->last_us = c->zlast_us = s->ts_us;
	c->ep[0].since_us = c->ep[1].since_us = s->ts_us;
	/* 0 marks a free entry: after 2^32 connections (days of a busy live capture) skip it. */
	if (!++e->next_id)
		++e->next_id;
	c->id = e->next_id;
	c->instance = instance;
	c->cflags |= C_ZEEK_ACTIVE;
	if (flip)
		eng_add_hist(c, 0, '^');
	/* The entry is complete before it is linked (lookups read its tags). */
	if (eng_store(e, c) < 0) {
		if (c->cflags & C_V6) {
			free(c->addr.v6);
			e->st.bytes -= 32;
		}
		memset(slot, 0, sizeof(*slot));
		slot->next = e->free_head;
		e->free_head = c->self + 1;
		e->next_id--;
		return -1;
	}
	uint32_t b = h & (e->nbuckets - 1);
	slot->next = e->buckets[b];
	e->buckets[b] = c->self + 1;
	eng_sure_new(e, c->self, s->ts_us);
	e->st.conns++;
	e->st.live++;
	if (e->st.live > e->st.peak)
		e->st.peak = e->st.live;
	return 0;
}

uint32_t engine_hash_config(const struct engine_config *cfg, const struct segment *s)
{
	/* Some networks tag one direction only: --ignore-vlan keys without the tags. */
	int tags = !cfg->ignore_vlan;
	return hash_key(s->family, tags ? s->vlan : 0, tags ? s->vlan_inner : 0, s->saddr, s->sport,
			s->daddr, s->dport);
}

uint32_t engine_hash(const struct engine *e, const struct segment *s)
{
	return engine_hash_config(&e->cfg, s);
}

void engine_prefetch(const struct engine *e, uint32_t h, int stage)
{
	if (!e->nbuckets)
		return;
	const uint32_t *b = &e->buckets[h & (e->nbuckets - 1)];
	if (stage == 0) {
		__builtin_prefetch(b);
		return;
	}
	if (!*b)
		return;
	/* Entries are not line-aligned: the last byte may be a line further. */
	const char *c = (const char *)at(e, *b - 1);
	for (size_t o = 0; o < sizeof(struct conn); o += 64)
		__builtin_prefetch(c + o, 1);
	__builtin_prefetch(c + sizeof(struct conn) - 1, 1);
}
