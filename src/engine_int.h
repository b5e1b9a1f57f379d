/*
 * engine_int.h - what the engine's files share, and no one else: the
 * working copy of a connection (struct wc) and its packed table entry
 * (struct conn, struct pep, struct ext), the timer queue's entry, struct
 * engine itself, the small helpers of the per-segment path (static inline,
 * so every file's hot code has them inlined), and the functions one engine
 * file calls in another.  The public API is engine.h.
 *
 *   engine.c        the API: configuration, names, a segment's full path
 *                   through both machines, the views of a connection
 *   engine_table.c  the pool, the hash table, extension records, the packed
 *                   form (store, load), and making and freeing connections
 *   engine_timer.c  the timer queue, the sweep for idle connections, eviction
 *   engine_rfc.c    the RFC 9293 endpoint machine and its events (emit)
 *   engine_zeek.c   Zeek's endpoint machine, history letters and conn_state
 *   engine_fast.c   a segment's way in (timers, lookup, then the fast path
 *                   or the full one); the fast path: the common ACK on the
 *                   packed entry
 *   engine_sure.c   after capture drops: which connections have proved
 *                   their states again (doc/state-machine.md)
 *
 * The per-segment path crosses these files; the Makefile builds them with
 * -flto so that it is inlined as it was in one file.
 */
#ifndef TCPSTATE_ENGINE_INT_H
#define TCPSTATE_ENGINE_INT_H

#include "engine.h"

#include <string.h>
#include <sys/socket.h>

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* Zeek's endpoint states (TCP_Endpoint.h). */
enum { Z_INACTIVE, Z_SYN_SENT, Z_SYN_ACK_SENT, Z_PARTIAL, Z_ESTABLISHED, Z_CLOSED, Z_RESET };

/* Zeek's history bits (TCP_Endpoint.h), one set per endpoint. */
enum {
	H_SYN = 0x01,
	H_FIN = 0x02,
	H_RST = 0x04,
	H_FIN_RST = 0x08,
	H_DATA = 0x10,
	H_ACK = 0x20,
	H_MULTI = 0x40,
};

/* Endpoint flags. */
enum {
	EP_SEQ = 0x01,	       /* isn and nxt are known */
	EP_FIN = 0x02,	       /* sent a FIN; fin_seq is valid */
	EP_FIN_PENDING = 0x04, /* that FIN came after a gap: not yet known received */
	EP_ACKED = 0x08,       /* ack is valid */
	EP_WSCALE = 0x10,      /* offered window scaling */
	EP_DID_CLOSE = 0x20,   /* Zeek: ConnectionClosed ran for this endpoint */
	EP_FIN_CNT = 0x40,     /* Zeek: FIN_cnt > 0 */
	/*
	 * A segment without data or FIN started beyond nxt: the capture missed
	 * part of this end's sequence space, and it may have held a FIN.  Until
	 * data or a FIN past it rule that out, no ACK proves this end
	 * (engine_sure.c).  In the table it is PEP_HOLE, not one of PEP_FLAGS.
	 */
	EP_HOLE = 0x80,
};

struct ep {
	uint32_t isn;	  /* first sequence number (Zeek's start) */
	uint32_t nxt;	  /* one past the highest sequence number sent (Zeek's last) */
	uint32_t fin_seq; /* the sequence number the FIN occupies */
	uint32_t ack;	  /* highest acknowledgment this endpoint sent */
	uint32_t contig;  /* Zeek: data delivered in order up to here */
	uint64_t bytes;	  /* payload bytes sent */
	uint32_t pkts;
	uint64_t since_us; /* entered its RFC state: a capture time, never before first_us */
	uint16_t win;	   /* last window advertised, unscaled */
	uint8_t state;	   /* enum tcp_state */
	uint8_t flags;	   /* EP_* */
	uint8_t wscale;
	uint8_t z, zprev;		       /* Zeek state and previous state */
	uint8_t hseen;			       /* Zeek history bits already recorded */
	uint16_t hist_syn, hist_fin, hist_rst; /* low bits of the last S/F/R keys */
	uint16_t cnt_c, cnt_w, cnt_t, cnt_g;   /* scaled letters: C, W, T, G */
};

