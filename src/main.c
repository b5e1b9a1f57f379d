/*
 * main.c - tcpstate's entry point: global options and dispatch to a
 * subcommand by exact name.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#ifndef TCPSTATE_VERSION
#define TCPSTATE_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [COMMAND] [OPTIONS] [ARGS]\n"
		"Show, explain and tune TCP connection states.\n\nCommands:\n",
		PROGNAME);
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(f, "  %-10s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fprintf(f,
		"\nGlobal options:\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\nWithout a command, or with only options, tcpstate runs top.\n"
		"Run '%s COMMAND --help' for a command's options; see tcpstate(1).\n",
		PROGNAME);
}

int main(int argc, char **argv)
{
	const struct cmd_entry *cmd;

	/*
	 * A closed pipe must not kill tcpstate in the middle of something (tune
	 * between a knob and its rollback record): SIGPIPE is held, a write
	 * fails with EPIPE, and the writer ends when it is ready
	 * (cmd_output_failed(): as ss ends, by that SIGPIPE).  Held, not
	 * ignored, so that its action stays what the caller gave us.
	 */
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe, NULL);

	/* No command: the monitor, as htop is what one types to look. */
	if (argc < 2 || (argv[1][0] == '-' && cmd_find("top") && strcmp(argv[1], "-h") &&
			 strcmp(argv[1], "--help") && strcmp(argv[1], "-V") &&
			 strcmp(argv[1], "--version") && strncmp(argv[1], "__", 2))) {
		static char top[] = "top";
		const struct cmd_entry *topcmd = cmd_find("top");
		char **targv = calloc((size_t)argc + 1, sizeof(*targv));
		if (!targv)
			return EXIT_RUNTIME;
		targv[0] = top;
		for (int i = 1; i < argc; i++)
			targv[i] = argv[i];
		int rc = topcmd->run(topcmd, argc, targv);
		free(targv);
		return rc;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return cmd_flush_stdout(NULL);
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROGNAME, TCPSTATE_VERSION);
		return cmd_flush_stdout(NULL);
	}
	/* Hidden helpers for the completion scripts and the man page. */
	if (strcmp(argv[1], "__complete") == 0)
		return cmd_complete(argc - 2, argv + 2);
	if (strcmp(argv[1], "__man") == 0)
		return cmd_man();
	cmd = cmd_find(argv[1]);
	if (!cmd)
		return cmd_usage_error(NULL, "unknown command \"%s\"", argv[1]);
	return cmd->run(cmd, argc - 1, argv + 1);
}
