/*
 * topns.c - the table of top -A's namespaces (topns.h).  A linear search
 * by (dev, ino): it runs once per namespace per refresh, not per socket.
 */
#include "topns.h"

#include <stdlib.h>
#include <string.h>

void topns_begin(struct topns *t)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].seen = 0;
	t->cur = TOP_NS_NONE;
	t->seen = 0;
}

static void seen(struct topns *t, size_t i)
{
	t->cur = (uint16_t)i;
	t->seen += !t->v[i].seen;
	t->v[i].seen = 1;
}

int topns_find(struct topns *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].used && t->v[i].dev == dev && t->v[i].ino == ino) {
			seen(t, i);
			return 1;
		}
	return 0;
}

static void clear(struct top_ns *e)
{
	free(e->name);
	free(e->container);
	memset(e, 0, sizeof(*e));
}

/* A free entry: one freed at the end of an earlier refresh, or a new one. */
static struct top_ns *slot(struct topns *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].used)
			return &t->v[i];
	if (t->n == TOP_NS_MAX)
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct top_ns *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

int topns_new(struct topns *t, const struct top_ns *ns)
{
	struct top_ns *e = slot(t);

	t->cur = TOP_NS_NONE;
	if (!e)
		return t->n == TOP_NS_MAX ? -2 : -1;
	*e = *ns;
	e->name = ns->name ? strdup(ns->name) : NULL;
	e->container = ns->container ? strdup(ns->container) : NULL;
	e->label[sizeof(e->label) - 1] = '\0';
	if ((ns->name && !e->name) || (ns->container && !e->container)) {
		clear(e);
		return -1;
	}
	e->used = 1;
	e->seen = 0;
	seen(t, (size_t)(e - t->v));
	return 0;
}

void topns_end(struct topns *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].used && !t->v[i].seen)
			clear(&t->v[i]);
	t->cur = TOP_NS_NONE;
}

void topns_free(struct topns *t)
{
	for (size_t i = 0; i < t->n; i++)
		clear(&t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

const struct top_ns *topns_get(const struct topns *t, uint16_t id)
{
	return id < t->n && t->v[id].used ? &t->v[id] : NULL;
}
