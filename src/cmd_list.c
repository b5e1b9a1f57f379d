/*
 * cmd_list.c - `tcpstate list`: a one-shot query of the kernel's TCP
 * socket table, with ss-style filters, as an aligned table, JSON or CSV,
 * or as a summary of states and ephemeral port use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "census.h"
#include "cmd.h"
#include "cmd_list_int.h"
#include "cmd_wire.h"
#include "filter.h"
#include "netns.h"
#include "out.h"
#include "procmap.h"
#include "sockdiag.h"
#include "state.h"
#include "store.h"
#include "sysctl.h"
#include "listwire.h"
#include "wire.h"

enum {
	O_ALL = 1,
	O_LISTEN,
	O_PROC,
	O_TIMERS,
	O_INFO,
	O_EXT,
	O_V4,
	O_V6,
	O_NOHDR,
	O_JSON,
	O_CSV,
	O_SUMMARY,
	O_NETNS,
	O_TCP,
	O_NUMERIC,
	O_SAVE,
	O_LOAD,
	O_AT,
	O_ZEEK,
	O_NO_KFILTER,
	O_DEBUG_FILTER,
	O_ALLNS,
	O_NS,
	O_ROOTFS,
	O_PROM,
	O_TOPK,
};

static const struct opt_def list_opts[] = {
	{O_ALL, 'a', "all", NULL, "show sockets in every state", COMPLETE_NONE},
	{O_LISTEN, 'l', "listening", NULL, "show only listening sockets", COMPLETE_NONE},
	{O_PROC, 'p', "processes", NULL,
	 "show the processes holding each socket (pid, command, fd)", COMPLETE_NONE},
	{O_TIMERS, 'o', "timers", NULL, "show timers, including the time left in TIME-WAIT",
	 COMPLETE_NONE},
	{O_INFO, 'i', "info", NULL, "show tcp_info: rtt, cwnd, retransmits, bytes, delivery rate",
	 COMPLETE_NONE},
	{O_EXT, 'e', "extended", NULL, "show the owner's uid and the socket's inode",
	 COMPLETE_NONE},
	{O_V4, '4', "ipv4", NULL, "show only IPv4 sockets", COMPLETE_NONE},
	{O_V6, '6', "ipv6", NULL, "show only IPv6 sockets", COMPLETE_NONE},
	{O_NOHDR, 'H', "no-header", NULL, "do not print the header line", COMPLETE_NONE},
	{O_JSON, 'j', "json", NULL, "print one JSON array of objects", COMPLETE_NONE},
	{O_CSV, 0, "csv", NULL, "print comma-separated values", COMPLETE_NONE},
	{O_SUMMARY, 's', "summary", NULL, "print counts per state and ephemeral port use",
	 COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "query the named network namespace, as ss -N does",
	 COMPLETE_NETNS},
	CMD_OPTS_ALL_NS(O_ALLNS, O_NS, O_ROOTFS),
	{O_PROM, 0, "prom", NULL, "print the exporter's metrics once (Prometheus text format)",
	 COMPLETE_NONE},
	{O_TOPK, 0, "top-k", "N", "with --prom: series kept per namespace in each bounded family",
	 COMPLETE_NONE},
	{O_TCP, 't', "tcp", NULL, "TCP sockets: the default, accepted for ss habits",
	 COMPLETE_NONE},
	{O_NUMERIC, 'n', "numeric", NULL,
	 "numeric addresses and ports: always, accepted for ss habits", COMPLETE_NONE},
	{O_SAVE, 0, "save-dump", "FILE", "also save the raw netlink replies to FILE",
	 COMPLETE_FILE},
	{O_LOAD, 0, "load-dump", "FILE", "read a saved dump instead of asking the kernel",
	 COMPLETE_FILE},
	{O_NO_KFILTER, 0, "no-kernel-filter", NULL,
	 "filter in user space only: send the kernel no bytecode", COMPLETE_NONE},
	{O_DEBUG_FILTER, 0, "debug-filter", NULL,
	 "print the bytecode the filter compiles to for the kernel, and exit", COMPLETE_NONE},
	WIRE_OPT_FILE,
	WIRE_OPTS_COMMON,
	{O_AT, 0, "at", "TIME", "with -r: stop at TIME (epoch seconds, or +SECONDS from the start)",
	 COMPLETE_NONE},
	{O_ZEEK, 0, "zeek", NULL, "with -r: split and expire connections as Zeek does",
	 COMPLETE_NONE},
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_list(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.args = "[FILTER...]",
	.summary = "Show the kernel's TCP sockets, like ss -tan",
	.help_tail =
		"Without -a or -l, and without a state in the filter, connected sockets are\n"
		"shown except TIME-WAIT and SYN-RECEIVED, as ss does.\n"
		"\n"
		"Filter (the ss subset):\n"
		"  state STATE | exclude STATE     STATE: a name in any spelling, or one of\n"
		"                                  all connected synchronized bucket big\n"
		"  sport|dport [OP] :PORT          OP: = != < <= > >= (or eq ne lt le gt ge)\n"
		"  src|dst ADDR[/PREFIX][:PORT]    IPv6 with a port in brackets: [::1]:80\n"
		"  dev [OP] NAME|INDEX             bound device; OP: = or != (eq ne); 0: none\n"
		"  cgroup [OP] PATH                the owner's cgroup v2, under its mount\n"
		"  fwmark [OP] MARK[/MASK]         (mark & MASK) == MARK; OP: = or !=;\n"
		"                                  needs CAP_NET_ADMIN (the kernel's rule)\n"
		"  and, or, not, ( )               and/or group left to right, as in ss\n"
		"Leading state words combine as in ss: 'state A state B' shows both.\n"
		"Example: tcpstate list -p state close-wait '(' dport = :443 or dport = :80 ')'\n"
		"\n"
		"With -A every network namespace is read, the same filter in each; rows carry\n"
		"their namespace (Netns: its /run/netns name, (host) for tcpstate's own, else\n"
		"comm[pid] of the lowest process in it, else ino:N); -s counts each namespace\n"
		"and the total.  A namespace that cannot be entered is skipped with a warning.\n"
		"Example: tcpstate list -A --ns 'web*' --ns 4026532520 state established\n",
	.opts = list_opts,
	.min_args = 0,
	.max_args = -1,
	.args_complete = COMPLETE_FILTER,
	.run = run_list,
};

static int on_opt(void *st, int id, const char *arg)
{
	struct list_opts *o = st;

	switch (id) {
	case O_ALL:
		o->all = 1;
		break;
	case O_LISTEN:
		o->listen = 1;
		break;
	case O_PROC:
		o->proc = 1;
		break;
	case O_TIMERS:
		o->timers = 1;
		break;
	case O_INFO:
		o->info = 1;
		break;
	case O_EXT:
		o->ext = 1;
		break;
	case O_V4:
		o->family = o->family == AF_INET6 ? 0 : AF_INET;
		break;
	case O_V6:
		o->family = o->family == AF_INET ? 0 : AF_INET6;
		break;
	case O_NOHDR:
		o->header = 0;
		break;
	case O_JSON:
		o->fmt = FMT_JSON;
		break;
	case O_CSV:
		o->fmt = FMT_CSV;
		break;
	case O_SUMMARY:
		o->summary = 1;
		break;
	case O_NETNS:
		o->netns = arg;
		break;
	case O_SAVE:
		o->save = arg;
		break;
	case O_LOAD:
		o->load = arg;
		break;
	case O_NO_KFILTER:
		o->no_kfilter = 1;
		break;
	case O_DEBUG_FILTER:
		o->debug_filter = 1;
		break;
	case O_ALLNS:
		o->all_ns = 1;
		break;
	case O_NS:
		return cmd_ns_pattern(&cmd_list_entry, &o->ns_pats, &o->nns, arg);
	case O_ROOTFS:
		o->rootfs = arg;
		break;
	case O_PROM:
		o->prom = 1;
		break;
	case O_TOPK:
		o->top_k = arg;
		break;
	case O_AT:
		o->at = arg;
		o->wire_only = 1;
		break;
	case O_ZEEK:
		o->wire.ecfg.zeek = 1;
		o->wire_only = 1;
		break;
	case O_TCP:
	case O_NUMERIC:
		/* ss habits (-tan): TCP and numbers are all list shows. */
		break;
	default:
		if (id != WO_FILE)
			o->wire_only = 1;
		return cmd_wire_opt(&cmd_list_entry, &o->wire, id, arg);
	}
	return 0;
}

