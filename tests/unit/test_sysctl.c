/* Unit tests: reading /proc/sys values. */
#include <errno.h>
#include <string.h>

#include "knobs.h"
#include "sysctl.h"
#include "unit.h"

/*
 * A value that fits the buffer exactly (its characters and the NUL) is
 * read whole; one byte less is -E2BIG, never a cut value.  Only reads:
 * kernel.ostype is "Linux" everywhere, the port range has a tab to fold.
 */
static void read_exact_fit(void)
{
	const struct knob ostype = {"kernel.ostype", "", KNOB_INT, 0, 0, NULL, "", 0, "", ""};
	const struct knob *range = knob_find("port-range");
	char v[SYSCTL_VALUE_MAX], got[SYSCTL_VALUE_MAX];

	CHECK(sysctl_read(&ostype, got, 6) == 0);
	CHECK_STR(got, "Linux");
	CHECK(sysctl_read(&ostype, got, 5) == -E2BIG);
	CHECK(sysctl_read(&ostype, got, 1) == -E2BIG);
	CHECK(sysctl_read(&ostype, got, 0) == -E2BIG);

	CHECK(range && sysctl_read(range, v, sizeof(v)) == 0);
	size_t n = strlen(v);
	CHECK(n >= 3 && strchr(v, ' ') && !strchr(v, '\t'));
	CHECK(sysctl_read(range, got, n + 1) == 0);
	CHECK_STR(got, v);
	CHECK(sysctl_read(range, got, n) == -E2BIG);
}

const struct unit_test sysctl_tests[] = {
	{"sysctl: a value that fits exactly is read whole", read_exact_fit},
	{NULL, NULL},
};
