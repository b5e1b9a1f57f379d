/*
 * topscreen.c - `tcpstate top`'s screen: curses, readline and keys.
 *
 * Each loop turn (cmd_top.c) runs topscreen_prepare, which works out what
 * the frame shows and has the model fetch what it needs (tcp_info for the
 * rows on screen), then topscreen_draw, which only calls curses.  Keys
 * change what is shown and return actions (TS_ACT_*) for the loop: no key
 * does I/O.  In the filter prompt, keys go to readline, which redraws its
 * line.  The signal handlers here are for fatal signals: they restore the
 * terminal and die (the loop's own, in cmd_top.c, only set a flag).
 * Nothing is written to stderr while curses owns the terminal: messages go
 * to the status line.
 */
#include "topscreen.h"

#include "cmd.h"

#include <linux/capability.h>
#include <locale.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "addr.h"
#include "out.h"
#include "state.h"

/* The most rows a page shows. */
#define PAGE_MAX 1024

enum { C_HDR = 1, C_EST, C_TW, C_CW, C_LISTEN, C_SYN, C_CLOSE, C_BAR, C_BAD };

static int state_pair(int s)
{
	switch (s) {
	case TS_ESTABLISHED:
		return C_EST;
	case TS_TIME_WAIT:
		return C_TW;
	case TS_CLOSE_WAIT:
		return C_CW;
	case TS_LISTEN:
		return C_LISTEN;
	case TS_SYN_SENT:
	case TS_SYN_RECV:
		return C_SYN;
	default:
		return C_CLOSE;
	}
}

