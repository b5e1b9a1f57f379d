/*
 * sockdiag.h - the kernel's TCP socket table over NETLINK_SOCK_DIAG.
 *
 * Two halves: a transport (libnl) that sends inet_diag dump requests and
 * receives the replies, and a parser that turns a stream of reply bytes into
 * struct sock_rec.  The parser never touches a socket, so recorded dumps
 * (--save-dump) replay through exactly the same code in tests and fuzzers.
 */
#ifndef TCPSTATE_SOCKDIAG_H
#define TCPSTATE_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "sockrec.h"
#include "state.h"

/* Called once per socket; return non-zero to stop the dump. */
typedef int (*sockdiag_fn)(const struct sock_rec *rec, void *arg);

/* Counters a dump keeps; errors in the stream are counted, not fatal. */
struct sockdiag_stats {
	uint64_t sockets;    /* records delivered */
	uint64_t skipped;    /* messages of another type, or for another request */
	uint64_t malformed;  /* messages too short or with bad attributes */
	uint64_t info_short; /* tcp_info shorter than our struct (zero-filled) */
	int intr;	     /* NLM_F_DUMP_INTR seen: the table changed under us */
	int bc_refused;	     /* errno the kernel refused the bytecode with (redone without) */
};

/*
 * Parser for the replies to one dump request.  Feed it every chunk recv()
 * returned; it checks sequence number and port id as iproute2 does.
 */
struct sockdiag_parser {
	uint32_t seq, pid;
	sockdiag_fn fn;
	void *arg;
	struct sockdiag_stats *stats;
	int done;    /* NLMSG_DONE seen */
	int stopped; /* callback asked to stop */
	int error;   /* errno from NLMSG_ERROR, or 0 */
	char errmsg[128];
	/*
	 * Non-zero: the replies answer that many single-socket requests, not
	 * a dump.  Each answer is a socket or an error (a socket that has gone
	 * is ENOENT); errors are counted in stats->skipped, not fatal.
	 */
	uint32_t expect, answered;
};

void sockdiag_parser_init(struct sockdiag_parser *p, uint32_t seq, uint32_t pid, sockdiag_fn fn,
			  void *arg, struct sockdiag_stats *stats);
/*
 * Parse one chunk.  Returns 0 to ask for more, 1 when the dump is complete
 * (or stopped), -1 on an error (p->errmsg says which).
 */
int sockdiag_parse(struct sockdiag_parser *p, const uint8_t *buf, size_t len);

/* Parse one inet_diag_msg with its attributes (the payload of a message). */
int sockdiag_parse_msg(const uint8_t *buf, size_t len, struct sock_rec *rec, int *info_short);

struct sockdiag_req {
	state_mask states;
	int family;	       /* AF_INET, AF_INET6, or 0 for both */
	int want_info;	       /* ask for tcp_info */
	const char *save_path; /* record the raw replies here, if set */
	const char *load_path; /* replay recorded replies instead of the kernel */
	/*
	 * A filter program for the kernel (filterbc.h), or NULL.  It only
	 * narrows the dump: the caller still filters every row.  If the kernel
	 * refuses it, the dump is done again without it (stats->bc_refused).
	 * A dump being saved asks for every socket, so the file holds the
	 * whole table whatever the filter.
	 */
	const uint8_t *bytecode;
	size_t bytecode_len;
	/*
	 * use_netns: dump the network namespace netns_fd (an nsfs descriptor)
	 * rather than this thread's.  The netlink socket is made inside it
	 * (netns_call_in) and answers for it from then on.  Zero: this
	 * thread's namespace, so a zeroed request means what it always did.
	 */
	int use_netns;
	int netns_fd;
};

/*
 * Dump the table, IPv4 then IPv6.  Returns 0, or -1 with a message in err
 * (a namespace that cannot be entered: "cannot enter ...", errno kept).
 * A dump the kernel marked NLM_F_DUMP_INTR (the table changed while it was
 * walked) still delivers its sockets and sets stats->intr: only the caller
 * knows whether it can throw away what it was given and ask again.
 */
int sockdiag_dump(const struct sockdiag_req *req, sockdiag_fn fn, void *arg,
		  struct sockdiag_stats *stats, char *err, size_t errlen);

/*
 * Fill in tcp_info (has_info, retransmits, info) for n sockets of an earlier
 * dump, asking for each by its id and cookie: what `top` does for the rows on
 * screen, so that its dump of every socket can leave tcp_info out.  Sockets
 * that have gone since are left as they were.  Returns how many were
 * filled, or -1 with a message in err.
 */
int sockdiag_info(struct sock_rec *const *recs, size_t n, char *err, size_t errlen);

/*
 * Close one socket with SOCK_DESTROY (as ss -K does).  Returns 0, or a
 * negative errno: -EOPNOTSUPP when the kernel lacks CONFIG_INET_DIAG_DESTROY,
 * -EPERM without CAP_NET_ADMIN, -ENOENT when the socket is gone.
 */
int sockdiag_destroy(const struct sock_rec *rec, char *err, size_t errlen);

#endif
