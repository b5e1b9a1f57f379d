/*
 * topgroup.c - the monitor's model, grouped: the rows a view shows, counted
 * by process (or, for sockets no process holds, by what holds them), by
 * remote host, by state or by namespace (top -A) (top's g key and --group), and the two
 * questions about a row that the grouping and the table both ask (has it a
 * peer, which process holds it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "out.h"
#include "topmodel.h"

int top_no_peer(const struct sock_rec *s)
{
	static const uint8_t any[16];
	return s->state == TS_LISTEN || (!s->rport && !memcmp(s->raddr, any, sizeof(any)));
}

size_t top_proc_text(char *buf, size_t len, const struct top_row *r, int mark)
{
	char name[4 * sizeof(r->comm) + 1];
	int k;

	fmt_text(name, sizeof(name), r->comm);
	k = snprintf(buf, len, "%s%s[%d]", mark && r->remembered ? "~" : "", name, (int)r->pid);
	return k < 0 ? 0 : (size_t)k >= len ? len - 1 : (size_t)k;
}

/*
 * A peer's address; ::ffff:a.b.c.d (a dual-stack socket's IPv4 peer) is
 * a.b.c.d, and sockets with no peer, of either family, are one group "*".
 */
static void host_key(char *key, const struct sock_rec *s)
{
	uint8_t a[16];

	if (top_no_peer(s))
		memcpy(key, "*", 2);
	else
		addr_format(key, addr_canonical(s->family, s->raddr, a), a);
}

/*
 * What holds a socket no process is seen holding, as its group's key.  One
 * "(no process)" for all of them read as sockets some process forgot,
 * where most are TIME-WAIT: held by the kernel after the close, leaked by
 * nobody.  A socket without an inode has no file, so no process can hold
 * it: TIME-WAIT; closed by its process and still closing (orphaned, in the
 * kernel's word); or in a listener's queue, not accepted yet (its peer may
 * have closed already: CLOSE-WAIT).  One with an inode has a file whose
 * holder is out of sight: another user's, without the privilege to look,
 * or one not looked up yet.
 */
static const char *no_owner_key(const struct top_row *r)
{
	if (r->wire_only)
		return "(wire only)";
	if (r->s.state == TS_TIME_WAIT)
		return "(no process: kernel TIME-WAIT)";
	if (r->s.inode)
		return "(owner out of sight)";
	switch (r->s.state) {
	case TS_SYN_RECV:
	case TS_NEW_SYN_RECV:
	case TS_ESTABLISHED:
	case TS_CLOSE_WAIT:
		return "(no process: not accepted)";
	default:
		return "(no process: orphaned)";
	}
}

/*
 * The key of r's group.  By process, a socket its process closed (an owner
 * remembered) is "~name[pid]", as the table marks it: held before by that
 * process, by the kernel now, not counted as the process's own.
 */
static void group_key(char *key, size_t len, const struct topmodel *m, const struct top_row *r,
		      enum top_group_by by)
{
	const struct top_ns *ns;

	if (by == TOP_GROUP_NETNS) {
		ns = topmodel_ns_of(m, r);
		/* Only rows the wire alone sees are in no namespace. */
		snprintf(key, len, "%s", ns ? ns->label : r->wire_only ? "(wire only)" : "-");
	} else if (by == TOP_GROUP_PROCESS && r->pid)
		top_proc_text(key, len, r, 1);
	else if (by == TOP_GROUP_PROCESS)
		snprintf(key, len, "%s", no_owner_key(r));
	else if (by == TOP_GROUP_HOST)
		host_key(key, &r->s);
	else
		snprintf(key, len, "%s", state_name(r->s.state));
}

/* Biggest first; among equals, first seen first (insertion sort is stable). */
static void sort_groups(struct top_group *g, size_t ng)
{
	for (size_t a = 1; a < ng; a++)
		for (size_t b = a; b > 0 && g[b].count > g[b - 1].count; b--) {
			struct top_group tmp = g[b];
			g[b] = g[b - 1];
			g[b - 1] = tmp;
		}
}

size_t topmodel_groups(const struct topmodel *m, state_mask states, const struct filter *f,
		       enum top_group_by by, struct top_group **out)
{
	size_t n = topmodel_nrows(m), ng = 0, cap = 64;
	struct top_group *g = calloc(cap, sizeof(*g));
	char key[sizeof(g->key)];

	*out = NULL;
	if (!g)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct top_row *r = topmodel_row(m, i);
		if (!(states & SM(r->s.state)) || !filter_match(f, &r->s))
			continue;
		group_key(key, sizeof(key), m, r, by);
		size_t k;
		for (k = 0; k < ng; k++)
			if (strcmp(g[k].key, key) == 0)
				break;
		if (k == ng) {
			if (ng == cap) {
				struct top_group *ng2 = realloc(g, cap * 2 * sizeof(*g));
				if (!ng2)
					break;
				g = ng2;
				memset(g + cap, 0, cap * sizeof(*g));
				cap *= 2;
			}
			snprintf(g[ng].key, sizeof(g[ng].key), "%s", key);
			ng++;
		}
		g[k].count++;
		g[k].by_state[r->s.state]++;
		uint64_t age = topmodel_age(m, r);
		if (age > g[k].max_age)
			g[k].max_age = age;
		/* A member seen late may be older than the oldest age known exactly. */
		g[k].lower |= !r->since_exact;
	}
	sort_groups(g, ng);
	*out = g;
	return ng;
}
