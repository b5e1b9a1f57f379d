/*
 * cmd_list_ns.c - `tcpstate list -A`: every network namespace (nsall.c)
 * dumped in turn into the one store, the same filter and bytecode in each,
 * with where each namespace's rows start and end; the Netns column, the
 * JSON fields and CSV columns of a row's namespace, its device names, the
 * --ns selection, and the summaries per namespace with their total.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "census.h"
#include "cmd.h"
#include "cmd_list_int.h"
#include "netns.h"
#include "nsall.h"
#include "out.h"

#define CONTAINER_MAX NSALL_CONTAINER_MAX

/* One namespace that was dumped, and its rows [first, end) of the store. */
struct ns_view {
	const struct nsall_ns *e;
	size_t first, end;
	char container[CONTAINER_MAX]; /* "" when none is known */
	struct census *census;	       /* -s */
	long lo, hi;		       /* its ip_local_port_range, or lo 0 */
	struct ifnames *ifn;	       /* its devices, read when a row needs one */
	int ifn_tried;
	/* The parallel dump's result: how it went, and its rows in a worker's store. */
	int status; /* EXIT_OK, LIST_SKIPPED or EXIT_RUNTIME */
	struct list_skip skip;
	char label[CONTAINER_MAX + 32];
	size_t worker, wfirst, wend;
};

struct list_ns {
	struct nsall all;
	struct ns_view *v;
	size_t n;
	size_t cur; /* the current namespace (list_ns_seek) */
};

int list_ns_check_opts(const struct cmd_entry *cmd, const struct list_opts *o)
{
	int rc = cmd_ns_check(cmd, o->all_ns, o->rootfs, o->nns, o->netns);

	if (rc || !o->all_ns)
		return rc;
	if (o->load || o->save)
		return cmd_usage_error(cmd, "-A cannot be used with --load-dump or --save-dump: "
					    "a dump file holds one namespace");
	return 0;
}

void list_rootfs_check(const struct cmd_entry *cmd, const char *rootfs)
{
	struct stat st;

	if (!rootfs)
		return;
	const char *why = stat(rootfs, &st) < 0	 ? strerror(errno)
			  : !S_ISDIR(st.st_mode) ? "not a directory"
						 : NULL;
	if (why)
		cmd_error(cmd, "warning: --rootfs %s: %s; containers are not named", rootfs, why);
}

/* The Netns cell, unescaped: name, (host), container, comm[pid], ino:N. */
static void label_raw(const struct ns_view *nv, char *buf, size_t len)
{
	nsall_label(nv->e, nv->container, buf, len);
}

/* Whether --ns picks it: any pattern matching any of its names. */
static int picked(const struct list_opts *o, const struct ns_view *nv)
{
	return nsall_picked(nv->e, nv->container, o->ns_pats, o->nns);
}

static int read_range(void *arg)
{
	struct ns_view *nv = arg;

	/* /proc/sys/net answers for the reading thread's namespace. */
	if (list_port_range(&nv->lo, &nv->hi) < 0)
		nv->lo = nv->hi = 0;
	return 0;
}

/* Its own summary's census and port range, read inside it; -1 when out of memory. */
static int prepare_summary(struct ns_view *nv)
{
	char err[128];

	nv->census = census_new();
	if (!nv->census)
		return -1;
	if (nv->e->own)
		read_range(nv);
	else if (netns_call_in(nv->e->fd, read_range, nv, err, sizeof(err)) < 0)
		nv->lo = nv->hi = 0;
	return 0;
}

/*
 * The namespaces are dumped by a few threads at once.  Each dump is the
 * kernel walking its whole TCP hash, which namespaces made from the host
 * share (a 262,144-bucket walk for each, however few sockets it holds):
 * that walk is nearly all of -A's time, and it is CPU-bound, so it scales
 * with the CPUs.  Each worker has its own store; the rows are then copied
 * in namespace order, and warnings said in that order too.
 */
#define MAX_WORKERS 8

struct worker {
	const struct cmd_entry *cmd;
	const struct list_opts *o;
	const struct collect *proto; /* filter, program, states, family */
	struct list_ns *ns;
	size_t *next; /* the next namespace to take (atomic) */
	size_t id;
	struct store store;
};

