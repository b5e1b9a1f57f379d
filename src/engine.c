/*
 * engine.c - the wire state engine.
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
 *  - the RFC 9293 machine (ep.state), the point of tcpstate;
 *  - Zeek's coarse endpoint machine and history letters (ep.z, conn.hist),
 *    from which Zeek's conn_state is derived, so the engine can be checked
 *    against Zeek's conn.log on real captures.
 *
 * The table is a chained hash over a pool of fixed-size entries in blocks
 * (stable addresses, no copying on growth).  Timers are not kept in lists:
 * a sweep once per second of capture time fires those that are due, and a
 * connection's own timers are also checked whenever a packet arrives for it,
 * so what a packet sees is always exact.
 */
#include "engine.h"

#include "hash.h"

#ifdef ENGINE_FASTCHECK
#include <stdio.h> /* the check build reports a mismatch */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	EP_SEQ = 0x01,        /* isn and nxt are known */
	EP_FIN = 0x02,        /* sent a FIN; fin_seq is valid */
	EP_FIN_PENDING = 0x04, /* that FIN came after a gap: not yet known received */
	EP_ACKED = 0x08,      /* ack is valid */
	EP_WSCALE = 0x10,     /* offered window scaling */
	EP_DID_CLOSE = 0x20,  /* Zeek: ConnectionClosed ran for this endpoint */
	EP_FIN_CNT = 0x40,    /* Zeek: FIN_cnt > 0 */
};

struct ep {
	uint32_t isn;     /* first sequence number (Zeek's start) */
	uint32_t nxt;     /* one past the highest sequence number sent (Zeek's last) */
	uint32_t fin_seq; /* the sequence number the FIN occupies */
	uint32_t ack;     /* highest acknowledgment this endpoint sent */
	uint32_t contig;  /* Zeek: data delivered in order up to here */
	uint64_t bytes;   /* payload bytes sent */
	uint32_t pkts;
	uint64_t since_us; /* entered its RFC state: a capture time, never before first_us */
	uint16_t win;     /* last window advertised, unscaled */
	uint8_t state;    /* enum tcp_state */
	uint8_t flags;    /* EP_* */
	uint8_t wscale;
	uint8_t z, zprev; /* Zeek state and previous state */
	uint8_t hseen;    /* Zeek history bits already recorded */
	uint16_t hist_syn, hist_fin, hist_rst; /* low bits of the last S/F/R keys */
	uint16_t cnt_c, cnt_w, cnt_t, cnt_g;   /* scaled letters: C, W, T, G */
};

/* Connection flags. */
enum {
	C_MIDSTREAM = 0x01,
	C_V6 = 0x02,
	C_ESTABLISHED_ONCE = 0x04, /* Zeek: left the handshake states */
	C_ATTEMPT = 0x08,          /* Zeek: attempt timer armed */
	C_CLOSE_COMPLETE = 0x10,   /* Zeek: delete timer armed */
	C_ZEEK_ACTIVE = 0x20,      /* Zeek: is_active */
	C_VLAN = 0x40,             /* in the table only: tagged, the tags are in the extension */
	C_FAMILY = 0x80,           /* in the table only: neither AF_INET nor AF_INET6 (extension) */
};

/* History letters: at most 21, as Zeek's field in conn.log is cut. */
#define HIST_MAX 21
#define HIST_WORD 11 /* letters per 64-bit word, 5 bits each */

/*
 * A connection as the machines work on it: every field at full width.  It
 * lives on the stack while a segment or a timer is processed; the table
 * holds the packed form below, and load() and store() convert.
 */
struct wc {
	struct conn *slot; /* its entry in the table */
	uint32_t self;     /* that entry's pool index */
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
	uint64_t hw[2];      /* history letters, 5-bit codes, HIST_WORD a word */
	struct ep ep[2];
};

/*
 * The table's entry.  Most connections are small, young and clean: their
 * fields fit in less than half of struct wc, relative to one another.  What
 * does not fit (long or big connections, retransmissions, zero windows,
 * gaps, VLAN tags, reused tuples, long histories) goes whole to an
 * extension record, allocated on demand and freed with the connection.
 * store() checks every rule before it uses the short form, so load() gives
 * back exactly what was stored.
 */
struct pep {
	uint32_t isn, nxt;
	uint32_t sinced; /* short form: since_us - first_us (microseconds, as lastd) */
	uint32_t bytes;  /* short form: bytes sent */
	uint16_t win;
	int16_t ackd;    /* short form: peer's nxt - ack, when EP_ACKED (else ack is 0) */
	/*
	 * Small fields packed by hand, not as bitfields: store() builds each
	 * word in a register and writes it once.  (Bitfields made it read back
	 * bytes it had just written, and wait for them: a fifth of its time.)
	 */
	uint32_t w1;  /* PEP_PKTS (short form) | PEP_FIND (nxt - fin_seq, when EP_FIN) | PEP_STATE */
	uint32_t w2;  /* PEP_CONTIGD | PEP_FLAGS | PEP_WSCALE | PEP_Z | PEP_ZPREV | PEP_HSEEN */
	uint16_t cnt; /* short form: scaled letters C, W, T, G */
} __attribute__((packed));

/* Fields of struct pep's words: shift and width. */
#define PEP_FIELD_(word, shift, bits) (((word) >> (shift)) & ((1u << (bits)) - 1))
#define PEP_PUT_(v, shift, bits) (((uint32_t)(v) & ((1u << (bits)) - 1)) << (shift))
#define PEP_FIELD(word, f) PEP_FIELD_(word, f)
#define PEP_PUT(v, f) PEP_PUT_(v, f)
#define PEP_PKTS 0, 20
#define PEP_FIND 20, 8
#define PEP_STATE 28, 4
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
	uint32_t ext;    /* extension record, 0 for none */
	uint32_t first_lo, first_hi;
	uint64_t hw : 55, cf : 9; /* the first HIST_WORD letters; cflags */
	uint32_t lastd, zlastd;    /* short form: last_us, zlast_us - first_us */
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
	uint16_t tag;  /* the connection's id, low 16 bits */
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
	struct ext *xs;       /* extension records; [0] unused */
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
	uint32_t used;      /* pool slots handed out so far */
	uint32_t free_head; /* index + 1, 0 when empty */
	uint32_t *buckets;  /* index + 1 */
	uint32_t nbuckets;  /* power of two */
	uint32_t next_id;
	uint32_t hand;      /* eviction clock hand */
	uint64_t now_us;
	uint64_t next_sweep_us;
#ifdef ENGINE_FASTCHECK
	uint64_t fast_checked; /* segments fast_ack() took, each checked */
#endif
};

static struct conn *at(const struct engine *e, uint32_t i)
{
	return &e->blocks[i / BLOCK][i % BLOCK];
}

static uint32_t self_of(const struct conn *c)
{
	uintptr_t base = (uintptr_t)c & ~(BLOCK_SPAN - 1);
	uint32_t block;

	memcpy(&block, (const void *)base, sizeof(block));
	return block * BLOCK +
	       (uint32_t)(((uintptr_t)c - base - BLOCK_HDR) / sizeof(struct conn));
}

