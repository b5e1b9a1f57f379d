/*
 * wire.c - glue from libpcap (capture.c) through the decoder to the engine.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "wire.h"

#include "privdrop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h> /* CLOCK_MONOTONIC, for the reader threads' timed waits */
#include <unistd.h>

#define PIPE 8	  /* segments in flight: enough to cover two memory latencies */
#define BATCH 256 /* segments per hand-over from the reader thread */
#define NBATCH 64 /* hand-overs in flight: 1.5 MiB, to ride out either side's hiccups */
#define SPIN 2000 /* pauses before a side sleeps: some tens of microseconds */

#define LIVE_BLOCK_MS                                                                              \
	20	     /* the kernel hands over a block at most this long after its first packet */
#define LBATCH 256   /* segments per hand-over */
#define LIVE_KEEP 64 /* free batches kept once a backlog has drained */
#define LIVE_DISPATCH 4096 /* packets per read: the reader looks up between reads */
#define STATS_US 100000	   /* how often the reader reads the kernel's counts */
/* wire_sync(): how long after a request every packet captured before it has been handed over */
#define SYNC_LAG_US ((LIVE_BLOCK_MS + 5) * 1000)
/* The engine's timers, on a quiet wire, run this far behind the clock: a packet may still wait. */
#define LIVE_LAG_US 100000

_Static_assert(WIRE_HEADERS_SNAPLEN ==
		       WIRE_SNAP_LINK + WIRE_SNAP_IP + WIRE_SNAP_TCP + WIRE_SNAP_TUNNEL,
	       "WIRE_HEADERS_SNAPLEN is the sum of its parts");

struct pending {
	struct segment s;
	uint32_t h;
};

/*
 * Reading a file on its own thread (wire_run with -r): that thread reads
 * and decodes, the caller's runs the engine and every hook, in capture
 * order.  Reading and decoding were about half of list -r's time, and on
 * a machine with two cores they now overlap with the engine.  The two
 * share only this ring, under one lock taken once per batch.
 */
struct reader {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Line-aligned: the batch being filled shares no line with one being read. */
	struct batch {
		unsigned n;
		struct segment seg[BATCH];
		uint32_t h[BATCH]; /* seg[i]'s hash (engine_hash) */
	} __attribute__((aligned(64))) ring[NBATCH];
	struct batch *fill; /* the producer's own: ring[tail] */
	/*
	 * Written under mu, by atomic stores: the engine's side, about to
	 * sleep on an empty ring, first spins on tail and done without the
	 * lock (spin_until()).  On a line of their own, apart from what the
	 * producer touches for every packet.
	 */
	unsigned head __attribute__((aligned(64)));
	unsigned tail; /* consumer takes ring[head], producer fills ring[tail] */
	int done;      /* the producer has stopped (end, error, --at or quit) */
	int quit;      /* the consumer asks the producer to stop */
	int waiting;   /* a side sleeps on cv */
	int rc;	       /* producer's result: 0, or -1 with err */
	char err[256];
};

struct live;

struct wire {
	const char *src; /* the file or interface, for messages */
	struct capture *cap;
	struct engine *eng;
	struct engine_config ecfg;
	struct decode_stats dst; /* live: the reader thread's */
	int verify;
	int headers; /* headers only: a cut packet's payload counts as seen (decode_one) */
	uint64_t first_us, last_us; /* capture times of the first and last packet delivered */
	uint64_t stop_at_us;
	uint64_t (*clock_us)(void); /* live: wire_opts.clock_us */
	void (*fed)(void *arg);	    /* live: wire_opts.fed */
	void *fed_arg;
	uint64_t advanced_us; /* wall time of the last engine_advance (live) */
	int stopped_at;	      /* a packet at or after stop_at_us was seen */
	/* replay pacing: one packet read but not yet due */
	uint8_t *held;
	size_t held_cap, held_caplen, held_wirelen;
	int held_dlt;
	uint64_t held_ts;
	int have_held, eof;
	uint64_t delivered;
	uint64_t until_us;
	int pacing;
	/*
	 * Decoded segments wait here for a few packets before the engine takes
	 * them, so that their table entries can be prefetched meanwhile (see
	 * engine_prefetch).  Order is kept; every call that returns to the
	 * caller first empties it (flush), so no caller ever sees the delay.
	 */
	struct pending pipe[PIPE];
	unsigned phead, plen;
	struct reader *rd;	      /* while wire_run reads a file on its own thread */
	struct live *live;	      /* a live capture's reader thread */
	struct decode_stats dst_seen; /* live: dst as of the segments the engine took */
};

void wire_opts_init(struct wire_opts *o)
{
	memset(o, 0, sizeof(*o));
	engine_config_defaults(&o->ecfg);
}

