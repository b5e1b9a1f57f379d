/*
 * fuzz_diag.c - fuzz target: the inet_diag reply parser (diagmsg.c), the
 * code every `tcpstate list` runs on what the kernel sends, and on recorded
 * dumps (--load-dump).
 *
 * Input layout (tests/fuzz/mkseeds.py converts tests/data/ns1.nldump to it):
 *
 *   bytes 0-3   seq of the request (host order, as netlink)
 *   bytes 4-7   port id of the request
 *   byte 8      the callback asks to stop after this many sockets (0: never)
 *   then        chunks, each one recv(): u16 length (little endian, cut to
 *               what is left) and the bytes
 *
 * The chunks go through sockdiag_parse() as sockdiag_dump() feeds them, until
 * it reports the end or an error.  sockdiag_parse_msg() also parses the whole
 * input, and each chunk past a netlink header, as one inet_diag_msg.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockdiag.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink_out;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_diag: invariant broken: %s\n", what);
		abort();
	}
}

struct cb_state {
	unsigned stop_after, seen;
	uint64_t sink;
};

static void check_rec(const struct sock_rec *r)
{
	check(r->family == AF_INET || r->family == AF_INET6, "record family");
	check(r->state > TS_NONE && r->state < TS_NEW_SYN_RECV, "record state out of range");
	if (r->family == AF_INET)
		for (int i = 4; i < 16; i++)
			check(r->laddr[i] == 0 && r->raddr[i] == 0, "IPv4 address beyond 4 bytes");
}

static int on_sock(const struct sock_rec *rec, void *arg)
{
	struct cb_state *cs = arg;

	check_rec(rec);
	cs->sink += rec->lport + rec->rport + rec->inode + rec->info.rtt_us + rec->cookie;
	cs->sink += strlen(state_name(rec->state));
	cs->seen++;
	return cs->stop_after && cs->seen >= cs->stop_after;
}

/* sockdiag_parse_msg on an exact-size copy, so overreads are caught. */
static void parse_msg(const uint8_t *p, size_t n, uint64_t *sink)
{
	struct sock_rec rec;
	int info_short = -1;
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy)
		return;
	memcpy(copy, p, n);
	if (sockdiag_parse_msg(copy, n, &rec, &info_short) == 0) {
		check_rec(&rec);
		check(info_short == 0 || info_short == 1, "info_short not 0 or 1");
		check(!info_short || rec.has_info, "info_short without tcp_info");
		*sink += rec.inode + rec.info.delivery_rate + rec.has_info;
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockdiag_parser p;
	struct sockdiag_stats stats;
	struct cb_state cs = {0, 0, 0};
	uint32_t seq, pid;
	int r = 0;

	parse_msg(data, size, &cs.sink);
	if (size < 9)
		return 0;
	memcpy(&seq, data, 4);
	memcpy(&pid, data + 4, 4);
	cs.stop_after = data[8];
	memset(&stats, 0, sizeof(stats));
	sockdiag_parser_init(&p, seq, pid, on_sock, &cs, &stats);

	size_t off = 9;
	while (size - off >= 2) {
		size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
		off += 2;
		if (n > size - off)
			n = size - off;
		uint8_t *chunk = malloc(n ? n : 1);
		if (!chunk)
			break;
		memcpy(chunk, data + off, n);
		off += n;
		if (n >= 16)
			parse_msg(chunk + 16, n - 16, &cs.sink);
		int was_finished = p.done || p.stopped;
		r = sockdiag_parse(&p, chunk, n);
		free(chunk);
		check(r >= -1 && r <= 1, "sockdiag_parse result out of range");
		check(!was_finished || r == 1, "a finished parser asked for more");
		if (r < 0) {
			check(p.errmsg[0] != '\0', "error without a message");
			check(memchr(p.errmsg, '\0', sizeof(p.errmsg)) != NULL,
			      "errmsg not terminated");
			break;
		}
		if (r == 1)
			check(p.done || p.stopped, "complete, but neither done nor stopped");
	}
	check(stats.sockets == cs.seen, "stats.sockets differs from the callback count");
	check(!cs.stop_after || cs.seen <= cs.stop_after, "callback called after it asked to stop");
	sink_out = cs.sink + stats.skipped + stats.malformed + stats.info_short;
	return 0;
}
