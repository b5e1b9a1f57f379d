/*
 * topjson.c - top's frames as JSON lines (topjson.h).  Keys are written
 * whole, in the order doc/json.md lists them; what is not known is null,
 * never left out, so that a script reads every frame the same way.
 */
#include "topjson.h"

#include <sys/socket.h>

#include "addr.h"
#include "state.h"

/* Microseconds as seconds, to the microsecond: 1.000250. */
static void put_seconds(struct out *o, uint64_t us)
{
	out_printf(o, "%llu.%06u", (unsigned long long)(us / 1000000), (unsigned)(us % 1000000));
}

/* A state name, or null for none (TS_NONE). */
static void put_state(struct out *o, int state)
{
	if (state)
		out_json_str(o, state_name(state));
	else
		out_str(o, "null");
}

static void put_bool(struct out *o, int v)
{
	out_str(o, v ? "true" : "false");
}

/*
 * The addresses as list --json writes them: a listener's peer is "*" and 0.
 * A row only the wire sees has no local end: it runs from the connection's
 * originator to its responder.
 */
static void put_ends(struct out *o, const struct sock_rec *s)
{
	char buf[ADDR_STRLEN];
	int listen = s->state == TS_LISTEN;

	out_str(o, ",\"family\":");
	out_str(o, s->family == AF_INET ? "\"ipv4\"" : "\"ipv6\"");
	addr_format(buf, s->family, s->laddr);
	out_str(o, ",\"local_addr\":");
	out_json_str(o, buf);
	out_printf(o, ",\"local_port\":%u,\"peer_addr\":", s->lport);
	if (listen) {
		out_str(o, "\"*\"");
	} else {
		addr_format(buf, s->family, s->raddr);
		out_json_str(o, buf);
	}
	out_printf(o, ",\"peer_port\":%u", listen ? 0 : s->rport);
}

/*
 * The wire's view: each end's state, or null where the capture has no
 * view of the socket (it began before top did, and has been quiet since).
 * Sure unless the capture picked the connection up mid-stream and guessed.
 */
static void put_wire(struct out *o, const struct top_row *r)
{
	out_str(o, ",\"wire_local\":");
	put_state(o, r->wire[0]);
	out_str(o, ",\"wire_peer\":");
	put_state(o, r->wire[1]);
	out_str(o, ",\"wire_sure\":");
	if (r->wire[0])
		put_bool(o, !(r->wire_unsure & 1));
	else
		out_str(o, "null");
	out_str(o, ",\"wire_disagree\":");
	put_bool(o, r->disagree);
	out_str(o, ",\"wire_only\":");
	put_bool(o, r->wire_only);
}

/* The process that holds the socket, or held it before it closed it (the table's ~). */
static void put_process(struct out *o, const struct top_row *r)
{
	out_str(o, ",\"process\":");
	if (!r->pid) {
		out_str(o, "null");
		return;
	}
	out_printf(o, "{\"pid\":%d,\"comm\":", (int)r->pid);
	out_json_str(o, r->comm);
	out_printf(o, ",\"fd\":%d,\"closed\":", r->fd);
	put_bool(o, r->remembered);
	out_char(o, '}');
}

/* A string, or null. */
static void put_str(struct out *o, const char *key, const char *v)
{
	out_printf(o, ",\"%s\":", key);
	if (v)
		out_json_str(o, v);
	else
		out_str(o, "null");
}

/*
 * top -A: the row's namespace as list -A gives it (netns, netns_inode,
 * container, netns_pid), all null for a row only the wire sees.
 */
static void put_netns(struct out *o, const struct topmodel *m, const struct top_row *r)
{
	const struct top_ns *ns = topmodel_ns_of(m, r);

	if (!topmodel_stats(m)->namespaces)
		return;
	put_str(o, "netns", ns ? ns->name : NULL);
	if (ns)
		out_printf(o, ",\"netns_inode\":%llu", (unsigned long long)ns->ino);
	else
		out_str(o, ",\"netns_inode\":null");
	put_str(o, "container", ns ? ns->container : NULL);
	if (ns && ns->pid)
		out_printf(o, ",\"netns_pid\":%d", (int)ns->pid);
	else
		out_str(o, ",\"netns_pid\":null");
}

