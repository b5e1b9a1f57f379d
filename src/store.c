/*
 * store.c - blocked record storage.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

void store_init(struct store *s)
{
	memset(s, 0, sizeof(*s));
}

struct sock_rec *store_add(struct store *s)
{
	size_t b = s->n / STORE_BLOCK;

	if (b == s->nblocks) {
		if (s->nblocks == s->capblocks) {
			size_t cap = s->capblocks ? s->capblocks * 2 : 16;
			struct sock_rec **nb = realloc(s->blocks, cap * sizeof(*nb));
			if (!nb)
				return NULL;
			s->blocks = nb;
			s->capblocks = cap;
		}
		s->blocks[s->nblocks] = malloc(STORE_BLOCK * sizeof(struct sock_rec));
		if (!s->blocks[s->nblocks])
			return NULL;
		s->nblocks++;
	}
	return store_at(s, s->n++);
}

void store_clear(struct store *s)
{
	s->n = 0;
}

void store_free(struct store *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i]);
	free(s->blocks);
	store_init(s);
}
