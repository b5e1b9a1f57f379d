/*
 * Unit tests: the filter compiler (filterbc.c).  The layout of programs and
 * their jump offsets; the kernel's audit rules, one refused program per
 * rule; the size limit; and, over generated filters and sockets, that a
 * program never refuses a socket the filter accepts (and accepts exactly
 * those when it says it is exact).  As root, a live check in a namespace of
 * its own: the kernel narrows the dump, and a program it refuses is dropped
 * and the dump done again without it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/inet_diag.h>

#include "filter.h"
#include "filterbc.h"
#include "sockdiag.h"
#include "unit.h"

#define MAXW 1024

static struct filter *parse(const char *expr)
{
	char buf[4096], *argv[MAXW], err[256];
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", expr);
	for (char *t = strtok(buf, " "); t && n < MAXW; t = strtok(NULL, " "))
		argv[n++] = t;
	struct filter *f = filter_parse(n, argv, err, sizeof(err));
	if (!f)
		printf("  parse \"%s\": %s\n", expr, err);
	return f;
}

/* Compile expr for a dump of `states`; the filter is freed, the program kept. */
static int compile(const char *expr, state_mask states, size_t max, struct filterbc *bc)
{
	struct filter *f = parse(expr);

	memset(bc, 0, sizeof(*bc));
	if (!f)
		return -1;
	int rc = filterbc_compile(f, states, max, bc);
	filter_free(f);
	return rc;
}

static struct inet_diag_bc_op op_at(const struct filterbc *bc, size_t off)
{
	struct inet_diag_bc_op op = {0, 0, 0};
	if (off + sizeof(op) <= bc->len)
		memcpy(&op, bc->code + off, sizeof(op));
	return op;
}

