/*
 * topjson.h - `tcpstate top -b --json`: each frame as one line of JSON
 * (NDJSON), for scripts and tests.  Rows are spelled as `list --json`
 * spells sockets, with the wire's view of both ends and the process.
 * No clock and no I/O but the struct out it is given: the caller passes
 * the frame's time and the capture's figures in (doc/json.md).
 */
#ifndef TCPSTATE_TOPJSON_H
#define TCPSTATE_TOPJSON_H

#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "topmodel.h"

/* What a frame says of the capture. */
struct topjson_wire {
	const char *source;	/* the interface or file read; NULL: no capture */
	const char *off_reason; /* no capture: why (NULL: not known) */
	uint64_t packets;	/* delivered to the decoder since the start */
	uint64_t conns;		/* connections the engine holds now */
	int kernel_counts;	/* a live capture: the kernel's counters follow */
	uint64_t kernel_received, kernel_dropped;
	/*
	 * A live capture's own: the packets its reader dropped (its queue
	 * full), and the rates over the last refresh interval, once one has
	 * passed (rates); capture_cpu_pct < 0: not known.
	 */
	int live;
	uint64_t tcpstate_dropped;
	int rates;
	double packets_per_s, dropped_per_s, capture_cpu_pct;
};

/*
 * One frame, newline-terminated: its time (ts_us, the refresh's), the
 * capture, how many rows the view matched, and rows idx[0..n) of m.
 */
void topjson_frame(struct out *o, const struct topmodel *m, uint64_t ts_us,
		   const struct topjson_wire *w, const uint32_t *idx, size_t n, size_t matching);

/* One row as a JSON object. */
void topjson_row(struct out *o, const struct topmodel *m, const struct top_row *r);

#endif
