/*
 * engine.c - the wire state engine's front: its configuration and names,
 * a segment's full path (both machines, on a working copy of its
 * connection; engine_fast.c takes it in), and what the views read of a
 * connection.
 *
 * Each connection has two endpoints, [0] the originator (the side that sent
 * the first SYN) and [1] the responder.  A segment seen at the capture
 * point is treated as sent by its source and, at the same moment, received
 * by its destination: on a host or a loopback that is true, and it is what
 * the kernel's own view shows at any quiet moment.  Where the segment
 * itself proves otherwise (a FIN that does not acknowledge the peer's FIN
 * that we saw go by), the state is corrected; doc/state-machine.md lists
 * what a passive observer cannot know.
 *
 * Two machines run side by side on every segment:
 *  - the RFC 9293 machine (ep.state), the point of tcpstate (engine_rfc.c);
 *  - Zeek's coarse endpoint machine and history letters (ep.z, conn.hist),
 *    from which Zeek's conn_state is derived, so the engine can be checked
 *    against Zeek's conn.log on real captures (engine_zeek.c).
 *
 * The table is a chained hash over a pool of fixed-size entries in blocks
 * (engine_table.c).  Timers due at a known time (TIME-WAIT's end, a
 * finished connection's linger) wait in a FIFO that every segment's time
 * runs; idle connections and Zeek's timers are found by a walk of the table
 * every so often (engine_timer.c); and a connection's own timers are also
 * checked whenever a packet arrives for it, so what a packet sees is always
 * exact.  engine_int.h lists the files and joins them.
 */
#include "engine_int.h"

#ifdef ENGINE_FASTCHECK
#include <stdio.h> /* the check build reports its count */
#endif
#include <stdlib.h>

/* ---- names -------------------------------------------------------------- */

static const struct {
	const char *name, *rfc;
} causes[CAUSE_MAX] = {
	[CAUSE_SYN_SENT] = {"SYN sent", "RFC 9293 3.10.1 (active OPEN)"},
	[CAUSE_SYN_RECEIVED] = {"SYN received", "RFC 9293 3.10.7.2 (LISTEN)"},
	[CAUSE_SYNACK_SENT] = {"SYN-ACK sent", "RFC 9293 3.10.7.2 (LISTEN)"},
	[CAUSE_SYNACK_RECEIVED] = {"SYN-ACK received", "RFC 9293 3.10.7.3 (SYN-SENT)"},
	[CAUSE_ACK_OF_SYN] = {"ACK of SYN received", "RFC 9293 3.10.7.4 (SYN-RECEIVED, ACK)"},
	[CAUSE_ACK_SENT_NO_SYNACK] = {"ACK sent (SYN-ACK not seen)", "RFC 9293 3.10.7.3"},
	[CAUSE_FIN_SENT] = {"FIN sent", "RFC 9293 3.10.4 (CLOSE)"},
	[CAUSE_FIN_RECEIVED] = {"FIN received", "RFC 9293 3.10.7.4 (FIN bit)"},
	[CAUSE_ACK_OF_FIN] = {"ACK of FIN received", "RFC 9293 3.10.7.4 (ACK)"},
	[CAUSE_FINS_CROSSED] = {"FINs crossed (simultaneous close)", "RFC 9293 3.6, figure 13"},
	[CAUSE_RST_SENT] = {"RST sent", "RFC 9293 3.10.7.4 / 3.5.2"},
	[CAUSE_RST_RECEIVED] = {"RST received", "RFC 9293 3.10.7.4, RFC 5961 3"},
	[CAUSE_TIMEWAIT_EXPIRED] = {"2MSL timer", "RFC 9293 3.10.8 (time-wait timeout)"},
	[CAUSE_TUPLE_REUSED] = {"new SYN reuses the tuple", "RFC 9293 3.10.7.4, RFC 6191"},
	[CAUSE_SUPERSEDED] = {"superseded by a new SYN", "RFC 9293 3.10.7.3"},
	[CAUSE_MIDSTREAM] = {"picked up mid-stream", "-"},
};

const char *engine_cause_name(enum cause c)
{
	return c < CAUSE_MAX ? causes[c].name : "?";
}

const char *engine_cause_rfc(enum cause c)
{
	return c < CAUSE_MAX ? causes[c].rfc : "?";
}

const char *engine_zeek_state_name(int zs)
{
	static const char *const n[] = {"INACTIVE",    "SYN_SENT", "SYN_ACK_SENT", "PARTIAL",
					"ESTABLISHED", "CLOSED",   "RESET"};
	return zs >= 0 && zs <= Z_RESET ? n[zs] : "?";
}