static void test_bc_layout_leaf(void)
{
	struct filterbc bc;

	/* One test: the condition, its operand (the port in a second op's no), reject at 12. */
	CHECK(compile("dport = :443", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 8 && bc.exact);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_D_EQ);
	CHECK(op_at(&bc, 0).yes == 8 && op_at(&bc, 0).no == 12);
	CHECK(op_at(&bc, 4).no == 443);
	filterbc_free(&bc);

	/* > p is >= p+1, < p is <= p-1; nothing is above 65535 or below 0. */
	CHECK(compile("sport > :1000", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_S_GE && op_at(&bc, 4).no == 1001);
	filterbc_free(&bc);
	CHECK(compile("sport < :1000", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_S_LE && op_at(&bc, 4).no == 999);
	filterbc_free(&bc);
	CHECK(compile("dport gt :65535", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 4 && op_at(&bc, 0).code == INET_DIAG_BC_JMP && op_at(&bc, 0).no == 8);
	filterbc_free(&bc);

	/* An IPv6 host condition: op, hostcond, 16 address bytes. */
	CHECK(compile("src [fd00::1]/64:80", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 4 + 8 + 16);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_S_COND && op_at(&bc, 0).yes == 28 &&
	      op_at(&bc, 0).no == 32);
	struct inet_diag_hostcond h;
	memcpy(&h, bc.code + 4, sizeof(h));
	CHECK(h.family == AF_INET6 && h.prefix_len == 64 && h.port == 80);
	filterbc_free(&bc);
	/* A device: its ifindex after the instruction. */
	CHECK(compile("dev 3", SM_ALL, FILTERBC_MAX, &bc) == 0);
	uint32_t ifindex = 0;
	if (bc.len == 8)
		memcpy(&ifindex, bc.code + 4, sizeof(ifindex));
	CHECK(bc.len == 8 && op_at(&bc, 0).code == INET_DIAG_BC_DEV_COND && ifindex == 3);
	filterbc_free(&bc);
	/*
	 * A mark: {mark, mask} after the instruction.  The program passes the
	 * audit for CAP_NET_ADMIN, as compiled (the commands check for it);
	 * the kernel refuses it to anyone else.  --debug-filter prints it.
	 */
	CHECK(compile("fwmark 0x10/0xf0", SM_ALL, FILTERBC_MAX, &bc) == 0);
	struct inet_diag_markcond m = {0, 0};
	if (bc.len == 12)
		memcpy(&m, bc.code + 4, sizeof(m));
	CHECK(bc.len == 12 && bc.exact && !bc.refused);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_MARK_COND && op_at(&bc, 0).yes == 12 &&
	      op_at(&bc, 0).no == 16);
	CHECK(m.mark == 0x10 && m.mask == 0xf0);
	CHECK(filterbc_audit(bc.code, bc.len, 1) == 0);
	CHECK(filterbc_audit(bc.code, bc.len, 0) == -EPERM);
	char *text = NULL;
	size_t tlen = 0;
	FILE *fp = open_memstream(&text, &tlen);
	CHECK(fp != NULL);
	if (fp) {
		filterbc_print(fp, bc.code, bc.len);
		fclose(fp);
		CHECK(text && strstr(text, "fwmark & 0xf0 == 0x10  true: accept  false: reject"));
		free(text);
	}
	filterbc_free(&bc);
	/* != is not over the test; the mask is all ones unless given. */
	CHECK(compile("fwmark != 36", SM_ALL, FILTERBC_MAX, &bc) == 0);
	if (bc.len == 16)
		memcpy(&m, bc.code + 4, sizeof(m));
	CHECK(bc.len == 16 && op_at(&bc, 0).code == INET_DIAG_BC_MARK_COND &&
	      op_at(&bc, 12).code == INET_DIAG_BC_JMP);
	CHECK(m.mark == 36 && m.mask == 0xffffffffu);
	filterbc_free(&bc);
	/* Any address with a port: AF_UNSPEC, no address bytes. */
	CHECK(compile("dst *:22", SM_ALL, FILTERBC_MAX, &bc) == 0);
	memcpy(&h, bc.code + 4, sizeof(h));
	CHECK(bc.len == 12 && h.family == AF_UNSPEC && h.prefix_len == 0 && h.port == 22);
	filterbc_free(&bc);
}

static void test_bc_layout_logic(void)
{
	struct filterbc bc;

	/* not: a JMP after the test; the test's reject (12) lands at the end (accept). */
	CHECK(compile("not dport = :80", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 12);
	CHECK(op_at(&bc, 0).no == 12);
	CHECK(op_at(&bc, 8).code == INET_DIAG_BC_JMP && op_at(&bc, 8).no == 8); /* 16: reject */
	filterbc_free(&bc);

	/* and: the first test's reject moves past the second (8 + 8 + 4). */
	CHECK(compile("sport = :1 and dport = :2", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 16);
	CHECK(op_at(&bc, 0).code == INET_DIAG_BC_S_EQ && op_at(&bc, 0).no == 20);
	CHECK(op_at(&bc, 8).code == INET_DIAG_BC_D_EQ && op_at(&bc, 8).no == 12);
	filterbc_free(&bc);

	/* or: the first's reject is the start of the second; its accept jumps over it. */
	CHECK(compile("sport = :1 or dport = :2", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 20);
	CHECK(op_at(&bc, 0).no == 12);
	CHECK(op_at(&bc, 8).code == INET_DIAG_BC_JMP && op_at(&bc, 8).no == 12); /* 20: end */
	CHECK(op_at(&bc, 12).code == INET_DIAG_BC_D_EQ && op_at(&bc, 12).no == 12);
	filterbc_free(&bc);

	/* Nested: every jump lands on an instruction, the end, or end + 4. */
	CHECK(compile("not ( sport = :1 or ( dport = :2 and not src 198.18.0.0/15 ) ) or dst "
		      "[fd00::2]",
		      SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len > 0 && filterbc_audit(bc.code, bc.len, 0) == 0);
	filterbc_free(&bc);
}

static void test_bc_states(void)
{
	struct filterbc bc;
	state_mask est = SM(TS_ESTABLISHED), two = est | SM(TS_CLOSE_WAIT);

	/* A state test the mask decides is exact and leaves no trace in the program. */
	CHECK(compile("state established and dport = :80", est, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.exact && bc.len == 8 && bc.left[0] == '\0');
	filterbc_free(&bc);
	/* One the mask cannot decide: widened to true, and named as left to user space. */
	CHECK(compile("( state established and dport = :80 ) or ( state close-wait and dport = :81 "
		      ")",
		      two, FILTERBC_MAX, &bc) == 0);
	CHECK(!bc.exact && bc.len == 20);
	CHECK(strstr(bc.left, "ESTABLISHED") && strstr(bc.left, "CLOSE-WAIT"));
	filterbc_free(&bc);
	/* Under not, a test that cannot be decided narrows to false: not (false) is true. */
	CHECK(compile("not ( state established and dport = :80 )", two, FILTERBC_MAX, &bc) == 0);
	CHECK(!bc.exact && bc.len == 0);
	filterbc_free(&bc);
	/* Nothing to test but states: no program. */
	CHECK(compile("state listening or state established", SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 0 && !bc.too_large && !bc.refused);
	filterbc_free(&bc);
}

static void test_bc_too_large(void)
{
	char expr[8192];
	size_t used = 0;
	struct filterbc bc;

	for (int i = 0; i < 200; i++)
		used += (size_t)snprintf(expr + used, sizeof(expr) - used, "%sdst [fd00::%x]",
					 i ? " or " : "", i + 1);
	/* 200 IPv6 tests of 28 bytes and 199 jumps: 6,396 bytes. */
	CHECK(compile(expr, SM_ALL, FILTERBC_MAX, &bc) == 0);
	CHECK(bc.len == 200 * 28 + 199 * 4 && !bc.too_large);
	CHECK(filterbc_audit(bc.code, bc.len, 0) == 0);
	filterbc_free(&bc);
	/* Over the limit: no program, no error; the filter is done in user space. */
	CHECK(compile(expr, SM_ALL, 4096, &bc) == 0);
	CHECK(bc.len == 0 && bc.code == NULL && bc.too_large);
	filterbc_free(&bc);
}

/* ---- the audit, rule by rule ---------------------------------------------- */

struct prog {
	uint8_t b[128];
	size_t n;
};

static void emit(struct prog *p, unsigned code, unsigned yes, unsigned no)
{
	struct inet_diag_bc_op op = {(unsigned char)code, (unsigned char)yes, (unsigned short)no};
	memcpy(p->b + p->n, &op, sizeof(op));
	p->n += sizeof(op);
}

static void emit_hostcond(struct prog *p, int family, int plen, int alen)
{
	struct inet_diag_hostcond h = {(uint8_t)family, (uint8_t)plen, -1};
	memcpy(p->b + p->n, &h, sizeof(h));
	p->n += sizeof(h);
	memset(p->b + p->n, 0, (size_t)alen);
	p->n += (size_t)alen;
}

static void test_bc_audit_rules(void)
{
	struct prog p;

	/* The smallest good program, and the empty one the kernel refuses. */
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 4, 8);
	CHECK(filterbc_audit(p.b, p.n, 0) == 0);
	CHECK(filterbc_audit(p.b, 0, 0) == -EINVAL);
	/* no: a multiple of 4, at least the instruction, at most the end + 4. */
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 4, 6);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 4, 12);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_S_EQ, 8, 4); /* no inside its own operand */
	emit(&p, 0, 0, 80);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	/* A jump into the middle of an instruction (the kernel's valid_cc). */
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 4, 8); /* to offset 8: the port test's operand */
	emit(&p, INET_DIAG_BC_S_EQ, 8, 12);
	emit(&p, 0, 0, 80);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 4, 4); /* to offset 4: fine */
	emit(&p, INET_DIAG_BC_S_EQ, 8, 12);
	emit(&p, 0, 0, 80);
	CHECK(filterbc_audit(p.b, p.n, 0) == 0);
	/* yes shorter than the instruction, or past the end. */
	p.n = 0;
	emit(&p, INET_DIAG_BC_S_EQ, 4, 12);
	emit(&p, 0, 0, 80);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_JMP, 8, 8);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	/* Operands: cut short, a family the kernel does not know, too long a prefix. */
	p.n = 0;
	emit(&p, INET_DIAG_BC_D_EQ, 8, 12);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_S_COND, 16, 20);
	emit_hostcond(&p, AF_INET, 32, 4);
	CHECK(filterbc_audit(p.b, p.n, 0) == 0);
	p.n = 0;
	emit(&p, INET_DIAG_BC_S_COND, 16, 20);
	emit_hostcond(&p, AF_INET, 33, 4);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_S_COND, 16, 20);
	emit_hostcond(&p, 7, 0, 4);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_D_COND, 28, 32);
	emit_hostcond(&p, AF_INET6, 64, 8); /* an IPv6 address cut to 8 bytes */
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	/* Codes: unknown ones are refused; a mark test needs CAP_NET_ADMIN. */
	p.n = 0;
	emit(&p, 200, 4, 8);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EINVAL);
	p.n = 0;
	emit(&p, INET_DIAG_BC_MARK_COND, 12, 16);
	emit(&p, 0, 0, 0);
	emit(&p, 0, 0, 0);
	CHECK(filterbc_audit(p.b, p.n, 0) == -EPERM);
	CHECK(filterbc_audit(p.b, p.n, 1) == 0);
	/* A NOP's no is not checked; its yes is. */
	p.n = 0;
	emit(&p, INET_DIAG_BC_NOP, 4, 1);
	CHECK(filterbc_audit(p.b, p.n, 0) == 0);
}

