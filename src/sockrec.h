/*
 * sockrec.h - one kernel socket as tcpstate keeps it: the fields of an
 * inet_diag_msg and the parts of tcp_info the views show, in a compact
 * fixed-size record (the list command holds one per socket, so its size is
 * the memory cost per socket).
 */
#ifndef TCPSTATE_SOCKREC_H
#define TCPSTATE_SOCKREC_H

#include <stdint.h>

/* idiag_timer values (net/ipv4/tcp_diag.c, inet_diag.c). */
enum sock_timer {
	TIMER_NONE = 0,
	TIMER_ON = 1, /* retransmit (or loss probe / RTO) */
	TIMER_KEEPALIVE = 2,
	TIMER_TIMEWAIT = 3,
	TIMER_PERSIST = 4, /* zero-window probe */
};

struct sock_info {
	uint32_t rtt_us;
	uint32_t rttvar_us;
	uint32_t snd_cwnd;
	uint32_t total_retrans;
	uint64_t bytes_acked;
	uint64_t bytes_received;
	uint64_t delivery_rate; /* bytes per second */
};

struct sock_rec {
	uint8_t family;	     /* AF_INET or AF_INET6 */
	uint8_t state;	     /* enum tcp_state */
	uint8_t timer;	     /* enum sock_timer */
	uint8_t retrans;     /* idiag_retrans: retries of the pending timer */
	uint8_t has_info;    /* tcp_info arrived (only when asked) */
	uint8_t retransmits; /* tcpi_retransmits: unrecovered RTO timeouts */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16]; /* IPv4 uses the first 4 bytes */
	uint8_t v6only;	  /* an IPv6 listener with IPV6_V6ONLY on (INET_DIAG_SKV6ONLY) */
	uint8_t spare;	  /* zero: the record has no padding (top compares rows whole) */
	uint32_t ifindex; /* bound device (SO_BINDTODEVICE, VRF, IPv6 link-local), or 0 */
	uint32_t recv_q, send_q;
	uint32_t uid;
	uint32_t inode;
	uint32_t expires_ms;
	uint32_t mark; /* SO_MARK (INET_DIAG_MARK: reported to CAP_NET_ADMIN only), or 0 */
	uint64_t cookie;
	uint64_t cgroup_id; /* cgroup v2 id of a full socket's owner (INET_DIAG_CGROUP_ID), or 0 */
	struct sock_info info;
};

#endif
