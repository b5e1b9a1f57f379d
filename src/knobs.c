/*
 * knobs.c - the knob table, and the kernel's rule for retransmitting an
 * unanswered SYN.  Meanings and ranges were checked against the kernel's
 * Documentation/networking/ip-sysctl.rst and net/ipv4/sysctl_net_ipv4.c,
 * the SYN rule against net/ipv4/tcp_timer.c and connect()s measured in a
 * namespace; the sentences are ours.
 */
#include "knobs.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct knob knob_table[] = {
	{"net.ipv4.tcp_tw_reuse", "tw-reuse", KNOB_INT, 0, 2, NULL, "2", 1, "4.11",
	 "Lets an outgoing connect() reuse a 4-tuple that is still in TIME-WAIT, when TCP "
	 "timestamps prove the new connection's segments cannot be taken for the old one's. "
	 "0 never, 1 always, 2 (the default since 4.19) for loopback only. It helps only the side "
	 "that connects, never a server's accepted sockets, and needs tcp_timestamps."},
	{"net.ipv4.tcp_tw_reuse_delay", "tw-reuse-delay", KNOB_INT, 1, 60000, "ms", "1000", 1,
	 "6.14",
	 "How long a TIME-WAIT socket must have existed before tcp_tw_reuse may reuse its tuple. "
	 "It must not be shorter than the peer's timestamp clock tick, or PAWS on the peer may "
	 "drop the new connection's segments."},
	{"net.ipv4.tcp_max_tw_buckets", "max-tw", KNOB_INT, 0, 2147483647, NULL,
	 "half the established hash size", 1, "4.11",
	 "The most TIME-WAIT sockets the namespace keeps. Past it, a closing socket skips "
	 "TIME-WAIT entirely and TCPTimeWaitOverflow counts it. Lowering it is a defence against "
	 "memory exhaustion, not tuning: connections closed without TIME-WAIT lose its protection "
	 "against old duplicate segments."},
	{"net.ipv4.tcp_fin_timeout", "fin-timeout", KNOB_INT, 1, 86400, "s", "60", 1, "4.6",
	 "How long an orphaned socket (closed by its program) stays in FIN-WAIT-2 waiting for the "
	 "peer's FIN. It does not shorten TIME-WAIT, whatever much advice says: TIME-WAIT is fixed "
	 "at 60 s on Linux."},
	{"net.ipv4.ip_local_port_range", "port-range", KNOB_PORT_RANGE, 1, 65535, NULL,
	 "32768 60999", 1, "3.13",
	 "The ephemeral ports connect() picks from. Each local address can use each port once per "
	 "destination address and port, so this is the ceiling on concurrent (and TIME-WAIT) "
	 "connections to one backend. LOW must not exceed HIGH nor fall below "
	 "ip_unprivileged_port_start; the kernel warns when both ends have the same parity, since "
	 "it splits the range by parity between connect() and bind()."},
	{"net.ipv4.ip_local_reserved_ports", "reserved-ports", KNOB_PORT_LIST, 1, 65535, NULL, "",
	 1, "3.16",
	 "Ports never chosen automatically (for connect() or bind() to port 0), as a list of "
	 "ports and ranges: 8080,9000-9100. Use it to keep a service's port free when it sits "
	 "inside the ephemeral range."},
	{"net.ipv4.tcp_timestamps", "timestamps", KNOB_INT, 0, 2, NULL, "1", 1, "4.10",
	 "TCP timestamps (RFC 7323): 0 off, 1 on with a random offset per connection, 2 on "
	 "without it. tcp_tw_reuse depends on them, and so does PAWS protection of fast "
	 "connections."},
	{"net.ipv4.tcp_max_orphans", "max-orphans", KNOB_INT, 0, 2147483647, NULL,
	 "scaled to memory", 0, "2.4",
	 "The most sockets not attached to any file descriptor (closed by their program, still "
	 "in FIN-WAIT-1, FIN-WAIT-2, CLOSING or LAST-ACK). Past it they are reset at once. "
	 "Global: it exists only in the initial network namespace."},
	{"net.netfilter.nf_conntrack_tcp_timeout_time_wait", "ct-time-wait", KNOB_INT, 1,
	 2147483647, "s", "120", 1, "2.6.20",
	 "How long conntrack keeps a flow in its own TIME_WAIT. It is separate from the socket's "
	 "TIME-WAIT: with conntrack loaded, a new SYN on the same 4-tuple can be held for up to "
	 "this long after the socket is gone. Present only when nf_conntrack is loaded."},
	/* Myths: names people are told to set. */
	{"net.ipv4.tcp_tw_recycle", "tw-recycle", KNOB_MYTH, 0, 0, NULL, "-", 0, "removed in 4.12",
	 "Removed in Linux 4.12. It dropped SYNs whose timestamps went backwards, which broke "
	 "clients behind NAT (their timestamps come from different hosts). Nothing replaces it: "
	 "for outgoing connections use tw-reuse; for exhausted ports widen port-range or keep "
	 "connections open (pooling)."},
	{"net.ipv4.vs.timeout_timewait", "vs-timewait", KNOB_MYTH, 0, 0, NULL, "-", 0, "IPVS only",
	 "An IPVS (the kernel's load balancer) setting, not TCP's, and in current kernels its "
	 "table entry is compiled out (#if 0). It never changed sockets' TIME-WAIT. IPVS timeouts "
	 "are set with: ipvsadm --set TCP TCPFIN UDP."},
	{"net.ipv4.tcp_timewait_len", "time-wait", KNOB_MYTH, 0, 0, NULL, "-", 0, "never existed",
	 "There is no sysctl for the length of TIME-WAIT on Linux: it is TCP_TIMEWAIT_LEN, 60 s, "
	 "fixed at compile time. RFC 793 sets TIME-WAIT to 2 x MSL with MSL = 2 minutes; Linux "
	 "uses a shorter fixed value. tcp_fin_timeout is often mistaken for it; it bounds orphaned "
	 "FIN-WAIT-2 instead. To live with many TIME-WAIT sockets: tw-reuse on the connecting "
	 "side, "
	 "a wider port-range, or fewer, longer connections."},
	{NULL, NULL, KNOB_INT, 0, 0, NULL, NULL, 0, NULL, NULL},
};