/* A message for the status line, escaped: it may quote a filter as typed. */
void topscreen_status(struct topscreen *t, const char *fmt, ...)
{
	char raw[sizeof(t->status)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	fmt_text(t->status, sizeof(t->status), raw);
	t->status_until = cmd_wall_us() + 5000000;
}

/* Readline, driven one key at a time from curses (its callback interface). */
static struct topscreen *rl_top;
static int rl_key, rl_have_key;

static int rl_getc_cb(FILE *f)
{
	(void)f;
	rl_have_key = 0;
	return rl_key;
}

static int rl_avail_cb(void)
{
	return rl_have_key;
}

static void rl_redisplay_cb(void)
{
	int y = LINES - 1;
	move(y, 0);
	clrtoeol();
	mvprintw(y, 0, "%s%s", rl_display_prompt ? rl_display_prompt : "", rl_line_buffer);
	move(y, (int)strlen(rl_display_prompt ? rl_display_prompt : "") + rl_point);
	refresh();
}

static void apply_filter(struct topscreen *t, const char *text)
{
	char err[256];
	char *argv[1] = {(char *)text};

	if (!text || !*text) {
		filter_free(t->filter);
		t->filter = NULL;
		t->filter_text[0] = '\0';
		topscreen_status(t, "filter cleared");
		return;
	}
	struct filter *f = filter_parse(1, argv, err, sizeof(err));
	if (!f) {
		topscreen_status(t, "%s", err);
		return;
	}
	/* Without it every mark reads 0: the filter would match silently wrong. */
	if (filter_has_mark(f) && !cmd_has_cap(CAP_NET_ADMIN)) {
		filter_free(f);
		topscreen_status(t, "filter: fwmark needs CAP_NET_ADMIN: the kernel reports socket "
				    "marks only to it");
		return;
	}
	filter_free(t->filter);
	t->filter = f;
	snprintf(t->filter_text, sizeof(t->filter_text), "%s", text);
	t->cursor = t->offset = 0;
	t->sel.have = 0;
	t->status[0] = '\0'; /* an earlier attempt's error no longer holds */
}

static void rl_line_cb(char *line)
{
	struct topscreen *t = rl_top;
	if (line) {
		if (*line)
			add_history(line);
		apply_filter(t, line);
		free(line);
	}
	rl_callback_handler_remove();
	t->mode = MODE_TABLE;
	curs_set(0);
}

static char *complete_word(const char *text, int state)
{
	static int i, j;
	const char *const *kw = filter_keywords(), *const *sw = state_words();

	if (!state)
		i = j = 0;
	while (kw[i]) {
		const char *w = kw[i++];
		if (strncmp(w, text, strlen(text)) == 0)
			return strdup(w);
	}
	while (sw[j]) {
		const char *w = sw[j++];
		if (strncmp(w, text, strlen(text)) == 0)
			return strdup(w);
	}
	return NULL;
}

static char **complete_filter(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;
	return rl_completion_matches(text, complete_word);
}

void topscreen_prompt(struct topscreen *t)
{
	rl_top = t;
	t->mode = MODE_FILTER;
	curs_set(1);
	rl_callback_handler_install("filter: ", rl_line_cb);
	if (t->filter_text[0]) {
		rl_insert_text(t->filter_text);
		rl_redisplay();
	}
}

/* Curses key codes to what readline expects. */
static int rl_translate(int ch)
{
	switch (ch) {
	case KEY_LEFT:
		return 2; /* C-b */
	case KEY_RIGHT:
		return 6; /* C-f */
	case KEY_UP:
		return 16; /* C-p */
	case KEY_DOWN:
		return 14; /* C-n */
	case KEY_HOME:
		return 1;
	case KEY_END:
		return 5;
	case KEY_BACKSPACE:
	case 8:
		return 127;
	case KEY_DC:
		return 4;
	case KEY_ENTER:
	case '\r':
		return '\n';
	}
	return ch;
}

static int fit_width(const char *s, int cols);

/* Smaller than the table and the detail view need: they show a note instead. */
static int screen_too_small(void)
{
	return COLS < 80 || LINES < 24;
}

static void draw_too_small(void)
{
	mvprintw(0, 0, "tcpstate top needs at least 80x24 (now %dx%d)", COLS, LINES);
	refresh();
}

/*
 * One line of the detail view at row y, column x, cut at the screen's
 * edge: a line that wrapped would be drawn over by the next one.
 */
__attribute__((format(printf, 3, 4))) static void detail_line(int y, int x, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (y >= LINES - 1)
		return; /* the last line is the keys' */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mvaddnstr(y, x, buf, fit_width(buf, COLS - x));
}

static void draw_detail(struct topscreen *t, const struct top_row *r)
{
	char l[ADDR_STRLEN], p[ADDR_STRLEN], age[32], name[TEXT_SHOWN(sizeof(r->comm))];
	int y = 0;

	erase();
	if (screen_too_small()) {
		draw_too_small();
		return;
	}
	addr_format_port(l, r->s.family, r->s.laddr, r->s.lport, 0);
	topview_peer(p, &r->s);
	attron(A_BOLD);
	/* Two long IPv6 ends do not fit one 80-column line: then one a line. */
	if (strlen(l) + strlen(p) + 15 <= (size_t)COLS) {
		detail_line(y++, 0, "Connection %s -> %s", l, p);
	} else {
		detail_line(y++, 0, "Connection %s", l);
		detail_line(y++, 0, "        -> %s", p);
	}
	attroff(A_BOLD);
	topview_age(age, sizeof(age), topmodel_age(t->model, r));
	if (r->wire_only)
		detail_line(y++, 0,
			    "Kernel: no socket (seen on the wire only; local = originator)");
	else
		detail_line(y++, 0, "Kernel state: %s for %s%s", state_name(r->s.state),
			    r->since_exact ? "" : ">= ", age);
	if (r->wire[0] || r->wire[1])
		detail_line(
			y++, 0, "Wire: local %s, peer %s%s%s", state_name(r->wire[0]),
			state_name(r->wire[1]), r->disagree ? "  (disagrees with the kernel)" : "",
			r->wire_unsure ? "  (a guess: picked up mid-stream, or packets lost since)"
				       : "");
	else
		detail_line(y++, 0, "Wire: %s", t->wire ? "not seen in the capture" : "no capture");
	fmt_text(name, sizeof(name), r->comm);
	if (r->pid)
		detail_line(y++, 0, "Process: %s pid %d fd %d%s", name, (int)r->pid, r->fd,
			    r->remembered ? " (held it before; TIME-WAIT has no owner)" : "");
	else
		detail_line(y++, 0, "Process: none visible");
	detail_line(y++, 0, "Queues: recv %u send %u; uid %u inode %u; timer %u ms", r->s.recv_q,
		    r->s.send_q, r->s.uid, r->s.inode, r->s.expires_ms);
	if (r->s.has_info)
		detail_line(
			y++, 0,
			"tcp_info: rtt %.3f/%.3f ms cwnd %u retrans %u/%u acked %llu received %llu",
			r->s.info.rtt_us / 1000.0, r->s.info.rttvar_us / 1000.0, r->s.info.snd_cwnd,
			r->s.retransmits, r->s.info.total_retrans,
			(unsigned long long)r->s.info.bytes_acked,
			(unsigned long long)r->s.info.bytes_received);
	y++;
	if (r->conn_id) {
		struct top_event ev[TOP_EVENTS * 4];
		int n = topmodel_events(t->model, r->conn_id, ev, TOP_EVENTS * 4);
		attron(A_BOLD);
		detail_line(y++, 0, "Timeline (from the capture, connection #%u)", r->conn_id);
		attroff(A_BOLD);
		/* The engine's ends, not local and peer: orig (sent the first SYN) and resp. */
		for (int i = 0; i < n && y < LINES - 2; i++) {
			time_t s = (time_t)(ev[i].ts_us / 1000000);
			struct tm tm;
			char tbuf[16];
			localtime_r(&s, &tm);
			strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
			detail_line(y++, 2, "%s.%06u  %s  %-12s -> %-12s  %s", tbuf,
				    (unsigned)(ev[i].ts_us % 1000000),
				    ev[i].endpoint ? "resp" : "orig",
				    state_name(ev[i].from ? ev[i].from : TS_CLOSE),
				    state_name(ev[i].to), engine_cause_name(ev[i].cause));
		}
		if (!n)
			detail_line(y++, 2, "no transitions recorded");
	} else if (t->wire) {
		/* Quiet since before the capture began: nothing seen to tell. */
		detail_line(y++, 0, "No timeline: the capture has seen nothing of it yet.");
	} else {
		detail_line(y++, 0, "No timeline: no capture (the Wire line says why).");
	}
	mvprintw(LINES - 1, 0, "Esc or q: back   k: close this socket");
	refresh();
}

static void draw_help(void)
{
	static const char *const lines[] = {
		"tcpstate top - keys",
		"",
		"  Up Down PgUp PgDn Home End   move",
		"  < > F6                       choose the sort column;  I  reverse it",
		"  /                            filter as tcpstate list does (Tab completes)",
		"  1-9 0                        show or hide ESTAB SYN-S SYN-R FIN-W1 FIN-W2",
		"                               TIME-W CLOSE-W LAST-A LISTEN CLOSING",
		"  s                            cycle state presets",
		"  g                            group by process, remote host, state, namespace "
		"(-A)",
		"  Enter                        details and timeline of the selected connection",
		"  k                            close the selected socket (SOCK_DESTROY)",
		"  Space Z                      pause / resume",
		"  h ? F1                       this help;  q F10  quit",
		"",
		"Columns: Age is the time in the current state; '>' marks a lower bound (first",
		"seen then), exact ages come from the capture.  Wire L/P is the state the capture",
		"implies for the local end and the peer; '!' marks a lasting disagreement with",
		"the kernel, '?' states guessed from a connection picked up mid-stream (never",
		"marked '!').  '~' before a process: it held the socket, and closed it.",
		"Grouped by process, sockets no process holds are the kernel's: TIME-WAIT,",
		"orphaned (closed by their process, still closing) or not accepted yet; an",
		"owner out of sight is another user's (no privilege to look) or not seen yet.",
		"",
		"Any key returns.",
	};
	erase();
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && (int)i < LINES; i++)
		mvprintw((int)i, 0, "%s", lines[i]);
	refresh();
}

