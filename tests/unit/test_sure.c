/*
 * Unit tests: what the engine still calls sure after capture drops
 * (engine_note_drops, engine_sure.c; doc/state-machine.md, "After capture
 * drops").  First crafted conversations between A (198.18.0.1:40000) and
 * B (198.18.0.2:80), one case per rule; then a property over the real
 * captures of tests/pcap: delete a window of packets, note the drop, and
 * every endpoint still called sure must be in the state the intact capture
 * gives it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture.h"
#include "decode.h"
#include "engine.h"
#include "unit.h"

#define T0 1700000000000000ull
#define MS(ms) (T0 + (uint64_t)(ms)*1000)

/* ---- crafted conversations ------------------------------------------------ */

static struct engine *fresh(void)
{
	struct engine_config cfg;

	engine_config_defaults(&cfg);
	return engine_new(&cfg, NULL);
}

/*
 * One step of a conversation between A (198.18.0.1, port 40000 unless
 * changed) and B (198.18.0.2:80).  Times are milliseconds after T0.
 */
struct step {
	char op; /* what the step does or checks, below */
	uint8_t flags;
	uint32_t seq, ack, len;
	uint64_t ms;
};

/* A segment from A or B. */
#define SEG(who, fl, sq, ak, ln, t)                                                                \
	{                                                                                          \
		who, fl, sq, ak, ln, t                                                             \
	}
/* engine_note_drops() with this horizon. */
#define NOTE(t)                                                                                    \
	{                                                                                          \
		'N', 0, 0, 0, 0, t                                                                 \
	}
/* Both ends sure, or both unsure. */
#define SURE                                                                                       \
	{                                                                                          \
		's', 0, 0, 0, 0, 0                                                                 \
	}
#define UNSURE                                                                                     \
	{                                                                                          \
		'u', 0, 0, 0, 0, 0                                                                 \
	}
/* A's (or B's) state. */
#define STATE_A(st)                                                                                \
	{                                                                                          \
		'a', st, 0, 0, 0, 0                                                                \
	}
#define STATE_B(st)                                                                                \
	{                                                                                          \
		'b', st, 0, 0, 0, 0                                                                \
	}
/* A's port from now on; time passes; how many connections are in the table. */
#define PORT(p)                                                                                    \
	{                                                                                          \
		'p', 0, p, 0, 0, 0                                                                 \
	}
#define ADVANCE(t)                                                                                 \
	{                                                                                          \
		't', 0, 0, 0, 0, t                                                                 \
	}
#define LIVE(n)                                                                                    \
	{                                                                                          \
		'l', 0, n, 0, 0, 0                                                                 \
	}
/* engine_stats: drops noted and the horizon. */
#define NOTES(n, t)                                                                                \
	{                                                                                          \
		'n', 0, n, 0, 0, t                                                                 \
	}

#define K TH_ACK
/* A's ISN is 1000, B's 5000; the handshake ends at 3 ms. */
#define HANDSHAKE                                                                                  \
	SEG('A', TH_SYN, 1000, 0, 0, 1), SEG('B', TH_SYN | K, 5000, 1001, 0, 2),                   \
		SEG('A', K, 1001, 5001, 0, 3)

struct script {
	const char *name;
	struct step steps[24];
};

