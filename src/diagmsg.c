/*
 * diagmsg.c - parse inet_diag replies: netlink message headers, the
 * inet_diag_msg of each socket and its attributes.
 *
 * Every byte is read through the bounds-checked cursor of bytes.h.  The
 * loop follows iproute2's rtnl_dump_filter: check seq and port id, stop on
 * NLMSG_DONE, fail on NLMSG_ERROR, and note NLM_F_DUMP_INTR.  This file
 * knows the kernel's message layouts (the uapi headers) but not libnl, so
 * the unit tests and fuzzers link it without a netlink socket.
 */
#include "sockdiag.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "bytes.h"

/* Offsets in struct inet_diag_msg (stable kernel ABI). */
enum {
	DM_FAMILY = 0,
	DM_STATE = 1,
	DM_TIMER = 2,
	DM_RETRANS = 3,
	DM_SPORT = 4,
	DM_DPORT = 6,
	DM_SRC = 8,
	DM_DST = 24,
	DM_IF = 40,
	DM_COOKIE = 44,
	DM_EXPIRES = 52,
	DM_RQUEUE = 56,
	DM_WQUEUE = 60,
	DM_UID = 64,
	DM_INODE = 68,
	DM_SIZE = 72,
};

_Static_assert(sizeof(struct inet_diag_msg) == DM_SIZE, "inet_diag_msg layout");

#define NLHDR_SIZE 16u
#define RTA_HDR 4u
#define ALIGN4(n) (((n) + 3u) & ~(size_t)3u)

/*
 * tcp_info grows with the kernel.  Copy what arrived into a zeroed struct of
 * the size we were built with: a shorter one leaves the newer fields zero, a
 * longer one is cut to what we know.
 */
static void parse_tcp_info(const uint8_t *p, size_t len, struct sock_rec *rec, int *info_short)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, p, len < sizeof(ti) ? len : sizeof(ti));
	if (len < offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof(ti.tcpi_delivery_rate))
		*info_short = 1;
	rec->has_info = 1;
	rec->retransmits = ti.tcpi_retransmits;
	rec->info.rtt_us = ti.tcpi_rtt;
	rec->info.rttvar_us = ti.tcpi_rttvar;
	rec->info.snd_cwnd = ti.tcpi_snd_cwnd;
	rec->info.total_retrans = ti.tcpi_total_retrans;
	rec->info.bytes_acked = ti.tcpi_bytes_acked;
	rec->info.bytes_received = ti.tcpi_bytes_received;
	rec->info.delivery_rate = ti.tcpi_delivery_rate;
}

int sockdiag_parse_msg(const uint8_t *buf, size_t len, struct sock_rec *rec, int *info_short)
{
	struct cursor c = cur_make(buf, len);

	*info_short = 0;
	/*
	 * Every field is set below or here; no memset, which compiles to a
	 * "rep stos" that was over half of this function's time in a dump of
	 * 100k sockets.
	 */
	rec->has_info = 0;
	rec->retransmits = 0;
	rec->v6only = 0;
	rec->spare = 0;
	rec->mark = 0;
	rec->cgroup_id = 0;
	memset(&rec->info, 0, sizeof(rec->info));
	if (!cur_has(&c, 0, DM_SIZE))
		return -1;
	rec->family = get_u8(&c, DM_FAMILY);
	if (rec->family != AF_INET && rec->family != AF_INET6)
		return -1;
	rec->state = get_u8(&c, DM_STATE);
	if (rec->state == TS_NONE || rec->state >= TS_MAX)
		return -1;
	rec->timer = get_u8(&c, DM_TIMER);
	rec->retrans = get_u8(&c, DM_RETRANS);
	rec->lport = get_be16(&c, DM_SPORT);
	rec->rport = get_be16(&c, DM_DPORT);
	memcpy(rec->laddr, c.p + DM_SRC, 16);
	memcpy(rec->raddr, c.p + DM_DST, 16);
	rec->cookie = (uint64_t)get_h32(&c, DM_COOKIE + 4) << 32 | get_h32(&c, DM_COOKIE);
	rec->expires_ms = get_h32(&c, DM_EXPIRES);
	rec->recv_q = get_h32(&c, DM_RQUEUE);
	rec->send_q = get_h32(&c, DM_WQUEUE);
	rec->uid = get_h32(&c, DM_UID);
	rec->inode = get_h32(&c, DM_INODE);
	rec->ifindex = get_h32(&c, DM_IF);
	if (rec->family == AF_INET) {
		/* IPv4 sockets carry their address in the first word only. */
		memset(rec->laddr + 4, 0, 12);
		memset(rec->raddr + 4, 0, 12);
	}
	if (rec->state == TS_NEW_SYN_RECV)
		rec->state = TS_SYN_RECV;

	cur_skip(&c, DM_SIZE);
	/* Attributes: {u16 len, u16 type, payload}, each padded to 4 bytes. */
	while (cur_left(&c) >= RTA_HDR) {
		uint16_t alen = get_h16(&c, 0), atype = get_h16(&c, 2);

		if (alen < RTA_HDR || alen > cur_left(&c))
			return -1;
		if ((atype & 0x3fff) == INET_DIAG_INFO)
			parse_tcp_info(c.p + RTA_HDR, alen - RTA_HDR, rec, info_short);
		/*
		 * Sent for IPv6 listeners unasked: whether a [::] listener also
		 * holds its port for IPv4 (the ephemeral-port census needs it).
		 */
		if ((atype & 0x3fff) == INET_DIAG_SKV6ONLY && alen > RTA_HDR)
			rec->v6only = get_u8(&c, RTA_HDR) != 0;
		/*
		 * Also unasked (inet_diag_msg_attrs_fill puts it for every full
		 * socket since 5.7, with no idiag_ext bit): the owner's cgroup v2
		 * id.  TIME-WAIT and request sockets lack it and keep 0, which is
		 * also what the kernel's bytecode compares for them.
		 */
		if ((atype & 0x3fff) == INET_DIAG_CGROUP_ID && alen >= RTA_HDR + 8)
			rec->cgroup_id = get_h64(&c, RTA_HDR);
		/*
		 * The socket's mark (SO_MARK), unasked, and only to a requester
		 * with CAP_NET_ADMIN (net/ipv4/inet_diag.c): full sockets
		 * (inet_diag_msg_attrs_fill), request sockets (ir_mark, in
		 * inet_req_diag_fill) and, since 5.14, TIME-WAIT sockets (tw_mark,
		 * in inet_twsk_diag_fill; before, none, and the bytecode saw 0).
		 * Without the attribute the mark is 0, which is what the kernel's
		 * bytecode compares wherever it is not sent.
		 */
		if ((atype & 0x3fff) == INET_DIAG_MARK && alen >= RTA_HDR + 4)
			rec->mark = get_h32(&c, RTA_HDR);
		if (cur_skip(&c, ALIGN4(alen)) < 0)
			break; /* the last attribute may lack its padding */
	}
	return 0;
}