/*
 * How many bytes of s fill at most cols cells of the screen: a line is cut
 * at the edge by what it shows, never inside a character.  A byte that is
 * not part of one counts as a cell.
 */
static int fit_width(const char *s, int cols)
{
	size_t o = 0, n = strlen(s);
	mbstate_t ps;
	int used = 0;

	memset(&ps, 0, sizeof(ps));
	while (o < n) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s + o, n - o, &ps);
		int w = 1;
		if (k == (size_t)-1 || k == (size_t)-2) {
			memset(&ps, 0, sizeof(ps));
			k = 1;
		} else if ((w = wcwidth(wc)) < 0) {
			w = 1;
		}
		if (used + w > cols)
			break;
		used += w;
		o += k;
	}
	return (int)o;
}

/*
 * Readline's list of completions, on the line above the prompt and cut at
 * the screen's edge: readline would print it to the terminal itself,
 * scrolling the screen behind curses' back.
 */
static void show_completions(char **matches, int n, int max_length)
{
	char buf[512];
	size_t o = 0;

	(void)max_length;
	/* matches[0] is what they have in common; the candidates follow. */
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			o += fmt_text(buf + o, sizeof(buf) - o, "  ");
		o += fmt_text(buf + o, sizeof(buf) - o, matches[i]);
	}
	move(LINES - 2, 0);
	clrtoeol();
	mvaddnstr(LINES - 2, 0, buf, fit_width(buf, COLS));
	rl_forced_update_display();
}

