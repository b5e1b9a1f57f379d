/*
 * rollback.c - the rollback stack's text and the sysctl.d edits of
 * `tune set` and `tune revert` (the format is in rollback.h).
 */
#include "rollback.h"

#include <string.h>

/* The next line of [*p, end), without its newline; 0 at the end. */
static int next_line(const char **p, const char *end, struct rb_span *line)
{
	if (*p >= end)
		return 0;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	line->p = *p;
	line->len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl ? nl + 1 : end;
	return 1;
}

/* The rest of line after word, or a span with p NULL when it does not start with it. */
static struct rb_span after(struct rb_span line, const char *word)
{
	size_t n = strlen(word);
	struct rb_span rest = {NULL, 0};

	if (line.len >= n && memcmp(line.p, word, n) == 0) {
		rest.p = line.p + n;
		rest.len = line.len - n;
	}
	return rest;
}

static int span_is(struct rb_span s, const char *word)
{
	return s.len == strlen(word) && memcmp(s.p, word, s.len) == 0;
}

static int blank(struct rb_span s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] != ' ' && s.p[i] != '\t' && s.p[i] != '\r')
			return 0;
	return 1;
}

/*
 * The knob a sysctl.d line sets, by its full name in either spelling
 * (net.ipv4.x or net/ipv4/x, "-" first for one whose failure is ignored),
 * or NULL: comments, blank lines and other keys.
 */
