/*
 * filter.c - parse and evaluate ss-style filter expressions.
 *
 * The expression is lexed from the joined words into tokens, parsed by
 * recursive descent into a flat array of nodes, and evaluated by walking
 * that array.  Errors name the token (by number and text) so a user can
 * find it in a long expression.
 */
#include "filter.h"

#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "cgroupid.h"
#include "filter_int.h"

#define MAX_TOKENS 1024

struct parser {
	char *text; /* joined words, cut into tokens in place */
	char *tok[MAX_TOKENS];
	int ntok, pos;
	struct filter *f;
	char *err;
	size_t errlen;
	int failed;
};

static const char *const keywords[] = {"state",	 "exclude", "sport", "dport", "src", "dst", "dev",
				       "cgroup", "fwmark",  "and",   "or",    "not", NULL};

const char *const *filter_keywords(void)
{
	return keywords;
}

static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parser *p, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->pos < p->ntok)
		snprintf(p->err, p->errlen, "filter: token %d \"%s\": %s", p->pos + 1,
			 p->tok[p->pos], msg);
	else
		snprintf(p->err, p->errlen, "filter: at end: %s", msg);
}

static int is_opchar(char c)
{
	return c == '(' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>' || c == '&' ||
	       c == '|';
}

/* Length of the operator at s: "<=", "!=", "==", "&&", "||" or one character. */
static size_t oplen(const char *s)
{
	if (*s == '(' || *s == ')')
		return 1;
	if (s[1] == '=' && *s != '&' && *s != '|')
		return 2;
	if (s[1] == *s && (*s == '&' || *s == '|'))
		return 2;
	return 1;
}

/*
 * Cut the text into tokens: words, parentheses, and operators made of
 * "=!<>&|".  Words are terminated in place; each operator is copied to a
 * side buffer before its bytes are zeroed, which also ends a word that runs
 * straight into it ("dport=:80").
 */
static int lex(struct parser *p, char *ops, size_t opslen)
{
	char *s = p->text;
	size_t used = 0;

	while (*s) {
		if (isspace((unsigned char)*s)) {
			*s++ = '\0';
			continue;
		}
		if (p->ntok == MAX_TOKENS)
			return -1;
		if (is_opchar(*s)) {
			size_t k = oplen(s);
			if (used + k + 1 > opslen)
				return -1;
			memcpy(ops + used, s, k);
			ops[used + k] = '\0';
			p->tok[p->ntok++] = ops + used;
			used += k + 1;
			memset(s, 0, k);
			s += k;
			continue;
		}
		p->tok[p->ntok++] = s;
		while (*s && !isspace((unsigned char)*s) && !is_opchar(*s))
			s++;
	}
	return 0;
}

static const char *peek(struct parser *p)
{
	return p->pos < p->ntok ? p->tok[p->pos] : NULL;
}

static int eat(struct parser *p, const char *a, const char *b, const char *c)
{
	const char *t = peek(p);

	if (t &&
	    ((a && strcmp(t, a) == 0) || (b && strcmp(t, b) == 0) || (c && strcmp(t, c) == 0))) {
		p->pos++;
		return 1;
	}
	return 0;
}

static int new_node(struct parser *p, enum node_kind kind)
{
	struct filter *f = p->f;

	if (f->n == f->cap) {
		int cap = f->cap ? f->cap * 2 : 16;
		struct node *nn = realloc(f->nodes, (size_t)cap * sizeof(*nn));
		if (!nn) {
			fail(p, "out of memory");
			return -1;
		}
		f->nodes = nn;
		f->cap = cap;
	}
	memset(&f->nodes[f->n], 0, sizeof(f->nodes[0]));
	f->nodes[f->n].kind = kind;
	f->nodes[f->n].a = f->nodes[f->n].b = -1;
	return f->n++;
}

/* A NOT node over node a: "exclude", "not", and the != of dev, cgroup and fwmark. */
static int not_node(struct parser *p, int a)
{
	int id = new_node(p, N_NOT);

	if (id >= 0)
		p->f->nodes[id].a = a;
	return id;
}

