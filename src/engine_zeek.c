/*
 * engine_zeek.c - Zeek's view of a connection, kept beside the RFC machine
 * so the engine can be checked against Zeek's conn.log: its coarse endpoint
 * machine (ep.z), its history letters, its conn_state, which end it takes
 * for the originator, and its timers and reuse rule (zeek mode).
 */
#include "engine_int.h"

static void zset(struct ep *p, int z)
{
	p->zprev = p->z;
	p->z = (uint8_t)z;
}

/* Append a history letter: upper case from the originator. */
void eng_add_hist(struct wc *c, int side, char letter)
{
	if (c->hlen >= HIST_MAX)
		return;
	uint64_t code = hist_code(side, letter);
	c->hw[c->hlen / HIST_WORD] |= code << 5 * (c->hlen % HIST_WORD);
	c->hlen++;
}

/* CheckHistory: 1 the first time an endpoint sets this bit. */
static int check_hist(struct wc *c, int side, uint8_t bit, char letter)
{
	struct ep *p = &c->ep[side];

	if (p->hseen & bit)
		return 0;
	p->hseen |= bit;
	eng_add_hist(c, side, letter);
	return 1;
}

/* Letters logged on a log10 scale: at the 1st, 10th, 100th ... event. */
void eng_scaled_hist(struct wc *c, int side, uint16_t *cnt, char letter)
{
	if (*cnt == UINT16_MAX)
		return;
	uint16_t n = ++*cnt;
	if (n == 1 || n == 10 || n == 100 || n == 1000 || n == 10000)
		eng_add_hist(c, side, letter);
}

/* The history as a string; out holds HIST_MAX + 1. */
void eng_hist_string(const struct wc *c, char *out)
{
	for (unsigned i = 0; i < c->hlen; i++)
		out[i] = hist_abc[((c->hw[i / HIST_WORD] >> 5 * (i % HIST_WORD)) & 31) - 1];
	out[c->hlen] = '\0';
}

static void zeek_flip(struct wc *c, uint32_t *dur)
{
	struct ep t = c->ep[0];
	uint16_t pt = c->port[0];

	c->ep[0] = c->ep[1];
	c->ep[1] = t;
	c->port[0] = c->port[1];
	c->port[1] = pt;
	if (c->cflags & C_V6) {
		uint8_t a[16];
		memcpy(a, c->addr.v6[0], 16);
		memcpy(c->addr.v6[0], c->addr.v6[1], 16);
		memcpy(c->addr.v6[1], a, 16);
	} else {
		uint8_t a[4];
		memcpy(a, c->addr.v4[0], 4);
		memcpy(c->addr.v4[0], c->addr.v4[1], 4);
		memcpy(c->addr.v4[1], a, 4);
	}
	if (dur) {
		uint32_t tmp[TS_MAX];
		memcpy(tmp, dur, sizeof(tmp));
		memcpy(dur, dur + TS_MAX, sizeof(tmp));
		memcpy(dur + TS_MAX, tmp, sizeof(tmp));
	}
	eng_add_hist(c, 0, '^');
}

