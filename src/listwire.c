/*
 * listwire.c - one row per connection instance seen in a capture: both
 * endpoints' RFC states, Zeek's conn_state and history, times and counts.
 */
#include "listwire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "out.h"

struct rows {
	struct conn_info *v;
	size_t n, cap;
	int keep; /* keep rows (not a summary) */
	int oom;
	/* summary tallies */
	uint64_t state[2][TS_MAX];
	uint64_t zstate[CS_MAX];
	uint64_t total, live;
	struct engine *eng;
};

static void tally(struct rows *r, const uint8_t state[2], enum conn_state cs)
{
	r->total++;
	r->state[0][state[0]]++;
	r->state[1][state[1]]++;
	r->zstate[cs]++;
}

static void add_row(struct rows *r, const struct conn *c)
{
	struct conn_info ci;

	if (!r->keep) {
		/* --summary: counts only (200 000 connections leave a big trace). */
		uint8_t state[2];
		enum conn_state zs;
		engine_conn_states(r->eng, c, state, &zs);
		tally(r, state, zs);
		return;
	}
	engine_conn_info(r->eng, c, &ci);
	tally(r, ci.state, ci.cs);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct conn_info *nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv) {
			r->oom = 1;
			return;
		}
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n++] = ci;
}

static void on_closed(void *arg, const struct conn *c, enum close_reason why)
{
	(void)why;
	add_row(arg, c);
}

static void on_live(void *arg, const struct conn *c)
{
	struct rows *r = arg;
	r->live++;
	add_row(r, c);
}

