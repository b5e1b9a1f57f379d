/*
 * cmd_tune.c - `tcpstate tune`: TIME-WAIT and ephemeral-port settings,
 * shown with their real meaning, changed as one reversible transaction,
 * and myths refused with the reason; plus exact guidance for Windows,
 * macOS and FreeBSD.
 *
 *   tune show [KNOB...]          values, defaults, ranges, meanings, advice
 *   tune set KNOB=VALUE...       validate all, confirm, record, apply all or none
 *   tune revert                  restore what the last set recorded
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
#include "sockdiag.h"
#include "sysctl.h"

/* There are fewer knobs than this; it bounds the stack, at 4 KiB a value. */
#define MAX_SETTINGS 16

enum { O_JSON = 1, O_DRYRUN, O_PERSIST, O_YES, O_NETNS, O_ROLLBACK, O_SYSCTLFILE, O_OS };

static const struct opt_def tune_opts[] = {
	{O_JSON, 'j', "json", NULL, "show: print JSON", COMPLETE_NONE},
	{O_DRYRUN, 'n', "dry-run", NULL, "set, revert: print what would change, change nothing",
	 COMPLETE_NONE},
	{O_PERSIST, 'p', "persist", NULL, "set: also write the values to the sysctl.d file",
	 COMPLETE_NONE},
	{O_YES, 'y', "yes", NULL, "set, revert: do not ask for confirmation", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "act on the named network namespace", COMPLETE_NETNS},
	{O_ROLLBACK, 0, "rollback-file", "FILE",
	 "where set records previous values (default /var/lib/tcpstate/rollback)", COMPLETE_FILE},
	{O_SYSCTLFILE, 0, "sysctl-file", "FILE",
	 "where --persist writes (default /etc/sysctl.d/90-tcpstate.conf)", COMPLETE_FILE},
	{O_OS, 0, "os", "OS", "guide: linux, windows, macos or freebsd (default: all)",
	 COMPLETE_OS},
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_tune(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_tune_entry = {
	.name = "tune",
	.args = "show|set|revert|guide [KNOB[=VALUE]...]",
	.summary = "Show and change TIME-WAIT and port settings, safely and reversibly",
	.help_tail =
		"Knobs may be named in full (net.ipv4.tcp_tw_reuse), without net.ipv4., or by\n"
		"alias (tw-reuse).  set validates every value before writing any; if one write\n"
		"fails, those already written are restored.  The previous values go to the\n"
		"rollback file, and `tune revert` puts them back.\n"
		"TIME-WAIT itself lasts 60 s on Linux and no sysctl changes that: see\n"
		"`tcpstate tune show time-wait` and doc/tuning.md.\n",
	.opts = tune_opts,
	.min_args = 1,
	.max_args = -1,
	.args_complete = COMPLETE_TUNE,
	.run = run_tune,
};

struct tune {
	int json, dry, persist, yes;
	const char *netns, *rollback, *sysctlfile, *os;
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
	case O_NETNS:
		t->netns = arg;
		break;
	case O_ROLLBACK:
		t->rollback = arg;
		break;
	case O_SYSCTLFILE:
		t->sysctlfile = arg;
		break;
	case O_OS:
		if (strcmp(arg, "linux") && strcmp(arg, "windows") && strcmp(arg, "macos") &&
		    strcmp(arg, "freebsd"))
			return cmd_usage_error(&cmd_tune_entry,
					       "--os: unknown system \"%s\" (linux, windows, macos, "
					       "freebsd)",
					       arg);
		t->os = arg;
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

static long unpriv_port_start(void)
{
	const struct knob k = {"net.ipv4.ip_unprivileged_port_start", "", KNOB_INT, 0, 65535,
			       NULL, NULL, 1, NULL, NULL};
	char v[32];
	return sysctl_read(&k, v, sizeof(v)) == 0 ? strtol(v, NULL, 10) : -1;
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
	char err[256], v[64];
	int n = 0;
	long lo = 0, hi = 0;

	memset(&c, 0, sizeof(c));
	const struct knob *pr = knob_find("port-range");
	if (sysctl_read(pr, v, sizeof(v)) == 0)
		sscanf(v, "%ld %ld", &lo, &hi);
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
	long maxtw = -1;
	if (sysctl_read(knob_find("max-tw"), v, sizeof(v)) == 0)
		maxtw = strtol(v, NULL, 10);
	uint64_t tw = c.count[TS_TIME_WAIT];
	if (maxtw > 0 && n < max) {
		if ((double)tw >= 0.5 * (double)maxtw)
			snprintf(lines[n++], 320,
				 "TIME-WAIT: %llu sockets, %.0f%% of tcp_max_tw_buckets (%ld). Past it, "
				 "sockets skip TIME-WAIT (TCPTimeWaitOverflow). Prefer fewer, longer "
				 "connections; raising the limit costs only memory.",
				 (unsigned long long)tw, 100.0 * (double)tw / (double)maxtw, maxtw);
		else
			snprintf(lines[n++], 320,
				 "TIME-WAIT: %llu sockets, %.1f%% of tcp_max_tw_buckets (%ld): no action "
				 "needed.",
				 (unsigned long long)tw, 100.0 * (double)tw / (double)maxtw, maxtw);
	}
	if (lo > 0 && n < max) {
		long range = hi - lo + 1;
		char a[ADDR_STRLEN];
		if (dest_count && (double)dest_count >= 0.5 * (double)range) {
			addr_format_port(a, busiest.family, busiest.addr, busiest.port, 0);
			snprintf(lines[n++], 320,
				 "Ephemeral ports: %llu sockets to %s use %.0f%% of the %ld-port range. "
				 "Widen port-range, let connect() reuse TIME-WAIT tuples (tw-reuse=1, "
				 "needs timestamps), or reuse connections (pooling, keep-alive).",
				 (unsigned long long)dest_count, a,
				 100.0 * (double)dest_count / (double)range, range);
		} else {
			snprintf(lines[n++], 320,
				 "Ephemeral ports: the busiest destination uses %llu of %ld ports: no "
				 "action needed.",
				 (unsigned long long)dest_count, range);
		}
	}
	if (c.count[TS_CLOSE_WAIT] && n < max)
		snprintf(lines[n++], 320,
			 "CLOSE-WAIT: %llu sockets. The peer has closed and the local program has "
			 "not: an application bug no sysctl fixes. Find the owners with: tcpstate list "
			 "-p state close-wait",
			 (unsigned long long)c.count[TS_CLOSE_WAIT]);
	char ts[16], reuse[16];
	if (n < max && sysctl_read(knob_find("timestamps"), ts, sizeof(ts)) == 0 &&
	    sysctl_read(knob_find("tw-reuse"), reuse, sizeof(reuse)) == 0 && strcmp(ts, "0") == 0 &&
	    strcmp(reuse, "0") != 0)
		snprintf(lines[n++], 320,
			 "tcp_tw_reuse is %s but tcp_timestamps is 0: reuse needs timestamps and does "
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
					       s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
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
			printf(",\"myth\":%s,\"exists\":%s,\"value\":", k->type == KNOB_MYTH ? "true" : "false",
			       exists ? "true" : "false");
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
				printf("    default %s, range %ld to %ld%s%s, %s since %s\n", k->def,
				       k->min, k->max, k->unit ? " " : "", k->unit ? k->unit : "",
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
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_error(cmd, "write error: %s", strerror(errno));
		return EXIT_RUNTIME;
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

static int record_rollback(struct tune *t, const struct setting *old, int n)
{
	char buf[MAX_SETTINGS * (SYSCTL_VALUE_MAX + 128) + 256];
	size_t o = 0;
	time_t now = time(NULL);

	o += (size_t)snprintf(buf, sizeof(buf),
			      "# tcpstate tune: values before the last set, for `tcpstate tune "
			      "revert`\n# namespace: %s\n# time: %ld\n",
			      t->netns ? t->netns : "(the tool's own)", (long)now);
	for (int i = 0; i < n && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s = %s\n", old[i].knob->name,
				      old[i].value);
	if (o >= sizeof(buf))
		return -E2BIG;
	return file_replace(rollback_path(t), buf, o, 0600, 1);
}

/* Write the sysctl.d fragment: our knobs' lines replaced, everything else kept. */
static int persist(const char *path, const struct setting *want, int n)
{
	char *old = NULL, *out;
	size_t oldlen = 0, o = 0;
	int r = file_read(path, &old, &oldlen);

	if (r < 0 && r != -ENOENT)
		return r;
	out = malloc(oldlen + (size_t)n * (SYSCTL_VALUE_MAX + 128) + 256);
	if (!out) {
		free(old);
		return -ENOMEM;
	}
	if (!old || !oldlen)
		o += (size_t)sprintf(out, "# Written by tcpstate tune --persist; other lines are "
					  "kept as they were.\n");
	for (char *line = old, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char name[256] = "";
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		sscanf(p, "%255[^= \t]", name);
		int ours = 0;
		const struct knob *k = *p != '#' && *p != ';' && name[0] ? knob_find(name) : NULL;
		for (int i = 0; k && i < n; i++)
			if (want[i].knob == k)
				ours = 1;
		if (!ours)
			o += (size_t)sprintf(out + o, "%s\n", line);
	}
	for (int i = 0; i < n; i++)
		o += (size_t)sprintf(out + o, "%s = %s\n", want[i].knob->name, want[i].value);
	r = file_replace(path, out, o, 0644, 0);
	free(out);
	free(old);
	return r;
}

static int plan(const struct cmd_entry *cmd, int n, const struct setting *want,
		struct setting *old)
{
	for (int i = 0; i < n; i++) {
		old[i].knob = want[i].knob;
		int r = sysctl_read(want[i].knob, old[i].value, sizeof(old[i].value));
		if (r < 0) {
			cmd_error(cmd, "%s: cannot read it: %s", want[i].knob->name, strerror(-r));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

static int tune_apply(const struct cmd_entry *cmd, struct tune *t, struct setting *want, int n,
		      int is_revert)
{
	struct setting old[MAX_SETTINGS];
	int rc = plan(cmd, n, want, old), failed = 0;

	if (rc)
		return rc;
	int asking = !t->yes && isatty(STDIN_FILENO);
	/* The plan is shown before a dry run ends or a question is asked. */
	if (t->dry || (asking && has_privilege()))
		for (int i = 0; i < n; i++)
			printf("%s %s: %s -> %s%s\n", t->dry ? "would set" : "will set",
			       want[i].knob->name, old[i].value, want[i].value,
			       strcmp(old[i].value, want[i].value) ? "" : " (unchanged)");
	fflush(stdout);
	if (t->dry)
		return EXIT_OK;
	if (!has_privilege()) {
		cmd_error(cmd, "changing sysctls needs root or CAP_NET_ADMIN; nothing was changed");
		return EXIT_RUNTIME;
	}
	if (!confirm(t, is_revert ? "Restore these values" : "Apply these changes")) {
		cmd_error(cmd, "not confirmed; nothing was changed");
		return EXIT_RUNTIME;
	}
	/* Record first: even a crash halfway leaves something to revert to. */
	if (!is_revert) {
		int r = record_rollback(t, old, n);
		if (r < 0) {
			cmd_error(cmd, "%s: cannot record the previous values: %s; nothing was changed",
				  rollback_path(t), strerror(-r));
			return EXIT_RUNTIME;
		}
	}
	int r = apply_all(want, old, n, &failed);
	if (r < 0) {
		cmd_error(cmd, "%s: the kernel refused \"%s\": %s; all values restored",
			  want[failed].knob->name, want[failed].value, strerror(-r));
		return EXIT_RUNTIME;
	}
	if (t->persist) {
		const char *path = t->sysctlfile ? t->sysctlfile : "/etc/sysctl.d/90-tcpstate.conf";
		struct stat pst;
		if (lstat(path, &pst) == 0 && !S_ISREG(pst.st_mode)) {
			int ignored;
			apply_all(old, want, n, &ignored);
			cmd_error(cmd, "%s: not a regular file; the running values were restored",
				  path);
			return EXIT_RUNTIME;
		}
		r = persist(path, want, n);
		if (r < 0) {
			int ignored;
			apply_all(old, want, n, &ignored);
			cmd_error(cmd, "%s: %s; the running values were restored and the file is "
				       "unchanged",
				  path, strerror(-r));
			return EXIT_RUNTIME;
		}
	}
	/* Only now is it true. */
	for (int i = 0; i < n; i++)
		printf("set %s: %s -> %s%s\n", want[i].knob->name, old[i].value, want[i].value,
		       strcmp(old[i].value, want[i].value) ? "" : " (unchanged)");
	if (t->persist)
		printf("persisted in %s\n",
		       t->sysctlfile ? t->sysctlfile : "/etc/sysctl.d/90-tcpstate.conf");
	if (is_revert)
		unlink(rollback_path(t));
	return EXIT_OK;
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
			return cmd_usage_error(cmd, "unknown knob \"%s\"%s%s%s; nothing was changed",
					       name, s ? " (did you mean " : "", s ? s : "",
					       s ? "?)" : "");
		}
		if (k->type == KNOB_MYTH) {
			cmd_error(cmd, "%s is not a knob (%s): %s Nothing was changed.", k->name,
				  k->since, k->meaning);
			return EXIT_USAGE;
		}
		if (!sysctl_exists(k)) {
			cmd_error(cmd, "%s does not exist here (kernel %s, namespace, or module not "
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
	return tune_apply(cmd, t, want, n, 0);
}

static int tune_revert(const struct cmd_entry *cmd, struct tune *t)
{
	struct setting want[MAX_SETTINGS];
	int n = 0;
	char *buf = NULL;
	size_t len;
	const char *path = rollback_path(t);
	int r = file_read(path, &buf, &len);

	if (r < 0) {
		cmd_error(cmd, "%s: %s: nothing to revert", path, strerror(-r));
		return EXIT_RUNTIME;
	}
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char name[128];
		if (line[0] == '#' || !line[0])
			continue;
		/* "name = value", the value possibly empty (an empty port list). */
		char *eq = strchr(line, '=');
		const char *value = eq ? eq + 1 : NULL;
		if (eq) {
			char *e = eq;
			while (e > line && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*e = '\0';
			while (*value == ' ' || *value == '\t')
				value++;
		}
		if (!eq || !line[0] || strlen(line) >= sizeof(name) ||
		    strlen(value) >= SYSCTL_VALUE_MAX || n == MAX_SETTINGS) {
			cmd_error(cmd, "%s: cannot read \"%s\"; nothing was changed", path, line);
			free(buf);
			return EXIT_RUNTIME;
		}
		snprintf(name, sizeof(name), "%s", line);
		const struct knob *k = knob_find(name);
		if (!k || k->type == KNOB_MYTH) {
			cmd_error(cmd, "%s: unknown knob \"%s\"; nothing was changed", path, name);
			free(buf);
			return EXIT_RUNTIME;
		}
		want[n].knob = k;
		snprintf(want[n].value, sizeof(want[n].value), "%s", value);
		/* What was read must be valid for the knob too. */
		char norm[SYSCTL_VALUE_MAX], err[512], warn[256];
		if (knob_validate(k, value, -1, norm, sizeof(norm), err, sizeof(err), warn,
				  sizeof(warn)) < 0) {
			cmd_error(cmd, "%s: %s; nothing was changed", path, err);
			free(buf);
			return EXIT_RUNTIME;
		}
		n++;
	}
	free(buf);
	if (!n) {
		cmd_error(cmd, "%s records no values: nothing to revert", path);
		return EXIT_RUNTIME;
	}
	return tune_apply(cmd, t, want, n, 1);
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
	       "  Undo the last change:  tcpstate tune revert\n"
	       "  Not knobs: net.ipv4.tcp_tw_recycle (removed in 4.12), "
	       "net.ipv4.vs.timeout_timewait (IPVS).\n\n");
}

static void guide_windows(void)
{
	printf("Windows\n"
	       "  TIME-WAIT length: TcpTimedWaitDelay, REG_DWORD, seconds, 30 to 300, default 240;\n"
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
	       "    sudo sysctl -w net.inet.ip.portrange.first=32768 net.inet.ip.portrange.last=65535\n"
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
	       "    sysctl net.inet.tcp.fast_finwait2_recycle=1 net.inet.tcp.finwait2_timeout=30000\n"
	       "  Ephemeral ports:  sysctl net.inet.ip.portrange.first=10000 "
	       "net.inet.ip.portrange.last=65535\n"
	       "  Permanent: the same settings in /etc/sysctl.conf.\n\n");
}

static int tune_guide(const struct tune *t)
{
	if (!t->os || !strcmp(t->os, "linux"))
		guide_linux();
	if (!t->os || !strcmp(t->os, "windows"))
		guide_windows();
	if (!t->os || !strcmp(t->os, "macos"))
		guide_macos();
	if (!t->os || !strcmp(t->os, "freebsd"))
		guide_freebsd();
	if (!t->os)
		printf("Solaris/illumos: tcp_time_wait_interval, 1 s to 10 min, default 60000 ms:\n"
		       "    ipadm set-prop -p time_wait_interval=30000 tcp\n");
	return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_RUNTIME;
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
	int is_show = !strcmp(action, "show"), is_set = !strcmp(action, "set"),
	    is_revert = !strcmp(action, "revert"), is_guide = !strcmp(action, "guide");
	if (!is_show && !is_set && !is_revert && !is_guide)
		return cmd_usage_error(cmd, "unknown action \"%s\" (show, set, revert, guide)", action);
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
	if (is_guide)
		return tune_guide(&t);
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
		return tune_show(cmd, &t, nargs - 1, args + 1);
	if (is_set)
		return tune_set(cmd, &t, nargs - 1, args + 1);
	return tune_revert(cmd, &t);
}