/* Zeek's UpdateStateMachine for the sending endpoint (TCPSessionAdapter.cc). */
static void zeek_update(struct wc *c, uint32_t *dur, int side, const struct segment *s,
			int *flipped)
{
	struct ep *p = &c->ep[side], *q = &c->ep[1 - side];
	int syn = s->flags & TH_SYN, ack = s->flags & TH_ACK, fin = s->flags & TH_FIN,
	    rst = s->flags & TH_RST;
	int is_orig = side == 0;

	*flipped = 0;
	switch (p->z) {
	case Z_INACTIVE:
		if (syn) {
			if (is_orig) {
				zset(p, ack ? Z_SYN_ACK_SENT : Z_SYN_SENT);
				c->cflags |= C_ATTEMPT;
				c->attempt_ms = rel_ms(c, s->ts_us) + 5000;
			} else {
				if (!ack && q->z == Z_SYN_ACK_SENT && s->seq == p->isn) {
					/* A SYN/SYN-ACK reversal: flip and establish. */
					zeek_flip(c, dur);
					*flipped = 1;
					/* After the flip we are the originator. */
					p = &c->ep[0];
					q = &c->ep[1];
					zset(q, Z_ESTABLISHED);
				}
				if (q->z == Z_SYN_SENT)
					zset(q, Z_ESTABLISHED);
				zset(p, Z_ESTABLISHED);
			}
		}
		if (fin)
			zset(p, Z_CLOSED);
		if (rst)
			zset(p, Z_RESET);
		if (p->z == Z_INACTIVE) {
			if (!is_orig && s->payload_len == 0 && c->ep[0].z == Z_SYN_SENT)
				; /* an ACK of the SYN before the SYN-ACK: not partial */
			else if (ack && q->z == Z_ESTABLISHED)
				zset(p, Z_ESTABLISHED);
			else
				zset(p, Z_PARTIAL);
		}
		break;
	case Z_SYN_SENT:
	case Z_SYN_ACK_SENT:
		if (fin)
			zset(p, Z_CLOSED);
		if (rst)
			zset(p, Z_RESET);
		break;
	case Z_ESTABLISHED:
	case Z_PARTIAL:
		if (syn && p->z == Z_PARTIAL && q->z == Z_INACTIVE && !ack)
			zset(p, Z_SYN_SENT);
		if (fin && !rst) {
			zset(p, Z_CLOSED);
			if (q->z == Z_RESET && q->zprev == Z_CLOSED)
				zset(q, Z_CLOSED);
		}
		if (rst)
			zset(p, Z_RESET);
		break;
	case Z_CLOSED:
		if (rst && q->z != Z_CLOSED)
			zset(p, Z_RESET);
		break;
	case Z_RESET:
		break;
	}
}

/* Zeek's TCP_Endpoint::Size(): bytes sent, from sequence numbers. */
static uint64_t zeek_size(const struct wc *c, int side)
{
	const struct ep *p = &c->ep[side], *q = &c->ep[1 - side];

	if (p->zprev == Z_SYN_SENT && p->z == Z_RESET && q->z == Z_INACTIVE)
		return 0;
	uint32_t top = p->nxt;
	if ((q->flags & EP_ACKED) && SEQ_GT(q->ack, top))
		top = q->ack;
	uint64_t sz = (uint32_t)(top - p->isn);
	if (sz)
		sz--; /* the SYN */
	if (sz && (p->flags & EP_FIN_CNT))
		sz--;
	return sz;
}

/* "^?S[^HAFGIQ]*R.*" matched against the whole history. */
static int rstos0_history(const char *h)
{
	if (*h == '^')
		h++;
	if (*h != 'S')
		return 0;
	for (h++; *h; h++) {
		if (*h == 'R')
			return 1;
		if (strchr("HAFGIQ", *h))
			return 0;
	}
	return 0;
}

/* conn_state, as base/protocols/conn/main.zeek derives it. */
enum conn_state zeek_conn_state(const struct wc *c)
{
	int os = c->ep[0].z, rs = c->ep[1].z;
	int o_inact = os == Z_INACTIVE || os == Z_PARTIAL;
	int r_inact = rs == Z_INACTIVE || rs == Z_PARTIAL;

	if (rs == Z_RESET) {
		if (os == Z_SYN_SENT || os == Z_SYN_ACK_SENT ||
		    (os == Z_RESET && zeek_size(c, 0) == 0 && zeek_size(c, 1) == 0))
			return CS_REJ;
		return o_inact ? CS_RSTRH : CS_RSTR;
	}
	if (os == Z_RESET) {
		if (r_inact) {
			char h[HIST_MAX + 1];
			eng_hist_string(c, h);
			return rstos0_history(h) ? CS_RSTOS0 : CS_OTH;
		}
		return CS_RSTO;
	}
	if (os == Z_CLOSED && rs == Z_CLOSED)
		return CS_SF;
	if (os == Z_CLOSED)
		return r_inact ? CS_SH : CS_S2;
	if (rs == Z_CLOSED)
		return o_inact ? CS_SHR : CS_S3;
	if (os == Z_SYN_SENT && rs == Z_INACTIVE)
		return CS_S0;
	if (os == Z_ESTABLISHED && rs == Z_ESTABLISHED)
		return CS_S1;
	return CS_OTH;
}

