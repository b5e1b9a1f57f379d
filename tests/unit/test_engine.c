/*
 * Unit tests: the engine's transitions on crafted segments.  Each case is a
 * short conversation between A (198.18.0.1:40000) and B (198.18.0.2:80),
 * written as seg(FROM, FLAGS, seq, ack, len), with the final RFC state of
 * each endpoint, Zeek's conn_state and the sequence of transitions.
 */
/* The segment table leaves trailing fields (window, time) zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"
#include "segment.h"
#include "topmodel.h"
#include "unit.h"

#define A 0
#define B 1
#define S TH_SYN
#define F TH_FIN
#define R TH_RST
#define K TH_ACK

struct seg {
	int from, flags;
	uint32_t seq, ack, len;
	int win;	/* 0 means 65535, -1 means 0 */
	uint64_t at_ms; /* 0: 1 ms after the previous */
	uint64_t at_us; /* if not 0, instead of at_ms: microseconds after the base time */
};

struct log {
	char buf[2048];
	size_t n;
	struct engine *e;
	int closed;
};

static void on_event(void *arg, const struct engine_event *ev)
{
	struct log *l = arg;
	struct conn_info ci;
	engine_conn_info(l->e, ev->conn, &ci);
	/* "A:SYN-SENT" means A entered SYN-SENT; A is 198.18.0.1. */
	int who = ci.addr[ev->endpoint][3] == 1 ? 'A' : 'B';
	l->n += (size_t)snprintf(l->buf + l->n, sizeof(l->buf) - l->n, "%s%c:%s", l->n ? " " : "",
				 who, state_name(ev->to));
}

static void on_closed(void *arg, const struct conn *c, enum close_reason why)
{
	(void)c;
	(void)why;
	((struct log *)arg)->closed++;
}

struct result {
	int state[2]; /* by A and B, not orig/resp */
	char conn_state[8];
	char history[24];
	int instance, conns, midstream;
};

static void grab(void *arg, const struct conn *c)
{
	struct log *l = ((void **)arg)[0];
	struct result *r = ((void **)arg)[1];
	struct conn_info ci;
	engine_conn_info(l->e, c, &ci);
	int a_side = ci.addr[0][3] == 1 ? 0 : 1;
	r->state[0] = ci.state[a_side];
	r->state[1] = ci.state[1 - a_side];
	snprintf(r->conn_state, sizeof(r->conn_state), "%s", ci.conn_state);
	snprintf(r->history, sizeof(r->history), "%s", ci.history);
	r->instance = ci.instance;
	r->midstream = ci.midstream;
	r->conns++;
}

/* The segment g from A's port aport (B's is 80), captured at ts_us. */
static struct segment mkseg(const struct seg *g, uint64_t ts_us, uint16_t aport)
{
	struct segment s;
	uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};

	memset(&s, 0, sizeof(s));
	s.ts_us = ts_us;
	s.family = AF_INET;
	memcpy(s.saddr, g->from == A ? a : b, 4);
	memcpy(s.daddr, g->from == A ? b : a, 4);
	s.sport = g->from == A ? aport : 80;
	s.dport = g->from == A ? 80 : aport;
	s.flags = (uint8_t)g->flags;
	s.seq = g->seq;
	s.ack = g->ack;
	s.payload_len = s.payload_captured = g->len;
	/* 0 means 65535, and -1 a shut window */
	s.win = (uint16_t)(g->win < 0 ? 0 : g->win ? g->win : 65535);
	s.csum = -1;
	return s;
}

static struct engine *play(const struct seg *segs, size_t n, struct log *l, struct result *r,
			   struct engine_config *cfg)
{
	struct engine_config def;
	if (!cfg) {
		engine_config_defaults(&def);
		cfg = &def;
	}
	struct engine_hooks hooks = {on_event, on_closed, l};
	struct engine *e = engine_new(cfg, &hooks);
	uint64_t t = 1700000000000000ull;
	memset(l, 0, sizeof(*l));
	l->e = e;
	for (size_t i = 0; i < n; i++) {
		t = segs[i].at_us   ? 1700000000000000ull + segs[i].at_us
		    : segs[i].at_ms ? 1700000000000000ull + segs[i].at_ms * 1000
				    : t + 1000;
		struct segment s = mkseg(&segs[i], t, 40000);
		engine_input(e, &s);
	}
	memset(r, 0, sizeof(*r));
	void *args[2] = {l, r};
	engine_foreach(e, grab, args);
	return e;
}

struct tcase {
	const char *name;
	struct seg segs[16];
	size_t n;
	int a, b;		/* final states of A and B */
	const char *conn_state; /* Zeek's */
	const char *trace;	/* transitions, in order */
};

