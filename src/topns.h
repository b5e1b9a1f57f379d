/*
 * topns.h - the namespaces of top -A's rows (topmodel.h's struct top_ns):
 * a table the model keeps, whose index is the 2-byte id a row carries.  An
 * entry lives from the first refresh that dumps its namespace to the end
 * of the first that does not; an id freed then is given again only from
 * the next refresh on, so no row of the last refresh, which the join
 * matches against, points at an entry that changed under it.
 */
#ifndef TCPSTATE_TOPNS_H
#define TCPSTATE_TOPNS_H

#include <stddef.h>
#include <stdint.h>

#include "topmodel.h"

struct topns {
	struct top_ns *v;
	size_t n, cap; /* entries v[0..n), used or free */
	uint16_t cur;  /* the namespace of the sockets added now */
	uint32_t seen; /* namespaces dumped in this refresh */
};

/* A refresh begins: no namespace is seen yet, and sockets are in none. */
void topns_begin(struct topns *t);
/* Make (dev, ino) current if it is known: 1, else 0. */
int topns_find(struct topns *t, uint64_t dev, uint64_t ino);
/* Add ns (copied) and make it current: 0, -1 out of memory, -2 TOP_NS_MAX already. */
int topns_new(struct topns *t, const struct top_ns *ns);
/* A refresh ends: the entries of namespaces it did not dump are freed. */
void topns_end(struct topns *t);
void topns_free(struct topns *t);
/* Entry id, or NULL (TOP_NS_NONE, or free). */
const struct top_ns *topns_get(const struct topns *t, uint16_t id);

#endif