/* init_endpoint: where this end's sequence space starts, on its first segment or a new SYN. */
static void zeek_init_endpoint(struct ep *p, const struct segment *s, int syn, uint32_t end)
{
	switch (p->z) {
	case Z_INACTIVE:
		p->isn = syn ? s->seq : s->seq - 1;
		p->nxt = syn ? end : s->seq;
		p->contig = p->isn + 1;
		p->flags |= EP_SEQ;
		break;
	case Z_SYN_SENT:
	case Z_SYN_ACK_SENT:
		if (syn && s->seq != p->isn) {
			p->isn = s->seq;
			p->nxt = end;
			p->contig = p->isn + 1;
		}
		break;
	case Z_ESTABLISHED:
	case Z_PARTIAL:
		if (syn) {
			p->isn = s->seq;
			p->nxt = end;
			p->contig = p->isn + 1;
		}
		break;
	case Z_RESET:
		if (syn && p->zprev == Z_INACTIVE) {
			p->isn = s->seq;
			p->nxt = end;
			p->contig = p->isn + 1;
		}
		break;
	}
}

/*
 * A letter that Zeek logs again only when its key (the segment's place in
 * the sequence space) differs from the last one's: S or H, F, R.
 */
static void keyed_hist(struct wc *c, int side, uint8_t bit, uint16_t *last, uint16_t key,
		       char letter)
{
	struct ep *p = &c->ep[side];
	int first = !(p->hseen & bit);

	p->hseen |= bit;
	if (first || key != *last)
		eng_add_hist(c, side, letter);
	*last = key;
}

/* update_history: the letter of this segment's flags, or of its data or ACK. */
static void zeek_history(struct wc *c, int side, const struct segment *s, uint32_t rel)
{
	struct ep *p = &c->ep[side];
	int syn = !!(s->flags & TH_SYN), fin = !!(s->flags & TH_FIN), rst = !!(s->flags & TH_RST);
	int bits = syn + fin + rst;

	if (bits > 1) {
		if (fin && rst)
			check_hist(c, side, H_FIN_RST, 'I');
		else
			check_hist(c, side, H_MULTI, 'Q');
	} else if (bits == 1) {
		if (syn)
			keyed_hist(c, side, H_SYN, &p->hist_syn, (uint16_t)rel,
				   (s->flags & TH_ACK) ? 'H' : 'S');
		if (fin)
			keyed_hist(c, side, H_FIN, &p->hist_fin, (uint16_t)(rel + s->payload_len),
				   'F');
		if (rst)
			keyed_hist(c, side, H_RST, &p->hist_rst, (uint16_t)rel, 'R');
	} else if (s->payload_len) {
		check_hist(c, side, H_DATA, 'D');
	} else if (s->flags & TH_ACK) {
		check_hist(c, side, H_ACK, 'A');
	}
}

/*
 * What the sender's segment says of both ends' sequence spaces: its window
 * (a zero one: W), its FIN, its ACK (which starts the peer's space if that
 * is unknown), and how far it has sent (a retransmission: T).
 */
static void zeek_sent(struct wc *c, int side, const struct segment *s, uint32_t end)
{
	struct ep *p = &c->ep[side], *q = &c->ep[1 - side];
	int syn = !!(s->flags & TH_SYN), fin = !!(s->flags & TH_FIN), rst = !!(s->flags & TH_RST);

	/* update_window: zero windows (W) */
	uint32_t scale = (p->flags & EP_WSCALE) && (q->flags & EP_WSCALE) ? p->wscale : 0;
	if (syn) {
		scale = 0;
	}
	if (((uint32_t)s->win << scale) == 0 && !rst && q->z != Z_CLOSED && p->z != Z_RESET)
		eng_scaled_hist(c, side, &p->cnt_w, 'W');

	if (fin) {
		p->flags |= EP_FIN_CNT;
		if (!(p->flags & EP_FIN)) {
			p->flags |= EP_FIN;
			p->fin_seq = s->seq + s->payload_len + (uint32_t)syn;
		}
	}

	/* Acknowledgments: the peer's sequence space starts at ack - 1 if unknown. */
	if (s->flags & TH_ACK) {
		if (q->z == Z_INACTIVE) { /* init_peer */
			q->isn = s->ack - 1;
			q->nxt = s->ack - 1;
			q->contig = s->ack;
			q->flags |= EP_SEQ;
		}
		if (!rst && (!(p->flags & EP_ACKED) || SEQ_GT(s->ack, p->ack))) {
			p->ack = s->ack;
			p->flags |= EP_ACKED;
		}
	}

	/* update_last_seq: retransmissions (T) */
	int32_t delta = (int32_t)(end - p->nxt);
	if ((syn || rst) && (delta > 1048576 || delta < -1048576))
		;
	else if (fin && p->nxt == p->isn + 1)
		p->nxt = end;
	else if (p->z == Z_RESET)
		;
	else if (delta > 0)
		p->nxt = end;
	else if (s->payload_len > 0)
		eng_scaled_hist(c, side, &p->cnt_t, 'T');
}

