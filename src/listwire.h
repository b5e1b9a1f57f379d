/*
 * listwire.h - `tcpstate list -r FILE`: the connections a capture holds,
 * as the wire engine sees them at the end of the file (or at --at TIME).
 * Called by cmd_list.c, which owns the command's options.
 */
#ifndef TCPSTATE_LISTWIRE_H
#define TCPSTATE_LISTWIRE_H

#include <stdint.h>

#include "cmd.h"
#include "wire.h"

struct listwire_opts {
	struct wire_opts w;
	int json, csv, header, summary;
	const char *at; /* --at TIME, or NULL */
};

int listwire_run(const struct cmd_entry *cmd, const struct listwire_opts *o);

#endif