/* `list -r FILE`: the wire view; kernel-only options make no sense there. */
static int run_wire(const struct cmd_entry *cmd, const struct list_opts *o, int nargs)
{
	struct listwire_opts lw;

	if (nargs > 0)
		return cmd_usage_error(cmd, "filters apply to the kernel view, not to -r; "
					    "use -f EXPR for a capture filter");
	if (o->proc || o->timers || o->info || o->ext || o->netns || o->save || o->load ||
	    o->listen || o->family || o->no_kfilter || o->debug_filter || o->all_ns || o->nns)
		return cmd_usage_error(
			cmd, "-r reads a capture: -p, -o, -i, -e, -l, -4, -6, -N, -A, --ns, the "
			     "dump and the kernel filter options are for the kernel view");
	memset(&lw, 0, sizeof(lw));
	lw.w = o->wire;
	lw.json = o->fmt == FMT_JSON;
	lw.csv = o->fmt == FMT_CSV;
	lw.header = o->header;
	lw.summary = o->summary;
	lw.at = o->at;
	return listwire_run(cmd, &lw);
}

static int collect_one(const struct sock_rec *rec, void *arg)
{
	struct collect *c = arg;
	struct sock_rec *slot;

	if (c->census && rec->state == TS_LISTEN && census_add(c->census, rec, 0) < 0)
		goto oom;
	/* The kernel may send more than was asked (request sockets, races). */
	if (!(c->states & SM(rec->state)) || !filter_match(c->filter, rec) ||
	    (c->family && rec->family != c->family))
		return 0;
	if (c->census && rec->state != TS_LISTEN && census_add(c->census, rec, 0) < 0)
		goto oom;
	slot = store_add(c->store);
	if (!slot)
		goto oom;
	*slot = *rec;
	return 0;
oom:
	c->oom = 1;
	return 1;
}

