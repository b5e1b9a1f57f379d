/* Unit tests: the rollback stack's text and the sysctl.d edits of set and revert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollback.h"
#include "unit.h"

static int parse(const char *text, struct rb_record *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return rollback_parse(text, strlen(text), r, err, errlen);
}

static void parse_stacks(void)
{
	struct rb_record r;
	char err[512];

	CHECK(parse("", &r, err, sizeof(err)) == 0);
	CHECK(parse("# only comments\n\n", &r, err, sizeof(err)) == 0);
	/* The format of earlier versions: one record, no "[set]". */
	const char *v1 = "# tcpstate tune: values before the last set\n"
			 "net.ipv4.tcp_tw_reuse = 2\n"
			 "port-range = 32768 60999\n"
			 "net.ipv4.ip_local_reserved_ports = \n";
	CHECK(parse(v1, &r, err, sizeof(err)) == 1);
	CHECK(r.start == 0 && r.end == strlen(v1) && r.n == 3 && !r.persist.len);
	CHECK(r.knob[1] == knob_find("port-range") && r.old[1].len == 11 &&
	      memcmp(r.old[1].p, "32768 60999", 11) == 0);
	CHECK(r.old[2].len == 0);
	const char *two = "# preamble\n"
			  "[set]\n# time: 1\nnet.ipv4.tcp_fin_timeout = 100000\n"
			  "[set]\nnet.ipv4.tcp_max_tw_buckets = -1\n"
			  "persist /etc/sysctl.d/x.conf\ncreated\n"
			  "wrote net.ipv4.tcp_max_tw_buckets = 5\n"
			  "had net.ipv4.tcp_max_tw_buckets=7\n";
	CHECK(parse(two, &r, err, sizeof(err)) == 2);
	CHECK(r.start == (size_t)(strstr(two, "[set]\nnet.ipv4.tcp_max") - two) &&
	      r.end == strlen(two));
	CHECK(r.n == 1 && r.created && r.persist.len == strlen("/etc/sysctl.d/x.conf"));
	/* The stack without its newest record. */
	CHECK(rollback_parse(two, r.start, &r, err, sizeof(err)) == 1);
	CHECK(r.n == 1 && r.knob[0] == knob_find("fin-timeout") && !r.persist.len);

	static const struct {
		const char *text, *err;
	} bad[] = {
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\ntcp_fin_timeout = 61\n",
		 "line 3: net.ipv4.tcp_fin_timeout is recorded twice in one set"},
		{"net.ipv4.tcp_tw_reuse = 0\nnet.ipv4.tcp_tw_reuse = 1\n",
		 "line 2: net.ipv4.tcp_tw_reuse is recorded twice in one set"},
		{"[set]\nnet.ipv4.tcp_tw_reuse = 0\n[set]\n# nothing\n",
		 "line 3: a set that records no values"},
		{"[set]\nnet.ipv4.tcp_tw_recycle = 0\n", "line 2: unknown knob"},
		{"[set]\nnet.ipv4.tcp_fin_timeout = soon\n", "line 2: net.ipv4.tcp_fin_timeout"},
		{"[set]\nnet.ipv4.tcp_fin_timeout\n", "line 2: cannot read"},
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\npersist x.conf\n",
		 "line 3: \"persist\" needs"},
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\ncreated\n", "line 3: \"created\" before"},
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\npersist /a\nhad net.ipv4.tcp_fin_timeout = "
		 "1\n",
		 "line 4: "},
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\npersist /a\nwrote net.ipv4.tcp_tw_reuse = "
		 "1\n",
		 "line 4: "},
		{"[set]\nnet.ipv4.tcp_fin_timeout = 60\npersist /a\npersist /b\n", "line 4: two"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].text, &r, err, sizeof(err)) != -1 ||
		    strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			printf("  bad stack %zu: got \"%s\", want \"%s...\"\n", i, err, bad[i].err);
			unit_failed = 1;
		}
	}
}

/* Text written to a memory stream by fn. */
struct buf {
	char *p;
	size_t len;
	FILE *f;
};

static FILE *buf_open(struct buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->f = open_memstream(&b->p, &b->len);
	return b->f;
}

static void buf_close(struct buf *b)
{
	CHECK(b->f && !ferror(b->f));
	if (b->f)
		fclose(b->f);
	b->f = NULL;
}