/* A zeroed block, number n; its pages are touched only as entries are used. */
static struct conn *block_new(uint32_t n)
{
	uint8_t *p = mmap(NULL, 2 * BLOCK_SPAN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	uint8_t *b = (uint8_t *)(((uintptr_t)p + BLOCK_SPAN - 1) & ~(BLOCK_SPAN - 1));
	if (b > p)
		munmap(p, (size_t)(b - p));
	munmap(b + BLOCK_SPAN, (size_t)(p + BLOCK_SPAN - b));
	memcpy(b, &n, sizeof(n));
	return (struct conn *)(b + BLOCK_HDR);
}

static void block_free(struct conn *c)
{
	munmap((uint8_t *)c - BLOCK_HDR, BLOCK_SPAN);
}

/* The time-in-state counters of a connection, or NULL. */
static uint32_t *dur_of(const struct engine *e, const struct wc *c)
{
	if (!e->durblocks)
		return NULL;
	return e->durblocks[c->self / BLOCK] + (size_t)(c->self % BLOCK) * 2 * TS_MAX;
}

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

static void timer_push(struct engine *e, const struct wc *c, uint64_t due)
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
			e->tq_head_due = (uint64_t)e->tq[(e->tq_head + 1) % e->tq_cap].dued << 32 |
					 n->dued;
		else if (n->idx != TQ_MARK_HI) /* which falls due with the TQ_MARK before it */
			e->tq_head_due += (uint64_t)(int64_t)(int32_t)n->dued;
	}
	return t;
}

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
	static const char *const n[] = {"INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL",
					"ESTABLISHED", "CLOSED", "RESET"};
	return zs >= 0 && zs <= Z_RESET ? n[zs] : "?";
}

void engine_config_defaults(struct engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->time_wait_us = 60 * 1000000ull;
	cfg->idle_timeout_us = 300 * 1000000ull;
	cfg->max_conns = 1000000;
}

/* ---- table -------------------------------------------------------------- */

static const uint8_t *addr_of(const struct wc *c, int side)
{
	return c->cflags & C_V6 ? c->addr.v6[side] : c->addr.v4[side];
}

/*
 * One end as a 64-bit word: a v4 address and port exactly, a v6 one mixed
 * whole (every one of its 128 bits and the port reach the word: a scan
 * from one /112 varies only the last 16).
 */
static uint64_t end_word(const uint8_t *a, int len, uint16_t port)
{
	if (len == 4) {
		uint32_t v;
		memcpy(&v, a, 4);
		return (uint64_t)v << 16 | port;
	}
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	return hash_mix64(x ^ hash_mix64(y ^ port));
}

/*
 * Symmetric in the two ends, so both directions find the same bucket: the
 * two ends are ordered before mixing.  One multiply-mix per packet for IPv4
 * (it is on every packet's path).
 */
static uint32_t hash_key(int family, uint16_t vlan, uint16_t vlan_inner, const uint8_t *a1,
			 uint16_t p1, const uint8_t *a2, uint16_t p2)
{
	int len = family == AF_INET6 ? 16 : 4;
	uint64_t x = end_word(a1, len, p1), y = end_word(a2, len, p2);
	uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
	uint64_t k = (uint64_t)vlan << 32 | (uint64_t)vlan_inner << 16 | (uint64_t)family;
	return (uint32_t)hash_mix64(lo * 0x9e3779b97f4a7c15ULL ^ hi ^ k << 48 ^ k);
}

/* An address of a table entry. */
static const uint8_t *slot_addr(const struct conn *c, int side)
{
	if (c->cf & C_V6) {
		uint8_t(*v6)[16];
		memcpy(&v6, c->addr, sizeof(v6));
		return v6[side];
	}
	return c->addr + 4 * side;
}

/* Its first packet's time. */
static uint64_t slot_first(const struct conn *c)
{
	return (uint64_t)c->first_hi << 32 | c->first_lo;
}

/* Its VLAN tags: in the extension, when it has any. */
static void slot_vlan(const struct engine *e, const struct conn *c, uint16_t *vlan,
		      uint16_t *inner)
{
	*vlan = *inner = 0;
	if (c->cf & C_VLAN) {
		*vlan = e->xs[c->ext].vlan;
		*inner = e->xs[c->ext].vlan_inner;
	}
}

/* Its address family: AF_INET6 or AF_INET, or an odd one in the extension. */
static int slot_family(const struct engine *e, const struct conn *c)
{
	if (c->cf & C_FAMILY)
		return e->xs[c->ext].family;
	return c->cf & C_V6 ? AF_INET6 : AF_INET;
}

static uint32_t conn_hash(const struct engine *e, const struct conn *c)
{
	uint16_t vlan, inner;

	slot_vlan(e, c, &vlan, &inner);
	return hash_key(slot_family(e, c), vlan, inner, slot_addr(c, 0), c->port[0], slot_addr(c, 1),
			c->port[1]);
}

static int grow_buckets(struct engine *e)
{
	uint32_t n = e->nbuckets ? e->nbuckets * 2 : 1024;
	uint32_t *b = calloc(n, sizeof(*b));

	if (!b)
		return -1;
	for (uint32_t i = 0; i < e->nbuckets; i++) {
		for (uint32_t k = e->buckets[i]; k;) {
			struct conn *c = at(e, k - 1);
			uint32_t next = c->next, h = conn_hash(e, c) & (n - 1);
			c->next = b[h];
			b[h] = k;
			k = next;
		}
	}
	free(e->buckets);
	e->st.bytes += (uint64_t)(n - e->nbuckets) * sizeof(*b);
	e->buckets = b;
	e->nbuckets = n;
	return 0;
}

/* Find the connection of a segment; *dir is 0 if the source is its originator. */
/* Addresses equal?  Fixed sizes, so the compiler inlines the compare. */
static int same_addr(const uint8_t *a, const uint8_t *b, int v6)
{
	return v6 ? memcmp(a, b, 16) == 0 : memcmp(a, b, 4) == 0;
}

static int same_vlan(const struct engine *e, const struct conn *c, const struct segment *s)
{
	uint16_t vlan, inner;

	if (!(c->cf & C_VLAN)) /* the common case: no need to reach the extension */
		return !(s->vlan | s->vlan_inner);
	slot_vlan(e, c, &vlan, &inner);
	return vlan == s->vlan && inner == s->vlan_inner;
}

static struct conn *lookup(struct engine *e, const struct segment *s, uint32_t h, int *dir)
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

static void unlink_conn(struct engine *e, struct conn *c, uint32_t idx)
{
	uint32_t *pp = &e->buckets[conn_hash(e, c) & (e->nbuckets - 1)];

	while (*pp && *pp != idx + 1)
		pp = &at(e, *pp - 1)->next;
	if (*pp)
		*pp = c->next;
}

/* ---- extension records -------------------------------------------------- */

/* Make room for more; the free list runs through last_us. */
static int ext_grow(struct engine *e)
{
	uint32_t cap = e->xcap ? e->xcap * 2 : 64;
	struct ext *nx;

	if (cap <= e->xcap)
		return -1;
	nx = realloc(e->xs, (size_t)cap * sizeof(*nx));
	if (!nx)
		return -1;
	for (uint32_t i = cap - 1; i >= (e->xcap ? e->xcap : 1); i--) {
		nx[i].last_us = e->xfree;
		e->xfree = i;
	}
	e->st.bytes += (uint64_t)(cap - e->xcap) * sizeof(*nx);
	e->xs = nx;
	e->xcap = cap;
	return 0;
}

static uint32_t ext_alloc(struct engine *e)
{
	if (!e->xfree && ext_grow(e) < 0)
		return 0;
	uint32_t x = e->xfree;
	e->xfree = (uint32_t)e->xs[x].last_us;
	memset(&e->xs[x], 0, sizeof(e->xs[x]));
	return x;
}

static void ext_free(struct engine *e, uint32_t x)
{
	e->xs[x].last_us = e->xfree;
	e->xfree = x;
}

/* ---- packing ------------------------------------------------------------ */

/*
 * The history alphabet: Zeek's letters, the originator's in upper case,
 * then the responder's in lower case, then '^' (the first packet's sender
 * was taken for the responder).  A letter's code is its place in hist_abc
 * plus one (0: none).
 */
#define HIST_LETTERS(X) \
	X(S, 'S') X(H, 'H') X(A, 'A') X(D, 'D') X(F, 'F') X(R, 'R') X(C, 'C') X(G, 'G') X(T, 'T') \
	X(W, 'W') X(I, 'I') X(Q, 'Q')

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

