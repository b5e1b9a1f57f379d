/*
 * Unit tests: the metric families (metrics.c, metrics_render.c,
 * promtext.c) from synthetic sockets fed through begin / ns_begin / add /
 * end, checked on the rendered text exactly: every state, CLOSE-WAIT ages
 * and owners across collections (a fake /proc), top-K and the truncated
 * counter, REUSEPORT listeners, label escaping, IPv6 destinations,
 * OpenMetrics' `_total` and `# EOF`, the wire counters, and the Accept
 * header's choice of format.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "state.h"
#include "unit.h"

#define S(x) 1000000ull * (x) /* seconds in microseconds */

static struct metrics *new_metrics(unsigned top_k, int ns_labels)
{
	struct metrics_config cfg = {top_k, ns_labels};
	struct metrics *m = metrics_new(&cfg);
	CHECK(m != NULL);
	return m;
}

static void add(struct metrics *m, struct sock_rec r)
{
	CHECK(metrics_add(&r, m) == 0);
}

static struct sock_rec cw(const char *la, int lport, const char *ra, int rport, uint64_t cookie,
			  uint32_t inode)
{
	struct sock_rec r = unit_sockrow(TS_CLOSE_WAIT, la, lport, ra, rport);
	r.cookie = cookie;
	r.inode = inode;
	return r;
}

static struct sock_rec lis(const char *la, int lport, uint32_t queued, uint32_t backlog)
{
	struct sock_rec r = unit_sockrow(TS_LISTEN, la, lport, "*", 0);
	r.recv_q = queued;
	r.send_q = backlog;
	return r;
}

/* The whole text; the caller frees it. */
static char *render(const struct metrics *m, enum metrics_format f, double secs)
{
	char *text = NULL;
	size_t len = 0;

	CHECK(metrics_render(m, f, secs, &text, &len) == 0);
	CHECK(text && strlen(text) == len);
	return text;
}

/* The lines of text that begin with prefix, each with its newline. */
static void lines_of(const char *text, const char *prefix, char *out, size_t len)
{
	size_t n = 0, k = strlen(prefix);

	out[0] = '\0';
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) + 1 : strlen(p);
		if (strncmp(p, prefix, k) == 0 && n + l < len) {
			memcpy(out + n, p, l);
			n += l;
			out[n] = '\0';
		}
		p += l;
	}
}

#define CHECK_LINES(text, prefix, want)                                                            \
	do {                                                                                       \
		char got_[4096];                                                                   \
		lines_of(text, prefix, got_, sizeof(got_));                                        \
		CHECK_STR(got_, want);                                                             \
	} while (0)

/*
 * One namespace, without labels: every family in order, every state (0
 * too; request sockets count as syn_recv), the ports of two connections
 * to one destination, a listener's queue, the limits.
 */