/* ---- generated filters against the interpreter --------------------------- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static const char *const states_w[] = {"established", "syn-sent",   "time-wait", "listening",
				       "close-wait",  "fin-wait-1", "connected", "bucket"};
static const char *const ops_w[] = {"=", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "ge"};
static const int ports[] = {0, 1, 22, 80, 443, 1023, 1024, 8080, 32768, 65535};
static const char *const v4[] = {"198.18.0.1", "198.18.1.7", "10.0.0.9", "127.0.0.1", "0.0.0.0"};
static const char *const v6[] = {"fd00::1", "fd00::2", "::1", "::ffff:198.18.0.1", "::"};

static const char *const marks_w[] = {"0", "0x24", "36/0xff", "0x20/0xf0", "0x1/0x1", "0/0"};
static const uint32_t marks[] = {0, 0x24, 0x1, 0xffffff25};

static void gen_pred(char *buf, size_t len)
{
	int port = ports[rnd(10)];

	switch (rnd(8)) {
	case 7:
		snprintf(buf, len, "fwmark %s %s", rnd(2) ? "=" : "!=", marks_w[rnd(6)]);
		return;
	case 6:
		snprintf(buf, len, "dev %s %u", rnd(2) ? "=" : "!=", rnd(3));
		return;
	case 0:
		snprintf(buf, len, "%s %s", rnd(2) ? "state" : "exclude", states_w[rnd(8)]);
		return;
	case 1:
		snprintf(buf, len, "%s %s :%d", rnd(2) ? "sport" : "dport", ops_w[rnd(10)], port);
		return;
	case 2:
		snprintf(buf, len, "%s %s/%u", rnd(2) ? "src" : "dst", v4[rnd(5)], rnd(33));
		return;
	case 3:
		snprintf(buf, len, "%s [%s]/%u:%d", rnd(2) ? "src" : "dst", v6[rnd(5)], rnd(129),
			 port);
		return;
	case 4:
		snprintf(buf, len, "%s %s:%d", rnd(2) ? "src" : "dst", v4[rnd(5)], port);
		return;
	default:
		snprintf(buf, len, "%s *:%d", rnd(2) ? "src" : "dst", port);
		return;
	}
}

static void gen_expr(char *buf, size_t len, int depth)
{
	char a[1024], b[1024];

	if (depth <= 0 || rnd(3) == 0) {
		gen_pred(buf, len);
		return;
	}
	gen_expr(a, sizeof(a), depth - 1);
	switch (rnd(4)) {
	case 0:
		snprintf(buf, len, "not ( %s )", a);
		return;
	case 1:
		gen_expr(b, sizeof(b), depth - 1);
		snprintf(buf, len, "( %s ) or ( %s )", a, b);
		return;
	case 2:
		gen_expr(b, sizeof(b), depth - 1);
		snprintf(buf, len, "( %s ) and ( %s )", a, b);
		return;
	default:
		gen_expr(b, sizeof(b), depth - 1);
		snprintf(buf, len, "( %s ) ( %s )", a, b);
		return;
	}
}

#define NRECS 400

static void gen_recs(struct sock_rec *r)
{
	for (int i = 0; i < NRECS; i++) {
		int six = rnd(2);
		const char *const *pool = six ? v6 : v4;
		memset(&r[i], 0, sizeof(r[i]));
		r[i].family = six ? AF_INET6 : AF_INET;
		r[i].state = (uint8_t)(1 + rnd(TS_CLOSING));
		inet_pton(r[i].family, pool[rnd(5)], r[i].laddr);
		inet_pton(r[i].family, pool[rnd(5)], r[i].raddr);
		r[i].lport = (uint16_t)(rnd(4) ? (unsigned)ports[rnd(10)] : rnd(65536));
		r[i].rport = (uint16_t)(rnd(4) ? (unsigned)ports[rnd(10)] : rnd(65536));
		r[i].ifindex = rnd(3);
		r[i].mark = marks[rnd(4)];
	}
}

/* One filter: the program is audited, never drops a match, and is exact when it says so. */
static int check_one(const char *expr, const struct sock_rec *recs, int *exact)
{
	struct filter *f = parse(expr);
	struct filterbc bc;
	int bad = 0;

	if (!f)
		return 1;
	state_mask states = filter_states(f);
	CHECK(filterbc_compile(f, states, FILTERBC_MAX, &bc) == 0);
	/* As filterbc_compile audits: for CAP_NET_ADMIN, which a fwmark test needs. */
	if (bc.refused || (bc.len && filterbc_audit(bc.code, bc.len, 1) != 0))
		bad = 1;
	*exact += bc.exact;
	for (int i = 0; i < NRECS && !bad; i++) {
		if (!(states & SM(recs[i].state)))
			continue;
		struct filterbc_entry e;
		filterbc_entry_of(&e, &recs[i]);
		int m = filter_match(f, &recs[i]);
		int k = bc.len ? filterbc_run(bc.code, bc.len, &e) : 1;
		if (k < 0 || (m && !k) || (bc.exact && m != k))
			bad = 1;
	}
	if (bad)
		printf("  filter \"%s\": the program disagrees with the filter\n", expr);
	filterbc_free(&bc);
	filter_free(f);
	return bad;
}

