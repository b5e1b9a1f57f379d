/*
 * segment.h - one decoded TCP segment: what the decoder hands the engine.
 * Every field was read from the packet through bytes.h; nothing here points
 * into the packet buffer, so the buffer may be reused at once.
 */
#ifndef TCPSTATE_SEGMENT_H
#define TCPSTATE_SEGMENT_H

#include <stdint.h>

/* TCP header flag bits (RFC 9293 section 3.1). */
enum {
	TH_FIN = 0x01,
	TH_SYN = 0x02,
	TH_RST = 0x04,
	TH_PSH = 0x08,
	TH_ACK = 0x10,
	TH_URG = 0x20,
	TH_ECE = 0x40,
	TH_CWR = 0x80,
};

struct segment {
	uint64_t ts_us; /* capture time, microseconds since the epoch */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t flags;	/* TH_* */
	uint8_t has_mss, has_wscale, sack_ok, has_ts;
	int8_t csum; /* 1 good, 0 bad, -1 not checked (not asked, or not all captured) */
	uint8_t wscale;
	uint16_t vlan; /* 802.1Q ids, outer and inner (QinQ); 0 when untagged */
	uint16_t vlan_inner;
	uint16_t sport, dport;
	uint16_t win;
	uint16_t mss;
	uint32_t seq, ack;
	uint32_t payload_len;	   /* from the IP header's lengths, not from caplen */
	uint32_t payload_captured; /* how much of it the capture holds */
	uint32_t tsval, tsecr;
	uint8_t saddr[16], daddr[16];
};

#endif
