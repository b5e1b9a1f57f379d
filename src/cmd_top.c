/*
 * cmd_top.c - `tcpstate top`: the monitor.  Refreshes the kernel's socket
 * table every -d seconds, joins it with the wire engine when capturing
 * (-i) or replaying (-r), and shows it with htop's habits; or, with -b,
 * prints frames to stdout as top -b does.
 *
 * This file holds the options, the command's entry, the data (the dump,
 * the wire) and the two loops.  The model is topmodel.c (and topgroup.c),
 * the text topview.c, the screen topscreen.c: keys change what is shown
 * (filter, states, sort, grouping) and never the data, and return actions
 * that the screen loop carries out (closing a socket among them).  Fatal
 * messages are printed after the screen is given back.
 */
#include <linux/capability.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "cmd_top_ns.h"
#include "cmd_wire.h"
#include "filter.h"
#include "filterbc.h"
#include "netns.h"
#include "out.h"
#include "sockdiag.h"
#include "state.h"
#include "termcheck.h"
#include "topjson.h"
#include "topmodel.h"
#include "topscreen.h"
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
	O_GROUP,
	O_JSON,
	O_NO_WIRE,
	O_NO_KFILTER,
	O_ALLNS,
	O_NS,
	O_ROOTFS,
};

static const struct opt_def top_opts[] = {
	{O_DELAY, 'd', "delay", "SECONDS", "refresh every SECONDS (default 1, fractions allowed)",
	 COMPLETE_NONE},
	{O_BATCH, 'b', "batch", NULL, "print frames to stdout instead of a screen, as top -b",
	 COMPLETE_NONE},
	{O_FRAMES, 'n', "frames", "COUNT", "stop after COUNT frames", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "watch the named network namespace", COMPLETE_NETNS},
	CMD_OPTS_ALL_NS(O_ALLNS, O_NS, O_ROOTFS),
	WIRE_OPT_IFACE,
	WIRE_OPT_FILE,
	{O_SPEED, 0, "speed", "N", "with -r: replay N times faster than captured", COMPLETE_NONE},
	{O_SORT, 0, "sort", "COLUMN",
	 "by age (default), state, local, peer, process, recv-q, send-q, rtt, retrans",
	 COMPLETE_OWN},
	{O_ROWS, 0, "rows", "N",
	 "with -b: print the first N rows (or groups) of each frame (default all)", COMPLETE_NONE},
	{O_GROUP, 0, "group", "BY",
	 "group rows by process, host, state or (with -A) netns, as the g key does", COMPLETE_OWN},
	{O_JSON, 'j', "json", NULL, "with -b: print each frame as one line of JSON", COMPLETE_NONE},
	{O_NO_WIRE, 0, "no-wire", NULL,
	 "capture nothing (by default top captures on any when it may)", COMPLETE_NONE},
	{O_NO_KFILTER, 0, "no-kernel-filter", NULL,
	 "filter in user space only: send the kernel no bytecode", COMPLETE_NONE},
	WIRE_OPTS_COMMON,
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_top(const struct cmd_entry *cmd, int argc, char **argv);

/* --group's words (no grouping is the default). */
static const char *const group_words[TOP_GROUP_MAX] = {[TOP_GROUP_PROCESS] = "process",
						       [TOP_GROUP_HOST] = "host",
						       [TOP_GROUP_STATE] = "state",
						       [TOP_GROUP_NETNS] = "netns"};

/* --sort's columns, as the model names them; --group's words. */
static void complete_words(const struct cmd_completion *c)
{
	if (c->opt == O_GROUP) {
		for (int g = 1; g < TOP_GROUP_MAX; g++)
			cmd_offer(c, group_words[g]);
		return;
	}
	for (int s = 0; s < SORT_MAX; s++)
		cmd_offer(c, topmodel_sort_name((enum top_sort)s));
}

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.args = "[FILTER...]",
	.summary = "Monitor TCP sockets live, joined with the wire's view of both ends",
	.help_tail =
		"Keys: arrows PgUp PgDn Home End move; < > or F6 choose the sort column, I\n"
		"reverses it; / filters (as tcpstate list); 1-9 and 0 show or hide a state, s\n"
		"cycles state presets; g groups by process, remote host, state or, with -A,\n"
		"namespace (as --group);\n"
		"Enter shows one connection; k closes it (SOCK_DESTROY); Space or Z pauses;\n"
		"h ? F1 help; q F10 quit.\n"
		"Grouped by process, sockets a process closed count as ~name[pid], and those\n"
		"no process holds by what holds them: (no process: kernel TIME-WAIT),\n"
		"(no process: orphaned) (closed, still closing), (no process: not accepted),\n"
		"or (owner out of sight) (another user's, without the privilege to see it,\n"
		"or not looked up yet).\n"
		"When it may capture (as root, or with CAP_NET_RAW), top captures on every\n"
		"interface (-i any) unless -i IFACE, -r FILE or --no-wire says otherwise, and\n"
		"the wire engine runs alongside: each row then shows the state the capture\n"
		"implies for the local end and for the peer, and rows where the kernel and the\n"
		"wire disagree are marked with !.  A connection the capture picked up\n"
		"mid-stream has guessed states, marked with ? and never with !.\n"
		"With -A every network namespace is dumped at each refresh (found again each\n"
		"time), its label in a first column, Netns; the header counts all of them. The\n"
		"capture stays on the host namespace's interfaces (and sees containers'\n"
		"traffic on their veth peers). See doc/namespaces.md.\n"
		"The screen needs a terminal TERM names, with cursor addressing; elsewhere\n"
		"top says so and exits 1: use -b.\n",
	.opts = top_opts,
	.min_args = 0,
	.max_args = -1,
	.args_complete = COMPLETE_FILTER,
	.words = complete_words,
	.run = run_top,
};