/* Sequence numbers: A's ISN is 1000, B's is 5000. */
static const struct tcase cases[] = {
	{"three-way handshake (RFC 9293 3.5, figure 6)",
	 {{A, S, 1000, 0, 0}, {B, S | K, 5000, 1001, 0}, {A, K, 1001, 5001, 0}},
	 3,
	 TS_ESTABLISHED,
	 TS_ESTABLISHED,
	 "S1",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED"},
	{"normal close, A first (figure 12)",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, K, 5001, 1002, 0},
	  {B, F | K, 5001, 1002, 0},
	  {A, K, 1002, 5002, 0}},
	 7,
	 TS_TIME_WAIT,
	 TS_CLOSE,
	 "SF",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "A:FIN-WAIT-2 B:LAST-ACK A:TIME-WAIT B:CLOSED"},
	{"FIN carrying data: the ACK must cover data and FIN",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 100},
	  {B, K, 5001, 1101, 0}},
	 5,
	 TS_FIN_WAIT1,
	 TS_CLOSE_WAIT,
	 "S2",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT"},
	{"FIN acknowledged, FIN and ACK in one segment from B",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, F | K, 5001, 1002, 0},
	  {A, K, 1002, 5002, 0}},
	 6,
	 TS_TIME_WAIT,
	 TS_CLOSE,
	 "SF",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "B:LAST-ACK A:FIN-WAIT-2 A:TIME-WAIT B:CLOSED"},
	{"half-close: data still flows from B after A's FIN",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, K, 5001, 1002, 0},
	  {B, K, 5001, 1002, 500},
	  {A, K, 1002, 5501, 0},
	  {B, K, 5501, 1002, 500},
	  {A, K, 1002, 6001, 0}},
	 9,
	 TS_FIN_WAIT2,
	 TS_CLOSE_WAIT,
	 "S2",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "A:FIN-WAIT-2"},
	{"simultaneous close: FINs cross (figure 13)",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, F | K, 5001, 1001, 0},
	  {A, K, 1002, 5002, 0},
	  {B, K, 5002, 1002, 0}},
	 7,
	 TS_TIME_WAIT,
	 TS_TIME_WAIT,
	 "SF",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "B:CLOSING A:CLOSING B:TIME-WAIT A:TIME-WAIT"},
	{"simultaneous open (figure 8)",
	 {{A, S, 1000, 0, 0},
	  {B, S, 5000, 0, 0},
	  {A, S | K, 1000, 5001, 0},
	  {B, S | K, 5000, 1001, 0}},
	 4,
	 TS_ESTABLISHED,
	 TS_ESTABLISHED,
	 "S1",
	 "A:SYN-SENT B:SYN-RECEIVED A:SYN-RECEIVED B:ESTABLISHED A:ESTABLISHED"},
	{"retransmitted SYN and FIN change nothing",
	 {{A, S, 1000, 0, 0},
	  {A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0}},
	 6,
	 TS_FIN_WAIT1,
	 TS_CLOSE_WAIT,
	 "S2",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT"},
	{"refused: SYN answered by RST+ACK",
	 {{A, S, 1000, 0, 0}, {B, R | K, 0, 1001, 0}},
	 2,
	 TS_CLOSE,
	 TS_CLOSE,
	 "REJ",
	 "A:SYN-SENT B:SYN-RECEIVED B:CLOSED A:CLOSED"},
	{"RST whose ACK does not match the SYN is ignored in SYN-SENT (3.10.7.3)",
	 {{A, S, 1000, 0, 0}, {B, R | K, 0, 777, 0}},
	 2,
	 TS_SYN_SENT,
	 TS_CLOSE,
	 "REJ",
	 "A:SYN-SENT B:SYN-RECEIVED B:CLOSED"},
	{"unanswered SYN",
	 {{A, S, 1000, 0, 0}, {A, S, 1000, 0, 0, 0, 1000}},
	 2,
	 TS_SYN_SENT,
	 TS_SYN_RECV,
	 "S0",
	 "A:SYN-SENT B:SYN-RECEIVED"},
	{"RST in ESTABLISHED, in the window",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, R | K, 1001, 5001, 0}},
	 4,
	 TS_CLOSE,
	 TS_CLOSE,
	 "RSTO",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:CLOSED B:CLOSED"},
	{"RST outside the window is ignored (RFC 5961)",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0, 1000},
	  {A, K, 1001, 5001, 0},
	  {A, R, 900000, 0, 0}},
	 4,
	 TS_CLOSE,
	 TS_ESTABLISHED,
	 "RSTO",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:CLOSED"},
	{"RST in CLOSE-WAIT and in FIN-WAIT-2",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, K, 5001, 1002, 0},
	  {B, R | K, 5001, 1002, 0}},
	 6,
	 TS_CLOSE,
	 TS_CLOSE,
	 "RSTR",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "A:FIN-WAIT-2 B:CLOSED A:CLOSED"},
	{"RST in TIME-WAIT closes it (Linux default, no RFC 1337)",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1001, 5001, 0},
	  {B, F | K, 5001, 1002, 0},
	  {A, K, 1002, 5002, 0},
	  {B, R, 5002, 0, 0}},
	 7,
	 TS_CLOSE,
	 TS_CLOSE,
	 "SF",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "B:LAST-ACK A:FIN-WAIT-2 A:TIME-WAIT B:CLOSED A:CLOSED"},
	{"lost final ACK: B stays in SYN-RECEIVED",
	 {{A, S, 1000, 0, 0}, {B, S | K, 5000, 1001, 0}},
	 2,
	 TS_ESTABLISHED,
	 TS_SYN_RECV,
	 "S1",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED"},
	{"picked up mid-stream: both ESTABLISHED, then a normal close",
	 {{A, K, 7000, 9000, 100},
	  {B, K, 9000, 7100, 0},
	  {B, F | K, 9000, 7100, 0},
	  {A, F | K, 7100, 9001, 0},
	  {B, K, 9001, 7101, 0}},
	 5,
	 TS_CLOSE,
	 TS_TIME_WAIT,
	 "SF",
	 "A:ESTABLISHED B:ESTABLISHED B:FIN-WAIT-1 A:CLOSE-WAIT A:LAST-ACK B:FIN-WAIT-2 "
	 "B:TIME-WAIT A:CLOSED"},
	{"out-of-order FIN waits for the ACK that proves it arrived",
	 {{A, S, 1000, 0, 0},
	  {B, S | K, 5000, 1001, 0},
	  {A, K, 1001, 5001, 0},
	  {A, F | K, 1101, 5001, 0},
	  {B, K, 5001, 1001, 0},
	  {A, K, 1001, 5001, 100},
	  {B, K, 5001, 1102, 0}},
	 7,
	 TS_FIN_WAIT2,
	 TS_CLOSE_WAIT,
	 "S2",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED A:FIN-WAIT-1 B:CLOSE-WAIT "
	 "A:FIN-WAIT-2"},
	{"TCP Fast Open: the SYN-ACK acknowledges the SYN's data too",
	 {{A, S, 1000, 0, 50}, {B, S | K, 5000, 1051, 0}, {A, K, 1051, 5001, 0}},
	 3,
	 TS_ESTABLISHED,
	 TS_ESTABLISHED,
	 "S1",
	 "A:SYN-SENT B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED"},
	{"SYN-ACK acknowledging beyond what was sent is not acceptable",
	 {{A, S, 1000, 0, 0}, {B, S | K, 5000, 1051, 0}},
	 2,
	 TS_SYN_SENT,
	 TS_SYN_RECV,
	 "S1",
	 "A:SYN-SENT B:SYN-RECEIVED"},
	{"SYN-ACK seen first: the SYN was missed",
	 {{B, S | K, 5000, 1001, 0}, {A, K, 1001, 5001, 0}},
	 2,
	 TS_ESTABLISHED,
	 TS_ESTABLISHED,
	 "S1",
	 "B:SYN-RECEIVED A:ESTABLISHED B:ESTABLISHED"},
};