static int parse_expr(struct parser *p, int depth);

static int parse_port(struct parser *p, const char *t, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*t == ':')
		t++;
	if (*t == '\0') {
		fail(p, "expected a port number");
		return -1;
	}
	if (isdigit((unsigned char)*t)) {
		v = strtoul(t, &end, 10);
		if (*end != '\0' || v > 65535) {
			fail(p, "port must be a number from 0 to 65535");
			return -1;
		}
		*port = (uint16_t)v;
		return 0;
	}
	if (*t == '*') {
		fail(p, "a port comparison needs a number, not *");
		return -1;
	}
	/* A service name from /etc/services: a file lookup, never DNS. */
	struct servent *se = getservbyname(t, "tcp");
	if (!se) {
		fail(p, "unknown port or service \"%s\"", t);
		return -1;
	}
	*port = ntohs((uint16_t)se->s_port);
	return 0;
}

/* ADDR[/PREFIX][:PORT], "[v6]..." for IPv6 with a port, "*" or "" for any. */
static int parse_hostcond(struct parser *p, struct node *n, const char *t)
{
	char buf[128], *addr, *rest, *slash;

	if (strlen(t) >= sizeof(buf)) {
		fail(p, "address too long");
		return -1;
	}
	strcpy(buf, t);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close) {
			fail(p, "missing ] after IPv6 address");
			return -1;
		}
		*close = '\0';
		addr = buf + 1;
		rest = close + 1;
		/* ss refuses "[addr]%dev" or other text here; ignoring it widens the match. */
		if (*rest != '\0' && *rest != ':' && *rest != '/') {
			fail(p, "\"%s\" after ] is not :port or /prefix", rest);
			return -1;
		}
	} else {
		char *c1 = strchr(buf, ':');
		addr = buf;
		if (c1 && strchr(c1 + 1, ':')) {
			rest = buf + strlen(buf); /* bare IPv6, no port possible */
		} else if (c1) {
			*c1 = ':'; /* keep, split below */
			rest = c1;
		} else {
			rest = buf + strlen(buf);
		}
	}
	/* rest is "", "/plen", ":port" or "/plen:port" (plen only for brackets). */
	char *port = NULL;
	if (*rest == ':' || (*rest == '/' && strchr(rest, ':'))) {
		char *c = strchr(rest, ':'); /* the first: a second colon is then a bad port */
		port = c + 1;
		*c = '\0';
	}
	slash = strchr(addr, '/');
	if (!slash && *rest == '/')
		slash = rest;
	const char *plen_s = NULL;
	if (slash) {
		*slash = '\0';
		plen_s = slash + 1;
	}
	if (addr[0] == '\0' || strcmp(addr, "*") == 0) {
		n->family = 0;
	} else if (addr_parse(addr, &n->family, n->addr) < 0) {
		fail(p, "\"%s\" is not a numeric IPv4 or IPv6 address (no DNS lookups)", addr);
		return -1;
	}
	unsigned maxlen = n->family == AF_INET ? 32 : 128;
	n->plen = maxlen;
	if (plen_s) {
		char *end;
		unsigned long v = strtoul(plen_s, &end, 10);
		if (!n->family || *plen_s == '\0' || *end != '\0' || v > maxlen) {
			fail(p, "bad prefix length");
			return -1;
		}
		n->plen = (unsigned)v;
	}
	if (port && strcmp(port, "*") != 0) {
		if (parse_port(p, port, &n->port) < 0)
			return -1;
		n->has_port = 1;
	}
	return 0;
}

/*
 * DEV: a device name, looked up in the network namespace the process is in
 * now (the caller enters -N's before parsing); a number, taken as an
 * ifindex as it is (0: bound to no device); or "ifN", as list prints a
 * device it cannot name.
 */
/*
 * A device: a name first, as ss looks it up (a device may be called "2"),
 * then an index (decimal, 0x hex or 0 octal, as ss's strtoul(..., 0) reads
 * it), then "ifN", as list prints a device it cannot name.  *by_name says
 * the first: a name means nothing in a dump taken elsewhere.
 */
