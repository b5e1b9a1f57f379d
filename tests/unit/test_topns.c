/*
 * Unit tests: top -A's namespaces in the model (topns.c): the join with the
 * last refresh keeps equal tuples of two namespaces apart, an entry lives
 * while its namespace is dumped and its id is given again only from a later
 * refresh, and the Netns column shows only with namespaces, cut to 16.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "topmodel.h"
#include "topns.h"
#include "topview.h"
#include "unit.h"

/* A TIME-WAIT socket 127.0.0.1:41101 -> 127.0.0.1:41100: no inode, no owner. */
static void tw(struct sock_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	r->state = TS_TIME_WAIT;
	r->laddr[0] = r->raddr[0] = 127;
	r->laddr[3] = r->raddr[3] = 1;
	r->lport = 41101;
	r->rport = 41100;
}

/* Namespace ino of dev 7 current, named "ns<ino>" if new; its id. */
static uint16_t enter(struct topmodel *m, uint64_t ino)
{
	struct topns *t = topmodel_nstab(m);
	struct top_ns ns;

	if (!topns_find(t, 7, ino)) {
		memset(&ns, 0, sizeof(ns));
		ns.dev = 7;
		ns.ino = ino;
		snprintf(ns.label, sizeof(ns.label), "ns%llu", (unsigned long long)ino);
		CHECK(topns_new(t, &ns) == 0);
	}
	return t->cur;
}

/* One refresh at now of the TIME-WAIT socket in each of inos[0..n). */
static void refresh(struct topmodel *m, uint64_t now, const uint64_t *inos, size_t n, uint16_t *ids)
{
	struct sock_rec r;

	tw(&r);
	topmodel_begin(m, now);
	for (size_t i = 0; i < n; i++) {
		ids[i] = enter(m, inos[i]);
		CHECK(topmodel_add(m, &r) == 0);
	}
	topmodel_end(m, 0, NULL);
}

static const struct top_row *row_in(const struct topmodel *m, uint64_t ino)
{
	for (size_t i = 0; i < topmodel_nrows(m); i++) {
		const struct top_ns *ns = topmodel_ns_of(m, topmodel_row(m, i));
		if (ns && ns->ino == ino)
			return topmodel_row(m, i);
	}
	return NULL;
}

static void join_keeps_namespaces_apart(void)
{
	struct topmodel *m = topmodel_new();
	uint64_t a[] = {10}, ab[] = {10, 20};
	uint16_t ids[2];

	refresh(m, 1000000, a, 1, ids);
	refresh(m, 5000000, ab, 2, ids);
	CHECK(topmodel_nrows(m) == 2 && ids[0] != ids[1]);
	CHECK(topmodel_stats(m)->namespaces == 2);
	const struct top_row *ra = row_in(m, 10), *rb = row_in(m, 20);
	CHECK(ra && rb);
	/* A's keeps its age; B's, the same tuple, is new, not A's. */
	CHECK(ra && ra->seen_us == 1000000 && !ra->is_new);
	CHECK(rb && rb->seen_us == 5000000 && rb->is_new);
	topmodel_free(m);
}

static void ids_reused_only_later(void)
{
	struct topmodel *m = topmodel_new();
	uint64_t ab[] = {10, 20}, bc[] = {20, 30}, bcd[] = {20, 30, 40};
	uint16_t first[2], second[2], third[3];

	refresh(m, 1000000, ab, 2, first);
	/* 10 is gone in this refresh: 30 may not take its id yet (the last rows point at it). */
	refresh(m, 2000000, bc, 2, second);
	CHECK(second[0] == first[1]);
	CHECK(second[1] != first[0] && second[1] != first[1]);
	CHECK(row_in(m, 10) == NULL && row_in(m, 30) != NULL);
	/* From the next refresh on, 10's id is free again. */
	refresh(m, 3000000, bcd, 3, third);
	CHECK(third[0] == second[0] && third[1] == second[1] && third[2] == first[0]);
	CHECK(row_in(m, 40) && row_in(m, 40)->is_new);
	topmodel_free(m);
}

static void netns_column(void)
{
	struct topmodel *m = topmodel_new();
	struct topns *t = topmodel_nstab(m);
	struct top_ns ns;
	struct sock_rec r;
	struct topview_widths w;
	uint32_t idx[1] = {0};
	char line[512];

	tw(&r);
	CHECK(unit_top_refresh(m, &r, 1, 1000000, NULL) == 0);
	topview_widths(m, idx, 1, 0, &w);
	topview_title(&w, line, sizeof(line));
	CHECK(w.w[TV_NETNS] < 0 && strncmp(line, "State ", 6) == 0);

	topmodel_begin(m, 2000000);
	memset(&ns, 0, sizeof(ns));
	ns.dev = 7;
	ns.ino = 10;
	snprintf(ns.label, sizeof(ns.label), "a-very-long-namespace-label");
	CHECK(topns_new(t, &ns) == 0);
	CHECK(topmodel_add(m, &r) == 0);
	topmodel_end(m, 0, NULL);
	topview_widths(m, idx, 1, 0, &w);
	topview_title(&w, line, sizeof(line));
	CHECK(w.w[TV_NETNS] == 16 && strncmp(line, "Netns ", 6) == 0);
	topview_row(m, topmodel_row(m, 0), &w, line, sizeof(line));
	CHECK(strncmp(line, "a-very-long-nam~ TIME-WAIT", 26) == 0);
	topmodel_free(m);
}

const struct unit_test topns_tests[] = {
	{"topns: the join keeps one tuple in two namespaces apart", join_keeps_namespaces_apart},
	{"topns: a gone namespace's id is given again only from the next refresh",
	 ids_reused_only_later},
	{"topns: the Netns column only with namespaces, a long label cut to 16", netns_column},
	{NULL, NULL},
};
