/*
 * rollback.h - the text of the files `tune` keeps: the rollback stack, one
 * record per `tune set` (the kernel values before it and, when it
 * persisted, the sysctl.d lines it replaced), and the edits of the sysctl.d
 * file by set and by revert.  Text in, text out: reading, writing and
 * locking the files is sysctl.c's, the order of the steps cmd_tune.c's.
 *
 * The stack, oldest record first:
 *
 *   # comments
 *   [set]
 *   # namespace: NAME
 *   # time: 1712345678
 *   net.ipv4.tcp_fin_timeout = 60          the kernel's value before the set
 *   persist /etc/sysctl.d/90-tcpstate.conf the file the set also wrote
 *   created                                which did not exist before
 *   wrote net.ipv4.tcp_fin_timeout = 30    the line the set wrote there
 *   had net.ipv4.tcp_fin_timeout = 45      a line it replaced, as it was
 *
 * Lines before the first "[set]" that are not comments form one record:
 * that is the whole file in the format of earlier versions.  The namespace
 * line names the set's -N, or ROLLBACK_OWN_NETNS without it; revert checks
 * it against its own.
 */
#ifndef TCPSTATE_ROLLBACK_H
#define TCPSTATE_ROLLBACK_H

#include <stddef.h>
#include <stdio.h>

#include "knobs.h"
#include "sysctl.h"

/* Settings in one record: as many as one set takes. */
#define ROLLBACK_MAX 16

/* The first line of a sysctl.d file that set creates. */
#define ROLLBACK_PERSIST_HEADER                                                                    \
	"# Written by tcpstate tune --persist; other lines are kept as they were.\n"

/* The namespace line of a set made without -N. */
#define ROLLBACK_OWN_NETNS "(the tool's own)"

/* A piece of the stack's text. */
struct rb_span {
	const char *p;
	size_t len;
};

/* One record, pointing into the stack's text. */
struct rb_record {
	size_t start, end; /* its bytes: the stack without it is text[0..start) */
	int n;		   /* kernel values before the set */
	const struct knob *knob[ROLLBACK_MAX];
	struct rb_span old[ROLLBACK_MAX];
	struct rb_span persist; /* the sysctl.d file the set wrote; len 0 if none */
	int created;		/* that file did not exist before the set */
	struct rb_span netns;	/* its "# namespace:" line's name; p NULL if none */
};

/*
 * Check every record of a stack and parse the newest into *r.  Returns the
 * number of records (0 for none), or -1 with "line N: why" in err.  A
 * record that names a knob twice is refused, as set refuses it.
 */
int rollback_parse(const char *text, size_t len, struct rb_record *r, char *err, size_t errlen);

/*
 * Whether record r was made for namespace netns (NULL: without -N), as
 * rollback_record() wrote it; a record with no namespace line (earlier
 * versions) is taken to be.
 */
int rollback_netns_is(const struct rb_record *r, const char *netns);

/* The first lines of a new stack. */
void rollback_preamble(FILE *f);

/*
 * One set's record: the kernel values before it (old[0..n)), the namespace
 * for the reader, the time, and, when it persisted, the lines
 * rollback_persist_set() wrote to `rec`.
 */
void rollback_record(FILE *f, const char *netns, long now, const struct setting *old, int n,
		     const char *persist_lines, size_t persist_len);

/*
 * The sysctl.d file after a set of want[0..n): each knob's first line
 * replaced in place by "name = value", its other lines dropped, knobs it
 * lacked appended.  cur is the file's text, or NULL when there is none.
 * The new text goes to out; the record's lines ("persist PATH", "created",
 * "wrote ...", "had ..." for every line replaced) go to rec.
 */
void rollback_persist_set(const char *cur, size_t curlen, const char *path,
			  const struct setting *want, int n, FILE *out, FILE *rec);

/*
 * The sysctl.d file (its text cur) after reverting record r of the stack
 * `text`: each knob whose one line is still the one the set wrote gets back
 * the lines it had; a knob whose lines changed since (by hand, or by a set
 * on another stack) is left as it is and handed to changed().  *remove is
 * set when the set created the file and nothing but its header is left.
 * Returns a bit (1 << i) for each r->knob[i] whose lines were restored.
 */
unsigned rollback_persist_undo(const char *text, const struct rb_record *r, const char *cur,
			       size_t curlen, FILE *out, int *remove,
			       void (*changed)(const struct knob *k, void *arg), void *arg);

#endif
