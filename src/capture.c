/*
 * capture.c - libpcap behind a small interface.
 */
#define _GNU_SOURCE /* asprintf */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "decode.h"
#include "savefile.h"

/*
 * A BPF filter compiled for one more link type and byte order (the other
 * interfaces of a pcapng file).
 */
struct linkprog {
	uint32_t linktype;
	int swapped;
	struct bpf_program prog;
};

struct capture {
	pcap_t *p;
	int live;
	int dlt; /* libpcap's: the interface's, or the file's (first) */
	capture_fn fn;
	void *arg;
	int ncb; /* packets libpcap handed over in this dispatch */
	/*
	 * A classic pcap file on disk: its records come from savefile.c,
	 * and the filter (if any) is applied here as libpcap would.  So do
	 * those of a pcapng file whose interfaces differ in link type, from
	 * where libpcap stopped (sf_links: each record has its own).
	 */
	struct savefile *sf;
	int sf_links;
	off_t start; /* a file's offset before libpcap read it; -1 for stdin */
	struct bpf_program prog;
	int have_prog;
	char *filter; /* the expression, for other link types */
	struct linkprog *links;
	size_t nlinks;
	volatile sig_atomic_t brk; /* capture_break(), for the savefile reader */
};

/* Microseconds since the epoch from libpcap's (signed) seconds and microseconds. */
static uint64_t stamp_us(int64_t sec, int64_t usec)
{
	return (uint64_t)sec * 1000000u + (uint64_t)usec;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;

	c->ncb++;
	c->fn(c->arg, stamp_us(h->ts.tv_sec, h->ts.tv_usec), c->dlt, bytes, h->caplen, h->len);
}

/*
 * What a live capture's kernel filter passes when only TCP is wanted: TCP
 * over IPv4 and IPv6 (libpcap's "tcp" reads IPv6's first next header, and
 * through one fragment header), and what a filter of fixed offsets cannot
 * rule out and the decoder may still find TCP in: IPv6 whose first header
 * is an extension header (decode.c walks them; "ip6 protochain 6" would,
 * but libpcap compiles it with a backward jump, which Linux refuses, and
 * then every packet is filtered in user space), and, on links with an
 * Ethernet type, frames whose VLAN tags or PPPoE header are in the packet
 * (Linux moves the outer tag out of it on receive, so this is rare: the
 * inner tag of QinQ, or a tag sent in-line).  A plain IPv4 TCP segment
 * takes four instructions.  No "vlan" keyword: in libpcap it moves the
 * offsets of everything after it, the user's expression among them.
 */
static const char *tcp_only(int dlt)
{
	static const char eth[] = "tcp or (ip6 and (ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 44 or "
				  "ip6[6] = 51 or ip6[6] = 60)) or ether proto 0x8100 or ether "
				  "proto 0x88a8 or ether proto 0x9100 or ether proto 0x8864";
	static const char ip[] = "tcp or (ip6 and (ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 44 or "
				 "ip6[6] = 51 or ip6[6] = 60))";

	return dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 ? eth : ip;
}

/*
 * The program for expr, user's or tcp_only's or both, as "(TCP) and
 * (USER)": the user's expression is compiled alone first, so that its
 * errors read as its own.  -1 if it is at fault, -2 if memory is.
 */