static int live_start(struct wire *w, char *err, size_t errlen);
static int live_take(struct wire *w, int timeout_ms, char *err, size_t errlen);

struct wire *wire_open(const struct wire_opts *o, const struct engine_hooks *hooks, char *err,
		       size_t errlen, int *usage)
{
	/* Live, the engine needs headers only, unless checksums are to be verified. */
	int headers = o->headers_only || (o->iface && !o->snaplen && !o->ecfg.verify_checksums);
	struct capture_opts co = {
		.iface = o->iface,
		.file = o->file,
		.filter = o->filter,
		.snaplen = o->snaplen		 ? o->snaplen
			   : o->iface && headers ? WIRE_HEADERS_SNAPLEN
						 : 0,
		.block_ms = LIVE_BLOCK_MS,
		.buffer_kib = o->buffer_kib,
		.tcp_only = 1,
	};
	struct wire *w = calloc(1, sizeof(*w));

	*usage = 0;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->src = o->file ? o->file : o->iface;
	w->cap = capture_open(&co, err, errlen, usage);
	if (!w->cap) {
		free(w);
		return NULL;
	}
	/* The device is open: root is no longer needed (tcpdump -Z). */
	if (o->iface &&
	    privdrop(o->user ? o->user : "nobody", o->keep_caps, o->nkeep_caps, err, errlen) < 0) {
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	/* A pcapng file's other interfaces may differ: the decoder counts those it cannot read. */
	int dlt = capture_linktype(w->cap);
	if (!decode_linktype_supported(dlt)) {
		snprintf(err, errlen, "%s: link type %s (%d) is not supported",
			 o->file ? o->file : o->iface, capture_linktype_name(w->cap), dlt);
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	w->verify = o->ecfg.verify_checksums;
	w->headers = headers;
	w->clock_us = o->clock_us;
	w->fed = o->fed;
	w->fed_arg = o->fed_arg;
	w->ecfg = o->ecfg;
	w->eng = engine_new(&o->ecfg, hooks);
	if (!w->eng) {
		snprintf(err, errlen, "out of memory");
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	/* From now on the ring is read whatever the caller is doing. */
	if (o->iface && live_start(w, err, errlen) < 0) {
		engine_free(w->eng);
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	return w;
}

/*
 * Decode one packet into seg; 1 if it is a TCP segment.  With headers
 * only, a file's packet is first cut as the live capture would cut it,
 * and payload that only the cut left out counts as captured: the engine
 * then sees what a whole capture shows it (Zeek's content gaps are data
 * the capture missed, not data tcpstate chose not to copy).  Live, the
 * kernel cut the packet, and nothing else did.
 */
static int decode_one(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		      size_t wirelen, struct segment *seg)
{
	size_t whole = w->live ? wirelen : caplen;

	if (w->headers && caplen > WIRE_HEADERS_SNAPLEN)
		caplen = WIRE_HEADERS_SNAPLEN;
	if (decode_packet(dlt, data, caplen, wirelen, ts, w->verify, seg, &w->dst) != DEC_TCP)
		return 0;
	if (w->headers && seg->payload_captured < seg->payload_len) {
		/* The payload was cut: it starts where the captured bytes end, less what is there.
		 */
		size_t got = caplen < wirelen ? caplen : wirelen;
		size_t start = got - seg->payload_captured,
		       have = whole < wirelen ? whole : wirelen;
		size_t seen = have > start ? have - start : 0;
		seg->payload_captured = seen < seg->payload_len ? (uint32_t)seen : seg->payload_len;
	}
	return 1;
}

static void deliver(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		    size_t wirelen);
static void take_one(struct wire *w);
static void flush(struct wire *w);

static void on_packet(void *arg, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		      size_t wirelen)
{
	struct wire *w = arg;

	if (w->pacing && ts >= w->until_us) {
		/* Not due yet: keep a copy for the next call. */
		if (caplen > w->held_cap) {
			uint8_t *nb = realloc(w->held, caplen);
			if (!nb)
				return;
			w->held = nb;
			w->held_cap = caplen;
		}
		if (caplen)
			memcpy(w->held, data, caplen);
		w->held_caplen = caplen;
		w->held_wirelen = wirelen;
		w->held_dlt = dlt;
		w->held_ts = ts;
		w->have_held = 1;
		capture_break(w->cap);
		return;
	}
	deliver(w, ts, dlt, data, caplen, wirelen);
}

static void reader_push(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
			size_t wirelen);

static void deliver(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		    size_t wirelen)
{
	struct segment seg;

	if (w->stopped_at)
		return;
	if (w->stop_at_us && ts >= w->stop_at_us) {
		w->stopped_at = 1;
		return;
	}
	w->delivered++;
	if (!w->first_us)
		w->first_us = ts;
	w->last_us = ts;
	if (w->rd) {
		reader_push(w, ts, dlt, data, caplen, wirelen);
		return;
	}
	if (!decode_one(w, ts, dlt, data, caplen, wirelen, &seg))
		return;
	if (w->plen == PIPE)
		take_one(w);
	struct pending *p = &w->pipe[(w->phead + w->plen++) % PIPE];
	p->s = seg;
	p->h = engine_hash(w->eng, &seg);
	engine_prefetch(w->eng, p->h, 0);
}

/* The oldest waiting segment into the engine; the bucket of a later one is in cache by now. */
static void take_one(struct wire *w)
{
	struct pending *p = &w->pipe[w->phead];
	if (w->plen > PIPE / 2)
		engine_prefetch(w->eng, w->pipe[(w->phead + PIPE / 2) % PIPE].h, 1);
	engine_input_hashed(w->eng, &p->s, p->h);
	w->phead = (w->phead + 1) % PIPE;
	w->plen--;
}

static void flush(struct wire *w)
{
	while (w->plen)
		take_one(w);
}

static int source_error(struct wire *w, char *err, size_t errlen)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", err);
	snprintf(err, errlen, "%s: %s", w->src, msg);
	return -1;
}

int wire_poll(struct wire *w, int timeout_ms, int max_packets, char *err, size_t errlen)
{
	int n;

	if (w->live) {
		n = live_take(w, timeout_ms, err, errlen);
		if (n < 0)
			return -1;
		/*
		 * Live timers follow the clock when the wire is quiet, a little
		 * behind it: a packet may still wait in the kernel's block.
		 */
		uint64_t now = w->clock_us ? w->clock_us() : 0;
		if (now > LIVE_LAG_US && now >= w->advanced_us + 1000000) {
			engine_advance(w->eng, now - LIVE_LAG_US);
			w->advanced_us = now;
		}
		return n;
	}
	n = capture_dispatch(w->cap, max_packets, on_packet, w, err, errlen);
	flush(w);
	if (n == CAPTURE_BROKEN)
		return 1;
	if (n < 0)
		return source_error(w, err, errlen);
	if (n == 0 || w->stopped_at)
		return 0;
	return n;
}

int wire_replay_until(struct wire *w, uint64_t until_us, char *err, size_t errlen)
{
	uint64_t before = w->delivered;

	if (w->have_held) {
		if (w->held_ts >= until_us)
			return 1; /* still waiting; not the end */
		w->have_held = 0;
		/* An empty packet has no buffer; give the decoder a valid pointer. */
		deliver(w, w->held_ts, w->held_dlt, w->held ? w->held : (const uint8_t *)"",
			w->held_caplen, w->held_wirelen);
	}
	w->pacing = 1;
	w->until_us = until_us;
	while (!w->have_held && !w->eof) {
		int n = capture_dispatch(w->cap, 256, on_packet, w, err, errlen);
		if (n == CAPTURE_BROKEN)
			continue; /* a break left over from holding a packet */
		if (n < 0) {
			w->pacing = 0;
			flush(w);
			return source_error(w, err, errlen);
		}
		if (n == 0)
			w->eof = 1;
	}
	w->pacing = 0;
	flush(w);
	if (w->delivered > before || w->have_held)
		return (int)(w->delivered - before) + 1;
	return 0;
}

uint64_t wire_next_us(const struct wire *w)
{
	return w->have_held ? w->held_ts : 0;
}

/* ---- what both reader threads use --------------------------------------- */

/*
 * A lock and a condition whose timed waits run on CLOCK_MONOTONIC: a
 * wall-clock step cannot stretch them.
 */
static void sync_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(mu, NULL);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_timedwait. */
static void deadline(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/*
 * Start a reader thread.  Signals are the caller's thread's business (it
 * checks its stop flag): the reader starts with all of them blocked, so
 * none lands on it even before it runs.  0 or an errno value.
 */
static int start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- the reader thread (wire_run on a file) ------------------------------- */

/*
 * Called with mu held by the engine's side, which would otherwise sleep
 * until *ctr moves from its value now (or *flag is set): spin a while
 * without the lock first.  An empty ring means the reader is at most a
 * batch behind, so the wait is usually shorter than a batch; sleeping on
 * cv and being woken would cost both threads a futex call per batch.
 * Returns 1 if it moved (mu is held again either way).
 */
static int spin_until(struct reader *r, const unsigned *ctr, const int *flag)
{
	unsigned from = *ctr;
	int moved = 0;

	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < SPIN && !moved; i++) {
		moved = __atomic_load_n(ctr, __ATOMIC_ACQUIRE) != from ||
			__atomic_load_n(flag, __ATOMIC_ACQUIRE);
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	pthread_mutex_lock(&r->mu);
	return moved;
}

/*
 * Producer: hand the full batch over, and wait while the ring is full.
 * Reading is cheaper than the engine's work, so a full ring is the usual
 * case: the reader sleeps until the engine has drained half of it (see
 * run_threaded), rather than spinning on its other CPU for every batch
 * freed.
 */
static void reader_publish(struct wire *w)
{
	struct reader *r = w->rd;

	pthread_mutex_lock(&r->mu);
	__atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
	if (r->waiting)
		pthread_cond_broadcast(&r->cv);
	while (r->tail - r->head == NBATCH && !r->quit) {
		r->waiting++;
		pthread_cond_wait(&r->cv, &r->mu);
		r->waiting--;
	}
	int quit = r->quit;
	pthread_mutex_unlock(&r->mu);
	/* Only this thread moves tail; ring[tail] is free once head passed it. */
	r->fill = &r->ring[r->tail % NBATCH];
	r->fill->n = 0;
	if (quit)
		capture_break(w->cap);
}

/* A reader thread's decode, and the hash: the engine's thread has more to do per segment. */
static int decode_hashed(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
			 size_t wirelen, struct segment *seg, uint32_t *h)
{
	if (!decode_one(w, ts, dlt, data, caplen, wirelen, seg))
		return 0;
	*h = engine_hash_config(&w->ecfg, seg);
	return 1;
}

/* Producer: decode straight into the ring (a copy per packet was a tenth of its time). */
static void reader_push(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
			size_t wirelen)
{
	struct reader *r = w->rd;
	struct batch *b = r->fill;
	if (decode_hashed(w, ts, dlt, data, caplen, wirelen, &b->seg[b->n], &b->h[b->n]) &&
	    ++b->n == BATCH)
		reader_publish(w);
}

static void *reader_main(void *arg)
{
	struct wire *w = arg;
	struct reader *r = w->rd;
	int rc = 0;

	for (;;) {
		int n = capture_dispatch(w->cap, 4096, on_packet, w, r->err, sizeof(r->err));
		if (n < 0 && n != CAPTURE_BROKEN) {
			rc = -1;
			break;
		}
		if (n == 0 || w->stopped_at)
			break;
		pthread_mutex_lock(&r->mu);
		int quit = r->quit;
		pthread_mutex_unlock(&r->mu);
		if (quit)
			break;
	}
	pthread_mutex_lock(&r->mu);
	if (r->fill->n) /* the last, partial batch */
		__atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	r->rc = rc;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Consumer: the engine takes n segments (and their hashes) in order, prefetching a few ahead. */
static void feed(struct engine *e, const struct segment *seg, const uint32_t *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i + PIPE < n)
			engine_prefetch(e, h[i + PIPE], 0);
		if (i + PIPE / 2 < n)
			engine_prefetch(e, h[i + PIPE / 2], 1);
		engine_input_hashed(e, &seg[i], h[i]);
	}
}

/* Worth a thread: a regular file (never stalls, so a quit is prompt) and a second CPU. */
static int want_reader(struct wire *w)
{
	cpu_set_t set;

	if (capture_is_live(w->cap) || !capture_is_regular_file(w->cap))
		return 0;
	if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) < 2)
		return 0;
	return 1;
}

/*
 * Read the rest of a file with a reader thread.  Returns 0 at the end (or
 * on stop), -1 on a read error, and 1 if no thread could be started (the
 * caller reads it the ordinary way).
 */
static int run_threaded(struct wire *w, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));

	if (!r)
		return 1;
	sync_init(&r->mu, &r->cv);
	r->fill = &r->ring[0];
	w->rd = r;
	int started = start_thread(&r->th, reader_main, w) == 0;
	if (!started) {
		w->rd = NULL;
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return 1;
	}
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (stop && *stop) {
			__atomic_store_n(&r->quit, 1, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&r->cv);
			break;
		}
		if (r->head == r->tail) {
			if (r->done)
				break;
			if (spin_until(r, &r->tail, &r->done))
				continue;
			/* Woken by the producer, or every 200 ms to look at *stop. */
			struct timespec t;
			deadline(&t, 200);
			r->waiting++;
			pthread_cond_timedwait(&r->cv, &r->mu, &t);
			r->waiting--;
			continue;
		}
		const struct batch *b = &r->ring[r->head % NBATCH];
		pthread_mutex_unlock(&r->mu);
		feed(w->eng, b->seg, b->h, b->n);
		pthread_mutex_lock(&r->mu);
		__atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
		/* The reader waits for a full ring to drain by half. */
		if (r->waiting && r->tail - r->head <= NBATCH / 2)
			pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	w->rd = NULL;
	int rc = r->rc;
	if (rc < 0) {
		snprintf(err, errlen, "%s", r->err);
		source_error(w, err, errlen);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	return rc;
}

