/*
 * Unit tests: the inet_diag reply parser, on crafted messages (truncated,
 * malformed, errors, foreign replies, short and long tcp_info) and on a
 * dump recorded from a real kernel (tests/data/ns1.nldump).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "sockdiag.h"
#include "unit.h"

/* Append a netlink message with the given payload; returns its offset. */
static size_t nlmsg(struct unit_buf *b, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid,
		    const void *payload, size_t plen)
{
	struct nlmsghdr h = {(uint32_t)(sizeof(h) + plen), type, flags, seq, pid};
	size_t off = b->n;
	unit_put(b, &h, sizeof(h));
	unit_put(b, payload, plen);
	while (b->n % 4)
		unit_put8(b, 0);
	return off;
}

struct diag_payload {
	struct inet_diag_msg m;
	uint8_t attrs[512];
	size_t alen;
};

static void diag_init(struct diag_payload *d, int family, int state, uint16_t sport, uint16_t dport)
{
	memset(d, 0, sizeof(*d));
	d->m.idiag_family = (uint8_t)family;
	d->m.idiag_state = (uint8_t)state;
	d->m.id.idiag_sport = htons(sport);
	d->m.id.idiag_dport = htons(dport);
	d->m.id.idiag_src[0] = htonl(0xc6120001); /* 198.18.0.1 */
	d->m.id.idiag_dst[0] = htonl(0xc6120002);
	d->m.idiag_rqueue = 7;
	d->m.idiag_wqueue = 9;
	d->m.idiag_uid = 1000;
	d->m.idiag_inode = 4242;
	d->m.idiag_timer = 1;
	d->m.idiag_expires = 200;
	d->m.idiag_retrans = 2;
}

static void diag_attr(struct diag_payload *d, uint16_t type, const void *p, size_t n)
{
	uint16_t len = (uint16_t)(4 + n);
	memcpy(d->attrs + d->alen, &len, 2);
	memcpy(d->attrs + d->alen + 2, &type, 2);
	memcpy(d->attrs + d->alen + 4, p, n);
	d->alen += (4 + n + 3) & ~(size_t)3;
}

static size_t diag_msg(struct unit_buf *b, const struct diag_payload *d, uint32_t seq, uint32_t pid,
		       uint16_t flags)
{
	uint8_t tmp[sizeof(d->m) + sizeof(d->attrs)];
	memcpy(tmp, &d->m, sizeof(d->m));
	memcpy(tmp + sizeof(d->m), d->attrs, d->alen);
	return nlmsg(b, SOCK_DIAG_BY_FAMILY, flags, seq, pid, tmp, sizeof(d->m) + d->alen);
}

static void done_msg(struct unit_buf *b, uint32_t seq, uint32_t pid)
{
	int32_t zero = 0;
	nlmsg(b, NLMSG_DONE, NLM_F_MULTI, seq, pid, &zero, sizeof(zero));
}

struct got {
	struct sock_rec recs[16];
	int n, stop_after;
};

static int take(const struct sock_rec *r, void *arg)
{
	struct got *g = arg;
	if (g->n < 16)
		g->recs[g->n] = *r;
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

static int run(const struct unit_buf *b, struct got *g, struct sockdiag_stats *st, char *err)
{
	struct sockdiag_parser p;
	memset(st, 0, sizeof(*st));
	sockdiag_parser_init(&p, 77, 1234, take, g, st);
	int rc = sockdiag_parse(&p, b->b, b->n);
	strcpy(err, p.errmsg);
	return rc;
}

static void one_socket(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	diag_init(&d, AF_INET, TS_ESTABLISHED, 40000, 443);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1);
	CHECK(g.n == 1 && st.sockets == 1);
	const struct sock_rec *r = &g.recs[0];
	CHECK(r->family == AF_INET && r->state == TS_ESTABLISHED);
	CHECK(r->lport == 40000 && r->rport == 443);
	CHECK(r->laddr[0] == 198 && r->laddr[1] == 18 && r->laddr[3] == 1 && r->raddr[3] == 2);
	CHECK(r->recv_q == 7 && r->send_q == 9 && r->uid == 1000 && r->inode == 4242);
	CHECK(r->timer == 1 && r->expires_ms == 200 && r->retrans == 2);
	CHECK(!r->has_info);
}

