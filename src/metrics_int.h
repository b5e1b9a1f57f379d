/*
 * metrics_int.h - what metrics.c (counting a collection, remembering
 * CLOSE-WAIT sockets across collections) and metrics_render.c (writing
 * the families) share, and no one else.
 */
#ifndef TCPSTATE_METRICS_INT_H
#define TCPSTATE_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "census.h"
#include "metrics.h"
#include "state.h"

/* The series a top-K cut leaves out are counted per family (tcpstate_truncated_series_total). */
enum trunc_family { TR_CW_SOCKETS, TR_CW_OLDEST, TR_EPHEMERAL, TR_LQ_LENGTH, TR_LQ_LIMIT, TR_MAX };

/* Room for a comm (15 bytes and a NUL), and for "(accept queue)". */
#define METRICS_PROC_LEN 16

/* One listening address and port: its fullest socket's accept queue. */
struct lq {
	uint8_t family; /* canonical (addr_canonical) */
	uint16_t port;
	uint8_t addr[16];
	uint32_t len, lim; /* idiag_rqueue, idiag_wqueue */
};

/* One process's CLOSE-WAIT sockets in one namespace. */
struct cw_group {
	char process[METRICS_PROC_LEN]; /* comm, "(accept queue)" or "(unknown)" */
	uint64_t count;
	uint64_t first_us; /* when the oldest was first seen */
};

/* One namespace of the collection: what its families say. */
struct ns_col {
	uint64_t ino;
	char inostr[24];	 /* the netns_inode label */
	char *netns, *container; /* malloc'ed, or NULL: none */
	long lo, hi, tw_max;	 /* lo <= 0 / tw_max < 0: unknown */
	uint64_t states[TS_MAX];
	struct census_dest *eph; /* the top-K pairs, busiest first */
	size_t neph;
	struct lq *lq; /* the top-K listeners, fullest first */
	size_t nlq;
	struct cw_group *cw; /* the top-K processes, most sockets first */
	size_t ncw;
	uint64_t trunc[TR_MAX]; /* summed over every collection that had this namespace */
};

/* A CLOSE-WAIT socket remembered across collections. */
struct cw_ent {
	uint64_t ino, cookie; /* the key: namespace and socket */
	uint64_t first_us;    /* first seen in CLOSE-WAIT */
	uint32_t inode;	      /* 0: in a listener's accept queue */
	uint32_t gen;	      /* the collection that last saw it */
	uint32_t ns;	      /* its namespace's index in that collection */
	uint8_t looked_up;    /* its owner was looked for (for this inode) */
	uint8_t found;	      /* ...and found: comm holds the name */
	char comm[METRICS_PROC_LEN];
};

struct wire_counts {
	int on; /* metrics_wire_stats or metrics_wire_event was called */
	struct metrics_wire w;
	uint64_t handshakes, refused, resets;
	uint64_t transitions[TS_MAX];
};

struct metrics {
	struct metrics_config cfg;
	uint64_t now_us;
	uint32_t gen;
	int err_counted; /* this collection is counted in errors */
	uint64_t errors;

	/* This collection's namespaces, and the last one's (for the summed counters). */
	struct ns_col *ns, *prev;
	size_t nns, capns, nprev, capprev;
	int in_ns; /* between metrics_ns_begin and metrics_ns_end */

	/* The current namespace's counts, reused for each. */
	struct census *census;
	struct lq *lis;
	size_t nlis, caplis;

	/* The CLOSE-WAIT sockets: a dense array, and an index of it (entry + 1, 0 empty). */
	struct cw_ent *cw;
	size_t ncw, capcw;
	uint32_t *cwidx;
	size_t cwmask;
	int scanned; /* owners were looked for at least once */
	uint64_t scan_us;

	struct wire_counts wire;
};

/* The family names, as tcpstate_truncated_series_total's family label gives them. */
const char *metrics_trunc_family(enum trunc_family f);

#endif
