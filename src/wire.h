/*
 * wire.h - the packet pipeline: capture -> decode -> engine, shared by the
 * commands that watch traffic (watch, list -r, top, explain --conn).  It
 * takes its settings as a plain struct wire_opts; the command line that
 * fills it is cmd_wire.c's.
 */
#ifndef TCPSTATE_WIRE_H
#define TCPSTATE_WIRE_H

#include <signal.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"
#include "engine.h"

/* What to read and how: exactly one of iface and file. */
struct wire_opts {
	const char *iface, *file, *filter;
	const char *user;     /* whom to become after opening a live capture (NULL: nobody) */
	const int *keep_caps; /* capabilities the command still needs as that user */
	int nkeep_caps;
	int snaplen; /* 0: the default (262144) */
	struct engine_config ecfg;
	/*
	 * Live captures: the wall clock in microseconds, which the engine's
	 * timers follow while no packets come (the pipeline reads no clock
	 * itself).  NULL: they move with packets only.  Files never use it.
	 */
	uint64_t (*clock_us)(void);
};

/* No source, default settings (engine_config_defaults). */
void wire_opts_init(struct wire_opts *o);

struct wire;

/* Returns NULL with err; *usage is set when the user's input was at fault. */
struct wire *wire_open(const struct wire_opts *o, const struct engine_hooks *hooks, char *err,
		       size_t errlen, int *usage);
/*
 * Read packets until the file ends, *stop is set, or the first packet at or
 * after stop_at_us (0: never).  Live captures also advance the engine's
 * clock while no packets come.  Returns 0 or -1 with err.  A file that
 * fails part-way (a record cut short) has had every record before the
 * failure read, and its timers run, as at its end.
 */
int wire_run(struct wire *w, volatile sig_atomic_t *stop, uint64_t stop_at_us, char *err,
	     size_t errlen);
/* Read what is ready without blocking more than timeout_ms (live or file). */
int wire_poll(struct wire *w, int timeout_ms, int max_packets, char *err, size_t errlen);

/*
 * Files only: deliver the packets captured before until_us (capture time),
 * holding back the first one after it for the next call; for replaying a
 * file at its own pace.  Returns packets delivered, 0 at the end of the
 * file, -1 with err.
 */
int wire_replay_until(struct wire *w, uint64_t until_us, char *err, size_t errlen);
/* Capture time of the next packet a replay would deliver (0: none known). */
uint64_t wire_next_us(const struct wire *w);

struct engine *wire_engine(struct wire *w);
const struct decode_stats *wire_decode_stats(const struct wire *w);
int wire_capture_stats(struct wire *w, struct capture_stats *st);
int wire_is_live(const struct wire *w);
/* Capture time of the first packet read (0 before any). */
uint64_t wire_first_us(const struct wire *w);
void wire_close(struct wire *w);

/* One line of counters for stderr: packets, TCP, truncated, invalid, drops. */
void wire_report(struct wire *w, char *buf, size_t len);

#endif
