/*
 * unit.c - runs every unit test table.  Optional argument: a substring of
 * the test names to run.
 */
#include "unit.h"

int unit_failed;

int main(int argc, char **argv)
{
	const struct unit_test *const tables[] = {
		state_tests,  filter_tests,   diagmsg_tests,  procmap_tests,  out_tests,
		engine_tests, decode_tests,   topmodel_tests, savefile_tests, capture_tests,
		sysctl_tests, rollback_tests, census_tests,   knobs_tests,    sure_tests};
	int failures = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct unit_test *u = tables[t]; u->name; u++) {
			if (argc > 1 && !strstr(u->name, argv[1]))
				continue;
			unit_failed = 0;
			u->fn();
			printf("%s: %s\n", unit_failed ? "FAIL" : "PASS", u->name);
			failures += unit_failed;
		}
	}
	return failures ? 1 : 0;
}