static void whole_text_one_namespace(void)
{
	struct metrics *m = new_metrics(0, 0);
	metrics_begin(m, S(1000));
	CHECK(metrics_ns_begin(m, 4026531840u, NULL, NULL, 32768, 60999, 262144) == 0);
	add(m, unit_sockrow(TS_ESTABLISHED, "10.0.0.1", 40000, "198.18.0.1", 443));
	add(m, unit_sockrow(TS_TIME_WAIT, "10.0.0.1", 40001, "198.18.0.1", 443));
	add(m, unit_sockrow(TS_SYN_RECV, "10.0.0.1", 22, "198.18.0.9", 50000));
	add(m, unit_sockrow(TS_NEW_SYN_RECV, "10.0.0.1", 22, "198.18.0.9", 50001));
	add(m, unit_sockrow(TS_FIN_WAIT2, "10.0.0.1", 22, "198.18.0.9", 50002));
	add(m, lis("0.0.0.0", 22, 3, 128));
	metrics_ns_end(m);
	CHECK(metrics_end(m, NULL, 0) == 0);
	char *t = render(m, METRICS_TEXT, 0.25);
	CHECK_STR(t,
		  "# HELP tcpstate_sockets TCP sockets per state, as the kernel's socket table "
		  "holds them.\n"
		  "# TYPE tcpstate_sockets gauge\n"
		  "tcpstate_sockets{state=\"established\"} 1\n"
		  "tcpstate_sockets{state=\"syn_sent\"} 0\n"
		  "tcpstate_sockets{state=\"syn_recv\"} 2\n"
		  "tcpstate_sockets{state=\"fin_wait1\"} 0\n"
		  "tcpstate_sockets{state=\"fin_wait2\"} 1\n"
		  "tcpstate_sockets{state=\"time_wait\"} 1\n"
		  "tcpstate_sockets{state=\"close\"} 0\n"
		  "tcpstate_sockets{state=\"close_wait\"} 0\n"
		  "tcpstate_sockets{state=\"last_ack\"} 0\n"
		  "tcpstate_sockets{state=\"listen\"} 1\n"
		  "tcpstate_sockets{state=\"closing\"} 0\n"
		  "# HELP tcpstate_close_wait_sockets CLOSE-WAIT sockets per owning process "
		  "(comm); (accept queue): never accepted.\n"
		  "# TYPE tcpstate_close_wait_sockets gauge\n"
		  "# HELP tcpstate_close_wait_oldest_seconds Age of the process's oldest "
		  "CLOSE-WAIT socket since this exporter first saw it in CLOSE-WAIT (a lower "
		  "bound).\n"
		  "# TYPE tcpstate_close_wait_oldest_seconds gauge\n"
		  "# HELP tcpstate_ephemeral_ports_in_use Sockets on ephemeral ports from a "
		  "source address to a destination IP:PORT (the busiest pairs).\n"
		  "# TYPE tcpstate_ephemeral_ports_in_use gauge\n"
		  "tcpstate_ephemeral_ports_in_use{source=\"10.0.0.1\",destination="
		  "\"198.18.0.1:443\"} 2\n"
		  "# HELP tcpstate_ephemeral_port_range_size Ports in "
		  "net.ipv4.ip_local_port_range: each source and destination pair's budget.\n"
		  "# TYPE tcpstate_ephemeral_port_range_size gauge\n"
		  "tcpstate_ephemeral_port_range_size 28232\n"
		  "# HELP tcpstate_ephemeral_ports_fullest_ratio The busiest source and "
		  "destination pair's ephemeral ports in use over the range size.\n"
		  "# TYPE tcpstate_ephemeral_ports_fullest_ratio gauge\n"
		  "tcpstate_ephemeral_ports_fullest_ratio 7.08415981864551e-05\n"
		  "# HELP tcpstate_time_wait_limit net.ipv4.tcp_max_tw_buckets: TIME-WAIT "
		  "sockets the kernel keeps at most.\n"
		  "# TYPE tcpstate_time_wait_limit gauge\n"
		  "tcpstate_time_wait_limit 262144\n"
		  "# HELP tcpstate_listen_queue_length Connections in a listener's accept queue, "
		  "not yet accepted (the fullest of SO_REUSEPORT sockets).\n"
		  "# TYPE tcpstate_listen_queue_length gauge\n"
		  "tcpstate_listen_queue_length{address=\"0.0.0.0\",port=\"22\"} 3\n"
		  "# HELP tcpstate_listen_queue_limit A listener's accept queue limit (the "
		  "backlog it listens with).\n"
		  "# TYPE tcpstate_listen_queue_limit gauge\n"
		  "tcpstate_listen_queue_limit{address=\"0.0.0.0\",port=\"22\"} 128\n"
		  "# HELP tcpstate_truncated_series_total Series left out by the top-K bound "
		  "(--top-k), summed over collections.\n"
		  "# TYPE tcpstate_truncated_series_total counter\n"
		  "tcpstate_truncated_series_total{family=\"tcpstate_close_wait_sockets\"} 0\n"
		  "tcpstate_truncated_series_total{family=\"tcpstate_close_wait_oldest_seconds\"} "
		  "0\n"
		  "tcpstate_truncated_series_total{family=\"tcpstate_ephemeral_ports_in_use\"} 0\n"
		  "tcpstate_truncated_series_total{family=\"tcpstate_listen_queue_length\"} 0\n"
		  "tcpstate_truncated_series_total{family=\"tcpstate_listen_queue_limit\"} 0\n"
		  "# HELP tcpstate_scrape_duration_seconds Time the last collection took.\n"
		  "# TYPE tcpstate_scrape_duration_seconds gauge\n"
		  "tcpstate_scrape_duration_seconds 0.25\n"
		  "# HELP tcpstate_namespaces Network namespaces collected.\n"
		  "# TYPE tcpstate_namespaces gauge\n"
		  "tcpstate_namespaces 1\n"
		  "# HELP tcpstate_collect_errors_total Collections that failed or were "
		  "incomplete.\n"
		  "# TYPE tcpstate_collect_errors_total counter\n"
		  "tcpstate_collect_errors_total 0\n"
		  "# HELP tcpstate_build_info The tcpstate that exports these metrics.\n"
		  "# TYPE tcpstate_build_info gauge\n"
		  "tcpstate_build_info{version=\"" TCPSTATE_VERSION "\"} 1\n");
	free(t);
	metrics_free(m);
}

