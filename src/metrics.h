/*
 * metrics.h - what `tcpstate export` and `list --prom` publish: the
 * kernel's sockets of one or more network namespaces, counted into
 * Prometheus metric families (doc/metrics.md lists every one), and the
 * wire engine's counters when a capture runs.
 *
 * A struct metrics lives as long as the exporter: it remembers, across
 * collections, when each CLOSE-WAIT socket was first seen (its age) and who
 * owns it (a /proc scan is costly, so owners are looked up only for
 * CLOSE-WAIT sockets not seen before, and at most every rescan_us).
 *
 * One collection:
 *   metrics_begin(now)
 *   for each namespace:  metrics_ns_begin(...), metrics_add() per socket
 *                        (a sockdiag_fn), metrics_ns_end()
 *   metrics_end(procroot, rescan_us)
 * then metrics_render as often as wanted, until the next metrics_begin.
 *
 * No clock and no globals: the caller passes the time in.  Labels are
 * bounded: nothing is keyed by an ephemeral port or by every peer; the
 * per-process, per-destination and per-listener families keep the top_k
 * largest series of each namespace and count what they leave out
 * (tcpstate_truncated_series_total).
 */
#ifndef TCPSTATE_METRICS_H
#define TCPSTATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sockrec.h"

#define METRICS_TOP_K 20 /* --top-k's default */

/* The exposition formats a scraper may ask for (its Accept header). */
enum metrics_format {
	METRICS_TEXT,	     /* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* The Content-Type header for a format. */
const char *metrics_content_type(enum metrics_format f);
/*
 * The format an HTTP Accept header asks for: OpenMetrics when it names
 * application/openmetrics-text, else the text format (NULL: no header).
 */
enum metrics_format metrics_format_accept(const char *accept);

struct metrics_config {
	unsigned top_k; /* series kept per namespace in each bounded family (0: METRICS_TOP_K) */
	int ns_labels;	/* label every namespace's series with netns and container (-A) */
};

/* The wire engine's counters (export -i), read by the caller between collections. */
struct metrics_wire {
	uint64_t packets;	   /* taken from the kernel (wire_live_stats) */
	uint64_t kernel_dropped;   /* the kernel's ring had no room (ps_drop) */
	uint64_t tcpstate_dropped; /* the reader's queue was full */
	uint64_t connections;	   /* in the engine's table now (engine_stats.live) */
};

struct metrics;

struct metrics *metrics_new(const struct metrics_config *cfg);
void metrics_free(struct metrics *m);

/* Start a collection at now_us (wall clock, microseconds). */
void metrics_begin(struct metrics *m, uint64_t now_us);
/*
 * The sockets that follow are namespace ino's.  netns: its /run/netns name
 * or NULL; container: its container or NULL (both used with ns_labels
 * only).  port_lo..port_hi: its ip_local_port_range (port_lo <= 0:
 * unknown); tw_max: its tcp_max_tw_buckets (-1: unknown).  -1 when out of
 * memory.
 */
int metrics_ns_begin(struct metrics *m, uint64_t ino, const char *netns, const char *container,
		     long port_lo, long port_hi, long tw_max);
/* One socket of the current namespace's dump (a sockdiag_fn: arg is the metrics). */
int metrics_add(const struct sock_rec *r, void *arg);
void metrics_ns_end(struct metrics *m);
/*
 * Every namespace is in: resolve owners of CLOSE-WAIT sockets under
 * procroot ("/proc"; NULL: not at all) and count.  -1 when out of memory
 * (the collection is then incomplete and says so in
 * tcpstate_collect_errors_total).
 */
int metrics_end(struct metrics *m, const char *procroot, uint64_t rescan_us);

/*
 * This collection failed or is incomplete (a namespace that could not be
 * entered, a dump that failed): counted once per collection in
 * tcpstate_collect_errors_total, whenever between metrics_begin and the
 * next metrics_begin it is called.  metrics_end counts its own failures.
 */
void metrics_collect_error(struct metrics *m);

/* The wire engine's side (export -i); not called: no wire families. */
void metrics_wire_event(struct metrics *m, const struct engine_event *ev);
void metrics_wire_stats(struct metrics *m, const struct metrics_wire *w);

/*
 * The last collection as text, with collect_seconds as
 * tcpstate_scrape_duration_seconds.  *out is malloc'ed (the caller frees
 * it), *len its length.  0, or -1 when out of memory.
 */
int metrics_render(const struct metrics *m, enum metrics_format f, double collect_seconds,
		   char **out, size_t *len);

#endif
