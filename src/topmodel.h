/*
 * topmodel.h - the data behind `tcpstate top`: the kernel's sockets at each
 * refresh, joined with the wire engine's connections, with what top must
 * remember between refreshes (when a socket entered its state, which process
 * held a socket that is now in TIME-WAIT) and the header's figures.
 *
 * No terminal I/O and no clock: the caller passes the time in, so batch
 * mode, the curses UI and the tests all drive the same model.
 */
#ifndef TCPSTATE_TOPMODEL_H
#define TCPSTATE_TOPMODEL_H

#include <stdint.h>
#include <sys/types.h>

#include "engine.h"
#include "filter.h"
#include "sockrec.h"
#include "state.h"

#define TOP_HISTORY 60 /* refreshes kept for the sparklines */
#define TOP_EVENTS 24  /* transitions kept per connection for the detail view */

/*
 * One row.  No padding anywhere (checked in topmodel.c): a refresh writes a
 * row only if it changed, comparing it whole with memcmp.
 */
struct top_row {
	struct sock_rec s;   /* first: what a view's filter and sort read for every row */
	uint64_t since_us;   /* in this state since (from the capture, if since_exact) */
	uint64_t seen_us;    /* first seen in this state by a refresh */
	uint8_t since_exact; /* from the capture, not a lower bound */
	uint8_t has_owner;   /* pid, fd and comm are known (now, or from an earlier state) */
	uint8_t remembered;  /* owner remembered from an earlier state */
	uint8_t is_new;	     /* the last refresh did not have this tuple */
	uint8_t wire[2];     /* engine state of the local end and the peer (0: none) */
	uint8_t disagree;    /* kernel and wire disagree (settled for a second) */
	uint8_t wire_only;   /* seen on the wire, no kernel socket (s holds orig -> resp) */
	uint8_t info_asked;  /* tcp_info was asked for since the dump (see sockdiag_info) */
	uint8_t wire_unsure; /* wire[] guessed (picked up mid-stream): 1 local, 2 peer; no '!' */
	uint16_t ns;	     /* its namespace (topmodel_ns_of), TOP_NS_NONE without -A */
	uint32_t conn_id;    /* engine connection, or 0 */
	pid_t pid;
	int fd;
	char comm[16];
};

/*
 * The network namespace a row's socket is in (top -A).  A row holds only
 * a 2-byte id; the model keeps one entry per namespace, from the first
 * refresh that dumps it until the first that does not.  Within a refresh
 * the caller tells namespaces apart by its scan; across refreshes they
 * are told apart by (dev, ino) alone: a namespace that dies and whose
 * inode a new one takes between two refreshes is taken for the same.
 */
#define TOP_NS_NONE 0xffff
#define TOP_NS_MAX 0xfffe /* namespaces at once; more are not shown */
#define TOP_NS_LABEL 48	  /* bytes of a label, escaped (fmt_text) and cut */
struct top_ns {
	uint64_t dev, ino;
	pid_t pid;		  /* its lowest process when first seen, or 0 */
	char *name;		  /* its /run/netns name, or NULL (JSON: raw) */
	char *container;	  /* its container, or NULL */
	char label[TOP_NS_LABEL]; /* as the Netns column and grouping show it */
	uint8_t used, seen;	  /* an entry; dumped in this refresh */
};

struct top_event {
	uint64_t ts_us;
	uint8_t endpoint; /* whose state changed: 0 the originator, 1 the responder */
	uint8_t from, to, cause;
};

/* One destination from one source address: a budget of ephemeral ports (census.h). */
struct top_dest {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint8_t src_family;
	uint8_t src[16];
	uint32_t in_use, time_wait;
	double rate;	  /* new connections per second */
	double exhaust_s; /* seconds to use up the range at that rate, or < 0 */
};

struct top_holder {
	char comm[16];
	pid_t pid;
	uint32_t count;
	uint64_t oldest_us;
};

