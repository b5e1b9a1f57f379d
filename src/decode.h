/*
 * decode.h - from captured bytes to a TCP segment: link layers (Ethernet
 * with 802.1Q/QinQ and PPPoE, Linux cooked SLL and SLL2, BSD loopback
 * NULL/LOOP, raw IP), IPv4 with options, IPv6 with extension headers, and
 * TCP with its options.  Never casts packet bytes to header structs; every
 * read is bounds-checked.  A packet that the capture cut short (truncated)
 * is counted apart from one whose headers contradict themselves (invalid).
 */
#ifndef TCPSTATE_DECODE_H
#define TCPSTATE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

/* Where in the packet a problem was found. */
enum decode_layer {
	DL_LINK,
	DL_VLAN,
	DL_PPPOE,
	DL_IPV4,
	DL_IPV6,
	DL_IPV6_EXT,
	DL_TCP,
	DL_TCP_OPT,
	DL_MAX
};

struct decode_stats {
	uint64_t packets;
	uint64_t tcp;	       /* segments handed on */
	uint64_t not_tcp;      /* IP, but another protocol; or not IP at all */
	uint64_t fragments;    /* IP fragments, skipped */
	uint64_t bad_csum;     /* checksum wrong (only when verifying) */
	uint64_t unknown_link; /* link type we do not decode */
	uint64_t truncated[DL_MAX];
	uint64_t invalid[DL_MAX];
};

enum decode_result {
	DEC_TCP = 0, /* seg filled */
	DEC_SKIP,    /* not TCP, a fragment, unknown link type */
	DEC_TRUNCATED,
	DEC_INVALID,
};

/* Link types we decode (DLT_* values as pcap_datalink() returns them). */
int decode_linktype_supported(int dlt);
const char *decode_layer_name(enum decode_layer l);

/*
 * Decode one captured packet of link type dlt: caplen bytes are present of
 * the wirelen the packet had.  With verify set, the TCP checksum is checked
 * when the whole segment was captured, and seg->csum says the result.
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
				 uint64_t ts_us, int verify, struct segment *seg,
				 struct decode_stats *st);

#endif
