/*
 * cmd_export.c - `tcpstate export`: the metrics of metrics.h for
 * Prometheus, served over HTTP (--listen, cmd_export_http.c) or written
 * for node_exporter's textfile collector (--textfile).
 *
 * This file holds the options, the set-up (the listening socket, -N, the
 * capture, dropping privileges: in that order) and the main thread's loops.
 * The main thread owns all data: the collector (cmd_prom.c) and the wire;
 * it pumps the capture, feeding the engine's events to the metrics, and
 * collects when a scrape asks (or every --interval for a textfile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_export_http.h"
#include "cmd_prom.h"
#include "cmd_wire.h"
#include "metrics.h"
#include "netns.h"
#include "privdrop.h"
#include "sysctl.h"
#include "wire.h"

enum {
	O_LISTEN = 1,
	O_TEXTFILE,
	O_INTERVAL,
	O_NETNS,
	O_TOPK,
	O_OWNER_INTERVAL,
	O_ALLNS,
	O_NS,
	O_ROOTFS,
};

/* Owners of new CLOSE-WAIT sockets: a /proc scan at most this often by default. */
#define EXPORT_OWNER_S 5

static const struct opt_def export_opts[] = {
	{O_LISTEN, 0, "listen", "ADDR:PORT",
	 "serve /metrics at ADDR:PORT, [ADDR]:PORT or :PORT (default " EXPORT_LISTEN_DEFAULT ")",
	 COMPLETE_NONE},
	{O_TEXTFILE, 0, "textfile", "PATH",
	 "write the metrics to PATH, for node_exporter's textfile collector", COMPLETE_FILE},
	{O_INTERVAL, 0, "interval", "SECONDS",
	 "with --textfile: rewrite it every SECONDS (default: write once and exit)", COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "read the named network namespace", COMPLETE_NETNS},
	CMD_OPTS_ALL_NS(O_ALLNS, O_NS, O_ROOTFS),
	{O_TOPK, 0, "top-k", "N",
	 "series per namespace in each bounded family (default " WIRE_STR(METRICS_TOP_K) ")",
	 COMPLETE_NONE},
	{O_OWNER_INTERVAL, 0, "owner-interval", "SECONDS",
	 "look up new CLOSE-WAIT sockets' owners every SECONDS at most (default " WIRE_STR(
		 EXPORT_OWNER_S) ")",
	 COMPLETE_NONE},
	WIRE_OPT_IFACE,
	WIRE_OPTS_COMMON,
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_export(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_export_entry = {
	.name = "export",
	.args = NULL,
	.summary = "Serve TCP socket metrics to Prometheus, or write them for node_exporter",
	.help_tail =
		"Serves http://" EXPORT_LISTEN_DEFAULT "/metrics by default: loopback only.  To\n"
		"let Prometheus on another host scrape it, --listen 0.0.0.0:9814 (and a\n"
		"firewall), or a reverse proxy.  Each scrape is a fresh collection.\n"
		"--textfile writes the same text atomically, for node_exporter's\n"
		"--collector.textfile.directory (name it *.prom).\n"
		"With -i the wire engine runs too and its counters are exported; export then\n"
		"runs as nobody (or -Z USER) once the capture and the port are open, keeping\n"
		"CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE to find sockets' owners, and with -A\n"
		"CAP_SYS_ADMIN to enter namespaces.  See doc/metrics.md.\n",
	.opts = export_opts,
	.min_args = 0,
	.max_args = 0,
	.args_complete = COMPLETE_NONE,
	.run = run_export,
};

struct exporter {
	/* options */
	const char *listen;
	struct export_addr addr;
	const char *textfile;
	uint64_t interval_us; /* 0: once */
	const char *netns;
	int all_ns;
	const char **pats; /* --ns, NULL-terminated once parsed */
	size_t npats;
	const char *rootfs;
	unsigned top_k;
	uint64_t owner_us;
	struct wire_opts w;
	/* running */
	struct prom_collector *pc;
	struct wire *wire;
	struct export_http *http;
	char said[640]; /* the last collection error printed: each is said once */
};

static volatile sig_atomic_t stop_flag;
/* The main thread's wake-up: scrapes' asks, and signals (write is async-signal-safe). */
static int wake_fd = -1;

static void on_signal(int sig)
{
	uint64_t one = 1;
	int e = errno;

	(void)sig;
	stop_flag = 1;
	if (write(wake_fd, &one, sizeof(one)) < 0) {
		/* full: it is awake anyway */
	}
	errno = e;
}

static int on_opt(void *st, int id, const char *arg)
{
	const struct cmd_entry *cmd = &cmd_export_entry;
	struct exporter *x = st;
	char err[256];
	long n;

	switch (id) {
	case O_LISTEN:
		x->listen = arg;
		if (export_addr_parse(arg, &x->addr, err, sizeof(err)) < 0)
			return cmd_usage_error(cmd, "%s", err);
		return 0;
	case O_TEXTFILE:
		if (!*arg)
			return cmd_usage_error(cmd, "--textfile: an empty path");
		x->textfile = arg;
		return 0;
	case O_INTERVAL:
		if (cmd_parse_seconds(arg, 0.1, 86400, &x->interval_us) < 0)
			return cmd_usage_error(
				cmd, "--interval: invalid interval \"%s\" (0.1 to 86400 s)", arg);
		return 0;
	case O_NETNS:
		x->netns = arg;
		return 0;
	case O_ALLNS:
		x->all_ns = 1;
		return 0;
	case O_NS:
		return cmd_ns_pattern(cmd, &x->pats, &x->npats, arg);
	case O_ROOTFS:
		x->rootfs = arg;
		return 0;
	case O_TOPK:
		if (parse_long(arg, 1, 100000, &n) < 0)
			return cmd_usage_error(cmd, "--top-k: invalid count \"%s\" (1 to 100000)",
					       arg);
		x->top_k = (unsigned)n;
		return 0;
	case O_OWNER_INTERVAL:
		if (cmd_parse_seconds(arg, 0, 3600, &x->owner_us) < 0)
			return cmd_usage_error(
				cmd, "--owner-interval: invalid interval \"%s\" (0 to 3600 s)",
				arg);
		return 0;
	}
	return cmd_wire_opt(cmd, &x->w, id, arg);
}

/* The options' combinations: 0, or the exit status of a usage error (printed). */
static int check_opts(const struct cmd_entry *cmd, struct exporter *x)
{
	struct wire_opts d;
	int rc;

	if ((rc = cmd_wire_check(cmd, &x->w, 0)) != 0 ||
	    (rc = cmd_ns_check(cmd, x->all_ns, x->rootfs, x->npats, x->netns)) != 0)
		return rc;
	wire_opts_init(&d);
	if (!x->w.iface &&
	    (x->w.filter || x->w.snaplen || memcmp(&x->w.ecfg, &d.ecfg, sizeof(d.ecfg))))
		return cmd_usage_error(cmd,
				       "the capture options apply to a live capture (-i IFACE)");
	if (x->textfile && x->listen)
		return cmd_usage_error(cmd, "--textfile and --listen cannot be used together: "
					    "export either writes a file or serves");
	if (x->interval_us && !x->textfile)
		return cmd_usage_error(cmd, "--interval applies to --textfile (a scrape collects "
					    "when it comes)");
	if (!x->textfile && !x->listen) {
		char err[200];
		x->listen = EXPORT_LISTEN_DEFAULT;
		if (export_addr_parse(x->listen, &x->addr, err, sizeof(err)) < 0)
			return cmd_usage_error(cmd, "%s", err); /* not reached: it parses */
	}
	/* prom_source's patterns end with NULL. */
	if (x->npats) {
		const char **v = realloc(x->pats, (x->npats + 1) * sizeof(*v));
		if (!v) {
			cmd_error(cmd, "out of memory");
			return EXIT_RUNTIME;
		}
		v[x->npats] = NULL;
		x->pats = v;
	}
	return 0;
}

/* ---- data -------------------------------------------------------------- */

/* The engine's events, on the main thread (wire_poll feeds it here). */
static void on_event(void *arg, const struct engine_event *ev)
{
	struct exporter *x = arg;
	metrics_wire_event(prom_metrics(x->pc), ev);
}

/* A message about the data, said once until another comes (a daemon's log stays readable). */
static void say(struct exporter *x, const char *what)
{
	if (strcmp(x->said, what) == 0)
		return;
	snprintf(x->said, sizeof(x->said), "%s", what);
	cmd_error(&cmd_export_entry, "%s", what);
}

/* The capture failed: the kernel's view goes on, the wire's counters stop where they were. */
static void wire_lost(struct exporter *x, const char *why)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "capture stopped: %s", why);
	say(x, msg);
	wire_close(x->wire);
	x->wire = NULL;
}