static int by_start(const void *a, const void *b)
{
	const struct conn_info *x = a, *y = b;

	if (x->first_us != y->first_us)
		return x->first_us < y->first_us ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void ts_str(char *buf, size_t len, uint64_t us)
{
	snprintf(buf, len, "%llu.%06u", (unsigned long long)(us / 1000000),
		 (unsigned)(us % 1000000));
}

static void print_json(struct out *o, const struct rows *r)
{
	char a[ADDR_STRLEN], t[32];

	out_char(o, '[');
	for (size_t i = 0; i < r->n; i++) {
		const struct conn_info *c = &r->v[i];
		out_str(o, i ? ",\n" : "\n");
		out_printf(o, "{\"conn\":%u,\"instance\":%u,\"family\":\"%s\",", c->id, c->instance,
			   c->family == AF_INET ? "ipv4" : "ipv6");
		for (int s = 0; s < 2; s++) {
			const char *who = s ? "resp" : "orig";
			addr_format(a, c->family, c->addr[s]);
			out_printf(o, "\"%s_addr\":", who);
			out_json_str(o, a);
			out_printf(o, ",\"%s_port\":%u,", who, c->port[s]);
		}
		out_printf(o, "\"orig_state\":\"%s\",\"resp_state\":\"%s\",\"conn_state\":\"%s\",",
			   state_name(c->state[0]), state_name(c->state[1]), c->conn_state);
		out_str(o, "\"history\":");
		out_json_str(o, c->history);
		ts_str(t, sizeof(t), c->first_us);
		out_printf(o, ",\"first_ts\":%s", t);
		ts_str(t, sizeof(t), c->last_us);
		out_printf(o, ",\"last_ts\":%s", t);
		out_printf(o,
			   ",\"orig_pkts\":%llu,\"resp_pkts\":%llu,\"orig_bytes\":%llu,"
			   "\"resp_bytes\":%llu,\"midstream\":%s,\"orig_unsure\":%s,"
			   "\"resp_unsure\":%s,\"vlan\":%u,\"vlan_inner\":%u,"
			   "\"orig_zeek_state\":\"%s\",\"resp_zeek_state\":\"%s\"",
			   (unsigned long long)c->pkts[0], (unsigned long long)c->pkts[1],
			   (unsigned long long)c->bytes[0], (unsigned long long)c->bytes[1],
			   c->midstream ? "true" : "false", c->unsure[0] ? "true" : "false",
			   c->unsure[1] ? "true" : "false", c->vlan, c->vlan_inner,
			   engine_zeek_state_name(c->zeek_state[0]),
			   engine_zeek_state_name(c->zeek_state[1]));
		for (int s = 0; s < 2; s++) {
			ts_str(t, sizeof(t), c->since_us[s]);
			out_printf(o, ",\"%s_since\":%s", s ? "resp" : "orig", t);
		}
		if (c->have_durations) {
			out_str(o, ",\"time_in_state\":{");
			for (int s = 0; s < 2; s++) {
				int first = 1;
				out_printf(o, "%s\"%s\":{", s ? "," : "", s ? "resp" : "orig");
				for (int st = 1; st < TS_MAX; st++) {
					if (!c->state_ms[s][st] && c->state[s] != st)
						continue;
					out_printf(o, "%s\"%s\":%u.%03u", first ? "" : ",",
						   state_name(st), c->state_ms[s][st] / 1000,
						   c->state_ms[s][st] % 1000);
					first = 0;
				}
				out_char(o, '}');
			}
			out_char(o, '}');
		}
		out_char(o, '}');
	}
	out_str(o, r->n ? "\n]\n" : "]\n");
}

static void print_csv(struct out *o, const struct rows *r, int header)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], t1[32], t2[32];

	if (header)
		out_str(o,
			"conn,instance,family,orig_addr,orig_port,resp_addr,resp_port,orig_state,"
			"resp_state,conn_state,history,first_ts,last_ts,orig_pkts,resp_pkts,"
			"orig_bytes,resp_bytes,midstream,orig_unsure,resp_unsure\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct conn_info *c = &r->v[i];
		addr_format(a, c->family, c->addr[0]);
		addr_format(b, c->family, c->addr[1]);
		ts_str(t1, sizeof(t1), c->first_us);
		ts_str(t2, sizeof(t2), c->last_us);
		out_printf(o, "%u,%u,%s,%s,%u,%s,%u,%s,%s,%s,", c->id, c->instance,
			   c->family == AF_INET ? "ipv4" : "ipv6", a, c->port[0], b, c->port[1],
			   state_name(c->state[0]), state_name(c->state[1]), c->conn_state);
		out_csv_field(o, c->history);
		out_printf(o, ",%s,%s,%llu,%llu,%llu,%llu,%s,%s,%s\n", t1, t2,
			   (unsigned long long)c->pkts[0], (unsigned long long)c->pkts[1],
			   (unsigned long long)c->bytes[0], (unsigned long long)c->bytes[1],
			   c->midstream ? "true" : "false", c->unsure[0] ? "true" : "false",
			   c->unsure[1] ? "true" : "false");
	}
}

/* A state for the table: '?' after a guess (conn_info.unsure: a mid-stream pickup, or drops). */
static const char *state_text(char *buf, size_t len, int st, int unsure)
{
	snprintf(buf, len, "%s%s", state_name(st), unsure ? "?" : "");
	return buf;
}

static void print_table(struct out *o, const struct rows *r, int header)
{
	char a[ADDR_STRLEN], s0[24], s1[24];
	size_t wa = 4, wb = 4;

	for (size_t i = 0; i < r->n; i++) {
		const struct conn_info *c = &r->v[i];
		size_t k = addr_format_port(a, c->family, c->addr[0], c->port[0], 0);
		wa = k > wa ? k : wa;
		k = addr_format_port(a, c->family, c->addr[1], c->port[1], 0);
		wb = k > wb ? k : wb;
	}
	if (header)
		out_printf(o, "%6s %-*s %-*s %-12s %-12s %-6s %s\n", "Conn", (int)wa, "Orig",
			   (int)wb, "Resp", "Orig state", "Resp state", "Zeek", "History");
	for (size_t i = 0; i < r->n; i++) {
		const struct conn_info *c = &r->v[i];
		out_printf(o, "%6u ", c->id);
		addr_format_port(a, c->family, c->addr[0], c->port[0], 0);
		out_printf(o, "%-*s ", (int)wa, a);
		addr_format_port(a, c->family, c->addr[1], c->port[1], 0);
		out_printf(o, "%-*s %-12s %-12s %-6s %s%s\n", (int)wb, a,
			   state_text(s0, sizeof(s0), c->state[0], c->unsure[0]),
			   state_text(s1, sizeof(s1), c->state[1], c->unsure[1]), c->conn_state,
			   c->history, c->midstream ? " (mid-stream)" : "");
	}
}