/* ---- a fake /proc for the owners of CLOSE-WAIT sockets ---- */

static char proc_root[64];

static void proc_mkdir(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", proc_root, rel);
	CHECK(mkdir(p, 0755) == 0);
}

/* Process pid named comm, holding socket inode as fd 3 (and fd 4 when inode2). */
static void proc_add(int pid, const char *comm, unsigned inode, unsigned inode2)
{
	char rel[64], p[256], target[64];

	snprintf(rel, sizeof(rel), "%d", pid);
	proc_mkdir(rel);
	snprintf(rel, sizeof(rel), "%d/fd", pid);
	proc_mkdir(rel);
	snprintf(p, sizeof(p), "%s/%d/comm", proc_root, pid);
	snprintf(target, sizeof(target), "%s\n", comm);
	unit_write_file(p, target);
	for (int fd = 3; fd <= 4; fd++) {
		unsigned ino = fd == 3 ? inode : inode2;
		if (!ino)
			continue;
		snprintf(p, sizeof(p), "%s/%d/fd/%d", proc_root, pid, fd);
		snprintf(target, sizeof(target), "socket:[%u]", ino);
		CHECK(symlink(target, p) == 0);
	}
}

static void proc_new(void)
{
	strcpy(proc_root, "/tmp/tcpstate-metrics-XXXXXX");
	CHECK(mkdtemp(proc_root) != NULL);
	proc_mkdir("self"); /* procmap checks that this is a mounted /proc */
}

static void proc_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", proc_root);
	CHECK(system(cmd) == 0);
}

/* One collection of one namespace (ino 7), its sockets r[0..n), at now seconds. */
static void collect(struct metrics *m, double now, const struct sock_rec *r, size_t n,
		    uint64_t rescan_us)
{
	metrics_begin(m, (uint64_t)(now * 1e6));
	CHECK(metrics_ns_begin(m, 7, NULL, NULL, 32768, 60999, -1) == 0);
	for (size_t i = 0; i < n; i++)
		add(m, r[i]);
	metrics_ns_end(m);
	CHECK(metrics_end(m, proc_root, rescan_us) == 0);
}

/*
 * Ages are since first seen in CLOSE-WAIT by this exporter: 0 at the
 * first collection, then now minus then; a socket that leaves CLOSE-WAIT
 * is forgotten, and the process's oldest is then its next oldest.  A socket
 * never accepted (inode 0) is the accept queue's; the same socket twice in
 * one dump (a dump the kernel restarted) counts once.
 */
static void close_wait_ages_across_collections(void)
{
	proc_new();
	proc_add(42, "nginx", 100, 101);
	struct metrics *m = new_metrics(0, 0);
	struct sock_rec r[4];
	r[0] = cw("10.0.0.1", 80, "10.0.0.2", 50000, 11, 100);
	r[1] = cw("10.0.0.1", 80, "10.0.0.2", 50001, 12, 0);
	r[2] = r[0];
	collect(m, 1000, r, 3, 0);
	char *t = render(m, METRICS_TEXT, 0);
	/* As many sockets, as old: by name. */
	CHECK_LINES(t, "tcpstate_close_wait",
		    "tcpstate_close_wait_sockets{process=\"(accept queue)\"} 1\n"
		    "tcpstate_close_wait_sockets{process=\"nginx\"} 1\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"(accept queue)\"} 0\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"nginx\"} 0\n");
	CHECK_LINES(t, "tcpstate_sockets{state=\"close_wait\"}",
		    "tcpstate_sockets{state=\"close_wait\"} 3\n");
	free(t);

	/* 30.5 s later: a second nginx socket; both old ones still there. */
	r[2] = cw("10.0.0.1", 80, "10.0.0.2", 50002, 13, 101);
	collect(m, 1030.5, r, 3, 0);
	t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_close_wait",
		    "tcpstate_close_wait_sockets{process=\"nginx\"} 2\n"
		    "tcpstate_close_wait_sockets{process=\"(accept queue)\"} 1\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"nginx\"} 30.5\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"(accept queue)\"} 30.5\n");
	free(t);

	/* The oldest nginx socket closes; the accept queue's is accepted (nginx's now). */
	r[0] = r[2];
	r[1].inode = 100;
	collect(m, 1040, r, 2, 0);
	t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_close_wait",
		    "tcpstate_close_wait_sockets{process=\"nginx\"} 2\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"nginx\"} 40\n");
	free(t);
	metrics_free(m);
	proc_remove();
}

