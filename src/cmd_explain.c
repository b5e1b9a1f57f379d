/*
 * cmd_explain.c - `tcpstate explain`: a reference to the TCP states as they
 * behave on Linux, the handshake and the closes as diagrams, the myths with
 * their origins; and, pointed at a connection in a capture, its own story.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cmd.h"
#include "cmd_wire.h"
#include "knobs.h"
#include "state.h"
#include "sysctl.h"
#include "wire.h"

/*
 * explain's topics besides the states: the one list behind the synopsis,
 * the message, the dispatch and completion.  X is applied to each, SEP goes
 * between two, LAST before the last.
 */
#define EXPLAIN_TOPICS(X, SEP, LAST)                                                               \
	X(handshake, "handshake") SEP X(closes, "close") SEP X(myths, "myths") LAST X(NULL, "all")
#define WORD(text, word) word

static void complete_topics(const struct cmd_completion *c);

enum { O_CONN = 1, O_NETNS };

static const struct opt_def explain_opts[] = {
	{O_CONN, 'c', "conn", "ID", "narrate connection ID of the capture given with -r",
	 COMPLETE_NONE},
	{O_NETNS, 'N', "netns", "NAME", "quote the knobs of the named network namespace (SYN-SENT)",
	 COMPLETE_NETNS},
	WIRE_OPT_FILE,
	{0, 0, NULL, NULL, NULL, COMPLETE_NONE},
};

static int run_explain(const struct cmd_entry *cmd, int argc, char **argv);

const struct cmd_entry cmd_explain_entry = {
	.name = "explain",
	.args = "[STATE|" EXPLAIN_TOPICS(WORD, "|", "|") "]",
	.summary = "Explain the TCP states, the handshake and the closes",
	.help_tail = "STATE is any spelling tcpstate list accepts (time-wait, CLOSE_WAIT, estab).\n"
		     "With -r FILE --conn ID, tells what happened to one connection of a capture\n"
		     "(IDs are those of tcpstate list -r and watch).\n",
	.opts = explain_opts,
	.min_args = 0,
	.max_args = 1,
	.args_complete = COMPLETE_OWN,
	.words = complete_topics,
	.run = run_explain,
};

struct entry {
	int state;
	const char *means, *who, *lasts, *many;
};

