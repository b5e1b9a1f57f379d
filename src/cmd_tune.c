/*
 * cmd_tune.c - `tcpstate tune`: TIME-WAIT and ephemeral-port settings,
 * shown with their real meaning, changed as one reversible transaction,
 * and myths refused with the reason; plus exact guidance for Windows,
 * macOS and FreeBSD.
 *
 *   tune show [KNOB...]          values, defaults, ranges, meanings, advice
 *   tune set KNOB=VALUE...       validate all, confirm, record, apply all or none
 *   tune revert [--all]          undo the newest set (or all), kernel and sysctl.d file
 *   tune guide [--os OS]         the commands for each system
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "census.h"
#include "cmd.h"
#include "knobs.h"
#include "netns.h"
#include "out.h"
#include "rollback.h"
#include "sockdiag.h"
#include "sysctl.h"

/* There are fewer knobs than this; it bounds the stack, at 4 KiB a value. */
#define MAX_SETTINGS ROLLBACK_MAX

#define DEFAULT_SYSCTL_FILE "/etc/sysctl.d/90-tcpstate.conf"

/*
 * tune's actions and the systems guide knows: each list is written once,
 * here, and makes the synopsis, the messages, the dispatch and completion.
 * X is applied to each item, SEP goes between two, LAST before the last.
 */
#define TUNE_ACTIONS(X, SEP)                                                                       \
	X(SHOW, "show") SEP X(SET, "set") SEP X(REVERT, "revert") SEP X(GUIDE, "guide")
#define TUNE_OSES(X, SEP, LAST)                                                                    \
	X(guide_linux, "linux")                                                                    \
	SEP X(guide_windows, "windows") SEP X(guide_macos, "macos") LAST X(guide_freebsd, "freebs" \
											  "d")
#define WORD(id, word) word
#define WORD_ITEM(id, word) word,
#define ACTION_ENUM(id, word) A_##id,

enum action { TUNE_ACTIONS(ACTION_ENUM, ) A_NONE };

static const char *const action_words[] = {TUNE_ACTIONS(WORD_ITEM, ) NULL};

struct os_guide {
	const char *name;
	void (*print)(void);
};

static const struct os_guide *os_find(const char *name);
static void complete_words(const struct cmd_completion *c);

enum { O_JSON = 1, O_DRYRUN, O_PERSIST, O_YES, O_ALL, O_NETNS, O_ROLLBACK, O_SYSCTLFILE, O_OS };