/*
 * Owners are looked for when a CLOSE-WAIT socket with an inode appears,
 * at most every rescan_us: one that appears just after a look is
 * "(unknown)" until the next is allowed.
 */
static void owners_rescanned_at_most_every_interval(void)
{
	proc_new();
	proc_add(42, "nginx", 100, 0);
	struct metrics *m = new_metrics(0, 0);
	struct sock_rec r[2];
	r[0] = cw("10.0.0.1", 80, "10.0.0.2", 50000, 11, 100);
	collect(m, 1000, r, 1, S(10));
	/* redis's socket appears 5 s later: too soon to look again. */
	proc_add(43, "redis", 200, 0);
	r[1] = cw("10.0.0.1", 6379, "10.0.0.2", 50001, 12, 200);
	collect(m, 1005, r, 2, S(10));
	char *t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_close_wait_sockets",
		    "tcpstate_close_wait_sockets{process=\"nginx\"} 1\n"
		    "tcpstate_close_wait_sockets{process=\"(unknown)\"} 1\n");
	free(t);
	collect(m, 1010, r, 2, S(10));
	t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_close_wait_sockets",
		    "tcpstate_close_wait_sockets{process=\"nginx\"} 1\n"
		    "tcpstate_close_wait_sockets{process=\"redis\"} 1\n");
	CHECK_LINES(t, "tcpstate_close_wait_oldest",
		    "tcpstate_close_wait_oldest_seconds{process=\"nginx\"} 10\n"
		    "tcpstate_close_wait_oldest_seconds{process=\"redis\"} 5\n");
	free(t);
	metrics_free(m);
	proc_remove();
}

/*
 * --top-k 2: the two busiest destinations, the two fullest listeners (a
 * REUSEPORT pair counted once, by its fuller socket), the two biggest
 * processes; what is left out is counted per family, summed over
 * collections.  IPv6 destinations are [addr]:port.
 */