/* One decode counter per layer, as the members of a JSON object. */
static void json_per_layer(struct out *o, const uint64_t *v)
{
	for (int i = 0; i < DL_MAX; i++)
		out_printf(o, "%s\"%s\":%llu", i ? "," : "", decode_layer_name(i),
			   (unsigned long long)v[i]);
}

static void print_summary(struct out *o, const struct rows *r, struct wire *w, int json)
{
	const struct decode_stats *d = wire_decode_stats(w);
	const struct engine_stats *es = engine_stats(wire_engine(w));
	uint64_t trunc = 0, inval = 0;

	for (int i = 0; i < DL_MAX; i++) {
		trunc += d->truncated[i];
		inval += d->invalid[i];
	}
	if (json) {
		out_printf(o, "{\"connections\":%llu,\"live\":%llu,\"states\":{",
			   (unsigned long long)r->total, (unsigned long long)r->live);
		int first = 1;
		for (int st = 1; st < TS_MAX; st++) {
			if (st == TS_NEW_SYN_RECV)
				continue;
			out_printf(o, "%s\"%s\":{\"orig\":%llu,\"resp\":%llu}", first ? "" : ",",
				   state_name(st), (unsigned long long)r->state[0][st],
				   (unsigned long long)r->state[1][st]);
			first = 0;
		}
		out_str(o, "},\"conn_state\":{");
		for (int i = 0; i < CS_MAX; i++)
			out_printf(o, "%s\"%s\":%llu", i ? "," : "",
				   engine_conn_state_name((enum conn_state)i),
				   (unsigned long long)r->zstate[i]);
		out_printf(o,
			   "},\"decode\":{\"packets\":%llu,\"tcp\":%llu,\"not_tcp\":%llu,"
			   "\"fragments\":%llu,\"bad_checksum\":%llu,\"unknown_link\":%llu,"
			   "\"truncated\":{",
			   (unsigned long long)d->packets, (unsigned long long)d->tcp,
			   (unsigned long long)d->not_tcp, (unsigned long long)d->fragments,
			   (unsigned long long)d->bad_csum, (unsigned long long)d->unknown_link);
		json_per_layer(o, d->truncated);
		out_str(o, "},\"invalid\":{");
		json_per_layer(o, d->invalid);
		out_printf(o,
			   "}},\"engine\":{\"segments\":%llu,\"peak\":%llu,\"evicted\":%llu,"
			   "\"idle_expired\":%llu,\"reused\":%llu,\"rst_ignored\":%llu,"
			   "\"bad_checksum_ignored\":%llu,\"transitions\":%llu,\"table_bytes\":%"
			   "llu}}\n",
			   (unsigned long long)es->segments, (unsigned long long)es->peak,
			   (unsigned long long)es->evicted, (unsigned long long)es->expired,
			   (unsigned long long)es->reused, (unsigned long long)es->rst_ignored,
			   (unsigned long long)es->bad_csum, (unsigned long long)es->transitions,
			   (unsigned long long)es->bytes);
		return;
	}
	out_printf(o, "Connections: %llu (%llu still in the table at the end)\n\n",
		   (unsigned long long)r->total, (unsigned long long)r->live);
	out_printf(o, "%-13s %10s %10s\n", "State", "Orig", "Resp");
	for (int st = 1; st < TS_MAX; st++) {
		if (st == TS_NEW_SYN_RECV)
			continue;
		out_printf(o, "%-13s %10llu %10llu\n", state_name(st),
			   (unsigned long long)r->state[0][st],
			   (unsigned long long)r->state[1][st]);
	}
	out_str(o, "\nconn_state (Zeek):");
	for (int i = 0; i < CS_MAX; i++)
		if (r->zstate[i])
			out_printf(o, " %s %llu", engine_conn_state_name((enum conn_state)i),
				   (unsigned long long)r->zstate[i]);
	out_printf(o,
		   "\n\nPackets: %llu read, %llu TCP, %llu other, %llu fragments, %llu truncated, "
		   "%llu invalid, %llu bad checksum\n",
		   (unsigned long long)d->packets, (unsigned long long)d->tcp,
		   (unsigned long long)d->not_tcp, (unsigned long long)d->fragments,
		   (unsigned long long)trunc, (unsigned long long)inval,
		   (unsigned long long)d->bad_csum);
	out_printf(o,
		   "Engine: peak %llu connections, %llu evicted, %llu idle-expired, %llu tuples "
		   "reused, %llu RSTs outside the window\n",
		   (unsigned long long)es->peak, (unsigned long long)es->evicted,
		   (unsigned long long)es->expired, (unsigned long long)es->reused,
		   (unsigned long long)es->rst_ignored);
}