/* ---- the live reader (a capture on an interface) ---------------------------- */

/*
 * A live capture is read on a thread of its own, from wire_open() to
 * wire_stop(): it polls the ring, decodes, hashes, and queues segments in
 * batches, and never waits for the engine's side, which may be dumping a
 * socket table, drawing a frame or blocked on a slow terminal.  The queue
 * grows while that side is away, a batch at a time from a free list, up to
 * WIRE_QUEUE_MAX segments; past that the reader drops packets itself and
 * counts them, a loss like the kernel's.  Each wake-up publishes what it
 * read, so a segment waits at most the kernel's block time (LIVE_BLOCK_MS)
 * and one hand-over.  doc/capture.md has the numbers.
 */
struct lbatch {
	struct lbatch *next;
	unsigned n;
	/* Before these segments: the capture lost packets captured up to this time (0: none). */
	uint64_t lost_to;
	uint32_t h[LBATCH];
	struct segment seg[LBATCH];
};

/* What the engine's side reads of the reader's counts, as of its last publish. */
struct live_counts {
	uint64_t taken, dropped;
	struct capture_stats cs;
	struct decode_stats dst;
};

struct live {
	pthread_t th;
	int wake; /* eventfd: the reader's poll wakes on it to stop */
	int quit; /* atomic: the engine's side asks the reader to stop */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the engine's side waits here for a batch */
	/* Under mu. */
	struct lbatch *head, *tail; /* published, oldest first */
	struct lbatch *free;
	unsigned nfree;	 /* also read without mu by the reader, once its queue is full */
	unsigned nbatch; /* allocated, wherever they are */
	uint64_t queued, queue_peak;
	int waiting, done, rc;
	uint64_t lost_to_end; /* lost after the last batch (when done) */
	unsigned sync_req;    /* the engine's side asks for the counts now (wire_sync) */
	unsigned sync_done;   /* the last request the reader answered */
	struct live_counts pub;
	char err[256];
	/* The reader's own. */
	struct lbatch *fill; /* NULL: the queue is full */
	struct live_counts own;
	uint64_t lost_to;    /* for the next batch */
	uint64_t kdrop;	     /* the kernel's drop count at its last read */
	uint64_t next_stats; /* when to read them next (clock_us) */
	uint64_t last_ts;
	unsigned sync_seen; /* the last sync_req answered */
	/* Set once. */
	int have_clock;
	clockid_t clock;
};