/* The page of groups under the cursor. */
static void prepare_groups(struct topscreen *t, struct topscreen_frame *f)
{
	f->ng = topmodel_groups(t->model, t->states, t->filter, t->group, &f->g);
	f->keyw = topview_group_key_width(f->g, f->ng);
	t->nshown = f->ng;
	if (t->cursor >= f->ng)
		t->cursor = f->ng ? f->ng - 1 : 0;
	if (t->cursor < t->offset)
		t->offset = t->cursor;
	if (t->cursor - t->offset >= (size_t)f->rows)
		t->offset = t->cursor - (size_t)f->rows + 1;
}

/* The page of rows under the cursor, with their tcp_info; the cursor's row is the selected one. */
static void prepare_rows(struct topscreen *t, struct topscreen_frame *f, topmodel_fetch_fn *fetch,
			 void *arg)
{
	size_t page = (size_t)f->rows < PAGE_MAX ? (size_t)f->rows : PAGE_MAX;

	if (t->cursor < t->offset)
		t->offset = t->cursor;
	if (t->cursor - t->offset >= page)
		t->offset = t->cursor - page + 1;
	f->n = topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->offset, page,
			     t->idx, &f->matching);
	t->nshown = f->matching;
	if (f->matching && t->cursor >= f->matching) {
		/* Rows went away below the cursor: the last row, on a full page. */
		t->cursor = f->matching - 1;
		t->offset = f->matching > page ? f->matching - page : 0;
		f->n = topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->offset,
				     page, t->idx, &f->matching);
	}
	topmodel_prepare(t->model, t->idx, f->n, fetch, arg);
	topview_widths(t->model, t->idx, f->n, t->wire, &f->w);
	if (t->cursor >= t->offset && t->cursor - t->offset < f->n)
		top_pick_row(&t->sel, t->model, t->idx[t->cursor - t->offset]);
}

/*
 * Everything the frame shows, fetched before drawing: drawing does no I/O.
 * The detail view's row gets its tcp_info; when that row is gone, the
 * table shows instead.
 */
void topscreen_prepare(struct topscreen *t, const struct topview_header *h,
		       topmodel_fetch_fn *fetch, void *arg, struct topscreen_frame *f)
{
	const char *cs = setlocale(LC_CTYPE, NULL);
	int utf8 = cs && (strstr(cs, "UTF-8") || strstr(cs, "utf8"));

	memset(f, 0, offsetof(struct topscreen_frame, lines));
	f->now = cmd_wall_us();
	if (t->mode == MODE_DETAIL) {
		/* Every loop turn: where the row was is looked at first (top_pick). */
		long i = top_pick_find(&t->sel, t->model);
		if (i >= 0) {
			uint32_t at = (uint32_t)i;
			topmodel_prepare(t->model, &at, 1, fetch, arg);
			f->detail = topmodel_row(t->model, at);
			return;
		}
		t->mode = MODE_TABLE;
	}
	if (t->mode != MODE_TABLE && t->mode != MODE_CONFIRM_KILL)
		return;
	f->too_small = screen_too_small();
	if (f->too_small)
		return;
	f->nl = topview_header(topmodel_stats(t->model), h, f->lines, 9, COLS, utf8);
	f->top = f->nl + 1;
	f->rows = LINES - 2 - f->top;
	if (t->group != TOP_GROUP_NONE)
		prepare_groups(t, f);
	else
		prepare_rows(t, f, fetch, arg);
}