static void test_bc_generated(void)
{
	static struct sock_rec recs[NRECS];
	char expr[4096];
	int bad = 0, exact = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	gen_recs(recs);
	for (int i = 0; i < 3000 && bad < 5; i++) {
		gen_expr(expr, sizeof(expr), 4);
		bad += check_one(expr, recs, &exact);
	}
	CHECK(bad == 0);
	CHECK(exact > 500); /* most filters without an undecided state compile exactly */
}

/* ---- live: the kernel runs the program (root, a namespace of its own) ----- */

struct count {
	int n;
};

static int count_one(const struct sock_rec *r, void *arg)
{
	(void)r;
	((struct count *)arg)->n++;
	return 0;
}

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0)
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return rc;
}

/* A listener on port and n connections to it: 1 + 2n sockets. */
static int make_conns(int port, int n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    accept(l, NULL, NULL) < 0)
			return -1;
	}
	return 0;
}

static int dump_count(const uint8_t *code, size_t len, struct sockdiag_stats *st)
{
	struct sockdiag_req req;
	struct count c = {0};
	char err[256];

	memset(&req, 0, sizeof(req));
	req.states = SM_ALL;
	req.bytecode = code;
	req.bytecode_len = len;
	if (sockdiag_dump(&req, count_one, &c, st, err, sizeof(err)) < 0)
		return -1;
	return c.n;
}