/* Connection flags. */
enum {
	C_MIDSTREAM = 0x01,
	C_V6 = 0x02,
	C_ESTABLISHED_ONCE = 0x04, /* Zeek: left the handshake states */
	C_ATTEMPT = 0x08,	   /* Zeek: attempt timer armed */
	C_CLOSE_COMPLETE = 0x10,   /* Zeek: delete timer armed */
	C_ZEEK_ACTIVE = 0x20,	   /* Zeek: is_active */
	C_VLAN = 0x40,		   /* in the table only: tagged, the tags are in the extension */
	C_FAMILY = 0x80,	   /* in the table only: neither AF_INET nor AF_INET6 (extension) */
};

/* History letters: at most 21, as Zeek's field in conn.log is cut. */
#define HIST_MAX 21
#define HIST_WORD 11 /* letters per 64-bit word, 5 bits each */

/*
 * A connection as the machines work on it: every field at full width.  It
 * lives on the stack while a segment or a timer is processed; the table
 * holds the packed form below, and eng_load() and eng_store() convert.
 */
struct wc {
	struct conn *slot; /* its entry in the table */
	uint32_t self;	   /* that entry's pool index */
	uint32_t id;
	uint8_t family;
	uint8_t hlen;
	uint16_t cflags;
	uint16_t port[2];
	uint16_t vlan, vlan_inner;
	union {
		uint8_t v4[2][4];
		uint8_t (*v6)[16]; /* malloc'd [2][16] */
	} addr;
	uint64_t first_us, last_us;
	uint64_t zlast_us;   /* Zeek's LastTime (not moved after both closed) */
	uint32_t attempt_ms; /* Zeek attempt timer, ms after first_us */
	uint16_t instance;
	uint64_t hw[2]; /* history letters, 5-bit codes, HIST_WORD a word */
	struct ep ep[2];
};

/*
 * The table's entry.  Most connections are small, young and clean: their
 * fields fit in less than half of struct wc, relative to one another.  What
 * does not fit (long or big connections, retransmissions, zero windows,
 * gaps, VLAN tags, reused tuples, long histories) goes whole to an
 * extension record, allocated on demand and freed with the connection.
 * eng_store() checks every rule before it uses the short form, so
 * eng_load() gives back exactly what was stored.
 */
struct pep {
	uint32_t isn, nxt;
	uint32_t sinced; /* short form: since_us - first_us (microseconds, as lastd) */
	uint32_t bytes;	 /* short form: bytes sent */
	uint16_t win;
	int16_t ackd; /* short form: peer's nxt - ack, when EP_ACKED (else ack is 0) */
	/*
	 * Small fields packed by hand, not as bitfields: eng_store() builds each
	 * word in a register and writes it once.  (Bitfields made it read back
	 * bytes it had just written, and wait for them: a fifth of its time.)
	 */
	uint32_t w1;  /* PEP_PKTS (short form) | PEP_FIND (nxt - fin_seq, when EP_FIN) | PEP_HOLE |
			 PEP_STATE */
	uint32_t w2;  /* PEP_CONTIGD | PEP_FLAGS | PEP_WSCALE | PEP_Z | PEP_ZPREV | PEP_HSEEN */
	uint16_t cnt; /* short form: scaled letters C, W, T, G */
} __attribute__((packed));

