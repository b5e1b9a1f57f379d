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
 *
 * The pcapng part reads on where libpcap had to stop (see savefile.h), in
 * the same buffer: each block whole, every field through a cursor over
 * the block's body, in the byte order of its section.
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

/* A pcapng interface: what its packets need. */
struct png_if {
	uint32_t linktype, snaplen;
	uint64_t units;	 /* time stamp units per second (if_tsresol) */
	uint64_t offset; /* seconds added to its stamps (if_tsoffset) */
};

struct savefile {
	int fd;
	uint64_t off;	/* where the next read starts */
	int eof;	/* a read returned 0 */
	int big_endian; /* classic: the file's; pcapng: the current section's */
	int nsec;
	uint32_t snapshot;
	uint32_t linktype; /* classic: the header's */
	int pcapng;
	struct png_if *ifs; /* pcapng: the current section's interfaces */
	uint32_t nif, capif;
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
	case 0xa1b2c3d4:
		be = 0, nsec = 0;
		break;
	case 0xa1b23c4d:
		be = 0, nsec = 1;
		break;
	case 0xd4c3b2a1:
		be = 1, nsec = 0;
		break;
	case 0x4d3cb2a1:
		be = 1, nsec = 1;
		break;
	default:
		return NULL; /* pcapng, or a variant only libpcap knows */
	}
	/* Version 2.4: older ones may have caplen and len swapped (libpcap guesses). */
	uint16_t major = be ? get_be16(&c, 4) : get_le16(&c, 4);
	uint16_t minor = be ? get_be16(&c, 6) : get_le16(&c, 6);
	if (major != 2 || minor != 4 || snapshot == 0)
		return NULL;
	struct savefile *sf = calloc(1, sizeof(*sf));
	if (!sf)
		return NULL;
	sf->fd = fd;
	sf->off = hdr_off + HDR_LEN;
	sf->big_endian = be;
	sf->nsec = nsec;
	sf->snapshot = snapshot;
	/* libpcap's LT_LINKTYPE(): the upper bits say other things */
	sf->linktype = (be ? get_be32(&c, 20) : get_le32(&c, 20)) & 0xffff;
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
		ssize_t n =
			pread(sf->fd, sf->buf + sf->len, sizeof(sf->buf) - sf->len, (off_t)sf->off);
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

/*
 * At least n unread bytes (what: the word libpcap's message gives them,
 * with its space): 1; 0 at the end of the file, before any; -1 with err if
 * the file ends in between, or a read fails.
 */
static int at_least(struct savefile *sf, size_t n, const char *what, char *err, size_t errlen)
{
	int failed = 0;
	size_t have = sf->len - sf->pos;

	if (have >= n)
		return 1;
	have = refill(sf, n, err, errlen, &failed);
	if (failed)
		return -1;
	if (have == 0)
		return 0;
	if (have < n) {
		snprintf(err, errlen,
			 "truncated dump file; tried to read %zu %sbytes, only got %zu", n, what,
			 have);
		return -1;
	}
	return 1;
}

static int png_next(struct savefile *sf, struct savefile_rec *r, char *err, size_t errlen);

int savefile_next(struct savefile *sf, struct savefile_rec *r, char *err, size_t errlen)
{
	int failed = 0;

	if (sf->pcapng)
		return png_next(sf, r, err, errlen);
	int rc = at_least(sf, REC_LEN, "header ", err, errlen);
	if (rc <= 0)
		return rc;
	size_t have = sf->len - sf->pos;
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
				 "invalid packet capture length %u, bigger than snaplen of %u",
				 caplen, sf->snapshot);
		else
			snprintf(err, errlen,
				 "invalid packet capture length %u, bigger than maximum of %u",
				 caplen, SAVEFILE_MAX_CAPLEN);
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
	r->linktype = sf->linktype;
	r->swapped = 0; /* (not asked for: the file's filter is libpcap's) */
	r->data = sf->buf + sf->pos + REC_LEN;
	sf->pos += REC_LEN + caplen;
	return 1;
}

