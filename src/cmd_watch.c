/*
 * cmd_watch.c - `tcpstate watch`: one line per endpoint state transition,
 * from a live capture or a file, as text or NDJSON.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "cmd_wire.h"
#include "out.h"
#include "wire.h"

enum { O_JSON = 1, O_NETNS };

static const struct opt_def watch_opts[] = {
	WIRE_OPT_IFACE,
	WIRE_OPT_FILE,
	WIRE_OPTS_COMMON,
	{O_JSON, 'j', "json", NULL, "one JSON object per line (NDJSON)", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME",
	 "capture in the named network namespace (-i names its interface)", COMPLETE_NETNS},
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_watch(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_watch_entry = {
	.name = "watch",
	.args = NULL,
	.summary = "Print TCP state transitions of both endpoints, from traffic",
	.help_tail = "Each line is one endpoint changing state: the time, the connection, the\n"
		     "endpoint and its peer, the old and new state, and the segment or timer\n"
		     "that caused it.  With -r the file is read as fast as possible; no timer\n"
		     "fires past its last packet.\n"
		     "Example: tcpstate watch -i any -f 'tcp port 443'\n",
	.opts = watch_opts,
	.min_args = 0,
	.max_args = 0,
	.args_complete = COMPLETE_NONE,
	.run = run_watch,
};

struct watch {
	struct wire_opts w;
	const char *netns;
	int json;
	struct out *out;
	struct engine *eng;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_opt(void *st, int id, const char *arg)
{
	struct watch *w = st;

	if (id == O_JSON) {
		w->json = 1;
		return 0;
	}
	if (id == O_NETNS) {
		w->netns = arg;
		return 0;
	}
	return cmd_wire_opt(&cmd_watch_entry, &w->w, id, arg);
}

static void print_time(struct out *o, uint64_t ts)
{
	time_t secs = (time_t)(ts / 1000000);
	struct tm tm;
	char buf[32];

	localtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	out_printf(o, "%s.%06u", buf, (unsigned)(ts % 1000000));
}

static void on_event(void *arg, const struct engine_event *ev)
{
	struct watch *w = arg;
	struct conn_info ci;
	char a[ADDR_STRLEN], p[ADDR_STRLEN];
	int me = ev->endpoint, peer = 1 - ev->endpoint;

	engine_conn_info(w->eng, ev->conn, &ci);
	if (w->json) {
		out_printf(w->out,
			   "{\"ts\":%llu.%06u,\"conn\":%u,\"instance\":%u,\"endpoint\":\"%s\",",
			   (unsigned long long)(ev->ts_us / 1000000),
			   (unsigned)(ev->ts_us % 1000000), ci.id, ci.instance,
			   me == 0 ? "orig" : "resp");
		addr_format(a, ci.family, ci.addr[me]);
		addr_format(p, ci.family, ci.addr[peer]);
		out_str(w->out, "\"addr\":");
		out_json_str(w->out, a);
		out_printf(w->out, ",\"port\":%u,\"peer_addr\":", ci.port[me]);
		out_json_str(w->out, p);
		out_printf(w->out, ",\"peer_port\":%u,\"from\":\"%s\",\"to\":\"%s\",\"cause\":",
			   ci.port[peer], state_name(ev->from ? ev->from : TS_CLOSE),
			   state_name(ev->to));
		out_json_str(w->out, engine_cause_name(ev->cause));
		out_str(w->out, ",\"rfc\":");
		out_json_str(w->out, engine_cause_rfc(ev->cause));
		/* The new state is not a guess (see doc/json.md). */
		out_printf(w->out, ",\"sure\":%s}\n", ci.unsure[me] ? "false" : "true");
	} else {
		addr_format_port(a, ci.family, ci.addr[me], ci.port[me], 0);
		addr_format_port(p, ci.family, ci.addr[peer], ci.port[peer], 0);
		print_time(w->out, ev->ts_us);
		out_printf(w->out, " #%u %s %s > %s %s -> %s (%s)\n", ci.id,
			   me == 0 ? "orig" : "resp", a, p,
			   state_name(ev->from ? ev->from : TS_CLOSE), state_name(ev->to),
			   engine_cause_name(ev->cause));
	}
	/* Nobody is reading any more (closed pipe, full disk): stop. */
	if (w->out->err)
		stop = 1;
}

/*
 * Live output is for people watching: the events of each hand-over from
 * the capture go out together, as they come (a write per event was a
 * fifth of watch's time at some thousands of events a second).
 */
static void on_fed(void *arg)
{
	struct watch *w = arg;

	if (out_flush(w->out) < 0)
		stop = 1;
}

static int run_watch(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct watch w;
	struct wire *wire;
	char **args, err[512];
	int nargs, rc, usage;

	memset(&w, 0, sizeof(w));
	wire_opts_init(&w.w);
	rc = cmd_parse(cmd, argc, argv, on_opt, &w, &nargs, &args);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = cmd_wire_check(cmd, &w.w, 1)) != 0)
		return rc;
	if (w.netns && !w.w.iface)
		return cmd_usage_error(cmd,
				       "-N goes with -i: a file reads the same in any namespace");
	/* Before the capture opens: a packet socket belongs to the namespace it is made in. */
	if (w.netns && (rc = cmd_enter_netns(cmd, w.netns)) != 0)
		return rc;
	w.out = malloc(sizeof(*w.out));
	if (!w.out) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	out_init(w.out, STDOUT_FILENO);
	/* SIGINT or SIGTERM ends watch even while its output is blocked (a pipe nobody reads). */
	w.out->stop = &stop;
	struct engine_hooks hooks = {on_event, NULL, &w};
	w.w.fed = on_fed;
	w.w.fed_arg = &w;
	wire = wire_open(&w.w, &hooks, err, sizeof(err), &usage);
	if (!wire) {
		free(w.out);
		if (usage)
			return cmd_usage_error(cmd, "%s", err);
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	w.eng = wire_engine(wire);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = EXIT_OK;
	if (wire_run(wire, &stop, 0, err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s", err);
		rc = EXIT_RUNTIME;
	}
	/* A write the stop signal interrupted is the end asked for, not an output error. */
	if (out_flush(w.out) < 0 && !(stop && w.out->err == EINTR))
		rc = cmd_output_failed(cmd, w.out->err);
	if (wire_is_live(wire)) {
		wire_report(wire, err, sizeof(err));
		fprintf(stderr, "%s\n", err);
	}
	wire_close(wire);
	free(w.out);
	return rc;
}