static int parse_dev(struct parser *p, const char *t, uint32_t *ifindex, int *by_name)
{
	char *end;
	unsigned long v;

	*by_name = 0;
	*ifindex = if_nametoindex(t);
	if (*ifindex) {
		*by_name = 1;
		return 0;
	}
	if (isdigit((unsigned char)*t)) {
		errno = 0;
		v = strtoul(t, &end, 0);
		if (*end != '\0' || errno || v > INT32_MAX) {
			fail(p, "device index must be a number from 0 to %d", INT32_MAX);
			return -1;
		}
		*ifindex = (uint32_t)v;
		return 0;
	}
	if (strncmp(t, "if", 2) == 0 && isdigit((unsigned char)t[2])) {
		errno = 0;
		v = strtoul(t + 2, &end, 10);
		if (*end == '\0' && !errno && v > 0 && v <= INT32_MAX) {
			*ifindex = (uint32_t)v;
			return 0;
		}
	}
	fail(p, "no such device");
	return -1;
}

/* PATH under the cgroup2 mount, which is looked up in /proc/self/mountinfo. */
static int parse_cgroup(struct parser *p, const char *t, uint64_t *id)
{
	char mnt[4096];

	if (cgroup2_mount("/proc/self/mountinfo", mnt, sizeof(mnt)) < 0) {
		fail(p, "no cgroup2 file system is mounted (%s)", strerror(errno));
		return -1;
	}
	if (cgroup2_id(mnt, t, id) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			fail(p, "no such cgroup under %s", mnt);
		else if (errno == EMEDIUMTYPE)
			fail(p, "%s is not a cgroup2 file system", mnt);
		else
			fail(p, "cgroup under %s: %s", mnt, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * One number of a mark: decimal or 0x hex, 32 bits.  ss reads these with
 * %i, which takes a leading 0 as octal: "010" is refused rather than read
 * as ten where ss reads eight.  A sign is refused too (%i takes "-1").
 */
static int parse_mark_number(struct parser *p, const char *s, const char *what, uint32_t *v)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	unsigned long long n;
	char *end;

	if (!hex && s[0] == '0' && s[1] != '\0') {
		fail(p, "the %s has a leading 0 (octal to ss): write it in decimal or 0x hex",
		     what);
		return -1;
	}
	errno = 0;
	n = strtoull(digits, &end, hex ? 16 : 10);
	if (!(hex ? isxdigit((unsigned char)*digits) : isdigit((unsigned char)*digits)) ||
	    *end != '\0' || errno || n > UINT32_MAX) {
		fail(p, "the %s must be a number from 0 to 0xffffffff (decimal or 0x hex)", what);
		return -1;
	}
	*v = (uint32_t)n;
	return 0;
}

/* MARK[/MASK], as ss's parse_markmask: the mask is all ones when not given. */
static int parse_mark(struct parser *p, const char *t, struct node *n)
{
	char buf[64];
	char *slash;

	if (strlen(t) >= sizeof(buf)) {
		fail(p, "mark too long");
		return -1;
	}
	strcpy(buf, t);
	n->markmask = UINT32_MAX;
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_mark_number(p, slash + 1, "mask", &n->markmask) < 0)
			return -1;
	}
	p->f->has_mark = 1;
	return parse_mark_number(p, buf, "mark", &n->mark);
}

/*
 * "dev [OP] DEV", "cgroup [OP] PATH" and "fwmark [OP] MARK[/MASK]", OP one
 * of = == eq (the default) or != ne neq, which is "not" over the equal test
 * (as ss compiles it).
 */