/*
 * The in-order points, after the state machine has run: content gaps (G)
 * when the ACK covers peer data the capture never held, and this segment's
 * own data.
 */
static void zeek_contig(struct wc *c, int side, const struct segment *s)
{
	struct ep *p = &c->ep[side], *q = &c->ep[1 - side];
	int syn = !!(s->flags & TH_SYN), rst = !!(s->flags & TH_RST);

	/*
	 * Zeek's reassembler flags a gap only while both ends are established
	 * (or closed from established), and clamps the ACK at the peer's FIN.
	 */
	if ((s->flags & TH_ACK) && (q->flags & EP_SEQ)) {
		uint32_t upto = s->ack;
		if ((q->flags & EP_FIN) && SEQ_LT(q->fin_seq, upto))
			upto = q->fin_seq;
		if (SEQ_GT(upto, q->contig)) {
			int ok_p = p->z == Z_ESTABLISHED ||
				   (p->z == Z_CLOSED && p->zprev == Z_ESTABLISHED);
			int ok_q = q->z == Z_ESTABLISHED ||
				   (q->z == Z_CLOSED && q->zprev == Z_ESTABLISHED);
			int partial = (c->cflags & C_MIDSTREAM) && (uint32_t)(upto - q->isn) <= 2;
			if (ok_p && ok_q && !partial)
				eng_scaled_hist(c, 1 - side, &q->cnt_g, 'G');
			q->contig = upto;
		}
	}
	/* This segment's own data, if the capture holds it whole. */
	if (s->payload_len && !rst && s->payload_captured == s->payload_len) {
		uint32_t dstart = s->seq + (uint32_t)syn, dend = dstart + s->payload_len;
		if (SEQ_LEQ(dstart, p->contig) && SEQ_GT(dend, p->contig))
			p->contig = dend;
	}
}

/* ConnectionClosed: this end's FIN or RST closes it, once. */
static void zeek_closed(struct wc *c, int side, const struct segment *s)
{
	struct ep *p = &c->ep[side], *q = &c->ep[1 - side];
	int fin = !!(s->flags & TH_FIN), rst = !!(s->flags & TH_RST);
	int do_close =
		(fin && (p->z == Z_CLOSED)) || (rst && p->z == Z_RESET && p->zprev != Z_RESET);

	if (do_close && !(p->flags & EP_DID_CLOSE)) {
		p->flags |= EP_DID_CLOSE;
		if (p->z == Z_RESET || (q->flags & EP_DID_CLOSE) || q->z == Z_INACTIVE)
			c->cflags |= C_CLOSE_COMPLETE;
	}
}

/* Both ends still in the handshake's states? */
static int zeek_handshaking(const struct wc *c)
{
	return c->ep[0].z <= Z_SYN_ACK_SENT && c->ep[1].z <= Z_SYN_ACK_SENT;
}

/* Zeek's history and sequence bookkeeping for one segment (Process()). */
void zeek_process(struct wc *c, uint32_t *dur, int side, const struct segment *s, int *flipped)
{
	struct ep *p = &c->ep[side];
	int syn = !!(s->flags & TH_SYN), fin = !!(s->flags & TH_FIN), rst = !!(s->flags & TH_RST);
	uint32_t seg_len = s->payload_len + (uint32_t)syn + (uint32_t)fin;

	if (rst)
		seg_len -= s->payload_len;
	uint32_t end = s->seq + seg_len;

	zeek_init_endpoint(p, s, syn, end);
	zeek_history(c, side, s, s->seq - p->isn);
	zeek_sent(c, side, s, end);

	int before = zeek_handshaking(c);
	zeek_update(c, dur, side, s, flipped);
	if (*flipped)
		side = 1 - side;
	if (before && !zeek_handshaking(c))
		c->cflags |= C_ESTABLISHED_ONCE;

	zeek_contig(c, side, s);
	zeek_closed(c, side, s);
}