static const char *short_name(const char *name)
{
	static const char *const prefixes[] = {"net.ipv4.", "net.netfilter.", NULL};
	for (int i = 0; prefixes[i]; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], n) == 0)
			return name + n;
	}
	return name;
}

const struct knob *knob_find(const char *name)
{
	char norm[128];
	size_t n = strlen(name);

	if (n >= sizeof(norm))
		return NULL;
	/* sysctl accepts '/' for '.'; so do we.  Aliases take '_' for '-'. */
	char alias[128];
	for (size_t i = 0; i <= n; i++) {
		norm[i] = name[i] == '/' ? '.' : name[i];
		alias[i] = name[i] == '_' ? '-' : name[i];
	}
	for (const struct knob *k = knob_table; k->name; k++)
		if (strcmp(norm, k->name) == 0 || strcmp(alias, k->alias) == 0 ||
		    strcmp(norm, short_name(k->name)) == 0)
			return k;
	return NULL;
}

/* Edit distance, bounded: names are short. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[64][64];

	if (la > 63 || lb > 63)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			d[i][j] = c;
		}
	return d[la][lb];
}

const char *knob_suggest(const char *name)
{
	const char *best = NULL;
	int bestd = 99;
	const char *s = short_name(name);

	for (const struct knob *k = knob_table; k->name; k++) {
		const char *cands[3] = {k->name, k->alias, short_name(k->name)};
		for (int i = 0; i < 3; i++) {
			int dd = distance(i == 0 ? name : s, cands[i]);
			if (dd < bestd) {
				bestd = dd;
				best = k->name;
			}
		}
		/* A word of the name inside the knob's: "tw_reuse" in tcp_tw_reuse. */
		if (bestd > 2 && strlen(s) >= 4 && strstr(k->name, s)) {
			bestd = 2;
			best = k->name;
		}
	}
	return bestd <= 4 ? best : NULL;
}