static int compile_filter(struct capture *c, const char *user, int tcp, struct bpf_program *prog,
			  char *err, size_t errlen)
{
	const char *t = tcp ? tcp_only(c->dlt) : NULL;
	char *expr = NULL;

	if (user && pcap_compile(c->p, prog, user, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	if (user && !t)
		return 0;
	if (user) {
		pcap_freecode(prog);
		if (asprintf(&expr, "(%s) and (%s)", t, user) < 0) {
			snprintf(err, errlen, "out of memory");
			return -2;
		}
	}
	int rc = pcap_compile(c->p, prog, expr ? expr : t, 1, PCAP_NETMASK_UNKNOWN);
	free(expr);
	if (rc < 0) {
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	return 0;
}

/* -1 if the expression is at fault, -2 if memory is. */
static int set_filter(struct capture *c, const char *expr, int tcp, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (expr) {
		c->filter = strdup(expr);
		if (!c->filter) {
			snprintf(err, errlen, "out of memory");
			return -2;
		}
	}
	int rc = compile_filter(c, expr, tcp, &prog, err, errlen);
	if (rc < 0)
		return rc;
	if (pcap_setfilter(c->p, &prog) < 0) {
		pcap_freecode(&prog);
		snprintf(err, errlen, "-f: %s", pcap_geterr(c->p));
		return -1;
	}
	c->prog = prog; /* for the savefile reader */
	c->have_prog = 1;
	return 0;
}

/*
 * A handle that compiles filters as libpcap compiles them for a capture
 * file of this link type and byte order: for a file, not for a live
 * capture or pcap_open_dead() (a BSD loopback header's address family is
 * then the file's writer's, in any of its spellings, not this host's).
 * It reads the header of an empty classic file from h, which must outlive it.
 */
static pcap_t *file_handle(uint32_t linktype, int swapped, uint8_t h[24], char *ebuf)
{
	const uint32_t v[6] = {0xa1b2c3d4, 0, 0, 0, SAVEFILE_MAX_CAPLEN, linktype};
	int be = swapped != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);

	for (int i = 0; i < 24; i++) /* each 32-bit field in the file's order */
		h[i] = (uint8_t)(v[i / 4] >> (be ? 24 - 8 * (i % 4) : 8 * (i % 4)));
	/* Version 2.4: two 16-bit fields where the second word stands. */
	h[be ? 5 : 4] = 2;
	h[be ? 7 : 6] = 4;
	FILE *f = fmemopen(h, 24, "rb");
	if (!f) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
		return NULL;
	}
	pcap_t *p = pcap_fopen_offline(f, ebuf);
	if (!p)
		fclose(f);
	return p;
}

/*
 * The filter for a record of another interface than the first, compiled
 * for its link type on first use; NULL with err if it cannot be.  An
 * expression that rejects every packet of that link type is no error (the
 * optimizer's verdict, which libpcap reports as one): that interface's
 * packets are then left out.
 */
static const struct bpf_program *link_filter(struct capture *c, const struct savefile_rec *r,
					     char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	uint8_t hdr[24];

	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].linktype == r->linktype && c->links[i].swapped == r->swapped)
			return &c->links[i].prog;
	struct linkprog *n = realloc(c->links, (c->nlinks + 1) * sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->links = n;
	n += c->nlinks;
	pcap_t *fh = file_handle(r->linktype, r->swapped, hdr, ebuf);
	if (!fh) {
		snprintf(err, errlen, "-f: link type %u: %s", r->linktype, ebuf);
		return NULL;
	}
	if (pcap_compile(fh, &n->prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) < 0 &&
	    pcap_compile(fh, &n->prog, c->filter, 0, PCAP_NETMASK_UNKNOWN) < 0) {
		const char *name = pcap_datalink_val_to_name(pcap_datalink(fh));
		snprintf(err, errlen, "-f: %s (for an interface of link type %s)", pcap_geterr(fh),
			 name ? name : "unknown");
		pcap_close(fh);
		return NULL;
	}
	pcap_close(fh);
	n->linktype = r->linktype;
	n->swapped = r->swapped;
	c->nlinks++;
	return &n->prog;
}

/*
 * The DLT_ value libpcap gives a file's LINKTYPE_ value where they differ
 * for a link type decode.c reads (libpcap's linktype_to_dlt()).
 */
static int linktype_dlt(uint32_t linktype)
{
	return linktype == 101 ? DLT_RAW : (int)linktype; /* LINKTYPE_RAW */
}

/*
 * The link types decode.c knows (wire.c refuses the others before any
 * record is read).  For each of them libpcap's largest captured length is
 * SAVEFILE_MAX_CAPLEN, and it changes no packet byte, except in a
 * byte-swapped file of Linux cooked captures (SLL, SLL2), where it swaps
 * the ID of CAN frames to the host's order: those files stay with it.  A
 * link type added to decode.c must be checked against libpcap's
 * max_snaplen_for_dlt() and swap_pseudo_headers() first.
 */
static int plain_linktype(int dlt, int swapped)
{
	if (!decode_linktype_supported(dlt))
		return 0;
	return !(swapped && (dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2));
}

/*
 * Hand a regular file's records to savefile.c.  start is where the stream
 * stood before libpcap opened it: a classic file's header is the 24 bytes
 * libpcap then read, and a pcapng file (whose first blocks are longer)
 * can never look like one.  Standard input too when it is a regular file
 * (-r - < FILE); capture_close() then leaves its offset where reading
 * stopped, for a command after tcpstate that reads on from it.
 */
static void use_savefile(struct capture *c, FILE *f, off_t start)
{
	struct stat st;
	off_t at = ftello(f);

	if (start < 0 || at != start + 24 || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    !plain_linktype(pcap_datalink(c->p), pcap_is_swapped(c->p)) || pcap_snapshot(c->p) <= 0)
		return;
	c->sf = savefile_open(fileno(f), (uint64_t)start, (uint32_t)pcap_snapshot(c->p));
}