static void top_k_and_truncated_counter(void)
{
	proc_new();
	proc_add(42, "a", 100, 101);
	proc_add(43, "b", 102, 0);
	struct metrics *m = new_metrics(2, 0);
	struct sock_rec r[16];
	size_t n = 0;
	for (int i = 0; i < 3; i++)
		r[n++] = unit_sockrow(TS_ESTABLISHED, "fd00::2", 40000 + i, "fd00::1", 443);
	for (int i = 0; i < 2; i++)
		r[n++] = unit_sockrow(TS_ESTABLISHED, "10.0.0.1", 41000 + i, "10.0.0.9", 80);
	r[n++] = unit_sockrow(TS_ESTABLISHED, "10.0.0.1", 42000, "10.0.0.8", 80);
	r[n++] = lis("0.0.0.0", 80, 1, 10);
	r[n++] = lis("0.0.0.0", 80, 9, 10); /* its SO_REUSEPORT sibling, fuller */
	r[n++] = lis("::", 443, 5, 10);
	r[n++] = lis("127.0.0.1", 53, 0, 4096);
	r[n++] = cw("10.0.0.1", 80, "10.0.0.2", 50000, 11, 100);
	r[n++] = cw("10.0.0.1", 80, "10.0.0.2", 50001, 12, 101);
	r[n++] = cw("10.0.0.1", 80, "10.0.0.2", 50002, 13, 102);
	r[n++] = cw("10.0.0.1", 80, "10.0.0.2", 50003, 14, 0);
	collect(m, 1000, r, n, 0);
	collect(m, 1001, r, n, 0);
	char *t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_ephemeral_ports_in_use",
		    "tcpstate_ephemeral_ports_in_use{source=\"fd00::2\",destination="
		    "\"[fd00::1]:443\"} 3\n"
		    "tcpstate_ephemeral_ports_in_use{source=\"10.0.0.1\",destination="
		    "\"10.0.0.9:80\"} 2\n");
	CHECK_LINES(t, "tcpstate_ephemeral_ports_fullest_ratio",
		    "tcpstate_ephemeral_ports_fullest_ratio 0.000106262397279683\n");
	CHECK_LINES(t, "tcpstate_listen_queue_",
		    "tcpstate_listen_queue_length{address=\"0.0.0.0\",port=\"80\"} 9\n"
		    "tcpstate_listen_queue_length{address=\"::\",port=\"443\"} 5\n"
		    "tcpstate_listen_queue_limit{address=\"0.0.0.0\",port=\"80\"} 10\n"
		    "tcpstate_listen_queue_limit{address=\"::\",port=\"443\"} 10\n");
	CHECK_LINES(t, "tcpstate_close_wait_sockets",
		    "tcpstate_close_wait_sockets{process=\"a\"} 2\n"
		    "tcpstate_close_wait_sockets{process=\"(accept queue)\"} 1\n");
	CHECK_LINES(
		t, "tcpstate_truncated",
		"tcpstate_truncated_series_total{family=\"tcpstate_close_wait_sockets\"} 2\n"
		"tcpstate_truncated_series_total{family=\"tcpstate_close_wait_oldest_seconds\"} "
		"2\n"
		"tcpstate_truncated_series_total{family=\"tcpstate_ephemeral_ports_in_use\"} 2\n"
		"tcpstate_truncated_series_total{family=\"tcpstate_listen_queue_length\"} 2\n"
		"tcpstate_truncated_series_total{family=\"tcpstate_listen_queue_limit\"} 2\n");
	free(t);
	metrics_free(m);
	proc_remove();
}

/*
 * With -A every kernel-view series has netns, container and netns_inode;
 * label values escape `\`, `"` and newline, and a byte that is not UTF-8
 * becomes U+FFFD.
 */
static void namespace_labels_escaped(void)
{
	proc_new();
	proc_add(42, "we\"ird\\", 100, 0);
	struct metrics *m = new_metrics(0, 1);
	struct sock_rec r = cw("10.0.0.1", 80, "10.0.0.2", 50000, 11, 100);
	metrics_begin(m, S(5));
	CHECK(metrics_ns_begin(m, 4026532000u, "web", "pod\\a\"b\nc\xff", 1024, 1024, 10) == 0);
	add(m, r);
	metrics_ns_end(m);
	CHECK(metrics_ns_begin(m, 4026532001u, NULL, NULL, 0, 0, -1) == 0);
	metrics_ns_end(m);
	CHECK(metrics_end(m, proc_root, 0) == 0);
	char *t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_close_wait_sockets{",
		    "tcpstate_close_wait_sockets{netns=\"web\",container="
		    "\"pod\\\\a\\\"b\\nc\xef\xbf\xbd\","
		    "netns_inode=\"4026532000\",process=\"we\\\"ird\\\\\"} 1\n");
	CHECK_LINES(
		t,
		"tcpstate_sockets{netns=\"\",container=\"\",netns_inode=\"4026532001\",state=\"es",
		"tcpstate_sockets{netns=\"\",container=\"\",netns_inode=\"4026532001\","
		"state=\"established\"} 0\n");
	/* A range or limit not known: no series for that namespace. */
	CHECK_LINES(t, "tcpstate_ephemeral_port_range_size",
		    "tcpstate_ephemeral_port_range_size{netns=\"web\",container=\"pod\\\\a\\\"b\\nc"
		    "\xef\xbf\xbd\",netns_inode=\"4026532000\"} 1\n");
	CHECK_LINES(t, "tcpstate_time_wait_limit{",
		    "tcpstate_time_wait_limit{netns=\"web\",container="
		    "\"pod\\\\a\\\"b\\nc\xef\xbf\xbd\","
		    "netns_inode=\"4026532000\"} 10\n");
	CHECK_LINES(t, "tcpstate_namespaces ", "tcpstate_namespaces 2\n");
	free(t);
	metrics_free(m);
	proc_remove();
}