/* ---- cells -------------------------------------------------------------- */

enum col {
	C_NETNS,
	C_STATE,
	C_RECVQ,
	C_SENDQ,
	C_LOCAL,
	C_PEER,
	C_TIMER,
	C_UID,
	C_INODE,
	C_RTT,
	C_CWND,
	C_RETRANS,
	C_ACKED,
	C_RCVD,
	C_RATE,
	C_PROC,
	C_MAX
};

static const struct {
	const char *title;
	int right; /* right-aligned (numbers) */
} cols[C_MAX] = {
	[C_NETNS] = {"Netns", 0},    [C_STATE] = {"State", 0}, [C_RECVQ] = {"Recv-Q", 1},
	[C_SENDQ] = {"Send-Q", 1},   [C_LOCAL] = {"Local", 0}, [C_PEER] = {"Peer", 0},
	[C_TIMER] = {"Timer", 0},    [C_UID] = {"UID", 1},     [C_INODE] = {"Inode", 1},
	[C_RTT] = {"RTT/var ms", 1}, [C_CWND] = {"Cwnd", 1},   [C_RETRANS] = {"Retrans", 1},
	[C_ACKED] = {"Acked", 1},    [C_RCVD] = {"Rcvd", 1},   [C_RATE] = {"Rate", 1},
	[C_PROC] = {"Process", 0},
};

static const char *timer_name(int t)
{
	switch (t) {
	case TIMER_NONE:
		return "off";
	case TIMER_ON:
		return "on";
	case TIMER_KEEPALIVE:
		return "keepalive";
	case TIMER_TIMEWAIT:
		return "timewait";
	case TIMER_PERSIST:
		return "persist";
	}
	return "unknown";
}

static size_t fmt_duration(char *buf, size_t len, uint64_t ms)
{
	int n;

	if (ms < 1000)
		n = snprintf(buf, len, "%ums", (unsigned)ms);
	else if (ms < 60000)
		n = snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		n = snprintf(buf, len, "%um%02us", (unsigned)(ms / 60000),
			     (unsigned)(ms / 1000 % 60));
	else
		n = snprintf(buf, len, "%uh%02um", (unsigned)(ms / 3600000),
			     (unsigned)(ms / 60000 % 60));
	return n < 0 ? 0 : (size_t)n;
}

static size_t fmt_rate(char *buf, size_t len, uint64_t bytes_per_s)
{
	static const char *const unit[] = {"bps", "Kbps", "Mbps", "Gbps", "Tbps"};
	double v = (double)bytes_per_s * 8;
	int u = 0, n;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	n = u ? snprintf(buf, len, "%.1f%s", v, unit[u]) : snprintf(buf, len, "%.0f%s", v, unit[u]);
	return n < 0 ? 0 : (size_t)n;
}

/* Interface names, read the first time a socket bound to one is shown. */
struct devnames {
	struct ifnames *names;
	int tried;
	int offline; /* a loaded dump: this namespace's names may not be its */
};

struct view {
	const struct list_opts *o;
	const struct procmap *pm;
	struct devnames *dev;
	struct list_ns *ns; /* -A: the namespaces, at the row being shown (list_ns_seek) */
};

/* The device the socket is bound to (ss's %dev), into buf; NULL when none. */
static const char *dev_name(const struct view *v, uint32_t ifindex, char *buf)
{
	struct devnames *d = v->dev;

	if (!ifindex)
		return NULL;
	if (v->ns) /* the device is the row's namespace's */
		return list_ns_ifname(v->ns, ifindex, buf);
	if (!d->tried && !d->offline) {
		d->names = netns_ifnames();
		d->tried = 1;
	}
	return netns_ifname(d->names, ifindex, buf);
}

/* The same, escaped for a table: an interface name may hold any byte but '/', ':' and blanks. */
static const char *dev_text(const struct view *v, uint32_t ifindex, char *buf, size_t len)
{
	char name[IFNAME_STRLEN];
	const char *d = dev_name(v, ifindex, name);

	if (!d)
		return NULL;
	fmt_text(buf, len, d);
	return buf;
}

#define CELL_MAX 512

static size_t fmt_procs(char *buf, const struct procmap *pm, uint32_t inode)
{
	size_t n = 0;

	for (int i = procmap_first(pm, inode); i >= 0;) {
		const struct proc_owner *po = procmap_owner(pm, i);
		char name[4 * 64 + 1]; /* a process names itself: escaped for the terminal */
		fmt_text(name, sizeof(name), po->comm);
		int k = snprintf(buf + n, CELL_MAX - n, "%s%s[%d]:%d", n ? "," : "", name,
				 (int)po->pid, po->fd);
		if (k < 0 || (size_t)k >= CELL_MAX - n) {
			n = CELL_MAX - 4;
			memcpy(buf + n, "...", 4);
			return n + 3;
		}
		n += (size_t)k;
		i = po->next;
	}
	if (n == 0)
		buf[n++] = '-';
	buf[n] = '\0';
	return n;
}