/* --at TIME: seconds since the epoch, or +SECONDS after the first packet. */
static int parse_at(const char *s, int *relative, uint64_t *us)
{
	char *end;
	double v;

	*relative = *s == '+';
	errno = 0;
	v = strtod(s + *relative, &end);
	if (errno || *end || v != v || v < 0 || v > 1e11 || end == s + *relative)
		return -1;
	*us = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

int listwire_run(const struct cmd_entry *cmd, const struct listwire_opts *o)
{
	struct rows r;
	struct wire *w;
	struct out *out;
	char err[512];
	int rc = EXIT_OK, rel = 0, usage, broken = 0;
	uint64_t at = 0;

	if (o->at && parse_at(o->at, &rel, &at) < 0)
		return cmd_usage_error(
			cmd, "--at: invalid time \"%s\" (epoch seconds, or +SECONDS)", o->at);
	memset(&r, 0, sizeof(r));
	r.keep = !o->summary;
	struct wire_opts wo = o->w;
	wo.ecfg.keep_durations = o->json;
	struct engine_hooks hooks = {NULL, on_closed, &r};
	w = wire_open(&wo, &hooks, err, sizeof(err), &usage);
	if (!w) {
		if (usage)
			return cmd_usage_error(cmd, "%s", err);
		cmd_error(cmd, "%s", err);
		return EXIT_RUNTIME;
	}
	r.eng = wire_engine(w);
	/*
	 * A file that breaks part-way (a record cut short, as a killed tcpdump
	 * leaves it) still has its whole records: their rows are printed, and
	 * the error after them.
	 */
	if (rel) {
		/* Relative to the first packet: read one to learn it. */
		if (wire_poll(w, 0, 1, err, sizeof(err)) < 0)
			broken = 1;
		at += wire_first_us(w);
	}
	if (!broken && wire_run(w, NULL, at, err, sizeof(err)) < 0)
		broken = 1;
	engine_foreach(r.eng, on_live, &r);
	if (r.oom) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (r.n)
		qsort(r.v, r.n, sizeof(*r.v), by_start);
	out = malloc(sizeof(*out));
	if (!out) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	out_init(out, STDOUT_FILENO);
	if (o->summary)
		print_summary(out, &r, w, o->json);
	else if (o->json)
		print_json(out, &r);
	else if (o->csv)
		print_csv(out, &r, o->header);
	else
		print_table(out, &r, o->header);
	if (out_flush(out) < 0)
		rc = cmd_output_failed(cmd, out->err);
	if (broken) {
		cmd_error(cmd, "%s", err);
		rc = EXIT_RUNTIME;
	}
	free(out);
	wire_close(w);
	free(r.v);
	return rc;
fail:
	cmd_error(cmd, "%s", err);
	wire_close(w);
	free(r.v);
	return EXIT_RUNTIME;
}
