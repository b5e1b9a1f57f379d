/*
 * fuzz_decode.c - fuzz target: the packet decoder and the wire state engine.
 *
 * Input layout (tests/fuzz/mkseeds.py writes seeds in it):
 *
 *   byte 0    link type: link_types[byte % N]
 *   byte 1    flags: 0x01 zeek mode, 0x02 verify checksums, 0x04 ignore VLAN,
 *             0x08 max_conns 4 instead of 64
 *   then      packets, each: u16 caplen (big endian, cut to what is left),
 *             u16 wire (big endian; wirelen = caplen + wire, or for
 *             wire >= 0xff00 caplen - (wire & 0xff), the capture claiming more
 *             than the wire had), u8 time step (see step_us), caplen bytes.
 *
 * Every decoded segment goes to engine_input(); at the end the clock is
 * advanced, the table walked, and everything expired.  The hooks read each
 * connection through engine_conn_info() and check a few invariants; a broken
 * invariant aborts, so the fuzzer keeps it as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "engine.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKETS 4096
#define T0_US 1700000000000000ull /* 2023-11-14, as the test captures */

static const int link_types[] = {0, 1, 12, 101, 108, 113, 228, 229, 276, 14, 147};
#define NLINK (sizeof(link_types) / sizeof(link_types[0]))

static volatile uint64_t sink_out; /* keeps the reads from being optimised away */

struct fuzz_state {
	struct engine *e;
	uint64_t sink;
	uint64_t events, closed;
};

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_decode: invariant broken: %s\n", what);
		abort();
	}
}

static void check_info(const struct conn_info *ci, uint64_t *sink)
{
	check(ci->id != 0, "conn id is 0");
	check(ci->family == 2 || ci->family == 10, "family is neither AF_INET nor AF_INET6");
	check(memchr(ci->history, '\0', sizeof(ci->history)) != NULL, "history not terminated");
	check(ci->conn_state != NULL, "conn_state is NULL");
	for (int s = 0; s < 2; s++) {
		check(ci->state[s] > TS_NONE && ci->state[s] < TS_MAX,
		      "endpoint state out of range");
		check(ci->zeek_state[s] <= 6, "zeek state out of range");
		*sink += ci->state_ms[s][ci->state[s]] + ci->pkts[s] + ci->bytes[s];
		*sink += strlen(state_name(ci->state[s]));
		*sink += strlen(engine_zeek_state_name(ci->zeek_state[s]));
	}
	*sink += strlen(ci->history) + strlen(ci->conn_state);
}

static void on_event(void *arg, const struct engine_event *ev)
{
	struct fuzz_state *fs = arg;
	struct conn_info ci;

	check(ev->endpoint <= 1, "event endpoint not 0 or 1");
	check(ev->to < TS_MAX && ev->from < TS_MAX, "event state out of range");
	check(ev->from != ev->to, "event without a change of state");
	check(ev->cause < CAUSE_MAX, "event cause out of range");
	engine_conn_info(fs->e, ev->conn, &ci);
	check_info(&ci, &fs->sink);
	check(ci.state[ev->endpoint] == (ev->to == TS_NONE ? TS_CLOSE : ev->to),
	      "event's new state is not the connection's state");
	fs->sink += strlen(engine_cause_name((enum cause)ev->cause));
	fs->sink += strlen(engine_cause_rfc((enum cause)ev->cause));
	fs->events++;
}

static void on_closed(void *arg, const struct conn *c, enum close_reason why)
{
	struct fuzz_state *fs = arg;
	struct conn_info ci;

	check(why <= CLOSE_ZEEK, "close reason out of range");
	engine_conn_info(fs->e, c, &ci);
	check_info(&ci, &fs->sink);
	fs->closed++;
}

/* engine_foreach: read every connection, and count them. */
struct walk {
	struct fuzz_state *fs;
	uint64_t n;
};

static void on_conn(void *arg, const struct conn *c)
{
	struct walk *w = arg;
	struct conn_info ci;

	engine_conn_info(w->fs->e, c, &ci);
	check_info(&ci, &w->fs->sink);
	w->n++;
}

static uint64_t walk_table(struct fuzz_state *fs)
{
	struct walk w = {fs, 0};

	engine_foreach(fs->e, on_conn, &w);
	return w.n;
}

