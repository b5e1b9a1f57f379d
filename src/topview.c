/*
 * topview.c - the monitor's text: the header, the table through one column
 * table, and the grouped lines.  Batch output prints these lines as they
 * are; the screen (topscreen.c) cuts them to its width and colours them.
 * A new column is one entry in `columns` below and one in enum topview_col.
 */
#include "topview.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "out.h"
#include "state.h"

/* Two digits, zero-padded. */
static size_t put2(char *b, uint64_t v)
{
	b[0] = (char)('0' + v / 10 % 10);
	b[1] = (char)('0' + v % 10);
	return 2;
}

/*
 * An age as 42s, 3m07s, 5h02m or 2d03h.  By hand rather than snprintf:
 * batch mode formats one per row, 100k rows a frame.
 */
void topview_age(char *buf, size_t len, uint64_t us)
{
	char tmp[40];
	uint64_t s = us / 1000000, big, small;
	char u1, u2;
	size_t n;

	if (s < 60) {
		n = fmt_u64(tmp, s);
		tmp[n++] = 's';
	} else {
		if (s < 3600)
			big = s / 60, small = s % 60, u1 = 'm', u2 = 's';
		else if (s < 86400)
			big = s / 3600, small = s / 60 % 60, u1 = 'h', u2 = 'm';
		else
			big = s / 86400, small = s / 3600 % 24, u1 = 'd', u2 = 'h';
		n = fmt_u64(tmp, big);
		tmp[n++] = u1;
		n += put2(tmp + n, small);
		tmp[n++] = u2;
	}
	if (n >= len)
		n = len - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

static const char *abbrev(int s)
{
	static const char *const a[TS_MAX] = {[TS_NONE] = "-",
					      [TS_ESTABLISHED] = "ESTAB",
					      [TS_SYN_SENT] = "SYN-S",
					      [TS_SYN_RECV] = "SYN-R",
					      [TS_FIN_WAIT1] = "FIN-W1",
					      [TS_FIN_WAIT2] = "FIN-W2",
					      [TS_TIME_WAIT] = "TIME-W",
					      [TS_CLOSE] = "CLOSED",
					      [TS_CLOSE_WAIT] = "CLOSE-W",
					      [TS_LAST_ACK] = "LAST-A",
					      [TS_LISTEN] = "LISTEN",
					      [TS_CLOSING] = "CLOSING",
					      [TS_NEW_SYN_RECV] = "SYN-R"};
	return s >= 0 && s < TS_MAX ? a[s] : "?";
}

static void sparkline(char *buf, size_t len, const uint16_t *h, int n, int width, int utf8)
{
	static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
					   "\u2585", "\u2586", "\u2587", "\u2588"};
	static const char ascii[] = " .:-=+*#";
	uint16_t max = 1;
	int start = n > width ? n - width : 0;
	size_t o = 0;

	for (int i = start; i < n; i++)
		if (h[i] > max)
			max = h[i];
	for (int i = start; i < n && o + 4 < len; i++) {
		int lvl = h[i] ? 1 + (int)((double)(h[i] - 1) * 7 / max) : 0;
		if (lvl > 7)
			lvl = 7;
		if (utf8) {
			const char *b = h[i] ? bars[lvl] : " ";
			size_t k = strlen(b);
			memcpy(buf + o, b, k);
			o += k;
		} else {
			buf[o++] = ascii[lvl];
		}
	}
	buf[o] = '\0';
}

/*
 * One destination of ephemeral ports: "ADDR:PORT N (P%)", with " from SRC"
 * after the destination when asked (more than one source address shares
 * the header), " of RANGE" after N when asked, and when it would run out at
 * its current rate.
 */
static int dest_text(char *buf, size_t len, const struct top_dest *d, long range, int from, int of)
{
	char a[ADDR_STRLEN + 6 + ADDR_STRLEN], age[32] = "", ofr[32] = "";

	size_t k0 = addr_format_port(a, d->family, d->addr, d->port, 0);
	if (from) {
		memcpy(a + k0, " from ", 7);
		addr_format(a + k0 + 6, d->src_family, d->src);
	}
	if (d->exhaust_s >= 0) {
		memcpy(age, " full in ", 10);
		topview_age(age + 9, sizeof(age) - 9, (uint64_t)(d->exhaust_s * 1e6));
	}
	if (of)
		snprintf(ofr, sizeof(ofr), " of %ld", range);
	int k = snprintf(buf, len, "%s %u%s (%.0f%%)%s", a, d->in_use, ofr,
			 100.0 * d->in_use / (double)range, age);
	return k < 0 ? 0 : k >= (int)len ? (int)len - 1 : k;
}