static void transitions(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		struct log l;
		struct result r;
		struct engine *e = play(t->segs, t->n, &l, &r, NULL);
		int ok = r.conns == 1 && r.state[0] == t->a && r.state[1] == t->b &&
			 strcmp(r.conn_state, t->conn_state) == 0 && strcmp(l.buf, t->trace) == 0;
		if (!ok) {
			printf("  case \"%s\":\n    got  A=%s B=%s %s [%s] conns=%d\n    want A=%s "
			       "B=%s %s "
			       "[%s]\n",
			       t->name, state_name(r.state[0]), state_name(r.state[1]),
			       r.conn_state, l.buf, r.conns, state_name(t->a), state_name(t->b),
			       t->conn_state, t->trace);
			unit_failed = 1;
		}
		engine_free(e);
	}
}

static void timewait_expires_after_2msl(void)
{
	struct seg segs[] = {
		{A, S, 1000, 0, 0, 0, 1},	 {B, S | K, 5000, 1001, 0, 0, 2},
		{A, K, 1001, 5001, 0, 0, 3},	 {A, F | K, 1001, 5001, 0, 0, 4},
		{B, F | K, 5001, 1002, 0, 0, 5}, {A, K, 1002, 5002, 0, 0, 6},
	};
	const uint64_t base = 1700000000000000ull;
	struct log l;
	struct result r;
	struct engine *e = play(segs, 6, &l, &r, NULL);
	/* A entered TIME-WAIT at 5 ms: still there at 60.004 s... */
	engine_advance(e, base + 60004 * 1000);
	CHECK(strstr(l.buf, "A:TIME-WAIT B:CLOSED") != NULL && !strstr(l.buf, "B:CLOSED A:CLOSED"));
	/* ...and the 2MSL timer fires at 60.005 s (RFC 9293 3.10.8). */
	engine_advance(e, base + 61000 * 1000);
	CHECK(strstr(l.buf, "A:TIME-WAIT B:CLOSED A:CLOSED") != NULL);
	engine_free(e);
	/* A settable 2MSL. */
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	cfg.time_wait_us = 5000000;
	e = play(segs, 6, &l, &r, &cfg);
	engine_advance(e, base + 4000 * 1000);
	CHECK(!strstr(l.buf, "B:CLOSED A:CLOSED"));
	engine_advance(e, base + 6000 * 1000);
	CHECK(strstr(l.buf, "B:CLOSED A:CLOSED") != NULL);
	engine_free(e);
	/* A retransmitted FIN in TIME-WAIT restarts the timer. */
	struct seg again[7];
	memcpy(again, segs, sizeof(segs));
	again[6] = (struct seg){B, F | K, 5001, 1002, 0, 0, 30000};
	e = play(again, 7, &l, &r, NULL);
	engine_advance(e, base + 61000 * 1000);
	CHECK(!strstr(l.buf, "B:CLOSED A:CLOSED"));
	engine_advance(e, base + 91000 * 1000);
	CHECK(strstr(l.buf, "B:CLOSED A:CLOSED") != NULL);
	engine_free(e);
}

