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
		     "Words are quoted as in sh; a quote left open, or a backslash at the end of\n"
		     "a line, continues the command on the next (at the prompt, a '> ' prompt\n"
		     "asks for it).\n",
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

/* Why a command goes on on the next line, as sh reads it. */
enum { MORE_NONE, MORE_LINE, MORE_QUOTE };

/* A backslash-newline, or a backslash that ends the text: sh removes it. */
static int is_joint(const char *p)
{
	return p[0] == '\\' && (p[1] == '\n' || p[1] == '\0');
}

/* Past the joint at p; at the end of the text, the rest is on the next line. */
static const char *skip_joint(const char *p, int *more)
{
	p += p[1] ? 2 : 1;
	if (!*p)
		*more = MORE_LINE;
	return p;
}

/*
 * The "..." at p into *o, as sh reads it: a backslash escapes only $ ` " \
 * and the newline (which it removes); before anything else it is itself.
 * Returns past the closing quote, or NULL when the text ends first.
 */
static const char *double_quoted(const char *p, char **o, int *more)
{
	for (p++; *p != '"';) {
		if (!*p)
			return NULL;
		if (is_joint(p)) {
			p = skip_joint(p, more);
			continue;
		}
		if (*p == '\\' && strchr("$`\"\\", p[1]))
			p++;
		*(*o)++ = *p++;
	}
	return p + 1;
}

/*
 * Split text (one line, or lines joined as asked by *more) into words as
 * sh does for simple cases: blanks separate, '...' quotes everything, "..."
 * quotes with the escapes above, a backslash outside quotes escapes the
 * next character, '#' at the start of a word comments out the rest of its
 * line.  A backslash-newline is removed wherever it is but in '...'.  Words
 * point into buf (strlen(text) + 1 bytes); at most max are stored.  Sets
 * *more when the text ends within the command: after a joint (MORE_LINE)
 * or inside a quote (MORE_QUOTE, whose newline belongs to the word).
 * Returns the count, or -1 when there are more than max words; the whole
 * text is read either way, so that *more is right even then.
 */
static int split_words(const char *text, char *buf, char **words, int max, int *more)
{
	int n = 0;
	char *o = buf;
	const char *p = text;

	*more = MORE_NONE;
	while (*p) {
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			p++;
			continue;
		}
		if (is_joint(p)) {
			p = skip_joint(p, more);
			continue;
		}
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (n < max)
			words[n] = o;
		n++;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			const char *close;
			if (is_joint(p)) {
				p = skip_joint(p, more);
			} else if (*p == '\\') {
				*o++ = p[1];
				p += 2;
			} else if (*p == '"') {
				if (!(p = double_quoted(p, &o, more)))
					break;
			} else if (*p == '\'') {
				if (!(close = strchr(p + 1, '\''))) {
					p = NULL;
					break;
				}
				memcpy(o, p + 1, (size_t)(close - p - 1));
				o += close - p - 1;
				p = close + 1;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
		if (!p) {
			if (*more == MORE_NONE) /* a joint at the end asks for the line already */
				*more = MORE_QUOTE;
			break;
		}
	}
	return n > max ? -1 : n;
}

/* Whether (and why) the text goes on on the next line. */
static int continues(const char *text)
{
	char *buf = malloc(strlen(text) + 1);
	char *words[MAXWORDS + 1];
	int more = MORE_NONE;

	if (buf)
		split_words(text, buf, words, MAXWORDS, &more);
	free(buf);
	return more;
}

/*
 * The text with its next line, as sh joins them: after a joint the
 * backslash (and newline) gone; inside a quote the newline kept (readline
 * drops it, getline does not).  Frees text; NULL when out of memory.
 */
static char *join_line(char *text, const char *next, int more)
{
	size_t n = strlen(text), k = strlen(next);
	int nl = 0;
	char *j;

	if (more == MORE_LINE)
		n -= n > 1 && text[n - 1] == '\n' ? 2 : 1;
	else
		nl = n == 0 || text[n - 1] != '\n';
	j = malloc(n + (size_t)nl + k + 1);
	if (j) {
		memcpy(j, text, n);
		if (nl)
			j[n] = '\n';
		memcpy(j + n + nl, next, k + 1);
	}
	free(text);
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
	int n, status, more;

	if (!buf)
		return EXIT_RUNTIME;
	n = split_words(line, buf, words, MAXWORDS, &more);
	if (more == MORE_QUOTE || n < 0) {
		if (more == MORE_QUOTE)
			fprintf(stderr, "tcpstate shell: unterminated quote\n");
		else
			fprintf(stderr, "tcpstate shell: more than %d words\n", MAXWORDS);
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
		if (!rc)
			rc = cmd_flush_stdout(&cmd_shell_entry);
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
	int n, more;

	(void)end;
	for (size_t i = 0; i < found.n; i++)
		free(found.v[i]);
	found.n = 0;
	found.want_files = 0;
	if (!line)
		return NULL;
	buf = malloc(strlen(line) + 1);
	n = buf ? split_words(line, buf, words, MAXWORDS, &more) : -1;
	if (n < 0 || more == MORE_QUOTE) {
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
		/* A trailing backslash or an open quote asks for more on a "> " prompt, as sh. */
		for (int more; line && (more = continues(line)) != MORE_NONE;) {
			char *next = readline("> ");
			if (!next)
				break; /* Ctrl-D: run what was typed */
			line = join_line(line, next, more);
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
		for (int more;
		     (more = continues(line)) != MORE_NONE && getline(&next, &ncap, stdin) >= 0;) {
			line = join_line(line, next, more);
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
