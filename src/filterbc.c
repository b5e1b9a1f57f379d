/*
 * filterbc.c - compile a filter into inet_diag bytecode; audit and run such
 * programs as the kernel does (net/ipv4/inet_diag.c).
 *
 * The program format.  Each instruction is {u8 code, u8 yes, u16 no}
 * (host order), followed for a condition by its operand.  The kernel runs
 * it from the start: a true condition moves on by `yes` bytes, a false one
 * by `no` (a JMP is always false).  Running off the end exactly accepts the
 * socket; landing anywhere past it rejects it.
 *
 * How it is built (as ss builds it, in misc/ss.c).  Each subexpression
 * compiles to a fragment of length L that accepts by running off its end
 * (offset L) and rejects by jumping to L + 4.  Then:
 *   a and b:  a b, with a's jumps to "reject" moved to the end of b + 4;
 *   a or b:   a JMP(no: end) b, so a's reject lands at the start of b;
 *   not a:    a JMP(no: end + 4), so a's accept lands on the JMP (reject)
 *             and a's reject lands exactly at the end (accept).
 * `yes` is only ever the length of its own instruction, so the 8-bit
 * field never limits a program; `no` carries every long jump.
 *
 * What cannot be compiled is widened.  The kernel has no test of a state;
 * the dump's state mask already decides a state test that holds for every
 * state asked for, or for none.  Any other state test becomes "true" where
 * the filter needs a superset, and "false" under an odd number of nots, so
 * the program never drops a socket the filter accepts.
 */
#include "filterbc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>

#include "addr.h"
#include "bytes.h"
#include "filter_int.h"

#define OP_LEN 4u	     /* struct inet_diag_bc_op */
#define HOSTCOND_LEN 8u	     /* struct inet_diag_hostcond without its address */
#define MARKCOND_LEN 8u	     /* struct inet_diag_markcond */
#define SOCK_BINDPORT_LOCK 8 /* include/net/sock.h */

_Static_assert(sizeof(struct inet_diag_bc_op) == OP_LEN, "inet_diag_bc_op layout");
_Static_assert(sizeof(struct inet_diag_hostcond) == HOSTCOND_LEN, "inet_diag_hostcond layout");
_Static_assert(sizeof(struct inet_diag_markcond) == MARKCOND_LEN, "inet_diag_markcond layout");

/* A compiled subexpression: a constant, or code. */
enum frag_kind { F_FALSE, F_TRUE, F_CODE };

struct frag {
	enum frag_kind kind;
	uint8_t *b;
	size_t len;
};

struct compiler {
	const struct filter *f;
	state_mask states; /* what the dump asks for */
	size_t max;
	int approx;    /* state tests widened or narrowed */
	int oom, over; /* out of memory; over max */
	char *left;    /* the state tests left to user space, as text */
	size_t leftlen;
};

/* ---- emitting ------------------------------------------------------------ */

static void put_op(uint8_t *at, unsigned code, unsigned yes, unsigned no)
{
	struct inet_diag_bc_op op = {(unsigned char)code, (unsigned char)yes, (unsigned short)no};
	memcpy(at, &op, sizeof(op));
}

static struct frag frag_const(int truth)
{
	struct frag r = {truth ? F_TRUE : F_FALSE, NULL, 0};
	return r;
}

/* A fragment of len bytes, or a false constant (and c->oom / c->over set). */
static struct frag frag_alloc(struct compiler *c, size_t len)
{
	struct frag r = {F_CODE, NULL, len};

	if (len > c->max) {
		c->over = 1;
		return frag_const(0);
	}
	r.b = calloc(1, len);
	if (!r.b) {
		c->oom = 1;
		return frag_const(0);
	}
	return r;
}

/* One condition: the instruction, its operand, and "no" to the reject. */
static struct frag leaf(struct compiler *c, unsigned code, const void *operand, size_t oplen)
{
	size_t len = OP_LEN + oplen;
	struct frag r = frag_alloc(c, len);

	if (r.kind == F_CODE) {
		put_op(r.b, code, (unsigned)len, (unsigned)len + 4);
		memcpy(r.b + OP_LEN, operand, oplen);
	}
	return r;
}

/*
 * Move every jump in a that goes to a's reject (a.len + 4) by `by` bytes:
 * a is about to be followed by `by` more bytes and its reject moves with
 * the end.  Instructions are found by walking their `yes` lengths.
 */