/*
 * Timers queued far apart: with a 3-hour 2MSL, a FIN retransmitted an hour
 * into TIME-WAIT queues a timer an hour after the one before it, too far
 * for the queue's 32-bit steps (it takes a marker).  The restarted timer
 * must fire exactly 3 hours after that FIN, not before and not never.
 */
static void timers_queued_far_apart(void)
{
	const uint64_t hour_ms = 3600 * 1000, base = 1700000000000000ull;
	struct seg segs[] = {
		{A, S, 1000, 0, 0, 0, 1},
		{B, S | K, 5000, 1001, 0, 0, 2},
		{A, K, 1001, 5001, 0, 0, 3},
		{A, F | K, 1001, 5001, 0, 0, 4},
		{B, F | K, 5001, 1002, 0, 0, 5},
		{A, K, 1002, 5002, 0, 0, 6},
		{B, F | K, 5001, 1002, 0, 0, hour_ms},
	};
	struct engine_config cfg;
	struct log l;
	struct result r;
	engine_config_defaults(&cfg);
	cfg.time_wait_us = 3 * hour_ms * 1000;
	cfg.idle_timeout_us = 24 * hour_ms * 1000;
	struct engine *e = play(segs, 7, &l, &r, &cfg);
	uint64_t due = base + 4 * hour_ms * 1000;
	engine_advance(e, base + 3 * hour_ms * 1000 + 1000000); /* the first timer, now stale */
	engine_advance(e, due - 1);
	CHECK(strstr(l.buf, "A:TIME-WAIT B:CLOSED") != NULL && !strstr(l.buf, "B:CLOSED A:CLOSED"));
	engine_advance(e, due);
	CHECK(strstr(l.buf, "B:CLOSED A:CLOSED") != NULL);
	engine_free(e);
}

struct tslog {
	uint64_t ts[64];
	int n;
};

static void on_event_ts(void *arg, const struct engine_event *ev)
{
	struct tslog *l = arg;
	if (ev->cause == CAUSE_TIMEWAIT_EXPIRED && l->n < 64)
		l->ts[l->n++] = ev->ts_us;
}

/* A connection opened and closed by A: it ends in TIME-WAIT, B in CLOSED. */
static const struct seg a_closes[6] = {
	{A, S, 1000, 0, 0},	   {B, S | K, 5000, 1001, 0}, {A, K, 1001, 5001, 0},
	{A, F | K, 1001, 5001, 0}, {B, F | K, 5001, 1002, 0}, {A, K, 1002, 5002, 0},
};

/* One connection of A's from port sport, opened and closed by A at t0 ms. */
static void open_close(struct engine *e, uint16_t sport, uint64_t t0_ms)
{
	for (size_t i = 0; i < 6; i++) {
		struct segment s =
			mkseg(&a_closes[i], 1700000000000000ull + (t0_ms + i) * 1000, sport);
		engine_input(e, &s);
	}
}

/*
 * A connection's table entry is taken by a new instance of its tuple while
 * the old one's 2MSL timer is still queued.  When timers run late (here all
 * at once), the 2MSL ends must still come out in time order: the old timer
 * must not fire the new instance's, which is due after another connection's.
 */
static void timers_in_time_order_across_reuse(void)
{
	struct engine_config cfg;
	struct tslog l = {{0}, 0};
	struct engine_hooks hooks = {on_event_ts, NULL, &l};

	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, &hooks);
	open_close(e, 40000, 0);    /* A in TIME-WAIT from 0.004 s */
	open_close(e, 40001, 500);  /* another, from 0.504 s */
	open_close(e, 40000, 2000); /* reuses the first tuple (and its entry) */
	engine_advance(e, 1700000000000000ull + 100 * 1000000ull);
	CHECK(l.n == 2); /* the first instance's 2MSL ended when its tuple was reused */
	for (int i = 1; i < l.n; i++)
		CHECK(l.ts[i] >= l.ts[i - 1]);
	engine_free(e);
}