void sockdiag_parser_init(struct sockdiag_parser *p, uint32_t seq, uint32_t pid, sockdiag_fn fn,
			  void *arg, struct sockdiag_stats *stats)
{
	memset(p, 0, sizeof(*p));
	p->seq = seq;
	p->pid = pid;
	p->fn = fn;
	p->arg = arg;
	p->stats = stats;
}

/* An errno from a message's (negative) error code; INT32_MIN has no negation. */
static int errno_of(int32_t e)
{
	if (e == INT32_MIN)
		return EIO;
	return e < 0 ? -e : e;
}

int sockdiag_parse(struct sockdiag_parser *p, const uint8_t *buf, size_t len)
{
	struct cursor c = cur_make(buf, len);

	if (p->done || p->stopped)
		return 1;
	while (cur_left(&c) >= NLHDR_SIZE) {
		uint32_t mlen = get_h32(&c, 0);
		uint16_t type = get_h16(&c, 4), flags = get_h16(&c, 6);
		uint32_t seq = get_h32(&c, 8), pid = get_h32(&c, 12);
		struct sock_rec rec;
		int info_short;

		if (mlen < NLHDR_SIZE || mlen > cur_left(&c)) {
			snprintf(p->errmsg, sizeof(p->errmsg),
				 "netlink: truncated message (length %u, %zu bytes left)", mlen,
				 cur_left(&c));
			return -1;
		}
		if (seq != p->seq || pid != p->pid) {
			/* A reply to someone else's request (or a stale one). */
			p->stats->skipped++;
			goto next;
		}
		if (flags & NLM_F_DUMP_INTR)
			p->stats->intr = 1;
		if (type == NLMSG_DONE) {
			/* Since 4.x DONE may carry the dump's error code. */
			if (mlen >= NLHDR_SIZE + 4) {
				int32_t e = (int32_t)get_h32(&c, NLHDR_SIZE);
				if (e < 0) {
					p->error = errno_of(e);
					snprintf(p->errmsg, sizeof(p->errmsg), "netlink dump: %s",
						 strerror(p->error));
					return -1;
				}
			}
			p->done = 1;
			return 1;
		}
		if (type == NLMSG_ERROR) {
			if (mlen < NLHDR_SIZE + 4) {
				snprintf(p->errmsg, sizeof(p->errmsg),
					 "netlink: truncated error message");
				return -1;
			}
			int32_t e = (int32_t)get_h32(&c, NLHDR_SIZE);
			if (p->expect) { /* one request failed; the others stand */
				p->stats->skipped++;
				goto answered;
			}
			if (e == 0) { /* an ACK: nothing more will come */
				p->done = 1;
				return 1;
			}
			p->error = errno_of(e);
			snprintf(p->errmsg, sizeof(p->errmsg), "netlink: %s", strerror(p->error));
			return -1;
		}
		/* The answer to a TCPDIAG_GETSOCK dump (both families) carries its type. */
		if (type != SOCK_DIAG_BY_FAMILY && type != TCPDIAG_GETSOCK) {
			p->stats->skipped++;
			goto next;
		}
		if (sockdiag_parse_msg(c.p + NLHDR_SIZE, mlen - NLHDR_SIZE, &rec, &info_short) <
		    0) {
			p->stats->malformed++;
			goto answered; /* in a dump, the next message */
		}
		p->stats->info_short += (uint64_t)info_short;
		p->stats->sockets++;
		if (p->fn(&rec, p->arg)) {
			p->stopped = 1;
			return 1;
		}
	answered:
		if (p->expect && ++p->answered == p->expect) {
			p->done = 1;
			return 1;
		}
	next:
		if (cur_skip(&c, ALIGN4(mlen)) < 0)
			break;
	}
	return 0;
}