/* Ports Zeek's full scripts register as likely servers (likely_server_ports). */
static int likely_server_port(uint16_t p)
{
	static const uint16_t ports[] = {21,   22,   23,   25,	 53,   80,   81,   88,	 110,
					 135,  139,  143,  389,	 443,  445,  502,  563,	 585,
					 587,  614,  631,  636,	 989,  990,  992,  993,	 995,
					 1080, 1883, 2811, 3128, 3268, 3389, 5222, 5223, 5269,
					 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return 1;
	return 0;
}

/*
 * Which side is the originator of a connection first seen with this
 * segment: the sender of a bare SYN; the receiver of a SYN-ACK; otherwise
 * the side that is not on a well-known server port (Zeek's WantConnection).
 */
int eng_should_flip(const struct segment *s)
{
	int syn = s->flags & TH_SYN, ack = s->flags & TH_ACK;

	if (syn && !ack)
		return 0;
	if (syn && ack)
		return 1;
	if (likely_server_port(s->sport))
		return likely_server_port(s->dport) ? s->dport > s->sport : 1;
	return 0;
}

/*
 * Zeek's timers, evaluated for one connection at time now: would Zeek have
 * removed it before this moment?  (TCPSessionAdapter: AttemptTimer,
 * ConnDeleteTimer, ExpireTimer; and the inactivity timeout.)
 */
int zeek_expired(const struct engine *e, const struct wc *c, uint64_t now)
{
	const struct ep *o = &c->ep[0], *r = &c->ep[1];
	uint64_t last = c->zlast_us;

	if ((c->cflags & C_ATTEMPT) && c->first_us + (uint64_t)c->attempt_ms * 1000 <= now &&
	    (o->z == Z_SYN_SENT || o->z == Z_SYN_ACK_SENT) && r->z == Z_INACTIVE)
		return 1;
	if ((c->cflags & C_CLOSE_COMPLETE) && last + 5000000 <= now)
		return 1;
	/* ExpireTimer runs 5 s after creation, then every 6 s. */
	if (last + 5000000 < now) {
		int odc = o->flags & EP_DID_CLOSE, rdc = r->flags & EP_DID_CLOSE;
		int cond = ((odc || rdc) && ((odc && rdc) || o->z == Z_RESET || r->z == Z_RESET ||
					     o->z == Z_INACTIVE || r->z == Z_INACTIVE)) ||
			   (o->z == Z_INACTIVE && r->z == Z_INACTIVE);
		if (cond) {
			uint64_t t = c->first_us + 5000000;
			if (t <= last + 5000000)
				t += ((last + 5000000 - t) / 6000000 + 1) * 6000000;
			if (t <= now)
				return 1;
		}
	}
	uint64_t idle = (c->cflags & C_ESTABLISHED_ONCE) ? e->cfg.idle_timeout_us : 60000000ull;
	return last + idle <= now;
}

/* Zeek's IsReuse: does this SYN start a new connection on the tuple? */
int zeek_reuse(const struct wc *c, const struct segment *s)
{
	const struct ep *co = &c->ep[0];

	if (!(s->flags & TH_SYN))
		return 0;
	if (s->flags & TH_ACK) {
		if (c->ep[0].z != Z_INACTIVE)
			return 0;
		co = &c->ep[1];
	}
	int closed = (c->ep[0].flags & EP_DID_CLOSE) || (c->ep[1].flags & EP_DID_CLOSE);
	if (!closed) {
		if (s->seq == co->isn)
			return 0;
		if (!(s->flags & TH_ACK) && co->z == Z_SYN_ACK_SENT && c->ep[1].z == Z_INACTIVE &&
		    s->seq == c->ep[1].isn)
			return 0;
	}
	return 1;
}