static const struct knob *line_knob(struct rb_span l)
{
	char name[128];
	size_t i = 0, s;

	while (i < l.len && (l.p[i] == ' ' || l.p[i] == '\t'))
		i++;
	if (i < l.len && l.p[i] == '-')
		i++;
	for (s = i; i < l.len && l.p[i] != '=' && l.p[i] != ' ' && l.p[i] != '\t'; i++)
		;
	if (i == s || i - s >= sizeof(name))
		return NULL;
	for (size_t j = s; j < i; j++)
		name[j - s] = l.p[j] == '/' ? '.' : l.p[j];
	name[i - s] = '\0';
	for (const struct knob *k = knob_table; k->name; k++)
		if (k->type != KNOB_MYTH && strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* -1, with a line of the stack (cut short) quoted in err between `pre` and `post`. */
static int bad_line(char *err, size_t errlen, const char *pre, struct rb_span l, const char *post)
{
	snprintf(err, errlen, "%s\"%.*s\"%s", pre, (int)(l.len > 80 ? 80 : l.len), l.p, post);
	return -1;
}

static int knob_index(const struct knob *const *knobs, int n, const struct knob *k)
{
	for (int i = 0; k && i < n; i++)
		if (knobs[i] == k)
			return i;
	return -1;
}

/* "name = value": the knob (any name knob_find knows) and the value, checked for form. */
static int value_line(struct rb_span l, struct rb_record *r, char *err, size_t errlen)
{
	const char *eq = memchr(l.p, '=', l.len), *end = l.p + l.len;
	char name[128], value[SYSCTL_VALUE_MAX];

	if (!eq)
		return bad_line(err, errlen, "cannot read ", l, "");
	const char *ne = eq, *v = eq + 1;
	while (ne > l.p && (ne[-1] == ' ' || ne[-1] == '\t'))
		ne--;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (ne == l.p || (size_t)(ne - l.p) >= sizeof(name) || (size_t)(end - v) >= sizeof(value))
		return bad_line(err, errlen, "cannot read ", l, "");
	snprintf(name, sizeof(name), "%.*s", (int)(ne - l.p), l.p);
	snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);
	const struct knob *k = knob_find(name);
	if (!k || k->type == KNOB_MYTH) {
		snprintf(err, errlen, "unknown knob \"%s\"", name);
		return -1;
	}
	if (knob_index(r->knob, r->n, k) >= 0) {
		snprintf(err, errlen, "%s is recorded twice in one set", k->name);
		return -1;
	}
	if (r->n == ROLLBACK_MAX) {
		snprintf(err, errlen, "more than %d values in one set", ROLLBACK_MAX);
		return -1;
	}
	if (knob_check_form(k, value, err, errlen) < 0)
		return -1;
	r->knob[r->n] = k;
	r->old[r->n].p = v;
	r->old[r->n].len = (size_t)(end - v);
	r->n++;
	return 0;
}

/* A line of the sysctl.d part of a record; *wrote has a bit for each knob with a "wrote" line. */
static int persist_line(struct rb_span l, struct rb_record *r, unsigned *wrote, char *err,
			size_t errlen)
{
	struct rb_span rest;

	if ((rest = after(l, "persist ")).p) {
		if (r->persist.p || !rest.len || rest.p[0] != '/') {
			snprintf(err, errlen, "%s",
				 r->persist.p ? "two \"persist\" lines in one set"
					      : "\"persist\" needs an absolute path");
			return -1;
		}
		r->persist = rest;
		return 0;
	}
	if (!r->persist.p)
		return bad_line(err, errlen, "", l, " before \"persist\"");
	if (span_is(l, "created")) {
		r->created = 1;
		return 0;
	}
	int wrote_line = (rest = after(l, "wrote ")).p != NULL;
	if (!wrote_line)
		rest = after(l, "had ");
	int i = knob_index(r->knob, r->n, line_knob(rest));
	/* One "wrote" line per knob, and its "had" lines after it. */
	if (i < 0 || wrote_line == (int)(*wrote >> i & 1))
		return bad_line(err, errlen, "", l, " is not a line of this set's knobs");
	if (wrote_line)
		*wrote |= 1u << i;
	return 0;
}

static int record_line(struct rb_span l, struct rb_record *r, unsigned *wrote, char *err,
		       size_t errlen)
{
	if (after(l, "persist ").p || span_is(l, "created") || after(l, "wrote ").p ||
	    after(l, "had ").p)
		return persist_line(l, r, wrote, err, errlen);
	return value_line(l, r, err, errlen);
}

int rollback_parse(const char *text, size_t len, struct rb_record *r, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	struct rb_span l;
	struct rb_record cur;
	unsigned wrote = 0;
	int count = 0, in = 0, lineno = 0, start_line = 0;

	memset(&cur, 0, sizeof(cur));
	for (;;) {
		int more = next_line(&p, end, &l);
		int starts = more && span_is(l, "[set]");
		lineno += more;
		if ((starts || !more) && in) {
			if (!cur.n) {
				snprintf(err, errlen, "line %d: a set that records no values",
					 start_line);
				return -1;
			}
			cur.end = more ? (size_t)(l.p - text) : len;
			*r = cur;
			count++;
			in = 0;
		}
		if (!more)
			return count;
		if (starts || (!in && !blank(l) && l.p[0] != '#')) {
			/* Lines before any "[set]": the one record of earlier versions. */
			memset(&cur, 0, sizeof(cur));
			cur.start = starts ? (size_t)(l.p - text) : 0;
			wrote = 0;
			in = 1;
			start_line = lineno;
			if (starts)
				continue;
		}
		struct rb_span ns = after(l, "# namespace: ");
		if (in && ns.p && !cur.netns.p)
			cur.netns = ns;
		if (blank(l) || l.p[0] == '#')
			continue;
		if (record_line(l, &cur, &wrote, err, errlen) < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "line %d: %s", lineno, why);
			return -1;
		}
	}
}

/* The byte a namespace line holds for c: it stays one line. */
static int netns_byte(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f ? '?' : c;
}

int rollback_netns_is(const struct rb_record *r, const char *netns)
{
	const char *s = netns ? netns : ROLLBACK_OWN_NETNS;
	size_t i = 0;

	if (!r->netns.p)
		return 1;
	for (; i < r->netns.len && s[i]; i++)
		if (r->netns.p[i] != netns_byte(s[i]))
			return 0;
	return i == r->netns.len && !s[i];
}

void rollback_preamble(FILE *f)
{
	fputs("# tcpstate tune: what each `tune set` changed, oldest first.\n"
	      "# `tcpstate tune revert` undoes the newest set and removes its record.\n",
	      f);
}