static void tuple_reuse_starts_new_instance(void)
{
	struct seg segs[] = {
		{A, S, 1000, 0, 0},
		{B, S | K, 5000, 1001, 0},
		{A, K, 1001, 5001, 0},
		{B, F | K, 5001, 1001, 0},
		{A, K, 1001, 5002, 0},
		{A, F | K, 1001, 5002, 0},
		{B, K, 5002, 1002, 0},
		/* B is in TIME-WAIT; A connects again from the same port. */
		{A, S, 90000, 0, 0},
		{B, S | K, 70000, 90001, 0},
		{A, K, 90001, 70001, 0},
	};
	struct log l;
	struct result r;
	struct engine *e = play(segs, 10, &l, &r, NULL);
	CHECK(r.conns == 1 && r.instance == 2);
	CHECK(r.state[0] == TS_ESTABLISHED && r.state[1] == TS_ESTABLISHED);
	CHECK(l.closed == 1);
	if (!strstr(l.buf, "B:TIME-WAIT A:CLOSED B:CLOSED A:SYN-SENT B:SYN-RECEIVED")) {
		printf("  trace: %s\n", l.buf);
		unit_failed = 1;
	}
	CHECK(engine_stats(e)->reused == 1);
	engine_free(e);
}

static void idle_connections_expire(void)
{
	struct seg segs[] = {
		{A, S, 1000, 0, 0, 0, 1},
		{B, S | K, 5000, 1001, 0, 0, 2},
		{A, K, 1001, 5001, 0, 0, 3},
		/* An unrelated connection keeps the clock moving. */
	};
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	cfg.idle_timeout_us = 10 * 1000000ull;
	struct log l;
	struct result r;
	struct engine *e = play(segs, 3, &l, &r, &cfg);
	CHECK(r.conns == 1);
	engine_advance(e, 1700000000000000ull + 9000 * 1000);
	CHECK(engine_stats(e)->live == 1);
	engine_advance(e, 1700000000000000ull + 12000 * 1000);
	CHECK(engine_stats(e)->live == 0 && engine_stats(e)->expired == 1 && l.closed == 1);
	engine_free(e);
}

static void max_conns_evicts(void)
{
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	cfg.max_conns = 100;
	struct log l;
	memset(&l, 0, sizeof(l));
	struct engine_hooks hooks = {NULL, on_closed, &l};
	struct engine *e = engine_new(&cfg, &hooks);
	/* A SYN flood from 1000 sources. */
	for (int i = 0; i < 1000; i++) {
		struct segment s;
		memset(&s, 0, sizeof(s));
		s.ts_us = 1700000000000000ull + (uint64_t)i;
		s.family = AF_INET;
		s.saddr[0] = 198;
		s.saddr[1] = 19;
		s.saddr[2] = (uint8_t)(i >> 8);
		s.saddr[3] = (uint8_t)i;
		uint8_t d[4] = {198, 18, 0, 2};
		memcpy(s.daddr, d, 4);
		s.sport = 1234;
		s.dport = 80;
		s.flags = TH_SYN;
		s.seq = (uint32_t)i;
		engine_input(e, &s);
	}
	const struct engine_stats *st = engine_stats(e);
	CHECK(st->live == 100 && st->peak == 100);
	CHECK(st->evicted == 900 && l.closed == 900);
	CHECK(st->conns == 1000);
	engine_free(e);
}

static void zeek_history_letters(void)
{
	struct seg segs[] = {
		{A, S, 1000, 0, 0},	  {B, S | K, 5000, 1001, 0}, {A, K, 1001, 5001, 0},
		{A, K, 1001, 5001, 10},	  {B, K, 5001, 1011, 20},    {A, K, 1001, 5001, 10},
		{B, K, 5021, 1011, 0, 1}, {A, F | K, 1011, 5021, 0}, {B, F | K, 5021, 1012, 0},
		{A, K, 1012, 5022, 0},
	};
	struct log l;
	struct result r;
	struct engine *e = play(segs, 10, &l, &r, NULL);
	/* S h A D d T(retransmitted data) w? no: win 1 is not zero; a F f */
	CHECK_STR(r.history, "ShADdTaFf");
	CHECK_STR(r.conn_state, "SF");
	engine_free(e);
}

/*
 * The connection key's hash: the same both ways, and spread over the low
 * bits (the bucket index) when tuples differ in only a few bits: the last
 * 16 bits of an IPv6 source (a scan from one /112), the last byte of an
 * IPv4 source, or the source port.  A hash that dropped them put a whole
 * scan in one bucket.
 */
static size_t distinct_low16(const uint32_t *h, size_t n)
{
	static uint8_t seen[65536];
	size_t d = 0;
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++)
		if (!seen[h[i] & 0xffff]++)
			d++;
	return d;
}