struct changed {
	const struct knob *k[ROLLBACK_MAX];
	int n;
	unsigned restored; /* what rollback_persist_undo() says it restored */
};

static void on_changed(const struct knob *k, void *arg)
{
	struct changed *c = arg;
	if (c->n < ROLLBACK_MAX)
		c->k[c->n++] = k;
}

/*
 * set --persist on `file` (NULL: none), the record it makes, then revert:
 * the file after set goes to *after_set, after revert to *after_revert.
 */
static void round_trip(const char *file, const struct setting *want, int n, char **after_set,
		       char **after_revert, int *remove, struct changed *c, const char *edit_from,
		       const char *edit_to)
{
	struct buf conf, rec, stack, undo;
	struct setting old[ROLLBACK_MAX];
	struct rb_record r;
	char err[512];

	for (int i = 0; i < n; i++) {
		old[i].knob = want[i].knob;
		snprintf(old[i].value, sizeof(old[i].value), "1");
	}
	CHECK(buf_open(&conf) && buf_open(&rec));
	rollback_persist_set(file, file ? strlen(file) : 0, "/etc/sysctl.d/t.conf", want, n, conf.f,
			     rec.f);
	buf_close(&conf);
	buf_close(&rec);
	CHECK(buf_open(&stack) != NULL);
	rollback_preamble(stack.f);
	rollback_record(stack.f, "ns\nname", 42, old, n, rec.p, rec.len);
	buf_close(&stack);
	CHECK(rollback_parse(stack.p, stack.len, &r, err, sizeof(err)) == 1);
	/* Someone edits the file between set and revert. */
	char *cur = strdup(conf.p);
	char *at = edit_from ? strstr(cur, edit_from) : NULL;
	if (at && strlen(edit_to) == strlen(edit_from))
		memcpy(at, edit_to, strlen(edit_to));
	CHECK(buf_open(&undo) != NULL);
	memset(c, 0, sizeof(*c));
	c->restored =
		rollback_persist_undo(stack.p, &r, cur, strlen(cur), undo.f, remove, on_changed, c);
	buf_close(&undo);
	*after_set = conf.p;
	*after_revert = undo.p;
	free(cur);
	free(rec.p);
	free(stack.p);
}

static void persist_round_trips(void)
{
	struct setting want[2];
	struct changed c;
	char *set, *back;
	int remove;

	want[0].knob = knob_find("fin-timeout");
	snprintf(want[0].value, sizeof(want[0].value), "30");
	want[1].knob = knob_find("tw-reuse");
	snprintf(want[1].value, sizeof(want[1].value), "1");

	/* The user's lines come back as they were, in place. */
	const char *mine =
		"# mine\nnet.ipv4.tcp_fin_timeout = 45\nnet.ipv4.tcp_keepalive_time = 600\n";
	round_trip(mine, want, 2, &set, &back, &remove, &c, NULL, NULL);
	CHECK_STR(set, "# mine\nnet.ipv4.tcp_fin_timeout = 30\nnet.ipv4.tcp_keepalive_time = 600\n"
		       "net.ipv4.tcp_tw_reuse = 1\n");
	CHECK_STR(back, mine);
	CHECK(!remove && c.n == 0 && c.restored == 3);
	free(set);
	free(back);

	/* No file before: revert removes the one set created. */
	round_trip(NULL, want, 2, &set, &back, &remove, &c, NULL, NULL);
	CHECK_STR(set, ROLLBACK_PERSIST_HEADER "net.ipv4.tcp_fin_timeout = 30\n"
					       "net.ipv4.tcp_tw_reuse = 1\n");
	CHECK_STR(back, ROLLBACK_PERSIST_HEADER);
	CHECK(remove && c.n == 0);
	free(set);
	free(back);

	/* An empty file stays, empty. */
	round_trip("", want, 1, &set, &back, &remove, &c, NULL, NULL);
	CHECK_STR(set, "net.ipv4.tcp_fin_timeout = 30\n");
	CHECK_STR(back, "");
	CHECK(!remove);
	free(set);
	free(back);

	/* Several lines of a knob, both spellings, "-": they come back together, in order. */
	const char *dup = "-net/ipv4/tcp_fin_timeout=50\nx = 1\n net.ipv4.tcp_fin_timeout = 45\n"
			  "net.ipv4.tcp_fin_timeout_not = 2\n";
	round_trip(dup, want, 1, &set, &back, &remove, &c, NULL, NULL);
	CHECK_STR(set, "net.ipv4.tcp_fin_timeout = 30\nx = 1\nnet.ipv4.tcp_fin_timeout_not = 2\n");
	CHECK_STR(back, "-net/ipv4/tcp_fin_timeout=50\n net.ipv4.tcp_fin_timeout = 45\nx = 1\n"
			"net.ipv4.tcp_fin_timeout_not = 2\n");
	free(set);
	free(back);

	/* A line edited since the set is left as it is, and said. */
	round_trip(mine, want, 2, &set, &back, &remove, &c, "tcp_fin_timeout = 30",
		   "tcp_fin_timeout = 35");
	CHECK_STR(back,
		  "# mine\nnet.ipv4.tcp_fin_timeout = 35\nnet.ipv4.tcp_keepalive_time = 600\n");
	CHECK(c.n == 1 && c.k[0] == want[0].knob);
	/* Only the other knob's lines are said to be restored. */
	CHECK(c.restored == 2);
	free(set);
	free(back);

	/* The only knob's line edited: nothing is restored. */
	round_trip(mine, want, 1, &set, &back, &remove, &c, "tcp_fin_timeout = 30",
		   "tcp_fin_timeout = 35");
	CHECK(c.n == 1 && c.restored == 0);
	free(set);
	free(back);
}

