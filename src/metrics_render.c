/*
 * metrics_render.c - the last collection (metrics.c) written as metric
 * families, in a fixed order, each namespace's series in collection order
 * and within it in a fixed order (states in the kernel's numbering, the
 * bounded families largest first), so that two renderings of the same
 * data are byte for byte the same.  Which formats a scraper may ask for.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "metrics.h"
#include "metrics_int.h"
#include "promtext.h"

#ifndef TCPSTATE_VERSION
#define TCPSTATE_VERSION "unknown"
#endif

const char *metrics_content_type(enum metrics_format f)
{
	return f == METRICS_OPENMETRICS
		       ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		       : "text/plain; version=0.0.4; charset=utf-8";
}

/* Whether one media range of an Accept header ("type/sub;q=0.5") names OpenMetrics, q > 0. */
static int range_is_openmetrics(const char *s, size_t n)
{
	static const char om[] = "application/openmetrics-text";
	size_t k = sizeof(om) - 1;

	while (n && isspace((unsigned char)*s))
		s++, n--;
	if (n < k || strncasecmp(s, om, k) != 0)
		return 0;
	s += k;
	n -= k;
	while (n && isspace((unsigned char)*s))
		s++, n--;
	if (n && *s != ';')
		return 0; /* a longer type */
	/* q=0 means "not acceptable" (RFC 9110 12.4.2). */
	for (const char *p = s; p < s + n; p++) {
		if (*p != ';')
			continue;
		const char *q = p + 1;
		while (q < s + n && isspace((unsigned char)*q))
			q++;
		if (s + n - q >= 3 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
			int zero = 1;
			for (q += 2; q < s + n && *q != ';'; q++)
				zero &= *q == '0' || *q == '.' || isspace((unsigned char)*q);
			return !zero;
		}
	}
	return 1;
}

enum metrics_format metrics_format_accept(const char *accept)
{
	if (!accept)
		return METRICS_TEXT;
	for (const char *p = accept; *p;) {
		size_t n = strcspn(p, ",");
		if (range_is_openmetrics(p, n))
			return METRICS_OPENMETRICS;
		p += n + (p[n] == ',');
	}
	return METRICS_TEXT;
}

const char *metrics_trunc_family(enum trunc_family f)
{
	static const char *const names[TR_MAX] = {
		[TR_CW_SOCKETS] = "tcpstate_close_wait_sockets",
		[TR_CW_OLDEST] = "tcpstate_close_wait_oldest_seconds",
		[TR_EPHEMERAL] = "tcpstate_ephemeral_ports_in_use",
		[TR_LQ_LENGTH] = "tcpstate_listen_queue_length",
		[TR_LQ_LIMIT] = "tcpstate_listen_queue_limit",
	};
	return names[f];
}

/* Labels of one series: the namespace's (with -A), then the family's own. */
#define MAX_LABELS 6
struct labels {
	struct pt_label v[MAX_LABELS];
	size_t n;
};

static void labels_ns(const struct metrics *m, const struct ns_col *ns, struct labels *l)
{
	l->n = 0;
	if (!m->cfg.ns_labels)
		return;
	l->v[l->n++] = (struct pt_label){"netns", ns->netns ? ns->netns : ""};
	l->v[l->n++] = (struct pt_label){"container", ns->container ? ns->container : ""};
	l->v[l->n++] = (struct pt_label){"netns_inode", ns->inostr};
}

static void label_add(struct labels *l, const char *name, const char *value)
{
	if (l->n < MAX_LABELS)
		l->v[l->n++] = (struct pt_label){name, value};
}

static void render_states(struct promtext *pt, const struct metrics *m)
{
	struct labels l;

	pt_family(pt, "tcpstate_sockets", PT_GAUGE,
		  "TCP sockets per state, as the kernel's socket table holds them.");
	for (size_t i = 0; i < m->nns; i++) {
		const struct ns_col *ns = &m->ns[i];
		/* Every state, 0 too: a series that comes and goes breaks rate() and alerts. */
		for (int s = TS_ESTABLISHED; s <= TS_CLOSING; s++) {
			labels_ns(m, ns, &l);
			label_add(&l, "state", state_metric_name(s));
			pt_sample_u64(pt, l.v, l.n, ns->states[s]);
		}
	}
}

