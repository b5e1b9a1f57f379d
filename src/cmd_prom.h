/*
 * cmd_prom.h - one collection of metrics (metrics.h) from the kernel, as
 * `tcpstate export` and `tcpstate list --prom` both make it: this
 * thread's namespace, or with -A every namespace nsall.c finds (picked by
 * --ns), each dumped with its own port range and TIME-WAIT limit and
 * labelled with its name and container.  Shared by the two commands so
 * that a scrape and `list --prom` can never disagree.
 */
#ifndef TCPSTATE_CMD_PROM_H
#define TCPSTATE_CMD_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct prom_source {
	int all_ns;		 /* -A */
	const char *const *pats; /* --ns patterns (NULL-terminated), or NULL: every namespace */
	const char *rootfs;	 /* --rootfs, or NULL */
	unsigned top_k;		 /* --top-k (0: METRICS_TOP_K) */
	uint64_t rescan_us;	 /* owners of new CLOSE-WAIT sockets looked up at most this often */
};

struct prom_collector;

struct prom_collector *prom_collector_new(const struct prom_source *src, char *err, size_t errlen);
void prom_collector_free(struct prom_collector *pc);
/*
 * Collect now (now_us: wall clock).  A namespace that vanishes mid-way is
 * skipped without error.  0, or -1 with a message in err; the metrics then
 * hold what was collected.  *seconds: how long it took.
 */
int prom_collect(struct prom_collector *pc, uint64_t now_us, double *seconds, char *err,
		 size_t errlen);
struct metrics *prom_metrics(struct prom_collector *pc);

#endif
