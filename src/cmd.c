/*
 * cmd.c - what every subcommand shares: option parsing from its table,
 * --help, error messages, and the hidden completion and man page helpers
 * that read the same table.
 */
#include "cmd.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "netns.h"
#include "state.h"

const struct cmd_entry *cmd_find(const char *name)
{
	/* Exact names only: a prefix may mean another command tomorrow. */
	for (size_t i = 0; cmd_table[i]; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

static void vmsg(const struct cmd_entry *cmd, const char *fmt, va_list ap)
{
	fflush(stdout);
	if (cmd)
		fprintf(stderr, "%s %s: ", PROGNAME, cmd->name);
	else
		fprintf(stderr, "%s: ", PROGNAME);
	vfprintf(stderr, fmt, ap);
}

void cmd_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, " (see '%s %s --help')\n", PROGNAME, cmd->name);
	else
		fprintf(stderr, " (see '%s --help')\n", PROGNAME);
	return EXIT_USAGE;
}

int cmd_ns_pattern(const struct cmd_entry *cmd, const char ***pats, size_t *n, const char *pat)
{
	if (!*pat)
		return cmd_usage_error(cmd, "--ns: an empty pattern names no namespace");
	const char **v = realloc(*pats, (*n + 1) * sizeof(*v));
	if (!v) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	v[(*n)++] = pat;
	*pats = v;
	return 0;
}

int cmd_ns_check(const struct cmd_entry *cmd, int all, const char *rootfs, size_t npats,
		 const char *netns)
{
	if (!all && rootfs)
		return cmd_usage_error(cmd, "--rootfs names containers of namespaces: it needs -A");
	if (!all && npats)
		return cmd_usage_error(cmd, "--ns picks among namespaces: it needs -A");
	if (all && netns)
		return cmd_usage_error(cmd, "-A reads every namespace, -N one: not both");
	return 0;
}

int cmd_output_failed(const struct cmd_entry *cmd, int err)
{
	sigset_t pipe;

	if (err != EPIPE) {
		cmd_error(cmd, "write error: %s", strerror(err));
		return EXIT_RUNTIME;
	}
	/* The write raised SIGPIPE, held since main(): its own action now, as ss's. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_UNBLOCK, &pipe, NULL);
	return EXIT_OK;
}

uint64_t cmd_wall_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

int cmd_flush_stdout(const struct cmd_entry *cmd)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	/* A failed write left its errno; a later call may have cleared it. */
	return cmd_output_failed(cmd, errno ? errno : EIO);
}

int cmd_enter_netns(const struct cmd_entry *cmd, const char *name)
{
	char err[512];
	int r = netns_enter(name, err, sizeof(err));

	if (r == -2)
		return cmd_usage_error(cmd, "%s", err);
	if (r < 0) {
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	return 0;
}

int cmd_has_cap(int cap)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &h, d) < 0)
		return 1;
	return d[cap / 32].effective >> (cap % 32) & 1;
}