/* The first line: the time of day, the total, the cadence, a pause and a filter. */
static void title_line(char *line, const struct top_stats *st, const struct topview_header *h)
{
	char text[TEXT_SHOWN(256)], clock[16], nss[48] = "";
	time_t now = (time_t)(h->now_us / 1000000);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	fmt_text(text, sizeof(text), h->filter_text ? h->filter_text : "");
	/* top -A: the counts below are over every namespace dumped. */
	if (st->namespaces)
		snprintf(nss, sizeof(nss), " in %u namespace%s", st->namespaces,
			 st->namespaces == 1 ? "" : "s");
	snprintf(line, TOPVIEW_HDR_LINE,
		 "tcpstate top - %s - %llu socket%s%s - every %.1fs%s%s%.120s", clock,
		 (unsigned long long)st->total, st->total == 1 ? "" : "s", nss,
		 (double)h->delay_us / 1e6, h->paused ? " - PAUSED" : "",
		 h->filter_text ? " - filter: " : "", text);
}

/* Ephemeral ports: the busiest pairs of source address and destination, and the total. */
static void ephemeral_line(char *line, const struct top_stats *st)
{
	/*
	 * The range is per source address and destination: the busiest
	 * pair's share is what runs out, so it comes first; the total over
	 * all of them is said apart.  With one source address, the
	 * destination names the pair; with more, each says its source.
	 */
	long range = st->port_hi - st->port_lo + 1;
	int from = st->ephemeral_srcs > 1;
	int o = snprintf(line, TOPVIEW_HDR_LINE,
			 "Ephemeral ports: none in use (%ld per source address and destination)",
			 range);
	if (st->ndest) {
		o = snprintf(line, TOPVIEW_HDR_LINE, "Ephemeral ports: busiest ");
		o += dest_text(line + o, TOPVIEW_HDR_LINE - (size_t)o, &st->dest[0], range, from,
			       1);
		o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o,
			      "; %u in use to %u destination%s", st->ephemeral_in_use,
			      st->ephemeral_dests, st->ephemeral_dests == 1 ? "" : "s");
		if (from && o > 0 && o < TOPVIEW_HDR_LINE)
			o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o,
				      " from %u source addresses", st->ephemeral_srcs);
	}
	for (int i = 1; i < st->ndest && o > 0 && o < 200; i++) {
		o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o, "%s",
			      i == 1 ? "; next " : ", ");
		o += dest_text(line + o, TOPVIEW_HDR_LINE - (size_t)o, &st->dest[i], range, from,
			       0);
	}
}

/* Who holds CLOSE-WAIT sockets, and since when at least. */
static void close_wait_line(char *line, const struct top_stats *st, uint64_t now_us)
{
	char age[32], text[TEXT_SHOWN(256)];

	int o = snprintf(line, TOPVIEW_HDR_LINE, "CLOSE-WAIT holders:");
	if (!st->nholder)
		snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o, " none");
	for (int i = 0; i < st->nholder && o > 0 && o < 200; i++) {
		const struct top_holder *hd = &st->holder[i];
		topview_age(age, sizeof(age), now_us > hd->oldest_us ? now_us - hd->oldest_us : 0);
		fmt_text(text, sizeof(text), hd->comm);
		if (hd->pid)
			o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o, "%s %s[%d]",
				      i ? ";" : "", text, (int)hd->pid);
		else /* an owner out of sight (another user's, without privilege) */
			o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o,
				      "%s (owner out of sight)", i ? ";" : "");
		o += snprintf(line + o, TOPVIEW_HDR_LINE - (size_t)o, " %u, oldest >=%s", hd->count,
			      age);
	}
}

/*
 * The capture: its source and counts, or why there is none.  Live, the
 * rates and the drops first (packets the kernel's ring had no room for,
 * and those the reader's queue had none for), then the kernel's own
 * counters, named as such: it counts what its filter passed, which on lo
 * is each packet twice (out and back in).
 */