static void draw_groups(const struct topscreen *t, const struct topscreen_frame *f)
{
	char buf[512];

	attron(A_REVERSE);
	mvprintw(f->top - 1, 0, "%-*s", COLS, "");
	topview_group_title(buf, sizeof(buf), t->group, f->ng, f->ng);
	mvaddstr(f->top - 1, 0, buf);
	attroff(A_REVERSE);
	for (int i = 0; i < f->rows && t->offset + (size_t)i < f->ng; i++) {
		topview_group(&f->g[t->offset + (size_t)i], f->keyw, buf, sizeof(buf));
		if (t->offset + (size_t)i == t->cursor)
			attron(A_REVERSE);
		mvaddnstr(f->top + i, 0, buf, COLS);
		if (t->offset + (size_t)i == t->cursor)
			attroff(A_REVERSE);
	}
}

static void draw_rows(const struct topscreen *t, const struct topscreen_frame *f)
{
	char buf[512];
	int top = f->top;

	topview_title(&f->w, buf, sizeof(buf));
	attron(A_REVERSE);
	mvprintw(top - 1, 0, "%-*.*s", COLS, COLS, buf);
	attroff(A_REVERSE);
	for (size_t i = 0; i < f->n; i++) {
		const struct top_row *r = topmodel_row(t->model, t->idx[i]);
		topview_row(t->model, r, &f->w, buf, sizeof(buf));
		int sel = t->offset + i == t->cursor;
		if (sel)
			attron(A_REVERSE);
		mvaddnstr(top + (int)i, 0, buf, COLS);
		if (t->color && !sel) {
			mvchgat(top + (int)i, topview_col_start(&f->w, TV_STATE), f->w.w[TV_STATE],
				A_NORMAL, (short)state_pair(r->s.state), NULL);
			if (r->disagree)
				mvchgat(top + (int)i, topview_col_start(&f->w, TV_WIRE),
					f->w.w[TV_WIRE], A_BOLD, C_BAD, NULL);
		}
		if (sel)
			attroff(A_REVERSE);
	}
	if (!f->n)
		mvprintw(top, 0, f->matching ? "" : "(no sockets match)");
	mvprintw(LINES - 2, 0, "%zu of %zu sockets shown, sorted by %s%s", f->matching,
		 topmodel_nrows(t->model), topmodel_sort_name(t->sort),
		 t->reverse ? " (reversed)" : "");
}

/* The table view as topscreen_prepare left it: curses calls only. */
static void draw_table(const struct topscreen *t, const struct topscreen_frame *f)
{
	erase();
	if (f->too_small) {
		draw_too_small();
		return;
	}
	for (int i = 0; i < f->nl; i++) {
		if (i == 0)
			attron(A_BOLD);
		mvaddnstr(i, 0, f->lines[i], fit_width(f->lines[i], COLS));
		if (i == 0)
			attroff(A_BOLD);
	}
	if (t->group != TOP_GROUP_NONE)
		draw_groups(t, f);
	else
		draw_rows(t, f);
	/* The function bar, as htop's. */
	if (t->status[0] && f->now < t->status_until) {
		attron(A_BOLD);
		mvaddnstr(LINES - 1, 0, t->status, COLS);
		attroff(A_BOLD);
	} else {
		attron(A_REVERSE);
		mvaddnstr(LINES - 1, 0,
			  "F1/h Help  / Filter  F6/<> Sort  I Reverse  1-0 States  g Group  Enter "
			  "Detail"
			  "  k Kill  Space Pause  q Quit",
			  COLS);
		attroff(A_REVERSE);
	}
	refresh();
}

const struct top_row *topscreen_selected(struct topscreen *t)
{
	long i = top_pick_find(&t->sel, t->model);
	return i < 0 ? NULL : topmodel_row(t->model, (size_t)i);
}

void topscreen_follow(struct topscreen *t)
{
	if (t->group != TOP_GROUP_NONE)
		return;
	long i = top_pick_find(&t->sel, t->model);
	if (i < 0)
		return;
	/* Its rank, counted in one pass; the next frame scrolls only if needed. */
	size_t rank = topmodel_rank(t->model, t->states, t->filter, t->sort, t->reverse, (size_t)i);
	if (rank != (size_t)-1)
		t->cursor = rank;
}