/* Feed the engine what the capture queued, waiting up to timeout_ms. */
static void pump_wire(struct exporter *x, int timeout_ms)
{
	char err[512];

	if (x->wire && wire_poll(x->wire, timeout_ms, -1, err, sizeof(err)) < 0)
		wire_lost(x, err);
}

/*
 * Wait up to timeout_ms (-1: until woken) for a scrape's ask or a signal,
 * feeding the engine meanwhile.
 */
static void idle(struct exporter *x, int timeout_ms)
{
	uint64_t n;

	if (x->wire) {
		/* The capture's queue cannot wake us with the eventfd: short turns. */
		pump_wire(x, timeout_ms < 0 || timeout_ms > 50 ? 50 : timeout_ms);
	} else {
		struct pollfd p = {wake_fd, POLLIN, 0};
		(void)poll(&p, 1, timeout_ms);
	}
	if (read(wake_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing was written */
	}
}

/* One collection: the wire's counters, then the kernel's sockets.  *secs: its duration. */
static void collect(struct exporter *x, double *secs)
{
	struct metrics *m = prom_metrics(x->pc);
	char err[512];

	if (x->wire) {
		struct wire_live_stats ls;
		/* What the capture lost up to now is read, and what came before it fed. */
		if (wire_sync(x->wire, 200, err, sizeof(err)) < 0)
			wire_lost(x, err);
		else if (wire_live_stats(x->wire, &ls) == 0) {
			struct metrics_wire mw = {ls.packets, ls.kernel_dropped,
						  ls.tcpstate_dropped,
						  engine_stats(wire_engine(x->wire))->live};
			metrics_wire_stats(m, &mw);
		}
	}
	*secs = 0;
	if (prom_collect(x->pc, cmd_wall_us(), secs, err, sizeof(err)) < 0)
		say(x, err); /* counted in tcpstate_collect_errors_total; what was read is served */
	else
		x->said[0] = '\0';
}

/* ---- serving ----------------------------------------------------------- */

/* A collection for the scrapes waiting, rendered in the formats they want. */
static void collect_for_scrapes(struct exporter *x)
{
	char *text[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	double secs;

	collect(x, &secs);
	unsigned want = export_http_formats(x->http);
	for (int f = 0; f < 2; f++)
		if (want & 1u << f && metrics_render(prom_metrics(x->pc), (enum metrics_format)f,
						     secs, &text[f], &len[f]) < 0) {
			say(x, "out of memory rendering a scrape");
			text[f] = NULL;
		}
	export_http_finish(x->http, text, len);
}

static void serve(struct exporter *x)
{
	while (!stop_flag) {
		if (export_http_begin(x->http))
			collect_for_scrapes(x);
		else
			idle(x, -1);
	}
}

/* ---- the textfile ------------------------------------------------------ */

/*
 * The textfile's directory must exist: file_replace() would create it, and
 * a mistyped path would then quietly write where node_exporter never looks.
 * 0, or -1 with err.
 */
static int textfile_dir_ok(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	const char *dir = dirname(buf);
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "--textfile %s: directory %s: %s", path, dir,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--textfile %s: %s is not a directory", path, dir);
		return -1;
	}
	return 0;
}

/* Collect and write the textfile once: 0, or -1 with err. */
static int textfile_once(struct exporter *x, char *err, size_t errlen)
{
	char *text;
	size_t len;
	double secs;

	collect(x, &secs);
	if (metrics_render(prom_metrics(x->pc), METRICS_TEXT, secs, &text, &len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (textfile_dir_ok(x->textfile, err, errlen) < 0) {
		free(text);
		return -1;
	}
	int r = file_replace(x->textfile, text, len, 0644, 0);
	free(text);
	if (r < 0) {
		snprintf(err, errlen, "--textfile %s: %s", x->textfile, file_strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * Write the textfile, every --interval until a signal.  A failure of the
 * first write ends export (exit 1): the path is wrong.  Later ones are said
 * and the next interval tries again (a full disk may empty).
 */
static int textfile_loop(struct exporter *x)
{
	char err[600];

	if (textfile_once(x, err, sizeof(err)) < 0) {
		cmd_error(&cmd_export_entry, "%s", err);
		return EXIT_RUNTIME;
	}
	while (x->interval_us && !stop_flag) {
		uint64_t next = cmd_wall_us() + x->interval_us;
		for (uint64_t now; !stop_flag && (now = cmd_wall_us()) < next;)
			idle(x, (int)((next - now) / 1000) + 1);
		if (!stop_flag && textfile_once(x, err, sizeof(err)) < 0)
			say(x, err);
	}
	return EXIT_OK;
}

/* ---- set-up ------------------------------------------------------------ */

/*
 * The capture (-i), which drops privileges once open; or, without one, -Z
 * alone drops them.  What export keeps: CAP_DAC_READ_SEARCH and
 * CAP_SYS_PTRACE, to read other users' /proc/PID/fd for sockets' owners;
 * with -A, CAP_SYS_ADMIN for setns into every namespace at each scrape.
 * 0, or an exit status (printed).
 */
static int open_wire_and_drop(const struct cmd_entry *cmd, struct exporter *x)
{
	static const int keep[] = {CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_SYS_ADMIN};
	int nkeep = x->all_ns ? 3 : 2;
	struct engine_hooks hooks = {on_event, NULL, x};
	char err[512];
	int usage;

	if (!x->w.iface) {
		if (x->w.user && privdrop(x->w.user, keep, nkeep, err, sizeof(err)) < 0) {
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
		return 0;
	}
	x->w.keep_caps = keep;
	x->w.nkeep_caps = nkeep;
	x->wire = wire_open(&x->w, &hooks, err, sizeof(err), &usage);
	if (!x->wire) {
		if (usage)
			return cmd_usage_error(cmd, "%s", err);
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	return 0;
}

struct listen_call {
	struct exporter *x;
	char *err;
	size_t errlen;
	int fd;
};

/* The listening socket, made in whichever namespace this thread is in (netns_call_in). */
static int listen_in(void *arg)
{
	struct listen_call *c = arg;

	c->fd = export_listen(&c->x->addr, c->x->listen, c->err, c->errlen);
	return c->fd < 0 ? -1 : 0;
}

/*
 * -N, then the port, bound in the namespace export started in (so that
 * -N's metrics are served on the host, and a wrong -N is said before a
 * port in use).  *fd: the listening descriptor (-1 for --textfile).  0,
 * or an exit status (printed).
 */
static int enter_and_listen(const struct cmd_entry *cmd, struct exporter *x, int *fd)
{
	char err[600], nserr[300];
	struct listen_call c = {x, err, sizeof(err), -1};
	int home = -1, rc;

	err[0] = '\0';
	if (x->netns) {
		home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home < 0) {
			cmd_error(cmd, "cannot open this thread's network namespace: %s",
				  strerror(errno));
			return EXIT_RUNTIME;
		}
		if ((rc = cmd_enter_netns(cmd, x->netns)) != 0) {
			close(home);
			return rc;
		}
	}
	if (!x->textfile) {
		if (home < 0)
			(void)listen_in(&c);
		else if (netns_call_in(home, listen_in, &c, nserr, sizeof(nserr)) < 0 && !err[0])
			snprintf(err, sizeof(err), "%s", nserr); /* home could not be entered */
		if (c.fd < 0)
			cmd_error(cmd, "%s", err);
	}
	if (home >= 0)
		close(home);
	*fd = c.fd;
	return !x->textfile && c.fd < 0 ? EXIT_RUNTIME : 0;
}

/*
 * Everything before the loop, in the order privileges need: -N and the
 * port, the collector, the capture and the drop, then the server's threads
 * (which run as the user).  0, or an exit status (printed).
 */
static int set_up(const struct cmd_entry *cmd, struct exporter *x)
{
	char err[600];
	int fd, rc;

	if (x->textfile && textfile_dir_ok(x->textfile, err, sizeof(err)) < 0) {
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	if ((rc = enter_and_listen(cmd, x, &fd)) != 0)
		return rc;
	struct prom_source src = {x->all_ns, x->pats, x->rootfs, x->top_k, x->owner_us};
	x->pc = prom_collector_new(&src, err, sizeof(err));
	if (!x->pc) {
		cmd_error(cmd, "%s", err);
		rc = EXIT_RUNTIME;
		goto fail;
	}
	if ((rc = open_wire_and_drop(cmd, x)) != 0)
		goto fail;
	if (fd >= 0) {
		x->http = export_http_start(fd, wake_fd, err, sizeof(err));
		if (!x->http) { /* fd was taken over, even so */
			cmd_error(cmd, "%s", err);
			return EXIT_RUNTIME;
		}
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int run_export(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct exporter x;
	struct sigaction sa;
	sigset_t stops, old;
	char **args;
	int nargs, rc;

	memset(&x, 0, sizeof(x));
	x.owner_us = EXPORT_OWNER_S * 1000000ull;
	wire_opts_init(&x.w);
	rc = cmd_parse(cmd, argc, argv, on_opt, &x, &nargs, &args);
	if (!rc)
		rc = check_opts(cmd, &x);
	if (rc) {
		free(x.pats);
		return rc < 0 ? EXIT_OK : rc;
	}
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0) {
		cmd_error(cmd, "eventfd: %s", strerror(errno));
		free(x.pats);
		return EXIT_RUNTIME;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Held while threads start, so that they inherit the mask: signals come to this thread. */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, &old);
	rc = set_up(cmd, &x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!rc && x.http) {
		fprintf(stderr, PROGNAME " export: serving http://%s/metrics\n", x.listen);
		serve(&x);
	} else if (!rc) {
		rc = textfile_loop(&x);
	}
	export_http_stop(x.http);
	wire_close(x.wire);
	prom_collector_free(x.pc);
	free(x.pats);
	close(wake_fd);
	wake_fd = -1;
	return rc;
}
