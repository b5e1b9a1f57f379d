/*
 * cmd_shell.c - `tcpstate shell`: a GNU readline prompt that runs any
 * tcpstate command, with history and completion from the command table;
 * or, when standard input is not a terminal, a batch of commands, one per
 * line, whose exit status is non-zero if any of them failed.
 *
 * Each command runs in a child process: a command may enter a network
 * namespace or take over the terminal, and neither may outlive it.
 */
#include <errno.h>
#include <fcntl.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

enum { O_HISTFILE = 1 };

static const struct opt_def shell_opts[] = {
	{O_HISTFILE, 0, "history-file", "FILE",
	 "keep the history in FILE (default $XDG_STATE_HOME/tcpstate/history)", COMPLETE_FILE},
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_shell(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_shell_entry = {
	.name = "shell",
	.args = NULL,
	.summary = "A prompt (or a batch from stdin) for any tcpstate command",
	.help_tail = "At the prompt: any command as on the command line, without the leading\n"
		     "'tcpstate' (it is accepted too); 'help' lists them, 'help CMD' shows one;\n"
		     "'exit', 'quit' or Ctrl-D leave.  Tab completes commands, options, knob\n"
		     "names and state names.  Piped input is run one line at a time; '#' starts\n"
		     "a comment; the exit status is that of the first command that failed.\n"
		     "Words are quoted as in sh; a backslash at the end of a line continues the\n"
		     "command on the next (at the prompt, a '> ' prompt asks for it).\n",
	.opts = shell_opts,
	.min_args = 0,
	.max_args = 0,
	.args_complete = COMPLETE_NONE,
	.run = run_shell,
};

struct shell {
	const char *histfile;
	char histbuf[512];
};

static int on_opt(void *st, int id, const char *arg)
{
	struct shell *s = st;
	if (id == O_HISTFILE)
		s->histfile = arg;
	return 0;
}

#define MAXWORDS 256

/* A backslash that ends the line: the command goes on on the next one. */
static int ends_line(const char *p)
{
	return p[0] == '\\' && (p[1] == '\0' || (p[1] == '\n' && p[2] == '\0'));
}

/*
 * Split a line into words as a POSIX shell would for simple cases: blanks
 * separate, '...' and "..." quote, backslash escapes.  Returns the count, or
 * -1 for an unterminated quote.  Words point into buf.  A backslash at the
 * end of the line (outside quotes and comments) is a line continuation, as
 * in sh: it is dropped, and *more (when not NULL) is set so that the caller
 * can read the rest.
 */
static int split_words(const char *line, char *buf, char **words, int max, int *more)
{
	int n = 0;
	char *o = buf;
	const char *p = line;

	if (more)
		*more = 0;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		if (ends_line(p)) {
			if (more)
				*more = 1;
			break;
		}
		if (n == max)
			return -1;
		words[n++] = o;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				while (*p && *p != q) {
					if (q == '"' && *p == '\\' && p[1])
						p++;
					*o++ = *p++;
				}
				if (!*p)
					return -1;
				p++;
			} else if (ends_line(p)) {
				if (more)
					*more = 1;
				p += p[1] ? 2 : 1;
			} else if (*p == '\\' && p[1]) {
				p++;
				*o++ = *p++;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
	}
	return n;
}

/* Whether the line ends with a continuation: a backslash split_words() honours. */
static int continues(const char *line)
{
	char *buf = malloc(strlen(line) + 1);
	char *words[MAXWORDS + 1];
	int more = 0;

	if (buf && split_words(line, buf, words, MAXWORDS, &more) < 0)
		more = 0; /* a bad line is reported when it runs */
	free(buf);
	return more;
}

/*
 * The line with its continuation: the ending backslash (and newline) gone,
 * next appended, as sh joins them.  Frees line; NULL when out of memory.
 */
static char *join_line(char *line, const char *next)
{
	size_t n = strlen(line), k = strlen(next);
	char *j;

	n -= line[n - 1] == '\n' ? 2 : 1;
	j = malloc(n + k + 1);
	if (j) {
		memcpy(j, line, n);
		memcpy(j + n, next, k + 1);
	}
	free(line);
	return j;
}

static int help(const char *name)
{
	const struct cmd_entry *c = name ? cmd_find(name) : NULL;

	if (name && !c) {
		fprintf(stderr, "tcpstate shell: help: no command \"%s\"\n", name);
		return EXIT_USAGE;
	}
	if (c) {
		cmd_help(c);
		return EXIT_OK;
	}
	printf("Commands:\n");
	for (size_t i = 0; cmd_table[i]; i++)
		if (strcmp(cmd_table[i]->name, "shell") != 0)
			printf("  %-8s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	printf("  %-8s %s\n  %-8s %s\n", "help", "this list, or help CMD", "exit",
	       "leave (also quit, Ctrl-D)");
	return EXIT_OK;
}

/* Run one line; returns its exit status, or -1 for "exit". */
static int run_line(const char *line)
{
	size_t len = strlen(line);
	char *buf = malloc(len + 1);
	char *words[MAXWORDS + 1];
	int n, status;

	if (!buf)
		return EXIT_RUNTIME;
	n = split_words(line, buf, words, MAXWORDS, NULL);
	if (n < 0) {
		fprintf(stderr, "tcpstate shell: unterminated quote or too many words\n");
		free(buf);
		return EXIT_USAGE;
	}
	int first = 0;
	if (n > 0 && strcmp(words[0], "tcpstate") == 0)
		first = 1;
	if (n - first <= 0) {
		free(buf);
		return EXIT_OK;
	}
	const char *name = words[first];
	if (!strcmp(name, "exit") || !strcmp(name, "quit")) {
		free(buf);
		return -1;
	}
	if (!strcmp(name, "help") || !strcmp(name, "?")) {
		int rc = help(n - first > 1 ? words[first + 1] : NULL);
		fflush(stdout);
		free(buf);
		return rc;
	}
	const struct cmd_entry *c = cmd_find(name);
	if (!c) {
		fprintf(stderr, "tcpstate shell: unknown command \"%s\" (try: help)\n", name);
		free(buf);
		return EXIT_USAGE;
	}
	if (c == &cmd_shell_entry) {
		fprintf(stderr, "tcpstate shell: already in the shell\n");
		free(buf);
		return EXIT_USAGE;
	}
	words[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "tcpstate shell: fork: %s\n", strerror(errno));
		free(buf);
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		int rc = c->run(c, n - first, words + first);
		fflush(stdout);
		_exit(rc);
	}
	free(buf);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_RUNTIME;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- completion --------------------------------------------------------- */

struct cands {
	char **v;
	size_t n, cap;
	int want_files;
};

static void collect(const char *cand, void *arg)
{
	struct cands *c = arg;

	if (strcmp(cand, "@file") == 0) {
		c->want_files = 1;
		return;
	}
	if (c->n + 1 >= c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		char **nv = realloc(c->v, cap * sizeof(*nv));
		if (!nv)
			return;
		c->v = nv;
		c->cap = cap;
	}
	c->v[c->n++] = strdup(cand);
}

static struct cands found;
static size_t found_next;

static char *next_found(const char *text, int state)
{
	(void)text;
	if (!state)
		found_next = 0;
	return found_next < found.n ? strdup(found.v[found_next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
	char *line = strndup(rl_line_buffer, (size_t)start), *buf;
	char *words[MAXWORDS + 2];
	int n;

	(void)end;
	for (size_t i = 0; i < found.n; i++)
		free(found.v[i]);
	found.n = 0;
	found.want_files = 0;
	if (!line)
		return NULL;
	buf = malloc(strlen(line) + 1);
	n = buf ? split_words(line, buf, words, MAXWORDS, NULL) : -1;
	if (n < 0) {
		free(line);
		free(buf);
		return NULL;
	}
	int first = n > 0 && strcmp(words[0], "tcpstate") == 0;
	words[n] = (char *)text; /* the word being completed */
	if (n - first == 0) {
		/* The command word: commands and the shell's own words. */
		static const char *const extra[] = {"help", "exit", "quit", NULL};
		cmd_candidates(1, words + first, collect, &found);
		for (int i = 0; extra[i]; i++)
			if (!strncmp(extra[i], text, strlen(text)))
				collect(extra[i], &found);
	} else if (n - first >= 1 && !strcmp(words[first], "help")) {
		char *w[2] = {(char *)text, NULL};
		cmd_candidates(1, w, collect, &found);
	} else {
		cmd_candidates(n - first + 1, words + first, collect, &found);
	}
	free(line);
	free(buf);
	rl_attempted_completion_over = !found.want_files;
	if (!found.n)
		return NULL;
	/* "knob=" (tune set) waits for its value: no space after it. */
	const char *last = found.v[found.n - 1];
	rl_completion_append_character = *last && last[strlen(last) - 1] == '=' ? '\0' : ' ';
	return rl_completion_matches(text, next_found);
}

static const char *history_path(struct shell *s)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (s->histfile)
		return s->histfile;
	if (xdg && *xdg)
		snprintf(s->histbuf, sizeof(s->histbuf), "%s/tcpstate/history", xdg);
	else if (home && *home)
		snprintf(s->histbuf, sizeof(s->histbuf), "%s/.local/state/tcpstate/history", home);
	else
		return NULL;
	return s->histbuf;
}

/* The history holds what was typed: private to its owner, never through a link. */
static void prepare_history(const char *path)
{
	char dir[512];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		/* mkdir -p, private at the last level */
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0755);
				*p = '/';
			}
		mkdir(dir, 0700);
	}
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

