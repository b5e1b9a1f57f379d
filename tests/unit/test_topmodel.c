/*
 * Unit tests: top's model without a screen: the bounded-heap view equals a
 * full sort at any offset, the rank used to follow the cursor agrees with
 * it, and a socket keeps the time it entered its state across refreshes.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "topmodel.h"
#include "unit.h"

static void rows(struct sock_rec *r, int n, uint32_t seed, int state_shift)
{
	memset(r, 0, sizeof(*r) * (size_t)n);
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		r[i].family = AF_INET;
		r[i].state = (uint8_t)(1 + (i + state_shift) % 11);
		r[i].laddr[0] = 198;
		r[i].laddr[1] = 18;
		r[i].laddr[3] = (uint8_t)(i % 7);
		r[i].raddr[0] = 198;
		r[i].raddr[1] = 19;
		r[i].raddr[3] = (uint8_t)(seed >> 24);
		r[i].lport = (uint16_t)(1000 + i);
		r[i].rport = (uint16_t)(seed >> 8);
		r[i].recv_q = (seed >> 4) % 50;
		r[i].send_q = (seed >> 12) % 50;
	}
}

static void view_rank_and_memory(void)
{
	enum { N = 300 };
	struct sock_rec r[N];
	struct topmodel *m = topmodel_new();
	uint32_t all[N], part[N];
	size_t matching;

	CHECK(m != NULL);
	rows(r, N, 7, 0);
	CHECK(topmodel_refresh(m, r, N, 1000000, 0, NULL) == 0);
	/* The second refresh, 5 s later: a third of the sockets changed state. */
	for (int i = 0; i < N; i += 3)
		r[i].state = (uint8_t)(r[i].state % 11 + 1);
	CHECK(topmodel_refresh(m, r, N, 6000000, 0, NULL) == 0);
	for (size_t i = 0; i < topmodel_nrows(m); i++) {
		const struct top_row *row = topmodel_row(m, i);
		uint64_t want = i % 3 == 0 ? 6000000 : 1000000;
		if (row->since_us != want || row->age_us != 6000000 - want) {
			printf("  row %zu: since %llu age %llu\n", i, (unsigned long long)row->since_us,
			       (unsigned long long)row->age_us);
			unit_failed = 1;
			break;
		}
	}
	for (int sort = 0; sort < SORT_MAX; sort++) {
		for (int rev = 0; rev < 2; rev++) {
			size_t n = topmodel_view(m, SM_ALL, NULL, (enum top_sort)sort, rev, 0, N, all,
						 &matching);
			CHECK(n == N && matching == N);
			/* A window anywhere equals the same slice of the full order. */
			for (size_t first = 0; first < N; first += 37) {
				size_t k = topmodel_view(m, SM_ALL, NULL, (enum top_sort)sort, rev, first,
							 25, part, &matching);
				size_t want = N - first < 25 ? N - first : 25;
				CHECK(k == want && memcmp(part, all + first, k * sizeof(*part)) == 0);
			}
			/* The rank of every row is its place in the order. */
			for (size_t pos = 0; pos < N; pos += 11) {
				size_t rank = topmodel_rank(m, SM_ALL, NULL, (enum top_sort)sort, rev,
							    all[pos]);
				if (rank != pos) {
					printf("  sort %d rev %d: row at %zu has rank %zu\n", sort, rev,
					       pos, rank);
					unit_failed = 1;
				}
			}
		}
	}
	/* A state mask narrows the view and the ranks. */
	size_t n = topmodel_view(m, SM(TS_ESTABLISHED), NULL, SORT_LOCAL, 0, 0, N, all, &matching);
	CHECK(n == matching && n > 0 && n < N);
	for (size_t pos = 0; pos < n; pos++)
		CHECK(topmodel_row(m, all[pos])->s.state == TS_ESTABLISHED);
	CHECK(topmodel_rank(m, SM(TS_ESTABLISHED), NULL, SORT_LOCAL, 0, all[n - 1]) == n - 1);
	topmodel_free(m);
}

const struct unit_test topmodel_tests[] = {
	{"topmodel: bounded view, rank and time in state", view_rank_and_memory},
	{NULL, NULL},
};