static unsigned word_letters(uint64_t w)
{
	return w ? (unsigned)(63 - __builtin_clzll(w)) / 5 + 1 : 0;
}

static unsigned hist_len(const uint64_t hw[2])
{
	return hw[1] ? HIST_WORD + word_letters(hw[1]) : word_letters(hw[0]);
}

/* The history as a string; out holds HIST_MAX + 1. */
static void hist_string(const struct wc *c, char *out)
{
	for (unsigned i = 0; i < c->hlen; i++)
		out[i] = hist_abc[((c->hw[i / HIST_WORD] >> 5 * (i % HIST_WORD)) & 31) - 1];
	out[c->hlen] = '\0';
}

/* The keys of the last S, F and R letters, as they usually are (see pack_short()). */
static uint16_t usual_hist_fin(const struct ep *p)
{
	return (p->hseen & H_FIN) ? (uint16_t)(p->fin_seq - p->isn) : 0;
}

static uint16_t usual_hist_rst(const struct ep *p)
{
	return (p->hseen & H_RST) ? (uint16_t)(p->nxt - p->isn) : 0;
}

/*
 * Zeek's in-order point: near what this end sent, or, when the capture
 * lacks the payload (a short snaplen), where the peer's ACKs have taken it.
 * A 7-bit distance from one of the two, and which (bit 0); -1 if neither.
 */
static int contig_encode(uint32_t nxt, uint32_t contig, uint32_t peer_ack)
{
	int32_t d = (int32_t)(nxt - contig);

	if (d >= -64 && d < 64)
		return (int)((uint32_t)d << 1 & 0xfe);
	d = (int32_t)(peer_ack - contig);
	if (d >= -64 && d < 64)
		return (int)((uint32_t)d << 1 & 0xfe) | 1;
	return -1;
}

static uint32_t contig_from(uint32_t nxt, uint32_t peer_ack, uint8_t code)
{
	uint32_t d = (uint32_t)(int32_t)((int8_t)(code & 0xfe) / 2);

	return ((code & 1) ? peer_ack : nxt) - d;
}

static int contig_code(const struct ep *p, const struct ep *q)
{
	return contig_encode(p->nxt, p->contig, q->ack);
}

static uint32_t contig_decode(const struct ep *p, const struct ep *q, uint8_t code)
{
	return contig_from(p->nxt, q->ack, code);
}

/* An endpoint's fields that every entry holds, the short-form ones left 0. */
static void pack_base(struct pep *pp, const struct ep *p)
{
	pp->isn = p->isn;
	pp->nxt = p->nxt;
	pp->sinced = 0;
	pp->win = p->win;
	pp->w1 = PEP_PUT(p->state, PEP_STATE);
	pp->w2 = PEP_PUT(p->flags, PEP_FLAGS) | PEP_PUT(p->wscale, PEP_WSCALE) | PEP_PUT(p->z, PEP_Z) |
		 PEP_PUT(p->zprev, PEP_ZPREV) | PEP_PUT(p->hseen, PEP_HSEEN);
	pp->bytes = 0;
	pp->ackd = 0;
	pp->cnt = 0;
}

/*
 * The short form of a connection's endpoints and times, if it holds them
 * exactly; 0 if not.  Each rule is the inverse of what load() computes
 * without an extension.  Checking and packing in one pass: store() runs
 * for every segment that takes the full path.
 */
static int pack_short(const struct wc *w, struct pep pp[2], uint32_t *lastd, uint32_t *zlastd)
{
	uint64_t last = w->last_us - w->first_us, zlast = w->zlast_us - w->first_us;

	/* (A time before first_us wraps, and fails as too far.) */
	if (last > UINT32_MAX || zlast > UINT32_MAX)
		return 0;
	if (w->family != ((w->cflags & C_V6) ? AF_INET6 : AF_INET) ||
	    w->attempt_ms != ((w->cflags & C_ATTEMPT) ? 5000u : 0))
		return 0;
	if (w->instance != 1 || w->vlan || w->vlan_inner || w->hw[1])
		return 0;
	/* Both ends checked before either is written: pp may be the entry itself. */
	uint32_t find[2];
	int32_t ackd[2];
	int code[2];
	uint64_t since[2];
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side], *q = &w->ep[1 - side];
		/* (A 2MSL end after the last packet may lie further out than last.) */
		since[side] = p->since_us - w->first_us;
		if (since[side] > UINT32_MAX)
			return 0;
		find[side] = p->nxt - p->fin_seq;
		ackd[side] = (int32_t)(q->nxt - p->ack);
		if (p->bytes > UINT32_MAX || p->pkts >= 1u << 20)
			return 0;
		if ((p->flags & EP_FIN) ? find[side] > 255 : p->fin_seq != 0)
			return 0;
		if ((p->flags & EP_ACKED) ? ackd[side] != (int16_t)ackd[side] : p->ack != 0)
			return 0;
		if (p->hist_syn || p->hist_fin != usual_hist_fin(p) ||
		    p->hist_rst != usual_hist_rst(p))
			return 0;
		if (p->cnt_c > 3 || p->cnt_w > 3 || p->cnt_t > 15 || p->cnt_g > 255)
			return 0;
		code[side] = contig_code(p, q);
		if (code[side] < 0)
			return 0;
	}
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side];
		struct pep *o = &pp[side];
		pack_base(o, p);
		o->sinced = (uint32_t)since[side];
		o->bytes = (uint32_t)p->bytes;
		o->w1 |= PEP_PUT(p->pkts, PEP_PKTS);
		if (p->flags & EP_FIN)
			o->w1 |= PEP_PUT(find[side], PEP_FIND);
		if (p->flags & EP_ACKED)
			o->ackd = (int16_t)ackd[side];
		o->w2 |= PEP_PUT(code[side], PEP_CONTIGD);
		o->cnt = (uint16_t)(PEP_PUT(p->cnt_c, PEP_CNT_C) | PEP_PUT(p->cnt_w, PEP_CNT_W) |
				    PEP_PUT(p->cnt_t, PEP_CNT_T) | PEP_PUT(p->cnt_g, PEP_CNT_G));
	}
	*lastd = (uint32_t)last;
	*zlastd = (uint32_t)zlast;
	return 1;
}

/*
 * Write a connection back to its table entry.  Fails only if it needs an
 * extension and none can be had (engine_input_hashed keeps one in reserve).
 */
static int store(struct engine *e, const struct wc *w)
{
	struct conn *c = w->slot;
	uint32_t lastd = 0, zlastd = 0;
	/*
	 * Packed straight into the entry: building them on the stack and
	 * copying made each copy wait for the bytes just written (a failed
	 * store-to-load forward, a tenth of store()).  pack_short() writes
	 * nothing unless both ends fit, and the extension is had before
	 * pack_base() writes: a store() that fails leaves the entry as it was.
	 */
	int full = c->ext || !pack_short(w, c->ep, &lastd, &zlastd);

	if (full) {
		if (!c->ext && !(c->ext = ext_alloc(e)))
			return -1;
		pack_base(&c->ep[0], &w->ep[0]);
		pack_base(&c->ep[1], &w->ep[1]);
	}
	c->id = w->id;
	c->port[0] = w->port[0];
	c->port[1] = w->port[1];
	if (w->cflags & C_V6)
		memcpy(c->addr, &w->addr.v6, sizeof(w->addr.v6));
	else
		memcpy(c->addr, w->addr.v4, sizeof(c->addr));
	c->cf = (uint16_t)(w->cflags | ((w->vlan | w->vlan_inner) ? C_VLAN : 0) |
			   (w->family != AF_INET && w->family != AF_INET6 ? C_FAMILY : 0)) &
		0x1ff;
	c->first_lo = (uint32_t)w->first_us;
	c->first_hi = (uint32_t)(w->first_us >> 32);
	c->hw = w->hw[0];
	c->lastd = lastd;
	c->zlastd = zlastd;
	if (!full)
		return 0;
	struct ext *x = &e->xs[c->ext];
	x->last_us = w->last_us;
	x->zlast_us = w->zlast_us;
	x->hw1 = w->hw[1];
	x->attempt_ms = w->attempt_ms;
	x->instance = w->instance;
	x->vlan = w->vlan;
	x->vlan_inner = w->vlan_inner;
	x->family = w->family;
	for (int side = 0; side < 2; side++) {
		const struct ep *p = &w->ep[side];
		x->since_us[side] = p->since_us;
		x->bytes[side] = p->bytes;
		x->pkts[side] = p->pkts;
		x->fin_seq[side] = p->fin_seq;
		x->ack[side] = p->ack;
		x->contig[side] = p->contig;
		x->hist_syn[side] = p->hist_syn;
		x->hist_fin[side] = p->hist_fin;
		x->hist_rst[side] = p->hist_rst;
		x->cnt[side][0] = p->cnt_c;
		x->cnt[side][1] = p->cnt_w;
		x->cnt[side][2] = p->cnt_t;
		x->cnt[side][3] = p->cnt_g;
	}
	return 0;
}

