/*
 * unit.c - runs every unit test table.  Optional argument: a substring of
 * the test names to run.
 */
#include "unit.h"

#include <stdlib.h>

#include "addr.h"
#include "out.h"
#include "sockrec.h"

int unit_failed;
const char *unit_skipped;

void unit_skip(const char *why)
{
	unit_skipped = why;
}

struct sock_rec unit_sockrow(int state, const char *la, int lport, const char *ra, int rport)
{
	struct sock_rec r;
	int fam;

	memset(&r, 0, sizeof(r));
	addr_parse(la, &fam, r.laddr);
	r.family = (uint8_t)fam;
	if (strcmp(ra, "*") != 0)
		addr_parse(ra, &fam, r.raddr);
	r.state = (uint8_t)state;
	r.lport = (uint16_t)lport;
	r.rport = (uint16_t)rport;
	return r;
}

void unit_put(struct unit_buf *u, const void *d, size_t n)
{
	if (n > sizeof(u->b) - u->n) {
		/* The stack beyond would take it silently: say so, and fail. */
		printf("  unit_put: %zu bytes after %zu overrun the %zu-byte buffer\n", n, u->n,
		       sizeof(u->b));
		unit_failed = 1;
		return;
	}
	memcpy(u->b + u->n, d, n);
	u->n += n;
}

void unit_put8(struct unit_buf *u, unsigned v)
{
	uint8_t b = (uint8_t)v;
	unit_put(u, &b, 1);
}

void unit_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		CHECK(fclose(f) == 0);
	}
}

void unit_written(void (*fn)(struct out *, void *), void *arg, char *got, size_t len)
{
	FILE *f = tmpfile();
	struct out *o = malloc(sizeof(*o));

	got[0] = '\0';
	CHECK(f && o);
	if (f && o) {
		out_init(o, fileno(f));
		fn(o, arg);
		CHECK(out_flush(o) == 0);
		rewind(f);
		got[fread(got, 1, len - 1, f)] = '\0';
	}
	if (f)
		fclose(f);
	free(o);
}

int main(int argc, char **argv)
{
	const struct unit_test *const tables[] = {
		state_tests,	filter_tests,	diagmsg_tests,	procmap_tests,	out_tests,
		engine_tests,	decode_tests,	topmodel_tests, savefile_tests, capture_tests,
		sysctl_tests,	rollback_tests, census_tests,	knobs_tests,	sure_tests,
		filterbc_tests, jsonpick_tests, nsname_tests,	nsall_tests,	topns_tests,
		metrics_tests};
	int failures = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct unit_test *u = tables[t]; u->name; u++) {
			if (argc > 1 && !strstr(u->name, argv[1]))
				continue;
			unit_failed = 0;
			unit_skipped = NULL;
			u->fn();
			if (unit_skipped && !unit_failed)
				printf("SKIP: %s: %s\n", u->name, unit_skipped);
			else
				printf("%s: %s\n", unit_failed ? "FAIL" : "PASS", u->name);
			failures += unit_failed;
		}
	}
	return failures ? 1 : 0;
}