static void request_socket_is_syn_recv(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	diag_init(&d, AF_INET6, TS_NEW_SYN_RECV, 80, 50000);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 1);
	CHECK(g.recs[0].state == TS_SYN_RECV && g.recs[0].family == AF_INET6);
}

static void foreign_and_stale_replies_skipped(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 76, 1234, NLM_F_MULTI);	   /* stale seq */
	diag_msg(&b, &d, 77, 999, NLM_F_MULTI);		   /* another port id */
	nlmsg(&b, 0x99, NLM_F_MULTI, 77, 1234, "xxxx", 4); /* unknown type */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1);
	CHECK(g.n == 1 && st.skipped == 3);
}

static void error_message_fails(void)
{
	struct unit_buf b = {.n = 0};
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];
	struct nlmsgerr e;

	memset(&e, 0, sizeof(e));
	e.error = -EPERM;
	nlmsg(&b, NLMSG_ERROR, 0, 77, 1234, &e, sizeof(e));
	CHECK(run(&b, &g, &st, err) == -1);
	CHECK(strstr(err, "Operation not permitted") != NULL);

	/* An error message too short to hold the code. */
	b.n = 0;
	nlmsg(&b, NLMSG_ERROR, 0, 77, 1234, "", 0);
	CHECK(run(&b, &g, &st, err) == -1 && strstr(err, "truncated error"));

	/* DONE carrying an error code. */
	b.n = 0;
	int32_t code = -ENOBUFS;
	nlmsg(&b, NLMSG_DONE, NLM_F_MULTI, 77, 1234, &code, sizeof(code));
	CHECK(run(&b, &g, &st, err) == -1 && strstr(err, "No buffer space"));
}

static void truncated_messages(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	size_t full = b.n;
	/* Cut inside the message: the header claims more than there is. */
	for (size_t cut = 17; cut < full; cut += 7) {
		struct unit_buf t = b;
		t.n = cut;
		g.n = 0;
		CHECK(run(&t, &g, &st, err) == -1 && strstr(err, "truncated"));
		CHECK(g.n == 0);
	}
	/* A header claiming less than a header. */
	b.n = 0;
	struct nlmsghdr h = {8, SOCK_DIAG_BY_FAMILY, 0, 77, 1234};
	unit_put(&b, &h, sizeof(h));
	CHECK(run(&b, &g, &st, err) == -1);
	/* Fewer than 16 bytes: wait for more, deliver nothing. */
	b.n = 10;
	g.n = 0;
	CHECK(run(&b, &g, &st, err) == 0 && g.n == 0);
}

static void malformed_payloads_counted(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	/* Payload shorter than inet_diag_msg. */
	nlmsg(&b, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 77, 1234, "short", 5);
	/* Unknown family. */
	diag_init(&d, AF_UNIX, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	/* State out of range. */
	diag_init(&d, AF_INET, 99, 1, 2);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	/* An attribute longer than the message. */
	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	uint16_t bad[2] = {400, INET_DIAG_INFO};
	memcpy(d.attrs, bad, 4);
	d.alen = 4;
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	/* An attribute shorter than its header. */
	uint16_t tiny[2] = {2, INET_DIAG_INFO};
	memcpy(d.attrs, tiny, 4);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	/* And one good socket after all that. */
	diag_init(&d, AF_INET, TS_LISTEN, 22, 0);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1);
	CHECK(st.malformed == 5 && g.n == 1 && g.recs[0].state == TS_LISTEN);
}