static int parse_id_pred(struct parser *p, enum node_kind kind)
{
	int ne = 0, id, rc;

	p->pos++;
	if (!eat(p, "=", "==", "eq"))
		ne = eat(p, "!=", "ne", "neq");
	const char *t = peek(p);
	if (!t) {
		fail(p, kind == N_DEV	   ? "expected a device name or index"
			: kind == N_CGROUP ? "expected a cgroup path"
					   : "expected a mark (MARK or MARK/MASK)");
		return -1;
	}
	if ((id = new_node(p, kind)) < 0)
		return -1;
	struct node *n = &p->f->nodes[id];
	if (kind == N_DEV)
		rc = parse_dev(p, t, &n->ifindex, &n->dev_by_name);
	else if (kind == N_CGROUP)
		rc = parse_cgroup(p, t, &n->cgroup_id);
	else
		rc = parse_mark(p, t, n);
	if (rc < 0)
		return -1;
	p->pos++;
	return ne ? not_node(p, id) : id;
}

static int parse_pred(struct parser *p)
{
	const char *t = peek(p);
	int id;

	if (!t) {
		fail(p, "expected a condition");
		return -1;
	}
	if (strcmp(t, "state") == 0 || strcmp(t, "exclude") == 0) {
		int excl = t[0] == 'e';
		state_mask m;
		p->pos++;
		t = peek(p);
		if (!t) {
			fail(p, "expected a state name");
			return -1;
		}
		if (state_parse(t, &m) < 0) {
			fail(p, "unknown state name (try: tcpstate explain all)");
			return -1;
		}
		p->pos++;
		p->f->has_state = 1;
		if ((id = new_node(p, N_STATE)) < 0)
			return -1;
		p->f->nodes[id].mask = m;
		return excl ? not_node(p, id) : id;
	}
	if (strcmp(t, "sport") == 0 || strcmp(t, "dport") == 0) {
		enum node_kind k = t[0] == 's' ? N_SPORT : N_DPORT;
		static const struct {
			const char *w1, *w2, *w3;
			enum cmp_op op;
		} ops[] = {
			{"=", "==", "eq", OP_EQ}, {"!=", "neq", "ne", OP_NE},
			{"<", "lt", NULL, OP_LT}, {"<=", "le", "leq", OP_LE},
			{">", "gt", NULL, OP_GT}, {">=", "ge", "geq", OP_GE},
		};
		enum cmp_op op = OP_EQ;
		p->pos++;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			if (eat(p, ops[i].w1, ops[i].w2, ops[i].w3)) {
				op = ops[i].op;
				break;
			}
		}
		t = peek(p);
		if (!t) {
			fail(p, "expected a port (:PORT)");
			return -1;
		}
		if ((id = new_node(p, k)) < 0)
			return -1;
		p->f->nodes[id].op = op;
		if (parse_port(p, t, &p->f->nodes[id].port) < 0)
			return -1;
		p->pos++;
		return id;
	}
	if (strcmp(t, "src") == 0 || strcmp(t, "dst") == 0) {
		enum node_kind k = t[0] == 's' ? N_SRC : N_DST;
		p->pos++;
		eat(p, "=", "==", "eq"); /* ss tolerates "dst = ADDR" */
		t = peek(p);
		if (!t) {
			fail(p, "expected an address");
			return -1;
		}
		if ((id = new_node(p, k)) < 0)
			return -1;
		if (parse_hostcond(p, &p->f->nodes[id], t) < 0)
			return -1;
		p->pos++;
		return id;
	}
	if (strcmp(t, "dev") == 0)
		return parse_id_pred(p, N_DEV);
	if (strcmp(t, "cgroup") == 0)
		return parse_id_pred(p, N_CGROUP);
	if (strcmp(t, "fwmark") == 0)
		return parse_id_pred(p, N_MARK);
	fail(p, "expected state, exclude, sport, dport, src, dst, dev, cgroup, fwmark, not or (");
	return -1;
}

static int is_or(const char *t)
{
	return t && (strcmp(t, "or") == 0 || strcmp(t, "|") == 0 || strcmp(t, "||") == 0);
}

static int is_and(const char *t)
{
	return t && (strcmp(t, "and") == 0 || strcmp(t, "&") == 0 || strcmp(t, "&&") == 0);
}

