/*
 * wire.c - glue from libpcap (capture.c) through the decoder to the engine.
 */
#include "wire.h"

#include "privdrop.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIPE 8 /* segments in flight: enough to cover two memory latencies */

struct wire {
	const char *src; /* the file or interface, for messages */
	struct capture *cap;
	struct engine *eng;
	struct decode_stats dst;
	int dlt;
	int verify;
	uint64_t first_us, last_us;
	uint64_t stop_at_us;
	uint64_t advanced_us; /* wall time of the last engine_advance (live) */
	int stopped_at; /* a packet at or after stop_at_us was seen */
	/* replay pacing: one packet read but not yet due */
	uint8_t *held;
	size_t held_cap, held_caplen, held_wirelen;
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
	struct pending {
		struct segment s;
		uint32_t h;
	} pipe[PIPE];
	unsigned phead, plen;
};

void wire_opts_init(struct wire_opts *o)
{
	memset(o, 0, sizeof(*o));
	engine_config_defaults(&o->ecfg);
}

/* Seconds, fractions allowed, within [min, max]. */
static int parse_seconds(const char *s, double min, double max, uint64_t *us)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v != v || v < min || v > max)
		return -1;
	*us = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

int wire_opt(const struct cmd_entry *cmd, struct wire_opts *o, int id, const char *arg)
{
	long v;

	switch (id) {
	case WO_IFACE:
		o->iface = arg;
		return 0;
	case WO_FILE:
		o->file = arg;
		return 0;
	case WO_FILTER:
		o->filter = arg;
		return 0;
	case WO_SNAPLEN:
		if (parse_long(arg, 64, 262144, &v) < 0)
			return cmd_usage_error(cmd, "--snaplen: invalid length \"%s\" (64 to 262144)",
					       arg);
		o->snaplen = (int)v;
		return 0;
	case WO_VERIFY:
		o->ecfg.verify_checksums = 1;
		return 0;
	case WO_TIMEWAIT:
		if (parse_seconds(arg, 0.001, 86400, &o->ecfg.time_wait_us) < 0)
			return cmd_usage_error(cmd, "--time-wait: invalid duration \"%s\" (seconds)",
					       arg);
		return 0;
	case WO_IDLE:
		if (parse_seconds(arg, 1, 30 * 86400, &o->ecfg.idle_timeout_us) < 0)
			return cmd_usage_error(cmd,
					       "--idle-timeout: invalid duration \"%s\" (seconds)",
					       arg);
		return 0;
	case WO_MAXCONNS:
		if (parse_long(arg, 1, 100000000, &v) < 0)
			return cmd_usage_error(cmd, "--max-conns: invalid count \"%s\" (1 to 100000000)",
					       arg);
		o->ecfg.max_conns = (uint32_t)v;
		return 0;
	case WO_ZEEK:
		o->ecfg.zeek = 1;
		return 0;
	case WO_NOVLAN:
		o->ecfg.ignore_vlan = 1;
		return 0;
	case WO_USER:
		o->user = arg;
		return 0;
	}
	return 1;
}

int wire_opts_check(const struct cmd_entry *cmd, const struct wire_opts *o, int need_source)
{
	if (o->iface && o->file)
		return cmd_usage_error(cmd, "-i and -r cannot be used together");
	if (need_source && !o->iface && !o->file)
		return cmd_usage_error(cmd, "a packet source is needed: -i IFACE or -r FILE");
	return 0;
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
	if (o->iface && privdrop(o->user ? o->user : "nobody", o->keep_caps, o->nkeep_caps, err,
				 errlen) < 0) {
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	w->dlt = capture_linktype(w->cap);
	if (!decode_linktype_supported(w->dlt)) {
		snprintf(err, errlen, "%s: link type %s (%d) is not supported",
			 o->file ? o->file : o->iface, capture_linktype_name(w->cap), w->dlt);
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	w->verify = o->ecfg.verify_checksums;
	w->eng = engine_new(&o->ecfg, hooks);
	if (!w->eng) {
		snprintf(err, errlen, "out of memory");
		capture_close(w->cap);
		free(w);
		return NULL;
	}
	return w;
}

static void deliver(struct wire *w, uint64_t ts, const uint8_t *data, size_t caplen,
		    size_t wirelen);
static void take_one(struct wire *w);
static void flush(struct wire *w);

static void on_packet(void *arg, uint64_t ts, const uint8_t *data, size_t caplen, size_t wirelen)
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
		w->held_ts = ts;
		w->have_held = 1;
		capture_break(w->cap);
		return;
	}
	deliver(w, ts, data, caplen, wirelen);
}

static void deliver(struct wire *w, uint64_t ts, const uint8_t *data, size_t caplen,
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
	if (decode_packet(w->dlt, data, caplen, wirelen, ts, w->verify, &seg, &w->dst) != DEC_TCP)
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

static uint64_t wall_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
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
		uint64_t now = wall_us();
		if (now >= w->advanced_us + 1000000) {
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
		deliver(w, w->held_ts, w->held ? w->held : (const uint8_t *)"", w->held_caplen,
			w->held_wirelen);
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

int wire_run(struct wire *w, volatile sig_atomic_t *stop, uint64_t stop_at_us, char *err,
	     size_t errlen)
{
	w->stop_at_us = stop_at_us;
	for (;;) {
		if (stop && *stop)
			return 0;
		int n = wire_poll(w, 200, capture_is_live(w->cap) ? -1 : 10000, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0 && !capture_is_live(w->cap))
			break;
	}
	/* Timers fire up to the last packet (or --at), never past it. */
	engine_advance(w->eng, stop_at_us ? stop_at_us : w->last_us);
	return 0;
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

uint64_t wire_last_us(const struct wire *w)
{
	return w->last_us;
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
	n = snprintf(buf, len,
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
