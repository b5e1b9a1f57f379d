/*
 * store.h - an append-only array of socket records kept in fixed blocks,
 * so growth never copies and the slack is at most one block (the list
 * command's memory per socket is sizeof(struct sock_rec) plus that).
 */
#ifndef TCPSTATE_STORE_H
#define TCPSTATE_STORE_H

#include <stddef.h>

#include "sockrec.h"

#define STORE_BLOCK 4096

struct store {
	struct sock_rec **blocks;
	size_t nblocks, capblocks;
	size_t n;
};

void store_init(struct store *s);
/* Returns the slot for a new record (to be filled whole), or NULL when out of memory. */
struct sock_rec *store_add(struct store *s);
/* Forget every record but keep the blocks for reuse. */
void store_clear(struct store *s);
/* Forget the records from n on (a namespace's rows dumped again, or dropped). */
static inline void store_truncate(struct store *s, size_t n)
{
	if (n < s->n)
		s->n = n;
}
void store_free(struct store *s);

static inline struct sock_rec *store_at(const struct store *s, size_t i)
{
	return &s->blocks[i / STORE_BLOCK][i % STORE_BLOCK];
}

#endif
