/*
 * Unit tests: `top -b --json` frames (topjson.c), from a model with a
 * capture joined: rows spelled as list --json spells sockets, the wire's
 * states where it saw the connection and null where it did not, a
 * process's name in JSON's escaping, and the capture's figures or why
 * there are none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "segment.h"
#include "topjson.h"
#include "topmodel.h"
#include "unit.h"

/* What fn wrote through a struct out, read back from a temporary file. */
static void written(void (*fn)(struct out *, void *), void *arg, char *got, size_t len)
{
	FILE *f = tmpfile();
	struct out *o = malloc(sizeof(*o));

	got[0] = '\0';
	CHECK(f && o);
	if (!f || !o) {
		free(o);
		if (f)
			fclose(f);
		return;
	}
	out_init(o, fileno(f));
	fn(o, arg);
	CHECK(out_flush(o) == 0);
	rewind(f);
	size_t n = fread(got, 1, len - 1, f);
	got[n] = '\0';
	fclose(f);
	free(o);
}

static struct sock_rec sock(int state, const char *la, int lp, const char *ra, int rp,
			    uint32_t inode)
{
	struct sock_rec r;
	int fam;

	memset(&r, 0, sizeof(r));
	addr_parse(la, &fam, r.laddr);
	addr_parse(ra, &fam, r.raddr);
	r.family = (uint8_t)fam;
	r.state = (uint8_t)state;
	r.lport = (uint16_t)lp;
	r.rport = (uint16_t)rp;
	r.inode = inode;
	return r;
}

static void seg(struct engine *e, uint64_t t, const char *a, int pa, const char *b, int pb,
		int flags, uint32_t seq, uint32_t ack)
{
	struct segment s;
	int fam;

	memset(&s, 0, sizeof(s));
	s.ts_us = t;
	addr_parse(a, &fam, s.saddr);
	addr_parse(b, &fam, s.daddr);
	s.family = (uint8_t)fam;
	s.sport = (uint16_t)pa;
	s.dport = (uint16_t)pb;
	s.flags = (uint8_t)flags;
	s.seq = seq;
	s.ack = ack;
	s.win = 65535;
	s.csum = -1;
	engine_input(e, &s);
}

/* A /proc with one process, 77, holding socket 900 as fd 3, its name as hostile as it can be. */
static char root[] = "/tmp/tcpstate-topjson-XXXXXX";