void rollback_record(FILE *f, const char *netns, long now, const struct setting *old, int n,
		     const char *persist_lines, size_t persist_len)
{
	fputs("[set]\n# namespace: ", f);
	for (const char *s = netns ? netns : ROLLBACK_OWN_NETNS; *s; s++)
		fputc(netns_byte(*s), f);
	fprintf(f, "\n# time: %ld\n", now);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s = %s\n", old[i].knob->name, old[i].value);
	fwrite(persist_lines, 1, persist_len, f);
}

void rollback_persist_set(const char *cur, size_t curlen, const char *path,
			  const struct setting *want, int n, FILE *out, FILE *rec)
{
	const struct knob *knobs[ROLLBACK_MAX];
	const char *p = cur, *end = cur ? cur + curlen : NULL;
	struct rb_span l;
	unsigned seen = 0;

	fprintf(rec, "persist %s\n", path);
	if (!cur) {
		fputs("created\n", rec);
		fputs(ROLLBACK_PERSIST_HEADER, out);
	}
	for (int i = 0; i < n && i < ROLLBACK_MAX; i++) {
		knobs[i] = want[i].knob;
		fprintf(rec, "wrote %s = %s\n", want[i].knob->name, want[i].value);
	}
	while (cur && next_line(&p, end, &l)) {
		int i = knob_index(knobs, n, line_knob(l));
		if (i < 0) {
			fprintf(out, "%.*s\n", (int)l.len, l.p);
			continue;
		}
		fprintf(rec, "had %.*s\n", (int)l.len, l.p);
		/* The knob's first line keeps its place; sysctl applies the last. */
		if (!(seen >> i & 1))
			fprintf(out, "%s = %s\n", want[i].knob->name, want[i].value);
		seen |= 1u << i;
	}
	for (int i = 0; i < n && i < ROLLBACK_MAX; i++)
		if (!(seen >> i & 1))
			fprintf(out, "%s = %s\n", want[i].knob->name, want[i].value);
}

unsigned rollback_persist_undo(const char *text, const struct rb_record *r, const char *cur,
			       size_t curlen, FILE *out, int *remove,
			       void (*changed)(const struct knob *k, void *arg), void *arg)
{
	unsigned restored = 0;
	struct rb_span wrote[ROLLBACK_MAX], l, rest;
	int count[ROLLBACK_MAX] = {0}, same[ROLLBACK_MAX] = {0}, other = 0;
	const char *p, *end = cur + curlen, *rend = text + r->end;

	memset(wrote, 0, sizeof(wrote));
	for (p = text + r->start; next_line(&p, rend, &l);) {
		int i = (rest = after(l, "wrote ")).p ? knob_index(r->knob, r->n, line_knob(rest))
						      : -1;
		if (i >= 0)
			wrote[i] = rest;
	}
	/* Restorable: the knob's one line is still what the set wrote. */
	for (p = cur; next_line(&p, end, &l);) {
		int i = knob_index(r->knob, r->n, line_knob(l));
		if (i >= 0 && wrote[i].p && ++count[i] == 1)
			same[i] = l.len == wrote[i].len && memcmp(l.p, wrote[i].p, l.len) == 0;
	}
	for (int i = 0; i < r->n; i++)
		if (wrote[i].p && !(count[i] == 1 && same[i]) && changed)
			changed(r->knob[i], arg);
	for (p = cur; next_line(&p, end, &l);) {
		int i = knob_index(r->knob, r->n, line_knob(l));
		if (i < 0 || !wrote[i].p || count[i] != 1 || !same[i]) {
			fprintf(out, "%.*s\n", (int)l.len, l.p);
			other |= !blank(l) && !(l.len + 1 == strlen(ROLLBACK_PERSIST_HEADER) &&
						memcmp(l.p, ROLLBACK_PERSIST_HEADER, l.len) == 0);
			continue;
		}
		restored |= 1u << i;
		const char *h = text + r->start;
		for (struct rb_span hl; next_line(&h, rend, &hl);)
			if ((rest = after(hl, "had ")).p && line_knob(rest) == r->knob[i]) {
				fprintf(out, "%.*s\n", (int)rest.len, rest.p);
				other |= !blank(rest);
			}
	}
	*remove = r->created && !other;
	return restored;
}
