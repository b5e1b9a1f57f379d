/*
 * termcheck.c - whether the terminal TERM names can show top's screen.
 *
 * Asked with setupterm() and its error return, before newterm(): initscr()
 * exits with ncurses' own message on an unknown TERM, newterm() leaves
 * memory behind when it fails, and on a terminal that cannot move its
 * cursor (dumb) the screen would stay blank.  A file of its own because
 * term.h defines every terminfo capability's name (lines, columns, ...)
 * as a macro.
 */
#include "termcheck.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <term.h>
#include <unistd.h>

int termcheck(char *err, size_t errlen)
{
	const char *term = getenv("TERM");
	int e = 0;

	if (!term || !*term) {
		snprintf(err, errlen,
			 "TERM is not set, so the screen cannot be drawn; "
			 "use -b for batch output");
		return -1;
	}
	/* e: 1 found (ERR all the same for a hardcopy terminal), 0 not found, -1 no database. */
	int r = setupterm(NULL, STDOUT_FILENO, &e);
	if (r != OK && e != 1) {
		snprintf(err, errlen,
			 "unknown terminal type \"%.64s\" (TERM has no terminfo entry); "
			 "use -b for batch output",
			 term);
		return -1;
	}
	const char *cup = r == OK ? tigetstr("cup") : NULL;
	int ok = cup && cup != (const char *)-1;
	if (r == OK)
		del_curterm(cur_term);
	if (!ok) {
		snprintf(err, errlen,
			 "terminal \"%.64s\" (TERM) cannot move the cursor, so the "
			 "screen cannot be drawn; use -b for batch output",
			 term);
		return -1;
	}
	return 0;
}
