/*
 * engine_rfc.c - the RFC 9293 endpoint machine (ep.state): the transitions
 * a segment causes at its sender and its receiver, the events they emit,
 * the states of a connection's first segment, TIME-WAIT's end, and the
 * rules for a tuple's reuse and a connection's expiry in the default mode.
 * doc/state-machine.md describes what it infers and what it cannot know.
 */
#include "engine_int.h"

static void emit(struct engine *e, struct wc *c, int side, int to, enum cause why, uint64_t ts)
{
	struct ep *p = &c->ep[side];
	struct engine_event ev;

	if (p->state == to)
		return;
	uint32_t *dur = dur_of(e, c);
	if (dur && p->state < TS_MAX) /* whole ms of the capture's clock: the sum telescopes */
		dur[side * TS_MAX + p->state] += rel_ms(c, ts) - rel_ms(c, p->since_us);
	ev.ts_us = ts;
	ev.endpoint = (uint8_t)side;
	ev.from = p->state;
	ev.to = (uint8_t)to;
	ev.cause = (uint8_t)why;
	p->state = (uint8_t)to;
	p->since_us = since_at(c, ts);
	e->st.transitions++;
	if (to == TS_TIME_WAIT)
		eng_timer_push(e, c, ts + e->cfg.time_wait_us);
	else if (to == TS_CLOSE && c->ep[1 - side].state == TS_CLOSE)
		eng_timer_push(e, c, c->last_us + e->cfg.time_wait_us); /* finished: linger */
	if (e->hooks.event) {
		/* The hook reads the table's entry: bring it up to date. */
		eng_store(e, c);
		ev.conn = c->slot;
		e->hooks.event(e->hooks.arg, &ev);
	}
}

/* Fire the TIME-WAIT timers of one connection that are due by now. */
void eng_fire_timewait(struct engine *e, struct wc *c, uint64_t now)
{
	for (int side = 0; side < 2; side++) {
		struct ep *p = &c->ep[side];
		if (p->state != TS_TIME_WAIT)
			continue;
		uint64_t due = p->since_us + e->cfg.time_wait_us;
		if (due <= now)
			emit(e, c, side, TS_CLOSE, CAUSE_TIMEWAIT_EXPIRED, due);
	}
}

/* The receiver side processes the peer's FIN (RFC 9293 3.10.7.4, eighth). */
static void fin_received(struct engine *e, struct wc *c, int side, uint64_t ts)
{
	struct ep *p = &c->ep[side];

	switch (p->state) {
	case TS_ESTABLISHED:
	case TS_SYN_RECV:
		emit(e, c, side, TS_CLOSE_WAIT, CAUSE_FIN_RECEIVED, ts);
		break;
	case TS_FIN_WAIT1:
		/* Our FIN is not yet acknowledged: both are closing at once. */
		emit(e, c, side, TS_CLOSING, CAUSE_FIN_RECEIVED, ts);
		break;
	case TS_FIN_WAIT2:
		emit(e, c, side, TS_TIME_WAIT, CAUSE_FIN_RECEIVED, ts);
		break;
	case TS_TIME_WAIT:
		/* A retransmitted FIN restarts the 2MSL timer. */
		p->since_us = since_at(c, ts);
		eng_timer_push(e, c, ts + e->cfg.time_wait_us);
		break;
	default:
		break;
	}
}

/*
 * RFC 9293 3.10.7.3: in SYN-SENT an ACK is acceptable if ISS < SEG.ACK <=
 * SND.NXT; a SYN that carried data (TCP Fast Open) is acked beyond ISS + 1.
 */
static int syn_acked(const struct ep *p, uint32_t ack)
{
	if (!(p->flags & EP_SEQ))
		return 1;
	uint32_t top = SEQ_GT(p->nxt, p->isn + 1) ? p->nxt : p->isn + 1;
	return SEQ_GT(ack, p->isn) && SEQ_LEQ(ack, top);
}

/* RFC 5961 section 3 / RFC 9293 3.10.7.4: is this RST in the receiver's window? */
static int rst_acceptable(const struct wc *c, int rcv, const struct segment *s, uint32_t snd_nxt,
			  int snd_known)
{
	const struct ep *r = &c->ep[rcv];

	if (r->state == TS_SYN_SENT) /* 3.10.7.3: only if it acknowledges our SYN */
		return (s->flags & TH_ACK) && syn_acked(r, s->ack);
	if (!snd_known)
		return 1; /* nothing to check against: picked up mid-stream */
	uint32_t wnd = r->win;
	if ((r->flags & EP_WSCALE) && (c->ep[1 - rcv].flags & EP_WSCALE))
		wnd <<= r->wscale;
	if (wnd == 0)
		wnd = 1;
	/* One below rcv_nxt is allowed after a FIN, as Linux's tcp_reset_check. */
	return SEQ_GEQ(s->seq, snd_nxt - 1) && SEQ_LT(s->seq, snd_nxt + wnd);
}