/* One collection: namespaces inos[0..n), each with two destinations, --top-k 1. */
static void collect_two_pairs(struct metrics *m, const uint64_t *inos, size_t n)
{
	metrics_begin(m, S(1));
	for (size_t i = 0; i < n; i++) {
		CHECK(metrics_ns_begin(m, inos[i], NULL, NULL, 32768, 60999, -1) == 0);
		add(m, unit_sockrow(TS_ESTABLISHED, "10.0.0.1", 40000, "10.0.0.9", 80));
		add(m, unit_sockrow(TS_ESTABLISHED, "10.0.0.1", 40001, "10.0.0.8", 80));
		metrics_ns_end(m);
	}
	CHECK(metrics_end(m, NULL, 0) == 0);
}

/*
 * The truncated counter goes on per namespace: one that appears later
 * starts from 0, one that was missed in a collection starts again.
 */
static void truncated_counter_per_namespace(void)
{
	struct metrics *m = new_metrics(1, 1);
	const uint64_t a[] = {1}, ab[] = {2, 1}, b[] = {2};
	collect_two_pairs(m, a, 1);
	collect_two_pairs(m, ab, 2);
	char *t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t,
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"1\","
		    "family=\"tcpstate_eph",
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"1\","
		    "family=\"tcpstate_ephemeral_ports_in_use\"} 2\n");
	CHECK_LINES(t,
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"2\","
		    "family=\"tcpstate_eph",
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"2\","
		    "family=\"tcpstate_ephemeral_ports_in_use\"} 1\n");
	free(t);
	collect_two_pairs(m, b, 1);
	collect_two_pairs(m, ab, 2);
	t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t,
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"1\","
		    "family=\"tcpstate_eph",
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"1\","
		    "family=\"tcpstate_ephemeral_ports_in_use\"} 1\n");
	CHECK_LINES(t,
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"2\","
		    "family=\"tcpstate_eph",
		    "tcpstate_truncated_series_total{netns=\"\",container=\"\",netns_inode=\"2\","
		    "family=\"tcpstate_ephemeral_ports_in_use\"} 3\n");
	free(t);
	metrics_free(m);
}

/*
 * OpenMetrics: a counter's HELP and TYPE name the family without _total,
 * its samples keep it; build_info is an info; the text ends with # EOF.
 */
static void openmetrics_total_and_eof(void)
{
	struct metrics *m = new_metrics(0, 0);
	metrics_begin(m, S(1));
	CHECK(metrics_ns_begin(m, 1, NULL, NULL, 0, 0, -1) == 0);
	metrics_collect_error(m);
	metrics_collect_error(m); /* once per collection */
	CHECK(metrics_end(m, NULL, 0) == 0);
	char *t = render(m, METRICS_OPENMETRICS, 1.5);
	CHECK_LINES(t, "# TYPE tcpstate_collect_errors",
		    "# TYPE tcpstate_collect_errors counter\n");
	CHECK_LINES(t, "tcpstate_collect_errors", "tcpstate_collect_errors_total 1\n");
	CHECK_LINES(t, "# TYPE tcpstate_truncated", "# TYPE tcpstate_truncated_series counter\n");
	CHECK_LINES(t, "# TYPE tcpstate_build", "# TYPE tcpstate_build info\n");
	CHECK_LINES(t, "tcpstate_build",
		    "tcpstate_build_info{version=\"" TCPSTATE_VERSION "\"} 1\n");
	size_t len = strlen(t);
	CHECK(len > 6 && strcmp(t + len - 6, "# EOF\n") == 0);
	free(t);
	t = render(m, METRICS_TEXT, 1.5);
	CHECK(strstr(t, "# EOF") == NULL);
	CHECK_LINES(t, "# TYPE tcpstate_collect_errors",
		    "# TYPE tcpstate_collect_errors_total counter\n");
	free(t);
	metrics_free(m);
}

static void wire_event(struct metrics *m, int endpoint, int from, int to, int cause)
{
	struct engine_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.endpoint = (uint8_t)endpoint;
	ev.from = (uint8_t)from;
	ev.to = (uint8_t)to;
	ev.cause = (uint8_t)cause;
	metrics_wire_event(m, &ev);
}

/*
 * The wire families appear once the wire is fed: a handshake is the
 * responder entering ESTABLISHED; a reset answering SYN-SENT is a
 * refusal, any other reset received a reset.
 */