/* Dump one namespace into w's store; nv gets the outcome. */
static void dump_one(struct worker *w, struct ns_view *nv)
{
	struct collect c = *w->proto;

	c.store = &w->store;
	c.census = nv->census;
	c.lo = nv->lo;
	c.hi = nv->hi;
	c.oom = 0;
	memset(&nv->skip, 0, sizeof(nv->skip));
	nv->skip.label = nv->label;
	nv->worker = w->id;
	nv->wfirst = w->store.n;
	/* The own namespace needs no setns: an unprivileged user still reads it. */
	nv->status = list_dump(w->cmd, w->o, &c, nv->e->own ? -1 : nv->e->fd, &nv->skip);
	nv->wend = w->store.n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		size_t i = __atomic_fetch_add(w->next, 1, __ATOMIC_RELAXED);
		if (i >= w->ns->n)
			return NULL;
		dump_one(w, &w->ns->v[i]);
	}
}

/* Run the workers over ns->v[0..n); with one, or if threads fail, on this thread. */
static void dump_all(struct worker *w, size_t nw)
{
	pthread_t tid[MAX_WORKERS];
	size_t started = 0;

	for (size_t k = 1; k < nw; k++) {
		if (pthread_create(&tid[k], NULL, worker_main, &w[k]) != 0)
			break;
		started = k;
	}
	worker_main(&w[0]);
	for (size_t k = 1; k <= started; k++)
		pthread_join(tid[k], NULL);
}

static size_t worker_count(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = cpus > 0 ? (size_t)cpus : 1;

	nw = nw > MAX_WORKERS ? MAX_WORKERS : nw;
	return nw > n ? (n ? n : 1) : nw;
}

/*
 * After the workers: each namespace's rows into the store, in order, and
 * what went wrong said in that order.  Skipped namespaces leave ns->v.
 */
static int gather_rows(const struct cmd_entry *cmd, struct list_ns *ns, struct collect *c,
		       struct worker *w, size_t *nperm)
{
	size_t kept = 0;
	int rc = EXIT_OK;

	for (size_t i = 0; i < ns->n; i++) {
		struct ns_view *nv = &ns->v[i];
		if (nv->status == LIST_SKIPPED) {
			if (nv->skip.err == EPERM)
				(*nperm)++; /* said once for all of them */
			else
				cmd_error(cmd, "warning: netns %s (inode %llu): %s; skipped",
					  nv->label, (unsigned long long)nv->e->ino, nv->skip.msg);
			census_free(nv->census);
			continue;
		}
		if (nv->status != EXIT_OK)
			rc = nv->status;
		nv->first = c->store->n;
		for (size_t r = nv->wfirst; r < nv->wend; r++) {
			struct sock_rec *slot = store_add(c->store);
			if (!slot) {
				cmd_error(cmd, "out of memory");
				rc = EXIT_RUNTIME;
				break;
			}
			*slot = *store_at(&w[nv->worker].store, r);
		}
		nv->end = c->store->n;
		ns->v[kept++] = *nv;
	}
	ns->n = kept;
	return rc;
}