/* Format one cell into buf (CELL_MAX bytes); returns its length. */
static size_t cell(const struct view *v, const struct sock_rec *r, enum col c, char *buf)
{
	int n = 0;

	switch (c) {
	case C_NETNS:
		return list_ns_label(v->ns, buf, CELL_MAX);
	case C_STATE:
		n = snprintf(buf, CELL_MAX, "%s", state_name(r->state));
		break;
	case C_RECVQ:
		return fmt_u64(buf, r->recv_q);
	case C_SENDQ:
		return fmt_u64(buf, r->send_q);
	case C_LOCAL: {
		char dev[4 * IFNAME_STRLEN + 1];
		return addr_format_port_dev(buf, r->family, r->laddr, r->lport, 0,
					    dev_text(v, r->ifindex, dev, sizeof(dev)));
	}
	case C_PEER:
		if (r->state == TS_LISTEN) {
			memcpy(buf, "*:*", 4);
			return 3;
		}
		return addr_format_port(buf, r->family, r->raddr, r->rport, 0);
	case C_TIMER:
		if (r->timer == TIMER_NONE) {
			buf[0] = '-';
			return 1;
		} else {
			size_t k = (size_t)snprintf(buf, CELL_MAX, "%s ", timer_name(r->timer));
			k += fmt_duration(buf + k, CELL_MAX - k, r->expires_ms);
			if (r->retrans)
				k += (size_t)snprintf(buf + k, CELL_MAX - k, " r%u", r->retrans);
			return k;
		}
	case C_UID:
		return fmt_u64(buf, r->uid);
	case C_INODE:
		return fmt_u64(buf, r->inode);
	case C_RTT:
		if (!r->has_info)
			break;
		n = snprintf(buf, CELL_MAX, "%.3f/%.3f", r->info.rtt_us / 1000.0,
			     r->info.rttvar_us / 1000.0);
		break;
	case C_CWND:
		if (!r->has_info)
			break;
		return fmt_u64(buf, r->info.snd_cwnd);
	case C_RETRANS:
		if (!r->has_info)
			break;
		n = snprintf(buf, CELL_MAX, "%u/%u", r->retransmits, r->info.total_retrans);
		break;
	case C_ACKED:
		if (!r->has_info)
			break;
		return fmt_u64(buf, r->info.bytes_acked);
	case C_RCVD:
		if (!r->has_info)
			break;
		return fmt_u64(buf, r->info.bytes_received);
	case C_RATE:
		if (!r->has_info)
			break;
		return fmt_rate(buf, CELL_MAX, r->info.delivery_rate);
	case C_PROC:
		return fmt_procs(buf, v->pm, r->inode);
	case C_MAX:
		break;
	}
	if (n <= 0) {
		buf[0] = '-';
		return 1;
	}
	return (size_t)n < CELL_MAX ? (size_t)n : CELL_MAX - 1;
}

static const char *state_color(int s)
{
	switch (s) {
	case TS_ESTABLISHED:
		return "\033[32m";
	case TS_LISTEN:
		return "\033[36m";
	case TS_TIME_WAIT:
		return "\033[33m";
	case TS_CLOSE_WAIT:
		return "\033[1;31m";
	case TS_SYN_SENT:
	case TS_SYN_RECV:
		return "\033[35m";
	default:
		return "\033[33m";
	}
}

static int use_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	/* no-color.org: NO_COLOR set and not empty turns colour off. */
	if (nc && *nc)
		return 0;
	if (term && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(STDOUT_FILENO);
}

static int term_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0; /* not a terminal: never cut */
}

static size_t choose_cols(const struct list_opts *o, enum col *cs)
{
	size_t n = 0;

	if (o->all_ns)
		cs[n++] = C_NETNS;
	cs[n++] = C_STATE;
	cs[n++] = C_RECVQ;
	cs[n++] = C_SENDQ;
	cs[n++] = C_LOCAL;
	cs[n++] = C_PEER;
	if (o->timers)
		cs[n++] = C_TIMER;
	if (o->ext) {
		cs[n++] = C_UID;
		cs[n++] = C_INODE;
	}
	if (o->info) {
		cs[n++] = C_RTT;
		cs[n++] = C_CWND;
		cs[n++] = C_RETRANS;
		cs[n++] = C_ACKED;
		cs[n++] = C_RCVD;
		cs[n++] = C_RATE;
	}
	if (o->proc)
		cs[n++] = C_PROC;
	return n;
}