/* Reader: a batch from the free list, or a new one under the cap; NULL if none. */
static struct lbatch *live_batch(struct live *L)
{
	struct lbatch *b = NULL;
	int grow = 0;

	pthread_mutex_lock(&L->mu);
	if (L->free) {
		b = L->free;
		L->free = b->next;
		__atomic_store_n(&L->nfree, L->nfree - 1, __ATOMIC_RELAXED);
	} else if (L->nbatch < WIRE_QUEUE_MAX / LBATCH) {
		L->nbatch++;
		grow = 1;
	}
	pthread_mutex_unlock(&L->mu);
	if (grow && !(b = malloc(sizeof(*b)))) {
		pthread_mutex_lock(&L->mu);
		L->nbatch--;
		pthread_mutex_unlock(&L->mu);
	}
	if (b) {
		b->n = 0;
		b->lost_to = 0;
	}
	return b;
}

/*
 * Reader: queue the batch being filled, if it holds anything (segments, or
 * a loss to note before them), and take another; publish the counts.
 */
static void live_publish(struct wire *w)
{
	struct live *L = w->live;
	/* After a full queue, a quiet wire: a loss still goes out with an empty batch. */
	if (!L->fill && L->lost_to && __atomic_load_n(&L->nfree, __ATOMIC_RELAXED))
		L->fill = live_batch(L);
	struct lbatch *b = L->fill;
	int send = b && (b->n || L->lost_to);

	if (send) {
		b->lost_to = L->lost_to;
		L->lost_to = 0;
	}
	L->own.dst = w->dst;
	pthread_mutex_lock(&L->mu);
	if (send) {
		b->next = NULL;
		if (L->tail)
			L->tail->next = b;
		else
			L->head = b;
		L->tail = b;
		L->queued += b->n;
		if (L->queued > L->queue_peak)
			L->queue_peak = L->queued;
	}
	L->pub = L->own;
	if (send && L->waiting)
		pthread_cond_signal(&L->cv);
	pthread_mutex_unlock(&L->mu);
	if (send)
		L->fill = live_batch(L);
}

