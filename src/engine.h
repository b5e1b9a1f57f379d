/*
 * engine.h - the wire state engine: the RFC 9293 state of both endpoints of
 * every TCP connection, inferred from captured segments.
 *
 * The engine is a library: no I/O, no globals, no clock.  Time is the
 * capture time of the segments it is given (and of engine_advance()), so a
 * pcap replays exactly the same at any speed.  Every endpoint transition is
 * reported through a callback, with the RFC section that defines it.
 *
 * Beside the RFC states it keeps, per endpoint, the coarse state Zeek keeps
 * (what that endpoint has sent), Zeek's history letters, and from them
 * Zeek's conn_state, so its view can be checked against Zeek's conn.log.
 */
#ifndef TCPSTATE_ENGINE_H
#define TCPSTATE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"
#include "state.h"

struct engine;
struct conn; /* opaque; valid until the next engine call */

/* Why an endpoint changed state. */
enum cause {
	CAUSE_SYN_SENT,
	CAUSE_SYN_RECEIVED,
	CAUSE_SYNACK_SENT,
	CAUSE_SYNACK_RECEIVED,
	CAUSE_ACK_OF_SYN,
	CAUSE_ACK_SENT_NO_SYNACK,
	CAUSE_FIN_SENT,
	CAUSE_FIN_RECEIVED,
	CAUSE_ACK_OF_FIN,
	CAUSE_FINS_CROSSED,
	CAUSE_RST_SENT,
	CAUSE_RST_RECEIVED,
	CAUSE_TIMEWAIT_EXPIRED,
	CAUSE_TUPLE_REUSED,
	CAUSE_SUPERSEDED,
	CAUSE_MIDSTREAM,
	CAUSE_MAX
};

const char *engine_cause_name(enum cause c);
/* The RFC 9293 section that defines a transition of this cause. */
const char *engine_cause_rfc(enum cause c);

struct engine_event {
	uint64_t ts_us;
	const struct conn *conn;
	uint8_t endpoint; /* 0: originator (sent the first SYN), 1: responder */
	uint8_t from, to; /* enum tcp_state */
	uint8_t cause;	  /* enum cause */
};

/* Why a connection left the table. */
enum close_reason {
	CLOSE_FINISHED, /* both endpoints closed, and the linger time passed */
	CLOSE_IDLE,	/* no packet for the idle timeout */
	CLOSE_REUSED,	/* a new connection took its 4-tuple */
	CLOSE_EVICTED,	/* the table was full */
	CLOSE_ZEEK,	/* removed by one of Zeek's timers (zeek mode) */
};

struct engine_config {
	uint64_t time_wait_us;	  /* 2 x MSL; Linux's 60 s by default */
	uint64_t idle_timeout_us; /* default 300 s, as Zeek's tcp_inactivity_timeout */
	uint32_t max_conns;	  /* hard cap on the table; oldest idle or half-open evicted */
	int verify_checksums;	  /* ignore segments whose checksum is wrong */
	int zeek;		  /* split and expire connections exactly as Zeek does */
	int ignore_vlan;	  /* key connections by the 4-tuple alone */
	int keep_durations;	  /* keep the time spent in each state (costs memory) */
};

void engine_config_defaults(struct engine_config *cfg);

struct engine_hooks {
	void (*event)(void *arg, const struct engine_event *ev);
	/* A connection instance is leaving the table: last chance to read it. */
	void (*closed)(void *arg, const struct conn *c, enum close_reason why);
	void *arg;
};

struct engine_stats {
	uint64_t segments;
	uint64_t conns; /* instances created */
	uint64_t live;	/* in the table now */
	uint64_t peak;	/* most in the table at once */
	uint64_t evicted;
	uint64_t expired;     /* idle timeout */
	uint64_t reused;      /* tuples reused by a new instance */
	uint64_t rst_ignored; /* RSTs outside the receiver's window (RFC 5961) */
	uint64_t bad_csum;    /* segments ignored for a bad checksum */
	uint64_t transitions;
	uint64_t bytes;		  /* memory the table holds now */
	uint64_t drop_notes;	  /* engine_note_drops() calls: capture drops seen */
	uint64_t drop_horizon_us; /* the latest horizon they gave (0: none) */
};

struct engine *engine_new(const struct engine_config *cfg, const struct engine_hooks *hooks);
void engine_free(struct engine *e);