static void render_close_wait(struct promtext *pt, const struct metrics *m)
{
	struct labels l;

	pt_family(pt, "tcpstate_close_wait_sockets", PT_GAUGE,
		  "CLOSE-WAIT sockets per owning process (comm); (accept queue): never accepted.");
	for (size_t i = 0; i < m->nns; i++)
		for (size_t k = 0; k < m->ns[i].ncw; k++) {
			labels_ns(m, &m->ns[i], &l);
			label_add(&l, "process", m->ns[i].cw[k].process);
			pt_sample_u64(pt, l.v, l.n, m->ns[i].cw[k].count);
		}
	pt_family(pt, "tcpstate_close_wait_oldest_seconds", PT_GAUGE,
		  "Age of the process's oldest CLOSE-WAIT socket since this exporter first saw it "
		  "in CLOSE-WAIT (a lower bound).");
	for (size_t i = 0; i < m->nns; i++)
		for (size_t k = 0; k < m->ns[i].ncw; k++) {
			const struct cw_group *g = &m->ns[i].cw[k];
			uint64_t age = m->now_us > g->first_us ? m->now_us - g->first_us : 0;
			labels_ns(m, &m->ns[i], &l);
			label_add(&l, "process", g->process);
			pt_sample(pt, l.v, l.n, (double)age / 1e6);
		}
}

static double range_size(const struct ns_col *ns)
{
	return (double)(ns->hi - ns->lo + 1);
}

static void render_ephemeral(struct promtext *pt, const struct metrics *m)
{
	struct labels l;
	char src[ADDR_STRLEN], dst[ADDR_STRLEN];

	pt_family(pt, "tcpstate_ephemeral_ports_in_use", PT_GAUGE,
		  "Sockets on ephemeral ports from a source address to a destination IP:PORT "
		  "(the busiest pairs).");
	for (size_t i = 0; i < m->nns; i++)
		for (size_t k = 0; k < m->ns[i].neph; k++) {
			const struct census_dest *d = &m->ns[i].eph[k];
			addr_format(src, d->src_family, d->src);
			addr_format_port(dst, d->family, d->addr, d->port, 0);
			labels_ns(m, &m->ns[i], &l);
			label_add(&l, "source", src);
			label_add(&l, "destination", dst);
			pt_sample_u64(pt, l.v, l.n, d->in_use);
		}
	pt_family(pt, "tcpstate_ephemeral_port_range_size", PT_GAUGE,
		  "Ports in net.ipv4.ip_local_port_range: each source and destination pair's "
		  "budget.");
	for (size_t i = 0; i < m->nns; i++)
		if (m->ns[i].lo > 0) {
			labels_ns(m, &m->ns[i], &l);
			pt_sample(pt, l.v, l.n, range_size(&m->ns[i]));
		}
	pt_family(pt, "tcpstate_ephemeral_ports_fullest_ratio", PT_GAUGE,
		  "The busiest source and destination pair's ephemeral ports in use over the range "
		  "size.");
	for (size_t i = 0; i < m->nns; i++)
		if (m->ns[i].lo > 0) {
			const struct ns_col *ns = &m->ns[i];
			labels_ns(m, ns, &l);
			pt_sample(pt, l.v, l.n, ns->neph ? ns->eph[0].in_use / range_size(ns) : 0);
		}
	pt_family(pt, "tcpstate_time_wait_limit", PT_GAUGE,
		  "net.ipv4.tcp_max_tw_buckets: TIME-WAIT sockets the kernel keeps at most.");
	for (size_t i = 0; i < m->nns; i++)
		if (m->ns[i].tw_max >= 0) {
			labels_ns(m, &m->ns[i], &l);
			pt_sample_u64(pt, l.v, l.n, (uint64_t)m->ns[i].tw_max);
		}
}

static void render_listen(struct promtext *pt, const struct metrics *m, int limit)
{
	struct labels l;
	char addr[ADDR_STRLEN], port[8];

	if (limit)
		pt_family(pt, "tcpstate_listen_queue_limit", PT_GAUGE,
			  "A listener's accept queue limit (the backlog it listens with).");
	else
		pt_family(pt, "tcpstate_listen_queue_length", PT_GAUGE,
			  "Connections in a listener's accept queue, not yet accepted (the fullest "
			  "of SO_REUSEPORT sockets).");
	for (size_t i = 0; i < m->nns; i++)
		for (size_t k = 0; k < m->ns[i].nlq; k++) {
			const struct lq *q = &m->ns[i].lq[k];
			addr_format(addr, q->family, q->addr);
			snprintf(port, sizeof(port), "%u", q->port);
			labels_ns(m, &m->ns[i], &l);
			label_add(&l, "address", addr);
			label_add(&l, "port", port);
			pt_sample_u64(pt, l.v, l.n, limit ? q->lim : q->len);
		}
}