struct top_stats {
	uint32_t count[TS_MAX];
	uint16_t history[TS_MAX][TOP_HISTORY]; /* counts, saturated, oldest first */
	int nhistory;
	uint64_t total;
	long tw_max;		   /* tcp_max_tw_buckets, or -1 */
	long port_lo, port_hi;	   /* ip_local_port_range, or -1 */
	uint32_t ephemeral_in_use; /* sockets on ephemeral ports (census.h) */
	uint32_t ephemeral_dests;  /* destinations they connect to */
	uint32_t ephemeral_srcs;   /* source addresses they connect from */
	struct top_dest dest[3];   /* the busiest pairs of source and destination, busiest first */
	int ndest;
	struct top_holder holder[3];
	int nholder;
	uint32_t namespaces; /* namespaces dumped in this refresh (0: top without -A) */
};

struct topmodel;

struct topmodel *topmodel_new(void);
void topmodel_free(struct topmodel *m);

/*
 * Take a new kernel view, one socket at a time, straight from the dump's
 * callback: begin (now_us: the time of this refresh), add each socket (the
 * model copies it; -1: out of memory), end.  Feeding sockets in the
 * kernel's dump order is what makes the join with the last refresh cheap.
 * At the end, owners are looked up in procroot ("/proc"; NULL: not at
 * all), which is costly: only when sockets with unknown owners appeared,
 * and at most every rescan_us.
 */
void topmodel_begin(struct topmodel *m, uint64_t now_us);
int topmodel_add(struct topmodel *m, const struct sock_rec *rec);
void topmodel_end(struct topmodel *m, uint64_t rescan_us, const char *procroot);
/* A refresh that cannot be finished (the dump failed): keep what arrived, consistently. */
void topmodel_abort(struct topmodel *m);
/*
 * The next refresh sees sockets that were there before but not asked for
 * (the kernel's filter changed): take it as a first refresh, so they are
 * neither new connections nor given ages.
 */
void topmodel_rebase(struct topmodel *m);

/*
 * top -A: the table of the rows' namespaces (topns.h).  Between
 * topmodel_begin and topmodel_end, before a namespace's sockets are added,
 * topns_find or topns_new makes it the current one; sockets added when
 * none is (topns_new failed, or top without -A) are in none.
 */
struct topns *topmodel_nstab(struct topmodel *m);
/* The namespace of a row, or NULL (top without -A, a row only the wire sees). */
const struct top_ns *topmodel_ns_of(const struct topmodel *m, const struct top_row *r);

/* Join with the wire engine (optional): call after topmodel_end. */
void topmodel_join(struct topmodel *m, struct engine *e, uint64_t now_us);
/* Record an engine event (hook it to the engine's event callback). */
void topmodel_event(struct topmodel *m, const struct engine *e, const struct engine_event *ev);

size_t topmodel_nrows(const struct topmodel *m);
const struct top_row *topmodel_row(const struct topmodel *m, size_t i);
/*
 * A row's time in its state (kept apart from the row: it changes every
 * refresh, the rest of a row mostly does not).
 */
uint64_t topmodel_age(const struct topmodel *m, const struct top_row *r);
const struct top_stats *topmodel_stats(const struct topmodel *m);
/*
 * A row followed by its 4-tuple and inode across frames and refreshes: the
 * screen's selected row (SO_REUSEPORT listeners share a tuple).  Where it was last found is looked
 * at first.  Rows move only at a refresh, and one in the kernel's dump order mostly leaves them
 * where they were: finding the row costs one comparison, and a pass over
 * the table only after a refresh moved it or took it away (a row found
 * gone is not looked for again until rows change).
 */
struct top_pick {
	struct sock_rec key; /* the row's: its family, addresses, ports and inode are compared */
	uint16_t ns;	     /* and its namespace */
	size_t at;	     /* where it was last found */
	uint64_t gen;	     /* the version of the model's rows it was last looked for in */
	uint64_t compared;   /* rows compared so far: what finding it has cost */
	int have;	     /* a row is picked */
	int missed;	     /* it was gone */
};
/* Pick row i. */
void top_pick_row(struct top_pick *p, const struct topmodel *m, size_t i);
/* The picked row's index, or -1: none is picked, or it is gone. */
long top_pick_find(struct top_pick *p, const struct topmodel *m);

