/*
 * cmd_wire.c - the capture options of list -r, watch, top and explain:
 * parsed from the command line into struct wire_opts, with their usage
 * errors.
 */
#include "cmd_wire.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

/* Seconds, fractions allowed, within [min, max], into microseconds (cmd_wire.h). */
int cmd_parse_seconds(const char *s, double min, double max, uint64_t *us)
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

/* The clock a live capture's quiet periods follow: the one libpcap stamps packets with. */
int cmd_wire_opt(const struct cmd_entry *cmd, struct wire_opts *o, int id, const char *arg)
{
	long v;

	switch (id) {
	case WO_IFACE:
		o->iface = arg;
		o->clock_us = cmd_wall_us;
		return 0;
	case WO_FILE:
		o->file = arg;
		return 0;
	case WO_FILTER:
		o->filter = arg;
		return 0;
	case WO_SNAPLEN:
		if (parse_long(arg, 64, 262144, &v) < 0)
			return cmd_usage_error(
				cmd, "--snaplen: invalid length \"%s\" (64 to 262144)", arg);
		o->snaplen = (int)v;
		return 0;
	case WO_VERIFY:
		o->ecfg.verify_checksums = 1;
		return 0;
	case WO_TIMEWAIT:
		if (cmd_parse_seconds(arg, 0.001, 86400, &o->ecfg.time_wait_us) < 0)
			return cmd_usage_error(
				cmd, "--time-wait: invalid duration \"%s\" (seconds)", arg);
		return 0;
	case WO_IDLE:
		if (cmd_parse_seconds(arg, 1, 30 * 86400, &o->ecfg.idle_timeout_us) < 0)
			return cmd_usage_error(
				cmd, "--idle-timeout: invalid duration \"%s\" (seconds)", arg);
		return 0;
	case WO_MAXCONNS:
		if (parse_long(arg, 1, 100000000, &v) < 0)
			return cmd_usage_error(
				cmd, "--max-conns: invalid count \"%s\" (1 to 100000000)", arg);
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
	case WO_BUFFER:
		/* pcap_set_buffer_size() takes bytes in an int. */
		if (parse_long(arg, 1, INT_MAX / 1024, &v) < 0)
			return cmd_usage_error(cmd, "-B: invalid size \"%s\" (KiB, 1 to %d)", arg,
					       INT_MAX / 1024);
		o->buffer_kib = (int)v;
		return 0;
	}
	return 1;
}

int cmd_wire_check(const struct cmd_entry *cmd, const struct wire_opts *o, int need_source)
{
	if (o->iface && o->file)
		return cmd_usage_error(cmd, "-i and -r cannot be used together");
	if (need_source && !o->iface && !o->file)
		return cmd_usage_error(cmd, "a packet source is needed: -i IFACE or -r FILE");
	if (o->buffer_kib && !o->iface)
		return cmd_usage_error(cmd, "-B applies to a live capture (-i IFACE)");
	return 0;
}
