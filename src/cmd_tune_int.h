/*
 * cmd_tune_int.h - what `tune`'s two files share, and no one else: the
 * parsed command line (struct tune) and the entry points of set and
 * revert.
 *
 *   cmd_tune.c         the entry, options, dispatch, show (values and
 *                      advice) and guide: tune's reading half
 *   cmd_tune_change.c  set and revert: the rollback stack, its locks and
 *                      the sysctl.d file; tune's writing half
 */
#ifndef TCPSTATE_CMD_TUNE_INT_H
#define TCPSTATE_CMD_TUNE_INT_H

#include "cmd.h"
#include "rollback.h"

/* There are fewer knobs than this; it bounds the stack, at 4 KiB a value. */
#define MAX_SETTINGS ROLLBACK_MAX

#define DEFAULT_SYSCTL_FILE "/etc/sysctl.d/90-tcpstate.conf"

struct os_guide;

struct tune {
	int json, dry, persist, yes, all;
	const char *netns, *rollback, *sysctlfile;
	const struct os_guide *os; /* guide --os, or NULL for all */
	char rollback_buf[300];
};

/* set KNOB=VALUE...: argc/argv are the settings, after the action. */
int tune_set(const struct cmd_entry *cmd, struct tune *t, int argc, char **argv);
/* revert [--all]. */
int tune_revert(const struct cmd_entry *cmd, struct tune *t);

#endif