/* The transitions seen for a connection, oldest first. */
int topmodel_events(const struct topmodel *m, uint32_t conn_id, struct top_event *out, int max);

/* Which rows are shown: a state mask and a filter (may be NULL). */
enum top_sort {
	SORT_STATE,
	SORT_LOCAL,
	SORT_PEER,
	SORT_PROCESS,
	SORT_AGE,
	SORT_RECVQ,
	SORT_SENDQ,
	SORT_RTT,
	SORT_RETRANS,
	SORT_MAX
};
const char *topmodel_sort_name(enum top_sort s);
/* The column named name, or SORT_MAX. */
enum top_sort topmodel_sort_by_name(const char *name);
/* Whether sorting by s needs every socket's tcp_info. */
int topmodel_sort_needs_info(enum top_sort s);

/*
 * Fill out[] with the indexes of the rows to show, from the first-th to
 * first+max-th in sort order.  Only those are sorted: the rest of the table
 * is only partitioned.  Returns how many were written (at most max);
 * *matching says how many rows pass the filter in all.  Any first and max
 * are safe: a window past the end shows nothing, and max may be SIZE_MAX.
 */
size_t topmodel_view(const struct topmodel *m, state_mask states, const struct filter *f,
		     enum top_sort sort, int reverse, size_t first, size_t max, uint32_t *out,
		     size_t *matching);

/*
 * The position of row i in that order (how many shown rows sort before it),
 * found in one pass without sorting; or (size_t)-1 if it is not shown.
 */
size_t topmodel_rank(const struct topmodel *m, state_mask states, const struct filter *f,
		     enum top_sort sort, int reverse, size_t i);

/*
 * Before rows are shown: tcp_info for those of idx[0..n) that the dump
 * left without it and have one to ask for.  The model chooses the rows;
 * fetch (the command layer's: sockdiag_info) asks the kernel for up to 256
 * at a time and fills in the sock_recs it can.  Each row is asked for at
 * most once per refresh.
 */
typedef void topmodel_fetch_fn(struct sock_rec **need, size_t n, void *arg);
void topmodel_prepare(struct topmodel *m, const uint32_t *idx, size_t n, topmodel_fetch_fn *fetch,
		      void *arg);

/*
 * A socket with no peer: a listener, or one never connected.  The table
 * shows its peer as *:*, and grouping by remote host puts it in "*".
 */
int top_no_peer(const struct sock_rec *s);

/*
 * "name[pid]" of a row's process, escaped (fmt_text); with mark, a ~
 * first when it held the socket before (TIME-WAIT has no owner).  Returns
 * the length written.
 */
size_t top_proc_text(char *buf, size_t len, const struct top_row *r, int mark);

/* ---- grouping (topgroup.c) ---- */

enum top_group_by {
	TOP_GROUP_NONE,
	TOP_GROUP_PROCESS,
	TOP_GROUP_HOST,
	TOP_GROUP_STATE,
	TOP_GROUP_NETNS, /* top -A: by the Netns label */
	TOP_GROUP_MAX
};

struct top_group {
	/* "name[pid]" (escaped), or what holds sockets no process does; a host; a state; a netns */
	char key[4 * 16 + 1 + 16];
	uint32_t count;
	uint32_t by_state[TS_MAX];
	uint64_t max_age; /* the longest any of them has been in its state */
	int lower;	  /* max_age is a lower bound: some member's age is one */
};

/*
 * The rows that states and f show, grouped by; biggest group first.
 * *out is malloc'ed (free it); returns the number of groups, 0 with *out
 * NULL when out of memory.
 */
size_t topmodel_groups(const struct topmodel *m, state_mask states, const struct filter *f,
		       enum top_group_by by, struct top_group **out);

#endif
