/*
 * engine_fast.c - a segment's way into the engine (engine_input_hashed:
 * the due timers, the lookup, then the fast path or the full one), and the
 * fast path itself: the common ACK between two established ends, applied
 * to the packed table entry without the working copy or the machines; and,
 * built with -DENGINE_FASTCHECK, the check that it does exactly what the
 * full path does (tests/pcap/test_fastpath.sh).
 */
#include "engine_int.h"

#ifdef ENGINE_FASTCHECK
#include <stdio.h> /* the check build reports a mismatch */
#include <stdlib.h>
#endif

/* eng_add_hist() for fast_ack(): -1 if the letter would not go in the entry's first word. */
static int fast_letter(uint64_t *hw, int side, char letter)
{
	unsigned n = word_letters(*hw);

	if (n >= HIST_WORD) /* (HIST_WORD < HIST_MAX: the letter is due) */
		return -1;
	*hw |= hist_code(side, letter) << 5 * n;
	return 0;
}

/*
 * The RFC states this ACK may meet, and the one it moves the receiver to
 * (0: none); -1 if it is not the fast path's.  The sender has sent no FIN:
 * ESTABLISHED, or CLOSE-WAIT (its peer has).  The receiver ESTABLISHED,
 * FIN-WAIT-2, or in a state this ACK may end: SYN-RECEIVED (the
 * handshake's last ACK) or FIN-WAIT-1 (the ACK of its FIN), as
 * rfc_segment() finds.  Those transitions set no timer, and are taken here
 * only when nothing listens for events and no durations are kept.  A
 * sender whose space has a hole (EP_HOLE, engine_sure.c) goes the full way:
 * its data may clear it.
 */
static int fast_rfc(const struct engine *e, const struct conn *c, int dir, const struct segment *s,
		    uint32_t b_fin)
{
	const struct pep *pa = &c->ep[dir], *pb = &c->ep[1 - dir];
	const unsigned bf = PEP_FIELD(pb->w2, PEP_FLAGS);
	/* The sender's state with its hole bit, in one: one with a hole is the full path's. */
	unsigned ash = PEP_FIELD(pa->w1, PEP_STATE_HOLE), bst = PEP_FIELD(pb->w1, PEP_STATE),
		 to = 0;

	if (ash != TS_ESTABLISHED << 1 && ash != TS_CLOSE_WAIT << 1)
		return -1;
	switch (bst) {
	case TS_ESTABLISHED:
	case TS_FIN_WAIT2:
		break;
	case TS_SYN_RECV:
		if (SEQ_GT(s->ack, pb->isn)) /* (EP_SEQ: required by fast_ends()) */
			to = TS_ESTABLISHED;
		break;
	case TS_FIN_WAIT1:
		if ((bf & EP_FIN) && SEQ_GEQ(s->ack, b_fin + 1))
			to = TS_FIN_WAIT2;
		break;
	default:
		return -1;
	}
	if (to && (e->hooks.event || e->durblocks))
		return -1;
	return (int)to;
}

/*
 * Zeek's machine and the flags: 1 if they leave the segment to the fast
 * path.  The sender established, or partial (picked up mid-stream); the
 * receiver the same, or closed (it sent a FIN).  No FIN from the sender,
 * none from the receiver still held back (that one is received once
 * acknowledged); both sequence spaces known; no F or R key that follows
 * nxt (see pack_short()).
 */
static int fast_ends(uint32_t a2, uint32_t b2)
{
	const unsigned af = PEP_FIELD(a2, PEP_FLAGS), bf = PEP_FIELD(b2, PEP_FLAGS);
	unsigned az = PEP_FIELD(a2, PEP_Z), bz = PEP_FIELD(b2, PEP_Z);

	if ((az != Z_ESTABLISHED && az != Z_PARTIAL) ||
	    (bz != Z_ESTABLISHED && bz != Z_PARTIAL && bz != Z_CLOSED))
		return 0;
	if ((af & (EP_FIN | EP_DID_CLOSE)) || (bf & EP_FIN_PENDING) || !(af & bf & EP_SEQ))
		return 0;
	return !(PEP_FIELD(a2, PEP_HSEEN) & (H_FIN | H_RST));
}