/* Reader: one packet from the ring. */
static void live_packet(void *arg, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
			size_t wirelen)
{
	struct wire *w = arg;
	struct live *L = w->live;

	L->own.taken++;
	L->last_ts = ts;
	if (!L->fill && __atomic_load_n(&L->nfree, __ATOMIC_RELAXED))
		L->fill = live_batch(L);
	if (!L->fill) {
		/* The queue is full: lost, as if the kernel had dropped it. */
		L->own.dropped++;
		if (ts > L->lost_to)
			L->lost_to = ts;
		return;
	}
	struct lbatch *b = L->fill;
	if (decode_hashed(w, ts, dlt, data, caplen, wirelen, &b->seg[b->n], &b->h[b->n]) &&
	    ++b->n == LBATCH)
		live_publish(w);
}

/*
 * Reader: the kernel's counts, every STATS_US (or at every wake-up without
 * a clock).  Packets it dropped were captured before now: the horizon of
 * the loss the engine notes (engine_note_drops).
 */
static void live_kernel_stats(struct wire *w, int force)
{
	struct live *L = w->live;
	uint64_t now = w->clock_us ? w->clock_us() : 0;

	/* A clock stepped back by more than the interval reads at once. */
	if (!force && now && now < L->next_stats && now + STATS_US >= L->next_stats)
		return;
	L->next_stats = now + STATS_US;
	if (capture_stats(w->cap, &L->own.cs) < 0)
		return;
	if (L->own.cs.dropped > L->kdrop) {
		uint64_t horizon = now ? now : L->last_ts;
		L->kdrop = L->own.cs.dropped;
		if (horizon > L->lost_to)
			L->lost_to = horizon;
	}
}

