/*
 * cmd_list_int.h - what `list`'s files share, and no one else: the parsed
 * command line (struct list_opts) and what a dump collects (struct collect).
 *
 *   cmd_list.c          the entry, options, the dump, and the table, JSON
 *                       and CSV views of the rows
 *   cmd_list_summary.c  list -s: counts per state and the ephemeral-port
 *                       census
 */
#ifndef TCPSTATE_CMD_LIST_INT_H
#define TCPSTATE_CMD_LIST_INT_H

#include "census.h"
#include "filter.h"
#include "filterbc.h"
#include "out.h"
#include "state.h"
#include "store.h"
#include "wire.h"

enum format { FMT_TABLE, FMT_JSON, FMT_CSV };

struct list_opts {
	int all, listen, proc, timers, info, ext, family, header, summary;
	enum format fmt;
	const char *netns, *save, *load, *at;
	struct wire_opts wire;
	int wire_only;	  /* an option that only means something with -r */
	int no_kfilter;	  /* --no-kernel-filter */
	int debug_filter; /* --debug-filter */
};

struct collect {
	struct store *store;
	const struct filter *filter;
	const struct filterbc *bc; /* what of the filter the kernel runs */
	state_mask states;
	int oom;
	/*
	 * The summary's census, which must see every listener, whatever the
	 * filter shows; the kernel is then asked for every state and family,
	 * and family is checked here.
	 */
	struct census *census;
	long lo, hi; /* ip_local_port_range, or lo 0 */
	int family;
};

/* ip_local_port_range: 0, or -1 if it cannot be read or makes no sense. */
int list_port_range(long *lo, long *hi);
/* list -s, from the rows collected and c's census. */
void list_print_summary(struct out *out, const struct list_opts *o, const struct store *s,
			const struct collect *c);

#endif