void rfc_segment(struct engine *e, struct wc *c, int side, const struct segment *s,
		 uint32_t snd_nxt_before, int snd_known)
{
	struct ep *a = &c->ep[side], *b = &c->ep[1 - side];
	int rcv = 1 - side;
	uint64_t ts = s->ts_us;
	int syn = s->flags & TH_SYN, ackf = s->flags & TH_ACK, fin = s->flags & TH_FIN,
	    rst = s->flags & TH_RST;

	/* A FIN of the peer's that we held back (a gap) is received once acked. */
	if (ackf && (b->flags & EP_FIN_PENDING) && SEQ_GEQ(s->ack, b->fin_seq + 1)) {
		b->flags &= (uint8_t)~EP_FIN_PENDING;
		fin_received(e, c, side, ts);
	}

	if (rst) {
		int closes = b->state == TS_CLOSE ||
			     rst_acceptable(c, rcv, s, snd_nxt_before, snd_known);
		/* Both ends end CLOSED: sure, whatever the capture dropped before. */
		if (closes)
			eng_sure_closed(e, c, ts);
		if (a->state != TS_CLOSE)
			emit(e, c, side, TS_CLOSE, CAUSE_RST_SENT, ts);
		if (b->state != TS_CLOSE) {
			if (closes)
				emit(e, c, rcv, TS_CLOSE, CAUSE_RST_RECEIVED, ts);
			else
				e->st.rst_ignored++;
		}
		return;
	}

	/* --- the sender --- */
	if (syn && !ackf) {
		if (a->state == TS_NONE || a->state == TS_CLOSE || a->state == TS_LISTEN)
			emit(e, c, side, TS_SYN_SENT, CAUSE_SYN_SENT, ts);
		/* In SYN-RECEIVED already: a simultaneous open; it stays there. */
	} else if (syn && ackf) {
		if (a->state == TS_NONE || a->state == TS_CLOSE || a->state == TS_LISTEN ||
		    a->state == TS_SYN_SENT)
			emit(e, c, side, TS_SYN_RECV, CAUSE_SYNACK_SENT, ts);
	}
	if (!syn && ackf && a->state == TS_SYN_SENT) {
		/* It acknowledges the peer's SYN, so it received a SYN-ACK we missed. */
		emit(e, c, side, TS_ESTABLISHED, CAUSE_ACK_SENT_NO_SYNACK, ts);
	}
	if (fin) {
		uint32_t fs = s->seq + s->payload_len + (syn ? 1 : 0);
		if (!(a->flags & EP_FIN)) {
			a->flags |= EP_FIN;
			a->fin_seq = fs;
		}
		switch (a->state) {
		case TS_ESTABLISHED:
		case TS_SYN_RECV:
			emit(e, c, side, TS_FIN_WAIT1, CAUSE_FIN_SENT, ts);
			break;
		case TS_CLOSE_WAIT:
			/*
			 * If this FIN does not acknowledge the peer's FIN, it was
			 * sent before that FIN arrived: the two crossed, and this
			 * side is CLOSING, not LAST-ACK (RFC 9293 figure 13).
			 */
			if (ackf && (b->flags & EP_FIN) && SEQ_LT(s->ack, b->fin_seq + 1))
				emit(e, c, side, TS_CLOSING, CAUSE_FINS_CROSSED, ts);
			else
				emit(e, c, side, TS_LAST_ACK, CAUSE_FIN_SENT, ts);
			break;
		default:
			break; /* a retransmission */
		}
	}

	/* --- the receiver --- */
	if (syn && !ackf) {
		/* From SYN-SENT too: the two SYNs crossed, a simultaneous open. */
		if (b->state == TS_NONE || b->state == TS_LISTEN || b->state == TS_CLOSE ||
		    b->state == TS_SYN_SENT)
			emit(e, c, rcv, TS_SYN_RECV, CAUSE_SYN_RECEIVED, ts);
	} else if (syn && ackf) {
		if (b->state == TS_SYN_SENT && syn_acked(b, s->ack))
			emit(e, c, rcv, TS_ESTABLISHED, CAUSE_SYNACK_RECEIVED, ts);
		else if (b->state == TS_SYN_RECV && (b->flags & EP_SEQ) && SEQ_GT(s->ack, b->isn))
			emit(e, c, rcv, TS_ESTABLISHED, CAUSE_SYNACK_RECEIVED, ts);
	} else if (ackf) {
		int fin_acked = (b->flags & EP_FIN) && SEQ_GEQ(s->ack, b->fin_seq + 1);
		switch (b->state) {
		case TS_SYN_RECV:
			if ((b->flags & EP_SEQ) && SEQ_GT(s->ack, b->isn))
				emit(e, c, rcv, TS_ESTABLISHED, CAUSE_ACK_OF_SYN, ts);
			break;
		case TS_FIN_WAIT1:
			if (fin_acked)
				emit(e, c, rcv, TS_FIN_WAIT2, CAUSE_ACK_OF_FIN, ts);
			break;
		case TS_CLOSING:
			if (fin_acked)
				emit(e, c, rcv, TS_TIME_WAIT, CAUSE_ACK_OF_FIN, ts);
			break;
		case TS_LAST_ACK:
			if (fin_acked)
				emit(e, c, rcv, TS_CLOSE, CAUSE_ACK_OF_FIN, ts);
			break;
		default:
			break;
		}
	}
	if (fin) {
		/* In order if it starts at or before what the sender had sent. */
		int in_order = !snd_known || SEQ_LEQ(s->seq, snd_nxt_before);
		if (in_order)
			fin_received(e, c, rcv, ts);
		else
			a->flags |= EP_FIN_PENDING;
	}
}

