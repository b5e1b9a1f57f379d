/*
 * cmd_top.c - `tcpstate top`: the monitor.  Refreshes the kernel's socket
 * table every -d seconds, joins it with the wire engine when capturing
 * (-i) or replaying (-r), and shows it with htop's habits; or, with -b,
 * prints frames to stdout as top -b does.
 *
 * The screen is a view over topmodel.c: keys change what is shown (filter,
 * states, sort, grouping) and never the data.  Signal handlers only set
 * flags, but for the fatal ones, which restore the terminal and die.
 * Nothing is written to stderr while curses owns the terminal: messages go
 * to the status line, and fatal ones are printed after endwin().
 */
#include <curses.h>
#include <linux/capability.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "addr.h"
#include "cmd.h"
#include "cmd_wire.h"
#include "filter.h"
#include "netns.h"
#include "out.h"
#include "sockdiag.h"
#include "state.h"
#include "termcheck.h"
#include "topmodel.h"
#include "topview.h"
#include "wire.h"

enum {
	O_DELAY = 1,
	O_BATCH,
	O_FRAMES,
	O_NETNS,
	O_SPEED,
	O_ROWS,
	O_SORT,
};

static const struct opt_def top_opts[] = {
	{O_DELAY, 'd', "delay", "SECONDS", "refresh every SECONDS (default 1, fractions allowed)",
	 COMPLETE_NONE},
	{O_BATCH, 'b', "batch", NULL, "print frames to stdout instead of a screen, as top -b",
	 COMPLETE_NONE},
	{O_FRAMES, 'n', "frames", "COUNT", "stop after COUNT frames", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "watch the named network namespace", COMPLETE_NETNS},
	WIRE_OPT_IFACE,
	WIRE_OPT_FILE,
	{O_SPEED, 0, "speed", "N", "with -r: replay N times faster than captured", COMPLETE_NONE},
	{O_SORT, 0, "sort", "COLUMN",
	 "by age (default), state, local, peer, process, recv-q, send-q, rtt, retrans",
	 COMPLETE_SORT},
	{O_ROWS, 0, "rows", "N", "with -b: print the first N rows of each frame (default all)",
	 COMPLETE_NONE},
	WIRE_OPTS_COMMON,
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_top(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.args = "[FILTER...]",
	.summary = "Monitor TCP sockets live, joined with the wire's view of both ends",
	.help_tail =
		"Keys: arrows PgUp PgDn Home End move; < > or F6 choose the sort column, I\n"
		"reverses it; / filters (as tcpstate list); 1-9 and 0 show or hide a state, s\n"
		"cycles state presets; g groups by process, remote host or state; Enter shows\n"
		"one connection; k closes it (SOCK_DESTROY); Space or Z pauses; h ? F1 help;\n"
		"q F10 quit.\n"
		"With -i or -r the wire engine runs alongside: each row then shows the state\n"
		"the capture implies for the local end and for the peer, and rows where the\n"
		"kernel and the wire disagree are marked with !.  A connection the capture\n"
		"picked up mid-stream has guessed states, marked with ? and never with !.\n"
		"The screen needs a terminal TERM names, with cursor addressing; elsewhere\n"
		"top says so and exits 1: use -b.\n",
	.opts = top_opts,
	.min_args = 0,
	.max_args = -1,
	.args_complete = COMPLETE_FILTER,
	.run = run_top,
};

/* ---- state ------------------------------------------------------------- */

enum mode { MODE_TABLE, MODE_DETAIL, MODE_HELP, MODE_FILTER, MODE_CONFIRM_KILL };

struct top {
	/* options */
	uint64_t delay_us;
	int batch;
	long frames; /* 0: until stopped */
	long rows_max; /* batch: rows per frame, 0 for all */
	const char *netns;
	double speed;
	struct wire_opts w;
	/* data */
	struct topmodel *model;
	struct wire *wire;
	char wire_note[160]; /* why there is no wire view, or its source */
	int oom; /* the model could not take a socket */
	int pipe_closed; /* batch output's reader went away */
	int refresh_now; /* the next loop turn refreshes, whatever the delay */
	uint64_t replay_t0_wall, replay_t0_pkt;
	/* view */
	state_mask states;
	struct filter *filter;
	char filter_text[256];
	enum top_sort sort;
	int reverse;
	enum top_group_by group;
	int paused;
	size_t cursor, offset;
	size_t nshown; /* rows (or groups) the last draw had to show: the cursor stays below */
	struct sock_rec selected; /* the selected row's identity, followed across refreshes */
	int have_selected;
	enum mode mode;
	char status[200];
	uint64_t status_until;
	int color;
	int preset;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t wall_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static int on_opt(void *st, int id, const char *arg)
{
	struct top *t = st;
	char *end;
	double v;
	long n;

	switch (id) {
	case O_DELAY:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || *end || !(v >= 0.05 && v <= 3600))
			return cmd_usage_error(&cmd_top_entry, "-d: invalid delay \"%s\" (0.05 to 3600 s)",
					       arg);
		t->delay_us = (uint64_t)(v * 1e6);
		return 0;
	case O_BATCH:
		t->batch = 1;
		return 0;
	case O_FRAMES:
		if (parse_long(arg, 1, 1000000000, &n) < 0)
			return cmd_usage_error(&cmd_top_entry, "-n: invalid count \"%s\"", arg);
		t->frames = n;
		return 0;
	case O_NETNS:
		t->netns = arg;
		return 0;
	case O_ROWS:
		if (parse_long(arg, 1, 1000000000, &n) < 0)
			return cmd_usage_error(&cmd_top_entry, "--rows: invalid count \"%s\"", arg);
		t->rows_max = n;
		return 0;
	case O_SORT:
		t->sort = topmodel_sort_by_name(arg);
		if (t->sort == SORT_MAX)
			return cmd_usage_error(&cmd_top_entry,
					       "--sort: unknown column \"%s\" (state, local, peer, "
					       "process, age, recv-q, send-q, rtt, retrans)",
					       arg);
		return 0;
	case O_SPEED:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || *end || !(v > 0 && v <= 1e6))
			return cmd_usage_error(&cmd_top_entry, "--speed: invalid factor \"%s\"", arg);
		t->speed = v;
		return 0;
	}
	return cmd_wire_opt(&cmd_top_entry, &t->w, id, arg);
}

