/*
 * Unit tests: savefile.c on crafted classic pcap files, in an in-memory
 * file.  Every libpcap message it copies is checked word for word, and the
 * record rules (nanosecond stamps, either byte order, a captured length
 * over the snapshot length, a record longer than one buffer refill).
 * tests/pcap/test_savefile.sh checks the same rules against libpcap itself,
 * on other files.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "savefile.h"
#include "unit.h"

struct file {
	uint8_t b[700000];
	size_t n;
	int be;
};

static void put32(struct file *f, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		f->b[f->n++] = (uint8_t)(f->be ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void put16(struct file *f, uint16_t v)
{
	f->b[f->n++] = (uint8_t)(f->be ? v >> 8 : v);
	f->b[f->n++] = (uint8_t)(f->be ? v : v >> 8);
}

static void header(struct file *f, uint32_t magic, uint16_t major, uint16_t minor, uint32_t snaplen)
{
	put32(f, magic);
	put16(f, major);
	put16(f, minor);
	put32(f, 0); /* thiszone */
	put32(f, 0); /* sigfigs */
	put32(f, snaplen);
	put32(f, 1); /* Ethernet */
}

/* A record of caplen bytes, each its offset in the record (mod 251). */
static void record(struct file *f, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
	put32(f, sec);
	put32(f, frac);
	put32(f, caplen);
	put32(f, len);
	for (uint32_t i = 0; i < caplen; i++)
		f->b[f->n++] = (uint8_t)(i % 251);
}

/* The file's first n bytes in a memfd, opened as capture.c would: header at 0. */
static struct savefile *open_mem(const struct file *f, size_t n, uint32_t snapshot, int *fd)
{
	*fd = memfd_create("savefile-test", 0);
	if (*fd < 0 || write(*fd, f->b, n) != (ssize_t)n)
		return NULL;
	return savefile_open(*fd, 0, snapshot);
}

static int data_ok(const struct savefile_rec *r)
{
	for (uint32_t i = 0; i < r->caplen; i++)
		if (r->data[i] != (uint8_t)(i % 251))
			return 0;
	return 1;
}

static void records_both_orders(void)
{
	for (int be = 0; be < 2; be++) {
		static struct file f;
		memset(&f, 0, sizeof(f));
		f.be = be;
		header(&f, 0xa1b2c3d4, 2, 4, 65535);
		record(&f, 1700000000, 123456, 60, 60);
		record(&f, 1700000001, 999999, 54, 1514);
		int fd;
		struct savefile *sf = open_mem(&f, f.n, 65535, &fd);
		CHECK(sf != NULL);
		if (!sf)
			continue;
		struct savefile_rec r;
		char err[256] = "";
		CHECK(savefile_next(sf, &r, err, sizeof(err)) == 1);
		CHECK(r.sec == 1700000000 && r.usec == 123456 && r.caplen == 60 && r.len == 60);
		CHECK(data_ok(&r));
		CHECK(savefile_next(sf, &r, err, sizeof(err)) == 1);
		CHECK(r.sec == 1700000001 && r.usec == 999999 && r.caplen == 54 && r.len == 1514);
		CHECK(data_ok(&r));
		CHECK(savefile_next(sf, &r, err, sizeof(err)) == 0);
		CHECK(savefile_next(sf, &r, err, sizeof(err)) == 0); /* the end stays the end */
		CHECK_STR(err, "");
		savefile_close(sf);
		close(fd);
	}
}

/* A nanosecond file of one record stamped sec, frac: the stamp savefile.c gives. */
static void nsec_stamp(uint32_t sec, uint32_t frac, struct savefile_rec *r)
{
	static struct file f;
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b23c4d, 2, 4, 65535);
	record(&f, sec, frac, 20, 20);
	int fd;
	struct savefile *sf = open_mem(&f, f.n, 65535, &fd);
	char err[256] = "";
	memset(r, 0, sizeof(*r));
	CHECK(sf && savefile_next(sf, r, err, sizeof(err)) == 1);
	savefile_close(sf);
	close(fd);
}

static void nanoseconds(void)
{
	struct savefile_rec r;
	nsec_stamp(5, 123456789, &r);
	CHECK(r.sec == 5 && r.usec == 123456); /* cut, not rounded, as libpcap */
}