static int parse_factor(struct parser *p, int depth)
{
	if (depth > 100) {
		fail(p, "expression nested too deeply");
		return -1;
	}
	if (eat(p, "not", "!", NULL)) {
		int a = parse_factor(p, depth + 1);
		return a < 0 ? -1 : not_node(p, a);
	}
	if (eat(p, "(", NULL, NULL)) {
		int a = parse_expr(p, depth + 1);
		if (a < 0)
			return -1;
		if (!eat(p, ")", NULL, NULL)) {
			fail(p, "expected )");
			return -1;
		}
		return a;
	}
	return parse_pred(p);
}

static int binary(struct parser *p, enum node_kind k, int a, int b)
{
	int id = new_node(p, k);
	if (id < 0)
		return -1;
	p->f->nodes[id].a = a;
	p->f->nodes[id].b = b;
	return id;
}

/*
 * As in ss's grammar (misc/ssfilter.y), "and" and "or" have the same
 * precedence and group from the left: "A or B and C" is "(A or B) and C".
 * Two conditions side by side mean "and".
 */
static int parse_expr(struct parser *p, int depth)
{
	int a = parse_factor(p, depth);

	while (a >= 0) {
		const char *t = peek(p);
		enum node_kind k = N_AND;
		if (!t || strcmp(t, ")") == 0)
			break;
		if (is_or(t)) {
			k = N_OR;
			p->pos++;
		} else if (is_and(t)) {
			p->pos++;
		}
		int b = parse_factor(p, depth);
		if (b < 0)
			return -1;
		a = binary(p, k, a, b);
	}
	return a;
}

/*
 * Leading "state" and "exclude" words combine as ss combines them: the
 * first "state" starts from no states and each adds one; an "exclude" seen
 * first starts from all states and each removes one.  So "state A state B"
 * means A or B, and "exclude A state B" means every state but A, plus B.
 * A run followed by "or" is left to the expression grammar instead, where
 * "state S" is a condition like any other.
 */
static int parse_state_prefix(struct parser *p)
{
	int start = p->pos, saw = 0;
	state_mask mask = 0;

	while (p->pos + 1 < p->ntok) {
		const char *t = p->tok[p->pos];
		int excl = strcmp(t, "exclude") == 0;
		state_mask m;
		if (!excl && strcmp(t, "state") != 0)
			break;
		if (state_parse(p->tok[p->pos + 1], &m) < 0)
			break; /* the expression parser reports it */
		if (!saw)
			mask = excl ? SM_ALL : 0;
		mask = excl ? mask & ~m : mask | m;
		saw = 1;
		p->pos += 2;
	}
	if (!saw || is_or(peek(p))) {
		p->pos = start;
		return -1;
	}
	p->f->has_state = 1;
	int id = new_node(p, N_STATE);
	if (id >= 0)
		p->f->nodes[id].mask = mask;
	return id;
}

struct filter *filter_parse(int argc, char *const argv[], char *err, size_t errlen)
{
	struct parser p;
	size_t len = 1;
	char ops[3 * MAX_TOKENS];

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	p.text = malloc(len);
	p.f = calloc(1, sizeof(*p.f));
	if (!p.text || !p.f) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	p.text[0] = '\0';
	for (int i = 0; i < argc; i++) {
		strcat(p.text, argv[i]);
		strcat(p.text, " ");
	}
	if (lex(&p, ops, sizeof(ops)) < 0) {
		snprintf(err, errlen, "filter: too many tokens (at most %d)", MAX_TOKENS);
		goto bad;
	}
	if (p.ntok == 0) {
		snprintf(err, errlen, "filter: empty expression");
		goto bad;
	}
	int prefix = parse_state_prefix(&p);
	if (prefix >= 0 && p.pos < p.ntok && strcmp(p.tok[p.pos], ")") != 0) {
		eat(&p, "and", "&", "&&");
		int rest = parse_expr(&p, 0);
		p.f->root = rest < 0 ? -1 : binary(&p, N_AND, prefix, rest);
	} else {
		p.f->root = prefix >= 0 ? prefix : parse_expr(&p, 0);
	}
	if (p.f->root >= 0 && p.pos < p.ntok)
		fail(&p, "unexpected token");
	if (p.failed || p.f->root < 0)
		goto bad;
	free(p.text);
	return p.f;
bad:
	free(p.text);
	filter_free(p.f);
	return NULL;
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	free(f->nodes);
	free(f);
}