/*
 * Expiry, as zeek_expired() and rfc_expired() would find it.  Zeek's idle
 * timeout is the long one: both ends are past the handshake, so
 * C_ESTABLISHED_ONCE is set.  Its other timers need an end closed or reset
 * with the other closed, inactive or reset too; the sender is neither.
 */
static int fast_expired(const struct engine *e, const struct conn *c, uint64_t first, uint64_t ts)
{
	if (e->cfg.zeek)
		return (c->cf & C_CLOSE_COMPLETE) ||
		       first + c->zlastd + e->cfg.idle_timeout_us <= ts;
	return first + c->lastd + e->cfg.idle_timeout_us <= ts;
}

/* An end's sequence points at full width, as eng_load() gives them. */
struct fast_seq {
	uint32_t nxt, ack, contig;
};

static void fast_unpack(const struct pep *pa, const struct pep *pb, struct fast_seq *a,
			struct fast_seq *b)
{
	const unsigned af = PEP_FIELD(pa->w2, PEP_FLAGS), bf = PEP_FIELD(pb->w2, PEP_FLAGS);

	a->nxt = pa->nxt;
	b->nxt = pb->nxt;
	a->ack = (af & EP_ACKED) ? b->nxt - (uint32_t)(int32_t)pa->ackd : 0;
	b->ack = (bf & EP_ACKED) ? a->nxt - (uint32_t)(int32_t)pb->ackd : 0;
	a->contig = contig_from(a->nxt, b->ack, (uint8_t)PEP_FIELD(pa->w2, PEP_CONTIGD));
	b->contig = contig_from(b->nxt, a->ack, (uint8_t)PEP_FIELD(pb->w2, PEP_CONTIGD));
}

/*
 * The receiver's in-order point moved to what this ACK acknowledges (not
 * past its FIN).  When it covers data the capture lacks (a short snaplen
 * does it to every segment) that is a gap, counted in *gaps while both ends
 * are established, unless the capture began inside the handshake; G is
 * logged at the 1st, 10th and 100th.  -1 if that leaves the fast path.
 */
static int fast_gap(const struct conn *c, int dir, const struct segment *s, uint32_t b_fin,
		    struct fast_seq *b, uint32_t *gaps, uint64_t *hw)
{
	const struct pep *pa = &c->ep[dir], *pb = &c->ep[1 - dir];
	const uint32_t b2 = pb->w2;
	const unsigned bf = PEP_FIELD(b2, PEP_FLAGS), bz = PEP_FIELD(b2, PEP_Z);
	uint32_t upto = (bf & EP_FIN) && SEQ_LT(b_fin, s->ack) ? b_fin : s->ack;

	if (!SEQ_GT(upto, b->contig))
		return 0;
	int b_ok = bz == Z_ESTABLISHED ||
		   (bz == Z_CLOSED && PEP_FIELD(b2, PEP_ZPREV) == Z_ESTABLISHED);
	if (PEP_FIELD(pa->w2, PEP_Z) == Z_ESTABLISHED && b_ok &&
	    (!(c->cf & C_MIDSTREAM) || (uint32_t)(upto - pb->isn) > 2)) {
		++*gaps;
		if (*gaps > 255)
			return -1;
		if ((*gaps == 1 || *gaps == 10 || *gaps == 100) &&
		    fast_letter(hw, 1 - dir, 'G') < 0)
			return -1;
	}
	b->contig = upto;
	return 0;
}

/*
 * The common segment, on the table's entry itself: an ACK, with or without
 * data, between two ends both ESTABLISHED (and, in Zeek's machine,
 * established or partial), that moves nothing but counters, sequence
 * points, times and perhaps a history letter.  Going through eng_load(),
 * the machines and eng_store() cost over three times as much, and most
 * segments of most connections are of this kind.  Every condition under
 * which the machines would do more (a transition, a letter past the
 * entry's first history word, a retransmission, a gap, a zero window, an
 * expiry, a value the short form cannot hold) is checked first; then this
 * returns 0 having changed nothing, and the caller takes the full path.
 * Built with -DENGINE_FASTCHECK, every segment taken here is also run
 * through the full path and the two entries compared
 * (tests/pcap/test_fastpath.sh).
 */
