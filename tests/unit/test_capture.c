/*
 * Unit tests: capture_dispatch() and capture_break() on a classic pcap
 * file read by savefile.c (a regular file: capture.c hands those to it)
 * and by libpcap (the same bytes through a FIFO, which is not one).  The
 * paced replay of `top -r` holds a packet and breaks the loop; both
 * readers must stop, report and resume alike.
 *
 * And the live capture's headers-only snapshot length: every real capture
 * of tests/pcap/captures read whole and read as the live default takes it
 * (wire_opts.headers_only) gives the engine the same events and the same
 * connections, Zeek's history letters included.  And top's Wire line and
 * its JSON frames' wire object, which show a live capture's figures.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "topjson.h"
#include "topview.h"
#include "unit.h"
#include "wire.h"

static void put32(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f); /* host order: the magic says which */
}

/* Five records of 60 bytes, stamped 1.000001 to 5.000005 s. */
static int write_file(const char *path)
{
	FILE *f = fopen(path, "wb");
	uint8_t frame[60] = {0};

	if (!f)
		return -1;
	put32(f, 0xa1b2c3d4);
	put32(f, 2 | 4u << 16);
	put32(f, 0);
	put32(f, 0);
	put32(f, 65535);
	put32(f, 1);
	for (uint32_t i = 1; i <= 5; i++) {
		put32(f, i);
		put32(f, i);
		put32(f, sizeof(frame));
		put32(f, sizeof(frame));
		fwrite(frame, sizeof(frame), 1, f);
	}
	return fclose(f);
}

struct seen {
	struct capture *c;
	int n, break_at;
	uint64_t last_ts;
};

static void on_pkt(void *arg, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		   size_t wirelen)
{
	struct seen *s = arg;

	(void)data;
	(void)dlt;
	s->n++;
	s->last_ts = ts;
	if (caplen != 60 || wirelen != 60)
		s->n += 1000;
	if (s->n == s->break_at)
		capture_break(s->c);
}

/*
 * What the dispatch calls return, in order, as text, after whether the
 * source is a regular file (which reader capture.c chose follows from it).
 */
static void script(const char *path, char *out, size_t len)
{
	struct capture_opts o = {.file = path};
	char err[256];
	int bad;
	struct capture *c = capture_open(&o, err, sizeof(err), &bad);

	if (!c) {
		snprintf(out, len, "open: %.200s", err);
		return;
	}
	size_t k = (size_t)snprintf(out, len, "%s: ", capture_is_regular_file(c) ? "file" : "pipe");
	struct seen s = {c, 0, 2, 0};
	int rcs[5];
	rcs[0] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* breaks after 2 */
	rcs[1] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the break: none */
	rcs[2] = capture_dispatch(c, 1, on_pkt, &s, err, sizeof(err)); /* one */
	rcs[3] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the rest (two) */
	rcs[4] = capture_dispatch(c, 0, on_pkt, &s, err, sizeof(err)); /* the end */
	for (int i = 0; i < 5; i++)
		k += (size_t)snprintf(out + k, len - k, "%d,", rcs[i]);
	snprintf(out + k, len - k, "seen %d, last %llu", s.n, (unsigned long long)s.last_ts);
	capture_close(c);
}

static void break_and_resume(void)
{
	char dir[] = "/tmp/tcpstate-unit-capture.XXXXXX", file[64], fifo[64];
	char disk[256] = "", piped[256] = "";

	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/t.pcap", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(write_file(file) == 0);
	script(file, disk, sizeof(disk));
	CHECK_STR(disk, "file: 2,-2,1,2,0,seen 5, last 5000005");

	/* The same bytes through a FIFO: libpcap reads them. */
	CHECK(mkfifo(fifo, 0600) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *in = fopen(file, "rb"), *out = fopen(fifo, "wb");
		char buf[4096];
		size_t n;
		while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		if (out)
			fclose(out); /* (_exit() would not flush it) */
		_exit(0);
	}
	script(fifo, piped, sizeof(piped));
	waitpid(pid, NULL, 0);
	CHECK(strncmp(piped, "pipe: ", 6) == 0);
	CHECK_STR(piped + (strncmp(piped, "pipe: ", 6) == 0 ? 6 : 0), disk + 6);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
}

/* What the engine made of a capture, as text: its events, then its connections. */
struct told {
	FILE *f;
	struct engine *e;
};

