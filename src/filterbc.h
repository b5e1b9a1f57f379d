/*
 * filterbc.h - a filter compiled into inet_diag bytecode, the little
 * program the kernel runs on each socket of a dump (INET_DIAG_REQ_BYTECODE)
 * so that it sends only the sockets that can match.
 *
 * The bytecode only narrows the dump: the user-space filter still runs on
 * every row the kernel returns, so a kernel that ignores or mis-evaluates
 * part of a program can never add a wrong row.  What the bytecode cannot
 * say (state tests beyond the dump's state mask) is widened to "true" where
 * that keeps every socket the filter accepts, and left to user space.
 *
 * Besides the compiler, this file holds two mirrors of the kernel's own
 * code (net/ipv4/inet_diag.c): the audit the kernel runs before it accepts
 * a program, so that a program it would refuse is never sent, and the
 * interpreter it runs per socket, so that tests and fuzzers can check what
 * a program accepts without a kernel.
 */
#ifndef TCPSTATE_FILTERBC_H
#define TCPSTATE_FILTERBC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "filter.h"
#include "sockrec.h"
#include "state.h"

/*
 * The largest program: INET_DIAG_REQ_BYTECODE's length is a 16-bit field
 * that includes its 4-byte header, and programs are whole 4-byte words.
 */
#define FILTERBC_MAX 65528u

struct filterbc {
	uint8_t *code;
	size_t len;    /* 0: no program; the dump asks for every socket in its states */
	int exact;     /* the program and the state mask decide the filter alone */
	int too_large; /* a program was possible but longer than the limit */
	int refused;   /* the compiled program failed the audit (a bug): not sent */
	/* The conditions left to user space (state tests), as text, for --debug-filter. */
	char left[256];
};

/*
 * Compile f for a dump that asks for `states` (a state test that holds for
 * all of them, or for none, is decided exactly).  max_len caps the program
 * (FILTERBC_MAX, or less in tests).  Returns 0 (bc->len may be 0: nothing to
 * send), or -1 out of memory.  A program over max_len is not an error: no
 * program, and bc->too_large set.
 */
int filterbc_compile(const struct filter *f, state_mask states, size_t max_len,
		     struct filterbc *bc);
void filterbc_free(struct filterbc *bc);

/*
 * The kernel's inet_diag_bc_audit: 0 if the kernel would run the program,
 * -EINVAL if it would refuse it, -EPERM for a mark test without
 * CAP_NET_ADMIN (net_admin 0).
 */
int filterbc_audit(const uint8_t *code, size_t len, int net_admin);

/* What a program sees of a socket (the kernel's struct inet_diag_entry). */
struct filterbc_entry {
	int family;
	const uint8_t *saddr, *daddr; /* 4 or 16 bytes, as the family says */
	uint16_t sport, dport;
	uint32_t ifindex;
	uint32_t mark;
	uint64_t cgroup_id;
	int userlocks_port; /* SOCK_BINDPORT_LOCK: the port was bound explicitly */
};

void filterbc_entry_of(struct filterbc_entry *e, const struct sock_rec *r);

/*
 * The kernel's inet_diag_bc_run: 1 if the program accepts the socket, 0 if
 * not, -1 if the program runs off its bounds or would not advance (a
 * program the audit passes never does).
 */
int filterbc_run(const uint8_t *code, size_t len, const struct filterbc_entry *e);

/* The program, an instruction a line, with absolute jump targets. */
void filterbc_print(FILE *fp, const uint8_t *code, size_t len);
/*
 * What --debug-filter prints: the states asked for, the program or why
 * there is none, and what is left to user space.
 */
void filterbc_report(FILE *fp, const struct filterbc *bc, state_mask states);

#endif
