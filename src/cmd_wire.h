/*
 * cmd_wire.h - the capture options on the command line, shared by the
 * commands that read packets (list -r, watch, top, explain --conn): their
 * opt_def entries and one parser into the pipeline's plain struct
 * wire_opts (wire.h), so every command spells and checks them the same
 * way.  The pipeline itself knows no command line.
 */
#ifndef TCPSTATE_CMD_WIRE_H
#define TCPSTATE_CMD_WIRE_H

#include "cmd.h"
#include "wire.h"

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
	WO_BUFFER,
};

/* A number's macro in a help text. */
#define WIRE_STR(x) WIRE_STR_(x)
#define WIRE_STR_(x) #x

/* The capture options, for a command's opt_def table. */
#define WIRE_OPT_IFACE                                                                             \
	{WO_IFACE, 'i', "interface", "IFACE", "capture live on IFACE, or any", COMPLETE_IFACE},    \
		{WO_USER,                                                                          \
		 'Z',                                                                              \
		 "user",                                                                           \
		 "USER",                                                                           \
		 "after opening the capture, run as USER (default nobody; root keeps root)",       \
		 COMPLETE_NONE},                                                                   \
	{                                                                                          \
		WO_BUFFER, 'B', "buffer-size", "KIB",                                              \
			"the kernel's capture ring, in KiB, as tcpdump -B (default " WIRE_STR(     \
				CAPTURE_BUFFER_KIB) ")",                                           \
			COMPLETE_NONE                                                              \
	}
#define WIRE_OPT_FILE                                                                              \
	{                                                                                          \
		WO_FILE, 'r', "read", "FILE", "read a pcap or pcapng file (- for stdin)",          \
			COMPLETE_FILE                                                              \
	}
#define WIRE_OPTS_COMMON                                                                             \
	{                                                                                            \
		WO_FILTER,    'f', "filter", "EXPR", "only packets matching a BPF expression",       \
		COMPLETE_NONE},                                                                      \
		{WO_SNAPLEN,                                                                         \
		 0,                                                                                  \
		 "snaplen",                                                                          \
		 "BYTES",                                                                            \
		 "bytes to capture per packet, live (default: headers, " WIRE_STR(                   \
			 WIRE_HEADERS_SNAPLEN) ")",                                                  \
		 COMPLETE_NONE},                                                                     \
		{WO_VERIFY,                                                                          \
		 0,                                                                                  \
		 "verify-checksums",                                                                 \
		 NULL,                                                                               \
		 "ignore segments whose TCP checksum is wrong",                                      \
		 COMPLETE_NONE},                                                                     \
		{WO_TIMEWAIT,                                                                        \
		 0,                                                                                  \
		 "time-wait",                                                                        \
		 "SECONDS",                                                                          \
		 "how long TIME-WAIT lasts, 2 x MSL (default 60)",                                   \
		 COMPLETE_NONE},                                                                     \
		{WO_IDLE,                                                                            \
		 0,                                                                                  \
		 "idle-timeout",                                                                     \
		 "SECONDS",                                                                          \
		 "forget connections idle this long (default 300)",                                  \
		 COMPLETE_NONE},                                                                     \
		{WO_MAXCONNS,  0, "max-conns", "N", "track at most N connections (default 1000000)", \
		 COMPLETE_NONE},                                                                     \
	{                                                                                            \
		WO_NOVLAN, 0, "ignore-vlan", NULL,                                                   \
			"key connections by 4-tuple only, not VLAN tags", COMPLETE_NONE              \
	}

/*
 * Handle one of the WO_* options into o (set up by wire_opts_init()).
 * Returns 0, or EXIT_USAGE after printing what was wrong; returns 1 if id
 * is not a wire option.
 */
int cmd_wire_opt(const struct cmd_entry *cmd, struct wire_opts *o, int id, const char *arg);
/* An option's SECONDS (fractions allowed) within [min, max], into microseconds: 0, or -1. */
int cmd_parse_seconds(const char *s, double min, double max, uint64_t *us);
/* Check the combination (exactly one of -i and -r).  0 or EXIT_USAGE. */
int cmd_wire_check(const struct cmd_entry *cmd, const struct wire_opts *o, int need_source);

#endif
