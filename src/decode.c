/*
 * decode.c - link, network and transport headers, read through the
 * bounds-checked cursor of bytes.h.
 *
 * Lengths come from the headers (IP total length, payload length), never
 * from caplen: a capture cut by its snap length still yields the segment's
 * true payload length, and Ethernet trailer padding is not mistaken for
 * payload.  Only the headers themselves must lie inside caplen.
 */
#include "decode.h"

#include <string.h>
#include <sys/socket.h>

#include "bytes.h"

/* DLT_* values, as pcap_datalink() reports them on Linux (see pcap/dlt.h). */
enum {
	LT_NULL = 0,
	LT_EN10MB = 1,
	LT_RAW = 12,
	LT_RAW_BSD = 14,
	LT_RAW_FILE = 101, /* LINKTYPE_RAW, if a file's value is passed through */
	LT_LOOP = 108,
	LT_LINUX_SLL = 113,
	LT_IPV4 = 228,
	LT_IPV6 = 229,
	LT_LINUX_SLL2 = 276,
};

enum {
	ETH_IPV4 = 0x0800,
	ETH_IPV6 = 0x86dd,
	ETH_VLAN = 0x8100,
	ETH_QINQ = 0x88a8,
	ETH_QINQ_OLD = 0x9100,
	ETH_PPPOE_SESSION = 0x8864,
};

int decode_linktype_supported(int dlt)
{
	switch (dlt) {
	case LT_NULL:
	case LT_EN10MB:
	case LT_RAW:
	case LT_RAW_BSD:
	case LT_RAW_FILE:
	case LT_LOOP:
	case LT_LINUX_SLL:
	case LT_IPV4:
	case LT_IPV6:
	case LT_LINUX_SLL2:
		return 1;
	}
	return 0;
}

const char *decode_layer_name(enum decode_layer l)
{
	static const char *const names[DL_MAX] = {
		[DL_LINK] = "link", [DL_VLAN] = "vlan",		 [DL_PPPOE] = "pppoe",
		[DL_IPV4] = "ipv4", [DL_IPV6] = "ipv6",		 [DL_IPV6_EXT] = "ipv6-ext",
		[DL_TCP] = "tcp",   [DL_TCP_OPT] = "tcp-option",
	};
	return l < DL_MAX ? names[l] : "?";
}

struct ctx {
	struct segment *seg;
	struct decode_stats *st;
	int verify;
};

static enum decode_result truncated(struct ctx *x, enum decode_layer l)
{
	x->st->truncated[l]++;
	return DEC_TRUNCATED;
}

static enum decode_result invalid(struct ctx *x, enum decode_layer l)
{
	x->st->invalid[l]++;
	return DEC_INVALID;
}

static enum decode_result skip_not_tcp(struct ctx *x)
{
	x->st->not_tcp++;
	return DEC_SKIP;
}

/* One's-complement sum over n bytes (n may be odd), for the TCP checksum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static int csum_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* TCP options (RFC 9293 section 3.2, RFC 7323). A bad option ends the list. */
static void parse_options(struct ctx *x, struct cursor o)
{
	struct segment *s = x->seg;

	while (cur_left(&o) > 0) {
		uint8_t kind = get_u8(&o, 0), len;

		if (kind == 0) /* end of option list */
			return;
		if (kind == 1) { /* no-operation */
			cur_skip(&o, 1);
			continue;
		}
		if (!cur_has(&o, 1, 1)) {
			x->st->invalid[DL_TCP_OPT]++;
			return;
		}
		len = get_u8(&o, 1);
		if (len < 2 || len > cur_left(&o)) {
			x->st->invalid[DL_TCP_OPT]++;
			return;
		}
		switch (kind) {
		case 2:
			if (len == 4) {
				s->has_mss = 1;
				s->mss = get_be16(&o, 2);
			}
			break;
		case 3:
			if (len == 3) {
				s->has_wscale = 1;
				s->wscale = get_u8(&o, 2);
			}
			break;
		case 4:
			if (len == 2)
				s->sack_ok = 1;
			break;
		case 8:
			if (len == 10) {
				s->has_ts = 1;
				s->tsval = get_be32(&o, 2);
				s->tsecr = get_be32(&o, 6);
			}
			break;
		}
		cur_skip(&o, len);
	}
}

/*
 * The TCP header.  c starts at it; seglen is the TCP length the IP header
 * claims.  The addresses are in the segment already.
 */
static enum decode_result decode_tcp(struct ctx *x, struct cursor c, size_t seglen)
{
	struct segment *s = x->seg;