/* One entry per RFC 9293 state; section numbers are RFC 9293's. */
static const struct entry entries[] = {
	{TS_LISTEN,
	 "Waiting for a connection request from any remote TCP (section 3.3.2). Only servers "
	 "have it: a socket after listen().",
	 "The server, after listen(). No segment is involved.",
	 "Until the program closes the socket. Recv-Q shows connections waiting in the accept "
	 "queue, Send-Q its limit (the backlog, capped by net.core.somaxconn).",
	 "Many listeners are normal. A Recv-Q near Send-Q means the program does not accept() "
	 "fast enough: SYNs are being dropped or answered with cookies (netstat -s | grep -i "
	 "listen)."},
	{TS_SYN_SENT,
	 "A SYN has been sent; waiting for the matching SYN (usually a SYN-ACK) (3.5).",
	 "The client (the active opener), after connect() sends its SYN.",
	 NULL, /* the running kernel's rule: syn_sent_lasts() */
	 "Many sockets in SYN-SENT mean the far side does not answer: a firewall dropping SYNs, "
	 "a dead host, or a full SYN queue there. tcpstate top -i shows whether SYN-ACKs come "
	 "back at all."},
	{TS_SYN_RECV,
	 "A SYN has been received and a SYN-ACK sent; waiting for the ACK that completes the "
	 "handshake (3.5).",
	 "The server (passive opener), when a SYN arrives on a listening port. On Linux it is a "
	 "small request socket, not yet a full one.",
	 "Until the client's ACK arrives, or the SYN-ACK has been retransmitted "
	 "net.ipv4.tcp_synack_retries times (default 5: about 63 s).",
	 "Many SYN-RECEIVED sockets mean clients do not complete handshakes: a SYN flood (look "
	 "at net.ipv4.tcp_syncookies and the source spread), or lost ACKs on the way back."},
	{TS_ESTABLISHED, "The connection is open; data flows both ways (3.3.2). The normal state.",
	 "Both ends: the client when the SYN-ACK arrives, the server when the ACK of its SYN "
	 "arrives.",
	 "As long as the program keeps it open. Idle connections are kept forever unless the "
	 "program enables keepalive (net.ipv4.tcp_keepalive_time, default 7200 s).",
	 "Many established sockets are just many connections. Check the Send-Q and Recv-Q "
	 "columns for stuck ones, and tcpstate top -i for connections whose peer has already "
	 "gone."},
	{TS_FIN_WAIT1,
	 "The local program closed (or shut down writing); our FIN is sent and not yet "
	 "acknowledged (3.6).",
	 "The side that closes first (the active closer), when it sends its FIN.",
	 "Normally one round trip. If the FIN is never acknowledged it is retransmitted; an "
	 "orphaned socket gives up after net.ipv4.tcp_orphan_retries.",
	 "Many FIN-WAIT-1 sockets mean the peers do not acknowledge FINs: a peer that stopped "
	 "reading with a full window (Send-Q is large), or a path that drops packets."},
	{TS_FIN_WAIT2,
	 "Our FIN has been acknowledged; waiting for the peer's FIN (3.6). The connection is "
	 "half-closed: the peer may still send data.",
	 "The active closer, when the ACK of its FIN arrives.",
	 "Until the peer sends its FIN. For an orphaned socket (the program has closed it) at "
	 "most net.ipv4.tcp_fin_timeout (default 60 s); a socket the program still holds "
	 "(after shutdown()) waits indefinitely.",
	 "Many FIN-WAIT-2 sockets mean peers that acknowledge our FIN but never close their "
	 "side: the peer program is not calling close(). It is the peer's CLOSE-WAIT; tcpstate "
	 "top -i shows the peer's state."},
	{TS_CLOSE_WAIT,
	 "The peer has closed its side (its FIN arrived); waiting for the local program to "
	 "close (3.6).",
	 "The passive closer, when the peer's FIN arrives.",
	 "Until the local program calls close() or shutdown(). There is no timer: a socket can "
	 "sit in CLOSE-WAIT for ever.",
	 "Many CLOSE-WAIT sockets are a bug in the local program: it does not close sockets "
	 "whose peer has gone (a missing close() on an error path, a leaked connection in a "
	 "pool). No sysctl fixes it. Find the owner and how long it has been so: tcpstate list "
	 "-p state close-wait, or tcpstate top (the header names the top holders)."},
	{TS_CLOSING,
	 "Both sides sent FINs at the same time: our FIN is not yet acknowledged, but the "
	 "peer's FIN has arrived (3.6, simultaneous close).",
	 "Either side, in a simultaneous close: it was in FIN-WAIT-1 when the peer's FIN "
	 "arrived.",
	 "One round trip, until the ACK of our FIN arrives; then TIME-WAIT.",
	 "Rare. Many CLOSING sockets mean ACKs of FINs are being lost."},
	{TS_LAST_ACK,
	 "The passive closer has closed too: its FIN is sent, waiting for the last ACK (3.6).",
	 "The passive closer, when it sends its FIN from CLOSE-WAIT.",
	 "One round trip. If the last ACK is lost the FIN is retransmitted (the peer in "
	 "TIME-WAIT answers it again).",
	 "Many LAST-ACK sockets mean the last ACKs are lost, or peers that vanished after "
	 "sending their FIN."},
	{TS_TIME_WAIT,
	 "The connection is closed; the socket waits so that late duplicate segments of it die "
	 "out and the final ACK can be repeated if the peer's FIN comes again (3.6, 3.10.8).",
	 "The active closer (the side that sent the first FIN), when the peer's FIN arrives "
	 "after its own was acknowledged; or both sides after a simultaneous close.",
	 "2 x MSL. RFC 793 sets MSL to 2 minutes, so 4 minutes of TIME-WAIT; Linux fixes it at "
	 "60 s (TCP_TIMEWAIT_LEN) and no sysctl changes that. tcp_fin_timeout does not: it "
	 "bounds orphaned FIN-WAIT-2.",
	 "TIME-WAIT sockets are cheap (no buffers, no file). They matter only when one source "
	 "address runs out of ephemeral ports to one destination: tcpstate list -s shows port "
	 "use per source address and destination. Remedies: reuse connections (keep-alive, pools); "
	 "tw-reuse=1 on "
	 "the connecting side; a wider port-range. See tcpstate tune show and tcpstate tune "
	 "guide."},
	{TS_CLOSE,
	 "No connection (3.3.2): the fictional state before the first SYN and after the last "
	 "ACK or an RST.",
	 "Any socket: after an RST, after LAST-ACK's ACK, after TIME-WAIT expires, or a socket "
	 "that was never connected.",
	 "Not a waiting state. ss shows such TCP sockets only when bound and not listening.",
	 "Bound, unconnected sockets are harmless; they hold their port."},
};