/*
 * Reader: a wire_sync() request answered, once the counts it asked for
 * are read and what came before them (a loss to note included) is queued.
 */
static void live_answer(struct live *L, unsigned req)
{
	L->sync_seen = req;
	pthread_mutex_lock(&L->mu);
	L->sync_done = req;
	pthread_cond_broadcast(&L->cv);
	pthread_mutex_unlock(&L->mu);
}

static void *live_main(void *arg)
{
	struct wire *w = arg;
	struct live *L = w->live;
	struct pollfd pfd[2] = {{capture_fd(w->cap), POLLIN, 0}, {L->wake, POLLIN, 0}};
	char err[256] = "";
	int rc = 0, more = 0;

	uint64_t sync_at = 0; /* when the reader saw a wire_sync() request it has not answered */

	while (!__atomic_load_n(&L->quit, __ATOMIC_ACQUIRE)) {
		unsigned req = __atomic_load_n(&L->sync_req, __ATOMIC_ACQUIRE);
		uint64_t now = w->clock_us ? w->clock_us() : 0;
		if (req != L->sync_seen && !sync_at)
			sync_at = now ? now : 1;
		/* A read that stopped at LIVE_DISPATCH goes on at once. */
		int ms = STATS_US / 1000;
		if (sync_at && now && sync_at + SYNC_LAG_US > now)
			ms = (int)((sync_at + SYNC_LAG_US - now) / 1000) + 1;
		pfd[1].revents = 0;
		if (!more && poll(pfd, 2, ms) < 0 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		int n = capture_dispatch(w->cap, LIVE_DISPATCH, live_packet, w, err, sizeof(err));
		if (n < 0 && n != CAPTURE_BROKEN) {
			rc = -1;
			break;
		}
		more = n == LIVE_DISPATCH;
		if (pfd[1].revents & POLLIN) {
			uint64_t v;
			if (read(L->wake, &v, sizeof(v)) < 0) {
				/* EAGAIN: another read took it; nothing is lost */
			}
		}
		/*
		 * A request is answered once every packet captured before it
		 * is read: the kernel hands a block over at most LIVE_BLOCK_MS
		 * after its first packet, so SYNC_LAG_US after the request.
		 */
		now = w->clock_us ? w->clock_us() : 0;
		int answer = sync_at && !more && (!now || now >= sync_at + SYNC_LAG_US);
		live_kernel_stats(w, answer);
		live_publish(w);
		if (answer) {
			live_answer(L, req);
			sync_at = 0;
		}
	}
	live_kernel_stats(w, 1);
	live_publish(w);
	pthread_mutex_lock(&L->mu);
	L->lost_to_end = L->lost_to; /* only if the queue was full at the end */
	L->done = 1;
	L->rc = rc;
	snprintf(L->err, sizeof(L->err), "%s", err);
	pthread_cond_broadcast(&L->cv);
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

static void live_free_list(struct lbatch *b)
{
	while (b) {
		struct lbatch *next = b->next;
		free(b);
		b = next;
	}
}

/* Undo live_start(); the thread, if it ran, has been joined. */
static void live_free(struct wire *w)
{
	struct live *L = w->live;

	live_free_list(L->head);
	live_free_list(L->free);
	free(L->fill);
	if (L->wake >= 0)
		close(L->wake);
	pthread_cond_destroy(&L->cv);
	pthread_mutex_destroy(&L->mu);
	free(L);
	w->live = NULL;
}

static int live_start(struct wire *w, char *err, size_t errlen)
{
	struct live *L = calloc(1, sizeof(*L));

	if (!L) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sync_init(&L->mu, &L->cv);
	w->live = L;
	L->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	L->fill = live_batch(L);
	if (L->wake < 0 || !L->fill) {
		snprintf(err, errlen, "%s", L->wake < 0 ? strerror(errno) : "out of memory");
		live_free(w);
		return -1;
	}
	int rc = start_thread(&L->th, live_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the capture thread: %s", strerror(rc));
		live_free(w);
		return -1;
	}
	L->have_clock = pthread_getcpuclockid(L->th, &L->clock) == 0;
	return 0;
}

void wire_stop(struct wire *w)
{
	struct live *L = w->live;
	uint64_t one = 1;

	if (!L || __atomic_load_n(&L->quit, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&L->quit, 1, __ATOMIC_RELEASE);
	if (write(L->wake, &one, sizeof(one)) < 0) {
		/* An eventfd write fails only at its maximum: the reader is awake anyway. */
	}
	pthread_join(L->th, NULL);
	/* Its CPU clock went with it. */
	L->have_clock = 0;
}

/* Engine's side: a batch is done with; keep it for the reader, or free it if enough are kept. */
static void live_return(struct live *L, struct lbatch *b)
{
	pthread_mutex_lock(&L->mu);
	L->queued -= b->n;
	if (L->nfree < LIVE_KEEP) {
		b->next = L->free;
		L->free = b;
		__atomic_store_n(&L->nfree, L->nfree + 1, __ATOMIC_RELAXED);
		b = NULL;
	} else {
		L->nbatch--;
	}
	pthread_mutex_unlock(&L->mu);
	free(b);
}

/* Engine's side: until a batch is queued, the reader stops, or timeout_ms pass.  mu held. */
static void live_wait(struct live *L, int timeout_ms)
{
	struct timespec t;

	deadline(&t, timeout_ms);
	L->waiting = 1;
	while (!L->head && !L->done)
		if (pthread_cond_timedwait(&L->cv, &L->mu, &t) == ETIMEDOUT)
			break;
	L->waiting = 0;
}

/*
 * Engine's side: every batch queued so far into the engine, with the
 * losses noted where they happened.  Returns the segments fed, or -1 with
 * err once the reader failed and its queue is empty.
 */
static int live_take(struct wire *w, int timeout_ms, char *err, size_t errlen)
{
	struct live *L = w->live;
	int fed = 0;

	pthread_mutex_lock(&L->mu);
	if (timeout_ms > 0 && !L->head && !L->done)
		live_wait(L, timeout_ms);
	struct lbatch *b = L->head;
	L->head = L->tail = NULL;
	w->dst_seen = L->pub.dst;
	/* The reader's error, once everything it read before it is in. */
	int fail = L->done && L->rc < 0 && !b;
	uint64_t lost_end = L->done && !b ? L->lost_to_end : 0;
	L->lost_to_end = lost_end ? 0 : L->lost_to_end;
	if (fail)
		snprintf(err, errlen, "%s", L->err);
	pthread_mutex_unlock(&L->mu);
	while (b) {
		struct lbatch *next = b->next;
		if (b->lost_to)
			engine_note_drops(w->eng, b->lost_to);
		if (b->n) {
			if (!w->first_us)
				w->first_us = b->seg[0].ts_us;
			w->last_us = b->seg[b->n - 1].ts_us;
			feed(w->eng, b->seg, b->h, b->n);
			fed += (int)b->n;
		}
		live_return(L, b);
		b = next;
	}
	if (lost_end)
		engine_note_drops(w->eng, lost_end);
	if (fail)
		return source_error(w, err, errlen);
	return fed;
}

int wire_sync(struct wire *w, int timeout_ms, char *err, size_t errlen)
{
	struct live *L = w->live;
	uint64_t one = 1;
	struct timespec t;

	if (!L)
		return 0;
	unsigned req = __atomic_add_fetch(&L->sync_req, 1, __ATOMIC_RELEASE);
	if (write(L->wake, &one, sizeof(one)) < 0) {
		/* An eventfd write fails only at its maximum: the reader is awake anyway. */
	}
	deadline(&t, timeout_ms);
	pthread_mutex_lock(&L->mu);
	while ((int)(L->sync_done - req) < 0 && !L->done)
		if (pthread_cond_timedwait(&L->cv, &L->mu, &t) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&L->mu);
	return wire_poll(w, 0, -1, err, errlen);
}

int wire_live_stats(struct wire *w, struct wire_live_stats *st)
{
	struct live *L = w->live;

	memset(st, 0, sizeof(*st));
	if (!L)
		return -1;
	pthread_mutex_lock(&L->mu);
	st->packets = L->pub.taken;
	st->tcpstate_dropped = L->pub.dropped;
	st->kernel_valid = L->pub.cs.valid;
	st->kernel_received = L->pub.cs.received;
	st->kernel_dropped = L->pub.cs.dropped;
	st->queued = L->queued;
	st->queue_peak = L->queue_peak;
	pthread_mutex_unlock(&L->mu);
	st->have_cpu_clock = L->have_clock;
	st->cpu_clock = L->clock;
	return 0;
}

/* wire_poll() live, and the caller's word after segments went in. */
static int poll_live(struct wire *w, int timeout_ms, char *err, size_t errlen)
{
	int n = wire_poll(w, timeout_ms, -1, err, errlen);

	if (n > 0 && w->fed)
		w->fed(w->fed_arg);
	return n < 0 ? -1 : 0;
}

/* wire_run() live: until *stop, or the capture fails; then what was queued goes in. */
static int run_live(struct wire *w, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	int rc = 0;

	while (!rc && !(stop && *stop))
		rc = poll_live(w, 200, err, errlen);
	wire_stop(w);
	return rc ? rc : poll_live(w, 0, err, errlen);
}

int wire_run(struct wire *w, volatile sig_atomic_t *stop, uint64_t stop_at_us, char *err,
	     size_t errlen)
{
	if (w->live)
		return run_live(w, stop, err, errlen);
	w->stop_at_us = stop_at_us;
	int rc = want_reader(w) ? run_threaded(w, stop, err, errlen) : 1;
	/* In-line: a file the reader thread did not take. */
	while (rc > 0 && !(stop && *stop)) {
		int n = wire_poll(w, 200, 10000, err, errlen);
		if (n < 0)
			rc = -1;
		else if (n == 0)
			rc = 0;
	}
	if (stop && *stop)
		return rc < 0 ? -1 : 0;
	/*
	 * Timers fire up to the last packet (or --at), never past it.  A file
	 * that ends in a broken record (a killed tcpdump, a full disk) ends
	 * there like any other: the whole records before it stand, as they
	 * do for tcpdump, and the caller reports the error after them.
	 */
	engine_advance(w->eng, stop_at_us ? stop_at_us : w->last_us);
	return rc < 0 ? -1 : 0;
}

struct engine *wire_engine(struct wire *w)
{
	return w->eng;
}

const struct decode_stats *wire_decode_stats(const struct wire *w)
{
	return w->live ? &w->dst_seen : &w->dst;
}

int wire_capture_stats(struct wire *w, struct capture_stats *st)
{
	/* The reader thread owns the handle: its last read. */
	if (w->live) {
		pthread_mutex_lock(&w->live->mu);
		*st = w->live->pub.cs;
		pthread_mutex_unlock(&w->live->mu);
		return st->valid ? 0 : -1;
	}
	return capture_stats(w->cap, st);
}

int wire_is_live(const struct wire *w)
{
	return capture_is_live(w->cap);
}

uint64_t wire_first_us(const struct wire *w)
{
	return w->first_us;
}

void wire_report(struct wire *w, char *buf, size_t len)
{
	uint64_t trunc = 0, inval = 0;
	struct wire_live_stats ls;
	struct capture_stats cs;
	int n;

	/* Live: the counts are final once the reader has stopped; it decoded all it took. */
	wire_stop(w);
	const struct decode_stats *d = w->live ? &w->live->pub.dst : &w->dst;
	for (int i = 0; i < DL_MAX; i++) {
		trunc += d->truncated[i];
		inval += d->invalid[i];
	}
	n = snprintf(
		buf, len,
		"%llu packets, %llu TCP segments, %llu truncated, %llu invalid, %llu fragments",
		(unsigned long long)d->packets, (unsigned long long)d->tcp,
		(unsigned long long)trunc, (unsigned long long)inval,
		(unsigned long long)d->fragments);
	if (n > 0 && (size_t)n < len && wire_capture_stats(w, &cs) == 0)
		n += snprintf(buf + n, len - (size_t)n, "; kernel: %llu received, %llu dropped",
			      (unsigned long long)cs.received, (unsigned long long)cs.dropped);
	if (n > 0 && (size_t)n < len && wire_live_stats(w, &ls) == 0) {
		n += snprintf(buf + n, len - (size_t)n, "; tcpstate: %llu dropped (queue full)",
			      (unsigned long long)ls.tcpstate_dropped);
		if (ls.queued && n > 0 && (size_t)n < len)
			snprintf(buf + n, len - (size_t)n, ", %llu segments not read",
				 (unsigned long long)ls.queued);
	}
}

void wire_close(struct wire *w)
{
	if (!w)
		return;
	if (w->live) {
		wire_stop(w);
		live_free(w);
	}
	engine_free(w->eng);
	capture_close(w->cap);
	free(w->held);
	free(w);
}