static void key_hash_symmetric_and_spread(void)
{
	enum { N = 4096 };
	static uint32_t h[3][N];
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, NULL);
	CHECK(e != NULL);
	if (!e)
		return;
	int asym = 0;
	for (int i = 0; i < N; i++) {
		struct segment s, r;
		memset(&s, 0, sizeof(s));
		s.family = AF_INET6;
		s.saddr[0] = 0xfd;
		s.saddr[14] = (uint8_t)(i >> 8);
		s.saddr[15] = (uint8_t)i;
		s.daddr[0] = 0xfd;
		s.daddr[15] = 1;
		s.sport = 40000;
		s.dport = 443;
		h[0][i] = engine_hash(e, &s);
		r = s; /* the other direction */
		memcpy(r.saddr, s.daddr, 16);
		memcpy(r.daddr, s.saddr, 16);
		r.sport = s.dport;
		r.dport = s.sport;
		asym += engine_hash(e, &r) != h[0][i];
		memset(&s, 0, sizeof(s));
		s.family = AF_INET;
		s.saddr[0] = 198;
		s.saddr[1] = 18;
		s.saddr[2] = (uint8_t)(i >> 8);
		s.saddr[3] = (uint8_t)i;
		s.daddr[0] = 198;
		s.daddr[1] = 19;
		s.daddr[3] = 1;
		s.sport = 40000;
		s.dport = 443;
		h[1][i] = engine_hash(e, &s);
		s.saddr[2] = 0;
		s.saddr[3] = 7;
		s.sport = (uint16_t)(30000 + i);
		h[2][i] = engine_hash(e, &s);
	}
	CHECK(asym == 0);
	/* 4096 random values fill about 3970 of 65536 buckets; ask for 3500. */
	for (int k = 0; k < 3; k++) {
		size_t d = distinct_low16(h[k], N);
		if (d < 3500) {
			printf("  case %d: %zu distinct buckets of %d keys\n", k, d, N);
			unit_failed = 1;
		}
	}
	engine_free(e);
}

/*
 * The table packs what a connection usually holds into a short form and
 * the rest into an extension record: histories past the letters kept
 * inline, up to the 21-letter cap, and scaled letters counted far beyond
 * the short form's counters must come back exactly.
 */
static void long_histories_and_counts(void)
{
	enum { N = 10000 };
	static struct seg segs[4 + 2 * N + 2];
	size_t n = 0;

	segs[n++] = (struct seg){A, S, 1000, 0, 0, 0, 0};
	segs[n++] = (struct seg){B, S | K, 5000, 1001, 0, 0, 0};
	segs[n++] = (struct seg){A, K, 1001, 5001, 0, 0, 0};
	segs[n++] = (struct seg){A, K, 1001, 5001, 10, 0, 0};
	for (int i = 0; i < N; i++) {
		/* A retransmits its data (T), B's window stays shut (W). */
		segs[n++] = (struct seg){A, K, 1001, 5001, 10, 0, 0};
		segs[n++] = (struct seg){B, K, 5001, 1011, 0, -1, 0};
	}
	segs[n++] = (struct seg){A, F | K, 1011, 5001, 0, 0, 0};
	segs[n++] = (struct seg){B, F | K, 5001, 1012, 0, 0, 0};
	struct log l;
	struct result r;
	struct engine *e = play(segs, n, &l, &r, NULL);
	CHECK(r.conns == 1);
	/* T and w at the 1st, 10th, 100th, 1000th and 10000th; cut at 21 letters. */
	CHECK_STR(r.history, "ShADTawTwTwTwTwFf");
	engine_free(e);

	/* The cap: 21 letters, the rest dropped. */
	n = 0;
	segs[n++] = (struct seg){A, S, 1000, 0, 0, 0, 0};
	segs[n++] = (struct seg){B, S | K, 5000, 1001, 0, 0, 0};
	for (int i = 0; i < 12; i++) {
		/* A new ISN each time: a new S and h each time (their keys differ). */
		segs[n++] = (struct seg){A, S, 1000 + 100000 * (uint32_t)i, 0, 0, 0, 0};
		segs[n++] = (struct seg){
			B, S | K, 5000 + 100000 * (uint32_t)i, 1001 + 100000 * (uint32_t)i, 0,
			0, 0};
	}
	e = play(segs, n, &l, &r, NULL);
	CHECK(strlen(r.history) <= 21);
	engine_free(e);
}

/* What engine_conn_info() says of the only connection of a play(). */
static void only_conn(void *arg, const struct conn *c)
{
	struct log *l = ((void **)arg)[0];
	engine_conn_info(l->e, c, ((void **)arg)[1]);
}

static struct conn_info info_of(struct log *l)
{
	struct conn_info ci;
	void *args[2] = {l, &ci};
	memset(&ci, 0, sizeof(ci));
	engine_foreach(l->e, only_conn, args);
	return ci;
}

/*
 * A connection picked up mid-stream: its states are a guess until the
 * capture shows both FINs (or a reset), and engine_conn_info() says so.
 * A half-closed connection that still carries data (A shut its side
 * before the capture: A in FIN-WAIT-2, B in CLOSE-WAIT) looks exactly like
 * an open one, so nothing short of that can be trusted.
 */
