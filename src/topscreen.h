/*
 * topscreen.h - `tcpstate top`'s screen: curses, readline and keys.  The
 * screen shows the model (topmodel.h) through the view (topview.h).  Keys
 * change only what is shown and return what they ask of the loop (TS_ACT_*);
 * the loop (cmd_top.c) refreshes the data, closes sockets and calls
 * topscreen_prepare (which fetches what the frame needs) before
 * topscreen_draw (curses calls only).
 */
#ifndef TCPSTATE_TOPSCREEN_H
#define TCPSTATE_TOPSCREEN_H

#include <curses.h>
#include <stdint.h>
#include <stdio.h>
#include <termios.h>

#include "filter.h"
#include "topmodel.h"
#include "topview.h"

enum top_mode { MODE_TABLE, MODE_DETAIL, MODE_HELP, MODE_FILTER, MODE_CONFIRM_KILL };

/* What is shown (options and keys set it; batch output reads it too) and how. */
struct topscreen {
	struct topmodel *model;
	int wire; /* a capture runs */
	state_mask states;
	struct filter *filter;
	char filter_text[256];
	enum top_sort sort;
	int reverse;
	enum top_group_by group;
	int paused;
	size_t cursor, offset;
	size_t nshown; /* rows (or groups) the last frame had to show: the cursor stays below */
	struct top_pick sel; /* the selected row, followed across refreshes */
	enum top_mode mode;
	char status[200];
	uint64_t status_until;
	int color;
	int preset;
	/* the terminal, while open */
	SCREEN *scr;
	FILE *rl_null;
	struct termios before;
	int have_before;
	uint32_t *idx; /* a page of rows */
};

/* What one screen shows, worked out before it is drawn (topscreen_prepare). */
struct topscreen_frame {
	int nl;		     /* header lines (lines[], last) */
	int too_small;	     /* under 80x24: a note instead */
	int top, rows;	     /* the table's first line and its height */
	struct top_group *g; /* grouped: the groups, malloc'ed */
	size_t ng, keyw;
	size_t n, matching; /* else n rows shown (s->idx) of matching */
	struct topview_widths w;
	uint64_t now;
	const struct top_row *detail;	  /* the detail view's row */
	char lines[12][TOPVIEW_HDR_LINE]; /* the header */
};

/* What a key asks of the loop, as htop's keys do (topscreen_key). */
enum {
	TS_ACT_QUIT = 1,	/* leave */
	TS_ACT_RECALCULATE = 2, /* refresh the data now, not at the next tick */
	TS_ACT_KILL = 4,	/* close the selected socket (SOCK_DESTROY): topscreen_selected */
	TS_ACT_FILTER = 8,	/* open the filter prompt: topscreen_prompt */
};

/* Take the terminal (curses, readline); 0, or -1 with err. */
int topscreen_open(struct topscreen *s, char *err, size_t errlen);
/* Give it back as it was. */
void topscreen_close(struct topscreen *s);

/*
 * The frame the screen shows next, with what it needs fetched (fetch: the
 * tcp_info of the rows shown, see topmodel_prepare).  Free with
 * topscreen_frame_free.
 */
void topscreen_prepare(struct topscreen *s, const struct topview_header *h,
		       topmodel_fetch_fn *fetch, void *arg, struct topscreen_frame *f);
void topscreen_draw(struct topscreen *s, const struct topscreen_frame *f);
void topscreen_frame_free(struct topscreen_frame *f);

/* The next key, or ERR; what it asks of the loop (TS_ACT_*). */
int topscreen_getkey(void);
int topscreen_key(struct topscreen *s, int ch);

/* The filter prompt, at the bottom line; readline edits it from then on. */
void topscreen_prompt(struct topscreen *s);
/* After a refresh, the cursor back on the row it was on. */
void topscreen_follow(struct topscreen *s);
/* The selected row, or NULL when it is gone. */
const struct top_row *topscreen_selected(struct topscreen *s);
/* A message for the status line, escaped. */
void topscreen_status(struct topscreen *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