void engine_config_defaults(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->time_wait_us = 60 * 1000000ull;
	cfg->idle_timeout_us = 300 * 1000000ull;
	cfg->max_conns = 1000000;
}

/* A segment through the machines, on a working copy: slot is its entry, or NULL. */
void eng_input_full(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		    int dir)
{
	struct wc w, *c = NULL;

	if (slot) {
		c = &w;
		eng_load(e, slot, c);
		eng_fire_timewait(e, c, s->ts_us);
		if (e->cfg.zeek) {
			if (zeek_expired(e, c, s->ts_us)) {
				eng_free_conn(e, c, CLOSE_ZEEK);
				c = NULL;
			} else if (zeek_reuse(c, s)) {
				uint16_t inst = c->instance;
				eng_free_conn(e, c, CLOSE_REUSED);
				e->st.reused++;
				if (eng_new_conn(e, s, h, eng_should_flip(s), (uint16_t)(inst + 1),
						 c) < 0)
					return;
				dir = (c->port[0] == s->sport &&
				       memcmp(addr_of(c, 0), s->saddr,
					      c->family == AF_INET6 ? 16 : 4) == 0)
					      ? 0
					      : 1;
				eng_start_states(e, c, dir, s);
			}
		} else {
			enum close_reason why;
			if (rfc_expired(e, c, s->ts_us, &why) && !(s->flags & TH_SYN)) {
				/* Left over from a finished or idle instance: drop it first. */
				eng_free_conn(e, c, why);
				c = NULL;
			} else if (rfc_reuse(c, dir, s)) {
				uint16_t inst = c->instance;
				int finished =
					closedish(c->ep[0].state) && closedish(c->ep[1].state);
				eng_end_instance(e, c,
						 finished ? CAUSE_TUPLE_REUSED : CAUSE_SUPERSEDED,
						 s->ts_us);
				if (eng_new_conn(e, s, h, 0, (uint16_t)(inst + 1), c) < 0)
					return;
				dir = 0;
				eng_start_states(e, c, dir, s);
			}
		}
	}
	if (!c) {
		int flip = eng_should_flip(s);
		c = &w;
		if (eng_new_conn(e, s, h, flip, 1, c) < 0)
			return;
		dir = flip;
		eng_start_states(e, c, dir, s);
	}

	struct ep *a = &c->ep[dir];
	c->last_us = s->ts_us;
	a->pkts++;
	a->bytes += s->payload_len;

	/* A segment with a bad checksum counts, and changes nothing else. */
	if (e->cfg.verify_checksums && s->csum == 0) {
		e->st.bad_csum++;
		eng_scaled_hist(c, dir, &a->cnt_c, 'C');
		eng_store(e, c);
		return;
	}

	if (!(c->ep[0].flags & EP_DID_CLOSE) || !(c->ep[1].flags & EP_DID_CLOSE))
		c->zlast_us = s->ts_us;
	if (s->flags & TH_SYN) {
		if (s->has_wscale) {
			a->flags |= EP_WSCALE;
			a->wscale = s->wscale > 14 ? 14 : s->wscale;
		}
	}
	a->win = s->win;

	uint32_t snd_nxt = a->nxt;
	int snd_known = (a->flags & EP_SEQ) != 0;
	int flipped;
	zeek_process(c, dur_of(e, c), dir, s, &flipped);
	if (flipped)
		dir = 1 - dir;
	eng_sure_segment(e, c, dir, s, snd_nxt, snd_known);
	rfc_segment(e, c, dir, s, snd_nxt, snd_known);
	eng_store(e, c);
}

void engine_advance(struct engine *e, uint64_t now_us)
{
	if (now_us > e->now_us)
		e->now_us = now_us;
	/* Asked for explicitly: every timer due by now fires. */
	eng_sweep(e, e->now_us);
}

void engine_foreach(struct engine *e, void (*fn)(void *arg, const struct conn *c), void *arg)
{
	for (uint32_t i = 0; i < e->used; i++) {
		struct conn *c = at(e, i);
		if (c->id)
			fn(arg, c);
	}
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->st;
}

uint64_t engine_now(const struct engine *e)
{
	return e->now_us;
}

