/*
 * engine_timer.c - time in the engine, all of it capture time: the FIFO of
 * timers due at a known time (TIME-WAIT's end, a finished connection's
 * linger), the periodic sweep for idle connections and Zeek's timers, and
 * eviction when the table is full.
 */
#include "engine_int.h"

#include <stdlib.h>

/* Grow the queue in place by half (realloc, then unwrap the ring). */
static int tq_grow(struct engine *e)
{
	size_t cap = e->tq_cap ? e->tq_cap + e->tq_cap / 2 : 1024;
	struct timer *nq = realloc(e->tq, cap * sizeof(*nq));

	if (!nq)
		return -1;
	if (e->tq_head + e->tq_len > e->tq_cap) {
		/* Wrapped: the older part moves to the new end. */
		size_t n = e->tq_cap - e->tq_head;
		memmove(nq + cap - n, nq + e->tq_head, n * sizeof(*nq));
		e->tq_head = cap - n;
	}
	e->st.bytes += (cap - e->tq_cap) * sizeof(*nq);
	e->tq = nq;
	e->tq_cap = cap;
	return 0;
}

static void tq_append(struct engine *e, uint32_t dued, uint32_t idx, uint32_t id)
{
	struct timer *t = &e->tq[(e->tq_head + e->tq_len++) % e->tq_cap];

	t->dued = dued;
	t->idx = idx;
	t->tag = (uint16_t)id;
}

void eng_timer_push(struct engine *e, const struct wc *c, uint64_t due)
{
	int64_t d = (int64_t)(due - e->tq_tail_due);
	int mark = e->tq_len && (d < INT32_MIN || d > INT32_MAX);

	while (e->tq_len + 1 + 2 * (size_t)mark > e->tq_cap)
		if (tq_grow(e) < 0)
			return; /* the periodic sweep still catches it, later */
	if (!e->tq_len) {
		e->tq_head_due = due;
		d = 0;
	} else if (mark) {
		tq_append(e, (uint32_t)due, TQ_MARK, 0);
		tq_append(e, (uint32_t)(due >> 32), TQ_MARK_HI, 0);
		d = 0;
	}
	tq_append(e, (uint32_t)(int32_t)d, c->self, c->id);
	e->tq_tail_due = due;
}

/* Take the first entry; the next one's due time follows from it. */
static struct timer tq_pop(struct engine *e)
{
	struct timer t = e->tq[e->tq_head];

	e->tq_head = (e->tq_head + 1) % e->tq_cap;
	if (--e->tq_len) {
		const struct timer *n = &e->tq[e->tq_head];
		if (n->idx == TQ_MARK) /* the high half follows it */
			e->tq_head_due =
				(uint64_t)e->tq[(e->tq_head + 1) % e->tq_cap].dued << 32 | n->dued;
		else if (n->idx != TQ_MARK_HI) /* which falls due with the TQ_MARK before it */
			e->tq_head_due += (uint64_t)(int64_t)(int32_t)n->dued;
	}
	return t;
}

/* Fire the queued timers due by now: TIME-WAIT ends, finished connections leave. */
void eng_run_timers(struct engine *e, uint64_t now)
{
	while (e->tq_len) {
		if (e->tq_head_due > now)
			break;
		struct timer t = tq_pop(e);
		if (t.idx == TQ_MARK || t.idx == TQ_MARK_HI)
			continue;
		struct conn *slot = at(e, t.idx);
		if (!slot->id || (uint16_t)slot->id != t.tag)
			continue; /* that connection is gone */
		struct wc w, *c = &w;
		eng_load(e, slot, c);
		eng_fire_timewait(e, c, now);
		if (!e->cfg.zeek && c->ep[0].state == TS_CLOSE && c->ep[1].state == TS_CLOSE) {
			if (c->last_us + e->cfg.time_wait_us <= now) {
				eng_free_conn(e, c, CLOSE_FINISHED);
				continue;
			}
			/* a late packet moved its linger on */
			eng_timer_push(e, c, c->last_us + e->cfg.time_wait_us);
		}
		eng_store(e, c);
	}
}

/*
 * Could this entry expire by now?  What rfc_expired() and zeek_expired()
 * need first, read from the entry as it is: nothing expires before its
 * last packet is older than the shortest of their timeouts, or its attempt
 * timer is due.  The sweep loads only the entries that pass, so that it
 * does not stall the engine for a walk through a large table (the file's
 * reader thread waits meanwhile).
 */
static int may_expire(const struct engine *e, const struct conn *c, uint64_t now)
{
	uint64_t first = slot_first(c);
	const struct ext *x = c->ext ? &e->xs[c->ext] : NULL;

	if (e->cfg.zeek) {
		uint64_t attempt_ms = x ? x->attempt_ms : 5000; /* as eng_load() gives it */
		if ((c->cf & C_ATTEMPT) && first + attempt_ms * 1000 <= now)
			return 1;
		uint64_t zlast = x ? x->zlast_us : first + c->zlastd;
		uint64_t soon = e->cfg.idle_timeout_us < 5000000 ? e->cfg.idle_timeout_us : 5000000;
		return zlast + soon <= now;
	}
	uint64_t last = x ? x->last_us : first + c->lastd;
	uint64_t soon = e->cfg.idle_timeout_us < e->cfg.time_wait_us ? e->cfg.idle_timeout_us
								     : e->cfg.time_wait_us;
	return last + soon <= now;
}

/* Walk the table for the timers not queued: idle expiry, and Zeek's. */
void eng_sweep(struct engine *e, uint64_t now)
{
	eng_run_timers(e, now);
	eng_sure_refresh(e);
	for (uint32_t i = 0; i < e->used; i++) {
		struct conn *slot = at(e, i);
		if (!slot->id || !may_expire(e, slot, now))
			continue; /* free, or in use by now */
		struct wc w, *c = &w;
		eng_load(e, slot, c);
		if (e->cfg.zeek) {
			if (zeek_expired(e, c, now))
				eng_free_conn(e, c, CLOSE_ZEEK);
			continue;
		}
		enum close_reason why;
		if (rfc_expired(e, c, now, &why)) {
			if (why == CLOSE_IDLE)
				e->st.expired++;
			eng_free_conn(e, c, why);
		}
	}
}

/*
 * The table is full: make room.  Look at a few entries from the clock hand
 * and evict the best candidate: finished first, then half-open (never
 * established both ways), then the longest idle.
 */
int eng_evict_one(struct engine *e)
{
	struct wc best, w, *c = &w;
	int best_rank = -1;

	for (uint32_t n = 0; n < 16 && e->used; n++) {
		struct conn *slot = at(e, e->hand);
		e->hand = (e->hand + 1) % e->used;
		if (!slot->id)
			continue;
		eng_load(e, slot, c);
		int rank;
		if (closedish(c->ep[0].state) && closedish(c->ep[1].state))
			rank = 3;
		else if (c->ep[0].state != TS_ESTABLISHED || c->ep[1].state != TS_ESTABLISHED)
			rank = 2;
		else
			rank = 1;
		if (rank > best_rank || (rank == best_rank && c->last_us < best.last_us)) {
			best = w;
			best_rank = rank;
		}
	}
	if (best_rank < 0)
		return -1;
	e->st.evicted++;
	eng_free_conn(e, &best, CLOSE_EVICTED);
	return 0;
}
