/*
 * termcheck.h - whether the terminal TERM names can show top's screen,
 * asked of terminfo before curses takes the terminal.
 */
#ifndef TCPSTATE_TERMCHECK_H
#define TCPSTATE_TERMCHECK_H

#include <stddef.h>

/* 0 if TERM has a terminfo entry with cursor addressing; -1 with err saying why not. */
int termcheck(char *err, size_t errlen);

#endif
