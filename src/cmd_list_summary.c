/*
 * cmd_list_summary.c - `tcpstate list -s`: sockets counted per state and
 * family, and the ephemeral-port census (how much of each source address
 * and destination's port budget is in use), as text, JSON or CSV.
 */
#include <stdio.h>
#include <sys/socket.h>

#include "addr.h"
#include "cmd_list_int.h"
#include "state.h"
#include "sysctl.h"

int list_port_range(long *lo, long *hi)
{
	long v[2];

	if (sysctl_read_longs("net.ipv4.ip_local_port_range", v, 2) < 0)
		return -1;
	*lo = v[0];
	*hi = v[1];
	return *lo >= 1 && *hi <= 65535 && *lo <= *hi ? 0 : -1;
}

#define TOP_DESTS 5

/*
 * The busiest pairs of source address and destination, one a line: each
 * pair has the whole range, so its share is what runs out.
 */
static void print_busiest(struct out *out, const struct census_dest *top, size_t ntop, long range)
{
	size_t w = 11, ws = 4;
	char dbuf[TOP_DESTS][ADDR_STRLEN], sbuf[TOP_DESTS][ADDR_STRLEN];

	for (size_t i = 0; i < ntop; i++) {
		size_t k = addr_format_port(dbuf[i], top[i].family, top[i].addr, top[i].port, 0);
		size_t ks = addr_format(sbuf[i], top[i].src_family, top[i].src);
		w = k > w ? k : w;
		ws = ks > ws ? ks : ws;
	}
	out_printf(out, "  %-*s %-*s %8s %9s %8s\n", (int)w, "Destination", (int)ws, "From",
		   "In use", "TIME-WAIT", "Of range");
	for (size_t i = 0; i < ntop; i++)
		out_printf(out, "  %-*s %-*s %8u %9u %7.1f%%\n", (int)w, dbuf[i], (int)ws, sbuf[i],
			   top[i].in_use, top[i].time_wait, 100.0 * top[i].in_use / (double)range);
}

/* Sockets of rows [first, end) by state and family (f6: 0 IPv4, 1 IPv6). */
void list_count_states(const struct store *s, size_t first, size_t end, uint64_t count[TS_MAX][2],
		       uint64_t total[2])
{
	for (size_t i = first; i < end; i++) {
		const struct sock_rec *r = store_at(s, i);
		int f6 = r->family == AF_INET6;
		count[r->state][f6]++;
		total[f6]++;
	}
}

/* The states object of list -s --json: {"LISTEN":{"ipv4":N,"ipv6":N},...} */
void list_json_states(struct out *out, uint64_t count[TS_MAX][2])
{
	int first = 1;

	out_char(out, '{');
	for (int st = 1; st < TS_MAX; st++) {
		if (st == TS_NEW_SYN_RECV)
			continue;
		out_printf(out, "%s\"%s\":{\"ipv4\":%llu,\"ipv6\":%llu}", first ? "" : ",",
			   state_name(st), (unsigned long long)count[st][0],
			   (unsigned long long)count[st][1]);
		first = 0;
	}
	out_char(out, '}');
}

/* The text table of states, after its "TCP sockets:" line. */
void list_text_states(struct out *out, const struct list_opts *o, uint64_t count[TS_MAX][2],
		      const uint64_t total[2])
{
	out_printf(out, "TCP sockets: %llu (IPv4 %llu, IPv6 %llu)\n\n",
		   (unsigned long long)(total[0] + total[1]), (unsigned long long)total[0],
		   (unsigned long long)total[1]);
	if (o->header)
		out_printf(out, "%-13s %8s %8s %8s\n", "State", "IPv4", "IPv6", "Total");
	for (int st = 1; st < TS_MAX; st++) {
		if (st == TS_NEW_SYN_RECV)
			continue;
		out_printf(out, "%-13s %8llu %8llu %8llu\n", state_name(st),
			   (unsigned long long)count[st][0], (unsigned long long)count[st][1],
			   (unsigned long long)(count[st][0] + count[st][1]));
	}
}