static void tcp_info_any_length(void)
{
	struct tcp_info ti;
	uint8_t big[sizeof(ti) + 64];
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];
	struct unit_buf b = {.n = 0};

	memset(&ti, 0, sizeof(ti));
	ti.tcpi_rtt = 1500;
	ti.tcpi_rttvar = 700;
	ti.tcpi_snd_cwnd = 33;
	ti.tcpi_total_retrans = 4;
	ti.tcpi_retransmits = 1;
	ti.tcpi_bytes_acked = 123456789012ULL;
	ti.tcpi_bytes_received = 42;
	ti.tcpi_delivery_rate = 1000000;

	/* Longer than ours (a newer kernel): read what we know. */
	memset(big, 0xee, sizeof(big));
	memcpy(big, &ti, sizeof(ti));
	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_attr(&d, INET_DIAG_INFO, big, sizeof(big));
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	/* Shorter (an older kernel): up to tcpi_rttvar only. */
	diag_init(&d, AF_INET, TS_ESTABLISHED, 3, 4);
	size_t shortlen = offsetof(struct tcp_info, tcpi_snd_ssthresh);
	diag_attr(&d, INET_DIAG_INFO, &ti, shortlen);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 2);
	const struct sock_rec *r = &g.recs[0];
	CHECK(r->has_info && r->info.rtt_us == 1500 && r->info.rttvar_us == 700);
	CHECK(r->info.snd_cwnd == 33 && r->info.total_retrans == 4 && r->retransmits == 1);
	CHECK(r->info.bytes_acked == 123456789012ULL && r->info.bytes_received == 42);
	CHECK(r->info.delivery_rate == 1000000);
	r = &g.recs[1];
	CHECK(r->has_info && r->info.rtt_us == 1500 && r->info.rttvar_us == 700);
	CHECK(r->info.snd_cwnd == 0 && r->info.bytes_acked == 0 && r->info.delivery_rate == 0);
	CHECK(st.info_short == 1);
}

/*
 * INET_DIAG_SKV6ONLY, which the kernel sends for IPv6 listeners unasked:
 * whether [::] holds its port for IPv4 too (the ephemeral census needs it).
 */
static void v6only_attribute(void)
{
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];
	struct unit_buf b = {.n = 0};
	uint8_t on = 1, off = 0;

	diag_init(&d, AF_INET6, TS_LISTEN, 7000, 0);
	diag_attr(&d, INET_DIAG_SKV6ONLY, &on, 1);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET6, TS_LISTEN, 7001, 0);
	diag_attr(&d, INET_DIAG_SKV6ONLY, &off, 1);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET6, TS_LISTEN, 7002, 0); /* none: as before the attribute */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 3);
	CHECK(g.recs[0].v6only == 1 && g.recs[1].v6only == 0 && g.recs[2].v6only == 0);
	CHECK(g.recs[0].spare == 0 && g.recs[0].mark == 0);
}

/*
 * INET_DIAG_CGROUP_ID, also sent unasked, for full sockets only: the
 * owner's cgroup v2 id (the filter's "cgroup PATH" compares it).  A record
 * without it, or with a payload too short for a u64, has 0, as a TIME-WAIT
 * socket has; a value never carries over from the message before.
 */
static void cgroup_id_attribute(void)
{
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];
	struct unit_buf b = {.n = 0};
	uint64_t id = 0x123456789abcdef0ull;
	uint32_t half = 77;

	diag_init(&d, AF_INET, TS_ESTABLISHED, 7000, 41000);
	diag_attr(&d, INET_DIAG_CGROUP_ID, &id, sizeof(id));
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET, TS_TIME_WAIT, 7001, 41001); /* none, as the kernel sends it */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET6, TS_LISTEN, 7002, 0);
	diag_attr(&d, INET_DIAG_CGROUP_ID, &half, sizeof(half)); /* too short: ignored */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 3 && st.malformed == 0);
	CHECK(g.recs[0].cgroup_id == id);
	CHECK(g.recs[1].cgroup_id == 0 && g.recs[2].cgroup_id == 0);
	CHECK(g.recs[0].lport == 7000 && g.recs[2].lport == 7002);
}