/* Read a table entry into a working copy. */
static void load(const struct engine *e, const struct conn *c, struct wc *w)
{
	w->slot = (struct conn *)c;
	w->self = self_of(c);
	w->id = c->id;
	w->family = (uint8_t)slot_family(e, c);
	w->cflags = c->cf & ~(C_VLAN | C_FAMILY);
	w->port[0] = c->port[0];
	w->port[1] = c->port[1];
	if (c->cf & C_V6)
		memcpy(&w->addr.v6, c->addr, sizeof(w->addr.v6));
	else
		memcpy(w->addr.v4, c->addr, sizeof(c->addr));
	w->first_us = slot_first(c);
	w->hw[0] = c->hw;
	for (int side = 0; side < 2; side++) {
		const struct pep *pp = &c->ep[side];
		struct ep *p = &w->ep[side];
		p->isn = pp->isn;
		p->nxt = pp->nxt;
		p->since_us = w->first_us + pp->sinced; /* the extension's, if any, below */
		p->win = pp->win;
		p->state = (uint8_t)PEP_FIELD(pp->w1, PEP_STATE);
		p->flags = (uint8_t)PEP_FIELD(pp->w2, PEP_FLAGS);
		p->wscale = (uint8_t)PEP_FIELD(pp->w2, PEP_WSCALE);
		p->z = (uint8_t)PEP_FIELD(pp->w2, PEP_Z);
		p->zprev = (uint8_t)PEP_FIELD(pp->w2, PEP_ZPREV);
		p->hseen = (uint8_t)PEP_FIELD(pp->w2, PEP_HSEEN);
	}
	if (c->ext) {
		const struct ext *x = &e->xs[c->ext];
		w->last_us = x->last_us;
		w->zlast_us = x->zlast_us;
		w->hw[1] = x->hw1;
		w->attempt_ms = x->attempt_ms;
		w->instance = x->instance;
		w->vlan = x->vlan;
		w->vlan_inner = x->vlan_inner;
		for (int side = 0; side < 2; side++) {
			struct ep *p = &w->ep[side];
			p->since_us = x->since_us[side];
			p->bytes = x->bytes[side];
			p->pkts = x->pkts[side];
			p->fin_seq = x->fin_seq[side];
			p->ack = x->ack[side];
			p->contig = x->contig[side];
			p->hist_syn = x->hist_syn[side];
			p->hist_fin = x->hist_fin[side];
			p->hist_rst = x->hist_rst[side];
			p->cnt_c = x->cnt[side][0];
			p->cnt_w = x->cnt[side][1];
			p->cnt_t = x->cnt[side][2];
			p->cnt_g = x->cnt[side][3];
		}
	} else {
		w->last_us = w->first_us + c->lastd;
		w->zlast_us = w->first_us + c->zlastd;
		w->hw[1] = 0;
		w->attempt_ms = (w->cflags & C_ATTEMPT) ? 5000 : 0;
		w->instance = 1;
		w->vlan = w->vlan_inner = 0;
		for (int side = 0; side < 2; side++) {
			const struct pep *pp = &c->ep[side];
			struct ep *p = &w->ep[side];
			const struct ep *q = &w->ep[1 - side];
			p->bytes = pp->bytes;
			p->pkts = PEP_FIELD(pp->w1, PEP_PKTS);
			p->fin_seq = (p->flags & EP_FIN) ? p->nxt - PEP_FIELD(pp->w1, PEP_FIND) : 0;
			p->ack = (p->flags & EP_ACKED) ? q->nxt - (uint32_t)(int32_t)pp->ackd : 0;
			p->hist_syn = 0;
			p->hist_fin = usual_hist_fin(p);
			p->hist_rst = usual_hist_rst(p);
			p->cnt_c = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_C);
			p->cnt_w = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_W);
			p->cnt_t = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_T);
			p->cnt_g = (uint16_t)PEP_FIELD(pp->cnt, PEP_CNT_G);
		}
		/* The in-order points last: they may count from the ACKs. */
		for (int side = 0; side < 2; side++)
			w->ep[side].contig =
				contig_decode(&w->ep[side], &w->ep[1 - side],
					      (uint8_t)PEP_FIELD(c->ep[side].w2, PEP_CONTIGD));
	}
	w->hlen = (uint8_t)hist_len(w->hw);
}

static void free_conn(struct engine *e, struct wc *w, enum close_reason why)
{
	struct conn *c = w->slot;
	uint32_t idx = w->self;

	if (e->hooks.closed) {
		store(e, w);
		e->hooks.closed(e->hooks.arg, c, why);
	}
	unlink_conn(e, c, idx);
	if (w->cflags & C_V6) {
		free(w->addr.v6);
		e->st.bytes -= 32;
	}
	if (c->ext)
		ext_free(e, c->ext);
	uint32_t *dur = dur_of(e, w);
	if (dur)
		memset(dur, 0, 2 * TS_MAX * sizeof(uint32_t));
	memset(c, 0, sizeof(*c));
	c->next = e->free_head;
	e->free_head = idx + 1;
	e->st.live--;
}

/* A free entry, and a blank working copy for it. */
static struct conn *alloc_conn(struct engine *e, struct wc *w)
{
	uint32_t idx;

	if (e->free_head) {
		idx = e->free_head - 1;
		e->free_head = at(e, idx)->next;
	} else {
		if (e->used == e->nblocks * BLOCK) {
			if (e->nblocks == e->capblocks) {
				uint32_t cap = e->capblocks ? e->capblocks * 2 : 8;
				struct conn **nb = realloc(e->blocks, cap * sizeof(*nb));
				if (!nb)
					return NULL;
				e->blocks = nb;
				e->capblocks = cap;
			}
			e->blocks[e->nblocks] = block_new(e->nblocks);
			if (!e->blocks[e->nblocks])
				return NULL;
			if (e->cfg.keep_durations) {
				uint32_t **nd = realloc(e->durblocks, e->capblocks * sizeof(*nd));
				if (nd)
					e->durblocks = nd;
				if (!nd || !(nd[e->nblocks] = calloc((size_t)BLOCK * 2 * TS_MAX,
								     sizeof(uint32_t)))) {
					/* Not counted in nblocks yet: give it back. */
					block_free(e->blocks[e->nblocks]);
					return NULL;
				}
				e->st.bytes += (uint64_t)BLOCK * 2 * TS_MAX * sizeof(uint32_t);
			}
			e->nblocks++;
			e->st.bytes += BLOCK * sizeof(struct conn);
		}
		idx = e->used++;
	}
	struct conn *c = at(e, idx);
	memset(c, 0, sizeof(*c));
	memset(w, 0, sizeof(*w));
	w->slot = c;
	w->self = idx;
	return c;
}