static void print_table(struct out *out, const struct view *v, const struct store *s)
{
	enum col cs[C_MAX];
	size_t ncols = choose_cols(v->o, cs), width[C_MAX];
	char buf[CELL_MAX];
	int color = use_color(), tw = term_width();

	/* Pass 1: the widest cell of each column, so nothing pads absurdly. */
	for (size_t c = 0; c < ncols; c++)
		width[c] = v->o->header ? strlen(cols[cs[c]].title) : 1;
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_rec *r = store_at(s, i);
		list_ns_seek(v->ns, i);
		for (size_t c = 0; c < ncols; c++) {
			size_t k = cell(v, r, cs[c], buf), dw = text_width(buf, k);
			if (dw > width[c])
				width[c] = dw;
		}
	}
	/* On a terminal the last column (processes, or the widest) is cut to fit. */
	size_t last = ncols - 1, limit = 0;
	if (tw > 0) {
		size_t before = 0;
		for (size_t c = 0; c < last; c++)
			before += width[c] + 1;
		if (before + width[last] > (size_t)tw && (size_t)tw > before + 8)
			limit = (size_t)tw - before;
	}
	if (v->o->header) {
		for (size_t c = 0; c < ncols; c++) {
			const char *t = cols[cs[c]].title;
			size_t k = strlen(t), w = limit && c == last ? limit : width[c];
			if (cols[cs[c]].right)
				out_pad(out, w - k);
			out_str(out, t);
			if (c != last) {
				if (!cols[cs[c]].right)
					out_pad(out, w - k);
				out_char(out, ' ');
			}
		}
		out_char(out, '\n');
	}
	/* Pass 2: print. */
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_rec *r = store_at(s, i);
		list_ns_seek(v->ns, i);
		for (size_t c = 0; c < ncols; c++) {
			/* Widths are in characters (a Netns name may be UTF-8), k in bytes. */
			size_t k = cell(v, r, cs[c], buf), w = width[c], dw = text_width(buf, k);
			if (limit && c == last && dw > limit) {
				k = limit; /* the last column: processes, ASCII but for comm */
				if (k > 3)
					memcpy(buf + k - 3, "...", 3);
				dw = text_width(buf, k);
			}
			if (cols[cs[c]].right)
				out_pad(out, w - dw);
			if (color && cs[c] == C_STATE) {
				out_str(out, state_color(r->state));
				out_write(out, buf, k);
				out_str(out, "\033[0m");
			} else {
				out_write(out, buf, k);
			}
			if (c != last) {
				if (!cols[cs[c]].right)
					out_pad(out, w - dw);
				out_char(out, ' ');
			}
		}
		out_char(out, '\n');
	}
}

/* ---- JSON and CSV ------------------------------------------------------- */

static void json_key(struct out *out, const char *k)
{
	out_char(out, ',');
	out_json_str(out, k);
	out_char(out, ':');
}

static void json_addr(struct out *out, const char *key, const struct sock_rec *r, const uint8_t *a,
		      int star)
{
	char buf[ADDR_STRLEN];

	json_key(out, key);
	if (star) {
		out_str(out, "\"*\"");
		return;
	}
	addr_format(buf, r->family, a);
	out_json_str(out, buf);
}

static void print_json_rec(struct out *out, const struct view *v, const struct sock_rec *r)
{
	int listen = r->state == TS_LISTEN;
	char dev[IFNAME_STRLEN];

	out_str(out, "{\"state\":");
	out_json_str(out, state_name(r->state));
	json_key(out, "family");
	out_str(out, r->family == AF_INET ? "\"ipv4\"" : "\"ipv6\"");
	json_addr(out, "local_addr", r, r->laddr, 0);
	json_key(out, "local_port");
	out_u64(out, r->lport);
	json_key(out, "dev");
	if (dev_name(v, r->ifindex, dev))
		out_json_str(out, dev);
	else
		out_str(out, "null");
	json_addr(out, "peer_addr", r, r->raddr, listen);
	json_key(out, "peer_port");
	out_u64(out, listen ? 0 : r->rport);
	json_key(out, "recv_q");
	out_u64(out, r->recv_q);
	json_key(out, "send_q");
	out_u64(out, r->send_q);
	if (v->o->timers) {
		json_key(out, "timer");
		out_json_str(out, timer_name(r->timer));
		json_key(out, "expires_ms");
		out_u64(out, r->timer == TIMER_NONE ? 0 : r->expires_ms);
		json_key(out, "retrans");
		out_u64(out, r->retrans);
	}
	if (v->o->ext) {
		json_key(out, "uid");
		out_u64(out, r->uid);
		json_key(out, "inode");
		out_u64(out, r->inode);
	}
	if (v->o->info) {
		json_key(out, "tcp_info");
		if (!r->has_info) {
			out_str(out, "null");
		} else {
			out_str(out, "{\"rtt_us\":");
			out_u64(out, r->info.rtt_us);
			json_key(out, "rttvar_us");
			out_u64(out, r->info.rttvar_us);
			json_key(out, "cwnd");
			out_u64(out, r->info.snd_cwnd);
			json_key(out, "retransmits");
			out_u64(out, r->retransmits);
			json_key(out, "total_retrans");
			out_u64(out, r->info.total_retrans);
			json_key(out, "bytes_acked");
			out_u64(out, r->info.bytes_acked);
			json_key(out, "bytes_received");
			out_u64(out, r->info.bytes_received);
			json_key(out, "delivery_rate");
			out_u64(out, r->info.delivery_rate);
			out_char(out, '}');
		}
	}
	if (v->o->proc) {
		json_key(out, "processes");
		out_char(out, '[');
		for (int i = procmap_first(v->pm, r->inode); i >= 0;) {
			const struct proc_owner *po = procmap_owner(v->pm, i);
			out_str(out, "{\"pid\":");
			out_u64(out, (uint64_t)po->pid);
			json_key(out, "comm");
			out_json_str(out, po->comm);
			json_key(out, "fd");
			out_u64(out, (uint64_t)po->fd);
			out_char(out, '}');
			i = po->next;
			if (i >= 0)
				out_char(out, ',');
		}
		out_char(out, ']');
	}
	if (v->ns)
		list_ns_json(out, v->ns);
	out_char(out, '}');
}