/*
 * INET_DIAG_MARK, sent unasked to CAP_NET_ADMIN only, for full, request
 * and (since 5.14) TIME-WAIT sockets: the socket's mark (SO_MARK), which
 * "fwmark" tests.  Without it, or with a payload too short for a u32, the
 * mark is 0; a value never carries over from the message before.
 */
static void mark_attribute(void)
{
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];
	struct unit_buf b = {.n = 0};
	uint32_t mark = 0xfedc0024;
	uint16_t half = 0x24;

	diag_init(&d, AF_INET, TS_ESTABLISHED, 7000, 41000);
	diag_attr(&d, INET_DIAG_MARK, &mark, sizeof(mark));
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET, TS_ESTABLISHED, 7001, 41001); /* none: not CAP_NET_ADMIN */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET6, TS_LISTEN, 7002, 0);
	diag_attr(&d, INET_DIAG_MARK, &half, sizeof(half)); /* too short: ignored */
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_init(&d, AF_INET6, TS_TIME_WAIT, 7003, 41003);
	diag_attr(&d, INET_DIAG_MARK, &mark, sizeof(mark));
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 4 && st.malformed == 0);
	CHECK(g.recs[0].mark == mark && g.recs[3].mark == mark);
	CHECK(g.recs[1].mark == 0 && g.recs[2].mark == 0);
	CHECK(g.recs[0].lport == 7000 && g.recs[2].lport == 7002 && g.recs[3].lport == 7003);
}

static void dump_intr_and_stop(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	char err[128];

	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI | NLM_F_DUMP_INTR);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	diag_msg(&b, &d, 77, 1234, NLM_F_MULTI);
	done_msg(&b, 77, 1234);
	CHECK(run(&b, &g, &st, err) == 1 && st.intr == 1 && g.n == 3);
	g.n = 0;
	g.stop_after = 2;
	CHECK(run(&b, &g, &st, err) == 1 && g.n == 2);
}

/* Count the lines of the ss output recorded with the dump. */
static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void recorded_dump_replays(void)
{
	struct sockdiag_req req;
	struct sockdiag_stats st;
	struct got g = {.n = 0};
	char err[256];

	memset(&req, 0, sizeof(req));
	req.load_path = "tests/data/ns1.nldump";
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == 0);
	int want = count_lines("tests/data/ns1.ss.txt");
	CHECK(want > 10 && g.n == want);
	CHECK(st.malformed == 0 && st.intr == 0);
	int syn_sent = 0, info = 0;
	for (int i = 0; i < g.n && i < 16; i++) {
		syn_sent += g.recs[i].state == TS_SYN_SENT && g.recs[i].rport == 5009;
		info += g.recs[i].has_info;
	}
	CHECK(syn_sent == 1 && info > 0);
	/* Only IPv6 when asked. */
	g.n = 0;
	req.family = AF_INET6;
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == 0);
	CHECK(g.n == 3);
}

static void bad_dump_files(void)
{
	struct sockdiag_req req;
	struct sockdiag_stats st;
	struct got g = {.n = 0};
	char err[256], path[] = "/tmp/tcpstate-unit-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	memset(&req, 0, sizeof(req));
	req.load_path = path;
	CHECK(write(fd, "notadump", 8) == 8);
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == -1);
	CHECK(strstr(err, "not a tcpstate dump file") != NULL);
	/* The real magic, then a header cut short. */
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(write(fd, "tcpsdmp1\x02\x00\x00", 11) == 11);
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == -1);
	CHECK(strstr(err, "truncated chunk header") != NULL);
	/* A chunk claiming a huge length. */
	uint32_t h[4] = {2, 1, 1, 0x7fffffff};
	CHECK(ftruncate(fd, 8) == 0 && lseek(fd, 8, SEEK_SET) == 8);
	CHECK(write(fd, h, sizeof(h)) == sizeof(h));
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == -1);
	CHECK(strstr(err, "too large") != NULL);
	/* A dump without NLMSG_DONE. */
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 1, 1, NLM_F_MULTI);
	h[3] = (uint32_t)b.n;
	CHECK(ftruncate(fd, 8) == 0 && lseek(fd, 8, SEEK_SET) == 8);
	CHECK(write(fd, h, sizeof(h)) == sizeof(h) && write(fd, b.b, b.n) == (ssize_t)b.n);
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == -1);
	CHECK(strstr(err, "without NLMSG_DONE") != NULL);
	close(fd);
	unlink(path);
	req.load_path = "/nonexistent/dump";
	CHECK(sockdiag_dump(&req, take, &g, &st, err, sizeof(err)) == -1);
	CHECK(strstr(err, "No such file") != NULL);
}