static const state_mask presets[] = {
	SM_ALL,		  SM(TS_ESTABLISHED), SM(TS_CLOSE_WAIT),
	SM(TS_TIME_WAIT), SM(TS_LISTEN),      SM_ALL & ~SM(TS_LISTEN),
};
static const char *const preset_names[] = {"all",	"established", "close-wait",
					   "time-wait", "listening",   "all but listening"};

/* The row under the cursor now (keys may have moved it since the last draw). */
static void select_at_cursor(struct topscreen *t)
{
	uint32_t idx;
	size_t matching;

	if (t->group != TOP_GROUP_NONE)
		return;
	if (topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->cursor, 1, &idx,
			  &matching) == 1)
		top_pick_row(&t->sel, t->model, idx);
}

/*
 * The cursor on row i, or on the last row the screen has.  The row the
 * cursor leaves is no longer followed: a refresh before the next frame
 * would put the cursor back on it.  The next frame selects the row under
 * the cursor.
 */
static void move_to(struct topscreen *t, size_t i)
{
	t->cursor = i < t->nshown ? i : t->nshown ? t->nshown - 1 : 0;
	t->sel.have = 0;
}

/* After a change of sort column: say so; a dump without tcp_info cannot be sorted by it. */
static int sorted(struct topscreen *t)
{
	topscreen_status(t, "sorted by %s", topmodel_sort_name(t->sort));
	return topmodel_sort_needs_info(t->sort) ? TS_ACT_RECALCULATE : 0;
}

/* A key in the filter prompt, the help, the detail view or the kill question. */
static int modal_key(struct topscreen *t, int ch)
{
	if (t->mode == MODE_FILTER) {
		if (ch == 27) { /* Esc: give up */
			rl_callback_handler_remove();
			t->mode = MODE_TABLE;
			curs_set(0);
			return 0;
		}
		rl_key = rl_translate(ch);
		rl_have_key = 1;
		rl_callback_read_char();
		return 0;
	}
	if (t->mode == MODE_HELP) {
		t->mode = MODE_TABLE;
		return 0;
	}
	if (t->mode == MODE_CONFIRM_KILL) {
		t->mode = MODE_TABLE;
		if (ch == 'y' || ch == 'Y')
			return TS_ACT_KILL;
		topscreen_status(t, "not closed");
		return 0;
	}
	/* MODE_DETAIL */
	if (ch == 'q' || ch == 27 || ch == KEY_LEFT || ch == '\n' || ch == KEY_ENTER)
		t->mode = MODE_TABLE;
	else if (ch == 'k')
		t->mode = MODE_CONFIRM_KILL, topscreen_status(t, "close this socket? (y/N)");
	return 0;
}

