/*
 * wire.h - the wire view: capture -> decode -> engine, shared by the
 * commands that watch traffic (watch, list -r, top).  Also the options they
 * share, as opt_def entries and one parser, so every command spells and
 * checks them the same way.
 */
#ifndef TCPSTATE_WIRE_H
#define TCPSTATE_WIRE_H

#include <signal.h>
#include <stdint.h>

#include "capture.h"
#include "cmd.h"
#include "decode.h"
#include "engine.h"

enum {
	WO_IFACE = 100,
	WO_FILE,
	WO_FILTER,
	WO_SNAPLEN,
	WO_VERIFY,
	WO_TIMEWAIT,
	WO_IDLE,
	WO_MAXCONNS,
	WO_ZEEK,
	WO_NOVLAN,
	WO_USER,
};

/* The capture options, for a command's opt_def table. */
#define WIRE_OPT_IFACE                                                                             \
	{WO_IFACE, 'i', "interface", "IFACE", "capture live on IFACE, or any", COMPLETE_IFACE},   \
	{WO_USER, 'Z', "user", "USER",                                                             \
	 "after opening the capture, run as USER (default nobody; root keeps root)",             \
	 COMPLETE_NONE}
#define WIRE_OPT_FILE                                                                              \
	{WO_FILE, 'r', "read", "FILE", "read a pcap or pcapng file (- for stdin)", COMPLETE_FILE}
#define WIRE_OPTS_COMMON                                                                           \
	{WO_FILTER, 'f', "filter", "EXPR", "only packets matching a BPF expression",             \
	 COMPLETE_NONE},                                                                          \
	{WO_SNAPLEN, 0, "snaplen", "BYTES", "bytes to capture per packet (default 262144)",       \
	 COMPLETE_NONE},                                                                          \
	{WO_VERIFY, 0, "verify-checksums", NULL, "ignore segments whose TCP checksum is wrong",   \
	 COMPLETE_NONE},                                                                          \
	{WO_TIMEWAIT, 0, "time-wait", "SECONDS", "how long TIME-WAIT lasts, 2 x MSL (default 60)", \
	 COMPLETE_NONE},                                                                          \
	{WO_IDLE, 0, "idle-timeout", "SECONDS", "forget connections idle this long (default 300)", \
	 COMPLETE_NONE},                                                                          \
	{WO_MAXCONNS, 0, "max-conns", "N", "track at most N connections (default 1000000)",      \
	 COMPLETE_NONE},                                                                          \
	{WO_NOVLAN, 0, "ignore-vlan", NULL, "key connections by 4-tuple only, not VLAN tags",      \
	 COMPLETE_NONE}

struct wire_opts {
	const char *iface, *file, *filter;
	const char *user;      /* -Z: whom to become after opening a live capture */
	const int *keep_caps;  /* capabilities the command still needs as that user */
	int nkeep_caps;
	int snaplen;
	struct engine_config ecfg;
};

void wire_opts_init(struct wire_opts *o);
/*
 * Handle one of the WO_* options.  Returns 0, or EXIT_USAGE after printing
 * what was wrong; returns 1 if id is not a wire option.
 */
int wire_opt(const struct cmd_entry *cmd, struct wire_opts *o, int id, const char *arg);
/* Check the combination (exactly one of -i and -r).  0 or EXIT_USAGE. */
int wire_opts_check(const struct cmd_entry *cmd, const struct wire_opts *o, int need_source);

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
/* Capture time of the first and last packet read (0 before any). */
uint64_t wire_first_us(const struct wire *w);
uint64_t wire_last_us(const struct wire *w);
void wire_close(struct wire *w);

/* One line of counters for stderr: packets, TCP, truncated, invalid, drops. */
void wire_report(struct wire *w, char *buf, size_t len);

#endif