/* Fields of struct pep's words: shift and width. */
#define PEP_FIELD_(word, shift, bits) (((word) >> (shift)) & ((1u << (bits)) - 1))
#define PEP_PUT_(v, shift, bits) (((uint32_t)(v) & ((1u << (bits)) - 1)) << (shift))
#define PEP_FIELD(word, f) PEP_FIELD_(word, f)
#define PEP_PUT(v, f) PEP_PUT_(v, f)
#define PEP_PKTS 0, 20
#define PEP_FIND 20, 7
#define PEP_HOLE 27, 1 /* EP_HOLE, in either form */
#define PEP_STATE 28, 4
#define PEP_STATE_HOLE 27, 5 /* both at once: state << 1 | hole */
#define PEP_CONTIGD 0, 8
#define PEP_FLAGS 8, 7
#define PEP_WSCALE 15, 4
#define PEP_Z 19, 3
#define PEP_ZPREV 22, 3
#define PEP_HSEEN 25, 7
#define PEP_CNT_G 0, 8
#define PEP_CNT_T 8, 4
#define PEP_CNT_W 12, 2
#define PEP_CNT_C 14, 2

struct conn {
	/* What a lookup compares comes first. */
	uint32_t next; /* hash chain, or free list: pool index + 1 */
	uint32_t id;   /* 0 when free */
	uint16_t port[2];
	uint8_t addr[8]; /* two v4 addresses, or a pointer to [2][16] (C_V6) */
	uint32_t ext;	 /* extension record, 0 for none */
	uint32_t first_lo, first_hi;
	uint64_t hw : 55, cf : 9; /* the first HIST_WORD letters; cflags */
	uint32_t lastd, zlastd;	  /* short form: last_us, zlast_us - first_us */
	struct pep ep[2];
} __attribute__((packed, aligned(4)));

_Static_assert(sizeof(struct conn) <= 108, "struct conn grew: memory per connection");

/*
 * The extension: every field the short form may lack, at full width.  When
 * a connection has one, these are the true values and the short-form fields
 * are unused.
 */
struct ext {
	uint64_t last_us, zlast_us; /* last_us: the free list's next while free */
	uint64_t since_us[2];
	uint64_t bytes[2];
	uint64_t hw1; /* history letters HIST_WORD and on */
	uint32_t pkts[2], fin_seq[2], ack[2], contig[2];
	uint32_t attempt_ms;
	uint16_t instance, vlan, vlan_inner;
	uint8_t family;
	uint16_t hist_syn[2], hist_fin[2], hist_rst[2];
	uint16_t cnt[2][4]; /* C, W, T, G */
};

/*
 * A timer due at a known time: TIME-WAIT's end, or a finished connection's
 * linger.  One is queued for nearly every connection that closes, so it is
 * kept small: its due time counts from the one queued before it, and it
 * names its connection by table entry and the low 16 bits of its id (the
 * entry may hold another connection by the time the timer falls due; that
 * one's own timers come later in the queue, and acting on it early would
 * put its events out of time order).  A jump too far for 32 bits is carried
 * by two marker entries (idx TQ_MARK with the due time's low half, then
 * TQ_MARK_HI with its high half) that fall due at the same moment.
 */
struct timer {
	uint32_t dued; /* due - the previous entry's due, as int32_t */
	uint32_t idx;
	uint16_t tag; /* the connection's id, low 16 bits */
} __attribute__((packed));

#define TQ_MARK UINT32_MAX
#define TQ_MARK_HI (UINT32_MAX - 1)

/*
 * The pool is in blocks of BLOCK entries, each block alone in a span of
 * BLOCK_SPAN bytes aligned to its size, behind a header that holds its
 * number: an entry's own index follows from its address (self_of()), so
 * the entry need not hold it.
 */
#define BLOCK 4096
#define BLOCK_SPAN ((uintptr_t)1 << 19)
#define BLOCK_HDR 64

_Static_assert(BLOCK_HDR + BLOCK * sizeof(struct conn) <= BLOCK_SPAN, "a block outgrew its span");