/* libpcap's stamps are signed 32-bit: past 2038, and a fraction over 2^31, come out negative. */
static void signed_stamps(void)
{
	struct savefile_rec r;
	nsec_stamp(0x80000001u, 0x90000000u, &r);
	CHECK(r.sec == INT32_MIN + 1);
	CHECK(r.usec == -1879048); /* (int32_t)0x90000000 / 1000, toward zero */
}

static void not_ours(void)
{
	static const uint32_t magics[] = {0x0a0d0d0a /* pcapng */, 0xa1b2cd34 /* Kuznetzov */,
					  0x12345678};
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		static struct file f;
		memset(&f, 0, sizeof(f));
		header(&f, magics[i], 2, 4, 65535);
		int fd;
		CHECK(open_mem(&f, f.n, 65535, &fd) == NULL);
		close(fd);
	}
	static struct file g;
	memset(&g, 0, sizeof(g));
	header(&g, 0xa1b2c3d4, 2, 3, 65535); /* 2.3: lengths maybe swapped, libpcap's call */
	int fd;
	CHECK(open_mem(&g, g.n, 65535, &fd) == NULL);
	close(fd);
	CHECK(open_mem(&g, 10, 65535, &fd) == NULL); /* a header cut short */
	close(fd);
}

/* The message for the file cut to n bytes (the only error), or "" if it reads to the end. */
static void read_cut(const struct file *f, size_t n, uint32_t snapshot, char *err, size_t len,
		     int *records)
{
	int fd;
	struct savefile *sf = open_mem(f, n, snapshot, &fd);
	struct savefile_rec r;
	int rc;

	*err = '\0';
	*records = 0;
	while (sf && (rc = savefile_next(sf, &r, err, len)) == 1)
		(*records)++;
	savefile_close(sf);
	close(fd);
}

static void truncated(void)
{
	static struct file f;
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b2c3d4, 2, 4, 65535);
	record(&f, 1, 0, 54, 54);
	record(&f, 2, 0, 54, 54);
	char err[256];
	int n;
	read_cut(&f, 24 + 70 + 7, 65535, err, sizeof(err), &n);
	CHECK(n == 1);
	CHECK_STR(err, "truncated dump file; tried to read 16 header bytes, only got 7");
	read_cut(&f, 24 + 70 + 16 + 20, 65535, err, sizeof(err), &n);
	CHECK(n == 1);
	CHECK_STR(err, "truncated dump file; tried to read 54 captured bytes, only got 20");
	read_cut(&f, 24 + 70 + 16, 65535, err, sizeof(err), &n);
	CHECK_STR(err, "truncated dump file; tried to read 54 captured bytes, only got 0");
	read_cut(&f, 24 + 70, 65535, err, sizeof(err), &n);
	CHECK(n == 1);
	CHECK_STR(err, "");
}

static void over_snapshot(void)
{
	static struct file f;
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b2c3d4, 2, 4, 40);
	record(&f, 1, 0, 100, 100); /* longer than the file's snapshot length */
	record(&f, 2, 0, 30, 30);
	char err[256];
	int fd, n;
	struct savefile *sf = open_mem(&f, f.n, 40, &fd);
	struct savefile_rec r;
	CHECK(sf && savefile_next(sf, &r, err, sizeof(err)) == 1);
	CHECK(r.caplen == 40 && r.len == 100 && data_ok(&r)); /* the first 40, the rest skipped */
	CHECK(savefile_next(sf, &r, err, sizeof(err)) == 1);
	CHECK(r.sec == 2 && r.caplen == 30 && data_ok(&r));
	savefile_close(sf);
	close(fd);
	/* Cut inside the part kept, then inside the part skipped. */
	read_cut(&f, 24 + 16 + 25, 40, err, sizeof(err), &n);
	CHECK_STR(err, "truncated dump file; tried to read 40 captured bytes, only got 25");
	read_cut(&f, 24 + 16 + 70, 40, err, sizeof(err), &n);
	CHECK_STR(err, "truncated dump file; tried to read 100 captured bytes, only got 70");
}