static int fast_ack(struct engine *e, struct conn *c, int dir, const struct segment *s)
{
	struct pep *pa = &c->ep[dir], *pb = &c->ep[1 - dir];
	const uint32_t a1 = pa->w1, a2 = pa->w2, b2 = pb->w2;
	const unsigned af = PEP_FIELD(a2, PEP_FLAGS), bf = PEP_FIELD(b2, PEP_FLAGS);
	const uint32_t len = s->payload_len;

	if (c->ext || (s->flags & (TH_SYN | TH_FIN | TH_RST | TH_ACK)) != TH_ACK)
		return 0;
	if (e->cfg.verify_checksums && s->csum == 0)
		return 0;
	uint32_t b_fin = pb->nxt - PEP_FIELD(pb->w1, PEP_FIND); /* when EP_FIN, as eng_load() */
	int to = fast_rfc(e, c, dir, s, b_fin);
	if (to < 0 || !fast_ends(a2, b2))
		return 0;
	uint64_t first = slot_first(c);
	if (s->ts_us - first > UINT32_MAX) /* (a time before first wraps, and fails too) */
		return 0;
	if (fast_expired(e, c, first, s->ts_us))
		return 0;
	uint32_t scale = (af & EP_WSCALE) && (bf & EP_WSCALE) ? PEP_FIELD(a2, PEP_WSCALE) : 0;
	if (((uint32_t)s->win << scale) == 0 && PEP_FIELD(b2, PEP_Z) != Z_CLOSED)
		return 0; /* a zero window: W */
	uint32_t pkts = PEP_FIELD(a1, PEP_PKTS) + 1;
	uint64_t bytes = (uint64_t)pa->bytes + len;
	if (pkts >= 1u << 20 || bytes > UINT32_MAX)
		return 0;

	struct fast_seq a, b;
	fast_unpack(pa, pb, &a, &b);

	/* zeek_process, for this segment: the first D or A of this end. */
	uint64_t hw = c->hw;
	unsigned seen = len ? H_DATA : H_ACK;
	if (!(PEP_FIELD(a2, PEP_HSEEN) & seen) && fast_letter(&hw, dir, len ? 'D' : 'A') < 0)
		return 0;
	if (!(af & EP_ACKED) || SEQ_GT(s->ack, a.ack))
		a.ack = s->ack;
	uint32_t end = s->seq + len;
	if ((int32_t)(end - a.nxt) > 0) {
		if (!len)
			return 0; /* a bare ACK past nxt: a stretch missed (EP_HOLE) */
		a.nxt = end;
	} else if (len) {
		return 0; /* a retransmission: T */
	}
	uint32_t gaps = PEP_FIELD(pb->cnt, PEP_CNT_G);
	if (fast_gap(c, dir, s, b_fin, &b, &gaps, &hw) < 0)
		return 0;
	if (len && s->payload_captured == len && SEQ_LEQ(s->seq, a.contig) && SEQ_GT(end, a.contig))
		a.contig = end;

	/* eng_store()'s rules for what changed. */
	int32_t ad = (int32_t)(b.nxt - a.ack), bd = (int32_t)(a.nxt - b.ack);
	int acode = contig_encode(a.nxt, a.contig, b.ack),
	    bcode = contig_encode(b.nxt, b.contig, a.ack);
	if (ad != (int16_t)ad || ((bf & EP_ACKED) && bd != (int16_t)bd) || acode < 0 || bcode < 0)
		return 0;

	pa->nxt = a.nxt;
	pa->bytes = (uint32_t)bytes;
	pa->win = s->win;
	pa->ackd = (int16_t)ad;
	pa->w1 = (a1 & ~PEP_PUT(~0u, PEP_PKTS)) | PEP_PUT(pkts, PEP_PKTS);
	pa->w2 = (a2 & ~(PEP_PUT(~0u, PEP_FLAGS) | PEP_PUT(~0u, PEP_CONTIGD))) |
		 PEP_PUT(af | EP_ACKED, PEP_FLAGS) | PEP_PUT(acode, PEP_CONTIGD);
	pa->w2 |= PEP_PUT(seen, PEP_HSEEN);
	c->hw = hw;
	if (bf & EP_ACKED)
		pb->ackd = (int16_t)bd;
	pb->w2 = (b2 & ~PEP_PUT(~0u, PEP_CONTIGD)) | PEP_PUT(bcode, PEP_CONTIGD);
	pb->cnt = (uint16_t)((pb->cnt & ~PEP_PUT(~0u, PEP_CNT_G)) | PEP_PUT(gaps, PEP_CNT_G));
	c->lastd = c->zlastd = (uint32_t)(s->ts_us - first);
	if (to) { /* emit(), with no hook and no durations to keep */
		pb->w1 = (pb->w1 & ~PEP_PUT(~0u, PEP_STATE)) | PEP_PUT((unsigned)to, PEP_STATE);
		pb->sinced = (uint32_t)(s->ts_us - first); /* (fits: checked above) */
		e->st.transitions++;
	}
	if (e->st.drop_notes) /* as eng_sure_segment(): no new hole here */
		sure_evidence(e, self_of(c), dir, 0, 1, s->ack, b.nxt,
			      (int)PEP_FIELD(pb->w1, PEP_HOLE), s->ts_us);
	return 1;
}

