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
 *
 * This file is the command line, show and guide; set and revert, which
 * write, are in cmd_tune_change.c (cmd_tune_int.h joins them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "census.h"
#include "cmd.h"
#include "cmd_tune_int.h"
#include "knobs.h"
#include "netns.h"
#include "sockdiag.h"
#include "sysctl.h"

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

/*
 * Ephemeral ports: the busiest pair of source address and destination
 * against the range, which each pair has whole.  The source is named when
 * there are several: then the destination alone does not say which range
 * runs out.
 */
static void port_advice(char line[320], const struct census *c, long range)
{
	struct census_dest b;
	char a[ADDR_STRLEN], from[ADDR_STRLEN + 6] = "";
	uint64_t n = census_busiest(c, &b, 1) ? b.in_use : 0;

	if (n && census_totals(c)->sources > 1) {
		memcpy(from, " from ", 7);
		addr_format(from + 6, b.src_family, b.src);
	}
	if (n)
		addr_format_port(a, b.family, b.addr, b.port, 0);
	if (n && (double)n >= 0.5 * (double)range)
		snprintf(line, 320,
			 "Ephemeral ports: %llu sockets%s to %s use %.0f%% of the %ld-port range. "
			 "Widen port-range, let connect() reuse TIME-WAIT tuples (tw-reuse=1, "
			 "needs timestamps), or reuse connections (pooling, keep-alive).",
			 (unsigned long long)n, from, a, 100.0 * (double)n / (double)range, range);
	else if (from[0])
		snprintf(line, 320,
			 "Ephemeral ports: the busiest destination, %s%s, uses %llu of %ld ports "
			 "(each source address has a range of its own): no action needed.",
			 a, from, (unsigned long long)n, range);
	else
		snprintf(line, 320,
			 "Ephemeral ports: the busiest destination uses %llu of %ld ports: "
			 "no action needed.",
			 (unsigned long long)n, range);
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
	if (lo > 0 && n < max)
		port_advice(lines[n++], c.census, hi - lo + 1);
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
	int nsel = 0;

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
	return EXIT_OK;
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