static void print_json(struct out *out, const struct view *v, const struct store *s)
{
	out_char(out, '[');
	for (size_t i = 0; i < s->n; i++) {
		out_str(out, i ? ",\n" : "\n");
		list_ns_seek(v->ns, i);
		print_json_rec(out, v, store_at(s, i));
	}
	out_str(out, s->n ? "\n]\n" : "]\n");
}

static void print_csv_header(struct out *out, const struct view *v)
{
	if (v->o->header) {
		out_str(out,
			"state,family,local_addr,local_port,peer_addr,peer_port,recv_q,send_q,dev");
		if (v->o->timers)
			out_str(out, ",timer,expires_ms,retrans");
		if (v->o->ext)
			out_str(out, ",uid,inode");
		if (v->o->info)
			out_str(out, ",rtt_us,rttvar_us,cwnd,retransmits,total_retrans,bytes_acked,"
				     "bytes_received,delivery_rate");
		if (v->o->proc)
			out_str(out, ",processes");
		if (v->ns)
			out_str(out, ",netns,netns_inode,container,netns_pid");
		out_char(out, '\n');
	}
}

static void print_csv_rec(struct out *out, const struct view *v, const struct sock_rec *r)
{
	char buf[CELL_MAX];

	int listen = r->state == TS_LISTEN;
	out_str(out, state_name(r->state));
	out_str(out, r->family == AF_INET ? ",ipv4," : ",ipv6,");
	addr_format(buf, r->family, r->laddr);
	out_str(out, buf);
	out_char(out, ',');
	out_u64(out, r->lport);
	out_char(out, ',');
	if (listen) {
		out_str(out, "*,0");
	} else {
		addr_format(buf, r->family, r->raddr);
		out_str(out, buf);
		out_char(out, ',');
		out_u64(out, r->rport);
	}
	out_printf(out, ",%u,%u,", r->recv_q, r->send_q);
	if (dev_name(v, r->ifindex, buf))
		out_csv_field(out, buf);
	if (v->o->timers)
		out_printf(out, ",%s,%u,%u", timer_name(r->timer),
			   r->timer == TIMER_NONE ? 0 : r->expires_ms, r->retrans);
	if (v->o->ext)
		out_printf(out, ",%u,%u", r->uid, r->inode);
	if (v->o->info) {
		if (r->has_info)
			out_printf(out, ",%u,%u,%u,%u,%u,%llu,%llu,%llu", r->info.rtt_us,
				   r->info.rttvar_us, r->info.snd_cwnd, r->retransmits,
				   r->info.total_retrans, (unsigned long long)r->info.bytes_acked,
				   (unsigned long long)r->info.bytes_received,
				   (unsigned long long)r->info.delivery_rate);
		else
			out_str(out, ",,,,,,,,");
	}
	if (v->o->proc) {
		/* pid:comm:fd, space-separated: one field however many owners. */
		size_t n = 0;
		buf[0] = '\0';
		for (int k = procmap_first(v->pm, r->inode); k >= 0 && n < CELL_MAX - 64;) {
			const struct proc_owner *po = procmap_owner(v->pm, k);
			int w = snprintf(buf + n, CELL_MAX - n, "%s%d:%s:%d", n ? " " : "",
					 (int)po->pid, po->comm, po->fd);
			if (w < 0 || (size_t)w >= CELL_MAX - n)
				break;
			n += (size_t)w;
			k = po->next;
		}
		out_char(out, ',');
		out_csv_field(out, buf);
	}
	if (v->ns)
		list_ns_csv(out, v->ns);
	out_char(out, '\n');
}

static void print_csv(struct out *out, const struct view *v, const struct store *s)
{
	print_csv_header(out, v);
	for (size_t i = 0; i < s->n; i++) {
		list_ns_seek(v->ns, i);
		print_csv_rec(out, v, store_at(s, i));
	}
}

/*
 * JSON and CSV without -p need no second pass: each socket is written as it
 * arrives, so a million sockets cost no memory.  (A table needs its widths,
 * -p needs every inode before it walks /proc.)
 */
struct streamer {
	struct out *out;
	const struct view *v;
	const struct filter *filter;
	state_mask states;
	size_t n;
};

static int stream_one(const struct sock_rec *rec, void *arg)
{
	struct streamer *st = arg;

	/* A dump of both families replayed with -4 or -6 holds the other's too. */
	if (!(st->states & SM(rec->state)) || !filter_match(st->filter, rec) ||
	    (st->v->o->family && rec->family != st->v->o->family))
		return 0;
	if (st->v->o->fmt == FMT_JSON) {
		out_str(st->out, st->n ? ",\n" : "\n");
		print_json_rec(st->out, st->v, rec);
	} else {
		print_csv_rec(st->out, st->v, rec);
	}
	st->n++;
	return st->out->err != 0; /* stop on a write error */
}

/* ---- the command -------------------------------------------------------- */

