/*
 * cmd_list_int.h - what `list`'s files share, and no one else: the parsed
 * command line (struct list_opts) and what a dump collects (struct collect).
 *
 *   cmd_list.c          the entry, options, the dump, and the table, JSON
 *                       and CSV views of the rows
 *   cmd_list_summary.c  list -s: counts per state and the ephemeral-port
 *                       census
 *   cmd_list_ns.c       list -A: every network namespace, its rows, its
 *                       column and fields, its summaries
 *   cmd_list_prom.c     list --prom: one collection of the exporter's metrics
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
	int wire_only;	      /* an option that only means something with -r */
	int no_kfilter;	      /* --no-kernel-filter */
	int debug_filter;     /* --debug-filter */
	int all_ns;	      /* -A */
	const char *rootfs;   /* --rootfs: where cgroups and runtime state are read */
	const char **ns_pats; /* --ns PATTERN..., malloc'd (the strings are argv's) */
	size_t nns;
	int prom;	   /* --prom */
	const char *top_k; /* --top-k N, unparsed, or NULL */
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

struct cmd_entry;

/* What a dump of one namespace of -A that failed says (list_dump). */
struct list_skip {
	const char *label; /* the namespace, for the warning of a changing table */
	int err;	   /* errno: EPERM, ENOENT, ... */
	char msg[256];
};
/* list_dump's status for a namespace skipped: skip says why. */
#define LIST_SKIPPED (-1)

/*
 * Dump into c->store after its rows, in the namespace nsfd (-1: this
 * thread's).  EXIT_OK, EXIT_RUNTIME after saying why, or with skip given,
 * LIST_SKIPPED when the dump failed (nothing added; skip says why).
 */
int list_dump(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c, int nsfd,
	      struct list_skip *skip);

/* ---- cmd_list_ns.c: -A ---- */
struct list_ns;
/* -A's usage errors (with -N, with dumps; --ns without -A): 0 or EXIT_USAGE. */
int list_ns_check_opts(const struct cmd_entry *cmd, const struct list_opts *o);
/*
 * Find the namespaces, keep those --ns picks, and dump each into c->store
 * in turn (a census each for -s).  *out is set even on failure (free it).
 */
int list_ns_dump(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c,
		 struct list_ns **out);
void list_ns_free(struct list_ns *ns);
/* A --rootfs that is no directory: a typo would otherwise name nothing, unseen (a warning). */
void list_rootfs_check(const struct cmd_entry *cmd, const char *rootfs);
/* Make row's namespace the current one (rows are in namespace order); ns may be NULL. */
void list_ns_seek(struct list_ns *ns, size_t row);
/* The current namespace's Netns cell, escaped for a terminal; its length. */
size_t list_ns_label(const struct list_ns *ns, char *buf, size_t len);
/* Its JSON fields (each after a comma) and CSV columns (the same, after a comma). */
void list_ns_json(struct out *out, const struct list_ns *ns);
void list_ns_csv(struct out *out, const struct list_ns *ns);
/* The name of device ifindex in the current namespace (IFNAME_STRLEN). */
const char *list_ns_ifname(struct list_ns *ns, unsigned ifindex, char *buf);
/* list -A -s: a summary per namespace, then the total. */
void list_ns_print_summary(struct out *out, const struct list_opts *o, const struct store *s,
			   const struct list_ns *ns);

/* ---- cmd_list_prom.c: --prom ---- */
/* list --prom (or a --top-k without it): an exit status. */
int list_prom_run(const struct cmd_entry *cmd, const struct list_opts *o, int nargs);

/* ip_local_port_range: 0, or -1 if it cannot be read or makes no sense. */
int list_port_range(long *lo, long *hi);
/* What one summary counts: rows [first, end) of s, their census and port range. */
struct list_sum {
	const struct store *s;
	size_t first, end;
	const struct census *census;
	long lo, hi;
	int nested; /* one of several (list -A -s): JSON without its newline, no CSV header */
	/* Writes what comes before each CSV line (the namespace's columns), or NULL. */
	void (*csv_prefix)(struct out *out, const void *arg);
	const void *prefix_arg;
};
/* list -s, from the rows collected and their census. */
void list_print_summary(struct out *out, const struct list_opts *o, const struct list_sum *sm);
/* Its pieces, for the total of list -A -s (cmd_list_ns.c). */
void list_count_states(const struct store *s, size_t first, size_t end, uint64_t count[TS_MAX][2],
		       uint64_t total[2]);
void list_json_states(struct out *out, uint64_t count[TS_MAX][2]);
void list_text_states(struct out *out, const struct list_opts *o, uint64_t count[TS_MAX][2],
		      const uint64_t total[2]);

#endif