static void wire_line(char *line, const struct topview_header *h)
{
	char text[TEXT_SHOWN(256)];
	const size_t cap = TOPVIEW_HDR_LINE;

	fmt_text(text, sizeof(text), h->wire_note); /* names an interface or a file */
	int o = snprintf(line, cap, "Wire: %s", text);
	if (h->wire && (size_t)o < cap)
		o += snprintf(line + o, cap - (size_t)o, " - %llu packets, %llu connections",
			      (unsigned long long)h->wire_packets,
			      (unsigned long long)h->wire_conns);
	/*
	 * Short enough for 132 columns at a busy host's figures: the rates, the
	 * capture's CPU, then the drops (tcpstate's own counted with the
	 * kernel's) against what the kernel's filter passed.
	 */
	if (h->wire && h->live && h->rates && (size_t)o < cap)
		o += snprintf(line + o, cap - (size_t)o, ", %.0f pkt/s", h->pkt_rate);
	if (h->wire && h->live && h->rates && h->cpu_pct >= 0 && (size_t)o < cap)
		o += snprintf(line + o, cap - (size_t)o, ", CPU %.1f%%", h->cpu_pct);
	if (h->wire && h->live && h->kernel_counts && (size_t)o < cap) {
		o += snprintf(line + o, cap - (size_t)o, "; dropped %llu",
			      (unsigned long long)(h->kernel_drop + h->own_drop));
		if (h->rates && (size_t)o < cap)
			o += snprintf(line + o, cap - (size_t)o, " (%.0f/s)", h->drop_rate);
		if ((size_t)o < cap)
			snprintf(line + o, cap - (size_t)o, ": kernel %llu of %llu, tcpstate %llu",
				 (unsigned long long)h->kernel_drop,
				 (unsigned long long)h->kernel_recv,
				 (unsigned long long)h->own_drop);
	} else if (h->wire && h->kernel_counts && (size_t)o < cap) {
		snprintf(line + o, cap - (size_t)o, "; kernel: recv %llu drop %llu",
			 (unsigned long long)h->kernel_recv, (unsigned long long)h->kernel_drop);
	}
}

/* The header, as lines of text (the screen colours some of them). */
int topview_header(const struct top_stats *st, const struct topview_header *h,
		   char lines[][TOPVIEW_HDR_LINE], int maxlines, int width, int utf8)
{
	int n = 0;
	char spark[4 * TOP_HISTORY + 1];

	title_line(lines[n++], st, h);
	/* Counts per state, with a sparkline each, two per line (three from 100 columns). */
	static const int order[] = {TS_ESTABLISHED, TS_TIME_WAIT, TS_CLOSE_WAIT, TS_LISTEN,
				    TS_SYN_SENT,    TS_SYN_RECV,  TS_FIN_WAIT1,	 TS_FIN_WAIT2,
				    TS_LAST_ACK,    TS_CLOSING};
	/*
	 * Each column: name 12, a space, count 7, a space, the sparkline, and
	 * 2 spaces before the next column (23 cells and the sparkline); never
	 * past width.
	 */
	int col = width >= 100 ? 3 : 2, sw = (width / col) - 23;
	if (sw < 4)
		sw = 4;
	if (sw > TOP_HISTORY)
		sw = TOP_HISTORY;
	/* The last line is the Wire line's, whatever else gives way. */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && n < maxlines - 1;
	     i += (size_t)col) {
		size_t o = 0;
		lines[n][0] = '\0';
		for (int c = 0; c < col && i + (size_t)c < sizeof(order) / sizeof(order[0]); c++) {
			int s = order[i + (size_t)c];
			sparkline(spark, sizeof(spark), st->history[s], st->nhistory, sw, utf8);
			int k = snprintf(lines[n] + o, TOPVIEW_HDR_LINE - o, "%-12s %7u %s%*s",
					 state_name(s), st->count[s], spark, c + 1 < col ? 2 : 0,
					 "");
			if (k < 0 || (size_t)k >= TOPVIEW_HDR_LINE - o) {
				lines[n][o] = '\0'; /* a whole column or none */
				break;
			}
			o += (size_t)k;
		}
		n++;
	}
	/*
	 * Short of room (two state columns, under 100 columns of screen), the
	 * TIME-WAIT line gives way first: its count is in the lines above.
	 * Ephemeral ports, CLOSE-WAIT holders and the Wire line come after.
	 */
	/*
	 * With -A each namespace has its own port range, budgets and TIME-WAIT
	 * limit, which counts over all of them would misstate (one source port
	 * counted once per namespace): list -A -s gives them per namespace.
	 */
	int per_ns = st->namespaces > 1;
	if (n + 1 + (st->port_lo > 0) + 2 <= maxlines) {
		if (st->tw_max > 0 && !per_ns)
			snprintf(lines[n++], TOPVIEW_HDR_LINE,
				 "TIME-WAIT %u of tcp_max_tw_buckets %ld (%.1f%%)",
				 st->count[TS_TIME_WAIT], st->tw_max,
				 100.0 * st->count[TS_TIME_WAIT] / (double)st->tw_max);
		else
			snprintf(lines[n++], TOPVIEW_HDR_LINE, "TIME-WAIT %u",
				 st->count[TS_TIME_WAIT]);
	}
	if (n < maxlines - 1 && per_ns)
		snprintf(lines[n++], TOPVIEW_HDR_LINE,
			 "Ephemeral ports and TIME-WAIT limits are per namespace: "
			 "tcpstate list -A -s");
	else if (n < maxlines - 1 && st->port_lo > 0)
		ephemeral_line(lines[n++], st);
	if (n < maxlines - 1)
		close_wait_line(lines[n++], st, h->now_us);
	if (n < maxlines)
		wire_line(lines[n++], h);
	return n;
}