/* Initial RFC states of a new connection, from the first segment. */
void eng_start_states(struct engine *e, struct wc *c, int side, const struct segment *s)
{
	int syn = s->flags & TH_SYN, ack = s->flags & TH_ACK;

	if (syn && !ack) {
		c->ep[side].state = TS_CLOSE;
		c->ep[1 - side].state = TS_LISTEN;
	} else if (syn && ack) {
		/* We missed the SYN: the originator must be waiting in SYN-SENT. */
		c->ep[1 - side].state = TS_SYN_SENT;
		c->ep[side].state = TS_LISTEN;
		c->ep[1 - side].isn = s->ack - 1;
		c->ep[1 - side].nxt = s->ack;
		c->ep[1 - side].flags |= EP_SEQ;
	} else {
		/* Mid-stream: both ends start ESTABLISHED. */
		c->cflags |= C_MIDSTREAM;
		c->ep[0].state = c->ep[1].state = TS_NONE;
		emit(e, c, 0, TS_ESTABLISHED, CAUSE_MIDSTREAM, s->ts_us);
		emit(e, c, 1, TS_ESTABLISHED, CAUSE_MIDSTREAM, s->ts_us);
	}
}

/* Our own rule: a bare SYN on a finished tuple, or a new ISN for an
 * unanswered attempt, starts a new instance. */
int rfc_reuse(const struct wc *c, int dir, const struct segment *s)
{
	const struct ep *a = &c->ep[dir];

	if ((s->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN)
		return 0;
	if (closedish(c->ep[0].state) && closedish(c->ep[1].state))
		return 1;
	return a->state == TS_SYN_SENT && (a->flags & EP_SEQ) && s->seq != a->isn &&
	       c->ep[1 - dir].state != TS_ESTABLISHED;
}

/* Close out an instance that a new SYN replaces. */
void eng_end_instance(struct engine *e, struct wc *c, enum cause why, uint64_t ts)
{
	for (int side = 0; side < 2; side++)
		if (c->ep[side].state != TS_CLOSE)
			emit(e, c, side, TS_CLOSE, why, ts);
	e->st.reused++;
	eng_free_conn(e, c, CLOSE_REUSED);
}

/* Should this connection leave the table at time now (default mode)? */
int rfc_expired(const struct engine *e, const struct wc *c, uint64_t now, enum close_reason *why)
{
	if (c->ep[0].state == TS_CLOSE && c->ep[1].state == TS_CLOSE) {
		/* Finished: linger 2MSL so late retransmissions find it. */
		if (c->last_us + e->cfg.time_wait_us <= now) {
			*why = CLOSE_FINISHED;
			return 1;
		}
		return 0;
	}
	if (c->last_us + e->cfg.idle_timeout_us <= now) {
		*why = CLOSE_IDLE;
		return 1;
	}
	return 0;
}