static int interactive(struct shell *s)
{
	const char *hist = history_path(s);
	int last = EXIT_OK;
	struct stat st;

	rl_readline_name = "tcpstate";
	rl_attempted_completion_function = complete;
	rl_completer_word_break_characters = " \t\n";
	using_history();
	if (hist) {
		prepare_history(hist);
		read_history(hist);
	}
	signal(SIGINT, SIG_IGN); /* Ctrl-C stops the running command, not the shell */
	for (;;) {
		char *line = readline("tcpstate> ");
		if (!line) {
			putchar('\n');
			break;
		}
		/* A trailing backslash asks for more, on a "> " prompt as in sh. */
		while (line && continues(line)) {
			char *next = readline("> ");
			if (!next)
				break; /* Ctrl-D: run what was typed */
			line = join_line(line, next);
			free(next);
		}
		if (!line)
			break;
		if (*line) {
			add_history(line);
			/* Append as we go, so a crash loses nothing typed. */
			if (hist && !(lstat(hist, &st) == 0 && S_ISLNK(st.st_mode)))
				append_history(1, hist);
		}
		int rc = run_line(line);
		free(line);
		if (rc < 0)
			break;
		last = rc;
	}
	if (hist)
		history_truncate_file(hist, 1000);
	return last;
}

static int batch(void)
{
	char *line = NULL, *next = NULL;
	size_t cap = 0, ncap = 0;
	int first_failure = EXIT_OK;

	while (getline(&line, &cap, stdin) >= 0) {
		while (continues(line) && getline(&next, &ncap, stdin) >= 0) {
			line = join_line(line, next);
			if (!line) {
				free(next);
				fprintf(stderr, "tcpstate shell: out of memory\n");
				return EXIT_RUNTIME;
			}
			cap = strlen(line) + 1;
		}
		int rc = run_line(line);
		if (rc < 0)
			break;
		if (rc && !first_failure)
			first_failure = rc;
	}
	free(line);
	free(next);
	return first_failure;
}

static int run_shell(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct shell s;
	char **args;
	int nargs, rc;

	memset(&s, 0, sizeof(s));
	rc = cmd_parse(cmd, argc, argv, on_opt, &s, &nargs, &args);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (isatty(STDIN_FILENO))
		return interactive(&s);
	return batch();
}