static void wire_counters(void)
{
	struct metrics *m = new_metrics(0, 0);
	metrics_begin(m, S(1));
	CHECK(metrics_end(m, NULL, 0) == 0);
	char *t = render(m, METRICS_TEXT, 0);
	CHECK(strstr(t, "tcpstate_wire") == NULL);
	free(t);
	wire_event(m, 0, TS_NONE, TS_SYN_SENT, CAUSE_SYN_SENT);
	wire_event(m, 1, TS_NONE, TS_SYN_RECV, CAUSE_SYN_RECEIVED);
	wire_event(m, 0, TS_SYN_SENT, TS_ESTABLISHED, CAUSE_SYNACK_RECEIVED);
	wire_event(m, 1, TS_SYN_RECV, TS_ESTABLISHED, CAUSE_ACK_OF_SYN);
	wire_event(m, 0, TS_SYN_SENT, TS_CLOSE, CAUSE_RST_RECEIVED);
	wire_event(m, 0, TS_ESTABLISHED, TS_CLOSE, CAUSE_RST_RECEIVED);
	wire_event(m, 1, TS_ESTABLISHED, TS_CLOSE, CAUSE_RST_SENT);
	struct metrics_wire w = {100, 2, 1, 7};
	metrics_wire_stats(m, &w);
	t = render(m, METRICS_TEXT, 0);
	CHECK_LINES(t, "tcpstate_wire_",
		    "tcpstate_wire_packets_total 100\n"
		    "tcpstate_wire_drops_total{where=\"kernel\"} 2\n"
		    "tcpstate_wire_drops_total{where=\"tcpstate\"} 1\n"
		    "tcpstate_wire_connections 7\n"
		    "tcpstate_wire_handshakes_total 1\n"
		    "tcpstate_wire_refused_total 1\n"
		    "tcpstate_wire_resets_total 1\n"
		    "tcpstate_wire_transitions_total{state=\"established\"} 2\n"
		    "tcpstate_wire_transitions_total{state=\"syn_sent\"} 1\n"
		    "tcpstate_wire_transitions_total{state=\"syn_recv\"} 1\n"
		    "tcpstate_wire_transitions_total{state=\"fin_wait1\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"fin_wait2\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"time_wait\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"close\"} 3\n"
		    "tcpstate_wire_transitions_total{state=\"close_wait\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"last_ack\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"listen\"} 0\n"
		    "tcpstate_wire_transitions_total{state=\"closing\"} 0\n");
	free(t);
	metrics_free(m);
}

static void accept_header_picks_format(void)
{
	CHECK(metrics_format_accept(NULL) == METRICS_TEXT);
	CHECK(metrics_format_accept("text/plain") == METRICS_TEXT);
	CHECK(metrics_format_accept("application/openmetrics-text; version=1.0.0; charset=utf-8;"
				    "q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1") ==
	      METRICS_OPENMETRICS);
	CHECK(metrics_format_accept("text/plain, Application/OpenMetrics-Text") ==
	      METRICS_OPENMETRICS);
	CHECK(metrics_format_accept("application/openmetrics-text;q=0, text/plain") ==
	      METRICS_TEXT);
	CHECK(metrics_format_accept("application/openmetrics-textual") == METRICS_TEXT);
	CHECK_STR(metrics_content_type(METRICS_TEXT), "text/plain; version=0.0.4; charset=utf-8");
	CHECK_STR(metrics_content_type(METRICS_OPENMETRICS),
		  "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

const struct unit_test metrics_tests[] = {
	{"metrics: one namespace, the whole text", whole_text_one_namespace},
	{"metrics: CLOSE-WAIT ages across collections", close_wait_ages_across_collections},
	{"metrics: owners looked for at most every interval",
	 owners_rescanned_at_most_every_interval},
	{"metrics: top-K and the truncated counter", top_k_and_truncated_counter},
	{"metrics: namespace labels, escaping", namespace_labels_escaped},
	{"metrics: the truncated counter per namespace", truncated_counter_per_namespace},
	{"metrics: OpenMetrics _total and # EOF", openmetrics_total_and_eof},
	{"metrics: wire counters", wire_counters},
	{"metrics: Accept header", accept_header_picks_format},
	{NULL, NULL},
};
