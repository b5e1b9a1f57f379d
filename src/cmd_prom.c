/*
 * cmd_prom.c - one collection of metrics from the kernel (cmd_prom.h):
 * this thread's namespace, or with -A each namespace nsall.c finds and
 * --ns picks, each with the port range and TIME-WAIT limit read inside it,
 * dumped in turn into the metrics.  Containers are named once per
 * namespace and remembered while it lives: naming reads the runtimes'
 * files, which a scrape every few seconds should not redo.
 */
#include "cmd_prom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "netns.h"
#include "nsall.h"
#include "sockdiag.h"
#include "sysctl.h"

/* A namespace's container, as named when it was first seen. */
struct ns_name {
	uint64_t dev, ino;
	char *container; /* NULL: none */
};

struct prom_collector {
	struct prom_source src;
	size_t npats;
	struct metrics *m;
	struct ns_name *names; /* the last collection's namespaces */
	size_t nnames;
};

struct prom_collector *prom_collector_new(const struct prom_source *src, char *err, size_t errlen)
{
	struct prom_collector *pc = calloc(1, sizeof(*pc));
	struct metrics_config cfg = {src->top_k, src->all_ns};

	if (pc)
		pc->m = metrics_new(&cfg);
	if (!pc || !pc->m) {
		free(pc);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pc->src = *src;
	while (src->pats && src->pats[pc->npats])
		pc->npats++;
	return pc;
}

static void names_free(struct ns_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].container);
	free(v);
}

void prom_collector_free(struct prom_collector *pc)
{
	if (!pc)
		return;
	metrics_free(pc->m);
	names_free(pc->names, pc->nnames);
	free(pc);
}

struct metrics *prom_metrics(struct prom_collector *pc)
{
	return pc->m;
}

/* The knobs of the namespace the reading thread is in (/proc/sys answers for it). */
struct ns_knobs {
	long range[2];
	long tw_max;
};

static int read_knobs(void *arg)
{
	struct ns_knobs *k = arg;

	if (sysctl_read_longs("net.ipv4.ip_local_port_range", k->range, 2) < 0)
		k->range[0] = k->range[1] = 0;
	if (sysctl_read_longs("net.ipv4.tcp_max_tw_buckets", &k->tw_max, 1) < 0)
		k->tw_max = -1;
	return 0;
}

/*
 * Dump one namespace (nsfd, or -1: this thread's) into the metrics.  1 when
 * it could not be entered (skipped: errno says why), 0 when counted, -1 when
 * its dump failed part-way (err says why).
 */
static int collect_ns(struct prom_collector *pc, int nsfd, uint64_t ino, const char *netns,
		      const char *container, char *err, size_t errlen)
{
	struct sockdiag_req req;
	struct sockdiag_stats st;
	struct ns_knobs k;

	if (nsfd < 0)
		read_knobs(&k);
	else if (netns_call_in(nsfd, read_knobs, &k, err, errlen) < 0)
		return 1;
	if (metrics_ns_begin(pc->m, ino, netns, container, k.range[0], k.range[1], k.tw_max) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.states = SM_ALL;
	req.use_netns = nsfd >= 0;
	req.netns_fd = nsfd;
	int rc = sockdiag_dump(&req, metrics_add, pc->m, &st, err, errlen);
	metrics_ns_end(pc->m);
	return rc < 0 ? -1 : 0;
}

/* This thread's namespace, without labels. */
static int collect_own(struct prom_collector *pc, char *err, size_t errlen)
{
	struct stat sb;
	uint64_t ino = stat("/proc/thread-self/ns/net", &sb) == 0 ? (uint64_t)sb.st_ino : 0;

	return collect_ns(pc, -1, ino, NULL, NULL, err, errlen) ? -1 : 0;
}

/* e's container: remembered from the last collection, or read now into buf. */
static const char *container_of(const struct prom_collector *pc, const struct nsall_ns *e,
				char *buf, size_t len)
{
	for (size_t i = 0; i < pc->nnames; i++)
		if (pc->names[i].dev == e->dev && pc->names[i].ino == e->ino)
			return pc->names[i].container ? pc->names[i].container : "";
	return nsall_container(e, pc->src.rootfs, buf, len);
}

/*
 * The names of this scan's namespaces, for the next collection (those
 * gone are forgotten).  Out of memory, the names are read again next time.
 */
static void remember(struct prom_collector *pc, struct ns_name *v, size_t n)
{
	names_free(pc->names, pc->nnames);
	pc->names = v;
	pc->nnames = v ? n : 0;
}

struct allns_run {
	size_t denied; /* namespaces that could not be entered */
	int denied_errno;
	int failed; /* a dump failed part-way */
	char msg[320];
};

/* One namespace of -A: picked or not, entered or not, counted. */
static void collect_one_ns(struct prom_collector *pc, const struct nsall_ns *e,
			   const char *container, struct allns_run *run)
{
	char err[256];

	if (!nsall_picked(e, container, pc->src.pats, pc->npats))
		return;
	/* The own namespace needs no setns: an unprivileged user still reads it. */
	int rc = collect_ns(pc, e->own ? -1 : e->fd, e->ino, e->name, container, err, sizeof(err));
	if (rc > 0 && errno != ENOENT && errno != EINVAL) {
		/* Gone mid-way (ENOENT, EINVAL) is no error; refused is. */
		if (!run->denied++)
			run->denied_errno = errno;
	} else if (rc < 0 && !run->failed) {
		run->failed = 1;
		snprintf(run->msg, sizeof(run->msg), "netns inode %llu: %s",
			 (unsigned long long)e->ino, err);
	}
}

static int collect_all(struct prom_collector *pc, char *err, size_t errlen)
{
	struct nsall a;
	struct allns_run run;
	char buf[NSALL_CONTAINER_MAX];

	memset(&a, 0, sizeof(a));
	memset(&run, 0, sizeof(run));
	if (nsall_scan(&a, NSALL_RUN_NETNS, NSALL_PROC_ROOT, err, errlen) < 0)
		return -1;
	struct ns_name *names = calloc(a.n ? a.n : 1, sizeof(*names));
	for (size_t i = 0; i < a.n; i++) {
		const struct nsall_ns *e = &a.v[i];
		const char *c = container_of(pc, e, buf, sizeof(buf));
		if (names) {
			names[i] = (struct ns_name){e->dev, e->ino, *c ? strdup(c) : NULL};
			if (*c && !names[i].container) {
				names_free(names, i);
				names = NULL;
			}
		}
		collect_one_ns(pc, e, c, &run);
	}
	remember(pc, names, a.n);
	nsall_free(&a);
	if (run.denied) {
		snprintf(err, errlen, "%zu network namespace%s could not be entered (%s%s)",
			 run.denied, run.denied == 1 ? "" : "s", strerror(run.denied_errno),
			 run.denied_errno == EPERM ? ": entering one needs CAP_SYS_ADMIN" : "");
		return -1;
	}
	if (run.failed) {
		snprintf(err, errlen, "%s", run.msg);
		return -1;
	}
	return 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int prom_collect(struct prom_collector *pc, uint64_t now_us, double *seconds, char *err,
		 size_t errlen)
{
	uint64_t t0 = mono_us();
	int rc;

	metrics_begin(pc->m, now_us);
	rc = pc->src.all_ns ? collect_all(pc, err, errlen) : collect_own(pc, err, errlen);
	if (rc < 0)
		metrics_collect_error(pc->m);
	if (metrics_end(pc->m, NSALL_PROC_ROOT, pc->src.rescan_us) < 0 && rc == 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	*seconds = (double)(mono_us() - t0) / 1e6;
	return rc;
}