/* The dump request both ways of listing send: the states go to the kernel's mask. */
static void list_req(struct sockdiag_req *req, const struct list_opts *o, const struct collect *c)
{
	memset(req, 0, sizeof(*req));
	req->states = c->states;
	if (c->bc && !c->census) { /* the census must see every listener */
		req->bytecode = c->bc->code;
		req->bytecode_len = c->bc->len;
	}
	req->family = o->family;
	req->want_info = o->info;
	req->save_path = o->save;
	req->load_path = o->load;
}

int list_dump(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c, int nsfd,
	      struct list_skip *skip)
{
	struct sockdiag_req req;
	struct sockdiag_stats stats;
	size_t first = c->store->n;
	char err[256];

	list_req(&req, o, c);
	req.use_netns = nsfd >= 0;
	req.netns_fd = nsfd;
	if (c->census) { /* every listener, whatever is counted */
		req.states = SM_ALL;
		req.family = 0;
	}
	/*
	 * NLM_F_DUMP_INTR means the table changed while the kernel walked it,
	 * so a socket may be missing or doubled: ask again a few times.
	 */
	for (int attempt = 0;; attempt++) {
		store_truncate(c->store, first);
		if (c->census)
			census_begin(c->census, c->lo, c->hi);
		if (sockdiag_dump(&req, collect_one, c, &stats, err, sizeof(err)) < 0) {
			if (!skip) {
				cmd_error(cmd, "%s", err);
				return EXIT_RUNTIME;
			}
			/* One namespace that went or refused us: the others' rows stay. */
			skip->err = errno;
			snprintf(skip->msg, sizeof(skip->msg), "%s", err);
			store_truncate(c->store, first);
			return LIST_SKIPPED;
		}
		if (c->oom || (c->census && census_end(c->census) < 0)) {
			cmd_error(cmd, "out of memory after %zu sockets", c->store->n);
			return EXIT_RUNTIME;
		}
		if (!stats.intr || o->load)
			break;
		if (attempt == 2) {
			cmd_error(cmd,
				  "warning: %s%sthe socket table kept changing during the dump; "
				  "rows may be missing or repeated",
				  skip ? skip->label : "", skip ? ": " : "");
			break;
		}
	}
	if (stats.malformed)
		cmd_error(cmd, "warning: %llu malformed netlink messages skipped",
			  (unsigned long long)stats.malformed);
	return EXIT_OK;
}

/* Write JSON or CSV while the dump arrives (see struct streamer). */
static int stream(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c)
{
	struct sockdiag_req req;
	struct sockdiag_stats stats;
	struct devnames dev = {NULL, 0, o->load != NULL};
	struct view v = {o, NULL, &dev, NULL};
	struct out *out = malloc(sizeof(*out));
	struct streamer st;
	char err[256];
	int rc = EXIT_OK;

	if (!out) {
		cmd_error(cmd, "out of memory");
		return EXIT_RUNTIME;
	}
	out_init(out, STDOUT_FILENO);
	list_req(&req, o, c);
	memset(&st, 0, sizeof(st));
	st.out = out;
	st.v = &v;
	st.filter = c->filter;
	st.states = c->states;
	if (o->fmt == FMT_JSON)
		out_char(out, '[');
	else
		print_csv_header(out, &v);
	if (sockdiag_dump(&req, stream_one, &st, &stats, err, sizeof(err)) < 0) {
		out_flush(out);
		cmd_error(cmd, "%s", err);
		netns_ifnames_free(dev.names);
		free(out);
		return EXIT_RUNTIME;
	}
	if (o->fmt == FMT_JSON)
		out_str(out, st.n ? "\n]\n" : "]\n");
	if (out_flush(out) < 0) {
		rc = cmd_output_failed(cmd, out->err);
	} else if (stats.intr && !o->load) {
		/* Already written: it cannot be asked again, only said. */
		cmd_error(cmd, "warning: the socket table changed during the dump; rows may be "
			       "missing or repeated");
	}
	if (stats.malformed)
		cmd_error(cmd, "warning: %llu malformed netlink messages skipped",
			  (unsigned long long)stats.malformed);
	netns_ifnames_free(dev.names);
	free(out);
	return rc;
}

/* The rows: of every namespace with -A, else of this one (and its census for -s). */
static int gather(const struct cmd_entry *cmd, const struct list_opts *o, struct collect *c,
		  struct list_ns **ns)
{
	if (o->all_ns)
		return list_ns_dump(cmd, o, c, ns);
	if (o->summary) {
		if (list_port_range(&c->lo, &c->hi) < 0)
			c->lo = c->hi = 0;
		c->census = census_new();
		if (!c->census) {
			cmd_error(cmd, "out of memory");
			return EXIT_RUNTIME;
		}
	}
	return list_dump(cmd, o, c, -1, NULL);
}