static void render_truncated(struct promtext *pt, const struct metrics *m)
{
	struct labels l;

	pt_family(pt, "tcpstate_truncated_series", PT_COUNTER,
		  "Series left out by the top-K bound (--top-k), summed over collections.");
	for (size_t i = 0; i < m->nns; i++)
		for (int f = 0; f < TR_MAX; f++) {
			labels_ns(m, &m->ns[i], &l);
			label_add(&l, "family", metrics_trunc_family((enum trunc_family)f));
			pt_sample_u64(pt, l.v, l.n, m->ns[i].trunc[f]);
		}
}

static void render_own(struct promtext *pt, const struct metrics *m, double collect_seconds)
{
	struct pt_label ver = {"version", TCPSTATE_VERSION};

	pt_family(pt, "tcpstate_scrape_duration_seconds", PT_GAUGE,
		  "Time the last collection took.");
	pt_sample(pt, NULL, 0, collect_seconds);
	pt_family(pt, "tcpstate_namespaces", PT_GAUGE, "Network namespaces collected.");
	pt_sample_u64(pt, NULL, 0, m->nns);
	pt_family(pt, "tcpstate_collect_errors", PT_COUNTER,
		  "Collections that failed or were incomplete.");
	pt_sample_u64(pt, NULL, 0, m->errors);
	pt_family(pt, "tcpstate_build", PT_INFO, "The tcpstate that exports these metrics.");
	pt_sample_u64(pt, &ver, 1, 1);
}

static void render_wire(struct promtext *pt, const struct metrics *m)
{
	const struct wire_counts *w = &m->wire;
	struct pt_label l;

	pt_family(pt, "tcpstate_wire_packets", PT_COUNTER, "Packets taken from the kernel.");
	pt_sample_u64(pt, NULL, 0, w->w.packets);
	pt_family(
		pt, "tcpstate_wire_drops", PT_COUNTER,
		"Packets lost: kernel, its ring was full; tcpstate, the reader's queue was full.");
	l = (struct pt_label){"where", "kernel"};
	pt_sample_u64(pt, &l, 1, w->w.kernel_dropped);
	l = (struct pt_label){"where", "tcpstate"};
	pt_sample_u64(pt, &l, 1, w->w.tcpstate_dropped);
	pt_family(pt, "tcpstate_wire_connections", PT_GAUGE, "Connections in the engine's table.");
	pt_sample_u64(pt, NULL, 0, w->w.connections);
	pt_family(pt, "tcpstate_wire_handshakes", PT_COUNTER,
		  "Handshakes completed (the responder entered ESTABLISHED).");
	pt_sample_u64(pt, NULL, 0, w->handshakes);
	pt_family(pt, "tcpstate_wire_refused", PT_COUNTER,
		  "Connection attempts refused (a reset answered the SYN).");
	pt_sample_u64(pt, NULL, 0, w->refused);
	pt_family(pt, "tcpstate_wire_resets", PT_COUNTER,
		  "Connections reset (a reset received, refusals excluded).");
	pt_sample_u64(pt, NULL, 0, w->resets);
	pt_family(pt, "tcpstate_wire_transitions", PT_COUNTER,
		  "Endpoint state transitions seen on the wire, by the state entered.");
	for (int s = TS_ESTABLISHED; s <= TS_CLOSING; s++) {
		l = (struct pt_label){"state", state_metric_name(s)};
		pt_sample_u64(pt, &l, 1, w->transitions[s]);
	}
}

int metrics_render(const struct metrics *m, enum metrics_format f, double collect_seconds,
		   char **out, size_t *len)
{
	struct promtext pt;

	pt_init(&pt, f == METRICS_OPENMETRICS);
	render_states(&pt, m);
	render_close_wait(&pt, m);
	render_ephemeral(&pt, m);
	render_listen(&pt, m, 0);
	render_listen(&pt, m, 1);
	render_truncated(&pt, m);
	render_own(&pt, m, collect_seconds);
	if (m->wire.on)
		render_wire(&pt, m);
	return pt_finish(&pt, out, len);
}
