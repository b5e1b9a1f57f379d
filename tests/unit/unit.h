/*
 * unit.h - a very small test harness: each test is a function, each failed
 * CHECK prints the line and the expression, and main() (unit.c) prints one
 * PASS or FAIL line per test in the form tests/run counts.
 */
#ifndef TCPSTATE_UNIT_H
#define TCPSTATE_UNIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int unit_failed;
/* Why the running test was skipped, or NULL: set it with unit_skip(). */
extern const char *unit_skipped;
/* Skip the running test, visibly: tests/run counts a SKIP line with the reason. */
void unit_skip(const char *why);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
			unit_failed = 1;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (strcmp(g_, w_) != 0) {                                                         \
			printf("  %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, w_);  \
			unit_failed = 1;                                                           \
		}                                                                                  \
	} while (0)

struct topmodel;
struct sock_rec;
/*
 * A kernel socket as the dump gives one: its state and both ends, from
 * addresses as text (a peer of "*": none, all zeros, as a listener's).
 */
struct sock_rec unit_sockrow(int state, const char *la, int lport, const char *ra, int rport);
/* A refresh of top's model as cmd_top.c makes one (test_topmodel.c): begin, each socket, end. */
int unit_top_refresh(struct topmodel *m, const struct sock_rec *r, size_t n, uint64_t now_us,
		     const char *procroot);

/* Make a file of a fake tree (a /proc, a run dir) holding text; a failure fails the test. */
void unit_write_file(const char *path, const char *text);

struct out;
/* What fn wrote through a struct out, read back from a temporary file into got. */
void unit_written(void (*fn)(struct out *, void *), void *arg, char *got, size_t len);

/* Bytes a test builds up (a packet, a netlink reply) to feed a parser. */
struct unit_buf {
	uint8_t b[8192];
	size_t n;
};

/* Append n bytes of d, or one byte v.  Past the end of the buffer the test
 * fails, naming the overrun, and nothing is written. */
void unit_put(struct unit_buf *u, const void *d, size_t n);
void unit_put8(struct unit_buf *u, unsigned v);

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Each test file exports a NULL-terminated table. */
extern const struct unit_test state_tests[], filter_tests[], diagmsg_tests[], procmap_tests[],
	out_tests[], engine_tests[], decode_tests[], topmodel_tests[], savefile_tests[],
	capture_tests[], sysctl_tests[], rollback_tests[], census_tests[], knobs_tests[],
	sure_tests[], filterbc_tests[], jsonpick_tests[], nsname_tests[], nsall_tests[],
	topns_tests[], metrics_tests[];

#endif
