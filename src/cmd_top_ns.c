/*
 * cmd_top_ns.c - `tcpstate top -A` (cmd_top_ns.h): the namespaces found
 * again at each refresh, each named once (its label, its container) when
 * the model first sees it, and dumped in turn into the model.
 */
#include "cmd_top_ns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "netns.h"
#include "out.h"

/* A long name (a pod at Kubernetes' limits) was dropped in a 256-byte buffer. */
#define CONTAINER_MAX NSALL_CONTAINER_MAX

int top_ns_check(const struct cmd_entry *cmd, const struct top_allns *a, const char *netns)
{
	return cmd_ns_check(cmd, a->on, a->rootfs, a->npats, netns);
}

/*
 * Make e the model's current namespace, naming it if it is new: 1 when its
 * sockets are to be dumped, 0 when --ns leaves it out, -1 out of memory.
 * A namespace known from the last refresh keeps its label and container:
 * naming reads the runtime's files, once per namespace, not per refresh.
 */
static int enter_model(const struct top_allns *a, struct topns *tab, const struct nsall_ns *e)
{
	char container[CONTAINER_MAX], raw[CONTAINER_MAX + 32];
	struct top_ns ns;

	/* Picked when it was first seen, and --ns does not change. */
	if (topns_find(tab, e->dev, e->ino))
		return 1;
	nsall_container(e, a->rootfs, container, sizeof(container));
	if (!nsall_picked(e, container, a->pats, a->npats))
		return 0;
	memset(&ns, 0, sizeof(ns));
	ns.dev = e->dev;
	ns.ino = e->ino;
	ns.pid = e->pid;
	ns.name = e->name;
	ns.container = container[0] ? container : NULL;
	nsall_label(e, container, raw, sizeof(raw));
	fmt_text(ns.label, sizeof(ns.label), raw);
	/* Past TOP_NS_MAX at once, the rest are not shown. */
	int rc = topns_new(tab, &ns);
	return rc == -2 ? 0 : rc < 0 ? -1 : 1;
}

int top_ns_dump(struct top_allns *a, struct topmodel *m, struct sockdiag_req *req, sockdiag_fn fn,
		void *arg, char *err, size_t errlen)
{
	struct topns *tab = topmodel_nstab(m);
	struct sockdiag_stats st;

	nsall_free(&a->scan);
	if (nsall_scan(&a->scan, NSALL_RUN_NETNS, NSALL_PROC_ROOT, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < a->scan.n; i++) {
		const struct nsall_ns *e = &a->scan.v[i];
		int rc = enter_model(a, tab, e);
		if (rc < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (!rc)
			continue;
		/* The own namespace needs no setns: an unprivileged user still reads it. */
		req->use_netns = !e->own;
		req->netns_fd = e->fd;
		/* Another namespace that fails (EPERM, gone) is skipped: the others are shown. */
		if (sockdiag_dump(req, fn, arg, &st, err, errlen) < 0 && e->own)
			return -1;
	}
	return 0;
}

struct destroy_call {
	const struct sock_rec *rec;
	char *err;
	size_t errlen;
};

static int destroy_in(void *arg)
{
	struct destroy_call *c = arg;
	return sockdiag_destroy(c->rec, c->err, c->errlen);
}

int top_ns_destroy(const struct top_allns *a, const struct topmodel *m, const struct top_row *r,
		   char *err, size_t errlen)
{
	const struct top_ns *ns = a->on ? topmodel_ns_of(m, r) : NULL;
	struct destroy_call c = {&r->s, err, errlen};

	if (!ns)
		return sockdiag_destroy(&r->s, err, errlen);
	for (size_t i = 0; i < a->scan.n; i++) {
		const struct nsall_ns *e = &a->scan.v[i];
		if (e->dev != ns->dev || e->ino != ns->ino)
			continue;
		if (e->own)
			return sockdiag_destroy(&r->s, err, errlen);
		return netns_call_in(e->fd, destroy_in, &c, err, errlen);
	}
	snprintf(err, errlen, "its network namespace is gone");
	return -ENOENT;
}

void top_ns_free(struct top_allns *a)
{
	nsall_free(&a->scan);
	free(a->pats);
	a->pats = NULL;
	a->npats = 0;
}