static void patch_reject(struct frag *a, size_t by)
{
	size_t off = 0;

	while (off + OP_LEN <= a->len) {
		struct inet_diag_bc_op op;
		memcpy(&op, a->b + off, sizeof(op));
		if (op.code != INET_DIAG_BC_NOP && off + op.no == a->len + 4) {
			op.no = (unsigned short)(op.no + by);
			memcpy(a->b + off, &op, sizeof(op));
		}
		off += op.yes;
	}
}

/* a, then `gap` bytes the caller fills, then b: one buffer.  Frees a and b. */
static struct frag join(struct compiler *c, struct frag a, size_t gap, struct frag b)
{
	struct frag r = frag_alloc(c, a.len + gap + b.len);

	if (r.kind == F_CODE) { /* b may be empty (not's), with no buffer at all */
		memcpy(r.b, a.b, a.len);
		if (b.len)
			memcpy(r.b + a.len + gap, b.b, b.len);
	}
	free(a.b);
	free(b.b);
	return r;
}

static struct frag emit_and(struct compiler *c, struct frag a, struct frag b)
{
	patch_reject(&a, b.len);
	return join(c, a, 0, b);
}

static struct frag emit_or(struct compiler *c, struct frag a, struct frag b)
{
	size_t la = a.len, lb = b.len;
	struct frag r = join(c, a, OP_LEN, b);

	if (r.kind == F_CODE) /* a accepted: jump over b to the end */
		put_op(r.b + la, INET_DIAG_BC_JMP, OP_LEN, (unsigned)(OP_LEN + lb));
	return r;
}

static struct frag emit_not(struct compiler *c, struct frag a)
{
	size_t la = a.len;
	struct frag r = join(c, a, OP_LEN, frag_const(0));

	if (r.kind == F_CODE) /* a accepted: on to the reject, past the end */
		put_op(r.b + la, INET_DIAG_BC_JMP, OP_LEN, 2 * OP_LEN);
	return r;
}

/* ---- compiling ------------------------------------------------------------- */

static struct frag compile(struct compiler *c, int i, int widen);

/* A port comparison.  The kernel has =, >= and <=; != is "not =". */
static struct frag port_test(struct compiler *c, const struct node *n)
{
	int src = n->kind == N_SPORT;
	unsigned eq = src ? INET_DIAG_BC_S_EQ : INET_DIAG_BC_D_EQ;
	unsigned ge = src ? INET_DIAG_BC_S_GE : INET_DIAG_BC_D_GE;
	unsigned le = src ? INET_DIAG_BC_S_LE : INET_DIAG_BC_D_LE;
	/* The operand is a second instruction whose `no` holds the port. */
	struct inet_diag_bc_op arg = {0, 0, n->port};

	switch (n->op) {
	case OP_EQ:
		return leaf(c, eq, &arg, sizeof(arg));
	case OP_NE:
		return emit_not(c, leaf(c, eq, &arg, sizeof(arg)));
	case OP_GE:
		return leaf(c, ge, &arg, sizeof(arg));
	case OP_LE:
		return leaf(c, le, &arg, sizeof(arg));
	case OP_GT: /* > p is >= p + 1; nothing is above 65535 */
		if (n->port == UINT16_MAX)
			return frag_const(0);
		arg.no = (unsigned short)(n->port + 1);
		return leaf(c, ge, &arg, sizeof(arg));
	case OP_LT:
		if (n->port == 0)
			return frag_const(0);
		arg.no = (unsigned short)(n->port - 1);
		return leaf(c, le, &arg, sizeof(arg));
	}
	return frag_const(1);
}

static struct frag host_test(struct compiler *c, const struct node *n)
{
	uint8_t buf[HOSTCOND_LEN + 16];
	struct inet_diag_hostcond h;
	size_t alen = n->family == AF_INET ? 4 : n->family == AF_INET6 ? 16 : 0;

	memset(&h, 0, sizeof(h));
	h.family = (uint8_t)(n->family ? n->family : AF_UNSPEC);
	h.prefix_len = (uint8_t)(alen ? n->plen : 0);
	h.port = n->has_port ? n->port : -1;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + HOSTCOND_LEN, n->addr, alen);
	return leaf(c, n->kind == N_SRC ? INET_DIAG_BC_S_COND : INET_DIAG_BC_D_COND, buf,
		    HOSTCOND_LEN + alen);
}