/*
 * libpcap stopped with an error.  If that was at a pcapng interface whose
 * link type (or snapshot length) differs from the first one's, savefile.c
 * reads on from there, on a regular file (see savefile_open_pcapng()).
 * 1 if it took over.
 */
static int take_over(struct capture *c)
{
	struct stat st;
	FILE *f = c->live || c->sf ? NULL : pcap_file(c->p);

	if (!f || c->start < 0 || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	off_t at = ftello(f);
	if (at <= c->start)
		return 0;
	c->sf = savefile_open_pcapng(fileno(f), (uint64_t)c->start, (uint64_t)at);
	c->sf_links = c->sf != NULL;
	return c->sf_links;
}

/* Does a record pass the filter?  1, 0, or -1 with err. */
static int passes(struct capture *c, int dlt, const struct savefile_rec *r, char *err,
		  size_t errlen)
{
	const struct bpf_program *prog = &c->prog;

	if (!c->have_prog)
		return 1;
	if (c->sf_links && (dlt != c->dlt || r->swapped != pcap_is_swapped(c->p))) {
		/* A link type nobody decodes: the decoder counts it, whatever the filter. */
		if (!decode_linktype_supported(dlt))
			return 1;
		prog = link_filter(c, r, err, errlen);
		if (!prog)
			return -1;
	}
	struct pcap_pkthdr h = {.caplen = r->caplen, .len = r->len};
	return pcap_offline_filter(prog, &h, r->data) != 0;
}

/* capture_dispatch() for the savefile reader: pcap_offline_read()'s loop. */
static int dispatch_savefile(struct capture *c, int max, char *err, size_t errlen)
{
	int n = 0;

	for (;;) {
		/* A break before any packet is reported; after some, at the next call. */
		if (c->brk) {
			if (n == 0) {
				c->brk = 0;
				return CAPTURE_BROKEN;
			}
			return n;
		}
		struct savefile_rec r;
		int rc = savefile_next(c->sf, &r, err, errlen);
		if (rc < 0)
			return -1; /* even after packets, as libpcap */
		if (rc == 0)
			return n; /* the end: 0 if nothing came first */
		int dlt = c->sf_links ? linktype_dlt(r.linktype) : c->dlt;
		rc = passes(c, dlt, &r, err, errlen);
		if (rc < 0)
			return -1;
		if (!rc)
			continue;
		c->fn(c->arg, stamp_us(r.sec, r.usec), dlt, r.data, r.caplen, r.len);
		if (++n >= max && max > 0)
			return n;
	}
}

/*
 * On a loopback interface the kernel shows each packet twice, going out
 * and coming back in, and libpcap throws the outgoing copy away: the
 * kernel need not copy it into the ring at all (Linux 4.20; on an older
 * kernel libpcap still drops it).  Half the ring's traffic on lo.
 */
static void skip_outgoing_on_loopback(struct capture *c, const char *iface)
{
	struct ifreq ifr;
	int one = 1, fd = pcap_fileno(c->p);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_LOOPBACK))
		(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
}

struct capture *capture_open(const struct capture_opts *o, char *err, size_t errlen,
			     int *bad_filter)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));
	int snap = o->snaplen > 0 ? o->snaplen : 262144;
	off_t start = -1; /* a file's offset before libpcap read its header */

	*bad_filter = 0;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->start = -1;
	if (o->file) {
		FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "rb");
		if (!f) {
			snprintf(err, errlen, "%s: %s", o->file, strerror(errno));
			goto fail;
		}
		/*
		 * libpcap reads a file with two freads per packet.  Taking the
		 * stream's lock for each was a fifth of a bare read loop's time
		 * (we are its only user), and a bigger buffer means fewer reads;
		 * not too big, or each read stalls the reader thread for long.
		 */
		setvbuf(f, NULL, _IOFBF, 1 << 17);
		__fsetlocking(f, FSETLOCKING_BYCALLER);
		start = ftello(f);
		c->start = start; /* -1 for a pipe */
		/* Microsecond stamps whatever the file's resolution (pcapng may be ns). */
		c->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO,
								ebuf);
		if (!c->p) {
			if (f != stdin)
				fclose(f);
			snprintf(err, errlen, "%s: %s", o->file, ebuf);
			goto fail;
		}
	} else {
		c->live = 1;
		c->p = pcap_create(o->iface, ebuf);
		if (!c->p) {
			snprintf(err, errlen, "-i %s: %s", o->iface, ebuf);
			goto fail;
		}
		pcap_set_snaplen(c->p, snap);
		/*
		 * TPACKET_V3: the kernel fills blocks of packets and wakes the
		 * reader once a block, when it is full or block_ms after its
		 * first packet; immediate mode wakes it for every packet.
		 */
		pcap_set_timeout(c->p, o->block_ms > 0 ? o->block_ms : 100);
		if (o->block_ms <= 0)
			pcap_set_immediate_mode(c->p, 1);
		pcap_set_buffer_size(
			c->p, (o->buffer_kib > 0 ? o->buffer_kib : CAPTURE_BUFFER_KIB) * 1024);
		int rc = pcap_activate(c->p);
		if (rc < 0) {
			const char *why =
				rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
				: rc == PCAP_ERROR_PERM_DENIED
					? "permission denied (capture needs root or CAP_NET_RAW)"
					: pcap_geterr(c->p);
			snprintf(err, errlen, "-i %s: %s", o->iface, why);
			goto fail;
		}
		skip_outgoing_on_loopback(c, o->iface);
		/*
		 * The caller polls the descriptor itself (with its own way to be
		 * woken); a blocking read would wait for a packet however long
		 * it takes.
		 */
		if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
			snprintf(err, errlen, "-i %s: %s", o->iface, ebuf);
			goto fail;
		}
	}
	*bad_filter = 0;
	c->dlt = pcap_datalink(c->p);
	const char *user = o->filter && *o->filter ? o->filter : NULL;
	int tcp = c->live && o->tcp_only;
	int frc = user || tcp ? set_filter(c, user, tcp, err, errlen) : 0;
	if (frc < 0) {
		*bad_filter = frc == -1;
		goto fail;
	}
	if (!c->live)
		use_savefile(c, pcap_file(c->p), start);
	return c;