static const char handshake[] =
	"Three-way handshake (RFC 9293 section 3.5, figure 6)\n"
	"\n"
	"   client                                             server\n"
	"   CLOSED                                             LISTEN\n"
	"   SYN-SENT     --> <SEQ=A><CTL=SYN>              --> SYN-RECEIVED\n"
	"   ESTABLISHED  <-- <SEQ=B><ACK=A+1><CTL=SYN,ACK> <-- SYN-RECEIVED\n"
	"   ESTABLISHED  --> <SEQ=A+1><ACK=B+1><CTL=ACK>   --> ESTABLISHED\n"
	"\n"
	"A and B are the initial sequence numbers each side picks.  A SYN occupies\n"
	"one sequence number, so the first data byte is A+1 (client) and B+1\n"
	"(server), and each side acknowledges the other's SYN with ISN+1.  In\n"
	"SYN-SENT a SYN-ACK is acceptable only if its ACK is A+1 (more precisely,\n"
	"ISS < ACK <= SND.NXT: with TCP Fast Open the SYN carries data); an RST is\n"
	"acceptable there only if it acknowledges the SYN.\n"
	"\n"
	"Simultaneous open (figure 8): both send SYNs, both go SYN-SENT ->\n"
	"SYN-RECEIVED -> ESTABLISHED, each acknowledging the other's SYN.\n";