/* A key's effect on what is shown, and what it asks of the loop (TS_ACT_*). */
static int handle_key(struct topscreen *t, int ch)
{
	int page = LINES > 15 ? LINES - 14 : 1;
	static const int key_states[10] = {
		TS_CLOSING,   TS_ESTABLISHED, TS_SYN_SENT,   TS_SYN_RECV, TS_FIN_WAIT1,
		TS_FIN_WAIT2, TS_TIME_WAIT,   TS_CLOSE_WAIT, TS_LAST_ACK, TS_LISTEN};

	if (t->mode != MODE_TABLE)
		return modal_key(t, ch);
	switch (ch) {
	case 'q':
	case KEY_F(10):
		return TS_ACT_QUIT;
	case KEY_UP:
		move_to(t, t->cursor ? t->cursor - 1 : 0);
		break;
	case KEY_DOWN:
		move_to(t, t->cursor + 1);
		break;
	case KEY_PPAGE:
		move_to(t, t->cursor > (size_t)page ? t->cursor - (size_t)page : 0);
		break;
	case KEY_NPAGE:
		move_to(t, t->cursor + (size_t)page);
		break;
	case KEY_HOME:
		move_to(t, 0);
		break;
	case KEY_END:
		move_to(t, t->nshown);
		break;
	case '<':
		t->sort = (enum top_sort)((t->sort + SORT_MAX - 1) % SORT_MAX);
		return sorted(t);
	case '>':
	case KEY_F(6):
		t->sort = (enum top_sort)((t->sort + 1) % SORT_MAX);
		return sorted(t);
	case 'I':
		t->reverse = !t->reverse;
		break;
	case '/':
		return TS_ACT_FILTER;
	case ' ':
	case 'Z':
		t->paused = !t->paused;
		break;
	case 'h':
	case '?':
	case KEY_F(1):
		t->mode = MODE_HELP;
		break;
	case 'g':
		t->group = (enum top_group_by)((t->group + 1) % TOP_GROUP_MAX);
		/* By namespace only with -A: without it every row is in one. */
		if (t->group == TOP_GROUP_NETNS && !topmodel_stats(t->model)->namespaces)
			t->group = TOP_GROUP_NONE;
		t->cursor = t->offset = 0;
		if (t->group == TOP_GROUP_NONE)
			topscreen_status(t, "no grouping");
		else
			topscreen_status(t, "grouped by %s", topview_group_name(t->group));
		break;
	case 's':
		t->preset = (t->preset + 1) % (int)(sizeof(presets) / sizeof(presets[0]));
		t->states = presets[t->preset];
		topscreen_status(t, "states: %s", preset_names[t->preset]);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		select_at_cursor(t);
		if (t->group == TOP_GROUP_NONE && t->sel.have)
			t->mode = MODE_DETAIL;
		break;
	case 'k':
		select_at_cursor(t);
		if (topscreen_selected(t) && topscreen_selected(t)->wire_only) {
			topscreen_status(t, "no kernel socket to close: this connection is seen on "
					    "the wire only");
			break;
		}
		if (t->sel.have && t->group == TOP_GROUP_NONE) {
			t->mode = MODE_CONFIRM_KILL;
			topscreen_status(t, "close the selected socket? (y/N)");
		}
		break;
	default:
		if (ch >= '0' && ch <= '9') {
			int s = key_states[ch - '0'];
			t->states ^= SM(s);
			if (s == TS_CLOSING)
				t->states = (t->states & ~SM(TS_CLOSE)) |
					    (t->states & SM(TS_CLOSING) ? SM(TS_CLOSE) : 0);
			if (s == TS_SYN_RECV)
				t->states = (t->states & ~SM(TS_NEW_SYN_RECV)) |
					    (t->states & SM(TS_SYN_RECV) ? SM(TS_NEW_SYN_RECV) : 0);
			topscreen_status(t, "%s %s", state_name(s),
					 t->states & SM(s) ? "shown" : "hidden");
		}
		break;
	}
	return 0;
}

static void init_colors(struct topscreen *t)
{
	const char *nc = getenv("NO_COLOR");

	t->color = has_colors() && !(nc && *nc);
	if (!t->color)
		return;
	start_color();
	use_default_colors();
	init_pair(C_EST, COLOR_GREEN, -1);
	init_pair(C_TW, COLOR_YELLOW, -1);
	init_pair(C_CW, COLOR_RED, -1);
	init_pair(C_LISTEN, COLOR_CYAN, -1);
	init_pair(C_SYN, COLOR_MAGENTA, -1);
	init_pair(C_CLOSE, COLOR_BLUE, -1);
	init_pair(C_BAD, COLOR_RED, -1);
}

/*
 * What a fatal signal undoes before the process dies, so that an abort
 * does not leave the user's shell in raw mode on the alternate screen: the
 * tty modes from before curses, and the terminal's strings that reset the
 * attributes, show the cursor, and leave keypad mode and the alternate
 * screen, looked up beforehand (a handler may only write(2) them).
 */
static const int fatal_sigs[] = {SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,
				 SIGABRT, SIGQUIT, SIGTRAP, SIGSYS};
static struct sigaction fatal_old[sizeof(fatal_sigs) / sizeof(fatal_sigs[0])];
static struct termios tty_saved;
static char tty_reset[256];
static size_t tty_reset_len;

static void on_fatal(int sig)
{
	size_t i = 0;

	while (fatal_sigs[i] != sig)
		i++;
	ssize_t w = write(STDOUT_FILENO, tty_reset, tty_reset_len);
	(void)w;
	tcsetattr(STDOUT_FILENO, TCSANOW, &tty_saved);
	/* Die of it as before: the earlier action (the default, or a sanitizer's). */
	sigaction(sig, &fatal_old[i], NULL);
	raise(sig);
}