/* Feed one segment; its ts_us is the engine's "now". */
void engine_input(struct engine *e, const struct segment *s);
/*
 * The same in two steps, for a caller that reads ahead: the key's hash,
 * then prefetches of what the lookup will touch (stage 0: the hash bucket;
 * stage 1, once that has arrived: the first connection in it), and later
 * engine_input_hashed with the same hash.  At a few hundred thousand
 * connections the table is far larger than the caches, and waiting for
 * those two loads was most of the engine's time.
 */
uint32_t engine_hash(const struct engine *e, const struct segment *s);
/* The same hash from the configuration alone, for a thread that must not touch the engine. */
uint32_t engine_hash_config(const struct engine_config *cfg, const struct segment *s);
void engine_prefetch(const struct engine *e, uint32_t h, int stage);
void engine_input_hashed(struct engine *e, const struct segment *s, uint32_t h);
/*
 * Let time pass without packets: every timer due by now fires.  This walks
 * the whole table, so a live capture calls it about once a second.
 */
void engine_advance(struct engine *e, uint64_t now_us);
/* Visit every connection in the table. */
void engine_foreach(struct engine *e, void (*fn)(void *arg, const struct conn *c), void *arg);
const struct engine_stats *engine_stats(const struct engine *e);
/*
 * The capture lost packets (the kernel's ring overflowed, or the reader's
 * own queue): those with a capture time up to horizon_us may be missing.
 * A live reader calls it, between segments, when its drop counters grow,
 * with the wall time at which it read them.  From then on a connection
 * whose state the lost packets could have changed is unsure (conn_info's
 * unsure[]) until its own segments prove it again; doc/state-machine.md,
 * "After capture drops", gives the rule.  O(1): nothing is walked.
 */
void engine_note_drops(struct engine *e, uint64_t horizon_us);
/* The engine's clock: the latest capture time it has been given. */
uint64_t engine_now(const struct engine *e);

/* Zeek's conn_state values, in the order of Zeek's conn.log documentation. */
enum conn_state {
	CS_S0,
	CS_S1,
	CS_SF,
	CS_REJ,
	CS_S2,
	CS_S3,
	CS_RSTO,
	CS_RSTR,
	CS_RSTOS0,
	CS_RSTRH,
	CS_SH,
	CS_SHR,
	CS_OTH,
	CS_MAX
};

/* Everything a view may want to know about a connection. */
struct conn_info {
	uint32_t id;	   /* unique per instance */
	uint16_t instance; /* 1 for the first use of a 4-tuple, 2 for its reuse, ... */
	uint8_t family;
	uint8_t midstream; /* first seen without its handshake */
	/*
	 * state[i] is a guess.  Either the connection was picked up
	 * mid-stream, and what came before the capture (a FIN from either
	 * end) could make it wrong, until the capture has shown enough (both
	 * FINs, or a reset of this end); or the capture has dropped packets
	 * (engine_note_drops) since the connection last proved both ends'
	 * states.  See engine_conn_info() and doc/state-machine.md.
	 */
	uint8_t unsure[2];
	uint16_t vlan, vlan_inner;
	uint8_t addr[2][16]; /* [0] originator, [1] responder */
	uint16_t port[2];
	uint8_t state[2];	/* enum tcp_state */
	uint8_t zeek_state[2];	/* Zeek's endpoint state, 0..6 */
	const char *conn_state; /* Zeek's conn_state: S0, S1, SF, REJ, ... */
	enum conn_state cs;	/* the same, as a number */
	char history[24];
	uint64_t first_us, last_us;
	uint64_t since_us[2]; /* when each endpoint entered its state */
	uint64_t pkts[2], bytes[2];
	uint32_t state_ms[2][TS_MAX]; /* time in each state (keep_durations only) */
	int have_durations;
};

void engine_conn_info(const struct engine *e, const struct conn *c, struct conn_info *out);

/* Its name, as conn_info's conn_state gives it. */
const char *engine_conn_state_name(enum conn_state cs);
/*
 * What a summary counts, for a fraction of engine_conn_info()'s work: its
 * state[] and conn_state.
 */
void engine_conn_states(const struct engine *e, const struct conn *c, uint8_t state[2],
			enum conn_state *conn_state);
/* Zeek's name for an endpoint state (TCP_ENDPOINT_*). */
const char *engine_zeek_state_name(int zs);

#endif