/* ---- pcapng ------------------------------------------------------------- */

#define PNG_SHB 0x0A0D0D0Au
#define PNG_IDB 1u
#define PNG_PB 2u /* the obsolete Packet Block */
#define PNG_SPB 3u
#define PNG_EPB 6u
#define PNG_BOM 0x1A2B3C4Du
#define PNG_MIN 12u /* type, length, and the length again */
#define PNG_MAX_IFS 65536u

static uint16_t png16(const struct savefile *sf, const struct cursor *c, size_t off)
{
	return sf->big_endian ? get_be16(c, off) : get_le16(c, off);
}

static uint32_t png32(const struct savefile *sf, const struct cursor *c, size_t off)
{
	return sf->big_endian ? get_be32(c, off) : get_le32(c, off);
}

static uint64_t png64(const struct savefile *sf, const struct cursor *c, size_t off)
{
	uint64_t a = png32(sf, c, off), b = png32(sf, c, off + 4);
	return sf->big_endian ? a << 32 | b : b << 32 | a;
}

uint64_t savefile_tell(const struct savefile *sf)
{
	return sf->off - (sf->len - sf->pos);
}

static int too_short(uint32_t type, char *err, size_t errlen)
{
	snprintf(err, errlen, "block of type %u in pcapng dump file is too short", type);
	return -1;
}

/*
 * The next block: its type, and a cursor over its body (what lies between
 * its length and its trailing length), valid until the next read.  With
 * meta_only, the blocks that are neither sections nor interfaces are
 * skipped without being read (their body is then empty).  1, 0 at the end
 * of the file, -1 with err.
 */
static int png_block(struct savefile *sf, int meta_only, uint32_t *type, struct cursor *body,
		     char *err, size_t errlen)
{
	int rc = at_least(sf, PNG_MIN, "", err, errlen);
	if (rc <= 0)
		return rc;
	size_t have = sf->len - sf->pos;
	struct cursor h = cur_make(sf->buf + sf->pos, PNG_MIN);
	uint32_t t = get_le32(&h, 0); /* a section's type reads the same both ways */
	if (t == PNG_SHB) {
		/* Its byte order, which its own length is written in. */
		if (get_le32(&h, 8) == PNG_BOM)
			sf->big_endian = 0;
		else if (get_be32(&h, 8) == PNG_BOM)
			sf->big_endian = 1;
		else {
			snprintf(err, errlen,
				 "the file has a section with a bad byte order magic field");
			return -1;
		}
	} else {
		t = png32(sf, &h, 0);
	}
	uint32_t len = png32(sf, &h, 4);
	if (len < PNG_MIN || len % 4) {
		snprintf(err, errlen, "block in pcapng dump file has a length of %u", len);
		return -1;
	}
	if (len > BUF_LEN) {
		snprintf(err, errlen, "block is larger than maximum block size %u", BUF_LEN);
		return -1;
	}
	*type = t;
	if (meta_only && t != PNG_SHB && t != PNG_IDB) {
		/* Skipped: only its place matters, and the end of the file is found later. */
		uint64_t next = savefile_tell(sf) + len;
		if (len <= have) {
			sf->pos += len;
		} else {
			sf->pos = sf->len = 0;
			sf->off = next;
		}
		*body = cur_make(sf->buf, 0);
		return 1;
	}
	if (at_least(sf, len, "", err, errlen) <= 0) /* (never 0: PNG_MIN bytes are there) */
		return -1;
	*body = cur_make(sf->buf + sf->pos + 8, len - PNG_MIN);
	sf->pos += len;
	return 1;
}

/* A Section Header Block: a new section, with interfaces of its own. */
static int png_section(struct savefile *sf, const struct cursor *b, char *err, size_t errlen)
{
	if (!cur_has(b, 0, 16)) /* byte order, version, section length */
		return too_short(PNG_SHB, err, errlen);
	uint16_t major = png16(sf, b, 4);
	if (major != 1) {
		snprintf(err, errlen, "unknown pcapng savefile major version number %u", major);
		return -1;
	}
	sf->nif = 0;
	return 0;
}