static const struct script scripts[] = {
	{"(a) drops make a connection unsure; the horizon never moves back",
	 {HANDSHAKE, SURE, NOTES(0, 0), NOTE(10), UNSURE, STATE_A(TS_ESTABLISHED), NOTES(1, 10),
	  NOTE(5), NOTES(2, 10)}},
	{"(b) exact ACKs both ways after the horizon prove it again",
	 {HANDSHAKE, NOTE(10),
	  /* A's data acknowledges all of B's space: B's is proved, not A's yet */
	  SEG('A', K, 1001, 5001, 100, 11), UNSURE, SEG('B', K, 5001, 1101, 0, 12), SURE,
	  /* another drop; then the other way round */
	  NOTE(20), UNSURE, SEG('B', K, 5001, 1101, 50, 21), UNSURE, SEG('A', K, 1101, 5051, 0, 22),
	  SURE,
	  /* an ACK short of nxt (B's data in flight) proves nothing */
	  NOTE(30), SEG('B', K, 5051, 1101, 10, 31), SEG('A', K, 1101, 5051, 0, 32),
	  SEG('B', K, 5061, 1101, 0, 33), UNSURE, SEG('A', K, 1101, 5061, 0, 34), SURE}},
	{"(c) a dropped FIN keeps its connection unsure",
	 {HANDSHAKE,
	  /* A's FIN at 5 ms is among the drops: never fed */
	  NOTE(6),
	  /* B acks the FIN: beyond what A was seen to send */
	  SEG('B', K, 5001, 1002, 0, 7), UNSURE, SEG('B', K, 5001, 1002, 10, 8),
	  /* A's ACK starts past its FIN: the stretch missed is a hole */
	  SEG('A', K, 1002, 5011, 0, 9),
	  /* B's ACK is A's nxt now, but over the hole */
	  SEG('B', K, 5011, 1002, 0, 10), UNSURE,
	  /* the engine's states are wrong, which is why: A is in FIN-WAIT-2 */
	  STATE_A(TS_ESTABLISHED), SEG('B', TH_FIN | K, 5011, 1002, 0, 11),
	  SEG('A', K, 1002, 5012, 0, 12), UNSURE,
	  /* A shows CLOSE-WAIT; it is in TIME-WAIT */
	  STATE_A(TS_CLOSE_WAIT)}},
	{"(d) segments captured up to the horizon prove nothing",
	 {HANDSHAKE, SEG('A', K, 1001, 5001, 100, 4), NOTE(8),
	  /* still in the ring when the drops were read: as old as they are */
	  SEG('B', K, 5001, 1101, 0, 6), SEG('A', K, 1101, 5001, 0, 7),
	  SEG('B', K, 5001, 1101, 0, 8), UNSURE, SEG('B', K, 5001, 1101, 0, 9), UNSURE,
	  SEG('A', K, 1101, 5001, 0, 10), SURE}},
	{"an ACK beyond nxt withdraws the proof",
	 {HANDSHAKE, NOTE(10), SEG('A', K, 1001, 5001, 0, 11), SEG('B', K, 5001, 1001, 0, 12), SURE,
	  /* B acks data of A's never captured: dropped, and not yet noted */
	  SEG('B', K, 5001, 1101, 0, 13), UNSURE}},
	{"(e) an RST after the horizon proves",
	 {HANDSHAKE, NOTE(10), SEG('A', TH_RST, 1001, 0, 0, 11), STATE_A(TS_CLOSE),
	  STATE_B(TS_CLOSE), SURE}},
	{"(e) an RST captured before the horizon does not",
	 {HANDSHAKE, NOTE(10), SEG('A', TH_RST, 1001, 0, 0, 9), STATE_B(TS_CLOSE), UNSURE}},
	{"(e) nor one its receiver ignores (outside its window)",
	 {HANDSHAKE, NOTE(10), SEG('A', TH_RST, 1001 + 1000000, 0, 0, 11), STATE_B(TS_ESTABLISHED),
	  UNSURE}},
	{"(f) a mid-stream pickup without drops: unsure until both FINs, as before",
	 {SEG('A', K, 1001, 5001, 10, 1), SEG('B', K, 5001, 1011, 0, 2), UNSURE,
	  SEG('A', TH_FIN | K, 1011, 5001, 0, 3), SEG('B', TH_FIN | K, 5001, 1012, 0, 4),
	  SEG('A', K, 1012, 5002, 0, 5), SURE}},
	{"(f) picked up after the horizon: the same",
	 {NOTE(0), SEG('A', K, 1001, 5001, 10, 1), SEG('B', K, 5001, 1011, 0, 2), UNSURE,
	  SEG('A', TH_FIN | K, 1011, 5001, 0, 3), SEG('B', TH_FIN | K, 5001, 1012, 0, 4),
	  SEG('A', K, 1012, 5002, 0, 5), SURE}},
	{"a connection begun after the horizon is sure throughout",
	 {NOTE(0), SEG('A', TH_SYN, 1000, 0, 0, 1), SURE, SEG('B', TH_SYN | K, 5000, 1001, 0, 2),
	  SURE, SEG('A', K, 1001, 5001, 0, 3), SURE}},
	{"a table entry taken by a connection from before the horizon forgets its proofs",
	 {NOTE(500), PORT(40001), SEG('A', TH_SYN, 1000, 0, 0, 501),
	  SEG('B', TH_SYN | K, 5000, 1001, 0, 502), SEG('A', TH_RST, 1001, 0, 0, 503), SURE,
	  /* past the linger: the entry is free */
	  ADVANCE(503 + 61000), LIVE(0),
	  /* a late SYN from before the horizon starts a connection in it */
	  PORT(40002), SEG('A', TH_SYN, 7000, 0, 0, 400), UNSURE}},
	{"an end first seen from a bare ACK may hide a FIN below it",
	 {SEG('A', TH_SYN, 1000, 0, 0, 1),
	  /*
	   * Dropped: B's SYN-ACK (ISN 3000000000), A's ACK, B's data and FIN.
	   * B's ACKs start past the FIN; A's ACK of them, which is B's nxt,
	   * must not prove B's space.
	   */
	  NOTE(10), SEG('B', K, 3000000012u, 1001, 0, 11), SEG('A', K, 1001, 3000000012u, 10, 12),
	  SEG('B', K, 3000000012u, 1011, 0, 13), STATE_A(TS_ESTABLISHED), UNSURE}},
	{"states that do not follow from the FINs seen are unsure, proofs or not",
	 {SEG('A', TH_SYN, 1000, 0, 0, 1),
	  /* B's SYN-ACK and A's ACK are dropped; B's data and FIN still queued */
	  NOTE(5), SEG('B', K, 5001, 1001, 10, 4), SEG('B', TH_FIN | K, 5011, 1001, 0, 5),
	  /* A was in SYN-SENT when the FIN came, and the machine passed it over */
	  SEG('A', K, 1001, 5012, 0, 6), SEG('A', TH_FIN | K, 1001, 5012, 0, 7),
	  SEG('B', K, 5012, 1002, 0, 8), STATE_A(TS_FIN_WAIT2), STATE_B(TS_TIME_WAIT), UNSURE}},
	{"an end CLOSED beside an open one is unsure, proofs or not",
	 {/* A's SYN is dropped: B's RST that A ignored in SYN-SENT looks accepted */
	  NOTE(3), SEG('B', TH_RST | K, 0, 1001, 0, 2), SEG('B', TH_SYN | K, 5000, 1001, 0, 4),
	  SEG('A', K, 1001, 5001, 0, 5), SEG('A', K, 1001, 5001, 10, 6),
	  SEG('B', K, 5001, 1011, 0, 7), STATE_A(TS_CLOSE), STATE_B(TS_ESTABLISHED), UNSURE}},
};

