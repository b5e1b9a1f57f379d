/* Unit tests: reading /proc/sys values, and checking values for tune. */
#include <errno.h>
#include <stdio.h>
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

/*
 * Numbers by name, as list, top, tune and explain read them: exactly n of
 * them, or an error and every one -1.  Only reads.
 */
static void read_numbers(void)
{
	const struct knob *range = knob_find("port-range");
	char v[SYSCTL_VALUE_MAX], want[64];
	long two[2], three[3], one = 0;

	CHECK(range && sysctl_read(range, v, sizeof(v)) == 0);
	CHECK(sysctl_read_longs("net.ipv4.ip_local_port_range", two, 2) == 0);
	snprintf(want, sizeof(want), "%ld %ld", two[0], two[1]);
	CHECK_STR(want, v);
	CHECK(two[0] >= 1 && two[0] <= two[1] && two[1] <= 65535);

	/* Fewer or more numbers than the value holds. */
	CHECK(sysctl_read_longs("net.ipv4.ip_local_port_range", &one, 1) == -EINVAL);
	CHECK(one == -1);
	CHECK(sysctl_read_longs("net.ipv4.ip_local_port_range", three, 3) == -EINVAL);
	CHECK(three[0] == -1 && three[1] == -1 && three[2] == -1);
	/* Not a number; not there. */
	CHECK(sysctl_read_longs("kernel.ostype", &one, 1) == -EINVAL && one == -1);
	CHECK(sysctl_read_longs("net.ipv4.no_such_knob", two, 2) == -ENOENT);
	CHECK(two[0] == -1 && two[1] == -1);
}

/*
 * revert restores what the kernel showed: the form is checked, never the
 * ranges tcpstate advises for set.
 */
static void form_versus_advice(void)
{
	static const struct {
		const char *knob, *value;
		int form_ok, advised_ok;
	} cases[] = {
		{"fin-timeout", "100000", 1, 0},
		{"fin-timeout", "30", 1, 1},
		{"fin-timeout", "-7", 1, 0},
		{"fin-timeout", "3x", 0, 0},
		{"fin-timeout", "", 0, 0},
		{"fin-timeout", "1 2", 0, 0},
		{"max-tw", "-1", 1, 0},
		{"max-tw", "99999999999999999999999", 0, 0},
		{"port-range", "1 1", 1, 1},
		{"port-range", "0 70000", 1, 0},
		{"port-range", "1 2 3", 0, 0},
		{"port-range", "x", 0, 0},
		{"reserved-ports", "", 1, 1},
		{"reserved-ports", "0", 1, 0},
		{"reserved-ports", "8080,9000-9100", 1, 1},
		{"reserved-ports", "9100-9000", 0, 0},
		{"reserved-ports", "80;81", 0, 0},
		{"tw-recycle", "0", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct knob *k = knob_find(cases[i].knob);
		char norm[SYSCTL_VALUE_MAX], err[512], warn[256];
		CHECK(k != NULL);
		if (!k)
			continue;
		err[0] = '\0';
		int form = knob_check_form(k, cases[i].value, err, sizeof(err)) == 0;
		int advised = knob_validate(k, cases[i].value, -1, norm, sizeof(norm), err,
					    sizeof(err), warn, sizeof(warn)) == 0;
		if (form != cases[i].form_ok || advised != cases[i].advised_ok) {
			printf("  %s=\"%s\": form %d advised %d, want %d %d (%s)\n", cases[i].knob,
			       cases[i].value, form, advised, cases[i].form_ok, cases[i].advised_ok,
			       err);
			unit_failed = 1;
		}
	}
	char err[512];
	CHECK(knob_check_form(knob_find("fin-timeout"), "3x", err, sizeof(err)) < 0);
	CHECK(strstr(err, "net.ipv4.tcp_fin_timeout") && strstr(err, "\"3x\""));
}

const struct unit_test sysctl_tests[] = {
	{"sysctl: a value that fits exactly is read whole", read_exact_fit},
	{"sysctl: numbers by name, exactly as many as asked", read_numbers},
	{"knobs: revert's form check, set's advised ranges", form_versus_advice},
	{NULL, NULL},
};
