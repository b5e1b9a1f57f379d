/*
 * cmdtab.c - the list of subcommands.  Adding one means writing its
 * cmd_NAME.c with a `const struct cmd_entry` and naming it here.
 */
#include "cmd.h"

extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_watch_entry;
extern const struct cmd_entry cmd_top_entry;
extern const struct cmd_entry cmd_tune_entry;
extern const struct cmd_entry cmd_shell_entry;
extern const struct cmd_entry cmd_explain_entry;
extern const struct cmd_entry cmd_export_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_top_entry, /* the order of `tcpstate --help` */
	&cmd_list_entry,
	&cmd_watch_entry,
	&cmd_tune_entry,
	&cmd_explain_entry,
	&cmd_export_entry,
	&cmd_shell_entry,
	NULL,
};
