/*
 * capture.h - packets from libpcap: a live interface (or "any"), a pcap or
 * pcapng file, or standard input.  This is the only part of tcpstate that
 * sees pcap.h; the rest receives (time, bytes, lengths).
 */
#ifndef TCPSTATE_CAPTURE_H
#define TCPSTATE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture;

struct capture_opts {
	const char *iface;  /* live capture, or NULL */
	const char *file;   /* a file, "-" for stdin, or NULL */
	const char *filter; /* BPF expression, or NULL */
	int snaplen;	    /* 0: the default (262144) */
	/*
	 * Live only.  block_ms: the kernel hands over a block of packets when
	 * it is full or this many milliseconds after its first packet
	 * (TPACKET_V3); 0: each packet at once (immediate mode).  buffer_kib:
	 * the kernel's ring (0: CAPTURE_BUFFER_KIB).  tcp_only: the kernel's
	 * filter passes only what may be TCP (capture_tcp_only()), and the
	 * user's filter only within that.
	 */
	int block_ms;
	int buffer_kib;
	int tcp_only;
};

/* The default ring: see doc/capture.md for the sizing. */
#define CAPTURE_BUFFER_KIB 32768

struct capture_stats {
	uint64_t received;  /* packets the kernel filter passed */
	uint64_t dropped;   /* dropped by the kernel for lack of buffer */
	uint64_t ifdropped; /* dropped by the interface or driver */
	int valid;	    /* live captures only */
};

/*
 * One packet, with its link type (a DLT_ value): a pcapng file's interfaces
 * may each have their own.
 */
typedef void (*capture_fn)(void *arg, uint64_t ts_us, int dlt, const uint8_t *data, size_t caplen,
			   size_t wirelen);

/*
 * Open the source.  On failure err says why, and *bad_filter is set when the
 * BPF expression was at fault (a usage error, not a runtime one).
 */
struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen,
			     int *bad_filter);
/* The link type of a live capture, or of a file's first interface. */
int capture_linktype(const struct capture *c);
const char *capture_linktype_name(const struct capture *c);
int capture_is_live(const struct capture *c);
/* A descriptor to poll for live captures, or -1. */
int capture_fd(const struct capture *c);
/*
 * Deliver up to max packets (max <= 0: all that are ready, or the whole
 * file).  Returns the number delivered, 0 at the end of a file, -1 with a
 * message in err (a read error, an interface that went away), or
 * CAPTURE_BROKEN when capture_break() stopped it before any packet.
 */
#define CAPTURE_BROKEN (-2)
int capture_dispatch(struct capture *c, int max, capture_fn fn, void *arg, char *err,
		     size_t errlen);
int capture_stats(struct capture *c, struct capture_stats *st);
/* A file that is a regular file (not a pipe or a terminal): reads never wait. */
int capture_is_regular_file(const struct capture *c);
/* Ask a running capture_dispatch to return; safe from a signal handler. */
void capture_break(struct capture *c);
void capture_close(struct capture *c);

#endif