fail:
	free(c->filter);
	if (c->p)
		pcap_close(c->p);
	free(c);
	return NULL;
}

int capture_linktype(const struct capture *c)
{
	return c->dlt;
}

const char *capture_linktype_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));
	return n ? n : "unknown";
}

int capture_is_live(const struct capture *c)
{
	return c->live;
}

int capture_fd(const struct capture *c)
{
	return c->live ? pcap_get_selectable_fd(c->p) : -1;
}

int capture_dispatch(struct capture *c, int max, capture_fn fn, void *arg, char *err, size_t errlen)
{
	int n;

	c->fn = fn;
	c->arg = arg;
	if (c->sf)
		return dispatch_savefile(c, max, err, errlen);
	c->ncb = 0;
	n = pcap_dispatch(c->p, max <= 0 ? -1 : max, on_packet, (u_char *)c);
	if (n == PCAP_ERROR_BREAK)
		return CAPTURE_BROKEN;
	if (n < 0 && take_over(c)) {
		/* The rest of this dispatch from savefile.c. */
		int done = c->ncb,
		    more = dispatch_savefile(c, max > 0 ? max - done : max, err, errlen);
		if (more == CAPTURE_BROKEN)
			return done ? done : CAPTURE_BROKEN;
		return more < 0 ? -1 : done + more;
	}
	if (n < 0) {
		const char *msg = pcap_geterr(c->p);
		/* libpcap's refusal of a pcapng interface unlike the first (pcap-ng.c). */
		int other_if = strstr(msg, " different from the ") &&
			       strstr(msg, " of the first interface");
		snprintf(err, errlen, "%s%s", msg,
			 other_if && !capture_is_regular_file(c)
				 ? "; tcpstate reads on past it only in a file, not a pipe: save "
				   "the "
				   "capture to a file and read that with -r FILE"
				 : "");
		return -1;
	}
	return n;
}

int capture_stats(struct capture *c, struct capture_stats *st)
{
	struct pcap_stat ps;

	memset(st, 0, sizeof(*st));
	if (!c->live || pcap_stats(c->p, &ps) < 0)
		return -1;
	st->received = ps.ps_recv;
	st->dropped = ps.ps_drop;
	st->ifdropped = ps.ps_ifdrop;
	st->valid = 1;
	return 0;
}

int capture_is_regular_file(const struct capture *c)
{
	struct stat st;
	FILE *f = c->live ? NULL : pcap_file(c->p);

	return f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
}

void capture_break(struct capture *c)
{
	c->brk = 1;
	pcap_breakloop(c->p);
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	/*
	 * pread() moved no offset, and stdio would set stdin's back to where
	 * libpcap left the stream: past what was read instead, as a stdio
	 * reader leaves it.
	 */
	if (c->sf && !c->live && pcap_file(c->p) == stdin)
		fseeko(stdin, (off_t)savefile_tell(c->sf), SEEK_SET);
	savefile_close(c->sf);
	if (c->have_prog)
		pcap_freecode(&c->prog);
	for (size_t i = 0; i < c->nlinks; i++)
		pcap_freecode(&c->links[i].prog);
	free(c->links);
	free(c->filter);
	pcap_close(c->p);
	free(c);
}