static void midstream_states_unsure(void)
{
	/* B sends data to A, which only acknowledges: A's FIN may lie before the capture. */
	static const struct seg half[] = {
		{B, K, 9000, 7101, 100}, {A, K, 7101, 9100, 0},	    {B, K, 9100, 7101, 100},
		{A, K, 7101, 9200, 0},	 {B, F | K, 9200, 7101, 0}, {A, K, 7101, 9201, 0},
	};
	struct log l;
	struct result r;
	struct engine *e = play(half, 4, &l, &r, NULL);
	struct conn_info ci = info_of(&l);
	CHECK(r.conns == 1 && ci.midstream);
	CHECK(ci.state[0] == TS_ESTABLISHED && ci.state[1] == TS_ESTABLISHED);
	CHECK(ci.unsure[0] && ci.unsure[1]);
	engine_free(e);
	/* B's FIN alone: B is in FIN-WAIT-2 or, had A closed first, gone from LAST-ACK. */
	e = play(half, 6, &l, &r, NULL);
	ci = info_of(&l);
	CHECK(ci.unsure[0] && ci.unsure[1]);
	engine_free(e);

	/* Both FINs seen: the close is known at both ends from there on. */
	static const struct seg closed[] = {
		{A, K, 7000, 9000, 100},   {B, K, 9000, 7100, 0}, {B, F | K, 9000, 7100, 0},
		{A, F | K, 7100, 9001, 0}, {B, K, 9001, 7101, 0},
	};
	e = play(closed, 5, &l, &r, NULL);
	ci = info_of(&l);
	CHECK(ci.midstream && !ci.unsure[0] && !ci.unsure[1]);
	CHECK(r.state[0] == TS_CLOSE && r.state[1] == TS_TIME_WAIT);
	engine_free(e);

	/* A reset: its sender is CLOSED whatever came before; so is a receiver that took it. */
	static const struct seg reset[] = {
		{A, K, 7000, 9000, 100},
		{B, K, 9000, 7100, 0},
		{A, R | K, 7100, 9000, 0},
	};
	e = play(reset, 3, &l, &r, NULL);
	ci = info_of(&l);
	CHECK(!ci.unsure[0] && !ci.unsure[1] && r.state[0] == TS_CLOSE && r.state[1] == TS_CLOSE);
	engine_free(e);

	/* A connection seen from its handshake is never a guess. */
	e = play(cases[0].segs, cases[0].n, &l, &r, NULL);
	ci = info_of(&l);
	CHECK(!ci.midstream && !ci.unsure[0] && !ci.unsure[1]);
	engine_free(e);
}

/* A kernel socket of the connection A (198.18.0.1:40000) - B (198.18.0.2:80). */
static struct sock_rec ksock(int local_is_a, int state)
{
	struct sock_rec k;
	uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};

	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.state = (uint8_t)state;
	memcpy(k.laddr, local_is_a ? a : b, 4);
	memcpy(k.raddr, local_is_a ? b : a, 4);
	k.lport = local_is_a ? 40000 : 80;
	k.rport = local_is_a ? 80 : 40000;
	k.inode = local_is_a ? 7 : 8;
	return k;
}

/*
 * top's '!' (topmodel_join): the kernel holds the half-closed pair,
 * FIN-WAIT-2 at A and CLOSE-WAIT at B, for seconds.  A capture that
 * picked the connection up mid-stream guesses ESTABLISHED at both ends:
 * the rows are marked as guesses, never as disagreeing.  The same kernel
 * rows against a connection seen from its handshake (whose wire states
 * really are ESTABLISHED) do disagree.
 */
static void midstream_never_disagrees_in_top(void)
{
	static const struct seg mid[] = {
		{B, K, 9000, 7101, 100},
		{A, K, 7101, 9100, 0},
		{B, K, 9100, 7101, 100},
		{A, K, 7101, 9200, 0},
	};
	const uint64_t base = 1700000000000000ull;
	for (int handshake = 0; handshake < 2; handshake++) {
		struct log l;
		struct result r;
		struct engine *e = handshake ? play(cases[0].segs, cases[0].n, &l, &r, NULL)
					     : play(mid, 4, &l, &r, NULL);
		struct topmodel *m = topmodel_new();
		struct sock_rec k[2] = {ksock(1, TS_FIN_WAIT2), ksock(0, TS_CLOSE_WAIT)};
		CHECK(m && e);
		if (!m || !e)
			return;
		/* Two refreshes, 3 s apart, as top makes them: the dump's sockets, then the join.
		 */
		for (uint64_t t = base; t <= base + 3000000; t += 3000000) {
			topmodel_begin(m, t);
			for (int i = 0; i < 2; i++)
				CHECK(topmodel_add(m, &k[i]) == 0);
			topmodel_end(m, 0, NULL);
			topmodel_join(m, e, t);
		}
		CHECK(topmodel_nrows(m) == 2);
		for (size_t i = 0; i < topmodel_nrows(m); i++) {
			const struct top_row *row = topmodel_row(m, i);
			CHECK(row->wire[0] == TS_ESTABLISHED && row->wire[1] == TS_ESTABLISHED);
			if (handshake) {
				CHECK(row->disagree && !row->wire_unsure);
			} else {
				CHECK(!row->disagree && row->wire_unsure == 3 && !row->since_exact);
			}
		}
		topmodel_free(m);
		engine_free(e);
	}
}

