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

static void header(struct file *f, uint32_t magic, uint16_t major, uint16_t minor,
		   uint32_t snaplen)
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

const struct unit_test savefile_tests[] = {
	{"savefile: records in either byte order", records_both_orders},
	{"savefile: nanosecond stamps cut to microseconds", nanoseconds},
	{"savefile: stamps signed, as libpcap's", signed_stamps},
	{"savefile: pcapng, variants and old versions left to libpcap", not_ours},
	{"savefile: files cut short, libpcap's messages", truncated},
	{"savefile: a record over the snapshot length", over_snapshot},
	{"savefile: insane captured lengths", insane_length},
	{"savefile: records across refills, up to the largest", large_records},
	{NULL, NULL},
};