/* ---- transitions -------------------------------------------------------- */

static uint32_t rel_ms(const struct wc *c, uint64_t ts)
{
	return ts > c->first_us ? (uint32_t)((ts - c->first_us) / 1000) : 0;
}

/*
 * When an endpoint entered a state at capture time ts: exactly ts, to the
 * microsecond, as the capture gives it (a 2MSL end is due 2MSL after this
 * to the microsecond too).  Not before the first packet: a capture whose
 * time goes back does not date a state before the connection was seen.
 */
static uint64_t since_at(const struct wc *c, uint64_t ts)
{
	return ts > c->first_us ? ts : c->first_us;
}

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
		timer_push(e, c, ts + e->cfg.time_wait_us);
	else if (to == TS_CLOSE && c->ep[1 - side].state == TS_CLOSE)
		timer_push(e, c, c->last_us + e->cfg.time_wait_us); /* finished: linger */
	if (e->hooks.event) {
		/* The hook reads the table's entry: bring it up to date. */
		store(e, c);
		ev.conn = c->slot;
		e->hooks.event(e->hooks.arg, &ev);
	}
}

static int closedish(int s)
{
	return s == TS_CLOSE || s == TS_TIME_WAIT;
}

/* Fire the TIME-WAIT timers of one connection that are due by now. */
static void fire_timewait(struct engine *e, struct wc *c, uint64_t now)
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

/* ---- Zeek's machine ----------------------------------------------------- */

static void zset(struct ep *p, int z)
{
	p->zprev = p->z;
	p->z = (uint8_t)z;
}

/* Append a history letter: upper case from the originator. */
static void add_hist(struct wc *c, int side, char letter)
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
	add_hist(c, side, letter);
	return 1;
}