static void insane_length(void)
{
	static struct file f;
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b2c3d4, 2, 4, 65535);
	put32(&f, 1);
	put32(&f, 0);
	put32(&f, 0x7fffffff);
	put32(&f, 60);
	char err[256];
	int n;
	read_cut(&f, f.n, 65535, err, sizeof(err), &n);
	CHECK(n == 0);
	CHECK_STR(err, "invalid packet capture length 2147483647, bigger than snaplen of 65535");
	f.n = 24;
	put32(&f, 1);
	put32(&f, 0);
	put32(&f, SAVEFILE_MAX_CAPLEN + 1);
	put32(&f, 60);
	/* A header's snapshot length over the maximum (libpcap keeps it): the other message. */
	read_cut(&f, f.n, SAVEFILE_MAX_CAPLEN + 2, err, sizeof(err), &n);
	CHECK_STR(err, "invalid packet capture length 262145, bigger than maximum of 262144");
}

/* Records that straddle refills, up to the largest: every byte where it belongs. */
static void large_records(void)
{
	static struct file f;
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b2c3d4, 2, 4, SAVEFILE_MAX_CAPLEN);
	record(&f, 1, 0, 200000, 200000);
	record(&f, 2, 0, SAVEFILE_MAX_CAPLEN, SAVEFILE_MAX_CAPLEN);
	record(&f, 3, 0, 150000, 150000);
	int fd;
	struct savefile *sf = open_mem(&f, f.n, SAVEFILE_MAX_CAPLEN, &fd);
	struct savefile_rec r;
	char err[256] = "";
	uint32_t want[] = {200000, SAVEFILE_MAX_CAPLEN, 150000};
	for (int i = 0; i < 3; i++) {
		CHECK(sf && savefile_next(sf, &r, err, sizeof(err)) == 1);
		CHECK(r.sec == i + 1 && r.caplen == want[i] && data_ok(&r));
	}
	CHECK(sf && savefile_next(sf, &r, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	savefile_close(sf);
	close(fd);
}

/* ---- pcapng: the part libpcap cannot read ------------------------------- */

/* A block of type t whose body is body[0..n), padded, in the file's byte order. */
static void png_block(struct file *f, uint32_t t, const uint8_t *body, size_t n)
{
	size_t pad = (4 - n % 4) % 4;
	uint32_t len = (uint32_t)(12 + n + pad);

	put32(f, t);
	put32(f, len);
	memcpy(f->b + f->n, body, n);
	f->n += n;
	memset(f->b + f->n, 0, pad);
	f->n += pad;
	put32(f, len);
}

/* Fields for a body, in the file's byte order. */
struct body {
	uint8_t b[400];
	size_t n;
};

static void b32(const struct file *f, struct body *b, uint32_t v)
{
	struct file t = {.be = f->be};
	put32(&t, v);
	memcpy(b->b + b->n, t.b, 4);
	b->n += 4;
}

static void b16(const struct file *f, struct body *b, uint16_t v)
{
	struct file t = {.be = f->be};
	put16(&t, v);
	memcpy(b->b + b->n, t.b, 2);
	b->n += 2;
}

static void png_shb(struct file *f)
{
	struct body b = {.n = 0};
	b32(f, &b, 0x1A2B3C4D);
	b16(f, &b, 1);
	b16(f, &b, 0);
	b32(f, &b, 0xffffffff);
	b32(f, &b, 0xffffffff);
	png_block(f, 0x0A0D0D0A, b.b, b.n);
}

/* An interface; resol and offset are options when not 0 (resol: if_tsresol's byte). */
static void png_idb(struct file *f, uint16_t linktype, uint32_t snaplen, uint8_t resol,
		    uint64_t offset)
{
	struct body b = {.n = 0};
	b16(f, &b, linktype);
	b16(f, &b, 0);
	b32(f, &b, snaplen);
	if (resol) {
		b16(f, &b, 9);
		b16(f, &b, 1);
		b32(f, &b, 0);
		b.b[b.n - 4] = resol;
	}
	if (offset) {
		b16(f, &b, 14);
		b16(f, &b, 8);
		b32(f, &b, f->be ? (uint32_t)(offset >> 32) : (uint32_t)offset);
		b32(f, &b, f->be ? (uint32_t)offset : (uint32_t)(offset >> 32));
	}
	png_block(f, 1, b.b, b.n);
}

/* An Enhanced Packet Block (type 6) or an old Packet Block (2): caplen bytes as record() writes
 * them. */
static void png_epb(struct file *f, uint32_t type, uint32_t ifid, uint64_t t, uint32_t caplen,
		    uint32_t len)
{
	struct body b = {.n = 0};
	if (type == 6) {
		b32(f, &b, ifid);
	} else {
		b16(f, &b, (uint16_t)ifid);
		b16(f, &b, 0);
	}
	b32(f, &b, (uint32_t)(t >> 32));
	b32(f, &b, (uint32_t)t);
	b32(f, &b, caplen);
	b32(f, &b, len);
	for (uint32_t i = 0; i < caplen; i++)
		b.b[b.n++] = (uint8_t)(i % 251);
	png_block(f, type, b.b, b.n);
}

/* The file in a memfd, taken over where libpcap would have stopped. */
static struct savefile *png_open(const struct file *f, uint64_t resume, int *fd)
{
	*fd = memfd_create("savefile-test", 0);
	if (*fd < 0 || write(*fd, f->b, f->n) != (ssize_t)f->n)
		return NULL;
	return savefile_open_pcapng(*fd, 0, resume);
}

/*
 * Read on where libpcap stops: each packet with its interface's link type
 * and stamp (nanosecond, binary and offset resolutions), packets of
 * interfaces described before the take-over, blocks of other types
 * skipped, a Simple and an old Packet Block, in either byte order.
 */
static void pcapng_take_over(void)
{
	for (int be = 0; be < 2; be++) {
		static struct file f;
		memset(&f, 0, sizeof(f));
		f.be = be;
		png_shb(&f);
		png_idb(&f, 1, 65535, 0, 0);
		png_epb(&f, 6, 0, 1700000000123456ull, 60, 60); /* libpcap's */
		png_idb(&f, 113, 0, 9, 0);			/* refused: Linux cooked, ns */
		uint64_t resume = f.n;
		png_epb(&f, 6, 1, 1700000000123456789ull, 54, 80);
		uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
		png_block(&f, 5, junk, sizeof(junk)); /* interface statistics: skipped */
		png_idb(&f, 101, 0, 0x80 | 20, 0);    /* raw IP, 2^-20 s */
		png_idb(&f, 228, 0, 0, 1000);	      /* IPv4, 1000 s later */
		png_epb(&f, 6, 2, (1700000000ull << 20) + (1u << 19), 40, 40);
		png_epb(&f, 6, 3, 1699999000000001ull, 40, 40);
		png_epb(&f, 2, 0, 1700000001000000ull, 30, 30); /* an old Packet Block */
		struct body sp = {.n = 0};
		b32(&f, &sp, 20);
		for (int i = 0; i < 20; i++)
			sp.b[sp.n++] = (uint8_t)i;
		png_block(&f, 3, sp.b, sp.n); /* a Simple Packet Block: interface 0, no stamp */
		int fd;
		struct savefile *sf = png_open(&f, resume, &fd);
		CHECK(sf != NULL);
		if (!sf)
			continue;
		struct savefile_rec r;
		char err[256] = "";
		static const struct {
			int64_t sec;
			int32_t usec;
			uint32_t linktype, caplen, len;
		} want[] = {
			{1700000000, 123456, 113, 54, 80},
			{1700000000, 500000, 101, 40, 40},
			{1700000000, 1, 228, 40, 40},
			{1700000001, 0, 1, 30, 30},
			{0, 0, 1, 20, 20},
		};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			int rc = savefile_next(sf, &r, err, sizeof(err));
			CHECK(rc == 1);
			if (rc != 1) {
				printf("  byte order %d, record %zu: %s\n", be, i, err);
				break;
			}
			CHECK(r.sec == want[i].sec && r.usec == want[i].usec &&
			      r.linktype == want[i].linktype && r.caplen == want[i].caplen &&
			      r.len == want[i].len && data_ok(&r) && r.swapped == be);
		}
		CHECK(savefile_next(sf, &r, err, sizeof(err)) == 0);
		CHECK_STR(err, "");
		savefile_close(sf);
		close(fd);
	}
}

