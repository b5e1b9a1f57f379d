/*
 * savefile.c - classic pcap records read in large blocks (see savefile.h).
 *
 * The rules, and every message, follow pcap_next_packet() in libpcap's
 * sf-pcap.c, so that a file reads the same whichever reader takes it:
 *   - fewer than 16 bytes left for a record header: the end of the file if
 *     none, else "truncated dump file; tried to read 16 header bytes, only
 *     got N";
 *   - a captured length over SAVEFILE_MAX_CAPLEN: "invalid packet capture
 *     length", against the snapshot length if it is over that too, else
 *     against the maximum;
 *   - a captured length over the snapshot length: the first snapshot bytes,
 *     the rest skipped, and caplen reported as the snapshot length;
 *   - a record cut short: "truncated dump file; tried to read N captured
 *     bytes, only got M".
 * Like stdio's, the end of the file is sticky: bytes appended after the
 * reader has seen the end are not read.
 */
#include "savefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"

#define HDR_LEN 24u
#define REC_LEN 16u
/* Room for the largest record, and big enough that a refill is rare. */
#define BUF_LEN (512u * 1024u)

_Static_assert(BUF_LEN >= REC_LEN + SAVEFILE_MAX_CAPLEN, "a record must fit the buffer");

struct savefile {
	int fd;
	uint64_t off; /* where the next read starts */
	int eof;      /* a read returned 0 */
	int big_endian;
	int nsec;
	uint32_t snapshot;
	size_t pos, len; /* unread bytes: buf[pos, len) */
	uint8_t buf[BUF_LEN];
};

struct savefile *savefile_open(int fd, uint64_t hdr_off, uint32_t snapshot)
{
	uint8_t h[HDR_LEN];
	ssize_t n;

	do
		n = pread(fd, h, sizeof(h), (off_t)hdr_off);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(h))
		return NULL;
	struct cursor c = cur_make(h, sizeof(h));
	int be, nsec;
	switch (get_le32(&c, 0)) {
	case 0xa1b2c3d4: be = 0, nsec = 0; break;
	case 0xa1b23c4d: be = 0, nsec = 1; break;
	case 0xd4c3b2a1: be = 1, nsec = 0; break;
	case 0x4d3cb2a1: be = 1, nsec = 1; break;
	default: return NULL; /* pcapng, or a variant only libpcap knows */
	}
	/* Version 2.4: older ones may have caplen and len swapped (libpcap guesses). */
	uint16_t major = be ? get_be16(&c, 4) : get_le16(&c, 4);
	uint16_t minor = be ? get_be16(&c, 6) : get_le16(&c, 6);
	if (major != 2 || minor != 4 || snapshot == 0)
		return NULL;
	struct savefile *sf = malloc(sizeof(*sf));
	if (!sf)
		return NULL;
	sf->fd = fd;
	sf->off = hdr_off + HDR_LEN;
	sf->eof = 0;
	sf->big_endian = be;
	sf->nsec = nsec;
	sf->snapshot = snapshot;
	sf->pos = sf->len = 0;
	return sf;
}

/*
 * At least need unread bytes, if the file has them: the unread tail moves
 * to the front and the rest of the buffer is read.  Returns how many
 * bytes there are; *failed is set on a read error.
 */
static size_t refill(struct savefile *sf, size_t need, char *err, size_t errlen, int *failed)
{
	*failed = 0;
	if (sf->eof)
		return sf->len - sf->pos;
	memmove(sf->buf, sf->buf + sf->pos, sf->len - sf->pos);
	sf->len -= sf->pos;
	sf->pos = 0;
	while (sf->len < need && !sf->eof) {
		ssize_t n = pread(sf->fd, sf->buf + sf->len, sizeof(sf->buf) - sf->len, (off_t)sf->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "error reading dump file: %s", strerror(errno));
			*failed = 1;
			return 0;
		}
		if (n == 0)
			sf->eof = 1;
		sf->len += (size_t)n;
		sf->off += (uint64_t)n;
	}
	return sf->len - sf->pos;
}

int savefile_next(struct savefile *sf, struct savefile_rec *r, char *err, size_t errlen)
{
	int failed = 0;
	size_t have = sf->len - sf->pos;

	if (have < REC_LEN) {
		have = refill(sf, REC_LEN, err, errlen, &failed);
		if (failed)
			return -1;
		if (have == 0)
			return 0;
		if (have < REC_LEN) {
			snprintf(err, errlen,
				 "truncated dump file; tried to read %u header bytes, only got %zu",
				 REC_LEN, have);
			return -1;
		}
	}
	struct cursor c = cur_make(sf->buf + sf->pos, REC_LEN);
	uint32_t caplen;
	if (!sf->big_endian) {
		r->sec = (int32_t)get_le32(&c, 0);
		r->usec = (int32_t)get_le32(&c, 4);
		caplen = get_le32(&c, 8);
		r->len = get_le32(&c, 12);
	} else {
		r->sec = (int32_t)get_be32(&c, 0);
		r->usec = (int32_t)get_be32(&c, 4);
		caplen = get_be32(&c, 8);
		r->len = get_be32(&c, 12);
	}
	if (sf->nsec)
		r->usec /= 1000; /* signed, toward zero, as libpcap */
	if (caplen > SAVEFILE_MAX_CAPLEN) {
		if (caplen > sf->snapshot)
			snprintf(err, errlen,
				 "invalid packet capture length %u, bigger than snaplen of %u", caplen,
				 sf->snapshot);
		else
			snprintf(err, errlen,
				 "invalid packet capture length %u, bigger than maximum of %u", caplen,
				 SAVEFILE_MAX_CAPLEN);
		return -1;
	}
	/* The whole record into the buffer (BUF_LEN holds the largest). */
	if (have < REC_LEN + caplen) {
		have = refill(sf, REC_LEN + caplen, err, errlen, &failed);
		if (failed)
			return -1;
	}
	size_t body = have - REC_LEN;
	/* Over the snapshot length, libpcap keeps the first snapshot bytes and skips the rest. */
	uint32_t keep = caplen > sf->snapshot ? sf->snapshot : caplen;
	if (body < caplen) {
		/* Short of the part it keeps, or of the part it skips. */
		snprintf(err, errlen,
			 "truncated dump file; tried to read %u captured bytes, only got %zu",
			 body < keep ? keep : caplen, body);
		return -1;
	}
	r->caplen = keep;
	r->data = sf->buf + sf->pos + REC_LEN;
	sf->pos += REC_LEN + caplen;
	return 1;
}

void savefile_close(struct savefile *sf)
{
	free(sf);
}