/* The namespaces --ns picks, with their containers and (-s) their port ranges. */
static int pick_views(const struct cmd_entry *cmd, const struct list_opts *o, struct list_ns *ns)
{
	for (size_t i = 0; i < ns->all.n; i++) {
		struct ns_view *nv = &ns->v[ns->n];
		memset(nv, 0, sizeof(*nv));
		nv->e = &ns->all.v[i];
		nsall_container(nv->e, o->rootfs, nv->container, sizeof(nv->container));
		if (!picked(o, nv))
			continue;
		label_raw(nv, nv->label, sizeof(nv->label));
		ns->n++; /* before a failure: what it holds is freed with the rest */
		if (o->summary && prepare_summary(nv) < 0) {
			cmd_error(cmd, "out of memory");
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

int list_ns_dump(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c,
		 struct list_ns **out)
{
	struct list_ns *ns = calloc(1, sizeof(*ns));
	struct worker w[MAX_WORKERS];
	size_t nperm = 0, next = 0;
	char err[256];

	*out = ns;
	if (!ns || nsall_scan(&ns->all, NSALL_RUN_NETNS, NSALL_PROC_ROOT, err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s", ns ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	ns->v = calloc(ns->all.n ? ns->all.n : 1, sizeof(*ns->v));
	if (!ns->v) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	list_rootfs_check(cmd, o->rootfs);
	int rc = pick_views(cmd, o, ns);
	if (rc)
		return rc;
	size_t nw = worker_count(ns->n);
	for (size_t k = 0; k < nw; k++) {
		w[k] = (struct worker){cmd, o, c, ns, &next, k, {NULL, 0, 0, 0}};
		store_init(&w[k].store);
	}
	dump_all(w, nw);
	rc = gather_rows(cmd, ns, c, w, &nperm);
	for (size_t k = 0; k < nw; k++)
		store_free(&w[k].store);
	if (rc)
		return rc;
	if (nperm)
		cmd_error(cmd,
			  "warning: %zu network namespace%s skipped: entering one needs "
			  "CAP_SYS_ADMIN; only those tcpstate is in or may enter are shown",
			  nperm, nperm == 1 ? "" : "s");
	/*
	 * Without privilege most processes' namespaces are hidden: say so.  Root
	 * is refused only a process another user namespace or an LSM shields
	 * (a sandbox's init): lsns passes over those quietly, and so does this.
	 */
	if (ns->all.unreadable && geteuid() != 0)
		cmd_error(cmd,
			  "warning: the network namespace of %zu process%s could not be read "
			  "(another user's: needs privilege)",
			  ns->all.unreadable, ns->all.unreadable == 1 ? "" : "es");
	return EXIT_OK;
}

void list_ns_free(struct list_ns *ns)
{
	if (!ns)
		return;
	for (size_t i = 0; i < ns->n; i++) {
		census_free(ns->v[i].census);
		netns_ifnames_free(ns->v[i].ifn);
	}
	free(ns->v);
	nsall_free(&ns->all);
	free(ns);
}

void list_ns_seek(struct list_ns *ns, size_t row)
{
	size_t lo = 0, hi;

	if (!ns || !ns->n)
		return;
	/* The first namespace whose rows end after row (ends never decrease). */
	hi = ns->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ns->v[mid].end > row)
			hi = mid;
		else
			lo = mid + 1;
	}
	ns->cur = lo;
}

size_t list_ns_label(const struct list_ns *ns, char *buf, size_t len)
{
	char raw[CONTAINER_MAX + 32];

	label_raw(&ns->v[ns->cur], raw, sizeof(raw));
	return fmt_text(buf, len, raw);
}

static void json_fields(struct out *out, const struct ns_view *nv)
{
	out_str(out, ",\"netns\":");
	if (nv->e->name)
		out_json_str(out, nv->e->name);
	else
		out_str(out, "null");
	out_printf(out, ",\"netns_inode\":%llu,\"container\":", (unsigned long long)nv->e->ino);
	if (nv->container[0])
		out_json_str(out, nv->container);
	else
		out_str(out, "null");
	out_str(out, ",\"netns_pid\":");
	if (nv->e->pid)
		out_printf(out, "%d", (int)nv->e->pid);
	else
		out_str(out, "null");
}

void list_ns_json(struct out *out, const struct list_ns *ns)
{
	json_fields(out, &ns->v[ns->cur]);
}

/* netns,netns_inode,container,netns_pid (without the comma before). */
static void csv_fields(struct out *out, const void *arg)
{
	const struct ns_view *nv = arg;

	if (nv->e->name)
		out_csv_field(out, nv->e->name);
	out_printf(out, ",%llu,", (unsigned long long)nv->e->ino);
	if (nv->container[0])
		out_csv_field(out, nv->container);
	out_char(out, ',');
	if (nv->e->pid)
		out_printf(out, "%d", (int)nv->e->pid);
}

void list_ns_csv(struct out *out, const struct list_ns *ns)
{
	out_char(out, ',');
	csv_fields(out, &ns->v[ns->cur]);
}

const char *list_ns_ifname(struct list_ns *ns, unsigned ifindex, char *buf)
{
	struct ns_view *nv = &ns->v[ns->cur];

	if (!nv->ifn_tried) {
		nv->ifn = nv->e->own ? netns_ifnames() : netns_ifnames_in(nv->e->fd);
		nv->ifn_tried = 1;
	}
	return netns_ifname(nv->ifn, ifindex, buf);
}

/* Before each CSV line of a namespace's summary: its columns, then a comma. */
static void csv_prefix(struct out *out, const void *arg)
{
	csv_fields(out, arg);
	out_char(out, ',');
}

/* Before each CSV line of the total: the four columns empty (every namespace). */
static void csv_total_prefix(struct out *out, const void *arg)
{
	(void)arg;
	out_str(out, ",,,,");
}

/* One namespace's summary: its heading or fields, then list -s's own. */
static void print_one_summary(struct out *out, const struct list_opts *o, const struct store *s,
			      const struct ns_view *nv, size_t i)
{
	struct list_sum sm = {s, nv->first, nv->end, nv->census, nv->lo, nv->hi, 1, csv_prefix, nv};
	char raw[CONTAINER_MAX + 32], esc[4 * (CONTAINER_MAX + 32) + 1];

	label_raw(nv, raw, sizeof(raw));
	if (o->fmt == FMT_JSON) {
		out_str(out, i ? ",\n{\"label\":" : "\n{\"label\":");
		out_json_str(out, raw);
		json_fields(out, nv);
		out_str(out, ",\"summary\":");
	} else if (o->fmt == FMT_TABLE) {
		fmt_text(esc, sizeof(esc), raw);
		out_printf(out, "%sNetns %s (inode %llu", i ? "\n" : "", esc,
			   (unsigned long long)nv->e->ino);
		/* The pid, unless the label is already comm[pid]. */
		if (nv->e->pid && (nv->e->name || nv->e->own || nv->container[0]))
			out_printf(out, ", pid %d", (int)nv->e->pid);
		out_char(out, ')');
		out_str(out, ":\n");
	}
	list_print_summary(out, o, &sm);
	if (o->fmt == FMT_JSON)
		out_char(out, '}');
}

void list_ns_print_summary(struct out *out, const struct list_opts *o, const struct store *s,
			   const struct list_ns *ns)
{
	uint64_t count[TS_MAX][2] = {{0}}, total[2] = {0, 0}, in_use = 0, tw = 0;

	if (o->fmt == FMT_JSON)
		out_str(out, "{\"namespaces\":[");
	else if (o->fmt == FMT_CSV && o->header)
		out_str(out, "netns,netns_inode,container,netns_pid,state,ipv4,ipv6,total\n");
	for (size_t i = 0; i < ns->n; i++) {
		const struct ns_view *nv = &ns->v[i];
		const struct census_totals *ct = census_totals(nv->census);
		print_one_summary(out, o, s, nv, i);
		list_count_states(s, nv->first, nv->end, count, total);
		in_use += ct->in_use;
		tw += ct->time_wait;
	}
	if (o->fmt == FMT_JSON) {
		out_printf(out,
			   "%s],\n\"total\":{\"namespaces\":%zu,\"total\":%llu,\"ipv4\":%llu,"
			   "\"ipv6\":%llu,\"states\":",
			   ns->n ? "\n" : "", ns->n, (unsigned long long)(total[0] + total[1]),
			   (unsigned long long)total[0], (unsigned long long)total[1]);
		list_json_states(out, count);
		out_printf(out, ",\"ephemeral\":{\"in_use\":%llu,\"time_wait\":%llu}}}\n",
			   (unsigned long long)in_use, (unsigned long long)tw);
		return;
	}
	if (o->fmt == FMT_CSV) {
		struct list_sum sm = {s, 0, s->n, NULL, 0, 0, 1, csv_total_prefix, NULL};
		list_print_summary(out, o, &sm);
		return;
	}
	out_printf(out, "%sAll %zu namespace%s:\n", ns->n ? "\n" : "", ns->n,
		   ns->n == 1 ? "" : "s");
	list_text_states(out, o, count, total);
	out_printf(out,
		   "\nEphemeral ports: %llu sockets in use, %llu of them in TIME-WAIT "
		   "(each namespace has its own range)\n",
		   (unsigned long long)in_use, (unsigned long long)tw);
}