/*
 * Note a state test the program cannot decide, for --debug-filter: "state
 * A|B" for the states asked for that it holds in, tests apart by ", ".
 */
static void note_left(struct compiler *c, state_mask hit)
{
	size_t used = strlen(c->left);
	const char *sep = used ? ", state " : "state ";

	c->approx = 1;
	for (int s = 1; s < TS_MAX; s++) {
		if (!(hit & SM(s)) || s == TS_NEW_SYN_RECV)
			continue;
		int n = snprintf(c->left + used, c->leftlen - used, "%s%s", sep, state_name(s));
		if (n < 0 || (size_t)n >= c->leftlen - used) {
			c->left[used] = '\0'; /* cut at a whole name */
			return;
		}
		used += (size_t)n;
		sep = "|";
	}
}

static struct frag state_test(struct compiler *c, const struct node *n, int widen)
{
	state_mask hit = n->mask & c->states;

	if (hit == c->states)
		return frag_const(1);
	if (!hit)
		return frag_const(0);
	note_left(c, hit);
	return frag_const(widen);
}

static struct frag compile_not(struct compiler *c, const struct node *n, int widen)
{
	struct frag a = compile(c, n->a, !widen);

	if (a.kind != F_CODE)
		return frag_const(a.kind == F_FALSE);
	return emit_not(c, a);
}

/* and / or, with constants folded: "true and x" is x, "true or x" is true. */
static struct frag compile_binary(struct compiler *c, const struct node *n, int widen)
{
	int is_and = n->kind == N_AND;
	struct frag a = compile(c, n->a, widen);

	/* The constant that decides the whole: false for and, true for or. */
	if (a.kind == (is_and ? F_FALSE : F_TRUE))
		return a;
	struct frag b = compile(c, n->b, widen);
	if (b.kind == (is_and ? F_FALSE : F_TRUE)) {
		free(a.b);
		return b;
	}
	if (a.kind != F_CODE)
		return b; /* the neutral constant */
	if (b.kind != F_CODE)
		return a;
	return is_and ? emit_and(c, a, b) : emit_or(c, a, b);
}

/*
 * Node i as a fragment.  widen: the fragment may accept more than the node
 * (1) or less (0), never the other way, where it cannot be exact.
 */
static struct frag compile(struct compiler *c, int i, int widen)
{
	const struct node *n = &c->f->nodes[i];

	if (c->oom || c->over)
		return frag_const(0);
	switch (n->kind) {
	case N_AND:
	case N_OR:
		return compile_binary(c, n, widen);
	case N_NOT:
		return compile_not(c, n, widen);
	case N_STATE:
		return state_test(c, n, widen);
	case N_SPORT:
	case N_DPORT:
		return port_test(c, n);
	case N_SRC:
	case N_DST:
		return host_test(c, n);
	case N_DEV:
		return leaf(c, INET_DIAG_BC_DEV_COND, &n->ifindex, sizeof(n->ifindex));
	case N_CGROUP:
		return leaf(c, INET_DIAG_BC_CGROUP_COND, &n->cgroup_id, sizeof(n->cgroup_id));
	case N_MARK: {
		struct inet_diag_markcond m = {n->mark, n->markmask};
		return leaf(c, INET_DIAG_BC_MARK_COND, &m, sizeof(m));
	}
	}
	return frag_const(widen);
}

int filterbc_compile(const struct filter *f, state_mask states, size_t max_len, struct filterbc *bc)
{
	struct compiler c;

	memset(bc, 0, sizeof(*bc));
	if (!f)
		return 0;
	memset(&c, 0, sizeof(c));
	c.f = f;
	c.states = states;
	c.max = max_len < FILTERBC_MAX ? max_len : FILTERBC_MAX;
	c.left = bc->left;
	c.leftlen = sizeof(bc->left);
	struct frag r = compile(&c, f->root, 1);
	if (c.oom) {
		free(r.b);
		return -1;
	}
	if (c.over) {
		free(r.b);
		bc->too_large = 1;
		return 0;
	}
	if (r.kind == F_FALSE) {
		/* Nothing can match: a lone jump past the end rejects every socket. */
		r = frag_alloc(&c, OP_LEN);
		if (c.oom)
			return -1;
		put_op(r.b, INET_DIAG_BC_JMP, OP_LEN, 2 * OP_LEN);
	}
	bc->code = r.b;
	bc->len = r.len;
	bc->exact = !c.approx;
	/*
	 * Never send what the kernel would refuse: its refusal would cost a
	 * dump.  Audited as for a requester with CAP_NET_ADMIN, which a mark
	 * test needs: list and top refuse a fwmark filter without it before
	 * they compile one (the kernel would refuse the program, and report no
	 * marks for user space to test either).
	 */
	if (bc->len && filterbc_audit(bc->code, bc->len, 1) != 0) {
		free(bc->code);
		bc->code = NULL;
		bc->len = 0;
		bc->refused = 1;
	}
	return 0;
}