/* A segment of a script, from A's port aport. */
static struct segment script_seg(const struct step *st, uint16_t aport)
{
	struct segment s;
	uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};
	int from_a = st->op == 'A';

	memset(&s, 0, sizeof(s));
	s.ts_us = MS(st->ms);
	s.family = AF_INET;
	memcpy(s.saddr, from_a ? a : b, 4);
	memcpy(s.daddr, from_a ? b : a, 4);
	s.sport = from_a ? aport : 80;
	s.dport = from_a ? 80 : aport;
	s.flags = st->flags;
	s.seq = st->seq;
	s.ack = st->ack;
	s.payload_len = s.payload_captured = st->len;
	s.win = 65535;
	s.csum = -1;
	return s;
}

struct one {
	struct engine *e;
	struct conn_info ci;
	int n;
};

static void grab_one(void *arg, const struct conn *c)
{
	struct one *o = arg;

	engine_conn_info(o->e, c, &o->ci);
	o->n++;
}

/* Does a check step hold?  (A is the originator in every script.) */
static int step_holds(struct engine *e, const struct step *st)
{
	const struct engine_stats *es = engine_stats(e);
	struct one o = {e, {0}, 0};

	engine_foreach(e, grab_one, &o);
	switch (st->op) {
	case 's':
	case 'u':
		return o.n == 1 && o.ci.unsure[0] == o.ci.unsure[1] &&
		       !o.ci.unsure[0] == (st->op == 's');
	case 'a':
	case 'b':
		return o.n == 1 && o.ci.state[st->op == 'b'] == st->flags;
	case 'l':
		return es->live == st->seq;
	case 'n':
		return es->drop_notes == st->seq &&
		       es->drop_horizon_us == (st->ms ? MS(st->ms) : 0);
	default:
		return 0;
	}
}