struct since_check {
	struct engine *e;
	int events, wrong;
	uint64_t tw_end; /* when the 2MSL timer fired */
};

/* Every transition: the endpoint's since_us, read back from the table, is the event's time. */
static void on_event_since(void *arg, const struct engine_event *ev)
{
	struct since_check *k = arg;
	struct conn_info ci;

	engine_conn_info(k->e, ev->conn, &ci);
	k->events++;
	if (ci.since_us[ev->endpoint] != ev->ts_us) {
		printf("  event %d: since %llu, event at %llu\n", k->events,
		       (unsigned long long)ci.since_us[ev->endpoint],
		       (unsigned long long)ev->ts_us);
		k->wrong++;
	}
	if (ev->cause == CAUSE_TIMEWAIT_EXPIRED)
		k->tw_end = ev->ts_us;
}

/* A close by A at base + us[i] microseconds; then 2MSL runs out at base + until. */
static struct since_check close_at(const uint64_t us[6], uint64_t tw_us, uint64_t until)
{
	const uint64_t base = 1700000000000000ull;
	struct since_check k = {NULL, 0, 0, 0};
	struct engine_hooks hooks = {on_event_since, NULL, &k};
	struct engine_config cfg;

	engine_config_defaults(&cfg);
	cfg.time_wait_us = tw_us;
	cfg.idle_timeout_us = 30 * 86400 * 1000000ull;
	k.e = engine_new(&cfg, &hooks);
	for (size_t i = 0; i < 6; i++) {
		struct segment s = mkseg(&a_closes[i], base + us[i], 40000);
		engine_input(k.e, &s);
	}
	engine_advance(k.e, base + until);
	engine_free(k.e);
	k.e = NULL;
	return k;
}

/*
 * The time each endpoint entered its state, and so the end of 2MSL, to the
 * microsecond: not cut to whole milliseconds after the first packet, which
 * dated a transition before it happened and ended TIME-WAIT up to 1 ms
 * early.  Also where the time no longer fits the table's short form: a
 * 2MSL of 2 hours ends past 2^32 microseconds after the first packet.
 */
static void since_kept_to_the_microsecond(void)
{
	const uint64_t us[6] = {250, 1300, 2100, 2600, 3400, 3800};
	struct since_check k = close_at(us, 1000, 10000);
	/* A entered TIME-WAIT with B's FIN at 3400 us: 2MSL (1 ms here) ends at 4400. */
	CHECK(k.events == 11 && k.wrong == 0);
	CHECK(k.tw_end == 1700000000000000ull + 4400);

	const uint64_t hour = 3600 * 1000000ull;
	k = close_at(us, 2 * hour, 2 * hour + 5000);
	CHECK(k.events == 11 && k.wrong == 0);
	CHECK(k.tw_end == 1700000000000000ull + 3400 + 2 * hour);
	/* And a connection whose packets lie hours apart (the extension). */
	const uint64_t late[6] = {250, 1300, 2100, 2 * hour + 777, 2 * hour + 901, 2 * hour + 1999};
	k = close_at(late, 1000, 3 * hour);
	CHECK(k.events == 11 && k.wrong == 0);
	CHECK(k.tw_end == 1700000000000000ull + 2 * hour + 901 + 1000);
}

const struct unit_test engine_tests[] = {
	{"engine: key hash symmetric and spread", key_hash_symmetric_and_spread},
	{"engine: transition table on crafted segments", transitions},
	{"engine: TIME-WAIT lasts 2MSL, settable", timewait_expires_after_2msl},
	{"engine: timers queued more than 35 minutes apart", timers_queued_far_apart},
	{"engine: 2MSL ends in time order when an entry is reused",
	 timers_in_time_order_across_reuse},
	{"engine: SYN on a TIME-WAIT tuple starts instance 2", tuple_reuse_starts_new_instance},
	{"engine: idle connections expire", idle_connections_expire},
	{"engine: --max-conns evicts under a SYN flood", max_conns_evicts},
	{"engine: Zeek history letters", zeek_history_letters},
	{"engine: long histories and scaled counts kept exactly", long_histories_and_counts},
	{"engine: a mid-stream pickup's states are unsure until both FINs",
	 midstream_states_unsure},
	{"engine: a mid-stream pickup never raises top's '!'", midstream_never_disagrees_in_top},
	{"engine: state times and 2MSL ends to the microsecond", since_kept_to_the_microsecond},
	{NULL, NULL},
};