/* ---- data -------------------------------------------------------------- */

/* Each socket goes into the model as the dump delivers it. */
static int take_sock(const struct sock_rec *r, void *arg)
{
	struct top *t = arg;

	if (topmodel_add(t->model, r) < 0) {
		t->oom = 1;
		return 1;
	}
	return 0;
}

static void on_event(void *arg, const struct engine_event *ev)
{
	struct top *t = arg;
	topmodel_event(t->model, wire_engine(t->wire), ev);
}

/* Read what the wire has for us, for up to timeout_ms. */
static void pump_wire(struct top *t, int timeout_ms, char *err, size_t errlen)
{
	if (!t->wire)
		return;
	if (wire_is_live(t->wire)) {
		if (wire_poll(t->wire, timeout_ms, -1, err, errlen) < 0) {
			snprintf(t->wire_note, sizeof(t->wire_note), "capture stopped: %s", err);
			wire_close(t->wire);
			t->wire = NULL;
		}
		return;
	}
	/* A file replays at its own pace, times --speed. */
	uint64_t now = wall_us();
	if (!t->replay_t0_wall) {
		t->replay_t0_wall = now;
		if (wire_replay_until(t->wire, 1, err, errlen) >= 0) /* learn the first time */
			t->replay_t0_pkt = wire_next_us(t->wire);
	}
	uint64_t until = t->replay_t0_pkt + (uint64_t)((double)(now - t->replay_t0_wall) * t->speed);
	if (t->replay_t0_pkt && wire_replay_until(t->wire, until, err, errlen) < 0)
		snprintf(t->wire_note, sizeof(t->wire_note), "replay stopped: %s", err);
}

