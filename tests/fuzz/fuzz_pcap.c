/*
 * fuzz_pcap.c - fuzz target: a capture file read the way `tcpstate watch -r`
 * and `list -r` read one: wire_open() (libpcap's header and pcapng parsers,
 * the link-type check), savefile.c's records of a classic pcap file (the
 * memfd is a regular file), and of a pcapng file past an interface of
 * another link type, where libpcap stops, and wire_run() (decode, engine),
 * or, for some inputs, the paced replay of wire_replay_until().
 *
 * The input is the file itself.  It is written to an in-memory file
 * (memfd) that libpcap opens by its /proc/self/fd path, as it would open a
 * file named with -r.
 *
 * Engine options come from byte 8 of a pcap file (the "thiszone" field,
 * which libpcap ignores), or from the input's length for other files:
 * 0x01 zeek, 0x02 verify checksums, 0x04 ignore VLAN, 0x08 paced replay,
 * 0x10 stop at a time (wire_run's stop_at_us).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink_out;

struct fuzz_state {
	struct engine *e; /* set once wire_open returned */
	uint64_t sink;
};

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pcap: invariant broken: %s\n", what);
		abort();
	}
}

static void read_conn(struct fuzz_state *fs, const struct conn *c)
{
	struct conn_info ci;

	if (!fs->e)
		return;
	engine_conn_info(fs->e, c, &ci);
	check(ci.state[0] < TS_MAX && ci.state[1] < TS_MAX, "endpoint state out of range");
	check(memchr(ci.history, '\0', sizeof(ci.history)) != NULL, "history not terminated");
	fs->sink += ci.id + strlen(ci.conn_state) + ci.pkts[0] + ci.bytes[1];
}

static void on_event(void *arg, const struct engine_event *ev)
{
	read_conn(arg, ev->conn);
}

static void on_closed(void *arg, const struct conn *c, enum close_reason why)
{
	(void)why;
	read_conn(arg, c);
}

static void on_conn(void *arg, const struct conn *c)
{
	read_conn(arg, c);
}

static int memfd = -1;
static char path[64];

static int is_pcap_magic(const uint8_t *d, size_t n)
{
	static const uint8_t magics[][4] = {{0xd4, 0xc3, 0xb2, 0xa1},
					    {0xa1, 0xb2, 0xc3, 0xd4},
					    {0x4d, 0x3c, 0xb2, 0xa1},
					    {0xa1, 0xb2, 0x3c, 0x4d}};
	if (n < 24)
		return 0;
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (memcmp(d, magics[i], 4) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state fs = {NULL, 0};
	struct engine_hooks hooks = {on_event, on_closed, &fs};
	struct wire_opts o;
	char err[512];
	int usage;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-pcap", MFD_CLOEXEC);
		if (memfd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_pcap: writing the input");
		abort();
	}

	uint8_t flags = is_pcap_magic(data, size) ? data[8] : (uint8_t)size;
	wire_opts_init(&o);
	o.file = path;
	o.ecfg.max_conns = 64;
	o.ecfg.keep_durations = 1;
	o.ecfg.zeek = (flags & 0x01) != 0;
	o.ecfg.verify_checksums = (flags & 0x02) != 0;
	o.ecfg.ignore_vlan = (flags & 0x04) != 0;

	struct wire *w = wire_open(&o, &hooks, err, sizeof(err), &usage);
	if (!w) {
		check(err[0] != '\0', "wire_open failed without a message");
		return 0;
	}
	fs.e = wire_engine(w);
	check(!wire_is_live(w), "a file opened as a live capture");

	if (flags & 0x08) {
		/* Paced replay: step the clock to each held packet in turn. */
		uint64_t until = 1;
		for (int i = 0; i < 100000; i++) {
			int r = wire_replay_until(w, until, err, sizeof(err));
			if (r <= 0)
				break;
			uint64_t next = wire_next_us(w);
			until = next >= until ? next + 1 : until + 1000000;
		}
	} else {
		uint64_t stop_at = 0;
		if (flags & 0x10)
			stop_at = 1700000000000000ull + (uint64_t)data[9] * 100000;
		if (wire_run(w, NULL, stop_at, err, sizeof(err)) < 0)
			check(err[0] != '\0', "wire_run failed without a message");
	}

	const struct decode_stats *ds = wire_decode_stats(w);
	check(ds->tcp <= ds->packets, "more TCP segments than packets");
	engine_foreach(fs.e, on_conn, &fs);
	wire_report(w, err, sizeof(err));
	fs.sink += strlen(err);
	struct capture_stats cs;
	check(wire_capture_stats(w, &cs) < 0, "capture stats from a file");
	wire_close(w);
	sink_out = fs.sink;
	return 0;
}