/*
 * An Interface Description Block's options: its time stamp resolution and
 * offset, checked as libpcap checks them (so that this reader never takes
 * an interface libpcap refused for another reason than its limits).
 */
static int png_if_options(struct savefile *sf, struct cursor o, struct png_if *f, char *err,
			  size_t errlen)
{
	int saw_resol = 0, saw_offset = 0;

	while (cur_left(&o)) {
		if (!cur_has(&o, 0, 4))
			return too_short(PNG_IDB, err, errlen);
		uint16_t code = png16(sf, &o, 0), olen = png16(sf, &o, 2);
		size_t padded = ((size_t)olen + 3) & ~(size_t)3;
		if (!cur_has(&o, 4, padded))
			return too_short(PNG_IDB, err, errlen);
		if (code == 0) { /* opt_endofopt */
			if (olen != 0) {
				snprintf(err, errlen,
					 "Interface Description Block has opt_endofopt option with "
					 "length %u != 0",
					 olen);
				return -1;
			}
			break;
		}
		if (code == 9) { /* if_tsresol */
			if (olen != 1 || saw_resol) {
				snprintf(err, errlen,
					 "Interface Description Block has a bad if_tsresol option");
				return -1;
			}
			saw_resol = 1;
			uint8_t v = get_u8(&o, 4);
			unsigned exp = v & 0x7f;
			/* Negative powers of 2 (bit 7) or of 10, as far as 64 bits count. */
			if ((v & 0x80) ? exp > 63 : exp > 19) {
				snprintf(err, errlen,
					 "Interface Description Block if_tsresol option resolution "
					 "%s^-%u is too high",
					 (v & 0x80) ? "2" : "10", exp);
				return -1;
			}
			f->units = 1;
			for (unsigned i = 0; i < exp; i++)
				f->units *= (v & 0x80) ? 2 : 10;
		} else if (code == 14) { /* if_tsoffset */
			if (olen != 8 || saw_offset) {
				snprintf(
					err, errlen,
					"Interface Description Block has a bad if_tsoffset option");
				return -1;
			}
			saw_offset = 1;
			f->offset = png64(sf, &o, 4);
		}
		cur_skip(&o, 4 + padded);
	}
	return 0;
}

/* An Interface Description Block: one more interface of this section. */
static int png_interface(struct savefile *sf, const struct cursor *b, char *err, size_t errlen)
{
	struct png_if f = {0, 0, 1000000, 0};

	if (!cur_has(b, 0, 8)) /* link type, reserved, snapshot length */
		return too_short(PNG_IDB, err, errlen);
	f.linktype = png16(sf, b, 0);
	f.snaplen = png32(sf, b, 4);
	struct cursor o = *b;
	cur_skip(&o, 8);
	if (png_if_options(sf, o, &f, err, errlen) < 0)
		return -1;
	if (sf->nif == sf->capif) {
		uint32_t cap = sf->capif ? sf->capif * 2 : 8;
		struct png_if *n = cap <= PNG_MAX_IFS ? realloc(sf->ifs, cap * sizeof(*n)) : NULL;
		if (!n) {
			snprintf(err, errlen, "more than %u interfaces in the file", sf->capif);
			return -1;
		}
		sf->ifs = n;
		sf->capif = cap;
	}
	sf->ifs[sf->nif++] = f;
	return 0;
}

/* A stamp in an interface's units as libpcap gives it: seconds and microseconds. */
static void png_stamp(const struct png_if *f, uint64_t t, struct savefile_rec *r)
{
	uint64_t frac = t % f->units;

	r->sec = (int64_t)(t / f->units + f->offset);
	/* Scaled down (or up) and cut, as libpcap does; 128 bits: never overflows. */
	r->usec = (int32_t)(uint32_t)((unsigned __int128)frac * 1000000u / f->units);
}

/* A packet block of any of the three kinds: its record. */
static int png_packet(struct savefile *sf, uint32_t type, const struct cursor *b,
		      struct savefile_rec *r, char *err, size_t errlen)
{
	uint32_t ifid, caplen, len, hdr;
	uint64_t t;

