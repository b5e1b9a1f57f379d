/*
 * savefile.h - the records of a classic pcap file, read straight from its
 * descriptor in large blocks; and those of a pcapng file whose interfaces
 * differ in link type, which libpcap cannot read.
 *
 * libpcap reads a file with two fread()s a packet, through stdio's buffer
 * into its own: over half the reading thread's instructions on a big
 * capture.  capture.c opens every file with libpcap, and when it is a
 * regular file in the classic format (not pcapng) hands the records to
 * this reader instead.  It gives the same packets, lengths, times and
 * error messages as libpcap 1.10's sf-pcap.c for the link types tcpstate
 * decodes; anything else stays with libpcap.  No libpcap types here, so
 * the unit tests and fuzzers can drive it with crafted files.
 */
#ifndef TCPSTATE_SAVEFILE_H
#define TCPSTATE_SAVEFILE_H

#include <stddef.h>
#include <stdint.h>

/* libpcap's largest sane captured length for these link types (MAXIMUM_SNAPLEN). */
#define SAVEFILE_MAX_CAPLEN 262144u

struct savefile;

struct savefile_rec {
	/*
	 * Signed, as libpcap gives them: a classic file's seconds are 32 bits
	 * (a second past 2038 comes out negative), a pcapng file's 64.  usec
	 * is microseconds whatever the file's resolution, finer ones divided
	 * as libpcap does.
	 */
	int64_t sec;
	int32_t usec;
	uint32_t caplen, len;
	uint32_t linktype;   /* the LINKTYPE_ value: pcapng, the packet's interface's */
	uint8_t swapped;     /* pcapng: its section's byte order is not this host's */
	const uint8_t *data; /* caplen bytes, valid until the next call */
};

/*
 * A reader for the file on fd whose 24-byte header starts at hdr_off, or
 * NULL if it is not a classic pcap file of version 2.4 (either byte order,
 * micro- or nanosecond stamps), or no memory.  snapshot is the snapshot
 * length libpcap took from the header (pcap_snapshot()), which caps what
 * a record hands over.  The descriptor stays the caller's.
 */
struct savefile *savefile_open(int fd, uint64_t hdr_off, uint32_t snapshot);
/*
 * libpcap reads a pcapng file only while each new interface has the link
 * type and the snapshot length of the file's first: at the first that
 * differs it stops with an error.  This reader takes over there: fd holds
 * the file, whose Section Header Block starts at shb_off, and resume_off
 * is where libpcap stopped, at the end of the Interface Description Block
 * it refused.  The blocks before are walked again for their sections and
 * interfaces (packet blocks are skipped, not read), and the records from
 * resume_off on come from savefile_next(), each with its interface's link
 * type.  NULL if the file is not like that (resume_off does not end an
 * interface block this reader accepts), or no memory: libpcap's error
 * then stands.  Section Header, Interface Description, Enhanced, Simple
 * and (obsolete) Packet Blocks are read, with each interface's time stamp
 * resolution and offset; other blocks are skipped.
 */
struct savefile *savefile_open_pcapng(int fd, uint64_t shb_off, uint64_t resume_off);
/*
 * The next record: 1, 0 at the end of the file, -1 with libpcap's message
 * in err (a record cut short, an insane length, a read error).
 */
int savefile_next(struct savefile *sf, struct savefile_rec *r, char *err, size_t errlen);
/* Where the next unread byte is in the file: past the last record handed over. */
uint64_t savefile_tell(const struct savefile *sf);
void savefile_close(struct savefile *sf);

#endif