struct engine {
	struct engine_config cfg;
	struct engine_hooks hooks;
	struct engine_stats st;
	struct conn **blocks;
	struct ext *xs;	      /* extension records; [0] unused */
	uint32_t xcap, xfree; /* xfree: a free record's index, 0 when none */
	uint32_t **durblocks; /* [block][BLOCK][2][TS_MAX] ms, with keep_durations */
	/*
	 * TIME-WAIT lasts the same for everyone, so its timers fall due in the
	 * order they were set: a FIFO, not a heap.  The linger of finished
	 * connections uses the same span and the same queue.
	 */
	struct timer *tq;
	size_t tq_head, tq_len, tq_cap;
	uint64_t tq_head_due, tq_tail_due; /* due times of the first and last entries */
	uint32_t nblocks, capblocks;
	uint32_t used;	    /* pool slots handed out so far */
	uint32_t free_head; /* index + 1, 0 when empty */
	uint32_t *buckets;  /* index + 1 */
	uint32_t nbuckets;  /* power of two */
	uint32_t next_id;
	uint32_t hand; /* eviction clock hand */
	uint64_t now_us;
	uint64_t next_sweep_us;
	/*
	 * After capture drops (engine_sure.c): a word per pool entry, by
	 * block, made on first use once a drop is noted (a file never has
	 * one).  sure_nb is the length of sure[]; sure_fresh the epoch of
	 * the last refresh (eng_sure_refresh).
	 */
	uint32_t **sure;
	uint32_t sure_nb, sure_fresh;
#ifdef ENGINE_FASTCHECK
	uint64_t fast_checked; /* segments fast_ack() took, each checked */
#endif
};

/* ---- the pool and the table's entries ----------------------------------- */

static inline struct conn *at(const struct engine *e, uint32_t i)
{
	return &e->blocks[i / BLOCK][i % BLOCK];
}

static inline uint32_t self_of(const struct conn *c)
{
	uintptr_t base = (uintptr_t)c & ~(BLOCK_SPAN - 1);
	uint32_t block;

	memcpy(&block, (const void *)base, sizeof(block));
	return block * BLOCK + (uint32_t)(((uintptr_t)c - base - BLOCK_HDR) / sizeof(struct conn));
}

/* The time-in-state counters of a connection, or NULL. */
static inline uint32_t *dur_of(const struct engine *e, const struct wc *c)
{
	if (!e->durblocks)
		return NULL;
	return e->durblocks[c->self / BLOCK] + (size_t)(c->self % BLOCK) * 2 * TS_MAX;
}

static inline const uint8_t *addr_of(const struct wc *c, int side)
{
	return c->cflags & C_V6 ? c->addr.v6[side] : c->addr.v4[side];
}

/* An address of a table entry. */
static inline const uint8_t *slot_addr(const struct conn *c, int side)
{
	if (c->cf & C_V6) {
		uint8_t(*v6)[16];
		memcpy(&v6, c->addr, sizeof(v6));
		return v6[side];
	}
	return c->addr + 4 * side;
}

/* Its first packet's time. */
static inline uint64_t slot_first(const struct conn *c)
{
	return (uint64_t)c->first_hi << 32 | c->first_lo;
}

/* Its VLAN tags: in the extension, when it has any. */
static inline void slot_vlan(const struct engine *e, const struct conn *c, uint16_t *vlan,
			     uint16_t *inner)
{
	*vlan = *inner = 0;
	if (c->cf & C_VLAN) {
		*vlan = e->xs[c->ext].vlan;
		*inner = e->xs[c->ext].vlan_inner;
	}
}

/* Its address family: AF_INET6 or AF_INET, or an odd one in the extension. */
static inline int slot_family(const struct engine *e, const struct conn *c)
{
	if (c->cf & C_FAMILY)
		return e->xs[c->ext].family;
	return c->cf & C_V6 ? AF_INET6 : AF_INET;
}

/* ---- history letters and sequence points -------------------------------- */

/*
 * The history alphabet: Zeek's letters, the originator's in upper case,
 * then the responder's in lower case, then '^' (the first packet's sender
 * was taken for the responder).  A letter's code is its place in hist_abc
 * plus one (0: none).
 */