/* Steps on an engine; a check that does not hold is reported under name. */
static void play(struct engine *e, const struct step *steps, size_t n, const char *name)
{
	uint16_t aport = 40000;

	for (size_t i = 0; i < n && steps[i].op; i++) {
		const struct step *st = &steps[i];
		struct segment s;
		switch (st->op) {
		case 'A':
		case 'B':
			s = script_seg(st, aport);
			engine_input(e, &s);
			break;
		case 'N':
			engine_note_drops(e, MS(st->ms));
			break;
		case 'p':
			aport = (uint16_t)st->seq;
			break;
		case 't':
			engine_advance(e, MS(st->ms));
			break;
		default:
			if (!step_holds(e, st)) {
				printf("  %s: step %zu ('%c') does not hold\n", name, i + 1,
				       st->op);
				unit_failed = 1;
			}
		}
	}
}

static void crafted_conversations(void)
{
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct engine *e = fresh();
		play(e, scripts[i].steps, sizeof(scripts[i].steps) / sizeof(scripts[i].steps[0]),
		     scripts[i].name);
		engine_free(e);
	}
}

/*
 * Epochs are 24 bits: a proof 2^24 notes old would read as current, had
 * the sweep not cleared it.  The notes ask for that sweep; the segments
 * between them (A's duplicate ACKs, which prove nothing) run it.
 */
static void old_proofs_never_return(void)
{
	const struct step proof[] = {HANDSHAKE, NOTE(10), SEG('A', K, 1001, 5001, 0, 11),
				     SEG('B', K, 5001, 1001, 0, 12), SURE};
	const struct step unsure[] = {UNSURE};
	struct engine *e = fresh();

	play(e, proof, sizeof(proof) / sizeof(proof[0]), "a proof before 2^24 notes");
	for (uint32_t n = 1; n <= 1u << 24; n++) {
		engine_note_drops(e, MS(12));
		if (n % (1u << 20) == 0) {
			const struct step dup[] = {SEG('A', K, 1001, 5000, 0, 12 + n / (1u << 20))};
			play(e, dup, 1, "");
		}
	}
	play(e, unsure, 1, "a proof after 2^24 notes");
	CHECK(engine_stats(e)->drop_notes == (1u << 24) + 1);
	engine_free(e);
}

/* ---- the property over real captures -------------------------------------- */

struct trace {
	struct segment *v;
	size_t n, cap;
	int oom;
};

/* Room for one more element in *v (n used of *cap); 0, or -1 without memory. */
static int room(void *v, size_t n, size_t *cap, size_t size)
{
	void **pv = v;

	if (n < *cap)
		return 0;
	size_t ncap = *cap ? 2 * *cap : 64;
	void *nv = realloc(*pv, ncap * size);
	if (!nv)
		return -1;
	*pv = nv;
	*cap = ncap;
	return 0;
}