static const char closes[] =
	"Normal close (RFC 9293 section 3.6, figure 12)\n"
	"\n"
	"   active closer                                     passive closer\n"
	"   ESTABLISHED                                       ESTABLISHED\n"
	"   FIN-WAIT-1   --> <SEQ=X><ACK=Y><CTL=FIN,ACK>   --> CLOSE-WAIT\n"
	"   FIN-WAIT-2   <-- <SEQ=Y><ACK=X+1><CTL=ACK>     <-- CLOSE-WAIT\n"
	"                     (the program there calls close())\n"
	"   TIME-WAIT    <-- <SEQ=Y><ACK=X+1><CTL=FIN,ACK> <-- LAST-ACK\n"
	"   TIME-WAIT    --> <SEQ=X+1><ACK=Y+1><CTL=ACK>   --> CLOSED\n"
	"   (2 x MSL; 60 s on Linux)\n"
	"   CLOSED\n"
	"\n"
	"A FIN occupies one sequence number after the data it carries: a FIN at\n"
	"sequence X carrying L bytes is acknowledged by X+L+1.\n"
	"\n"
	"Simultaneous close (figure 13): both send FINs before receiving the\n"
	"other's; \"...\" is a segment still on its way.\n"
	"\n"
	"   ESTABLISHED                                       ESTABLISHED\n"
	"   FIN-WAIT-1   --> <SEQ=X><ACK=Y><CTL=FIN,ACK>   ... FIN-WAIT-1\n"
	"                <-- <SEQ=Y><ACK=X><CTL=FIN,ACK>   <--\n"
	"                ... <SEQ=X><ACK=Y><CTL=FIN,ACK>   -->\n"
	"   CLOSING      --> <SEQ=X+1><ACK=Y+1><CTL=ACK>   ... CLOSING\n"
	"                <-- <SEQ=Y+1><ACK=X+1><CTL=ACK>   <--\n"
	"                ... <SEQ=X+1><ACK=Y+1><CTL=ACK>   -->\n"
	"   TIME-WAIT                                         TIME-WAIT\n"
	"   (2 x MSL; 60 s on Linux)                          (2 x MSL)\n"
	"   CLOSED                                            CLOSED\n"
	"\n"
	"Each side gets the other's FIN in FIN-WAIT-1, before the ACK of its own:\n"
	"it goes to CLOSING and acknowledges it.  Only the ACK of its own FIN\n"
	"takes it on to TIME-WAIT, so both sides are in CLOSING together, and both\n"
	"end in TIME-WAIT.\n"
	"\n"
	"Half close: shutdown(SHUT_WR) sends a FIN but keeps receiving.\n"
	"\n"
	"   FIN-WAIT-1   --> FIN                          --> CLOSE-WAIT\n"
	"   FIN-WAIT-2   <-- ACK                          <-- CLOSE-WAIT\n"
	"   FIN-WAIT-2   <-- data ... (still flowing)     <-- CLOSE-WAIT\n"
	"   FIN-WAIT-2   --> ACK of the data              --> CLOSE-WAIT\n"
	"   TIME-WAIT    <-- FIN (when it is done)        <-- LAST-ACK\n"
	"\n"
	"Abort: close() with SO_LINGER 0, or with unread data, sends an RST and both\n"
	"sides go straight to CLOSED, without TIME-WAIT.\n";

static const char myths[] =
	"Myths about TIME-WAIT, where they come from, and what is true\n"
	"\n"
	"\"TIME-WAIT lasts a maximum of four minutes, known as an MSL.\"\n"
	"  MSL (maximum segment lifetime) is 2 minutes in RFC 793 and TIME-WAIT is\n"
	"  2 x MSL: 4 minutes by the RFC.  Linux does not follow it: TIME-WAIT lasts\n"
	"  60 s (TCP_TIMEWAIT_LEN), fixed at compile time.\n"
	"\n"
	"\"Lower net.ipv4.tcp_fin_timeout to shorten TIME-WAIT.\"\n"
	"  The name invites it.  It bounds how long an orphaned socket waits in\n"
	"  FIN-WAIT-2 for the peer's FIN.  TIME-WAIT stays 60 s.\n"
	"\n"
	"\"Reduce TIME-WAIT with net.ipv4.vs.timeout_timewait.\"\n"
	"  That is IPVS, the kernel's load balancer, not TCP sockets; in current\n"
	"  kernels its entry is compiled out.  IPVS timeouts: ipvsadm --set.\n"
	"\n"
	"\"Turn on net.ipv4.tcp_tw_recycle.\"\n"
	"  Removed in Linux 4.12: it dropped SYNs from clients behind NAT.  For\n"
	"  outgoing connections use tcp_tw_reuse (tcpstate tune show tw-reuse).\n"
	"\n"
	"\"CLOSE-WAIT can be tuned away.\"\n"
	"  It is the local program not calling close().  Find it:\n"
	"  tcpstate list -p state close-wait\n";