/* A line under construction: appends never run past the end. */
struct line {
	char *b;
	size_t n, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > l->cap - 1 - l->n)
		n = l->cap - 1 - l->n;
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

/* Spaces after have bytes, up to width. */
static void pad(struct line *l, size_t have, int width)
{
	size_t k = (int)have < width ? (size_t)width - have : 0;

	if (k > l->cap - 1 - l->n)
		k = l->cap - 1 - l->n;
	memset(l->b + l->n, ' ', k);
	l->n += k;
}

/* ---- the table: one column table ---- */

/* A cell's text: at most CELL bytes, not terminated; returns its length. */
#define CELL (TEXT_SHOWN(16) + 32)
typedef size_t cell_fn(char *buf, const struct topmodel *m, const struct top_row *r);

static size_t copy(char *buf, const char *s)
{
	size_t n = strlen(s);
	memcpy(buf, s, n);
	return n;
}

/*
 * top -A: the namespace's label, cut to NETNS_MAX cells with a ~ last (the
 * column's widest: a table at 80 columns keeps room for the tuple).
 */
#define NETNS_MAX 16
static size_t cell_netns(char *buf, const struct topmodel *m, const struct top_row *r)
{
	const struct top_ns *ns = topmodel_ns_of(m, r);
	size_t n;

	if (!ns)
		return copy(buf, "-");
	n = strlen(ns->label);
	if (n <= NETNS_MAX)
		return copy(buf, ns->label);
	memcpy(buf, ns->label, NETNS_MAX - 1);
	buf[NETNS_MAX - 1] = '~';
	return NETNS_MAX;
}

static size_t cell_state(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return copy(buf, r->wire_only ? "(wire only)" : state_name(r->s.state));
}

static size_t cell_local(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return addr_format_port(buf, r->s.family, r->s.laddr, r->s.lport, 0);
}

static size_t cell_peer(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return topview_peer(buf, &r->s);
}

/* The wire's states of both ends, ESTAB/ESTAB; ! a disagreement, ? a guess. */
static size_t cell_wire(char *buf, const struct topmodel *m, const struct top_row *r)
{
	size_t n;

	(void)m;
	if (!r->wire[0] && !r->wire[1])
		return copy(buf, "-");
	n = copy(buf, abbrev(r->wire[0]));
	buf[n++] = '/';
	n += copy(buf + n, abbrev(r->wire[1]));
	if (r->disagree)
		buf[n++] = '!';
	if (r->wire_unsure)
		buf[n++] = '?';
	return n;
}