/* In the child: exit 0 if every check holds, else the number of the first that failed. */
static int live_checks(void)
{
	struct filterbc bc;
	struct sockdiag_stats st;

	if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0)
		return 10;
	if (make_conns(5000, 3) < 0 || make_conns(6000, 2) < 0)
		return 11;
	if (dump_count(NULL, 0, &st) != 12)
		return 1;
	/* dport = :5000: the three clients' sockets alone. */
	if (compile("dport = :5000", SM_ALL, FILTERBC_MAX, &bc) < 0 || !bc.len)
		return 2;
	int n = dump_count(bc.code, bc.len, &st);
	filterbc_free(&bc);
	if (n != 3 || st.bc_refused)
		return 3;
	/* A program the kernel refuses (no not a multiple of 4): dumped again without it. */
	struct prog p = {.n = 0};
	emit(&p, INET_DIAG_BC_JMP, 4, 6);
	n = dump_count(p.b, p.n, &st);
	if (n != 12 || st.bc_refused != EINVAL)
		return 4;
	return 0;
}

static void test_bc_live(void)
{
	if (geteuid() != 0) {
		unit_skip("needs root for a network namespace");
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(live_checks());
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		printf("  live check %d failed\n", WEXITSTATUS(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

const struct unit_test filterbc_tests[] = {
	{"bc_layout_leaf", test_bc_layout_leaf},
	{"bc_layout_logic", test_bc_layout_logic},
	{"bc_states", test_bc_states},
	{"bc_too_large", test_bc_too_large},
	{"bc_audit_rules", test_bc_audit_rules},
	{"bc_generated", test_bc_generated},
	{"bc_live", test_bc_live},
	{NULL, NULL},
};