/*
 * Answers to single-socket requests (top's tcp_info for the rows on
 * screen): one message per request, a gone socket answered by ENOENT, no
 * NLMSG_DONE.  The parser is done after exactly as many answers as were
 * asked for, and an error answers its request without failing the batch.
 */
static void answers_to_single_requests(void)
{
	struct unit_buf b = {.n = 0};
	struct diag_payload d;
	struct got g = {.n = 0};
	struct sockdiag_stats st;
	struct sockdiag_parser p;
	struct nlmsgerr e;

	diag_init(&d, AF_INET, TS_ESTABLISHED, 1, 2);
	diag_msg(&b, &d, 77, 1234, 0);
	memset(&e, 0, sizeof(e));
	e.error = -ENOENT;
	nlmsg(&b, NLMSG_ERROR, 0, 77, 1234, &e, sizeof(e));
	size_t two = b.n;
	diag_init(&d, AF_INET, TS_LISTEN, 3, 0);
	diag_msg(&b, &d, 77, 1234, 0);

	/* Split after the second answer: the parser must ask for more. */
	memset(&st, 0, sizeof(st));
	sockdiag_parser_init(&p, 77, 1234, take, &g, &st);
	p.expect = 3;
	CHECK(sockdiag_parse(&p, b.b, two) == 0);
	CHECK(p.answered == 2 && g.n == 1 && st.skipped == 1 && !p.done);
	CHECK(sockdiag_parse(&p, b.b + two, b.n - two) == 1);
	CHECK(p.done && p.answered == 3 && g.n == 2);
	CHECK(g.recs[0].lport == 1 && g.recs[1].lport == 3);

	/* The same bytes as a dump: the error is fatal there. */
	g.n = 0;
	memset(&st, 0, sizeof(st));
	sockdiag_parser_init(&p, 77, 1234, take, &g, &st);
	CHECK(sockdiag_parse(&p, b.b, b.n) == -1 && strstr(p.errmsg, "No such file"));
}

const struct unit_test diagmsg_tests[] = {
	{"diagmsg: answers to single-socket requests", answers_to_single_requests},
	{"diagmsg: one socket, every field", one_socket},
	{"diagmsg: request socket shows SYN-RECEIVED", request_socket_is_syn_recv},
	{"diagmsg: foreign and stale replies skipped", foreign_and_stale_replies_skipped},
	{"diagmsg: NLMSG_ERROR and DONE errors", error_message_fails},
	{"diagmsg: truncated messages", truncated_messages},
	{"diagmsg: malformed payloads counted", malformed_payloads_counted},
	{"diagmsg: tcp_info longer and shorter", tcp_info_any_length},
	{"diagmsg: IPV6_V6ONLY of a listener", v6only_attribute},
	{"diagmsg: the owner's cgroup id", cgroup_id_attribute},
	{"diagmsg: the socket's mark", mark_attribute},
	{"diagmsg: DUMP_INTR noted, callback stops", dump_intr_and_stop},
	{"diagmsg: recorded kernel dump replays", recorded_dump_replays},
	{"diagmsg: bad dump files", bad_dump_files},
	{NULL, NULL},
};