static void tell_conn(void *arg, const struct conn *c)
{
	struct told *t = arg;
	struct conn_info ci;

	engine_conn_info(t->e, c, &ci);
	fprintf(t->f,
		"conn %u/%u %u:%u-%u:%u %s/%s z%u/%u %s %s %llu-%llu since %llu/%llu pkts "
		"%llu/%llu bytes %llu/%llu unsure %u/%u mid %u\n",
		ci.id, ci.instance, ci.addr[0][15], ci.port[0], ci.addr[1][15], ci.port[1],
		state_name(ci.state[0]), state_name(ci.state[1]), ci.zeek_state[0],
		ci.zeek_state[1], ci.conn_state, ci.history, (unsigned long long)ci.first_us,
		(unsigned long long)ci.last_us, (unsigned long long)ci.since_us[0],
		(unsigned long long)ci.since_us[1], (unsigned long long)ci.pkts[0],
		(unsigned long long)ci.pkts[1], (unsigned long long)ci.bytes[0],
		(unsigned long long)ci.bytes[1], ci.unsure[0], ci.unsure[1], ci.midstream);
}

static void tell_event(void *arg, const struct engine_event *ev)
{
	struct told *t = arg;

	fprintf(t->f, "%llu ", (unsigned long long)ev->ts_us);
	tell_conn(t, ev->conn);
	fprintf(t->f, "  %u %s -> %s (%s)\n", ev->endpoint, state_name(ev->from),
		state_name(ev->to), engine_cause_name(ev->cause));
}

static void tell_closed(void *arg, const struct conn *c, enum close_reason why)
{
	struct told *t = arg;

	fprintf(t->f, "closed %d ", (int)why);
	tell_conn(t, c);
}