void list_print_summary(struct out *out, const struct list_opts *o, const struct list_sum *sm)
{
	uint64_t count[TS_MAX][2] = {{0}}, total[2] = {0, 0};
	long lo = sm->lo, hi = sm->hi;
	int have_range = lo > 0 && sm->census;
	/* No census (the CSV total of list -A -s): states only. */
	static const struct census_totals none;
	const struct census_totals *ct = sm->census ? census_totals(sm->census) : &none;
	uint64_t in_use = ct->in_use, tw = ct->time_wait;
	struct census_dest top[TOP_DESTS];
	size_t ntop = sm->census ? census_busiest(sm->census, top, TOP_DESTS) : 0;
	const char *end = sm->nested ? "}" : "}\n";

	list_count_states(sm->s, sm->first, sm->end, count, total);
	long range = hi - lo + 1;
	char buf[ADDR_STRLEN];

	if (o->fmt == FMT_JSON) {
		out_printf(out, "{\"total\":%llu,\"ipv4\":%llu,\"ipv6\":%llu,\"states\":",
			   (unsigned long long)(total[0] + total[1]), (unsigned long long)total[0],
			   (unsigned long long)total[1]);
		list_json_states(out, count);
		out_str(out, ",\"ephemeral\":");
		if (!have_range) {
			out_str(out, "null");
			out_str(out, end);
			return;
		}
		out_printf(
			out,
			"{\"range_low\":%ld,\"range_high\":%ld,\"size\":%ld,\"in_use\":%llu,"
			"\"time_wait\":%llu,\"destination_count\":%llu,\"on_listening_ports\":%llu,"
			"\"source_count\":%llu,\"pair_count\":%llu,\"destinations\":[",
			lo, hi, range, (unsigned long long)in_use, (unsigned long long)tw,
			(unsigned long long)ct->dests, (unsigned long long)ct->on_listen,
			(unsigned long long)ct->sources, (unsigned long long)ct->pairs);
		for (size_t i = 0; i < ntop; i++) {
			addr_format(buf, top[i].family, top[i].addr);
			out_str(out, i ? ",{\"addr\":" : "{\"addr\":");
			out_json_str(out, buf);
			out_printf(out, ",\"port\":%u,\"source\":", top[i].port);
			addr_format(buf, top[i].src_family, top[i].src);
			out_json_str(out, buf);
			out_printf(out, ",\"in_use\":%u,\"time_wait\":%u}", top[i].in_use,
				   top[i].time_wait);
		}
		out_str(out, "]}");
		out_str(out, end);
		return;
	}
	if (o->fmt == FMT_CSV) {
		if (o->header && !sm->nested)
			out_str(out, "state,ipv4,ipv6,total\n");
		for (int st = 1; st < TS_MAX; st++) {
			if (st == TS_NEW_SYN_RECV)
				continue;
			if (sm->csv_prefix)
				sm->csv_prefix(out, sm->prefix_arg);
			out_printf(out, "%s,%llu,%llu,%llu\n", state_name(st),
				   (unsigned long long)count[st][0],
				   (unsigned long long)count[st][1],
				   (unsigned long long)(count[st][0] + count[st][1]));
		}
		return;
	}
	list_text_states(out, o, count, total);
	if (!have_range) {
		out_str(out, "\nEphemeral ports: ip_local_port_range unreadable\n");
		return;
	}
	out_printf(out,
		   "\nEphemeral ports %ld-%ld (%ld per source address and destination):\n"
		   "  %llu sockets on ephemeral ports to %llu destinations",
		   lo, hi, range, (unsigned long long)in_use, (unsigned long long)ct->dests);
	if (ct->sources > 1)
		out_printf(out, " from %llu source addresses", (unsigned long long)ct->sources);
	out_printf(out, ", %llu of them in TIME-WAIT\n", (unsigned long long)tw);
	if (ct->on_listen)
		out_printf(
			out,
			"  %llu more in the range are on listening ports (accepted connections): "
			"not ephemeral\n",
			(unsigned long long)ct->on_listen);
	if (ntop)
		print_busiest(out, top, ntop, range);
}