void filterbc_free(struct filterbc *bc)
{
	free(bc->code);
	memset(bc, 0, sizeof(*bc));
}

/* ---- the kernel's audit ------------------------------------------------------ */

/* The operand's length for a condition, or -1 if it does not fit (valid_hostcond & co.). */
static int operand_len(const struct cursor *c, unsigned code)
{
	switch (code) {
	case INET_DIAG_BC_S_COND:
	case INET_DIAG_BC_D_COND: {
		if (!cur_has(c, OP_LEN, HOSTCOND_LEN))
			return -1;
		uint8_t family = get_u8(c, OP_LEN), plen = get_u8(c, OP_LEN + 1);
		int alen = family == AF_UNSPEC	? 0
			   : family == AF_INET	? 4
			   : family == AF_INET6 ? 16
						: -1;
		if (alen < 0 || !cur_has(c, OP_LEN, HOSTCOND_LEN + (size_t)alen) || plen > 8 * alen)
			return -1;
		return (int)HOSTCOND_LEN + alen;
	}
	case INET_DIAG_BC_DEV_COND:
		return cur_has(c, OP_LEN, 4) ? 4 : -1;
	case INET_DIAG_BC_S_EQ:
	case INET_DIAG_BC_S_GE:
	case INET_DIAG_BC_S_LE:
	case INET_DIAG_BC_D_EQ:
	case INET_DIAG_BC_D_GE:
	case INET_DIAG_BC_D_LE:
		return cur_has(c, OP_LEN, OP_LEN) ? (int)OP_LEN : -1;
	case INET_DIAG_BC_MARK_COND:
		return cur_has(c, OP_LEN, MARKCOND_LEN) ? (int)MARKCOND_LEN : -1;
	case INET_DIAG_BC_CGROUP_COND:
		return cur_has(c, OP_LEN, 8) ? 8 : -1;
	case INET_DIAG_BC_AUTO:
	case INET_DIAG_BC_JMP:
	case INET_DIAG_BC_NOP:
		return 0;
	}
	return -1;
}

/* valid_cc: `target` bytes from the end is where some instruction starts. */
static int lands_on_op(const uint8_t *code, size_t len, size_t target_left)
{
	size_t left = len, off = 0;

	while (left > target_left) {
		struct cursor c = cur_make(code + off, left);
		if (!cur_has(&c, 0, OP_LEN))
			return 0;
		unsigned yes = get_u8(&c, 1);
		if (yes < OP_LEN || (yes & 3) || yes > left)
			return 0;
		off += yes;
		left -= yes;
	}
	return left == target_left;
}

int filterbc_audit(const uint8_t *code, size_t len, int net_admin)
{
	size_t off = 0, left = len;

	if (len < OP_LEN || len > FILTERBC_MAX)
		return -EINVAL;
	while (left > 0) {
		struct cursor c = cur_make(code + off, left);
		if (!cur_has(&c, 0, OP_LEN))
			return -EINVAL;
		unsigned op = get_u8(&c, 0), yes = get_u8(&c, 1), no = get_h16(&c, 2);
		if (op == INET_DIAG_BC_MARK_COND && !net_admin)
			return -EPERM;
		int olen = operand_len(&c, op);
		if (olen < 0)
			return -EINVAL;
		size_t min_len = OP_LEN + (size_t)olen;
		if (op != INET_DIAG_BC_NOP) {
			if (no < min_len || no > left + 4 || (no & 3))
				return -EINVAL;
			if (no < left && !lands_on_op(code, len, left - no))
				return -EINVAL;
		}
		if (yes < min_len || yes > left + 4 || (yes & 3))
			return -EINVAL;
		if (yes >= left)
			return yes == left ? 0 : -EINVAL;
		off += yes;
		left -= yes;
	}
	return 0;
}

/* ---- the kernel's interpreter ------------------------------------------------ */