static size_t cell_process(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return r->pid ? top_proc_text(buf, CELL, r, 1) : copy(buf, "-");
}

/* '>' marks a lower bound: the row was first seen in its state then. */
static size_t cell_age(char *buf, const struct topmodel *m, const struct top_row *r)
{
	buf[0] = r->since_exact ? ' ' : '>';
	topview_age(buf + 1, CELL - 1, topmodel_age(m, r));
	return strlen(buf);
}

static size_t cell_recvq(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return fmt_u64(buf, r->s.recv_q);
}

static size_t cell_sendq(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return fmt_u64(buf, r->s.send_q);
}

/* Milliseconds with one decimal, rounded half up. */
static size_t cell_rtt(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	if (!r->s.has_info)
		return copy(buf, "-");
	uint64_t tenths = ((uint64_t)r->s.info.rtt_us + 50) / 100;
	size_t n = fmt_u64(buf, tenths / 10);
	buf[n++] = '.';
	buf[n++] = (char)('0' + tenths % 10);
	return n;
}

static size_t cell_retrans(char *buf, const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return fmt_u64(buf, r->s.info.total_retrans);
}

/* How wide r's cell may want its column; the column's width is the widest, up to max. */
typedef int measure_fn(const struct topmodel *m, const struct top_row *r);

static int measure_netns(const struct topmodel *m, const struct top_row *r)
{
	const struct top_ns *ns = topmodel_ns_of(m, r);
	return ns ? (int)strlen(ns->label) : 1;
}

static int measure_local(const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return (int)addr_port_len(r->s.family, r->s.laddr, r->s.lport);
}

static int measure_peer(const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	return (int)addr_port_len(r->s.family, r->s.raddr, r->s.rport);
}

/* The name as shown, and room for ~, a pid of 7 digits and []. */
static int measure_process(const struct topmodel *m, const struct top_row *r)
{
	(void)m;
	char name[TEXT_SHOWN(sizeof(r->comm))];
	return r->pid ? (int)fmt_text(name, sizeof(name), r->comm) + 10 : 0;
}

static const struct column {
	const char *title;
	int right;	     /* right-aligned */
	int width;	     /* at least */
	int wire_width;	     /* at least, with a capture (0: as width) */
	int max;	     /* measured widths stop there (0: no limit) */
	measure_fn *measure; /* NULL: the width is fixed */
	cell_fn *text;
} columns[TV_NCOLS] = {
	/* Only with -A (a negative width: not shown). */
	[TV_NETNS] = {"Netns", 0, 5, 0, NETNS_MAX, measure_netns, cell_netns},
	[TV_STATE] = {"State", 0, 12, 0, 0, NULL, cell_state},
	[TV_LOCAL] = {"Local", 0, 5, 0, 0, measure_local, cell_local},
	[TV_PEER] = {"Peer", 0, 4, 0, 0, measure_peer, cell_peer},
	/* As wide as the title, or as "CLOSE-W/CLOSE-W!" with a capture. */
	[TV_WIRE] = {"Wire L/P", 0, 8, 16, 0, NULL, cell_wire},
	[TV_PROCESS] = {"Process", 0, 7, 0, 24, measure_process, cell_process},
	[TV_AGE] = {"Age", 1, 7, 0, 0, NULL, cell_age},
	[TV_RECVQ] = {"Recv-Q", 1, 7, 0, 0, NULL, cell_recvq},
	[TV_SENDQ] = {"Send-Q", 1, 7, 0, 0, NULL, cell_sendq},
	[TV_RTT] = {"RTT ms", 1, 7, 0, 0, NULL, cell_rtt},
	[TV_RETRANS] = {"Retr", 1, 5, 0, 0, NULL, cell_retrans},
};

void topview_widths(const struct topmodel *m, const uint32_t *idx, size_t n, int wire,
		    struct topview_widths *w)
{
	for (int c = 0; c < TV_NCOLS; c++) {
		const struct column *col = &columns[c];
		w->w[c] = wire && col->wire_width ? col->wire_width : col->width;
		if (c == TV_NETNS && !topmodel_stats(m)->namespaces)
			w->w[c] = -1;
		if (!col->measure || w->w[c] < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			int k = col->measure(m, topmodel_row(m, idx[i]));
			if (k > w->w[c])
				w->w[c] = col->max && k > col->max ? col->max : k;
		}
	}
}

