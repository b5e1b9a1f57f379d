/* Unit tests: the kernel's rule for a SYN that is never answered (knobs.c). */
#include "knobs.h"
#include "unit.h"

/*
 * Each row was measured on Linux 6.18 in a namespace: connect() to an
 * address whose SYNs an nft rule dropped, SYNs counted by the rule's
 * counter, time to ETIMEDOUT.  Measured times run over the rule's by the
 * timer wheel's slack (131 s measured 133.6 s); counts are exact.
 */
static void syn_schedule_as_measured(void)
{
	static const struct {
		unsigned retries, linear;
		unsigned want_rtx;
		uint64_t want_ms;
		int by_time;
	} cases[] = {
		{6, 4, 10, 131000, 0}, /* the defaults since 6.5: 1+1+1+1+1+2+4+8+16+32+64 */
		{6, 2, 8, 129000, 0},  /* measured 131.6 s, 9 SYNs */
		{2, 2, 4, 9000, 0},    /* measured 9.1 s, 5 SYNs */
		{3, 0, 3, 15000, 0},   /* measured 15.3 s, 4 SYNs: the old rule */
		{1, 3, 2, 3000, 1},    /* measured 3.06 s, 3 SYNs: the time limit comes first */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct syn_schedule s;
		knob_syn_schedule(cases[i].retries, cases[i].linear, 120000, &s, NULL, 0);
		if (s.retransmits != cases[i].want_rtx || s.fail_ms != cases[i].want_ms ||
		    s.by_time != cases[i].by_time)
			printf("  retries %u linear %u: %u retransmits in %llu ms (by time %d)\n",
			       cases[i].retries, cases[i].linear, s.retransmits,
			       (unsigned long long)s.fail_ms, s.by_time);
		CHECK(s.retransmits == cases[i].want_rtx);
		CHECK(s.fail_ms == cases[i].want_ms);
		CHECK(s.by_time == cases[i].by_time);
	}
}

/* The defaults' retransmissions: five 1 s apart, then doubling intervals. */
static void syn_schedule_times(void)
{
	static const uint64_t want[] = {1000, 2000,  3000,  4000,  5000,
					7000, 11000, 19000, 35000, 67000};
	uint64_t at[12] = {0};
	struct syn_schedule s;

	knob_syn_schedule(6, 4, 120000, &s, at, 12);
	CHECK(s.retransmits == 10 && s.linear_sent == 4);
	CHECK(memcmp(at, want, sizeof(want)) == 0);
	CHECK(at[10] == 0); /* nothing written past the last */
	memset(at, 0, sizeof(at));
	knob_syn_schedule(6, 4, 120000, &s, at, 3);
	CHECK(at[2] == 3000 && at[3] == 0); /* at most nat written */
}

/* Kernels before 6.5 (no linear timeouts): 2^(retries+1) - 1 seconds. */
static void syn_schedule_classic(void)
{
	struct syn_schedule s;

	knob_syn_schedule(6, 0, 120000, &s, NULL, 0);
	CHECK(s.retransmits == 6 && s.fail_ms == 127000 && s.model_ms == 127000);
	CHECK(s.linear_sent == 0);
	/* Past 64 s the interval stops at rto_max: 127 s, then 120 s a time. */
	knob_syn_schedule(15, 0, 120000, &s, NULL, 0);
	CHECK(s.retransmits == 15 && s.fail_ms == 127000 + 9 * 120000ULL);
	CHECK(s.model_ms == s.fail_ms);
	/* A lower tcp_rto_max_ms (6.15 and later) caps both the timer and the model. */
	knob_syn_schedule(6, 0, 10000, &s, NULL, 0);
	CHECK(s.model_ms == 15000 + 3 * 10000ULL); /* ilog2(10 s / 1 s) = 3 doublings */
	CHECK(s.retransmits == 6 && s.fail_ms == 1000 + 2000 + 4000 + 8000 + 3 * 10000ULL);
}

const struct unit_test knobs_tests[] = {
	{"knobs: SYN retransmissions and time to ETIMEDOUT as measured", syn_schedule_as_measured},
	{"knobs: SYN schedule without linear timeouts, and rto_max", syn_schedule_classic},
	{"knobs: SYN retransmission times", syn_schedule_times},
	{NULL, NULL},
};