/* ---- state ------------------------------------------------------------- */

struct top {
	/* options */
	uint64_t delay_us;
	int batch;
	int json;	  /* batch frames as JSON lines */
	int no_wire;	  /* --no-wire */
	int no_kfilter;	  /* --no-kernel-filter */
	int wire_default; /* no source named: capturing on any, as top does when it may */
	long frames;	  /* 0: until stopped */
	long rows_max;	  /* batch: rows per frame, 0 for all */
	const char *netns;
	struct top_allns ns; /* -A */
	double speed;
	struct wire_opts w;
	/* data */
	struct topmodel *model;
	struct wire *wire;
	char wire_note[160];   /* why there is no wire view, or its source */
	char wire_off[160];    /* why no capture was opened, for JSON (empty: one was) */
	uint64_t refreshed_us; /* the last refresh's time */
	struct out *json_out;  /* -b --json: standard output */
	int oom;	       /* the model could not take a socket */
	int pipe_closed;       /* batch output's reader went away */
	int refresh_now;       /* the next loop turn refreshes, whatever the delay */
	uint64_t replay_t0_wall, replay_t0_pkt;
	/* A live capture's counts at the start of the last rate interval, and its rates. */
	struct {
		uint64_t at_us, packets, drops, cpu_ns;
		int known;
		double pkt, drop, cpu_pct;
	} rate;
	/* what is shown (states, filter, sort, grouping), and the screen */
	struct topscreen v;
	/* What of v's filter the kernel runs, and the filter it was compiled from. */
	struct filterbc bc;
	const struct filter *bc_filter;
	char bc_text[sizeof(((struct topscreen *)0)->filter_text)];
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
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
			return cmd_usage_error(&cmd_top_entry,
					       "-d: invalid delay \"%s\" (0.05 to 3600 s)", arg);
		t->delay_us = (uint64_t)(v * 1e6);
		return 0;
	case O_BATCH:
		t->batch = 1;
		return 0;
	case O_JSON:
		t->json = 1;
		return 0;
	case O_NO_WIRE:
		t->no_wire = 1;
		return 0;
	case O_NO_KFILTER:
		t->no_kfilter = 1;
		return 0;
	case O_FRAMES:
		if (parse_long(arg, 1, 1000000000, &n) < 0)
			return cmd_usage_error(&cmd_top_entry, "-n: invalid count \"%s\"", arg);
		t->frames = n;
		return 0;
	case O_NETNS:
		t->netns = arg;
		return 0;
	case O_ALLNS:
		t->ns.on = 1;
		return 0;
	case O_NS:
		return cmd_ns_pattern(&cmd_top_entry, &t->ns.pats, &t->ns.npats, arg);
	case O_ROOTFS:
		t->ns.rootfs = arg;
		return 0;
	case O_ROWS:
		if (parse_long(arg, 1, 1000000000, &n) < 0)
			return cmd_usage_error(&cmd_top_entry, "--rows: invalid count \"%s\"", arg);
		t->rows_max = n;
		return 0;
	case O_SORT:
		t->v.sort = topmodel_sort_by_name(arg);
		if (t->v.sort == SORT_MAX)
			return cmd_usage_error(&cmd_top_entry,
					       "--sort: unknown column \"%s\" (state, local, peer, "
					       "process, age, recv-q, send-q, rtt, retrans)",
					       arg);
		return 0;
	case O_GROUP:
		for (int g = 1; g < TOP_GROUP_MAX; g++)
			if (strcmp(arg, group_words[g]) == 0) {
				t->v.group = (enum top_group_by)g;
				return 0;
			}
		return cmd_usage_error(
			&cmd_top_entry,
			"--group: unknown grouping \"%s\" (process, host, state, netns)", arg);
	case O_SPEED:
		errno = 0;
		v = strtod(arg, &end);
		if (errno || *end || !(v > 0 && v <= 1e6))
			return cmd_usage_error(&cmd_top_entry, "--speed: invalid factor \"%s\"",
					       arg);
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

/* The capture failed: top goes on with the kernel's view, and says why. */
static void wire_lost(struct top *t, const char *why)
{
	snprintf(t->wire_note, sizeof(t->wire_note), "capture stopped: %s", why);
	wire_close(t->wire);
	t->wire = NULL;
	t->v.wire = 0;
}

/*
 * Read what the wire has for us: a live capture's packets, waiting up to
 * timeout_ms for them; a file's, as far as its pace has come by now.
 */
static void pump_wire(struct top *t, int timeout_ms, char *err, size_t errlen)
{
	if (!t->wire)
		return;
	if (wire_is_live(t->wire)) {
		if (wire_poll(t->wire, timeout_ms, -1, err, errlen) < 0)
			wire_lost(t, err);
		return;
	}
	/* A file replays at its own pace, times --speed. */
	uint64_t now = cmd_wall_us();
	if (!t->replay_t0_wall) {
		t->replay_t0_wall = now;
		if (wire_replay_until(t->wire, 1, err, errlen) >= 0) /* learn the first time */
			t->replay_t0_pkt = wire_next_us(t->wire);
	}
	uint64_t until =
		t->replay_t0_pkt + (uint64_t)((double)(now - t->replay_t0_wall) * t->speed);
	if (t->replay_t0_pkt && wire_replay_until(t->wire, until, err, errlen) < 0)
		snprintf(t->wire_note, sizeof(t->wire_note), "replay stopped: %s", err);
}

/*
 * Compile the filter for the kernel when it has changed (the / prompt).
 * The kernel then sends only sockets that may match, so sockets that a new
 * filter lets in were not missing before: the model takes the next refresh
 * as a first one, and neither counts them as new connections nor gives
 * them ages it cannot know.  0, or -1 out of memory.
 */
static int kernel_filter(struct top *t)
{
	if (t->no_kfilter ||
	    (t->v.filter == t->bc_filter && strcmp(t->v.filter_text, t->bc_text) == 0))
		return 0;
	filterbc_free(&t->bc);
	t->bc_filter = NULL;
	if (t->v.filter && filterbc_compile(t->v.filter, SM_ALL, FILTERBC_MAX, &t->bc) < 0)
		return -1;
	t->bc_filter = t->v.filter;
	snprintf(t->bc_text, sizeof(t->bc_text), "%s", t->v.filter_text);
	topmodel_rebase(t->model);
	return 0;
}

static int refresh_data(struct top *t, char *err, size_t errlen)
{
	struct sockdiag_req req;
	struct sockdiag_stats st;

	memset(&req, 0, sizeof(req));
	req.states = SM_ALL;
	if (kernel_filter(t) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	req.bytecode = t->bc.code;
	req.bytecode_len = t->bc.len;
	/*
	 * tcp_info costs the kernel a socket lock and ~230 bytes per socket,
	 * a fifth more than the bare dump.  Only the rows on screen show it,
	 * so it is asked for them alone (topmodel_prepare), unless every row
	 * needs it: a sort by rtt or retransmits, or batch output of every row.
	 */
	size_t last = topmodel_nrows(t->model); /* 0 before the first refresh */
	/*
	 * With -A too: a row's tcp_info is asked for in the host namespace,
	 * where another namespace's socket is not found.
	 */
	req.want_info = t->ns.on || topmodel_sort_needs_info(t->v.sort) ||
			(t->batch && t->v.group == TOP_GROUP_NONE &&
			 (!t->rows_max || (last && (size_t)t->rows_max >= last)));
	t->refresh_now = 0;
	/* The refresh's time is taken before the dump, so ages never run ahead. */
	uint64_t now = cmd_wall_us();
	t->refreshed_us = now;
	t->oom = 0;
	topmodel_begin(t->model, now);
	if (t->ns.on ? top_ns_dump(&t->ns, t->model, &req, take_sock, t, err, errlen) < 0
		     : sockdiag_dump(&req, take_sock, t, &st, err, errlen) < 0) {
		topmodel_abort(t->model);
		return -1;
	}
	if (t->oom) {
		topmodel_abort(t->model);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/*
	 * New sockets' owners are looked up at most once per refresh interval,
	 * and no more than twice a second: a /proc scan of 100k sockets costs
	 * more than their dump.
	 */
	uint64_t rescan = t->delay_us > 500000 ? t->delay_us : 500000;
	topmodel_end(t->model, rescan, "/proc");
	/*
	 * A loss the reader has not read yet would leave rows sure that the
	 * lost packets changed: the counts are read now, and what came before
	 * them fed, before the join reads the engine.
	 */
	if (t->wire && wire_is_live(t->wire) && wire_sync(t->wire, 200, err, errlen) < 0)
		wire_lost(t, err);
	if (t->wire)
		topmodel_join(t->model, wire_engine(t->wire), now);
	return 0;
}

/* The capture thread's CPU time in nanoseconds (0: unknown). */
static uint64_t capture_cpu_ns(const struct wire_live_stats *ls)
{
	struct timespec ts;

	if (!ls->have_cpu_clock || clock_gettime(ls->cpu_clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A live capture's rates, over the refresh interval that last ended: the
 * header shows the same figures until the next has passed (half of one:
 * frames come a refresh's work late or early).
 */
static void capture_rates(struct top *t, struct topview_header *h)
{
	struct wire_live_stats ls;

	if (wire_live_stats(t->wire, &ls) < 0)
		return;
	h->live = 1;
	h->own_drop = ls.tcpstate_dropped;
	uint64_t drops = ls.kernel_dropped + ls.tcpstate_dropped, cpu = capture_cpu_ns(&ls);
	if (!t->rate.at_us || h->now_us >= t->rate.at_us + t->delay_us / 2) {
		if (t->rate.at_us && h->now_us > t->rate.at_us) {
			double dt = (double)(h->now_us - t->rate.at_us) / 1e6;
			t->rate.pkt = (double)(ls.packets - t->rate.packets) / dt;
			t->rate.drop = (double)(drops - t->rate.drops) / dt;
			t->rate.cpu_pct = cpu && t->rate.cpu_ns && cpu >= t->rate.cpu_ns
						  ? (double)(cpu - t->rate.cpu_ns) / 1e7 / dt
						  : -1;
			t->rate.known = 1;
		}
		t->rate.at_us = h->now_us;
		t->rate.packets = ls.packets;
		t->rate.drops = drops;
		t->rate.cpu_ns = cpu;
	}
	h->rates = t->rate.known;
	h->pkt_rate = t->rate.pkt;
	h->drop_rate = t->rate.drop;
	h->cpu_pct = t->rate.cpu_pct;
}

/* What the header says besides the model's counts: options, and the capture's counts. */
static void header_info(struct top *t, struct topview_header *h)
{
	struct capture_stats cs;

	memset(h, 0, sizeof(*h));
	h->now_us = cmd_wall_us();
	h->delay_us = t->delay_us;
	h->paused = t->v.paused;
	h->filter_text = t->v.filter ? t->v.filter_text : NULL;
	h->wire_note = t->wire_note;
	if (t->wire) {
		h->wire = 1;
		h->wire_packets = wire_decode_stats(t->wire)->packets;
		h->wire_conns = engine_stats(wire_engine(t->wire))->live;
		if (wire_capture_stats(t->wire, &cs) == 0) {
			h->kernel_counts = 1;
			h->kernel_recv = cs.received;
			h->kernel_drop = cs.dropped;
		}
		capture_rates(t, h);
	}
}

/* sockdiag_info for the model's prepare step; failure only leaves the cells empty. */
static void fetch_info(struct sock_rec **need, size_t n, void *arg)
{
	char err[256];

	(void)arg;
	(void)sockdiag_info(need, n, err, sizeof(err));
}

/* ---- batch mode -------------------------------------------------------- */

/* A line of batch output: its text from outside was escaped as it came in (TEXT_SHOWN). */
static void put_line(FILE *out, const char *s)
{
	fputs(s, out);
	putc('\n', out);
}

/*
 * The rows a batch frame shows, in the view's order, with their tcp_info:
 * malloc'ed (free it), NULL when out of memory.
 */
static uint32_t *batch_rows(struct top *t, size_t *n, size_t *matching)
{
	size_t total = topmodel_nrows(t->model);
	uint32_t *idx = malloc((total ? total : 1) * sizeof(*idx));

	if (!idx)
		return NULL;
	size_t want = t->rows_max && (size_t)t->rows_max < total ? (size_t)t->rows_max : total;
	*n = topmodel_view(t->model, t->v.states, t->v.filter, t->v.sort, t->v.reverse, 0, want,
			   idx, matching);
	topmodel_prepare(t->model, idx, *n, fetch_info, NULL);
	return idx;
}

static int batch_frame(struct top *t, FILE *out)
{
	char lines[12][TOPVIEW_HDR_LINE], buf[512];
	struct topview_header h;
	header_info(t, &h);
	int nl = topview_header(topmodel_stats(t->model), &h, lines, 12, 120, 0);

	for (int i = 0; i < nl; i++)
		put_line(out, lines[i]);
	fputc('\n', out);
	if (t->v.group != TOP_GROUP_NONE) {
		struct top_group *g = NULL;
		size_t ng = topmodel_groups(t->model, t->v.states, t->v.filter, t->v.group, &g);
		size_t keyw = topview_group_key_width(g, ng);
		size_t shown = t->rows_max && (size_t)t->rows_max < ng ? (size_t)t->rows_max : ng;
		topview_group_title(buf, sizeof(buf), t->v.group, ng, shown);
		fprintf(out, "%s\n", buf);
		for (size_t i = 0; i < shown; i++) {
			topview_group(&g[i], keyw, buf, sizeof(buf));
			put_line(out, buf);
		}
		free(g);
	} else {
		size_t n, matching;
		uint32_t *idx = batch_rows(t, &n, &matching);
		if (!idx)
			return -1;
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

/*
 * A frame as one line of JSON (topjson.c), its time the refresh's; -1 with
 * errno when it could not be written.
 */
static int batch_json(struct top *t)
{
	struct topview_header h;
	struct topjson_wire w;
	size_t n, matching;
	uint32_t *idx = batch_rows(t, &n, &matching);

	if (!idx)
		return -1;
	header_info(t, &h);
	memset(&w, 0, sizeof(w));
	if (t->wire) {
		w.source = t->w.iface ? t->w.iface : t->w.file;
		w.packets = h.wire_packets;
		w.conns = h.wire_conns;
		w.kernel_counts = h.kernel_counts;
		w.kernel_received = h.kernel_recv;
		w.kernel_dropped = h.kernel_drop;
		w.live = h.live;
		w.tcpstate_dropped = h.own_drop;
		w.rates = h.rates;
		w.packets_per_s = h.pkt_rate;
		w.dropped_per_s = h.drop_rate;
		w.capture_cpu_pct = h.cpu_pct;
	} else {
		/* Off from the start, or stopped since (the note then says why). */
		w.off_reason = t->wire_off[0] ? t->wire_off : t->wire_note;
	}
	topjson_frame(t->json_out, t->model, t->refreshed_us, &w, idx, n, matching);
	free(idx);
	if (out_flush(t->json_out) < 0) {
		errno = t->json_out->err;
		return -1;
	}
	return 0;
}

/* The loop's part of 'k', once confirmed: the one key that acts on the system. */
static void kill_selected(struct top *t)
{
	const struct top_row *r = topscreen_selected(&t->v);
	char err[200];

	if (!r)
		topscreen_status(&t->v, "the socket is gone");
	else if (top_ns_destroy(&t->ns, t->model, r, err, sizeof(err)) == 0)
		topscreen_status(&t->v, "closed");
	else
		topscreen_status(&t->v, "%s", err);
}

/* The loop's part of a key's action (TS_ACT_*); returns 1 to quit. */
static int carry_out(struct top *t, int act)
{
	if (act & TS_ACT_KILL)
		kill_selected(t);
	if (act & TS_ACT_FILTER)
		topscreen_prompt(&t->v);
	if (act & TS_ACT_RECALCULATE)
		t->refresh_now = 1;
	return act & TS_ACT_QUIT;
}

static int screen_loop(struct top *t, char *err, size_t errlen)
{
	uint64_t next = 0;
	long frames = 0;
	int rc = 0;

	if (topscreen_open(&t->v, err, errlen) < 0)
		return -1;
	while (!stop_flag) {
		uint64_t now = cmd_wall_us();
		if ((now >= next || t->refresh_now) && !t->v.paused && t->v.mode != MODE_FILTER) {
			if (refresh_data(t, err, errlen) < 0) {
				rc = -1;
				break;
			}
			topscreen_follow(&t->v);
			next = now + t->delay_us;
			frames++;
		}
		struct topview_header h;
		struct topscreen_frame f;
		header_info(t, &h);
		topscreen_prepare(&t->v, &h, fetch_info, NULL, &f);
		topscreen_draw(&t->v, &f);
		topscreen_frame_free(&f);
		if (t->frames && frames >= t->frames)
			break;
		/* Wait for a key, packets, or the next refresh. */
		uint64_t wait = next > now ? next - now : 0;
		int ms = (int)(wait / 1000);
		if (ms > 200)
			ms = 200;
		if (t->wire)
			pump_wire(t, 0, err, errlen);
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		poll(&pfd, 1, ms);
		int ch, quit = 0;
		while (!quit && (ch = topscreen_getkey()) != ERR)
			quit = carry_out(t, topscreen_key(&t->v, ch));
		if (quit)
			break;
	}
	topscreen_close(&t->v);
	return rc;
}

static int batch_loop(struct top *t, char *err, size_t errlen)
{
	long frames = 0;

	while (!stop_flag) {
		uint64_t start = cmd_wall_us();
		if (t->wire)
			pump_wire(t, 0, err, errlen);
		if (refresh_data(t, err, errlen) < 0)
			return -1;
		if ((t->json ? batch_json(t) : batch_frame(t, stdout)) < 0) {
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
			uint64_t now = cmd_wall_us();
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

/* The options' combinations: 0, or the exit status of a usage error (printed). */
static int check_opts(const struct cmd_entry *cmd, const struct top *t)
{
	int rc = cmd_wire_check(cmd, &t->w, 0);

	if (rc)
		return rc;
	if (t->speed != 1 && !t->w.file)
		return cmd_usage_error(cmd, "--speed applies to -r FILE");
	if (t->rows_max && !t->batch)
		return cmd_usage_error(cmd, "--rows applies to batch mode (-b)");
	if (t->json && !t->batch)
		return cmd_usage_error(cmd, "--json applies to batch mode (-b)");
	if (t->json && t->v.group != TOP_GROUP_NONE)
		return cmd_usage_error(cmd, "--json prints rows: it cannot be used with --group");
	if (t->v.group == TOP_GROUP_NETNS && !t->ns.on)
		return cmd_usage_error(cmd, "--group netns needs -A: without it every row is in "
					    "one namespace");
	if ((rc = top_ns_check(cmd, &t->ns, t->netns)) != 0)
		return rc;
	if (t->no_wire && (t->w.iface || t->w.file))
		return cmd_usage_error(cmd, "--no-wire and %s cannot be used together",
				       t->w.iface ? "-i" : "-r");
	return 0;
}

/* Why the default capture is off without the privilege, and how to have it. */
#define NO_CAPTURE_PRIVILEGE                                                                       \
	"capture needs root or CAP_NET_RAW: run as root, or setcap cap_net_raw+ep tcpstate"

/*
 * The wire alongside the kernel's view: the source -i or -r names, or by
 * default a live capture on every interface, when top may capture.  Entered
 * after -N, so that a capture is the namespace's.  Returns 0 (with or
 * without a wire), or the exit status of an error (printed).
 */
static int open_wire(const struct cmd_entry *cmd, struct top *t)
{
	/*
	 * As nobody, top still reads other users' /proc/PID/fd and may close
	 * sockets; with -A it still enters every namespace (setns needs
	 * CAP_SYS_ADMIN: without it top -A showed the host's sockets alone).
	 */
	static const int keep[] = {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN,
				   CAP_SYS_ADMIN};
	struct engine_hooks hooks = {on_event, NULL, t};
	char err[512];
	int usage;

	if (t->no_wire) {
		snprintf(t->wire_off, sizeof(t->wire_off), "--no-wire");
		snprintf(t->wire_note, sizeof(t->wire_note), "off (--no-wire)");
		return 0;
	}
	if (!t->w.iface && !t->w.file) {
		t->wire_default = 1;
		t->w.iface = "any";
		t->w.clock_us = cmd_wall_us; /* as -i sets it */
	}
	t->w.keep_caps = keep;
	t->w.nkeep_caps = t->ns.on ? 4 : 3;
	/* A live capture needs CAP_NET_RAW (not known: 1, and a failure is then an error). */
	int privileged = t->w.file || cmd_has_cap(CAP_NET_RAW);
	t->wire = wire_open(&t->w, &hooks, err, sizeof(err), &usage);
	t->v.wire = t->wire != NULL;
	if (t->wire) {
		/* -A: the capture is still the host namespace's (containers' veth peers). */
		snprintf(t->wire_note, sizeof(t->wire_note), "%s %s%s",
			 t->w.iface ? "capturing on" : "replaying",
			 t->w.iface ? t->w.iface : t->w.file,
			 t->ns.on && t->w.iface ? " (host namespace only)" : "");
		return 0;
	}
	/*
	 * A filter, an interface or a file that is not there: the user asked
	 * for something else.  Only a missing privilege falls back to the
	 * kernel view; and the default, which nobody asked for, always does.
	 */
	if (usage)
		return cmd_usage_error(cmd, "%s", err);
	if (privileged && !t->wire_default) {
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	snprintf(t->wire_off, sizeof(t->wire_off), "%.150s",
		 privileged	   ? err
		 : t->wire_default ? NO_CAPTURE_PRIVILEGE
				   : err);
	snprintf(t->wire_note, sizeof(t->wire_note), "off: %.150s", t->wire_off);
	if (t->batch && !t->wire_default)
		fprintf(stderr, "tcpstate top: capture unavailable, kernel view only: %s\n", err);
	return 0;
}

/* Start: the namespace, the filter, the terminal.  0, or an exit status (printed). */
static int set_up(const struct cmd_entry *cmd, struct top *t, int nargs, char **args)
{
	char err[512];

	/* The namespace first: a device name in the filter is that namespace's, as in ss. */
	if (t->netns) {
		int r = netns_enter(t->netns, err, sizeof(err));
		if (r == -2)
			return cmd_usage_error(cmd, "%s", err);
		if (r < 0) {
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
	}
	if (nargs) {
		t->v.filter = filter_parse(nargs, args, err, sizeof(err));
		if (!t->v.filter)
			return cmd_usage_error(cmd, "%s", err);
		int rc = cmd_check_mark_filter(cmd, t->v.filter);
		if (rc)
			return rc;
		if (t->ns.on && filter_names_device(t->v.filter))
			return cmd_usage_error(cmd,
					       "with -A, name a device by its index or ifN: a "
					       "name is looked up in this namespace, not where "
					       "the sockets are");
		size_t o = 0;
		for (int i = 0; i < nargs && o < sizeof(t->v.filter_text) - 1; i++)
			o += (size_t)snprintf(t->v.filter_text + o, sizeof(t->v.filter_text) - o,
					      "%s%s", i ? " " : "", args[i]);
	}
	if (!t->batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return cmd_usage_error(cmd, "the screen needs a terminal; use -b for batch output");
	if (!t->batch && termcheck(err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	t->model = topmodel_new();
	t->v.model = t->model;
	if (!t->model) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	if (t->json) {
		t->json_out = malloc(sizeof(*t->json_out));
		if (!t->json_out) {
			cmd_error(cmd, "out of memory");
			return EXIT_RUNTIME;
		}
		out_init(t->json_out, STDOUT_FILENO);
	}
	return open_wire(cmd, t);
}

static int run_top(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct top t;
	char **args, err[512];
	int nargs, rc;

	memset(&t, 0, sizeof(t));
	t.delay_us = 1000000;
	t.speed = 1;
	t.v.states = SM_ALL;
	t.v.sort = SORT_AGE;
	wire_opts_init(&t.w);
	rc = cmd_parse(cmd, argc, argv, on_opt, &t, &nargs, &args);
	if (!rc)
		rc = check_opts(cmd, &t);
	if (rc) {
		top_ns_free(&t.ns); /* --ns's patterns */
		return rc < 0 ? EXIT_OK : rc;
	}
	if ((rc = set_up(cmd, &t, nargs, args)) != 0) {
		wire_close(t.wire);
		free(t.json_out);
		topmodel_free(t.model);
		filter_free(t.v.filter);
		filterbc_free(&t.bc);
		top_ns_free(&t.ns);
		return rc;
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
	/* The counters of a capture asked for; the default's are in the frames. */
	if (t.wire && wire_is_live(t.wire) && t.batch && !t.wire_default) {
		wire_report(t.wire, err, sizeof(err));
		fprintf(stderr, "%s\n", err);
	}
	wire_close(t.wire);
	free(t.json_out);
	topmodel_free(t.model);
	filter_free(t.v.filter);
	filterbc_free(&t.bc);
	top_ns_free(&t.ns);
	if (t.pipe_closed)
		return cmd_output_failed(cmd, EPIPE);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}