	if (seglen < 20)
		return invalid(x, DL_TCP);
	if (!cur_has(&c, 0, 20))
		return truncated(x, DL_TCP);
	size_t hlen = (size_t)(get_u8(&c, 12) >> 4) * 4;
	if (hlen < 20 || hlen > seglen)
		return invalid(x, DL_TCP);
	if (!cur_has(&c, 0, hlen))
		return truncated(x, DL_TCP);
	s->sport = get_be16(&c, 0);
	s->dport = get_be16(&c, 2);
	s->seq = get_be32(&c, 4);
	s->ack = get_be32(&c, 8);
	s->flags = get_u8(&c, 13);
	s->win = get_be16(&c, 14);
	s->payload_len = (uint32_t)(seglen - hlen);
	s->payload_captured = (uint32_t)(cur_left(&c) - hlen < s->payload_len ? cur_left(&c) - hlen
									      : s->payload_len);
	struct cursor o = cur_make(c.p + 20, hlen - 20);
	parse_options(x, o);
	s->csum = -1;
	if (x->verify && cur_has(&c, 0, seglen)) {
		/* The pseudo-header (RFC 9293 3.1, RFC 8200 8.1), then the segment. */
		size_t alen = s->family == AF_INET6 ? 16 : 4;
		uint32_t sum = csum_add(0, s->saddr, alen);
		sum = csum_add(sum, s->daddr, alen) + 6 + (uint32_t)seglen;
		sum = csum_add(sum, c.p, seglen);
		s->csum = (int8_t)csum_ok(sum);
		if (!s->csum)
			x->st->bad_csum++;
	}
	x->st->tcp++;
	return DEC_TCP;
}

static enum decode_result decode_ipv4(struct ctx *x, struct cursor c, size_t wirelen)
{
	struct segment *s = x->seg;

	if (!cur_has(&c, 0, 20))
		return truncated(x, DL_IPV4);
	uint8_t vihl = get_u8(&c, 0);
	size_t ihl = (size_t)(vihl & 15) * 4;
	if (vihl >> 4 != 4 || ihl < 20)
		return invalid(x, DL_IPV4);
	size_t total = get_be16(&c, 2);
	/* A zero total length is what large offloaded (GSO) sends show. */
	if (total == 0)
		total = wirelen;
	if (total < ihl || total > wirelen)
		return invalid(x, DL_IPV4);
	if (!cur_has(&c, 0, ihl))
		return truncated(x, DL_IPV4);
	uint16_t frag = get_be16(&c, 6);
	if ((frag & 0x3fff) != 0) { /* more-fragments, or an offset */
		x->st->fragments++;
		return DEC_SKIP;
	}
	if (get_u8(&c, 9) != 6)
		return skip_not_tcp(x);
	s->family = AF_INET;
	memcpy(s->saddr, c.p + 12, 4);
	memcpy(s->daddr, c.p + 16, 4);
	cur_skip(&c, ihl);
	return decode_tcp(x, c, total - ihl);
}

static enum decode_result decode_ipv6(struct ctx *x, struct cursor c, size_t wirelen)
{
	struct segment *s = x->seg;

	if (!cur_has(&c, 0, 40))
		return truncated(x, DL_IPV6);
	if (get_u8(&c, 0) >> 4 != 6)
		return invalid(x, DL_IPV6);
	size_t plen = get_be16(&c, 4);
	if (plen == 0 && wirelen > 40) /* jumbogram or GSO: trust the wire */
		plen = wirelen - 40;
	if (plen + 40 > wirelen)
		return invalid(x, DL_IPV6);
	uint8_t next = get_u8(&c, 6);
	s->family = AF_INET6;
	memcpy(s->saddr, c.p + 8, 16);
	memcpy(s->daddr, c.p + 24, 16);
	cur_skip(&c, 40);
	/* Extension headers (RFC 8200 section 4). */
	for (int n = 0; n < 16; n++) {
		size_t len;
		switch (next) {
		case 6:
			return decode_tcp(x, c, plen);
		case 0:	 /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (!cur_has(&c, 0, 2))
				return truncated(x, DL_IPV6_EXT);
			len = ((size_t)get_u8(&c, 1) + 1) * 8;
			break;
		case 51: /* authentication header: length in 4-byte units */
			if (!cur_has(&c, 0, 2))
				return truncated(x, DL_IPV6_EXT);
			len = ((size_t)get_u8(&c, 1) + 2) * 4;
			break;
		case 44: /* fragment */
			if (!cur_has(&c, 0, 8))
				return truncated(x, DL_IPV6_EXT);
			if ((get_be16(&c, 2) & 0xfff9) != 0) { /* offset or M set */
				x->st->fragments++;
				return DEC_SKIP;
			}
			len = 8;
			break;
		default: /* 59 no next header, 50 ESP, UDP, ICMPv6, ... */
			return skip_not_tcp(x);
		}
		if (len > plen)
			return invalid(x, DL_IPV6_EXT);
		if (!cur_has(&c, 0, len))
			return truncated(x, DL_IPV6_EXT);
		next = get_u8(&c, 0);
		cur_skip(&c, len);
		plen -= len;
	}
	return invalid(x, DL_IPV6_EXT); /* more headers than any real packet has */
}

static enum decode_result decode_ethertype(struct ctx *x, struct cursor c, uint16_t type,
					   size_t wirelen);