/* It takes over only at the end of an interface block it accepts, in a pcapng file. */
static void pcapng_where_to_take_over(void)
{
	static struct file f;
	int fd;
	memset(&f, 0, sizeof(f));
	png_shb(&f);
	png_idb(&f, 1, 65535, 0, 0);
	png_epb(&f, 6, 0, 1, 60, 60);
	size_t after_epb = f.n;
	png_idb(&f, 113, 0, 9, 0);
	size_t after_idb = f.n;
	png_idb(&f, 113, 0, 99, 0); /* 10^-99 s: libpcap refuses this one for itself */
	size_t after_bad = f.n;
	struct savefile *sf = png_open(&f, after_epb, &fd);
	CHECK(sf == NULL);
	close(fd);
	sf = png_open(&f, after_idb - 4, &fd); /* not a block's end */
	CHECK(sf == NULL);
	close(fd);
	sf = png_open(&f, after_bad, &fd);
	CHECK(sf == NULL);
	close(fd);
	sf = png_open(&f, after_idb, &fd);
	CHECK(sf != NULL);
	savefile_close(sf);
	close(fd);
	/* A classic file is not a pcapng file. */
	memset(&f, 0, sizeof(f));
	header(&f, 0xa1b2c3d4, 2, 4, 65535);
	record(&f, 1, 0, 60, 60);
	sf = png_open(&f, 24, &fd);
	CHECK(sf == NULL);
	close(fd);
}