/*
 * A row's cells in their columns, one space apart (printf's "%-*s %*s
 * ..."); with r NULL, the columns' titles.  Built by hand, not with
 * snprintf: batch mode formats every row of every frame, and printf's
 * parsing of its format was most of that.  A cell is written in place when
 * the line has room for the widest one, else aside and cut at the end.
 */
static void put_cells(struct line *l, const struct topview_widths *w, const struct topmodel *m,
		      const struct top_row *r)
{
	char aside[CELL];
	int shown = 0;

	for (int c = 0; c < TV_NCOLS; c++) {
		const struct column *col = &columns[c];
		int width = w->w[c];
		if (width < 0)
			continue; /* not in this table */
		if (shown++)
			put(l, " ", 1);
		int in_place = l->cap - 1 - l->n >= CELL + (size_t)(width > 0 ? width : 0);
		char *at = in_place ? l->b + l->n : aside;
		size_t n = r ? col->text(at, m, r) : copy(at, col->title);
		size_t fill = (int)n < width ? (size_t)width - n : 0;
		if (!in_place) {
			if (col->right)
				pad(l, n, width);
			put(l, aside, n);
		} else if (col->right && fill) {
			memmove(at + fill, at, n);
			memset(at, ' ', fill);
			l->n += fill + n;
		} else {
			l->n += n;
		}
		if (!col->right)
			pad(l, n, width);
	}
	l->b[l->n] = '\0';
}

void topview_title(const struct topview_widths *w, char *buf, size_t len)
{
	struct line l = {buf, 0, len};
	put_cells(&l, w, NULL, NULL);
}

void topview_row(const struct topmodel *m, const struct top_row *r, const struct topview_widths *w,
		 char *buf, size_t len)
{
	struct line l = {buf, 0, len};
	put_cells(&l, w, m, r);
}

int topview_col_start(const struct topview_widths *w, enum topview_col c)
{
	int x = 0;
	for (int i = 0; i < (int)c; i++)
		x += w->w[i] < 0 ? 0 : w->w[i] + 1;
	return x;
}

size_t topview_peer(char *buf, const struct sock_rec *s)
{
	if (top_no_peer(s)) {
		memcpy(buf, "*:*", 4);
		return 3;
	}
	return addr_format_port(buf, s->family, s->raddr, s->rport, 0);
}

/* ---- grouped ---- */

/* The key column: wide enough for every key, so that none pushes its row out of line. */
size_t topview_group_key_width(const struct top_group *g, size_t ng)
{
	size_t w = 30;
	for (size_t i = 0; i < ng; i++)
		if (text_width(g[i].key, strlen(g[i].key)) > w)
			w = text_width(g[i].key, strlen(g[i].key));
	return w;
}

void topview_group(const struct top_group *g, size_t keyw, char *buf, size_t len)
{
	char age[32];
	int o;

	age[0] = '\0';
	if (g->lower)
		memcpy(age, ">=", 3);
	topview_age(age + strlen(age), sizeof(age) - strlen(age), g->max_age);
	o = snprintf(buf, len, "%s%*s %7u  oldest %-8s ", g->key,
		     (int)(keyw - text_width(g->key, strlen(g->key))), "", g->count, age);
	for (int s = 1; s < TS_MAX && o > 0 && (size_t)o < len; s++)
		if (g->by_state[s])
			o += snprintf(buf + o, len - (size_t)o, " %s %u", abbrev(s),
				      g->by_state[s]);
}

const char *topview_group_name(enum top_group_by by)
{
	static const char *const n[TOP_GROUP_MAX] = {"", "process", "remote host", "state",
						     "namespace"};
	return n[by];
}

void topview_group_title(char *buf, size_t len, enum top_group_by by, size_t ng, size_t shown)
{
	int o = snprintf(buf, len, "Grouped by %s: %zu group%s", topview_group_name(by), ng,
			 ng == 1 ? "" : "s");
	if (shown < ng && o > 0 && (size_t)o < len) /* --rows cut the list */
		snprintf(buf + o, len - (size_t)o, " (the first %zu shown)", shown);
}