/* A terminfo string without its padding ("$<5>"): a handler cannot wait. */
static void add_reset(const char *cap)
{
	const char *v = tigetstr(cap);

	if (!v || v == (const char *)-1)
		return;
	for (; *v && tty_reset_len < sizeof(tty_reset); v++) {
		if (v[0] == '$' && v[1] == '<' && strchr(v, '>')) {
			v = strchr(v, '>');
			continue;
		}
		tty_reset[tty_reset_len++] = *v;
	}
}

/* before: the tty's modes as the shell left them; the screen's terminal is set up. */
static void catch_fatal(const struct termios *before)
{
	struct sigaction sa;

	tty_saved = *before;
	tty_reset_len = 0;
	add_reset("sgr0");
	add_reset("cnorm");
	add_reset("rmkx");
	add_reset("rmcup");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &sa, &fatal_old[i]);
}

static void release_fatal(void)
{
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &fatal_old[i], NULL);
}

void topscreen_draw(struct topscreen *t, const struct topscreen_frame *f)
{
	if (t->mode == MODE_DETAIL)
		draw_detail(t, f->detail);
	else if (t->mode == MODE_HELP)
		draw_help();
	else if (t->mode == MODE_TABLE || t->mode == MODE_CONFIRM_KILL)
		draw_table(t, f);
}

void topscreen_frame_free(struct topscreen_frame *f)
{
	free(f->g);
	f->g = NULL;
}

int topscreen_getkey(void)
{
	int ch;

	while ((ch = getch()) == KEY_RESIZE)
		;
	return ch;
}

int topscreen_key(struct topscreen *t, int ch)
{
	return handle_key(t, ch);
}

/* Readline's settings: it must not touch the terminal or signals, curses owns them. */
static void setup_readline(FILE *null)
{
	rl_outstream = null;
	rl_variable_bind("bell-style", "none");
	rl_completion_display_matches_hook = show_completions;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_prep_term_function = NULL;
	rl_deprep_term_function = NULL;
	rl_change_environment = 0;
	rl_getc_function = rl_getc_cb;
	rl_input_available_hook = rl_avail_cb;
	rl_redisplay_function = rl_redisplay_cb;
	rl_attempted_completion_function = complete_filter;
	using_history();
}

int topscreen_open(struct topscreen *t, char *err, size_t errlen)
{
	t->idx = malloc(PAGE_MAX * sizeof(*t->idx));
	/*
	 * What readline would print itself (a list of completions, a clear
	 * screen, a bell) goes nowhere; the prompt and completions are drawn
	 * by us.
	 */
	t->rl_null = fopen("/dev/null", "w");
	if (!t->idx || !t->rl_null) {
		snprintf(err, errlen, "%s", t->idx ? "/dev/null: cannot open" : "out of memory");
		free(t->idx);
		t->idx = NULL;
		if (t->rl_null)
			fclose(t->rl_null);
		t->rl_null = NULL;
		return -1;
	}
	setlocale(LC_ALL, "");
	setup_readline(t->rl_null);
	/* The tty's modes before newterm(), which may change them. */
	t->have_before = tcgetattr(STDOUT_FILENO, &t->before) == 0;
	/* newterm(), not initscr(), which exits by itself; TERM was checked (termcheck). */
	if (!(t->scr = newterm(NULL, stdout, stdin))) {
		snprintf(err, errlen, "cannot set up the terminal");
		free(t->idx);
		t->idx = NULL;
		fclose(t->rl_null);
		t->rl_null = NULL;
		return -1;
	}
	if (t->have_before)
		catch_fatal(&t->before);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	init_colors(t);
	return 0;
}

void topscreen_close(struct topscreen *t)
{
	if (t->mode == MODE_FILTER)
		rl_callback_handler_remove();
	endwin();
	if (t->have_before)
		release_fatal();
	delscreen(t->scr);
	free(t->idx);
	t->idx = NULL;
	rl_outstream = NULL;
	fclose(t->rl_null);
	t->rl_null = NULL;
}