static void on_packet(void *arg, uint64_t ts_us, int dlt, const uint8_t *data, size_t caplen,
		      size_t wirelen)
{
	struct trace *t = arg;
	struct decode_stats st;
	struct segment s;

	memset(&st, 0, sizeof(st));
	if (decode_packet(dlt, data, caplen, wirelen, ts_us, 0, &s, &st) != DEC_TCP)
		return;
	if (room(&t->v, t->n, &t->cap, sizeof(*t->v)) < 0) {
		t->oom = 1;
		return;
	}
	t->v[t->n++] = s;
}

/* Every TCP segment of a capture file; -1 if it cannot be read whole. */
static int load(const char *path, struct trace *t)
{
	struct capture_opts o;
	struct capture *c;
	char err[256];
	int bad, n;

	memset(&o, 0, sizeof(o));
	o.file = path;
	memset(t, 0, sizeof(*t));
	if (!(c = capture_open(&o, err, sizeof(err), &bad)))
		return -1;
	while ((n = capture_dispatch(c, 0, on_packet, t, err, sizeof(err))) > 0)
		;
	capture_close(c);
	return n < 0 || t->oom ? -1 : 0;
}

struct rows {
	struct engine *e;
	struct conn_info *v;
	size_t n, cap;
	int oom;
};

static void grab_row(void *arg, const struct conn *c)
{
	struct rows *r = arg;

	if (room(&r->v, r->n, &r->cap, sizeof(*r->v)) < 0) {
		r->oom = 1;
		return;
	}
	engine_conn_info(r->e, c, &r->v[r->n++]);
}

static void rows_of(struct engine *e, struct rows *r)
{
	r->e = e;
	r->n = 0;
	r->oom = 0;
	engine_foreach(e, grab_row, r);
}

/* Which end of c is the address and port of end k of d; -1 if neither. */
static int end_in(const struct conn_info *c, const struct conn_info *d, int k)
{
	int len = d->family == AF_INET6 ? 16 : 4;

	if (c->family != d->family)
		return -1;
	for (int j = 0; j < 2; j++)
		if (c->port[j] == d->port[k] && memcmp(c->addr[j], d->addr[k], (size_t)len) == 0 &&
		    c->port[1 - j] == d->port[1 - k] &&
		    memcmp(c->addr[1 - j], d->addr[1 - k], (size_t)len) == 0)
			return j;
	return -1;
}

/*
 * The intact run's row for the same socket pair: the one whose last
 * packet is d's, so that after a reused tuple it is the instance the
 * kernel would show.
 */
static const struct conn_info *twin(const struct rows *r, const struct conn_info *d)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].last_us == d->last_us && end_in(&r->v[i], d, 0) >= 0)
			return &r->v[i];
	return NULL;
}

struct tally {
	uint64_t ends, sure, reproved, wrong, unmatched, paths, checks, oom;
};

/*
 * At a checkpoint: every end the cut run calls sure must be in the
 * state the intact run gives it; and the cut run through the full path
 * only (x: the same segments with a VLAN tag, so that every connection
 * has an extension record and the fast path never takes a segment)
 * must say the same as the cut run.
 */
static void compare(struct engine *intact, struct engine *cut, struct engine *x, uint64_t horizon,
		    struct tally *t, const char *name)
{
	struct rows ri = {0}, rc = {0}, rx = {0};
	uint64_t now = engine_now(intact);

