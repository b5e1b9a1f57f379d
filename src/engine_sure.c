/*
 * engine_sure.c - what is still sure after the capture dropped packets.
 *
 * engine_note_drops() says that packets up to a capture time (the horizon)
 * may be missing.  Any connection could have lost a FIN or an ACK among
 * them, so each must prove its states again with segments seen after the
 * horizon.  doc/state-machine.md ("After capture drops") gives the rule and
 * why it holds; in short:
 *
 *  - An end's sequence space is proved by a segment from its peer,
 *    captured after the horizon, whose ACK is exactly that end's nxt (one
 *    past everything the capture showed it send, SYN and FIN counted): the
 *    peer has received all of it, and nothing more, so no FIN or data of
 *    that end is missing from the engine's view.  An ACK beyond nxt proves
 *    the opposite: something of that end's was missed, and its proof is
 *    withdrawn at once.
 *  - A segment without data or FIN that starts beyond nxt moves nxt over
 *    a stretch the capture missed, which may have held a FIN (EP_HOLE).
 *    That end cannot be proved until data or a FIN past the stretch show
 *    there was none.
 *  - A connection is sure when both ends' spaces are proved since the last
 *    horizon; an RST after the horizon that leaves both ends CLOSED proves
 *    both; a connection first seen after the horizon starts proved (what
 *    came before its first segment is the mid-stream rule's business).
 *
 * The proofs live outside the table's entries, a 32-bit word per pool
 * entry, made only once a drop has been noted: 24 bits of epoch (the
 * number of notes, which invalidates every older proof at once, so that a
 * note walks nothing) and a bit per end.  A word of another epoch, or 0,
 * proves nothing.
 */
#include "engine_int.h"

#include <stdlib.h>

#define EPOCH_BITS 24
#define EPOCH_MASK ((1u << EPOCH_BITS) - 1)
/* Words older than this many epochs are cleared by the sweep (eng_sure_refresh). */
#define EPOCH_STALE (1u << (EPOCH_BITS - 2))

static uint32_t epoch_now(const struct engine *e)
{
	return (uint32_t)e->st.drop_notes & EPOCH_MASK;
}

static uint32_t word_epoch(uint32_t w)
{
	return w >> 2;
}

void engine_note_drops(struct engine *e, uint64_t horizon_us)
{
	e->st.drop_notes++;
	/* A clock stepped back does not take back what the earlier horizon said. */
	if (horizon_us > e->st.drop_horizon_us)
		e->st.drop_horizon_us = horizon_us;
	/* Old words are due to be cleared: the next segment's sweep does it. */
	if (e->sure && ((epoch_now(e) - e->sure_fresh) & EPOCH_MASK) >= EPOCH_STALE)
		e->next_sweep_us = 1;
}

/* The word of pool entry self, or NULL if its block has none yet. */
static uint32_t *word_of(const struct engine *e, uint32_t self)
{
	uint32_t b = self / BLOCK;

	return b < e->sure_nb && e->sure[b] ? &e->sure[b][self % BLOCK] : NULL;
}

/* The same, made with its block's words if need be; NULL if there is no memory. */
static uint32_t *make_word(struct engine *e, uint32_t self)
{
	uint32_t b = self / BLOCK;

	if (b >= e->sure_nb) {
		uint32_t nb = e->capblocks > b ? e->capblocks : b + 1;
		uint32_t **ns = realloc(e->sure, nb * sizeof(*ns));
		if (!ns)
			return NULL;
		memset(ns + e->sure_nb, 0, (nb - e->sure_nb) * sizeof(*ns));
		e->st.bytes += (uint64_t)(nb - e->sure_nb) * sizeof(*ns);
		e->sure = ns;
		e->sure_nb = nb;
	}
	if (!e->sure[b]) {
		e->sure[b] = calloc(BLOCK, sizeof(uint32_t));
		if (!e->sure[b])
			return NULL;
		e->st.bytes += BLOCK * sizeof(uint32_t);
	}
	return &e->sure[b][self % BLOCK];
}

/*
 * Set and clear proof bits of entry self in the current epoch.  A word of
 * an older epoch has no bits that count: clearing needs no write, setting
 * starts afresh.  Without memory a proof is not recorded: unsure, not wrong.
 */
void eng_sure_update(struct engine *e, uint32_t self, unsigned set, unsigned clear)
{
	uint32_t now = epoch_now(e), *w = word_of(e, self);

	if (w && word_epoch(*w) == now) {
		*w = (*w & ~clear) | set;
		return;
	}
	if (!set || (!w && !(w = make_word(e, self))))
		return;
	*w = now << 2 | set;
}

/*
 * A connection made in entry self from a segment captured at ts: proved
 * if that is after the horizon.  Otherwise the entry's word is cleared, as
 * it may hold the proofs of the connection that had the entry before.
 */
void eng_sure_new(struct engine *e, uint32_t self, uint64_t ts)
{
	uint32_t *w;

	if (!e->st.drop_notes)
		return;
	if (ts > e->st.drop_horizon_us)
		eng_sure_update(e, self, SURE_BOTH, 0);
	else if ((w = word_of(e, self)))
		*w = 0;
}

/*
 * What a segment from side says of the two sequence spaces: its own, and
 * its peer's through its ACK.  Its own: a segment with neither data nor
 * SYN nor FIN that starts beyond nxt, or that is the first of its end the
 * capture shows, leaves below it a stretch the capture did not show, which
 * may have held a FIN (EP_HOLE); a SYN, a FIN, or data past nxt rule that
 * out (data cannot follow a FIN).  The hole is kept with or without drops
 * noted, since a drop is noted after it happens.  Runs after Zeek's machine
 * has moved nxt, before the RFC machine's events, so that they see the
 * proofs.
 */
