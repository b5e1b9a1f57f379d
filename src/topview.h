/*
 * topview.h - the monitor's rows, groups and header as text, for batch
 * output and the screen alike.  One column table (topview.c) says what
 * each column of the table is: its title, its alignment, its width and
 * the text of a row's cell.  No curses, no clock, no I/O: what the text
 * depends on besides the model is passed in.
 */
#ifndef TCPSTATE_TOPVIEW_H
#define TCPSTATE_TOPVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "topmodel.h"

/*
 * Text from outside (process names, interface and file names, a filter
 * typed in) is shown through fmt_text(): a process may name itself with a
 * line break or an escape sequence.  The bytes that takes for n bytes of
 * text, each at worst a \xNN.
 */
#define TEXT_SHOWN(n) (4 * (n) + 1)

/*
 * A header line's bytes.  The widest is three state columns of 23 cells of
 * text and a sparkline of up to TOP_HISTORY glyphs, each up to 4 bytes of
 * UTF-8 (3 for the bars): lines are sized by what they show, in cells, and
 * the bytes always have room for it.
 */
#define TOPVIEW_HDR_LINE (3 * (23 + 4 * TOP_HISTORY) + 1)

/* What the header says besides the model's counts. */
struct topview_header {
	uint64_t now_us;   /* wall clock: the time of day, and CLOSE-WAIT ages */
	uint64_t delay_us; /* the refresh interval */
	int paused;
	const char *filter_text; /* NULL: no filter */
	const char *wire_note;	 /* the capture's source, or why there is none */
	int wire;		 /* a capture runs: its counts follow */
	uint64_t wire_packets, wire_conns;
	int kernel_counts; /* the kernel's capture counters follow */
	uint64_t kernel_recv, kernel_drop;
	/* A live capture's: packets taken, those the reader's full queue dropped, rates. */
	int live;
	uint64_t own_drop;
	int rates;		    /* the rates below are known (a refresh interval has passed) */
	double pkt_rate, drop_rate; /* a second, over the last refresh interval */
	double cpu_pct;		    /* the capture thread's CPU time, % of one CPU; < 0: unknown */
};

/* The header as at most maxlines lines, width cells wide; the last is the Wire line. */
int topview_header(const struct top_stats *st, const struct topview_header *h,
		   char lines[][TOPVIEW_HDR_LINE], int maxlines, int width, int utf8);

/* The table's columns, in the order shown. */
enum topview_col {
	TV_NETNS, /* top -A only */
	TV_STATE,
	TV_LOCAL,
	TV_PEER,
	TV_WIRE,
	TV_PROCESS,
	TV_AGE,
	TV_RECVQ,
	TV_SENDQ,
	TV_RTT,
	TV_RETRANS,
	TV_NCOLS
};

/* The width of each column for the rows of one frame. */
struct topview_widths {
	int w[TV_NCOLS]; /* < 0: the column is not shown (Netns without -A) */
};

/* Widths that fit rows idx[0..n) of m; wire: a capture runs (its column is wider). */
void topview_widths(const struct topmodel *m, const uint32_t *idx, size_t n, int wire,
		    struct topview_widths *w);
/* The table's title line. */
void topview_title(const struct topview_widths *w, char *buf, size_t len);
/* One row as a line of text. */
void topview_row(const struct topmodel *m, const struct top_row *r, const struct topview_widths *w,
		 char *buf, size_t len);
/* Where column c starts in a line (the screen colours cells). */
int topview_col_start(const struct topview_widths *w, enum topview_col c);

/* Grouped: the title line, the key column's width, and one group's line. */
const char *topview_group_name(enum top_group_by by);
/* "Grouped by BY: NG groups", and how many are shown when fewer (--rows). */
void topview_group_title(char *buf, size_t len, enum top_group_by by, size_t ng, size_t shown);
size_t topview_group_key_width(const struct top_group *g, size_t ng);
void topview_group(const struct top_group *g, size_t keyw, char *buf, size_t len);

/* An age as 42s, 3m07s, 5h02m or 2d03h. */
void topview_age(char *buf, size_t len, uint64_t us);
/* The peer as the table shows it: *:* for none.  buf: ADDR_STRLEN bytes. */
size_t topview_peer(char *buf, const struct sock_rec *s);

#endif
