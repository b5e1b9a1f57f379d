/*
 * fuzz_filter.c - fuzz target: the ss filter language (filter.c) and its
 * compiler to kernel bytecode (filterbc.c).
 *
 * The input is split on spaces into argv words, as a shell would hand them
 * to `tcpstate list`, and parsed.  A filter that parses is matched against
 * a few fixed sockets in every state, and each match is checked against
 * filter_states(): the dump request asks the kernel only for those states,
 * so a socket the filter accepts in a state outside that set would be lost.
 * It is then compiled: the program must pass the kernel's audit, accept
 * every socket the filter accepts (the kernel would otherwise drop it), and
 * accept exactly those when it says it is exact.  The raw input is also
 * handed to the audit as a program: one it passes must run within bounds.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filter.h"
#include "filterbc.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 8192
#define MAX_WORDS 512

static volatile uint64_t sink_out;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_filter: invariant broken: %s\n", what);
		abort();
	}
}

static struct sock_rec recs[6];
static int recs_ready;

static void make_rec(struct sock_rec *r, int family, const char *l, int lp, const char *rm, int rp)
{
	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)family;
	r->state = TS_ESTABLISHED;
	inet_pton(family, l, r->laddr);
	inet_pton(family, rm, r->raddr);
	r->lport = (uint16_t)lp;
	r->rport = (uint16_t)rp;
}

static void init_recs(void)
{
	make_rec(&recs[0], AF_INET, "198.18.0.1", 40000, "198.18.1.7", 443);
	make_rec(&recs[1], AF_INET, "0.0.0.0", 22, "0.0.0.0", 0);
	make_rec(&recs[2], AF_INET6, "fd00::1", 5000, "fd00::2", 41000);
	make_rec(&recs[3], AF_INET6, "::ffff:198.18.0.1", 8080, "::ffff:10.0.0.9", 1);
	make_rec(&recs[4], AF_INET, "127.0.0.1", 65535, "255.255.255.255", 80);
	/* Bound to a device, in a cgroup, marked: for dev, cgroup and fwmark conditions. */
	make_rec(&recs[5], AF_INET6, "fd00::7", 443, "fd00::8", 50000);
	recs[5].ifindex = 2;
	recs[5].cgroup_id = 1;
	recs[5].mark = 0x24;
	recs_ready = 1;
}

/* The compiled program against the filter, on every fixed socket in every state asked for. */
static void check_program(const struct filter *f, state_mask states)
{
	struct filterbc bc;

	if (filterbc_compile(f, states, FILTERBC_MAX, &bc) < 0)
		return; /* out of memory */
	check(!bc.refused, "the compiler made a program the audit refuses");
	/* As filterbc_compile audits: for CAP_NET_ADMIN, which a fwmark test needs. */
	check(!bc.len || filterbc_audit(bc.code, bc.len, 1) == 0, "program fails the audit");
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]) && bc.len; i++) {
		struct sock_rec r = recs[i];
		for (int st = TS_ESTABLISHED; st < TS_NEW_SYN_RECV; st++) {
			if (!(states & SM(st)))
				continue;
			r.state = (uint8_t)st;
			struct filterbc_entry e;
			filterbc_entry_of(&e, &r);
			int m = filter_match(f, &r), k = filterbc_run(bc.code, bc.len, &e);
			check(k >= 0, "a compiled program runs out of bounds");
			check(!m || k, "the program refuses a socket the filter accepts");
			check(!bc.exact || m == k, "an exact program disagrees with the filter");
		}
	}
	filterbc_free(&bc);
}

/* The input as a program: whatever the audit passes runs within bounds. */
static void check_raw_program(const uint8_t *data, size_t size)
{
	if (filterbc_audit(data, size, 1) != 0)
		return;
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct filterbc_entry e;
		filterbc_entry_of(&e, &recs[i]);
		check(filterbc_run(data, size, &e) >= 0, "an audited program runs out of bounds");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_WORDS];
	char err[256];
	int argc = 0;
	uint64_t sink = 0;

	if (size > MAX_INPUT)
		return 0;
	if (!recs_ready)
		init_recs();
	check_raw_program(data, size);
	/* An exact-size copy: words end at spaces and at the final NUL. */
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *s = buf; *s && argc < MAX_WORDS;) {
		while (*s == ' ')
			*s++ = '\0';
		if (!*s)
			break;
		argv[argc++] = s;
		while (*s && *s != ' ')
			s++;
	}

	err[0] = '\0';
	struct filter *f = filter_parse(argc, argv, err, sizeof(err));
	if (!f) {
		check(err[0] != '\0', "filter_parse failed without a message");
		check(memchr(err, '\0', sizeof(err)) != NULL, "error message not terminated");
		free(buf);
		return 0;
	}
	state_mask states = filter_states(f);
	check((states & ~SM_ALL) == 0, "filter_states outside SM_ALL");
	sink += (uint64_t)filter_has_state(f);
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct sock_rec r = recs[i];
		/* Every state a socket from the kernel can be in (NEW_SYN_RECV comes as SYN_RECV).
		 */
		for (int st = TS_ESTABLISHED; st < TS_NEW_SYN_RECV; st++) {
			r.state = (uint8_t)st;
			int m = filter_match(f, &r);
			check(m == 0 || m == 1, "filter_match is not 0 or 1");
			if (m)
				check((states & SM(st)) != 0,
				      "filter matches a socket in a state filter_states excludes");
			sink += (uint64_t)m;
		}
	}
	check_program(f, states);
	for (const char *const *k = filter_keywords(); *k; k++)
		sink += strlen(*k);
	filter_free(f);
	free(buf);
	sink_out = sink;
	return 0;
}
