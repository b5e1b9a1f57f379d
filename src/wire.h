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
#include <time.h> /* clockid_t */

#include "capture.h"
#include "decode.h"
#include "engine.h"

/*
 * A live capture's snapshot length when the engine alone reads it: the
 * largest headers decode.c reads before a TCP segment's payload.  The link:
 * Ethernet (14), two VLAN tags in the packet (8), PPPoE (8); SLL (16) and
 * SLL2 (20) are shorter.  IP: IPv6 (40) with 128 bytes of extension headers
 * (hop-by-hop, routing, fragment, destination options, AH: what decode.c
 * walks; IPv4 with options is at most 60).  TCP with options (60).  And
 * room for a tunnel's outer headers, which issue 20 will decode: an outer
 * Ethernet frame with a tag, IPv6, UDP and VXLAN or Geneve (78), or GRE
 * (4 to 16) in place of UDP and VXLAN, before the inner frame.  A larger
 * encapsulation adds its outer headers here.  See doc/capture.md.
 */
#define WIRE_SNAP_LINK 30
#define WIRE_SNAP_IP (40 + 128)
#define WIRE_SNAP_TCP 60
#define WIRE_SNAP_TUNNEL 96
#define WIRE_HEADERS_SNAPLEN 354 /* their sum (wire.c checks): --help quotes it */

/* What to read and how: exactly one of iface and file. */
struct wire_opts {
	const char *iface, *file, *filter;
	const char *user;     /* whom to become after opening a live capture (NULL: nobody) */
	const int *keep_caps; /* capabilities the command still needs as that user */
	int nkeep_caps;
	/*
	 * 0: a live capture takes headers only (WIRE_HEADERS_SNAPLEN), or
	 * whole packets (262144) when checksums are verified.
	 */
	int snaplen;
	int buffer_kib; /* live: the kernel's ring, KiB (0: CAPTURE_BUFFER_KIB) */
	/*
	 * A file read as the live default captures it: each packet cut to
	 * WIRE_HEADERS_SNAPLEN, and payload the cut left out counted as seen,
	 * as a live capture's is (its cut is tcpstate's own; nothing is lost).
	 * Engine states must not depend on it: tests compare the two.
	 */
	int headers_only;
	struct engine_config ecfg;
	/*
	 * Live captures: the wall clock in microseconds, which the engine's
	 * timers follow while no packets come (the pipeline reads no clock
	 * itself).  NULL: they move with packets only.  Files never use it.
	 */
	uint64_t (*clock_us)(void);
	/*
	 * Live, in wire_run(): called on the engine's thread after each
	 * hand-over of segments it took, so that a command writes the events
	 * of a batch at once (watch: one write, not one per event).  May be
	 * NULL.
	 */
	void (*fed)(void *arg);
	void *fed_arg;
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
/*
 * Read what is ready without blocking more than timeout_ms (live or file).
 * A live capture is read on a thread of its own from wire_open() on: this
 * feeds the engine every segment it queued since (max_packets does not
 * apply), and advances the engine's timers on a quiet wire.  Returns the
 * segments (live) or packets (file) taken, or -1 with err.
 */
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

/*
 * A live capture: have the reader read the kernel's drop count now, and
 * feed the engine everything queued before that read, so that a loss up to
 * now is noted (engine_note_drops) before a view reads the engine.  Waits
 * up to timeout_ms for the reader.  Otherwise as wire_poll(w, 0, -1, ...).
 */
int wire_sync(struct wire *w, int timeout_ms, char *err, size_t errlen);
struct engine *wire_engine(struct wire *w);
/* Live: as of the segments the engine has taken. */
const struct decode_stats *wire_decode_stats(const struct wire *w);
/* Live: the kernel's counts as the reader last read them (every 100 ms). */
int wire_capture_stats(struct wire *w, struct capture_stats *st);
int wire_is_live(const struct wire *w);

/* A live capture's figures, for views. */
struct wire_live_stats {
	uint64_t packets;	   /* taken from the kernel */
	uint64_t kernel_received;  /* passed the kernel's filter (libpcap's ps_recv) */
	uint64_t kernel_dropped;   /* no room in the kernel's ring (ps_drop) */
	uint64_t tcpstate_dropped; /* taken, and dropped: the reader's queue was full */
	uint64_t queued;	   /* segments waiting for the engine now */
	uint64_t queue_peak;	   /* the most that ever waited */
	int kernel_valid;	   /* the kernel's counts have been read */
	int have_cpu_clock;
	clockid_t cpu_clock; /* the reader thread's CPU time (clock_gettime) */
};
/* 0, or -1 if w is not live. */
int wire_live_stats(struct wire *w, struct wire_live_stats *st);
/* The queue's cap, in segments (see doc/capture.md). */
#define WIRE_QUEUE_MAX (1u << 20)
/*
 * Live: stop reading (the reader thread ends; what it queued and the
 * engine has not taken is left).  The counts are then final.  Files: no-op.
 */
void wire_stop(struct wire *w);
/* Capture time of the first packet read (0 before any). */
uint64_t wire_first_us(const struct wire *w);
void wire_close(struct wire *w);

/* One line of counters for stderr: packets, TCP, truncated, invalid, drops (stops a live capture).
 */
void wire_report(struct wire *w, char *buf, size_t len);

#endif