static int cmp_port(enum cmp_op op, uint16_t have, uint16_t want)
{
	switch (op) {
	case OP_EQ:
		return have == want;
	case OP_NE:
		return have != want;
	case OP_LT:
		return have < want;
	case OP_LE:
		return have <= want;
	case OP_GT:
		return have > want;
	case OP_GE:
		return have >= want;
	}
	return 0;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int match_host(const struct node *n, int family, const uint8_t *a, uint16_t port)
{
	if (n->has_port && port != n->port)
		return 0;
	if (!n->family)
		return 1;
	if (n->family == family)
		return addr_prefix_match(a, n->addr, n->plen);
	/* An IPv4 condition also matches IPv4-mapped addresses on IPv6 sockets. */
	if (n->family == AF_INET && family == AF_INET6 && memcmp(a, v4mapped, 12) == 0)
		return addr_prefix_match(a + 12, n->addr, n->plen);
	return 0;
}

static int eval(const struct filter *f, int i, const struct sock_rec *r)
{
	const struct node *n = &f->nodes[i];

	switch (n->kind) {
	case N_AND:
		return eval(f, n->a, r) && eval(f, n->b, r);
	case N_OR:
		return eval(f, n->a, r) || eval(f, n->b, r);
	case N_NOT:
		return !eval(f, n->a, r);
	case N_STATE:
		return (n->mask & SM(r->state)) != 0;
	case N_SPORT:
		return cmp_port(n->op, r->lport, n->port);
	case N_DPORT:
		return cmp_port(n->op, r->rport, n->port);
	case N_SRC:
		return match_host(n, r->family, r->laddr, r->lport);
	case N_DST:
		return match_host(n, r->family, r->raddr, r->rport);
	case N_DEV:
		return r->ifindex == n->ifindex;
	case N_CGROUP:
		return r->cgroup_id == n->cgroup_id;
	case N_MARK: /* the kernel's INET_DIAG_BC_MARK_COND */
		return (r->mark & n->markmask) == n->mark;
	}
	return 0;
}

int filter_match(const struct filter *f, const struct sock_rec *rec)
{
	return !f || eval(f, f->root, rec);
}

/*
 * For each node, the states for which it may be true and may be false.
 * A state test is exact; any other test may go either way in every state.
 */
static void may(const struct filter *f, int i, state_mask *t, state_mask *fl)
{
	const struct node *n = &f->nodes[i];
	state_mask at, af, bt, bf;

	switch (n->kind) {
	case N_STATE:
		*t = n->mask & SM_ALL;
		*fl = SM_ALL & ~n->mask;
		return;
	case N_NOT:
		may(f, n->a, &at, &af);
		*t = af;
		*fl = at;
		return;
	case N_AND:
		may(f, n->a, &at, &af);
		may(f, n->b, &bt, &bf);
		*t = at & bt;
		*fl = af | bf;
		return;
	case N_OR:
		may(f, n->a, &at, &af);
		may(f, n->b, &bt, &bf);
		*t = at | bt;
		*fl = af & bf;
		return;
	default:
		*t = *fl = SM_ALL;
		return;
	}
}

state_mask filter_states(const struct filter *f)
{
	state_mask t, fl;

	if (!f)
		return SM_ALL;
	may(f, f->root, &t, &fl);
	return t;
}

int filter_has_state(const struct filter *f)
{
	return f && f->has_state;
}

int filter_has_mark(const struct filter *f)
{
	return f && f->has_mark;
}

int filter_names_device(const struct filter *f)
{
	for (int i = 0; f && i < f->n; i++)
		if (f->nodes[i].kind == N_DEV && f->nodes[i].dev_by_name)
			return 1;
	return 0;
}
