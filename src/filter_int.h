/*
 * filter_int.h - the parsed form of a filter, shared by the parser and
 * evaluator (filter.c) and the compiler to kernel bytecode (filterbc.c).
 * Nothing else should look inside a struct filter.
 *
 * A filter is a flat array of nodes; AND, OR and NOT point at their
 * children by index, and `root` is the node the whole expression hangs on.
 */
#ifndef TCPSTATE_FILTER_INT_H
#define TCPSTATE_FILTER_INT_H

#include <stdint.h>

#include "filter.h"

enum node_kind {
	N_AND,
	N_OR,
	N_NOT,
	N_STATE,  /* mask */
	N_SPORT,  /* op, port */
	N_DPORT,  /* op, port */
	N_SRC,	  /* family (0: any address), addr, plen, has_port, port */
	N_DST,	  /* as N_SRC */
	N_DEV,	  /* ifindex: the device the socket is bound to (0: none) */
	N_CGROUP, /* cgroup_id: the cgroup v2 id of the socket's owner */
	N_MARK,	  /* mark, markmask: (socket mark & markmask) == mark */
};

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct node {
	enum node_kind kind;
	int a, b; /* children (AND, OR: a and b; NOT: a) */
	state_mask mask;
	enum cmp_op op;
	uint16_t port;
	int has_port;
	int family; /* 0: any address */
	unsigned plen;
	uint8_t addr[16];
	uint32_t ifindex;
	int dev_by_name; /* N_DEV: ifindex came from a name looked up on this host */
	uint64_t cgroup_id;
	uint32_t mark, markmask;
};

struct filter {
	struct node *nodes;
	int n, cap;
	int root;
	int has_state;
	int has_mark; /* a fwmark condition: marks are reported to CAP_NET_ADMIN only */
};

#endif