struct engine *engine_new(const struct engine_config *cfg, const struct engine_hooks *hooks)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (!e->cfg.max_conns)
		e->cfg.max_conns = 1;
	if (hooks)
		e->hooks = *hooks;
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
#ifdef ENGINE_FASTCHECK
	if (e->st.segments) /* (the reader thread's hashing engine takes none) */
		fprintf(stderr, "ENGINE_FASTCHECK: %llu of %llu segments took the fast path\n",
			(unsigned long long)e->fast_checked, (unsigned long long)e->st.segments);
#endif
	for (uint32_t i = 0; i < e->used; i++) {
		struct conn *c = at(e, i);
		if (c->id && (c->cf & C_V6))
			free((void *)slot_addr(c, 0));
	}
	for (uint32_t b = 0; b < e->nblocks; b++) {
		eng_block_free(e->blocks[b]);
		if (e->durblocks)
			free(e->durblocks[b]);
	}
	free(e->durblocks);
	eng_sure_free(e);
	free(e->xs);
	free(e->tq);
	free(e->blocks);
	free(e->buckets);
	free(e);
}

/* An endpoint's state as shown: one never heard from is CLOSED. */
static uint8_t shown_state(const struct ep *p)
{
	return p->state == TS_NONE ? TS_CLOSE : p->state;
}

/*
 * Is an endpoint's state a guess?  A connection picked up mid-stream is
 * taken as ESTABLISHED at both ends, but either end may have sent a FIN
 * before the capture began, and a half-closed connection that still carries
 * data looks just like an open one: its sender of data may be in
 * CLOSE-WAIT and its peer in FIN-WAIT-2.  Each end's state depends on both
 * ends' FINs, so it is known once the capture has shown both (or the end
 * was reset: CLOSED is CLOSED).  A FIN from one end alone does not settle
 * even its sender: that end is in FIN-WAIT-1, or in LAST-ACK if its peer
 * closed before the capture.
 */
static int state_guessed(const struct wc *c, int side)
{
	if (!(c->cflags & C_MIDSTREAM) || c->ep[side].state == TS_CLOSE)
		return 0;
	return !(c->ep[0].flags & c->ep[1].flags & EP_FIN);
}

const char *engine_conn_state_name(enum conn_state cs)
{
	static const char *const n[CS_MAX] = {"S0",   "S1",	"SF",	 "REJ", "S2",  "S3", "RSTO",
					      "RSTR", "RSTOS0", "RSTRH", "SH",	"SHR", "OTH"};
	return cs < CS_MAX ? n[cs] : "?";
}

void engine_conn_states(const struct engine *e, const struct conn *slot, uint8_t state[2],
			enum conn_state *conn_state)
{
	struct wc w;

	eng_load(e, slot, &w);
	for (int s = 0; s < 2; s++)
		state[s] = shown_state(&w.ep[s]);
	*conn_state = zeek_conn_state(&w);
}

void engine_conn_info(const struct engine *e, const struct conn *slot, struct conn_info *o)
{
	struct wc w, *c = &w;

	eng_load(e, slot, c);
	int len = c->family == AF_INET6 ? 16 : 4;

	memset(o, 0, sizeof(*o));
	int proved = eng_sure_proved(e, c);
	o->id = c->id;
	o->instance = c->instance;
	o->family = c->family;
	o->midstream = (c->cflags & C_MIDSTREAM) != 0;
	o->vlan = c->vlan;
	o->vlan_inner = c->vlan_inner;
	for (int s = 0; s < 2; s++) {
		const struct ep *p = &c->ep[s];
		memcpy(o->addr[s], addr_of(c, s), (size_t)len);
		o->port[s] = c->port[s];
		o->state[s] = shown_state(p);
		o->unsure[s] = (uint8_t)(state_guessed(c, s) || !proved);
		o->zeek_state[s] = p->z;
		o->since_us[s] = p->since_us;
		o->pkts[s] = p->pkts;
		o->bytes[s] = p->bytes;
		const uint32_t *dur = dur_of(e, c);
		if (dur) {
			memcpy(o->state_ms[s], dur + s * TS_MAX, sizeof(o->state_ms[s]));
			/* The current state has lasted until the last packet or now. */
			uint64_t end = e->now_us > c->last_us ? e->now_us : c->last_us;
			if (p->state < TS_MAX && end >= o->since_us[s])
				o->state_ms[s][p->state] += rel_ms(c, end) - rel_ms(c, p->since_us);
			o->have_durations = 1;
		}
	}
	o->cs = zeek_conn_state(c);
	o->conn_state = engine_conn_state_name(o->cs);
	eng_hist_string(c, o->history);
	o->first_us = c->first_us;
	o->last_us = c->last_us;
}
