/*
 * cmd.h - the table of subcommands and their options.
 *
 * Each subcommand lives in its own cmd_NAME.c and describes itself with a
 * `const struct cmd_entry`, as tmux's cmd-*.c files do.  That one entry
 * drives option parsing, --help, the man page's synopsis and option lists
 * (`tcpstate __man`), and shell completion (`tcpstate __complete`), so none
 * of them can drift from the code.
 */
#ifndef TCPSTATE_CMD_H
#define TCPSTATE_CMD_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in tcpstate.1. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* What the shell should offer for an option's argument or a positional. */
enum complete_kind {
	COMPLETE_NONE,
	COMPLETE_FILE,
	COMPLETE_NETNS,
	COMPLETE_IFACE,
	COMPLETE_FILTER,  /* filter keywords, and state names after state/exclude */
	COMPLETE_COMMAND, /* a subcommand name (shell's help) */
	COMPLETE_OWN,	  /* the command's own words: its cmd_entry's words callback */
};

/*
 * A completion under way, as a command's words callback sees it: it offers
 * each word with cmd_offer(), which keeps those that extend cur.
 */
struct cmd_completion {
	int opt;	  /* the option whose argument is completed (its id), or 0: a positional */
	const char *cur;  /* the word being completed, possibly empty */
	const char *prev; /* the word before it, or NULL */
	const char *
		first; /* the command's first positional word before cur (tune's action), or NULL */
	void (*fn)(const char *cand, void *arg);
	void *arg;
};

void cmd_offer(const struct cmd_completion *c, const char *word);

struct opt_def {
	int id;		       /* handed to the command's option callback; 0 ends a table */
	char short_name;       /* 0 when there is none */
	const char *long_name; /* NULL when there is none */
	const char *metavar;   /* the argument's name, or NULL for a flag */
	const char *help;      /* one line, lower case, no full stop */
	enum complete_kind complete;
};

struct cmd_entry {
	const char *name;
	const char *args;      /* synopsis of positionals, e.g. "[FILTER...]" */
	const char *summary;   /* one line for `tcpstate --help` */
	const char *help_tail; /* extra --help text after the options, or NULL */
	const struct opt_def *opts;
	int min_args, max_args; /* positional count; max -1 for no limit */
	enum complete_kind args_complete;
	/*
	 * The words COMPLETE_OWN stands for (tune's actions, explain's topics,
	 * top's sort columns): each command keeps its own, and cmd.c knows none.
	 */
	void (*words)(const struct cmd_completion *c);
	int (*run)(const struct cmd_entry *cmd, int argc, char **argv);
};

/* The table, NULL-terminated (cmdtab.c). */
extern const struct cmd_entry *const cmd_table[];

const struct cmd_entry *cmd_find(const char *name);

/*
 * Parse argv (argv[0] is the subcommand) against cmd->opts.  For each option
 * fn(st, id, arg) is called in order; it returns 0, or EXIT_USAGE after
 * calling cmd_usage_error().  Positionals are gathered into *args / *nargs
 * (pointing into argv, which is reordered).  Options may follow positionals;
 * "--" ends options.  -h/--help prints help and returns -1.
 * Returns 0, -1 (help printed: exit 0), EXIT_USAGE, or the status of
 * cmd_output_failed() when the help could not be written.
 */
int cmd_parse(const struct cmd_entry *cmd, int argc, char **argv,
	      int (*fn)(void *st, int id, const char *arg), void *st, int *nargs, char ***args);

void cmd_help(const struct cmd_entry *cmd);

/* Print "tcpstate CMD: MESSAGE" (or "tcpstate: ..." with cmd NULL) to stderr. */
void cmd_error(const struct cmd_entry *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, for usage errors: adds a pointer to --help.  Returns EXIT_USAGE. */
int cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * -A, --ns PATTERN and --rootfs DIR, as list and top have them (doc/namespaces.md),
 * with the commands' own option ids.
 */
#define CMD_OPTS_ALL_NS(ALL, NS, ROOTFS)                                                           \
	{ALL,                                                                                      \
	 'A',                                                                                      \
	 "all-namespaces",                                                                         \
	 NULL,                                                                                     \
	 "every network namespace: the named ones and every one a process is in",                  \
	 COMPLETE_NONE},                                                                           \
		{NS,                                                                               \
		 0,                                                                                \
		 "ns",                                                                             \
		 "PATTERN",                                                                        \
		 "with -A: namespaces whose name, container, comm[pid] or inode match (a glob)",   \
		 COMPLETE_NETNS},                                                                  \
	{                                                                                          \
		ROOTFS, 0, "rootfs", "DIR",                                                        \
			"with -A: read processes' cgroups and container runtimes' files under "    \
			"DIR",                                                                     \
			COMPLETE_FILE                                                              \
	}
/* --ns PATTERN: append it to *pats (realloc'd; n of them).  0, or an exit status (printed). */
int cmd_ns_pattern(const struct cmd_entry *cmd, const char ***pats, size_t *n, const char *pat);
/*
 * The usage errors -A's options share in list and top: --rootfs or --ns
 * without -A, -A with -N.  0, or EXIT_USAGE after saying which.
 */
int cmd_ns_check(const struct cmd_entry *cmd, int all, const char *rootfs, size_t npats,
		 const char *netns);

/*
 * Completion candidates for a command line: words[0..n-1], the last one the
 * word being completed (possibly empty).  fn gets each candidate; "@file"
 * means "complete a file name".
 */
void cmd_candidates(int n, char **words, void (*fn)(const char *cand, void *arg), void *arg);

/* Hidden entry points used by completions and the man page generator. */
int cmd_complete(int argc, char **argv);
int cmd_man(void);

/*
 * The end of a command whose output failed with errno err; returns its exit
 * status.  A reader that went away (EPIPE: `| head`) is no error worth a
 * word: the command ends as ss or cat would, killed by the SIGPIPE that
 * main() holds back (status 141 in a shell), or with 0 when whoever started
 * tcpstate ignores SIGPIPE.  Anything else (a full disk) is said, as
 * "write error: ...", with EXIT_RUNTIME.
 */
int cmd_output_failed(const struct cmd_entry *cmd, int err);

/*
 * The wall clock in microseconds.  The command layer reads the clock and
 * passes time to the library, which never reads one itself.
 */
uint64_t cmd_wall_us(void);

/*
 * Flush stdout, where a command printed with stdio: EXIT_OK, or what
 * cmd_output_failed() makes of a write that failed, now or before.
 */
int cmd_flush_stdout(const struct cmd_entry *cmd);

/*
 * -N NAME: enter the named network namespace (/run/netns/NAME), as ss -N
 * does.  Returns 0, or EXIT_USAGE / EXIT_RUNTIME after saying what was wrong.
 */
int cmd_enter_netns(const struct cmd_entry *cmd, const char *name);

/*
 * Whether capability `cap` (CAP_*) is in the effective set (capget(2)).
 * 1 when that cannot be told: the operation that needs it then fails with
 * the kernel's own error.
 */
int cmd_has_cap(int cap);

struct filter;
/*
 * A filter with a fwmark condition needs CAP_NET_ADMIN: the kernel reports
 * socket marks, and runs a program that tests them, only for it, so without
 * it the filter cannot be evaluated at all.  Returns 0, or EXIT_RUNTIME
 * after saying why.
 */
int cmd_check_mark_filter(const struct cmd_entry *cmd, const struct filter *f);

/* Number parsing with full range checks, as OpenBSD's strtonum. */
int parse_long(const char *s, long min, long max, long *out);

#define PROGNAME "tcpstate"

#endif