void topjson_row(struct out *o, const struct topmodel *m, const struct top_row *r)
{
	const struct sock_rec *s = &r->s;

	out_str(o, "{\"state\":");
	/* A connection only the wire sees has no kernel state. */
	put_state(o, r->wire_only ? TS_NONE : s->state);
	put_ends(o, s);
	out_printf(o, ",\"recv_q\":%u,\"send_q\":%u", s->recv_q, s->send_q);
	put_wire(o, r);
	put_process(o, r);
	out_str(o, ",\"age_s\":");
	put_seconds(o, topmodel_age(m, r));
	out_str(o, ",\"age_exact\":");
	put_bool(o, r->since_exact);
	if (s->has_info)
		out_printf(o, ",\"rtt_us\":%u,\"total_retrans\":%u", s->info.rtt_us,
			   s->info.total_retrans);
	else
		out_str(o, ",\"rtt_us\":null,\"total_retrans\":null");
	put_netns(o, m, r);
	out_char(o, '}');
}

/* A number, or null. */
static void put_num(struct out *o, const char *key, int known, double v)
{
	out_printf(o, ",\"%s\":", key);
	if (known)
		out_printf(o, "%.1f", v);
	else
		out_str(o, "null");
}

/*
 * A live capture's drops (the kernel's and its reader's, in all and a
 * second), packets a second and the capture thread's CPU share; null for
 * a file, and for what is not known yet.
 */
static void put_live(struct out *o, const struct topjson_wire *w)
{
	if (w->live)
		out_printf(o, ",\"tcpstate_dropped\":%llu",
			   (unsigned long long)w->tcpstate_dropped);
	else
		out_str(o, ",\"tcpstate_dropped\":null");
	if (w->live && w->kernel_counts)
		out_printf(o, ",\"dropped\":%llu",
			   (unsigned long long)(w->kernel_dropped + w->tcpstate_dropped));
	else
		out_str(o, ",\"dropped\":null");
	int rates = w->live && w->rates;
	put_num(o, "packets_per_s", rates, w->packets_per_s);
	put_num(o, "dropped_per_s", rates, w->dropped_per_s);
	put_num(o, "capture_cpu_pct", rates && w->capture_cpu_pct >= 0, w->capture_cpu_pct);
}

/* The capture's figures, or null and why there is none. */
static void put_capture(struct out *o, const struct topjson_wire *w)
{
	out_str(o, ",\"wire\":");
	if (!w->source) {
		out_str(o, "null,\"wire_off_reason\":");
		if (w->off_reason)
			out_json_str(o, w->off_reason);
		else
			out_str(o, "null");
		return;
	}
	out_str(o, "{\"source\":");
	out_json_str(o, w->source);
	out_printf(o, ",\"packets\":%llu,\"connections\":%llu", (unsigned long long)w->packets,
		   (unsigned long long)w->conns);
	if (w->kernel_counts)
		out_printf(o, ",\"kernel_received\":%llu,\"kernel_dropped\":%llu",
			   (unsigned long long)w->kernel_received,
			   (unsigned long long)w->kernel_dropped);
	else
		out_str(o, ",\"kernel_received\":null,\"kernel_dropped\":null");
	put_live(o, w);
	out_char(o, '}');
}

void topjson_frame(struct out *o, const struct topmodel *m, uint64_t ts_us,
		   const struct topjson_wire *w, const uint32_t *idx, size_t n, size_t matching)
{
	out_str(o, "{\"ts\":");
	put_seconds(o, ts_us);
	put_capture(o, w);
	if (topmodel_stats(m)->namespaces) /* top -A */
		out_printf(o, ",\"namespaces\":%u", topmodel_stats(m)->namespaces);
	out_printf(o, ",\"rows_matching\":%llu,\"rows\":[", (unsigned long long)matching);
	for (size_t i = 0; i < n; i++) {
		if (i)
			out_char(o, ',');
		topjson_row(o, m, topmodel_row(m, idx[i]));
	}
	out_str(o, "]}\n");
}