static int refresh_data(struct top *t, char *err, size_t errlen)
{
	struct sockdiag_req req;
	struct sockdiag_stats st;

	memset(&req, 0, sizeof(req));
	req.states = SM_ALL;
	/*
	 * tcp_info costs the kernel a socket lock and ~230 bytes per socket,
	 * a fifth more than the bare dump.  Only the rows on screen show it,
	 * so it is asked for them alone (fill_info), unless every row needs it:
	 * a sort by rtt or retransmits, or batch output of every row.
	 */
	size_t last = topmodel_nrows(t->model); /* 0 before the first refresh */
	req.want_info = topmodel_sort_needs_info(t->sort) ||
			(t->batch && t->group == TOP_GROUP_NONE &&
			 (!t->rows_max || (last && (size_t)t->rows_max >= last)));
	t->refresh_now = 0;
	/* The refresh's time is taken before the dump, so ages never run ahead. */
	uint64_t now = wall_us();
	t->oom = 0;
	topmodel_begin(t->model, now);
	if (sockdiag_dump(&req, take_sock, t, &st, err, errlen) < 0) {
		topmodel_abort(t->model);
		return -1;
	}
	if (t->oom) {
		topmodel_abort(t->model);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* New sockets' owners are looked up at most once per refresh interval. */
	uint64_t rescan = t->delay_us > 500000 ? t->delay_us : 500000;
	topmodel_end(t->model, rescan, "/proc");
	if (t->wire)
		topmodel_join(t->model, wire_engine(t->wire), now);
	return 0;
}

/* The header's lines: the model's counts, and what the command knows (options, the capture). */
static int header_lines(struct top *t, char lines[][TOPVIEW_HDR_LINE], int maxlines, int width,
			int utf8)
{
	struct topview_header h = {
		.now_us = wall_us(),
		.delay_us = t->delay_us,
		.paused = t->paused,
		.filter_text = t->filter ? t->filter_text : NULL,
		.wire_note = t->wire_note,
	};
	struct capture_stats cs;

	if (t->wire) {
		h.wire = 1;
		h.wire_packets = wire_decode_stats(t->wire)->packets;
		h.wire_conns = engine_stats(wire_engine(t->wire))->live;
		if (wire_capture_stats(t->wire, &cs) == 0) {
			h.kernel_counts = 1;
			h.kernel_recv = cs.received;
			h.kernel_drop = cs.dropped;
		}
	}
	return topview_header(topmodel_stats(t->model), &h, lines, maxlines, width, utf8);
}

/* sockdiag_info for the model's prepare step; failure only leaves the cells empty. */
static void fetch_info(struct sock_rec **need, size_t n, void *arg)
{
	char err[256];

	(void)arg;
	(void)sockdiag_info(need, n, err, sizeof(err));
}

/*
 * tcp_info for the rows about to be shown, when the dump left it out: one
 * request per socket, by its id and cookie.  A socket gone since the dump
 * keeps "-".
 */
static void fill_info(struct top *t, const uint32_t *idx, size_t n)
{
	topmodel_prepare(t->model, idx, n, fetch_info, NULL);
}

/* ---- batch mode -------------------------------------------------------- */

/* A line of batch output: its text from outside was escaped as it came in (TEXT_SHOWN). */
static void put_line(FILE *out, const char *s)
{
	fputs(s, out);
	putc('\n', out);
}

static int batch_frame(struct top *t, FILE *out)
{
	char lines[12][TOPVIEW_HDR_LINE], buf[512];
	int nl = header_lines(t, lines, 12, 120, 0);

	for (int i = 0; i < nl; i++)
		put_line(out, lines[i]);
	fputc('\n', out);
	if (t->group != TOP_GROUP_NONE) {
		struct top_group *g = NULL;
		size_t ng = topmodel_groups(t->model, t->states, t->filter, t->group, &g);
		size_t keyw = topview_group_key_width(g, ng);
		topview_group_title(buf, sizeof(buf), t->group, ng);
		fprintf(out, "%s\n", buf);
		for (size_t i = 0; i < ng; i++) {
			topview_group(&g[i], keyw, buf, sizeof(buf));
			put_line(out, buf);
		}
		free(g);
	} else {
		size_t total = topmodel_nrows(t->model), matching;
		uint32_t *idx = malloc((total ? total : 1) * sizeof(*idx));
		if (!idx)
			return -1;
		size_t want = t->rows_max && (size_t)t->rows_max < total ? (size_t)t->rows_max : total;
		size_t n = topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, 0,
					 want, idx, &matching);
		fill_info(t, idx, n);
		struct topview_widths w;
		topview_widths(t->model, idx, n, t->wire != NULL, &w);
		topview_title(&w, buf, sizeof(buf));
		fprintf(out, "%s\n", buf);
		for (size_t i = 0; i < n; i++) {
			topview_row(t->model, topmodel_row(t->model, idx[i]), &w, buf, sizeof(buf));
			put_line(out, buf);
		}
		free(idx);
	}
	fputc('\n', out);
	fflush(out);
	return ferror(out) ? -1 : 0;
}

/* ---- the screen -------------------------------------------------------- */

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