void eng_sure_segment(struct engine *e, struct wc *c, int side, const struct segment *s,
		      uint32_t snd_nxt_before, int snd_known)
{
	struct ep *a = &c->ep[side], *b = &c->ep[1 - side];
	int rst = s->flags & TH_RST, len = s->payload_len != 0;
	int past = !snd_known || SEQ_GT(s->seq + s->payload_len, snd_nxt_before);
	int new_hole = 0;

	if ((s->flags & (TH_SYN | TH_FIN)) || (!rst && len && past)) {
		a->flags &= (uint8_t)~EP_HOLE;
	} else if (!len && past) {
		a->flags |= EP_HOLE;
		new_hole = 1;
	}
	if (!e->st.drop_notes)
		return;
	int acked = (s->flags & TH_ACK) && !rst && (b->flags & EP_SEQ);
	sure_evidence(e, c->self, side, new_hole, acked, s->ack, b->nxt, (b->flags & EP_HOLE) != 0,
		      s->ts_us);
}

/* An RST left both ends CLOSED: nothing dropped before it can change that. */
void eng_sure_closed(struct engine *e, const struct wc *c, uint64_t ts)
{
	if (e->st.drop_notes && ts > e->st.drop_horizon_us)
		eng_sure_update(e, c->self, SURE_BOTH, 0);
}

/*
 * The states end i may be in, given what the capture showed of the FINs:
 * whether it sent one, whether its peer acknowledged it, and whether the
 * peer's was received (not held back behind a gap).  Two pairs are left
 * open: CLOSING or LAST-ACK (did it send its FIN before or after the
 * peer's arrived?), TIME-WAIT or CLOSED (the same, or 2MSL passed).
 */
static state_mask fin_states(const struct wc *c, int i)
{
	const struct ep *p = &c->ep[i], *q = &c->ep[1 - i];
	int sent = (p->flags & EP_FIN) != 0;
	int acked = sent && (q->flags & EP_ACKED) && SEQ_GEQ(q->ack, p->fin_seq + 1);
	int got = (q->flags & EP_FIN) && !(q->flags & EP_FIN_PENDING);

	if (!sent && !got)
		return SM(TS_ESTABLISHED) | SM(TS_SYN_SENT) | SM(TS_SYN_RECV) | SM(TS_LISTEN);
	if (!sent)
		return SM(TS_CLOSE_WAIT);
	if (!got)
		return acked ? SM(TS_FIN_WAIT2) : SM(TS_FIN_WAIT1);
	return acked ? SM(TS_TIME_WAIT) | SM(TS_CLOSE) : SM(TS_CLOSING) | SM(TS_LAST_ACK);
}

/*
 * Do the two states follow from the FINs the capture showed?  Proofs make
 * that record complete, but the machine may have met a segment in a state
 * a dropped one would have changed, and passed over it: a FIN that reached
 * an end still in SYN-SENT because the SYN-ACK was dropped leaves it in
 * FIN-WAIT-2 for good, though both FINs and their ACKs are in the record.
 * CLOSED is explained by the peer's CLOSED too (an RST), or with the peer
 * in TIME-WAIT; an end CLOSED beside an open one (an RST that one end took
 * and the other, in truth, did not) is not.
 */
static int states_explained(const struct wc *c)
{
	for (int i = 0; i < 2; i++) {
		int st = c->ep[i].state, peer = c->ep[1 - i].state;
		if (st == TS_CLOSE && peer == TS_CLOSE)
			continue;
		if (st == TS_CLOSE && peer != TS_TIME_WAIT)
			return 0;
		if (!(fin_states(c, i) & SM(st)))
			return 0;
	}
	return 1;
}

/*
 * Are the connection's states sure as far as drops go: none noted, or
 * both ends proved since the last, with states the record explains?
 */
int eng_sure_proved(const struct engine *e, const struct wc *c)
{
	const uint32_t *w;

	if (!e->st.drop_notes)
		return 1;
	w = word_of(e, c->self);
	if (!w || word_epoch(*w) != epoch_now(e) || (*w & SURE_BOTH) != SURE_BOTH)
		return 0;
	return states_explained(c);
}

/*
 * The epoch is 24 bits: after 2^24 notes a word of an old epoch would read
 * as current.  The sweep calls this; once 2^22 notes have passed since it
 * last ran (engine_note_drops asks the next segment for a sweep then), it
 * clears every word of another epoch (0 proves nothing in any).  A word
 * could outlive 2^24 notes only if 3 x 2^22 more came with not one segment
 * or engine_advance() between them.
 */
void eng_sure_refresh(struct engine *e)
{
	uint32_t now = epoch_now(e);

	if (!e->sure || ((now - e->sure_fresh) & EPOCH_MASK) < EPOCH_STALE)
		return;
	for (uint32_t b = 0; b < e->sure_nb; b++)
		for (uint32_t i = 0; e->sure[b] && i < BLOCK; i++)
			if (word_epoch(e->sure[b][i]) != now)
				e->sure[b][i] = 0;
	e->sure_fresh = now;
}

void eng_sure_free(struct engine *e)
{
	for (uint32_t b = 0; b < e->sure_nb; b++)
		free(e->sure[b]);
	free(e->sure);
}

#ifdef ENGINE_FASTCHECK
uint32_t eng_sure_peek(const struct engine *e, uint32_t self)
{
	const uint32_t *w = word_of(e, self);
	return w ? *w : 0;
}

void eng_sure_poke(struct engine *e, uint32_t self, uint32_t word)
{
	uint32_t *w = word ? make_word(e, self) : word_of(e, self);
	if (w)
		*w = word;
}
#endif