/* "  Label:   text" wrapped at 78 columns under the text's first column. */
static void field(const char *label, const char *text)
{
	int col = printf("  %-9s", label);
	const int indent = col;
	const char *p = text;

	while (*p) {
		const char *sp = strchr(p, ' ');
		int n = sp ? (int)(sp - p) : (int)strlen(p);
		if (col > indent && col + 1 + n > 78) {
			printf("\n%*s", indent, "");
			col = indent;
		}
		col += printf("%s%.*s", col > indent ? " " : "", n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
	putchar('\n');
}

/* A knob of this namespace's /proc/sys, as a number; -1 when absent or unreadable. */
static long knob_value(const char *name)
{
	long v;

	if (sysctl_read_longs(name, &v, 1) < 0 || v < 0 || v > 1L << 40)
		return -1;
	return v;
}

static size_t append(char *buf, size_t len, size_t o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t len, size_t o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o >= len)
		return o;
	va_start(ap, fmt);
	n = vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
	return n < 0 ? o : o + (size_t)n;
}

#define SYN_TIMES_SHOWN 12

/*
 * How long SYN-SENT lasts when nothing answers, from this kernel's knobs
 * and its rule (knob_syn_schedule()): the retransmission times and the
 * failure, as they follow from tcp_syn_retries and, since Linux 6.5,
 * tcp_syn_linear_timeouts.
 */
static void syn_sent_lasts(char *buf, size_t len)
{
	long retries = knob_value("net.ipv4.tcp_syn_retries");
	long linear = knob_value("net.ipv4.tcp_syn_linear_timeouts");
	long rto_max = knob_value("net.ipv4.tcp_rto_max_ms");
	uint64_t at[SYN_TIMES_SHOWN];
	struct syn_schedule s;
	size_t o = 0;

	o = append(buf, len, o, "Until a SYN-ACK arrives, or connect() fails with ETIMEDOUT. ");
	if (retries < 0) {
		/* Without /proc/sys: the defaults, and what changed in 6.5. */
		append(buf, len, o,
		       "(net.ipv4.tcp_syn_retries could not be read.) With the defaults, "
		       "tcp_syn_retries 6 and, since Linux 6.5, tcp_syn_linear_timeouts 4, the SYN "
		       "is retransmitted 10 times: at 1, 2, 3, 4 and 5 s, then at doubling "
		       "intervals, and connect() fails after 131 s (127 s and 6 retransmissions "
		       "before 6.5).");
		return;
	}
	knob_syn_schedule((unsigned)retries, linear > 0 ? (unsigned)linear : 0,
			  rto_max > 0 ? (uint64_t)rto_max : 120000, &s, at, SYN_TIMES_SHOWN);
	o = append(buf, len, o, "Here net.ipv4.tcp_syn_retries is %ld", retries);
	if (linear >= 0)
		o = append(buf, len, o, " and net.ipv4.tcp_syn_linear_timeouts %ld", linear);
	else
		o = append(buf, len, o, " (no tcp_syn_linear_timeouts: a kernel before 6.5)");
	if (rto_max > 0 && rto_max != 120000)
		o = append(buf, len, o, ", with tcp_rto_max_ms %ld", rto_max);
	o = append(buf, len, o, ": the SYN is retransmitted %u time%s, ", s.retransmits,
		   s.retransmits == 1 ? "" : "s");
	for (unsigned i = 0; i < s.retransmits && i < SYN_TIMES_SHOWN; i++) {
		const char *sep = ", ";
		if (i == 0)
			sep = "at ";
		else if (i + 1 == s.retransmits)
			sep = " and ";
		o = append(buf, len, o, "%s%g", sep, (double)at[i] / 1000);
	}
	if (s.retransmits > SYN_TIMES_SHOWN)
		o = append(buf, len, o, ", ...");
	o = append(buf, len, o, " s after the first, and connect() fails after %g s. ",
		   (double)s.fail_ms / 1000);
	/* tcp_rto_max_ms caps the timer (never below its 1 s start): at 1 s it never doubles. */
	double cap = (rto_max > 1000 ? (double)rto_max : rto_max > 0 ? 1000 : 120000) / 1000;
	if (cap <= 1)
		o = append(buf, len, o,
			   "The timer starts at 1 s and stays there: tcp_rto_max_ms caps it. ");
	else if (linear > 0)
		o = append(buf, len, o,
			   "The timer starts at 1 s and keeps that length for the first "
			   "tcp_syn_linear_timeouts retransmissions, then doubles, up to "
			   "tcp_rto_max_ms (%g s). ",
			   cap);
	else
		o = append(buf, len, o,
			   "The timer starts at 1 s and doubles with each retransmission, up to "
			   "tcp_rto_max_ms (%g s). ",
			   cap);
	if (linear > 0)
		o = append(buf, len, o,
			   "The kernel gives up after tcp_syn_retries + tcp_syn_linear_timeouts "
			   "retransmissions, or once the time tcp_syn_retries retransmissions with "
			   "doubling intervals would take (%g s here) has passed, whichever comes "
			   "first%s. ",
			   (double)s.model_ms / 1000, s.by_time ? " (here the time)" : "");
	append(buf, len, o,
	       "Long timers fire a little late (up to about an eighth), and a program may set its "
	       "own count with the TCP_SYNCNT socket option.");
}

static void print_entry(const struct entry *e)
{
	char lasts[2048];

	printf("%s\n", state_name(e->state));
	field("Means:", e->means);
	field("Who:", e->who);
	if (e->state == TS_SYN_SENT) {
		syn_sent_lasts(lasts, sizeof(lasts));
		field("Lasts:", lasts);
	} else {
		field("Lasts:", e->lasts);
	}
	field("If many:", e->many);
	putchar('\n');
}

static const struct entry *find_entry(int state)
{
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (entries[i].state == state)
			return &entries[i];
	return NULL;
}

/* ---- a connection's own story ----------------------------------------- */

struct story {
	uint32_t id;
	int found;
	struct engine *e;
};

static void on_event(void *arg, const struct engine_event *ev)
{
	struct story *s = arg;
	struct conn_info ci;
	char a[ADDR_STRLEN], p[ADDR_STRLEN], tbuf[32];

	engine_conn_info(s->e, ev->conn, &ci);
	if (ci.id != s->id)
		return;
	if (!s->found) {
		addr_format_port(a, ci.family, ci.addr[0], ci.port[0], 0);
		addr_format_port(p, ci.family, ci.addr[1], ci.port[1], 0);
		printf("Connection %u: %s (the originator, orig) to %s (resp)\n\n", ci.id, a, p);
		s->found = 1;
	}
	time_t secs = (time_t)(ev->ts_us / 1000000);
	struct tm tm;
	localtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	printf("%s.%06u  %s: %s -> %s, because: %s (%s)\n", tbuf, (unsigned)(ev->ts_us % 1000000),
	       ev->endpoint ? "resp" : "orig", state_name(ev->from ? ev->from : TS_CLOSE),
	       state_name(ev->to), engine_cause_name(ev->cause), engine_cause_rfc(ev->cause));
}

static int narrate(const struct cmd_entry *cmd, const char *file, uint32_t id)
{
	struct wire_opts wo;
	struct story s = {id, 0, NULL};
	char err[512];
	int usage;

	wire_opts_init(&wo);
	wo.file = file;
	struct engine_hooks hooks = {on_event, NULL, &s};
	struct wire *w = wire_open(&wo, &hooks, err, sizeof(err), &usage);
	if (!w) {
		if (usage)
			return cmd_usage_error(cmd, "%s", err);
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	s.e = wire_engine(w);
	int rc = wire_run(w, NULL, 0, err, sizeof(err));
	wire_close(w);
	if (rc < 0) {
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	if (!s.found) {
		cmd_error(cmd, "%s: no connection %u (see tcpstate list -r %s)", file, id, file);
		return EXIT_RUNTIME;
	}
	printf("\nStates are inferred from the packets; see doc/state-machine.md for what a\n"
	       "capture cannot show.  'tcpstate explain STATE' describes any of them.\n");
	return EXIT_OK;
}

struct explain_opts {
	struct wire_opts w;
	const char *conn, *netns;
};

static int on_opt(void *st, int id, const char *arg)
{
	struct explain_opts *o = st;

	if (id == O_CONN) {
		o->conn = arg;
		return 0;
	}
	if (id == O_NETNS) {
		o->netns = arg;
		return 0;
	}
	return cmd_wire_opt(&cmd_explain_entry, &o->w, id, arg);
}

/* A topic's text; "all" has none: it is every state and every text. */
struct topic {
	const char *text;
	const char *name;
};

#define TOPIC_ITEM(text, word) {text, word},

static const struct topic topics[] = {EXPLAIN_TOPICS(TOPIC_ITEM, , ){NULL, NULL}};

static const struct topic *topic_find(const char *name)
{
	for (const struct topic *t = topics; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* The topics, then the states by name ("all" is a topic already). */
static void complete_topics(const struct cmd_completion *c)
{
	for (const struct topic *t = topics; t->name; t++)
		cmd_offer(c, t->name);
	for (const char *const *w = state_words(); *w; w++)
		if (!topic_find(*w))
			cmd_offer(c, *w);
}

/* "all": every state in the order a connection meets them, then every text. */
static void explain_all(void)
{
	static const int order[] = {TS_LISTEN,	  TS_SYN_SENT,	TS_SYN_RECV,   TS_ESTABLISHED,
				    TS_FIN_WAIT1, TS_FIN_WAIT2, TS_CLOSE_WAIT, TS_CLOSING,
				    TS_LAST_ACK,  TS_TIME_WAIT, TS_CLOSE};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		print_entry(find_entry(order[i]));
	for (const struct topic *t = topics; t->text; t++) {
		if (t != topics)
			putchar('\n');
		fputs(t->text, stdout);
	}
}

static int run_explain(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct explain_opts o;
	char **args;
	int nargs, rc;

	memset(&o, 0, sizeof(o));
	wire_opts_init(&o.w);
	rc = cmd_parse(cmd, argc, argv, on_opt, &o, &nargs, &args);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	const char *conn = o.conn;
	struct wire_opts wo = o.w;
	if (conn || wo.file) {
		long id;
		if (!conn || !wo.file)
			return cmd_usage_error(cmd, "--conn ID and -r FILE go together");
		if (nargs)
			return cmd_usage_error(cmd, "a topic and --conn cannot be used together");
		if (parse_long(conn, 1, 4294967295L, &id) < 0)
			return cmd_usage_error(cmd, "--conn: invalid connection id \"%s\"", conn);
		if (o.netns)
			return cmd_usage_error(cmd,
					       "-N goes with a topic: a capture is the same in "
					       "any namespace");
		return narrate(cmd, wo.file, (uint32_t)id);
	}
	if (o.netns && (rc = cmd_enter_netns(cmd, o.netns)) != 0)
		return rc;
	const char *topic = nargs ? args[0] : "all";
	const struct topic *tp = topic_find(topic);
	if (tp && tp->text) {
		fputs(tp->text, stdout);
	} else if (tp) {
		explain_all();
	} else {
		state_mask m;
		if (state_parse(topic, &m) < 0)
			return cmd_usage_error(cmd,
					       "unknown topic \"%s\" (a state, " EXPLAIN_TOPICS(
						       WORD, ", ", " or ") ")",
					       topic);
		int shown = 0;
		for (int s = 1; s < TS_MAX; s++)
			if ((m & SM(s)) && s != TS_NEW_SYN_RECV && find_entry(s)) {
				print_entry(find_entry(s));
				shown++;
			}
		if (!shown)
			return cmd_usage_error(cmd, "unknown topic \"%s\"", topic);
	}
	return cmd_flush_stdout(cmd);
}