/* PPPoE session (RFC 2516) carrying PPP: protocol 0x0021 IPv4, 0x0057 IPv6. */
static enum decode_result decode_pppoe(struct ctx *x, struct cursor c, size_t wirelen)
{
	if (!cur_has(&c, 0, 8))
		return truncated(x, DL_PPPOE);
	if (get_u8(&c, 0) != 0x11 || get_u8(&c, 1) != 0x00)
		return invalid(x, DL_PPPOE);
	uint16_t proto = get_be16(&c, 6);
	cur_skip(&c, 8);
	if (wirelen >= 8)
		wirelen -= 8;
	if (proto == 0x0021)
		return decode_ipv4(x, c, wirelen);
	if (proto == 0x0057)
		return decode_ipv6(x, c, wirelen);
	return skip_not_tcp(x);
}

static enum decode_result decode_ethertype(struct ctx *x, struct cursor c, uint16_t type,
					   size_t wirelen)
{
	/* VLAN tags, as many as are stacked; the outer two key the connection. */
	for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
		if (tags == 8)
			return invalid(x, DL_VLAN);
		if (!cur_has(&c, 0, 4))
			return truncated(x, DL_VLAN);
		uint16_t id = get_be16(&c, 0) & 0x0fff;
		if (tags == 0)
			x->seg->vlan = id;
		else if (tags == 1)
			x->seg->vlan_inner = id;
		type = get_be16(&c, 2);
		cur_skip(&c, 4);
		wirelen = wirelen >= 4 ? wirelen - 4 : 0;
	}
	switch (type) {
	case ETH_IPV4:
		return decode_ipv4(x, c, wirelen);
	case ETH_IPV6:
		return decode_ipv6(x, c, wirelen);
	case ETH_PPPOE_SESSION:
		return decode_pppoe(x, c, wirelen);
	}
	return skip_not_tcp(x);
}

/* Raw IP: the version nibble says which. */
static enum decode_result decode_raw(struct ctx *x, struct cursor c, size_t wirelen)
{
	if (!cur_has(&c, 0, 1))
		return truncated(x, DL_LINK);
	switch (get_u8(&c, 0) >> 4) {
	case 4:
		return decode_ipv4(x, c, wirelen);
	case 6:
		return decode_ipv6(x, c, wirelen);
	}
	return invalid(x, DL_LINK);
}

/* BSD loopback: a 4-byte address family, host order for NULL (either
 * endianness, since the capturing host's is unknown), network order for LOOP. */
static enum decode_result decode_null(struct ctx *x, struct cursor c, size_t wirelen, int loop)
{
	if (!cur_has(&c, 0, 4))
		return truncated(x, DL_LINK);
	uint32_t be = get_be32(&c, 0);
	uint32_t le = (be >> 24) | ((be >> 8) & 0xff00) | ((be << 8) & 0xff0000) | (be << 24);
	uint32_t fam = loop ? be : (be < 256 ? be : le);
	cur_skip(&c, 4);
	wirelen = wirelen >= 4 ? wirelen - 4 : 0;
	if (fam == 2)
		return decode_ipv4(x, c, wirelen);
	/* AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
	if (fam == 24 || fam == 28 || fam == 30)
		return decode_ipv6(x, c, wirelen);
	return skip_not_tcp(x);
}

enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen, size_t wirelen,
				 uint64_t ts_us, int verify, struct segment *seg,
				 struct decode_stats *st)
{
	struct ctx x = {seg, st, verify};
	struct cursor c = cur_make(data, caplen < wirelen ? caplen : wirelen);

	memset(seg, 0, sizeof(*seg));
	seg->ts_us = ts_us;
	st->packets++;
	switch (dlt) {
	case LT_EN10MB:
		if (!cur_has(&c, 0, 14))
			return truncated(&x, DL_LINK);
		{
			uint16_t type = get_be16(&c, 12);
			cur_skip(&c, 14);
			return decode_ethertype(&x, c, type, wirelen - 14);
		}
	case LT_LINUX_SLL:
		if (!cur_has(&c, 0, 16))
			return truncated(&x, DL_LINK);
		{
			uint16_t type = get_be16(&c, 14);
			cur_skip(&c, 16);
			return decode_ethertype(&x, c, type, wirelen - 16);
		}
	case LT_LINUX_SLL2:
		if (!cur_has(&c, 0, 20))
			return truncated(&x, DL_LINK);
		{
			uint16_t type = get_be16(&c, 0);
			cur_skip(&c, 20);
			return decode_ethertype(&x, c, type, wirelen - 20);
		}
	case LT_NULL:
		return decode_null(&x, c, wirelen, 0);
	case LT_LOOP:
		return decode_null(&x, c, wirelen, 1);
	case LT_RAW:
	case LT_RAW_BSD:
	case LT_RAW_FILE:
		return decode_raw(&x, c, wirelen);
	case LT_IPV4:
		return decode_ipv4(&x, c, wirelen);
	case LT_IPV6:
		return decode_ipv6(&x, c, wirelen);
	}
	st->unknown_link++;
	return DEC_SKIP;
}