/* Letters logged on a log10 scale: at the 1st, 10th, 100th ... event. */
static void scaled_hist(struct wc *c, int side, uint16_t *cnt, char letter)
{
	if (*cnt == UINT16_MAX)
		return;
	uint16_t n = ++*cnt;
	if (n == 1 || n == 10 || n == 100 || n == 1000 || n == 10000)
		add_hist(c, side, letter);
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
	add_hist(c, 0, '^');
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
static enum conn_state zeek_conn_state(const struct wc *c)
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
			hist_string(c, h);
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

/* Zeek's history and sequence bookkeeping for one segment (Process()). */
static void zeek_process(struct wc *c, uint32_t *dur, int side, const struct segment *s,
			 int *flipped)
{
	struct ep *p = &c->ep[side], *q = &c->ep[1 - side];
	int syn = !!(s->flags & TH_SYN), fin = !!(s->flags & TH_FIN), rst = !!(s->flags & TH_RST);
	uint32_t seg_len = s->payload_len + (uint32_t)syn + (uint32_t)fin;

	if (rst)
		seg_len -= s->payload_len;
	uint32_t end = s->seq + seg_len;

	/* init_endpoint */
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
	uint32_t rel = s->seq - p->isn;

	/* update_history */
	int bits = syn + fin + rst;
	if (bits > 1) {
		if (fin && rst)
			check_hist(c, side, H_FIN_RST, 'I');
		else
			check_hist(c, side, H_MULTI, 'Q');
	} else if (bits == 1) {
		if (syn) {
			char code = (s->flags & TH_ACK) ? 'H' : 'S';
			uint16_t key = (uint16_t)rel;
			int first = !(p->hseen & H_SYN);
			p->hseen |= H_SYN;
			if (first || key != p->hist_syn)
				add_hist(c, side, code);
			p->hist_syn = key;
		}
		if (fin) {
			uint16_t key = (uint16_t)(rel + s->payload_len);
			int first = !(p->hseen & H_FIN);
			p->hseen |= H_FIN;
			if (first || key != p->hist_fin)
				add_hist(c, side, 'F');
			p->hist_fin = key;
		}
		if (rst) {
			uint16_t key = (uint16_t)rel;
			int first = !(p->hseen & H_RST);
			p->hseen |= H_RST;
			if (first || key != p->hist_rst)
				add_hist(c, side, 'R');
			p->hist_rst = key;
		}
	} else if (s->payload_len) {
		check_hist(c, side, H_DATA, 'D');
	} else if (s->flags & TH_ACK) {
		check_hist(c, side, H_ACK, 'A');
	}

	/* update_window: zero windows (W) */
	uint32_t scale = (p->flags & EP_WSCALE) && (q->flags & EP_WSCALE) ? p->wscale : 0;
	if (syn) {
		scale = 0;
	}
	if (((uint32_t)s->win << scale) == 0 && !rst && q->z != Z_CLOSED && p->z != Z_RESET)
		scaled_hist(c, side, &p->cnt_w, 'W');

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
		scaled_hist(c, side, &p->cnt_t, 'T');

	int before = c->ep[0].z <= Z_SYN_ACK_SENT && c->ep[1].z <= Z_SYN_ACK_SENT;
	zeek_update(c, dur, side, s, flipped);
	if (*flipped)
		side = 1 - side;
	if (before && !(c->ep[0].z <= Z_SYN_ACK_SENT && c->ep[1].z <= Z_SYN_ACK_SENT))
		c->cflags |= C_ESTABLISHED_ONCE;

	p = &c->ep[side];
	q = &c->ep[1 - side];

	/*
	 * Content gaps (G): the ACK covers peer data the capture never held.
	 * Zeek's reassembler flags it only while both ends are established (or
	 * closed from established), and clamps the ACK at the peer's FIN.
	 */
	if ((s->flags & TH_ACK) && (q->flags & EP_SEQ)) {
		uint32_t upto = s->ack;
		if ((q->flags & EP_FIN) && SEQ_LT(q->fin_seq, upto))
			upto = q->fin_seq;
		if (SEQ_GT(upto, q->contig)) {
			int ok_p = p->z == Z_ESTABLISHED || (p->z == Z_CLOSED && p->zprev == Z_ESTABLISHED);
			int ok_q = q->z == Z_ESTABLISHED || (q->z == Z_CLOSED && q->zprev == Z_ESTABLISHED);
			int partial = (c->cflags & C_MIDSTREAM) && (uint32_t)(upto - q->isn) <= 2;
			if (ok_p && ok_q && !partial)
				scaled_hist(c, 1 - side, &q->cnt_g, 'G');
			q->contig = upto;
		}
	}
	/* This segment's own data, if the capture holds it whole. */
	if (s->payload_len && !rst && s->payload_captured == s->payload_len) {
		uint32_t dstart = s->seq + (uint32_t)syn, dend = dstart + s->payload_len;
		if (SEQ_LEQ(dstart, p->contig) && SEQ_GT(dend, p->contig))
			p->contig = dend;
	}

	/* ConnectionClosed */
	int do_close = (fin && (p->z == Z_CLOSED)) || (rst && p->z == Z_RESET && p->zprev != Z_RESET);
	if (do_close && !(p->flags & EP_DID_CLOSE)) {
		p->flags |= EP_DID_CLOSE;
		if (p->z == Z_RESET || (q->flags & EP_DID_CLOSE) || q->z == Z_INACTIVE)
			c->cflags |= C_CLOSE_COMPLETE;
	}
}

/* ---- the RFC machine ---------------------------------------------------- */

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
		timer_push(e, c, ts + e->cfg.time_wait_us);
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

static void rfc_segment(struct engine *e, struct wc *c, int side, const struct segment *s,
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
		if (a->state != TS_CLOSE)
			emit(e, c, side, TS_CLOSE, CAUSE_RST_SENT, ts);
		if (b->state != TS_CLOSE) {
			if (rst_acceptable(c, rcv, s, snd_nxt_before, snd_known))
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
		if (b->state == TS_NONE || b->state == TS_LISTEN || b->state == TS_CLOSE)
			emit(e, c, rcv, TS_SYN_RECV, CAUSE_SYN_RECEIVED, ts);
		else if (b->state == TS_SYN_SENT)
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

/* ---- connections -------------------------------------------------------- */

/* Ports Zeek's full scripts register as likely servers (likely_server_ports). */
static int likely_server_port(uint16_t p)
{
	static const uint16_t ports[] = {21,  22,  23,  25,  53,  80,   81,   88,   110,  135,
					 139, 143, 389, 443, 445, 502,  563,  585,  587,  614,
					 631, 636, 989, 990, 992, 993,  995,  1080, 1883, 2811,
					 3128, 3268, 3389, 5222, 5223, 5269, 6666, 6667, 6668, 6669,
					 8000, 8080, 8888, 20000};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return 1;
	return 0;
}

static int evict_one(struct engine *e);

/* A new connection in *c, in the table; -1 if there is no room. */
static int new_conn(struct engine *e, const struct segment *s, uint32_t h, int flip,
		    uint16_t instance, struct wc *c)
{
	struct conn *slot;

	if (e->st.live >= e->cfg.max_conns && evict_one(e) < 0)
		return -1;
	if ((e->st.live + 1) > (uint64_t)e->nbuckets && grow_buckets(e) < 0)
		return -1;
	slot = alloc_conn(e, c);
	if (!slot)
		return -1;
	int len = s->family == AF_INET6 ? 16 : 4;
	const uint8_t *a0 = flip ? s->daddr : s->saddr, *a1 = flip ? s->saddr : s->daddr;
	c->family = s->family;
	c->vlan = s->vlan;
	c->vlan_inner = s->vlan_inner;
	c->port[0] = flip ? s->dport : s->sport;
	c->port[1] = flip ? s->sport : s->dport;
	if (s->family == AF_INET6) {
		c->addr.v6 = malloc(32);
		if (!c->addr.v6) {
			slot->next = e->free_head;
			e->free_head = c->self + 1;
			return -1;
		}
		c->cflags |= C_V6;
		e->st.bytes += 32;
	}
	memcpy((uint8_t *)addr_of(c, 0), a0, (size_t)len);
	memcpy((uint8_t *)addr_of(c, 1), a1, (size_t)len);
	c->first_us = c->last_us = c->zlast_us = s->ts_us;
	c->ep[0].since_us = c->ep[1].since_us = s->ts_us;
	/* 0 marks a free entry: after 2^32 connections (days of a busy live capture) skip it. */
	if (!++e->next_id)
		++e->next_id;
	c->id = e->next_id;
	c->instance = instance;
	c->cflags |= C_ZEEK_ACTIVE;
	if (flip)
		add_hist(c, 0, '^');
	/* The entry is complete before it is linked (lookups read its tags). */
	if (store(e, c) < 0) {
		if (c->cflags & C_V6) {
			free(c->addr.v6);
			e->st.bytes -= 32;
		}
		memset(slot, 0, sizeof(*slot));
		slot->next = e->free_head;
		e->free_head = c->self + 1;
		e->next_id--;
		return -1;
	}
	uint32_t b = h & (e->nbuckets - 1);
	slot->next = e->buckets[b];
	e->buckets[b] = c->self + 1;
	e->st.conns++;
	e->st.live++;
	if (e->st.live > e->st.peak)
		e->st.peak = e->st.live;
	return 0;
}

/*
 * Which side is the originator of a connection first seen with this
 * segment: the sender of a bare SYN; the receiver of a SYN-ACK; otherwise
 * the side that is not on a well-known server port (Zeek's WantConnection).
 */
static int should_flip(const struct segment *s)
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

/* Initial RFC states of a new connection, from the first segment. */
static void start_states(struct engine *e, struct wc *c, int side, const struct segment *s)
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

/*
 * Zeek's timers, evaluated for one connection at time now: would Zeek have
 * removed it before this moment?  (TCPSessionAdapter: AttemptTimer,
 * ConnDeleteTimer, ExpireTimer; and the inactivity timeout.)
 */
static int zeek_expired(const struct engine *e, const struct wc *c, uint64_t now)
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
static int zeek_reuse(const struct wc *c, const struct segment *s)
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

/* Our own rule: a bare SYN on a finished tuple, or a new ISN for an
 * unanswered attempt, starts a new instance. */
static int rfc_reuse(const struct wc *c, int dir, const struct segment *s)
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
static void end_instance(struct engine *e, struct wc *c, enum cause why, uint64_t ts)
{
	for (int side = 0; side < 2; side++)
		if (c->ep[side].state != TS_CLOSE)
			emit(e, c, side, TS_CLOSE, why, ts);
	e->st.reused++;
	free_conn(e, c, CLOSE_REUSED);
}

/* Should this connection leave the table at time now (default mode)? */
static int rfc_expired(const struct engine *e, const struct wc *c, uint64_t now,
		       enum close_reason *why)
{
	if (closedish(c->ep[0].state) && closedish(c->ep[1].state) &&
	    c->ep[0].state == TS_CLOSE && c->ep[1].state == TS_CLOSE) {
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

/* Fire the queued timers due by now: TIME-WAIT ends, finished connections leave. */
static void run_timers(struct engine *e, uint64_t now)
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
		load(e, slot, c);
		fire_timewait(e, c, now);
		if (!e->cfg.zeek && c->ep[0].state == TS_CLOSE && c->ep[1].state == TS_CLOSE) {
			if (c->last_us + e->cfg.time_wait_us <= now) {
				free_conn(e, c, CLOSE_FINISHED);
				continue;
			}
			/* a late packet moved its linger on */
			timer_push(e, c, c->last_us + e->cfg.time_wait_us);
		}
		store(e, c);
	}
}

/* Walk the table for the timers not queued: idle expiry, and Zeek's. */
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
		uint64_t attempt_ms = x ? x->attempt_ms : 5000; /* as load() gives it */
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

static void sweep(struct engine *e, uint64_t now)
{
	run_timers(e, now);
	for (uint32_t i = 0; i < e->used; i++) {
		struct conn *slot = at(e, i);
		if (!slot->id || !may_expire(e, slot, now))
			continue; /* free, or in use by now */
		struct wc w, *c = &w;
		load(e, slot, c);
		if (e->cfg.zeek) {
			if (zeek_expired(e, c, now))
				free_conn(e, c, CLOSE_ZEEK);
			continue;
		}
		enum close_reason why;
		if (rfc_expired(e, c, now, &why)) {
			if (why == CLOSE_IDLE)
				e->st.expired++;
			free_conn(e, c, why);
		}
	}
}

/*
 * Timers in the queue run on every packet's time; the full walk, for idle
 * connections, only every eighth of the idle timeout (at least a second),
 * so its cost does not grow with the length of a capture.
 */
static void maybe_sweep(struct engine *e, uint64_t now)
{
	/* (run_timers() begins with this test; on most packets nothing is due.) */
	if (e->tq_len && e->tq_head_due <= now)
		run_timers(e, now);
	if (now < e->next_sweep_us)
		return;
	if (e->next_sweep_us)
		sweep(e, now);
	uint64_t every = e->cfg.zeek ? 1000000 : e->cfg.idle_timeout_us / 8;
	e->next_sweep_us = now + (every > 1000000 ? every : 1000000);
}

/*
 * The table is full: make room.  Look at a few entries from the clock hand
 * and evict the best candidate: finished first, then half-open (never
 * established both ways), then the longest idle.
 */
static int evict_one(struct engine *e)
{
	struct wc best, w, *c = &w;
	int best_rank = -1;

	for (uint32_t n = 0; n < 16 && e->used; n++) {
		struct conn *slot = at(e, e->hand);
		e->hand = (e->hand + 1) % e->used;
		if (!slot->id)
			continue;
		load(e, slot, c);
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
	free_conn(e, &best, CLOSE_EVICTED);
	return 0;
}

/* add_hist() for fast_ack(): -1 if the letter would not go in the entry's first word. */
static int fast_letter(uint64_t *hw, int side, char letter)
{
	unsigned n = word_letters(*hw);

	if (n >= HIST_WORD) /* (HIST_WORD < HIST_MAX: the letter is due) */
		return -1;
	*hw |= hist_code(side, letter) << 5 * n;
	return 0;
}

/*
 * The common segment, on the table's entry itself: an ACK, with or without
 * data, between two ends both ESTABLISHED (and, in Zeek's machine,
 * established or partial), that moves nothing but counters, sequence
 * points, times and perhaps a history letter.  Going through load(),
 * the machines and store() cost over three times as much, and most
 * segments of most connections are of this kind.  Every condition under
 * which the machines would do more (a transition, a letter past the
 * entry's first history word, a retransmission, a gap, a zero window, an expiry, a value the short form
 * cannot hold) is checked first; then this returns 0 having changed
 * nothing, and the caller takes the full path.  Built with
 * -DENGINE_FASTCHECK, every segment taken here is also run through the
 * full path and the two entries compared (tests/pcap/test_fastpath.sh).
 */
static int fast_ack(struct engine *e, struct conn *c, int dir, const struct segment *s)
{
	struct pep *pa = &c->ep[dir], *pb = &c->ep[1 - dir];
	const uint32_t a1 = pa->w1, a2 = pa->w2, b2 = pb->w2;
	const unsigned af = PEP_FIELD(a2, PEP_FLAGS), bf = PEP_FIELD(b2, PEP_FLAGS);
	const unsigned ahs = PEP_FIELD(a2, PEP_HSEEN);
	const uint32_t len = s->payload_len;

	if (c->ext || (s->flags & (TH_SYN | TH_FIN | TH_RST | TH_ACK)) != TH_ACK)
		return 0;
	if (e->cfg.verify_checksums && s->csum == 0)
		return 0;
	/*
	 * The sender has sent no FIN: ESTABLISHED, or CLOSE-WAIT (its peer
	 * has).  The receiver ESTABLISHED, FIN-WAIT-2, or in a state this
	 * ACK may end: SYN-RECEIVED (the handshake's last ACK) or FIN-WAIT-1
	 * (the ACK of its FIN), as rfc_segment() finds.  Those transitions
	 * set no timer, and are taken here only when nothing listens for
	 * events and no durations are kept.
	 */
	unsigned ast = PEP_FIELD(a1, PEP_STATE), bst = PEP_FIELD(pb->w1, PEP_STATE), to = 0;
	uint32_t b_fin = pb->nxt - PEP_FIELD(pb->w1, PEP_FIND); /* when EP_FIN, as load() */
	if (ast != TS_ESTABLISHED && ast != TS_CLOSE_WAIT)
		return 0;
	switch (bst) {
	case TS_ESTABLISHED:
	case TS_FIN_WAIT2:
		break;
	case TS_SYN_RECV:
		if (SEQ_GT(s->ack, pb->isn)) /* (EP_SEQ: required below) */
			to = TS_ESTABLISHED;
		break;
	case TS_FIN_WAIT1:
		if ((bf & EP_FIN) && SEQ_GEQ(s->ack, b_fin + 1))
			to = TS_FIN_WAIT2;
		break;
	default:
		return 0;
	}
	if (to && (e->hooks.event || e->durblocks))
		return 0;
	/*
	 * Zeek's machine: the sender established, or partial (picked up
	 * mid-stream); the receiver the same, or closed (it sent a FIN).
	 */
	unsigned az = PEP_FIELD(a2, PEP_Z), bz = PEP_FIELD(b2, PEP_Z);
	if ((az != Z_ESTABLISHED && az != Z_PARTIAL) ||
	    (bz != Z_ESTABLISHED && bz != Z_PARTIAL && bz != Z_CLOSED))
		return 0;
	/*
	 * No FIN from the sender, none from the receiver still held back
	 * (that one is received once acknowledged); both sequence spaces known.
	 */
	if ((af & (EP_FIN | EP_DID_CLOSE)) || (bf & EP_FIN_PENDING) || !(af & bf & EP_SEQ))
		return 0;
	/* No F or R key that follows nxt (see pack_short()). */
	if (ahs & (H_FIN | H_RST))
		return 0;

	uint64_t first = slot_first(c);
	if (s->ts_us - first > UINT32_MAX) /* (a time before first wraps, and fails too) */
		return 0;
	/*
	 * Expiry, as zeek_expired() and rfc_expired() would find it.  Zeek's
	 * idle timeout is the long one: both ends are past the handshake, so
	 * C_ESTABLISHED_ONCE is set.  Its other timers need an end closed
	 * or reset with the other closed, inactive or reset too; the sender
	 * is neither.
	 */
	if (e->cfg.zeek) {
		if ((c->cf & C_CLOSE_COMPLETE) || first + c->zlastd + e->cfg.idle_timeout_us <= s->ts_us)
			return 0;
	} else if (first + c->lastd + e->cfg.idle_timeout_us <= s->ts_us) {
		return 0;
	}
	uint32_t scale = (af & EP_WSCALE) && (bf & EP_WSCALE) ? PEP_FIELD(a2, PEP_WSCALE) : 0;
	if (((uint32_t)s->win << scale) == 0 && bz != Z_CLOSED)
		return 0; /* a zero window: W */
	uint32_t pkts = PEP_FIELD(a1, PEP_PKTS) + 1;
	uint64_t bytes = (uint64_t)pa->bytes + len;
	if (pkts >= 1u << 20 || bytes > UINT32_MAX)
		return 0;

	/* The sequence points at full width, as load() gives them. */
	struct {
		uint32_t nxt, ack, contig;
	} a, b;
	a.nxt = pa->nxt;
	b.nxt = pb->nxt;
	a.ack = (af & EP_ACKED) ? b.nxt - (uint32_t)(int32_t)pa->ackd : 0;
	b.ack = (bf & EP_ACKED) ? a.nxt - (uint32_t)(int32_t)pb->ackd : 0;
	a.contig = contig_from(a.nxt, b.ack, (uint8_t)PEP_FIELD(a2, PEP_CONTIGD));
	b.contig = contig_from(b.nxt, a.ack, (uint8_t)PEP_FIELD(b2, PEP_CONTIGD));

	/* zeek_process, for this segment: the first D or A of this end. */
	uint64_t hw = c->hw;
	unsigned seen = len ? H_DATA : H_ACK;
	if (!(ahs & seen) && fast_letter(&hw, dir, len ? 'D' : 'A') < 0)
		return 0;
	if (!(af & EP_ACKED) || SEQ_GT(s->ack, a.ack))
		a.ack = s->ack;
	uint32_t end = s->seq + len;
	if ((int32_t)(end - a.nxt) > 0)
		a.nxt = end;
	else if (len)
		return 0; /* a retransmission: T */
	uint32_t gaps = PEP_FIELD(pb->cnt, PEP_CNT_G);
	/* Acknowledged data up to here; not past the receiver's FIN. */
	uint32_t upto = (bf & EP_FIN) && SEQ_LT(b_fin, s->ack) ? b_fin : s->ack;
	if (SEQ_GT(upto, b.contig)) {
		/*
		 * The ACK covers data the capture lacks (a short snaplen does
		 * it to every segment): a gap, counted while both ends are
		 * established, unless the capture began inside the handshake.
		 * G is logged at the 1st, 10th and 100th.
		 */
		int b_ok = bz == Z_ESTABLISHED ||
			   (bz == Z_CLOSED && PEP_FIELD(b2, PEP_ZPREV) == Z_ESTABLISHED);
		if (az == Z_ESTABLISHED && b_ok &&
		    (!(c->cf & C_MIDSTREAM) || (uint32_t)(upto - pb->isn) > 2)) {
			gaps++;
			if (gaps > 255)
				return 0;
			if ((gaps == 1 || gaps == 10 || gaps == 100) &&
			    fast_letter(&hw, 1 - dir, 'G') < 0)
				return 0;
		}
		b.contig = upto;
	}
	if (len && s->payload_captured == len && SEQ_LEQ(s->seq, a.contig) &&
	    SEQ_GT(end, a.contig))
		a.contig = end;

	/* store()'s rules for what changed. */
	int32_t ad = (int32_t)(b.nxt - a.ack), bd = (int32_t)(a.nxt - b.ack);
	int acode = contig_encode(a.nxt, a.contig, b.ack), bcode = contig_encode(b.nxt, b.contig, a.ack);
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
		pb->w1 = (pb->w1 & ~PEP_PUT(~0u, PEP_STATE)) | PEP_PUT(to, PEP_STATE);
		pb->sinced = (uint32_t)(s->ts_us - first); /* (fits: checked above) */
		e->st.transitions++;
	}
	return 1;
}


static void input_full(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		       int dir);

#ifndef ENGINE_FASTCHECK
static int fast_taken(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		      int dir)
{
	(void)h;
	return fast_ack(e, slot, dir, s);
}
#else
/* The check build: what fast_ack() did must be what the full path does. */
static int fast_taken(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		      int dir)
{
	struct conn before = *slot, fast;
	struct engine_stats st = e->st, fast_st;

	if (!fast_ack(e, slot, dir, s))
		return 0;
	fast = *slot;
	fast_st = e->st;
	*slot = before;
	e->st = st;
	input_full(e, s, h, slot, dir);
	if (memcmp(slot, &fast, sizeof(fast)) != 0 || memcmp(&fast_st, &e->st, sizeof(st)) != 0) {
		fprintf(stderr, "ENGINE_FASTCHECK: fast path differs at segment %llu\n",
			(unsigned long long)e->st.segments);
		abort();
	}
	e->fast_checked++;
	return 1;
}
#endif

uint32_t engine_hash_config(const struct engine_config *cfg, const struct segment *s)
{
	/* Some networks tag one direction only: --ignore-vlan keys without the tags. */
	int tags = !cfg->ignore_vlan;
	return hash_key(s->family, tags ? s->vlan : 0, tags ? s->vlan_inner : 0, s->saddr, s->sport,
			s->daddr, s->dport);
}

uint32_t engine_hash(const struct engine *e, const struct segment *s)
{
	return engine_hash_config(&e->cfg, s);
}

void engine_prefetch(const struct engine *e, uint32_t h, int stage)
{
	if (!e->nbuckets)
		return;
	const uint32_t *b = &e->buckets[h & (e->nbuckets - 1)];
	if (stage == 0) {
		__builtin_prefetch(b);
		return;
	}
	if (!*b)
		return;
	/* Entries are not line-aligned: the last byte may be a line further. */
	const char *c = (const char *)at(e, *b - 1);
	for (size_t o = 0; o < sizeof(struct conn); o += 64)
		__builtin_prefetch(c + o, 1);
	__builtin_prefetch(c + sizeof(struct conn) - 1, 1);
}

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
	if (!e->nbuckets && grow_buckets(e) < 0)
		return;
	/* One extension in reserve: the store()s below cannot fail. */
	if (!e->xfree && ext_grow(e) < 0)
		return;
	slot = lookup(e, s, h, &dir);
	if (slot && fast_taken(e, s, h, slot, dir))
		return;
	input_full(e, s, h, slot, dir);
}

/* A segment through the machines, on a working copy: slot is its entry, or NULL. */
static void input_full(struct engine *e, const struct segment *s, uint32_t h, struct conn *slot,
		       int dir)
{
	struct wc w, *c = NULL;

	if (slot) {
		c = &w;
		load(e, slot, c);
		fire_timewait(e, c, s->ts_us);
		if (e->cfg.zeek) {
			if (zeek_expired(e, c, s->ts_us)) {
				free_conn(e, c, CLOSE_ZEEK);
				c = NULL;
			} else if (zeek_reuse(c, s)) {
				uint16_t inst = c->instance;
				free_conn(e, c, CLOSE_REUSED);
				e->st.reused++;
				if (new_conn(e, s, h, should_flip(s), (uint16_t)(inst + 1), c) < 0)
					return;
				dir = (c->port[0] == s->sport && memcmp(addr_of(c, 0), s->saddr,
									c->family == AF_INET6 ? 16 : 4) == 0)
					      ? 0
					      : 1;
				start_states(e, c, dir, s);
			}
		} else {
			enum close_reason why;
			if (rfc_expired(e, c, s->ts_us, &why) && !(s->flags & TH_SYN)) {
				/* Left over from a finished or idle instance: drop it first. */
				free_conn(e, c, why);
				c = NULL;
			} else if (rfc_reuse(c, dir, s)) {
				uint16_t inst = c->instance;
				int finished = closedish(c->ep[0].state) && closedish(c->ep[1].state);
				end_instance(e, c, finished ? CAUSE_TUPLE_REUSED : CAUSE_SUPERSEDED,
					     s->ts_us);
				if (new_conn(e, s, h, 0, (uint16_t)(inst + 1), c) < 0)
					return;
				dir = 0;
				start_states(e, c, dir, s);
			}
		}
	}
	if (!c) {
		int flip = should_flip(s);
		c = &w;
		if (new_conn(e, s, h, flip, 1, c) < 0)
			return;
		dir = flip;
		start_states(e, c, dir, s);
	}

	struct ep *a = &c->ep[dir];
	c->last_us = s->ts_us;
	a->pkts++;
	a->bytes += s->payload_len;

	/* A segment with a bad checksum counts, and changes nothing else. */
	if (e->cfg.verify_checksums && s->csum == 0) {
		e->st.bad_csum++;
		scaled_hist(c, dir, &a->cnt_c, 'C');
		store(e, c);
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
	rfc_segment(e, c, dir, s, snd_nxt, snd_known);
	store(e, c);
}

void engine_advance(struct engine *e, uint64_t now_us)
{
	if (now_us > e->now_us)
		e->now_us = now_us;
	/* Asked for explicitly: every timer due by now fires. */
	sweep(e, e->now_us);
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
		block_free(e->blocks[b]);
		if (e->durblocks)
			free(e->durblocks[b]);
	}
	free(e->durblocks);
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
	static const char *const n[CS_MAX] = {"S0",   "S1",     "SF",    "REJ", "S2",  "S3", "RSTO",
					      "RSTR", "RSTOS0", "RSTRH", "SH",  "SHR", "OTH"};
	return cs < CS_MAX ? n[cs] : "?";
}

void engine_conn_states(const struct engine *e, const struct conn *slot, uint8_t state[2],
			enum conn_state *conn_state)
{
	struct wc w;

	load(e, slot, &w);
	for (int s = 0; s < 2; s++)
		state[s] = shown_state(&w.ep[s]);
	*conn_state = zeek_conn_state(&w);
}

void engine_conn_info(const struct engine *e, const struct conn *slot, struct conn_info *o)
{
	struct wc w, *c = &w;

	load(e, slot, c);
	int len = c->family == AF_INET6 ? 16 : 4;

	memset(o, 0, sizeof(*o));
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
		o->unsure[s] = (uint8_t)state_guessed(c, s);
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
	hist_string(c, o->history);
	o->first_us = c->first_us;
	o->last_us = c->last_us;
}
