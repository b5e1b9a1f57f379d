/*
 * promtext.h - the Prometheus exposition writer: the text format 0.0.4
 * and OpenMetrics 1.0.0, into a growing buffer.  It knows the formats'
 * rules (HELP and TYPE lines, where `_total` goes, label escaping, number
 * forms, `# EOF`) and nothing of what is measured: metrics.c says what.
 *
 * Out of memory is remembered, not reported at each call: pt_finish says
 * whether the whole text was written.
 */
#ifndef TCPSTATE_PROMTEXT_H
#define TCPSTATE_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

enum pt_type {
	PT_GAUGE,
	PT_COUNTER, /* samples NAME_total; the text format's TYPE line names NAME_total too */
	PT_INFO, /* OpenMetrics' info (samples NAME_info); a gauge NAME_info in the text format */
};

struct pt_label {
	const char *name;
	const char *value; /* any bytes: escaped, invalid UTF-8 replaced */
};

struct promtext {
	char *buf;
	size_t len, cap;
	int oom;
	int openmetrics;
	/* The family being written: its samples' name and type. */
	const char *family;
	enum pt_type type;
};

void pt_init(struct promtext *pt, int openmetrics);
/*
 * Start family name (a counter's without `_total`, an info's without
 * `_info`): its HELP and TYPE lines.  help is plain ASCII without `\` or
 * a newline.
 */
void pt_family(struct promtext *pt, const char *name, enum pt_type type, const char *help);
/* One sample of the current family, labels in the order given (n may be 0). */
void pt_sample(struct promtext *pt, const struct pt_label *ls, size_t n, double v);
/* The same with an integer value, written exactly. */
void pt_sample_u64(struct promtext *pt, const struct pt_label *ls, size_t n, uint64_t v);
/*
 * End the text (OpenMetrics: `# EOF`) and hand it over: *out malloc'ed and
 * NUL-terminated, *len its length.  0, or -1 when memory ran out at any
 * point (nothing is handed over, the buffer is freed).
 */
int pt_finish(struct promtext *pt, char **out, size_t *len);

#endif