/* Broken blocks after the take-over: one line saying what was wrong. */
static void pcapng_errors(void)
{
	static const struct {
		int what;
		const char *msg;
	} cases[] = {
		{0, "a packet arrived on interface 5, but there's no Interface Description Block "
		    "for that interface"},
		{1, "block of type 6 in pcapng dump file is too short"},
		{2, "truncated dump file; tried to read 92 bytes, only got 40"},
		{3, "invalid packet capture length 100, bigger than snaplen of 64"},
		{4, "block in pcapng dump file has a length of 10"},
		{5, "the file has a section with a bad byte order magic field"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct file f;
		memset(&f, 0, sizeof(f));
		png_shb(&f);
		png_idb(&f, 1, 65535, 0, 0);
		png_idb(&f, 113, 64, 0, 0);
		uint64_t resume = f.n;
		struct body b = {.n = 0};
		switch (cases[i].what) {
		case 0:
			png_epb(&f, 6, 5, 1, 20, 20);
			break;
		case 1: /* caplen says 60, the block holds 20 */
			png_epb(&f, 6, 0, 1, 20, 20);
			f.b[f.n - 4 - 20 - 8] = 60;
			break;
		case 2:
			png_epb(&f, 6, 0, 1, 60, 60);
			f.n -= 52;
			break;
		case 3:
			png_epb(&f, 6, 1, 1, 100, 100);
			break;
		case 4:
			put32(&f, 6);
			put32(&f, 10);
			put32(&f, 10);
			break;
		case 5:
			b32(&f, &b, 0x11223344);
			b32(&f, &b, 0x00000001);
			b32(&f, &b, 0);
			b32(&f, &b, 0);
			png_block(&f, 0x0A0D0D0A, b.b, b.n);
			break;
		}
		int fd;
		struct savefile *sf = png_open(&f, resume, &fd);
		struct savefile_rec r;
		char err[256] = "";
		CHECK(sf && savefile_next(sf, &r, err, sizeof(err)) == -1);
		CHECK_STR(err, cases[i].msg);
		savefile_close(sf);
		close(fd);
	}
}

const struct unit_test savefile_tests[] = {
	{"savefile: records in either byte order", records_both_orders},
	{"savefile: nanosecond stamps cut to microseconds", nanoseconds},
	{"savefile: stamps signed, as libpcap's", signed_stamps},
	{"savefile: pcapng, variants and old versions left to libpcap", not_ours},
	{"savefile: files cut short, libpcap's messages", truncated},
	{"savefile: a record over the snapshot length", over_snapshot},
	{"savefile: insane captured lengths", insane_length},
	{"savefile: records across refills, up to the largest", large_records},
	{"savefile: pcapng interfaces of other link types, read on", pcapng_take_over},
	{"savefile: pcapng, only where libpcap stopped at an interface", pcapng_where_to_take_over},
	{"savefile: pcapng, broken blocks after the take-over", pcapng_errors},
	{NULL, NULL},
};