#ifndef ENGINE_FASTCHECK
int eng_fast_taken(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		   int dir)
{
	(void)h;
	return fast_ack(e, slot, dir, s);
}
#else
/* The check build: what fast_ack() did must be what the full path does. */
int eng_fast_taken(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		   int dir)
{
	struct conn before = *slot, fast;
	struct engine_stats st = e->st, fast_st;
	uint32_t self = self_of(slot), sure_before = eng_sure_peek(e, self);

	if (!fast_ack(e, slot, dir, s))
		return 0;
	fast = *slot;
	fast_st = e->st;
	uint32_t sure_fast = eng_sure_peek(e, self);
	*slot = before;
	e->st = st;
	e->st.bytes = fast_st.bytes; /* proof words the fast path made stay made */
	eng_sure_poke(e, self, sure_before);
	eng_input_full(e, s, h, slot, dir);
	if (memcmp(slot, &fast, sizeof(fast)) != 0 || memcmp(&fast_st, &e->st, sizeof(st)) != 0 ||
	    sure_fast != eng_sure_peek(e, self)) {
		fprintf(stderr, "ENGINE_FASTCHECK: fast path differs at segment %llu\n",
			(unsigned long long)e->st.segments);
		abort();
	}
	e->fast_checked++;
	return 1;
}
#endif

/* ---- a segment's way in ------------------------------------------------- */

void engine_input(struct engine *e, const struct segment *seg)
{
	engine_input_hashed(e, seg, engine_hash(e, seg));
}

void engine_input_hashed(struct engine *e, const struct segment *seg, uint32_t h)
{
	struct segment novlan;
	const struct segment *s = seg;
	struct conn *slot;
	int dir = 0;

	if (e->cfg.ignore_vlan && (seg->vlan || seg->vlan_inner)) {
		novlan = *seg;
		novlan.vlan = novlan.vlan_inner = 0;
		s = &novlan;
	}

	if (s->ts_us > e->now_us)
		e->now_us = s->ts_us;
	maybe_sweep(e, e->now_us);
	e->st.segments++;
	if (!e->nbuckets && eng_grow_buckets(e) < 0)
		return;
	/* One extension in reserve: the eng_store()s below cannot fail. */
	if (!e->xfree && eng_ext_grow(e) < 0)
		return;
	slot = eng_lookup(e, s, h, &dir);
	if (slot && eng_fast_taken(e, s, h, slot, dir))
		return;
	eng_input_full(e, s, h, slot, dir);
}
