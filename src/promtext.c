/*
 * promtext.c - the Prometheus text format 0.0.4 and OpenMetrics 1.0.0
 * writer (see promtext.h).
 */
#include "promtext.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

void pt_init(struct promtext *pt, int openmetrics)
{
	memset(pt, 0, sizeof(*pt));
	pt->openmetrics = openmetrics;
}

static int reserve(struct promtext *pt, size_t n)
{
	if (pt->oom)
		return -1;
	if (n <= pt->cap - pt->len)
		return 0;
	size_t cap = pt->cap ? pt->cap : 4096;
	while (cap - pt->len < n)
		cap *= 2;
	char *b = realloc(pt->buf, cap);
	if (!b) {
		pt->oom = 1;
		return -1;
	}
	pt->buf = b;
	pt->cap = cap;
	return 0;
}

static void put(struct promtext *pt, const char *s, size_t n)
{
	if (reserve(pt, n) < 0)
		return;
	memcpy(pt->buf + pt->len, s, n);
	pt->len += n;
}

static void puts_(struct promtext *pt, const char *s)
{
	put(pt, s, strlen(s));
}

/*
 * A counter's samples end in _total in both formats; its HELP and TYPE lines
 * name the family with _total in the text format (which has no families,
 * only the sample name) and without in OpenMetrics.  The same for info.
 */
static const char *suffix(const struct promtext *pt, enum pt_type t, int sample)
{
	if (!sample && pt->openmetrics)
		return "";
	return t == PT_COUNTER ? "_total" : t == PT_INFO ? "_info" : "";
}

void pt_family(struct promtext *pt, const char *name, enum pt_type type, const char *help)
{
	const char *sfx = suffix(pt, type, 0);
	const char *tname = type == PT_COUNTER			 ? "counter"
			    : type == PT_INFO && pt->openmetrics ? "info"
								 : "gauge";

	pt->family = name;
	pt->type = type;
	puts_(pt, "# HELP ");
	puts_(pt, name);
	puts_(pt, sfx);
	put(pt, " ", 1);
	puts_(pt, help);
	puts_(pt, "\n# TYPE ");
	puts_(pt, name);
	puts_(pt, sfx);
	put(pt, " ", 1);
	puts_(pt, tname);
	put(pt, "\n", 1);
}

/*
 * A label value: `\`, `"` and newline escaped, as both formats require;
 * a byte that is not part of valid UTF-8 (a process may name itself
 * anything) becomes U+FFFD, since a scraper rejects invalid UTF-8.
 */
static void put_value(struct promtext *pt, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = utf8_seq_len(p);
		if (k == 0) {
			puts_(pt, "\xef\xbf\xbd");
			k = 1;
		} else if (*p == '\\') {
			puts_(pt, "\\\\");
		} else if (*p == '"') {
			puts_(pt, "\\\"");
		} else if (*p == '\n') {
			puts_(pt, "\\n");
		} else {
			put(pt, (const char *)p, k);
		}
		p += k;
	}
}

static void put_name_labels(struct promtext *pt, const struct pt_label *ls, size_t n)
{
	puts_(pt, pt->family);
	puts_(pt, suffix(pt, pt->type, 1));
	if (n == 0)
		return;
	put(pt, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(pt, ",", 1);
		puts_(pt, ls[i].name);
		put(pt, "=\"", 2);
		put_value(pt, ls[i].value);
		put(pt, "\"", 1);
	}
	put(pt, "}", 1);
}

void pt_sample(struct promtext *pt, const struct pt_label *ls, size_t n, double v)
{
	char num[40];

	put_name_labels(pt, ls, n);
	/* No libm: NaN is the value unequal to itself, and infinities lie past DBL_MAX. */
	if (v != v)
		snprintf(num, sizeof(num), " NaN\n");
	else if (v > DBL_MAX || v < -DBL_MAX)
		snprintf(num, sizeof(num), " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v)
		snprintf(num, sizeof(num), " %.0f\n",
			 v); /* whole numbers as integers: 0, not 0e+00 */
	else
		snprintf(num, sizeof(num), " %.15g\n", v); /* 15 digits: 0.1 stays 0.1 */
	puts_(pt, num);
}

void pt_sample_u64(struct promtext *pt, const struct pt_label *ls, size_t n, uint64_t v)
{
	char num[24];
	size_t k;

	put_name_labels(pt, ls, n);
	num[0] = ' ';
	k = 1 + fmt_u64(num + 1, v);
	num[k++] = '\n';
	put(pt, num, k);
}

int pt_finish(struct promtext *pt, char **out, size_t *len)
{
	if (pt->openmetrics)
		puts_(pt, "# EOF\n");
	put(pt, "", 1); /* the NUL, not counted */
	if (pt->oom) {
		free(pt->buf);
		pt->buf = NULL;
		*out = NULL;
		*len = 0;
		return -1;
	}
	*out = pt->buf;
	*len = pt->len - 1;
	pt->buf = NULL;
	return 0;
}