int cmd_check_mark_filter(const struct cmd_entry *cmd, const struct filter *f)
{
	if (!filter_has_mark(f) || cmd_has_cap(CAP_NET_ADMIN))
		return 0;
	cmd_error(cmd, "fwmark needs CAP_NET_ADMIN: the kernel reports socket marks only to it");
	return EXIT_RUNTIME;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct opt_def help_opt = {-1,	      'h', "help", NULL, "show this help and exit",
					COMPLETE_NONE};

static const struct opt_def *find_short(const struct cmd_entry *cmd, char c)
{
	if (c == 'h')
		return &help_opt;
	for (const struct opt_def *o = cmd->opts; o && o->id; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

static const struct opt_def *find_long(const struct cmd_entry *cmd, const char *name, size_t n)
{
	if (n == 4 && strncmp(name, "help", 4) == 0)
		return &help_opt;
	for (const struct opt_def *o = cmd->opts; o && o->id; o++)
		if (o->long_name && strlen(o->long_name) == n &&
		    strncmp(o->long_name, name, n) == 0)
			return o;
	return NULL;
}

/*
 * What a callback's non-zero answer ends the parse with.  EXIT_USAGE has
 * been said already; anything else means the table lists an option its
 * command has no case for.  That is a bug, but it must never end in a
 * silent exit 1: say which option, as a usage error.
 */
static int unhandled(const struct cmd_entry *cmd, int rc, const char *dash, const char *name, int n)
{
	if (rc == EXIT_USAGE)
		return rc;
	return cmd_usage_error(cmd, "option \"-%s%.*s\" is not handled (a bug in %s)", dash, n,
			       name, PROGNAME);
}

/* -h: the help, and -1 (exit 0) once it is written. */
static int help(const struct cmd_entry *cmd)
{
	cmd_help(cmd);
	int rc = cmd_flush_stdout(cmd);
	return rc ? rc : -1;
}

int cmd_parse(const struct cmd_entry *cmd, int argc, char **argv,
	      int (*fn)(void *st, int id, const char *arg), void *st, int *nargs, char ***args)
{
	int npos = 0, rc;
	int i;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct opt_def *o;
		const char *val = NULL;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			argv[1 + npos++] = a;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			o = find_long(cmd, name, n);
			if (!o)
				return cmd_usage_error(cmd, "unknown option \"--%.*s\"", (int)n,
						       name);
			if (o->metavar) {
				if (eq)
					val = eq + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return cmd_usage_error(cmd, "--%s needs an argument (%s)",
							       o->long_name, o->metavar);
			} else if (eq) {
				return cmd_usage_error(cmd, "--%s takes no argument", o->long_name);
			}
			if (o == &help_opt)
				return help(cmd);
			if ((rc = fn(st, o->id, val)) != 0)
				return unhandled(cmd, rc, "-", name, (int)n);
			continue;
		}
		/* A bundle of short options: -tan, -N name, -Nname. */
		for (const char *p = a + 1; *p; p++) {
			o = find_short(cmd, *p);
			if (!o)
				return cmd_usage_error(cmd, "unknown option \"-%c\"", *p);
			if (o == &help_opt)
				return help(cmd);
			val = NULL;
			if (o->metavar) {
				if (p[1])
					val = p + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else
					return cmd_usage_error(cmd, "-%c needs an argument (%s)",
							       *p, o->metavar);
			}
			if ((rc = fn(st, o->id, val)) != 0)
				return unhandled(cmd, rc, "", p, 1);
			if (val)
				break;
		}
	}
	for (; i < argc; i++)
		argv[1 + npos++] = argv[i];
	if (npos < cmd->min_args)
		return cmd_usage_error(cmd, "missing argument %s", cmd->args ? cmd->args : "");
	if (cmd->max_args >= 0 && npos > cmd->max_args)
		return cmd_usage_error(cmd, "unexpected argument \"%s\"", argv[1 + cmd->max_args]);
	*nargs = npos;
	*args = argv + 1;
	return 0;
}

static void opt_label(char *buf, size_t len, const struct opt_def *o)
{
	int n = 0;

	if (o->short_name)
		n = snprintf(buf, len, "-%c%s", o->short_name, o->long_name ? ", " : "");
	else
		n = snprintf(buf, len, "    ");
	if (o->long_name)
		n += snprintf(buf + n, len - (size_t)n, "--%s", o->long_name);
	if (o->metavar)
		snprintf(buf + n, len - (size_t)n, " %s", o->metavar);
}

void cmd_help(const struct cmd_entry *cmd)
{
	char label[64];

	printf("Usage: %s %s [OPTIONS]%s%s\n%s.\n\nOptions:\n", PROGNAME, cmd->name,
	       cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
	for (const struct opt_def *o = cmd->opts; o && o->id; o++) {
		opt_label(label, sizeof(label), o);
		printf("  %-24s %s\n", label, o->help);
	}
	opt_label(label, sizeof(label), &help_opt);
	printf("  %-24s %s\n", label, help_opt.help);
	if (cmd->help_tail)
		printf("\n%s", cmd->help_tail);
}

/* ---- completion: `tcpstate __complete WORD... CUR` ---------------------- */

void cmd_offer(const struct cmd_completion *c, const char *word)
{
	if (strncmp(word, c->cur, strlen(c->cur)) == 0)
		c->fn(word, c->arg);
}

static void print_cand(const char *word, void *arg)
{
	(void)arg;
	printf("%s\n", word);
}

static void list_dir(const struct cmd_completion *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			cmd_offer(c, de->d_name);
	closedir(d);
}

static void complete_kind(const struct cmd_entry *cmd, const struct cmd_completion *c,
			  enum complete_kind k)
{
	switch (k) {
	case COMPLETE_FILE:
		c->fn("@file", c->arg); /* the shell completes file names itself */
		break;
	case COMPLETE_NETNS:
		list_dir(c, "/run/netns");
		break;
	case COMPLETE_IFACE:
		cmd_offer(c, "any");
		list_dir(c, "/sys/class/net");
		break;
	case COMPLETE_FILTER:
		if (c->prev && (strcmp(c->prev, "state") == 0 || strcmp(c->prev, "exclude") == 0)) {
			for (const char *const *w = state_words(); *w; w++)
				cmd_offer(c, *w);
		} else {
			for (const char *const *w = filter_keywords(); *w; w++)
				cmd_offer(c, *w);
		}
		break;
	case COMPLETE_COMMAND:
		for (size_t i = 0; cmd_table[i]; i++)
			cmd_offer(c, cmd_table[i]->name);
		break;
	case COMPLETE_OWN:
		if (cmd->words)
			cmd->words(c);
		break;
	case COMPLETE_NONE:
		break;
	}
}

static const struct opt_def *option_word(const struct cmd_entry *cmd, const char *w)
{
	if (w[0] != '-' || w[1] == '\0')
		return NULL;
	if (w[1] == '-')
		return strchr(w, '=') ? NULL : find_long(cmd, w + 2, strlen(w + 2));
	/* In a bundle, only the last letter can take the next word. */
	return find_short(cmd, w[strlen(w) - 1]);
}

static void candidates(struct cmd_completion *c, int argc, char **argv)
{
	const struct cmd_entry *cmd;

	c->cur = argc > 0 ? argv[argc - 1] : "";
	if (argc <= 1) {
		for (size_t i = 0; cmd_table[i]; i++)
			cmd_offer(c, cmd_table[i]->name);
		cmd_offer(c, "--help");
		cmd_offer(c, "--version");
		return;
	}
	cmd = cmd_find(argv[0]);
	if (!cmd)
		return;
	c->prev = argc >= 2 ? argv[argc - 2] : NULL;
	const struct opt_def *po = c->prev && argc > 2 ? option_word(cmd, c->prev) : NULL;
	if (po && po->metavar) {
		c->opt = po->id;
		complete_kind(cmd, c, po->complete);
		return;
	}
	if (c->cur[0] == '-') {
		for (const struct opt_def *o = cmd->opts; o && o->id; o++) {
			char buf[64];
			if (o->long_name) {
				snprintf(buf, sizeof(buf), "--%s", o->long_name);
				cmd_offer(c, buf);
			}
			if (o->short_name) {
				snprintf(buf, sizeof(buf), "-%c", o->short_name);
				cmd_offer(c, buf);
			}
		}
		cmd_offer(c, "--help");
		return;
	}
	/* The first positional word before the cursor, skipping options and their arguments. */
	for (int i = 1; i < argc - 1 && !c->first; i++) {
		const struct opt_def *o = option_word(cmd, argv[i]);
		if (o && o->metavar)
			/* its argument; bash splits --opt=arg into --opt, =, arg */
			i += i + 2 < argc - 1 && strcmp(argv[i + 1], "=") == 0 ? 2 : 1;
		else if (argv[i][0] != '-')
			c->first = argv[i];
	}
	complete_kind(cmd, c, cmd->args_complete);
}

void cmd_candidates(int n, char **words, void (*fn)(const char *cand, void *arg), void *arg)
{
	struct cmd_completion c = {.fn = fn, .arg = arg};

	candidates(&c, n, words);
}

int cmd_complete(int argc, char **argv)
{
	cmd_candidates(argc, argv, print_cand, NULL);
	return cmd_flush_stdout(NULL);
}

/* ---- man page fragments: `tcpstate __man` ------------------------------- */

/* man(7) text: a leading '.' or '\'' and every '-' and '\' need escapes. */
static void man_text(const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	for (; *s; s++) {
		if (*s == '-')
			fputs("\\-", stdout);
		else if (*s == '\\')
			fputs("\\e", stdout);
		else
			putchar(*s);
	}
}

static void man_opt(const struct opt_def *o)
{
	printf(".TP\n");
	if (o->short_name) {
		printf("\\fB\\-%c\\fR", o->short_name);
		if (o->long_name)
			printf(", ");
	}
	if (o->long_name) {
		printf("\\fB\\-\\-");
		man_text(o->long_name);
		printf("\\fR");
	}
	if (o->metavar) {
		printf(" \\fI");
		man_text(o->metavar);
		printf("\\fR");
	}
	printf("\n");
	man_text(o->help);
	printf(".\n");
}

int cmd_man(void)
{
	printf(".\\\" BEGIN GENERATED SYNOPSIS\n");
	for (size_t i = 0; cmd_table[i]; i++) {
		const struct cmd_entry *c = cmd_table[i];
		printf(".SY %s\n.B %s\n", PROGNAME, c->name);
		printf(".OP \\-h\n");
		for (const struct opt_def *o = c->opts; o && o->id; o++) {
			printf(".OP ");
			if (o->short_name)
				printf("\\-%c", o->short_name);
			else {
				printf("\\-\\-");
				man_text(o->long_name);
			}
			if (o->metavar) {
				printf(" ");
				man_text(o->metavar);
			}
			printf("\n");
		}
		if (c->args) {
			printf(".I ");
			man_text(c->args);
			printf("\n");
		}
		printf(".YS\n");
	}
	printf(".\\\" END GENERATED SYNOPSIS\n");
	for (size_t i = 0; cmd_table[i]; i++) {
		const struct cmd_entry *c = cmd_table[i];
		printf(".\\\" BEGIN GENERATED OPTIONS %s\n", c->name);
		for (const struct opt_def *o = c->opts; o && o->id; o++)
			man_opt(o);
		man_opt(&help_opt);
		printf(".\\\" END GENERATED OPTIONS %s\n", c->name);
	}
	return cmd_flush_stdout(NULL);
}