#define HIST_LETTERS(X)                                                                            \
	X(S, 'S')                                                                                  \
	X(H, 'H')                                                                                  \
	X(A, 'A')                                                                                  \
	X(D, 'D')                                                                                  \
	X(F, 'F')                                                                                  \
	X(R, 'R')                                                                                  \
	X(C, 'C')                                                                                  \
	X(G, 'G')                                                                                  \
	X(T, 'T')                                                                                  \
	X(W, 'W')                                                                                  \
	X(I, 'I')                                                                                  \
	X(Q, 'Q')

enum hist_place {
	HP_NONE_,
#define HP_(l, ch) HP_##l,
	HIST_LETTERS(HP_)
#undef HP_
		HP_END_
};
#define HIST_NLETTERS (HP_END_ - 1)

static const char hist_abc[] = {
#define HA_UPPER_(l, ch) ch,
#define HA_LOWER_(l, ch) (char)((ch) - 'A' + 'a'),
	HIST_LETTERS(HA_UPPER_) HIST_LETTERS(HA_LOWER_) '^', '\0'
#undef HA_UPPER_
#undef HA_LOWER_
};

/* An upper-case letter's place among the originator's letters, by letter; 0 for none. */
static const uint8_t hist_place[26] = {
#define HPL_(l, ch) [(ch) - 'A'] = HP_##l,
	HIST_LETTERS(HPL_)
#undef HPL_
};

/*
 * A letter's 5-bit code.  Letters come in upper case; the responder's (side
 * 1) are logged in lower.  A table, not a search: fast_ack() and the
 * machines add a letter to most connections' first segments.
 */
static inline uint64_t hist_code(int side, char letter)
{
	if (letter >= 'A' && letter <= 'Z' && hist_place[letter - 'A'])
		return hist_place[letter - 'A'] + (side == 1 ? HIST_NLETTERS : 0);
	/* '^', and anything else (past the end, as strchr() would not find it) */
	unsigned i = 0;
	while (hist_abc[i] && hist_abc[i] != letter)
		i++;
	return i + 1;
}

static inline unsigned word_letters(uint64_t w)
{
	return w ? (unsigned)(63 - __builtin_clzll(w)) / 5 + 1 : 0;
}

static inline unsigned hist_len(const uint64_t hw[2])
{
	return hw[1] ? HIST_WORD + word_letters(hw[1]) : word_letters(hw[0]);
}

/* The keys of the last S, F and R letters, as they usually are (see pack_short()). */
static inline uint16_t usual_hist_fin(const struct ep *p)
{
	return (p->hseen & H_FIN) ? (uint16_t)(p->fin_seq - p->isn) : 0;
}

static inline uint16_t usual_hist_rst(const struct ep *p)
{
	return (p->hseen & H_RST) ? (uint16_t)(p->nxt - p->isn) : 0;
}

/*
 * Zeek's in-order point: near what this end sent, or, when the capture
 * lacks the payload (a short snaplen), where the peer's ACKs have taken it.
 * A 7-bit distance from one of the two, and which (bit 0); -1 if neither.
 */
static inline int contig_encode(uint32_t nxt, uint32_t contig, uint32_t peer_ack)
{
	int32_t d = (int32_t)(nxt - contig);

	if (d >= -64 && d < 64)
		return (int)((uint32_t)d << 1 & 0xfe);
	d = (int32_t)(peer_ack - contig);
	if (d >= -64 && d < 64)
		return (int)((uint32_t)d << 1 & 0xfe) | 1;
	return -1;
}

static inline uint32_t contig_from(uint32_t nxt, uint32_t peer_ack, uint8_t code)
{
	uint32_t d = (uint32_t)(int32_t)((int8_t)(code & 0xfe) / 2);

	return ((code & 1) ? peer_ack : nxt) - d;
}