static const struct opt_def tune_opts[] = {
	{O_JSON, 'j', "json", NULL, "show: print JSON", COMPLETE_NONE},
	{O_DRYRUN, 'n', "dry-run", NULL, "set, revert: print what would change, change nothing",
	 COMPLETE_NONE},
	{O_PERSIST, 'p', "persist", NULL,
	 "set: also write the sysctl.d file (with -N, needs --sysctl-file)", COMPLETE_NONE},
	{O_YES, 'y', "yes", NULL, "set, revert: do not ask for confirmation", COMPLETE_NONE},
	{O_ALL, 0, "all", NULL, "revert: undo every recorded set, newest first", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "act on the named network namespace", COMPLETE_NETNS},
	{O_ROLLBACK, 0, "rollback-file", "FILE",
	 "where set records previous values (default /var/lib/tcpstate/rollback)", COMPLETE_FILE},
	{O_SYSCTLFILE, 0, "sysctl-file", "FILE",
	 "where --persist writes (default /etc/sysctl.d/90-tcpstate.conf)", COMPLETE_FILE},
	{O_OS, 0, "os", "OS", "guide: " TUNE_OSES(WORD, ", ", " or ") " (default: all)",
	 COMPLETE_OWN},
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_tune(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_tune_entry = {
	.name = "tune",
	.args = TUNE_ACTIONS(WORD, "|") " [KNOB[=VALUE]...]",
	.summary = "Show and change TIME-WAIT and port settings, safely and reversibly",
	.help_tail =
		"Knobs may be named in full (net.ipv4.tcp_tw_reuse), without net.ipv4., or by\n"
		"alias (tw-reuse).  set validates every value before writing any; if one write\n"
		"fails, those already written are restored.  Each set adds a record to the\n"
		"rollback file: the previous values and, with --persist, the sysctl.d lines it\n"
		"replaced.  `tune revert` undoes the newest set, in the kernel and in the file,\n"
		"and removes its record; --all undoes them all, newest first.  A record is\n"
		"undone only in the namespace its set ran in (the same -N NAME, or none).\n"
		"With -N, --persist needs --sysctl-file: the default file is applied to the\n"
		"host's namespace at boot.  set and revert lock FILE.lock beside the rollback\n"
		"file, so two at once take turns.  A rollback or sysctl.d file that is not a\n"
		"regular file is refused.\n"
		"TIME-WAIT itself lasts 60 s on Linux and no sysctl changes that: see\n"
		"`tcpstate tune show time-wait` and doc/tuning.md.\n",
	.opts = tune_opts,
	.min_args = 1,
	.max_args = -1,
	.args_complete = COMPLETE_OWN,
	.words = complete_words,
	.run = run_tune,
};

struct tune {
	int json, dry, persist, yes, all;
	const char *netns, *rollback, *sysctlfile;
	const struct os_guide *os; /* guide --os, or NULL for all */
	char rollback_buf[300];
};

static int on_opt(void *st, int id, const char *arg)
{
	struct tune *t = st;

	switch (id) {
	case O_JSON:
		t->json = 1;
		break;
	case O_DRYRUN:
		t->dry = 1;
		break;
	case O_PERSIST:
		t->persist = 1;
		break;
	case O_YES:
		t->yes = 1;
		break;
	case O_ALL:
		t->all = 1;
		break;
	case O_NETNS:
		t->netns = arg;
		break;
	case O_ROLLBACK:
		t->rollback = arg;
		break;
	case O_SYSCTLFILE:
		/* The rollback record names it on one line. */
		if (strchr(arg, '\n'))
			return cmd_usage_error(&cmd_tune_entry,
					       "--sysctl-file: a newline in \"%s\"", arg);
		t->sysctlfile = arg;
		break;
	case O_OS:
		t->os = os_find(arg);
		if (!t->os)
			return cmd_usage_error(
				&cmd_tune_entry,
				"--os: unknown system \"%s\" (" TUNE_OSES(WORD, ", ", ", ") ")",
				arg);
		break;
	}
	return 0;
}

/* Print a paragraph wrapped at 76 columns, indented. */
static void wrap(FILE *f, const char *text, int indent)
{
	int col = indent;
	const char *p = text;

	fprintf(f, "%*s", indent, "");
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (col > indent && col + (int)n > 76) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		}
		fprintf(f, "%s%.*s", col > indent ? " " : "", (int)n, p);
		col += (int)n + (col > indent);
		p += n;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

/* ip_unprivileged_port_start, or -1 when unknown. */
static long unpriv_port_start(void)
{
	long v;

	sysctl_read_longs("net.ipv4.ip_unprivileged_port_start", &v, 1);
	return v;
}

/* ---- show: values and advice from the live socket table --------------- */

/* What advice reads from the socket table: counts per state and the census. */
struct tally {
	uint64_t count[TS_MAX];
	struct census *census;
	int oom;
};

static int tally_one(const struct sock_rec *r, void *arg)
{
	struct tally *t = arg;

	t->count[r->state]++;
	if (census_add(t->census, r, 0) < 0) {
		t->oom = 1;
		return 1;
	}
	return 0;
}

/* Advice lines from the settings and the socket table; returns how many. */
static int advise(char lines[][320], int max)
{
	struct tally c;
	struct sockdiag_req req;
	struct sockdiag_stats st;
	char err[256];
	int n = 0;
	long ports[2];

	memset(&c, 0, sizeof(c));
	sysctl_read_longs(knob_find("port-range")->name, ports, 2); /* -1 -1 when unknown */
	long lo = ports[0], hi = ports[1];
	c.census = census_new();
	if (!c.census) {
		snprintf(lines[n++], 320, "(no advice: out of memory)");
		return n;
	}
	census_begin(c.census, lo, hi);
	memset(&req, 0, sizeof(req));
	req.states = SM_ALL;
	if (sockdiag_dump(&req, tally_one, &c, &st, err, sizeof(err)) < 0 || c.oom ||
	    census_end(c.census) < 0) {
		snprintf(lines[n++], 320, "(no advice: the socket table could not be read: %s)",
			 c.oom ? "out of memory" : err);
		census_free(c.census);
		return n;
	}
	struct census_dest busiest;
	uint64_t dest_count = 0;
	if (census_busiest(c.census, &busiest, 1))
		dest_count = busiest.in_use;
	long maxtw;
	sysctl_read_longs(knob_find("max-tw")->name, &maxtw, 1);
	uint64_t tw = c.count[TS_TIME_WAIT];
	if (maxtw > 0 && n < max) {
		if ((double)tw >= 0.5 * (double)maxtw)
			snprintf(lines[n++], 320,
				 "TIME-WAIT: %llu sockets, %.0f%% of tcp_max_tw_buckets (%ld). "
				 "Past it, "
				 "sockets skip TIME-WAIT (TCPTimeWaitOverflow). Prefer fewer, "
				 "longer "
				 "connections; raising the limit costs only memory.",
				 (unsigned long long)tw, 100.0 * (double)tw / (double)maxtw, maxtw);
		else
			snprintf(lines[n++], 320,
				 "TIME-WAIT: %llu sockets, %.1f%% of tcp_max_tw_buckets (%ld): no "
				 "action "
				 "needed.",
				 (unsigned long long)tw, 100.0 * (double)tw / (double)maxtw, maxtw);
	}
	if (lo > 0 && n < max) {
		long range = hi - lo + 1;
		char a[ADDR_STRLEN];
		if (dest_count && (double)dest_count >= 0.5 * (double)range) {
			addr_format_port(a, busiest.family, busiest.addr, busiest.port, 0);
			snprintf(lines[n++], 320,
				 "Ephemeral ports: %llu sockets to %s use %.0f%% of the %ld-port "
				 "range. "
				 "Widen port-range, let connect() reuse TIME-WAIT tuples "
				 "(tw-reuse=1, "
				 "needs timestamps), or reuse connections (pooling, keep-alive).",
				 (unsigned long long)dest_count, a,
				 100.0 * (double)dest_count / (double)range, range);
		} else {
			snprintf(lines[n++], 320,
				 "Ephemeral ports: the busiest destination uses %llu of %ld ports: "
				 "no "
				 "action needed.",
				 (unsigned long long)dest_count, range);
		}
	}
	if (c.count[TS_CLOSE_WAIT] && n < max)
		snprintf(lines[n++], 320,
			 "CLOSE-WAIT: %llu sockets. The peer has closed and the local program has "
			 "not: an application bug no sysctl fixes. Find the owners with: tcpstate "
			 "list "
			 "-p state close-wait",
			 (unsigned long long)c.count[TS_CLOSE_WAIT]);
	char ts[16], reuse[16];
	if (n < max && sysctl_read(knob_find("timestamps"), ts, sizeof(ts)) == 0 &&
	    sysctl_read(knob_find("tw-reuse"), reuse, sizeof(reuse)) == 0 && strcmp(ts, "0") == 0 &&
	    strcmp(reuse, "0") != 0)
		snprintf(lines[n++], 320,
			 "tcp_tw_reuse is %s but tcp_timestamps is 0: reuse needs timestamps and "
			 "does "
			 "nothing without them.",
			 reuse);
	census_free(c.census);
	return n;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int tune_show(const struct cmd_entry *cmd, struct tune *t, int argc, char **argv)
{
	const struct knob *sel[64];
	int nsel = 0, missing = 0;

	for (int i = 0; i < argc; i++) {
		const struct knob *k = knob_find(argv[i]);
		if (!k) {
			const char *s = knob_suggest(argv[i]);
			return cmd_usage_error(cmd, "unknown knob \"%s\"%s%s%s", argv[i],
					       s ? " (did you mean " : "", s ? s : "",
					       s ? "?)" : "");
		}
		if (nsel < 64)
			sel[nsel++] = k;
	}
	if (!nsel)
		for (const struct knob *k = knob_table; k->name && nsel < 64; k++)
			sel[nsel++] = k;
	char advice[8][320];
	int nadv = advise(advice, 8);

	if (t->json) {
		printf("{\"knobs\":[");
		int first = 1;
		for (int i = 0; i < nsel; i++) {
			const struct knob *k = sel[i];
			char v[SYSCTL_VALUE_MAX], path[256];
			int exists = k->type != KNOB_MYTH && sysctl_exists(k);
			knob_path(k, path, sizeof(path));
			printf("%s\n{\"name\":", first ? "" : ",");
			first = 0;
			json_str(stdout, k->name);
			printf(",\"alias\":");
			json_str(stdout, k->alias);
			printf(",\"myth\":%s,\"exists\":%s,\"value\":",
			       k->type == KNOB_MYTH ? "true" : "false", exists ? "true" : "false");
			if (exists && sysctl_read(k, v, sizeof(v)) == 0)
				json_str(stdout, v);
			else
				printf("null");
			printf(",\"default\":");
			json_str(stdout, k->def);
			if (k->type == KNOB_INT)
				printf(",\"min\":%ld,\"max\":%ld", k->min, k->max);
			printf(",\"unit\":");
			if (k->unit)
				json_str(stdout, k->unit);
			else
				printf("null");
			printf(",\"path\":");
			json_str(stdout, k->type == KNOB_MYTH ? "" : path);
			printf(",\"per_netns\":%s,\"since\":", k->per_netns ? "true" : "false");
			json_str(stdout, k->since);
			printf(",\"meaning\":");
			json_str(stdout, k->meaning);
			printf("}");
		}
		printf("\n],\"advice\":[");
		for (int i = 0; i < nadv; i++) {
			printf("%s\n", i ? "," : "");
			json_str(stdout, advice[i]);
		}
		printf("\n]}\n");
	} else {
		for (int i = 0; i < nsel; i++) {
			const struct knob *k = sel[i];
			char v[SYSCTL_VALUE_MAX];
			if (k->type == KNOB_MYTH) {
				printf("%s (%s): not a knob - %s\n", k->name, k->alias, k->since);
				wrap(stdout, k->meaning, 4);
				continue;
			}
			if (!sysctl_exists(k)) {
				printf("%s (%s): not available here\n", k->name, k->alias);
				missing++;
				continue;
			}
			if (sysctl_read(k, v, sizeof(v)) < 0)
				snprintf(v, sizeof(v), "(unreadable)");
			printf("%s (%s) = %s\n", k->name, k->alias, v);
			if (k->type == KNOB_INT)
				printf("    default %s, range %ld to %ld%s%s, %s since %s\n",
				       k->def, k->min, k->max, k->unit ? " " : "",
				       k->unit ? k->unit : "",
				       k->per_netns ? "per network namespace" : "global", k->since);
			else
				printf("    default \"%s\", %s since %s\n", k->def,
				       k->per_netns ? "per network namespace" : "global", k->since);
			wrap(stdout, k->meaning, 4);
		}
		if (nadv) {
			printf("\nAdvice from the socket table now:\n");
			for (int i = 0; i < nadv; i++) {
				char item[340];
				snprintf(item, sizeof(item), "- %s", advice[i]);
				wrap(stdout, item, 2);
			}
		}
	}
	(void)missing;
	return EXIT_OK;
}

/* ---- set and revert ---------------------------------------------------- */

static int has_privilege(void)
{
	FILE *f;
	char line[256];
	unsigned long long eff = 0;

	if (geteuid() == 0)
		return 1;
	/* CAP_NET_ADMIN (12) is what namespaced sysctls under net/ check. */
	f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 12) & 1;
}

static int confirm(const struct tune *t, const char *what)
{
	char answer[16];

	if (t->yes || !isatty(STDIN_FILENO))
		return 1; /* scripts: no terminal, no prompt */
	fprintf(stderr, "%s? [y/N] ", what);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/*
 * Write every setting, in order; if one fails, put back those already
 * written.  Returns 0, or the failing index's errno (negative) with
 * *failed set to it.
 */
static int apply_all(const struct setting *want, const struct setting *old, int n, int *failed)
{
	for (int i = 0; i < n; i++) {
		int r = sysctl_write(want[i].knob, want[i].value);
		if (r < 0) {
			*failed = i;
			for (int j = i - 1; j >= 0; j--)
				sysctl_write(old[j].knob, old[j].value);
			return r;
		}
	}
	return 0;
}

static const char *rollback_path(struct tune *t)
{
	if (t->rollback)
		return t->rollback;
	snprintf(t->rollback_buf, sizeof(t->rollback_buf), "/var/lib/tcpstate/rollback%s%s",
		 t->netns ? "-" : "", t->netns ? t->netns : "");
	return t->rollback_buf;
}

static const char *sysctl_path(const struct tune *t)
{
	return t->sysctlfile ? t->sysctlfile : DEFAULT_SYSCTL_FILE;
}

/* Text built with stdio (open_memstream); freed by the caller. */
struct text {
	char *p;
	size_t len;
	FILE *f;
};

static int text_open(struct text *x)
{
	x->p = NULL;
	x->len = 0;
	x->f = open_memstream(&x->p, &x->len);
	return x->f ? 0 : -ENOMEM;
}

/* 0, or -ENOMEM when a write to it failed. */
static int text_close(struct text *x)
{
	int bad = 0;

	if (x->f) {
		bad = ferror(x->f);
		bad |= fclose(x->f) != 0;
	}
	x->f = NULL;
	return bad ? -ENOMEM : 0;
}

/*
 * A change holds an flock(2) on "ROLLBACK.lock", beside the rollback file,
 * from reading the kernel's values until its last file is written; and,
 * while it edits a sysctl.d file, one on ".NAME.lock" in that file's
 * directory, which two stacks (two namespaces) may share.  The files
 * themselves are replaced by rename, so they cannot carry a lock.  Returns
 * the descriptor, `held` when that is the same file, or -errno.
 */
static int take_lock(const char *file, int hidden, int how, int held)
{
	char path[4200];
	const char *slash = strrchr(file, '/');

	if (!hidden)
		snprintf(path, sizeof(path), "%s.lock", file);
	else if (slash)
		snprintf(path, sizeof(path), "%.*s/.%s.lock", (int)(slash - file), file, slash + 1);
	else
		snprintf(path, sizeof(path), ".%s.lock", file);
	int fd = file_lock(path, how, held);
	if (fd == -EWOULDBLOCK) {
		fprintf(stderr,
			"tcpstate tune: note: waiting for %s: another tune set or revert "
			"holds it\n",
			path);
		fd = file_lock(path, how | FILE_LOCK_WAIT, held);
	}
	return fd == -EDEADLK ? held : fd;
}

static void release(int fd, int held)
{
	if (fd >= 0 && fd != held)
		close(fd);
}

/* The kernel's values now of want's knobs, into now[]. */
static int read_now(const struct cmd_entry *cmd, const struct setting *want, struct setting *now,
		    int n)
{
	for (int i = 0; i < n; i++) {
		now[i].knob = want[i].knob;
		int r = sysctl_read(want[i].knob, now[i].value, sizeof(now[i].value));
		if (r < 0) {
			cmd_error(cmd, "%s: cannot read it: %s", want[i].knob->name, strerror(-r));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

static void print_change(const char *verb, const char *name, const char *from, const char *to)
{
	printf("%s %s: %s -> %s%s\n", verb, name, from, to, strcmp(from, to) ? "" : " (unchanged)");
}

/* A file's text, or NULL when it does not exist: that is no error here. */
static int read_if_any(const char *path, char **text, size_t *len)
{
	int r = file_read(path, text, len);

	if (r == -ENOENT) {
		*text = NULL;
		*len = 0;
		return 0;
	}
	return r;
}

/* Put a file back as it was: its text, or no file when it had none. */
static int put_back(const char *path, const char *text, size_t len, int mode, int private_dir)
{
	if (text)
		return file_replace(path, text, len, mode, private_dir);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* A file's permission bits, or `dflt` when it does not exist. */
static int mode_of(const char *path, int dflt)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : dflt;
}

/*
 * The sysctl.d file's new text after the set (into *conf) and the record's
 * lines for it (into *rec), both from its current text.
 */
static int persist_plan(const struct cmd_entry *cmd, const char *path, const struct setting *want,
			int n, struct text *conf, struct text *rec)
{
	char *cur, abs[4200], cwd[4096];
	size_t curlen;
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		cmd_error(cmd, "%s: not a regular file; nothing was changed", path);
		return EXIT_RUNTIME;
	}
	int r = read_if_any(path, &cur, &curlen);
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, file_strerror(-r));
		return EXIT_RUNTIME;
	}
	/* revert may run elsewhere: the record names the file absolutely. */
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	else
		snprintf(abs, sizeof(abs), "%s", path);
	r = text_open(conf);
	if (r == 0)
		rollback_persist_set(cur, curlen, abs, want, n, conf->f, rec->f);
	free(cur);
	if (r < 0 || text_close(conf) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * The rollback stack with one more record.  A stack that cannot be read
 * is refused: its records could not be reverted either.
 */
static int push_record(const struct cmd_entry *cmd, const struct tune *t, const char *path,
		       const char *stack, size_t len, const struct setting *old, int n,
		       struct text *rec, struct text *out)
{
	struct rb_record top;
	char err[700];

	if (stack && rollback_parse(stack, len, &top, err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, err);
		return EXIT_RUNTIME;
	}
	if (text_close(rec) < 0 || text_open(out) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (!stack)
		rollback_preamble(out->f);
	else if (fwrite(stack, 1, len, out->f) == len && len && stack[len - 1] != '\n')
		fputc('\n', out->f);
	rollback_record(out->f, t->netns, (long)time(NULL), old, n, rec->p, rec->len);
	if (text_close(out) < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * set, holding the rollback file's lock: record the previous values (and
 * the sysctl.d lines replaced) on the stack, write the kernel's values,
 * then the sysctl.d file; a failure undoes the steps before it.
 */
static int set_locked(const struct cmd_entry *cmd, struct tune *t, const struct setting *want,
		      int n, int rb_lock)
{
	struct setting old[MAX_SETTINGS];
	struct text rec = {0}, conf = {0}, stack = {0};
	const char *rb = rollback_path(t), *sc = sysctl_path(t);
	char *prev = NULL;
	size_t prevlen = 0;
	int rc = EXIT_RUNTIME, sc_lock = -1, failed = 0, r;

	if (read_now(cmd, want, old, n))
		return EXIT_RUNTIME;
	if (!t->yes && isatty(STDIN_FILENO))
		for (int i = 0; i < n; i++)
			print_change("will set", want[i].knob->name, old[i].value, want[i].value);
	fflush(stdout);
	if (!confirm(t, "Apply these changes")) {
		cmd_error(cmd, "not confirmed; nothing was changed");
		return EXIT_RUNTIME;
	}
	if (text_open(&rec) < 0) {
		cmd_error(cmd, "%s", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	if (t->persist) {
		/* Nobody writes on a read-only file system: no lock is needed there. */
		sc_lock = take_lock(sc, 1, FILE_LOCK_MKDIR, rb_lock);
		if (sc_lock < 0 && sc_lock != -EROFS) {
			cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", sc,
				  strerror(-sc_lock));
			goto out;
		}
		if (persist_plan(cmd, sc, want, n, &conf, &rec))
			goto out;
	}
	r = read_if_any(rb, &prev, &prevlen);
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", rb, file_strerror(-r));
		goto out;
	}
	if (push_record(cmd, t, rb, prev, prevlen, old, n, &rec, &stack))
		goto out;
	/* Record first: even a crash halfway leaves something to revert to. */
	r = file_replace(rb, stack.p, stack.len, 0600, 1);
	if (r < 0) {
		cmd_error(cmd, "%s: cannot record the previous values: %s; nothing was changed", rb,
			  strerror(-r));
		goto out;
	}
	r = apply_all(want, old, n, &failed);
	if (r < 0) {
		put_back(rb, prev, prevlen, 0600, 1);
		cmd_error(cmd, "%s: the kernel refused \"%s\": %s; all values restored",
			  want[failed].knob->name, want[failed].value, strerror(-r));
		goto out;
	}
	if (t->persist) {
		r = file_replace(sc, conf.p, conf.len, mode_of(sc, 0644), 0);
		if (r < 0) {
			int ignored;
			apply_all(old, want, n, &ignored);
			put_back(rb, prev, prevlen, 0600, 1);
			cmd_error(cmd,
				  "%s: %s; the running values were restored and the file is "
				  "unchanged",
				  sc, strerror(-r));
			goto out;
		}
	}
	/* Only now is it true. */
	for (int i = 0; i < n; i++)
		print_change("set", want[i].knob->name, old[i].value, want[i].value);
	if (t->persist)
		printf("persisted in %s\n", sc);
	rc = EXIT_OK;
out:
	release(sc_lock, rb_lock);
	text_close(&rec);
	text_close(&conf);
	text_close(&stack);
	free(rec.p);
	free(conf.p);
	free(stack.p);
	free(prev);
	return rc;
}

static int tune_set(const struct cmd_entry *cmd, struct tune *t, int argc, char **argv)
{
	struct setting want[MAX_SETTINGS];
	int n = 0;
	long unpriv = unpriv_port_start();

	if (argc == 0)
		return cmd_usage_error(cmd, "set needs KNOB=VALUE");
	if (argc > MAX_SETTINGS)
		return cmd_usage_error(cmd, "too many settings (at most %d)", MAX_SETTINGS);
	/* Every value is checked before anything is written. */
	for (int i = 0; i < argc; i++) {
		char name[128], err[512], warn[256];
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return cmd_usage_error(cmd, "\"%s\": expected KNOB=VALUE", argv[i]);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		const struct knob *k = knob_find(name);
		if (!k) {
			const char *s = knob_suggest(name);
			return cmd_usage_error(
				cmd, "unknown knob \"%s\"%s%s%s; nothing was changed", name,
				s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
		}
		if (k->type == KNOB_MYTH) {
			cmd_error(cmd, "%s is not a knob (%s): %s Nothing was changed.", k->name,
				  k->since, k->meaning);
			return EXIT_USAGE;
		}
		if (!sysctl_exists(k)) {
			cmd_error(cmd,
				  "%s does not exist here (kernel %s, namespace, or module not "
				  "loaded); nothing was changed",
				  k->name, k->since);
			return EXIT_RUNTIME;
		}
		for (int j = 0; j < n; j++)
			if (want[j].knob == k)
				return cmd_usage_error(cmd, "%s is set twice", k->name);
		if (knob_validate(k, eq + 1, unpriv, want[n].value, sizeof(want[n].value), err,
				  sizeof(err), warn, sizeof(warn)) < 0)
			return cmd_usage_error(cmd, "%s; nothing was changed", err);
		if (warn[0])
			fprintf(stderr, "tcpstate tune: note: %s\n", warn);
		want[n++].knob = k;
	}
	if (t->dry) {
		struct setting now[MAX_SETTINGS];
		if (read_now(cmd, want, now, n))
			return EXIT_RUNTIME;
		for (int i = 0; i < n; i++)
			print_change("would set", want[i].knob->name, now[i].value, want[i].value);
		return EXIT_OK;
	}
	if (!has_privilege()) {
		cmd_error(cmd, "changing sysctls needs root or CAP_NET_ADMIN; nothing was changed");
		return EXIT_RUNTIME;
	}
	const char *rb = rollback_path(t);
	int lock = take_lock(rb, 0, FILE_LOCK_MKDIR | FILE_LOCK_PRIVATE, -1);
	if (lock < 0) {
		cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", rb, strerror(-lock));
		return EXIT_RUNTIME;
	}
	int rc = set_locked(cmd, t, want, n, lock);
	close(lock);
	return rc;
}

/* The rollback stack as revert reads it. */
struct stack {
	char *text;
	size_t len;
	struct rb_record top; /* the newest record */
	int count;
};

static int stack_load(const struct cmd_entry *cmd, const char *path, struct stack *s)
{
	char err[700];
	int r = file_read(path, &s->text, &s->len);

	if (r == -ENOENT) {
		cmd_error(cmd, "%s: %s: nothing to revert", path, strerror(-r));
		return EXIT_RUNTIME;
	}
	if (r < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, file_strerror(-r));
		return EXIT_RUNTIME;
	}
	s->count = rollback_parse(s->text, s->len, &s->top, err, sizeof(err));
	if (s->count < 0) {
		cmd_error(cmd, "%s: %s; nothing was changed", path, err);
		return EXIT_RUNTIME;
	}
	if (!s->count) {
		cmd_error(cmd, "%s records no values: nothing to revert", path);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The record's values, as settings. */
static void record_values(const struct rb_record *r, struct setting *want)
{
	for (int i = 0; i < r->n; i++) {
		want[i].knob = r->knob[i];
		snprintf(want[i].value, sizeof(want[i].value), "%.*s", (int)r->old[i].len,
			 r->old[i].p);
	}
}

/* "VERB in FILE: the lines of X, Y as they were", for the knobs in `which`. */
static void print_restored(const char *verb, const struct rb_record *r, unsigned which)
{
	int first = 1;

	if (!which)
		return;
	printf("%s in %.*s: the lines of ", verb, (int)r->persist.len, r->persist.p);
	for (int i = 0; i < r->n; i++)
		if (which >> i & 1) {
			printf("%s%s", first ? "" : ", ", r->knob[i]->name);
			first = 0;
		}
	printf(" as they were\n");
}

static void note_changed(const struct knob *k, void *path)
{
	fprintf(stderr,
		"tcpstate tune: note: %s: the line for %s changed since that set; left as it "
		"is\n",
		(const char *)path, k->name);
}

/* What a plan's lines say: "would" (a dry run) or "will" (before asking). */
struct plan_words {
	const char *verb, *path;
};

static void plan_changed(const struct knob *k, void *words)
{
	const struct plan_words *w = words;

	printf("%s leave in %s: the line for %s, changed since that set\n", w->verb, w->path,
	       k->name);
}

/* A sysctl.d file's text as revert sees it, `path` empty when not read yet. */
struct conf_text {
	char path[4200];
	char *text; /* NULL: there is no file */
	size_t len;
};

/*
 * The file's text with record r of the stack `stack` undone, into *out;
 * *remove as rollback_persist_undo() says.  The knobs restored, or -errno.
 */
static long undo_text(const char *stack, const struct rb_record *r, const struct conf_text *c,
		      struct text *out, int *remove,
		      void (*changed)(const struct knob *k, void *arg), void *arg)
{
	int rc = text_open(out);

	if (rc < 0)
		return rc;
	unsigned restored =
		rollback_persist_undo(stack, r, c->text, c->len, out->f, remove, changed, arg);
	rc = text_close(out);
	return rc < 0 ? rc : (long)restored;
}

/*
 * What reverting record r would do to its sysctl.d file, printed; *c is
 * that file as the newer records' reverts leave it, and is left as this
 * one leaves it.  0, or -errno.
 */
static int plan_persist(const char *stack, const struct rb_record *r, struct conf_text *c,
			const char *verb)
{
	struct text out;
	int remove = 0;
	struct plan_words words = {verb, c->path};
	char restore[32];

	if (strlen(c->path) != r->persist.len || memcmp(c->path, r->persist.p, r->persist.len)) {
		free(c->text);
		snprintf(c->path, sizeof(c->path), "%.*s", (int)r->persist.len, r->persist.p);
		int e = read_if_any(c->path, &c->text, &c->len);
		if (e < 0)
			return e;
	}
	if (!c->text) {
		printf("%s leave %s alone: it is gone\n", verb, c->path);
		return 0;
	}
	long restored = undo_text(stack, r, c, &out, &remove, plan_changed, &words);
	if (restored < 0) {
		free(out.p);
		return (int)restored;
	}
	free(c->text);
	c->text = remove ? NULL : out.p;
	c->len = remove ? 0 : out.len;
	if (remove) {
		printf("%s remove %s (that set created it)\n", verb, c->path);
		free(out.p);
	}
	snprintf(restore, sizeof(restore), "%s restore", verb);
	print_restored(restore, r, remove ? 0 : (unsigned)restored);
	return 0;
}

/*
 * What revert would do: the newest record, or with --all each one, newest
 * first, from the values the newer ones leave.
 */
static int revert_plan(const struct cmd_entry *cmd, int dry, const struct stack *s, int all)
{
	size_t nk = 0;
	while (knob_table[nk].name)
		nk++;
	struct setting *sim = calloc(nk, sizeof(*sim)), want[MAX_SETTINGS];
	struct rb_record r = s->top;
	struct conf_text conf = {.text = NULL};
	int count = s->count, rc = 0;
	char err[700];

	if (!sim) {
		cmd_error(cmd, "%s", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	while (count > 0 && !rc) {
		record_values(&r, want);
		for (int i = 0; i < r.n && !rc; i++) {
			struct setting *now = &sim[want[i].knob - knob_table];
			if (!now->knob) {
				now->knob = want[i].knob;
				rc = read_now(cmd, &want[i], now, 1);
			}
			if (!rc)
				print_change(dry ? "would set" : "will set", want[i].knob->name,
					     now->value, want[i].value);
			memcpy(now->value, want[i].value, sizeof(now->value));
		}
		int e = !rc && r.persist.len
				? plan_persist(s->text, &r, &conf, dry ? "would" : "will")
				: 0;
		if (e < 0) {
			cmd_error(cmd, "%s: %s; nothing was changed", conf.path, file_strerror(-e));
			rc = EXIT_RUNTIME;
		}
		if (!all)
			break;
		count = rollback_parse(s->text, r.start, &r, err, sizeof(err));
	}
	free(conf.text);
	free(sim);
	fflush(stdout);
	return rc;
}

enum { PERSIST_GONE, PERSIST_RESTORED, PERSIST_REMOVED };

/*
 * The file (*c) with the record undone: a PERSIST_*, or -errno; *restored
 * gets the knobs whose lines came back.
 */
static int undo_lines(const struct stack *s, const struct conf_text *c, unsigned *restored)
{
	struct text out;
	int remove = 0, rc;
	long r = undo_text(s->text, &s->top, c, &out, &remove, note_changed, (void *)c->path);

	rc = r < 0 ? (int)r : 0;
	if (rc == 0 && remove && unlink(c->path) < 0)
		rc = -errno;
	else if (rc == 0 && !remove && (out.len != c->len || memcmp(out.p, c->text, c->len)))
		rc = file_replace(c->path, out.p, out.len, mode_of(c->path, 0644), 0);
	free(out.p);
	*restored = rc < 0 || remove ? 0 : (unsigned)r;
	return rc < 0 ? rc : remove ? PERSIST_REMOVED : PERSIST_RESTORED;
}

/*
 * Put back the sysctl.d lines the record's set replaced, or remove the
 * file it created, holding that file's lock.  A PERSIST_*, or -errno with
 * the file unchanged.
 */
static int revert_persist(const struct stack *s, int rb_lock, unsigned *restored)
{
	const struct rb_record *r = &s->top;
	struct conf_text c = {.text = NULL};

	*restored = 0;
	snprintf(c.path, sizeof(c.path), "%.*s", (int)r->persist.len, r->persist.p);
	/* No directory, or a read-only one: nobody can write the file there. */
	int lock = take_lock(c.path, 1, 0, rb_lock);
	if (lock < 0 && lock != -ENOENT && lock != -EROFS)
		return lock;
	int rc = read_if_any(c.path, &c.text, &c.len);
	if (rc == 0 && !c.text) {
		fprintf(stderr, "tcpstate tune: note: %s is gone; nothing to restore there\n",
			c.path);
		rc = PERSIST_GONE;
	} else if (rc == 0) {
		rc = undo_lines(s, &c, restored);
	}
	release(lock, rb_lock);
	free(c.text);
	return rc;
}

/*
 * Undo the newest record: the kernel's values, then the sysctl.d lines,
 * then drop the record from the stack (and the file with the last one).
 */
static int revert_top(const struct cmd_entry *cmd, const char *rb, struct stack *s, int rb_lock)
{
	struct setting want[MAX_SETTINGS], now[MAX_SETTINGS];
	const struct rb_record *r = &s->top;
	char err[700];
	int failed = 0, n = r->n;
	unsigned restored = 0;

	record_values(r, want);
	if (read_now(cmd, want, now, n))
		return EXIT_RUNTIME;
	int e = apply_all(want, now, n, &failed);
	if (e < 0) {
		cmd_error(cmd, "%s: the kernel refused \"%s\": %s; all values restored",
			  want[failed].knob->name, want[failed].value, strerror(-e));
		return EXIT_RUNTIME;
	}
	int persisted = r->persist.len ? revert_persist(s, rb_lock, &restored) : PERSIST_GONE;
	if (persisted < 0) {
		int ignored;
		apply_all(now, want, n, &ignored);
		cmd_error(cmd, "%.*s: %s; the running values were put back and the record is kept",
			  (int)r->persist.len, r->persist.p, file_strerror(-persisted));
		return EXIT_RUNTIME;
	}
	/* Only now is it true. */
	for (int i = 0; i < n; i++)
		print_change("set", want[i].knob->name, now[i].value, want[i].value);
	if (persisted == PERSIST_REMOVED)
		printf("removed %.*s (that set created it)\n", (int)r->persist.len, r->persist.p);
	/* Lines changed since that set were left as they are, with a note. */
	print_restored("restored", r, restored);
	size_t len = r->start;
	s->count = rollback_parse(s->text, len, &s->top, err, sizeof(err));
	if (s->count > 0)
		e = file_replace(rb, s->text, len, 0600, 1);
	else
		e = unlink(rb) < 0 && errno != ENOENT ? -errno : 0;
	if (e < 0) {
		cmd_error(cmd,
			  "%s: the values are restored, but the record could not be removed: "
			  "%s",
			  rb, strerror(-e));
		return EXIT_RUNTIME;
	}
	s->len = len;
	return EXIT_OK;
}

/* "in namespace "NAME"" or "without -N", for a record's namespace or revert's. */
static void where_text(char *buf, size_t len, const char *name, size_t namelen, int own)
{
	if (own)
		snprintf(buf, len, "without -N");
	else
		snprintf(buf, len, "in namespace \"%.*s\"", (int)namelen, name);
}

/*
 * A record's values belong to the namespace it was made in: written into
 * another they would change what that set never touched.  Every record
 * revert would undo is checked before anything is written.
 */
static int check_netns(const struct cmd_entry *cmd, const struct tune *t, const char *rb,
		       const struct stack *s)
{
	struct rb_record r = s->top;
	char err[700], made[300], here[300];

	for (int count = s->count; count > 0;
	     count = rollback_parse(s->text, r.start, &r, err, sizeof(err))) {
		if (!rollback_netns_is(&r, t->netns)) {
			int own = rollback_netns_is(&r, NULL);
			where_text(made, sizeof(made), r.netns.p, r.netns.len, own);
			where_text(here, sizeof(here), t->netns, t->netns ? strlen(t->netns) : 0,
				   !t->netns);
			cmd_error(cmd,
				  "%s: the set to undo was made %s and this revert runs %s; revert "
				  "it "
				  "%s%.*s; nothing was changed",
				  rb, made, here, own ? "without -N" : "with -N ",
				  own ? 0 : (int)r.netns.len, r.netns.p);
			return EXIT_RUNTIME;
		}
		if (!t->all)
			break;
	}
	return 0;
}

static int tune_revert(const struct cmd_entry *cmd, struct tune *t)
{
	struct stack s = {0};
	const char *rb = rollback_path(t);
	int lock = -1, rc;

	if (!t->dry && !has_privilege()) {
		cmd_error(cmd, "changing sysctls needs root or CAP_NET_ADMIN; nothing was changed");
		return EXIT_RUNTIME;
	}
	if (!t->dry) {
		/* No directory: no stack either, as stack_load says. */
		lock = take_lock(rb, 0, 0, -1);
		if (lock < 0 && lock != -ENOENT) {
			cmd_error(cmd, "%s: cannot lock it: %s; nothing was changed", rb,
				  strerror(-lock));
			return EXIT_RUNTIME;
		}
	}
	rc = stack_load(cmd, rb, &s);
	if (!rc)
		rc = check_netns(cmd, t, rb, &s);
	int asking = !t->yes && isatty(STDIN_FILENO);
	if (!rc && (t->dry || asking))
		rc = revert_plan(cmd, t->dry, &s, t->all);
	if (!rc && !t->dry &&
	    !confirm(t, t->all ? "Undo every recorded set" : "Restore these values")) {
		cmd_error(cmd, "not confirmed; nothing was changed");
		rc = EXIT_RUNTIME;
	}
	while (!rc && !t->dry && s.count > 0) {
		rc = revert_top(cmd, rb, &s, lock);
		if (!t->all)
			break;
	}
	if (lock >= 0)
		close(lock);
	free(s.text);
	return rc;
}

/* ---- guide ------------------------------------------------------------- */

static void guide_linux(void)
{
	printf("Linux\n"
	       "  TIME-WAIT lasts 60 s (TCP_TIMEWAIT_LEN); no sysctl changes it.\n"
	       "  Reuse TIME-WAIT tuples for outgoing connections (needs timestamps):\n"
	       "    tcpstate tune set tw-reuse=1            # sysctl -w net.ipv4.tcp_tw_reuse=1\n"
	       "  More ephemeral ports (1024..65535, LOW and HIGH of different parity):\n"
	       "    tcpstate tune set port-range='15000 65000'\n"
	       "  Keep a service's port out of the ephemeral range:\n"
	       "    tcpstate tune set reserved-ports=8080,9000-9100\n"
	       "  Make it permanent (/etc/sysctl.d/90-tcpstate.conf, applied at boot):\n"
	       "    tcpstate tune set --persist tw-reuse=1\n"
	       "  Undo the last change:  tcpstate tune revert   (every change: --all)\n"
	       "  Not knobs: net.ipv4.tcp_tw_recycle (removed in 4.12), "
	       "net.ipv4.vs.timeout_timewait (IPVS).\n\n");
}

static void guide_windows(void)
{
	printf("Windows\n"
	       "  TIME-WAIT length: TcpTimedWaitDelay, REG_DWORD, seconds, 30 to 300, default "
	       "240;\n"
	       "  takes effect after a reboot:\n"
	       "    reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters "
	       "/v TcpTimedWaitDelay /t REG_DWORD /d 30 /f\n"
	       "  Ephemeral ports, default 49152-65535 (16384 ports); start and count:\n"
	       "    netsh int ipv4 set dynamicport tcp start=10000 num=55535\n"
	       "    netsh int ipv6 set dynamicport tcp start=10000 num=55535\n"
	       "    netsh int ipv4 show dynamicport tcp\n"
	       "  MaxUserPort (REG_DWORD, default 5000, at most 65534) applies only before "
	       "Windows Vista.\n\n");
}

static void guide_macos(void)
{
	printf("macOS\n"
	       "  TIME-WAIT lasts 2 x MSL; MSL is net.inet.tcp.msl in milliseconds, default 15000\n"
	       "  (so 30 s):\n"
	       "    sudo sysctl -w net.inet.tcp.msl=5000\n"
	       "  Ephemeral ports, default 49152-65535:\n"
	       "    sudo sysctl -w net.inet.ip.portrange.first=32768 "
	       "net.inet.ip.portrange.last=65535\n"
	       "    (net.inet.ip.portrange.hifirst / hilast bound the high range)\n"
	       "  Permanent: the same settings in /etc/sysctl.conf.\n\n");
}

static void guide_freebsd(void)
{
	printf("FreeBSD\n"
	       "  TIME-WAIT lasts 2 x MSL; net.inet.tcp.msl in milliseconds, default 30000:\n"
	       "    sysctl net.inet.tcp.msl=7500\n"
	       "  Most TIME-WAIT sockets kept:   sysctl net.inet.tcp.maxtcptw=200000\n"
	       "  No TIME-WAIT between local endpoints:   sysctl net.inet.tcp.nolocaltimewait=1\n"
	       "  Recycle FIN-WAIT-2 sockets fast:\n"
	       "    sysctl net.inet.tcp.fast_finwait2_recycle=1 "
	       "net.inet.tcp.finwait2_timeout=30000\n"
	       "  Ephemeral ports:  sysctl net.inet.ip.portrange.first=10000 "
	       "net.inet.ip.portrange.last=65535\n"
	       "  Permanent: the same settings in /etc/sysctl.conf.\n\n");
}

#define OS_ITEM(print, word) {word, print},

static const struct os_guide os_guides[] = {TUNE_OSES(OS_ITEM, , ){NULL, NULL}};

static const struct os_guide *os_find(const char *name)
{
	for (const struct os_guide *o = os_guides; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static void tune_guide(const struct tune *t)
{
	for (const struct os_guide *o = os_guides; o->name; o++)
		if (!t->os || t->os == o)
			o->print();
	if (!t->os)
		printf("Solaris/illumos: tcp_time_wait_interval, 1 s to 10 min, default 60000 ms:\n"
		       "    ipadm set-prop -p time_wait_interval=30000 tcp\n");
}

/* ---- the command line ------------------------------------------------- */

static enum action action_find(const char *word)
{
	for (int i = 0; action_words[i]; i++)
		if (!strcmp(action_words[i], word))
			return (enum action)i;
	return A_NONE;
}

/*
 * --os's systems; or an action, then knob names: for set, "knob=" (the
 * shell adds no space after it).
 */
static void complete_words(const struct cmd_completion *c)
{
	if (c->opt == O_OS) {
		for (const struct os_guide *o = os_guides; o->name; o++)
			cmd_offer(c, o->name);
		return;
	}
	if (!c->first) {
		for (int i = 0; action_words[i]; i++)
			cmd_offer(c, action_words[i]);
		return;
	}
	int set = action_find(c->first) == A_SET;
	if (set && strchr(c->cur, '='))
		return;
	for (const struct knob *kn = knob_table; kn->name; kn++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s%s", kn->name, set ? "=" : "");
		cmd_offer(c, buf);
		snprintf(buf, sizeof(buf), "%s%s", kn->alias, set ? "=" : "");
		cmd_offer(c, buf);
	}
}

static int run_tune(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct tune t;
	char **args, err[256];
	int nargs, rc;

	memset(&t, 0, sizeof(t));
	rc = cmd_parse(cmd, argc, argv, on_opt, &t, &nargs, &args);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	const char *action = args[0];
	enum action a = action_find(action);
	int is_show = a == A_SHOW, is_set = a == A_SET, is_revert = a == A_REVERT,
	    is_guide = a == A_GUIDE;
	if (a == A_NONE)
		return cmd_usage_error(cmd, "unknown action \"%s\" (" TUNE_ACTIONS(WORD, ", ") ")",
				       action);
	if ((is_revert || is_guide) && nargs > 1)
		return cmd_usage_error(cmd, "%s takes no arguments", action);
	if (t.os && !is_guide)
		return cmd_usage_error(cmd, "--os goes with guide");
	if (t.json && !is_show)
		return cmd_usage_error(cmd, "--json goes with show");
	if ((t.dry || t.yes) && !(is_set || is_revert))
		return cmd_usage_error(cmd, "--dry-run and --yes go with set and revert");
	if (t.persist && !is_set)
		return cmd_usage_error(cmd, "--persist goes with set");
	/* That file is applied at boot, to the host's namespace, not this one. */
	if (t.persist && t.netns && !t.sysctlfile)
		return cmd_usage_error(
			cmd,
			"--persist with -N needs --sysctl-file: %s is applied to the "
			"host at boot, not to namespace \"%s\"; nothing was changed",
			DEFAULT_SYSCTL_FILE, t.netns);
	if (t.all && !is_revert)
		return cmd_usage_error(cmd, "--all goes with revert");
	if (is_guide) {
		tune_guide(&t);
		return cmd_flush_stdout(cmd);
	}
	if (t.netns) {
		int r = netns_enter(t.netns, err, sizeof(err));
		if (r == -2)
			return cmd_usage_error(cmd, "%s", err);
		if (r < 0) {
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
	}
	if (access("/proc/sys/net", F_OK) != 0) {
		cmd_error(cmd, "/proc/sys/net: %s (is /proc mounted?)", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (is_show)
		rc = tune_show(cmd, &t, nargs - 1, args + 1);
	else if (is_set)
		rc = tune_set(cmd, &t, nargs - 1, args + 1);
	else
		rc = tune_revert(cmd, &t);
	/* What they printed (a table, a plan, what changed) must reach its reader, or be said not
	 * to. */
	return rc ? rc : cmd_flush_stdout(cmd);
}