	if (type == PNG_SPB) {
		/* No interface (the first), no stamp, no captured length: what the block holds. */
		if (!cur_has(b, 0, 4))
			return too_short(type, err, errlen);
		ifid = 0;
		t = 0;
		len = png32(sf, b, 0);
		hdr = 4;
		caplen = len;
		if (sf->nif && sf->ifs[0].snaplen && caplen > sf->ifs[0].snaplen)
			caplen = sf->ifs[0].snaplen;
	} else {
		if (!cur_has(b, 0, 20))
			return too_short(type, err, errlen);
		ifid = type == PNG_EPB ? png32(sf, b, 0) : png16(sf, b, 0);
		t = (uint64_t)png32(sf, b, 4) << 32 | png32(sf, b, 8);
		caplen = png32(sf, b, 12);
		len = png32(sf, b, 16);
		hdr = 20;
	}
	if (ifid >= sf->nif) {
		snprintf(err, errlen,
			 "a packet arrived on interface %u, but there's no Interface Description "
			 "Block for that interface",
			 ifid);
		return -1;
	}
	const struct png_if *f = &sf->ifs[ifid];
	if (caplen > SAVEFILE_MAX_CAPLEN || (f->snaplen && caplen > f->snaplen)) {
		snprintf(err, errlen, "invalid packet capture length %u, bigger than snaplen of %u",
			 caplen,
			 f->snaplen && f->snaplen < SAVEFILE_MAX_CAPLEN ? f->snaplen
									: SAVEFILE_MAX_CAPLEN);
		return -1;
	}
	if (!cur_has(b, hdr, caplen))
		return too_short(type, err, errlen);
	png_stamp(f, t, r);
	r->caplen = caplen;
	r->len = len;
	r->linktype = f->linktype;
	r->swapped = sf->big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
	r->data = b->p + hdr;
	return 1;
}

static int png_next(struct savefile *sf, struct savefile_rec *r, char *err, size_t errlen)
{
	for (;;) {
		uint32_t type;
		struct cursor b;
		int rc = png_block(sf, 0, &type, &b, err, errlen);
		if (rc <= 0)
			return rc;
		switch (type) {
		case PNG_SHB:
			rc = png_section(sf, &b, err, errlen);
			break;
		case PNG_IDB:
			rc = png_interface(sf, &b, err, errlen);
			break;
		case PNG_EPB:
		case PNG_SPB:
		case PNG_PB:
			return png_packet(sf, type, &b, r, err, errlen);
		default:
			rc = 0; /* statistics, names, comments: nothing a packet needs */
		}
		if (rc < 0)
			return -1;
	}
}

struct savefile *savefile_open_pcapng(int fd, uint64_t shb_off, uint64_t resume_off)
{
	struct savefile *sf = calloc(1, sizeof(*sf));
	char err[256];
	uint32_t type = 0;
	int rc = 1, blocks = 0;

	if (!sf)
		return NULL;
	sf->fd = fd;
	sf->off = shb_off;
	sf->pcapng = 1;
	/* The sections and interfaces before where libpcap stopped. */
	while (rc == 1 && savefile_tell(sf) < resume_off) {
		struct cursor b;
		rc = png_block(sf, 1, &type, &b, err, sizeof(err));
		if (rc != 1)
			break;
		if (blocks++ == 0 && type != PNG_SHB)
			rc = -1; /* not a pcapng file from there */
		else if (type == PNG_SHB && png_section(sf, &b, err, sizeof(err)) < 0)
			rc = -1;
		else if (type == PNG_IDB && png_interface(sf, &b, err, sizeof(err)) < 0)
			rc = -1;
	}
	/* Exactly there, and the last block read an interface libpcap refused. */
	if (rc != 1 || savefile_tell(sf) != resume_off || type != PNG_IDB) {
		savefile_close(sf);
		return NULL;
	}
	return sf;
}

void savefile_close(struct savefile *sf)
{
	if (sf)
		free(sf->ifs);
	free(sf);
}