/* The record stays parseable whatever the namespace's name holds. */
static void record_format(void)
{
	struct setting old[1];
	struct buf b;
	struct rb_record r;
	char err[512];

	old[0].knob = knob_find("reserved-ports");
	old[0].value[0] = '\0';
	CHECK(buf_open(&b) != NULL);
	rollback_preamble(b.f);
	rollback_record(b.f, "a\nnet.ipv4.tcp_tw_reuse = 1", 7, old, 1, "", 0);
	rollback_record(b.f, NULL, 8, old, 1, "", 0);
	buf_close(&b);
	CHECK(rollback_parse(b.p, b.len, &r, err, sizeof(err)) == 2);
	CHECK(r.n == 1 && r.knob[0] == old[0].knob && r.old[0].len == 0);
	CHECK(strstr(b.p, "# namespace: a?net.ipv4.tcp_tw_reuse = 1\n") != NULL);
	CHECK(strstr(b.p, "# namespace: (the tool's own)\n# time: 8\n") != NULL);
	free(b.p);
}

/* The namespace a record was made for, as revert checks it. */
static void record_netns(void)
{
	struct setting old[1];
	struct buf b;
	struct rb_record r;
	char err[512];

	old[0].knob = knob_find("fin-timeout");
	snprintf(old[0].value, sizeof(old[0].value), "60");
	CHECK(buf_open(&b) != NULL);
	rollback_record(b.f, "web\n1", 7, old, 1, "", 0);
	buf_close(&b);
	CHECK(rollback_parse(b.p, b.len, &r, err, sizeof(err)) == 1);
	CHECK(rollback_netns_is(&r, "web\n1") && !rollback_netns_is(&r, "web"));
	CHECK(!rollback_netns_is(&r, "web\n12") && !rollback_netns_is(&r, NULL));
	free(b.p);

	CHECK(buf_open(&b) != NULL);
	rollback_record(b.f, NULL, 8, old, 1, "", 0);
	buf_close(&b);
	CHECK(rollback_parse(b.p, b.len, &r, err, sizeof(err)) == 1);
	CHECK(rollback_netns_is(&r, NULL) && !rollback_netns_is(&r, "web"));
	free(b.p);

	/* Earlier versions' records name none: any namespace may revert them. */
	const char *old_format = "net.ipv4.tcp_fin_timeout = 60\n";
	CHECK(rollback_parse(old_format, strlen(old_format), &r, err, sizeof(err)) == 1);
	CHECK(rollback_netns_is(&r, "web") && rollback_netns_is(&r, NULL));
}

const struct unit_test rollback_tests[] = {
	{"rollback: stacks parsed, bad ones refused by line", parse_stacks},
	{"rollback: persist and revert round trips", persist_round_trips},
	{"rollback: records stay one line per field", record_format},
	{"rollback: a record's namespace", record_netns},
	{NULL, NULL},
};