void knob_path(const struct knob *k, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "/proc/sys/");
	for (const char *p = k->name; *p && o + 1 < len; p++)
		buf[o++] = *p == '.' ? '/' : *p;
	buf[o < len ? o : len - 1] = '\0';
}

static int parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || (!isdigit((unsigned char)*s) && *s != '-'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * The checks of knob_validate(); with `advised` 0 only the form the kernel
 * shows (a whole number, two of them, a list of ports and ranges), not the
 * ranges tcpstate advises, nor ip_unprivileged_port_start.
 */
static int check(const struct knob *k, const char *value, long unpriv_start, int advised,
		 char *norm, size_t normlen, char *err, size_t errlen, char *warn, size_t warnlen)
{
	long lo, hi, v;
	long min = advised ? k->min : LONG_MIN, max = advised ? k->max : LONG_MAX;
	long port_min = advised ? 1 : 0, port_max = advised ? 65535 : LONG_MAX;
	char buf[4096], *sp;

	warn[0] = '\0';
	switch (k->type) {
	case KNOB_MYTH:
		snprintf(err, errlen, "%s", k->meaning);
		return -1;
	case KNOB_INT:
		if (parse_num(value, min, max, &v) < 0) {
			if (!advised)
				snprintf(err, errlen, "%s: \"%s\" is not a whole number", k->name,
					 value);
			else
				snprintf(err, errlen,
					 "%s: \"%s\" is not a whole number from %ld to %ld%s%s",
					 k->name, value, k->min, k->max, k->unit ? " " : "",
					 k->unit ? k->unit : "");
			return -1;
		}
		snprintf(norm, normlen, "%ld", v);
		if (strcmp(k->name, "net.ipv4.tcp_fin_timeout") == 0)
			snprintf(warn, warnlen,
				 "tcp_fin_timeout bounds orphaned FIN-WAIT-2 only; "
				 "TIME-WAIT stays 60 s");
		if (strcmp(k->name, "net.ipv4.tcp_max_tw_buckets") == 0 && v < 10000)
			snprintf(warn, warnlen,
				 "sockets closed past %ld TIME-WAIT skip it and lose "
				 "its protection against old duplicates",
				 v);
		return 0;
	case KNOB_PORT_RANGE:
		snprintf(buf, sizeof(buf), "%s", value);
		for (sp = buf; *sp; sp++)
			if (*sp == ',' || *sp == '-' || *sp == '\t')
				*sp = ' ';
		if (sscanf(buf, "%ld %ld", &lo, &hi) != 2) {
			snprintf(err, errlen, "%s: \"%s\" is not \"LOW HIGH\"", k->name, value);
			return -1;
		}
		{
			char tail[8];
			if (sscanf(buf, "%*d %*d %7s", tail) == 1) {
				snprintf(err, errlen, "%s: \"%s\" is not \"LOW HIGH\"", k->name,
					 value);
				return -1;
			}
		}
		if (!advised) {
			snprintf(norm, normlen, "%ld %ld", lo, hi);
			return 0;
		}
		if (lo < 1 || hi > 65535 || lo > hi) {
			snprintf(err, errlen, "%s: need 1 <= LOW <= HIGH <= 65535, got %ld %ld",
				 k->name, lo, hi);
			return -1;
		}
		if (unpriv_start > 0 && lo < unpriv_start) {
			snprintf(
				err, errlen,
				"%s: LOW %ld is below ip_unprivileged_port_start (%ld); the kernel "
				"refuses it",
				k->name, lo, unpriv_start);
			return -1;
		}
		if ((lo & 1) == (hi & 1))
			snprintf(warn, warnlen,
				 "both ends are %s: the kernel prefers LOW and HIGH of different "
				 "parity, "
				 "as it splits the range by parity",
				 lo & 1 ? "odd" : "even");
		snprintf(norm, normlen, "%ld %ld", lo, hi);
		return 0;
	case KNOB_PORT_LIST: {
		size_t o = 0;
		if (strlen(value) >= sizeof(buf)) {
			snprintf(err, errlen, "%s: list too long", k->name);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", value);
		norm[0] = '\0';
		char *save = NULL;
		for (char *tok = strtok_r(buf, ", \t", &save); tok;
		     tok = strtok_r(NULL, ", \t", &save)) {
			char *dash = strchr(tok, '-');
			if (dash)
				*dash = '\0';
			if (parse_num(tok, port_min, port_max, &lo) < 0 ||
			    (dash && parse_num(dash + 1, port_min, port_max, &hi) < 0) ||
			    (dash && hi < lo)) {
				snprintf(err, errlen,
					 "%s: \"%s\" is not a list of ports and ranges "
					 "(8080,9000-9100)",
					 k->name, value);
				return -1;
			}
			int w = dash ? snprintf(norm + o, normlen - o, "%s%ld-%ld", o ? "," : "",
						lo, hi)
				     : snprintf(norm + o, normlen - o, "%s%ld", o ? "," : "", lo);
			if (w < 0 || (size_t)w >= normlen - o) {
				snprintf(err, errlen, "%s: list too long", k->name);
				return -1;
			}
			o += (size_t)w;
		}
		return 0;
	}
	}
	return -1;
}

int knob_validate(const struct knob *k, const char *value, long unpriv_start, char *norm,
		  size_t normlen, char *err, size_t errlen, char *warn, size_t warnlen)
{
	return check(k, value, unpriv_start, 1, norm, normlen, err, errlen, warn, warnlen);
}

int knob_check_form(const struct knob *k, const char *value, char *err, size_t errlen)
{
	char norm[4096], warn[8];

	return check(k, value, -1, 0, norm, sizeof(norm), err, errlen, warn, sizeof(warn));
}

/* The kernel's SYN timer, in milliseconds (TCP_TIMEOUT_INIT). */
#define SYN_RTO_INIT_MS 1000

void knob_syn_schedule(unsigned syn_retries, unsigned linear, uint64_t rto_max_ms,
		       struct syn_schedule *out, uint64_t *at, size_t nat)
{
	uint64_t rto = SYN_RTO_INIT_MS, t = 0;
	unsigned k = 0, thresh = 0;

	if (rto_max_ms < SYN_RTO_INIT_MS)
		rto_max_ms = SYN_RTO_INIT_MS;
	/* tcp_model_timeout(): doubling up to ilog2(rto_max / rto_base), then flat. */
	while (thresh < 32 && ((uint64_t)SYN_RTO_INIT_MS << (thresh + 1)) <= rto_max_ms)
		thresh++;
	if (syn_retries <= thresh)
		out->model_ms = ((2ULL << syn_retries) - 1) * SYN_RTO_INIT_MS;
	else
		out->model_ms = ((2ULL << thresh) - 1) * SYN_RTO_INIT_MS +
				(uint64_t)(syn_retries - thresh) * rto_max_ms;
	/* Each expiry: give up (tcp_write_timeout()), or retransmit and set the timer again. */
	for (;;) {
		t += rto;
		if ((uint64_t)k >= (uint64_t)syn_retries + linear || (k > 0 && t >= out->model_ms))
			break;
		if (at && k < nat)
			at[k] = t;
		k++;
		if (k > linear)
			rto = rto * 2 < rto_max_ms ? rto * 2 : rto_max_ms;
	}
	out->retransmits = k;
	out->linear_sent = k < linear ? k : linear;
	out->fail_ms = t;
	out->by_time = (uint64_t)k < (uint64_t)syn_retries + linear;
}