void filterbc_entry_of(struct filterbc_entry *e, const struct sock_rec *r)
{
	memset(e, 0, sizeof(*e));
	e->family = r->family;
	e->saddr = r->laddr;
	e->daddr = r->raddr;
	e->sport = r->lport;
	e->dport = r->rport;
	e->ifindex = r->ifindex;
	e->mark = r->mark;
	e->cgroup_id = r->cgroup_id;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* S_COND / D_COND: inet_diag_bc_run's hostcond case.  The cursor holds the operand. */
static int run_hostcond(const struct cursor *c, int src, const struct filterbc_entry *e)
{
	int32_t port;
	uint8_t family = get_u8(c, 0), plen = get_u8(c, 1);
	const uint8_t *addr = src ? e->saddr : e->daddr;
	size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!cur_has(c, HOSTCOND_LEN, alen) || plen > 8 * alen)
		return -1;
	uint32_t p32 = get_h32(c, 4);
	memcpy(&port, &p32, sizeof(port));
	if (port != -1 && port != (src ? e->sport : e->dport))
		return 0;
	const uint8_t *want = c->p + HOSTCOND_LEN;
	if (family != AF_UNSPEC && family != e->family) {
		/* An IPv4 condition still matches an IPv4-mapped IPv6 address. */
		return e->family == AF_INET6 && family == AF_INET &&
		       memcmp(addr, v4mapped, sizeof(v4mapped)) == 0 &&
		       addr_prefix_match(addr + 12, want, plen);
	}
	return plen == 0 || addr_prefix_match(addr, want, plen);
}

/* One condition's truth; -1 if its operand is cut short. */
static int run_op(const struct cursor *c, unsigned op, const struct filterbc_entry *e)
{
	struct cursor arg = *c;

	if (operand_len(c, op) < 0)
		return -1;
	cur_skip(&arg, OP_LEN);
	switch (op) {
	case INET_DIAG_BC_NOP:
		return 1;
	case INET_DIAG_BC_JMP:
		return 0;
	case INET_DIAG_BC_S_EQ:
		return e->sport == get_h16(&arg, 2);
	case INET_DIAG_BC_S_GE:
		return e->sport >= get_h16(&arg, 2);
	case INET_DIAG_BC_S_LE:
		return e->sport <= get_h16(&arg, 2);
	case INET_DIAG_BC_D_EQ:
		return e->dport == get_h16(&arg, 2);
	case INET_DIAG_BC_D_GE:
		return e->dport >= get_h16(&arg, 2);
	case INET_DIAG_BC_D_LE:
		return e->dport <= get_h16(&arg, 2);
	case INET_DIAG_BC_AUTO:
		return !e->userlocks_port;
	case INET_DIAG_BC_S_COND:
	case INET_DIAG_BC_D_COND:
		return run_hostcond(&arg, op == INET_DIAG_BC_S_COND, e);
	case INET_DIAG_BC_DEV_COND:
		return get_h32(&arg, 0) == e->ifindex;
	case INET_DIAG_BC_MARK_COND:
		return (e->mark & get_h32(&arg, 4)) == get_h32(&arg, 0);
	case INET_DIAG_BC_CGROUP_COND: {
		uint64_t id;
		memcpy(&id, arg.p, sizeof(id));
		return id == e->cgroup_id;
	}
	}
	return 1; /* the kernel ignores codes it does not know (its audit refuses them) */
}

int filterbc_run(const uint8_t *code, size_t len, const struct filterbc_entry *e)
{
	size_t off = 0;

	while (off < len) {
		struct cursor c = cur_make(code + off, len - off);
		if (!cur_has(&c, 0, OP_LEN))
			return -1;
		unsigned op = get_u8(&c, 0), yes = get_u8(&c, 1), no = get_h16(&c, 2);
		int t = run_op(&c, op, e);
		if (t < 0)
			return -1;
		size_t step = t ? yes : no;
		if (step == 0)
			return -1;
		off += step;
	}
	return off == len;
}

/* ---- printing ---------------------------------------------------------------- */

static void print_hostcond(FILE *fp, const struct cursor *arg, int src)
{
	uint8_t family = get_u8(arg, 0), plen = get_u8(arg, 1), a[16] = {0};
	int32_t port;
	uint32_t p32 = get_h32(arg, 4);
	char text[64];

	memcpy(&port, &p32, sizeof(port));
	fprintf(fp, "%s ", src ? "src" : "dst");
	if (family == AF_INET || family == AF_INET6) {
		size_t alen = family == AF_INET ? 4 : 16;
		if (cur_has(arg, HOSTCOND_LEN, alen))
			memcpy(a, arg->p + HOSTCOND_LEN, alen);
		addr_format(text, family, a);
		fprintf(fp, "%s/%u", text, plen);
	} else {
		fputc('*', fp);
	}
	if (port != -1)
		fprintf(fp, " port %d", port);
}