static inline int contig_code(const struct ep *p, const struct ep *q)
{
	return contig_encode(p->nxt, p->contig, q->ack);
}

static inline uint32_t contig_decode(const struct ep *p, const struct ep *q, uint8_t code)
{
	return contig_from(p->nxt, q->ack, code);
}

/* ---- times and states --------------------------------------------------- */

static inline uint32_t rel_ms(const struct wc *c, uint64_t ts)
{
	return ts > c->first_us ? (uint32_t)((ts - c->first_us) / 1000) : 0;
}

/*
 * When an endpoint entered a state at capture time ts: exactly ts, to the
 * microsecond, as the capture gives it (a 2MSL end is due 2MSL after this
 * to the microsecond too).  Not before the first packet: a capture whose
 * time goes back does not date a state before the connection was seen.
 */
static inline uint64_t since_at(const struct wc *c, uint64_t ts)
{
	return ts > c->first_us ? ts : c->first_us;
}

static inline int closedish(int s)
{
	return s == TS_CLOSE || s == TS_TIME_WAIT;
}

/* ---- between the engine's files ----------------------------------------- */

/* engine_table.c */
int eng_grow_buckets(struct engine *e);
int eng_ext_grow(struct engine *e);
int eng_store(struct engine *e, const struct wc *w);
void eng_load(const struct engine *e, const struct conn *c, struct wc *w);
int eng_new_conn(struct engine *e, const struct segment *s, uint32_t h, int flip, uint16_t instance,
		 struct wc *c);
void eng_free_conn(struct engine *e, struct wc *w, enum close_reason why);
void eng_block_free(struct conn *c);

/* engine_timer.c */
void eng_timer_push(struct engine *e, const struct wc *c, uint64_t due);
void eng_run_timers(struct engine *e, uint64_t now);
void eng_sweep(struct engine *e, uint64_t now);
int eng_evict_one(struct engine *e);

/* engine_rfc.c */
void rfc_segment(struct engine *e, struct wc *c, int side, const struct segment *s,
		 uint32_t snd_nxt_before, int snd_known);
void eng_start_states(struct engine *e, struct wc *c, int side, const struct segment *s);
void eng_fire_timewait(struct engine *e, struct wc *c, uint64_t now);
int rfc_reuse(const struct wc *c, int dir, const struct segment *s);
int rfc_expired(const struct engine *e, const struct wc *c, uint64_t now, enum close_reason *why);
void eng_end_instance(struct engine *e, struct wc *c, enum cause why, uint64_t ts);

/* engine_zeek.c */
void zeek_process(struct wc *c, uint32_t *dur, int side, const struct segment *s, int *flipped);
enum conn_state zeek_conn_state(const struct wc *c);
int zeek_expired(const struct engine *e, const struct wc *c, uint64_t now);
int zeek_reuse(const struct wc *c, const struct segment *s);
int eng_should_flip(const struct segment *s);
void eng_add_hist(struct wc *c, int side, char letter);
void eng_scaled_hist(struct wc *c, int side, uint16_t *cnt, char letter);
void eng_hist_string(const struct wc *c, char *out);

/* engine_sure.c */
#define SURE_BOTH 3u /* proof bits: 1 << side for each end */
void eng_sure_update(struct engine *e, uint32_t self, unsigned set, unsigned clear);
void eng_sure_new(struct engine *e, uint32_t self, uint64_t ts);
void eng_sure_segment(struct engine *e, struct wc *c, int side, const struct segment *s,
		      uint32_t snd_nxt_before, int snd_known);
void eng_sure_closed(struct engine *e, const struct wc *c, uint64_t ts);
int eng_sure_proved(const struct engine *e, const struct wc *c);
void eng_sure_refresh(struct engine *e);
void eng_sure_free(struct engine *e);
#ifdef ENGINE_FASTCHECK
uint32_t eng_sure_peek(const struct engine *e, uint32_t self);
void eng_sure_poke(struct engine *e, uint32_t self, uint32_t word);
#endif