/* The engine's account of path, read whole or headers only; NULL if it cannot be read. */
static char *engine_account(const char *path, int headers_only)
{
	struct wire_opts o;
	struct told t = {NULL, NULL};
	char *text = NULL, err[256];
	size_t len = 0;
	int usage;

	wire_opts_init(&o);
	o.file = path;
	o.headers_only = headers_only;
	struct engine_hooks hooks = {tell_event, tell_closed, &t};
	struct wire *w = wire_open(&o, &hooks, err, sizeof(err), &usage);
	if (!w)
		return NULL;
	t.f = open_memstream(&text, &len);
	t.e = wire_engine(w);
	int rc = wire_run(w, NULL, 0, err, sizeof(err));
	engine_foreach(t.e, tell_conn, &t);
	fclose(t.f);
	wire_close(w);
	if (rc < 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void count_long(void *arg, uint64_t ts, int dlt, const uint8_t *data, size_t caplen,
		       size_t wirelen)
{
	(void)ts;
	(void)dlt;
	(void)data;
	(void)wirelen;
	*(int *)arg += caplen > WIRE_HEADERS_SNAPLEN;
}

/* Packets in path longer than the live snapshot length. */
static int longer_than_snap(const char *path)
{
	struct capture_opts o = {.file = path};
	char err[256];
	int bad, n = 0, rc;
	struct capture *c = capture_open(&o, err, sizeof(err), &bad);

	if (!c)
		return 0;
	while ((rc = capture_dispatch(c, 0, count_long, &n, err, sizeof(err))) > 0)
		;
	capture_close(c);
	return n;
}

static void headers_only_same_engine(void)
{
	const char *dir = "tests/pcap/captures/pcap";
	DIR *d = opendir(dir);
	int files = 0, cut = 0;
	struct dirent *de;

	CHECK(d != NULL);
	while (d && (de = readdir(d)) != NULL) {
		char path[512];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *whole = engine_account(path, 0), *heads = engine_account(path, 1);
		if (!whole || !heads || strcmp(whole, heads) != 0) {
			printf("  %s: the engine differs when headers only are read\n", path);
			unit_failed = 1;
		}
		files++;
		cut += longer_than_snap(path) > 0;
		free(whole);
		free(heads);
	}
	if (d)
		closedir(d);
	/* The captures are real ones: most carry payload past the headers. */
	CHECK(files >= 30);
	CHECK(cut >= 20);
}

/* top's Wire line (topview.c), the last header line: h as given. */
static void wire_line_of(const struct topview_header *h, char *out, size_t len)
{
	struct top_stats st;
	char lines[12][TOPVIEW_HDR_LINE];

	memset(&st, 0, sizeof(st));
	int n = topview_header(&st, h, lines, 12, 200, 0);
	snprintf(out, len, "%s", n > 0 ? lines[n - 1] : "");
}

static void wire_line_live(void)
{
	char line[TOPVIEW_HDR_LINE];
	/* Before the reader's first read of the kernel's counts, and before an interval passed. */
	struct topview_header h = {.wire_note = "capturing on lo",
				   .wire = 1,
				   .live = 1,
				   .wire_packets = 1234,
				   .wire_conns = 56};

	wire_line_of(&h, line, sizeof(line));
	CHECK_STR(line, "Wire: capturing on lo - 1234 packets, 56 connections");
	/* The kernel's counts read. */
	h.kernel_counts = 1;
	h.kernel_recv = 1300;
	h.kernel_drop = 60;
	h.own_drop = 6;
	wire_line_of(&h, line, sizeof(line));
	CHECK_STR(line, "Wire: capturing on lo - 1234 packets, 56 connections; dropped 66: "
			"kernel 60 of 1300, tcpstate 6");
	/* An interval passed: the rates, and the capture thread's CPU share (or not). */
	const double cpu[2] = {2.14, -1};
	const char *want[2] = {"Wire: capturing on lo - 1234 packets, 56 connections, 812 pkt/s, "
			       "CPU 2.1%; dropped 66 (3/s): kernel 60 of 1300, tcpstate 6",
			       "Wire: capturing on lo - 1234 packets, 56 connections, 812 pkt/s; "
			       "dropped 66 (3/s): kernel 60 of 1300, tcpstate 6"};
	h.rates = 1;
	h.pkt_rate = 812.4;
	h.drop_rate = 3;
	for (int i = 0; i < 2; i++) {
		h.cpu_pct = cpu[i];
		wire_line_of(&h, line, sizeof(line));
		CHECK_STR(line, want[i]);
	}
	/* A replay: no rates nor drops. */
	h = (struct topview_header){
		.wire_note = "replaying x.pcap", .wire = 1, .wire_packets = 7, .wire_conns = 1};
	wire_line_of(&h, line, sizeof(line));
	CHECK_STR(line, "Wire: replaying x.pcap - 7 packets, 1 connections");
}

/* top -b --json's frame of no rows, with a live capture's figures (arg: the wire's). */
static void json_frame_of(struct out *o, void *arg)
{
	struct topmodel *m = topmodel_new();

	CHECK(m != NULL);
	if (m)
		topjson_frame(o, m, 1700000000000000ull, arg, NULL, 0, 0);
	topmodel_free(m);
}

static void json_wire(const struct topjson_wire *w, char *got, size_t len)
{
	unit_written(json_frame_of, (void *)w, got, len);
}

static void json_live_figures(void)
{
	char got[1024];
	struct topjson_wire w = {.source = "lo", .packets = 1234, .conns = 56, .live = 1};

	/* Before the kernel's counts are read and an interval has passed. */
	json_wire(&w, got, sizeof(got));
	CHECK_STR(got, "{\"ts\":1700000000.000000,\"wire\":{\"source\":\"lo\",\"packets\":1234,"
		       "\"connections\":56,\"kernel_received\":null,\"kernel_dropped\":null,"
		       "\"tcpstate_dropped\":0,\"dropped\":null,\"packets_per_s\":null,"
		       "\"dropped_per_s\":null,\"capture_cpu_pct\":null},\"rows_matching\":0,"
		       "\"rows\":[]}\n");
	/* Then both, and the capture thread's CPU share known, or not. */
	w = (struct topjson_wire){.source = "lo",
				  .packets = 1234,
				  .conns = 56,
				  .live = 1,
				  .kernel_counts = 1,
				  .kernel_received = 1300,
				  .kernel_dropped = 60,
				  .tcpstate_dropped = 6,
				  .rates = 1,
				  .packets_per_s = 812.44,
				  .dropped_per_s = 3,
				  .capture_cpu_pct = 2.14};
	json_wire(&w, got, sizeof(got));
	CHECK(strstr(got, "\"kernel_received\":1300,\"kernel_dropped\":60,\"tcpstate_dropped\":6,"
			  "\"dropped\":66,\"packets_per_s\":812.4,\"dropped_per_s\":3.0,"
			  "\"capture_cpu_pct\":2.1}") != NULL);
	w.capture_cpu_pct = -1;
	json_wire(&w, got, sizeof(got));
	CHECK(strstr(got, "\"dropped_per_s\":3.0,\"capture_cpu_pct\":null}") != NULL);
}

const struct unit_test capture_tests[] = {
	{"capture: top -b --json's wire object: drops in all and a second, rates, CPU",
	 json_live_figures},
	{"capture: top's Wire line, live: rates, drops, the kernel's counts once read",
	 wire_line_live},
	{"capture: a break stops both readers alike, and reading resumes", break_and_resume},
	{"capture: headers only, the engine sees what a whole capture shows it",
	 headers_only_same_engine},
	{NULL, NULL},
};