static void print_op(FILE *fp, const struct cursor *c, unsigned op)
{
	static const char *const port_ops[] = {
		[INET_DIAG_BC_S_EQ] = "sport ==", [INET_DIAG_BC_S_GE] = "sport >=",
		[INET_DIAG_BC_S_LE] = "sport <=", [INET_DIAG_BC_D_EQ] = "dport ==",
		[INET_DIAG_BC_D_GE] = "dport >=", [INET_DIAG_BC_D_LE] = "dport <=",
	};
	struct cursor arg = *c;

	cur_skip(&arg, OP_LEN);
	if (op < sizeof(port_ops) / sizeof(port_ops[0]) && port_ops[op]) {
		fprintf(fp, "%s %u", port_ops[op], get_h16(&arg, 2));
		return;
	}
	switch (op) {
	case INET_DIAG_BC_NOP:
		fputs("nop", fp);
		return;
	case INET_DIAG_BC_JMP:
		fputs("jump", fp);
		return;
	case INET_DIAG_BC_S_COND:
	case INET_DIAG_BC_D_COND:
		print_hostcond(fp, &arg, op == INET_DIAG_BC_S_COND);
		return;
	case INET_DIAG_BC_DEV_COND:
		fprintf(fp, "dev == ifindex %u", get_h32(&arg, 0));
		return;
	case INET_DIAG_BC_CGROUP_COND: {
		uint64_t id;
		memcpy(&id, arg.p, sizeof(id));
		fprintf(fp, "cgroup == id %llu", (unsigned long long)id);
		return;
	}
	case INET_DIAG_BC_MARK_COND:
		fprintf(fp, "fwmark & 0x%x == 0x%x", get_h32(&arg, 4), get_h32(&arg, 0));
		return;
	}
	fprintf(fp, "code %u", op);
}

/* An absolute target: an offset, or the end (accept) or past it (reject). */
static void print_target(FILE *fp, const char *what, size_t to, size_t len)
{
	if (to == len)
		fprintf(fp, "  %s accept", what);
	else if (to > len)
		fprintf(fp, "  %s reject", what);
	else
		fprintf(fp, "  %s %zu", what, to);
}

void filterbc_print(FILE *fp, const uint8_t *code, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct cursor c = cur_make(code + off, len - off);
		if (!cur_has(&c, 0, OP_LEN) || operand_len(&c, get_u8(&c, 0)) < 0) {
			fprintf(fp, "%5zu  (cut short)\n", off);
			return;
		}
		unsigned op = get_u8(&c, 0), yes = get_u8(&c, 1), no = get_h16(&c, 2);
		fprintf(fp, "%5zu  ", off);
		print_op(fp, &c, op);
		if (op != INET_DIAG_BC_JMP)
			print_target(fp, "true:", off + yes, len);
		print_target(fp, op == INET_DIAG_BC_JMP ? "to" : "false:", off + no, len);
		fputc('\n', fp);
		if (yes == 0)
			return;
		off += yes;
	}
}

void filterbc_report(FILE *fp, const struct filterbc *bc, state_mask states)
{
	fputs("states asked of the kernel:", fp);
	for (int s = 1; s < TS_MAX; s++)
		if ((states & SM(s)) && s != TS_NEW_SYN_RECV)
			fprintf(fp, " %s", state_name(s));
	fputc('\n', fp);
	if (bc->len) {
		fprintf(fp, "bytecode: %zu bytes, run by the kernel on each socket\n", bc->len);
		filterbc_print(fp, bc->code, bc->len);
	} else if (bc->too_large) {
		fputs("bytecode: none: the program would exceed the kernel's limit\n", fp);
	} else if (bc->refused) {
		fputs("bytecode: none: the program failed the kernel's audit\n", fp);
	} else {
		fputs("bytecode: none: the state mask is all the kernel can test\n", fp);
	}
	if (bc->left[0])
		fprintf(fp, "left to user space: %s (the kernel has no test of a state)\n",
			bc->left);
	fputs("user space: checks the whole filter again on every row the kernel returns\n", fp);
}