/*
 * What a segment from side says of the proofs, once a drop has been noted,
 * for both paths alike: its own space skipped a stretch (new_hole), and its
 * ACK, if it carries one that counts (acked), against the peer's nxt:
 * exactly nxt proves the peer's space, if captured after the horizon and
 * no hole is in it; beyond nxt shows that some of it was missed.
 */
static inline void sure_evidence(struct engine *e, uint32_t self, int side, int new_hole, int acked,
				 uint32_t ack, uint32_t peer_nxt, int peer_hole, uint64_t ts)
{
	unsigned set = 0, clear = new_hole ? 1u << side : 0;

	if (acked && ack == peer_nxt) {
		if (!peer_hole && ts > e->st.drop_horizon_us)
			set = 1u << (1 - side);
	} else if (acked && SEQ_GT(ack, peer_nxt)) {
		clear |= 1u << (1 - side);
	}
	if (set | clear)
		eng_sure_update(e, self, set, clear);
}

/* engine_fast.c: 1 if the fast path took the segment */
int eng_fast_taken(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		   int dir);

/* engine.c: a segment through the machines, on a working copy (slot: its entry, or NULL) */
void eng_input_full(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		    int dir);

/* ---- on every segment's path ------------------------------------------- */

/* Addresses equal?  Fixed sizes, so the compiler inlines the compare. */
static inline int same_addr(const uint8_t *a, const uint8_t *b, int v6)
{
	return v6 ? memcmp(a, b, 16) == 0 : memcmp(a, b, 4) == 0;
}

static inline int same_vlan(const struct engine *e, const struct conn *c, const struct segment *s)
{
	uint16_t vlan, inner;

	if (!(c->cf & C_VLAN)) /* the common case: no need to reach the extension */
		return !(s->vlan | s->vlan_inner);
	slot_vlan(e, c, &vlan, &inner);
	return vlan == s->vlan && inner == s->vlan_inner;
}

/* Find the connection of a segment; *dir is 0 if the source is its originator. */
static inline struct conn *eng_lookup(struct engine *e, const struct segment *s, uint32_t h,
				      int *dir)
{
	int v6 = s->family == AF_INET6;

	for (uint32_t k = e->buckets[h & (e->nbuckets - 1)]; k;) {
		struct conn *c = at(e, k - 1);
		if (slot_family(e, c) == s->family && same_vlan(e, c, s)) {
			if (c->port[0] == s->sport && c->port[1] == s->dport &&
			    same_addr(slot_addr(c, 0), s->saddr, v6) &&
			    same_addr(slot_addr(c, 1), s->daddr, v6)) {
				*dir = 0;
				return c;
			}
			if (c->port[1] == s->sport && c->port[0] == s->dport &&
			    same_addr(slot_addr(c, 1), s->saddr, v6) &&
			    same_addr(slot_addr(c, 0), s->daddr, v6)) {
				*dir = 1;
				return c;
			}
		}
		k = c->next;
	}
	return NULL;
}

/* ---- the timers' test on every segment (engine_timer.c has the rest) ------ */

/*
 * Timers in the queue run on every packet's time; the full walk, for idle
 * connections, only every eighth of the idle timeout (at least a second),
 * so its cost does not grow with the length of a capture.
 */
static inline void maybe_sweep(struct engine *e, uint64_t now)
{
	/* (eng_run_timers() begins with this test; on most packets nothing is due.) */
	if (e->tq_len && e->tq_head_due <= now)
		eng_run_timers(e, now);
	if (now < e->next_sweep_us)
		return;
	if (e->next_sweep_us)
		eng_sweep(e, now);
	uint64_t every = e->cfg.zeek ? 1000000 : e->cfg.idle_timeout_us / 8;
	e->next_sweep_us = now + (every > 1000000 ? every : 1000000);
}

#endif
