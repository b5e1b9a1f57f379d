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
#include <time.h> /* CLOCK_MONOTONIC, for the reader thread's timed wait */

#define PIPE 8	  /* segments in flight: enough to cover two memory latencies */
#define BATCH 256 /* segments per hand-over from the reader thread */
#define NBATCH 64 /* hand-overs in flight: 1.5 MiB, to ride out either side's hiccups */
#define SPIN 2000 /* pauses before a side sleeps: some tens of microseconds */

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

struct wire {
	const char *src; /* the file or interface, for messages */
	struct capture *cap;
	struct engine *eng;
	struct engine_config ecfg;
	struct decode_stats dst;
	int verify;
	uint64_t first_us, last_us; /* capture times of the first and last packet delivered */
	uint64_t stop_at_us;
	uint64_t (*clock_us)(void); /* live: wire_opts.clock_us */
	uint64_t advanced_us;	    /* wall time of the last engine_advance (live) */
	int stopped_at;		    /* a packet at or after stop_at_us was seen */
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
	struct reader *rd; /* while wire_run reads a file on its own thread */
};

void wire_opts_init(struct wire_opts *o)
{
	memset(o, 0, sizeof(*o));
	engine_config_defaults(&o->ecfg);
}

struct wire *wire_open(const struct wire_opts *o, const struct engine_hooks *hooks, char *err,
		       size_t errlen, int *usage)
{
	struct capture_opts co = {o->iface, o->file, o->filter, o->snaplen, 1};
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
	w->clock_us = o->clock_us;
	w->ecfg = o->ecfg;
	w->eng = engine_new(&o->ecfg, hooks);
	if (!w->eng) {
		snprintf(err, errlen, "out of memory");
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	return w;
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
	if (decode_packet(dlt, data, caplen, wirelen, ts, w->verify, &seg, &w->dst) != DEC_TCP)
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

	if (capture_is_live(w->cap)) {
		struct pollfd pfd = {capture_fd(w->cap), POLLIN, 0};
		if (pfd.fd >= 0 && poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		n = capture_dispatch(w->cap, max_packets, on_packet, w, err, errlen);
		flush(w);
		if (n == CAPTURE_BROKEN)
			n = 0;
		if (n < 0)
			return source_error(w, err, errlen);
		/* Live timers follow the clock when the wire is quiet. */
		uint64_t now = w->clock_us ? w->clock_us() : 0;
		if (now && now >= w->advanced_us + 1000000) {
			engine_advance(w->eng, now);
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

/* Producer: decode straight into the ring (a copy per packet was a tenth of its time). */
static void reader_push(struct wire *w, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
			size_t wirelen)
{
	struct reader *r = w->rd;
	struct batch *b = r->fill;
	if (decode_packet(dlt, data, caplen, wirelen, ts, w->verify, &b->seg[b->n], &w->dst) !=
	    DEC_TCP)
		return;
	/* Hashed here: the engine's thread has more to do per segment. */
	b->h[b->n] = engine_hash_config(&w->ecfg, &b->seg[b->n]);
	if (++b->n == BATCH)
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

/* Consumer: the engine takes each batch in order, prefetching a few ahead. */
static void feed_batch(struct engine *e, const struct batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		if (i + PIPE < b->n)
			engine_prefetch(e, b->h[i + PIPE], 0);
		if (i + PIPE / 2 < b->n)
			engine_prefetch(e, b->h[i + PIPE / 2], 1);
		engine_input_hashed(e, &b->seg[i], b->h[i]);
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
	/* The wait below is timed on CLOCK_MONOTONIC: a wall-clock step cannot stretch it. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->fill = &r->ring[0];
	w->rd = r;
	/*
	 * Signals are the caller's thread's business (it checks its stop flag):
	 * the reader starts with all of them blocked, so none lands on it even
	 * before it runs.
	 */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int started = pthread_create(&r->th, NULL, reader_main, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
			clock_gettime(CLOCK_MONOTONIC, &t);
			t.tv_nsec += 200 * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			r->waiting++;
			pthread_cond_timedwait(&r->cv, &r->mu, &t);
			r->waiting--;
			continue;
		}
		const struct batch *b = &r->ring[r->head % NBATCH];
		pthread_mutex_unlock(&r->mu);
		feed_batch(w->eng, b);
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

int wire_run(struct wire *w, volatile sig_atomic_t *stop, uint64_t stop_at_us, char *err,
	     size_t errlen)
{
	w->stop_at_us = stop_at_us;
	int rc = want_reader(w) ? run_threaded(w, stop, err, errlen) : 1;
	/* In-line: live capture, or a file the reader thread did not take. */
	while (rc > 0 && !(stop && *stop)) {
		int n = wire_poll(w, 200, capture_is_live(w->cap) ? -1 : 10000, err, errlen);
		if (n < 0)
			rc = -1;
		else if (n == 0 && !capture_is_live(w->cap))
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
	if (rc == 0 || !capture_is_live(w->cap))
		engine_advance(w->eng, stop_at_us ? stop_at_us : w->last_us);
	return rc < 0 ? -1 : 0;
}

struct engine *wire_engine(struct wire *w)
{
	return w->eng;
}

const struct decode_stats *wire_decode_stats(const struct wire *w)
{
	return &w->dst;
}

int wire_capture_stats(struct wire *w, struct capture_stats *st)
{
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
	struct capture_stats cs;
	int n;

	for (int i = 0; i < DL_MAX; i++) {
		trunc += w->dst.truncated[i];
		inval += w->dst.invalid[i];
	}
	n = snprintf(
		buf, len,
		"%llu packets, %llu TCP segments, %llu truncated, %llu invalid, %llu fragments",
		(unsigned long long)w->dst.packets, (unsigned long long)w->dst.tcp,
		(unsigned long long)trunc, (unsigned long long)inval,
		(unsigned long long)w->dst.fragments);
	if (n > 0 && (size_t)n < len && capture_stats(w->cap, &cs) == 0)
		snprintf(buf + n, len - (size_t)n, "; kernel: %llu received, %llu dropped",
			 (unsigned long long)cs.received, (unsigned long long)cs.dropped);
}

void wire_close(struct wire *w)
{
	if (!w)
		return;
	engine_free(w->eng);
	capture_close(w->cap);
	free(w->held);
	free(w);
}