/* -p: the owners of every row's socket, in one pass over /proc (all namespaces at once). */
static int owners(const struct cmd_entry *cmd, const struct store *store, struct procmap **out)
{
	struct procmap *pm = procmap_new(store->n);

	*out = pm;
	if (!pm)
		goto oom;
	for (size_t i = 0; i < store->n; i++)
		if (procmap_want(pm, store_at(store, i)->inode) < 0)
			goto oom;
	if (procmap_scan(pm, "/proc") < 0) {
		cmd_error(cmd, "/proc: %s (is /proc mounted?)", strerror(errno));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
oom:
	cmd_error(cmd, "out of memory");
	return EXIT_RUNTIME;
}

static int run_list(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct list_opts o;
	struct filter *filter = NULL;
	struct store store;
	struct procmap *pm = NULL;
	struct devnames dev = {NULL, 0, 0};
	struct list_ns *ns = NULL;
	struct collect c;
	struct filterbc bc;
	struct out *out = NULL;
	char **args;
	int nargs, rc;
	char err[256];

	memset(&o, 0, sizeof(o));
	memset(&bc, 0, sizeof(bc));
	memset(&c, 0, sizeof(c));
	store_init(&store);
	c.store = &store;
	o.header = 1;
	wire_opts_init(&o.wire);
	/* From here every way out is through done: --ns patterns are malloc'd. */
	rc = cmd_parse(cmd, argc, argv, on_opt, &o, &nargs, &args);
	if (rc) {
		rc = rc < 0 ? EXIT_OK : rc;
		goto done;
	}
	if (o.prom || o.top_k) {
		rc = list_prom_run(cmd, &o, nargs);
		goto done;
	}
	if (o.wire.file) {
		rc = run_wire(cmd, &o, nargs);
		goto done;
	}
	if (o.wire_only)
		rc = cmd_usage_error(cmd, "capture options (-f, --at, --zeek, ...) need -r FILE");
	else if (o.netns && o.load)
		rc = cmd_usage_error(cmd, "-N and --load-dump cannot be used together");
	else
		rc = list_ns_check_opts(cmd, &o);
	if (rc)
		goto done;
	dev.offline = o.load != NULL;
	/* The filter after -N: a device name is that namespace's, as in ss. */
	if (o.netns && (rc = cmd_enter_netns(cmd, o.netns)) != 0)
		goto done;
	if (nargs > 0 && !(filter = filter_parse(nargs, args, err, sizeof(err)))) {
		rc = cmd_usage_error(cmd, "%s", err);
		goto done;
	}
	if ((o.load || o.all_ns) && filter_names_device(filter)) {
		rc = cmd_usage_error(cmd,
				     "with %s, name a device by its index or ifN: a name is "
				     "looked up in this namespace, not where the sockets are",
				     o.load ? "--load-dump" : "-A");
		goto done;
	}

	/*
	 * Which states to ask the kernel for: a filter that names states
	 * decides alone (as ss's state filter does); otherwise -a, -l, or the
	 * default.  A summary counts everything unless told otherwise.
	 */
	if (filter_has_state(filter) || o.all || o.summary)
		c.states = SM_ALL;
	else if (o.listen)
		c.states = SM(TS_LISTEN);
	else
		c.states = state_default_mask();
	c.states &= filter_states(filter);
	c.filter = filter;
	/* Checked per row too: a replayed dump of both families holds the other's. */
	c.family = o.family;
	/* The kernel gets what it can test of the filter, and sends only what may match. */
	if (filter && !o.no_kfilter && filterbc_compile(filter, c.states, FILTERBC_MAX, &bc) < 0)
		goto oom;
	c.bc = &bc;
	if (o.debug_filter) {
		filterbc_report(stdout, &bc, c.states);
		if (fflush(stdout) != 0 || ferror(stdout))
			rc = cmd_output_failed(cmd, errno);
		goto done;
	}
	/* A saved dump holds the marks it was given; a live one needs the privilege. */
	if (!o.load && (rc = cmd_check_mark_filter(cmd, filter)) != 0)
		goto done;
	if (!o.proc && !o.summary && !o.all_ns && (o.fmt == FMT_JSON || o.fmt == FMT_CSV)) {
		rc = stream(cmd, &o, &c);
		goto done;
	}
	c.family = o.family;
	if ((rc = gather(cmd, &o, &c, &ns)) != 0)
		goto done;

	if (o.proc && !o.summary && (rc = owners(cmd, &store, &pm)) != 0)
		goto done;

	out = malloc(sizeof(*out));
	if (!out)
		goto oom;
	out_init(out, STDOUT_FILENO);
	struct view v = {&o, pm, &dev, ns};
	if (o.summary && ns) {
		list_ns_print_summary(out, &o, &store, ns);
	} else if (o.summary) {
		struct list_sum sm = {&store, 0, store.n, c.census, c.lo, c.hi, 0, NULL, NULL};
		list_print_summary(out, &o, &sm);
	} else if (o.fmt == FMT_JSON) {
		print_json(out, &v, &store);
	} else if (o.fmt == FMT_CSV) {
		print_csv(out, &v, &store);
	} else {
		print_table(out, &v, &store);
	}
	if (out_flush(out) < 0)
		rc = cmd_output_failed(cmd, out->err);
	goto done;
oom:
	cmd_error(cmd, "out of memory");
	rc = EXIT_RUNTIME;
done:
	netns_ifnames_free(dev.names);
	free(out);
	list_ns_free(ns);
	free(o.ns_pats);
	census_free(c.census);
	procmap_free(pm);
	store_free(&store);
	filterbc_free(&bc);
	filter_free(filter);
	return rc;
}