static void status(struct top *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A message for the status line, escaped: it may quote a filter as typed. */
static void status(struct top *t, const char *fmt, ...)
{
	char raw[sizeof(t->status)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	fmt_text(t->status, sizeof(t->status), raw);
	t->status_until = wall_us() + 5000000;
}

/* Readline, driven one key at a time from curses (its callback interface). */
static struct top *rl_top;
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

static void apply_filter(struct top *t, const char *text)
{
	char err[256];
	char *argv[1] = {(char *)text};

	if (!text || !*text) {
		filter_free(t->filter);
		t->filter = NULL;
		t->filter_text[0] = '\0';
		status(t, "filter cleared");
		return;
	}
	struct filter *f = filter_parse(1, argv, err, sizeof(err));
	if (!f) {
		status(t, "%s", err);
		return;
	}
	filter_free(t->filter);
	t->filter = f;
	snprintf(t->filter_text, sizeof(t->filter_text), "%s", text);
	t->cursor = t->offset = 0;
	t->have_selected = 0;
	t->status[0] = '\0'; /* an earlier attempt's error no longer holds */
}

static void rl_line_cb(char *line)
{
	struct top *t = rl_top;
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

static void start_filter_prompt(struct top *t)
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

static void draw_detail(struct top *t, const struct top_row *r)
{
	char l[ADDR_STRLEN], p[ADDR_STRLEN], age[32], name[TEXT_SHOWN(sizeof(r->comm))];
	int y = 0;

	erase();
	addr_format_port(l, r->s.family, r->s.laddr, r->s.lport, 0);
	topview_peer(p, &r->s);
	attron(A_BOLD);
	mvprintw(y++, 0, "Connection %s -> %s", l, p);
	attroff(A_BOLD);
	topview_age(age, sizeof(age), topmodel_age(t->model, r));
	if (r->wire_only)
		mvprintw(y++, 0, "Kernel: no socket (seen on the wire only; local = originator)");
	else
		mvprintw(y++, 0, "Kernel state: %s for %s%s", state_name(r->s.state),
			 r->since_exact ? "" : ">= ", age);
	if (r->wire[0] || r->wire[1])
		mvprintw(y++, 0, "Wire: local %s, peer %s%s%s", state_name(r->wire[0]),
			 state_name(r->wire[1]), r->disagree ? "  (disagrees with the kernel)" : "",
			 r->wire_unsure ? "  (picked up mid-stream: a guess)" : "");
	else
		mvprintw(y++, 0, "Wire: %s", t->wire ? "not seen in the capture" : "no capture");
	fmt_text(name, sizeof(name), r->comm);
	if (r->pid)
		mvprintw(y++, 0, "Process: %s pid %d fd %d%s", name, (int)r->pid, r->fd,
			 r->remembered ? " (held it before; TIME-WAIT has no owner)" : "");
	else
		mvprintw(y++, 0, "Process: none visible");
	mvprintw(y++, 0, "Queues: recv %u send %u; uid %u inode %u; timer %u ms", r->s.recv_q,
		 r->s.send_q, r->s.uid, r->s.inode, r->s.expires_ms);
	if (r->s.has_info)
		mvprintw(y++, 0,
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
		mvprintw(y++, 0, "Timeline (from the capture, connection #%u)", r->conn_id);
		attroff(A_BOLD);
		/* Which engine endpoint is the local one: the one whose state matches. */
		for (int i = 0; i < n && y < LINES - 2; i++) {
			time_t s = (time_t)(ev[i].ts_us / 1000000);
			struct tm tm;
			char tbuf[16];
			localtime_r(&s, &tm);
			strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
			mvprintw(y++, 2, "%s.%06u  %s  %-12s -> %-12s  %s", tbuf,
				 (unsigned)(ev[i].ts_us % 1000000), ev[i].local ? "resp" : "orig",
				 state_name(ev[i].from ? ev[i].from : TS_CLOSE), state_name(ev[i].to),
				 engine_cause_name(ev[i].cause));
		}
		if (!n)
			mvprintw(y++, 2, "no transitions recorded");
	} else {
		mvprintw(y++, 0, "No timeline: run with -i IFACE or -r FILE to see one.");
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
		"  /                            filter, in tcpstate list's language (Tab completes)",
		"  1-9 0                        show or hide ESTAB SYN-S SYN-R FIN-W1 FIN-W2",
		"                               TIME-W CLOSE-W LAST-A LISTEN CLOSING",
		"  s                            cycle state presets",
		"  g                            group by process, remote host, state, or none",
		"  Enter                        details and timeline of the selected connection",
		"  k                            close the selected socket (SOCK_DESTROY)",
		"  Space Z                      pause / resume",
		"  h ? F1                       this help;  q F10  quit",
		"",
		"Columns: Age is the time in the current state; '>' marks a lower bound (first",
		"seen then), exact ages come from the capture.  Wire L/P is the state the capture",
		"implies for the local end and the peer; '!' marks a lasting disagreement with",
		"the kernel, '?' states guessed from a connection picked up mid-stream (never",
		"marked '!').  '~' before a process: it held the socket before TIME-WAIT.",
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

/* What one screen shows, worked out before it is drawn (frame_prepare). */
struct frame {
	int nl;                  /* header lines (lines[], last) */
	int too_small;           /* under 80x24: a note instead */
	int top, rows;           /* the table's first line and its height */
	struct top_group *g;     /* grouped: the groups, malloc'ed */
	size_t ng, keyw;
	uint32_t *idx;           /* else the rows shown, n of matching */
	size_t n, matching;
	struct topview_widths w;
	uint64_t now;
	char lines[12][TOPVIEW_HDR_LINE]; /* the header */
};

/* The page of groups under the cursor. */
static void prepare_groups(struct top *t, struct frame *f)
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
static void prepare_rows(struct top *t, struct frame *f, size_t cap)
{
	size_t page = (size_t)f->rows < cap ? (size_t)f->rows : cap;

	if (t->cursor < t->offset)
		t->offset = t->cursor;
	if (t->cursor - t->offset >= page)
		t->offset = t->cursor - page + 1;
	f->n = topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->offset, page,
			     f->idx, &f->matching);
	t->nshown = f->matching;
	if (f->matching && t->cursor >= f->matching) {
		/* Rows went away below the cursor: the last row, on a full page. */
		t->cursor = f->matching - 1;
		t->offset = f->matching > page ? f->matching - page : 0;
		f->n = topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->offset,
				     page, f->idx, &f->matching);
	}
	fill_info(t, f->idx, f->n);
	topview_widths(t->model, f->idx, f->n, t->wire != NULL, &f->w);
	if (t->cursor >= t->offset && t->cursor - t->offset < f->n) {
		t->selected = topmodel_row(t->model, f->idx[t->cursor - t->offset])->s;
		t->have_selected = 1;
	}
}

/* Everything the table view shows, fetched before drawing: draw() does no I/O. */
static void frame_prepare(struct top *t, struct frame *f, uint32_t *idx, size_t cap)
{
	const char *cs = setlocale(LC_CTYPE, NULL);
	int utf8 = cs && (strstr(cs, "UTF-8") || strstr(cs, "utf8"));

	memset(f, 0, offsetof(struct frame, lines));
	f->idx = idx;
	f->now = wall_us();
	f->too_small = COLS < 80 || LINES < 24;
	if (f->too_small)
		return;
	f->nl = header_lines(t, f->lines, 9, COLS, utf8);
	f->top = f->nl + 1;
	f->rows = LINES - 2 - f->top;
	if (t->group != TOP_GROUP_NONE)
		prepare_groups(t, f);
	else
		prepare_rows(t, f, cap);
}

static void draw_groups(const struct top *t, const struct frame *f)
{
	char buf[512];

	attron(A_REVERSE);
	mvprintw(f->top - 1, 0, "%-*s", COLS, "");
	topview_group_title(buf, sizeof(buf), t->group, f->ng);
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

static void draw_rows(const struct top *t, const struct frame *f)
{
	char buf[512];
	int top = f->top;

	topview_title(&f->w, buf, sizeof(buf));
	attron(A_REVERSE);
	mvprintw(top - 1, 0, "%-*.*s", COLS, COLS, buf);
	attroff(A_REVERSE);
	for (size_t i = 0; i < f->n; i++) {
		const struct top_row *r = topmodel_row(t->model, f->idx[i]);
		topview_row(t->model, r, &f->w, buf, sizeof(buf));
		int sel = t->offset + i == t->cursor;
		if (sel)
			attron(A_REVERSE);
		mvaddnstr(top + (int)i, 0, buf, COLS);
		if (t->color && !sel) {
			mvchgat(top + (int)i, 0, f->w.w[TV_STATE], A_NORMAL,
				(short)state_pair(r->s.state), NULL);
			if (r->disagree)
				mvchgat(top + (int)i, topview_col_start(&f->w, TV_WIRE), f->w.w[TV_WIRE],
					A_BOLD, C_BAD, NULL);
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

/* The table view as frame_prepare left it: curses calls only. */
static void draw(const struct top *t, const struct frame *f)
{
	erase();
	if (f->too_small) {
		mvprintw(0, 0, "tcpstate top needs at least 80x24 (now %dx%d)", COLS, LINES);
		refresh();
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
			  "F1/h Help  / Filter  F6/<> Sort  I Reverse  1-0 States  g Group  Enter Detail"
			  "  k Kill  Space Pause  q Quit",
			  COLS);
		attroff(A_REVERSE);
	}
	refresh();
}

/* After a refresh, put the cursor back on the row it was on. */
static void follow_selection(struct top *t)
{
	if (!t->have_selected || t->group != TOP_GROUP_NONE)
		return;
	size_t n = topmodel_nrows(t->model);
	for (size_t i = 0; i < n; i++) {
		const struct top_row *r = topmodel_row(t->model, i);
		if (r->s.family == t->selected.family && r->s.lport == t->selected.lport &&
		    r->s.rport == t->selected.rport && !memcmp(r->s.laddr, t->selected.laddr, 16) &&
		    !memcmp(r->s.raddr, t->selected.raddr, 16)) {
			/* Its rank, counted in one pass; draw() scrolls only if needed. */
			size_t rank = topmodel_rank(t->model, t->states, t->filter, t->sort,
						    t->reverse, i);
			if (rank != (size_t)-1)
				t->cursor = rank;
			return;
		}
	}
}

static const state_mask presets[] = {
	SM_ALL,
	SM(TS_ESTABLISHED),
	SM(TS_CLOSE_WAIT),
	SM(TS_TIME_WAIT),
	SM(TS_LISTEN),
	SM_ALL & ~SM(TS_LISTEN),
};
static const char *const preset_names[] = {"all",       "established", "close-wait",
					   "time-wait", "listening",   "all but listening"};

static const struct top_row *selected_row(struct top *t)
{
	if (!t->have_selected)
		return NULL;
	size_t n = topmodel_nrows(t->model);
	for (size_t i = 0; i < n; i++) {
		const struct top_row *r = topmodel_row(t->model, i);
		if (r->s.family == t->selected.family && r->s.lport == t->selected.lport &&
		    r->s.rport == t->selected.rport && !memcmp(r->s.laddr, t->selected.laddr, 16) &&
		    !memcmp(r->s.raddr, t->selected.raddr, 16))
			return r;
	}
	return NULL;
}

/* The row under the cursor now (keys may have moved it since the last draw). */
static void select_at_cursor(struct top *t)
{
	uint32_t idx;
	size_t matching;

	if (t->group != TOP_GROUP_NONE)
		return;
	if (topmodel_view(t->model, t->states, t->filter, t->sort, t->reverse, t->cursor, 1, &idx,
			  &matching) == 1) {
		t->selected = topmodel_row(t->model, idx)->s;
		t->have_selected = 1;
	}
}

/* The cursor on row i, or on the last row the screen has. */
static void move_to(struct top *t, size_t i)
{
	t->cursor = i < t->nshown ? i : t->nshown ? t->nshown - 1 : 0;
}

/*
 * What a key asks of the loop, as htop's keys do: a key changes only what
 * is shown (cursor, sort, filter, grouping, mode); the loop does the rest.
 */
enum {
	ACT_QUIT = 1,        /* leave */
	ACT_RECALCULATE = 2, /* refresh the data now, not at the next tick */
	ACT_KILL = 4,        /* close the selected socket (SOCK_DESTROY) */
	ACT_FILTER = 8,      /* open the filter prompt */
};

/* After a change of sort column: say so; a dump without tcp_info cannot be sorted by it. */
static int sorted(struct top *t)
{
	status(t, "sorted by %s", topmodel_sort_name(t->sort));
	return topmodel_sort_needs_info(t->sort) ? ACT_RECALCULATE : 0;
}

/* A key's effect on what is shown, and what it asks of the loop (ACT_*). */
static int handle_key(struct top *t, int ch, int page)
{
	static const int key_states[10] = {TS_CLOSING,  TS_ESTABLISHED, TS_SYN_SENT, TS_SYN_RECV,
					   TS_FIN_WAIT1, TS_FIN_WAIT2,  TS_TIME_WAIT, TS_CLOSE_WAIT,
					   TS_LAST_ACK, TS_LISTEN};

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
			return ACT_KILL;
		status(t, "not closed");
		return 0;
	}
	if (t->mode == MODE_DETAIL) {
		if (ch == 'q' || ch == 27 || ch == KEY_LEFT || ch == '\n' || ch == KEY_ENTER)
			t->mode = MODE_TABLE;
		else if (ch == 'k')
			t->mode = MODE_CONFIRM_KILL, status(t, "close this socket? (y/N)");
		return 0;
	}
	switch (ch) {
	case 'q':
	case KEY_F(10):
		return ACT_QUIT;
	case KEY_UP:
		if (t->cursor)
			t->cursor--;
		break;
	case KEY_DOWN:
		move_to(t, t->cursor + 1);
		break;
	case KEY_PPAGE:
		t->cursor = t->cursor > (size_t)page ? t->cursor - (size_t)page : 0;
		break;
	case KEY_NPAGE:
		move_to(t, t->cursor + (size_t)page);
		break;
	case KEY_HOME:
		t->cursor = 0;
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
		return ACT_FILTER;
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
		t->cursor = t->offset = 0;
		status(t, t->group ? "grouped by %s" : "%sno grouping", topview_group_name(t->group));
		break;
	case 's':
		t->preset = (t->preset + 1) % (int)(sizeof(presets) / sizeof(presets[0]));
		t->states = presets[t->preset];
		status(t, "states: %s", preset_names[t->preset]);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		select_at_cursor(t);
		if (t->group == TOP_GROUP_NONE && t->have_selected)
			t->mode = MODE_DETAIL;
		break;
	case 'k':
		select_at_cursor(t);
		if (t->have_selected && selected_row(t) && selected_row(t)->wire_only) {
			status(t, "no kernel socket to close: this connection is seen on the wire only");
			break;
		}
		if (t->have_selected && t->group == TOP_GROUP_NONE) {
			t->mode = MODE_CONFIRM_KILL;
			status(t, "close the selected socket? (y/N)");
		}
		break;
	default:
		if (ch >= '0' && ch <= '9') {
			int s = key_states[ch - '0'];
			t->states ^= SM(s);
			if (s == TS_CLOSING)
				t->states = (t->states & ~SM(TS_CLOSE)) | (t->states & SM(TS_CLOSING) ? SM(TS_CLOSE) : 0);
			if (s == TS_SYN_RECV)
				t->states = (t->states & ~SM(TS_NEW_SYN_RECV)) |
					    (t->states & SM(TS_SYN_RECV) ? SM(TS_NEW_SYN_RECV) : 0);
			status(t, "%s %s", state_name(s), t->states & SM(s) ? "shown" : "hidden");
		}
		break;
	}
	return 0;
}

/* The loop's part of 'k', once confirmed: the one key that acts on the system. */
static void kill_selected(struct top *t)
{
	const struct top_row *r = selected_row(t);
	char err[200];

	if (!r)
		status(t, "the socket is gone");
	else if (sockdiag_destroy(&r->s, err, sizeof(err)) == 0)
		status(t, "closed");
	else
		status(t, "%s", err);
}

static void init_colors(struct top *t)
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

static int screen_loop(struct top *t, char *err, size_t errlen)
{
	uint32_t *idx = malloc(1024 * sizeof(*idx));
	uint64_t next = 0;
	long frames = 0;
	int rc = 0;
	SCREEN *scr;
	/*
	 * Readline must not touch the terminal or signals: curses owns them.
	 * What it would print itself (a list of completions, a clear screen,
	 * a bell) goes nowhere; the prompt and completions are drawn by us.
	 */
	FILE *rl_null = fopen("/dev/null", "w");

	if (!idx || !rl_null) {
		snprintf(err, errlen, "%s", idx ? "/dev/null: cannot open" : "out of memory");
		free(idx);
		if (rl_null)
			fclose(rl_null);
		return -1;
	}
	setlocale(LC_ALL, "");
	rl_outstream = rl_null;
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

	/* The tty's modes before newterm(), which may change them. */
	struct termios before;
	int have_before = tcgetattr(STDOUT_FILENO, &before) == 0;
	/* newterm(), not initscr(), which exits by itself; TERM was checked (termcheck). */
	if (!(scr = newterm(NULL, stdout, stdin))) {
		snprintf(err, errlen, "cannot set up the terminal");
		free(idx);
		fclose(rl_null);
		return -1;
	}
	if (have_before)
		catch_fatal(&before);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	init_colors(t);

	while (!stop_flag) {
		uint64_t now = wall_us();
		if ((now >= next || t->refresh_now) && !t->paused && t->mode != MODE_FILTER) {
			if (refresh_data(t, err, errlen) < 0) {
				rc = -1;
				break;
			}
			follow_selection(t);
			next = now + t->delay_us;
			frames++;
		}
		if (t->mode == MODE_DETAIL) {
			const struct top_row *r = selected_row(t);
			if (r) {
				uint32_t at = (uint32_t)(r - topmodel_row(t->model, 0));
				fill_info(t, &at, 1);
				draw_detail(t, r);
			}
			else
				t->mode = MODE_TABLE;
		}
		if (t->mode == MODE_HELP)
			draw_help();
		else if (t->mode == MODE_TABLE || t->mode == MODE_CONFIRM_KILL) {
			struct frame f;
			frame_prepare(t, &f, idx, 1024);
			draw(t, &f);
			free(f.g);
		}
		if (t->frames && frames >= t->frames)
			break;
		/* Wait for a key, packets, or the next refresh. */
		uint64_t wait = next > now ? next - now : 0;
		int ms = (int)(wait / 1000);
		if (ms > 200)
			ms = 200;
		if (t->wire) {
			pump_wire(t, 0, err, errlen);
		}
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		poll(&pfd, 1, ms);
		int ch, quit = 0;
		while ((ch = getch()) != ERR) {
			if (ch == KEY_RESIZE)
				continue;
			int act = handle_key(t, ch, LINES > 15 ? LINES - 14 : 1);
			if (act & ACT_KILL)
				kill_selected(t);
			if (act & ACT_FILTER)
				start_filter_prompt(t);
			if (act & ACT_RECALCULATE)
				t->refresh_now = 1;
			if (act & ACT_QUIT) {
				quit = 1;
				break;
			}
		}
		if (quit)
			break;
	}
	if (t->mode == MODE_FILTER)
		rl_callback_handler_remove();
	endwin();
	if (have_before)
		release_fatal();
	delscreen(scr);
	free(idx);
	rl_outstream = NULL;
	fclose(rl_null);
	return rc;
}

static int batch_loop(struct top *t, char *err, size_t errlen)
{
	long frames = 0;

	while (!stop_flag) {
		uint64_t start = wall_us();
		if (t->wire)
			pump_wire(t, 0, err, errlen);
		if (refresh_data(t, err, errlen) < 0)
			return -1;
		if (batch_frame(t, stdout) < 0) {
			/*
			 * The reader is gone (| head): what it wanted, it has.
			 * top ends as list and ss end, by the SIGPIPE held
			 * since main() (cmd_output_failed), once it has cleaned up.
			 */
			if (errno == EPIPE) {
				t->pipe_closed = 1;
				return 0;
			}
			snprintf(err, errlen, "write error: %s", strerror(errno));
			return -1;
		}
		if (t->frames && ++frames >= t->frames)
			break;
		/* Sleep until the next frame, feeding the engine meanwhile. */
		while (!stop_flag) {
			uint64_t now = wall_us();
			if (now >= start + t->delay_us)
				break;
			uint64_t left = start + t->delay_us - now;
			int ms = (int)(left / 1000 > 100 ? 100 : left / 1000);
			if (t->wire && wire_is_live(t->wire))
				pump_wire(t, ms, err, errlen);
			else {
				if (t->wire)
					pump_wire(t, 0, err, errlen);
				poll(NULL, 0, ms ? ms : 1);
			}
		}
	}
	return 0;
}

/* Whether a live capture may be opened: CAP_NET_RAW in the effective set. */
static int may_capture(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return 1; /* not known: a capture that fails is then an error */
	return d[CAP_NET_RAW / 32].effective >> (CAP_NET_RAW % 32) & 1;
}

static int run_top(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct top t;
	char **args, err[512];
	int nargs, rc;

	memset(&t, 0, sizeof(t));
	t.delay_us = 1000000;
	t.speed = 1;
	t.states = SM_ALL;
	t.sort = SORT_AGE;
	wire_opts_init(&t.w);
	rc = cmd_parse(cmd, argc, argv, on_opt, &t, &nargs, &args);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = cmd_wire_check(cmd, &t.w, 0)) != 0)
		return rc;
	if (t.speed != 1 && !t.w.file)
		return cmd_usage_error(cmd, "--speed applies to -r FILE");
	if (t.rows_max && !t.batch)
		return cmd_usage_error(cmd, "--rows applies to batch mode (-b)");
	if (nargs) {
		t.filter = filter_parse(nargs, args, err, sizeof(err));
		if (!t.filter)
			return cmd_usage_error(cmd, "%s", err);
		size_t o = 0;
		for (int i = 0; i < nargs && o < sizeof(t.filter_text) - 1; i++)
			o += (size_t)snprintf(t.filter_text + o, sizeof(t.filter_text) - o, "%s%s",
					      i ? " " : "", args[i]);
	}
	if (!t.batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		filter_free(t.filter);
		return cmd_usage_error(cmd, "the screen needs a terminal; use -b for batch output");
	}
	if (!t.batch && termcheck(err, sizeof(err)) < 0) {
		filter_free(t.filter);
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	if (t.netns) {
		int r = netns_enter(t.netns, err, sizeof(err));
		if (r < 0) {
			filter_free(t.filter);
			if (r == -2)
				return cmd_usage_error(cmd, "%s", err);
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
	}
	t.model = topmodel_new();
	if (!t.model) {
		filter_free(t.filter);
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	snprintf(t.wire_note, sizeof(t.wire_note), "off (use -i IFACE or -r FILE for both ends)");
	if (t.w.iface || t.w.file) {
		/* As nobody, top still reads other users' /proc/PID/fd and may close sockets. */
		static const int keep[] = {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN};
		t.w.keep_caps = keep;
		t.w.nkeep_caps = 3;
		struct engine_hooks hooks = {on_event, NULL, &t};
		int usage, privileged = t.w.file || may_capture();
		t.wire = wire_open(&t.w, &hooks, err, sizeof(err), &usage);
		if (!t.wire && (usage || privileged)) {
			/*
			 * A filter, an interface or a file that is not there: the
			 * user asked for something else.  Only a missing privilege
			 * falls back to the kernel view.
			 */
			topmodel_free(t.model);
			filter_free(t.filter);
			if (usage)
				return cmd_usage_error(cmd, "%s", err);
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
		if (!t.wire) {
			/* Without capture privilege, the kernel view alone still helps. */
			snprintf(t.wire_note, sizeof(t.wire_note), "off: %.150s", err);
			if (t.batch)
				fprintf(stderr, "tcpstate top: capture unavailable, kernel view only: %s\n",
					err);
		} else {
			snprintf(t.wire_note, sizeof(t.wire_note), "%s %s",
				 t.w.iface ? "capturing on" : "replaying", t.w.iface ? t.w.iface : t.w.file);
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	rc = t.batch ? batch_loop(&t, err, sizeof(err)) : screen_loop(&t, err, sizeof(err));
	/* Only now, with the terminal restored, may we speak. */
	if (rc < 0)
		cmd_error(cmd, "%s", err);
	if (t.wire && wire_is_live(t.wire) && t.batch) {
		wire_report(t.wire, err, sizeof(err));
		fprintf(stderr, "%s\n", err);
	}
	wire_close(t.wire);
	topmodel_free(t.model);
	filter_free(t.filter);
	if (t.pipe_closed)
		return cmd_output_failed(cmd, EPIPE);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}