	engine_advance(intact, now);
	engine_advance(cut, now);
	engine_advance(x, now);
	rows_of(intact, &ri);
	rows_of(cut, &rc);
	rows_of(x, &rx);
	t->checks++;
	if (ri.oom || rc.oom || rx.oom)
		t->oom++;
	if (rc.n != rx.n)
		t->paths++;
	for (size_t i = 0; i < rc.n; i++) {
		const struct conn_info *d = &rc.v[i];
		if (i < rx.n &&
		    (rx.v[i].id != d->id || rx.v[i].state[0] != d->state[0] ||
		     rx.v[i].state[1] != d->state[1] || rx.v[i].unsure[0] != d->unsure[0] ||
		     rx.v[i].unsure[1] != d->unsure[1])) {
			t->paths++;
			printf("  %s: conn %u: fast path %s/%s%s%s, full path %s/%s%s%s\n", name,
			       d->id, state_name(d->state[0]), state_name(d->state[1]),
			       d->unsure[0] ? "?" : "", d->unsure[1] ? "?" : "",
			       state_name(rx.v[i].state[0]), state_name(rx.v[i].state[1]),
			       rx.v[i].unsure[0] ? "?" : "", rx.v[i].unsure[1] ? "?" : "");
		}
		const struct conn_info *g = twin(&ri, d);
		for (int k = 0; k < 2; k++) {
			t->ends++;
			if (d->unsure[k])
				continue;
			t->sure++;
			if (d->first_us <= horizon)
				t->reproved++;
			if (!g) {
				t->unmatched++;
				printf("  %s: conn %u end %d sure, but the intact run has no such "
				       "row\n",
				       name, d->id, k);
				continue;
			}
			int j = end_in(g, d, k);
			if (g->state[j] != d->state[k]) {
				t->wrong++;
				printf("  %s: conn %u end %d sure in %s, intact run says %s\n",
				       name, d->id, k, state_name(d->state[k]),
				       state_name(g->state[j]));
			}
		}
	}
	free(ri.v);
	free(rc.v);
	free(rx.v);
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * A window of deleted segments, [from, from + len), and the `queued`
 * segments after it that were still in the ring when the drops were read:
 * the note comes after the window, its horizon is the latest capture time
 * among the window and those (so they follow the note but are no later).
 */
struct cut {
	size_t from, len, queued;
	uint64_t horizon;
};

static int in_cut(const struct cut *cuts, int ncuts, size_t i)
{
	for (int k = 0; k < ncuts; k++)
		if (i >= cuts[k].from && i < cuts[k].from + cuts[k].len)
			return 1;
	return 0;
}

/*
 * One run over a capture with the windows cut out (in order, apart);
 * checkpoints after each window's queued segments, halfway from the last
 * to the end, and at the end.
 */
static void one_run(const struct trace *tr, struct cut *cuts, int ncuts, struct tally *t,
		    const char *name)
{
	struct engine *intact = fresh(), *e = fresh(), *x = fresh();
	size_t checks[4];
	int nchecks = 0;
	uint64_t horizon = 0;

	for (int k = 0; k < ncuts; k++) {
		struct cut *c = &cuts[k];
		size_t q_end = c->from + c->len + c->queued;
		q_end = q_end < tr->n ? q_end : tr->n;
		for (size_t i = c->from; i < q_end; i++)
			c->horizon = tr->v[i].ts_us > c->horizon ? tr->v[i].ts_us : c->horizon;
		checks[nchecks++] = q_end;
	}
	checks[nchecks] = checks[nchecks - 1] + (tr->n - checks[nchecks - 1]) / 2;
	nchecks++;
	for (size_t i = 0; i <= tr->n; i++) {
		for (int k = 0; k < ncuts; k++)
			if (i == cuts[k].from + cuts[k].len) {
				engine_note_drops(e, cuts[k].horizon);
				engine_note_drops(x, cuts[k].horizon);
				horizon = cuts[k].horizon;
			}
		for (int k = 0; k < nchecks; k++)
			if (i == checks[k] && (k == 0 || checks[k] != checks[k - 1]))
				compare(intact, e, x, horizon, t, name);
		if (i == tr->n)
			break;
		engine_input(intact, &tr->v[i]);
		if (in_cut(cuts, ncuts, i))
			continue;
		struct segment tagged = tr->v[i];
		if (!tagged.vlan)
			tagged.vlan = 4095; /* (reserved: no capture has it) */
		engine_input(e, &tr->v[i]);
		engine_input(x, &tagged);
	}
	compare(intact, e, x, horizon, t, name);
	engine_free(intact);
	engine_free(e);
	engine_free(x);
}

/* Runs per capture: each with its own windows. */
#define SEEDS 200

/* The directories of real captures; a file in two of them is read once. */
static const char *const capture_dirs[] = {"tests/pcap/captures/pcap", "../shared/captures/pcap",
					   "tests/pcap/data"};

static int seen_before(char names[][256], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static void drops_never_make_a_wrong_state_sure(void)
{
	static char names[256][256];
	struct tally t = {0};
	size_t files = 0, runs = 0;

	for (size_t d = 0; d < sizeof(capture_dirs) / sizeof(capture_dirs[0]); d++) {
		DIR *dir = opendir(capture_dirs[d]);
		struct dirent *de;
		while (dir && (de = readdir(dir)) && files < 256) {
			char path[1024];
			struct trace tr;
			if (de->d_name[0] == '.' || !strstr(de->d_name, ".pcap") ||
			    seen_before(names, files, de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", capture_dirs[d], de->d_name);
			if (load(path, &tr) < 0 || tr.n < 2) {
				free(tr.v); /* the broken files of tests/pcap/data */
				continue;
			}
			snprintf(names[files++], sizeof(names[0]), "%s", de->d_name);
			uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)tr.n * 0x100000001b3ull;
			for (int seed = 0; seed < SEEDS; seed++) {
				struct cut cuts[2];
				int ncuts = 1 + (int)(next_rand(&rng) % 2);
				char what[512];
				size_t at = 0;
				int m = snprintf(what, sizeof(what), "%s, cut", de->d_name);
				for (int k = 0; k < ncuts; k++) {
					/* short windows half the time, else up to an eighth */
					size_t most = (seed & 1) ? 8 : tr.n / 8 ? tr.n / 8 : 1;
					struct cut *c = &cuts[k];
					memset(c, 0, sizeof(*c));
					c->from = at + (size_t)(next_rand(&rng) % (tr.n - at));
					c->len = 1 + (size_t)(next_rand(&rng) % most);
					if (c->from + c->len > tr.n)
						c->len = tr.n - c->from;
					c->queued = (size_t)(next_rand(&rng) % 4);
					m += snprintf(what + m, sizeof(what) - (size_t)m,
						      " %zu-%zu (+%zu queued)", c->from,
						      c->from + c->len - 1, c->queued);
					at = c->from + c->len + 1;
					if (at >= tr.n) {
						ncuts = k + 1;
						break;
					}
				}
				one_run(&tr, cuts, ncuts, &t, what);
				runs++;
			}
			free(tr.v);
		}
		if (dir)
			closedir(dir);
	}
	printf("  %zu captures, %zu runs, %llu checkpoints: %llu of %llu ends sure "
	       "(%llu of them in connections from before the drop)\n",
	       files, runs, (unsigned long long)t.checks, (unsigned long long)t.sure,
	       (unsigned long long)t.ends, (unsigned long long)t.reproved);
	CHECK(files >= 20);
	CHECK(t.wrong == 0);
	CHECK(t.unmatched == 0);
	CHECK(t.paths == 0);
	CHECK(t.oom == 0);
	/* A rule that gave up on every connection would pass the checks above. */
	CHECK(t.sure * 6 >= t.ends);
	CHECK(t.reproved * 10 >= t.sure);
}

const struct unit_test sure_tests[] = {
	{"sure: crafted conversations with drops, one rule each", crafted_conversations},
	{"sure: a proof never comes back when the epoch wraps", old_proofs_never_return},
	{"sure: over real captures with drops, no sure state is wrong",
	 drops_never_make_a_wrong_state_sure},
	{NULL, NULL},
};