/* Time between packets: ms steps, second steps, and minute steps past the timers. */
static int64_t step_us(uint8_t code)
{
	if (code < 0x80)
		return (int64_t)code * 1000;
	if (code < 0xf0)
		return (int64_t)(code - 0x80) * 1000000;
	if (code < 0xff)
		return (int64_t)(code - 0xef) * 60 * 1000000;
	return -2000000; /* a packet out of time order */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state fs;
	struct engine_config cfg;
	struct engine_hooks hooks;
	struct decode_stats dst;
	struct segment seg;
	uint64_t ts = T0_US;

	if (size < 2)
		return 0;
	int dlt = link_types[data[0] % NLINK];
	uint8_t flags = data[1];

	memset(&fs, 0, sizeof(fs));
	engine_config_defaults(&cfg);
	cfg.max_conns = (flags & 0x08) ? 4 : 64;
	cfg.zeek = (flags & 0x01) != 0;
	cfg.verify_checksums = (flags & 0x02) != 0;
	cfg.ignore_vlan = (flags & 0x04) != 0;
	cfg.keep_durations = 1;
	hooks.event = on_event;
	hooks.closed = on_closed;
	hooks.arg = &fs;
	fs.e = engine_new(&cfg, &hooks);
	if (!fs.e)
		return 0;
	memset(&dst, 0, sizeof(dst));

	size_t off = 2;
	for (int n = 0; n < MAX_PACKETS && size - off >= 5; n++) {
		size_t caplen = (size_t)data[off] << 8 | data[off + 1];
		unsigned wire = (unsigned)data[off + 2] << 8 | data[off + 3];
		int64_t step = step_us(data[off + 4]);
		off += 5;
		if (caplen > size - off)
			caplen = size - off;
		size_t wirelen;
		if (wire >= 0xff00)
			wirelen = caplen > (wire & 0xff) ? caplen - (wire & 0xff) : 0;
		else
			wirelen = caplen + wire;
		ts = (uint64_t)((int64_t)ts + step);
		/* An exact-size copy, so any read past caplen is a heap overflow. */
		uint8_t *pkt = malloc(caplen ? caplen : 1);
		if (!pkt)
			break;
		memcpy(pkt, data + off, caplen);
		off += caplen;
		enum decode_result r = decode_packet(dlt, pkt, caplen, wirelen, ts,
						     cfg.verify_checksums, &seg, &dst);
		free(pkt);
		check(r == DEC_TCP || r == DEC_SKIP || r == DEC_TRUNCATED || r == DEC_INVALID,
		      "decode result out of range");
		if (r == DEC_TCP) {
			check(seg.family == 2 || seg.family == 10, "segment family");
			check(seg.payload_captured <= seg.payload_len,
			      "payload_captured > payload_len");
			check(seg.ts_us == ts, "segment time");
			engine_input(fs.e, &seg);
		}
	}
	/* Each packet has one outcome; a bad TCP option still yields the segment. */
	uint64_t outcomes = dst.tcp + dst.not_tcp + dst.fragments + dst.unknown_link;
	for (int l = 0; l < DL_MAX; l++)
		if (l != DL_TCP_OPT)
			outcomes += dst.truncated[l] + dst.invalid[l];
	check(dst.packets == outcomes, "decode counters do not add up to packets");
	for (int l = 0; l <= DL_MAX; l++)
		fs.sink += strlen(decode_layer_name((enum decode_layer)l));
	fs.sink += (uint64_t)decode_linktype_supported(dlt);

	/* A second later: the table as a live view would show it. */
	uint64_t now = engine_now(fs.e);
	engine_advance(fs.e, now + 1000000);
	const struct engine_stats *st = engine_stats(fs.e);
	check(walk_table(&fs) == st->live, "engine_foreach count differs from stats.live");
	check(st->live <= cfg.max_conns, "more connections than max_conns");
	check(st->peak <= cfg.max_conns, "peak above max_conns");

	/* A day later every timer has fired: the table must be empty. */
	engine_advance(fs.e, engine_now(fs.e) + 86400ull * 1000000);
	check(walk_table(&fs) == 0 && st->live == 0,
	      "connections left a day after the last packet");
	engine_free(fs.e);
	sink_out = fs.sink;
	return 0;
}