static int fake_proc(void)
{
	char p[256];
	FILE *f;

	if (!mkdtemp(root))
		return -1;
	snprintf(p, sizeof(p), "%s/self", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77/fd", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/77/fd/3", root);
	if (symlink("socket:[900]", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/77/comm", root);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("a\"b\n\x1b\xff\n", f);
	return fclose(f);
}

static void rm_fake_proc(void)
{
	static const char *const paths[] = {"77/fd/3", "77/comm", "77/fd", "77", "self"};
	char p[256];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, paths[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(root);
}

struct frame_arg {
	const struct topmodel *m;
	const struct topjson_wire *w;
	uint64_t ts;
};

static void frame(struct out *o, void *arg)
{
	const struct frame_arg *a = arg;
	uint32_t idx[8];
	size_t matching, n = topmodel_view(a->m, SM_ALL, NULL, SORT_LOCAL, 0, 0, 8, idx, &matching);
	topjson_frame(o, a->m, a->ts, a->w, idx, n, matching);
}

#define T0 1700000000000000ull

/*
 * Four rows: a listener whose process has a quote, a line break, an ESC
 * and a byte that is not UTF-8 in its name; a connection the capture saw
 * from its SYN (states sure, age exact); one it never saw (null); and one
 * only the capture has (no kernel state, from its originator).
 */
static void rows_as_list_spells_them(void)
{
	struct engine_config cfg;
	engine_config_defaults(&cfg);
	struct engine *e = engine_new(&cfg, NULL);
	struct topmodel *m = topmodel_new();
	static char got[4096];

	CHECK(fake_proc() == 0 && e && m);
	if (!e || !m)
		goto out;
	seg(e, T0, "198.18.0.2", 40000, "198.18.0.1", 80, TH_SYN, 100, 0);
	seg(e, T0 + 10, "198.18.0.1", 80, "198.18.0.2", 40000, TH_SYN | TH_ACK, 500, 101);
	seg(e, T0 + 20, "198.18.0.2", 40000, "198.18.0.1", 80, TH_ACK, 101, 501);
	seg(e, T0 + 30, "198.18.0.9", 40010, "198.18.0.1", 80, TH_SYN, 100, 0);
	struct sock_rec k[] = {
		sock(TS_LISTEN, "198.18.0.1", 80, "0.0.0.0", 0, 900),
		sock(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.2", 40000, 0),
		sock(TS_ESTABLISHED, "198.18.0.1", 80, "198.18.0.3", 40001, 0),
	};
	k[1].recv_q = 5;
	k[1].has_info = 1;
	k[1].info.rtt_us = 1250;
	k[1].info.total_retrans = 2;
	topmodel_begin(m, T0 + 1000000);
	for (int i = 0; i < 3; i++)
		CHECK(topmodel_add(m, &k[i]) == 0);
	topmodel_end(m, 0, root);
	topmodel_join(m, e, T0 + 1000000); /* as top joins: at the refresh's time */

	struct topjson_wire w = {"any", NULL, 4, 2, 1, 8, 1};
	struct frame_arg a = {m, &w, T0 + 1000000};
	written(frame, &a, got, sizeof(got));
	CHECK_STR(got,
		  "{\"ts\":1700000001.000000,\"wire\":{\"source\":\"any\",\"packets\":4,"
		  "\"connections\":2,\"kernel_received\":8,\"kernel_dropped\":1},"
		  "\"rows_matching\":4,\"rows\":["
		  "{\"state\":\"LISTEN\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"*\",\"peer_port\":0,\"recv_q\":0,\"send_q\":0,"
		  "\"wire_local\":null,\"wire_peer\":null,\"wire_sure\":null,"
		  "\"wire_disagree\":false,\"wire_only\":false,"
		  "\"process\":{\"pid\":77,\"comm\":\"a\\\"b\\u000a\\u001b\\ufffd\",\"fd\":3,"
		  "\"closed\":false},\"age_s\":0.000000,\"age_exact\":false,"
		  "\"rtt_us\":null,\"total_retrans\":null},"
		  "{\"state\":\"ESTABLISHED\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"198.18.0.2\",\"peer_port\":40000,"
		  "\"recv_q\":5,\"send_q\":0,\"wire_local\":\"ESTABLISHED\","
		  "\"wire_peer\":\"ESTABLISHED\",\"wire_sure\":true,\"wire_disagree\":false,"
		  "\"wire_only\":false,\"process\":null,\"age_s\":0.999980,\"age_exact\":true,"
		  "\"rtt_us\":1250,\"total_retrans\":2},"
		  "{\"state\":\"ESTABLISHED\",\"family\":\"ipv4\",\"local_addr\":\"198.18.0.1\","
		  "\"local_port\":80,\"peer_addr\":\"198.18.0.3\",\"peer_port\":40001,"
		  "\"recv_q\":0,\"send_q\":0,\"wire_local\":null,\"wire_peer\":null,"
		  "\"wire_sure\":null,\"wire_disagree\":false,\"wire_only\":false,"
		  "\"process\":null,\"age_s\":0.000000,\"age_exact\":false,"
		  "\"rtt_us\":null,\"total_retrans\":null},"
		  "{\"state\":null,\"family\":\"ipv4\",\"local_addr\":\"198.18.0.9\","
		  "\"local_port\":40010,\"peer_addr\":\"198.18.0.1\",\"peer_port\":80,"
		  "\"recv_q\":0,\"send_q\":0,\"wire_local\":\"SYN-SENT\","
		  "\"wire_peer\":\"SYN-RECEIVED\",\"wire_sure\":true,\"wire_disagree\":false,"
		  "\"wire_only\":true,\"process\":null,\"age_s\":0.000000,\"age_exact\":true,"
		  "\"rtt_us\":null,\"total_retrans\":null}]}\n");

	/* No capture: null, and why; a replay has no kernel counters. */
	struct topjson_wire off = {NULL, "--no-wire", 0, 0, 0, 0, 0};
	struct frame_arg b = {m, &off, T0};
	written(frame, &b, got, sizeof(got));
	static const char nowire[] = "{\"ts\":1700000000.000000,\"wire\":null,"
				     "\"wire_off_reason\":\"--no-wire\",\"rows_matching\":4,"
				     "\"rows\":[{\"state\":\"LISTEN\",";
	CHECK(strncmp(got, nowire, sizeof(nowire) - 1) == 0);
	struct topjson_wire file = {"x.pcap", NULL, 4, 2, 0, 0, 0};
	struct frame_arg c = {m, &file, T0};
	written(frame, &c, got, sizeof(got));
	CHECK(strstr(got, "\"wire\":{\"source\":\"x.pcap\",\"packets\":4,\"connections\":2,"
			  "\"kernel_received\":null,\"kernel_dropped\":null},") != NULL);
out:
	topmodel_free(m);
	engine_free(e);
	rm_fake_proc();
}

const struct unit_test topjson_tests[] = {
	{"topjson: rows as list --json spells them, the wire's view or null",
	 rows_as_list_spells_them},
	{NULL, NULL},
};
